//! Just enough DER to read what the sandbox needs from an X.509 certificate: the subject name
//! (its raw bytes and its attributes), the subject alternative names and the validity period.
//!
//! Certificates reaching this code have either been made by [`crate::pki`] or already passed
//! webpki's chain verification, so this is a reader for well-formed input that still refuses,
//! rather than panics on, anything malformed. It reads single-byte tags and definite lengths only,
//! which is all DER allows for the fields read here.

use std::net::IpAddr;

/// `id-at-commonName` (2.5.4.3).
pub const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
/// `id-at-serialNumber` (2.5.4.5): where a sandbox client certificate carries its ASID.
pub const OID_SERIAL_NUMBER: &[u8] = &[0x55, 0x04, 0x05];
/// `id-ce-subjectAltName` (2.5.29.17).
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
/// `id-ce-subjectKeyIdentifier` (2.5.29.14).
const OID_SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];

const TAG_BOOLEAN: u8 = 0x01;
const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_VERSION: u8 = 0xa0;
const TAG_EXTENSIONS: u8 = 0xa3;
const TAG_SAN_DNS: u8 = 0x82;
const TAG_SAN_IP: u8 = 0x87;

/// What could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed certificate: {0}")]
pub struct DerError(&'static str);

/// One attribute of a distinguished name, e.g. `CN=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute type's OID content bytes (without tag and length).
    pub oid: Vec<u8>,
    /// The string type's DER tag (UTF8String 0x0c, PrintableString 0x13, IA5String 0x16, ...).
    pub string_tag: u8,
    pub value: String,
}

/// The parts of a certificate the sandbox reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The whole subject `Name` (tag, length and content), as issuers' names are compared.
    pub subject_der: Vec<u8>,
    /// Subject attributes in order; each RDN is expected to hold one attribute.
    pub subject: Vec<Attribute>,
    /// Whether every RDN of the subject holds exactly one attribute (what rcgen can reproduce).
    pub subject_is_simple: bool,
    /// The whole issuer `Name`; equal to `subject_der` when the certificate is self-issued.
    pub issuer_der: Vec<u8>,
    pub issuer: Vec<Attribute>,
    pub not_before: Option<chrono::DateTime<chrono::Utc>>,
    pub not_after: Option<chrono::DateTime<chrono::Utc>>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    /// The subject key identifier, which certificates it issues name as their authority key id.
    pub subject_key_id: Option<Vec<u8>>,
}

impl CertInfo {
    /// The first subject attribute of the given type.
    pub fn subject_attribute(&self, oid: &[u8]) -> Option<&str> {
        self.subject
            .iter()
            .find(|a| a.oid == oid)
            .map(|a| a.value.as_str())
    }

    /// `CN=..., serialNumber=...` for messages.
    pub fn subject_summary(&self) -> String {
        summary(&self.subject)
    }

    /// The issuer as `CN=...` for messages.
    pub fn issuer_summary(&self) -> String {
        summary(&self.issuer)
    }

    /// Whether the certificate names itself as its issuer (a self-signed certificate).
    pub fn is_self_issued(&self) -> bool {
        self.issuer_der == self.subject_der
    }
}

fn summary(name: &[Attribute]) -> String {
    name.iter()
        .map(|a| format!("{}={}", attribute_name(&a.oid), a.value))
        .collect::<Vec<_>>()
        .join(", ")
}

fn attribute_name(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".to_owned(),
        [0x55, 0x04, 0x05] => "serialNumber".to_owned(),
        [0x55, 0x04, 0x06] => "C".to_owned(),
        [0x55, 0x04, 0x07] => "L".to_owned(),
        [0x55, 0x04, 0x08] => "ST".to_owned(),
        [0x55, 0x04, 0x0a] => "O".to_owned(),
        [0x55, 0x04, 0x0b] => "OU".to_owned(),
        other => format!(
            "OID({})",
            other.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
    }
}

/// One TLV: its tag, its content, the whole encoding, and what follows it.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
    rest: &'a [u8],
}

fn read(input: &[u8]) -> Result<Tlv<'_>, DerError> {
    let (&tag, after_tag) = input.split_first().ok_or(DerError("truncated tag"))?;
    if tag & 0x1f == 0x1f {
        return Err(DerError("multi-byte tags are not supported"));
    }
    let (&first, after_len) = after_tag
        .split_first()
        .ok_or(DerError("truncated length"))?;
    let (len, header_rest) = if first < 0x80 {
        (usize::from(first), after_len)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || after_len.len() < count {
            return Err(DerError("unsupported or truncated length"));
        }
        let (len_bytes, rest) = after_len.split_at(count);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    if header_rest.len() < len {
        return Err(DerError("content shorter than its length"));
    }
    let header_len = input.len() - header_rest.len();
    let (content, rest) = header_rest.split_at(len);
    Ok(Tlv {
        tag,
        content,
        whole: &input[..header_len + len],
        rest,
    })
}

fn read_tag<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<Tlv<'a>, DerError> {
    let tlv = read(input)?;
    if tlv.tag == tag {
        Ok(tlv)
    } else {
        Err(DerError(what))
    }
}

/// Reads a certificate (DER).
pub fn parse_certificate(der: &[u8]) -> Result<CertInfo, DerError> {
    let cert = read_tag(der, TAG_SEQUENCE, "certificate is not a SEQUENCE")?;
    let tbs = read_tag(
        cert.content,
        TAG_SEQUENCE,
        "tbsCertificate is not a SEQUENCE",
    )?;
    let mut cursor = tbs.content;
    let first = read(cursor)?;
    if first.tag == TAG_VERSION {
        cursor = first.rest;
    }
    let serial = read_tag(cursor, TAG_INTEGER, "serialNumber is not an INTEGER")?;
    let signature = read_tag(serial.rest, TAG_SEQUENCE, "signature is not a SEQUENCE")?;
    let issuer = read_tag(signature.rest, TAG_SEQUENCE, "issuer is not a SEQUENCE")?;
    let validity = read_tag(issuer.rest, TAG_SEQUENCE, "validity is not a SEQUENCE")?;
    let subject = read_tag(validity.rest, TAG_SEQUENCE, "subject is not a SEQUENCE")?;
    let spki = read_tag(
        subject.rest,
        TAG_SEQUENCE,
        "subjectPublicKeyInfo is not a SEQUENCE",
    )?;

    let not_before = read(validity.content)?;
    let not_after = read(not_before.rest)?;
    let (attributes, simple) = parse_name(subject.content)?;
    let (issuer_attributes, _) = parse_name(issuer.content)?;

    let mut info = CertInfo {
        subject_der: subject.whole.to_vec(),
        subject: attributes,
        subject_is_simple: simple,
        issuer_der: issuer.whole.to_vec(),
        issuer: issuer_attributes,
        not_before: parse_time(&not_before),
        not_after: parse_time(&not_after),
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        subject_key_id: None,
    };

    let mut cursor = spki.rest;
    while !cursor.is_empty() {
        let field = read(cursor)?;
        cursor = field.rest;
        if field.tag != TAG_EXTENSIONS {
            continue;
        }
        let list = read_tag(field.content, TAG_SEQUENCE, "extensions are not a SEQUENCE")?;
        let mut exts = list.content;
        while !exts.is_empty() {
            let ext = read_tag(exts, TAG_SEQUENCE, "extension is not a SEQUENCE")?;
            exts = ext.rest;
            let oid = read_tag(ext.content, TAG_OID, "extension id is not an OID")?;
            let mut value = read(oid.rest)?;
            if value.tag == TAG_BOOLEAN {
                value = read(value.rest)?;
            }
            if value.tag != TAG_OCTET_STRING {
                return Err(DerError("extension value is not an OCTET STRING"));
            }
            if oid.content == OID_SUBJECT_ALT_NAME {
                read_subject_alt_names(value.content, &mut info)?;
            } else if oid.content == OID_SUBJECT_KEY_ID {
                let key_id = read_tag(
                    value.content,
                    TAG_OCTET_STRING,
                    "key id is not an OCTET STRING",
                )?;
                info.subject_key_id = Some(key_id.content.to_vec());
            }
        }
    }
    Ok(info)
}

/// The arcs of an OID from its content bytes (`55 04 03` is 2.5.4.3).
pub(crate) fn oid_arcs(bytes: &[u8]) -> Option<Vec<u64>> {
    let mut arcs = Vec::new();
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        if value > (u64::MAX >> 7) {
            return None;
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i + 1 == bytes.len() {
            return None;
        }
    }
    (!arcs.is_empty()).then_some(arcs)
}

fn parse_name(mut rdns: &[u8]) -> Result<(Vec<Attribute>, bool), DerError> {
    let mut attributes = Vec::new();
    let mut simple = true;
    while !rdns.is_empty() {
        let set = read_tag(rdns, TAG_SET, "name component is not a SET")?;
        rdns = set.rest;
        let mut inner = set.content;
        let mut count = 0;
        while !inner.is_empty() {
            let pair = read_tag(inner, TAG_SEQUENCE, "attribute is not a SEQUENCE")?;
            inner = pair.rest;
            let oid = read_tag(pair.content, TAG_OID, "attribute type is not an OID")?;
            let value = read(oid.rest)?;
            attributes.push(Attribute {
                oid: oid.content.to_vec(),
                string_tag: value.tag,
                value: String::from_utf8_lossy(value.content).into_owned(),
            });
            count += 1;
        }
        simple &= count == 1;
    }
    Ok((attributes, simple))
}

fn read_subject_alt_names(value: &[u8], info: &mut CertInfo) -> Result<(), DerError> {
    let names = read_tag(value, TAG_SEQUENCE, "subjectAltName is not a SEQUENCE")?;
    let mut cursor = names.content;
    while !cursor.is_empty() {
        let name = read(cursor)?;
        cursor = name.rest;
        match name.tag {
            TAG_SAN_DNS => info
                .dns_names
                .push(String::from_utf8_lossy(name.content).into_owned()),
            TAG_SAN_IP => {
                if let Ok(v4) = <[u8; 4]>::try_from(name.content) {
                    info.ip_addresses.push(IpAddr::from(v4));
                } else if let Ok(v6) = <[u8; 16]>::try_from(name.content) {
                    info.ip_addresses.push(IpAddr::from(v6));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_time(tlv: &Tlv<'_>) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = std::str::from_utf8(tlv.content).ok()?;
    let full = match tlv.tag {
        // RFC 5280: YY >= 50 is 19YY, otherwise 20YY.
        TAG_UTC_TIME => {
            let yy: u32 = text.get(..2)?.parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{text}")
        }
        TAG_GENERALIZED_TIME => text.to_owned(),
        _ => return None,
    };
    chrono::NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        assert!(parse_certificate(&[]).is_err());
        assert!(parse_certificate(&[0x30]).is_err());
        assert!(parse_certificate(&[0x30, 0x82, 0xff]).is_err());
        assert!(parse_certificate(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01]).is_err());
        assert!(parse_certificate(&[0x1f, 0x00]).is_err());
    }

    #[test]
    fn oid_arcs_decode_multi_byte_arcs() {
        assert_eq!(oid_arcs(&[0x55, 0x04, 0x05]), Some(vec![2, 5, 4, 5]));
        // 1.2.840.113549
        assert_eq!(
            oid_arcs(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
            Some(vec![1, 2, 840, 113_549])
        );
        assert_eq!(oid_arcs(&[0x86]), None);
        assert_eq!(oid_arcs(&[]), None);
    }

    #[test]
    fn utc_time_uses_the_rfc_5280_century_rule() {
        let tlv = Tlv {
            tag: TAG_UTC_TIME,
            content: b"491231235959Z",
            whole: &[],
            rest: &[],
        };
        let t = parse_time(&tlv).unwrap();
        assert_eq!(t.to_rfc3339(), "2049-12-31T23:59:59+00:00");
        let tlv = Tlv {
            tag: TAG_UTC_TIME,
            content: b"500101000000Z",
            whole: &[],
            rest: &[],
        };
        assert_eq!(
            parse_time(&tlv).unwrap().to_rfc3339(),
            "1950-01-01T00:00:00+00:00"
        );
    }
}
