//! Remote write against a real loopback HTTP receiver that decodes what it gets.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;

use super::*;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What the receiver saw.
#[derive(Default)]
pub(crate) struct Seen {
    pub requests: Vec<(BTreeMap<String, String>, proto::WriteRequest)>,
}

/// A loopback remote-write receiver: answers each request with the next status from
/// `script` (then 200 forever) and records the decoded requests it accepted.
pub(crate) struct Receiver {
    pub url: String,
    pub seen: Arc<Mutex<Seen>>,
    pub hits: Arc<AtomicUsize>,
    cancel: CancellationToken,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Receiver {
    pub async fn start(script: Vec<u16>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Seen::default()));
        let hits = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(script);
        let cancel = CancellationToken::new();
        let (s, h, c) = (seen.clone(), hits.clone(), cancel.clone());
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                    _ = c.cancelled() => return,
                };
                let (s, h, script) = (s.clone(), h.clone(), script.clone());
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (s, h, script) = (s.clone(), h.clone(), script.clone());
                    async move {
                        let n = h.fetch_add(1, Ordering::SeqCst);
                        let headers: BTreeMap<String, String> = req
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                            .collect();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let code = script.get(n).copied().unwrap_or(200);
                        if code == 200 {
                            let wr = proto::decode(&body, 64 << 20).unwrap();
                            s.lock().unwrap().requests.push((headers, wr));
                        }
                        let mut resp =
                            Response::new(Full::new(Bytes::from(format!("status {code}"))));
                        *resp.status_mut() = StatusCode::from_u16(code).unwrap();
                        if code == 429 {
                            resp.headers_mut()
                                .insert("retry-after", http::HeaderValue::from_static("0"));
                        }
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Receiver {
            url,
            seen,
            hits,
            cancel,
        }
    }

    /// Every (labels, timestamp, value) received, sorted.
    pub fn samples(&self) -> Vec<(String, i64, f64)> {
        let seen = self.seen.lock().unwrap();
        let mut out = Vec::new();
        for (_, wr) in &seen.requests {
            for ts in &wr.timeseries {
                let ls = Labels::from_pairs(
                    ts.labels
                        .iter()
                        .map(|l| (l.name.as_str(), l.value.as_str())),
                );
                for s in &ts.samples {
                    out.push((ls.to_string(), s.timestamp, s.value));
                }
            }
        }
        out.sort_by(|a, b| a.partial_cmp(b).unwrap());
        out
    }
}

pub(crate) fn config(url: &str, extra: &str) -> RemoteWriteConfig {
    let y = format!(
        "url: {url}\nname: test\nremote_timeout: 2s\n{extra}queue_config: {{max_samples_per_send: 10, batch_send_deadline: 50ms, min_backoff: 5ms, max_backoff: 20ms, capacity: 1000, max_shards: 3}}\n"
    );
    serde_saphyr::from_str(&y).unwrap()
}

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

async fn wait_for(mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 4s");
}

#[tokio::test]
async fn sends_batches_with_protocol_headers_and_external_labels() {
    let rx = Receiver::start(vec![]).await;
    let q = RemoteWrite::start(
        &config(
            &rx.url,
            "headers: {X-Scope-OrgID: team-a}\nbasic_auth: {username: u, password: p}\n",
        ),
        l(&[("cluster", "c1"), ("job", "ignored")]),
    )
    .unwrap();
    let mut app = q.appender();
    let mut refs = [0u64; 3];
    for t in 0..5 {
        for (i, r) in refs.iter_mut().enumerate() {
            let ls = l(&[("__name__", "m"), ("i", &i.to_string()), ("job", "j")]);
            *r = app
                .append(*r, &ls, 1000 * t, (i * 10) as f64 + t as f64)
                .unwrap();
        }
    }
    app.append(0, &l(&[("__name__", "rolled_back")]), 1, 1.0)
        .unwrap();
    app.rollback();
    // Refs are the queue's own and stable.
    assert!(refs.iter().all(|r| r & OWN_REF_BIT != 0));
    for t in 0..5 {
        for (i, r) in refs.iter_mut().enumerate() {
            let ls = l(&[("__name__", "m"), ("i", &i.to_string()), ("job", "j")]);
            assert_eq!(
                app.append(*r, &ls, 1000 * t, (i * 10) as f64 + t as f64)
                    .unwrap(),
                *r
            );
        }
    }
    app.commit().unwrap();
    wait_for(|| q.samples_sent() == 15).await;
    let got = rx.samples();
    let mut want = Vec::new();
    for i in 0..3 {
        for t in 0..5 {
            want.push((
                format!(r#"{{__name__="m", cluster="c1", i="{i}", job="j"}}"#),
                1000 * t,
                (i * 10) as f64 + t as f64,
            ));
        }
    }
    want.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(got, want);
    {
        let seen = rx.seen.lock().unwrap();
        let (h, _) = &seen.requests[0];
        assert_eq!(h.get("content-encoding").unwrap(), "snappy");
        assert_eq!(h.get("content-type").unwrap(), "application/x-protobuf");
        assert_eq!(h.get("x-prometheus-remote-write-version").unwrap(), "0.1.0");
        assert_eq!(h.get("user-agent").unwrap(), client::USER_AGENT);
        assert_eq!(h.get("x-scope-orgid").unwrap(), "team-a");
        assert_eq!(h.get("authorization").unwrap(), "Basic dTpw");
        // Batches respect max_samples_per_send, and every series' samples arrive in
        // timestamp order across all requests.
        let mut last: BTreeMap<String, i64> = BTreeMap::new();
        for (_, wr) in &seen.requests {
            assert!(wr.timeseries.iter().map(|t| t.samples.len()).sum::<usize>() <= 10);
            for ts in &wr.timeseries {
                let key = format!("{:?}", ts.labels);
                for s in &ts.samples {
                    let prev = last.insert(key.clone(), s.timestamp);
                    assert!(
                        prev.is_none_or(|p| p < s.timestamp),
                        "{key}: {prev:?} then {}",
                        s.timestamp
                    );
                }
            }
        }
        assert_eq!(last.len(), 3);
    }
    q.shutdown(Duration::from_secs(1)).await;
    assert_eq!(q.samples_lost(), 0);
}

#[tokio::test]
async fn retries_5xx_and_429_but_not_other_4xx() {
    let rx = Receiver::start(vec![500, 503, 429, 200, 400]).await;
    let q = RemoteWrite::start(
        &config(&rx.url, "authorization: {credentials: tok}\n"),
        Labels::empty(),
    )
    .unwrap();
    let mut app = q.appender();
    app.append(0, &l(&[("__name__", "a")]), 1, 1.0).unwrap();
    app.commit().unwrap();
    wait_for(|| q.samples_sent() == 1).await;
    assert_eq!(rx.hits.load(Ordering::SeqCst), 4);
    assert_eq!(
        rx.seen.lock().unwrap().requests[0]
            .0
            .get("authorization")
            .unwrap(),
        "Bearer tok"
    );
    app.append(0, &l(&[("__name__", "b")]), 2, 2.0).unwrap();
    app.commit().unwrap();
    wait_for(|| q.samples_lost() == 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.hits.load(Ordering::SeqCst), 5);
    let mut text = String::new();
    RemoteWriteSet {
        queues: vec![q.clone()],
    }
    .write_metrics(&mut text);
    let line = |name: &str| {
        text.lines()
            .find(|x| x.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing in {text}"))
            .to_owned()
    };
    let url = &rx.url;
    assert_eq!(
        line("prometheus_remote_storage_samples_total{"),
        format!("prometheus_remote_storage_samples_total{{remote_name=\"test\",url=\"{url}\"}} 1")
    );
    assert_eq!(
        line("prometheus_remote_storage_samples_failed_total{"),
        format!(
            "prometheus_remote_storage_samples_failed_total{{remote_name=\"test\",url=\"{url}\"}} 1"
        )
    );
    assert_eq!(
        line("prometheus_remote_storage_samples_retried_total{"),
        format!(
            "prometheus_remote_storage_samples_retried_total{{remote_name=\"test\",url=\"{url}\"}} 3"
        )
    );
    assert_eq!(
        line("scrapeline_remote_write_requests_total{"),
        format!("scrapeline_remote_write_requests_total{{remote_name=\"test\",url=\"{url}\"}} 5")
    );
    assert!(text.contains("# TYPE prometheus_remote_storage_samples_dropped_total counter\n"));
    assert_eq!(
        text.matches("# TYPE prometheus_remote_storage_samples_dropped_total")
            .count(),
        1
    );
    q.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn bounded_queue_drops_and_counts_and_shutdown_is_bounded() {
    // Nothing listens here: every send fails and is retried, so the queue fills.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cfg = serde_saphyr::from_str::<RemoteWriteConfig>(&format!(
        "url: http://{addr}/w\nqueue_config: {{capacity: 5, max_shards: 1, max_samples_per_send: 2, batch_send_deadline: 10ms, min_backoff: 5ms, max_backoff: 10ms}}\n"
    ))
    .unwrap();
    let q = RemoteWrite::start(&cfg, Labels::empty()).unwrap();
    let mut app = q.appender();
    let mut r = 0;
    for t in 0..20 {
        r = app.append(r, &l(&[("__name__", "x")]), t, 1.0).unwrap();
    }
    app.commit().unwrap();
    // 5 fit in the queue, 15 were dropped right away.
    let mut text = String::new();
    RemoteWriteSet {
        queues: vec![q.clone()],
    }
    .write_metrics(&mut text);
    assert!(
        text.contains(
            "prometheus_remote_storage_samples_dropped_total{reason=\"queue_full\",remote_name=\""
        ),
        "{text}"
    );
    assert_eq!(q.samples_lost(), 15);
    let started = Instant::now();
    q.shutdown(Duration::from_millis(200)).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(q.samples_lost(), 20);
    assert_eq!(q.samples_sent(), 0);
}

#[tokio::test]
async fn shutdown_flushes_partial_batches() {
    let rx = Receiver::start(vec![]).await;
    let mut cfg = config(&rx.url, "");
    cfg.queue_config.batch_send_deadline = Duration::from_secs(3600);
    let set = RemoteWriteSet::start(&[cfg], &Labels::empty()).unwrap();
    let mut app = set.appendables()[0].appender();
    app.append(0, &l(&[("__name__", "late")]), 5, 5.0).unwrap();
    app.commit().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(rx.samples(), vec![]);
    set.shutdown(Duration::from_secs(2)).await;
    assert_eq!(
        rx.samples(),
        vec![(r#"{__name__="late"}"#.to_owned(), 5, 5.0)]
    );
}

#[tokio::test]
async fn invalid_configs_do_not_start() {
    let cfg = config(
        "http://127.0.0.1:1/w",
        "headers: {Content-Type: text/plain}\n",
    );
    let err = RemoteWrite::start(&cfg, Labels::empty()).err().unwrap();
    assert_eq!(
        err.to_string(),
        "remote_write http://127.0.0.1:1/w: Content-Type is a reserved header. It must not be changed"
    );
    let cfg = config(
        "https://127.0.0.1:1/w",
        "tls_config: {ca_file: /nonexistent/ca.pem}\n",
    );
    let err = RemoteWrite::start(&cfg, Labels::empty()).err().unwrap();
    assert!(
        err.to_string().starts_with(
            "remote_write https://127.0.0.1:1/w: unable to read CA cert: open /nonexistent/ca.pem: "
        ),
        "{err}"
    );
}

/// The library's errors are typed: an embedder can tell a bad config from a bad relabel rule
/// without parsing messages, and the messages stay Prometheus'.
#[tokio::test]
async fn start_errors_are_typed() {
    let cfg = config(
        "http://u:pw@127.0.0.1:1/w",
        "bearer_token: t\nbasic_auth: {username: u}\n",
    );
    match RemoteWrite::start(&cfg, Labels::empty()).err().unwrap() {
        RemoteWriteError::Config { url, source } => {
            assert_eq!(url, "http://u:xxxxx@127.0.0.1:1/w");
            assert_eq!(
                source,
                ConfigError::HttpClient(scrapeline_common::http::HttpConfigError(
                    "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured".to_owned()
                ))
            );
        }
        other => panic!("not a config error: {other}"),
    }
    let cfg = config(
        "http://127.0.0.1:1/w",
        "write_relabel_configs:\n- {source_labels: [a], regex: '(', action: drop}\n",
    );
    let err = RemoteWrite::start(&cfg, Labels::empty()).err().unwrap();
    assert!(
        matches!(&err, RemoteWriteError::Relabel { url, .. } if url == "http://127.0.0.1:1/w"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("remote_write http://127.0.0.1:1/w: write_relabel_configs: "),
        "{err}"
    );
}

#[tokio::test]
async fn write_relabel_configs_apply_after_external_labels() {
    let rx = Receiver::start(vec![]).await;
    let cfg = config(
        &rx.url,
        "write_relabel_configs:\n\
         - {source_labels: [__name__], regex: 'drop_.*', action: drop}\n\
         - {regex: secret, action: labeldrop}\n\
         - {source_labels: [region], target_label: dc, replacement: 'dc-$1'}\n",
    );
    let q = RemoteWrite::start(&cfg, l(&[("region", "eu")])).unwrap();
    let mut app = q.appender();
    app.append(
        0,
        &l(&[("__name__", "keep"), ("secret", "s3cr3t")]),
        10,
        1.0,
    )
    .unwrap();
    let r = app
        .append(0, &l(&[("__name__", "drop_me")]), 10, 2.0)
        .unwrap();
    // The drop decision is cached with the ref.
    assert_eq!(
        app.append(r, &l(&[("__name__", "drop_me")]), 20, 3.0)
            .unwrap(),
        r
    );
    app.commit().unwrap();
    wait_for(|| q.samples_sent() == 1).await;
    assert_eq!(
        rx.samples(),
        vec![(
            r#"{__name__="keep", dc="dc-eu", region="eu"}"#.to_owned(),
            10,
            1.0
        )]
    );
    assert_eq!(q.samples_lost(), 2);
    let mut text = String::new();
    RemoteWriteSet {
        queues: vec![q.clone()],
    }
    .write_metrics(&mut text);
    assert!(
        text.contains(&format!(
            "prometheus_remote_storage_samples_dropped_total{{reason=\"relabel\",remote_name=\"test\",url=\"{}\"}} 2\n",
            rx.url
        )),
        "{text}"
    );
    q.shutdown(Duration::from_secs(1)).await;
}

/// `sample_age_limit`: samples older than the limit when their request is built are dropped
/// (and counted), the rest of the same batch is sent.
#[tokio::test]
async fn samples_older_than_the_age_limit_are_dropped_when_sending() {
    let rx = Receiver::start(vec![]).await;
    let mut cfg = config(&rx.url, "");
    cfg.queue_config.sample_age_limit = Duration::from_secs(60);
    cfg.queue_config.batch_send_deadline = Duration::from_secs(3600);
    let set = RemoteWriteSet::start(&[cfg], &Labels::empty()).unwrap();
    let q = set.appendables()[0].clone();
    let now = system_time_ms(std::time::SystemTime::now());
    let mut app = q.appender();
    app.append(0, &l(&[("__name__", "old")]), now - 3_600_000, 1.0)
        .unwrap();
    app.append(0, &l(&[("__name__", "fresh")]), now, 2.0)
        .unwrap();
    app.commit().unwrap();
    set.shutdown(Duration::from_secs(2)).await;
    assert_eq!(
        rx.samples(),
        vec![(r#"{__name__="fresh"}"#.to_owned(), now, 2.0)]
    );
}

/// A `Write` into a shared buffer: where a test's log lines go.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Issue 15, defect 5b: the password of a URL is sent (as basic auth, taking the place of the
/// configured one, as Go's client does) and never shown: not in metric labels, logs, errors.
#[tokio::test(flavor = "current_thread")]
async fn url_credentials_are_sent_as_basic_auth_and_shown_redacted() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Current-thread runtime: the shards log on this thread too.
    let _guard = tracing::subscriber::set_default(subscriber);

    let rx = Receiver::start(vec![503]).await;
    let url = rx.url.replace("http://", "http://u:pw@");
    let q = RemoteWrite::start(
        &config(&url, "basic_auth: {username: other, password: other}\n"),
        Labels::empty(),
    )
    .unwrap();
    let mut app = q.appender();
    app.append(0, &l(&[("__name__", "a")]), 1, 1.0).unwrap();
    app.commit().unwrap();
    wait_for(|| q.samples_sent() == 1).await;
    {
        let seen = rx.seen.lock().unwrap();
        let (h, _) = &seen.requests[0];
        // base64("u:pw")
        assert_eq!(h.get("authorization").unwrap(), "Basic dTpwdw==");
        let host = rx
            .url
            .trim_start_matches("http://")
            .trim_end_matches("/api/v1/write");
        assert_eq!(h.get("host").unwrap(), host);
    }
    let shown = rx.url.replace("http://", "http://u:xxxxx@");
    let mut text = String::new();
    RemoteWriteSet {
        queues: vec![q.clone()],
    }
    .write_metrics(&mut text);
    assert!(
        text.lines().any(|line| line
            == format!(
                "prometheus_remote_storage_samples_total{{remote_name=\"test\",url=\"{shown}\"}} 1"
            )),
        "{text}"
    );
    assert!(
        text.lines().any(|line| line
            == format!(
                "prometheus_remote_storage_enqueue_retries_total{{remote_name=\"test\",url=\"{shown}\"}} 0"
            )),
        "{text}"
    );
    assert!(!text.contains("pw"), "{text}");
    q.shutdown(Duration::from_secs(1)).await;

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains(&format!("url={shown}")) && logged.contains("retrying"),
        "{logged}"
    );
    assert!(!logged.contains("pw"), "{logged}");

    let cfg = config(
        "http://u:pw@127.0.0.1:1/w",
        "headers: {Content-Type: text/plain}\n",
    );
    let err = RemoteWrite::start(&cfg, Labels::empty()).err().unwrap();
    assert_eq!(
        err.to_string(),
        "remote_write http://u:xxxxx@127.0.0.1:1/w: Content-Type is a reserved header. It must not be changed"
    );
    let cfg = config("ftp://u:pw@127.0.0.1:1/w", "");
    let err = RemoteWrite::start(&cfg, Labels::empty()).err().unwrap();
    assert_eq!(
        err.to_string(),
        "remote_write ftp://u:xxxxx@127.0.0.1:1/w: invalid remote_write url \"ftp://u:xxxxx@127.0.0.1:1/w\": scheme must be http or https"
    );
}

/// Against an endpoint that fails, a commit larger than the queue does not wait for room
/// (not even up to `remote_timeout`): what does not fit is dropped and counted at once, even
/// on a multi-thread runtime where commits may block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_does_not_hold_up_commits() {
    // Nothing listens here: every send fails and is retried.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cfg = serde_saphyr::from_str::<RemoteWriteConfig>(&format!(
        "url: http://{addr}/w\nremote_timeout: 30s\nqueue_config: {{capacity: 5, max_shards: 1, max_samples_per_send: 2, batch_send_deadline: 10ms, min_backoff: 5ms, max_backoff: 10ms}}\n"
    ))
    .unwrap();
    let q = RemoteWrite::start(&cfg, Labels::empty()).unwrap();
    let commit_20 = |t0: i64| {
        let started = Instant::now();
        let mut app = q.appender();
        let mut r = 0;
        for t in t0..t0 + 20 {
            r = app.append(r, &l(&[("__name__", "x")]), t, 1.0).unwrap();
        }
        app.commit().unwrap();
        started.elapsed()
    };
    // The first commit may wait until the first request has failed (connection refused).
    assert!(commit_20(0) < Duration::from_secs(5));
    wait_for(|| q.inner.failing.load(Ordering::Relaxed)).await;
    assert_eq!(q.pending() as u64 + q.samples_lost(), 20);
    // While failing, a commit does not wait at all: what does not fit is dropped at once and
    // no retry is counted.
    let retries = q.enqueue_retries();
    assert!(commit_20(100) < Duration::from_secs(1));
    assert_eq!(q.pending() as u64 + q.samples_lost(), 40);
    assert!(q.pending() <= 7, "{}", q.pending());
    assert_eq!(q.enqueue_retries(), retries);
    assert_eq!(q.samples_sent(), 0);
    q.shutdown(Duration::from_millis(200)).await;
    assert_eq!(q.samples_lost(), 40);
}
