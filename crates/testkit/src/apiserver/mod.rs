//! A Kubernetes API server double on loopback: list, watch, selectors, faults.
//!
//! It speaks enough of the real protocol for `kube`'s client and runtime watcher (and client-go
//! with JSON) to use it unchanged:
//! - `GET /version`, `/api`, `/apis` (the discovery paths clients probe);
//! - LIST of any resource it knows (`/api/v1/pods`, `/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices`,
//!   …) with `labelSelector`, `fieldSelector`, `limit` and `continue` paging over a consistent
//!   snapshot, and `metadata.resourceVersion` on the list;
//! - WATCH (`watch=true`) as chunked newline-delimited JSON events from a `resourceVersion`,
//!   replaying history after it, with `BOOKMARK` events when `allowWatchBookmarks=true`,
//!   `sendInitialEvents=true` (watch-list), `timeoutSeconds`, and `410 Gone` for a compacted
//!   version. A modification that moves an object in or out of a watch's selectors is sent as
//!   `ADDED` / `DELETED`, as the real server does.
//!
//! Tests change the cluster with [`ApiServer::apply`] and [`ApiServer::delete`] (which emit
//! watch events), inject faults with [`ApiServer::inject`], [`ApiServer::drop_watches`] and
//! [`ApiServer::compact`], and await [`ApiServer::wait_watches`] / [`ApiServer::wait_requests`]
//! instead of sleeping. The server stops when the [`ApiServer`] is dropped.

mod selector;
mod server;

pub use selector::{FieldSelector, LabelSelector, SelectorError};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::{CancellationToken, DropGuard};

/// How a resource is addressed over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    /// `apiVersion` of the objects (`v1`, `apps/v1`, …).
    pub api_version: &'static str,
    /// `kind` of the objects (`Pod`).
    pub kind: &'static str,
    /// URL plural (`pods`).
    pub plural: &'static str,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
}

/// Every resource type the double serves.
pub const RESOURCE_TYPES: &[ResourceType] = &[
    rt("v1", "Node", "nodes", false),
    rt("v1", "Namespace", "namespaces", false),
    rt("v1", "Pod", "pods", true),
    rt("v1", "Service", "services", true),
    rt("v1", "Endpoints", "endpoints", true),
    rt(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        "endpointslices",
        true,
    ),
    rt("networking.k8s.io/v1", "Ingress", "ingresses", true),
    rt("apps/v1", "ReplicaSet", "replicasets", true),
    rt("apps/v1", "Deployment", "deployments", true),
    rt("batch/v1", "Job", "jobs", true),
    rt("batch/v1", "CronJob", "cronjobs", true),
];

const fn rt(
    api_version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> ResourceType {
    ResourceType {
        api_version,
        kind,
        plural,
        namespaced,
    }
}

/// Finds a resource type by `apiVersion` and `kind`.
pub fn resource_for_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    RESOURCE_TYPES
        .iter()
        .find(|r| r.kind == kind && r.api_version == api_version)
}

/// Errors from the test API of the double.
#[derive(Debug, thiserror::Error)]
pub enum ApiServerError {
    /// The object has no `apiVersion`/`kind` the double knows.
    #[error("unknown resource type {api_version}/{kind}")]
    UnknownKind {
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
    },
    /// The object has no `metadata.name`.
    #[error("object without metadata.name")]
    NoName,
    /// Binding the listener failed.
    #[error("bind: {0}")]
    Io(#[from] std::io::Error),
}

/// A fault to inject into the next matching requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer the next `count` requests whose path contains `path_contains` with HTTP 500.
    ServerError {
        /// Substring of the request path (`""` matches all).
        path_contains: String,
        /// How many requests to fail.
        count: usize,
    },
    /// Answer the next `count` WATCH requests with a `410 Gone` ERROR event (as when the
    /// requested resourceVersion is too old), which forces a relist.
    GoneOnWatch {
        /// How many watches to refuse.
        count: usize,
    },
    /// Delay the next `count` requests whose path contains `path_contains` by `delay`.
    Slow {
        /// Substring of the request path (`""` matches all).
        path_contains: String,
        /// The delay before answering.
        delay: Duration,
        /// How many requests to delay.
        count: usize,
    },
}

/// One request the double has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// Whether it was a watch.
    pub watch: bool,
    /// The `Authorization` header, if any (to check credentials reach the server).
    pub authorization: Option<String>,
}

/// Counters tests can await.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests seen so far.
    pub requests: usize,
    /// Watches started so far, per resource plural.
    pub watches_started: BTreeMap<String, usize>,
    /// Watches open now, per resource plural.
    pub watches_open: BTreeMap<String, usize>,
    /// LIST requests served so far, per resource plural.
    pub lists: BTreeMap<String, usize>,
}

/// A stored object with its serialized JSON (encoded once, served many times).
#[derive(Debug)]
pub(crate) struct Obj {
    pub(crate) value: Value,
    pub(crate) json: bytes::Bytes,
}

impl Obj {
    pub(crate) fn new(value: Value) -> Self {
        let json = bytes::Bytes::from(value.to_string());
        Self { value, json }
    }
}

/// A stored watch event.
#[derive(Debug)]
pub(crate) struct StoredEvent {
    pub(crate) rv: u64,
    pub(crate) resource: &'static str,
    pub(crate) namespace: String,
    /// The object before the change (for MODIFIED and DELETED).
    pub(crate) old: Option<Arc<Obj>>,
    /// The object after the change (absent for DELETED).
    pub(crate) new: Option<Arc<Obj>>,
}

type ObjectKey = (&'static str, String, String);

/// A paged LIST snapshot: (resourceVersion, items).
pub(crate) type ListSnapshot = (u64, Arc<Vec<Arc<Obj>>>);

pub(crate) struct Inner {
    pub(crate) rv: u64,
    pub(crate) objects: BTreeMap<ObjectKey, Arc<Obj>>,
    pub(crate) history: VecDeque<Arc<StoredEvent>>,
    /// Watches from a version below this get 410 Gone.
    pub(crate) compacted_rv: u64,
    pub(crate) faults: Vec<Fault>,
    pub(crate) requests: Vec<RequestRecord>,
    pub(crate) snapshots: HashMap<u64, ListSnapshot>,
    pub(crate) next_snapshot: u64,
}

/// Shared state of a running double.
pub(crate) struct State {
    pub(crate) inner: Mutex<Inner>,
    pub(crate) events: broadcast::Sender<Arc<StoredEvent>>,
    pub(crate) stats: watch::Sender<Stats>,
    /// Bumped by `drop_watches`: open watches abort their connection.
    pub(crate) drop_gen: watch::Sender<u64>,
    pub(crate) bookmark_interval: Duration,
}

impl State {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock can only come from a bug in the double; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Options for [`ApiServer::start_with`].
#[derive(Debug, Clone)]
pub struct ApiServerOptions {
    /// How often an idle watch with bookmarks enabled gets a BOOKMARK.
    pub bookmark_interval: Duration,
    /// How many events the live fan-out buffers per watch before dropping a slow watcher.
    pub event_buffer: usize,
}

impl Default for ApiServerOptions {
    fn default() -> Self {
        Self {
            bookmark_interval: Duration::from_millis(500),
            event_buffer: 1 << 16,
        }
    }
}

/// A running API server double. Dropping it stops the server and closes every connection.
pub struct ApiServer {
    addr: SocketAddr,
    state: Arc<State>,
    _stop: DropGuard,
}

impl ApiServer {
    /// Starts the double on `127.0.0.1` with an ephemeral port.
    pub async fn start() -> Result<Self, ApiServerError> {
        Self::start_with(ApiServerOptions::default()).await
    }

    /// Starts the double with options.
    pub async fn start_with(options: ApiServerOptions) -> Result<Self, ApiServerError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            inner: Mutex::new(Inner {
                rv: 1,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                compacted_rv: 0,
                faults: Vec::new(),
                requests: Vec::new(),
                snapshots: HashMap::new(),
                next_snapshot: 1,
            }),
            events: broadcast::channel(options.event_buffer.max(16)).0,
            stats: watch::channel(Stats::default()).0,
            drop_gen: watch::channel(0).0,
            bookmark_interval: options.bookmark_interval,
        });
        let token = CancellationToken::new();
        tokio::spawn(run(listener, state.clone(), token.clone()));
        Ok(Self {
            addr,
            state,
            _stop: token.drop_guard(),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Creates or replaces an object (by apiVersion, kind, namespace, name) and emits
    /// `ADDED` or `MODIFIED`. Returns the new resourceVersion.
    pub fn apply(&self, object: Value) -> Result<u64, ApiServerError> {
        let (res, ns, name) = identify(&object)?;
        let mut inner = self.state.lock();
        inner.rv += 1;
        let rv = inner.rv;
        let mut object = object;
        set_resource_version(&mut object, rv);
        let new = Arc::new(Obj::new(object));
        let old = inner
            .objects
            .insert((res.plural, ns.clone(), name), new.clone());
        let ev = Arc::new(StoredEvent {
            rv,
            resource: res.plural,
            namespace: ns,
            old,
            new: Some(new),
        });
        inner.history.push_back(ev.clone());
        // Send under the lock so a watch that subscribes under the lock sees no gap.
        let _ = self.state.events.send(ev);
        Ok(rv)
    }

    /// Applies many objects in order.
    pub fn apply_all(
        &self,
        objects: impl IntoIterator<Item = Value>,
    ) -> Result<(), ApiServerError> {
        for o in objects {
            self.apply(o)?;
        }
        Ok(())
    }

    /// Deletes the object identified by `object`'s apiVersion, kind, namespace and name and
    /// emits `DELETED` with its last state. Returns whether it existed.
    pub fn delete(&self, object: &Value) -> Result<bool, ApiServerError> {
        let (res, ns, name) = identify(object)?;
        let mut inner = self.state.lock();
        let Some(old) = inner.objects.remove(&(res.plural, ns.clone(), name)) else {
            return Ok(false);
        };
        inner.rv += 1;
        let rv = inner.rv;
        let ev = Arc::new(StoredEvent {
            rv,
            resource: res.plural,
            namespace: ns,
            old: Some(old),
            new: None,
        });
        inner.history.push_back(ev.clone());
        let _ = self.state.events.send(ev);
        Ok(true)
    }

    /// Every stored object of a resource plural (`pods`), in (namespace, name) order.
    pub fn objects(&self, plural: &str) -> Vec<Value> {
        self.state
            .lock()
            .objects
            .iter()
            .filter(|((r, _, _), _)| *r == plural)
            .map(|(_, v)| v.value.clone())
            .collect()
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.state.lock().rv
    }

    /// Forgets the event history: a watch resuming from any version before now gets `410 Gone`.
    pub fn compact(&self) {
        let mut inner = self.state.lock();
        inner.compacted_rv = inner.rv;
        inner.history.clear();
    }

    /// Aborts every open watch connection (the client sees a broken stream).
    pub fn drop_watches(&self) {
        self.state.drop_gen.send_modify(|g| *g += 1);
    }

    /// Queues a fault for the next matching requests.
    pub fn inject(&self, fault: Fault) {
        self.state.lock().faults.push(fault);
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.lock().requests.clone()
    }

    /// The current counters.
    pub fn stats(&self) -> Stats {
        self.state.stats.borrow().clone()
    }

    /// Waits until at least `n` watches on `plural` have started in total (counting from the
    /// server's start), or `timeout` passes. Returns whether the condition was met.
    pub async fn wait_watches(&self, plural: &str, n: usize, timeout: Duration) -> bool {
        self.wait_stats(
            |s| s.watches_started.get(plural).copied().unwrap_or(0) >= n,
            timeout,
        )
        .await
    }

    /// Waits until at least `n` requests have been seen, or `timeout` passes.
    pub async fn wait_requests(&self, n: usize, timeout: Duration) -> bool {
        self.wait_stats(|s| s.requests >= n, timeout).await
    }

    /// Waits until `pred` holds for the counters, or `timeout` passes.
    pub async fn wait_stats(&self, pred: impl Fn(&Stats) -> bool, timeout: Duration) -> bool {
        let mut rx = self.state.stats.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|s| pred(s)))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// Serves the double's protocol on `listener` until `shutdown` is cancelled.
pub(crate) async fn run(listener: TcpListener, state: Arc<State>, shutdown: CancellationToken) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                let shutdown = shutdown.clone();
                conns.spawn(async move { server::serve_connection(stream, state, shutdown).await });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

fn identify(object: &Value) -> Result<(&'static ResourceType, String, String), ApiServerError> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let res = resource_for_kind(api_version, kind).ok_or_else(|| ApiServerError::UnknownKind {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
    })?;
    let meta = object.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .ok_or(ApiServerError::NoName)?
        .to_string();
    let ns = if res.namespaced {
        meta.and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    } else {
        String::new()
    };
    Ok((res, ns, name))
}

fn set_resource_version(object: &mut Value, rv: u64) {
    if let Some(obj) = object.as_object_mut() {
        let meta = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(m) = meta.as_object_mut() {
            m.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
    }
}
