//! PDS: the trace, the request ids, the version quoted by the registration change.

use super::*;

impl Grader<'_> {
    pub(super) fn trace_before_change(&self) -> Check {
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

    pub(super) fn request_ids(&self) -> Check {
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

    pub(super) fn if_match(&self) -> Check {
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

    pub(super) fn retry_409(&self) -> Check {
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
            return c.with(
                Status::NotReached,
                "no version conflict (409) was met, so there was nothing to retry",
                vec![],
            );
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
}
