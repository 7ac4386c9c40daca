//! Building (and sharing) the `kube` client for an SD config: `api_server` with Prometheus'
//! HTTP client options, `kubeconfig_file`, or in-cluster settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

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

/// Standard base64 (for basic auth and inline PEM data).
pub(crate) fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn header(config: &mut kube::Config, value: String) -> Result<(), ClientError> {
    let v = http::HeaderValue::from_str(&value).map_err(|_| {
        ClientError::Client("authorization header is not a valid header value".into())
    })?;
    config.headers.push((http::header::AUTHORIZATION, v));
    Ok(())
}

/// Credentials from a file. A Bearer token file without surrounding whitespace (as rotated
/// service-account tokens are written) is handed to kube, which re-reads it at least once a
/// minute; otherwise the trimmed content is sent, as Prometheus trims it.
fn token_file(config: &mut kube::Config, path: &str, kind: &str) -> Result<(), ClientError> {
    let content = read(Path::new(path))?;
    let trimmed = content.trim();
    if kind == "Bearer" && trimmed.len() == content.len() {
        config.auth_info.token_file = Some(path.to_string());
        Ok(())
    } else {
        header(config, format!("{kind} {trimmed}"))
    }
}

fn apply_http(cfg: &KubernetesSdConfig, config: &mut kube::Config) -> Result<(), ClientError> {
    let h = &cfg.http;
    if h.oauth2.is_some() {
        return Err(ClientError::Unsupported("oauth2 for kubernetes_sd_configs"));
    }
    let tls = &h.tls_config;
    if !tls.ca_file.is_empty() {
        config.root_cert_file = Some(PathBuf::from(&tls.ca_file));
    }
    if !tls.ca.is_empty() {
        let ders = pem_to_der(&tls.ca)?;
        config.root_cert = Some(ders);
    }
    if !tls.cert_file.is_empty() {
        config.auth_info.client_certificate = Some(tls.cert_file.clone());
    }
    if !tls.key_file.is_empty() {
        config.auth_info.client_key = Some(tls.key_file.clone());
    }
    if !tls.cert.is_empty() {
        config.auth_info.client_certificate_data = Some(base64(tls.cert.as_bytes()));
    }
    if !tls.key.is_empty() {
        config.auth_info.client_key_data = Some(base64(tls.key.as_bytes()).into());
    }
    if !tls.server_name.is_empty() {
        config.tls_server_name = Some(tls.server_name.clone());
    }
    config.accept_invalid_certs = tls.insecure_skip_verify;
    if !h.proxy_url.is_empty() {
        config.proxy_url = Some(
            h.proxy_url
                .parse()
                .map_err(|_| ClientError::BadUrl(h.proxy_url.clone()))?,
        );
    }
    if !h.bearer_token.is_empty() {
        header(config, format!("Bearer {}", h.bearer_token))?;
    }
    if !h.bearer_token_file.is_empty() {
        token_file(config, &h.bearer_token_file, "Bearer")?;
    }
    if let Some(a) = &h.authorization {
        let kind = if a.kind.is_empty() {
            "Bearer"
        } else {
            a.kind.as_str()
        };
        if !a.credentials_file.is_empty() {
            token_file(config, &a.credentials_file, kind)?;
        } else if !a.credentials.is_empty() {
            header(config, format!("{kind} {}", a.credentials))?;
        }
    }
    if let Some(b) = &h.basic_auth {
        let user = if b.username_file.is_empty() {
            b.username.clone()
        } else {
            read(Path::new(&b.username_file))?.trim().to_string()
        };
        let pass = if b.password_file.is_empty() {
            b.password.clone()
        } else {
            read(Path::new(&b.password_file))?.trim().to_string()
        };
        header(
            config,
            format!("Basic {}", base64(format!("{user}:{pass}").as_bytes())),
        )?;
    }
    Ok(())
}

fn pem_to_der(pem: &str) -> Result<Vec<Vec<u8>>, ClientError> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in pem.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN") {
            cur = Some(String::new());
        } else if line.starts_with("-----END") {
            if let Some(b) = cur.take() {
                out.push(
                    base64_decode(&b)
                        .ok_or(ClientError::Client("invalid PEM in tls_config.ca".into()))?,
                );
            }
        } else if let Some(b) = cur.as_mut() {
            b.push_str(line);
        }
    }
    Ok(out)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Connects (or reuses a client) for `cfg`.
pub(crate) async fn connect(
    cfg: &KubernetesSdConfig,
    ctx: &KubeContext,
) -> Result<Connection, ClientError> {
    // kube's TLS stack needs a process-wide rustls provider; both ring and aws-lc-rs are in the
    // dependency tree, so pick one explicitly (a no-op if the process already chose).
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let env = &ctx.env;
    let mut own_namespace = String::new();
    let (id, config) = if let Some(url) = &cfg.api_server {
        let uri: http::Uri = url.parse().map_err(|_| ClientError::BadUrl(url.clone()))?;
        let mut config = kube::Config::new(uri);
        apply_http(cfg, &mut config)?;
        (format!("api_server={url} http={:?}", cfg.http), config)
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
        (format!("kubeconfig={}", p.display()), config)
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
        let uri: http::Uri = url.parse().map_err(|_| ClientError::BadUrl(url.clone()))?;
        let mut config = kube::Config::new(uri);
        let sa = &env.service_account_dir;
        let token = sa.join("token");
        if token.exists() {
            token_file(&mut config, &token.display().to_string(), "Bearer")?;
        }
        let ca = sa.join("ca.crt");
        if ca.exists() {
            config.root_cert_file = Some(ca);
        }
        if cfg.namespaces.own_namespace {
            own_namespace = read(&sa.join("namespace"))?.trim().to_string();
            if own_namespace.is_empty() {
                return Err(ClientError::InCluster("own namespace file is empty".into()));
            }
        }
        (format!("in-cluster={url} sa={}", sa.display()), config)
    };
    let mut config = config;
    // Lists are bounded by this; watches by the watcher's own idle timeout.
    config.read_timeout = Some(Duration::from_secs(
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
            let c =
                kube::Client::try_from(config).map_err(|e| ClientError::Client(e.to_string()))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
    }
}
