//! What a practice has switched off (`docs/getstructuredrecord.md`, "Switched off"): Access
//! Record Structured altogether (`structured_enabled: false`, refused with 403 `ACCESS DENIED`),
//! or some clinical areas (`disabled_areas`): their parameters are answered with a warning and
//! none of their items is sent, not even as linked content.

use super::params::Query;
use crate::fhir::{FhirError, SpineCode};
use crate::provider::record::Partial;
use crate::scenario::{ClinicalArea, Practice, Record};

/// The refusal when the practice has Access Record Structured switched off.
pub(crate) fn check_enabled(practice: &Practice) -> Result<(), FhirError> {
    if practice.structured_enabled {
        return Ok(());
    }
    Err(FhirError::new(
        SpineCode::AccessDenied,
        format!(
            "Access Record Structured is not enabled at practice {}: its system does not answer $gpc.getstructuredrecord",
            practice.ods
        ),
    ))
}

/// The parameter that asks for an area (documents have none: GP Connect names them
/// `DocumentReferences` in the warning).
pub(crate) fn parameter(area: ClinicalArea) -> &'static str {
    match area {
        ClinicalArea::Allergies => "includeAllergies",
        ClinicalArea::Medication => "includeMedication",
        ClinicalArea::Consultations => "includeConsultations",
        ClinicalArea::Problems => "includeProblems",
        ClinicalArea::Immunisations => "includeImmunisations",
        ClinicalArea::Uncategorised => "includeUncategorisedData",
        ClinicalArea::Investigations => "includeInvestigations",
        ClinicalArea::Referrals => "includeReferrals",
        ClinicalArea::Diary => "includeDiaryEntries",
        ClinicalArea::Documents => "DocumentReferences",
    }
}

/// Takes the switched-off areas out of the query; the parameters taken out, for the warning.
pub(crate) fn withdraw(q: &mut Query, disabled: &[ClinicalArea]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for &area in disabled {
        let asked = match area {
            ClinicalArea::Allergies => q.allergies.take().is_some(),
            ClinicalArea::Medication => q.medication.take().is_some(),
            ClinicalArea::Consultations => q.consultations.take().is_some(),
            ClinicalArea::Problems => !std::mem::take(&mut q.problems).is_empty(),
            ClinicalArea::Immunisations => q.immunisations.take().is_some(),
            ClinicalArea::Uncategorised => q.uncategorised.take().is_some(),
            ClinicalArea::Investigations => q.investigations.take().is_some(),
            ClinicalArea::Referrals => q.referrals.take().is_some(),
            ClinicalArea::Diary => q.diary.take().is_some(),
            ClinicalArea::Documents => false,
        };
        if asked {
            out.push(parameter(area));
        }
    }
    out
}

/// Takes the items of switched-off areas out of a selection; the areas that lost an item
/// other than through their own parameter (documents, and items linked from other areas).
pub(crate) fn strip(p: &mut Partial, rec: &Record, disabled: &[ClinicalArea]) -> Vec<ClinicalArea> {
    let mut lost = Vec::new();
    for &area in disabled {
        let ids: Vec<&str> = match area {
            ClinicalArea::Allergies => rec.allergies.iter().map(|i| i.meta.id.as_str()).collect(),
            ClinicalArea::Medication => {
                rec.medications.iter().map(|i| i.meta.id.as_str()).collect()
            }
            ClinicalArea::Consultations => rec
                .consultations
                .iter()
                .map(|i| i.meta.id.as_str())
                .collect(),
            ClinicalArea::Problems => rec.problems.iter().map(|i| i.meta.id.as_str()).collect(),
            ClinicalArea::Immunisations => rec
                .immunisations
                .iter()
                .map(|i| i.meta.id.as_str())
                .collect(),
            ClinicalArea::Uncategorised => rec
                .observations
                .iter()
                .map(|i| i.meta.id.as_str())
                .collect(),
            ClinicalArea::Investigations => rec
                .investigations
                .iter()
                .map(|i| i.meta.id.as_str())
                .collect(),
            ClinicalArea::Referrals => rec.referrals.iter().map(|i| i.meta.id.as_str()).collect(),
            ClinicalArea::Diary => rec.diary.iter().map(|i| i.meta.id.as_str()).collect(),
            ClinicalArea::Documents => rec.documents.iter().map(|i| i.meta.id.as_str()).collect(),
        };
        let mut any = false;
        for id in ids {
            any |= p.primary.remove(id) | p.linked.remove(id);
        }
        if any {
            lost.push(area);
        }
    }
    lost
}
