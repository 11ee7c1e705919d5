//! GP Connect providers, FHIR STU3: one per practice with `provider: true`
//! (`shared/spec/migrate.md`, `documents.md`).

use bytes::Bytes;
use http::{Request, Response};

use crate::fhir::{FhirError, OutcomeStyle};
use crate::sandbox::Shared;

/// `/{ODS}/STU3/1/gpconnect/...`
pub fn is_provider_path(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    let _ods = segments.next();
    matches!(
        (segments.next(), segments.next(), segments.next()),
        (Some("STU3"), Some("1"), Some("gpconnect"))
    )
}

pub async fn handle(shared: &Shared, req: Request<Bytes>) -> Response<Bytes> {
    let _ = shared;
    FhirError::not_implemented(format!("provider {} is being built", req.uri().path()))
        .to_response(OutcomeStyle::GpConnect)
}
