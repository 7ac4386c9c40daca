//! The manager's `prometheus_target_*` metrics: pool creations and reloads, sync counts and
//! failures per job, and the actual scrape intervals per configured interval.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Recorder;
use scrapeline_exposition::Labels;
use scrapeline_scrape::{GlobalConfig, ManagerOptions, ScrapeConfig, ScrapeManager};
use scrapeline_sd::TargetGroup;
use scrapeline_testkit::farm::{Behavior, Farm};

fn job(yaml: &str) -> ScrapeConfig {
    serde_saphyr::from_str(yaml).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_syncs_failures_and_intervals_are_counted() {
    let farm = Farm::start().await;
    farm.set(
        "/a",
        Behavior::text("# HELP a An a.\n# TYPE a gauge\na 1\n"),
    );
    let m = ScrapeManager::new(Arc::new(Recorder::default()), ManagerOptions::default());
    let cfg = "job_name: j\nscrape_interval: 200ms\nscrape_timeout: 100ms\n";
    m.apply_config(vec![job(cfg)], &GlobalConfig::default())
        .unwrap();
    let addr = farm.addr().to_string();
    let group = TargetGroup {
        source: "g".into(),
        targets: vec![
            Labels::from_pairs([("__address__", addr.as_str()), ("__metrics_path__", "/a")]),
            // Not a valid host: the target cannot be created (a sync failure).
            Labels::from_pairs([("__address__", "bad/host")]),
        ],
        labels: Labels::empty(),
    };
    m.sync("j", [group]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let s = m.target_metrics();
    assert_eq!((s.pools_total, s.pools_failed_total), (1, 0));
    assert_eq!((s.reloads_total, s.reloads_failed_total), (0, 0));
    let j = &s.jobs["j"];
    // One sync when the pool was created (no groups yet), one with the groups.
    assert_eq!(j.syncs_total, 2);
    assert_eq!(j.sync_failed_total, 1);
    assert_eq!(j.sync_length.count, 2);
    let iv = &s.intervals["200ms"];
    assert!(iv.count >= 3, "{iv:?}");
    let median = iv.quantiles[2].1;
    assert!((0.15..0.25).contains(&median), "{iv:?}");
    // One family with its help text: "a" and "An a.".
    assert_eq!(m.metadata_cache_usage()["j"], (1, 6));

    // A changed job is a pool reload, not a creation.
    let changed = "job_name: j\nscrape_interval: 300ms\nscrape_timeout: 100ms\n";
    m.apply_config(vec![job(changed)], &GlobalConfig::default())
        .unwrap();
    let s = m.target_metrics();
    assert_eq!((s.pools_total, s.reloads_total), (1, 1));
    assert_eq!(s.jobs["j"].syncs_total, 3);
    assert_eq!(s.jobs["j"].sync_failed_total, 2);
    m.shutdown().await;
}
