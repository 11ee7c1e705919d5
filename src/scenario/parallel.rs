//! The one way scenario work runs on every core: loading files and writing a generated world
//! are both "do this to each item, then use the results in the items' order".

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

/// How many threads parallel work uses: one per core.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `work` on every item, on every core, with the results in the items' order. A result is
/// `None` where `work` panicked.
pub(crate) fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
) -> Vec<Option<R>> {
    in_order(items, items.len(), work, |results| results.collect())
}

/// `work` on every item, on every core, while `consume` takes the results in the items' order
/// as they become ready. At most `window` results wait to be taken, so memory holds a few at a
/// time however many items there are; when `consume` returns, work not yet started is dropped.
/// A result is `None` where `work` panicked.
pub(crate) fn in_order<T: Sync, R: Send, O>(
    items: &[T],
    window: usize,
    work: impl Fn(&T) -> R + Sync,
    consume: impl FnOnce(&mut dyn Iterator<Item = Option<R>>) -> O,
) -> O {
    let guarded = |item: &T| catch_unwind(AssertUnwindSafe(|| work(item))).ok();
    let workers = cores().min(items.len());
    if workers <= 1 {
        return consume(&mut items.iter().map(guarded));
    }
    let window = window.max(1);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // How many results `consume` has taken, and the condition workers wait on to go ahead.
    let taken = (Mutex::new(0_usize), Condvar::new());
    let (done_tx, done_rx) = mpsc::channel::<(usize, Option<R>)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let (next, stop, taken, guarded) = (&next, &stop, &taken, &guarded);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else {
                        return;
                    };
                    {
                        let Ok(mut count) = taken.0.lock() else {
                            return;
                        };
                        while i >= count.saturating_add(window) && !stop.load(Ordering::Relaxed) {
                            count = match taken.1.wait(count) {
                                Ok(count) => count,
                                Err(_) => return,
                            };
                        }
                    }
                    if stop.load(Ordering::Relaxed) || done_tx.send((i, guarded(item))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let mut arrived = BTreeMap::new();
        let mut results = (0..items.len()).map(|i| {
            let result = loop {
                if let Some(result) = arrived.remove(&i) {
                    break result;
                }
                // Every worker gone without this item's result: it is lost, as if it panicked.
                let Ok((j, result)) = done_rx.recv() else {
                    break None;
                };
                arrived.insert(j, result);
            };
            if let Ok(mut count) = taken.0.lock() {
                *count = i + 1;
            }
            taken.1.notify_all();
            result
        });
        let out = consume(&mut results);
        // Workers still waiting for their turn have nothing more to do. The flag is set under
        // the lock they check it under, so none can miss the wake-up and wait for ever.
        let held = taken.0.lock();
        stop.store(true, Ordering::Relaxed);
        drop(held);
        taken.1.notify_all();
        out
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly by design
mod tests {
    use super::*;

    #[test]
    fn results_come_in_the_items_order() {
        let items: Vec<u64> = (0..500).collect();
        let out = map_in_order(&items, |n| {
            // Uneven work, so results arrive out of order.
            std::thread::sleep(std::time::Duration::from_micros((n * 7919) % 300));
            n * 2
        });
        assert_eq!(out, items.iter().map(|n| Some(n * 2)).collect::<Vec<_>>());
    }

    #[test]
    fn a_panic_is_a_missing_result_not_a_lost_run() {
        let out = map_in_order(&[1, 2, 3, 4], |n| {
            if *n == 3 {
                panic!("bad item");
            }
            *n
        });
        assert_eq!(out, [Some(1), Some(2), None, Some(4)]);
    }

    #[test]
    fn stopping_early_drops_the_rest() {
        let started = AtomicUsize::new(0);
        let items: Vec<usize> = (0..10_000).collect();
        let first = in_order(
            &items,
            2,
            |n| {
                started.fetch_add(1, Ordering::Relaxed);
                *n
            },
            |results| results.take(3).collect::<Vec<_>>(),
        );
        assert_eq!(first, [Some(0), Some(1), Some(2)]);
        // The window keeps workers close behind what was taken.
        assert!(started.load(Ordering::Relaxed) < 100);
    }

    #[test]
    fn no_items_and_one_item() {
        assert!(map_in_order(&[] as &[u8], |n| *n).is_empty());
        assert_eq!(map_in_order(&[7], |n| *n), [Some(7)]);
    }
}
