//! External providers (`docs/provider-assurance.md`): a practice may name a GP Connect provider
//! outside the sandbox. SDS advertises its URLs, and SSP forwards to them exactly as to the
//! built-in providers (same checks, timeout, journal entries and fault injection) over TLS,
//! presenting the sandbox SSP's certificate (`ssp.pem`, issued by `ca.pem`, extended key usage
//! client authentication) and verifying the provider's server certificate against `ca.pem` and
//! the CA file each external provider's `ca:` names.
//!
//! The trust is one store for the forwarding client: a CA named for one external provider is
//! trusted for every https target SSP forwards to. SSP forwards only to URLs SDS holds, so the
//! targets are still only the scenario's providers.

use std::path::{Path, PathBuf};

use rustls::{ClientConfig, RootCertStore};

use crate::scenario::World;
use crate::tls::{self, TlsError};

/// The CA files the world's external providers name, each once.
pub(crate) fn provider_cas(world: &World) -> Vec<PathBuf> {
    let mut cas: Vec<PathBuf> = Vec::new();
    for p in &world.practices {
        if let Some(ca) = p.external.as_ref().and_then(|e| e.ca.clone())
            && !cas.contains(&ca)
        {
            cas.push(ca);
        }
    }
    cas
}

/// SSP's forwarding client: trusts `ca.pem` and every file in `extra`, presents `ssp.pem`.
pub(crate) fn forward_config(
    ca_pem_path: &Path,
    cert_path: &Path,
    key_path: &Path,
    extra: &[PathBuf],
) -> Result<ClientConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    for path in std::iter::once(ca_pem_path).chain(extra.iter().map(PathBuf::as_path)) {
        for cert in tls::load_certs(path)? {
            roots.add(cert).map_err(|source| TlsError::TrustAnchor {
                path: path.to_owned(),
                source,
            })?;
        }
    }
    let chain = tls::load_certs(cert_path)?;
    let key = tls::load_key(key_path)?;
    Ok(ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?)
}
