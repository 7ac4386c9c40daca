//! Logging a failing endpoint without flooding the log: the first failure is logged, then at
//! most one line per [`EVERY`] with the count of failures not logged, and one line when
//! sending works again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one failure line per queue this often.
pub const EVERY: Duration = Duration::from_secs(60);

/// A queue's failure-log state.
#[derive(Default)]
pub struct FailLog(Mutex<State>);

#[derive(Default)]
struct State {
    /// When the current run of failures was last logged; `None` while sending works.
    last_logged: Option<Instant>,
    /// Failures since then not logged.
    suppressed: u64,
    /// Failures in the current run.
    failures: u64,
}

/// What [`FailLog::failed`] decided, for tests.
#[derive(Debug, PartialEq, Eq)]
pub enum Logged {
    /// A line was written; `suppressed` failures were not logged since the previous one.
    Yes { suppressed: u64 },
    /// Not logged (counted).
    No,
}

impl FailLog {
    /// A request failed and will be retried.
    pub fn failed(&self, remote_name: &str, url: &str, err: &str) -> Logged {
        self.failed_at(Instant::now(), remote_name, url, err)
    }

    fn failed_at(&self, now: Instant, remote_name: &str, url: &str, err: &str) -> Logged {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        s.failures += 1;
        match s.last_logged {
            Some(t) if now.saturating_duration_since(t) < EVERY => {
                s.suppressed += 1;
                Logged::No
            }
            _ => {
                let suppressed = std::mem::take(&mut s.suppressed);
                s.last_logged = Some(now);
                if suppressed == 0 {
                    tracing::warn!(remote_name, url, err, "Failed to send batch, retrying");
                } else {
                    tracing::warn!(
                        remote_name,
                        url,
                        err,
                        suppressed,
                        "Failed to send batch, retrying"
                    );
                }
                Logged::Yes { suppressed }
            }
        }
    }

    /// A request succeeded: after failures, one line says so.
    pub fn recovered(&self, remote_name: &str, url: &str) -> bool {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if s.last_logged.is_none() {
            return false;
        }
        let failures = s.failures;
        *s = State::default();
        tracing::info!(
            remote_name,
            url,
            failures,
            "Remote storage is reachable again, sending resumed"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_the_first_failure_then_once_a_minute_with_the_count() {
        let l = FailLog::default();
        let t0 = Instant::now();
        assert_eq!(
            l.failed_at(t0, "q", "u", "e"),
            Logged::Yes { suppressed: 0 }
        );
        for i in 1..36 {
            assert_eq!(
                l.failed_at(t0 + Duration::from_millis(400 * i), "q", "u", "e"),
                Logged::No
            );
        }
        assert_eq!(
            l.failed_at(t0 + EVERY, "q", "u", "e"),
            Logged::Yes { suppressed: 35 }
        );
        assert!(l.recovered("q", "u"));
        assert!(!l.recovered("q", "u"), "one line per recovery");
        assert_eq!(
            l.failed_at(t0 + EVERY + Duration::from_secs(1), "q", "u", "e"),
            Logged::Yes { suppressed: 0 }
        );
    }
}
