//! Making a commit wait for room in a full remote-write queue.
//!
//! `Appender::commit` is synchronous and runs on the scrape loop's tokio task, while the
//! shards that free room are tokio tasks too. A commit may therefore only block its thread
//! where that cannot stop the shards: on a multi-thread runtime inside
//! [`tokio::task::block_in_place`] (the worker's other tasks move to another thread), or on a
//! thread outside any runtime. On a current-thread runtime the shards run on the very thread
//! that would block, so there the commit does not wait at all.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use tokio::runtime::{Handle, RuntimeFlavor};

/// A signal that room was freed in a queue: a counter bumped on every change, and a condvar
/// for the commits waiting on it. Comparing counters instead of just waiting means a signal
/// given between a failed attempt and the wait is not missed.
#[derive(Default)]
pub struct Room {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Room {
    /// The current count of signals: read it before trying to enqueue, pass it to
    /// [`Room::wait`].
    pub fn generation(&self) -> u64 {
        *self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes every waiting commit: a shard took samples, or sending failed, or the queue is
    /// shutting down (the waiters then re-check whether to keep waiting).
    pub fn signal(&self) {
        let mut g = self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *g = g.wrapping_add(1);
        self.changed.notify_all();
    }

    /// Blocks until a signal newer than `seen` or `timeout`, whichever is first.
    pub fn wait(&self, seen: u64, timeout: Duration) {
        let g = self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = self
            .changed
            .wait_timeout_while(g, timeout, |g| *g == seen)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

/// Runs `f`, which blocks its thread, where that is safe (see the module docs); `None`
/// without running it on a runtime where it is not (current-thread).
pub fn blocking<R>(f: impl FnOnce() -> R) -> Option<R> {
    match Handle::try_current() {
        Err(_) => Some(f()),
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            Some(tokio::task::block_in_place(f))
        }
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn a_signal_given_before_the_wait_is_not_missed() {
        let room = Room::default();
        let seen = room.generation();
        room.signal();
        let start = Instant::now();
        room.wait(seen, Duration::from_secs(5));
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(room.generation(), seen + 1);
    }

    #[test]
    fn wait_ends_on_signal_or_timeout() {
        let room = Arc::new(Room::default());
        let start = Instant::now();
        room.wait(room.generation(), Duration::from_millis(50));
        assert!(start.elapsed() >= Duration::from_millis(50));
        let seen = room.generation();
        let r = room.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            r.signal();
        });
        let start = Instant::now();
        room.wait(seen, Duration::from_secs(5));
        assert!(start.elapsed() < Duration::from_secs(1));
        t.join().unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn does_not_block_a_current_thread_runtime() {
        assert_eq!(blocking(|| 1), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blocks_in_place_on_a_multi_thread_runtime() {
        let on_worker = tokio::spawn(async { blocking(|| 2) }).await.unwrap();
        assert_eq!(on_worker, Some(2));
        assert_eq!(blocking(|| 3), Some(3));
    }

    #[test]
    fn blocks_outside_a_runtime() {
        assert_eq!(blocking(|| 4), Some(4));
    }
}
