//! Unit tests of the parser: Prometheus 3 `PromParser` behaviour case by case, error messages,
//! and the OpenMetrics specifics the conformance suite does not pin down.

use std::borrow::Cow;

use super::*;
use crate::labels::Labels;

fn entries(body: &str, format: Format) -> Result<Vec<Entry<'_>>, ParseError> {
    Parser::new(body.as_bytes(), format).collect()
}

fn text(body: &str) -> Result<Vec<Entry<'_>>, ParseError> {
    entries(body, Format::Text)
}

fn err(body: &str, format: Format) -> String {
    match entries(body, format) {
        Ok(e) => panic!("{body:?} parsed: {e:?}"),
        Err(e) => e.to_string(),
    }
}

/// `(name, sorted labels, value, ts)` of every sample.
fn samples(body: &str, format: Format) -> Vec<(String, Labels, f64, Option<i64>)> {
    entries(body, format)
        .unwrap_or_else(|e| panic!("{body:?}: {e}"))
        .into_iter()
        .filter_map(|e| match e {
            Entry::Series(s) => {
                let mut b = LabelsBuilder::new();
                s.write_labels(&mut b);
                Some((s.name().into_owned(), b.labels(), s.value, s.timestamp_ms))
            }
            _ => None,
        })
        .collect()
}

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

#[test]
fn text_samples_and_whitespace_rules() {
    let body = "  a 1\n\nb{x=\"1\",} 2 1000\nc { x = \"1\" ,\ty=\"2\" }\t3\t 5\nd{} 4\ne+1\n";
    assert_eq!(
        samples(body, Format::Text),
        vec![
            ("a".into(), ls(&[("__name__", "a")]), 1.0, None),
            (
                "b".into(),
                ls(&[("__name__", "b"), ("x", "1")]),
                2.0,
                Some(1000)
            ),
            (
                "c".into(),
                ls(&[("__name__", "c"), ("x", "1"), ("y", "2")]),
                3.0,
                Some(5)
            ),
            ("d".into(), ls(&[("__name__", "d")]), 4.0, None),
            // Prometheus' lexer ends the name at '+', and "+1" is the value.
            ("e".into(), ls(&[("__name__", "e")]), 1.0, None),
        ]
    );
}

#[test]
fn raw_is_the_series_as_written() {
    let body = "a { x = \"1\" } 1\n{\"b.c\", y=\"2\"} 2\nplain 3 4\n";
    let raws: Vec<&[u8]> = Parser::new(body.as_bytes(), Format::Text)
        .filter_map(|e| match e.unwrap() {
            Entry::Series(s) => Some(s.raw),
            _ => None,
        })
        .collect();
    assert_eq!(
        raws,
        vec![
            &b"a { x = \"1\" }"[..],
            &b"{\"b.c\", y=\"2\"}"[..],
            &b"plain"[..]
        ]
    );
}

#[test]
fn special_values_and_nan_bits() {
    let s = samples(
        "a NaN\nb +Inf\nc -Inf\nd 1e-3\ne -0\nf Infinity\n",
        Format::Text,
    );
    assert_eq!(s[0].2.to_bits(), float::NORMAL_NAN_BITS);
    assert_eq!(s[1].2, f64::INFINITY);
    assert_eq!(s[2].2, f64::NEG_INFINITY);
    assert_eq!(s[3].2, 0.001);
    assert_eq!(s[4].2.to_bits(), (-0.0f64).to_bits());
    assert_eq!(s[5].2, f64::INFINITY);
}

#[test]
fn utf8_quoted_names() {
    let body = concat!(
        "# HELP \"http.server.duration\" Duration \\\\ of\\n requests\n",
        "# TYPE \"http.server.duration\" histogram\n",
        "{\"http.server.duration_bucket\",\"url.scheme\"=\"https\",le=\"+Inf\"} 3\n",
        "legacy{\"k8s.ns\"=\"a\",\"label with space\"=\"b\"} 1\n",
        "{\"esc\\\"aped\",\"a\\\\b\"=\"c\"} 2\n",
    );
    let e = text(body).unwrap();
    assert_eq!(
        e[0],
        Entry::Help {
            name: "http.server.duration".into(),
            text: "Duration \\ of\n requests".into()
        }
    );
    assert_eq!(
        e[1],
        Entry::Type {
            name: "http.server.duration".into(),
            kind: MetricType::Histogram
        }
    );
    let s = samples(body, Format::Text);
    assert_eq!(
        s[0].1,
        ls(&[
            ("__name__", "http.server.duration_bucket"),
            ("le", "+Inf"),
            ("url.scheme", "https")
        ])
    );
    assert_eq!(
        s[1].1,
        ls(&[
            ("__name__", "legacy"),
            ("k8s.ns", "a"),
            ("label with space", "b")
        ])
    );
    assert_eq!(s[2].0, "esc\"aped");
    assert_eq!(s[2].1, ls(&[("__name__", "esc\"aped"), ("a\\b", "c")]));
}

#[test]
fn label_escapes_decode_only_when_needed() {
    let body = "a{x=\"plain\",y=\"q\\\"b\\\\s\\nn\\tt\"} 1\n";
    let e = text(body).unwrap();
    let Entry::Series(s) = &e[0] else { panic!() };
    let l: Vec<_> = s.labels().collect();
    assert!(matches!(l[0].1, Cow::Borrowed("plain")));
    assert_eq!(l[1].1, "q\"b\\s\nn\\tt");
    assert!(matches!(l[1].1, Cow::Owned(_)));
    assert!(matches!(s.name(), Cow::Borrowed("a")));
}

#[test]
fn help_type_and_comments() {
    let e = text(
        "# HELP a  two  spaces\n# HELP b\n#HELP c x\n# just words\n# TYPE a counter\n# TYPE u untyped\n# HELP q a\\\"b\\\\c\n",
    )
    .unwrap();
    assert_eq!(
        e,
        vec![
            // The lexer drops exactly one separator byte.
            Entry::Help {
                name: "a".into(),
                text: " two  spaces".into()
            },
            Entry::Help {
                name: "b".into(),
                text: "".into()
            },
            Entry::Comment("HELP c x"),
            Entry::Comment("just words"),
            Entry::Type {
                name: "a".into(),
                kind: MetricType::Counter
            },
            Entry::Type {
                name: "u".into(),
                kind: MetricType::Unknown
            },
            // Text-format HELP decodes only \\ and \n.
            Entry::Help {
                name: "q".into(),
                text: "a\\\"b\\c".into()
            },
        ]
    );
}

#[test]
fn text_errors_say_where_and_what() {
    let cases = [
        (
            "ok 1\nhttp_requests_total{code=\"200\",method 1\n",
            "line 2, column 39: expected '=' after label name \"method\"",
        ),
        (
            "a{b='c'} 1\n",
            "line 1, column 5: expected '\"' to start the value of label \"b\"",
        ),
        (
            "a\n",
            "line 1, column 2: expected value after metric \"a\", found end of line",
        ),
        ("a true\n", "line 1, column 3: invalid value \"true\""),
        ("a 1_2\n", "line 1, column 3: invalid value \"1_2\""),
        ("a 0x1p-3\n", "line 1, column 3: invalid value \"0x1p-3\""),
        ("a 1e400\n", "line 1, column 3: invalid value \"1e400\""),
        ("a -nan\n", "line 1, column 3: invalid value \"-nan\""),
        (
            "a 1 2 3\n",
            "line 1, column 7: expected end of line after timestamp, found \"3\"",
        ),
        (
            "a 1 -5\n",
            "line 1, column 5: expected integer timestamp or end of line after value, found \"-5\"",
        ),
        (
            "a 1 1.5\n",
            "line 1, column 6: expected end of line after timestamp, found \".5\"",
        ),
        (
            "a 1 99999999999999999999\n",
            "line 1, column 5: timestamp \"99999999999999999999\" out of range",
        ),
        (
            "a{b=\"1\",b=\"2\"} 1\n",
            "line 1, column 9: duplicate label name \"b\"",
        ),
        (
            "a{z=\"1\",b=\"2\",z=\"3\"} 1\n",
            "line 1, column 15: duplicate label name \"z\"",
        ),
        (
            "a{b=\"1\",\"b\"=\"2\"} 1\n",
            "line 1, column 9: duplicate label name \"b\"",
        ),
        (
            "a{__name__=\"b\"} 1\n",
            "line 1, column 3: duplicate label name \"__name__\"",
        ),
        ("{a=\"b\"} 1\n", "line 1, column 7: metric name not set"),
        ("a{\"b\"} 1\n", "line 1, column 3: metric name already set"),
        (
            "{\"a\",\"b\"} 1\n",
            "line 1, column 6: metric name already set",
        ),
        (
            "a{b=\"c\" d=\"e\"} 1\n",
            "line 1, column 9: expected ',' or '}' after the value of label \"b\"",
        ),
        (
            "a{,b=\"c\"} 1\n",
            "line 1, column 3: expected label name, found \",\"",
        ),
        (
            "a{b=\"c\",,} 1\n",
            "line 1, column 9: expected label name, found \",\"",
        ),
        (
            "a{b=\"c\"}{} 1\n",
            "line 1, column 9: expected value after metric \"a{b=\"c\"}\", found \"{\"",
        ),
        (
            "a{b=\"unterminated} 1\n",
            "line 2, column 1: unterminated value of label \"b\"",
        ),
        ("a{\"\"=\"x\"} 1\n", "line 1, column 3: empty label name"),
        ("a 1\r\n", "line 1, column 3: invalid value \"1\\r\""),
        (
            "# TYPE a gauge \n",
            "line 1, column 10: invalid metric type \"gauge \" (expected counter, gauge, histogram, summary or untyped)",
        ),
        (
            "# TYPE a info\n",
            "line 1, column 10: invalid metric type \"info\" (expected counter, gauge, histogram, summary or untyped)",
        ),
        (
            "# HELP \n",
            "line 1, column 8: expected metric name after HELP",
        ),
        (
            "# TYPE 1a gauge\n",
            "line 1, column 8: expected metric name after TYPE",
        ),
        (
            "1a 1\n",
            "line 1, column 1: expected a metric name, '{' or '#' at the start of a line, found \"1\"",
        ),
        ("a.b 1\n", "line 1, column 2: invalid value \".b\""),
    ];
    for (body, want) in cases {
        assert_eq!(err(body, Format::Text), want, "{body:?}");
    }
}

#[test]
fn invalid_utf8_is_rejected() {
    let body = b"a{b=\"\xff\"} 1\n";
    let e = Parser::new(body, Format::Text).next_entry().unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 1, column 6: invalid UTF-8 in the value of label \"b\""
    );
    let long = format!("a{{b=\"{}\u{FFFD}\"}} 1\n", "x".repeat(100));
    let mut bad = long.into_bytes();
    // Replace the three bytes of U+FFFD by a lone continuation byte and two ASCII bytes.
    let at = bad.iter().position(|&c| c == 0xEF).unwrap();
    bad[at..at + 3].copy_from_slice(b"\x80yy");
    let e = Parser::new(&bad, Format::Text).next_entry().unwrap_err();
    assert_eq!(e.column, 106);
    let e = Parser::new(b"a{\"\xc3(\"=\"v\"} 1\n", Format::Text)
        .next_entry()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 1, column 4: invalid UTF-8 in a quoted name"
    );
    let body = b"# HELP a \xff\n";
    let e = Parser::new(body, Format::Text).next_entry().unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 1, column 9: help text is not valid UTF-8"
    );
    // Comments are not checked by Prometheus; an invalid one is skipped.
    let mut p = Parser::new(b"# \xff\na 1\n", Format::Text);
    assert!(matches!(p.next_entry(), Ok(Some(Entry::Series(_)))));
}

#[test]
fn prometheus_lexer_quirks() {
    // A literal newline inside a quoted label value is part of the value.
    let s = samples("a{b=\"x\ny\"} 1\nc 2\n", Format::Text);
    assert_eq!(s[0].1, ls(&[("__name__", "a"), ("b", "x\ny")]));
    assert_eq!(s[1].0, "c");
    // A NUL where a line starts ends the body.
    assert_eq!(samples("a 1\n\0junk", Format::Text).len(), 1);
    // No final newline is fine.
    assert_eq!(samples("a 1", Format::Text).len(), 1);
}

#[test]
fn write_labels_sorts_and_drops_empty_values() {
    let e = text("m{z=\"1\",a=\"\",k=\"2\"} 1\n").unwrap();
    let Entry::Series(s) = &e[0] else { panic!() };
    let mut b = LabelsBuilder::new();
    b.set("stale", "x");
    s.write_labels(&mut b);
    assert_eq!(b.labels(), ls(&[("__name__", "m"), ("k", "2"), ("z", "1")]));
}

#[test]
fn finished_after_error() {
    let mut p = Parser::new(b"a b\nc 1\n", Format::Text);
    assert!(p.next_entry().is_err());
    assert_eq!(p.next_entry(), Ok(None));
    assert_eq!(p.next_entry(), Ok(None));
}

#[test]
fn content_type_detection() {
    use Format::*;
    let cases = [
        (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Some(OpenMetrics),
        ),
        ("application/openmetrics-text", Some(OpenMetrics)),
        (
            "Application/OpenMetrics-Text;version=0.0.1",
            Some(OpenMetrics),
        ),
        ("text/plain; version=0.0.4; charset=utf-8", Some(Text)),
        ("text/plain", Some(Text)),
        (" text/plain ;charset=utf-8", Some(Text)),
        (
            "text/plain; version=1.0.0; escaping=allow-utf-8",
            Some(Text),
        ),
        (
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily",
            None,
        ),
        ("application/json", None),
        ("", None),
    ];
    for (ct, want) in cases {
        assert_eq!(Format::from_content_type(ct), want, "{ct:?}");
    }
}

#[test]
fn openmetrics_entries_and_exemplars() {
    let body = concat!(
        "# TYPE foo_seconds counter\n",
        "# UNIT foo_seconds seconds\n",
        "# HELP foo_seconds Help \\\"quoted\\\"\n",
        "foo_seconds_total{a=\"1\"} 17 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1520879602.5\n",
        "foo_seconds_created{a=\"1\"} 1520430000.123 1520879607.789\n",
        "# EOF\n",
    );
    let e = entries(body, Format::OpenMetrics).unwrap();
    assert_eq!(e.len(), 6);
    assert_eq!(
        e[1],
        Entry::Unit {
            name: "foo_seconds".into(),
            unit: "seconds".into()
        }
    );
    assert_eq!(
        e[2],
        Entry::Help {
            name: "foo_seconds".into(),
            text: "Help \"quoted\"".into()
        }
    );
    let Entry::Series(s) = &e[3] else { panic!() };
    assert_eq!(s.raw, b"foo_seconds_total{a=\"1\"}");
    assert_eq!((s.value, s.timestamp_ms), (17.0, Some(1520879607789)));
    assert_eq!(
        s.exemplar,
        Some(Exemplar {
            labels: vec![("trace_id".into(), "KOO5S4vxi0o".into())],
            value: 0.67,
            timestamp_ms: Some(1520879602500),
        })
    );
    assert_eq!(e[5], Entry::Eof);
}

#[test]
fn openmetrics_errors() {
    let om = Format::OpenMetrics;
    let cases = [
        (
            "a 1\n",
            "line 2, column 1: expected \"# EOF\" at the end of the body",
        ),
        (
            "a 1\n\n# EOF\n",
            "line 2, column 1: blank lines are not allowed in OpenMetrics",
        ),
        (
            "a{b=\"1\",} 1\n# EOF\n",
            "line 1, column 9: expected label name, found \"} 1\"",
        ),
        ("a  1\n# EOF\n", "line 1, column 3: invalid value \"\""),
        (
            "# TYPE a counter\na_total -1\n# EOF\n",
            "line 2, column 1: _total value -1 is negative",
        ),
        (
            "# TYPE a gauge\na 1 # {x=\"y\"} 1\n# EOF\n",
            "line 2, column 1: exemplars are only allowed on counter _total and histogram _bucket samples",
        ),
        (
            "# EOF\na 1\n",
            "line 2, column 1: unexpected text after \"# EOF\"",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(err(body, om), want, "{body:?}");
    }
}

#[test]
fn metric_type_keywords() {
    assert_eq!(MetricType::Unknown.as_str(Format::Text), "untyped");
    assert_eq!(MetricType::Unknown.as_str(Format::OpenMetrics), "unknown");
    assert_eq!(MetricType::Info.as_str(Format::Text), "untyped");
    assert_eq!(
        MetricType::Histogram.suffixes(Format::Text),
        &["_bucket", "_sum", "_count"]
    );
}

#[test]
fn huge_label_sets_with_colliding_signatures() {
    // 20,000 names with the same length, first and last byte: every signature collides.
    let mut body = String::from("m{");
    for i in 0..20_000 {
        body.push_str(&format!("a{i:05}z=\"v\","));
    }
    body.push_str("a00007z=\"dup\"} 1\n");
    let e = err(&body, Format::Text);
    assert!(e.ends_with("duplicate label name \"a00007z\""), "{e}");
    let ok = body.replace("a00007z=\"dup\"", "b=\"x\"");
    assert_eq!(samples(&ok, Format::Text)[0].1.len(), 20_002);
}

#[test]
fn openmetrics_without_family_checks() {
    let lenient = |body: &str| -> Result<usize, ParseError> {
        let mut n = 0;
        for e in Parser::new(body.as_bytes(), Format::OpenMetrics).with_family_checks(false) {
            if let Entry::Series(_) = e? {
                n += 1;
            }
        }
        Ok(n)
    };
    // Family-level violations pass without the checks...
    for body in [
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 0\na_count 1\n# EOF\n",
        "# TYPE a gauge\na 0 1\na 0 0\n# EOF\n",
        "# HELP a x\na 1\n# TYPE a gauge\n# EOF\n",
        "# TYPE a counter\na_total -1 # {x=\"y\"} 1\n# EOF\n",
        "# TYPE a counter\n# TYPE a counter\n# EOF\n",
    ] {
        assert!(
            err(body, Format::OpenMetrics).starts_with("line"),
            "{body:?}"
        );
        assert!(lenient(body).is_ok(), "{body:?}: {:?}", lenient(body));
    }
    // ...but the syntax is still the syntax.
    for body in [
        "a 1\n",
        "a 1\n\n# EOF\n",
        "a  1\n# EOF\n",
        "a{b=\"1\",} 1\n# EOF\n",
        "# TYPE a meh\n# EOF\n",
        "a 1 NaN\n# EOF\n",
    ] {
        assert!(lenient(body).is_err(), "{body:?}");
    }
    assert_eq!(lenient("a 1\nb 2 # {t=\"x\"} 3\n# EOF"), Ok(2));
}

#[test]
fn metadata_separator_byte_inside_a_character() {
    // The lexer drops one byte after the name; here that byte starts a two-byte character,
    // so the rest is not UTF-8 (Prometheus rejects it the same way).
    assert_eq!(
        err("# HELP aé text\n", Format::Text),
        "line 1, column 9: help text is not valid UTF-8"
    );
    assert!(err("# TYPE aé gauge\n", Format::Text).contains("invalid metric type"));
    assert_eq!(
        text("# HELP a\\x y\\\\z\n").unwrap(),
        vec![Entry::Help {
            // `\x` is not an escape of the text format: the backslash is the dropped byte.
            name: "a".into(),
            text: "x y\\z".into()
        }]
    );
}

proptest::proptest! {
    /// Duplicate label names are found however their signatures collide: names from a small
    /// alphabet (many equal lengths, first and last bytes), plain or quoted, in both formats.
    #[test]
    fn duplicate_names_found_exactly(
        names in proptest::collection::vec(
            ("[ab][ab_]{0,3}[ab]", proptest::bool::ANY),
            1..40,
        ),
    ) {
        let mut set = std::collections::HashSet::new();
        let has_dup = !names.iter().all(|(n, _)| set.insert(n.clone()));
        let pairs: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, (n, quoted))| {
                if *quoted {
                    format!("\"{n}\"=\"{i}\"")
                } else {
                    format!("{n}=\"{i}\"")
                }
            })
            .collect();
        let line = format!("m{{{}}} 1\n", pairs.join(","));
        let got = text(&line);
        proptest::prop_assert_eq!(got.is_err(), has_dup, "{}", line);
        if let Err(e) = got {
            proptest::prop_assert!(e.message.starts_with("duplicate label name"), "{}", e);
        }
        let om = format!("{line}# EOF\n");
        let got = entries(&om, Format::OpenMetrics);
        proptest::prop_assert_eq!(got.is_err(), has_dup, "{}", om);
    }
}

/// An exemplar's label names are checked for duplicates among themselves only (they may
/// repeat the sample's), and checking them leaves the sample's own labels intact.
#[test]
fn exemplar_names_are_their_own_set() {
    let body = "# TYPE a counter\na_total{x=\"1\",y=\"2\"} 1 # {x=\"1\",z=\"3\"} 1\n# EOF\n";
    let mut p = Parser::new(body.as_bytes(), Format::OpenMetrics);
    let _ = p.next_entry();
    let Ok(Some(Entry::Series(s))) = p.next_entry() else {
        panic!("a sample with an exemplar")
    };
    let mut b = LabelsBuilder::new();
    p.write_labels(&s, &mut b);
    assert_eq!(
        b.labels(),
        Labels::from_pairs([("__name__", "a_total"), ("x", "1"), ("y", "2")])
    );
    assert_eq!(
        err(
            "# TYPE a counter\na_total{x=\"1\"} 1 # {z=\"1\",z=\"2\"} 1\n# EOF\n",
            Format::OpenMetrics
        ),
        "line 2, column 27: duplicate label name \"z\""
    );
}

proptest::proptest! {
    /// `Parser::str_at` (pieces of a stretch checked once) answers exactly what
    /// `std::str::from_utf8` answers for the piece alone, for pieces asked for in input order
    /// (as the parser does) and out of it, on input with multi-byte characters, bad bytes and
    /// newlines.
    #[test]
    fn str_at_is_from_utf8(
        input in proptest::collection::vec(
            proptest::prop_oneof![
                6 => proptest::sample::select(b"ab \n{}\"=".to_vec()),
                1 => proptest::sample::select(vec![0xc3, 0xa9, 0xe2, 0x9c, 0x93, 0xff, 0x80]),
            ],
            0..9000,
        ),
        cuts in proptest::collection::vec((0usize..9000, 0usize..200), 1..40),
        sorted in proptest::bool::ANY,
    ) {
        let p = Parser::new(&input, Format::Text);
        let mut cuts: Vec<(usize, usize)> = cuts
            .into_iter()
            .map(|(s, len)| {
                let s = s.min(input.len());
                (s, (s + len).min(input.len()))
            })
            .collect();
        if sorted {
            cuts.sort_unstable();
        }
        for (s, e) in cuts {
            let want = std::str::from_utf8(&input[s..e]).ok();
            proptest::prop_assert_eq!(p.str_at(s, e), want, "{}..{}", s, e);
        }
    }
}
