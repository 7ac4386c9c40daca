//! The text format 0.0.4, following Prometheus 3's `promlex.l` / `PromParser` token by token.

use std::borrow::Cow;

use super::float::{parse_text_timestamp, parse_value};
use super::scan::{self, excerpt};
use super::{Entry, LabelSpan, MetricType, ParseError, Parser, Series};

impl<'a> Parser<'a> {
    #[inline]
    pub(super) fn next_text(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let b = self.input;
        loop {
            let p = scan::skip_blanks(b, self.pos);
            let Some(&c) = b.get(p) else {
                self.pos = p;
                return Ok(None);
            };
            match c {
                b'\n' => self.pos = p + 1,
                // The lexer's `\0` rule: a NUL where a token starts ends the body.
                0 => {
                    self.pos = b.len();
                    return Ok(None);
                }
                b'#' => {
                    let r = self.text_comment(p);
                    if !matches!(r, Ok(None)) {
                        return r;
                    }
                }
                b'{' => return self.text_series(p),
                c if scan::is_metric_start(c) => return self.text_series(p),
                _ => {
                    return Err(self.error(
                        p,
                        format!(
                            "expected a metric name, '{{' or '#' at the start of a line, found \"{}\"",
                            excerpt(&b[p..p + 1])
                        ),
                    ));
                }
            }
        }
    }

    /// End of the line that contains `p` (index of its `\n`, or the input length).
    #[inline]
    fn line_end(&self, p: usize) -> usize {
        memchr::memchr(b'\n', &self.input[p..]).map_or(self.input.len(), |i| p + i)
    }

    /// A line starting with `#` at `p`: HELP, TYPE or a comment. `None` for a skipped comment.
    #[inline]
    fn text_comment(&mut self, p: usize) -> Result<Option<Entry<'a>>, ParseError> {
        let b = self.input;
        // The line end, noting on the way whether a backslash comes first (no unescaping
        // pass is needed for a HELP text without one).
        let (eol, backslash) = match scan::find_newline_or_backslash(b, p) {
            None => (b.len(), false),
            Some(i) if b[i] == b'\n' => (i, false),
            Some(i) => (self.line_end(i), true),
        };
        self.pos = (eol + 1).min(b.len());
        let after_hash = p + 1;
        let q = scan::skip_blanks(b, after_hash);
        let is_meta = |kw: &[u8]| {
            q > after_hash
                && b[q..eol].starts_with(kw)
                && matches!(b.get(q + 4), Some(b' ' | b'\t'))
        };
        let help = is_meta(b"HELP");
        if !help && !is_meta(b"TYPE") {
            return Ok(self.str_at(q, eol).map(Entry::Comment));
        }
        let kw = if help { "HELP" } else { "TYPE" };
        let n = scan::skip_blanks(b, q + 4);
        // Fast path: a legacy name and a line that is valid UTF-8 as a whole (one check for
        // name and text).
        if let Some(&c) = b.get(n)
            && scan::is_metric_start(c)
            && let Some(line) = self.str_at(n, eol)
        {
            let name_len = scan::metric_name_end(b, n) - n;
            let (name, rest) = line.split_at(name_len);
            let blank_only = !rest.bytes().any(|c| c != b' ' && c != b'\t');
            let text = if blank_only || rest.len() <= 1 {
                Some("")
            } else {
                rest.get(1..)
            };
            if help && let Some(text) = text {
                return Ok(Some(Entry::Help {
                    name: Cow::Borrowed(name),
                    text: if backslash {
                        scan::unescape_help_text(text)
                    } else {
                        Cow::Borrowed(text)
                    },
                }));
            }
            if !help && let Some(kind) = text.and_then(|t| type_keyword(t.as_bytes())) {
                return Ok(Some(Entry::Type {
                    name: Cow::Borrowed(name),
                    kind,
                }));
            }
            // Anything else takes the general path below for its error message.
        }
        // The metric name: legacy or quoted.
        let (name, name_end) = match b.get(n) {
            Some(b'"') => {
                let quoted = scan::scan_quoted(b, n).map_err(|at| {
                    self.error(at, format!("unterminated quoted metric name after {kw}"))
                })?;
                let inner = scan::utf8(&b[n + 1..quoted.end - 1]).ok_or_else(|| {
                    self.error(n, format!("metric name after {kw} is not valid UTF-8"))
                })?;
                if inner.is_empty() {
                    return Err(self.error(n, format!("empty metric name after {kw}")));
                }
                let name = if quoted.escaped {
                    scan::unescape(inner)
                } else {
                    Cow::Borrowed(inner)
                };
                (name, quoted.end)
            }
            Some(&c) if scan::is_metric_start(c) => {
                let end = scan::metric_name_end(b, n);
                (Cow::Borrowed(scan::utf8(&b[n..end]).unwrap_or("")), end)
            }
            _ => {
                return Err(self.error(n, format!("expected metric name after {kw}")));
            }
        };
        // A quoted name may contain newlines: the metadata line ends after it.
        let eol = if name_end > eol {
            let e = self.line_end(name_end);
            self.pos = (e + 1).min(b.len());
            e
        } else {
            eol
        };
        // `<sMeta2>{C}*`: the rest of the line; its first byte (the separator) is dropped,
        // and a rest made only of blanks is empty text.
        let rest = &b[name_end..eol];
        let blank_only = !rest.iter().any(|&c| c != b' ' && c != b'\t');
        let text: &[u8] = if blank_only || rest.len() <= 1 {
            b""
        } else {
            &rest[1..]
        };
        if help {
            let text = scan::utf8(text)
                .ok_or_else(|| self.error(name_end, "help text is not valid UTF-8"))?;
            return Ok(Some(Entry::Help {
                name,
                text: scan::unescape_help_text(text),
            }));
        }
        let Some(kind) = type_keyword(text) else {
            return Err(self.error(
                name_end + 1,
                format!(
                    "invalid metric type \"{}\" (expected counter, gauge, histogram, summary or untyped)",
                    excerpt(text)
                ),
            ));
        };
        Ok(Some(Entry::Type { name, kind }))
    }

    /// A sample line whose first token (a name or `{`) is at `start`.
    #[inline(always)]
    fn text_series(&mut self, start: usize) -> Result<Option<Entry<'a>>, ParseError> {
        let b = self.input;
        self.spans.clear();
        self.reset_names();
        self.last_series = None;
        let (raw_end, mut p) = if b[start] == b'{' {
            let end = self.text_labels(start + 1, false)?;
            (end, end)
        } else {
            let name_end = scan::metric_name_end(b, start);
            self.name_span = (start, name_end, false);
            let q = scan::skip_blanks(b, name_end);
            if b.get(q) == Some(&b'{') {
                let end = self.text_labels(q + 1, true)?;
                (end, end)
            } else {
                (name_end, q)
            }
        };
        let raw = &b[start..raw_end];
        self.last_series = Some((start, raw_end));
        p = scan::skip_blanks(b, p);
        let vend = scan::value_end(b, p);
        if vend == p {
            let found = match b.get(p) {
                None | Some(b'\n') => "end of line".to_string(),
                Some(_) => format!("\"{}\"", excerpt(&b[p..p + 1])),
            };
            return Err(self.error(
                p,
                format!(
                    "expected value after metric \"{}\", found {found}",
                    excerpt(&b[start..raw_end])
                ),
            ));
        }
        let value = parse_value(&b[p..vend])
            .ok_or_else(|| self.error(p, format!("invalid value \"{}\"", excerpt(&b[p..vend]))))?;
        p = scan::skip_blanks(b, vend);
        let mut timestamp_ms = None;
        match b.get(p) {
            None => {}
            Some(b'\n') => p += 1,
            Some(c) if c.is_ascii_digit() => {
                let mut tend = p;
                while b.get(tend).is_some_and(u8::is_ascii_digit) {
                    tend += 1;
                }
                timestamp_ms = Some(parse_text_timestamp(&b[p..tend]).ok_or_else(|| {
                    self.error(
                        p,
                        format!("timestamp \"{}\" out of range", excerpt(&b[p..tend])),
                    )
                })?);
                p = scan::skip_blanks(b, tend);
                match b.get(p) {
                    None => {}
                    Some(b'\n') => p += 1,
                    Some(_) => {
                        return Err(self.error(
                            p,
                            format!(
                                "expected end of line after timestamp, found \"{}\"",
                                excerpt(&b[p..self.line_end(p)])
                            ),
                        ));
                    }
                }
            }
            Some(_) => {
                return Err(self.error(
                    p,
                    format!(
                        "expected integer timestamp or end of line after value, found \"{}\"",
                        excerpt(&b[p..self.line_end(p)])
                    ),
                ));
            }
        }
        self.pos = p;
        Ok(Some(Entry::Series(Series {
            raw,
            value,
            timestamp_ms,
            exemplar: None,
        })))
    }

    /// Fails when `input[start..end]` is not valid UTF-8, pointing at the first bad byte.
    #[cold]
    /// `what` builds the message's context only when there is an error.
    fn check_utf8(
        &self,
        start: usize,
        end: usize,
        what: impl FnOnce() -> String,
    ) -> Result<(), ParseError> {
        match std::str::from_utf8(&self.input[start..end]) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.error(start + e.valid_up_to(), format!("invalid UTF-8 {}", what()))),
        }
    }

    /// The label set after `{` at `p`; returns the index after `}`. `has_name` says whether the
    /// metric name came before the braces.
    #[inline]
    fn text_labels(&mut self, mut p: usize, mut has_name: bool) -> Result<usize, ParseError> {
        let b = self.input;
        loop {
            p = scan::skip_blanks(b, p);
            let tok_start = p;
            // A label name (or the quoted metric name), or the end of the set.
            let (nstart, nend, escaped, after) = match b.get(p) {
                Some(b'}') => break,
                Some(b'"') => {
                    let q = scan::scan_quoted(b, p)
                        .map_err(|at| self.error(at, "unterminated quoted name in label set"))?;
                    if !q.ascii {
                        self.check_utf8(p + 1, q.end - 1, || "in a quoted name".to_string())?;
                    }
                    (p + 1, q.end - 1, q.escaped, q.end)
                }
                Some(&c) if scan::is_label_start(c) => {
                    let e = scan::label_name_end(b, p);
                    (p, e, false, e)
                }
                other => {
                    let found = match other {
                        None | Some(b'\n') => "end of line".to_string(),
                        Some(_) => format!("\"{}\"", excerpt(&b[p..p + 1])),
                    };
                    return Err(self.error(p, format!("expected label name, found {found}")));
                }
            };
            p = scan::skip_blanks(b, after);
            let quoted = b[tok_start] == b'"';
            if quoted && matches!(b.get(p), Some(b',' | b'}')) {
                // `{"metric.name", ...}`
                if has_name {
                    return Err(self.error(tok_start, "metric name already set"));
                }
                if nend == nstart {
                    return Err(self.error(tok_start, "empty metric name"));
                }
                has_name = true;
                self.name_span = (nstart, nend, escaped);
                if b[p] == b',' {
                    p += 1;
                }
                continue;
            }
            let shown = || scan::excerpt(b.get(nstart..nend).unwrap_or(&[]));
            if quoted && nend == nstart {
                return Err(self.error(tok_start, "empty label name"));
            }
            if b.get(p) != Some(&b'=') {
                return Err(self.error(p, format!("expected '=' after label name \"{}\"", shown())));
            }
            self.check_label_name(nstart, nend, escaped, tok_start)?;
            p = scan::skip_blanks(b, p + 1);
            if b.get(p) != Some(&b'"') {
                return Err(self.error(
                    p,
                    format!("expected '\"' to start the value of label \"{}\"", shown()),
                ));
            }
            let q = scan::scan_quoted(b, p).map_err(|at| {
                self.error(at, format!("unterminated value of label \"{}\"", shown()))
            })?;
            if !q.ascii {
                self.check_utf8(p + 1, q.end - 1, || {
                    format!("in the value of label \"{}\"", shown())
                })?;
            }
            self.spans.push(LabelSpan {
                ns: nstart,
                ne: nend,
                nquoted: quoted,
                nesc: escaped,
                vs: p + 1,
                ve: q.end - 1,
                vesc: q.escaped,
            });
            p = scan::skip_blanks(b, q.end);
            match b.get(p) {
                Some(b',') => p += 1,
                Some(b'}') => {}
                _ => {
                    return Err(self.error(
                        p,
                        format!(
                            "expected ',' or '}}' after the value of label \"{}\"",
                            shown()
                        ),
                    ));
                }
            }
        }
        if !has_name {
            return Err(self.error(p, "metric name not set"));
        }
        Ok(p + 1)
    }
}

/// The metric type a text-format `# TYPE` line names.
fn type_keyword(text: &[u8]) -> Option<MetricType> {
    Some(match text {
        b"counter" => MetricType::Counter,
        b"gauge" => MetricType::Gauge,
        b"histogram" => MetricType::Histogram,
        b"summary" => MetricType::Summary,
        b"untyped" => MetricType::Unknown,
        _ => return None,
    })
}
