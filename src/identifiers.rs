//! Spine identifiers other than the NHS number: ODS codes, ASIDs, party keys and interaction ids
//! (`docs/README.md`, `docs/ssp.md`).

use std::fmt;

/// An Organisation Data Service code such as `B82617` or `GPCA0001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct OdsCode(String);

impl OdsCode {
    /// ODS codes are 3 to 10 upper-case letters and digits; lower case is refused rather than
    /// folded, because Spine compares them verbatim.
    pub fn parse(s: &str) -> Result<Self, String> {
        if (3..=10).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "ODS code '{s}' must be 3 to 10 upper-case letters or digits"
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An Accredited System Identifier: 12 digits in every Spine example we follow.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Asid(String);

impl Asid {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() == 12 && s.chars().all(|c| c.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!("ASID '{s}' must be exactly 12 digits"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The SDS MHS party key, `<ODS>-<digits>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct PartyKey(String);

impl PartyKey {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.split_once('-') {
            Some((ods, digits))
                if OdsCode::parse(ods).is_ok()
                    && !digits.is_empty()
                    && digits.chars().all(|c| c.is_ascii_digit()) =>
            {
                Ok(Self(s.to_owned()))
            }
            _ => Err(format!(
                "party key '{s}' must be the ODS code, a hyphen and digits (e.g. B82617-806568)"
            )),
        }
    }

    /// The key a practice gets when the scenario names none: stable, so certificates and SDS
    /// answers do not change between runs.
    pub fn derived(ods: &OdsCode, asid: &Asid) -> Self {
        let digits = &asid.as_str()[asid.as_str().len() - 6..];
        Self(format!("{}-{digits}", ods.as_str()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
display_as_str!(OdsCode, Asid, PartyKey);

/// GP Connect interaction ids (`Ssp-InteractionID`), as registered in SDS.
pub mod interactions {
    pub const MIGRATE_STRUCTURED: &str =
        "urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1";
    pub const GET_STRUCTURED: &str =
        "urn:nhs:names:services:gpconnect:fhir:operation:gpc.getstructuredrecord-1";
    pub const MIGRATE_DOCUMENT: &str =
        "urn:nhs:names:services:gpconnect:documents:fhir:rest:migrate:binary-1";
    pub const STRUCTURED_METADATA: &str =
        "urn:nhs:names:services:gpconnect:structured:fhir:rest:read:metadata-1";
    pub const DOCUMENTS_METADATA: &str =
        "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:metadata-1";

    /// What a practice may send through SSP when its scenario entry lists no `interactions`.
    pub const DEFAULT_ALLOWED: [&str; 5] = [
        MIGRATE_STRUCTURED,
        GET_STRUCTURED,
        MIGRATE_DOCUMENT,
        STRUCTURED_METADATA,
        DOCUMENTS_METADATA,
    ];
}

/// A UUID in its 8-4-4-4-12 hexadecimal form, as `X-Request-ID` and Spine resource ids use:
/// `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
pub(crate) fn is_uuid(s: &str) -> bool {
    // One pass: every PDS request's X-Request-ID is checked with this.
    s.len() == 36
        && s.bytes().enumerate().all(|(at, b)| match at {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        assert!(is_uuid("0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e9f"));
        assert!(is_uuid("0D6C2F6E-9B1A-4C77-A0F5-5A3B2C1D0E9F"));
        assert!(!is_uuid("0d6c2f6e9b1a4c77a0f55a3b2c1d0e9f"));
        assert!(!is_uuid("0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e9"));
        assert!(!is_uuid("zd6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e9f"));
        assert!(!is_uuid(""));
        assert_eq!("0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e-f".len(), 36);
        assert!(!is_uuid("0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e-f"));
        assert!(!is_uuid("0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0eé"));
    }

    #[test]
    fn ods_asid_party_key_rules() {
        assert!(OdsCode::parse("B82617").is_ok());
        assert!(OdsCode::parse("GPCA0001").is_ok());
        assert!(OdsCode::parse("b82617").is_err());
        assert!(OdsCode::parse("B8").is_err());
        assert!(Asid::parse("918999198738").is_ok());
        assert!(Asid::parse("91899919873").is_err());
        assert!(Asid::parse("91899919873x").is_err());
        assert!(PartyKey::parse("B82617-806568").is_ok());
        assert!(PartyKey::parse("B82617806568").is_err());
        let ods = OdsCode::parse("A20047").unwrap();
        let asid = Asid::parse("200000000359").unwrap();
        assert_eq!(PartyKey::derived(&ods, &asid).as_str(), "A20047-000359");
    }
}
