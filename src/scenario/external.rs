//! A practice whose GP Connect provider is a system outside the sandbox (`external_provider:`):
//! SDS advertises its URLs, SSP forwards to them over TLS presenting the sandbox SSP's client
//! certificate (`docs/provider-assurance.md`).

use std::path::PathBuf;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// `external_provider:` as written in a practice entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExternalProviderEntry {
    /// Required: the provider's structured FHIR base URL (`https://...`), exactly as SDS is to
    /// advertise it for the migrate and structured metadata interactions.
    pub structured: Option<Spanned<String>>,
    /// The documents FHIR base URL, for migrate a document and documents metadata; absent: the
    /// practice is not registered in SDS for the documents interactions.
    pub documents: Option<Spanned<String>>,
    /// A PEM file (relative to the scenario file) holding the CA that issued the provider's server
    /// certificate; absent: the sandbox CA (`spine-sandbox certs --provider-host FQDN`).
    pub ca: Option<Spanned<String>>,
}

/// An external provider as the world holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalProvider {
    /// Structured FHIR base URL, no trailing slash.
    pub structured: String,
    /// Documents FHIR base URL, no trailing slash.
    pub documents: Option<String>,
    /// The CA file trusted for the provider's server certificate (besides the sandbox CA).
    pub ca: Option<PathBuf>,
}

impl ExternalProvider {
    /// The base URL SDS advertises for a capability (`structured` or `documents`).
    pub fn base(&self, capability: &str) -> Option<&str> {
        match capability {
            "structured" => Some(&self.structured),
            "documents" => self.documents.as_deref(),
            _ => None,
        }
    }
}

/// Why a base URL cannot be an external provider's, or `None` when it can.
pub(crate) fn url_problem(url: &str) -> Option<String> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Some(format!(
            "'{url}' must start with https://: SSP reaches external providers over TLS only"
        ));
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Some(format!("'{url}' has no host"));
    }
    if url.ends_with('/') {
        return Some(format!(
            "'{url}' ends with '/': give the FHIR base URL without it, as SDS holds it"
        ));
    }
    if url.contains(['?', '#', ' ']) {
        return Some(format!(
            "'{url}' is a base URL: no query, fragment or spaces"
        ));
    }
    if url.parse::<http::Uri>().is_err() {
        return Some(format!("'{url}' is not a valid URL"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_https_base_urls_are_accepted() {
        assert_eq!(
            url_problem("https://gp.example:9443/B82617/STU3/1/gpconnect/structured/fhir"),
            None
        );
        assert!(
            url_problem("http://gp.example/fhir")
                .unwrap()
                .contains("https://")
        );
        assert!(
            url_problem("https://gp.example/fhir/")
                .unwrap()
                .contains("ends with")
        );
        assert!(url_problem("https:///fhir").unwrap().contains("no host"));
        assert!(url_problem("https://gp.example/fhir?x=1").is_some());
    }
}
