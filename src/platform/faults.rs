//! Faults on demand: rules that make a service slow, refuse with the status the real service
//! sends when it is overloaded or down, or drop the connection, so consumer code for retries,
//! timeouts and outages can be rehearsed.
//!
//! A rule names a service and optionally narrows it (method, path pattern, patient, consumer
//! ASID); it injects latency, a status, a dropped connection, or latency followed by one of the
//! others. `count` limits it to the first N matching requests (fail N times, then answer
//! normally) and `for_secs` to a time window from when it was set. Rules come from the
//! scenario's `faults:` and from `POST /_admin/faults`; `POST /_admin/reset` restores the
//! scenario's.
//!
//! With no rule set, [`Faults::pick`] is one atomic load: the request path pays nothing else.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::fhir::{FhirError, OutcomeStyle};

/// The services a rule can target (the journal's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Pds,
    Sds,
    Ssp,
    Provider,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Pds => "pds",
            Service::Sds => "sds",
            Service::Ssp => "ssp",
            Service::Provider => "provider",
        }
    }

    /// The statuses a rule may inject for this service: the ones the real service (or the API
    /// platform in front of it) is known to send when overloaded or failing.
    pub fn statuses(self) -> &'static [u16] {
        match self {
            Service::Pds => &[429, 500, 503],
            Service::Sds => &[429, 500, 502, 504],
            Service::Ssp => &[429, 502, 503, 504],
            Service::Provider => &[500, 503],
        }
    }
}

/// One rule as written in the scenario or posted to the admin API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// `pds`, `sds`, `ssp` or `provider`.
    pub service: Service,
    /// Only this HTTP method (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Only paths matching this pattern; `*` matches any run of characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Only requests naming this NHS number in the path or the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// Only requests from this consumer ASID (`Ssp-From`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asid: Option<String>,
    /// Wait this long before answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// With `latency_ms`: wait a random time between `latency_ms` and this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_max_ms: Option<u64>,
    /// Answer with this status and the body the real service sends with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `Retry-After` seconds on a 429 or 503 (the platform's defaults when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Close the connection without answering.
    #[serde(default, skip_serializing_if = "is_false")]
    pub drop: bool,
    /// Apply to the first N matching requests only, then answer normally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Apply only for this many seconds after the rule is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_secs: Option<u64>,
    /// A name shown in the journal and on the web page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// serde's words with its Rust type names said as a rule's author would: `expected u16`
/// becomes `expected a whole number from 0 to 65535`.
fn plain_serde_words(message: &str) -> String {
    let mut out = message.to_owned();
    for (rust, plain) in [
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u64", "expected a whole number of at least 0"),
        ("expected a boolean", "expected true or false"),
        (
            "expected enum Service",
            "expected one of pds, sds, ssp, provider",
        ),
    ] {
        out = out.replace(rust, plain);
    }
    out
}

/// Longest latency a rule may ask for: beyond it the sandbox's own request timeout answers.
pub(crate) const MAX_LATENCY_MS: u64 = 10 * 60 * 1000;

impl FaultSpec {
    /// Reads and checks a rule from JSON (the admin API); errors name the field.
    pub fn from_json(value: serde_json::Value) -> Result<Self, String> {
        let spec: FaultSpec = serde_path_to_error::deserialize(value).map_err(|e| {
            let field = e.path().to_string();
            let message = plain_serde_words(&e.into_inner().to_string());
            if field == "." {
                // A problem of the rule as a whole (not an object, a missing or unknown field):
                // serde's message already names the field.
                message
            } else {
                format!("{field}: {message}")
            }
        })?;
        spec.check()?;
        Ok(spec)
    }

    /// The checks serde cannot make; every message names the field it is about.
    pub fn check(&self) -> Result<(), String> {
        if let Some(method) = &self.method
            && Method::from_bytes(method.to_ascii_uppercase().as_bytes()).is_err()
        {
            return Err(format!("method: '{method}' is not an HTTP method"));
        }
        if let Some(path) = &self.path
            && !path.starts_with('/')
            && !path.starts_with('*')
        {
            return Err(format!(
                "path: '{path}' must start with '/' (or '*'); e.g. '/personal-demographics/FHIR/R4/Patient/*'"
            ));
        }
        if let Some(patient) = &self.patient
            && crate::nhs_number::NhsNumber::parse(patient).is_err()
        {
            return Err(format!("patient: '{patient}' is not a valid NHS number"));
        }
        if let Some(asid) = &self.asid
            && (asid.len() != 12 || !asid.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!("asid: '{asid}' must be 12 digits"));
        }
        if let Some(ms) = self.latency_ms
            && ms > MAX_LATENCY_MS
        {
            return Err(format!(
                "latency_ms: {ms} is more than the {MAX_LATENCY_MS} ms a rule may wait"
            ));
        }
        match (self.latency_ms, self.latency_max_ms) {
            (None, Some(_)) => {
                return Err(
                    "latency_max_ms: give latency_ms too (the low end of the range)".into(),
                );
            }
            (Some(low), Some(high)) if high < low || high > MAX_LATENCY_MS => {
                return Err(format!(
                    "latency_max_ms: {high} must be between latency_ms ({low}) and {MAX_LATENCY_MS}"
                ));
            }
            _ => {}
        }
        if let Some(status) = self.status {
            let allowed = self.service.statuses();
            if !allowed.contains(&status) {
                return Err(format!(
                    "status: {} does not inject {status}; it can inject {}",
                    self.service.as_str(),
                    allowed
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if self.drop {
                return Err(
                    "drop: a rule either answers with a status or drops the connection, not both"
                        .into(),
                );
            }
        }
        if self.retry_after.is_some() && !matches!(self.status, Some(429 | 503)) {
            return Err("retry_after: only a 429 or 503 carries Retry-After".into());
        }
        if self.latency_ms.is_none() && self.status.is_none() && !self.drop {
            return Err("a rule must inject something: latency_ms, status or drop: true".into());
        }
        if self.count == Some(0) {
            return Err("count: must be at least 1 (leave it out for no limit)".into());
        }
        if self.for_secs == Some(0) {
            return Err("for_secs: must be at least 1 (leave it out for no limit)".into());
        }
        Ok(())
    }

    /// A short description for the journal: `PDS is slow: latency 3000 ms`.
    fn describe(&self, id: u64, latency: Option<Duration>) -> String {
        let mut parts = Vec::new();
        if let Some(d) = latency {
            parts.push(format!("latency {} ms", d.as_millis()));
        }
        if let Some(s) = self.status {
            parts.push(format!("status {s}"));
        }
        if self.drop {
            parts.push("connection dropped".to_owned());
        }
        let what = parts.join(", ");
        match &self.label {
            Some(label) => format!("fault {id} ({label}): {what}"),
            None => format!("fault {id}: {what}"),
        }
    }
}

/// Where a rule came from: the scenario's rules come back on reset, runtime ones do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Scenario,
    Runtime,
}

/// A rule in force, with its usage.
#[derive(Debug)]
pub struct Rule {
    pub id: u64,
    pub origin: Origin,
    pub spec: FaultSpec,
    set_at: Instant,
    applied: AtomicU64,
}

impl Rule {
    fn matches(&self, req: &RequestFacts<'_>) -> bool {
        let spec = &self.spec;
        spec.service == req.service
            && spec
                .method
                .as_ref()
                .is_none_or(|m| m.eq_ignore_ascii_case(req.method.as_str()))
            && spec.path.as_ref().is_none_or(|p| glob(p, req.path))
            && spec.asid.as_ref().is_none_or(|a| {
                req.headers
                    .get("ssp-from")
                    .is_some_and(|v| v.as_bytes() == a.as_bytes())
            })
            && spec.patient.as_ref().is_none_or(|nhs| {
                req.path.contains(nhs.as_str())
                    || req.body.windows(nhs.len()).any(|w| w == nhs.as_bytes())
            })
            && spec
                .for_secs
                .is_none_or(|secs| self.set_at.elapsed() < Duration::from_secs(secs))
    }

    /// Counts one use; false when the rule's `count` is already spent.
    fn take(&self) -> bool {
        let before = self.applied.fetch_add(1, Ordering::Relaxed);
        match self.spec.count {
            Some(limit) if before >= limit => {
                self.applied.fetch_sub(1, Ordering::Relaxed);
                false
            }
            _ => true,
        }
    }

    pub fn view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.spec).unwrap_or_default();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("id".into(), self.id.into());
            obj.insert(
                "origin".into(),
                serde_json::to_value(self.origin).unwrap_or_default(),
            );
            obj.insert(
                "applied".into(),
                self.applied.load(Ordering::Relaxed).into(),
            );
            let spent = self
                .spec
                .count
                .is_some_and(|c| self.applied.load(Ordering::Relaxed) >= c)
                || self
                    .spec
                    .for_secs
                    .is_some_and(|s| self.set_at.elapsed() >= Duration::from_secs(s));
            obj.insert("active".into(), (!spent).into());
        }
        v
    }
}

/// A rule as the state dir keeps it: its number, origin, spec, uses so far and age.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedRule {
    pub id: u64,
    pub origin: Origin,
    pub spec: FaultSpec,
    pub applied: u64,
    /// Milliseconds since the rule was set (its `for_secs` window runs on from there).
    pub age_ms: u64,
}

/// `*` matches any run of characters (including `/`); everything else literally.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    if parts.len() == 1 {
        return pattern == text;
    }
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// What a rule can look at in a request.
pub struct RequestFacts<'a> {
    pub service: Service,
    pub method: &'a Method,
    /// Path without the query.
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    /// Empty where the body is streamed (SSP).
    pub body: &'a [u8],
}

/// What to do to one request.
#[derive(Debug, Clone)]
pub struct Injection {
    pub latency: Option<Duration>,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub drop: bool,
    /// For the journal.
    pub note: String,
}

pub(crate) use crate::http::DropConnection;

impl Injection {
    /// Waits the injected latency, then gives the answer that replaces the service's, if the
    /// fault has one: a dropped connection, or the service's answer for the injected status
    /// (`target`: what the request asked for, named in that answer).
    pub async fn apply(
        &self,
        service: Service,
        target: &str,
    ) -> Option<http::Response<bytes::Bytes>> {
        if let Some(delay) = self.latency {
            tokio::time::sleep(delay).await;
        }
        if self.drop {
            let mut resp = http::Response::new(bytes::Bytes::new());
            resp.extensions_mut().insert(DropConnection);
            return Some(resp);
        }
        self.status
            .map(|status| status_response(service, status, self.retry_after, target))
    }
}

/// The rule set, shared by every listener.
#[derive(Debug, Default)]
pub struct Faults {
    /// True when any rule is set: the request path's only cost when none is.
    any: AtomicBool,
    rules: RwLock<Vec<Arc<Rule>>>,
    scenario: Vec<FaultSpec>,
    next_id: AtomicU64,
}

impl Faults {
    /// The scenario's rules, in force from the start.
    pub fn new(scenario: Vec<FaultSpec>) -> Self {
        let faults = Self {
            scenario,
            next_id: AtomicU64::new(1),
            ..Default::default()
        };
        faults.reset();
        faults
    }

    /// Drops every rule and restores the scenario's, with fresh counts.
    pub fn reset(&self) {
        let rules: Vec<Arc<Rule>> = self
            .scenario
            .iter()
            .map(|spec| self.rule(spec.clone(), Origin::Scenario))
            .collect();
        self.store(rules);
    }

    fn rule(&self, spec: FaultSpec, origin: Origin) -> Arc<Rule> {
        Arc::new(Rule {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            origin,
            spec,
            set_at: Instant::now(),
            applied: AtomicU64::new(0),
        })
    }

    fn store(&self, rules: Vec<Arc<Rule>>) {
        let mut guard = self.rules.write().unwrap_or_else(|e| e.into_inner());
        self.any.store(!rules.is_empty(), Ordering::Release);
        *guard = rules;
    }

    fn snapshot(&self) -> Vec<Arc<Rule>> {
        self.rules.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds a runtime rule; returns it.
    pub fn add(&self, spec: FaultSpec) -> Arc<Rule> {
        let rule = self.rule(spec, Origin::Runtime);
        let mut rules = self.snapshot();
        rules.push(rule.clone());
        self.store(rules);
        rule
    }

    /// Removes one rule (scenario or runtime); false when there is no such id.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.snapshot();
        let before = rules.len();
        rules.retain(|r| r.id != id);
        let removed = rules.len() != before;
        self.store(rules);
        removed
    }

    /// Removes every rule, the scenario's included, until the next reset.
    pub fn clear(&self) {
        self.store(Vec::new());
    }

    pub fn list(&self) -> Vec<serde_json::Value> {
        self.snapshot().iter().map(|r| r.view()).collect()
    }

    /// The rules in force and the next rule number, for the state dir.
    pub fn saved(&self) -> (Vec<SavedRule>, u64) {
        let rules = self
            .snapshot()
            .iter()
            .map(|r| SavedRule {
                id: r.id,
                origin: r.origin,
                spec: r.spec.clone(),
                applied: r.applied.load(Ordering::Relaxed),
                age_ms: u64::try_from(r.set_at.elapsed().as_millis()).unwrap_or(u64::MAX),
            })
            .collect();
        (rules, self.next_id.load(Ordering::Relaxed))
    }

    /// Puts back the rules read from the state dir in place of those in force; rule numbers
    /// go on from past the highest seen.
    pub fn restore(&self, saved: Vec<SavedRule>, next_id: u64) {
        let now = Instant::now();
        let highest = saved.iter().map(|r| r.id).max().unwrap_or(0);
        let rules = saved
            .into_iter()
            .map(|r| {
                Arc::new(Rule {
                    id: r.id,
                    origin: r.origin,
                    spec: r.spec,
                    set_at: now
                        .checked_sub(Duration::from_millis(r.age_ms))
                        .unwrap_or(now),
                    applied: AtomicU64::new(r.applied),
                })
            })
            .collect();
        self.store(rules);
        self.next_id
            .fetch_max(next_id.max(highest.saturating_add(1)), Ordering::Relaxed);
    }

    /// True when any rule is set (in force or not yet used up): only then can a request meet
    /// a fault.
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// The first rule in force that matches, counted as used.
    pub fn pick(&self, req: &RequestFacts<'_>) -> Option<Injection> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let rules = self.snapshot();
        let rule = rules.iter().find(|r| r.matches(req) && r.take())?;
        let spec = &rule.spec;
        let latency = spec.latency_ms.map(|low| {
            let high = spec.latency_max_ms.unwrap_or(low);
            let ms = if high > low {
                low + u64::from(uuid::Uuid::new_v4().as_u128() as u32) % (high - low + 1)
            } else {
                low
            };
            Duration::from_millis(ms)
        });
        Some(Injection {
            latency,
            status: spec.status,
            retry_after: spec.retry_after,
            drop: spec.drop,
            note: spec.describe(rule.id, latency),
        })
    }
}

/// The answer a service gives for an injected status: the body the real service (or the API
/// platform in front of it) sends.
pub(crate) fn status_response(
    service: Service,
    status: u16,
    retry_after: Option<u64>,
    target: &str,
) -> Response<Bytes> {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (error, style) = match (service, status) {
        (Service::Pds | Service::Sds, 429) => (platform_spike_arrest(None), OutcomeStyle::Pds),
        (Service::Pds, 503) => (pds_service_unavailable(), OutcomeStyle::Pds),
        (Service::Pds, _) => (
            r4_error(
                code,
                "unknown",
                "UNKNOWN_ERROR",
                "Unknown Error",
                "PDS failed while processing the request (injected fault)",
            ),
            OutcomeStyle::Pds,
        ),
        (Service::Sds, 502) => (
            sds_internal(code, "Invalid LDAP response received"),
            OutcomeStyle::Sds,
        ),
        (Service::Sds, 504) => (
            sds_internal(code, "LDAP request timed out"),
            OutcomeStyle::Sds,
        ),
        (Service::Sds, _) => (
            sds_internal(code, "Internal server error"),
            OutcomeStyle::Sds,
        ),
        (Service::Ssp, 502) => (
            FhirError::ssp_refusal(
                code,
                "transient",
                format!("ERROR_COMMUNICATING_TO_ENDPOINT_URL_{target}"),
                "the provider could not be reached (injected fault)",
            ),
            OutcomeStyle::Ssp,
        ),
        (Service::Ssp, 504) => (
            FhirError::ssp_refusal(
                code,
                "timeout",
                format!("TIMEOUT_COMMUNICATING_TO_ENDPOINT_URL_{target}"),
                "the provider sent no response in time (injected fault)",
            ),
            OutcomeStyle::Ssp,
        ),
        (Service::Ssp, 429) => (
            FhirError::ssp_refusal(
                code,
                "throttled",
                "TOO_MANY_REQUESTS",
                "Spine is throttling this sender (injected fault)",
            ),
            OutcomeStyle::Ssp,
        ),
        (Service::Ssp, _) => (
            FhirError::ssp_refusal(
                code,
                "transient",
                "SERVICE_UNAVAILABLE",
                "Spine is unavailable (injected fault)",
            ),
            OutcomeStyle::Ssp,
        ),
        (Service::Provider, _) => {
            let mut e = FhirError::internal(
                "the provider's system is failing (injected fault); retry later",
            );
            e.status = code;
            (e, OutcomeStyle::GpConnect)
        }
    };
    let mut resp = error.to_response(style);
    let retry = match (service, status) {
        (_, 429) => retry_after,
        (Service::Pds, 503) => Some(retry_after.unwrap_or(100)),
        (_, 503) => retry_after,
        _ => None,
    };
    if let Some(secs) = retry
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    resp
}

/// A PDS-dialect (R4) error with the code and display given as they are.
pub(crate) fn r4_error(
    status: StatusCode,
    issue_type: &'static str,
    code: &str,
    display: &str,
    diagnostics: &str,
) -> FhirError {
    FhirError {
        status,
        issue_type,
        code: code.to_owned(),
        display: display.to_owned(),
        diagnostics: diagnostics.to_owned(),
        severity: "error",
    }
}

/// The API platform's 429 when an application (named) or the whole API is over its rate.
pub(crate) fn platform_spike_arrest(app: Option<&str>) -> FhirError {
    let diagnostics = match app {
        Some(name) => format!(
            "Your application, {name}, has created a spike in traffic and is being rate limited. Please reduce the frequency of your requests. Please see: https://digital.nhs.uk/developer/guides-and-documentation/reference-guide#rate-limits for more details."
        ),
        None => "This API is currently receiving a high volume of requests and is being rate limited. Please see: https://digital.nhs.uk/developer/guides-and-documentation/reference-guide#rate-limits for more details.".to_owned(),
    };
    r4_error(
        StatusCode::TOO_MANY_REQUESTS,
        "value",
        "TOO_MANY_REQUESTS",
        "Too many requests",
        &diagnostics,
    )
}

fn pds_service_unavailable() -> FhirError {
    r4_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
        "SERVICE_UNAVAILABLE",
        "Service unavailable",
        "The downstream domain processing has not completed within the configured timeout period. Retry your request with the value in the 'Retry-After' header, using the same 'X-Request-ID'.",
    )
}

fn sds_internal(status: StatusCode, diagnostics: &str) -> FhirError {
    FhirError {
        status,
        issue_type: "exception",
        code: "INTERNAL_SERVER_ERROR".to_owned(),
        display: "Unexpected internal server error".to_owned(),
        diagnostics: diagnostics.to_owned(),
        severity: "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Result<FaultSpec, String> {
        FaultSpec::from_json(json)
    }

    #[test]
    fn glob_matches_runs() {
        assert!(glob("/a/*", "/a/b/c"));
        assert!(glob("*", ""));
        assert!(glob("/a/*/c", "/a/b/c"));
        assert!(!glob("/a/*/c", "/a/b/d"));
        assert!(glob("/exact", "/exact"));
        assert!(!glob("/exact", "/exact/more"));
        assert!(glob("*Patient*", "/x/Patient/9000000009"));
    }

    #[test]
    fn rules_are_checked_field_by_field() {
        let bad = [
            (serde_json::json!({"service": "pds"}), "must inject"),
            (
                serde_json::json!({"service": "pdx", "status": 503}),
                "unknown variant",
            ),
            (
                serde_json::json!({"service": "pds", "status": 502}),
                "status: pds does not inject 502",
            ),
            (
                serde_json::json!({"service": "pds", "sttus": 503}),
                "unknown field `sttus`",
            ),
            (
                serde_json::json!({"service": "pds", "latency_ms": 10, "latency_max_ms": 5}),
                "latency_max_ms",
            ),
            (
                serde_json::json!({"service": "pds", "status": 503, "drop": true}),
                "drop",
            ),
            (
                serde_json::json!({"service": "pds", "status": 503, "count": 0}),
                "count",
            ),
            (
                serde_json::json!({"service": "pds", "drop": true, "patient": "123"}),
                "patient",
            ),
            (
                serde_json::json!({"service": "ssp", "drop": true, "asid": "12"}),
                "asid",
            ),
            (
                serde_json::json!({"service": "pds", "drop": true, "path": "Patient"}),
                "path",
            ),
            (
                serde_json::json!({"service": "pds", "status": 500, "retry_after": 5}),
                "retry_after",
            ),
        ];
        let named = [
            (
                serde_json::json!({"service": "pds", "status": "abc"}),
                "status: invalid type: string \"abc\", expected a whole number from 0 to 65535",
            ),
            (
                serde_json::json!({"service": "mainframe", "status": 503}),
                "service: unknown variant `mainframe`, expected one of `pds`, `sds`, `ssp`, `provider`",
            ),
            (
                serde_json::json!({"service": "pds", "drop": "yes"}),
                "drop: invalid type: string \"yes\", expected true or false",
            ),
            (
                serde_json::json!({"service": "pds", "status": 503, "latency_ms": -5}),
                "latency_ms: invalid value: integer `-5`, expected a whole number of at least 0",
            ),
        ];
        for (json, whole) in named {
            assert_eq!(spec(json.clone()).unwrap_err(), whole, "{json}");
        }
        for (json, needle) in bad {
            let err = spec(json.clone()).unwrap_err();
            assert!(err.contains(needle), "{json}: {err}");
        }
        assert!(spec(serde_json::json!({"service": "ssp", "status": 503, "count": 2})).is_ok());
    }

    #[test]
    fn count_limits_a_rule_then_requests_pass() {
        let faults = Faults::new(vec![]);
        faults.add(spec(serde_json::json!({"service": "pds", "status": 503, "count": 2})).unwrap());
        let headers = HeaderMap::new();
        let facts = RequestFacts {
            service: Service::Pds,
            method: &Method::GET,
            path: "/personal-demographics/FHIR/R4/Patient/9000000009",
            headers: &headers,
            body: b"",
        };
        assert!(faults.pick(&facts).is_some());
        assert!(faults.pick(&facts).is_some());
        assert!(faults.pick(&facts).is_none());
        let sds = RequestFacts {
            service: Service::Sds,
            ..facts
        };
        assert!(faults.pick(&sds).is_none());
    }
}
