//! The anchored relabel regex: Go RE2 semantics, compiled once, with fast paths.

use std::sync::Mutex;

use regex::CaptureLocations;

use super::re2;

/// A relabel regex, compiled the way Prometheus 3 compiles it: `^(?s:RE)$` in Go's RE2 syntax.
///
/// The text is checked and translated with Go's parser rules (see the module docs), then
/// compiled once with the `regex` crate. Common shapes are recognised and matched without
/// running the regex engine: the default `(.*)`, `(.+)`, a literal, an alternation of literals
/// (`Succeeded|Failed`) and a literal prefix followed by `.*`/`.+` (optionally captured, as in
/// `__meta_kubernetes_pod_label_(.+)`). The full regex is always compiled too, so the fast
/// paths can be checked against it ([`Regex::without_fast_path`]).
#[derive(Debug)]
pub struct Regex {
    source: Box<str>,
    re: regex::Regex,
    /// Group names by index (Go names: duplicates and digit-first names allowed).
    names: Box<[Option<Box<str>>]>,
    fast: Fast,
    /// Reusable capture slots, so matching allocates only the first time per thread at once.
    pool: Mutex<Vec<CaptureLocations>>,
}

impl Clone for Regex {
    fn clone(&self) -> Self {
        Regex {
            source: self.source.clone(),
            re: self.re.clone(),
            names: self.names.clone(),
            fast: self.fast.clone(),
            pool: Mutex::new(Vec::new()),
        }
    }
}

impl PartialEq for Regex {
    /// Two regexes are equal when their source texts are.
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// Why a regex was rejected: Go's message (`error parsing regexp: …`), or the `regex` crate's
/// when Go would accept it but the pattern exceeds that crate's limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RegexError {
    /// The message, starting with `error parsing regexp:` like Go's.
    pub message: String,
}

/// A match computed without the regex engine.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fast {
    /// No fast path: run the engine.
    None,
    /// `.*` (`cap`: `(.*)`): matches everything.
    All { cap: bool },
    /// `.+` (`cap`: `(.+)`): matches every non-empty string.
    NonEmpty { cap: bool },
    /// A literal: matches exactly that string.
    Literal(Box<str>),
    /// `a|b|c` of literals.
    Alternation(Box<[Box<str>]>),
    /// A literal prefix then `.*` / `.+` (`nonempty`), the rest captured as group 1 if `cap`.
    Prefix {
        prefix: Box<str>,
        nonempty: bool,
        cap: bool,
    },
}

/// Capture positions of one match: group `i` → byte range in the haystack.
pub(crate) enum Captures<'a> {
    /// From a fast path: group 0 and at most group 1.
    Fast([Option<(usize, usize)>; 2]),
    /// From the engine.
    Engine(&'a CaptureLocations),
}

impl Captures<'_> {
    /// The byte range of group `i`, if it took part in the match.
    pub(crate) fn get(&self, i: usize) -> Option<(usize, usize)> {
        match self {
            Captures::Fast(g) => g.get(i).copied().flatten(),
            Captures::Engine(l) => l.get(i),
        }
    }
}

impl Regex {
    /// Compiles `source` as Prometheus does (`^(?s:source)$`, Go RE2 syntax).
    pub fn new(source: &str) -> Result<Regex, RegexError> {
        let wrapped = format!("^(?s:{source})$");
        let t = re2::translate(&wrapped).map_err(|e| RegexError {
            message: e.to_string(),
        })?;
        let re = regex::RegexBuilder::new(&t.pattern)
            .nest_limit(4096)
            .size_limit(64 << 20)
            .build()
            .map_err(|e| RegexError {
                message: format!(
                    "error parsing regexp: {}: `{wrapped}`",
                    e.to_string()
                        .lines()
                        .last()
                        .unwrap_or("invalid regexp")
                        .trim()
                ),
            })?;
        let names = t.names.into_iter().map(|n| n.map(Into::into)).collect();
        Ok(Regex {
            source: source.into(),
            re,
            names,
            fast: analyze(source),
            pool: Mutex::new(Vec::new()),
        })
    }

    /// The regex as written in the config (without the anchoring Prometheus adds).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `haystack` matches (the regex is anchored at both ends).
    pub fn is_match(&self, haystack: &str) -> bool {
        match &self.fast {
            Fast::None => self.re.is_match(haystack),
            Fast::All { .. } => true,
            Fast::NonEmpty { .. } => !haystack.is_empty(),
            Fast::Literal(l) => haystack == &**l,
            Fast::Alternation(alts) => alts.iter().any(|a| haystack == &**a),
            Fast::Prefix {
                prefix, nonempty, ..
            } => haystack.starts_with(&**prefix) && (!*nonempty || haystack.len() > prefix.len()),
        }
    }

    /// The number of capture groups, counting group 0 (the whole match).
    pub fn groups(&self) -> usize {
        self.names.len()
    }

    /// Group indexes named `name`, in order (Go allows a name more than once).
    pub(crate) fn indexes_of(&self, name: &str) -> Vec<usize> {
        self.names
            .iter()
            .enumerate()
            .filter(|(_, n)| n.as_deref() == Some(name))
            .map(|(i, _)| i)
            .collect()
    }

    /// A copy that always runs the engine (the "slow twin" the fast paths are tested against).
    #[doc(hidden)]
    pub fn without_fast_path(&self) -> Regex {
        let mut r = self.clone();
        r.fast = Fast::None;
        r
    }

    /// Whether this regex is matched without the engine.
    #[doc(hidden)]
    pub fn has_fast_path(&self) -> bool {
        self.fast != Fast::None
    }

    /// Runs `f` with the captures of the first match in `haystack`, or returns `None`.
    pub(crate) fn with_captures<R>(
        &self,
        haystack: &str,
        f: impl FnOnce(&Captures<'_>) -> R,
    ) -> Option<R> {
        let len = haystack.len();
        let fast = match &self.fast {
            Fast::None => None,
            Fast::All { cap } => Some([Some((0, len)), cap.then_some((0, len))]),
            Fast::NonEmpty { cap } => {
                (len > 0).then_some([Some((0, len)), cap.then_some((0, len))])
            }
            Fast::Literal(_) | Fast::Alternation(_) => {
                self.is_match(haystack).then_some([Some((0, len)), None])
            }
            Fast::Prefix { prefix, cap, .. } => self
                .is_match(haystack)
                .then_some([Some((0, len)), cap.then_some((prefix.len(), len))]),
        };
        if let Some(groups) = fast {
            return Some(f(&Captures::Fast(groups)));
        }
        if !matches!(self.fast, Fast::None) {
            return None;
        }
        let mut locs = self.take_locs();
        let out = self
            .re
            .captures_read(&mut locs, haystack)
            .map(|_| f(&Captures::Engine(&locs)));
        self.give_locs(locs);
        out
    }

    /// Go's `ReplaceAllString(haystack, template)`, appended to `out`: every non-overlapping
    /// match replaced by the expanded template (for an anchored regex: the whole string, once).
    pub(crate) fn replace_all_into(
        &self,
        out: &mut String,
        haystack: &str,
        template: &super::expand::Template,
    ) {
        if !matches!(self.fast, Fast::None) {
            if self
                .with_captures(haystack, |c| template.expand(out, haystack, c))
                .is_none()
            {
                out.push_str(haystack);
            }
            return;
        }
        let mut locs = self.take_locs();
        let mut last_match_end = 0;
        let mut search = 0;
        while search <= haystack.len() {
            let Some((a0, a1)) = self
                .re
                .captures_read_at(&mut locs, haystack, search)
                .map(|m| (m.start(), m.end()))
            else {
                break;
            };
            out.push_str(haystack.get(last_match_end..a0).unwrap_or(""));
            // No replacement for an empty match right after another match.
            if a1 > last_match_end || a0 == 0 {
                template.expand(out, haystack, &Captures::Engine(&locs));
            }
            last_match_end = a1;
            if search < a1 {
                search = a1;
            } else {
                // Advance one character past an empty match.
                search += haystack
                    .get(search..)
                    .and_then(|r| r.chars().next())
                    .map_or(1, char::len_utf8);
            }
        }
        out.push_str(haystack.get(last_match_end..).unwrap_or(""));
        self.give_locs(locs);
    }

    fn take_locs(&self) -> CaptureLocations {
        self.pool
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| self.re.capture_locations())
    }

    fn give_locs(&self, locs: CaptureLocations) {
        if let Ok(mut p) = self.pool.lock() {
            p.push(locs);
        }
    }
}

/// Recognises the shapes matched without the engine. Only plain characters and escaped ASCII
/// punctuation count as literal text; anything else (flags, classes, counted repeats, other
/// escapes) leaves the regex to the engine.
fn analyze(s: &str) -> Fast {
    match s {
        "(.*)" => return Fast::All { cap: true },
        ".*" => return Fast::All { cap: false },
        "(.+)" => return Fast::NonEmpty { cap: true },
        ".+" => return Fast::NonEmpty { cap: false },
        _ => {}
    }
    for (suffix, nonempty, cap) in [
        ("(.*)", false, true),
        (".*", false, false),
        ("(.+)", true, true),
        (".+", true, false),
    ] {
        if let Some(p) = s.strip_suffix(suffix)
            && let Some(mut alts) = literal_alternatives(p)
            && alts.len() == 1
        {
            // A trailing backslash would have escaped the suffix's first character.
            if p.ends_with('\\') && !p.ends_with("\\\\") {
                continue;
            }
            let prefix = alts.pop().unwrap_or_default();
            return Fast::Prefix {
                prefix: prefix.into(),
                nonempty,
                cap,
            };
        }
    }
    match literal_alternatives(s) {
        Some(mut alts) if alts.len() == 1 => Fast::Literal(alts.pop().unwrap_or_default().into()),
        Some(alts) => Fast::Alternation(alts.into_iter().map(Into::into).collect()),
        None => Fast::None,
    }
}

/// Splits `lit|lit|…` into its literal texts, or `None` if any part is not a plain literal.
fn literal_alternatives(s: &str) -> Option<Vec<String>> {
    let mut alts = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '|' => alts.push(String::new()),
            '\\' => {
                let e = chars.next()?;
                if !e.is_ascii_punctuation() {
                    return None;
                }
                alts.last_mut()?.push(e);
            }
            '.' | '+' | '*' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '^' | '$' => return None,
            c => alts.last_mut()?.push(c),
        }
    }
    Some(alts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(analyze("(.*)"), Fast::All { cap: true });
        assert_eq!(analyze("true"), Fast::Literal("true".into()));
        assert_eq!(analyze(r"a\.b"), Fast::Literal("a.b".into()));
        assert_eq!(
            analyze("Succeeded|Failed"),
            Fast::Alternation(vec!["Succeeded".into(), "Failed".into()].into())
        );
        assert_eq!(
            analyze("__meta_kubernetes_pod_label_(.+)"),
            Fast::Prefix {
                prefix: "__meta_kubernetes_pod_label_".into(),
                nonempty: true,
                cap: true
            }
        );
        assert_eq!(analyze(r"a\(.*)"), Fast::None);
        assert_eq!(analyze("(https?)"), Fast::None);
        assert_eq!(analyze("a{2}"), Fast::None);
    }

    #[test]
    fn go_semantics() {
        let r = Regex::new(r"\d+").unwrap();
        assert!(r.is_match("123"));
        assert!(!r.is_match("١٢٣"));
        let r = Regex::new(r"\w+").unwrap();
        assert!(!r.is_match("é"));
        let r = Regex::new(r"\s").unwrap();
        assert!(!r.is_match("\u{b}"));
        assert!(r.is_match("\u{c}"));
        let r = Regex::new(r"a\b").unwrap();
        assert!(r.is_match("a"));
        let r = Regex::new(r"é\b").unwrap();
        assert!(!r.is_match("é"));
        let r = Regex::new(r"x\Q.*\E").unwrap();
        assert!(r.is_match("x.*"));
        assert!(!r.is_match("xyz"));
        let r = Regex::new(r"\101\0").unwrap();
        assert!(r.is_match("A\0"));
        assert!(Regex::new("(?x)a b").is_err());
        assert!(Regex::new("a{1001}").is_err());
        assert!(Regex::new("a{1000}").is_ok());
        assert!(Regex::new("a.b").unwrap().is_match("a\nb"));
        assert!(Regex::new("a)|(b").unwrap().is_match("xxb"));
        for (re, yes, no) in [
            ("a{,5}", "a{,5}", "aaaaa"),
            ("a{01}", "a{01}", "a"),
            ("[]a]+", "]a", "b"),
            ("[a-]+", "-a", "b"),
            (r"[\d-z]+", "1-z", "y"),
            (r"\_\%", "_%", "x"),
            (r"\x41\x{42}", "AB", "ab"),
            (r"[[:alpha:]]+", "ab", "1"),
            (r"[[:^alpha:]]+", "12", "a"),
            (r"\pL+", "éa", "1"),
            (r"\p{^Greek}", "a", "α"),
            (r"\PL", "1", "a"),
            (r"(?i)k", "\u{212A}", "x"),
            (r"(?i)\w", "\u{17F}", "é"),
            ("(|a)", "", "b"),
            ("^*a", "a", "b"),
            (r"[a&&b]+", "&ab", "c"),
            (r"[[a]+", "[a", "b"),
            ("x(?U)a+", "xaa", "x"),
        ] {
            let r = Regex::new(re).unwrap_or_else(|e| panic!("{re}: {e}"));
            assert!(r.is_match(yes), "{re} should match {yes:?}");
            assert!(!r.is_match(no), "{re} should not match {no:?}");
        }
        for bad in [
            "a|*",
            "(?P=n)",
            "(?P<>x)",
            "(?<a-b>x)",
            r"\Z",
            r"\C",
            r"[a-\d]",
            "[z-a]",
            r"\e",
            r"\u0041",
            "a{2}{3}",
            "a*?*",
            "(?i-)",
            "(?-)",
            "(?<!a)b",
            "[[:foo:]]",
            r"\",
            "[a",
            "a)",
            "x{1001,}",
            "(x{10}){101}",
        ] {
            let e = Regex::new(bad).map(|_| ()).unwrap_err();
            assert!(
                e.message.starts_with("error parsing regexp: "),
                "{bad}: {e}"
            );
        }
    }
}
