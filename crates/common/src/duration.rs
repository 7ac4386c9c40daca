//! Prometheus' duration and byte-size syntax (`1m30s`, `10MB`), parsed and printed exactly as
//! `prometheus/common`'s `model.Duration` and `alecthomas/units`' `Base2Bytes` do.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written in Prometheus' syntax: units `y w d h m s ms`, each at most once, in
/// decreasing order (`1h30m`, `90s`, `0`). Displays as Prometheus prints it (`1m30s`, `1w`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PromDuration(pub Duration);

/// Why a duration or size string was rejected; the message matches Prometheus'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseDurationError(pub String);

const UNITS: [(&str, u64); 7] = [
    ("y", 1000 * 60 * 60 * 24 * 365),
    ("w", 1000 * 60 * 60 * 24 * 7),
    ("d", 1000 * 60 * 60 * 24),
    ("h", 1000 * 60 * 60),
    ("m", 1000 * 60),
    ("s", 1000),
    ("ms", 1),
];

/// Parses `s` as `model.ParseDuration` does.
pub fn parse_duration(s: &str) -> Result<Duration, ParseDurationError> {
    match s {
        "0" => return Ok(Duration::ZERO),
        "" => return Err(ParseDurationError("empty duration string".into())),
        _ => {}
    }
    let invalid = || ParseDurationError(format!("not a valid duration string: {}", go_quote(s)));
    let bytes = s.as_bytes();
    let mut i = 0usize;
    let mut last_pos = 0usize;
    let mut total_ms: u128 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(invalid());
        }
        let v: u64 = s[start..i].parse().map_err(|_| invalid())?;
        let ustart = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == ustart {
            return Err(invalid());
        }
        let unit = &s[ustart..i];
        let Some(pos) = UNITS.iter().position(|(n, _)| *n == unit) else {
            return Err(ParseDurationError(format!(
                "unknown unit {} in duration {}",
                go_quote(unit),
                go_quote(s)
            )));
        };
        if pos < last_pos {
            return Err(invalid());
        }
        last_pos = pos + 1;
        total_ms += u128::from(v) * u128::from(UNITS[pos].1);
        if total_ms > (i64::MAX as u128) / 1_000_000 {
            return Err(ParseDurationError("duration out of range".into()));
        }
    }
    let ms =
        u64::try_from(total_ms).map_err(|_| ParseDurationError("duration out of range".into()))?;
    Ok(Duration::from_millis(ms))
}

/// Formats `d` as `model.Duration.String()`: `y` and `w` only when exact, then `d h m s ms`;
/// `0s` for zero; sub-millisecond parts are dropped.
pub fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (i, (unit, mult)) in UNITS.iter().enumerate() {
        let exact = i < 2;
        if exact && !ms.is_multiple_of(*mult) {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            out.push_str(&v.to_string());
            out.push_str(unit);
            ms -= v * mult;
        }
    }
    out
}

impl PromDuration {
    /// Builds from whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        PromDuration(Duration::from_secs(s))
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl std::str::FromStr for PromDuration {
    type Err = ParseDurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(PromDuration)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A byte size in `alecthomas/units` Base2 syntax as Prometheus' `body_size_limit` takes it:
/// `B`, `KB`/`KiB`, `MB`/`MiB`, … all powers of 1024; fractions and several parts allowed
/// (`1.5MB`, `1GB512MB`); a bare number other than `0` is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

/// Parses a Base2 byte size (see [`ByteSize`]).
pub fn parse_byte_size(s: &str) -> Result<u64, ParseDurationError> {
    if s == "0" {
        return Ok(0);
    }
    let err = |m: &str| ParseDurationError(format!("units: {m} in {}", go_quote(s)));
    if s.is_empty() {
        return Err(err("invalid size"));
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: f64 = 0.0;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        if i == start {
            return Err(err("invalid size"));
        }
        let n: f64 = s[start..i].parse().map_err(|_| err("invalid size"))?;
        let ustart = i;
        while i < b.len() && !(b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        if i == ustart {
            return Err(err("missing unit"));
        }
        let mult: f64 = match &s[ustart..i] {
            "B" => 1.0,
            "KB" | "KiB" => 1024.0,
            "MB" | "MiB" => 1024.0 * 1024.0,
            "GB" | "GiB" => 1024.0 * 1024.0 * 1024.0,
            "TB" | "TiB" => 1024f64.powi(4),
            "PB" | "PiB" => 1024f64.powi(5),
            "EB" | "EiB" => 1024f64.powi(6),
            u => {
                return Err(ParseDurationError(format!(
                    "units: unknown unit {} in {}",
                    go_quote(u),
                    go_quote(s)
                )));
            }
        };
        total += n * mult;
    }
    if !total.is_finite() || total >= 2f64.powi(63) {
        return Err(err("size out of range"));
    }
    Ok(total as u64)
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const U: [(&str, u64); 6] = [
            ("EiB", 1 << 60),
            ("PiB", 1 << 50),
            ("TiB", 1 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ];
        if self.0 == 0 {
            return f.write_str("0B");
        }
        for (n, m) in U {
            if self.0.is_multiple_of(m) {
                return write!(f, "{}{}", self.0 / m, n);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_byte_size(&s)
            .map(ByteSize)
            .map_err(serde::de::Error::custom)
    }
}

/// Quotes `s` like Go's `%q` for printable text: double quotes, `\"` and `\\` escaped,
/// control characters as `\n`, `\t`, `\xNN` or `\uNNNN`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1w2d"), Ok(Duration::from_secs(9 * 86400)));
        assert_eq!(parse_duration("1s500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(
            parse_duration("2notseconds").unwrap_err().0,
            r#"unknown unit "notseconds" in duration "2notseconds""#
        );
        assert_eq!(
            parse_duration("30s1m").unwrap_err().0,
            r#"not a valid duration string: "30s1m""#
        );
        assert_eq!(
            parse_duration("10").unwrap_err().0,
            r#"not a valid duration string: "10""#
        );
        assert_eq!(parse_duration("").unwrap_err().0, "empty duration string");
        assert_eq!(
            parse_duration("1.5s").unwrap_err().0,
            r#"unknown unit "." in duration "1.5s""#
        );
    }

    #[test]
    fn formats_like_model_duration() {
        let f = |ms| format_duration(Duration::from_millis(ms));
        assert_eq!(f(0), "0s");
        assert_eq!(f(90_000), "1m30s");
        assert_eq!(f(3_600_000), "1h");
        assert_eq!(f(7 * 86_400_000), "1w");
        assert_eq!(f(8 * 86_400_000), "8d");
        assert_eq!(f(365 * 86_400_000), "1y");
        assert_eq!(f(1_500), "1s500ms");
        assert_eq!(f(15_000), "15s");
    }

    #[test]
    fn parses_base2_sizes() {
        assert_eq!(parse_byte_size("10MB"), Ok(10 << 20));
        assert_eq!(parse_byte_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_byte_size("1KB"), Ok(1024));
        assert_eq!(parse_byte_size("1.5KB"), Ok(1536));
        assert_eq!(parse_byte_size("1GB512MB"), Ok((1 << 30) + (512 << 20)));
        assert_eq!(parse_byte_size("0"), Ok(0));
        assert_eq!(parse_byte_size("100B"), Ok(100));
        assert_eq!(
            parse_byte_size("10").unwrap_err().0,
            r#"units: missing unit in "10""#
        );
        assert!(parse_byte_size("10XB").is_err());
        assert_eq!(ByteSize(10 << 20).to_string(), "10MiB");
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
    }
}
