//! The part of PromQL mini-prometheus evaluates: vector selectors, range selectors and number
//! literals; everything else is refused with a clear error rather than silently ignored.
//!
//! Parsing uses the `promql-parser` crate (the full PromQL grammar), so syntax errors are
//! reported like any PromQL engine reports them, and an expression that is valid PromQL but
//! beyond a selector (a function, an operator between series, an aggregation) gets an error
//! that names what was found.
//!
//! Evaluation follows Prometheus 3: an instant selector at time `t` takes each series' newest
//! sample in the left-open lookback window `(t - 5m, t]`, and a series whose newest sample is
//! a staleness marker is absent; a range selector `x[d]` returns the samples in `(t - d, t]`
//! without staleness markers. `offset` and `@` are honoured.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promql_parser::parser::{self, AtModifier, Expr, Offset, VectorSelector};
use scrapeline_exposition::Labels;
use scrapeline_exposition::value::is_stale_nan;

use crate::api::{guard, json};
use crate::store::{Matcher, ReadBudget, ReadError, Store};

/// Prometheus' default lookback delta.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(300);
/// Prometheus' limit on points per series in a range query.
pub const MAX_POINTS: i64 = 11_000;

/// A parsed query mini-prometheus can evaluate.
#[derive(Debug, Clone)]
pub enum Query {
    /// `up{job="x"}`: an instant vector.
    Vector(Selector),
    /// `up{job="x"}[5m]`: a range vector (instant queries only).
    Matrix(Selector, i64),
    /// A number, or arithmetic between numbers (`1+1` is what Grafana sends to test a data
    /// source).
    Scalar(f64),
}

/// Which series a selector picks and at what time.
#[derive(Debug, Clone)]
pub struct Selector {
    /// All must match.
    pub matchers: Vec<Matcher>,
    /// `offset` in ms (positive looks back).
    pub offset_ms: i64,
    /// `@` modifier.
    pub at: Option<At>,
}

/// An `@` modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// `@ <timestamp>` in ms.
    Time(i64),
    /// `@ start()`.
    Start,
    /// `@ end()`.
    End,
}

impl Selector {
    /// The time the selector looks at when evaluated at `t` in a query over `[start, end]`.
    fn eval_time(&self, t: i64, start: i64, end: i64) -> i64 {
        let base = match self.at {
            None => t,
            Some(At::Time(a)) => a,
            Some(At::Start) => start,
            Some(At::End) => end,
        };
        base.saturating_sub(self.offset_ms)
    }
}

/// Parses `input` and keeps it only if mini-prometheus can evaluate it.
pub fn parse(input: &str) -> Result<Query, String> {
    let expr = parse_expr(input)?;
    convert(&expr)
}

/// Parses a series selector as `match[]` parameters take it (`up`, `{job="x"}`).
pub fn parse_selector(input: &str) -> Result<Vec<Matcher>, String> {
    match parse_expr(input)? {
        Expr::VectorSelector(vs) => Ok(selector(&vs)?.matchers),
        other => Err(format!(
            "expected a series selector such as up{{job=\"x\"}}, got {}",
            describe(&other)
        )),
    }
}

/// The PromQL parser behind the [`guard`] (bounded nesting and size, so neither it nor the
/// recursive walks over its tree can overflow the stack) and a panic catcher: the parser
/// panics on some numbers it turns into durations (`x[1e400]`), and a query must never take a
/// thread down.
fn parse_expr(input: &str) -> Result<Expr, String> {
    guard::check(input)?;
    std::panic::catch_unwind(|| parser::parse(input)).unwrap_or_else(|_| {
        Err("parse error: a number or duration in the query is out of range".to_owned())
    })
}

fn convert(expr: &Expr) -> Result<Query, String> {
    match expr {
        Expr::VectorSelector(vs) => Ok(Query::Vector(selector(vs)?)),
        Expr::MatrixSelector(ms) => Ok(Query::Matrix(
            selector(&ms.vs)?,
            i64::try_from(ms.range.as_millis()).unwrap_or(i64::MAX),
        )),
        Expr::Paren(p) => match convert(&p.expr)? {
            Query::Scalar(v) => Ok(Query::Scalar(v)),
            _ => Err(unsupported(expr)),
        },
        _ => scalar(expr)
            .map(Query::Scalar)
            .ok_or_else(|| unsupported(expr)),
    }
}

/// Evaluates number literals and arithmetic between them.
fn scalar(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::NumberLiteral(n) => Some(n.val),
        Expr::Paren(p) => scalar(&p.expr),
        Expr::Unary(u) => scalar(&u.expr).map(|v| -v),
        Expr::Binary(b) => {
            let (l, r) = (scalar(&b.lhs)?, scalar(&b.rhs)?);
            match b.op.to_string().as_str() {
                "+" => Some(l + r),
                "-" => Some(l - r),
                "*" => Some(l * r),
                "/" => Some(l / r),
                "%" => Some(l % r),
                "^" => Some(l.powf(r)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn unsupported(expr: &Expr) -> String {
    format!(
        "mini-prometheus evaluates only series selectors (up{{job=\"x\"}}), range selectors \
         (x[5m]) and number literals; functions, operators and aggregations are not \
         implemented (found {}: {expr})",
        describe(expr)
    )
}

fn describe(expr: &Expr) -> &'static str {
    match expr {
        Expr::Aggregate(_) => "an aggregation",
        Expr::Unary(_) => "a unary operator",
        Expr::Binary(_) => "a binary operator",
        Expr::Paren(_) => "a parenthesized expression",
        Expr::Subquery(_) => "a subquery",
        Expr::NumberLiteral(_) => "a number",
        Expr::StringLiteral(_) => "a string",
        Expr::VectorSelector(_) => "a vector selector",
        Expr::MatrixSelector(_) => "a range selector",
        Expr::Call(_) => "a function call",
        Expr::Extension(_) => "an extension",
    }
}

fn selector(vs: &VectorSelector) -> Result<Selector, String> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err("\"or\" between label matchers is not supported".to_owned());
    }
    let mut matchers = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    let mut has_name = false;
    for m in &vs.matchers.matchers {
        use promql_parser::label::MatchOp as Op;
        has_name |= m.name == scrapeline_exposition::labels::METRIC_NAME;
        matchers.push(match &m.op {
            Op::Equal => Matcher::equal(&m.name, &m.value),
            Op::NotEqual => Matcher::not_equal(&m.name, &m.value),
            Op::Re(_) => Matcher::regex(&m.name, &m.value).map_err(|e| e.to_string())?,
            Op::NotRe(_) => Matcher::not_regex(&m.name, &m.value).map_err(|e| e.to_string())?,
        });
    }
    if let Some(name) = &vs.name
        && !has_name
    {
        matchers.push(Matcher::equal(
            scrapeline_exposition::labels::METRIC_NAME,
            name,
        ));
    }
    if matchers.iter().all(|m| m.matches_value("")) {
        return Err("vector selector must contain at least one non-empty matcher".to_owned());
    }
    let offset_ms = match &vs.offset {
        None => 0,
        Some(Offset::Pos(d)) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Some(Offset::Neg(d)) => -i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
    };
    let at = match &vs.at {
        None => None,
        Some(AtModifier::Start) => Some(At::Start),
        Some(AtModifier::End) => Some(At::End),
        Some(AtModifier::At(t)) => Some(At::Time(system_time_ms(*t))),
    };
    Ok(Selector {
        matchers,
        offset_ms,
        at,
    })
}

/// Milliseconds since the epoch (negative before it).
pub fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Evaluates `q` at `t` (ms) and writes the `data` object of the response; stops when
/// `budget` runs out.
pub fn instant(
    store: &Store,
    q: &Query,
    t: i64,
    lookback_ms: i64,
    budget: &ReadBudget,
    out: &mut String,
) -> Result<(), ReadError> {
    match q {
        Query::Scalar(v) => {
            // Prometheus' `Scalar.MarshalJSON`: the time as a JSON float, the value in 'f'
            // layout, unlike vector and matrix points.
            out.push_str(r#"{"resultType":"scalar","result":["#);
            json::number(out, t as f64 / 1000.0);
            out.push_str(",\"");
            if v.is_finite() {
                use std::fmt::Write;
                let _ = write!(out, "{v}");
            } else {
                scrapeline_exposition::value::format_value(*v, out);
            }
            out.push_str("\"]}");
        }
        Query::Vector(sel) => {
            let et = sel.eval_time(t, t, t);
            let rows = store.latest_within(
                &sel.matchers,
                et.saturating_sub(lookback_ms - 1),
                et,
                budget,
            )?;
            out.push_str(r#"{"resultType":"vector","result":["#);
            let mut first = true;
            for (labels, _, v) in rows.iter().filter(|r| !is_stale_nan(r.2)) {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(r#"{"metric":"#);
                json::labels(out, labels);
                out.push_str(r#","value":["#);
                json::timestamp(out, t);
                out.push(',');
                json::value(out, *v);
                out.push_str("]}");
            }
            out.push_str("]}");
        }
        Query::Matrix(sel, range) => {
            let et = sel.eval_time(t, t, t);
            let series =
                store.select_within(&sel.matchers, et.saturating_sub(range - 1), et, budget)?;
            let series: Vec<(Labels, Vec<(i64, f64)>)> = series
                .into_iter()
                .map(|s| {
                    let pts: Vec<(i64, f64)> = s
                        .samples
                        .into_iter()
                        .filter(|p| !is_stale_nan(p.1))
                        .collect();
                    (s.labels, pts)
                })
                .filter(|(_, p)| !p.is_empty())
                .collect();
            write_matrix(out, &series);
        }
    }
    Ok(())
}

/// Evaluates `q` at every step of `[start, end]` into the `data` object. The caller has
/// checked the step, the number of points and that `q` is not a range selector. The raw
/// samples read and the points produced both count against `budget` (a total, where
/// Prometheus counts the peak: a little stricter).
pub fn range(
    store: &Store,
    q: &Query,
    start: i64,
    end: i64,
    step: i64,
    lookback_ms: i64,
    budget: &ReadBudget,
) -> Result<String, ReadError> {
    let mut out = String::new();
    let steps = || {
        (0i64..)
            .map_while(move |i| i.checked_mul(step).and_then(|d| start.checked_add(d)))
            .take_while(move |t| *t <= end)
    };
    match q {
        // Refused by the caller; nothing to write.
        Query::Matrix(..) => Ok(out),
        Query::Scalar(v) => {
            let pts: Vec<(i64, f64)> = steps().map(|t| (t, *v)).collect();
            budget.load(pts.len())?;
            write_matrix(&mut out, &[(Labels::empty(), pts)]);
            Ok(out)
        }
        Query::Vector(sel) => {
            let (lo, hi) = (
                sel.eval_time(start, start, end),
                sel.eval_time(end, start, end),
            );
            let series = store.select_within(
                &sel.matchers,
                lo.min(hi).saturating_sub(lookback_ms - 1),
                lo.max(hi),
                budget,
            )?;
            let mut result = Vec::new();
            for s in series {
                budget.check()?;
                let mut pts = Vec::new();
                for t in steps() {
                    let et = sel.eval_time(t, start, end);
                    // Newest sample at or before `et`.
                    let idx = s.samples.partition_point(|p| p.0 <= et);
                    if idx == 0 {
                        continue;
                    }
                    let Some(&(st, v)) = s.samples.get(idx - 1) else {
                        continue;
                    };
                    if st > et.saturating_sub(lookback_ms) && !is_stale_nan(v) {
                        pts.push((t, v));
                    }
                }
                if !pts.is_empty() {
                    budget.load(pts.len())?;
                    result.push((s.labels, pts));
                }
            }
            write_matrix(&mut out, &result);
            Ok(out)
        }
    }
}

fn write_matrix(out: &mut String, series: &[(Labels, Vec<(i64, f64)>)]) {
    out.push_str(r#"{"resultType":"matrix","result":["#);
    for (i, (labels, pts)) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"metric":"#);
        json::labels(out, labels);
        out.push_str(r#","values":["#);
        for (j, (t, v)) in pts.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push('[');
            json::timestamp(out, *t);
            out.push(',');
            json::value(out, *v);
            out.push(']');
        }
        out.push_str("]}");
    }
    out.push_str("]}");
}

/// Parses a time parameter as Prometheus does: float Unix seconds or RFC 3339.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>()
        && f.is_finite()
    {
        let ms = (f * 1000.0).round();
        if ms.abs() < 9.2e18 {
            return Ok(ms as i64);
        }
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    Err(format!("cannot parse {s:?} to a valid timestamp"))
}

/// Parses a duration parameter (`step`, `timeout`): float seconds or a PromQL duration
/// (`1m30s`), with Prometheus' errors: `NaN`, and a number too large for a float (`1e400`,
/// which Go's `ParseFloat` refuses), cannot be parsed; `Inf` and finite numbers beyond
/// `int64` milliseconds overflow.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        let overflow_literal = f.is_infinite() && s.bytes().any(|c| c.is_ascii_digit());
        if f.is_nan() || overflow_literal {
            return Err(format!("cannot parse {s:?} to a valid duration"));
        }
        let ms = (f * 1000.0).round();
        if ms.abs() < 9.2e18 {
            return Ok(ms as i64);
        }
        return Err(format!(
            "cannot parse {s:?} to a valid duration. It overflows int64"
        ));
    }
    // Every string that parses as a float was answered above: promql_parser would hand it
    // to `Duration::from_secs_f64`, which panics on NaN, infinities and negatives.
    promql_parser::util::parse_duration(s)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| format!("cannot parse {s:?} to a valid duration"))
}
