//! The sandbox's development PKI (README.md, "Certificates"): a Spine CA, the SSP server
//! certificate and one client certificate per ASID, made with rcgen (ring), written on demand:
//!
//! | file | what |
//! | --- | --- |
//! | `ca.pem`, `ca-key.pem` | the sandbox's Spine CA (self-signed, 10 years) |
//! | `ssp.pem`, `ssp-key.pem` | SSP's certificate: server auth on the SSP port, client auth towards https providers |
//! | `clients/<ASID>.pem`, `clients/<ASID>-key.pem` | one client certificate per ASID in the scenarios |
//!
//! Keys are ECDSA P-256 in PKCS#8 PEM; leaf certificates last 825 days (the longest some
//! platforms accept for a server certificate issued by a user-trusted CA).
//!
//! # How a client certificate says which system it is
//!
//! Spine issues an endpoint certificate to a system's FQDN, and SSP matches it to the ASID the
//! system is registered under. The sandbox does the same with names it can invent:
//!
//! - subject `CN` = the system's FQDN, `<ods>.<asid>.sandbox.spine.local` in lower case
//!   (e.g. `gpca0001.200000000359.sandbox.spine.local`), also the certificate's only DNS SAN;
//! - subject `serialNumber` (X.520, OID 2.5.4.5) = the ASID, 12 digits. **This is what SSP
//!   reads**: once per connection, from the verified certificate, and compares with `Ssp-From`;
//! - subject `OU` = the ODS code, `O` = the practice name when known;
//! - extended key usage `clientAuth`.
//!
//! # Never overwrite
//!
//! [`ensure`] creates only what is missing: a new ASID gets its certificate without touching
//! the others, and a missing certificate is issued for its existing key when the key is there.
//! It holds a process-wide mutex and an advisory lock on `DIR/.lock` while it works, and writes
//! every file to a temporary name first and renames it into place, so sandboxes starting in
//! parallel (tests) or two processes sharing a folder never see half-written files.

pub(crate) mod der;
pub(crate) mod negative;
pub(crate) mod provider;

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{Days, NaiveDate, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, SanType,
    SerialNumber,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::identifiers::{Asid, OdsCode};
use crate::scenario::World;

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca-key.pem";
pub const SSP_CERT: &str = "ssp.pem";
pub(crate) const SSP_KEY: &str = "ssp-key.pem";
pub(crate) const CLIENTS_DIR: &str = "clients";
/// The domain every sandbox system's FQDN ends in.
pub(crate) const FQDN_DOMAIN: &str = "sandbox.spine.local";
/// The SSP server certificate's common name.
pub(crate) const SSP_COMMON_NAME: &str = "ssp.sandbox.spine.local";
/// The CA's common name (what `openssl x509 -issuer` and TLS clients show).
pub(crate) const CA_COMMON_NAME: &str = "Spine Sandbox Development CA";

/// Leaf certificates' lifetime in days.
const LEAF_DAYS: u64 = 825;
/// The CA's lifetime in days.
const CA_DAYS: u64 = 3650;
/// X.520 `serialNumber` attribute type.
const SERIAL_NUMBER_ARCS: [u64; 4] = [2, 5, 4, 5];

/// Where each file of the PKI lives under a certificates folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join(CA_KEY)
    }
    pub fn ssp_cert(&self) -> PathBuf {
        self.dir.join(SSP_CERT)
    }
    pub fn ssp_key(&self) -> PathBuf {
        self.dir.join(SSP_KEY)
    }
    pub fn clients_dir(&self) -> PathBuf {
        self.dir.join(CLIENTS_DIR)
    }
    pub fn client_cert(&self, asid: &str) -> PathBuf {
        self.clients_dir().join(format!("{asid}.pem"))
    }
    pub fn client_key(&self, asid: &str) -> PathBuf {
        self.clients_dir().join(format!("{asid}-key.pem"))
    }
}

/// A system (one ASID at one practice) that gets a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSystem {
    pub asid: Asid,
    pub ods: OdsCode,
    /// The practice name, written as the subject `O` when known.
    pub name: Option<String>,
}

impl ClientSystem {
    /// The system's FQDN: `<ods>.<asid>.sandbox.spine.local`, lower case.
    pub fn fqdn(&self) -> String {
        system_fqdn(self.ods.as_str(), self.asid.as_str())
    }
}

/// The FQDN the sandbox registers a system under and issues its certificate to.
pub fn system_fqdn(ods: &str, asid: &str) -> String {
    format!("{}.{asid}.{FQDN_DOMAIN}", ods.to_ascii_lowercase())
}

/// Every practice's ASID in the world, in scenario order.
pub(crate) fn client_systems(world: &World) -> Vec<ClientSystem> {
    world
        .practices
        .iter()
        .map(|p| ClientSystem {
            asid: p.asid.clone(),
            ods: p.ods.clone(),
            name: Some(p.name.clone()),
        })
        .collect()
}

/// The names the SSP certificate is issued for: `localhost`, `127.0.0.1`, `::1`, the public
/// URL's host, then `extra`, without duplicates.
pub fn ssp_hosts(public_url: Option<&str>, extra: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let public_host = public_url
        .and_then(|url| url.parse::<http::Uri>().ok())
        .and_then(|uri| uri.host().map(|h| h.trim_matches(['[', ']']).to_owned()));
    for host in public_host.into_iter().chain(extra.iter().cloned()) {
        let host = host.trim().trim_matches(['[', ']']).to_ascii_lowercase();
        if !host.is_empty() && !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}

/// Why the PKI could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot create folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "{key} is missing, so {needed} cannot be issued by {cert}; restore {key}, or delete {dir} \
         to start a fresh PKI (every client will then need the new ca.pem)"
    )]
    CaKeyMissing {
        key: PathBuf,
        cert: PathBuf,
        dir: PathBuf,
        needed: String,
    },
    #[error(
        "{cert} is missing but {others} exist{s}: they were issued by a CA that is gone; restore \
         {cert}, or delete {dir} to start a fresh PKI",
        s = if others.contains(',') { "" } else { "s" }
    )]
    CaMissing {
        cert: PathBuf,
        dir: PathBuf,
        others: String,
    },
    #[error("'{host}' cannot be a certificate name: {message}")]
    Host { host: String, message: String },
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Files written, in the order written.
    pub created: Vec<PathBuf>,
    /// Files that were already there and were left alone.
    pub kept: Vec<PathBuf>,
    /// Problems with kept files that do not stop the sandbox (an expired certificate, an SSP
    /// certificate without a host name asked for).
    pub warnings: Vec<String>,
}

/// A validity period, by calendar day (UTC midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: NaiveDate,
    pub not_after: NaiveDate,
}

impl Validity {
    /// From yesterday (tolerating clock skew) to `days` from today.
    pub fn days_from_today(days: u64) -> Self {
        let today = Utc::now().date_naive();
        Self {
            not_before: today.checked_sub_days(Days::new(1)).unwrap_or(today),
            not_after: today.checked_add_days(Days::new(days)).unwrap_or(today),
        }
    }

    /// A period that ended yesterday (for testing how SSP treats expired certificates).
    pub fn expired() -> Self {
        let today = Utc::now().date_naive();
        Self {
            not_before: today.checked_sub_days(Days::new(30)).unwrap_or(today),
            not_after: today.checked_sub_days(Days::new(1)).unwrap_or(today),
        }
    }

    fn apply(&self, params: &mut CertificateParams) -> Result<(), PkiError> {
        use chrono::Datelike;
        for day in [self.not_before, self.not_after] {
            if !(1..=9999).contains(&day.year()) {
                return Err(PkiError::Invalid {
                    path: PathBuf::new(),
                    message: format!("validity date {day} is out of range"),
                });
            }
        }
        // Components of a valid NaiveDate in years 1..=9999 are always accepted by rcgen.
        let ymd = |d: NaiveDate| (d.year(), d.month() as u8, d.day() as u8);
        let (y, m, d) = ymd(self.not_before);
        params.not_before = rcgen::date_time_ymd(y, m, d);
        let (y, m, d) = ymd(self.not_after);
        params.not_after = rcgen::date_time_ymd(y, m, d);
        Ok(())
    }
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A CA that can issue sandbox certificates: the sandbox's own (loaded from or written to the
/// certificates folder) or, for tests, a separate one whose certificates SSP must refuse.
pub struct Authority {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// A new self-signed CA named `common_name`, in memory.
    pub fn generate(common_name: &str, validity: Validity) -> Result<Self, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = ca_name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(random_serial());
        validity.apply(&mut params)?;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA of a certificates folder (`ca.pem` and `ca-key.pem`).
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let layout = Layout::new(dir);
        let cert_pem = read_text(&layout.ca_cert())?;
        let key_pem = read_text(&layout.ca_key())?;
        Self::from_pem(&cert_pem, &key_pem, &layout.ca_cert())
    }

    /// Rebuilds an issuer from a CA certificate and its key. rcgen signs with the issuer's
    /// name and key identifier, so both are taken from the certificate as written.
    fn from_pem(cert_pem: &str, key_pem: &str, path: &Path) -> Result<Self, PkiError> {
        let invalid = |message: String| PkiError::Invalid {
            path: path.to_owned(),
            message,
        };
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| invalid(format!("no PEM certificate: {e}")))?;
        let info = der::parse_certificate(&der).map_err(|e| invalid(e.to_string()))?;
        if !info.subject_is_simple {
            return Err(invalid(
                "the CA's subject has a multi-valued name component, which the sandbox cannot \
                 issue under"
                    .into(),
            ));
        }
        let mut name = DistinguishedName::new();
        for attribute in &info.subject {
            let arcs = der::oid_arcs(&attribute.oid)
                .ok_or_else(|| invalid("the CA's subject has a malformed attribute type".into()))?;
            let value =
                match attribute.string_tag {
                    0x0c => DnValue::Utf8String(attribute.value.clone()),
                    0x13 => {
                        DnValue::PrintableString(attribute.value.clone().try_into().map_err(
                            |e| invalid(format!("the CA's subject is not printable: {e}")),
                        )?)
                    }
                    0x16 => {
                        DnValue::Ia5String(
                            attribute.value.clone().try_into().map_err(|e| {
                                invalid(format!("the CA's subject is not IA5: {e}"))
                            })?,
                        )
                    }
                    other => {
                        return Err(invalid(format!(
                            "the CA's subject uses string type 0x{other:02x}, which the sandbox \
                         cannot issue under"
                        )));
                    }
                };
            name.push(DnType::CustomDnType(arcs), value);
        }
        let key = KeyPair::from_pem(key_pem)
            .map_err(|e| invalid(format!("the CA key does not load: {e}")))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        if let Some(key_id) = info.subject_key_id {
            params.key_identifier_method = KeyIdMethod::PreSpecified(key_id);
        }
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            issuer: Issuer::new(params, key),
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A client certificate for `system` (identity scheme in the module doc), with a new key.
    pub fn issue_client(
        &self,
        system: &ClientSystem,
        validity: Validity,
    ) -> Result<Issued, PkiError> {
        self.issue_client_for_key(system, validity, KeyPair::generate()?)
    }

    fn issue_client_for_key(
        &self,
        system: &ClientSystem,
        validity: Validity,
        key: KeyPair,
    ) -> Result<Issued, PkiError> {
        let fqdn = system.fqdn();
        let mut params = leaf_params(validity)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, fqdn.clone());
        name.push(
            DnType::CustomDnType(SERIAL_NUMBER_ARCS.to_vec()),
            DnValue::PrintableString(system.asid.as_str().try_into()?),
        );
        name.push(DnType::OrganizationalUnitName, system.ods.as_str());
        if let Some(practice) = &system.name {
            name.push(DnType::OrganizationName, practice.clone());
        }
        params.distinguished_name = name;
        params.subject_alt_names = vec![SanType::DnsName(fqdn.try_into()?)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The SSP certificate for `hosts` (DNS names or IP addresses), with a new key.
    pub fn issue_ssp(&self, hosts: &[String], validity: Validity) -> Result<Issued, PkiError> {
        self.issue_ssp_for_key(hosts, validity, KeyPair::generate()?)
    }

    fn issue_ssp_for_key(
        &self,
        hosts: &[String],
        validity: Validity,
        key: KeyPair,
    ) -> Result<Issued, PkiError> {
        let mut params = leaf_params(validity)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, SSP_COMMON_NAME);
        name.push(DnType::OrganizationName, "spine-sandbox");
        params.distinguished_name = name;
        params.subject_alt_names = hosts.iter().map(|h| san_for(h)).collect::<Result<_, _>>()?;
        // Server on the SSP port; client towards providers that ask for SSP's certificate.
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn ca_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "spine-sandbox");
    name.push(
        DnType::OrganizationalUnitName,
        "Development only - not an NHS certificate",
    );
    name
}

fn leaf_params(validity: Validity) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial());
    validity.apply(&mut params)?;
    Ok(params)
}

fn san_for(host: &str) -> Result<SanType, PkiError> {
    let bare = host.trim_matches(['[', ']']);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let valid = !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
        });
    if !valid {
        return Err(PkiError::Host {
            host: host.to_owned(),
            message: "a host name is dot-separated labels of letters, digits and hyphens".into(),
        });
    }
    Ok(SanType::DnsName(bare.to_ascii_lowercase().try_into()?))
}

/// 16 random bytes, top bit clear so the DER INTEGER stays positive.
fn random_serial() -> SerialNumber {
    let mut bytes = uuid::Uuid::new_v4().into_bytes().to_vec();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

/// Serialises writers of a certificate folder within this process; the file lock covers other
/// processes.
static ENSURE_LOCK: Mutex<()> = Mutex::new(());

/// Runs `write` as the only writer of the folder: a certificate and its key are written as a
/// pair, one writer at a time, in this process ([`ENSURE_LOCK`]) and across processes (a lock
/// on the folder's `.lock` file).
fn locked<T>(layout: &Layout, write: impl FnOnce() -> Result<T, PkiError>) -> Result<T, PkiError> {
    let _in_process = ENSURE_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let lock_path = layout.dir().join(".lock");
    let lock_file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| PkiError::Lock {
            path: lock_path.clone(),
            source,
        })?;
    lock_file.lock().map_err(|source| PkiError::Lock {
        path: lock_path.clone(),
        source,
    })?;
    let result = write();
    let _ = lock_file.unlock();
    result
}

/// Makes sure `dir` holds the CA, the SSP certificate (for `hosts`) and a client certificate
/// for every system, creating only what is missing. Prints nothing: the caller reports.
pub fn ensure(dir: &Path, systems: &[ClientSystem], hosts: &[String]) -> Result<Report, PkiError> {
    for host in hosts {
        san_for(host)?;
    }
    let layout = Layout::new(dir);
    create_dir(layout.dir())?;
    create_dir(&layout.clients_dir())?;
    locked(&layout, || ensure_locked(&layout, systems, hosts))
}

fn ensure_locked(
    layout: &Layout,
    systems: &[ClientSystem],
    hosts: &[String],
) -> Result<Report, PkiError> {
    let mut report = Report::default();
    let ca_cert = layout.ca_cert();
    let ca_key = layout.ca_key();

    let ssp_missing = !layout.ssp_cert().exists();
    let missing_clients: Vec<&ClientSystem> = systems
        .iter()
        .filter(|s| !layout.client_cert(s.asid.as_str()).exists())
        .collect();

    let authority = match (ca_cert.exists(), ca_key.exists()) {
        (true, true) => {
            report.kept.push(ca_cert.clone());
            report.kept.push(ca_key.clone());
            if ssp_missing || !missing_clients.is_empty() {
                Some(Authority::load(layout.dir())?)
            } else {
                None
            }
        }
        (true, false) => {
            report.kept.push(ca_cert.clone());
            let mut needed: Vec<String> = Vec::new();
            if ssp_missing {
                needed.push(SSP_CERT.to_owned());
            }
            needed.extend(
                missing_clients
                    .iter()
                    .map(|s| format!("{CLIENTS_DIR}/{}.pem", s.asid)),
            );
            if !needed.is_empty() {
                return Err(PkiError::CaKeyMissing {
                    key: ca_key,
                    cert: ca_cert,
                    dir: layout.dir().to_owned(),
                    needed: needed.join(", "),
                });
            }
            None
        }
        (false, key_exists) => {
            let mut others: Vec<String> = Vec::new();
            if key_exists {
                others.push(CA_KEY.to_owned());
            }
            if !ssp_missing {
                others.push(SSP_CERT.to_owned());
            }
            others.extend(
                systems
                    .iter()
                    .filter(|s| layout.client_cert(s.asid.as_str()).exists())
                    .map(|s| format!("{CLIENTS_DIR}/{}.pem", s.asid)),
            );
            if !others.is_empty() {
                return Err(PkiError::CaMissing {
                    cert: ca_cert,
                    dir: layout.dir().to_owned(),
                    others: others.join(", "),
                });
            }
            let authority =
                Authority::generate(CA_COMMON_NAME, Validity::days_from_today(CA_DAYS))?;
            write_private(&ca_key, authority.key_pem())?;
            report.created.push(ca_key);
            write_public(&ca_cert, authority.cert_pem())?;
            report.created.push(ca_cert);
            Some(authority)
        }
    };

    let validity = Validity::days_from_today(LEAF_DAYS);
    if ssp_missing {
        if let Some(ca) = &authority {
            let key = existing_or_new_key(&layout.ssp_key(), &mut report)?;
            let issued = ca.issue_ssp_for_key(hosts, validity, key.0)?;
            if key.1 {
                write_private(&layout.ssp_key(), &issued.key_pem)?;
                report.created.push(layout.ssp_key());
            }
            write_public(&layout.ssp_cert(), &issued.cert_pem)?;
            report.created.push(layout.ssp_cert());
        }
    } else {
        report.kept.push(layout.ssp_cert());
        keep_if_present(&layout.ssp_key(), &mut report);
        check_ssp_hosts(&layout.ssp_cert(), hosts, &mut report)?;
    }

    for system in systems {
        let cert_path = layout.client_cert(system.asid.as_str());
        let key_path = layout.client_key(system.asid.as_str());
        if !missing_clients.contains(&system) {
            report.kept.push(cert_path.clone());
            keep_if_present(&key_path, &mut report);
            check_expiry(&cert_path, &mut report)?;
            continue;
        }
        let Some(ca) = &authority else { continue };
        let key = existing_or_new_key(&key_path, &mut report)?;
        let issued = ca.issue_client_for_key(system, validity, key.0)?;
        if key.1 {
            write_private(&key_path, &issued.key_pem)?;
            report.created.push(key_path);
        }
        write_public(&cert_path, &issued.cert_pem)?;
        report.created.push(cert_path);
    }
    Ok(report)
}

fn keep_if_present(path: &Path, report: &mut Report) {
    if path.exists() {
        report.kept.push(path.to_owned());
    }
}

/// The key at `path` when there is one (kept), or a new one to be written (`true`).
fn existing_or_new_key(path: &Path, report: &mut Report) -> Result<(KeyPair, bool), PkiError> {
    if path.exists() {
        let pem = read_text(path)?;
        let key = KeyPair::from_pem(&pem).map_err(|e| PkiError::Invalid {
            path: path.to_owned(),
            message: format!("the private key does not load: {e}"),
        })?;
        report.kept.push(path.to_owned());
        Ok((key, false))
    } else {
        Ok((KeyPair::generate()?, true))
    }
}

/// Reads a kept certificate's subject, names and validity.
pub fn read_certificate(path: &Path) -> Result<der::CertInfo, PkiError> {
    let pem = read_text(path)?;
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| PkiError::Invalid {
        path: path.to_owned(),
        message: format!("no PEM certificate: {e}"),
    })?;
    der::parse_certificate(&der).map_err(|e| PkiError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn check_expiry(path: &Path, report: &mut Report) -> Result<der::CertInfo, PkiError> {
    let info = read_certificate(path)?;
    if let Some(not_after) = info.not_after
        && not_after < Utc::now()
    {
        report.warnings.push(format!(
            "{} expired on {}; delete it (and its key) to have a new one issued at the next start",
            path.display(),
            not_after.format("%Y-%m-%d")
        ));
    }
    Ok(info)
}

fn check_ssp_hosts(path: &Path, hosts: &[String], report: &mut Report) -> Result<(), PkiError> {
    let info = check_expiry(path, report)?;
    let missing: Vec<&String> = hosts
        .iter()
        .filter(|h| match h.parse::<IpAddr>() {
            Ok(ip) => !info.ip_addresses.contains(&ip),
            Err(_) => !info.dns_names.iter().any(|d| d.eq_ignore_ascii_case(h)),
        })
        .collect();
    if !missing.is_empty() {
        report.warnings.push(format!(
            "{} was not issued for {}; clients using that name will refuse SSP's certificate. \
             Delete {} and {} to have it issued again for every host",
            path.display(),
            missing
                .iter()
                .map(|h| h.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            SSP_CERT,
            SSP_KEY
        ));
    }
    Ok(())
}

fn create_dir(path: &Path) -> Result<(), PkiError> {
    fs::create_dir_all(path).map_err(|source| PkiError::CreateDir {
        path: path.to_owned(),
        source,
    })
}

fn read_text(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Read {
        path: path.to_owned(),
        source,
    })
}

fn write_public(path: &Path, contents: &str) -> Result<(), PkiError> {
    write_atomically(path, contents, false)
}

fn write_private(path: &Path, contents: &str) -> Result<(), PkiError> {
    write_atomically(path, contents, true)
}

/// Writes to a temporary file beside `path` and renames it into place, so a reader sees the
/// whole file or none.
fn write_atomically(path: &Path, contents: &str, private: bool) -> Result<(), PkiError> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.{}.{n}.tmp", std::process::id()));
    let error = |source| PkiError::Write {
        path: path.to_owned(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&temp).map_err(error)?;
    let written = file
        .write_all(contents.as_bytes())
        .and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| fs::rename(&temp, path)) {
        let _ = fs::remove_file(&temp);
        return Err(error(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(ods: &str, asid: &str) -> ClientSystem {
        ClientSystem {
            asid: Asid::parse(asid).unwrap(),
            ods: OdsCode::parse(ods).unwrap(),
            name: Some("Test Surgery".into()),
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "spine-sandbox-pki-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn fqdn_is_lower_case_ods_then_asid() {
        assert_eq!(
            system("GPCA0001", "200000000359").fqdn(),
            "gpca0001.200000000359.sandbox.spine.local"
        );
    }

    #[test]
    fn ssp_hosts_start_with_loopback_and_add_public_host_once() {
        let hosts = ssp_hosts(
            Some("http://Sandbox.Example:8080"),
            &["sandbox.example".into(), "10.0.0.5".into(), "[::2]".into()],
        );
        assert_eq!(
            hosts,
            vec![
                "localhost",
                "127.0.0.1",
                "::1",
                "sandbox.example",
                "10.0.0.5",
                "::2"
            ]
        );
        assert_eq!(ssp_hosts(Some("http://[::1]:80"), &[]).len(), 3);
    }

    #[test]
    fn client_certificate_carries_the_asid_in_serial_number_and_fqdn_in_cn() {
        let ca = Authority::generate("Test CA", Validity::days_from_today(10)).unwrap();
        let issued = ca
            .issue_client(
                &system("B82617", "918999198738"),
                Validity::days_from_today(5),
            )
            .unwrap();
        let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
        let info = der::parse_certificate(&der).unwrap();
        assert_eq!(
            info.subject_attribute(der::OID_SERIAL_NUMBER),
            Some("918999198738")
        );
        assert_eq!(
            info.subject_attribute(der::OID_COMMON_NAME),
            Some("b82617.918999198738.sandbox.spine.local")
        );
        assert_eq!(
            info.dns_names,
            vec!["b82617.918999198738.sandbox.spine.local"]
        );
        assert!(info.not_after.unwrap() > Utc::now());
    }

    #[test]
    fn a_reloaded_ca_issues_under_the_same_name_and_key_id() {
        let ca = Authority::generate("Reload CA", Validity::days_from_today(10)).unwrap();
        let ca_info = der::parse_certificate(
            &CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).unwrap(),
        )
        .unwrap();
        let reloaded = Authority::from_pem(ca.cert_pem(), ca.key_pem(), Path::new("x")).unwrap();
        let leaf = reloaded
            .issue_ssp(&["localhost".into()], Validity::days_from_today(1))
            .unwrap();
        let leaf_der = CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap();
        // The leaf's issuer name is the CA's subject, byte for byte.
        let needle = &ca_info.subject_der;
        assert!(
            leaf_der
                .windows(needle.len())
                .any(|w| w == needle.as_slice()),
            "issuer name differs from the CA subject"
        );
        assert!(ca_info.subject_key_id.is_some());
    }

    #[test]
    fn ensure_creates_once_and_adds_only_a_new_asid() {
        let dir = temp_dir("ensure");
        let hosts = ssp_hosts(None, &[]);
        let first = ensure(&dir, &[system("B82617", "918999198738")], &hosts).unwrap();
        assert_eq!(first.created.len(), 6, "{first:?}");
        let ca_before = fs::read(dir.join(CA_CERT)).unwrap();
        let client_before = fs::read(dir.join("clients/918999198738.pem")).unwrap();

        let second = ensure(
            &dir,
            &[
                system("B82617", "918999198738"),
                system("GPCA0001", "200000000359"),
            ],
            &hosts,
        )
        .unwrap();
        assert_eq!(
            second.created,
            vec![
                dir.join("clients/200000000359-key.pem"),
                dir.join("clients/200000000359.pem")
            ]
        );
        assert_eq!(fs::read(dir.join(CA_CERT)).unwrap(), ca_before);
        assert_eq!(
            fs::read(dir.join("clients/918999198738.pem")).unwrap(),
            client_before
        );
        assert!(second.warnings.is_empty(), "{:?}", second.warnings);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_ca_key_is_a_clear_error_only_when_something_must_be_issued() {
        let dir = temp_dir("nokey");
        let hosts = ssp_hosts(None, &[]);
        ensure(&dir, &[system("B82617", "918999198738")], &hosts).unwrap();
        fs::remove_file(dir.join(CA_KEY)).unwrap();
        // Nothing to issue: fine.
        ensure(&dir, &[system("B82617", "918999198738")], &hosts).unwrap();
        let err = ensure(&dir, &[system("GPCA0001", "200000000359")], &hosts)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ca-key.pem is missing"), "{err}");
        assert!(err.contains("clients/200000000359.pem"), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_ca_with_leaves_left_is_an_error() {
        let dir = temp_dir("noca");
        let hosts = ssp_hosts(None, &[]);
        ensure(&dir, &[], &hosts).unwrap();
        fs::remove_file(dir.join(CA_CERT)).unwrap();
        fs::remove_file(dir.join(CA_KEY)).unwrap();
        let err = ensure(&dir, &[], &hosts).unwrap_err().to_string();
        assert!(
            err.contains("ca.pem is missing but ssp.pem exists"),
            "{err}"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_kept_ssp_certificate_without_a_host_is_a_warning() {
        let dir = temp_dir("hosts");
        ensure(&dir, &[], &ssp_hosts(None, &[])).unwrap();
        let report = ensure(&dir, &[], &ssp_hosts(Some("http://sandbox.test"), &[])).unwrap();
        assert_eq!(report.warnings.len(), 1);
        assert!(report.warnings[0].contains("sandbox.test"));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_host_names_are_refused() {
        assert!(san_for("exa mple").is_err());
        assert!(san_for("").is_err());
        assert!(matches!(san_for("[::1]"), Ok(SanType::IpAddress(_))));
    }
}
