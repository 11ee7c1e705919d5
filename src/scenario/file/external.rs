//! `external_provider:` of a practice as written (the world's `ExternalProvider` for what it
//! means).

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
