//! The running pipeline: discovery → scrape manager → fan-out to the embedder's sink(s) and the
//! remote-write queues, with Prometheus' reload and a graceful shutdown.

use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use scrapeline_exposition::Labels;
use scrapeline_remote_write::config::RemoteWriteConfig;
use scrapeline_remote_write::{RemoteWrite, RemoteWriteError, RemoteWriteSet};
use scrapeline_scrape::ScrapeManager;
use scrapeline_scrape::{AppendError, Appendable, Appender, SeriesRef};
use scrapeline_scrape::{ManagerOptions, ScrapeCounters, TargetsSnapshot};
use scrapeline_sd::discovery::{self, CustomSd, SdConfigs};
use scrapeline_sd::kubernetes::KubeUsage;
use scrapeline_wal::{Wal, WalAppendable};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::fanout::FanOut;
use crate::pod_lookup::DiscoveredPods;

/// How long remote-write queues may take to flush on shutdown, unless set otherwise.
const DEFAULT_FLUSH_DEADLINE: Duration = Duration::from_secs(10);

/// Why a pipeline could not start or a reload was refused (nothing changed then).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The scrape manager refused the `scrape_configs` (a relabel rule, a limit).
    #[error(transparent)]
    Scrape(#[from] scrapeline_scrape::ConfigError),
    /// A remote-write queue could not start (its config, TLS files, headers).
    #[error(transparent)]
    RemoteWrite(#[from] RemoteWriteError),
}

/// Discovery settings for a config loaded from `config_file`, as mini-prometheus uses them:
/// relative `kubeconfig_file` paths resolve against the config's directory (as Prometheus
/// resolves them), and file SD checks its files every second (Prometheus watches them with
/// inotify). The update throttle stays Prometheus' 5 s.
pub fn discovery_options(config_file: Option<&Path>) -> discovery::ManagerOptions {
    let mut options = discovery::ManagerOptions::default();
    if let Some(dir) = config_file.and_then(|f| f.parent()) {
        options.kube.config_dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir.to_owned()
        };
    }
    options.file_poll_interval = Duration::from_secs(1);
    options
}

/// Settings of a [`Pipeline`] before it starts; see [`Pipeline::builder`].
pub struct PipelineBuilder {
    config: Config,
    sinks: Vec<Arc<dyn Appendable>>,
    discovery: discovery::ManagerOptions,
    scrape: ManagerOptions,
    flush_deadline: Duration,
    custom_sd: Vec<(String, CustomSd)>,
    wal: Option<Arc<Wal>>,
}

/// How often an attached write-ahead log is truncated (segments every queue has passed, or
/// beyond its size or age bound).
const WAL_TRUNCATE_EVERY: Duration = Duration::from_secs(60);

impl PipelineBuilder {
    /// Logs every scrape to `wal` before anything else sees it: the remote-write queues
    /// then send from the log (resuming after a restart where they stopped) instead of
    /// being fed by commits, and the log is truncated every minute. With no sink the log
    /// is the primary (an agent); with sinks it is logged next to them (a store that
    /// replays the log on start).
    pub fn wal(mut self, wal: Arc<Wal>) -> Self {
        self.wal = Some(wal);
        self
    }

    /// Adds a sink every scrape is appended to. The first is the primary: its series refs are
    /// the ones the scrape loops keep, and its refusal (out of order, …) refuses the sample
    /// everywhere. With no sink at all the pipeline is an agent (Prometheus' `--agent`):
    /// samples only leave through the config's `remote_write` endpoints.
    pub fn sink(mut self, sink: Arc<dyn Appendable>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Discovery settings (Kubernetes environment, file SD poll interval, the update
    /// throttle); see [`discovery_options`] for what mini-prometheus uses.
    pub fn discovery_options(mut self, options: discovery::ManagerOptions) -> Self {
        self.discovery = options;
        self
    }

    /// Scrape manager settings (offset seed, concurrency, end-of-run staleness).
    pub fn scrape_options(mut self, options: ManagerOptions) -> Self {
        self.scrape = options;
        self
    }

    /// How long [`Pipeline::shutdown`] lets remote-write queues flush (default 10 s); also
    /// bounds the flush of queues a reload replaces.
    pub fn flush_deadline(mut self, deadline: Duration) -> Self {
        self.flush_deadline = deadline;
        self
    }

    /// Adds an own discovery mechanism to the job named `job` (next to whatever SD sections
    /// the config gives it). It stays attached across reloads while the job exists; a job
    /// the config does not have gets no targets from it.
    pub fn custom_sd(mut self, job: impl Into<String>, sd: CustomSd) -> Self {
        self.custom_sd.push((job.into(), sd));
        self
    }

    /// Starts the remote-write queues, the scrape manager and discovery on the current tokio
    /// runtime. Must be called inside one.
    pub fn start(self) -> Result<Pipeline, PipelineError> {
        let config = self.config;
        let queues = start_queues(&config.remote_write, &config.external_labels, &self.wal)?;
        let primary: Arc<dyn Appendable> = match (self.sinks.first(), &self.wal) {
            (Some(s), _) => s.clone(),
            (None, Some(w)) => Arc::new(WalAppendable::primary(w.clone())),
            (None, None) => Arc::new(RefIssuer::default()),
        };
        let mut extra_sinks: Vec<Arc<dyn Appendable>> =
            self.sinks.iter().skip(1).cloned().collect();
        if let Some(w) = &self.wal
            && !self.sinks.is_empty()
        {
            extra_sinks.push(Arc::new(WalAppendable::secondary(w.clone())));
        }
        let sink = Arc::new(SwitchSink(RwLock::new(Arc::new(fan_out(
            &primary,
            &extra_sinks,
            &queues,
            self.wal.is_some(),
        )))));
        let scrape = Arc::new(ScrapeManager::new(sink.clone(), self.scrape));
        if let Err(e) = scrape.apply_config(config.scrape_configs.clone(), &config.global) {
            drain(queues.into_iter().map(|(_, q)| q).collect(), Duration::ZERO);
            return Err(e.into());
        }
        let discovery = discovery::Manager::new(self.discovery);
        discovery.set_config(sd_jobs(&config, &self.custom_sd));
        let pods = DiscoveredPods::new();
        let cancel = CancellationToken::new();
        let mut tasks = vec![
            {
                // Snapshots go to the scrape manager as they are (discovery throttles them).
                let (scrape, snapshots) = (scrape.clone(), discovery.subscribe());
                tokio::spawn(async move { scrape.run(snapshots).await })
            },
            tokio::spawn(follow_pods(
                discovery.subscribe(),
                pods.clone(),
                cancel.child_token(),
            )),
        ];
        if let Some(w) = &self.wal {
            tasks.push(tokio::spawn(truncate_wal(w.clone(), cancel.child_token())));
        }
        Ok(Pipeline {
            wal: self.wal,
            scrape,
            discovery,
            pods,
            sink,
            primary,
            extra_sinks,
            custom_sd: self.custom_sd,
            flush_deadline: self.flush_deadline,
            cancel,
            state: Mutex::new(State { config, queues }),
            tasks: Mutex::new(tasks),
            draining: Mutex::new(Vec::new()),
        })
    }
}

/// What a reload replaces as one.
struct State {
    config: Config,
    /// The running queues, in config order, with the config each was started from.
    queues: Vec<(RemoteWriteConfig, RemoteWrite)>,
}

/// Discovery, scraping and remote write running from a [`Config`] into the embedder's sinks.
///
/// Every method takes `&self`: share it in an `Arc` between a reload path (SIGHUP, an HTTP
/// endpoint) and whatever reads its state.
pub struct Pipeline {
    scrape: Arc<ScrapeManager>,
    discovery: discovery::Manager,
    pods: Arc<DiscoveredPods>,
    sink: Arc<SwitchSink>,
    primary: Arc<dyn Appendable>,
    extra_sinks: Vec<Arc<dyn Appendable>>,
    custom_sd: Vec<(String, CustomSd)>,
    flush_deadline: Duration,
    cancel: CancellationToken,
    state: Mutex<State>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Queues replaced by reloads, flushing within the deadline.
    draining: Mutex<Vec<JoinHandle<()>>>,
    /// The write-ahead log every scrape goes to first, if any.
    wal: Option<Arc<Wal>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Settings for a pipeline running `config`; add sinks and options, then
    /// [`start`](PipelineBuilder::start) it.
    pub fn builder(config: Config) -> PipelineBuilder {
        PipelineBuilder {
            config,
            sinks: Vec::new(),
            discovery: discovery::ManagerOptions::default(),
            scrape: ManagerOptions::default(),
            flush_deadline: DEFAULT_FLUSH_DEADLINE,
            custom_sd: Vec::new(),
            wal: None,
        }
    }

    /// Applies a changed configuration as Prometheus does: jobs whose scrape or SD config is
    /// unchanged keep their loops, series state and discoverers; remote-write endpoints whose
    /// config (and the external labels) are unchanged keep their queues, changed or new ones
    /// start fresh queues and removed ones flush and stop. On any error nothing changes.
    pub fn reload(&self, new: Config) -> Result<(), PipelineError> {
        let mut st = lock(&self.state);
        // Which running queue each new endpoint keeps (same config and external labels).
        let labels_same = st.config.external_labels == new.external_labels;
        let mut taken = vec![false; st.queues.len()];
        let mut plan: Vec<Option<usize>> = Vec::with_capacity(new.remote_write.len());
        for cfg in &new.remote_write {
            let reuse = labels_same
                .then(|| {
                    st.queues
                        .iter()
                        .enumerate()
                        .position(|(i, (c, _))| !taken[i] && c == cfg)
                })
                .flatten();
            if let Some(i) = reuse {
                taken[i] = true;
            }
            plan.push(reuse);
        }
        let fresh_configs: Vec<RemoteWriteConfig> = new
            .remote_write
            .iter()
            .zip(&plan)
            .filter(|(_, p)| p.is_none())
            .map(|(c, _)| c.clone())
            .collect();
        let mut fresh = start_queues(&fresh_configs, &new.external_labels, &self.wal)?.into_iter();
        if let Err(e) = self
            .scrape
            .apply_config(new.scrape_configs.clone(), &new.global)
        {
            drain(fresh.map(|(_, q)| q).collect(), Duration::ZERO);
            return Err(e.into());
        }
        // From here on nothing fails.
        let mut queues = Vec::with_capacity(plan.len());
        for (cfg, p) in new.remote_write.iter().zip(&plan) {
            match p {
                Some(i) => queues.push((cfg.clone(), st.queues[*i].1.clone())),
                None => {
                    if let Some(q) = fresh.next() {
                        queues.push(q);
                    }
                }
            }
        }
        let retired: Vec<RemoteWrite> = st
            .queues
            .iter()
            .zip(&taken)
            .filter(|(_, t)| !**t)
            .map(|((_, q), _)| q.clone())
            .collect();
        let fan = fan_out(
            &self.primary,
            &self.extra_sinks,
            &queues,
            self.wal.is_some(),
        );
        *self.sink.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fan);
        self.discovery.set_config(sd_jobs(&new, &self.custom_sd));
        if !retired.is_empty() {
            let h = drain(retired, self.flush_deadline);
            let mut draining = lock(&self.draining);
            draining.retain(|h| !h.is_finished());
            draining.push(h);
        }
        st.queues = queues;
        st.config = new;
        Ok(())
    }

    /// Drains the pipeline: scraping stops (every loop joined), discovery stops, then the
    /// remote-write queues flush within the flush deadline. The sinks see no more appends
    /// once this returns.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.scrape.shutdown().await;
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
        self.discovery.set_config(Vec::new());
        self.remote_write().shutdown(self.flush_deadline).await;
        let draining = std::mem::take(&mut *lock(&self.draining));
        for h in draining {
            let _ = h.await;
        }
        if let Some(w) = &self.wal {
            w.close();
        }
    }

    /// The write-ahead log the pipeline writes to, if it was given one (for its metrics).
    pub fn wal(&self) -> Option<&Arc<Wal>> {
        self.wal.as_ref()
    }

    /// The configuration running now (the last one started or reloaded).
    pub fn config(&self) -> Config {
        lock(&self.state).config.clone()
    }

    /// The scrape manager: its [`targets`](ScrapeManager::targets),
    /// [`sync_failures`](ScrapeManager::sync_failures) and
    /// [`counters`](ScrapeManager::counters) are what `/api/v1/targets` and `/metrics` show.
    pub fn scrape_manager(&self) -> &Arc<ScrapeManager> {
        &self.scrape
    }

    /// The discovery manager: its snapshots, errors and Kubernetes usage.
    pub fn discovery(&self) -> &discovery::Manager {
        &self.discovery
    }

    /// Active and dropped targets of every job.
    pub fn targets(&self) -> TargetsSnapshot {
        self.scrape.targets()
    }

    /// Errors of targets that could not be created in the last sync of `job`.
    pub fn sync_failures(&self, job: &str) -> Vec<scrapeline_scrape::PopulateError> {
        self.scrape.sync_failures(job)
    }

    /// Scrape totals since the pipeline started.
    pub fn counters(&self) -> ScrapeCounters {
        self.scrape.counters()
    }

    /// Discovery providers that could not start, as (job, error).
    pub fn discovery_errors(&self) -> Vec<(String, String)> {
        self.discovery.errors()
    }

    /// Kubernetes watches, stored objects and their heap bytes.
    pub fn kube_usage(&self) -> KubeUsage {
        self.discovery.kube_usage()
    }

    /// The remote-write queues running now (for their metrics: [`RemoteWriteSet::write_metrics`]).
    pub fn remote_write(&self) -> RemoteWriteSet {
        lock(&self.state)
            .queues
            .iter()
            .map(|(_, q)| q.clone())
            .collect()
    }

    /// The pods discovery has seen (any job's pod-role targets), as the cgroup collector's
    /// pod lookup: `Collector::with_pod_lookup(pipeline.pod_lookup())`.
    pub fn pod_lookup(&self) -> Arc<DiscoveredPods> {
        self.pods.clone()
    }

    /// The sink the scrape manager appends to: the fan-out to the sinks and the current
    /// remote-write queues. Samples appended here go where scraped ones go.
    pub fn appendable(&self) -> Arc<dyn Appendable> {
        self.sink.clone()
    }
}

/// The SD sections of every job plus the custom mechanisms attached to it.
fn sd_jobs(config: &Config, custom: &[(String, CustomSd)]) -> Vec<(String, SdConfigs)> {
    config
        .scrape_configs
        .iter()
        .map(|sc| {
            let mut sd = sc.sd_configs();
            sd.custom.extend(
                custom
                    .iter()
                    .filter(|(job, _)| *job == sc.job_name)
                    .map(|(_, c)| c.clone()),
            );
            (sc.job_name.clone(), sd)
        })
        .collect()
}

/// Starts one queue per config; on an error stops those started and returns it.
fn start_queues(
    configs: &[RemoteWriteConfig],
    external_labels: &Labels,
    wal: &Option<Arc<Wal>>,
) -> Result<Vec<(RemoteWriteConfig, RemoteWrite)>, RemoteWriteError> {
    let set = RemoteWriteSet::start_with_wal(configs, external_labels, wal.clone())?;
    Ok(configs.iter().cloned().zip(set.queues().to_vec()).collect())
}

/// The fan-out to the sinks and, unless they read a write-ahead log (`queues_read_wal`),
/// the remote-write queues.
fn fan_out(
    primary: &Arc<dyn Appendable>,
    extra_sinks: &[Arc<dyn Appendable>],
    queues: &[(RemoteWriteConfig, RemoteWrite)],
    queues_read_wal: bool,
) -> FanOut {
    let mut secondaries = extra_sinks.to_vec();
    if queues_read_wal {
        return FanOut::new(primary.clone(), secondaries);
    }
    secondaries.extend(
        queues
            .iter()
            .map(|(_, q)| Arc::new(q.clone()) as Arc<dyn Appendable>),
    );
    FanOut::new(primary.clone(), secondaries)
}

/// Flushes and stops `queues` in the background, each bounded by `deadline`.
fn drain(queues: Vec<RemoteWrite>, deadline: Duration) -> JoinHandle<()> {
    let set: RemoteWriteSet = queues.into_iter().collect();
    tokio::spawn(async move { set.shutdown(deadline).await })
}

/// Truncates the log every [`WAL_TRUNCATE_EVERY`] (off the runtime's threads: it reads and
/// writes files).
async fn truncate_wal(wal: Arc<Wal>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(WAL_TRUNCATE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let w = wal.clone();
        // Failures are logged and counted by the log itself.
        let _ = tokio::task::spawn_blocking(move || w.truncate()).await;
    }
}

/// Keeps the pod index in step with discovery's snapshots.
async fn follow_pods(
    mut rx: tokio::sync::watch::Receiver<discovery::Snapshot>,
    pods: Arc<DiscoveredPods>,
    cancel: CancellationToken,
) {
    loop {
        let snapshot = rx.borrow_and_update().clone();
        pods.refresh(snapshot.values().flatten().map(|g| &**g));
        tokio::select! {
            _ = cancel.cancelled() => return,
            r = rx.changed() => if r.is_err() { return },
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The scrape manager's sink: the current fan-out, replaced by a reload. Every scrape takes
/// its appender from the fan-out current when it starts.
struct SwitchSink(RwLock<Arc<FanOut>>);

impl Appendable for SwitchSink {
    fn appender(&self) -> Box<dyn Appender> {
        let fan = self.0.read().unwrap_or_else(|p| p.into_inner()).clone();
        fan.appender()
    }
}

/// The primary of an agent (no store): hands out series refs that stay valid across reloads
/// (remote-write queues key their caches by them), stores nothing and refuses nothing.
#[derive(Default)]
struct RefIssuer(Arc<AtomicU64>);

impl Appendable for RefIssuer {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(RefIssuer(self.0.clone()))
    }
}

impl Appender for RefIssuer {
    fn append(
        &mut self,
        series: SeriesRef,
        _labels: &Labels,
        _timestamp_ms: i64,
        _value: f64,
    ) -> Result<SeriesRef, AppendError> {
        if series != 0 {
            return Ok(series);
        }
        Ok(self.0.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        Ok(())
    }

    fn rollback(&mut self) {}
}

#[cfg(test)]
mod tests;
