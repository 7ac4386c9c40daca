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
                // Every commit is all-or-nothing per writer: each writer's 50 series always
                // have the same newest timestamp.
                for w in 0..4 {
                    let got = s.latest(&[Matcher::equal("w", &w.to_string())], 0, i64::MAX);
                    let ts: std::collections::BTreeSet<i64> = got.iter().map(|x| x.1).collect();
                    assert!(ts.len() <= 1, "torn commit: {ts:?}");
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

/// The hash index's id lists: one id without an allocation, several on a hash collision,
/// back to one (and then empty) as they are removed.
#[test]
fn ids_sharing_a_hash() {
    let mut ids = Ids::One(7);
    assert_eq!(ids.iter().collect::<Vec<_>>(), [7]);
    ids.push(9);
    ids.push(11);
    assert_eq!(ids.iter().collect::<Vec<_>>(), [7, 9, 11]);
    assert!(!ids.remove(9));
    assert!(!ids.remove(7));
    assert!(matches!(ids, Ids::One(11)));
    assert!(!ids.remove(5), "an unknown id leaves the list as it was");
    assert!(ids.remove(11));
}
