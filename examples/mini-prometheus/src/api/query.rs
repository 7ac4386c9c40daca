//! PromQL for mini-prometheus: parsing (behind the [`guard`]) and evaluation by the
//! `scrapeline-promql` engine over the [`Store`], with the results written as Prometheus' API
//! writes them.
//!
//! The store is read through [`StoreQueryable`], which hands the engine each matching series
//! with its samples (staleness markers included) and charges them to the query's
//! [`ReadBudget`] (deadline, cancellation, sample cap); the budget is also asked between
//! evaluation steps, so a long evaluation stops at the deadline too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promql_parser::parser::Expr;
use scrapeline_promql::{Engine, EngineOptions, Error, MatchOp, Queryable, SeriesSink, Value};

use crate::api::{guard, json};
use crate::store::{Matcher, ReadBudget, ReadError, Store};

/// Prometheus' default lookback delta.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(300);
/// Prometheus' limit on points per series in a range query.
pub const MAX_POINTS: i64 = 11_000;

/// A parsed PromQL expression.
#[derive(Debug, Clone)]
pub struct Query {
    expr: Expr,
}

impl Query {
    /// Whether the expression is a range vector (`x[5m]`, a subquery), which only instant
    /// queries may return.
    pub fn is_range_vector(&self) -> bool {
        matches!(
            self.expr.value_type(),
            promql_parser::parser::value::ValueType::Matrix
        )
    }

    /// The expression's value when it is a number (`1+1`, what Grafana sends to test a data
    /// source): evaluated at time 0.
    #[cfg(test)]
    pub fn as_number(&self) -> Option<f64> {
        let store = EmptyStore;
        match Engine::new(&store, EngineOptions::default())
            .instant(&self.expr, 0)
            .ok()?
        {
            Value::Scalar { v, .. } => Some(v),
            _ => None,
        }
    }
}

/// A store with no series.
#[cfg(test)]
struct EmptyStore;

#[cfg(test)]
impl Queryable for EmptyStore {
    fn select(
        &self,
        _: &[scrapeline_promql::Matcher],
        _: i64,
        _: i64,
        _: &mut SeriesSink<'_>,
    ) -> Result<(), Error> {
        Ok(())
    }
}

/// Parses `input` (any PromQL expression).
pub fn parse(input: &str) -> Result<Query, String> {
    Ok(Query {
        expr: parse_expr(input)?,
    })
}

/// Parses a series selector as `match[]` parameters take it (`up`, `{job="x"}`).
pub fn parse_selector(input: &str) -> Result<Vec<Matcher>, String> {
    match parse_expr(input)? {
        Expr::VectorSelector(vs) => {
            if !vs.matchers.or_matchers.is_empty() {
                return Err("\"or\" between label matchers is not supported".to_owned());
            }
            let mut ms = vs.matchers.matchers.clone();
            if let Some(name) = &vs.name
                && !ms
                    .iter()
                    .any(|m| m.name == scrapeline_exposition::labels::METRIC_NAME)
            {
                ms.push(scrapeline_promql::Matcher::new(
                    MatchOp::Equal,
                    scrapeline_exposition::labels::METRIC_NAME,
                    name,
                ));
            }
            let ms = store_matchers(&ms)?;
            if ms.iter().all(|m| m.matches_value("")) {
                return Err(
                    "vector selector must contain at least one non-empty matcher".to_owned(),
                );
            }
            Ok(ms)
        }
        _ => Err("expected a series selector such as up{job=\"x\"}".to_owned()),
    }
}

/// The store's matchers for the engine's.
fn store_matchers(ms: &[scrapeline_promql::Matcher]) -> Result<Vec<Matcher>, String> {
    ms.iter()
        .map(|m| {
            Ok(match &m.op {
                MatchOp::Equal => Matcher::equal(&m.name, &m.value),
                MatchOp::NotEqual => Matcher::not_equal(&m.name, &m.value),
                MatchOp::Re(_) => Matcher::regex(&m.name, &m.value).map_err(|e| e.to_string())?,
                MatchOp::NotRe(_) => {
                    Matcher::not_regex(&m.name, &m.value).map_err(|e| e.to_string())?
                }
            })
        })
        .collect()
}

/// The PromQL parser behind the [`guard`] (bounded nesting and size, so neither it nor the
/// recursive walks over its tree can overflow the stack); the engine's parser catches the
/// parser's panics on out-of-range numbers.
fn parse_expr(input: &str) -> Result<Expr, String> {
    guard::check(input)?;
    scrapeline_promql::parse(input).map_err(|e| e.to_string())
}

/// Milliseconds since the epoch (negative before it).
pub fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The store as the engine reads it, every read charged to `budget`.
pub struct StoreQueryable<'a> {
    store: &'a Store,
    budget: &'a ReadBudget,
}

impl<'a> StoreQueryable<'a> {
    /// Reads `store` within `budget`.
    pub fn new(store: &'a Store, budget: &'a ReadBudget) -> Self {
        StoreQueryable { store, budget }
    }
}

/// The engine's error for a stopped read.
pub fn engine_error(e: ReadError) -> Error {
    match e {
        ReadError::Timeout => Error::Timeout,
        ReadError::Canceled => Error::Canceled,
        ReadError::TooManySamples => Error::TooManySamples,
    }
}

impl Queryable for StoreQueryable<'_> {
    fn select(
        &self,
        matchers: &[scrapeline_promql::Matcher],
        mint: i64,
        maxt: i64,
        each: &mut SeriesSink<'_>,
    ) -> Result<(), Error> {
        let ms = store_matchers(matchers).map_err(Error::Execution)?;
        let series = self
            .store
            .select_within(&ms, mint, maxt, self.budget)
            .map_err(engine_error)?;
        for s in series {
            each(&s.labels, &s.samples)?;
        }
        Ok(())
    }
}

fn engine<'a>(
    q: &'a StoreQueryable<'a>,
    lookback_ms: i64,
    max_samples: usize,
    check: &'a dyn Fn() -> Result<(), Error>,
) -> Engine<'a> {
    Engine::new(
        q,
        EngineOptions {
            lookback_delta: Duration::from_millis(u64::try_from(lookback_ms).unwrap_or(1).max(1)),
            // The engine caps the points it holds at once, the budget the samples read from
            // the store and the points produced.
            max_samples,
            timeout: None,
            cancel: None,
            ..EngineOptions::default()
        },
    )
    .with_interrupt(check)
}

/// Evaluates `q` at `t` (ms) and writes the `data` object of the response; stops when
/// `budget` runs out or the engine would hold more than `max_samples` points at once.
pub fn instant(
    store: &Store,
    q: &Query,
    t: i64,
    lookback_ms: i64,
    max_samples: usize,
    budget: &ReadBudget,
    out: &mut String,
) -> Result<(), Error> {
    let sq = StoreQueryable::new(store, budget);
    let check = || budget.check().map_err(engine_error);
    let value = engine(&sq, lookback_ms, max_samples, &check).instant(&q.expr, t)?;
    budget.load(points(&value)).map_err(engine_error)?;
    write_value(out, &value);
    Ok(())
}

/// Evaluates `q` at every step of `[start, end]` into the `data` object. The caller has
/// checked the step, the number of points and that `q` is not a range vector. The raw
/// samples read and the points produced both count against `budget` (a total, where
/// Prometheus counts the peak: a little stricter).
#[allow(clippy::too_many_arguments)] // the range, and the two settings the API holds
pub fn range(
    store: &Store,
    q: &Query,
    start: i64,
    end: i64,
    step: i64,
    lookback_ms: i64,
    max_samples: usize,
    budget: &ReadBudget,
) -> Result<String, Error> {
    let sq = StoreQueryable::new(store, budget);
    let check = || budget.check().map_err(engine_error);
    let value = engine(&sq, lookback_ms, max_samples, &check).range(&q.expr, start, end, step)?;
    budget.load(points(&value)).map_err(engine_error)?;
    let mut out = String::new();
    write_value(&mut out, &value);
    Ok(out)
}

fn points(v: &Value) -> usize {
    match v {
        Value::Scalar { .. } | Value::String { .. } => 1,
        Value::Vector(s) => s.len(),
        Value::Matrix(m) => m.iter().map(|s| s.points.len()).sum(),
    }
}

/// Writes a result as Prometheus' API does.
fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Scalar { t, v } => {
            // Prometheus' `Scalar.MarshalJSON`: the time as a JSON float, the value in 'f'
            // layout, unlike vector and matrix points.
            out.push_str(r#"{"resultType":"scalar","result":["#);
            json::number(out, *t as f64 / 1000.0);
            out.push_str(",\"");
            if v.is_finite() {
                use std::fmt::Write;
                let _ = write!(out, "{v}");
            } else {
                scrapeline_exposition::value::format_value(*v, out);
            }
            out.push_str("\"]}");
        }
        Value::String { t, s } => {
            out.push_str(r#"{"resultType":"string","result":["#);
            json::number(out, *t as f64 / 1000.0);
            out.push(',');
            json::string(out, s);
            out.push_str("]}");
        }
        Value::Vector(samples) => {
            out.push_str(r#"{"resultType":"vector","result":["#);
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                json::labels(out, &s.labels);
                out.push_str(r#","value":["#);
                json::timestamp(out, s.t);
                out.push(',');
                json::value(out, s.v);
                out.push_str("]}");
            }
            out.push_str("]}");
        }
        Value::Matrix(series) => {
            out.push_str(r#"{"resultType":"matrix","result":["#);
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                json::labels(out, &s.labels);
                out.push_str(r#","values":["#);
                for (j, (t, v)) in s.points.iter().enumerate() {
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
    }
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
