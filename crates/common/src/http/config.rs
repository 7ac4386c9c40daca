//! The YAML types of Prometheus' `common/config.HTTPClientConfig` and their validation, with
//! Prometheus' defaults and error texts (`http_config.go`: `Validate`, `TLSConfig.Validate`,
//! `ProxyConfig.Validate`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::Secret;

/// Why an HTTP client configuration is refused. The text is Prometheus' where Prometheus has
/// the same rule; options Scrapeline does not implement name the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HttpConfigError(pub String);

impl HttpConfigError {
    fn new(message: impl Into<String>) -> Self {
        HttpConfigError(message.into())
    }
}

/// `basic_auth`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuth {
    /// `username`.
    pub username: String,
    /// `username_file`: read (and trimmed) at every request.
    pub username_file: String,
    /// `password`.
    pub password: Secret,
    /// `password_file`: read (and trimmed) at every request.
    pub password_file: String,
}

/// `authorization`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Authorization {
    /// `type`: the scheme; [`HttpClientConfig::validate`] trims it and sets `Bearer` when
    /// empty, as Prometheus does.
    #[serde(rename = "type")]
    pub kind: String,
    /// `credentials`.
    pub credentials: Secret,
    /// `credentials_file`: read (and trimmed) at every request.
    pub credentials_file: String,
}

/// `oauth2`: parsed with Prometheus' fields so configs load, then refused by
/// [`HttpClientConfig::reject_unsupported`] (no client of Scrapeline fetches tokens).
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuth2 {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: Secret,
    /// `client_secret_file`.
    pub client_secret_file: String,
    /// `scopes`.
    pub scopes: Vec<String>,
    /// `token_url`.
    pub token_url: String,
    /// `endpoint_params`.
    pub endpoint_params: BTreeMap<String, String>,
    /// `tls_config` of the token endpoint.
    pub tls_config: TlsConfig,
    /// `proxy_url` of the token endpoint.
    pub proxy_url: String,
    /// `no_proxy`.
    pub no_proxy: String,
    /// `proxy_from_environment`.
    pub proxy_from_environment: bool,
    /// `proxy_connect_header`.
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

/// A TLS protocol version as written in `min_version` / `max_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// `TLS10` (accepted as a minimum; rustls speaks 1.2 and 1.3 only).
    Tls10,
    /// `TLS11` (as `TLS10`).
    Tls11,
    /// `TLS12`.
    Tls12,
    /// `TLS13`.
    Tls13,
}

impl TlsVersion {
    /// The YAML name (`TLS12`).
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "TLS10",
            TlsVersion::Tls11 => "TLS11",
            TlsVersion::Tls12 => "TLS12",
            TlsVersion::Tls13 => "TLS13",
        }
    }

    /// Parses a YAML name; the error is Prometheus' (`unknown TLS version: TLS9`).
    pub fn parse(s: &str) -> Result<Self, HttpConfigError> {
        Ok(match s {
            "TLS10" => TlsVersion::Tls10,
            "TLS11" => TlsVersion::Tls11,
            "TLS12" => TlsVersion::Tls12,
            "TLS13" => TlsVersion::Tls13,
            other => {
                return Err(HttpConfigError::new(format!(
                    "unknown TLS version: {other}"
                )));
            }
        })
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TlsVersion::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `tls_config`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// `ca`: inline PEM CA certificates (instead of the bundled web roots).
    pub ca: String,
    /// `ca_file`.
    pub ca_file: String,
    /// `cert`: inline PEM client certificate.
    pub cert: String,
    /// `cert_file`.
    pub cert_file: String,
    /// `key`: inline PEM client key.
    pub key: Secret,
    /// `key_file`.
    pub key_file: String,
    /// `server_name`: the name verified and sent as SNI instead of the URL's host.
    pub server_name: String,
    /// `insecure_skip_verify`: accept any server certificate (signatures still checked).
    pub insecure_skip_verify: bool,
    /// `min_version`.
    pub min_version: Option<TlsVersion>,
    /// `max_version`.
    pub max_version: Option<TlsVersion>,
}

impl TlsConfig {
    fn using_client_cert(&self) -> bool {
        !self.cert.is_empty() || !self.cert_file.is_empty()
    }

    fn using_client_key(&self) -> bool {
        !self.key.is_empty() || !self.key_file.is_empty()
    }

    /// Prometheus' `TLSConfig.Validate` (plus the version order `NewTLSConfig` checks).
    pub fn validate(&self) -> Result<(), HttpConfigError> {
        if !self.ca.is_empty() && !self.ca_file.is_empty() {
            return Err(HttpConfigError::new(
                "at most one of ca, ca_file & ca_ref must be configured",
            ));
        }
        if !self.cert.is_empty() && !self.cert_file.is_empty() {
            return Err(HttpConfigError::new(
                "at most one of cert, cert_file & cert_ref must be configured",
            ));
        }
        if !self.key.is_empty() && !self.key_file.is_empty() {
            return Err(HttpConfigError::new(
                "at most one of key and key_file must be configured",
            ));
        }
        if self.using_client_cert() && !self.using_client_key() {
            return Err(HttpConfigError::new(
                "exactly one of key or key_file must be configured when a client certificate is configured",
            ));
        }
        if self.using_client_key() && !self.using_client_cert() {
            return Err(HttpConfigError::new(
                "exactly one of cert or cert_file must be configured when a client key is configured",
            ));
        }
        if let (Some(min), Some(max)) = (self.min_version, self.max_version)
            && max < min
        {
            return Err(HttpConfigError::new(
                "tls_config.max_version must be greater than or equal to tls_config.min_version if both are specified",
            ));
        }
        Ok(())
    }

    /// Refuses what rustls cannot do: a `max_version` below TLS 1.2.
    pub fn reject_unsupported(&self) -> Result<(), HttpConfigError> {
        if let Some(v) = self.max_version
            && v < TlsVersion::Tls12
        {
            return Err(HttpConfigError::new(format!(
                "tls_config.max_version {v} is not supported (only TLS12 and TLS13 are)"
            )));
        }
        Ok(())
    }
}

/// Prometheus' `HTTPClientConfig`: how a scrape job, a Kubernetes SD config or a remote-write
/// endpoint talks HTTP. Embedded (flattened) in those configs with
/// [`crate::embed_http_client_config!`], so all three accept the same fields with the same
/// rules.
///
/// `http_headers` is not here: only scrape configs have it, with their own type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpClientConfig {
    /// `basic_auth`.
    pub basic_auth: Option<BasicAuth>,
    /// `authorization`.
    pub authorization: Option<Authorization>,
    /// `oauth2` (refused by [`reject_unsupported`](Self::reject_unsupported)).
    pub oauth2: Option<OAuth2>,
    /// `bearer_token`: [`validate`](Self::validate) moves it into `authorization`.
    pub bearer_token: Secret,
    /// `bearer_token_file`: [`validate`](Self::validate) moves it into `authorization`.
    pub bearer_token_file: String,
    /// `tls_config`.
    pub tls_config: TlsConfig,
    /// `follow_redirects` (default true).
    pub follow_redirects: bool,
    /// `enable_http2` (default true).
    pub enable_http2: bool,
    /// `proxy_url` (refused by [`reject_unsupported`](Self::reject_unsupported)).
    pub proxy_url: String,
    /// `no_proxy` (refused, see `proxy_url`).
    pub no_proxy: String,
    /// `proxy_from_environment` (refused, see `proxy_url`).
    pub proxy_from_environment: bool,
    /// `proxy_connect_header` (refused, see `proxy_url`).
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

impl Default for HttpClientConfig {
    /// Prometheus' `DefaultHTTPClientConfig`: `follow_redirects` and `enable_http2` on,
    /// everything else empty.
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: Secret::default(),
            bearer_token_file: String::new(),
            tls_config: TlsConfig::default(),
            follow_redirects: true,
            enable_http2: true,
            proxy_url: String::new(),
            no_proxy: String::new(),
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
        }
    }
}

impl HttpClientConfig {
    /// Whether this is exactly Prometheus' `DefaultHTTPClientConfig` (Kubernetes SD refuses
    /// anything else together with `kubeconfig_file` or in-cluster settings).
    pub fn is_default(&self) -> bool {
        *self == HttpClientConfig::default()
    }

    /// Prometheus' checks ([`validate_prometheus`](Self::validate_prometheus)), then the
    /// options Scrapeline does not implement
    /// ([`reject_unsupported`](Self::reject_unsupported)). Every user of this type calls this
    /// one method, so all of them accept and refuse the same things with the same texts.
    pub fn validate(&mut self) -> Result<(), HttpConfigError> {
        self.validate_prometheus()?;
        self.reject_unsupported()
    }

    /// Prometheus' `HTTPClientConfig.Validate`, in its order and with its texts (TLS first, as
    /// Prometheus checks `tls_config` while parsing it). Like Prometheus it normalizes: the
    /// `authorization` type is trimmed and defaults to `Bearer`, and `bearer_token` /
    /// `bearer_token_file` become `authorization` credentials.
    pub fn validate_prometheus(&mut self) -> Result<(), HttpConfigError> {
        self.tls_config.validate()?;
        if let Some(o) = &self.oauth2 {
            o.tls_config.validate()?;
        }
        let bearer = !self.bearer_token.is_empty() || !self.bearer_token_file.is_empty();
        if !self.bearer_token.is_empty() && !self.bearer_token_file.is_empty() {
            return Err(HttpConfigError::new(
                "at most one of bearer_token & bearer_token_file must be configured",
            ));
        }
        if (self.basic_auth.is_some() || self.oauth2.is_some()) && bearer {
            return Err(HttpConfigError::new(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            ));
        }
        if let Some(b) = &self.basic_auth {
            if !b.username.is_empty() && !b.username_file.is_empty() {
                return Err(HttpConfigError::new(
                    "at most one of basic_auth username, username_file & username_ref must be configured",
                ));
            }
            if !b.password.is_empty() && !b.password_file.is_empty() {
                return Err(HttpConfigError::new(
                    "at most one of basic_auth password, password_file & password_ref must be configured",
                ));
            }
        }
        if let Some(a) = &mut self.authorization {
            if bearer {
                return Err(HttpConfigError::new(
                    "authorization is not compatible with bearer_token & bearer_token_file",
                ));
            }
            if !a.credentials.is_empty() && !a.credentials_file.is_empty() {
                return Err(HttpConfigError::new(
                    "at most one of authorization credentials & credentials_file must be configured",
                ));
            }
            a.kind = a.kind.trim().to_owned();
            if a.kind.is_empty() {
                a.kind = "Bearer".to_owned();
            }
            if a.kind.eq_ignore_ascii_case("basic") {
                return Err(HttpConfigError::new(
                    r#"authorization type cannot be set to "basic", use "basic_auth" instead"#,
                ));
            }
            if self.basic_auth.is_some() || self.oauth2.is_some() {
                return Err(HttpConfigError::new(
                    "at most one of basic_auth, oauth2 & authorization must be configured",
                ));
            }
        } else if bearer {
            self.authorization = Some(Authorization {
                kind: "Bearer".to_owned(),
                credentials: std::mem::take(&mut self.bearer_token),
                credentials_file: std::mem::take(&mut self.bearer_token_file),
            });
        }
        if let Some(o) = &self.oauth2 {
            if self.basic_auth.is_some() {
                return Err(HttpConfigError::new(
                    "at most one of basic_auth, oauth2 & authorization must be configured",
                ));
            }
            if o.client_id.is_empty() {
                return Err(HttpConfigError::new("oauth2 client_id must be configured"));
            }
            if o.token_url.is_empty() {
                return Err(HttpConfigError::new("oauth2 token_url must be configured"));
            }
            if !o.client_secret.is_empty() && !o.client_secret_file.is_empty() {
                return Err(HttpConfigError::new(
                    "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured",
                ));
            }
        }
        self.validate_proxy()
    }

    /// Prometheus' `ProxyConfig.Validate`.
    fn validate_proxy(&self) -> Result<(), HttpConfigError> {
        if !self.proxy_connect_header.is_empty()
            && !self.proxy_from_environment
            && self.proxy_url.is_empty()
        {
            return Err(HttpConfigError::new(
                "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured",
            ));
        }
        if self.proxy_from_environment && !self.proxy_url.is_empty() {
            return Err(HttpConfigError::new(
                "if proxy_from_environment is configured, proxy_url must not be configured",
            ));
        }
        if self.proxy_from_environment && !self.no_proxy.is_empty() {
            return Err(HttpConfigError::new(
                "if proxy_from_environment is configured, no_proxy must not be configured",
            ));
        }
        if self.proxy_url.is_empty() && !self.no_proxy.is_empty() {
            return Err(HttpConfigError::new(
                "if no_proxy is configured, proxy_url must also be configured",
            ));
        }
        Ok(())
    }

    /// Refuses, naming the field, what no Scrapeline client implements: `oauth2`, the proxy
    /// settings, and a `tls_config.max_version` below TLS 1.2. A config relying on them fails
    /// to load instead of being silently sent without them.
    pub fn reject_unsupported(&self) -> Result<(), HttpConfigError> {
        let unsupported = |field: &str| {
            Err(HttpConfigError::new(format!(
                "{field} is not supported by Scrapeline"
            )))
        };
        if self.oauth2.is_some() {
            return unsupported("oauth2");
        }
        if !self.proxy_url.is_empty() {
            return unsupported("proxy_url");
        }
        if !self.no_proxy.is_empty() {
            return unsupported("no_proxy");
        }
        if self.proxy_from_environment {
            return unsupported("proxy_from_environment");
        }
        if !self.proxy_connect_header.is_empty() {
            return unsupported("proxy_connect_header");
        }
        self.tls_config.reject_unsupported()
    }
}
