//! Fault tests through the API server double: after each fault, discovery converges to the
//! true state with nothing missing or stale, and a relist never publishes a partial view.

mod kubernetes_util;

use std::time::Duration;

use kubernetes_util::{Harness, gone, pod, pod_group, want};
use scrapeline_testkit::apiserver::{ApiServer, Fault};
use serde_json::json;

fn five_pods() -> Vec<serde_json::Value> {
    (1..=5)
        .map(|i| {
            pod(
                "ns",
                &format!("p{i}"),
                &format!("10.1.0.{i}"),
                "n1",
                json!({}),
            )
        })
        .collect()
}

fn five_groups() -> Vec<serde_json::Value> {
    (1..=5)
        .map(|i| pod_group("ns", &format!("p{i}"), &format!("10.1.0.{i}"), "n1", &[]))
        .collect()
}

async fn server_with(objects: &[serde_json::Value]) -> ApiServer {
    let s = ApiServer::start().await.unwrap();
    for o in objects {
        s.apply(o.clone()).unwrap();
    }
    s
}

/// A dropped watch resumes from the last resourceVersion: changes made while disconnected
/// arrive, and nothing is relisted.
#[tokio::test]
async fn dropped_watch_resumes_without_relist() {
    let server = server_with(&five_pods()).await;
    let mut h = Harness::start_on(server, &json!({"role": "pod"}), "x").await;
    h.wait_initial().await;
    assert!(
        h.server
            .wait_watches("pods", 1, Duration::from_secs(5))
            .await
    );
    h.server.drop_watches();
    h.server
        .apply(pod("ns", "p6", "10.1.0.6", "n1", json!({})))
        .unwrap();
    h.server
        .delete(&pod("ns", "p1", "", "", json!({})))
        .unwrap();
    let mut expected = five_groups();
    expected[0] = gone("pod/ns/p1");
    expected.push(pod_group("ns", "p6", "10.1.0.6", "n1", &[]));
    h.converge(&want(expected)).await.unwrap();
    assert!(
        h.server
            .wait_watches("pods", 2, Duration::from_secs(5))
            .await
    );
    assert_eq!(
        h.server.stats().lists.get("pods"),
        Some(&1),
        "resumed, not relisted"
    );
}

/// After `410 Gone` (history compacted while disconnected) the watcher relists; the relist is
/// diffed against the store, so deletes made during the gap arrive as empty groups and
/// unchanged pods are not re-sent.
#[tokio::test]
async fn gone_after_compaction_relists_and_converges() {
    let server = server_with(&five_pods()).await;
    let mut h = Harness::start_on(server, &json!({"role": "pod"}), "x").await;
    h.wait_initial().await;
    assert!(
        h.server
            .wait_watches("pods", 1, Duration::from_secs(5))
            .await
    );
    let batches_before = h.history().len();
    h.server.drop_watches();
    h.server
        .delete(&pod("ns", "p2", "", "", json!({})))
        .unwrap();
    h.server
        .apply(pod("ns", "p3", "10.1.0.33", "n1", json!({})))
        .unwrap();
    h.server.compact();
    let mut expected = five_groups();
    expected[1] = gone("pod/ns/p2");
    expected[2] = pod_group("ns", "p3", "10.1.0.33", "n1", &[]);
    h.converge(&want(expected)).await.unwrap();
    assert!(
        h.server.stats().lists.get("pods").copied().unwrap_or(0) >= 2,
        "relisted"
    );
    // Only the two changed pods were re-sent after the relist.
    let sent: Vec<String> = h.history()[batches_before..]
        .iter()
        .flatten()
        .map(|g| g.source.clone())
        .collect();
    let mut sent_sorted = sent.clone();
    sent_sorted.sort();
    sent_sorted.dedup();
    assert_eq!(
        sent_sorted,
        vec!["pod/ns/p2".to_string(), "pod/ns/p3".to_string()]
    );
}

/// A watch refused with 410 right away also relists and converges.
#[tokio::test]
async fn gone_on_watch_relists() {
    let server = server_with(&five_pods()).await;
    server.inject(Fault::GoneOnWatch { count: 2 });
    let mut h = Harness::start_on(server, &json!({"role": "pod"}), "x").await;
    h.wait_initial().await;
    h.server
        .apply(pod("ns", "p6", "10.1.0.6", "n1", json!({})))
        .unwrap();
    let mut expected = five_groups();
    expected.push(pod_group("ns", "p6", "10.1.0.6", "n1", &[]));
    h.converge(&want(expected)).await.unwrap();
    assert!(h.server.stats().lists.get("pods").copied().unwrap_or(0) >= 2);
}

/// 500s on LIST back off and retry; the first set is complete when it finally comes.
#[tokio::test]
async fn server_errors_are_retried() {
    let server = server_with(&five_pods()).await;
    server.inject(Fault::ServerError {
        path_contains: "/pods".into(),
        count: 3,
    });
    let mut h = Harness::start_on(server, &json!({"role": "pod"}), "x").await;
    h.wait_initial().await;
    assert_eq!(h.history()[0].len(), 5, "first batch is the complete set");
    h.converge(&want(five_groups())).await.unwrap();
    let failed = h
        .server
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/pods")
        .count();
    assert!(failed >= 4, "3 failures then success, saw {failed}");
}

/// Slow responses delay but do not break discovery.
#[tokio::test]
async fn slow_responses_are_tolerated() {
    let server = server_with(&five_pods()).await;
    server.inject(Fault::Slow {
        path_contains: "/pods".into(),
        delay: Duration::from_millis(300),
        count: 2,
    });
    let mut h = Harness::start_on(server, &json!({"role": "pod"}), "x").await;
    h.wait_initial().await;
    h.server
        .apply(pod("ns", "p6", "10.1.0.6", "n1", json!({})))
        .unwrap();
    let mut expected = five_groups();
    expected.push(pod_group("ns", "p6", "10.1.0.6", "n1", &[]));
    h.converge(&want(expected)).await.unwrap();
}

/// Paged lists (limit/continue) are buffered until complete: the first batch holds every pod
/// even when a page fails mid-list, and a relist never publishes an empty or partial view.
#[tokio::test]
async fn paged_list_is_never_published_half_done() {
    let server = server_with(&five_pods()).await;
    let mut h =
        Harness::start_tuned(server, &json!({"role": "pod"}), "x", |w| w.page_size = 2).await;
    h.wait_initial().await;
    assert_eq!(h.history()[0].len(), 5);
    assert!(
        h.server
            .wait_watches("pods", 1, Duration::from_secs(5))
            .await
    );
    // Relist with pages again, with a slow page in the middle.
    h.server.inject(Fault::Slow {
        path_contains: "/pods".into(),
        delay: Duration::from_millis(200),
        count: 2,
    });
    h.server.drop_watches();
    h.server.compact();
    h.server
        .apply(pod("ns", "p6", "10.1.0.6", "n1", json!({})))
        .unwrap();
    let mut expected = five_groups();
    expected.push(pod_group("ns", "p6", "10.1.0.6", "n1", &[]));
    h.converge(&want(expected)).await.unwrap();
    for batch in h.history() {
        for g in batch {
            assert!(
                !g.targets.is_empty(),
                "no pod was ever removed: {}",
                g.source
            );
        }
    }
    let continued = h
        .server
        .requests()
        .iter()
        .filter(|r| r.query.contains_key("continue"))
        .count();
    assert!(continued >= 2, "lists were paged");
}
