//! Label sets: the identity of every series and target in Scrapeline.
//!
//! A [`Labels`] is immutable and sorted by name, with at most one value per name, stored in one
//! string buffer plus one small table of offsets. Two label sets are equal exactly when they hold
//! the same pairs, and [`Labels::stable_hash`] is the same 64-bit value Prometheus computes for
//! the same set (`xxhash64` over `name 0xff value 0xff …`), so hashes can be compared with
//! Prometheus' and survive restarts.
//!
//! Edit a label set with a [`LabelsBuilder`]: it keeps its buffers between uses, so relabeling
//! many targets in a row allocates only when the result is taken out with
//! [`LabelsBuilder::labels`].
//!
//! ```
//! use scrapeline_exposition::labels::{Labels, LabelsBuilder};
//!
//! let ls = Labels::from_pairs([("job", "node"), ("__name__", "up"), ("instance", "a:9100")]);
//! assert_eq!(ls.get("job"), Some("node"));
//! assert_eq!(ls.to_string(), r#"{__name__="up", instance="a:9100", job="node"}"#);
//!
//! let mut b = LabelsBuilder::from_labels(&ls);
//! b.set("job", "other");
//! b.del("instance");
//! assert_eq!(b.labels().to_string(), r#"{__name__="up", job="other"}"#);
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The reserved label name that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label: a name and a value, borrowed from a [`Labels`] or a builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label<'a> {
    /// The label name.
    pub name: &'a str,
    /// The label value. Never empty inside a [`Labels`] built by the parser or relabeling,
    /// since Prometheus treats an empty value as an absent label.
    pub value: &'a str,
}

/// An immutable label set, sorted by name, one value per name.
///
/// Layout: one reference-counted, immutable `str` holding a header and then all names and
/// values back to back. The header is ASCII: a width byte `w` (1–5), the label count, then for
/// every label the end offset of its name and of its value in the data, each as `w` base-128
/// digits (the smallest width that fits the data). One allocation per set (a series' labels
/// are read in one place, which matters when millions of sets are cached), and a clone is one
/// reference-count increment, not a copy: the scrape cache, a remote-write queue and a store
/// can all hold the same series' labels for the price of one.
#[derive(Clone, Default)]
pub struct Labels {
    /// Empty for the empty set; otherwise header then data, as above.
    buf: Arc<str>,
}

/// A [`Labels`] header, decoded: digit width, label count, and where the offsets and the
/// data start in the buffer.
#[derive(Clone, Copy, Default)]
struct Header {
    w: usize,
    count: usize,
    ends_at: usize,
    data_at: usize,
}

/// The smallest number of base-128 digits that holds every value up to `max`.
fn digits_for(max: usize) -> usize {
    let mut w = 1;
    while w < 5 && (max >> (7 * w)) != 0 {
        w += 1;
    }
    w
}

/// Appends `v` as `w` base-128 digits, least significant first (ASCII, so the buffer stays a
/// valid `str`).
fn push_digits(out: &mut String, v: usize, w: usize) {
    let mut v = (v as u64).min((1u64 << (7 * w)) - 1);
    for _ in 0..w {
        out.push(char::from((v & 0x7f) as u8));
        v >>= 7;
    }
}

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Builds a label set from pairs in any order. When a name repeats, the last value wins.
    /// Pairs with an empty value are kept; use a [`LabelsBuilder`] to get Prometheus'
    /// "empty value means absent" rule.
    pub fn from_pairs<N, V, I>(pairs: I) -> Self
    where
        N: AsRef<str>,
        V: AsRef<str>,
        I: IntoIterator<Item = (N, V)>,
    {
        let mut items: Vec<(N, V)> = pairs.into_iter().collect();
        // Stable sort keeps the input order among equal names, so "last wins" below holds.
        items.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        let mut out: Vec<(&str, &str)> = Vec::with_capacity(items.len());
        for (n, v) in &items {
            let (n, v) = (n.as_ref(), v.as_ref());
            match out.last_mut() {
                Some(last) if last.0 == n => last.1 = v,
                _ => out.push((n, v)),
            }
        }
        Self::from_sorted_iter(out.iter().copied())
    }

    /// Builds a label set from pairs that are already sorted by name with no repeated name.
    ///
    /// This is the fast path for callers that keep their labels sorted (the parser's label
    /// scratch, the builder). Order is checked in debug builds only; unsorted input yields a set
    /// whose lookups may miss, never undefined behaviour.
    pub fn from_sorted_iter<'a, I>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
        I::IntoIter: Clone,
    {
        let iter = pairs.into_iter();
        let (mut bytes, mut count) = (0usize, 0usize);
        for (n, v) in iter.clone() {
            bytes += n.len() + v.len();
            count += 1;
        }
        if count == 0 {
            return Labels::default();
        }
        // Offsets beyond 35 bits cannot come from any parser or config here (bodies are
        // limited far below that); they saturate rather than wrap, so lookups miss, never alias.
        let w = digits_for(bytes.max(count));
        let mut buf = String::with_capacity(1 + w * (1 + 2 * count) + bytes);
        buf.push(char::from(w as u8));
        push_digits(&mut buf, count, w);
        let mut end = 0usize;
        for (n, v) in iter.clone() {
            end += n.len();
            push_digits(&mut buf, end, w);
            end += v.len();
            push_digits(&mut buf, end, w);
        }
        let mut prev: Option<&str> = None;
        for (n, v) in iter {
            debug_assert!(
                prev.is_none_or(|p| p < n),
                "labels not sorted: {prev:?} then {n:?}"
            );
            prev = Some(n);
            buf.push_str(n);
            buf.push_str(v);
        }
        Labels {
            buf: Arc::from(buf),
        }
    }

    /// The decoded header; read once per lookup or iteration, not once per label.
    #[inline]
    fn header(&self) -> Header {
        let Some(&w) = self.buf.as_bytes().first() else {
            return Header::default();
        };
        let w = w as usize;
        let count = self.digits_at(1, w);
        let ends_at = 1 + w;
        Header {
            w,
            count,
            ends_at,
            data_at: ends_at + 2 * count * w,
        }
    }

    /// The `w`-digit number at byte `pos` of the header.
    #[inline]
    fn digits_at(&self, pos: usize, w: usize) -> usize {
        let digits = self.buf.as_bytes().get(pos..pos + w).unwrap_or(&[]);
        digits
            .iter()
            .rev()
            .fold(0usize, |v, &d| (v << 7) | usize::from(d))
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.header().count
    }

    /// Whether the set has no labels.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The label at position `i` in name order, given the set's header.
    #[inline]
    fn at(&self, h: Header, i: usize) -> Label<'_> {
        let end = |k: usize| h.data_at + self.digits_at(h.ends_at + k * h.w, h.w);
        let start = if i == 0 { h.data_at } else { end(2 * i - 1) };
        let (name_end, value_end) = (end(2 * i), end(2 * i + 1));
        Label {
            name: self.buf.get(start..name_end).unwrap_or(""),
            value: self.buf.get(name_end..value_end).unwrap_or(""),
        }
    }

    /// The labels in name order.
    pub fn iter(&self) -> LabelsIter<'_> {
        let header = self.header();
        LabelsIter {
            labels: self,
            header,
            front: 0,
            back: header.count,
        }
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        let h = self.header();
        let (mut lo, mut hi) = (0, h.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let l = self.at(h, mid);
            match l.name.cmp(name) {
                Ordering::Equal => return Some(l.value),
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
            }
        }
        None
    }

    /// Whether label `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// The 64-bit hash Prometheus' `labels.Hash()` gives the same set: xxhash64 (seed 0) over
    /// every `name 0xff value 0xff` in name order. Stable across runs, builds and machines.
    pub fn stable_hash(&self) -> u64 {
        let mut h = xxhash_rust::xxh64::Xxh64::new(0);
        for l in self.iter() {
            h.update(l.name.as_bytes());
            h.update(&[0xff]);
            h.update(l.value.as_bytes());
            h.update(&[0xff]);
        }
        h.digest()
    }

    /// Bytes of heap this set holds, for memory accounting (shared by every clone; the
    /// reference-count header is not counted).
    pub fn heap_bytes(&self) -> usize {
        self.buf.len()
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        // The encoding is canonical (the width follows from the data), so equal sets have
        // equal buffers.
        Arc::ptr_eq(&self.buf, &other.buf) || self.buf == other.buf
    }
}

impl Eq for Labels {}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.stable_hash());
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    /// Label by label, name then value, a shorter prefix first: Prometheus' `labels.Compare`.
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Labels {
    /// Prometheus' `labels.String()`: `{a="1", b="2"}` with Go-quoted values; names that are not
    /// legacy-valid are quoted too, as Prometheus 3 does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if is_legacy_label_name(l.name) {
                f.write_str(l.name)?;
            } else {
                write_go_quoted(f, l.name)?;
            }
            f.write_str("=")?;
            write_go_quoted(f, l.value)?;
        }
        f.write_str("}")
    }
}

/// Whether `name` matches the legacy label-name rule `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_legacy_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return false,
    }
    b[1..]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Whether `name` matches the legacy metric-name rule `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_legacy_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':' => {}
        _ => return false,
    }
    b[1..]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// Writes `s` as Go's `strconv.Quote` does for valid UTF-8 (printable characters kept,
/// `\"`, `\\`, `\n`, `\t`, `\r` and other control characters escaped).
fn write_go_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    use fmt::Write;
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            '\u{7}' => f.write_str("\\a")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            '\u{b}' => f.write_str("\\v")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Iterator over a [`Labels`] in name order.
#[derive(Clone)]
pub struct LabelsIter<'a> {
    labels: &'a Labels,
    header: Header,
    front: usize,
    back: usize,
}

impl<'a> Iterator for LabelsIter<'a> {
    type Item = Label<'a>;

    fn next(&mut self) -> Option<Label<'a>> {
        if self.front >= self.back {
            return None;
        }
        let l = self.labels.at(self.header, self.front);
        self.front += 1;
        Some(l)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for LabelsIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        self.back -= 1;
        Some(self.labels.at(self.header, self.back))
    }
}

impl ExactSizeIterator for LabelsIter<'_> {}

impl<'a> IntoIterator for &'a Labels {
    type Item = Label<'a>;
    type IntoIter = LabelsIter<'a>;
    fn into_iter(self) -> LabelsIter<'a> {
        self.iter()
    }
}

/// A mutable, sorted label set for relabeling and label population.
///
/// Follows Prometheus' rule that an empty value means "absent": [`set`](Self::set) with an
/// empty value deletes the label. The builder keeps its buffers across
/// [`reset`](Self::reset) and [`clear`](Self::clear) calls, so reusing one builder for many
/// label sets allocates only while it grows.
///
/// Layout: every name and value lives in one string arena, and a sorted table holds where
/// each label's name and value are in it. Filling the builder is therefore a copy into one
/// buffer plus one small table entry per label (no buffer per label), which is what makes
/// decoding every series of a scrape cheap ([`crate::Parser::write_labels`]). Overwritten
/// and deleted text stays in the arena until the next `clear`/`reset`, or until it is more
/// than half of the arena, when the arena is compacted.
#[derive(Clone, Default)]
pub struct LabelsBuilder {
    /// Names and values, back to back (plus dead text, see `dead`).
    arena: String,
    /// One entry per label, sorted by name.
    entries: Vec<Slot>,
    /// Scratch for sorting `entries` (kept for its capacity).
    sorted: Vec<Slot>,
    /// Scratch for sorting: name prefix key and position of every entry.
    order: Vec<(u64, usize)>,
    /// Bytes of `arena` no entry refers to any more.
    dead: usize,
}

/// Where one label of a [`LabelsBuilder`] is in its arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Name start and end.
    pub(crate) ns: usize,
    pub(crate) ne: usize,
    /// Value start and end.
    pub(crate) vs: usize,
    pub(crate) ve: usize,
}

impl Slot {
    fn len(&self) -> usize {
        (self.ne - self.ns) + (self.ve - self.vs)
    }
}

/// Whether name `a` sorts before name `b`: byte order, inline (names are short and
/// usually differ in their first bytes, where a `memcmp` call costs more than the loop).
#[inline(always)]
pub(crate) fn name_before(a: &[u8], b: &[u8]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x < y;
        }
    }
    a.len() < b.len()
}

/// Compacts the arena once this many dead bytes are more than half of it.
const COMPACT_MIN_DEAD: usize = 4096;

impl LabelsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder holding a copy of `labels`.
    pub fn from_labels(labels: &Labels) -> Self {
        let mut b = Self::new();
        b.reset(labels);
        b
    }

    /// Replaces the content with a copy of `labels`, reusing buffers.
    pub fn reset(&mut self, labels: &Labels) {
        self.clear();
        for l in labels {
            self.push_unchecked(l.name, l.value);
        }
    }

    /// Removes every label, keeping buffers.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.entries.clear();
        self.dead = 0;
    }

    #[inline]
    fn name_of(&self, s: &Slot) -> &str {
        self.arena.get(s.ns..s.ne).unwrap_or("")
    }

    #[inline]
    fn value_of(&self, s: &Slot) -> &str {
        self.arena.get(s.vs..s.ve).unwrap_or("")
    }

    /// Appends `text` to the arena; returns its span.
    #[inline]
    fn put(&mut self, text: &str) -> (usize, usize) {
        let start = self.arena.len();
        self.arena.push_str(text);
        (start, self.arena.len())
    }

    fn push_unchecked(&mut self, name: &str, value: &str) {
        let (ns, ne) = self.put(name);
        let (vs, ve) = self.put(value);
        self.entries.push(Slot { ns, ne, vs, ve });
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| self.name_of(e).cmp(name))
    }

    /// Counts `bytes` of the arena as dead, compacting it when dead text dominates.
    fn forget(&mut self, bytes: usize) {
        self.dead += bytes;
        if self.dead >= COMPACT_MIN_DEAD && self.dead * 2 > self.arena.len() {
            self.compact();
        }
    }

    /// Rewrites the arena with only the live text, in entry order.
    #[cold]
    fn compact(&mut self) {
        let mut arena = String::with_capacity(self.arena.len() - self.dead);
        for e in &mut self.entries {
            let ns = arena.len();
            arena.push_str(self.arena.get(e.ns..e.ne).unwrap_or(""));
            let vs = arena.len();
            arena.push_str(self.arena.get(e.vs..e.ve).unwrap_or(""));
            *e = Slot {
                ns,
                ne: vs,
                vs,
                ve: arena.len(),
            };
        }
        self.arena = arena;
        self.dead = 0;
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name)
            .ok()
            .and_then(|i| self.entries.get(i))
            .map(|e| self.value_of(e))
    }

    /// Sets `name` to `value`; an empty value deletes the label (Prometheus' rule).
    pub fn set(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            self.del(name);
            return;
        }
        match self.find(name) {
            Ok(i) => {
                let old = self.entries.get(i).map_or(0, |e| e.ve - e.vs);
                if self
                    .entries
                    .get(i)
                    .is_some_and(|e| self.value_of(e) == value)
                {
                    return;
                }
                let (vs, ve) = self.put(value);
                if let Some(e) = self.entries.get_mut(i) {
                    e.vs = vs;
                    e.ve = ve;
                }
                self.forget(old);
            }
            Err(i) => {
                let (ns, ne) = self.put(name);
                let (vs, ve) = self.put(value);
                self.entries.insert(i, Slot { ns, ne, vs, ve });
            }
        }
    }

    /// The same as [`set`](Self::set), in O(1) when `name` sorts after every name present
    /// (labels arriving in order, as targets write them); otherwise it falls back to `set`.
    pub fn push(&mut self, name: &str, value: &str) {
        let after_last = self.entries.last().is_none_or(|e| self.name_of(e) < name);
        if !after_last {
            self.set(name, value);
        } else if !value.is_empty() {
            self.push_unchecked(name, value);
        }
    }

    /// Removes `name` if present.
    pub fn del(&mut self, name: &str) {
        if let Ok(i) = self.find(name) {
            let e = self.entries.remove(i);
            self.forget(e.len());
        }
    }

    /// Keeps only the labels for which `keep(name, value)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        let mut dropped = 0;
        let arena = &self.arena;
        self.entries.retain(|e| {
            let k = keep(
                arena.get(e.ns..e.ne).unwrap_or(""),
                arena.get(e.vs..e.ve).unwrap_or(""),
            );
            if !k {
                dropped += e.len();
            }
            k
        });
        if dropped > 0 {
            self.forget(dropped);
        }
    }

    /// The labels in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Label<'_>> + Clone {
        self.entries.iter().map(|e| Label {
            name: self.name_of(e),
            value: self.value_of(e),
        })
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the builder holds no labels.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the content equals `labels`, without building a new set.
    pub fn equals(&self, labels: &Labels) -> bool {
        self.len() == labels.len() && self.iter().zip(labels.iter()).all(|(a, b)| a == b)
    }

    /// The current content as an immutable [`Labels`].
    pub fn labels(&self) -> Labels {
        Labels::from_sorted_iter(self.iter().map(|l| (l.name, l.value)))
    }

    // ---- bulk filling for the parser ---------------------------------------------------------

    /// Clears the builder and copies `text` into the arena; the labels then added with
    /// [`push_span`](Self::push_span) refer into it by their offset in `text`. One copy for a whole series instead of one per name and value.
    #[inline]
    pub(crate) fn start_fill(&mut self, text: &str) {
        self.clear();
        self.arena.push_str(text);
    }

    /// Appends `text` to the arena (a decoded name or value, or a constant) and returns its
    /// span, for [`push_span`](Self::push_span).
    #[inline]
    pub(crate) fn add_text(&mut self, text: &str) -> (usize, usize) {
        self.put(text)
    }

    /// The arena, for decoding escapes straight into it (then [`push_span`](Self::push_span)
    /// with the span written).
    #[inline]
    pub(crate) fn arena_mut(&mut self) -> &mut String {
        &mut self.arena
    }

    /// Appends the label whose name and value are at `slot` in the arena, as the last one.
    /// The caller keeps Prometheus' rules (no empty value, distinct names) and calls
    /// [`sort_spans`](Self::sort_spans) when it appended out of name order.
    #[inline(always)]
    pub(crate) fn push_slot(&mut self, slot: Slot) {
        self.entries.push(slot);
    }

    /// Sorts the labels by name after [`push_slot`](Self::push_slot)s out of order: one
    /// small sort per series instead of a search and a shift per label. With
    /// `repeats_possible`, of repeated names the last one pushed is kept.
    #[cold]
    #[inline(never)]
    pub(crate) fn sort_spans(&mut self, repeats_possible: bool) {
        const SMALL: usize = 32;
        let a = self.arena.as_bytes();
        let name = |s: &Slot| a.get(s.ns..s.ne).unwrap_or(&[]);
        let n = self.entries.len();
        if n > SMALL {
            // Stable, so that of repeated names the last one added stays last.
            self.entries.sort_by(|x, y| name(x).cmp(name(y)));
            if repeats_possible {
                self.keep_last_of_repeats();
            }
            return;
        }
        // Insertion sort on the names' first eight bytes as a big-endian number (zero-padded,
        // so numeric order is byte order wherever two keys differ), comparing whole names
        // only on a tie: a series has a handful of labels, usually told apart by their first
        // bytes.
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(
            self.entries
                .iter()
                .enumerate()
                .map(|(i, e)| (prefix_key(name(e)), i)),
        );
        let entries = &self.entries;
        let full = |i: usize| entries.get(i).map_or(&[][..], name);
        for i in 1..order.len() {
            let mut j = i;
            while j > 0 {
                let (Some(&(kp, ip)), Some(&(kc, ic))) = (order.get(j - 1), order.get(j)) else {
                    break;
                };
                if !(kc < kp || (kc == kp && name_before(full(ic), full(ip)))) {
                    break;
                }
                order.swap(j - 1, j);
                j -= 1;
            }
        }
        self.sorted.clear();
        self.sorted.extend(
            order
                .iter()
                .filter_map(|&(_, i)| self.entries.get(i).copied()),
        );
        std::mem::swap(&mut self.entries, &mut self.sorted);
        self.order = order;
        if repeats_possible {
            self.keep_last_of_repeats();
        }
    }

    /// After a stable sort: of every run of equal names keeps the last entry (the value added
    /// last wins, as with [`set`](Self::set)). Series from the parser have no repeats; a
    /// hand-built [`crate::Series`] may.
    fn keep_last_of_repeats(&mut self) {
        let a = self.arena.as_bytes();
        let name = |s: &Slot| a.get(s.ns..s.ne).unwrap_or(&[]);
        let repeats = self
            .entries
            .windows(2)
            .any(|w| matches!(w, [x, y] if name(x) == name(y)));
        if !repeats {
            return;
        }
        let mut kept: Vec<Slot> = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            match kept.last_mut() {
                Some(last) if name(last) == name(e) => *last = *e,
                _ => kept.push(*e),
            }
        }
        self.entries = kept;
    }
}

/// The first eight bytes of `name` as a big-endian number, zero-padded.
#[inline(always)]
fn prefix_key(name: &[u8]) -> u64 {
    if let Some(Ok(head)) = name.get(..8).map(<[u8; 8]>::try_from) {
        return u64::from_be_bytes(head);
    }
    let mut k = [0u8; 8];
    for (d, s) in k.iter_mut().zip(name) {
        *d = *s;
    }
    u64::from_be_bytes(k)
}

impl fmt::Debug for LabelsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.labels(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_and_last_wins() {
        let ls = Labels::from_pairs([("b", "1"), ("a", "2"), ("b", "3")]);
        let v: Vec<_> = ls.iter().map(|l| (l.name, l.value)).collect();
        assert_eq!(v, vec![("a", "2"), ("b", "3")]);
        assert_eq!(ls.get("b"), Some("3"));
        assert_eq!(ls.get("c"), None);
        assert_eq!(ls.len(), 2);
    }

    #[test]
    fn empty_set() {
        let ls = Labels::empty();
        assert!(ls.is_empty());
        assert_eq!(ls.to_string(), "{}");
        assert_eq!(ls.get(""), None);
    }

    #[test]
    fn hash_matches_prometheus() {
        // Prometheus: labels.FromStrings("foo", "bar", "baz", "qux").Hash() over
        // "baz\xffqux\xfffoo\xffbar\xff" with xxhash64 seed 0.
        let ls = Labels::from_pairs([("foo", "bar"), ("baz", "qux")]);
        let want = xxhash_rust::xxh64::xxh64(b"baz\xffqux\xfffoo\xffbar\xff", 0);
        assert_eq!(ls.stable_hash(), want);
        assert_ne!(
            ls.stable_hash(),
            Labels::from_pairs([("foo", "ba"), ("baz", "qux")]).stable_hash()
        );
    }

    #[test]
    fn equality_respects_boundaries() {
        let a = Labels::from_pairs([("ab", "c")]);
        let b = Labels::from_pairs([("a", "bc")]);
        assert_ne!(a, b);
        assert_ne!(a.stable_hash(), b.stable_hash());
    }

    #[test]
    fn ordering_is_prometheus_compare() {
        let a = Labels::from_pairs([("a", "1")]);
        let b = Labels::from_pairs([("a", "1"), ("b", "1")]);
        let c = Labels::from_pairs([("a", "2")]);
        assert!(a < b && b < c);
    }

    #[test]
    fn display_quotes_like_go() {
        let ls = Labels::from_pairs([("a", "x\"y\\z\n"), ("k8s.ns", "v")]);
        assert_eq!(ls.to_string(), r#"{a="x\"y\\z\n", "k8s.ns"="v"}"#);
    }

    #[test]
    fn builder_set_del_reuse() {
        let mut b = LabelsBuilder::new();
        b.set("c", "3");
        b.set("a", "1");
        b.set("b", "2");
        b.set("a", "");
        assert_eq!(b.labels(), Labels::from_pairs([("b", "2"), ("c", "3")]));
        b.reset(&Labels::from_pairs([("z", "26")]));
        assert_eq!(b.labels(), Labels::from_pairs([("z", "26")]));
        b.set("m", "13");
        b.del("z");
        b.del("nope");
        assert_eq!(b.labels(), Labels::from_pairs([("m", "13")]));
        b.set("x", "1");
        b.set("y", "2");
        b.retain(|n, _| n != "x");
        assert_eq!(b.labels(), Labels::from_pairs([("m", "13"), ("y", "2")]));
        assert!(b.equals(&Labels::from_pairs([("m", "13"), ("y", "2")])));
    }

    #[test]
    fn builder_push_in_and_out_of_order() {
        let mut b = LabelsBuilder::new();
        b.push("a", "1");
        b.push("c", "3");
        b.push("d", "");
        b.push("b", "2");
        b.push("c", "4");
        b.push("a", "");
        assert_eq!(b.labels(), Labels::from_pairs([("b", "2"), ("c", "4")]));
    }

    #[test]
    fn legacy_names() {
        assert!(is_legacy_label_name("_a1"));
        assert!(!is_legacy_label_name("1a"));
        assert!(!is_legacy_label_name("a:b"));
        assert!(is_legacy_metric_name("a:b_c"));
        assert!(!is_legacy_metric_name(""));
    }
}

#[cfg(test)]
mod packed_layout_tests {
    use super::*;

    /// Every header width round-trips: sets whose data needs 1, 2, 3 and 4 base-128 digits
    /// per offset, empty names and values, and more labels than data bytes.
    #[test]
    fn every_width_round_trips() {
        let long = |n: usize| "v".repeat(n);
        let cases: Vec<Vec<(String, String)>> = vec![
            vec![("a".into(), "b".into())],
            vec![("__name__".into(), "up".into()), ("job".into(), long(200))],
            vec![("a".into(), long(20_000)), ("b".into(), "x".into())],
            vec![("a".into(), long(3 << 20)), ("z".into(), "last".into())],
            (0..300)
                .map(|i| (format!("n{i:03}"), String::new()))
                .collect(),
            vec![(String::new(), String::new()), ("a".into(), String::new())],
        ];
        for pairs in cases {
            let ls = Labels::from_sorted_iter(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            let got: Vec<(String, String)> = ls
                .iter()
                .map(|l| (l.name.to_owned(), l.value.to_owned()))
                .collect();
            assert_eq!(got, pairs);
            assert_eq!(ls.len(), pairs.len());
            let back: Vec<(String, String)> = ls
                .iter()
                .rev()
                .map(|l| (l.name.to_owned(), l.value.to_owned()))
                .collect();
            assert_eq!(back.len(), pairs.len());
            for (n, v) in &pairs {
                if !n.is_empty() {
                    assert_eq!(ls.get(n), Some(v.as_str()));
                }
            }
            assert_eq!(ls, ls.clone());
        }
        assert!(Labels::from_sorted_iter(std::iter::empty()).is_empty());
        assert_eq!(
            Labels::default(),
            Labels::from_pairs(Vec::<(&str, &str)>::new())
        );
    }

    #[test]
    fn equal_sets_have_equal_buffers_and_clones_share_them() {
        let a = Labels::from_pairs([("job", "x"), ("__name__", "up")]);
        let b = Labels::from_sorted_iter([("__name__", "up"), ("job", "x")]);
        assert_eq!(a, b);
        assert_eq!(a.stable_hash(), b.stable_hash());
        let c = a.clone();
        assert!(Arc::ptr_eq(&a.buf, &c.buf));
        assert_ne!(a, Labels::from_pairs([("__name__", "up"), ("job", "y")]));
    }
}
