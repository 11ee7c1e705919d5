//! A listener's graceful drain: when it stops, each open connection finishes the request it is
//! answering and closes, and the listener waits for them all.
//!
//! hyper-util's `GracefulShutdown` does the same through a watch channel that every connection
//! polls each time it wakes (a notifier all connections share, so every core writes it on
//! every request). Here a connection reads one flag when it wakes, and hands its waker over once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// The listener's side: makes a [`Watcher`] per connection, then stops them all.
pub(super) struct Drain {
    inner: Arc<Inner>,
}

struct Inner {
    stopping: AtomicBool,
    open: Mutex<Open>,
    closed: tokio::sync::Notify,
}

/// The connections not yet closed, and the wakers of those that are waiting.
#[derive(Default)]
struct Open {
    count: usize,
    next_id: u64,
    wakers: HashMap<u64, Waker>,
}

impl Inner {
    fn open(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drain {
    pub(super) fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                stopping: AtomicBool::new(false),
                open: Mutex::new(Open::default()),
                closed: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Counts one more connection as open, until the watcher is dropped.
    pub(super) fn watcher(&self) -> Watcher {
        let mut open = self.inner.open();
        open.count += 1;
        open.next_id += 1;
        Watcher {
            inner: self.inner.clone(),
            id: open.next_id,
        }
    }

    /// Tells every open connection to finish and close, and returns once all have.
    pub(super) async fn shutdown(self) {
        let wakers = {
            let mut open = self.inner.open();
            self.inner.stopping.store(true, Ordering::Release);
            std::mem::take(&mut open.wakers)
        };
        for waker in wakers.into_values() {
            waker.wake();
        }
        loop {
            let closed = self.inner.closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if self.inner.open().count == 0 {
                return;
            }
            closed.await;
        }
    }
}

/// One connection's place among the open ones.
pub(super) struct Watcher {
    inner: Arc<Inner>,
    id: u64,
}

impl Watcher {
    /// `conn`, closed gracefully (by `shut`) once the listener drains.
    pub(super) fn watch<C: Future>(self, conn: C, shut: fn(Pin<&mut C>)) -> Watched<C> {
        Watched {
            conn: Box::pin(conn),
            watcher: self,
            shut,
            shut_down: false,
            waker: None,
        }
    }

    /// Keeps `waker` to wake when the listener drains; false when it already is.
    fn give(&self, waker: &Waker) -> bool {
        let mut open = self.inner.open();
        if self.inner.stopping.load(Ordering::Acquire) {
            return false;
        }
        open.wakers.insert(self.id, waker.clone());
        true
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let mut open = self.inner.open();
        open.count = open.count.saturating_sub(1);
        open.wakers.remove(&self.id);
        if open.count == 0 {
            self.inner.closed.notify_waiters();
        }
    }
}

/// A connection that closes gracefully when its listener drains.
pub(super) struct Watched<C> {
    conn: Pin<Box<C>>,
    watcher: Watcher,
    shut: fn(Pin<&mut C>),
    shut_down: bool,
    /// The waker handed over; handed over again only if the task's waker changes.
    waker: Option<Waker>,
}

impl<C: Future> Future for Watched<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let this = self.get_mut();
        if !this.shut_down {
            let mut stopping = this.watcher.inner.stopping.load(Ordering::Acquire);
            if !stopping && !this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                if this.watcher.give(cx.waker()) {
                    this.waker = Some(cx.waker().clone());
                } else {
                    stopping = true;
                }
            }
            if stopping {
                (this.shut)(this.conn.as_mut());
                this.shut_down = true;
            }
        }
        this.conn.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// A stand-in connection: pending until told to shut down, then done on its next poll.
    struct Conn {
        shut: Arc<AtomicUsize>,
        told: bool,
    }

    impl Future for Conn {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            if self.told {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    fn shut(conn: Pin<&mut Conn>) {
        let conn = conn.get_mut();
        conn.told = true;
        conn.shut.fetch_add(1, Ordering::Relaxed);
    }

    #[tokio::test]
    async fn draining_shuts_every_waiting_connection_once_and_waits_for_them() {
        let drain = Drain::new();
        let shut_count = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let conn = Conn {
                shut: shut_count.clone(),
                told: false,
            };
            tasks.push(tokio::spawn(drain.watcher().watch(conn, shut)));
        }
        tokio::task::yield_now().await;
        tokio::time::timeout(Duration::from_secs(5), drain.shutdown())
            .await
            .expect("the drain ends once every connection has closed");
        for task in tasks {
            task.await.expect("the connection ends");
        }
        assert_eq!(shut_count.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn a_connection_watched_after_the_drain_began_is_shut_at_once() {
        let drain = Drain::new();
        let late = drain.watcher();
        let shut_count = Arc::new(AtomicUsize::new(0));
        let waiting = tokio::spawn(drain.shutdown());
        tokio::task::yield_now().await;
        let conn = Conn {
            shut: shut_count.clone(),
            told: false,
        };
        late.watch(conn, shut).await;
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the drain ends")
            .expect("the drain does not fail");
        assert_eq!(shut_count.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_drain_with_nothing_open_ends_at_once() {
        tokio::time::timeout(Duration::from_secs(1), Drain::new().shutdown())
            .await
            .expect("nothing to wait for");
    }
}
