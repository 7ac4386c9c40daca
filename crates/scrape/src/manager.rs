//! The scrape manager: one pool per job, each turning target groups into targets and running
//! one loop per target (Prometheus' `scrape.Manager` and `scrapePool`).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use scrapeline_exposition::{Labels, LabelsBuilder};
use scrapeline_sd::TargetGroup;
use scrapeline_sd::discovery::Snapshot;
use scrapeline_sd::relabel::{Rule, compile};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::append::Appendable;
use crate::client::{FetchError, JobClient};
use crate::config::{ConfigError, GlobalConfig, ScrapeConfig};
use crate::outcome::TargetLimitExceeded;
use crate::pipeline::{PipelineConfig, ScrapeCache};
use crate::scrape_loop::LoopCtx;
use crate::shared::{ManagerOptions, Shared};
use crate::state::{DroppedTarget, FailedTarget, HealthState, TargetInfo, TargetsSnapshot};
use crate::target::{
    PopulateError, PopulateFailure, interval_and_timeout, populate_target, reload_key, target_hash,
    target_url,
};

/// The most targets that failed to be created a pool keeps (with their discovered labels and
/// error) from one sync, whatever `keep_dropped_targets` allows: a discovery that yields
/// thousands of broken targets must not grow memory without bound.
pub const MAX_FAILED_TARGETS_PER_POOL: usize = 1000;

struct LoopHandle {
    target: Arc<TargetInfo>,
    cancel: CancellationToken,
    stopped: CancellationToken,
    eor_disabled: Arc<AtomicBool>,
    cache: Arc<Mutex<ScrapeCache>>,
}

impl LoopHandle {
    fn stop(&self) {
        self.cancel.cancel();
    }
}

struct Pool {
    cfg: Arc<ScrapeConfig>,
    client: Result<JobClient, FetchError>,
    pipeline: Arc<PipelineConfig>,
    rules: Vec<Rule>,
    active: HashMap<u64, LoopHandle>,
    dropped: Vec<Labels>,
    dropped_count: usize,
    forced: Arc<Mutex<Option<TargetLimitExceeded>>>,
    /// Targets of the last sync that failed to be created, bounded like `dropped` and to
    /// [`MAX_FAILED_TARGETS_PER_POOL`].
    failed: Vec<PopulateFailure>,
    /// All of them, kept or not (`prometheus_target_sync_failed_total` adds this per sync).
    failed_count: usize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn pipeline_config(cfg: &ScrapeConfig) -> Result<PipelineConfig, ConfigError> {
    let rules = compile(&cfg.metric_relabel_configs).map_err(|e| {
        ConfigError(format!(
            "job {:?}: metric_relabel_configs: {e}",
            cfg.job_name
        ))
    })?;
    let n = |v: Option<u64>| usize::try_from(v.unwrap_or(0)).unwrap_or(usize::MAX);
    Ok(PipelineConfig {
        honor_labels: cfg.honor_labels,
        honor_timestamps: cfg.honor_timestamps,
        track_timestamps_staleness: cfg.track_timestamps_staleness,
        metric_relabel: Arc::new(rules),
        sample_limit: n(cfg.sample_limit),
        label_limit: n(cfg.label_limit),
        label_name_length_limit: n(cfg.label_name_length_limit),
        label_value_length_limit: n(cfg.label_value_length_limit),
        validation: cfg.validation_scheme(),
    })
}

struct NewTarget {
    labels: Labels,
    discovered: Labels,
    url: String,
}

impl Pool {
    fn new(shared: &Shared, cfg: ScrapeConfig) -> Result<Pool, ConfigError> {
        let rules = compile(&cfg.relabel_configs)
            .map_err(|e| ConfigError(format!("job {:?}: relabel_configs: {e}", cfg.job_name)))?;
        let pipeline = Arc::new(pipeline_config(&cfg)?);
        let client = JobClient::new(&shared.clients, &cfg);
        Ok(Pool {
            cfg: Arc::new(cfg),
            client,
            pipeline,
            rules,
            active: HashMap::new(),
            dropped: Vec::new(),
            dropped_count: 0,
            forced: Arc::new(Mutex::new(None)),
            failed: Vec::new(),
            failed_count: 0,
        })
    }

    fn build_targets(
        &mut self,
        groups: &[Arc<TargetGroup>],
        keep_max: usize,
    ) -> BTreeMap<u64, NewTarget> {
        let mut lb = LabelsBuilder::new();
        let mut out = BTreeMap::new();
        self.dropped.clear();
        self.dropped_count = 0;
        self.failed.clear();
        self.failed_count = 0;
        let keep = match self.cfg.keep_dropped_targets.unwrap_or(0) {
            0 => keep_max,
            k => usize::try_from(k)
                .unwrap_or(usize::MAX)
                .min(keep_max.max(1)),
        };
        let keep_failed = keep.min(MAX_FAILED_TARGETS_PER_POOL);
        for g in groups {
            for t in &g.targets {
                match populate_target(&mut lb, &self.cfg, &self.rules, t, &g.labels) {
                    Err(f) => {
                        self.failed_count += 1;
                        if self.failed.len() < keep_failed {
                            self.failed.push(f);
                        }
                    }
                    Ok(p) => match p.labels {
                        None => {
                            self.dropped_count += 1;
                            if self.dropped.len() < keep {
                                self.dropped.push(p.discovered);
                            }
                        }
                        Some(labels) => {
                            let url = target_url(&labels, &self.cfg);
                            let h = target_hash(&labels, &url);
                            out.insert(
                                h,
                                NewTarget {
                                    labels,
                                    discovered: p.discovered,
                                    url,
                                },
                            );
                        }
                    },
                }
            }
        }
        out
    }

    fn start_loop(
        &self,
        shared: &Arc<Shared>,
        hash: u64,
        t: NewTarget,
        cache: Option<Arc<Mutex<ScrapeCache>>>,
        predecessor: Option<CancellationToken>,
    ) -> LoopHandle {
        let (interval, timeout) = interval_and_timeout(&t.labels, &self.cfg);
        let public = Labels::from_sorted_iter(
            t.labels
                .iter()
                .filter(|l| !l.name.starts_with("__"))
                .map(|l| (l.name, l.value)),
        );
        let info = Arc::new(TargetInfo {
            job: self.cfg.job_name.clone(),
            hash,
            reload_key: reload_key(&t.labels, &t.url),
            url: t.url,
            public_labels: public,
            discovered: Mutex::new(t.discovered),
            interval,
            timeout,
            health: Mutex::new(HealthState::default()),
        });
        let cache = cache.unwrap_or_default();
        let cancel = CancellationToken::new();
        let stopped = CancellationToken::new();
        let eor_disabled = Arc::new(AtomicBool::new(false));
        let ctx = LoopCtx {
            shared: shared.clone(),
            target: info.clone(),
            cfg: self.cfg.clone(),
            client: self.client.clone(),
            pipeline: self.pipeline.clone(),
            cache: cache.clone(),
            cancel: cancel.clone(),
            eor_disabled: eor_disabled.clone(),
            forced: self.forced.clone(),
            predecessor,
            stopped: stopped.clone(),
        };
        shared.tracker.spawn(ctx.run());
        LoopHandle {
            target: info,
            cancel,
            stopped,
            eor_disabled,
            cache,
        }
    }

    /// Prometheus' `scrapePool.Sync` (and, with `restart`, `reload`): start loops for new
    /// targets, stop loops of vanished ones, keep the rest.
    fn sync(&mut self, shared: &Arc<Shared>, groups: &[Arc<TargetGroup>], restart: Option<bool>) {
        let started = std::time::Instant::now();
        let new = self.build_targets(groups, shared.options.max_dropped_targets);
        let mut old = std::mem::take(&mut self.active);
        // On a reload, a target whose identity changed only by its interval/timeout labels is
        // still the same target: hand its loop's place (and cache) to the new loop.
        let by_reload_key: HashMap<u64, u64> = if restart.is_some() {
            old.iter().map(|(h, l)| (l.target.reload_key, *h)).collect()
        } else {
            HashMap::new()
        };
        for (h, t) in new {
            let prev = old.remove(&h).or_else(|| {
                let k = reload_key(&t.labels, &t.url);
                by_reload_key.get(&k).and_then(|oh| old.remove(oh))
            });
            match prev {
                Some(prev) => match restart {
                    None => {
                        *lock(&prev.target.discovered) = t.discovered;
                        self.active.insert(h, prev);
                    }
                    Some(reuse_cache) => {
                        let cache = if reuse_cache {
                            prev.eor_disabled.store(true, Ordering::SeqCst);
                            let c = prev.cache.clone();
                            lock(&c).reset_report();
                            Some(c)
                        } else {
                            None
                        };
                        prev.stop();
                        let handle =
                            self.start_loop(shared, h, t, cache, Some(prev.stopped.clone()));
                        self.active.insert(h, handle);
                    }
                },
                None => {
                    let handle = self.start_loop(shared, h, t, None, None);
                    self.active.insert(h, handle);
                }
            }
        }
        for (_, l) in old {
            l.stop();
        }
        let limit = self.cfg.target_limit.unwrap_or(0);
        let n = self.active.len() as u64;
        let exceeded = limit > 0 && n > limit;
        if exceeded {
            shared
                .metrics
                .target_limit_exceeded_total
                .fetch_add(1, Ordering::Relaxed);
        }
        *lock(&self.forced) = exceeded.then_some(TargetLimitExceeded { targets: n, limit });
        shared
            .metrics
            .sync_done(&self.cfg.job_name, started.elapsed(), self.failed_count);
    }

    fn stop_all(&mut self) {
        for (_, l) in self.active.drain() {
            l.stop();
        }
    }
}

struct Inner {
    pools: BTreeMap<String, Pool>,
    groups: HashMap<String, Vec<Arc<TargetGroup>>>,
}

/// Runs every job's targets; the entry point the binary uses.
///
/// Cheap to share (`Arc<ScrapeManager>`): every method takes `&self`.
pub struct ScrapeManager {
    shared: Arc<Shared>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager").finish_non_exhaustive()
    }
}

impl ScrapeManager {
    /// A manager that appends every scrape to `appendable`. Must be created inside a tokio
    /// runtime (loops are spawned on it).
    pub fn new(appendable: Arc<dyn Appendable>, options: ManagerOptions) -> Self {
        ScrapeManager {
            shared: Arc::new(Shared::new(appendable, options)),
            inner: Mutex::new(Inner {
                pools: BTreeMap::new(),
                groups: HashMap::new(),
            }),
        }
    }

    /// Applies a new list of scrape configs (Prometheus' `ApplyConfig`). The `*_sd_configs`
    /// and `static_configs` sections are not read here: discovery turns them into target
    /// groups that arrive through [`sync`](Self::sync) or [`run`](Self::run) (see
    /// [`ScrapeConfig::static_target_groups`]). Every config is
    /// completed from `global` and validated first; on any error nothing changes. Jobs whose
    /// config is unchanged keep their loops untouched; changed jobs restart their loops
    /// (reusing the scrape cache, without stale markers, when only interval, timeout,
    /// `sample_limit` or HTTP settings changed); removed jobs stop.
    pub fn apply_config(
        &self,
        configs: Vec<ScrapeConfig>,
        global: &GlobalConfig,
    ) -> Result<(), ConfigError> {
        global.validate()?;
        let mut resolved = Vec::with_capacity(configs.len());
        let mut names = std::collections::HashSet::new();
        for mut c in configs {
            c.apply_global(global)?;
            if !names.insert(c.job_name.clone()) {
                return Err(ConfigError(format!(
                    "found multiple scrape configs with job name {:?}",
                    c.job_name
                )));
            }
            resolved.push(c);
        }
        // Build new pools before touching anything so that errors leave the old state.
        let mut inner = lock(&self.inner);
        let mut fresh: Vec<(ScrapeConfig, Option<Pool>)> = Vec::new();
        for c in resolved {
            let unchanged = inner.pools.get(&c.job_name).is_some_and(|p| *p.cfg == c);
            if unchanged {
                fresh.push((c, None));
            } else {
                // Prometheus counts a changed job as a pool reload, a new one as a creation.
                let m = &self.shared.metrics;
                let (attempts, failures) = if inner.pools.contains_key(&c.job_name) {
                    (&m.reloads_total, &m.reloads_failed_total)
                } else {
                    (&m.pools_total, &m.pools_failed_total)
                };
                attempts.fetch_add(1, Ordering::Relaxed);
                let pool = Pool::new(&self.shared, c.clone()).inspect_err(|_| {
                    failures.fetch_add(1, Ordering::Relaxed);
                })?;
                fresh.push((c, Some(pool)));
            }
        }
        let keep: std::collections::HashSet<String> =
            fresh.iter().map(|(c, _)| c.job_name.clone()).collect();
        let removed: Vec<String> = inner
            .pools
            .keys()
            .filter(|k| !keep.contains(*k))
            .cloned()
            .collect();
        for k in removed {
            if let Some(mut p) = inner.pools.remove(&k) {
                p.stop_all();
            }
        }
        for (c, pool) in fresh {
            let Some(mut pool) = pool else { continue };
            let groups = inner.groups.get(&c.job_name).cloned().unwrap_or_default();
            match inner.pools.remove(&c.job_name) {
                Some(old) => {
                    let reuse = old.cfg.cache_reusable_with(&c);
                    pool.active = old.active;
                    pool.sync(&self.shared, &groups, Some(reuse));
                }
                None => pool.sync(&self.shared, &groups, None),
            }
            inner.pools.insert(c.job_name.clone(), pool);
        }
        Ok(())
    }

    /// Replaces the target groups of `job` (all of them: a full snapshot, as the discovery
    /// manager sends it). Unchanged targets keep their loops.
    pub fn sync<G: Into<Arc<TargetGroup>>>(&self, job: &str, groups: impl IntoIterator<Item = G>) {
        let groups: Vec<Arc<TargetGroup>> = groups.into_iter().map(Into::into).collect();
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        if let Some(p) = inner.pools.get_mut(job) {
            p.sync(&self.shared, &groups, None);
        }
        inner.groups.insert(job.to_owned(), groups);
    }

    /// Follows the discovery manager's snapshots
    /// ([`scrapeline_sd::discovery::Manager::subscribe`]) until shutdown: every snapshot is
    /// applied to every job as it arrives (jobs missing from it lose their targets). The
    /// discovery manager throttles them; the groups are shared, not copied.
    pub async fn run(&self, mut targets: watch::Receiver<Snapshot>) {
        loop {
            let snap = targets.borrow_and_update().clone();
            let jobs: Vec<String> = {
                let inner = lock(&self.inner);
                inner
                    .pools
                    .keys()
                    .cloned()
                    .chain(snap.keys().cloned())
                    .collect()
            };
            for j in jobs {
                self.sync(&j, snap.get(&j).cloned().unwrap_or_default());
            }
            tokio::select! {
                _ = self.shared.shutdown.cancelled() => return,
                r = targets.changed() => if r.is_err() { return },
            }
        }
    }

    /// Active, dropped and failed targets of every job, for `/api/v1/targets`.
    pub fn targets(&self) -> TargetsSnapshot {
        let inner = lock(&self.inner);
        let mut snap = TargetsSnapshot::default();
        for (job, p) in &inner.pools {
            let mut act: Vec<_> = p.active.values().map(|l| l.target.snapshot()).collect();
            act.sort_by(|a, b| a.scrape_url.cmp(&b.scrape_url).then(a.hash.cmp(&b.hash)));
            snap.active.extend(act);
            snap.dropped.extend(p.dropped.iter().map(|d| DroppedTarget {
                scrape_pool: job.clone(),
                discovered_labels: d.clone(),
            }));
            snap.dropped_counts.push((job.clone(), p.dropped_count));
            snap.failed.extend(p.failed.iter().map(|f| FailedTarget {
                scrape_pool: job.clone(),
                discovered_labels: f.discovered.clone(),
                error: f.error.clone(),
            }));
        }
        snap
    }

    /// Errors of targets that could not be created in the last sync of `job` (Prometheus logs
    /// them as "Creating target failed"), in discovery order; bounded like the failed targets
    /// of [`targets`](Self::targets), which also carry their discovered labels.
    pub fn sync_failures(&self, job: &str) -> Vec<PopulateError> {
        lock(&self.inner)
            .pools
            .get(job)
            .map(|p| p.failed.iter().map(|f| f.error.clone()).collect())
            .unwrap_or_default()
    }

    /// Per job: metric families whose metadata the targets' caches hold, and the bytes of
    /// their strings (Prometheus' `prometheus_target_metadata_cache_entries` and `_bytes`,
    /// which the mixin's `PrometheusNotIngestingSamples` alert reads).
    pub fn metadata_cache_usage(&self) -> BTreeMap<String, (usize, usize)> {
        let inner = lock(&self.inner);
        inner
            .pools
            .iter()
            .map(|(job, p)| {
                let usage = p.active.values().fold((0, 0), |(n, b), l| {
                    let (ln, lb) = lock(&l.cache).metadata_usage();
                    (n + ln, b + lb)
                });
                (job.clone(), usage)
            })
            .collect()
    }

    /// Pool creations and reloads, target syncs and scrape intervals, as Prometheus'
    /// `prometheus_target_*` metrics report them.
    pub fn target_metrics(&self) -> crate::metrics::TargetMetrics {
        self.shared.metrics.snapshot()
    }

    /// Running totals over every loop since the manager started.
    pub fn counters(&self) -> crate::shared::ScrapeCounters {
        self.shared.counters.snapshot()
    }

    /// Stops every loop (no end-of-run stale markers: the process is presumed to restart) and
    /// waits for all of them.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        {
            let mut inner = lock(&self.inner);
            for p in inner.pools.values_mut() {
                p.stop_all();
            }
        }
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
    }
}
