//! Target state for display (`/api/v1/targets`).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use scrapeline_exposition::Labels;

use crate::outcome::ScrapeError;
use crate::target::PopulateError;

/// A target's health, as Prometheus shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    /// Not scraped yet.
    #[default]
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl Health {
    /// `"unknown"`, `"up"` or `"down"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// What the last scrape left behind.
#[derive(Debug, Clone, Default)]
pub(crate) struct HealthState {
    pub health: Health,
    pub last_error: Option<ScrapeError>,
    pub last_scrape: Option<SystemTime>,
    pub last_scrape_duration: Duration,
    pub last_scrape_timestamp_ms: i64,
}

/// An active target (one loop).
#[derive(Debug)]
pub(crate) struct TargetInfo {
    pub job: String,
    pub hash: u64,
    /// Identity without `__scrape_interval__`/`__scrape_timeout__`: matches a target to its
    /// loop across a reload that changes only timing.
    pub reload_key: u64,
    pub url: String,
    /// The labels attached to samples (no `__*` names).
    pub public_labels: Labels,
    pub discovered: Mutex<Labels>,
    pub interval: Duration,
    pub timeout: Duration,
    pub health: Mutex<HealthState>,
}

/// One active target as `/api/v1/targets` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveTarget {
    /// The job (`scrapePool`).
    pub scrape_pool: String,
    /// Labels before relabeling.
    pub discovered_labels: Labels,
    /// Labels after relabeling that are attached to samples (no `__*` names).
    pub labels: Labels,
    /// The scrape URL.
    pub scrape_url: String,
    /// Up, down or unknown.
    pub health: Health,
    /// The last error as `/api/v1/targets` shows it (`lastError`), empty when healthy.
    pub last_error: String,
    /// The last error, typed (a parse error keeps its line and column); `None` when healthy.
    pub last_error_cause: Option<ScrapeError>,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    /// How long the last scrape took.
    pub last_scrape_duration: Duration,
    /// The sample timestamp of the last scrape (ms).
    pub last_scrape_timestamp_ms: i64,
    /// The target's scrape interval.
    pub scrape_interval: Duration,
    /// The target's scrape timeout.
    pub scrape_timeout: Duration,
    /// Prometheus' target identity hash.
    pub hash: u64,
}

/// A target that relabeling dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTarget {
    /// The job.
    pub scrape_pool: String,
    /// Labels before relabeling.
    pub discovered_labels: Labels,
}

/// A discovered target that could not be created (no `__address__` after relabeling, an
/// address with a `/`, a bad interval label, …). Prometheus only logs these ("Creating target
/// failed") and counts them in `prometheus_target_sync_failed_total`; they are kept here so
/// that their discovered labels can be shown beside the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedTarget {
    /// The job.
    pub scrape_pool: String,
    /// Labels before relabeling.
    pub discovered_labels: Labels,
    /// Why the target could not be created (Prometheus' error text).
    pub error: PopulateError,
}

/// Everything `/api/v1/targets` needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetsSnapshot {
    /// Active targets, ordered by job then URL.
    pub active: Vec<ActiveTarget>,
    /// Dropped targets kept for display (bounded by `keep_dropped_targets`).
    pub dropped: Vec<DroppedTarget>,
    /// Dropped targets counted per job, including those not kept.
    pub dropped_counts: Vec<(String, usize)>,
    /// Targets that failed to be created in each job's last sync, ordered by job then
    /// discovery order; bounded like `dropped` and to
    /// [`MAX_FAILED_TARGETS_PER_POOL`](crate::MAX_FAILED_TARGETS_PER_POOL) per job. Not
    /// counted in `dropped_counts`.
    pub failed: Vec<FailedTarget>,
}

impl TargetInfo {
    pub(crate) fn snapshot(&self) -> ActiveTarget {
        let h = self
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        ActiveTarget {
            scrape_pool: self.job.clone(),
            discovered_labels: self
                .discovered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            labels: self.public_labels.clone(),
            scrape_url: self.url.clone(),
            health: h.health,
            last_error: h
                .last_error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            last_error_cause: h.last_error,
            last_scrape: h.last_scrape,
            last_scrape_duration: h.last_scrape_duration,
            last_scrape_timestamp_ms: h.last_scrape_timestamp_ms,
            scrape_interval: self.interval,
            scrape_timeout: self.timeout,
            hash: self.hash,
        }
    }
}
