//! Worlds built in code, for tests that must not depend on a scenario file's contents.

use spine_sandbox::identifiers::{Asid, OdsCode, PartyKey, interactions};
use spine_sandbox::scenario::{Practice, World};

pub const PROVIDER_ODS: &str = "B82617";
pub const PROVIDER_ASID: &str = "918999198738";
pub const BOTH_ODS: &str = "A20047";
pub const BOTH_ASID: &str = "200000000115";
pub const CONSUMER_ODS: &str = "GPCA0001";
pub const CONSUMER_ASID: &str = "200000000359";
/// A consumer whose AS record lists only the structured metadata interaction.
pub const LIMITED_ODS: &str = "LIM0001";
pub const LIMITED_ASID: &str = "200000000777";

pub fn practice(ods: &str, asid: &str, name: &str, provider: bool, sends: &[&str]) -> Practice {
    let ods = OdsCode::parse(ods).unwrap();
    let asid = Asid::parse(asid).unwrap();
    Practice {
        supplier: Default::default(),
        branches: Vec::new(),
        party_key: PartyKey::derived(&ods, &asid),
        ods,
        name: name.to_owned(),
        asid,
        provider,
        interactions: sends.iter().map(|s| (*s).to_owned()).collect(),
        address: None,
        telecom: None,
    }
}

/// Four practices and no patients: a provider, a consumer that is also a provider, a consumer,
/// and a consumer allowed only the structured metadata interaction.
pub fn practices_only() -> World {
    let all = interactions::DEFAULT_ALLOWED;
    World {
        index: Default::default(),
        name: Some("SSP test world".into()),
        description: None,
        start_day: super::start_day(),
        practices: vec![
            practice(
                PROVIDER_ODS,
                PROVIDER_ASID,
                "Old Street Surgery",
                true,
                &all,
            ),
            practice(BOTH_ODS, BOTH_ASID, "Both Ways Practice", true, &all),
            practice(
                CONSUMER_ODS,
                CONSUMER_ASID,
                "New Road Practice",
                false,
                &all,
            ),
            practice(
                LIMITED_ODS,
                LIMITED_ASID,
                "Metadata Only Practice",
                false,
                &[interactions::STRUCTURED_METADATA],
            ),
        ],
        practitioners: Vec::new(),
        patients: Vec::new(),
        platform: Default::default(),
        pds: Default::default(),
    }
}
