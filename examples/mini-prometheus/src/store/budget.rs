//! What one read may spend: a deadline, a cancellation token (server shutdown, a client that
//! went away) and a cap on the samples it loads into memory. The store's read loops consult
//! it between series, so a read that runs too long stops within a few milliseconds of its
//! deadline instead of holding a CPU (and a shard lock) until it is done.

use std::cell::Cell;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

/// Work units (one per series, or per series and matcher set) between two looks at the
/// clock and the token: a look costs ~25 ns, a unit of work about as much or more.
const CHECK_EVERY: u32 = 256;

/// Why a read stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The deadline passed.
    #[error("query timed out")]
    Timeout,
    /// The cancellation token fired (shutdown, or the client went away).
    #[error("query was canceled")]
    Canceled,
    /// More samples than the budget allows would be loaded.
    #[error("query processing would load too many samples into memory")]
    TooManySamples,
}

/// The limits of one read; not shared between threads (one query runs on one thread).
#[derive(Debug)]
pub struct ReadBudget {
    deadline: Option<Instant>,
    cancel: Option<CancellationToken>,
    max_samples: usize,
    samples: Cell<usize>,
    units: Cell<u32>,
}

impl ReadBudget {
    /// No deadline, no cancellation, no sample cap (store-internal callers and tests).
    pub fn unlimited() -> ReadBudget {
        ReadBudget {
            deadline: None,
            cancel: None,
            max_samples: usize::MAX,
            samples: Cell::new(0),
            units: Cell::new(0),
        }
    }

    /// A budget that ends at `deadline` (none: no deadline) or when `cancel` fires, and allows
    /// `max_samples` samples in memory.
    pub fn new(
        deadline: Option<Instant>,
        cancel: CancellationToken,
        max_samples: usize,
    ) -> ReadBudget {
        ReadBudget {
            deadline,
            cancel: Some(cancel),
            max_samples,
            samples: Cell::new(0),
            units: Cell::new(0),
        }
    }

    /// Fails once the token fired or the deadline passed.
    pub fn check(&self) -> Result<(), ReadError> {
        if self.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            return Err(ReadError::Canceled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(ReadError::Timeout);
        }
        Ok(())
    }

    /// Counts `units` of work and runs [`ReadBudget::check`] every [`CHECK_EVERY`] units.
    pub fn tick(&self, units: usize) -> Result<(), ReadError> {
        let n = self
            .units
            .get()
            .saturating_add(u32::try_from(units).unwrap_or(u32::MAX));
        if n >= CHECK_EVERY {
            self.units.set(0);
            self.check()
        } else {
            self.units.set(n);
            Ok(())
        }
    }

    /// Accounts for `n` more samples in memory; fails past the cap.
    pub fn load(&self, n: usize) -> Result<(), ReadError> {
        let total = self.samples.get().saturating_add(n);
        self.samples.set(total);
        if total > self.max_samples {
            return Err(ReadError::TooManySamples);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sample_cap_deadline_and_cancel() {
        let b = ReadBudget::new(None, CancellationToken::new(), 10);
        assert_eq!(b.load(10), Ok(()));
        assert_eq!(b.load(1), Err(ReadError::TooManySamples));

        let past = Instant::now().checked_sub(Duration::from_millis(1));
        let b = ReadBudget::new(past, CancellationToken::new(), 10);
        assert_eq!(b.check(), Err(ReadError::Timeout));
        // Ticks look only every CHECK_EVERY units.
        assert_eq!(b.tick(1), Ok(()));
        assert_eq!(b.tick(CHECK_EVERY as usize), Err(ReadError::Timeout));

        let token = CancellationToken::new();
        let b = ReadBudget::new(None, token.clone(), 10);
        assert_eq!(b.check(), Ok(()));
        token.cancel();
        assert_eq!(b.check(), Err(ReadError::Canceled));
        assert_eq!(ReadBudget::unlimited().load(usize::MAX), Ok(()));
    }
}
