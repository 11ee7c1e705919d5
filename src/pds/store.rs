//! PDS's records: one R4 Patient per NHS number with its version, changed only by PATCH.

use std::sync::Arc;

use dashmap::DashMap;

use crate::scenario::World;

#[derive(Debug, Clone)]
pub struct PdsRecord {
    pub version: u64,
    /// The registered practice's ODS code as PDS holds it now.
    pub registered_practice: Option<String>,
}

/// Shared, concurrent PDS state; cheap to clone.
#[derive(Clone, Default)]
pub struct PdsStore {
    records: Arc<DashMap<String, PdsRecord>>,
}

impl PdsStore {
    pub fn new(world: &World) -> Self {
        let store = Self::default();
        store.reset(world);
        store
    }

    /// Restores every record (versions and registrations) to what the scenario says.
    pub fn reset(&self, world: &World) {
        self.records.clear();
        for p in &world.patients {
            self.records.insert(
                p.nhs_number.as_str().to_owned(),
                PdsRecord {
                    version: 1,
                    registered_practice: Some(p.registered_with.as_str().to_owned()),
                },
            );
        }
    }

    /// The registered practice PDS holds for this patient at this moment.
    pub fn registered_practice(&self, nhs_number: &str) -> Option<String> {
        self.records
            .get(nhs_number)
            .and_then(|r| r.registered_practice.clone())
    }
}
