//! The engine's entry points: options, parsing, instant and range queries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use promql_parser::parser::{self, Expr};

use crate::eval::{Ctx, Interrupt, Limits, Val};
use crate::value::{InstantSample, RangeSeries, Value, is_absent};
use crate::{Error, Queryable};

/// How queries run and what they may spend.
#[derive(Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (Prometheus' `--query.lookback-delta`,
    /// default 5m).
    pub lookback_delta: Duration,
    /// The most samples a query may hold in memory at once (`--query.max-samples`, default
    /// 50 000 000).
    pub max_samples: usize,
    /// How long one query may run (`--query.timeout`, default 2m); none: no limit.
    pub timeout: Option<Duration>,
    /// Asked now and then during evaluation: true stops the query with [`Error::Canceled`].
    pub cancel: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
    /// The step of subqueries that give none (Prometheus: the global evaluation interval, 1m).
    pub default_subquery_step: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Some(Duration::from_secs(120)),
            cancel: None,
            default_subquery_step: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("lookback_delta", &self.lookback_delta)
            .field("max_samples", &self.max_samples)
            .field("timeout", &self.timeout)
            .field("cancel", &self.cancel.is_some())
            .field("default_subquery_step", &self.default_subquery_step)
            .finish()
    }
}

/// Parses a PromQL expression; errors keep `promql-parser`'s text (`1:5: parse error: ...`).
/// The parser panics on some out-of-range numbers; that is caught and reported as a parse
/// error, so no query string can take a thread down.
pub fn parse(input: &str) -> Result<Expr, Error> {
    std::panic::catch_unwind(|| parser::parse(input))
        .unwrap_or_else(|_| {
            Err("parse error: a number or duration in the query is out of range".to_owned())
        })
        .map_err(Error::Parse)
}

/// Runs queries against a [`Queryable`].
pub struct Engine<'q> {
    store: &'q dyn Queryable,
    options: EngineOptions,
    interrupt: Option<Interrupt<'q>>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl<'q> Engine<'q> {
    /// An engine reading `store` with `options`.
    pub fn new(store: &'q dyn Queryable, options: EngineOptions) -> Self {
        Engine {
            store,
            options,
            interrupt: None,
        }
    }

    /// Also stops when `check` fails (asked as often as the deadline is): for a caller that
    /// already has its own deadline and cancellation, such as a store read budget.
    pub fn with_interrupt(mut self, check: &'q dyn Fn() -> Result<(), Error>) -> Self {
        self.interrupt = Some(check);
        self
    }

    fn limits(&self) -> Limits<'q> {
        Limits::new(
            self.options.max_samples,
            self.options
                .timeout
                .and_then(|t| Instant::now().checked_add(t)),
            self.options.cancel.clone(),
            self.interrupt,
        )
    }

    fn ctx<'a>(&'a self, limits: &'a Limits<'a>, start: i64, end: i64, step: i64) -> Ctx<'a> {
        Ctx::new(
            self.store,
            limits,
            ms(self.options.lookback_delta).max(1),
            ms(self.options.default_subquery_step).max(1),
            start,
            end,
            step,
        )
    }

    /// Evaluates `expr` at `t` (ms).
    pub fn instant(&self, expr: &Expr, t: i64) -> Result<Value, Error> {
        let limits = self.limits();
        let ctx = self.ctx(&limits, t, t, 1);
        Ok(match ctx.eval_top(expr)? {
            Val::Scalar(v) => Value::Scalar {
                t,
                v: v.first().copied().unwrap_or(f64::NAN),
            },
            Val::Str(s) => Value::String { t, s },
            Val::Vector(series) => Value::Vector(
                series
                    .into_iter()
                    .filter_map(|s| {
                        let v = *s.vals.first()?;
                        (!is_absent(v)).then_some(InstantSample {
                            labels: s.labels,
                            t,
                            v,
                        })
                    })
                    .collect(),
            ),
            Val::Matrix(m) => Value::Matrix(m),
        })
    }

    /// Evaluates `expr` at every `step` (ms, > 0) from `start` to `end` (ms); the result is a
    /// [`Value::Matrix`]. A range vector is refused as Prometheus refuses it.
    pub fn range(&self, expr: &Expr, start: i64, end: i64, step: i64) -> Result<Value, Error> {
        if step <= 0 {
            return Err(Error::Execution(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(Error::Execution(
                "end timestamp must not be before start time".into(),
            ));
        }
        match expr.value_type() {
            parser::value::ValueType::Vector | parser::value::ValueType::Scalar => {}
            other => {
                return Err(Error::Execution(format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    type_name(other)
                )));
            }
        }
        let limits = self.limits();
        let ctx = self.ctx(&limits, start, end, step);
        ctx.check_steps()?;
        let ts = |i: usize| start.saturating_add((i as i64).saturating_mul(step));
        let series = match ctx.eval_top(expr)? {
            Val::Scalar(v) => vec![RangeSeries {
                labels: Default::default(),
                points: v.iter().enumerate().map(|(i, v)| (ts(i), *v)).collect(),
            }],
            Val::Vector(series) => {
                let mut out: Vec<RangeSeries> = series
                    .into_iter()
                    .map(|s| RangeSeries {
                        points: s
                            .vals
                            .iter()
                            .enumerate()
                            .filter(|(_, v)| !is_absent(**v))
                            .map(|(i, v)| (ts(i), *v))
                            .collect(),
                        labels: s.labels,
                    })
                    .filter(|s| !s.points.is_empty())
                    .collect();
                out.sort_by(|a, b| a.labels.cmp(&b.labels));
                out
            }
            Val::Str(_) | Val::Matrix(_) => {
                return Err(Error::Execution(
                    "invalid expression type for range query, must be Scalar or instant Vector"
                        .into(),
                ));
            }
        };
        Ok(Value::Matrix(series))
    }
}

/// Prometheus' names of value types.
pub(crate) fn type_name(t: parser::value::ValueType) -> &'static str {
    match t {
        parser::value::ValueType::Vector => "vector",
        parser::value::ValueType::Scalar => "scalar",
        parser::value::ValueType::Matrix => "range vector",
        parser::value::ValueType::String => "string",
    }
}
