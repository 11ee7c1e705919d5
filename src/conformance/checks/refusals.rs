//! Refusals: what a consumer does after a refused request.

use super::*;

pub(super) const RULES: &[Rule] = &[Rule {
    id: CheckId::RefusalsRetries,
    title: "No more than a few retries of a refused request, backing off",
    rule: "A refused request is not resent as it is: fix what the OperationOutcome names. A \
           transient failure may be retried a few times, waiting longer each time.",
    source: ERRORS_URL,
    script: None,
    about_start: false,
    grade: retries,
}];

fn retries(g: &Grader<'_>) -> Verdict {
    // Requests as the consumer sent them (forwarded provider hops are the same request).
    let sent: Vec<&Event> = g
        .events
        .iter()
        .copied()
        .filter(|e| !e.is_provider() || e.direct())
        .filter(|e| !matches!(e.kind, Kind::SdsEndpoint | Kind::SdsDevice))
        .collect();
    let refused: Vec<&Event> = sent.iter().copied().filter(|e| !e.ok()).collect();
    if refused.is_empty() {
        return Verdict::not_reached("no request was refused, so there was nothing to retry");
    }
    let key = |e: &Event| {
        (
            e.entry.service,
            e.entry.method.clone(),
            e.target().to_owned(),
        )
    };
    let mut found = Findings::default();
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
                found.fail(
                    format!(
                        "{} {} refused at #{} and sent {retries} more times (at most {MAX_RETRIES})",
                        run[0].entry.method,
                        run[0].target(),
                        run[0].seq()
                    ),
                    seqs(&run),
                );
            } else if !backs_off && !found.failed() {
                found.warn(
                    format!(
                        "{} {} retried {retries} times without waiting longer each time (gaps {gaps:?} ms)",
                        run[0].entry.method,
                        run[0].target()
                    ),
                    seqs(&run),
                );
            }
        }
        i += run.len().max(1);
    }
    found.or_pass(
        format!(
            "{} refused request(s), none resent more than {MAX_RETRIES} times, backing off",
            refused.len()
        ),
        seqs(&refused),
    )
}
