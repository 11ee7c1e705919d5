//! Unit-test fixtures: the shipped default world, the providers' handles around it at a fixed instant, and
//! requests as the provider suite sends them.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use http::Request;
use serde_json::Value;

use super::Provider;
use crate::clock::Clock;
use crate::identifiers::interactions;
use crate::jwt::{MigrateTokenRequest, PractitionerClaim};
use crate::pds;
use crate::scenario::World;

pub(crate) const PATIENT2: &str = "9690937286";
pub(crate) const PATIENT18: &str = "9690938681";
pub(crate) const TRACE_ID: &str = "6c1d0e3b-94f0-4a53-9d64-1f5e0a1e2b3c";

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 9, 30, 0).unwrap()
}

pub(crate) fn default_world() -> World {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/default.yaml");
    crate::scenario::load_paths(&[path], now().date_naive()).unwrap()
}

pub(crate) fn provider(world: World) -> Provider {
    let world = Arc::new(world);
    Provider {
        pds: pds::PdsStore::new(&world),
        migrate_cache: super::cache::MigrateCache::new(super::cache::DEFAULT_MAX_BYTES),
        world,
        clock: Clock::fixed(now()),
        public_url: "http://sandbox.test".to_owned(),
        remote_pds: None,
    }
}

pub(crate) fn practitioner() -> PractitionerClaim {
    PractitionerClaim::assurance_suite()
}

/// The suite's migrate JWT claims (`docs/migrate.md`).
pub(crate) fn suite_claims(sensitive: bool) -> Value {
    MigrateTokenRequest {
        requesting_ods: "GPCA0001".into(),
        requesting_name: "GP Connect Assurance".into(),
        requesting_asid: "200000000359".into(),
        audience: "https://authorize.fhir.nhs.net/token/".into(),
        practitioner: Some(practitioner()),
        sensitive,
        now: now(),
    }
    .claims()
}

/// A migrate request as the suite sends it; `edit` may change anything before it is built.
pub(crate) struct MigrateCall {
    pub headers: Vec<(String, String)>,
    pub claims: Value,
    pub body: Value,
    pub raw_body: Option<Vec<u8>>,
}

impl MigrateCall {
    pub(crate) fn suite(nhs: &str, sensitive: bool) -> Self {
        Self {
            headers: vec![
                ("Ssp-TraceID".into(), TRACE_ID.into()),
                ("Ssp-From".into(), "200000000359".into()),
                ("Ssp-To".into(), "918999198738".into()),
                (
                    "Ssp-InteractionID".into(),
                    interactions::MIGRATE_STRUCTURED.into(),
                ),
                ("Accept".into(), "application/fhir+json".into()),
                ("Content-Type".into(), "application/fhir+json".into()),
            ],
            claims: suite_claims(sensitive),
            body: crate::fhir::gpconnect::migrate_parameters(nhs, sensitive),
            raw_body: None,
        }
    }

    pub(crate) fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self = self.without_header(name);
        self.headers.push((name.into(), value.into()));
        self
    }

    pub(crate) fn build(&self) -> Request<Bytes> {
        let mut b = Request::post(
            "/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord",
        );
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b = b.header(
            "Authorization",
            format!("Bearer {}", crate::jwt::encode_unsigned(&self.claims)),
        );
        let body = self
            .raw_body
            .clone()
            .unwrap_or_else(|| serde_json::to_vec(&self.body).unwrap());
        b.body(Bytes::from(body)).unwrap()
    }
}
