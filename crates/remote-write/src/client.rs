//! The HTTP side of remote write: one POST per batch, with the protocol's headers, the
//! configured authentication and TLS, a timeout, and the Prometheus classification of
//! failures into "retry" and "give up".

use scrapeline_scrape::client::InsecureVerifier;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::config::{RemoteWriteConfig, TlsConfig};

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
    auth: Arc<Auth>,
    /// `Authorization: Basic` from the URL's userinfo: as in Go's client, it takes the place
    /// of any configured authentication.
    url_auth: Option<HeaderValue>,
    timeout: Duration,
    retry_on_429: bool,
}

enum Auth {
    None,
    Basic {
        username: String,
        username_file: Option<String>,
        password: Option<String>,
        password_file: Option<String>,
    },
    Scheme {
        scheme: String,
        credentials: Option<String>,
        credentials_file: Option<String>,
    },
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
        let tls = tls_config(&cfg.tls_config).map_err(err)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(cfg.remote_timeout));
        http.set_nodelay(true);
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let builder = match &cfg.tls_config.server_name {
            Some(name) if !name.is_empty() => {
                let name = rustls::pki_types::ServerName::try_from(name.clone())
                    .map_err(|e| err(format!("tls_config.server_name {name:?}: {e}")))?;
                builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
            }
            _ => builder,
        };
        let connector = if cfg.enable_http2 {
            builder.enable_all_versions().wrap_connector(http)
        } else {
            builder.enable_http1().wrap_connector(http)
        };
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
        let auth = if let Some(b) = &cfg.basic_auth {
            Auth::Basic {
                username: b.username.clone(),
                username_file: b.username_file.clone(),
                password: b.password.clone(),
                password_file: b.password_file.clone(),
            }
        } else if let Some(a) = &cfg.authorization {
            Auth::Scheme {
                scheme: a
                    .kind
                    .clone()
                    .filter(|k| !k.is_empty())
                    .unwrap_or_else(|| "Bearer".to_owned()),
                credentials: a.credentials.clone(),
                credentials_file: a.credentials_file.clone(),
            }
        } else if cfg.bearer_token.is_some() || cfg.bearer_token_file.is_some() {
            Auth::Scheme {
                scheme: "Bearer".to_owned(),
                credentials: cfg.bearer_token.clone(),
                credentials_file: cfg.bearer_token_file.clone(),
            }
        } else {
            Auth::None
        };
        Ok(Client {
            http: client,
            uri,
            headers,
            auth: Arc::new(auth),
            url_auth,
            timeout: cfg.remote_timeout,
            retry_on_429: cfg.queue_config.retry_on_http_429,
        })
    }

    fn authorization(&self) -> Result<Option<HeaderValue>, String> {
        if let Some(v) = &self.url_auth {
            return Ok(Some(v.clone()));
        }
        let value = match self.auth.as_ref() {
            Auth::None => return Ok(None),
            Auth::Basic {
                username,
                username_file,
                password,
                password_file,
            } => {
                let user = match username_file {
                    Some(f) => read_secret(f)?,
                    None => username.clone(),
                };
                let pass = match (password, password_file) {
                    (_, Some(f)) => read_secret(f)?,
                    (Some(p), None) => p.clone(),
                    (None, None) => String::new(),
                };
                return basic(&user, &pass).map(Some);
            }
            Auth::Scheme {
                scheme,
                credentials,
                credentials_file,
            } => {
                let cred = match (credentials, credentials_file) {
                    (_, Some(f)) => read_secret(f)?,
                    (Some(c), None) => c.clone(),
                    (None, None) => String::new(),
                };
                format!("{scheme} {cred}")
            }
        };
        HeaderValue::try_from(value)
            .map(Some)
            .map_err(|_| "credentials contain characters not allowed in a header".to_owned())
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
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
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

/// The `Authorization` value of HTTP basic authentication.
fn basic(user: &str, pass: &str) -> Result<HeaderValue, String> {
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    );
    HeaderValue::try_from(value)
        .map_err(|_| "credentials contain characters not allowed in a header".to_owned())
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

fn read_secret(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("reading {path}: {e}"))
}

fn read_pem(inline: &Option<String>, file: &Option<String>) -> Result<Option<Vec<u8>>, String> {
    match (inline, file) {
        (Some(s), _) => Ok(Some(s.as_bytes().to_vec())),
        (None, Some(f)) => std::fs::read(f)
            .map(Some)
            .map_err(|e| format!("reading {f}: {e}")),
        (None, None) => Ok(None),
    }
}

fn tls_config(cfg: &TlsConfig) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = match cfg.min_version.as_deref() {
        Some("TLS13") => &[&rustls::version::TLS13],
        _ => rustls::DEFAULT_VERSIONS,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = if cfg.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(InsecureVerifier::new(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match read_pem(&cfg.ca, &cfg.ca_file)? {
            Some(pem) => {
                for cert in rustls_pemfile::certs(&mut &pem[..]) {
                    let cert = cert.map_err(|e| format!("parsing CA certificates: {e}"))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("adding CA certificate: {e}"))?;
                }
                if roots.is_empty() {
                    return Err("no CA certificate found in ca/ca_file".to_owned());
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots)
    };
    let config = match (
        read_pem(&cfg.cert, &cfg.cert_file)?,
        read_pem(&cfg.key, &cfg.key_file)?,
    ) {
        (Some(cert), Some(key)) => {
            let certs = rustls_pemfile::certs(&mut &cert[..])
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("parsing client certificate: {e}"))?;
            let key = rustls_pemfile::private_key(&mut &key[..])
                .map_err(|e| format!("parsing client key: {e}"))?
                .ok_or_else(|| "no private key found in key/key_file".to_owned())?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("client certificate: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(config)
}
