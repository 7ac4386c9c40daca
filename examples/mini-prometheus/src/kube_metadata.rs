//! The labels of this node and of the pods scheduled on it, watched from the API server for
//! the Metrics API (`metadata.labels`, `labelSelector`), as metrics-server's informers keep
//! them.
//!
//! Two metadata-only watches (the API server sends `PartialObjectMetadata`, not whole
//! objects): the Node `metadata.name=<node>` and the Pods `spec.nodeName=<node>` — node-local
//! field selectors, as the kubelet's own pod watch, so a DaemonSet on every node of a large
//! cluster costs the API server one small watch per node. The client comes from the usual
//! places (`KUBECONFIG`, `~/.kube/config`, the in-cluster service account); where there is
//! no cluster, nothing is watched and objects are reported without labels.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio_util::sync::CancellationToken;

use crate::resource::ObjectLabels;

type LabelMap = BTreeMap<String, String>;

/// The labels of one node and of its pods, kept current by [`ObjectMetadata::watch`].
#[derive(Debug, Default)]
pub struct ObjectMetadata {
    nodes: RwLock<HashMap<String, LabelMap>>,
    /// `(namespace, name)` to labels.
    pods: RwLock<HashMap<(String, String), LabelMap>>,
}

impl ObjectLabels for ObjectMetadata {
    fn node_labels(&self, name: &str) -> Option<LabelMap> {
        read(&self.nodes).get(name).cloned()
    }

    fn pod_labels(&self, namespace: &str, name: &str) -> Option<LabelMap> {
        read(&self.pods)
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

fn labels_of<K>(o: &PartialObjectMeta<K>) -> LabelMap {
    o.metadata.labels.clone().unwrap_or_default()
}

fn name_of<K>(o: &PartialObjectMeta<K>) -> String {
    o.metadata.name.clone().unwrap_or_default()
}

fn pod_key(o: &PartialObjectMeta<Pod>) -> (String, String) {
    (o.metadata.namespace.clone().unwrap_or_default(), name_of(o))
}

impl ObjectMetadata {
    /// An empty index.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Watches `node_name` and its pods through `client` until `cancel` fires. Watch errors
    /// are retried with kube's default backoff; the index keeps its last state meanwhile.
    pub async fn watch(
        self: Arc<Self>,
        client: kube::Client,
        node_name: String,
        cancel: CancellationToken,
    ) {
        let nodes = watcher::watcher(
            kube::Api::<PartialObjectMeta<Node>>::all(client.clone()),
            watcher::Config::default().fields(&format!("metadata.name={node_name}")),
        );
        let pods = watcher::watcher(
            kube::Api::<PartialObjectMeta<Pod>>::all(client),
            watcher::Config::default().fields(&format!("spec.nodeName={node_name}")),
        );
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = futures::future::join(
                follow(nodes, &self.nodes, name_of),
                follow(pods, &self.pods, pod_key),
            ) => {}
        }
    }
}

/// Keeps `index` equal to what a watch stream reports: single changes are applied at once,
/// a (re)list is buffered and replaces the index only when complete, so readers never see a
/// half-listed view. Errors back off (kube's default) and the index keeps its last state.
async fn follow<K, Key>(
    stream: impl futures::Stream<Item = watcher::Result<Event<PartialObjectMeta<K>>>> + Send,
    index: &RwLock<HashMap<Key, LabelMap>>,
    key: fn(&PartialObjectMeta<K>) -> Key,
) where
    Key: std::hash::Hash + Eq,
{
    let stream = stream.default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut listing: Option<HashMap<Key, LabelMap>> = None;
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Init) => listing = Some(HashMap::new()),
            Ok(Event::InitApply(o)) => {
                if let Some(l) = listing.as_mut() {
                    l.insert(key(&o), labels_of(&o));
                }
            }
            Ok(Event::InitDone) => {
                if let Some(l) = listing.take() {
                    *write(index) = l;
                }
            }
            Ok(Event::Apply(o)) => {
                write(index).insert(key(&o), labels_of(&o));
            }
            Ok(Event::Delete(o)) => {
                write(index).remove(&key(&o));
            }
            Err(e) => tracing::debug!(error = %e, "node/pod metadata watch failed; retrying"),
        }
    }
}

/// Starts watching this node's Node and Pod metadata when a cluster is configured
/// (`KUBECONFIG`, `~/.kube/config` or in-cluster); `None` (logged) where there is none.
pub async fn start(node_name: &str, cancel: CancellationToken) -> Option<Arc<ObjectMetadata>> {
    let config = match kube::Config::infer().await {
        Ok(c) => c,
        Err(e) => {
            crate::startup::log_no_kube_client(&e);
            return None;
        }
    };
    let client = match kube::Client::try_from(config) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "Kubernetes client unusable; metrics.k8s.io objects carry no labels");
            return None;
        }
    };
    let index = ObjectMetadata::new();
    tokio::spawn(index.clone().watch(client, node_name.to_owned(), cancel));
    Some(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scrapeline_testkit::apiserver::ApiServer;
    use serde_json::{Value, json};
    use std::time::Duration;

    fn node(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": name, "labels": labels}})
    }

    fn pod(ns: &str, name: &str, node: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"namespace": ns, "name": name, "uid": format!("uid-{name}"), "labels": labels},
               "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}})
    }

    fn map(pairs: &[(&str, &str)]) -> Option<LabelMap> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// Polls `f` until it holds (watch events arrive asynchronously), for at most 10 s.
    async fn eventually(what: &str, f: impl Fn() -> bool) {
        for _ in 0..1000 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }

    #[tokio::test]
    async fn follows_this_nodes_labels_and_its_pods_only() {
        let server = ApiServer::start().await.unwrap();
        server
            .apply_all([
                node("n1", json!({"kubernetes.io/hostname": "n1", "zone": "a"})),
                node("n2", json!({"zone": "b"})),
                pod(
                    "default",
                    "web",
                    "n1",
                    json!({"app.kubernetes.io/name": "web"}),
                ),
                pod("default", "elsewhere", "n2", json!({"app": "x"})),
                pod("kube-system", "dns", "n1", json!({})),
            ])
            .unwrap();
        let client =
            kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
        let index = ObjectMetadata::new();
        let cancel = CancellationToken::new();
        tokio::spawn(index.clone().watch(client, "n1".to_owned(), cancel.clone()));

        eventually("the first list", || {
            index.node_labels("n1").is_some() && index.pod_labels("default", "web").is_some()
        })
        .await;
        assert_eq!(
            index.node_labels("n1"),
            map(&[("kubernetes.io/hostname", "n1"), ("zone", "a")])
        );
        assert_eq!(index.node_labels("n2"), None, "another node is not watched");
        assert_eq!(
            index.pod_labels("default", "web"),
            map(&[("app.kubernetes.io/name", "web")])
        );
        assert_eq!(index.pod_labels("kube-system", "dns"), map(&[]));
        assert_eq!(index.pod_labels("default", "elsewhere"), None);

        // Changes arrive through the watch: a relabel, a new pod, a deletion.
        server
            .apply(pod(
                "default",
                "web",
                "n1",
                json!({"app.kubernetes.io/name": "web2"}),
            ))
            .unwrap();
        server
            .apply(pod("default", "new", "n1", json!({"tier": "db"})))
            .unwrap();
        server
            .delete(&pod("kube-system", "dns", "n1", json!({})))
            .unwrap();
        eventually("the watch events", || {
            index.pod_labels("default", "web") == map(&[("app.kubernetes.io/name", "web2")])
                && index.pod_labels("default", "new") == map(&[("tier", "db")])
                && index.pod_labels("kube-system", "dns").is_none()
        })
        .await;

        // Node-local field selectors on every request: nothing cluster-wide is listed.
        let mut selectors: Vec<(String, String)> = server
            .requests()
            .into_iter()
            .map(|r| {
                (
                    r.path,
                    r.query.get("fieldSelector").cloned().unwrap_or_default(),
                )
            })
            .collect();
        selectors.sort();
        selectors.dedup();
        assert_eq!(
            selectors,
            [
                ("/api/v1/nodes".to_owned(), "metadata.name=n1".to_owned()),
                ("/api/v1/pods".to_owned(), "spec.nodeName=n1".to_owned()),
            ]
        );
        cancel.cancel();
    }
}
