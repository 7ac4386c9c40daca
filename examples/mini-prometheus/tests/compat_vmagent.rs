//! Differential test of Kubernetes discovery: Debian's vmagent (VictoriaMetrics 1.79, which has
//! `kubernetes_sd_configs`; Debian's Prometheus 2.42 has none) and mini-prometheus watch the
//! same testkit API server double (plain HTTP on loopback, no auth) and must show the same
//! target labels, except where vmagent 1.79 itself departs from Prometheus (table below).
//!
//! The cluster: three namespaces; three nodes with InternalIP/ExternalIP/Hostname/InternalDNS
//! addresses in different combinations (so the address priority shows); pods with named and
//! unnamed ports, a container without ports, an init container with a port, a hostNetwork
//! DaemonSet pod, a finished Job pod and a pending pod without IP; a ClusterIP, a headless, a
//! LoadBalancer and an ExternalName service; Endpoints with ready and not-ready addresses and
//! hostnames; EndpointSlices with ready, not-ready and terminating endpoints (one pointing at a
//! pod that no longer exists); ingresses with a class, TLS on an exact host and on a wildcard,
//! several rules and paths, an empty path and a rule without `http`. Then a scripted series:
//! a replica is added (pod, then its endpoints), a replica becomes ready, a node, a service and
//! an ingress change, the endpoints controller moves the replica to ready, and an ingress, a
//! service, a pod and a node are deleted. After each step both sides are polled until they
//! agree (30 s at most; then the test fails with a diff naming job, target and label).
//!
//! Both load one config: per role a job whose relabeling copies the discovered address to
//! `addr`, maps `__meta_kubernetes_(.+)` to `k8s_$1`, and points `__address__` at the closed
//! port 127.0.0.1:1, so both APIs' `labels` (`/api/v1/targets`, which vmagent 1.79 serves in
//! Prometheus' shape) carry every discovered label, and nothing but loopback is ever dialled
//! (ingress and service host names are never resolved). vmagent runs with
//! `-promscrape.kubernetesSDCheckInterval=1s`; mini-prometheus applies discovery changes at
//! most every 5 s, as Prometheus does, so each step takes about 5 s.
//!
//! Where vmagent 1.79 does not follow Prometheus. Prometheus' rules (`discovery/kubernetes`,
//! its test cases in `testdata/prometheus/kubernetes-cases.json`) are the authority; the test removes the label
//! from the side that has it before comparing, and checks ours against Prometheus instead:
//!
//! | role | label or behaviour | Prometheus 3 (case) | vmagent 1.79 | ours checked by |
//! |---|---|---|---|---|
//! | node | `_node_condition_<type>` | lower-cased status, v3.12+ (`TestNodeDiscoveryConditions/*`) | absent | node-a values |
//! | pod | `_pod_container_id` | `containerStatuses[].containerID` (`TestPodDiscoveryBeforeRun`) | absent | one target |
//! | pod | `_pod_container_image` | `containers[].image` (`TestPodDiscoveryBeforeRun`) | absent | one target |
//! | service | `_service_port_number` | `ports[].port` (`TestServiceDiscoveryAdd`) | absent | frontend |
//! | service | `_service_loadbalancer_ip` | LoadBalancer only; `status.loadBalancer.ingress` IPs, else `spec.loadBalancerIP` (main after v3.14; `TestServiceDiscoveryAdd`) | absent | frontend = `127.0.40.2` |
//! | endpoints, endpointslice | `_pod_container_image`, `_pod_container_init` on pod-backed targets | set (v3.0+ for init) | absent | web 9090 |
//! | endpoints, endpointslice | extra target for an init (sidecar) container port | yes, v3.0+ (`TestEndpointsDiscoverySidecarContainer`, `TestEndpointSliceDiscoverySidecarContainer`) | none | web 5005 target |
//! | endpoints, endpointslice | extra pod-port targets carry the object's group labels (`_endpoints_name`, `_endpoints_label_*`, `_endpointslice_*`) | yes (`TestEndpointsDiscoveryAdd`, `TestEndpointSliceDiscoveryAdd`) | only pod and service labels | every extra target |
//! | endpoints, endpointslice | `_service_cluster_ip`, `_service_type` | not set: only the service's name, labels, annotations join (`TestEndpointsDiscoveryWithService`) | set | ours must lack them |
//! | endpointslice | `_endpointslice_endpoint_conditions_serving` / `_terminating` | set when the pointer is set (`TestEndpointSliceDiscoveryBeforeRun`) | absent | terminating endpoint |
//! | endpointslice | `_endpointslice_endpoint_node_name`, `_endpointslice_endpoint_zone` | set when present, v2.52+ | absent | terminating endpoint |
//! | endpoints | pod labels re-joined after a pod change | only on a `status.phase` change, or when the Endpoints, its Service or a node changes (meta-labels.md §10) | on every check | steps ordered as controllers act (pod first, then its endpoints; a readiness change is followed by a service change), so both models give the same answer |
//!
//! Everything else is compared label for label: node address priority, `instance` on nodes,
//! labels/annotations and their `*present` twins, pod targets for unnamed ports, containers
//! without ports (bare IP), init containers in the pod role, hostNetwork and finished pods, the
//! pending pod's absence, headless/LoadBalancer/ExternalName services, endpoint readiness,
//! hostnames, node names and target refs, slice `ready` conditions and ports, a slice endpoint
//! whose pod is gone, ingress schemes (exact and wildcard TLS), paths, hosts and class.
//!
//! Run: `cargo test -p mini-prometheus --test compat_vmagent -- --nocapture`. Without
//! `/usr/bin/vmagent` the test prints `SKIP` and passes.

mod compat_common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use compat_common::*;
use scrapeline_testkit::apiserver::ApiServer;
use serde_json::{Value, json};

const REFEREE: &str = "vmagent 1.79";
const ROLES: [&str; 6] = [
    "node",
    "pod",
    "service",
    "endpoints",
    "endpointslice",
    "ingress",
];

// ---------------------------------------------------------------------------------------------
// The cluster.

fn namespace(name: &str, team: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "uid": format!("ns-{name}"),
            "labels": {"kubernetes.io/metadata.name": name, "team": team}},
        "status": {"phase": "Active"}})
}

fn node(name: &str, addresses: &[(&str, &str)], zone: &str) -> Value {
    let addrs: Vec<Value> = addresses
        .iter()
        .map(|(t, a)| json!({"type": t, "address": a}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": format!("node-{name}"),
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                "topology.kubernetes.io/zone": zone, "node-role.kubernetes.io/worker": ""},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"providerID": format!("kind://docker/kind/{name}"), "podCIDR": "10.244.1.0/24"},
        "status": {"addresses": addrs,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "nodeInfo": {"kubeletVersion": "v1.31.0", "architecture": "amd64"}}})
}

fn container(name: &str, image: &str, ports: Value) -> Value {
    let mut c = json!({"name": name, "image": image, "imagePullPolicy": "IfNotPresent"});
    if !ports.is_null() {
        c["ports"] = ports;
    }
    c
}

fn status(name: &str, id: &str, image: &str, ready: bool) -> Value {
    json!({"name": name, "containerID": format!("containerd://{id}"), "image": image,
        "imageID": format!("{image}@sha256:{id}"), "ready": ready, "restartCount": 0,
        "started": ready, "state": {"running": {"startedAt": "2026-11-29T10:00:00Z"}}})
}

struct PodSpec<'a> {
    ns: &'a str,
    name: &'a str,
    node: &'a str,
    ip: &'a str,
    host_ip: &'a str,
    phase: &'a str,
    ready: &'a str,
    owner: Option<(&'a str, &'a str)>,
    labels: Value,
    containers: Value,
    init: Value,
    statuses: Value,
    init_statuses: Value,
    host_network: bool,
}

fn pod(p: PodSpec<'_>) -> Value {
    let mut meta = json!({"name": p.name, "namespace": p.ns, "uid": format!("uid-{}", p.name),
        "labels": p.labels,
        "annotations": {"prometheus.io/scrape": "true", "kubectl.kubernetes.io/restartedAt": "2026-11-29T09:00:00Z"}});
    if let Some((kind, name)) = p.owner {
        let api = if kind == "Job" { "batch/v1" } else { "apps/v1" };
        meta["ownerReferences"] = json!([{"apiVersion": api, "kind": kind, "name": name,
            "uid": format!("uid-{name}"), "controller": true, "blockOwnerDeletion": true}]);
    }
    let mut spec = json!({"containers": p.containers, "restartPolicy": "Always",
        "serviceAccountName": "default"});
    if !p.node.is_empty() {
        spec["nodeName"] = json!(p.node);
    }
    if !p.init.is_null() {
        spec["initContainers"] = p.init;
    }
    if p.host_network {
        spec["hostNetwork"] = json!(true);
    }
    let mut st = json!({"phase": p.phase,
        "conditions": [{"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": p.ready},
            {"type": "PodScheduled", "status": "True"}]});
    if !p.ip.is_empty() {
        st["podIP"] = json!(p.ip);
        st["podIPs"] = json!([{"ip": p.ip}]);
        st["hostIP"] = json!(p.host_ip);
    }
    if !p.statuses.is_null() {
        st["containerStatuses"] = p.statuses;
    }
    if !p.init_statuses.is_null() {
        st["initContainerStatuses"] = p.init_statuses;
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": st})
}

fn web_pod(suffix: &str, node: &str, ip: &str, host_ip: &str, ready: bool) -> Value {
    let r = if ready { "True" } else { "False" };
    pod(PodSpec {
        ns: "shop",
        name: &format!("web-5d8f7c9b6-{suffix}"),
        node,
        ip,
        host_ip,
        phase: "Running",
        ready: r,
        owner: Some(("ReplicaSet", "web-5d8f7c9b6")),
        labels: json!({"app.kubernetes.io/name": "web", "pod-template-hash": "5d8f7c9b6"}),
        containers: json!([
            container(
                "web",
                "registry.example.com/shop/web:2.7.1",
                json!([
                {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                {"containerPort": 9090, "protocol": "TCP"}])
            ),
            container("log-shipper", "fluent/fluent-bit:3.0", Value::Null)
        ]),
        init: json!([container(
            "migrate",
            "registry.example.com/shop/migrate:1.2",
            json!([{"name": "debug", "containerPort": 5005, "protocol": "TCP"}])
        )]),
        statuses: json!([
            status(
                "web",
                &format!("{suffix}01"),
                "registry.example.com/shop/web:2.7.1",
                ready
            ),
            status(
                "log-shipper",
                &format!("{suffix}02"),
                "fluent/fluent-bit:3.0",
                true
            )
        ]),
        init_statuses: json!([status(
            "migrate",
            &format!("{suffix}03"),
            "registry.example.com/shop/migrate:1.2",
            false
        )]),
        host_network: false,
    })
}

fn service(ns: &str, name: &str, spec: Value, lb_status: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-svc-{name}"),
            "labels": {"app.kubernetes.io/name": name},
            "annotations": {"prometheus.io/probe": "true"}},
        "spec": spec, "status": {"loadBalancer": lb_status}})
}

fn target_ref(ns: &str, pod: &str) -> Value {
    json!({"kind": "Pod", "namespace": ns, "name": pod, "uid": format!("uid-{pod}")})
}

fn web_endpoints(ready: &[(&str, &str, &str)], not_ready: &[(&str, &str, &str)]) -> Value {
    let addr = |(ip, node, pod): &(&str, &str, &str)| json!({"ip": ip, "nodeName": node, "targetRef": target_ref("shop", pod)});
    let mut subset = json!({"ports": [
        {"name": "http", "port": 8080, "protocol": "TCP"},
        {"name": "metrics", "port": 9090, "protocol": "TCP"}]});
    if !ready.is_empty() {
        subset["addresses"] = Value::Array(ready.iter().map(addr).collect());
    }
    if !not_ready.is_empty() {
        subset["notReadyAddresses"] = Value::Array(not_ready.iter().map(addr).collect());
    }
    json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "shop", "uid": "uid-ep-web",
            "labels": {"app.kubernetes.io/name": "web"},
            "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2026-11-29T10:00:00Z"}},
        "subsets": [subset]})
}

/// (ip, node, pod, zone, ready, serving, terminating)
type SliceEp<'a> = (&'a str, &'a str, &'a str, &'a str, bool, bool, bool);

fn web_slice(eps: &[SliceEp<'_>]) -> Value {
    let endpoints: Vec<Value> = eps
        .iter()
        .map(|(ip, node, pod, zone, r, s, t)| {
            json!({"addresses": [ip], "conditions": {"ready": r, "serving": s, "terminating": t},
                "nodeName": node, "zone": zone, "targetRef": target_ref("shop", pod)})
        })
        .collect();
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-x7q2v", "namespace": "shop", "uid": "uid-eps-web",
            "labels": {"kubernetes.io/service-name": "web",
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
            "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2026-11-29T10:00:00Z"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web",
                "uid": "uid-svc-web", "controller": true}]},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [
            {"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"},
            {"name": "metrics", "port": 9090, "protocol": "TCP"}]})
}

fn ingress(ns: &str, name: &str, class: Option<&str>, tls: Value, rules: Value) -> Value {
    let mut spec = json!({"rules": rules, "tls": tls});
    if let Some(c) = class {
        spec["ingressClassName"] = json!(c);
    }
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-ing-{name}"),
            "labels": {"app.kubernetes.io/part-of": ns},
            "annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": "true"}},
        "spec": spec})
}

fn path(p: &str, svc: &str, port: u16) -> Value {
    let mut v = json!({"pathType": "Prefix",
        "backend": {"service": {"name": svc, "port": {"number": port}}}});
    if !p.is_empty() {
        v["path"] = json!(p);
    } else {
        v["pathType"] = json!("ImplementationSpecific");
    }
    v
}

fn storefront(extra_path: bool) -> Value {
    let mut shop_paths = vec![path("/", "frontend", 443), path("/api", "web", 80)];
    if extra_path {
        shop_paths.push(path("/checkout", "web", 80));
    }
    ingress(
        "shop",
        "storefront",
        Some("nginx"),
        json!([{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]),
        json!([
            {"host": "shop.example.com", "http": {"paths": shop_paths}},
            {"host": "api.example.com", "http": {"paths": [path("/v1", "web", 80)]}}]),
    )
}

/// The initial cluster: three namespaces, three nodes, six pods, four services, endpoints,
/// endpoint slices and two ingresses.
fn cluster() -> Vec<Value> {
    let mut v = vec![
        namespace("shop", "payments"),
        namespace("search", "discovery"),
        namespace("monitoring", "sre"),
        node(
            "node-a",
            &[
                ("InternalIP", "127.0.10.1"),
                ("ExternalIP", "127.0.20.1"),
                ("Hostname", "node-a"),
            ],
            "zone-1",
        ),
        node(
            "node-b",
            &[("ExternalIP", "127.0.20.2"), ("Hostname", "node-b")],
            "zone-2",
        ),
        node(
            "node-c",
            &[("Hostname", "node-c"), ("InternalDNS", "node-c.internal")],
            "zone-1",
        ),
        web_pod("abcde", "node-a", "127.0.1.11", "127.0.10.1", true),
        web_pod("fghij", "node-b", "127.0.1.12", "127.0.20.2", false),
        pod(PodSpec {
            ns: "search",
            name: "es-0",
            node: "node-c",
            ip: "127.0.1.21",
            host_ip: "127.0.10.3",
            phase: "Running",
            ready: "True",
            owner: Some(("StatefulSet", "es")),
            labels: json!({"app": "es", "statefulset.kubernetes.io/pod-name": "es-0"}),
            containers: json!([container(
                "es",
                "elasticsearch:8.15.0",
                json!([
                {"name": "http", "containerPort": 9200, "protocol": "TCP"},
                {"name": "transport", "containerPort": 9300, "protocol": "TCP"}])
            )]),
            init: Value::Null,
            statuses: json!([status("es", "es001", "elasticsearch:8.15.0", true)]),
            init_statuses: Value::Null,
            host_network: false,
        }),
        pod(PodSpec {
            ns: "search",
            name: "es-1",
            node: "",
            ip: "",
            host_ip: "",
            phase: "Pending",
            ready: "False",
            owner: Some(("StatefulSet", "es")),
            labels: json!({"app": "es", "statefulset.kubernetes.io/pod-name": "es-1"}),
            containers: json!([container(
                "es",
                "elasticsearch:8.15.0",
                json!([
                {"name": "http", "containerPort": 9200, "protocol": "TCP"}])
            )]),
            init: Value::Null,
            statuses: Value::Null,
            init_statuses: Value::Null,
            host_network: false,
        }),
        pod(PodSpec {
            ns: "monitoring",
            name: "node-exporter-x7k2p",
            node: "node-a",
            ip: "127.0.10.1",
            host_ip: "127.0.10.1",
            phase: "Running",
            ready: "True",
            owner: Some(("DaemonSet", "node-exporter")),
            labels: json!({"app.kubernetes.io/name": "node-exporter"}),
            containers: json!([container(
                "node-exporter",
                "prom/node-exporter:v1.8.2",
                json!([
                {"name": "metrics", "containerPort": 9100, "hostPort": 9100, "protocol": "TCP"}])
            )]),
            init: Value::Null,
            statuses: json!([status(
                "node-exporter",
                "ne001",
                "prom/node-exporter:v1.8.2",
                true
            )]),
            init_statuses: Value::Null,
            host_network: true,
        }),
        pod(PodSpec {
            ns: "shop",
            name: "nightly-report-28123456-q9x8z",
            node: "node-b",
            ip: "127.0.1.31",
            host_ip: "127.0.20.2",
            phase: "Succeeded",
            ready: "False",
            owner: Some(("Job", "nightly-report-28123456")),
            labels: json!({"job-name": "nightly-report-28123456"}),
            containers: json!([container(
                "report",
                "registry.example.com/shop/report:1.0",
                Value::Null
            )]),
            init: Value::Null,
            statuses: json!([status(
                "report",
                "rep001",
                "registry.example.com/shop/report:1.0",
                false
            )]),
            init_statuses: Value::Null,
            host_network: false,
        }),
        service(
            "shop",
            "web",
            json!({"type": "ClusterIP", "clusterIP": "127.0.30.10", "clusterIPs": ["127.0.30.10"],
                "selector": {"app.kubernetes.io/name": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                    {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"}]}),
            json!({}),
        ),
        service(
            "search",
            "es-headless",
            json!({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"],
                "selector": {"app": "es"},
                "ports": [{"name": "http", "port": 9200, "targetPort": 9200, "protocol": "TCP"}]}),
            json!({}),
        ),
        service(
            "shop",
            "frontend",
            json!({"type": "LoadBalancer", "clusterIP": "127.0.30.11", "loadBalancerIP": "127.0.40.1",
                "selector": {"app.kubernetes.io/name": "frontend"},
                "ports": [{"name": "https", "port": 443, "targetPort": 8443, "nodePort": 31443, "protocol": "TCP"}]}),
            json!({"ingress": [{"ip": "127.0.40.2"}]}),
        ),
        service(
            "search",
            "wiki",
            json!({"type": "ExternalName", "externalName": "wiki.example.org",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}),
            json!({}),
        ),
        web_endpoints(
            &[("127.0.1.11", "node-a", "web-5d8f7c9b6-abcde")],
            &[("127.0.1.12", "node-b", "web-5d8f7c9b6-fghij")],
        ),
        json!({"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "es-headless", "namespace": "search", "uid": "uid-ep-es",
                "labels": {"app.kubernetes.io/name": "es-headless",
                    "service.kubernetes.io/headless": ""}},
            "subsets": [{"addresses": [{"ip": "127.0.1.21", "hostname": "es-0", "nodeName": "node-c",
                    "targetRef": target_ref("search", "es-0")}],
                "ports": [{"name": "http", "port": 9200, "protocol": "TCP"}]}]}),
        web_slice(&[
            (
                "127.0.1.11",
                "node-a",
                "web-5d8f7c9b6-abcde",
                "zone-1",
                true,
                true,
                false,
            ),
            (
                "127.0.1.12",
                "node-b",
                "web-5d8f7c9b6-fghij",
                "zone-2",
                false,
                false,
                false,
            ),
            (
                "127.0.1.13",
                "node-a",
                "web-5d8f7c9b6-old12",
                "zone-1",
                false,
                true,
                true,
            ),
        ]),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "es-headless-9fz2k", "namespace": "search", "uid": "uid-eps-es",
                "labels": {"kubernetes.io/service-name": "es-headless",
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.1.21"], "hostname": "es-0",
                "conditions": {"ready": true}, "nodeName": "node-c",
                "targetRef": target_ref("search", "es-0")}],
            "ports": [{"name": "http", "port": 9200, "protocol": "TCP"}]}),
        storefront(false),
        ingress(
            "search",
            "docs",
            None,
            json!([{"hosts": ["*.search.example.com"], "secretName": "docs-tls"}]),
            json!([
                {"host": "docs.search.example.com", "http": {"paths": [path("", "docs", 80)]}},
                {"host": "search.example.com"}]),
        ),
    ];
    v.retain(|o| !o.is_null());
    v
}

// ---------------------------------------------------------------------------------------------
// Comparing.

/// One job per role: every meta label copied to `k8s_*`, the discovered address kept as
/// `addr`, and the scrape address pointed at a closed loopback port (so nothing but loopback is
/// ever dialled, and ingress/service host names are never resolved).
fn config(api: &str) -> String {
    let mut s =
        String::from("global:\n  scrape_interval: 1h\n  scrape_timeout: 1s\nscrape_configs:\n");
    for role in ROLES {
        s.push_str(&format!(
            r#"  - job_name: k8s-{role}
    kubernetes_sd_configs:
      - role: {role}
        api_server: {api}
    relabel_configs:
      - source_labels: [__address__]
        target_label: addr
      - regex: __meta_kubernetes_(.+)
        action: labelmap
        replacement: k8s_$1
      - target_label: __address__
        replacement: 127.0.0.1:1
"#
        ));
    }
    s
}

/// Active targets' labels per job.
type View = BTreeMap<String, Vec<LabelMap>>;

async fn view(port: u16) -> Result<View, String> {
    let v = get_json(port, "/api/v1/targets").await?;
    let mut out = View::new();
    for t in v["data"]["activeTargets"].as_array().into_iter().flatten() {
        let pool = t["scrapePool"].as_str().unwrap_or("").to_owned();
        out.entry(pool).or_default().push(label_map(&t["labels"]));
    }
    for list in out.values_mut() {
        list.sort();
    }
    Ok(out)
}

/// The labels that identify a target of each role's job (to pair both sides' targets).
fn key_labels(job: &str) -> &'static [&'static str] {
    match job {
        "k8s-node" => &["k8s_node_name"],
        "k8s-pod" => &[
            "k8s_namespace",
            "k8s_pod_name",
            "k8s_pod_container_name",
            "addr",
        ],
        "k8s-service" => &["k8s_namespace", "k8s_service_name", "addr"],
        "k8s-endpoints" => &[
            "k8s_namespace",
            "k8s_endpoints_name",
            "addr",
            "k8s_endpoint_ready",
        ],
        "k8s-endpointslice" => &["k8s_namespace", "k8s_endpointslice_name", "addr"],
        _ => &[
            "k8s_namespace",
            "k8s_ingress_name",
            "addr",
            "k8s_ingress_path",
        ],
    }
}

/// Labels vmagent 1.79 does not emit (removed from ours after the checks in `check_ours`),
/// per job. See the table in the file's doc.
fn vmagent_lacks(job: &str) -> &'static [&'static str] {
    match job {
        "k8s-node" => &["k8s_node_condition_*"],
        "k8s-pod" => &["k8s_pod_container_id", "k8s_pod_container_image"],
        "k8s-service" => &["k8s_service_port_number", "k8s_service_loadbalancer_ip"],
        "k8s-endpoints" => &["k8s_pod_container_image", "k8s_pod_container_init"],
        "k8s-endpointslice" => &[
            "k8s_pod_container_image",
            "k8s_pod_container_init",
            "k8s_endpointslice_endpoint_conditions_serving",
            "k8s_endpointslice_endpoint_conditions_terminating",
            "k8s_endpointslice_endpoint_node_name",
            "k8s_endpointslice_endpoint_zone",
        ],
        _ => &[],
    }
}

/// Labels vmagent 1.79 adds and Prometheus does not (removed from theirs; ours must lack them).
fn vmagent_adds(job: &str) -> &'static [&'static str] {
    match job {
        "k8s-endpoints" | "k8s-endpointslice" => &["k8s_service_cluster_ip", "k8s_service_type"],
        _ => &[],
    }
}

/// `prefix*` matches names starting with `prefix`; anything else matches exactly.
fn label_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// An endpoints/endpointslice target made for a container port no endpoint port covers.
fn is_extra_pod_target(job: &str, ls: &LabelMap) -> bool {
    match job {
        "k8s-endpoints" => !ls.contains_key("k8s_endpoint_ready"),
        "k8s-endpointslice" => !ls.contains_key("k8s_endpointslice_port"),
        _ => false,
    }
}

/// Prometheus rules that the comparison with vmagent cannot check (vmagent differs there),
/// checked on ours alone. Authority: `testdata/prometheus/kubernetes-cases.json`.
fn check_ours(ours: &View) -> Vec<String> {
    let mut out = Vec::new();
    for (job, targets) in ours {
        for ls in targets {
            let at = || {
                format!(
                    "job {job:?} target addr={:?}",
                    ls.get("addr").map(String::as_str).unwrap_or("")
                )
            };
            // cases TestEndpointsDiscoveryWithService / TestEndpointSliceDiscoveryWithService:
            // only the service's name, labels and annotations join an endpoints group.
            for n in vmagent_adds(job) {
                if ls.contains_key(*n) {
                    out.push(format!(
                        "{}: has {n}, which Prometheus does not set here",
                        at()
                    ));
                }
            }
            // cases TestEndpointsDiscoveryAdd / TestEndpointSliceDiscoveryAdd: extra pod-port
            // targets carry the group labels (the object's name).
            let name = if job == "k8s-endpoints" {
                "k8s_endpoints_name"
            } else {
                "k8s_endpointslice_name"
            };
            if is_extra_pod_target(job, ls) && !ls.contains_key(name) {
                out.push(format!("{}: extra pod-port target without {name}", at()));
            }
        }
    }
    out
}

/// Both views made comparable: labels and targets vmagent lacks removed from ours, labels
/// vmagent adds removed from theirs.
fn normalise(job: &str, ours: &[LabelMap], theirs: &[LabelMap]) -> (Vec<LabelMap>, Vec<LabelMap>) {
    let lacks = vmagent_lacks(job);
    let adds = vmagent_adds(job);
    let a = ours
        .iter()
        // Prometheus ≥ 3.0 also matches init (sidecar) containers in endpoints/endpointslice;
        // vmagent 1.79 makes no extra target for their ports.
        .filter(|ls| {
            !(is_extra_pod_target(job, ls)
                && ls.get("k8s_pod_container_init").map(String::as_str) == Some("true"))
        })
        .map(|ls| {
            let extra = is_extra_pod_target(job, ls);
            ls.iter()
                .filter(|(n, _)| !lacks.iter().any(|p| label_matches(p, n)))
                // vmagent's extra pod-port targets lack the Endpoints/EndpointSlice object's labels.
                .filter(|(n, _)| {
                    !(extra
                        && (n.starts_with("k8s_endpoints_") || n.starts_with("k8s_endpointslice_")))
                })
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect()
        })
        .collect();
    let b = theirs
        .iter()
        .map(|ls| {
            ls.iter()
                .filter(|(n, _)| !adds.contains(&n.as_str()))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect()
        })
        .collect();
    (a, b)
}

/// Every difference between the two views after normalising.
fn compare(ours: &View, theirs: &View) -> Vec<String> {
    let mut diffs = check_ours(ours);
    for role in ROLES {
        let job = format!("k8s-{role}");
        let keys = key_labels(&job);
        let key = |ls: &LabelMap| {
            keys.iter()
                .map(|k| format!("{k}={:?}", ls.get(*k).map(String::as_str).unwrap_or("")))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let none = Vec::new();
        let (a, b) = normalise(
            &job,
            ours.get(&job).unwrap_or(&none),
            theirs.get(&job).unwrap_or(&none),
        );
        diffs.extend(diff_label_sets(
            &format!("job {job:?} target"),
            &a,
            &b,
            key,
            REFEREE,
        ));
    }
    diffs
}

/// Finds the one target of `job` whose labels include all of `want`.
fn find<'a>(v: &'a View, job: &str, want: &[(&str, &str)]) -> Result<&'a LabelMap, String> {
    let hits: Vec<&LabelMap> = v
        .get(job)
        .into_iter()
        .flatten()
        .filter(|ls| {
            want.iter()
                .all(|(k, val)| ls.get(*k).map(String::as_str) == Some(*val))
        })
        .collect();
    match hits.as_slice() {
        [one] => Ok(one),
        _ => Err(format!("job {job:?}: {} targets with {want:?}", hits.len())),
    }
}

/// Asserts exact values of labels on one target of ours.
fn expect(v: &View, job: &str, target: &[(&str, &str)], labels: &[(&str, &str)]) -> Vec<String> {
    match find(v, job, target) {
        Err(e) => vec![e],
        Ok(ls) => labels
            .iter()
            .filter(|(k, val)| ls.get(*k).map(String::as_str) != Some(*val))
            .map(|(k, val)| {
                format!(
                    "job {job:?} target {target:?}: label {k}: ours {:?}, Prometheus {val:?}",
                    ls.get(*k)
                )
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Running both.

struct Env {
    vm: Proc,
    mini: Proc,
    vm_port: u16,
    mini_port: u16,
}

impl Env {
    /// Polls both until `ready` holds on both views and they agree; panics with the last
    /// differences after 30 s.
    async fn converge(&mut self, step: &str, ready: impl Fn(&View) -> Result<(), String>) -> View {
        self.poll(step, ready, true).await
    }

    /// Polls both until `ready` holds on both views, without comparing them.
    async fn wait_for(&mut self, step: &str, ready: impl Fn(&View) -> Result<(), String>) {
        self.poll(step, ready, false).await;
    }

    async fn poll(
        &mut self,
        step: &str,
        ready: impl Fn(&View) -> Result<(), String>,
        compare_views: bool,
    ) -> View {
        let start = Instant::now();
        loop {
            let (ours, theirs) = (view(self.mini_port).await, view(self.vm_port).await);
            let (ours, theirs) = match (ours, theirs) {
                (Ok(a), Ok(b)) => (a, b),
                (a, b) => panic!(
                    "{step}: mini-prometheus {:?}, {REFEREE} {:?}",
                    a.err(),
                    b.err()
                ),
            };
            let mut problems = Vec::new();
            if let Err(e) = ready(&ours) {
                problems.push(format!("mini-prometheus not there yet: {e}"));
            }
            if let Err(e) = ready(&theirs) {
                problems.push(format!("{REFEREE} not there yet: {e}"));
            }
            if problems.is_empty() {
                if compare_views {
                    problems = compare(&ours, &theirs);
                }
                if problems.is_empty() {
                    eprintln!(
                        "{step}: {} after {:?} ({} targets)",
                        if compare_views { "equal" } else { "reached" },
                        start.elapsed(),
                        ours.values().map(Vec::len).sum::<usize>()
                    );
                    return ours;
                }
            }
            for p in [&mut self.mini, &mut self.vm] {
                if !p.alive() {
                    panic!("{} exited\n{}", p.name, p.log_tail(40));
                }
            }
            if start.elapsed() > Duration::from_secs(30) {
                assert_no_diffs(
                    &format!("{step} (after 30 s)"),
                    &problems,
                    &[&self.mini, &self.vm],
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn has(
    job: &'static str,
    want: &'static [(&'static str, &'static str)],
) -> impl Fn(&View) -> Result<(), String> {
    move |v: &View| find(v, job, want).map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_discovery_agrees_with_vmagent() {
    let Some(vmagent) = find_binary("vmagent") else {
        eprintln!(
            "SKIP compat_vmagent: no `vmagent` binary (apt-get install victoria-metrics; .ci/run installs it)"
        );
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let api = ApiServer::start()
        .await
        .unwrap_or_else(|e| panic!("api server double: {e}"));
    api.apply_all(cluster())
        .unwrap_or_else(|e| panic!("loading the cluster: {e}"));
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, config(&api.url())).unwrap_or_else(|e| panic!("write config: {e}"));

    // vmagent remote-writes to a closed loopback port: it only buffers (to the temp dir).
    let (vm_port, mini_port, sink_port) = (free_port(), free_port(), free_port());
    let mut vm = Proc::spawn(
        "vmagent",
        &vmagent,
        &[
            format!("-promscrape.config={}", cfg.display()),
            "-promscrape.config.strictParse=false".into(),
            "-promscrape.kubernetesSDCheckInterval=1s".into(),
            format!("-remoteWrite.url=http://127.0.0.1:{sink_port}/api/v1/write"),
            format!(
                "-remoteWrite.tmpDataPath={}",
                dir.path().join("vmagent-data").display()
            ),
            format!("-httpListenAddr=127.0.0.1:{vm_port}"),
        ],
        &[],
        dir.path().join("vmagent.log"),
    );
    let mut mini = Proc::spawn(
        "mini-prometheus",
        &mini_prometheus(),
        &[
            format!("--config.file={}", cfg.display()),
            format!("--web.listen-address=127.0.0.1:{mini_port}"),
        ],
        &[],
        dir.path().join("mini-prometheus.log"),
    );
    wait_ready(&mut vm, vm_port, "/health", Duration::from_secs(20)).await;
    wait_ready(&mut mini, mini_port, "/-/ready", Duration::from_secs(20)).await;
    let mut env = Env {
        vm,
        mini,
        vm_port,
        mini_port,
    };

    // Step 0: the initial LIST.
    let ours = env
        .converge(
            "initial cluster",
            has("k8s-ingress", &[("addr", "docs.search.example.com")]),
        )
        .await;
    let total: usize = ours.values().map(Vec::len).sum();
    let mut problems = Vec::new();
    let counts: Vec<(String, usize)> = ours.iter().map(|(j, t)| (j.clone(), t.len())).collect();
    let want_counts = [
        ("k8s-endpoints", 8),
        ("k8s-endpointslice", 10),
        ("k8s-ingress", 5),
        ("k8s-node", 3),
        ("k8s-pod", 12),
        ("k8s-service", 5),
    ];
    if counts
        != want_counts
            .iter()
            .map(|(j, n)| (j.to_string(), *n))
            .collect::<Vec<_>>()
    {
        problems.push(format!(
            "targets per job: ours {counts:?}, expected {want_counts:?}"
        ));
    }
    // What vmagent cannot referee, checked against Prometheus' rules (meta-labels.md, cases.json).
    problems.extend(expect(
        &ours,
        "k8s-node",
        &[("k8s_node_name", "node-a")],
        &[
            ("k8s_node_condition_ready", "true"),
            ("k8s_node_condition_memorypressure", "false"),
        ],
    ));
    problems.extend(expect(
        &ours,
        "k8s-node",
        &[("k8s_node_name", "node-c")],
        &[("addr", "node-c.internal:10250")],
    ));
    problems.extend(expect(
        &ours,
        "k8s-pod",
        &[("addr", "127.0.1.11:8080")],
        &[
            ("k8s_pod_container_id", "containerd://abcde01"),
            (
                "k8s_pod_container_image",
                "registry.example.com/shop/web:2.7.1",
            ),
        ],
    ));
    problems.extend(expect(
        &ours,
        "k8s-service",
        &[("addr", "frontend.shop.svc:443")],
        &[
            ("k8s_service_port_number", "443"),
            // Prometheus main after v3.14: status.loadBalancer.ingress IPs win over spec.
            ("k8s_service_loadbalancer_ip", "127.0.40.2"),
        ],
    ));
    problems.extend(expect(
        &ours,
        "k8s-endpointslice",
        &[("addr", "127.0.1.13:8080")],
        &[
            ("k8s_endpointslice_endpoint_conditions_ready", "false"),
            ("k8s_endpointslice_endpoint_conditions_serving", "true"),
            ("k8s_endpointslice_endpoint_conditions_terminating", "true"),
            ("k8s_endpointslice_endpoint_node_name", "node-a"),
            ("k8s_endpointslice_endpoint_zone", "zone-1"),
        ],
    ));
    for job in ["k8s-endpoints", "k8s-endpointslice"] {
        problems.extend(expect(
            &ours,
            job,
            &[("addr", "127.0.1.11:5005")],
            &[
                ("k8s_pod_container_init", "true"),
                ("k8s_pod_container_name", "migrate"),
                ("k8s_pod_container_port_name", "debug"),
            ],
        ));
        problems.extend(expect(
            &ours,
            job,
            &[("addr", "127.0.1.11:9090")],
            &[
                (
                    "k8s_pod_container_image",
                    "registry.example.com/shop/web:2.7.1",
                ),
                ("k8s_pod_container_init", "false"),
            ],
        ));
    }
    assert_no_diffs(
        "initial cluster: Prometheus rules vmagent cannot referee",
        &problems,
        &[&env.mini],
    );
    eprintln!("initial cluster: {total} targets, spot checks pass");

    // Step 1: scale up: a third web replica and its endpoints.
    api.apply(web_pod("klmno", "node-c", "127.0.1.14", "127.0.10.3", true))
        .unwrap_or_else(|e| panic!("{e}"));
    // Prometheus joins pods into endpoints when the Endpoints object changes, not when a pod is
    // added: wait for the pod first, as the endpoints controller would.
    env.converge("new pod", has("k8s-pod", &[("addr", "127.0.1.14:8080")]))
        .await;
    api.apply(web_endpoints(
        &[
            ("127.0.1.11", "node-a", "web-5d8f7c9b6-abcde"),
            ("127.0.1.14", "node-c", "web-5d8f7c9b6-klmno"),
        ],
        &[("127.0.1.12", "node-b", "web-5d8f7c9b6-fghij")],
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    api.apply(web_slice(&[
        (
            "127.0.1.11",
            "node-a",
            "web-5d8f7c9b6-abcde",
            "zone-1",
            true,
            true,
            false,
        ),
        (
            "127.0.1.12",
            "node-b",
            "web-5d8f7c9b6-fghij",
            "zone-2",
            false,
            false,
            false,
        ),
        (
            "127.0.1.13",
            "node-a",
            "web-5d8f7c9b6-old12",
            "zone-1",
            false,
            true,
            true,
        ),
        (
            "127.0.1.14",
            "node-c",
            "web-5d8f7c9b6-klmno",
            "zone-1",
            true,
            true,
            false,
        ),
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    env.converge("scale up", |v| {
        find(v, "k8s-pod", &[("addr", "127.0.1.14:8080")])?;
        find(v, "k8s-endpoints", &[("addr", "127.0.1.14:9090")])?;
        find(v, "k8s-endpointslice", &[("addr", "127.0.1.14:8080")]).map(|_| ())
    })
    .await;

    // Step 2a: the not-ready replica becomes ready. Prometheus' endpoints role re-joins a pod
    // only when its phase changes, vmagent on any change, so the endpoints targets may differ
    // until the next step: only wait for the pod role here.
    api.apply(web_pod("fghij", "node-b", "127.0.1.12", "127.0.20.2", true))
        .unwrap_or_else(|e| panic!("{e}"));
    env.wait_for(
        "pod ready",
        has(
            "k8s-pod",
            &[("addr", "127.0.1.12:8080"), ("k8s_pod_ready", "true")],
        ),
    )
    .await;

    // Step 2b: a node, a service and an ingress change. The service change re-emits its
    // Endpoints and EndpointSlices in Prometheus, joined with the pod's current state.
    api.apply(node(
        "node-a",
        &[
            ("InternalIP", "127.0.10.1"),
            ("ExternalIP", "127.0.20.1"),
            ("Hostname", "node-a"),
        ],
        "zone-3",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let mut web = service(
        "shop",
        "web",
        json!({"type": "ClusterIP", "clusterIP": "127.0.30.10", "clusterIPs": ["127.0.30.10"],
            "selector": {"app.kubernetes.io/name": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"}]}),
        json!({}),
    );
    web["metadata"]["annotations"]["prometheus.io/probe"] = json!("false");
    web["metadata"]["labels"]["tier"] = json!("frontend");
    api.apply(web).unwrap_or_else(|e| panic!("{e}"));
    api.apply(storefront(true))
        .unwrap_or_else(|e| panic!("{e}"));
    env.converge("node, service and ingress changed", |v| {
        find(
            v,
            "k8s-pod",
            &[("addr", "127.0.1.12:8080"), ("k8s_pod_ready", "true")],
        )?;
        find(
            v,
            "k8s-node",
            &[
                ("k8s_node_name", "node-a"),
                ("k8s_node_label_topology_kubernetes_io_zone", "zone-3"),
            ],
        )?;
        find(
            v,
            "k8s-service",
            &[
                ("addr", "web.shop.svc:80"),
                ("k8s_service_label_tier", "frontend"),
            ],
        )?;
        // The endpoints role re-reads the service when the service changes.
        find(
            v,
            "k8s-endpoints",
            &[
                ("addr", "127.0.1.11:8080"),
                ("k8s_service_label_tier", "frontend"),
            ],
        )?;
        find(v, "k8s-ingress", &[("k8s_ingress_path", "/checkout")]).map(|_| ())
    })
    .await;

    // Step 2c: the endpoints controller moves the replica to the ready addresses.
    api.apply(web_endpoints(
        &[
            ("127.0.1.11", "node-a", "web-5d8f7c9b6-abcde"),
            ("127.0.1.12", "node-b", "web-5d8f7c9b6-fghij"),
            ("127.0.1.14", "node-c", "web-5d8f7c9b6-klmno"),
        ],
        &[],
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    api.apply(web_slice(&[
        (
            "127.0.1.11",
            "node-a",
            "web-5d8f7c9b6-abcde",
            "zone-1",
            true,
            true,
            false,
        ),
        (
            "127.0.1.12",
            "node-b",
            "web-5d8f7c9b6-fghij",
            "zone-2",
            true,
            true,
            false,
        ),
        (
            "127.0.1.14",
            "node-c",
            "web-5d8f7c9b6-klmno",
            "zone-1",
            true,
            true,
            false,
        ),
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    env.converge("endpoints ready", |v| {
        find(
            v,
            "k8s-endpoints",
            &[
                ("addr", "127.0.1.12:8080"),
                ("k8s_endpoint_ready", "true"),
                ("k8s_pod_ready", "true"),
            ],
        )?;
        find(
            v,
            "k8s-endpointslice",
            &[
                ("addr", "127.0.1.12:8080"),
                ("k8s_endpointslice_endpoint_conditions_ready", "true"),
            ],
        )?;
        match find(v, "k8s-endpointslice", &[("addr", "127.0.1.13:8080")]) {
            Ok(_) => Err("terminating endpoint 127.0.1.13 still there".into()),
            Err(_) => Ok(()),
        }
    })
    .await;

    // Step 3: deletions: an ingress, a service, a finished job's pod, a node.
    for obj in [
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "docs", "namespace": "search"}}),
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "wiki", "namespace": "search"}}),
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "nightly-report-28123456-q9x8z", "namespace": "shop"}}),
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-c"}}),
    ] {
        let existed = api.delete(&obj).unwrap_or_else(|e| panic!("{e}"));
        assert!(existed, "deleting {obj}: not in the double");
    }
    let gone = |job: &'static str, label: &'static str, value: &'static str| {
        move |v: &View| -> Result<(), String> {
            if v.get(job)
                .into_iter()
                .flatten()
                .any(|ls| ls.get(label).map(String::as_str) == Some(value))
            {
                Err(format!(
                    "job {job:?}: a target with {label}={value:?} is still there"
                ))
            } else {
                Ok(())
            }
        }
    };
    let checks = [
        gone("k8s-ingress", "k8s_ingress_name", "docs"),
        gone("k8s-service", "k8s_service_name", "wiki"),
        gone("k8s-pod", "k8s_pod_name", "nightly-report-28123456-q9x8z"),
        gone("k8s-node", "k8s_node_name", "node-c"),
    ];
    env.converge("deletions", |v| checks.iter().try_for_each(|c| c(v)))
        .await;
    eprintln!("all steps equal after {:?}", started.elapsed());
}
