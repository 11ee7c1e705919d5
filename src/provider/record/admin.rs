//! The administrative resources (Patient, Organization, Practitioner, PractitionerRole) and
//! the Bundle around every entry.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::*;
use crate::fhir::gpconnect::{code_systems, extensions, profiles};
use crate::fhir::systems;
use crate::scenario::{HumanName, Practice};

impl<'a> Builder<'a> {
    // ---- Administrative resources and the Bundle ----

    pub(super) fn organization(&self, p: &Practice) -> Value {
        let mut o = json!({
            "resourceType": "Organization",
            "id": stable_id(&["Organization", p.ods.as_str()]),
            "meta": { "versionId": "1", "profile": [profiles::ORGANIZATION] },
            "identifier": [{ "system": systems::ODS_ORGANIZATION_CODE, "value": p.ods.as_str() }],
            "name": p.name,
        });
        if let Some(t) = &p.telecom {
            o["telecom"] = json!([{ "system": "phone", "value": t, "use": "work", "rank": 1 }]);
        }
        if let Some(a) = &p.address {
            o["address"] = json!([address(a, "work")]);
        }
        // Every real GP practice Organization says what it is and where its main site is.
        o["type"] = json!([{
            "coding": [{ "system": code_systems::ORGANISATION_TYPE, "code": "gp-practice" }],
            "text": "GP Practice",
        }]);
        o["extension"] = json!([{
            "url": extensions::MAIN_LOCATION,
            "valueReference": { "reference": format!("Location/{}", location_id(p.ods.as_str(), None)) },
        }]);
        o
    }

    /// A practice's main site (its own name and address) and its branch surgeries.
    fn locations(&self, p: &Practice) -> Vec<Value> {
        let org = format!(
            "Organization/{}",
            stable_id(&["Organization", p.ods.as_str()])
        );
        let site =
            |branch: Option<&str>, name: &str, kind: &str, a: Option<&crate::scenario::Address>| {
                let mut l = json!({
                    "resourceType": "Location",
                    "id": location_id(p.ods.as_str(), branch),
                    "meta": { "versionId": "1", "profile": [profiles::LOCATION] },
                    "status": "active",
                    "name": name,
                    "type": { "text": kind },
                    "managingOrganization": { "reference": org, "display": p.name },
                });
                if let Some(t) = &p.telecom {
                    l["telecom"] =
                        json!([{ "system": "phone", "value": t, "use": "work", "rank": 1 }]);
                }
                if let Some(a) = a {
                    l["address"] = address(a, "work");
                }
                l
            };
        let mut out = vec![site(None, &p.name, "Main Surgery", p.address.as_ref())];
        for b in &p.branches {
            out.push(site(
                Some(&b.id),
                &b.name,
                "Branch Surgery",
                b.address.as_ref(),
            ));
        }
        out
    }

    /// `Extension-CareConnect-GPC-RegistrationDetails-1`: since when and how the patient is
    /// registered here, and the preferred branch (the main site unless the scenario names one).
    fn registration_details(&self) -> Value {
        let cx = &self.cx;
        let p = cx.req.patient;
        let reg = &p.registration;
        let branch = reg
            .branch
            .as_deref()
            .filter(|b| cx.req.practice.branches.iter().any(|x| x.id == *b));
        // Registered since the scenario's date, else since the earliest thing in the record,
        // else since birth.
        let since = reg
            .date
            .unwrap_or_else(|| earliest(p).unwrap_or(p.birth_date));
        json!({
            "url": extensions::REGISTRATION_DETAILS,
            "extension": [
                { "url": "registrationPeriod", "valuePeriod": { "start": since.to_string() } },
                { "url": "registrationType", "valueCodeableConcept": { "coding": [{
                    "system": code_systems::REGISTRATION_TYPE,
                    "code": reg.kind.0,
                    "display": reg.kind.1,
                }] } },
                { "url": "preferredBranchSurgery", "valueReference": {
                    "reference": format!("Location/{}", location_id(cx.req.practice.ods.as_str(), branch))
                } },
            ],
        })
    }

    pub(super) fn patient(&self) -> Value {
        let cx = &self.cx;
        let p = cx.req.patient;
        // CareConnect-GPC-Patient-1 allows one generalPractitioner: the usual GP when there is
        // one (as real providers send), else the practice. The practice is always the
        // managingOrganization, and the usual GP's PractitionerRole ties the two together.
        let general_practitioner = [json!({
            "reference": cx.recorder_ref.as_deref().unwrap_or(&cx.org_ref)
        })];
        let mut r = json!({
            "resourceType": "Patient",
            "id": stable_id(&["Patient", cx.nhs]),
            "meta": { "versionId": "1", "profile": [profiles::PATIENT] },
            "identifier": [{
                "extension": [{
                    "url": extensions::NHS_NUMBER_VERIFICATION_STATUS,
                    "valueCodeableConcept": { "coding": [{
                        "system": code_systems::NHS_NUMBER_VERIFICATION_STATUS,
                        "code": "01",
                        "display": "Number present and verified",
                    }] },
                }],
                "system": systems::NHS_NUMBER,
                "value": cx.nhs,
            }],
            "name": [human_name(&p.name)],
            "gender": p.gender.as_str(),
            "birthDate": p.birth_date.to_string(),
            "generalPractitioner": general_practitioner,
            // The record is of a living patient registered at this practice until the move.
            "active": true,
            "extension": [self.registration_details()],
            "managingOrganization": { "reference": cx.org_ref },
        });
        if let Some(a) = &p.address {
            r["address"] = json!([address(a, "home")]);
        }
        r
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        self.secondary_lists();

        let req = self.cx.req;
        let mut resources = Vec::with_capacity(4 + self.practitioners.len() * 2);
        resources.push(self.patient());
        resources.push(self.organization(req.practice));
        resources.extend(self.locations(req.practice));
        for (name, r) in &self.manufacturers {
            resources.push(json!({
                "resourceType": "Organization",
                "id": &r["Organization/".len()..],
                "meta": { "versionId": "1", "profile": [profiles::ORGANIZATION] },
                "name": name,
            }));
        }
        let mut orgs_seen: HashSet<&str> = HashSet::new();
        orgs_seen.insert(req.practice.ods.as_str());
        for p in &self.practitioners {
            if orgs_seen.insert(p.practice.as_str())
                && let Some(practice) = req.world.practice(p.practice.as_str())
            {
                resources.push(self.organization(practice));
                resources.extend(self.locations(practice));
            }
        }
        for p in &self.practitioners {
            let practitioner_id = stable_id(&["Practitioner", &p.id]);
            let mut practitioner = json!({
                "resourceType": "Practitioner",
                "id": practitioner_id,
                "meta": { "versionId": "1", "profile": [profiles::PRACTITIONER] },
                "identifier": [{ "system": systems::SDS_USER_ID, "value": p.id }],
                "name": [human_name(&p.name)],
            });
            if let Some(g) = p.gender {
                practitioner["gender"] = json!(g.as_str());
            }
            resources.push(practitioner);
            let org = if req.world.practice(p.practice.as_str()).is_some() {
                format!(
                    "Organization/{}",
                    stable_id(&["Organization", p.practice.as_str()])
                )
            } else {
                self.cx.org_ref.clone()
            };
            resources.push(json!({
                "resourceType": "PractitionerRole",
                "id": stable_id(&["PractitionerRole", &p.id]),
                "meta": { "versionId": "1", "profile": [profiles::PRACTITIONER_ROLE] },
                "practitioner": { "reference": format!("Practitioner/{practitioner_id}") },
                "organization": { "reference": org },
                "code": [{ "coding": [{
                    "system": code_systems::SDS_JOB_ROLE_NAME,
                    "code": "R0260",
                    "display": "General Medical Practitioner",
                }] }],
            }));
        }
        // The administrative resources come first; the clinical entries follow as written.
        let mut bytes = Vec::with_capacity(self.out.len() + 32 * 1024);
        bytes.extend_from_slice(br#"{"resourceType":"Bundle","id":"#);
        let _ = serde_json::to_writer(&mut bytes, req.trace_id);
        bytes.extend_from_slice(br#","meta":{"profile":["#);
        let _ = serde_json::to_writer(&mut bytes, profiles::BUNDLE);
        bytes.extend_from_slice(br#"]},"type":"collection","entry":["#);
        for (n, r) in resources.iter().enumerate() {
            if n > 0 {
                bytes.push(b',');
            }
            bytes.extend_from_slice(br#"{"resource":"#);
            write_resource(&mut bytes, r);
            bytes.push(b'}');
        }
        if !self.out.is_empty() {
            bytes.push(b',');
            bytes.extend_from_slice(&self.out);
        }
        bytes.extend_from_slice(b"]}");
        bytes
    }
}

pub(super) fn human_name(n: &HumanName) -> Value {
    let mut name = json!({ "use": "official", "family": n.family });
    if !n.given.is_empty() {
        name["given"] = json!(n.given);
    }
    if let Some(prefix) = &n.prefix {
        name["prefix"] = json!([prefix]);
    }
    let mut text = String::new();
    for part in n.prefix.iter().chain(n.given.iter()) {
        text.push_str(part);
        text.push(' ');
    }
    text.push_str(&n.family);
    name["text"] = json!(text);
    name
}

/// Writes a JSON-tree resource with `resourceType` as its first member, as FHIR JSON is
/// conventionally written (the tree's maps are key-ordered). Writing to a Vec cannot fail.
pub(crate) fn write_resource(out: &mut Vec<u8>, resource: &Value) {
    let Some(Value::String(resource_type)) = resource.get("resourceType") else {
        let _ = serde_json::to_writer(&mut *out, resource);
        return;
    };
    out.extend_from_slice(br#"{"resourceType":"#);
    let _ = serde_json::to_writer(&mut *out, resource_type);
    if let Value::Object(map) = resource {
        for (k, v) in map {
            if k == "resourceType" {
                continue;
            }
            out.push(b',');
            let _ = serde_json::to_writer(&mut *out, k);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, v);
        }
    }
    out.push(b'}');
}

fn address(a: &crate::scenario::Address, use_: &str) -> Value {
    let mut v = json!({ "use": use_, "type": "physical", "line": a.lines });
    if let Some(c) = &a.city {
        v["city"] = json!(c);
    }
    if let Some(d) = &a.district {
        v["district"] = json!(d);
    }
    if let Some(p) = &a.postcode {
        v["postalCode"] = json!(p);
    }
    v
}

/// The earliest dated item of a patient's record.
fn earliest(p: &crate::scenario::Patient) -> Option<chrono::NaiveDate> {
    let r = &p.record;
    r.problems
        .iter()
        .filter_map(|x| x.onset)
        .chain(r.medications.iter().map(|x| x.start))
        .chain(r.immunisations.iter().map(|x| x.date))
        .chain(r.observations.iter().map(|x| x.date))
        .chain(r.consultations.iter().map(|x| x.date))
        .chain(r.investigations.iter().map(|x| x.date))
        .min()
}
