//! `scrape_configs` entries and the `global` defaults they fall back to, as in Prometheus'
//! `config/config.go`: the same YAML names, defaults and validation errors.
//!
//! A [`ScrapeConfig`] deserializes (unknown fields rejected) with every fall-back-to-global
//! field left `None`; [`ScrapeConfig::apply_global`] fills them from a [`GlobalConfig`] and
//! validates, exactly as Prometheus' `ScrapeConfig.Validate` does. The manager only accepts
//! configs that went through it.

use std::collections::BTreeMap;
use std::time::Duration;

use scrapeline_sd::config::{FileSdConfig, KubernetesSdConfig, StaticConfig};
use scrapeline_sd::relabel::RelabelConfig;
use serde::Deserialize;

use crate::duration::{ByteSize, PromDuration};

/// A configuration mistake, naming the job and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A scrape protocol name as written in `scrape_protocols` / `fallback_scrape_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum ScrapeProtocol {
    /// Protobuf `MetricFamily` stream (`PrometheusProto`).
    PrometheusProto,
    /// Text 0.0.4 (`PrometheusText0.0.4`).
    #[serde(rename = "PrometheusText0.0.4")]
    PrometheusText004,
    /// Text 1.0.0 (`PrometheusText1.0.0`).
    #[serde(rename = "PrometheusText1.0.0")]
    PrometheusText100,
    /// OpenMetrics 0.0.1 (`OpenMetricsText0.0.1`).
    #[serde(rename = "OpenMetricsText0.0.1")]
    OpenMetricsText001,
    /// OpenMetrics 1.0.0 (`OpenMetricsText1.0.0`).
    #[serde(rename = "OpenMetricsText1.0.0")]
    OpenMetricsText100,
}

impl ScrapeProtocol {
    /// The media type Prometheus sends for this protocol in `Accept`.
    pub fn media_type(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::PrometheusText004 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText100 => "text/plain;version=1.0.0",
            ScrapeProtocol::OpenMetricsText001 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText100 => "application/openmetrics-text;version=1.0.0",
        }
    }

    /// The YAML name.
    pub fn name(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => "PrometheusProto",
            ScrapeProtocol::PrometheusText004 => "PrometheusText0.0.4",
            ScrapeProtocol::PrometheusText100 => "PrometheusText1.0.0",
            ScrapeProtocol::OpenMetricsText001 => "OpenMetricsText0.0.1",
            ScrapeProtocol::OpenMetricsText100 => "OpenMetricsText1.0.0",
        }
    }
}

/// Prometheus' `DefaultScrapeProtocols`.
pub const DEFAULT_SCRAPE_PROTOCOLS: [ScrapeProtocol; 4] = [
    ScrapeProtocol::OpenMetricsText100,
    ScrapeProtocol::OpenMetricsText001,
    ScrapeProtocol::PrometheusText100,
    ScrapeProtocol::PrometheusText004,
];

/// Prometheus' `DefaultProtoFirstScrapeProtocols` (used with `scrape_native_histograms`).
pub const DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS: [ScrapeProtocol; 5] = [
    ScrapeProtocol::PrometheusProto,
    ScrapeProtocol::OpenMetricsText100,
    ScrapeProtocol::OpenMetricsText001,
    ScrapeProtocol::PrometheusText100,
    ScrapeProtocol::PrometheusText004,
];

/// `metric_name_validation_scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
pub enum ValidationScheme {
    /// Any non-empty UTF-8 name (the 3.x default).
    #[default]
    #[serde(rename = "utf8")]
    Utf8,
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` metric names, `[a-zA-Z_][a-zA-Z0-9_]*` label names.
    #[serde(rename = "legacy")]
    Legacy,
}

/// `metric_name_escaping_scheme`, sent as `;escaping=` in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum EscapingScheme {
    /// `allow-utf-8` (the default with utf8 validation).
    #[serde(rename = "allow-utf-8")]
    AllowUtf8,
    /// `underscores` (the default with legacy validation).
    #[serde(rename = "underscores")]
    Underscores,
    /// `dots`.
    #[serde(rename = "dots")]
    Dots,
    /// `values`.
    #[serde(rename = "values")]
    Values,
}

impl EscapingScheme {
    /// The name as sent in the header.
    pub fn name(self) -> &'static str {
        match self {
            EscapingScheme::AllowUtf8 => "allow-utf-8",
            EscapingScheme::Underscores => "underscores",
            EscapingScheme::Dots => "dots",
            EscapingScheme::Values => "values",
        }
    }
}

/// The scrape-related part of Prometheus' `global` block, passed in by the binary.
///
/// Deserializes leniently (unknown fields are ignored, since the binary owns the full
/// `global` block with `evaluation_interval`, `external_labels`, …).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct GlobalConfig {
    /// `scrape_interval` (default `1m`).
    pub scrape_interval: PromDuration,
    /// `scrape_timeout` (default `10s`, but at most `scrape_interval` when unset).
    pub scrape_timeout: Option<PromDuration>,
    /// `scrape_protocols` (default: [`DEFAULT_SCRAPE_PROTOCOLS`]).
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    /// `scrape_native_histograms`.
    pub scrape_native_histograms: bool,
    /// `always_scrape_classic_histograms`.
    pub always_scrape_classic_histograms: bool,
    /// `convert_classic_histograms_to_nhcb`.
    pub convert_classic_histograms_to_nhcb: bool,
    /// `extra_scrape_metrics`.
    pub extra_scrape_metrics: bool,
    /// `scrape_failure_log_file`.
    pub scrape_failure_log_file: String,
    /// `body_size_limit` (0 = none).
    pub body_size_limit: ByteSize,
    /// `sample_limit` (0 = none).
    pub sample_limit: u64,
    /// `target_limit` (0 = none).
    pub target_limit: u64,
    /// `label_limit` (0 = none).
    pub label_limit: u64,
    /// `label_name_length_limit` (0 = none).
    pub label_name_length_limit: u64,
    /// `label_value_length_limit` (0 = none).
    pub label_value_length_limit: u64,
    /// `keep_dropped_targets` (0 = unlimited).
    pub keep_dropped_targets: u64,
    /// `metric_name_validation_scheme` (default `utf8`).
    pub metric_name_validation_scheme: ValidationScheme,
    /// `metric_name_escaping_scheme` (default `allow-utf-8`, `underscores` with legacy).
    pub metric_name_escaping_scheme: Option<EscapingScheme>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: PromDuration::from_secs(60),
            scrape_timeout: None,
            scrape_protocols: None,
            scrape_native_histograms: false,
            always_scrape_classic_histograms: false,
            convert_classic_histograms_to_nhcb: false,
            extra_scrape_metrics: false,
            scrape_failure_log_file: String::new(),
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: ValidationScheme::Utf8,
            metric_name_escaping_scheme: None,
        }
    }
}

impl GlobalConfig {
    /// The effective global timeout: the explicit one, else `min(10s, scrape_interval)`.
    pub fn effective_timeout(&self) -> PromDuration {
        self.scrape_timeout
            .unwrap_or_else(|| PromDuration(Duration::from_secs(10).min(self.scrape_interval.0)))
    }

    /// Prometheus' global checks (`global scrape timeout greater than scrape interval`, …).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(t) = self.scrape_timeout
            && t > self.scrape_interval
        {
            return Err(ConfigError(
                "global scrape timeout greater than scrape interval".into(),
            ));
        }
        if let Some(p) = &self.scrape_protocols {
            check_protocols(p, "global")?;
        }
        Ok(())
    }
}

pub use scrapeline_common::http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};

/// One entry of `http_headers`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpHeader {
    /// `values`.
    pub values: Vec<String>,
    /// `secrets`.
    pub secrets: Vec<String>,
    /// `files`.
    pub files: Vec<String>,
}

fn default_true() -> bool {
    true
}
fn default_metrics_path() -> String {
    "/metrics".into()
}
fn default_scheme() -> String {
    "http".into()
}

scrapeline_common::embed_http_client_config! {
/// One entry of `scrape_configs`.
///
/// Deserializes through a flat raw struct that also holds the [`HttpClientConfig`] fields
/// (see [`scrapeline_common::embed_http_client_config!`]): unknown fields are rejected, naming
/// the field.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "RawScrapeConfig")]
pub struct ScrapeConfig from RawScrapeConfig {
    /// `job_name` (required, unique).
    pub job_name: String,
    /// `honor_labels` (default false).
    #[serde(default)]
    pub honor_labels: bool,
    /// `honor_timestamps` (default true).
    #[serde(default = "default_true")]
    pub honor_timestamps: bool,
    /// `track_timestamps_staleness` (default false).
    #[serde(default)]
    pub track_timestamps_staleness: bool,
    /// `params`: URL query parameters.
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    /// `scrape_interval` (global).
    #[serde(default)]
    pub scrape_interval: Option<PromDuration>,
    /// `scrape_timeout` (global, at most the interval).
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    /// `scrape_protocols` (global, then defaults).
    #[serde(default)]
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    /// `fallback_scrape_protocol`: used when the response's `Content-Type` is missing or
    /// unknown.
    #[serde(default)]
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// `scrape_native_histograms` (global).
    #[serde(default)]
    pub scrape_native_histograms: Option<bool>,
    /// `always_scrape_classic_histograms` (global).
    #[serde(default)]
    pub always_scrape_classic_histograms: Option<bool>,
    /// `convert_classic_histograms_to_nhcb` (global).
    #[serde(default)]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    /// `extra_scrape_metrics` (global).
    #[serde(default)]
    pub extra_scrape_metrics: Option<bool>,
    /// `scrape_failure_log_file` (global).
    #[serde(default)]
    pub scrape_failure_log_file: Option<String>,
    /// `metrics_path` (default `/metrics`).
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// `scheme` (default `http`).
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// `enable_compression` (default true: `Accept-Encoding: gzip`).
    #[serde(default = "default_true")]
    pub enable_compression: bool,
    /// `body_size_limit` (global; 0 = none).
    #[serde(default)]
    pub body_size_limit: Option<ByteSize>,
    /// `sample_limit` (global; 0 = none).
    #[serde(default)]
    pub sample_limit: Option<u64>,
    /// `target_limit` (global; 0 = none).
    #[serde(default)]
    pub target_limit: Option<u64>,
    /// `label_limit` (global; 0 = none).
    #[serde(default)]
    pub label_limit: Option<u64>,
    /// `label_name_length_limit` (global; 0 = none).
    #[serde(default)]
    pub label_name_length_limit: Option<u64>,
    /// `label_value_length_limit` (global; 0 = none).
    #[serde(default)]
    pub label_value_length_limit: Option<u64>,
    /// `keep_dropped_targets` (global; 0 = unlimited).
    #[serde(default)]
    pub keep_dropped_targets: Option<u64>,
    /// `native_histogram_bucket_limit` (accepted; native histograms are not parsed yet).
    #[serde(default)]
    pub native_histogram_bucket_limit: u64,
    /// `native_histogram_min_bucket_factor` (accepted; see above).
    #[serde(default)]
    pub native_histogram_min_bucket_factor: f64,
    /// `metric_name_validation_scheme` (global).
    #[serde(default)]
    pub metric_name_validation_scheme: Option<ValidationScheme>,
    /// `metric_name_escaping_scheme` (global).
    #[serde(default)]
    pub metric_name_escaping_scheme: Option<EscapingScheme>,
    /// `http_headers`: extra request headers.
    #[serde(default)]
    pub http_headers: BTreeMap<String, HttpHeader>,
    /// `relabel_configs`: target relabeling.
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    /// `metric_relabel_configs`: per-series relabeling after the scrape.
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// `static_configs`.
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    /// `file_sd_configs`.
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// `kubernetes_sd_configs`.
    #[serde(default)]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
}
}

fn check_protocols(p: &[ScrapeProtocol], what: &str) -> Result<(), ConfigError> {
    if p.is_empty() {
        return Err(ConfigError(format!(
            "{what}: scrape_protocols cannot be empty"
        )));
    }
    for (i, a) in p.iter().enumerate() {
        if p[..i].contains(a) {
            return Err(ConfigError(format!(
                "{what}: duplicated protocol in scrape_protocols, got {:?}",
                p.iter().map(|x| x.name()).collect::<Vec<_>>()
            )));
        }
    }
    Ok(())
}

impl ScrapeConfig {
    /// A config with only `job_name` set and every other field at its YAML default.
    pub fn new(job_name: impl Into<String>) -> Self {
        ScrapeConfig {
            job_name: job_name.into(),
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            params: BTreeMap::new(),
            scrape_interval: None,
            scrape_timeout: None,
            scrape_protocols: None,
            fallback_scrape_protocol: None,
            scrape_native_histograms: None,
            always_scrape_classic_histograms: None,
            convert_classic_histograms_to_nhcb: None,
            extra_scrape_metrics: None,
            scrape_failure_log_file: None,
            metrics_path: default_metrics_path(),
            scheme: default_scheme(),
            enable_compression: true,
            body_size_limit: None,
            sample_limit: None,
            target_limit: None,
            label_limit: None,
            label_name_length_limit: None,
            label_value_length_limit: None,
            keep_dropped_targets: None,
            native_histogram_bucket_limit: 0,
            native_histogram_min_bucket_factor: 0.0,
            metric_name_validation_scheme: None,
            metric_name_escaping_scheme: None,
            http_headers: BTreeMap::new(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
            static_configs: Vec::new(),
            file_sd_configs: Vec::new(),
            kubernetes_sd_configs: Vec::new(),
            http_client_config: HttpClientConfig::default(),
        }
    }

    /// Fills every unset field from `global` and validates, as Prometheus'
    /// `ScrapeConfig.Validate`; errors name the job and the field.
    pub fn apply_global(&mut self, global: &GlobalConfig) -> Result<(), ConfigError> {
        let job = self.job_name.clone();
        if job.is_empty() {
            return Err(ConfigError("job_name is empty".into()));
        }
        let interval = *self.scrape_interval.get_or_insert(global.scrape_interval);
        match self.scrape_timeout {
            Some(t) if t > interval => {
                return Err(ConfigError(format!(
                    "scrape timeout greater than scrape interval for scrape config with job name {job:?}"
                )));
            }
            Some(_) => {}
            None => {
                let gt = global.effective_timeout();
                self.scrape_timeout = Some(gt.min(interval));
            }
        }
        if interval.0.is_zero() {
            return Err(ConfigError(format!(
                "scrape_interval cannot be 0 for scrape config with job name {job:?}"
            )));
        }
        if self.scrape_protocols.is_none() {
            self.scrape_protocols = global.scrape_protocols.clone();
        }
        if let Some(p) = &self.scrape_protocols {
            check_protocols(p, &format!("scrape config with job name {job:?}"))?;
        }
        if self.scheme != "http" && self.scheme != "https" {
            return Err(ConfigError(format!(
                "invalid scheme {:?} for scrape config with job name {job:?}: scheme must be http or https",
                self.scheme
            )));
        }
        macro_rules! inherit {
            ($($f:ident),*) => { $( if self.$f.is_none() || self.$f == Some(Default::default()) { self.$f = Some(global.$f.clone()); } )* };
        }
        inherit!(
            body_size_limit,
            sample_limit,
            target_limit,
            label_limit,
            label_name_length_limit,
            label_value_length_limit,
            keep_dropped_targets,
            scrape_failure_log_file
        );
        let local_validation_unset = self.metric_name_validation_scheme.is_none();
        macro_rules! inherit_opt {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = Some(global.$f.clone()); } )* };
        }
        inherit_opt!(
            scrape_native_histograms,
            always_scrape_classic_histograms,
            convert_classic_histograms_to_nhcb,
            extra_scrape_metrics,
            metric_name_validation_scheme
        );
        if self.metric_name_escaping_scheme.is_none() {
            let from_validation = |v: ValidationScheme| match v {
                ValidationScheme::Legacy => EscapingScheme::Underscores,
                ValidationScheme::Utf8 => EscapingScheme::AllowUtf8,
            };
            self.metric_name_escaping_scheme = Some(if local_validation_unset {
                global
                    .metric_name_escaping_scheme
                    .unwrap_or(from_validation(global.metric_name_validation_scheme))
            } else {
                from_validation(self.validation_scheme())
            });
        }
        if self.validation_scheme() == ValidationScheme::Legacy
            && self.metric_name_escaping_scheme == Some(EscapingScheme::AllowUtf8)
        {
            return Err(ConfigError(format!(
                "scrape config for job {job:?}: utf8 metric names requested but validation scheme is not set to UTF8"
            )));
        }
        // Prometheus' HTTPClientConfig rules (the same code for SD configs and remote write).
        self.http_client_config
            .validate()
            .map_err(|e| ConfigError(format!("scrape config for job {job:?}: {e}")))?;
        for (name, h) in &self.http_headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(ConfigError(format!(
                    "scrape config for job {job:?}: http_headers: invalid header name {name:?}"
                )));
            }
            let lower = name.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "authorization"
                    | "user-agent"
                    | "accept"
                    | "accept-encoding"
                    | "host"
                    | "x-prometheus-scrape-timeout-seconds"
            ) {
                return Err(ConfigError(format!(
                    "scrape config for job {job:?}: http_headers: setting header {name:?} is not allowed"
                )));
            }
            let _ = h;
        }
        for (i, s) in self.static_configs.iter().enumerate() {
            if self.relabel_configs.is_empty() {
                for t in &s.targets {
                    if t.contains('/') {
                        return Err(ConfigError(format!(
                            "scrape config for job {job:?}: static_configs[{i}]: {t:?} is not a valid hostname"
                        )));
                    }
                }
            }
        }
        scrapeline_sd::relabel::compile(&self.relabel_configs).map_err(|e| {
            ConfigError(format!(
                "scrape config for job {job:?}: relabel_configs: {e}"
            ))
        })?;
        scrapeline_sd::relabel::compile(&self.metric_relabel_configs).map_err(|e| {
            ConfigError(format!(
                "scrape config for job {job:?}: metric_relabel_configs: {e}"
            ))
        })?;
        Ok(())
    }

    /// The job's discovery sections, as the discovery manager takes them
    /// ([`scrapeline_sd::discovery::Manager::set_config`]).
    pub fn sd_configs(&self) -> scrapeline_sd::discovery::SdConfigs {
        scrapeline_sd::discovery::SdConfigs {
            static_configs: self.static_configs.clone(),
            file_sd_configs: self.file_sd_configs.clone(),
            kubernetes_sd_configs: self.kubernetes_sd_configs.clone(),
            custom: Vec::new(),
        }
    }

    /// The `static_configs` as target groups, as Prometheus' static discoverer emits them:
    /// entry `i` becomes the group with source `"i"`, one target per address
    /// (`__address__`), the entry's `labels` as group labels.
    pub fn static_target_groups(&self) -> Vec<scrapeline_sd::TargetGroup> {
        self.static_configs
            .iter()
            .enumerate()
            .map(|(i, sc)| scrapeline_sd::TargetGroup {
                source: i.to_string(),
                targets: sc
                    .targets
                    .iter()
                    .map(|t| {
                        scrapeline_exposition::Labels::from_pairs([("__address__", t.as_str())])
                    })
                    .collect(),
                labels: scrapeline_exposition::Labels::from_pairs(
                    sc.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ),
            })
            .collect()
    }

    /// The scrape interval (after [`apply_global`](Self::apply_global)).
    pub fn interval(&self) -> Duration {
        self.scrape_interval
            .map_or(Duration::from_secs(60), |d| d.0)
    }
    /// The scrape timeout (after [`apply_global`](Self::apply_global)).
    pub fn timeout(&self) -> Duration {
        self.scrape_timeout
            .map_or(Duration::from_secs(10).min(self.interval()), |d| d.0)
    }
    /// `body_size_limit` in bytes, 0 = none.
    pub fn body_size_limit_bytes(&self) -> u64 {
        self.body_size_limit.map_or(0, |b| b.0)
    }
    /// The effective validation scheme.
    pub fn validation_scheme(&self) -> ValidationScheme {
        self.metric_name_validation_scheme.unwrap_or_default()
    }
    /// The effective escaping scheme: explicit, else `underscores` for legacy validation,
    /// else `allow-utf-8`.
    pub fn escaping_scheme(&self) -> EscapingScheme {
        self.metric_name_escaping_scheme
            .unwrap_or(match self.validation_scheme() {
                ValidationScheme::Legacy => EscapingScheme::Underscores,
                ValidationScheme::Utf8 => EscapingScheme::AllowUtf8,
            })
    }
    /// The effective protocol list (§3 of the spec).
    pub fn protocols(&self) -> Vec<ScrapeProtocol> {
        match &self.scrape_protocols {
            Some(p) => p.clone(),
            None if self.scrape_native_histograms == Some(true) => {
                DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS.to_vec()
            }
            None => DEFAULT_SCRAPE_PROTOCOLS.to_vec(),
        }
    }

    /// The `Accept` header exactly as Prometheus builds it (`acceptHeader`).
    pub fn accept_header(&self) -> String {
        accept_header(&self.protocols(), self.escaping_scheme())
    }

    /// The `Accept` header this crate actually sends: [`accept_header`](Self::accept_header)
    /// without `PrometheusProto`, because the protobuf format is not parsed here (a target that
    /// honours it would otherwise answer in a format every scrape fails on). Identical to
    /// Prometheus' header whenever the protocol list has no `PrometheusProto`.
    pub fn request_accept_header(&self) -> String {
        let p: Vec<ScrapeProtocol> = self
            .protocols()
            .into_iter()
            .filter(|p| *p != ScrapeProtocol::PrometheusProto)
            .collect();
        accept_header(&p, self.escaping_scheme())
    }

    /// Whether two configs differ only in what lets the scrape cache be reused
    /// (Prometheus' `reusableCache`: interval, timeout, sample limit, HTTP client settings).
    pub fn cache_reusable_with(&self, other: &ScrapeConfig) -> bool {
        let strip = |c: &ScrapeConfig| {
            let mut c = c.clone();
            c.scrape_interval = None;
            c.scrape_timeout = None;
            c.sample_limit = None;
            c.http_client_config = HttpClientConfig::default();
            c.http_headers.clear();
            c
        };
        strip(self) == strip(other)
    }
}

/// Builds Prometheus' `Accept` header for `protocols` in order (see §3 of the spec).
pub fn accept_header(protocols: &[ScrapeProtocol], escaping: EscapingScheme) -> String {
    let mut out = String::new();
    let mut weight = 6u32;
    for p in protocols {
        out.push_str(p.media_type());
        if matches!(
            p,
            ScrapeProtocol::PrometheusText100 | ScrapeProtocol::OpenMetricsText100
        ) {
            out.push_str(";escaping=");
            out.push_str(escaping.name());
        }
        out.push_str(&format!(";q=0.{weight},"));
        weight = weight.saturating_sub(1);
    }
    out.push_str(&format!("*/*;q=0.{weight}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_accept_header_matches_prometheus() {
        let c = ScrapeConfig::new("j");
        assert_eq!(
            c.accept_header(),
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
        let mut c = ScrapeConfig::new("j");
        c.scrape_native_histograms = Some(true);
        assert_eq!(
            c.accept_header(),
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
        );
        let mut c = ScrapeConfig::new("j");
        c.scrape_protocols = Some(vec![ScrapeProtocol::PrometheusText004]);
        assert_eq!(
            c.accept_header(),
            "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"
        );
        let mut c = ScrapeConfig::new("j");
        c.metric_name_validation_scheme = Some(ValidationScheme::Legacy);
        c.scrape_protocols = Some(vec![ScrapeProtocol::PrometheusText100]);
        assert_eq!(
            c.accept_header(),
            "text/plain;version=1.0.0;escaping=underscores;q=0.6,*/*;q=0.5"
        );
    }

    #[test]
    fn timeout_defaults_and_validation() {
        let g = GlobalConfig::default();
        let mut c = ScrapeConfig::new("j");
        c.apply_global(&g).unwrap();
        assert_eq!(c.interval(), Duration::from_secs(60));
        assert_eq!(c.timeout(), Duration::from_secs(10));

        let mut c = ScrapeConfig::new("j");
        c.scrape_interval = Some(PromDuration::from_secs(5));
        c.apply_global(&g).unwrap();
        assert_eq!(c.timeout(), Duration::from_secs(5));

        let mut c = ScrapeConfig::new("j");
        c.scrape_interval = Some(PromDuration::from_secs(5));
        c.scrape_timeout = Some(PromDuration::from_secs(6));
        assert_eq!(
            c.apply_global(&g).unwrap_err().0,
            r#"scrape timeout greater than scrape interval for scrape config with job name "j""#
        );

        let mut c = ScrapeConfig::new("");
        assert_eq!(c.apply_global(&g).unwrap_err().0, "job_name is empty");

        let g2 = GlobalConfig {
            scrape_interval: PromDuration::from_secs(5),
            scrape_timeout: Some(PromDuration::from_secs(6)),
            ..GlobalConfig::default()
        };
        assert_eq!(
            g2.validate().unwrap_err().0,
            "global scrape timeout greater than scrape interval"
        );
    }

    #[test]
    fn limits_fall_back_to_global() {
        let g = GlobalConfig {
            sample_limit: 100,
            body_size_limit: ByteSize(1024),
            ..GlobalConfig::default()
        };
        let mut c = ScrapeConfig::new("j");
        c.label_limit = Some(7);
        c.apply_global(&g).unwrap();
        assert_eq!(c.sample_limit, Some(100));
        assert_eq!(c.label_limit, Some(7));
        assert_eq!(c.body_size_limit_bytes(), 1024);
    }

    #[test]
    fn auth_methods_are_exclusive() {
        let mut c = ScrapeConfig::new("j");
        c.http_client_config.bearer_token = "x".into();
        c.http_client_config.basic_auth = Some(BasicAuth {
            username: "u".into(),
            ..BasicAuth::default()
        });
        let e = c.apply_global(&GlobalConfig::default()).unwrap_err();
        assert_eq!(
            e.0,
            r#"scrape config for job "j": at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"#
        );
    }

    /// The HTTP client fields are parsed inline, unknown fields are still named, and the
    /// options no client implements are refused by name, as for SD configs and remote write.
    #[test]
    fn http_client_config_is_embedded() {
        let c: ScrapeConfig = serde_saphyr::from_str(
            "job_name: j\nbasic_auth: {username: u, password: pw}\nfollow_redirects: false\n",
        )
        .unwrap();
        assert_eq!(
            c.http_client_config.basic_auth.as_ref().unwrap().username,
            "u"
        );
        assert!(!c.http_client_config.follow_redirects);
        assert!(!format!("{c:?}").contains("pw"));
        let e = serde_saphyr::from_str::<ScrapeConfig>("job_name: j\nbasic_auht: {}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `basic_auht`"), "{e}");
        let mut c: ScrapeConfig =
            serde_saphyr::from_str("job_name: j\nproxy_url: http://p:3128\n").unwrap();
        assert_eq!(
            c.apply_global(&GlobalConfig::default()).unwrap_err().0,
            r#"scrape config for job "j": proxy_url is not supported by Scrapeline"#
        );
    }

    #[test]
    fn static_configs_become_groups() {
        let c: ScrapeConfig = serde_saphyr::from_str(
            "job_name: s\nstatic_configs:\n  - targets: ['a:1', 'b:2']\n    labels: {env: prod}\n  - targets: ['c:3']\n",
        )
        .unwrap();
        let g = c.static_target_groups();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].source, "0");
        assert_eq!(
            g[0].targets
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>(),
            vec![r#"{__address__="a:1"}"#, r#"{__address__="b:2"}"#]
        );
        assert_eq!(g[0].labels.to_string(), r#"{env="prod"}"#);
        assert_eq!(g[1].source, "1");
        assert!(g[1].labels.is_empty());
    }

    #[test]
    fn duplicate_protocols_rejected() {
        let mut c = ScrapeConfig::new("j");
        c.scrape_protocols = Some(vec![
            ScrapeProtocol::PrometheusText004,
            ScrapeProtocol::PrometheusText004,
        ]);
        let e = c.apply_global(&GlobalConfig::default()).unwrap_err();
        assert_eq!(
            e.0,
            r#"scrape config with job name "j": duplicated protocol in scrape_protocols, got ["PrometheusText0.0.4", "PrometheusText0.0.4"]"#
        );
    }
}
