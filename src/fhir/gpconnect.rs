//! GP Connect STU3 URLs and codes the provider emits: profiles, extensions, code systems and the
//! List codes and titles of `docs/migrate.md` (copied exactly).

use serde_json::{Value, json};

use super::systems;

/// The `Ssp-*` header names every GP Connect request carries (lower case; HTTP header names are
/// case-insensitive). The interaction ids they name are in [`crate::identifiers::interactions`].
pub(crate) mod headers {
    pub(crate) const TRACE_ID: &str = "ssp-traceid";
    pub(crate) const FROM: &str = "ssp-from";
    pub(crate) const TO: &str = "ssp-to";
    pub(crate) const INTERACTION_ID: &str = "ssp-interactionid";
}

/// `https://fhir.nhs.uk/STU3/StructureDefinition/` profiles (`docs/migrate.md`).
pub mod profiles {
    pub const LOCATION: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Location-1";
    pub const BUNDLE: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-StructuredRecord-Bundle-1";
    pub const PATIENT: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Patient-1";
    pub const ORGANIZATION: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Organization-1";
    pub const PRACTITIONER: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Practitioner-1";
    pub const PRACTITIONER_ROLE: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-PractitionerRole-1";
    pub const LIST: &str = "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-List-1";
    pub const MEDICATION_STATEMENT: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-MedicationStatement-1";
    pub const MEDICATION_REQUEST: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-MedicationRequest-1";
    pub const MEDICATION: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Medication-1";
    pub const ALLERGY_INTOLERANCE: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-AllergyIntolerance-1";
    pub const ENCOUNTER: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Encounter-1";
    pub const OBSERVATION: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Observation-1";
    pub const PROBLEM_HEADER: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-ProblemHeader-Condition-1";
    pub const IMMUNIZATION: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Immunization-1";
    pub const DIAGNOSTIC_REPORT: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-DiagnosticReport-1";
    pub const PROCEDURE_REQUEST: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-ProcedureRequest-1";
    pub const SPECIMEN: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Specimen-1";
    pub const REFERRAL_REQUEST: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-ReferralRequest-1";
    pub const DOCUMENT_REFERENCE: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-DocumentReference-1";
    pub const HEALTHCARE_SERVICE: &str =
        "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-HealthcareService-1";
    pub const OPERATION_OUTCOME: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1";
}

/// Extension URLs (`docs/migrate.md`). Each is the URL the GP Connect profile
/// fixes for its slice: several are HL7 UK CareConnect extensions (`fhir.hl7.org.uk`, no `GPC`),
/// and consumers such as the GP2GP adaptor match on exactly these strings.
pub(crate) mod extensions {
    pub(crate) const CODING_SCTDESCID: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-coding-sctdescid";
    pub(crate) const REGISTRATION_DETAILS: &str = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-RegistrationDetails-1";
    pub(crate) const MAIN_LOCATION: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-MainLocation-1";
    pub(crate) const NHS_NUMBER_VERIFICATION_STATUS: &str = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-NHSNumberVerificationStatus-1";
    pub(crate) const LIST_WARNING_CODE: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-ListWarningCode-1";
    pub(crate) const CLINICAL_SETTING: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-ClinicalSetting-1";
    pub(crate) const RELATED_CLINICAL_CONTENT: &str = "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-RelatedClinicalContent-1";
    pub(crate) const PROBLEM_SIGNIFICANCE: &str = "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-ProblemSignificance-1";
    pub(crate) const RELATED_PROBLEM_HEADER: &str = "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-RelatedProblemHeader-1";
    /// The URL of the GP Connect STU3 assets (`nhsconnect/STU3-FHIR-Assets`).
    pub(crate) const ACTUAL_PROBLEM: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-ActualProblem-1";
    /// The URL EMIS Web exports carry and the only one NHS England's GP2GP adaptor reads.
    pub(crate) const ACTUAL_PROBLEM_HL7: &str =
        "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-ActualProblem-1";
    pub(crate) const ALLERGY_INTOLERANCE_END: &str = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-AllergyIntoleranceEnd-1";
    pub(crate) const PRESCRIBING_AGENCY: &str = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-PrescribingAgency-1";
    pub(crate) const PRESCRIPTION_TYPE: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-PrescriptionType-1";
    pub(crate) const MEDICATION_REPEAT_INFORMATION: &str = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-MedicationRepeatInformation-1";
    pub(crate) const MEDICATION_STATUS_REASON: &str = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-MedicationStatusReason-1";
    pub(crate) const MEDICATION_STATEMENT_LAST_ISSUE_DATE: &str = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-MedicationStatementLastIssueDate-1";
    pub(crate) const DATE_RECORDED: &str =
        "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-DateRecorded-1";
    /// The `encounter` slice of CareConnect-GPC-AllergyIntolerance-1.
    pub(crate) const ASSOCIATED_ENCOUNTER: &str =
        "http://hl7.org/fhir/StructureDefinition/encounter-associatedEncounter";
    pub(crate) const VACCINATION_PROCEDURE: &str = "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-VaccinationProcedure-1";
}

/// Code systems (`docs/migrate.md`).
pub(crate) mod code_systems {
    pub(crate) const READ_V2: &str = "http://read.info/readv2";
    pub(crate) const CTV3: &str = "http://read.info/ctv3";
    pub(crate) const EMIS_DRUG_CODES: &str = "https://fhir.hl7.org.uk/Id/emis-drug-codes";
    pub(crate) const REGISTRATION_TYPE: &str =
        "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-RegistrationType-1";
    pub(crate) const ORGANISATION_TYPE: &str =
        "https://fhir.nhs.uk/STU3/CodeSystem/GPConnect-OrganisationType-1";
    /// HL7 v2 table 0443, provider role (`AP` administering provider).
    pub(crate) const PROVIDER_ROLE: &str = "http://hl7.org/fhir/v2/0443";
    pub(crate) const NHS_NUMBER_VERIFICATION_STATUS: &str =
        "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-NHSNumberVerificationStatus-1";
    pub(crate) const LIST_EMPTY_REASON: &str =
        "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-ListEmptyReasonCode-1";
    pub(crate) const SECONDARY_LIST_VALUES: &str =
        "https://fhir.hl7.org.uk/STU3/CodeSystem/GPConnect-SecondaryListValues-1";
    pub(crate) const ACT_CODE: &str = "http://hl7.org/fhir/v3/ActCode";
    pub(crate) const PRESCRIBING_AGENCY: &str =
        "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-PrescribingAgency-1";
    pub(crate) const PRESCRIPTION_TYPE: &str =
        "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-PrescriptionType-1";
    /// The CodeSystem asset's own `url` (CodeSystem-CareConnect-SDSJobRoleName-1 in
    /// `nhsconnect/STU3-FHIR-Assets`), which every real supplier export carries.
    pub(crate) const SDS_JOB_ROLE_NAME: &str =
        "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-SDSJobRoleName-1";
    /// What CareConnect-GPC-ProblemHeader-Condition-1 fixes for `Condition.category`.
    pub(crate) const CARE_CONNECT_CONDITION_CATEGORY: &str =
        "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-ConditionCategory-1";
    pub(crate) const NULL_FLAVOR: &str = "http://hl7.org/fhir/v3/NullFlavor";
    pub(crate) const OBSERVATION_CATEGORY: &str = "http://hl7.org/fhir/observation-category";
    pub(crate) const PARTICIPATION_TYPE: &str = "http://hl7.org/fhir/v3/ParticipationType";
    /// `REC` (recorder) of Encounter.participant; PPRF and PART are from [`PARTICIPATION_TYPE`].
    pub(crate) const GPC_PARTICIPANT_TYPE: &str =
        "https://fhir.nhs.uk/STU3/CodeSystem/GPConnect-ParticipantType-1";
    /// `List.orderedBy` of consultation, topic and heading Lists.
    pub(crate) const LIST_ORDER: &str = "http://hl7.org/fhir/list-order";
    /// Observation interpretation (HL7 v2 table 0078: `H` high, `L` low).
    pub(crate) const OBSERVATION_INTERPRETATION: &str = "http://hl7.org/fhir/v2/0078";
    pub(crate) const UCUM: &str = "http://unitsofmeasure.org";
    /// Diagnostic service sections (`LAB`), for DiagnosticReport.category.
    pub(crate) const DIAGNOSTIC_SERVICE_SECTION: &str = "http://hl7.org/fhir/v2/0074";
}

/// The migrate operation's definition (`docs/migrate.md`).
pub(crate) const MIGRATE_OPERATION_DEFINITION: &str =
    "https://fhir.nhs.uk/STU3/OperationDefinition/GPConnect-MigrateStructuredRecord-Operation-1";
pub(crate) const GET_OPERATION_DEFINITION: &str =
    "https://fhir.nhs.uk/STU3/OperationDefinition/GPConnect-GetStructuredRecord-Operation-1";

/// The note every List that lost a withheld item carries (`docs/migrate.md`).
pub(crate) const CONFIDENTIAL_ITEMS_NOTE: &str =
    "Items excluded due to confidentiality and/or patient preferences.";
/// The warning code of that List.
pub(crate) const CONFIDENTIAL_ITEMS: &str = "confidential-items";
/// The warning code of every primary and secondary List while the patient's record from the
/// previous practice has not arrived, and its note (the day the patient registered, as
/// `dd-Mmm-yyyy`, follows "before").
pub(crate) const DATA_IN_TRANSIT: &str = "data-in-transit";
pub(crate) const DATA_IN_TRANSIT_NOTE: (&str, &str) = (
    "Patient record transfer from previous GP practice not yet complete; information recorded before ",
    " may be missing.",
);
/// The warning code of an area's Lists while data for it awaits filing, and its note.
pub(crate) const DATA_AWAITING_FILING: &str = "data-awaiting-filing";
pub(crate) const DATA_AWAITING_FILING_NOTE: &str = "Patient data may be incomplete as there is data supplied by a third party awaiting review before becoming available.";
/// The note of an empty List (`docs/migrate.md`).
pub(crate) const INFORMATION_NOT_AVAILABLE: &str = "Information not available";
/// What GP Connect requires in a mandatory text the record lacks (dosage, allergy end reason).
pub(crate) const NO_INFORMATION_AVAILABLE: &str = "No information available";
pub(crate) const NO_CONTENT_RECORDED: (&str, &str) = ("no-content-recorded", "No Content Recorded");
pub(crate) const GENERAL_PRACTICE_SERVICE: (&str, &str) =
    ("1060971000000108", "General practice service");
/// `meta.security` label on resources not for the patient's eyes (`docs/migrate.md`).
pub(crate) const NOPAT: (&str, &str) = (
    "NOPAT",
    "no disclosure to patient, family or caregivers without attending provider's authorization",
);

/// Primary Lists: SNOMED code and exact title (`docs/migrate.md`).
pub(crate) mod lists {
    pub(crate) const ALLERGIES: (&str, &str) =
        ("886921000000105", "Allergies and adverse reactions");
    pub(crate) const ENDED_ALLERGIES: (&str, &str) = ("1103671000000101", "Ended allergies");
    pub(crate) const CONSULTATIONS: (&str, &str) = ("1149501000000101", "List of consultations");
    pub(crate) const DIARY: (&str, &str) = ("714311000000108", "Patient recall administration");
    pub(crate) const IMMUNISATIONS: (&str, &str) = ("1102181000000102", "Immunisations");
    pub(crate) const INVESTIGATIONS: (&str, &str) =
        ("887191000000108", "Investigations and results");
    pub(crate) const MEDICATIONS: (&str, &str) =
        ("933361000000108", "Medications and medical devices");
    pub(crate) const REFERRALS: (&str, &str) = ("792931000000107", "Outbound referral");
    pub(crate) const PROBLEMS: (&str, &str) = ("717711000000103", "Problems");
    /// The SNOMED term is "Miscellaneous record"; the title is `Uncategorised data`.
    pub(crate) const UNCATEGORISED: (&str, &str) = ("826501000000100", "Uncategorised data");
    pub(crate) const UNCATEGORISED_DISPLAY: &str = "Miscellaneous record";
    /// The primary List of every clinical area a full record carries; secondary and
    /// consultation Lists repeat their items.
    pub(crate) const PRIMARY: [(&str, &str); 10] = [
        ALLERGIES,
        ENDED_ALLERGIES,
        CONSULTATIONS,
        DIARY,
        IMMUNISATIONS,
        INVESTIGATIONS,
        MEDICATIONS,
        REFERRALS,
        PROBLEMS,
        UNCATEGORISED,
    ];
    /// The secondary List of problems in a partial record that do not match its query but are
    /// linked from what does (`$gpc.getstructuredrecord`).
    pub(crate) const LINKED_PROBLEMS: &str =
        "problems-linked-problems-not-relating-to-the-primary-query";

    /// Consultation structure Lists (these carry an `id`).
    pub(crate) const CONSULTATION: (&str, &str) = ("325851000000107", "Consultation");
    pub(crate) const TOPIC: (&str, &str) = ("25851000000105", "Topic (EHR)");
    pub(crate) const HEADING: (&str, &str) = ("24781000000107", "Category (EHR)");
}

/// The title of a secondary List from its `GPConnect-SecondaryListValues-1` code: the code with
/// the first word capitalised and followed by ` -` (`problems-medications-related-to-problems` ->
/// `Problems - medications related to problems`).
pub(crate) fn secondary_list_title(code: &str) -> String {
    let mut words = code.split('-');
    let first = words.next().unwrap_or_default();
    let mut title = String::with_capacity(code.len() + 2);
    let mut chars = first.chars();
    if let Some(c) = chars.next() {
        title.extend(c.to_uppercase());
        title.push_str(chars.as_str());
    }
    title.push_str(" -");
    for w in words {
        title.push(' ');
        title.push_str(w);
    }
    title
}

/// The migrate request body: `patientNHSNumber` and `includeFullRecord` with its
/// `includeSensitiveInformation` part (`docs/migrate.md`). The consumer journey, tests and benches send it.
pub fn migrate_parameters(nhs_number: &str, include_sensitive: bool) -> Value {
    json!({
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "patientNHSNumber",
                "valueIdentifier": { "system": systems::NHS_NUMBER, "value": nhs_number },
            },
            {
                "name": "includeFullRecord",
                "part": [{ "name": "includeSensitiveInformation", "valueBoolean": include_sensitive }],
            },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secondary_titles_follow_the_code() {
        assert_eq!(
            secondary_list_title("problems-medications-related-to-problems"),
            "Problems - medications related to problems"
        );
        assert_eq!(
            secondary_list_title("consultations-uncategorised-data-contained-in-consultations"),
            "Consultations - uncategorised data contained in consultations"
        );
    }
}
