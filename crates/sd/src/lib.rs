//! Target discovery.
//!
//! Discovery finds what to scrape and describes each target as a label set; relabeling (the
//! `scrapeline-relabel` crate, re-exported as [`relabel`]) rewrites those label sets with
//! Prometheus' exact rules.
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
/// The relabel engine, now its own crate (`scrapeline-relabel`, no Kubernetes dependencies);
/// re-exported here so `scrapeline_sd::relabel` paths keep working.
pub use scrapeline_relabel as relabel;
pub mod static_sd;
pub mod target_group;

pub use target_group::TargetGroup;
