//! Byte-level scanning shared by both formats: character classes, quoted strings, unescaping.

use std::borrow::Cow;

/// `[a-zA-Z_:]`: may start a legacy metric name.
const M_START: u8 = 1;
/// `[a-zA-Z0-9_:]`: may continue a legacy metric name.
const M_CONT: u8 = 2;
/// `[a-zA-Z_]`: may start a legacy label name.
const L_START: u8 = 4;
/// `[a-zA-Z0-9_]`: may continue a legacy label name.
const L_CONT: u8 = 8;
/// Ends a text-format value token: NUL, tab, newline, space, `{`.
const VALUE_END: u8 = 16;

const fn build_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        let digit = b.is_ascii_digit();
        let mut v = 0;
        if alpha || b == b':' {
            v |= M_START | M_CONT;
        }
        if digit {
            v |= M_CONT | L_CONT;
        }
        if alpha {
            v |= L_START | L_CONT;
        }
        if b == 0 || b == b'\t' || b == b'\n' || b == b' ' || b == b'{' {
            v |= VALUE_END;
        }
        t[c] = v;
        c += 1;
    }
    t
}

static CLASSES: [u8; 256] = build_classes();

#[inline]
pub(crate) fn is_metric_start(b: u8) -> bool {
    CLASSES[b as usize] & M_START != 0
}

#[inline]
pub(crate) fn is_label_start(b: u8) -> bool {
    CLASSES[b as usize] & L_START != 0
}

/// End of the legacy metric name that starts at `p` (`p` itself is assumed a valid start).
#[inline]
pub(crate) fn metric_name_end(b: &[u8], p: usize) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        match metric_name_end_sse2(b, p) {
            Ok(end) => end,
            Err(p) => metric_name_end_table(b, p),
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        metric_name_end_table(b, p)
    }
}

/// End of the legacy label name that starts at `p`.
#[inline]
pub(crate) fn label_name_end(b: &[u8], p: usize) -> usize {
    label_name_end_table(b, p)
}

/// Skips metric-name bytes (`[a-zA-Z0-9_:]`) 16 at a time from `p` while 16 bytes remain:
/// `Ok` with the first other byte, or `Err` with where fewer than 16 bytes remain (the table
/// scanner finishes from there). Metric names are long enough for this to pay; label names are mostly
/// shorter than 16 bytes, and the table scanner is faster for them (measured on cadvisor).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn metric_name_end_sse2(b: &[u8], mut p: usize) -> Result<usize, usize> {
    use safe_arch::{
        bitand_m128i, bitor_m128i, cmp_eq_mask_i8_m128i, cmp_gt_mask_i8_m128i,
        load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    // Signed compares: bytes >= 0x80 are negative and fall outside every range below.
    let case = set_splat_i8_m128i(0x20);
    let before_a = set_splat_i8_m128i(b'a' as i8 - 1);
    let after_z = set_splat_i8_m128i(b'z' as i8 + 1);
    let before_0 = set_splat_i8_m128i(b'0' as i8 - 1);
    // `0`..=`9` and `:` are adjacent.
    let after_digits = set_splat_i8_m128i(b':' as i8 + 1);
    let underscore = set_splat_i8_m128i(b'_' as i8);
    while let Some(Ok(chunk)) = b.get(p..p + 16).map(<&[u8; 16]>::try_from) {
        let v = load_unaligned_m128i(chunk);
        let lower = bitor_m128i(v, case);
        let alpha = bitand_m128i(
            cmp_gt_mask_i8_m128i(lower, before_a),
            cmp_gt_mask_i8_m128i(after_z, lower),
        );
        let digit = bitand_m128i(
            cmp_gt_mask_i8_m128i(v, before_0),
            cmp_gt_mask_i8_m128i(after_digits, v),
        );
        let ok = bitor_m128i(
            bitor_m128i(alpha, digit),
            cmp_eq_mask_i8_m128i(v, underscore),
        );
        let stop = !move_mask_i8_m128i(ok) & 0xFFFF;
        if stop != 0 {
            return Ok(p + stop.trailing_zeros() as usize);
        }
        p += 16;
    }
    Err(p)
}

/// [`metric_name_end`] through the byte-class table, four bytes per step.
#[inline]
fn metric_name_end_table(b: &[u8], mut p: usize) -> usize {
    // Four bytes per step while all four are name bytes, then byte by byte.
    while let Some(&[c0, c1, c2, c3]) = b.get(p..p + 4) {
        let all = CLASSES[c0 as usize]
            & CLASSES[c1 as usize]
            & CLASSES[c2 as usize]
            & CLASSES[c3 as usize];
        if all & M_CONT == 0 {
            break;
        }
        p += 4;
    }
    while let Some(&c) = b.get(p) {
        if CLASSES[c as usize] & M_CONT == 0 {
            break;
        }
        p += 1;
    }
    p
}

/// [`label_name_end`] through the byte-class table, four bytes per step.
#[inline]
fn label_name_end_table(b: &[u8], mut p: usize) -> usize {
    // Four bytes per step while all four are name bytes, then byte by byte.
    while let Some(&[c0, c1, c2, c3]) = b.get(p..p + 4) {
        let all = CLASSES[c0 as usize]
            & CLASSES[c1 as usize]
            & CLASSES[c2 as usize]
            & CLASSES[c3 as usize];
        if all & L_CONT == 0 {
            break;
        }
        p += 4;
    }
    while let Some(&c) = b.get(p) {
        if CLASSES[c as usize] & L_CONT == 0 {
            break;
        }
        p += 1;
    }
    p
}

/// End of a text-format value token starting at `p`.
#[inline]
pub(crate) fn value_end(b: &[u8], mut p: usize) -> usize {
    while let Some(&c) = b.get(p) {
        if CLASSES[c as usize] & VALUE_END != 0 {
            break;
        }
        p += 1;
    }
    p
}

/// Skips spaces and tabs.
#[inline]
pub(crate) fn skip_blanks(b: &[u8], mut p: usize) -> usize {
    while let Some(&c) = b.get(p) {
        if c != b' ' && c != b'\t' {
            break;
        }
        p += 1;
    }
    p
}

/// A quoted string that was scanned: where it ends and whether it holds a backslash.
pub(crate) struct Quoted {
    /// Index just past the closing quote.
    pub end: usize,
    /// Whether a backslash occurs inside (unescaping needed).
    pub escaped: bool,
    /// Whether every byte inside is ASCII (then it is valid UTF-8 with no further check).
    pub ascii: bool,
}

/// Bytes of `w` that are zero have their high bit set in the result (the lowest such bit is
/// exact, which is all [`find_quote_or_backslash`] uses).
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(0x0101_0101_0101_0101) & !w & 0x8080_8080_8080_8080
}

/// Index of the first `"` or `\` in `b` at or after `i`, and whether every byte before it
/// (from `i`) is ASCII.
#[inline(always)]
fn find_quote_or_backslash(b: &[u8], i: usize) -> Option<(usize, bool)> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        find_quote_or_backslash_sse2(b, i)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        find_quote_or_backslash_swar(b, i)
    }
}

/// [`find_quote_or_backslash`] with SSE2 (see [`find_any_sse2`]).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn find_quote_or_backslash_sse2(b: &[u8], i: usize) -> Option<(usize, bool)> {
    find_any_sse2::<b'"', b'\\', 0, false>(b, i)
}

/// Index of the first `X` or `Y` (or `Z`, when `THREE`) in `b` at or after `i`, and whether
/// every byte before it (from `i`) is ASCII: 16 bytes per step (a compare per byte value, two
/// masks), the last bytes of `b` (fewer than 16) one by one.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn find_any_sse2<const X: u8, const Y: u8, const Z: u8, const THREE: bool>(
    b: &[u8],
    mut i: usize,
) -> Option<(usize, bool)> {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i,
    };
    let x = set_splat_i8_m128i(X as i8);
    let y = set_splat_i8_m128i(Y as i8);
    let z = set_splat_i8_m128i(Z as i8);
    let mut high = 0i32;
    while let Some(Ok(chunk)) = b.get(i..i + 16).map(<&[u8; 16]>::try_from) {
        let v = load_unaligned_m128i(chunk);
        let mut hits = bitor_m128i(cmp_eq_mask_i8_m128i(v, x), cmp_eq_mask_i8_m128i(v, y));
        if THREE {
            hits = bitor_m128i(hits, cmp_eq_mask_i8_m128i(v, z));
        }
        let m = move_mask_i8_m128i(hits);
        let h = move_mask_i8_m128i(v);
        if m != 0 {
            // Only the bytes before the match count.
            let below = (m & m.wrapping_neg()) - 1;
            return Some((i + m.trailing_zeros() as usize, (high | (h & below)) == 0));
        }
        high |= h;
        i += 16;
    }
    let rest = b.get(i..)?;
    let off = rest
        .iter()
        .position(|&c| c == X || c == Y || (THREE && c == Z))?;
    Some((i + off, high == 0 && rest[..off].is_ascii()))
}

/// Index of the first newline or backslash in `b` at or after `i` (a comment line's end, noting
/// whether its text needs unescaping).
#[inline]
pub(crate) fn find_newline_or_backslash(b: &[u8], i: usize) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        find_any_sse2::<b'\n', b'\\', 0, false>(b, i).map(|(at, _)| at)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        memchr::memchr2(b'\n', b'\\', b.get(i..)?).map(|off| i + off)
    }
}

/// [`find_quote_or_backslash`] without SIMD: words of 8 bytes are tested at once for the first
/// 64 bytes (most label values are shorter); longer strings go to `memchr2`.
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2"),
    allow(
        dead_code,
        reason = "the portable fallback; tests compare it with the SSE2 scanner"
    )
)]
#[inline(always)]
fn find_quote_or_backslash_swar(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    const QUOTES: u64 = 0x2222_2222_2222_2222;
    const BACKSLASHES: u64 = 0x5c5c_5c5c_5c5c_5c5c;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let stop = b.len().min(i + 64);
    let mut high = 0u64;
    while i + 8 <= stop {
        let Some(Ok(chunk)) = b.get(i..i + 8).map(<[u8; 8]>::try_from) else {
            break;
        };
        let w = u64::from_le_bytes(chunk);
        let m = zero_bytes(w ^ QUOTES) | zero_bytes(w ^ BACKSLASHES);
        if m != 0 {
            // Only the bytes before the match count (the lowest set bit is exact).
            let below = (m & m.wrapping_neg()) - 1;
            high |= w & HIGH & below;
            return Some((i + (m.trailing_zeros() / 8) as usize, high == 0));
        }
        high |= w & HIGH;
        i += 8;
    }
    let rest = b.get(i..)?;
    let off = memchr::memchr2(b'"', b'\\', rest)?;
    Some((i + off, high == 0 && rest[..off].is_ascii()))
}

/// Scans the quoted string whose opening `"` is at `p`. Any byte may occur inside except an
/// unescaped `"`; a backslash escapes the next byte, which must not be a newline.
/// `Err(pos)` points at where the string broke off (end of input or a backslash-newline).
#[inline(always)]
pub(crate) fn scan_quoted(b: &[u8], p: usize) -> Result<Quoted, usize> {
    scan_quoted_impl::<false>(b, p)
}

/// [`scan_quoted`] for a string that must end on its line (OpenMetrics): a newline inside
/// breaks it off like the end of input (`Err` at the newline).
#[inline(always)]
pub(crate) fn scan_quoted_in_line(b: &[u8], p: usize) -> Result<Quoted, usize> {
    scan_quoted_impl::<true>(b, p)
}

#[inline(always)]
fn scan_quoted_impl<const IN_LINE: bool>(b: &[u8], p: usize) -> Result<Quoted, usize> {
    let mut i = p + 1;
    let mut escaped = false;
    let mut ascii = true;
    loop {
        let found = if IN_LINE {
            find_quote_backslash_or_newline(b, i)
        } else {
            find_quote_or_backslash(b, i)
        };
        let Some((at, seg_ascii)) = found else {
            return Err(b.len());
        };
        ascii &= seg_ascii;
        match b.get(at) {
            Some(b'"') => {
                return Ok(Quoted {
                    end: at + 1,
                    escaped,
                    ascii,
                });
            }
            Some(b'\n') if IN_LINE => return Err(at),
            _ => {}
        }
        escaped = true;
        match b.get(at + 1) {
            None | Some(b'\n') => return Err(at),
            Some(&c) => {
                ascii &= c.is_ascii();
                i = at + 2;
            }
        }
    }
}

/// Index of the first `"`, `\` or newline in `b` at or after `i`, and whether every byte before
/// it (from `i`) is ASCII.
#[inline(always)]
fn find_quote_backslash_or_newline(b: &[u8], i: usize) -> Option<(usize, bool)> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        find_any_sse2::<b'"', b'\\', b'\n', true>(b, i)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        find_quote_backslash_or_newline_portable(b, i)
    }
}

/// [`find_quote_backslash_or_newline`] without SIMD: the line end by `memchr`, then the SWAR
/// scanner inside the line.
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2"),
    allow(
        dead_code,
        reason = "the portable fallback; tests compare it with the SSE2 scanner"
    )
)]
#[inline(always)]
fn find_quote_backslash_or_newline_portable(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let rest = b.get(i..)?;
    let Some(nl) = memchr::memchr(b'\n', rest).map(|off| i + off) else {
        return find_quote_or_backslash_swar(b, i);
    };
    match find_quote_or_backslash_swar(&b[..nl], i) {
        Some(found) => Some(found),
        None => Some((nl, b[i..nl].is_ascii())),
    }
}

/// Decodes `\\`, `\"` and `\n` as Prometheus (and the OpenMetrics reference parser) do; any
/// other backslash sequence is kept as written. Borrows when there is nothing to decode.
#[inline]
pub(crate) fn unescape(s: &str) -> Cow<'_, str> {
    unescape_with(s, true)
}

/// Decodes HELP text of the text format 0.0.4: only `\\` and `\n` (Prometheus' helpReplacer).
#[inline]
pub(crate) fn unescape_help_text(s: &str) -> Cow<'_, str> {
    unescape_with(s, false)
}

#[inline(always)]
fn unescape_with(s: &str, quote: bool) -> Cow<'_, str> {
    if !s.as_bytes().contains(&b'\\') {
        return Cow::Borrowed(s);
    }
    Cow::Owned(decode(s, quote))
}

#[cold]
#[inline(never)]
fn decode(s: &str, quote: bool) -> String {
    let mut out = String::with_capacity(s.len());
    decode_into(&mut out, s, quote);
    out
}

/// Appends the unescaped `s` to `out` ([`unescape`]'s rules for a label name or value).
#[cold]
#[inline(never)]
pub(crate) fn unescape_into(out: &mut String, s: &str) {
    decode_into(out, s, true);
}

fn decode_into(out: &mut String, s: &str, quote: bool) {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
}

/// `bytes` as `&str`, when valid UTF-8.
#[inline]
pub(crate) fn utf8(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

/// Shows at most 40 bytes of `bytes` for an error message.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let cut = bytes.len().min(40);
    let mut s = String::new();
    for c in String::from_utf8_lossy(&bytes[..cut]).chars() {
        if c.is_control() {
            s.extend(c.escape_debug());
        } else {
            s.push(c);
        }
    }
    if cut < bytes.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    #[test]
    fn quoted_strings() {
        let b = br#""ab\"c" x"#;
        let q = scan_quoted(b, 0).unwrap();
        assert_eq!(q.end, 7);
        assert!(q.escaped);
        assert_eq!(scan_quoted(b"\"abc", 0).err(), Some(4));
        assert_eq!(scan_quoted(b"\"a\\\nb\"", 0).err(), Some(2));
        let q = scan_quoted(b"\"a\nb\"", 0).unwrap();
        assert_eq!((q.end, q.escaped), (5, false));
    }

    #[test]
    fn unescaping() {
        assert!(matches!(unescape("plain"), Cow::Borrowed("plain")));
        assert_eq!(unescape(r#"a\\b\"c\nd\qe\"#), "a\\b\"c\nd\\qe\\");
        assert_eq!(unescape_help_text(r#"a\\b\"c\n"#), "a\\b\\\"c\n");
    }

    /// `(index, ascii_before)` of the first `"` or `\\` in `b` from `i`.
    type Found = Option<(usize, bool)>;
    type Scanner = fn(&[u8], usize) -> Found;

    /// Every scanner this target has.
    fn scanners() -> Vec<(&'static str, Scanner)> {
        let mut v: Vec<(&'static str, Scanner)> = vec![("swar", find_quote_or_backslash_swar)];
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        v.push(("sse2", find_quote_or_backslash_sse2));
        v
    }

    /// The obvious byte-by-byte answer.
    fn reference(b: &[u8], i: usize) -> Found {
        let rest = b.get(i..)?;
        let off = rest.iter().position(|&c| c == b'"' || c == b'\\')?;
        Some((i + off, rest[..off].is_ascii()))
    }

    #[test]
    fn quote_scanners_exact() {
        let mut long = vec![b'a'; 100];
        long[70] = b'"';
        let mut high_after = vec![b'a'; 40];
        high_after[20] = b'\\';
        high_after[21] = 0xC3;
        let mut high_before = vec![b'a'; 40];
        high_before[3] = 0xC3;
        high_before[33] = b'"';
        let cases: Vec<(&[u8], usize, Found)> = vec![
            (b"abc\"", 0, Some((3, true))),
            (b"\"", 0, Some((0, true))),
            (b"abc", 0, None),
            (b"", 0, None),
            (b"x", 5, None),
            (b"0123456789abcdef\\", 0, Some((16, true))),
            (b"0123456789abcde\"", 0, Some((15, true))),
            ("é\"".as_bytes(), 0, Some((2, false))),
            (&long, 0, Some((70, true))),
            (&long, 71, None),
            (&high_after, 0, Some((20, true))),
            (&high_after, 22, None),
            (&high_before, 0, Some((33, false))),
            (&high_before, 4, Some((33, true))),
        ];
        for (name, f) in scanners() {
            for (b, i, want) in &cases {
                assert_eq!(f(b, *i), *want, "{name} on {b:?} from {i}");
                assert_eq!(reference(b, *i), *want, "reference on {b:?} from {i}");
            }
        }
    }

    /// Every quote-backslash-or-newline scanner this target has.
    fn line_scanners() -> Vec<(&'static str, Scanner)> {
        let mut v: Vec<(&'static str, Scanner)> =
            vec![("portable", find_quote_backslash_or_newline_portable)];
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        v.push(("sse2", find_any_sse2::<b'"', b'\\', b'\n', true>));
        v
    }

    fn line_reference(b: &[u8], i: usize) -> Found {
        let rest = b.get(i..)?;
        let off = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c == b'\n')?;
        Some((i + off, rest[..off].is_ascii()))
    }

    #[test]
    fn quoted_in_line() {
        let q = scan_quoted_in_line(b"\"a\\\"b\" 1\n", 0).unwrap();
        assert_eq!((q.end, q.escaped, q.ascii), (6, true, true));
        assert_eq!(scan_quoted_in_line(b"\"abc\ndef\"", 0).err(), Some(4));
        assert_eq!(scan_quoted_in_line(b"\"abc", 0).err(), Some(4));
        assert_eq!(scan_quoted_in_line(b"\"a\\\nb\"", 0).err(), Some(2));
        let mut long = vec![b'x'; 40];
        long[0] = b'"';
        long[30] = b'\n';
        long[35] = b'"';
        assert_eq!(scan_quoted_in_line(&long, 0).err(), Some(30));
        assert_eq!(scan_quoted(&long, 0).ok().map(|q| q.end), Some(36));
        for (name, f) in line_scanners() {
            assert_eq!(f(&long, 1), Some((30, true)), "{name}");
            assert_eq!(f(&long, 31), Some((35, true)), "{name}");
            assert_eq!(f(b"abc", 0), None, "{name}");
            assert_eq!(f("é\n".as_bytes(), 0), Some((2, false)), "{name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn line_scanners_agree(
            b in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::num::u8::ANY.prop_map(|c| c & 0x7f),
                    1 => proptest::num::u8::ANY,
                    1 => proptest::sample::select(vec![b'"', b'\\', b'\n']),
                ],
                0..200,
            ),
            start in 0usize..210,
        ) {
            for (name, f) in line_scanners() {
                proptest::prop_assert_eq!(f(&b, start), line_reference(&b, start), "{}", name);
            }
        }

        #[test]
        fn quote_scanners_agree(
            b in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::num::u8::ANY.prop_map(|c| c & 0x7f),
                    1 => proptest::num::u8::ANY,
                    1 => proptest::sample::select(vec![b'"', b'\\']),
                ],
                0..200,
            ),
            start in 0usize..210,
        ) {
            for (name, f) in scanners() {
                proptest::prop_assert_eq!(f(&b, start), reference(&b, start), "{}", name);
            }
        }
    }

    /// The obvious byte-by-byte name end.
    fn name_end_reference(b: &[u8], p: usize, colon: bool) -> usize {
        let ok = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || (colon && c == b':');
        b.get(p..)
            .and_then(|r| r.iter().position(|&c| !ok(c)))
            .map_or(b.len().max(p), |i| p + i)
    }

    #[test]
    fn newline_or_backslash() {
        let line = b"# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\nx \\";
        assert_eq!(find_newline_or_backslash(line, 0), Some(66));
        assert_eq!(find_newline_or_backslash(line, 67), Some(69));
        assert_eq!(find_newline_or_backslash(line, 70), None);
        assert_eq!(find_newline_or_backslash(b"", 0), None);
        assert_eq!(find_newline_or_backslash(b"ab", 5), None);
    }

    #[test]
    fn name_ends_exact() {
        let long = b"node_cpu_seconds_total:rate5m{cpu=\"0\"}";
        assert_eq!(metric_name_end(long, 0), 29);
        assert_eq!(metric_name_end_table(long, 0), 29);
        assert_eq!(label_name_end(long, 0), 22);
        assert_eq!(label_name_end_table(long, 0), 22);
        let all = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:";
        assert_eq!(metric_name_end(all, 0), all.len());
        assert_eq!(label_name_end(all, 0), all.len() - 1);
        // Every byte that is not a name byte stops the scan at any position of a 16-byte step.
        for c in 0..=255u8 {
            for at in [0usize, 5, 15, 16, 17, 31] {
                let mut b = vec![b'a'; 40];
                b[at] = c;
                let want_m = name_end_reference(&b, 0, true);
                let want_l = name_end_reference(&b, 0, false);
                assert_eq!(metric_name_end(&b, 0), want_m, "byte {c:#x} at {at}");
                assert_eq!(label_name_end(&b, 0), want_l, "byte {c:#x} at {at}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn name_ends_agree(
            b in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::sample::select(
                        b"abcxyzABCXYZ019_:".to_vec()
                    ),
                    1 => proptest::num::u8::ANY,
                ],
                0..80,
            ),
            start in 0usize..80,
        ) {
            let start = start.min(b.len());
            proptest::prop_assert_eq!(metric_name_end(&b, start), name_end_reference(&b, start, true));
            proptest::prop_assert_eq!(metric_name_end_table(&b, start), name_end_reference(&b, start, true));
            proptest::prop_assert_eq!(label_name_end(&b, start), name_end_reference(&b, start, false));
            proptest::prop_assert_eq!(label_name_end_table(&b, start), name_end_reference(&b, start, false));
        }
    }

    #[test]
    fn classes() {
        assert_eq!(metric_name_end(b"ab:c_1{", 0), 6);
        assert_eq!(label_name_end(b"ab:c", 0), 2);
        assert_eq!(value_end(b"1.5e3 x", 0), 5);
        assert_eq!(value_end(b"1\t", 0), 1);
        assert_eq!(skip_blanks(b" \t x", 0), 3);
    }
}
