//! A cAdvisor-compatible container metrics collector.
//!
//! This crate will read cgroupfs (v1, v2 and hybrid layouts) and `/proc` the way cAdvisor inside
//! the kubelet does, and expose the same metric families, names and labels as the kubelet's
//! `/metrics/cadvisor`.
