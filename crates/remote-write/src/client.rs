//! The HTTP side of remote write: one POST per batch, with the protocol's headers, the
//! configured authentication and TLS, a timeout, and the Prometheus classification of
//! failures into "retry" and "give up".

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use scrapeline_common::http::{HttpClientConfig, authorization_header, basic_auth_value, tls};

use super::config::RemoteWriteConfig;

/// The `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("mini-prometheus/", env!("CARGO_PKG_VERSION"));

/// Why a request failed, and whether sending it again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Network error, timeout, 5xx, or 429 with retries on: send the same batch again.
    #[error("{message}")]
    Recoverable {
        /// What happened.
        message: String,
        /// The server's `Retry-After`, if it gave one.
        retry_after: Option<Duration>,
    },
    /// Any other answer (4xx): the batch is dropped and counted as failed.
    #[error("{0}")]
    Permanent(String),
}

/// Sends encoded batches to one endpoint.
#[derive(Clone)]
pub struct Client {
    http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    headers: HeaderMap,
    /// The endpoint's HTTP client settings, for the `Authorization` header (its files are
    /// read at every request).
    http_client_config: Arc<HttpClientConfig>,
    /// `Authorization: Basic` from the URL's userinfo: as in Go's client, it takes the place
    /// of any configured authentication.
    url_auth: Option<HeaderValue>,
    timeout: Duration,
    retry_on_429: bool,
}

/// Why a client could not be built from its config.
#[derive(Debug, thiserror::Error)]
#[error("remote_write {url}: {message}")]
pub struct ClientError {
    /// The endpoint.
    pub url: String,
    /// What is wrong.
    pub message: String,
}

impl Client {
    /// Builds the client for `cfg` (already validated): TLS roots and client certificate are
    /// loaded now, credential files at every request.
    pub fn new(cfg: &RemoteWriteConfig) -> Result<Client, ClientError> {
        let err = |message: String| ClientError {
            url: super::url::redacted(&cfg.url),
            message,
        };
        let uri: Uri = super::url::without_userinfo(&cfg.url)
            .parse()
            .map_err(|e| err(format!("invalid url: {e}")))?;
        let url_auth = match super::url::credentials(&cfg.url) {
            Some((user, pass)) => Some(basic(&user, &pass).map_err(err)?),
            None => None,
        };
        let h = &cfg.http_client_config;
        let tls_err = |e: tls::TlsError| err(e.to_string());
        let tls_config = tls::client_config(&h.tls_config).map_err(tls_err)?;
        let server_name = tls::server_name(&h.tls_config).map_err(tls_err)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(cfg.remote_timeout));
        http.set_nodelay(true);
        let connector = tls::https_connector(tls_config, server_name, http, h.enable_http2);
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        let mut headers = HeaderMap::new();
        for (k, v) in &cfg.headers {
            let name =
                HeaderName::try_from(k.as_str()).map_err(|e| err(format!("header {k:?}: {e}")))?;
            let value =
                HeaderValue::try_from(v.as_str()).map_err(|e| err(format!("header {k:?}: {e}")))?;
            headers.insert(name, value);
        }
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        headers.insert(
            HeaderName::from_static("x-prometheus-remote-write-version"),
            HeaderValue::from_static("0.1.0"),
        );
        Ok(Client {
            http: client,
            uri,
            headers,
            http_client_config: Arc::new(cfg.http_client_config.clone()),
            url_auth,
            timeout: cfg.remote_timeout,
            retry_on_429: cfg.queue_config.retry_on_http_429,
        })
    }

    fn authorization(&self) -> Result<Option<HeaderValue>, String> {
        if let Some(v) = &self.url_auth {
            return Ok(Some(v.clone()));
        }
        authorization_header(&self.http_client_config).map_err(|e| e.to_string())
    }

    /// POSTs one snappy-compressed `WriteRequest`.
    pub async fn send(&self, body: Bytes) -> Result<(), SendError> {
        let mut req = Request::post(self.uri.clone())
            .body(Full::new(body))
            .map_err(|e| SendError::Permanent(format!("building the request failed: {e}")))?;
        *req.headers_mut() = self.headers.clone();
        match self.authorization() {
            Ok(Some(v)) => {
                req.headers_mut().insert(header::AUTHORIZATION, v);
            }
            Ok(None) => {}
            Err(e) => {
                return Err(SendError::Recoverable {
                    message: e,
                    retry_after: None,
                });
            }
        }
        let exchange = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| SendError::Recoverable {
                    message: format!("sending the request failed: {}", error_chain(&e)),
                    retry_after: None,
                })?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(retry_after);
            // Read (a bounded part of) the body so the connection can be reused and the
            // error can be reported.
            let body = http_body_util::Limited::new(resp.into_body(), 1024)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Ok::<_, SendError>((status, retry_after, body))
        };
        let (status, retry_after, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| SendError::Recoverable {
                message: format!("request timed out after {:?}", self.timeout),
                retry_after: None,
            })??;
        if status.is_success() {
            return Ok(());
        }
        let message = format!(
            "server returned HTTP status {}: {}",
            status,
            String::from_utf8_lossy(&body).trim()
        );
        if status.is_server_error()
            || (status == StatusCode::TOO_MANY_REQUESTS && self.retry_on_429)
        {
            Err(SendError::Recoverable {
                message,
                retry_after,
            })
        } else {
            Err(SendError::Permanent(message))
        }
    }
}

/// A `Retry-After` value: seconds, or an HTTP date (as Prometheus' `retryAfterDuration`);
/// a date in the past means now.
fn retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The `Authorization` value of HTTP basic authentication.
fn basic(user: &str, pass: &str) -> Result<HeaderValue, String> {
    basic_auth_value(user, pass).map_err(|e| e.to_string())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod retry_after_tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(" 0 "), Some(Duration::ZERO));
        let in_a_minute =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(61));
        let d = retry_after(&in_a_minute).unwrap();
        assert!(
            d > Duration::from_secs(55) && d <= Duration::from_secs(61),
            "{d:?}"
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
        assert_eq!(retry_after("-1"), None);
    }
}
