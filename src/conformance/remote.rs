//! `spine-sandbox conformance --as ODS`: fetches the report from a running sandbox, prints it
//! (or its JSON), writes JUnit XML and the evidence pack, and answers with an exit code a CI
//! pipeline can gate on.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{Report, Status, render};

/// Every check passed (warnings allowed).
pub(crate) const EXIT_PASS: u8 = 0;
/// The report could not be produced (sandbox unreachable, no journey by this consumer).
pub(crate) const EXIT_NOT_RUN: u8 = 1;
/// At least one check failed.
pub(crate) const EXIT_FAILED: u8 = 2;

/// A GET on the sandbox's plain-HTTP listener, with its admin key when given: the body of a 2xx
/// answer, or what went wrong.
pub(crate) async fn get(url: &str, admin_key: Option<&str>) -> Result<Bytes, String> {
    let mut request = http::Request::get(url);
    if let Some(key) = admin_key {
        request = request.header("x-sandbox-key", key);
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("{url} is not a URL: {e}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let work = async {
        let resp = client
            .request(request)
            .await
            .map_err(|e| format!("cannot reach the sandbox at {url}: {e}"))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("the answer from {url} broke off: {e}"))?
            .to_bytes();
        if status == http::StatusCode::UNAUTHORIZED {
            return Err(format!(
                "{url} answered {status}: the sandbox asks for its admin key; give it with --admin-key KEY or SANDBOX_ADMIN_KEY ({})",
                String::from_utf8_lossy(&body)
            ));
        }
        if !status.is_success() {
            return Err(format!(
                "{url} answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(body)
    };
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .map_err(|_| format!("{url} did not answer within 30 s"))?
}

async fn fetch(url: &str, admin_key: Option<&str>) -> Result<Report, String> {
    let body = get(url, admin_key).await?;
    serde_json::from_slice::<Report>(&body)
        .map_err(|e| format!("{url} did not answer with a conformance report: {e}"))
}

/// What the command was asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub sandbox: String,
    pub ods: String,
    pub patient: Option<String>,
    /// A journal sequence number or an RFC 3339 time.
    pub since: Option<String>,
    pub last: bool,
    pub json: bool,
    pub junit: Option<std::path::PathBuf>,
    pub evidence: Option<std::path::PathBuf>,
    /// Sent as `X-Sandbox-Key` when the sandbox asks for its admin key.
    pub admin_key: Option<String>,
}

fn query_value(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Options {
    fn url(&self) -> String {
        let mut url = format!(
            "{}/_admin/conformance?ods={}",
            self.sandbox.trim_end_matches('/'),
            query_value(&self.ods)
        );
        if let Some(p) = &self.patient {
            url.push_str(&format!("&patient={}", query_value(p)));
        }
        if let Some(s) = &self.since {
            url.push_str(&format!("&since={}", query_value(s)));
        }
        if self.last {
            url.push_str("&last=true");
        }
        url
    }
}

/// Fetches the journal and the kept records, and writes the evidence pack.
async fn evidence(options: &Options, report: &Report, dir: &Path) -> Result<usize, String> {
    let base = options.sandbox.trim_end_matches('/');
    let journal_url = format!("{base}/_admin/journal");
    let journal: Vec<serde_json::Value> =
        serde_json::from_slice(&get(&journal_url, options.admin_key.as_deref()).await?)
            .map_err(|e| format!("{journal_url} did not answer with the journal: {e}"))?;
    let mut records = std::collections::BTreeMap::new();
    for seq in report
        .consumers
        .iter()
        .flat_map(|c| &c.journeys)
        .filter_map(|j| j.record_sequence)
    {
        // A record the sandbox no longer keeps is noted in the pack, not an error.
        if let Ok(body) = get(
            &format!("{base}/_admin/records/{seq}"),
            options.admin_key.as_deref(),
        )
        .await
            && let Ok(bundle) = serde_json::from_slice::<serde_json::Value>(&body)
        {
            records.insert(seq, bundle);
        }
    }
    super::evidence::write(dir, report, &journal, &records).map(|files| files.len())
}

/// Runs the command; returns the exit code and what to print (stdout, stderr).
pub(crate) async fn run(options: &Options) -> (u8, String, String) {
    let ods = &options.ods;
    let report = match fetch(&options.url(), options.admin_key.as_deref()).await {
        Ok(r) => r,
        Err(e) => return (EXIT_NOT_RUN, String::new(), format!("error: {e}\n")),
    };
    let text = if options.json {
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    } else {
        render::text(&report)
    };
    if let Some(path) = &options.junit
        && let Err(e) = std::fs::write(path, render::junit(&report))
    {
        return (
            EXIT_NOT_RUN,
            text,
            format!(
                "error: cannot write the JUnit file {}: {e}\n",
                path.display()
            ),
        );
    }
    let mut notes = String::new();
    if let Some(dir) = &options.evidence {
        match evidence(options, &report, dir).await {
            Ok(files) => notes.push_str(&format!(
                "evidence: {files} files written to {} (start at index.md)\n",
                dir.display()
            )),
            Err(e) => return (EXIT_NOT_RUN, text, format!("error: evidence pack: {e}\n")),
        }
    }
    if report.journeys() == 0 {
        return (
            EXIT_NOT_RUN,
            text,
            format!(
                "{notes}error: the journal holds no migration journey by {ods}{}: point your system at this sandbox, run a migration, then ask again\n",
                match (&options.patient, &options.since) {
                    (Some(p), _) => format!(" for patient {p}"),
                    (None, Some(s)) => format!(" since {s}"),
                    (None, None) => String::new(),
                }
            ),
        );
    }
    let code = if report.verdict() == Status::Fail {
        EXIT_FAILED
    } else {
        EXIT_PASS
    };
    (code, text, notes)
}
