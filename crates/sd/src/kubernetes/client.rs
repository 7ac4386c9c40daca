//! Building (and sharing) the `kube` client for an SD config: `api_server` with Prometheus'
//! HTTP client options, `kubeconfig_file`, or in-cluster settings.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use scrapeline_common::http::tls::{self, TlsMaterial};
use scrapeline_common::http::{HttpClientConfig, TlsConfig, authorization_header};

use crate::config::KubernetesSdConfig;

use super::KubeContext;

/// Why a Kubernetes discoverer could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `api_server` is not a valid URL.
    #[error("invalid api_server URL {0:?}")]
    BadUrl(String),
    /// A file named in the config could not be read.
    #[error("reading {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The kubeconfig file is invalid.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// In-cluster configuration is missing.
    #[error("in-cluster config: {0}")]
    InCluster(String),
    /// An option this client does not implement.
    #[error("unsupported option: {0}")]
    Unsupported(&'static str),
    /// `kube` refused the configuration.
    #[error("kubernetes client: {0}")]
    Client(String),
}

/// A connected client and what identifies it.
pub(crate) struct Connection {
    pub(crate) id: String,
    pub(crate) client: kube::Client,
    /// The pod's own namespace (in-cluster only; `""` otherwise).
    pub(crate) own_namespace: String,
}

fn read(path: &Path) -> Result<String, ClientError> {
    std::fs::read_to_string(path).map_err(|source| ClientError::File {
        path: path.display().to_string(),
        source,
    })
}

/// The pieces a `kube::Client` is assembled from: kube's `Config` (URL, timeouts, kubeconfig
/// credentials) plus the TLS material and request authorization from scrapeline-common.
struct Parts {
    config: kube::Config,
    tls: TlsMaterial,
    server_name: Option<rustls::pki_types::ServerName<'static>>,
    /// `None` for kubeconfig files, whose credentials kube's auth layer applies.
    http: Option<Arc<HttpClientConfig>>,
}

fn tls_error(e: tls::TlsError) -> ClientError {
    ClientError::Client(e.to_string())
}

/// `api_server` with the config's own HTTP client settings.
fn from_http_config(url: &str, h: &HttpClientConfig) -> Result<Parts, ClientError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| ClientError::BadUrl(url.to_owned()))?;
    Ok(Parts {
        config: kube::Config::new(uri),
        tls: TlsMaterial::load(&h.tls_config).map_err(tls_error)?,
        server_name: tls::server_name(&h.tls_config).map_err(tls_error)?,
        http: Some(Arc::new(h.clone())),
    })
}

fn base64_field(value: &str, what: &str) -> Result<String, ClientError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ClientError::Kubeconfig(format!("{what} is not valid base64 PEM")))
}

/// A kubeconfig's TLS settings (already resolved by kube: CA, server name, skip-verify) and
/// client identity as a `tls_config` would give them, so the one builder serves it too.
fn from_kubeconfig(config: kube::Config) -> Result<Parts, ClientError> {
    use secrecy::ExposeSecret as _;
    let ai = &config.auth_info;
    let mut t = TlsConfig::default();
    match (&ai.client_certificate_data, &ai.client_certificate) {
        (Some(d), _) => t.cert = base64_field(d, "client-certificate-data")?,
        (None, Some(f)) => t.cert_file.clone_from(f),
        (None, None) => {}
    }
    match (&ai.client_key_data, &ai.client_key) {
        (Some(d), _) => t.key = base64_field(d.expose_secret(), "client-key-data")?.into(),
        (None, Some(f)) => t.key_file.clone_from(f),
        (None, None) => {}
    }
    t.insecure_skip_verify = config.accept_invalid_certs;
    let mut tls = TlsMaterial::load(&t).map_err(tls_error)?;
    tls.roots = config.root_cert.as_ref().map(|ders| {
        ders.iter()
            .map(|d| rustls::pki_types::CertificateDer::from(d.clone()))
            .collect()
    });
    let server_name = match &config.tls_server_name {
        Some(n) => Some(
            rustls::pki_types::ServerName::try_from(n.clone())
                .map_err(|e| ClientError::Kubeconfig(format!("tls-server-name {n:?}: {e}")))?,
        ),
        None => None,
    };
    Ok(Parts {
        config,
        tls,
        server_name,
        http: None,
    })
}

/// Assembles the client as kube's own builder does (base URI, kube's auth for kubeconfig
/// credentials, extra headers, read timeout), but over scrapeline-common's TLS connector:
/// no process-wide crypto provider is needed. For `api_server` and in-cluster configs the
/// `Authorization` header comes from [`authorization_header`] at every request, so credential
/// files (rotated service-account tokens) are re-read as Prometheus does; a file that cannot
/// be read is logged and the request goes out without credentials (the API server's 401 is
/// then the error the discoverer reports).
fn build(parts: Parts) -> Result<kube::Client, ClientError> {
    use kube::client::ConfigExt as _;
    use tower::ServiceExt as _;
    type BoxError = Box<dyn std::error::Error + Send + Sync>;

    let Parts {
        config,
        tls,
        server_name,
        http,
    } = parts;
    let tls = tls.client_config().map_err(tls_error)?;
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.enforce_http(false);
    let https = tls::https_connector(tls, server_name, connector, false);
    let mut timeouts = hyper_timeout::TimeoutConnector::new(https);
    timeouts.set_connect_timeout(config.connect_timeout);
    timeouts.set_read_timeout(config.read_timeout);
    timeouts.set_write_timeout(config.write_timeout);
    let hyper: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(timeouts);
    let kube_err = |e: kube::Error| ClientError::Client(e.to_string());
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer().map_err(kube_err)?)
        .layer(config.extra_headers_layer().map_err(kube_err)?)
        .map_err(BoxError::from)
        .service(hyper)
        .map_request(move |mut req: http::Request<kube::client::Body>| {
            if let Some(h) = &http {
                match authorization_header(h) {
                    Ok(Some(v)) => {
                        req.headers_mut().insert(http::header::AUTHORIZATION, v);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(err = %e, "kubernetes SD: no credentials sent"),
                }
            }
            req
        });
    Ok(kube::Client::new(service, config.default_namespace.clone()))
}

/// Connects (or reuses a client) for `cfg`.
pub(crate) async fn connect(
    cfg: &KubernetesSdConfig,
    ctx: &KubeContext,
) -> Result<Connection, ClientError> {
    let env = &ctx.env;
    let mut own_namespace = String::new();
    let (id, parts) = if let Some(url) = &cfg.api_server {
        // Keyed by a hash of the whole HTTP config: its `Debug` hides the secrets, and two
        // configs differing only in a password must not share a client.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&cfg.http_client_config, &mut hasher);
        (
            format!(
                "api_server={url} http={:016x}",
                std::hash::Hasher::finish(&hasher)
            ),
            from_http_config(url, &cfg.http_client_config)?,
        )
    } else if let Some(path) = &cfg.kubeconfig_file {
        let p = Path::new(path);
        let p = if p.is_relative() {
            env.config_dir.join(p)
        } else {
            p.to_path_buf()
        };
        let kc = Kubeconfig::read_from(&p).map_err(|e| ClientError::Kubeconfig(e.to_string()))?;
        let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .map_err(|e| ClientError::Kubeconfig(e.to_string()))?;
        (
            format!("kubeconfig={}", p.display()),
            from_kubeconfig(config)?,
        )
    } else {
        let url = match &env.in_cluster_api_server {
            Some(u) => u.clone(),
            None => {
                let host = std::env::var("KUBERNETES_SERVICE_HOST").map_err(|_| {
                    ClientError::InCluster("KUBERNETES_SERVICE_HOST is not set".into())
                })?;
                let port = std::env::var("KUBERNETES_SERVICE_PORT").map_err(|_| {
                    ClientError::InCluster("KUBERNETES_SERVICE_PORT is not set".into())
                })?;
                if host.contains(':') {
                    format!("https://[{host}]:{port}")
                } else {
                    format!("https://{host}:{port}")
                }
            }
        };
        // The service account as an HTTP client config: its token file (re-read at every
        // request) and CA.
        let sa = &env.service_account_dir;
        let mut h = HttpClientConfig::default();
        let token = sa.join("token");
        if token.exists() {
            h.bearer_token_file = token.display().to_string();
        }
        let ca = sa.join("ca.crt");
        if ca.exists() {
            h.tls_config.ca_file = ca.display().to_string();
        }
        if cfg.namespaces.own_namespace {
            own_namespace = read(&sa.join("namespace"))?.trim().to_string();
            if own_namespace.is_empty() {
                return Err(ClientError::InCluster("own namespace file is empty".into()));
            }
        }
        (
            format!("in-cluster={url} sa={}", sa.display()),
            from_http_config(&url, &h)?,
        )
    };
    let mut parts = parts;
    // Lists are bounded by this; watches by the watcher's own idle timeout.
    parts.config.read_timeout = Some(Duration::from_secs(
        u64::from(env.watch.watch_timeout_secs) + 15,
    ));
    let existing = ctx
        .clients
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&id)
        .cloned();
    let client = match existing {
        Some(c) => c,
        None => {
            let c = build(parts)?;
            ctx.clients
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.clone(), c.clone());
            c
        }
    };
    Ok(Connection {
        id,
        client,
        own_namespace,
    })
}
