//! Patients: demographics, registration and where the record is held.

use serde_saphyr::Spanned;

use super::record::RecordChecker;
use super::supplier::address;
use super::{Checker, Documents};
use crate::identifiers::OdsCode;
use crate::nhs_number::NhsNumber;
use crate::scenario::Patient;
use crate::scenario::file::{PatientEntry, RecordEntry};

impl Checker {
    /// A registration's preferred branch must be a branch of the practice holding the record,
    /// which is the practice whose Bundle names it.
    fn branch_reference(&mut self, f: usize, branch: &Spanned<String>, practice: &str) {
        let Some(ids) = self.branches.get(practice) else {
            // An unknown practice is reported where it is named.
            return;
        };
        if ids.contains(&branch.value) {
            return;
        }
        let known = if ids.is_empty() {
            format!("{practice} has no branches")
        } else {
            format!("its branches are {}", ids.join(", "))
        };
        let message = format!(
            "registration branch '{}' is not a branch of {practice}, which holds the record ({known}); leave it out for the main site",
            branch.value
        );
        self.report_at(f, branch, message);
    }

    /// A patient's NHS number recorded when it is met (for duplicates, in file order), before
    /// the patient is built, which may wait for a practice of a later file.
    pub(super) fn register_patient(&mut self, f: usize, entry: &Spanned<PatientEntry>) {
        if let Some(n) = &entry.value.nhs_number {
            self.unique(|c| &mut c.nhs_numbers, "NHS number", f, n);
        }
    }

    pub(super) fn patient(
        &mut self,
        f: usize,
        dir: &Documents,
        entry: &Spanned<PatientEntry>,
    ) -> Option<Patient> {
        let at = entry.referenced;
        let e = &entry.value;
        let label = e
            .nhs_number
            .as_ref()
            .map_or_else(|| "patient".to_owned(), |n| format!("patient {}", n.value));

        let nhs_number = self
            .required(f, at, e.nhs_number.as_ref(), || {
                "patient has no nhs_number".to_owned()
            })
            .and_then(|n| {
                NhsNumber::parse(&n.value)
                    .map_err(|err| self.report_at(f, n, err.to_string()))
                    .ok()
            });
        let name = self
            .required(f, at, e.name.as_ref(), || format!("{label} has no name"))
            .and_then(|n| self.name(f, n));
        let gender = self
            .required(f, at, e.gender.as_ref(), || {
                format!("{label} has no gender")
            })
            .and_then(|g| self.gender(f, g));
        let birth_date = self
            .required(f, at, e.birth_date.as_ref(), || {
                format!("{label} has no birth_date")
            })
            .and_then(|d| {
                let date = self.date(f, d)?;
                if date > self.start_day {
                    self.report_at(f, d, format!("birth date {date} is after the start day"));
                }
                Some(date)
            });

        let registered = self.required(f, at, e.registered_with.as_ref(), || {
            format!("{label} has no registered_with")
        });
        let registered_with = registered.and_then(|r| {
            self.ods_reference(f, r, "registered_with")
                .then(|| OdsCode::parse(&r.value).ok())
                .flatten()
        });
        let record_at = match &e.record_at {
            Some(r) => {
                let known = self.ods_reference(f, r, "record_at");
                let same_as_registered = registered.is_some_and(|g| g.value == r.value);
                if known
                    && !same_as_registered
                    && let Some(info) = self.practices.get(&r.value).copied()
                    && !info.provider
                {
                    let message = format!(
                        "record_at {} is not a GP Connect provider (provider: false at {})",
                        r.value,
                        self.show(info.place)
                    );
                    self.report_at(f, r, message);
                }
                known.then(|| OdsCode::parse(&r.value).ok()).flatten()
            }
            // Defaults to the registered practice; a patient of a practice without GP Connect keeps
            // the record there (the path where no provider can be found).
            None => registered_with.clone(),
        };

        if let Some(gp) = &e.usual_gp {
            self.practitioner_reference(f, gp, "usual_gp");
        }
        let deceased = self.optional_date(f, e.deceased.as_ref());
        if let (Some(death), Some(birth), Some(d)) = (deceased, birth_date, &e.deceased) {
            if death < birth {
                self.report_at(
                    f,
                    d,
                    format!("date of death {death} is before the birth date {birth}"),
                );
            } else if death > self.start_day {
                self.report_at(
                    f,
                    d,
                    format!("date of death {death} is after the start day"),
                );
            }
        }

        let demographics = super::demographics::check(e, e.deceased.is_some(), &mut |at, m| {
            self.report(super::place(f, at), m);
        });
        let who = e
            .nhs_number
            .as_ref()
            .map_or_else(String::new, |n| n.value.clone());
        let empty = RecordEntry::default();
        let holder = record_at
            .as_ref()
            .and_then(|r| self.practices.get(r.as_str()))
            .map(|p| (p.supplier, p.quirks));
        let mut records = RecordChecker::new(self, f, dir, who);
        records.supplier = holder.map(|(supplier, _)| supplier);
        let record = records
            .record(e.record.as_ref().unwrap_or(&empty))
            .map(|mut record| {
                if let Some((_, quirks)) = holder {
                    record.quirks = record.quirks.with(quirks);
                }
                record
            });

        let registration =
            super::supplier::registration(e.registration.as_ref(), self.start_day, &mut |at, m| {
                self.report(super::place(f, at), m)
            });
        if let (Some(branch), Some(practice)) = (
            e.registration
                .as_ref()
                .and_then(|r| r.value.branch.as_ref()),
            record_at.as_ref(),
        ) {
            self.branch_reference(f, branch, practice.as_str());
        }
        Some(Patient {
            registration,
            nhs_number: nhs_number?,
            name: name?,
            gender: gender?,
            birth_date: birth_date?,
            address: e.address.as_ref().map(address),
            registered_with: registered_with?,
            record_at: record_at?,
            usual_gp: e.usual_gp.as_ref().map(|g| g.value.clone()),
            sensitive: e.sensitive.unwrap_or(false),
            nhs_number_verified: e.nhs_number_verified.unwrap_or(true),
            deceased,
            dissent: e.dissent.unwrap_or(false),
            record: record?,
            demographics,
        })
    }
}
