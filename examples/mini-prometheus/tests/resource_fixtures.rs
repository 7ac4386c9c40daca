//! `/stats/summary` and `metrics.k8s.io` over the cgroup fixture trees, compared as JSON
//! against literals derived from the spec's numbers (the team's summary-API notes,
//! §1.3 and §3.3, after the kubelet's `stats` and metrics-server) and the fixture README's tables.
//!
//! Deviation from the spec's example kept visible here: container `startTime` is the
//! cgroup's creation time (nginx `19:40:00Z`), one second after the runtime's `created_at`
//! the spec shows (`19:39:59Z`), because the collector has no runtime record.

#[allow(dead_code, unused_imports)]
#[path = "../src/resource/mod.rs"]
mod resource;
mod resource_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use resource::{ResourceConfig, ResourceMetrics};
use resource_support::{T_MS, body, collect_fixture, v2_previous};
use serde_json::{Value, json};

const T: &str = "2026-01-01T00:00:00Z";
const WEB: &str = "web-7d4b9c6f5-x2x8q";
const COREDNS: &str = "coredns-6f6b679f8f-q2lzt";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(T_MS as u64 + 3_000)
}

/// Two observations of the v2 tree: the spec's previous readings, then the fixture.
fn v2_metrics() -> (tempfile::TempDir, ResourceMetrics) {
    let (tmp, cur) = collect_fixture("cgroup-v2-systemd");
    // Boot time as the kubelet computes it: collected_at − int(uptime 1234567.42).
    let mut config = ResourceConfig::new("node-v2", Duration::from_secs(15));
    config.boot_time_unix = Some(1_767_225_600 - 1_234_567);
    let mut m = ResourceMetrics::new(config);
    m.observe(v2_previous(&cur));
    m.observe(cur);
    (tmp, m)
}

fn cpu(nano_cores: u64, core_ns: u64) -> Value {
    json!({"time": T, "usageNanoCores": nano_cores, "usageCoreNanoSeconds": core_ns})
}

fn mem(available: Option<u64>, usage: u64, ws: u64, rss: u64, pf: u64, majpf: u64) -> Value {
    let mut m = json!({"time": T, "usageBytes": usage, "workingSetBytes": ws,
        "rssBytes": rss, "pageFaults": pf, "majorPageFaults": majpf});
    if let Some(a) = available {
        m["availableBytes"] = json!(a);
    }
    m
}

fn swap0() -> Value {
    json!({"time": T, "swapUsageBytes": 0})
}

fn iface(name: &str, rx: u64, tx: u64) -> Value {
    json!({"name": name, "rxBytes": rx, "rxErrors": 0, "txBytes": tx, "txErrors": 0})
}

fn net(rx: u64, tx: u64) -> Value {
    json!({"time": T, "name": "eth0", "rxBytes": rx, "rxErrors": 0, "txBytes": tx,
        "txErrors": 0, "interfaces": [iface("eth0", rx, tx)]})
}

fn expected_v2_full() -> Value {
    let mut node_net = json!({"time": T, "name": "eth0", "rxBytes": 98_765_432_109u64,
        "rxErrors": 0, "txBytes": 12_345_678_901u64, "txErrors": 0});
    node_net["interfaces"] = json!([
        iface("cni0", 1_133_333_222, 1_033_333_111),
        iface("eth0", 98_765_432_109, 12_345_678_901),
        iface("flannel.1", 22_334_455, 11_223_344),
    ]);
    json!({
        "node": {
            "nodeName": "node-v2",
            "systemContainers": [{
                "name": "pods",
                "startTime": "2025-12-17T17:04:07Z",
                // Δ 2772285000 ns (nginx + log-shipper) over 15.012 s.
                "cpu": cpu(184_671_262, 1_865_079_997_000),
                // memory.max 15703474176 − working set 119955456.
                "memory": mem(Some(15_583_518_720), 180_248_576, 119_955_456, 94_556_160, 2_220_683, 140),
                "swap": swap0()
            }],
            "startTime": "2025-12-17T17:03:53Z",
            "cpu": cpu(389_295_577, 498_765_432_109_000),
            "memory": mem(Some(12_535_943_168), 8_469_131_264, 4_241_272_832, 2_345_676_800, 989_875_004, 123_596),
            "network": node_net,
            "swap": {"time": T, "swapAvailableBytes": 0, "swapUsageBytes": 0}
        },
        "pods": [
            {
                "podRef": {"name": WEB, "namespace": "default", "uid": "6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c"},
                "startTime": "2025-12-31T16:53:20Z",
                "containers": [
                    {"name": "log-shipper", "startTime": "2025-12-31T16:53:25Z",
                     "cpu": cpu(12_002_398, 98_765_432_000),
                     "memory": mem(None, 79_167_488, 37_224_448, 25_165_824, 456_789, 12),
                     "swap": swap0()},
                    {"name": "nginx", "startTime": "2025-12-31T19:40:00Z",
                     "cpu": cpu(172_668_864, 183_456_789_000),
                     "memory": mem(Some(217_579_520), 63_438_848, 50_855_936, 41_943_040, 1_234_567, 89),
                     "swap": swap0()}
                ],
                "cpu": cpu(184_671_262, 287_263_455_000),
                "memory": mem(None, 143_863_808, 88_289_280, 67_198_976, 1_701_454, 104),
                "network": net(987_654_321, 123_456_789),
                "process_stats": {"process_count": 7},
                "swap": swap0()
            },
            {
                "podRef": {"name": COREDNS, "namespace": "kube-system", "uid": "9f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f"},
                "startTime": "2025-12-17T19:35:00Z",
                "containers": [
                    {"name": "config-reloader", "startTime": "2025-12-17T19:35:06Z",
                     "cpu": cpu(0, 1_234_567_000),
                     "memory": mem(Some(26_214_400), 7_864_320, 7_340_032, 6_291_456, 23_456, 1),
                     "swap": swap0()},
                    {"name": "coredns", "startTime": "2025-12-17T19:35:05Z",
                     "cpu": cpu(0, 76_543_210_000),
                     "memory": mem(Some(154_140_672), 26_214_400, 24_117_248, 20_971_520, 345_678, 5),
                     "swap": swap0()}
                ],
                "cpu": cpu(0, 77_816_542_000),
                "memory": mem(Some(180_146_176), 34_287_616, 31_666_176, 27_357_184, 369_229, 6),
                "network": net(45_678_901, 34_567_890),
                "process_stats": {"process_count": 3},
                "swap": swap0()
            }
        ]
    })
}

#[test]
fn v2_summary_matches_the_spec_example() {
    let (_tmp, m) = v2_metrics();
    let got = body(m.handle("/stats/summary", None, now()), 200);
    let want = expected_v2_full();
    assert_eq!(got["node"], want["node"]);
    assert_eq!(got["pods"][0], want["pods"][0]);
    assert_eq!(got, want);
}

#[test]
fn v2_summary_only_cpu_and_memory() {
    let (_tmp, m) = v2_metrics();
    let got = body(
        m.handle("/stats/summary", Some("only_cpu_and_memory=true"), now()),
        200,
    );
    let full = expected_v2_full();
    let strip = |c: &Value| json!({"name": c["name"], "startTime": c["startTime"], "cpu": c["cpu"], "memory": c["memory"]});
    let pods: Vec<Value> = full["pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            json!({
                "podRef": p["podRef"],
                "startTime": p["startTime"],
                "containers": p["containers"].as_array().unwrap().iter().map(strip).collect::<Vec<_>>(),
                "cpu": p["cpu"],
                "memory": p["memory"],
            })
        })
        .collect();
    let want = json!({
        "node": {
            "nodeName": "node-v2",
            "systemContainers": [strip(&full["node"]["systemContainers"][0])],
            // The root cgroup's start (boot time floored to the minute), as GetCPUAndMemoryStats.
            "startTime": "2025-12-17T17:03:00Z",
            "cpu": full["node"]["cpu"],
            "memory": full["node"]["memory"],
        },
        "pods": pods,
    });
    assert_eq!(got, want);
    // Anything but exactly one `true` is the full Summary.
    for q in [
        "only_cpu_and_memory=false",
        "only_cpu_and_memory=true&only_cpu_and_memory=true",
        "x=1",
    ] {
        let got = body(m.handle("/stats/summary", Some(q), now()), 200);
        assert_eq!(got, full, "{q}");
    }
}

#[test]
fn v2_metrics_api_matches_the_spec_example() {
    let (_tmp, m) = v2_metrics();
    let node = json!({
        "metadata": {"name": "node-v2", "creationTimestamp": "2026-01-01T00:00:03Z"},
        "timestamp": T, "window": "15.012s",
        "usage": {"cpu": "389295577n", "memory": "4141868Ki"}
    });
    let got = body(
        m.handle("/apis/metrics.k8s.io/v1beta1/nodes", None, now()),
        200,
    );
    assert_eq!(
        got,
        json!({"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
               "metadata": {}, "items": [node.clone()]})
    );
    let mut single = node;
    single["kind"] = json!("NodeMetrics");
    single["apiVersion"] = json!("metrics.k8s.io/v1beta1");
    let got = body(
        m.handle("/apis/metrics.k8s.io/v1beta1/nodes/node-v2", None, now()),
        200,
    );
    assert_eq!(got, single);

    let web = json!({
        "metadata": {"name": WEB, "namespace": "default", "creationTimestamp": "2026-01-01T00:00:03Z"},
        "timestamp": T, "window": "15.012s",
        "containers": [
            {"name": "log-shipper", "usage": {"cpu": "12002398n", "memory": "36352Ki"}},
            {"name": "nginx", "usage": {"cpu": "172668864n", "memory": "49664Ki"}}
        ]
    });
    let coredns = json!({
        "metadata": {"name": COREDNS, "namespace": "kube-system", "creationTimestamp": "2026-01-01T00:00:03Z"},
        "timestamp": T, "window": "15.012s",
        "containers": [
            {"name": "config-reloader", "usage": {"cpu": "0", "memory": "7Mi"}},
            {"name": "coredns", "usage": {"cpu": "0", "memory": "23Mi"}}
        ]
    });
    let list = |items: Vec<Value>| json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items});
    let got = body(
        m.handle("/apis/metrics.k8s.io/v1beta1/pods", None, now()),
        200,
    );
    assert_eq!(got, list(vec![web.clone(), coredns.clone()]));
    let got = body(
        m.handle(
            "/apis/metrics.k8s.io/v1beta1/namespaces/kube-system/pods",
            None,
            now(),
        ),
        200,
    );
    assert_eq!(got, list(vec![coredns]));
    let got = body(
        m.handle(
            "/apis/metrics.k8s.io/v1beta1/namespaces/nope/pods",
            None,
            now(),
        ),
        200,
    );
    assert_eq!(got, list(vec![]));
    let mut single = web;
    single["kind"] = json!("PodMetrics");
    single["apiVersion"] = json!("metrics.k8s.io/v1beta1");
    let got = body(
        m.handle(
            &format!("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/{WEB}"),
            None,
            now(),
        ),
        200,
    );
    assert_eq!(got, single);
}

#[test]
fn unknown_names_are_kubernetes_404s() {
    let (_tmp, m) = v2_metrics();
    let got = body(
        m.handle("/apis/metrics.k8s.io/v1beta1/nodes/other", None, now()),
        404,
    );
    assert_eq!(
        got,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "nodemetrics.metrics.k8s.io \"other\" not found", "reason": "NotFound",
               "details": {"name": "other", "group": "metrics.k8s.io", "kind": "nodemetrics"},
               "code": 404})
    );
    // The pod exists, but in another namespace.
    let got = body(
        m.handle(
            &format!("/apis/metrics.k8s.io/v1beta1/namespaces/kube-system/pods/{WEB}"),
            None,
            now(),
        ),
        404,
    );
    assert_eq!(
        got,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": format!("podmetrics.metrics.k8s.io \"kube-system/{WEB}\" not found"),
               "reason": "NotFound",
               "details": {"name": format!("kube-system/{WEB}"), "group": "metrics.k8s.io", "kind": "podmetrics"},
               "code": 404})
    );
    let got = body(
        m.handle("/apis/metrics.k8s.io/v1beta1/services", None, now()),
        404,
    );
    assert_eq!(
        got["message"],
        "the server could not find the requested resource"
    );
    assert_eq!(m.handle("/metrics", None, now()), None);
    assert_eq!(
        m.handle("/apis/metrics.k8s.io/v1beta10/nodes", None, now()),
        None
    );
    assert_eq!(m.handle("/stats/summaryx", None, now()), None);
    let got = body(m.handle("/apis/metrics.k8s.io/v1beta1", None, now()), 200);
    assert_eq!(got["kind"], "APIResourceList");
    assert_eq!(got["resources"][1]["kind"], "PodMetrics");
}

/// v1 (hybrid, cgroupfs): a static pod (32-hex UID), a hostNetwork pod whose sandbox sees
/// the host's interfaces, v1 page faults from the non-`total_` keys, and an unlimited
/// `memory.limit_in_bytes` (9223372036854771712) without `availableBytes`.
#[test]
fn v1_summary_pods() {
    let (_tmp, cur) = collect_fixture("cgroup-v1-cgroupfs");
    let mut m = ResourceMetrics::new(ResourceConfig::new("node-v1", Duration::from_secs(15)));
    m.observe(cur);
    let got = body(m.handle("/stats/summary", None, now()), 200);
    let pods = got["pods"].as_array().unwrap();
    let refs: Vec<&Value> = pods.iter().map(|p| &p["podRef"]).collect();
    assert_eq!(
        refs,
        [
            &json!({"name": "report-28917340-x7k2p", "namespace": "batch", "uid": pods[0]["podRef"]["uid"]}),
            &json!({"name": "haproxy-node-1", "namespace": "kube-system", "uid": "0f3c9a4e8b7d6c5a4f3e2d1c0b9a8f7e"}),
        ]
    );
    let haproxy = &pods[1];
    let names: Vec<&str> = haproxy["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["haproxy", "keepalived"]);
    let h = &haproxy["containers"][0];
    // One collection: no rate yet.
    assert_eq!(h["cpu"], cpu(0, 123_456_789_012));
    // limit 536870912 − working set 224395264.
    assert_eq!(h["memory"]["availableBytes"], json!(312_475_648));
    assert_eq!(h["memory"]["workingSetBytes"], json!(224_395_264));
    assert_eq!(
        haproxy["containers"][1]["memory"].get("availableBytes"),
        None
    );
    assert_eq!(haproxy["memory"]["workingSetBytes"], json!(240_087_040));
    // Pod cgroups on v1 report their own (non-total) page faults: 0.
    assert_eq!(haproxy["memory"]["pageFaults"], json!(0));
    let ifaces: Vec<&str> = haproxy["network"]["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(ifaces, ["cni0", "eth0"]);
    assert_eq!(haproxy["process_stats"], json!({"process_count": 5}));
    assert_eq!(
        got["node"]["memory"]["workingSetBytes"],
        json!(2_147_483_648u64)
    );
    assert_eq!(got["node"]["systemContainers"][0]["name"], "pods");
    // Metrics API: one reading is not enough.
    let nodes = body(
        m.handle("/apis/metrics.k8s.io/v1beta1/nodes", None, now()),
        200,
    );
    assert_eq!(nodes["items"], json!([]));
}

#[test]
fn summary_before_any_collection_is_unavailable() {
    let m = ResourceMetrics::new(ResourceConfig::new("n", Duration::from_secs(15)));
    let got = body(m.handle("/stats/summary", None, now()), 503);
    assert_eq!(got["reason"], "ServiceUnavailable");
    let nodes = body(
        m.handle("/apis/metrics.k8s.io/v1beta1/nodes", None, now()),
        200,
    );
    assert_eq!(nodes["items"], json!([]));
}

/// Node and pod labels as metrics-server's informers would hold them.
struct FixedLabels;

impl resource::ObjectLabels for FixedLabels {
    fn node_labels(&self, name: &str) -> Option<std::collections::BTreeMap<String, String>> {
        (name == "node-v2").then(|| {
            [("kubernetes.io/hostname", "node-v2"), ("zone", "a")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
    }

    fn pod_labels(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<std::collections::BTreeMap<String, String>> {
        let pairs: &[(&str, &str)] = match (namespace, name) {
            ("default", WEB) => &[
                ("app.kubernetes.io/name", "web"),
                ("pod-template-hash", "7d4b9c6f5"),
            ],
            ("kube-system", COREDNS) => &[("k8s-app", "kube-dns")],
            _ => return None,
        };
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

#[test]
fn metrics_api_carries_object_labels_and_honours_label_selectors() {
    let (_tmp, mut m) = v2_metrics();
    m.set_object_labels(std::sync::Arc::new(FixedLabels));
    let get = |path: &str, query: Option<&str>| body(m.handle(path, query, now()), 200);

    let node = get("/apis/metrics.k8s.io/v1beta1/nodes/node-v2", None);
    assert_eq!(
        node["metadata"],
        json!({"name": "node-v2", "creationTimestamp": "2026-01-01T00:00:03Z",
               "labels": {"kubernetes.io/hostname": "node-v2", "zone": "a"}})
    );
    let web = get(
        &format!("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/{WEB}"),
        None,
    );
    assert_eq!(
        web["metadata"],
        json!({"name": WEB, "namespace": "default", "creationTimestamp": "2026-01-01T00:00:03Z",
               "labels": {"app.kubernetes.io/name": "web", "pod-template-hash": "7d4b9c6f5"}})
    );

    let names = resource_support::item_names;
    let pods = "/apis/metrics.k8s.io/v1beta1/pods";
    // `kubectl top pod -A -l app.kubernetes.io/name=web` sends the selector URL-encoded.
    for (query, want) in [
        ("labelSelector=app.kubernetes.io%2Fname%3Dweb", vec![WEB]),
        ("labelSelector=k8s-app+in+%28kube-dns%29", vec![COREDNS]),
        ("labelSelector=%21k8s-app", vec![WEB]),
        ("labelSelector=", vec![WEB, COREDNS]),
        ("labelSelector=zone%3Da", vec![]),
    ] {
        assert_eq!(names(&get(pods, Some(query))), want, "{query}");
    }
    assert_eq!(
        names(&get(
            "/apis/metrics.k8s.io/v1beta1/nodes",
            Some("labelSelector=zone%3Da")
        )),
        vec!["node-v2"]
    );
    assert_eq!(
        names(&get(
            "/apis/metrics.k8s.io/v1beta1/nodes",
            Some("labelSelector=zone%3Db")
        )),
        Vec::<String>::new()
    );

    // A malformed selector is the API server's 400, not an empty list.
    let bad = body(m.handle(pods, Some("labelSelector=a%3D-b"), now()), 400);
    assert_eq!(bad["reason"], json!("BadRequest"));
    assert_eq!(bad["code"], json!(400));
}
