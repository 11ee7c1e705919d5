//! Spine Directory Service FHIR API, R4 (`shared/spec/sds.md` section 3).

pub mod directory;

use bytes::Bytes;
use http::{Request, Response};

pub use directory::SdsDirectory;

use crate::fhir::{FhirError, OutcomeStyle};
use crate::sandbox::Shared;

pub const BASE_PATH: &str = "/spine-directory/FHIR/R4";

pub async fn handle(shared: &Shared, req: Request<Bytes>) -> Response<Bytes> {
    let _ = shared;
    FhirError::not_implemented(format!("SDS {} is being built", req.uri().path()))
        .to_response(OutcomeStyle::Sds)
}
