//! What stands between a handler and the connection: a panic or a timeout becomes an answer the
//! service words itself, and an injected dropped connection closes it unanswered.

use std::future::Future;
use std::time::Duration;

/// Marks a response the connection layer must not send: it closes the connection instead (an
/// injected fault).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// Why guarded work gave no answer (each service says so in its own words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// The handler panicked: a bug, answered instead of taking the connection down.
    Panicked,
    /// Not done within this long.
    TimedOut(Duration),
}

/// Runs a handler's work, catching a panic and, when given, giving up after `timeout`.
pub(crate) async fn guarded<F: Future>(
    work: F,
    timeout: Option<Duration>,
) -> Result<F::Output, Stopped> {
    use futures_util::FutureExt as _;
    let caught = std::panic::AssertUnwindSafe(work).catch_unwind();
    let done = match timeout {
        Some(after) => tokio::time::timeout(after, caught)
            .await
            .map_err(|_| Stopped::TimedOut(after))?,
        None => caught.await,
    };
    done.map_err(|_| Stopped::Panicked)
}
