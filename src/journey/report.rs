//! What the journey tells its user: one [`StepReport`] per request, an outcome, and a summary of
//! the record received.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::fhir::gpconnect::lists;

/// One request the consumer made, and what came of it in words.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Short name: `PDS trace`, `PDS registration change`, `SDS endpoint`, ...
    pub step: String,
    /// `METHOD URL` as sent.
    pub request: String,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    pub duration_ms: f64,
    /// The Spine code of a refusal (e.g. `NO_RELATIONSHIP`).
    pub spine_code: Option<String>,
    /// What happened, in a sentence (the diagnostic for refusals).
    pub outcome: String,
    pub ok: bool,
    /// `Ssp-TraceID` sent, for finding the hop in the journal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl StepReport {
    /// The line the CLI prints for this step.
    pub fn line(&self) -> String {
        let status = self
            .status
            .map_or_else(|| "---".to_owned(), |s| s.to_string());
        let mark = if self.ok { "ok " } else { "ERR" };
        format!(
            "{mark} {:<26} {status} {:>7.1} ms  {}\n      {}",
            self.step, self.duration_ms, self.request, self.outcome
        )
    }
}

/// How the journey ended (the exit code follows from it: 0, 2, 1).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum JourneyOutcome {
    /// The structured record (and its documents) arrived.
    Received,
    /// A Spine service refused, with its code.
    Refused { spine_code: String, reason: String },
    /// Anything else: unreachable service, bad certificate files, unexpected answer.
    Failed { reason: String },
}

impl JourneyOutcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            JourneyOutcome::Received => 0,
            JourneyOutcome::Refused { .. } => 2,
            JourneyOutcome::Failed { .. } => 1,
        }
    }
}

/// What the record held, as a receiving GP system would count it.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct RecordSummary {
    pub bundle_id: String,
    pub resources: usize,
    pub bytes: usize,
    /// Primary List title → number of entries (e.g. `Problems` → 5).
    pub clinical_areas: BTreeMap<String, usize>,
    /// Titles of the Lists that carry the confidential-items warning.
    pub lists_with_withheld_items: Vec<String>,
    pub documents_referenced: usize,
    pub documents_fetched: usize,
    pub document_bytes: usize,
    /// A retrieve: the parameters asked for (`includeAllergies`, ...); empty for a migrate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub areas_requested: Vec<String>,
    /// A retrieve: the provider's warnings (`diagnostics` of its OperationOutcome's issues).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JourneyReport {
    pub patient: String,
    #[serde(rename = "as")]
    pub as_ods: String,
    pub steps: Vec<StepReport>,
    #[serde(flatten)]
    pub outcome: JourneyOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordSummary>,
}

impl JourneyReport {
    /// The closing lines the CLI prints after the steps.
    pub fn summary_text(&self) -> String {
        let mut out = String::new();
        match &self.outcome {
            JourneyOutcome::Received => out.push_str("Record received.\n"),
            JourneyOutcome::Refused { spine_code, reason } => {
                out.push_str(&format!("Spine refused: {spine_code}: {reason}\n"));
            }
            JourneyOutcome::Failed { reason } => {
                out.push_str(&format!("Journey failed: {reason}\n"));
            }
        }
        if let Some(r) = &self.record {
            out.push_str(&format!(
                "Bundle {}: {} resources, {} bytes\n",
                r.bundle_id, r.resources, r.bytes
            ));
            if !r.areas_requested.is_empty() {
                out.push_str(&format!(
                    "Areas asked for: {}\n",
                    r.areas_requested.join(", ")
                ));
            }
            for w in &r.warnings {
                out.push_str(&format!("Provider warning: {w}\n"));
            }
            for (area, count) in &r.clinical_areas {
                out.push_str(&format!("  {area:<34} {count:>5}\n"));
            }
            if r.lists_with_withheld_items.is_empty() {
                out.push_str("Confidential items withheld: none\n");
            } else {
                out.push_str(&format!(
                    "Confidential items withheld from: {}\n",
                    r.lists_with_withheld_items.join(", ")
                ));
            }
            if r.areas_requested.is_empty() {
                out.push_str(&format!(
                    "Documents: {} referenced, {} fetched ({} bytes)\n",
                    r.documents_referenced, r.documents_fetched, r.document_bytes
                ));
            } else {
                out.push_str(&format!(
                    "Documents: {} referenced (a retrieve names them; it does not fetch them)\n",
                    r.documents_referenced
                ));
            }
        }
        out
    }
}

pub(super) fn resources<'b>(
    bundle: &'b Value,
    kind: &'b str,
) -> impl Iterator<Item = &'b Value> + 'b {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["resource"])
        .filter(move |r| r["resourceType"] == kind)
}

/// Counts what arrived the way the receiving system files it: per primary List.
pub(super) fn summarise(bundle: &Value, bytes: usize) -> RecordSummary {
    let mut summary = RecordSummary {
        bundle_id: bundle["id"].as_str().unwrap_or("").to_owned(),
        resources: bundle["entry"].as_array().map_or(0, Vec::len),
        bytes,
        ..Default::default()
    };
    for list in resources(bundle, "List") {
        let title = list["title"]
            .as_str()
            .unwrap_or("(untitled list)")
            .to_owned();
        let withheld = list["extension"].as_array().is_some_and(|exts| {
            exts.iter().any(|e| {
                e["valueCodeableConcept"]["coding"][0]["code"] == "confidential-items"
                    || e["valueCode"] == "confidential-items"
            })
        });
        if withheld && !summary.lists_with_withheld_items.contains(&title) {
            summary.lists_with_withheld_items.push(title.clone());
        }
        let code = list["code"]["coding"][0]["code"].as_str().unwrap_or("");
        if lists::PRIMARY.iter().any(|(c, _)| *c == code) {
            let n = list["entry"].as_array().map_or(0, Vec::len);
            *summary.clinical_areas.entry(title).or_insert(0) += n;
        }
    }
    summary
}
