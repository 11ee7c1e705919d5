//! What the generator writes: the part of the scenario file format a generated world uses, as
//! values. Serialising them gives YAML or JSON that the loader reads back into the same world;
//! fields are in the order a person writing the file would put them.
//!
//! `FlowMap` and `FlowSeq` only choose the YAML style (one clinical item per line, as the
//! shipped scenarios are written); JSON sees the values inside.

use serde::Serialize;
use serde_saphyr::{FlowMap, FlowSeq};

use super::tables::Concept;

/// `00-practices.yaml`: the practices and their practitioners.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct PracticesFile {
    pub(super) name: String,
    pub(super) description: String,
    pub(super) practices: Vec<PracticeEntry>,
    pub(super) practitioners: Vec<FlowMap<PractitionerEntry>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct PracticeEntry {
    pub(super) ods: String,
    pub(super) name: String,
    pub(super) asid: String,
    pub(super) provider: bool,
    /// `Some([])` for the practice without GP Connect; absent gives the default interactions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) interactions: Option<FlowSeq<Vec<String>>>,
    pub(super) address: FlowMap<Address>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Address {
    pub(super) lines: FlowSeq<Vec<String>>,
    pub(super) city: &'static str,
    pub(super) district: &'static str,
    pub(super) postcode: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct PractitionerEntry {
    pub(super) id: String,
    pub(super) name: FlowMap<Name>,
    pub(super) gender: &'static str,
    pub(super) practice: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Name {
    pub(super) prefix: &'static str,
    pub(super) given: FlowSeq<Vec<&'static str>>,
    pub(super) family: &'static str,
}

/// `patients-NNN.yaml` (or `.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct PatientsFile {
    pub(super) patients: Vec<PatientEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct PatientEntry {
    pub(super) nhs_number: String,
    pub(super) name: FlowMap<Name>,
    pub(super) gender: &'static str,
    pub(super) birth_date: String,
    pub(super) address: FlowMap<Address>,
    pub(super) registered_with: String,
    pub(super) record_at: String,
    pub(super) usual_gp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) sensitive: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) dissent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) nhs_number_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) deceased: Option<String>,
    pub(super) record: Record,
}

/// A patient's record, section by section; empty sections are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(super) struct Record {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) problems: Vec<FlowMap<Problem>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) allergies: Vec<FlowMap<Allergy>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) medications: Vec<FlowMap<Medication>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) immunisations: Vec<FlowMap<Immunisation>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) observations: Vec<FlowMap<Observation>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) investigations: Vec<FlowMap<Investigation>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) consultations: Vec<FlowMap<Consultation>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) referrals: Vec<FlowMap<Referral>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) diary: Vec<FlowMap<Diary>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) documents: Vec<FlowMap<Document>>,
}

/// A SNOMED CT coding as a scenario writes it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(super) struct Code {
    pub(super) snomed: &'static str,
    pub(super) display: &'static str,
}

impl From<Concept> for Code {
    fn from((snomed, display): Concept) -> Self {
        Self { snomed, display }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Problem {
    pub(super) id: String,
    pub(super) code: FlowMap<Code>,
    pub(super) onset: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) significance: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) related: Option<FlowSeq<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) confidential: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) note: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Allergy {
    pub(super) id: String,
    pub(super) code: FlowMap<Code>,
    pub(super) asserted: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) end: Option<String>,
    pub(super) reaction: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Medication {
    pub(super) id: String,
    pub(super) code: FlowMap<Code>,
    pub(super) start: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) end: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) dosage: &'static str,
    pub(super) quantity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) repeats_allowed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) stopped: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) confidential: Option<bool>,
}

/// An immunisation, with the vaccine's details real exports nearly always carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Immunisation {
    pub(super) id: String,
    pub(super) code: FlowMap<Code>,
    pub(super) date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) batch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) manufacturer: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) site: Option<FlowMap<Code>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) expiry: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Observation {
    pub(super) id: String,
    pub(super) code: FlowMap<Code>,
    pub(super) date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) unit: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Investigation {
    pub(super) id: String,
    pub(super) code: FlowMap<Code>,
    pub(super) date: String,
    pub(super) specimen: &'static str,
    pub(super) results: FlowSeq<Vec<FlowMap<TestResult>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct TestResult {
    pub(super) code: FlowMap<Code>,
    pub(super) value: f64,
    pub(super) unit: &'static str,
    pub(super) range: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Consultation {
    pub(super) id: String,
    pub(super) date: String,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) practitioner: String,
    pub(super) entries: FlowSeq<Vec<String>>,
    pub(super) note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Referral {
    pub(super) id: String,
    pub(super) date: String,
    pub(super) to: &'static str,
    pub(super) reason: &'static str,
    pub(super) priority: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Diary {
    pub(super) id: String,
    pub(super) date: String,
    pub(super) text: &'static str,
    pub(super) code: FlowMap<Code>,
    pub(super) entered: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Document {
    pub(super) id: String,
    pub(super) title: &'static str,
    #[serde(rename = "type")]
    pub(super) kind: FlowMap<Code>,
    pub(super) date: String,
    pub(super) confidential: bool,
    pub(super) text: &'static str,
}
