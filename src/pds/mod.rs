//! Personal Demographics Service, FHIR R4 (`shared/spec/pds.md`).

pub mod store;

use bytes::Bytes;
use http::{Request, Response};

pub use store::PdsStore;

use crate::fhir::{FhirError, OutcomeStyle};
use crate::sandbox::Shared;

pub const BASE_PATH: &str = "/personal-demographics/FHIR/R4";

pub async fn handle(shared: &Shared, req: Request<Bytes>) -> Response<Bytes> {
    let _ = shared;
    FhirError::not_implemented(format!("PDS {} is being built", req.uri().path()))
        .to_response(OutcomeStyle::Pds)
}
