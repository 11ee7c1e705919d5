//! rustls configurations, all built with one explicit crypto provider (ring),
//! PEM loading through `PemObject`, and the client identity SSP reads from a peer certificate.
//!
//! # How SSP authenticates a client
//!
//! SSP asks every client for a certificate but lets the handshake finish whether or not one is
//! sent, and whatever it chains to ([`DeferredClientVerifier`]). The handshake still checks
//! that the client holds the certificate's private key. Straight after the handshake, once per
//! connection, [`identify_client`] verifies the chain against `ca.pem` (webpki: issuer,
//! validity, `clientAuth` usage) and records the outcome as a [`ClientIdentity`]. SSP then
//! answers every request on that connection with HTTP 496 (no certificate) or 495 (a
//! certificate it does not accept, saying why), which a developer can read, instead of a TLS
//! alert, which most clients report as an opaque handshake failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore,
    ServerConfig, SignatureScheme,
};

use crate::identifiers::Asid;
use crate::pki::der;

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate ({message})")]
    NoCertificate { path: PathBuf, message: String },
    #[error("{path} holds no PEM private key ({message})")]
    NoKey { path: PathBuf, message: String },
    #[error("{path}: the CA certificate is not usable as a trust anchor: {source}")]
    TrustAnchor {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("cannot build the client-certificate verifier: {0}")]
    Verifier(String),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The one crypto provider of the crate. Every config is built with it explicitly, so nothing
/// depends on a process-wide default.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Every certificate in a PEM file, in order (a leaf then its intermediates, or several CAs).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certs_from_pem(&read_file(path)?, path)
}

fn certs_from_pem(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::NoCertificate {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
            message: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    key_from_pem(&read_file(path)?, path)
}

fn key_from_pem(pem: &[u8], path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| TlsError::NoKey {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn roots_from(certs: Vec<CertificateDer<'static>>, path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|source| TlsError::TrustAnchor {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(roots)
}

/// A client configuration that trusts `ca.pem` and presents a client certificate: what a
/// consumer (the journey, a test, a GP system) uses to call SSP. TLS 1.2 and 1.3; no ALPN (the
/// HTTP client adds what it speaks).
pub fn client_config(
    ca_pem_path: &Path,
    client_cert_path: &Path,
    client_key_path: &Path,
) -> Result<ClientConfig, TlsError> {
    let roots = roots_from(load_certs(ca_pem_path)?, ca_pem_path)?;
    let chain = load_certs(client_cert_path)?;
    let key = load_key(client_key_path)?;
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?)
}

/// A client configuration that trusts `ca.pem` and presents no certificate.
pub fn anonymous_client_config(ca_pem_path: &Path) -> Result<ClientConfig, TlsError> {
    let roots = roots_from(load_certs(ca_pem_path)?, ca_pem_path)?;
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// [`client_config`] from PEM text held in memory (a certificate made for one test).
pub fn client_config_from_pem(
    ca_pem: &str,
    client: Option<(&str, &str)>,
) -> Result<ClientConfig, TlsError> {
    let here = Path::new("<memory>");
    let roots = roots_from(certs_from_pem(ca_pem.as_bytes(), here)?, here)?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    Ok(match client {
        Some((cert, key)) => builder.with_client_auth_cert(
            certs_from_pem(cert.as_bytes(), here)?,
            key_from_pem(key.as_bytes(), here)?,
        )?,
        None => builder.with_no_client_auth(),
    })
}

/// What SSP learnt about the client of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientIdentity {
    /// The client sent no certificate.
    Anonymous,
    /// The client sent a certificate that does not verify against `ca.pem`.
    Rejected {
        /// Why, in words (expired on ..., not issued by ...).
        reason: String,
        /// The certificate's subject, for the message.
        subject: String,
    },
    /// The certificate verified; `asid` is its subject `serialNumber` when that is an ASID.
    Verified {
        asid: Option<Asid>,
        common_name: Option<String>,
        subject: String,
    },
}

/// A client-certificate verifier that defers the chain check until after the handshake (see
/// the module doc); handshake signatures are still checked by the webpki verifier it wraps.
#[derive(Debug)]
pub struct DeferredClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
}

impl DeferredClientVerifier {
    /// The webpki verifier that [`identify_client`] uses after the handshake.
    pub fn webpki(&self) -> &dyn ClientCertVerifier {
        self.inner.as_ref()
    }
}

impl ClientCertVerifier for DeferredClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// SSP's server configuration: its certificate, client certificates requested and judged
/// against `ca.pem` after the handshake, TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`.
pub fn ssp_server_config(
    ca_pem_path: &Path,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Arc<ServerConfig>, Arc<DeferredClientVerifier>), TlsError> {
    let roots = roots_from(load_certs(ca_pem_path)?, ca_pem_path)?;
    let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let verifier = Arc::new(DeferredClientVerifier { inner });
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier.clone())
        .with_single_cert(load_certs(cert_path)?, load_key(key_path)?)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), verifier))
}

/// Judges a connection's peer certificates (see the module doc).
pub(crate) fn identify_client(
    verifier: &DeferredClientVerifier,
    peer_certificates: Option<&[CertificateDer<'_>]>,
    now: UnixTime,
) -> ClientIdentity {
    let Some((end_entity, intermediates)) = peer_certificates.and_then(|c| c.split_first()) else {
        return ClientIdentity::Anonymous;
    };
    let info = der::parse_certificate(end_entity).ok();
    let subject = info
        .as_ref()
        .map(der::CertInfo::subject_summary)
        .unwrap_or_else(|| "an unreadable subject".to_owned());
    if let Err(e) = verifier
        .webpki()
        .verify_client_cert(end_entity, intermediates, now)
    {
        return ClientIdentity::Rejected {
            reason: describe_rejection(&e, info.as_ref()),
            subject,
        };
    }
    let attribute = |oid| {
        info.as_ref()
            .and_then(|i| i.subject_attribute(oid))
            .map(str::to_owned)
    };
    ClientIdentity::Verified {
        asid: attribute(der::OID_SERIAL_NUMBER).and_then(|s| Asid::parse(&s).ok()),
        common_name: attribute(der::OID_COMMON_NAME),
        subject,
    }
}

/// Why a client certificate is refused, and what to use instead, in words (never the library's
/// error names).
fn describe_rejection(error: &rustls::Error, info: Option<&der::CertInfo>) -> String {
    let asid = info
        .and_then(|i| i.subject_attribute(der::OID_SERIAL_NUMBER))
        .filter(|s| Asid::parse(s).is_ok());
    let ours = match asid {
        Some(asid) => format!("clients/{asid}.pem (key clients/{asid}-key.pem)"),
        None => "clients/<your ASID>.pem (key clients/<your ASID>-key.pem)".to_owned(),
    };
    let instead = format!(
        "use the certificate the sandbox CA issued for your ASID: {ours} in the certificates folder"
    );
    let date = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "an unreadable date".to_owned())
    };
    let self_signed = info.is_some_and(der::CertInfo::is_self_issued);
    let issuer = info.map_or_else(|| "an unreadable issuer".to_owned(), |i| i.issuer_summary());
    let wrong = match error {
        rustls::Error::InvalidCertificate(cert_error) => match cert_error {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                return format!(
                    "the client certificate expired on {}; {instead} (if that one has expired \
                     too, delete it and its key and restart the sandbox: a new one is issued)",
                    date(info.and_then(|i| i.not_after))
                );
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                return format!(
                    "the client certificate is not valid until {} (is this machine's clock \
                     right?); {instead}",
                    date(info.and_then(|i| i.not_before))
                );
            }
            CertificateError::UnknownIssuer if self_signed => {
                "the client certificate is self-signed (it names itself as its issuer), so the \
                 sandbox CA did not issue it"
                    .to_owned()
            }
            CertificateError::UnknownIssuer => format!(
                "the client certificate was not issued by the sandbox CA (ca.pem in the \
                 certificates folder) but by {issuer}"
            ),
            CertificateError::BadSignature => format!(
                "the client certificate names the sandbox CA ({issuer}) as its issuer, but the \
                 sandbox CA's key did not sign it (it comes from another CA of the same name, \
                 such as another sandbox's certificates folder)"
            ),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "the client certificate is not for client authentication: its extended key \
                 usage does not include clientAuth (a server certificate?)"
                    .to_owned()
            }
            CertificateError::Revoked => "the client certificate has been revoked".to_owned(),
            CertificateError::BadEncoding => {
                "the client certificate is not a well-formed X.509 certificate".to_owned()
            }
            CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                "the client certificate is signed with an algorithm SSP does not accept \
                 (ECDSA P-256/P-384, Ed25519 and RSA with SHA-256 or better are accepted)"
                    .to_owned()
            }
            CertificateError::Other(other) => describe_webpki(other.0.as_ref(), self_signed),
            other => format!("the client certificate is not acceptable ({other})"),
        },
        other => format!("the client certificate could not be checked ({other})"),
    };
    format!("{wrong}; {instead}")
}

/// The verifier's own reasons, which rustls passes on without a name of its own.
fn describe_webpki(
    error: &(dyn std::error::Error + Send + Sync + 'static),
    self_signed: bool,
) -> String {
    let Some(error) = error.downcast_ref::<webpki::Error>() else {
        return format!("the client certificate is not acceptable ({error})");
    };
    match error {
        webpki::Error::CaUsedAsEndEntity if self_signed => {
            "the client certificate is self-signed (a CA certificate used as an end entity), so \
             the sandbox CA did not issue it"
                .to_owned()
        }
        webpki::Error::CaUsedAsEndEntity => {
            "the client certificate is a CA certificate (basic constraints CA:TRUE), not one \
             issued to a system"
                .to_owned()
        }
        webpki::Error::EndEntityUsedAsCa => {
            "the certificate chain uses a system's certificate as the issuer of another; send \
             only your own certificate"
                .to_owned()
        }
        webpki::Error::EmptyEkuExtension => {
            "the client certificate is not for client authentication: its extended key usage \
             does not include clientAuth"
                .to_owned()
        }
        webpki::Error::UnsupportedCertVersion => {
            "the client certificate is not an X.509 version 3 certificate".to_owned()
        }
        webpki::Error::UnsupportedCriticalExtension => {
            "the client certificate carries a critical extension SSP does not understand".to_owned()
        }
        webpki::Error::MaximumPathDepthExceeded | webpki::Error::MaximumPathBuildCallsExceeded => {
            "the certificate chain is longer than SSP follows; send only your own certificate"
                .to_owned()
        }
        webpki::Error::BadDer
        | webpki::Error::BadDerTime
        | webpki::Error::TrailingData(_)
        | webpki::Error::ExtensionValueInvalid
        | webpki::Error::InvalidSerialNumber => {
            "the client certificate is not a well-formed X.509 certificate".to_owned()
        }
        other => format!("the client certificate is not acceptable ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifiers::OdsCode;
    use crate::pki::{Authority, ClientSystem, Validity};

    fn system() -> ClientSystem {
        ClientSystem {
            asid: Asid::parse("200000000359").unwrap(),
            ods: OdsCode::parse("GPCA0001").unwrap(),
            name: None,
        }
    }

    fn verifier_for(ca: &Authority) -> DeferredClientVerifier {
        let here = Path::new("<memory>");
        let roots = roots_from(
            certs_from_pem(ca.cert_pem().as_bytes(), here).unwrap(),
            here,
        )
        .unwrap();
        let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .unwrap();
        DeferredClientVerifier { inner }
    }

    fn cert_of(pem: &str) -> Vec<CertificateDer<'static>> {
        certs_from_pem(pem.as_bytes(), Path::new("<memory>")).unwrap()
    }

    #[test]
    fn a_good_certificate_yields_its_asid() {
        let ca = Authority::generate("CA", Validity::days_from_today(5)).unwrap();
        let issued = ca
            .issue_client(&system(), Validity::days_from_today(5))
            .unwrap();
        let id = identify_client(
            &verifier_for(&ca),
            Some(&cert_of(&issued.cert_pem)),
            UnixTime::now(),
        );
        match id {
            ClientIdentity::Verified {
                asid, common_name, ..
            } => {
                assert_eq!(asid.unwrap().as_str(), "200000000359");
                assert_eq!(
                    common_name.as_deref(),
                    Some("gpca0001.200000000359.sandbox.spine.local")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expired_and_foreign_certificates_are_rejected_with_reasons() {
        let ca = Authority::generate("CA", Validity::days_from_today(5)).unwrap();
        let other = Authority::generate("Other CA", Validity::days_from_today(5)).unwrap();
        let expired = ca.issue_client(&system(), Validity::expired()).unwrap();
        let foreign = other
            .issue_client(&system(), Validity::days_from_today(5))
            .unwrap();
        let verifier = verifier_for(&ca);
        let reason =
            |pem: &str| match identify_client(&verifier, Some(&cert_of(pem)), UnixTime::now()) {
                ClientIdentity::Rejected { reason, .. } => reason,
                other => panic!("{other:?}"),
            };
        let expired = reason(&expired.cert_pem);
        assert!(expired.contains("expired on"), "{expired}");
        assert!(expired.contains("clients/200000000359.pem"), "{expired}");
        let foreign = reason(&foreign.cert_pem);
        assert!(
            foreign.contains("not issued by the sandbox CA"),
            "{foreign}"
        );
        assert!(foreign.contains("but by CN=Other CA"), "{foreign}");
        assert_eq!(
            identify_client(&verifier, None, UnixTime::now()),
            ClientIdentity::Anonymous
        );
    }

    #[test]
    fn missing_files_are_named() {
        let err = client_config(
            Path::new("/nonexistent/ca.pem"),
            Path::new("a"),
            Path::new("b"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}
