//! The log end to end: write, read back, tail, resume, repair, truncate.

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use scrapeline_exposition::Labels;
use scrapeline_scrape::Appendable;
use scrapeline_wal::record::{Record, RefSample};
use scrapeline_wal::{Batch, Position, Reader, Wal, WalAppendable, WalOptions, segment};

fn labels(i: u64) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())])
}

/// Commits `n` batches of one series record and one sample each (ref = t = i); returns
/// where each commit ended.
fn write(wal: &Wal, from: u64, n: u64) -> Vec<Position> {
    let mut b = Batch::default();
    let mut ends = Vec::new();
    for i in from..from + n {
        b.add_series(i, &labels(i));
        b.add_sample(i, i as i64, i as f64 * 0.5);
        wal.commit(&mut b).unwrap();
        ends.push(wal.head());
    }
    ends
}

/// Every sample a fresh reader delivers (from the start), as (ref, t) with the labels checked.
fn read_samples(wal: &Arc<Wal>) -> Vec<(u64, i64)> {
    let mut r = Reader::new(wal.clone(), Position::default(), true);
    let mut names = std::collections::HashMap::new();
    let mut out = Vec::new();
    while let Some((rec, _)) = r.next() {
        match rec {
            Record::Series(s) => names.extend(s),
            Record::Samples(s) => {
                for x in s {
                    assert_eq!(
                        names.get(&x.series),
                        Some(&labels(x.series)),
                        "labels of {x:?}"
                    );
                    assert_eq!(x.value, x.t_ms as f64 * 0.5);
                    out.push((x.series, x.t_ms));
                }
            }
        }
    }
    out
}

fn small() -> WalOptions {
    WalOptions {
        segment_size: 1000,
        ..WalOptions::default()
    }
}

#[test]
fn round_trip_across_segments_and_reopen() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), small()).unwrap();
    write(&wal, 1, 100);
    let expect: Vec<(u64, i64)> = (1..=100).map(|i| (i, i as i64)).collect();
    assert_eq!(read_samples(&wal), expect);
    assert!(
        segment::list(d.path()).unwrap().len() > 5,
        "cut into segments"
    );
    assert_eq!(wal.samples_appended(), 100);
    wal.close();
    drop(wal);
    // Reopened: a new segment, everything still there, new refs above the old ones.
    let wal = Wal::open(d.path(), small()).unwrap();
    assert_eq!(wal.new_ref(), 101);
    assert_eq!(wal.max_time(), 100);
    write(&wal, 200, 3);
    let mut all = expect.clone();
    all.extend((200..203).map(|i| (i, i as i64)));
    assert_eq!(read_samples(&wal), all);
}

#[test]
fn a_reader_tails_the_writer_and_resumes_from_a_position() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), small()).unwrap();
    let mut r = Reader::new(wal.clone(), Position::default(), false);
    assert!(r.next().is_none());
    write(&wal, 1, 2);
    let mut got = Vec::new();
    let mut resume_at = Position::default();
    while let Some((rec, end)) = r.next() {
        if let Record::Samples(s) = rec {
            got.extend(s.iter().map(|x| x.series));
            if x_is(&s, 1) {
                resume_at = end;
            }
        }
    }
    assert_eq!(got, [1, 2]);
    write(&wal, 3, 30);
    while let Some((rec, _)) = r.next() {
        if let Record::Samples(s) = rec {
            got.extend(s.iter().map(|x| x.series));
        }
    }
    assert_eq!(got, (1..=32).collect::<Vec<_>>());
    // Resuming after sample 1: series still learnt, samples from 2 on.
    let mut r = Reader::new(wal.clone(), resume_at, false);
    let (mut series, mut samples) = (0, Vec::new());
    while let Some((rec, _)) = r.next() {
        match rec {
            Record::Series(s) => series += s.len(),
            Record::Samples(s) => samples.extend(s.iter().map(|x| x.series)),
        }
    }
    assert_eq!(series, 32);
    assert_eq!(samples, (2..=32).collect::<Vec<_>>());
}

fn x_is(s: &[RefSample], r: u64) -> bool {
    s.iter().any(|x| x.series == r)
}

#[test]
fn repair_truncates_at_the_damage_and_keeps_later_segments() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), small()).unwrap();
    let ends = write(&wal, 1, 60);
    wal.close();
    drop(wal);
    let segs = segment::list(d.path()).unwrap();
    assert!(segs.len() >= 4);
    // Flip a byte in the body of the second record of segment 1, truncate segment 2
    // in the middle of its third record.
    let p1 = segment::path(d.path(), segs[1]);
    let mut b = fs::read(&p1).unwrap();
    let first = frame_len(&b, 0);
    let second = frame_len(&b, first);
    b[first + second - 3] ^= 0xff;
    fs::write(&p1, &b).unwrap();
    let p2 = segment::path(d.path(), segs[2]);
    let b2 = fs::read(&p2).unwrap();
    let keep = frame_len(&b2, 0) + frame_len(&b2, frame_len(&b2, 0)) + 5;
    fs::write(&p2, &b2[..keep]).unwrap();
    let wal = Wal::open(d.path(), small()).unwrap();
    assert_eq!(wal.corruptions(), 2);
    assert_eq!(fs::metadata(&p1).unwrap().len() as usize, first);
    assert_eq!(fs::metadata(&p2).unwrap().len() as usize, keep - 5);
    // Exactly the commits that ended before the damage in their segment survive; later
    // segments are whole.
    let expect: Vec<(u64, i64)> = (1..=60u64)
        .zip(&ends)
        .filter(|(_, e)| {
            (e.segment == segs[1] && e.offset as usize <= first)
                || (e.segment == segs[2] && e.offset as usize <= keep - 5)
                || (e.segment != segs[1] && e.segment != segs[2])
        })
        .map(|(i, _)| (i, i as i64))
        .collect();
    assert_eq!(read_samples(&wal), expect);
    assert!(expect.contains(&(60, 60)), "later segments are kept");
    assert_eq!(expect.len(), 60 - 14 - 13, "{}", expect.len());
}

fn frame_len(b: &[u8], at: usize) -> usize {
    8 + u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

#[test]
fn truncation_waits_for_readers_and_the_disk_bound_does_not() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), small()).unwrap();
    wal.set_watermark("q", 0);
    let ends = write(&wal, 1, 50);
    let t = wal.truncate().unwrap();
    assert_eq!(t.upto, None, "the reader still needs segment 0");
    wal.set_watermark("q", 3);
    let t = wal.truncate().unwrap();
    assert_eq!(t.upto, Some(2));
    assert_eq!(t.samples_dropped, 0);
    assert_eq!(segment::list(d.path()).unwrap()[0], 3);
    assert!(d.path().join("checkpoint.00000002").is_dir());
    // A reader from the start still learns every series (from the checkpoint).
    let mut r = Reader::new(wal.clone(), Position::default(), false);
    let mut series = 0;
    let mut samples = 0;
    while let Some((rec, _)) = r.next() {
        match rec {
            Record::Series(s) => series += s.len(),
            Record::Samples(s) => samples += s.len(),
        }
    }
    assert_eq!(series, 50);
    assert_eq!(samples, ends.iter().filter(|e| e.segment >= 3).count());
    drop(wal);
    // The disk bound deletes unpassed segments and counts their samples.
    let wal = Wal::open(
        d.path(),
        WalOptions {
            max_size: Some(2500),
            ..small()
        },
    )
    .unwrap();
    wal.set_watermark("q", 0);
    write(&wal, 100, 50);
    let t = wal.truncate().unwrap();
    assert!(t.samples_dropped > 0);
    assert_eq!(wal.samples_dropped(), t.samples_dropped);
    assert!(wal.disk_size() <= 2500 + 1000, "{}", wal.disk_size());
    let mut m = String::new();
    wal.write_metrics(true, &mut m);
    assert!(
        m.contains(&format!(
            "scrapeline_wal_samples_dropped_total {}\n",
            t.samples_dropped
        )),
        "{m}"
    );
    assert!(
        m.contains("prometheus_agent_checkpoint_creations_total 1\n"),
        "{m}"
    );
}

#[test]
fn the_appendable_logs_series_once_and_samples_per_commit() {
    let d = tempfile::tempdir().unwrap();
    let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
    let sink = WalAppendable::primary(wal.clone());
    let l = labels(7);
    let mut r = 0;
    for t in 0..3 {
        let mut app = sink.appender();
        r = app.append(r, &l, t, 1.0).unwrap();
        app.commit().unwrap();
    }
    let mut reader = Reader::new(wal.clone(), Position::default(), false);
    let mut recs = Vec::new();
    while let Some((rec, _)) = reader.next() {
        recs.push(rec);
    }
    assert_eq!(recs.len(), 4, "{recs:?}");
    assert_eq!(recs[0], Record::Series(vec![(r, l)]));
    assert_eq!(
        recs[3],
        Record::Samples(vec![RefSample {
            series: r,
            t_ms: 2,
            value: 1.0
        }])
    );
    // Appended with a store's ref next to a store: one series record per ref.
    let sink = WalAppendable::secondary(wal.clone());
    for t in 10..12 {
        let mut app = sink.appender();
        app.append(99, &labels(99), t, 2.0).unwrap();
        app.commit().unwrap();
    }
    let mut n_series = 0;
    while let Some((rec, _)) = reader.next() {
        if let Record::Series(s) = rec {
            n_series += s.len();
        }
    }
    assert_eq!(n_series, 1);
    let _ = Duration::ZERO;
}

/// Regression: a store hands out the same refs again after a restart; logged under them, a
/// checkpoint covering both runs gave the first run's samples the second run's labels.
#[test]
fn store_refs_reused_after_a_restart_keep_their_own_labels() {
    let d = tempfile::tempdir().unwrap();
    let opts = WalOptions {
        keep_samples_within: Some(Duration::from_secs(3600)),
        ..WalOptions::default()
    };
    for (t, name) in [(1_000, "a"), (2_000, "b")] {
        let wal = Wal::open(d.path(), opts.clone()).unwrap();
        let sink = WalAppendable::secondary(wal.clone());
        let mut app = sink.appender();
        // The same store ref, 5, for another series in each run.
        app.append(5, &Labels::from_pairs([("__name__", name)]), t, 1.0)
            .unwrap();
        app.commit().unwrap();
        wal.close();
    }
    let wal = Wal::open(d.path(), opts).unwrap();
    assert_eq!(
        wal.truncate().unwrap().upto,
        Some(1),
        "both runs' segments checkpointed"
    );
    let mut r = Reader::new(wal.clone(), Position::default(), true);
    let mut names = std::collections::HashMap::new();
    let mut got = Vec::new();
    while let Some((rec, _)) = r.next() {
        match rec {
            Record::Series(s) => names.extend(s),
            Record::Samples(s) => {
                for x in s {
                    let l = names.get(&x.series).and_then(|l| l.get("__name__"));
                    got.push((l.map(str::to_owned), x.t_ms));
                }
            }
        }
    }
    assert_eq!(
        got,
        [(Some("a".to_owned()), 1_000), (Some("b".to_owned()), 2_000)]
    );
}
