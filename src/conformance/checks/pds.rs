//! PDS: the trace (before any change, and fresh at the migrate), the request ids, the version
//! quoted by the registration change.

use super::*;

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: CheckId::PdsTraceBeforeChange,
        title: "Traced the patient on PDS before changing anything",
        rule: "Read the patient from PDS first: the read gives the current practice and the version \
               (ETag) the registration change must quote. Change the registration only after that.",
        source: PDS_URL,
        script: None,
        about_start: true,
        grade: trace_before_change,
    },
    Rule {
        id: CheckId::PdsTraceFresh,
        title: "The PDS trace was less than 24 hours old at the migrate",
        rule: "Trace the patient on PDS shortly before migrating: a migrate whose latest trace is more \
               than 24 hours old must be blocked by the consumer, which traces again first \
               (GPC-MIG-TST-GEN-06, requirement GPC-CORE01-01).",
        source: CONSUMER_SCRIPTS_URL,
        script: Some(TestScript {
            ids: "GPC-MIG-TST-GEN-06",
            requirement: "GPC-CORE01-01",
            url: CONSUMER_SCRIPTS_URL,
        }),
        about_start: false,
        grade: trace_fresh,
    },
    Rule {
        id: CheckId::PdsRequestId,
        title: "A fresh X-Request-ID (UUID) on every PDS request",
        rule: "Every PDS request carries X-Request-ID, a new UUID per request; the same value is sent \
               again only when retrying that very request.",
        source: PDS_URL,
        script: None,
        about_start: false,
        grade: request_ids,
    },
    Rule {
        id: CheckId::PdsIfMatch,
        title: "The registration change quoted the version it read",
        rule: "A PDS PATCH sends If-Match with the ETag of the patient as last read (W/\"n\"), so a \
               change made meanwhile by someone else is refused with 409 rather than overwritten.",
        source: PDS_URL,
        script: None,
        about_start: true,
        grade: if_match,
    },
    Rule {
        id: CheckId::PdsRetryAfterConflict,
        title: "After a 409 version conflict, read again before retrying",
        rule: "A PATCH refused with 409 RESOURCE_VERSION_MISMATCH means the patient changed since it \
               was read: read it again, check the change still applies, and retry with the new ETag; \
               resending the old version can never succeed.",
        source: PDS_URL,
        script: None,
        about_start: false,
        grade: retry_after_conflict,
    },
];

fn trace_before_change(g: &Grader<'_>) -> Verdict {
    let reads: Vec<&Event> = g
        .of(&[Kind::PdsRead])
        .into_iter()
        .filter(|e| e.ok())
        .collect();
    let migrates = g.migrates();
    let changes: Vec<&Event> = g
        .events
        .iter()
        .copied()
        .filter(|e| e.kind == Kind::PdsPatch || migrates.iter().any(|m| m.seq() == e.seq()))
        .collect();
    match (changes.first(), reads.first()) {
        (None, None) => Verdict::not_reached("no PDS read, change or migrate"),
        (None, Some(r)) => Verdict::pass(format!("traced at #{}", r.seq()), [r.seq()]),
        (Some(ch), Some(r)) if r.seq() < ch.seq() => Verdict::pass(
            format!(
                "traced at #{} before the first change at #{}",
                r.seq(),
                ch.seq()
            ),
            [r.seq(), ch.seq()],
        ),
        (Some(ch), _) => Verdict::fail(
            format!(
                "#{} ({} {}) came with no successful PDS read of patient {} before it",
                ch.seq(),
                ch.entry.method,
                ch.entry.service.to_uppercase(),
                g.journey.patient
            ),
            [ch.seq()],
        ),
    }
}

fn age(d: chrono::Duration) -> String {
    let minutes = d.num_minutes();
    if minutes >= 60 {
        format!("{} h {} min", minutes / 60, minutes % 60)
    } else {
        format!("{minutes} min")
    }
}

fn trace_fresh(g: &Grader<'_>) -> Verdict {
    let migrates = g.migrates();
    if migrates.is_empty() {
        return Verdict::not_reached("no migrate was sent");
    }
    let reads: Vec<&Event> = g
        .of(&[Kind::PdsRead])
        .into_iter()
        .filter(|e| e.ok())
        .collect();
    let mut found = Findings::default();
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
        found.prove([trace.seq(), m.seq()]);
        if gap > chrono::Duration::hours(TRACE_MAX_AGE_HOURS) {
            found.fail(
                format!(
                    "#{} was sent {} after the trace at #{}: a trace more than {TRACE_MAX_AGE_HOURS} hours old must block the migrate until the patient is traced again",
                    m.seq(),
                    age(gap),
                    trace.seq()
                ),
                [],
            );
        }
    }
    if judged == 0 {
        return Verdict::not_reached_at(
            "no PDS trace came before the migrate (see pds.trace-before-change)",
            seqs(&migrates),
        );
    }
    found.or_pass_proved(format!(
        "{judged} migrate(s), each within {TRACE_MAX_AGE_HOURS} hours of a trace"
    ))
}

fn request_ids(g: &Grader<'_>) -> Verdict {
    let pds = g.of(&[Kind::PdsRead, Kind::PdsPatch]);
    if pds.is_empty() {
        return Verdict::not_reached("no PDS request");
    }
    let signature = |e: &Event| {
        (
            e.entry.method.clone(),
            e.entry.path.clone(),
            e.header("if-match").map(str::to_owned),
            e.entry.request_body.as_ref().map(|b| b.text()),
        )
    };
    let mut found = Findings::default();
    for e in &pds {
        match e.header("x-request-id") {
            None => found.fail(format!("#{} has no X-Request-ID", e.seq()), [e.seq()]),
            Some(id) if !is_uuid(id) => found.fail(
                format!("#{}: X-Request-ID '{id}' is not a UUID", e.seq()),
                [e.seq()],
            ),
            Some(id) => {
                let others: Vec<&Event> = g.index.request_ids[id]
                    .iter()
                    .map(|&k| &g.index.events[k])
                    .filter(|o| o.seq() < e.seq() && signature(o) != signature(e))
                    .collect();
                if let Some(o) = others.first() {
                    found.fail(
                        format!(
                            "#{} reuses X-Request-ID {id} of #{}, a different request",
                            e.seq(),
                            o.seq()
                        ),
                        [o.seq(), e.seq()],
                    );
                }
            }
        }
    }
    found.or_pass(
        format!("{} PDS requests, each with its own UUID", pds.len()),
        seqs(&pds),
    )
}

fn if_match(g: &Grader<'_>) -> Verdict {
    let pds = g.of(&[Kind::PdsRead, Kind::PdsPatch]);
    let patches: Vec<&Event> = pds
        .iter()
        .copied()
        .filter(|e| e.kind == Kind::PdsPatch)
        .collect();
    if patches.is_empty() {
        let already = pds.iter().find(|e| {
            e.ok() && gp_of(e).is_some_and(|gp| gp.eq_ignore_ascii_case(&g.consumer.ods))
        });
        return match already {
            Some(r) => Verdict::pass(
                format!(
                    "PDS already named {} at #{}: nothing to change",
                    g.consumer.ods,
                    r.seq()
                ),
                [r.seq()],
            ),
            None => Verdict::not_reached("no registration change was sent"),
        };
    }
    let mut found = Findings::default();
    for p in &patches {
        let read = pds
            .iter()
            .filter(|e| e.seq() < p.seq() && e.ok())
            .max_by_key(|e| e.seq());
        let etag = read.and_then(|r| r.entry.response_headers.get("etag"));
        let sent = p.header("if-match");
        found.prove([p.seq()]);
        match (sent, etag, read) {
            (None, _, _) => found.fail(format!("#{} has no If-Match", p.seq()), []),
            (Some(s), Some(v), Some(r)) if s == v => found.prove([r.seq()]),
            (Some(s), Some(v), Some(r)) => found.fail(
                format!(
                    "#{} sent If-Match {s}, but the version last read (#{}) was {v}",
                    p.seq(),
                    r.seq()
                ),
                [r.seq()],
            ),
            (Some(s), _, _) => found.fail(
                format!(
                    "#{} sent If-Match {s} without having read a version first",
                    p.seq()
                ),
                [],
            ),
        }
    }
    found.or_pass_proved(format!(
        "{} PATCH(es), each with the version just read",
        patches.len()
    ))
}

fn retry_after_conflict(g: &Grader<'_>) -> Verdict {
    let pds = g.of(&[Kind::PdsRead, Kind::PdsPatch]);
    let conflicts: Vec<&Event> = pds
        .iter()
        .copied()
        .filter(|e| e.kind == Kind::PdsPatch && e.entry.status == 409)
        .collect();
    if conflicts.is_empty() {
        return Verdict::not_reached(
            "no version conflict (409) was met, so there was nothing to retry",
        );
    }
    let mut found = Findings::default();
    for conflict in &conflicts {
        found.prove([conflict.seq()]);
        let Some(next) = pds
            .iter()
            .find(|e| e.kind == Kind::PdsPatch && e.seq() > conflict.seq())
        else {
            continue;
        };
        found.prove([next.seq()]);
        let reread = pds.iter().any(|e| {
            e.kind == Kind::PdsRead && e.ok() && e.seq() > conflict.seq() && e.seq() < next.seq()
        });
        let same = next.header("if-match") == conflict.header("if-match");
        if !reread || same {
            found.fail(
                format!(
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
                ),
                [],
            );
        }
    }
    found.or_pass_proved("re-read after every 409 and retried with the new version")
}
