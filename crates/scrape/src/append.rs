//! The sink for scraped samples: embedders bring their own store by implementing these traits.
//!
//! Mirrors Prometheus' `storage.Appender`: a scrape appends all its samples to one appender,
//! then commits (all become visible) or rolls back (none do). The [`SeriesRef`] an append
//! returns is kept in the scrape cache and handed back on the next scrape of the same series,
//! so a store can skip its own label lookup.

use scrapeline_exposition::Labels;

/// A store's handle for a series; `0` means "unknown, look the labels up".
pub type SeriesRef = u64;

/// Why a store refused a sample or a commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The sample is older than what the store accepts for the series.
    #[error("out of order sample")]
    OutOfOrder,
    /// Same timestamp as the previous sample of the series, different value.
    #[error("duplicate sample for timestamp")]
    Duplicate,
    /// The sample is older than the store's retention window.
    #[error("out of bounds")]
    OutOfBounds,
    /// Anything else the store wants to report.
    #[error("{0}")]
    Other(String),
}

/// One scrape's batch of samples.
pub trait Appender: Send {
    /// Adds one sample. `series` is the ref this store returned for the same labels last time,
    /// or `0`. Returns the ref to remember.
    fn append(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<SeriesRef, AppendError>;

    /// Makes every sample appended since the last commit or rollback visible, atomically.
    fn commit(&mut self) -> Result<(), AppendError>;

    /// Discards every sample appended since the last commit or rollback.
    fn rollback(&mut self);
}

/// A store that hands out appenders, one per scrape; shared by every scrape loop.
pub trait Appendable: Send + Sync {
    /// A fresh appender.
    fn appender(&self) -> Box<dyn Appender>;
}
