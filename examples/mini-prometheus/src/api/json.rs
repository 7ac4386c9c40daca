//! JSON output byte-compatible with Prometheus' API (Go's `encoding/json` / jsoniter rules).
//!
//! Written by hand rather than through serde so that the few places where Prometheus differs
//! from plain JSON are exact: sample timestamps as `seconds.millis` without float rounding,
//! sample values as strings in Go's `'f'`/`'e'` layout (`"NaN"`, `"+Inf"`), HTML-safe string
//! escaping (`<` → `\u003c`), and RFC 3339 times with trimmed nanoseconds.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scrapeline_exposition::Labels;

/// Appends `s` as a JSON string, escaped as Go's `encoding/json` does (HTML-safe).
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a label set as a JSON object in name order: `{"job":"x","le":"1"}`.
pub fn labels(out: &mut String, ls: &Labels) {
    out.push('{');
    for (i, l) in ls.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, l.name);
        out.push(':');
        string(out, l.value);
    }
    out.push('}');
}

/// Appends a millisecond timestamp as Prometheus' `MarshalTimestamp` does: seconds, then a
/// three-digit fraction when there is one (`1435781451.781`, `1.050`, `1435781451`).
pub fn timestamp(out: &mut String, t: i64) {
    let mut t = i128::from(t);
    if t < 0 {
        out.push('-');
        t = -t;
    }
    let _ = write!(out, "{}", t / 1000);
    let frac = t % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// Appends a sample value as Prometheus' `MarshalFloat` does: a quoted string in Go's
/// `strconv.FormatFloat(v, 'f', -1, 64)` layout, `'e'` layout below 1e-6 or from 1e21,
/// `"NaN"`, `"+Inf"`, `"-Inf"`.
pub fn value(out: &mut String, v: f64) {
    out.push('"');
    go_float(out, v, false);
    out.push('"');
}

/// Appends `v` as a JSON number the way Go's `encoding/json` writes a `float64`.
pub fn number(out: &mut String, v: f64) {
    if !v.is_finite() {
        // Go refuses to encode these; Prometheus never produces them where numbers go.
        out.push('0');
        return;
    }
    go_float(out, v, true);
}

/// Go's float layouts: `'f'` with the shortest digits, or `'e'` for tiny/huge magnitudes with
/// a two-digit exponent (`1e-07`), which `encoding/json` shortens to `1e-7` (`json_cleanup`).
fn go_float(out: &mut String, v: f64, json_cleanup: bool) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{v:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        out.push_str(mant);
        out.push('e');
        out.push(sign);
        if digits.len() < 2 && !(json_cleanup && sign == '-') {
            out.push('0');
        }
        out.push_str(digits);
    } else if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Appends `t` as a JSON string in Go's `time.RFC3339Nano` layout, in UTC:
/// `2017-01-17T15:07:44.723715405Z` (trailing zeros of the fraction dropped), and Go's zero
/// time `0001-01-01T00:00:00Z` for `None`.
pub fn time(out: &mut String, t: Option<SystemTime>) {
    out.push('"');
    out.push_str(&rfc3339_nano(t));
    out.push('"');
}

/// The RFC 3339 text of [`time`], without quotes.
pub fn rfc3339_nano(t: Option<SystemTime>) -> String {
    let Some(t) = t else {
        return "0001-01-01T00:00:00Z".to_owned();
    };
    let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - n)
            }
        }
    };
    let Some(dt) = chrono::DateTime::from_timestamp(secs, nanos) else {
        return "0001-01-01T00:00:00Z".to_owned();
    };
    let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Formats a duration as Prometheus' `model.Duration` does: `15s`, `1m30s`, `1h`, `1d`, `2w`,
/// `500ms`, `0s`.
pub fn prom_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut s = String::new();
    for (unit, size) in [
        ("y", 365 * 24 * 3600 * 1000u128),
        ("w", 7 * 24 * 3600 * 1000),
        ("d", 24 * 3600 * 1000),
        ("h", 3600 * 1000),
        ("m", 60 * 1000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            let _ = write!(s, "{}{unit}", ms / size);
            ms %= size;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: f64) -> String {
        let mut s = String::new();
        value(&mut s, x);
        s
    }

    fn n(x: f64) -> String {
        let mut s = String::new();
        number(&mut s, x);
        s
    }

    fn ts(t: i64) -> String {
        let mut s = String::new();
        timestamp(&mut s, t);
        s
    }

    #[test]
    fn values_as_prometheus_writes_them() {
        assert_eq!(v(1.0), r#""1""#);
        assert_eq!(v(0.5), r#""0.5""#);
        assert_eq!(v(1e6), r#""1000000""#);
        assert_eq!(v(123456789.125), r#""123456789.125""#);
        assert_eq!(v(1e21), r#""1e+21""#);
        assert_eq!(v(1.5e-7), r#""1.5e-07""#);
        assert_eq!(v(0.000001), r#""0.000001""#);
        assert_eq!(v(f64::NAN), r#""NaN""#);
        assert_eq!(v(f64::INFINITY), r#""+Inf""#);
        assert_eq!(v(f64::NEG_INFINITY), r#""-Inf""#);
        assert_eq!(v(0.0), r#""0""#);
        assert_eq!(v(-2.25), r#""-2.25""#);
    }

    #[test]
    fn numbers_as_encoding_json_writes_them() {
        assert_eq!(n(0.050688943), "0.050688943");
        assert_eq!(n(1.5e-7), "1.5e-7");
        assert_eq!(n(3.0), "3");
        assert_eq!(n(1e21), "1e+21");
    }

    #[test]
    fn timestamps_keep_millisecond_precision() {
        assert_eq!(ts(1435781451781), "1435781451.781");
        assert_eq!(ts(1435781451000), "1435781451");
        assert_eq!(ts(1050), "1.050");
        assert_eq!(ts(5), "0.005");
        assert_eq!(ts(-1500), "-1.500");
    }

    #[test]
    fn strings_are_html_safe() {
        let mut s = String::new();
        string(&mut s, "a\"b\\c\n<x>&\u{1}");
        assert_eq!(s, r#""a\"b\\c\n\u003cx\u003e\u0026\u0001""#);
    }

    #[test]
    fn times_and_durations() {
        let t = UNIX_EPOCH + Duration::new(1_484_665_664, 723_715_400);
        assert_eq!(rfc3339_nano(Some(t)), "2017-01-17T15:07:44.7237154Z");
        assert_eq!(
            rfc3339_nano(Some(UNIX_EPOCH + Duration::from_secs(60))),
            "1970-01-01T00:01:00Z"
        );
        assert_eq!(rfc3339_nano(None), "0001-01-01T00:00:00Z");
        assert_eq!(prom_duration(Duration::from_secs(15)), "15s");
        assert_eq!(prom_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(prom_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(prom_duration(Duration::from_secs(86400 * 8)), "1w1d");
        assert_eq!(prom_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(prom_duration(Duration::ZERO), "0s");
    }
}
