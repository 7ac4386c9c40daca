//! `--web.enable-lifecycle`, `/-/quit`, `--agent` answers and `--web.route-prefix`, through
//! the router. Expected texts are what Prometheus 2.42 answered (curl against
//! `/usr/bin/prometheus --enable-feature=agent`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use tokio_util::sync::CancellationToken;

use super::Api;
use crate::store::{Store, StoreConfig};

async fn call(api: &Api, method: &str, uri: &str) -> (u16, String, Option<String>) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = api.handle(req).await;
    let code = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (code, String::from_utf8(body.to_vec()).unwrap(), location)
}

fn counting_reload(api: Api, calls: Arc<AtomicUsize>) -> Api {
    api.with_reload(Arc::new(move || {
        calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }))
}

#[tokio::test]
async fn lifecycle_endpoints_are_forbidden_unless_enabled() {
    let calls = Arc::new(AtomicUsize::new(0));
    let quit = CancellationToken::new();
    let api = counting_reload(Api::new(Store::new(StoreConfig::default())), calls.clone())
        .with_lifecycle(false, Some(quit.clone()));
    for (method, path) in [
        ("POST", "/-/reload"),
        ("PUT", "/-/reload"),
        ("POST", "/-/quit"),
        ("PUT", "/-/quit"),
    ] {
        let (code, body, _) = call(&api, method, path).await;
        assert_eq!(
            (code, body.as_str()),
            (403, "Lifecycle API is not enabled."),
            "{method} {path}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(!quit.is_cancelled());
    let (code, body, _) = call(&api, "GET", "/-/quit").await;
    assert_eq!(
        (code, body.as_str()),
        (405, "Only POST or PUT requests allowed")
    );
    let (code, body, _) = call(&api, "GET", "/-/reload").await;
    assert_eq!(
        (code, body.as_str()),
        (405, "This endpoint requires a POST or PUT request.\n")
    );
}

#[tokio::test]
async fn quit_fires_the_shutdown_token_when_enabled() {
    let calls = Arc::new(AtomicUsize::new(0));
    let quit = CancellationToken::new();
    let api = counting_reload(Api::new(Store::new(StoreConfig::default())), calls.clone())
        .with_lifecycle(true, Some(quit.clone()));
    let (code, _, _) = call(&api, "POST", "/-/reload").await;
    assert_eq!(code, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(!quit.is_cancelled());
    let (code, body, _) = call(&api, "POST", "/-/quit").await;
    assert_eq!(
        (code, body.as_str()),
        (200, "Requesting termination... Goodbye!")
    );
    assert!(quit.is_cancelled());
}

#[tokio::test]
async fn agent_mode_answers_as_prometheus_agent() {
    let api = Api::new(Store::new(StoreConfig::default())).with_agent(true);
    let unavailable =
        r#"{"status":"error","errorType":"execution","error":"unavailable with Prometheus Agent"}"#;
    for path in [
        "/api/v1/query?query=up",
        "/api/v1/query_range?query=up&start=1&end=2&step=1",
        "/api/v1/series?match[]=up",
        "/api/v1/labels",
        "/api/v1/label/job/values",
        "/api/v1/query_exemplars?query=up",
        "/api/v1/rules",
        "/api/v1/alerts",
    ] {
        let (code, body, _) = call(&api, "GET", path).await;
        assert_eq!((code, body.as_str()), (422, unavailable), "{path}");
    }
    let (code, body, _) = call(&api, "POST", "/api/v1/query?query=up").await;
    assert_eq!((code, body.as_str()), (422, unavailable));
    let (code, body, _) = call(&api, "GET", "/federate?match[]=up").await;
    assert_eq!(
        (code, body.as_str()),
        (500, "unsupported operation with WAL-only storage\n")
    );
    // What the agent still serves.
    assert_eq!(call(&api, "GET", "/api/v1/targets").await.0, 200);
    assert_eq!(call(&api, "GET", "/-/ready").await.0, 200);
}

#[tokio::test]
async fn routes_live_under_the_prefix() {
    let api = Api::new(Store::new(StoreConfig::default())).with_prefix("/prom/", "/prom");
    assert_eq!(call(&api, "GET", "/prom/-/healthy").await.0, 200);
    assert_eq!(call(&api, "GET", "/prom/api/v1/targets").await.0, 200);
    assert_eq!(call(&api, "GET", "/-/healthy").await.0, 404);
    assert_eq!(call(&api, "GET", "/metrics").await.0, 404);
    let (code, _, location) = call(&api, "GET", "/").await;
    assert_eq!((code, location.as_deref()), (302, Some("/prom/")));
    let (code, _, location) = call(&api, "GET", "/prom/").await;
    assert_eq!((code, location.as_deref()), (302, Some("/prom/graph")));
    // Without a prefix, `/` goes to the expression browser (as Prometheus 2.x).
    let plain = Api::new(Store::new(StoreConfig::default()));
    let (code, _, location) = call(&plain, "GET", "/").await;
    assert_eq!((code, location.as_deref()), (302, Some("/graph")));
}

#[tokio::test]
async fn own_metrics_have_prometheus_names() {
    let api = Api::new(Store::new(StoreConfig::default()));
    call(&api, "GET", "/-/healthy").await;
    let (_, body, _) = call(&api, "GET", "/metrics").await;
    for line in [
        "prometheus_http_requests_total{code=\"200\",handler=\"/-/healthy\"} 1\n",
        "prometheus_http_request_duration_seconds_count{handler=\"/-/healthy\"} 1\n",
        "# TYPE prometheus_http_request_duration_seconds histogram\n",
        "\nprometheus_ready 1\n",
        "# TYPE prometheus_build_info gauge\n",
    ] {
        assert!(body.contains(line), "{line:?} missing in\n{body}");
    }
}
