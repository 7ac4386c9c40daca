//! Remote write next to the embedded store: the same samples in Prometheus (through the
//! `scrapeline-remote-write` queue) and in mini-prometheus' store must give byte-identical
//! API answers. It lives here, not in the remote-write crate, because it needs the binary's
//! store and API. Started against Debian's `prometheus` on a loopback port; skipped, with the
//! reason printed, when it is not installed.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use scrapeline_exposition::Labels;
use scrapeline_remote_write::{RemoteWrite, RemoteWriteConfig, RemoteWriteSet};
use scrapeline_scrape::Appendable;

use crate::api::Api;
use crate::api::query::system_time_ms;
use crate::store;

/// A receiver process, killed when dropped.
struct Proc {
    child: Option<Child>,
    name: &'static str,
}

impl Proc {
    fn spawn(name: &'static str, args: &[String]) -> Proc {
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
}

impl Drop for Proc {
    /// SIGTERM, SIGKILL after 10 s.
    fn drop(&mut self) {
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

fn installed(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// A GET on loopback through testkit's client: status and body, or `None` if nothing answers.
async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    scrapeline_testkit::http::get(port, path, Duration::from_secs(5))
        .await
        .ok()
}

async fn wait_ready(port: u16, path: &str, what: &str) {
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
    RemoteWriteSet::from_iter([q.clone()]).write_metrics(&mut text);
    assert_eq!(q.samples_sent(), n, "after {:?}:\n{text}", start.elapsed());
}

fn queue_config(url: &str) -> RemoteWriteConfig {
    serde_saphyr::from_str(&format!(
        "url: {url}\nremote_timeout: 2s\nqueue_config: {{capacity: 5000, max_shards: 2, max_samples_per_send: 50, batch_send_deadline: 100ms, min_backoff: 20ms, max_backoff: 200ms}}\n"
    ))
    .unwrap()
}

/// Writes a config that scrapes nothing into `dir` and returns the arguments of a Prometheus
/// that keeps its data there and takes remote writes on `127.0.0.1:port`.
fn prometheus_receiver_args(dir: &std::path::Path, port: u16) -> Vec<String> {
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

/// The same samples in Prometheus (through remote write) and in the embedded store must give
/// byte-identical API answers for the selectors mini-prometheus evaluates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_match_prometheus_byte_for_byte() {
    if !installed("prometheus") {
        println!("SKIPPED: `prometheus` is not installed (apt-get install -y prometheus)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = prometheus_receiver_args(dir.path(), port);
    let prom = Proc::spawn("prometheus", &args);
    wait_ready(port, "/-/ready", prom.name).await;

    let store = store::Store::new(store::StoreConfig::default());
    let q = RemoteWrite::start(
        &queue_config(&format!("http://127.0.0.1:{port}/api/v1/write")),
        Labels::empty(),
    )
    .unwrap();
    let fan = scrapeline::FanOut::new(Arc::new(store.clone()), vec![Arc::new(q.clone())]);
    let t0 = (system_time_ms(SystemTime::now()) - 600_000) / 1000 * 1000;
    let mut app = fan.appender();
    let mut refs = [0u64; 4];
    for k in 0..120i64 {
        for (i, r) in refs.iter_mut().enumerate() {
            let ls = Labels::from_pairs([
                ("__name__", "rw_diff"),
                ("series", &i.to_string()),
                ("kind", if i % 2 == 0 { "even" } else { "odd" }),
            ]);
            // Series 3 goes stale after 60 samples; values cover decimals and large numbers.
            let v = match (i, k) {
                (3, 60) => scrapeline_exposition::value::stale_nan(),
                (3, k) if k > 60 => continue,
                _ => (i as f64) * 1e6 + (k as f64) * 0.25,
            };
            *r = app.append(*r, &ls, t0 + k * 1000, v).unwrap();
        }
        app.commit().unwrap();
    }
    // Fresh samples for federation (which looks 5 minutes back from now).
    let fresh = system_time_ms(SystemTime::now()) - 10_000;
    for (i, r) in refs.iter_mut().enumerate().take(3) {
        let ls = Labels::from_pairs([
            ("__name__", "rw_diff"),
            ("series", &i.to_string()),
            ("kind", if i % 2 == 0 { "even" } else { "odd" }),
        ]);
        *r = app.append(*r, &ls, fresh, 1.5e-7 * i as f64).unwrap();
    }
    app.commit().unwrap();
    wait_sent(&q, 4 * 120 - 59 + 3).await;

    let api = Api::new(store.clone());
    let secs = |ms: i64| format!("{}.{:03}", ms / 1000, ms % 1000);
    let t_mid = secs(t0 + 45_500);
    let t_after_stale = secs(t0 + 90_500);
    let queries = [
        format!("/api/v1/query?query=rw_diff&time={t_mid}"),
        format!("/api/v1/query?query=rw_diff&time={t_after_stale}"),
        format!("/api/v1/query?query=rw_diff%7Bkind%3D%22odd%22%2Cseries%21%3D%221%22%7D&time={t_mid}"),
        format!("/api/v1/query?query=%7B__name__%3D~%22rw_d.*%22%2Ckind%21~%22ev.n%22%7D&time={t_mid}"),
        format!("/api/v1/query?query=rw_diff%5B10s%5D&time={t_mid}"),
        format!("/api/v1/query?query=rw_diff%7Bseries%3D%223%22%7D%5B1m%5D&time={t_after_stale}"),
        format!("/api/v1/query?query=rw_diff%20offset%2030s&time={t_after_stale}"),
        format!(
            "/api/v1/query_range?query=rw_diff&start={}&end={}&step=7",
            secs(t0 + 500),
            secs(t0 + 119_500)
        ),
        format!(
            "/api/v1/query_range?query=rw_diff%7Bseries%3D~%222%7C3%22%7D&start={}&end={}&step=2.5",
            secs(t0 + 50_250),
            secs(t0 + 70_250)
        ),
        format!("/api/v1/query?query=1%2B1&time={t_mid}"),
        "/api/v1/series?match[]=rw_diff".to_owned(),
        "/api/v1/series?match[]=rw_diff%7Bkind%3D%22even%22%7D&match[]=rw_diff%7Bseries%3D%221%22%7D".to_owned(),
        "/api/v1/labels?match[]=rw_diff".to_owned(),
        "/api/v1/label/series/values?match[]=rw_diff".to_owned(),
        "/api/v1/label/kind/values".to_owned(),
        "/federate?match[]=rw_diff".to_owned(),
        "/federate?match[]=rw_diff%7Bseries%3D%221%22%7D&match[]=%7Bkind%3D%22even%22%7D".to_owned(),
    ];
    for path in &queries {
        let (code, want) = http_get(port, path).await.unwrap();
        let req = http::Request::get(path.as_str())
            .body(http_body_util::Full::new(Bytes::new()))
            .unwrap();
        let resp = api.handle(req).await;
        let status = resp.status().as_u16();
        let got = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(
            (status, String::from_utf8_lossy(&got).into_owned()),
            (code, want),
            "{path}"
        );
    }
    q.shutdown(Duration::from_secs(2)).await;
}
