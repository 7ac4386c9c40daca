//! Differential test against the `prometheus-parse` crate on generated valid text: both must
//! yield the same samples (name, labels, value, timestamp) in the same order.
//!
//! The generator stays inside what `prometheus-parse` gets right. Cases it gets wrong, and
//! therefore skipped here (each is covered by this crate's own tests instead):
//! - histograms and summaries: it folds buckets/quantiles into one sample per series;
//! - label values with `\` escapes (not decoded) or containing `,`, `=` or `}` (it splits the
//!   label set naively on `,` and `=` and ends it at the first `}`);
//! - blanks around `=` or after `,` (they end up inside its label names);
//! - `{}` and metric names with `:` (its `\w+` regex does not match; the line is dropped);
//! - quoted UTF-8 names (Prometheus 3 syntax it predates);
//! - samples without a timestamp get "now" there; only explicit timestamps are compared.

use std::collections::HashMap;

use proptest::prelude::*;
use scrapeline_exposition::parser::{Entry, Format, Parser};
use scrapeline_exposition::value::format_value;

#[derive(Debug, Clone)]
struct Line {
    name: String,
    labels: Vec<(String, String)>,
    trailing_comma: bool,
    value: String,
    timestamp: Option<i64>,
}

fn value_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(|v| {
                let mut s = String::new();
                format_value(v, &mut s);
                s
            }),
        (-100_000i64..100_000).prop_map(|v| v.to_string()),
        Just("NaN".to_string()),
        Just("+Inf".to_string()),
        Just("-Inf".to_string()),
        Just("1.50".to_string()),
        Just("2.5E+11".to_string()),
        Just("1e-3".to_string()),
        Just("-0".to_string()),
    ]
}

fn line() -> impl Strategy<Value = Line> {
    (
        "[a-zA-Z_][a-zA-Z0-9_]{0,12}",
        prop::collection::btree_map(
            "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
            "[a-zA-Z0-9 _./:;#{@é€日本-]{0,12}",
            0..5,
        ),
        any::<bool>(),
        value_text(),
        prop::option::of(0i64..4_000_000_000_000),
    )
        .prop_map(|(name, labels, trailing_comma, value, timestamp)| Line {
            name,
            labels: labels.into_iter().collect(),
            trailing_comma,
            value,
            timestamp,
        })
}

fn render(lines: &[Line], kinds: &[&str]) -> String {
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let kind = kinds[i % kinds.len()];
        if kind != "none" {
            out.push_str(&format!(
                "# HELP {} Help for {}.\n# TYPE {} {kind}\n",
                l.name, l.name, l.name
            ));
        }
        out.push_str(&l.name);
        if !l.labels.is_empty() {
            out.push('{');
            let parts: Vec<String> = l
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            out.push_str(&parts.join(","));
            if l.trailing_comma {
                out.push(',');
            }
            out.push('}');
        }
        out.push(' ');
        out.push_str(&l.value);
        if let Some(ts) = l.timestamp {
            out.push_str(&format!(" {ts}"));
        }
        out.push('\n');
    }
    out
}

type Flat = (String, HashMap<String, String>, u64, Option<i64>);

fn canonical_bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

fn ours(body: &str) -> Vec<Flat> {
    let mut out = Vec::new();
    for e in Parser::new(body.as_bytes(), Format::Text) {
        if let Entry::Series(s) = e.expect("generated text is valid") {
            let labels = s
                .labels()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            out.push((
                s.name().into_owned(),
                labels,
                canonical_bits(s.value),
                s.timestamp_ms,
            ));
        }
    }
    out
}

fn theirs(body: &str, explicit_ts: &[bool]) -> Vec<Flat> {
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("in-memory lines");
    scrape
        .samples
        .into_iter()
        .zip(explicit_ts)
        .map(|(s, &has_ts)| {
            let v = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                other => panic!("generator made a folded type: {other:?}"),
            };
            let labels = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let ts = has_ts.then(|| s.timestamp.timestamp_millis());
            (s.metric, labels, canonical_bits(v), ts)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn same_samples_as_prometheus_parse(
        lines in prop::collection::vec(line(), 1..20),
        kinds in prop::collection::vec(prop::sample::select(vec!["none", "counter", "gauge", "untyped"]), 1..4),
    ) {
        let body = render(&lines, &kinds);
        let explicit: Vec<bool> = lines.iter().map(|l| l.timestamp.is_some()).collect();
        let a = ours(&body);
        let b = theirs(&body, &explicit);
        prop_assert_eq!(a.len(), lines.len());
        prop_assert_eq!(a, b, "{}", body);
    }
}
