//! Runs the example on a copy of the cgroup v2 fixture node, with the fixture's two pods in the
//! Kubernetes API server double; then adds two seconds of CPU to `coredns` in the copy.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use scrapeline_testkit::apiserver::ApiServer;
use serde_json::{Value, json};

fn pod(ns: &str, name: &str, uid: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": uid},
        "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": "app:1"}]},
        "status": {"phase": "Running", "podIP": "10.1.0.1", "hostIP": "10.0.0.1"}})
}

const COREDNS_CPU: &str =
    "sys/fs/cgroup/kubepods.slice/kubepods-pod9f1e2d3c_4b5a_4968_8776_5a4b3c2d1e0f.slice/cpu.stat";

/// Reads lines until one says `namespace=<ns> cpu_seconds_total=<total>`; returns its rate.
fn wait_line(rx: &mpsc::Receiver<String>, ns: &str, total: &str, seen: &mut Vec<String>) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    let prefix = format!("namespace={ns} cpu_seconds_total={total} cpu_rate=");
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {prefix:?} in:\n{}", seen.join("\n")));
        seen.push(line.clone());
        if let Some(rate) = line.strip_prefix(&prefix) {
            return rate.parse().unwrap_or_else(|e| panic!("{e}: {line}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_get_their_pods_cpu_and_its_rate() {
    let api = ApiServer::start().await.unwrap_or_else(|e| panic!("{e}"));
    api.apply(pod(
        "default",
        "web-7d4b9c6f5-x2x8q",
        "6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    api.apply(pod(
        "kube-system",
        "coredns-6f6b679f8f-q2lzt",
        "9f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path().join("node");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/cgroup/tests/fixtures/cgroup-v2-systemd");
    scrapeline_testkit::fs::copy_tree(&fixture, &root);
    let listen = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("prometheus.yml");
    let yaml = format!(
        "global:\n  scrape_interval: 500ms\n  scrape_timeout: 500ms\nscrape_configs:\n  \
         - job_name: pods\n    kubernetes_sd_configs:\n      - role: pod\n        api_server: \
         {}\n    relabel_configs:\n      - action: drop\n        regex: .*\n  \
         - job_name: cadvisor\n    metrics_path: /metrics/cadvisor\n    static_configs:\n      \
         - targets: ['{listen}']\n",
        api.url()
    );
    std::fs::write(&config, yaml).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_namespace-cpu"))
        .args([config.as_os_str(), root.as_os_str()])
        .arg(listen.to_string())
        .arg("30")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    // The fixture's pod-level totals, labelled with discovery's namespaces.
    wait_line(&rx, "default", "287.263455", &mut seen);
    let rate = wait_line(&rx, "kube-system", "77.816542", &mut seen);
    assert_eq!(rate, 0.0, "{}", seen.join("\n"));
    // coredns uses two more CPU seconds.
    let stat = root.join(COREDNS_CPU);
    let text = std::fs::read_to_string(&stat).unwrap_or_else(|e| panic!("{e}"));
    let text = text.replace("usage_usec 77816542", "usage_usec 79816542");
    std::fs::write(&stat, text).unwrap_or_else(|e| panic!("{e}"));
    let rate = wait_line(&rx, "kube-system", "79.816542", &mut seen);
    // Two seconds over one scrape interval (0.5 s, give or take the collection's timing).
    assert!(
        (2.0..=8.0).contains(&rate),
        "rate {rate}:\n{}",
        seen.join("\n")
    );
    let _ = child.kill();
    let _ = child.wait();
    let namespaces: BTreeMap<&str, ()> = seen
        .iter()
        .filter_map(|l| l.strip_prefix("namespace=")?.split(' ').next())
        .map(|n| (n, ()))
        .collect();
    assert_eq!(
        namespaces.keys().copied().collect::<Vec<_>>(),
        vec!["default", "kube-system"]
    );
}
