//! What a WAL record holds and how it is encoded.
//!
//! A record's body is one type byte and its payload:
//!
//! - `1` series: repeated `ref: u64 LE`, `label count: varint`, then per label
//!   `name length: varint`, name, `value length: varint`, value (UTF-8).
//! - `2` samples: repeated `ref: u64 LE`, `timestamp ms: i64 LE`, `value: f64 bits LE`
//!   (24 bytes each, fixed size: appending is a copy, no encoding work).
//!
//! Decoding checks every length against what is left, so a damaged body is an error, never a
//! panic or an oversized allocation.

use scrapeline_exposition::Labels;

/// Type byte of a series record.
pub const TYPE_SERIES: u8 = 1;
/// Type byte of a samples record.
pub const TYPE_SAMPLES: u8 = 2;
/// Bytes per encoded sample.
pub const SAMPLE_BYTES: usize = 24;

/// One sample of a samples record: the series' WAL ref, its timestamp and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefSample {
    /// The series, as a series record named it.
    pub series: u64,
    /// Milliseconds since the Unix epoch.
    pub t_ms: i64,
    /// The value.
    pub value: f64,
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Series refs and their labels: every later sample with one of these refs belongs to
    /// these labels (until another series record names the ref again).
    Series(Vec<(u64, Labels)>),
    /// Samples, in append order.
    Samples(Vec<RefSample>),
}

/// Why a record body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body is empty or its type byte is unknown.
    #[error("unknown record type {0}")]
    UnknownType(u8),
    /// A length runs past the end of the body, or the samples do not fill it exactly.
    #[error("record truncated")]
    Truncated,
    /// A label name or value is not UTF-8.
    #[error("label not UTF-8")]
    NotUtf8,
}

/// Appends a varint (LEB128).
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends the body of a series record for `series`.
pub fn encode_series<'a>(out: &mut Vec<u8>, series: impl IntoIterator<Item = (u64, &'a Labels)>) {
    out.push(TYPE_SERIES);
    for (r, labels) in series {
        put_series(out, r, labels);
    }
}

/// Appends one series to the payload of a series record (the caller wrote [`TYPE_SERIES`]
/// first).
pub fn put_series(out: &mut Vec<u8>, r: u64, labels: &Labels) {
    out.extend_from_slice(&r.to_le_bytes());
    put_varint(out, labels.len() as u64);
    for l in labels.iter() {
        put_varint(out, l.name.len() as u64);
        out.extend_from_slice(l.name.as_bytes());
        put_varint(out, l.value.len() as u64);
        out.extend_from_slice(l.value.as_bytes());
    }
}

/// Appends one sample to the payload of a samples record (the caller wrote [`TYPE_SAMPLES`]
/// first).
pub fn put_sample(out: &mut Vec<u8>, s: RefSample) {
    out.extend_from_slice(&s.series.to_le_bytes());
    out.extend_from_slice(&s.t_ms.to_le_bytes());
    out.extend_from_slice(&s.value.to_bits().to_le_bytes());
}

/// Appends the body of a samples record.
pub fn encode_samples(out: &mut Vec<u8>, samples: &[RefSample]) {
    out.push(TYPE_SAMPLES);
    out.reserve(samples.len() * SAMPLE_BYTES);
    for s in samples {
        put_sample(out, *s);
    }
}

/// Reads from a body, every read checked.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.0.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.take(1)?.first().ok_or(DecodeError::Truncated)?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError::Truncated)
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = usize::try_from(self.varint()?).map_err(|_| DecodeError::Truncated)?;
        std::str::from_utf8(self.take(n)?).map_err(|_| DecodeError::NotUtf8)
    }
}

/// The type byte of a body, without decoding it.
pub fn record_type(body: &[u8]) -> Option<u8> {
    body.first().copied()
}

/// Decodes a record body (type byte and payload).
pub fn decode(body: &[u8]) -> Result<Record, DecodeError> {
    let (&ty, payload) = body.split_first().ok_or(DecodeError::UnknownType(0))?;
    match ty {
        TYPE_SERIES => {
            let mut c = Cursor(payload);
            let mut out = Vec::new();
            let mut pairs: Vec<(&str, &str)> = Vec::new();
            while !c.0.is_empty() {
                let r = c.u64()?;
                let n = c.varint()?;
                pairs.clear();
                for _ in 0..n {
                    let name = c.str()?;
                    let value = c.str()?;
                    pairs.push((name, value));
                }
                out.push((r, Labels::from_pairs(pairs.iter().copied())));
            }
            Ok(Record::Series(out))
        }
        TYPE_SAMPLES => {
            if payload.len() % SAMPLE_BYTES != 0 {
                return Err(DecodeError::Truncated);
            }
            let out = payload
                .chunks_exact(SAMPLE_BYTES)
                .map(|c| {
                    let word = |i: usize| {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(&c[i * 8..i * 8 + 8]);
                        u64::from_le_bytes(a)
                    };
                    RefSample {
                        series: word(0),
                        t_ms: word(1) as i64,
                        value: f64::from_bits(word(2)),
                    }
                })
                .collect();
            Ok(Record::Samples(out))
        }
        other => Err(DecodeError::UnknownType(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_series_and_samples() {
        let a = Labels::from_pairs([("__name__", "up"), ("job", "nödé")]);
        let b = Labels::empty();
        let mut buf = Vec::new();
        encode_series(&mut buf, [(7, &a), (u64::MAX, &b)]);
        assert_eq!(
            decode(&buf),
            Ok(Record::Series(vec![(7, a), (u64::MAX, b)]))
        );
        let s = [
            RefSample {
                series: 7,
                t_ms: -5,
                value: 1.5,
            },
            RefSample {
                series: 9,
                t_ms: i64::MAX,
                value: f64::INFINITY,
            },
        ];
        buf.clear();
        encode_samples(&mut buf, &s);
        assert_eq!(buf.len(), 1 + 2 * SAMPLE_BYTES);
        assert_eq!(decode(&buf), Ok(Record::Samples(s.to_vec())));
    }

    #[test]
    fn damaged_bodies_are_errors() {
        assert_eq!(decode(&[]), Err(DecodeError::UnknownType(0)));
        assert_eq!(decode(&[9]), Err(DecodeError::UnknownType(9)));
        assert_eq!(decode(&[TYPE_SAMPLES, 1, 2]), Err(DecodeError::Truncated));
        // A label length far past the end.
        let mut b = vec![TYPE_SERIES];
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&[1, 0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(decode(&b), Err(DecodeError::Truncated));
        let mut b = vec![TYPE_SERIES];
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&[1, 1, 0xff, 0]);
        assert_eq!(decode(&b), Err(DecodeError::NotUtf8));
    }
}
