//! The scheduler under tokio's paused clock: exact offsets, ticks without drift, timeouts,
//! target_limit, end-of-run staleness.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::Recorder;
use scrapeline_common::duration::PromDuration;
use scrapeline_exposition::Labels;
use scrapeline_scrape::{GlobalConfig, Health, ManagerOptions, ScrapeConfig, ScrapeManager};
use scrapeline_sd::TargetGroup;
use scrapeline_testkit::farm::{Behavior, Farm};

const WALL0_S: u64 = 1_700_000_000;

fn options() -> ManagerOptions {
    ManagerOptions {
        offset_seed: 0,
        wall_clock_start: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(WALL0_S)),
        ..ManagerOptions::default()
    }
}

fn job(name: &str, interval: u64, timeout: u64) -> ScrapeConfig {
    let mut c = ScrapeConfig::new(name);
    c.scrape_interval = Some(PromDuration::from_secs(interval));
    c.scrape_timeout = Some(PromDuration::from_secs(timeout));
    c
}

fn group(addrs: &[&str]) -> TargetGroup {
    TargetGroup {
        source: "test".into(),
        targets: addrs
            .iter()
            .map(|a| Labels::from_pairs([("__address__", *a)]))
            .collect(),
        labels: Labels::empty(),
    }
}

#[tokio::test(start_paused = true)]
async fn scrapes_land_on_hash_phase_without_drift() {
    let rec = Recorder::default();
    let m = ScrapeManager::new(Arc::new(rec.clone()), options());
    let mut cfg = job("j", 10, 2);
    // Two targets over a limit of 1: every loop gets the forced error, so no HTTP request is
    // made and each tick writes exactly the report series.
    cfg.target_limit = Some(1);
    m.apply_config(vec![cfg], &GlobalConfig::default()).unwrap();
    m.sync("j", vec![group(&["a.invalid:1", "b.invalid:2"])]);
    tokio::time::sleep(Duration::from_secs(305)).await;

    let snap = m.targets();
    assert_eq!(snap.active.len(), 2);
    let interval_ns: u128 = 10_000_000_000;
    for t in &snap.active {
        assert_eq!(t.health, Health::Down);
        assert_eq!(
            t.last_error,
            "target_limit exceeded (number of targets: 2, limit: 1)"
        );
        let phase = (t.hash as u128) % interval_ns;
        let wall0 = u128::from(WALL0_S) * 1_000_000_000;
        // First scrape instant: the first t >= wall0 with t mod interval == phase (Prometheus
        // waits a full interval instead of 0 when the phase is exactly now).
        let mut first = wall0 - wall0 % interval_ns + phase;
        if first <= wall0 {
            first += interval_ns;
        }
        let end = wall0 + 305 * 1_000_000_000;
        let expect: Vec<(i64, f64)> = (0..40)
            .map(|k| first + k * interval_ns)
            .filter(|t| *t <= end)
            .map(|t| ((t / 1_000_000) as i64, 0.0))
            .collect();
        let up = rec.series(&format!(
            "{{__name__=\"up\", instance=\"{}\", job=\"j\"}}",
            t.labels.get("instance").unwrap()
        ));
        assert_eq!(up, expect, "target {}", t.scrape_url);
        assert!(up.len() >= 30);
        // Report series of a forced failure: exact values.
        let scraped = rec.series(&format!(
            "{{__name__=\"scrape_samples_scraped\", instance=\"{}\", job=\"j\"}}",
            t.labels.get("instance").unwrap()
        ));
        assert_eq!(scraped[0], (expect[0].0, 0.0));
        let dur = rec.series(&format!(
            "{{__name__=\"scrape_duration_seconds\", instance=\"{}\", job=\"j\"}}",
            t.labels.get("instance").unwrap()
        ));
        assert_eq!(dur[0], (expect[0].0, 0.0));
    }
    m.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn slow_target_times_out_at_scrape_timeout() {
    let farm = Farm::start().await;
    farm.set(
        "/slow",
        Behavior::Slow(Duration::from_secs(5), Box::new(Behavior::text("m 1\n"))),
    );
    let rec = Recorder::default();
    let m = ScrapeManager::new(Arc::new(rec.clone()), options());
    let mut cfg = job("slow", 10, 2);
    cfg.metrics_path = "/slow".into();
    m.apply_config(vec![cfg], &GlobalConfig::default()).unwrap();
    let addr = farm.addr().to_string();
    m.sync("slow", vec![group(&[&addr])]);
    tokio::time::sleep(Duration::from_secs(15)).await;
    let snap = m.targets();
    let t = &snap.active[0];
    assert_eq!(t.health, Health::Down);
    assert_eq!(
        t.last_error,
        format!("Get \"http://{addr}/slow\": context deadline exceeded")
    );
    let inst = format!("instance=\"{addr}\", job=\"slow\"");
    let up = rec.series(&format!("{{__name__=\"up\", {inst}}}"));
    let dur = rec.series(&format!("{{__name__=\"scrape_duration_seconds\", {inst}}}"));
    assert!((1..=2).contains(&up.len()), "{up:?}");
    for (i, (ts, v)) in up.iter().enumerate() {
        assert_eq!(*v, 0.0);
        assert_eq!(dur[i], (*ts, 2.0));
    }
    assert_eq!(t.last_scrape_timestamp_ms, up.last().unwrap().0);
    m.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn removed_target_gets_end_of_run_stale_markers() {
    let rec = Recorder::default();
    let m = ScrapeManager::new(Arc::new(rec.clone()), options());
    let mut cfg = job("j", 10, 2);
    cfg.target_limit = Some(1);
    m.apply_config(vec![cfg], &GlobalConfig::default()).unwrap();
    m.sync("j", vec![group(&["a.invalid:1", "b.invalid:2"])]);
    tokio::time::sleep(Duration::from_secs(25)).await;
    let before = m.targets();
    let b = before
        .active
        .iter()
        .find(|t| t.labels.get("instance") == Some("b.invalid:2"))
        .unwrap()
        .clone();
    let b_up = "{__name__=\"up\", instance=\"b.invalid:2\", job=\"j\"}".to_string();
    let last = *rec.series(&b_up).last().unwrap();
    m.sync("j", vec![group(&["a.invalid:1"])]);
    // Stale time = the next tick after removal; markers written 2 ticks + interval/10 later.
    tokio::time::sleep(Duration::from_secs(40)).await;
    let after = rec.series(&b_up);
    let stale: Vec<_> = after
        .iter()
        .filter(|(_, v)| scrapeline_exposition::value::is_stale_nan(*v))
        .collect();
    assert_eq!(stale.len(), 1, "{after:?}");
    assert_eq!(
        stale[0].0,
        last.0 + 10_000,
        "stale at the next tick of {}",
        b.scrape_url
    );
    // Only one remaining target now: under the limit, no forced error any more.
    let snap = m.targets();
    assert_eq!(snap.active.len(), 1);
    m.shutdown().await;
}
