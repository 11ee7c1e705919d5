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
///
/// A plain function, not an `async fn`: an `async fn` would keep `work` twice (as its argument
/// and inside the awaited timeout), and the front door's future is moved several times per
/// request on its way into hyper, so every byte it holds is copied again each time.
pub(crate) fn guarded<F: Future>(
    work: F,
    timeout: Option<Duration>,
) -> impl Future<Output = Result<F::Output, Stopped>> {
    use futures_util::FutureExt as _;
    use futures_util::future::Either;
    let caught = std::panic::AssertUnwindSafe(work).catch_unwind();
    match timeout {
        Some(after) => Either::Left(tokio::time::timeout(after, caught).map(move |done| {
            done.map_err(|_| Stopped::TimedOut(after))?
                .map_err(|_| Stopped::Panicked)
        })),
        None => Either::Right(caught.map(|done| done.map_err(|_| Stopped::Panicked))),
    }
}
