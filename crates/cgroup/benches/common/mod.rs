//! The generated node shared by the cgroup benches: 1,000 containers (250 pods of a pause
//! sandbox and three app containers) in a temporary directory, every cgroup a copy of a real
//! cgroup of the spec fixtures, for cgroup v2 (systemd driver) and v1 hybrid (cgroupfs).

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use scrapeline_cgroup::{ContainerMeta, PodLookup};
use scrapeline_testkit::fs::copy_tree;

/// CPU time (user + system) this thread has used, in nanoseconds
/// (`CLOCK_THREAD_CPUTIME_ID`): on a shared machine, time other processes take from the
/// core is not counted.
pub fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

pub const PODS: usize = 250;
pub const APPS_PER_POD: usize = 3;
pub const NOW_MS: i64 = 1_767_225_600_000;

/// The spec fixtures (`SCRAPELINE_CGROUP_FIXTURES` overrides, for running a copied bench
/// binary elsewhere).
pub fn fixtures() -> PathBuf {
    std::env::var_os("SCRAPELINE_CGROUP_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
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

#[derive(Default)]
pub struct Lookup {
    pub pods: HashMap<String, (String, String)>,
    /// Pod UID → container id → metadata (no key built per lookup).
    pub containers: HashMap<String, HashMap<String, ContainerMeta>>,
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
        self.containers.get(pod_uid)?.get(container_id).cloned()
    }

    fn lookup_into(&self, pod_uid: &str, container_id: &str, out: &mut ContainerMeta) -> bool {
        if container_id.is_empty() {
            let Some((ns, pod)) = self.pods.get(pod_uid) else {
                return false;
            };
            out.namespace.clone_from(ns);
            out.pod.clone_from(pod);
            return true;
        }
        let Some(m) = self
            .containers
            .get(pod_uid)
            .and_then(|c| c.get(container_id))
        else {
            return false;
        };
        out.namespace.clone_from(&m.namespace);
        out.pod.clone_from(&m.pod);
        out.container.clone_from(&m.container);
        out.image.clone_from(&m.image);
        out.name.clone_from(&m.name);
        out.sandbox = m.sandbox;
        true
    }
}

pub struct Layout {
    pub v2: bool,
    /// Hierarchy directories relative to `sys/fs/cgroup` (`""` on v2).
    pub hierarchies: Vec<&'static str>,
    pub root: &'static str,
    pub kubepods: &'static str,
    pub qos: &'static str,
    pub pod: &'static str,
    pub sandbox: &'static str,
    pub app: &'static str,
    pub net_dev_pid: u32,
}

pub fn v2_layout() -> Layout {
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

pub fn v1_layout() -> Layout {
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
pub fn generate(l: &Layout, dir: &Path) -> Lookup {
    generate_in(l, dir, true)
}

/// [`generate`], or only the lookup when `dir` holds a tree generated before by this
/// function (marked by a `.generated` file): generating takes tens of seconds.
pub fn generate_or_reuse(l: &Layout, dir: &Path) -> Lookup {
    let done = dir.join(".generated");
    let write = !done.exists();
    let lookup = generate_in(l, dir, write);
    if write {
        std::fs::write(done, "").unwrap();
    }
    lookup
}

fn generate_in(l: &Layout, dir: &Path, write: bool) -> Lookup {
    let src = fixtures().join(l.root);
    let mut lookup = Lookup::default();
    let net_dev = src.join(format!("proc/{}/net/dev", l.net_dev_pid));
    if write {
        // Everything but the cgroup tree: proc, sys/block, etc.
        for top in ["proc", "etc"] {
            copy_tree(&src.join(top), &dir.join(top));
        }
        copy_tree(&src.join("sys/block"), &dir.join("sys/block"));
        for h in &l.hierarchies {
            let s = src.join("sys/fs/cgroup").join(h);
            let d = dir.join("sys/fs/cgroup").join(h);
            copy_files(&s, &d);
            copy_files(&s.join(l.kubepods), &d.join(l.kubepods));
        }
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
        if qos.is_empty() || !write {
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
            for h in l.hierarchies.iter().filter(|_| write) {
                let base = src.join("sys/fs/cgroup").join(h);
                let pd = dir.join("sys/fs/cgroup").join(h).join(&pod_rel);
                if k == 0 {
                    copy_files(&base.join(l.pod), &pd);
                }
                let cd = pd.join(&name);
                copy_files(&base.join(if sandbox { l.sandbox } else { l.app }), &cd);
                std::fs::write(cd.join("cgroup.procs"), format!("{pid}\n")).unwrap();
            }
            if sandbox && write {
                let nd = dir.join(format!("proc/{pid}/net"));
                std::fs::create_dir_all(&nd).unwrap();
                std::fs::copy(&net_dev, nd.join("dev")).unwrap();
            }
            lookup.containers.entry(uid.clone()).or_default().insert(
                cid.clone(),
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
