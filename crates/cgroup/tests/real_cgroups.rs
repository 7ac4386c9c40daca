//! The collector against this machine's own cgroups: create a Kubernetes-shaped cgroup,
//! start a process in it that burns CPU and holds memory, and check that the collector sees
//! both rise. Needs root and a writable cgroupfs; skips with a printed reason otherwise.
//! Everything created is removed again, also on failure (a `Drop` guard).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scrapeline_cgroup::layout::{Layout, Mode};
use scrapeline_cgroup::path::{CgroupKind, QosClass};
use scrapeline_cgroup::{Collector, CollectorConfig};

const BURNER_ENV: &str = "SCRAPELINE_CGROUP_BURNER";
const POD_UID: &str = "5c0a1e2b-3d4f-4a5b-8c6d-7e8f9a0b1c2d";
const CTR_ID: &str = "5c0a1e2b3d4f4a5b8c6d7e8f9a0b1c2d5c0a1e2b3d4f4a5b8c6d7e8f9a0b1c2d";
const HOLD_BYTES: usize = 64 << 20;

/// The child side: when started by the test with `BURNER_ENV` set, wait until moved into
/// the cgroup, then hold 64 MiB and burn CPU until killed (at most 20 s).
#[test]
#[ignore = "helper process for real_cgroup_cpu_and_memory_rise, not a test"]
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
    let held = vec![1u8; HOLD_BYTES];
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

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// The hierarchy directories to create the test cgroup in, or why the test cannot run.
fn hierarchies(layout: &Layout) -> Result<Vec<PathBuf>, String> {
    match layout.mode {
        Mode::V1 | Mode::Hybrid => {
            let mut out: Vec<PathBuf> = Vec::new();
            for c in ["cpu", "cpuacct", "memory", "pids", "blkio"] {
                let p = layout
                    .controller(c)
                    .ok_or_else(|| format!("controller {c} is not mounted"))?;
                if !out.iter().any(|x| x == p) {
                    out.push(p.to_path_buf());
                }
            }
            Ok(out)
        }
        Mode::V2 => {
            let root = layout
                .unified
                .clone()
                .ok_or("no unified mount".to_string())?;
            let sub = std::fs::read_to_string(root.join("cgroup.subtree_control"))
                .map_err(|e| e.to_string())?;
            if !(sub.contains("cpu") && sub.contains("memory")) {
                return Err("cgroup v2 root does not delegate cpu and memory".into());
            }
            Ok(vec![root])
        }
    }
}

fn write(path: &Path, s: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(s.as_bytes())
}

#[test]
fn real_cgroup_cpu_and_memory_rise() {
    if !is_root() {
        eprintln!("SKIP real_cgroup_cpu_and_memory_rise: not root");
        return;
    }
    let top = format!("/scrapeline-test-{}", std::process::id());
    let config = CollectorConfig {
        roots: vec![top.clone()],
        ..CollectorConfig::default()
    };
    let collector = match Collector::new(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIP real_cgroup_cpu_and_memory_rise: {e}");
            return;
        }
    };
    let bases = match hierarchies(collector.layout()) {
        Ok(b) => b,
        Err(why) => {
            eprintln!("SKIP real_cgroup_cpu_and_memory_rise: {why}");
            return;
        }
    };
    // A kubelet-shaped tree below a custom cgroup root (cgroupfs driver, BestEffort pod).
    let rels = [
        top.clone(),
        format!("{top}/kubepods"),
        format!("{top}/kubepods/besteffort"),
        format!("{top}/kubepods/besteffort/pod{POD_UID}"),
        format!("{top}/kubepods/besteffort/pod{POD_UID}/{CTR_ID}"),
    ];
    let ctr_rel = rels[4].clone();
    let pod_rel = rels[3].clone();
    let mut guard = Guard {
        children: Vec::new(),
        dirs: Vec::new(),
    };
    for rel in &rels {
        for b in &bases {
            let d = b.join(rel.trim_start_matches('/'));
            if let Err(e) = std::fs::create_dir(&d) {
                eprintln!(
                    "SKIP real_cgroup_cpu_and_memory_rise: cannot create {}: {e}",
                    d.display()
                );
                return;
            }
            guard.dirs.push(d);
        }
    }
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    };

    // The same collector keeping the cgroup files open (pread from offset 0 each time).
    let kept = Collector::new(CollectorConfig {
        roots: vec![top.clone()],
        open_files: 100_000,
        ..CollectorConfig::default()
    })
    .unwrap();
    let before = collector.collect(now_ms());
    let kept_before = kept.collect(now_ms());
    let k0 = kept_before.get(&ctr_rel).expect("container cgroup listed");
    assert_eq!(k0.processes.map(|p| p.processes), Some(0));
    let c0 = before.get(&ctr_rel).expect("container cgroup listed");
    assert_eq!(c0.identity.kind, CgroupKind::Container);
    assert_eq!(c0.identity.qos, Some(QosClass::BestEffort));
    assert_eq!(c0.identity.pod_uid.as_deref(), Some(POD_UID));
    assert_eq!(c0.name, CTR_ID);
    assert_eq!(c0.processes.map(|p| p.processes), Some(0));
    let cpu0 = c0.cpu.map(|c| c.usage_ns).unwrap_or(0);
    let mem0 = c0.memory.map(|m| m.usage_bytes).unwrap_or(0);
    assert!(
        mem0 < HOLD_BYTES as u64 / 4,
        "fresh cgroup uses {mem0} bytes"
    );

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

    // Wait until the child holds its memory (at most 30 s: a loaded CI machine can take a
    // while to fault 64 MiB in), then let it burn a little more.
    // (Collections every 100 ms: the default configuration keeps cgroup files open, and
    // on v1 a kept `cgroup.procs` would keep serving the empty pid list of its first read.)
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut mid;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        mid = collector.collect(now_ms());
        let rss = mid
            .get(&ctr_rel)
            .and_then(|c| c.memory)
            .map(|m| m.rss_bytes)
            .unwrap_or(0);
        if rss >= HOLD_BYTES as u64 || Instant::now() > deadline {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = collector.collect(now_ms());
    let kept_after = kept.collect(now_ms());

    let c1 = mid.get(&ctr_rel).unwrap();
    let c2 = after.get(&ctr_rel).unwrap();
    let m2 = c2.memory.unwrap();
    assert!(
        m2.rss_bytes >= HOLD_BYTES as u64,
        "rss {} < {HOLD_BYTES}",
        m2.rss_bytes
    );
    assert!(m2.usage_bytes >= m2.rss_bytes);
    assert!(m2.working_set_bytes >= HOLD_BYTES as u64);
    assert!(m2.usage_bytes > mem0 + HOLD_BYTES as u64 / 2);
    let cpu1 = c1.cpu.unwrap().usage_ns;
    let cpu2 = c2.cpu.unwrap().usage_ns;
    assert!(cpu1 > cpu0, "cpu did not rise: {cpu0} -> {cpu1}");
    assert!(cpu2 > cpu1, "cpu did not keep rising: {cpu1} -> {cpu2}");
    // A busy loop for ≥ 0.6 s gets at least 50 ms of CPU even on a crowded 2-core machine.
    assert!(cpu2 - cpu0 >= 50_000_000, "only {} ns of CPU", cpu2 - cpu0);
    let p2 = c2.processes.unwrap();
    assert_eq!(p2.processes, 1);
    assert!(p2.threads >= 1);
    // Parents are hierarchical: the pod cgroup holds at least its container.
    let pod = after.get(&pod_rel).unwrap();
    assert_eq!(pod.identity.kind, CgroupKind::Pod);
    assert!(pod.cpu.unwrap().usage_ns >= cpu2);
    assert!(pod.memory.unwrap().usage_bytes >= m2.rss_bytes);

    let mut text = String::new();
    after.encode_text(&mut text);
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("container_memory_rss{") && l.contains(&format!("id=\"{ctr_rel}\""))
        })
        .expect("rss series for the test container");
    assert!(line.contains(&format!("name=\"{CTR_ID}\"")), "{line}");
    assert!(
        line.ends_with(&format!(" {}", after.timestamp_ms)),
        "{line}"
    );
    // Read through kept descriptors: the same rise.
    let k2 = kept_after.get(&ctr_rel).unwrap();
    assert!(k2.memory.unwrap().rss_bytes >= HOLD_BYTES as u64);
    assert!(k2.cpu.unwrap().usage_ns > k0.cpu.map(|c| c.usage_ns).unwrap_or(0) + 50_000_000);
    assert_eq!(k2.processes.map(|p| p.processes), Some(1));

    drop(guard);
    for rel in &rels {
        for b in &bases {
            assert!(!b.join(rel.trim_start_matches('/')).exists());
        }
    }
    // Removed while their files were open: gone from the next collection, nothing failed.
    let gone = kept.collect(now_ms());
    assert!(gone.get(&ctr_rel).is_none());
    assert!(gone.get(&pod_rel).is_none());
    assert_eq!(gone.stats.files_unreadable, 0);
}
