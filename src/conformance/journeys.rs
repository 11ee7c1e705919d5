//! From journal entries to consumers and their journeys.
//!
//! A consumer is the ODS code of the new practice: the JWT's `requesting_organization` on SSP
//! and provider hops, `NHSD-End-User-Organisation-ODS` (or the practice a PATCH registers) on
//! PDS. Its ASIDs are those of the client certificates SSP saw. A journey is one consumer's
//! work on one patient; a new one starts when the consumer traces the patient again after a
//! record was delivered. SDS requests carry neither a patient nor a consumer, so a journey
//! claims the SDS lookups made between the consumer's previous journey and its own last hop.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::fhir::systems;
use crate::journal::Entry;

const PDS_PATIENT: &str = "/personal-demographics/FHIR/R4/Patient/";
const MIGRATE_OP: &str = "/structured/fhir/Patient/$gpc.migratestructuredrecord";
const RETRIEVE_OP: &str = "/structured/fhir/Patient/$gpc.getstructuredrecord";
const BINARY: &str = "/documents/fhir/Binary/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    PdsRead,
    PdsPatch,
    SdsEndpoint,
    SdsDevice,
    SspMigrate,
    SspDocument,
    ProviderMigrate,
    ProviderDocument,
    /// `$gpc.getstructuredrecord` (direct care), through SSP and at the provider.
    SspRetrieve,
    ProviderRetrieve,
    Other,
}

/// One journal entry, read for grading.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub entry: Arc<Entry>,
    pub kind: Kind,
    pub patient: Option<String>,
    /// The consumer's ODS code, when the entry shows it.
    pub ods: Option<String>,
    pub time: Option<DateTime<Utc>>,
    /// SDS: the `organization` and `identifier` (interaction) asked for, and what came back
    /// (Endpoint addresses or Device ASIDs).
    pub sds_org: Option<String>,
    pub sds_interaction: Option<String>,
    pub sds_results: Vec<String>,
    /// SSP <-> provider: the other side of the same forwarded request.
    pub linked: Option<usize>,
    /// Provider migrate: `includeSensitiveInformation` as sent.
    pub sensitive: Option<bool>,
}

impl Event {
    pub(crate) fn seq(&self) -> u64 {
        self.entry.sequence
    }
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.entry.status)
    }
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.entry.request_headers.get(name)
    }
    /// SSP's target URL without the leading slash, or the provider path.
    pub(crate) fn target(&self) -> &str {
        self.entry.target.as_deref().unwrap_or(&self.entry.path)
    }
    pub(crate) fn is_ssp(&self) -> bool {
        matches!(
            self.kind,
            Kind::SspMigrate | Kind::SspDocument | Kind::SspRetrieve
        )
    }
    pub(crate) fn is_provider(&self) -> bool {
        matches!(
            self.kind,
            Kind::ProviderMigrate | Kind::ProviderDocument | Kind::ProviderRetrieve
        )
    }
    /// A provider hop that no SSP entry forwarded: the consumer went round SSP.
    pub(crate) fn direct(&self) -> bool {
        self.is_provider() && self.linked.is_none()
    }
    /// The decoded JWT claims, when the request carried a decodable one.
    pub(crate) fn claims(&self) -> Option<Value> {
        let token = crate::jwt::bearer_token(self.header("authorization")?)?;
        crate::jwt::decode(token).ok().map(|d| d.claims)
    }
}

/// The journal, read once.
pub(crate) struct Index {
    pub events: Vec<Event>,
    /// `X-Request-ID` -> PDS events using it.
    pub request_ids: HashMap<String, Vec<usize>>,
    /// `Ssp-TraceID` -> SSP events using it.
    pub trace_ids: HashMap<String, Vec<usize>>,
}

/// The events of one consumer's journey, as indices into [`Index::events`], in order.
#[derive(Debug, Clone)]
pub(crate) struct JourneyEvents {
    pub patient: String,
    pub events: Vec<usize>,
    /// SDS lookups made in this journey's window.
    pub sds: Vec<usize>,
    pub start_evicted: bool,
    /// The window's lower bound was the start of the journal, and entries had been evicted:
    /// missing SDS lookups may simply have been dropped.
    pub window_evicted: bool,
}

pub(crate) struct ConsumerJourneys {
    pub ods: String,
    pub asids: BTreeSet<String>,
    pub journeys: Vec<JourneyEvents>,
}

fn ods_of_claims(claims: &Value) -> Option<String> {
    claims["requesting_organization"]["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["system"] == systems::ODS_ORGANIZATION_CODE)
        .and_then(|i| i["value"].as_str())
        .map(str::to_owned)
}

fn body_json(entry: &Entry, response: bool) -> Option<Value> {
    let body = if response {
        entry.response_body.as_ref()
    } else {
        entry.request_body.as_ref()
    }?;
    serde_json::from_str(&body.text()).ok()
}

/// The ODS code a PDS PATCH registers the patient with.
fn patched_ods(entry: &Entry) -> Option<String> {
    let body = body_json(entry, false)?;
    body["patches"].as_array()?.iter().find_map(|p| {
        let v = &p["value"];
        v["identifier"]["value"]
            .as_str()
            .or_else(|| v["value"].as_str().filter(|_| v["system"].is_string()))
            .map(str::to_owned)
    })
}

fn value_after_bar(v: &str) -> String {
    v.rsplit('|').next().unwrap_or(v).to_owned()
}

/// The path of an absolute URL (or the value itself when it has no scheme).
pub(crate) fn url_path(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => url,
    }
}

/// The ODS code a provider path or URL names: `/{ODS}/STU3/1/gpconnect/...`.
pub(crate) fn provider_ods(url: &str) -> Option<String> {
    let path = url_path(url).trim_start_matches('/');
    let mut parts = path.split('/');
    let ods = parts.next()?;
    (parts.next() == Some("STU3")).then(|| ods.to_owned())
}

fn parse(entry: &Arc<Entry>) -> Event {
    let mut event = Event {
        entry: entry.clone(),
        kind: Kind::Other,
        patient: None,
        ods: None,
        time: Some(entry.time),
        sds_org: None,
        sds_interaction: None,
        sds_results: Vec::new(),
        linked: None,
        sensitive: None,
    };
    let (path, query) = entry
        .path
        .split_once('?')
        .unwrap_or((entry.path.as_str(), ""));
    match entry.service {
        "pds" => {
            if let Some(nhs) = path
                .strip_prefix(PDS_PATIENT)
                .filter(|r| !r.is_empty() && !r.contains('/'))
            {
                event.patient = Some(nhs.to_owned());
                event.kind = match entry.method.as_str() {
                    "GET" => Kind::PdsRead,
                    "PATCH" => Kind::PdsPatch,
                    _ => Kind::Other,
                };
                event.ods = entry
                    .request_headers
                    .get("nhsd-end-user-organisation-ods")
                    .map(str::to_owned)
                    .or_else(|| {
                        (event.kind == Kind::PdsPatch)
                            .then(|| patched_ods(entry))
                            .flatten()
                    });
            }
        }
        "sds" => {
            let kind = if path.ends_with("/Endpoint") {
                Kind::SdsEndpoint
            } else if path.ends_with("/Device") {
                Kind::SdsDevice
            } else {
                Kind::Other
            };
            event.kind = kind;
            for (k, v) in crate::http::query_pairs(Some(query)) {
                match k.as_str() {
                    "organization" => event.sds_org = Some(value_after_bar(&v)),
                    "identifier" => event.sds_interaction = Some(value_after_bar(&v)),
                    _ => {}
                }
            }
            let body = body_json(entry, true).unwrap_or_default();
            for e in body["entry"].as_array().into_iter().flatten() {
                let r = &e["resource"];
                match kind {
                    Kind::SdsEndpoint => {
                        if let Some(a) = r["address"].as_str() {
                            event.sds_results.push(a.to_owned());
                        }
                    }
                    Kind::SdsDevice => {
                        for i in r["identifier"].as_array().into_iter().flatten() {
                            if i["system"] == systems::SPINE_ASID
                                && let Some(v) = i["value"].as_str()
                            {
                                event.sds_results.push(v.to_owned());
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        "ssp" | "provider" => {
            let ssp = entry.service == "ssp";
            let at = if ssp {
                url_path(entry.target.as_deref().unwrap_or_default())
            } else {
                path
            };
            let at = at.split('?').next().unwrap_or_default();
            event.kind = match (ssp, at.ends_with(MIGRATE_OP), at.contains(BINARY)) {
                (true, true, _) => Kind::SspMigrate,
                (true, _, true) => Kind::SspDocument,
                (false, true, _) => Kind::ProviderMigrate,
                (false, _, true) => Kind::ProviderDocument,
                (true, ..) if at.ends_with(RETRIEVE_OP) => Kind::SspRetrieve,
                (false, ..) if at.ends_with(RETRIEVE_OP) => Kind::ProviderRetrieve,
                _ => Kind::Other,
            };
            event.ods = event.claims().as_ref().and_then(ods_of_claims);
            if matches!(event.kind, Kind::ProviderMigrate | Kind::ProviderRetrieve) {
                let body = body_json(entry, false).unwrap_or_default();
                for p in body["parameter"].as_array().into_iter().flatten() {
                    match p["name"].as_str() {
                        Some("patientNHSNumber") => {
                            event.patient =
                                p["valueIdentifier"]["value"].as_str().map(str::to_owned);
                        }
                        Some("includeFullRecord") => {
                            event.sensitive = p["part"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .find(|x| x["name"] == "includeSensitiveInformation")
                                .and_then(|x| x["valueBoolean"].as_bool());
                        }
                        _ => {}
                    }
                }
            }
        }
        _ => {}
    }
    event
}

impl Index {
    pub(crate) fn new(entries: &[Arc<Entry>]) -> Self {
        let mut events: Vec<Event> = entries.iter().map(parse).collect();
        // Link each provider hop to the SSP entry that forwarded it (same trace id and path;
        // SSP records after the answer, so its entry comes later).
        let mut ssp_by_trace: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            if e.is_ssp()
                && e.entry.refusal.is_none()
                && let Some(t) = &e.entry.trace_id
            {
                ssp_by_trace.entry(t.clone()).or_default().push(i);
            }
        }
        for i in 0..events.len() {
            if !events[i].is_provider() {
                continue;
            }
            let Some(trace) = events[i].entry.trace_id.clone() else {
                continue;
            };
            let path = events[i].entry.path.clone();
            let found = ssp_by_trace.get(&trace).and_then(|c| {
                c.iter()
                    .copied()
                    .filter(|&s| url_path(events[s].target()) == path && events[s].linked.is_none())
                    .min_by_key(|&s| events[s].seq().abs_diff(events[i].seq()))
            });
            if let Some(s) = found {
                events[i].linked = Some(s);
                events[s].linked = Some(i);
            }
        }
        // Patients of SSP migrates (from the provider's body) and of documents (from the
        // delivered Bundles' document lists).
        let mut document_patient: HashMap<String, String> = HashMap::new();
        for e in &events {
            if let (Some(p), Some(docs)) = (&e.patient, &e.entry.documents) {
                for d in docs.iter() {
                    document_patient.insert(url_path(d).to_owned(), p.clone());
                }
            }
        }
        for i in 0..events.len() {
            if events[i].patient.is_some() {
                continue;
            }
            let patient = match events[i].kind {
                Kind::SspMigrate | Kind::SspRetrieve => {
                    events[i].linked.and_then(|l| events[l].patient.clone())
                }
                Kind::SspDocument | Kind::ProviderDocument => document_patient
                    .get(url_path(events[i].target()).split('?').next().unwrap_or(""))
                    .cloned(),
                _ => None,
            };
            events[i].patient = patient;
            if events[i].kind == Kind::SspMigrate {
                events[i].sensitive = events[i].linked.and_then(|l| events[l].sensitive);
            }
        }
        // A hop whose JWT could not be read belongs to the consumer its certificate names.
        let mut asid_ods: HashMap<String, String> = HashMap::new();
        for e in &events {
            if let (Some(a), Some(o)) = (&e.entry.client_asid, &e.ods) {
                asid_ods.entry(a.clone()).or_insert_with(|| o.clone());
            }
        }
        for e in events.iter_mut() {
            if e.ods.is_none() && (e.is_ssp() || e.kind == Kind::Other && e.entry.service == "ssp")
            {
                e.ods = e
                    .entry
                    .client_asid
                    .as_ref()
                    .and_then(|a| asid_ods.get(a))
                    .cloned();
            }
        }
        // PDS hops without an ODS code: the consumer that next (or last) worked on the patient.
        for i in 0..events.len() {
            if events[i].ods.is_some() || !matches!(events[i].kind, Kind::PdsRead | Kind::PdsPatch)
            {
                continue;
            }
            let patient = events[i].patient.clone();
            let near = events[i + 1..]
                .iter()
                .chain(events[..i].iter().rev())
                .find(|e| e.patient == patient && e.ods.is_some() && e.kind != Kind::PdsRead)
                .and_then(|e| e.ods.clone());
            events[i].ods = near;
        }
        let mut request_ids: HashMap<String, Vec<usize>> = HashMap::new();
        let mut trace_ids: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            if e.entry.service == "pds"
                && let Some(id) = e.header("x-request-id")
            {
                request_ids.entry(id.to_owned()).or_default().push(i);
            }
            if e.entry.service == "ssp"
                && let Some(t) = &e.entry.trace_id
            {
                trace_ids.entry(t.clone()).or_default().push(i);
            }
        }
        Self {
            events,
            request_ids,
            trace_ids,
        }
    }

    /// Every consumer with at least one journey, by ODS code.
    /// `floor` gives, per consumer ODS code, the journal sequence up to which its history is
    /// ignored (a cleared history, or a report asked `since` a point).
    pub(crate) fn consumers(
        &self,
        evicted_through: u64,
        floor: &dyn Fn(&str) -> u64,
    ) -> Vec<ConsumerJourneys> {
        let mut by_ods: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, e) in self.events.iter().enumerate() {
            let relevant = matches!(
                e.kind,
                Kind::PdsRead
                    | Kind::PdsPatch
                    | Kind::SspMigrate
                    | Kind::SspDocument
                    | Kind::ProviderMigrate
                    | Kind::ProviderDocument
                    | Kind::SspRetrieve
                    | Kind::ProviderRetrieve
            );
            // Forwarded provider hops are graded through their SSP entry.
            if relevant
                && !(e.is_provider() && e.linked.is_some())
                && let Some(ods) = &e.ods
                && e.seq() > floor(ods)
            {
                by_ods.entry(ods.clone()).or_default().push(i);
            }
        }
        let mut out = Vec::new();
        for (ods, idx) in by_ods {
            let mut journeys: Vec<JourneyEvents> = Vec::new();
            let mut open: HashMap<String, usize> = HashMap::new();
            let mut orphans = Vec::new();
            for &i in &idx {
                let e = &self.events[i];
                let Some(patient) = e.patient.clone() else {
                    orphans.push(i);
                    continue;
                };
                let current = open.get(&patient).copied();
                let j = match current {
                    Some(j) if !(e.kind == Kind::PdsRead && self.run_over(&journeys[j])) => j,
                    _ => {
                        journeys.push(JourneyEvents {
                            patient: patient.clone(),
                            events: Vec::new(),
                            sds: Vec::new(),
                            start_evicted: false,
                            window_evicted: false,
                        });
                        open.insert(patient, journeys.len() - 1);
                        journeys.len() - 1
                    }
                };
                journeys[j].events.push(i);
            }
            // Hops that named no patient (refused before the provider saw a body): the
            // journey under way at the time.
            for i in orphans {
                let seq = self.events[i].seq();
                let best = journeys
                    .iter()
                    .enumerate()
                    .filter(|(_, j)| self.first_seq(j) <= seq)
                    .max_by_key(|(_, j)| self.first_seq(j))
                    .map(|(n, _)| n)
                    .or(if journeys.is_empty() { None } else { Some(0) });
                if let Some(n) = best {
                    journeys[n].events.push(i);
                    journeys[n].events.sort_by_key(|&k| self.events[k].seq());
                }
            }
            // Forwarded provider hops ride along with their SSP entries.
            for j in journeys.iter_mut() {
                let linked: Vec<usize> = j
                    .events
                    .iter()
                    .filter_map(|&k| self.events[k].linked)
                    .collect();
                j.events.extend(linked);
                j.events.sort_by_key(|&k| self.events[k].seq());
                j.events.dedup();
            }
            journeys.sort_by_key(|j| self.first_seq(j));
            let mut seen_patient: BTreeSet<String> = BTreeSet::new();
            for n in 0..journeys.len() {
                let first = self.first_seq(&journeys[n]);
                let last = self.last_seq(&journeys[n]);
                let lower = journeys[..n]
                    .iter()
                    .map(|j| self.last_seq(j))
                    .filter(|&l| l < first)
                    .max()
                    .unwrap_or(0)
                    .max(floor(&ods));
                let sds: Vec<usize> = self
                    .events
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| {
                        matches!(e.kind, Kind::SdsEndpoint | Kind::SdsDevice)
                            && e.seq() > lower
                            && e.seq() <= last
                    })
                    .map(|(i, _)| i)
                    .collect();
                let j = &mut journeys[n];
                let first_kind = j.events.first().map(|&k| self.events[k].kind);
                j.start_evicted = evicted_through > 0
                    && !seen_patient.contains(&j.patient)
                    && first_kind != Some(Kind::PdsRead);
                j.window_evicted = evicted_through > 0 && lower == 0;
                j.sds = sds;
                seen_patient.insert(j.patient.clone());
            }
            let asids = journeys
                .iter()
                .flat_map(|j| j.events.iter())
                .filter_map(|&k| self.events[k].entry.client_asid.clone())
                .collect();
            out.push(ConsumerJourneys {
                ods,
                asids,
                journeys,
            });
        }
        out
    }

    /// Whether a trace of the patient now starts a new run: the journey delivered the record,
    /// or sent a migrate, or had a registration change refused for good (not a version
    /// conflict, not a transient failure). A consumer that mends a refusal without tracing
    /// again stays in the same run.
    fn run_over(&self, journey: &JourneyEvents) -> bool {
        let events = || journey.events.iter().map(|&k| &self.events[k]);
        if journey.events.iter().any(|&k| self.delivered(k)) {
            return true;
        }
        if events().any(|e| {
            matches!(e.kind, Kind::SspMigrate | Kind::SspRetrieve)
                || matches!(e.kind, Kind::ProviderMigrate | Kind::ProviderRetrieve) && e.direct()
        }) {
            return true;
        }
        events().any(|e| {
            e.kind == Kind::PdsPatch
                && !e.ok()
                && e.entry.status != 409
                && e.entry.status != 429
                && e.entry.status < 500
        })
    }

    /// A migrate (or a retrieve) the provider answered 200.
    pub(crate) fn delivered(&self, i: usize) -> bool {
        let e = &self.events[i];
        match e.kind {
            Kind::ProviderMigrate | Kind::ProviderRetrieve => e.ok(),
            Kind::SspMigrate | Kind::SspRetrieve => {
                e.ok() && e.linked.is_some_and(|l| self.events[l].ok())
            }
            _ => false,
        }
    }

    pub(crate) fn first_seq(&self, j: &JourneyEvents) -> u64 {
        j.events.first().map_or(0, |&k| self.events[k].seq())
    }

    pub(crate) fn last_seq(&self, j: &JourneyEvents) -> u64 {
        j.events.last().map_or(0, |&k| self.events[k].seq())
    }
}
