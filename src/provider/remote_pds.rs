//! The built-in provider run as an external one (`docs/provider-assurance.md`): with
//! `provider_pds_url` set, its relationship check reads the patient's registered practice from
//! that PDS (another sandbox's, the one in front of it) over HTTP, as a real provider reads
//! Spine's PDS, instead of from its own store; so does migrate a document's. Each read carries the provider's ODS code in
//! `NHSD-End-User-Organisation-ODS`, so the other sandbox's journal shows who read.

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// What the remote PDS said of a patient's registration, attached to the migrate request.
#[derive(Debug, Clone)]
pub(crate) struct RemoteRegistration {
    pub nhs_number: String,
    /// The registered practice, or why it could not be read.
    pub registered: Result<Option<String>, String>,
    /// The PDS URL read.
    pub url: String,
}

/// For a migrate or migrate-a-document request, reads the registration of the patient it
/// concerns from `pds_base` and attaches it to `req`; other requests are left alone.
pub(crate) async fn attach(provider: &super::Provider, pds_base: &str, req: &mut Request<Bytes>) {
    let path = req.uri().path().to_owned();
    let mut segments = path.trim_start_matches('/').split('/');
    let ods = segments.next().unwrap_or_default().to_owned();
    let nhs_number =
        if req.method() == Method::POST && path.ends_with("gpc.migratestructuredrecord") {
            requested_nhs_number(req.body())
        } else if req.method() == Method::GET && path.contains("/documents/fhir/Binary/") {
            // Migrate a document: the patient whose document the Binary id names.
            let id = path.rsplit('/').next().unwrap_or_default();
            provider.world.practice(&ods).and_then(|practice| {
                super::record::find_document(&provider.world, practice, id)
                    .ok()
                    .map(|(patient, _)| patient.nhs_number.as_str().to_owned())
            })
        } else {
            None
        };
    let Some(nhs_number) = nhs_number else {
        return;
    };
    let url = format!("{}/Patient/{nhs_number}", pds_base.trim_end_matches('/'));
    let registered = read(&url, &ods).await;
    req.extensions_mut().insert(RemoteRegistration {
        nhs_number,
        registered,
        url,
    });
}

/// `patientNHSNumber` of a Parameters body, if it can be read at all (the ladder reports why
/// not, later).
fn requested_nhs_number(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v["parameter"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "patientNHSNumber")?["valueIdentifier"]["value"]
        .as_str()
        .map(str::to_owned)
}

async fn read(url: &str, ods: &str) -> Result<Option<String>, String> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::get(url)
        .header("accept", "application/fhir+json")
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header("nhsd-end-user-organisation-ods", ods)
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("cannot build the PDS request {url}: {e}"))?;
    let work = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("cannot reach PDS at {url}: {e}"))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("PDS's answer from {url} broke off: {e}"))?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("PDS answered {status} for {url}"));
        }
        let patient: Value = serde_json::from_slice(&body)
            .map_err(|e| format!("PDS's answer from {url} is not JSON: {e}"))?;
        Ok(crate::pds::patient::registered_practice(&patient).map(str::to_owned))
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), work)
        .await
        .map_err(|_| format!("PDS at {url} did not answer within 10 s"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nhs_number_is_read_from_the_parameters() {
        let body = crate::fhir::gpconnect::migrate_parameters("9690937286", false).to_string();
        assert_eq!(
            requested_nhs_number(body.as_bytes()).as_deref(),
            Some("9690937286")
        );
        assert_eq!(requested_nhs_number(b"not json"), None);
    }
}
