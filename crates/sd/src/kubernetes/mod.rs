//! Kubernetes service discovery: nodes, pods, services, endpoints, endpointslices, ingresses.
//!
//! A [`KubernetesDiscoverer`] runs one `kubernetes_sd_configs` entry. It asks the shared
//! [`KubeContext`] for the informers its role needs; an informer is one list+watch per
//! (API server, resource, namespace, selectors), shared by every discoverer (and so every job)
//! that asks for the same thing, and it stores compact projections of the objects rather than
//! the objects. Each namespace scope turns store changes into Prometheus' target groups.

mod client;
mod deps;
mod informer;
mod labels;
pub mod lite;
pub mod objects;
mod roles;
mod scope;

pub use client::ClientError;
pub use informer::WatchOptions;
pub use labels::sanitize_label_name;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use tokio::sync::mpsc;

use crate::TargetGroup;
use crate::config::{KubernetesSdConfig, Role};

use informer::{InformerKey, Pool};
use scope::Scope;

/// Where in-cluster settings come from, and watch tuning. The defaults read the real
/// service-account directory and `KUBERNETES_SERVICE_HOST`/`_PORT`; tests point them elsewhere.
#[derive(Debug, Clone)]
pub struct KubeEnv {
    /// Directory holding `token`, `ca.crt` and `namespace` of the pod's service account.
    pub service_account_dir: PathBuf,
    /// In-cluster API server URL; `None` derives it from `KUBERNETES_SERVICE_HOST`/`_PORT`.
    pub in_cluster_api_server: Option<String>,
    /// Directory relative `kubeconfig_file` paths are resolved against (the config file's).
    pub config_dir: PathBuf,
    /// Watch tuning (backoff, page size, timeouts).
    pub watch: WatchOptions,
}

impl Default for KubeEnv {
    fn default() -> Self {
        Self {
            service_account_dir: PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount"),
            in_cluster_api_server: None,
            config_dir: PathBuf::from("."),
            watch: WatchOptions::default(),
        }
    }
}

/// Resource use of the shared discovery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KubeUsage {
    /// Watches (informers) running.
    pub watches: usize,
    /// Objects stored across all informers.
    pub objects: usize,
    /// Heap bytes of the stored projections, keys and tables.
    pub heap_bytes: usize,
}

/// State shared by all Kubernetes discoverers of one manager: API clients and informers.
pub struct KubeContext {
    env: KubeEnv,
    pool: Pool,
    clients: Mutex<HashMap<String, kube::Client>>,
}

impl KubeContext {
    /// A context with the given environment.
    pub fn new(env: KubeEnv) -> Self {
        Self {
            env,
            pool: Pool::default(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The environment.
    pub fn env(&self) -> &KubeEnv {
        &self.env
    }

    /// Watches running, objects stored and their heap bytes.
    pub fn usage(&self) -> KubeUsage {
        let (watches, objects, heap_bytes) = self.pool.usage();
        KubeUsage {
            watches,
            objects,
            heap_bytes,
        }
    }
}

/// Runs one `kubernetes_sd_configs` entry.
pub struct KubernetesDiscoverer {
    config: KubernetesSdConfig,
    ctx: Arc<KubeContext>,
}

fn cluster<K>(c: &kube::Client, _ns: &str) -> kube::Api<K>
where
    K: kube::Resource<DynamicType = ()>,
{
    kube::Api::all(c.clone())
}

fn namespaced<K>(c: &kube::Client, ns: &str) -> kube::Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    if ns.is_empty() {
        kube::Api::all(c.clone())
    } else {
        kube::Api::namespaced(c.clone(), ns)
    }
}

impl KubernetesDiscoverer {
    /// A discoverer for `config` sharing `ctx`'s clients and informers.
    pub fn new(config: KubernetesSdConfig, ctx: Arc<KubeContext>) -> Self {
        Self { config, ctx }
    }

    /// Runs until `out` closes. The first batch sent is the complete initial set (after every
    /// informer has listed); later batches hold the groups that changed, a removed object as
    /// an empty group with the same source. Fails only at startup (bad client settings, an
    /// unreadable own-namespace file).
    pub async fn run(self, out: mpsc::Sender<Vec<TargetGroup>>) -> Result<(), ClientError> {
        let conn = client::connect(&self.config, &self.ctx).await?;
        let scopes = self.scopes(&conn);
        let n = scopes.len();
        let mut rxs = futures::stream::SelectAll::new();
        let mut runs = Vec::with_capacity(n);
        for (i, s) in scopes.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel::<Vec<TargetGroup>>(16);
            runs.push(s.run(tx));
            rxs.push(
                futures::stream::unfold(rx, move |mut rx| async move {
                    rx.recv().await.map(|v| ((i, v), rx))
                })
                .boxed(),
            );
        }
        let merge = async move {
            let mut pending: Vec<Option<Vec<TargetGroup>>> = vec![None; n];
            let mut started = n == 0;
            if started && out.send(Vec::new()).await.is_err() {
                return;
            }
            while let Some((i, groups)) = rxs.next().await {
                if started {
                    if out.send(groups).await.is_err() {
                        return;
                    }
                    continue;
                }
                match pending.get_mut(i) {
                    Some(slot @ None) => *slot = Some(groups),
                    Some(Some(prev)) => prev.extend(groups),
                    None => {}
                }
                if pending.iter().all(Option::is_some) {
                    started = true;
                    let all: Vec<TargetGroup> = pending
                        .iter_mut()
                        .filter_map(Option::take)
                        .flatten()
                        .collect();
                    if out.send(all).await.is_err() {
                        return;
                    }
                }
            }
        };
        tokio::select! {
            _ = futures::future::join_all(runs) => {}
            _ = merge => {}
        }
        Ok(())
    }

    fn scopes(&self, conn: &client::Connection) -> Vec<Scope> {
        let cfg = &self.config;
        let namespaces: Vec<String> = if cfg.role == Role::Node {
            vec![String::new()]
        } else if cfg.namespaces.own_namespace {
            let mut v = cfg.namespaces.names.clone();
            v.push(conn.own_namespace.clone());
            v
        } else if cfg.namespaces.names.is_empty() {
            vec![String::new()]
        } else {
            cfg.namespaces.names.clone()
        };
        let attach = cfg.attach_metadata;
        let role = cfg.role;
        let opts = &self.ctx.env.watch;
        let get = |kind: &'static str, ns: &str, sel: Option<Role>| InformerKey {
            client: conn.id.clone(),
            kind,
            namespace: ns.to_string(),
            label: sel
                .map(|r| cfg.selector_for(r).0.to_string())
                .unwrap_or_default(),
            field: sel
                .map(|r| cfg.selector_for(r).1.to_string())
                .unwrap_or_default(),
        };
        let pool = &self.ctx.pool;
        let c = &conn.client;
        let needs_pods = matches!(role, Role::Pod | Role::Endpoints | Role::EndpointSlice);
        let needs_services = matches!(role, Role::Service | Role::Endpoints | Role::EndpointSlice);
        let needs_nodes = role == Role::Node || (attach.node && needs_pods);
        let needs_ns = attach.namespace && role != Role::Node;
        namespaces
            .iter()
            .map(|ns| Scope {
                role,
                attach,
                nodes: needs_nodes.then(|| {
                    pool.get::<lite::NodeLite, _>(get("Node", "", Some(Role::Node)), opts, || {
                        cluster(c, "")
                    })
                }),
                pods: needs_pods.then(|| {
                    pool.get::<lite::PodLite, _>(get("Pod", ns, Some(Role::Pod)), opts, || {
                        namespaced(c, ns)
                    })
                }),
                services: needs_services.then(|| {
                    pool.get::<lite::ServiceLite, _>(
                        get("Service", ns, Some(Role::Service)),
                        opts,
                        || namespaced(c, ns),
                    )
                }),
                endpoints: (role == Role::Endpoints).then(|| {
                    pool.get::<lite::EndpointsLite, _>(
                        get("Endpoints", ns, Some(Role::Endpoints)),
                        opts,
                        || namespaced(c, ns),
                    )
                }),
                slices: (role == Role::EndpointSlice).then(|| {
                    pool.get::<lite::EndpointSliceLite, _>(
                        get("EndpointSlice", ns, Some(Role::EndpointSlice)),
                        opts,
                        || namespaced(c, ns),
                    )
                }),
                ingresses: (role == Role::Ingress).then(|| {
                    pool.get::<lite::IngressLite, _>(
                        get("Ingress", ns, Some(Role::Ingress)),
                        opts,
                        || namespaced(c, ns),
                    )
                }),
                namespaces: needs_ns.then(|| {
                    pool.get::<Namespace, _>(get("Namespace", "", None), opts, || cluster(c, ""))
                }),
                replicasets: (needs_pods && attach.deployment).then(|| {
                    pool.get::<ReplicaSet, _>(get("ReplicaSet", ns, None), opts, || {
                        namespaced(c, ns)
                    })
                }),
                jobs: (needs_pods && (attach.job || attach.cronjob))
                    .then(|| pool.get::<Job, _>(get("Job", ns, None), opts, || namespaced(c, ns))),
            })
            .collect()
    }
}
