//! Go RE2 syntax, translated into the `regex` crate's syntax.
//!
//! Prometheus compiles relabel regexes with Go's `regexp` package (RE2 syntax). The `regex`
//! crate reads almost the same language, but not quite: Go's `\d \w \s \b` are ASCII-only,
//! Go supports `\Q…\E` and octal escapes, Go rejects `(?x)`, `(?u)`, `(?R)`, repeat counts
//! over 1000 and stacked repetition operators (`a**`), Go treats `[` `&&` `--` `~~` inside a
//! class as plain characters, allows duplicate and digit-first group names, reads a `{`
//! that does not start a valid repetition as a literal, and applies a repetition that follows
//! a flag group (`a(?i)*`) to the atom before the flags.
//!
//! [`translate`] walks a pattern with the rules of Go's `regexp/syntax` parser (accepting and
//! rejecting what Go accepts and rejects, with Go's error texts) and writes an equivalent
//! pattern in which every construct is spelled unambiguously for the `regex` crate: literals as
//! plain characters or `\x{…}` escapes, Perl classes as explicit ASCII classes, word boundaries
//! as `(?-u:\b)`, groups unnamed (names are returned separately, so Go's naming rules apply).

use std::fmt::Write as _;

/// Go's limit on repetition counts and on nested repetition (`repeatIsValid`).
const MAX_REPEAT: u64 = 1000;
/// Go's limit on nesting depth (`maxHeight`).
const MAX_DEPTH: usize = 1000;

/// A pattern rewritten for the `regex` crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Translated {
    /// The pattern in `regex` crate syntax, with the same capture groups in the same order.
    pub pattern: String,
    /// Group names by group index (index 0, the whole match, has none).
    pub names: Vec<Option<String>>,
}

/// A pattern Go's parser rejects, with Go's message (`error parsing regexp: …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Go's error code text, e.g. `missing closing )`.
    pub code: &'static str,
    /// The offending part of the expression, as Go reports it.
    pub expr: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error parsing regexp: {}: `{}`", self.code, self.expr)
    }
}

fn err(code: &'static str, expr: &str) -> SyntaxError {
    SyntaxError {
        code,
        expr: expr.to_owned(),
    }
}

const ERR_MISSING_PAREN: &str = "missing closing )";
const ERR_UNEXPECTED_PAREN: &str = "unexpected )";
const ERR_MISSING_BRACKET: &str = "missing closing ]";
const ERR_INVALID_ESCAPE: &str = "invalid escape sequence";
const ERR_TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
const ERR_INVALID_REPEAT_SIZE: &str = "invalid repeat count";
const ERR_INVALID_REPEAT_OP: &str = "invalid nested repetition operator";
const ERR_MISSING_REPEAT_ARG: &str = "missing argument to repetition operator";
const ERR_INVALID_PERL_OP: &str = "invalid or unsupported Perl syntax";
const ERR_INVALID_NAMED_CAPTURE: &str = "invalid named capture";
const ERR_INVALID_CHAR_RANGE: &str = "invalid character class range";
const ERR_NESTING_DEPTH: &str = "expression nests too deeply";

/// One open group (or the top level).
struct Frame {
    /// Largest "need" (see [`Parser::last`]) among finished items of this group.
    need: u64,
    /// Whether `U` (swap greed) is in effect here.
    ungreedy: bool,
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    out: String,
    names: Vec<Option<String>>,
    stack: Vec<Frame>,
    /// Need of the most recent atom in the current concatenation, if there is one a repetition
    /// operator could apply to. "Need" is the smallest `n` for which Go's
    /// `repeatIsValid(atom, n)` holds: 0 without counted repeats, `m * max(1, need(sub))` for
    /// `sub{…,m}`.
    last: Option<u64>,
    /// Where the text of the most recent atom starts in `out` (a repetition applies to it).
    last_repeat: Option<usize>,
    /// Flag changes (`(?i)` …) seen right after an atom, not yet written: in Go a repetition
    /// that follows still applies to that atom, so they are written after the repetition.
    /// Holds the text and whether `U` was in effect before them.
    pending: Option<(String, bool)>,
}

/// Translates a Go (RE2) pattern, or rejects it as Go's `regexp.Compile` would.
pub(crate) fn translate(src: &str) -> Result<Translated, SyntaxError> {
    let mut p = Parser {
        src,
        pos: 0,
        out: String::with_capacity(src.len() + 16),
        names: vec![None],
        stack: vec![Frame {
            need: 0,
            ungreedy: false,
        }],
        last: None,
        last_repeat: None,
        pending: None,
    };
    p.parse()?;
    Ok(Translated {
        pattern: p.out,
        names: p.names,
    })
}

fn is_go_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.rest().chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Finishes the pending atom of the current concatenation.
    fn flush_last(&mut self) {
        if let Some(n) = self.last.take()
            && let Some(f) = self.stack.last_mut()
        {
            f.need = f.need.max(n);
        }
    }

    /// Starts a new atom whose text begins at the current end of `out`.
    fn begin_atom(&mut self) -> usize {
        self.flush_last();
        self.last_repeat = None;
        self.out.len()
    }

    fn end_atom(&mut self, need: u64) {
        self.last = Some(need);
    }

    fn literal(&mut self, c: char) {
        self.begin_atom();
        push_literal(&mut self.out, c);
        self.end_atom(0);
    }

    fn ungreedy(&self) -> bool {
        self.stack.last().is_some_and(|f| f.ungreedy)
    }

    /// Writes pending flag changes unless a repetition comes next.
    fn flush_pending_unless_repeat(&mut self) {
        if self.pending.is_none() {
            return;
        }
        let t = self.rest();
        let flags_next = t.strip_prefix("(?").is_some_and(|r| {
            let n = r.find(|c: char| !matches!(c, 'i' | 'm' | 's' | 'U' | '-'));
            n.is_some_and(|n| r[n..].starts_with(')'))
        });
        let repeat_next = flags_next || t.starts_with(['*', '+', '?']) || parse_repeat(t).is_some();
        if !repeat_next && let Some((text, _)) = self.pending.take() {
            self.out.push_str(&text);
        }
    }

    fn parse(&mut self) -> Result<(), SyntaxError> {
        loop {
            self.flush_pending_unless_repeat();
            let Some(c) = self.peek() else { break };
            match c {
                '(' => self.open_paren()?,
                ')' => {
                    self.bump();
                    if self.stack.len() <= 1 {
                        return Err(err(ERR_UNEXPECTED_PAREN, self.src));
                    }
                    self.flush_last();
                    let frame = self.stack.pop().unwrap_or(Frame {
                        need: 0,
                        ungreedy: false,
                    });
                    self.out.push(')');
                    // The group is now an atom of the enclosing concatenation.
                    self.last = Some(frame.need);
                    self.last_repeat = None;
                }
                '|' => {
                    self.bump();
                    self.flush_last();
                    self.last_repeat = None;
                    self.out.push('|');
                }
                '^' | '$' | '.' => {
                    self.bump();
                    self.begin_atom();
                    self.out.push(c);
                    self.end_atom(0);
                }
                '[' => self.class()?,
                '*' | '+' | '?' => {
                    let before = self.pos;
                    self.bump();
                    self.repeat(before, None)?;
                }
                '{' => {
                    let before = self.pos;
                    match parse_repeat(self.rest()) {
                        None => {
                            // Not a valid repetition: a literal '{'.
                            self.bump();
                            self.literal('{');
                        }
                        Some((min, max, len)) => {
                            let text = &self.src[before..before + len];
                            if !(0..=1000).contains(&min) || max > 1000 || (max >= 0 && min > max) {
                                return Err(err(ERR_INVALID_REPEAT_SIZE, text));
                            }
                            self.pos += len;
                            self.repeat(before, Some((min, max)))?;
                        }
                    }
                }
                '\\' => self.escape()?,
                _ => {
                    self.bump();
                    self.literal(c);
                }
            }
        }
        if self.stack.len() > 1 {
            return Err(err(ERR_MISSING_PAREN, self.src));
        }
        Ok(())
    }

    /// Applies a repetition operator (already consumed, starting at `before`) to the last atom.
    fn repeat(&mut self, before: usize, counted: Option<(i64, i64)>) -> Result<(), SyntaxError> {
        // A non-greedy marker belongs to this operator.
        let mut lazy = false;
        if self.peek() == Some('?') {
            self.bump();
            lazy = true;
        }
        let text = &self.src[before..self.pos];
        if self.last_repeat.is_some() {
            // Perl (and Go) reject stacked operators: a** is an error, not a doubled star.
            return Err(err(ERR_INVALID_REPEAT_OP, text));
        }
        let Some(need) = self.last else {
            return Err(err(ERR_MISSING_REPEAT_ARG, text));
        };
        // Go decides greed with the flags in effect at the operator; the `regex` crate with the
        // flags where the operator is written, which is before any pending flag change.
        let pending = self.pending.take();
        if let Some((_, old_ungreedy)) = &pending {
            lazy ^= self.ungreedy() ^ *old_ungreedy;
        }
        let mut new_need = need;
        match counted {
            None => {
                let op = &self.src[before..before + 1];
                self.out.push_str(op);
            }
            Some((min, max)) => {
                let m = if max < 0 { min } else { max };
                if max == 0 {
                    new_need = 0;
                } else if m > 0 {
                    new_need = (m as u64).saturating_mul(need.max(1));
                }
                if (min >= 2 || max >= 2) && new_need > MAX_REPEAT {
                    return Err(err(ERR_INVALID_REPEAT_SIZE, text));
                }
                if max < 0 {
                    let _ = write!(self.out, "{{{min},}}");
                } else if max == min {
                    let _ = write!(self.out, "{{{min}}}");
                } else {
                    let _ = write!(self.out, "{{{min},{max}}}");
                }
            }
        }
        if lazy {
            self.out.push('?');
        }
        if let Some((text, _)) = pending {
            self.out.push_str(&text);
        }
        self.last = Some(new_need);
        self.last_repeat = Some(before);
        Ok(())
    }

    fn push_frame(&mut self, ungreedy: bool) -> Result<(), SyntaxError> {
        if self.stack.len() > MAX_DEPTH {
            return Err(err(ERR_NESTING_DEPTH, self.src));
        }
        self.stack.push(Frame { need: 0, ungreedy });
        self.last = None;
        self.last_repeat = None;
        Ok(())
    }

    fn open_paren(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        let t = self.rest();
        if !t.starts_with("(?") {
            self.bump();
            self.flush_last();
            self.names.push(None);
            self.out.push('(');
            return self.push_frame(self.ungreedy());
        }
        let starts_with_p = t.len() > 4 && t.as_bytes()[2] == b'P' && t.as_bytes()[3] == b'<';
        let starts_with_name = t.len() > 3 && t.as_bytes()[2] == b'<';
        if starts_with_p || starts_with_name {
            let expr_start = if starts_with_p { 4 } else { 3 };
            let Some(end) = t.find('>') else {
                return Err(err(ERR_INVALID_NAMED_CAPTURE, t));
            };
            let capture = &t[..end + 1];
            let name = t.get(expr_start..end).unwrap_or("");
            if name.is_empty() || !name.chars().all(|c| c == '_' || is_go_alnum(c)) {
                return Err(err(ERR_INVALID_NAMED_CAPTURE, capture));
            }
            let name = name.to_owned();
            self.pos += end + 1;
            self.flush_last();
            self.names.push(Some(name));
            self.out.push('(');
            return self.push_frame(self.ungreedy());
        }
        // Flags and non-capturing groups: (?flags) or (?flags:re).
        self.pos += 2;
        let mut on = String::new();
        let mut off = String::new();
        let mut negated = false;
        let mut saw_flag = false;
        while let Some(c) = self.bump() {
            match c {
                'i' | 'm' | 's' | 'U' => {
                    saw_flag = true;
                    let (add, remove) = if negated {
                        (&mut off, &mut on)
                    } else {
                        (&mut on, &mut off)
                    };
                    remove.retain(|x| x != c);
                    if !add.contains(c) {
                        add.push(c);
                    }
                }
                '-' => {
                    if negated {
                        break;
                    }
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' => {
                    if negated && !saw_flag {
                        break;
                    }
                    let flags = match (on.is_empty(), off.is_empty()) {
                        (true, true) => String::new(),
                        (false, true) => on.clone(),
                        (_, false) => format!("{on}-{off}"),
                    };
                    let cur = self.ungreedy();
                    let ungreedy = if off.contains('U') {
                        false
                    } else {
                        cur || on.contains('U')
                    };
                    if c == ':' {
                        self.flush_last();
                        let _ = write!(self.out, "(?{flags}:");
                        return self.push_frame(ungreedy);
                    }
                    if let Some(f) = self.stack.last_mut() {
                        f.ungreedy = ungreedy;
                    }
                    if !flags.is_empty() {
                        let text = format!("(?{flags})");
                        if self.last.is_some() {
                            // Go: a repetition right after still applies to the last atom.
                            match &mut self.pending {
                                Some((t, _)) => t.push_str(&text),
                                None => self.pending = Some((text, cur)),
                            }
                        } else {
                            self.out.push_str(&text);
                        }
                    }
                    self.last_repeat = None;
                    return Ok(());
                }
                _ => break,
            }
        }
        Err(err(ERR_INVALID_PERL_OP, &self.src[start..self.pos]))
    }

    fn escape(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        let Some(c) = self.peek2() else {
            return Err(err(ERR_TRAILING_BACKSLASH, ""));
        };
        match c {
            'A' | 'z' => {
                self.pos += 2;
                self.begin_atom();
                self.out.push('\\');
                self.out.push(c);
                self.end_atom(0);
                return Ok(());
            }
            'b' | 'B' => {
                self.pos += 2;
                self.begin_atom();
                let _ = write!(self.out, "(?-u:\\{c})");
                self.end_atom(0);
                return Ok(());
            }
            'C' => return Err(err(ERR_INVALID_ESCAPE, "\\C")),
            'Q' => {
                self.pos += 2;
                let rest = self.rest();
                let (lit, skip) = match rest.find("\\E") {
                    Some(i) => (&rest[..i], i + 2),
                    None => (rest, rest.len()),
                };
                let lit = lit.to_owned();
                self.pos += skip;
                for ch in lit.chars() {
                    self.literal(ch);
                }
                return Ok(());
            }
            'p' | 'P' => {
                self.begin_atom();
                self.unicode_class()?;
                self.end_atom(0);
                return Ok(());
            }
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                self.pos += 2;
                self.begin_atom();
                self.out.push('[');
                if c.is_ascii_uppercase() {
                    self.out.push('^');
                }
                self.out.push_str(perl_class(c));
                self.out.push(']');
                self.end_atom(0);
                return Ok(());
            }
            _ => {}
        }
        let ch = self.parse_escape(start)?;
        self.begin_atom();
        push_literal(&mut self.out, ch);
        self.end_atom(0);
        Ok(())
    }

    /// `\p{Name}`, `\pN`, `\P…`, `\p{^Name}`: passed on (Go 1.25+ and the `regex` crate read
    /// the same names, case-insensitively).
    fn unicode_class(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        self.pos += 1; // backslash
        let sign = self.bump().unwrap_or('p');
        let Some(c) = self.bump() else {
            return Err(err(ERR_INVALID_CHAR_RANGE, &self.src[start..]));
        };
        let name = if c == '{' {
            let rest = self.rest();
            let Some(end) = rest.find('}') else {
                return Err(err(ERR_INVALID_CHAR_RANGE, &self.src[start..]));
            };
            let name = rest[..end].to_owned();
            self.pos += end + 1;
            name
        } else {
            c.to_string()
        };
        let (negate, name) = match name.strip_prefix('^') {
            Some(n) => (true, n.to_owned()),
            None => (false, name),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '-'))
        {
            return Err(err(ERR_INVALID_CHAR_RANGE, &self.src[start..self.pos]));
        }
        let upper = (sign == 'P') != negate;
        let _ = write!(self.out, "\\{}{{{}}}", if upper { 'P' } else { 'p' }, name);
        Ok(())
    }

    /// Go's `parseEscape`: a single character escape (octal, hex, C escapes, punctuation).
    fn parse_escape(&mut self, start: usize) -> Result<char, SyntaxError> {
        self.pos += 1; // backslash
        let Some(c) = self.bump() else {
            return Err(err(ERR_TRAILING_BACKSLASH, ""));
        };
        let bad = |p: &Self| err(ERR_INVALID_ESCAPE, &p.src[start..p.pos]);
        match c {
            '1'..='7' | '0' => {
                if c != '0' && !matches!(self.peek(), Some('0'..='7')) {
                    return Err(bad(self));
                }
                let mut r = c as u32 - '0' as u32;
                for _ in 1..3 {
                    match self.peek() {
                        Some(d @ '0'..='7') => {
                            r = r * 8 + (d as u32 - '0' as u32);
                            self.bump();
                        }
                        _ => break,
                    }
                }
                char::from_u32(r).ok_or_else(|| bad(self))
            }
            'x' => {
                let Some(c1) = self.bump() else {
                    return Err(bad(self));
                };
                if c1 == '{' {
                    let mut r: u32 = 0;
                    let mut digits = 0;
                    loop {
                        let Some(d) = self.bump() else {
                            return Err(bad(self));
                        };
                        if d == '}' {
                            break;
                        }
                        let Some(v) = d.to_digit(16) else {
                            return Err(bad(self));
                        };
                        r = r.saturating_mul(16).saturating_add(v);
                        if r > 0x10FFFF {
                            return Err(bad(self));
                        }
                        digits += 1;
                    }
                    if digits == 0 {
                        return Err(bad(self));
                    }
                    return char::from_u32(r).ok_or_else(|| bad(self));
                }
                let Some(c2) = self.bump() else {
                    return Err(bad(self));
                };
                match (c1.to_digit(16), c2.to_digit(16)) {
                    (Some(a), Some(b)) => char::from_u32(a * 16 + b).ok_or_else(|| bad(self)),
                    _ => Err(bad(self)),
                }
            }
            'a' => Ok('\u{7}'),
            'f' => Ok('\u{c}'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            't' => Ok('\t'),
            'v' => Ok('\u{b}'),
            c if c.is_ascii() && !is_go_alnum(c) => Ok(c),
            _ => Err(bad(self)),
        }
    }

    /// A bracketed class, `[…]`, read with Go's rules and written out item by item.
    fn class(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        self.begin_atom();
        self.bump(); // [
        self.out.push('[');
        if self.peek() == Some('^') {
            self.bump();
            self.out.push('^');
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(err(ERR_MISSING_BRACKET, &self.src[start..]));
            };
            if c == ']' && !first {
                self.bump();
                break;
            }
            first = false;
            let t = self.rest();
            // POSIX [:alnum:] etc.
            if t.len() > 2
                && t.starts_with("[:")
                && let Some(i) = t[2..].find(":]")
            {
                let name = &t[..i + 4];
                let inner = &name[2..name.len() - 2];
                let (neg, bare) = match inner.strip_prefix('^') {
                    Some(b) => (true, b),
                    None => (false, inner),
                };
                if !POSIX_CLASSES.contains(&bare) {
                    return Err(err(ERR_INVALID_CHAR_RANGE, name));
                }
                let text = format!("[:{}{}:]", if neg { "^" } else { "" }, bare);
                self.pos += name.len();
                self.out.push_str(&text);
                continue;
            }
            if t.starts_with("\\p") || t.starts_with("\\P") {
                self.unicode_class()?;
                continue;
            }
            if let Some(pc @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) = self.peek2()
                && c == '\\'
            {
                self.pos += 2;
                if pc.is_ascii_uppercase() {
                    let _ = write!(self.out, "[^{}]", perl_class(pc));
                } else {
                    self.out.push_str(perl_class(pc));
                }
                continue;
            }
            let item_start = self.pos;
            let lo = self.class_char(start)?;
            let mut hi = lo;
            let t = self.rest();
            if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
                self.bump();
                hi = self.class_char(start)?;
                if hi < lo {
                    return Err(err(ERR_INVALID_CHAR_RANGE, &self.src[item_start..self.pos]));
                }
            }
            push_class_char(&mut self.out, lo);
            if hi != lo {
                self.out.push('-');
                push_class_char(&mut self.out, hi);
            }
        }
        self.out.push(']');
        self.end_atom(0);
        Ok(())
    }

    fn class_char(&mut self, class_start: usize) -> Result<char, SyntaxError> {
        match self.peek() {
            None => Err(err(ERR_MISSING_BRACKET, &self.src[class_start..])),
            Some('\\') => {
                let start = self.pos;
                self.parse_escape(start)
            }
            Some(c) => {
                self.bump();
                Ok(c)
            }
        }
    }
}

/// POSIX class names Go knows.
const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// The ASCII contents of Go's Perl classes (without brackets).
fn perl_class(c: char) -> &'static str {
    match c.to_ascii_lowercase() {
        'd' => "0-9",
        's' => "\\t\\n\\x0C\\r\\x20",
        _ => "0-9A-Za-z_",
    }
}

/// Writes `c` so the `regex` crate reads exactly that character outside a class.
fn push_literal(out: &mut String, c: char) {
    if c.is_alphanumeric() || c == '_' || (!c.is_ascii() && !c.is_whitespace()) {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    }
}

/// Writes `c` so the `regex` crate reads exactly that character inside a class.
fn push_class_char(out: &mut String, c: char) {
    push_literal(out, c);
}

/// Go's `parseRepeat`: `{n}`, `{n,}`, `{n,m}` → (min, max (-1: none), length). `None` when the
/// text is not a repetition (then `{` is a literal). Numbers too large come back as -1.
fn parse_repeat(s: &str) -> Option<(i64, i64, usize)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'{') {
        return None;
    }
    let mut i = 1;
    let (mut min, n) = parse_int(&b[i..])?;
    i += n;
    let max;
    if *b.get(i)? == b',' {
        i += 1;
        if *b.get(i)? == b'}' {
            max = -1;
        } else {
            let (m, n) = parse_int(&b[i..])?;
            i += n;
            max = m;
            if m < 0 {
                // Go: a max too large makes min -1 too, so the count is rejected.
                min = -1;
            }
        }
    } else {
        max = min;
    }
    if *b.get(i)? != b'}' {
        return None;
    }
    Some((min, max, i + 1))
}

/// Go's `parseInt`: digits without a leading zero; value -1 when ≥ 1e8.
fn parse_int(b: &[u8]) -> Option<(i64, usize)> {
    let first = *b.first()?;
    if !first.is_ascii_digit() {
        return None;
    }
    if b.len() >= 2 && first == b'0' && b[1].is_ascii_digit() {
        return None;
    }
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut v: i64 = 0;
    for &d in &b[..n] {
        if v >= 100_000_000 {
            v = -1;
            break;
        }
        v = v * 10 + i64::from(d - b'0');
    }
    Some((v, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(s: &str) -> String {
        match translate(s) {
            Ok(t) => t.pattern,
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn translations() {
        assert_eq!(tr(r"\d+"), "[0-9]+");
        assert_eq!(tr(r"\W"), "[^0-9A-Za-z_]");
        assert_eq!(tr(r"a\b"), r"a(?-u:\b)");
        assert_eq!(tr(r"\Qa.b\E+"), r"a\x{2E}b+");
        assert_eq!(tr(r"\101"), "A");
        assert_eq!(tr(r"[a&&b]"), r"[a\x{26}\x{26}b]");
        assert_eq!(tr(r"(?P<1x>a)"), "(a)");
        assert_eq!(tr("a{,5}"), r"a\x{7B}\x{2C}5\x{7D}");
        assert_eq!(tr("a{2,3}?"), "a{2,3}?");
        assert_eq!(tr("(?i-i)a"), "(?-i)a");
        assert_eq!(tr("(?)a"), "a");
        // Go applies a repetition after a flag group to the atom before it, with the new greed.
        assert_eq!(tr("a(?i)*b"), "a*(?i)b");
        assert_eq!(tr("a(?U)+"), "a+?(?U)");
        assert_eq!(tr("a(?U)(?i)+?"), "a+(?U)(?i)");
    }

    #[test]
    fn rejections() {
        assert!(tr("(?x)a").starts_with("ERR"));
        assert!(tr("a{1001}").starts_with("ERR"));
        assert!(tr("(a{100}){11}").starts_with("ERR"));
        assert_eq!(tr("(a{100}){10}"), "(a{100}){10}");
        assert!(tr("a**").starts_with("ERR"));
        assert!(tr(r"\1").starts_with("ERR"));
        assert!(tr(r"\8").starts_with("ERR"));
        assert!(tr(r"\u0041").starts_with("ERR"));
        assert!(tr(r"\<").starts_with("ERR") || tr(r"\<") == r"\x{3C}");
        assert!(tr("abc(def").starts_with("ERR error parsing regexp: missing closing )"));
        assert!(tr("[[:foo:]]").starts_with("ERR"));
        assert!(tr("*a").starts_with("ERR"));
        assert!(tr("(?=a)").starts_with("ERR"));
    }
}
