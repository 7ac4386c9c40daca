//! One role over one namespace scope: its informers, and the loop that turns their changes
//! into re-emitted groups.
//!
//! Prometheus re-emits a group when its main object changes and for some dependencies only
//! (§10 of the spec: no pod handler for EndpointSlices, pod phase changes only for Endpoints,
//! node changes only for addresses with a Pod or Node targetRef), so a target built before a
//! pod arrived, or before it changed, stays stale. Here every group is rebuilt when any object
//! it was built from is added, changed or deleted, whatever the order the watches deliver
//! them in: the scope's [`DepIndex`] records, after each build, what the group read.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use futures::stream::{BoxStream, SelectAll};
use futures::{FutureExt, StreamExt};
use tokio::sync::{broadcast, mpsc};

use crate::TargetGroup;
use crate::config::{AttachMetadata, Role};

use super::deps::{DepIndex, DepKind, dep};
use super::informer::{Change, Informer};
use super::objects::{
    EndpointSliceObj, EndpointsObj, IngressObj, NamespaceObj, NodeObj, OwnedObj, PodObj, ServiceObj,
};
use super::roles;

/// The informers one scope reads. Which are set depends on the role and `attach_metadata`.
pub(crate) struct Scope {
    pub(crate) role: Role,
    pub(crate) attach: AttachMetadata,
    pub(crate) nodes: Option<Arc<Informer<NodeObj>>>,
    pub(crate) pods: Option<Arc<Informer<PodObj>>>,
    pub(crate) services: Option<Arc<Informer<ServiceObj>>>,
    pub(crate) endpoints: Option<Arc<Informer<EndpointsObj>>>,
    pub(crate) slices: Option<Arc<Informer<EndpointSliceObj>>>,
    pub(crate) ingresses: Option<Arc<Informer<IngressObj>>>,
    pub(crate) namespaces: Option<Arc<Informer<NamespaceObj>>>,
    pub(crate) replicasets: Option<Arc<Informer<OwnedObj>>>,
    pub(crate) jobs: Option<Arc<Informer<OwnedObj>>>,
}

enum Ev {
    Node(Change<NodeObj>),
    Pod(Change<PodObj>),
    Service(Change<ServiceObj>),
    Endpoints(Change<EndpointsObj>),
    Slice(Change<EndpointSliceObj>),
    Ingress(Change<IngressObj>),
    Namespace(Change<NamespaceObj>),
    ReplicaSet(Change<OwnedObj>),
    Job(Change<OwnedObj>),
    Lagged,
}

fn stream_of<P: Send + Sync + 'static>(
    rx: broadcast::Receiver<Change<P>>,
    wrap: fn(Change<P>) -> Ev,
) -> BoxStream<'static, Ev> {
    futures::stream::unfold(rx, move |mut rx| async move {
        match rx.recv().await {
            Ok(c) => Some((wrap(c), rx)),
            Err(broadcast::error::RecvError::Lagged(_)) => Some((Ev::Lagged, rx)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
    .boxed()
}

fn ns_of(key: &str) -> &str {
    key.split_once('/').map_or("", |(ns, _)| ns)
}

impl Scope {
    async fn wait_synced(&self) {
        macro_rules! wait {
            ($($f:ident),*) => {$(
                if let Some(i) = &self.$f { i.wait_synced().await; }
            )*};
        }
        wait!(
            nodes,
            pods,
            services,
            endpoints,
            slices,
            ingresses,
            namespaces,
            replicasets,
            jobs
        );
    }

    fn subscribe(&self) -> SelectAll<BoxStream<'static, Ev>> {
        let mut all = SelectAll::new();
        macro_rules! sub {
            ($($f:ident => $v:ident),*) => {$(
                if let Some(i) = &self.$f { all.push(stream_of(i.subscribe(), Ev::$v)); }
            )*};
        }
        sub!(nodes => Node, pods => Pod, services => Service, endpoints => Endpoints,
             slices => Slice, ingresses => Ingress, namespaces => Namespace,
             replicasets => ReplicaSet, jobs => Job);
        all
    }

    fn main_keys(&self) -> Vec<Arc<str>> {
        fn keys<P: Send + Sync + 'static>(i: &Option<Arc<Informer<P>>>) -> Vec<Arc<str>> {
            i.as_ref().map(|i| i.keys(|_| true)).unwrap_or_default()
        }
        match self.role {
            Role::Node => keys(&self.nodes),
            Role::Pod => keys(&self.pods),
            Role::Service => keys(&self.services),
            Role::Endpoints => keys(&self.endpoints),
            Role::EndpointSlice => keys(&self.slices),
            Role::Ingress => keys(&self.ingresses),
        }
    }

    /// Keys of main objects in namespace `ns` (the namespace is the key's first part, so the
    /// main store is the namespace index).
    fn keys_in_ns(&self, ns: &str, out: &mut BTreeSet<Arc<str>>) {
        fn keys<P: Send + Sync + 'static>(
            i: &Option<Arc<Informer<P>>>,
            ns: &str,
            out: &mut BTreeSet<Arc<str>>,
        ) {
            if let Some(i) = i {
                out.extend(i.keys(|k| ns_of(k) == ns));
            }
        }
        match self.role {
            Role::Node => {}
            Role::Pod => keys(&self.pods, ns, out),
            Role::Service => keys(&self.services, ns, out),
            Role::Endpoints => keys(&self.endpoints, ns, out),
            Role::EndpointSlice => keys(&self.slices, ns, out),
            Role::Ingress => keys(&self.ingresses, ns, out),
        }
    }

    /// Adds the main-object keys a change affects: the changed object itself if it is of the
    /// role's kind, else the groups whose last build used it (from `deps`). Sets `full` when a
    /// rebuild of everything is needed (the subscriber fell behind).
    fn affected(&self, deps: &DepIndex, ev: Ev, out: &mut BTreeSet<Arc<str>>, full: &mut bool) {
        let role = self.role;
        let mut dependents = |kind: DepKind, key: &str| {
            out.extend(deps.dependents(dep(kind, key)).iter().cloned());
        };
        match ev {
            Ev::Lagged => *full = true,
            Ev::Node(c) if role == Role::Node => {
                out.insert(c.key);
            }
            Ev::Pod(c) if role == Role::Pod => {
                out.insert(c.key);
            }
            Ev::Service(c) if role == Role::Service => {
                out.insert(c.key);
            }
            Ev::Endpoints(c) if role == Role::Endpoints => {
                out.insert(c.key);
            }
            Ev::Slice(c) if role == Role::EndpointSlice => {
                out.insert(c.key);
            }
            Ev::Ingress(c) if role == Role::Ingress => {
                out.insert(c.key);
            }
            // Added, changed or deleted: every group in it carries (or must lose) its labels.
            Ev::Namespace(c) => self.keys_in_ns(&c.key, out),
            Ev::Node(c) => dependents(DepKind::Node, &c.key),
            Ev::Pod(c) => dependents(DepKind::Pod, &c.key),
            Ev::Service(c) => dependents(DepKind::Service, &c.key),
            Ev::ReplicaSet(c) => dependents(DepKind::ReplicaSet, &c.key),
            Ev::Job(c) => dependents(DepKind::Job, &c.key),
            Ev::Endpoints(_) | Ev::Slice(_) | Ev::Ingress(_) => {}
        }
    }

    /// Builds the group of `key` and records what it was built from.
    fn rebuild(
        &self,
        deps: &mut DepIndex,
        key: &Arc<str>,
        scratch: &mut Vec<u64>,
    ) -> Option<TargetGroup> {
        scratch.clear();
        roles::deps(self, key, scratch);
        deps.set(key, scratch);
        roles::build(self, key)
    }

    /// Runs the scope: waits for its informers, sends the complete initial set as one batch,
    /// then one batch per burst of changes. Ends when `out` closes.
    pub(crate) async fn run(self, out: mpsc::Sender<Vec<TargetGroup>>) {
        self.wait_synced().await;
        let mut stream = self.subscribe();
        let mut known: HashSet<Arc<str>> = HashSet::new();
        let mut deps = DepIndex::default();
        let mut scratch = Vec::new();
        let keys = self.main_keys();
        let mut first = Vec::with_capacity(keys.len());
        for (i, k) in keys.into_iter().enumerate() {
            if let Some(g) = self.rebuild(&mut deps, &k, &mut scratch) {
                first.push(g);
            }
            known.insert(k);
            // Building thousands of groups takes a while: let the other scopes (and the
            // watches) run in between, so the runtime's threads share the work evenly.
            if i % 128 == 127 {
                tokio::task::yield_now().await;
            }
        }
        first.sort_by(|a, b| a.source.cmp(&b.source));
        if out.send(first).await.is_err() {
            return;
        }
        while let Some(ev) = stream.next().await {
            let mut dirty = BTreeSet::new();
            let mut full = false;
            self.affected(&deps, ev, &mut dirty, &mut full);
            while let Some(Some(ev)) = stream.next().now_or_never() {
                self.affected(&deps, ev, &mut dirty, &mut full);
            }
            if full {
                let now: HashSet<Arc<str>> = self.main_keys().into_iter().collect();
                dirty.extend(known.iter().cloned());
                dirty.extend(now.iter().cloned());
                known = now;
            } else {
                for k in &dirty {
                    known.insert(k.clone());
                }
            }
            let groups: Vec<TargetGroup> = dirty
                .iter()
                .filter_map(|k| self.rebuild(&mut deps, k, &mut scratch))
                .collect();
            if groups.is_empty() {
                continue;
            }
            if out.send(groups).await.is_err() {
                return;
            }
        }
    }
}
