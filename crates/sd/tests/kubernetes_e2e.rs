//! End-to-end tests per role through the API server double: create, modify and delete objects
//! while watching, and assert the exact groups. Plus watch sharing and node-local selectors.

mod kubernetes_util;

use std::sync::Arc;
use std::time::Duration;

use kubernetes_util::{Groups, Harness, gone, pod, pod_group, test_env, want};
use scrapeline_sd::config::KubernetesSdConfig;
use scrapeline_sd::kubernetes::{KubeContext, KubernetesDiscoverer};
use scrapeline_testkit::apiserver::ApiServer;
use serde_json::{Value, json};

use tokio::sync::mpsc;

#[tokio::test]
async fn pod_role_create_modify_delete() {
    let initial = [pod("default", "a", "10.1.0.1", "n1", json!({"app": "web"}))];
    let mut h = Harness::start(&initial, &json!({"role": "pod"}), "own").await;
    h.wait_initial().await;
    assert_eq!(
        h.groups(),
        want(vec![pod_group(
            "default",
            "a",
            "10.1.0.1",
            "n1",
            &[("app", "web")]
        )])
    );

    h.server
        .apply(pod("default", "b", "10.1.0.2", "n2", json!({})))
        .unwrap();
    h.converge(&want(vec![
        pod_group("default", "a", "10.1.0.1", "n1", &[("app", "web")]),
        pod_group("default", "b", "10.1.0.2", "n2", &[]),
    ]))
    .await
    .unwrap();

    h.server
        .apply(pod("default", "a", "10.1.0.9", "n1", json!({"app": "api"})))
        .unwrap();
    h.server
        .delete(&pod("default", "b", "", "", json!({})))
        .unwrap();
    h.converge(&want(vec![
        pod_group("default", "a", "10.1.0.9", "n1", &[("app", "api")]),
        gone("pod/default/b"),
    ]))
    .await
    .unwrap();
}

#[tokio::test]
async fn node_role_create_modify_delete() {
    let node = |name: &str, ip: &str| {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"zone": "a"}},
               "status": {"addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}],
                          "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                          "conditions": [{"type": "Ready", "status": "True"}]}})
    };
    let group = |name: &str, ip: &str| {
        json!({"source": format!("node/{name}"),
               "labels": {"__meta_kubernetes_node_name": name, "__meta_kubernetes_node_provider_id": "",
                          "__meta_kubernetes_node_condition_ready": "true",
                          "__meta_kubernetes_node_label_zone": "a", "__meta_kubernetes_node_labelpresent_zone": "true"},
               "targets": [{"__address__": format!("{ip}:10250"), "instance": name,
                            "__meta_kubernetes_node_address_Hostname": name,
                            "__meta_kubernetes_node_address_InternalIP": ip}]})
    };
    let mut h = Harness::start(&[node("n1", "10.0.0.1")], &json!({"role": "node"}), "x").await;
    h.wait_initial().await;
    assert_eq!(h.groups(), want(vec![group("n1", "10.0.0.1")]));
    h.server.apply(node("n2", "10.0.0.2")).unwrap();
    h.server.apply(node("n1", "10.0.0.3")).unwrap();
    h.converge(&want(vec![
        group("n1", "10.0.0.3"),
        group("n2", "10.0.0.2"),
    ]))
    .await
    .unwrap();
    h.server.delete(&node("n2", "")).unwrap();
    h.converge(&want(vec![group("n1", "10.0.0.3"), gone("node/n2")]))
        .await
        .unwrap();
}

#[tokio::test]
async fn service_role_create_modify_delete() {
    let svc = |name: &str, port: i64| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"},
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"name": "web", "port": port, "protocol": "TCP"}]}})
    };
    let group = |name: &str, port: i64| {
        json!({"source": format!("svc/ns/{name}"),
               "labels": {"__meta_kubernetes_namespace": "ns", "__meta_kubernetes_service_name": name},
               "targets": [{"__address__": format!("{name}.ns.svc:{port}"),
                            "__meta_kubernetes_service_port_name": "web",
                            "__meta_kubernetes_service_port_number": port.to_string(),
                            "__meta_kubernetes_service_port_protocol": "TCP",
                            "__meta_kubernetes_service_type": "ClusterIP",
                            "__meta_kubernetes_service_cluster_ip": "10.96.0.1"}]})
    };
    let mut h = Harness::start(&[], &json!({"role": "service"}), "x").await;
    h.wait_initial().await;
    assert_eq!(h.groups(), Groups::new());
    h.server.apply(svc("s1", 80)).unwrap();
    h.converge(&want(vec![group("s1", 80)])).await.unwrap();
    h.server.apply(svc("s1", 8080)).unwrap();
    h.converge(&want(vec![group("s1", 8080)])).await.unwrap();
    h.server.delete(&svc("s1", 0)).unwrap();
    h.converge(&want(vec![gone("svc/ns/s1")])).await.unwrap();
}

fn endpoints(ips: &[&str]) -> Value {
    let addrs: Vec<Value> = ips
        .iter()
        .map(|ip| json!({"ip": ip, "targetRef": {"kind": "Pod", "namespace": "ns", "name": format!("p{}", &ip[ip.len()-1..])}}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "svc", "namespace": "ns"},
           "subsets": [{"addresses": addrs, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]})
}

fn ep_target(ip: &str, prefix: &str) -> Value {
    let name = format!("p{}", &ip[ip.len() - 1..]);
    let mut t = json!({"__address__": format!("{ip}:8080")});
    if prefix == "endpoint" {
        t["__meta_kubernetes_endpoint_port_name"] = json!("http");
        t["__meta_kubernetes_endpoint_port_protocol"] = json!("TCP");
        t["__meta_kubernetes_endpoint_ready"] = json!("true");
        t["__meta_kubernetes_endpoint_address_target_kind"] = json!("Pod");
        t["__meta_kubernetes_endpoint_address_target_name"] = json!(name);
    } else {
        t["__meta_kubernetes_endpointslice_port"] = json!("8080");
        t["__meta_kubernetes_endpointslice_port_name"] = json!("http");
        t["__meta_kubernetes_endpointslice_port_protocol"] = json!("TCP");
        t["__meta_kubernetes_endpointslice_endpoint_conditions_ready"] = json!("true");
        t["__meta_kubernetes_endpointslice_address_target_kind"] = json!("Pod");
        t["__meta_kubernetes_endpointslice_address_target_name"] = json!(name);
    }
    t
}

#[tokio::test]
async fn endpoints_role_create_modify_delete() {
    let group = |ips: &[&str]| {
        json!({"source": "endpoints/ns/svc",
               "labels": {"__meta_kubernetes_namespace": "ns", "__meta_kubernetes_endpoints_name": "svc"},
               "targets": ips.iter().map(|ip| ep_target(ip, "endpoint")).collect::<Vec<_>>()})
    };
    let mut h = Harness::start(
        &[endpoints(&["10.1.0.1"])],
        &json!({"role": "endpoints"}),
        "x",
    )
    .await;
    h.wait_initial().await;
    assert_eq!(h.groups(), want(vec![group(&["10.1.0.1"])]));
    h.server
        .apply(endpoints(&["10.1.0.1", "10.1.0.2"]))
        .unwrap();
    h.converge(&want(vec![group(&["10.1.0.1", "10.1.0.2"])]))
        .await
        .unwrap();
    h.server.delete(&endpoints(&[])).unwrap();
    h.converge(&want(vec![gone("endpoints/ns/svc")]))
        .await
        .unwrap();
}

#[tokio::test]
async fn endpointslice_role_create_modify_delete() {
    let slice = |ips: &[&str]| {
        let eps: Vec<Value> = ips
            .iter()
            .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true},
                             "targetRef": {"kind": "Pod", "namespace": "ns", "name": format!("p{}", &ip[ip.len()-1..])}}))
            .collect();
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "svc-abc", "namespace": "ns"}, "addressType": "IPv4",
               "endpoints": eps, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
    };
    let group = |ips: &[&str]| {
        json!({"source": "endpointslice/ns/svc-abc",
               "labels": {"__meta_kubernetes_namespace": "ns", "__meta_kubernetes_endpointslice_name": "svc-abc",
                          "__meta_kubernetes_endpointslice_address_type": "IPv4"},
               "targets": ips.iter().map(|ip| ep_target(ip, "endpointslice")).collect::<Vec<_>>()})
    };
    let mut h = Harness::start(&[], &json!({"role": "endpointslice"}), "x").await;
    h.wait_initial().await;
    h.server.apply(slice(&["10.1.0.1"])).unwrap();
    h.converge(&want(vec![group(&["10.1.0.1"])])).await.unwrap();
    h.server.apply(slice(&["10.1.0.2", "10.1.0.3"])).unwrap();
    h.converge(&want(vec![group(&["10.1.0.2", "10.1.0.3"])]))
        .await
        .unwrap();
    h.server.delete(&slice(&[])).unwrap();
    h.converge(&want(vec![gone("endpointslice/ns/svc-abc")]))
        .await
        .unwrap();
}

#[tokio::test]
async fn ingress_role_create_modify_delete() {
    let ing = |host: &str, tls: bool| {
        let mut spec = json!({"rules": [{"host": host, "http": {"paths": [{"path": "/api"}]}}]});
        if tls {
            spec["tls"] = json!([{"hosts": [host]}]);
        }
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "web", "namespace": "ns"}, "spec": spec})
    };
    let group = |host: &str, scheme: &str| {
        json!({"source": "ingress/ns/web",
               "labels": {"__meta_kubernetes_namespace": "ns", "__meta_kubernetes_ingress_name": "web"},
               "targets": [{"__address__": host, "__meta_kubernetes_ingress_scheme": scheme,
                            "__meta_kubernetes_ingress_host": host, "__meta_kubernetes_ingress_path": "/api"}]})
    };
    let mut h = Harness::start(
        &[ing("a.example.com", false)],
        &json!({"role": "ingress"}),
        "x",
    )
    .await;
    h.wait_initial().await;
    assert_eq!(h.groups(), want(vec![group("a.example.com", "http")]));
    h.server.apply(ing("b.example.com", true)).unwrap();
    h.converge(&want(vec![group("b.example.com", "https")]))
        .await
        .unwrap();
    h.server.delete(&ing("", false)).unwrap();
    h.converge(&want(vec![gone("ingress/ns/web")]))
        .await
        .unwrap();
}

/// Two discoverers (pod role and endpoints role, as two jobs would configure) share one pod
/// watch on the API server.
#[tokio::test]
async fn one_watch_per_resource_is_shared() {
    let server = ApiServer::start().await.unwrap();
    server
        .apply(pod("ns", "p1", "10.1.0.1", "n1", json!({})))
        .unwrap();
    server.apply(endpoints(&["10.1.0.1"])).unwrap();
    let sa = tempfile::tempdir().unwrap();
    let ctx = Arc::new(KubeContext::new(test_env(&server, sa.path())));
    let mut tasks = Vec::new();
    let mut rxs = Vec::new();
    for role in ["pod", "endpoints", "pod"] {
        let cfg: KubernetesSdConfig =
            serde_json::from_value(json!({"role": role, "api_server": server.url()})).unwrap();
        let (tx, rx) = mpsc::channel(16);
        tasks.push(tokio::spawn(
            KubernetesDiscoverer::new(cfg, ctx.clone()).run(tx),
        ));
        rxs.push(rx);
    }
    for rx in &mut rxs {
        let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.len(), 1);
    }
    assert!(server.wait_watches("pods", 1, Duration::from_secs(5)).await);
    assert!(
        server
            .wait_watches("services", 1, Duration::from_secs(5))
            .await
    );
    assert!(
        server
            .wait_watches("endpoints", 1, Duration::from_secs(5))
            .await
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = server.stats();
    assert_eq!(stats.lists.get("pods"), Some(&1));
    assert_eq!(stats.watches_started.get("pods"), Some(&1));
    assert_eq!(stats.lists.get("endpoints"), Some(&1));
    assert_eq!(stats.lists.get("services"), Some(&1));
    let usage = ctx.usage();
    assert_eq!(usage.watches, 3); // pods, endpoints, services
    assert_eq!(usage.objects, 2);
    for t in tasks {
        t.abort();
    }
}

/// A DaemonSet-style config: the field selector goes to the API server, which sends only this
/// node's pods.
#[tokio::test]
async fn node_local_field_selector_is_pushed_to_the_server() {
    let initial = [
        pod("ns", "a", "10.1.0.1", "n1", json!({})),
        pod("ns", "b", "10.1.0.2", "n2", json!({})),
    ];
    let cfg = json!({"role": "pod", "selectors": [{"role": "pod", "field": "spec.nodeName=n1"}]});
    let mut h = Harness::start(&initial, &cfg, "x").await;
    h.wait_initial().await;
    assert_eq!(
        h.groups(),
        want(vec![pod_group("ns", "a", "10.1.0.1", "n1", &[])])
    );
    // A pod moving onto the node arrives as ADDED, one leaving as DELETED.
    h.server
        .apply(pod("ns", "b", "10.1.0.2", "n1", json!({})))
        .unwrap();
    h.server
        .apply(pod("ns", "a", "10.1.0.1", "n3", json!({})))
        .unwrap();
    h.converge(&want(vec![
        gone("pod/ns/a"),
        pod_group("ns", "b", "10.1.0.2", "n1", &[]),
    ]))
    .await
    .unwrap();
    let reqs = h.server.requests();
    let pod_reqs: Vec<_> = reqs.iter().filter(|r| r.path == "/api/v1/pods").collect();
    assert!(pod_reqs.len() >= 2);
    for r in pod_reqs {
        assert_eq!(
            r.query.get("fieldSelector").map(String::as_str),
            Some("spec.nodeName=n1")
        );
    }
    let watch = reqs
        .iter()
        .find(|r| r.watch && r.path == "/api/v1/pods")
        .unwrap();
    assert_eq!(
        watch.query.get("allowWatchBookmarks").map(String::as_str),
        Some("true")
    );
}
