//! parse(encode(x)) == x, in both formats, over generated families with awkward escapes,
//! UTF-8 names, NaN and infinities.

use proptest::prelude::*;
use scrapeline_exposition::encode::{encode_openmetrics, encode_text};
use scrapeline_exposition::family::{MetricFamily, OwnedExemplar, Sample, parse_families};
use scrapeline_exposition::labels::Labels;
use scrapeline_exposition::parser::{Format, MetricType};

/// Strings that stress escaping: quotes, backslashes (also before `n` and `"`), newlines,
/// tabs, `#`, braces, commas, equals signs, UTF-8.
fn awkward() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("\\".to_string()),
            Just("\"".to_string()),
            Just("\n".to_string()),
            Just("\\n".to_string()),
            Just("\\\"".to_string()),
            Just("\t".to_string()),
            Just(" # ".to_string()),
            Just("{}".to_string()),
            Just(",=".to_string()),
            Just("é€日本".to_string()),
            "[a-z0-9_./:-]{1,6}",
        ],
        1..5,
    )
    .prop_map(|v| v.concat())
}

/// Label names: legacy ones, and UTF-8 ones that need quoting.
fn label_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z_][a-zA-Z0-9_]{0,8}".prop_filter("reserved", |s| !s.starts_with("__")),
        1 => "[a-z]{1,4}[.\\- é€]{1,2}[a-z]{0,3}",
        1 => Just("quo\"te\\d".to_string()),
    ]
}

/// Family name stems: legacy or UTF-8.
fn stem() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z_:][a-zA-Z0-9_:]{0,10}",
        1 => "[a-z]{1,4}\\.[a-zé€ ]{1,4}",
        1 => Just("we\"ird\\name".to_string()),
    ]
}

fn value(non_negative: bool) -> BoxedStrategy<f64> {
    if non_negative {
        prop_oneof![
            Just(0.0),
            Just(f64::INFINITY),
            (0u32..10_000).prop_map(f64::from),
            (0.0f64..1e300),
            (0.0f64..1e-300),
        ]
        .boxed()
    } else {
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            any::<f64>().prop_filter("finite", |v| v.is_finite()),
            (-1000i32..1000).prop_map(f64::from),
        ]
        .boxed()
    }
}

/// Label sets (without `__name__`), non-empty values, distinct per family.
fn label_sets(n: usize) -> impl Strategy<Value = Vec<Vec<(String, String)>>> {
    prop::collection::vec(
        prop::collection::btree_map(label_name(), awkward(), 0..4),
        1..=n,
    )
    .prop_map(|sets| {
        let mut out: Vec<Vec<(String, String)>> = Vec::new();
        for s in sets {
            let v: Vec<_> = s.into_iter().collect();
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    })
}

#[derive(Debug, Clone)]
struct Spec {
    stem: String,
    kind: MetricType,
    help: Option<String>,
    with_unit: bool,
    sets: Vec<Vec<(String, String)>>,
    values: Vec<f64>,
    timestamps: Vec<Option<i64>>,
    exemplar: Option<(String, f64, Option<i64>)>,
}

fn spec(format: Format) -> impl Strategy<Value = Spec> {
    let kinds = match format {
        Format::Text => vec![MetricType::Gauge, MetricType::Counter, MetricType::Unknown],
        Format::OpenMetrics => vec![MetricType::Gauge, MetricType::Counter, MetricType::Unknown],
    };
    (
        stem(),
        prop::sample::select(kinds),
        prop::option::of(awkward()),
        any::<bool>(),
        label_sets(5),
    )
        .prop_flat_map(move |(stem, kind, help, with_unit, sets)| {
            let n = sets.len();
            let counter_om = format == Format::OpenMetrics && kind == MetricType::Counter;
            let ts = match format {
                Format::Text => (0i64..4_000_000_000_000).boxed(),
                Format::OpenMetrics => (-4_000_000_000_000i64..4_000_000_000_000).boxed(),
            };
            (
                Just((stem, kind, help, with_unit, sets)),
                prop::collection::vec(value(counter_om), n),
                prop::collection::vec(prop::option::of(ts), n),
                prop::option::of((
                    "[a-z]{1,8}",
                    value(false),
                    prop::option::of(0i64..4_000_000_000_000),
                )),
            )
        })
        .prop_map(
            move |((stem, kind, help, with_unit, sets), values, timestamps, exemplar)| Spec {
                stem,
                kind,
                // The text format cannot carry a HELP made only of blanks (the lexer drops it).
                help: help.filter(|h| {
                    format == Format::OpenMetrics
                        || h.is_empty()
                        || !h.trim_matches([' ', '\t']).is_empty()
                }),
                with_unit: with_unit && format == Format::OpenMetrics,
                sets,
                values,
                timestamps,
                exemplar: exemplar
                    .filter(|_| format == Format::OpenMetrics && kind == MetricType::Counter),
            },
        )
}

/// Builds families with names made unique by index (so no two clash in OpenMetrics).
fn build(specs: Vec<Spec>, format: Format) -> Vec<MetricFamily> {
    specs
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let name = format!("{}_f{i}", s.stem);
            let mut f = MetricFamily::new(name.clone(), s.kind);
            f.help = s.help;
            if s.with_unit {
                f.unit = Some(format!("f{i}"));
            }
            let sample_name = if format == Format::OpenMetrics && s.kind == MetricType::Counter {
                format!("{name}_total")
            } else {
                name.clone()
            };
            for (j, set) in s.sets.iter().enumerate() {
                let mut pairs = set.clone();
                pairs.push(("__name__".into(), sample_name.clone()));
                let exemplar = if j == 0 {
                    s.exemplar.clone().map(|(v, value, ts)| OwnedExemplar {
                        labels: Labels::from_pairs([("trace_id", v)]),
                        value,
                        timestamp_ms: ts,
                    })
                } else {
                    None
                };
                f.samples.push(Sample {
                    labels: Labels::from_pairs(pairs),
                    value: s.values[j],
                    timestamp_ms: s.timestamps[j],
                    exemplar,
                });
            }
            f
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn text_round_trip(specs in prop::collection::vec(spec(Format::Text), 1..5)) {
        let families = build(specs, Format::Text);
        let mut out = String::new();
        encode_text(&families, &mut out);
        let back = parse_families(out.as_bytes(), Format::Text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{out}")))?;
        prop_assert_eq!(back, families, "{}", out);
    }

    #[test]
    fn openmetrics_round_trip(specs in prop::collection::vec(spec(Format::OpenMetrics), 1..5)) {
        let families = build(specs, Format::OpenMetrics);
        let mut out = String::new();
        encode_openmetrics(&families, &mut out);
        let back = parse_families(out.as_bytes(), Format::OpenMetrics)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{out}")))?;
        prop_assert_eq!(back, families, "{}", out);
    }
}

#[test]
fn awkward_fixed_case() {
    let mut f = MetricFamily::new("a.b c", MetricType::Gauge);
    f.help = Some("\\n is not a newline\nbut this is \\".into());
    f.samples.push(Sample {
        labels: Labels::from_pairs([("__name__", "a.b c"), ("x", "\\\"\n"), ("é", "#{},=")]),
        value: f64::NAN,
        timestamp_ms: Some(0),
        exemplar: None,
    });
    for format in [Format::Text, Format::OpenMetrics] {
        let mut out = String::new();
        match format {
            Format::Text => encode_text(std::slice::from_ref(&f), &mut out),
            Format::OpenMetrics => encode_openmetrics(std::slice::from_ref(&f), &mut out),
        }
        let back = parse_families(out.as_bytes(), format).unwrap();
        assert_eq!(back, vec![f.clone()], "{out}");
    }
}
