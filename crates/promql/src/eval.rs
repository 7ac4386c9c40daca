//! The evaluator: one pass over the expression tree, every node computed for all steps.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{AtModifier, Expr, Offset, SubqueryExpr, VectorSelector};
use scrapeline_exposition::Labels;
use scrapeline_exposition::labels::METRIC_NAME;
use scrapeline_exposition::value::is_stale_nan;

use crate::value::{RangeSeries, absent, canonical, is_absent};
use crate::{Error, Queryable};

/// One series of an instant-vector node: a value (or [`absent`]) per step.
#[derive(Debug, Clone)]
pub(crate) struct Ser {
    pub labels: Labels,
    pub vals: Vec<f64>,
}

/// A node's result over all steps.
pub(crate) enum Val {
    /// A value per step.
    Scalar(Vec<f64>),
    Str(String),
    Vector(Vec<Ser>),
    /// Only as an instant query's result (range selector, subquery).
    Matrix(Vec<RangeSeries>),
}

/// The input of a range function: series with all their points over the whole query, and
/// how to find each step's window `(end - range, end]`.
pub(crate) struct RangeArg {
    pub series: Vec<RangeSeries>,
    pub range: i64,
    /// Window end at each step.
    pub ends: Vec<i64>,
}

/// The caller's own stop check (see [`crate::Engine::with_interrupt`]).
pub(crate) type Interrupt<'a> = &'a dyn Fn() -> Result<(), Error>;

/// What a query may spend: samples held, time, cancellation.
pub(crate) struct Limits<'a> {
    pub(crate) max_samples: usize,
    current: Cell<usize>,
    deadline: Option<Instant>,
    cancel: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
    interrupt: Option<Interrupt<'a>>,
    ticks: Cell<u32>,
}

impl<'a> Limits<'a> {
    pub fn new(
        max_samples: usize,
        deadline: Option<Instant>,
        cancel: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
        interrupt: Option<Interrupt<'a>>,
    ) -> Self {
        Limits {
            max_samples,
            current: Cell::new(0),
            deadline,
            cancel,
            interrupt,
            ticks: Cell::new(0),
        }
    }

    /// Counts `n` more samples in memory.
    pub fn hold(&self, n: usize) -> Result<(), Error> {
        let c = self.current.get().saturating_add(n);
        self.current.set(c);
        if c > self.max_samples {
            return Err(Error::TooManySamples);
        }
        Ok(())
    }

    /// `n` samples were freed.
    pub fn release(&self, n: usize) {
        self.current.set(self.current.get().saturating_sub(n));
    }

    /// Looks at the clock and the cancellation check every 64 calls.
    pub fn tick(&self) -> Result<(), Error> {
        let n = self.ticks.get().wrapping_add(1);
        self.ticks.set(n);
        if !n.is_multiple_of(64) {
            return Ok(());
        }
        self.check()
    }

    pub fn check(&self) -> Result<(), Error> {
        if let Some(i) = self.interrupt {
            i()?;
        }
        if self.cancel.as_ref().is_some_and(|c| c()) {
            return Err(Error::Canceled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Error::Timeout);
        }
        Ok(())
    }
}

/// Evaluation state for one set of steps (the query's, or a subquery's).
pub(crate) struct Ctx<'a> {
    pub store: &'a dyn Queryable,
    pub limits: &'a Limits<'a>,
    pub lookback: i64,
    pub sub_step: i64,
    pub start: i64,
    pub step: i64,
    /// Number of steps (the last is at or before the end).
    pub n: usize,
    /// The top-level query's start and end (`@ start()`, `@ end()`).
    pub query_start: i64,
    pub query_end: i64,
}

/// Points held by a value (for the sample limit).
pub(crate) fn points(v: &Val) -> usize {
    match v {
        Val::Scalar(v) => v.len(),
        Val::Str(_) => 1,
        Val::Vector(s) => s
            .iter()
            .map(|s| s.vals.iter().filter(|v| !is_absent(**v)).count())
            .sum(),
        Val::Matrix(m) => m.iter().map(|s| s.points.len()).sum(),
    }
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Some(Offset::Neg(d)) => -i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
    }
}

fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

pub(crate) fn dur_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The matchers of a selector, the metric name included.
pub(crate) fn matchers(vs: &VectorSelector) -> Result<Vec<Matcher>, Error> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(Error::Parse(
            "\"or\" between label matchers is not supported".into(),
        ));
    }
    let mut m = vs.matchers.matchers.clone();
    if let Some(name) = &vs.name
        && !m.iter().any(|x| x.name == METRIC_NAME)
    {
        m.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name));
    }
    Ok(m)
}

impl<'a> Ctx<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: &'a dyn Queryable,
        limits: &'a Limits<'a>,
        lookback: i64,
        sub_step: i64,
        start: i64,
        end: i64,
        step: i64,
    ) -> Self {
        let n = usize::try_from(end.saturating_sub(start) / step.max(1))
            .unwrap_or(0)
            .saturating_add(1);
        Ctx {
            store,
            limits,
            lookback,
            sub_step,
            start,
            step,
            n,
            query_start: start,
            query_end: end,
        }
    }

    /// Fails when one series over these steps would hold more points than the sample
    /// limit allows (checked before anything that size is allocated).
    pub fn check_steps(&self) -> Result<(), Error> {
        if self.n > self.limits.max_samples {
            return Err(Error::TooManySamples);
        }
        Ok(())
    }

    /// A context for a subquery's steps.
    fn sub(&self, start: i64, end: i64, step: i64) -> Ctx<'a> {
        let mut c = Ctx::new(
            self.store,
            self.limits,
            self.lookback,
            self.sub_step,
            start,
            end,
            step,
        );
        c.query_start = self.query_start;
        c.query_end = self.query_end;
        c
    }

    /// The time of step `i`.
    #[inline]
    pub fn ts(&self, i: usize) -> i64 {
        self.start
            .saturating_add((i as i64).saturating_mul(self.step))
    }

    pub fn at_time(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(AtModifier::Start) => Some(self.query_start),
            Some(AtModifier::End) => Some(self.query_end),
            Some(AtModifier::At(t)) => Some(system_time_ms(*t)),
        }
    }

    /// The times a selector with these modifiers looks at, per step.
    pub fn eval_times(&self, at: &Option<AtModifier>, offset: &Option<Offset>) -> Vec<i64> {
        let off = offset_ms(offset);
        let at = self.at_time(at);
        (0..self.n)
            .map(|i| at.unwrap_or_else(|| self.ts(i)).saturating_sub(off))
            .collect()
    }

    /// Evaluates the query's top expression: a range vector is allowed here (instant
    /// queries only).
    pub fn eval_top(&self, e: &Expr) -> Result<Val, Error> {
        match e {
            Expr::Paren(p) => self.eval_top(&p.expr),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                let arg = self.range_arg(e)?;
                let end = arg.ends.first().copied().unwrap_or(self.start);
                let series = arg
                    .series
                    .into_iter()
                    .filter_map(|s| {
                        let pts: Vec<(i64, f64)> = s
                            .points
                            .into_iter()
                            .filter(|p| p.0 > end.saturating_sub(arg.range) && p.0 <= end)
                            .collect();
                        (!pts.is_empty()).then_some(RangeSeries {
                            labels: s.labels,
                            points: pts,
                        })
                    })
                    .collect();
                Ok(Val::Matrix(series))
            }
            _ => self.eval(e),
        }
    }

    /// Evaluates an expression of scalar, string or instant-vector type.
    pub fn eval(&self, e: &Expr) -> Result<Val, Error> {
        self.limits.check()?;
        match e {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; self.n])),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                Val::Vector(series) => Ok(Val::Vector(merge_same_labels(
                    series
                        .into_iter()
                        .map(|mut s| {
                            for v in s.vals.iter_mut().filter(|v| !is_absent(**v)) {
                                *v = -*v;
                            }
                            s.labels = crate::labels::drop_name(&s.labels);
                            s
                        })
                        .collect(),
                )?)),
                _ => Err(Error::Execution(
                    "unary minus needs a scalar or a vector".into(),
                )),
            },
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.select_vector(vs, false)?)),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => Err(Error::Execution(
                "a range vector cannot be evaluated here".into(),
            )),
            Expr::Binary(b) => crate::binary::eval_binary(self, b),
            Expr::Aggregate(a) => crate::aggregate::eval_aggregate(self, a),
            Expr::Call(c) => crate::functions::eval_call(self, c),
            Expr::Extension(_) => Err(Error::Execution("unsupported expression".into())),
        }
    }

    /// Evaluates to a value per step, as scalar function arguments are.
    pub fn eval_scalar(&self, e: &Expr) -> Result<Vec<f64>, Error> {
        match self.eval(e)? {
            Val::Scalar(v) => Ok(v),
            _ => Err(Error::Execution("expected a scalar".into())),
        }
    }

    /// Evaluates to an instant vector.
    pub fn eval_vector(&self, e: &Expr) -> Result<Vec<Ser>, Error> {
        match self.eval(e)? {
            Val::Vector(v) => Ok(v),
            _ => Err(Error::Execution("expected an instant vector".into())),
        }
    }

    /// An instant selector: each series' newest sample in `(t - lookback, t]` per step, none
    /// where that sample is a staleness marker. `timestamps` gives the sample's time
    /// (seconds) instead of its value (the `timestamp()` function).
    pub fn select_vector(&self, vs: &VectorSelector, timestamps: bool) -> Result<Vec<Ser>, Error> {
        let m = matchers(vs)?;
        let times = self.eval_times(&vs.at, &vs.offset);
        let (Some(&lo), Some(&hi)) = (times.first(), times.last()) else {
            return Ok(Vec::new());
        };
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let lookback = self.lookback;
        let limits = self.limits;
        let mut out = Vec::new();
        self.store.select(
            &m,
            lo.saturating_sub(lookback - 1),
            hi,
            &mut |labels, samples| {
                limits.tick()?;
                let mut vals = vec![absent(); times.len()];
                let mut any = 0usize;
                for (slot, &t) in vals.iter_mut().zip(&times) {
                    let j = samples.partition_point(|p| p.0 <= t);
                    let Some(&(st, v)) = j.checked_sub(1).and_then(|j| samples.get(j)) else {
                        continue;
                    };
                    if st > t.saturating_sub(lookback) && !is_stale_nan(v) {
                        *slot = if timestamps {
                            st as f64 / 1000.0
                        } else {
                            canonical(v)
                        };
                        any += 1;
                    }
                }
                if any > 0 {
                    limits.hold(any)?;
                    out.push(Ser {
                        labels: labels.clone(),
                        vals,
                    });
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The argument of a range function: a range selector or a subquery, with all its points
    /// over the query (staleness markers removed) and each step's window end.
    pub fn range_arg(&self, e: &Expr) -> Result<RangeArg, Error> {
        match e {
            Expr::Paren(p) => self.range_arg(&p.expr),
            Expr::MatrixSelector(ms) => {
                let m = matchers(&ms.vs)?;
                let range = dur_ms(ms.range);
                let ends = self.eval_times(&ms.vs.at, &ms.vs.offset);
                let (Some(&lo), Some(&hi)) = (ends.first(), ends.last()) else {
                    return Ok(RangeArg {
                        series: Vec::new(),
                        range,
                        ends,
                    });
                };
                let (lo, hi) = (lo.min(hi), lo.max(hi));
                let limits = self.limits;
                let mut series = Vec::new();
                self.store.select(
                    &m,
                    lo.saturating_sub(range - 1),
                    hi,
                    &mut |labels, samples| {
                        limits.tick()?;
                        let points: Vec<(i64, f64)> = samples
                            .iter()
                            .filter(|p| !is_stale_nan(p.1))
                            .map(|p| (p.0, canonical(p.1)))
                            .collect();
                        if !points.is_empty() {
                            limits.hold(points.len())?;
                            series.push(RangeSeries {
                                labels: labels.clone(),
                                points,
                            });
                        }
                        Ok(())
                    },
                )?;
                Ok(RangeArg {
                    series,
                    range,
                    ends,
                })
            }
            Expr::Subquery(sq) => self.subquery(sq),
            _ => Err(Error::Execution(
                "expected a range vector (a range selector or a subquery)".into(),
            )),
        }
    }

    fn subquery(&self, sq: &SubqueryExpr) -> Result<RangeArg, Error> {
        let offset = offset_ms(&sq.offset);
        let range = dur_ms(sq.range);
        let step = sq.step.map(dur_ms).unwrap_or(self.sub_step).max(1);
        let ends = self.eval_times(&sq.at, &sq.offset);
        let (Some(&lo), Some(&hi)) = (ends.first(), ends.last()) else {
            return Ok(RangeArg {
                series: Vec::new(),
                range,
                ends,
            });
        };
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let _ = offset;
        // The first step-aligned time after `lo - range` (Go's truncating division).
        let first = lo.saturating_sub(range);
        let mut start = step.saturating_mul(first / step);
        if start <= first {
            start = start.saturating_add(step);
        }
        if start > hi {
            return Ok(RangeArg {
                series: Vec::new(),
                range,
                ends,
            });
        }
        let inner = self.sub(start, hi, step);
        inner.check_steps()?;
        let series = match inner.eval(&sq.expr)? {
            Val::Vector(v) => v
                .into_iter()
                .filter_map(|s| {
                    let points: Vec<(i64, f64)> = s
                        .vals
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| !is_absent(**v))
                        .map(|(i, v)| (inner.ts(i), *v))
                        .collect();
                    (!points.is_empty()).then_some(RangeSeries {
                        labels: s.labels,
                        points,
                    })
                })
                .collect(),
            Val::Scalar(v) => vec![RangeSeries {
                labels: Labels::empty(),
                points: v
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (inner.ts(i), *v))
                    .collect(),
            }],
            _ => {
                return Err(Error::Execution(
                    "subquery is only allowed on instant vector".into(),
                ));
            }
        };
        Ok(RangeArg {
            series,
            range,
            ends,
        })
    }
}

/// Merges series whose labels became equal (after the metric name was dropped): fine when
/// they never have a value at the same step, else Prometheus' error.
pub(crate) fn merge_same_labels(series: Vec<Ser>) -> Result<Vec<Ser>, Error> {
    let mut index: std::collections::HashMap<Labels, usize> =
        std::collections::HashMap::with_capacity(series.len());
    let mut out: Vec<Ser> = Vec::with_capacity(series.len());
    for s in series {
        match index.get(&s.labels) {
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
            Some(&i) => {
                let Some(dst) = out.get_mut(i) else { continue };
                for (d, v) in dst.vals.iter_mut().zip(&s.vals) {
                    if is_absent(*v) {
                        continue;
                    }
                    if !is_absent(*d) {
                        return Err(Error::Execution(
                            "vector cannot contain metrics with the same labelset".into(),
                        ));
                    }
                    *d = *v;
                }
            }
        }
    }
    Ok(out)
}
