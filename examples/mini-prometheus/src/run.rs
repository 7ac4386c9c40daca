//! The server: what mini-prometheus adds to the `scrapeline` facade's pipeline (discovery,
//! scraping, remote write): the store, the cgroup collector, the resource APIs, the HTTP API,
//! self-metrics and signals.
//!
//! Start order follows the data: the store, then the pipeline that appends to it, then the
//! HTTP API. Shutdown runs the other way: the pipeline drains (scraping stops, remote-write
//! queues flush within a bounded time), then the API stops. SIGHUP and `POST /-/reload` re-read
//! the config; jobs and remote-write endpoints whose settings did not change keep running.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use scrapeline::{Config, Pipeline, discovery_options};
use scrapeline_cgroup::{Collector, CollectorConfig, OomWatcher};
use scrapeline_scrape::ScrapeManager;
use scrapeline_scrape::{ManagerOptions, TargetsSnapshot};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, Api, BodyFn, DroppedTargetInfo, TargetInfo, TargetsSource};
use crate::default_config;
use crate::kube_metadata;
use crate::resource::{ResourceConfig, ResourceMetrics, boot_time_from_proc};
use crate::store::{Store, StoreConfig};

/// How long remote-write queues may take to flush on shutdown.
const FLUSH_DEADLINE: Duration = Duration::from_secs(10);

/// What the server needs from the command line.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The config file; `None` runs the embedded default.
    pub config_file: Option<PathBuf>,
    /// Replace `$VAR` / `${VAR}` in the config file text from the environment.
    pub expand_env: bool,
    /// Where the HTTP API listens.
    pub listen_address: String,
    /// The host root filesystem the cgroup collector reads (`/host` in a DaemonSet).
    pub cgroup_rootfs: PathBuf,
    /// Agent mode (Prometheus' `--agent`): no local store, samples only leave by remote write.
    pub agent: bool,
    /// The node name the resource metrics APIs report (default: the host name).
    pub node_name: Option<String>,
    /// `--query.timeout`, `--query.max-samples`, `--query.max-concurrency`.
    pub query_limits: api::QueryLimits,
    /// `--web.max-connections` (0: no limit).
    pub max_connections: usize,
    /// `--web.read-timeout`: request headers and idle connections.
    pub read_timeout: Duration,
    /// Every flag and its value, for `/api/v1/status/flags`.
    pub flags: Vec<(String, String)>,
    /// `--web.enable-lifecycle`, `--web.external-url`, `--web.route-prefix`,
    /// `--web.config.file`.
    pub web: api::webconfig::WebOptions,
    /// `--scrapeline.discovery.update-interval`: the discovery throttle.
    pub discovery_update_interval: Duration,
    /// `--storage.*`: the write-ahead logs.
    pub storage: StorageOptions,
}

/// The write-ahead log flags (`--storage.agent.*`, `--storage.tsdb.*`).
#[derive(Debug, Clone, Default)]
pub struct StorageOptions {
    /// `--storage.agent.path`.
    pub agent_path: PathBuf,
    /// `--storage.agent.wal-segment-size`.
    pub agent_segment_size: u64,
    /// `--storage.agent.retention.max-time` (zero: none).
    pub agent_max_time: Duration,
    /// `--scrapeline.storage.agent.retention.size` (zero: none).
    pub agent_max_size: u64,
    /// `--storage.tsdb.path`: the store's log, if any.
    pub tsdb_path: Option<PathBuf>,
    /// `--storage.tsdb.retention.time`: overrides the config's `storage.retention`.
    pub tsdb_retention: Option<Duration>,
}

/// Opens the write-ahead log: an agent's (remote write sends from it) or, with
/// `--storage.tsdb.path`, the store's, replayed into `store` now. `None` for a store without
/// a path.
fn open_wal(
    s: &StorageOptions,
    agent: bool,
    store: &Store,
    retention: Duration,
) -> Result<Option<Arc<scrapeline_wal::Wal>>, String> {
    use scrapeline_wal::{DEFAULT_SEGMENT_SIZE, MAX_SEGMENT_SIZE, Wal, WalOptions};
    let segment_size = |n: u64| {
        if n == 0 || n > MAX_SEGMENT_SIZE {
            Err(format!(
                "--storage.agent.wal-segment-size must be between 1B and {MAX_SEGMENT_SIZE}B"
            ))
        } else {
            Ok(n)
        }
    };
    if agent {
        let opts = WalOptions {
            segment_size: segment_size(s.agent_segment_size)?,
            max_size: (s.agent_max_size > 0).then_some(s.agent_max_size),
            max_age: (!s.agent_max_time.is_zero()).then_some(s.agent_max_time),
            ..WalOptions::default()
        };
        let wal = Wal::open(s.agent_path.join("wal"), opts).map_err(|e| e.to_string())?;
        return Ok(Some(wal));
    }
    let Some(path) = &s.tsdb_path else {
        return Ok(None);
    };
    let opts = WalOptions {
        segment_size: DEFAULT_SEGMENT_SIZE,
        keep_samples_within: Some(retention),
        ..WalOptions::default()
    };
    let wal = Wal::open(path.join("wal"), opts).map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let r = store.replay_wal(&wal);
    tracing::info!(samples = r.samples, skipped = r.skipped, duration = ?started.elapsed(), "WAL replay completed");
    Ok(Some(wal))
}

/// How often the collector feeds the resource metrics APIs (metrics-server's
/// `--metric-resolution` in the official manifests).
const RESOURCE_RESOLUTION: Duration = Duration::from_secs(15);

/// Loads the configuration the options name (or the embedded default).
fn load_config(opts: &ServerOptions) -> Result<Config, String> {
    match &opts.config_file {
        Some(path) => {
            scrapeline::Config::load_file_with(path, opts.expand_env).map_err(|e| e.to_string())
        }
        None => {
            let node = node_exporter_answers();
            default_config::embedded_default(&opts.listen_address, node).map_err(|e| e.to_string())
        }
    }
}

/// The text of the configuration the options name, for `/api/v1/status/config`.
fn config_text(opts: &ServerOptions) -> String {
    match &opts.config_file {
        Some(path) => std::fs::read_to_string(path).unwrap_or_default(),
        None => {
            default_config::embedded_default_text(&opts.listen_address, node_exporter_answers())
        }
    }
}

/// Whether a node exporter listens on localhost:9100 (the embedded default scrapes it then).
fn node_exporter_answers() -> bool {
    let addr: SocketAddr = ([127, 0, 0, 1], 9100).into();
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// The running pipeline and the options it was loaded with, shared by the reload path and the
/// signal handlers.
struct Server {
    options: ServerOptions,
    pipeline: Pipeline,
    status: Arc<api::status::ServerStatus>,
    /// `prometheus_config_last_reload_*`.
    reload_status: Arc<crate::self_metrics::ReloadStatus>,
}

impl Server {
    /// Re-reads the config and applies it; on any error the running config stays. Loading
    /// never panics: the config parsers return errors for every input (property-tested in
    /// `scrapeline::config`), so no guard is needed here. Logged as Prometheus logs it
    /// (SIGHUP and `POST /-/reload` alike), and recorded for
    /// `prometheus_config_last_reload_successful`.
    fn reload(&self) -> Result<(), String> {
        let started = std::time::Instant::now();
        let filename = config_filename(&self.options);
        tracing::info!(filename = %filename, "Loading configuration file");
        let result = load_config(&self.options)
            .and_then(|new| self.pipeline.reload(new).map_err(|e| e.to_string()));
        self.reload_status.record(result.is_ok(), SystemTime::now());
        match &result {
            Ok(()) => self.status.config_loaded(&config_text(&self.options)),
            Err(_) => self.status.config_failed(),
        }
        match &result {
            Ok(()) => tracing::info!(
                filename = %filename,
                totalDuration = ?started.elapsed(),
                "Completed loading of configuration file"
            ),
            Err(e) => tracing::error!(
                filename = %filename,
                error = %e,
                "Error reloading config"
            ),
        }
        result
    }
}

/// The config file's name for logs (`filename=`).
fn config_filename(opts: &ServerOptions) -> String {
    match &opts.config_file {
        Some(p) => p.display().to_string(),
        None => "(embedded default)".to_owned(),
    }
}

/// Adapts the scrape manager's target state to the API's view.
struct ScrapeTargets(Arc<ScrapeManager>);

impl TargetsSource for ScrapeTargets {
    fn active(&self) -> Vec<TargetInfo> {
        let TargetsSnapshot { active, .. } = self.0.targets();
        active
            .into_iter()
            .map(|t| TargetInfo {
                global_url: global_url(&t.scrape_url),
                discovered_labels: t.discovered_labels,
                labels: t.labels,
                scrape_pool: t.scrape_pool,
                scrape_url: t.scrape_url,
                last_error: t.last_error,
                last_scrape: t.last_scrape,
                last_scrape_duration: t.last_scrape_duration,
                health: match t.health {
                    scrapeline_scrape::Health::Up => api::Health::Up,
                    scrapeline_scrape::Health::Down => api::Health::Down,
                    scrapeline_scrape::Health::Unknown => api::Health::Unknown,
                },
                scrape_interval: t.scrape_interval,
                scrape_timeout: t.scrape_timeout,
            })
            .collect()
    }

    /// Relabel-dropped targets, then the ones that could not be created (with their error);
    /// the API orders them by pool, keeping this order within a pool.
    fn dropped(&self) -> Vec<DroppedTargetInfo> {
        let TargetsSnapshot {
            dropped, failed, ..
        } = self.0.targets();
        let failed = failed.into_iter().map(|f| DroppedTargetInfo {
            discovered_labels: f.discovered_labels,
            scrape_pool: f.scrape_pool,
            error: Some(f.error.to_string()),
        });
        dropped
            .into_iter()
            .map(|d| DroppedTargetInfo {
                discovered_labels: d.discovered_labels,
                scrape_pool: d.scrape_pool,
                error: None,
            })
            .chain(failed)
            .collect()
    }

    fn dropped_counts(&self) -> std::collections::BTreeMap<String, usize> {
        self.0.targets().dropped_counts.into_iter().collect()
    }
}

/// Prometheus' `globalUrl`: the scrape URL with a loopback host replaced by this host's name.
fn global_url(url: &str) -> String {
    let host = hostname();
    for local in ["127.0.0.1", "localhost", "[::1]"] {
        if let Some((scheme, rest)) = url.split_once("://")
            && let Some(tail) = rest.strip_prefix(local)
        {
            return format!("{scheme}://{host}{tail}");
        }
    }
    url.to_owned()
}

/// This machine's host name (`/proc/sys/kernel/hostname`, else `localhost`).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs the server until SIGTERM or SIGINT; returns after a clean drain.
pub async fn serve(opts: ServerOptions) -> Result<(), String> {
    let mode = if opts.agent { "agent" } else { "server" };
    tracing::info!(
        mode,
        version = %format!("(version={}, name=mini-prometheus)", crate::api::BuildInfo::default().version),
        "Starting Prometheus Server"
    );
    let filename = config_filename(&opts);
    tracing::info!(filename = %filename, "Loading configuration file");
    let started = std::time::Instant::now();
    let config = load_config(&opts).inspect_err(|e| {
        tracing::error!(filename = %filename, error = %e, "Error loading config");
    })?;
    for section in &config.ignored_sections {
        tracing::warn!(
            section,
            "configuration section is not supported and is ignored"
        );
    }
    let cancel = CancellationToken::new();
    let status = Arc::new(api::status::ServerStatus::new(
        opts.flags.clone(),
        config.storage.retention,
    ));
    status.config_loaded(&config_text(&opts));
    // Agent mode: the remote-write queues take the store's place; nothing is stored.
    let agent_without_store = opts.agent && !config.remote_write.is_empty();

    // The store, and the write-ahead log (the agent's, or the store's: replayed now).
    let retention = opts
        .storage
        .tsdb_retention
        .unwrap_or(config.storage.retention);
    let store = Store::new(StoreConfig {
        retention,
        ..StoreConfig::default()
    });
    let wal = open_wal(&opts.storage, agent_without_store, &store, retention)?;
    tokio::spawn(
        store
            .clone()
            .run_retention(Duration::from_secs(60), cancel.child_token()),
    );
    // Discovery, scraping and remote write: the facade's pipeline, appending to the store
    // (agent mode: to the remote-write queues only).
    let offset_seed = scrapeline_scrape::target::offset_seed(&hostname(), &config.external_labels);
    let external_labels = config.external_labels.clone();
    let mut discovery = discovery_options(opts.config_file.as_deref());
    discovery.update_interval = opts.discovery_update_interval;
    let mut builder = Pipeline::builder(config)
        .discovery_options(discovery)
        .scrape_options(ManagerOptions {
            offset_seed,
            ..ManagerOptions::default()
        })
        .flush_deadline(FLUSH_DEADLINE);
    let target_metadata = api::metadata::TargetMetadata::new();
    if !agent_without_store {
        if opts.agent {
            tracing::warn!("--agent without remote_write: keeping samples in the local store");
        }
        builder = builder.sink(Arc::new(store.clone()));
        // After the store: the first sink issues the series refs.
        builder = builder.sink(Arc::new(target_metadata.clone()));
    }
    if let Some(w) = &wal {
        builder = builder.wal(w.clone());
    }
    let pipeline = builder.start().map_err(|e| e.to_string())?;
    let pods = pipeline.pod_lookup();

    // The cgroup collector, served on /metrics/cadvisor.
    // The whole hierarchy, as the kubelet's cAdvisor reports it (raw cgroups included).
    let mut collector_config = CollectorConfig::with_rootfs(&opts.cgroup_rootfs);
    collector_config.roots.push("/".to_owned());
    // OOM kills are counted from the kernel log, as cAdvisor does; the watcher lives as long as
    // the server (dropping it stops counting).
    let mut _oom_watcher: Option<OomWatcher> = None;
    let collector = match Collector::new(collector_config) {
        Ok(c) => {
            let mut c = c.with_pod_lookup(pods.clone());
            match OomWatcher::start(c.kmsg_path()) {
                Ok(w) => {
                    c = c.with_oom_watcher(&w);
                    _oom_watcher = Some(w);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "kernel log unreadable; container_oom_events_total disabled")
                }
            }
            Some(Arc::new(c))
        }
        Err(e) => {
            tracing::warn!(error = %e, "cgroup collector unavailable; /metrics/cadvisor disabled");
            None
        }
    };
    let cadvisor: Option<BodyFn> = collector.clone().map(|collector| -> BodyFn {
        // The previous collection is refilled in place: its strings and vectors are reused.
        let last = Arc::new(Mutex::new(scrapeline_cgroup::Collection::default()));
        Arc::new(move || {
            let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
            collector.collect_into(now_ms(), &mut last);
            let mut out = String::new();
            last.encode_text(&mut out);
            Ok(out.into_bytes())
        })
    });

    // The kubelet Summary API and metrics.k8s.io, fed by a collection every resolution.
    let node_name = opts.node_name.clone().unwrap_or_else(hostname);
    let mut resource_config = ResourceConfig::new(node_name.clone(), RESOURCE_RESOLUTION);
    resource_config.boot_time_unix =
        boot_time_from_proc(&opts.cgroup_rootfs.join("proc"), SystemTime::now());
    let mut resource_metrics = ResourceMetrics::new(resource_config);
    // Node and pod labels for metrics.k8s.io, from the cluster this node is in (if any).
    if let Some(labels) = kube_metadata::start(&node_name, cancel.child_token()).await {
        resource_metrics.set_object_labels(labels);
    }
    let resource = Arc::new(RwLock::new(resource_metrics));
    if let Some(collector) = collector.clone() {
        tokio::spawn(feed_resource_metrics(
            collector,
            resource.clone(),
            cancel.child_token(),
        ));
    }

    let reload_status = Arc::new(crate::self_metrics::ReloadStatus::default());
    reload_status.record(true, SystemTime::now());
    tracing::info!(
        filename = %filename,
        totalDuration = ?started.elapsed(),
        "Completed loading of configuration file"
    );
    let server = Arc::new(Server {
        options: opts.clone(),
        pipeline,
        status: status.clone(),
        reload_status: reload_status.clone(),
    });
    crate::startup::first_run(
        &opts,
        &server.pipeline.config(),
        server.pipeline.scrape_manager().clone(),
        Box::new({
            let s = server.clone();
            move || s.pipeline.discovery_errors()
        }),
        cancel.child_token(),
    );

    // The HTTP API.
    let web = match &opts.web.config_file {
        Some(p) => {
            api::webconfig::WebConfig::load(p).map_err(|e| format!("--web.config.file: {e}"))?
        }
        None => api::webconfig::WebConfig::default(),
    };
    let (route_prefix, external_path) = web_paths(&opts)?;
    let listener = TcpListener::bind(&opts.listen_address)
        .await
        .map_err(|e| format!("listen on {}: {e}", opts.listen_address))?;
    tracing::info!(address = %opts.listen_address, "Listening on");
    if web.tls.is_some() {
        tracing::info!(address = %opts.listen_address, "TLS is enabled.");
    } else {
        tracing::info!(http2 = false, address = %opts.listen_address, "TLS is disabled.");
    }
    let quit = CancellationToken::new();
    let reload_server = server.clone();
    let mut api = Api::new(store.clone())
        .with_query_limits(opts.query_limits)
        .with_max_connections(opts.max_connections)
        .with_idle_timeout(opts.read_timeout)
        // Shutdown stops running queries at once, not when the API stops serving.
        .with_query_cancel(cancel.child_token())
        .with_targets(Arc::new(ScrapeTargets(
            server.pipeline.scrape_manager().clone(),
        )))
        .with_reload(Arc::new(move || {
            let s = reload_server.clone();
            Box::pin(async move { s.reload() })
        }))
        .with_external_labels(external_labels)
        .with_status(status)
        .with_target_metadata(target_metadata)
        .with_lifecycle(opts.web.enable_lifecycle, Some(quit.clone()))
        .with_agent(opts.agent)
        .with_prefix(&route_prefix, &external_path)
        .with_web_config(web);
    {
        // The remote-write queues running now (a reload may have replaced some).
        let s = server.clone();
        api = api.with_metrics(Arc::new(move |out: &mut String| {
            s.pipeline.remote_write().write_metrics(out)
        }));
        api = api.with_metrics(Arc::new(store.clone()));
        if !agent_without_store {
            let store = store.clone();
            api = api.with_metrics(Arc::new(move |out: &mut String| {
                store.write_head_metrics(out)
            }));
        }
        api = api.with_metrics(Arc::new(move |out: &mut String| {
            crate::self_metrics::write_process_metrics(out);
            reload_status.write_metrics(out);
        }));
        if let Some(w) = wal.clone() {
            // Prometheus' names: the agent's, or the TSDB's.
            api = api.with_metrics(Arc::new(move |out: &mut String| {
                w.write_metrics(agent_without_store, out)
            }));
        }
        let s = server.clone();
        api = api.with_metrics(Arc::new(move |out: &mut String| {
            crate::self_metrics::write_scrape_metrics(s.pipeline.scrape_manager(), out);
            crate::self_metrics::write_discovery_metrics(s.pipeline.discovery(), out);
        }));
    }
    if let Some(body) = cadvisor {
        api = api.with_cadvisor(body);
    }
    {
        let resource = resource.clone();
        api = api.with_routes(Arc::new(move |path: &str, query: Option<&str>| {
            let r = resource.read().unwrap_or_else(|p| p.into_inner());
            r.handle(path, query, SystemTime::now())
                .map(|(code, body)| (code, "application/json", body.into_bytes()))
        }));
    }
    let ready = api.ready_flag();
    let api_cancel = CancellationToken::new();
    let api_task = tokio::spawn(api.serve(listener, api_cancel.clone()));
    ready.store(true, std::sync::atomic::Ordering::SeqCst);
    tracing::info!("Server is ready to receive web requests.");

    wait_for_signals(&server, &quit).await;

    // Drain: stop discovery and scraping, flush remote write, then stop serving.
    tracing::info!("shutting down");
    cancel.cancel();
    server.pipeline.shutdown().await;
    api_cancel.cancel();
    let _ = api_task.await;
    tracing::info!("stopped");
    Ok(())
}

/// Collects every [`RESOURCE_RESOLUTION`] and hands the collection to the resource metrics.
async fn feed_resource_metrics(
    collector: Arc<Collector>,
    resource: Arc<RwLock<ResourceMetrics>>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(RESOURCE_RESOLUTION);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let c = collector.clone();
        let Ok(collection) = tokio::task::spawn_blocking(move || c.collect(now_ms())).await else {
            continue;
        };
        resource
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .observe(collection);
    }
}

/// `--web.route-prefix` and the path of `--web.external-url` (default: this host and the
/// listen port, no path); the prefix defaults to that path, as in Prometheus.
fn web_paths(opts: &ServerOptions) -> Result<(String, String), String> {
    let external_path = match &opts.web.external_url {
        Some(url) => api::lifecycle::external_path(url)?,
        None => String::new(),
    };
    let prefix = opts
        .web
        .route_prefix
        .clone()
        .unwrap_or_else(|| external_path.clone());
    Ok((prefix, external_path))
}

/// Waits for SIGTERM, SIGINT or `/-/quit`; reloads on SIGHUP meanwhile.
async fn wait_for_signals(server: &Server, quit: &CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers; running until killed or /-/quit");
        quit.cancelled().await;
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = quit.cancelled() => {
                tracing::warn!("Received termination request via web service, exiting gracefully...");
                return;
            }
            _ = hup.recv() => {
                // Logged (and counted) by the reload itself.
                let _ = server.reload();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_url_names_the_host() {
        let h = hostname();
        assert_eq!(
            global_url("http://127.0.0.1:9090/metrics"),
            format!("http://{h}:9090/metrics")
        );
        assert_eq!(
            global_url("https://10.1.2.3:443/m"),
            "https://10.1.2.3:443/m"
        );
    }
}
