//! Remote write 1.0 (`prometheus/prompb/remote.proto`, `types.proto`): an allocation-free
//! writer for the hot path, the snappy block framing of request bodies, and (for tests, which
//! decode what receivers would) the messages hand-written for prost so no `protoc` is needed.

#[cfg(test)]
use prost::Message;

/// `prometheus.WriteRequest`.
#[cfg(test)]
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// Field 1: the series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[cfg(test)]
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Field 1: labels, sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Field 2: samples, in timestamp order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[cfg(test)]
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// Field 1.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Field 2.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[cfg(test)]
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Field 1.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Field 2: milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// Bytes of `n` as a protobuf varint.
fn varint_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Length of a proto3 string field (omitted when empty, as prost omits it).
fn string_field_len(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        1 + varint_len(s.len() as u64) + s.len()
    }
}

fn put_string_field(out: &mut Vec<u8>, tag: u8, s: &str) {
    if !s.is_empty() {
        out.push(tag);
        put_varint(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
}

/// Length of an encoded `Sample` message (proto3 defaults omitted, as prost does).
fn sample_len(value: f64, timestamp: i64) -> usize {
    let mut n = 0;
    if value != 0.0 {
        n += 9;
    }
    if timestamp != 0 {
        n += 1 + varint_len(timestamp as u64);
    }
    n
}

/// Appends one `TimeSeries` as field 1 of a `WriteRequest` to `out`, straight from borrowed
/// labels: the hot path of remote write, with no allocation per label or sample and one pass
/// over the labels (the message length is written in front afterwards). The bytes are
/// exactly what prost writes for the same [`TimeSeries`].
pub fn write_timeseries<'a>(
    out: &mut Vec<u8>,
    labels: impl Iterator<Item = scrapeline_exposition::Label<'a>>,
    samples: impl Iterator<Item = (f64, i64)>,
) {
    out.push(0x0a);
    // Room for a two-byte length varint, what a series of 128 to 16,383 encoded bytes (almost
    // every real one) needs, so the common case writes its length in place. Other lengths
    // move the body by one byte (shorter) or splice in a longer varint.
    let len_at = out.len();
    out.extend_from_slice(&[0x80, 0x00]);
    let body_at = out.len();
    for l in labels {
        let m = string_field_len(l.name) + string_field_len(l.value);
        out.reserve(1 + 5 + m);
        out.push(0x0a);
        put_varint(out, m as u64);
        put_string_field(out, 0x0a, l.name);
        put_string_field(out, 0x12, l.value);
    }
    for (v, t) in samples {
        out.push(0x12);
        put_varint(out, sample_len(v, t) as u64);
        if v != 0.0 {
            out.push(0x09);
            out.extend_from_slice(&v.to_le_bytes());
        }
        if t != 0 {
            out.push(0x10);
            put_varint(out, t as u64);
        }
    }
    let len = out.len() - body_at;
    let mut prefix = [0u8; 10];
    let n = varint_into(&mut prefix, len as u64);
    match n {
        2 => out[len_at..body_at].copy_from_slice(&prefix[..2]),
        1 => {
            out.copy_within(body_at.., len_at + 1);
            out[len_at] = prefix[0];
            out.truncate(len_at + 1 + len);
        }
        _ => {
            out.splice(len_at..body_at, prefix[..n].iter().copied());
        }
    }
}

/// Writes `n` as a varint at the start of `buf`; returns its length.
fn varint_into(buf: &mut [u8; 10], mut n: u64) -> usize {
    let mut i = 0;
    while n >= 0x80 {
        buf[i] = (n as u8) | 0x80;
        n >>= 7;
        i += 1;
    }
    buf[i] = n as u8;
    i + 1
}

/// The labels of `series` plus those of `external` whose names `series` lacks, in name order:
/// external labels as Prometheus adds them on sending (the series' own value wins).
pub fn with_external<'a>(
    series: &'a scrapeline_exposition::Labels,
    external: &'a scrapeline_exposition::Labels,
) -> impl Iterator<Item = scrapeline_exposition::Label<'a>> + Clone {
    let mut a = series.iter().peekable();
    let mut b = external.iter().peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if y.name < x.name => b.next(),
        (Some(x), Some(y)) if y.name == x.name => {
            b.next();
            a.next()
        }
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

/// Encodes `req` and compresses it with snappy's block format, as remote write requires.
#[cfg(test)]
pub fn encode(req: &WriteRequest) -> Result<Vec<u8>, snap::Error> {
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw)
}

/// The inverse of [`encode`] (what a receiver does), refusing bodies that claim more than `limit` decoded bytes
/// before decompressing anything.
#[cfg(test)]
pub fn decode(body: &[u8], limit: usize) -> Result<WriteRequest, String> {
    let n = snap::raw::decompress_len(body).map_err(|e| e.to_string())?;
    if n > limit {
        return Err(format!(
            "decoded size {n} exceeds the limit of {limit} bytes"
        ));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| e.to_string())?;
    WriteRequest::decode(&raw[..]).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// External labels fill in names the series lacks, in order; the series' value wins.
    #[test]
    fn external_labels_merge_in_name_order() {
        use scrapeline_exposition::Labels;
        let series = Labels::from_pairs([("__name__", "up"), ("cluster", "own"), ("job", "n")]);
        let external = Labels::from_pairs([("a", "1"), ("cluster", "ext"), ("zone", "z")]);
        let got: Vec<(&str, &str)> = with_external(&series, &external)
            .map(|l| (l.name, l.value))
            .collect();
        assert_eq!(
            got,
            [
                ("__name__", "up"),
                ("a", "1"),
                ("cluster", "own"),
                ("job", "n"),
                ("zone", "z")
            ]
        );
        let none = Labels::empty();
        assert_eq!(with_external(&none, &external).count(), 3);
        assert_eq!(with_external(&series, &none).count(), 3);
    }

    /// The allocation-free writer produces prost's exact bytes, defaults and all.
    #[test]
    fn direct_writer_matches_prost() {
        use scrapeline_exposition::Labels;
        let cases: Vec<(Labels, Vec<(f64, i64)>)> = vec![
            (
                Labels::from_pairs([("__name__", "up"), ("job", "node"), ("ü", "日本")]),
                vec![
                    (1.0, 1_700_000_000_000),
                    (0.0, 0),
                    (-0.0, -5),
                    (f64::NAN, 1),
                ],
            ),
            (
                Labels::from_pairs([("a", "x".repeat(300))]),
                vec![(2.5e300, i64::MIN)],
            ),
            (Labels::empty(), vec![]),
            // Every class of message length: one-byte varint (< 128: 115, 127), the
            // reserved two bytes (128 and 16,383), three bytes (16,384 and more).
            (Labels::from_pairs([("a", "x".repeat(100))]), vec![(1.0, 1)]),
            (Labels::from_pairs([("a", "x".repeat(108))]), vec![]),
            (Labels::from_pairs([("a", "x".repeat(120))]), vec![]),
            (Labels::from_pairs([("a", "x".repeat(121))]), vec![]),
            (Labels::from_pairs([("a", "x".repeat(16_374))]), vec![]),
            (Labels::from_pairs([("a", "x".repeat(16_375))]), vec![]),
            (
                Labels::from_pairs([("a", "x".repeat(70_000))]),
                vec![(3.0, 7)],
            ),
        ];
        let mut direct = Vec::new();
        let mut req = WriteRequest::default();
        for (labels, samples) in &cases {
            write_timeseries(&mut direct, labels.iter(), samples.iter().copied());
            req.timeseries.push(TimeSeries {
                labels: labels
                    .iter()
                    .map(|l| Label {
                        name: l.name.to_owned(),
                        value: l.value.to_owned(),
                    })
                    .collect(),
                samples: samples
                    .iter()
                    .map(|&(value, timestamp)| Sample { value, timestamp })
                    .collect(),
            });
        }
        assert_eq!(direct, req.encode_to_vec());
    }

    #[test]
    fn wire_format_matches_prompb() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "a".into(),
                    value: "b".into(),
                }],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 2,
                }],
            }],
        };
        // 0a LEN { 0a LEN {0a 01 'a' 12 01 'b'} 12 LEN {09 <f64 1.0> 10 02} }
        assert_eq!(
            req.encode_to_vec(),
            vec![
                0x0a, 0x15, 0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b', 0x12, 0x0b, 0x09, 0, 0,
                0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0x02
            ]
        );
        let body = encode(&req).unwrap();
        assert_eq!(decode(&body, 1 << 20).unwrap(), req);
        assert!(decode(&body, 4).unwrap_err().contains("exceeds the limit"));
        assert!(decode(b"\xff\xff\xff\xff\x0f", 1 << 20).is_err());
    }
}
