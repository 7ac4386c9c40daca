//! The sample pipeline and scrape cache on their own: staleness, duplicates, limits,
//! honor_labels / honor_timestamps, the series cache (Prometheus' scrape_test.go cases).

mod common;

use common::{Recorder, lines};
use scrapeline_exposition::{Format, Labels};
use scrapeline_scrape::Appendable;
use scrapeline_scrape::pipeline::{
    AppendStats, PipelineConfig, PipelineError, ScrapeCache, Scratch,
};

struct Harness {
    rec: Recorder,
    cache: ScrapeCache,
    scratch: Scratch,
    cfg: PipelineConfig,
    target: Labels,
}

impl Harness {
    fn new(cfg: PipelineConfig) -> Self {
        Harness {
            rec: Recorder::default(),
            cache: ScrapeCache::new(),
            scratch: Scratch::default(),
            cfg,
            target: Labels::from_pairs([("instance", "h:1"), ("job", "j")]),
        }
    }

    /// One scrape as the loop runs it: append, on error roll back and stale on a fresh
    /// appender; then commit.
    fn scrape(&mut self, body: &str, ts: i64) -> (AppendStats, Result<(), PipelineError>) {
        let mut app = self.rec.appender();
        let (st, r) = self.cache.append_body(
            &self.cfg,
            &self.target,
            body.as_bytes(),
            Format::Text,
            ts,
            app.as_mut(),
            &mut self.scratch,
        );
        if r.is_err() {
            app.rollback();
            app = self.rec.appender();
            self.cache.append_empty(app.as_mut(), ts).unwrap();
        }
        app.commit().unwrap();
        (st, r)
    }

    fn last(&self) -> Vec<String> {
        lines(self.rec.batches().last().unwrap())
    }
}

fn cfg() -> PipelineConfig {
    PipelineConfig {
        honor_timestamps: true,
        ..PipelineConfig::default()
    }
}

#[test]
fn attaches_target_labels_and_stales_vanished_series() {
    let mut h = Harness::new(cfg());
    let (st, r) = h.scrape("a 1\nb{x=\"y\"} 2\n", 1000);
    assert_eq!(r, Ok(()));
    assert_eq!(
        st,
        AppendStats {
            total: 2,
            added: 2,
            series_added: 2,
            ..AppendStats::default()
        }
    );
    assert_eq!(
        h.last(),
        vec![
            r#"{__name__="a", instance="h:1", job="j"} 1@1000"#,
            r#"{__name__="b", instance="h:1", job="j", x="y"} 2@1000"#,
        ]
    );
    // b vanishes: stale marker at the next scrape's timestamp; a is cached (no series added).
    let (st, _) = h.scrape("a 3\n", 2000);
    assert_eq!((st.total, st.added, st.series_added), (1, 1, 0));
    assert_eq!(
        h.last(),
        vec![
            r#"{__name__="a", instance="h:1", job="j"} 3@2000"#,
            r#"{__name__="b", instance="h:1", job="j", x="y"} stale@2000"#,
        ]
    );
    // Empty body: everything stale, no error.
    let (st, r) = h.scrape("", 3000);
    assert_eq!((st.total, r), (0, Ok(())));
    assert_eq!(
        h.last(),
        vec![r#"{__name__="a", instance="h:1", job="j"} stale@3000"#]
    );
    // A second empty scrape writes nothing.
    assert_eq!(h.scrape("", 4000).1, Ok(()));
    assert_eq!(h.last(), Vec::<String>::new());
}

#[test]
fn explicit_timestamps_are_not_tracked_unless_asked() {
    let mut h = Harness::new(cfg());
    assert_eq!(h.scrape("a 1 500\nb 2\n", 1000).1, Ok(()));
    assert_eq!(
        h.last(),
        vec![
            r#"{__name__="a", instance="h:1", job="j"} 1@500"#,
            r#"{__name__="b", instance="h:1", job="j"} 2@1000"#,
        ]
    );
    assert_eq!(h.scrape("\n", 2000).1, Ok(()));
    // Only b (no explicit timestamp) gets a stale marker. "\n" is a non-empty body with no
    // samples: a successful scrape.
    assert_eq!(
        h.last(),
        vec![r#"{__name__="b", instance="h:1", job="j"} stale@2000"#]
    );

    let mut h = Harness::new(PipelineConfig {
        track_timestamps_staleness: true,
        ..cfg()
    });
    assert_eq!(h.scrape("a 1 500\n", 1000).1, Ok(()));
    assert_eq!(h.scrape("\n", 2000).1, Ok(()));
    assert_eq!(
        h.last(),
        vec![r#"{__name__="a", instance="h:1", job="j"} stale@2000"#]
    );
}

#[test]
fn honor_timestamps_false_uses_scrape_time() {
    let mut h = Harness::new(PipelineConfig {
        honor_timestamps: false,
        ..cfg()
    });
    assert_eq!(h.scrape("a 1 500\n", 1000).1, Ok(()));
    assert_eq!(
        h.last(),
        vec![r#"{__name__="a", instance="h:1", job="j"} 1@1000"#]
    );
}

#[test]
fn duplicates_within_a_scrape_are_dropped_and_counted() {
    // TestScrapeLoopSeriesAddedDuplicates: 3,3,1 then 3,3,0.
    let mut h = Harness::new(cfg());
    let body = "test_metric 1\ntest_metric 2\ntest_metric 3\n";
    let (st, r) = h.scrape(body, 1000);
    assert_eq!(r, Ok(()));
    assert_eq!(
        (st.total, st.added, st.series_added, st.duplicates),
        (3, 3, 1, 2)
    );
    assert_eq!(
        h.last(),
        vec![r#"{__name__="test_metric", instance="h:1", job="j"} 1@1000"#]
    );
    let (st, _) = h.scrape(body, 2000);
    assert_eq!(
        (st.total, st.added, st.series_added, st.duplicates),
        (3, 3, 0, 2)
    );
}

#[test]
fn sample_limit_fails_the_scrape_but_counts_everything() {
    // TestScrapeLoopAppendSampleLimit: limit 1, 3 samples -> total 3, added 3, seriesAdded 1.
    let mut h = Harness::new(PipelineConfig {
        sample_limit: 1,
        ..cfg()
    });
    let (st, r) = h.scrape("metric_a 1\nmetric_b 1\nmetric_c 1\n", 1000);
    assert_eq!(r, Err(PipelineError::SampleLimit));
    assert_eq!(r.unwrap_err().to_string(), "sample limit exceeded");
    assert_eq!((st.total, st.added, st.series_added), (3, 3, 1));
    // Rolled back: nothing committed.
    assert_eq!(h.last(), Vec::<String>::new());
}

#[test]
fn sample_limit_overflow_after_success_stales_nothing() {
    // TestScrapeLoopRunCreatesStaleMarkersOnSampleLimit.
    let mut h = Harness::new(PipelineConfig {
        sample_limit: 4,
        ..cfg()
    });
    assert_eq!(h.scrape("a 1\nb 1\nc 1\nd 1\n", 1000).1, Ok(()));
    let (_, r) = h.scrape("a 1\nb 1\nc 1\nd 1\ne 1\n", 2000);
    assert_eq!(r, Err(PipelineError::SampleLimit));
    assert_eq!(h.last(), Vec::<String>::new());
}

#[test]
fn failed_parse_stales_what_was_not_seen_before_the_error() {
    let mut h = Harness::new(cfg());
    assert_eq!(h.scrape("a 1\nb 1\n", 1000).1, Ok(()));
    let (st, r) = h.scrape("a 2\nb {{{ broken\n", 2000);
    assert!(matches!(r, Err(PipelineError::Parse(_))), "{r:?}");
    assert_eq!(st.total, 1);
    // a was appended (then rolled back) before the failure: not staled; b is.
    assert_eq!(
        h.last(),
        vec![r#"{__name__="b", instance="h:1", job="j"} stale@2000"#]
    );
    // Next good scrape: a and b are back.
    assert_eq!(h.scrape("a 3\nb 3\n", 3000).1, Ok(()));
    assert_eq!(
        h.last(),
        vec![
            r#"{__name__="a", instance="h:1", job="j"} 3@3000"#,
            r#"{__name__="b", instance="h:1", job="j"} 3@3000"#,
        ]
    );
}

#[test]
fn honor_labels_false_renames_conflicts() {
    let mut h = Harness::new(cfg());
    assert_eq!(
        h.scrape("m{job=\"scraped\",instance=\"x\"} 1\n", 1000).1,
        Ok(())
    );
    assert_eq!(
        h.last(),
        vec![
            r#"{__name__="m", exported_instance="x", exported_job="scraped", instance="h:1", job="j"} 1@1000"#
        ]
    );
    let mut h = Harness::new(PipelineConfig {
        honor_labels: true,
        ..cfg()
    });
    assert_eq!(h.scrape("m{job=\"scraped\"} 1\n", 1000).1, Ok(()));
    assert_eq!(
        h.last(),
        vec![r#"{__name__="m", instance="h:1", job="scraped"} 1@1000"#]
    );
}

#[test]
fn label_limits_fail_the_scrape() {
    let mut h = Harness::new(PipelineConfig {
        label_limit: 3,
        ..cfg()
    });
    assert_eq!(h.scrape("ok 1\n", 1000).1, Ok(()));
    let (_, r) = h.scrape("ok 1\nm{a=\"1\"} 1\n", 2000);
    assert_eq!(
        r.unwrap_err().to_string(),
        "label_limit exceeded (metric: m, number of labels: 4, limit: 3)"
    );
}

#[test]
fn legacy_validation_rejects_utf8_names() {
    let mut h = Harness::new(PipelineConfig {
        validation: scrapeline_scrape::config::ValidationScheme::Legacy,
        ..cfg()
    });
    let (_, r) = h.scrape("{\"my.metric\"} 1\n", 1000);
    assert_eq!(
        r.unwrap_err().to_string(),
        r#"invalid metric name or label names: {__name__="my.metric", instance="h:1", job="j"}"#
    );
}

#[test]
fn report_series_carry_target_labels() {
    let mut h = Harness::new(cfg());
    let mut app = h.rec.appender();
    h.cache
        .append_report(app.as_mut(), &h.target, "up", 1000, 1.0)
        .unwrap();
    app.commit().unwrap();
    assert_eq!(
        h.last(),
        vec![r#"{__name__="up", instance="h:1", job="j"} 1@1000"#]
    );
}

#[test]
fn cache_reuses_labels_and_refs() {
    let mut h = Harness::new(cfg());
    let body: String = (0..100).map(|i| format!("m{{i=\"{i}\"}} {i}\n")).collect();
    let (st, _) = h.scrape(&body, 1000);
    assert_eq!(st.series_added, 100);
    assert_eq!(h.cache.len(), 100);
    let (st, _) = h.scrape(&body, 2000);
    assert_eq!((st.total, st.added, st.series_added), (100, 100, 0));
    assert_eq!(h.cache.len(), 100);
    // Vanished raw series are forgotten after a successful scrape.
    assert_eq!(h.scrape("m{i=\"1\"} 1\n", 3000).1, Ok(()));
    assert_eq!(h.cache.len(), 1);
}
