//! The discovery manager: per-job snapshots, one provider (and one watch) per equal SD config
//! across jobs, config reloads that keep unchanged providers, and `discover_once`.

mod kubernetes_util;

use std::sync::Arc;
use std::time::Duration;

use kubernetes_util::{pod, pod_group, test_env, want};
use scrapeline_sd::TargetGroup;
use scrapeline_sd::config::{KubernetesSdConfig, StaticConfig};
use scrapeline_sd::discovery::{DiscoveryError, Manager, ManagerOptions, SdConfigs, discover_once};
use scrapeline_testkit::apiserver::ApiServer;
use serde_json::json;

fn k8s(server: &ApiServer, role: &str) -> KubernetesSdConfig {
    serde_json::from_value(json!({"role": role, "api_server": server.url()})).unwrap()
}

fn options(server: &ApiServer, dir: &std::path::Path) -> ManagerOptions {
    ManagerOptions {
        kube: test_env(server, dir),
        ..ManagerOptions::default()
    }
}

fn groups_of(v: &[Arc<TargetGroup>]) -> Vec<TargetGroup> {
    v.iter().map(|g| (**g).clone()).collect()
}

fn expected_pods(names: &[(&str, &str)]) -> Vec<TargetGroup> {
    let w = want(
        names
            .iter()
            .map(|(n, ip)| pod_group("ns", n, ip, "n1", &[]))
            .collect(),
    );
    w.into_values().collect()
}

#[tokio::test]
async fn jobs_with_equal_configs_share_one_provider_and_watch() {
    let server = ApiServer::start().await.unwrap();
    server
        .apply(pod("ns", "a", "10.1.0.1", "n1", json!({})))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = Manager::new(options(&server, dir.path()));
    let cfg = SdConfigs {
        kubernetes_sd_configs: vec![k8s(&server, "pod")],
        ..Default::default()
    };
    m.set_config(vec![
        ("job1".into(), cfg.clone()),
        ("job2".into(), cfg.clone()),
    ]);
    tokio::time::timeout(Duration::from_secs(10), m.wait_synced())
        .await
        .unwrap();
    let snap = m.snapshot();
    assert_eq!(
        groups_of(&snap["job1"]),
        expected_pods(&[("a", "10.1.0.1")])
    );
    assert_eq!(
        groups_of(&snap["job2"]),
        expected_pods(&[("a", "10.1.0.1")])
    );
    assert!(server.wait_watches("pods", 1, Duration::from_secs(5)).await);

    // A change reaches both jobs' snapshots; a delete removes the group.
    let mut rx = m.subscribe();
    server
        .apply(pod("ns", "b", "10.1.0.2", "n1", json!({})))
        .unwrap();
    server.delete(&pod("ns", "a", "", "", json!({}))).unwrap();
    let want_b = expected_pods(&[("b", "10.1.0.2")]);
    tokio::time::timeout(
        Duration::from_secs(5),
        rx.wait_for(|s| groups_of(&s["job1"]) == want_b && groups_of(&s["job2"]) == want_b),
    )
    .await
    .unwrap()
    .unwrap();

    // Reload: job2 dropped, job3 added with the same config: no new list or watch.
    let lists_before = server.stats().lists.get("pods").copied();
    m.set_config(vec![("job1".into(), cfg.clone()), ("job3".into(), cfg)]);
    let snap = m.snapshot();
    assert_eq!(snap.len(), 2);
    assert_eq!(groups_of(&snap["job3"]), want_b);
    assert!(!snap.contains_key("job2"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = server.stats();
    assert_eq!(stats.lists.get("pods").copied(), lists_before);
    assert_eq!(stats.watches_started.get("pods"), Some(&1));
    assert_eq!(m.kube_usage().watches, 1);
    assert_eq!(m.kube_usage().objects, 1);
}

#[tokio::test]
async fn discover_once_mixes_static_and_kubernetes() {
    let server = ApiServer::start().await.unwrap();
    server
        .apply(pod("ns", "a", "10.1.0.1", "n1", json!({})))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let jobs = vec![
        (
            "static".to_string(),
            SdConfigs {
                static_configs: vec![StaticConfig {
                    targets: vec!["localhost:9090".into()],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ),
        (
            "pods".to_string(),
            SdConfigs {
                kubernetes_sd_configs: vec![k8s(&server, "pod")],
                ..Default::default()
            },
        ),
    ];
    let snap = discover_once(jobs, options(&server, dir.path()), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(snap["static"].len(), 1);
    assert_eq!(snap["static"][0].source, "0");
    assert_eq!(
        snap["static"][0].targets,
        vec![scrapeline_exposition::Labels::from_pairs([(
            "__address__",
            "localhost:9090"
        )])]
    );
    assert_eq!(
        groups_of(&snap["pods"]),
        expected_pods(&[("a", "10.1.0.1")])
    );
}

#[tokio::test]
async fn discover_once_reports_a_provider_that_cannot_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg: KubernetesSdConfig = serde_json::from_value(
        json!({"role": "pod", "kubeconfig_file": dir.path().join("missing.yaml").display().to_string()}),
    )
    .unwrap();
    let jobs = vec![(
        "broken".to_string(),
        SdConfigs {
            kubernetes_sd_configs: vec![cfg],
            ..Default::default()
        },
    )];
    let err = discover_once(jobs, ManagerOptions::default(), Duration::from_secs(10))
        .await
        .unwrap_err();
    match err {
        DiscoveryError::Provider { job, message } => {
            assert_eq!(job, "broken");
            assert!(message.starts_with("kubeconfig: "), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn discover_once_times_out_when_the_api_server_never_answers() {
    let server = ApiServer::start().await.unwrap();
    server.inject(scrapeline_testkit::apiserver::Fault::Slow {
        path_contains: String::new(),
        delay: Duration::from_secs(30),
        count: 100,
    });
    let dir = tempfile::tempdir().unwrap();
    let jobs = vec![(
        "slow".to_string(),
        SdConfigs {
            kubernetes_sd_configs: vec![k8s(&server, "node")],
            ..Default::default()
        },
    )];
    let err = discover_once(
        jobs,
        options(&server, dir.path()),
        Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DiscoveryError::Timeout(d) if d == Duration::from_millis(300)));
}
