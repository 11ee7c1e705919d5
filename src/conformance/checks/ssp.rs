//! SSP: every GP Connect request through the proxy, with the right headers and target.

use super::*;

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: CheckId::SspViaProxy,
        title: "Every GP Connect request went through SSP",
        rule: "GP Connect requests are sent to SSP, which checks and audits them, with the provider's \
               URL appended: https://[ssp]/[provider service root]/...; never straight to a provider.",
        source: SSP_URL,
        script: Some(TestScript {
            ids: "CONS-SECURITYTEST01",
            requirement: "SSP-05",
            url: SPINE_SCRIPTS_URL,
        }),
        about_start: false,
        grade: via_proxy,
    },
    Rule {
        id: CheckId::SspHeaders,
        title: "Every Ssp-* header right",
        rule: "Each request sends Ssp-TraceID (a UUID), Ssp-From (the consumer's ASID, the one in its \
               client certificate), Ssp-To (the provider's ASID from SDS) and Ssp-InteractionID (the \
               interaction being performed), once each.",
        source: SSP_URL,
        script: None,
        about_start: false,
        grade: headers,
    },
    Rule {
        id: CheckId::SspFreshTraceId,
        title: "A fresh Ssp-TraceID on every request",
        rule: "Ssp-TraceID is a new UUID for every request, retries included; the provider echoes it \
               as the Bundle id, and Spine's audit joins hops by it.",
        source: SSP_URL,
        script: None,
        about_start: false,
        grade: fresh_trace_ids,
    },
    Rule {
        id: CheckId::SspTargetFromSds,
        title: "Target URL exactly the one SDS gave",
        rule: "The URL after SSP's address is the service root SDS returned for the interaction, \
               verbatim, plus the operation; a document's URL is the DocumentReference's \
               attachment.url. SSP refuses any other target.",
        source: SSP_URL,
        script: None,
        about_start: false,
        grade: target_from_sds,
    },
];

fn via_proxy(g: &Grader<'_>) -> Verdict {
    let direct: Vec<&Event> = g.events.iter().copied().filter(|e| e.direct()).collect();
    let via = g.of(&[Kind::SspMigrate, Kind::SspRetrieve, Kind::SspDocument]);
    if direct.is_empty() && via.is_empty() {
        return Verdict::not_reached("nothing was sent to a provider");
    }
    if direct.is_empty() {
        return Verdict::pass(
            format!("{} request(s), all through SSP", via.len()),
            seqs(&via),
        );
    }
    Verdict::fail(
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

/// The interaction a request through SSP performs.
fn interaction_of(e: &Event) -> &'static str {
    match e.kind {
        Kind::SspMigrate => interactions::MIGRATE_STRUCTURED,
        Kind::SspRetrieve => interactions::GET_STRUCTURED,
        _ => interactions::MIGRATE_DOCUMENT,
    }
}

fn headers(g: &Grader<'_>) -> Verdict {
    let sent = g.of(&[Kind::SspMigrate, Kind::SspRetrieve, Kind::SspDocument]);
    if sent.is_empty() {
        return Verdict::not_reached("nothing was sent through SSP");
    }
    let mut found = Findings::default();
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
        let expected = interaction_of(e);
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
            found.fail(format!("#{}: {}", e.seq(), wrong.join(", ")), [e.seq()]);
        }
    }
    found.or_pass(
        format!("{} request(s), headers right", sent.len()),
        seqs(&sent),
    )
}

fn fresh_trace_ids(g: &Grader<'_>) -> Verdict {
    let sent = g.of(&[Kind::SspMigrate, Kind::SspRetrieve, Kind::SspDocument]);
    if sent.is_empty() {
        return Verdict::not_reached("nothing was sent through SSP");
    }
    let mut found = Findings::default();
    for e in &sent {
        let Some(t) = &e.entry.trace_id else { continue };
        let uses = g
            .index
            .trace_ids
            .get(t)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if let Some(&earlier) = uses.iter().find(|&&k| g.index.events[k].seq() < e.seq()) {
            let earlier = g.index.events[earlier].seq();
            found.fail(
                format!("#{} reuses Ssp-TraceID {t} of #{earlier}", e.seq()),
                [earlier, e.seq()],
            );
        }
    }
    found.or_pass(
        format!(
            "{} request(s), {} distinct trace ids",
            sent.len(),
            sent.len()
        ),
        seqs(&sent),
    )
}

fn target_from_sds(g: &Grader<'_>) -> Verdict {
    let sent = g.of(&[Kind::SspMigrate, Kind::SspRetrieve, Kind::SspDocument]);
    if sent.is_empty() {
        return Verdict::not_reached("nothing was sent through SSP");
    }
    let bundle_urls: Vec<String> = g
        .of(&[Kind::ProviderMigrate])
        .iter()
        .filter_map(|d| d.entry.documents.as_deref())
        .flatten()
        .cloned()
        .collect();
    let mut found = Findings::default();
    for e in &sent {
        let interaction = interaction_of(e);
        let target = e.target();
        let given = g
            .sds(Kind::SdsEndpoint)
            .into_iter()
            .filter(|l| l.seq() < e.seq() && l.sds_interaction.as_deref() == Some(interaction))
            .find(|l| l.sds_results.iter().any(|a| target.starts_with(a.as_str())));
        match given {
            Some(l) => found.prove([l.seq(), e.seq()]),
            None => found.fail(
                format!(
                    "#{} targets {target}, which no SDS lookup for {interaction} before it returned",
                    e.seq()
                ),
                [e.seq()],
            ),
        }
        if e.kind == Kind::SspDocument && !bundle_urls.iter().any(|u| u == target) {
            found.fail(
                format!(
                    "#{} fetches {target}, which is no DocumentReference url of the record",
                    e.seq()
                ),
                [e.seq()],
            );
        }
    }
    found.or_pass_proved(format!("{} target(s), each as SDS gave it", sent.len()))
}
