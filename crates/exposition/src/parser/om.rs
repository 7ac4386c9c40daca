//! OpenMetrics 1.0: strict line syntax and the family-level rules (metadata placement, type
//! suffixes, value rules per type, grouping, timestamp order, histogram consistency), as the
//! OpenMetrics conformance suite and its reference parser define them.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh3::xxh3_64;

use super::float::{parse_om_timestamp, parse_value};
use super::scan::{self, excerpt};
use super::{Entry, Exemplar, LabelSpan, MetricType, ParseError, Parser, RawLabels, Series};
use crate::parser::Format;

/// Family-level state carried between lines.
#[derive(Default)]
pub(super) struct State {
    fam: Option<Family>,
    /// Every sample name claimed by a finished family (clash detection).
    seen_names: HashSet<String>,
    /// Groups of the current family seen so far; kept here (not per family) so its capacity
    /// is reused from family to family.
    seen_groups: HashSet<u64, BuildHasherDefault<PreHashed>>,
    /// Scratch bytes for the canonical form of a label with escapes or a quoted name.
    scratch: Vec<u8>,
}

/// What a sample name adds to its family's name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Suffix {
    Bare,
    Total,
    Created,
    Count,
    Sum,
    Bucket,
    GCount,
    GSum,
    Info,
    Other,
}

impl Suffix {
    #[inline]
    fn of(rest: &[u8]) -> Suffix {
        match rest {
            b"" => Suffix::Bare,
            b"_total" => Suffix::Total,
            b"_created" => Suffix::Created,
            b"_count" => Suffix::Count,
            b"_sum" => Suffix::Sum,
            b"_bucket" => Suffix::Bucket,
            b"_gcount" => Suffix::GCount,
            b"_gsum" => Suffix::GSum,
            b"_info" => Suffix::Info,
            _ => Suffix::Other,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Suffix::Bare | Suffix::Other => "",
            Suffix::Total => "_total",
            Suffix::Created => "_created",
            Suffix::Count => "_count",
            Suffix::Sum => "_sum",
            Suffix::Bucket => "_bucket",
            Suffix::GCount => "_gcount",
            Suffix::GSum => "_gsum",
            Suffix::Info => "_info",
        }
    }

    /// Whether a family of type `typ` (`None`: metadata without `# TYPE`) has samples with
    /// this suffix: [`MetricType::suffixes`] for OpenMetrics, as a match.
    #[inline]
    fn allowed(self, typ: Option<MetricType>) -> bool {
        use Suffix as S;
        match typ {
            None | Some(MetricType::Gauge | MetricType::Unknown | MetricType::StateSet) => {
                self == S::Bare
            }
            Some(MetricType::Counter) => matches!(self, S::Total | S::Created),
            Some(MetricType::Summary) => {
                matches!(self, S::Bare | S::Count | S::Sum | S::Created)
            }
            Some(MetricType::Histogram) => {
                matches!(self, S::Count | S::Sum | S::Bucket | S::Created)
            }
            Some(MetricType::GaugeHistogram) => matches!(self, S::GCount | S::GSum | S::Bucket),
            Some(MetricType::Info) => self == S::Info,
        }
    }
}

/// The group keys are already xxh3 hashes: use them as they are.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `HashSet<u64>`; fold anything else in anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

struct Family {
    name: String,
    typ: Option<MetricType>,
    help: bool,
    unit: Option<String>,
    has_samples: bool,
    /// Group (label set without le/quantile/state label) of the previous sample.
    group: Option<u64>,
    /// Timestamp (seconds) of the previous sample.
    group_ts: Option<f64>,
    hist: Option<HistRun>,
}

impl Family {
    fn new(name: String, typ: Option<MetricType>) -> Self {
        Family {
            name,
            typ,
            help: false,
            unit: None,
            has_samples: false,
            group: None,
            group_ts: None,
            hist: None,
        }
    }

    fn kind(&self) -> MetricType {
        self.typ.unwrap_or(MetricType::Unknown)
    }

    /// The suffix a sample called `sample` adds to this family's name, when the sample
    /// belongs to this family.
    #[inline]
    fn suffix_of(&self, sample: &[u8]) -> Option<Suffix> {
        let rest = sample.strip_prefix(self.name.as_bytes())?;
        let s = Suffix::of(rest);
        s.allowed(self.typ).then_some(s)
    }
}

/// One run of histogram samples sharing group and timestamp (the reference parser's
/// `_check_histogram`).
struct HistRun {
    group: u64,
    ts: Option<f64>,
    count: Option<f64>,
    bucket: Option<f64>,
    value: f64,
    neg_buckets: bool,
    has_sum: bool,
    has_gsum: bool,
    neg_gsum: bool,
}

impl HistRun {
    fn new(group: u64, ts: Option<f64>) -> Self {
        HistRun {
            group,
            ts,
            count: None,
            bucket: None,
            value: 0.0,
            neg_buckets: false,
            has_sum: false,
            has_gsum: false,
            neg_gsum: false,
        }
    }

    fn check(&self, name: &str) -> Result<(), String> {
        if self.bucket != Some(f64::INFINITY) {
            return Err(format!("histogram \"{name}\" has no +Inf bucket"));
        }
        if let Some(c) = self.count
            && c != self.value
        {
            return Err(format!(
                "histogram \"{name}\": count {c} does not match the +Inf bucket {}",
                self.value
            ));
        }
        if self.has_sum && self.count.is_none() {
            return Err(format!("histogram \"{name}\": _sum without _count"));
        }
        if self.has_gsum && self.count.is_none() {
            return Err(format!("histogram \"{name}\": _gsum without _gcount"));
        }
        if !(self.has_sum || self.has_gsum) && self.count.is_some() {
            return Err(format!("histogram \"{name}\": _count without _sum"));
        }
        if self.neg_buckets && self.has_sum {
            return Err(format!(
                "histogram \"{name}\" has negative buckets and a _sum"
            ));
        }
        if !self.neg_buckets && self.neg_gsum {
            return Err(format!(
                "histogram \"{name}\": negative _gsum without negative buckets"
            ));
        }
        Ok(())
    }
}

/// Whether `s` is an integral, finite value.
fn is_integer(v: f64) -> bool {
    v.is_finite() && v.fract() == 0.0
}

/// A parsed sample line before the family rules are applied.
struct Line<'a> {
    /// The sample name, unescaped (valid UTF-8).
    name: Cow<'a, [u8]>,
    raw: &'a [u8],
    value: f64,
    ts: Option<(i64, f64)>,
    exemplar: Option<Exemplar<'a>>,
}

impl<'a> Parser<'a> {
    pub(super) fn next_om(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let b = self.input;
        let ls = self.pos;
        if ls >= b.len() {
            self.finish_family(ls)?;
            return Err(self.error(ls, "expected \"# EOF\" at the end of the body"));
        }
        match b[ls] {
            b'\n' => Err(self.error(ls, "blank lines are not allowed in OpenMetrics")),
            b'#' => {
                let le = memchr::memchr(b'\n', &b[ls..]).map_or(b.len(), |i| ls + i);
                let next = (le + 1).min(b.len());
                if &b[ls..le] == b"# EOF" {
                    if next < b.len() {
                        return Err(self.error(next, "unexpected text after \"# EOF\""));
                    }
                    self.finish_family(ls)?;
                    self.pos = b.len();
                    return Ok(Some(Entry::Eof));
                }
                let e = self.om_metadata(ls, le)?;
                self.pos = next;
                Ok(Some(e))
            }
            _ => {
                // A sample line: its end is found by reading it, not by a search beforehand.
                let (l, le) = self.om_line(ls)?;
                let e = if self.om_family_checks {
                    self.om_sample(l, ls)?
                } else {
                    Entry::Series(Series {
                        raw: l.raw,
                        value: l.value,
                        timestamp_ms: l.ts.map(|t| t.0),
                        exemplar: l.exemplar,
                    })
                };
                self.pos = (le + 1).min(b.len());
                Ok(Some(e))
            }
        }
    }

    /// Closes the current family: name clashes, unit rules, the last histogram run.
    fn finish_family(&mut self, at: usize) -> Result<(), ParseError> {
        self.om.seen_groups.clear();
        let Some(fam) = self.om.fam.take() else {
            return Ok(());
        };
        let kind = fam.kind();
        let mut claim = |suffix: &str| -> Result<(), String> {
            let n = format!("{}{suffix}", fam.name);
            if !self.om.seen_names.insert(n.clone()) {
                return Err(format!("clashing metric name \"{n}\""));
            }
            Ok(())
        };
        let mut result = claim("");
        for s in kind.suffixes(Format::OpenMetrics) {
            if result.is_ok() && !s.is_empty() {
                result = claim(s);
            }
        }
        if result.is_ok()
            && let Some(u) = fam.unit.as_deref()
            && !u.is_empty()
        {
            if !fam.name.strip_suffix(u).is_some_and(|p| p.ends_with('_')) {
                result = Err(format!(
                    "unit \"{u}\" is not a suffix of metric name \"{}\"",
                    fam.name
                ));
            } else if matches!(kind, MetricType::Info | MetricType::StateSet) {
                result = Err(format!(
                    "metric \"{}\" of type {} cannot have a unit",
                    fam.name,
                    kind.as_str(Format::OpenMetrics)
                ));
            }
        }
        if result.is_ok()
            && let Some(run) = &fam.hist
        {
            result = run.check(&fam.name);
        }
        result.map_err(|m| self.error(at, m))
    }

    /// `# HELP|TYPE|UNIT name text`.
    fn om_metadata(&mut self, ls: usize, le: usize) -> Result<Entry<'a>, ParseError> {
        let b = &self.input[..le];
        let kw_at = ls + 2;
        let kind = if b.get(ls + 1) != Some(&b' ') {
            None
        } else if b[kw_at..].starts_with(b"HELP ") {
            Some(0)
        } else if b[kw_at..].starts_with(b"TYPE ") {
            Some(1)
        } else if b[kw_at..].starts_with(b"UNIT ") {
            Some(2)
        } else {
            None
        };
        let Some(kind) = kind else {
            return Err(self.error(
                ls,
                format!(
                    "expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\", found \"{}\"",
                    excerpt(&b[ls..])
                ),
            ));
        };
        let kw = ["HELP", "TYPE", "UNIT"][kind];
        let n = kw_at + 5;
        let (name, name_end): (Cow<'a, str>, usize) = match b.get(n) {
            Some(b'"') => {
                let q = scan::scan_quoted(b, n)
                    .map_err(|at| self.error(at, "unterminated quoted metric name"))?;
                let inner = scan::utf8(&self.input[n + 1..q.end - 1])
                    .ok_or_else(|| self.error(n, "metric name is not valid UTF-8"))?;
                if inner.is_empty() {
                    return Err(self.error(n, "empty metric name"));
                }
                (
                    if q.escaped {
                        scan::unescape(inner)
                    } else {
                        Cow::Borrowed(inner)
                    },
                    q.end,
                )
            }
            Some(&c) if scan::is_metric_start(c) => {
                let e = scan::metric_name_end(b, n);
                (
                    Cow::Borrowed(scan::utf8(&self.input[n..e]).unwrap_or("")),
                    e,
                )
            }
            _ => return Err(self.error(n, format!("expected metric name after {kw}"))),
        };
        if b.get(name_end) != Some(&b' ') {
            return Err(self.error(
                name_end,
                format!("expected ' ' and text after the metric name in {kw}"),
            ));
        }
        let text_start = name_end + 1;
        let text = scan::utf8(&self.input[text_start..le])
            .ok_or_else(|| self.error(text_start, format!("{kw} text is not valid UTF-8")))?;
        // Family bookkeeping.
        let same = self.om.fam.as_ref().is_some_and(|f| f.name == name);
        if !self.om_family_checks {
            // No family state: metadata is only checked for syntax.
        } else if same {
            if self.om.fam.as_ref().is_some_and(|f| f.has_samples) {
                return Err(self.error(ls, format!("{kw} for \"{name}\" after its samples")));
            }
        } else {
            self.finish_family(ls)?;
            self.om.fam = Some(Family::new(name.clone().into_owned(), None));
        }
        let dup = || format!("second {kw} line for metric \"{name}\"");
        match kind {
            0 => {
                let fam = self.om.fam.as_mut();
                if fam.as_ref().is_some_and(|f| f.help) {
                    return Err(self.error(ls, dup()));
                }
                if let Some(f) = fam {
                    f.help = true;
                }
                Ok(Entry::Help {
                    name,
                    text: scan::unescape(text),
                })
            }
            1 => {
                if self.om.fam.as_ref().is_some_and(|f| f.typ.is_some()) {
                    return Err(self.error(ls, dup()));
                }
                let kind = match text {
                    "counter" => MetricType::Counter,
                    "gauge" => MetricType::Gauge,
                    "histogram" => MetricType::Histogram,
                    "gaugehistogram" => MetricType::GaugeHistogram,
                    "summary" => MetricType::Summary,
                    "info" => MetricType::Info,
                    "stateset" => MetricType::StateSet,
                    "unknown" => MetricType::Unknown,
                    other => {
                        return Err(self.error(
                            text_start,
                            format!("invalid metric type \"{}\"", excerpt(other.as_bytes())),
                        ));
                    }
                };
                if let Some(f) = self.om.fam.as_mut() {
                    f.typ = Some(kind);
                }
                Ok(Entry::Type { name, kind })
            }
            _ => {
                if self.om.fam.as_ref().is_some_and(|f| f.unit.is_some()) {
                    return Err(self.error(ls, dup()));
                }
                if let Some(f) = self.om.fam.as_mut() {
                    f.unit = Some(text.to_owned());
                }
                Ok(Entry::Unit {
                    name,
                    unit: Cow::Borrowed(text),
                })
            }
        }
    }

    /// The syntax of the sample line that starts at `ls`, and where it ends (its newline, or
    /// the end of the input). Every scan below stops at a newline, so the line is read once.
    fn om_line(&mut self, ls: usize) -> Result<(Line<'a>, usize), ParseError> {
        let input = self.input;
        let b = input;
        self.spans.clear();
        self.reset_names();
        self.last_series = None;
        let (raw_end, name) = match b[ls] {
            b'{' => {
                let (end, name) = self.om_labels(b, ls + 1, false, false)?;
                let name = name.ok_or_else(|| self.error(ls, "metric name not set"))?;
                (end, Some(name))
            }
            c if scan::is_metric_start(c) => {
                let e = scan::metric_name_end(b, ls);
                if b.get(e) == Some(&b'{') {
                    let (end, _) = self.om_labels(b, e + 1, true, false)?;
                    (end, None)
                } else {
                    (e, None)
                }
            }
            _ => {
                return Err(self.error(
                    ls,
                    format!(
                        "expected a metric name or '#' at the start of a line, found \"{}\"",
                        line_excerpt(b, ls)
                    ),
                ));
            }
        };
        // `om_labels` checked every quoted string that is not ASCII, and everything outside
        // quotes is ASCII: `raw` is valid UTF-8.
        let raw = &input[ls..raw_end];
        let name_span = name;
        let name: Cow<'a, [u8]> = match name {
            Some((s, e, true)) => Cow::Owned(
                scan::unescape(scan::utf8(&input[s..e]).unwrap_or(""))
                    .into_owned()
                    .into_bytes(),
            ),
            Some((s, e, false)) => Cow::Borrowed(&input[s..e]),
            None => Cow::Borrowed(&raw[..scan::metric_name_end(raw, 0)]),
        };
        self.name_span = match name_span {
            Some(span) => span,
            None => (ls, ls + name.len(), false),
        };
        self.last_series = Some((ls, raw_end));
        let mut p = raw_end;
        if b.get(p) != Some(&b' ') {
            return Err(self.error(
                p,
                format!("expected ' ' and a value after \"{}\"", excerpt(raw)),
            ));
        }
        p += 1;
        let vend = token_end(b, p);
        let value = parse_value(&b[p..vend])
            .ok_or_else(|| self.error(p, format!("invalid value \"{}\"", excerpt(&b[p..vend]))))?;
        let mut line = Line {
            name,
            raw,
            value,
            ts: None,
            exemplar: None,
        };
        if b.get(vend) != Some(&b' ') {
            return Ok((line, vend));
        }
        p = vend + 1;
        if b.get(p) != Some(&b'#') {
            let tend = token_end(b, p);
            line.ts = Some(parse_om_timestamp(&b[p..tend]).ok_or_else(|| {
                self.error(p, format!("invalid timestamp \"{}\"", excerpt(&b[p..tend])))
            })?);
            if b.get(tend) != Some(&b' ') {
                return Ok((line, tend));
            }
            p = tend + 1;
        }
        let le = memchr::memchr(b'\n', &b[p..]).map_or(b.len(), |i| p + i);
        let b = &input[..le];
        if !b[p..].starts_with(b"# {") {
            return Err(self.error(
                p,
                format!(
                    "expected \"# {{\" to start an exemplar, found \"{}\"",
                    excerpt(&b[p..])
                ),
            ));
        }
        line.exemplar = Some(self.om_exemplar(b, p + 2)?);
        Ok((line, le))
    }

    /// ` # {labels} value [timestamp]` from the `{` at `p` to the end of `b`.
    fn om_exemplar(&mut self, b: &'a [u8], p: usize) -> Result<Exemplar<'a>, ParseError> {
        self.reset_names();
        let (end, _) = self.om_labels(b, p + 1, true, true)?;
        // The exemplar's labels were recorded after the line's own, for the duplicate check.
        self.spans.truncate(self.names_from);
        let raw = scan::utf8(&b[p..end])
            .ok_or_else(|| self.error(p, "invalid UTF-8 in exemplar labels"))?;
        let labels: Vec<(Cow<'a, str>, Cow<'a, str>)> = RawLabels::new(raw).collect();
        let len: usize = labels
            .iter()
            .map(|(n, v)| n.chars().count() + v.chars().count())
            .sum();
        if len > 128 {
            return Err(self.error(
                p,
                format!("exemplar labels are {len} characters long, more than 128"),
            ));
        }
        if b.get(end) != Some(&b' ') {
            return Err(self.error(end, "expected ' ' and a value after the exemplar labels"));
        }
        let vs = end + 1;
        let vend = token_end(b, vs);
        let value = parse_value(&b[vs..vend]).ok_or_else(|| {
            self.error(
                vs,
                format!("invalid exemplar value \"{}\"", excerpt(&b[vs..vend])),
            )
        })?;
        let mut timestamp_ms = None;
        if vend < b.len() {
            let ts = vend + 1;
            timestamp_ms = Some(
                parse_om_timestamp(&b[ts..])
                    .ok_or_else(|| {
                        self.error(
                            ts,
                            format!("invalid exemplar timestamp \"{}\"", excerpt(&b[ts..])),
                        )
                    })?
                    .0,
            );
        }
        Ok(Exemplar {
            labels,
            value,
            timestamp_ms,
        })
    }

    /// A strict label set after the `{` at `p` (no blanks, no trailing comma). Returns the
    /// index after `}` and, when the metric name was inside, its span (content, escaped).
    #[allow(clippy::type_complexity)]
    fn om_labels(
        &mut self,
        b: &[u8],
        mut p: usize,
        has_name: bool,
        exemplar: bool,
    ) -> Result<(usize, Option<(usize, usize, bool)>), ParseError> {
        let mut name = None;
        if b.get(p) == Some(&b'}') {
            return Ok((p + 1, name));
        }
        loop {
            let tok = p;
            let (ns, ne, esc, after) = match b.get(p) {
                Some(b'"') => {
                    let q = scan::scan_quoted_in_line(b, p)
                        .map_err(|at| self.error(at, "unterminated quoted name"))?;
                    if !q.ascii && scan::utf8(&b[p + 1..q.end - 1]).is_none() {
                        return Err(self.error(p, "invalid UTF-8 in label set"));
                    }
                    (p + 1, q.end - 1, q.escaped, q.end)
                }
                Some(&c) if scan::is_label_start(c) => {
                    let e = scan::label_name_end(b, p);
                    (p, e, false, e)
                }
                _ => {
                    return Err(self.error(
                        p,
                        format!("expected label name, found \"{}\"", line_excerpt(b, p)),
                    ));
                }
            };
            p = after;
            let quoted = b[tok] == b'"';
            if quoted && matches!(b.get(p), Some(b',' | b'}')) && !has_name && !exemplar {
                if name.is_some() {
                    return Err(self.error(tok, "metric name already set"));
                }
                if ne == ns {
                    return Err(self.error(tok, "empty metric name"));
                }
                name = Some((ns, ne, esc));
            } else {
                let shown = || excerpt(b.get(ns..ne).unwrap_or(&[]));
                if quoted && ne == ns {
                    return Err(self.error(tok, "empty label name"));
                }
                if b.get(p) != Some(&b'=') {
                    return Err(
                        self.error(p, format!("expected '=' after label name \"{}\"", shown()))
                    );
                }
                self.check_label_name(ns, ne, esc, tok)?;
                p += 1;
                if b.get(p) != Some(&b'"') {
                    return Err(self.error(
                        p,
                        format!("expected '\"' to start the value of label \"{}\"", shown()),
                    ));
                }
                let q = scan::scan_quoted_in_line(b, p).map_err(|at| {
                    self.error(at, format!("unterminated value of label \"{}\"", shown()))
                })?;
                if !q.ascii && scan::utf8(&b[p + 1..q.end - 1]).is_none() {
                    return Err(self.error(p, "invalid UTF-8 in label set"));
                }
                self.spans.push(LabelSpan {
                    ns,
                    ne,
                    nquoted: quoted,
                    nesc: esc,
                    vs: p + 1,
                    ve: q.end - 1,
                    vesc: q.escaped,
                });
                p = q.end;
            }
            match b.get(p) {
                Some(b',') => p += 1,
                Some(b'}') => return Ok((p + 1, name)),
                _ => {
                    return Err(self.error(p, "expected ',' or '}' after a label".to_string()));
                }
            }
        }
    }

    /// Applies the family rules to a parsed sample line.
    fn om_sample(&mut self, l: Line<'a>, ls: usize) -> Result<Entry<'a>, ParseError> {
        let sname: &[u8] = &l.name;
        let suffix = match self.om.fam.as_ref().and_then(|f| f.suffix_of(sname)) {
            Some(s) => s,
            None => {
                self.finish_family(ls)?;
                let name = String::from_utf8_lossy(sname).into_owned();
                self.om.fam = Some(Family::new(name, Some(MetricType::Unknown)));
                Suffix::Bare
            }
        };
        let input = self.input;
        let om = &mut self.om;
        let Some(fam) = om.fam.as_ref() else {
            return Err(self.error(ls, "internal: no family"));
        };
        let kind = fam.kind();
        let hist = matches!(kind, MetricType::Histogram | MetricType::GaugeHistogram);
        let bucket = suffix == Suffix::Bucket;
        let quantile_sample = kind == MetricType::Summary && suffix == Suffix::Bare;
        // One pass over the label spans `om_labels` recorded: the group hash and the labels
        // the rules look at.
        let mut group: u64 = 0;
        let mut le_span = None;
        let mut quantile_span = None;
        let mut state_label = false;
        for sp in &self.spans {
            let decoded;
            let n: &[u8] = if sp.nesc {
                decoded = scan::unescape(scan::utf8(&input[sp.ns..sp.ne]).unwrap_or(""));
                decoded.as_bytes()
            } else {
                &input[sp.ns..sp.ne]
            };
            let skip = match n {
                b"le" if hist && bucket => {
                    le_span = Some((sp.vs, sp.ve, sp.vesc));
                    true
                }
                b"quantile" if quantile_sample => {
                    quantile_span = Some((sp.vs, sp.ve, sp.vesc));
                    true
                }
                _ if kind == MetricType::StateSet && n == fam.name.as_bytes() => {
                    state_label = true;
                    true
                }
                _ => kind == MetricType::Info,
            };
            if !skip {
                group = group.wrapping_add(label_hash(input, sp, &mut om.scratch));
            }
        }
        let Some(fam) = self.om.fam.as_ref() else {
            return Err(self.error(ls, "internal: no family"));
        };
        let value_of = |span: Option<(usize, usize, bool)>| -> Option<Cow<'a, str>> {
            let (vs, ve, esc) = span?;
            let s = scan::utf8(&input[vs..ve]).unwrap_or("");
            Some(if esc {
                scan::unescape(s)
            } else {
                Cow::Borrowed(s)
            })
        };
        let le = value_of(le_span);
        let quantile = value_of(quantile_span);
        let fail = |p: &Self, m: String| -> ParseError { p.error(ls, m) };
        if kind == MetricType::StateSet && !state_label {
            return Err(fail(
                self,
                format!("stateset sample lacks the label \"{}\"", fam.name),
            ));
        }
        let v = l.value;
        let mut le_value = None;
        if hist && bucket {
            let bad = |s: &str| fail(self, format!("invalid le label \"{s}\""));
            let Some(le) = le.as_deref() else {
                return Err(bad(""));
            };
            let f = parse_value(le.as_bytes()).ok_or_else(|| bad(le))?;
            if f.is_nan() || (f == f64::INFINITY && le != "+Inf") {
                return Err(bad(le));
            }
            if !is_integer(v) {
                return Err(fail(self, format!("bucket value {v} is not an integer")));
            }
            le_value = Some(f);
        }
        if matches!(suffix, Suffix::Count | Suffix::GCount) && hist && !is_integer(v) {
            return Err(fail(self, format!("count value {v} is not an integer")));
        }
        if quantile_sample {
            let q = quantile
                .as_deref()
                .and_then(|q| parse_value(q.as_bytes()).map(|f| (q, f)));
            match q {
                Some((s, f)) if (0.0..=1.0).contains(&f) && !(f.is_infinite() && s != "+Inf") => {}
                _ => {
                    return Err(fail(
                        self,
                        format!(
                            "invalid quantile label \"{}\"",
                            quantile.as_deref().unwrap_or("")
                        ),
                    ));
                }
            }
            if v < 0.0 {
                return Err(fail(self, format!("quantile value {v} is negative")));
            }
        }
        // Grouping and timestamp order.
        let ts = l.ts.map(|t| t.1);
        if let Some(prev) = fam.group {
            if prev != group && self.om.seen_groups.contains(&group) {
                return Err(fail(
                    self,
                    format!("samples of \"{}\" are not grouped", fam.name),
                ));
            }
            if prev == group {
                if ts.is_some() != fam.group_ts.is_some() {
                    return Err(fail(
                        self,
                        "some samples of a group have a timestamp and some have not".to_string(),
                    ));
                }
                if let (Some(a), Some(b)) = (fam.group_ts, ts)
                    && a > b
                    && kind != MetricType::Info
                {
                    return Err(fail(self, "timestamps went backwards".to_string()));
                }
            }
        }
        if kind == MetricType::StateSet && v != 0.0 && v != 1.0 {
            return Err(fail(self, format!("stateset value {v} is not 0 or 1")));
        }
        if kind == MetricType::Info && v != 1.0 {
            return Err(fail(self, format!("info value {v} is not 1")));
        }
        let counter_like = matches!(
            suffix,
            Suffix::Total
                | Suffix::Sum
                | Suffix::Count
                | Suffix::Bucket
                | Suffix::GCount
                | Suffix::GSum
        );
        if counter_like && v.is_nan() {
            return Err(fail(
                self,
                format!("{} value cannot be NaN", suffix.as_str()),
            ));
        }
        if counter_like && suffix != Suffix::GSum && v < 0.0 {
            return Err(fail(
                self,
                format!("{} value {v} is negative", suffix.as_str()),
            ));
        }
        if l.exemplar.is_some()
            && !((hist && suffix == Suffix::Bucket)
                || (kind == MetricType::Counter && suffix == Suffix::Total))
        {
            return Err(fail(
                self,
                "exemplars are only allowed on counter _total and histogram _bucket samples"
                    .to_string(),
            ));
        }
        // Histogram run checks.
        let mut hist_err = None;
        if let Some(fam) = self.om.fam.as_mut() {
            if hist {
                let new_run = fam
                    .hist
                    .as_ref()
                    .is_none_or(|r| r.group != group || r.ts != ts);
                if new_run {
                    if let Some(r) = &fam.hist
                        && let Err(m) = r.check(&fam.name)
                    {
                        hist_err = Some(m);
                    }
                    fam.hist = Some(HistRun::new(group, ts));
                }
                if hist_err.is_none()
                    && let Some(r) = fam.hist.as_mut()
                {
                    match suffix {
                        Suffix::Bucket => {
                            let bnd = le_value.unwrap_or(f64::NAN);
                            if bnd < 0.0 {
                                r.neg_buckets = true;
                            }
                            if r.bucket.is_some_and(|p| bnd <= p) {
                                hist_err =
                                    Some(format!("buckets of \"{}\" out of order", fam.name));
                            } else if v < r.value {
                                hist_err =
                                    Some(format!("bucket values of \"{}\" decrease", fam.name));
                            }
                            r.bucket = Some(bnd);
                            r.value = v;
                        }
                        Suffix::Count | Suffix::GCount => r.count = Some(v),
                        Suffix::Sum => r.has_sum = true,
                        Suffix::GSum => {
                            r.has_gsum = true;
                            if v < 0.0 {
                                r.neg_gsum = true;
                            }
                        }
                        _ => {}
                    }
                }
            }
            // The previous group is in `seen_groups` already.
            if fam.group != Some(group) {
                self.om.seen_groups.insert(group);
            }
            fam.group = Some(group);
            fam.group_ts = ts;
            fam.has_samples = true;
        }
        if let Some(m) = hist_err {
            return Err(self.error(ls, m));
        }
        Ok(Entry::Series(Series {
            raw: l.raw,
            value: v,
            timestamp_ms: l.ts.map(|t| t.0),
            exemplar: l.exemplar,
        }))
    }
}

/// The first space or newline in `b` at or after `p`, or `b.len()`: the end of a value or
/// timestamp. These tokens are short, so a byte loop beats `memchr`'s setup.
#[inline]
fn token_end(b: &[u8], p: usize) -> usize {
    b.get(p..)
        .and_then(|r| r.iter().position(|&c| c == b' ' || c == b'\n'))
        .map_or(b.len(), |i| p + i)
}

/// [`excerpt`] of `b` from `p` to the end of that line.
#[cold]
fn line_excerpt(b: &[u8], p: usize) -> String {
    let rest = b.get(p..).unwrap_or(&[]);
    excerpt(&rest[..memchr::memchr(b'\n', rest).unwrap_or(rest.len())])
}

/// One label's term of a sample's group hash: the xxh3 hash of its canonical form
/// `name="value"`: the unescaped name, and the value escaped as the format writes it (`\\`,
/// `\"`, `\n`; every other byte as is). Equal labels give equal terms however they were written;
/// the form is unambiguous because a name without `=` ends at the first `=` (names holding `=`
/// take another form, see [`label_hash_slow`]).
#[inline]
fn label_hash(input: &[u8], sp: &LabelSpan, scratch: &mut Vec<u8>) -> u64 {
    if !sp.nquoted && (!sp.vesc || canonical_escapes(input.get(sp.vs..sp.ve).unwrap_or(&[]))) {
        // Written exactly in the canonical form (OpenMetrics allows no blanks in between).
        return xxh3_64(input.get(sp.ns..=sp.ve).unwrap_or(&[]));
    }
    label_hash_slow(input, sp, scratch)
}

/// Whether every backslash in the (escaped) value `v` starts `\\`, `\"` or `\n`: then `v` is
/// the canonical escaping of its unescaped value.
#[inline]
fn canonical_escapes(v: &[u8]) -> bool {
    let mut i = 0;
    while let Some(off) = v.get(i..).and_then(|r| memchr::memchr(b'\\', r)) {
        let at = i + off;
        if !matches!(v.get(at + 1), Some(b'\\' | b'"' | b'n')) {
            return false;
        }
        i = at + 2;
    }
    true
}

/// [`label_hash`] for a quoted name or a value with other escapes: the canonical form is
/// built in `scratch`. A name holding `=` is written `0xFF name 0xFF value` instead (0xFF never
/// occurs in UTF-8, so this cannot equal any `name="value"` form).
#[cold]
#[inline(never)]
fn label_hash_slow(input: &[u8], sp: &LabelSpan, scratch: &mut Vec<u8>) -> u64 {
    let decode = |s: usize, e: usize, esc: bool| -> Cow<'_, str> {
        let t = scan::utf8(input.get(s..e).unwrap_or(&[])).unwrap_or("");
        if esc {
            scan::unescape(t)
        } else {
            Cow::Borrowed(t)
        }
    };
    let name = decode(sp.ns, sp.ne, sp.nesc);
    let value = decode(sp.vs, sp.ve, sp.vesc);
    scratch.clear();
    if name.contains('=') {
        scratch.push(0xFF);
        scratch.extend_from_slice(name.as_bytes());
        scratch.push(0xFF);
        scratch.extend_from_slice(value.as_bytes());
    } else {
        scratch.extend_from_slice(name.as_bytes());
        scratch.extend_from_slice(b"=\"");
        for &c in value.as_bytes() {
            match c {
                b'\\' => scratch.extend_from_slice(b"\\\\"),
                b'"' => scratch.extend_from_slice(b"\\\""),
                b'\n' => scratch.extend_from_slice(b"\\n"),
                c => scratch.push(c),
            }
        }
        scratch.push(b'"');
    }
    xxh3_64(scratch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The group-hash terms of the labels of the one sample line `line`.
    fn terms(line: &str) -> Vec<u64> {
        let mut p = Parser::new(line.as_bytes(), Format::OpenMetrics);
        p.om_line(0).expect("valid line");
        let mut scratch = Vec::new();
        p.spans
            .iter()
            .map(|sp| label_hash(p.input, sp, &mut scratch))
            .collect()
    }

    #[test]
    fn label_hash_is_canonical() {
        // Quoted or bare name, escaped as written or with escapes kept verbatim: same label.
        let plain = terms(r#"m{le="a\\qb",x="1\n\"2"} 1"#);
        assert_eq!(plain, terms(r#"m{"le"="a\\qb","x"="1\n\"2"} 1"#));
        assert_eq!(plain, terms(r#"m{le="a\qb",x="1\n\"2"} 1"#));
        assert_eq!(plain, terms(r#"{"m",le="a\qb","x"="1\n\"2"} 1"#));
        assert_eq!(plain[0], xxh3_64(br#"le="a\\qb""#));
        // Different labels, different terms.
        assert_ne!(terms(r#"m{le="a"} 1"#), terms(r#"m{le="b"} 1"#));
        assert_ne!(terms(r#"m{le="a"} 1"#), terms(r#"m{lf="a"} 1"#));
        // A name holding `=` cannot pose as another split of the same bytes.
        assert_ne!(terms(r#"m{"a=\"b"="c"} 1"#), terms(r#"m{a="b=\"c"} 1"#));
    }

    #[test]
    fn suffixes_match_metric_type() {
        use MetricType as T;
        let all = [
            "", "_total", "_created", "_count", "_sum", "_bucket", "_gcount", "_gsum", "_info",
            "_x",
        ];
        for t in [
            T::Counter,
            T::Gauge,
            T::Histogram,
            T::GaugeHistogram,
            T::Summary,
            T::Info,
            T::StateSet,
            T::Unknown,
        ] {
            for s in all {
                let want = t.suffixes(Format::OpenMetrics).contains(&s);
                let suffix = Suffix::of(s.as_bytes());
                assert_eq!(suffix.allowed(Some(t)), want, "{t:?} {s:?}");
                if want {
                    assert_eq!(suffix.as_str(), s);
                }
            }
        }
        assert!(Suffix::of(b"").allowed(None));
        assert!(!Suffix::of(b"_total").allowed(None));
    }
}
