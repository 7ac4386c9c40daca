//! The scrape engine: target groups in, samples out, with Prometheus 3's semantics.
//!
//! Turns discovered [`TargetGroup`](scrapeline_sd::TargetGroup)s into scraped samples the way
//! Prometheus does, and hands them to a store through the [`Appender`] trait, so embedders
//! bring their own storage (an in-memory TSDB, remote write, a test recorder).
//!
//! ```
//! use std::io::{Read, Write};
//! use std::sync::{Arc, Mutex};
//! use scrapeline_exposition::Labels;
//! use scrapeline_scrape::{
//!     AppendError, Appendable, Appender, GlobalConfig, Health, ManagerOptions, ScrapeConfig,
//!     ScrapeManager, SeriesRef,
//! };
//! use scrapeline_sd::TargetGroup;
//!
//! // The embedder's store: here, committed samples as text lines.
//! #[derive(Clone, Default)]
//! struct Lines(Arc<Mutex<Vec<String>>>);
//! struct Batch(Lines, Vec<String>);
//! impl Appender for Batch {
//!     fn append(&mut self, r: SeriesRef, l: &Labels, _t: i64, v: f64) -> Result<SeriesRef, AppendError> {
//!         self.1.push(format!("{l} {v}"));
//!         Ok(r)
//!     }
//!     fn commit(&mut self) -> Result<(), AppendError> {
//!         self.0.0.lock().unwrap().append(&mut self.1);
//!         Ok(())
//!     }
//!     fn rollback(&mut self) { self.1.clear() }
//! }
//! impl Appendable for Lines {
//!     fn appender(&self) -> Box<dyn Appender> { Box::new(Batch(self.clone(), Vec::new())) }
//! }
//!
//! // A target: one loopback HTTP server answering every request with one sample.
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?.to_string();
//! std::thread::spawn(move || {
//!     for mut conn in listener.incoming().flatten() {
//!         let _ = conn.read(&mut [0u8; 4096]);
//!         let body = "# TYPE jobs_done counter\njobs_done 42\n";
//!         let _ = write!(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
//!     }
//! });
//!
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let store = Lines::default();
//!     let manager = ScrapeManager::new(Arc::new(store.clone()), ManagerOptions::default());
//!     let job: ScrapeConfig = serde_saphyr::from_str("job_name: app\nscrape_interval: 1s\n")?;
//!     manager.apply_config(vec![job], &GlobalConfig::default())?;
//!     manager.sync("app", vec![TargetGroup {
//!         source: "static/0".into(),
//!         targets: vec![Labels::from_pairs([("__address__", addr.as_str())])],
//!         labels: Labels::empty(),
//!     }]);
//!     // The first scrape lands within one interval (each target has its own phase).
//!     while manager.targets().active[0].health == Health::Unknown {
//!         tokio::time::sleep(std::time::Duration::from_millis(50)).await;
//!     }
//!     let target = &manager.targets().active[0];
//!     assert_eq!((target.health, target.last_error.as_str()), (Health::Up, ""));
//!     let lines = store.0.lock().unwrap().clone();
//!     assert_eq!(lines[0], format!(r#"{{__name__="jobs_done", instance="{addr}", job="app"}} 42"#));
//!     assert!(lines[1].starts_with(r#"{__name__="up", "#) && lines[1].ends_with(" 1"));
//!     manager.shutdown().await;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where to start
//! - [`ScrapeManager`]: the entry point. [`apply_config`](ScrapeManager::apply_config) takes
//!   the `scrape_configs` ([`ScrapeConfig`], deserialized from `prometheus.yml`) and the
//!   `global` defaults ([`GlobalConfig`]); [`sync`](ScrapeManager::sync) (or
//!   [`run`](ScrapeManager::run) on a discovery `watch` channel) feeds target groups;
//!   [`targets`](ScrapeManager::targets) is what `/api/v1/targets` shows;
//!   [`shutdown`](ScrapeManager::shutdown) stops and joins every loop.
//! - [`Appender`] / [`Appendable`]: the sink (append, commit, rollback), one appender per
//!   scrape, so a scrape becomes visible atomically or not at all.
//! - [`pipeline`]: the synchronous per-scrape pipeline and its scrape cache, usable on its own
//!   (an embedder that fetches bodies itself, a push receiver); it tells the appender about
//!   family metadata, exemplars and OpenMetrics created timestamps too.
//! - [`target`]: label population, scrape URL, target identity hash and scrape offset as pure
//!   functions (what a tool that previews targets needs).
//! - [`ScrapeError`]: why a target is down, typed (a parse error keeps line and column);
//!   [`ActiveTarget::last_error`] is its text as `/api/v1/targets` shows it.
//!
//! # What happens to a target
//! 1. **Population** (per job): target labels, group labels, the job defaults (`job`,
//!    `__scheme__`, `__metrics_path__`, `__scrape_interval__`, `__scrape_timeout__`,
//!    `__param_*`, histogram flags), `relabel_configs`, checks, `__meta_*` removed, `instance`
//!    defaulted to `__address__` (no default port, as in 3.x). Identity = FNV-1a of the label
//!    hash and the URL; a sync only starts and stops loops of added and removed identities.
//! 2. **Schedule**: each loop sleeps until `t mod interval == (hash ^ seed) mod interval`, then
//!    ticks every interval on its own cadence (no drift; sample timestamps are snapped to the
//!    ideal grid within `min(interval/100, 2ms)`). A global semaphore bounds concurrent
//!    fetches and an optional rate limiter bounds requests per second.
//! 3. **Fetch**: one shared hyper connection pool (per distinct `tls_config`), Prometheus'
//!    `Accept` header from `scrape_protocols`, `X-Prometheus-Scrape-Timeout-Seconds`, gzip,
//!    auth, redirects; `scrape_timeout` bounds request and body; `body_size_limit` is enforced
//!    while reading (and on the decompressed size).
//! 4. **Pipeline**: parse, scrape cache lookup by raw series bytes (a known line skips label
//!    parsing, relabeling, checks and hashing), target labels (`honor_labels`), metric
//!    relabeling, limits, in-scrape duplicates, append; stale markers for vanished series;
//!    report series `up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
//!    `scrape_samples_post_metric_relabeling`, `scrape_series_added` (+3 with
//!    `extra_scrape_metrics`).
//! 5. **Failure** of any kind marks only that target down with the reason kept; its samples are
//!    rolled back and its previous series get stale markers. A removed target gets end-of-run
//!    stale markers two intervals (+10%) later.
//!
//! # Conventions
//! Nothing here panics on network input, prints or reads global state; every fetch has a
//! timeout and every loop is cancelled and joined on [`ScrapeManager::shutdown`]. Error strings
//! match Prometheus' where the cause is the same (they are shown to users as `lastError`).

mod append;
pub mod client;
pub mod config;
mod created;
mod duration;
mod family_meta;
mod manager;
pub mod metrics;
mod outcome;
pub mod pipeline;
mod scrape_loop;
mod series_table;
mod shared;
mod state;
pub mod target;

pub use append::{AppendError, Appendable, Appender, Exemplar, Metadata, MetricType, SeriesRef};
pub use config::{ConfigError, GlobalConfig, ScrapeConfig};
pub use manager::{MAX_FAILED_TARGETS_PER_POOL, ScrapeManager};
pub use outcome::{ScrapeError, TargetLimitExceeded};
pub use pipeline::{LabelLimitError, PipelineError};
pub use shared::{ManagerOptions, ScrapeCounters};
pub use state::{ActiveTarget, DroppedTarget, FailedTarget, Health, TargetsSnapshot};
pub use target::{PopulateError, PopulateFailure};
