//! How many file descriptors the collector may keep open: derived from `RLIMIT_NOFILE`.
//!
//! Kept-open cgroup files ([`CollectorConfig::open_files`](crate::CollectorConfig::open_files))
//! cost one descriptor each. The collector takes at most the soft limit less a reserve for
//! the rest of the process (sockets, other files), so that keeping files can never make
//! another `open` or `accept` of the process fail with `EMFILE`.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

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
    fn raising_reaches_the_hard_limit() {
        let before = getrlimit(Resource::Nofile);
        let soft = raise_fd_limit().unwrap();
        let after = getrlimit(Resource::Nofile);
        assert_eq!(after.current, Some(soft));
        assert_eq!(after.maximum, before.maximum);
        if let Some(hard) = before.maximum {
            assert_eq!(soft, hard);
        }
    }
}
