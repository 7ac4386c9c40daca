//! Kubernetes `resource.Quantity` and Go `time.Duration` text forms, as metrics-server prints
//! them, so `kubectl top` and the HPA read our numbers exactly as they read metrics-server's.

/// CPU in nanocores as a canonical DecimalSI quantity: the largest SI suffix that keeps an
/// integer mantissa (`172668864n`, `250m`, `1`, `2k`).
pub fn format_nanocores(nanocores: u64) -> String {
    if nanocores == 0 {
        return "0".to_owned();
    }
    // Exponents of ten in steps of three, from nano upwards.
    const SUFFIXES: [&str; 10] = ["n", "u", "m", "", "k", "M", "G", "T", "P", "E"];
    let mut mantissa = nanocores;
    let mut step = 0;
    while mantissa.is_multiple_of(1000) && step + 1 < SUFFIXES.len() {
        mantissa /= 1000;
        step += 1;
    }
    format!("{mantissa}{}", SUFFIXES[step])
}

/// Bytes as a canonical BinarySI quantity: the largest power-of-1024 suffix that divides the
/// value exactly (`49664Ki`, `256Mi`); values that no suffix divides print as plain decimal.
pub fn format_bytes(bytes: u64) -> String {
    if bytes == 0 {
        return "0".to_owned();
    }
    const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let mut mantissa = bytes;
    let mut step = 0;
    while mantissa.is_multiple_of(1024) && step + 1 < SUFFIXES.len() {
        mantissa /= 1024;
        step += 1;
    }
    format!("{mantissa}{}", SUFFIXES[step])
}

/// Go's `time.Duration.String()` for a non-negative duration: `15.012s`, `1m0.5s`, `2h0m0s`,
/// `500ms`, `0s`.
pub fn format_go_duration(d: std::time::Duration) -> String {
    let total_ns = d.as_nanos();
    if total_ns == 0 {
        return "0s".to_owned();
    }
    if total_ns < 1_000_000_000 {
        // Sub-second: the largest unit that keeps the integer part non-zero.
        let (unit, div) = if total_ns < 1_000 {
            ("ns", 1u128)
        } else if total_ns < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", fraction(total_ns, div));
    }
    let secs_ns = total_ns % 60_000_000_000;
    let total_min = total_ns / 60_000_000_000;
    let (h, m) = (total_min / 60, total_min % 60);
    let s = fraction(secs_ns, 1_000_000_000);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// `value / div` with the fraction's trailing zeros removed (`15012000000 / 1e9` → `15.012`).
fn fraction(value: u128, div: u128) -> String {
    let int = value / div;
    let frac = value % div;
    if frac == 0 {
        return int.to_string();
    }
    let width = div.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn cpu_quantities() {
        assert_eq!(format_nanocores(172_668_864), "172668864n");
        assert_eq!(format_nanocores(389_295_577), "389295577n");
        assert_eq!(format_nanocores(250_000_000), "250m");
        assert_eq!(format_nanocores(1_000_000_000), "1");
        assert_eq!(format_nanocores(2_000_000_000_000), "2k");
        assert_eq!(format_nanocores(1_500_000), "1500u");
        assert_eq!(format_nanocores(0), "0");
    }

    #[test]
    fn memory_quantities() {
        assert_eq!(format_bytes(50_855_936), "49664Ki");
        assert_eq!(format_bytes(4_241_272_832), "4141868Ki");
        assert_eq!(format_bytes(37_224_448), "36352Ki");
        assert_eq!(format_bytes(268_435_456), "256Mi");
        assert_eq!(format_bytes(37_224_449), "37224449");
        assert_eq!(format_bytes(1000), "1000");
        assert_eq!(format_bytes(1024 * 1000), "1000Ki");
        assert_eq!(format_bytes(0), "0");
    }

    #[test]
    fn go_durations() {
        assert_eq!(format_go_duration(Duration::from_millis(15_012)), "15.012s");
        assert_eq!(format_go_duration(Duration::from_millis(60_500)), "1m0.5s");
        assert_eq!(format_go_duration(Duration::from_secs(7200)), "2h0m0s");
        assert_eq!(format_go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format_go_duration(Duration::from_nanos(1500)), "1.5µs");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
        assert_eq!(format_go_duration(Duration::from_secs(15)), "15s");
    }
}
