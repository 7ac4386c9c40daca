//! Prometheus' lifecycle, prefix and agent-mode rules for the HTTP API:
//!
//! - `--web.enable-lifecycle` gates `POST`/`PUT /-/reload` and `/-/quit`; without it both
//!   answer 403 "Lifecycle API is not enabled." (Prometheus' text, no newline).
//! - `--web.route-prefix`: every route lives under the prefix; a bare `/` redirects to it.
//! - `--agent`: the query and browsing endpoints answer what Prometheus' agent answers
//!   (422, `errorType` `execution`, "unavailable with Prometheus Agent"; `/federate` 500
//!   "unsupported operation with WAL-only storage").

/// Prometheus' answer to `/-/reload` and `/-/quit` without `--web.enable-lifecycle`.
pub const LIFECYCLE_DISABLED: &str = "Lifecycle API is not enabled.";

/// Prometheus' answer to a `GET /-/quit`.
pub const QUIT_NEEDS_POST: &str = "Only POST or PUT requests allowed";

/// Prometheus' answer to a successful `/-/quit`.
pub const QUIT_ACCEPTED: &str = "Requesting termination... Goodbye!";

/// The API error Prometheus' agent gives for every query and browsing endpoint.
pub const AGENT_UNAVAILABLE: &str = "unavailable with Prometheus Agent";

/// The agent's `/federate` body (status 500).
pub const AGENT_FEDERATE: &str = "unsupported operation with WAL-only storage\n";

/// Endpoints Prometheus' agent refuses with [`AGENT_UNAVAILABLE`].
pub fn agent_refuses(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/query"
            | "/api/v1/query_range"
            | "/api/v1/query_exemplars"
            | "/api/v1/series"
            | "/api/v1/labels"
            | "/api/v1/rules"
            | "/api/v1/alerts"
            | "/api/v1/status/tsdb"
    ) || (path.starts_with("/api/v1/label/") && path.ends_with("/values"))
}

/// The `handler` label of a refused agent endpoint (its route, as Prometheus labels it).
pub fn agent_handler(path: &str) -> &'static str {
    const ROUTES: [&str; 8] = [
        "/api/v1/query",
        "/api/v1/query_range",
        "/api/v1/query_exemplars",
        "/api/v1/series",
        "/api/v1/labels",
        "/api/v1/rules",
        "/api/v1/alerts",
        "/api/v1/status/tsdb",
    ];
    ROUTES
        .iter()
        .find(|r| **r == path)
        .copied()
        .unwrap_or("/api/v1/label/:name/values")
}

/// A route prefix as Prometheus normalises it: leading slash, no trailing slash, `""` for
/// none (`/`, `""`).
pub fn normalize_prefix(prefix: &str) -> String {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        String::new()
    } else if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("/{p}")
    }
}

/// Where a request path goes under `prefix` (normalised).
#[derive(Debug, PartialEq, Eq)]
pub enum Routed<'a> {
    /// The path inside the prefix (`/` for the prefix itself).
    Inside(&'a str),
    /// A bare `/` outside the prefix: redirect to the prefix.
    RedirectToPrefix,
    /// Anything else outside the prefix.
    NotFound,
}

/// Strips `prefix` from `path`.
pub fn route_under<'a>(prefix: &str, path: &'a str) -> Routed<'a> {
    if prefix.is_empty() {
        return Routed::Inside(path);
    }
    match path.strip_prefix(prefix) {
        Some("") => Routed::Inside("/"),
        Some(rest) if rest.starts_with('/') => Routed::Inside(rest),
        _ if path == "/" => Routed::RedirectToPrefix,
        _ => Routed::NotFound,
    }
}

/// The path of `--web.external-url` (`http://host:9090/prom/` → `/prom`), which is also the
/// default route prefix.
pub fn external_path(url: &str) -> Result<String, String> {
    let rest = url
        .split_once("://")
        .map(|(_, r)| r)
        .ok_or_else(|| format!("--web.external-url {url:?}: not an absolute URL"))?;
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("");
    Ok(normalize_prefix(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_routing() {
        assert_eq!(normalize_prefix("/"), "");
        assert_eq!(normalize_prefix("prom/"), "/prom");
        assert_eq!(route_under("", "/metrics"), Routed::Inside("/metrics"));
        assert_eq!(
            route_under("/prom", "/prom/metrics"),
            Routed::Inside("/metrics")
        );
        assert_eq!(route_under("/prom", "/prom"), Routed::Inside("/"));
        assert_eq!(route_under("/prom", "/"), Routed::RedirectToPrefix);
        assert_eq!(route_under("/prom", "/metrics"), Routed::NotFound);
        assert_eq!(route_under("/prom", "/prometheus/x"), Routed::NotFound);
        assert_eq!(external_path("http://h:9090/prom/").unwrap(), "/prom");
        assert_eq!(external_path("https://h").unwrap(), "");
        assert!(external_path("h:9090").is_err());
    }

    #[test]
    fn agent_refusals() {
        assert!(agent_refuses("/api/v1/query"));
        assert!(agent_refuses("/api/v1/label/job/values"));
        assert!(!agent_refuses("/api/v1/targets"));
        assert!(!agent_refuses("/api/v1/metadata"));
    }
}
