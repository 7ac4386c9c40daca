//! Real loopback servers for Scrapeline's tests.
//!
//! - [`apiserver`]: a Kubernetes API server double that speaks the real list/watch protocol over
//!   HTTP, with fault injection.
//! - [`farm`]: a scrape target farm serving fixed, changing, slow, failing and malformed payloads.
//! - [`http`]: a minimal loopback HTTP GET for talking to real peers.
//! - [`fs`]: fixture trees copied into temporary directories.
//! - [`rw2`]: a remote write receiver written from the 2.0 spec (also a 1.x one).
//!
//! Test code only; never published.

pub mod apiserver;
pub mod farm;
pub mod fs;
pub mod http;
pub mod rw2;
