//! The kubelet Summary API (`GET /stats/summary`, `stats/v1alpha1`) computed from two
//! collections, the way the kubelet's cAdvisor stats provider computes it
//! (`pkg/kubelet/stats/helper.go`, `cadvisor_stats_provider.go`, `summary_sys_containers.go`).
//!
//! Node figures come from the root cgroup, pod CPU and memory from the pod-level cgroup (so
//! they include the sandbox and exited containers), container figures from container
//! cgroups (the sandbox excluded), pod network from the sandbox. `usageNanoCores` is the rate
//! between the previous and the current collection, 0 until there are two.

use std::collections::BTreeMap;

use scrapeline_cgroup::path::CgroupKind;
use scrapeline_cgroup::{Collection, ContainerStats, InterfaceStats};
use serde::Serialize;

use super::rfc3339;

/// A memory limit above this is "unlimited" (kubelet `maxMemorySize`, 2^62).
const MAX_MEMORY_SIZE: u64 = 1 << 62;

/// The interface inlined into `network` (kubelet `defaultNetworkInterfaceName`).
const DEFAULT_INTERFACE: &str = "eth0";

/// Which optional cgroups to report under `node.systemContainers`, by cgroup path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemCgroups {
    /// `--kubelet-cgroups` (name `kubelet`), e.g. `/system.slice/kubelet.service`.
    pub kubelet: Option<String>,
    /// `--runtime-cgroups` (name `runtime`), e.g. `/system.slice/containerd.service`.
    pub runtime: Option<String>,
    /// `--system-cgroups` (name `misc`).
    pub misc: Option<String>,
}

/// What one Summary request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryRequest<'a> {
    /// The node's name (`node.nodeName`).
    pub node_name: &'a str,
    /// Cgroups reported as system containers besides `pods`.
    pub system: &'a SystemCgroups,
    /// System boot time in Unix seconds (`node.startTime` of the full Summary).
    pub boot_time_unix: i64,
    /// `?only_cpu_and_memory=true`: node, system containers, pods and containers with CPU
    /// and memory only (kubelet `GetCPUAndMemoryStats`).
    pub only_cpu_and_memory: bool,
}

/// `Summary`: the node and its pods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Node-level stats.
    pub node: NodeStats,
    /// One entry per pod with Kubernetes metadata, sorted by namespace and name.
    pub pods: Vec<PodStats>,
}

/// `NodeStats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStats {
    /// Node name.
    pub node_name: String,
    /// `kubelet`, `runtime`, `misc`, `pods`, where those cgroups were collected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system_containers: Vec<ContainerStatsJson>,
    /// Boot time (full Summary) or the root cgroup's start (CPU-and-memory Summary).
    pub start_time: String,
    /// Root cgroup CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    /// Root cgroup memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
    /// Host network interfaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkStats>,
    /// Swap of the node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap: Option<SwapStats>,
}

/// `ContainerStats` (also used for system containers).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatsJson {
    /// Container name (or system container name).
    pub name: String,
    /// Creation time of the cgroup.
    pub start_time: String,
    /// CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    /// Memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
    /// Swap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap: Option<SwapStats>,
}

/// `PodReference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodReference {
    /// Pod name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Pod UID.
    pub uid: String,
}

/// `PodStats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStats {
    /// Which pod.
    pub pod_ref: PodReference,
    /// Creation time of the pod cgroup (the kubelet uses the pod status start time).
    pub start_time: String,
    /// App containers, sorted by name (the sandbox is excluded).
    pub containers: Vec<ContainerStatsJson>,
    /// The pod-level cgroup's CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    /// The pod-level cgroup's memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
    /// The sandbox's network namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkStats>,
    /// Processes over the pod's containers.
    #[serde(rename = "process_stats", skip_serializing_if = "Option::is_none")]
    pub process_stats: Option<ProcessStatsJson>,
    /// The pod-level cgroup's swap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap: Option<SwapStats>,
}

/// `CPUStats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuStats {
    /// Collection time.
    pub time: String,
    /// Rate over the last two collections, in nanocores (0 with one collection).
    pub usage_nano_cores: u64,
    /// Cumulative CPU time in nanoseconds.
    pub usage_core_nano_seconds: u64,
}

/// `MemoryStats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryStats {
    /// Collection time.
    pub time: String,
    /// `limit − workingSet`, absent when the limit is unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<u64>,
    /// Total usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_bytes: Option<u64>,
    /// Usage minus inactive file cache.
    pub working_set_bytes: u64,
    /// Anonymous memory.
    #[serde(rename = "rssBytes", skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
    /// Page faults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_faults: Option<u64>,
    /// Major page faults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub major_page_faults: Option<u64>,
}

/// `SwapStats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SwapStats {
    /// Collection time.
    pub time: String,
    /// Swap left before the limit; absent where the limit is unknown or unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap_available_bytes: Option<u64>,
    /// Swap in use.
    pub swap_usage_bytes: u64,
}

/// `NetworkStats`: the `eth0` interface inline, plus every interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkStats {
    /// Collection time.
    pub time: String,
    /// The inline default interface (`eth0`; empty name and no counters when absent).
    #[serde(flatten)]
    pub default: InterfaceStatsJson,
    /// Every interface, sorted by name.
    pub interfaces: Vec<InterfaceStatsJson>,
}

/// `InterfaceStats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceStatsJson {
    /// Interface name.
    pub name: String,
    /// Bytes received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_bytes: Option<u64>,
    /// Receive errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_errors: Option<u64>,
    /// Bytes sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_bytes: Option<u64>,
    /// Transmit errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_errors: Option<u64>,
}

/// `ProcessStats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessStatsJson {
    /// Processes in the pod's containers.
    pub process_count: u64,
}

/// Whether a container cgroup is the pod sandbox: containerd labels it with an empty
/// container name, CRI-O and dockershim with `POD`.
pub fn is_sandbox(c: &ContainerStats) -> bool {
    c.container.is_empty() || c.container == "POD"
}

/// The kubelet's CPU rate (cAdvisor `InstCpuStats`): `Δusage / Δt(ns) × 1e9`, or `None`
/// where cAdvisor reports an error (time or usage going backwards).
pub fn cpu_rate(
    cur: &ContainerStats,
    cur_ms: i64,
    prev: Option<(&ContainerStats, i64)>,
) -> Option<u64> {
    let (prev, prev_ms) = prev?;
    let cur_ns = cur.cpu?.usage_ns;
    let prev_ns = prev.cpu?.usage_ns;
    if cur_ms <= prev_ms || cur_ns < prev_ns {
        return None;
    }
    let dt_ns = (cur_ms - prev_ms) as f64 * 1e6;
    Some(((cur_ns - prev_ns) as f64 / dt_ns * 1e9) as u64)
}

/// One pod's cgroups in a collection.
#[derive(Default)]
struct PodCgroups<'a> {
    pod: Option<&'a ContainerStats>,
    sandbox: Option<&'a ContainerStats>,
    /// Container name to its newest cgroup.
    containers: BTreeMap<&'a str, &'a ContainerStats>,
    /// Every container cgroup, sandbox included (process counts).
    all: Vec<&'a ContainerStats>,
}

/// Groups the pod and container cgroups of a collection by pod UID, keeping only those with
/// Kubernetes metadata. A container that appears twice (a restart whose old cgroup is still
/// there) is kept once, the newest.
fn pods_of(c: &Collection) -> BTreeMap<&str, PodCgroups<'_>> {
    let mut out: BTreeMap<&str, PodCgroups<'_>> = BTreeMap::new();
    for s in &c.containers {
        let Some(uid) = s.identity.pod_uid.as_deref() else {
            continue;
        };
        if s.pod.is_empty() {
            continue;
        }
        match s.identity.kind {
            CgroupKind::Pod => out.entry(uid).or_default().pod = Some(s),
            CgroupKind::Container => {
                let e = out.entry(uid).or_default();
                e.all.push(s);
                if is_sandbox(s) {
                    // A container discovery does not know yet also looks like a sandbox;
                    // the real one is the one with the network namespace.
                    let rank = |c: &ContainerStats| (!c.network.is_empty(), c.start_time_unix);
                    if e.sandbox
                        .is_none_or(|old| (rank(s), &s.id) > (rank(old), &old.id))
                    {
                        e.sandbox = Some(s);
                    }
                } else {
                    let slot = e.containers.entry(s.container.as_str()).or_insert(s);
                    if newer(s, slot) {
                        *slot = s;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn newer(a: &ContainerStats, b: &ContainerStats) -> bool {
    (a.start_time_unix, &a.id) > (b.start_time_unix, &b.id)
}

/// Builds the Summary from the current collection and, for CPU rates, the previous one.
pub fn build(req: &SummaryRequest<'_>, cur: &Collection, prev: Option<&Collection>) -> Summary {
    let b = Builder { cur, prev };
    let full = !req.only_cpu_and_memory;
    let root = cur.get("/");

    let mut system_containers = Vec::new();
    let pods_root = cur
        .containers
        .iter()
        .find(|c| c.identity.kind == CgroupKind::Kubepods)
        .map(|c| c.id.as_str());
    let wanted = [
        ("kubelet", req.system.kubelet.as_deref()),
        ("runtime", req.system.runtime.as_deref()),
        ("misc", req.system.misc.as_deref()),
        ("pods", pods_root),
    ];
    for (name, cgroup) in wanted {
        if let Some(s) = cgroup.and_then(|id| cur.get(id)) {
            system_containers.push(b.container(name, s, full));
        }
    }

    let time = rfc3339::format_unix_ms(cur.timestamp_ms);
    let node = NodeStats {
        node_name: req.node_name.to_owned(),
        system_containers,
        start_time: if full {
            rfc3339::format_unix(req.boot_time_unix)
        } else {
            rfc3339::format_unix(root.map_or(req.boot_time_unix, |r| r.start_time_unix))
        },
        cpu: root.map(|r| b.cpu(r)),
        memory: root.map(|r| b.memory(r)),
        network: root
            .filter(|_| full)
            .and_then(|r| network(&time, &r.network)),
        swap: root.filter(|_| full).and_then(|r| {
            r.memory.map(|m| SwapStats {
                time: time.clone(),
                swap_available_bytes: Some(cur.machine.swap_bytes.saturating_sub(m.swap_bytes)),
                swap_usage_bytes: m.swap_bytes,
            })
        }),
    };

    let mut pods = Vec::new();
    for (uid, p) in pods_of(cur) {
        let Some(meta) = p
            .pod
            .or(p.sandbox)
            .or_else(|| p.containers.values().next().copied())
        else {
            continue;
        };
        let start = p
            .pod
            .or(p.sandbox)
            .map_or(meta.start_time_unix, |s| s.start_time_unix);
        let processes: Option<u64> = p
            .all
            .iter()
            .filter_map(|c| c.processes.map(|x| x.processes))
            .reduce(|a, b| a + b);
        pods.push(PodStats {
            pod_ref: PodReference {
                name: meta.pod.clone(),
                namespace: meta.namespace.clone(),
                uid: uid.to_owned(),
            },
            start_time: rfc3339::format_unix(start),
            containers: p
                .containers
                .iter()
                .map(|(name, s)| b.container(name, s, full))
                .collect(),
            cpu: p.pod.map(|s| b.cpu(s)),
            memory: p.pod.map(|s| b.memory(s)),
            network: p
                .sandbox
                .filter(|_| full)
                .and_then(|s| network(&time, &s.network)),
            process_stats: processes
                .filter(|_| full)
                .map(|n| ProcessStatsJson { process_count: n }),
            swap: p.pod.filter(|_| full).and_then(|s| b.swap(s)),
        });
    }
    pods.sort_by(|a, b| {
        (&a.pod_ref.namespace, &a.pod_ref.name).cmp(&(&b.pod_ref.namespace, &b.pod_ref.name))
    });
    Summary { node, pods }
}

struct Builder<'a> {
    cur: &'a Collection,
    prev: Option<&'a Collection>,
}

impl Builder<'_> {
    fn time(&self) -> String {
        rfc3339::format_unix_ms(self.cur.timestamp_ms)
    }

    fn container(&self, name: &str, s: &ContainerStats, full: bool) -> ContainerStatsJson {
        ContainerStatsJson {
            name: name.to_owned(),
            start_time: rfc3339::format_unix(s.start_time_unix),
            cpu: Some(self.cpu(s)),
            memory: Some(self.memory(s)),
            swap: if full { self.swap(s) } else { None },
        }
    }

    /// `cadvisorInfoToCPUandMemoryStats`, CPU half: zeros where the cgroup has no CPU
    /// accounting or no previous reading.
    fn cpu(&self, s: &ContainerStats) -> CpuStats {
        let prev = self
            .prev
            .and_then(|p| p.get(&s.id).map(|c| (c, p.timestamp_ms)));
        CpuStats {
            time: self.time(),
            usage_nano_cores: cpu_rate(s, self.cur.timestamp_ms, prev).unwrap_or(0),
            usage_core_nano_seconds: s.cpu.map_or(0, |c| c.usage_ns),
        }
    }

    /// The memory half: a cgroup without memory accounting reports only a zero working set.
    fn memory(&self, s: &ContainerStats) -> MemoryStats {
        let Some(m) = s.memory else {
            return MemoryStats {
                time: self.time(),
                available_bytes: None,
                usage_bytes: None,
                working_set_bytes: 0,
                rss_bytes: None,
                page_faults: None,
                major_page_faults: None,
            };
        };
        let limit = s.spec.memory_limit_bytes.unwrap_or(0);
        let limited = limit != 0 && limit <= MAX_MEMORY_SIZE;
        MemoryStats {
            time: self.time(),
            available_bytes: limited.then(|| limit.saturating_sub(m.working_set_bytes)),
            usage_bytes: Some(m.usage_bytes),
            working_set_bytes: m.working_set_bytes,
            rss_bytes: Some(m.rss_bytes),
            page_faults: Some(m.pgfault),
            major_page_faults: Some(m.pgmajfault),
        }
    }

    /// `cadvisorInfoToSwapStats`: usage only (the collector does not read swap limits).
    fn swap(&self, s: &ContainerStats) -> Option<SwapStats> {
        s.memory.map(|m| SwapStats {
            time: self.time(),
            swap_available_bytes: None,
            swap_usage_bytes: m.swap_bytes,
        })
    }
}

/// `cadvisorInfoToNetworkStats`: every interface, `eth0` also inline; `None` without any.
fn network(time: &str, ifaces: &[InterfaceStats]) -> Option<NetworkStats> {
    if ifaces.is_empty() {
        return None;
    }
    let all: Vec<InterfaceStatsJson> = ifaces
        .iter()
        .map(|i| InterfaceStatsJson {
            name: i.name.clone(),
            rx_bytes: Some(i.rx_bytes),
            rx_errors: Some(i.rx_errors),
            tx_bytes: Some(i.tx_bytes),
            tx_errors: Some(i.tx_errors),
        })
        .collect();
    let default = all
        .iter()
        .find(|i| i.name == DEFAULT_INTERFACE)
        .cloned()
        .unwrap_or_default();
    Some(NetworkStats {
        time: time.to_owned(),
        default,
        interfaces: all,
    })
}
