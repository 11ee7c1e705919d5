//! A provider check's results: one line per check on the terminal, JUnit XML for CI, and JSON
//! for the admin API.

use serde::Serialize;

/// What became of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// An earlier step it depends on did not happen (no such patient, an earlier failure).
    NotReached,
}

/// One check: what it asks of the provider, on what authority, and what was seen.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    /// The rule, in a sentence.
    pub rule: &'static str,
    /// The NHS source of the rule.
    pub source: &'static str,
    pub status: Status,
    /// What the sandbox saw, or why the check was not reached.
    pub detail: String,
    /// The journal hops that prove it: `service METHOD path -> status`, by `Ssp-TraceID`.
    pub hops: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub practice: String,
    pub consumer: String,
    pub checks: Vec<Check>,
}

/// Exit codes, as `spine-sandbox conformance`: all passed, a check failed, no report.
pub(crate) const EXIT_PASS: u8 = 0;
pub(crate) const EXIT_NOT_RUN: u8 = 1;
pub(crate) const EXIT_FAILED: u8 = 2;

impl Report {
    pub fn failed(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count()
    }

    pub fn exit_code(&self) -> u8 {
        if self.failed() > 0 {
            EXIT_FAILED
        } else {
            EXIT_PASS
        }
    }

    pub fn text(&self) -> String {
        let mut out = format!(
            "Provider check of {} (asked as {})\n",
            self.practice, self.consumer
        );
        for c in &self.checks {
            let mark = match c.status {
                Status::Pass => "PASS       ",
                Status::Fail => "FAIL       ",
                Status::NotReached => "NOT REACHED",
            };
            out.push_str(&format!("{mark} {}: {}\n", c.id, c.detail));
            if c.status == Status::Fail {
                out.push_str(&format!("            rule: {} ({})\n", c.rule, c.source));
            }
            for hop in &c.hops {
                out.push_str(&format!("            {hop}\n"));
            }
        }
        let passed = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Pass)
            .count();
        out.push_str(&format!(
            "{passed} passed, {} failed, {} not reached\n",
            self.failed(),
            self.checks.len() - passed - self.failed()
        ));
        out
    }

    pub fn junit(&self) -> String {
        let not_reached = self
            .checks
            .iter()
            .filter(|c| c.status == Status::NotReached)
            .count();
        let mut out = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"provider-check {}\" tests=\"{}\" failures=\"{}\" skipped=\"{not_reached}\">\n",
            xml(&self.practice),
            self.checks.len(),
            self.failed()
        );
        for c in &self.checks {
            out.push_str(&format!(
                "  <testcase classname=\"provider-check.{}\" name=\"{}\">\n",
                xml(&self.practice),
                xml(c.id)
            ));
            match c.status {
                Status::Pass => {}
                Status::Fail => out.push_str(&format!(
                    "    <failure message=\"{}\">{} ({})</failure>\n",
                    xml(&c.detail),
                    xml(c.rule),
                    xml(c.source)
                )),
                Status::NotReached => {
                    out.push_str(&format!("    <skipped message=\"{}\"/>\n", xml(&c.detail)));
                }
            }
            if !c.hops.is_empty() {
                out.push_str(&format!(
                    "    <system-out>{}</system-out>\n",
                    xml(&c.hops.join("\n"))
                ));
            }
            out.push_str("  </testcase>\n");
        }
        out.push_str("</testsuite>\n");
        out
    }
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(id: &'static str, status: Status) -> Check {
        Check {
            id,
            rule: "a rule",
            source: "https://example",
            status,
            detail: "saw <this> & that".into(),
            hops: vec!["ssp GET /x -> 200".into()],
        }
    }

    #[test]
    fn junit_counts_failures_and_skips_and_escapes_text() {
        let report = Report {
            practice: "B82617".into(),
            consumer: "A20047".into(),
            checks: vec![
                check("a", Status::Pass),
                check("b", Status::Fail),
                check("c", Status::NotReached),
            ],
        };
        let xml = report.junit();
        assert!(xml.contains("tests=\"3\" failures=\"1\" skipped=\"1\""));
        assert!(xml.contains("saw &lt;this&gt; &amp; that"));
        assert_eq!(report.exit_code(), EXIT_FAILED);
        assert!(report.text().contains("1 passed, 1 failed, 1 not reached"));
    }
}
