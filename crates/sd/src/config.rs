//! The service-discovery sections of a Prometheus scrape config.
//!
//! CONTRACT STUB: the type names are fixed (the scrape config embeds them); their fields are
//! being written.

use serde::Deserialize;

/// One entry of `static_configs`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `targets`: addresses (`host:port`).
    #[serde(default)]
    pub targets: Vec<String>,
    /// `labels`: attached to every target.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// One entry of `file_sd_configs`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct FileSdConfig {}

/// One entry of `kubernetes_sd_configs`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct KubernetesSdConfig {}
