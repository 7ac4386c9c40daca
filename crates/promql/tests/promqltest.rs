//! Runs Prometheus' promqltest files (vendored under `tests/testdata/`, see its README)
//! against the engine: `load`, `clear`, `eval instant at`, `eval range from .. to .. step`,
//! `eval_fail`, `eval_ordered`, and the `expect` lines (`fail`, `ordered`, `string`,
//! `range vector`; annotations are not checked).
//!
//! Cases that need what the engine does not implement are skipped with a reason, and the
//! counts per file are printed. The test fails on any case that neither passes nor is
//! skipped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use promql_parser::parser::Expr;
use scrapeline_exposition::Labels;
use scrapeline_exposition::value::stale_nan;
use scrapeline_promql::{Engine, EngineOptions, Error, Value, parse};

mod common;
use common::MemStore;

fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('-') {
        return parse_duration_ms(rest).map(|v| -v);
    }
    if let Ok(f) = s.parse::<f64>() {
        return Some((f * 1000.0).round() as i64);
    }
    // A PromQL duration: number-unit pairs (zero allowed).
    let mut total = 0i64;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: i64 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest.get(..unit_len)?;
        rest = rest.get(unit_len..)?;
        let ms = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        total += n * ms;
    }
    Some(total)
}

fn parse_number(s: &str) -> Option<f64> {
    match s {
        "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => {
            if let Some(h) = s.strip_prefix("0x") {
                return i64::from_str_radix(h, 16).ok().map(|v| v as f64);
            }
            s.parse().ok()
        }
    }
}

/// A point in series notation: a value, a gap, or a staleness marker.
#[derive(Clone, Copy, Debug)]
enum Pt {
    V(f64),
    Gap,
    Stale,
}

/// Expands Prometheus' series notation (`1+2x3 _ stale 5x2 _x3`).
fn parse_series_values(s: &str) -> Option<Vec<Pt>> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        if tok == "_" {
            out.push(Pt::Gap);
            continue;
        }
        if tok == "stale" {
            out.push(Pt::Stale);
            continue;
        }
        if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n.parse().ok()?;
            out.extend(std::iter::repeat_n(Pt::Gap, n));
            continue;
        }
        if let Some((head, times)) = tok.rsplit_once('x')
            && let Ok(times) = times.parse::<usize>()
        {
            // head: a, a+b or a-b (a may itself be negative).
            let (a, b) = split_increment(head)?;
            for i in 0..=times {
                out.push(Pt::V(a + b * i as f64));
            }
            continue;
        }
        out.push(Pt::V(parse_number(tok)?));
    }
    Some(out)
}

fn split_increment(head: &str) -> Option<(f64, f64)> {
    if let Some(a) = parse_number(head) {
        return Some((a, 0.0));
    }
    let bytes = head.as_bytes();
    for i in (1..bytes.len()).rev() {
        let c = bytes[i];
        if (c == b'+' || c == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
            let a = parse_number(&head[..i])?;
            let b = parse_number(&head[i + 1..])?;
            return Some((a, if c == b'-' { -b } else { b }));
        }
    }
    None
}

/// Splits `metric{a="b"} rest` into the series part and the rest.
fn split_series(line: &str) -> (&str, &str) {
    let line = line.trim();
    let mut in_quote = false;
    let mut escaped = false;
    let mut depth = 0;
    for (i, c) in line.char_indices() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quote = false;
            }
            continue;
        }
        match c {
            '"' => in_quote = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return (&line[..=i], &line[i + 1..]);
                }
            }
            c if c.is_whitespace() && depth == 0 => return (&line[..i], &line[i..]),
            _ => {}
        }
    }
    (line, "")
}

/// Labels from a series descriptor (`metric{a="b"}`, `{a="b"}`, `{}`).
fn parse_labels(desc: &str) -> Option<Labels> {
    if desc == "{}" {
        return Some(Labels::empty());
    }
    let e = promql_parser::parser::parse(desc).ok()?;
    let Expr::VectorSelector(vs) = e else {
        return None;
    };
    let mut pairs: Vec<(String, String)> = vs
        .matchers
        .matchers
        .iter()
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    if let Some(n) = vs.name {
        pairs.push(("__name__".into(), n));
    }
    Some(Labels::from_pairs(pairs))
}

fn almost_equal(a: f64, b: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let eps = 1e-6;
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < eps * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

#[derive(Default, Debug)]
struct Counts {
    passed: usize,
    failed: usize,
    skipped: BTreeMap<&'static str, usize>,
    failures: Vec<String>,
}

/// One `eval` block.
struct Case {
    line: usize,
    cmd: String,
    expect_lines: Vec<String>,
}

enum Outcome {
    Pass,
    Fail(String),
    Skip(&'static str),
}

fn skip_reason(expr: &str, expect: &[String], histogram_series: &[String]) -> Option<&'static str> {
    if expect.iter().any(|l| l.contains("{{")) {
        return Some("native histograms");
    }
    const NATIVE_FNS: &[&str] = &[
        "histogram_count",
        "histogram_sum",
        "histogram_avg",
        "histogram_fraction",
        "histogram_stddev",
        "histogram_stdvar",
        "histogram_quantiles",
    ];
    if NATIVE_FNS.iter().any(|f| expr.contains(f)) {
        return Some("native-histogram functions");
    }
    const OUT_OF_SCOPE: &[&str] = &[
        "limitk",
        "limit_ratio",
        "holt_winters",
        "double_exponential_smoothing",
        "sort_by_label",
        "mad_over_time",
        "info(",
        "anchored",
        "smoothed",
        "fill(",
        "fill_left",
        "fill_right",
        "step()",
        "range()",
        "min_of",
        "max_of",
    ];
    if OUT_OF_SCOPE.iter().any(|f| expr.contains(f)) {
        return Some("experimental functions/modifiers out of scope");
    }
    let mentions = |n: &str| {
        expr.match_indices(n).any(|(i, _)| {
            let after = expr[i + n.len()..].chars().next();
            let before = expr[..i].chars().next_back();
            !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    };
    if histogram_series.iter().any(|n| mentions(n)) {
        return Some("native histograms");
    }
    None
}

/// Prometheus' test engine enables delayed name removal (a feature flag, off by default in
/// Prometheus 3 and not implemented here): these cases depend on it.
const DELAYED: &str = "needs delayed __name__ removal (feature flag off by default)";

/// Cases skipped by position, with the reason.
const KNOWN_SKIPS: &[(&str, usize, &str)] = &[
    ("name_label_dropping.test", 59, DELAYED),
    ("name_label_dropping.test", 64, DELAYED),
    ("name_label_dropping.test", 69, DELAYED),
    ("name_label_dropping.test", 74, DELAYED),
    ("name_label_dropping.test", 89, DELAYED),
    ("name_label_dropping.test", 115, DELAYED),
    ("name_label_dropping.test", 119, DELAYED),
    ("name_label_dropping.test", 123, DELAYED),
    (
        "functions.test",
        523,
        "promql-parser reads the escape \\xff as U+00FF, Prometheus as an invalid byte",
    ),
    (
        "functions.test",
        1649,
        "native histograms (counts histogram samples)",
    ),
];

/// Runs a parsed query on an engine.
type RunFn = dyn Fn(&Engine<'_>, &Expr) -> Result<Value, Error>;

fn run_case(store: &MemStore, case: &Case, histogram_series: &[String]) -> Outcome {
    let cmd = case.cmd.trim();
    let (head, fail_expected0, ordered0) = if let Some(r) = cmd.strip_prefix("eval_fail ") {
        (r, true, false)
    } else if let Some(r) = cmd.strip_prefix("eval_ordered ") {
        (r, false, true)
    } else if let Some(r) = cmd
        .strip_prefix("eval_warn ")
        .or_else(|| cmd.strip_prefix("eval_info "))
    {
        (r, false, false)
    } else if let Some(r) = cmd.strip_prefix("eval ") {
        (r, false, false)
    } else {
        return Outcome::Fail(format!("unknown command {cmd}"));
    };
    let mut fail_expected = fail_expected0;
    let mut ordered = ordered0;
    let mut fail_msg: Option<String> = None;
    let mut fail_regex: Option<String> = None;
    let mut expect_string: Option<String> = None;
    let mut range_vector: Option<(i64, i64, i64)> = None;
    let mut data = Vec::new();
    for l in &case.expect_lines {
        let t = l.trim();
        if let Some(rest) = t.strip_prefix("expect ") {
            let rest = rest.trim();
            if let Some(f) = rest.strip_prefix("fail") {
                fail_expected = true;
                let f = f.trim();
                if let Some(m) = f.strip_prefix("msg:") {
                    fail_msg = Some(m.trim().to_owned());
                } else if let Some(m) = f.strip_prefix("regex:") {
                    fail_regex = Some(m.trim().to_owned());
                }
            } else if rest == "ordered" {
                ordered = true;
            } else if let Some(s) = rest.strip_prefix("string") {
                let s = s.trim();
                expect_string = Some(s[1..s.len().saturating_sub(1).max(1)].to_owned());
            } else if let Some(r) = rest.strip_prefix("range vector from ") {
                let Some((from, r)) = r.split_once(" to ") else {
                    return Outcome::Fail("bad expect range".into());
                };
                let Some((to, step)) = r.split_once(" step ") else {
                    return Outcome::Fail("bad expect range".into());
                };
                match (
                    parse_duration_ms(from),
                    parse_duration_ms(to),
                    parse_duration_ms(step),
                ) {
                    (Some(a), Some(b), Some(c)) => range_vector = Some((a, b, c)),
                    _ => return Outcome::Fail("bad expect range".into()),
                }
            }
            // warn / info / no_warn / no_info: annotations are not checked.
            continue;
        }
        data.push(t.to_owned());
    }
    // "instant at T expr" or "range from A to B step S expr"
    let (query, run): (&str, Box<RunFn>);
    let range_params;
    if let Some(r) = head.strip_prefix("instant at ") {
        let Some((t, q)) = r.trim().split_once(char::is_whitespace) else {
            return Outcome::Fail("bad eval".into());
        };
        let Some(t) = parse_duration_ms(t) else {
            return Outcome::Fail(format!("bad time {t}"));
        };
        query = q;
        range_params = None;
        run = Box::new(move |e, x| e.instant(x, t));
    } else if let Some(r) = head.strip_prefix("range from ") {
        let Some((a, r)) = r.split_once(" to ") else {
            return Outcome::Fail("bad eval".into());
        };
        let Some((b, r)) = r.split_once(" step ") else {
            return Outcome::Fail("bad eval".into());
        };
        let Some((s, q)) = r.trim().split_once(char::is_whitespace) else {
            return Outcome::Fail("bad eval".into());
        };
        let (Some(a), Some(b), Some(s)) = (
            parse_duration_ms(a),
            parse_duration_ms(b),
            parse_duration_ms(s),
        ) else {
            return Outcome::Fail("bad range".into());
        };
        query = q;
        range_params = Some((a, b, s));
        run = Box::new(move |e, x| e.range(x, a, b, s));
    } else {
        return Outcome::Fail(format!("bad eval {head}"));
    }
    if let Some(r) = skip_reason(query, &data, histogram_series) {
        return Outcome::Skip(r);
    }
    let engine = Engine::new(
        store,
        EngineOptions {
            timeout: None,
            ..EngineOptions::default()
        },
    );
    let result = parse(query).and_then(|x| run(&engine, &x));
    let value = match (result, fail_expected) {
        (Err(e), true) => {
            if let Some(m) = &fail_msg
                && e.to_string() != *m
            {
                return Outcome::Fail(format!("error {e:?}, want message {m:?}"));
            }
            if let Some(r) = &fail_regex
                && !regex::Regex::new(r).is_ok_and(|re| re.is_match(&e.to_string()))
            {
                return Outcome::Fail(format!("error {e:?}, want match {r:?}"));
            }
            return Outcome::Pass;
        }
        (Ok(v), true) => return Outcome::Fail(format!("expected an error, got {v:?}")),
        (Err(Error::Parse(e)), false) if e.contains("parse error") || e.contains("unexpected") => {
            return Outcome::Skip("promql-parser does not parse it");
        }
        (Err(e), false) => return Outcome::Fail(format!("error: {e}")),
        (Ok(v), false) => v,
    };
    compare(
        value,
        &data,
        ordered,
        expect_string,
        range_params,
        range_vector,
    )
}

fn compare(
    value: Value,
    data: &[String],
    ordered: bool,
    expect_string: Option<String>,
    range_params: Option<(i64, i64, i64)>,
    range_vector: Option<(i64, i64, i64)>,
) -> Outcome {
    if let Some(s) = expect_string {
        return match value {
            Value::String { s: got, .. } if got == s => Outcome::Pass,
            other => Outcome::Fail(format!("want string {s:?}, got {other:?}")),
        };
    }
    let steps = range_params.or(range_vector);
    match value {
        Value::Scalar { v, .. } => {
            let want = data.first().and_then(|l| parse_number(l.trim()));
            match want {
                Some(w) if almost_equal(w, v) && data.len() == 1 => Outcome::Pass,
                _ => Outcome::Fail(format!("want {data:?}, got scalar {v}")),
            }
        }
        Value::String { s, .. } => Outcome::Fail(format!("unexpected string {s:?}")),
        Value::Vector(samples) => {
            let mut want = Vec::new();
            for l in data {
                let (desc, rest) = split_series(l);
                // A scalar expectation against a vector result.
                let (Some(labels), Some(v)) = (parse_labels(desc), parse_number(rest.trim()))
                else {
                    return Outcome::Fail(format!(
                        "cannot parse expectation {l:?} (got vector {samples:?})"
                    ));
                };
                want.push((labels, v));
            }
            if want.len() != samples.len() {
                return Outcome::Fail(format!(
                    "want {} series {want:?}, got {samples:?}",
                    want.len()
                ));
            }
            for (i, (labels, v)) in want.iter().enumerate() {
                let got = if ordered {
                    samples.get(i).filter(|s| s.labels == *labels)
                } else {
                    samples.iter().find(|s| s.labels == *labels)
                };
                match got {
                    Some(s) if almost_equal(*v, s.v) => {}
                    _ => {
                        return Outcome::Fail(format!("want {labels:?} {v}, got {samples:?}"));
                    }
                }
            }
            Outcome::Pass
        }
        Value::Matrix(series) => {
            let Some((start, _end, step)) = steps else {
                return Outcome::Fail(format!("unexpected matrix {series:?}"));
            };
            let mut want = Vec::new();
            for l in data {
                let (desc, rest) = split_series(l);
                let (Some(labels), Some(pts)) = (parse_labels(desc), parse_series_values(rest))
                else {
                    return Outcome::Fail(format!("cannot parse expectation {l:?}"));
                };
                let pts: Vec<(i64, f64)> = pts
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| match p {
                        Pt::V(v) => Some((start + i as i64 * step, *v)),
                        _ => None,
                    })
                    .collect();
                if !pts.is_empty() {
                    want.push((labels, pts));
                }
            }
            if want.len() != series.len() {
                return Outcome::Fail(format!(
                    "want {} series {want:?}, got {series:?}",
                    want.len()
                ));
            }
            for (labels, pts) in &want {
                let Some(got) = series.iter().find(|s| s.labels == *labels) else {
                    return Outcome::Fail(format!("missing {labels:?}; got {series:?}"));
                };
                let same = got.points.len() == pts.len()
                    && got
                        .points
                        .iter()
                        .zip(pts)
                        .all(|(a, b)| a.0 == b.0 && almost_equal(a.1, b.1));
                if !same {
                    return Outcome::Fail(format!(
                        "{labels:?}: want {pts:?}, got {:?}",
                        got.points
                    ));
                }
            }
            Outcome::Pass
        }
    }
}

fn run_file(name: &str, text: &str) -> Counts {
    let mut counts = Counts::default();
    let mut store = MemStore::default();
    let mut histogram_series: Vec<String> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            i += 1;
            continue;
        }
        if t == "clear" {
            store = MemStore::default();
            histogram_series.clear();
            i += 1;
            continue;
        }
        let indented = |l: &str| l.starts_with(' ') || l.starts_with('\t');
        if let Some(interval) = t
            .strip_prefix("load_with_nhcb ")
            .or_else(|| t.strip_prefix("load "))
        {
            let nhcb = t.starts_with("load_with_nhcb");
            let interval = parse_duration_ms(interval).unwrap_or(60_000);
            i += 1;
            while i < lines.len() && indented(lines[i]) && !lines[i].trim().is_empty() {
                let l = lines[i].trim();
                i += 1;
                if l.starts_with('#') {
                    continue;
                }
                let (desc, rest) = split_series(l);
                let labels = parse_labels(desc);
                let values = parse_series_values(rest);
                match (labels, values) {
                    (Some(labels), Some(values)) => {
                        if nhcb
                            && let Some(base) =
                                labels.metric_name().and_then(|n| n.strip_suffix("_bucket"))
                        {
                            histogram_series.push(base.to_owned());
                        }
                        // A series defined twice in one load: the later definition wins.
                        let s = store.series.entry(labels).or_default();
                        s.clear();
                        for (k, p) in values.iter().enumerate() {
                            let ts = k as i64 * interval;
                            match p {
                                Pt::V(v) => s.push((ts, *v)),
                                Pt::Stale => s.push((ts, stale_nan())),
                                Pt::Gap => {}
                            }
                        }
                        s.sort_by_key(|x| x.0);
                        s.dedup_by_key(|x| x.0);
                    }
                    (labels, _) => {
                        // Native histogram samples: the series' name marks cases to skip.
                        if let Some(n) = labels.as_ref().and_then(|l| l.metric_name()) {
                            histogram_series.push(n.to_owned());
                        } else if let Some(n) = desc.split('{').next() {
                            histogram_series.push(n.to_owned());
                        }
                    }
                }
            }
            continue;
        }
        if t.starts_with("eval") {
            let mut case = Case {
                line: i + 1,
                cmd: t.to_owned(),
                expect_lines: Vec::new(),
            };
            i += 1;
            while i < lines.len()
                && !lines[i].trim().is_empty()
                && (indented(lines[i]) || !lines[i].trim_start().starts_with("eval"))
                && !lines[i].trim_start().starts_with("clear")
                && !lines[i].trim_start().starts_with("load")
            {
                if !lines[i].trim().starts_with('#') {
                    case.expect_lines.push(lines[i].to_owned());
                }
                i += 1;
            }
            let known = KNOWN_SKIPS
                .iter()
                .find(|k| k.0 == name && k.1 == case.line)
                .map(|k| k.2);
            let outcome = match known {
                Some(r) => Outcome::Skip(r),
                None => run_case(&store, &case, &histogram_series),
            };
            match outcome {
                Outcome::Pass => counts.passed += 1,
                Outcome::Skip(r) => *counts.skipped.entry(r).or_default() += 1,
                Outcome::Fail(why) => {
                    counts.failed += 1;
                    let mut msg = String::new();
                    let _ = write!(msg, "{name}:{}: {}\n    {why}", case.line, case.cmd);
                    counts.failures.push(msg);
                }
            }
            continue;
        }
        i += 1;
    }
    counts
}

#[test]
fn promqltest_files() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/testdata");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("testdata dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".test"))
        .collect();
    names.sort();
    let mut all_failures = Vec::new();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for n in &names {
        let text = std::fs::read_to_string(format!("{dir}/{n}")).expect("read test file");
        let c = run_file(n, &text);
        let sk: usize = c.skipped.values().sum();
        println!(
            "{n}: {} passed, {} failed, {sk} skipped {:?}",
            c.passed, c.failed, c.skipped
        );
        passed += c.passed;
        failed += c.failed;
        skipped += sk;
        all_failures.extend(c.failures);
    }
    println!("total: {passed} passed, {failed} failed, {skipped} skipped");
    for f in &all_failures {
        println!("FAIL {f}");
    }
    assert!(
        all_failures.is_empty(),
        "{} promqltest cases failed",
        all_failures.len()
    );
}
