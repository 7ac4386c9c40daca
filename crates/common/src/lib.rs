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
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use scrapeline_common::http::HttpClientConfig;
//! use scrapeline_common::{Secret, parse_duration};
//!
//! // Durations: Prometheus' grammar and its messages.
//! assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
//! assert_eq!(
//!     parse_duration("-1").unwrap_err().to_string(),
//!     r#"not a valid duration string: "-1""#
//! );
//!
//! // Secrets never print.
//! let password: Secret = serde_json::from_str(r#""S3cret""#).unwrap();
//! assert_eq!(format!("{password} {password:?}"), "<secret> <secret>");
//! assert_eq!(password.expose(), "S3cret");
//!
//! // The HTTP client section every scrape job, SD config and remote_write embeds, validated
//! // with Prometheus' rules and texts.
//! let mut http: HttpClientConfig = serde_json::from_str(
//!     r#"{"basic_auth": {"username": "u", "password": "p"}, "bearer_token": "t"}"#,
//! )
//! .unwrap();
//! assert_eq!(
//!     http.validate().unwrap_err().to_string(),
//!     "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
//! );
//! ```
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
