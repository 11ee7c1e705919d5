//! Checks from NHS's consumer test scripts for migrate and from what production consumers
//! learnt: the age of the PDS trace, a fresh JWT for every retry, the JWT naming the consumer's
//! own ASID and ODS code, and asking the practice PDS named before the registration change.

use super::*;
use crate::fhir::systems;

/// NHS's consumer test scripts for migrate (GPC-MIG-TST-GEN-05 to -08).
pub const CONSUMER_SCRIPTS_URL: &str = "https://github.com/nhsconnect/gpc-consumer-support/wiki/Consumer-Test-Scripts-Access-Record:-Structured-Documents-Migrate";
/// NHS England's GP2GP adaptor, a production migrate consumer: its CHANGELOG's 2.0.4 release
/// mints a new JWT per request after tokens reused across retries expired.
pub const GP2GP_ADAPTOR_URL: &str = "https://github.com/NHSDigital/integration-adaptor-gp2gp";

/// A trace older than this blocks the migrate (GPC-MIG-TST-GEN-06).
pub const TRACE_MAX_AGE_HOURS: i64 = 24;

fn age(d: chrono::Duration) -> String {
    let minutes = d.num_minutes();
    if minutes >= 60 {
        format!("{} h {} min", minutes / 60, minutes % 60)
    } else {
        format!("{minutes} min")
    }
}

impl Grader<'_> {
    /// GP Connect requests as the consumer sent them: migrates and document fetches.
    fn gp_connect_requests(&self) -> Vec<&Event> {
        let mut sent: Vec<&Event> = self
            .migrates()
            .into_iter()
            .chain(self.document_fetches())
            .collect();
        sent.sort_by_key(|e| e.seq());
        sent
    }

    pub(super) fn trace_fresh(&self) -> Check {
        let c = check(
            "pds.trace-fresh",
            "PDS",
            "The PDS trace was less than 24 hours old at the migrate",
            "Trace the patient on PDS shortly before migrating: a migrate whose latest trace is more \
             than 24 hours old must be blocked by the consumer, which traces again first \
             (GPC-MIG-TST-GEN-06, requirement GPC-CORE01-01).",
            CONSUMER_SCRIPTS_URL,
        );
        let migrates = self.migrates();
        if migrates.is_empty() {
            return c.with(Status::NotReached, "no migrate was sent", vec![]);
        }
        let reads: Vec<&Event> = self
            .of(&[Kind::PdsRead])
            .into_iter()
            .filter(|e| e.ok())
            .collect();
        let mut problems = Vec::new();
        let mut proof = Vec::new();
        let mut judged = 0;
        for m in &migrates {
            let Some(trace) = reads.iter().rev().find(|r| r.seq() < m.seq()) else {
                continue;
            };
            let (Some(traced), Some(sent)) = (trace.time, m.time) else {
                continue;
            };
            judged += 1;
            let gap = sent - traced;
            proof.extend([trace.seq(), m.seq()]);
            if gap > chrono::Duration::hours(TRACE_MAX_AGE_HOURS) {
                problems.push(format!(
                    "#{} was sent {} after the trace at #{}: a trace more than {TRACE_MAX_AGE_HOURS} hours old must block the migrate until the patient is traced again",
                    m.seq(),
                    age(gap),
                    trace.seq()
                ));
            }
        }
        if judged == 0 {
            return c.with(
                Status::NotReached,
                "no PDS trace came before the migrate (see pds.trace-before-change)",
                seqs(&migrates),
            );
        }
        if problems.is_empty() {
            c.with(
                Status::Pass,
                format!("{judged} migrate(s), each within {TRACE_MAX_AGE_HOURS} hours of a trace"),
                proof,
            )
        } else {
            c.with(Status::Fail, problems.join("; "), proof)
        }
    }

    pub(super) fn jwt_fresh_per_retry(&self) -> Check {
        let c = check(
            "jwt.fresh-per-retry",
            "JWT",
            "A fresh JWT for every request, retries included",
            "Mint a new JWT for every request, and again for each retry: a token lives 5 minutes \
             from its iat, so one reused across retries expires (NHS England's GP2GP adaptor had to \
             fix exactly this in its 2.0.4 release).",
            JWT_URL,
        );
        let sent = self.gp_connect_requests();
        let token = |e: &Event| {
            e.header("authorization")
                .and_then(crate::jwt::bearer_token)
                .map(str::to_owned)
        };
        let mut problems = Vec::new();
        let mut proof = Vec::new();
        for (n, e) in sent.iter().enumerate() {
            let Some(t) = token(e) else { continue };
            // Two tokens minted in the same second for the same request are byte for byte the
            // same: only one sent again in a later second is certainly a reused token.
            let later_second = |o: &&&Event| match (o.time, e.time) {
                (Some(a), Some(b)) => b.timestamp() > a.timestamp(),
                _ => false,
            };
            if let Some(earlier) = sent[..n]
                .iter()
                .filter(later_second)
                .find(|o| token(o).as_deref() == Some(&t))
            {
                let iat = e
                    .claims()
                    .and_then(|c| c["iat"].as_i64())
                    .map_or(String::new(), |i| format!(" (iat {i})"));
                problems.push(format!(
                    "#{} resends the JWT of #{}{iat}",
                    e.seq(),
                    earlier.seq()
                ));
                proof.extend([earlier.seq(), e.seq()]);
            }
        }
        if !problems.is_empty() {
            return c.with(Status::Fail, problems.join("; "), proof);
        }
        // Requests sent again after a refusal: the retries this check is about.
        let retries: Vec<&Event> = sent
            .windows(2)
            .filter(|w| !w[0].ok() && w[0].kind == w[1].kind)
            .map(|w| w[1])
            .collect();
        if retries.is_empty() {
            c.with(
                Status::NotReached,
                "no GP Connect request was retried",
                vec![],
            )
        } else {
            c.with(
                Status::Pass,
                format!("{} retry(ies), each with a token of its own", retries.len()),
                seqs(&retries),
            )
        }
    }

    pub(super) fn jwt_identity(&self) -> Check {
        let c = check(
            "jwt.requesting-identity",
            "JWT",
            "requesting_organization and requesting_device name this consumer",
            "requesting_organization carries the consumer's own ODS code under \
             https://fhir.nhs.uk/Id/ods-organization-code (a code that is not the patient's new \
             practice is refused: GPC-MIG-TST-GEN-08); requesting_device identifies the sending \
             system, best by its ASID under https://fhir.nhs.uk/Id/nhsSpineASID, which must then \
             be the ASID of its client certificate and Ssp-From.",
            JWT_URL,
        );
        let sent = self.gp_connect_requests();
        if sent.is_empty() {
            return c.with(Status::NotReached, "nothing was sent to a provider", vec![]);
        }
        let mut fails = Vec::new();
        let mut warnings = Vec::new();
        let mut proof = Vec::new();
        for e in &sent {
            let Some(claims) = e.claims() else {
                continue;
            };
            let org_ids = claims["requesting_organization"]["identifier"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let ods = org_ids
                .iter()
                .find(|i| i["system"] == systems::ODS_ORGANIZATION_CODE)
                .and_then(|i| i["value"].as_str());
            match ods {
                None => {
                    let systems_sent: Vec<String> = org_ids
                        .iter()
                        .map(|i| i["system"].as_str().unwrap_or("(none)").to_owned())
                        .collect();
                    fails.push(format!(
                        "#{}: requesting_organization has no identifier with system {} (sent: {})",
                        e.seq(),
                        systems::ODS_ORGANIZATION_CODE,
                        if systems_sent.is_empty() {
                            "none".to_owned()
                        } else {
                            systems_sent.join(", ")
                        }
                    ));
                    proof.push(e.seq());
                }
                Some(o) if !o.eq_ignore_ascii_case(&self.consumer.ods) => {
                    fails.push(format!(
                        "#{}: requesting_organization names {o}, not this consumer {}",
                        e.seq(),
                        self.consumer.ods
                    ));
                    proof.push(e.seq());
                }
                Some(_) => {}
            }
            let own_asid = e
                .entry
                .client_asid
                .as_deref()
                .or_else(|| e.header("ssp-from"));
            let device_ids = claims["requesting_device"]["identifier"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let device_asid = device_ids
                .iter()
                .find(|i| i["system"] == systems::SPINE_ASID)
                .and_then(|i| i["value"].as_str());
            match (device_asid, own_asid) {
                (Some(d), Some(own)) if d != own => {
                    fails.push(format!(
                        "#{}: requesting_device names ASID {d}, but this consumer's certificate and Ssp-From are {own}",
                        e.seq()
                    ));
                    proof.push(e.seq());
                }
                (Some(_), _) => {}
                (None, _) => {
                    let shown: Vec<String> = device_ids
                        .iter()
                        .map(|i| {
                            format!(
                                "{}|{}",
                                i["system"].as_str().unwrap_or(""),
                                i["value"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    warnings.push(format!(
                        "#{}: requesting_device identifies the system as {} rather than by its ASID ({}|{})",
                        e.seq(),
                        if shown.is_empty() {
                            "nothing".to_owned()
                        } else {
                            shown.join(", ")
                        },
                        systems::SPINE_ASID,
                        own_asid.unwrap_or("your ASID")
                    ));
                    proof.push(e.seq());
                }
            }
        }
        if !fails.is_empty() {
            fails.extend(warnings);
            c.with(Status::Fail, fails.join("; "), proof)
        } else if !warnings.is_empty() {
            c.with(Status::Warning, warnings.join("; "), proof)
        } else {
            c.with(
                Status::Pass,
                format!(
                    "{} token(s) name {} and its ASID",
                    sent.len(),
                    self.consumer.ods
                ),
                seqs(&sent),
            )
        }
    }

    pub(super) fn asked_previous_practice(&self) -> Check {
        let c = check(
            "migrate.from-previous-practice",
            "migrate",
            "Asked the practice PDS named before the registration change",
            "The record is at the practice PDS named when the patient was first traced: note it \
             before changing the registration, and send the migrate to that practice. After the \
             change PDS names the new practice itself, which holds no record to migrate.",
            MIGRATE_URL,
        );
        let Some(first) = self.migrates().first().copied() else {
            return c.with(Status::NotReached, "no migrate was sent", vec![]);
        };
        let Some(asked) = provider_ods(first.target()) else {
            return c.with(
                Status::NotReached,
                format!(
                    "the migrate at #{} names no practice in its URL",
                    first.seq()
                ),
                vec![first.seq()],
            );
        };
        let before = self
            .of(&[Kind::PdsRead])
            .into_iter()
            .filter(|e| e.ok() && e.seq() < first.seq())
            .find_map(|e| gp_of(e).map(|gp| (e.seq(), gp)));
        let own = asked.eq_ignore_ascii_case(&self.consumer.ods);
        match before {
            Some((_, gp)) if gp.eq_ignore_ascii_case(&asked) && !own => c.with(
                Status::Pass,
                format!("asked {asked}, the practice PDS named at the first trace"),
                vec![first.seq()],
            ),
            Some((at, gp)) if own && !gp.eq_ignore_ascii_case(&self.consumer.ods) => c.with(
                Status::Fail,
                format!(
                    "#{} asked your own practice ({asked}) for the record; PDS named {gp} at the trace #{at}, before the registration change: ask {gp}",
                    first.seq()
                ),
                vec![at, first.seq()],
            ),
            Some((_, _)) if own => c.with(
                Status::Fail,
                format!(
                    "#{} asked your own practice ({asked}) for the record: PDS already named you when traced, so there is no previous practice to migrate from",
                    first.seq()
                ),
                vec![first.seq()],
            ),
            Some((at, gp)) if gp.eq_ignore_ascii_case(&self.consumer.ods) => c.with(
                Status::Warning,
                format!(
                    "#{} asked {asked}; PDS already named you ({gp}) at the trace #{at}, so the journal cannot tell which practice held the record before",
                    first.seq()
                ),
                vec![at, first.seq()],
            ),
            Some((at, gp)) => c.with(
                Status::Fail,
                format!(
                    "#{} asked {asked}, but PDS named {gp} at the trace #{at}",
                    first.seq()
                ),
                vec![at, first.seq()],
            ),
            None if own => c.with(
                Status::Fail,
                format!(
                    "#{} asked your own practice ({asked}) for the record",
                    first.seq()
                ),
                vec![first.seq()],
            ),
            None => c.with(
                Status::NotReached,
                "no PDS trace named a practice before the migrate (see pds.trace-before-change)",
                vec![first.seq()],
            ),
        }
    }
}
