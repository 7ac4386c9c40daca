//! Query errors, worded as Prometheus words them.

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The query does not parse or is not a valid expression (`1:5: parse error: ...`).
    #[error("{0}")]
    Parse(String),
    /// More samples than `max_samples` would be in memory at once.
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    /// The deadline passed.
    #[error("query timed out in expression evaluation")]
    Timeout,
    /// The cancellation check fired.
    #[error("query was canceled in expression evaluation")]
    Canceled,
    /// Evaluation failed (duplicate series, many-to-many matching, bad arguments...).
    #[error("{0}")]
    Execution(String),
    /// The store failed.
    #[error("{0}")]
    Storage(String),
}

impl Error {
    /// The `errorType` Prometheus' HTTP API reports for this error.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Parse(_) => "bad_data",
            Error::TooManySamples | Error::Execution(_) => "execution",
            Error::Timeout => "timeout",
            Error::Canceled => "canceled",
            Error::Storage(_) => "internal",
        }
    }
}
