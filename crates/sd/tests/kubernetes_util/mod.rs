//! Shared harness for the Kubernetes SD tests: an API server double, a discoverer pointed at
//! it, and a collector keeping the last group per source.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scrapeline_exposition::Labels;
use scrapeline_sd::TargetGroup;
use scrapeline_sd::config::KubernetesSdConfig;
use scrapeline_sd::kubernetes::{KubeContext, KubeEnv, KubernetesDiscoverer, WatchOptions};
use scrapeline_testkit::apiserver::ApiServer;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

/// Groups by source.
pub type Groups = BTreeMap<String, TargetGroup>;

/// Watch tuning for tests: fast backoff.
pub fn test_env(server: &ApiServer, sa_dir: &std::path::Path) -> KubeEnv {
    KubeEnv {
        service_account_dir: sa_dir.to_path_buf(),
        in_cluster_api_server: Some(server.url()),
        config_dir: sa_dir.to_path_buf(),
        watch: WatchOptions {
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_millis(300),
            ..WatchOptions::default()
        },
    }
}

/// A discoverer running against a double, with its collected output.
pub struct Harness {
    pub server: ApiServer,
    pub ctx: Arc<KubeContext>,
    _sa: tempfile::TempDir,
    groups: Arc<Mutex<Groups>>,
    history: Arc<Mutex<Vec<Vec<TargetGroup>>>>,
    batches: watch::Receiver<usize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Parses a case's `config` and points it at the double (in-cluster when `own_namespace`).
pub fn config_for(config: &Value, server: &ApiServer) -> KubernetesSdConfig {
    let mut c = config.clone();
    let own = c
        .pointer("/namespaces/own_namespace")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !own && let Some(o) = c.as_object_mut() {
        o.insert("api_server".into(), Value::String(server.url()));
    }
    serde_json::from_value(c).expect("case config parses")
}

impl Harness {
    /// Starts a double holding `objects` and a discoverer for `config` (a JSON SD config).
    pub async fn start(objects: &[Value], config: &Value, own_namespace: &str) -> Harness {
        let server = ApiServer::start().await.expect("double starts");
        for o in objects {
            server.apply(o.clone()).expect("object accepted");
        }
        Self::start_on(server, config, own_namespace).await
    }

    /// Starts a discoverer against an existing double.
    pub async fn start_on(server: ApiServer, config: &Value, own_namespace: &str) -> Harness {
        Self::start_tuned(server, config, own_namespace, |_| {}).await
    }

    /// Starts a discoverer against an existing double, with tuned watch options.
    pub async fn start_tuned(
        server: ApiServer,
        config: &Value,
        own_namespace: &str,
        tune: impl FnOnce(&mut WatchOptions),
    ) -> Harness {
        let sa = tempfile::tempdir().expect("tempdir");
        std::fs::write(sa.path().join("namespace"), own_namespace).expect("write ns");
        std::fs::write(sa.path().join("token"), "test-token").expect("write token");
        let mut env = test_env(&server, sa.path());
        tune(&mut env.watch);
        let ctx = Arc::new(KubeContext::new(env));
        let cfg = config_for(config, &server);
        Self::with_config(server, sa, ctx, cfg)
    }

    fn with_config(
        server: ApiServer,
        sa: tempfile::TempDir,
        ctx: Arc<KubeContext>,
        cfg: KubernetesSdConfig,
    ) -> Harness {
        let groups = Arc::new(Mutex::new(Groups::new()));
        let history = Arc::new(Mutex::new(Vec::new()));
        let (btx, brx) = watch::channel(0usize);
        let disc = KubernetesDiscoverer::new(cfg, ctx.clone());
        let g2 = groups.clone();
        let h2 = history.clone();
        let task = tokio::spawn(async move {
            let (tx, mut rx) = mpsc::channel::<Vec<TargetGroup>>(16);
            let collect = async move {
                while let Some(batch) = rx.recv().await {
                    h2.lock().unwrap().push(batch.clone());
                    let mut g = g2.lock().unwrap();
                    for tg in batch {
                        g.insert(tg.source.clone(), tg);
                    }
                    drop(g);
                    btx.send_modify(|n| *n += 1);
                }
            };
            let (r, ()) = futures::future::join(disc.run(tx), collect).await;
            r.expect("discoverer starts");
        });
        Harness {
            server,
            ctx,
            _sa: sa,
            groups,
            history,
            batches: brx,
            task,
        }
    }

    /// Waits for the first (complete) batch.
    pub async fn wait_initial(&mut self) {
        tokio::time::timeout(Duration::from_secs(10), self.batches.wait_for(|n| *n >= 1))
            .await
            .expect("initial set within 10s")
            .expect("collector alive");
    }

    /// Every batch received so far, in order.
    pub fn history(&self) -> Vec<Vec<TargetGroup>> {
        self.history.lock().unwrap().clone()
    }

    /// The collected groups now.
    pub fn groups(&self) -> Groups {
        self.groups.lock().unwrap().clone()
    }

    /// Waits until the collected groups equal `want` and stay equal for a short idle period.
    pub async fn converge(&mut self, want: &Groups) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if self.groups() == *want {
                tokio::time::sleep(Duration::from_millis(150)).await;
                if self.groups() == *want {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(diff(want, &self.groups()));
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), self.batches.changed()).await;
        }
    }

    /// Applies a watch event (`ADDED`/`MODIFIED` upsert, `DELETED` delete) to the double.
    pub fn apply_event(&self, kind: &str, object: &Value) {
        match kind {
            "DELETED" => {
                self.server.delete(object).expect("delete");
            }
            _ => {
                self.server.apply(object.clone()).expect("apply");
            }
        }
    }
}

fn labels_of(v: &Value) -> Labels {
    Labels::from_pairs(
        v.as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())),
    )
}

/// The expected groups of a case (`expected` array).
pub fn expected_groups(expected: &Value) -> Groups {
    expected
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            let source = g["source"].as_str().unwrap_or("").to_string();
            (
                source.clone(),
                TargetGroup {
                    source,
                    labels: labels_of(&g["labels"]),
                    targets: g["targets"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(labels_of)
                        .collect(),
                },
            )
        })
        .collect()
}

/// A readable difference between two group maps.
pub fn diff(want: &Groups, got: &Groups) -> String {
    let mut out = String::new();
    for (s, w) in want {
        match got.get(s) {
            None => out.push_str(&format!("  missing {s}\n")),
            Some(g) if g != w => {
                out.push_str(&format!("  differs {s}\n"));
                if g.labels != w.labels {
                    out.push_str(&format!(
                        "    labels want {:?}\n    labels got  {:?}\n",
                        w.labels, g.labels
                    ));
                }
                if g.targets != w.targets {
                    out.push_str(&format!(
                        "    targets want {:?}\n    targets got  {:?}\n",
                        w.targets, g.targets
                    ));
                }
            }
            _ => {}
        }
    }
    for s in got.keys() {
        if !want.contains_key(s) {
            out.push_str(&format!("  unexpected {s}: {:?}\n", got[s]));
        }
    }
    out
}

/// A pod with one container port 8080.
pub fn pod(ns: &str, name: &str, ip: &str, node: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "labels": labels},
           "spec": {"nodeName": node, "containers": [{"name": "app", "image": "app:1",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
           "status": {"phase": "Running", "podIP": ip, "hostIP": "10.0.0.1",
                      "conditions": [{"type": "Ready", "status": "True"}],
                      "containerStatuses": [{"name": "app", "containerID": format!("containerd://{name}")}]}})
}

/// The expected pod-role group for `pod(...)`, written out by hand.
pub fn pod_group(ns: &str, name: &str, ip: &str, node: &str, labels: &[(&str, &str)]) -> Value {
    let mut g = json!({
        "__meta_kubernetes_namespace": ns,
        "__meta_kubernetes_pod_name": name,
        "__meta_kubernetes_pod_ip": ip,
        "__meta_kubernetes_pod_ready": "true",
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_node_name": node,
        "__meta_kubernetes_pod_host_ip": "10.0.0.1",
        "__meta_kubernetes_pod_uid": format!("uid-{name}"),
    });
    for (k, v) in labels {
        g[format!("__meta_kubernetes_pod_label_{k}")] = json!(v);
        g[format!("__meta_kubernetes_pod_labelpresent_{k}")] = json!("true");
    }
    json!({"source": format!("pod/{ns}/{name}"), "labels": g, "targets": [{
        "__address__": format!("{ip}:8080"),
        "__meta_kubernetes_pod_container_name": "app",
        "__meta_kubernetes_pod_container_id": format!("containerd://{name}"),
        "__meta_kubernetes_pod_container_image": "app:1",
        "__meta_kubernetes_pod_container_init": "false",
        "__meta_kubernetes_pod_container_port_name": "http",
        "__meta_kubernetes_pod_container_port_number": "8080",
        "__meta_kubernetes_pod_container_port_protocol": "TCP",
    }]})
}

/// A deleted group.
pub fn gone(source: &str) -> Value {
    json!({"source": source, "labels": {}, "targets": []})
}

/// Expected groups from JSON groups.
pub fn want(groups: Vec<Value>) -> Groups {
    expected_groups(&Value::Array(groups))
}
