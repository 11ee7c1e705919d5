//! The conformance report: every migration journey a consumer system made, rebuilt from the
//! journal and graded against what the GP Connect migrate, SSP, SDS and PDS specifications ask
//! of a consumer.
//!
//! - [`journeys`]: turns journal entries into consumers (ODS code in the JWT or PDS headers,
//!   ASID of the client certificate) and their journeys, one per patient and attempt.
//! - [`checks`]: the ordered checklist, each rule declared as data (id, area, rule, NHS page,
//!   evaluation); each check cites the journal entries that prove the verdict.
//! - [`render`]: the readable text report and JUnit XML (written by hand, no dependency).
//! - [`deliveries`]: the last migrate Bundles delivered, whole, for the web page's record view
//!   (the journal keeps only the first 16 KiB of a body).

pub(crate) mod checks;
pub(crate) mod deliveries;
pub(crate) mod evidence;
pub(crate) mod journeys;
pub(crate) mod remote;
pub(crate) mod render;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::journal::Entry;

pub(crate) use checks::{Area, CheckId};
pub(crate) use deliveries::{Delivered, Deliveries};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// The journey stopped before the step this check grades.
    NotReached,
    Pass,
    /// Allowed, but not what the specification intends (or the journal cannot tell).
    Warning,
    Fail,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::NotReached => "not reached",
            Status::Pass => "pass",
            Status::Warning => "warning",
            Status::Fail => "fail",
        }
    }
}

/// One graded rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Check {
    /// Stable name, e.g. `pds.trace-before-change`.
    pub id: CheckId,
    /// `PDS`, `SDS`, `SSP`, `JWT`, `migrate`, `documents`, `refusals`.
    pub area: Area,
    pub title: String,
    pub status: Status,
    /// The rule, in our words.
    pub rule: String,
    /// The NHS page that states it.
    pub url: String,
    /// What the journal shows, for this journey.
    pub detail: String,
    /// Journal sequence numbers that prove the verdict.
    pub entries: Vec<u64>,
}

/// One patient's migration by one consumer, from its trace to its last document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Journey {
    pub patient: String,
    pub first_sequence: u64,
    pub last_sequence: u64,
    /// The journal dropped entries just before this journey began: its start may be lost, so
    /// checks about the start say so instead of guessing.
    pub start_evicted: bool,
    /// The practice the record came from (SSP target or PDS trace).
    pub previous_practice: Option<String>,
    /// Whether the consumer asked for sensitive information.
    pub sensitive: Option<bool>,
    /// The provider entry that delivered the record, when one did.
    pub record_sequence: Option<u64>,
    /// DocumentReferences the delivered Bundle listed.
    pub documents: usize,
    pub verdict: Status,
    pub checks: Vec<Check>,
    /// Journal sequence numbers of every hop of this journey (SDS lookups in its window
    /// included), for the evidence pack.
    #[serde(default)]
    pub hops: Vec<u64>,
}

/// A consumer system: an ODS code and the ASIDs its client certificates carried.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Consumer {
    pub ods: String,
    pub asids: Vec<String>,
    pub verdict: Status,
    pub journeys: Vec<Journey>,
}

/// What the journal held when the report was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct JournalSpan {
    pub entries: usize,
    pub first_sequence: Option<u64>,
    pub last_sequence: Option<u64>,
    /// Entries up to this sequence number were dropped to keep the journal bounded (0: none).
    pub evicted_through: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    pub journal: JournalSpan,
    pub consumers: Vec<Consumer>,
}

impl Report {
    /// The worst verdict of every journey (`NotReached` when there are none).
    pub(crate) fn verdict(&self) -> Status {
        self.consumers
            .iter()
            .map(|c| c.verdict)
            .max()
            .unwrap_or(Status::NotReached)
    }

    pub(crate) fn journeys(&self) -> usize {
        self.consumers.iter().map(|c| c.journeys.len()).sum()
    }
}

/// Which consumers, runs and patients to report on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub ods: Option<String>,
    pub asid: Option<String>,
    /// Only this patient's journeys.
    pub patient: Option<String>,
    /// Only what happened after this journal sequence number (one run: note the journal's last
    /// sequence before the run, then ask with `since`).
    pub since: Option<u64>,
    /// Only what happened at or after this time.
    pub since_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Only each consumer's last journey.
    pub last: bool,
}

impl Filter {
    fn keeps(&self, consumer: &Consumer) -> bool {
        self.ods
            .as_ref()
            .is_none_or(|o| o.eq_ignore_ascii_case(&consumer.ods))
            && self
                .asid
                .as_ref()
                .is_none_or(|a| consumer.asids.iter().any(|x| x == a))
    }
}

/// Consumers whose history was cleared (`DELETE /_admin/consumers/{ODS}/history`): the report
/// ignores their entries up to the journal sequence recorded here, without touching the
/// journal or anyone else's history.
#[derive(Debug, Clone, Default)]
pub struct Marks(Arc<Mutex<BTreeMap<String, u64>>>);

impl Marks {
    /// Forgets the consumer's history up to and including `through`.
    pub fn clear_through(&self, ods: &str, through: u64) {
        if let Ok(mut m) = self.0.lock() {
            let mark = m.entry(ods.to_ascii_uppercase()).or_default();
            *mark = (*mark).max(through);
        }
    }

    pub fn get(&self, ods: &str) -> u64 {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(&ods.to_ascii_uppercase()).copied())
            .unwrap_or(0)
    }

    pub fn all(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }
}

#[cfg(test)]
/// Builds the report from journal entries (oldest first).
pub(crate) fn report(entries: &[Arc<Entry>], evicted_through: u64, filter: &Filter) -> Report {
    report_with(entries, evicted_through, filter, &BTreeMap::new())
}

/// [`report`], ignoring each consumer's entries up to its mark in `cleared`.
pub(crate) fn report_with(
    entries: &[Arc<Entry>],
    evicted_through: u64,
    filter: &Filter,
    cleared: &BTreeMap<String, u64>,
) -> Report {
    let span = JournalSpan {
        entries: entries.len(),
        first_sequence: entries.first().map(|e| e.sequence),
        last_sequence: entries.last().map(|e| e.sequence),
        evicted_through,
    };
    // A time bound becomes a sequence bound: the entry before the first one at or after it.
    let since_time = filter.since_time.map(|t| {
        entries
            .iter()
            .find(|e| e.time >= t)
            .map_or_else(|| span.last_sequence.unwrap_or(0), |e| e.sequence - 1)
    });
    let since = filter.since.unwrap_or(0).max(since_time.unwrap_or(0));
    let floor = |ods: &str| since.max(cleared.get(&ods.to_ascii_uppercase()).copied().unwrap_or(0));
    let index = journeys::Index::new(entries);
    let consumers = index
        .consumers(evicted_through, &floor)
        .into_iter()
        .map(|c| {
            let mut journeys: Vec<Journey> = c
                .journeys
                .iter()
                .filter(|j| {
                    filter
                        .patient
                        .as_ref()
                        .is_none_or(|p| p.trim() == j.patient)
                })
                .map(|j| checks::grade(&index, &c, j))
                .collect();
            if filter.last && journeys.len() > 1 {
                journeys.drain(..journeys.len() - 1);
            }
            Consumer {
                verdict: journeys
                    .iter()
                    .map(|j| j.verdict)
                    .max()
                    .unwrap_or(Status::NotReached),
                ods: c.ods.clone(),
                asids: c.asids.iter().cloned().collect(),
                journeys,
            }
        })
        .filter(|c| filter.keeps(c) && !c.journeys.is_empty())
        .collect();
    Report {
        journal: span,
        consumers,
    }
}
