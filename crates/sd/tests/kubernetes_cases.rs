//! Prometheus' 80 Kubernetes SD test cases (testdata/prometheus/kubernetes-cases.json), each replayed
//! through the API server double: initial objects, start discovery, wait for the first
//! complete set, apply the watch events, and compare the complete set of groups exactly.

mod kubernetes_util;

use kubernetes_util::{Harness, expected_groups};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/prometheus/kubernetes-cases.json"
    );
    let text = std::fs::read_to_string(path).expect("cases.json readable");
    let doc: Value = serde_json::from_str(&text).expect("cases.json parses");
    doc["cases"].as_array().expect("cases array").clone()
}

async fn run_case(case: &Value) -> Result<(), String> {
    let own = case["own_namespace_value"].as_str().unwrap_or("own-ns");
    let initial = case["initial_objects"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut h = Harness::start(&initial, &case["config"], own).await;
    h.wait_initial().await;
    for ev in case["events"].as_array().into_iter().flatten() {
        h.apply_event(ev["type"].as_str().unwrap_or(""), &ev["object"]);
    }
    h.converge(&expected_groups(&case["expected"])).await
}

async fn run_role(role: &str) -> usize {
    let mut failures = Vec::new();
    let mut n = 0;
    for case in cases().iter().filter(|c| c["role"] == role) {
        n += 1;
        let id = case["id"].as_str().unwrap_or("?").to_string();
        if let Err(d) = run_case(case).await {
            failures.push(format!("{id}:\n{d}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} {role} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    n
}

#[tokio::test]
async fn all_80_cases_are_present() {
    assert_eq!(cases().len(), 80);
}

#[tokio::test]
async fn node_cases() {
    assert_eq!(run_role("node").await, 9);
}

#[tokio::test]
async fn pod_cases() {
    assert_eq!(run_role("pod").await, 19);
}

#[tokio::test]
async fn service_cases() {
    assert_eq!(run_role("service").await, 8);
}

#[tokio::test]
async fn endpoints_cases() {
    assert_eq!(run_role("endpoints").await, 17);
}

#[tokio::test]
async fn endpointslice_cases() {
    assert_eq!(run_role("endpointslice").await, 19);
}

#[tokio::test]
async fn ingress_cases() {
    assert_eq!(run_role("ingress").await, 8);
}
