//! The command-line tools, run as a user runs them: the real binary, real files, exact output.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
}

fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mini-prometheus");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[path = "../../../testdata/testdata.rs"]
mod testdata;

#[test]
fn parse_prints_normalised_samples() {
    let body = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{path=\"/a\\\"b\",code=\"200\"} 1027 1395066363000\nhttp_requests_total{code=\"500\",path=\"/\"} 3\nbig 1048576\ntiny 0.00001\nnan NaN\ninf +Inf\n";
    let o = run_with_stdin(&["parse", "-"], body);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "http_requests_total{code=\"200\",path=\"/a\\\"b\"} 1027 1395066363000\n\
         http_requests_total{code=\"500\",path=\"/\"} 3\n\
         big 1.048576e+06\n\
         tiny 1e-05\n\
         nan NaN\n\
         inf +Inf\n"
    );
}

#[test]
fn parse_json_has_the_documented_shape() {
    let o = run_with_stdin(&["parse", "--json", "-"], "a{x=\"1\"} -Inf 5\nb 2.5\n");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{\"name\":\"a\",\"labels\":{\"x\":\"1\"},\"value\":\"-Inf\",\"timestamp_ms\":5}\n\
         {\"name\":\"b\",\"labels\":{},\"value\":\"2.5\",\"timestamp_ms\":null}\n"
    );
}

#[test]
fn parse_quotes_utf8_names() {
    let o = run_with_stdin(
        &["parse", "-"],
        "{\"http.server.duration\",\"url.scheme\"=\"https\"} 1\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{\"http.server.duration\",\"url.scheme\"=\"https\"} 1\n"
    );
}

#[test]
fn parse_openmetrics_converts_second_timestamps() {
    let o = run_with_stdin(
        &["parse", "--format", "openmetrics", "-"],
        "# TYPE a counter\na_total 3 1.5\n# EOF\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "a_total 3 1500\n");
}

#[test]
fn parse_error_exits_1_with_line_and_column() {
    let o = run_with_stdin(&["parse", "-"], "ok 1\nbad{x=1} 2\n");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "", "nothing printed on invalid input");
    assert_eq!(
        stderr(&o),
        "-: line 2, column 7: expected '\"' to start the value of label \"x\"\n"
    );
}

#[test]
fn parse_counts_every_payload_sample() {
    for (file, want) in [
        ("node_exporter.prom", 507),
        ("prometheus.prom", 475),
        ("utf8-names.prom", 312),
    ] {
        let path = testdata::payload(file);
        let o = bin().arg("parse").arg(&path).output().unwrap();
        assert!(o.status.success(), "{file}: {}", stderr(&o));
        assert_eq!(stdout(&o).lines().count(), want, "{file}");
    }
}

fn write_temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const POD_RULES: &str = "\
- source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
  action: keep
  regex: \"true\"
- source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
  regex: ([^:]+)(?::\\d+)?;(\\d+)
  replacement: $1:$2
  target_label: __address__
- action: labelmap
  regex: __meta_kubernetes_pod_label_(.+)
- action: labeldrop
  regex: __meta_.*
";

#[test]
fn relabel_prints_the_result() {
    let rules = write_temp("pod-rules.yml", POD_RULES);
    let o = bin()
        .args(["relabel", "--rules"])
        .arg(&rules)
        .args([
            "--labels",
            r#"{"__address__":"10.0.0.1:80","__meta_kubernetes_pod_annotation_prometheus_io_scrape":"true","__meta_kubernetes_pod_annotation_prometheus_io_port":"9102","__meta_kubernetes_pod_label_app":"web"}"#,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{\"__address__\":\"10.0.0.1:9102\",\"app\":\"web\"}\n"
    );
}

#[test]
fn relabel_prints_dropped() {
    let rules = write_temp("pod-rules-2.yml", POD_RULES);
    let o = bin()
        .args(["relabel", "--rules"])
        .arg(&rules)
        .args(["--labels", r#"{"__address__":"10.0.0.1:80"}"#])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "dropped\n");
}

#[test]
fn relabel_bad_rule_exits_1_naming_the_rule() {
    let rules = write_temp(
        "bad-rules.yml",
        "- action: keep\n  regex: a\n- action: hashmod\n  source_labels: [a]\n  target_label: b\n",
    );
    let o = bin()
        .args(["relabel", "--rules"])
        .arg(&rules)
        .args(["--labels", "{}"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.ends_with(
            "bad-rules.yml: relabel rule 1: relabel configuration for hashmod requires non-zero modulus\n"
        ),
        "{err}"
    );
}

#[test]
fn check_config_accepts_the_kubernetes_examples() {
    for name in [
        "01-prometheus-kubernetes.yml",
        "02-kubernetes-annotations.yml",
        "03-kubernetes-node-local-sharded.yml",
        "04-kubernetes-prometheus3-features.yml",
    ] {
        let path = testdata::file("prometheus/config-examples").join(name);
        let o = bin().args(["check", "config"]).arg(&path).output().unwrap();
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(stdout(&o).contains("SUCCESS"), "{name}: {}", stdout(&o));
    }
}

#[test]
fn check_config_names_file_line_and_field() {
    let path = write_temp(
        "bad.yml",
        "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n",
    );
    let o = bin().args(["check", "config"]).arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("bad.yml: "), "{err}");
    assert!(err.contains("line 5 column 5"), "{err}");
    assert!(err.contains("unknown field `scrape_intervall`"), "{err}");
}

/// Defect 4a: a negative duration made `check config` panic (exit 101); it is Prometheus'
/// error, with file, line and field, and exit 1.
#[test]
fn check_config_bad_duration_exits_1_with_prometheus_message() {
    let path = write_temp("neg.yml", "storage:\n  retention: -1\n");
    let o = bin().args(["check", "config"]).arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let p = path.display();
    assert_eq!(
        stderr(&o),
        format!(
            "  FAILED: {p}: error: line 2 column 14: not a valid duration string: \"-1\"\n \
             --> {p}:2:14\n  |\n1 | storage:\n2 |   retention: -1\n  |              ^\n"
        )
    );
}

/// Defect 5a: the snippet around a config error does not print the password next to it.
#[test]
fn check_config_error_masks_secrets() {
    let path = write_temp(
        "secret.yml",
        "remote_write:\n  - url: http://x/\n    basic_auth: {username: u, password: S3cret}\n    \
         bearer_token: T0ken\n    remote_timeoutt: 5s\n",
    );
    let o = bin().args(["check", "config"]).arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(!err.contains("S3cret") && !err.contains("T0ken"), "{err}");
    let p = path.display();
    assert!(
        err.starts_with(&format!(
            "  FAILED: {p}: error: line 5 column 5: unknown field `remote_timeoutt`"
        )),
        "{err}"
    );
    assert!(
        err.ends_with(&format!(
            " --> {p}:5:5\n  |\n3 |     basic_auth: {{username: u, password: <secret>}}\n\
             4 |     bearer_token: <secret>\n5 |     remote_timeoutt: 5s\n  |     ^\n"
        )),
        "{err}"
    );
}

#[test]
fn sd_once_shows_discovered_and_relabeled_labels() {
    let dir = std::env::temp_dir().join(format!("mp-cli-sd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let targets = dir.join("t.json");
    std::fs::write(
        &targets,
        r#"[{"targets":["x:9100"],"labels":{"team":"a"}},{"targets":["y:9100"],"labels":{"team":"drop-me"}}]"#,
    )
    .unwrap();
    let config = dir.join("p.yml");
    std::fs::write(
        &config,
        format!(
            "scrape_configs:\n  - job_name: files\n    scrape_interval: 30s\n    file_sd_configs:\n      - files: [{}/*.json]\n    relabel_configs:\n      - source_labels: [team]\n        regex: drop-me\n        action: drop\n      - source_labels: [__meta_filepath]\n        target_label: file\n  - job_name: static\n    static_configs:\n      - targets: [\"a:80\"]\n        labels: {{env: prod}}\n",
            dir.display()
        ),
    )
    .unwrap();
    let o = bin()
        .args(["sd", "--once", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let file = targets.display().to_string();
    let expected = serde_json::json!([
        {
            "scrapePool": "files",
            "source": format!("{file}:0"),
            "dropped": false,
            "discoveredLabels": {
                "__address__": "x:9100",
                "__always_scrape_classic_histograms__": "false",
                "__convert_classic_histograms_to_nhcb__": "false",
                "__meta_filepath": file,
                "__metrics_path__": "/metrics",
                "__scheme__": "http",
                "__scrape_interval__": "30s",
                "__scrape_native_histograms__": "false",
                "__scrape_timeout__": "10s",
                "job": "files",
                "team": "a"
            },
            "labels": {"file": file, "instance": "x:9100", "job": "files", "team": "a"}
        },
        {
            "scrapePool": "files",
            "source": format!("{file}:1"),
            "dropped": true,
            "discoveredLabels": {
                "__address__": "y:9100",
                "__always_scrape_classic_histograms__": "false",
                "__convert_classic_histograms_to_nhcb__": "false",
                "__meta_filepath": file,
                "__metrics_path__": "/metrics",
                "__scheme__": "http",
                "__scrape_interval__": "30s",
                "__scrape_native_histograms__": "false",
                "__scrape_timeout__": "10s",
                "job": "files",
                "team": "drop-me"
            },
            "labels": null
        },
        {
            "scrapePool": "static",
            "source": "0",
            "dropped": false,
            "discoveredLabels": {
                "__address__": "a:80",
                "__always_scrape_classic_histograms__": "false",
                "__convert_classic_histograms_to_nhcb__": "false",
                "__metrics_path__": "/metrics",
                "__scheme__": "http",
                "__scrape_interval__": "1m",
                "__scrape_native_histograms__": "false",
                "__scrape_timeout__": "10s",
                "env": "prod",
                "job": "static"
            },
            "labels": {"env": "prod", "instance": "a:80", "job": "static"}
        }
    ]);
    assert_eq!(v, expected);
}

/// A target that fails to populate (its relabeled address is empty, as an Ingress rule
/// without a host gives) keeps its discovered labels beside the error, as
/// `promtool check service-discovery` prints them (issue 18).
#[test]
fn sd_once_failed_target_keeps_discovered_labels() {
    let dir = std::env::temp_dir().join(format!("mp-cli-sd-fail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("p.yml");
    std::fs::write(
        &config,
        "scrape_configs:\n  - job_name: nohost\n    scrape_interval: 30s\n    static_configs:\n      - targets: [\"a:80\"]\n        labels: {ingress: web}\n    relabel_configs:\n      - target_label: __address__\n        replacement: \"\"\n",
    )
    .unwrap();
    let o = bin()
        .args(["sd", "--once", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let expected = serde_json::json!([{
        "scrapePool": "nohost",
        "source": "0",
        "discoveredLabels": {
            "__address__": "a:80",
            "__always_scrape_classic_histograms__": "false",
            "__convert_classic_histograms_to_nhcb__": "false",
            "__metrics_path__": "/metrics",
            "__scheme__": "http",
            "__scrape_interval__": "30s",
            "__scrape_native_histograms__": "false",
            "__scrape_timeout__": "10s",
            "ingress": "web",
            "job": "nohost"
        },
        "labels": null,
        "dropped": false,
        "error": "no address"
    }]);
    assert_eq!(v, expected);
    let _ = std::fs::remove_dir_all(&dir);
}
