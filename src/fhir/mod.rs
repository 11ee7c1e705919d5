//! Shared FHIR helpers: media types, system URLs, OperationOutcome errors and Bundle builders.
//! GP Connect speaks STU3; PDS and SDS speak R4 (`docs/README.md`).

pub(crate) mod bundle;
pub(crate) mod gpconnect;
pub(crate) mod outcome;
pub(crate) mod stu3;

pub(crate) use outcome::SpineCode;
pub use outcome::{FhirError, OutcomeStyle};

/// `Content-Type` of every FHIR JSON response the sandbox sends.
pub(crate) const FHIR_JSON: &str = "application/fhir+json;charset=utf-8";

/// Identifier and CodeSystem URLs, in one place (`docs/`).
pub mod systems {
    pub const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";
    pub const ODS_ORGANIZATION_CODE: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
    pub const SDS_USER_ID: &str = "https://fhir.nhs.uk/Id/sds-user-id";
    pub const SDS_ROLE_PROFILE_ID: &str = "https://fhir.nhs.uk/Id/sds-role-profile-id";
    pub const SPINE_ASID: &str = "https://fhir.nhs.uk/Id/nhsSpineASID";
    pub const MHS_PARTY_KEY: &str = "https://fhir.nhs.uk/Id/nhsMhsPartyKey";
    pub const MHS_ID: &str = "https://fhir.nhs.uk/Id/nhsMHSId";
    pub const SERVICE_INTERACTION_ID: &str = "https://fhir.nhs.uk/Id/nhsServiceInteractionId";
    pub const SNOMED: &str = "http://snomed.info/sct";
    /// PDS: the extension on the NHS number identifier saying how far it was verified.
    pub const NHS_NUMBER_VERIFICATION_STATUS: &str =
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";
    pub const NHS_NUMBER_VERIFICATION_STATUS_CODES: &str =
        "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus";
    /// PDS `meta.security`: `U` unrestricted, `R` restricted.
    pub const V3_CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
    pub const DEATH_NOTIFICATION_STATUS: &str =
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus";
    pub const DEATH_NOTIFICATION_STATUS_CODES: &str =
        "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus";
    /// SDS Endpoint identifiers and extensions (`docs/sds.md`).
    pub const MHS_FQDN: &str = "https://fhir.nhs.uk/Id/nhsMhsFQDN";
    pub const SDS_INTERACTION_EXTENSION: &str =
        "https://fhir.nhs.uk/StructureDefinition/Extension-SDS-NhsServiceInteractionId";
    pub const ENDPOINT_CONNECTION_TYPE: &str =
        "http://terminology.hl7.org/CodeSystem/endpoint-connection-type";
    pub const ENDPOINT_PAYLOAD_TYPE: &str =
        "http://terminology.hl7.org/CodeSystem/endpoint-payload-type";
    /// GP Connect (STU3) error CodeSystem.
    pub const SPINE_ERROR_STU3: &str =
        "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1";
    /// The ValueSet URL some Spine adaptors (SDS) put in `coding.system`.
    pub const SPINE_ERROR_STU3_VALUESET: &str =
        "https://fhir.nhs.uk/STU3/ValueSet/Spine-ErrorOrWarningCode-1";
    /// PDS (R4) error CodeSystem, sent with `version: "1"`.
    pub const SPINE_ERROR_R4: &str = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode";
    /// SSP's own, legacy error coding system.
    pub const SSP_RESPONSE_CODE: &str =
        "http://fhir.nhs.net/ValueSet/gpconnect-schedule-response-code-1-0";
    pub const GPC_OPERATION_OUTCOME_PROFILE: &str =
        "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1";
}
