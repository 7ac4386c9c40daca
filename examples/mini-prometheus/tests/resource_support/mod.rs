//! Shared by the resource tests: the cgroup fixture trees of `crates/cgroup/tests/fixtures`
//! copied into a temporary directory with their creation times stamped, a `PodLookup` from
//! their `runtime.json`, and the previous collection of the spec's worked example.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use scrapeline_cgroup::path::CgroupKind;
use scrapeline_cgroup::{Collection, Collector, CollectorConfig, ContainerMeta, PodLookup};
use scrapeline_testkit::fs::{copy_tree, set_mtime};
use serde_json::Value;

/// 2026-01-01T00:00:00Z, the fixtures' collection time.
pub const T_MS: i64 = 1_767_225_600_000;
/// The spec's previous reading, 15.012 s earlier.
pub const PREV_MS: i64 = T_MS - 15_012;

/// Where the cgroup crate keeps the fixture trees (`SCRAPELINE_CGROUP_FIXTURES` overrides).
pub fn fixtures() -> PathBuf {
    if let Ok(p) = std::env::var("SCRAPELINE_CGROUP_FIXTURES") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/cgroup/tests/fixtures")
}

/// A `PodLookup` standing in for CRI, filled from `runtime.json`.
pub struct FixtureLookup {
    pods: HashMap<String, (String, String)>,
    containers: HashMap<(String, String), ContainerMeta>,
}

impl PodLookup for FixtureLookup {
    fn lookup(&self, pod_uid: &str, container_id: &str) -> Option<ContainerMeta> {
        if container_id.is_empty() {
            let (ns, name) = self.pods.get(pod_uid)?;
            return Some(ContainerMeta {
                namespace: ns.clone(),
                pod: name.clone(),
                ..ContainerMeta::default()
            });
        }
        self.containers
            .get(&(pod_uid.to_string(), container_id.to_string()))
            .cloned()
    }
}

fn lookup_from(rt: &Value) -> FixtureLookup {
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let pods = rt["pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (s(p, "uid"), (s(p, "namespace"), s(p, "name"))))
        .collect();
    let containers = rt["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let l = |k: &str| c["labels"][k].as_str().unwrap_or_default().to_owned();
            (
                (s(c, "pod_uid"), s(c, "id")),
                ContainerMeta {
                    namespace: l("io.kubernetes.pod.namespace"),
                    pod: l("io.kubernetes.pod.name"),
                    container: l("io.kubernetes.container.name"),
                    image: s(c, "image"),
                    name: None,
                    sandbox: s(c, "kind") == "sandbox",
                },
            )
        })
        .collect();
    FixtureLookup { pods, containers }
}

/// Copies a fixture tree into a tempdir, stamps creation times from `runtime.json` on every
/// hierarchy and collects it at [`T_MS`] with the fixture's metadata.
pub fn collect_fixture(name: &str) -> (tempfile::TempDir, Collection) {
    let src = fixtures().join(name);
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&src, tmp.path());
    let rt: Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("runtime.json")).unwrap()).unwrap();
    let cg = tmp.path().join("sys/fs/cgroup");
    let mut bases = vec![cg.clone()];
    for e in std::fs::read_dir(&cg).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() && e.file_name() != "kubepods.slice" {
            bases.push(e.path());
        }
    }
    for (path, t) in rt["cgroup_created_at_unix"].as_object().unwrap() {
        let t = t.as_i64().unwrap();
        for b in &bases {
            let d = b.join(path.trim_start_matches('/'));
            if !d.is_dir() {
                continue;
            }
            for marker in ["cgroup.events", "cgroup.clone_children"] {
                if d.join(marker).exists() {
                    set_mtime(&d.join(marker), t);
                }
            }
            set_mtime(&d, t);
        }
    }
    let collector = Collector::new(CollectorConfig::with_rootfs(tmp.path()))
        .unwrap()
        .with_pod_lookup(Arc::new(lookup_from(&rt)));
    let c = collector.collect(T_MS);
    assert_eq!(c.stats.files_unreadable, 0);
    assert_eq!(c.stats.parse_errors, 0);
    (tmp, c)
}

/// CPU the spec's §3.3 table says was used in the 15.012 s before [`T_MS`], per cgroup of
/// the v2 tree: node 5844105210 ns, nginx 2592105000, log-shipper 180180000; their parents
/// (the web pod, the burstable slice, `/kubepods.slice`) used the sum of the two
/// containers; everything else nothing.
fn v2_delta(c: &scrapeline_cgroup::ContainerStats) -> u64 {
    const NGINX: u64 = 2_592_105_000;
    const SHIPPER: u64 = 180_180_000;
    match (c.identity.kind, c.container.as_str(), c.pod.as_str()) {
        (CgroupKind::Root, _, _) => 5_844_105_210,
        (CgroupKind::Container, "nginx", _) => NGINX,
        (CgroupKind::Container, "log-shipper", _) => SHIPPER,
        (CgroupKind::Pod, _, "web-7d4b9c6f5-x2x8q") => NGINX + SHIPPER,
        (CgroupKind::Kubepods, _, _) => NGINX + SHIPPER,
        (CgroupKind::Qos, _, _) if c.id.contains("burstable") => NGINX + SHIPPER,
        _ => 0,
    }
}

/// The v2 collection as it was at [`PREV_MS`]: the same tree with less CPU used.
pub fn v2_previous(cur: &Collection) -> Collection {
    let mut prev = cur.clone();
    prev.timestamp_ms = PREV_MS;
    for c in &mut prev.containers {
        let d = v2_delta(c);
        if let Some(cpu) = &mut c.cpu {
            cpu.usage_ns -= d;
        }
    }
    prev
}

/// Parses a handler answer, checking the status.
pub fn body(answer: Option<(u16, String)>, status: u16) -> Value {
    let (code, text) = answer.expect("path is served");
    assert_eq!(code, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// The `metadata.name` of every item of a Kubernetes list, in order.
pub fn item_names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}
