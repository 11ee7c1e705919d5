//! Every client certificate SSP refuses is refused in words: what is wrong with it and which
//! certificate to use instead. The certificates are made here with rcgen, under a CA the test
//! holds (the sandbox is started on a certificates folder with that CA in it).

use chrono::{Datelike, Days, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use serde_json::Value;
use spine_sandbox::Clock;
use spine_sandbox::{Issued, Layout};

use crate::support::worlds::{self, CONSUMER_ASID};
use crate::support::{TestSandbox, diagnostics, temp_dir};

const CA_NAME: &str = "Certificate Test CA";

fn ca_name() -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_NAME);
    name.push(DnType::OrganizationName, "spine-sandbox");
    name
}

/// Valid from `from` to `to` days from today.
fn valid(params: &mut CertificateParams, from: i64, to: i64) {
    let day = |offset: i64| {
        let today = Utc::now().date_naive();
        let d = if offset >= 0 {
            today.checked_add_days(Days::new(offset as u64)).unwrap()
        } else {
            today.checked_sub_days(Days::new((-offset) as u64)).unwrap()
        };
        (d.year(), d.month() as u8, d.day() as u8)
    };
    let (y, m, d) = day(from);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = day(to);
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = ca_name();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    valid(&mut params, -2, 30);
    params
}

/// A CA: its PEM and an issuer to sign with.
fn new_ca() -> (String, String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let params = ca_params();
    let cert = params.self_signed(&key).unwrap();
    let key_pem = key.serialize_pem();
    (cert.pem(), key_pem, Issuer::new(params, key))
}

/// The subject of a consumer system's certificate, for `CONSUMER_ASID`.
fn consumer_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CommonName,
        "gpca0001.200000000359.sandbox.spine.local",
    );
    name.push(
        DnType::CustomDnType(vec![2, 5, 4, 5]),
        DnValue::PrintableString(CONSUMER_ASID.try_into().unwrap()),
    );
    params.distinguished_name = name;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    valid(&mut params, -1, 30);
    params
}

fn issued(params: CertificateParams, by: Option<&Issuer<'static, KeyPair>>) -> Issued {
    let key = KeyPair::generate().unwrap();
    let cert = match by {
        Some(issuer) => params.signed_by(&key, issuer).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// SSP's answer to a metadata request made with `certificate`: (status, diagnostics).
async fn refusal_for(s: &TestSandbox, certificate: &Issued) -> (u16, String) {
    let resp = s.ssp_metadata(&s.ssp_client_presenting(certificate)).await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["issue"][0]["details"]["coding"][0]["display"], "SSL_CERTIFICATE_ERROR",
        "{body:#}"
    );
    (status, diagnostics(&body).to_owned())
}

#[tokio::test]
async fn every_certificate_refusal_says_what_is_wrong_and_what_to_use() {
    let dir = temp_dir("certificate-refusals");
    let (ca_pem, ca_key_pem, ca) = new_ca();
    let layout = Layout::new(&dir);
    std::fs::write(layout.ca_cert(), &ca_pem).unwrap();
    std::fs::write(layout.ca_key(), &ca_key_pem).unwrap();
    let certs_dir = dir.clone();
    let s = TestSandbox::start_world_with(worlds::practices_only(), Clock::system(), move |c| {
        c.certs_dir = certs_dir;
    })
    .await;
    // The sandbox's own certificate for the consumer is accepted.
    let good = Issued {
        cert_pem: std::fs::read_to_string(layout.client_cert(CONSUMER_ASID)).unwrap(),
        key_pem: std::fs::read_to_string(layout.client_key(CONSUMER_ASID)).unwrap(),
    };
    let resp = s.ssp_metadata(&s.ssp_client_presenting(&good)).await;
    assert!(
        ![495, 496].contains(&resp.status().as_u16()),
        "SSP accepts its own certificate"
    );

    let mut self_signed_ca = consumer_params();
    self_signed_ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let mut server_only = consumer_params();
    server_only.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let mut not_yet = consumer_params();
    valid(&mut not_yet, 10, 40);
    let mut issued_ca = consumer_params();
    issued_ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Another CA with the very same name as the sandbox's: its signatures do not verify.
    let (_, _, impostor) = new_ca();
    let cases = [
        (
            "self-signed CA certificate",
            issued(self_signed_ca, None),
            "is self-signed (a CA certificate used as an end entity)",
        ),
        (
            "self-signed leaf",
            issued(consumer_params(), None),
            "is self-signed (it names itself as its issuer)",
        ),
        (
            "a CA certificate issued by the sandbox CA",
            issued(issued_ca, Some(&ca)),
            "is a CA certificate (basic constraints CA:TRUE)",
        ),
        (
            "server-only usage",
            issued(server_only, Some(&ca)),
            "is not for client authentication",
        ),
        (
            "not yet valid",
            issued(not_yet, Some(&ca)),
            "is not valid until",
        ),
        (
            "signed by another CA of the same name",
            issued(consumer_params(), Some(&impostor)),
            "the sandbox CA's key did not sign it",
        ),
    ];
    for (case, certificate, wrong) in cases {
        let (status, d) = refusal_for(&s, &certificate).await;
        assert_eq!(status, 495, "{case}: {d}");
        assert!(d.contains(wrong), "{case}: {d}");
        assert!(
            d.contains(
                "use the certificate the sandbox CA issued for your ASID: clients/200000000359.pem"
            ),
            "{case}: {d}"
        );
        for library_word in ["Other(", "Error", "CaUsedAsEndEntity", "UnknownIssuer"] {
            assert!(!d.contains(library_word), "{case}: {d}");
        }
    }
}
