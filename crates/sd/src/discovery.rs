//! The discovery manager: runs one discoverer per distinct SD config (shared by every job
//! that configures an equal one) and publishes per-job snapshots of target groups.
//!
//! # The discoverer contract
//! A [`Discoverer`] sends batches of whole [`TargetGroup`]s on a bounded channel. The **first
//! batch is the complete initial set** (possibly empty); later batches hold only the groups
//! that changed, each replacing the group with the same source; an empty group (no targets,
//! no labels) deletes its source. Embedders bring their own discoverers through
//! [`SdConfigs::custom`] ([`CustomSd`]).
//!
//! # Update throttle
//! Like Prometheus' discovery manager, this one publishes at most one snapshot per
//! [`ManagerOptions::update_interval`] (5 s by default): a burst of watch events becomes one
//! update for the scrape manager. Two moments are never delayed: a new job set
//! ([`Manager::set_config`]) and the moment every provider has delivered its first complete
//! set. Snapshots share their groups (`Arc<TargetGroup>`), so a consumer such as
//! `scrapeline_scrape::ScrapeManager::run` takes them as they are, without copying.
//!
//! # Example
//! ```no_run
//! use std::time::Duration;
//! use scrapeline_sd::config::StaticConfig;
//! use scrapeline_sd::discovery::{Manager, ManagerOptions, SdConfigs};
//!
//! # async fn demo() -> Result<(), scrapeline_sd::discovery::DiscoveryError> {
//! let jobs = vec![(
//!     "node".to_string(),
//!     SdConfigs {
//!         static_configs: vec![StaticConfig { targets: vec!["localhost:9100".into()], ..Default::default() }],
//!         ..Default::default()
//!     },
//! )];
//! // Long-running: subscribe to snapshots.
//! let manager = Manager::new(ManagerOptions::default());
//! manager.set_config(jobs.clone());
//! let mut rx = manager.subscribe();
//! rx.changed().await.ok();
//! for (job, groups) in rx.borrow().iter() {
//!     println!("{job}: {} groups", groups.len());
//! }
//! // One shot (`sd --once`): wait for the first complete set.
//! let snapshot = scrapeline_sd::discovery::discover_once(jobs, ManagerOptions::default(), Duration::from_secs(30)).await?;
//! assert_eq!(snapshot["node"][0].targets.len(), 1);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

use crate::TargetGroup;
use crate::config::{FileSdConfig, KubernetesSdConfig, StaticConfig};
use crate::file_sd::FileDiscoverer;
use crate::kubernetes::{KubeContext, KubeEnv, KubeUsage, KubernetesDiscoverer};
use crate::static_sd::static_groups;

/// Why a discoverer stopped for good (shown by [`Manager::errors`] and `sd --once`).
pub type DiscovererError = Box<dyn std::error::Error + Send + Sync>;

/// A source of target groups (see the module docs for the contract). Implement it to plug an
/// inventory of your own into the pipeline ([`CustomSd`]).
pub trait Discoverer: Send + 'static {
    /// Runs until `out` closes or the future is dropped.
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<TargetGroup>>,
    ) -> BoxFuture<'static, Result<(), DiscovererError>>;
}

/// An embedder's own discovery mechanism, configured for one job: Prometheus'
/// `discovery.Config` for mechanisms this crate does not ship.
///
/// Two jobs whose `CustomSd` have the same `name` and `key` share one running discoverer, and a
/// reload keeps it running while they stay the same, exactly as for the built-in mechanisms;
/// so `key` should capture everything that configures it (a file path, a URL, a serialized
/// config).
#[derive(Clone)]
pub struct CustomSd {
    /// The mechanism's name, for errors (`inventory`, `consul`, …).
    pub name: String,
    /// What identifies this configuration of it.
    pub key: String,
    /// Makes a fresh discoverer (called when the provider starts).
    pub make: Arc<dyn Fn() -> Box<dyn Discoverer> + Send + Sync>,
}

impl CustomSd {
    /// A custom mechanism `name` configured as `key`, started by `make`.
    pub fn new(
        name: impl Into<String>,
        key: impl Into<String>,
        make: impl Fn() -> Box<dyn Discoverer> + Send + Sync + 'static,
    ) -> Self {
        CustomSd {
            name: name.into(),
            key: key.into(),
            make: Arc::new(make),
        }
    }
}

impl PartialEq for CustomSd {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.key == other.key
    }
}

impl std::fmt::Debug for CustomSd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomSd")
            .field("name", &self.name)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

struct StaticDisc(Vec<StaticConfig>);

impl Discoverer for StaticDisc {
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<TargetGroup>>,
    ) -> BoxFuture<'static, Result<(), DiscovererError>> {
        Box::pin(async move {
            if out.send(static_groups(&self.0)).await.is_ok() {
                out.closed().await;
            }
            Ok(())
        })
    }
}

impl Discoverer for FileDiscoverer {
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<TargetGroup>>,
    ) -> BoxFuture<'static, Result<(), DiscovererError>> {
        Box::pin(async move {
            FileDiscoverer::run(*self, out).await;
            Ok(())
        })
    }
}

impl Discoverer for KubernetesDiscoverer {
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<TargetGroup>>,
    ) -> BoxFuture<'static, Result<(), DiscovererError>> {
        Box::pin(async move {
            KubernetesDiscoverer::run(*self, out)
                .await
                .map_err(DiscovererError::from)
        })
    }
}

/// The SD sections of one scrape job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SdConfigs {
    /// `static_configs`.
    pub static_configs: Vec<StaticConfig>,
    /// `file_sd_configs`.
    pub file_sd_configs: Vec<FileSdConfig>,
    /// `kubernetes_sd_configs`.
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// An embedder's own mechanisms.
    pub custom: Vec<CustomSd>,
}

/// Per job, every non-empty group of every provider of that job, in (provider, source) order.
pub type Snapshot = Arc<HashMap<String, Vec<Arc<TargetGroup>>>>;

/// Manager settings.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Kubernetes environment (in-cluster paths, watch tuning).
    pub kube: KubeEnv,
    /// How often file SD checks its files for changes.
    pub file_poll_interval: Duration,
    /// At most one snapshot is published per this interval (Prometheus' `updatert`, 5 s);
    /// see the module docs for the two moments that are never delayed.
    pub update_interval: Duration,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        Self {
            kube: KubeEnv::default(),
            file_poll_interval: Duration::from_secs(5),
            update_interval: Duration::from_secs(5),
        }
    }
}

/// Errors of [`discover_once`].
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// Not every provider produced its first complete set in time.
    #[error("discovery did not complete within {0:?}")]
    Timeout(Duration),
    /// A provider could not start.
    #[error("job {job:?}: {message}")]
    Provider {
        /// The job.
        job: String,
        /// What failed.
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum ProviderConfig {
    Static(Vec<StaticConfig>),
    File(FileSdConfig),
    Kubernetes(Box<KubernetesSdConfig>),
    Custom(CustomSd),
}

struct Provider {
    id: u64,
    config: ProviderConfig,
    groups: BTreeMap<String, Arc<TargetGroup>>,
    synced: bool,
    error: Option<String>,
    task: AbortHandle,
}

enum Msg {
    Groups(u64, Vec<TargetGroup>),
    Failed(u64, String),
}

#[derive(Default)]
struct State {
    providers: Vec<Provider>,
    jobs: Vec<(String, Vec<u64>)>,
    next_id: u64,
}

struct Shared {
    state: Mutex<State>,
    snapshot: watch::Sender<Snapshot>,
    synced: watch::Sender<bool>,
    updates: mpsc::Sender<Msg>,
    kube: Arc<KubeContext>,
    options: ManagerOptions,
    counters: crate::metrics::UpdateCounters,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, st: &State) {
        let mut map = HashMap::with_capacity(st.jobs.len());
        let mut all_synced = true;
        for (job, ids) in &st.jobs {
            let mut groups = Vec::new();
            for id in ids {
                if let Some(p) = st.providers.iter().find(|p| p.id == *id) {
                    all_synced &= p.synced;
                    groups.extend(p.groups.values().cloned());
                }
            }
            map.insert(job.clone(), groups);
        }
        self.snapshot.send_replace(Arc::new(map));
        self.synced.send_replace(all_synced);
        self.counters
            .sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn all_synced(st: &State) -> bool {
        st.jobs.iter().flat_map(|(_, ids)| ids).all(|id| {
            st.providers
                .iter()
                .find(|p| p.id == *id)
                .is_none_or(|p| p.synced)
        })
    }
}

/// Runs discovery for a set of jobs; see the module docs.
pub struct Manager {
    shared: Arc<Shared>,
    aggregator: AbortHandle,
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.aggregator.abort();
        for p in &self.shared.lock().providers {
            p.task.abort();
        }
    }
}

impl Manager {
    /// Starts a manager with no jobs. Must be called inside a Tokio runtime.
    pub fn new(options: ManagerOptions) -> Self {
        let (tx, rx) = mpsc::channel(1024);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            snapshot: watch::channel(Arc::new(HashMap::new())).0,
            synced: watch::channel(true).0,
            updates: tx,
            kube: Arc::new(KubeContext::new(options.kube.clone())),
            options,
            counters: Default::default(),
        });
        let aggregator = tokio::spawn(aggregate(Arc::downgrade(&shared), rx)).abort_handle();
        Self { shared, aggregator }
    }

    /// Replaces the job set. Providers whose config is unchanged keep running (and keep their
    /// groups and watches); an SD config equal to another job's shares that job's provider.
    pub fn set_config(&self, jobs: Vec<(String, SdConfigs)>) {
        let mut st = self.shared.lock();
        let mut old: Vec<Provider> = std::mem::take(&mut st.providers);
        let mut providers: Vec<Provider> = Vec::new();
        let mut new_jobs = Vec::with_capacity(jobs.len());
        for (job, cfgs) in jobs {
            let mut pcs = Vec::new();
            if !cfgs.static_configs.is_empty() {
                pcs.push(ProviderConfig::Static(cfgs.static_configs));
            }
            pcs.extend(cfgs.file_sd_configs.into_iter().map(ProviderConfig::File));
            pcs.extend(
                cfgs.kubernetes_sd_configs
                    .into_iter()
                    .map(|c| ProviderConfig::Kubernetes(Box::new(c))),
            );
            pcs.extend(cfgs.custom.into_iter().map(ProviderConfig::Custom));
            let mut ids = Vec::new();
            for pc in pcs {
                if let Some(p) = providers.iter().find(|p| p.config == pc) {
                    ids.push(p.id);
                } else if let Some(i) = old.iter().position(|p| p.config == pc) {
                    let p = old.swap_remove(i);
                    ids.push(p.id);
                    providers.push(p);
                } else {
                    let id = st.next_id;
                    st.next_id += 1;
                    providers.push(self.start(id, pc));
                    ids.push(id);
                }
            }
            new_jobs.push((job, ids));
        }
        for p in old {
            p.task.abort();
        }
        st.providers = providers;
        st.jobs = new_jobs;
        self.shared.publish(&st);
    }

    fn start(&self, id: u64, config: ProviderConfig) -> Provider {
        let opts = &self.shared.options;
        let disc: Box<dyn Discoverer> = match &config {
            ProviderConfig::Static(c) => Box::new(StaticDisc(c.clone())),
            ProviderConfig::File(c) => {
                Box::new(FileDiscoverer::new(c.clone(), opts.file_poll_interval))
            }
            ProviderConfig::Kubernetes(c) => Box::new(KubernetesDiscoverer::new(
                (**c).clone(),
                self.shared.kube.clone(),
            )),
            ProviderConfig::Custom(c) => (c.make)(),
        };
        let updates = self.shared.updates.clone();
        let task = tokio::spawn(async move {
            let (tx, mut rx) = mpsc::channel::<Vec<TargetGroup>>(64);
            let forward = {
                let updates = updates.clone();
                async move {
                    while let Some(groups) = rx.recv().await {
                        if updates.send(Msg::Groups(id, groups)).await.is_err() {
                            return;
                        }
                    }
                }
            };
            let (result, ()) = futures::future::join(disc.run(tx), forward).await;
            if let Err(e) = result {
                let _ = updates.send(Msg::Failed(id, e.to_string())).await;
            }
        })
        .abort_handle();
        Provider {
            id,
            config,
            groups: BTreeMap::new(),
            synced: false,
            error: None,
            task,
        }
    }

    /// Snapshots of every job's groups, updated after every change.
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.shared.snapshot.subscribe()
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot.borrow().clone()
    }

    /// Waits until every provider of the current config has delivered its first complete set
    /// (or failed to start).
    pub async fn wait_synced(&self) {
        let mut rx = self.shared.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Startup errors per job (a provider that could not start).
    pub fn errors(&self) -> Vec<(String, String)> {
        let st = self.shared.lock();
        let mut out = Vec::new();
        for (job, ids) in &st.jobs {
            for id in ids {
                if let Some(e) = st
                    .providers
                    .iter()
                    .find(|p| p.id == *id)
                    .and_then(|p| p.error.clone())
                {
                    out.push((job.clone(), e));
                }
            }
        }
        out
    }

    /// Updates received from providers and snapshots sent to consumers
    /// (`prometheus_sd_received_updates_total`, `prometheus_sd_updates_total`).
    pub fn counters(&self) -> crate::metrics::DiscoveryCounters {
        self.shared.counters.snapshot()
    }

    /// Kubernetes watches, stored objects and their heap bytes.
    pub fn kube_usage(&self) -> KubeUsage {
        self.shared.kube.usage()
    }
}

/// Applies provider updates to the state as they come and publishes them, throttled to one
/// snapshot per `update_interval` (see the module docs).
async fn aggregate(shared: std::sync::Weak<Shared>, mut rx: mpsc::Receiver<Msg>) {
    let mut next_publish = tokio::time::Instant::now();
    while let Some(first) = rx.recv().await {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let interval = strong.options.update_interval;
        let mut jump = apply(&strong, first, &mut rx);
        drop(strong);
        // Collect what else arrives until the window ends, unless the first complete set just
        // came together (that one goes out at once).
        while !jump && tokio::time::Instant::now() < next_publish {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => {
                        let Some(strong) = shared.upgrade() else { return };
                        jump = apply(&strong, m, &mut rx);
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(next_publish) => break,
            }
        }
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let st = strong.lock();
        strong.publish(&st);
        next_publish = tokio::time::Instant::now() + interval;
    }
}

/// Applies `first` and whatever else is already queued; returns whether this completed the
/// first full set (every provider synced, which it was not before).
fn apply(shared: &Shared, first: Msg, rx: &mut mpsc::Receiver<Msg>) -> bool {
    let mut st = shared.lock();
    let synced_before = Shared::all_synced(&st);
    let mut msg = Some(first);
    while let Some(m) = msg.take().or_else(|| rx.try_recv().ok()) {
        match m {
            Msg::Groups(id, groups) => {
                shared
                    .counters
                    .received
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Some(p) = st.providers.iter_mut().find(|p| p.id == id) {
                    p.synced = true;
                    for g in groups {
                        if g.targets.is_empty() {
                            p.groups.remove(&g.source);
                        } else {
                            p.groups.insert(g.source.clone(), Arc::new(g));
                        }
                    }
                }
            }
            Msg::Failed(id, e) => {
                if let Some(p) = st.providers.iter_mut().find(|p| p.id == id) {
                    p.synced = true;
                    p.error = Some(e);
                }
            }
        }
    }
    !synced_before && Shared::all_synced(&st)
}

/// Runs discovery for `jobs` until every provider has delivered its first complete set and
/// returns that snapshot (for `sd --once`).
pub async fn discover_once(
    jobs: Vec<(String, SdConfigs)>,
    options: ManagerOptions,
    timeout: Duration,
) -> Result<HashMap<String, Vec<Arc<TargetGroup>>>, DiscoveryError> {
    let m = Manager::new(options);
    m.set_config(jobs);
    tokio::time::timeout(timeout, m.wait_synced())
        .await
        .map_err(|_| DiscoveryError::Timeout(timeout))?;
    if let Some((job, message)) = m.errors().into_iter().next() {
        return Err(DiscoveryError::Provider { job, message });
    }
    Ok((*m.snapshot()).clone())
}
