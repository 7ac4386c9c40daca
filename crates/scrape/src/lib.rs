//! The scrape engine: target groups in, samples out, with Prometheus 3's semantics.
//!
//! Turns discovered [`TargetGroup`](scrapeline_sd::TargetGroup)s into scraped samples the way
//! Prometheus does, and hands them to a store through the [`Appender`] trait, so embedders
//! bring their own storage (an in-memory TSDB, remote write, a test recorder).
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
//! - [`pipeline`]: the synchronous per-scrape pipeline and its scrape cache, usable on its own.
//! - [`target`]: label population, scrape URL, target identity hash and scrape offset as pure
//!   functions.
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
//! # Example
//! ```no_run
//! use std::sync::Arc;
//! use scrapeline_exposition::Labels;
//! use scrapeline_scrape::{
//!     AppendError, Appendable, Appender, GlobalConfig, ManagerOptions, ScrapeConfig,
//!     ScrapeManager, SeriesRef,
//! };
//! use scrapeline_sd::TargetGroup;
//!
//! struct Print;
//! impl Appender for Print {
//!     fn append(&mut self, r: SeriesRef, l: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
//!         println!("{l} {v} {t}");
//!         Ok(r)
//!     }
//!     fn commit(&mut self) -> Result<(), AppendError> { Ok(()) }
//!     fn rollback(&mut self) {}
//! }
//! impl Appendable for Print {
//!     fn appender(&self) -> Box<dyn Appender> { Box::new(Print) }
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = ScrapeManager::new(Arc::new(Print), ManagerOptions::default());
//! let job: ScrapeConfig = serde_saphyr::from_str("job_name: node\nscrape_interval: 15s\n")?;
//! manager.apply_config(vec![job], &GlobalConfig::default())?;
//! manager.sync(
//!     "node",
//!     vec![TargetGroup {
//!         source: "static/0".into(),
//!         targets: vec![Labels::from_pairs([("__address__", "127.0.0.1:9100")])],
//!         labels: Labels::empty(),
//!     }],
//! );
//! tokio::time::sleep(std::time::Duration::from_secs(60)).await;
//! for t in manager.targets().active {
//!     println!("{} {} {}", t.scrape_url, t.health.as_str(), t.last_error);
//! }
//! manager.shutdown().await;
//! # Ok(())
//! # }
//! ```
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
mod outcome;
pub mod pipeline;
mod scrape_loop;
mod series_table;
mod shared;
mod state;
pub mod target;

pub use append::{AppendError, Appendable, Appender, Exemplar, Metadata, MetricType, SeriesRef};
pub use config::{ConfigError, GlobalConfig, ScrapeConfig};
pub use manager::ScrapeManager;
pub use outcome::{ScrapeError, TargetLimitExceeded};
pub use pipeline::{LabelLimitError, PipelineError};
pub use shared::{ManagerOptions, ScrapeCounters};
pub use state::{ActiveTarget, DroppedTarget, Health, TargetsSnapshot};
pub use target::PopulateError;
