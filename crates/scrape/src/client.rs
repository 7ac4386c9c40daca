//! The HTTP side of a scrape: one shared hyper connection pool, Prometheus' request headers,
//! authentication, TLS, redirects, gzip, and a body read that enforces `body_size_limit` while
//! streaming.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderName,
    HeaderValue, LOCATION, USER_AGENT,
};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use scrapeline_exposition::Format;

use scrapeline_common::http::{HttpClientConfig, TlsConfig, authorization_header, tls};

use crate::config::{ScrapeConfig, ScrapeProtocol};

/// The `User-Agent` scrapes send.
pub const USER_AGENT_VALUE: &str = concat!("Scrapeline/", env!("CARGO_PKG_VERSION"));
/// Go's default redirect limit.
const MAX_REDIRECTS: usize = 10;

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Why fetching a target failed. Messages follow Prometheus' where the cause is the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Connection or protocol failure (`Get "url": …`).
    #[error("Get {url:?}: {message}")]
    Transport {
        /// The URL requested.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The whole scrape ran past `scrape_timeout`.
    #[error("Get {url:?}: context deadline exceeded")]
    Timeout {
        /// The URL requested.
        url: String,
    },
    /// A status other than 200.
    #[error("server returned HTTP status {0}")]
    Status(String),
    /// The (decompressed) body reached `body_size_limit`.
    #[error("body size limit exceeded")]
    BodySizeLimit,
    /// The gzip stream was corrupt.
    #[error("gzip: {0}")]
    Gzip(String),
    /// The client could not be set up (bad TLS files, unreadable credentials).
    #[error("{0}")]
    Setup(String),
}

/// A response that passed every check: its media type decision and the decoded body.
#[derive(Debug)]
pub struct Fetched {
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
}

/// Maps a `Content-Type` to a parser as Prometheus' `textparse.extractMediaType` does;
/// `Err` carries Prometheus' message when no fallback applies.
pub fn format_for(
    content_type: Option<&str>,
    fallback: Option<ScrapeProtocol>,
) -> Result<Format, String> {
    let fb = || -> Option<Format> {
        match fallback? {
            ScrapeProtocol::PrometheusText004 | ScrapeProtocol::PrometheusText100 => {
                Some(Format::Text)
            }
            ScrapeProtocol::OpenMetricsText001 | ScrapeProtocol::OpenMetricsText100 => {
                Some(Format::OpenMetrics)
            }
            ScrapeProtocol::PrometheusProto => None,
        }
    };
    let ct = content_type.map(str::trim).unwrap_or("");
    if ct.is_empty() {
        return fb().ok_or_else(|| {
            "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target".to_string()
        });
    }
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/openmetrics-text" => Ok(Format::OpenMetrics),
        "text/plain" => Ok(Format::Text),
        _ => fb().ok_or_else(|| {
            if media == "application/vnd.google.protobuf" {
                format!("received unsupported Content-Type {ct:?} (protobuf is not supported) and no fallback_scrape_protocol specified for target")
            } else {
                format!("received unsupported Content-Type {ct:?} and no fallback_scrape_protocol specified for target")
            }
        }),
    }
}

/// The verifier behind `insecure_skip_verify`, now in `scrapeline-common` (re-exported for
/// existing users).
pub use scrapeline_common::http::tls::InsecureVerifier;

fn build_client(tls: &TlsConfig) -> Result<HttpClient, FetchError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(30)));
    let setup = |e: tls::TlsError| FetchError::Setup(e.to_string());
    // Scrapes speak HTTP/1.1 (`enable_http2` is not offered through ALPN).
    let conn = tls::https_connector(
        tls::client_config(tls).map_err(setup)?,
        tls::server_name(tls).map_err(setup)?,
        http,
        false,
    );
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(4)
        .build(conn))
}

/// The connection pools shared by every scrape: one for all jobs with default TLS settings,
/// plus one per distinct `tls_config`.
#[derive(Clone, Default)]
pub struct ClientPool {
    inner: Arc<Mutex<HashMap<TlsConfig, HttpClient>>>,
}

impl std::fmt::Debug for ClientPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientPool")
    }
}

impl ClientPool {
    /// A pool with no connections yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn client(&self, tls: &TlsConfig) -> Result<HttpClient, FetchError> {
        let mut m = self
            .inner
            .lock()
            .map_err(|_| FetchError::Setup("client pool poisoned".into()))?;
        if let Some(c) = m.get(tls) {
            return Ok(c.clone());
        }
        let c = build_client(tls)?;
        m.insert(tls.clone(), c.clone());
        Ok(c)
    }
}

/// Everything needed to fetch targets of one job.
#[derive(Clone)]
pub struct JobClient {
    client: HttpClient,
    accept: HeaderValue,
    accept_encoding: HeaderValue,
    /// The job's HTTP client settings, for the `Authorization` header (its files are read
    /// at every scrape).
    http_client_config: Arc<HttpClientConfig>,
    headers: Vec<(HeaderName, HeaderValue)>,
    header_files: Vec<(HeaderName, String)>,
    follow_redirects: bool,
    body_size_limit: u64,
}

impl std::fmt::Debug for JobClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobClient")
            .field("accept", &self.accept)
            .field("follow_redirects", &self.follow_redirects)
            .field("body_size_limit", &self.body_size_limit)
            .finish()
    }
}

async fn read_trimmed(path: &str) -> Result<String, FetchError> {
    let s = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| FetchError::Setup(format!("unable to read file {path}: {e}")))?;
    Ok(s.trim().to_string())
}

fn hv(s: &str) -> Result<HeaderValue, FetchError> {
    HeaderValue::from_str(s).map_err(|e| FetchError::Setup(format!("invalid header value: {e}")))
}

impl JobClient {
    /// Builds the client of a job (after `apply_global`), sharing `pool`'s connections.
    pub fn new(pool: &ClientPool, cfg: &ScrapeConfig) -> Result<JobClient, FetchError> {
        let mut headers = Vec::new();
        let mut header_files = Vec::new();
        for (name, h) in &cfg.http_headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| FetchError::Setup(format!("invalid header name {name:?}: {e}")))?;
            for v in h.values.iter().chain(h.secrets.iter()) {
                headers.push((n.clone(), hv(v)?));
            }
            for f in &h.files {
                header_files.push((n.clone(), f.clone()));
            }
        }
        Ok(JobClient {
            client: pool.client(&cfg.http_client_config.tls_config)?,
            accept: hv(&cfg.request_accept_header())?,
            accept_encoding: HeaderValue::from_static(if cfg.enable_compression {
                "gzip"
            } else {
                "identity"
            }),
            http_client_config: Arc::new(cfg.http_client_config.clone()),
            headers,
            header_files,
            follow_redirects: cfg.http_client_config.follow_redirects,
            body_size_limit: cfg.body_size_limit_bytes(),
        })
    }

    /// GETs `url` and reads the body into `body` (cleared first), enforcing the body size
    /// limit and decoding gzip. `timeout` is only announced in the header; the caller bounds
    /// the whole call.
    pub async fn fetch(
        &self,
        url: &str,
        timeout: Duration,
        body: &mut Vec<u8>,
    ) -> Result<Fetched, FetchError> {
        body.clear();
        let transport = |m: String| FetchError::Transport {
            url: url.to_string(),
            message: m,
        };
        let mut uri: Uri = url.parse().map_err(|e| transport(format!("{e}")))?;
        let orig_authority = uri.authority().cloned();
        let auth = authorization_header(&self.http_client_config)
            .map_err(|e| FetchError::Setup(e.to_string()))?;
        let mut file_headers = Vec::with_capacity(self.header_files.len());
        for (n, f) in &self.header_files {
            file_headers.push((n.clone(), hv(&read_trimmed(f).await?)?));
        }
        let timeout_s = timeout.as_secs_f64().to_string();
        let mut redirects = 0usize;
        let resp = loop {
            let mut req = Request::get(uri.clone())
                .header(ACCEPT, self.accept.clone())
                .header(ACCEPT_ENCODING, self.accept_encoding.clone())
                .header(USER_AGENT, USER_AGENT_VALUE)
                .header("X-Prometheus-Scrape-Timeout-Seconds", timeout_s.as_str());
            let same_host = uri.authority() == orig_authority.as_ref();
            if same_host && let Some(a) = &auth {
                req = req.header(AUTHORIZATION, a.clone());
            }
            for (n, v) in self.headers.iter().chain(file_headers.iter()) {
                req = req.header(n, v);
            }
            let req = req
                .body(Empty::<Bytes>::new())
                .map_err(|e| transport(e.to_string()))?;
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| transport(error_chain(&e)))?;
            let st = resp.status();
            if self.follow_redirects
                && matches!(st.as_u16(), 301 | 302 | 303 | 307 | 308)
                && let Some(loc) = resp.headers().get(LOCATION)
            {
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(transport(format!(
                        "stopped after {MAX_REDIRECTS} redirects"
                    )));
                }
                let loc = loc.to_str().map_err(|e| transport(e.to_string()))?;
                uri = resolve_location(&uri, loc).map_err(transport)?;
                continue;
            }
            break resp;
        };
        if resp.status() != StatusCode::OK {
            let st = resp.status();
            return Err(FetchError::Status(
                format!("{} {}", st.as_u16(), st.canonical_reason().unwrap_or(""))
                    .trim_end()
                    .to_string(),
            ));
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let gzip = resp
            .headers()
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
        let limit = if self.body_size_limit == 0 {
            u64::MAX
        } else {
            self.body_size_limit
        };
        let mut incoming = resp.into_body();
        let mut raw = if gzip {
            Vec::new()
        } else {
            std::mem::take(body)
        };
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| transport(error_chain(&e)))?;
            if let Ok(data) = frame.into_data() {
                raw.extend_from_slice(&data);
                if raw.len() as u64 >= limit {
                    if !gzip {
                        *body = raw;
                    }
                    return Err(FetchError::BodySizeLimit);
                }
            }
        }
        if gzip {
            inflate_gzip(&raw, limit, body).await?;
        } else {
            *body = raw;
        }
        Ok(Fetched { content_type })
    }
}

/// Decoded bytes inflated between two yields to the runtime. Inflating is CPU work inside an
/// async task: without yields, a gzip bomb (a few MB that inflate to gigabytes) would hold its
/// worker thread for seconds, starving other scrapes and the API, and the caller's
/// `scrape_timeout` could not fire until the whole stream was inflated. 1 MiB of exposition
/// text takes about 0.7 ms to inflate in an optimized build; smaller slices cost measurably
/// more (each `read_to_end` restarts with small reads: 256 KiB slices were ~7% slower on an
/// 8 MiB body, 1 MiB slices ~2%).
const INFLATE_SLICE: u64 = 1 << 20;

/// Inflates the gzip stream `raw` into `body` (appending), at most `limit` bytes, in slices of
/// [`INFLATE_SLICE`] with a `yield_now` between slices. The caller bounds the fetch with
/// `tokio::time::timeout_at`, which polls its deadline whenever the inner future yields, so a
/// scrape past its deadline stops within one slice and fails with the same "context deadline
/// exceeded" a slow body gets. A body that fits in one slice (most scrapes) never yields.
async fn inflate_gzip(raw: &[u8], limit: u64, body: &mut Vec<u8>) -> Result<(), FetchError> {
    // `bufread`: the compressed bytes are already in memory, so the decoder reads them in place
    // (`read::GzDecoder` would copy them through a 32 KiB buffer of its own, allocated per
    // scrape).
    let mut dec = flate2::bufread::GzDecoder::new(raw);
    loop {
        let room = limit.saturating_sub(body.len() as u64);
        let slice = room.min(INFLATE_SLICE);
        let n = (&mut dec)
            .take(slice)
            .read_to_end(body)
            .map_err(|e| FetchError::Gzip(e.to_string()))? as u64;
        if body.len() as u64 >= limit {
            return Err(FetchError::BodySizeLimit);
        }
        if n < slice {
            return Ok(());
        }
        tokio::task::yield_now().await;
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn resolve_location(base: &Uri, loc: &str) -> Result<Uri, String> {
    if let Ok(u) = loc.parse::<Uri>()
        && u.scheme().is_some()
    {
        return Ok(u);
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let auth = base.authority().map(|a| a.as_str()).unwrap_or("");
    let s = if loc.starts_with("//") {
        format!("{scheme}:{loc}")
    } else if loc.starts_with('/') {
        format!("{scheme}://{auth}{loc}")
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{scheme}://{auth}{dir}{loc}")
    };
    s.parse::<Uri>()
        .map_err(|e| format!("bad redirect location {loc:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_decides_format() {
        assert_eq!(
            format_for(Some("text/plain; version=0.0.4"), None),
            Ok(Format::Text)
        );
        assert_eq!(
            format_for(
                Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
                None
            ),
            Ok(Format::OpenMetrics)
        );
        assert_eq!(
            format_for(None, None).unwrap_err(),
            "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target"
        );
        assert_eq!(
            format_for(Some("text/html"), Some(ScrapeProtocol::PrometheusText004)),
            Ok(Format::Text)
        );
        assert_eq!(
            format_for(Some("text/html"), None).unwrap_err(),
            r#"received unsupported Content-Type "text/html" and no fallback_scrape_protocol specified for target"#
        );
    }

    #[test]
    fn redirect_locations() {
        let base: Uri = "http://a:1/x/metrics".parse().unwrap();
        assert_eq!(
            resolve_location(&base, "/m").unwrap().to_string(),
            "http://a:1/m"
        );
        assert_eq!(
            resolve_location(&base, "m2").unwrap().to_string(),
            "http://a:1/x/m2"
        );
        assert_eq!(
            resolve_location(&base, "http://b:2/z").unwrap().to_string(),
            "http://b:2/z"
        );
    }
}
