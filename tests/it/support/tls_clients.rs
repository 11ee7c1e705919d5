//! Clients that call SSP over real TLS, each holding a different certificate: the consumer's
//! own (`clients/<ASID>.pem`), none, one from another CA, an expired one.

use std::sync::OnceLock;

use reqwest::header::{HeaderMap, HeaderValue};
use spine_sandbox::{Asid, OdsCode, interactions};
use spine_sandbox::{Authority, ClientSystem, Issued, Layout, Validity};
use spine_sandbox::{anonymous_client_config, client_config, client_config_from_pem};

use super::TestSandbox;
use super::worlds::{CONSUMER_ASID, PROVIDER_ASID, PROVIDER_ODS};

/// A reqwest client speaking through the given rustls configuration (HTTP/1.1, no proxy).
pub(crate) fn reqwest_with(config: rustls::ClientConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .no_proxy()
        .build()
        .unwrap()
}

/// A CA unrelated to the sandbox's, made once per test process.
pub(crate) fn other_ca() -> &'static Authority {
    static CA: OnceLock<Authority> = OnceLock::new();
    CA.get_or_init(|| Authority::generate("Some Other CA", Validity::days_from_today(30)).unwrap())
}

pub(crate) fn system(ods: &str, asid: &str) -> ClientSystem {
    ClientSystem {
        asid: Asid::parse(asid).unwrap(),
        ods: OdsCode::parse(ods).unwrap(),
        name: None,
    }
}

/// The four `Ssp-*` headers.
pub(crate) fn ssp_headers(from: &str, to: &str, interaction: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "Ssp-TraceID",
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).unwrap(),
    );
    h.insert("Ssp-From", HeaderValue::from_str(from).unwrap());
    h.insert("Ssp-To", HeaderValue::from_str(to).unwrap());
    h.insert(
        "Ssp-InteractionID",
        HeaderValue::from_str(interaction).unwrap(),
    );
    h
}

impl TestSandbox {
    pub(crate) fn layout(&self) -> Layout {
        Layout::new(&self.certs_dir)
    }

    /// A consumer presenting `clients/<asid>.pem`.
    pub(crate) fn ssp_client(&self, asid: &str) -> reqwest::Client {
        let l = self.layout();
        reqwest_with(
            client_config(&l.ca_cert(), &l.client_cert(asid), &l.client_key(asid)).unwrap(),
        )
    }

    /// A client trusting the sandbox CA but presenting no certificate.
    pub(crate) fn ssp_client_without_certificate(&self) -> reqwest::Client {
        reqwest_with(anonymous_client_config(&self.layout().ca_cert()).unwrap())
    }

    /// A client presenting a certificate made in the test.
    pub(crate) fn ssp_client_presenting(&self, issued: &Issued) -> reqwest::Client {
        let ca = std::fs::read_to_string(self.layout().ca_cert()).unwrap();
        reqwest_with(
            client_config_from_pem(&ca, Some((&issued.cert_pem, &issued.key_pem))).unwrap(),
        )
    }

    /// A certificate for `ods`/`asid` issued by the sandbox CA, valid as given.
    pub(crate) fn issue_client(&self, ods: &str, asid: &str, validity: Validity) -> Issued {
        Authority::load(&self.certs_dir)
            .unwrap()
            .issue_client(&system(ods, asid), validity)
            .unwrap()
    }

    /// A certificate for `asid` exactly like the sandbox's, but issued by another CA.
    pub(crate) fn ssp_client_from_other_ca(&self, ods: &str, asid: &str) -> reqwest::Client {
        let issued = other_ca()
            .issue_client(&system(ods, asid), Validity::days_from_today(30))
            .unwrap();
        self.ssp_client_presenting(&issued)
    }

    /// A certificate for `asid` from the sandbox CA that expired yesterday.
    pub(crate) fn ssp_client_expired(&self, ods: &str, asid: &str) -> reqwest::Client {
        let issued = self.issue_client(ods, asid, Validity::expired());
        self.ssp_client_presenting(&issued)
    }

    /// The base URL SDS advertises (`--public-url`, or the HTTP listener).
    pub(crate) fn public_url(&self) -> String {
        self.running.shared.public_url.clone()
    }

    /// A provider service root as SDS returns it: `capability` is `structured` or `documents`.
    pub(crate) fn endpoint(&self, ods: &str, capability: &str) -> String {
        format!(
            "{}/{ods}/STU3/1/gpconnect/{capability}/fhir",
            self.public_url()
        )
    }

    /// `https://<ssp>/<target>`.
    pub(crate) fn ssp_url(&self, target: &str) -> String {
        format!("{}/{target}", self.ssp_base)
    }

    /// The consumer asks SSP, with `client`, for the provider practice's structured metadata.
    pub(crate) async fn ssp_metadata(&self, client: &reqwest::Client) -> reqwest::Response {
        let target = format!("{}/metadata", self.endpoint(PROVIDER_ODS, "structured"));
        client
            .get(self.ssp_url(&target))
            .headers(ssp_headers(
                CONSUMER_ASID,
                PROVIDER_ASID,
                interactions::STRUCTURED_METADATA,
            ))
            .send()
            .await
            .unwrap()
    }
}

/// The PKI files of a certificates folder, for tests that look at them.
pub(crate) fn files_of(dir: &std::path::Path, asids: &[&str]) -> Vec<std::path::PathBuf> {
    let l = Layout::new(dir);
    let mut files = vec![l.ca_cert(), l.ca_key(), l.ssp_cert(), l.ssp_key()];
    for asid in asids {
        files.push(l.client_cert(asid));
        files.push(l.client_key(asid));
    }
    files
}
