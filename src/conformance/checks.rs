//! The checklist, in the order a consumer meets the rules. Each check reads only the journal:
//! what was sent, what came back, and in which order.

use chrono::Utc;

use super::journeys::{ConsumerJourneys, Event, Index, JourneyEvents, Kind, provider_ods};
use super::{Check, Journey, Status};
use crate::identifiers::interactions;
use crate::jwt::Rules;

const PDS_URL: &str =
    "https://digital.nhs.uk/developer/api-catalogue/personal-demographics-service-fhir";
const SDS_URL: &str =
    "https://developer.nhs.uk/apis/gpconnect/integration_spine_directory_service.html";
const SSP_URL: &str = "https://developer.nhs.uk/apis/gpconnect/integration_spine_secure_proxy.html";
const JWT_URL: &str = "https://developer.nhs.uk/apis/gpconnect/integration_cross_organisation_audit_and_provenance.html";
const MIGRATE_URL: &str = "https://developer.nhs.uk/apis/gpconnect/accessrecord_structured_development_migrate_patient_record.html";
const DOCUMENTS_URL: &str = "https://developer.nhs.uk/apis/gpconnect/access_documents_development_migrate_patient_documents.html";
const ERRORS_URL: &str =
    "https://developer.nhs.uk/apis/gpconnect/development_fhir_error_handling_guidance.html";

/// Retries of one refused request beyond this many fail the journey.
pub const MAX_RETRIES: usize = 3;

/// Checks about the start of a journey: unjudgeable when the journal dropped it.
const START_CHECKS: [&str; 4] = [
    "pds.trace-before-change",
    "pds.if-match-version-read",
    "sds.endpoint-migrate",
    "sds.device-asid",
];

struct Grader<'a> {
    index: &'a Index,
    consumer: &'a ConsumerJourneys,
    journey: &'a JourneyEvents,
    events: Vec<&'a Event>,
}

fn check(id: &str, area: &str, title: &str, rule: &str, url: &str) -> Check {
    Check {
        id: id.to_owned(),
        area: area.to_owned(),
        title: title.to_owned(),
        status: Status::Pass,
        rule: rule.to_owned(),
        url: url.to_owned(),
        detail: String::new(),
        entries: Vec::new(),
    }
}

impl Check {
    fn with(mut self, status: Status, detail: impl Into<String>, entries: Vec<u64>) -> Self {
        self.status = status;
        self.detail = detail.into();
        let mut entries = entries;
        entries.sort_unstable();
        entries.dedup();
        self.entries = entries;
        self
    }
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

    // ---- PDS ----

    fn trace_before_change(&self) -> Check {
        let c = check(
            "pds.trace-before-change",
            "PDS",
            "Traced the patient on PDS before changing anything",
            "Read the patient from PDS first: the read gives the current practice and the version \
             (ETag) the registration change must quote. Change the registration only after that.",
            PDS_URL,
        );
        let reads: Vec<&Event> = self
            .of(&[Kind::PdsRead])
            .into_iter()
            .filter(|e| e.ok())
            .collect();
        let changes: Vec<&Event> = self
            .events
            .iter()
            .copied()
            .filter(|e| {
                e.kind == Kind::PdsPatch || self.migrates().iter().any(|m| m.seq() == e.seq())
            })
            .collect();
        match (changes.first(), reads.first()) {
            (None, None) => c.with(Status::NotReached, "no PDS read, change or migrate", vec![]),
            (None, Some(r)) => c.with(
                Status::Pass,
                format!("traced at #{}", r.seq()),
                vec![r.seq()],
            ),
            (Some(ch), Some(r)) if r.seq() < ch.seq() => c.with(
                Status::Pass,
                format!(
                    "traced at #{} before the first change at #{}",
                    r.seq(),
                    ch.seq()
                ),
                vec![r.seq(), ch.seq()],
            ),
            (Some(ch), _) => c.with(
                Status::Fail,
                format!(
                    "#{} ({} {}) came with no successful PDS read of patient {} before it",
                    ch.seq(),
                    ch.entry.method,
                    ch.entry.service.to_uppercase(),
                    self.journey.patient
                ),
                vec![ch.seq()],
            ),
        }
    }

    fn request_ids(&self) -> Check {
        let c = check(
            "pds.x-request-id",
            "PDS",
            "A fresh X-Request-ID (UUID) on every PDS request",
            "Every PDS request carries X-Request-ID, a new UUID per request; the same value is sent \
             again only when retrying that very request.",
            PDS_URL,
        );
        let pds = self.of(&[Kind::PdsRead, Kind::PdsPatch]);
        if pds.is_empty() {
            return c.with(Status::NotReached, "no PDS request", vec![]);
        }
        let signature = |e: &Event| {
            (
                e.entry.method.clone(),
                e.entry.path.clone(),
                e.header("if-match").map(str::to_owned),
                e.entry.request_body.as_ref().map(|b| b.text()),
            )
        };
        let mut problems = Vec::new();
        let mut proof = Vec::new();
        for e in &pds {
            match e.header("x-request-id") {
                None => {
                    problems.push(format!("#{} has no X-Request-ID", e.seq()));
                    proof.push(e.seq());
                }
                Some(id) if !is_uuid(id) => {
                    problems.push(format!("#{}: X-Request-ID '{id}' is not a UUID", e.seq()));
                    proof.push(e.seq());
                }
                Some(id) => {
                    let others: Vec<&Event> = self.index.request_ids[id]
                        .iter()
                        .map(|&k| &self.index.events[k])
                        .filter(|o| o.seq() < e.seq() && signature(o) != signature(e))
                        .collect();
                    if let Some(o) = others.first() {
                        problems.push(format!(
                            "#{} reuses X-Request-ID {id} of #{}, a different request",
                            e.seq(),
                            o.seq()
                        ));
                        proof.extend([o.seq(), e.seq()]);
                    }
                }
            }
        }
        if problems.is_empty() {
            c.with(
                Status::Pass,
                format!("{} PDS requests, each with its own UUID", pds.len()),
                seqs(&pds),
            )
        } else {
            c.with(Status::Fail, problems.join("; "), proof)
        }
    }

    fn if_match(&self) -> Check {
        let c = check(
            "pds.if-match-version-read",
            "PDS",
            "The registration change quoted the version it read",
            "A PDS PATCH sends If-Match with the ETag of the patient as last read (W/\"n\"), so a \
             change made meanwhile by someone else is refused with 409 rather than overwritten.",
            PDS_URL,
        );
        let pds = self.of(&[Kind::PdsRead, Kind::PdsPatch]);
        let patches: Vec<&Event> = pds
            .iter()
            .copied()
            .filter(|e| e.kind == Kind::PdsPatch)
            .collect();
        if patches.is_empty() {
            let already = pds.iter().find(|e| {
                e.ok() && gp_of(e).is_some_and(|g| g.eq_ignore_ascii_case(&self.consumer.ods))
            });
            return match already {
                Some(r) => c.with(
                    Status::Pass,
                    format!(
                        "PDS already named {} at #{}: nothing to change",
                        self.consumer.ods,
                        r.seq()
                    ),
                    vec![r.seq()],
                ),
                None => c.with(
                    Status::NotReached,
                    "no registration change was sent",
                    vec![],
                ),
            };
        }
        let mut problems = Vec::new();
        let mut proof = Vec::new();
        for p in &patches {
            let read = pds
                .iter()
                .filter(|e| e.seq() < p.seq() && e.ok())
                .max_by_key(|e| e.seq());
            let etag = read.and_then(|r| r.entry.response_headers.get("etag"));
            let sent = p.header("if-match");
            proof.push(p.seq());
            match (sent, etag, read) {
                (None, _, _) => problems.push(format!("#{} has no If-Match", p.seq())),
                (Some(s), Some(v), Some(r)) if s == v => proof.push(r.seq()),
                (Some(s), Some(v), Some(r)) => {
                    problems.push(format!(
                        "#{} sent If-Match {s}, but the version last read (#{}) was {v}",
                        p.seq(),
                        r.seq()
                    ));
                    proof.push(r.seq());
                }
                (Some(s), _, _) => problems.push(format!(
                    "#{} sent If-Match {s} without having read a version first",
                    p.seq()
                )),
            }
        }
        if problems.is_empty() {
            c.with(
                Status::Pass,
                format!(
                    "{} PATCH(es), each with the version just read",
                    patches.len()
                ),
                proof,
            )
        } else {
            c.with(Status::Fail, problems.join("; "), proof)
        }
    }

    fn retry_409(&self) -> Check {
        let c = check(
            "pds.retry-after-409",
            "PDS",
            "After a 409 version conflict, read again before retrying",
            "A PATCH refused with 409 RESOURCE_VERSION_MISMATCH means the patient changed since it \
             was read: read it again, check the change still applies, and retry with the new ETag; \
             resending the old version can never succeed.",
            PDS_URL,
        );
        let pds = self.of(&[Kind::PdsRead, Kind::PdsPatch]);
        let conflicts: Vec<&Event> = pds
            .iter()
            .copied()
            .filter(|e| e.kind == Kind::PdsPatch && e.entry.status == 409)
            .collect();
        if conflicts.is_empty() {
            return c.with(Status::Pass, "no version conflict (409) was met", vec![]);
        }
        let mut problems = Vec::new();
        let mut proof = Vec::new();
        for conflict in &conflicts {
            proof.push(conflict.seq());
            let Some(next) = pds
                .iter()
                .find(|e| e.kind == Kind::PdsPatch && e.seq() > conflict.seq())
            else {
                continue;
            };
            proof.push(next.seq());
            let reread = pds.iter().any(|e| {
                e.kind == Kind::PdsRead
                    && e.ok()
                    && e.seq() > conflict.seq()
                    && e.seq() < next.seq()
            });
            let same = next.header("if-match") == conflict.header("if-match");
            if !reread || same {
                problems.push(format!(
                    "#{} retried the change refused at #{}{}{}",
                    next.seq(),
                    conflict.seq(),
                    if reread {
                        ""
                    } else {
                        " without reading the patient again"
                    },
                    if same {
                        format!(
                            ", reusing If-Match {}",
                            next.header("if-match").unwrap_or("(none)")
                        )
                    } else {
                        String::new()
                    }
                ));
            }
        }
        if problems.is_empty() {
            c.with(
                Status::Pass,
                "re-read after every 409 and retried with the new version",
                proof,
            )
        } else {
            c.with(Status::Fail, problems.join("; "), proof)
        }
    }

    // ---- SDS ----

    fn sds_endpoint(&self) -> Check {
        let c = check(
            "sds.endpoint-migrate",
            "SDS",
            "Looked up the old practice's migrate endpoint in SDS",
            "Find the provider's Access Record Structured service root with an SDS Endpoint search \
             for the old practice's ODS code and the migrate interaction; never hard-code it.",
            SDS_URL,
        );
        let Some(first) = self.migrates().first().copied() else {
            return c.with(Status::NotReached, "no migrate was sent", vec![]);
        };
        let org = self.previous_practice().unwrap_or_default();
        let found = self.sds_lookups(
            Kind::SdsEndpoint,
            interactions::MIGRATE_STRUCTURED,
            first.seq(),
        );
        match found.last() {
            Some(l) => c.with(
                Status::Pass,
                format!(
                    "Endpoint lookup for {org} at #{} before the migrate at #{}",
                    l.seq(),
                    first.seq()
                ),
                vec![l.seq(), first.seq()],
            ),
            None => c.with(
                Status::Fail,
                format!(
                    "no SDS Endpoint lookup for {org} and {} before the migrate at #{}",
                    interactions::MIGRATE_STRUCTURED,
                    first.seq()
                ),
                vec![first.seq()],
            ),
        }
    }

    fn sds_device(&self) -> Check {
        let c = check(
            "sds.device-asid",
            "SDS",
            "Took the provider's ASID (Ssp-To) from an SDS Device lookup",
            "SDS Endpoint does not carry the ASID: a Device search for the old practice and the \
             interaction gives it, and that ASID goes in Ssp-To.",
            SDS_URL,
        );
        let sent: Vec<&Event> = self
            .migrates()
            .into_iter()
            .chain(self.document_fetches())
            .collect();
        let Some(first) = sent.first() else {
            return c.with(Status::NotReached, "nothing was sent to a provider", vec![]);
        };
        let org = self.previous_practice().unwrap_or_default();
        let lookups = self.sds_lookups(Kind::SdsDevice, "", u64::MAX);
        let before: Vec<&Event> = lookups
            .iter()
            .copied()
            .filter(|l| l.seq() < first.seq())
            .collect();
        if before.is_empty() {
            return c.with(
                Status::Fail,
                format!("no SDS Device lookup for {org} before #{}", first.seq()),
                vec![first.seq()],
            );
        }
        let mut problems = Vec::new();
        let mut proof = seqs(&before);
        for e in &sent {
            let to = e.header("ssp-to").unwrap_or("");
            let known = lookups
                .iter()
                .any(|l| l.seq() < e.seq() && l.sds_results.iter().any(|a| a == to));
            if !known {
                problems.push(format!(
                    "#{} sent Ssp-To '{to}', which no Device lookup returned",
                    e.seq()
                ));
                proof.push(e.seq());
            }
        }
        if problems.is_empty() {
            c.with(
                Status::Pass,
                format!("Device lookup for {org} at #{}", before[0].seq()),
                proof,
            )
        } else {
            c.with(Status::Fail, problems.join("; "), proof)
        }
    }

    fn sds_documents(&self) -> Check {
        let c = check(
            "sds.endpoint-documents",
            "SDS",
            "Looked up the documents endpoint before fetching documents",
            "Documents are served by the Access Document capability: look up its endpoint in SDS \
             with the migrate-document interaction before fetching a Binary.",
            DOCUMENTS_URL,
        );
        let fetches = self.document_fetches();
        let Some(first) = fetches.first() else {
            return match self.delivered() {
                Some(d) if d.entry.documents.as_ref().is_some_and(|x| !x.is_empty()) => {
                    c.with(Status::NotReached, "no document was fetched", vec![d.seq()])
                }
                Some(d) => c.with(
                    Status::Pass,
                    "the record listed no documents",
                    vec![d.seq()],
                ),
                None => c.with(Status::NotReached, "no record was delivered", vec![]),
            };
        };
        let found = self.sds_lookups(
            Kind::SdsEndpoint,
            interactions::MIGRATE_DOCUMENT,
            first.seq(),
        );
        match found.last() {
            Some(l) => c.with(
                Status::Pass,
                format!(
                    "documents Endpoint lookup at #{} before the first fetch at #{}",
                    l.seq(),
                    first.seq()
                ),
                vec![l.seq(), first.seq()],
            ),
            None => c.with(
                Status::Fail,
                format!(
                    "no SDS Endpoint lookup for {} before the first document fetch at #{}",
                    interactions::MIGRATE_DOCUMENT,
                    first.seq()
                ),
                vec![first.seq()],
            ),
        }
    }

    // ---- SSP ----

    fn via_ssp(&self) -> Check {
        let c = check(
            "ssp.via-proxy",
            "SSP",
            "Every GP Connect request went through SSP",
            "GP Connect requests are sent to SSP, which checks and audits them, with the provider's \
             URL appended: https://[ssp]/[provider service root]/...; never straight to a provider.",
            SSP_URL,
        );
        let direct: Vec<&Event> = self.events.iter().copied().filter(|e| e.direct()).collect();
        let via = self.of(&[Kind::SspMigrate, Kind::SspDocument]);
        if direct.is_empty() && via.is_empty() {
            return c.with(Status::NotReached, "nothing was sent to a provider", vec![]);
        }
        if direct.is_empty() {
            c.with(
                Status::Pass,
                format!("{} request(s), all through SSP", via.len()),
                seqs(&via),
            )
        } else {
            c.with(
                Status::Fail,
                format!(
                    "{} request(s) went straight to the provider: {}",
                    direct.len(),
                    direct
                        .iter()
                        .map(|e| format!("#{} {} {}", e.seq(), e.entry.method, e.entry.path))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                seqs(&direct),
            )
        }
    }

    fn ssp_headers(&self) -> Check {
        let c = check(
            "ssp.headers",
            "SSP",
            "Every Ssp-* header right",
            "Each request sends Ssp-TraceID (a UUID), Ssp-From (the consumer's ASID, the one in its \
             client certificate), Ssp-To (the provider's ASID from SDS) and Ssp-InteractionID (the \
             interaction being performed), once each.",
            SSP_URL,
        );
        let sent = self.of(&[Kind::SspMigrate, Kind::SspDocument]);
        if sent.is_empty() {
            return c.with(Status::NotReached, "nothing was sent through SSP", vec![]);
        }
        let mut problems = Vec::new();
        let mut proof = Vec::new();
        for e in &sent {
            let mut wrong = Vec::new();
            for name in ["ssp-traceid", "ssp-from", "ssp-to", "ssp-interactionid"] {
                match e.entry.request_headers.all(name).len() {
                    0 => wrong.push(format!("no {name}")),
                    1 => {}
                    n => wrong.push(format!("{name} sent {n} times")),
                }
            }
            if let Some(t) = e.header("ssp-traceid").filter(|t| !is_uuid(t)) {
                wrong.push(format!("Ssp-TraceID '{t}' is not a UUID"));
            }
            match (e.header("ssp-from"), &e.entry.client_asid) {
                (Some(f), Some(cert)) if f != cert => {
                    wrong.push(format!("Ssp-From {f} is not the certificate's ASID {cert}"))
                }
                (_, None) => wrong.push("no client certificate with an ASID".to_owned()),
                _ => {}
            }
            let expected = if e.kind == Kind::SspMigrate {
                interactions::MIGRATE_STRUCTURED
            } else {
                interactions::MIGRATE_DOCUMENT
            };
            if let Some(i) = e.header("ssp-interactionid").filter(|i| *i != expected) {
                wrong.push(format!("Ssp-InteractionID {i}, expected {expected}"));
            }
            let code = refusal_code(e);
            if wrong.is_empty()
                && (code.starts_with("MISSING_OR_INVALID_HEADER")
                    || code.starts_with("ASID_CHECK_FAILED")
                    || code.starts_with("PARTYKEY_INTERACTION_CHECK_FAILED"))
            {
                wrong.push(format!("SSP refused it: {code}"));
            }
            if !wrong.is_empty() {
                problems.push(format!("#{}: {}", e.seq(), wrong.join(", ")));
                proof.push(e.seq());
            }
        }
        if problems.is_empty() {
            c.with(
                Status::Pass,
                format!("{} request(s), headers right", sent.len()),
                seqs(&sent),
            )
        } else {
            c.with(Status::Fail, problems.join("; "), proof)
        }
    }

    fn ssp_trace_ids(&self) -> Check {
        let c = check(
            "ssp.fresh-trace-id",
            "SSP",
            "A fresh Ssp-TraceID on every request",
            "Ssp-TraceID is a new UUID for every request, retries included; the provider echoes it \
             as the Bundle id, and Spine's audit joins hops by it.",
            SSP_URL,
        );
        let sent = self.of(&[Kind::SspMigrate, Kind::SspDocument]);
        if sent.is_empty() {
            return c.with(Status::NotReached, "nothing was sent through SSP", vec![]);
        }
        let mut problems = Vec::new();
        let mut proof = Vec::new();
        for e in &sent {
            let Some(t) = &e.entry.trace_id else { continue };
            let uses = self
                .index
                .trace_ids
                .get(t)
                .map(Vec::as_slice)
                .unwrap_or_default();
            if let Some(&earlier) = uses.iter().find(|&&k| self.index.events[k].seq() < e.seq()) {
                let earlier = self.index.events[earlier].seq();
                problems.push(format!("#{} reuses Ssp-TraceID {t} of #{earlier}", e.seq()));
                proof.extend([earlier, e.seq()]);
            }
        }
        if problems.is_empty() {
            c.with(
                Status::Pass,
                format!(
                    "{} request(s), {} distinct trace ids",
                    sent.len(),
                    sent.len()
                ),
                seqs(&sent),
            )
        } else {
            c.with(Status::Fail, problems.join("; "), proof)
        }
    }

    fn ssp_target(&self) -> Check {
        let c = check(
            "ssp.target-from-sds",
            "SSP",
            "Target URL exactly the one SDS gave",
            "The URL after SSP's address is the service root SDS returned for the interaction, \
             verbatim, plus the operation; a document's URL is the DocumentReference's \
             attachment.url. SSP refuses any other target.",
            SSP_URL,
        );
        let sent = self.of(&[Kind::SspMigrate, Kind::SspDocument]);
        if sent.is_empty() {
            return c.with(Status::NotReached, "nothing was sent through SSP", vec![]);
        }
        let bundle_urls: Vec<String> = self
            .of(&[Kind::ProviderMigrate])
            .iter()
            .filter_map(|d| d.entry.documents.as_deref())
            .flatten()
            .cloned()
            .collect();
        let mut problems = Vec::new();
        let mut proof = Vec::new();
        for e in &sent {
            let interaction = if e.kind == Kind::SspMigrate {
                interactions::MIGRATE_STRUCTURED
            } else {
                interactions::MIGRATE_DOCUMENT
            };
            let target = e.target();
            let given = self
                .sds(Kind::SdsEndpoint)
                .into_iter()
                .filter(|l| l.seq() < e.seq() && l.sds_interaction.as_deref() == Some(interaction))
                .find(|l| l.sds_results.iter().any(|a| target.starts_with(a.as_str())));
            match given {
                Some(l) => proof.extend([l.seq(), e.seq()]),
                None => {
                    problems.push(format!(
                        "#{} targets {target}, which no SDS lookup for {interaction} before it returned",
                        e.seq()
                    ));
                    proof.push(e.seq());
                }
            }
            if e.kind == Kind::SspDocument && !bundle_urls.iter().any(|u| u == target) {
                problems.push(format!(
                    "#{} fetches {target}, which is no DocumentReference url of the record",
                    e.seq()
                ));
                proof.push(e.seq());
            }
        }
        if problems.is_empty() {
            c.with(
                Status::Pass,
                format!("{} target(s), each as SDS gave it", sent.len()),
                proof,
            )
        } else {
            c.with(Status::Fail, problems.join("; "), proof)
        }
    }

    // ---- JWT ----

    fn jwt_claims(&self) -> Check {
        let c = check(
            "jwt.claims",
            "JWT",
            "Every JWT claim right",
            "Each request carries a fresh unsigned JWT (alg none, trailing dot) with iss, sub, aud, \
             iat, exp = iat + 300, reason_for_request, requested_scope, requesting_device, \
             requesting_organization (the new practice's ODS code) and, for documents, \
             requesting_practitioner.",
            JWT_URL,
        );
        let sent: Vec<&Event> = self
            .migrates()
            .into_iter()
            .chain(self.document_fetches())
            .collect();
        if sent.is_empty() {
            return c.with(Status::NotReached, "nothing was sent to a provider", vec![]);
        }
        let mut problems = Vec::new();
        let mut proof = Vec::new();
        for e in &sent {
            let rules = if matches!(e.kind, Kind::SspMigrate | Kind::ProviderMigrate) {
                &Rules::MIGRATE
            } else {
                &Rules::MIGRATE_DOCUMENT
            };
            let at = e.time.unwrap_or_else(Utc::now);
            let verdict = match e.header("authorization").and_then(crate::jwt::bearer_token) {
                None => Err("no Authorization: Bearer token".to_owned()),
                Some(token) => crate::jwt::validate(token, at, rules)
                    .map_err(|err| err.diagnostics)
                    .and_then(|claims| {
                        if claims
                            .requesting_ods
                            .eq_ignore_ascii_case(&self.consumer.ods)
                        {
                            Ok(())
                        } else {
                            Err(format!(
                                "requesting_organization {} is not the consumer {}",
                                claims.requesting_ods, self.consumer.ods
                            ))
                        }
                    }),
            };
            if let Err(why) = verdict {
                problems.push(format!("#{}: {why}", e.seq()));
                proof.push(e.seq());
            }
        }
        if problems.is_empty() {
            c.with(
                Status::Pass,
                format!("{} token(s), every claim valid", sent.len()),
                seqs(&sent),
            )
        } else {
            c.with(Status::Fail, problems.join("; "), proof)
        }
    }

    fn jwt_reason(&self) -> Check {
        let c = check(
            "jwt.reason-migration",
            "JWT",
            "reason_for_request is migration",
            "A migrate request's JWT says reason_for_request \"migration\" (a document fetch may say \
             migration or directcare).",
            MIGRATE_URL,
        );
        let sent = self.migrates();
        if sent.is_empty() {
            return c.with(Status::NotReached, "no migrate was sent", vec![]);
        }
        let wrong: Vec<&Event> = sent
            .iter()
            .copied()
            .filter(|e| {
                e.claims()
                    .is_none_or(|cl| cl["reason_for_request"] != "migration")
            })
            .collect();
        if wrong.is_empty() {
            c.with(Status::Pass, "migration on every migrate", seqs(&sent))
        } else {
            c.with(
                Status::Fail,
                wrong
                    .iter()
                    .map(|e| {
                        format!(
                            "#{}: reason_for_request {}",
                            e.seq(),
                            e.claims()
                                .map_or("absent".to_owned(), |c| c["reason_for_request"]
                                    .to_string())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                seqs(&wrong),
            )
        }
    }

    fn jwt_scope(&self) -> Check {
        let c = check(
            "jwt.scope-sensitivity",
            "JWT",
            "conf/N or conf/R agrees with includeSensitiveInformation",
            "requested_scope ends conf/R exactly when includeSensitiveInformation is true, conf/N \
             (or no conf token) when it is false; a mismatch is refused 400 CONFLICTING_VALUES.",
            MIGRATE_URL,
        );
        let seen = self.of(&[Kind::ProviderMigrate]);
        if seen.is_empty() {
            return c.with(Status::NotReached, "no migrate reached a provider", vec![]);
        }
        let mut problems = Vec::new();
        for e in &seen {
            let conf = conf_of(e);
            let want = e.sensitive.map(|s| if s { "conf/R" } else { "conf/N" });
            if let (Some(conf), Some(want)) = (conf, want) {
                if conf != want {
                    problems.push(format!(
                        "#{}: includeSensitiveInformation {} with {conf}",
                        e.seq(),
                        want == "conf/R"
                    ));
                }
            } else if refusal_code(e) == "CONFLICTING_VALUES" {
                problems.push(format!("#{}: refused CONFLICTING_VALUES", e.seq()));
            }
        }
        if problems.is_empty() {
            c.with(Status::Pass, "scope and sensitivity agree", seqs(&seen))
        } else {
            c.with(Status::Fail, problems.join("; "), seqs(&seen))
        }
    }

    // ---- migrate ----

    fn migrate_parameters(&self) -> Check {
        let c = check(
            "migrate.parameters",
            "migrate",
            "A well-formed Parameters body",
            "The body is a Parameters resource with exactly patientNHSNumber (valueIdentifier, \
             system https://fhir.nhs.uk/Id/nhs-number) and includeFullRecord with its part \
             includeSensitiveInformation (valueBoolean); nothing else.",
            MIGRATE_URL,
        );
        let seen = self.of(&[Kind::ProviderMigrate]);
        if seen.is_empty() {
            return c.with(Status::NotReached, "no migrate reached a provider", vec![]);
        }
        let bad: Vec<&Event> = seen
            .iter()
            .copied()
            .filter(|e| {
                matches!(
                    refusal_code(e),
                    "INVALID_RESOURCE" | "INVALID_PARAMETER" | "INVALID_NHS_NUMBER"
                ) || e.sensitive.is_none()
            })
            .collect();
        if bad.is_empty() {
            c.with(
                Status::Pass,
                format!("{} well-formed Parameters", seen.len()),
                seqs(&seen),
            )
        } else {
            c.with(
                Status::Fail,
                bad.iter()
                    .map(|e| {
                        format!(
                            "#{}: {}",
                            e.seq(),
                            e.entry.refusal.clone().unwrap_or_else(|| {
                                "includeFullRecord.includeSensitiveInformation missing".to_owned()
                            })
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                seqs(&bad),
            )
        }
    }

    fn migrate_after_registration(&self) -> Check {
        let c = check(
            "migrate.after-registration",
            "migrate",
            "Migrated only once PDS named the new practice",
            "The old practice releases the record only to the practice PDS shows as registered: \
             change the registration first, then migrate. A 403 NO_RELATIONSHIP is handled by \
             changing the registration and retrying once, not by calling again and again.",
            MIGRATE_URL,
        );
        let attempts = self.migrates();
        if attempts.is_empty() {
            return c.with(Status::NotReached, "no migrate was sent", vec![]);
        }
        let pds = self.of(&[Kind::PdsRead, Kind::PdsPatch]);
        let registered = pds.iter().find(|e| {
            e.ok()
                && (e.kind == Kind::PdsPatch
                    || gp_of(e).is_some_and(|g| g.eq_ignore_ascii_case(&self.consumer.ods)))
        });
        let early: Vec<&Event> = attempts
            .iter()
            .copied()
            .filter(|m| registered.is_none_or(|r| m.seq() < r.seq()))
            .collect();
        match (registered, early.len()) {
            (Some(r), 0) => c.with(
                Status::Pass,
                format!("registration changed (or already right) at #{}, first migrate at #{}", r.seq(), attempts[0].seq()),
                vec![r.seq(), attempts[0].seq()],
            ),
            (None, _) => c.with(
                Status::Fail,
                format!(
                    "{} migrate(s) sent, but PDS never named {} in this journey",
                    attempts.len(),
                    self.consumer.ods
                ),
                seqs(&attempts),
            ),
            (Some(r), 1) if attempts.len() > 1 => c.with(
                Status::Warning,
                format!(
                    "migrate at #{} came before the registration change; handled by changing it at #{} and retrying",
                    early[0].seq(),
                    r.seq()
                ),
                vec![early[0].seq(), r.seq()],
            ),
            (Some(r), n) => c.with(
                Status::Fail,
                format!("{n} migrate(s) before the registration change at #{}", r.seq()),
                seqs(&early).into_iter().chain([r.seq()]).collect(),
            ),
        }
    }

    // ---- documents ----

    fn documents_fetched(&self) -> Check {
        let c = check(
            "documents.all-fetched",
            "documents",
            "Fetched every document the record lists",
            "Each DocumentReference in the migrate Bundle points at a Binary \
             (content.attachment.url); the new practice fetches every one through SSP.",
            DOCUMENTS_URL,
        );
        let Some(delivered) = self.delivered() else {
            return c.with(Status::NotReached, "no record was delivered", vec![]);
        };
        let Some(listed) = &delivered.entry.documents else {
            return c.with(
                Status::Warning,
                "the journal did not record which documents the Bundle listed",
                vec![delivered.seq()],
            );
        };
        if listed.is_empty() {
            return c.with(
                Status::Pass,
                "the record listed no documents",
                vec![delivered.seq()],
            );
        }
        let fetched = self.of(&[Kind::SspDocument]);
        let mut proof = vec![delivered.seq()];
        let mut missing = Vec::new();
        for url in listed.iter() {
            match fetched
                .iter()
                .find(|f| f.ok() && f.target() == url && f.seq() > delivered.seq())
            {
                Some(f) => proof.push(f.seq()),
                None => missing.push(url.clone()),
            }
        }
        if missing.is_empty() {
            c.with(
                Status::Pass,
                format!("all {} document(s) fetched", listed.len()),
                proof,
            )
        } else {
            c.with(
                Status::Fail,
                format!(
                    "{} of {} not fetched through SSP: {}",
                    missing.len(),
                    listed.len(),
                    missing.join(", ")
                ),
                proof,
            )
        }
    }

    fn documents_interaction(&self) -> Check {
        let c = check(
            "documents.interaction",
            "documents",
            "Documents fetched with the migrate-document interaction",
            "A document of a migrated record is fetched with Ssp-InteractionID \
             urn:nhs:names:services:gpconnect:documents:fhir:rest:migrate:binary-1.",
            DOCUMENTS_URL,
        );
        let fetched = self.document_fetches();
        if fetched.is_empty() {
            return c.with(Status::NotReached, "no document was fetched", vec![]);
        }
        let wrong: Vec<&Event> = fetched
            .iter()
            .copied()
            .filter(|e| e.header("ssp-interactionid") != Some(interactions::MIGRATE_DOCUMENT))
            .collect();
        if wrong.is_empty() {
            c.with(
                Status::Pass,
                format!("{} fetch(es)", fetched.len()),
                seqs(&fetched),
            )
        } else {
            c.with(
                Status::Fail,
                wrong
                    .iter()
                    .map(|e| {
                        format!(
                            "#{}: {}",
                            e.seq(),
                            e.header("ssp-interactionid")
                                .unwrap_or("no Ssp-InteractionID")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                seqs(&wrong),
            )
        }
    }

    fn documents_scope(&self) -> Check {
        let c = check(
            "documents.scope",
            "documents",
            "Documents fetched with the migrate's sensitivity scope",
            "Confidential documents need conf/R; fetch the documents with the same conf/N or \
             conf/R as the migrate that listed them.",
            DOCUMENTS_URL,
        );
        let fetched = self.document_fetches();
        let migrate = self
            .migrates()
            .into_iter()
            .rev()
            .find(|m| m.ok())
            .and_then(conf_of);
        let (Some(want), false) = (migrate, fetched.is_empty()) else {
            return c.with(
                Status::NotReached,
                "no document was fetched after a migrate",
                vec![],
            );
        };
        let wrong: Vec<&Event> = fetched
            .iter()
            .copied()
            .filter(|e| conf_of(e) != Some(want))
            .collect();
        if wrong.is_empty() {
            c.with(
                Status::Pass,
                format!("{want} on the migrate and every fetch"),
                seqs(&fetched),
            )
        } else {
            c.with(
                Status::Fail,
                format!(
                    "the migrate used {want}; {}",
                    wrong
                        .iter()
                        .map(|e| format!(
                            "#{} used {}",
                            e.seq(),
                            conf_of(e).unwrap_or("no readable token")
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                seqs(&wrong),
            )
        }
    }

    // ---- refusals ----

    fn retries(&self) -> Check {
        let c = check(
            "refusals.retries",
            "refusals",
            "No more than a few retries of a refused request, backing off",
            "A refused request is not resent as it is: fix what the OperationOutcome names. A \
             transient failure may be retried a few times, waiting longer each time.",
            ERRORS_URL,
        );
        // Requests as the consumer sent them (forwarded provider hops are the same request).
        let sent: Vec<&Event> = self
            .events
            .iter()
            .copied()
            .filter(|e| !e.is_provider() || e.direct())
            .filter(|e| !matches!(e.kind, Kind::SdsEndpoint | Kind::SdsDevice))
            .collect();
        let key = |e: &Event| {
            (
                e.entry.service,
                e.entry.method.clone(),
                e.target().to_owned(),
            )
        };
        let mut worst = Status::Pass;
        let mut problems = Vec::new();
        let mut proof = Vec::new();
        let mut i = 0;
        while i < sent.len() {
            if sent[i].ok() {
                i += 1;
                continue;
            }
            // A refused request: count how often the same one follows before anything else succeeds.
            let k = key(sent[i]);
            let run: Vec<&Event> = sent[i..]
                .iter()
                .copied()
                .take_while(|e| key(e) == k)
                .collect();
            let retries = run.len() - 1;
            if retries > 0 {
                let gaps: Vec<i64> = run
                    .windows(2)
                    .filter_map(|w| Some((w[1].time? - w[0].time?).num_milliseconds()))
                    .collect();
                let backs_off = gaps.windows(2).all(|g| g[1] >= g[0]);
                if retries > MAX_RETRIES {
                    worst = Status::Fail;
                    problems.push(format!(
                        "{} {} refused at #{} and sent {retries} more times (at most {MAX_RETRIES})",
                        run[0].entry.method,
                        run[0].target(),
                        run[0].seq()
                    ));
                    proof.extend(seqs(&run));
                } else if !backs_off && worst != Status::Fail {
                    worst = Status::Warning;
                    problems.push(format!(
                        "{} {} retried {retries} times without waiting longer each time (gaps {gaps:?} ms)",
                        run[0].entry.method,
                        run[0].target()
                    ));
                    proof.extend(seqs(&run));
                }
            }
            i += run.len().max(1);
        }
        if problems.is_empty() {
            c.with(Status::Pass, "no refused request was hammered", vec![])
        } else {
            c.with(worst, problems.join("; "), proof)
        }
    }
}

/// Grades one journey.
pub fn grade(index: &Index, consumer: &ConsumerJourneys, journey: &JourneyEvents) -> Journey {
    let g = Grader {
        index,
        consumer,
        journey,
        events: journey.events.iter().map(|&k| &index.events[k]).collect(),
    };
    let mut checks = vec![
        g.trace_before_change(),
        g.request_ids(),
        g.if_match(),
        g.retry_409(),
        g.sds_endpoint(),
        g.sds_device(),
        g.sds_documents(),
        g.via_ssp(),
        g.ssp_headers(),
        g.ssp_trace_ids(),
        g.ssp_target(),
        g.jwt_claims(),
        g.jwt_reason(),
        g.jwt_scope(),
        g.migrate_parameters(),
        g.migrate_after_registration(),
        g.documents_fetched(),
        g.documents_interaction(),
        g.documents_scope(),
        g.retries(),
    ];
    for c in checks.iter_mut() {
        let about_start = START_CHECKS.contains(&c.id.as_str());
        let sds = c.area == "SDS";
        if c.status == Status::Fail
            && (journey.start_evicted && about_start || journey.window_evicted && sds)
        {
            c.status = Status::Warning;
            c.detail = format!(
                "the journal has dropped its oldest entries, so the start of this journey may be gone; cannot judge ({})",
                c.detail
            );
        }
    }
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
        record_sequence: delivered.map(|d| d.seq()),
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

    fn status(j: &Journey, id: &str) -> Status {
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
        assert_eq!(status(&j, "pds.x-request-id"), Status::Pass);
        assert_eq!(status(&j, "pds.trace-before-change"), Status::Pass);
        assert_eq!(status(&j, "pds.if-match-version-read"), Status::Pass);
        assert_eq!(status(&j, "refusals.retries"), Status::Warning, "{j:#?}");
        assert_eq!(j.verdict, Status::Warning);
    }

    #[test]
    fn one_request_id_on_two_different_requests_fails() {
        let id = uuid::Uuid::new_v4().to_string();
        let j = graded(vec![
            pds("GET", 200, 0, &id, None),
            pds("PATCH", 200, 100, &id, Some("W/\"1\"")),
        ]);
        assert_eq!(status(&j, "pds.x-request-id"), Status::Fail);
        let check = j.checks.iter().find(|c| c.id == "pds.x-request-id");
        assert_eq!(check.map(|c| c.entries.clone()), Some(vec![1, 2]));
    }
}
