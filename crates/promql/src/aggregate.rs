//! Aggregations (`sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`, `stdvar`, `topk`,
//! `bottomk`, `quantile`, `count_values`) with `by`/`without`.
//!
//! Each input series' group is found once (by hashing its grouping labels); the per-step
//! work is arithmetic on the group's accumulators.

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};
use scrapeline_exposition::Labels;

use crate::Error;
use crate::eval::{Ctx, Ser, Val};
use crate::labels::{drop_name, keep, with_label};
use crate::value::{absent, is_absent};

/// Neumaier's improvement of Kahan summation, as Prometheus' `kahansum.Inc`.
#[inline]
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// One group's state at one step.
#[derive(Clone, Copy, Default)]
struct Acc {
    seen: bool,
    value: f64,
    c: f64,
    count: f64,
    mean: f64,
    incremental: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Simple {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
}

fn group_labels(l: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    match modifier {
        None => Labels::empty(),
        Some(LabelModifier::Include(names)) => keep(l, &names.labels, true),
        Some(LabelModifier::Exclude(names)) => drop_name(&keep(l, &names.labels, false)),
    }
}

/// Groups the series: each series' group and each group's labels.
fn groups(series: &[Ser], modifier: Option<&LabelModifier>) -> (Vec<usize>, Vec<Labels>) {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut labels = Vec::new();
    let of = series
        .iter()
        .map(|s| {
            let k = group_labels(&s.labels, modifier);
            *index.entry(k.clone()).or_insert_with(|| {
                labels.push(k);
                labels.len() - 1
            })
        })
        .collect();
    (of, labels)
}

fn param_scalar(ctx: &Ctx<'_>, p: Option<&Expr>) -> Result<Vec<f64>, Error> {
    match p {
        Some(p) => ctx.eval_scalar(p),
        None => Err(Error::Execution("aggregation needs a parameter".into())),
    }
}

pub(crate) fn eval_aggregate(ctx: &Ctx<'_>, a: &AggregateExpr) -> Result<Val, Error> {
    let op = a.op.to_string().to_ascii_lowercase();
    let modifier = a.modifier.as_ref();
    let simple = match op.as_str() {
        "sum" => Some(Simple::Sum),
        "avg" => Some(Simple::Avg),
        "count" => Some(Simple::Count),
        "min" => Some(Simple::Min),
        "max" => Some(Simple::Max),
        "group" => Some(Simple::Group),
        "stddev" => Some(Simple::Stddev),
        "stdvar" => Some(Simple::Stdvar),
        _ => None,
    };
    // Parameters are evaluated before the vector, as Prometheus does.
    let param = match op.as_str() {
        "topk" | "bottomk" | "quantile" | "limitk" | "limit_ratio" => {
            Some(param_scalar(ctx, a.param.as_deref())?)
        }
        _ => None,
    };
    let label = match (op.as_str(), a.param.as_deref()) {
        ("count_values", Some(p)) => match ctx.eval(p)? {
            Val::Str(s) => Some(s),
            _ => {
                return Err(Error::Execution(
                    "count_values needs a string parameter".into(),
                ));
            }
        },
        _ => None,
    };
    if let Some(kind) = simple {
        let mut grouper = Grouper::new(kind, modifier, ctx.n);
        // `sum by (job) (rate(x[5m]))`: each series' rate goes into its group as the store
        // hands the series over; neither the samples nor the rates are kept.
        if crate::functions::stream_range_call(ctx, &a.expr, &mut |labels, vals| {
            ctx.limits.tick()?;
            grouper.add(&labels, &vals);
            Ok(())
        })? {
            return Ok(Val::Vector(grouper.finish()));
        }
        let input = ctx.eval_vector(&a.expr)?;
        for s in &input {
            ctx.limits.tick()?;
            grouper.add(&s.labels, &s.vals);
        }
        ctx.limits.release(present_points(&input));
        let out = grouper.finish();
        ctx.limits.hold(present_points(&out))?;
        return Ok(Val::Vector(out));
    }
    let input = ctx.eval_vector(&a.expr)?;
    let input_points = present_points(&input);
    let (of, glabels) = groups(&input, modifier);
    let out = match op.as_str() {
        "topk" | "bottomk" => top_k(
            ctx,
            input,
            &of,
            glabels.len(),
            param.as_deref().unwrap_or(&[]),
            op == "topk",
        )?,
        "quantile" => quantile(ctx, &input, &of, glabels, param.as_deref().unwrap_or(&[]))?,
        "count_values" => count_values(ctx, &input, &of, &glabels, label.as_deref().unwrap_or(""))?,
        other => {
            return Err(Error::Execution(format!(
                "aggregation {other:?} is not supported"
            )));
        }
    };
    ctx.limits.release(input_points);
    ctx.limits.hold(present_points(&out))?;
    Ok(Val::Vector(out))
}

/// Values (not absent) in a vector's series: what it holds for the sample limit.
fn present_points(v: &[Ser]) -> usize {
    v.iter()
        .map(|s| s.vals.iter().filter(|x| !is_absent(**x)).count())
        .sum()
}

/// Per-group, per-step accumulators of a simple aggregation, fed one series at a time.
struct Grouper<'m> {
    kind: Simple,
    modifier: Option<&'m LabelModifier>,
    n: usize,
    index: HashMap<Labels, usize>,
    labels: Vec<Labels>,
    accs: Vec<Vec<Acc>>,
}

impl<'m> Grouper<'m> {
    fn new(kind: Simple, modifier: Option<&'m LabelModifier>, n: usize) -> Self {
        Grouper {
            kind,
            modifier,
            n,
            index: HashMap::new(),
            labels: Vec::new(),
            accs: Vec::new(),
        }
    }

    /// Adds one series' values to its group.
    fn add(&mut self, labels: &Labels, vals: &[f64]) {
        let key = group_labels(labels, self.modifier);
        let g = match self.index.get(&key) {
            Some(g) => *g,
            None => {
                self.index.insert(key.clone(), self.labels.len());
                self.labels.push(key);
                self.accs.push(vec![Acc::default(); self.n]);
                self.labels.len() - 1
            }
        };
        if let Some(acc) = self.accs.get_mut(g) {
            accumulate(self.kind, acc, vals);
        }
    }

    fn finish(self) -> Vec<Ser> {
        let kind = self.kind;
        self.labels
            .into_iter()
            .zip(self.accs)
            .map(|(labels, acc)| Ser {
                labels,
                vals: acc.iter().map(|a| result(kind, a)).collect(),
            })
            .filter(|s| s.vals.iter().any(|v| !is_absent(*v)))
            .collect()
    }
}

fn accumulate(kind: Simple, acc: &mut [Acc], vals: &[f64]) {
    for (a, &f) in acc.iter_mut().zip(vals) {
        if is_absent(f) {
            continue;
        }
        if !a.seen {
            *a = Acc {
                seen: true,
                value: f,
                c: 0.0,
                count: 1.0,
                mean: f,
                incremental: false,
            };
            if matches!(kind, Simple::Stddev | Simple::Stdvar) {
                a.value = if f.is_nan() || f.is_infinite() {
                    f64::NAN
                } else {
                    0.0
                };
            }
            continue;
        }
        match kind {
            Simple::Sum => (a.value, a.c) = kahan_inc(f, a.value, a.c),
            Simple::Avg => {
                a.count += 1.0;
                if !a.incremental {
                    let (v, c) = kahan_inc(f, a.value, a.c);
                    if !v.is_infinite() {
                        (a.value, a.c) = (v, c);
                        continue;
                    }
                    a.incremental = true;
                    a.mean = a.value / (a.count - 1.0);
                    a.c /= a.count - 1.0;
                }
                let q = (a.count - 1.0) / a.count;
                (a.mean, a.c) = kahan_inc(f / a.count, q * a.mean, q * a.c);
            }
            Simple::Count => a.count += 1.0,
            Simple::Min => {
                if a.value > f || a.value.is_nan() {
                    a.value = f;
                }
            }
            Simple::Max => {
                if a.value < f || a.value.is_nan() {
                    a.value = f;
                }
            }
            Simple::Group => {}
            Simple::Stddev | Simple::Stdvar => {
                a.count += 1.0;
                let delta = f - a.mean;
                a.mean += delta / a.count;
                a.value += delta * (f - a.mean);
            }
        }
    }
}

fn result(kind: Simple, a: &Acc) -> f64 {
    if !a.seen {
        return absent();
    }
    match kind {
        Simple::Sum => a.value + a.c,
        Simple::Avg if a.incremental => a.mean + a.c,
        Simple::Avg => a.value / a.count + a.c / a.count,
        Simple::Count => a.count,
        Simple::Min | Simple::Max => a.value,
        Simple::Group => 1.0,
        Simple::Stdvar => a.value / a.count,
        Simple::Stddev => (a.value / a.count).sqrt(),
    }
}

/// k from a float parameter, as Prometheus converts it.
fn k_of(p: f64) -> Result<i64, Error> {
    if p.is_nan() {
        return Err(Error::Execution("Parameter value is NaN".to_owned()));
    }
    if !(-9.223372036854776e18..9.223372036854776e18).contains(&p) {
        return Err(Error::Execution(format!(
            "Scalar value {} overflows int64",
            crate::functions::go_float(p)
        )));
    }
    Ok(p as i64)
}

fn top_k(
    ctx: &Ctx<'_>,
    input: Vec<Ser>,
    of: &[usize],
    ngroups: usize,
    param: &[f64],
    top: bool,
) -> Result<Vec<Ser>, Error> {
    let n = ctx.n;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); ngroups];
    for (i, g) in of.iter().enumerate() {
        if let Some(m) = members.get_mut(*g) {
            m.push(i);
        }
    }
    let mut out_of: HashMap<usize, usize> = HashMap::new();
    let mut out: Vec<Ser> = Vec::new();
    let mut cand: Vec<(usize, f64)> = Vec::new();
    // Prometheus orders NaN below every number for both topk and bottomk.
    let better = |a: f64, b: f64| -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (a.is_nan(), b.is_nan()) {
            (true, true) => Equal,
            (true, false) => Greater,
            (false, true) => Less,
            _ => {
                let o = a.partial_cmp(&b).unwrap_or(Equal);
                if top { o.reverse() } else { o }
            }
        }
    };
    for i in 0..n {
        ctx.limits.tick()?;
        let k = k_of(param.get(i).copied().unwrap_or(f64::NAN))?;
        if k < 1 {
            continue;
        }
        for m in &members {
            cand.clear();
            cand.extend(m.iter().filter_map(|&si| {
                let v = *input.get(si)?.vals.get(i)?;
                (!is_absent(v)).then_some((si, v))
            }));
            cand.sort_by(|a, b| better(a.1, b.1));
            for &(si, v) in cand.iter().take(usize::try_from(k).unwrap_or(usize::MAX)) {
                let o = *out_of.entry(si).or_insert_with(|| {
                    out.push(Ser {
                        labels: input.get(si).map(|s| s.labels.clone()).unwrap_or_default(),
                        vals: vec![absent(); n],
                    });
                    out.len() - 1
                });
                if let Some(slot) = out.get_mut(o).and_then(|s| s.vals.get_mut(i)) {
                    *slot = v;
                }
            }
        }
    }
    Ok(out)
}

fn quantile(
    ctx: &Ctx<'_>,
    input: &[Ser],
    of: &[usize],
    glabels: Vec<Labels>,
    param: &[f64],
) -> Result<Vec<Ser>, Error> {
    let n = ctx.n;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); glabels.len()];
    for (i, g) in of.iter().enumerate() {
        if let Some(m) = members.get_mut(*g) {
            m.push(i);
        }
    }
    let mut vals: Vec<f64> = Vec::new();
    let mut out = Vec::with_capacity(glabels.len());
    for (labels, m) in glabels.into_iter().zip(&members) {
        ctx.limits.tick()?;
        let mut ser = Ser {
            labels,
            vals: vec![absent(); n],
        };
        for i in 0..n {
            vals.clear();
            vals.extend(m.iter().filter_map(|&si| {
                let v = *input.get(si)?.vals.get(i)?;
                (!is_absent(v)).then_some(v)
            }));
            if vals.is_empty() {
                continue;
            }
            let q = param.get(i).copied().unwrap_or(f64::NAN);
            if let Some(slot) = ser.vals.get_mut(i) {
                *slot = crate::quantile::quantile(q, &mut vals);
            }
        }
        out.push(ser);
    }
    Ok(out)
}

fn count_values(
    ctx: &Ctx<'_>,
    input: &[Ser],
    of: &[usize],
    glabels: &[Labels],
    label: &str,
) -> Result<Vec<Ser>, Error> {
    if !crate::functions::is_valid_label_name(label) {
        return Err(Error::Execution(format!("invalid label name {label:?}")));
    }
    let n = ctx.n;
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<Ser> = Vec::new();
    for (s, g) in input.iter().zip(of) {
        ctx.limits.tick()?;
        let base = glabels.get(*g).cloned().unwrap_or_default();
        for (i, v) in s.vals.iter().enumerate() {
            if is_absent(*v) {
                continue;
            }
            let labels = with_label(&base, label, &crate::functions::go_float(*v));
            let o = *index.entry(labels.clone()).or_insert_with(|| {
                out.push(Ser {
                    labels,
                    vals: vec![absent(); n],
                });
                out.len() - 1
            });
            if let Some(slot) = out.get_mut(o).and_then(|s| s.vals.get_mut(i)) {
                *slot = if is_absent(*slot) { 1.0 } else { *slot + 1.0 };
            }
        }
    }
    Ok(out)
}
