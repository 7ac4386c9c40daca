//! How many file descriptors the collector may keep open: derived from `RLIMIT_NOFILE`.
//!
//! Kept-open cgroup files ([`CollectorConfig::open_files`](crate::CollectorConfig::open_files))
//! cost one descriptor each. The collector takes at most the soft limit less a reserve for
//! the rest of the process (sockets, other files), so that keeping files can never make
//! another `open` or `accept` of the process fail with `EMFILE`. All the collectors of a
//! process share that budget.

use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors kept open by all the collectors of this process, so that together they stay
/// within [`fd_budget`].
static KEPT: AtomicUsize = AtomicUsize::new(0);

/// Descriptors left to the rest of the process: an eighth of the soft limit, at least
/// this many.
pub const FD_RESERVE_MIN: u64 = 1024;

/// Highest soft limit set by [`raise_fd_limit`] when the hard limit is unlimited (Linux's
/// default `fs.nr_open`).
const NR_OPEN_DEFAULT: u64 = 1 << 20;

/// The most descriptors the collector may keep open with a soft limit of `soft`
/// (`None`: unlimited): `soft − max(1024, soft / 8)`, 0 at the usual soft limit of 1,024.
pub fn fd_budget_for(soft: Option<u64>) -> usize {
    let Some(soft) = soft else {
        return usize::MAX;
    };
    let keep = soft.saturating_sub(FD_RESERVE_MIN.max(soft / 8));
    usize::try_from(keep).unwrap_or(usize::MAX)
}

/// [`fd_budget_for`] the process's current `RLIMIT_NOFILE` soft limit.
pub fn fd_budget() -> usize {
    fd_budget_for(getrlimit(Resource::Nofile).current)
}

/// How many descriptors a collector holding `own` of them may hold in all after its next
/// collection: [`fd_budget`] less what the process's other collectors hold, at most `cap`.
pub(crate) fn collector_budget(cap: usize, own: usize) -> usize {
    let others = KEPT.load(Ordering::Relaxed).saturating_sub(own);
    cap.min(fd_budget().saturating_sub(others))
}

/// Records that a collector now holds `after` descriptors instead of `before`.
pub(crate) fn kept_changed(before: usize, after: usize) {
    if after >= before {
        KEPT.fetch_add(after - before, Ordering::Relaxed);
    } else {
        KEPT.fetch_sub(before - after, Ordering::Relaxed);
    }
}

/// Raises the process's `RLIMIT_NOFILE` soft limit to its hard limit, as the Go runtime
/// does at the start of every Go program (the kubelet's cAdvisor included), and returns
/// the new soft limit. Call it at the start of a binary, before other threads open
/// files: processes started afterwards inherit the raised limit, and a process that
/// uses `select(2)` must keep descriptors below 1,024 itself.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    let lim = getrlimit(Resource::Nofile);
    let hard = lim.maximum.unwrap_or(NR_OPEN_DEFAULT);
    match lim.current {
        Some(soft) if soft >= hard => return Ok(soft),
        None => return Ok(u64::MAX),
        Some(_) => {}
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(hard),
            maximum: lim.maximum,
        },
    )?;
    Ok(hard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets() {
        assert_eq!(fd_budget_for(Some(1024)), 0);
        assert_eq!(fd_budget_for(Some(512)), 0);
        assert_eq!(fd_budget_for(Some(4096)), 3072);
        assert_eq!(fd_budget_for(Some(20_000)), 17_500);
        assert_eq!(fd_budget_for(Some(1 << 20)), 917_504);
        assert_eq!(fd_budget_for(None), usize::MAX);
    }

    #[test]
    fn raising_reaches_the_hard_limit_and_collectors_share_the_budget() {
        // (One test: both read the process's limit.)
        let before = getrlimit(Resource::Nofile);
        let soft = raise_fd_limit().unwrap();
        let after = getrlimit(Resource::Nofile);
        assert_eq!(after.current, Some(soft));
        assert_eq!(after.maximum, before.maximum);
        if let Some(hard) = before.maximum {
            assert_eq!(soft, hard);
        }

        let all = fd_budget();
        assert!(all > 200, "soft limit {soft}");
        // Another collector holds 100: this one (holding 30) may hold all but those.
        kept_changed(0, 130);
        assert_eq!(collector_budget(usize::MAX, 30), all - 100);
        assert_eq!(collector_budget(50, 30), 50);
        kept_changed(130, 30);
        assert_eq!(collector_budget(usize::MAX, 30), all);
        kept_changed(30, 0);
        assert_eq!(collector_budget(usize::MAX, 0), all);
    }
}
