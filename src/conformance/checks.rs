//! The checklist, in the order a consumer meets the rules. Each area's file declares its rules
//! as data ([`Rule`]: id, title, rule, NHS source, evaluation); what the rules share is written
//! once here: the events a journey sent, the SDS look-ups that came before their use, and the
//! verdict built from what a rule found ([`Findings`]). Each check reads only the journal: what
//! was sent, what came back, and in which order.

use chrono::Utc;

use super::journeys::{ConsumerJourneys, Event, Index, JourneyEvents, Kind, provider_ods};
use super::{Check, Journey, Status};
use crate::identifiers::interactions;
use crate::jwt::Rules;

mod documents;
mod jwt;
mod migrate;
mod pds;
mod refusals;
mod retrieve;
mod rule;
mod sds;
mod ssp;

pub(crate) use rule::{Area, CheckId, Findings, Rule, TestScript, Verdict};

const PDS_URL: &str =
    "https://digital.nhs.uk/developer/api-catalogue/personal-demographics-service-fhir";
const SDS_URL: &str =
    "https://developer.nhs.uk/apis/gpconnect/integration_spine_directory_service.html";
const SSP_URL: &str = "https://developer.nhs.uk/apis/gpconnect/integration_spine_secure_proxy.html";
const JWT_URL: &str = "https://developer.nhs.uk/apis/gpconnect/integration_cross_organisation_audit_and_provenance.html";
const MIGRATE_URL: &str = "https://developer.nhs.uk/apis/gpconnect/accessrecord_structured_development_migrate_patient_record.html";
const DOCUMENTS_URL: &str = "https://developer.nhs.uk/apis/gpconnect/access_documents_development_migrate_patient_documents.html";
const RETRIEVE_URL: &str = "https://developer.nhs.uk/apis/gpconnect/accessrecord_structured_development_retrieve_patient_record.html";
const ERRORS_URL: &str =
    "https://developer.nhs.uk/apis/gpconnect/development_fhir_error_handling_guidance.html";
/// NHS's consumer test scripts for migrate (GPC-MIG-TST-GEN-05 to -08).
pub(crate) const CONSUMER_SCRIPTS_URL: &str = "https://github.com/nhsconnect/gpc-consumer-support/wiki/Consumer-Test-Scripts-Access-Record:-Structured-Documents-Migrate";
/// NHS's Spine integration consumer tests (SDS look-ups and TLS, written for the LDAP form).
const SPINE_SCRIPTS_URL: &str = "https://github.com/nhsconnect/gpconnect-provider-testing/wiki/Spine-Integration-and-Cross-Organisation-Tests";

/// Retries of one refused request beyond this many fail the journey.
pub(crate) const MAX_RETRIES: usize = 3;

/// A trace older than this blocks the migrate (GPC-MIG-TST-GEN-06).
pub(crate) const TRACE_MAX_AGE_HOURS: i64 = 24;

/// Every area's rules, in the order a consumer meets them.
const AREAS: [&[Rule]; 8] = [
    pds::RULES,
    sds::RULES,
    ssp::RULES,
    jwt::RULES,
    migrate::RULES,
    retrieve::RULES,
    documents::RULES,
    refusals::RULES,
];

/// The checklist, in order.
pub(crate) fn rules() -> impl Iterator<Item = &'static Rule> {
    AREAS.iter().flat_map(|area| area.iter())
}

/// The declared rule of a check.
pub(crate) fn rule(id: CheckId) -> Option<&'static Rule> {
    rules().find(|r| r.id == id)
}

/// One journey, read for grading: what each rule's evaluation is given.
pub(crate) struct Grader<'a> {
    index: &'a Index,
    consumer: &'a ConsumerJourneys,
    journey: &'a JourneyEvents,
    events: Vec<&'a Event>,
}

fn seqs(events: &[&Event]) -> Vec<u64> {
    events.iter().map(|e| e.seq()).collect()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

/// The registered practice a PDS read answered.
fn gp_of(event: &Event) -> Option<String> {
    let body = event.entry.response_body.as_ref()?.text();
    let patient: serde_json::Value = serde_json::from_str(&body).ok()?;
    patient["generalPractitioner"][0]["identifier"]["value"]
        .as_str()
        .map(str::to_owned)
}

fn refusal_code(event: &Event) -> &str {
    event
        .entry
        .refusal
        .as_deref()
        .and_then(|r| r.split(':').next())
        .unwrap_or("")
}

fn conf_of(event: &Event) -> Option<&'static str> {
    let claims = event.claims()?;
    let scope = claims["requested_scope"].as_str().unwrap_or("");
    Some(if scope.split(' ').any(|t| t == "conf/R") {
        "conf/R"
    } else {
        "conf/N"
    })
}

impl<'a> Grader<'a> {
    fn of(&self, kinds: &[Kind]) -> Vec<&'a Event> {
        self.events
            .iter()
            .copied()
            .filter(|e| kinds.contains(&e.kind))
            .collect()
    }

    /// Migrate requests as the consumer sent them: through SSP, or straight to a provider.
    fn migrates(&self) -> Vec<&'a Event> {
        self.events
            .iter()
            .copied()
            .filter(|e| e.kind == Kind::SspMigrate || e.kind == Kind::ProviderMigrate && e.direct())
            .collect()
    }

    /// `$gpc.getstructuredrecord` requests as the consumer sent them (direct care).
    fn retrieves(&self) -> Vec<&'a Event> {
        self.events
            .iter()
            .copied()
            .filter(|e| {
                e.kind == Kind::SspRetrieve || e.kind == Kind::ProviderRetrieve && e.direct()
            })
            .collect()
    }

    /// The provider's last 200 retrieve: the part of the record read.
    fn retrieved(&self) -> Option<&'a Event> {
        self.of(&[Kind::ProviderRetrieve])
            .into_iter()
            .rev()
            .find(|e| e.ok())
    }

    fn document_fetches(&self) -> Vec<&'a Event> {
        self.events
            .iter()
            .copied()
            .filter(|e| {
                e.kind == Kind::SspDocument || e.kind == Kind::ProviderDocument && e.direct()
            })
            .collect()
    }

    /// The provider's last 200 migrate: the record delivered.
    fn delivered(&self) -> Option<&'a Event> {
        self.of(&[Kind::ProviderMigrate])
            .into_iter()
            .rev()
            .find(|e| e.ok())
    }

    fn sds(&self, kind: Kind) -> Vec<&'a Event> {
        self.journey
            .sds
            .iter()
            .map(|&k| &self.index.events[k])
            .filter(|e| e.kind == kind)
            .collect()
    }

    fn previous_practice(&self) -> Option<String> {
        self.migrates()
            .first()
            .or(self.retrieves().first())
            .and_then(|m| provider_ods(m.target()))
            .or_else(|| {
                self.of(&[Kind::PdsRead])
                    .iter()
                    .filter(|e| e.ok())
                    .find_map(|e| gp_of(e))
            })
    }

    fn sds_lookups(&self, kind: Kind, interaction: &str, before: u64) -> Vec<&'a Event> {
        let org = self.previous_practice().unwrap_or_default();
        self.sds(kind)
            .into_iter()
            .filter(|e| {
                e.ok()
                    && e.seq() < before
                    && e.sds_org
                        .as_deref()
                        .is_some_and(|o| o.eq_ignore_ascii_case(&org))
                    && (kind == Kind::SdsDevice
                        || e.sds_interaction.as_deref() == Some(interaction))
            })
            .collect()
    }

    /// A look-up came before its use: the last successful SDS look-up of `kind` for the previous
    /// practice (and, for Endpoint, `interaction`) before journal entry `before`.
    fn looked_up_before(&self, kind: Kind, interaction: &str, before: u64) -> Option<&'a Event> {
        self.sds_lookups(kind, interaction, before).last().copied()
    }

    /// GP Connect requests as the consumer sent them: migrates, retrieves and document
    /// fetches, in order.
    fn gp_connect_requests(&self) -> Vec<&'a Event> {
        let mut sent: Vec<&Event> = self
            .migrates()
            .into_iter()
            .chain(self.retrieves())
            .chain(self.document_fetches())
            .collect();
        sent.sort_by_key(|e| e.seq());
        sent
    }

    /// One rule applied to this journey.
    fn check(&self, rule: &Rule) -> Check {
        let mut verdict = (rule.grade)(self);
        let unjudgeable = self.journey.start_evicted && rule.about_start
            || self.journey.window_evicted && rule.id.area() == Area::Sds;
        if verdict.status == Status::Fail && unjudgeable {
            verdict.status = Status::Warning;
            verdict.detail = format!(
                "the journal has dropped its oldest entries, so the start of this journey may be gone; cannot judge ({})",
                verdict.detail
            );
        }
        Check {
            id: rule.id,
            area: rule.id.area(),
            title: rule.title.to_owned(),
            status: verdict.status,
            rule: rule.rule.to_owned(),
            url: rule.source.to_owned(),
            detail: verdict.detail,
            entries: verdict.entries,
        }
    }
}

/// Grades one journey.
pub(crate) fn grade(
    index: &Index,
    consumer: &ConsumerJourneys,
    journey: &JourneyEvents,
) -> Journey {
    let g = Grader {
        index,
        consumer,
        journey,
        events: journey.events.iter().map(|&k| &index.events[k]).collect(),
    };
    let checks: Vec<Check> = rules().map(|r| g.check(r)).collect();
    let delivered = g.delivered();
    Journey {
        patient: journey.patient.clone(),
        first_sequence: index.first_seq(journey),
        last_sequence: index.last_seq(journey),
        start_evicted: journey.start_evicted,
        previous_practice: g.previous_practice(),
        sensitive: g
            .of(&[Kind::ProviderMigrate])
            .iter()
            .find_map(|e| e.sensitive),
        record_sequence: delivered.or(g.retrieved()).map(|d| d.seq()),
        documents: delivered
            .and_then(|d| d.entry.documents.as_ref())
            .map_or(0, |d| d.len()),
        verdict: checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::NotReached)
            .max(Status::Pass)
            .min(Status::Fail),
        checks,
        hops: {
            let mut hops: Vec<u64> = journey
                .events
                .iter()
                .chain(&journey.sds)
                .map(|&k| index.events[k].seq())
                .collect();
            hops.sort_unstable();
            hops.dedup();
            hops
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Filter, report};
    use super::*;
    use crate::journal::{Entry, Journal, bounded_body};

    const NHS: &str = "9434761018";

    fn pds(
        method: &str,
        status: u16,
        at_ms: i64,
        request_id: &str,
        if_match: Option<&str>,
    ) -> Entry {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-request-id", request_id.parse().unwrap());
        headers.insert("nhsd-end-user-organisation-ods", "A20047".parse().unwrap());
        if let Some(v) = if_match {
            headers.insert("if-match", v.parse().unwrap());
        }
        let mut response = http::HeaderMap::new();
        response.insert("etag", "W/\"1\"".parse().unwrap());
        let time =
            chrono::DateTime::from_timestamp_millis(1_750_000_000_000 + at_ms).unwrap_or_default();
        Entry {
            time,
            service: "pds",
            method: method.parse().unwrap(),
            path: format!("/personal-demographics/FHIR/R4/Patient/{NHS}"),
            status,
            request_headers: headers.into(),
            response_headers: response.into(),
            request_body: (method == "PATCH")
                .then(|| bounded_body(b"{\"patches\":[]}"))
                .flatten(),
            response_body: bounded_body(
                br#"{"generalPractitioner":[{"identifier":{"value":"B82617"}}]}"#,
            ),
            ..Default::default()
        }
    }

    fn graded(entries: Vec<Entry>) -> Journey {
        let journal = Journal::new(100, usize::MAX);
        for e in entries {
            journal.record(e);
        }
        let r = report(&journal.since(0), 0, &Filter::default());
        assert_eq!(r.journeys(), 1);
        r.consumers[0].journeys[0].clone()
    }

    fn status(j: &Journey, id: CheckId) -> Status {
        j.checks
            .iter()
            .find(|c| c.id == id)
            .map_or(Status::NotReached, |c| c.status)
    }

    #[test]
    fn a_retried_request_may_repeat_its_request_id_but_must_back_off() {
        let id = uuid::Uuid::new_v4().to_string();
        let j = graded(vec![
            pds("GET", 200, 0, &uuid::Uuid::new_v4().to_string(), None),
            pds("PATCH", 503, 100, &id, Some("W/\"1\"")),
            pds("PATCH", 503, 1100, &id, Some("W/\"1\"")),
            pds("PATCH", 503, 1600, &id, Some("W/\"1\"")),
        ]);
        assert_eq!(status(&j, CheckId::PdsRequestId), Status::Pass);
        assert_eq!(status(&j, CheckId::PdsTraceBeforeChange), Status::Pass);
        assert_eq!(status(&j, CheckId::PdsIfMatch), Status::Pass);
        assert_eq!(
            status(&j, CheckId::RefusalsRetries),
            Status::Warning,
            "{j:#?}"
        );
        assert_eq!(j.verdict, Status::Warning);
    }

    #[test]
    fn one_request_id_on_two_different_requests_fails() {
        let id = uuid::Uuid::new_v4().to_string();
        let j = graded(vec![
            pds("GET", 200, 0, &id, None),
            pds("PATCH", 200, 100, &id, Some("W/\"1\"")),
        ]);
        assert_eq!(status(&j, CheckId::PdsRequestId), Status::Fail);
        let check = j.checks.iter().find(|c| c.id == CheckId::PdsRequestId);
        assert_eq!(check.map(|c| c.entries.clone()), Some(vec![1, 2]));
    }
}
