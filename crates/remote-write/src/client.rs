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
use super::v2::{EncodedRequest, WriteMessage, WrittenCounts};

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

/// Why a request of a given message failed (see [`Client::send_message`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// A 2.0 request answered the way a 1.0 receiver answers one: `415 Unsupported Media
    /// Type`, or 2xx without any `X-Prometheus-Remote-Write-*-Written` header (which the spec
    /// says to treat as 415). The same data sent as 1.0 may succeed.
    Unsupported(String),
    /// Anything else, classified as for 1.0.
    Failed(SendError),
}

impl MessageError {
    /// The error for a queue that cannot fall back: `Unsupported` is permanent.
    pub fn into_send_error(self) -> SendError {
        match self {
            MessageError::Unsupported(m) => SendError::Permanent(m),
            MessageError::Failed(e) => e,
        }
    }
}

/// The response headers in which a 2.0 receiver confirms what it wrote.
const WRITTEN_HEADERS: [&str; 3] = [
    "x-prometheus-remote-write-samples-written",
    "x-prometheus-remote-write-histograms-written",
    "x-prometheus-remote-write-exemplars-written",
];

/// Sends encoded batches to one endpoint.
#[derive(Clone)]
pub struct Client {
    http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    /// Request headers of 1.0 requests.
    headers: HeaderMap,
    /// Request headers of 2.0 requests: `Content-Type` and version differ.
    headers_v2: HeaderMap,
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
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        let mut headers_v2 = headers.clone();
        for (h, m) in [
            (&mut headers, WriteMessage::V1),
            (&mut headers_v2, WriteMessage::V2),
        ] {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(m.content_type()),
            );
            h.insert(
                HeaderName::from_static("x-prometheus-remote-write-version"),
                HeaderValue::from_static(m.version()),
            );
        }
        Ok(Client {
            http: client,
            uri,
            headers,
            headers_v2,
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

    /// POSTs one request with its message's headers and checks the answer as the 2.0 spec
    /// says: the `X-Prometheus-Remote-Write-*-Written` headers are read (an unparsable value
    /// counts as 0, as in Prometheus); a 2.0 request answered 2xx with none of them, or with
    /// 415, is [`MessageError::Unsupported`]; one answered 2xx with headers saying nothing of
    /// a non-empty request was written is a permanent error (Prometheus' check and text).
    /// Returns what the receiver confirmed, or for a 1.0 request without those headers the
    /// request's own counts.
    pub async fn send_message(
        &self,
        request: &EncodedRequest,
    ) -> Result<WrittenCounts, MessageError> {
        let fail = MessageError::Failed;
        let mut req = Request::post(self.uri.clone())
            .body(Full::new(request.body.clone()))
            .map_err(|e| {
                fail(SendError::Permanent(format!(
                    "building the request failed: {e}"
                )))
            })?;
        *req.headers_mut() = match request.message {
            WriteMessage::V1 => self.headers.clone(),
            WriteMessage::V2 => self.headers_v2.clone(),
        };
        match self.authorization() {
            Ok(Some(v)) => {
                req.headers_mut().insert(header::AUTHORIZATION, v);
            }
            Ok(None) => {}
            Err(e) => {
                return Err(fail(SendError::Recoverable {
                    message: e,
                    retry_after: None,
                }));
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
            let written = written_counts(resp.headers());
            // Read (a bounded part of) the body so the connection can be reused and the
            // error can be reported.
            let body = http_body_util::Limited::new(resp.into_body(), 1024)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Ok::<_, SendError>((status, retry_after, written, body))
        };
        let (status, retry_after, written, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                fail(SendError::Recoverable {
                    message: format!("request timed out after {:?}", self.timeout),
                    retry_after: None,
                })
            })?
            .map_err(fail)?;
        let v2 = request.message == WriteMessage::V2;
        if status.is_success() {
            let sent = request.counts;
            return match written {
                None if v2 => Err(MessageError::Unsupported(format!(
                    "server returned HTTP status {status} to a {} request without any \
                     X-Prometheus-Remote-Write-*-Written header; assuming 415 Unsupported Media \
                     Type (a 1.0 receiver that does not check the Content-Type)",
                    WriteMessage::V2
                ))),
                None => Ok(sent),
                Some(w) if v2 && !sent.is_empty() && w.is_empty() => {
                    Err(fail(SendError::Permanent(format!(
                        "sent v2 request with {} samples, {} histograms and {} exemplars; got 2xx, \
                         but PRW 2.0 response header statistics indicate {} samples, {} histograms \
                         and {} exemplars were accepted; assumining failure e.g. the target only \
                         supports PRW 1.0 prometheus.WriteRequest, but does not check the \
                         Content-Type header correctly",
                        sent.samples,
                        sent.histograms,
                        sent.exemplars,
                        w.samples,
                        w.histograms,
                        w.exemplars
                    ))))
                }
                Some(w) => Ok(w),
            };
        }
        let message = format!(
            "server returned HTTP status {}: {}",
            status,
            String::from_utf8_lossy(&body).trim()
        );
        if v2 && status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            return Err(MessageError::Unsupported(message));
        }
        if status.is_server_error()
            || (status == StatusCode::TOO_MANY_REQUESTS && self.retry_on_429)
        {
            Err(fail(SendError::Recoverable {
                message,
                retry_after,
            }))
        } else {
            Err(fail(SendError::Permanent(message)))
        }
    }
}

/// The counts of the `X-Prometheus-Remote-Write-*-Written` response headers, `None` when
/// there is none (an empty value counts as absent; one that is not a number as 0, as in
/// Prometheus' `ParseWriteResponseStats`).
fn written_counts(headers: &HeaderMap) -> Option<WrittenCounts> {
    let mut confirmed = false;
    let mut counts = [0u64; 3];
    for (name, count) in WRITTEN_HEADERS.iter().zip(counts.iter_mut()) {
        let Some(v) = headers.get(*name).map(|v| v.as_bytes()) else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        confirmed = true;
        *count = std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
    }
    confirmed.then_some(WrittenCounts {
        samples: counts[0],
        histograms: counts[1],
        exemplars: counts[2],
    })
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
mod tests {
    use super::*;

    /// Prometheus' `ParseWriteResponseStats`: any non-empty header confirms; a missing or
    /// empty one is 0, and so is one that is not a number.
    #[test]
    fn written_headers_are_parsed_as_prometheus_does() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            written_counts(&m)
        };
        assert_eq!(h(&[]), None);
        assert_eq!(
            h(&[("x-prometheus-remote-write-samples-written", "")]),
            None
        );
        assert_eq!(
            h(&[
                ("X-Prometheus-Remote-Write-Samples-Written", "2000"),
                ("X-Prometheus-Remote-Write-Exemplars-Written", "3"),
            ]),
            Some(WrittenCounts {
                samples: 2000,
                histograms: 0,
                exemplars: 3
            })
        );
        assert_eq!(
            h(&[("x-prometheus-remote-write-histograms-written", "many")]),
            Some(WrittenCounts::default())
        );
    }
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
