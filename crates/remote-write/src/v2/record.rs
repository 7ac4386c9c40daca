//! Series as they wait in a queue: the append-time encoding both protocols are built from.
//!
//! A record is one 1.0 `TimeSeries` message framed as field 1 of a `prometheus.WriteRequest`
//! (labels as strings, samples, exemplars in 1.0's field 3), plus two fields of our own that
//! only 2.0 sends: metadata (field 15) and the created timestamp (field 16). A record without
//! them is byte for byte what the 1.0 queue already stores (`proto::write_timeseries`), so
//! the same queue, WAL and chunks carry both protocols, and the protocol can change (a 415
//! fallback) after samples were queued. Strings stay inline because the 2.0 symbol table
//! only exists per request; the [`Codec`](super::Codec) interns them when it builds one.

use scrapeline_exposition::{Label, Labels};

use super::types::MetricType;
use super::wire::{self, Fields, Malformed, Value};

/// Tag of the record's private metadata field (15, length-delimited).
pub(super) const METADATA_TAG: u8 = (15 << 3) | 2;
/// Field number of the record's private created-timestamp field (16, varint).
pub(super) const CREATED_FIELD: u32 = 16;

/// A series' metadata as 2.0 sends it: type, help text, unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metadata<'a> {
    /// The `# TYPE`.
    pub metric_type: MetricType,
    /// The `# HELP` text, `""` when none.
    pub help: &'a str,
    /// The `# UNIT`, `""` when none.
    pub unit: &'a str,
}

impl Metadata<'_> {
    fn is_empty(&self) -> bool {
        self.metric_type == MetricType::Unspecified && self.help.is_empty() && self.unit.is_empty()
    }
}

/// One exemplar of a series' sample.
#[derive(Debug, Clone, Copy)]
pub struct Exemplar<'a> {
    /// Its labels (`trace_id`, …), sorted by name.
    pub labels: &'a Labels,
    /// The observed value.
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
}

/// What 2.0 sends about a series beyond its labels and samples. The default (no metadata,
/// no exemplars, no created timestamp) makes a record identical to a 1.0 `TimeSeries`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeriesExtras<'a> {
    /// Type, help and unit.
    pub metadata: Metadata<'a>,
    /// Exemplars of the samples.
    pub exemplars: &'a [Exemplar<'a>],
    /// When the counter started (ms since the epoch), 0 when unknown. 2.0 sends it as every
    /// sample's `start_timestamp`.
    pub created_timestamp_ms: i64,
}

/// Appends one series record (see the module docs) to `out`: what an appender queues per
/// sample. With default `extras` the bytes are exactly those of `proto::write_timeseries`.
pub fn write_series<'a>(
    out: &mut Vec<u8>,
    labels: impl Iterator<Item = Label<'a>>,
    samples: impl Iterator<Item = (f64, i64)>,
    extras: &SeriesExtras<'_>,
) {
    out.push(0x0a);
    let len_at = reserve_len(out);
    for l in labels {
        put_label(out, 0x0a, l);
    }
    for (v, t) in samples {
        put_len_prefix_known(out, 0x12, double_len(v) + int_len(t));
        put_double(out, 0x09, v);
        put_int(out, 0x10, t);
    }
    for e in extras.exemplars {
        let labels: usize = e
            .labels
            .iter()
            .map(|l| wire::len_field_len(label_len(l)))
            .sum();
        put_len_prefix_known(
            out,
            0x1a,
            labels + double_len(e.value) + int_len(e.timestamp_ms),
        );
        for l in e.labels.iter() {
            put_label(out, 0x0a, l);
        }
        put_double(out, 0x11, e.value);
        put_int(out, 0x18, e.timestamp_ms);
    }
    let m = &extras.metadata;
    if !m.is_empty() {
        let t = m.metric_type as u64;
        let body = if t == 0 { 0 } else { 1 + wire::varint_len(t) }
            + string_len(m.help)
            + string_len(m.unit);
        put_len_prefix_known(out, METADATA_TAG, body);
        if t != 0 {
            out.push(0x08);
            wire::put_varint(out, t);
        }
        put_string(out, 0x12, m.help);
        put_string(out, 0x1a, m.unit);
    }
    if extras.created_timestamp_ms != 0 {
        wire::put_varint(out, u64::from(CREATED_FIELD << 3));
        wire::put_varint(out, extras.created_timestamp_ms as u64);
    }
    finish_len(out, len_at);
}

/// Adds `extras` to the record that starts at `record_at` and ends `buf`: for what reaches
/// an appender after the sample it belongs to (an exemplar is appended after its sample, a
/// series' metadata after its first sample of a scrape loop). The record's length prefix is
/// rewritten (the record moves by a byte when the prefix grows). An error, with `buf`
/// unchanged, when no single record starts at `record_at` and ends `buf`.
pub fn extend_last_record(
    buf: &mut Vec<u8>,
    record_at: usize,
    extras: &SeriesExtras<'_>,
) -> Result<(), Malformed> {
    let bad = |what| Malformed {
        at: record_at,
        what,
    };
    let record = buf
        .get(record_at..)
        .ok_or_else(|| bad("record offset past the end"))?;
    let mut fields = Fields::new(record);
    match (fields.next(), fields.next()) {
        (Some(Ok((1, Value::Bytes(_)))), None) => {}
        (Some(Err(e)), _) => {
            return Err(Malformed {
                at: record_at + e.at,
                ..e
            });
        }
        _ => return Err(bad("not exactly one series record")),
    }
    // Write the extras as a record of their own after the old one, then merge the bodies
    // under one length prefix.
    let old_len = buf.len();
    write_series(buf, std::iter::empty(), std::iter::empty(), extras);
    let (head, tail) = buf.split_at(old_len);
    let body_of = |r: &[u8]| match Fields::new(r).next() {
        Some(Ok((_, Value::Bytes(b)))) => b.len(),
        _ => 0,
    };
    let (old_body, extra_body) = (
        body_of(head.get(record_at..).unwrap_or_default()),
        body_of(tail),
    );
    let extra_header = tail.len() - extra_body;
    let old_header = old_len - record_at - old_body;
    let mut merged = Vec::with_capacity(10);
    merged.push(0x0a);
    wire::put_varint(&mut merged, (old_body + extra_body) as u64);
    // Drop the extras' own header, then replace the old header with the merged one.
    buf.drain(old_len..old_len + extra_header);
    buf.splice(record_at..record_at + old_header, merged);
    Ok(())
}

/// Reserves two bytes for a length varint after a tag; returns where they are.
fn reserve_len(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0x80, 0x00]);
    at
}

/// Writes the length of the body that follows the two bytes reserved at `len_at`, moving the
/// body when its length varint is not two bytes long.
fn finish_len(out: &mut Vec<u8>, len_at: usize) {
    let body_at = len_at + 2;
    let len = out.len() - body_at;
    match wire::varint_len(len as u64) {
        1 => {
            out.copy_within(body_at.., len_at + 1);
            out[len_at] = len as u8;
            out.truncate(len_at + 1 + len);
        }
        2 => {
            out[len_at] = (len as u8) | 0x80;
            out[len_at + 1] = (len >> 7) as u8;
        }
        _ => {
            let mut prefix = Vec::with_capacity(10);
            wire::put_varint(&mut prefix, len as u64);
            out.splice(len_at..body_at, prefix);
        }
    }
}

fn put_len_prefix_known(out: &mut Vec<u8>, tag: u8, body: usize) {
    out.reserve(1 + 10 + body);
    wire::put_len_prefix(out, tag, body);
}

fn string_len(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        wire::len_field_len(s.len())
    }
}

fn put_string(out: &mut Vec<u8>, tag: u8, s: &str) {
    if !s.is_empty() {
        wire::put_bytes_field(out, tag, s.as_bytes());
    }
}

fn label_len(l: Label<'_>) -> usize {
    string_len(l.name) + string_len(l.value)
}

fn put_label(out: &mut Vec<u8>, tag: u8, l: Label<'_>) {
    put_len_prefix_known(out, tag, label_len(l));
    put_string(out, 0x0a, l.name);
    put_string(out, 0x12, l.value);
}

/// Bytes of a proto3 `double` field (omitted when zero, as prost omits it).
pub(super) fn double_len(v: f64) -> usize {
    if v != 0.0 { 9 } else { 0 }
}

pub(super) fn put_double(out: &mut Vec<u8>, tag: u8, v: f64) {
    if v != 0.0 {
        out.push(tag);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Bytes of a proto3 `int64` field (omitted when zero).
pub(super) fn int_len(n: i64) -> usize {
    if n != 0 {
        1 + wire::varint_len(n as u64)
    } else {
        0
    }
}

pub(super) fn put_int(out: &mut Vec<u8>, tag: u8, n: i64) {
    if n != 0 {
        out.push(tag);
        wire::put_varint(out, n as u64);
    }
}

/// A `Label` message: name and value bytes.
#[inline]
pub(super) fn read_label(body: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    // What `write_series` writes for short strings: `0a n name 12 m value`, nothing else.
    if let [0x0a, n, rest @ ..] = body
        && *n < 0x80
        && let Some((name, rest)) = rest.split_at_checked(usize::from(*n))
        && let [0x12, m, value @ ..] = rest
        && *m < 0x80
        && usize::from(*m) == value.len()
    {
        return Ok((name, value));
    }
    let (mut name, mut value) = (&[][..], &[][..]);
    for f in Fields::new(body) {
        match f? {
            (1, Value::Bytes(b)) => name = b,
            (2, Value::Bytes(b)) => value = b,
            _ => {}
        }
    }
    Ok((name, value))
}

/// A 1.0 `Sample` message: value and timestamp.
pub(super) fn read_sample(body: &[u8]) -> Result<(f64, i64), Malformed> {
    let (mut v, mut t) = (0.0, 0);
    for f in Fields::new(body) {
        match f? {
            (1, Value::Fixed64(b)) => v = f64::from_le_bytes(b),
            (2, Value::Varint(n)) => t = n as i64,
            _ => {}
        }
    }
    Ok((v, t))
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::proto;

    /// Without extras a record is the 1.0 queue's `TimeSeries`, byte for byte, whatever the
    /// length of its length varint.
    #[test]
    fn plain_records_are_the_v1_bytes() {
        let cases: Vec<(Labels, Vec<(f64, i64)>)> = vec![
            (
                Labels::from_pairs([("__name__", "up"), ("job", "node")]),
                vec![(1.0, 1_700_000_000_000), (0.0, 0), (f64::NAN, -1)],
            ),
            (Labels::empty(), vec![]),
            (Labels::from_pairs([("a", "x".repeat(100))]), vec![(1.0, 1)]),
            (Labels::from_pairs([("a", "x".repeat(16_375))]), vec![]),
            (
                Labels::from_pairs([("a", "x".repeat(70_000))]),
                vec![(3.0, 7)],
            ),
        ];
        for (labels, samples) in &cases {
            let mut v1 = Vec::new();
            proto::write_timeseries(&mut v1, labels.iter(), samples.iter().copied());
            let mut rec = Vec::new();
            write_series(
                &mut rec,
                labels.iter(),
                samples.iter().copied(),
                &SeriesExtras::default(),
            );
            assert_eq!(rec, v1);
        }
    }

    /// Extras added to the last record afterwards give the bytes of a record written with
    /// them, whatever the size of its length prefix; anything but one whole record at the
    /// offset is refused and leaves the buffer as it was.
    #[test]
    fn extending_the_last_record_is_writing_it_with_the_extras() {
        let ex = Labels::from_pairs([("trace_id", "ab")]);
        let exemplars = [Exemplar {
            labels: &ex,
            value: 1.0,
            timestamp_ms: 4,
        }];
        let extras = SeriesExtras {
            metadata: Metadata {
                metric_type: MetricType::Counter,
                help: "requests",
                unit: "",
            },
            exemplars: &exemplars,
            created_timestamp_ms: 0,
        };
        // 98 and 115 bytes of labels: the record crosses 127 bytes (one-byte prefix to two);
        // 16,350: it crosses 16,383 (two bytes to three).
        for n in [1, 98, 115, 16_350] {
            let labels = Labels::from_pairs([("__name__", "c".repeat(n))]);
            let sample = std::iter::once((2.0, 5));
            let mut want = b"previous".to_vec();
            write_series(&mut want, labels.iter(), sample.clone(), &extras);
            let mut got = b"previous".to_vec();
            write_series(&mut got, labels.iter(), sample, &SeriesExtras::default());
            extend_last_record(&mut got, 8, &extras).unwrap();
            assert_eq!(got, want, "{n}");

            let before = got.clone();
            assert_eq!(
                extend_last_record(&mut got, 0, &extras).unwrap_err().what,
                "not exactly one series record"
            );
            // Inside the record: whatever it reads there, an error.
            assert!(extend_last_record(&mut got, 9, &extras).is_err());
            assert_eq!(
                extend_last_record(&mut got, usize::MAX, &extras)
                    .unwrap_err()
                    .what,
                "record offset past the end"
            );
            assert_eq!(got, before);
        }
    }

    /// Extras are 1.0's exemplar field plus the private fields 15 and 16, and a 1.0 decoder
    /// reads the rest unchanged.
    #[test]
    fn extras_are_written_as_documented() {
        let ex = Labels::from_pairs([("trace_id", "ab")]);
        let labels = Labels::from_pairs([("__name__", "c")]);
        let mut rec = Vec::new();
        write_series(
            &mut rec,
            labels.iter(),
            std::iter::once((2.0, 5)),
            &SeriesExtras {
                metadata: Metadata {
                    metric_type: MetricType::Counter,
                    help: "h",
                    unit: "",
                },
                exemplars: &[Exemplar {
                    labels: &ex,
                    value: 1.0,
                    timestamp_ms: 4,
                }],
                created_timestamp_ms: 3,
            },
        );
        let f64_1 = 1.0f64.to_le_bytes();
        let f64_2 = 2.0f64.to_le_bytes();
        let want = [
            &[0x0a, 67][..],
            // label __name__="c"
            &[0x0a, 13, 0x0a, 8],
            b"__name__",
            &[0x12, 1, b'c'],
            // sample {2.0, 5}
            &[0x12, 11, 0x09],
            &f64_2,
            &[0x10, 5],
            // exemplar {trace_id="ab", 1.0, 4}
            &[0x1a, 27, 0x0a, 14, 0x0a, 8],
            b"trace_id",
            &[0x12, 2],
            b"ab",
            &[0x11],
            &f64_1,
            &[0x18, 4],
            // metadata {counter, help "h"}
            &[0x7a, 5, 0x08, 1, 0x12, 1, b'h'],
            // created timestamp 3
            &[0x80, 0x01, 3],
        ]
        .concat();
        assert_eq!(rec, want);
        let wr = proto::WriteRequest::decode(&rec[..]).unwrap();
        assert_eq!(wr.timeseries.len(), 1);
        assert_eq!(wr.timeseries[0].labels[0].value, "c");
        assert_eq!(wr.timeseries[0].samples[0].timestamp, 5);
    }
}
