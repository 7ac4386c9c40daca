//! Protobuf wire-format primitives for the hand-written encoder: varints, tags, and a reader
//! of top-level fields that refuses malformed input instead of panicking.

/// Bytes of `n` as a protobuf varint.
pub(super) fn varint_len(n: u64) -> usize {
    // 1 byte per started group of 7 bits; 0 still takes one byte.
    (64 - (n | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends `n` as a varint.
pub(super) fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Length of a length-delimited field: tag (one byte for the fields used here), length
/// varint, body.
pub(super) fn len_field_len(body: usize) -> usize {
    1 + varint_len(body as u64) + body
}

/// Appends the tag and length of a length-delimited field whose body follows.
pub(super) fn put_len_prefix(out: &mut Vec<u8>, tag: u8, body: usize) {
    out.push(tag);
    put_varint(out, body as u64);
}

/// Appends a length-delimited field (tag, length, bytes).
pub(super) fn put_bytes_field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    put_len_prefix(out, tag, bytes.len());
    out.extend_from_slice(bytes);
}

/// One field's payload, as read by [`Fields`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1 (a `double` or `fixed64`), little-endian.
    Fixed64([u8; 8]),
    /// Wire type 2.
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32([u8; 4]),
}

/// Why bytes are not a well-formed protobuf message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed protobuf at byte {at}: {what}")]
pub struct Malformed {
    /// Offset into the message being read.
    pub at: usize,
    /// What is wrong.
    pub what: &'static str,
}

/// The fields of one message, in wire order: `(field number, value)`.
pub(super) struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Fields { buf, pos: 0 }
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, Malformed> {
        // Most keys and lengths are one byte.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.err("truncated varint"));
            };
            self.pos += 1;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(n);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err("field runs past the end"))?;
        let s = self.buf.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(s)
    }

    fn err(&self, what: &'static str) -> Malformed {
        Malformed { at: self.pos, what }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), Malformed>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            // Stop after the first error.
            self.pos = self.buf.len();
        }
        Some(field)
    }
}

impl<'a> Fields<'a> {
    #[inline]
    fn field(&mut self) -> Result<(u32, Value<'a>), Malformed> {
        let key = self.varint()?;
        let number = u32::try_from(key >> 3)
            .ok()
            .filter(|&n| n != 0)
            .ok_or_else(|| self.err("invalid field number"))?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                Value::Fixed64(b.try_into().map_err(|_| self.err("short fixed64"))?)
            }
            2 => {
                let n = usize::try_from(self.varint()?)
                    .map_err(|_| self.err("length does not fit in memory"))?;
                Value::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                Value::Fixed32(b.try_into().map_err(|_| self.err("short fixed32"))?)
            }
            _ => return Err(self.err("unsupported wire type")),
        };
        Ok((number, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths_match_what_is_written() {
        for n in [0, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, n);
            assert_eq!(varint_len(n), out.len(), "{n}");
            let msg = [&[0x08][..], &out].concat();
            let mut f = Fields::new(&msg).collect::<Vec<_>>();
            assert_eq!(f.pop(), Some(Ok((1, Value::Varint(n)))));
        }
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let cases: [(&[u8], &str); 6] = [
            (&[0x0a, 0x05, 1], "field runs past the end"),
            (&[0x08], "truncated varint"),
            (
                &[
                    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
                "varint longer than 10 bytes",
            ),
            (&[0x00, 0x01], "invalid field number"),
            (&[0x0b], "unsupported wire type"),
            (&[0x09, 1, 2], "field runs past the end"),
        ];
        for (bytes, what) in cases {
            let got: Vec<_> = Fields::new(bytes).collect();
            assert_eq!(got.len(), 1, "{bytes:?}");
            assert_eq!(got[0].unwrap_err().what, what, "{bytes:?}");
        }
    }
}
