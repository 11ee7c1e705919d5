//! Practices and practitioners: the organisations and people that patients and records refer to.

use serde_saphyr::Spanned;

use super::supplier::address;
use super::{Checker, PracticeInfo, place};
use crate::identifiers::{Asid, OdsCode, PartyKey, interactions};
use crate::scenario::file::{NameEntry, PracticeEntry, PractitionerEntry};
use crate::scenario::{Gender, HumanName, Practice, Practitioner};

impl Checker {
    /// A list of clinical areas (`disabled_areas`, `awaiting_filing`), each once; `documents`
    /// only where it may be named.
    pub(super) fn areas(
        &mut self,
        f: usize,
        words: Option<&[Spanned<String>]>,
        documents: bool,
    ) -> Vec<crate::scenario::ClinicalArea> {
        let mut out = Vec::new();
        for w in words.into_iter().flatten() {
            match crate::scenario::ClinicalArea::parse(&w.value) {
                Ok(crate::scenario::ClinicalArea::Documents) if !documents => self.report_at(
                    f,
                    w,
                    "documents have no List to warn on: name another clinical area",
                ),
                Ok(a) if out.contains(&a) => {
                    self.report_at(f, w, format!("clinical area '{}' is named twice", w.value));
                }
                Ok(a) => out.push(a),
                Err(m) => self.report_at(f, w, m),
            }
        }
        out
    }

    pub(super) fn practice(
        &mut self,
        f: usize,
        documents: &super::Documents,
        entry: &Spanned<PracticeEntry>,
    ) -> Option<Practice> {
        let at = entry.referenced;
        let e = &entry.value;
        let label = e.ods.as_ref().map_or_else(
            || "practice".to_owned(),
            |o| format!("practice {}", o.value),
        );
        let provider = e.provider.unwrap_or(true);

        let ods = self.required(f, at, e.ods.as_ref(), || "practice has no ods".to_owned());
        let mut duplicate_ods = false;
        let ods = ods.and_then(|o| {
            match self.practices.get(&o.value).copied() {
                Some(first) => {
                    duplicate_ods = true;
                    let message = format!(
                        "duplicate ODS code {} (first defined at {})",
                        o.value,
                        self.show(first.place)
                    );
                    self.report_at(f, o, message);
                }
                None => {
                    let mut quirks = crate::scenario::Quirks::default();
                    for q in e.quirks.iter().flatten() {
                        if let Err(m) = super::supplier::quirk(&q.value, &mut quirks) {
                            self.report_at(f, q, m);
                        }
                    }
                    self.practices.insert(
                        o.value.clone(),
                        PracticeInfo {
                            place: place(f, o.referenced),
                            provider,
                            supplier: e
                                .supplier
                                .as_ref()
                                .and_then(|s| super::supplier::supplier(&s.value).ok())
                                .unwrap_or_default(),
                            quirks,
                        },
                    );
                }
            }
            OdsCode::parse(&o.value)
                .map_err(|m| self.report_at(f, o, m))
                .ok()
        });

        let name = self
            .required(f, at, e.name.as_ref(), || format!("{label} has no name"))
            .and_then(|n| self.non_empty(f, n, "practice name"));

        let asid = self
            .required(f, at, e.asid.as_ref(), || format!("{label} has no asid"))
            .and_then(|a| {
                self.unique(|c| &mut c.asids, "ASID", f, a);
                Asid::parse(&a.value)
                    .map_err(|m| self.report_at(f, a, m))
                    .ok()
            });

        let party_key = match &e.party_key {
            Some(k) => {
                self.unique(|c| &mut c.party_keys, "party key", f, k);
                match PartyKey::parse(&k.value) {
                    Ok(key) => {
                        if let Some(o) = &e.ods
                            && !k.value.starts_with(&format!("{}-", o.value))
                        {
                            self.report_at(
                                f,
                                k,
                                format!(
                                    "party key {} does not start with the practice's ODS code {}",
                                    k.value, o.value
                                ),
                            );
                        }
                        Some(key)
                    }
                    Err(m) => {
                        self.report_at(f, k, m);
                        None
                    }
                }
            }
            // A derived key repeats only with its ODS code, already reported as a duplicate.
            None => match (&ods, &asid) {
                (Some(o), Some(a)) if !duplicate_ods => {
                    let derived = PartyKey::derived(o, a);
                    let key = Spanned::new(derived.as_str().to_owned(), at, at);
                    self.unique(|c| &mut c.party_keys, "party key", f, &key);
                    Some(derived)
                }
                (Some(o), Some(a)) => Some(PartyKey::derived(o, a)),
                _ => None,
            },
        };

        let interactions = match &e.interactions {
            None => interactions::DEFAULT_ALLOWED
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            Some(list) => {
                let mut ids: Vec<String> = Vec::new();
                for id in list {
                    if !interactions::DEFAULT_ALLOWED.contains(&id.value.as_str()) {
                        self.report_at(
                            f,
                            id,
                            format!(
                                "unknown interaction id '{}'; known GP Connect interactions: {}",
                                id.value,
                                interactions::DEFAULT_ALLOWED.join(", ")
                            ),
                        );
                    } else if !ids.contains(&id.value) {
                        ids.push(id.value.clone());
                    }
                }
                ids
            }
        };

        let (supplier, branches) =
            super::supplier::practice(e, &mut |at, m| self.report(super::place(f, at), m));
        if let (Some(o), false) = (e.ods.as_ref(), duplicate_ods) {
            let ids = branches.iter().map(|b| b.id.clone()).collect();
            self.branches.insert(o.value.clone(), ids);
        }
        let external = match &e.external_provider {
            Some(x) => Some(self.external_provider(f, documents, provider, x)?),
            None => None,
        };
        Some(Practice {
            supplier,
            branches,
            external,
            ods: ods?,
            name: name?,
            asid: asid?,
            party_key: party_key?,
            provider,
            interactions,
            address: e.address.as_ref().map(address),
            telecom: e.telecom.clone(),
            structured_enabled: e.structured_enabled.unwrap_or(true),
            disabled_areas: self.areas(f, e.disabled_areas.as_deref(), true),
        })
    }

    pub(super) fn register_practitioner(&mut self, f: usize, entry: &Spanned<PractitionerEntry>) {
        if let Some(id) = &entry.value.id {
            self.unique(|c| &mut c.practitioners, "practitioner id", f, id);
        }
    }

    pub(super) fn practitioner(
        &mut self,
        f: usize,
        entry: &Spanned<PractitionerEntry>,
    ) -> Option<Practitioner> {
        let at = entry.referenced;
        let e = &entry.value;
        let label = e.id.as_ref().map_or_else(
            || "practitioner".to_owned(),
            |i| format!("practitioner {}", i.value),
        );
        let id = self
            .required(f, at, e.id.as_ref(), || "practitioner has no id".to_owned())
            .and_then(|i| self.resource_id(f, i, "practitioner id"));
        let name = self
            .required(f, at, e.name.as_ref(), || format!("{label} has no name"))
            .and_then(|n| self.name(f, n));
        let practice = self
            .required(f, at, e.practice.as_ref(), || {
                format!("{label} has no practice")
            })
            .and_then(|p| {
                self.ods_reference(f, p, "practice")
                    .then(|| OdsCode::parse(&p.value).ok())
                    .flatten()
            });
        let gender = match &e.gender {
            Some(g) => Some(self.gender(f, g)?),
            None => None,
        };
        Some(Practitioner {
            id: id?,
            name: name?,
            practice: practice?,
            gender,
        })
    }

    pub(super) fn name(&mut self, f: usize, name: &Spanned<NameEntry>) -> Option<HumanName> {
        let n = &name.value;
        let family = self
            .required(f, name.referenced, n.family.as_ref(), || {
                "name has no family".to_owned()
            })
            .and_then(|fam| self.non_empty(f, fam, "family name"))?;
        Some(HumanName {
            prefix: n.prefix.clone(),
            given: n.given.clone().unwrap_or_default(),
            family,
        })
    }

    pub(super) fn gender(&mut self, f: usize, g: &Spanned<String>) -> Option<Gender> {
        let parsed = match g.value.as_str() {
            "male" => Some(Gender::Male),
            "female" => Some(Gender::Female),
            "other" => Some(Gender::Other),
            "unknown" => Some(Gender::Unknown),
            _ => None,
        };
        if parsed.is_none() {
            self.report_at(
                f,
                g,
                format!(
                    "gender '{}' must be one of male, female, other, unknown",
                    g.value
                ),
            );
        }
        parsed
    }
}
