//! The prometheus-mixin works on mini-prometheus: a real Prometheus 2.42 (Debian's
//! `/usr/bin/prometheus`) scrapes the binary as `job="mini"` and evaluates the mixin's alert
//! expressions through its `/api/v1/query`; `PrometheusBadConfig` fires after a bad reload and
//! clears after a good one, `PrometheusTargetSyncFailure` fires when a job's target cannot be
//! created, `PrometheusNotIngestingSamples` stays quiet while samples are appended. And
//! every family our `/metrics` exposes in Prometheus' namespace exists in the
//! real Prometheus' `/metrics` with the same TYPE.
//!
//! The alert expressions are those of prometheus/prometheus,
//! `documentation/prometheus-mixin/alerts.libsonnet` (Apache License 2.0), with
//! `%(prometheusSelector)s` filled as `job="mini"` and the comments left out.
//!
//! Without `/usr/bin/prometheus` the test prints `SKIP` and passes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `PrometheusBadConfig`.
const BAD_CONFIG: &str =
    r#"max_over_time(prometheus_config_last_reload_successful{job="mini"}[5m]) == 0"#;
/// `PrometheusTargetSyncFailure`.
const TARGET_SYNC_FAILURE: &str =
    r#"increase(prometheus_target_sync_failed_total{job="mini"}[30m]) > 0"#;
/// `PrometheusRemoteWriteBehind`.
const REMOTE_WRITE_BEHIND: &str = r#"(
  max_over_time(prometheus_remote_storage_highest_timestamp_in_seconds{job="mini"}[5m])
- ignoring(remote_name, url) group_right
  max_over_time(prometheus_remote_storage_queue_highest_sent_timestamp_seconds{job="mini"}[5m])
)
> 120"#;
/// `PrometheusRemoteWriteDesiredShards`.
const REMOTE_WRITE_DESIRED_SHARDS: &str = r#"(
  max_over_time(prometheus_remote_storage_shards_desired{job="mini"}[5m])
>
  max_over_time(prometheus_remote_storage_shards_max{job="mini"}[5m])
)"#;

/// `PrometheusNotIngestingSamples`.
const NOT_INGESTING_SAMPLES: &str = r#"(
  sum without(type) (rate(prometheus_tsdb_head_samples_appended_total{job="mini"}[5m])) <= 0
and
  (
    sum without(scrape_job) (prometheus_target_metadata_cache_entries{job="mini"}) > 0
  or
    sum without(rule_group) (prometheus_rule_group_rules{job="mini"}) > 0
  )
)"#;

/// Families of ours in Prometheus' namespace that the referee cannot show, with the reason.
const NOT_IN_REFEREE: [(&str, &str); 2] = [
    (
        "prometheus_sd_kubernetes_events_total",
        "Debian's Prometheus 2.42 is built without Kubernetes SD, which registers it",
    ),
    (
        "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
        "2.42 exposes it only after a queue's first successful send; the referee's receiver is unreachable",
    ),
];

/// Remote-write families the mixin's remote-write alerts read; reported when absent (a queue
/// that never sent exposes no highest-sent timestamp).
const PENDING_REMOTE_STORAGE: [&str; 4] = [
    "prometheus_remote_storage_highest_timestamp_in_seconds",
    "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
    "prometheus_remote_storage_shards_desired",
    "prometheus_remote_storage_shards_max",
];

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

mod compat_common;
use compat_common::free_port;

/// curl; returns (HTTP status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("timed out waiting for {what}");
}

/// The referee's answer to an instant query: the `data.result` array (asserting success
/// and a vector result).
fn query(prom: u16, expr: &str) -> Vec<serde_json::Value> {
    let url = format!("http://127.0.0.1:{prom}/api/v1/query");
    let (code, body) = curl(&["--data-urlencode", &format!("query={expr}"), &url]);
    assert_eq!(code, 200, "{expr}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{expr}: {body}");
    assert_eq!(v["data"]["resultType"], "vector", "{expr}: {body}");
    v["data"]["result"].as_array().unwrap().clone()
}

/// `# TYPE` lines of an exposition: family name to type.
fn types(body: &str) -> BTreeMap<String, String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, t)| (n.to_owned(), t.trim().to_owned()))
        .collect()
}

/// mini-prometheus' config: itself, two remote-write queues to nowhere, and optionally a job
/// whose only target cannot be created, scraped every `broken_interval` seconds.
fn mini_config(port: u16, broken_interval: Option<u32>) -> String {
    let mut jobs = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n"
    );
    if let Some(s) = broken_interval {
        // Valid config; the relabeled address is not a host, so the target fails to sync.
        jobs.push_str(&format!(
            "  - job_name: broken\n    scrape_interval: {s}s\n    static_configs:\n      - targets: [\"127.0.0.1:1\"]\n    relabel_configs:\n      - target_label: __address__\n        replacement: bad/host\n"
        ));
    }
    jobs + "remote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n  - url: http://127.0.0.1:2/api/v1/write\n    name: second\n"
}

#[test]
fn prometheus_mixin_alerts_and_families() {
    if !Path::new("/usr/bin/prometheus").exists() {
        println!("SKIP: /usr/bin/prometheus not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mini, prom) = (free_port(), free_port());
    let cfg = dir.path().join("mini.yml");
    std::fs::write(&cfg, mini_config(mini, None)).unwrap();
    let _mini = Proc(
        Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
            .args(["--config.file", cfg.to_str().unwrap()])
            .args(["--web.listen-address", &format!("127.0.0.1:{mini}")])
            .args(["--web.enable-lifecycle", "--log.level=error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let reload = |broken: Option<u32>| -> u16 {
        match broken {
            Some(b) => std::fs::write(&cfg, mini_config(mini, Some(b))).unwrap(),
            None => std::fs::write(
                &cfg,
                "scrape_configs: [{job_name: x, scrape_interval: -1}]\n",
            )
            .unwrap(),
        }
        curl(&["-X", "POST", &format!("http://127.0.0.1:{mini}/-/reload")]).0
    };
    let limit = Duration::from_secs(30);
    wait_for("mini-prometheus", limit, || {
        curl(&[&format!("http://127.0.0.1:{mini}/-/ready")]).0 == 200
    });
    // A bad reload before the referee's first scrape, so that every sample it has of
    // `prometheus_config_last_reload_successful` is 0 (the alert takes the 5m maximum).
    assert_eq!(reload(None), 500);
    // The referee remote-writes too (to nowhere), so that its remote-storage families exist.
    let prom_cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_cfg,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: mini\n    static_configs:\n      - targets: [\"127.0.0.1:{mini}\"]\n  - job_name: prometheus\n    static_configs:\n      - targets: [\"127.0.0.1:{prom}\"]\nremote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n"
        ),
    )
    .unwrap();
    let _prom = Proc(
        Command::new("/usr/bin/prometheus")
            .args(["--config.file", prom_cfg.to_str().unwrap()])
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the referee scraping mini", limit, || {
        curl(&[&format!("http://127.0.0.1:{prom}/-/ready")]).0 == 200
            && !query(
                prom,
                r#"prometheus_config_last_reload_successful{job="mini"}"#,
            )
            .is_empty()
    });
    let firing = query(prom, BAD_CONFIG);
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(firing[0]["metric"]["job"], "mini");
    assert_eq!(firing[0]["value"][1], "0");
    assert!(query(prom, TARGET_SYNC_FAILURE).is_empty());

    // A good reload that adds a job whose target cannot be created: BadConfig clears.
    assert_eq!(reload(Some(1)), 200);
    wait_for("PrometheusBadConfig to clear", limit, || {
        query(prom, BAD_CONFIG).is_empty()
    });
    wait_for(
        "the broken job's sync failures in the referee",
        limit,
        || {
            !query(
                prom,
                r#"prometheus_target_sync_failed_total{job="mini",scrape_job="broken"}"#,
            )
            .is_empty()
        },
    );
    // The job changes: its pool is re-created and syncs again, failing again; the counter
    // grows and TargetSyncFailure fires for that job.
    assert_eq!(reload(Some(2)), 200);
    wait_for("PrometheusTargetSyncFailure to fire", limit, || {
        !query(prom, TARGET_SYNC_FAILURE).is_empty()
    });
    let sync = query(prom, TARGET_SYNC_FAILURE);
    assert_eq!(sync.len(), 1, "{sync:?}");
    assert_eq!(sync[0]["metric"]["scrape_job"], "broken");

    // The remote-write alerts evaluate (valid vector results; the queues are healthy).
    assert!(query(prom, REMOTE_WRITE_BEHIND).is_empty());
    assert!(query(prom, REMOTE_WRITE_DESIRED_SHARDS).is_empty());

    // Scraping and ingesting: NotIngestingSamples stays quiet, and not for want of data
    // (the self job's families are in the metadata cache; samples are appended).
    assert!(query(prom, NOT_INGESTING_SAMPLES).is_empty());
    assert!(
        !query(
            prom,
            r#"sum without(scrape_job) (prometheus_target_metadata_cache_entries{job="mini"}) > 0"#
        )
        .is_empty()
    );
    wait_for("a rate of appended samples", limit, || {
        !query(
            prom,
            r#"sum without(type) (rate(prometheus_tsdb_head_samples_appended_total{job="mini"}[5m])) > 0"#,
        )
        .is_empty()
    });

    // Families in Prometheus' namespace: the referee has each one, with the same type.
    let (_, ours) = curl(&[&format!("http://127.0.0.1:{mini}/metrics")]);
    let (_, theirs) = curl(&[&format!("http://127.0.0.1:{prom}/metrics")]);
    let (ours, theirs) = (types(&ours), types(&theirs));
    let exempt: BTreeMap<&str, &str> = NOT_IN_REFEREE.into_iter().collect();
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for (name, kind) in &ours {
        if !(name.starts_with("prometheus_") || name.starts_with("process_")) {
            continue;
        }
        if let Some(why) = exempt.get(name.as_str()) {
            println!("not compared: {name}: {why}");
            continue;
        }
        checked += 1;
        match theirs.get(name) {
            Some(t) if t == kind => {}
            Some(t) => mismatches.push(format!("{name}: ours {kind}, Prometheus {t}")),
            None => mismatches.push(format!("{name} ({kind}): not in Prometheus 2.42")),
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    assert!(checked >= 40, "only {checked} families compared");
    for name in [
        "prometheus_config_last_reload_successful",
        "prometheus_target_sync_failed_total",
        "prometheus_target_interval_length_seconds",
        "prometheus_http_request_duration_seconds",
        "prometheus_tsdb_head_series",
        "process_cpu_seconds_total",
    ] {
        assert!(ours.contains_key(name), "{name} missing in ours");
    }
    for name in PENDING_REMOTE_STORAGE {
        if !ours.contains_key(name) {
            println!("absent (no successful send yet): {name}");
        }
    }
}
