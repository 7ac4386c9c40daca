//! Target relabeling: the `kubernetes-pods` job of
//! `testdata/prometheus/config-examples/02-kubernetes-annotations.yml` over 10,000 generated pod
//! targets, labelled as Prometheus' pod role labels them (≈ 35–40 labels each).
//!
//! Run: `cargo bench -p scrapeline-relabel --bench relabel`. Besides criterion's time it prints the
//! allocations per target, counted with a global allocator over one pass.

use std::alloc::System;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scrapeline_exposition::labels::{Labels, LabelsBuilder};
use scrapeline_relabel::{self as relabel, RelabelConfig, Rule};
use serde::Deserialize;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/prometheus/config-examples/02-kubernetes-annotations.yml"
);
const TARGETS: usize = 10_000;

#[derive(Deserialize)]
struct File {
    scrape_configs: Vec<Job>,
}

#[derive(Deserialize)]
struct Job {
    job_name: String,
    #[serde(default)]
    relabel_configs: Vec<RelabelConfig>,
}

fn pod_rules() -> Vec<Rule> {
    let text = std::fs::read_to_string(CONFIG).expect("config example");
    let file: File = serde_saphyr::from_str(&text).expect("parse config example");
    let job = file
        .scrape_configs
        .into_iter()
        .find(|j| j.job_name == "kubernetes-pods")
        .expect("kubernetes-pods job");
    relabel::compile(&job.relabel_configs).expect("valid rules")
}

/// A small deterministic generator (xorshift), so every run sees the same targets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.below(16) as u32, 16).unwrap_or('0'))
            .collect()
    }
}

/// One target per container port, as Prometheus' pod role produces, plus the labels the scrape
/// config adds before relabeling (job, scheme, path, interval, timeout).
fn pod_targets(n: usize) -> Vec<Labels> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let namespaces = [
        "default",
        "kube-system",
        "monitoring",
        "shop",
        "payments",
        "search",
        "ingress-nginx",
    ];
    let apps = [
        "web", "api", "worker", "cache", "db-proxy", "frontend", "checkout", "indexer",
    ];
    let kinds = ["ReplicaSet", "StatefulSet", "DaemonSet", "Job"];
    let phases = [
        "Running",
        "Running",
        "Running",
        "Running",
        "Pending",
        "Succeeded",
    ];
    let ports = [
        ("http-metrics", 9090),
        ("metrics", 8080),
        ("http", 80),
        ("grpc", 9000),
    ];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let ns = rng.pick(&namespaces);
        let app = rng.pick(&apps);
        let kind = rng.pick(&kinds);
        let hash = rng.hex(10);
        let pod = format!("{app}-{hash}-{}", rng.hex(5));
        let ip = format!(
            "10.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        );
        let node = format!("gke-prod-pool-{}-{}", rng.below(8), rng.hex(4));
        let (port_name, port) = ports[i % ports.len()];
        let mut l: Vec<(String, String)> = vec![
            ("__address__".into(), format!("{ip}:{port}")),
            ("__meta_kubernetes_namespace".into(), ns.into()),
            ("__meta_kubernetes_pod_name".into(), pod.clone()),
            ("__meta_kubernetes_pod_ip".into(), ip.clone()),
            ("__meta_kubernetes_pod_ready".into(), "true".into()),
            (
                "__meta_kubernetes_pod_phase".into(),
                rng.pick(&phases).into(),
            ),
            ("__meta_kubernetes_pod_node_name".into(), node),
            (
                "__meta_kubernetes_pod_host_ip".into(),
                format!("10.128.0.{}", rng.below(250)),
            ),
            (
                "__meta_kubernetes_pod_uid".into(),
                format!(
                    "{}-{}-{}-{}-{}",
                    rng.hex(8),
                    rng.hex(4),
                    rng.hex(4),
                    rng.hex(4),
                    rng.hex(12)
                ),
            ),
            ("__meta_kubernetes_pod_controller_kind".into(), kind.into()),
            (
                "__meta_kubernetes_pod_controller_name".into(),
                format!("{app}-{hash}"),
            ),
            ("__meta_kubernetes_pod_container_name".into(), app.into()),
            (
                "__meta_kubernetes_pod_container_image".into(),
                format!(
                    "registry.example/{app}:v1.{}.{}",
                    rng.below(20),
                    rng.below(10)
                ),
            ),
            (
                "__meta_kubernetes_pod_container_id".into(),
                format!("containerd://{}", rng.hex(64)),
            ),
            (
                "__meta_kubernetes_pod_container_init".into(),
                "false".into(),
            ),
            (
                "__meta_kubernetes_pod_container_port_name".into(),
                port_name.into(),
            ),
            (
                "__meta_kubernetes_pod_container_port_number".into(),
                port.to_string(),
            ),
            (
                "__meta_kubernetes_pod_container_port_protocol".into(),
                "TCP".into(),
            ),
            ("job".into(), "kubernetes-pods".into()),
            ("__scheme__".into(), "http".into()),
            ("__metrics_path__".into(), "/metrics".into()),
            ("__scrape_interval__".into(), "30s".into()),
            ("__scrape_timeout__".into(), "10s".into()),
        ];
        let mut label = |k: &str, v: String| {
            l.push((format!("__meta_kubernetes_pod_label_{k}"), v));
            l.push((
                format!("__meta_kubernetes_pod_labelpresent_{k}"),
                "true".into(),
            ));
        };
        label("app", app.into());
        label("app_kubernetes_io_name", app.into());
        label("pod_template_hash", hash.clone());
        if rng.below(2) == 0 {
            label("version", format!("v{}", rng.below(5)));
        }
        let mut annotation = |k: &str, v: String| {
            l.push((format!("__meta_kubernetes_pod_annotation_{k}"), v));
            l.push((
                format!("__meta_kubernetes_pod_annotationpresent_{k}"),
                "true".into(),
            ));
        };
        // 80 % of pods opt in to scraping.
        if rng.below(10) < 8 {
            annotation("prometheus_io_scrape", "true".into());
            annotation("prometheus_io_port", port.to_string());
            if rng.below(3) == 0 {
                annotation("prometheus_io_path", "/admin/metrics".into());
            }
            if rng.below(5) == 0 {
                annotation("prometheus_io_scheme", "https".into());
            }
        }
        annotation(
            "kubectl_kubernetes_io_restartedAt",
            "2026-11-01T10:00:00Z".into(),
        );
        out.push(Labels::from_pairs(l));
    }
    out
}

/// One pass: relabel every target; with `materialize`, build the resulting `Labels` as
/// Prometheus' `relabel.Process` does.
fn pass(rules: &[Rule], targets: &[Labels], b: &mut LabelsBuilder, materialize: bool) -> usize {
    let mut kept = 0;
    for t in targets {
        b.reset(t);
        if relabel::relabel(rules, b) {
            kept += 1;
            if materialize {
                black_box(b.labels());
            }
        }
    }
    kept
}

/// `RELABEL_BENCH_DUMP=FILE` writes the targets as a JSON array of label objects, for running
/// the same input through Prometheus' own relabel package (see BENCHMARKS.md).
fn dump(targets: &[Labels]) {
    let Ok(path) = std::env::var("RELABEL_BENCH_DUMP") else {
        return;
    };
    let all: Vec<serde_json::Map<String, serde_json::Value>> = targets
        .iter()
        .map(|t| {
            t.iter()
                .map(|l| (l.name.to_owned(), l.value.into()))
                .collect()
        })
        .collect();
    let text = serde_json::to_string(&all).expect("json");
    std::fs::write(&path, text).expect("write dump");
    println!("wrote {} targets to {path}", all.len());
    // And the results (null = dropped), to diff against Prometheus' output.
    let rules = pod_rules();
    let mut b = LabelsBuilder::new();
    let outs: Vec<Option<serde_json::Map<String, serde_json::Value>>> = targets
        .iter()
        .map(|t| {
            b.reset(t);
            relabel::relabel(&rules, &mut b).then(|| {
                b.iter()
                    .map(|l| (l.name.to_owned(), l.value.into()))
                    .collect()
            })
        })
        .collect();
    let out_path = format!("{path}.out");
    std::fs::write(&out_path, serde_json::to_string(&outs).expect("json")).expect("write");
    println!("wrote results to {out_path}");
}

fn bench(c: &mut Criterion) {
    let rules = pod_rules();
    let targets = pod_targets(TARGETS);
    dump(&targets);
    let mean_labels = targets.iter().map(Labels::len).sum::<usize>() as f64 / targets.len() as f64;
    let mut b = LabelsBuilder::new();

    // Allocation counts over one warm pass (buffers already grown once).
    pass(&rules, &targets, &mut b, true);
    for materialize in [false, true] {
        let region = Region::new(GLOBAL);
        let kept = pass(&rules, &targets, &mut b, materialize);
        let s = region.change();
        println!(
            "relabel/kubernetes-pods materialize={materialize}: {TARGETS} targets \
             ({mean_labels:.1} labels on average), {kept} kept; allocations/target = {:.3}, \
             bytes/target = {:.1}",
            s.allocations as f64 / TARGETS as f64,
            s.bytes_allocated as f64 / TARGETS as f64,
        );
    }

    let mut g = c.benchmark_group("relabel/kubernetes-pods");
    g.throughput(Throughput::Elements(TARGETS as u64));
    g.bench_function("rules", |bn| {
        bn.iter(|| pass(&rules, &targets, &mut b, false))
    });
    g.bench_function("rules+labels", |bn| {
        bn.iter(|| pass(&rules, &targets, &mut b, true))
    });
    let slow: Vec<Rule> = rules.iter().map(Rule::without_fast_path).collect();
    g.bench_function("rules(no-fast-paths)", |bn| {
        bn.iter(|| pass(&slow, &targets, &mut b, false))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
