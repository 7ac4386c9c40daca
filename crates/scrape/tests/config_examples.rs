//! The scrape_configs of the four Kubernetes prometheus.yml examples deserialize (unknown
//! fields are rejected), and apply_global resolves them with Prometheus' defaults.

use scrapeline_scrape::config::{ScrapeProtocol, ValidationScheme};
use scrapeline_scrape::{GlobalConfig, ScrapeConfig};
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    global: GlobalConfig,
    scrape_configs: Vec<ScrapeConfig>,
}

fn load(name: &str) -> (GlobalConfig, Vec<ScrapeConfig>) {
    let path = format!(
        "{}/../../testdata/prometheus/config-examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let f: File = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = Vec::new();
    for mut c in f.scrape_configs {
        c.apply_global(&f.global)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push(c);
    }
    (f.global, out)
}

#[test]
fn example_01_prometheus_kubernetes() {
    let (_, jobs) = load("01-prometheus-kubernetes.yml");
    let names: Vec<&str> = jobs.iter().map(|j| j.job_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "kubernetes-apiservers",
            "kubernetes-nodes",
            "kubernetes-cadvisor",
            "kubernetes-service-endpoints",
            "kubernetes-services",
            "kubernetes-ingresses",
            "kubernetes-pods"
        ]
    );
    let api = &jobs[0];
    assert_eq!(api.scheme, "https");
    assert_eq!(
        api.http_client_config.tls_config.ca_file,
        "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    );
    assert_eq!(
        api.http_client_config
            .authorization
            .as_ref()
            .unwrap()
            .credentials_file,
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    );
    assert_eq!(
        api.http_client_config.authorization.as_ref().unwrap().kind,
        "Bearer"
    );
    assert_eq!(api.kubernetes_sd_configs.len(), 1);
    assert_eq!(jobs[4].metrics_path, "/probe");
    assert_eq!(
        jobs[4].params.get("module"),
        Some(&vec!["http_2xx".to_string()])
    );
    // Global defaults: 1m interval, 10s timeout.
    assert_eq!(jobs[6].interval(), std::time::Duration::from_secs(60));
    assert_eq!(jobs[6].timeout(), std::time::Duration::from_secs(10));
}

#[test]
fn example_02_annotations() {
    let (_, jobs) = load("02-kubernetes-annotations.yml");
    let limits: Vec<(&str, u64, u64, u64)> = jobs
        .iter()
        .map(|j| {
            (
                j.job_name.as_str(),
                j.sample_limit.unwrap(),
                j.label_limit.unwrap(),
                j.body_size_limit_bytes(),
            )
        })
        .collect();
    let m = 64 << 20;
    assert_eq!(
        limits,
        [
            ("kubernetes-apiservers", 50000, 64, m),
            ("kubernetes-nodes", 50000, 64, m),
            ("kubernetes-cadvisor", 50000, 64, m),
            ("kubernetes-service-endpoints", 50000, 64, m),
            ("kubernetes-pods", 20000, 64, m),
            ("kubernetes-services-blackbox", 50000, 64, m),
        ]
    );
    let timing: Vec<(String, String)> = jobs
        .iter()
        .map(|j| {
            (
                j.scrape_interval.unwrap().to_string(),
                j.scrape_timeout.unwrap().to_string(),
            )
        })
        .collect();
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        timing,
        [
            s("30s", "10s"),
            s("30s", "10s"),
            s("15s", "15s"),
            s("30s", "10s"),
            s("30s", "10s"),
            s("30s", "10s"),
        ]
    );
}

#[test]
fn example_03_node_local_sharded() {
    let (_, jobs) = load("03-kubernetes-node-local-sharded.yml");
    let v: Vec<(&str, bool)> = jobs
        .iter()
        .map(|j| (j.job_name.as_str(), j.track_timestamps_staleness))
        .collect();
    assert_eq!(
        v,
        [
            ("node-local-pods", false),
            ("own-namespace-endpointslices", true),
            ("ingress-probes", false)
        ]
    );
    assert_eq!(jobs[0].interval(), std::time::Duration::from_secs(15));
}

#[test]
fn example_04_prometheus3_features() {
    let (g, jobs) = load("04-kubernetes-prometheus3-features.yml");
    assert_eq!(g.scrape_interval.to_string(), "30s");
    let nh = &jobs[0];
    assert_eq!(nh.job_name, "pods-native-histograms");
    assert_eq!(
        nh.fallback_scrape_protocol,
        Some(ScrapeProtocol::PrometheusText004)
    );
    assert!(!nh.enable_compression);
    assert_eq!(nh.extra_scrape_metrics, Some(true));
    // Global scrape_protocols win over the native-histogram protobuf-first default.
    assert_eq!(
        nh.accept_header(),
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
    );
    let legacy = jobs
        .iter()
        .find(|j| j.job_name == "legacy-names-job")
        .unwrap();
    assert_eq!(legacy.validation_scheme(), ValidationScheme::Legacy);
    assert_eq!(legacy.body_size_limit_bytes(), 16 << 20);
    assert_eq!(
        legacy.accept_header(),
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,text/plain;version=0.0.4;q=0.5,*/*;q=0.4"
    );
    // What is sent: protobuf is not parsed here, so it is not asked for.
    assert_eq!(
        legacy.request_accept_header(),
        "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"
    );
}

#[test]
fn unknown_fields_are_rejected() {
    let e = serde_saphyr::from_str::<ScrapeConfig>("job_name: x\nscrape_intervall: 5s\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("scrape_intervall"), "{e}");
    let e = serde_saphyr::from_str::<ScrapeConfig>("job_name: x\nbody_size_limit: 10\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("units: missing unit in \"10\""), "{e}");
}
