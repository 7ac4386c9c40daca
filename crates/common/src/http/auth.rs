//! The `Authorization` request header from `basic_auth`, `authorization` or `bearer_token`
//! (`_file`), as Prometheus' round trippers build it: credential files are read again for every
//! request (so rotated tokens are picked up) and trimmed.

use base64::Engine as _;
use http::HeaderValue;

use super::config::HttpClientConfig;

/// Why the `Authorization` header could not be built: an unreadable credentials file, or
/// credentials that cannot be sent in a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

fn read_trimmed(path: &str, what: &str) -> Result<String, AuthError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| AuthError(format!("unable to read {what}: open {path}: {e}")))
}

fn header(value: String) -> Result<HeaderValue, AuthError> {
    let mut v = HeaderValue::try_from(value).map_err(|_| {
        AuthError("credentials contain characters not allowed in a header".to_owned())
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// `Basic base64(user:pass)`, Go's `SetBasicAuth`.
pub fn basic_auth_value(user: &str, pass: &str) -> Result<HeaderValue, AuthError> {
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    header(format!("Basic {enc}"))
}

/// The `Authorization` header `cfg` asks for, `None` without authentication. Works on a
/// config before or after [`HttpClientConfig::validate`] (which moves `bearer_token` into
/// `authorization`); `authorization.type` defaults to `Bearer`. Files are read now: call it
/// for every request.
pub fn authorization_header(cfg: &HttpClientConfig) -> Result<Option<HeaderValue>, AuthError> {
    if let Some(b) = &cfg.basic_auth {
        let user = if b.username_file.is_empty() {
            b.username.clone()
        } else {
            read_trimmed(&b.username_file, "basic auth username file")?
        };
        let pass = if b.password_file.is_empty() {
            b.password.expose().to_owned()
        } else {
            read_trimmed(&b.password_file, "basic auth password file")?
        };
        return basic_auth_value(&user, &pass).map(Some);
    }
    let (kind, credentials, file) = match &cfg.authorization {
        Some(a) => (
            a.kind.trim(),
            a.credentials.expose(),
            a.credentials_file.as_str(),
        ),
        None if !cfg.bearer_token.is_empty() || !cfg.bearer_token_file.is_empty() => (
            "Bearer",
            cfg.bearer_token.expose(),
            cfg.bearer_token_file.as_str(),
        ),
        None => return Ok(None),
    };
    let kind = if kind.is_empty() { "Bearer" } else { kind };
    let credentials = if file.is_empty() {
        credentials.to_owned()
    } else {
        read_trimmed(file, "authorization credentials")?
    };
    header(format!("{kind} {credentials}")).map(Some)
}
