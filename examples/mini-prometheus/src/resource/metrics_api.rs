//! `metrics.k8s.io/v1beta1` as metrics-server serves it: a collection becomes the batch
//! metrics-server would decode from the kubelet's `/metrics/resource`, and the usage store's
//! answers become `NodeMetrics` / `PodMetrics` objects with Kubernetes quantities.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scrapeline_cgroup::Collection;
use scrapeline_cgroup::path::CgroupKind;
use serde::Serialize;

use super::metrics_server::{Batch, PodUsage, Point, Usage};
use super::quantity::{format_bytes, format_go_duration, format_nanocores};
use super::rfc3339;
use super::summary::is_sandbox;

/// The API group and version.
pub const API_VERSION: &str = "metrics.k8s.io/v1beta1";

/// CPU seconds as the kubelet prints them and metrics-server reads them back:
/// `uint64(float64(ns) / 1e9 * 1e9)`, which can differ from `ns` by a nanosecond.
fn through_seconds(ns: u64) -> u64 {
    ((ns as f64 / 1e9) * 1e9) as u64
}

/// The batch metrics-server decodes from `/metrics/resource` for this collection: the node
/// is the root cgroup under `node_name`, the containers are the app containers (sandboxes
/// excluded) of pods with Kubernetes metadata, the newest cgroup per container name.
/// Apply [`Batch::filtered`] before storing, as metrics-server does.
pub fn batch_from(c: &Collection, node_name: &str) -> Batch {
    let ts_ns = c.timestamp_ms.saturating_mul(1_000_000);
    let mut batch = Batch::default();
    if let Some(root) = c.get("/") {
        batch.nodes.insert(
            node_name.to_owned(),
            Point {
                timestamp_ns: ts_ns,
                start_time_ns: 0,
                cpu_ns: root.cpu.map_or(0, |x| through_seconds(x.usage_ns)),
                working_set: root.memory.map_or(0, |m| m.working_set_bytes),
            },
        );
    }
    let mut starts: std::collections::HashMap<(String, String, String), (i64, &str)> =
        std::collections::HashMap::new();
    for s in &c.containers {
        if s.identity.kind != CgroupKind::Container || s.pod.is_empty() || is_sandbox(s) {
            continue;
        }
        let key = (s.namespace.clone(), s.pod.clone(), s.container.clone());
        let this = (s.start_time_unix, s.id.as_str());
        if starts.get(&key).is_some_and(|old| *old > this) {
            continue;
        }
        starts.insert(key, this);
        let pod = batch
            .pods
            .entry((s.namespace.clone(), s.pod.clone()))
            .or_default();
        pod.containers.insert(
            s.container.clone(),
            Point {
                timestamp_ns: ts_ns,
                start_time_ns: s.start_time_unix.saturating_mul(1_000_000_000),
                cpu_ns: s.cpu.map_or(0, |x| through_seconds(x.usage_ns)),
                working_set: s.memory.map_or(0, |m| m.working_set_bytes),
            },
        );
    }
    batch
}

/// `ObjectMeta` as metrics-server fills it: name, namespace, render time and the object's
/// labels (from the Node or Pod object; omitted when empty or unknown, as Go's `omitempty`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Object name.
    pub name: String,
    /// Namespace (pods only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// When the object was rendered (`time.Now()`), not when the node or pod was created.
    pub creation_timestamp: String,
    /// `metadata.labels` of the Node or Pod, keys sorted as Go encodes a map.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A `ResourceList` of the two resources metrics-server reports (JSON keys sorted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceList {
    /// CPU as a DecimalSI quantity (`172668864n`).
    pub cpu: String,
    /// Working set as a BinarySI quantity (`49664Ki`).
    pub memory: String,
}

/// `NodeMetrics`; `kind`/`apiVersion` are absent on list items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeMetrics {
    /// `NodeMetrics` on a single object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// `metrics.k8s.io/v1beta1` on a single object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<&'static str>,
    /// Name and render time.
    pub metadata: ObjectMeta,
    /// End of the window.
    pub timestamp: String,
    /// Window length (Go duration text).
    pub window: String,
    /// Usage over the window.
    pub usage: ResourceList,
}

/// One container of a `PodMetrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerMetrics {
    /// Container name.
    pub name: String,
    /// Usage over the window.
    pub usage: ResourceList,
}

/// `PodMetrics`; `kind`/`apiVersion` are absent on list items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMetrics {
    /// `PodMetrics` on a single object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// `metrics.k8s.io/v1beta1` on a single object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<&'static str>,
    /// Name, namespace and render time.
    pub metadata: ObjectMeta,
    /// End of the window.
    pub timestamp: String,
    /// Window length.
    pub window: String,
    /// Containers sorted by name.
    pub containers: Vec<ContainerMetrics>,
}

/// Empty `ListMeta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ListMeta {}

/// `NodeMetricsList` / `PodMetricsList`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    /// `NodeMetricsList` or `PodMetricsList`.
    pub kind: &'static str,
    /// `metrics.k8s.io/v1beta1`.
    pub api_version: &'static str,
    /// Always empty.
    pub metadata: ListMeta,
    /// The objects.
    pub items: Vec<T>,
}

/// Unix seconds of a `SystemTime` (negative before the epoch).
pub fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs_f64().ceil() as u64).unwrap_or(i64::MAX),
    }
}

fn resources(cpu_nanocores: u64, memory_bytes: u64) -> ResourceList {
    ResourceList {
        cpu: format_nanocores(cpu_nanocores),
        memory: format_bytes(memory_bytes),
    }
}

fn window(d: Duration) -> String {
    format_go_duration(d)
}

/// A `NodeMetrics` object for `name` with the node's `labels`; `single` adds `kind` and
/// `apiVersion`.
pub fn node_metrics(
    name: &str,
    labels: BTreeMap<String, String>,
    u: &Usage,
    now: SystemTime,
    single: bool,
) -> NodeMetrics {
    NodeMetrics {
        kind: single.then_some("NodeMetrics"),
        api_version: single.then_some(API_VERSION),
        metadata: ObjectMeta {
            name: name.to_owned(),
            namespace: None,
            creation_timestamp: rfc3339::format_unix(unix_secs(now)),
            labels,
        },
        timestamp: rfc3339::format_unix(u.timestamp_ns.div_euclid(1_000_000_000)),
        window: window(u.window),
        usage: resources(u.cpu_nanocores, u.memory_bytes),
    }
}

/// A `PodMetrics` object with the pod's `labels`; `single` adds `kind` and `apiVersion`.
pub fn pod_metrics(
    p: &PodUsage,
    labels: BTreeMap<String, String>,
    now: SystemTime,
    single: bool,
) -> PodMetrics {
    PodMetrics {
        kind: single.then_some("PodMetrics"),
        api_version: single.then_some(API_VERSION),
        metadata: ObjectMeta {
            name: p.name.clone(),
            namespace: Some(p.namespace.clone()),
            creation_timestamp: rfc3339::format_unix(unix_secs(now)),
            labels,
        },
        timestamp: rfc3339::format_unix(p.timestamp_ns.div_euclid(1_000_000_000)),
        window: window(p.window),
        containers: p
            .containers
            .iter()
            .map(|(name, cpu, mem)| ContainerMetrics {
                name: name.clone(),
                usage: resources(*cpu, *mem),
            })
            .collect(),
    }
}

/// A Kubernetes `Status` failure (`metav1.Status`), e.g. for a 404.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// `Status`.
    pub kind: &'static str,
    /// `v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    /// Empty.
    pub metadata: ListMeta,
    /// `Failure`.
    pub status: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Machine-readable reason (`NotFound`).
    pub reason: &'static str,
    /// What was not found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    /// HTTP status code.
    pub code: u16,
}

/// `StatusDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusDetails {
    /// The object's name (`namespace/name` for pods, as metrics-server reports it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// API group.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Resource (`nodemetrics`, `podmetrics`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// `errors.NewNotFound(metrics.k8s.io/<resource>, name)`.
pub fn not_found(resource: &str, name: &str) -> Status {
    Status {
        kind: "Status",
        api_version: "v1",
        metadata: ListMeta {},
        status: "Failure",
        message: format!("{resource}.metrics.k8s.io \"{name}\" not found"),
        reason: "NotFound",
        details: Some(StatusDetails {
            name: name.to_owned(),
            group: "metrics.k8s.io".to_owned(),
            kind: resource.to_owned(),
        }),
        code: 404,
    }
}

/// A status without details (`the server could not find the requested resource`, or a
/// service-unavailable error).
pub fn plain_status(code: u16, reason: &'static str, message: &str) -> Status {
    Status {
        kind: "Status",
        api_version: "v1",
        metadata: ListMeta {},
        status: "Failure",
        message: message.to_owned(),
        reason,
        details: None,
        code,
    }
}
