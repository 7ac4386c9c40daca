//! The scrape manager's self-metrics that Prometheus exposes under `prometheus_target_*`:
//! pool creations and reloads, target syncs (count, failures, duration) and the actual
//! intervals between scrapes. Dashboards (prometheus-mixin) and alerts
//! (`PrometheusTargetSyncFailure`) read them, so names, labels and types follow Prometheus.
//!
//! Durations are kept as Prometheus' summaries: a sliding window of recent observations
//! ([`WINDOW`]) from which the quantiles 0.01, 0.05, 0.5, 0.9 and 0.99 are computed exactly,
//! plus a running sum and count.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long an observation counts towards a summary's quantiles (Prometheus' `MaxAge`).
pub const WINDOW: Duration = Duration::from_secs(600);
/// At most this many observations are kept per summary (older ones go first).
const MAX_OBSERVATIONS: usize = 2048;
/// The quantiles Prometheus' scrape summaries report.
pub const QUANTILES: [f64; 5] = [0.01, 0.05, 0.5, 0.9, 0.99];

/// One summary: recent observations, and totals since start.
#[derive(Debug, Default)]
struct Summary {
    recent: VecDeque<(Instant, f64)>,
    sum: f64,
    count: u64,
}

impl Summary {
    fn observe(&mut self, now: Instant, v: f64) {
        self.sum += v;
        self.count += 1;
        if self.recent.len() >= MAX_OBSERVATIONS {
            self.recent.pop_front();
        }
        self.recent.push_back((now, v));
    }

    fn snapshot(&mut self, now: Instant) -> SummarySnapshot {
        while let Some((t, _)) = self.recent.front() {
            if now.saturating_duration_since(*t) > WINDOW {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        let mut values: Vec<f64> = self.recent.iter().map(|(_, v)| *v).collect();
        values.sort_by(f64::total_cmp);
        let quantiles = QUANTILES
            .iter()
            .map(|&q| (q, quantile(&values, q)))
            .collect();
        SummarySnapshot {
            quantiles,
            sum: self.sum,
            count: self.count,
        }
    }
}

/// The `q` quantile of sorted `values` (nearest rank), NaN when there are none, as
/// Prometheus' summaries report an empty window.
fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let rank = (q * values.len() as f64).ceil() as usize;
    let i = rank.saturating_sub(1).min(values.len() - 1);
    values.get(i).copied().unwrap_or(f64::NAN)
}

/// A summary's state at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct SummarySnapshot {
    /// `(quantile, value)` for each of [`QUANTILES`]; NaN when the window is empty.
    pub quantiles: Vec<(f64, f64)>,
    /// Sum of all observations since start.
    pub sum: f64,
    /// Number of observations since start.
    pub count: u64,
}

/// Per-job counters of target syncs.
#[derive(Debug, Default)]
struct JobSyncs {
    syncs: u64,
    failed: u64,
    length: Summary,
}

/// The manager's `prometheus_target_*` metrics (shared by every pool and loop).
#[derive(Debug, Default)]
pub(crate) struct ScrapeMetrics {
    pub pools_total: AtomicU64,
    pub pools_failed_total: AtomicU64,
    pub reloads_total: AtomicU64,
    pub reloads_failed_total: AtomicU64,
    pub target_limit_exceeded_total: AtomicU64,
    pub body_size_exceeded_total: AtomicU64,
    jobs: Mutex<BTreeMap<String, JobSyncs>>,
    intervals: Mutex<BTreeMap<Duration, Summary>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ScrapeMetrics {
    /// One sync of `job`'s targets that took `took`, with `failed` targets that could not
    /// be created.
    pub fn sync_done(&self, job: &str, took: Duration, failed: usize) {
        let mut jobs = lock(&self.jobs);
        let j = match jobs.get_mut(job) {
            Some(j) => j,
            None => jobs.entry(job.to_owned()).or_default(),
        };
        j.syncs += 1;
        j.failed += failed as u64;
        j.length.observe(Instant::now(), took.as_secs_f64());
    }

    /// The time between the starts of two scrapes of a target scraped every `interval`.
    pub fn interval_observed(&self, interval: Duration, actual: Duration) {
        lock(&self.intervals)
            .entry(interval)
            .or_default()
            .observe(Instant::now(), actual.as_secs_f64());
    }

    pub fn snapshot(&self) -> TargetMetrics {
        let now = Instant::now();
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let jobs = lock(&self.jobs)
            .iter_mut()
            .map(|(job, j)| {
                (
                    job.clone(),
                    JobSyncMetrics {
                        syncs_total: j.syncs,
                        sync_failed_total: j.failed,
                        sync_length: j.length.snapshot(now),
                    },
                )
            })
            .collect();
        let intervals = lock(&self.intervals)
            .iter_mut()
            .map(|(i, s)| (go_duration(*i), s.snapshot(now)))
            .collect();
        TargetMetrics {
            pools_total: c(&self.pools_total),
            pools_failed_total: c(&self.pools_failed_total),
            reloads_total: c(&self.reloads_total),
            reloads_failed_total: c(&self.reloads_failed_total),
            target_limit_exceeded_total: c(&self.target_limit_exceeded_total),
            body_size_exceeded_total: c(&self.body_size_exceeded_total),
            jobs,
            intervals,
        }
    }
}

/// One job's sync metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSyncMetrics {
    /// `prometheus_target_scrape_pool_sync_total`.
    pub syncs_total: u64,
    /// `prometheus_target_sync_failed_total`: targets that could not be created.
    pub sync_failed_total: u64,
    /// `prometheus_target_sync_length_seconds`.
    pub sync_length: SummarySnapshot,
}

/// A snapshot of the scrape manager's `prometheus_target_*` metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TargetMetrics {
    /// `prometheus_target_scrape_pools_total`: pool creation attempts.
    pub pools_total: u64,
    /// `prometheus_target_scrape_pools_failed_total`.
    pub pools_failed_total: u64,
    /// `prometheus_target_scrape_pool_reloads_total`: pools re-created by a config change.
    pub reloads_total: u64,
    /// `prometheus_target_scrape_pool_reloads_failed_total`.
    pub reloads_failed_total: u64,
    /// `prometheus_target_scrape_pool_exceeded_target_limit_total`.
    pub target_limit_exceeded_total: u64,
    /// `prometheus_target_scrapes_exceeded_body_size_limit_total`.
    pub body_size_exceeded_total: u64,
    /// Per job (`scrape_job` label).
    pub jobs: BTreeMap<String, JobSyncMetrics>,
    /// `prometheus_target_interval_length_seconds` per configured interval, keyed by the
    /// interval as Go prints it (`interval="15s"`, `"1m0s"`).
    pub intervals: BTreeMap<String, SummarySnapshot>,
}

/// A duration as Go's `time.Duration.String` prints it (`15s`, `1m0s`, `1h30m0s`, `500ms`),
/// which is what Prometheus' `interval` label holds.
pub fn go_duration(d: Duration) -> String {
    let total_ns = d.as_nanos();
    if total_ns == 0 {
        return "0s".to_owned();
    }
    if total_ns < 1_000_000_000 {
        let (unit, div) = if total_ns < 1_000 {
            ("ns", 1u128)
        } else if total_ns < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", trim_fraction(total_ns, div));
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let frac_ns = u128::from(s) * 1_000_000_000 + u128::from(d.subsec_nanos());
    let s = trim_fraction(frac_ns, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

/// `n / div` with the fraction's trailing zeros dropped (`1.5`, `2`).
fn trim_fraction(n: u128, div: u128) -> String {
    let (whole, frac) = (n / div, n % div);
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_matches_go() {
        let cases = [
            (Duration::from_secs(15), "15s"),
            (Duration::from_secs(60), "1m0s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::ZERO, "0s"),
        ];
        for (d, want) in cases {
            assert_eq!(go_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn summary_quantiles_sum_and_count() {
        let m = ScrapeMetrics::default();
        for i in 1..=100 {
            m.interval_observed(Duration::from_secs(15), Duration::from_millis(i * 10));
        }
        m.sync_done("a", Duration::from_millis(2), 3);
        m.sync_done("a", Duration::from_millis(4), 0);
        let s = m.snapshot();
        let iv = &s.intervals["15s"];
        assert_eq!(iv.count, 100);
        assert!((iv.sum - 50.5).abs() < 1e-9, "{}", iv.sum);
        assert_eq!(
            iv.quantiles,
            vec![
                (0.01, 0.01),
                (0.05, 0.05),
                (0.5, 0.5),
                (0.9, 0.9),
                (0.99, 0.99)
            ]
        );
        let a = &s.jobs["a"];
        assert_eq!((a.syncs_total, a.sync_failed_total), (2, 3));
        assert_eq!(a.sync_length.count, 2);
        assert_eq!(a.sync_length.quantiles[2], (0.5, 0.002));
    }

    #[test]
    fn empty_window_reports_nan() {
        let mut s = Summary::default();
        let snap = s.snapshot(Instant::now());
        assert!(snap.quantiles.iter().all(|(_, v)| v.is_nan()));
        assert_eq!(snap.count, 0);
    }
}
