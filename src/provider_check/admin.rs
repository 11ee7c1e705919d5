//! `POST /_admin/provider-check?practice=ODS[&as=ODS]`: the provider check run by the sandbox
//! against itself (its own listeners, certificates folder and admin key); the report as JSON.

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::fhir::bundle::json_response;
use crate::fhir::{FhirError, OutcomeStyle};
use crate::world::state::Shared;

pub(crate) async fn handle(shared: &Shared, query: Option<&str>) -> Response<Bytes> {
    let param = |name: &str| {
        query.unwrap_or_default().split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_owned())
        })
    };
    let Some(practice) = param("practice") else {
        return FhirError::bad_request(
            "query parameter 'practice' (the ODS code of the provider to check) is missing",
        )
        .to_response(OutcomeStyle::GpConnect);
    };
    let options = super::Options {
        practice,
        // A trainee world's own PDS, SDS, SSP and admin API live under its base path.
        sandbox_url: format!("http://{}{}", loopback(shared.http_addr), shared.base_path),
        ssp_url: format!("https://{}{}", loopback(shared.ssp_addr), shared.base_path),
        certs_dir: shared.config.certs_dir.clone(),
        as_ods: param("as"),
        admin_key: shared.config.admin_key.clone(),
    };
    match super::run(&options).await {
        Ok(report) => json_response(
            StatusCode::OK,
            &serde_json::to_value(&report).unwrap_or_default(),
        ),
        Err(e) => FhirError::bad_request(format!("no provider check: {e}"))
            .to_response(OutcomeStyle::GpConnect),
    }
}

/// The address to reach a listener from this machine (an unspecified bind means loopback).
fn loopback(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    if addr.ip().is_unspecified() {
        let ip: std::net::IpAddr = if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        std::net::SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}
