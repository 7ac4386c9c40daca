//! Remote write into real receivers: Debian's `prometheus` (with
//! `--web.enable-remote-write-receiver`) and `victoria-metrics`, started by the tests on
//! loopback ports, and queried back through their own HTTP APIs. Each test also stops the
//! receiver in the middle of the run and restarts it: nothing within the queue's bound may be
//! lost. A test whose receiver binary is missing prints why and passes without running.
//! (The test that compares these answers with the embedded store's API lives in mini-prometheus,
//! `remote_write_tests.rs`: it needs the binary's store.)

use std::process::{Child, Command, Stdio};
use std::time::SystemTime;

use super::*;

/// A receiver process, killed when dropped.
pub(crate) struct Proc {
    child: Option<Child>,
    pub(crate) name: &'static str,
}

impl Proc {
    pub(crate) fn spawn(name: &'static str, args: &[String]) -> Proc {
        let child = Command::new(name)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Proc {
            child: Some(child),
            name,
        }
    }

    /// Stops the receiver as a restart would: SIGTERM, so it persists what it acknowledged
    /// (VictoriaMetrics keeps recent rows in memory until then), SIGKILL after 10 s.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn installed(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// A plain HTTP/1.0 GET on loopback: status and body, or `None` if nothing answers.
async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_get_with(port, path, "").await
}

/// [`http_get`] with extra header lines (each ending in `\r\n`).
async fn http_get_with(port: u16, path: &str, headers: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{headers}\r\n").as_bytes())
            .await
            .ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let code = text.get(9..12)?.parse().ok()?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|x| x.1.to_owned())
            .unwrap_or_default();
        Some((code, body))
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .ok()
        .flatten()
}

pub(crate) async fn wait_ready(port: u16, path: &str, what: &str) {
    for _ in 0..400 {
        if let Some((200, _)) = http_get(port, path).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not become ready on port {port}");
}

async fn wait_sent(q: &RemoteWrite, n: u64) {
    let start = Instant::now();
    while q.samples_sent() < n && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut text = String::new();
    RemoteWriteSet {
        queues: vec![q.clone()],
    }
    .write_metrics(&mut text);
    assert_eq!(q.samples_sent(), n, "after {:?}:\n{text}", start.elapsed());
}

fn queue_config(url: &str) -> RemoteWriteConfig {
    serde_saphyr::from_str(&format!(
        "url: {url}\nremote_timeout: 2s\nqueue_config: {{capacity: 5000, max_shards: 2, max_samples_per_send: 50, batch_send_deadline: 100ms, min_backoff: 20ms, max_backoff: 200ms}}\n"
    ))
    .unwrap()
}

/// Appends `per_series` samples for each of 4 series `rw_test{series="i"}`, one scrape
/// (commit) per timestamp, values `i*1000 + k`, starting at `t0` every second.
fn append_run(q: &RemoteWrite, t0: i64, first: i64, per_series: i64) {
    let mut app = q.appender();
    let mut refs = [0u64; 4];
    for k in first..first + per_series {
        for (i, r) in refs.iter_mut().enumerate() {
            let ls = Labels::from_pairs([("__name__", "rw_test"), ("series", &i.to_string())]);
            *r = app
                .append(*r, &ls, t0 + k * 1000, (i as i64 * 1000 + k) as f64)
                .unwrap();
        }
        app.commit().unwrap();
    }
}

fn expected(t0: i64, n: i64) -> Vec<(String, i64, String)> {
    let mut v = Vec::new();
    for i in 0..4 {
        for k in 0..n {
            v.push((i.to_string(), t0 + k * 1000, (i * 1000 + k).to_string()));
        }
    }
    v.sort();
    v
}

/// Parses Prometheus' matrix JSON into (series label, ts ms, value string).
fn parse_prometheus_matrix(body: &str) -> Vec<(String, i64, String)> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let mut out = Vec::new();
    for r in v["data"]["result"].as_array().cloned().unwrap_or_default() {
        let series = r["metric"]["series"].as_str().unwrap_or("").to_owned();
        for p in r["values"].as_array().cloned().unwrap_or_default() {
            let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
            out.push((series.clone(), t, p[1].as_str().unwrap().to_owned()));
        }
    }
    out.sort();
    out
}

/// Parses VictoriaMetrics' `/api/v1/export` JSON lines.
fn parse_vm_export(body: &str) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let series = v["metric"]["series"].as_str().unwrap_or("").to_owned();
        let ts = v["timestamps"].as_array().cloned().unwrap_or_default();
        let vals = v["values"].as_array().cloned().unwrap_or_default();
        for (t, val) in ts.iter().zip(vals.iter()) {
            let val = match val.as_f64() {
                Some(f) => scrapeline_exposition::value::value_to_string(f),
                None => val.to_string(),
            };
            out.push((series.clone(), t.as_i64().unwrap(), val));
        }
    }
    out.sort();
    out
}

/// Writes a config that scrapes nothing into `dir` and returns the arguments of a Prometheus
/// that keeps its data there and takes remote writes on `127.0.0.1:port`.
pub(crate) fn prometheus_receiver_args(dir: &std::path::Path, port: u16) -> Vec<String> {
    let cfg_path = dir.join("prometheus.yml");
    std::fs::write(&cfg_path, "global:\n  scrape_interval: 1h\n").unwrap();
    vec![
        format!("--config.file={}", cfg_path.display()),
        format!("--storage.tsdb.path={}", dir.join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--web.enable-remote-write-receiver".to_owned(),
        "--log.level=error".to_owned(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_receives_every_sample_across_a_restart() {
    if !installed("prometheus") {
        println!("SKIPPED: `prometheus` is not installed (apt-get install -y prometheus)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = prometheus_receiver_args(dir.path(), port);
    let mut prom = Proc::spawn("prometheus", &args);
    wait_ready(port, "/-/ready", prom.name).await;

    let q = RemoteWrite::start(
        &queue_config(&format!("http://127.0.0.1:{port}/api/v1/write")),
        Labels::empty(),
    )
    .unwrap();
    let t0 = system_time_ms(SystemTime::now()) - 120_000;
    append_run(&q, t0, 0, 30);
    wait_sent(&q, 120).await;

    // The receiver goes away; scrapes go on; the queue holds and retries.
    prom.stop();
    append_run(&q, t0, 30, 30);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(q.samples_sent(), 120);
    assert_eq!(q.pending(), 120);
    let mut prom = Proc::spawn("prometheus", &args);
    wait_ready(port, "/-/ready", prom.name).await;
    wait_sent(&q, 240).await;
    assert_eq!(q.samples_lost(), 0);

    let t_query = (t0 + 60_000) as f64 / 1000.0;
    let (code, body) = http_get(
        port,
        &format!("/api/v1/query?query=rw_test%5B2m%5D&time={t_query}"),
    )
    .await
    .unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(parse_prometheus_matrix(&body), expected(t0, 60));
    q.shutdown(Duration::from_secs(2)).await;
    prom.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_receives_every_sample_across_a_restart() {
    if !installed("victoria-metrics") {
        println!(
            "SKIPPED: `victoria-metrics` is not installed (apt-get install -y victoria-metrics)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = vec![
        format!("-httpListenAddr=127.0.0.1:{port}"),
        format!("-storageDataPath={}", dir.path().display()),
        "-search.latencyOffset=0s".to_owned(),
        "-loggerLevel=ERROR".to_owned(),
    ];
    let mut vm = Proc::spawn("victoria-metrics", &args);
    wait_ready(port, "/health", vm.name).await;

    let q = RemoteWrite::start(
        &queue_config(&format!("http://127.0.0.1:{port}/api/v1/write")),
        Labels::empty(),
    )
    .unwrap();
    let t0 = system_time_ms(SystemTime::now()) - 120_000;
    append_run(&q, t0, 0, 30);
    wait_sent(&q, 120).await;
    // Persist what arrived before the "crash" (VictoriaMetrics buffers recent rows).
    assert_eq!(
        http_get(port, "/internal/force_flush").await.map(|r| r.0),
        Some(200)
    );

    vm.stop();
    append_run(&q, t0, 30, 30);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(q.pending(), 120);
    let mut vm = Proc::spawn("victoria-metrics", &args);
    wait_ready(port, "/health", vm.name).await;
    wait_sent(&q, 240).await;
    assert_eq!(q.samples_lost(), 0);
    assert_eq!(
        http_get(port, "/internal/force_flush").await.map(|r| r.0),
        Some(200)
    );
    let start = (t0 - 1000) / 1000;
    let end = (t0 + 61_000) / 1000;
    let (code, body) = http_get(
        port,
        &format!("/api/v1/export?match[]=rw_test&start={start}&end={end}"),
    )
    .await
    .unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(parse_vm_export(&body), expected(t0, 60));
    q.shutdown(Duration::from_secs(2)).await;
    vm.stop();
}

/// The arguments of a VictoriaMetrics keeping its data in `dir` and listening on
/// `127.0.0.1:port`, whose queries see samples as soon as they are flushed.
pub(crate) fn victoria_metrics_args(dir: &std::path::Path, port: u16) -> Vec<String> {
    vec![
        format!("-httpListenAddr=127.0.0.1:{port}"),
        format!("-storageDataPath={}", dir.display()),
        "-search.latencyOffset=0s".to_owned(),
        "-loggerLevel=ERROR".to_owned(),
    ]
}

/// The `/metrics` line of `family` for the queue.
fn metrics_line(q: &RemoteWrite, family: &str) -> String {
    let mut text = String::new();
    RemoteWriteSet {
        queues: vec![q.clone()],
    }
    .write_metrics(&mut text);
    text.lines()
        .find(|l| l.starts_with(&format!("{family}{{")))
        .unwrap_or_else(|| panic!("no {family} in\n{text}"))
        .to_owned()
}

/// The value of a `/metrics` line.
fn line_value(line: &str) -> f64 {
    line.rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Issue 15, defect 1: one scrape of 100k series is 2.5 times what the whole queue holds
/// (4 shards of the default capacity 10,000). Against a healthy receiver the commits must
/// wait for room (counted as enqueue retries) instead of dropping: every sample arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_gets_every_sample_of_scrapes_larger_than_the_queue() {
    if !installed("victoria-metrics") {
        println!(
            "SKIPPED: `victoria-metrics` is not installed (apt-get install -y victoria-metrics)"
        );
        return;
    }
    const SERIES: usize = 100_000;
    const SCRAPES: i64 = 5;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let vm = Proc::spawn("victoria-metrics", &victoria_metrics_args(dir.path(), port));
    wait_ready(port, "/health", vm.name).await;

    // Default queue_config but for max_shards, fixed at what a 2-core machine gets by
    // default so the queue holds 40,000 samples on any machine.
    let cfg: RemoteWriteConfig = serde_saphyr::from_str(&format!(
        "url: http://127.0.0.1:{port}/api/v1/write\nqueue_config: {{max_shards: 4}}\n"
    ))
    .unwrap();
    assert_eq!(cfg.queue_config.capacity, 10_000);
    let q = RemoteWrite::start(&cfg, Labels::empty()).unwrap();
    assert_eq!(q.inner.shards.len(), 4);
    let t0 = (system_time_ms(SystemTime::now()) - 120_000) / 1000 * 1000;

    // Appended from a runtime worker, as the scrape loop does, one commit per scrape.
    let appender_q = q.clone();
    let started = Instant::now();
    tokio::spawn(async move {
        let labels: Vec<Labels> = (0..SERIES)
            .map(|i| Labels::from_pairs([("__name__", "rw_big"), ("i", &i.to_string())]))
            .collect();
        let mut refs = vec![0u64; SERIES];
        let mut app = appender_q.appender();
        for k in 0..SCRAPES {
            for (ls, r) in labels.iter().zip(refs.iter_mut()) {
                *r = app.append(*r, ls, t0 + k * 5000, k as f64).unwrap();
            }
            app.commit().unwrap();
        }
    })
    .await
    .unwrap();

    let appended = SERIES as u64 * SCRAPES as u64;
    wait_sent(&q, appended).await;
    assert_eq!(q.samples_lost(), 0);
    let retries = line_value(&metrics_line(
        &q,
        "prometheus_remote_storage_enqueue_retries_total",
    ));
    assert!(retries > 0.0, "no enqueue retry counted");
    println!(
        "{appended} samples appended in {SCRAPES} commits and sent in {:?}, {retries} enqueue retries",
        started.elapsed()
    );
    assert_eq!(
        http_get(port, "/internal/force_flush").await.map(|r| r.0),
        Some(200)
    );
    let t_query = (t0 + 60_000) / 1000;
    let (code, body) = http_get(
        port,
        &format!("/api/v1/query?query=sum(count_over_time(rw_big%5B10m%5D))&time={t_query}"),
    )
    .await
    .unwrap();
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["data"]["result"][0]["value"][1].as_str(),
        Some(appended.to_string().as_str()),
        "{body}"
    );
    q.shutdown(Duration::from_secs(2)).await;
}

/// Issue 15, defect 5b: credentials in the URL authenticate against a VictoriaMetrics that
/// requires basic auth, and the URL is shown with the password redacted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_accepts_the_credentials_of_the_url() {
    if !installed("victoria-metrics") {
        println!(
            "SKIPPED: `victoria-metrics` is not installed (apt-get install -y victoria-metrics)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut args = victoria_metrics_args(dir.path(), port);
    args.push("-httpAuth.username=rw user".to_owned());
    args.push("-httpAuth.password=s3cr:t@".to_owned());
    let _vm = Proc::spawn("victoria-metrics", &args);
    // "rw user:s3cr:t@" in base64.
    let auth = "Authorization: Basic cncgdXNlcjpzM2NyOnRA\r\n";
    for _ in 0..400 {
        if let Some((200, _)) = http_get_with(port, "/health", auth).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The receiver does refuse requests without the credentials.
    assert_eq!(
        http_get(port, "/api/v1/query?query=1").await.map(|r| r.0),
        Some(401)
    );
    assert_eq!(
        http_get_with(port, "/api/v1/query?query=1", auth)
            .await
            .map(|r| r.0),
        Some(200)
    );

    let url = format!("http://rw%20user:s3cr%3At%40@127.0.0.1:{port}/api/v1/write");
    let q = RemoteWrite::start(&queue_config(&url), Labels::empty()).unwrap();
    let t0 = system_time_ms(SystemTime::now()) - 60_000;
    append_run(&q, t0, 0, 3);
    wait_sent(&q, 12).await;
    assert_eq!(q.samples_lost(), 0);
    assert_eq!(
        metrics_line(&q, "prometheus_remote_storage_samples_total"),
        format!(
            "prometheus_remote_storage_samples_total{{remote_name=\"{}\",url=\"http://rw%20user:xxxxx@127.0.0.1:{port}/api/v1/write\"}} 12",
            queue_config(&url).queue_name()
        )
    );
    q.shutdown(Duration::from_secs(2)).await;
}
