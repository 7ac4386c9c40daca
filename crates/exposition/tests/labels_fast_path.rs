//! `Parser::write_labels` (label spans recorded while parsing, copied into the builder's arena)
//! against `Series::write_labels` (the series read again) as the oracle, and the arena-backed
//! `LabelsBuilder` against an ordered map as the model.

use std::collections::BTreeMap;

use proptest::prelude::*;
use scrapeline_exposition::{Entry, Format, Labels, LabelsBuilder, Parser};

/// Label names: legacy ones in and out of order (uppercase sorts before `__name__`), ones that
/// need quoting, with escapes.
fn label_name() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_]{0,12}".prop_map(|s| (s, false)),
        1 => "[A-Z][A-Za-z0-9]{0,5}".prop_map(|s| (s, false)),
        1 => Just(("__meta".to_string(), false)),
        1 => r"[a-z]{1,4}\.[a-z]{1,4}".prop_map(|s| (s, true)),
        1 => prop_oneof![Just(r#"q\"n"#), Just("é.ü"), Just(r"a\nb")]
            .prop_map(|s| (s.to_string(), true)),
    ]
}

/// Label values as written between quotes: plain, empty, escaped, non-ASCII, long.
fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ./:_-]{0,20}",
        1 => Just(String::new()),
        1 => Just(r#"a\\b\"c\nd"#.to_string()),
        1 => Just(r"x\qy".to_string()),
        1 => Just("grüße ✓".to_string()),
        1 => "[a-f0-9]{40,80}",
    ]
}

/// One sample line: a legacy or quoted metric name, labels in any order, optional blanks and
/// trailing comma (text only).
fn sample_line(om: bool) -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just(("metric_a".to_string(), false)),
            Just(("m:b_total".to_string(), false)),
            Just(("my.metric".to_string(), true)),
            Just((r#"q\"x"#.to_string(), true)),
        ],
        prop::collection::vec((label_name(), label_value()), 0..8),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(move |((name, quoted_name), labels, blanks, trailing)| {
            let blank = if blanks && !om { " " } else { "" };
            let mut seen = std::collections::HashSet::new();
            let mut parts = Vec::new();
            if quoted_name {
                parts.push(format!("\"{name}\""));
            }
            for ((n, quoted), v) in labels {
                if !seen.insert(n.clone()) || n == "__name__" {
                    continue;
                }
                let n = if quoted { format!("\"{n}\"") } else { n };
                parts.push(format!("{blank}{n}{blank}={blank}\"{v}\"{blank}"));
            }
            let comma = if trailing && !om && !parts.is_empty() {
                ","
            } else {
                ""
            };
            let set = format!("{{{}{comma}}}", parts.join(","));
            let head = if quoted_name {
                set
            } else if parts.is_empty() && blanks {
                name
            } else {
                format!("{name}{set}")
            };
            format!("{head} 1\n")
        })
}

fn body(om: bool) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(sample_line(om), 1..6).prop_map(move |lines| {
        let mut s = lines.concat();
        if om {
            s.push_str("# EOF\n");
        }
        s.into_bytes()
    })
}

/// Every series of `body` through both paths; the parsed label sets.
fn both_paths(body: &[u8], format: Format) -> Result<Vec<Labels>, TestCaseError> {
    let mut p = Parser::new(body, format).with_family_checks(false);
    let (mut slow, mut fast) = (LabelsBuilder::new(), LabelsBuilder::new());
    let mut out = Vec::new();
    loop {
        match p.next_entry() {
            Ok(Some(Entry::Series(s))) => {
                s.write_labels(&mut slow);
                p.write_labels(&s, &mut fast);
                prop_assert_eq!(fast.labels(), slow.labels());
                prop_assert!(fast.equals(&slow.labels()));
                out.push(fast.labels());
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        }
    }
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_spans_match_rereading_text(body in body(false)) {
        both_paths(&body, Format::Text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&body))))?;
    }

    #[test]
    fn parser_spans_match_rereading_openmetrics(body in body(true)) {
        both_paths(&body, Format::OpenMetrics)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&body))))?;
    }
}

#[test]
fn spans_decode_escapes_sort_and_drop_empty_values() {
    let body = "m{zz=\"1\",A=\"up\",\"q\\\"n\"=\"a\\\\b\\nc\",e=\"\",b=\"x\\\"y\"} 1\n\
                {\"my.metric\",l=\"v\"} 2\n";
    let got = both_paths(body.as_bytes(), Format::Text).unwrap();
    assert_eq!(
        got,
        vec![
            Labels::from_pairs([
                ("A", "up"),
                ("__name__", "m"),
                ("b", "x\"y"),
                ("q\"n", "a\\b\nc"),
                ("zz", "1"),
            ]),
            Labels::from_pairs([("__name__", "my.metric"), ("l", "v")]),
        ]
    );
}

/// Label sets out of order are sorted, both small ones (names tied on their first eight
/// bytes included) and ones past the small-set limit.
#[test]
fn unsorted_sets_of_every_size_are_sorted() {
    for n in [2usize, 7, 31, 32, 33, 40, 100] {
        let names: Vec<String> = (0..n)
            .rev()
            .map(|i| format!("label_prefix_{i:03}"))
            .collect();
        let short: Vec<String> = (0..n).rev().map(|i| format!("l{i:03}")).collect();
        for names in [names, short] {
            let set: Vec<String> = names.iter().map(|l| format!("{l}=\"v{l}\"")).collect();
            let body = format!("m{{{}}} 1\n", set.join(","));
            let got = both_paths(body.as_bytes(), Format::Text).unwrap();
            let mut want: Vec<(String, String)> =
                names.iter().map(|l| (l.clone(), format!("v{l}"))).collect();
            want.push(("__name__".to_string(), "m".to_string()));
            assert_eq!(
                got,
                vec![Labels::from_pairs(
                    want.iter().map(|(a, b)| (a.as_str(), b.as_str()))
                )],
                "{n} labels"
            );
        }
    }
}

/// A series that is not the parser's last one (kept from earlier) still gets its own labels.
#[test]
fn an_older_series_takes_the_rereading_path() {
    let body = b"a{x=\"1\"} 1\nb{y=\"2\"} 2\n";
    let mut p = Parser::new(body, Format::Text);
    let Ok(Some(Entry::Series(first))) = p.next_entry() else {
        panic!("first series")
    };
    let Ok(Some(Entry::Series(_second))) = p.next_entry() else {
        panic!("second series")
    };
    let mut b = LabelsBuilder::new();
    p.write_labels(&first, &mut b);
    assert_eq!(
        b.labels(),
        Labels::from_pairs([("__name__", "a"), ("x", "1")])
    );
}

#[derive(Debug, Clone)]
enum Op {
    Set(String, String),
    Push(String, String),
    Del(String),
    Retain(u8),
    Clear,
    Reset(Vec<(String, String)>),
}

fn op() -> impl Strategy<Value = Op> {
    let name = "[a-e]{1,2}";
    let value = prop_oneof![1 => Just(String::new()), 4 => "[a-z]{1,3}", 1 => "[x]{0,3000}"];
    prop_oneof![
        4 => (name, value.clone()).prop_map(|(n, v)| Op::Set(n, v)),
        4 => (name, value.clone()).prop_map(|(n, v)| Op::Push(n, v)),
        2 => name.prop_map(Op::Del),
        1 => any::<u8>().prop_map(Op::Retain),
        1 => Just(Op::Clear),
        1 => prop::collection::vec((name, "[a-z]{1,3}"), 0..5).prop_map(Op::Reset),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The arena builder behaves as a sorted map with "empty value means absent", whatever
    /// mix of edits (including enough overwrites to compact the arena) it goes through.
    #[test]
    fn builder_is_a_sorted_map(ops in prop::collection::vec(op(), 0..60)) {
        let mut b = LabelsBuilder::new();
        let mut model: BTreeMap<String, String> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Set(n, v) | Op::Push(n, v) if v.is_empty() => {
                    b.set(&n, &v);
                    model.remove(&n);
                }
                Op::Set(n, v) => {
                    b.set(&n, &v);
                    model.insert(n, v);
                }
                Op::Push(n, v) => {
                    b.push(&n, &v);
                    model.insert(n, v);
                }
                Op::Del(n) => {
                    b.del(&n);
                    model.remove(&n);
                }
                Op::Retain(mask) => {
                    let keep = |n: &str| n.bytes().map(u32::from).sum::<u32>() % 8 < u32::from(mask % 9);
                    b.retain(|n, _| keep(n));
                    model.retain(|n, _| keep(n));
                }
                Op::Clear => {
                    b.clear();
                    model.clear();
                }
                Op::Reset(pairs) => {
                    let ls = Labels::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                    b.reset(&ls);
                    model = ls.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect();
                }
            }
            let want: Vec<(String, String)> = model.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
            let got: Vec<(String, String)> = b.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect();
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(b.len(), model.len());
            for (n, v) in &model {
                prop_assert_eq!(b.get(n), Some(v.as_str()));
            }
            prop_assert_eq!(b.get("zz"), None);
            prop_assert_eq!(b.labels(), Labels::from_pairs(want.iter().map(|(n, v)| (n.as_str(), v.as_str()))));
        }
    }
}

/// A hand-built series (the parser would reject it) with a repeated name: the value written
/// last wins, in small sets and in sets past the small-sort limit.
#[test]
fn hand_built_series_repeats_keep_the_last_value() {
    let series = |raw: &'static [u8]| scrapeline_exposition::Series {
        raw,
        value: 1.0,
        timestamp_ms: None,
        exemplar: None,
    };
    let mut b = LabelsBuilder::new();
    series(b"m{a=\"1\",b=\"2\",a=\"3\"}").write_labels(&mut b);
    assert_eq!(
        b.labels(),
        Labels::from_pairs([("__name__", "m"), ("a", "3"), ("b", "2")])
    );
    let mut raw = String::from("m{");
    for i in (0..40).rev() {
        raw.push_str(&format!("l{i:02}=\"x\","));
    }
    raw.push_str("l07=\"last\"}");
    let raw: &'static [u8] = Box::leak(raw.into_bytes().into_boxed_slice());
    series(raw).write_labels(&mut b);
    assert_eq!(b.len(), 41);
    assert_eq!(b.get("l07"), Some("last"));
    assert_eq!(b.get("l39"), Some("x"));
    let names: Vec<&str> = b.iter().map(|l| l.name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
}
