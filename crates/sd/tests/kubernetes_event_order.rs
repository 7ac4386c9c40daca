//! Discovery converges whatever the order of watch events across resources (issue 18).
//!
//! Each scenario starts discovery against the API server double, then changes objects in an
//! order chosen to expose a stale target (a pod arriving after the EndpointSlice naming it, a
//! pod, node, namespace or owner changing under a group built from it, a pod deleted while its
//! slice still names it). Each runs three ways: with the watches live, with the changes made
//! while every watch is disconnected (resumed from the last resourceVersion), and with the
//! history compacted during the disconnection (`410 Gone`, relist). Afterwards the collected
//! groups must equal, exactly, those of a fresh discovery over a list of the final objects,
//! and the label that would be stale is checked by value.

mod kubernetes_util;
#[path = "kubernetes_event_order/objects.rs"]
mod objects;

use std::time::Duration;

use kubernetes_util::{Groups, Harness, diff};
use objects::{PLURALS, endpoints, namespace, node, pod, replicaset, service, slice};
use scrapeline_sd::TargetGroup;
use scrapeline_testkit::apiserver::ApiServer;
use serde_json::{Value, json};

/// How the changes reach discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Over the open watches.
    Live,
    /// Made while every watch is disconnected; the watches resume.
    Dropped,
    /// Made while disconnected, then the history is compacted: the watches get `410 Gone`
    /// and relist.
    Gone,
}

const MODES: [Mode; 3] = [Mode::Live, Mode::Dropped, Mode::Gone];

/// A change to the cluster.
#[derive(Debug, Clone)]
pub enum Op {
    /// Create or replace.
    Apply(Value),
    /// Delete.
    Delete(Value),
}

/// Groups without removed ones (a deleted object's empty group), for comparing with a fresh
/// discovery, which never saw them.
pub fn live(groups: Groups) -> Groups {
    groups
        .into_iter()
        .filter(|(_, g)| !(g.targets.is_empty() && g.labels.is_empty()))
        .collect()
}

/// The groups a fresh discovery builds from a list of `server`'s objects now.
pub async fn oracle(server: &ApiServer, config: &Value) -> Groups {
    let fresh = ApiServer::start().await.expect("double starts");
    for plural in PLURALS {
        for o in server.objects(plural) {
            fresh.apply(o).expect("object accepted");
        }
    }
    let mut h = Harness::start_on(fresh, config, "x").await;
    h.wait_initial().await;
    live(h.groups())
}

/// Waits until `h`'s live groups equal `want` and stay equal for a short idle period.
pub async fn converge(h: &Harness, want: &Groups) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if live(h.groups()) == *want {
            tokio::time::sleep(Duration::from_millis(150)).await;
            if live(h.groups()) == *want {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(diff(want, &live(h.groups())));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Plurals a role's discovery watches (the ones a fault scenario waits for before dropping).
fn watched(config: &Value) -> Vec<&'static str> {
    let attach = |k: &str| config["attach_metadata"][k].as_bool().unwrap_or(false);
    let mut v = match config["role"].as_str().unwrap_or("") {
        "pod" => vec!["pods"],
        "endpoints" => vec!["endpoints", "pods", "services"],
        "endpointslice" => vec!["endpointslices", "pods", "services"],
        "service" => vec!["services"],
        "ingress" => vec!["ingresses"],
        _ => vec!["nodes"],
    };
    if attach("node") && !v.contains(&"nodes") {
        v.push("nodes");
    }
    if attach("namespace") {
        v.push("namespaces");
    }
    if attach("deployment") {
        v.push("replicasets");
    }
    v
}

/// Applies `ops` to the double behind `h` as `mode` says, waits for convergence with a fresh
/// discovery of the final objects and returns the live groups.
pub async fn run_ops(h: &Harness, config: &Value, ops: &[Op], mode: Mode) -> Groups {
    let plurals = watched(config);
    if mode != Mode::Live {
        for p in &plurals {
            let lists_and_watch = h.server.wait_watches(p, 1, Duration::from_secs(5)).await;
            assert!(lists_and_watch, "{p} watched");
        }
        h.server.drop_watches();
    }
    for op in ops {
        match op {
            Op::Apply(o) => {
                h.server.apply(o.clone()).expect("apply");
            }
            Op::Delete(o) => {
                h.server.delete(o).expect("delete");
            }
        }
    }
    if mode == Mode::Gone {
        h.server.compact();
    }
    let want = oracle(&h.server, config).await;
    if let Err(d) = converge(h, &want).await {
        panic!("{mode:?}: did not converge to a fresh discovery's groups:\n{d}");
    }
    if mode == Mode::Gone {
        let lists = h.server.stats().lists;
        for p in &plurals {
            assert!(
                lists.get(*p).copied().unwrap_or(0) >= 2,
                "{mode:?}: {p} relisted after 410 Gone ({lists:?})"
            );
        }
    }
    want
}

/// Runs one scenario in the three modes; `check` sees the converged groups of each.
async fn scenario(config: Value, initial: Vec<Value>, ops: Vec<Op>, check: impl Fn(&Groups)) {
    for mode in MODES {
        let server = ApiServer::start().await.expect("double starts");
        for o in &initial {
            server.apply(o.clone()).expect("object accepted");
        }
        let mut h = Harness::start_on(server, &config, "x").await;
        h.wait_initial().await;
        let groups = run_ops(&h, &config, &ops, mode).await;
        check(&groups);
    }
}

fn group<'a>(groups: &'a Groups, source: &str) -> &'a TargetGroup {
    groups
        .get(source)
        .unwrap_or_else(|| panic!("group {source} in {:?}", groups.keys()))
}

/// The single target of group `source` with `__address__` `addr`.
fn target<'a>(groups: &'a Groups, source: &str, addr: &str) -> Vec<(&'a str, &'a str)> {
    let g = group(groups, source);
    let hits: Vec<_> = g
        .targets
        .iter()
        .filter(|t| t.get("__address__") == Some(addr))
        .collect();
    assert_eq!(hits.len(), 1, "one target {addr} in {source}: {g:?}");
    hits[0].iter().map(|l| (l.name, l.value)).collect()
}

fn has(labels: &[(&str, &str)], name: &str, value: &str) -> bool {
    labels.contains(&(name, value))
}

fn named(labels: &[(&str, &str)], prefix: &str) -> Vec<String> {
    labels
        .iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(n, v)| format!("{n}={v}"))
        .collect()
}

const NS: &str = "ns";
const SLICE: &str = "endpointslice/ns/s1-abc";
const EPS: &str = "endpoints/ns/s1";
const P1: (&str, &str, &str) = ("p1", "10.1.0.1", "n1");

fn p1(labels: Value) -> Value {
    pod(NS, "p1", "10.1.0.1", "n1", labels, None)
}

/// The pod labels a target built from p1 carries (`app` label only).
fn p1_labels(app: &str) -> Vec<String> {
    let mut v = vec![
        "__meta_kubernetes_pod_container_image=app:1".to_string(),
        "__meta_kubernetes_pod_container_init=false".into(),
        "__meta_kubernetes_pod_container_name=app".into(),
        "__meta_kubernetes_pod_container_port_name=http".into(),
        "__meta_kubernetes_pod_container_port_number=8080".into(),
        "__meta_kubernetes_pod_container_port_protocol=TCP".into(),
        "__meta_kubernetes_pod_host_ip=10.0.0.1".into(),
        "__meta_kubernetes_pod_ip=10.1.0.1".into(),
        format!("__meta_kubernetes_pod_label_app={app}"),
        "__meta_kubernetes_pod_labelpresent_app=true".into(),
        "__meta_kubernetes_pod_name=p1".into(),
        "__meta_kubernetes_pod_node_name=n1".into(),
        "__meta_kubernetes_pod_phase=Running".into(),
        "__meta_kubernetes_pod_ready=true".into(),
        "__meta_kubernetes_pod_uid=uid-p1".into(),
    ];
    v.sort();
    v
}

fn role(role: &str) -> Value {
    json!({"role": role})
}

/// EndpointSlice created, then the pod it names: the target gains the pod's labels.
#[tokio::test]
async fn slice_then_pod() {
    let ops = vec![
        Op::Apply(slice(NS, "s1", &[P1])),
        Op::Apply(p1(json!({"app": "v1"}))),
    ];
    let initial = vec![service(NS, "s1", json!({}))];
    scenario(role("endpointslice"), initial, ops, |g| {
        let t = target(g, SLICE, "10.1.0.1:8080");
        assert_eq!(named(&t, "__meta_kubernetes_pod_"), p1_labels("v1"));
    })
    .await;
}

/// The slice exists at start and names a pod that does not: the pod's later arrival rebuilds it.
#[tokio::test]
async fn pod_after_slice_at_start() {
    let initial = vec![service(NS, "s1", json!({})), slice(NS, "s1", &[P1])];
    let ops = vec![Op::Apply(p1(json!({"app": "v1"})))];
    scenario(role("endpointslice"), initial, ops, |g| {
        let t = target(g, SLICE, "10.1.0.1:8080");
        assert_eq!(named(&t, "__meta_kubernetes_pod_"), p1_labels("v1"));
    })
    .await;
}

/// Pod created, then the slice naming it.
#[tokio::test]
async fn pod_then_slice() {
    let ops = vec![
        Op::Apply(p1(json!({"app": "v1"}))),
        Op::Apply(slice(NS, "s1", &[P1])),
    ];
    let initial = vec![service(NS, "s1", json!({}))];
    scenario(role("endpointslice"), initial, ops, |g| {
        let t = target(g, SLICE, "10.1.0.1:8080");
        assert_eq!(named(&t, "__meta_kubernetes_pod_"), p1_labels("v1"));
    })
    .await;
}

/// Endpoints role: the pod arrives after the Endpoints naming it.
#[tokio::test]
async fn endpoints_then_pod() {
    let initial = vec![service(NS, "s1", json!({})), endpoints(NS, "s1", &[P1])];
    let ops = vec![Op::Apply(p1(json!({"app": "v1"})))];
    scenario(role("endpoints"), initial, ops, |g| {
        // Endpoints targets carry no container ID (as Prometheus' endpoints role).
        let t = target(g, EPS, "10.1.0.1:8080");
        assert_eq!(named(&t, "__meta_kubernetes_pod_"), p1_labels("v1"));
    })
    .await;
}

/// A pod label changes, its slice does not: the slice's target follows.
#[tokio::test]
async fn pod_label_change_reaches_slice_targets() {
    let initial = vec![
        service(NS, "s1", json!({})),
        p1(json!({"app": "v1"})),
        slice(NS, "s1", &[P1]),
    ];
    let ops = vec![Op::Apply(p1(json!({"app": "v2"})))];
    scenario(role("endpointslice"), initial, ops, |g| {
        let t = target(g, SLICE, "10.1.0.1:8080");
        assert_eq!(named(&t, "__meta_kubernetes_pod_"), p1_labels("v2"));
    })
    .await;
}

/// Same for the Endpoints role (Prometheus re-emits there only on a phase change).
#[tokio::test]
async fn pod_label_change_reaches_endpoints_targets() {
    let initial = vec![
        service(NS, "s1", json!({})),
        p1(json!({"app": "v1"})),
        endpoints(NS, "s1", &[P1]),
    ];
    let ops = vec![Op::Apply(p1(json!({"app": "v2"})))];
    scenario(role("endpoints"), initial, ops, |g| {
        let t = target(g, EPS, "10.1.0.1:8080");
        assert!(has(&t, "__meta_kubernetes_pod_label_app", "v2"), "{t:?}");
        assert!(!has(&t, "__meta_kubernetes_pod_label_app", "v1"), "{t:?}");
    })
    .await;
}

/// A pod is deleted while its slice still names it: the target stays, without pod labels.
#[tokio::test]
async fn pod_deleted_while_slice_names_it() {
    let initial = vec![
        service(NS, "s1", json!({})),
        p1(json!({"app": "v1"})),
        slice(NS, "s1", &[P1]),
    ];
    let ops = vec![Op::Delete(p1(json!({})))];
    scenario(role("endpointslice"), initial, ops, |g| {
        let t = target(g, SLICE, "10.1.0.1:8080");
        assert_eq!(named(&t, "__meta_kubernetes_pod_"), Vec::<String>::new());
        assert!(has(
            &t,
            "__meta_kubernetes_endpointslice_address_target_name",
            "p1"
        ));
        assert_eq!(group(g, SLICE).targets.len(), 1);
    })
    .await;
}

/// A service label change reaches the slice's group labels.
#[tokio::test]
async fn service_label_change_reaches_slice_group() {
    let initial = vec![
        service(NS, "s1", json!({"tier": "a"})),
        slice(NS, "s1", &[P1]),
    ];
    let ops = vec![Op::Apply(service(NS, "s1", json!({"tier": "b"})))];
    scenario(role("endpointslice"), initial, ops, |g| {
        let labels = &group(g, SLICE).labels;
        assert_eq!(
            labels.get("__meta_kubernetes_service_label_tier"),
            Some("b")
        );
    })
    .await;
}

fn attach(role: &str, what: &str) -> Value {
    json!({"role": role, "attach_metadata": {what: true}})
}

/// A node label change with `attach_metadata.node`: pod and slice targets follow.
#[tokio::test]
async fn node_label_change_with_attach_metadata() {
    let initial = vec![
        node("n1", json!({"zone": "a"})),
        service(NS, "s1", json!({})),
        p1(json!({"app": "v1"})),
        slice(NS, "s1", &[P1]),
    ];
    let ops = vec![Op::Apply(node("n1", json!({"zone": "b"})))];
    scenario(
        attach("endpointslice", "node"),
        initial.clone(),
        ops.clone(),
        |g| {
            let t = target(g, SLICE, "10.1.0.1:8080");
            assert_eq!(
                named(&t, "__meta_kubernetes_node_"),
                [
                    "__meta_kubernetes_node_label_zone=b",
                    "__meta_kubernetes_node_labelpresent_zone=true",
                    "__meta_kubernetes_node_name=n1"
                ]
            );
        },
    )
    .await;
    scenario(attach("pod", "node"), initial, ops, |g| {
        let labels = &group(g, "pod/ns/p1").labels;
        assert_eq!(labels.get("__meta_kubernetes_node_label_zone"), Some("b"));
    })
    .await;
}

/// The pod's node arrives after the pod (`attach_metadata.node`): the pod role emits the pod
/// once its node is known.
#[tokio::test]
async fn node_after_pod_with_attach_metadata() {
    let initial = vec![p1(json!({"app": "v1"}))];
    let ops = vec![Op::Apply(node("n1", json!({"zone": "a"})))];
    scenario(attach("pod", "node"), initial, ops, |g| {
        let labels = &group(g, "pod/ns/p1").labels;
        assert_eq!(labels.get("__meta_kubernetes_node_label_zone"), Some("a"));
        assert_eq!(group(g, "pod/ns/p1").targets.len(), 1);
    })
    .await;
}

/// A namespace label change with `attach_metadata.namespace` (Prometheus 3 has it): every
/// group in the namespace follows; a namespace created after its objects too.
#[tokio::test]
async fn namespace_label_change_with_attach_metadata() {
    let initial = vec![
        namespace(NS, json!({"team": "a"})),
        service(NS, "s1", json!({})),
        p1(json!({"app": "v1"})),
        slice(NS, "s1", &[P1]),
    ];
    let ops = vec![Op::Apply(namespace(NS, json!({"team": "b"})))];
    for r in ["endpointslice", "pod", "service"] {
        let source = match r {
            "endpointslice" => SLICE,
            "pod" => "pod/ns/p1",
            _ => "svc/ns/s1",
        };
        scenario(attach(r, "namespace"), initial.clone(), ops.clone(), |g| {
            let labels = &group(g, source).labels;
            assert_eq!(
                labels.get("__meta_kubernetes_namespace_label_team"),
                Some("b"),
                "{source}: {labels:?}"
            );
        })
        .await;
    }
    let late = vec![Op::Apply(namespace(NS, json!({"team": "c"})))];
    scenario(
        attach("pod", "namespace"),
        initial[2..3].to_vec(),
        late,
        |g| {
            let labels = &group(g, "pod/ns/p1").labels;
            assert_eq!(
                labels.get("__meta_kubernetes_namespace_label_team"),
                Some("c")
            );
        },
    )
    .await;
}

/// The owner chain changes (`attach_metadata.deployment`): the ReplicaSet now belongs to
/// another Deployment; pod and slice targets follow. Then the pod moves to another ReplicaSet.
#[tokio::test]
async fn owner_change_with_attach_metadata() {
    let owned = |rs: &str| pod(NS, "p1", "10.1.0.1", "n1", json!({"app": "v1"}), Some(rs));
    let initial = vec![
        replicaset(NS, "r1", "d1"),
        service(NS, "s1", json!({})),
        owned("r1"),
        slice(NS, "s1", &[P1]),
    ];
    let ops = vec![
        Op::Apply(replicaset(NS, "r1", "d2")),
        Op::Apply(replicaset(NS, "r2", "d3")),
    ];
    let both = |g: &Groups, want: &str| {
        if g.contains_key(SLICE) {
            let t = target(g, SLICE, "10.1.0.1:8080");
            assert!(
                has(&t, "__meta_kubernetes_pod_deployment_name", want),
                "{t:?}"
            );
        } else {
            let labels = &group(g, "pod/ns/p1").labels;
            assert_eq!(
                labels.get("__meta_kubernetes_pod_deployment_name"),
                Some(want)
            );
        }
    };
    for r in ["endpointslice", "pod"] {
        scenario(attach(r, "deployment"), initial.clone(), ops.clone(), |g| {
            both(g, "d2")
        })
        .await;
        let mut moved = ops.clone();
        moved.push(Op::Apply(owned("r2")));
        scenario(attach(r, "deployment"), initial.clone(), moved, |g| {
            both(g, "d3")
        })
        .await;
        // The ReplicaSet arrives after the pod it owns.
        let late = vec![Op::Apply(replicaset(NS, "r1", "d4"))];
        let without_rs = initial[1..].to_vec();
        scenario(attach(r, "deployment"), without_rs, late, |g| both(g, "d4")).await;
    }
}

/// One step of the property test's random history.
#[derive(Debug, Clone)]
enum Step {
    /// Set object `which` of kind `kind` to variant `variant`, or delete it (`variant` 0).
    Object { kind: u8, which: u8, variant: u8 },
    /// Abort every open watch (they resume from their last resourceVersion).
    DropWatches,
    /// Forget the history (a watch resuming from before now gets `410 Gone` and relists).
    Compact,
}

const PODS: [(&str, &str); 4] = [
    ("p1", "10.1.0.1"),
    ("p2", "10.1.0.2"),
    ("p3", "10.1.0.3"),
    ("p4", "10.1.0.4"),
];

/// The object (or, for a delete, an object naming it) a step sets; `None` for faults.
fn step_object(kind: u8, which: u8, variant: u8) -> Value {
    let v = usize::from(variant);
    let w = usize::from(which);
    let pick = |xs: &[&'static str], n: usize| xs[n % xs.len()];
    match kind % 6 {
        0 => namespace(NS, json!({"team": pick(&["a", "b", "c"], v)})),
        1 => node(
            pick(&["n1", "n2"], w),
            json!({"zone": pick(&["a", "b", "c"], v)}),
        ),
        2 => replicaset(NS, pick(&["r1", "r2"], w), pick(&["d1", "d2", "d3"], v)),
        3 => {
            let (name, ip) = PODS[w % PODS.len()];
            let rs = [None, Some("r1"), Some("r2")][v % 3];
            let labels = json!({"app": pick(&["v1", "v2", "v3"], v / 3)});
            pod(NS, name, ip, pick(&["n1", "n2"], v / 2), labels, rs)
        }
        4 => service(
            NS,
            pick(&["s1", "s2"], w),
            json!({"tier": pick(&["a", "b"], v)}),
        ),
        _ => {
            // Which pods the service's slice and endpoints name: a subset from the variant's bits.
            let svc = pick(&["s1", "s2"], w);
            let nodes = ["n1", "n2"];
            let addrs: Vec<(&str, &str, &str)> = PODS
                .iter()
                .enumerate()
                .filter(|(i, _)| v & (1 << i) != 0)
                .map(|(i, (n, ip))| (*n, *ip, nodes[i % 2]))
                .collect();
            if w / 2 % 2 == 0 {
                slice(NS, svc, &addrs)
            } else {
                endpoints(NS, svc, &addrs)
            }
        }
    }
}

fn step_strategy() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        20 => (0u8..6, 0u8..4, 0u8..16).prop_map(|(kind, which, variant)| Step::Object { kind, which, variant }),
        1 => Just(Step::DropWatches),
        1 => Just(Step::Compact),
    ]
}

fn apply_step(server: &ApiServer, step: &Step) {
    match step {
        Step::Object {
            kind,
            which,
            variant,
        } => {
            let o = step_object(*kind, *which, *variant);
            // One variant in five deletes the object instead.
            if *variant % 5 == 4 {
                server.delete(&o).expect("delete");
            } else {
                server.apply(o).expect("apply");
            }
        }
        Step::DropWatches => server.drop_watches(),
        Step::Compact => server.compact(),
    }
}

/// Random histories of namespace, node, ReplicaSet, pod, service, EndpointSlice and Endpoints
/// changes, deletes, watch drops and compactions, applied in a random interleaving across
/// resources (each resource's own order is its order in the history; the double streams each
/// watch in order): part before discovery starts, the rest while it runs. Afterwards the
/// groups equal those of a fresh discovery over a list of the final objects.
#[test]
fn any_interleaving_converges_to_a_fresh_discovery() {
    use proptest::prelude::*;
    let config = ProptestConfig {
        cases: 64,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let roles = ["pod", "endpoints", "endpointslice", "service"];
    proptest!(config, |(role in 0usize..4, steps in prop::collection::vec(step_strategy(), 1..30), split in 0usize..30)| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let result: Result<(), String> = rt.block_on(async {
            let config = json!({"role": roles[role],
                                "attach_metadata": {"node": true, "namespace": true, "deployment": true}});
            let server = ApiServer::start().await.expect("double starts");
            let split = split.min(steps.len());
            for s in &steps[..split] {
                apply_step(&server, s);
            }
            let mut h = Harness::start_on(server, &config, "x").await;
            h.wait_initial().await;
            for s in &steps[split..] {
                apply_step(&h.server, s);
                tokio::task::yield_now().await;
            }
            let want = oracle(&h.server, &config).await;
            converge(&h, &want).await
        });
        prop_assert!(result.is_ok(), "{}", result.err().unwrap_or_default());
    });
}
