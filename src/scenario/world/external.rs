//! A practice whose GP Connect provider is a system outside the sandbox (`external_provider:`):
//! SDS advertises its URLs, SSP forwards to them over TLS presenting the sandbox SSP's client
//! certificate (`docs/provider-assurance.md`). As written: `file::external`; checked by
//! `validate::external`.

use std::path::PathBuf;

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
