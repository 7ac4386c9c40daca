//! The Kubernetes resource metrics pipeline served from the cgroup collector: the kubelet
//! Summary API (`/stats/summary`) and `metrics.k8s.io/v1beta1`, computed as the kubelet and
//! metrics-server compute them, plus the `kubectl top` tables.
//!
//! Wiring: create one [`ResourceMetrics`], call [`ResourceMetrics::observe`] after every
//! cgroup collection, and route `GET` requests through [`ResourceMetrics::handle`] (it
//! answers `None` for paths it does not serve).

pub mod kubectl;
pub mod metrics_api;
pub mod metrics_server;
pub mod quantity;
pub mod rfc3339;
pub mod selector;
pub mod service;
pub mod summary;

pub use service::{ObjectLabels, ResourceConfig, ResourceMetrics, boot_time_from_proc};
