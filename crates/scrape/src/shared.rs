//! What every loop of a manager shares: the store, the connection pools, the concurrency and
//! rate bounds, the clock, the shutdown signal.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::SystemTime;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::append::Appendable;
use crate::client::ClientPool;

/// Settings of a [`ScrapeManager`](crate::ScrapeManager).
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Mixed into every target's offset (Prometheus: FNV-1a of host name and external labels;
    /// see [`offset_seed`](crate::target::offset_seed)).
    pub offset_seed: u64,
    /// At most this many HTTP fetches at once across all targets (0 = unbounded).
    pub max_concurrent_scrapes: usize,
    /// At most this many scrape requests started per second across all targets.
    pub max_scrapes_per_second: Option<NonZeroU32>,
    /// Write end-of-run stale markers for removed targets (Prometheus does).
    pub end_of_run_staleness: bool,
    /// At most this many dropped targets are kept per job for display when the job says
    /// `keep_dropped_targets: 0` (bounds memory; Prometheus keeps all).
    pub max_dropped_targets: usize,
    /// Wall-clock time at manager start; `None` reads the system clock. Tests pin it so that
    /// offsets and timestamps are exact under tokio's paused clock.
    pub wall_clock_start: Option<SystemTime>,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            offset_seed: 0,
            max_concurrent_scrapes: 1024,
            max_scrapes_per_second: None,
            end_of_run_staleness: true,
            max_dropped_targets: 10_000,
            wall_clock_start: None,
        }
    }
}

/// Wall time derived from tokio's monotonic clock, so it never jumps and follows the paused
/// clock in tests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    wall0_ns: i128,
    inst0: tokio::time::Instant,
}

impl Clock {
    pub(crate) fn new(start: Option<SystemTime>) -> Self {
        let wall = start.unwrap_or_else(SystemTime::now);
        let wall0_ns = match wall.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        };
        Clock {
            wall0_ns,
            inst0: tokio::time::Instant::now(),
        }
    }
    pub(crate) fn now_unix_nanos(&self) -> i128 {
        self.wall0_ns + self.inst0.elapsed().as_nanos() as i128
    }
    pub(crate) fn unix_nanos_at(&self, at: tokio::time::Instant) -> i128 {
        let d = if at >= self.inst0 {
            at.duration_since(self.inst0).as_nanos() as i128
        } else {
            -(self.inst0.duration_since(at).as_nanos() as i128)
        };
        self.wall0_ns + d
    }
    pub(crate) fn now_system_time(&self) -> SystemTime {
        crate::scrape_loop::system_time_from_nanos(self.now_unix_nanos())
    }
}

pub(crate) struct Shared {
    pub appendable: Arc<dyn Appendable>,
    pub clients: ClientPool,
    pub semaphore: Option<Semaphore>,
    pub limiter: Option<DefaultDirectRateLimiter>,
    pub clock: Clock,
    pub options: ManagerOptions,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    /// Counters over all loops (`ScrapeManager::counters`).
    pub counters: Counters,
    /// Pool, sync and interval metrics (`ScrapeManager::target_metrics`).
    pub metrics: crate::metrics::ScrapeMetrics,
    /// Body buffers shared by all loops: only scrapes in progress hold one, so memory follows
    /// concurrency, not the number of targets.
    pub buffers: BufferPool,
}

/// Running totals across every loop, as atomics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub scrapes: std::sync::atomic::AtomicU64,
    pub failures: std::sync::atomic::AtomicU64,
    pub out_of_order: std::sync::atomic::AtomicU64,
    pub duplicates: std::sync::atomic::AtomicU64,
    pub out_of_bounds: std::sync::atomic::AtomicU64,
    pub sample_limit: std::sync::atomic::AtomicU64,
    pub samples_appended: std::sync::atomic::AtomicU64,
}

/// A snapshot of the manager's running totals (Prometheus exposes the same as
/// `prometheus_target_scrapes_*` counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScrapeCounters {
    /// Scrape attempts.
    pub scrapes_total: u64,
    /// Scrape attempts that failed (`up` = 0).
    pub scrape_failures_total: u64,
    /// Samples refused by the store as out of order.
    pub samples_out_of_order_total: u64,
    /// Samples dropped as duplicates (in-scrape repeats and store refusals).
    pub samples_duplicate_total: u64,
    /// Samples too old or too far in the future.
    pub samples_out_of_bounds_total: u64,
    /// Scrapes that exceeded `sample_limit`.
    pub sample_limit_exceeded_total: u64,
    /// Scraped samples that survived metric relabeling (before store refusals).
    pub samples_post_relabeling_total: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ScrapeCounters {
        use std::sync::atomic::Ordering::Relaxed;
        ScrapeCounters {
            scrapes_total: self.scrapes.load(Relaxed),
            scrape_failures_total: self.failures.load(Relaxed),
            samples_out_of_order_total: self.out_of_order.load(Relaxed),
            samples_duplicate_total: self.duplicates.load(Relaxed),
            samples_out_of_bounds_total: self.out_of_bounds.load(Relaxed),
            sample_limit_exceeded_total: self.sample_limit.load(Relaxed),
            samples_post_relabeling_total: self.samples_appended.load(Relaxed),
        }
    }
}

/// A small pool of reusable body buffers.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    const MAX_POOLED: usize = 64;
    const MAX_POOLED_BYTES: usize = 16 << 20;

    /// A buffer with at least `hint` bytes of capacity.
    pub(crate) fn get(&self, hint: usize) -> Vec<u8> {
        let mut b = self
            .free
            .lock()
            .map(|mut f| f.pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        b.clear();
        if b.capacity() < hint {
            b.reserve(hint);
        }
        b
    }

    /// Returns a buffer; very large ones are dropped so one huge body does not pin memory.
    pub(crate) fn put(&self, b: Vec<u8>) {
        if b.capacity() > Self::MAX_POOLED_BYTES {
            return;
        }
        if let Ok(mut f) = self.free.lock()
            && f.len() < Self::MAX_POOLED
        {
            f.push(b);
        }
    }
}

impl Shared {
    pub(crate) fn new(appendable: Arc<dyn Appendable>, options: ManagerOptions) -> Self {
        Shared {
            appendable,
            clients: ClientPool::new(),
            semaphore: (options.max_concurrent_scrapes > 0)
                .then(|| Semaphore::new(options.max_concurrent_scrapes)),
            limiter: options
                .max_scrapes_per_second
                .map(|r| RateLimiter::direct(Quota::per_second(r))),
            clock: Clock::new(options.wall_clock_start),
            options,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            buffers: BufferPool::default(),
            counters: Counters::default(),
            metrics: crate::metrics::ScrapeMetrics::default(),
        }
    }
}
