//! What PDS keeps of a patient's past (`docs/pds.md`, "History"): names, addresses and contact
//! details that were replaced or removed. Reads never show it; a fuzzy search always searches it
//! and a non-fuzzy one does when asked (`_history=true`), and a match on history returns the
//! patient's current record.
//!
//! History starts as the scenario's (`historic_names`, `historic_addresses`, `historic_telecom`)
//! and grows with every change: when a PATCH replaces or removes an item of `name`, `address` or
//! `telecom`, the item as it was is kept here, its period ended on the day of the change.

use serde_json::{Value, json};

/// The elements whose past PDS keeps.
pub(crate) const KEPT: [&str; 3] = ["name", "address", "telecom"];

/// A patient's historic items, per element, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub name: Vec<Value>,
    pub address: Vec<Value>,
    pub telecom: Vec<Value>,
}

impl History {
    pub fn items(&self, element: &str) -> &[Value] {
        match element {
            "name" => &self.name,
            "address" => &self.address,
            "telecom" => &self.telecom,
            _ => &[],
        }
    }

    fn items_mut(&mut self, element: &str) -> Option<&mut Vec<Value>> {
        match element {
            "name" => Some(&mut self.name),
            "address" => Some(&mut self.address),
            "telecom" => Some(&mut self.telecom),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_empty() && self.address.is_empty() && self.telecom.is_empty()
    }

    /// The history after a change from `before` to `after`: every item of a kept element that
    /// the change removed or altered is added as it was, with its period ended on `today` (an
    /// end it already had is kept).
    pub fn after_change(&self, before: &Value, after: &Value, today: &str) -> History {
        let mut next = self.clone();
        for element in KEPT {
            let now: &[Value] = after[element].as_array().map_or(&[], Vec::as_slice);
            let gone = before[element]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|old| !now.contains(old));
            let mut ended: Vec<Value> = gone
                .map(|old| {
                    let mut old = old.clone();
                    if old["period"].get("end").is_none()
                        && let Some(fields) = old.as_object_mut()
                    {
                        let start = fields.get("period").and_then(|p| p.get("start")).cloned();
                        let mut period = json!({ "end": today });
                        if let Some(start) = start {
                            period["start"] = start;
                        }
                        fields.insert("period".into(), period);
                    }
                    old
                })
                .collect();
            if let Some(list) = next.items_mut(element) {
                list.append(&mut ended);
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_name_is_kept_with_its_period_ended() {
        let before = json!({ "name": [{ "id": "1", "family": "Smith", "period": { "start": "2001-01-01" } }],
                             "telecom": [{ "id": "t", "system": "email", "value": "a@b.c" }] });
        let after = json!({ "name": [{ "id": "1", "family": "Jones", "period": { "start": "2001-01-01" } }],
                            "telecom": [{ "id": "t", "system": "email", "value": "a@b.c" }] });
        let h = History::default().after_change(&before, &after, "2026-01-02");
        assert_eq!(h.name.len(), 1);
        assert_eq!(h.name[0]["family"], "Smith");
        assert_eq!(h.name[0]["period"]["start"], "2001-01-01");
        assert_eq!(h.name[0]["period"]["end"], "2026-01-02");
        assert!(h.telecom.is_empty(), "unchanged items are not history");
        let removed = History::default().after_change(&after, &json!({}), "2026-01-03");
        assert_eq!(removed.telecom[0]["value"], "a@b.c");
        assert_eq!(removed.name[0]["family"], "Jones");
    }
}
