//! A newcomer's first run: the binary started as the README says (embedded default config, no
//! cluster), and the lines its log shows until the first scrapes are reported.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server's stderr lines until one contains `last` (or 90 s pass); the server is killed.
fn log_until(mut child: Child, last: &str) -> Vec<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut lines = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains(last);
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

/// The server as a newcomer's shell starts it: no cluster in the environment, an empty home.
fn server(home: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
        .args(args)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("KUBECONFIG")
        .env_remove("RUST_LOG")
        .env("HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The one line containing every part of `parts`; fails listing the log otherwise.
fn line_with<'a>(lines: &'a [String], parts: &[&str]) -> &'a str {
    let found: Vec<&String> = lines
        .iter()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one line with {parts:?} in:\n{}",
        lines.join("\n")
    );
    found[0]
}

fn position(lines: &[String], line: &str) -> usize {
    lines.iter().position(|l| l == line).unwrap()
}

const REPORT_END: &str = "every target's state, labels and last error: open the targets page";

#[test]
fn default_config_first_run_says_what_runs_and_where_to_look() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let node_exporter_up = TcpStream::connect_timeout(
        &"127.0.0.1:9100".parse().unwrap(),
        Duration::from_millis(300),
    )
    .is_ok();
    let lines = log_until(
        server(home.path(), &["--web.listen-address", &listen]),
        REPORT_END,
    );
    let version = format!("version={}", env!("CARGO_PKG_VERSION"));
    let url = format!("http://{listen}/targets");

    let kube = line_with(
        &lines,
        &[
            "INFO",
            "no in-cluster config or kubeconfig; Kubernetes discovery off",
        ],
    );
    // kube's error is not dumped at INFO.
    assert!(!kube.contains("error="), "{kube}");
    let start = line_with(
        &lines,
        &[
            "INFO",
            "mini-prometheus starting",
            &version,
            // The value is quoted or not, depending on the log format.
            "config=",
            "embedded default config",
            &format!("targets_page={url}"),
        ],
    );
    let jobs = if node_exporter_up { 3 } else { 2 };
    assert!(start.contains(&format!("jobs={jobs}")), "{start}");
    let first_job = line_with(
        &lines,
        &[
            "scrape job loaded",
            "job=mini-prometheus",
            "discovery=static",
            "interval=15s",
        ],
    );
    line_with(
        &lines,
        &[
            "scrape job loaded",
            "job=cadvisor",
            "discovery=static",
            "interval=15s",
        ],
    );
    if node_exporter_up {
        line_with(
            &lines,
            &["scrape job loaded", "job=node", "discovery=static"],
        );
    } else {
        line_with(
            &lines,
            &[
                "INFO",
                "no node exporter answers on localhost:9100",
                "no job named node",
            ],
        );
    }
    // After the first scrapes: itself answered, the collector has its line either way.
    let itself = line_with(
        &lines,
        &[
            "INFO",
            "job discovered targets; all answered",
            "job=mini-prometheus",
            "targets=1",
            "up=1",
        ],
    );
    let cadvisor = lines
        .iter()
        .filter(|l| l.contains("job=cadvisor") && !l.contains("scrape job loaded"))
        .count();
    assert_eq!(cadvisor, 1, "{}", lines.join("\n"));
    let end = line_with(&lines, &["INFO", REPORT_END, &format!("url={url}")]);
    assert!(position(&lines, start) < position(&lines, first_job));
    assert!(position(&lines, first_job) < position(&lines, itself));
    assert!(position(&lines, itself) < position(&lines, end));
}

#[test]
fn first_run_report_names_what_did_not_answer_and_failed_discovery() {
    let home = tempfile::tempdir().unwrap();
    let closed = free_port();
    let config = home.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: pods\n    kubernetes_sd_configs: [{{role: pod}}]\n  - job_name: down\n    static_configs: [{{targets: [\"127.0.0.1:{closed}\"]}}]\n  - job_name: all-dropped\n    static_configs: [{{targets: [\"127.0.0.1:{closed}\"]}}]\n    relabel_configs: [{{action: drop, source_labels: [__address__], regex: \".*\"}}]\n"
        ),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let lines = log_until(
        server(
            home.path(),
            &[
                "--web.listen-address",
                &listen,
                "--config.file",
                config.to_str().unwrap(),
            ],
        ),
        REPORT_END,
    );
    line_with(
        &lines,
        &[
            "mini-prometheus starting",
            &format!("config={}", config.display()),
            "jobs=3",
        ],
    );
    line_with(
        &lines,
        &[
            "scrape job loaded",
            "job=pods",
            "discovery=kubernetes/pod",
            "interval=1s",
        ],
    );
    line_with(
        &lines,
        &[
            "WARN",
            "this job discovers nothing",
            "job=pods",
            "KUBERNETES_SERVICE_HOST is not set",
        ],
    );
    line_with(
        &lines,
        &[
            "WARN",
            "job discovered no targets: discovery failed",
            "job=pods",
            "err=\"in-cluster config: KUBERNETES_SERVICE_HOST is not set\"",
        ],
    );
    let down = line_with(
        &lines,
        &[
            "WARN",
            "no target of the job answered",
            "job=down",
            "targets=1",
            &format!("target=http://127.0.0.1:{closed}/metrics"),
        ],
    );
    assert!(down.contains("Connection refused"), "{down}");
    line_with(
        &lines,
        &[
            "WARN",
            "job discovered targets but relabeling dropped them all",
            "job=all-dropped",
            "dropped=1",
        ],
    );
    line_with(
        &lines,
        &[REPORT_END, &format!("url=http://{listen}/targets")],
    );
}
