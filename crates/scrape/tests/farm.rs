//! End-to-end against the testkit target farm on loopback (real clock): exact samples,
//! labels, staleness markers, report series, failures, request headers, sync and reload.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Recorder, Sample, fmt_v, lines};
use scrapeline_exposition::Labels;
use scrapeline_scrape::{
    ActiveTarget, GlobalConfig, Health, ManagerOptions, ScrapeConfig, ScrapeManager,
};
use scrapeline_sd::TargetGroup;
use scrapeline_testkit::farm::{Behavior, Farm};

fn job(yaml: &str) -> ScrapeConfig {
    serde_saphyr::from_str(yaml).unwrap()
}

fn group(targets: &[Labels]) -> TargetGroup {
    TargetGroup {
        source: "farm".into(),
        targets: targets.to_vec(),
        labels: Labels::empty(),
    }
}

fn addr_target(addr: &str, path: &str) -> Labels {
    Labels::from_pairs([
        ("__address__", addr),
        ("__metrics_path__", path),
        ("path", path),
    ])
}

fn manager(rec: &Recorder) -> ScrapeManager {
    ScrapeManager::new(Arc::new(rec.clone()), ManagerOptions::default())
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

fn target<'a>(snap: &'a [ActiveTarget], path: &str) -> &'a ActiveTarget {
    snap.iter()
        .find(|t| t.scrape_url.ends_with(path))
        .unwrap_or_else(|| panic!("no target {path}"))
}

/// The batches that contain an `up` sample of `instance`/`job` (one per scrape).
fn scrape_batches(rec: &Recorder, job: &str, path: &str) -> Vec<Vec<Sample>> {
    rec.batches()
        .into_iter()
        .filter(|b| {
            b.iter().any(|s| {
                s.labels.starts_with("{__name__=\"up\"")
                    && s.labels.contains(&format!("job=\"{job}\""))
                    && s.labels.contains(&format!("path=\"{path}\""))
            })
        })
        .collect()
}

fn report_values(batch: &[Sample]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = batch
        .iter()
        .filter(|s| {
            [
                "up",
                "scrape_samples_scraped",
                "scrape_samples_post_metric_relabeling",
                "scrape_series_added",
                "scrape_body_size_bytes",
            ]
            .iter()
            .any(|n| s.labels.starts_with(&format!("{{__name__=\"{n}\"")))
        })
        .map(|s| {
            let name = s.labels[11..].split('"').next().unwrap().to_string();
            (name, fmt_v(s.v))
        })
        .collect();
    v.sort();
    v
}

fn rv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_samples_staleness_and_report_series() {
    let farm = Farm::start().await;
    farm.set(
        "/t/a",
        Behavior::changing(|n| {
            let mut s = format!(
                "# HELP a_total A counter.\n# TYPE a_total counter\na_total{{x=\"1\"}} {}\n",
                n + 10
            );
            if n == 0 {
                s.push_str("b_gauge 7.5\n");
            }
            s
        }),
    );
    let rec = Recorder::default();
    let m = manager(&rec);
    m.apply_config(
        vec![job(
            "job_name: farm\nscrape_interval: 500ms\nscrape_timeout: 400ms\n",
        )],
        &GlobalConfig::default(),
    )
    .unwrap();
    let addr = farm.addr().to_string();
    let t = Labels::from_pairs([
        ("__address__", addr.as_str()),
        ("__metrics_path__", "/t/a"),
        ("path", "/t/a"),
    ]);
    m.sync("farm", vec![group(&[t])]);
    wait_until("three scrapes", Duration::from_secs(5), || {
        scrape_batches(&rec, "farm", "/t/a").len() >= 3
    })
    .await;
    let b = scrape_batches(&rec, "farm", "/t/a");
    let ts0 = b[0][0].t;
    let ts1 = b[1][0].t;
    let lab = format!("instance=\"{addr}\", job=\"farm\", path=\"/t/a\"");
    let without_report = |batch: &[Sample]| -> Vec<String> {
        lines(batch)
            .into_iter()
            .filter(|l| !l.starts_with("{__name__=\"up\"") && !l.starts_with("{__name__=\"scrape_"))
            .collect()
    };
    assert_eq!(
        without_report(&b[0]),
        vec![
            format!("{{__name__=\"a_total\", {lab}, x=\"1\"}} 10@{ts0}"),
            format!("{{__name__=\"b_gauge\", {lab}}} 7.5@{ts0}"),
        ]
    );
    assert_eq!(
        report_values(&b[0]),
        rv(&[
            ("up", "1"),
            ("scrape_samples_scraped", "2"),
            ("scrape_samples_post_metric_relabeling", "2"),
            ("scrape_series_added", "2"),
        ])
    );
    // b_gauge vanished: a stale marker at the second scrape's timestamp.
    assert_eq!(
        without_report(&b[1]),
        vec![
            format!("{{__name__=\"a_total\", {lab}, x=\"1\"}} 11@{ts1}"),
            format!("{{__name__=\"b_gauge\", {lab}}} stale@{ts1}"),
        ]
    );
    assert_eq!(
        report_values(&b[1]),
        rv(&[
            ("up", "1"),
            ("scrape_samples_scraped", "1"),
            ("scrape_samples_post_metric_relabeling", "1"),
            ("scrape_series_added", "0"),
        ])
    );
    // Every sample of a scrape carries the same timestamp; scrapes are one interval apart.
    for batch in &b {
        assert!(batch.iter().all(|s| s.t == batch[0].t));
    }
    // On the ideal grid when on time; a loaded machine may be later than the 2 ms tolerance.
    assert!((ts1 - ts0 - 500).abs() <= 150, "{ts0} {ts1}");
    let dur = b[0]
        .iter()
        .find(|s| {
            s.labels
                .starts_with("{__name__=\"scrape_duration_seconds\"")
        })
        .unwrap();
    assert!(dur.v > 0.0 && dur.v < 0.4, "{}", dur.v);
    let snap = m.targets();
    let at = target(&snap.active, "/t/a");
    assert_eq!(at.health, Health::Up);
    assert_eq!(at.last_error, "");
    assert_eq!(at.scrape_url, format!("http://{addr}/t/a"));
    assert_eq!(
        at.labels.to_string(),
        format!("{{instance=\"{addr}\", job=\"farm\", path=\"/t/a\"}}")
    );

    // Switch the target to failing: everything it exposed goes stale, up = 0.
    let before = scrape_batches(&rec, "farm", "/t/a").len();
    farm.set("/t/a", Behavior::Status(500));
    wait_until("a failed scrape", Duration::from_secs(5), || {
        scrape_batches(&rec, "farm", "/t/a")
            .iter()
            .skip(before)
            .any(|b| report_values(b).contains(&("up".to_string(), "0".to_string())))
    })
    .await;
    let b = scrape_batches(&rec, "farm", "/t/a");
    let failed = b
        .iter()
        .skip(before)
        .find(|b| report_values(b).contains(&("up".to_string(), "0".to_string())))
        .unwrap();
    let tf = failed[0].t;
    assert_eq!(
        without_report(failed),
        vec![format!(
            "{{__name__=\"a_total\", {lab}, x=\"1\"}} stale@{tf}"
        )]
    );
    assert_eq!(
        report_values(failed),
        rv(&[
            ("up", "0"),
            ("scrape_samples_scraped", "0"),
            ("scrape_samples_post_metric_relabeling", "0"),
            ("scrape_series_added", "0"),
        ])
    );
    let snap = m.targets();
    let at = target(&snap.active, "/t/a");
    assert_eq!(at.health, Health::Down);
    assert_eq!(
        at.last_error,
        "server returned HTTP status 500 Internal Server Error"
    );
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_reported_per_target_and_isolated() {
    let farm = Farm::start().await;
    farm.set("/ok", Behavior::text("ok_metric 1\n"));
    farm.set("/status", Behavior::Status(503));
    farm.set("/reset", Behavior::Reset);
    farm.set("/malformed", Behavior::malformed());
    farm.set("/huge", Behavior::Huge(10_000));
    farm.set(
        "/gzip",
        Behavior::Gzip(Box::new(Behavior::text("gz_metric{a=\"b\"} 42\n"))),
    );
    farm.set(
        "/gzip-huge",
        Behavior::Gzip(Box::new(Behavior::Huge(100_000))),
    );
    farm.set(
        "/no-ct",
        Behavior::Fixed {
            body: "m 1\n".into(),
            content_type: None,
        },
    );
    farm.set(
        "/slow",
        Behavior::Slow(Duration::from_secs(3), Box::new(Behavior::text("m 1\n"))),
    );
    farm.set("/redirect", Behavior::Redirect("/ok".into()));
    farm.set("/empty", Behavior::text(""));
    let rec = Recorder::default();
    let m = manager(&rec);
    m.apply_config(
        vec![job(
            "job_name: f\nscrape_interval: 1s\nscrape_timeout: 300ms\nbody_size_limit: 4KB\nextra_scrape_metrics: true\n",
        )],
        &GlobalConfig::default(),
    )
    .unwrap();
    let addr = farm.addr().to_string();
    let paths = [
        "/ok",
        "/status",
        "/reset",
        "/malformed",
        "/huge",
        "/gzip",
        "/gzip-huge",
        "/no-ct",
        "/slow",
        "/redirect",
        "/empty",
        "/missing",
    ];
    let targets: Vec<Labels> = paths
        .iter()
        .map(|p| {
            Labels::from_pairs([
                ("__address__", addr.as_str()),
                ("__metrics_path__", *p),
                ("path", *p),
            ])
        })
        .collect();
    m.sync("f", vec![group(&targets)]);
    wait_until("every target scraped", Duration::from_secs(6), || {
        m.targets()
            .active
            .iter()
            .all(|t| t.health != Health::Unknown)
    })
    .await;
    let snap = m.targets();
    let err = |p: &str| {
        let t = target(&snap.active, p);
        (t.health, t.last_error.clone())
    };
    let url = |p: &str| format!("http://{addr}{p}");
    assert_eq!(err("/ok"), (Health::Up, String::new()));
    assert_eq!(err("/redirect"), (Health::Up, String::new()));
    assert_eq!(err("/gzip"), (Health::Up, String::new()));
    assert_eq!(err("/empty"), (Health::Up, String::new()));
    assert_eq!(
        err("/status"),
        (
            Health::Down,
            "server returned HTTP status 503 Service Unavailable".into()
        )
    );
    assert_eq!(
        err("/missing"),
        (
            Health::Down,
            "server returned HTTP status 404 Not Found".into()
        )
    );
    assert_eq!(
        err("/huge"),
        (Health::Down, "body size limit exceeded".into())
    );
    assert_eq!(
        err("/gzip-huge"),
        (Health::Down, "body size limit exceeded".into())
    );
    assert_eq!(
        err("/no-ct"),
        (
            Health::Down,
            "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target".into()
        )
    );
    assert_eq!(
        err("/slow"),
        (
            Health::Down,
            format!("Get {:?}: context deadline exceeded", url("/slow"))
        )
    );
    let (h, e) = err("/reset");
    assert_eq!(h, Health::Down);
    assert!(e.starts_with(&format!("Get {:?}: ", url("/reset"))), "{e}");
    let (h, e) = err("/malformed");
    assert_eq!(h, Health::Down);
    assert!(e.starts_with("line 2, column "), "{e}");

    // Exact samples of the good ones, and the body-size report of the huge one.
    let first = |p: &str| scrape_batches(&rec, "f", p).into_iter().next().unwrap();
    let gz = first("/gzip");
    let t = gz[0].t;
    assert!(lines(&gz).contains(&format!(
        "{{__name__=\"gz_metric\", a=\"b\", instance=\"{addr}\", job=\"f\", path=\"/gzip\"}} 42@{t}"
    )));
    assert_eq!(
        report_values(&gz),
        rv(&[
            ("up", "1"),
            ("scrape_samples_scraped", "1"),
            ("scrape_samples_post_metric_relabeling", "1"),
            ("scrape_series_added", "1"),
            ("scrape_body_size_bytes", "20"),
        ])
    );
    assert!(
        report_values(&first("/huge")).contains(&("scrape_body_size_bytes".into(), "-1".into()))
    );
    assert!(
        report_values(&first("/status")).contains(&("scrape_body_size_bytes".into(), "0".into()))
    );
    let c = m.counters();
    assert!(c.scrapes_total >= 12, "{c:?}");
    assert!(c.scrape_failures_total >= 8, "{c:?}");
    assert_eq!(c.samples_out_of_order_total, 0);
    let red = first("/redirect");
    let t = red[0].t;
    assert!(lines(&red).contains(&format!(
        "{{__name__=\"ok_metric\", instance=\"{addr}\", job=\"f\", path=\"/redirect\"}} 1@{t}"
    )));
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_headers_auth_and_params() {
    let farm = Farm::start().await;
    farm.set("/h", Behavior::text("m 1\n"));
    farm.set("/b", Behavior::text("m 1\n"));
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let rec = Recorder::default();
    let m = manager(&rec);
    let cfgs = vec![
        job(&format!(
            "job_name: h\nscrape_interval: 1s\nscrape_timeout: 400ms\nmetrics_path: /h\nparams:\n  module: [http_2xx, x]\n  'a b': ['c&d']\nbearer_token_file: {}\nhttp_headers:\n  X-Extra:\n    values: [one]\n",
            token.display()
        )),
        job(
            "job_name: b\nscrape_interval: 1s\nscrape_timeout: 250ms\nmetrics_path: /b\nenable_compression: false\nscrape_protocols: [PrometheusText0.0.4]\nbasic_auth:\n  username: user\n  password: pass\n",
        ),
    ];
    m.apply_config(cfgs, &GlobalConfig::default()).unwrap();
    let addr = farm.addr().to_string();
    let t = Labels::from_pairs([
        ("__address__", addr.as_str()),
        ("__param_module", "sd_wins"),
    ]);
    m.sync("h", vec![group(std::slice::from_ref(&t))]);
    m.sync(
        "b",
        vec![group(&[Labels::from_pairs([(
            "__address__",
            addr.as_str(),
        )])])],
    );
    wait_until("both scraped", Duration::from_secs(4), || {
        farm.hits("/h") >= 1 && farm.hits("/b") >= 1
    })
    .await;
    let h = &farm.access_log("/h")[0];
    let hd = |k: &str| h.headers.get(k).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        h.query.as_deref(),
        Some("a+b=c%26d&module=sd_wins&module=x")
    );
    assert_eq!(hd("authorization").as_deref(), Some("Bearer s3cret"));
    assert_eq!(hd("x-extra").as_deref(), Some("one"));
    assert_eq!(hd("accept-encoding").as_deref(), Some("gzip"));
    assert_eq!(
        hd("x-prometheus-scrape-timeout-seconds").as_deref(),
        Some("0.4")
    );
    assert_eq!(
        hd("accept").as_deref(),
        Some(
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        )
    );
    assert!(hd("user-agent").unwrap().starts_with("Scrapeline/"));
    let b = &farm.access_log("/b")[0];
    let bd = |k: &str| b.headers.get(k).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(bd("authorization").as_deref(), Some("Basic dXNlcjpwYXNz"));
    assert_eq!(bd("accept-encoding").as_deref(), Some("identity"));
    assert_eq!(
        bd("accept").as_deref(),
        Some("text/plain;version=0.0.4;q=0.6,*/*;q=0.5")
    );
    assert_eq!(
        bd("x-prometheus-scrape-timeout-seconds").as_deref(),
        Some("0.25")
    );
    assert_eq!(
        target(&m.targets().active, "/h?a+b=c%26d&module=sd_wins&module=x").health,
        Health::Up
    );
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honor_labels_and_metric_relabeling() {
    let farm = Farm::start().await;
    farm.set(
        "/m",
        Behavior::text("keep_me{job=\"inner\",instance=\"i\"} 1\ndrop_me 2\n"),
    );
    let rec = Recorder::default();
    let m = manager(&rec);
    let cfgs = vec![
        job(
            "job_name: plain\nscrape_interval: 1s\nmetrics_path: /m\nmetric_relabel_configs:\n  - source_labels: [__name__]\n    regex: drop_.*\n    action: drop\n",
        ),
        job("job_name: honor\nhonor_labels: true\nscrape_interval: 1s\nmetrics_path: /m\n"),
    ];
    m.apply_config(cfgs, &GlobalConfig::default()).unwrap();
    let addr = farm.addr().to_string();
    let t = Labels::from_pairs([("__address__", addr.as_str())]);
    m.sync("plain", vec![group(std::slice::from_ref(&t))]);
    m.sync("honor", vec![group(std::slice::from_ref(&t))]);
    wait_until("both scraped", Duration::from_secs(4), || {
        rec.named("up").len() >= 2
    })
    .await;
    let mut got: Vec<String> = rec
        .all()
        .into_iter()
        .filter(|s| {
            !s.labels.starts_with("{__name__=\"up\"")
                && !s.labels.starts_with("{__name__=\"scrape_")
        })
        .map(|s| format!("{} {}", s.labels, fmt_v(s.v)))
        .collect();
    got.sort();
    got.dedup();
    assert_eq!(
        got,
        vec![
            format!("{{__name__=\"drop_me\", instance=\"{addr}\", job=\"honor\"}} 2"),
            format!(
                "{{__name__=\"keep_me\", exported_instance=\"i\", exported_job=\"inner\", instance=\"{addr}\", job=\"plain\"}} 1"
            ),
            "{__name__=\"keep_me\", instance=\"i\", job=\"inner\"} 1".to_string(),
        ]
    );
    let post: Vec<(String, f64)> = rec
        .named("scrape_samples_post_metric_relabeling")
        .into_iter()
        .map(|s| (s.labels, s.v))
        .collect();
    assert!(post.contains(&(
        format!("{{__name__=\"scrape_samples_post_metric_relabeling\", instance=\"{addr}\", job=\"plain\"}}"),
        1.0
    )));
    assert!(post.contains(&(
        format!("{{__name__=\"scrape_samples_post_metric_relabeling\", instance=\"{addr}\", job=\"honor\"}}"),
        2.0
    )));
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_targets_every_interval_sync_diff_and_reload() {
    let farm = Farm::start().await;
    let n = 40;
    for i in 0..n {
        farm.set(
            &format!("/t/{i}"),
            Behavior::changing(move |r| scrapeline_testkit::farm::realistic_payload(20 + i % 5, r)),
        );
    }
    let rec = Recorder::default();
    let m = manager(&rec);
    let cfg = "job_name: many\nscrape_interval: 500ms\nscrape_timeout: 400ms\n";
    m.apply_config(vec![job(cfg)], &GlobalConfig::default())
        .unwrap();
    let addr = farm.addr().to_string();
    let all: Vec<Labels> = (0..n)
        .map(|i| addr_target(&addr, &format!("/t/{i}")))
        .collect();
    m.sync("many", vec![group(&all)]);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    // Every target scraped every interval: >= 5 hits in 3.1 s (offset < 500 ms), and no gap
    // near two intervals (a missed scrape); the band absorbs timer lateness on a busy machine.
    let times = farm.access_times();
    for i in 0..n {
        let t = &times[&format!("/t/{i}")];
        assert!(t.len() >= 5, "target {i}: {} scrapes", t.len());
        for w in t.windows(2) {
            let gap = w[1] - w[0];
            assert!(
                gap >= Duration::from_millis(250) && gap <= Duration::from_millis(750),
                "target {i}: gap {gap:?}"
            );
        }
    }
    let ups = rec.named("up");
    assert!(ups.iter().all(|s| s.v == 1.0));
    // Unchanged targets keep their loops across a sync that removes some and a reload with
    // the same config: the cadence has no gap and no reset.
    let keep: Vec<Labels> = all[..n / 2].to_vec();
    let before_keep = farm.hits("/t/0");
    m.sync("many", vec![group(&keep)]);
    m.apply_config(vec![job(cfg)], &GlobalConfig::default())
        .unwrap();
    assert_eq!(m.targets().active.len(), n / 2);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let t0 = farm.access_log("/t/0");
    for w in t0.windows(2) {
        let gap = w[1].at - w[0].at;
        assert!(
            gap >= Duration::from_millis(250) && gap <= Duration::from_millis(750),
            "gap {gap:?}"
        );
    }
    assert!(farm.hits("/t/0") >= before_keep + 4);
    // Removed targets: no scrape after removal, and end-of-run stale markers for every series
    // they had (realistic_payload(20+i%5)) plus the report series, 2 intervals + 10% later.
    let removed = n - 1;
    let stale: Vec<Sample> = rec
        .all()
        .into_iter()
        .filter(|s| {
            s.is_stale()
                && s.labels.contains("job=\"many\"")
                && (n / 2..n).any(|i| s.labels.contains(&format!("path=\"/t/{i}\"")))
        })
        .collect();
    let hits_removed = farm.hits(&format!("/t/{removed}"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(farm.hits(&format!("/t/{removed}")), hits_removed);
    // n/2 removed targets, each with (20 + i%5) series + 5 report series, stale once.
    let expected: usize = (n / 2..n).map(|i| 20 + i % 5 + 5).sum();
    assert_eq!(stale.len(), expected);
    // Nothing of the kept targets went stale.
    assert!(
        !rec.all()
            .iter()
            .any(|s| s.is_stale() && s.labels.contains("path=\"/t/0\""))
    );
    m.shutdown().await;
}
