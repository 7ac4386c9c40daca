//! Object builders for the event-order tests: a namespace, nodes, pods owned by ReplicaSets of
//! Deployments, services with an Endpoints object and an EndpointSlice naming pods.
#![allow(dead_code)]

use serde_json::{Value, json};

/// A namespace with labels.
pub fn namespace(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

/// A node with labels and an internal IP.
pub fn node(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
           "status": {"addresses": [{"type": "InternalIP", "address": format!("10.9.0.{}", name.len())}],
                      "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}})
}

/// A pod with one container port 8080 on `node`, controlled by ReplicaSet `rs` if given.
pub fn pod(ns: &str, name: &str, ip: &str, node: &str, labels: Value, rs: Option<&str>) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "labels": labels},
           "spec": {"nodeName": node, "containers": [{"name": "app", "image": "app:1",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
           "status": {"phase": "Running", "podIP": ip, "hostIP": "10.0.0.1",
                      "conditions": [{"type": "Ready", "status": "True"}],
                      "containerStatuses": [{"name": "app", "containerID": format!("containerd://{name}")}]}});
    if let Some(rs) = rs {
        p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "name": rs, "uid": format!("uid-{rs}"), "controller": true}]);
    }
    p
}

/// A ReplicaSet controlled by Deployment `deployment`.
pub fn replicaset(ns: &str, name: &str, deployment: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
           "metadata": {"name": name, "namespace": ns, "ownerReferences": [{"apiVersion": "apps/v1",
               "kind": "Deployment", "name": deployment, "uid": format!("uid-{deployment}"), "controller": true}]}})
}

/// A service with port 8080 and labels.
pub fn service(ns: &str, name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "labels": labels},
           "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}})
}

/// (pod name, pod IP, node) of an address.
pub type Addr<'a> = (&'a str, &'a str, &'a str);

/// The EndpointSlice of service `svc` naming `pods`.
pub fn slice(ns: &str, svc: &str, pods: &[Addr<'_>]) -> Value {
    let endpoints: Vec<Value> = pods
        .iter()
        .map(|(name, ip, node)| {
            json!({"addresses": [ip], "conditions": {"ready": true}, "nodeName": node,
                   "targetRef": {"kind": "Pod", "name": name, "namespace": ns}})
        })
        .collect();
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": format!("{svc}-abc"), "namespace": ns,
                        "labels": {"kubernetes.io/service-name": svc}},
           "addressType": "IPv4", "endpoints": endpoints,
           "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
}

/// The Endpoints of service `svc` naming `pods`.
pub fn endpoints(ns: &str, svc: &str, pods: &[Addr<'_>]) -> Value {
    let addresses: Vec<Value> = pods
        .iter()
        .map(|(name, ip, node)| {
            json!({"ip": ip, "nodeName": node, "targetRef": {"kind": "Pod", "name": name, "namespace": ns}})
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": svc, "namespace": ns},
           "subsets": [{"addresses": addresses, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]})
}

/// Every plural the tests store.
pub const PLURALS: &[&str] = &[
    "namespaces",
    "nodes",
    "pods",
    "replicasets",
    "services",
    "endpoints",
    "endpointslices",
];
