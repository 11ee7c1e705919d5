//! One exchange, from its arrival to its journal entry: the one place an [`Entry`] is made.
//!
//! A listener opens an [`Exchange`] when a request arrives (taking its place in the journal),
//! lets the service answer, then files what only the service knows ([`Outcome`]); the facts
//! every entry has (time, method, path, duration, the `Ssp-*` headers, the decoded JWT) are
//! filled in here.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Method, Request};

use super::{BodyText, Entry, Headers, Journal, Ticket};

/// A request on its way through a listener.
pub(crate) struct Exchange {
    ticket: Ticket,
    started: Instant,
    time: chrono::DateTime<chrono::Utc>,
    service: &'static str,
    method: Method,
    path: String,
    request_headers: Headers,
}

/// What an exchange came to: what only the service that answered knows.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub status: u16,
    /// `CODE: diagnostics`, when the request was refused.
    pub refusal: Option<String>,
    /// The injected fault's note.
    pub fault: Option<String>,
    pub target: Option<String>,
    pub client_asid: Option<String>,
    pub request_body: Option<BodyText>,
    pub response_headers: Headers,
    pub response_body: Option<BodyText>,
    pub documents: Option<Arc<[String]>>,
}

/// nginx's 444, "connection closed without response": the status journalled for a dropped
/// connection.
pub(crate) const DROPPED: u16 = 444;

impl Exchange {
    /// Takes the request's place in `journal`.
    pub(crate) fn begin(
        journal: &Journal,
        time: chrono::DateTime<chrono::Utc>,
        service: &'static str,
        method: Method,
        path: String,
        headers: &HeaderMap,
    ) -> Self {
        Self {
            ticket: journal.begin(),
            started: Instant::now(),
            time,
            service,
            method,
            path,
            request_headers: Headers::copy_of(headers),
        }
    }

    /// [`Exchange::begin`] for a request as it arrived (the path with its query).
    pub(crate) fn of<B>(
        journal: &Journal,
        time: chrono::DateTime<chrono::Utc>,
        service: &'static str,
        req: &Request<B>,
    ) -> Self {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        Self::begin(
            journal,
            time,
            service,
            req.method().clone(),
            path,
            req.headers(),
        )
    }

    pub(crate) fn time(&self) -> chrono::DateTime<chrono::Utc> {
        self.time
    }

    pub(crate) fn method(&self) -> &Method {
        &self.method
    }

    /// The path with its query, as sent.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The first value of a request header (any case), as sent less surrounding spaces.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.request_headers
            .first(name)
            .map(|v| v.trim().to_owned())
    }

    /// Files the entry; returns its sequence number.
    pub(crate) fn finish(self, journal: &Journal, outcome: Outcome) -> u64 {
        let (ssp, jwt) = self.request_headers.shown();
        let entry = Entry {
            sequence: 0,
            time: self.time,
            service: self.service,
            status: outcome.status,
            duration_ms: self.started.elapsed().as_secs_f64() * 1000.0,
            trace_id: ssp.trace_id,
            from_asid: ssp.from,
            to_asid: ssp.to,
            interaction: ssp.interaction,
            refusal: outcome.refusal,
            target: outcome.target,
            jwt,
            request_body: outcome.request_body,
            response_headers: outcome.response_headers,
            response_body: outcome.response_body,
            client_asid: outcome.client_asid,
            documents: outcome.documents,
            fault: outcome.fault,
            method: self.method,
            path: self.path,
            request_headers: self.request_headers,
        };
        journal.complete(self.ticket, entry)
    }
}
