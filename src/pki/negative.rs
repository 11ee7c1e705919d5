//! Certificate sets for an external provider's own negative tests (`certs --negative-set`): SSP
//! client certificates as NHS's provider test suite uses them (valid, expired, for the wrong
//! host, from another CA, revoked) and a CRL, signed by the sandbox CA, that lists the revoked one.
//!
//! | file in `ssp-negative/` | what a correct provider does with it |
//! | --- | --- |
//! | `valid.pem` | accepts it (same name and issuer as `ssp.pem`) |
//! | `expired.pem` | refuses it: validity ended yesterday |
//! | `wrong-host.pem` | refuses it: issued to `wrong-host.sandbox.invalid`, not SSP's name |
//! | `other-ca.pem` | refuses it: issued by `other-ca-root.pem`, a CA it does not trust |
//! | `revoked.pem` | refuses it once it loads `crl.pem` |
//!
//! Each with its key beside it (`<name>-key.pem`).

use std::path::{Path, PathBuf};

use rcgen::{
    CertificateRevocationListParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    KeyIdMethod, KeyPair, RevocationReason, RevokedCertParams, SanType, SerialNumber,
};

use super::{Authority, Issued, Layout, PkiError, Report, SSP_COMMON_NAME, Validity, leaf_params};

/// The folder, inside the certificates folder, of the negative set.
pub(crate) const NEGATIVE_DIR: &str = "ssp-negative";
/// The host the wrong-host certificate names.
pub(crate) const WRONG_HOST: &str = "wrong-host.sandbox.invalid";

impl Layout {
    pub fn negative_dir(&self) -> PathBuf {
        self.dir().join(NEGATIVE_DIR)
    }
}

impl Authority {
    /// A client certificate named `host`, as SSP's is, and its serial number.
    fn issue_ssp_client(
        &self,
        host: &str,
        validity: Validity,
    ) -> Result<(Issued, SerialNumber), PkiError> {
        let key = KeyPair::generate()?;
        let mut params = leaf_params(validity)?;
        let serial = params
            .serial_number
            .clone()
            .unwrap_or_else(|| SerialNumber::from_slice(&[1]));
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, host);
        name.push(DnType::OrganizationName, "spine-sandbox");
        params.distinguished_name = name;
        params.subject_alt_names = vec![SanType::DnsName(host.try_into()?)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((
            Issued {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            },
            serial,
        ))
    }

    /// A CRL signed by this CA, valid from yesterday for 30 days, listing `revoked`.
    fn crl(&self, revoked: SerialNumber) -> Result<String, PkiError> {
        let day = |d: chrono::NaiveDate| {
            use chrono::Datelike;
            rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
        };
        let this_update = day(chrono::Utc::now().date_naive());
        let next_update = day(Validity::days_from_today(30).not_after);
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from_slice(&[1]),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: revoked,
                revocation_time: this_update,
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }
}

/// Writes the negative set into `dir/ssp-negative/`, issued by the CA in `dir`; an existing set
/// (its `crl.pem`) is kept whole.
pub(crate) fn ensure_negative_set(dir: &Path) -> Result<Report, PkiError> {
    let layout = Layout::new(dir);
    let out = layout.negative_dir();
    let mut report = Report::default();
    if out.join("crl.pem").exists() {
        report.kept.push(out);
        return Ok(report);
    }
    super::create_dir(&out)?;
    let ca = Authority::load(dir)?;
    let other = Authority::generate("Another CA (not Spine)", Validity::days_from_today(365))?;
    let valid = Validity::days_from_today(825);
    let (revoked, revoked_serial) = ca.issue_ssp_client(SSP_COMMON_NAME, valid)?;
    let set = [
        ("valid", ca.issue_ssp_client(SSP_COMMON_NAME, valid)?.0),
        (
            "expired",
            ca.issue_ssp_client(SSP_COMMON_NAME, Validity::expired())?.0,
        ),
        ("wrong-host", ca.issue_ssp_client(WRONG_HOST, valid)?.0),
        (
            "other-ca",
            other.issue_ssp_client(SSP_COMMON_NAME, valid)?.0,
        ),
        ("revoked", revoked),
    ];
    for (name, issued) in &set {
        let (cert, key) = (
            out.join(format!("{name}.pem")),
            out.join(format!("{name}-key.pem")),
        );
        super::write_private(&key, &issued.key_pem)?;
        super::write_public(&cert, &issued.cert_pem)?;
        report.created.push(cert);
        report.created.push(key);
    }
    let other_root = out.join("other-ca-root.pem");
    super::write_public(&other_root, other.cert_pem())?;
    report.created.push(other_root);
    let crl = out.join("crl.pem");
    super::write_public(&crl, &ca.crl(revoked_serial)?)?;
    report.created.push(crl);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crl_lists_the_revoked_certificate_and_is_signed_by_the_sandbox_ca() {
        let dir = std::env::temp_dir().join(format!("negative-set-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        super::super::ensure(&dir, &[], &["localhost".to_owned()]).unwrap();
        let report = ensure_negative_set(&dir).unwrap();
        assert_eq!(report.created.len(), 12);
        let out = Layout::new(&dir).negative_dir();
        let crl_pem = std::fs::read(out.join("crl.pem")).unwrap();
        let crl = <rustls::pki_types::CertificateRevocationListDer as rustls::pki_types::pem::PemObject>::from_pem_slice(&crl_pem).unwrap();
        let ca = crate::tls::load_certs(&Layout::new(&dir).ca_cert()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca[0].clone()).unwrap();
        // A client verifier loaded with the CRL refuses the revoked certificate only.
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            crate::tls::provider(),
        )
        .with_crls(vec![crl])
        .build()
        .unwrap();
        let verify = |name: &str| {
            let cert = crate::tls::load_certs(&out.join(format!("{name}.pem"))).unwrap();
            verifier
                .verify_client_cert(&cert[0], &[], rustls::pki_types::UnixTime::now())
                .is_ok()
        };
        assert!(verify("valid"));
        assert!(!verify("revoked"));
        assert!(!verify("expired"));
        assert!(!verify("other-ca"));
        // Kept whole on a second run.
        assert_eq!(ensure_negative_set(&dir).unwrap().created.len(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
