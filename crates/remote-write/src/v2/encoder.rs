//! Request bodies from queued series records, in either protocol: the 2.0 encoder (symbol
//! table, label refs, metadata refs, start timestamps) and the 1.0 one (the records as they
//! are, less 2.0's private fields), both snappy block compressed.

use bytes::Bytes;

use super::pairs::{Cached, PairCache};
use super::record::{self, CREATED_FIELD, double_len, int_len, put_double, put_int};
use super::symbols::{SymbolOverflow, SymbolTable};
use super::wire::{self, Fields, Malformed, Value};
use super::{WriteMessage, WrittenCounts};

/// Why a request could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A queued record is not what [`write_series`](super::write_series) writes.
    #[error("queued series record: {0}")]
    Record(#[from] Malformed),
    /// More distinct strings than a 2.0 request can refer to.
    #[error(transparent)]
    Symbols(#[from] SymbolOverflow),
    /// Snappy refused the body (it is larger than snappy's format allows).
    #[error("snappy compression failed: {0}")]
    Snappy(#[from] snap::Error),
}

/// A compressed request body, borrowed from the [`Codec`] until its next use.
#[derive(Debug)]
pub struct Encoded<'a> {
    /// The snappy-compressed protobuf body.
    pub body: &'a [u8],
    /// The message it carries.
    pub message: WriteMessage,
    /// Samples, histograms and exemplars in it: what a 2.0 receiver must confirm.
    pub counts: WrittenCounts,
    /// Bytes before compression.
    pub uncompressed_len: usize,
}

/// A request ready to send (and send again on retries): an owned [`Encoded`].
#[derive(Debug, Clone)]
pub struct EncodedRequest {
    /// The snappy-compressed protobuf body.
    pub body: Bytes,
    /// The message it carries, which selects the request headers.
    pub message: WriteMessage,
    /// Samples, histograms and exemplars in it.
    pub counts: WrittenCounts,
}

/// What a shard keeps from one request to the next, in both protocols: the snappy encoder
/// (its hash table allocated once), the symbol table, and the buffers the request is built
/// and compressed in. After the first few requests of a given size, building one allocates
/// nothing.
pub struct Codec {
    snappy: snap::raw::Encoder,
    symbols: SymbolTable,
    /// Series label pairs seen before, kept across requests.
    pairs: PairCache,
    /// 2.0: the encoded `TimeSeries` fields, written while the symbols are collected.
    series: Vec<u8>,
    /// The whole uncompressed request.
    raw: Vec<u8>,
    compressed: Vec<u8>,
    scratch: Scratch,
}

/// One record's parts while its 2.0 message is sized and written.
#[derive(Default)]
struct Scratch {
    label_refs: Vec<u32>,
    samples: Vec<(f64, i64)>,
    /// Per exemplar: its refs' range in `exemplar_refs`, value, timestamp.
    exemplars: Vec<(usize, usize, f64, i64)>,
    exemplar_refs: Vec<u32>,
}

impl Default for Codec {
    fn default() -> Self {
        Codec {
            snappy: snap::raw::Encoder::new(),
            symbols: SymbolTable::default(),
            pairs: PairCache::default(),
            series: Vec::new(),
            raw: Vec::new(),
            compressed: Vec::new(),
            scratch: Scratch::default(),
        }
    }
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("symbols", &self.symbols.len())
            .field("raw_capacity", &self.raw.capacity())
            .finish_non_exhaustive()
    }
}

impl Codec {
    /// Builds and compresses one request of `message` from `records`: each item is one or
    /// more series records back to back, as [`write_series`](super::write_series) (or the
    /// 1.0 queue's `proto::write_timeseries`) wrote them, so a chunk's whole buffer and its
    /// per-sample slices both work. Series without samples are left out of 2.0 requests (the
    /// spec requires at least one).
    pub fn encode<'r>(
        &mut self,
        message: WriteMessage,
        records: impl IntoIterator<Item = &'r [u8]>,
    ) -> Result<Encoded<'_>, EncodeError> {
        let counts = match message {
            WriteMessage::V1 => self.build_v1(records)?,
            WriteMessage::V2 => self.build_v2(records)?,
        };
        self.compress(message, counts)
    }

    /// A 1.0 request from records known to carry none of 2.0's private fields (what the
    /// queue's appender writes: plain 1.0 `TimeSeries`): their concatenation, compressed,
    /// without reading them, which is what the 1.0 queue always did. `counts` are the
    /// records' own (the caller knows them; they are not read here).
    pub fn request_v1_plain<'r>(
        &mut self,
        records: impl IntoIterator<Item = &'r [u8]>,
        counts: WrittenCounts,
    ) -> Result<EncodedRequest, EncodeError> {
        self.raw.clear();
        for r in records {
            self.raw.extend_from_slice(r);
        }
        let e = self.compress(WriteMessage::V1, counts)?;
        Ok(EncodedRequest {
            body: Bytes::copy_from_slice(e.body),
            message: e.message,
            counts: e.counts,
        })
    }

    /// Compresses `self.raw`, the request just built.
    fn compress(
        &mut self,
        message: WriteMessage,
        counts: WrittenCounts,
    ) -> Result<Encoded<'_>, EncodeError> {
        let need = snap::raw::max_compress_len(self.raw.len());
        if self.compressed.len() < need {
            self.compressed.resize(need, 0);
        }
        let n = self.snappy.compress(&self.raw, &mut self.compressed)?;
        Ok(Encoded {
            body: self.compressed.get(..n).unwrap_or_default(),
            message,
            counts,
            uncompressed_len: self.raw.len(),
        })
    }

    /// [`encode`](Self::encode), copied out for sending (and resending on retries).
    pub fn request<'r>(
        &mut self,
        message: WriteMessage,
        records: impl IntoIterator<Item = &'r [u8]>,
    ) -> Result<EncodedRequest, EncodeError> {
        let e = self.encode(message, records)?;
        Ok(EncodedRequest {
            body: Bytes::copy_from_slice(e.body),
            message: e.message,
            counts: e.counts,
        })
    }

    /// The last request built, uncompressed (for tests and debugging).
    pub fn last_uncompressed(&self) -> &[u8] {
        &self.raw
    }

    /// Capacities of every buffer, to check that steady state does not grow them.
    #[cfg(test)]
    pub(super) fn capacities(&self) -> [usize; 8] {
        [
            self.pairs.capacity(),
            self.series.capacity(),
            self.raw.capacity(),
            self.compressed.capacity(),
            self.scratch.label_refs.capacity(),
            self.scratch.samples.capacity(),
            self.scratch.exemplar_refs.capacity(),
            self.symbols.capacity(),
        ]
    }

    /// 1.0: the records' `TimeSeries` as they are; records with 2.0's private fields are
    /// written again without them.
    fn build_v1<'r>(
        &mut self,
        records: impl IntoIterator<Item = &'r [u8]>,
    ) -> Result<WrittenCounts, EncodeError> {
        self.raw.clear();
        let mut counts = WrittenCounts::default();
        for item in records {
            for f in Fields::new(item) {
                let (1, Value::Bytes(body)) = f? else {
                    continue;
                };
                let mut kept = 0;
                let mut private = false;
                for f in Fields::new(body) {
                    match f? {
                        (n @ 1..=3, Value::Bytes(b)) => {
                            kept += wire::len_field_len(b.len());
                            match n {
                                2 => counts.samples += 1,
                                3 => counts.exemplars += 1,
                                _ => {}
                            }
                        }
                        _ => private = true,
                    }
                }
                wire::put_len_prefix(&mut self.raw, 0x0a, kept);
                if !private {
                    self.raw.extend_from_slice(body);
                    continue;
                }
                for f in Fields::new(body) {
                    if let (n @ 1..=3, Value::Bytes(b)) = f? {
                        wire::put_bytes_field(&mut self.raw, (n as u8) << 3 | 2, b);
                    }
                }
            }
        }
        Ok(counts)
    }

    /// 2.0: symbols first, then one `TimeSeries` per record.
    fn build_v2<'r>(
        &mut self,
        records: impl IntoIterator<Item = &'r [u8]>,
    ) -> Result<WrittenCounts, EncodeError> {
        self.symbols.clear();
        self.pairs.next_request();
        self.series.clear();
        let mut counts = WrittenCounts::default();
        for item in records {
            for f in Fields::new(item) {
                if let (1, Value::Bytes(body)) = f? {
                    self.add_series(body, &mut counts)?;
                }
            }
        }
        self.raw.clear();
        self.raw
            .reserve(self.symbols.encoded_len() + self.series.len());
        self.symbols.write(&mut self.raw);
        self.raw.extend_from_slice(&self.series);
        Ok(counts)
    }

    /// Interns one record's strings and appends its 2.0 `TimeSeries` to `self.series`.
    fn add_series(&mut self, body: &[u8], counts: &mut WrittenCounts) -> Result<(), EncodeError> {
        // A series without samples is left out, and the strings it added with it.
        let mark = self.symbols.len();
        let s = &mut self.scratch;
        s.label_refs.clear();
        s.samples.clear();
        s.exemplars.clear();
        s.exemplar_refs.clear();
        let (mut metric_type, mut help, mut unit, mut created) = (0u64, 0u32, 0u32, 0i64);
        for f in Fields::new(body) {
            match f? {
                (1, Value::Bytes(l)) => {
                    let refs = match self.pairs.lookup(l) {
                        Cached::Known(refs) => refs,
                        Cached::Unknown(id) => {
                            let refs = intern_pair(&mut self.symbols, l)?;
                            self.pairs.set(id, refs);
                            refs
                        }
                    };
                    if let Some((n, v)) = refs {
                        s.label_refs.push(n);
                        s.label_refs.push(v);
                    }
                }
                (2, Value::Bytes(b)) => s.samples.push(record::read_sample(b)?),
                (3, Value::Bytes(e)) => {
                    let start = s.exemplar_refs.len();
                    let (mut v, mut t) = (0.0, 0);
                    for f in Fields::new(e) {
                        match f? {
                            (1, Value::Bytes(l)) => {
                                intern_label(&mut self.symbols, &mut s.exemplar_refs, l)?;
                            }
                            (2, Value::Fixed64(b)) => v = f64::from_le_bytes(b),
                            (3, Value::Varint(n)) => t = n as i64,
                            _ => {}
                        }
                    }
                    s.exemplars.push((start, s.exemplar_refs.len(), v, t));
                }
                (15, Value::Bytes(m)) => {
                    for f in Fields::new(m) {
                        match f? {
                            (1, Value::Varint(n)) => metric_type = n,
                            (2, Value::Bytes(b)) => help = self.symbols.intern(b)?,
                            (3, Value::Bytes(b)) => unit = self.symbols.intern(b)?,
                            _ => {}
                        }
                    }
                }
                (n, Value::Varint(v)) if n == CREATED_FIELD => created = v as i64,
                _ => {}
            }
        }
        if s.samples.is_empty() {
            if self.symbols.len() > mark {
                self.symbols.truncate(mark);
                self.pairs.forget_refs_from(mark);
            }
            return Ok(());
        }
        counts.samples += s.samples.len() as u64;
        counts.exemplars += s.exemplars.len() as u64;

        let refs_field = |refs: &[u32]| {
            if refs.is_empty() {
                0
            } else {
                wire::len_field_len(packed_len(refs))
            }
        };
        let sample_body = |&(v, t): &(f64, i64)| double_len(v) + int_len(t) + int_len(created);
        let exemplar_body = |&(a, b, v, t): &(usize, usize, f64, i64)| {
            refs_field(s.exemplar_refs.get(a..b).unwrap_or_default()) + double_len(v) + int_len(t)
        };
        let uint_len = |n: u64| if n == 0 { 0 } else { 1 + wire::varint_len(n) };
        let metadata_body =
            uint_len(metric_type) + uint_len(u64::from(help)) + uint_len(u64::from(unit));
        let series_body = refs_field(&s.label_refs)
            + s.samples
                .iter()
                .map(|x| wire::len_field_len(sample_body(x)))
                .sum::<usize>()
            + s.exemplars
                .iter()
                .map(|x| wire::len_field_len(exemplar_body(x)))
                .sum::<usize>()
            + if metadata_body == 0 {
                0
            } else {
                wire::len_field_len(metadata_body)
            };

        let out = &mut self.series;
        out.reserve(wire::len_field_len(series_body));
        wire::put_len_prefix(out, 0x2a, series_body);
        put_packed(out, 0x0a, &s.label_refs);
        for x in &s.samples {
            wire::put_len_prefix(out, 0x12, sample_body(x));
            put_double(out, 0x09, x.0);
            put_int(out, 0x10, x.1);
            put_int(out, 0x18, created);
        }
        for x in &s.exemplars {
            wire::put_len_prefix(out, 0x22, exemplar_body(x));
            put_packed(out, 0x0a, s.exemplar_refs.get(x.0..x.1).unwrap_or_default());
            put_double(out, 0x11, x.2);
            put_int(out, 0x18, x.3);
        }
        if metadata_body != 0 {
            wire::put_len_prefix(out, 0x2a, metadata_body);
            for (tag, n) in [
                (0x08, metric_type),
                (0x18, u64::from(help)),
                (0x20, u64::from(unit)),
            ] {
                if n != 0 {
                    out.push(tag);
                    wire::put_varint(out, n);
                }
            }
        }
        Ok(())
    }
}

/// Interns a `Label` message's name and value; `None` for a label with an empty name or
/// value, which is left out (the spec forbids them; Prometheus treats an empty value as
/// absent).
fn intern_pair(symbols: &mut SymbolTable, label: &[u8]) -> Result<Option<(u32, u32)>, EncodeError> {
    let (name, value) = record::read_label(label)?;
    if name.is_empty() || value.is_empty() {
        return Ok(None);
    }
    Ok(Some((symbols.intern(name)?, symbols.intern(value)?)))
}

/// [`intern_pair`] into `refs`.
fn intern_label(
    symbols: &mut SymbolTable,
    refs: &mut Vec<u32>,
    label: &[u8],
) -> Result<(), EncodeError> {
    if let Some((n, v)) = intern_pair(symbols, label)? {
        refs.push(n);
        refs.push(v);
    }
    Ok(())
}

fn packed_len(refs: &[u32]) -> usize {
    refs.iter().map(|&r| wire::varint_len(u64::from(r))).sum()
}

/// A packed `repeated uint32` field, omitted when empty.
fn put_packed(out: &mut Vec<u8>, tag: u8, refs: &[u32]) {
    if refs.is_empty() {
        return;
    }
    let len = packed_len(refs);
    out.reserve(1 + 5 + len);
    wire::put_len_prefix(out, tag, len);
    // Through a stack buffer: one copy per 16 refs instead of a growth check per byte.
    let mut buf = [0u8; 16 * 5];
    for chunk in refs.chunks(16) {
        let mut n = 0;
        for &r in chunk {
            let mut r = r;
            while r >= 0x80 {
                if let Some(b) = buf.get_mut(n) {
                    *b = (r as u8) | 0x80;
                }
                r >>= 7;
                n += 1;
            }
            if let Some(b) = buf.get_mut(n) {
                *b = r as u8;
            }
            n += 1;
        }
        out.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
}
