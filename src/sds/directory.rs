//! The directory SDS answers from: one AS (Device) record per practice ASID and, for provider
//! practices, one MHS (Endpoint) record per GP Connect interaction they serve.

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
pub fn provider_interactions() -> [(&'static str, &'static str); 4] {
    [
        (interactions::MIGRATE_STRUCTURED, "structured"),
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
                    endpoints.push(SdsEndpoint {
                        ods: p.ods.as_str().to_owned(),
                        asid: p.asid.as_str().to_owned(),
                        party_key: p.party_key.as_str().to_owned(),
                        interaction: interaction.to_owned(),
                        address: format!(
                            "{public_url}/{}/STU3/1/gpconnect/{capability}/fhir",
                            p.ods
                        ),
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
}
