//! The API's responses, byte for byte.

use std::sync::atomic::AtomicUsize;
use std::time::UNIX_EPOCH;

use super::*;
use crate::store::StoreConfig;
use scrapeline_exposition::value::stale_nan;
use scrapeline_scrape::Appendable;

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// `up` for jobs a and b, `x` every 15 s, a stale series, an old series.
fn store() -> Store {
    let s = Store::new(StoreConfig::default());
    let mut app = s.appender();
    let t0 = 1_700_000_000_000;
    app.append(
        0,
        &l(&[("__name__", "up"), ("job", "a"), ("instance", "h:1")]),
        t0,
        1.0,
    )
    .unwrap();
    app.append(
        0,
        &l(&[("__name__", "up"), ("job", "b"), ("instance", "h:2")]),
        t0,
        0.0,
    )
    .unwrap();
    for i in 0..5 {
        app.append(
            0,
            &l(&[("__name__", "x"), ("job", "a")]),
            t0 + i * 15_000,
            0.5 * i as f64,
        )
        .unwrap();
    }
    app.append(0, &l(&[("__name__", "gone"), ("job", "a")]), t0, 3.0)
        .unwrap();
    app.append(
        0,
        &l(&[("__name__", "gone"), ("job", "a")]),
        t0 + 15_000,
        stale_nan(),
    )
    .unwrap();
    app.append(
        0,
        &l(&[("__name__", "old"), ("job", "a")]),
        t0 - 400_000,
        7.0,
    )
    .unwrap();
    app.commit().unwrap();
    s
}

async fn call(api: &Api, method: &str, uri: &str, body: &str) -> (u16, String, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if !body.is_empty() {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    let resp = api
        .handle(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap())
        .await;
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ct, String::from_utf8(body.to_vec()).unwrap())
}

async fn get(api: &Api, uri: &str) -> (u16, String) {
    let (s, _, b) = call(api, "GET", uri, "").await;
    (s, b)
}

#[tokio::test]
async fn instant_vector_query() {
    let api = Api::new(store());
    let (code, ct, body) = call(&api, "GET", "/api/v1/query?query=up&time=1700000030.5", "").await;
    assert_eq!((code, ct.as_str()), (200, "application/json"));
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"h:1","job":"a"},"value":[1700000030.500,"1"]},{"metric":{"__name__":"up","instance":"h:2","job":"b"},"value":[1700000030.500,"0"]}]}}"#
    );
    // Matchers, POST form, and the newest sample within the lookback.
    let (code, _, body) = call(
        &api,
        "POST",
        "/api/v1/query",
        "query=%7B__name__%3D~%22x%7Cgone%22%2Cjob%21%3D%22b%22%7D&time=1700000050",
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"x","job":"a"},"value":[1700000050,"1.5"]}]}}"#
    );
    // Five minutes after the last sample nothing is left (the window is left-open).
    let (_, body) = get(&api, "/api/v1/query?query=x&time=1700000360").await;
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#
    );
    let (_, body) = get(&api, "/api/v1/query?query=x&time=1700000359.999").await;
    assert!(body.contains(r#""value":[1700000359.999,"2"]"#), "{body}");
    // offset looks back.
    let (_, body) = get(&api, "/api/v1/query?query=x%20offset%2030s&time=1700000059").await;
    assert!(body.contains(r#""value":[1700000059,"0.5"]"#), "{body}");
}

#[tokio::test]
async fn range_selector_in_instant_query_gives_a_matrix() {
    let api = Api::new(store());
    let (code, body) = get(&api, "/api/v1/query?query=x%5B30s%5D&time=1700000045").await;
    assert_eq!(code, 200);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"x","job":"a"},"values":[[1700000030,"1"],[1700000045,"1.5"]]}]}}"#
    );
    // Staleness markers are not points.
    let (_, body) = get(&api, "/api/v1/query?query=gone%5B1m%5D&time=1700000030").await;
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"gone","job":"a"},"values":[[1700000000,"3"]]}]}}"#
    );
}

#[tokio::test]
async fn range_query() {
    let api = Api::new(store());
    let (code, body) = get(
        &api,
        "/api/v1/query_range?query=%7B__name__%3D~%22x%7Cgone%22%7D&start=1699999990&end=1700000030&step=10",
    )
    .await;
    assert_eq!(code, 200);
    // `gone` is present until its staleness marker at +15 s; `x` from its first sample on.
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"gone","job":"a"},"values":[[1700000000,"3"],[1700000010,"3"]]},{"metric":{"__name__":"x","job":"a"},"values":[[1700000000,"0"],[1700000010,"0"],[1700000020,"0.5"],[1700000030,"1"]]}]}}"#
    );
    let (code, body) = get(
        &api,
        "/api/v1/query_range?query=x%5B1m%5D&start=1&end=2&step=1",
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"}"#
    );
    let (code, body) = get(&api, "/api/v1/query_range?query=x&start=10&end=2&step=1").await;
    assert_eq!(code, 400);
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"end\": end timestamp must not be before start time"}"#
    );
    let (_, body) = get(&api, "/api/v1/query_range?query=x&start=1&end=2&step=0").await;
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"}"#
    );
    let (_, body) = get(
        &api,
        "/api/v1/query_range?query=x&start=0&end=100000&step=1",
    )
    .await;
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"}"#
    );
    let (_, body) = get(
        &api,
        "/api/v1/query_range?query=2*3&start=10&end=20&step=5s",
    )
    .await;
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[10,"6"],[15,"6"],[20,"6"]]}]}}"#
    );
}

#[tokio::test]
async fn functions_operators_and_aggregations_are_evaluated() {
    let api = Api::new(store());
    let (code, body) = get(&api, "/api/v1/query?query=rate(x%5B5m%5D)&time=1700000060").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[1700000060,"0.006666666666666667"]}]}}"#
    );
    let (_, body) = get(
        &api,
        "/api/v1/query?query=sum%20by%20(job)%20(up)&time=1700000000",
    )
    .await;
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[1700000000,"1"]},{"metric":{"job":"b"},"value":[1700000000,"0"]}]}}"#
    );
    let (_, body) = get(&api, "/api/v1/query?query=up%20%2B%201&time=1700000000").await;
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"h:1","job":"a"},"value":[1700000000,"2"]},{"metric":{"instance":"h:2","job":"b"},"value":[1700000000,"1"]}]}}"#
    );
    let (_, body) = get(
        &api,
        "/api/v1/query_range?query=sum(x)%20*%202&start=1700000000&end=1700000030&step=15",
    )
    .await;
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1700000000,"0"],[1700000015,"1"],[1700000030,"2"]]}]}}"#
    );
    // An execution error is Prometheus' `execution` type, status 422.
    let (code, body) = get(
        &api,
        "/api/v1/query?query=up%20%2B%20on()%20up&time=1700000000",
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.starts_with(r#"{"status":"error","errorType":"execution","error":"found duplicate series for the match group {} on the right hand-side of the operation"#),
        "{body}"
    );
    let (code, body) = get(&api, "/api/v1/query?query=%7Bjob%3D~%22.*%22%7D").await;
    assert_eq!(code, 400);
    assert!(
        body.starts_with(
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": "#
        ),
        "{body}"
    );
    assert!(
        body.contains("vector selector must contain at least one non-empty matcher"),
        "{body}"
    );
    let (code, body) = get(&api, "/api/v1/query?query=up%7B").await;
    assert_eq!(code, 400);
    assert!(
        body.starts_with(
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": "#
        ),
        "{body}"
    );
    let (code, body) = get(&api, "/api/v1/query?query=up&time=yesterday").await;
    assert_eq!(code, 400);
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp"}"#
    );
    // Grafana's data-source test.
    let (code, body) = get(&api, "/api/v1/query?query=1%2B1&time=1700000000.25").await;
    assert_eq!(code, 200);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.25,"2"]}}"#
    );
}

#[tokio::test]
async fn browsing_labels_and_series() {
    let api = Api::new(store());
    let (_, body) = get(&api, "/api/v1/labels").await;
    assert_eq!(
        body,
        r#"{"status":"success","data":["__name__","instance","job"]}"#
    );
    let (_, body) = get(&api, "/api/v1/label/__name__/values").await;
    assert_eq!(
        body,
        r#"{"status":"success","data":["gone","old","up","x"]}"#
    );
    let (_, body) = get(&api, "/api/v1/label/job/values?match[]=up").await;
    assert_eq!(body, r#"{"status":"success","data":["a","b"]}"#);
    let (_, body) = get(&api, "/api/v1/label/job/values?start=1800000000").await;
    assert_eq!(body, r#"{"status":"success","data":[]}"#);
    let (_, body) = get(&api, "/api/v1/series?match[]=up&match[]=x").await;
    assert_eq!(
        body,
        r#"{"status":"success","data":[{"__name__":"up","instance":"h:1","job":"a"},{"__name__":"up","instance":"h:2","job":"b"},{"__name__":"x","job":"a"}]}"#
    );
    let (code, body) = get(&api, "/api/v1/series").await;
    assert_eq!(code, 400);
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}"#
    );
    let (_, _, body) = call(&api, "POST", "/api/v1/labels", "match[]=x").await;
    assert_eq!(body, r#"{"status":"success","data":["__name__","job"]}"#);
    let (_, body) = get(&api, "/api/v1/status/buildinfo").await;
    // goVersion: the `rustc --version` that built the binary.
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let go_version = v["data"]["goVersion"].as_str().unwrap().to_owned();
    assert!(go_version.starts_with("rustc 1."), "{go_version}");
    assert_eq!(
        body,
        format!(
            r#"{{"status":"success","data":{{"version":"3.0.0+mini-prometheus.0.1.0","revision":"","branch":"","buildUser":"","buildDate":"","goVersion":"{go_version}"}}}}"#
        )
    );
}

#[test]
fn federation_text() {
    let s = store();
    let mut out = String::new();
    let sets = vec![
        query::parse_selector("{job=\"a\"}").unwrap(),
        query::parse_selector("up").unwrap(),
    ];
    federate::write(
        &s,
        &sets,
        1_700_000_040_000,
        300_000,
        &l(&[("cluster", "c1"), ("job", "ext")]),
        &ReadBudget::unlimited(),
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        "# TYPE up untyped\n\
         up{instance=\"h:1\",job=\"a\",cluster=\"c1\"} 1 1700000000000\n\
         up{instance=\"h:2\",job=\"b\",cluster=\"c1\"} 0 1700000000000\n\
         # TYPE x untyped\n\
         x{job=\"a\",cluster=\"c1\",instance=\"\"} 1 1700000030000\n"
    );
}

#[tokio::test]
async fn federate_endpoint() {
    let s = Store::new(StoreConfig::default());
    let now = query::system_time_ms(SystemTime::now());
    let mut app = s.appender();
    app.append(
        0,
        &l(&[("__name__", "m"), ("path", "a\"b\\c\nd")]),
        now - 1000,
        1e6,
    )
    .unwrap();
    app.commit().unwrap();
    let api = Api::new(s);
    let (code, ct, body) = call(&api, "GET", "/federate?match[]=m", "").await;
    assert_eq!((code, ct.as_str()), (200, TEXT_FORMAT));
    assert_eq!(
        body,
        format!(
            "# TYPE m untyped\nm{{path=\"a\\\"b\\\\c\\nd\",instance=\"\"}} 1e+06 {}\n",
            now - 1000
        )
    );
    let (code, body) = get(&api, "/federate").await;
    assert_eq!((code, body.as_str()), (200, ""));
    let (code, _) = get(&api, "/federate?match[]=rate(m%5B1m%5D)").await;
    assert_eq!(code, 400);
}

/// Three targets in two pools, one dropped, with values that need escaping.
pub(crate) struct Fixed;

fn fixed_targets() -> Vec<TargetInfo> {
    vec![
        TargetInfo {
            discovered_labels: l(&[
                ("__address__", "10.0.0.1:9100"),
                ("__scheme__", "http"),
                ("job", "node"),
            ]),
            labels: l(&[("instance", "10.0.0.1:9100"), ("job", "node")]),
            scrape_pool: "node".into(),
            scrape_url: "http://10.0.0.1:9100/metrics".into(),
            global_url: "http://host-1:9100/metrics".into(),
            last_error: String::new(),
            last_scrape: Some(UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789)),
            last_scrape_duration: Duration::from_micros(12_345),
            health: Health::Up,
            scrape_interval: Duration::from_secs(15),
            scrape_timeout: Duration::from_secs(10),
        },
        TargetInfo {
            discovered_labels: l(&[("__address__", "a<b>:1"), ("job", "api")]),
            labels: l(&[("instance", "a<b>:1"), ("job", "api")]),
            scrape_pool: "api".into(),
            scrape_url: "http://a<b>:1/metrics?x=1&y=\"2\"".into(),
            global_url: "http://a<b>:1/metrics?x=1&y=\"2\"".into(),
            last_error: "Get \"http://a<b>:1/metrics\": connection refused".into(),
            last_scrape: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_005)),
            last_scrape_duration: Duration::from_millis(1500),
            health: Health::Down,
            scrape_interval: Duration::from_secs(90),
            scrape_timeout: Duration::from_secs(60),
        },
        TargetInfo {
            discovered_labels: l(&[("__address__", "b:2"), ("job", "api")]),
            labels: l(&[("instance", "b:2"), ("job", "api")]),
            scrape_pool: "api".into(),
            scrape_url: "http://b:2/metrics".into(),
            global_url: "http://b:2/metrics".into(),
            last_error: String::new(),
            last_scrape: None,
            last_scrape_duration: Duration::ZERO,
            health: Health::Unknown,
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
        },
    ]
}

impl TargetsSource for Fixed {
    fn active(&self) -> Vec<TargetInfo> {
        fixed_targets()
    }
    fn dropped(&self) -> Vec<DroppedTargetInfo> {
        vec![DroppedTargetInfo {
            discovered_labels: l(&[("__address__", "c:3"), ("job", "node")]),
            scrape_pool: "node".into(),
            error: None,
        }]
    }
}

#[tokio::test]
async fn targets_json_has_prometheus_shape() {
    let api = Api::new(store()).with_targets(Arc::new(Fixed));
    let (code, body) = get(&api, "/api/v1/targets").await;
    assert_eq!(code, 200);
    assert_eq!(
        body,
        concat!(
            r#"{"status":"success","data":{"activeTargets":["#,
            r#"{"discoveredLabels":{"__address__":"a\u003cb\u003e:1","job":"api"},"labels":{"instance":"a\u003cb\u003e:1","job":"api"},"scrapePool":"api","scrapeUrl":"http://a\u003cb\u003e:1/metrics?x=1\u0026y=\"2\"","globalUrl":"http://a\u003cb\u003e:1/metrics?x=1\u0026y=\"2\"","lastError":"Get \"http://a\u003cb\u003e:1/metrics\": connection refused","lastScrape":"2023-11-14T22:13:25Z","lastScrapeDuration":1.5,"health":"down","scrapeInterval":"1m30s","scrapeTimeout":"1m"},"#,
            r#"{"discoveredLabels":{"__address__":"b:2","job":"api"},"labels":{"instance":"b:2","job":"api"},"scrapePool":"api","scrapeUrl":"http://b:2/metrics","globalUrl":"http://b:2/metrics","lastError":"","lastScrape":"0001-01-01T00:00:00Z","lastScrapeDuration":0,"health":"unknown","scrapeInterval":"1m","scrapeTimeout":"10s"},"#,
            r#"{"discoveredLabels":{"__address__":"10.0.0.1:9100","__scheme__":"http","job":"node"},"labels":{"instance":"10.0.0.1:9100","job":"node"},"scrapePool":"node","scrapeUrl":"http://10.0.0.1:9100/metrics","globalUrl":"http://host-1:9100/metrics","lastError":"","lastScrape":"2023-11-14T22:13:20.123456789Z","lastScrapeDuration":0.012345,"health":"up","scrapeInterval":"15s","scrapeTimeout":"10s"}"#,
            r#"],"droppedTargets":[{"discoveredLabels":{"__address__":"c:3","job":"node"},"scrapePool":"node"}],"droppedTargetCounts":{"node":1}}}"#
        )
    );
    let (_, body) = get(&api, "/api/v1/targets?state=dropped").await;
    assert_eq!(
        body,
        r#"{"status":"success","data":{"activeTargets":[],"droppedTargets":[{"discoveredLabels":{"__address__":"c:3","job":"node"},"scrapePool":"node"}],"droppedTargetCounts":{"node":1}}}"#
    );
    let (_, body) = get(&api, "/api/v1/targets?state=active&scrapePool=node").await;
    assert!(body.starts_with(r#"{"status":"success","data":{"activeTargets":[{"discoveredLabels":{"__address__":"10.0.0.1:9100""#), "{body}");
    assert!(
        body.ends_with(
            r#""scrapeTimeout":"10s"}],"droppedTargets":[],"droppedTargetCounts":null}}"#
        ),
        "{body}"
    );
}

/// The exact page for [`fixed_targets`] seen at 1700000010 s.
pub(crate) fn expected_targets_html() -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<title>Targets - mini-prometheus</title>\n<style>{}</style>\n</head>\n<body>\n<nav><a href=\"/graph\">Graph</a></nav>\n<h1>Targets</h1>\n\
<section>\n<h2>api (0/2 up)</h2>\n<table>\n\
<thead><tr><th>Endpoint</th><th>State</th><th>Labels</th><th>Last scrape</th><th>Scrape duration</th><th>Error</th></tr></thead>\n<tbody>\n\
<tr class=\"down\"><td><a href=\"http://a&lt;b&gt;:1/metrics?x=1&amp;y=&quot;2&quot;\">http://a&lt;b&gt;:1/metrics?x=1&amp;y=&quot;2&quot;</a></td><td class=\"state\">DOWN</td>\
<td class=\"labels\"><span>instance=\"a&lt;b&gt;:1\"</span> <span>job=\"api\"</span> </td>\
<td>2023-11-14T22:13:25Z (5.000s ago)</td><td>1.500s</td><td class=\"err\">Get &quot;http://a&lt;b&gt;:1/metrics&quot;: connection refused</td></tr>\n\
<tr class=\"unknown\"><td><a href=\"http://b:2/metrics\">http://b:2/metrics</a></td><td class=\"state\">UNKNOWN</td>\
<td class=\"labels\"><span>instance=\"b:2\"</span> <span>job=\"api\"</span> </td><td>never</td><td></td><td class=\"err\"></td></tr>\n\
</tbody>\n</table>\n</section>\n\
<section>\n<h2>node (1/1 up)</h2>\n<table>\n\
<thead><tr><th>Endpoint</th><th>State</th><th>Labels</th><th>Last scrape</th><th>Scrape duration</th><th>Error</th></tr></thead>\n<tbody>\n\
<tr class=\"up\"><td><a href=\"http://10.0.0.1:9100/metrics\">http://10.0.0.1:9100/metrics</a></td><td class=\"state\">UP</td>\
<td class=\"labels\"><span>instance=\"10.0.0.1:9100\"</span> <span>job=\"node\"</span> </td>\
<td>2023-11-14T22:13:20.123456789Z (9.877s ago)</td><td>12.345ms</td><td class=\"err\"></td></tr>\n\
</tbody>\n</table>\n</section>\n</body>\n</html>\n",
        targets::STYLE
    )
}

#[test]
fn targets_page_exact_html() {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
    assert_eq!(targets::render_html(&Fixed, now), expected_targets_html());
    let empty = targets::render_html(&NoTargets, now);
    assert!(
        empty.contains("<h1>Targets</h1>\n<p>No targets.</p>\n</body>"),
        "{empty}"
    );
}

#[tokio::test]
async fn health_ready_reload_and_not_found() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let fail = Arc::new(AtomicBool::new(false));
    let f = fail.clone();
    let api = Api::new(store())
        .with_lifecycle(true, None)
        .with_reload(Arc::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
            let fail = f.load(Ordering::SeqCst);
            Box::pin(async move {
                if fail {
                    Err("bad.yml:3: unknown field `scrape_intervall`".to_owned())
                } else {
                    Ok(())
                }
            })
        }));
    assert_eq!(
        get(&api, "/-/healthy").await,
        (200, "Prometheus Server is Healthy.\n".into())
    );
    assert_eq!(
        get(&api, "/-/ready").await,
        (200, "Prometheus Server is Ready.\n".into())
    );
    api.ready_flag().store(false, Ordering::SeqCst);
    assert_eq!(
        get(&api, "/-/ready").await,
        (503, "Service Unavailable\n".into())
    );
    let (code, _, body) = call(&api, "POST", "/-/reload", "").await;
    assert_eq!((code, body.as_str()), (200, ""));
    let (code, _, _) = call(&api, "PUT", "/-/reload", "").await;
    assert_eq!(code, 200);
    fail.store(true, Ordering::SeqCst);
    let (code, _, body) = call(&api, "POST", "/-/reload", "").await;
    assert_eq!(
        (code, body.as_str()),
        (
            500,
            "failed to reload config: bad.yml:3: unknown field `scrape_intervall`\n"
        )
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let (code, _) = get(&api, "/-/reload").await;
    assert_eq!(code, 405);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        get(&api, "/nope").await,
        (404, "404 page not found\n".into())
    );
    assert_eq!(get(&api, "/metrics/cadvisor").await.0, 404);
}

#[tokio::test]
async fn own_metrics_and_cadvisor_hook() {
    let s = store();
    let api = Api::new(s.clone())
        .with_metrics(Arc::new(s))
        .with_metrics(Arc::new(|out: &mut String| {
            out.push_str("# TYPE extra gauge\nextra 1\n")
        }))
        .with_cadvisor(Arc::new(|| {
            Ok(b"container_cpu_usage_seconds_total{id=\"/\"} 1\n".to_vec())
        }));
    get(&api, "/-/healthy").await;
    let (code, ct, body) = call(&api, "GET", "/metrics", "").await;
    assert_eq!((code, ct.as_str()), (200, TEXT_FORMAT));
    assert!(body.contains("\nscrapeline_store_series 5\n"), "{body}");
    assert_eq!(
        body.matches("# TYPE scrapeline_store_series gauge").count(),
        1
    );
    let (code, rules) = get(&api, "/api/v1/rules").await;
    assert_eq!(
        (code, rules.as_str()),
        (200, r#"{"status":"success","data":{"groups":[]}}"#)
    );
    let (_, metadata) = get(&api, "/api/v1/metadata").await;
    assert_eq!(metadata, r#"{"status":"success","data":{}}"#);
    assert!(
        body.contains("\nprometheus_http_requests_total{code=\"200\",handler=\"/-/healthy\"} 1\n"),
        "{body}"
    );
    assert!(body.ends_with("# TYPE extra gauge\nextra 1\n"), "{body}");
    let (code, ct, body) = call(&api, "GET", "/metrics/cadvisor", "").await;
    assert_eq!(
        (code, ct.as_str(), body.as_str()),
        (
            200,
            TEXT_FORMAT,
            "container_cpu_usage_seconds_total{id=\"/\"} 1\n"
        )
    );
}

#[tokio::test]
async fn serves_over_tcp_and_stops_on_cancel() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(Api::new(store()).serve(listener, cancel.clone()));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /api/v1/query?query=up%7Bjob%3D%22b%22%7D&time=1700000000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.ends_with(r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"h:2","job":"b"},"value":[1700000000,"0"]}]}}"#), "{resp}");
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(6), task)
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn parse_errors_name_the_problem() {
    for (q, want) in [
        ("up{", "unexpected end of input inside braces"),
        (
            "{job=~\".*\"}",
            "vector selector must contain at least one non-empty matcher",
        ),
        ("up[5m", "unexpected end of input inside brackets"),
    ] {
        assert_eq!(query::parse(q).unwrap_err(), want, "{q}");
    }
}

#[tokio::test]
async fn odd_inputs_never_panic() {
    let api = Api::new(store());
    for (uri, code) in [
        ("/api/v1/label/values", 404),
        ("/api/v1/label//values", 400),
        ("/api/v1/label/%ZZ/values", 200),
        ("/api/v1/query?query=up&time=1e300", 400),
        ("/api/v1/query?query=up&time=-9000000000000000", 200),
        ("/api/v1/query?query=x%5B0s%5D&time=1700000000", 400),
        (
            "/api/v1/query_range?query=up&start=-9000000000000000&end=9000000000000000&step=1e15",
            200,
        ),
        (
            "/api/v1/query_range?query=up&start=9100000000000000&end=9100000000000001&step=1e15",
            200,
        ),
        ("/api/v1/series?match[]=%7B", 400),
        ("/federate?match[]=%7B__name__%3D~%22(%22%7D", 400),
        ("/api/v1/query?query=%00%FF", 400),
    ] {
        let (got, body) = get(&api, uri).await;
        assert_eq!(got, code, "{uri}: {body}");
    }
}

/// A pool with a relabel-dropped target and one that could not be created (issue 18).
struct WithFailed;

impl TargetsSource for WithFailed {
    fn active(&self) -> Vec<TargetInfo> {
        Vec::new()
    }
    fn dropped(&self) -> Vec<DroppedTargetInfo> {
        vec![
            DroppedTargetInfo {
                discovered_labels: l(&[("__address__", "c:3"), ("job", "ing")]),
                scrape_pool: "ing".into(),
                error: None,
            },
            DroppedTargetInfo {
                discovered_labels: l(&[
                    ("__meta_kubernetes_ingress_name", "<web>"),
                    ("job", "ing"),
                ]),
                scrape_pool: "ing".into(),
                error: Some("no address".into()),
            },
        ]
    }
}

/// Failed targets are listed in `droppedTargets` with an `error` key, after the pool's
/// relabel-dropped ones, and are not counted in `droppedTargetCounts`; the page shows them.
#[tokio::test]
async fn failed_targets_are_listed_with_their_error_but_not_counted() {
    let api = Api::new(store()).with_targets(Arc::new(WithFailed));
    let (code, body) = get(&api, "/api/v1/targets?state=dropped&scrapePool=ing").await;
    assert_eq!(code, 200);
    assert_eq!(
        body,
        concat!(
            r#"{"status":"success","data":{"activeTargets":[],"droppedTargets":["#,
            r#"{"discoveredLabels":{"__address__":"c:3","job":"ing"},"scrapePool":"ing"},"#,
            r#"{"discoveredLabels":{"__meta_kubernetes_ingress_name":"\u003cweb\u003e","job":"ing"},"scrapePool":"ing","error":"no address"}"#,
            r#"],"droppedTargetCounts":{"ing":1}}}"#
        )
    );
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
    let page = targets::render_html(&WithFailed, now);
    assert!(
        page.ends_with(concat!(
            "<h1>Targets</h1>\n<section>\n<h2>Targets that could not be created (1)</h2>\n<table>\n",
            "<thead><tr><th>Scrape pool</th><th>Discovered labels</th><th>Error</th></tr></thead>\n<tbody>\n",
            "<tr class=\"down\"><td>ing</td><td class=\"labels\"><span>__meta_kubernetes_ingress_name=\"&lt;web&gt;\"</span> <span>job=\"ing\"</span> </td>",
            "<td class=\"err\">no address</td></tr>\n</tbody>\n</table>\n</section>\n</body>\n</html>\n"
        )),
        "{page}"
    );
}
