//! Kubernetes discovery at scale, against the API server double on loopback:
//! 10,000 pods, 1,000 services with Endpoints and EndpointSlices, 100 nodes.
//!
//! Reports the time from start to the first complete target set, the memory of the discovery
//! state (bytes of the stored projections, and the process RSS delta), and the latency from an
//! object change on the API server to the updated group in the manager's snapshot.
//!
//! Run: `cargo bench -p scrapeline-sd --bench discovery` (plain binary, `harness = false`).
//! `DISCOVERY_BENCH_RUNS=n` repeats the five-role measurement; `DISCOVERY_BENCH_FIVE_ONLY=1`
//! runs only that (for profiling). `DISCOVERY_BENCH_VMAGENT=1` (or `=<path to vmagent>`) runs only
//! the memory figures: ours, then vmagent's Kubernetes SD holding the same pods (a real Go
//! process; `discovery/vmagent.rs`), `DISCOVERY_BENCH_RUNS` times. Without a `vmagent` binary
//! that part prints that it was skipped.

// `discovery_system_alloc` is set by hand (`cargo rustc ... -- --cfg discovery_system_alloc`).
#![allow(unexpected_cfgs)]

use std::alloc::System;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use scrapeline_sd::kubernetes::lite::PodLite;
use scrapeline_sd::kubernetes::objects::PodObj;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[path = "discovery/vmagent.rs"]
mod vmagent;

/// Counts heap bytes so the stores' real sizes can be measured (not estimated). A build with
/// `--cfg discovery_system_alloc` (see BENCHMARKS.md) leaves it out to time discovery without the
/// counting's overhead; memory figures are then not measured.
#[cfg_attr(not(discovery_system_alloc), global_allocator)]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Whether [`GLOBAL`] is the global allocator (memory figures are measured).
const COUNTING: bool = cfg!(not(discovery_system_alloc));

/// Runs `build` and returns its result and the heap bytes still held afterwards.
fn held<T>(build: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let v = build();
    let c = region.change();
    // `stats_alloc` already counts a realloc's growth in `bytes_allocated` and its shrinking in
    // `bytes_deallocated` (`bytes_reallocated` is that same net again): adding it would count
    // every realloc twice.
    let net = c.bytes_allocated as isize - c.bytes_deallocated as isize;
    (v, net.max(0) as usize)
}

/// Same-run memory per pod: our projection store vs. a store of whole decoded objects
/// (`k8s-openapi` Pods in a map, as kube-rs' reflector and client-go's informer keep them).
/// Returns both, in bytes per pod.
fn memory_per_pod() -> (usize, usize) {
    let docs: Vec<String> = (0..PODS).map(|i| pod(i, 0).to_string()).collect();
    let (ours, ours_bytes) = held(|| {
        let mut m: HashMap<Arc<str>, Arc<PodObj>> = HashMap::new();
        for d in &docs {
            let lite: PodLite = serde_json::from_str(d).expect("pod");
            let key: Arc<str> = Arc::from(format!(
                "{}/{}",
                lite.metadata.namespace.as_deref().unwrap_or(""),
                lite.metadata.name.as_deref().unwrap_or("")
            ));
            m.insert(key, Arc::new(PodObj::from(&lite)));
        }
        m
    });
    let (whole, whole_bytes) = held(|| {
        let mut m: HashMap<String, Arc<k8s_openapi::api::core::v1::Pod>> = HashMap::new();
        for d in &docs {
            let p: k8s_openapi::api::core::v1::Pod = serde_json::from_str(d).expect("pod");
            let key = format!(
                "{}/{}",
                p.metadata.namespace.as_deref().unwrap_or(""),
                p.metadata.name.as_deref().unwrap_or("")
            );
            m.insert(key, Arc::new(p));
        }
        m
    });
    assert_eq!(ours.len(), whole.len());
    println!(
        "memory per pod (same run, measured by a counting allocator): projections {} bytes; whole k8s-openapi objects {} bytes; ratio {:.3}",
        ours_bytes / PODS,
        whole_bytes / PODS,
        ours_bytes as f64 / whole_bytes as f64
    );
    (ours_bytes / PODS, whole_bytes / PODS)
}

use scrapeline_sd::config::KubernetesSdConfig;
use scrapeline_sd::discovery::{Manager, ManagerOptions, SdConfigs};
use scrapeline_sd::kubernetes::KubeEnv;
use scrapeline_testkit::apiserver::{ApiServer, ApiServerOptions};
use serde_json::{Value, json};

const PODS: usize = 10_000;
const SERVICES: usize = 1_000;
const NODES: usize = 100;
const NAMESPACES: usize = 20;

fn ip(i: usize) -> String {
    format!("10.{}.{}.{}", 1 + i / 65536, (i / 256) % 256, i % 256)
}

fn ns_of_service(s: usize) -> String {
    format!("ns-{}", s % NAMESPACES)
}

/// A pod shaped like a real Deployment pod (managed fields, probes, env, volumes, statuses).
fn pod(i: usize, rev: usize) -> Value {
    let svc = i / (PODS / SERVICES);
    let ns = ns_of_service(svc);
    let name = format!("web-{svc}-7d9f8c6b5-{i:05}");
    let node = format!("node-{:03}", i % NODES);
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": ns, "uid": format!("8e0c1f2a-3b4c-4d5e-8f60-{i:012}"),
            "generateName": format!("web-{svc}-7d9f8c6b5-"),
            "creationTimestamp": "2026-11-01T10:00:00Z",
            "labels": {"app": format!("svc-{svc}"), "pod-template-hash": "7d9f8c6b5", "tier": "backend", "rev": rev.to_string()},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8080",
                            "kubectl.kubernetes.io/restartedAt": "2026-11-01T09:59:00Z"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("web-{svc}-7d9f8c6b5"),
                                 "uid": format!("1a2b3c4d-0000-4000-8000-{svc:012}"), "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [
                {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": "2026-11-01T10:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}, "f:tier": {}},
                   "f:ownerReferences": {".": {}, "k:{\"uid\":\"1a2b\"}": {}}},
                   "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:env": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                     "f:ports": {".": {}, "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}},
                     "f:resources": {".": {}, "f:limits": {}, "f:requests": {}}, "f:terminationMessagePath": {}, "f:volumeMounts": {}}},
                     "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:volumes": {}}}},
                {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2026-11-01T10:00:05Z", "subresource": "status",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {}, "f:containerStatuses": {}, "f:hostIP": {}, "f:hostIPs": {},
                   "f:phase": {}, "f:podIP": {}, "f:podIPs": {}, "f:startTime": {}}}}
            ]
        },
        "spec": {
            "nodeName": node, "serviceAccountName": "default", "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30, "priority": 0, "enableServiceLinks": true,
            "securityContext": {"runAsNonRoot": true, "fsGroup": 2000},
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            "volumes": [{"name": "config", "configMap": {"name": format!("web-{svc}-config"), "defaultMode": 420}},
                        {"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
            "containers": [{
                "name": "app", "image": "registry.example.com/team/web:1.42.0", "imagePullPolicy": "IfNotPresent",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}, {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
                "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "GOMAXPROCS", "value": "2"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/web"}, {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 5, "timeoutSeconds": 1, "failureThreshold": 3},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
            }]
        },
        "status": {
            "phase": "Running", "hostIP": format!("192.168.0.{}", i % NODES), "hostIPs": [{"ip": format!("192.168.0.{}", i % NODES)}],
            "podIP": ip(i), "podIPs": [{"ip": ip(i)}], "startTime": "2026-11-01T10:00:01Z", "qosClass": "Burstable",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": "2026-11-01T10:00:02Z"},
                {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-01T10:00:01Z"},
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-01T10:00:05Z"},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-11-01T10:00:05Z"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-01T10:00:00Z"}],
            "containerStatuses": [{"name": "app", "ready": true, "started": true, "restartCount": 0,
                "image": "registry.example.com/team/web:1.42.0",
                "imageID": "registry.example.com/team/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "containerID": format!("containerd://{:064x}", i),
                "state": {"running": {"startedAt": "2026-11-01T10:00:03Z"}}}]
        }
    })
}

fn service(s: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": format!("svc-{s}"), "namespace": ns_of_service(s), "labels": {"app": format!("svc-{s}")}},
           "spec": {"type": "ClusterIP", "clusterIP": format!("10.96.{}.{}", s / 256, s % 256), "selector": {"app": format!("svc-{s}")},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
}

fn pod_refs(s: usize) -> Vec<(String, String, String)> {
    let per = PODS / SERVICES;
    (s * per..(s + 1) * per)
        .map(|i| {
            (
                ip(i),
                format!("web-{s}-7d9f8c6b5-{i:05}"),
                format!("node-{:03}", i % NODES),
            )
        })
        .collect()
}

fn endpoints(s: usize) -> Value {
    let ns = ns_of_service(s);
    let addrs: Vec<Value> = pod_refs(s)
        .into_iter()
        .map(|(ip, name, node)| json!({"ip": ip, "nodeName": node, "targetRef": {"kind": "Pod", "namespace": ns, "name": name}}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": format!("svc-{s}"), "namespace": ns},
           "subsets": [{"addresses": addrs, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]})
}

fn slice(s: usize) -> Value {
    let ns = ns_of_service(s);
    let eps: Vec<Value> = pod_refs(s)
        .into_iter()
        .map(|(ip, name, node)| json!({"addresses": [ip], "conditions": {"ready": true, "serving": true, "terminating": false},
                                        "nodeName": node, "targetRef": {"kind": "Pod", "namespace": ns, "name": name}}))
        .collect();
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": format!("svc-{s}-abcde"), "namespace": ns, "labels": {"kubernetes.io/service-name": format!("svc-{s}")}},
           "addressType": "IPv4", "endpoints": eps, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
}

fn node(n: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": format!("node-{n:03}"), "labels": {"kubernetes.io/hostname": format!("node-{n:03}"),
                        "topology.kubernetes.io/zone": format!("zone-{}", n % 3), "node.kubernetes.io/instance-type": "m6i.2xlarge"}},
           "spec": {"providerID": format!("aws:///zone/i-{n:017}")},
           "status": {"addresses": [{"type": "InternalIP", "address": format!("192.168.0.{n}")}, {"type": "Hostname", "address": format!("node-{n:03}")}],
                      "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                      "conditions": [{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"},
                                     {"type": "DiskPressure", "status": "False"}, {"type": "PIDPressure", "status": "False"}]}})
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// CPU time of the whole process so far (user + system, all threads: discovery and the API
/// server double together), from `/proc/self/stat`, in 10 ms ticks. On a shared machine this
/// moves less than wall time when other processes compete for the cores.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based, whole line).
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn job(server: &ApiServer, role: &str) -> SdConfigs {
    let cfg: KubernetesSdConfig =
        serde_json::from_value(json!({"role": role, "api_server": server.url()})).expect("config");
    SdConfigs {
        kubernetes_sd_configs: vec![cfg],
        ..Default::default()
    }
}

fn options() -> ManagerOptions {
    ManagerOptions {
        kube: KubeEnv::default(),
        // Publish every change at once: the change-to-group latency measures discovery, not
        // the throttle (with the 5 s default the second change waits 5 s and the step timed
        // out). The first complete set is published at once either way.
        update_interval: Duration::ZERO,
        ..ManagerOptions::default()
    }
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(idx).copied().unwrap_or_default()
}

/// All five roles in one manager: time to the first complete set.
async fn five_roles(server: &ApiServer) {
    let all = Manager::new(options());
    let c0 = cpu_time();
    let t0 = Instant::now();
    all.set_config(vec![
        ("pods".into(), job(server, "pod")),
        ("services".into(), job(server, "service")),
        ("endpoints".into(), job(server, "endpoints")),
        ("endpointslices".into(), job(server, "endpointslice")),
        ("nodes".into(), job(server, "node")),
    ]);
    all.wait_synced().await;
    let first_all = t0.elapsed();
    let cpu = cpu_time().saturating_sub(c0);
    let snap = all.snapshot();
    let targets: usize = snap.values().flatten().map(|g| g.targets.len()).sum();
    // A digest of every group (source, group labels, target labels, per job in name order), to
    // check that two builds discover exactly the same thing.
    let mut digest = std::hash::DefaultHasher::new();
    let mut jobs: Vec<_> = snap.iter().collect();
    jobs.sort_by(|a, b| a.0.cmp(b.0));
    for (job, groups) in jobs {
        job.hash(&mut digest);
        for g in groups {
            g.source.hash(&mut digest);
            g.labels.stable_hash().hash(&mut digest);
            for t in &g.targets {
                t.stable_hash().hash(&mut digest);
            }
        }
    }
    let usage_all = all.kube_usage();
    println!(
        "five roles: first complete set {:.0} ms (process CPU {:.0} ms); {} targets; {} watches; {} objects; projections {} bytes total; digest {:016x}",
        first_all.as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e3,
        targets,
        usage_all.watches,
        usage_all.objects,
        usage_all.heap_bytes,
        digest.finish()
    );
    drop(all);
    // Let the runtime drop the stopped watches before anything else is timed.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The pod role alone: time to the first complete set and memory per pod (printed). Returns the
/// manager (still watching) and the whole discovery heap per pod (0 without the counting
/// allocator).
async fn pod_role(server: &ApiServer) -> (Manager, usize) {
    let rss0 = rss_bytes();
    let region = Region::new(GLOBAL);
    let pods = Manager::new(options());
    let c0 = cpu_time();
    let t0 = Instant::now();
    pods.set_config(vec![("pods".into(), job(server, "pod"))]);
    pods.wait_synced().await;
    let first_pods = t0.elapsed();
    let cpu_pods = cpu_time().saturating_sub(c0);
    let rss1 = rss_bytes();
    let c = region.change();
    let manager_heap = (c.bytes_allocated as isize - c.bytes_deallocated as isize).max(0) as usize;
    let usage = pods.kube_usage();
    let n_groups = pods.snapshot()["pods"].len();
    assert_eq!(n_groups, PODS, "every pod discovered");
    if COUNTING {
        println!(
            "pod role: first complete set {:.0} ms (process CPU {:.0} ms); {} objects in {} watch; projections {} bytes/pod (estimate); \
             whole discovery heap {} bytes/pod (store + target groups + snapshot, counted); RSS delta {} bytes/pod",
            first_pods.as_secs_f64() * 1e3,
            cpu_pods.as_secs_f64() * 1e3,
            usage.objects,
            usage.watches,
            usage.heap_bytes / PODS,
            manager_heap / PODS,
            rss1.saturating_sub(rss0) / PODS
        );
    } else {
        println!(
            "pod role: first complete set {:.0} ms (process CPU {:.0} ms); {} objects in {} watch; projections {} bytes/pod (estimate); RSS delta {} bytes/pod",
            first_pods.as_secs_f64() * 1e3,
            cpu_pods.as_secs_f64() * 1e3,
            usage.objects,
            usage.watches,
            usage.heap_bytes / PODS,
            rss1.saturating_sub(rss0) / PODS
        );
    }
    (pods, manager_heap / PODS)
}

/// The endpointslice role with `attach_metadata: {node: true}` alone: the whole discovery heap
/// per pod its 1,000 slices name (stores of pods, services, slices and nodes, groups, snapshot
/// and the dependency index: a pod, a service and a node reference per slice endpoint).
async fn slice_role_heap(server: &ApiServer) {
    if !COUNTING {
        return;
    }
    let region = Region::new(GLOBAL);
    let m = Manager::new(options());
    let cfg: KubernetesSdConfig = serde_json::from_value(json!({"role": "endpointslice",
        "api_server": server.url(), "attach_metadata": {"node": true}}))
    .expect("config");
    m.set_config(vec![(
        "slices".into(),
        SdConfigs {
            kubernetes_sd_configs: vec![cfg],
            ..Default::default()
        },
    )]);
    m.wait_synced().await;
    // Let every scope finish its initial build and index.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let c = region.change();
    let heap = (c.bytes_allocated as isize - c.bytes_deallocated as isize).max(0) as usize;
    let targets: usize = m.snapshot()["slices"].iter().map(|g| g.targets.len()).sum();
    println!(
        "endpointslice role with attach_metadata.node: whole discovery heap {} bytes/pod ({} targets)",
        heap / PODS,
        targets
    );
    drop(m);
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// vmagent's Kubernetes SD (`role: pod`) holding the same 10,000 pods as ours, against an
/// empty cluster for its baseline. `given` is `DISCOVERY_BENCH_VMAGENT`: `1`, or vmagent's path;
/// `ours` is (store bytes per pod, whole discovery heap bytes per pod, targets) measured earlier
/// in this run. Prints each round and the same-run ratios.
async fn vmagent_peer(given: &std::ffi::OsStr, ours: Option<(usize, usize, usize)>, runs: usize) {
    let Some(bin) = vmagent::find(given) else {
        println!(
            "vmagent peer: skipped (no `vmagent` binary: not at {given:?}, /usr/bin or on PATH; apt-get install victoria-metrics)"
        );
        return;
    };
    let empty = ApiServer::start().await.expect("double");
    let full = ApiServer::start_with(ApiServerOptions {
        event_buffer: 1 << 15,
        ..ApiServerOptions::default()
    })
    .await
    .expect("double");
    for i in 0..PODS {
        full.apply(pod(i, 0)).expect("pod");
    }
    // Several SD checks (1 s apart) after the last pod is stored, then two forced collections.
    let settle = Duration::from_secs(5);
    let per_pod = |with: u64, without: u64| with.saturating_sub(without) as f64 / PODS as f64;
    let targets = ours.map_or(2 * PODS, |o| o.2) as u64;
    for round in 1..=runs {
        for mode in [vmagent::Mode::Drop, vmagent::Mode::Keep] {
            let base = vmagent::measure(&bin, &empty, mode, 0, 0, settle)
                .await
                .unwrap_or_else(|e| panic!("vmagent {mode:?}, empty cluster: {e}"));
            let with = vmagent::measure(&bin, &full, mode, PODS as u64, targets, settle)
                .await
                .unwrap_or_else(|e| panic!("vmagent {mode:?}, {PODS} pods: {e}"));
            let heap = per_pod(with.heap_alloc, base.heap_alloc);
            println!(
                "vmagent {mode:?} round {round}: empty cluster: heap {} B (in use {} B), RSS {} B; {PODS} pods: heap {} B (in use {} B), RSS {} B, \
                 {} pods stored, {} targets kept, {} scrapers, goroutine stacks {} B, all stored {:.0} ms after start",
                base.heap_alloc,
                base.heap_inuse,
                base.rss,
                with.heap_alloc,
                with.heap_inuse,
                with.rss,
                with.objects,
                with.scrape_works,
                with.scrapers,
                with.stacks,
                with.discovered_after.as_secs_f64() * 1e3
            );
            println!(
                "vmagent {mode:?} round {round}: per pod: live heap {heap:.0} B, heap in use {:.0} B, goroutine stacks {:.0} B, RSS {:.0} B",
                per_pod(with.heap_inuse, base.heap_inuse),
                per_pod(with.stacks, base.stacks),
                per_pod(with.rss, base.rss)
            );
            if let Some((store, whole, _)) = ours {
                println!(
                    "same run, ours / vmagent {mode:?} live heap per pod: discovery store {store} / {heap:.0} = {:.3}; \
                     whole discovery heap {whole} / {heap:.0} = {:.3}",
                    store as f64 / heap,
                    whole as f64 / heap
                );
            }
        }
    }
    let targets = vmagent::count_targets(&bin, &full, PODS as u64)
        .await
        .unwrap_or_else(|e| panic!("vmagent check run: {e}"));
    println!(
        "vmagent check run (dropped targets' labels kept): {targets} targets of {PODS} pods discovered and dropped (ours: {})",
        ours.map_or("not measured".to_string(), |o| o.2.to_string())
    );
}

async fn run() {
    let server = ApiServer::start_with(ApiServerOptions {
        event_buffer: 1 << 17,
        ..ApiServerOptions::default()
    })
    .await
    .expect("double");
    let mut pod_json_bytes = 0usize;
    for i in 0..PODS {
        let p = pod(i, 0);
        pod_json_bytes += p.to_string().len();
        server.apply(p).expect("pod");
    }
    for s in 0..SERVICES {
        server.apply(service(s)).expect("svc");
        server.apply(endpoints(s)).expect("ep");
        server.apply(slice(s)).expect("slice");
    }
    for n in 0..NODES {
        server.apply(node(n)).expect("node");
    }
    println!(
        "cluster: {PODS} pods ({} bytes of JSON per pod), {SERVICES} services + endpoints + endpointslices, {NODES} nodes",
        pod_json_bytes / PODS
    );

    // `DISCOVERY_BENCH_FIVE_ONLY=1`: only the five-role measurement (for profiling it).
    let five_only = std::env::var_os("DISCOVERY_BENCH_FIVE_ONLY").is_some();
    let runs: usize = std::env::var("DISCOVERY_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    if five_only {
        for _ in 0..runs {
            five_roles(&server).await;
        }
        return;
    }

    // `DISCOVERY_BENCH_VMAGENT=1`: only the memory figures, ours and vmagent's, same run.
    if let Some(vmagent_bin) = std::env::var_os("DISCOVERY_BENCH_VMAGENT") {
        let ours = if COUNTING {
            let (store, _) = memory_per_pod();
            let (pods, heap) = pod_role(&server).await;
            let targets: usize = pods.snapshot()["pods"]
                .iter()
                .map(|g| g.targets.len())
                .sum();
            drop(pods);
            Some((store, heap, targets))
        } else {
            println!("counting allocator left out: our memory figures not measured");
            None
        };
        drop(server);
        vmagent_peer(&vmagent_bin, ours, runs).await;
        return;
    }

    if COUNTING {
        memory_per_pod();
    } else {
        println!(
            "counting allocator left out (--cfg discovery_system_alloc): memory figures not measured"
        );
    }

    // 1. Pod role alone: time to the first complete set, memory per pod.
    let (pods, _) = pod_role(&server).await;
    slice_role_heap(&server).await;

    // 2. All five roles in one manager.
    for _ in 0..runs {
        five_roles(&server).await;
    }

    // 3. Change-to-group latency: relabel one pod, wait for the snapshot to show it.
    let mut rx = pods.subscribe();
    let mut lat = Vec::new();
    for k in 1..=200usize {
        let i = (k * 37) % PODS;
        let p = pod(i, k);
        let svc = i / (PODS / SERVICES);
        let source = format!("pod/{}/web-{svc}-7d9f8c6b5-{i:05}", ns_of_service(svc));
        let want = k.to_string();
        let t = Instant::now();
        server.apply(p).expect("update");
        let ok = tokio::time::timeout(
            Duration::from_secs(5),
            rx.wait_for(|s| {
                s["pods"].iter().any(|g| {
                    g.source == source
                        && g.labels.get("__meta_kubernetes_pod_label_rev") == Some(want.as_str())
                })
            }),
        )
        .await;
        assert!(ok.is_ok(), "update {k} arrived");
        lat.push(t.elapsed());
    }
    let p50 = percentile(&mut lat, 0.5);
    let p99 = percentile(&mut lat, 0.99);
    println!(
        "change-to-group (pod label change on the API server -> manager snapshot): p50 {:.2} ms, p99 {:.2} ms over {} changes",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        lat.len()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it too: keep that short.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}
