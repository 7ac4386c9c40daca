//! The collector over the spec's fixture trees must print the expected exposition line for
//! line, and decode the 17 path cases.
//!
//! The trees are the team's cgroup spec fixtures, vendored in `tests/fixtures` (its README says
//! where they come from). Git keeps
//! no mtimes, so each test copies a tree into a temporary directory and sets the directory
//! and `cgroup.events` / `cgroup.clone_children` mtimes from `runtime.json`
//! `cgroup_created_at_unix`: the collector then derives start times the production way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use scrapeline_cgroup::layout::Mode;
use scrapeline_cgroup::path::{CgroupKind, Driver, QosClass, Runtime, decode};
use scrapeline_cgroup::{Collection, Collector, CollectorConfig, ContainerMeta, PodLookup};
use scrapeline_testkit::fs::{copy_tree, set_mtime};
use serde::Deserialize;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[derive(Deserialize)]
struct Runtime_ {
    collected_at_unix: i64,
    pods: Vec<Pod>,
    containers: Vec<Ctr>,
    cgroup_created_at_unix: HashMap<String, i64>,
}

#[derive(Deserialize)]
struct Pod {
    uid: String,
    name: String,
    namespace: String,
}

#[derive(Deserialize)]
struct Ctr {
    id: String,
    kind: String,
    pod_uid: String,
    image: String,
    labels: HashMap<String, String>,
}

/// A [`PodLookup`] that stands in for CRI, filled from `runtime.json`.
struct FixtureLookup {
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

fn load_runtime(dir: &Path) -> Runtime_ {
    let s = std::fs::read_to_string(dir.join("runtime.json")).unwrap();
    serde_json::from_str(&s).unwrap()
}

fn lookup_from(rt: &Runtime_) -> FixtureLookup {
    let pods = rt
        .pods
        .iter()
        .map(|p| (p.uid.clone(), (p.namespace.clone(), p.name.clone())))
        .collect();
    let containers = rt
        .containers
        .iter()
        .map(|c| {
            let l = |k: &str| c.labels.get(k).cloned().unwrap_or_default();
            (
                (c.pod_uid.clone(), c.id.clone()),
                ContainerMeta {
                    namespace: l("io.kubernetes.pod.namespace"),
                    pod: l("io.kubernetes.pod.name"),
                    container: l("io.kubernetes.container.name"),
                    image: c.image.clone(),
                    name: None,
                    sandbox: c.kind == "sandbox",
                },
            )
        })
        .collect();
    FixtureLookup { pods, containers }
}

/// Copies a fixture tree into a tempdir and stamps creation times on every hierarchy.
fn prepare(name: &str) -> (tempfile::TempDir, Runtime_) {
    let src = fixtures().join(name);
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&src, tmp.path());
    let rt = load_runtime(&src);
    let cg = tmp.path().join("sys/fs/cgroup");
    // v2: the tree itself; v1: every hierarchy directory.
    let mut bases = vec![cg.clone()];
    for e in std::fs::read_dir(&cg).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() && e.file_name() != "kubepods.slice" {
            bases.push(e.path());
        }
    }
    for (path, t) in &rt.cgroup_created_at_unix {
        for b in &bases {
            let d = b.join(path.trim_start_matches('/'));
            if !d.is_dir() {
                continue;
            }
            for marker in ["cgroup.events", "cgroup.clone_children"] {
                if d.join(marker).exists() {
                    set_mtime(&d.join(marker), *t);
                }
            }
            set_mtime(&d, *t);
        }
    }
    (tmp, rt)
}

/// Keeps only the families of `expected` (a complete collector emits a few more).
fn filter_to(expected: &str, got: &str) -> String {
    let names: std::collections::HashSet<&str> = expected
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut out = String::new();
    for line in got.lines() {
        let name = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
            .unwrap_or(line);
        let name = name.split(['{', ' ']).next().unwrap_or_default();
        if names.contains(name) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn assert_lines_equal(expected: &str, got: &str) {
    let e: Vec<&str> = expected.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    for (i, (a, b)) in e.iter().zip(g.iter()).enumerate() {
        assert_eq!(a, b, "first difference at line {}", i + 1);
    }
    assert_eq!(e.len(), g.len(), "line counts differ");
    assert_eq!(expected, got);
}

fn run_fixture(name: &str, expected_file: &str, mode: Mode) {
    let (tmp, rt) = prepare(name);
    let lookup = Arc::new(lookup_from(&rt));
    let collector = Collector::new(CollectorConfig::with_rootfs(tmp.path()))
        .unwrap()
        .with_pod_lookup(lookup);
    assert_eq!(collector.layout().mode, mode);
    let c = collector.collect(rt.collected_at_unix * 1000);
    assert_eq!(c.stats.cgroups_vanished, 0);
    assert_eq!(c.stats.files_unreadable, 0);
    assert_eq!(c.stats.parse_errors, 0);
    assert!(!c.stats.list_failed);
    let mut text = String::new();
    c.encode_text(&mut text);
    assert!(text.contains("\n# TYPE container_scrape_error gauge\ncontainer_scrape_error 0\n"));
    let expected = std::fs::read_to_string(fixtures().join(expected_file)).unwrap();
    assert_lines_equal(&expected, &filter_to(&expected, &text));
}

#[test]
fn v2_systemd_containerd_matches_expected_exposition() {
    run_fixture("cgroup-v2-systemd", "expected-v2.prom", Mode::V2);
}

#[test]
fn v1_hybrid_cgroupfs_matches_expected_exposition() {
    run_fixture("cgroup-v1-cgroupfs", "expected-v1.prom", Mode::Hybrid);
}

#[test]
fn collector_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Collector>();
    assert_send_sync::<scrapeline_cgroup::Collection>();
}

#[test]
fn typed_stats_are_plain_fields() {
    let (tmp, rt) = prepare("cgroup-v2-systemd");
    let collector = Collector::new(CollectorConfig::with_rootfs(tmp.path()))
        .unwrap()
        .with_pod_lookup(Arc::new(lookup_from(&rt)));
    let c = collector.collect(rt.collected_at_unix * 1000);
    assert_eq!(c.stats.cgroups, 12);
    assert_eq!(c.timestamp_ms, 1_767_225_600_000);
    assert_eq!(c.machine.cpu_cores, 4);
    assert_eq!(c.machine.memory_bytes, 16_777_216_000);
    let nginx = c
        .get("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6a0c8b4e_5f3d_4c2a_9b1e_7f8d2c3a4b5c.slice/cri-containerd-c8f5e1519b0fc19da2bf5be2173582ff9e952e6712a9cb827a62c5067e22ad01.scope")
        .unwrap();
    assert_eq!(nginx.container, "nginx");
    assert_eq!(nginx.pod, "web-7d4b9c6f5-x2x8q");
    assert_eq!(nginx.namespace, "default");
    assert_eq!(nginx.identity.qos, Some(QosClass::Burstable));
    let cpu = nginx.cpu.unwrap();
    assert_eq!(cpu.usage_ns, 183_456_789_000);
    assert_eq!(cpu.cfs.unwrap().throttled_periods, 1234);
    let mem = nginx.memory.unwrap();
    assert_eq!(mem.usage_bytes, 63_438_848);
    assert_eq!(mem.working_set_bytes, 50_855_936);
    assert_eq!(mem.rss_bytes, 41_943_040);
    assert_eq!(mem.pgfault, 1_234_567);
    assert_eq!(mem.pgmajfault, 89);
    assert_eq!(nginx.spec.memory_limit_bytes, Some(268_435_456));
    assert_eq!(nginx.spec.cpu_shares, Some(893));
    assert_eq!(nginx.start_time_unix, 1_767_210_000);
    assert!(nginx.network.is_empty());
    let sandbox = c
        .get("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6a0c8b4e_5f3d_4c2a_9b1e_7f8d2c3a4b5c.slice/cri-containerd-a1fc088114547458be2911f04025393afcf038a1e932d60d99920098fdf982b0.scope")
        .unwrap();
    assert_eq!(sandbox.network.len(), 1);
    assert_eq!(sandbox.network[0].name, "eth0");
    assert_eq!(sandbox.network[0].rx_bytes, 987_654_321);
    let root = c.get("/").unwrap();
    assert_eq!(root.start_time_unix, 1_765_990_980);
    assert_eq!(root.memory.unwrap().usage_bytes, 8_469_131_264);
}

#[test]
fn without_lookup_ids_and_names_still_come_from_paths() {
    let (tmp, rt) = prepare("cgroup-v1-cgroupfs");
    let collector = Collector::new(CollectorConfig::with_rootfs(tmp.path())).unwrap();
    let c = collector.collect(rt.collected_at_unix * 1000);
    let id = "/kubepods/burstable/pod0f3c9a4e8b7d6c5a4f3e2d1c0b9a8f7e/767a5a2d501af321bf138a7cdf711fb7cc75efc29840e25b8e022c76ad520594";
    let x = c.get(id).unwrap();
    assert_eq!(
        x.name,
        "767a5a2d501af321bf138a7cdf711fb7cc75efc29840e25b8e022c76ad520594"
    );
    assert_eq!(x.pod, "");
    assert_eq!(x.container, "");
    assert_eq!(
        x.identity.pod_uid.as_deref(),
        Some("0f3c9a4e8b7d6c5a4f3e2d1c0b9a8f7e")
    );
    // No metadata and no `pause` comm file: no container is taken for a sandbox.
    assert!(
        c.containers
            .iter()
            .all(|x| x.id == "/" || x.network.is_empty())
    );
}

#[test]
fn vanished_cgroup_unreadable_file_and_unknown_keys_are_skipped_and_counted() {
    let (tmp, rt) = prepare("cgroup-v2-systemd");
    let cg = tmp.path().join("sys/fs/cgroup/kubepods.slice");
    // A malformed memory.current and unknown io.stat keys in the BestEffort slice.
    std::fs::write(
        cg.join("kubepods-besteffort.slice/io.stat"),
        "259:0 rbytes=1 wbytes=2 rios=3 wios=4 frob=9 zap=1\n",
    )
    .unwrap();
    std::fs::write(
        cg.join("kubepods-besteffort.slice/memory.current"),
        "garbage\n",
    )
    .unwrap();
    // A file that exists but cannot be read: a symlink to a directory (EISDIR; a mode-000
    // file would not do, the tests may run as root).
    let guaranteed = cg.join("kubepods-pod9f1e2d3c_4b5a_4968_8776_5a4b3c2d1e0f.slice");
    std::fs::remove_file(guaranteed.join("memory.peak")).unwrap();
    std::os::unix::fs::symlink(".", guaranteed.join("memory.peak")).unwrap();
    let collector = Collector::new(CollectorConfig::with_rootfs(tmp.path())).unwrap();
    // A cgroup whose files are gone while its name is still listed: remove every file of
    // a container scope and the scope itself between two collections.
    let first = collector.collect(rt.collected_at_unix * 1000);
    assert_eq!(first.stats.cgroups, 12);
    assert_eq!(first.stats.unknown_keys, 2);
    assert_eq!(first.stats.parse_errors, 1);
    assert_eq!(first.stats.files_unreadable, 1);
    let be = first
        .get("/kubepods.slice/kubepods-besteffort.slice")
        .unwrap();
    assert_eq!(be.disk_io.len(), 1);
    assert_eq!(be.disk_io[0].read_bytes, 1);
    assert_eq!(be.disk_io[0].device, "/dev/nvme0n1");
    // memory.current unparsable → emulated as anon + file (0 here) rather than failing.
    assert_eq!(be.memory.unwrap().usage_bytes, 0);

    let scope = guaranteed.join(
        "cri-containerd-8b016db0ad44bae3e26522cebb9735ccd24ab7f68f205bd71cdd67cb98e02c98.scope",
    );
    std::fs::remove_dir_all(&scope).unwrap();
    let second = collector.collect(rt.collected_at_unix * 1000);
    assert_eq!(second.stats.cgroups, 11);
    let mut text = String::new();
    second.encode_text(&mut text);
    assert!(!text.contains("8b016db0ad44"));
}

#[test]
fn vanishing_between_listing_and_reading_is_counted() {
    // Simulated with a root whose container exists only as an empty directory: every
    // stat file is missing, as when the kernel removed the cgroup after it was listed.
    let (tmp, rt) = prepare("cgroup-v2-systemd");
    let cg = tmp.path().join("sys/fs/cgroup/kubepods.slice");
    let c = Collector::new(CollectorConfig::with_rootfs(tmp.path())).unwrap();
    let ghost = cg.join("kubepods-besteffort.slice");
    for e in std::fs::read_dir(&ghost).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    // An empty directory is still a cgroup that exists: it is reported with what it has.
    let col = c.collect(rt.collected_at_unix * 1000);
    assert_eq!(col.stats.cgroups, 12);
    assert_eq!(col.stats.cgroups_vanished, 0);
    std::fs::remove_dir(&ghost).unwrap();
    let col = c.collect(rt.collected_at_unix * 1000);
    assert_eq!(col.stats.cgroups, 11);
}

#[test]
fn missing_cgroup_tree_sets_scrape_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("proc/self")).unwrap();
    std::fs::write(
        tmp.path().join("proc/self/mountinfo"),
        "33 24 0:28 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
    )
    .unwrap();
    let c = Collector::new(CollectorConfig::with_rootfs(tmp.path())).unwrap();
    let col = c.collect(0);
    assert!(col.stats.list_failed);
    assert_eq!(col.containers.len(), 0);
    assert_eq!(col.stats.cgroups_vanished, 1);
    let mut text = String::new();
    col.encode_text(&mut text);
    assert!(text.contains("\ncontainer_scrape_error 1\n"));

    std::fs::write(
        tmp.path().join("proc/self/mountinfo"),
        "1 1 8:1 / / rw - ext4 /dev/sda rw\n",
    )
    .unwrap();
    let err = Collector::new(CollectorConfig::with_rootfs(tmp.path())).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no cgroup mounts found in {}",
            tmp.path().join("proc/self/mountinfo").display()
        )
    );
}

#[derive(Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    path: String,
    expect: Expect,
}

#[derive(Deserialize)]
struct Expect {
    driver: Option<String>,
    kind: String,
    qos: Option<String>,
    pod_uid: Option<String>,
    runtime: Option<String>,
    container_id: Option<String>,
}

#[test]
fn the_17_path_cases() {
    let s = std::fs::read_to_string(fixtures().join("path-cases.json")).unwrap();
    let cases: Cases = serde_json::from_str(&s).unwrap();
    assert_eq!(cases.cases.len(), 17);
    for c in &cases.cases {
        let id = decode(&c.path);
        let driver = id.driver.map(|d| match d {
            Driver::Cgroupfs => "cgroupfs",
            Driver::Systemd => "systemd",
        });
        let kind = match id.kind {
            CgroupKind::Root => "root",
            CgroupKind::Other => "other",
            CgroupKind::Kubepods => "kubepods",
            CgroupKind::Qos => "qos",
            CgroupKind::Pod => "pod",
            CgroupKind::Container => "container",
            CgroupKind::Conmon => "conmon",
            CgroupKind::ContainerSubcgroup => "container-subcgroup",
            CgroupKind::UnknownKubepods => "unknown-kubepods",
        };
        assert_eq!(driver, c.expect.driver.as_deref(), "{}: driver", c.name);
        assert_eq!(kind, c.expect.kind, "{}: kind", c.name);
        assert_eq!(
            id.qos.map(QosClass::as_str),
            c.expect.qos.as_deref(),
            "{}: qos",
            c.name
        );
        assert_eq!(id.pod_uid, c.expect.pod_uid, "{}: pod uid", c.name);
        assert_eq!(
            id.runtime.map(Runtime::as_str),
            c.expect.runtime.as_deref(),
            "{}: runtime",
            c.name
        );
        assert_eq!(
            id.container_id, c.expect.container_id,
            "{}: container id",
            c.name
        );
    }
}

#[test]
fn limits_are_reread_after_five_seconds_like_cadvisor_spec() {
    let (tmp, rt) = prepare("cgroup-v2-systemd");
    let id = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6a0c8b4e_5f3d_4c2a_9b1e_7f8d2c3a4b5c.slice/cri-containerd-c8f5e1519b0fc19da2bf5be2173582ff9e952e6712a9cb827a62c5067e22ad01.scope";
    let dir = tmp.path().join("sys/fs/cgroup").join(&id[1..]);
    let collector = Collector::new(CollectorConfig::with_rootfs(tmp.path())).unwrap();
    let t0 = rt.collected_at_unix * 1000;
    let limit = |ms: i64| {
        collector
            .collect(ms)
            .get(id)
            .unwrap()
            .spec
            .memory_limit_bytes
    };
    assert_eq!(limit(t0), Some(268_435_456));
    std::fs::write(dir.join("memory.max"), "536870912\n").unwrap();
    std::fs::write(dir.join("memory.current"), "1000\n").unwrap();
    let c = collector.collect(t0 + 4_999);
    let x = c.get(id).unwrap();
    // Stats are read every time; limits are kept for 5 s.
    assert_eq!(x.memory.unwrap().usage_bytes, 1000);
    assert_eq!(x.spec.memory_limit_bytes, Some(268_435_456));
    assert_eq!(limit(t0 + 5_000), Some(536_870_912));
    // Start times are computed once.
    assert_eq!(
        collector
            .collect(t0 + 6_000)
            .get(id)
            .unwrap()
            .start_time_unix,
        1_767_210_000
    );
}

const APP_V2: &str = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6a0c8b4e_5f3d_4c2a_9b1e_7f8d2c3a4b5c.slice/cri-containerd-c8f5e1519b0fc19da2bf5be2173582ff9e952e6712a9cb827a62c5067e22ad01.scope";

/// The lines of family `name` (HELP, TYPE and samples) in `text`, in order.
fn family_lines<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| {
            let n = l
                .strip_prefix("# HELP ")
                .or_else(|| l.strip_prefix("# TYPE "))
                .unwrap_or(l);
            n.split(['{', ' ']).next() == Some(name)
        })
        .collect()
}

/// The `{...}` label block of the `container_last_seen` row of cgroup `id` in the expected
/// file.
fn labels_of(expected: &str, id: &str) -> String {
    let needle = format!("id=\"{id}\"");
    let line = expected
        .lines()
        .find(|l| l.starts_with("container_last_seen{") && l.contains(&needle))
        .unwrap();
    let start = line.find('{').unwrap();
    let end = line.find('}').unwrap();
    line[start..=end].to_string()
}

#[test]
fn oom_events_are_emitted_for_every_cgroup_when_a_source_is_set() {
    let (tmp, rt) = prepare("cgroup-v2-systemd");
    let counts = Arc::new(scrapeline_cgroup::OomCounter::default());
    counts.record(APP_V2);
    counts.record(APP_V2);
    counts.record("/system.slice/not-reported.service");
    let collector = Collector::new(CollectorConfig::with_rootfs(tmp.path()))
        .unwrap()
        .with_pod_lookup(Arc::new(lookup_from(&rt)))
        .with_oom_counts(counts);
    let c = collector.collect(rt.collected_at_unix * 1000);
    assert_eq!(c.get(APP_V2).unwrap().oom_events, Some(2));
    assert_eq!(c.get("/").unwrap().oom_events, Some(0));
    let mut text = String::new();
    c.encode_text(&mut text);

    // One row per reported cgroup, in the order of every base-label-only family
    // (container_last_seen), value 0 except the app container's 2, with the timestamp.
    let expected = std::fs::read_to_string(fixtures().join("expected-v2.prom")).unwrap();
    let mut want = vec![
        "# HELP container_oom_events_total Count of out of memory events observed for the container".to_string(),
        "# TYPE container_oom_events_total counter".to_string(),
    ];
    for l in expected
        .lines()
        .filter(|l| l.starts_with("container_last_seen{"))
    {
        let labels = &l[l.find('{').unwrap()..=l.find('}').unwrap()];
        let v = if labels.contains(APP_V2) { "2" } else { "0" };
        want.push(format!(
            "container_oom_events_total{labels} {v} {}",
            rt.collected_at_unix * 1000
        ));
    }
    assert_eq!(want.len(), 2 + 12);
    assert_eq!(family_lines(&text, "container_oom_events_total"), want);
    // In the kubelet's (name) order: after the network families, before pressure.
    let at = |s: &str| text.find(s).unwrap();
    assert!(
        at("# HELP container_network_transmit_packets_total ")
            < at("# HELP container_oom_events_total ")
    );
    assert!(
        at("# HELP container_oom_events_total ")
            < at("# HELP container_pressure_cpu_stalled_seconds_total ")
    );
    // The families of the expected file are unchanged.
    assert_lines_equal(&expected, &filter_to(&expected, &text));
}

#[test]
fn without_an_oom_source_there_is_no_oom_family() {
    let (tmp, rt) = prepare("cgroup-v2-systemd");
    let collector = Collector::new(CollectorConfig::with_rootfs(tmp.path())).unwrap();
    let c = collector.collect(rt.collected_at_unix * 1000);
    assert_eq!(c.get("/").unwrap().oom_events, None);
    let mut text = String::new();
    c.encode_text(&mut text);
    assert!(!text.contains("container_oom_events_total"));
}

#[test]
fn pressure_families_come_from_v2_pressure_files() {
    let (tmp, rt) = prepare("cgroup-v2-systemd");
    let collector = Collector::new(CollectorConfig::with_rootfs(tmp.path()))
        .unwrap()
        .with_pod_lookup(Arc::new(lookup_from(&rt)));
    let c = collector.collect(rt.collected_at_unix * 1000);
    let p = c.get("/").unwrap().pressure.unwrap();
    assert_eq!(
        p.cpu,
        Some(scrapeline_cgroup::Psi {
            some_total_us: 123456789,
            full_total_us: 98765432
        })
    );
    let mut text = String::new();
    c.encode_text(&mut text);
    let expected = std::fs::read_to_string(fixtures().join("expected-v2.prom")).unwrap();
    let ts = rt.collected_at_unix * 1000;
    let root = labels_of(&expected, "/");
    let app = labels_of(&expected, APP_V2);
    for (family, root_v, app_v) in [
        (
            "container_pressure_cpu_stalled_seconds_total",
            "98.765432",
            "8.765432",
        ),
        (
            "container_pressure_cpu_waiting_seconds_total",
            "123.456789",
            "9.876543",
        ),
        (
            "container_pressure_io_stalled_seconds_total",
            "2.345678",
            "0.012345",
        ),
        (
            "container_pressure_io_waiting_seconds_total",
            "3.456789",
            "0.023456",
        ),
        (
            "container_pressure_memory_stalled_seconds_total",
            "0.023456",
            "0.000567",
        ),
        (
            "container_pressure_memory_waiting_seconds_total",
            "0.045678",
            "0.001234",
        ),
    ] {
        let lines = family_lines(&text, family);
        assert_eq!(
            lines.get(1).copied(),
            Some(format!("# TYPE {family} counter").as_str())
        );
        let root_line = format!("{family}{root} {root_v} {ts}");
        let app_line = format!("{family}{app} {app_v} {ts}");
        assert!(
            lines.contains(&root_line.as_str()),
            "{root_line}\n{lines:#?}"
        );
        assert!(lines.contains(&app_line.as_str()), "{app_line}\n{lines:#?}");
    }
    assert!(text.contains("# HELP container_pressure_io_waiting_seconds_total Total time duration tasks in the container have waited due to IO congestion.\n"));
    // A cgroup without pressure files has no pressure rows.
    for c in &c.containers {
        let has = family_lines(&text, "container_pressure_cpu_waiting_seconds_total")
            .iter()
            .any(|l| l.contains(&format!("id=\"{}\"", c.id)));
        assert_eq!(has, c.pressure.and_then(|p| p.cpu).is_some(), "{}", c.id);
    }

    // Turned off: not read, not emitted, everything else identical.
    let mut config = CollectorConfig::with_rootfs(tmp.path());
    config.pressure = false;
    let off = Collector::new(config)
        .unwrap()
        .with_pod_lookup(Arc::new(lookup_from(&rt)))
        .collect(ts);
    assert!(off.containers.iter().all(|c| c.pressure.is_none()));
    let mut text_off = String::new();
    off.encode_text(&mut text_off);
    assert!(!text_off.contains("container_pressure_"));
    let without: String = text
        .lines()
        .filter(|l| !l.contains("container_pressure_"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(without, text_off);
}

#[test]
fn v1_has_no_pressure_families() {
    let (tmp, rt) = prepare("cgroup-v1-cgroupfs");
    let c = Collector::new(CollectorConfig::with_rootfs(tmp.path()))
        .unwrap()
        .collect(rt.collected_at_unix * 1000);
    assert!(c.containers.iter().all(|c| c.pressure.is_none()));
    let mut text = String::new();
    c.encode_text(&mut text);
    assert!(!text.contains("container_pressure_"));
}

#[test]
fn steady_state_collections_read_the_same_values() {
    // The second collection within 5 s reuses limits, pids.max and the v1 blkio file group
    // found by the first: every value must be the same.
    for name in ["cgroup-v1-cgroupfs", "cgroup-v2-systemd"] {
        let (tmp, rt) = prepare(name);
        let collector = Collector::new(CollectorConfig::with_rootfs(tmp.path()))
            .unwrap()
            .with_pod_lookup(Arc::new(lookup_from(&rt)));
        let t = rt.collected_at_unix * 1000;
        let a = collector.collect(t);
        let b = collector.collect(t);
        assert_eq!(a, b, "{name}");
        assert!(a.containers.iter().any(|c| !c.disk_io.is_empty()), "{name}");
        if name.contains("v2") {
            // (the v1 fixture's pids.max are all "max")
            assert!(
                a.containers
                    .iter()
                    .any(|c| c.processes.is_some_and(|p| p.threads_max == 4096)),
                "{name}"
            );
        }
        // After 5 s everything is read again, still the same.
        let c = collector.collect(t + 5_000);
        assert_eq!(a.containers, c.containers, "{name}");
    }
}

#[test]
fn kept_open_files_give_the_same_values_and_see_changes() {
    for name in ["cgroup-v1-cgroupfs", "cgroup-v2-systemd"] {
        let (tmp, rt) = prepare(name);
        let lookup = Arc::new(lookup_from(&rt));
        // Every file opened, read and closed each time (the default keeps them open as far
        // as RLIMIT_NOFILE allows).
        let plain = Collector::new(CollectorConfig {
            open_files: 0,
            ..CollectorConfig::with_rootfs(tmp.path())
        })
        .unwrap()
        .with_pod_lookup(lookup.clone());
        let mut config = CollectorConfig::with_rootfs(tmp.path());
        config.open_files = 100_000;
        let kept = Collector::new(config)
            .unwrap()
            .with_pod_lookup(lookup.clone());
        let t = rt.collected_at_unix * 1000;
        let want = plain.collect(t);
        assert_eq!(kept.collect(t), want, "{name}: first collection");
        assert_eq!(kept.collect(t), want, "{name}: from kept files");

        // A value rewritten in place is seen through the kept descriptor.
        let (file, id) = if name.contains("v2") {
            ("sys/fs/cgroup".to_string(), APP_V2.to_string())
        } else {
            (
                "sys/fs/cgroup/cpu,cpuacct".to_string(),
                "/kubepods".to_string(),
            )
        };
        let usage_file = if name.contains("v2") {
            "cpu.stat"
        } else {
            "cpuacct.usage"
        };
        let path = tmp
            .path()
            .join(&file)
            .join(id.trim_start_matches('/'))
            .join(usage_file);
        let before = kept.collect(t).get(&id).unwrap().cpu.unwrap().usage_ns;
        let new_content = if name.contains("v2") {
            "usage_usec 999999999\nuser_usec 1\nsystem_usec 2\n".to_string()
        } else {
            "999999999000\n".to_string()
        };
        std::fs::write(&path, new_content).unwrap();
        let after = kept.collect(t).get(&id).unwrap().cpu.unwrap().usage_ns;
        assert_ne!(before, after, "{name}");
        assert_eq!(after, 999_999_999_000, "{name}");
    }

    // A removed cgroup disappears although its files were kept open.
    let (tmp, rt) = prepare("cgroup-v2-systemd");
    let mut config = CollectorConfig::with_rootfs(tmp.path());
    config.open_files = 100_000;
    let kept = Collector::new(config).unwrap();
    let t = rt.collected_at_unix * 1000;
    assert!(kept.collect(t).get(APP_V2).is_some());
    std::fs::remove_dir_all(
        tmp.path()
            .join("sys/fs/cgroup")
            .join(APP_V2.trim_start_matches('/')),
    )
    .unwrap();
    let c = kept.collect(t);
    assert!(c.get(APP_V2).is_none());
    assert_eq!(c.stats.files_unreadable, 0);
}

#[test]
fn collect_into_a_reused_collection_equals_collect() {
    for name in ["cgroup-v1-cgroupfs", "cgroup-v2-systemd"] {
        let (tmp, rt) = prepare(name);
        let collector = Collector::new(CollectorConfig::with_rootfs(tmp.path()))
            .unwrap()
            .with_pod_lookup(Arc::new(lookup_from(&rt)));
        let t = rt.collected_at_unix * 1000;
        let mut reused = Collection::default();
        collector.collect_into(t, &mut reused);
        assert_eq!(reused, collector.collect(t), "{name}: into an empty one");
        collector.collect_into(t, &mut reused);
        assert_eq!(reused, collector.collect(t), "{name}: into the last one");
        // Whatever the entries held before is replaced, never merged.
        let mut dirty = collector.collect(t);
        for (i, c) in dirty.containers.iter_mut().enumerate() {
            c.name = format!("stale-{i}");
            c.namespace.push_str("-stale");
            c.disk_io.push(scrapeline_cgroup::DiskIo {
                device: "/dev/stale".into(),
                ..Default::default()
            });
            c.disk_io.push(scrapeline_cgroup::DiskIo::default());
            c.network.push(scrapeline_cgroup::InterfaceStats {
                name: "stale0".into(),
                ..Default::default()
            });
            c.cpu = None;
            c.oom_events = Some(7);
        }
        dirty.containers.insert(1, dirty.containers[1].clone());
        dirty.containers[1].id.push_str("-not-a-cgroup");
        collector.collect_into(t, &mut dirty);
        assert_eq!(dirty, collector.collect(t), "{name}: into a dirty one");
    }
    // A cgroup removed since: gone from the reused collection too.
    let (tmp, rt) = prepare("cgroup-v2-systemd");
    let collector = Collector::new(CollectorConfig::with_rootfs(tmp.path())).unwrap();
    let t = rt.collected_at_unix * 1000;
    let mut reused = collector.collect(t);
    assert!(reused.get(APP_V2).is_some());
    std::fs::remove_dir_all(
        tmp.path()
            .join("sys/fs/cgroup")
            .join(APP_V2.trim_start_matches('/')),
    )
    .unwrap();
    collector.collect_into(t, &mut reused);
    assert!(reused.get(APP_V2).is_none());
    assert_eq!(reused, collector.collect(t));
}

/// A lookup that answers only through `lookup_into` (copying into the caller's strings).
struct IntoOnly(FixtureLookup);

impl PodLookup for IntoOnly {
    fn lookup(&self, _: &str, _: &str) -> Option<ContainerMeta> {
        None
    }

    fn lookup_into(&self, pod_uid: &str, container_id: &str, out: &mut ContainerMeta) -> bool {
        let Some(m) = self.0.lookup(pod_uid, container_id) else {
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

#[test]
fn the_collector_asks_lookup_into() {
    for name in ["cgroup-v1-cgroupfs", "cgroup-v2-systemd"] {
        let (tmp, rt) = prepare(name);
        let t = rt.collected_at_unix * 1000;
        let plain = Collector::new(CollectorConfig::with_rootfs(tmp.path()))
            .unwrap()
            .with_pod_lookup(Arc::new(lookup_from(&rt)));
        let into = Collector::new(CollectorConfig::with_rootfs(tmp.path()))
            .unwrap()
            .with_pod_lookup(Arc::new(IntoOnly(lookup_from(&rt))));
        let want = plain.collect(t);
        assert!(want.containers.iter().any(|c| !c.pod.is_empty()), "{name}");
        let mut got = into.collect(t);
        assert_eq!(got, want, "{name}");
        into.collect_into(t, &mut got);
        assert_eq!(got, want, "{name}: reused");
    }
}
