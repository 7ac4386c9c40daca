//! Scrapeline as one library: a `prometheus.yml` in, discovery → scraping → your own sink
//! (plus the file's remote-write endpoints) running.
//!
//! ```
//! use std::sync::Arc;
//! use scrapeline::{Config, Pipeline};
//! use scrapeline::scrape::{AppendError, Appendable, Appender, SeriesRef};
//! use scrapeline::exposition::Labels;
//!
//! /// The sink: here it prints every committed sample.
//! struct Print;
//! impl Appendable for Print {
//!     fn appender(&self) -> Box<dyn Appender> { Box::new(PrintScrape(Vec::new())) }
//! }
//! struct PrintScrape(Vec<String>);
//! impl Appender for PrintScrape {
//!     fn append(&mut self, r: SeriesRef, l: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
//!         self.0.push(format!("{l} {v} {t}"));
//!         Ok(r)
//!     }
//!     fn commit(&mut self) -> Result<(), AppendError> {
//!         self.0.drain(..).for_each(|s| println!("{s}"));
//!         Ok(())
//!     }
//!     fn rollback(&mut self) { self.0.clear() }
//! }
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::load_str("
//! scrape_configs:
//!   - job_name: node
//!     static_configs: [{targets: ['localhost:9100']}]
//! ", "prometheus.yml")?;
//! let pipeline = Pipeline::builder(config).sink(Arc::new(Print)).start()?;
//! // … runs until shut down; `pipeline.reload(new_config)` applies a changed file.
//! pipeline.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # What is here
//! - [`Config`]: the whole `prometheus.yml` (`global`, `scrape_configs`, `remote_write`, our
//!   `storage.retention`), with Prometheus' defaults and `check config`'s errors (file, line,
//!   field; secrets masked). Sections Scrapeline does not implement are accepted and listed.
//! - [`Pipeline`]: the discovery manager feeding the scrape manager, which appends every scrape
//!   to your sink(s) and the remote-write queues. [`Pipeline::reload`] restarts only what
//!   changed (jobs, remote-write endpoints), [`Pipeline::shutdown`] drains it.
//! - [`sink::from_fn`]: a sink from a closure that receives each committed scrape, every
//!   sample with its family type.
//! - [`FanOut`]: one scrape into several sinks (metadata, exemplars and created timestamps
//!   forwarded too).
//! - [`DiscoveredPods`]: pod discovery's metadata as the cgroup collector's
//!   [`PodLookup`](scrapeline_cgroup::PodLookup) ([`Pipeline::pod_lookup`]).
//! - Custom discovery: attach your own [`Discoverer`](scrapeline_sd::discovery::Discoverer) to
//!   a job with [`PipelineBuilder::custom_sd`].
//!
//! The stage crates are re-exported ([`scrape`], [`sd`], [`remote_write`], [`exposition`],
//! [`cgroup`]) so an embedder depends on this crate alone.
//!
//! # Conventions
//! The library takes values and returns typed errors; it never prints, logs to stdout or exits.

pub mod config;
mod fanout;
mod pipeline;
mod pod_lookup;
pub mod sink;

pub use config::{Config, ConfigError, StorageConfig};
pub use fanout::FanOut;
pub use pipeline::{Pipeline, PipelineBuilder, PipelineError, discovery_options};
pub use pod_lookup::DiscoveredPods;

/// The cgroup collector (`scrapeline-cgroup`).
pub use scrapeline_cgroup as cgroup;
/// Labels and exposition parsing (`scrapeline-exposition`).
pub use scrapeline_exposition as exposition;
/// Remote write queues (`scrapeline-remote-write`).
pub use scrapeline_remote_write as remote_write;
/// The scrape engine and the sink traits (`scrapeline-scrape`).
pub use scrapeline_scrape as scrape;
/// Discovery (`scrapeline-sd`).
pub use scrapeline_sd as sd;
