//! The manager: discovery channel, reload with and without cache reuse, dropped targets,
//! target_limit, config errors, the global concurrency bound.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::Recorder;
use scrapeline_exposition::Labels;
use scrapeline_scrape::{GlobalConfig, Health, ManagerOptions, ScrapeConfig, ScrapeManager};
use scrapeline_sd::TargetGroup;
use scrapeline_testkit::farm::{Behavior, Farm};
use tokio::sync::watch;

fn job(yaml: &str) -> ScrapeConfig {
    serde_saphyr::from_str(yaml).unwrap()
}

fn targets(addr: &str, paths: &[&str]) -> TargetGroup {
    TargetGroup {
        source: "g".into(),
        targets: paths
            .iter()
            .map(|p| {
                Labels::from_pairs([
                    ("__address__", addr),
                    ("__metrics_path__", *p),
                    ("path", *p),
                ])
            })
            .collect(),
        labels: Labels::from_pairs([("team", "infra")]),
    }
}

async fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let end = tokio::time::Instant::now() + limit;
    while !f() {
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_discovery_channel() {
    let farm = Farm::start().await;
    farm.set("/a", Behavior::text("a 1\n"));
    farm.set("/b", Behavior::text("b 1\n"));
    let rec = Recorder::default();
    let m = Arc::new(ScrapeManager::new(
        Arc::new(rec.clone()),
        ManagerOptions::default(),
    ));
    m.apply_config(
        vec![job(
            "job_name: d\nscrape_interval: 300ms\nscrape_timeout: 200ms\n",
        )],
        &GlobalConfig::default(),
    )
    .unwrap();
    let addr = farm.addr().to_string();
    let (tx, rx) = watch::channel(Arc::new(HashMap::new()));
    let runner = {
        let m = m.clone();
        tokio::spawn(async move { m.run(rx).await })
    };
    tx.send(Arc::new(HashMap::from([(
        "d".to_string(),
        vec![Arc::new(targets(&addr, &["/a", "/b"]))],
    )])))
    .unwrap();
    wait_until("two active targets up", Duration::from_secs(5), || {
        let s = m.targets();
        s.active.len() == 2 && s.active.iter().all(|t| t.health == Health::Up)
    })
    .await;
    let s = m.targets();
    assert_eq!(
        s.active
            .iter()
            .map(|t| t.labels.to_string())
            .collect::<Vec<_>>(),
        vec![
            format!("{{instance=\"{addr}\", job=\"d\", path=\"/a\", team=\"infra\"}}"),
            format!("{{instance=\"{addr}\", job=\"d\", path=\"/b\", team=\"infra\"}}"),
        ]
    );
    assert_eq!(
        s.active[0].discovered_labels.to_string(),
        format!(
            "{{__address__=\"{addr}\", __always_scrape_classic_histograms__=\"false\", __convert_classic_histograms_to_nhcb__=\"false\", __metrics_path__=\"/a\", __scheme__=\"http\", __scrape_interval__=\"300ms\", __scrape_native_histograms__=\"false\", __scrape_timeout__=\"200ms\", job=\"d\", path=\"/a\", team=\"infra\"}}"
        )
    );
    // The job disappears from discovery: its targets stop.
    tx.send(Arc::new(HashMap::new())).unwrap();
    wait_until("no targets", Duration::from_secs(3), || {
        m.targets().active.is_empty()
    })
    .await;
    m.shutdown().await;
    runner.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_with_new_interval_reuses_cache_without_stale_markers() {
    let farm = Farm::start().await;
    farm.set("/a", Behavior::text("a 1\n"));
    let rec = Recorder::default();
    let m = ScrapeManager::new(Arc::new(rec.clone()), ManagerOptions::default());
    let addr = farm.addr().to_string();
    m.apply_config(
        vec![job(
            "job_name: r\nscrape_interval: 300ms\nscrape_timeout: 200ms\n",
        )],
        &GlobalConfig::default(),
    )
    .unwrap();
    m.sync("r", vec![targets(&addr, &["/a"])]);
    wait_until("two scrapes", Duration::from_secs(3), || {
        farm.hits("/a") >= 2
    })
    .await;
    m.apply_config(
        vec![job(
            "job_name: r\nscrape_interval: 600ms\nscrape_timeout: 200ms\n",
        )],
        &GlobalConfig::default(),
    )
    .unwrap();
    let at_reload = farm.hits("/a");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // New cadence: gaps of 600 ms after the reload.
    let log = farm.access_log("/a");
    let after: Vec<_> = log[at_reload as usize..]
        .windows(2)
        .map(|w| w[1].at - w[0].at)
        .collect();
    assert!(after.len() >= 2, "{after:?}");
    for g in &after {
        assert!(
            *g >= Duration::from_millis(400) && *g <= Duration::from_millis(900),
            "{g:?}"
        );
    }
    // No stale marker was written (cache reused, old loop wrote no end-of-run markers), and
    // the series was not counted as added again.
    assert!(!rec.all().iter().any(|s| s.is_stale()));
    let added: Vec<f64> = rec
        .named("scrape_series_added")
        .into_iter()
        .map(|s| s.v)
        .collect();
    assert_eq!(added[0], 1.0);
    assert!(added[1..].iter().all(|v| *v == 0.0), "{added:?}");
    let s = m.targets();
    assert_eq!(s.active[0].scrape_interval, Duration::from_millis(600));
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_targets_are_kept_bounded_and_counted() {
    let rec = Recorder::default();
    let m = ScrapeManager::new(Arc::new(rec.clone()), ManagerOptions::default());
    m.apply_config(
        vec![job(
            "job_name: k\nkeep_dropped_targets: 2\nrelabel_configs:\n  - source_labels: [path]\n    regex: /keep\n    action: keep\n",
        )],
        &GlobalConfig::default(),
    )
    .unwrap();
    m.sync(
        "k",
        vec![targets("127.0.0.1:1", &["/keep", "/x", "/y", "/z"])],
    );
    let s = m.targets();
    assert_eq!(s.active.len(), 1);
    assert_eq!(s.dropped.len(), 2);
    assert_eq!(s.dropped_counts, vec![("k".to_string(), 3)]);
    assert_eq!(s.dropped[0].discovered_labels.get("path"), Some("/x"));
    assert_eq!(s.dropped[0].scrape_pool, "k");
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_limit_fails_every_target_until_under_limit() {
    let farm = Farm::start().await;
    farm.set("/a", Behavior::text("a 1\n"));
    farm.set("/b", Behavior::text("b 1\n"));
    let rec = Recorder::default();
    let m = ScrapeManager::new(Arc::new(rec.clone()), ManagerOptions::default());
    m.apply_config(
        vec![job(
            "job_name: l\nscrape_interval: 300ms\nscrape_timeout: 200ms\ntarget_limit: 1\n",
        )],
        &GlobalConfig::default(),
    )
    .unwrap();
    let addr = farm.addr().to_string();
    m.sync("l", vec![targets(&addr, &["/a", "/b"])]);
    wait_until("both reported", Duration::from_secs(3), || {
        m.targets().active.iter().all(|t| t.health == Health::Down)
    })
    .await;
    for t in m.targets().active {
        assert_eq!(
            t.last_error,
            "target_limit exceeded (number of targets: 2, limit: 1)"
        );
    }
    // No HTTP request is made while the limit is exceeded.
    assert_eq!(farm.hits("/a") + farm.hits("/b"), 0);
    m.sync("l", vec![targets(&addr, &["/a"])]);
    wait_until("a up", Duration::from_secs(3), || {
        m.targets().active.iter().all(|t| t.health == Health::Up)
    })
    .await;
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_leave_the_running_state_alone() {
    let rec = Recorder::default();
    let m = ScrapeManager::new(Arc::new(rec.clone()), ManagerOptions::default());
    m.apply_config(vec![job("job_name: a\n")], &GlobalConfig::default())
        .unwrap();
    m.sync("a", vec![targets("127.0.0.1:1", &["/x"])]);
    let e = m
        .apply_config(
            vec![job("job_name: a\n"), job("job_name: a\n")],
            &GlobalConfig::default(),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"found multiple scrape configs with job name "a""#
    );
    let e = m
        .apply_config(
            vec![job(
                "job_name: b\nscrape_interval: 5s\nscrape_timeout: 6s\n",
            )],
            &GlobalConfig::default(),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"scrape timeout greater than scrape interval for scrape config with job name "b""#
    );
    let e = m
        .apply_config(
            vec![job(
                "job_name: c\nrelabel_configs:\n  - action: keep\n    regex: '('\n",
            )],
            &GlobalConfig::default(),
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with(r#"scrape config for job "c": relabel_configs: "#),
        "{e}"
    );
    assert_eq!(m.targets().active.len(), 1);
    assert_eq!(m.targets().active[0].scrape_pool, "a");
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_bound_holds_across_targets() {
    let slow = || {
        Behavior::Slow(
            Duration::from_millis(200),
            Box::new(Behavior::text("m 1\n")),
        )
    };
    let cfg = "job_name: c\nscrape_interval: 1s\nscrape_timeout: 900ms\n";
    // Bounded: 4 targets x 200 ms per second on 2 slots. The farm never answers more than 2
    // at once, and the queueing (at most 200 ms) costs no scrape.
    let farm = Farm::start().await;
    let paths: Vec<String> = (0..4).map(|i| format!("/s/{i}")).collect();
    for p in &paths {
        farm.set(p, slow());
    }
    let rec = Recorder::default();
    let m = ScrapeManager::new(
        Arc::new(rec.clone()),
        ManagerOptions {
            max_concurrent_scrapes: 2,
            ..ManagerOptions::default()
        },
    );
    m.apply_config(vec![job(cfg)], &GlobalConfig::default())
        .unwrap();
    let addr = farm.addr().to_string();
    let ps: Vec<&str> = paths.iter().map(String::as_str).collect();
    m.sync("c", vec![targets(&addr, &ps)]);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    m.shutdown().await;
    assert!(farm.max_in_flight() <= 2, "{}", farm.max_in_flight());
    let ups = rec.named("up");
    assert!(ups.len() >= 8, "{}", ups.len());
    assert!(ups.iter().all(|s| s.v == 1.0));

    // Unbounded, 20 such targets per second overlap beyond 2.
    let farm2 = Farm::start().await;
    let paths: Vec<String> = (0..20).map(|i| format!("/s/{i}")).collect();
    for p in &paths {
        farm2.set(p, slow());
    }
    let m = ScrapeManager::new(Arc::new(Recorder::default()), ManagerOptions::default());
    m.apply_config(vec![job(cfg)], &GlobalConfig::default())
        .unwrap();
    let addr = farm2.addr().to_string();
    let ps: Vec<&str> = paths.iter().map(String::as_str).collect();
    m.sync("c", vec![targets(&addr, &ps)]);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    m.shutdown().await;
    assert!(farm2.max_in_flight() > 2, "{}", farm2.max_in_flight());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_rate_is_bounded() {
    let farm = Farm::start().await;
    let paths: Vec<String> = (0..20).map(|i| format!("/r/{i}")).collect();
    for p in &paths {
        farm.set(p, Behavior::text("m 1\n"));
    }
    let m = ScrapeManager::new(
        Arc::new(Recorder::default()),
        ManagerOptions {
            max_scrapes_per_second: std::num::NonZeroU32::new(5),
            ..ManagerOptions::default()
        },
    );
    m.apply_config(
        vec![job(
            "job_name: r\nscrape_interval: 1s\nscrape_timeout: 900ms\n",
        )],
        &GlobalConfig::default(),
    )
    .unwrap();
    let addr = farm.addr().to_string();
    let ps: Vec<&str> = paths.iter().map(String::as_str).collect();
    m.sync("r", vec![targets(&addr, &ps)]);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    m.shutdown().await;
    // 20 targets want 40 requests in 2 s; 5/s with a burst of 5 allows at most 15.
    let total: u64 = paths.iter().map(|p| farm.hits(p)).sum();
    assert!((5..=15).contains(&total), "{total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_when_disabled() {
    let farm = Farm::start().await;
    farm.set("/ok", Behavior::text("m 1\n"));
    farm.set("/redirect", Behavior::Redirect("/ok".into()));
    let m = ScrapeManager::new(Arc::new(Recorder::default()), ManagerOptions::default());
    m.apply_config(
        vec![job(
            "job_name: nr\nscrape_interval: 1s\nscrape_timeout: 900ms\nfollow_redirects: false\n",
        )],
        &GlobalConfig::default(),
    )
    .unwrap();
    let addr = farm.addr().to_string();
    m.sync("nr", vec![targets(&addr, &["/redirect"])]);
    wait_until("scraped", Duration::from_secs(3), || {
        m.targets()
            .active
            .iter()
            .all(|t| t.health != Health::Unknown)
    })
    .await;
    let t = &m.targets().active[0];
    assert_eq!(t.health, Health::Down);
    assert_eq!(t.last_error, "server returned HTTP status 302 Found");
    assert_eq!(farm.hits("/ok"), 0);
    m.shutdown().await;
}

/// Issue 18: a target that fails to be created (an Ingress rule without a host gives an empty
/// `__address__`, an address with a `/`) is kept with its discovered labels and Prometheus'
/// error text, apart from the relabel-dropped ones and their counts; a good target of the same
/// pool stays active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_targets_keep_discovered_labels_and_error() {
    let rec = Recorder::default();
    let m = ScrapeManager::new(Arc::new(rec.clone()), ManagerOptions::default());
    m.apply_config(
        vec![job("job_name: ing\nscrape_interval: 30s\n")],
        &GlobalConfig::default(),
    )
    .unwrap();
    let group = TargetGroup {
        source: "ingress/default/web".into(),
        targets: vec![
            Labels::from_pairs([("__address__", ""), ("__meta_kubernetes_ingress_path", "/")]),
            Labels::from_pairs([("__address__", "127.0.0.1:1")]),
            Labels::from_pairs([("__address__", "10.0.0.1:80/x")]),
        ],
        labels: Labels::from_pairs([("__meta_kubernetes_namespace", "default")]),
    };
    m.sync("ing", vec![group]);
    let s = m.targets();
    // An empty value is no label (Prometheus' `labels.Builder`): the empty address is absent.
    let discovered = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("__always_scrape_classic_histograms__", "false"),
            ("__convert_classic_histograms_to_nhcb__", "false"),
            ("__meta_kubernetes_namespace", "default"),
            ("__metrics_path__", "/metrics"),
            ("__scheme__", "http"),
            ("__scrape_interval__", "30s"),
            ("__scrape_native_histograms__", "false"),
            ("__scrape_timeout__", "10s"),
            ("job", "ing"),
        ];
        pairs.extend_from_slice(extra);
        Labels::from_pairs(pairs)
    };
    assert_eq!(s.active.len(), 1);
    assert_eq!(s.active[0].scrape_url, "http://127.0.0.1:1/metrics");
    assert_eq!(s.dropped, vec![]);
    assert_eq!(s.dropped_counts, vec![("ing".to_string(), 0)]);
    assert_eq!(s.failed.len(), 2);
    assert_eq!(s.failed[0].scrape_pool, "ing");
    assert_eq!(
        s.failed[0].discovered_labels,
        discovered(&[("__meta_kubernetes_ingress_path", "/")])
    );
    assert_eq!(s.failed[0].error.to_string(), "no address");
    assert_eq!(
        s.failed[1].discovered_labels,
        discovered(&[("__address__", "10.0.0.1:80/x")])
    );
    assert_eq!(
        s.failed[1].error.to_string(),
        r#""10.0.0.1:80/x" is not a valid hostname"#
    );
    let errors: Vec<String> = m
        .sync_failures("ing")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        ["no address", r#""10.0.0.1:80/x" is not a valid hostname"#]
    );
    // A later sync where the targets are fixed forgets them.
    m.sync("ing", vec![targets("127.0.0.1:1", &["/metrics"])]);
    assert_eq!(m.targets().failed, vec![]);
    m.shutdown().await;
}

/// Failed targets are bounded like dropped ones (`keep_dropped_targets`) but all count in
/// `prometheus_target_sync_failed_total`; a static target whose relabeling empties
/// `__address__` is one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_targets_are_bounded_by_keep_dropped_targets() {
    let rec = Recorder::default();
    let m = ScrapeManager::new(Arc::new(rec.clone()), ManagerOptions::default());
    m.apply_config(
        vec![job(
            "job_name: b\nkeep_dropped_targets: 2\nrelabel_configs:\n  - source_labels: [path]\n    regex: /bad.*\n    target_label: __address__\n    replacement: ''\n",
        )],
        &GlobalConfig::default(),
    )
    .unwrap();
    m.sync(
        "b",
        vec![targets("127.0.0.1:1", &["/ok", "/bad1", "/bad2", "/bad3"])],
    );
    let s = m.targets();
    assert_eq!(s.active.len(), 1);
    assert_eq!(s.dropped_counts, vec![("b".to_string(), 0)]);
    let kept: Vec<(Option<&str>, Option<&str>, String)> = s
        .failed
        .iter()
        .map(|f| {
            (
                f.discovered_labels.get("__address__"),
                f.discovered_labels.get("path"),
                f.error.to_string(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            (Some("127.0.0.1:1"), Some("/bad1"), "no address".to_string()),
            (Some("127.0.0.1:1"), Some("/bad2"), "no address".to_string()),
        ]
    );
    assert_eq!(m.target_metrics().jobs["b"].sync_failed_total, 3);
    m.shutdown().await;
}
