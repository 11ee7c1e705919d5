//! Worlds built in code, for tests that must not depend on a scenario file's contents.

use spine_sandbox::{Asid, OdsCode, interactions};
use spine_sandbox::{Practice, World};

pub(crate) const PROVIDER_ODS: &str = "B82617";
pub(crate) const PROVIDER_ASID: &str = "918999198738";
pub(crate) const BOTH_ODS: &str = "A20047";
pub(crate) const BOTH_ASID: &str = "200000000115";
pub(crate) const CONSUMER_ODS: &str = "GPCA0001";
pub(crate) const CONSUMER_ASID: &str = "200000000359";
/// A consumer whose AS record lists only the structured metadata interaction.
pub(crate) const LIMITED_ODS: &str = "LIM0001";
pub(crate) const LIMITED_ASID: &str = "200000000777";

pub(crate) fn practice(
    ods: &str,
    asid: &str,
    name: &str,
    provider: bool,
    sends: &[&str],
) -> Practice {
    Practice {
        provider,
        interactions: sends.iter().map(|s| (*s).to_owned()).collect(),
        ..Practice::new(
            OdsCode::parse(ods).unwrap(),
            Asid::parse(asid).unwrap(),
            name,
        )
    }
}

/// Four practices and no patients: a provider, a consumer that is also a provider, a consumer,
/// and a consumer allowed only the structured metadata interaction.
pub(crate) fn practices_only() -> World {
    let all = interactions::DEFAULT_ALLOWED;
    World {
        name: Some("SSP test world".into()),
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
        ..World::empty(super::start_day())
    }
}
