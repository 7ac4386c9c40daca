//! The HTTP server: Prometheus' endpoints over the embedded store and the scrape state.
//!
//! | path | what |
//! |---|---|
//! | `GET /metrics` | HTTP request counts plus every registered [`MetricsSource`] (register the store, the remote-write set, …) |
//! | `GET /metrics/cadvisor` | the body of the registered cAdvisor callback ([`Api::with_cadvisor`]) |
//! | `GET /-/healthy`, `GET /-/ready` | liveness and readiness (see [`Api::ready_flag`]) |
//! | `POST`/`PUT /-/reload` | calls the reload callback ([`Api::with_reload`]) |
//! | `GET /api/v1/targets` | Prometheus' target JSON, `state` and `scrapePool` parameters |
//! | `GET`/`POST /api/v1/query`, `/api/v1/query_range` | selectors only, see [`query`] |
//! | `GET`/`POST /api/v1/series`, `/api/v1/labels`, `GET /api/v1/label/<name>/values` | browsing |
//! | `GET /api/v1/status/buildinfo` | version info (Grafana probes it) |
//! | `GET /federate?match[]=…` | newest sample per series, text format |
//! | `GET /targets` | HTML target list, no JavaScript |
//!
//! Responses follow Prometheus byte for byte where clients parse them (JSON envelope
//! `{"status":"success","data":…}` / `{"status":"error","errorType":"bad_data","error":…}`
//! with Prometheus' status codes).

pub mod federate;
pub mod form;
pub mod json;
pub mod query;
pub mod targets;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use scrapeline_exposition::Labels;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::store::{Matcher, Store};
pub use targets::{DroppedTargetInfo, Health, NoTargets, TargetInfo, TargetsSource};

/// The reload callback: re-reads the configuration; `Err` carries the reason for the client.
pub type ReloadFn =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// A callback producing a whole response body (used for `/metrics/cadvisor`); it runs on a
/// blocking thread, so it may read files.
pub type BodyFn = Arc<dyn Fn() -> Result<Vec<u8>, String> + Send + Sync>;

/// Extra GET routes (the resource metrics APIs): given the path and the query string, the
/// status, content type and body, or `None` for paths it does not serve.
pub type RouteFn =
    Arc<dyn Fn(&str, Option<&str>) -> Option<(u16, &'static str, Vec<u8>)> + Send + Sync>;

/// Anything that adds lines to `/metrics` (remote-write queues, the scrape manager, …).
pub trait MetricsSource: Send + Sync {
    /// Appends complete metric families in the text format.
    fn write_metrics(&self, out: &mut String);
}

impl<F: Fn(&mut String) + Send + Sync> MetricsSource for F {
    fn write_metrics(&self, out: &mut String) {
        self(out)
    }
}

/// What `/api/v1/status/buildinfo` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// A Prometheus-compatible version: Grafana picks API features from it.
    pub version: String,
    /// Source revision.
    pub revision: String,
    /// Source branch.
    pub branch: String,
    /// Who built it.
    pub build_user: String,
    /// When it was built.
    pub build_date: String,
    /// The toolchain (`goVersion` in Prometheus' JSON).
    pub go_version: String,
}

impl Default for BuildInfo {
    fn default() -> Self {
        BuildInfo {
            version: concat!("3.0.0+mini-prometheus.", env!("CARGO_PKG_VERSION")).to_owned(),
            revision: String::new(),
            branch: String::new(),
            build_user: String::new(),
            build_date: String::new(),
            go_version: "rust".to_owned(),
        }
    }
}

/// The most bytes of a request body the API reads (POSTed queries).
const MAX_BODY: usize = 1 << 20;
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The API server; build it with the `with_*` methods, then [`Api::serve`].
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    targets: Arc<dyn TargetsSource>,
    reload: Option<ReloadFn>,
    metrics: Vec<Arc<dyn MetricsSource>>,
    cadvisor: Option<BodyFn>,
    routes: Vec<RouteFn>,
    ready: Arc<AtomicBool>,
    build: BuildInfo,
    external_labels: Labels,
    lookback_ms: i64,
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
}

impl Api {
    /// An API over `store`, with no targets, no reload callback and no extra metrics.
    pub fn new(store: Store) -> Api {
        Api {
            inner: Arc::new(Inner {
                store,
                targets: Arc::new(NoTargets),
                reload: None,
                metrics: Vec::new(),
                cadvisor: None,
                routes: Vec::new(),
                ready: Arc::new(AtomicBool::new(true)),
                build: BuildInfo::default(),
                external_labels: Labels::empty(),
                lookback_ms: query::DEFAULT_LOOKBACK.as_millis() as i64,
                requests: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Api {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            f(inner);
        }
        self
    }

    /// Where `/api/v1/targets` and `/targets` read target state.
    pub fn with_targets(self, targets: Arc<dyn TargetsSource>) -> Api {
        self.edit(|i| i.targets = targets)
    }

    /// The callback `POST /-/reload` runs (without one, reload answers 500).
    pub fn with_reload(self, reload: ReloadFn) -> Api {
        self.edit(|i| i.reload = Some(reload))
    }

    /// Adds a source of lines for `/metrics`.
    pub fn with_metrics(self, source: Arc<dyn MetricsSource>) -> Api {
        self.edit(|i| i.metrics.push(source))
    }

    /// Serves `/metrics/cadvisor` from `body` (404 without one).
    pub fn with_cadvisor(self, body: BodyFn) -> Api {
        self.edit(|i| i.cadvisor = Some(body))
    }

    /// Adds GET routes served after the built-in ones (`/stats/summary`, `metrics.k8s.io`).
    pub fn with_routes(self, routes: RouteFn) -> Api {
        self.edit(|i| i.routes.push(routes))
    }

    /// Labels `/federate` adds to series that lack them (the config's `external_labels`).
    pub fn with_external_labels(self, labels: Labels) -> Api {
        self.edit(|i| i.external_labels = labels)
    }

    /// The flag `/-/ready` reports (initially true); clear it while starting or draining.
    pub fn ready_flag(&self) -> Arc<AtomicBool> {
        self.inner.ready.clone()
    }

    /// Serves connections from `listener` until `cancel` fires, then lets open requests
    /// finish for up to 5 s.
    pub async fn serve(self, listener: TcpListener, cancel: CancellationToken) {
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30));
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        loop {
            let (stream, _) = tokio::select! {
                _ = cancel.cancelled() => break,
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting an HTTP connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let api = self.clone();
            let svc = hyper::service::service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(api.handle(req).await) }
            });
            let conn = builder
                .serve_connection(TokioIo::new(stream), svc)
                .into_owned();
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "HTTP connection ended with an error");
                }
            });
        }
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {
                tracing::warn!("HTTP connections still open after 5s; closing them");
            }
        }
    }

    /// Answers one request (the whole router; tests call it directly).
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = req.uri().path().to_owned();
        let (handler, resp) = self.route(req, &path).await;
        if let Ok(mut m) = self.inner.requests.lock() {
            *m.entry((handler, resp.status().as_u16())).or_insert(0) += 1;
        }
        resp
    }

    async fn route<B>(&self, req: Request<B>, path: &str) -> (&'static str, Response<Full<Bytes>>)
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let method = req.method().clone();
        let get = method == Method::GET || method == Method::HEAD;
        match path {
            "/metrics" if get => ("/metrics", self.metrics()),
            "/metrics/cadvisor" if get => ("/metrics/cadvisor", self.cadvisor().await),
            "/-/healthy" if get => (
                "/-/healthy",
                text(StatusCode::OK, "Prometheus Server is Healthy.\n"),
            ),
            "/-/ready" if get => ("/-/ready", self.ready()),
            "/-/reload" => ("/-/reload", self.reload(&method).await),
            "/federate" if get => ("/federate", self.federate(req).await),
            "/targets" if get => (
                "/targets",
                html(targets::render_html(
                    self.inner.targets.as_ref(),
                    SystemTime::now(),
                )),
            ),
            "/" if get => ("/", redirect("/targets")),
            "/api/v1/targets" if get => ("/api/v1/targets", self.targets_json(req)),
            "/api/v1/status/buildinfo" if get => ("/api/v1/status/buildinfo", self.buildinfo()),
            // Grafana asks for these while browsing; there are no rules, alerts, exemplars or
            // metadata here, which Prometheus' empty answers say exactly.
            "/api/v1/metadata" if get => ("/api/v1/metadata", api_success("{}")),
            "/api/v1/rules" if get => ("/api/v1/rules", api_success(r#"{"groups":[]}"#)),
            "/api/v1/alerts" if get => ("/api/v1/alerts", api_success(r#"{"alerts":[]}"#)),
            "/api/v1/query_exemplars" if get || method == Method::POST => {
                ("/api/v1/query_exemplars", api_success("[]"))
            }
            "/api/v1/query" | "/api/v1/query_range" | "/api/v1/series" | "/api/v1/labels"
                if get || method == Method::POST =>
            {
                let h: &'static str = match path {
                    "/api/v1/query" => "/api/v1/query",
                    "/api/v1/query_range" => "/api/v1/query_range",
                    "/api/v1/series" => "/api/v1/series",
                    _ => "/api/v1/labels",
                };
                let params = match params(req).await {
                    Ok(p) => p,
                    Err(e) => return (h, api_error("bad_data", &e)),
                };
                let resp = match h {
                    "/api/v1/query" => self.query(&params),
                    "/api/v1/query_range" => self.query_range(&params),
                    "/api/v1/series" => self.series(&params),
                    _ => self.labels(&params),
                };
                (h, resp)
            }
            p if get
                && let Some(raw) = p
                    .strip_prefix("/api/v1/label/")
                    .and_then(|r| r.strip_suffix("/values")) =>
            {
                let name = form::parse(&format!("n={raw}"))
                    .pop()
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                let params = match params(req).await {
                    Ok(p) => p,
                    Err(e) => return ("/api/v1/label/:name/values", api_error("bad_data", &e)),
                };
                (
                    "/api/v1/label/:name/values",
                    self.label_values(&name, &params),
                )
            }
            p if get
                && let Some((code, content_type, body)) = self
                    .inner
                    .routes
                    .iter()
                    .find_map(|r| r(p, req.uri().query())) =>
            {
                let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let resp = Response::builder()
                    .status(code)
                    .header(hyper::header::CONTENT_TYPE, content_type)
                    .body(Full::new(Bytes::from(body)))
                    .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "response\n"));
                ("extra", resp)
            }
            _ => ("other", text(StatusCode::NOT_FOUND, "404 page not found\n")),
        }
    }

    fn metrics(&self) -> Response<Full<Bytes>> {
        use std::fmt::Write;
        let mut out = String::with_capacity(8192);
        if let Ok(m) = self.inner.requests.lock() {
            out.push_str("# HELP scrapeline_http_requests_total HTTP requests served, by handler and status code.\n");
            out.push_str("# TYPE scrapeline_http_requests_total counter\n");
            for ((h, code), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "scrapeline_http_requests_total{{code=\"{code}\",handler=\"{h}\"}} {n}"
                );
            }
        }
        for m in &self.inner.metrics {
            m.write_metrics(&mut out);
        }
        with_type(text(StatusCode::OK, out), TEXT_FORMAT)
    }

    async fn cadvisor(&self) -> Response<Full<Bytes>> {
        let Some(f) = self.inner.cadvisor.clone() else {
            return text(StatusCode::NOT_FOUND, "404 page not found\n");
        };
        match tokio::task::spawn_blocking(move || f()).await {
            Ok(Ok(body)) => with_type(Response::new(Full::new(Bytes::from(body))), TEXT_FORMAT),
            Ok(Err(e)) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("collecting cgroup metrics failed: {e}\n"),
            ),
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("collecting cgroup metrics failed: {e}\n"),
            ),
        }
    }

    fn ready(&self) -> Response<Full<Bytes>> {
        if self.inner.ready.load(Ordering::Acquire) {
            text(StatusCode::OK, "Prometheus Server is Ready.\n")
        } else {
            text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n")
        }
    }

    async fn reload(&self, method: &Method) -> Response<Full<Bytes>> {
        if method != Method::POST && method != Method::PUT {
            return text(
                StatusCode::METHOD_NOT_ALLOWED,
                "This endpoint requires a POST or PUT request.\n",
            );
        }
        let Some(f) = self.inner.reload.clone() else {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "failed to reload config: reloading is not available\n",
            );
        };
        match f().await {
            Ok(()) => text(StatusCode::OK, ""),
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload config: {e}\n"),
            ),
        }
    }

    async fn federate<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let params = match params(req).await {
            Ok(p) => p,
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("error parsing form values: {e}\n"),
                );
            }
        };
        let mut sets = Vec::new();
        for (_, m) in params.iter().filter(|(k, _)| k == "match[]") {
            match query::parse_selector(m) {
                Ok(s) => sets.push(s),
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
            }
        }
        let mut out = String::new();
        federate::write(
            &self.inner.store,
            &sets,
            now_ms(),
            self.inner.lookback_ms,
            &self.inner.external_labels,
            &mut out,
        );
        with_type(text(StatusCode::OK, out), TEXT_FORMAT)
    }

    fn targets_json<B>(&self, req: Request<B>) -> Response<Full<Bytes>> {
        let q = form::parse(req.uri().query().unwrap_or(""));
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let mut out = String::new();
        targets::write_json(
            self.inner.targets.as_ref(),
            get("state").unwrap_or(""),
            get("scrapePool").filter(|p| !p.is_empty()),
            &mut out,
        );
        api_success(&out)
    }

    fn buildinfo(&self) -> Response<Full<Bytes>> {
        let b = &self.inner.build;
        let mut out = String::from("{");
        for (i, (k, v)) in [
            ("version", &b.version),
            ("revision", &b.revision),
            ("branch", &b.branch),
            ("buildUser", &b.build_user),
            ("buildDate", &b.build_date),
            ("goVersion", &b.go_version),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            json::string(&mut out, k);
            out.push(':');
            json::string(&mut out, v);
        }
        out.push('}');
        api_success(&out)
    }

    fn query(&self, p: &[(String, String)]) -> Response<Full<Bytes>> {
        let q = match parse_query_param(p) {
            Ok(q) => q,
            Err(e) => return api_error("bad_data", &e),
        };
        let t = match time_param(p, "time", now_ms()) {
            Ok(t) => t,
            Err(e) => return api_error("bad_data", &e),
        };
        let mut out = String::new();
        query::instant(&self.inner.store, &q, t, self.inner.lookback_ms, &mut out);
        api_success(&out)
    }

    fn query_range(&self, p: &[(String, String)]) -> Response<Full<Bytes>> {
        let run = || -> Result<String, String> {
            let start = required_time(p, "start")?;
            let end = required_time(p, "end")?;
            if end < start {
                return Err(
                    "invalid parameter \"end\": end timestamp must not be before start time"
                        .to_owned(),
                );
            }
            let step = match param(p, "step") {
                None | Some("") => {
                    return Err(
                        "invalid parameter \"step\": cannot parse \"\" to a valid duration"
                            .to_owned(),
                    );
                }
                Some(s) => query::parse_duration(s)
                    .map_err(|e| format!("invalid parameter \"step\": {e}"))?,
            };
            if step <= 0 {
                return Err("invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer".to_owned());
            }
            if end.saturating_sub(start) / step > query::MAX_POINTS {
                return Err("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".to_owned());
            }
            let q = parse_query_param(p)?;
            let mut out = String::new();
            query::range(
                &self.inner.store,
                &q,
                start,
                end,
                step,
                self.inner.lookback_ms,
                &mut out,
            )
            .map_err(|e| format!("invalid parameter \"query\": {e}"))?;
            Ok(out)
        };
        match run() {
            Ok(out) => api_success(&out),
            Err(e) => api_error("bad_data", &e),
        }
    }

    fn browse_args(&self, p: &[(String, String)]) -> Result<(Vec<Vec<Matcher>>, i64, i64), String> {
        let mut sets = Vec::new();
        for (_, m) in p.iter().filter(|(k, _)| k == "match[]") {
            sets.push(
                query::parse_selector(m)
                    .map_err(|e| format!("invalid parameter \"match[]\": {e}"))?,
            );
        }
        let start = time_param(p, "start", i64::MIN)?;
        let end = time_param(p, "end", i64::MAX)?;
        Ok((sets, start, end))
    }

    fn series(&self, p: &[(String, String)]) -> Response<Full<Bytes>> {
        if !p.iter().any(|(k, _)| k == "match[]") {
            return api_error("bad_data", "no match[] parameter provided");
        }
        let (sets, start, end) = match self.browse_args(p) {
            Ok(x) => x,
            Err(e) => return api_error("bad_data", &e),
        };
        let mut out = String::from("[");
        for (i, l) in self
            .inner
            .store
            .series(&sets, start, end)
            .iter()
            .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            json::labels(&mut out, l);
        }
        out.push(']');
        api_success(&out)
    }

    fn labels(&self, p: &[(String, String)]) -> Response<Full<Bytes>> {
        let (sets, start, end) = match self.browse_args(p) {
            Ok(x) => x,
            Err(e) => return api_error("bad_data", &e),
        };
        api_success(&string_array(
            &self.inner.store.label_names(&sets, start, end),
        ))
    }

    fn label_values(&self, name: &str, p: &[(String, String)]) -> Response<Full<Bytes>> {
        if name.is_empty() {
            return api_error("bad_data", &format!("invalid label name: {name:?}"));
        }
        let (sets, start, end) = match self.browse_args(p) {
            Ok(x) => x,
            Err(e) => return api_error("bad_data", &e),
        };
        api_success(&string_array(
            &self.inner.store.label_values(name, &sets, start, end),
        ))
    }
}

fn string_array(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::string(&mut out, s);
    }
    out.push(']');
    out
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn parse_query_param(p: &[(String, String)]) -> Result<query::Query, String> {
    let q = param(p, "query").unwrap_or("");
    query::parse(q).map_err(|e| format!("invalid parameter \"query\": {e}"))
}

fn time_param(p: &[(String, String)], name: &str, default: i64) -> Result<i64, String> {
    match param(p, name) {
        None | Some("") => Ok(default),
        Some(s) => query::parse_time(s).map_err(|e| format!("invalid parameter \"{name}\": {e}")),
    }
}

fn required_time(p: &[(String, String)], name: &str) -> Result<i64, String> {
    let s = param(p, name).unwrap_or("");
    query::parse_time(s).map_err(|e| format!("invalid parameter \"{name}\": {e}"))
}

/// The request's parameters: query string, then a urlencoded POST body.
async fn params<B>(req: Request<B>) -> Result<Vec<(String, String)>, String>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut out = form::parse(req.uri().query().unwrap_or(""));
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if req.method() == Method::POST && is_form {
        let body = Limited::new(req.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("reading the request body failed: {e}"))?
            .to_bytes();
        out.extend(form::parse(&String::from_utf8_lossy(&body)));
    }
    Ok(out)
}

fn now_ms() -> i64 {
    query::system_time_ms(SystemTime::now())
}

fn text(code: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.into())));
    *r.status_mut() = code;
    with_type(r, "text/plain; charset=utf-8")
}

fn html(body: String) -> Response<Full<Bytes>> {
    with_type(text(StatusCode::OK, body), "text/html; charset=utf-8")
}

fn redirect(to: &'static str) -> Response<Full<Bytes>> {
    let mut r = text(StatusCode::FOUND, "");
    r.headers_mut()
        .insert(header::LOCATION, http::HeaderValue::from_static(to));
    r
}

fn with_type(mut r: Response<Full<Bytes>>, ct: &'static str) -> Response<Full<Bytes>> {
    r.headers_mut()
        .insert(header::CONTENT_TYPE, http::HeaderValue::from_static(ct));
    r
}

fn api_success(data: &str) -> Response<Full<Bytes>> {
    let body = format!(r#"{{"status":"success","data":{data}}}"#);
    with_type(text(StatusCode::OK, body), "application/json")
}

/// Prometheus' error envelope and the status code its `errorType` maps to.
fn api_error(kind: &str, message: &str) -> Response<Full<Bytes>> {
    let code = match kind {
        "bad_data" => StatusCode::BAD_REQUEST,
        "execution" => StatusCode::UNPROCESSABLE_ENTITY,
        "canceled" | "timeout" | "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "not_found" => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut body = String::from(r#"{"status":"error","errorType":"#);
    json::string(&mut body, kind);
    body.push_str(r#","error":"#);
    json::string(&mut body, message);
    body.push('}');
    with_type(text(code, body), "application/json")
}

#[cfg(test)]
mod browser_tests;
#[cfg(test)]
mod tests;
