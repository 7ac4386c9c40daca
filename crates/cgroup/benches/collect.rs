//! One full collection over a generated node with 1,000 containers (250 pods of a sandbox
//! and three app containers), cgroup v2 (systemd driver) and v1 hybrid (cgroupfs driver).
//!
//! The trees are generated into a temporary directory from the spec fixtures' files, so
//! every cgroup has the files of a real one. Besides criterion's timings this prints, per
//! layout, the allocations of one collection and the net heap growth over 200 collections
//! (counted with `stats_alloc`).
//!
//! Run: `cargo bench -p scrapeline-cgroup --bench collect -- --warm-up-time 1 --measurement-time 3`

use std::alloc::System;
use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use scrapeline_cgroup::{Collection, Collector, CollectorConfig, ContainerMeta, PodLookup};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const PODS: usize = 250;
const APPS_PER_POD: usize = 3;
const NOW_MS: i64 = 1_767_225_600_000;

/// The spec fixtures (`SCRAPELINE_CGROUP_FIXTURES` overrides, for running a copied bench
/// binary elsewhere).
fn fixtures() -> PathBuf {
    std::env::var_os("SCRAPELINE_CGROUP_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
}

/// CPU time (user + system) this thread has used, in milliseconds (10 ms ticks).
fn thread_cpu_ms() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<u64> = rest
        .split_ascii_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) * 10
}

/// Copies the regular files of `from` (not subdirectories) into `to`.
fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

#[derive(Default)]
struct Lookup {
    pods: HashMap<String, (String, String)>,
    containers: HashMap<(String, String), ContainerMeta>,
}

impl PodLookup for Lookup {
    fn lookup(&self, pod_uid: &str, container_id: &str) -> Option<ContainerMeta> {
        if container_id.is_empty() {
            let (ns, pod) = self.pods.get(pod_uid)?;
            return Some(ContainerMeta {
                namespace: ns.clone(),
                pod: pod.clone(),
                ..ContainerMeta::default()
            });
        }
        self.containers
            .get(&(pod_uid.to_string(), container_id.to_string()))
            .cloned()
    }
}

struct Layout {
    v2: bool,
    /// Hierarchy directories relative to `sys/fs/cgroup` (`""` on v2).
    hierarchies: Vec<&'static str>,
    root: &'static str,
    kubepods: &'static str,
    qos: &'static str,
    pod: &'static str,
    sandbox: &'static str,
    app: &'static str,
    net_dev_pid: u32,
}

fn v2_layout() -> Layout {
    Layout {
        v2: true,
        hierarchies: vec![""],
        root: "cgroup-v2-systemd",
        kubepods: "kubepods.slice",
        qos: "kubepods.slice/kubepods-burstable.slice",
        pod: "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6a0c8b4e_5f3d_4c2a_9b1e_7f8d2c3a4b5c.slice",
        sandbox: "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6a0c8b4e_5f3d_4c2a_9b1e_7f8d2c3a4b5c.slice/cri-containerd-a1fc088114547458be2911f04025393afcf038a1e932d60d99920098fdf982b0.scope",
        app: "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6a0c8b4e_5f3d_4c2a_9b1e_7f8d2c3a4b5c.slice/cri-containerd-c8f5e1519b0fc19da2bf5be2173582ff9e952e6712a9cb827a62c5067e22ad01.scope",
        net_dev_pid: 3401,
    }
}

fn v1_layout() -> Layout {
    Layout {
        v2: false,
        hierarchies: vec!["blkio", "cpu,cpuacct", "memory", "pids"],
        root: "cgroup-v1-cgroupfs",
        kubepods: "kubepods",
        qos: "kubepods/burstable",
        pod: "kubepods/burstable/pod0f3c9a4e8b7d6c5a4f3e2d1c0b9a8f7e",
        sandbox: "kubepods/burstable/pod0f3c9a4e8b7d6c5a4f3e2d1c0b9a8f7e/785fe58880ac7fda3ee8f8fd1fa51096b9e93b541ba67096ec6223b712a9c222",
        app: "kubepods/burstable/pod0f3c9a4e8b7d6c5a4f3e2d1c0b9a8f7e/767a5a2d501af321bf138a7cdf711fb7cc75efc29840e25b8e022c76ad520594",
        net_dev_pid: 2650,
    }
}

/// Generates a node with `PODS` pods into `dir` and returns the metadata lookup.
fn generate(l: &Layout, dir: &Path) -> Lookup {
    let src = fixtures().join(l.root);
    // Everything but the cgroup tree: proc, sys/block, etc.
    for top in ["proc", "etc"] {
        copy_tree(&src.join(top), &dir.join(top));
    }
    copy_tree(&src.join("sys/block"), &dir.join("sys/block"));
    let mut lookup = Lookup::default();
    let net_dev = src.join(format!("proc/{}/net/dev", l.net_dev_pid));
    for h in &l.hierarchies {
        let s = src.join("sys/fs/cgroup").join(h);
        let d = dir.join("sys/fs/cgroup").join(h);
        copy_files(&s, &d);
        copy_files(&s.join(l.kubepods), &d.join(l.kubepods));
    }
    let qos_names: [(&str, &str); 3] = if l.v2 {
        [
            ("", "kubepods.slice/kubepods-pod{}.slice"),
            (
                "kubepods.slice/kubepods-burstable.slice",
                "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice",
            ),
            (
                "kubepods.slice/kubepods-besteffort.slice",
                "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice",
            ),
        ]
    } else {
        [
            ("", "kubepods/pod{}"),
            ("kubepods/burstable", "kubepods/burstable/pod{}"),
            ("kubepods/besteffort", "kubepods/besteffort/pod{}"),
        ]
    };
    for (qos, _) in &qos_names {
        if qos.is_empty() {
            continue;
        }
        for h in &l.hierarchies {
            let s = src.join("sys/fs/cgroup").join(h).join(l.qos);
            copy_files(&s, &dir.join("sys/fs/cgroup").join(h).join(qos));
        }
    }
    for p in 0..PODS {
        let uid = format!("{p:08x}-0000-4000-8000-{p:012x}");
        let (_, pattern) = qos_names[p % 3];
        let pod_rel = pattern.replace(
            "{}",
            &if l.v2 {
                uid.replace('-', "_")
            } else {
                uid.clone()
            },
        );
        lookup
            .pods
            .insert(uid.clone(), ("bench".to_string(), format!("pod-{p}")));
        for k in 0..=APPS_PER_POD {
            let cid = format!("{:064x}", p * 16 + k + 1);
            let name = if l.v2 {
                format!("cri-containerd-{cid}.scope")
            } else {
                cid.clone()
            };
            let sandbox = k == 0;
            let pid = 100_000 + p * 16 + k;
            for h in &l.hierarchies {
                let base = src.join("sys/fs/cgroup").join(h);
                let pd = dir.join("sys/fs/cgroup").join(h).join(&pod_rel);
                copy_files(&base.join(l.pod), &pd);
                let cd = pd.join(&name);
                copy_files(&base.join(if sandbox { l.sandbox } else { l.app }), &cd);
                std::fs::write(cd.join("cgroup.procs"), format!("{pid}\n")).unwrap();
            }
            if sandbox {
                let nd = dir.join(format!("proc/{pid}/net"));
                std::fs::create_dir_all(&nd).unwrap();
                std::fs::copy(&net_dev, nd.join("dev")).unwrap();
            }
            lookup.containers.insert(
                (uid.clone(), cid.clone()),
                ContainerMeta {
                    namespace: "bench".into(),
                    pod: format!("pod-{p}"),
                    container: if sandbox {
                        String::new()
                    } else {
                        format!("app-{k}")
                    },
                    image: if sandbox {
                        "registry.k8s.io/pause:3.10".into()
                    } else {
                        "docker.io/library/nginx:1.27.3".into()
                    },
                    name: None,
                    sandbox,
                },
            );
        }
    }
    lookup
}

fn report_allocations(label: &str, collector: &Collector) {
    let mut text = String::with_capacity(8 << 20);
    // Warm up (first-touch allocations of the allocator itself).
    let c = collector.collect(NOW_MS);
    c.encode_text(&mut text);
    drop(c);
    let region = Region::new(GLOBAL);
    let c = collector.collect(NOW_MS);
    let collect = region.change();
    text.clear();
    c.encode_text(&mut text);
    let both = region.change();
    let cgroups = c.stats.cgroups;
    let bytes = text.len();
    drop(c);
    let region = Region::new(GLOBAL);
    for _ in 0..200 {
        let c: Collection = collector.collect(NOW_MS);
        text.clear();
        c.encode_text(&mut text);
        black_box(&text);
    }
    let growth = region.change();
    let cpu0 = thread_cpu_ms();
    for _ in 0..50 {
        black_box(collector.collect(NOW_MS));
    }
    let collect_cpu_ms = (thread_cpu_ms() - cpu0) as f64 / 50.0;
    let cpu0 = thread_cpu_ms();
    let c = collector.collect(NOW_MS);
    for _ in 0..50 {
        text.clear();
        c.encode_text(&mut text);
        black_box(&text);
    }
    let encode_cpu_ms = (thread_cpu_ms() - cpu0) as f64 / 50.0;
    eprintln!(
        "{label}: CPU time (user+sys) per collect {collect_cpu_ms:.1} ms, per encode {encode_cpu_ms:.1} ms"
    );
    eprintln!(
        "{label}: {cgroups} cgroups, {bytes} bytes of text; collect: {} allocations / {} bytes; \
         collect+encode: {} allocations / {} bytes; net heap growth over 200 collect+encode: {} bytes",
        collect.allocations,
        collect.bytes_allocated,
        both.allocations,
        both.bytes_allocated,
        growth.bytes_allocated as i64 - growth.bytes_deallocated as i64,
    );
}

fn bench(c: &mut Criterion) {
    for (label, layout) in [("v2_systemd", v2_layout()), ("v1_hybrid", v1_layout())] {
        let tmp = tempfile::tempdir().unwrap();
        let lookup = Arc::new(generate(&layout, tmp.path()));
        // Variants: the default configuration; files kept open between collections
        // (`open_files`); on v2 also without the pressure files (the work of the collector
        // before `container_pressure_*` existed).
        let mut variants: Vec<(String, CollectorConfig)> = Vec::new();
        variants.push((label.to_string(), CollectorConfig::with_rootfs(tmp.path())));
        let mut kept = CollectorConfig::with_rootfs(tmp.path());
        kept.open_files = 100_000;
        variants.push((format!("{label}_open_files"), kept));
        if layout.v2 {
            let mut no_psi = CollectorConfig::with_rootfs(tmp.path());
            no_psi.pressure = false;
            variants.push((format!("{label}_no_pressure"), no_psi));
        }
        for (i, (name, config)) in variants.into_iter().enumerate() {
            let collector = Collector::new(config)
                .unwrap()
                .with_pod_lookup(lookup.clone());
            let probe = collector.collect(NOW_MS);
            assert_eq!(
                probe.stats.cgroups,
                (1 + 1 + 2 + PODS * (2 + APPS_PER_POD)) as u64
            );
            assert_eq!(probe.stats.parse_errors + probe.stats.files_unreadable, 0);
            report_allocations(&name, &collector);

            c.bench_function(&format!("collect_1000_containers_{name}"), |b| {
                b.iter(|| black_box(collector.collect(NOW_MS)))
            });
            if i == 0 {
                let collection = collector.collect(NOW_MS);
                let mut text = String::with_capacity(8 << 20);
                c.bench_function(&format!("encode_1000_containers_{name}"), |b| {
                    b.iter(|| {
                        text.clear();
                        collection.encode_text(&mut text);
                        black_box(text.len())
                    })
                });
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
