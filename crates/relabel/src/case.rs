//! Go's `strings.ToLower` / `strings.ToUpper`: one character at a time, simple mappings.
//!
//! Rust's `str::to_uppercase` uses full mappings (`ß` → `SS`) and context (final sigma); Go maps
//! each rune through `unicode.ToUpper`/`ToLower`, the one-to-one mappings of `UnicodeData.txt`.
//! Where Rust's per-character mapping yields one character it is that simple mapping; the few
//! characters whose full mapping is longer are mapped here by their simple mapping.

/// Appends Go's `strings.ToLower(s)` to `out`.
pub(crate) fn push_lower(out: &mut String, s: &str) {
    if s.is_ascii() {
        out.extend(s.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        return;
    }
    for c in s.chars() {
        out.push(lower(c));
    }
}

/// Appends Go's `strings.ToUpper(s)` to `out`.
pub(crate) fn push_upper(out: &mut String, s: &str) {
    if s.is_ascii() {
        out.extend(s.bytes().map(|b| char::from(b.to_ascii_uppercase())));
        return;
    }
    for c in s.chars() {
        out.push(upper(c));
    }
}

/// Go's `unicode.ToLower(c)`.
fn lower(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        // Only U+0130 (İ) lowercases to more than one character; its simple mapping is 'i'.
        _ if c == '\u{130}' => 'i',
        _ => c,
    }
}

/// Go's `unicode.ToUpper(c)`.
fn upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        // Multi-character full mappings: ß, ŉ, ǰ, ΐ, ΰ, և, ẖ…ẚ, ὐ…, ﬀ…ﬗ and the Greek letters
        // with ypogegrammeni. Only the last group has a simple mapping (to the titlecase form).
        _ => match c as u32 {
            0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => {
                char::from_u32(c as u32 + 8).unwrap_or(c)
            }
            0x1FB3 => '\u{1FBC}',
            0x1FC3 => '\u{1FCC}',
            0x1FF3 => '\u{1FFC}',
            _ => c,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_mappings() {
        let mut s = String::new();
        push_upper(&mut s, "straße ᾳ ﬀ ǆ");
        assert_eq!(s, "STRAßE ᾼ ﬀ Ǆ");
        s.clear();
        push_lower(&mut s, "İSTANBUL ΣΑΣ");
        assert_eq!(s, "istanbul σασ");
    }
}
