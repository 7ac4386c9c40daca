//! Store semantics: commit/rollback, Prometheus' append rules, selection, retention.

use super::*;
use scrapeline_exposition::value::{is_stale_nan, stale_nan};

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn up(job: &str) -> Labels {
    l(&[("__name__", "up"), ("job", job)])
}

fn store() -> Store {
    Store::new(StoreConfig::default())
}

#[test]
fn commit_makes_a_batch_visible_and_rollback_drops_it() {
    let s = store();
    let mut app = s.appender();
    app.append(0, &up("a"), 1000, 1.0).unwrap();
    app.append(0, &up("b"), 1000, 0.0).unwrap();
    assert_eq!(s.select(&[], 0, 10_000), vec![]);
    app.commit().unwrap();
    let got = s.select(&[Matcher::equal("__name__", "up")], 0, 10_000);
    assert_eq!(
        got,
        vec![
            SeriesSamples {
                labels: up("a"),
                samples: vec![(1000, 1.0)]
            },
            SeriesSamples {
                labels: up("b"),
                samples: vec![(1000, 0.0)]
            },
        ]
    );
    app.append(0, &up("a"), 2000, 5.0).unwrap();
    app.rollback();
    app.commit().unwrap();
    assert_eq!(
        s.select(&[Matcher::equal("job", "a")], 0, 10_000)[0].samples,
        vec![(1000, 1.0)]
    );
    // A rolled-back sample does not block a later one at the same timestamp.
    app.append(0, &up("a"), 2000, 6.0).unwrap();
    app.commit().unwrap();
    assert_eq!(
        s.select(&[Matcher::equal("job", "a")], 0, 10_000)[0].samples,
        vec![(1000, 1.0), (2000, 6.0)]
    );
}

#[test]
fn refs_are_stable_and_checked_against_labels() {
    let s = store();
    let mut app = s.appender();
    let r = app.append(0, &up("a"), 1000, 1.0).unwrap();
    assert_ne!(r, 0);
    assert_eq!(app.append(r, &up("a"), 2000, 1.0).unwrap(), r);
    // A ref handed back with other labels is not trusted.
    let r2 = app.append(r, &up("b"), 2000, 1.0).unwrap();
    assert_ne!(r2, r);
    app.commit().unwrap();
    let mut app = s.appender();
    assert_eq!(app.append(0, &up("a"), 3000, 1.0).unwrap(), r);
    assert_eq!(
        app.append(0, &Labels::empty(), 3000, 1.0),
        Err(AppendError::Other("empty labelset".into()))
    );
}

#[test]
fn prometheus_append_rules() {
    let s = store();
    let mut app = s.appender();
    let r = app.append(0, &up("a"), 10_000, 1.0).unwrap();
    app.commit().unwrap();
    assert_eq!(
        app.append(r, &up("a"), 9_999, 1.0),
        Err(AppendError::OutOfOrder)
    );
    assert_eq!(
        app.append(r, &up("a"), 10_000, 2.0),
        Err(AppendError::Duplicate)
    );
    // An exact repeat is accepted and ignored.
    assert_eq!(app.append(r, &up("a"), 10_000, 1.0), Ok(r));
    // Within one batch too.
    app.append(r, &up("a"), 11_000, 3.0).unwrap();
    assert_eq!(
        app.append(r, &up("a"), 10_500, 3.0),
        Err(AppendError::OutOfOrder)
    );
    assert_eq!(
        app.append(r, &up("a"), 11_000, 4.0),
        Err(AppendError::Duplicate)
    );
    app.commit().unwrap();
    // Staleness markers are samples like any other; a repeated marker is an exact repeat.
    app.append(r, &up("a"), 12_000, stale_nan()).unwrap();
    assert_eq!(app.append(r, &up("a"), 12_000, stale_nan()), Ok(r));
    app.commit().unwrap();
    let got = s.select(&[Matcher::equal("job", "a")], 0, 20_000);
    assert_eq!(got[0].samples.len(), 3);
    assert!(is_stale_nan(got[0].samples[2].1));
    assert_eq!(got[0].samples[2].0, 12_000);
    let mut text = String::new();
    s.write_metrics(&mut text);
    assert!(
        text.contains("\nscrapeline_store_out_of_order_samples_total 2\n"),
        "{text}"
    );
    assert!(
        text.contains("\nscrapeline_store_duplicate_samples_total 2\n"),
        "{text}"
    );
    assert!(
        text.contains("\nscrapeline_store_samples_appended_total 3\n"),
        "{text}"
    );
}

#[test]
fn out_of_bounds_and_retention() {
    let s = Store::new(StoreConfig {
        retention: Duration::from_secs(60),
        shards: 4,
    });
    let mut app = s.appender();
    for i in 0..300 {
        app.append(0, &up("a"), i * 1000, i as f64).unwrap();
    }
    app.commit().unwrap();
    assert_eq!(s.max_time(), Some(299_000));
    assert_eq!(
        app.append(0, &up("b"), 238_999, 1.0),
        Err(AppendError::OutOfBounds)
    );
    app.append(0, &up("b"), 239_000, 1.0).unwrap();
    app.commit().unwrap();
    assert_eq!(s.stats().samples, 301);
    s.truncate();
    // Whole chunks of 120 samples that ended before 239s are gone: [0,120s) and [120s,240s)
    // stays because it ends after the cutoff.
    let got = s.select(&[Matcher::equal("job", "a")], i64::MIN, i64::MAX);
    assert_eq!(got[0].samples.first(), Some(&(120_000, 120.0)));
    assert_eq!(got[0].samples.len(), 180);
    assert_eq!(s.stats().samples, 181);
    assert_eq!(s.stats().series, 2);
}

#[test]
fn selection_by_every_matcher_kind() {
    let s = store();
    let mut app = s.appender();
    for (name, job) in [
        ("up", "a"),
        ("up", "b"),
        ("http_requests", "a"),
        ("other", "c"),
    ] {
        app.append(0, &l(&[("__name__", name), ("job", job)]), 1000, 1.0)
            .unwrap();
    }
    app.commit().unwrap();
    let names = |m: Vec<Matcher>| -> Vec<String> {
        s.select(&m, 0, 2000)
            .iter()
            .map(|x| x.labels.to_string())
            .collect()
    };
    assert_eq!(
        names(vec![
            Matcher::equal("__name__", "up"),
            Matcher::not_equal("job", "a")
        ]),
        vec![r#"{__name__="up", job="b"}"#]
    );
    assert_eq!(
        names(vec![Matcher::regex("__name__", "u.|oth.*").unwrap()]),
        vec![
            r#"{__name__="other", job="c"}"#,
            r#"{__name__="up", job="a"}"#,
            r#"{__name__="up", job="b"}"#
        ]
    );
    assert_eq!(
        names(vec![Matcher::not_regex("job", "a|b").unwrap()]),
        vec![r#"{__name__="other", job="c"}"#]
    );
    assert_eq!(
        names(vec![Matcher::equal("__name__", "nope")]),
        Vec::<String>::new()
    );
    // Time range outside the data selects nothing.
    assert_eq!(s.select(&[], 2000, 3000), vec![]);
    assert_eq!(s.label_names(&[], 0, 2000), vec!["__name__", "job"]);
    assert_eq!(s.label_values("job", &[], 0, 2000), vec!["a", "b", "c"]);
    assert_eq!(
        s.label_values("job", &[vec![Matcher::equal("__name__", "up")]], 0, 2000),
        vec!["a", "b"]
    );
    assert_eq!(
        s.series(
            &[
                vec![Matcher::equal("job", "c")],
                vec![Matcher::equal("__name__", "http_requests")]
            ],
            0,
            2000
        ),
        vec![
            l(&[("__name__", "http_requests"), ("job", "a")]),
            l(&[("__name__", "other"), ("job", "c")])
        ]
    );
}

#[test]
fn latest_sample_in_a_window() {
    let s = store();
    let mut app = s.appender();
    for i in 1..=250 {
        app.append(0, &up("a"), i * 10, i as f64).unwrap();
    }
    app.commit().unwrap();
    let m = [Matcher::equal("job", "a")];
    assert_eq!(s.latest(&m, 0, 10_000), vec![(up("a"), 2500, 250.0)]);
    assert_eq!(s.latest(&m, 0, 1005), vec![(up("a"), 1000, 100.0)]);
    assert_eq!(s.latest(&m, 0, 1200), vec![(up("a"), 1200, 120.0)]);
    assert_eq!(s.latest(&m, 1201, 1209), vec![]);
    assert_eq!(s.latest(&m, 0, 5), vec![]);
}

#[test]
fn memory_is_reported_per_series_and_per_sample() {
    let s = store();
    let mut app = s.appender();
    for i in 0..1000 {
        for j in 0..10 {
            app.append(
                0,
                &l(&[("__name__", "m"), ("i", &j.to_string())]),
                i * 15_000,
                1.0,
            )
            .unwrap();
        }
    }
    app.commit().unwrap();
    let st = s.stats();
    assert_eq!((st.series, st.samples, st.chunks), (10, 10_000, 10 * 9));
    // A constant series at a steady interval: 2 bytes a sample plus the first sample of a chunk.
    assert!(st.sample_bytes < 10_000 * 3, "{st:?}");
    let mut text = String::new();
    s.write_metrics(&mut text);
    assert!(
        text.contains(
            "# TYPE scrapeline_store_bytes_per_sample gauge\nscrapeline_store_bytes_per_sample 2."
        ),
        "{text}"
    );
    assert!(text.contains("\nscrapeline_store_series 10\n"));
}

#[test]
fn concurrent_scrapes_and_readers() {
    let s = store();
    let mut handles = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        handles.push(std::thread::spawn(move || {
            let mut app = s.appender();
            let mut refs = vec![0; 50];
            for t in 1..=200 {
                for (i, r) in refs.iter_mut().enumerate() {
                    let ls = l(&[
                        ("__name__", "m"),
                        ("w", &w.to_string()),
                        ("i", &i.to_string()),
                    ]);
                    *r = app.append(*r, &ls, t, t as f64).unwrap();
                }
                app.commit().unwrap();
            }
        }));
    }
    let reader = {
        let s = s.clone();
        std::thread::spawn(move || {
            for _ in 0..200 {
                // Every commit is all-or-nothing per shard (a read locks one shard at a
                // time): a writer's series within one shard always have the same newest
                // timestamp.
                for w in 0..4 {
                    let got = s.latest(&[Matcher::equal("w", &w.to_string())], 0, i64::MAX);
                    let mut by_shard = std::collections::BTreeMap::new();
                    for (labels, t, _) in &got {
                        let shard = labels.stable_hash() % s.shard_count() as u64;
                        by_shard
                            .entry(shard)
                            .or_insert_with(std::collections::BTreeSet::new)
                            .insert(*t);
                    }
                    for ts in by_shard.values() {
                        assert!(ts.len() <= 1, "torn commit within a shard: {ts:?}");
                    }
                }
            }
        })
    };
    for h in handles {
        h.join().unwrap();
    }
    reader.join().unwrap();
    assert_eq!(s.stats().samples, 4 * 50 * 200);
}

/// Two series whose labels share a hash (forced here; real 64-bit collisions are rare) are
/// both found, each by its own labels, and removing one leaves the other findable.
#[test]
fn series_sharing_a_hash() {
    let mut shard = Shard::default();
    let (a, b) = (up("a"), up("b"));
    let la = shard.insert(42, &a, 0).unwrap();
    let lb = shard.insert(42, &b, 0).unwrap();
    assert_ne!(la.slot, lb.slot);
    assert_eq!(shard.find(42, &a), Some(la));
    assert_eq!(shard.find(42, &b), Some(lb));
    assert_eq!(shard.find(42, &up("c")), None);
    // `remove` finds the index entry by the labels' real hash: give the table one.
    let mut shard = Shard::default();
    let la = shard.insert(a.stable_hash(), &a, 0).unwrap();
    let lb = shard.insert(a.stable_hash(), &b, 0).unwrap();
    shard.remove(la.slot);
    assert_eq!(shard.find(a.stable_hash(), &a), None);
    assert_eq!(shard.find(a.stable_hash(), &b), Some(lb));
    assert_eq!(
        shard.by_name.get("up").map(Vec::as_slice),
        Some(&[lb.slot][..])
    );
    shard.remove(lb.slot);
    assert_eq!(shard.find(a.stable_hash(), &b), None);
    assert!(shard.by_name.is_empty());
}

/// A series' bookkeeping fits in 72 bytes of slab (labels handle, sealed chunk list, the open
/// chunk's buffer and encoder state, creation time, slot generation).
#[test]
fn series_slot_size() {
    assert_eq!(slab::slot_size::<Series>(), 72);
    assert_eq!(std::mem::size_of::<Chunk>(), 40);
}

/// Stats count exactly what is held: slots, labels, index entries, sealed chunk headers, and
/// the encoded bytes (the open chunk's spare room included, a sealed chunk's exact).
#[test]
fn stats_are_exact() {
    let s = Store::new(StoreConfig {
        retention: Duration::from_secs(3600),
        shards: 1,
    });
    let labels = up("a");
    let mut app = s.appender();
    for i in 0..3 {
        app.append(0, &labels, i * 15_000, 1.0).unwrap();
    }
    app.commit().unwrap();
    let per_series = 72 + labels.heap_bytes() as u64 + 9;
    // A 3-byte header, the first sample 1 + 8 bytes, then 3 + 1, then 1 + 1: 18 bytes, in a
    // buffer grown from 16 to the next size class (24).
    assert_eq!(
        s.stats(),
        StoreStats {
            series: 1,
            samples: 3,
            chunks: 1,
            series_bytes: per_series,
            sample_bytes: 24,
        }
    );
    for i in 3..121 {
        app.append(0, &labels, i * 15_000, 1.0).unwrap();
    }
    app.commit().unwrap();
    // 120 samples sealed (9 + 4 + 118 * 2 bytes, exactly, plus a 40-byte chunk header in a
    // 16-byte list), the 121st opens a new chunk (3 + 9 bytes in a 16-byte buffer).
    assert_eq!(
        s.stats(),
        StoreStats {
            series: 1,
            samples: 121,
            chunks: 2,
            series_bytes: per_series + 16 + 40,
            sample_bytes: (9 + 4 + 118 * 2) + 16,
        }
    );
}

/// A series with several full chunks: ranges and instant lookups across chunk boundaries
/// read exactly the right samples from the sealed chunks and the open one.
#[test]
fn queries_across_sealed_chunks() {
    let s = store();
    let mut app = s.appender();
    // t = i s, v = i: chunks [0, 119], [120, 239] sealed, [240, 299] open.
    for i in 0..300 {
        app.append(0, &up("a"), i * 1000, i as f64).unwrap();
    }
    app.commit().unwrap();
    assert_eq!(s.stats().chunks, 3);
    let m = [Matcher::equal("job", "a")];
    let range = |a: i64, b: i64| -> Vec<(i64, f64)> {
        s.select(&m, a, b)
            .into_iter()
            .flat_map(|x| x.samples)
            .collect()
    };
    let want =
        |a: i64, b: i64| -> Vec<(i64, f64)> { (a..=b).map(|i| (i * 1000, i as f64)).collect() };
    assert_eq!(range(118_000, 122_000), want(118, 122));
    assert_eq!(range(238_500, 241_000), want(239, 241));
    assert_eq!(range(0, 299_000), want(0, 299));
    assert_eq!(range(119_001, 119_999), vec![]);
    assert_eq!(range(299_001, 400_000), vec![]);
    let latest = |a: i64, b: i64| s.latest(&m, a, b).first().map(|x| (x.1, x.2));
    assert_eq!(latest(0, 119_999), Some((119_000, 119.0)));
    assert_eq!(latest(0, 120_000), Some((120_000, 120.0)));
    assert_eq!(latest(0, 239_999), Some((239_000, 239.0)));
    assert_eq!(latest(0, 240_500), Some((240_000, 240.0)));
    assert_eq!(latest(0, 1_000_000), Some((299_000, 299.0)));
    assert_eq!(latest(119_500, 119_900), None);
    assert_eq!(latest(-5, -1), None);
    assert_eq!(
        s.series(&[m.to_vec()], 119_001, 119_999),
        Vec::<Labels>::new()
    );
    assert_eq!(s.series(&[m.to_vec()], 250_000, 250_000), vec![up("a")]);
    assert_eq!(s.series(&[m.to_vec()], 100_000, 100_000), vec![up("a")]);
}

/// Retention removes series whose samples all expired; their slots go to the next new
/// series under a new generation, so neither an old ref nor a batch still holding one can
/// reach the new tenant.
#[test]
fn slots_are_reused_after_retention() {
    let s = Store::with_grace(
        StoreConfig {
            retention: Duration::from_secs(60),
            shards: 1,
        },
        Duration::ZERO,
    );
    let mut app = s.appender();
    let old = app.append(0, &up("old"), 0, 1.0).unwrap();
    app.commit().unwrap();
    app.append(0, &up("keep"), 100_000, 2.0).unwrap();
    app.commit().unwrap();
    // A scrape that appended to "old" but has not committed when retention runs.
    let mut late = s.appender();
    assert_eq!(late.append(old, &up("old"), 50_000, 7.0), Ok(old));
    assert_eq!(s.truncate(), 1);
    assert_eq!(s.stats().series, 1);
    let mut text = String::new();
    s.write_metrics(&mut text);
    assert!(
        text.contains("\nscrapeline_store_series_removed_total 1\n"),
        "{text}"
    );
    // The next new series takes the freed slot, under a new generation.
    let new = app.append(0, &up("new"), 100_000, 3.0).unwrap();
    app.commit().unwrap();
    let (o, n) = (Loc::from_ref(old), Loc::from_ref(new));
    assert_eq!((o.shard, o.slot), (n.shard, n.slot));
    assert_eq!((o.generation, n.generation), (1, 2));
    // The late batch's sample for the removed series goes nowhere.
    late.commit().unwrap();
    let all = s.select(&[], i64::MIN, i64::MAX);
    assert_eq!(
        all,
        vec![
            SeriesSamples {
                labels: up("keep"),
                samples: vec![(100_000, 2.0)]
            },
            SeriesSamples {
                labels: up("new"),
                samples: vec![(100_000, 3.0)]
            },
        ]
    );
    // The old ref with the old labels: not the new tenant; the series is created again.
    let again = app.append(old, &up("old"), 60_000, 4.0).unwrap();
    assert_ne!(again, old);
    assert_ne!(again, new);
    app.commit().unwrap();
    assert_eq!(s.stats().series, 3);
    assert_eq!(
        s.select(&[Matcher::equal("job", "new")], i64::MIN, i64::MAX)[0].samples,
        vec![(100_000, 3.0)]
    );
}

/// Empty series are kept during their grace period, then collected.
#[test]
fn empty_series_wait_for_their_grace_period() {
    let s = Store::new(StoreConfig {
        retention: Duration::from_secs(60),
        shards: 2,
    });
    let mut app = s.appender();
    app.append(0, &up("old"), 0, 1.0).unwrap();
    app.append(0, &up("keep"), 100_000, 2.0).unwrap();
    app.commit().unwrap();
    assert_eq!(s.truncate(), 0);
    // "old" lost its samples but is young: still a series, without samples.
    assert_eq!(s.stats().series, 2);
    assert_eq!(s.stats().samples, 1);
    assert_eq!(
        s.select(&[Matcher::equal("job", "old")], i64::MIN, i64::MAX),
        vec![]
    );
    assert_eq!(
        s.latest(&[Matcher::equal("job", "old")], i64::MIN, i64::MAX),
        vec![]
    );
}

/// An appender dropped without committing leaves nothing behind, in the store or in the
/// buffers the next appender reuses.
#[test]
fn recycled_batch_buffers_start_empty() {
    let s = store();
    let mut a = s.appender();
    a.append(0, &up("a"), 10_000, 1.0).unwrap();
    a.append(0, &up("b"), 10_000, 1.0).unwrap();
    drop(a);
    let mut b = s.appender();
    // Earlier than a's uncommitted sample: refused only if a's batch had leaked into b's.
    b.append(0, &up("a"), 5_000, 2.0).unwrap();
    b.commit().unwrap();
    drop(b);
    let mut c = s.appender();
    c.commit().unwrap();
    assert_eq!(
        s.select(&[Matcher::equal("__name__", "up")], 0, 20_000),
        vec![SeriesSamples {
            labels: up("a"),
            samples: vec![(5_000, 2.0)]
        }]
    );
}

#[test]
fn metadata_is_kept_per_family_on_commit_only() {
    use scrapeline_scrape::{Metadata, MetricType};
    let store = Store::new(StoreConfig::default());
    let m = |help: &str| Metadata {
        family: "reqs".into(),
        kind: MetricType::Counter,
        help: help.into(),
        unit: String::new(),
    };
    let l = Labels::from_pairs([("__name__", "reqs_total")]);
    let mut app = store.appender();
    let r = app.append(0, &l, 1000, 1.0).unwrap();
    app.update_metadata(r, &l, &m("Requests.")).unwrap();
    app.rollback();
    assert_eq!(store.metadata(), vec![]);
    let mut app = store.appender();
    let r = app.append(0, &l, 1000, 1.0).unwrap();
    app.update_metadata(r, &l, &m("Requests.")).unwrap();
    app.update_metadata(r, &l, &m("Requests.")).unwrap();
    app.commit().unwrap();
    // A second target disagreeing about the help text: both versions are listed.
    let mut app = store.appender();
    app.update_metadata(r, &l, &m("Other.")).unwrap();
    app.update_metadata(r, &l, &m("Requests.")).unwrap();
    app.commit().unwrap();
    assert_eq!(
        store.metadata(),
        vec![("reqs".to_string(), vec![m("Requests."), m("Other.")])]
    );
}
