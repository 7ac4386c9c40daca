//! Binary operators: arithmetic, comparisons (with and without `bool`), set operators, and
//! vector matching (`on`, `ignoring`, `group_left`, `group_right`).
//!
//! Series are matched once per query (by their matching signature); only the presence of a
//! value is looked at per step, where Prometheus' per-step uniqueness rules are enforced.

use std::collections::HashMap;

use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use scrapeline_exposition::Labels;

use crate::Error;
use crate::eval::{Ctx, Ser, Val, merge_same_labels};
use crate::labels::{drop_name, keep, render, with_label};
use crate::value::{absent, is_absent};

/// An operator, resolved once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s.to_ascii_lowercase().as_str() {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Mod,
            "^" => Op::Pow,
            "atan2" => Op::Atan2,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "and" => Op::And,
            "or" => Op::Or,
            "unless" => Op::Unless,
            _ => return None,
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }
}

/// `l op r`: the value and whether the element is kept (comparisons filter; their value is
/// the left side's).
#[inline]
fn apply(op: Op, l: f64, r: f64) -> (f64, bool) {
    match op {
        Op::Add => (l + r, true),
        Op::Sub => (l - r, true),
        Op::Mul => (l * r, true),
        Op::Div => (l / r, true),
        Op::Mod => (l % r, true),
        Op::Pow => (l.powf(r), true),
        Op::Atan2 => (l.atan2(r), true),
        Op::Eq => (l, l == r),
        Op::Ne => (l, l != r),
        Op::Gt => (l, l > r),
        Op::Lt => (l, l < r),
        Op::Ge => (l, l >= r),
        Op::Le => (l, l <= r),
        Op::And | Op::Or | Op::Unless => (l, false),
    }
}

/// `apply`, with `bool` turning a comparison into 0/1.
#[inline]
fn apply_bool(op: Op, l: f64, r: f64, return_bool: bool) -> (f64, bool) {
    let (v, keep) = apply(op, l, r);
    if return_bool && op.is_comparison() {
        (if keep { 1.0 } else { 0.0 }, true)
    } else {
        (v, keep)
    }
}

pub(crate) fn eval_binary(ctx: &Ctx<'_>, b: &BinaryExpr) -> Result<Val, Error> {
    let name = b.op.to_string();
    let op = Op::parse(&name)
        .ok_or_else(|| Error::Execution(format!("unsupported binary operator {name:?}")))?;
    let modifier = b.modifier.clone().unwrap_or_default();
    if modifier.fill_values.lhs.is_some() || modifier.fill_values.rhs.is_some() {
        return Err(Error::Execution("fill modifiers are not supported".into()));
    }
    let return_bool = modifier.return_bool;
    let lhs = ctx.eval(&b.lhs)?;
    let rhs = ctx.eval(&b.rhs)?;
    let held = crate::eval::points(&lhs) + crate::eval::points(&rhs);
    let out = match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Val::Scalar(
            l.iter()
                .zip(&r)
                .map(|(l, r)| apply_bool(op, *l, *r, true).0)
                .collect(),
        ),
        (Val::Vector(l), Val::Scalar(r)) => {
            Val::Vector(vector_scalar(l, &r, op, false, return_bool)?)
        }
        (Val::Scalar(l), Val::Vector(r)) => {
            Val::Vector(vector_scalar(r, &l, op, true, return_bool)?)
        }
        (Val::Vector(l), Val::Vector(r)) => {
            let matching = modifier.matching.clone();
            Val::Vector(match op {
                Op::And | Op::Or | Op::Unless => set_op(ctx, l, r, op, matching.as_ref())?,
                _ => vector_vector(
                    ctx,
                    l,
                    r,
                    op,
                    &modifier.card,
                    matching.as_ref(),
                    return_bool,
                )?,
            })
        }
        _ => {
            return Err(Error::Execution(
                "binary operators need scalars or instant vectors".into(),
            ));
        }
    };
    ctx.limits.release(held);
    ctx.limits.hold(crate::eval::points(&out))?;
    Ok(out)
}

fn vector_scalar(
    mut series: Vec<Ser>,
    scalar: &[f64],
    op: Op,
    swap: bool,
    return_bool: bool,
) -> Result<Vec<Ser>, Error> {
    let drop = !op.is_comparison() || return_bool;
    for s in &mut series {
        for (v, sv) in s.vals.iter_mut().zip(scalar) {
            if is_absent(*v) {
                continue;
            }
            let (l, r) = if swap { (*sv, *v) } else { (*v, *sv) };
            let (mut out, keep) = apply_bool(op, l, r, return_bool);
            if op.is_comparison() && !return_bool {
                out = *v;
            }
            *v = if keep { out } else { absent() };
        }
        if drop {
            s.labels = drop_name(&s.labels);
        }
    }
    series.retain(|s| s.vals.iter().any(|v| !is_absent(*v)));
    if drop {
        merge_same_labels(series)
    } else {
        Ok(series)
    }
}

/// The matching signature of a series: the `on` labels, or all but the `ignoring` labels
/// and the metric name.
fn sig(l: &Labels, matching: Option<&LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(names)) => keep(l, &names.labels, true),
        Some(LabelModifier::Exclude(names)) => drop_name(&keep(l, &names.labels, false)),
        None => drop_name(l),
    }
}

/// Groups series indices by signature: (signature, indices) in first-seen order.
fn group_by_sig(
    series: &[Ser],
    matching: Option<&LabelModifier>,
) -> (Vec<Labels>, HashMap<Labels, usize>, Vec<usize>) {
    let mut index = HashMap::new();
    let mut sigs = Vec::new();
    let mut of = Vec::with_capacity(series.len());
    for s in series {
        let k = sig(&s.labels, matching);
        let g = *index.entry(k.clone()).or_insert_with(|| {
            sigs.push(k);
            sigs.len() - 1
        });
        of.push(g);
    }
    (sigs, index, of)
}

fn set_op(
    ctx: &Ctx<'_>,
    lhs: Vec<Ser>,
    rhs: Vec<Ser>,
    op: Op,
    matching: Option<&LabelModifier>,
) -> Result<Vec<Ser>, Error> {
    let n = ctx.n;
    // Per signature and step: does the other side have a value?
    let presence = |side: &[Ser]| -> (HashMap<Labels, usize>, Vec<Vec<bool>>, Vec<usize>) {
        let (_, index, of) = group_by_sig(side, matching);
        let mut present = vec![vec![false; n]; index.len()];
        for (s, g) in side.iter().zip(&of) {
            if let Some(p) = present.get_mut(*g) {
                for (p, v) in p.iter_mut().zip(&s.vals) {
                    *p |= !is_absent(*v);
                }
            }
        }
        (index, present, of)
    };
    match op {
        Op::And | Op::Unless => {
            let (index, present, _) = presence(&rhs);
            let want = op == Op::And;
            let mut out = Vec::with_capacity(lhs.len());
            for mut s in lhs {
                ctx.limits.tick()?;
                let p = index
                    .get(&sig(&s.labels, matching))
                    .and_then(|g| present.get(*g));
                for (i, v) in s.vals.iter_mut().enumerate() {
                    let has = p.and_then(|p| p.get(i)).copied().unwrap_or(false);
                    if has != want {
                        *v = absent();
                    }
                }
                if s.vals.iter().any(|v| !is_absent(*v)) {
                    out.push(s);
                }
            }
            Ok(out)
        }
        _ => {
            let (index, present, _) = presence(&lhs);
            let mut out = lhs;
            for mut s in rhs {
                ctx.limits.tick()?;
                let p = index
                    .get(&sig(&s.labels, matching))
                    .and_then(|g| present.get(*g));
                if let Some(p) = p {
                    for (v, has) in s.vals.iter_mut().zip(p) {
                        if *has {
                            *v = absent();
                        }
                    }
                }
                if s.vals.iter().any(|v| !is_absent(*v)) {
                    out.push(s);
                }
            }
            merge_same_labels(out)
        }
    }
}

/// Prometheus' result labels: the "many" side's, without the metric name for arithmetic
/// and `bool`, restricted by `on`/`ignoring` for one-to-one matching, plus the `group_x`
/// labels taken from the "one" side.
fn result_labels(
    many: &Labels,
    one: &Labels,
    drop: bool,
    card: &VectorMatchCardinality,
    matching: Option<&LabelModifier>,
) -> Labels {
    let mut l = if drop { drop_name(many) } else { many.clone() };
    if matches!(card, VectorMatchCardinality::OneToOne) {
        match matching {
            Some(LabelModifier::Include(names)) => l = keep(&l, &names.labels, true),
            Some(LabelModifier::Exclude(names)) => l = keep(&l, &names.labels, false),
            None => {}
        }
    }
    if let Some(include) = card.labels() {
        for name in &include.labels {
            l = with_label(&l, name, one.get(name).unwrap_or(""));
        }
    }
    l
}

#[allow(clippy::too_many_arguments)]
fn vector_vector(
    ctx: &Ctx<'_>,
    lhs: Vec<Ser>,
    rhs: Vec<Ser>,
    op: Op,
    card: &VectorMatchCardinality,
    matching: Option<&LabelModifier>,
    return_bool: bool,
) -> Result<Vec<Ser>, Error> {
    let n = ctx.n;
    let swapped = matches!(card, VectorMatchCardinality::OneToMany(_));
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let drop = !op.is_comparison() || return_bool;
    let (one_sigs, one_index, one_of) = group_by_sig(&one, matching);
    let mut one_groups: Vec<Vec<usize>> = vec![Vec::new(); one_sigs.len()];
    for (i, g) in one_of.iter().enumerate() {
        if let Some(v) = one_groups.get_mut(*g) {
            v.push(i);
        }
    }
    // Per "one"-side group and step: the series with a value there (none, or an error when
    // two have one).
    let side = if swapped { "left" } else { "right" };
    let mut one_at: Vec<Vec<u32>> = Vec::with_capacity(one_groups.len());
    for (g, members) in one_groups.iter().enumerate() {
        ctx.limits.tick()?;
        let mut at = vec![u32::MAX; n];
        for &m in members {
            let Some(s) = one.get(m) else { continue };
            for (i, v) in s.vals.iter().enumerate() {
                if is_absent(*v) {
                    continue;
                }
                if let Some(slot) = at.get_mut(i) {
                    if *slot != u32::MAX {
                        let first = one.get(*slot as usize).map(|s| render(&s.labels));
                        return Err(Error::Execution(format!(
                            "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                            one_sigs.get(g).map(render).unwrap_or_default(),
                            first.unwrap_or_default(),
                            render(&s.labels),
                        )));
                    }
                    *slot = m as u32;
                }
            }
        }
        one_at.push(at);
    }
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    // One-to-one: per group and step, has a "many"-side series been matched already?
    let mut matched: Vec<Vec<bool>> = if one_to_one {
        vec![vec![false; n]; one_groups.len()]
    } else {
        Vec::new()
    };
    let mut out: Vec<Ser> = Vec::new();
    let mut out_index: HashMap<Labels, usize> = HashMap::new();
    // Result labels per (many series, one series) pair, computed once.
    let mut pair_out: HashMap<(usize, u32), usize> = HashMap::new();
    for (mi, ms) in many.iter().enumerate() {
        ctx.limits.tick()?;
        let Some(&g) = one_index.get(&sig(&ms.labels, matching)) else {
            continue;
        };
        let Some(at) = one_at.get(g) else { continue };
        for (i, v) in ms.vals.iter().enumerate() {
            if is_absent(*v) {
                continue;
            }
            let Some(&oi) = at.get(i) else { continue };
            if oi == u32::MAX {
                continue;
            }
            let Some(os) = one.get(oi as usize) else {
                continue;
            };
            let ov = os.vals.get(i).copied().unwrap_or_else(absent);
            if one_to_one && let Some(m) = matched.get_mut(g).and_then(|m| m.get_mut(i)) {
                if *m {
                    return Err(Error::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
                *m = true;
            }
            let (l, r) = if swapped { (ov, *v) } else { (*v, ov) };
            let (val, keep) = apply_bool(op, l, r, return_bool);
            if !keep {
                continue;
            }
            let o = match pair_out.get(&(mi, oi)) {
                Some(o) => *o,
                None => {
                    let labels = result_labels(&ms.labels, &os.labels, drop, card, matching);
                    let o = *out_index.entry(labels.clone()).or_insert_with(|| {
                        out.push(Ser {
                            labels,
                            vals: vec![absent(); n],
                        });
                        out.len() - 1
                    });
                    pair_out.insert((mi, oi), o);
                    o
                }
            };
            if let Some(slot) = out.get_mut(o).and_then(|s| s.vals.get_mut(i)) {
                if !is_absent(*slot) {
                    return Err(Error::Execution(if one_to_one {
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into()
                    } else {
                        "multiple matches for labels: grouping labels must ensure unique matches"
                            .into()
                    }));
                }
                *slot = val;
            }
        }
    }
    Ok(out)
}
