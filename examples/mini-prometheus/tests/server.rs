//! The server as users run it: a real process with a config file, scraping itself, reloaded
//! over HTTP, stopped with SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

mod compat_common;
use compat_common::free_port;

/// A minimal HTTP/1.1 request on loopback; returns (status, body).
fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

fn config(port: u16, extra_job: bool) -> String {
    let mut c = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  external_labels:\n    replica: a\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n        labels: {{env: test}}\n"
    );
    if extra_job {
        c.push_str(&format!(
            "  - job_name: cadvisor\n    metrics_path: /metrics/cadvisor\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n"
        ));
    }
    c
}

#[test]
fn scrapes_itself_reloads_and_drains() {
    let dir = std::env::temp_dir().join(format!("mp-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config(port, false)).unwrap();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
            .arg("--config.file")
            .arg(&cfg)
            .arg("--web.listen-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .arg("--web.enable-lifecycle")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mini-prometheus"),
    );

    // `up` of the self job, with the static labels, once a scrape has happened.
    wait_for("up{job=\"self\"}", Duration::from_secs(30), || {
        http(port, "GET", "/api/v1/query?query=up").is_some_and(|(code, body)| {
            code == 200 && body.contains(r#""value":["#) && body.contains(r#""job":"self""#)
        })
    });
    let (_, body) = http(port, "GET", "/api/v1/query?query=up").unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let result = &v["data"]["result"][0];
    assert_eq!(
        result["metric"],
        serde_json::json!({"__name__": "up", "env": "test", "instance": format!("127.0.0.1:{port}"), "job": "self"})
    );
    assert_eq!(result["value"][1], "1");

    // Its own metrics name the pool and the discovered target.
    let (code, metrics) = http(port, "GET", "/metrics").unwrap();
    assert_eq!(code, 200);
    for line in [
        "prometheus_target_scrape_pool_targets{scrape_job=\"self\"} 1",
        "scrapeline_targets_up{scrape_pool=\"self\"} 1",
        "prometheus_sd_discovered_targets{config=\"self\",name=\"scrape\"} 1",
        "prometheus_sd_failed_configs{name=\"scrape\"} 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in /metrics:\n{metrics}"
        );
    }

    // Federation adds the external labels.
    let (_, fed) = http(port, "GET", "/federate?match[]=up").unwrap();
    assert!(
        fed.lines().any(|l| l.starts_with(&format!(
            "up{{env=\"test\",instance=\"127.0.0.1:{port}\",job=\"self\",replica=\"a\"}} 1 "
        ))),
        "{fed}"
    );

    // A reload with a new job starts it without disturbing the old one.
    std::fs::write(&cfg, config(port, true)).unwrap();
    let (code, _) = http(port, "POST", "/-/reload").unwrap();
    assert_eq!(code, 200);
    wait_for(
        "the cadvisor job after reload",
        Duration::from_secs(30),
        || {
            http(port, "GET", "/api/v1/targets").is_some_and(|(_, b)| {
                let v: serde_json::Value = serde_json::from_str(&b).unwrap_or_default();
                v["data"]["activeTargets"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|t| t["scrapePool"] == "cadvisor" && t["health"] == "up")
                })
            })
        },
    );

    // A broken config is refused and the running one stays.
    std::fs::write(&cfg, "scrape_configs:\n  - job_name: x\n    bogus: 1\n").unwrap();
    let (code, body) = http(port, "POST", "/-/reload").unwrap();
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("unknown field `bogus`"), "{body}");
    let (_, targets) = http(port, "GET", "/api/v1/targets").unwrap();
    assert!(targets.contains("\"scrapePool\":\"self\""), "{targets}");

    // SIGTERM drains and exits 0.
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
}

/// Defects 4a and 5a on a running server: a reload of a config with a bad duration, by
/// `POST /-/reload` or by SIGHUP, is refused with Prometheus' message and keeps the running
/// config and the process; the error (body and log) never shows the password next to it.
#[test]
fn bad_reloads_keep_the_server_and_its_config_and_hide_secrets() {
    let dir = std::env::temp_dir().join(format!("mp-server-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config(port, false)).unwrap();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
            .arg("--config.file")
            .arg(&cfg)
            .arg("--web.listen-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .arg("--web.enable-lifecycle")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mini-prometheus"),
    );
    wait_for("the server", Duration::from_secs(30), || {
        http(port, "GET", "/-/ready").is_some_and(|(code, _)| code == 200)
    });
    let pools = || {
        let (_, body) = http(port, "GET", "/api/v1/targets").unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut pools: Vec<String> = v["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["scrapePool"].as_str().unwrap().to_owned())
            .collect();
        pools.sort();
        pools
    };
    wait_for("the self target", Duration::from_secs(30), || {
        pools() == ["self"]
    });

    // A new job next to `retention: -1`: refused, the new job never starts.
    let bad = format!("{}storage:\n  retention: -1\n", config(port, true));
    std::fs::write(&cfg, &bad).unwrap();
    let (code, body) = http(port, "POST", "/-/reload").unwrap();
    assert_eq!(code, 500, "{body}");
    let p = cfg.display();
    assert_eq!(
        body.lines().next().unwrap(),
        format!(
            "failed to reload config: {p}: error: line 16 column 14: not a valid duration string: \"-1\""
        ),
        "{body}"
    );
    assert!(body.contains("16 |   retention: -1\n"), "{body}");
    assert_eq!(pools(), ["self"]);

    // A typo next to a password: the 500 body names line and field, not the password.
    let secret = format!(
        "{}remote_write:\n  - url: http://127.0.0.1:1/\n    basic_auth:\n      username: u\n      password: S3cret\n    remote_timeoutt: 5s\n",
        config(port, true)
    );
    std::fs::write(&cfg, &secret).unwrap();
    let (code, body) = http(port, "POST", "/-/reload").unwrap();
    assert_eq!(code, 500, "{body}");
    assert!(!body.contains("S3cret"), "{body}");
    assert!(
        body.starts_with(&format!(
            "failed to reload config: {p}: error: line 20 column 5: unknown field `remote_timeoutt`"
        )),
        "{body}"
    );
    assert!(
        body.ends_with("19 |       password: <secret>\n20 |     remote_timeoutt: 5s\n   |     ^\n"),
        "{body}"
    );

    // SIGHUP with the bad duration: logged, the server stays up with its config.
    std::fs::write(&cfg, &bad).unwrap();
    let pid = server.0.id().to_string();
    let hup = |pid: &str| {
        assert!(
            Command::new("kill")
                .args(["-HUP", pid])
                .status()
                .unwrap()
                .success()
        )
    };
    hup(&pid);
    // And with the secret, to check the log.
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(&cfg, &secret).unwrap();
    hup(&pid);
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.0.try_wait().unwrap().is_none(), "SIGHUP killed it");
    assert_eq!(http(port, "GET", "/-/healthy").map(|(c, _)| c), Some(200));
    assert_eq!(pools(), ["self"]);

    // A good config still reloads after all that.
    std::fs::write(&cfg, config(port, true)).unwrap();
    hup(&pid);
    wait_for(
        "the cadvisor job after SIGHUP",
        Duration::from_secs(30),
        || pools() == ["cadvisor", "self"],
    );

    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut log = String::new();
    server
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert_eq!(server.0.wait().unwrap().code(), Some(0), "{log}");
    assert!(!log.contains("S3cret"), "{log}");
    // Every failed reload, by HTTP (2) and SIGHUP (2), is one ERROR line with the file and
    // the error, as Prometheus logs it (HTTP failures used to log nothing).
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" level=ERROR ") && l.contains(" msg=\"Error reloading config\" "))
        .collect();
    assert_eq!(failures.len(), 4, "{log}");
    for l in &failures {
        assert!(
            l.contains(&format!(" filename={} err=\"", cfg.display())),
            "{l}"
        );
    }
    assert!(
        failures[0]
            .contains("error: line 16 column 14: not a valid duration string: \\\"-1\\\"\\n"),
        "{log}"
    );
}

/// Issue 16: a reload applies a changed `remote_write` (it used to only warn "restart to apply
/// them"): the changed endpoint's queue is replaced, as `/metrics` shows.
#[test]
fn reload_applies_a_changed_remote_write() {
    let dir = std::env::temp_dir().join(format!("mp-server-rw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let cfg = dir.join("prometheus.yml");
    let with_url = |path: &str| {
        format!(
            "{}remote_write:\n  - url: http://127.0.0.1:1/{path}\n    name: central\n",
            config(port, false)
        )
    };
    std::fs::write(&cfg, with_url("old")).unwrap();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
            .arg("--config.file")
            .arg(&cfg)
            .arg("--web.listen-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .arg("--web.enable-lifecycle")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mini-prometheus"),
    );
    let sent = |path: &str| {
        format!(
            "prometheus_remote_storage_samples_total{{remote_name=\"central\",url=\"http://127.0.0.1:1/{path}\"}} 0"
        )
    };
    wait_for(
        "/metrics with the old endpoint",
        Duration::from_secs(30),
        || http(port, "GET", "/metrics").is_some_and(|(_, m)| m.lines().any(|l| l == sent("old"))),
    );
    std::fs::write(&cfg, with_url("new")).unwrap();
    let (code, body) = http(port, "POST", "/-/reload").unwrap();
    assert_eq!(code, 200, "{body}");
    let (_, metrics) = http(port, "GET", "/metrics").unwrap();
    assert!(metrics.lines().any(|l| l == sent("new")), "{metrics}");
    assert!(!metrics.contains("http://127.0.0.1:1/old"), "{metrics}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The status and metadata endpoints of a running server: the loaded config with its
/// secrets masked, the flags as given, the reload outcome, and the metadata its own scrape
/// declared, per target.
#[test]
fn status_and_metadata_endpoints_follow_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("prometheus.yml");
    let text = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: self\n    basic_auth:\n      username: u\n      password: hunter2\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n"
    );
    std::fs::write(&cfg, &text).unwrap();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
            .arg("--config")
            .arg(&cfg)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--query.timeout=1m")
            .arg("--web.enable-lifecycle")
            .arg("--log.level=error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mini-prometheus"),
    );
    let data = |path: &str| -> serde_json::Value {
        let (code, body) = http(port, "GET", path).unwrap();
        assert_eq!(code, 200, "{path}: {body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["data"].clone()
    };
    wait_for(
        "the first scrape's metadata",
        Duration::from_secs(30),
        || {
            http(
                port,
                "GET",
                "/api/v1/metadata?metric=prometheus_http_requests_total",
            )
            .is_some_and(|(_, b)| b.contains("\"counter\""))
        },
    );

    let yaml = data("/api/v1/status/config")["yaml"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(yaml, text.replace("hunter2", "<secret>"));
    let flags = data("/api/v1/status/flags");
    assert_eq!(flags["config.file"], cfg.display().to_string());
    assert_eq!(flags["query.timeout"], "1m");
    assert_eq!(flags["web.listen-address"], format!("127.0.0.1:{port}"));
    assert_eq!(flags["agent"], "false");
    let info = data("/api/v1/status/runtimeinfo");
    assert_eq!(info["reloadConfigSuccess"], true);
    assert_eq!(info["storageRetention"], "2h");
    let loaded_at = info["lastConfigTime"].clone();

    assert_eq!(
        data("/api/v1/metadata?metric=prometheus_http_requests_total"),
        serde_json::json!({"prometheus_http_requests_total": [{
            "type": "counter", "help": "Counter of HTTP requests.", "unit": ""
        }]})
    );
    assert_eq!(
        data(
            "/api/v1/targets/metadata?metric=scrapeline_store_series&match_target=%7Bjob%3D%22self%22%7D"
        ),
        serde_json::json!([{
            "target": {"instance": format!("127.0.0.1:{port}"), "job": "self"},
            "type": "gauge", "help": "Series held in the in-memory store.", "unit": ""
        }])
    );
    let tsdb = data("/api/v1/status/tsdb?limit=1");
    assert!(
        tsdb["headStats"]["numSeries"].as_u64().unwrap() > 10,
        "{tsdb}"
    );
    assert_eq!(tsdb["seriesCountByMetricName"].as_array().unwrap().len(), 1);

    // A refused reload: reloadConfigSuccess turns false, the loaded config stays.
    std::fs::write(&cfg, "scrape_configs:\n  - job_name: x\n    bogus: 1\n").unwrap();
    let (code, _) = http(port, "POST", "/-/reload").unwrap();
    assert_eq!(code, 500);
    let info = data("/api/v1/status/runtimeinfo");
    assert_eq!(info["reloadConfigSuccess"], false);
    assert_eq!(info["lastConfigTime"], loaded_at);
    assert_eq!(data("/api/v1/status/config")["yaml"], yaml.as_str());
}

/// Issue 18 on a running server: a static target whose relabeling empties `__address__` is
/// listed in `droppedTargets` with its discovered labels and Prometheus' error, outside
/// `droppedTargetCounts`, and counted in `prometheus_target_sync_failed_total`; the good
/// target of the same pool stays active.
#[test]
fn targets_that_cannot_be_created_are_listed_with_their_discovered_labels() {
    let dir = std::env::temp_dir().join(format!("mp-server-failed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: ing\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\", \"no-host.invalid:80\"]\n        labels: {{ingress: web}}\n    relabel_configs:\n      - source_labels: [__address__]\n        regex: no-host.*\n        target_label: __address__\n        replacement: ''\n"
        ),
    )
    .unwrap();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
            .arg("--config.file")
            .arg(&cfg)
            .arg("--web.listen-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mini-prometheus"),
    );
    let data = |path: &str| -> serde_json::Value {
        let (code, body) = http(port, "GET", path).unwrap();
        assert_eq!(code, 200, "{path}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["data"].clone()
    };
    wait_for("the ing job's targets", Duration::from_secs(30), || {
        http(port, "GET", "/api/v1/targets?state=active")
            .is_some_and(|(_, b)| b.contains(r#""scrapePool":"ing""#))
    });
    assert_eq!(
        data("/api/v1/targets?state=dropped"),
        serde_json::json!({
            "activeTargets": [],
            "droppedTargets": [{
                "discoveredLabels": {
                    "__address__": "no-host.invalid:80",
                    "__always_scrape_classic_histograms__": "false",
                    "__convert_classic_histograms_to_nhcb__": "false",
                    "__metrics_path__": "/metrics",
                    "__scheme__": "http",
                    "__scrape_interval__": "1s",
                    "__scrape_native_histograms__": "false",
                    "__scrape_timeout__": "1s",
                    "ingress": "web",
                    "job": "ing"
                },
                "scrapePool": "ing",
                "error": "no address"
            }],
            "droppedTargetCounts": {"ing": 0}
        })
    );
    let active = data("/api/v1/targets?state=active");
    let urls: Vec<&str> = active["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["scrapeUrl"].as_str().unwrap())
        .collect();
    assert_eq!(urls, [format!("http://127.0.0.1:{port}/metrics")]);
    let (_, metrics) = http(port, "GET", "/metrics").unwrap();
    // One failure per sync: at least the first one.
    let failed = metrics
        .lines()
        .find_map(|l| l.strip_prefix("prometheus_target_sync_failed_total{scrape_job=\"ing\"} "))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(failed.is_some_and(|n| n >= 1.0), "{metrics}");
    let (_, page) = http(port, "GET", "/targets").unwrap();
    assert!(
        page.contains("<h2>Targets that could not be created (1)</h2>"),
        "{page}"
    );
    assert!(page.contains("<td class=\"err\">no address</td>"), "{page}");
}
