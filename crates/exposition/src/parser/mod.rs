//! The pull parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0.
//!
//! [`Parser`] walks a whole response body (`&[u8]`) and yields one [`Entry`] per line that
//! carries information: samples ([`Series`]), `# HELP`, `# TYPE`, `# UNIT`, comments and
//! OpenMetrics' `# EOF`. Entries borrow from the input; nothing is allocated per sample on the
//! common path. Label pairs are not decoded while parsing (only validated): ask for them with
//! [`Series::labels`] or [`Series::write_labels`], or use [`Series::raw`] as a cache key and
//! skip them altogether, as Prometheus' scrape cache does.
//!
//! # What is accepted
//!
//! - [`Format::Text`] accepts exactly what Prometheus 3's `PromParser` (plus the scrape loop's
//!   label checks) accepts: blanks (spaces, tabs) between tokens, blank lines, free comments, a
//!   trailing comma in a label set, `{}`, quoted UTF-8 metric and label names
//!   (`{"name.x","l.y"="v"}`), values in Go's `ParseFloat` syntax, integer millisecond
//!   timestamps. It rejects duplicate label names (including `__name__` inside the braces),
//!   invalid names, bad UTF-8, and anything after the value and timestamp. Like Prometheus it
//!   treats a NUL byte where a line should start as the end of the body.
//! - [`Format::OpenMetrics`] is strict: it classifies every case of the OpenMetrics 1.0 parser
//!   conformance suite as the suite says (the suite's reference parser, Python's
//!   `prometheus_client`, is the authority where the specification leaves room): `# EOF`
//!   required and final, single spaces, metadata rules, type/suffix rules, histogram,
//!   summary, info and stateset value rules, exemplars (only on counters' `_total` and
//!   histogram buckets, at most 128 characters of labels), float-second timestamps, sample
//!   grouping and timestamp order. Quoted UTF-8 names are accepted as Prometheus 3 does.
//!   [`Parser::with_family_checks`]`(false)` keeps only the line syntax (and `# EOF`), which is
//!   closer to what Prometheus' own OpenMetrics parser lets through.
//!
//! ```
//! use scrapeline_exposition::parser::{Entry, Format, Parser};
//!
//! let body = b"# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 1027 1395066363000\n";
//! let mut p = Parser::new(body, Format::Text);
//! assert!(matches!(p.next_entry().unwrap(), Some(Entry::Type { .. })));
//! let Some(Entry::Series(s)) = p.next_entry().unwrap() else { panic!() };
//! assert_eq!(s.name(), "http_requests_total");
//! assert_eq!(s.labels().collect::<Vec<_>>(), vec![("code".into(), "200".into())]);
//! assert_eq!((s.value, s.timestamp_ms), (1027.0, Some(1395066363000)));
//! assert_eq!(p.next_entry().unwrap(), None);
//! ```

mod float;
mod om;
mod scan;
mod text;

use std::borrow::Cow;

use crate::labels::{LabelsBuilder, METRIC_NAME, Slot, name_before};

/// Which exposition format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    Text,
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
}

impl Format {
    /// The format a response's `Content-Type` announces, as Prometheus decides it; `None` when
    /// the type is missing or not an exposition format (the caller then applies its fallback).
    ///
    /// Only the media type counts (case-insensitive, parameters such as `version` and
    /// `charset` ignored): `application/openmetrics-text` is OpenMetrics, `text/plain` is the
    /// text format. Protobuf and anything else give `None`.
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Some(Format::OpenMetrics)
        } else if media.eq_ignore_ascii_case("text/plain") {
            Some(Format::Text)
        } else {
            None
        }
    }
}

/// The type a `# TYPE` line declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `gaugehistogram` (OpenMetrics).
    GaugeHistogram,
    /// `summary`.
    Summary,
    /// `info` (OpenMetrics).
    Info,
    /// `stateset` (OpenMetrics).
    StateSet,
    /// `untyped` (text) or `unknown` (OpenMetrics).
    Unknown,
}

impl MetricType {
    /// The keyword a `# TYPE` line uses for this type in `format` (`untyped` vs `unknown`).
    /// Types the text format lacks (gaugehistogram, info, stateset) are `untyped` there.
    pub fn as_str(self, format: Format) -> &'static str {
        match (self, format) {
            (MetricType::Counter, _) => "counter",
            (MetricType::Gauge, _) => "gauge",
            (MetricType::Histogram, _) => "histogram",
            (MetricType::Summary, _) => "summary",
            (MetricType::GaugeHistogram, Format::OpenMetrics) => "gaugehistogram",
            (MetricType::Info, Format::OpenMetrics) => "info",
            (MetricType::StateSet, Format::OpenMetrics) => "stateset",
            (MetricType::Unknown, Format::OpenMetrics) => "unknown",
            (_, Format::Text) => "untyped",
        }
    }

    /// The suffixes a sample name may add to the family name for this type in `format`
    /// (`""` is the bare family name).
    pub fn suffixes(self, format: Format) -> &'static [&'static str] {
        match (self, format) {
            (MetricType::Counter, Format::OpenMetrics) => &["_total", "_created"],
            (MetricType::Summary, Format::OpenMetrics) => &["", "_count", "_sum", "_created"],
            (MetricType::Histogram, Format::OpenMetrics) => {
                &["_count", "_sum", "_bucket", "_created"]
            }
            (MetricType::GaugeHistogram, Format::OpenMetrics) => &["_gcount", "_gsum", "_bucket"],
            (MetricType::Info, Format::OpenMetrics) => &["_info"],
            (MetricType::Histogram, Format::Text) => &["_bucket", "_sum", "_count"],
            (MetricType::Summary, Format::Text) => &["", "_sum", "_count"],
            _ => &[""],
        }
    }
}

/// A parse failure: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in bytes).
    pub column: usize,
    /// What was expected and what was found.
    pub message: String,
}

/// An exemplar attached to an OpenMetrics sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    /// The exemplar's label pairs, unescaped, in input order.
    pub labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The exemplar value.
    pub value: f64,
    /// The exemplar timestamp in milliseconds, if given.
    pub timestamp_ms: Option<i64>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series<'a> {
    /// The series identity exactly as written: metric name and label set, without value,
    /// timestamp or exemplar. Equal bytes mean an equal series: the scrape cache's key.
    pub raw: &'a [u8],
    /// The sample value.
    pub value: f64,
    /// The explicit timestamp in milliseconds, if any (OpenMetrics seconds are converted).
    pub timestamp_ms: Option<i64>,
    /// The exemplar, if any (OpenMetrics only).
    pub exemplar: Option<Exemplar<'a>>,
}

impl<'a> Series<'a> {
    fn raw_str(&self) -> Cow<'a, str> {
        match std::str::from_utf8(self.raw) {
            Ok(s) => Cow::Borrowed(s),
            // Only reachable for a `Series` built by hand: the parser validated `raw`.
            Err(_) => Cow::Owned(String::from_utf8_lossy(self.raw).into_owned()),
        }
    }

    /// The metric name, unescaped.
    pub fn name(&self) -> Cow<'a, str> {
        match self.raw_str() {
            Cow::Borrowed(s) => RawLabels::new(s).name(),
            Cow::Owned(s) => Cow::Owned(RawLabels::new(&s).name().into_owned()),
        }
    }

    /// The label pairs (not including the metric name), unescaped, in input order.
    pub fn labels(&self) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a {
        let s = self.raw_str();
        let owned: Option<Vec<(Cow<'a, str>, Cow<'a, str>)>> = match &s {
            Cow::Borrowed(_) => None,
            Cow::Owned(o) => Some(
                RawLabels::new(o)
                    .map(|(n, v)| (Cow::Owned(n.into_owned()), Cow::Owned(v.into_owned())))
                    .collect(),
            ),
        };
        let borrowed = match s {
            Cow::Borrowed(b) => Some(RawLabels::new(b)),
            Cow::Owned(_) => None,
        };
        borrowed
            .into_iter()
            .flatten()
            .chain(owned.into_iter().flatten())
    }

    /// Clears `builder` and fills it with `__name__` and every label of this series. As in
    /// Prometheus, a label with an empty value is absent.
    ///
    /// The series is read again; right after the parser returned it,
    /// [`Parser::write_labels`] gives the same result without that second read.
    pub fn write_labels(&self, builder: &mut LabelsBuilder) {
        let raw = self.raw_str();
        // The series is copied into the builder once; names and values that need no decoding
        // are referred to where they are in that copy.
        builder.start_fill(&raw);
        let base = raw.as_ptr() as usize;
        let place = |builder: &mut LabelsBuilder, text: &str| {
            let at = (text.as_ptr() as usize).wrapping_sub(base);
            if at <= raw.len() && text.len() <= raw.len() - at {
                (at, at + text.len())
            } else {
                builder.add_text(text)
            }
        };
        let it = RawLabels::new(&raw);
        let (ns, ne) = builder.add_text(METRIC_NAME);
        let (vs, ve) = place(builder, &it.name());
        if vs != ve {
            builder.push_slot(Slot { ns, ne, vs, ve });
        }
        let mut prev: Cow<'_, str> = Cow::Borrowed(METRIC_NAME);
        let mut in_order = true;
        for (n, v) in it {
            if v.is_empty() {
                continue;
            }
            in_order &= name_before(prev.as_bytes(), n.as_bytes());
            let (ns, ne) = place(builder, &n);
            let (vs, ve) = place(builder, &v);
            builder.push_slot(Slot { ns, ne, vs, ve });
            prev = n;
        }
        if !in_order {
            builder.sort_spans(true);
        }
    }
}

/// Walks validated series bytes (`name{labels}` or `{"name", labels}`), yielding label pairs.
#[derive(Clone)]
struct RawLabels<'a> {
    s: &'a str,
    /// Position inside the braces, or `s.len()` when there are none.
    pos: usize,
}

impl<'a> RawLabels<'a> {
    fn new(s: &'a str) -> Self {
        let b = s.as_bytes();
        let pos = if b.first() == Some(&b'{') {
            1
        } else {
            let end = scan::metric_name_end(b, 0);
            match b.get(scan::skip_blanks(b, end)) {
                Some(b'{') => scan::skip_blanks(b, end) + 1,
                _ => s.len(),
            }
        };
        RawLabels { s, pos }
    }

    /// The metric name: the leading legacy name, or the quoted string inside the braces that
    /// is not followed by `=`.
    fn name(&self) -> Cow<'a, str> {
        let b = self.s.as_bytes();
        if b.first() != Some(&b'{') {
            let end = scan::metric_name_end(b, 0);
            return Cow::Borrowed(self.s.get(..end).unwrap_or(""));
        }
        let mut p = 1;
        loop {
            p = scan::skip_blanks(b, p);
            let Some(t) = self.token(p) else {
                return Cow::Borrowed("");
            };
            let after = scan::skip_blanks(b, t.end);
            if b.get(after) != Some(&b'=') {
                return t.text;
            }
            // Skip `= "value"` and an optional comma.
            let v = scan::skip_blanks(b, after + 1);
            let Ok(q) = scan::scan_quoted(b, v) else {
                return Cow::Borrowed("");
            };
            p = scan::skip_blanks(b, q.end);
            if b.get(p) == Some(&b',') {
                p += 1;
            }
        }
    }

    /// A label name or quoted string at `p`.
    #[inline(always)]
    fn token(&self, p: usize) -> Option<Token<'a>> {
        let b = self.s.as_bytes();
        match b.get(p)? {
            b'"' => {
                let q = scan::scan_quoted(b, p).ok()?;
                let inner = self.s.get(p + 1..q.end - 1)?;
                Some(Token {
                    text: if q.escaped {
                        scan::unescape(inner)
                    } else {
                        Cow::Borrowed(inner)
                    },
                    end: q.end,
                })
            }
            c if scan::is_label_start(*c) => {
                let end = scan::label_name_end(b, p);
                Some(Token {
                    text: Cow::Borrowed(self.s.get(p..end)?),
                    end,
                })
            }
            _ => None,
        }
    }
}

struct Token<'a> {
    text: Cow<'a, str>,
    end: usize,
}

impl<'a> Iterator for RawLabels<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let b = self.s.as_bytes();
        loop {
            let p = scan::skip_blanks(b, self.pos);
            if p >= b.len() || b[p] == b'}' {
                self.pos = b.len();
                return None;
            }
            let Some(name) = self.token(p) else {
                self.pos = b.len();
                return None;
            };
            let mut q = scan::skip_blanks(b, name.end);
            if b.get(q) != Some(&b'=') {
                // The quoted metric name inside the braces.
                if b.get(q) == Some(&b',') {
                    q += 1;
                }
                self.pos = q;
                continue;
            }
            let v = scan::skip_blanks(b, q + 1);
            let Ok(quoted) = scan::scan_quoted(b, v) else {
                self.pos = b.len();
                return None;
            };
            let inner = self.s.get(v + 1..quoted.end - 1).unwrap_or("");
            let value = if quoted.escaped {
                scan::unescape(inner)
            } else {
                Cow::Borrowed(inner)
            };
            let mut next = scan::skip_blanks(b, quoted.end);
            if b.get(next) == Some(&b',') {
                next += 1;
            }
            self.pos = next;
            return Some((name.text, value));
        }
    }
}

/// One entry of an exposition body.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// A sample line.
    Series(Series<'a>),
    /// `# HELP name text` (text unescaped).
    Help {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The help text.
        text: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The declared type.
        kind: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The unit.
        unit: Cow<'a, str>,
    },
    /// Any other comment line (text format only), without the leading `#` and the blanks
    /// after it. Comments that are not valid UTF-8 are skipped (Prometheus ignores comments).
    Comment(&'a str),
    /// `# EOF` (OpenMetrics; the last entry).
    Eof,
}

/// A pull parser over one exposition body.
pub struct Parser<'a> {
    input: &'a [u8],
    format: Format,
    pos: usize,
    done: bool,
    /// Where the label set being checked for duplicate names starts in `spans` (a sample
    /// line's labels start at 0; an exemplar's after the line's own).
    names_from: usize,
    /// Signatures ([`name_signature`]) of the names in `spans[names_from..]`: a 64-bit Bloom
    /// filter.
    names_mask: u64,
    /// For label sets past [`BIG_LABEL_SET`] names: every (unescaped) name, so a hostile line
    /// with thousands of colliding names costs linear, not quadratic, time.
    big_names: Option<std::collections::HashSet<String>>,
    /// The label spans of the current sample line, recorded while its label set is checked,
    /// so that neither the OpenMetrics family rules nor [`Parser::write_labels`] scan it again.
    spans: Vec<LabelSpan>,
    /// The metric name of the current sample line: content span (without quotes) and whether
    /// it holds a backslash.
    name_span: (usize, usize, bool),
    /// The `raw` span of the last sample line whose `spans` and `name_span` are complete.
    last_series: Option<(usize, usize)>,
    /// A stretch of the input already checked as UTF-8, from where it starts: pieces inside
    /// it are taken as `&str` without a second check (see [`Parser::str_at`]).
    utf8: std::cell::Cell<(usize, &'a str)>,
    /// OpenMetrics family-level state.
    om: om::State,
    /// Whether OpenMetrics family-level rules are enforced.
    om_family_checks: bool,
}

impl<'a> Parser<'a> {
    /// A parser over `input` in `format`.
    pub fn new(input: &'a [u8], format: Format) -> Self {
        Parser {
            input,
            format,
            pos: 0,
            done: false,
            names_from: 0,
            names_mask: 0,
            big_names: None,
            spans: Vec::new(),
            name_span: (0, 0, false),
            last_series: None,
            utf8: std::cell::Cell::new((0, "")),
            om: om::State::default(),
            om_family_checks: true,
        }
    }

    /// Turns the OpenMetrics family-level rules on (the default) or off.
    ///
    /// On, the parser classifies the OpenMetrics conformance suite exactly: metadata placement
    /// and repetition, type/suffix rules, name clashes, unit suffixes, value rules per type
    /// (counters, histograms, summaries, info, stateset), exemplar placement, sample grouping,
    /// timestamp order and histogram consistency. Off, only the line syntax is checked (and
    /// `# EOF`), which is closer to Prometheus' own `OpenMetricsParser`: it checks none of
    /// those family-level rules, so a scraper that must accept whatever Prometheus accepts
    /// turns them off. No effect on the text format.
    pub fn with_family_checks(mut self, on: bool) -> Self {
        self.om_family_checks = on;
        self
    }

    /// The format this parser reads.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The next entry; `Ok(None)` at the end of a valid body. After an error the parser is
    /// finished: every later call returns `Ok(None)`.
    #[inline]
    pub fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        if self.done {
            return Ok(None);
        }
        let r = match self.format {
            Format::Text => self.next_text(),
            Format::OpenMetrics => self.next_om(),
        };
        // Inspect by reference and hand `r` back untouched: rebuilding it would copy the
        // entry once more on the hottest path.
        if !matches!(&r, Ok(Some(e)) if !matches!(e, Entry::Eof)) {
            self.done = true;
        }
        r
    }

    /// Clears `builder` and fills it with `__name__` and every label of `series`, exactly as
    /// [`Series::write_labels`] does, but without reading the series again when `series` is
    /// the sample line this parser returned last: the name and value spans recorded while the
    /// line was checked are copied into the builder's arena in one piece (one UTF-8 check and
    /// one copy for the whole series, then one table entry per label). Any other `series`
    /// takes [`Series::write_labels`]' path. This is the scrape-cache miss path: call it
    /// right after [`next_entry`](Self::next_entry) returned the series.
    #[inline(never)]
    pub fn write_labels(&self, series: &Series<'a>, builder: &mut LabelsBuilder) {
        let Some((rs, re)) = self.last_series else {
            return series.write_labels(builder);
        };
        let Some(raw) = self.input.get(rs..re) else {
            return series.write_labels(builder);
        };
        if !std::ptr::eq(raw, series.raw) {
            return series.write_labels(builder);
        }
        let Some(text) = self.str_at(rs, re) else {
            return series.write_labels(builder);
        };
        builder.start_fill(text);
        // Spans are input offsets; the arena holds `raw` from offset 0.
        let (ns, ne) = builder.add_text(METRIC_NAME);
        let (s, e, esc) = self.name_span;
        let (vs, ve) = span_in_arena(builder, text, rs, s, e, esc);
        builder.push_slot(Slot { ns, ne, vs, ve });
        // Name order is checked on the input bytes (an escaped name just forces the sort).
        let mut prev: &[u8] = METRIC_NAME.as_bytes();
        let mut in_order = true;
        let input = self.input;
        for sp in &self.spans {
            // An empty value means an absent label; escapes never decode to nothing.
            if sp.vs == sp.ve {
                continue;
            }
            let name = input.get(sp.ns..sp.ne).unwrap_or(&[]);
            in_order &= !sp.nesc && name_before(prev, name);
            prev = name;
            let (ns, ne) = span_in_arena(builder, text, rs, sp.ns, sp.ne, sp.nesc);
            let (vs, ve) = span_in_arena(builder, text, rs, sp.vs, sp.ve, sp.vesc);
            builder.push_slot(Slot { ns, ne, vs, ve });
        }
        if !in_order {
            // The parser rejected repeated names.
            builder.sort_spans(false);
        }
    }

    /// `input[s..e]` as `&str`, or `None` when it is not valid UTF-8: exactly
    /// `std::str::from_utf8(&input[s..e]).ok()`, but a piece inside the stretch checked last
    /// costs no second check. A miss checks from `s` to [`UTF8_AHEAD`] bytes past `e` (to the
    /// end of that line) in one call, so that short lines asked for one after the other (HELP
    /// and TYPE lines, series decoded on a cache miss) share one pass over the input instead
    /// of paying one call each.
    #[inline]
    fn str_at(&self, s: usize, e: usize) -> Option<&'a str> {
        let (ws, w) = self.utf8.get();
        if s >= ws && e <= ws + w.len() {
            return w.get(s - ws..e - ws);
        }
        self.str_at_miss(s, e)
    }

    #[inline(never)]
    fn str_at_miss(&self, s: usize, e: usize) -> Option<&'a str> {
        let input = self.input;
        let piece = input.get(s..e)?;
        let ahead = e.saturating_add(UTF8_AHEAD).min(input.len());
        let end = memchr::memchr(b'\n', input.get(ahead..).unwrap_or(&[]))
            .map_or(input.len(), |i| ahead + i);
        let stretch = input.get(s..end)?;
        match std::str::from_utf8(stretch) {
            Ok(w) => {
                self.utf8.set((s, w));
                w.get(..e - s)
            }
            // Bad bytes somewhere in the stretch (a comment, say): check the piece alone.
            Err(_) => std::str::from_utf8(piece).ok(),
        }
    }

    /// A [`ParseError`] at byte offset `at`.
    #[cold]
    fn error(&self, at: usize, message: impl Into<String>) -> ParseError {
        let at = at.min(self.input.len());
        let before = &self.input[..at];
        let line = 1 + memchr::memchr_iter(b'\n', before).count();
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
        ParseError {
            line,
            column: at - line_start + 1,
            message: message.into(),
        }
    }

    /// Starts the duplicate-name bookkeeping for a new label set.
    #[inline]
    fn reset_names(&mut self) {
        self.names_from = self.spans.len();
        self.names_mask = 0;
        self.big_names = None;
    }

    /// Fails when the label name at `start..end` (content span) repeats an earlier one of the
    /// same label set (`spans[names_from..]`) or is `__name__` (which the metric name already
    /// holds). The caller records the label in `spans` once its value is read.
    #[inline]
    fn check_label_name(
        &mut self,
        start: usize,
        end: usize,
        escaped: bool,
        at: usize,
    ) -> Result<(), ParseError> {
        // Fast path: a 64-bit signature set of the names so far (length, first and last
        // byte). A name whose signature is new cannot repeat an earlier name; only on a
        // signature hit (or an escaped name) are names compared.
        if !escaped && self.big_names.is_none() {
            let name = &self.input[start..end];
            let bits = name_signature(name);
            let fresh = self.names_mask & bits != bits;
            self.names_mask |= bits;
            if fresh && name != METRIC_NAME.as_bytes() {
                return Ok(());
            }
        }
        self.check_label_name_slow(start, end, escaped, at)
    }

    #[cold]
    #[inline(never)]
    fn check_label_name_slow(
        &mut self,
        start: usize,
        end: usize,
        escaped: bool,
        at: usize,
    ) -> Result<(), ParseError> {
        let b = self.input;
        let name = &b[start..end];
        let earlier = self.spans.get(self.names_from..).unwrap_or(&[]);
        if self.big_names.is_none() && earlier.len() >= BIG_LABEL_SET {
            let set = earlier
                .iter()
                .map(|sp| scan::unescape(scan::utf8(&b[sp.ns..sp.ne]).unwrap_or("")).into_owned())
                .collect();
            self.big_names = Some(set);
        }
        if let Some(set) = self.big_names.as_mut() {
            let this = scan::unescape(scan::utf8(name).unwrap_or("")).into_owned();
            if this == METRIC_NAME || !set.insert(this.clone()) {
                return Err(self.error(at, format!("duplicate label name \"{this}\"")));
            }
            return Ok(());
        }
        if escaped {
            let this = scan::unescape(scan::utf8(name).unwrap_or(""));
            self.names_mask |= name_signature(this.as_bytes());
        }
        let dup = if escaped {
            let this = scan::unescape(scan::utf8(name).unwrap_or(""));
            this == METRIC_NAME
                || earlier.iter().any(|sp| {
                    let other = scan::utf8(&b[sp.ns..sp.ne]).unwrap_or("");
                    if sp.nesc {
                        scan::unescape(other) == this
                    } else {
                        other == this
                    }
                })
        } else {
            name == METRIC_NAME.as_bytes()
                || earlier.iter().any(|sp| {
                    if sp.nesc {
                        scan::unescape(scan::utf8(&b[sp.ns..sp.ne]).unwrap_or("")).as_bytes()
                            == name
                    } else {
                        &b[sp.ns..sp.ne] == name
                    }
                })
        };
        if dup {
            let shown = scan::unescape(scan::utf8(name).unwrap_or("")).into_owned();
            return Err(self.error(at, format!("duplicate label name \"{shown}\"")));
        }
        Ok(())
    }
}

/// Where one label of a sample line lies in the input.
#[derive(Clone, Copy)]
struct LabelSpan {
    /// Name content (without quotes).
    ns: usize,
    ne: usize,
    /// Whether the name was quoted.
    nquoted: bool,
    /// Whether the (quoted) name holds a backslash.
    nesc: bool,
    /// Value content (without quotes); `ve` is the index of the closing quote.
    vs: usize,
    ve: usize,
    /// Whether the value holds a backslash.
    vesc: bool,
}

/// Where the text of input span `s..e` (inside the series `text` that starts at input offset
/// `rs` and fills the start of the builder's arena) is in the arena: in place, or, when it
/// holds escapes, decoded and appended.
#[inline(always)]
fn span_in_arena(
    builder: &mut LabelsBuilder,
    text: &str,
    rs: usize,
    s: usize,
    e: usize,
    escaped: bool,
) -> (usize, usize) {
    let (s, e) = (s.wrapping_sub(rs), e.wrapping_sub(rs));
    if !escaped {
        return (s, e);
    }
    let arena = builder.arena_mut();
    let start = arena.len();
    scan::unescape_into(arena, text.get(s..e).unwrap_or(""));
    (start, arena.len())
}

/// How far past the piece asked for [`Parser::str_at`] checks UTF-8 ahead.
const UTF8_AHEAD: usize = 4096;

/// Past this many label names in one set, duplicate checks switch to a hash set.
const BIG_LABEL_SET: usize = 32;

/// Two bits of 64 chosen by a label name's length and its first, second and last bytes:
/// equal names have equal signatures, so a signature with a bit not yet set proves a new name.
#[inline]
fn name_signature(name: &[u8]) -> u64 {
    let first = u64::from(name.first().copied().unwrap_or(0));
    let second = u64::from(name.get(1).copied().unwrap_or(0));
    let last = u64::from(name.last().copied().unwrap_or(0));
    let h = (name.len() as u64 | first << 8 | second << 16 | last << 24)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (1u64 << (h >> 58)) | (1u64 << ((h >> 52) & 63))
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

#[cfg(test)]
mod tests;
