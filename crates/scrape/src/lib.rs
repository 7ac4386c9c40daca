//! The scrape engine.
//!
//! Turns discovered target groups into scraped samples the way Prometheus does: the target
//! manager (target groups to targets, Prometheus' label population), the scheduler (hash
//! offsets, no drift, bounded concurrency), the scrape loop and its sample pipeline (limits,
//! `honor_labels`, metric relabeling, staleness, report series), and the [`Appender`] trait
//! through which embedders bring their own store.

pub mod append;
pub mod client;
pub mod config;
pub mod duration;
pub mod manager;
pub mod pipeline;
mod scrape_loop;
mod shared;
pub mod state;
pub mod target;

pub use append::{AppendError, Appendable, Appender, SeriesRef};
pub use config::{ConfigError, GlobalConfig, ScrapeConfig};
pub use manager::ScrapeManager;
pub use shared::ManagerOptions;
pub use state::{ActiveTarget, DroppedTarget, Health, TargetsSnapshot};
