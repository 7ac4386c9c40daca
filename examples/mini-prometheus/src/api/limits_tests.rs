//! Issue 15: no request can kill the process, freeze it or pin its connections.

use std::time::Instant;

use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::store::StoreConfig;
use scrapeline_scrape::Appendable;

const T0: i64 = 1_700_000_000_000;

/// `x{job="a"}` every 15 s (5 samples) and `n` series `bulk{i="<i>"}` at T0.
fn store(n: usize) -> Store {
    let s = Store::new(StoreConfig::default());
    let mut app = s.appender();
    for i in 0..5 {
        let ls = Labels::from_pairs([("__name__", "x"), ("job", "a")]);
        app.append(0, &ls, T0 + i * 15_000, i as f64).unwrap();
    }
    for i in 0..n {
        let ls = Labels::from_pairs([("__name__", "bulk"), ("i", &i.to_string())]);
        app.append(0, &ls, T0, 1.0).unwrap();
    }
    app.commit().unwrap();
    s
}

async fn get(api: &Api, uri: &str) -> (u16, String) {
    let req = Request::get(uri).body(Full::new(Bytes::new())).unwrap();
    let resp = api.handle(req).await;
    let code = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (code, String::from_utf8(body.to_vec()).unwrap())
}

async fn post(api: &Api, uri: &str, body: String) -> (u16, String) {
    let req = Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = api.handle(req).await;
    let code = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (code, String::from_utf8(body.to_vec()).unwrap())
}

fn bad_data(msg: &str) -> String {
    let mut out = String::from(r#"{"status":"error","errorType":"bad_data","error":"#);
    json::string(&mut out, msg);
    out.push('}');
    out
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `count` regex `match[]` over the bulk series: each series is tried against every set.
fn heavy_series_body(count: usize) -> String {
    (0..count)
        .map(|k| format!("match[]={}", enc(&format!(r#"bulk{{i=~"{k}9.*5"}}"#))))
        .collect::<Vec<_>>()
        .join("&")
}

const NESTING: &str = "query nests deeper than 100 levels of parentheses, brackets or braces";
const OPERATORS: &str = "query has more than 1000 operators; split it into smaller queries";

#[tokio::test]
async fn deep_or_huge_queries_are_bad_data_before_parsing() {
    let api = Api::new(store(0));
    let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    let (code, body) = post(&api, "/api/v1/query", format!("query={}", enc(&deep))).await;
    assert_eq!(
        (code, body),
        (
            400,
            bad_data(&format!("invalid parameter \"query\": {NESTING}"))
        )
    );
    let sum = vec!["1"; 30_000].join("+");
    let started = Instant::now();
    let (code, body) = post(&api, "/api/v1/query", format!("query={}", enc(&sum))).await;
    assert_eq!(
        (code, body),
        (
            400,
            bad_data(&format!("invalid parameter \"query\": {OPERATORS}"))
        )
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    let minus = format!("{}1", "-".repeat(30_000));
    let (code, _) = post(
        &api,
        "/api/v1/query_range",
        format!("query={}", enc(&minus)),
    )
    .await;
    assert_eq!(code, 400);
    // match[] selectors go through the same guard.
    let deep_sel = format!("{}up{}", "(".repeat(10_000), ")".repeat(10_000));
    for path in [
        "/api/v1/series",
        "/api/v1/labels",
        "/api/v1/label/job/values",
    ] {
        let (code, body) = get(&api, &format!("{path}?match[]={}", enc(&deep_sel))).await;
        assert_eq!(
            (code, body),
            (
                400,
                bad_data(&format!("invalid parameter \"match[]\": {NESTING}"))
            ),
            "{path}"
        );
    }
    let (code, body) = get(&api, &format!("/federate?match[]={}", enc(&deep_sel))).await;
    assert_eq!((code, body), (400, format!("{NESTING}\n")));
}

/// The deepest tree the guard lets through parses, evaluates and drops on a thread with
/// tokio's blocking-thread stack (2 MiB), in a debug build.
#[test]
fn the_deepest_allowed_query_fits_a_blocking_thread_stack() {
    let n = guard::MAX_NESTING;
    let ops = guard::MAX_OPERATORS;
    let worst = format!(
        "{}{}1{}{}",
        "(".repeat(n),
        "-".repeat(ops - 100),
        "+1".repeat(100),
        ")".repeat(n)
    );
    assert_eq!(guard::check(&worst), Ok(()));
    // The braces are a level too.
    let sel = format!("{}x{{job=\"a\"}}{}", "(".repeat(n - 1), ")".repeat(n - 1));
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let started = Instant::now();
            let v = query::parse(&worst)
                .ok()
                .and_then(|q| q.as_number())
                .expect("a number");
            // The selector in its parentheses parses and evaluates too.
            let store = crate::store::Store::new(Default::default());
            let q = query::parse(&sel).unwrap();
            let mut out = String::new();
            query::instant(
                &store,
                &q,
                0,
                300_000,
                usize::MAX,
                &crate::store::ReadBudget::unlimited(),
                &mut out,
            )
            .unwrap();
            let err = out;
            (v, err, started.elapsed())
        })
        .unwrap();
    let (v, err, took) = handle.join().unwrap();
    assert_eq!(v, 101.0);
    assert_eq!(err, r#"{"resultType":"vector","result":[]}"#);
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn odd_numbers_in_parameters_are_bad_data() {
    let api = Api::new(store(0));
    for (uri, msg) in [
        (
            "/api/v1/query_range?query=x&start=1&end=2&step=NaN",
            r#"invalid parameter "step": cannot parse "NaN" to a valid duration"#,
        ),
        (
            "/api/v1/query_range?query=x&start=1&end=2&step=Inf",
            r#"invalid parameter "step": cannot parse "Inf" to a valid duration. It overflows int64"#,
        ),
        (
            "/api/v1/query_range?query=x&start=1&end=2&step=1e400",
            r#"invalid parameter "step": cannot parse "1e400" to a valid duration"#,
        ),
        (
            "/api/v1/query_range?query=x&start=1&end=2&step=-Inf",
            r#"invalid parameter "step": cannot parse "-Inf" to a valid duration. It overflows int64"#,
        ),
        (
            "/api/v1/query?query=x&time=NaN",
            r#"invalid parameter "time": cannot parse "NaN" to a valid timestamp"#,
        ),
        (
            "/api/v1/query?query=x&time=1e400",
            r#"invalid parameter "time": cannot parse "1e400" to a valid timestamp"#,
        ),
        (
            "/api/v1/query_range?query=x&start=Inf&end=2&step=1",
            r#"invalid parameter "start": cannot parse "Inf" to a valid timestamp"#,
        ),
        (
            "/api/v1/query_range?query=x&start=1&end=NaN&step=1",
            r#"invalid parameter "end": cannot parse "NaN" to a valid timestamp"#,
        ),
        (
            "/api/v1/query?query=x&timeout=NaN",
            r#"invalid parameter "timeout": cannot parse "NaN" to a valid duration"#,
        ),
        (
            "/api/v1/series?match[]=x&timeout=1e400",
            r#"invalid parameter "timeout": cannot parse "1e400" to a valid duration"#,
        ),
        (
            "/api/v1/query?query=x%5B1e400%5D",
            r#"invalid parameter "query": parse error: a number or duration in the query is out of range"#,
        ),
    ] {
        assert_eq!(get(&api, uri).await, (400, bad_data(msg)), "{uri}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heavy_query_leaves_health_checks_and_scrapes_alone() {
    let s = store(10_000);
    let api = Api::new(s.clone());
    let heavy = {
        let api = api.clone();
        tokio::spawn(async move { post(&api, "/api/v1/series", heavy_series_body(300)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!heavy.is_finished(), "the heavy query must still run");
    let started = Instant::now();
    assert_eq!(get(&api, "/-/healthy").await.0, 200);
    assert!(started.elapsed() < Duration::from_millis(200));
    // A scrape commits while the query runs: the query holds at most one shard's read lock,
    // briefly.
    let started = Instant::now();
    let mut app = s.appender();
    for i in 0..50 {
        let ls = Labels::from_pairs([("__name__", "scraped"), ("i", &i.to_string())]);
        app.append(0, &ls, T0 + 1000, 1.0).unwrap();
    }
    app.commit().unwrap();
    let took = started.elapsed();
    assert!(!heavy.is_finished(), "the heavy query must still run");
    assert!(took < Duration::from_millis(200), "commit took {took:?}");
    let (code, body) = heavy.await.unwrap();
    assert_eq!(code, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_as_prometheus_does() {
    let api = Api::new(store(10_000)).with_query_limits(QueryLimits {
        timeout: Duration::from_millis(100),
        max_samples: 8,
        max_concurrency: 1,
    });
    let timeout = r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#;
    let started = Instant::now();
    assert_eq!(
        post(&api, "/api/v1/series", heavy_series_body(300)).await,
        (503, timeout.to_owned())
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    // The request's own `timeout` only shortens the limit.
    let api_2m = Api::new(store(10_000));
    let started = Instant::now();
    let body = format!("{}&timeout=0.05", heavy_series_body(300));
    assert_eq!(
        post(&api_2m, "/api/v1/series", body).await,
        (503, timeout.to_owned())
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    // Raw samples read plus points produced: 5 + 5 over a minute is past the cap of 8;
    // 4 + 4 over 45 s is not.
    assert_eq!(
        get(
            &api,
            "/api/v1/query_range?query=x&start=1700000000&end=1700000060&step=15"
        )
        .await,
        (
            422,
            r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}"#.to_owned()
        )
    );
    assert_eq!(
        get(
            &api,
            "/api/v1/query_range?query=x&start=1700000000&end=1700000045&step=15"
        )
        .await
        .0,
        200
    );
    // One slot: a second query waits for it until its deadline.
    let first = {
        let api = api.clone();
        tokio::spawn(async move { post(&api, "/api/v1/series", heavy_series_body(300)).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        get(&api, "/api/v1/query?query=x&time=1700000000&timeout=0.03").await,
        (
            503,
            r#"{"status":"error","errorType":"timeout","error":"query timed out in query queue"}"#
                .to_owned()
        )
    );
    assert_eq!(first.await.unwrap().0, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cancels_running_queries() {
    let shutdown = CancellationToken::new();
    let api = Api::new(store(10_000)).with_query_cancel(shutdown.clone());
    let heavy = {
        let api = api.clone();
        tokio::spawn(async move { post(&api, "/api/v1/series", heavy_series_body(300)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!heavy.is_finished());
    let started = Instant::now();
    shutdown.cancel();
    let got = heavy.await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(
        got,
        (
            503,
            r#"{"status":"error","errorType":"canceled","error":"query was canceled in expression evaluation"}"#.to_owned()
        )
    );
}

async fn healthy_on(stream: &mut tokio::net::TcpStream) -> String {
    stream
        .write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn connections_above_the_limit_wait_until_one_closes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = CancellationToken::new();
    let api = Api::new(store(0)).with_max_connections(4);
    let task = tokio::spawn(api.serve(listener, cancel.clone()));
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(healthy_on(&mut c).await.starts_with("HTTP/1.1 200 OK\r\n"));
        open.push(c);
    }
    let mut fifth = tokio::net::TcpStream::connect(addr).await.unwrap();
    fifth
        .write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), fifth.read(&mut buf))
            .await
            .is_err(),
        "the fifth connection must wait while four are open"
    );
    drop(open.pop());
    let n = tokio::time::timeout(Duration::from_secs(2), fifth.read(&mut buf))
        .await
        .expect("served once a slot freed")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200 OK\r\n"));
    cancel.cancel();
    drop(open);
    drop(fifth);
    tokio::time::timeout(Duration::from_secs(6), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = CancellationToken::new();
    let api = Api::new(store(0))
        .with_max_connections(1)
        .with_idle_timeout(Duration::from_millis(200));
    let task = tokio::spawn(api.serve(listener, cancel.clone()));
    let mut buf = vec![0u8; 1024];
    // Silent from the start, then idle after one request: both closed (read gives EOF).
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(2), silent.read(&mut buf))
        .await
        .expect("a silent connection is closed")
        .unwrap();
    assert_eq!(n, 0);
    let mut kept = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(
        healthy_on(&mut kept)
            .await
            .starts_with("HTTP/1.1 200 OK\r\n")
    );
    let n = tokio::time::timeout(Duration::from_secs(2), kept.read(&mut buf))
        .await
        .expect("an idle kept-alive connection is closed")
        .unwrap();
    assert_eq!(n, 0);
    // The slot is free again.
    let mut next = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(
        healthy_on(&mut next)
            .await
            .starts_with("HTTP/1.1 200 OK\r\n")
    );
    cancel.cancel();
    drop(next);
    tokio::time::timeout(Duration::from_secs(6), task)
        .await
        .unwrap()
        .unwrap();
}

/// Prometheus' `/federate` takes no `timeout` parameter, so one that has already expired (the
/// proptest below found `timeout=-1`) must not turn federation into a 503.
#[tokio::test]
async fn federate_ignores_a_timeout_parameter() {
    let api = Api::new(store(1));
    let (code, body) = get(
        &api,
        "/federate?match%5B%5D=%7B__name__%3D~%22.%2B%22%7D&timeout=-1",
    )
    .await;
    assert_eq!(code, 200, "{body}");
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "NaN",
            "Inf",
            "-Inf",
            "+Inf",
            "1e400",
            "-1e400",
            "-1",
            "0",
            "1e15",
            "1e-9",
            "9e18",
            "1700000000",
            "5m",
            "1h30m",
            "0s",
            "",
            "up",
            "x",
            "x[5m]",
            "x[1e400]",
            "x offset -1",
            "x[Inf]",
            "x @ NaN",
            "{",
            "((",
            "1+",
            "-",
            "{__name__=~\".+\"}",
            "x[0s]",
            "x offset 1e400",
            "1/0",
            "rate(x[5m])",
            "x @ start()",
        ])
        .prop_map(str::to_owned),
        ".{0,12}",
    ]
}

fn key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "query", "time", "start", "end", "step", "timeout", "match[]", "limit",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// No query string panics any endpoint, and each JSON endpoint answers Prometheus'
    /// envelope with a status code that fits it.
    #[test]
    fn no_parameters_panic_and_every_answer_is_an_envelope(
        params in prop::collection::vec((key(), value()), 0..6),
        endpoint in 0usize..6,
    ) {
        let path = [
            "/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels",
            "/api/v1/label/job/values", "/federate",
        ][endpoint];
        let qs: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
        let uri = format!("{path}?{}", qs.join("&"));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (code, body) = rt.block_on(async { get(&Api::new(store(0)), &uri).await });
        if path == "/federate" {
            prop_assert!(code == 200 || code == 400, "{uri}: {code} {body}");
        } else {
            let v: serde_json::Value = serde_json::from_str(&body)
                .map_err(|e| TestCaseError::fail(format!("{uri}: {e}: {body}")))?;
            match v["status"].as_str() {
                Some("success") => prop_assert_eq!(code, 200),
                Some("error") => {
                    prop_assert!(v["error"].is_string(), "{}", body);
                    let want = match v["errorType"].as_str() {
                        Some("bad_data") => 400,
                        Some("execution") => 422,
                        Some("timeout") | Some("canceled") => 503,
                        other => return Err(TestCaseError::fail(format!("{uri}: {other:?}"))),
                    };
                    prop_assert_eq!(code, want, "{}: {}", uri, body);
                }
                other => return Err(TestCaseError::fail(format!("{uri}: {other:?}"))),
            }
        }
    }
}
