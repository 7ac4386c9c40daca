//! `$`-templates expanded exactly as Go's `Regexp.Expand` does, parsed once per rule.
//!
//! Go's rules (its `extract`): `$$` is a `$`; `$name` takes the longest run of Unicode letters,
//! decimal digits and `_` (so `$1x` names the group `1x`); `${name}` takes the text up to `}`
//! if it is such a run; a name that is a decimal number without a leading zero (and below 1e8)
//! is a group index, anything else a group name; a reference to a group that does not exist or
//! did not take part in the match expands to nothing; a malformed reference (`$` at the end,
//! `${1`, `${1 }`, `$-`) is copied literally.

use std::sync::OnceLock;

use super::pattern::{Captures, Regex};

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Text copied as is.
    Literal(Box<str>),
    /// The text of group `i`.
    Group(usize),
    /// The first of these groups (same name) that took part in the match.
    Named(Box<[usize]>),
}

/// A template parsed against one regex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    segments: Box<[Segment]>,
    /// The expansion when it does not depend on the match.
    constant: Option<Box<str>>,
}

/// Unicode letters (`\p{L}`), decimal digits (`\p{Nd}`) and `_`: Go's `unicode.IsLetter`,
/// `unicode.IsDigit` and `'_'`.
fn name_run_len(s: &str) -> usize {
    static RE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"^[\p{L}\p{Nd}_]+").ok());
    match re {
        Some(re) => re.find(s).map_or(0, |m| m.end()),
        None => s
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(s.len(), |(i, _)| i),
    }
}

/// Go's `extract`: the name after a `$`, its group number (or -1) and the bytes consumed.
fn extract(s: &str) -> Option<(&str, i64, usize)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let n = name_run_len(body);
    if n == 0 {
        return None;
    }
    let name = &body[..n];
    let mut used = n + usize::from(brace);
    if brace {
        if !body[n..].starts_with('}') {
            return None;
        }
        used += 1;
    }
    let mut num: i64 = 0;
    for b in name.bytes() {
        if !b.is_ascii_digit() || num >= 100_000_000 {
            num = -1;
            break;
        }
        num = num * 10 + i64::from(b - b'0');
    }
    if name.len() > 1 && name.starts_with('0') {
        num = -1;
    }
    Some((name, num, used))
}

impl Template {
    /// Parses `template` for matches of `regex`.
    pub(crate) fn parse(template: &str, regex: &Regex) -> Template {
        let mut segments: Vec<Segment> = Vec::new();
        let mut lit = String::new();
        let mut rest = template;
        while let Some(i) = rest.find('$') {
            lit.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            if let Some(r) = rest.strip_prefix('$') {
                lit.push('$');
                rest = r;
                continue;
            }
            let Some((name, num, used)) = extract(rest) else {
                // Malformed: the `$` is plain text.
                lit.push('$');
                continue;
            };
            rest = &rest[used..];
            let seg = if num >= 0 {
                let i = usize::try_from(num).unwrap_or(usize::MAX);
                (i < regex.groups()).then_some(Segment::Group(i))
            } else {
                let idx = regex.indexes_of(name);
                (!idx.is_empty()).then(|| Segment::Named(idx.into()))
            };
            if let Some(seg) = seg {
                if !lit.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut lit).into()));
                }
                segments.push(seg);
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            segments.push(Segment::Literal(lit.into()));
        }
        let constant = match segments.as_slice() {
            [] => Some("".into()),
            [Segment::Literal(l)] => Some(l.clone()),
            _ => None,
        };
        Template {
            segments: segments.into(),
            constant,
        }
    }

    /// The expansion, when it is the same for every match.
    pub(crate) fn constant(&self) -> Option<&str> {
        self.constant.as_deref()
    }

    /// Appends the expansion for a match in `haystack` to `out`.
    pub(crate) fn expand(&self, out: &mut String, haystack: &str, caps: &Captures<'_>) {
        for seg in &*self.segments {
            match seg {
                Segment::Literal(l) => out.push_str(l),
                Segment::Group(i) => {
                    if let Some((a, b)) = caps.get(*i) {
                        out.push_str(haystack.get(a..b).unwrap_or(""));
                    }
                }
                Segment::Named(idx) => {
                    if let Some((a, b)) = idx.iter().find_map(|i| caps.get(*i)) {
                        out.push_str(haystack.get(a..b).unwrap_or(""));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(re: &str, template: &str, hay: &str) -> Option<String> {
        let r = Regex::new(re).unwrap();
        let t = Template::parse(template, &r);
        r.with_captures(hay, |c| {
            let mut out = String::new();
            t.expand(&mut out, hay, c);
            out
        })
    }

    #[test]
    fn go_expand_rules() {
        assert_eq!(exp("(f)oo", "$1x", "foo").as_deref(), Some(""));
        assert_eq!(exp("(f)oo", "${1}x", "foo").as_deref(), Some("fx"));
        assert_eq!(exp("(f)oo", "$01", "foo").as_deref(), Some(""));
        assert_eq!(exp("(f)oo", "$$1", "foo").as_deref(), Some("$1"));
        assert_eq!(exp("(f)oo", "x${1", "foo").as_deref(), Some("x${1"));
        assert_eq!(exp("(f)oo", "${1 }y$", "foo").as_deref(), Some("${1 }y$"));
        assert_eq!(exp("(f)oo", "$1é", "foo").as_deref(), Some(""));
        assert_eq!(exp("(f)oo", "$1-$0", "foo").as_deref(), Some("f-foo"));
        assert_eq!(
            exp("(?P<a>x)|(?P<a>y)", "[$a]", "y").as_deref(),
            Some("[y]")
        );
        assert_eq!(exp("(?<n1>f)oo", "${n1}", "foo").as_deref(), Some("f"));
    }
}
