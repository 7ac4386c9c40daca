//! A queue fed from the write-ahead log: nothing lost to an outage or a restart.

use super::tests::{Receiver, config};
use super::*;
use scrapeline_wal::{WalAppendable, WalOptions};

fn commit(sink: &WalAppendable, refs: &mut [u64], t: i64) {
    let mut app = sink.appender();
    for (i, r) in refs.iter_mut().enumerate() {
        let ls = Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]);
        *r = app.append(*r, &ls, t, t as f64).unwrap();
    }
    app.commit().unwrap();
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

fn expected(ts: std::ops::Range<i64>) -> Vec<(String, i64, f64)> {
    let mut out: Vec<_> = ts
        .flat_map(|t| (0..10).map(move |i| (format!("{{__name__=\"m\", i=\"{i}\"}}"), t, t as f64)))
        .collect();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wal_queue_sends_everything_across_an_outage_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(
        dir.path(),
        WalOptions {
            segment_size: 4096,
            ..WalOptions::default()
        },
    )
    .unwrap();
    let sink = WalAppendable::primary(wal.clone());
    // The receiver fails the first 8 requests (an outage), then accepts.
    let rx = Receiver::start(vec![503; 8]).await;
    let cfg = config(&rx.url, "");
    let q = RemoteWrite::start_with(&cfg, Labels::empty(), Some(wal.clone())).unwrap();
    let mut refs = vec![0u64; 10];
    for t in 0..30 {
        commit(&sink, &mut refs, t);
    }
    wait_for("300 samples", || rx.samples().len() >= 300).await;
    assert_eq!(rx.samples(), expected(0..30), "each exactly once");
    assert_eq!(q.samples_sent(), 300);
    assert_eq!(q.samples_lost(), 0);
    q.shutdown(Duration::from_secs(2)).await;

    // Committed while no queue runs (a kill, a restart): sent by the next queue, and only
    // those.
    for t in 30..40 {
        commit(&sink, &mut refs, t);
    }
    let q = RemoteWrite::start_with(&cfg, Labels::empty(), Some(wal.clone())).unwrap();
    wait_for("400 samples", || rx.samples().len() >= 400).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.samples(), expected(0..40));
    let mut m = String::new();
    RemoteWriteSet::from_iter([q.clone()]).write_metrics(&mut m);
    let url = &rx.url;
    assert!(
        m.contains(&format!(
            "prometheus_remote_storage_samples_total{{remote_name=\"test\",url=\"{url}\"}} 100\n"
        )),
        "{m}"
    );
    assert!(
        m.contains("prometheus_remote_storage_samples_in_total 100\n"),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "prometheus_remote_storage_sent_batch_duration_seconds_count{{remote_name=\"test\",url=\"{url}\"}} 10\n"
        )),
        "{m}"
    );
    // Every segment the queue passed may go.
    let before = scrapeline_wal::segment::list(dir.path()).unwrap();
    let t = wal.truncate().unwrap();
    assert_eq!(t.samples_dropped, 0);
    let after = scrapeline_wal::segment::list(dir.path()).unwrap();
    assert!(after.len() < before.len(), "{before:?} -> {after:?}");
    q.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wal_queue_waits_for_room_instead_of_dropping() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let sink = WalAppendable::primary(wal.clone());
    let rx = Receiver::start(vec![503; 3]).await;
    // Capacity 1000 per shard, 3 shards, 5,000 samples committed at once.
    let q =
        RemoteWrite::start_with(&config(&rx.url, ""), Labels::empty(), Some(wal.clone())).unwrap();
    let mut refs = vec![0u64; 10];
    for t in 0..500 {
        commit(&sink, &mut refs, t);
    }
    wait_for("5000 samples", || rx.samples().len() >= 5000).await;
    assert_eq!(rx.samples(), expected(0..500));
    assert_eq!(q.samples_lost(), 0);
    q.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_a_checkpoint_dropped_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(
        dir.path(),
        WalOptions {
            segment_size: 512,
            ..WalOptions::default()
        },
    )
    .unwrap();
    let sink = WalAppendable::primary(wal.clone());
    let rx = Receiver::start(vec![]).await;
    let q =
        RemoteWrite::start_with(&config(&rx.url, ""), Labels::empty(), Some(wal.clone())).unwrap();
    let mut refs = vec![0u64; 10];
    commit(&sink, &mut refs, 0);
    wait_for("10 series known", || {
        q.inner.m.known_series.load(Ordering::Relaxed) == 10
    })
    .await;
    // Nine series stop; one goes on, later than a second after (last-seen is in seconds).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut one = vec![refs[0]];
    for t in 1..30 {
        commit(&sink, &mut one, t);
    }
    wait_for("39 samples", || rx.samples().len() >= 39).await;
    let t = wal.truncate().unwrap();
    assert!(t.upto.is_some(), "{t:?}");
    let (_, kept) = wal.checkpoint_series().unwrap();
    assert_eq!(kept.into_iter().collect::<Vec<_>>(), [refs[0]]);
    // The reader forgets the nine when it enters the next segment.
    for t in 30..40 {
        commit(&sink, &mut one, t);
    }
    wait_for("1 series known", || {
        q.inner.m.known_series.load(Ordering::Relaxed) == 1
    })
    .await;
    wait_for("49 samples", || rx.samples().len() >= 49).await;
    assert_eq!(q.samples_lost(), 0);
    q.shutdown(Duration::from_secs(2)).await;
}
