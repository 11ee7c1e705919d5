//! SSP: every GP Connect request through the proxy, with the right headers and target.

use super::*;

impl Grader<'_> {
    pub(super) fn via_ssp(&self) -> Check {
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

    pub(super) fn ssp_headers(&self) -> Check {
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

    pub(super) fn ssp_trace_ids(&self) -> Check {
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

    pub(super) fn ssp_target(&self) -> Check {
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
}
