//! Remote write 2.0 through the whole queue (appender or WAL, shards, retry loop), against
//! the spec receiver over real HTTP.

use std::sync::Arc;
use std::time::Duration;

use scrapeline_exposition::Labels;
use scrapeline_scrape::Appendable;
use scrapeline_testkit::rw2::{self, Behavior, Message2};
use scrapeline_wal::{Wal, WalAppendable, WalOptions};

use crate::tests::config;
use crate::{RemoteWrite, RemoteWriteSet, system_time_ms};

const V2: &str = "protobuf_message: io.prometheus.write.v2.Request\n";

/// One sample as the receiver decoded it: labels, timestamp, value.
type Delivered = (String, i64, f64);

/// Every sample of every request the receiver accepted, sorted.
fn delivered(rx: &rw2::Receiver) -> Vec<Delivered> {
    let mut out: Vec<Delivered> = rx
        .requests()
        .iter()
        .filter(|r| r.status == 204)
        .flat_map(|r| r.series.iter())
        .flat_map(|s| {
            s.samples
                .iter()
                .map(move |x| (s.labels_text(), x.timestamp, x.value))
        })
        .collect();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

/// The label set of series `i` as [`commit_round`] appends it (external `cluster` added).
fn series_labels(i: usize, cluster: bool) -> String {
    if cluster {
        format!("{{__name__=\"rw2_test\", cluster=\"eu-1\", i=\"{i}\", job=\"node\"}}")
    } else {
        format!("{{__name__=\"rw2_test\", i=\"{i}\", job=\"node\"}}")
    }
}

fn value(i: usize, t: i64) -> f64 {
    i as f64 * 100.0 + t as f64 / 1000.0 + 0.25
}

/// Appends one sample of each of `series` series at `t` and commits.
fn commit_round(sink: &dyn Appendable, refs: &mut [u64], t: i64) {
    let mut app = sink.appender();
    for (i, r) in refs.iter_mut().enumerate() {
        let ls = Labels::from_pairs([
            ("__name__", "rw2_test"),
            ("job", "node"),
            ("i", &i.to_string()),
        ]);
        *r = app.append(*r, &ls, t, value(i, t)).unwrap();
    }
    app.commit().unwrap();
}

/// What [`commit_round`] appended for `series` series at each of `ts`, sorted.
fn expected(series: usize, ts: impl IntoIterator<Item = i64>, cluster: bool) -> Vec<Delivered> {
    let mut out: Vec<Delivered> = ts
        .into_iter()
        .flat_map(|t| (0..series).map(move |i| (series_labels(i, cluster), t, value(i, t))))
        .collect();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not reached in 10s");
}

/// The value of the queue's metric `name` (its only line).
fn metric(q: &RemoteWrite, name: &str) -> f64 {
    let mut m = String::new();
    RemoteWriteSet::from_iter([q.clone()]).write_metrics(&mut m);
    let prefix = format!("{name}{{remote_name=\"test\",");
    let line = m
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {name} in\n{m}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Bytes of the bodies of the requests of `message` the receiver accepted.
fn accepted_bytes(rx: &rw2::Receiver, message: Message2) -> f64 {
    rx.requests()
        .iter()
        .filter(|r| r.status == 204 && r.message == Some(message))
        .map(|r| r.headers["content-length"].parse::<f64>().unwrap())
        .sum()
}

/// A queue configured for 2.0 sends 2.0 only, with the spec's headers, and every sample
/// arrives once with its exact labels (external ones included) and value, the symbols
/// decoded by the receiver; the queue's metrics count as for 1.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_queue_sends_every_sample_as_v2_with_exact_labels() {
    let rx = rw2::Receiver::start(Behavior::Spec).await;
    let q = RemoteWrite::start(
        &config(&rx.url(), V2),
        Labels::from_pairs([("cluster", "eu-1")]),
    )
    .unwrap();
    let mut refs = vec![0u64; 10];
    for k in 1..=5 {
        commit_round(&q, &mut refs, k * 15_000);
    }
    wait_for("50 samples", || delivered(&rx).len() >= 50).await;
    q.shutdown(Duration::from_secs(2)).await;

    assert_eq!(
        delivered(&rx),
        expected(10, (1..=5).map(|k| k * 15_000), true)
    );
    let requests = rx.requests();
    for r in &requests {
        assert_eq!(r.message, Some(Message2::V2), "{r:?}");
        assert_eq!(r.status, 204, "{r:?}");
        assert_eq!(r.headers["x-prometheus-remote-write-version"], "2.0.0");
        assert_eq!(r.headers["content-type"], rw2::CONTENT_TYPE_V2);
        assert_eq!(r.symbols.first().map(String::as_str), Some(""));
        assert!(r.symbols.iter().any(|s| s == "cluster"), "{:?}", r.symbols);
    }
    assert_eq!(q.samples_sent(), 50);
    assert_eq!(q.samples_lost(), 0);
    assert_eq!(
        metric(&q, "prometheus_remote_storage_bytes_total"),
        accepted_bytes(&rx, Message2::V2)
    );
    assert_eq!(
        metric(
            &q,
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds"
        ),
        75.0
    );
    assert_eq!(
        metric(&q, "scrapeline_remote_write_requests_total"),
        requests.len() as f64
    );
}

/// A receiver refusing 2.0 (`415`), or taking it as an empty 1.0 request (`204` without
/// `Written` headers), makes the queue fall back to 1.0: the refused batches are sent again
/// as 1.0 at once, later ones are built as 1.0, and every sample arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_refusing_v2_makes_the_queue_fall_back_and_every_sample_arrives_once() {
    for (behavior, v2_status) in [
        (Behavior::RejectsV2, 415),
        (Behavior::IgnoresContentType, 204),
    ] {
        let rx = rw2::Receiver::start(behavior).await;
        let q = RemoteWrite::start(&config(&rx.url(), V2), Labels::empty()).unwrap();
        let mut refs = vec![0u64; 10];
        commit_round(&q, &mut refs, 1_000);
        wait_for("the first 10 samples", || delivered(&rx).len() >= 10).await;
        let first_round = rx.requests().len();
        for t in 2..=5 {
            commit_round(&q, &mut refs, t * 1_000);
        }
        wait_for("50 samples", || delivered(&rx).len() >= 50).await;
        q.shutdown(Duration::from_secs(2)).await;

        assert_eq!(
            delivered(&rx),
            expected(10, (1..=5).map(|t| t * 1_000), false),
            "{behavior:?}"
        );
        let requests = rx.requests();
        let v2: Vec<_> = requests
            .iter()
            .filter(|r| r.message == Some(Message2::V2))
            .collect();
        // One 2.0 request at most per shard (3) that built one before the fallback.
        assert!((1..=3).contains(&v2.len()), "{behavior:?}: {v2:?}");
        for r in &v2 {
            assert_eq!(r.status, v2_status, "{behavior:?}");
            assert!(r.series.is_empty(), "{behavior:?}: {r:?}");
        }
        for r in requests.get(first_round..).unwrap() {
            assert_eq!(
                r.message,
                Some(Message2::V1),
                "{behavior:?}: after the fallback"
            );
        }
        assert_eq!(q.samples_sent(), 50, "{behavior:?}");
        assert_eq!(q.samples_lost(), 0, "{behavior:?}");
        assert_eq!(
            metric(&q, "scrapeline_remote_write_requests_total"),
            requests.len() as f64,
            "{behavior:?}"
        );
        assert_eq!(
            metric(&q, "prometheus_remote_storage_bytes_total"),
            accepted_bytes(&rx, Message2::V1),
            "{behavior:?}: only the 1.0 requests' bytes were sent successfully"
        );
    }
}

/// A 1.0 queue (the default) never sends 2.0, even to a receiver that takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_queue_never_sends_v2() {
    let rx = rw2::Receiver::start(Behavior::Spec).await;
    let q = RemoteWrite::start(&config(&rx.url(), ""), Labels::empty()).unwrap();
    let mut refs = vec![0u64; 10];
    for t in 1..=3 {
        commit_round(&q, &mut refs, t * 1_000);
    }
    wait_for("30 samples", || delivered(&rx).len() >= 30).await;
    q.shutdown(Duration::from_secs(2)).await;

    assert_eq!(
        delivered(&rx),
        expected(10, (1..=3).map(|t| t * 1_000), false)
    );
    for r in rx.requests() {
        assert_eq!(r.message, Some(Message2::V1), "{r:?}");
        assert_eq!(r.headers["content-type"], "application/x-protobuf");
        assert_eq!(r.headers["x-prometheus-remote-write-version"], "0.1.0");
        assert!(r.symbols.is_empty());
    }
    assert_eq!(
        metric(&q, "prometheus_remote_storage_bytes_total"),
        accepted_bytes(&rx, Message2::V1)
    );
}

/// `sample_age_limit` drops samples too old when a 2.0 request is built, as for 1.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_queue_drops_samples_older_than_the_age_limit() {
    let rx = rw2::Receiver::start(Behavior::Spec).await;
    let mut cfg = config(&rx.url(), V2);
    cfg.queue_config.sample_age_limit = Duration::from_secs(60);
    cfg.queue_config.batch_send_deadline = Duration::from_secs(3600);
    let q = RemoteWrite::start(&cfg, Labels::empty()).unwrap();
    let now = system_time_ms(std::time::SystemTime::now());
    let mut app = q.appender();
    let old = Labels::from_pairs([("__name__", "old")]);
    let fresh = Labels::from_pairs([("__name__", "fresh")]);
    app.append(0, &old, now - 3_600_000, 1.0).unwrap();
    app.append(0, &fresh, now, 2.0).unwrap();
    app.commit().unwrap();
    q.shutdown(Duration::from_secs(2)).await;

    assert_eq!(
        delivered(&rx),
        vec![(r#"{__name__="fresh"}"#.to_owned(), now, 2.0)]
    );
    assert!(
        rx.requests()
            .iter()
            .all(|r| r.message == Some(Message2::V2))
    );
    assert_eq!(q.samples_sent(), 1);
    assert_eq!(q.samples_lost(), 1);
}

/// A queue fed from the write-ahead log sends 2.0 too: every committed sample once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wal_fed_queue_sends_v2() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(
        dir.path(),
        WalOptions {
            segment_size: 4096,
            ..WalOptions::default()
        },
    )
    .unwrap();
    let sink: Arc<dyn Appendable> = Arc::new(WalAppendable::primary(wal.clone()));
    let rx = rw2::Receiver::start(Behavior::Spec).await;
    let q = RemoteWrite::start_with(&config(&rx.url(), V2), Labels::empty(), Some(wal)).unwrap();
    let mut refs = vec![0u64; 10];
    for t in 0..30 {
        commit_round(sink.as_ref(), &mut refs, t * 1_000);
    }
    wait_for("300 samples", || delivered(&rx).len() >= 300).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    q.shutdown(Duration::from_secs(2)).await;

    assert_eq!(
        delivered(&rx),
        expected(10, (0..30).map(|t| t * 1_000), false)
    );
    for r in rx.requests() {
        assert_eq!((r.message, r.status), (Some(Message2::V2), 204), "{r:?}");
    }
    assert_eq!(q.samples_sent(), 300);
    assert_eq!(q.samples_lost(), 0);
}
