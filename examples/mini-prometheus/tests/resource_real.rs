//! `usageNanoCores` on this machine's own cgroups: create a Kubernetes-shaped cgroup with a
//! CFS quota of half a core, burn CPU in it for about 2 s, and check that the Summary's
//! rate and the Metrics API's agree with the CPU time the kernel charged the burning process
//! (`/proc/<pid>/schedstat`), and stay under the quota. Needs root and a writable cgroupfs;
//! skips with a printed reason otherwise. Everything created is removed again, also on
//! failure (a `Drop` guard).

#[allow(dead_code, unused_imports)]
#[path = "../src/resource/mod.rs"]
mod resource;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use resource::{ResourceConfig, ResourceMetrics};
use scrapeline_cgroup::layout::{Layout, Mode};
use scrapeline_cgroup::{Collector, CollectorConfig, ContainerMeta, PodLookup};
use serde_json::Value;

const BURNER_ENV: &str = "SCRAPELINE_RESOURCE_BURNER";
const POD_UID: &str = "7d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a";
const CTR_ID: &str = "7d1e2f3a4b5c4d6e8f7a9b0c1d2e3f4a7d1e2f3a4b5c4d6e8f7a9b0c1d2e3f4a";
/// CFS quota: 50 ms per 100 ms period, half a core.
const QUOTA_US: u64 = 50_000;
const PERIOD_US: u64 = 100_000;

/// The child side: when started by the test with `BURNER_ENV` set, wait until moved into
/// the cgroup, then burn CPU on one thread until killed (at most 20 s).
#[test]
#[ignore = "helper process for real_cgroup_usage_nano_cores, not a test"]
fn burner_child() {
    let Ok(marker) = std::env::var(BURNER_ENV) else {
        return;
    };
    let start = Instant::now();
    while !std::fs::read_to_string("/proc/self/cgroup").is_ok_and(|s| s.contains(&marker)) {
        if start.elapsed() > Duration::from_secs(5) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Some memory charged to the cgroup: metrics-server drops a pod with a zero working set.
    let held = vec![1u8; 8 << 20];
    let mut x = 0u64;
    while start.elapsed() < Duration::from_secs(20) {
        for i in 0..1_000_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        std::hint::black_box((&held, x));
    }
}

/// Kills the children and removes the cgroups (deepest first) on drop.
struct Guard {
    children: Vec<Child>,
    dirs: Vec<PathBuf>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for d in self.dirs.iter().rev() {
            for _ in 0..50 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if d.exists() {
                eprintln!("could not remove {}", d.display());
            }
        }
    }
}

/// Metadata for the one test pod, as CRI would give it.
struct OnePod;

impl PodLookup for OnePod {
    fn lookup(&self, pod_uid: &str, container_id: &str) -> Option<ContainerMeta> {
        (pod_uid == POD_UID).then(|| ContainerMeta {
            namespace: "scrapeline-test".into(),
            pod: "burner".into(),
            container: if container_id == CTR_ID {
                "burn".into()
            } else {
                String::new()
            },
            ..ContainerMeta::default()
        })
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// The hierarchy directories to create the cgroups in, and the one that holds the CPU
/// quota, or why the test cannot run.
fn hierarchies(layout: &Layout) -> Result<(Vec<PathBuf>, PathBuf), String> {
    match layout.mode {
        Mode::V1 | Mode::Hybrid => {
            let mut out: Vec<PathBuf> = Vec::new();
            for c in ["cpu", "cpuacct", "memory", "pids"] {
                let p = layout
                    .controller(c)
                    .ok_or_else(|| format!("controller {c} is not mounted"))?;
                if !out.iter().any(|x| x == p) {
                    out.push(p.to_path_buf());
                }
            }
            let cpu = layout.controller("cpu").ok_or("no cpu controller")?;
            Ok((out, cpu.to_path_buf()))
        }
        Mode::V2 => {
            let root = layout.unified.clone().ok_or("no unified mount")?;
            let sub = std::fs::read_to_string(root.join("cgroup.subtree_control"))
                .map_err(|e| e.to_string())?;
            if !(sub.contains("cpu") && sub.contains("memory")) {
                return Err("cgroup v2 root does not delegate cpu and memory".into());
            }
            Ok((vec![root.clone()], root))
        }
    }
}

fn write(path: &Path, s: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(s.as_bytes())
}

/// Nanoseconds the kernel has charged the process on a CPU: the first field of every
/// thread's `schedstat` (libtest runs the burner on a thread of its own).
fn schedstat_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Nanocores of a canonical CPU quantity (`123456789n`, `250m`, `1`).
fn nanocores(q: &str) -> u64 {
    if let Some(n) = q.strip_suffix('n') {
        return n.parse().unwrap();
    }
    resource::kubectl::Quantity::parse(q).unwrap().milli_value() as u64 * 1_000_000
}

#[test]
fn real_cgroup_usage_nano_cores() {
    if !is_root() {
        eprintln!("SKIP real_cgroup_usage_nano_cores: not root");
        return;
    }
    let top = format!("/scrapeline-resource-test-{}", std::process::id());
    let config = CollectorConfig {
        roots: vec![top.clone()],
        ..CollectorConfig::default()
    };
    let collector = match Collector::new(config) {
        Ok(c) => c.with_pod_lookup(Arc::new(OnePod)),
        Err(e) => {
            eprintln!("SKIP real_cgroup_usage_nano_cores: {e}");
            return;
        }
    };
    let (bases, cpu_base) = match hierarchies(collector.layout()) {
        Ok(b) => b,
        Err(why) => {
            eprintln!("SKIP real_cgroup_usage_nano_cores: {why}");
            return;
        }
    };
    let rels = [
        top.clone(),
        format!("{top}/kubepods"),
        format!("{top}/kubepods/besteffort"),
        format!("{top}/kubepods/besteffort/pod{POD_UID}"),
        format!("{top}/kubepods/besteffort/pod{POD_UID}/{CTR_ID}"),
    ];
    let ctr_rel = rels[4].clone();
    let mut guard = Guard {
        children: Vec::new(),
        dirs: Vec::new(),
    };
    for rel in &rels {
        for b in &bases {
            let d = b.join(rel.trim_start_matches('/'));
            if let Err(e) = std::fs::create_dir(&d) {
                eprintln!(
                    "SKIP real_cgroup_usage_nano_cores: cannot create {}: {e}",
                    d.display()
                );
                return;
            }
            guard.dirs.push(d);
        }
    }
    let ctr_cpu_dir = cpu_base.join(ctr_rel.trim_start_matches('/'));
    let quota = if collector.layout().mode == Mode::V2 {
        write(
            &ctr_cpu_dir.join("cpu.max"),
            &format!("{QUOTA_US} {PERIOD_US}"),
        )
    } else {
        write(
            &ctr_cpu_dir.join("cpu.cfs_period_us"),
            &PERIOD_US.to_string(),
        )
        .and_then(|()| write(&ctr_cpu_dir.join("cpu.cfs_quota_us"), &QUOTA_US.to_string()))
    };
    quota.expect("set the CFS quota");

    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args(["burner_child", "--exact", "--ignored", "--test-threads=1"])
        .env(BURNER_ENV, &ctr_rel)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    guard.children.push(child);
    for b in &bases {
        let procs = b.join(ctr_rel.trim_start_matches('/')).join("cgroup.procs");
        write(&procs, &pid.to_string()).unwrap();
    }
    // Let the child find itself in the cgroup and start burning.
    std::thread::sleep(Duration::from_millis(300));

    let mut metrics =
        ResourceMetrics::new(ResourceConfig::new("test-node", Duration::from_secs(2)));
    let t0 = now_ms();
    let first = collector.collect(t0);
    let s0 = schedstat_ns(pid);
    std::thread::sleep(Duration::from_secs(2));
    let t1 = now_ms();
    let second = collector.collect(t1);
    let s1 = schedstat_ns(pid);
    metrics.observe(first);
    metrics.observe(second);

    let burned = (s1 - s0) as f64 / ((t1 - t0) as f64 / 1000.0);
    let now = SystemTime::now();
    let (code, text) = metrics.handle("/stats/summary", None, now).unwrap();
    assert_eq!(code, 200, "{text}");
    let summary: Value = serde_json::from_str(&text).unwrap();
    let pod = summary["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["podRef"]["name"] == "burner")
        .expect("the test pod is in the Summary");
    assert_eq!(pod["podRef"]["namespace"], "scrapeline-test");
    assert_eq!(pod["podRef"]["uid"], POD_UID);
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1, "{containers:?}");
    assert_eq!(containers[0]["name"], "burn");
    let summary_rate = containers[0]["cpu"]["usageNanoCores"].as_u64().unwrap();
    let pod_rate = pod["cpu"]["usageNanoCores"].as_u64().unwrap();
    eprintln!(
        "burned {burned:.0} nanocores by schedstat; Summary container {summary_rate}, pod {pod_rate}"
    );
    // The process burned something even on a crowded machine, and no more than the quota
    // allows (plus one period of slack over the 2 s window).
    assert!(burned > 50e6, "the burner only got {burned:.0} nanocores");
    let cap = 0.5e9 * 1.05 + 0.05e9;
    assert!((summary_rate as f64) < cap, "{summary_rate} over the quota");
    // Within 10% (plus 20 millicores for timing skew) of what the kernel charged.
    let tolerance = burned * 0.10 + 20e6;
    assert!(
        (summary_rate as f64 - burned).abs() <= tolerance,
        "Summary {summary_rate} vs burned {burned:.0}"
    );
    // The pod cgroup holds the container (and nothing else that burns).
    assert!(
        (pod_rate as f64 - summary_rate as f64).abs() <= 20e6,
        "pod {pod_rate} vs container {summary_rate}"
    );

    // metrics.k8s.io: the same window, so the same rate (one nanocore of float slack).
    let path = "/apis/metrics.k8s.io/v1beta1/namespaces/scrapeline-test/pods/burner";
    let (code, text) = metrics.handle(path, None, now).unwrap();
    assert_eq!(code, 200, "{text}");
    let pm: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(pm["containers"][0]["name"], "burn");
    let api_rate = nanocores(pm["containers"][0]["usage"]["cpu"].as_str().unwrap());
    assert!(
        api_rate.abs_diff(summary_rate) <= 1_000_000,
        "Metrics API {api_rate} vs Summary {summary_rate}"
    );
    let window_ms = (t1 - t0) as f64;
    let window = pm["window"].as_str().unwrap();
    let window_s: f64 = window.trim_end_matches('s').parse().unwrap();
    assert!(
        (window_s * 1000.0 - window_ms).abs() < 1.0,
        "{window} vs {window_ms} ms"
    );
    let nodes = metrics.handle("/apis/metrics.k8s.io/v1beta1/nodes/test-node", None, now);
    assert_eq!(nodes.map(|(c, _)| c), Some(200));

    drop(guard);
    for rel in &rels {
        for b in &bases {
            assert!(!b.join(rel.trim_start_matches('/')).exists());
        }
    }
}
