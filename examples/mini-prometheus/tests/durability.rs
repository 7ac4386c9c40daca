//! Remote write that loses nothing: the binary in `--agent` mode with a WAL, a loopback
//! target that counts what it served (scrape n serves `dur_test_total n`), and real
//! receivers (Debian's `prometheus --web.enable-remote-write-receiver` and
//! `victoria-metrics`) stopped and restarted while the agent is `kill -9`ed and restarted on
//! the same WAL. Served values are compared with received ones, per receiver.
//!
//! The documented tail: a kill loses at most the scrape being appended at that moment (one
//! per target); a graceful stop likewise the scrape it interrupts. Duplicates are allowed
//! (remote write is at least once) and counted.
//!
//! A test whose receiver binary is missing prints why and passes without running.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn installed(bin: &str) -> bool {
    Path::new("/usr/bin").join(bin).is_file()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// GET on loopback through testkit's client.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(scrapeline_testkit::http::get(
        port,
        path,
        Duration::from_secs(10),
    ))
    .ok()
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not reached in {timeout:?}");
}

/// A process killed (SIGKILL) when dropped.
struct Proc(Option<Child>);

impl Proc {
    /// SIGTERM, then wait (SIGKILL after 15 s).
    fn stop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(15) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL, as the OOM killer would.
    fn kill9(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The target: serves `dur_test_total n` on its n-th scrape and counts them.
struct Target {
    port: u16,
    served: Arc<AtomicU64>,
}

impl Target {
    fn start() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = Arc::new(AtomicU64::new(0));
        let s = served.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => continue,
                });
                // Read the request head.
                let mut line = String::new();
                let mut ok = false;
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if line == "\r\n" || line == "\n" {
                        ok = true;
                        break;
                    }
                    line.clear();
                }
                if !ok {
                    continue;
                }
                // One connection at a time: the count and the write cannot interleave.
                let n = s.load(Ordering::SeqCst) + 1;
                let body = format!("# TYPE dur_test_total counter\ndur_test_total {n}\n");
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                if stream.write_all(resp.as_bytes()).is_ok() {
                    s.store(n, Ordering::SeqCst);
                }
            }
        });
        Target { port, served }
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }
}

/// A receiver: Prometheus or VictoriaMetrics, restartable on the same port and data.
struct Receiver {
    kind: &'static str,
    port: u16,
    args: Vec<String>,
    proc: Proc,
}

impl Receiver {
    fn prometheus(dir: &Path) -> Receiver {
        let port = free_port();
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, "global:\n  scrape_interval: 1h\n").unwrap();
        let args = vec![
            format!("--config.file={}", cfg.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--web.enable-remote-write-receiver".to_owned(),
            "--log.level=error".to_owned(),
        ];
        Receiver::start("prometheus", port, args)
    }

    fn victoria_metrics(dir: &Path) -> Receiver {
        let mut r = Receiver::victoria_metrics_stopped(dir);
        r.restart();
        r
    }

    /// A VictoriaMetrics not started yet (its port reserved for the agent's config).
    fn victoria_metrics_stopped(dir: &Path) -> Receiver {
        let port = free_port();
        let args = vec![
            format!("-httpListenAddr=127.0.0.1:{port}"),
            format!("-storageDataPath={}", dir.display()),
            "-search.latencyOffset=0s".to_owned(),
            "-loggerLevel=ERROR".to_owned(),
        ];
        Receiver {
            kind: "victoria-metrics",
            port,
            args,
            proc: Proc(None),
        }
    }

    fn start(kind: &'static str, port: u16, args: Vec<String>) -> Receiver {
        let mut r = Receiver {
            kind,
            port,
            args,
            proc: Proc(None),
        };
        r.restart();
        r
    }

    fn ready_path(&self) -> &'static str {
        if self.kind == "prometheus" {
            "/-/ready"
        } else {
            "/health"
        }
    }

    fn restart(&mut self) {
        let child = Command::new(format!("/usr/bin/{}", self.kind))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.proc = Proc(Some(child));
        let (port, path) = (self.port, self.ready_path());
        wait_for(
            &format!("{} ready", self.kind),
            Duration::from_secs(30),
            || get(port, path).is_some_and(|r| r.0 == 200),
        );
    }

    fn stop(&mut self) {
        if self.kind == "victoria-metrics" {
            let _ = get(self.port, "/internal/force_flush");
        }
        self.proc.stop();
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1/write", self.port)
    }

    /// Every `dur_test_total` value received (finite ones: no staleness markers), with
    /// repeats.
    fn values(&self) -> Vec<u64> {
        let mut out = Vec::new();
        if self.kind == "prometheus" {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 60;
            let Some((200, body)) = get(
                self.port,
                &format!("/api/v1/query?query=dur_test_total%5B30m%5D&time={now}"),
            ) else {
                return out;
            };
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            for r in v["data"]["result"].as_array().cloned().unwrap_or_default() {
                for p in r["values"].as_array().cloned().unwrap_or_default() {
                    if let Some(x) = p[1].as_str().and_then(|s| s.parse::<f64>().ok())
                        && x.is_finite()
                    {
                        out.push(x as u64);
                    }
                }
            }
        } else {
            let _ = get(self.port, "/internal/force_flush");
            let Some((200, body)) = get(self.port, "/api/v1/export?match[]=dur_test_total") else {
                return out;
            };
            for line in body.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                for x in v["values"].as_array().cloned().unwrap_or_default() {
                    if let Some(x) = x.as_f64().filter(|x| x.is_finite()) {
                        out.push(x as u64);
                    }
                }
            }
        }
        out
    }
}

/// The agent, its log on stderr collected.
struct Agent {
    proc: Proc,
    log: Arc<Mutex<String>>,
}

impl Agent {
    fn start(dir: &Path, config: &Path, extra: &[&str]) -> Agent {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
            .arg("--agent")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.agent.path={}", dir.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=info")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mini-prometheus");
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    log.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Agent {
            proc: Proc(Some(child)),
            log,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

fn agent_config(dir: &Path, target: u16, receivers: &[&Receiver]) -> std::path::PathBuf {
    let mut y = format!(
        "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\nscrape_configs:\n  - job_name: dur\n    static_configs: [{{targets: ['127.0.0.1:{target}']}}]\nremote_write:\n"
    );
    for r in receivers {
        y.push_str(&format!(
            "  - url: {}\n    name: {}\n    queue_config: {{batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 300ms}}\n",
            r.url(),
            r.kind
        ));
    }
    let p = dir.join("agent.yml");
    std::fs::write(&p, y).unwrap();
    p
}

/// Missing and duplicated values of `1..=served` in what a receiver holds.
fn tally(values: &[u64], served: u64) -> (Vec<u64>, usize) {
    let distinct: BTreeSet<u64> = values.iter().copied().collect();
    let missing = (1..=served).filter(|v| !distinct.contains(v)).collect();
    (missing, values.len() - distinct.len())
}

#[test]
fn kill_and_receiver_outages_lose_nothing_committed() {
    if !installed("prometheus") || !installed("victoria-metrics") {
        println!("SKIPPED: needs /usr/bin/prometheus and /usr/bin/victoria-metrics");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let target = Target::start();
    std::fs::create_dir_all(tmp.path().join("prom")).unwrap();
    let mut prom = Receiver::prometheus(&tmp.path().join("prom"));
    let mut vm = Receiver::victoria_metrics(&tmp.path().join("vm"));
    let config = agent_config(tmp.path(), target.port, &[&prom, &vm]);
    let wal = tmp.path().join("agent");
    let mut agent = Agent::start(&wal, &config, &[]);

    wait_for(
        "first samples at both receivers",
        Duration::from_secs(20),
        || prom.values().len() >= 5 && vm.values().len() >= 5,
    );
    // Outage: both receivers go away; scrapes go on into the WAL.
    prom.stop();
    vm.stop();
    std::thread::sleep(Duration::from_secs(3));
    // The agent is killed mid-outage.
    agent.proc.kill9();
    let at_kill = target.served();
    let first_log = agent.log();
    let agent = Agent::start(&wal, &config, &[]);
    std::thread::sleep(Duration::from_secs(2));
    prom.restart();
    vm.restart();
    // Everything served so far arrives (the kill's tail aside).
    let until = target.served();
    wait_for(
        "the backlog at both receivers",
        Duration::from_secs(30),
        || {
            [&prom, &vm].iter().all(|r| {
                let (missing, _) = tally(&r.values(), until);
                missing.iter().all(|m| *m == at_kill)
            })
        },
    );
    let mut agent = agent;
    agent.proc.stop();
    let served = target.served();
    let log = agent.log();
    // VictoriaMetrics may take a moment to show the last rows it took.
    let visible = Instant::now();
    while visible.elapsed() < Duration::from_secs(5)
        && ![&prom, &vm]
            .iter()
            .all(|r| tally(&r.values(), served).0.iter().all(|m| *m == at_kill))
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    for r in [&prom, &vm] {
        let (missing, dups) = tally(&r.values(), served);
        println!(
            "{}: served {served}, killed after {at_kill}, missing {missing:?}, duplicates {dups}",
            r.kind
        );
        // Only the scrape being committed at the kill and the one a graceful stop
        // interrupts may be missing.
        assert!(
            missing.iter().all(|m| *m == at_kill || *m == served),
            "{}: missing {missing:?} (killed after {at_kill}, served {served})\nfirst run:\n{first_log}\nsecond run:\n{log}",
            r.kind
        );
        assert!(
            served > at_kill + 10,
            "the second run scraped: {served} vs {at_kill}"
        );
    }
    // The outage is logged once per queue and run, not per retry, and the recovery once.
    let failures = log.matches("Failed to send batch, retrying").count();
    assert!(failures <= 2, "{failures} failure lines:\n{log}");
    assert_eq!(
        log.matches("Remote storage is reachable again").count(),
        2,
        "{log}"
    );
    prom.stop();
    vm.stop();
}

/// One frame of a segment: its start and end offsets and its `dur_test_total` values.
type Frame = (usize, usize, Vec<u64>);

/// Per segment: each frame's start and end offsets and the `dur_test_total` values of its
/// samples (the WAL read offline, as a tool would, with the crate's frame parser).
fn wal_frames(dir: &Path) -> Vec<(u32, Vec<Frame>)> {
    use scrapeline_wal::record::{self, Record};
    use scrapeline_wal::segment;
    let mut dur_refs = BTreeSet::new();
    let mut out = Vec::new();
    for n in segment::list(dir).unwrap() {
        let bytes = std::fs::read(segment::path(dir, n)).unwrap();
        let mut frames = Vec::new();
        let mut at = 0;
        while let segment::Frame::Ok(body, len) = segment::parse(&bytes[at..]) {
            let mut values = Vec::new();
            match record::decode(body).unwrap() {
                Record::Series(s) => {
                    for (r, l) in s {
                        if l.get("__name__") == Some("dur_test_total") {
                            dur_refs.insert(r);
                        }
                    }
                }
                Record::Samples(s) => {
                    for x in s {
                        if dur_refs.contains(&x.series) {
                            values.push(x.value as u64);
                        }
                    }
                }
            }
            frames.push((at, at + len, values));
            at += len;
        }
        assert_eq!(
            at,
            bytes.len(),
            "segment {n} reads to its end before the damage"
        );
        out.push((n, frames));
    }
    out
}

#[test]
fn a_damaged_wal_is_repaired_and_everything_before_the_damage_is_delivered() {
    if !installed("victoria-metrics") {
        println!("SKIPPED: needs /usr/bin/victoria-metrics");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let target = Target::start();
    let mut vm = Receiver::victoria_metrics_stopped(&tmp.path().join("vm"));
    let config = agent_config(tmp.path(), target.port, &[&vm]);
    let dir = tmp.path().join("agent");
    // The receiver is down the whole first run: everything stays in the WAL, cut into
    // small segments.
    let mut agent = Agent::start(&dir, &config, &["--storage.agent.wal-segment-size=2KB"]);
    let wal = dir.join("wal");
    wait_for("five segments", Duration::from_secs(30), || {
        scrapeline_wal::segment::list(&wal).is_ok_and(|s| s.len() >= 5)
    });
    agent.proc.kill9();
    let frames = wal_frames(&wal);
    let (s1, f1) = &frames[1];
    let (s2, f2) = &frames[2];
    assert!(f1.len() >= 4 && f2.len() >= 4, "{frames:?}");
    // One flipped byte inside segment 1's third frame; segment 2 cut inside its third.
    let p1 = scrapeline_wal::segment::path(&wal, *s1);
    let mut b = std::fs::read(&p1).unwrap();
    b[f1[2].0 + 12] ^= 0x5a;
    std::fs::write(&p1, &b).unwrap();
    let p2 = scrapeline_wal::segment::path(&wal, *s2);
    let b = std::fs::read(&p2).unwrap();
    std::fs::write(&p2, &b[..f2[2].0 + 5]).unwrap();
    let mut before_damage = BTreeSet::new();
    let mut lost = BTreeSet::new();
    for (n, fs) in &frames {
        for (i, (_, _, values)) in fs.iter().enumerate() {
            let gone = (n == s1 || n == s2) && i >= 2;
            for v in values {
                if gone {
                    lost.insert(*v);
                } else {
                    before_damage.insert(*v);
                }
            }
        }
    }
    assert!(
        !lost.is_empty() && before_damage.len() > 20,
        "{lost:?} {before_damage:?}"
    );

    vm.restart();
    let mut agent = Agent::start(&dir, &config, &["--storage.agent.wal-segment-size=2KB"]);
    wait_for(
        "the WAL's samples at the receiver",
        Duration::from_secs(30),
        || {
            let got: BTreeSet<u64> = vm.values().into_iter().collect();
            before_damage.is_subset(&got)
        },
    );
    agent.proc.stop();
    let log = agent.log();
    let repairs: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Starting corruption repair"))
        .collect();
    assert_eq!(repairs.len(), 2, "{log}");
    assert!(
        repairs[0].contains(&format!("segment={s1} offset={}", f1[2].0)),
        "{log}"
    );
    assert!(
        repairs[1].contains(&format!("segment={s2} offset={}", f2[2].0)),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    let got: BTreeSet<u64> = vm.values().into_iter().collect();
    let missing: Vec<_> = before_damage.difference(&got).collect();
    assert!(missing.is_empty(), "{missing:?}");
    // What the damage took is gone (nothing invented), the rest all arrived.
    let resurrected: Vec<_> = lost.intersection(&got).collect();
    assert!(resurrected.is_empty(), "{resurrected:?}");
    println!(
        "repaired segments {s1} and {s2}: {} values before the damage delivered, {} lost to it",
        before_damage.len(),
        lost.len()
    );
    vm.stop();
}

/// `dur_test_total` values the server's own API returns (`/api/v1/query`, a range selector).
fn server_values(port: u16) -> Vec<u64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 5;
    let Some((200, body)) = get(
        port,
        &format!("/api/v1/query?query=dur_test_total%5B30m%5D&time={now}"),
    ) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut out = Vec::new();
    for r in v["data"]["result"].as_array().cloned().unwrap_or_default() {
        for p in r["values"].as_array().cloned().unwrap_or_default() {
            if let Some(x) = p[1].as_str().and_then(|s| s.parse::<f64>().ok())
                && x.is_finite()
            {
                out.push(x as u64);
            }
        }
    }
    out
}

#[test]
fn a_killed_server_with_a_tsdb_path_keeps_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let target = Target::start();
    let config = tmp.path().join("p.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\nscrape_configs:\n  - job_name: dur\n    static_configs: [{{targets: ['127.0.0.1:{}']}}]\n",
            target.port
        ),
    )
    .unwrap();
    let start = |port: u16| {
        Proc(Some(
            Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    tmp.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start mini-prometheus"),
        ))
    };
    let port = free_port();
    let mut server = start(port);
    wait_for("ten scrapes stored", Duration::from_secs(20), || {
        server_values(port).len() >= 10
    });
    server.kill9();
    let at_kill = target.served();
    let port = free_port();
    let _server = start(port);
    wait_for(
        "the restarted server answers",
        Duration::from_secs(20),
        || get(port, "/-/ready").is_some_and(|r| r.0 == 200),
    );
    let got: BTreeSet<u64> = server_values(port).into_iter().collect();
    let missing: Vec<u64> = (1..at_kill).filter(|v| !got.contains(v)).collect();
    println!("served {at_kill} before the kill; missing after the restart: {missing:?}");
    // Every scrape before the one the kill interrupted is back.
    assert!(missing.is_empty(), "{missing:?} of 1..{at_kill}");
}
