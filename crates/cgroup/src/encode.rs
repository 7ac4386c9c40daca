//! Writes a [`Collection`] in the kubelet `/metrics/cadvisor` text format, byte for byte as
//! client_golang does: families sorted by name, one `# HELP` and `# TYPE` each, series
//! sorted by their label values in label-name order, Go float formatting, explicit
//! timestamps on stats samples.

use std::cmp::Ordering;
use std::fmt::Write;

use scrapeline_exposition::value::{escape_help, escape_label_value, format_value};

use crate::families::{
    BASE_LABELS, CONTAINER_FAMILIES, ContainerFamily, MACHINE_FAMILIES, SCRAPE_ERROR, Sink,
};
use crate::stats::Collection;

#[derive(Clone, Copy)]
enum Slot {
    Base(usize),
    Extra(usize),
}

struct Row<'a> {
    cg: usize,
    extra: [&'a str; 2],
    value: f64,
}

/// Appends the exposition of `c` to `out`.
pub fn encode_text(c: &Collection, out: &mut String) {
    let base: Vec<[&str; 6]> = c
        .containers
        .iter()
        .map(|x| {
            [
                x.container.as_str(),
                x.id.as_str(),
                x.image.as_str(),
                x.name.as_str(),
                x.namespace.as_str(),
                x.pod.as_str(),
            ]
        })
        .collect();
    // Each container's base labels written once (`container="..",id="..",...`, escaped),
    // with the offsets of the six `name="value"` segments.
    let mut blocks: Vec<(String, [(usize, usize); 6])> = Vec::with_capacity(base.len());
    for b in &base {
        let mut s = String::with_capacity(b.iter().map(|v| v.len() + 16).sum());
        let mut off = [(0usize, 0usize); 6];
        for (i, (name, v)) in BASE_LABELS.iter().zip(b.iter()).enumerate() {
            if i > 0 {
                s.push(',');
            }
            let start = s.len();
            s.push_str(name);
            s.push_str("=\"");
            push_label_value(v, &mut s);
            s.push('"');
            if let Some(o) = off.get_mut(i) {
                *o = (start, s.len());
            }
        }
        blocks.push((s, off));
    }
    let mut scratch = String::with_capacity(32);
    // Containers in base-label order once; every family's rows start out in this order.
    let mut order: Vec<usize> = (0..c.containers.len()).collect();
    order.sort_by(|&a, &b| cmp_base(&base, a, b));

    let mut sink = Sink {
        now_unix: (c.timestamp_ms.div_euclid(1000)) as f64,
        rows: Vec::new(),
    };
    let mut rows: Vec<Row<'_>> = Vec::new();
    let mut slots: Vec<(&str, Slot)> = Vec::with_capacity(8);
    let mut wrote_scrape_error = false;
    for fam in CONTAINER_FAMILIES {
        if !wrote_scrape_error && fam.name > SCRAPE_ERROR.0 {
            write_scrape_error(c, out);
            wrote_scrape_error = true;
        }
        rows.clear();
        for &cg in &order {
            let Some(x) = c.containers.get(cg) else {
                continue;
            };
            sink.rows.clear();
            (fam.get)(x, &mut sink);
            for (extra, value) in sink.rows.drain(..) {
                rows.push(Row { cg, extra, value });
            }
        }
        if rows.is_empty() {
            continue;
        }
        merged_slots(fam, &mut slots);
        rows.sort_by(|a, b| {
            for (_, s) in &slots {
                let o = match *s {
                    Slot::Base(i) => label(&base, a.cg, i).cmp(label(&base, b.cg, i)),
                    Slot::Extra(j) => a.extra.get(j).cmp(&b.extra.get(j)),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        write_header(out, fam.name, fam.help, fam.kind.as_str());
        let only_base = fam.extra_labels.is_empty();
        for r in &rows {
            out.push_str(fam.name);
            out.push('{');
            let Some((block, off)) = blocks.get(r.cg) else {
                continue;
            };
            if only_base {
                out.push_str(block);
            } else {
                for (n, (name, s)) in slots.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    match *s {
                        Slot::Base(i) => {
                            let seg = off.get(i).and_then(|&(a, b)| block.get(a..b));
                            out.push_str(seg.unwrap_or_default());
                        }
                        Slot::Extra(j) => {
                            out.push_str(name);
                            out.push_str("=\"");
                            push_label_value(r.extra.get(j).copied().unwrap_or_default(), out);
                            out.push('"');
                        }
                    }
                }
            }
            out.push_str("} ");
            write_value_with(r.value, out, &mut scratch);
            if fam.timestamped {
                let _ = write!(out, " {}", c.timestamp_ms);
            }
            out.push('\n');
        }
    }
    if !wrote_scrape_error {
        write_scrape_error(c, out);
    }
    for (i, (name, help)) in MACHINE_FAMILIES.iter().enumerate() {
        write_header(out, name, help, "gauge");
        let m = &c.machine;
        out.push_str(name);
        out.push_str("{boot_id=\"");
        push_label_value(&m.boot_id, out);
        out.push_str("\",machine_id=\"");
        push_label_value(&m.machine_id, out);
        out.push_str("\",system_uuid=\"");
        push_label_value(&m.system_uuid, out);
        out.push_str("\"} ");
        let v = if i == 0 { m.cpu_cores } else { m.memory_bytes };
        write_value(v as f64, out);
        out.push('\n');
    }
}

fn write_scrape_error(c: &Collection, out: &mut String) {
    write_header(out, SCRAPE_ERROR.0, SCRAPE_ERROR.1, "gauge");
    out.push_str(SCRAPE_ERROR.0);
    out.push_str(if c.stats.list_failed { " 1\n" } else { " 0\n" });
}

fn write_header(out: &mut String, name: &str, help: &str, kind: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    escape_help(help, out);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

fn label<'a>(base: &[[&'a str; 6]], cg: usize, i: usize) -> &'a str {
    base.get(cg)
        .and_then(|b| b.get(i))
        .copied()
        .unwrap_or_default()
}

fn cmp_base(base: &[[&str; 6]], a: usize, b: usize) -> Ordering {
    base.get(a).cmp(&base.get(b))
}

/// The family's label names in output order, each pointing at a base or extra value.
fn merged_slots(fam: &ContainerFamily, out: &mut Vec<(&'static str, Slot)>) {
    out.clear();
    out.extend(
        BASE_LABELS
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, Slot::Base(i))),
    );
    out.extend(
        fam.extra_labels
            .iter()
            .enumerate()
            .map(|(j, n)| (*n, Slot::Extra(j))),
    );
    out.sort_by(|a, b| a.0.cmp(b.0));
}

fn push_label_value(v: &str, out: &mut String) {
    if v.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        escape_label_value(v, out);
    } else {
        out.push_str(v);
    }
}

/// 2^53: below it every integer is exactly representable and its decimal digits are the
/// shortest round-trip form.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// Go's `FormatFloat(v, 'g', -1, 64)`, with an allocation-free path for integers (almost
/// every value here) and [`format_value`] for the rest.
pub fn write_value(v: f64, out: &mut String) {
    let mut scratch = String::new();
    write_value_with(v, out, &mut scratch);
}

/// [`write_value`] with a caller-provided scratch buffer, so that non-integer values do not
/// allocate either.
pub fn write_value_with(v: f64, out: &mut String, scratch: &mut String) {
    if v.fract() == 0.0 && v.abs() < EXACT_INT && v != 0.0 {
        let n = v as i64;
        let neg = n < 0;
        let mut u = n.unsigned_abs();
        if u < 1_000_000 {
            let _ = write!(out, "{n}");
            return;
        }
        // Exponent form: strip trailing zeros, d.ddd e+XX.
        let mut digits = [0u8; 20];
        let mut len = 0;
        while u > 0 {
            if let Some(d) = digits.get_mut(len) {
                *d = b'0' + (u % 10) as u8;
            }
            u /= 10;
            len += 1;
        }
        let exp = len - 1;
        let mut first_nz = 0;
        while first_nz < len && digits.get(first_nz) == Some(&b'0') {
            first_nz += 1;
        }
        if neg {
            out.push('-');
        }
        // digits are little-endian: digits[len-1] is the leading digit.
        out.push(char::from(digits.get(len - 1).copied().unwrap_or(b'0')));
        if first_nz < len - 1 {
            out.push('.');
            for i in (first_nz..len - 1).rev() {
                out.push(char::from(digits.get(i).copied().unwrap_or(b'0')));
            }
        }
        let _ = write!(out, "e+{exp:02}");
        return;
    }
    if v.is_finite() && v != 0.0 {
        write_go_g(v, out, scratch);
        return;
    }
    format_value(v, out);
}

/// Go's shortest `'g'` layout for a finite non-zero `v`, via Rust's shortest `{:e}` digits
/// (the same rule as [`format_value`], without its temporary strings).
fn write_go_g(v: f64, out: &mut String, scratch: &mut String) {
    scratch.clear();
    let _ = write!(scratch, "{v:e}");
    let (mantissa, exp) = scratch.split_once('e').unwrap_or((scratch.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let (first, rest) = match mantissa.split_once('.') {
        Some((a, b)) => (a, b),
        None => (mantissa, ""),
    };
    let ndigits = first.len() + rest.len();
    let digit = |i: usize| -> char {
        let b = if i < first.len() {
            first.as_bytes().get(i)
        } else {
            rest.as_bytes().get(i - first.len())
        };
        char::from(b.copied().unwrap_or(b'0'))
    };
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        let _ = write!(out, "{a}");
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(first);
        out.push_str(rest);
    } else {
        let int_len = exp as usize + 1;
        for i in 0..int_len.min(ndigits) {
            out.push(digit(i));
        }
        for _ in ndigits..int_len {
            out.push('0');
        }
        if ndigits > int_len {
            out.push('.');
            for i in int_len..ndigits {
                out.push(digit(i));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scrapeline_exposition::value::value_to_string;

    fn w(v: f64) -> String {
        let mut s = String::new();
        write_value(v, &mut s);
        s
    }

    #[test]
    fn fast_path_matches_go() {
        assert_eq!(w(999999.0), "999999");
        assert_eq!(w(1048576.0), "1.048576e+06");
        assert_eq!(w(268435456.0), "2.68435456e+08");
        assert_eq!(w(1767225600.0), "1.7672256e+09");
        assert_eq!(w(1000000.0), "1e+06");
        assert_eq!(w(-2000000.0), "-2e+06");
        assert_eq!(w(16777216000.0), "1.6777216e+10");
        assert_eq!(w(0.0), "0");
        assert_eq!(w(183.456789), "183.456789");
        assert_eq!(w(1e-5), "1e-05");
    }

    proptest::proptest! {
        #[test]
        fn fast_path_equals_format_value(n in -(1i64 << 53)..(1i64 << 53)) {
            let v = n as f64;
            proptest::prop_assert_eq!(w(v), value_to_string(v));
        }

        #[test]
        fn float_path_equals_format_value(bits in proptest::num::u64::ANY) {
            let v = f64::from_bits(bits);
            proptest::prop_assert_eq!(w(v), value_to_string(v));
        }

        #[test]
        fn seconds_like_values_equal_format_value(ns in 0u64..(1u64 << 62), div in 0u32..4) {
            let v = ns as f64 / [1e9, 1e6, 1e3, 100.0][div as usize];
            proptest::prop_assert_eq!(w(v), value_to_string(v));
        }

        #[test]
        fn fast_path_equals_format_value_large(n in 0u64..u64::MAX) {
            let v = n as f64;
            proptest::prop_assert_eq!(w(v), value_to_string(v));
        }
    }
}
