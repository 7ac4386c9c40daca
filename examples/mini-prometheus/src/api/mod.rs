//! The HTTP server: Prometheus' endpoints over the embedded store and the scrape state.
//!
//! | path | what |
//! |---|---|
//! | `GET /metrics` | HTTP request counts and latencies, build info, readiness, plus every registered [`MetricsSource`] (register the store, the remote-write set, …) |
//! | `GET /metrics/cadvisor` | the body of the registered cAdvisor callback ([`Api::with_cadvisor`]) |
//! | `GET /-/healthy`, `GET /-/ready` | liveness and readiness (see [`Api::ready_flag`]) |
//! | `POST`/`PUT /-/reload`, `/-/quit` | the reload callback ([`Api::with_reload`]), graceful shutdown; 403 unless [`Api::with_lifecycle`] enables them |
//! | `GET /api/v1/targets` | Prometheus' target JSON, `state` and `scrapePool` parameters; failed targets in `droppedTargets` with `error`, see [`targets`] |
//! | `GET`/`POST /api/v1/query`, `/api/v1/query_range` | selectors only, see [`query`] |
//! | `GET`/`POST /api/v1/series`, `/api/v1/labels`, `GET /api/v1/label/<name>/values` | browsing |
//! | `GET /api/v1/status/buildinfo` | version info (Grafana probes it) |
//! | `GET /api/v1/status/{config,flags,runtimeinfo,tsdb}` | the server's own state, see [`status`] |
//! | `GET /api/v1/metadata`, `/api/v1/targets/metadata` | `# TYPE`/`# HELP`/`# UNIT` per target, see [`metadata`] |
//! | `GET /graph` | expression browser: table and chart, see [`graph`] |
//! | `GET /federate?match[]=…` | newest sample per series, text format |
//! | `GET /targets` | HTML target list, no JavaScript |
//!
//! Query work runs on blocking threads, at most [`QueryLimits::max_concurrency`] at once, each
//! with a deadline and a sample cap ([`QueryLimits`]), and stops when the server shuts down or
//! the client goes away; query text passes a cheap [`guard`] before it is parsed. At most
//! [`Api::with_max_connections`] connections are served at once (more wait in the listen
//! queue), and a connection idle for [`Api::with_idle_timeout`] is closed.
//!
//! Every route lives under [`Api::with_prefix`]'s route prefix; [`Api::with_web_config`]
//! puts TLS and basic auth in front of all of them; [`Api::with_agent`] makes the query
//! endpoints answer as Prometheus' agent does (see [`lifecycle`]).
//!
//! Responses follow Prometheus byte for byte where clients parse them (JSON envelope
//! `{"status":"success","data":…}` / `{"status":"error","errorType":"bad_data","error":…}`
//! with Prometheus' status codes).

pub mod federate;
pub mod form;
pub mod graph;
pub mod guard;
pub mod http_metrics;
pub mod json;
pub mod lifecycle;
pub mod limits;
pub mod metadata;
pub mod query;
pub mod status;
pub mod targets;
pub mod webconfig;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use scrapeline_exposition::Labels;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::store::{Matcher, ReadBudget, ReadError, Store};
pub use limits::QueryLimits;
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
    /// The toolchain (`goVersion` in Prometheus' JSON): the `rustc --version` that built it.
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
            go_version: env!("MINI_PROMETHEUS_RUSTC_VERSION").to_owned(),
        }
    }
}

/// The most bytes of a request body the API reads (POSTed queries).
const MAX_BODY: usize = 1 << 20;
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Prometheus' `--web.max-connections` default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// How long a connection may sit without sending a request before it is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

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
    http_metrics: http_metrics::HttpMetrics,
    limits: QueryLimits,
    /// One permit per query allowed to run at once.
    query_slots: Arc<Semaphore>,
    /// Fired at shutdown: running queries stop.
    query_cancel: CancellationToken,
    /// 0: no limit.
    max_connections: usize,
    idle_timeout: Duration,
    /// Flags, config and reload state for `/api/v1/status/*` (`None`: a bare API in tests).
    status: Option<Arc<status::ServerStatus>>,
    /// What each target's scrapes declared, for the metadata endpoints.
    target_metadata: metadata::TargetMetadata,
    /// `--web.enable-lifecycle`: `/-/reload` and `/-/quit` work (403 otherwise).
    lifecycle: bool,
    /// Fired by `/-/quit`.
    quit: Option<CancellationToken>,
    /// `--agent`: query endpoints answer as Prometheus' agent does.
    agent: bool,
    /// `--web.route-prefix`, normalised (`""` for none).
    route_prefix: String,
    /// The path of `--web.external-url`, normalised: where `/` redirects to.
    external_path: String,
    /// `--web.config.file`: TLS and basic auth.
    web: webconfig::WebConfig,
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
                http_metrics: http_metrics::HttpMetrics::default(),
                limits: QueryLimits::default(),
                query_slots: Arc::new(Semaphore::new(QueryLimits::default().max_concurrency)),
                query_cancel: CancellationToken::new(),
                max_connections: DEFAULT_MAX_CONNECTIONS,
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
                status: None,
                target_metadata: metadata::TargetMetadata::new(),
                lifecycle: false,
                quit: None,
                agent: false,
                route_prefix: String::new(),
                external_path: String::new(),
                web: webconfig::WebConfig::default(),
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

    /// The callback `POST /-/reload` runs once lifecycle is enabled (without one, reload
    /// answers 500).
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

    /// Query timeout, sample cap and concurrency (see [`QueryLimits`]).
    pub fn with_query_limits(self, limits: QueryLimits) -> Api {
        let slots = limits.max_concurrency.clamp(1, Semaphore::MAX_PERMITS);
        self.edit(|i| {
            i.limits = limits;
            i.query_slots = Arc::new(Semaphore::new(slots));
        })
    }

    /// A token whose firing stops every running query (the server's shutdown token, so that
    /// SIGTERM does not wait for a heavy query). [`Api::serve`]'s own token stops them too.
    pub fn with_query_cancel(self, cancel: CancellationToken) -> Api {
        self.edit(|i| i.query_cancel = cancel)
    }

    /// At most `n` connections served at once (Prometheus' `--web.max-connections`; 0: no
    /// limit). Further clients wait in the listen queue until one closes.
    pub fn with_max_connections(self, n: usize) -> Api {
        self.edit(|i| i.max_connections = n)
    }

    /// How long a connection may wait before sending (the rest of) its request headers,
    /// first request or next one on a kept-alive connection, before it is closed.
    pub fn with_idle_timeout(self, d: Duration) -> Api {
        self.edit(|i| i.idle_timeout = d)
    }

    /// Where `/api/v1/status/{config,flags,runtimeinfo}` read the server's state.
    pub fn with_status(self, status: Arc<status::ServerStatus>) -> Api {
        self.edit(|i| i.status = Some(status))
    }

    /// The per-target metadata the metadata endpoints list (the same value must be a sink of
    /// the scrape pipeline).
    pub fn with_target_metadata(self, m: metadata::TargetMetadata) -> Api {
        self.edit(|i| i.target_metadata = m)
    }

    /// Enables `POST`/`PUT /-/reload` and `/-/quit` (Prometheus' `--web.enable-lifecycle`);
    /// without it they answer 403 "Lifecycle API is not enabled.". `/-/quit` fires `quit`.
    pub fn with_lifecycle(self, enabled: bool, quit: Option<CancellationToken>) -> Api {
        self.edit(|i| {
            i.lifecycle = enabled;
            i.quit = quit;
        })
    }

    /// Agent mode (`--agent`): the query and browsing endpoints and `/federate` refuse as
    /// Prometheus' agent does.
    pub fn with_agent(self, agent: bool) -> Api {
        self.edit(|i| i.agent = agent)
    }

    /// Serves every route under `route_prefix` (`--web.route-prefix`) and redirects `/` to
    /// `external_path` + `/graph` (the path of `--web.external-url`).
    pub fn with_prefix(self, route_prefix: &str, external_path: &str) -> Api {
        let prefix = lifecycle::normalize_prefix(route_prefix);
        let external = lifecycle::normalize_prefix(external_path);
        self.edit(|i| {
            i.route_prefix = prefix;
            i.external_path = external;
        })
    }

    /// TLS on every connection and basic auth on every request (`--web.config.file`).
    pub fn with_web_config(self, web: webconfig::WebConfig) -> Api {
        self.edit(|i| i.web = web)
    }

    /// The flag `/-/ready` reports (initially true); clear it while starting or draining.
    pub fn ready_flag(&self) -> Arc<AtomicBool> {
        self.inner.ready.clone()
    }

    /// Serves connections from `listener` until `cancel` fires, then stops running queries
    /// and lets open requests finish for up to 5 s.
    pub async fn serve(self, listener: TcpListener, cancel: CancellationToken) {
        let idle = self.inner.idle_timeout;
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(idle);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let slots = (self.inner.max_connections > 0).then(|| {
            Arc::new(Semaphore::new(
                self.inner.max_connections.min(Semaphore::MAX_PERMITS),
            ))
        });
        loop {
            // Prometheus' netutil.LimitListener: no accept while the limit is reached, so
            // further clients wait in the kernel's listen queue.
            let permit = match &slots {
                None => None,
                Some(s) => tokio::select! {
                    _ = cancel.cancelled() => break,
                    p = s.clone().acquire_owned() => p.ok(),
                },
            };
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
            let builder = builder.clone();
            let watcher = graceful.watcher();
            let tls = self.inner.web.tls.clone();
            tokio::spawn(async move {
                let _permit = permit;
                // A client that connects and sends nothing would hold its slot forever (the
                // protocol sniffing waits for a first byte with no timeout of its own).
                let mut first = [0u8; 1];
                match tokio::time::timeout(idle, stream.peek(&mut first)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return,
                }
                let result = match tls {
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(stream), svc);
                        watcher.watch(conn.into_owned()).await
                    }
                    Some(acceptor) => {
                        let stream = match tokio::time::timeout(idle, acceptor.accept(stream)).await
                        {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(err = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        };
                        let conn = builder.serve_connection(TokioIo::new(stream), svc);
                        watcher.watch(conn.into_owned()).await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(error = %e, "HTTP connection ended with an error");
                }
            });
        }
        self.inner.query_cancel.cancel();
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
        let started = Instant::now();
        if let Some(auth) = self.inner.web.auth.clone() {
            let header = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let ok = tokio::task::spawn_blocking(move || auth.check(header.as_deref()))
                .await
                .unwrap_or(false);
            if !ok {
                let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Basic"),
                );
                self.inner
                    .http_metrics
                    .observe("other", 401, started.elapsed());
                return r;
            }
        }
        let full = req.uri().path().to_owned();
        let (handler, resp) = match lifecycle::route_under(&self.inner.route_prefix, &full) {
            lifecycle::Routed::Inside(path) => {
                let path = path.to_owned();
                self.route(req, &path).await
            }
            lifecycle::Routed::RedirectToPrefix => {
                ("/", redirect(format!("{}/", self.inner.route_prefix)))
            }
            lifecycle::Routed::NotFound => {
                ("other", text(StatusCode::NOT_FOUND, "404 page not found\n"))
            }
        };
        self.inner
            .http_metrics
            .observe(handler, resp.status().as_u16(), started.elapsed());
        resp
    }

    async fn route<B>(&self, req: Request<B>, path: &str) -> (&'static str, Response<Full<Bytes>>)
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let method = req.method().clone();
        let get = method == Method::GET || method == Method::HEAD;
        if self.inner.agent {
            if lifecycle::agent_refuses(path) {
                let resp = api_error("execution", lifecycle::AGENT_UNAVAILABLE);
                return (lifecycle::agent_handler(path), resp);
            }
            if path == "/federate" {
                let resp = text(StatusCode::INTERNAL_SERVER_ERROR, lifecycle::AGENT_FEDERATE);
                return ("/federate", resp);
            }
        }
        match path {
            "/metrics" if get => ("/metrics", self.metrics()),
            "/metrics/cadvisor" if get => ("/metrics/cadvisor", self.cadvisor().await),
            "/-/healthy" if get => (
                "/-/healthy",
                text(StatusCode::OK, "Prometheus Server is Healthy.\n"),
            ),
            "/-/ready" if get => ("/-/ready", self.ready()),
            "/-/reload" => ("/-/reload", self.reload(&method).await),
            "/-/quit" => ("/-/quit", self.quit(&method)),
            "/federate" if get => ("/federate", self.federate(req).await),
            "/targets" if get => (
                "/targets",
                html(targets::render_html(
                    self.inner.targets.as_ref(),
                    SystemTime::now(),
                )),
            ),
            "/" if get => ("/", redirect(format!("{}/graph", self.inner.external_path))),
            "/graph" if get => ("/graph", graph::page()),
            "/api/v1/targets" if get => ("/api/v1/targets", self.targets_json(req)),
            "/api/v1/status/buildinfo" if get => ("/api/v1/status/buildinfo", self.buildinfo()),
            "/api/v1/metadata" if get => ("/api/v1/metadata", self.metric_metadata(&req)),
            "/api/v1/targets/metadata" if get => {
                ("/api/v1/targets/metadata", self.target_metadata(&req))
            }
            "/api/v1/status/config" | "/api/v1/status/flags" | "/api/v1/status/runtimeinfo"
                if get =>
            {
                self.status(path)
            }
            "/api/v1/status/tsdb" if get => {
                let limit = status::tsdb_limit(query_param(&req, "limit").as_deref());
                let resp = match limit {
                    Err(e) => api_error("bad_data", &e),
                    Ok(limit) => self.tsdb_status(limit).await,
                };
                ("/api/v1/status/tsdb", resp)
            }
            // Grafana asks for these while browsing; there are no rules, alerts or exemplars
            // here, which Prometheus' empty answers say exactly.
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
                let resp = self
                    .limited(params, move |api, p, budget| match h {
                        "/api/v1/query" => api.query(p, budget),
                        "/api/v1/query_range" => api.query_range(p, budget),
                        "/api/v1/series" => api.series(p, budget),
                        _ => api.labels(p, budget),
                    })
                    .await;
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
                    self.limited(params, move |api, p, budget| {
                        api.label_values(&name, p, budget)
                    })
                    .await,
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
        let mut out = String::with_capacity(8192);
        self.inner.http_metrics.write(&mut out);
        crate::self_metrics::write_build_info(&self.inner.build, &mut out);
        crate::self_metrics::write_ready(self.inner.ready.load(Ordering::Acquire), &mut out);
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
        if !self.inner.lifecycle {
            return text(StatusCode::FORBIDDEN, lifecycle::LIFECYCLE_DISABLED);
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

    /// `/-/quit`: graceful shutdown, as SIGTERM.
    fn quit(&self, method: &Method) -> Response<Full<Bytes>> {
        if method != Method::POST && method != Method::PUT {
            return text(StatusCode::METHOD_NOT_ALLOWED, lifecycle::QUIT_NEEDS_POST);
        }
        if !self.inner.lifecycle {
            return text(StatusCode::FORBIDDEN, lifecycle::LIFECYCLE_DISABLED);
        }
        match &self.inner.quit {
            Some(q) => {
                q.cancel();
                text(StatusCode::OK, lifecycle::QUIT_ACCEPTED)
            }
            None => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "quitting is not available\n",
            ),
        }
    }

    async fn federate<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut params = match params(req).await {
            Ok(p) => p,
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("error parsing form values: {e}\n"),
                );
            }
        };
        // Prometheus' federation handler has no `timeout` parameter (a `timeout=-1` used to
        // turn into an instant 503); `--query.timeout` still bounds it.
        params.retain(|(k, _)| k != "timeout");
        self.limited(params, |api, p, budget| api.federate_body(p, budget))
            .await
    }

    fn federate_body(
        &self,
        params: &[(String, String)],
        budget: &ReadBudget,
    ) -> Response<Full<Bytes>> {
        let mut sets = Vec::new();
        for (_, m) in params.iter().filter(|(k, _)| k == "match[]") {
            if let Err(e) = budget.check() {
                return federate_failure(e);
            }
            match query::parse_selector(m) {
                Ok(s) => sets.push(s),
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
            }
        }
        let mut out = String::new();
        match federate::write(
            &self.inner.store,
            &sets,
            now_ms(),
            self.inner.lookback_ms,
            &self.inner.external_labels,
            budget,
            &mut out,
        ) {
            Ok(()) => with_type(text(StatusCode::OK, out), TEXT_FORMAT),
            Err(e) => federate_failure(e),
        }
    }

    /// Runs `work` on a blocking thread (never on the async workers, which keep serving
    /// `/-/healthy` and scrapes), once a query slot is free, with a [`ReadBudget`] that ends
    /// at the deadline (`--query.timeout`, or the request's shorter `timeout` parameter), at
    /// shutdown, or when this future is dropped (the client went away).
    async fn limited(
        &self,
        params: Vec<(String, String)>,
        work: impl FnOnce(&Api, &[(String, String)], &ReadBudget) -> Response<Full<Bytes>>
        + Send
        + 'static,
    ) -> Response<Full<Bytes>> {
        let limits = self.inner.limits;
        let mut timeout = limits.timeout;
        if let Some(t) = param(&params, "timeout").filter(|t| !t.is_empty()) {
            match query::parse_duration(t) {
                Ok(ms) => {
                    timeout = timeout.min(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
                }
                Err(e) => {
                    return api_error("bad_data", &format!("invalid parameter \"timeout\": {e}"));
                }
            }
        }
        let deadline = Instant::now().checked_add(timeout);
        let acquire = self.inner.query_slots.clone().acquire_owned();
        let permit = match deadline {
            Some(d) => tokio::time::timeout_at(tokio::time::Instant::from_std(d), acquire).await,
            None => Ok(acquire.await),
        };
        let permit = match permit {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return api_error("unavailable", "the query engine is shut down"),
            Err(_) => return api_error("timeout", limits::QUEUE_TIMEOUT),
        };
        let cancel = self.inner.query_cancel.child_token();
        let _stop_when_dropped = cancel.clone().drop_guard();
        let budget = ReadBudget::new(deadline, cancel, limits.max_samples);
        let api = self.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&api, &params, &budget)
        });
        match task.await {
            Ok(resp) => resp,
            Err(e) => api_error("internal", &format!("query failed: {e}")),
        }
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

    fn metric_metadata<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        let q = form::parse(req.uri().query().unwrap_or(""));
        let (limit, per_metric) = match (
            metadata::int_param(param(&q, "limit"), "limit"),
            metadata::int_param(param(&q, "limit_per_metric"), "limit_per_metric"),
        ) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return api_error("bad_data", &e),
        };
        let mut out = String::new();
        metadata::write_metric_metadata(
            &self.inner.target_metadata,
            &self.inner.targets.active(),
            param(&q, "metric").unwrap_or(""),
            limit,
            per_metric,
            &mut out,
        );
        api_success(&out)
    }

    fn target_metadata<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        let q = form::parse(req.uri().query().unwrap_or(""));
        let limit = match metadata::int_param(param(&q, "limit"), "limit") {
            Ok(l) => l,
            Err(e) => return api_error("bad_data", &e),
        };
        let matchers = match param(&q, "match_target").filter(|m| !m.is_empty()) {
            None => None,
            Some(m) => match query::parse_selector(m) {
                Ok(ms) => Some(ms),
                Err(e) => {
                    return api_error(
                        "bad_data",
                        &format!("invalid parameter \"match_target\": {e}"),
                    );
                }
            },
        };
        let mut out = String::new();
        metadata::write_target_metadata(
            &self.inner.target_metadata,
            &self.inner.targets.active(),
            matchers.as_deref(),
            param(&q, "metric").unwrap_or(""),
            limit,
            &mut out,
        );
        api_success(&out)
    }

    fn status(&self, path: &str) -> (&'static str, Response<Full<Bytes>>) {
        let Some(st) = &self.inner.status else {
            return ("other", text(StatusCode::NOT_FOUND, "404 page not found\n"));
        };
        let mut out = String::new();
        let h = match path {
            "/api/v1/status/config" => {
                st.write_config(&mut out);
                "/api/v1/status/config"
            }
            "/api/v1/status/flags" => {
                st.write_flags(&mut out);
                "/api/v1/status/flags"
            }
            _ => {
                st.write_runtime_info(&status::RuntimeCounts::current(), &mut out);
                "/api/v1/status/runtimeinfo"
            }
        };
        (h, api_success(&out))
    }

    /// Walks every series: on a blocking thread, as queries do.
    async fn tsdb_status(&self, limit: usize) -> Response<Full<Bytes>> {
        let store = self.inner.store.clone();
        match tokio::task::spawn_blocking(move || {
            let mut out = String::new();
            status::write_tsdb(&store, limit, &mut out);
            out
        })
        .await
        {
            Ok(out) => api_success(&out),
            Err(e) => api_error("internal", &format!("collecting statistics failed: {e}")),
        }
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

    fn query(&self, p: &[(String, String)], budget: &ReadBudget) -> Response<Full<Bytes>> {
        let q = match parse_query_param(p) {
            Ok(q) => q,
            Err(e) => return api_error("bad_data", &e),
        };
        let t = match time_param(p, "time", now_ms()) {
            Ok(t) => t,
            Err(e) => return api_error("bad_data", &e),
        };
        let mut out = String::new();
        match query::instant(
            &self.inner.store,
            &q,
            t,
            self.inner.lookback_ms,
            self.inner.limits.max_samples,
            budget,
            &mut out,
        ) {
            Ok(()) => api_success(&out),
            Err(e) => query_failure(&e),
        }
    }

    fn query_range(&self, p: &[(String, String)], budget: &ReadBudget) -> Response<Full<Bytes>> {
        let args = || -> Result<(query::Query, i64, i64, i64), String> {
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
            if q.is_range_vector() {
                return Err("invalid parameter \"query\": invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".to_owned());
            }
            Ok((q, start, end, step))
        };
        let (q, start, end, step) = match args() {
            Ok(x) => x,
            Err(e) => return api_error("bad_data", &e),
        };
        match query::range(
            &self.inner.store,
            &q,
            start,
            end,
            step,
            self.inner.lookback_ms,
            self.inner.limits.max_samples,
            budget,
        ) {
            Ok(out) => api_success(&out),
            Err(e) => query_failure(&e),
        }
    }

    /// The `match[]` sets (parsing thousands of regexes takes a while: the budget is checked
    /// between them) and the `start`/`end` times.
    fn browse_args(
        &self,
        p: &[(String, String)],
        budget: &ReadBudget,
    ) -> Result<BrowseArgs, Box<Response<Full<Bytes>>>> {
        let bad = |e: String| Box::new(api_error("bad_data", &e));
        let mut sets = Vec::new();
        for (_, m) in p.iter().filter(|(k, _)| k == "match[]") {
            budget.check().map_err(|e| Box::new(read_failure(e)))?;
            sets.push(
                query::parse_selector(m)
                    .map_err(|e| bad(format!("invalid parameter \"match[]\": {e}")))?,
            );
        }
        let start = time_param(p, "start", i64::MIN).map_err(bad)?;
        let end = time_param(p, "end", i64::MAX).map_err(bad)?;
        Ok((sets, start, end))
    }

    fn series(&self, p: &[(String, String)], budget: &ReadBudget) -> Response<Full<Bytes>> {
        if !p.iter().any(|(k, _)| k == "match[]") {
            return api_error("bad_data", "no match[] parameter provided");
        }
        let (sets, start, end) = match self.browse_args(p, budget) {
            Ok(x) => x,
            Err(resp) => return *resp,
        };
        let series = match self.inner.store.series_within(&sets, start, end, budget) {
            Ok(s) => s,
            Err(e) => return read_failure(e),
        };
        let mut out = String::from("[");
        for (i, l) in series.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::labels(&mut out, l);
        }
        out.push(']');
        api_success(&out)
    }

    fn labels(&self, p: &[(String, String)], budget: &ReadBudget) -> Response<Full<Bytes>> {
        let (sets, start, end) = match self.browse_args(p, budget) {
            Ok(x) => x,
            Err(resp) => return *resp,
        };
        match self
            .inner
            .store
            .label_names_within(&sets, start, end, budget)
        {
            Ok(names) => api_success(&string_array(&names)),
            Err(e) => read_failure(e),
        }
    }

    fn label_values(
        &self,
        name: &str,
        p: &[(String, String)],
        budget: &ReadBudget,
    ) -> Response<Full<Bytes>> {
        if name.is_empty() {
            return api_error("bad_data", &format!("invalid label name: {name:?}"));
        }
        let (sets, start, end) = match self.browse_args(p, budget) {
            Ok(x) => x,
            Err(resp) => return *resp,
        };
        match self
            .inner
            .store
            .label_values_within(name, &sets, start, end, budget)
        {
            Ok(values) => api_success(&string_array(&values)),
            Err(e) => read_failure(e),
        }
    }
}

/// `match[]` sets, start and end of a browsing request.
type BrowseArgs = (Vec<Vec<Matcher>>, i64, i64);

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

/// One parameter of the request's query string.
fn query_param<B>(req: &Request<B>, name: &str) -> Option<String> {
    form::parse(req.uri().query().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
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

fn redirect(to: String) -> Response<Full<Bytes>> {
    let mut r = text(StatusCode::FOUND, "");
    if let Ok(v) = http::HeaderValue::from_str(&to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
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

/// `/federate`'s plain-text answer to a read a limit stopped.
fn federate_failure(e: ReadError) -> Response<Full<Bytes>> {
    let code = match e {
        ReadError::TooManySamples => StatusCode::UNPROCESSABLE_ENTITY,
        ReadError::Timeout | ReadError::Canceled => StatusCode::SERVICE_UNAVAILABLE,
    };
    text(code, format!("{}\n", limits::read_error(e).1))
}

/// Prometheus' answer to a query a limit stopped.
fn read_failure(e: ReadError) -> Response<Full<Bytes>> {
    let (kind, message) = limits::read_error(e);
    api_error(kind, message)
}

/// Prometheus' answer to a query the engine failed (its `errorType` and message).
fn query_failure(e: &scrapeline_promql::Error) -> Response<Full<Bytes>> {
    api_error(e.kind(), &e.to_string())
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
mod lifecycle_tests;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod tests;
