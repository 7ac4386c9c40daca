//! What the pipeline tells an appender besides samples: family metadata (for new series and
//! after a change only), exemplars and OpenMetrics created timestamps, in Prometheus' order.

use scrapeline_exposition::{Format, Labels};
use scrapeline_scrape::pipeline::{PipelineConfig, ScrapeCache, Scratch};
use scrapeline_scrape::{AppendError, Appender, Exemplar, Metadata, MetricType, SeriesRef};

/// Every call an appender received, in order, labels as text.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    Append(String, f64),
    Metadata(String, Metadata),
    Exemplar(String, Exemplar),
    Created(String, i64, i64),
}

#[derive(Default)]
struct Recording {
    calls: Vec<Call>,
    next_ref: u64,
}

impl Appender for Recording {
    fn append(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        _t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        self.calls.push(Call::Append(labels.to_string(), v));
        if series != 0 {
            return Ok(series);
        }
        self.next_ref += 1;
        Ok(self.next_ref)
    }
    fn update_metadata(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        metadata: &Metadata,
    ) -> Result<SeriesRef, AppendError> {
        self.calls
            .push(Call::Metadata(labels.to_string(), metadata.clone()));
        Ok(series)
    }
    fn append_exemplar(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        exemplar: &Exemplar,
    ) -> Result<SeriesRef, AppendError> {
        self.calls
            .push(Call::Exemplar(labels.to_string(), exemplar.clone()));
        Ok(series)
    }
    fn append_created_timestamp(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        t: i64,
        ct: i64,
    ) -> Result<SeriesRef, AppendError> {
        self.calls.push(Call::Created(labels.to_string(), t, ct));
        Ok(series)
    }
    fn commit(&mut self) -> Result<(), AppendError> {
        Ok(())
    }
    fn rollback(&mut self) {}
}

struct Target {
    cache: ScrapeCache,
    scratch: Scratch,
    app: Recording,
    cfg: PipelineConfig,
    labels: Labels,
}

impl Target {
    fn new() -> Self {
        Target {
            cache: ScrapeCache::new(),
            scratch: Scratch::default(),
            app: Recording::default(),
            cfg: PipelineConfig::default(),
            labels: Labels::from_pairs([("job", "j")]),
        }
    }

    /// One scrape; the calls other than plain appends.
    fn scrape(&mut self, body: &str, format: Format, ts: i64) -> Vec<Call> {
        self.app.calls.clear();
        let (_, r) = self.cache.append_body(
            &self.cfg,
            &self.labels,
            body.as_bytes(),
            format,
            ts,
            &mut self.app,
            &mut self.scratch,
        );
        assert_eq!(r, Ok(()));
        self.app
            .calls
            .iter()
            .filter(|c| !matches!(c, Call::Append(..)))
            .cloned()
            .collect()
    }
}

fn meta(family: &str, kind: MetricType, help: &str, unit: &str) -> Metadata {
    Metadata {
        family: family.into(),
        kind,
        help: help.into(),
        unit: unit.into(),
    }
}

fn md(series: &str, m: &Metadata) -> Call {
    Call::Metadata(series.into(), m.clone())
}

const TEXT: &str = "# HELP reqs_total Requests.\n# TYPE reqs_total counter\nreqs_total{code=\"200\"} 3\nreqs_total{code=\"500\"} 1\n# TYPE temp gauge\ntemp 21.5\nno_meta 1\n";

#[test]
fn text_metadata_per_series_once_then_on_change() {
    let mut t = Target::new();
    let counter = meta("reqs_total", MetricType::Counter, "Requests.", "");
    let gauge = meta("temp", MetricType::Gauge, "", "");
    assert_eq!(
        t.scrape(TEXT, Format::Text, 1000),
        vec![
            md(r#"{__name__="reqs_total", code="200", job="j"}"#, &counter),
            md(r#"{__name__="reqs_total", code="500", job="j"}"#, &counter),
            md(r#"{__name__="temp", job="j"}"#, &gauge),
        ]
    );
    // The same body again: nothing but samples.
    assert_eq!(t.scrape(TEXT, Format::Text, 2000), vec![]);
    // HELP changes: every series of that family hears of it, the others do not.
    let changed = TEXT.replace("Requests.", "All requests.");
    let counter2 = meta("reqs_total", MetricType::Counter, "All requests.", "");
    assert_eq!(
        t.scrape(&changed, Format::Text, 3000),
        vec![
            md(r#"{__name__="reqs_total", code="200", job="j"}"#, &counter2),
            md(r#"{__name__="reqs_total", code="500", job="j"}"#, &counter2),
        ]
    );
    assert_eq!(t.scrape(&changed, Format::Text, 4000), vec![]);
    // TYPE changes.
    let retyped = changed.replace("# TYPE temp gauge", "# TYPE temp untyped");
    assert_eq!(
        t.scrape(&retyped, Format::Text, 5000),
        vec![md(
            r#"{__name__="temp", job="j"}"#,
            &meta("temp", MetricType::Unknown, "", "")
        )]
    );
}

#[test]
fn openmetrics_metadata_exemplars_and_created_timestamps() {
    let body = "# TYPE rpc_seconds histogram\n# HELP rpc_seconds RPC latency.\n# UNIT rpc_seconds seconds\n\
rpc_seconds_bucket{le=\"0.5\"} 4 # {trace_id=\"abc\",span_id=\"1\"} 0.25 1700000000.5\n\
rpc_seconds_bucket{le=\"+Inf\"} 5\nrpc_seconds_count 5\nrpc_seconds_sum 1.5\nrpc_seconds_created 1699999000.25\n\
# TYPE jobs counter\njobs_total 7 # {trace_id=\"x\"} 1\njobs_created 1699990000\n# EOF\n";
    let mut t = Target::new();
    let hist = meta(
        "rpc_seconds",
        MetricType::Histogram,
        "RPC latency.",
        "seconds",
    );
    let counter = meta("jobs", MetricType::Counter, "", "");
    let ts = 1_700_000_001_000;
    let ct = |s: &str, ms: i64| Call::Created(s.into(), ts, ms);
    let b05 = r#"{__name__="rpc_seconds_bucket", job="j", le="0.5"}"#;
    let binf = r#"{__name__="rpc_seconds_bucket", job="j", le="+Inf"}"#;
    let count = r#"{__name__="rpc_seconds_count", job="j"}"#;
    let sum = r#"{__name__="rpc_seconds_sum", job="j"}"#;
    let jobs = r#"{__name__="jobs_total", job="j"}"#;
    let first = t.scrape(body, Format::OpenMetrics, ts);
    assert_eq!(
        first,
        vec![
            ct(b05, 1_699_999_000_250),
            Call::Exemplar(
                b05.into(),
                Exemplar {
                    labels: Labels::from_pairs([("span_id", "1"), ("trace_id", "abc")]),
                    value: 0.25,
                    timestamp_ms: Some(1_700_000_000_500),
                }
            ),
            md(b05, &hist),
            ct(binf, 1_699_999_000_250),
            md(binf, &hist),
            ct(count, 1_699_999_000_250),
            md(count, &hist),
            ct(sum, 1_699_999_000_250),
            md(sum, &hist),
            // The `_created` sample itself is still a sample (CT ingestion off, as in
            // Prometheus' default), and its name is its family's suffixed name.
            md(r#"{__name__="rpc_seconds_created", job="j"}"#, &hist),
            ct(jobs, 1_699_990_000_000),
            Call::Exemplar(
                jobs.into(),
                Exemplar {
                    labels: Labels::from_pairs([("trace_id", "x")]),
                    value: 1.0,
                    timestamp_ms: None,
                }
            ),
            md(jobs, &counter),
            md(r#"{__name__="jobs_created", job="j"}"#, &counter),
        ]
    );
    // Second scrape: created timestamps and exemplars again (they are per scrape), no
    // metadata.
    let second = t.scrape(body, Format::OpenMetrics, ts);
    assert!(second.iter().all(|c| !matches!(c, Call::Metadata(..))));
    assert_eq!(
        second
            .iter()
            .filter(|c| matches!(c, Call::Created(..)))
            .count(),
        5
    );
    assert_eq!(
        second
            .iter()
            .filter(|c| matches!(c, Call::Exemplar(..)))
            .count(),
        2
    );
}
