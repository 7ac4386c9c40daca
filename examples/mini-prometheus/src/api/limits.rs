//! What a query may cost: Prometheus' `--query.timeout`, `--query.max-samples` and
//! `--query.max-concurrency`, and the errors Prometheus answers when one is reached.

use std::time::Duration;

use crate::store::ReadError;

/// Limits on the query endpoints (`/api/v1/query`, `query_range`, `series`, `labels`, label
/// values and `/federate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// The longest a query may run, queueing included (`--query.timeout`, default 2m); a
    /// request's `timeout` parameter can only shorten it.
    pub timeout: Duration,
    /// The most samples a query may load into memory (`--query.max-samples`, default
    /// 50,000,000).
    pub max_samples: usize,
    /// How many queries run at once; more wait for a slot until their deadline
    /// (`--query.max-concurrency`, default 20).
    pub max_concurrency: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            max_concurrency: 20,
        }
    }
}

/// Prometheus' `errorType` and message for a query stopped by a limit (`promql.ErrQueryTimeout`,
/// `ErrQueryCanceled`, `ErrTooManySamples`, all in the `expression evaluation` / `query
/// execution` stages Prometheus names).
pub fn read_error(e: ReadError) -> (&'static str, &'static str) {
    match e {
        ReadError::Timeout => ("timeout", "query timed out in expression evaluation"),
        ReadError::Canceled => ("canceled", "query was canceled in expression evaluation"),
        ReadError::TooManySamples => (
            "execution",
            "query processing would load too many samples into memory in query execution",
        ),
    }
}

/// The answer when no query slot freed up before the deadline.
pub const QUEUE_TIMEOUT: &str = "query timed out in query queue";
