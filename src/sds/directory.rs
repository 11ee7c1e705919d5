//! The directory SDS answers from (`docs/sds.md`): one AS (Device) record
//! per practice ASID and, for provider practices, one MHS (Endpoint) record per GP Connect
//! interaction they serve, each at the service root the README gives ("URLs").

use std::sync::Arc;

use crate::identifiers::interactions;
use crate::scenario::World;

/// An MHS record: where a practice serves one interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdsEndpoint {
    pub ods: String,
    pub asid: String,
    pub party_key: String,
    pub interaction: String,
    /// The FHIR service root, exactly as SDS returns it and SSP compares it.
    pub address: String,
}

/// An AS record: a system at a practice and the interactions it may send and receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdsDevice {
    pub ods: String,
    pub name: String,
    pub asid: String,
    pub party_key: String,
    /// Interactions this ASID may send (the practice's `interactions`).
    pub sends: Vec<String>,
    /// Interactions this ASID is registered to receive (providers only).
    pub receives: Vec<String>,
}

#[derive(Clone, Default)]
pub struct SdsDirectory {
    endpoints: Arc<Vec<SdsEndpoint>>,
    devices: Arc<Vec<SdsDevice>>,
}

/// The interactions a provider practice is registered for, with the service root each lives at.
pub(crate) fn provider_interactions() -> [(&'static str, &'static str); 5] {
    [
        (interactions::MIGRATE_STRUCTURED, "structured"),
        (interactions::GET_STRUCTURED, "structured"),
        (interactions::STRUCTURED_METADATA, "structured"),
        (interactions::MIGRATE_DOCUMENT, "documents"),
        (interactions::DOCUMENTS_METADATA, "documents"),
    ]
}

impl SdsDirectory {
    pub fn new(world: &World, public_url: &str) -> Self {
        let mut endpoints = Vec::new();
        let mut devices = Vec::new();
        for p in &world.practices {
            let mut receives = Vec::new();
            if p.provider {
                for (interaction, capability) in provider_interactions() {
                    // An external provider is advertised at its own URLs, and only for the
                    // capabilities it names.
                    let address = match &p.external {
                        Some(external) => match external.base(capability) {
                            Some(base) => base.to_owned(),
                            None => continue,
                        },
                        None => {
                            format!("{public_url}/{}/STU3/1/gpconnect/{capability}/fhir", p.ods)
                        }
                    };
                    endpoints.push(SdsEndpoint {
                        ods: p.ods.as_str().to_owned(),
                        asid: p.asid.as_str().to_owned(),
                        party_key: p.party_key.as_str().to_owned(),
                        interaction: interaction.to_owned(),
                        address,
                    });
                    receives.push(interaction.to_owned());
                }
            }
            devices.push(SdsDevice {
                ods: p.ods.as_str().to_owned(),
                name: p.name.clone(),
                asid: p.asid.as_str().to_owned(),
                party_key: p.party_key.as_str().to_owned(),
                sends: p.interactions.clone(),
                receives,
            });
        }
        Self {
            endpoints: Arc::new(endpoints),
            devices: Arc::new(devices),
        }
    }

    /// The endpoint of practice `ods` for `interaction`, if it serves it.
    pub fn endpoint(&self, ods: &str, interaction: &str) -> Option<&SdsEndpoint> {
        self.endpoints
            .iter()
            .find(|e| e.ods == ods && e.interaction == interaction)
    }

    /// The endpoint registered for receiver `asid` and `interaction` (what SSP routes by).
    pub fn endpoint_for_asid(&self, asid: &str, interaction: &str) -> Option<&SdsEndpoint> {
        self.endpoints
            .iter()
            .find(|e| e.asid == asid && e.interaction == interaction)
    }

    pub fn endpoints(&self) -> &[SdsEndpoint] {
        &self.endpoints
    }

    pub fn device(&self, asid: &str) -> Option<&SdsDevice> {
        self.devices.iter().find(|d| d.asid == asid)
    }

    pub fn devices(&self) -> &[SdsDevice] {
        &self.devices
    }

    /// The MHS records an LDAP `(objectClass=nhsMhs)` search with these attributes would find:
    /// every criterion given must match (ODS codes and party keys ignore case, as LDAP does).
    pub fn find_endpoints(
        &self,
        ods: Option<&str>,
        interaction: Option<&str>,
        party_key: Option<&str>,
    ) -> Vec<&SdsEndpoint> {
        self.endpoints
            .iter()
            .filter(|e| ods.is_none_or(|o| e.ods.eq_ignore_ascii_case(o)))
            .filter(|e| interaction.is_none_or(|i| e.interaction == i))
            .filter(|e| party_key.is_none_or(|k| e.party_key.eq_ignore_ascii_case(k)))
            .collect()
    }

    /// The AS records of organisation `ods` carrying `interaction` (sent or received), optionally
    /// with this party key: LDAP `(&(nhsIDCode=..)(objectClass=nhsAs)(nhsAsSvcIA=..))`.
    pub fn find_devices(
        &self,
        ods: &str,
        interaction: &str,
        party_key: Option<&str>,
    ) -> Vec<&SdsDevice> {
        self.devices
            .iter()
            .filter(|d| d.ods.eq_ignore_ascii_case(ods))
            .filter(|d| d.interactions().any(|i| i == interaction))
            .filter(|d| party_key.is_none_or(|k| d.party_key.eq_ignore_ascii_case(k)))
            .collect()
    }
}

impl SdsEndpoint {
    /// The MHS record's `uniqueIdentifier`: stable per (party key, interaction), 20 hex digits
    /// like the ids Spine hands out, so it survives restarts.
    pub fn mhs_id(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self
            .party_key
            .bytes()
            .chain([0])
            .chain(self.interaction.bytes())
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{hash:016x}{:04x}", hash >> 48)
    }

    /// `nhsMhsFQDN`: the host of the service root.
    pub fn fqdn(&self) -> Option<&str> {
        let rest = self.address.split_once("://")?.1;
        let authority = rest.split('/').next()?;
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        (!host.is_empty()).then_some(host)
    }
}

impl SdsDevice {
    /// `nhsAsSvcIA`: every interaction on the AS record, sent or received, each once.
    pub fn interactions(&self) -> impl Iterator<Item = &str> {
        self.sends.iter().map(String::as_str).chain(
            self.receives
                .iter()
                .map(String::as_str)
                .filter(|r| !self.sends.iter().any(|s| s == r)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(address: &str) -> SdsEndpoint {
        SdsEndpoint {
            ods: "B82617".into(),
            asid: "918999198738".into(),
            party_key: "B82617-806568".into(),
            interaction: interactions::MIGRATE_STRUCTURED.into(),
            address: address.into(),
        }
    }

    #[test]
    fn fqdn_is_the_host_of_the_service_root() {
        let e = endpoint("http://localhost:8080/B82617/STU3/1/gpconnect/structured/fhir");
        assert_eq!(e.fqdn(), Some("localhost"));
        let e = endpoint("https://orange.testlab.nhs.uk/B82617/STU3/1/gpconnect/");
        assert_eq!(e.fqdn(), Some("orange.testlab.nhs.uk"));
        assert_eq!(endpoint("not a url").fqdn(), None);
    }

    #[test]
    fn mhs_ids_are_stable_and_distinct_per_interaction() {
        let a = endpoint("x");
        let mut b = endpoint("x");
        b.interaction = interactions::MIGRATE_DOCUMENT.into();
        assert_eq!(a.mhs_id(), endpoint("y").mhs_id());
        assert_ne!(a.mhs_id(), b.mhs_id());
        assert_eq!(a.mhs_id().len(), 20);
    }

    #[test]
    fn device_interactions_are_sent_then_received_each_once() {
        let d = SdsDevice {
            ods: "B82617".into(),
            name: "x".into(),
            asid: "918999198738".into(),
            party_key: "B82617-806568".into(),
            sends: vec!["a".into(), "b".into()],
            receives: vec!["b".into(), "c".into()],
        };
        assert_eq!(d.interactions().collect::<Vec<_>>(), vec!["a", "b", "c"]);
    }
}
