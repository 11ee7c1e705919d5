//! One error type for every request the sandbox answers, turned into an `OperationOutcome` in one
//! place ([`FhirError::to_response`]), in the style of the service that answers
//! (`docs/errors.md`, `docs/pds.md`, `docs/sds.md`, `docs/ssp.md`).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

use super::{FHIR_JSON, systems};

/// Which service's OperationOutcome dialect to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeStyle {
    /// GP Connect providers: STU3 CodeSystem, `GPConnect-OperationOutcome-1` profile.
    GpConnect,
    /// PDS: R4 CodeSystem with `version: "1"`.
    Pds,
    /// SDS FHIR API: the STU3 ValueSet URL as system, `OperationOutcome.id` = correlation id.
    Sds,
    /// SSP itself: legacy system, the HTTP status as code, an upper-case token as display.
    Ssp,
}

/// A Spine error or warning code with the HTTP status and FHIR issue type it travels with.
/// GP Connect codes come from `docs/errors.md`; PDS codes from `docs/pds.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpineCode {
    // GP Connect (STU3 CodeSystem)
    BadRequest,
    ConflictingValues,
    InvalidNhsNumber,
    InvalidIdentifierSystem,
    InvalidIdentifierValue,
    InvalidParameter,
    InvalidResource,
    PatientNotFound,
    NoRecordFound,
    OrganisationNotFound,
    PractitionerNotFound,
    NoPatientConsent,
    NoRelationship,
    AccessDenied,
    NotImplemented,
    InternalServerError,
    UnsupportedMediaType,
    PreconditionFailed,
    MissingOrInvalidHeader,
    /// Migrate a document's refusal code (`docs/documents.md`). Not in the STU3 CodeSystem;
    /// the spec names it anyway, so the sandbox sends it with 403 as `docs/documents.md` recommends.
    NotAuthorised,
    // PDS (R4 CodeSystem)
    InvalidResourceId,
    UnsupportedService,
    MissingValue,
    InvalidValue,
    InvalidSearchData,
    AdditionalProperties,
    TooManyMatches,
    ResourceNotFound,
    InvalidUpdate,
    ForbiddenUpdate,
    ResourceVersionMismatch,
    /// PDS's 412 for a PATCH without a usable `If-Match` (R4 display and issue type, which
    /// differ from GP Connect's STU3 `PRECONDITION_FAILED`).
    UpdatePreconditionFailed,
    /// The NHS API platform's (and PDS's) 401 `ACCESS_DENIED`: missing or bad credentials
    /// (`apikey` for SDS, a malformed `Authorization` for PDS). Rendered in the R4 dialect.
    ApiAccessDenied,
    UnsupportedValue,
    RequestTooLarge,
    RequestTimeout,
}

impl SpineCode {
    /// (code, display, HTTP status, issue type)
    pub fn parts(self) -> (&'static str, &'static str, StatusCode, &'static str) {
        use SpineCode::*;
        match self {
            BadRequest => (
                "BAD_REQUEST",
                "Bad request",
                StatusCode::BAD_REQUEST,
                "invalid",
            ),
            ConflictingValues => (
                "CONFLICTING_VALUES",
                "Conflicting values have been specified in different fields",
                StatusCode::BAD_REQUEST,
                "invalid",
            ),
            InvalidNhsNumber => (
                "INVALID_NHS_NUMBER",
                "Invalid NHS number",
                StatusCode::BAD_REQUEST,
                "value",
            ),
            InvalidIdentifierSystem => (
                "INVALID_IDENTIFIER_SYSTEM",
                "Invalid identifier system",
                StatusCode::BAD_REQUEST,
                "value",
            ),
            InvalidIdentifierValue => (
                "INVALID_IDENTIFIER_VALUE",
                "Invalid identifier value",
                StatusCode::BAD_REQUEST,
                "value",
            ),
            InvalidParameter => (
                "INVALID_PARAMETER",
                "Invalid parameter",
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
            ),
            InvalidResource => (
                "INVALID_RESOURCE",
                "Invalid validation of resource",
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
            ),
            PatientNotFound => (
                "PATIENT_NOT_FOUND",
                "Patient not found",
                StatusCode::NOT_FOUND,
                "not-found",
            ),
            NoRecordFound => (
                "NO_RECORD_FOUND",
                "No record found",
                StatusCode::NOT_FOUND,
                "not-found",
            ),
            OrganisationNotFound => (
                "ORGANISATION_NOT_FOUND",
                "Organisation not found",
                StatusCode::NOT_FOUND,
                "not-found",
            ),
            PractitionerNotFound => (
                "PRACTITIONER_NOT_FOUND",
                "Practitioner not found",
                StatusCode::NOT_FOUND,
                "not-found",
            ),
            NoPatientConsent => (
                "NO_PATIENT_CONSENT",
                "Patient has not provided consent to share data",
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            NoRelationship => (
                "NO_RELATIONSHIP",
                "No legitimate relationship exists with this patient",
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            AccessDenied => (
                "ACCESS DENIED",
                "Access has been denied to process this request",
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            NotImplemented => (
                "NOT_IMPLEMENTED",
                "Not implemented",
                StatusCode::NOT_IMPLEMENTED,
                "not-supported",
            ),
            InternalServerError => (
                "INTERNAL_SERVER_ERROR",
                "Unexpected internal server error",
                StatusCode::INTERNAL_SERVER_ERROR,
                "exception",
            ),
            UnsupportedMediaType => (
                "UNSUPPORTED_MEDIA_TYPE",
                "Unsupported media type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not-supported",
            ),
            PreconditionFailed => (
                "PRECONDITION_FAILED",
                "Precondition failed",
                StatusCode::PRECONDITION_FAILED,
                "required",
            ),
            MissingOrInvalidHeader => (
                "MISSING_OR_INVALID_HEADER",
                "There is a required header missing or invalid",
                StatusCode::BAD_REQUEST,
                "required",
            ),
            NotAuthorised => (
                "NOT_AUTHORISED",
                "Not authorised",
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            InvalidResourceId => (
                "INVALID_RESOURCE_ID",
                "Resource Id is invalid",
                StatusCode::BAD_REQUEST,
                "value",
            ),
            UnsupportedService => (
                "UNSUPPORTED_SERVICE",
                "Unsupported Service",
                StatusCode::BAD_REQUEST,
                "processing",
            ),
            MissingValue => (
                "MISSING_VALUE",
                "Required value is missing",
                StatusCode::BAD_REQUEST,
                "required",
            ),
            InvalidValue => (
                "INVALID_VALUE",
                "Provided value is invalid",
                StatusCode::BAD_REQUEST,
                "value",
            ),
            InvalidSearchData => (
                "INVALID_SEARCH_DATA",
                "Search data is invalid",
                StatusCode::BAD_REQUEST,
                "value",
            ),
            AdditionalProperties => (
                "ADDITIONAL_PROPERTIES",
                "Additional properties should not be included",
                StatusCode::BAD_REQUEST,
                "invariant",
            ),
            TooManyMatches => (
                "TOO_MANY_MATCHES",
                "Too Many Matches",
                StatusCode::OK,
                "multiple-matches",
            ),
            ResourceNotFound => (
                "RESOURCE_NOT_FOUND",
                "Resource not found",
                StatusCode::NOT_FOUND,
                "not-found",
            ),
            InvalidUpdate => (
                "INVALID_UPDATE",
                "Update is invalid",
                StatusCode::BAD_REQUEST,
                "structure",
            ),
            ForbiddenUpdate => (
                "FORBIDDEN_UPDATE",
                "Update is forbidden",
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            ResourceVersionMismatch => (
                "RESOURCE_VERSION_MISMATCH",
                "Resource version supplied does not match actual version",
                StatusCode::CONFLICT,
                "conflict",
            ),
            UpdatePreconditionFailed => (
                "PRECONDITION_FAILED",
                "Required condition was not fulfilled",
                StatusCode::PRECONDITION_FAILED,
                "structure",
            ),
            ApiAccessDenied => (
                "ACCESS_DENIED",
                "Access Denied - Unauthorised",
                StatusCode::UNAUTHORIZED,
                "forbidden",
            ),
            UnsupportedValue => (
                "UNSUPPORTED_VALUE",
                "Unsupported value",
                StatusCode::BAD_REQUEST,
                "value",
            ),
            RequestTooLarge => (
                "BAD_REQUEST",
                "Bad request",
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-costly",
            ),
            RequestTimeout => (
                "BAD_REQUEST",
                "Bad request",
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
            ),
        }
    }
}

/// A refusal: what went wrong, in the words of the Spine code, plus a diagnostic naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirError {
    pub status: StatusCode,
    pub issue_type: &'static str,
    pub code: String,
    pub display: String,
    pub diagnostics: String,
    /// `error` almost always; PDS's not-found stub says `information`.
    pub severity: &'static str,
}

impl std::fmt::Display for FhirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.diagnostics
        )
    }
}

impl std::error::Error for FhirError {}

impl FhirError {
    pub fn new(code: SpineCode, diagnostics: impl Into<String>) -> Self {
        let (code, display, status, issue_type) = code.parts();
        Self {
            status,
            issue_type,
            code: code.to_owned(),
            display: display.to_owned(),
            diagnostics: diagnostics.into(),
            severity: "error",
        }
    }

    /// Same code, another HTTP status (e.g. the suite's 400 for `conf/R` with `false`).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_severity(mut self, severity: &'static str) -> Self {
        self.severity = severity;
        self
    }

    /// SSP's own refusals: the HTTP status is the code and the token is display and diagnostics.
    pub fn ssp(status: StatusCode, issue_type: &'static str, token: impl Into<String>) -> Self {
        let token = token.into();
        Self {
            status,
            issue_type,
            code: status.as_u16().to_string(),
            display: token.clone(),
            diagnostics: token,
            severity: "error",
        }
    }

    /// An SSP refusal with a sentence: `token` is the display, `token: sentence` the
    /// diagnostics (code matching Spine's token on either behaves as with Spine).
    pub fn ssp_refusal(
        status: StatusCode,
        issue_type: &'static str,
        token: impl Into<String>,
        sentence: impl AsRef<str>,
    ) -> Self {
        let token = token.into();
        let mut error = Self::ssp(status, issue_type, token.clone());
        error.diagnostics = format!("{token}: {}", sentence.as_ref());
        error
    }

    pub fn bad_request(d: impl Into<String>) -> Self {
        Self::new(SpineCode::BadRequest, d)
    }
    pub fn invalid_parameter(d: impl Into<String>) -> Self {
        Self::new(SpineCode::InvalidParameter, d)
    }
    pub fn invalid_resource(d: impl Into<String>) -> Self {
        Self::new(SpineCode::InvalidResource, d)
    }
    pub fn invalid_nhs_number(d: impl Into<String>) -> Self {
        Self::new(SpineCode::InvalidNhsNumber, d)
    }
    pub fn patient_not_found(d: impl Into<String>) -> Self {
        Self::new(SpineCode::PatientNotFound, d)
    }
    pub fn no_relationship(d: impl Into<String>) -> Self {
        Self::new(SpineCode::NoRelationship, d)
    }
    pub fn not_implemented(d: impl Into<String>) -> Self {
        Self::new(SpineCode::NotImplemented, d)
    }
    pub fn internal(d: impl Into<String>) -> Self {
        Self::new(SpineCode::InternalServerError, d)
    }
    pub fn conflicting_values(d: impl Into<String>) -> Self {
        Self::new(SpineCode::ConflictingValues, d)
    }
    pub fn no_patient_consent(d: impl Into<String>) -> Self {
        Self::new(SpineCode::NoPatientConsent, d)
    }
    pub fn organisation_not_found(d: impl Into<String>) -> Self {
        Self::new(SpineCode::OrganisationNotFound, d)
    }
    pub fn no_record_found(d: impl Into<String>) -> Self {
        Self::new(SpineCode::NoRecordFound, d)
    }
    pub fn not_authorised(d: impl Into<String>) -> Self {
        Self::new(SpineCode::NotAuthorised, d)
    }
    pub fn unsupported_media_type(d: impl Into<String>) -> Self {
        Self::new(SpineCode::UnsupportedMediaType, d)
    }
    pub fn invalid_identifier_system(d: impl Into<String>) -> Self {
        Self::new(SpineCode::InvalidIdentifierSystem, d)
    }

    /// The OperationOutcome resource in the given dialect.
    pub fn to_outcome(&self, style: OutcomeStyle) -> Value {
        let coding = match style {
            OutcomeStyle::GpConnect => json!({
                "system": systems::SPINE_ERROR_STU3, "code": self.code, "display": self.display }),
            OutcomeStyle::Pds => json!({
                "system": systems::SPINE_ERROR_R4, "version": "1",
                "code": self.code, "display": self.display }),
            OutcomeStyle::Sds => json!({
                "system": systems::SPINE_ERROR_STU3_VALUESET, "code": self.code, "display": self.display }),
            OutcomeStyle::Ssp => json!({
                "system": systems::SSP_RESPONSE_CODE, "code": self.code, "display": self.display }),
        };
        let mut outcome = json!({
            "resourceType": "OperationOutcome",
            "issue": [{
                "severity": self.severity,
                "code": self.issue_type,
                "details": { "coding": [coding] },
                "diagnostics": self.diagnostics,
            }]
        });
        match style {
            OutcomeStyle::GpConnect => {
                outcome["meta"] = json!({ "profile": [systems::GPC_OPERATION_OUTCOME_PROFILE] });
            }
            OutcomeStyle::Sds | OutcomeStyle::Ssp | OutcomeStyle::Pds => {
                outcome["id"] = json!(uuid::Uuid::new_v4().to_string());
            }
        }
        outcome
    }

    /// The one place an error becomes an HTTP response. The diagnostics ride along in a
    /// [`Refusal`] extension so the journal can say why without parsing the body.
    pub fn to_response(&self, style: OutcomeStyle) -> Response<Bytes> {
        let body = serde_json::to_vec(&self.to_outcome(style)).unwrap_or_default();
        let mut resp = Response::new(Bytes::from(body));
        *resp.status_mut() = self.status;
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp.extensions_mut().insert(Refusal {
            code: self.code.clone(),
            diagnostics: self.diagnostics.clone(),
        });
        resp
    }
}

/// Attached to error responses so the journal can record why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub code: String,
    pub diagnostics: String,
}

impl Refusal {
    pub(crate) fn summary(&self) -> String {
        format!("{}: {}", self.code, self.diagnostics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gp_connect_outcome_has_profile_and_stu3_system() {
        let e = FhirError::invalid_parameter("Unrecognised parameter: includeImmunisations");
        let o = e.to_outcome(OutcomeStyle::GpConnect);
        assert_eq!(
            o["meta"]["profile"][0],
            systems::GPC_OPERATION_OUTCOME_PROFILE
        );
        let c = &o["issue"][0]["details"]["coding"][0];
        assert_eq!(c["system"], systems::SPINE_ERROR_STU3);
        assert_eq!(c["code"], "INVALID_PARAMETER");
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(o["issue"][0]["severity"], "error");
    }

    #[test]
    fn pds_outcome_uses_r4_system_with_version() {
        let o = FhirError::new(SpineCode::InvalidResourceId, "x").to_outcome(OutcomeStyle::Pds);
        let c = &o["issue"][0]["details"]["coding"][0];
        assert_eq!(c["system"], systems::SPINE_ERROR_R4);
        assert_eq!(c["version"], "1");
        assert!(o.get("meta").is_none());
    }

    #[test]
    fn ssp_outcome_uses_status_as_code() {
        let e = FhirError::ssp(
            StatusCode::FORBIDDEN,
            "forbidden",
            "ASID_CHECK_FAILED_MESSAGESENDER_200000000359",
        );
        let o = e.to_outcome(OutcomeStyle::Ssp);
        let c = &o["issue"][0]["details"]["coding"][0];
        assert_eq!(c["code"], "403");
        assert_eq!(c["display"], "ASID_CHECK_FAILED_MESSAGESENDER_200000000359");
    }

    #[test]
    fn access_denied_code_has_a_space() {
        assert_eq!(SpineCode::AccessDenied.parts().0, "ACCESS DENIED");
    }
}
