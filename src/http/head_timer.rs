//! The header read timeout, kept per connection by one watchdog rather than by a timer per
//! request.
//!
//! hyper starts its header timer each time it waits for a request's head and drops it when the
//! head is in. With tokio's timer that is an allocation, a registration in the timer wheel and
//! a removal for every request on a kept-alive connection: about a twentieth of the work of a
//! PDS read. Here hyper's "timer" only writes the head's deadline into the connection's
//! [`HeadDeadline`], and the connection's [`watch`] sleeps until the earliest moment a head can
//! be late, looks, and closes the connection when one is; it wakes about once per timeout,
//! however many requests the connection carries. What a client sees is unchanged: a request's
//! head must be in within the timeout of hyper starting to wait for it, or the connection is
//! closed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// When the head hyper is waiting for must be in, as nanoseconds after `since` (0: hyper is
/// not waiting for a head).
#[derive(Debug)]
pub(super) struct HeadDeadline {
    since: Instant,
    nanos: AtomicU64,
}

impl HeadDeadline {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            since: Instant::now(),
            nanos: AtomicU64::new(0),
        })
    }

    fn nanos_of(&self, at: Instant) -> u64 {
        // Never 0, which means "not waiting".
        u64::try_from(at.saturating_duration_since(self.since).as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// The deadline of the head hyper is waiting for, if it is waiting for one.
    fn waiting(&self) -> Option<Instant> {
        match self.nanos.load(Ordering::Acquire) {
            0 => None,
            nanos => Some(self.since + Duration::from_nanos(nanos)),
        }
    }
}

/// What hyper is given as its timer, one per connection.
#[derive(Clone, Debug)]
pub(super) struct HeadTimer(pub(super) Arc<HeadDeadline>);

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let nanos = self.0.nanos_of(deadline);
        self.0.nanos.store(nanos, Ordering::Release);
        Box::pin(HeadWait {
            deadline: self.0.clone(),
            nanos,
        })
    }
}

/// hyper's wait for one head. It never wakes hyper: the watchdog closes the connection instead.
struct HeadWait {
    deadline: Arc<HeadDeadline>,
    nanos: u64,
}

impl std::future::Future for HeadWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl hyper::rt::Sleep for HeadWait {}

impl Drop for HeadWait {
    fn drop(&mut self) {
        // Only this wait's own deadline is cleared: a wait that replaced it keeps its own.
        let _ = self.deadline.nanos.compare_exchange(
            self.nanos,
            0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }
}

/// Ends when the connection must be closed: its first request has not arrived by `first`
/// (`asked` still false), or a head hyper waits for is past its deadline.
pub(super) async fn watch(
    deadline: &HeadDeadline,
    first: tokio::time::Instant,
    asked: &std::sync::atomic::AtomicBool,
    timeout: Duration,
) {
    let mut at = first;
    loop {
        tokio::time::sleep_until(at).await;
        let now = Instant::now();
        if !asked.load(Ordering::Relaxed) && tokio::time::Instant::now() >= first {
            return;
        }
        at = match deadline.waiting() {
            Some(late) if late <= now => return,
            // A head that started after this wake-up has its deadline at least `timeout` on.
            Some(later) => tokio::time::Instant::from_std(later),
            None => tokio::time::Instant::from_std(now + timeout),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer as _;

    #[test]
    fn a_wait_sets_its_deadline_and_clears_only_its_own() {
        let timer = HeadTimer(HeadDeadline::new());
        assert_eq!(timer.0.waiting(), None);
        let soon = Instant::now() + Duration::from_secs(5);
        let first = timer.sleep_until(soon);
        let first_deadline = timer.0.waiting().expect("waiting");
        assert!(first_deadline.duration_since(soon) < Duration::from_millis(1));
        // hyper's reset: the new wait is made before the old one is dropped.
        let later = soon + Duration::from_secs(5);
        let second = timer.sleep_until(later);
        drop(first);
        let kept = timer.0.waiting().expect("still waiting");
        assert!(kept > first_deadline, "the second wait's deadline stays");
        drop(second);
        assert_eq!(timer.0.waiting(), None);
    }

    #[tokio::test]
    async fn the_watchdog_closes_a_connection_whose_head_is_late_and_not_one_that_is_idle_between_heads()
     {
        let timer = HeadTimer(HeadDeadline::new());
        let asked = std::sync::atomic::AtomicBool::new(true);
        let timeout = Duration::from_millis(300);
        let first = tokio::time::Instant::now() + timeout;
        // No head awaited: the watchdog keeps going.
        let idle = tokio::time::timeout(
            Duration::from_millis(700),
            watch(&timer.0, first, &asked, timeout),
        )
        .await;
        assert!(idle.is_err(), "closed while no head was awaited");
        // A head awaited and not arriving: closed within the timeout (and a wake-up's slack).
        let started = Instant::now();
        let _wait = timer.sleep_until(Instant::now() + timeout);
        let late = tokio::time::timeout(
            Duration::from_secs(3),
            watch(&timer.0, tokio::time::Instant::now(), &asked, timeout),
        )
        .await;
        assert!(late.is_ok(), "a late head must close the connection");
        assert!(started.elapsed() >= timeout);
    }
}
