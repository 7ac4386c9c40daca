//! Real loopback servers for Scrapeline's tests.
//!
//! This crate will hold a Kubernetes API server double that speaks the real list/watch protocol
//! over HTTP, and a scrape target farm serving fixed, changing, slow, failing and malformed
//! payloads. Test code only; never published.
