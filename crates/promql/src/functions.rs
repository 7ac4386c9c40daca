//! Function calls: range functions (see [`crate::range_functions`]), element-wise math,
//! `histogram_quantile`, label manipulation, `time`, `vector`, `scalar`, `timestamp`,
//! `absent`, `sort` and the date functions.

use std::collections::HashMap;

use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr};
use scrapeline_exposition::Labels;
use scrapeline_exposition::labels::METRIC_NAME;

use crate::Error;
use crate::eval::{Ctx, Ser, Val, merge_same_labels};
use crate::labels::{drop_name, with_label};
use crate::range_functions;
use crate::value::{absent, is_absent};

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub(crate) fn go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn arg(c: &Call, i: usize) -> Result<&Expr, Error> {
    c.args
        .args
        .get(i)
        .map(|b| b.as_ref())
        .ok_or_else(|| Error::Execution(format!("{}: missing argument {}", c.func.name, i + 1)))
}

fn string_arg(ctx: &Ctx<'_>, c: &Call, i: usize) -> Result<String, Error> {
    match ctx.eval(arg(c, i)?)? {
        Val::Str(s) => Ok(s),
        _ => Err(Error::Execution(format!(
            "{}: argument {} must be a string",
            c.func.name,
            i + 1
        ))),
    }
}

pub(crate) fn unwrap_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unwrap_parens(&p.expr),
        _ => e,
    }
}

/// Applies `f` to every value, dropping the metric name.
fn map_values(series: Vec<Ser>, f: impl Fn(f64, usize) -> f64) -> Result<Vec<Ser>, Error> {
    let out = series
        .into_iter()
        .map(|mut s| {
            for (i, v) in s.vals.iter_mut().enumerate() {
                if !is_absent(*v) {
                    *v = f(*v, i);
                }
            }
            s.labels = drop_name(&s.labels);
            s
        })
        .collect();
    merge_same_labels(out)
}

fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sqrt" => f64::sqrt,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        "acos" => f64::acos,
        "acosh" => f64::acosh,
        "asin" => f64::asin,
        "asinh" => f64::asinh,
        "atan" => f64::atan,
        "atanh" => f64::atanh,
        "cos" => f64::cos,
        "cosh" => f64::cosh,
        "sin" => f64::sin,
        "sinh" => f64::sinh,
        "tan" => f64::tan,
        "tanh" => f64::tanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        _ => return None,
    })
}

/// Which argument of a range function is the range vector, and which (if any) the scalar.
fn range_args(name: &str) -> (usize, Option<usize>) {
    match name {
        "quantile_over_time" => (1, Some(0)),
        "predict_linear" => (0, Some(1)),
        _ => (0, None),
    }
}

/// When `e` is a range function over a range selector whose results cannot collide once the
/// name is dropped (the selector names one metric, or the function keeps the name), streams
/// the function's result series to `sink` and answers true; otherwise does nothing and
/// answers false.
pub(crate) fn stream_range_call(
    ctx: &Ctx<'_>,
    e: &Expr,
    sink: &mut dyn FnMut(Labels, Vec<f64>) -> Result<(), Error>,
) -> Result<bool, Error> {
    let Expr::Call(c) = unwrap_parens(e) else {
        return Ok(false);
    };
    let name = c.func.name;
    let Some(f) = range_functions::lookup(name) else {
        return Ok(false);
    };
    let (range_i, param_i) = range_args(name);
    let Some(Expr::MatrixSelector(ms)) = c.args.args.get(range_i).map(|a| unwrap_parens(a)) else {
        return Ok(false);
    };
    let one_name = ms.vs.name.is_some()
        || ms
            .vs
            .matchers
            .matchers
            .iter()
            .any(|m| m.name == METRIC_NAME && matches!(m.op, MatchOp::Equal));
    if !(one_name || range_functions::keeps_name(name)) {
        return Ok(false);
    }
    let params = match param_i {
        Some(i) => ctx.eval_scalar(arg(c, i)?)?,
        None => Vec::new(),
    };
    range_functions::stream_selector(ctx, name, f, ms, &params, sink)?;
    Ok(true)
}

pub(crate) fn eval_call(ctx: &Ctx<'_>, c: &Call) -> Result<Val, Error> {
    let name = c.func.name;
    if let Some(f) = range_functions::lookup(name) {
        let (range_i, param_i) = range_args(name);
        let params = match param_i {
            Some(i) => ctx.eval_scalar(arg(c, i)?)?,
            None => Vec::new(),
        };
        let e = arg(c, range_i)?;
        if let Expr::MatrixSelector(ms) = unwrap_parens(e) {
            let mut out = Vec::new();
            range_functions::stream_selector(ctx, name, f, ms, &params, &mut |labels, vals| {
                ctx.limits.hold(vals.len())?;
                out.push(Ser { labels, vals });
                Ok(())
            })?;
            return Ok(Val::Vector(if range_functions::keeps_name(name) {
                out
            } else {
                merge_same_labels(out)?
            }));
        }
        let ra = ctx.range_arg(e)?;
        return Ok(Val::Vector(range_functions::apply(
            ctx, name, f, ra, &params,
        )?));
    }
    if let Some(f) = math_fn(name) {
        let v = ctx.eval_vector(arg(c, 0)?)?;
        return Ok(Val::Vector(map_values(v, |x, _| f(x))?));
    }
    match name {
        "absent_over_time" => {
            let e = arg(c, 0)?;
            let ra = ctx.range_arg(e)?;
            let mut present = vec![false; ctx.n];
            for s in &ra.series {
                for (p, &end) in present.iter_mut().zip(&ra.ends) {
                    let start = end.saturating_sub(ra.range);
                    let lo = s.points.partition_point(|p| p.0 <= start);
                    let hi = s.points.partition_point(|p| p.0 <= end);
                    *p |= hi > lo;
                }
            }
            let labels = match unwrap_parens(e) {
                Expr::MatrixSelector(ms) => absent_labels(&ms.vs.matchers.matchers),
                _ => Labels::empty(),
            };
            Ok(absent_result(labels, &present))
        }
        "absent" => {
            let e = arg(c, 0)?;
            let v = ctx.eval_vector(e)?;
            let mut present = vec![false; ctx.n];
            for s in &v {
                for (p, x) in present.iter_mut().zip(&s.vals) {
                    *p |= !is_absent(*x);
                }
            }
            let labels = match e {
                Expr::VectorSelector(vs) => absent_labels(&vs.matchers.matchers),
                _ => Labels::empty(),
            };
            Ok(absent_result(labels, &present))
        }
        "time" => Ok(Val::Scalar(
            (0..ctx.n).map(|i| ctx.ts(i) as f64 / 1000.0).collect(),
        )),
        "start" => Ok(Val::Scalar(vec![ctx.query_start as f64 / 1000.0; ctx.n])),
        "end" => Ok(Val::Scalar(vec![ctx.query_end as f64 / 1000.0; ctx.n])),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; ctx.n])),
        "vector" => Ok(Val::Vector(vec![Ser {
            labels: Labels::empty(),
            vals: ctx.eval_scalar(arg(c, 0)?)?,
        }])),
        "scalar" => {
            let v = ctx.eval_vector(arg(c, 0)?)?;
            let mut out = vec![f64::NAN; ctx.n];
            let mut seen = vec![0u32; ctx.n];
            for s in &v {
                for (i, x) in s.vals.iter().enumerate() {
                    if is_absent(*x) {
                        continue;
                    }
                    if let (Some(o), Some(n)) = (out.get_mut(i), seen.get_mut(i)) {
                        *n += 1;
                        *o = if *n == 1 { *x } else { f64::NAN };
                    }
                }
            }
            Ok(Val::Scalar(out))
        }
        "timestamp" => {
            let e = arg(c, 0)?;
            let v = match unwrap_parens(e) {
                Expr::VectorSelector(vs) => ctx.select_vector(vs, true)?,
                _ => {
                    let v = ctx.eval_vector(e)?;
                    v.into_iter()
                        .map(|mut s| {
                            for (i, x) in s.vals.iter_mut().enumerate() {
                                if !is_absent(*x) {
                                    *x = ctx.ts(i) as f64 / 1000.0;
                                }
                            }
                            s
                        })
                        .collect()
                }
            };
            Ok(Val::Vector(map_values(v, |x, _| x)?))
        }
        "round" => {
            let v = ctx.eval_vector(arg(c, 0)?)?;
            let to = match c.args.args.get(1) {
                Some(e) => ctx.eval_scalar(e)?,
                None => vec![1.0; ctx.n],
            };
            Ok(Val::Vector(map_values(v, |x, i| {
                let inv = 1.0 / to.get(i).copied().unwrap_or(1.0);
                (x * inv + 0.5).floor() / inv
            })?))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let v = ctx.eval_vector(arg(c, 0)?)?;
            let (lo, hi) = match name {
                "clamp" => (ctx.eval_scalar(arg(c, 1)?)?, ctx.eval_scalar(arg(c, 2)?)?),
                "clamp_min" => (ctx.eval_scalar(arg(c, 1)?)?, vec![f64::NAN; ctx.n]),
                _ => (vec![f64::NAN; ctx.n], ctx.eval_scalar(arg(c, 1)?)?),
            };
            let mut out = Vec::with_capacity(v.len());
            for mut s in v {
                for (i, x) in s.vals.iter_mut().enumerate() {
                    if is_absent(*x) {
                        continue;
                    }
                    let (l, h) = (lo.get(i).copied(), hi.get(i).copied());
                    *x = match name {
                        "clamp" => {
                            let (l, h) = (l.unwrap_or(f64::NAN), h.unwrap_or(f64::NAN));
                            if h < l {
                                absent()
                            } else {
                                go_max(l, go_min(h, *x))
                            }
                        }
                        "clamp_min" => go_max(l.unwrap_or(f64::NAN), *x),
                        _ => go_min(h.unwrap_or(f64::NAN), *x),
                    };
                }
                s.labels = drop_name(&s.labels);
                if s.vals.iter().any(|x| !is_absent(*x)) {
                    out.push(s);
                }
            }
            Ok(Val::Vector(merge_same_labels(out)?))
        }
        "sort" | "sort_desc" => {
            let mut v = ctx.eval_vector(arg(c, 0)?)?;
            let desc = name == "sort_desc";
            v.sort_by(|a, b| {
                let (x, y) = (
                    a.vals.first().copied().unwrap_or(f64::NAN),
                    b.vals.first().copied().unwrap_or(f64::NAN),
                );
                use std::cmp::Ordering::*;
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => Equal,
                    (true, false) => Greater,
                    (false, true) => Less,
                    _ if desc => y.partial_cmp(&x).unwrap_or(Equal),
                    _ => x.partial_cmp(&y).unwrap_or(Equal),
                }
            });
            Ok(Val::Vector(v))
        }
        "label_replace" => label_replace(ctx, c),
        "label_join" => label_join(ctx, c),
        "histogram_quantile" => histogram_quantile(ctx, c),
        "minute" | "hour" | "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month"
        | "month" | "year" => {
            let v = match c.args.args.first() {
                Some(e) => ctx.eval_vector(e)?,
                None => vec![Ser {
                    labels: Labels::empty(),
                    vals: (0..ctx.n).map(|i| ctx.ts(i) as f64 / 1000.0).collect(),
                }],
            };
            Ok(Val::Vector(map_values(v, |x, _| date_part(name, x))?))
        }
        other => Err(Error::Execution(format!(
            "function {other:?} is not supported"
        ))),
    }
}

/// Go's `math.Max` (NaN wins).
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min` (NaN wins).
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Labels `absent()` gives its result: the selector's equality matchers, except a name
/// matched twice.
fn absent_labels(matchers: &[promql_parser::label::Matcher]) -> Labels {
    let mut set: Vec<(String, String)> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for m in matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        let seen = set.iter().any(|x| x.0 == m.name);
        if matches!(m.op, MatchOp::Equal) && !seen && !dropped.contains(&m.name) {
            set.push((m.name.clone(), m.value.clone()));
        } else {
            set.retain(|x| x.0 != m.name);
            dropped.push(m.name.clone());
        }
    }
    Labels::from_pairs(set.into_iter().filter(|x| !x.1.is_empty()))
}

fn absent_result(labels: Labels, present: &[bool]) -> Val {
    let vals: Vec<f64> = present
        .iter()
        .map(|p| if *p { absent() } else { 1.0 })
        .collect();
    if vals.iter().all(|v| is_absent(*v)) {
        return Val::Vector(Vec::new());
    }
    Val::Vector(vec![Ser { labels, vals }])
}

fn label_replace(ctx: &Ctx<'_>, c: &Call) -> Result<Val, Error> {
    let dst = string_arg(ctx, c, 1)?;
    let repl = string_arg(ctx, c, 2)?;
    let src = string_arg(ctx, c, 3)?;
    let re = string_arg(ctx, c, 4)?;
    let re = regex::Regex::new(&format!("^(?s:{re})$")).map_err(|_| {
        Error::Execution(format!(
            "invalid regular expression in label_replace(): {re}"
        ))
    })?;
    if !is_valid_label_name(&dst) {
        return Err(Error::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let v = ctx.eval_vector(arg(c, 0)?)?;
    let mut cache: HashMap<Labels, Labels> = HashMap::new();
    let out: Vec<Ser> = v
        .into_iter()
        .map(|mut s| {
            let new = cache.entry(s.labels.clone()).or_insert_with(|| {
                let value = s.labels.get(&src).unwrap_or("");
                match re.captures(value) {
                    Some(caps) => {
                        let mut r = String::new();
                        caps.expand(&repl, &mut r);
                        with_label(&s.labels, &dst, &r)
                    }
                    None => s.labels.clone(),
                }
            });
            s.labels = new.clone();
            s
        })
        .collect();
    Ok(Val::Vector(merge_same_labels(out)?))
}

/// Prometheus 3 accepts any valid UTF-8 label name; an invalid escape (`"\xff"`) reaches us
/// as U+FFFD.
pub(crate) fn is_valid_label_name(s: &str) -> bool {
    !s.is_empty() && !s.contains('\u{FFFD}')
}

fn label_join(ctx: &Ctx<'_>, c: &Call) -> Result<Val, Error> {
    let dst = string_arg(ctx, c, 1)?;
    let sep = string_arg(ctx, c, 2)?;
    let mut srcs = Vec::new();
    for i in 3..c.args.args.len() {
        srcs.push(string_arg(ctx, c, i)?);
    }
    if !is_valid_label_name(&dst) {
        return Err(Error::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let v = ctx.eval_vector(arg(c, 0)?)?;
    let out: Vec<Ser> = v
        .into_iter()
        .map(|mut s| {
            let joined = srcs
                .iter()
                .map(|n| s.labels.get(n).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(&sep);
            s.labels = with_label(&s.labels, &dst, &joined);
            s
        })
        .collect();
    Ok(Val::Vector(merge_same_labels(out)?))
}

fn histogram_quantile(ctx: &Ctx<'_>, c: &Call) -> Result<Val, Error> {
    let q = ctx.eval_scalar(arg(c, 0)?)?;
    let v = ctx.eval_vector(arg(c, 1)?)?;
    // Group the buckets by their labels without `le` and the name.
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<(f64, usize)>)> = Vec::new();
    for (si, s) in v.iter().enumerate() {
        let Some(le) = s.labels.get("le") else {
            continue;
        };
        let Ok(ub) = parse_go_float(le) else { continue };
        let key = drop_name(&with_label(&s.labels, "le", ""));
        let g = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(g) {
            g.1.push((ub, si));
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for (labels, members) in groups {
        ctx.limits.tick()?;
        let mut vals = vec![absent(); ctx.n];
        for (i, slot) in vals.iter_mut().enumerate() {
            buckets.clear();
            buckets.extend(members.iter().filter_map(|&(ub, si)| {
                let x = *v.get(si)?.vals.get(i)?;
                (!is_absent(x)).then_some((ub, x))
            }));
            if buckets.is_empty() {
                continue;
            }
            *slot = crate::quantile::bucket_quantile(
                q.get(i).copied().unwrap_or(f64::NAN),
                &mut buckets,
            );
        }
        if vals.iter().any(|x| !is_absent(*x)) {
            out.push(Ser { labels, vals });
        }
    }
    Ok(Val::Vector(out))
}

/// Go's `strconv.ParseFloat` for the spellings `le` labels use (`+Inf`, `1e3`, `0.5`).
fn parse_go_float(s: &str) -> Result<f64, std::num::ParseFloatError> {
    s.trim_start_matches('+').parse::<f64>().or_else(|e| {
        if s == "+Inf" {
            Ok(f64::INFINITY)
        } else {
            Err(e)
        }
    })
}

/// A calendar field of Unix time `t` (seconds), in UTC.
fn date_part(name: &str, t: f64) -> f64 {
    if !t.is_finite() {
        return f64::NAN;
    }
    let secs = t.floor() as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_len = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    match name {
        "minute" => ((sod / 60) % 60) as f64,
        "hour" => (sod / 3600) as f64,
        "day_of_month" => d as f64,
        "day_of_week" => ((days + 4).rem_euclid(7)) as f64,
        "day_of_year" => (month_len.iter().take((m - 1) as usize).sum::<i64>() + d) as f64,
        "days_in_month" => month_len.get((m - 1) as usize).copied().unwrap_or(30) as f64,
        "month" => m as f64,
        _ => y as f64,
    }
}

/// Howard Hinnant's days-since-epoch to (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}
