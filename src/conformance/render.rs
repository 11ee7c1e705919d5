//! The report for people (text) and for CI pipelines (JUnit XML, one test case per check).

use std::fmt::Write as _;

use super::{Report, Status};

fn mark(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Warning => "WARN",
        Status::NotReached => " -- ",
    }
}

/// A readable report: each consumer, each journey, each check with its evidence.
pub(crate) fn text(report: &Report) -> String {
    let mut out = String::new();
    let j = &report.journal;
    let _ = writeln!(
        out,
        "Journal: {} entries (#{}..#{}){}",
        j.entries,
        j.first_sequence.unwrap_or(0),
        j.last_sequence.unwrap_or(0),
        if j.evicted_through > 0 {
            format!(
                "; entries up to #{} were dropped to keep it bounded",
                j.evicted_through
            )
        } else {
            String::new()
        }
    );
    for c in &report.consumers {
        let _ = writeln!(
            out,
            "\nConsumer {} (ASID {}): {}",
            c.ods,
            if c.asids.is_empty() {
                "none seen".to_owned()
            } else {
                c.asids.join(", ")
            },
            c.verdict.as_str().to_uppercase()
        );
        for journey in &c.journeys {
            let _ = writeln!(
                out,
                "\n  Patient {} {} (journal #{}..#{}){}: {}",
                journey.patient,
                journey.previous_practice.as_deref().map_or_else(
                    || "(previous practice not known: no PDS trace named one and no migrate was sent)".to_owned(),
                    |p| if p.eq_ignore_ascii_case(&c.ods) {
                        format!("from {p} (your own practice)")
                    } else {
                        format!("from {p}")
                    }
                ),
                journey.first_sequence,
                journey.last_sequence,
                if journey.start_evicted {
                    " [start evicted from the journal]"
                } else {
                    ""
                },
                journey.verdict.as_str().to_uppercase()
            );
            for check in &journey.checks {
                let _ = writeln!(
                    out,
                    "    [{}] {} ({})",
                    mark(check.status),
                    check.title,
                    check.id
                );
                if check.status == Status::Fail || check.status == Status::Warning {
                    let _ = writeln!(out, "           {}", check.detail);
                    let _ = writeln!(out, "           rule: {}", check.rule);
                    let _ = writeln!(out, "           see:  {}", check.url);
                    if !check.entries.is_empty() {
                        let _ = writeln!(
                            out,
                            "           journal entries: {}",
                            check
                                .entries
                                .iter()
                                .map(|e| format!("#{e}"))
                                .collect::<Vec<_>>()
                                .join(" ")
                        );
                    }
                }
            }
        }
    }
    let count = |s: Status| {
        report
            .consumers
            .iter()
            .flat_map(|c| &c.journeys)
            .flat_map(|j| &j.checks)
            .filter(|c| c.status == s)
            .count()
    };
    let _ = writeln!(
        out,
        "\n{} journey(s): {} passed, {} failed, {} warnings, {} not reached",
        report.journeys(),
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Warning),
        count(Status::NotReached)
    );
    out
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: a suite per journey, a case per check; failures fail, "not reached" is skipped,
/// warnings pass with the warning in `system-out`.
pub(crate) fn junit(report: &Report) -> String {
    let all: Vec<_> = report
        .consumers
        .iter()
        .flat_map(|c| c.journeys.iter().map(move |j| (c, j)))
        .collect();
    let tests: usize = all.iter().map(|(_, j)| j.checks.len()).sum();
    let failures: usize = all
        .iter()
        .flat_map(|(_, j)| &j.checks)
        .filter(|c| c.status == Status::Fail)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"spine-sandbox conformance\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    );
    for (c, j) in all {
        let count = |s: Status| j.checks.iter().filter(|x| x.status == s).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
            xml(&format!(
                "{} migrating patient {} (journal #{}-#{})",
                c.ods, j.patient, j.first_sequence, j.last_sequence
            )),
            j.checks.len(),
            count(Status::Fail),
            count(Status::NotReached)
        );
        for check in &j.checks {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(&format!("conformance.{}.{}", c.ods, check.area)),
                xml(&format!("{} ({})", check.title, check.id))
            );
            let evidence = format!(
                "{}\nrule: {}\nsee: {}\njournal entries: {}",
                check.detail,
                check.rule,
                check.url,
                check
                    .entries
                    .iter()
                    .map(|e| format!("#{e}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            match check.status {
                Status::Pass => out.push_str("/>\n"),
                Status::Fail => {
                    let _ = write!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                        xml(&check.detail),
                        xml(check.id.as_str()),
                        xml(&evidence)
                    );
                }
                Status::NotReached => {
                    let _ = write!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                        xml(&format!("not reached: {}", check.detail))
                    );
                }
                Status::Warning => {
                    let _ = write!(
                        out,
                        ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                        xml(&format!("warning: {evidence}"))
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{Area, Check, CheckId, Consumer, JournalSpan, Journey};

    fn report(status: Status) -> Report {
        Report {
            journal: JournalSpan {
                entries: 3,
                first_sequence: Some(1),
                last_sequence: Some(3),
                evicted_through: 0,
            },
            consumers: vec![Consumer {
                ods: "A20047".into(),
                asids: vec!["200000000047".into()],
                verdict: status,
                journeys: vec![Journey {
                    patient: "9434761018".into(),
                    first_sequence: 1,
                    last_sequence: 3,
                    start_evicted: false,
                    previous_practice: Some("B82617".into()),
                    sensitive: Some(false),
                    record_sequence: None,
                    documents: 0,
                    verdict: status,
                    checks: vec![Check {
                        id: CheckId::PdsRequestId,
                        area: Area::Pds,
                        title: "A fresh <X-Request-ID> & more".into(),
                        status,
                        rule: "r".into(),
                        url: "https://example".into(),
                        detail: "d \"quoted\"".into(),
                        entries: vec![2],
                    }],
                    hops: vec![1, 2, 3],
                }],
            }],
        }
    }

    #[test]
    fn junit_escapes_and_counts() {
        let x = junit(&report(Status::Fail));
        assert!(x.contains("failures=\"1\""), "{x}");
        assert!(x.contains("&lt;X-Request-ID&gt; &amp; more"));
        assert!(x.contains("<failure message=\"d &quot;quoted&quot;\""));
        let skipped = junit(&report(Status::NotReached));
        assert!(skipped.contains("<skipped"));
        assert!(skipped.contains("failures=\"0\""));
    }

    #[test]
    fn text_shows_failure_evidence() {
        let t = text(&report(Status::Fail));
        assert!(t.contains("[FAIL]"), "{t}");
        assert!(t.contains("journal entries: #2"));
        assert!(t.contains("see:  https://example"));
    }
}
