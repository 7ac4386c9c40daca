//! `remote_write` configuration with Prometheus' YAML names and defaults.
//!
//! Unknown fields are errors (`deny_unknown_fields`), like every other section of the config.
//! The HTTP client fields (`basic_auth`, `authorization`, `tls_config`, …) are Prometheus'
//! `HTTPClientConfig`, the one type in `scrapeline-common` that scrape and SD configs embed
//! too; what no client implements (`proxy_url`, `oauth2`, …) is refused by name at
//! validation, so a config that relies on it fails loudly instead of being ignored.

use std::collections::BTreeMap;
use std::time::Duration;

use scrapeline_relabel::RelabelConfig;
use serde::{Deserialize, Deserializer};

scrapeline_common::embed_http_client_config! {
/// One `remote_write` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "RawRemoteWriteConfig")]
pub struct RemoteWriteConfig from RawRemoteWriteConfig {
    /// The endpoint (`http://…/api/v1/write`).
    pub url: String,
    /// Timeout of one request (default 30s).
    #[serde(default = "default_remote_timeout", deserialize_with = "duration")]
    pub remote_timeout: Duration,
    /// Extra request headers; Prometheus' protocol headers are reserved.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Relabeling applied to every series before it is queued.
    #[serde(default)]
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// Name of the queue in metrics and logs (default: a hash of the URL).
    #[serde(default)]
    pub name: Option<String>,
    /// Accepted for compatibility; exemplars are not sent.
    #[serde(default)]
    pub send_exemplars: bool,
    /// Accepted for compatibility; native histograms are not sent.
    #[serde(default)]
    pub send_native_histograms: bool,
    /// `prometheus.WriteRequest` (remote write 1.0, the default) or
    /// `io.prometheus.write.v2.Request` (2.0); see [`RemoteWriteConfig::write_message`].
    #[serde(default)]
    pub protobuf_message: Option<String>,
    /// Queue tuning.
    #[serde(default)]
    pub queue_config: QueueConfig,
    /// Accepted for compatibility (parsed and checked, not acted on): metadata is not sent.
    #[serde(default)]
    pub metadata_config: MetadataConfig,
}
}

pub use scrapeline_common::http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};

/// `queue_config`, with Prometheus' defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Samples buffered per shard before new ones are dropped (default 10000).
    #[serde(default = "d_capacity")]
    pub capacity: usize,
    /// Most shards (default 50).
    #[serde(default = "d_max_shards")]
    pub max_shards: usize,
    /// Fewest shards (default 1).
    #[serde(default = "d_min_shards")]
    pub min_shards: usize,
    /// Samples per request (default 2000).
    #[serde(default = "d_max_samples")]
    pub max_samples_per_send: usize,
    /// Longest a sample waits for its batch to fill (default 5s).
    #[serde(default = "d_deadline", deserialize_with = "duration")]
    pub batch_send_deadline: Duration,
    /// First retry delay (default 30ms).
    #[serde(default = "d_min_backoff", deserialize_with = "duration")]
    pub min_backoff: Duration,
    /// Longest retry delay (default 5s).
    #[serde(default = "d_max_backoff", deserialize_with = "duration")]
    pub max_backoff: Duration,
    /// Retry on `429 Too Many Requests` (default true).
    #[serde(default = "default_true")]
    pub retry_on_http_429: bool,
    /// Drop samples older than this instead of sending them (default 0: never).
    #[serde(default, deserialize_with = "duration")]
    pub sample_age_limit: Duration,
}

/// `metadata_config`: accepted so Prometheus configs load unchanged, not acted on (no metadata
/// is sent). Its fields stay `None` when absent; Prometheus' defaults then are `send: true`,
/// `send_interval: 1m`, `max_samples_per_send: 2000`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    /// Whether to send metadata.
    #[serde(default)]
    pub send: Option<bool>,
    /// How often.
    #[serde(default)]
    pub send_interval: Option<String>,
    /// Batch size.
    #[serde(default)]
    pub max_samples_per_send: Option<usize>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: d_capacity(),
            max_shards: d_max_shards(),
            min_shards: d_min_shards(),
            max_samples_per_send: d_max_samples(),
            batch_send_deadline: d_deadline(),
            min_backoff: d_min_backoff(),
            max_backoff: d_max_backoff(),
            retry_on_http_429: true,
            sample_age_limit: Duration::ZERO,
        }
    }
}

fn default_remote_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_true() -> bool {
    true
}
fn d_capacity() -> usize {
    10_000
}
fn d_max_shards() -> usize {
    50
}
fn d_min_shards() -> usize {
    1
}
fn d_max_samples() -> usize {
    2000
}
fn d_deadline() -> Duration {
    Duration::from_secs(5)
}
fn d_min_backoff() -> Duration {
    Duration::from_millis(30)
}
fn d_max_backoff() -> Duration {
    Duration::from_secs(5)
}

/// Parses a Prometheus duration (`30s`, `1m30s`, `500ms`, `1d`).
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

/// Prometheus' `model.ParseDuration` (the one implementation, in `scrapeline-common`): a sign,
/// a fraction or an out-of-range value is an error with Prometheus' message
/// (`not a valid duration string: "-1"`), never a panic.
pub use scrapeline_common::duration::parse_duration;

/// What [`RemoteWriteConfig::validate`] finds wrong; the messages are Prometheus' where it has
/// one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `url` is empty.
    #[error("url for remote_write is empty")]
    EmptyUrl,
    /// `url` is not an `http` or `https` URL with a host.
    #[error("invalid remote_write url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, its password redacted.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// `headers` sets a header the protocol owns.
    #[error("{0} is a reserved header. It must not be changed")]
    ReservedHeader(String),
    /// `headers` has a name HTTP does not allow.
    #[error("invalid header name {0:?}")]
    InvalidHeaderName(String),
    /// The HTTP client settings break one of Prometheus' `HTTPClientConfig` rules, or use an
    /// option no client implements (the same check and texts as scrape and SD configs).
    #[error(transparent)]
    HttpClient(#[from] scrapeline_common::http::HttpConfigError),
    /// `protobuf_message` names neither remote write message (Prometheus' text).
    #[error(
        "invalid protobuf_message value: unknown type for remote write protobuf message {0}, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request"
    )]
    UnsupportedProtobufMessage(String),
    /// A `queue_config` size or bound is out of range.
    #[error("queue_config: {0}")]
    Queue(&'static str),
}

/// Headers Prometheus reserves for the protocol.
const RESERVED_HEADERS: [&str; 6] = [
    "authorization",
    "host",
    "content-encoding",
    "content-type",
    "user-agent",
    "x-prometheus-remote-write-version",
];

impl RemoteWriteConfig {
    /// Checks what serde cannot: a URL, one kind of authentication, no reserved headers,
    /// sane queue sizes. Messages follow Prometheus' where it has one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.url.is_empty() {
            return Err(ConfigError::EmptyUrl);
        }
        let uri: http::Uri =
            self.url
                .parse()
                .map_err(|e: http::uri::InvalidUri| ConfigError::InvalidUrl {
                    url: self.redacted_url(),
                    reason: e.to_string(),
                })?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            _ => {
                return Err(ConfigError::InvalidUrl {
                    url: self.redacted_url(),
                    reason: "scheme must be http or https".to_owned(),
                });
            }
        }
        if uri.host().is_none() {
            return Err(ConfigError::InvalidUrl {
                url: self.redacted_url(),
                reason: "no host".to_owned(),
            });
        }
        for h in self.headers.keys() {
            if RESERVED_HEADERS.contains(&h.to_ascii_lowercase().as_str()) {
                return Err(ConfigError::ReservedHeader(h.clone()));
            }
            http::HeaderName::try_from(h.as_str())
                .map_err(|_| ConfigError::InvalidHeaderName(h.clone()))?;
        }
        if let Some(m) = &self.protobuf_message
            && crate::v2::WriteMessage::from_name(m).is_none()
        {
            return Err(ConfigError::UnsupportedProtobufMessage(m.clone()));
        }
        // Validated on a copy: `validate` also normalizes (bearer_token into authorization),
        // which the client does not need.
        self.http_client_config.clone().validate()?;
        let q = &self.queue_config;
        if q.capacity == 0 || q.max_samples_per_send == 0 || q.max_shards == 0 {
            return Err(ConfigError::Queue(
                "capacity, max_samples_per_send and max_shards must be positive",
            ));
        }
        if q.min_shards > q.max_shards {
            return Err(ConfigError::Queue("min_shards must not exceed max_shards"));
        }
        if q.min_backoff > q.max_backoff {
            return Err(ConfigError::Queue(
                "min_backoff must not exceed max_backoff",
            ));
        }
        Ok(())
    }

    /// The message to send (`protobuf_message`; 1.0 when absent). A 2.0 endpoint may still
    /// be sent 1.0 after content negotiation ([`crate::v2::Negotiation`]).
    pub fn write_message(&self) -> crate::v2::WriteMessage {
        self.protobuf_message
            .as_deref()
            .and_then(crate::v2::WriteMessage::from_name)
            .unwrap_or_default()
    }

    /// The URL as it may be shown (metric labels, logs, errors): with its password, if it
    /// has one, replaced by `xxxxx`, as Prometheus shows it.
    pub fn redacted_url(&self) -> String {
        super::url::redacted(&self.url)
    }

    /// The queue's name in metrics: `name`, or the first 6 hex digits of a hash of the URL.
    pub fn queue_name(&self) -> String {
        match &self.name {
            Some(n) if !n.is_empty() => n.clone(),
            _ => {
                let h = scrapeline_exposition::Labels::from_pairs([("url", self.url.as_str())])
                    .stable_hash();
                format!("{:06x}", h & 0xff_ffff)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> Result<RemoteWriteConfig, String> {
        let c: RemoteWriteConfig = serde_saphyr::from_str(y).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn defaults_are_prometheus_defaults() {
        let c = parse("url: http://127.0.0.1:9090/api/v1/write\n").unwrap();
        assert_eq!(c.remote_timeout, Duration::from_secs(30));
        assert_eq!(c.queue_config, QueueConfig::default());
        assert_eq!(c.queue_config.capacity, 10_000);
        assert_eq!(c.queue_config.max_samples_per_send, 2000);
        assert_eq!(c.queue_config.batch_send_deadline, Duration::from_secs(5));
        assert_eq!(c.queue_config.min_backoff, Duration::from_millis(30));
        assert!(c.http_client_config.follow_redirects && c.http_client_config.enable_http2);
        assert_eq!(c.queue_name().len(), 6);
    }

    #[test]
    fn full_config() {
        let c = parse(
            "url: https://vm:8428/api/v1/write\nname: vm\nremote_timeout: 1m30s\n\
             headers: {X-Scope-OrgID: team-a}\n\
             authorization: {credentials_file: /var/run/token}\n\
             tls_config: {ca_file: /etc/ca.pem, server_name: vm.local, insecure_skip_verify: false}\n\
             queue_config: {capacity: 500, max_shards: 4, min_shards: 2, max_samples_per_send: 100, \
             batch_send_deadline: 250ms, min_backoff: 10ms, max_backoff: 1s, retry_on_http_429: false, sample_age_limit: 1h}\n\
             metadata_config: {send: false}\n",
        )
        .unwrap();
        assert_eq!(c.queue_name(), "vm");
        assert_eq!(c.remote_timeout, Duration::from_secs(90));
        assert_eq!(
            c.headers.get("X-Scope-OrgID").map(String::as_str),
            Some("team-a")
        );
        assert_eq!(
            c.queue_config.batch_send_deadline,
            Duration::from_millis(250)
        );
        assert_eq!(c.queue_config.sample_age_limit, Duration::from_secs(3600));
        assert!(!c.queue_config.retry_on_http_429);
        assert_eq!(c.http_client_config.tls_config.server_name, "vm.local");
    }

    #[test]
    fn errors() {
        let e = |y: &str| parse(y).unwrap_err();
        assert!(
            e("url: http://x\nqueue_config: {capacity: 1, bogus: 2}\n")
                .contains("unknown field `bogus`")
        );
        assert!(e("url: http://x\nproxy_urll: http://p\n").contains("unknown field `proxy_urll`"));
        assert_eq!(
            e("url: http://x\nproxy_url: http://p\n"),
            "proxy_url is not supported by Scrapeline"
        );
        assert_eq!(e("url: ''\n"), "url for remote_write is empty");
        assert_eq!(
            e("url: http://x\nheaders: {User-Agent: me}\n"),
            "User-Agent is a reserved header. It must not be changed"
        );
        assert_eq!(
            e("url: http://x\nbearer_token: a\nbasic_auth: {username: u}\n"),
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
        );
        assert_eq!(
            e("url: ftp://x/\n"),
            "invalid remote_write url \"ftp://x/\": scheme must be http or https"
        );
        assert!(
            e("url: http://x\nremote_timeout: 5 seconds\n")
                .contains(r#"unknown unit " seconds" in duration "5 seconds""#)
        );
        assert!(
            e("url: http://x\nremote_timeout: -1\n")
                .contains(r#"not a valid duration string: "-1""#)
        );
        assert_eq!(
            e("url: http://x\nqueue_config: {min_shards: 5, max_shards: 2}\n"),
            "queue_config: min_shards must not exceed max_shards"
        );
    }

    #[test]
    fn errors_are_typed() {
        let v = |y: &str| {
            serde_saphyr::from_str::<RemoteWriteConfig>(y)
                .unwrap()
                .validate()
                .unwrap_err()
        };
        assert_eq!(v("url: ''\n"), ConfigError::EmptyUrl);
        assert_eq!(
            v("url: ftp://u:pw@x/\n"),
            ConfigError::InvalidUrl {
                url: "ftp://u:xxxxx@x/".to_owned(),
                reason: "scheme must be http or https".to_owned()
            }
        );
        assert_eq!(
            v("url: http://x\nheaders: {Host: h}\n"),
            ConfigError::ReservedHeader("Host".to_owned())
        );
        assert!(
            serde_saphyr::from_str::<RemoteWriteConfig>(
                "url: http://x\ntls_config: {min_version: TLS9}\n"
            )
            .unwrap_err()
            .to_string()
            .contains("unknown TLS version: TLS9")
        );
        let e = v("url: http://x\nauthorization: {type: Basic}\n");
        assert!(matches!(e, ConfigError::HttpClient(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
        );
        // Prometheus' config_test.go, remote_write_wrong_msg.bad.yml.
        let e = v("url: http://x\nprotobuf_message: io.prometheus.writet.v2.Request\n");
        assert_eq!(
            e,
            ConfigError::UnsupportedProtobufMessage("io.prometheus.writet.v2.Request".to_owned())
        );
        assert_eq!(
            e.to_string(),
            "invalid protobuf_message value: unknown type for remote write protobuf message io.prometheus.writet.v2.Request, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request"
        );
        let e = v("url: http://x\ntls_config: {cert_file: c.pem}\n");
        assert_eq!(
            e.to_string(),
            "exactly one of key or key_file must be configured when a client certificate is configured"
        );
        assert_eq!(
            v("url: http://x\nqueue_config: {capacity: 0}\n").to_string(),
            "queue_config: capacity, max_samples_per_send and max_shards must be positive"
        );
    }

    #[test]
    fn protobuf_message_selects_the_protocol() {
        use crate::v2::WriteMessage;
        let m = |y: &str| parse(y).map(|c| c.write_message());
        assert_eq!(m("url: http://x\n"), Ok(WriteMessage::V1));
        assert_eq!(
            m("url: http://x\nprotobuf_message: prometheus.WriteRequest\n"),
            Ok(WriteMessage::V1)
        );
        assert_eq!(
            m("url: http://x\nprotobuf_message: io.prometheus.write.v2.Request\n"),
            Ok(WriteMessage::V2)
        );
        assert_eq!(
            m("url: http://x\nprotobuf_message: ''\n"),
            Err("invalid protobuf_message value: unknown type for remote write protobuf message , supported: prometheus.WriteRequest, io.prometheus.write.v2.Request".to_owned())
        );
        // Checked before the HTTP client settings, as in Prometheus' UnmarshalYAML.
        assert_eq!(
            parse("url: http://x\nprotobuf_message: v2\nproxy_url: http://p\n").unwrap_err(),
            "invalid protobuf_message value: unknown type for remote write protobuf message v2, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request"
        );
    }

    #[test]
    fn metadata_config_is_parsed_and_checked() {
        let c = parse(
            "url: http://x\nmetadata_config: {send: true, send_interval: 1m, max_samples_per_send: 2000}\n",
        )
        .unwrap();
        assert_eq!(
            c.metadata_config,
            MetadataConfig {
                send: Some(true),
                send_interval: Some("1m".to_owned()),
                max_samples_per_send: Some(2000)
            }
        );
        assert!(
            parse("url: http://x\nmetadata_config: {sent: true}\n")
                .unwrap_err()
                .contains("unknown field `sent`")
        );
    }
}
