//! What one scrape did: the typed outcome a scrape pass produces, which reporting turns into
//! report series, counters and the target's state. The error stays typed (a parse error keeps
//! its line and column) until `/api/v1/targets` renders it as `lastError`.

use crate::append::AppendError;
use crate::client::FetchError;
use crate::pipeline::{AppendStats, PipelineError};

/// Why a scrape failed (`up` 0). Its text is Prometheus' `lastError` for the same cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScrapeError {
    /// Fetching failed: transport, timeout, HTTP status, body size, gzip, client setup.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The response's `Content-Type` named no format the job can parse (Prometheus' text).
    #[error("{0}")]
    ContentType(String),
    /// The body could not be appended: a parse error (line and column), a limit, invalid
    /// names, a store failure.
    #[error(transparent)]
    Append(#[from] PipelineError),
    /// The job has more targets than its `target_limit`: no target of it is scraped.
    #[error(transparent)]
    TargetLimit(#[from] TargetLimitExceeded),
    /// The store refused the report series or the commit.
    #[error(transparent)]
    Commit(#[from] AppendError),
}

/// A job with more targets than its `target_limit` (Prometheus' message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("target_limit exceeded (number of targets: {targets}, limit: {limit})")]
pub struct TargetLimitExceeded {
    /// Targets the job has.
    pub targets: u64,
    /// Its `target_limit`.
    pub limit: u64,
}

/// What one scrape pass (fetch, parse, append) did.
#[derive(Debug)]
pub(crate) enum ScrapeOutcome {
    /// The body was appended (an empty body appends nothing and is a success).
    Appended {
        /// What the pipeline counted.
        stats: AppendStats,
        /// The body's length.
        body_bytes: usize,
    },
    /// The pass failed; its samples were rolled back and the target's series got stale markers.
    Failed {
        /// Why.
        error: ScrapeError,
        /// What the pipeline counted before it failed (zero when it never ran).
        stats: AppendStats,
        /// The body's length when one was read.
        body_bytes: usize,
    },
}

impl ScrapeOutcome {
    /// A failure before anything was read.
    pub(crate) fn failed(error: impl Into<ScrapeError>) -> Self {
        ScrapeOutcome::Failed {
            error: error.into(),
            stats: AppendStats::default(),
            body_bytes: 0,
        }
    }

    /// The pipeline's counts.
    pub(crate) fn stats(&self) -> AppendStats {
        match self {
            ScrapeOutcome::Appended { stats, .. } | ScrapeOutcome::Failed { stats, .. } => *stats,
        }
    }

    /// The error, if the pass failed.
    pub(crate) fn error(&self) -> Option<&ScrapeError> {
        match self {
            ScrapeOutcome::Appended { .. } => None,
            ScrapeOutcome::Failed { error, .. } => Some(error),
        }
    }

    /// `scrape_body_size_bytes`: the body length, `-1` when `body_size_limit` cut it, `0`
    /// when fetching failed otherwise (Prometheus' values).
    pub(crate) fn body_size_report(&self) -> f64 {
        match self {
            ScrapeOutcome::Appended { body_bytes, .. } => *body_bytes as f64,
            ScrapeOutcome::Failed {
                error: ScrapeError::Fetch(FetchError::BodySizeLimit),
                ..
            } => -1.0,
            ScrapeOutcome::Failed {
                error: ScrapeError::Fetch(_),
                ..
            } => 0.0,
            ScrapeOutcome::Failed { body_bytes, .. } => *body_bytes as f64,
        }
    }

    /// Whether `sample_limit` was exceeded.
    pub(crate) fn sample_limit_hit(&self) -> bool {
        matches!(
            self.error(),
            Some(ScrapeError::Append(PipelineError::SampleLimit))
        )
    }
}
