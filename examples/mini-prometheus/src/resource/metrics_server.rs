//! metrics-server's storage and usage rules (`pkg/storage/{node,pod}.go`), so `metrics.k8s.io`
//! answers exactly what metrics-server would for the same readings.
//!
//! Each collection becomes a [`Batch`]; [`UsageStore::store`] keeps the last and the previous
//! point of every node and container; usage is the CPU rate between the two and the last
//! working set. A node or pod appears only after two readings, as in metrics-server.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A container started less than this before its first reading gets no synthetic previous
/// point (metrics-server's `freshContainerMinMetricsResolution`).
const FRESH_CONTAINER_MIN: Duration = Duration::from_secs(10);

/// One reading of a node or a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// When the reading was taken, in nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// When the node booted or the container started, in nanoseconds since the Unix epoch.
    pub start_time_ns: i64,
    /// Cumulative CPU time used, in nanoseconds.
    pub cpu_ns: u64,
    /// Memory working set, in bytes.
    pub working_set: u64,
}

/// The readings of one pod's containers, keyed by container name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodReading {
    /// Container name to its reading.
    pub containers: BTreeMap<String, Point>,
}

/// One collection's readings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Node name to its reading.
    pub nodes: BTreeMap<String, Point>,
    /// (namespace, pod name) to its containers' readings.
    pub pods: BTreeMap<(String, String), PodReading>,
}

impl Batch {
    /// Applies metrics-server's decode filter: a node without a timestamp or with zero CPU or
    /// memory is left out, and so is a pod any of whose containers reads zero CPU or memory.
    pub fn filtered(mut self) -> Batch {
        self.nodes
            .retain(|_, p| p.timestamp_ns != 0 && p.cpu_ns != 0 && p.working_set != 0);
        self.pods.retain(|_, pod| {
            pod.containers
                .values()
                .all(|p| p.cpu_ns != 0 && p.working_set != 0)
        });
        self
    }
}

/// Usage over a window: what one NodeMetrics or one container of a PodMetrics reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// CPU in nanocores (`uint64(Δcpu / Δt.Seconds())`).
    pub cpu_nanocores: u64,
    /// Memory working set in bytes.
    pub memory_bytes: u64,
    /// End of the window, nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// Length of the window.
    pub window: Duration,
}

/// One pod's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodUsage {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// End of the window (the earliest container's), nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// Window (the earliest container's).
    pub window: Duration,
    /// Per container, sorted by name: (name, nanocores, working-set bytes).
    pub containers: Vec<(String, u64, u64)>,
}

/// Last and previous points of every node and container.
#[derive(Debug, Default)]
pub struct UsageStore {
    resolution: Duration,
    last_nodes: HashMap<String, Point>,
    prev_nodes: HashMap<String, Point>,
    last_pods: HashMap<(String, String), PodReading>,
    prev_pods: HashMap<(String, String), PodReading>,
}

impl UsageStore {
    /// A store for readings taken every `resolution` (metrics-server's `--metric-resolution`).
    pub fn new(resolution: Duration) -> Self {
        UsageStore {
            resolution,
            ..Default::default()
        }
    }

    /// Takes one batch, as metrics-server's `Store` does for nodes and pods.
    pub fn store(&mut self, batch: &Batch) {
        let mut last_nodes = HashMap::with_capacity(batch.nodes.len());
        let mut prev_nodes = HashMap::with_capacity(batch.nodes.len());
        for (name, new) in &batch.nodes {
            last_nodes.insert(name.clone(), *new);
            if let Some(last) = self.last_nodes.get(name) {
                if new.timestamp_ns > last.timestamp_ns {
                    prev_nodes.insert(name.clone(), *last);
                } else if let Some(prev) = self.prev_nodes.get(name)
                    && prev.timestamp_ns < new.timestamp_ns
                {
                    prev_nodes.insert(name.clone(), *prev);
                }
            }
        }
        self.last_nodes = last_nodes;
        self.prev_nodes = prev_nodes;

        let mut last_pods = HashMap::with_capacity(batch.pods.len());
        let mut prev_pods = HashMap::with_capacity(batch.pods.len());
        for (key, pod) in &batch.pods {
            let mut prev = PodReading::default();
            for (cname, new) in &pod.containers {
                let age = new.timestamp_ns - new.start_time_ns;
                let fresh = new.start_time_ns < new.timestamp_ns
                    && age < self.resolution.as_nanos() as i64
                    && age >= FRESH_CONTAINER_MIN.as_nanos() as i64;
                if fresh {
                    let synthetic = Point {
                        timestamp_ns: new.start_time_ns,
                        cpu_ns: 0,
                        ..*new
                    };
                    prev.containers.insert(cname.clone(), synthetic);
                } else if let Some(last) = self
                    .last_pods
                    .get(key)
                    .and_then(|p| p.containers.get(cname))
                    && new.start_time_ns < last.timestamp_ns
                {
                    if new.timestamp_ns > last.timestamp_ns {
                        prev.containers.insert(cname.clone(), *last);
                    } else if let Some(p) = self
                        .prev_pods
                        .get(key)
                        .and_then(|p| p.containers.get(cname))
                        && p.timestamp_ns < new.timestamp_ns
                    {
                        prev.containers.insert(cname.clone(), *p);
                    }
                }
            }
            if !prev.containers.is_empty() {
                prev_pods.insert(key.clone(), prev);
            }
            last_pods.insert(key.clone(), pod.clone());
        }
        self.last_pods = last_pods;
        self.prev_pods = prev_pods;
    }

    /// Usage of every node that has two points, sorted by name.
    pub fn nodes(&self) -> Vec<(String, Usage)> {
        let mut out: Vec<(String, Usage)> = self
            .last_nodes
            .iter()
            .filter_map(|(name, last)| {
                let prev = self.prev_nodes.get(name)?;
                Some((name.clone(), usage(last, prev)?))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Usage of every pod whose containers all have two points, sorted by namespace and name.
    pub fn pods(&self) -> Vec<PodUsage> {
        let mut out = Vec::new();
        for (key, last) in &self.last_pods {
            let Some(prev) = self.prev_pods.get(key) else {
                continue;
            };
            let mut containers = Vec::with_capacity(last.containers.len());
            let mut earliest: Option<Usage> = None;
            let mut all_present = true;
            for (cname, lp) in &last.containers {
                let Some(pp) = prev.containers.get(cname) else {
                    all_present = false;
                    break;
                };
                let Some(u) = usage(lp, pp) else {
                    continue;
                };
                containers.push((cname.clone(), u.cpu_nanocores, u.memory_bytes));
                if earliest.is_none_or(|e| e.timestamp_ns > u.timestamp_ns) {
                    earliest = Some(u);
                }
            }
            if !all_present {
                continue;
            }
            let e = earliest.unwrap_or(Usage {
                cpu_nanocores: 0,
                memory_bytes: 0,
                timestamp_ns: 0,
                window: Duration::ZERO,
            });
            out.push(PodUsage {
                namespace: key.0.clone(),
                name: key.1.clone(),
                timestamp_ns: e.timestamp_ns,
                window: e.window,
                containers,
            });
        }
        out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        out
    }
}

/// metrics-server's `resourceUsage`: `None` where it logs an error and skips the item (start
/// time or cumulative CPU going backwards, or a window that is not positive).
fn usage(last: &Point, prev: &Point) -> Option<Usage> {
    if last.start_time_ns < prev.start_time_ns || last.cpu_ns < prev.cpu_ns {
        return None;
    }
    let window_ns = last.timestamp_ns - prev.timestamp_ns;
    if window_ns <= 0 {
        return None;
    }
    let window = Duration::from_nanos(window_ns as u64);
    let cpu = (last.cpu_ns - prev.cpu_ns) as f64 / window.as_secs_f64();
    Some(Usage {
        cpu_nanocores: cpu as u64,
        memory_bytes: last.working_set,
        timestamp_ns: last.timestamp_ns,
        window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z
    const PREV: i64 = T - 15_012_000_000;

    fn point(ts: i64, cpu: u64, ws: u64, start: i64) -> Point {
        Point {
            timestamp_ns: ts,
            start_time_ns: start,
            cpu_ns: cpu,
            working_set: ws,
        }
    }

    fn batch(ts: i64, node_cpu: u64, nginx: u64, shipper: u64) -> Batch {
        let mut b = Batch::default();
        b.nodes.insert(
            "node-v2".into(),
            point(ts, node_cpu, 4_241_272_832, 1_766_000_000_000_000_000),
        );
        let mut pod = PodReading::default();
        pod.containers.insert(
            "nginx".into(),
            point(ts, nginx, 50_855_936, 1_767_209_999_000_000_000),
        );
        pod.containers.insert(
            "log-shipper".into(),
            point(ts, shipper, 37_224_448, 1_767_199_999_000_000_000),
        );
        b.pods
            .insert(("default".into(), "web-7d4b9c6f5-x2x8q".into()), pod);
        b
    }

    /// The worked example of the team's summary-API notes (§3.3, after metrics-server's
    /// `storage` package). Its table gives the
    /// node's previous CPU reading as 492921326899000, which is 1000 times the stated Δ
    /// (5844105210 ns) away from the last reading; the Δ and the stated usage (389295577n)
    /// agree, so the previous reading here is last − Δ.
    #[test]
    fn spec_example_after_two_readings() {
        let mut s = UsageStore::new(Duration::from_secs(15));
        let node_prev = 498_765_432_109_000 - 5_844_105_210;
        s.store(&batch(PREV, node_prev, 180_864_684_000, 98_585_252_000).filtered());
        assert!(s.nodes().is_empty(), "one reading is not enough");
        assert!(s.pods().is_empty());
        s.store(&batch(T, 498_765_432_109_000, 183_456_789_000, 98_765_432_000).filtered());
        let nodes = s.nodes();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].0, "node-v2");
        assert_eq!(nodes[0].1.cpu_nanocores, 389_295_577);
        assert_eq!(nodes[0].1.memory_bytes, 4_241_272_832);
        assert_eq!(nodes[0].1.window, Duration::from_millis(15_012));
        let pods = s.pods();
        assert_eq!(pods.len(), 1);
        assert_eq!(
            pods[0].containers,
            vec![
                ("log-shipper".to_owned(), 12_002_398, 37_224_448),
                ("nginx".to_owned(), 172_668_864, 50_855_936)
            ]
        );
        assert_eq!(pods[0].timestamp_ns, T);
    }

    #[test]
    fn pod_with_a_zero_reading_container_is_left_out() {
        let mut b = batch(T, 1, 0, 5);
        b = b.filtered();
        assert!(b.pods.is_empty());
        assert_eq!(b.nodes.len(), 1);
    }

    #[test]
    fn cpu_going_backwards_skips_the_node() {
        let mut s = UsageStore::new(Duration::from_secs(15));
        s.store(&batch(PREV, 10, 10, 10));
        s.store(&batch(T, 5, 20, 20));
        assert!(s.nodes().is_empty());
    }

    #[test]
    fn fresh_container_gets_a_synthetic_previous_point() {
        let mut s = UsageStore::new(Duration::from_secs(60));
        let mut b = Batch::default();
        let mut pod = PodReading::default();
        // Started 20 s before its first reading, with 2 s of CPU: 0.1 cores.
        pod.containers.insert(
            "app".into(),
            point(T, 2_000_000_000, 1 << 20, T - 20_000_000_000),
        );
        b.pods.insert(("ns".into(), "p".into()), pod);
        s.store(&b);
        let pods = s.pods();
        assert_eq!(pods.len(), 1);
        assert_eq!(
            pods[0].containers,
            vec![("app".to_owned(), 100_000_000, 1 << 20)]
        );
        assert_eq!(pods[0].window, Duration::from_secs(20));
    }
}
