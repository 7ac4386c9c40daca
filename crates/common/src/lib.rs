//! Configuration primitives every Scrapeline crate shares, so that a value such as `1m30s`
//! means the same thing (and fails with the same message) in every section of
//! `prometheus.yml`.
//!
//! - [`duration`]: Prometheus' `model.Duration` grammar ([`parse_duration`],
//!   [`format_duration`], [`PromDuration`]) and `alecthomas/units`' byte sizes ([`ByteSize`]).
//! - [`secret`]: [`Secret`], Prometheus' `config.Secret` (shows as `<secret>`).
//! - [`http`]: Prometheus' `HTTPClientConfig` ([`http::HttpClientConfig`]), the one
//!   `tls_config` builder ([`http::tls`]) and `Authorization` header builder
//!   ([`http::authorization_header`]) used by scrapes, Kubernetes SD and remote write.
//!
//! This crate sits below discovery (`scrapeline-sd`) and scraping (`scrapeline-scrape`) in the
//! crate graph and depends on neither: it is the seed of the shared configuration crate.

#![deny(missing_docs)]

pub mod duration;
pub mod http;
pub mod secret;

pub use duration::{
    ByteSize, ParseDurationError, PromDuration, format_duration, go_quote, parse_byte_size,
    parse_duration,
};
pub use secret::Secret;
