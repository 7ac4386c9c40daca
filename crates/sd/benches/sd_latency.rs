//! Update latency end to end: from an API event (a pod created on the Kubernetes API server
//! double) to its target showing in the agent's `/api/v1/targets`, at 10,000 pods under churn,
//! for mini-prometheus and for vmagent on the same double (issue 18).
//!
//! Each run starts a fresh double holding `SD_LATENCY_PODS` pods (20 namespaces, 100 nodes),
//! then the agent with one `role: pod` job pointed at it whose relabeling keeps only pods
//! labelled `probe=true` (so `/api/v1/targets?state=active` stays small to poll while the
//! agent still discovers and re-evaluates every pod), names the target after the pod and
//! points `__address__` at a closed loopback port (nothing is scraped anywhere). Once the
//! agent has its pod watch open and the first probe shows, churn starts: `SD_LATENCY_CHURN`
//! label changes per second on random pods. Then `SD_LATENCY_PROBES` probe pods are created
//! `SD_LATENCY_SPACING_MS` apart while a poller reads `/api/v1/targets?state=active` every
//! `SD_LATENCY_POLL_MS`; a probe's latency is the time from its `apply` on the double to the
//! first poll that lists it (so it includes up to one poll period).
//!
//! ```text
//! bench/sd-latency/run.sh           # builds mini-prometheus (release) and runs this
//! SD_LATENCY_MINI_PROMETHEUS=<bin> SD_LATENCY_OURS=5s,1s SD_LATENCY_VMAGENT_CHECK=30s,1s \
//!   cargo bench -p scrapeline-sd --bench sd_latency
//! ```
//!
//! `SD_LATENCY_OURS` lists mini-prometheus' `--scrapeline.discovery.update-interval` values to
//! run, `SD_LATENCY_VMAGENT_CHECK` vmagent's `-promscrape.kubernetesSDCheckInterval` values
//! (its default is 30 s); `SD_LATENCY_VMAGENT` names the vmagent binary (default
//! `/usr/bin/vmagent`; a missing one skips its rows).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scrapeline_testkit::apiserver::ApiServer;
use serde_json::{Value, json};

const NAMESPACES: usize = 20;
const NODES: usize = 100;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ip(i: usize) -> String {
    format!("10.{}.{}.{}", 1 + i / 65536, (i / 256) % 256, i % 256)
}

/// A Deployment-like pod with two container ports; `probe` pods carry `probe=true`.
fn pod(name: &str, i: usize, rev: usize, probe: bool) -> Value {
    let ns = format!("ns-{}", i % NAMESPACES);
    let mut labels = json!({"app": format!("app-{}", i % 500), "pod-template-hash": "7d9f8c6b5",
                            "rev": rev.to_string()});
    if probe {
        labels["probe"] = json!("true");
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "labels": labels,
                     "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                         "name": format!("app-{}-7d9f8c6b5", i % 500), "uid": "u", "controller": true}]},
        "spec": {"nodeName": format!("node-{:03}", i % NODES),
                 "containers": [{"name": "app", "image": "registry.example.com/team/web:1.42.0",
                     "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                               {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip(i), "hostIP": format!("192.168.0.{}", i % NODES),
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "app", "containerID": format!("containerd://{i:064x}")}]}
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The job both agents run.
fn config(api_url: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1h\n  scrape_timeout: 1s\n\
         scrape_configs:\n\
         - job_name: pods\n  \
           kubernetes_sd_configs:\n  - role: pod\n    api_server: {api_url}\n  \
           relabel_configs:\n  \
           - source_labels: [__meta_kubernetes_pod_label_probe]\n    regex: 'true'\n    action: keep\n  \
           - source_labels: [__meta_kubernetes_pod_name]\n    target_label: pod\n  \
           - source_labels: [__address__]\n    target_label: instance\n  \
           - target_label: __address__\n    replacement: '127.0.0.1:1'\n"
    )
}

/// An agent process (killed on drop) and its temp dir.
struct Agent {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

#[derive(Debug, Clone)]
enum Which {
    Ours { bin: PathBuf, interval: String },
    Vmagent { bin: PathBuf, check: String },
}

impl Which {
    fn name(&self) -> String {
        match self {
            Which::Ours { interval, .. } => {
                format!("mini-prometheus --scrapeline.discovery.update-interval={interval}")
            }
            Which::Vmagent { check, .. } => {
                format!("vmagent -promscrape.kubernetesSDCheckInterval={check}")
            }
        }
    }
}

fn start(which: &Which, api_url: &str) -> Agent {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("agent.yml");
    std::fs::write(&cfg, config(api_url)).expect("write config");
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("agent.log")).expect("log");
    let err = log.try_clone().expect("log");
    let mut cmd = match which {
        Which::Ours { bin, interval } => {
            let mut c = Command::new(bin);
            c.arg(format!("--config.file={}", cfg.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg(format!("--scrapeline.discovery.update-interval={interval}"))
                .arg("--log.level=warn");
            c
        }
        Which::Vmagent { bin, check } => {
            let mut c = Command::new(bin);
            c.arg(format!("-promscrape.config={}", cfg.display()))
                .arg(format!("-promscrape.kubernetesSDCheckInterval={check}"))
                .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                .arg("-remoteWrite.url=http://127.0.0.1:1/api/v1/write")
                .arg(format!(
                    "-remoteWrite.tmpDataPath={}",
                    dir.path().join("data").display()
                ))
                .arg("-promscrape.dropOriginalLabels")
                .arg("-loggerLevel=WARN");
            c
        }
    };
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("agent starts");
    Agent { child, port, dir }
}

/// Pod names of the active targets (`labels.pod`), or `None` if the API did not answer.
async fn active_pods(port: u16) -> Option<Vec<String>> {
    let (status, body) = scrapeline_testkit::http::get(
        port,
        "/api/v1/targets?state=active",
        Duration::from_secs(10),
    )
    .await
    .ok()?;
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    Some(
        v["data"]["activeTargets"]
            .as_array()?
            .iter()
            .filter_map(|t| t["labels"]["pod"].as_str().map(str::to_string))
            .collect(),
    )
}

fn percentile(v: &[Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx.min(v.len() - 1)]
}

struct Outcome {
    latencies: Vec<Duration>,
    missed: usize,
    ready_after: Duration,
}

async fn measure(which: &Which) -> Result<Outcome, String> {
    let pods = env_usize("SD_LATENCY_PODS", 10_000);
    let probes = env_usize("SD_LATENCY_PROBES", 200);
    let churn = env_usize("SD_LATENCY_CHURN", 200);
    let spacing = Duration::from_millis(env_usize("SD_LATENCY_SPACING_MS", 100) as u64);
    let poll = Duration::from_millis(env_usize("SD_LATENCY_POLL_MS", 10) as u64);

    let server = Arc::new(ApiServer::start().await.map_err(|e| e.to_string())?);
    for i in 0..pods {
        server
            .apply(pod(&format!("web-{i:05}"), i, 0, false))
            .map_err(|e| e.to_string())?;
    }
    // A first probe: the agent is ready once it lists it.
    server
        .apply(pod("probe-warmup", pods, 0, true))
        .map_err(|e| e.to_string())?;
    let t_start = Instant::now();
    let agent = start(which, &server.url());
    loop {
        if active_pods(agent.port)
            .await
            .is_some_and(|p| p.iter().any(|n| n == "probe-warmup"))
        {
            break;
        }
        if t_start.elapsed() > Duration::from_secs(120) {
            return Err(format!("agent not ready in 120 s\n{}", agent.log_tail()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready_after = t_start.elapsed();

    // Churn: label changes on random pods.
    let stop = Arc::new(AtomicBool::new(false));
    let churn_task = {
        let server = server.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            if churn == 0 {
                return;
            }
            let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut rev = 1usize;
            let period = Duration::from_secs_f64(1.0 / churn as f64);
            let mut next = tokio::time::Instant::now();
            while !stop.load(Ordering::Relaxed) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed % pods as u64) as usize;
                rev += 1;
                let _ = server.apply(pod(&format!("web-{i:05}"), i, rev, false));
                next += period;
                tokio::time::sleep_until(next).await;
            }
        })
    };

    // The poller records when each probe is first listed.
    let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let poller = {
        let seen = seen.clone();
        let stop = stop.clone();
        let port = agent.port;
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(names) = active_pods(port).await {
                    let now = Instant::now();
                    let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
                    for n in names {
                        s.entry(n).or_insert(now);
                    }
                }
                tokio::time::sleep(poll).await;
            }
        })
    };

    let mut created = Vec::with_capacity(probes);
    for k in 0..probes {
        let name = format!("probe-{k:04}");
        let t0 = Instant::now();
        server
            .apply(pod(&name, pods + 1 + k, 0, true))
            .map_err(|e| e.to_string())?;
        created.push((name, t0));
        tokio::time::sleep(spacing).await;
    }
    // Wait for the stragglers (up to 40 s: vmagent's default check interval is 30 s).
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let all = {
            let s = seen.lock().unwrap_or_else(|e| e.into_inner());
            created.iter().all(|(n, _)| s.contains_key(n))
        };
        if all || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = churn_task.await;
    let _ = poller.await;
    let s = seen.lock().unwrap_or_else(|e| e.into_inner());
    let mut latencies = Vec::new();
    let mut missed = 0;
    for (n, t0) in &created {
        match s.get(n) {
            Some(t) => latencies.push(t.saturating_duration_since(*t0)),
            None => missed += 1,
        }
    }
    latencies.sort();
    drop(agent);
    Ok(Outcome {
        latencies,
        missed,
        ready_after,
    })
}

fn list(var: &str, default: &str) -> Vec<String> {
    std::env::var(var)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn mini_prometheus() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SD_LATENCY_MINI_PROMETHEUS") {
        return Some(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [
        "target/release/mini-prometheus",
        "target/debug/mini-prometheus",
    ]
    .iter()
    .map(|p| root.join(p))
    .find(|p| p.is_file())
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --benches` runs bench binaries without `--bench`: nothing to check here.
        return;
    }
    let mut runs = Vec::new();
    match mini_prometheus() {
        Some(bin) => {
            for interval in list("SD_LATENCY_OURS", "5s,1s") {
                runs.push(Which::Ours {
                    bin: bin.clone(),
                    interval,
                });
            }
        }
        None => eprintln!("mini-prometheus binary not found: set SD_LATENCY_MINI_PROMETHEUS"),
    }
    let vm = std::env::var_os("SD_LATENCY_VMAGENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/vmagent"));
    if vm.is_file() {
        for check in list("SD_LATENCY_VMAGENT_CHECK", "30s,1s") {
            runs.push(Which::Vmagent {
                bin: vm.clone(),
                check,
            });
        }
    } else {
        eprintln!("vmagent peer: skipped ({} not found)", vm.display());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("| agent | p50 | p99 | max | probes seen | ready after |\n|---|---|---|---|---|---|");
    for which in &runs {
        match rt.block_on(measure(which)) {
            Ok(o) => println!(
                "| {} | {:.0} ms | {:.0} ms | {:.0} ms | {}/{} | {:.1} s |",
                which.name(),
                percentile(&o.latencies, 0.5).as_secs_f64() * 1e3,
                percentile(&o.latencies, 0.99).as_secs_f64() * 1e3,
                o.latencies
                    .last()
                    .copied()
                    .unwrap_or_default()
                    .as_secs_f64()
                    * 1e3,
                o.latencies.len(),
                o.latencies.len() + o.missed,
                o.ready_after.as_secs_f64(),
            ),
            Err(e) => println!("| {} | failed: {e} |", which.name()),
        }
    }
}
