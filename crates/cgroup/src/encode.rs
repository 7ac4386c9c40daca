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
        for r in &rows {
            out.push_str(fam.name);
            out.push('{');
            for (n, (name, s)) in slots.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(name);
                out.push_str("=\"");
                let v = match *s {
                    Slot::Base(i) => label(&base, r.cg, i),
                    Slot::Extra(j) => r.extra.get(j).copied().unwrap_or_default(),
                };
                push_label_value(v, out);
                out.push('"');
            }
            out.push_str("} ");
            write_value(r.value, out);
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
    format_value(v, out);
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
        fn fast_path_equals_format_value_large(n in 0u64..u64::MAX) {
            let v = n as f64;
            proptest::prop_assert_eq!(w(v), value_to_string(v));
        }
    }
}
