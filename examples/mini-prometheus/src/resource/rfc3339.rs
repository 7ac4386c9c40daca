//! RFC 3339 timestamps as Kubernetes' `metav1.Time` marshals them: UTC, whole seconds
//! (`2026-01-01T00:00:00Z`), without pulling a date library into the resource pipeline.

/// Formats Unix seconds as `metav1.Time` JSON text (`time.RFC3339` in UTC: fractions are
/// truncated, not rounded).
pub fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Formats milliseconds since the Unix epoch, truncated to the second.
pub fn format_unix_ms(ms: i64) -> String {
    format_unix(ms.div_euclid(1000))
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(format_unix(1_765_990_980), "2025-12-17T17:03:00Z");
        assert_eq!(format_unix(1_767_209_999), "2025-12-31T19:39:59Z");
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_unix_ms(1_767_225_603_999), "2026-01-01T00:00:03Z");
    }
}
