//! [`ResourceMetrics`]: the state behind `/stats/summary` and `metrics.k8s.io`, fed one
//! collection at a time and answering requests synchronously, independent of the HTTP
//! server that carries them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use scrapeline_cgroup::Collection;
use serde::Serialize;

use super::metrics_api::{
    self, List, ListMeta, StatusDetails, batch_from, node_metrics, not_found, plain_status,
    pod_metrics,
};
use super::metrics_server::UsageStore;
use super::selector::LabelSelector;
use super::summary::{self, SummaryRequest, SystemCgroups};

/// The prefix of every `metrics.k8s.io` path.
const METRICS_PREFIX: &str = "/apis/metrics.k8s.io/v1beta1";

/// Where the Metrics API finds the Kubernetes labels of the nodes and pods it reports
/// (metrics-server takes them from its Node and Pod informers). `None`: the object is not
/// known (yet); it is reported without labels.
pub trait ObjectLabels: Send + Sync {
    /// `metadata.labels` of the Node `name`.
    fn node_labels(&self, name: &str) -> Option<BTreeMap<String, String>>;
    /// `metadata.labels` of the Pod `namespace/name`.
    fn pod_labels(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>>;
}

/// The kubelet Summary API and the Metrics API for one node, computed from the cgroup
/// collector: keeps the last two collections (Summary CPU rates) and metrics-server's
/// last/previous points (Metrics API).
pub struct ResourceMetrics {
    node_name: String,
    labels: Option<Arc<dyn ObjectLabels>>,
    system: SystemCgroups,
    boot_time_unix: Option<i64>,
    current: Option<Collection>,
    previous: Option<Collection>,
    store: UsageStore,
}

/// How a [`ResourceMetrics`] reports its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceConfig {
    /// The node name (`node.nodeName`, the `NodeMetrics` name).
    pub node_name: String,
    /// How often collections are observed (metrics-server's `--metric-resolution`:
    /// containers younger than one resolution at their first reading get a synthetic start
    /// point).
    pub resolution: Duration,
    /// Cgroups reported as the `kubelet`, `runtime` and `misc` system containers, each only
    /// when the collector reads it (add them to `CollectorConfig::roots`). The `pods` system
    /// container (the kubepods root) is always reported when collected.
    pub system_cgroups: SystemCgroups,
    /// Boot time (Unix seconds) reported as the node's `startTime`, as the kubelet computes
    /// it (`now − uptime`, see [`boot_time_from_proc`]). `None`: the collector's boot time,
    /// floored to the minute as cAdvisor floors it.
    pub boot_time_unix: Option<i64>,
}

impl ResourceConfig {
    /// A configuration for `node_name` observed every `resolution`, with no optional system
    /// cgroups and the collector's boot time.
    pub fn new(node_name: impl Into<String>, resolution: Duration) -> Self {
        ResourceConfig {
            node_name: node_name.into(),
            resolution,
            system_cgroups: SystemCgroups::default(),
            boot_time_unix: None,
        }
    }
}

impl ResourceMetrics {
    /// Empty state: nothing is served until [`ResourceMetrics::observe`] is called.
    pub fn new(config: ResourceConfig) -> Self {
        ResourceMetrics {
            node_name: config.node_name,
            labels: None,
            system: config.system_cgroups,
            boot_time_unix: config.boot_time_unix,
            current: None,
            previous: None,
            store: UsageStore::new(config.resolution),
        }
    }

    /// Takes node and pod labels from `labels` from now on (`metadata.labels` and
    /// `labelSelector` of the Metrics API).
    pub fn set_object_labels(&mut self, labels: Arc<dyn ObjectLabels>) {
        self.labels = Some(labels);
    }

    fn node_labels(&self, name: &str) -> BTreeMap<String, String> {
        self.labels
            .as_ref()
            .and_then(|l| l.node_labels(name))
            .unwrap_or_default()
    }

    fn pod_labels(&self, namespace: &str, name: &str) -> BTreeMap<String, String> {
        self.labels
            .as_ref()
            .and_then(|l| l.pod_labels(namespace, name))
            .unwrap_or_default()
    }

    /// The node name served.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Takes one collection: it becomes the current one (the old current one is kept for
    /// CPU rates) and one metrics-server batch.
    pub fn observe(&mut self, collection: Collection) {
        let batch = batch_from(&collection, &self.node_name).filtered();
        self.store.store(&batch);
        self.previous = self.current.take();
        self.current = Some(collection);
    }

    /// Answers `GET path?query` for `/stats/summary` and `/apis/metrics.k8s.io/v1beta1/...`
    /// with `(HTTP status, JSON body)`, or `None` for any other path. `now` stamps the
    /// `creationTimestamp` of Metrics API objects.
    pub fn handle(
        &self,
        path: &str,
        query: Option<&str>,
        now: SystemTime,
    ) -> Option<(u16, String)> {
        if path == "/stats/summary" || path == "/stats/summary/" {
            return Some(self.summary(query));
        }
        let rest = path.strip_prefix(METRICS_PREFIX)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let selector = query_param(query, "labelSelector").unwrap_or_default();
        let selector = match LabelSelector::parse(&selector) {
            Ok(s) => s,
            Err(e) => return Some(json(400, &plain_status(400, "BadRequest", &e.0))),
        };
        Some(match segs.as_slice() {
            [] => json(200, &api_resource_list()),
            ["nodes"] => self.nodes(None, &selector, now),
            ["nodes", name] => self.nodes(Some(name), &selector, now),
            ["pods"] => self.pods(None, None, &selector, now),
            ["namespaces", ns, "pods"] => self.pods(Some(ns), None, &selector, now),
            ["namespaces", ns, "pods", name] => self.pods(Some(ns), Some(name), &selector, now),
            _ => {
                let mut s = plain_status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                );
                s.details = Some(StatusDetails {
                    name: String::new(),
                    group: String::new(),
                    kind: String::new(),
                });
                json(404, &s)
            }
        })
    }

    fn summary(&self, query: Option<&str>) -> (u16, String) {
        let Some(cur) = &self.current else {
            return json(
                503,
                &plain_status(503, "ServiceUnavailable", "no cgroup collection yet"),
            );
        };
        let only: Vec<&str> = query
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .filter(|(k, _)| *k == "only_cpu_and_memory")
            .map(|(_, v)| v)
            .collect();
        let req = SummaryRequest {
            node_name: &self.node_name,
            system: &self.system,
            boot_time_unix: self.boot_time_unix.unwrap_or(cur.machine.boot_time_unix),
            only_cpu_and_memory: only.as_slice() == ["true"],
        };
        json(200, &summary::build(&req, cur, self.previous.as_ref()))
    }

    /// Node metrics; a list keeps the nodes `selector` selects (a get ignores it, as the API
    /// server does).
    fn nodes(
        &self,
        name: Option<&str>,
        selector: &LabelSelector,
        now: SystemTime,
    ) -> (u16, String) {
        let all = self.store.nodes();
        match name {
            None => json(
                200,
                &List {
                    kind: "NodeMetricsList",
                    api_version: metrics_api::API_VERSION,
                    metadata: ListMeta {},
                    items: all
                        .iter()
                        .map(|(n, u)| (n, u, self.node_labels(n)))
                        .filter(|(_, _, labels)| selector.matches(labels))
                        .map(|(n, u, labels)| node_metrics(n, labels, u, now, false))
                        .collect(),
                },
            ),
            Some(name) => match all.iter().find(|(n, _)| n == name) {
                Some((n, u)) => json(200, &node_metrics(n, self.node_labels(n), u, now, true)),
                None => json(404, &not_found("nodemetrics", name)),
            },
        }
    }

    /// Pod metrics of all namespaces or of `ns`; a list keeps the pods `selector` selects.
    fn pods(
        &self,
        ns: Option<&str>,
        name: Option<&str>,
        selector: &LabelSelector,
        now: SystemTime,
    ) -> (u16, String) {
        let all = self.store.pods();
        let mut selected = all
            .iter()
            .filter(|p| ns.is_none_or(|ns| p.namespace == ns))
            .map(|p| (p, self.pod_labels(&p.namespace, &p.name)));
        match (ns, name) {
            (Some(ns), Some(name)) => match selected.find(|(p, _)| p.name == name) {
                Some((p, labels)) => json(200, &pod_metrics(p, labels, now, true)),
                None => json(404, &not_found("podmetrics", &format!("{ns}/{name}"))),
            },
            _ => json(
                200,
                &List {
                    kind: "PodMetricsList",
                    api_version: metrics_api::API_VERSION,
                    metadata: ListMeta {},
                    items: selected
                        .filter(|(_, labels)| selector.matches(labels))
                        .map(|(p, labels)| pod_metrics(p, labels, now, false))
                        .collect(),
                },
            ),
        }
    }
}

/// The decoded value of `name` in a URL query (`+` and `%XX` decoded as Go's
/// `url.ParseQuery` does); the first occurrence wins.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The kubelet's boot time: `now − uptime` in whole seconds, from `<proc_root>/uptime`.
pub fn boot_time_from_proc(proc_root: &Path, now: SystemTime) -> Option<i64> {
    let text = std::fs::read_to_string(proc_root.join("uptime")).ok()?;
    let first = text.split_ascii_whitespace().next()?;
    let secs: i64 = first.split('.').next()?.parse().ok()?;
    Some(metrics_api::unix_secs(now) - secs)
}

/// `APIResourceList` for discovery of the group version.
fn api_resource_list() -> serde_json::Value {
    serde_json::json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": metrics_api::API_VERSION,
        "resources": [
            {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
            {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]}
        ]
    })
}

fn json<T: Serialize>(code: u16, body: &T) -> (u16, String) {
    match serde_json::to_string(body) {
        Ok(s) => (code, s),
        Err(e) => (
            500,
            format!(
                "{{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{{}},\"status\":\"Failure\",\"message\":{},\"reason\":\"InternalError\",\"code\":500}}",
                serde_json::Value::String(e.to_string())
            ),
        ),
    }
}
