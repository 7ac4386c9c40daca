//! Target discovery and relabeling.
//!
//! Discovery finds what to scrape and describes each target as a label set; relabeling rewrites
//! those label sets (and, in the scrape crate, every scraped series) with Prometheus' exact rules.
//!
//! # Where to start
//! - [`TargetGroup`]: what every discoverer produces — full replacement groups keyed by source.
//! - [`relabel`]: `relabel_configs` / `metric_relabel_configs`, compiled once, applied to a
//!   [`LabelsBuilder`](scrapeline_exposition::LabelsBuilder).
//! - [`config`]: the `*_sd_configs` sections of `prometheus.yml`.
//! - [`kubernetes`]: the six Kubernetes roles over list/watch.

pub mod config;
pub mod discovery;
pub mod file_sd;
pub mod kubernetes;
pub mod relabel;
pub mod static_sd;
pub mod target_group;

pub use target_group::TargetGroup;
