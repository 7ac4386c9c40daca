//! `--web.config.file`, in Prometheus' exporter-toolkit format: TLS on the listener
//! (`tls_server_config`) and HTTP basic auth with bcrypt-hashed passwords
//! (`basic_auth_users`).
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert   # or NoClientCert, VerifyClientCertIfGiven
//!   client_ca_file: ca.crt
//!   min_version: TLS12                             # or TLS13
//! basic_auth_users:
//!   alice: $2y$10$...
//! ```
//!
//! Relative file names are resolved against the config file's folder, as exporter-toolkit
//! does. Unknown keys are errors (exporter-toolkit reads the file strictly), so a typo fails
//! at startup instead of leaving the listener open.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde::Deserialize;

/// The web flags the API needs from the command line.
#[derive(Debug, Clone, Default)]
pub struct WebOptions {
    /// `--web.enable-lifecycle`.
    pub enable_lifecycle: bool,
    /// `--web.external-url`.
    pub external_url: Option<String>,
    /// `--web.route-prefix` (default: the external URL's path).
    pub route_prefix: Option<String>,
    /// `--web.config.file`.
    pub config_file: Option<PathBuf>,
}

/// Why a web config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML is invalid or has unknown keys.
    #[error("parsing {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// The settings do not make a usable listener.
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    /// Accepted and not used (response headers, HTTP/2 switch).
    #[serde(default)]
    #[allow(dead_code)]
    http_server_config: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default)]
    cert_file: String,
    #[serde(default)]
    key_file: String,
    #[serde(default)]
    client_auth_type: String,
    #[serde(default)]
    client_ca_file: String,
    #[serde(default)]
    min_version: String,
    #[serde(default)]
    max_version: String,
    #[serde(default)]
    #[allow(dead_code)]
    cipher_suites: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    curve_preferences: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    prefer_server_cipher_suites: Option<bool>,
}

/// A loaded web config: what the listener and the router apply.
#[derive(Clone, Default)]
pub struct WebConfig {
    /// TLS for every accepted connection, when configured.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Basic auth, when users are configured.
    pub auth: Option<Arc<BasicAuth>>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("auth", &self.auth.is_some())
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks `path`: certificates and keys are loaded now, so that every
    /// problem shows at startup.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_saphyr::from_str(&text).map_err(|e| WebConfigError::Parse {
                path: shown.clone(),
                message: e.to_string(),
            })?
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let tls = match raw.tls_server_config {
            Some(t) => Some(tls_acceptor(&t, dir)?),
            None => None,
        };
        let auth = if raw.basic_auth_users.is_empty() {
            None
        } else {
            for (user, hash) in &raw.basic_auth_users {
                if bcrypt_cost(hash).is_none() {
                    return Err(WebConfigError::Invalid(format!(
                        "basic_auth_users: the password of {user:?} is not a bcrypt hash"
                    )));
                }
            }
            Some(Arc::new(BasicAuth {
                users: raw.basic_auth_users,
                verified: Mutex::new(HashSet::new()),
            }))
        };
        Ok(WebConfig { tls, auth })
    }
}

/// The cost of a bcrypt hash (`$2y$10$…`), if it is one.
fn bcrypt_cost(hash: &str) -> Option<u32> {
    let mut parts = hash.split('$');
    let (empty, version, cost, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let ok = empty.is_empty()
        && matches!(version, "2a" | "2b" | "2x" | "2y")
        && rest.len() == 53
        && parts.next().is_none();
    ok.then(|| cost.parse().ok()).flatten()
}

fn resolve(dir: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        p.to_owned()
    } else {
        dir.join(p)
    }
}

fn read_pem(dir: &Path, file: &str, what: &str) -> Result<Vec<u8>, WebConfigError> {
    let path = resolve(dir, file);
    std::fs::read(&path)
        .map_err(|e| WebConfigError::Invalid(format!("{what} {}: {e}", path.display())))
}

fn tls_acceptor(t: &RawTls, dir: &Path) -> Result<tokio_rustls::TlsAcceptor, WebConfigError> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |m: String| WebConfigError::Invalid(m);
    if t.cert_file.is_empty() {
        return Err(invalid("missing cert_file".to_owned()));
    }
    if t.key_file.is_empty() {
        return Err(invalid("missing key_file".to_owned()));
    }
    let cert_pem = read_pem(dir, &t.cert_file, "cert_file")?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(format!("cert_file {}: {e}", t.cert_file)))?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "cert_file {}: no certificate found",
            t.cert_file
        )));
    }
    let key_pem = read_pem(dir, &t.key_file, "key_file")?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| invalid(format!("key_file {}: {e}", t.key_file)))?
        .ok_or_else(|| invalid(format!("key_file {}: no private key found", t.key_file)))?;

    let versions: Vec<&'static rustls::SupportedProtocolVersion> = {
        let rank = |v: &str, field: &str| -> Result<u8, WebConfigError> {
            match v {
                "" => Ok(0),
                "TLS12" => Ok(12),
                "TLS13" => Ok(13),
                "TLS10" | "TLS11" => Err(invalid(format!(
                    "{field} {v}: only TLS12 and TLS13 are supported"
                ))),
                other => Err(invalid(format!("unknown TLS version: {other}"))),
            }
        };
        let min = rank(&t.min_version, "min_version")?.max(12);
        let max = match rank(&t.max_version, "max_version")? {
            0 => 13,
            m => m,
        };
        if min > max {
            return Err(invalid(
                "max_version must be at least min_version".to_owned(),
            ));
        }
        let mut v = Vec::new();
        if min <= 12 {
            v.push(&rustls::version::TLS12);
        }
        if max >= 13 {
            v.push(&rustls::version::TLS13);
        }
        v
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| invalid(format!("TLS versions: {e}")))?;
    let client_roots = || -> Result<Arc<rustls::RootCertStore>, WebConfigError> {
        if t.client_ca_file.is_empty() {
            return Err(invalid(format!(
                "client_auth_type {} needs client_ca_file",
                t.client_auth_type
            )));
        }
        let pem = read_pem(dir, &t.client_ca_file, "client_ca_file")?;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut pem.as_slice()) {
            let c = c.map_err(|e| invalid(format!("client_ca_file {}: {e}", t.client_ca_file)))?;
            roots
                .add(c)
                .map_err(|e| invalid(format!("client_ca_file {}: {e}", t.client_ca_file)))?;
        }
        Ok(Arc::new(roots))
    };
    let verifier = |roots: Arc<rustls::RootCertStore>, optional: bool| {
        let b =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
        let b = if optional {
            b.allow_unauthenticated()
        } else {
            b
        };
        b.build()
            .map_err(|e| invalid(format!("client_ca_file {}: {e}", t.client_ca_file)))
    };
    let builder = match t.client_auth_type.as_str() {
        "" | "NoClientCert" => {
            if !t.client_ca_file.is_empty() {
                return Err(invalid(
                    "Client CA's have been configured without a Client Auth Policy".to_owned(),
                ));
            }
            builder.with_no_client_auth()
        }
        "RequireAndVerifyClientCert" => {
            builder.with_client_cert_verifier(verifier(client_roots()?, false)?)
        }
        "VerifyClientCertIfGiven" => {
            builder.with_client_cert_verifier(verifier(client_roots()?, true)?)
        }
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(invalid(format!(
                "client_auth_type {}: client certificates are only accepted verified \
                 (use VerifyClientCertIfGiven or RequireAndVerifyClientCert)",
                t.client_auth_type
            )));
        }
        other => return Err(invalid(format!("Invalid ClientAuth: {other}"))),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| invalid(format!("cert_file/key_file: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// `basic_auth_users`: user name to bcrypt hash, with a cache of verified credentials (a
/// bcrypt check costs tens of milliseconds; exporter-toolkit caches the same way).
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    verified: Mutex<HashSet<(String, String)>>,
}

/// At most this many verified credentials are cached.
const MAX_CACHED: usize = 1024;

impl BasicAuth {
    /// Whether an `Authorization` header value carries a configured user's password.
    /// Runs bcrypt: call it off the async workers.
    pub fn check(&self, authorization: Option<&str>) -> bool {
        let Some((user, pass)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let Some(hash) = self.users.get(&user) else {
            // Spend the same time as for a known user, so timing does not tell names.
            let _ = bcrypt::verify(
                &pass,
                "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi",
            );
            return false;
        };
        let key = (user, pass);
        if self
            .verified
            .lock()
            .map(|v| v.contains(&key))
            .unwrap_or(false)
        {
            return true;
        }
        let ok = bcrypt::verify(&key.1, hash).unwrap_or(false);
        if ok && let Ok(mut v) = self.verified.lock() {
            if v.len() >= MAX_CACHED {
                v.clear();
            }
            v.insert(key);
        }
        ok
    }
}

/// `Basic base64(user:password)`.
fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, b64) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn basic_auth_checks_bcrypt_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let p = write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
        );
        let c = WebConfig::load(&p).unwrap();
        assert!(c.tls.is_none());
        let auth = c.auth.unwrap();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert!(auth.check(Some(&format!("Basic {}", b64("alice:s3cret")))));
        // Cached the second time, same answer.
        assert!(auth.check(Some(&format!("Basic {}", b64("alice:s3cret")))));
        assert!(!auth.check(Some(&format!("Basic {}", b64("alice:wrong")))));
        assert!(!auth.check(Some(&format!("Basic {}", b64("bob:s3cret")))));
        assert!(!auth.check(Some("Bearer x")));
        assert!(!auth.check(None));
    }

    #[test]
    fn invalid_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "tls_server_config:\n  cert_file: a.crt\n",
                "missing key_file",
            ),
            (
                "basic_auth_users:\n  alice: plain\n",
                "is not a bcrypt hash",
            ),
            ("tls_server_confg: {}\n", "tls_server_confg"),
            (
                "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n",
                "cert_file ",
            ),
        ];
        for (text, want) in cases {
            let p = write(dir.path(), "web.yml", text);
            let e = WebConfig::load(&p).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let e = WebConfig::load(&dir.path().join("missing.yml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("reading "), "{e}");
        // An empty file is a valid, empty config.
        let p = write(dir.path(), "web.yml", "");
        let c = WebConfig::load(&p).unwrap();
        assert!(c.tls.is_none() && c.auth.is_none());
    }
}
