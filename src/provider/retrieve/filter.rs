//! Which items of a record a query selects (`docs/getstructuredrecord.md`, "What each area
//! returns"): the items matching each requested area's own filter go on its primary List; what
//! they link to (a problem's related items and consultation, a consultation's contents, the
//! problems naming a selected item) is carried as linked content.

use std::collections::HashSet;

use chrono::NaiveDate;

use super::params::{Consultations, Query};
use crate::provider::record::{Area, Partial};
use crate::scenario::{AllergyStatus, Medication, MedicationType, Record};

/// Whether a medication's plan is active on or after `from`: between its start and end
/// inclusive; with no end an acute is active on its start day only, a repeat from its start on.
pub(crate) fn medication_active_from(m: &Medication, from: NaiveDate) -> bool {
    match (m.end, m.kind) {
        (Some(end), _) => end >= from,
        (None, MedicationType::Acute) => m.start >= from,
        (None, MedicationType::Repeat | MedicationType::RepeatDispensing) => true,
    }
}

/// The selection a query makes of `rec`.
pub(crate) fn select(q: &Query, rec: &Record) -> Partial {
    let mut primary: HashSet<String> = HashSet::new();
    let mut areas = std::collections::BTreeSet::new();
    let add = |ids: &mut HashSet<String>, id: &str| {
        ids.insert(id.to_owned());
    };
    if let Some(resolved) = q.allergies {
        areas.insert(Area::Allergies);
        if resolved {
            areas.insert(Area::EndedAllergies);
        }
        for a in &rec.allergies {
            if resolved || a.status != AllergyStatus::Resolved {
                add(&mut primary, &a.meta.id);
            }
        }
    }
    if let Some(m) = q.medication {
        areas.insert(Area::Medication);
        for med in &rec.medications {
            if m.from.is_none_or(|from| medication_active_from(med, from)) {
                add(&mut primary, &med.meta.id);
            }
        }
    }
    if let Some(c) = q.consultations {
        areas.insert(Area::Consultations);
        match c {
            Consultations::All => rec
                .consultations
                .iter()
                .for_each(|c| add(&mut primary, &c.meta.id)),
            Consultations::Period(p) => rec
                .consultations
                .iter()
                .filter(|c| p.contains(c.date))
                .for_each(|c| add(&mut primary, &c.meta.id)),
            Consultations::MostRecent(n) => {
                // Newest first; among consultations of the same day the one recorded later in
                // the record counts as the more recent.
                let mut order: Vec<(NaiveDate, usize)> = rec
                    .consultations
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.date, i))
                    .collect();
                order.sort_unstable_by(|a, b| b.cmp(a));
                for (_, i) in order.into_iter().take(n as usize) {
                    add(&mut primary, &rec.consultations[i].meta.id);
                }
            }
        }
    }
    if !q.problems.is_empty() {
        areas.insert(Area::Problems);
        for p in &rec.problems {
            let matches = q.problems.iter().any(|f| {
                f.status.is_none_or(|s| s == p.status)
                    && f.significance.is_none_or(|s| s == p.significance)
            });
            if matches {
                add(&mut primary, &p.meta.id);
            }
        }
    }
    if q.immunisations.is_some() {
        areas.insert(Area::Immunisations);
        // The scenario records given immunisations only, so includeNotGiven selects nothing
        // more; it holds no consent or dissent status records for includeStatus.
        rec.immunisations
            .iter()
            .for_each(|i| add(&mut primary, &i.meta.id));
    }
    if let Some(p) = q.uncategorised {
        areas.insert(Area::Uncategorised);
        rec.observations
            .iter()
            .filter(|o| p.contains(o.date))
            .for_each(|o| add(&mut primary, &o.meta.id));
    }
    if let Some(p) = q.investigations {
        areas.insert(Area::Investigations);
        rec.investigations
            .iter()
            .filter(|i| p.contains(i.date))
            .for_each(|i| add(&mut primary, &i.meta.id));
    }
    if let Some(p) = q.referrals {
        areas.insert(Area::Referrals);
        rec.referrals
            .iter()
            .filter(|r| p.contains(r.date))
            .for_each(|r| add(&mut primary, &r.meta.id));
    }
    if let Some(date) = q.diary {
        areas.insert(Area::Diary);
        rec.diary
            .iter()
            .filter(|d| date.is_none_or(|on| d.date <= on))
            .for_each(|d| add(&mut primary, &d.meta.id));
    }
    let linked = linked_content(rec, &primary);
    Partial {
        areas,
        primary,
        linked,
        prescription_issues: q.medication.is_none_or(|m| m.issues),
    }
}

/// What the primary items bring with them.
fn linked_content(rec: &Record, primary: &HashSet<String>) -> HashSet<String> {
    let mut linked = HashSet::new();
    // A matching problem: its related items and the consultation it was recorded in.
    for p in rec.problems.iter().filter(|p| primary.contains(&p.meta.id)) {
        linked.extend(p.related.iter().cloned());
        for c in &rec.consultations {
            if c.entries.contains(&p.meta.id) {
                linked.insert(c.meta.id.clone());
                break;
            }
        }
    }
    // A selected consultation: everything recorded in it.
    for c in rec
        .consultations
        .iter()
        .filter(|c| primary.contains(&c.meta.id))
    {
        linked.extend(c.entries.iter().cloned());
    }
    // Every item in the Bundle: the problems that name it (as linked problems, without their
    // own links).
    let present: HashSet<&str> = primary
        .iter()
        .chain(linked.iter())
        .map(String::as_str)
        .collect();
    let naming: Vec<String> = rec
        .problems
        .iter()
        .filter(|p| !primary.contains(&p.meta.id))
        .filter(|p| p.related.iter().any(|r| present.contains(r.as_str())))
        .map(|p| p.meta.id.clone())
        .collect();
    linked.extend(naming);
    linked.retain(|id| !primary.contains(id));
    linked
}

#[cfg(test)]
mod tests;
