//! `remote_write` configuration with Prometheus' YAML names and defaults.
//!
//! Unknown fields are errors (`deny_unknown_fields`), like every other section of the config.
//! Fields Prometheus accepts but mini-prometheus cannot honour (`proxy_url`, `oauth2`, …) are
//! left out on purpose, so a config that relies on them fails loudly instead of being ignored.

use std::collections::BTreeMap;
use std::time::Duration;

use scrapeline_sd::relabel::RelabelConfig;
use serde::{Deserialize, Deserializer};

/// One `remote_write` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
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
    /// Only `prometheus.WriteRequest` (remote write 1.0) is spoken.
    #[serde(default)]
    pub protobuf_message: Option<String>,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// The `Authorization` header.
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// Bearer token (older spelling of `authorization`).
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// File holding the bearer token, read at every request.
    #[serde(default)]
    pub bearer_token_file: Option<String>,
    /// TLS settings for `https` URLs.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// Accepted for compatibility (redirects are not followed for POSTs anyway).
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// Whether HTTP/2 may be negotiated over TLS (default true).
    #[serde(default = "default_true")]
    pub enable_http2: bool,
    /// Queue tuning.
    #[serde(default)]
    pub queue_config: QueueConfig,
    /// Accepted for compatibility; metadata is not sent.
    #[serde(default)]
    pub metadata_config: MetadataConfig,
}

/// `basic_auth`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// File holding the user name.
    #[serde(default)]
    pub username_file: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// File holding the password, read at every request.
    #[serde(default)]
    pub password_file: Option<String>,
}

/// `authorization`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme (default `Bearer`).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The credentials.
    #[serde(default)]
    pub credentials: Option<String>,
    /// File holding the credentials, read at every request.
    #[serde(default)]
    pub credentials_file: Option<String>,
}

/// `tls_config`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM CA certificates to trust (instead of the bundled web roots).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// The same, inline.
    #[serde(default)]
    pub ca: Option<String>,
    /// PEM client certificate.
    #[serde(default)]
    pub cert_file: Option<String>,
    /// The same, inline.
    #[serde(default)]
    pub cert: Option<String>,
    /// PEM client key.
    #[serde(default)]
    pub key_file: Option<String>,
    /// The same, inline.
    #[serde(default)]
    pub key: Option<String>,
    /// Name to verify the server certificate against (and send as SNI).
    #[serde(default)]
    pub server_name: Option<String>,
    /// Skip server certificate verification (dangerous; for tests).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Lowest TLS version: `TLS12` or `TLS13`.
    #[serde(default)]
    pub min_version: Option<String>,
}

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

/// `metadata_config` (accepted, not acted on).
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

/// Prometheus' `model.ParseDuration`: `0`, or units `y w d h m s ms` in that order, each at
/// most once; a sign, a fraction or an out-of-range value is an error with Prometheus' message
/// (`not a valid duration string: "-1"`), never a panic. The one implementation lives in
/// `scrapeline_common::duration`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    scrapeline_common::duration::parse_duration(s).map_err(|e| e.to_string())
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
    pub fn validate(&self) -> Result<(), String> {
        if self.url.is_empty() {
            return Err("url for remote_write is empty".to_owned());
        }
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|e| format!("invalid remote_write url {:?}: {e}", self.redacted_url()))?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            _ => {
                return Err(format!(
                    "invalid remote_write url {:?}: scheme must be http or https",
                    self.redacted_url()
                ));
            }
        }
        if uri.host().is_none() {
            return Err(format!(
                "invalid remote_write url {:?}: no host",
                self.redacted_url()
            ));
        }
        for h in self.headers.keys() {
            if RESERVED_HEADERS.contains(&h.to_ascii_lowercase().as_str()) {
                return Err(format!("{h} is a reserved header. It must not be changed"));
            }
            http::HeaderName::try_from(h.as_str())
                .map_err(|_| format!("invalid header name {h:?}"))?;
        }
        let bearer = self.bearer_token.is_some() || self.bearer_token_file.is_some();
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            return Err(
                "at most one of bearer_token & bearer_token_file must be configured".to_owned(),
            );
        }
        if usize::from(self.basic_auth.is_some())
            + usize::from(self.authorization.is_some())
            + usize::from(bearer)
            > 1
        {
            return Err(
                "at most one of basic_auth, authorization & bearer_token(_file) must be configured"
                    .to_owned(),
            );
        }
        if let Some(b) = &self.basic_auth {
            if b.password.is_some() && b.password_file.is_some() {
                return Err(
                    "at most one of basic_auth password & password_file must be configured"
                        .to_owned(),
                );
            }
            if !b.username.is_empty() && b.username_file.is_some() {
                return Err(
                    "at most one of basic_auth username & username_file must be configured"
                        .to_owned(),
                );
            }
        }
        if let Some(a) = &self.authorization {
            if a.credentials.is_some() && a.credentials_file.is_some() {
                return Err("at most one of authorization credentials & credentials_file must be configured".to_owned());
            }
            if a.kind
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case("basic"))
            {
                return Err(
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                        .to_owned(),
                );
            }
        }
        let t = &self.tls_config;
        if t.ca.is_some() && t.ca_file.is_some() {
            return Err("at most one of ca and ca_file must be configured".to_owned());
        }
        if t.cert.is_some() && t.cert_file.is_some() {
            return Err("at most one of cert and cert_file must be configured".to_owned());
        }
        if t.key.is_some() && t.key_file.is_some() {
            return Err("at most one of key and key_file must be configured".to_owned());
        }
        if (t.cert.is_some() || t.cert_file.is_some()) != (t.key.is_some() || t.key_file.is_some())
        {
            return Err("exactly one of key or key_file must be configured when a client certificate is configured".to_owned());
        }
        if let Some(v) = &t.min_version
            && v != "TLS12"
            && v != "TLS13"
        {
            return Err(format!("unknown TLS version: {v}"));
        }
        if let Some(m) = &self.protobuf_message
            && m != "prometheus.WriteRequest"
        {
            return Err(format!(
                "protobuf_message {m:?} is not supported; only \"prometheus.WriteRequest\" (remote write 1.0)"
            ));
        }
        let q = &self.queue_config;
        if q.capacity == 0 || q.max_samples_per_send == 0 || q.max_shards == 0 {
            return Err(
                "queue_config: capacity, max_samples_per_send and max_shards must be positive"
                    .to_owned(),
            );
        }
        if q.min_shards > q.max_shards {
            return Err("queue_config: min_shards must not exceed max_shards".to_owned());
        }
        if q.min_backoff > q.max_backoff {
            return Err("queue_config: min_backoff must not exceed max_backoff".to_owned());
        }
        Ok(())
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
        c.validate()?;
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
        assert!(c.follow_redirects && c.enable_http2);
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
        assert_eq!(c.tls_config.server_name.as_deref(), Some("vm.local"));
    }

    #[test]
    fn errors() {
        let e = |y: &str| parse(y).unwrap_err();
        assert!(
            e("url: http://x\nqueue_config: {capacity: 1, bogus: 2}\n")
                .contains("unknown field `bogus`")
        );
        assert!(e("url: http://x\nproxy_url: http://p\n").contains("unknown field `proxy_url`"));
        assert_eq!(e("url: ''\n"), "url for remote_write is empty");
        assert_eq!(
            e("url: http://x\nheaders: {User-Agent: me}\n"),
            "User-Agent is a reserved header. It must not be changed"
        );
        assert_eq!(
            e("url: http://x\nbearer_token: a\nbasic_auth: {username: u}\n"),
            "at most one of basic_auth, authorization & bearer_token(_file) must be configured"
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
}
