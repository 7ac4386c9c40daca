//! Target discovery and relabeling.
//!
//! This crate will own `TargetGroup`, the discoverers (Kubernetes roles, `static_configs`,
//! `file_sd_configs`) that send full replacement groups keyed by source, and relabeling with
//! exact Prometheus semantics (`relabel_configs`, `metric_relabel_configs`).
