//! Credentials from `kubernetes_sd_configs` reach the API server: bearer token, token file,
//! basic auth, `authorization`, and the in-cluster service-account token.

mod kubernetes_util;

use std::time::Duration;

use kubernetes_util::{Harness, pod};
use scrapeline_testkit::apiserver::ApiServer;
use serde_json::{Value, json};

async fn first_auth(config: Value, own_namespace: bool) -> Option<String> {
    let server = ApiServer::start().await.unwrap();
    server
        .apply(pod("ns", "a", "10.1.0.1", "n1", json!({})))
        .unwrap();
    let mut cfg = config;
    if own_namespace {
        cfg["namespaces"] = json!({"own_namespace": true});
    }
    let mut h = Harness::start_on(server, &cfg, "ns").await;
    h.wait_initial().await;
    assert!(h.server.wait_requests(1, Duration::from_secs(5)).await);
    let reqs = h.server.requests();
    let pods: Vec<_> = reqs.iter().filter(|r| r.path.ends_with("/pods")).collect();
    assert!(!pods.is_empty());
    // Every request carries the same credentials.
    for r in &pods {
        assert_eq!(r.authorization, pods[0].authorization);
    }
    pods[0].authorization.clone()
}

#[tokio::test]
async fn bearer_token() {
    let got = first_auth(json!({"role": "pod", "bearer_token": "s3cret"}), false).await;
    assert_eq!(got.as_deref(), Some("Bearer s3cret"));
}

#[tokio::test]
async fn bearer_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("token");
    std::fs::write(&f, "from-file\n").unwrap();
    let got = first_auth(
        json!({"role": "pod", "bearer_token_file": f.display().to_string()}),
        false,
    )
    .await;
    assert_eq!(got.as_deref(), Some("Bearer from-file"));
}

#[tokio::test]
async fn basic_auth() {
    let got = first_auth(
        json!({"role": "pod", "basic_auth": {"username": "user", "password": "pass"}}),
        false,
    )
    .await;
    assert_eq!(got.as_deref(), Some("Basic dXNlcjpwYXNz"));
}

#[tokio::test]
async fn authorization_credentials() {
    let got = first_auth(
        json!({"role": "pod", "authorization": {"type": "Token", "credentials": "abc"}}),
        false,
    )
    .await;
    assert_eq!(got.as_deref(), Some("Token abc"));
}

/// In-cluster: no api_server; the service-account token file is sent and the own namespace
/// (read from the service-account directory) is the one watched.
#[tokio::test]
async fn in_cluster_service_account() {
    let got = first_auth(json!({"role": "pod"}), true).await;
    assert_eq!(got.as_deref(), Some("Bearer test-token"));
}

/// A token file without a trailing newline is handed to kube's reloading token file.
#[tokio::test]
async fn bearer_token_file_without_newline() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("token");
    std::fs::write(&f, "rotating").unwrap();
    let got = first_auth(
        json!({"role": "pod", "bearer_token_file": f.display().to_string()}),
        false,
    )
    .await;
    assert_eq!(got.as_deref(), Some("Bearer rotating"));
}
