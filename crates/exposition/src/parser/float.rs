//! Number parsing: sample values as Go's `strconv.ParseFloat` reads them (what Prometheus uses),
//! with a fast exact path for plain decimals, and timestamps of both formats.

/// Prometheus' `value.NormalNaN`: the NaN every parsed `NaN` becomes.
pub(crate) const NORMAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// Exact powers of ten representable in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A sample value as Prometheus' `parseFloat` accepts it: Go's `strconv.ParseFloat` syntax
/// (decimal with optional fraction and exponent, `Inf`/`Infinity` with optional sign, `NaN`
/// without sign, all case-insensitive), no hex, no underscores, and an error (not `±Inf`) when
/// a decimal is out of range. `NaN` becomes Prometheus' normal NaN.
#[inline]
pub(crate) fn parse_value(s: &[u8]) -> Option<f64> {
    if let Some(v) = fast_decimal(s) {
        return Some(v);
    }
    slow_value(s)
}

/// Clinger's fast path: at most 19 significant digits, mantissa ≤ 2^53 and a power of ten
/// that is exact in `f64`, so one multiplication or division gives the correctly rounded
/// result. `None` means "use the general parser", never "invalid".
#[inline]
fn fast_decimal(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let neg = match s.first()? {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let mut mant: u64 = 0;
    let mut digits = 0u32;
    let int_start = i;
    while let Some(&c) = s.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if digits >= 19 {
            return None;
        }
        mant = mant * 10 + u64::from(d);
        digits += 1;
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac = 0i32;
    if s.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&c) = s.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if digits >= 19 {
                return None;
            }
            mant = mant * 10 + u64::from(d);
            digits += 1;
            frac += 1;
            i += 1;
        }
    }
    if int_digits == 0 && frac == 0 {
        return None;
    }
    let mut exp = 0i32;
    if let Some(&c) = s.get(i)
        && (c | 0x20) == b'e'
    {
        i += 1;
        let eneg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while let Some(&c) = s.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if exp > 1000 {
                return None;
            }
            exp = exp * 10 + i32::from(d);
            i += 1;
        }
        if i == start {
            return None;
        }
        if eneg {
            exp = -exp;
        }
    }
    if i != s.len() || mant > (1u64 << 53) {
        return None;
    }
    let e10 = exp - frac;
    let v = mant as f64;
    let v = if e10 >= 0 {
        v * *POW10.get(e10 as usize)?
    } else {
        v / *POW10.get(e10.unsigned_abs() as usize)?
    };
    Some(if neg { -v } else { v })
}

#[cold]
fn slow_value(s: &[u8]) -> Option<f64> {
    let st = std::str::from_utf8(s).ok()?;
    // Rust's grammar is Go's minus hex and underscores (which Prometheus rejects anyway), plus a
    // sign before NaN (which Go rejects), and it saturates to ±Inf where Go reports a range error.
    let v: f64 = st.parse().ok()?;
    if v.is_nan() {
        return st
            .eq_ignore_ascii_case("nan")
            .then(|| f64::from_bits(NORMAL_NAN_BITS));
    }
    if v.is_infinite() {
        let t = st.strip_prefix(['+', '-']).unwrap_or(st);
        if !(t.eq_ignore_ascii_case("inf") || t.eq_ignore_ascii_case("infinity")) {
            return None;
        }
    }
    Some(v)
}

/// A text-format timestamp: decimal digits only (the lexer's `{D}+`), as an `i64`.
#[inline]
pub(crate) fn parse_text_timestamp(s: &[u8]) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    if s.len() <= 18 {
        // Cannot overflow: at most 10^18 - 1.
        let mut v: i64 = 0;
        for &c in s {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + i64::from(d);
        }
        return Some(v);
    }
    let t = s
        .iter()
        .position(|&c| c != b'0')
        .map_or(&s[s.len()..], |p| &s[p..]);
    if t.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in t {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i64::from(d))?;
    }
    Some(v)
}

/// An OpenMetrics timestamp (seconds, a real number: optional sign, digits, optional fraction
/// and exponent; no `NaN`, `Inf`, hex or underscores). Returns milliseconds (truncated toward
/// zero as Prometheus' `int64(ts*1000)`, computed exactly for plain decimals, saturating) and
/// the value in seconds (for ordering checks).
pub(crate) fn parse_om_timestamp(s: &[u8]) -> Option<(i64, f64)> {
    let mut i = 0;
    let neg = match s.first()? {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let int_start = i;
    while s.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_end = i;
    let mut frac_start = i;
    let mut frac_end = i;
    if s.get(i) == Some(&b'.') {
        i += 1;
        frac_start = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        frac_end = i;
    }
    if int_end == int_start && frac_end == frac_start {
        return None;
    }
    let plain = i == s.len();
    if !plain {
        if !matches!(s.get(i), Some(b'e' | b'E')) {
            return None;
        }
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start || i != s.len() {
            return None;
        }
    }
    let secs = parse_value(s)?;
    if !secs.is_finite() {
        return None;
    }
    if plain {
        let mut ms: i64 = 0;
        for &c in &s[int_start..int_end] {
            ms = ms.saturating_mul(10).saturating_add(i64::from(c - b'0'));
        }
        ms = ms.saturating_mul(1000);
        let frac = &s[frac_start..frac_end];
        let mut scale = 100;
        for &c in frac.iter().take(3) {
            ms = ms.saturating_add(i64::from(c - b'0') * scale);
            scale /= 10;
        }
        return Some((if neg { ms.saturating_neg() } else { ms }, secs));
    }
    Some(((secs * 1000.0) as i64, secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Option<f64> {
        parse_value(s.as_bytes())
    }

    #[test]
    fn values_like_go() {
        assert_eq!(v("1"), Some(1.0));
        assert_eq!(v("-1.5"), Some(-1.5));
        assert_eq!(v("+.5"), Some(0.5));
        assert_eq!(v("5."), Some(5.0));
        assert_eq!(v("1.048576e+06"), Some(1048576.0));
        assert_eq!(v("2.500E+11"), Some(2.5e11));
        assert_eq!(v("1e-3"), Some(0.001));
        assert_eq!(v("0.1"), Some(0.1));
        assert_eq!(v("123456789012345678901234"), Some(1.2345678901234568e23));
        assert_eq!(v("9223372036854775808"), Some(9.223372036854776e18));
        assert_eq!(v("1.7976931348623157e308"), Some(f64::MAX));
        assert_eq!(v("+Inf"), Some(f64::INFINITY));
        assert_eq!(v("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(v("Infinity"), Some(f64::INFINITY));
        assert_eq!(v("NaN").map(f64::to_bits), Some(NORMAL_NAN_BITS));
        assert_eq!(v("nan").map(f64::to_bits), Some(NORMAL_NAN_BITS));
        for bad in [
            "", "-", ".", "e5", "1e", "1e+", "+nan", "-NaN", "1_2", "0x1p-3", "0x1", "1e400",
            "-1e400", "true", "1 ", " 1", "1.2.3", "infx", "++1",
        ] {
            assert_eq!(v(bad), None, "{bad:?}");
        }
        assert_eq!(v("1e-400"), Some(0.0));
    }

    proptest::proptest! {
        /// Plain decimals (fast path or not) parse exactly as Rust's correctly rounded parser.
        #[test]
        fn decimals_match_std(
            int in "[0-9]{0,21}",
            frac in proptest::option::of("[0-9]{0,21}"),
            exp in proptest::option::of(-30i32..30),
            neg in proptest::bool::ANY,
        ) {
            let mut t = String::new();
            if neg {
                t.push('-');
            }
            t.push_str(&int);
            if let Some(f) = &frac {
                t.push('.');
                t.push_str(f);
            }
            if let Some(e) = exp {
                t.push_str(&format!("e{e}"));
            }
            // Go's syntax needs a digit somewhere.
            let has_digit = !int.is_empty() || frac.as_deref().is_some_and(|f| !f.is_empty());
            let want = t.parse::<f64>().ok().filter(|_| has_digit);
            proptest::prop_assert_eq!(v(&t).map(f64::to_bits), want.map(f64::to_bits), "{}", t);
        }
    }

    #[test]
    fn fast_path_is_exact() {
        for s in [
            "0.3",
            "123.456",
            "1e22",
            "9007199254740993",
            "4.35",
            "0.000001",
        ] {
            assert_eq!(v(s), Some(s.parse::<f64>().unwrap()), "{s}");
        }
    }

    #[test]
    fn text_timestamps() {
        assert_eq!(parse_text_timestamp(b"1767225600000"), Some(1767225600000));
        assert_eq!(parse_text_timestamp(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_text_timestamp(b"9223372036854775808"), None);
        assert_eq!(parse_text_timestamp(b"000000000000000000001"), Some(1));
        assert_eq!(parse_text_timestamp(b""), None);
    }

    #[test]
    fn om_timestamps() {
        assert_eq!(
            parse_om_timestamp(b"1767893113.172").map(|t| t.0),
            Some(1767893113172)
        );
        assert_eq!(parse_om_timestamp(b"-1.1").map(|t| t.0), Some(-1100));
        assert_eq!(parse_om_timestamp(b"1.5e3").map(|t| t.0), Some(1_500_000));
        assert_eq!(parse_om_timestamp(b"000").map(|t| t.0), Some(0));
        assert_eq!(
            parse_om_timestamp(b"12345678901234567890.1234567890").map(|t| t.0),
            Some(i64::MAX)
        );
        for bad in [
            "NaN", "Inf", "-Inf", "1_2", "1z", "0x1p-3", "1.1.1", "", ".",
        ] {
            assert_eq!(parse_om_timestamp(bad.as_bytes()), None, "{bad:?}");
        }
    }
}
