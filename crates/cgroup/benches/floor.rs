//! The system-call floor of one collection: only the system calls the collector needs on
//! the generated 1,000-container node of `benches/collect.rs`, with no parsing, next to the
//! real collector, all timed in CPU time (`CLOCK_THREAD_CPUTIME_ID`) of this thread.
//!
//! Modes (per layout, `v2_systemd` and `v1_hybrid`):
//!
//! * `list`: listing the cgroups (`getdents64` of every directory the collector walks).
//! * `open_read_close`: the listing, then per cgroup what the default collector does: one
//!   `O_PATH` open of each hierarchy directory, then `openat` + `read` + `close` of each
//!   file it reads in steady state (limits cached), plus `/proc/<pid>/net/dev` of the root and
//!   each sandbox, `/proc/meminfo` and `/proc/uptime`.
//! * `pread`: the listing, then one `pread(2)` per file on descriptors opened before the
//!   loop (what kept-open files cost at best, without any directory open), plus the same
//!   `/proc` reads.
//! * `pread_only`: the `pread(2)`s alone.
//! * `collect`, `collect_open_files`: the real collector, with the default configuration
//!   and with `CollectorConfig::open_files` = 100,000.
//!
//! Run: `cargo bench -p scrapeline-cgroup --bench floor` (arguments: any of `v2`, `v1`
//! and mode names to select; `FLOOR_ITERS` sets the rounds per mode, default 100;
//! `FLOOR_TREE=<dir>` keeps the generated trees for the next run;
//! `FLOOR_DUMP=<dir>` also writes the exposition of each collector variant there, to
//! compare the output of two builds byte for byte).

mod common;

use std::hint::black_box;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{NOW_MS, generate_or_reuse, thread_cpu_ns, v1_layout, v2_layout};
use rustix::fs::{Mode, OFlags};
use scrapeline_cgroup::path::{CgroupKind, decode};
use scrapeline_cgroup::{Collector, CollectorConfig};

/// Where the generated tree lives.
enum Tree {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Tree {
    fn path(&self) -> &Path {
        match self {
            Tree::Temp(t) => t.path(),
            Tree::Kept(p) => p,
        }
    }
}

/// What one collection touches, resolved once.
struct Plan {
    /// Directories whose entries are listed.
    walked: Vec<PathBuf>,
    /// Per cgroup and hierarchy: the directory and the files read in steady state.
    cgroups: Vec<Vec<(PathBuf, Vec<&'static str>)>>,
    /// Files read by path each collection (`/proc/<pid>/net/dev`, meminfo, uptime).
    by_path: Vec<PathBuf>,
}

fn is_leaf(rel: &str) -> bool {
    matches!(
        decode(rel).kind,
        CgroupKind::Container | CgroupKind::Conmon | CgroupKind::ContainerSubcgroup
    )
}

/// Lists `dir` (relative path `rel`) recursively as the collector does: containers are
/// leaves.
fn walk(dir: &Path, rel: &str, walked: &mut Vec<PathBuf>, found: &mut Vec<String>) {
    walked.push(dir.to_path_buf());
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    for n in names {
        let child = format!("{rel}/{n}");
        found.push(child.clone());
        if !is_leaf(&child) {
            walk(&dir.join(&n), &child, walked, found);
        }
    }
}

/// runc's first blkio file group with entries (the collector memoizes it).
fn blkio_files(dir: &Path) -> Vec<&'static str> {
    const GROUPS: [[&str; 3]; 5] = [
        [
            "blkio.bfq.sectors_recursive",
            "blkio.bfq.io_serviced_recursive",
            "blkio.bfq.io_service_bytes_recursive",
        ],
        [
            "blkio.bfq.io_serviced_recursive",
            "blkio.bfq.io_serviced_recursive",
            "blkio.bfq.io_service_bytes_recursive",
        ],
        [
            "blkio.sectors_recursive",
            "blkio.io_serviced_recursive",
            "blkio.io_service_bytes_recursive",
        ],
        [
            "blkio.throttle.io_serviced_recursive",
            "blkio.throttle.io_serviced_recursive",
            "blkio.throttle.io_service_bytes_recursive",
        ],
        [
            "blkio.throttle.io_serviced",
            "blkio.throttle.io_serviced",
            "blkio.throttle.io_service_bytes",
        ],
    ];
    for g in GROUPS {
        let has = std::fs::read_to_string(dir.join(g[0])).is_ok_and(|s| {
            s.lines()
                .any(|l| l.split_whitespace().next().is_some_and(|t| t.contains(':')))
        });
        if has {
            let mut v = vec![g[0]];
            if g[1] != g[0] {
                v.push(g[1]);
            }
            v.push(g[2]);
            return v;
        }
    }
    Vec::new()
}

fn plan(root: &Path, v2: bool, hierarchies: &[&str]) -> Plan {
    let cg = root.join("sys/fs/cgroup");
    let bases: Vec<PathBuf> = hierarchies.iter().map(|h| cg.join(h)).collect();
    let mut walked = Vec::new();
    let mut found = vec!["/".to_string()];
    for b in &bases {
        for r in ["kubepods", "kubepods.slice"] {
            let d = b.join(r);
            if d.is_dir() {
                found.push(format!("/{r}"));
                walk(&d, &format!("/{r}"), &mut walked, &mut found);
            }
        }
    }
    found.sort();
    found.dedup();
    let mut by_path = vec![root.join("proc/meminfo"), root.join("proc/uptime")];
    let mut cgroups = Vec::new();
    for id in &found {
        let is_root = id == "/";
        let mut per = Vec::new();
        for (h, b) in hierarchies.iter().zip(&bases) {
            let dir = b.join(id.trim_start_matches('/'));
            if !dir.is_dir() {
                continue;
            }
            let want: Vec<&'static str> = if v2 {
                let mut w = vec!["cpu.stat", "memory.stat", "memory.current"];
                w.push(if is_root {
                    "memory.swap.current"
                } else {
                    "memory.peak"
                });
                w.extend([
                    "cgroup.procs",
                    "pids.current",
                    "io.stat",
                    "cpu.pressure",
                    "memory.pressure",
                    "io.pressure",
                ]);
                w
            } else {
                match *h {
                    "cpu,cpuacct" => {
                        let quota = std::fs::read_to_string(dir.join("cpu.cfs_quota_us"))
                            .ok()
                            .and_then(|s| s.trim().parse::<i64>().ok())
                            .is_some_and(|q| q > 0);
                        let mut w = vec!["cgroup.procs"];
                        if quota {
                            w.push("cpu.stat");
                        }
                        w.extend(["cpuacct.usage", "cpuacct.stat"]);
                        w
                    }
                    "memory" => vec![
                        "memory.stat",
                        "memory.usage_in_bytes",
                        "memory.max_usage_in_bytes",
                        "memory.failcnt",
                    ],
                    "pids" if !is_root => vec!["pids.current"],
                    "blkio" => blkio_files(&dir),
                    _ => Vec::new(),
                }
            };
            let files = want.into_iter().filter(|f| dir.join(f).exists()).collect();
            per.push((dir, files));
        }
        // The root (pid 1) and every sandbox (the first pid of `cgroup.procs`).
        if let Some((dir, _)) = per.first() {
            let pid = if is_root {
                Some(1)
            } else {
                std::fs::read_to_string(dir.join("cgroup.procs"))
                    .ok()
                    .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
            };
            if let Some(pid) = pid {
                let p = root.join(format!("proc/{pid}/net/dev"));
                if p.exists() {
                    by_path.push(p);
                }
            }
        }
        cgroups.push(per);
    }
    Plan {
        walked,
        cgroups,
        by_path,
    }
}

fn list(p: &Plan) -> usize {
    let mut n = 0;
    for d in &p.walked {
        for e in std::fs::read_dir(d).unwrap() {
            n += usize::from(e.unwrap().file_type().unwrap().is_dir());
        }
    }
    n
}

/// `read(2)` until a short read, as the collector's reader does.
fn read_all(fd: &OwnedFd, buf: &mut [u8]) -> usize {
    let mut total = 0;
    loop {
        let n = rustix::io::read(fd, &mut *buf).unwrap();
        total += n;
        if n < buf.len() {
            return total;
        }
    }
}

fn read_path(p: &Path, buf: &mut [u8]) -> usize {
    let fd = rustix::fs::open(p, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).unwrap();
    read_all(&fd, buf)
}

fn open_read_close(p: &Plan, buf: &mut [u8]) -> usize {
    let mut n = list(p);
    for per in &p.cgroups {
        for (dir, files) in per {
            let d = rustix::fs::open(
                dir,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .unwrap();
            for f in files {
                let fd =
                    rustix::fs::openat(&d, *f, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                        .unwrap();
                n += read_all(&fd, buf);
            }
        }
    }
    for path in &p.by_path {
        n += read_path(path, buf);
    }
    n
}

fn open_all(p: &Plan) -> Vec<OwnedFd> {
    let mut fds = Vec::new();
    for per in &p.cgroups {
        for (dir, files) in per {
            for f in files {
                fds.push(
                    rustix::fs::open(dir.join(f), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                        .unwrap(),
                );
            }
        }
    }
    fds
}

fn pread_all(fds: &[OwnedFd], buf: &mut [u8]) -> usize {
    let mut n = 0;
    for fd in fds {
        n += rustix::io::pread(fd, &mut *buf, 0).unwrap();
    }
    n
}

/// Runs `f` `iters` times in 5 batches; returns the CPU ms per round of the fastest batch
/// and of all rounds together.
fn time(iters: usize, mut f: impl FnMut() -> usize) -> (f64, f64) {
    let per_batch = iters.div_ceil(5).max(1);
    let mut best = f64::INFINITY;
    let mut total = 0u64;
    black_box(f());
    for _ in 0..5 {
        let t0 = thread_cpu_ns();
        for _ in 0..per_batch {
            black_box(f());
        }
        let dt = thread_cpu_ns() - t0;
        total += dt;
        best = best.min(dt as f64 / per_batch as f64 / 1e6);
    }
    (best, total as f64 / (5 * per_batch) as f64 / 1e6)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let iters: usize = std::env::var("FLOOR_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let layouts: Vec<&str> = ["v2", "v1"]
        .into_iter()
        .filter(|l| !args.iter().any(|a| a == "v2" || a == "v1") || args.iter().any(|a| a == l))
        .collect();
    let modes = [
        "list",
        "open_read_close",
        "pread",
        "pread_only",
        "collect",
        "collect_open_files",
    ];
    let selected: Vec<&str> = modes
        .into_iter()
        .filter(|m| {
            !args.iter().any(|a| modes.contains(&a.as_str())) || args.iter().any(|a| a == m)
        })
        .collect();
    let mut buf = vec![0u8; 16384];
    for l in layouts {
        let (label, layout) = if l == "v2" {
            ("v2_systemd", v2_layout())
        } else {
            ("v1_hybrid", v1_layout())
        };
        // `FLOOR_TREE=<dir>` keeps the generated trees there between runs.
        let tmp = match std::env::var_os("FLOOR_TREE") {
            Some(d) => {
                let d = Path::new(&d).join(label);
                std::fs::create_dir_all(&d).unwrap();
                Tree::Kept(d)
            }
            None => Tree::Temp(tempfile::tempdir().unwrap()),
        };
        let lookup = Arc::new(generate_or_reuse(&layout, tmp.path()));
        let p = plan(tmp.path(), layout.v2, &layout.hierarchies);
        let files: usize = p.cgroups.iter().flatten().map(|(_, f)| f.len()).sum();
        let dirs: usize = p.cgroups.iter().map(Vec::len).sum();
        eprintln!(
            "{label}: {} cgroups, {dirs} cgroup directories, {files} cgroup files, {} files by path, {} directories listed",
            p.cgroups.len(),
            p.by_path.len(),
            p.walked.len()
        );
        // Opened for the `pread` modes only: the collector's kept files and these together
        // could pass RLIMIT_NOFILE.
        let mut fds = Vec::new();
        // `None`: the default configuration.
        let collector = |open_files: Option<usize>| {
            let mut config = CollectorConfig::with_rootfs(tmp.path());
            if let Some(n) = open_files {
                config.open_files = n;
            }
            Collector::new(config)
                .unwrap()
                .with_pod_lookup(lookup.clone())
        };
        if let Some(dir) = std::env::var_os("FLOOR_DUMP") {
            for (name, n) in [("default", None), ("open_files", Some(100_000))] {
                let c = collector(n);
                let mut text = String::new();
                for _ in 0..2 {
                    text.clear();
                    c.collect(NOW_MS).encode_text(&mut text);
                }
                let path = Path::new(&dir).join(format!("{label}_{name}.prom"));
                std::fs::write(&path, &text).unwrap();
                eprintln!("{label}: wrote {}", path.display());
            }
        }
        for m in &selected {
            if m.starts_with("pread") {
                if fds.is_empty() {
                    fds = open_all(&p);
                }
            } else {
                fds.clear();
            }
            let (best, avg) = match *m {
                "list" => time(iters, || list(&p)),
                "open_read_close" => time(iters, || open_read_close(&p, &mut buf)),
                "pread" => time(iters, || {
                    let mut n = list(&p) + pread_all(&fds, &mut buf);
                    for path in &p.by_path {
                        n += read_path(path, &mut buf);
                    }
                    n
                }),
                "pread_only" => time(iters, || pread_all(&fds, &mut buf)),
                "collect" => {
                    let c = collector(None);
                    time(iters, || c.collect(NOW_MS).containers.len())
                }
                "collect_open_files" => {
                    let c = collector(Some(100_000));
                    time(iters, || c.collect(NOW_MS).containers.len())
                }
                _ => continue,
            };
            eprintln!("{label} {m:<20} CPU per round: best batch {best:6.2} ms, all {avg:6.2} ms");
        }
    }
}
