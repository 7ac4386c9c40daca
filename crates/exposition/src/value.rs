//! Writing sample values and escaped strings exactly as Prometheus' Go clients do.
//!
//! Output of the encoder and of the cgroup collector must be byte-identical to what
//! `client_golang` writes (dashboards, golden files and diff-based tests depend on it), so
//! values use Go's `strconv.FormatFloat(v, 'g', -1, 64)` layout: the shortest decimal that
//! reads back to the same `f64`, in exponent form when the decimal exponent is below -4 or at
//! least 6 (`1.048576e+06`), which is Go's rule for the shortest form.

use std::fmt::Write;

/// The staleness marker: the NaN bit pattern Prometheus writes when a series disappears.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is Prometheus' staleness marker (not just any NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// The staleness marker value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Appends `v` as `client_golang`'s `writeFloat` does: `NaN`, `+Inf`, `-Inf`, `0` for both
/// zeros, otherwise Go's `FormatFloat(v, 'g', -1, 64)`. The result always parses back to `v`
/// (NaN payloads aside).
pub fn format_value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == 0.0 {
        out.push('0');
    } else {
        format_go_g(v, out);
    }
}

/// The same as [`format_value`], returned as a new `String`.
pub fn value_to_string(v: f64) -> String {
    let mut s = String::new();
    format_value(v, &mut s);
    s
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)` for a finite, non-zero `v`.
fn format_go_g(v: f64, out: &mut String) {
    // Rust's `{:e}` prints the shortest round-trip digits: "-1.048576e6", "5e-7".
    let mut sci = String::with_capacity(32);
    let _ = write!(sci, "{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if neg {
        out.push('-');
    }
    // Go's 'g' with the shortest precision decides the layout with eprec = 6:
    // exponent form when the decimal exponent is below -4 or at least 6.
    let eprec = 6;
    if exp < -4 || exp >= eprec {
        let (first, rest) = digits.split_at(1);
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
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
}

/// Appends a label value escaped for the text format: `\` → `\\`, `"` → `\"`, newline → `\n`.
pub fn escape_label_value(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends HELP text escaped for the text format 0.0.4: `\` → `\\`, newline → `\n`
/// (double quotes stay as they are there; OpenMetrics also escapes them, see
/// [`escape_label_value`]).
pub fn escape_help(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> String {
        value_to_string(v)
    }

    #[test]
    fn go_g_layout() {
        // Expected strings from Go's strconv.FormatFloat(v, 'g', -1, 64).
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-1.0), "-1");
        assert_eq!(f(0.5), "0.5");
        assert_eq!(f(100000.0), "100000");
        assert_eq!(f(1048576.0), "1.048576e+06");
        assert_eq!(f(1e6), "1e+06");
        assert_eq!(f(123456.7), "123456.7");
        assert_eq!(f(1234567.8), "1.2345678e+06");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.00001), "1e-05");
        assert_eq!(f(1.5e-7), "1.5e-07");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(1.7672256001e9), "1.7672256001e+09");
        assert_eq!(f(-2.5e-300), "-2.5e-300");
        assert_eq!(f(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(f(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(f(5e-324), "5e-324");
        assert_eq!(f(-0.0), "0");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn round_trips() {
        for v in [1.0e-9, 3.25159, 2.5e15, 123.0, 9.999999e5, 0.000123] {
            assert_eq!(f(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn stale_marker() {
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
    }

    #[test]
    fn escapes() {
        let mut s = String::new();
        escape_label_value("a\\b\"c\nd", &mut s);
        assert_eq!(s, r#"a\\b\"c\nd"#);
        s.clear();
        escape_help("a\\b\"c\nd", &mut s);
        assert_eq!(s, r#"a\\b"c\nd"#);
    }
}
