//! One role over one namespace scope: its informers, and the loop that turns their changes
//! into re-emitted groups, following Prometheus' re-emission rules (§10 of the spec).

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use futures::stream::{BoxStream, SelectAll};
use futures::{FutureExt, StreamExt};
use tokio::sync::{broadcast, mpsc};

use crate::TargetGroup;
use crate::config::{AttachMetadata, Role};

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

fn is_update<P>(c: &Change<P>) -> bool {
    c.old.is_some() && c.new.is_some()
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
            i.as_ref()
                .map(|i| i.snapshot().into_iter().map(|(k, _)| k).collect())
                .unwrap_or_default()
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

    /// Keys of main objects in namespace `ns`.
    fn keys_in_ns(&self, ns: &str, out: &mut BTreeSet<Arc<str>>) {
        out.extend(self.main_keys().into_iter().filter(|k| ns_of(k) == ns));
    }

    /// Adds the main-object keys a change affects. Sets `full` when a rebuild of everything is
    /// needed (the subscriber fell behind).
    fn affected(&self, ev: Ev, out: &mut BTreeSet<Arc<str>>, full: &mut bool) {
        let role = self.role;
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
            Ev::Namespace(c) => {
                if is_update(&c) {
                    self.keys_in_ns(&c.key, out);
                }
            }
            Ev::Node(c) => self.node_changed(&c.key, out),
            Ev::ReplicaSet(c) => self.owner_changed("ReplicaSet", &c.key, out),
            Ev::Job(c) => self.owner_changed("Job", &c.key, out),
            Ev::Service(c) => self.service_changed(&c.key, out),
            Ev::Pod(c) => self.pod_changed(&c, out),
            Ev::Endpoints(_) | Ev::Slice(_) | Ev::Ingress(_) => {}
        }
    }

    fn owner_changed(&self, kind: &str, key: &str, out: &mut BTreeSet<Arc<str>>) {
        if self.role != Role::Pod {
            return;
        }
        let Some((ns, name)) = key.split_once('/') else {
            return;
        };
        if let Some(pods) = &self.pods {
            for (k, p) in pods.snapshot() {
                if &*p.meta.namespace == ns
                    && p.controller
                        .as_ref()
                        .is_some_and(|c| &*c.kind == kind && &*c.name == name)
                {
                    out.insert(k);
                }
            }
        }
    }

    fn node_changed(&self, node: &str, out: &mut BTreeSet<Arc<str>>) {
        match self.role {
            Role::Pod => {
                if let Some(pods) = &self.pods {
                    out.extend(
                        pods.snapshot()
                            .into_iter()
                            .filter(|(_, p)| &*p.node_name == node)
                            .map(|(k, _)| k),
                    );
                }
            }
            Role::Endpoints => {
                if let Some(eps) = &self.endpoints {
                    for (k, e) in eps.snapshot() {
                        let hit = e.subsets.iter().any(|ss| {
                            ss.addresses.iter().chain(ss.not_ready.iter()).any(|a| {
                                match a.target.as_ref().map(|t| &*t.kind) {
                                    Some("Pod") => a.node_name.as_deref() == Some(node),
                                    Some("Node") => {
                                        a.target.as_ref().is_some_and(|t| &*t.name == node)
                                    }
                                    _ => false,
                                }
                            })
                        });
                        if hit {
                            out.insert(k);
                        }
                    }
                }
            }
            Role::EndpointSlice => {
                if let Some(sl) = &self.slices {
                    for (k, s) in sl.snapshot() {
                        let hit =
                            s.endpoints
                                .iter()
                                .any(|e| match e.target.as_ref().map(|t| &*t.kind) {
                                    Some("Pod") => e.node_name.as_deref() == Some(node),
                                    Some("Node") => {
                                        e.target.as_ref().is_some_and(|t| &*t.name == node)
                                    }
                                    _ => false,
                                });
                        if hit {
                            out.insert(k);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn service_changed(&self, key: &str, out: &mut BTreeSet<Arc<str>>) {
        match self.role {
            Role::Endpoints => {
                if let Some(eps) = &self.endpoints
                    && eps.get(key).is_some()
                {
                    out.insert(Arc::from(key));
                }
            }
            Role::EndpointSlice => {
                let Some((ns, name)) = key.split_once('/') else {
                    return;
                };
                if let Some(sl) = &self.slices {
                    for (k, s) in sl.snapshot() {
                        if &*s.meta.namespace == ns
                            && s.meta.label("kubernetes.io/service-name") == Some(name)
                        {
                            out.insert(k);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Endpoints role only: a pod update that changes the phase re-emits the Endpoints whose
    /// ready addresses point at it.
    fn pod_changed(&self, c: &Change<PodObj>, out: &mut BTreeSet<Arc<str>>) {
        if self.role != Role::Endpoints {
            return;
        }
        let (Some(old), Some(new)) = (&c.old, &c.new) else {
            return;
        };
        if old.phase == new.phase {
            return;
        }
        let Some(eps) = &self.endpoints else { return };
        let (ns, name) = (&*new.meta.namespace, &*new.meta.name);
        for (k, e) in eps.snapshot() {
            let hit = e.subsets.iter().any(|ss| {
                ss.addresses.iter().any(|a| {
                    a.target.as_ref().is_some_and(|t| {
                        &*t.kind == "Pod" && &*t.namespace == ns && &*t.name == name
                    })
                })
            });
            if hit {
                out.insert(k);
            }
        }
    }

    /// Runs the scope: waits for its informers, sends the complete initial set as one batch,
    /// then one batch per burst of changes. Ends when `out` closes.
    pub(crate) async fn run(self, out: mpsc::Sender<Vec<TargetGroup>>) {
        self.wait_synced().await;
        let mut stream = self.subscribe();
        let mut known: HashSet<Arc<str>> = HashSet::new();
        let keys = self.main_keys();
        let mut first = Vec::with_capacity(keys.len());
        for (i, k) in keys.into_iter().enumerate() {
            if let Some(g) = roles::build(&self, &k) {
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
            self.affected(ev, &mut dirty, &mut full);
            while let Some(Some(ev)) = stream.next().now_or_never() {
                self.affected(ev, &mut dirty, &mut full);
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
                .filter_map(|k| roles::build(&self, k))
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
