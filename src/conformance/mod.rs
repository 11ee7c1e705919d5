//! The conformance report: every migration journey a consumer system made, rebuilt from the
//! journal and graded against what the GP Connect migrate, SSP, SDS and PDS specifications ask
//! of a consumer.
//!
//! - [`journeys`]: turns journal entries into consumers (ODS code in the JWT or PDS headers,
//!   ASID of the client certificate) and their journeys, one per patient and attempt.
//! - [`checks`]: the ordered checklist; each check cites its rule, the NHS page and the journal
//!   entries that prove the verdict.
//! - [`render`]: the readable text report and JUnit XML (written by hand, no dependency).
//! - [`deliveries`]: the last migrate Bundles delivered, whole, for the web page's record view
//!   (the journal keeps only the first 16 KiB of a body).

pub mod checks;
pub mod deliveries;
pub mod journeys;
pub mod remote;
pub mod render;

use serde::{Deserialize, Serialize};

use crate::journal::Entry;

pub use deliveries::{Delivered, Deliveries};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The journey stopped before the step this check grades.
    NotReached,
    Pass,
    /// Allowed, but not what the specification intends (or the journal cannot tell).
    Warning,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
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
pub struct Check {
    /// Stable name, e.g. `pds.trace-before-change`.
    pub id: String,
    /// `PDS`, `SDS`, `SSP`, `JWT`, `migrate`, `documents`, `refusals`.
    pub area: String,
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
pub struct Journey {
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
}

/// A consumer system: an ODS code and the ASIDs its client certificates carried.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consumer {
    pub ods: String,
    pub asids: Vec<String>,
    pub verdict: Status,
    pub journeys: Vec<Journey>,
}

/// What the journal held when the report was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JournalSpan {
    pub entries: usize,
    pub first_sequence: Option<u64>,
    pub last_sequence: Option<u64>,
    /// Entries up to this sequence number were dropped to keep the journal bounded (0: none).
    pub evicted_through: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub journal: JournalSpan,
    pub consumers: Vec<Consumer>,
}

impl Report {
    /// The worst verdict of every journey (`NotReached` when there are none).
    pub fn verdict(&self) -> Status {
        self.consumers
            .iter()
            .map(|c| c.verdict)
            .max()
            .unwrap_or(Status::NotReached)
    }

    pub fn journeys(&self) -> usize {
        self.consumers.iter().map(|c| c.journeys.len()).sum()
    }
}

/// Which consumers to report on.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub ods: Option<String>,
    pub asid: Option<String>,
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

/// Builds the report from journal entries (oldest first).
pub fn report(entries: &[std::sync::Arc<Entry>], evicted_through: u64, filter: &Filter) -> Report {
    let span = JournalSpan {
        entries: entries.len(),
        first_sequence: entries.first().map(|e| e.sequence),
        last_sequence: entries.last().map(|e| e.sequence),
        evicted_through,
    };
    let index = journeys::Index::new(entries);
    let consumers = index
        .consumers(evicted_through)
        .into_iter()
        .map(|c| {
            let journeys: Vec<Journey> = c
                .journeys
                .iter()
                .map(|j| checks::grade(&index, &c, j))
                .collect();
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
        .filter(|c| filter.keeps(c))
        .collect();
    Report {
        journal: span,
        consumers,
    }
}
