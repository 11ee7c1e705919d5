//! More of what a PDS record can hold, resolved: periods, a name suffix, a temporary address,
//! place of birth, history (previous names, addresses and contact details, which PDS searches but
//! never shows on a read) and the patient's EHIC card (`Coverage`).

use super::Address;

/// A telephone number, email, fax or textphone, current or historic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Telecom {
    pub id: Option<String>,
    /// `phone`, `email`, `fax` or `textphone` (FHIR `other` with PDS's other-contact-system
    /// extension).
    pub system: String,
    pub value: String,
    /// `home`, `work`, `temp` or `mobile`.
    pub use_: Option<String>,
    pub period: Option<Period>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Period {
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryAddress {
    pub id: Option<String>,
    pub text: Option<String>,
    pub address: Address,
    pub period: Option<Period>,
    pub keys: Option<AddressKeys>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressKeys {
    pub paf: Option<String>,
    pub uprn: Option<String>,
}

/// PDS's removal reason exit codes.
pub(crate) const REMOVAL_REASONS: [(&str, &str); 6] = [
    ("DEA", "Death"),
    ("EMB", "Embarkation"),
    ("SCT", "Transferred to Scotland"),
    ("NIT", "Transferred to Northern Ireland"),
    ("TRA", "Temporary resident not returned"),
    ("ORR", "Other reason"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// (code, display) from [`REMOVAL_REASONS`].
    pub reason: (&'static str, &'static str),
    pub period: Period,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirthPlace {
    pub city: Option<String>,
    pub district: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoricName {
    pub prefix: Option<String>,
    pub given: Vec<String>,
    pub family: String,
    pub suffix: Vec<String>,
    pub period: Option<Period>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoricAddress {
    pub address: Address,
    pub period: Option<Period>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub card_number: String,
    pub country: String,
    pub institution: String,
    pub personal_id: String,
    pub expires: String,
}

/// The resolved fields; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordDetails {
    pub name_suffix: Vec<String>,
    pub name_period: Option<Period>,
    pub address_period: Option<Period>,
    pub temporary_address: Option<TemporaryAddress>,
    pub birth_place: Option<BirthPlace>,
    pub historic_names: Vec<HistoricName>,
    pub historic_addresses: Vec<HistoricAddress>,
    pub historic_telecom: Vec<Telecom>,
    pub coverage: Option<Coverage>,
    pub address_keys: Option<AddressKeys>,
    pub registered_with_id: Option<String>,
    pub registered_with_period: Option<Period>,
    pub managing_organization_period: Option<Period>,
    pub removal_from_registration: Option<Removal>,
}

/// PDS's rule for EHIC values: letters, digits and `- , / : ' .` and spaces, at most `max` long.
pub(crate) fn ehic_value_ok(value: &str, max: usize) -> bool {
    let v = value.trim();
    !v.is_empty()
        && v.chars().count() <= max
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || " -,/:'.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ehic_values_follow_pds_rules() {
        assert!(ehic_value_ok("29401395498043123948", 25));
        assert!(ehic_value_ok("DE 98735/1", 30));
        assert!(!ehic_value_ok("", 25));
        assert!(!ehic_value_ok("abc!", 25));
        assert!(!ehic_value_ok(&"9".repeat(26), 25));
    }
}
