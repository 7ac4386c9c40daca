//! One target's scrape loop: the offset wait, the ticker, the scrape, the pipeline, the report
//! series, and the end-of-run stale markers (Prometheus' `scrapeLoop.run`,
//! `scrapeAndReport`, `report`, `endOfRunStaleness`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use scrapeline_exposition::value::stale_nan;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::append::Appender;
use crate::client::{FetchError, JobClient, format_for};
use crate::config::ScrapeConfig;
use crate::outcome::{ScrapeError, ScrapeOutcome, TargetLimitExceeded};
use crate::pipeline::{PipelineConfig, ScrapeCache, Scratch};
use crate::shared::Shared;
use crate::state::{Health, TargetInfo};
use crate::target::scrape_offset;

/// Everything one loop needs; built by the pool.
pub(crate) struct LoopCtx {
    pub shared: Arc<Shared>,
    pub target: Arc<TargetInfo>,
    pub cfg: Arc<ScrapeConfig>,
    pub client: Result<JobClient, FetchError>,
    pub pipeline: Arc<PipelineConfig>,
    pub cache: Arc<Mutex<ScrapeCache>>,
    /// Cancelled when the target is removed or its pool reloads.
    pub cancel: CancellationToken,
    /// Set when the cache was handed to a successor: no end-of-run stale markers then.
    pub eor_disabled: Arc<AtomicBool>,
    /// The pool's forced error (`target_limit`).
    pub forced: Arc<Mutex<Option<TargetLimitExceeded>>>,
    /// Cancelled by a predecessor loop (same target, before a reload) once it stopped.
    pub predecessor: Option<CancellationToken>,
    /// Cancelled by this loop when its main loop has ended.
    pub stopped: CancellationToken,
}

const REPORT_UP: &str = "up";
const REPORT_DURATION: &str = "scrape_duration_seconds";
const REPORT_SCRAPED: &str = "scrape_samples_scraped";
const REPORT_POST: &str = "scrape_samples_post_metric_relabeling";
const REPORT_ADDED: &str = "scrape_series_added";
const REPORT_TIMEOUT: &str = "scrape_timeout_seconds";
const REPORT_SAMPLE_LIMIT: &str = "scrape_sample_limit";
const REPORT_BODY_SIZE: &str = "scrape_body_size_bytes";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LoopCtx {
    pub(crate) async fn run(mut self) {
        if let Some(p) = self.predecessor.take() {
            tokio::select! {
                _ = self.shared.shutdown.cancelled() => { self.stopped.cancel(); return; }
                _ = self.cancel.cancelled() => { self.stopped.cancel(); return; }
                _ = p.cancelled() => {}
            }
        }
        let interval = self.target.interval;
        let now = self.shared.clock.now_unix_nanos();
        let offset = scrape_offset(
            self.target.hash,
            self.shared.options.offset_seed,
            interval,
            now,
        );
        // The intended first instant, exactly on the target's phase; the timer may wake up to
        // a millisecond late, and the alignment below snaps timestamps back onto this grid.
        let mut aligned = now + offset.as_nanos() as i128;
        let first = Instant::now() + offset;
        tokio::select! {
            _ = self.shared.shutdown.cancelled() => { self.stopped.cancel(); return; }
            _ = self.cancel.cancelled() => { self.stopped.cancel(); return; }
            _ = tokio::time::sleep_until(first) => {}
        }
        let mut ticker = tokio::time::interval_at(first + interval, interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let interval_ns = interval.as_nanos() as i128;
        let tolerance = (interval / 100).min(Duration::from_millis(2)).as_nanos() as i128;
        let mut scraped = false;
        let mut scratch = Scratch::default();
        let mut size_hint = 0usize;
        let mut last_start: Option<Instant> = None;
        loop {
            if self.cancel.is_cancelled() || self.shared.shutdown.is_cancelled() {
                break;
            }
            let mut t = self.shared.clock.now_unix_nanos();
            while t - aligned >= interval_ns {
                aligned += interval_ns;
            }
            if t - aligned <= tolerance {
                t = aligned;
            }
            let ts_ms = t.div_euclid(1_000_000) as i64;
            let started = Instant::now();
            if let Some(last) = last_start.replace(started) {
                self.shared
                    .metrics
                    .interval_observed(interval, started.duration_since(last));
            }
            let mut buf = self.shared.buffers.get(size_hint);
            let go_on = self.scrape_and_report(ts_ms, &mut scratch, &mut buf).await;
            if !buf.is_empty() {
                size_hint = buf.len();
            }
            self.shared.buffers.put(buf);
            if !go_on {
                break;
            }
            scraped = true;
            tokio::select! {
                _ = self.shared.shutdown.cancelled() => break,
                _ = self.cancel.cancelled() => break,
                _ = ticker.tick() => {}
            }
        }
        self.stopped.cancel();
        if scraped
            && !self.shared.shutdown.is_cancelled()
            && self.shared.options.end_of_run_staleness
            && !self.eor_disabled.load(Ordering::SeqCst)
        {
            self.end_of_run_staleness(&mut ticker, interval).await;
        }
    }

    async fn end_of_run_staleness(&self, ticker: &mut tokio::time::Interval, interval: Duration) {
        let sd = &self.shared.shutdown;
        let at = tokio::select! { _ = sd.cancelled() => return, at = ticker.tick() => at };
        let stale_ms = self.shared.clock.unix_nanos_at(at).div_euclid(1_000_000) as i64;
        tokio::select! { _ = sd.cancelled() => return, _ = ticker.tick() => {} }
        tokio::select! { _ = sd.cancelled() => return, _ = tokio::time::sleep(interval / 10) => {} }
        if self.eor_disabled.load(Ordering::SeqCst) {
            return;
        }
        let mut app = self.shared.appendable.appender();
        let mut cache = lock(&self.cache);
        if cache.append_empty(app.as_mut(), stale_ms).is_err() {
            app.rollback();
            app = self.shared.appendable.appender();
        }
        let public = &self.target.public_labels;
        for name in self.report_names() {
            if cache
                .append_report(app.as_mut(), public, name, stale_ms, stale_nan())
                .is_err()
            {
                app.rollback();
                return;
            }
        }
        drop(cache);
        let _ = app.commit();
    }

    fn report_names(&self) -> &'static [&'static str] {
        if self.cfg.extra_scrape_metrics == Some(true) {
            &[
                REPORT_UP,
                REPORT_DURATION,
                REPORT_SCRAPED,
                REPORT_POST,
                REPORT_ADDED,
                REPORT_TIMEOUT,
                REPORT_SAMPLE_LIMIT,
                REPORT_BODY_SIZE,
            ]
        } else {
            &[
                REPORT_UP,
                REPORT_DURATION,
                REPORT_SCRAPED,
                REPORT_POST,
                REPORT_ADDED,
            ]
        }
    }

    /// One scrape: the pass, then its report. Returns false when the server is shutting
    /// down mid-scrape (nothing is reported then).
    async fn scrape_and_report(
        &self,
        ts_ms: i64,
        scratch: &mut Scratch,
        buf: &mut Vec<u8>,
    ) -> bool {
        let start = Instant::now();
        let started_wall = self.shared.clock.now_system_time();
        let mut app = self.shared.appendable.appender();
        let Some(outcome) = self.scrape_pass(&mut app, ts_ms, scratch, buf).await else {
            app.rollback();
            return false;
        };
        let duration = start.elapsed();
        let commit = self.append_report_and_commit(app, &outcome, ts_ms, duration);
        self.count(&outcome);
        let error = match outcome {
            ScrapeOutcome::Appended { .. } => commit.err(),
            ScrapeOutcome::Failed { error, .. } => Some(error),
        };
        let mut h = lock(&self.target.health);
        h.last_scrape = Some(started_wall);
        h.last_scrape_duration = duration;
        h.last_scrape_timestamp_ms = ts_ms;
        h.health = if error.is_none() {
            Health::Up
        } else {
            Health::Down
        };
        h.last_error = error;
        true
    }

    /// Fetch, parse and append into `app` (Prometheus' `scrapeAndReport` up to the report).
    /// On failure the samples are rolled back and the target's series get stale markers.
    /// `None` when the server shuts down mid-fetch.
    async fn scrape_pass(
        &self,
        app: &mut Box<dyn Appender>,
        ts_ms: i64,
        scratch: &mut Scratch,
        buf: &mut Vec<u8>,
    ) -> Option<ScrapeOutcome> {
        let forced = *lock(&self.forced);
        if let Some(limit) = forced {
            self.stale_all(app, ts_ms);
            return Some(ScrapeOutcome::failed(limit));
        }
        let content_type = match self.fetch(buf).await {
            Fetch::ShuttingDown => return None,
            Fetch::Failed(e) => {
                self.log_failure(false, &e.to_string());
                // A partial body (a timed-out gzip bomb can leave a gigabyte) must not
                // become the next scrape's buffer size hint.
                buf.clear();
                self.stale_all(app, ts_ms);
                return Some(ScrapeOutcome::failed(e));
            }
            Fetch::Body { content_type } => content_type,
        };
        let body_bytes = buf.len();
        if buf.is_empty() {
            self.stale_all(app, ts_ms);
            return Some(ScrapeOutcome::Appended {
                stats: Default::default(),
                body_bytes,
            });
        }
        let format = match format_for(content_type.as_deref(), self.cfg.fallback_scrape_protocol) {
            Ok(f) => f,
            Err(m) => {
                self.log_failure(true, &m);
                self.stale_all(app, ts_ms);
                return Some(ScrapeOutcome::Failed {
                    error: ScrapeError::ContentType(m),
                    stats: Default::default(),
                    body_bytes,
                });
            }
        };
        let (stats, res) = lock(&self.cache).append_body(
            &self.pipeline,
            &self.target.public_labels,
            buf,
            format,
            ts_ms,
            app.as_mut(),
            scratch,
        );
        Some(match res {
            Ok(()) => ScrapeOutcome::Appended { stats, body_bytes },
            Err(e) => {
                self.log_failure(true, &e.to_string());
                app.rollback();
                *app = self.shared.appendable.appender();
                self.stale_all(app, ts_ms);
                ScrapeOutcome::Failed {
                    error: e.into(),
                    stats,
                    body_bytes,
                }
            }
        })
    }

    /// Appends the report series of `outcome` and commits `app` (rolled back when a report
    /// append fails). The error is the store's.
    fn append_report_and_commit(
        &self,
        mut app: Box<dyn Appender>,
        outcome: &ScrapeOutcome,
        ts_ms: i64,
        duration: Duration,
    ) -> Result<(), ScrapeError> {
        let stats = outcome.stats();
        let up = if outcome.error().is_none() { 1.0 } else { 0.0 };
        let mut values = vec![
            (REPORT_UP, up),
            (REPORT_DURATION, duration.as_secs_f64()),
            (REPORT_SCRAPED, stats.total as f64),
            (REPORT_POST, stats.added as f64),
            (REPORT_ADDED, stats.series_added as f64),
        ];
        if self.cfg.extra_scrape_metrics == Some(true) {
            values.push((REPORT_TIMEOUT, self.target.timeout.as_secs_f64()));
            values.push((REPORT_SAMPLE_LIMIT, self.pipeline.sample_limit as f64));
            values.push((REPORT_BODY_SIZE, outcome.body_size_report()));
        }
        let appended = {
            let mut cache = lock(&self.cache);
            values.into_iter().try_for_each(|(name, v)| {
                cache.append_report(app.as_mut(), &self.target.public_labels, name, ts_ms, v)
            })
        };
        match appended {
            Ok(()) => app.commit().map_err(ScrapeError::Commit),
            Err(e) => {
                app.rollback();
                Err(ScrapeError::Commit(e))
            }
        }
    }

    /// Adds the scrape to the manager's running totals.
    fn count(&self, outcome: &ScrapeOutcome) {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = outcome.stats();
        let c = &self.shared.counters;
        c.scrapes.fetch_add(1, Relaxed);
        if outcome.error().is_some() {
            c.failures.fetch_add(1, Relaxed);
        }
        if outcome.sample_limit_hit() {
            c.sample_limit.fetch_add(1, Relaxed);
        }
        c.out_of_order.fetch_add(stats.out_of_order as u64, Relaxed);
        c.duplicates.fetch_add(stats.duplicates as u64, Relaxed);
        c.out_of_bounds
            .fetch_add(stats.out_of_bounds as u64, Relaxed);
        c.samples_appended.fetch_add(stats.added as u64, Relaxed);
    }

    /// Logs a failed scrape at debug level as Prometheus does, with the loop's `scrape_pool`
    /// and `target`: "Scrape failed" when fetching failed, "Append failed" when the body
    /// could not be used (parse error, unknown Content-Type, a limit).
    fn log_failure(&self, append: bool, err: &str) {
        let (pool, target) = (&self.target.job, &self.target.url);
        if append {
            tracing::debug!(scrape_pool = %pool, target = %target, err, "Append failed");
        } else {
            tracing::debug!(scrape_pool = %pool, target = %target, err, "Scrape failed");
        }
    }

    fn stale_all(&self, app: &mut Box<dyn Appender>, ts_ms: i64) {
        if lock(&self.cache).append_empty(app.as_mut(), ts_ms).is_err() {
            app.rollback();
            *app = self.shared.appendable.appender();
        }
    }

    /// The HTTP part under the concurrency bound, rate limit and timeout, into `buf`.
    async fn fetch(&self, buf: &mut Vec<u8>) -> Fetch {
        let client = match &self.client {
            Ok(c) => c,
            Err(e) => return Fetch::Failed(e.clone()),
        };
        let shared = &self.shared;
        let timeout = self.target.timeout;
        let url = &self.target.url;
        let deadline = Instant::now() + timeout;
        let work = async {
            let _permit = match &shared.semaphore {
                Some(s) => Some(s.acquire().await),
                None => None,
            };
            if let Some(l) = &shared.limiter {
                while let Err(not_until) = l.check() {
                    let wait = not_until.wait_time_from(governor::clock::Clock::now(
                        &governor::clock::DefaultClock::default(),
                    ));
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
            }
            client
                .fetch(url, timeout, buf)
                .await
                .map(|f| f.content_type)
        };
        tokio::select! {
            _ = shared.shutdown.cancelled() => Fetch::ShuttingDown,
            r = tokio::time::timeout_at(deadline, work) => match r {
                Ok(Ok(content_type)) => Fetch::Body { content_type },
                Ok(Err(e)) => {
                    if matches!(e, FetchError::BodySizeLimit) {
                        shared
                            .metrics
                            .body_size_exceeded_total
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Fetch::Failed(e)
                }
                Err(_) => Fetch::Failed(FetchError::Timeout { url: url.clone() }),
            },
        }
    }
}

/// How a fetch ended.
enum Fetch {
    /// The body is in the buffer.
    Body {
        /// The response's `Content-Type`, if it had one.
        content_type: Option<String>,
    },
    /// It failed.
    Failed(FetchError),
    /// The server is shutting down.
    ShuttingDown,
}

/// Converts a Unix-nanosecond instant to `SystemTime`.
pub(crate) fn system_time_from_nanos(ns: i128) -> SystemTime {
    if ns >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        SystemTime::UNIX_EPOCH
    }
}
