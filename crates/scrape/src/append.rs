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
#[non_exhaustive]
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

pub use scrapeline_exposition::parser::MetricType;

/// A family's metadata as the scrape declared it (`# TYPE`, `# HELP`, `# UNIT`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Metadata {
    /// The metric family name the lines declared (`http_requests` for OpenMetrics'
    /// `http_requests_total` samples), so a store can keep metadata per family, as
    /// Prometheus' `/api/v1/metadata` lists it.
    pub family: String,
    /// The declared type ([`MetricType::Unknown`] without a `# TYPE` line).
    pub kind: MetricType,
    /// The `# HELP` text, unescaped (empty without one).
    pub help: String,
    /// The `# UNIT` (OpenMetrics; empty without one).
    pub unit: String,
}

/// An exemplar as a sink receives it: owned labels, value and optional timestamp (`None`:
/// the exposition gave none; Prometheus then dates it with its sample's timestamp).
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels (`trace_id`, `span_id`, …).
    pub labels: Labels,
    /// Its value.
    pub value: f64,
    /// Its timestamp in milliseconds, when the exposition gave one.
    pub timestamp_ms: Option<i64>,
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

    /// Records the family metadata (type, help, unit) of a series, as Prometheus'
    /// `MetadataUpdater` does: called after the series' first append of a scrape loop and
    /// again whenever its family's metadata changes, not for every sample. `series` is the ref
    /// the append returned. A sink that needs types (a counter is not a gauge) keeps them per
    /// ref; the default ignores them.
    fn update_metadata(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        metadata: &Metadata,
    ) -> Result<SeriesRef, AppendError> {
        let _ = (labels, metadata);
        Ok(series)
    }

    /// Adds an exemplar to a series' sample (OpenMetrics `# {trace_id="…"} v ts`), after the
    /// append of that sample. The default ignores it.
    fn append_exemplar(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        exemplar: &Exemplar,
    ) -> Result<SeriesRef, AppendError> {
        let _ = (labels, exemplar);
        Ok(series)
    }

    /// Reports a series' created timestamp (OpenMetrics `_created`), Prometheus'
    /// `AppendCTZeroSample`: the moment the counter (or histogram, summary) started from zero,
    /// before the sample at `timestamp_ms`. The default ignores it.
    fn append_created_timestamp(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        timestamp_ms: i64,
        created_ms: i64,
    ) -> Result<SeriesRef, AppendError> {
        let _ = (labels, timestamp_ms, created_ms);
        Ok(series)
    }

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
