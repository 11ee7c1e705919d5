//! `spine-sandbox conformance --as ODS`: fetches the report from a running sandbox, prints it,
//! writes JUnit XML, and answers with an exit code a CI pipeline can gate on.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{Report, Status, render};

/// Every check passed (warnings allowed).
pub const EXIT_PASS: u8 = 0;
/// The report could not be produced (sandbox unreachable, no journey by this consumer).
pub const EXIT_NOT_RUN: u8 = 1;
/// At least one check failed.
pub const EXIT_FAILED: u8 = 2;

async fn fetch(url: &str) -> Result<Report, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url} is not a URL: {e}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let work = async {
        let resp = client
            .get(uri)
            .await
            .map_err(|e| format!("cannot reach the sandbox at {url}: {e}"))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("the answer from {url} broke off: {e}"))?
            .to_bytes();
        if !status.is_success() {
            return Err(format!(
                "{url} answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        serde_json::from_slice::<Report>(&body)
            .map_err(|e| format!("{url} did not answer with a conformance report: {e}"))
    };
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .map_err(|_| format!("{url} did not answer within 30 s"))?
}

/// Runs the command; returns the exit code and what to print (stdout, stderr).
pub async fn run(sandbox: &str, ods: &str, junit: Option<&Path>) -> (u8, String, String) {
    let url = format!(
        "{}/_admin/conformance?ods={}",
        sandbox.trim_end_matches('/'),
        ods
    );
    let report = match fetch(&url).await {
        Ok(r) => r,
        Err(e) => return (EXIT_NOT_RUN, String::new(), format!("error: {e}\n")),
    };
    let text = render::text(&report);
    if let Some(path) = junit
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
    if report.journeys() == 0 {
        return (
            EXIT_NOT_RUN,
            text,
            format!(
                "error: the journal holds no migration journey by {ods}: point your system at this sandbox, run a migration, then ask again\n"
            ),
        );
    }
    let code = if report.verdict() == Status::Fail {
        EXIT_FAILED
    } else {
        EXIT_PASS
    };
    (code, text, String::new())
}
