//! The scrape engine.
//!
//! Turns discovered target groups into scraped samples the way Prometheus does: the target
//! manager (target groups to targets, Prometheus' label population), the scheduler (hash
//! offsets, no drift, bounded concurrency), the scrape loop and its sample pipeline (limits,
//! `honor_labels`, metric relabeling, staleness, report series), and the [`Appender`] trait
//! through which embedders bring their own store.

pub mod append;

pub use append::{AppendError, Appendable, Appender, SeriesRef};
