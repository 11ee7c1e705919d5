//! Refusals: what a consumer does after a refused request.

use super::*;

impl Grader<'_> {
    pub(super) fn retries(&self) -> Check {
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
        let refused: Vec<&Event> = sent.iter().copied().filter(|e| !e.ok()).collect();
        if refused.is_empty() {
            c.with(
                Status::NotReached,
                "no request was refused, so there was nothing to retry",
                vec![],
            )
        } else if problems.is_empty() {
            c.with(
                Status::Pass,
                format!(
                    "{} refused request(s), none resent more than {MAX_RETRIES} times, backing off",
                    refused.len()
                ),
                seqs(&refused),
            )
        } else {
            c.with(worst, problems.join("; "), proof)
        }
    }
}
