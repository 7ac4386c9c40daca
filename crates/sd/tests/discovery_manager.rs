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

/// Test options: the update throttle short, so a change shows within the tests' waits (the
/// throttle itself has its own test below).
fn options(server: &ApiServer, dir: &std::path::Path) -> ManagerOptions {
    ManagerOptions {
        kube: test_env(server, dir),
        update_interval: Duration::from_millis(100),
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

/// A discoverer that forwards whatever the test sends it.
struct Scripted(std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<Vec<TargetGroup>>>>);

impl scrapeline_sd::discovery::Discoverer for Scripted {
    fn run(
        self: Box<Self>,
        out: tokio::sync::mpsc::Sender<Vec<TargetGroup>>,
    ) -> futures::future::BoxFuture<'static, Result<(), scrapeline_sd::discovery::DiscovererError>>
    {
        let rx = self.0.lock().unwrap().take();
        Box::pin(async move {
            let Some(mut rx) = rx else {
                return Err("started twice".into());
            };
            while let Some(groups) = rx.recv().await {
                if out.send(groups).await.is_err() {
                    break;
                }
            }
            out.closed().await;
            Ok(())
        })
    }
}

fn group(source: &str, addrs: &[&str]) -> TargetGroup {
    TargetGroup {
        source: source.into(),
        targets: addrs
            .iter()
            .map(|a| scrapeline_exposition::Labels::from_pairs([("__address__", *a)]))
            .collect(),
        labels: scrapeline_exposition::Labels::empty(),
    }
}

fn addresses(groups: &[Arc<TargetGroup>]) -> Vec<String> {
    groups
        .iter()
        .flat_map(|g| g.targets.iter())
        .map(|t| t.get("__address__").unwrap_or_default().to_owned())
        .collect()
}

/// A custom discoverer, configured identically in two jobs, runs once and feeds both; one
/// configured differently runs on its own.
#[tokio::test]
async fn custom_discoverers_plug_in_and_equal_ones_are_shared() {
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let custom = |key: &str, addr: &'static str| {
        let started = started.clone();
        scrapeline_sd::discovery::CustomSd::new("inventory", key, move || {
            started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            tx.try_send(vec![group("inventory/0", &[addr])]).unwrap();
            Box::new(Scripted(std::sync::Mutex::new(Some(rx))))
        })
    };
    let job = |c| SdConfigs {
        custom: vec![c],
        ..SdConfigs::default()
    };
    let snapshot = discover_once(
        vec![
            ("a".into(), job(custom("hosts.json", "10.0.0.1:80"))),
            ("b".into(), job(custom("hosts.json", "10.0.0.1:80"))),
            ("c".into(), job(custom("other.json", "10.0.0.2:80"))),
        ],
        ManagerOptions::default(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(addresses(&snapshot["a"]), ["10.0.0.1:80"]);
    assert_eq!(addresses(&snapshot["b"]), ["10.0.0.1:80"]);
    assert_eq!(addresses(&snapshot["c"]), ["10.0.0.2:80"]);
    assert_eq!(started.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// The first complete set is published at once; a burst of changes after it becomes one
/// snapshot, published no sooner than `update_interval` after the previous one.
#[tokio::test]
async fn updates_are_throttled_to_one_snapshot_per_interval() {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let rx = Arc::new(std::sync::Mutex::new(Some(rx)));
    let sd = scrapeline_sd::discovery::CustomSd::new("scripted", "1", move || {
        Box::new(Scripted(std::sync::Mutex::new(rx.lock().unwrap().take())))
    });
    let interval = Duration::from_millis(600);
    let m = Manager::new(ManagerOptions {
        update_interval: interval,
        ..ManagerOptions::default()
    });
    m.set_config(vec![(
        "j".into(),
        SdConfigs {
            custom: vec![sd],
            ..SdConfigs::default()
        },
    )]);
    let mut snapshots = m.subscribe();
    snapshots.borrow_and_update();
    tx.send(vec![group("s/0", &["a:1"])]).await.unwrap();
    tokio::time::timeout(Duration::from_millis(300), m.wait_synced())
        .await
        .expect("the first complete set is not throttled");
    assert_eq!(addresses(&m.snapshot()["j"]), ["a:1"]);
    let first = tokio::time::Instant::now();
    snapshots.borrow_and_update();
    for addr in ["b:1", "c:1", "d:1", "e:1"] {
        tx.send(vec![group("s/0", &[addr])]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    snapshots.changed().await.unwrap();
    let waited = first.elapsed();
    assert!(
        waited >= interval - Duration::from_millis(50),
        "published after {waited:?}, interval {interval:?}"
    );
    assert_eq!(addresses(&snapshots.borrow_and_update()["j"]), ["e:1"]);
    // Nothing else is pending: no further snapshot within another interval.
    assert!(
        tokio::time::timeout(interval + Duration::from_millis(200), snapshots.changed())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn update_counters_and_kubernetes_events_are_counted() {
    let pod_adds = || {
        scrapeline_sd::metrics::kubernetes_events()
            .into_iter()
            .find(|(r, e, _)| *r == "pod" && *e == "add")
            .map(|x| x.2)
            .unwrap()
    };
    let adds_before = pod_adds();
    let server = ApiServer::start().await.unwrap();
    server
        .apply(pod("ns", "a", "10.1.0.1", "n1", json!({})))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = Manager::new(options(&server, dir.path()));
    assert_eq!(m.counters().received_updates_total, 0);
    m.set_config(vec![(
        "job".into(),
        SdConfigs {
            kubernetes_sd_configs: vec![k8s(&server, "pod")],
            ..Default::default()
        },
    )]);
    tokio::time::timeout(Duration::from_secs(10), m.wait_synced())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = m.counters();
    assert!(c.received_updates_total >= 1, "{c:?}");
    assert!(c.updates_total >= 1, "{c:?}");
    assert!(pod_adds() > adds_before);
}
