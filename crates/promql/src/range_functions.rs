//! Functions over range vectors (`rate`, `increase`, `delta`, `irate`, `idelta`, `deriv`,
//! `predict_linear`, `resets`, `changes` and the `*_over_time` family).
//!
//! Each series' points over the whole query are walked once, with a window `(end - range,
//! end]` that slides forward step by step.

use crate::aggregate::kahan_inc;
use promql_parser::parser::MatrixSelector;
use scrapeline_exposition::Labels;
use scrapeline_exposition::value::is_stale_nan;

use crate::eval::{Ctx, RangeArg, Ser, dur_ms, matchers, merge_same_labels};
use crate::labels::drop_name;
use crate::value::{absent, canonical};
use crate::{Error, quantile};

/// A function of one window: the points, the window's end, the step's time, the range (ms)
/// and the step's scalar parameter.
type WindowFn = fn(&[(i64, f64)], &Window) -> Option<f64>;

/// What a window function may look at besides the points.
pub(crate) struct Window {
    /// The window's end (the evaluation time minus the offset).
    pub end: i64,
    /// The window's length (ms).
    pub range: i64,
    /// The step's time (Prometheus' `enh.Ts`: neither `@` nor offset applied).
    pub eval_t: i64,
    /// The scalar parameter (`quantile_over_time`'s φ, `predict_linear`'s seconds).
    pub param: f64,
}

/// The window function for `name`, if it is a range function this module knows.
pub(crate) fn lookup(name: &str) -> Option<WindowFn> {
    Some(match name {
        "rate" => |p, w| extrapolated_rate(p, w, true, true),
        "increase" => |p, w| extrapolated_rate(p, w, true, false),
        "delta" => |p, w| extrapolated_rate(p, w, false, false),
        "irate" => |p, _| instant_value(p, true),
        "idelta" => |p, _| instant_value(p, false),
        "deriv" => |p, _| {
            let first = p.first()?.0;
            (p.len() >= 2).then(|| linear_regression(p, first).0)
        },
        "predict_linear" => |p, w| {
            if p.len() < 2 {
                return None;
            }
            let (slope, intercept) = linear_regression(p, w.eval_t);
            Some(slope * w.param + intercept)
        },
        "resets" => |p, _| Some(p.windows(2).filter(|x| x[1].1 < x[0].1).count() as f64),
        "changes" => |p, _| {
            Some(
                p.windows(2)
                    .filter(|x| !(x[1].1 == x[0].1 || (x[1].1.is_nan() && x[0].1.is_nan())))
                    .count() as f64,
            )
        },
        "avg_over_time" => |p, _| avg(p),
        "sum_over_time" => |p, _| {
            let (mut s, mut c) = (0.0, 0.0);
            for x in p {
                (s, c) = kahan_inc(x.1, s, c);
            }
            (!p.is_empty()).then_some(s + c)
        },
        "count_over_time" => |p, _| (!p.is_empty()).then_some(p.len() as f64),
        "min_over_time" => |p, _| {
            let mut it = p.iter();
            let mut m = it.next()?.1;
            for x in it {
                if x.1 < m || m.is_nan() {
                    m = x.1;
                }
            }
            Some(m)
        },
        "max_over_time" => |p, _| {
            let mut it = p.iter();
            let mut m = it.next()?.1;
            for x in it {
                if x.1 > m || m.is_nan() {
                    m = x.1;
                }
            }
            Some(m)
        },
        "stddev_over_time" => |p, _| variance(p).map(f64::sqrt),
        "stdvar_over_time" => |p, _| variance(p),
        "quantile_over_time" => |p, w| {
            if p.is_empty() {
                return None;
            }
            let mut v: Vec<f64> = p.iter().map(|x| x.1).collect();
            Some(quantile::quantile(w.param, &mut v))
        },
        "last_over_time" => |p, _| p.last().map(|x| x.1),
        "first_over_time" => |p, _| p.first().map(|x| x.1),
        "present_over_time" => |p, _| (!p.is_empty()).then_some(1.0),
        "ts_of_last_over_time" => |p, _| p.last().map(|x| x.0 as f64 / 1000.0),
        "ts_of_first_over_time" => |p, _| p.first().map(|x| x.0 as f64 / 1000.0),
        "ts_of_max_over_time" => |p, _| ts_of(p, |cur, m| cur >= m || m.is_nan()),
        "ts_of_min_over_time" => |p, _| ts_of(p, |cur, m| cur <= m || m.is_nan()),
        _ => return None,
    })
}

/// The time (seconds) of the last sample that `better` prefers over all before it.
fn ts_of(p: &[(i64, f64)], better: fn(f64, f64) -> bool) -> Option<f64> {
    let (mut t, mut m) = *p.first()?;
    for &(pt, v) in p {
        if better(v, m) {
            (t, m) = (pt, v);
        }
    }
    Some(t as f64 / 1000.0)
}

/// Whether the function keeps the metric name (it acts like an offset).
pub(crate) fn keeps_name(name: &str) -> bool {
    matches!(name, "last_over_time" | "first_over_time")
}

/// `f` over one series' points at every step; `None` when no step has a value.
fn windows(
    ctx: &Ctx<'_>,
    f: WindowFn,
    points: &[(i64, f64)],
    ends: &[i64],
    range: i64,
    params: &[f64],
) -> Option<Vec<f64>> {
    let mut vals: Option<Vec<f64>> = None;
    let (mut lo, mut hi) = (0usize, 0usize);
    for (i, &end) in ends.iter().enumerate() {
        let start = end.saturating_sub(range);
        // Windows move forward (ends never decrease), so do the bounds.
        if lo > 0 && points.get(lo - 1).is_some_and(|p| p.0 > start) {
            lo = 0;
            hi = 0;
        }
        while points.get(lo).is_some_and(|p| p.0 <= start) {
            lo += 1;
        }
        hi = hi.max(lo);
        while points.get(hi).is_some_and(|p| p.0 <= end) {
            hi += 1;
        }
        let Some(window) = points.get(lo..hi) else {
            continue;
        };
        if window.is_empty() {
            continue;
        }
        let w = Window {
            end,
            range,
            eval_t: ctx.ts(i),
            param: params.get(i).copied().unwrap_or(f64::NAN),
        };
        if let Some(v) = f(window, &w)
            && let Some(slot) = vals
                .get_or_insert_with(|| vec![absent(); ends.len()])
                .get_mut(i)
        {
            *slot = v;
        }
    }
    vals
}

/// Applies `f` to every series' window at every step of a subquery's result. `params`
/// holds the scalar parameter per step (empty: none).
pub(crate) fn apply(
    ctx: &Ctx<'_>,
    name: &str,
    f: WindowFn,
    arg: RangeArg,
    params: &[f64],
) -> Result<Vec<Ser>, Error> {
    let keep_name = keeps_name(name);
    let mut out = Vec::with_capacity(arg.series.len());
    let held: usize = arg.series.iter().map(|s| s.points.len()).sum();
    for s in arg.series {
        ctx.limits.tick()?;
        if let Some(vals) = windows(ctx, f, &s.points, &arg.ends, arg.range, params) {
            ctx.limits.hold(ctx.n)?;
            out.push(Ser {
                labels: if keep_name {
                    s.labels
                } else {
                    drop_name(&s.labels)
                },
                vals,
            });
        }
    }
    ctx.limits.release(held);
    if keep_name {
        Ok(out)
    } else {
        merge_same_labels(out)
    }
}

/// Applies `f` to a range selector's series as the store hands them over, without keeping
/// their samples: each result series goes to `sink` (its labels already without the name
/// where the function drops it).
pub(crate) fn stream_selector(
    ctx: &Ctx<'_>,
    name: &str,
    f: WindowFn,
    ms: &MatrixSelector,
    params: &[f64],
    sink: &mut dyn FnMut(Labels, Vec<f64>) -> Result<(), Error>,
) -> Result<(), Error> {
    let keep_name = keeps_name(name);
    let m = matchers(&ms.vs)?;
    let range = dur_ms(ms.range);
    let ends = ctx.eval_times(&ms.vs.at, &ms.vs.offset);
    let (Some(&lo), Some(&hi)) = (ends.first(), ends.last()) else {
        return Ok(());
    };
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    let mut buf: Vec<(i64, f64)> = Vec::new();
    ctx.store.select(
        &m,
        lo.saturating_sub(range - 1),
        hi,
        &mut |labels, samples| {
            ctx.limits.tick()?;
            buf.clear();
            buf.extend(
                samples
                    .iter()
                    .filter(|p| !is_stale_nan(p.1))
                    .map(|p| (p.0, canonical(p.1))),
            );
            // Prometheus holds a window's samples at a time.
            ctx.limits.hold(buf.len())?;
            ctx.limits.release(buf.len());
            if let Some(vals) = windows(ctx, f, &buf, &ends, range, params) {
                let labels = if keep_name {
                    labels.clone()
                } else {
                    drop_name(labels)
                };
                sink(labels, vals)?;
            }
            Ok(())
        },
    )
}

/// `rate`, `increase` and `delta`: Prometheus' extrapolation to the window's edges.
fn extrapolated_rate(p: &[(i64, f64)], w: &Window, is_counter: bool, is_rate: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (first_t, first_v) = *p.first()?;
    let (last_t, last_v) = *p.last()?;
    let range_start = w.end.saturating_sub(w.range);
    let range_end = w.end;
    let mut result = last_v - first_v;
    if is_counter {
        for x in p.windows(2) {
            if x[1].1 < x[0].1 {
                result += x[0].1;
            }
        }
    }
    let mut duration_to_start = first_t.saturating_sub(range_start) as f64 / 1000.0;
    let mut duration_to_end = range_end.saturating_sub(last_t) as f64 / 1000.0;
    let sampled_interval = (last_t - first_t) as f64 / 1000.0;
    let average = sampled_interval / (p.len() - 1) as f64;
    let threshold = average * 1.1;
    if duration_to_start >= threshold {
        duration_to_start = average / 2.0;
    }
    if is_counter && result > 0.0 && first_v >= 0.0 {
        let duration_to_zero = sampled_interval * (first_v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = average / 2.0;
    }
    let mut factor = 1.0;
    if sampled_interval != 0.0 {
        factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval;
    }
    if is_rate {
        factor /= w.range as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` and `idelta`: the last two samples.
fn instant_value(p: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    let n = p.len();
    if n < 2 {
        return None;
    }
    let (t0, v0) = *p.get(n - 2)?;
    let (t1, v1) = *p.get(n - 1)?;
    let mut r = if !is_rate || v1 >= v0 || v1.is_nan() || v0.is_nan() {
        v1 - v0
    } else {
        v1
    };
    let interval = t1 - t0;
    if interval == 0 {
        return None;
    }
    if is_rate {
        r /= interval as f64 / 1000.0;
    }
    Some(r)
}

/// Least squares over the points, with `intercept_t` (ms) as time zero.
fn linear_regression(p: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = p.first().map_or(f64::NAN, |x| x.1);
    let mut const_y = true;
    for (i, &(t, v)) in p.iter().enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = t.saturating_sub(intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(v, sy, cy);
        (sxy, cxy) = kahan_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Kahan mean that switches to an incremental mean on overflow (Prometheus'
/// `avg_over_time`).
fn avg(p: &[(i64, f64)]) -> Option<f64> {
    let mut it = p.iter();
    let mut sum = it.next()?.1;
    let (mut count, mut mean, mut c, mut incremental) = (1.0f64, 0.0f64, 0.0f64, false);
    for (i, x) in it.enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (s, nc) = kahan_inc(x.1, sum, c);
            if !s.is_infinite() {
                (sum, c) = (s, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(x.1 / count, q * mean, q * c);
    }
    Some(if incremental {
        mean + c
    } else {
        sum / count + c / count
    })
}

fn variance(p: &[(i64, f64)]) -> Option<f64> {
    if p.is_empty() {
        return None;
    }
    let (mut count, mut mean, mut cmean, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for x in p {
        count += 1.0;
        let delta = x.1 - (mean + cmean);
        (mean, cmean) = kahan_inc(delta / count, mean, cmean);
        (aux, caux) = kahan_inc(delta * (x.1 - (mean + cmean)), aux, caux);
    }
    Some((aux + caux) / count)
}
