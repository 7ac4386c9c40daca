//! Runs the example against the testkit's Kubernetes API server double (one pod) and target
//! farm (the pod's metrics), and checks what it prints.

use std::collections::BTreeMap;
use std::process::Command;

use scrapeline_testkit::apiserver::ApiServer;
use scrapeline_testkit::farm::{Behavior, Farm};
use serde_json::{Value, json};

fn pod(ns: &str, name: &str, port: u16) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}")},
        "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": "app:1",
            "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.1",
            "conditions": [{"type": "Ready", "status": "True"}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_every_sample_of_the_discovered_pod_with_its_type() {
    let api = ApiServer::start().await.unwrap_or_else(|e| panic!("{e}"));
    let farm = Farm::start().await;
    farm.set(
        "/metrics",
        Behavior::text(
            "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 3\n\
             # TYPE temperature_celsius gauge\ntemperature_celsius 21.5\n",
        ),
    );
    api.apply(pod("shop", "web-0", farm.addr().port()))
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("prometheus.yml");
    let yaml = format!(
        "scrape_configs:\n  - job_name: pods\n    scrape_interval: 500ms\n    \
         scrape_timeout: 500ms\n    kubernetes_sd_configs:\n      - role: pod\n        \
         api_server: {}\n    relabel_configs:\n      - source_labels: \
         [__meta_kubernetes_namespace]\n        target_label: namespace\n      - \
         source_labels: [__meta_kubernetes_pod_name]\n        target_label: pod\n",
        api.url()
    );
    std::fs::write(&config, yaml).unwrap_or_else(|e| panic!("{e}"));
    let bin = env!("CARGO_BIN_EXE_discover-and-print");
    let out = tokio::task::spawn_blocking(move || Command::new(bin).arg(&config).arg("3").output())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The last line of each series: labels, type and value (timestamps vary). The report
    // series (`up`, `scrape_*`) have no family metadata: `untyped`, as the text format names it.
    let mut got: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for line in stdout.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["timestamp_ms"].as_i64().is_some_and(|t| t > 0), "{line}");
        got.insert(
            v["labels"].to_string(),
            (v["type"].to_string(), v["value"].clone()),
        );
    }
    let target = format!(
        r#""instance":"127.0.0.1:{}","job":"pods","namespace":"shop","pod":"web-0""#,
        farm.addr().port()
    );
    let key = |name: &str, extra: &str| format!(r#"{{"__name__":"{name}",{extra}{target}}}"#);
    let want: BTreeMap<String, (String, Value)> = [
        (
            key("http_requests_total", r#""code":"200","#),
            ("\"counter\"", json!(3.0)),
        ),
        (key("temperature_celsius", ""), ("\"gauge\"", json!(21.5))),
        (key("up", ""), ("\"untyped\"", json!(1.0))),
        (
            key("scrape_samples_scraped", ""),
            ("\"untyped\"", json!(2.0)),
        ),
        (
            key("scrape_samples_post_metric_relabeling", ""),
            ("\"untyped\"", json!(2.0)),
        ),
        (
            key("scrape_series_added", ""),
            (
                "\"untyped\"",
                got_value(&got, &key("scrape_series_added", "")),
            ),
        ),
        (
            key("scrape_duration_seconds", ""),
            (
                "\"untyped\"",
                got_value(&got, &key("scrape_duration_seconds", "")),
            ),
        ),
    ]
    .into_iter()
    .map(|(k, (t, v))| (k, (t.to_owned(), v)))
    .collect();
    assert_eq!(got, want, "{stdout}");
}

/// A value taken from the output where it varies (durations, series added per scrape).
fn got_value(got: &BTreeMap<String, (String, Value)>, key: &str) -> Value {
    got.get(key).map(|(_, v)| v.clone()).unwrap_or(Value::Null)
}
