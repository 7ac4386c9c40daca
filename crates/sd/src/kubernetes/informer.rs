//! Shared informers: one list+watch per (API server, resource, namespace, selectors), holding
//! compact projections and broadcasting changes to every role that asked for it.
//!
//! The watch comes from `kube`'s runtime watcher: a paged LIST, then WATCH from the list's
//! resourceVersion with bookmarks, resuming from the last seen version and relisting on
//! `410 Gone`. Errors back off exponentially with jitter. A (re)list is buffered and swapped in
//! whole on `InitDone`, then diffed against the old store so subscribers see only real changes
//! (a relist after a disconnect costs them nothing if nothing changed, and deletions that
//! happened while disconnected arrive as deletes). An update whose projection is unchanged
//! (status heartbeats, resourceVersion bumps) is not broadcast at all.

use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::utils::Backoff;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, watch};
use tokio::task::AbortHandle;

use super::objects::HeapSize;
use crate::metrics::KubeEvent;

/// One object change as subscribers see it.
pub(crate) struct Change<P> {
    /// `namespace/name`, or `name` for cluster-scoped objects.
    pub key: Arc<str>,
    /// The projection before the change (`None` for an add).
    pub old: Option<Arc<P>>,
    /// The projection after the change (`None` for a delete).
    pub new: Option<Arc<P>>,
}

impl<P> Clone for Change<P> {
    fn clone(&self) -> Self {
        Self {
            key: self.key.clone(),
            old: self.old.clone(),
            new: self.new.clone(),
        }
    }
}

struct Shared<P> {
    store: RwLock<HashMap<Arc<str>, Arc<P>>>,
    tx: broadcast::Sender<Change<P>>,
    synced: watch::Sender<bool>,
}

/// A running shared informer. Dropping the last handle stops its watch.
pub(crate) struct Informer<P> {
    shared: Arc<Shared<P>>,
    task: AbortHandle,
}

impl<P> Drop for Informer<P> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<P: Send + Sync + 'static> Informer<P> {
    /// The projection stored under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<P>> {
        self.read().get(key).cloned()
    }

    /// The keys that satisfy `pred` (no projection is copied).
    pub(crate) fn keys(&self, pred: impl Fn(&str) -> bool) -> Vec<Arc<str>> {
        self.read().keys().filter(|k| pred(k)).cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Arc<str>, Arc<P>>> {
        self.shared.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes to changes from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change<P>> {
        self.shared.tx.subscribe()
    }

    /// Waits until the first complete list has been stored.
    pub(crate) async fn wait_synced(&self) {
        let mut rx = self.shared.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Number of stored objects.
    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }
}

impl<P: HeapSize + Send + Sync + 'static> Informer<P> {
    /// Heap bytes of the store: projections, keys and table slots.
    pub(crate) fn heap_bytes(&self) -> usize {
        let store = self.read();
        let slot = std::mem::size_of::<(Arc<str>, Arc<P>)>() + 1;
        store.capacity() * slot
            + store
                .iter()
                .map(|(k, v)| k.len() + 16 + std::mem::size_of::<P>() + 16 + v.heap_size())
                .sum::<usize>()
    }
}

/// Exponential backoff with full jitter between `min` and the current ceiling.
pub(crate) struct JitterBackoff {
    min: Duration,
    max: Duration,
    current: Duration,
    seed: u64,
}

impl JitterBackoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let seed = RandomState::new().hash_one(std::time::SystemTime::now()) | 1;
        Self {
            min,
            max,
            current: min,
            seed,
        }
    }
}

impl Iterator for JitterBackoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        // xorshift64
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let ceiling = self.current;
        self.current = (self.current * 2).min(self.max);
        let span = ceiling.saturating_sub(self.min / 2).as_nanos() as u64;
        let jitter = if span == 0 { 0 } else { self.seed % span };
        Some(self.min / 2 + Duration::from_nanos(jitter))
    }
}

impl Backoff for JitterBackoff {
    fn reset(&mut self) {
        self.current = self.min;
    }
}

/// What identifies a shared watch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct InformerKey {
    /// Identity of the API server connection (URL + credentials).
    pub client: String,
    /// Resource kind.
    pub kind: &'static str,
    /// Namespace (`""` = all / cluster-scoped).
    pub namespace: String,
    /// Label selector.
    pub label: String,
    /// Field selector.
    pub field: String,
}

trait AnyInformer: Send + Sync {
    fn heap_bytes(&self) -> usize;
    fn objects(&self) -> usize;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<P: HeapSize + Send + Sync + 'static> AnyInformer for Informer<P> {
    fn heap_bytes(&self) -> usize {
        Informer::heap_bytes(self)
    }
    fn objects(&self) -> usize {
        self.len()
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// Options for every watch the pool starts.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// First retry delay after an error.
    pub backoff_min: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// LIST page size.
    pub page_size: u32,
    /// Server-side watch timeout in seconds (the watch is then resumed).
    pub watch_timeout_secs: u32,
    /// Capacity of each informer's change fan-out; a subscriber that falls further behind
    /// rebuilds all its groups from the store instead.
    pub change_buffer: usize,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            backoff_min: Duration::from_millis(800),
            backoff_max: Duration::from_secs(30),
            page_size: 500,
            watch_timeout_secs: 290,
            change_buffer: 4096,
        }
    }
}

/// The pool of running informers, shared by every Kubernetes discoverer of a manager.
#[derive(Default)]
pub(crate) struct Pool {
    map: Mutex<HashMap<InformerKey, Weak<dyn AnyInformer>>>,
}

impl Pool {
    /// Returns the running informer for `key`, starting it if none runs.
    pub(crate) fn get<K, P>(
        &self,
        key: InformerKey,
        opts: &WatchOptions,
        make_api: impl FnOnce() -> Api<K>,
    ) -> Arc<Informer<P>>
    where
        K: kube::Resource<DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
        P: From<K> + HeapSize + PartialEq + Send + Sync + 'static,
    {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = map.get(&key).and_then(Weak::upgrade)
            && let Ok(inf) = existing.into_any().downcast::<Informer<P>>()
        {
            return inf;
        }
        map.retain(|_, w| w.strong_count() > 0);
        let inf: Arc<Informer<P>> = Arc::new(start::<K, P>(make_api(), &key, opts));
        let dynamic: Arc<dyn AnyInformer> = inf.clone();
        map.insert(key, Arc::downgrade(&dynamic));
        inf
    }

    /// (watches running, objects stored, heap bytes of all stores).
    pub(crate) fn usage(&self) -> (usize, usize, usize) {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.values()
            .filter_map(Weak::upgrade)
            .fold((0, 0, 0), |(n, o, b), i| {
                (n + 1, o + i.objects(), b + i.heap_bytes())
            })
    }
}

fn object_key(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Arc<str> {
    let name = meta.name.as_deref().unwrap_or("");
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => Arc::from(format!("{ns}/{name}")),
        _ => Arc::from(name),
    }
}

fn start<K, P>(api: Api<K>, key: &InformerKey, opts: &WatchOptions) -> Informer<P>
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    P: From<K> + HeapSize + PartialEq + Send + Sync + 'static,
{
    let shared = Arc::new(Shared {
        store: RwLock::new(HashMap::new()),
        tx: broadcast::channel(opts.change_buffer.max(16)).0,
        synced: watch::channel(false).0,
    });
    let mut cfg = watcher::Config::default()
        .any_semantic()
        .page_size(opts.page_size)
        .timeout(opts.watch_timeout_secs);
    if !key.label.is_empty() {
        cfg = cfg.labels(&key.label);
    }
    if !key.field.is_empty() {
        cfg = cfg.fields(&key.field);
    }
    let backoff = JitterBackoff::new(opts.backoff_min, opts.backoff_max);
    let task_shared = shared.clone();
    let kind = key.kind;
    let handle = tokio::spawn(async move {
        let stream = watcher::watcher(api, cfg).backoff(backoff);
        futures::pin_mut!(stream);
        let mut buffer: Option<HashMap<Arc<str>, Arc<P>>> = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(Event::Init) => buffer = Some(HashMap::new()),
                Ok(Event::InitApply(obj)) => {
                    crate::metrics::count_kubernetes_event(kind, KubeEvent::Add);
                    let k = object_key(obj.meta());
                    let proj = Arc::new(P::from(obj));
                    buffer.get_or_insert_with(HashMap::new).insert(k, proj);
                }
                Ok(Event::InitDone) => {
                    let fresh = buffer.take().unwrap_or_default();
                    swap_in(&task_shared, fresh);
                    task_shared.synced.send_replace(true);
                }
                Ok(Event::Apply(obj)) => {
                    let k = object_key(obj.meta());
                    let new = Arc::new(P::from(obj));
                    let old = {
                        let mut store =
                            task_shared.store.write().unwrap_or_else(|e| e.into_inner());
                        store.insert(k.clone(), new.clone())
                    };
                    let event = if old.is_some() {
                        KubeEvent::Update
                    } else {
                        KubeEvent::Add
                    };
                    crate::metrics::count_kubernetes_event(kind, event);
                    if old.as_deref() != Some(&*new) {
                        let _ = task_shared.tx.send(Change {
                            key: k,
                            old,
                            new: Some(new),
                        });
                    }
                }
                Ok(Event::Delete(obj)) => {
                    crate::metrics::count_kubernetes_event(kind, KubeEvent::Delete);
                    let k = object_key(obj.meta());
                    let old = {
                        let mut store =
                            task_shared.store.write().unwrap_or_else(|e| e.into_inner());
                        store.remove(&k)
                    };
                    if old.is_some() {
                        let _ = task_shared.tx.send(Change {
                            key: k,
                            old,
                            new: None,
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(kind, error = %e, "kubernetes watch error; retrying with backoff");
                }
            }
        }
    });
    Informer {
        shared,
        task: handle.abort_handle(),
    }
}

/// Replaces the store with a fresh list and broadcasts the differences.
fn swap_in<P: PartialEq>(shared: &Shared<P>, fresh: HashMap<Arc<str>, Arc<P>>) {
    let mut changes = Vec::new();
    {
        let mut store = shared.store.write().unwrap_or_else(|e| e.into_inner());
        for (k, new) in &fresh {
            match store.get(k) {
                Some(old) if **old == **new => {}
                old => changes.push(Change {
                    key: k.clone(),
                    old: old.cloned(),
                    new: Some(new.clone()),
                }),
            }
        }
        for (k, old) in store.iter() {
            if !fresh.contains_key(k) {
                changes.push(Change {
                    key: k.clone(),
                    old: Some(old.clone()),
                    new: None,
                });
            }
        }
        *store = fresh;
    }
    if shared.tx.receiver_count() > 0 {
        for c in changes {
            let _ = shared.tx.send(c);
        }
    }
}
