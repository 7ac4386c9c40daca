//! Differential PromQL referee: Debian's Prometheus 2.42 and mini-prometheus scrape the same
//! deterministic target, then answer the same queries over HTTP, and must agree.
//!
//! **Data.** `referee/target.rs` serves node-exporter, HTTP-server and kube-state-metrics
//! shaped families (counters with resets, gauges, a classic histogram, series that appear and
//! vanish, NaN and ±Inf) with explicit timestamps on a 15 s grid, in lockstep to both
//! scrapers (each on its own path), so that both stores hold the same samples whatever the
//! scrape timing. Before any query is compared, both must return the same raw samples for a
//! range selector over all of it.
//!
//! **Queries.** `referee/queries.txt` (>200 dashboard shapes and generated combinations,
//! ~20 invalid ones): each is run as an instant query at four times and as a range query
//! (one-minute steps over 21 minutes) against both servers.
//!
//! **Comparison.** Same result type; the same series (label sets); values equal within a
//! relative tolerance of 1e-9 (an exact 0 on one side accepts |other| <= 1e-12: Prometheus 3
//! sums with Kahan compensation, 2.42 does not), NaN and ±Inf exactly; the same timestamps.
//! Series order is compared only for an outermost `sort()`/`sort_desc()` of an instant query,
//! the only place Prometheus defines it. A failing query must fail with the same `errorType`
//! (messages differ between versions). Every disagreement is printed in one table, then the
//! test fails.
//!
//! **Prometheus 3 vs 2.42** (the law is 3; see [`EXCEPTIONS`]): where the two differ the data
//! and the corpus keep clear of the difference, or the corpus states the 3.x answer: an
//! `expect-3x` line (an error) that only mini-prometheus is asked, or an `expect-3x-as` line
//! that asks Prometheus 2.42 an equivalent query whose 2.42 answer is what 3.x answers to the
//! query mini-prometheus is asked.
//!
//! Until the PromQL engine is merged, most queries fail on our side ("not supported"); while
//! developing, `REFEREE_FILTER='^selectors:'` (a regex over "SECTION: QUERY") restricts the
//! corpus. Without `/usr/bin/prometheus` the test prints `SKIP` and passes.
//!
//! Run: `cargo test -p mini-prometheus --test referee -- --nocapture`.

mod compat_common;
#[path = "referee/target.rs"]
mod target;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use compat_common::*;
use serde_json::Value;
use target::{POINTS, Schedule, Target};

/// Where Prometheus 3 (which mini-prometheus follows) and the 2.42 referee differ, the source,
/// and how the test keeps clear of it.
pub const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "range selectors and the lookback window are left-open in 3.x (`x[5m]` at t excludes a sample at exactly t-5m), closed in 2.42",
        "Prometheus 3.0.0 release notes; prometheus/prometheus#13904",
        "samples sit at .500 s, every evaluation time, range, offset and subquery step is whole seconds: no boundary ever holds a sample. A subquery's own points are on multiples of its step, so one evaluated at a whole minute has a point on its left boundary: `max_over_time(node_load1[5m:1m] @ {B+1200})` is an `expect-3x-as` line whose reference is `[4m:1m]`, 2.42's closed window over the same points",
    ),
    (
        "`atan2` drops the metric name since 2.47 (engine.go shouldDropMetricName, now changesMetricSchema); 2.42 keeps it",
        "prometheus/prometheus#12595 (commit 531567d46e); vendored operators.test \"Testing atan2\" expects `{}`",
        "`expect-3x-as` line: 2.42 is asked `(a atan2 b) - 0`, which drops the name",
    ),
    (
        "3.x's Kahan increment resets the compensation once the sum is infinite (util/kahansum.Inc, `math.IsInf(t, 0)`), so `stddev_over_time`/`stdvar_over_time` of values whose squared deviations overflow are +Inf; 2.42 (no reset) gives NaN",
        "prometheus/prometheus#14362 (commit fd6bdf5230, 2.54)",
        "`expect-3x-as` lines: 2.42 is asked the `kind!=\"huge\"` series `or` `count_over_time(rf_special{kind=\"huge\"}[10m]) * +Inf`",
    ),
    (
        "`rate`/`increase`: 3.x first caps the extrapolation to the window start at half a sample interval, then limits it to the counter's zero point; 2.42 took the zero point first, so a counter whose zero point lies between 0.5 and 1.1 sample intervals before its first sample in the window extrapolates further in 2.42",
        "prometheus/prometheus#13725 (2.51); vendored functions.test \"Zero cutoff for left-side extrapolation\"",
        "every counter starts at 0 or far above its per-interval growth (`http_requests_total{code=\"200\",handler=\"/api\"}` starts at 500, ~110 s from its zero point)",
    ),
    (
        "`holt_winters` was renamed `double_exponential_smoothing` and put behind --enable-feature=promql-experimental-functions",
        "Prometheus 3.0.0 release notes; prometheus/prometheus#14930",
        "`expect-3x bad_data:` line: only mini-prometheus is asked, and must refuse it",
    ),
    (
        "3.x normalises classic histogram `le` and summary `quantile` label values at scrape time (`1` -> `1.0`)",
        "Prometheus 3.0.0 release notes; prometheus/prometheus#14722",
        "the target writes them already normalised (`1.0`, `2.5`, `+Inf`), which 2.42 keeps as written",
    ),
    (
        "`.` in regexes matches newlines in 3.x",
        "Prometheus 3.0.0 release notes; prometheus/prometheus#11735",
        "no label value holds a newline",
    ),
    (
        "3.x sums with Kahan compensation (sum, avg, *_over_time)",
        "prometheus/prometheus#14413, #14074",
        "relative tolerance 1e-9; an exact 0 against |x| <= 1e-12 agrees",
    ),
    (
        "3.x `/api/v1/status/runtimeinfo` adds `hostname`, `serverTime` and `GOMEMLIMIT`; 3.x `/api/v1/metadata` entries are ordered type, unit, help",
        "prometheus/prometheus commits 73a3438c1b (hostname, serverTime) and d281ebb178 (GOMEMLIMIT), both after 2.42; model/metadata.Metadata",
        "runtimeinfo keys are compared without those three, which ours must have; metadata is compared as JSON values, not bytes",
    ),
    (
        "experimental functions of 3.x (sort_by_label, limitk, mad_over_time, info, ...) need a feature flag, and 2.42 lacks them",
        "Prometheus 3.x docs, querying/functions",
        "not in the corpus",
    ),
];

/// `RuntimeInfo` fields Prometheus 3 has and 2.42 lacks (see [`EXCEPTIONS`]).
const RUNTIMEINFO_3X: [&str; 3] = ["hostname", "serverTime", "GOMEMLIMIT"];

/// Instant query times and the range query, in seconds after the data's base time. The data
/// spans `0.5 ..= 1425.5` s.
const INSTANT_AT: [i64; 4] = [607, 931, 1453, 1663];
const RANGE: (i64, i64, i64) = (367, 1627, 60);
/// Where the raw samples are compared (covers every sample with its `[30m]`).
const RAW_AT: i64 = 1500;
/// Every metric the target serves.
const RAW_SELECTOR: &str =
    r#"{__name__=~"node_.+|http_.+|kube_.+|container_.+|probe_.+|rf_.+"}[30m]"#;

/// One query of the corpus.
struct Case {
    section: String,
    query: String,
    /// `expect-3x`: mini-prometheus alone, it must fail with this error type.
    expect_error: Option<String>,
    /// `expect-3x-as`: what Prometheus 2.42 is asked instead of `query` (its 2.42 answer is
    /// 3.x's answer to `query`).
    reference: Option<String>,
}

fn corpus(base_s: i64) -> Vec<Case> {
    let text = include_str!("referee/queries.txt");
    let mut section = String::from("unsectioned");
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(s) = line.strip_prefix("# section:") {
            section = s.trim().to_owned();
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (expect_error, reference, query) =
            if let Some(rest) = line.strip_prefix("expect-3x-as ") {
                let (q, reference) = rest
                    .split_once(" ;; ")
                    .unwrap_or_else(|| panic!("bad expect-3x-as line: {line}"));
                (None, Some(substitute(reference.trim(), base_s)), q.trim())
            } else if let Some(rest) = line.strip_prefix("expect-3x ") {
                let (kind, q) = rest
                    .split_once(": ")
                    .unwrap_or_else(|| panic!("bad expect-3x line: {line}"));
                (Some(kind.to_owned()), None, q)
            } else {
                (None, None, line)
            };
        out.push(Case {
            section: section.clone(),
            query: substitute(query, base_s),
            expect_error,
            reference,
        });
    }
    out
}

/// Replaces `{B}` and `{B+S}` with Unix seconds.
fn substitute(q: &str, base_s: i64) -> String {
    let mut out = String::new();
    let mut rest = q;
    while let Some(at) = rest.find("{B") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 2..];
        let Some(end) = tail.find('}') else {
            out.push_str(&rest[at..]);
            return out;
        };
        let offset: i64 = match tail[..end].strip_prefix('+') {
            Some(n) => n
                .parse()
                .unwrap_or_else(|e| panic!("bad placeholder in {q}: {e}")),
            None => 0,
        };
        let _ = write!(out, "{}", base_s + offset);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// What a server answered.
#[derive(Debug, Clone)]
enum Outcome {
    Data { kind: String, result: Value },
    Error { kind: String, message: String },
    Broken(String),
}

impl Outcome {
    fn from_http(r: Result<(u16, String), String>) -> Outcome {
        let (code, body) = match r {
            Ok(x) => x,
            Err(e) => return Outcome::Broken(e),
        };
        let v: Value = match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(_) => return Outcome::Broken(format!("HTTP {code}: {}", short(&body, 80))),
        };
        match v["status"].as_str() {
            Some("success") => Outcome::Data {
                kind: v["data"]["resultType"].as_str().unwrap_or("?").to_owned(),
                result: v["data"]["result"].clone(),
            },
            Some("error") => Outcome::Error {
                kind: v["errorType"].as_str().unwrap_or("?").to_owned(),
                message: v["error"].as_str().unwrap_or("").to_owned(),
            },
            _ => Outcome::Broken(format!("HTTP {code}: {}", short(&body, 80))),
        }
    }

    fn summary(&self) -> String {
        match self {
            Outcome::Data { kind, result } => match result.as_array() {
                Some(a) => format!("{kind}({})", a.len()),
                None => format!("{kind} {}", short(&result.to_string(), 40)),
            },
            Outcome::Error { kind, message } => format!("{kind}: {}", short(message, 60)),
            Outcome::Broken(e) => format!("BROKEN {}", short(e, 60)),
        }
    }
}

fn short(s: &str, n: usize) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() <= n {
        s
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// A sample value as the API writes it.
fn value_of(v: &Value) -> f64 {
    match v.as_str() {
        Some("NaN") => f64::NAN,
        Some("+Inf") => f64::INFINITY,
        Some("-Inf") => f64::NEG_INFINITY,
        Some(s) => s.parse().unwrap_or(f64::NAN),
        None => f64::NAN,
    }
}

/// Equal within the referee's tolerance (see the module docs).
fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() || a == b {
        return a == b;
    }
    if a == 0.0 || b == 0.0 {
        return (a - b).abs() <= 1e-12;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// `(ts, value)` of a `[ts, "v"]` pair.
fn point(p: &Value) -> (f64, f64) {
    (p[0].as_f64().unwrap_or(f64::NAN), value_of(&p[1]))
}

fn same_point(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 == b.0 && close(a.1, b.1)
}

/// One series of a vector or matrix: labels and points.
fn series(result: &Value, matrix: bool) -> Vec<(LabelMap, Vec<(f64, f64)>)> {
    result
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    let points = if matrix {
                        s["values"]
                            .as_array()
                            .map(|v| v.iter().map(point).collect())
                    } else {
                        Some(vec![point(&s["value"])])
                    };
                    (label_map(&s["metric"]), points.unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn fmt_points(p: &[(f64, f64)]) -> String {
    let shown: Vec<String> = p.iter().take(4).map(|(t, v)| format!("{v}@{t}")).collect();
    let more = if p.len() > 4 {
        format!(" …({} points)", p.len())
    } else {
        String::new()
    };
    format!("[{}]{more}", shown.join(" "))
}

/// Why the referee's and our outcome disagree, or `None`.
fn compare(reference: &Outcome, ours: &Outcome, ordered: bool) -> Option<String> {
    match (reference, ours) {
        (Outcome::Error { kind: a, .. }, Outcome::Error { kind: b, .. }) => {
            (a != b).then(|| format!("errorType {a} vs {b}"))
        }
        (
            Outcome::Data {
                kind: ka,
                result: ra,
            },
            Outcome::Data {
                kind: kb,
                result: rb,
            },
        ) => {
            if ka != kb {
                return Some(format!("resultType {ka} vs {kb}"));
            }
            match ka.as_str() {
                "scalar" | "string" => {
                    let (a, b) = (point(ra), point(rb));
                    let same = if ka == "string" {
                        ra == rb
                    } else {
                        same_point(a, b)
                    };
                    (!same).then(|| format!("{ra} vs {rb}"))
                }
                kind => {
                    let matrix = kind == "matrix";
                    let (mut a, mut b) = (series(ra, matrix), series(rb, matrix));
                    if !ordered {
                        a.sort_by(|x, y| x.0.cmp(&y.0));
                        b.sort_by(|x, y| x.0.cmp(&y.0));
                    }
                    let la: Vec<&LabelMap> = a.iter().map(|s| &s.0).collect();
                    let lb: Vec<&LabelMap> = b.iter().map(|s| &s.0).collect();
                    if la != lb {
                        let only_a: Vec<String> = la
                            .iter()
                            .filter(|l| !lb.contains(l))
                            .map(|l| series_string(l))
                            .collect();
                        let only_b: Vec<String> = lb
                            .iter()
                            .filter(|l| !la.contains(l))
                            .map(|l| series_string(l))
                            .collect();
                        if only_a.is_empty() && only_b.is_empty() {
                            return Some("same series in another order".to_owned());
                        }
                        return Some(format!(
                            "series only in Prometheus: {}; only in ours: {}",
                            short(&only_a.join(" "), 120),
                            short(&only_b.join(" "), 120)
                        ));
                    }
                    for ((l, pa), (_, pb)) in a.iter().zip(&b) {
                        let same = pa.len() == pb.len()
                            && pa.iter().zip(pb).all(|(x, y)| same_point(*x, *y));
                        if !same {
                            return Some(format!(
                                "{}: {} vs {}",
                                series_string(l),
                                fmt_points(pa),
                                fmt_points(pb)
                            ));
                        }
                    }
                    None
                }
            }
        }
        (a, b) => Some(format!("{} vs {}", a.summary(), b.summary())),
    }
}

/// Whether Prometheus defines the order of the query's result (an instant query whose
/// outermost call is `sort`/`sort_desc`).
fn ordered(query: &str) -> bool {
    let q = query.trim_start();
    q.starts_with("sort(") || q.starts_with("sort_desc(")
}

struct Mismatch {
    section: String,
    query: String,
    mode: String,
    reference: String,
    ours: String,
    why: String,
}

fn table(rows: &[Mismatch]) -> String {
    let mut out = String::from(
        "| # | section | query | eval | Prometheus 2.42 | mini-prometheus | difference |\n|---|---|---|---|---|---|---|\n",
    );
    for (i, m) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} | {} | {} | {} |",
            i + 1,
            m.section,
            m.query,
            m.mode,
            m.reference,
            m.ours,
            m.why
        );
    }
    out
}

async fn instant(port: u16, q: &str, t: i64) -> Outcome {
    Outcome::from_http(http_get(port, &format!("/api/v1/query?query={}&time={t}", enc(q))).await)
}

async fn range(port: u16, q: &str, start: i64, end: i64, step: i64) -> Outcome {
    Outcome::from_http(
        http_get(
            port,
            &format!(
                "/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
                enc(q)
            ),
        )
        .await,
    )
}

fn config(target_port: u16, path: &str) -> String {
    format!(
        "global:\n  scrape_interval: 100ms\n  scrape_timeout: 100ms\nscrape_configs:\n  - job_name: referee\n    metrics_path: {path}\n    static_configs:\n      - targets: [\"127.0.0.1:{target_port}\"]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promql_agrees_with_prometheus() {
    let Some(prom_bin) = find_binary("prometheus") else {
        println!("SKIP: no prometheus binary (apt-get install prometheus)");
        return;
    };
    let filter = std::env::var("REFEREE_FILTER")
        .ok()
        .filter(|f| !f.is_empty())
        .map(|f| regex::Regex::new(&f).unwrap_or_else(|e| panic!("REFEREE_FILTER: {e}")));
    let started = Instant::now();
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    // 30 minutes back, on a whole minute: the data ends ~6 minutes ago, within both stores'
    // appendable window (Prometheus' head takes samples up to 1h older than its newest).
    let base_s = (now_s - 30 * 60) / 60 * 60;
    let schedule = Schedule {
        base_ms: base_s * 1000,
    };
    let target = Target::start(schedule).await;

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let prom_cfg = dir.path().join("prometheus.yml");
    let mini_cfg = dir.path().join("mini.yml");
    std::fs::write(&prom_cfg, config(target.port, "/metrics/prom"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&mini_cfg, config(target.port, "/metrics/mini"))
        .unwrap_or_else(|e| panic!("{e}"));
    let Pair {
        prom,
        prom_port,
        mini,
        mini_port,
    } = Pair::start(
        dir.path(),
        &prom_bin,
        &prom_cfg,
        &mini_cfg,
        Duration::from_secs(30),
    )
    .await;

    // Ingest: both scrapers walk the grid in lockstep.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !target.done() {
        if Instant::now() > deadline {
            panic!(
                "the scrapers did not fetch all {POINTS} grid points in 60 s: (point, fetches, total) = {:?}\n{}\n{}",
                target.progress(),
                prom.log_tail(20),
                mini.log_tail(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The last scrapes' appends commit; then both stores must hold the same samples.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ingest = started.elapsed();
    let raw_ref = instant(prom_port, RAW_SELECTOR, base_s + RAW_AT).await;
    let raw_ours = instant(mini_port, RAW_SELECTOR, base_s + RAW_AT).await;
    match (&raw_ref, compare(&raw_ref, &raw_ours, false)) {
        (Outcome::Data { result, .. }, None) => {
            let points: usize = series(result, true).iter().map(|s| s.1.len()).sum();
            println!(
                "both stores hold the same {} series, {points} samples (ingest took {ingest:?})",
                result.as_array().map_or(0, Vec::len)
            );
            assert!(points > 3000, "too few samples: {points}");
        }
        (_, why) => panic!(
            "the stores differ before any query: {}\nPrometheus: {}\nours: {}",
            why.unwrap_or_default(),
            raw_ref.summary(),
            raw_ours.summary()
        ),
    }

    let status_diffs = compare_status(prom_port, mini_port).await;
    assert!(
        status_diffs.is_empty(),
        "metadata and status endpoints differ from Prometheus:\n{}",
        status_diffs.join("\n")
    );

    let cases = corpus(base_s);
    let mut mismatches = Vec::new();
    let (mut run, mut agreed) = (0usize, 0usize);
    let mut per_section: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for case in &cases {
        let key = format!("{}: {}", case.section, case.query);
        if filter.as_ref().is_some_and(|f| !f.is_match(&key)) {
            continue;
        }
        let mut evals: Vec<(String, Outcome, Outcome)> = Vec::new();
        if let Some(kind) = &case.expect_error {
            let ours = instant(mini_port, &case.query, base_s + INSTANT_AT[0]).await;
            let expected = Outcome::Error {
                kind: kind.clone(),
                message: "(Prometheus 3)".to_owned(),
            };
            evals.push(("instant, 3.x expectation".to_owned(), expected, ours));
        } else {
            let asked = case.reference.as_deref().unwrap_or(&case.query);
            for at in INSTANT_AT {
                let t = base_s + at;
                evals.push((
                    format!("instant B+{at}"),
                    instant(prom_port, asked, t).await,
                    instant(mini_port, &case.query, t).await,
                ));
            }
            let (s, e, step) = (base_s + RANGE.0, base_s + RANGE.1, RANGE.2);
            evals.push((
                format!("range B+{}..B+{} /{step}s", RANGE.0, RANGE.1),
                range(prom_port, asked, s, e, step).await,
                range(mini_port, &case.query, s, e, step).await,
            ));
        }
        run += 1;
        let sect = per_section.entry(case.section.clone()).or_default();
        sect.0 += 1;
        let mut ok = true;
        for (mode, reference, ours) in &evals {
            let sorted = ordered(&case.query) && mode.starts_with("instant");
            if let Some(why) = compare(reference, ours, sorted) {
                ok = false;
                mismatches.push(Mismatch {
                    section: case.section.clone(),
                    query: match &case.reference {
                        Some(r) => format!("{}` (2.42 asked `{r}`)", case.query),
                        None => case.query.clone(),
                    },
                    mode: mode.clone(),
                    reference: reference.summary(),
                    ours: ours.summary(),
                    why,
                });
            }
        }
        if ok {
            agreed += 1;
            sect.1 += 1;
        }
    }
    let mut summary = format!(
        "referee: {agreed} of {run} queries agree ({} in the corpus), {} disagreeing evaluations, {:?} in all\n",
        cases.len(),
        mismatches.len(),
        started.elapsed()
    );
    for (s, (n, ok)) in &per_section {
        let _ = writeln!(summary, "  {s}: {ok}/{n}");
    }
    println!("{summary}");
    if !mismatches.is_empty() {
        panic!("{}\n{summary}", table(&mismatches));
    }
    assert!(run > 0, "REFEREE_FILTER matched no query");
}

/// `data` of a GET that must succeed.
async fn data(port: u16, path: &str) -> Value {
    get_json(port, path)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get("data")
        .cloned()
        .unwrap_or(Value::Null)
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// The metadata and status endpoints against Prometheus: the metadata of the same scrapes
/// must be equal; the status endpoints must have Prometheus' field names, and the values
/// both servers know alike (flags both have, head series and label pairs, oldest sample).
async fn compare_status(prom: u16, mini: u16) -> Vec<String> {
    let mut diffs_early = Vec::new();
    let mut diffs = Vec::new();
    let mut check = |what: &str, a: &Value, b: &Value| {
        if a != b {
            diffs.push(format!("{what}:\n  Prometheus: {a}\n  ours:       {b}"));
        }
    };
    // Families declared by the target (Prometheus adds none of its own to this map).
    for path in [
        "/api/v1/metadata",
        "/api/v1/metadata?metric=http_request_duration_seconds",
        "/api/v1/metadata?limit=2",
        "/api/v1/metadata?metric=nonexistent",
    ] {
        let (a, b) = (data(prom, path).await, data(mini, path).await);
        if path == "/api/v1/metadata" && json_len(&a) != 18 {
            diffs_early.push(format!(
                "Prometheus lists {} families, not the target's 18",
                json_len(&a)
            ));
        }
        if path.ends_with("limit=2") {
            // Which two families: Go's map order; their number is defined.
            check(path, &json_len(&a), &json_len(&b));
        } else {
            check(path, &a, &b);
        }
    }
    for path in [
        "/api/v1/targets/metadata?match_target=%7Bjob%3D%22referee%22%7D",
        "/api/v1/targets/metadata?metric=node_load1",
        "/api/v1/targets/metadata?match_target=%7Bjob%3D%22other%22%7D",
    ] {
        let sorted = |v: Value| {
            let mut items = v.as_array().cloned().unwrap_or_default();
            items.sort_by_key(|x| x.to_string());
            Value::Array(items)
        };
        check(
            path,
            &sorted(data(prom, path).await),
            &sorted(data(mini, path).await),
        );
    }
    for path in [
        "/api/v1/status/buildinfo",
        "/api/v1/status/runtimeinfo",
        "/api/v1/status/config",
        "/api/v1/status/flags",
    ] {
        let (a, b) = (data(prom, path).await, data(mini, path).await);
        if path.ends_with("flags") {
            // The flags both have (Prometheus has many more), with the same values.
            for name in [
                "web.listen-address",
                "config.file",
                "query.timeout",
                "query.max-samples",
                "query.max-concurrency",
                "web.max-connections",
            ] {
                let (x, y) = (&a[name], &b[name]);
                if name == "web.listen-address" {
                    check(
                        &format!("{path} has {name}"),
                        &Value::Bool(x.is_string()),
                        &Value::Bool(y.is_string()),
                    );
                } else if name != "config.file" {
                    check(&format!("{path}: {name}"), x, y);
                }
            }
        } else {
            let mut ours = keys(&b);
            if path.ends_with("runtimeinfo") {
                for k in RUNTIMEINFO_3X {
                    let had = ours.len();
                    ours.retain(|x| x != k);
                    check(
                        &format!("{path} has {k}"),
                        &Value::Bool(true),
                        &Value::Bool(ours.len() < had),
                    );
                }
            }
            check(
                &format!("{path} keys"),
                &Value::from(keys(&a)),
                &Value::from(ours),
            );
        }
        if path.ends_with("runtimeinfo") {
            for k in ["reloadConfigSuccess", "corruptionCount", "storageRetention"] {
                let retention_differs = k == "storageRetention";
                if !retention_differs {
                    check(&format!("{path}: {k}"), &a[k], &b[k]);
                }
            }
        }
    }
    let (a, b) = (
        data(prom, "/api/v1/status/tsdb").await,
        data(mini, "/api/v1/status/tsdb").await,
    );
    check(
        "/api/v1/status/tsdb keys",
        &Value::from(keys(&a)),
        &Value::from(keys(&b)),
    );
    check(
        "/api/v1/status/tsdb headStats keys",
        &Value::from(keys(&a["headStats"])),
        &Value::from(keys(&b["headStats"])),
    );
    for k in ["numSeries", "numLabelPairs", "minTime"] {
        check(
            &format!("/api/v1/status/tsdb headStats.{k}"),
            &a["headStats"][k],
            &b["headStats"][k],
        );
    }
    // Counts that are unique in the top 10 and above its smallest one (which may tie with
    // entries cut off); the order of ties is Go's map order.
    let top = |v: &Value, key: &str| -> Value {
        let items = v[key].as_array().cloned().unwrap_or_default();
        let least = items.iter().filter_map(|x| x["value"].as_u64()).min();
        let unique: Vec<Value> = items
            .iter()
            .filter(|x| x["value"].as_u64() != least)
            .filter(|x| items.iter().filter(|y| y["value"] == x["value"]).count() == 1)
            .cloned()
            .collect();
        Value::Array(unique)
    };
    for key in [
        "seriesCountByMetricName",
        "labelValueCountByLabelName",
        "seriesCountByLabelValuePair",
    ] {
        check(
            &format!("/api/v1/status/tsdb {key} (unique counts)"),
            &top(&a, key),
            &top(&b, key),
        );
    }
    diffs.extend(diffs_early);
    diffs
}

fn json_len(v: &Value) -> Value {
    Value::from(v.as_object().map_or(0, |o| o.len()))
}

#[test]
fn placeholders_and_tolerance() {
    assert_eq!(substitute("x @ {B+90} + {B}", 1000), "x @ 1090 + 1000");
    assert!(close(1.0, 1.0 + 1e-12));
    assert!(!close(1.0, 1.0 + 1e-6));
    assert!(close(f64::NAN, f64::NAN));
    assert!(!close(f64::NAN, 0.0));
    assert!(close(f64::INFINITY, f64::INFINITY));
    assert!(!close(f64::INFINITY, f64::NEG_INFINITY));
    assert!(close(0.0, 1e-13));
    assert!(!close(0.0, 1e-6));
    assert!(ordered("sort_desc(x)") && !ordered("topk(1, x)"));
    let cases = corpus(0);
    assert!(cases.len() >= 200, "{}", cases.len());
    let invalid = cases.iter().filter(|c| c.section == "invalid").count();
    assert!(invalid >= 15, "{invalid}");
    let atan2 = cases
        .iter()
        .find(|c| c.query == "node_load1 atan2 node_load5")
        .unwrap_or_else(|| panic!("no atan2 case"));
    assert_eq!(
        atan2.reference.as_deref(),
        Some("(node_load1 atan2 node_load5) - 0")
    );
    assert!(atan2.expect_error.is_none());
}

#[test]
fn comparison_reports_differences() {
    let data = |r: &str| Outcome::Data {
        kind: "vector".to_owned(),
        result: serde_json::from_str(r).unwrap(),
    };
    let a =
        data(r#"[{"metric":{"a":"1"},"value":[10,"1"]},{"metric":{"a":"2"},"value":[10,"NaN"]}]"#);
    let b = data(
        r#"[{"metric":{"a":"2"},"value":[10,"NaN"]},{"metric":{"a":"1"},"value":[10,"1.0000000000001"]}]"#,
    );
    assert_eq!(compare(&a, &b, false), None);
    assert_eq!(
        compare(&a, &b, true),
        Some("same series in another order".to_owned())
    );
    let c =
        data(r#"[{"metric":{"a":"1"},"value":[10,"2"]},{"metric":{"a":"2"},"value":[10,"NaN"]}]"#);
    assert_eq!(
        compare(&a, &c, false),
        Some("{a=\"1\"}: [1@10] vs [2@10]".to_owned())
    );
    let err = |k: &str| Outcome::Error {
        kind: k.to_owned(),
        message: "m".to_owned(),
    };
    assert_eq!(compare(&err("bad_data"), &err("bad_data"), false), None);
    assert_eq!(
        compare(&err("bad_data"), &err("execution"), false),
        Some("errorType bad_data vs execution".to_owned())
    );
    assert_eq!(
        compare(&a, &err("bad_data"), false),
        Some("vector(2) vs bad_data: m".to_owned())
    );
}
