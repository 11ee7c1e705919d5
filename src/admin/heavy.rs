//! Heavy admin answers (the conformance report, the whole journal as JSON) are computed off
//! the async threads, one at a time, so health checks and the emulated services stay fast
//! while a CI pipeline asks for reports in bulk. A queue longer than [`MAX_WAITING`] is
//! answered 503 with `Retry-After` rather than grown.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use crate::fhir::FhirError;
use crate::http::RETRY_AFTER_SECS;

/// Reports computed at once, for the whole process (they compete for the same cores).
static GATE: Semaphore = Semaphore::const_new(1);
/// Reports waiting for their turn.
static WAITING: AtomicUsize = AtomicUsize::new(0);
/// Reports allowed to wait.
pub(super) const MAX_WAITING: usize = 64;

/// Runs `work` on a blocking thread when its turn comes.
pub(super) async fn run<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, FhirError> {
    let busy = || FhirError {
        status: http::StatusCode::SERVICE_UNAVAILABLE,
        issue_type: "transient",
        code: "SERVICE_UNAVAILABLE".into(),
        display: "Service unavailable".into(),
        diagnostics: format!(
            "{MAX_WAITING} reports are waiting already; ask for the {what} again after the Retry-After seconds"
        ),
        severity: "error",
    };
    if WAITING.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
        WAITING.fetch_sub(1, Ordering::AcqRel);
        return Err(busy());
    }
    let permit = GATE.acquire().await;
    WAITING.fetch_sub(1, Ordering::AcqRel);
    let Ok(_permit) = permit else {
        return Err(busy());
    };
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        FhirError::internal(format!(
            "the {what} stopped before it finished: {e}; ask again"
        ))
    })
}

/// The refusal as the admin API answers it, with `Retry-After` when it is a 503.
pub(super) fn refusal(error: &FhirError) -> http::Response<crate::http::Body> {
    let mut resp = crate::http::boxed(error.to_response(crate::fhir::OutcomeStyle::GpConnect));
    if error.status == http::StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from(RETRY_AFTER_SECS),
        );
    }
    resp
}
