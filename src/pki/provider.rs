//! Server certificates for external GP Connect providers (`certs --provider-host FQDN`): issued
//! by the sandbox CA, so SSP trusts them without a `ca:` file, and written beside the CA the
//! provider must trust for SSP's client certificate (`ca.pem`).
//!
//! | file | what |
//! | --- | --- |
//! | `providers/<fqdn>.pem`, `providers/<fqdn>-key.pem` | the provider's server certificate and key |

use std::path::{Path, PathBuf};

use rcgen::{DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair};

use super::{Authority, Issued, Layout, PkiError, Report, Validity, leaf_params, san_for};

/// The folder, inside the certificates folder, of provider server certificates.
pub(crate) const PROVIDERS_DIR: &str = "providers";

impl Layout {
    pub fn provider_cert(&self, fqdn: &str) -> PathBuf {
        self.dir()
            .join(PROVIDERS_DIR)
            .join(format!("{}.pem", fqdn.to_ascii_lowercase()))
    }
    pub fn provider_key(&self, fqdn: &str) -> PathBuf {
        self.dir()
            .join(PROVIDERS_DIR)
            .join(format!("{}-key.pem", fqdn.to_ascii_lowercase()))
    }
}

impl Authority {
    /// A TLS server certificate for a provider at `host` (a DNS name or an IP address).
    pub fn issue_provider(&self, host: &str, validity: Validity) -> Result<Issued, PkiError> {
        let san = san_for(host)?;
        let key = KeyPair::generate()?;
        let mut params = leaf_params(validity)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, host.to_ascii_lowercase());
        name.push(
            DnType::OrganizationName,
            "spine-sandbox provider under test",
        );
        params.distinguished_name = name;
        params.subject_alt_names = vec![san];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Writes a server certificate for each of `hosts` into `dir/providers/`, issued by the CA in
/// `dir` (which [`super::ensure`] made first); an existing one is kept.
pub fn ensure_providers(dir: &Path, hosts: &[String]) -> Result<Report, PkiError> {
    let report = Report::default();
    for host in hosts {
        san_for(host)?;
    }
    if hosts.is_empty() {
        return Ok(report);
    }
    let layout = Layout::new(dir);
    super::create_dir(&layout.dir().join(PROVIDERS_DIR))?;
    super::locked(&layout, || write_missing(dir, &layout, hosts, report))
}

fn write_missing(
    dir: &Path,
    layout: &Layout,
    hosts: &[String],
    mut report: Report,
) -> Result<Report, PkiError> {
    let mut authority = None;
    for host in hosts {
        let (cert, key) = (layout.provider_cert(host), layout.provider_key(host));
        if cert.exists() && key.exists() {
            report.kept.push(cert);
            report.kept.push(key);
            continue;
        }
        if authority.is_none() {
            authority = Some(Authority::load(dir)?);
        }
        let Some(ca) = &authority else { continue };
        let issued = ca.issue_provider(host, Validity::days_from_today(825))?;
        super::write_private(&key, &issued.key_pem)?;
        super::write_public(&cert, &issued.cert_pem)?;
        report.created.push(cert);
        report.created.push(key);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_certificate_names_its_host_and_is_for_server_auth() {
        let ca = Authority::generate("Test CA", Validity::days_from_today(30)).unwrap();
        let issued = ca
            .issue_provider("GP.Example.NHS.UK", Validity::days_from_today(30))
            .unwrap();
        let der =
            <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
        let info = super::super::der::parse_certificate(&der).unwrap();
        assert!(info.subject_summary().contains("gp.example.nhs.uk"));
        assert!(
            ca.issue_provider("not a host", Validity::days_from_today(30))
                .is_err()
        );
    }
}
