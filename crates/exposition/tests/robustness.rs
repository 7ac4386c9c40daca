//! Arbitrary, syntax-flavoured input: the parser never panics, every accessor works on what it
//! accepts, and whatever it accepts re-encodes and re-parses to the same samples (the property
//! the fuzz targets check at scale).

use proptest::prelude::*;
use scrapeline_exposition::encode::{encode_openmetrics, encode_text};
use scrapeline_exposition::family::{MetricFamily, parse_families};
use scrapeline_exposition::{Entry, Format, LabelsBuilder, Parser};

fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"a".to_vec()),
        Just(b"m_total".to_vec()),
        Just(b"h_bucket".to_vec()),
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"=".to_vec()),
        Just(b",".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"#".to_vec()),
        Just(b"# HELP ".to_vec()),
        Just(b"# TYPE ".to_vec()),
        Just(b"# UNIT ".to_vec()),
        Just(b"# EOF\n".to_vec()),
        Just(b" counter".to_vec()),
        Just(b" histogram".to_vec()),
        Just(b"le=\"+Inf\"".to_vec()),
        Just(b"x=\"y\"".to_vec()),
        Just(b"\"q.n\"".to_vec()),
        Just(b" 1".to_vec()),
        Just(b" -2.5e3".to_vec()),
        Just(b" NaN".to_vec()),
        Just(b" +Inf".to_vec()),
        Just(b" 1700000000000".to_vec()),
        Just(b" 1.5".to_vec()),
        Just(b" # {t=\"1\"} 2".to_vec()),
        Just("é".as_bytes().to_vec()),
        Just(vec![0xff]),
        Just(vec![0]),
        prop::collection::vec(any::<u8>(), 1..4),
    ]
}

/// A plausible line: metadata or a sample assembled from parts, with odd values.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        Just("a"),
        Just("a_total"),
        Just("a_bucket"),
        Just("a_count"),
        Just("a_sum"),
        Just("a_created"),
        Just("a_gcount"),
        Just("a_gsum"),
        Just("b"),
        Just("b_info"),
        Just("c:d"),
    ];
    let quoted_name = prop_oneof![Just("\"q.n\""), Just("\"a\""), Just("\"w\\\"x\"")];
    let label = (
        prop_oneof![
            Just("x"),
            Just("le"),
            Just("quantile"),
            Just("b"),
            Just("\"l.q\""),
            Just("a")
        ],
        prop_oneof![
            Just(""),
            Just("1"),
            Just("+Inf"),
            Just("0.5"),
            Just("v"),
            Just("\\n"),
            Just("\\\""),
            Just("\\\\"),
            Just("é"),
            Just(" # "),
            Just("{}"),
        ],
    )
        .prop_map(|(n, v)| format!("{n}=\"{v}\""));
    let labels = prop::collection::vec(label, 0..4);
    let value = prop_oneof![
        Just("0"),
        Just("1"),
        Just("2"),
        Just("-1"),
        Just("1.5"),
        Just("NaN"),
        Just("+Inf"),
        Just("-Inf"),
        Just("1e3"),
    ];
    let ts = prop::option::of(prop_oneof![
        Just("0"),
        Just("1000"),
        Just("1.5"),
        Just("17000000000")
    ]);
    let exemplar = prop::option::of(Just(" # {t=\"1\"} 0.5"));
    let sample = (
        prop_oneof![
            name.clone().prop_map(String::from),
            quoted_name.prop_map(String::from)
        ],
        labels,
        any::<bool>(),
        value,
        ts,
        exemplar,
    )
        .prop_map(|(n, labels, braces, v, ts, ex)| {
            let mut l = String::new();
            if n.starts_with('"') {
                l.push('{');
                l.push_str(&n);
                for lab in &labels {
                    l.push(',');
                    l.push_str(lab);
                }
                l.push('}');
            } else {
                l.push_str(&n);
                if braces || !labels.is_empty() {
                    l.push('{');
                    l.push_str(&labels.join(","));
                    l.push('}');
                }
            }
            l.push(' ');
            l.push_str(v);
            if let Some(ts) = ts {
                l.push(' ');
                l.push_str(ts);
            }
            if let Some(ex) = ex {
                l.push_str(ex);
            }
            l.into_bytes()
        });
    let meta = (
        prop_oneof![Just("HELP"), Just("TYPE"), Just("UNIT")],
        name,
        prop_oneof![
            Just("counter"),
            Just("gauge"),
            Just("histogram"),
            Just("summary"),
            Just("untyped"),
            Just("unknown"),
            Just("info"),
            Just("stateset"),
            Just("gaugehistogram"),
            Just("text \\ with \\n escapes"),
            Just(""),
        ],
    )
        .prop_map(|(kw, n, t)| format!("# {kw} {n} {t}").into_bytes());
    prop_oneof![
        6 => sample,
        3 => meta,
        1 => prop::collection::vec(fragment(), 1..6).prop_map(|v| v.concat()),
    ]
}

/// Lines, half of the bodies ending with `# EOF` so OpenMetrics can accept them.
fn body() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(line(), 0..10), any::<bool>()).prop_map(|(lines, eof)| {
        let mut out = Vec::new();
        for l in lines {
            out.extend(l);
            out.push(b'\n');
        }
        if eof {
            out.extend_from_slice(b"# EOF\n");
        }
        out
    })
}

/// Flattened samples: (labels, value bits with every NaN alike, timestamp).
fn flat(f: &[MetricFamily]) -> Vec<(String, u64, Option<i64>)> {
    f.iter()
        .flat_map(|f| &f.samples)
        .map(|s| {
            let v = if s.value.is_nan() {
                f64::NAN.to_bits()
            } else {
                (s.value + 0.0).to_bits()
            };
            (s.labels.to_string(), v, s.timestamp_ms)
        })
        .collect()
}

fn exercise(body: &[u8], format: Format, checks: bool) {
    let (mut b, mut fast) = (LabelsBuilder::new(), LabelsBuilder::new());
    let mut p = Parser::new(body, format).with_family_checks(checks);
    loop {
        match p.next_entry() {
            Ok(Some(Entry::Series(s))) => {
                let _ = s.name();
                let _ = s.labels().count();
                s.write_labels(&mut b);
                // The parser's span-based path gives exactly what the re-reading path gives.
                p.write_labels(&s, &mut fast);
                assert_eq!(
                    fast.labels(),
                    b.labels(),
                    "{:?}",
                    String::from_utf8_lossy(s.raw)
                );
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                assert!(e.line >= 1 && e.column >= 1);
                break;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn never_panics_and_accepted_input_round_trips(body in body()) {
        for format in [Format::Text, Format::OpenMetrics] {
            exercise(&body, format, true);
            exercise(&body, format, false);
            if let Ok(families) = parse_families(&body, format) {
                let mut out = String::new();
                match format {
                    Format::Text => encode_text(&families, &mut out),
                    Format::OpenMetrics => encode_openmetrics(&families, &mut out),
                }
                let again = parse_families(out.as_bytes(), format)
                    .map_err(|e| TestCaseError::fail(format!("{e}\n--- input\n{}\n--- encoded\n{out}", String::from_utf8_lossy(&body))))?;
                prop_assert_eq!(flat(&again), flat(&families), "{}", out);
            }
        }
    }
}
