//! Compact sample chunks: delta-of-delta timestamps and XOR'd values, byte-aligned.
//!
//! A Gorilla-like encoding that stays on byte boundaries so it is simple and fast to decode:
//! every sample after the first costs one zig-zag varint for the timestamp's delta-of-delta
//! (one byte for a steady scrape interval with a few ms of jitter) and one header byte plus
//! the non-zero middle bytes of `value XOR previous value` (one byte for an unchanged value).
//! Chunks hold at most [`MAX_SAMPLES`] samples, so a query decodes only the chunks that overlap
//! its time range and retention drops whole chunks.

/// Samples per chunk before a new one is started.
pub const MAX_SAMPLES: u16 = 120;

/// A sealed chunk: [`MAX_SAMPLES`] samples (fewer only in tests), encoded, its buffer exactly
/// as long as the encoding. Series keep the chunks they filled in a boxed slice of these.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Timestamp of the first sample (ms).
    pub min_t: i64,
    /// Timestamp of the last sample (ms).
    pub max_t: i64,
    /// Number of samples.
    count: u16,
    /// The encoded samples, no spare capacity.
    data: Box<[u8]>,
}

impl Chunk {
    /// Number of samples.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Heap bytes of the encoded samples.
    pub fn data_bytes(&self) -> usize {
        self.data.len()
    }

    /// Calls `f` for every sample in order.
    pub fn for_each(&self, f: impl FnMut(i64, f64)) {
        decode(&self.data, self.count, f);
    }
}

/// The chunk a series appends to: the encoding so far plus the encoder's state. The newest
/// sample of the series is always here (`max_t`, `last_v`), so the series needs no copy of it.
///
/// 40 bytes inline: the sample count and the encoding's length live in the buffer's first
/// [`HEADER`] bytes, not in fields (which would pad the struct to 48). The buffer grows in
/// small steps along the allocator's size classes instead of doubling, and a sealed chunk
/// gets an exact copy: a series scraped for a minute holds a few dozen bytes of samples, not
/// a power of two of them.
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// `[count, len low byte, len high byte]`, the `len` bytes of encoding, spare room.
    /// Empty while the chunk holds no sample.
    buf: Box<[u8]>,
    /// Timestamp of the last sample (ms).
    max_t: i64,
    /// Delta between the last two timestamps (encoder state).
    last_delta: i64,
    /// Bits of the last value (encoder state).
    last_v: u64,
}

/// Bytes at the start of a [`Head`]'s buffer before the encoding: count, then length.
const HEADER: usize = 3;

/// The most bytes one sample can take: a 10-byte varint and a 9-byte XOR (8 bytes and the
/// raw first value for the first sample).
const MAX_SAMPLE_BYTES: usize = 19;

/// The allocation size `n` bytes are served from by size-class allocators (mimalloc's small
/// bins: 8-byte steps up to 64, then four classes per power of two): growing to it costs
/// nothing the allocator would not take anyway.
fn size_class(n: usize) -> usize {
    if n <= 64 {
        return (n + 7) & !7;
    }
    let step = (1usize << (usize::BITS - 1 - (n - 1).leading_zeros())) / 4;
    n.div_ceil(step) * step
}

impl Head {
    fn count(&self) -> u8 {
        self.buf.first().copied().unwrap_or(0)
    }

    /// Bytes of encoding.
    fn encoded_len(&self) -> usize {
        match self.buf.get(1..HEADER) {
            Some(&[lo, hi]) => usize::from(u16::from_le_bytes([lo, hi])),
            _ => 0,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        usize::from(self.count())
    }

    /// Whether the chunk holds no sample.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// Whether the chunk has room for another sample.
    pub fn is_full(&self) -> bool {
        u16::from(self.count()) >= MAX_SAMPLES
    }

    /// The newest sample, if any.
    pub fn last(&self) -> Option<(i64, f64)> {
        (!self.is_empty()).then(|| (self.max_t, f64::from_bits(self.last_v)))
    }

    /// Timestamp of the last sample (ms); meaningless while empty.
    pub fn max_t(&self) -> i64 {
        self.max_t
    }

    /// Timestamp of the first sample (ms), read back from the encoding (it starts with it);
    /// meaningless while empty.
    pub fn min_t(&self) -> i64 {
        let mut pos = 0;
        get_varint(self.used(), &mut pos).map_or(self.max_t, unzigzag)
    }

    /// Heap bytes of the buffer, header and spare room included.
    pub fn data_bytes(&self) -> usize {
        self.buf.len()
    }

    /// The encoding.
    fn used(&self) -> &[u8] {
        self.buf
            .get(HEADER..HEADER + self.encoded_len())
            .unwrap_or(&[])
    }

    /// Appends a sample; the caller guarantees `t > self.max_t()` when not empty and room in
    /// the chunk.
    pub fn push(&mut self, t: i64, v: f64) {
        let bits = v.to_bits();
        let mut buf = [0u8; MAX_SAMPLE_BYTES];
        let mut n = 0;
        if self.is_empty() {
            n = put_varint(&mut buf, 0, zigzag(t));
            buf[n..n + 8].copy_from_slice(&bits.to_be_bytes());
            n += 8;
            self.last_delta = 0;
        } else {
            let delta = t.wrapping_sub(self.max_t);
            n = put_varint(&mut buf, n, zigzag(delta.wrapping_sub(self.last_delta)));
            n = put_xor(&mut buf, n, bits ^ self.last_v);
            self.last_delta = delta;
        }
        self.append_sample(&buf[..n]);
        self.last_v = bits;
        self.max_t = t;
    }

    /// Appends one sample's encoding and counts it.
    fn append_sample(&mut self, bytes: &[u8]) {
        let len = self.encoded_len();
        let end = HEADER + len + bytes.len();
        if end > self.buf.len() {
            // An eighth more than needed, rounded up to the allocator's size class.
            let cap = size_class(end + end / 8).max(16);
            let mut grown = Vec::with_capacity(cap);
            match self.buf.get(..HEADER + len) {
                Some(old) if !old.is_empty() => grown.extend_from_slice(old),
                _ => grown.extend_from_slice(&[0; HEADER]),
            }
            grown.resize(cap, 0);
            self.buf = grown.into_boxed_slice();
        }
        if let Some(dst) = self.buf.get_mut(HEADER + len..end) {
            dst.copy_from_slice(bytes);
            let [lo, hi] = ((len + bytes.len()) as u16).to_le_bytes();
            self.buf[0] += 1;
            self.buf[1] = lo;
            self.buf[2] = hi;
        }
    }

    /// Turns the samples into a sealed [`Chunk`] with an exact-size buffer and leaves this
    /// head empty (and without a buffer).
    pub fn seal(&mut self) -> Chunk {
        let chunk = Chunk {
            min_t: self.min_t(),
            max_t: self.max_t,
            count: u16::from(self.count()),
            data: Box::from(self.used()),
        };
        self.clear();
        chunk
    }

    /// Drops every sample and the buffer.
    pub fn clear(&mut self) {
        *self = Head::default();
    }

    /// Calls `f` for every sample in order.
    pub fn for_each(&self, f: impl FnMut(i64, f64)) {
        decode(self.used(), u16::from(self.count()), f);
    }
}

/// Decodes `count` samples from `data`, calling `f` for each (stops early on a short buffer).
fn decode(data: &[u8], count: u16, mut f: impl FnMut(i64, f64)) {
    if count == 0 {
        return;
    }
    let mut pos = 0usize;
    let Some(z) = get_varint(data, &mut pos) else {
        return;
    };
    let mut t = unzigzag(z);
    let Some(first) = data.get(pos..pos + 8) else {
        return;
    };
    pos += 8;
    let mut bits = u64::from_be_bytes(first.try_into().unwrap_or([0; 8]));
    f(t, f64::from_bits(bits));
    let mut delta = 0i64;
    for _ in 1..count {
        let Some(z) = get_varint(data, &mut pos) else {
            return;
        };
        delta = delta.wrapping_add(unzigzag(z));
        t = t.wrapping_add(delta);
        let Some(x) = get_xor(data, &mut pos) else {
            return;
        };
        bits ^= x;
        f(t, f64::from_bits(bits));
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Writes `v` as a varint into `out` at `at` (room for 10 bytes); returns the end.
fn put_varint(out: &mut [u8; MAX_SAMPLE_BYTES], mut at: usize, mut v: u64) -> usize {
    while v >= 0x80 {
        out[at] = (v as u8) | 0x80;
        at += 1;
        v >>= 7;
    }
    out[at] = v as u8;
    at + 1
}

fn get_varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0u32;
    loop {
        let b = *data.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Header byte `lead << 4 | trail` (zero bytes on each side), then the middle bytes.
/// (Room for 9 bytes from `at`; returns the end.)
fn put_xor(out: &mut [u8; MAX_SAMPLE_BYTES], at: usize, x: u64) -> usize {
    if x == 0 {
        out[at] = 0x80;
        return at + 1;
    }
    let lead = (x.leading_zeros() / 8) as usize;
    let trail = (x.trailing_zeros() / 8) as usize;
    out[at] = ((lead as u8) << 4) | trail as u8;
    let bytes = x.to_be_bytes();
    let mid = &bytes[lead..8 - trail];
    out[at + 1..at + 1 + mid.len()].copy_from_slice(mid);
    at + 1 + mid.len()
}

fn get_xor(data: &[u8], pos: &mut usize) -> Option<u64> {
    let h = *data.get(*pos)?;
    *pos += 1;
    let (lead, trail) = (usize::from(h >> 4), usize::from(h & 0x0f));
    if lead >= 8 {
        return Some(0);
    }
    let n = 8usize.checked_sub(lead + trail)?;
    let mid = data.get(*pos..*pos + n)?;
    *pos += n;
    let mut bytes = [0u8; 8];
    bytes[lead..lead + n].copy_from_slice(mid);
    Some(u64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scrapeline_exposition::value::{is_stale_nan, stale_nan};

    fn collect(c: &Head) -> Vec<(i64, u64)> {
        let mut v = Vec::new();
        c.for_each(|t, f| v.push((t, f.to_bits())));
        v
    }

    fn collect_sealed(c: &Chunk) -> Vec<(i64, u64)> {
        let mut v = Vec::new();
        c.for_each(|t, f| v.push((t, f.to_bits())));
        v
    }

    fn head(t: i64, v: f64) -> Head {
        let mut c = Head::default();
        c.push(t, v);
        c
    }

    #[test]
    fn round_trips_every_kind_of_value() {
        let samples: Vec<(i64, f64)> = vec![
            (-5_000, 1.0),
            (10_000, 1.0),
            (25_001, 2.5),
            (40_000, f64::NAN),
            (55_000, stale_nan()),
            (70_000, f64::INFINITY),
            (85_000, -0.0),
            (1_700_000_000_000, 1e300),
            (1_700_000_000_001, -1.5e-300),
            (i64::MAX, 42.0),
        ];
        let mut c = head(samples[0].0, samples[0].1);
        for (t, v) in &samples[1..] {
            c.push(*t, *v);
        }
        let want: Vec<(i64, u64)> = samples.iter().map(|(t, v)| (*t, v.to_bits())).collect();
        assert_eq!(collect(&c), want);
        assert_eq!(c.len(), 10);
        assert_eq!((c.min_t(), c.max_t()), (-5_000, i64::MAX));
        assert_eq!(
            c.last().map(|(t, v)| (t, v.to_bits())),
            Some((i64::MAX, 42f64.to_bits()))
        );
        let sealed = c.seal();
        assert_eq!(collect_sealed(&sealed), want);
        assert_eq!(
            (sealed.min_t, sealed.max_t, sealed.len()),
            (-5_000, i64::MAX, 10)
        );
        assert!(c.is_empty());
        assert_eq!((c.last(), c.data_bytes()), (None, 0));
        let mut stale = 0;
        sealed.for_each(|_, v| stale += usize::from(is_stale_nan(v)));
        assert_eq!(stale, 1);
    }

    #[test]
    fn steady_series_costs_two_bytes_per_sample() {
        let mut c = head(1_000, 7.0);
        let before = c.encoded_len();
        for i in 1..100 {
            c.push(1_000 + i * 15_000, 7.0);
        }
        // The first delta costs a 3-byte varint; every later sample one byte of
        // delta-of-delta and one byte of XOR.
        assert_eq!(c.encoded_len() - before, 3 + 1 + 98 * 2);
        // Grown an eighth at a time to a size class: at most 3/8 of slack.
        let used = c.encoded_len();
        assert_eq!(c.data_bytes(), 224);
        assert!(c.data_bytes() >= used + HEADER && c.data_bytes() <= (used + HEADER) * 11 / 8);
        // Sealed: exactly the encoding.
        assert_eq!(c.seal().data_bytes(), used);
    }

    proptest::proptest! {
        /// Any strictly increasing timestamps and any value bits (NaN payloads included)
        /// decode to exactly what was pushed.
        #[test]
        fn round_trips_arbitrary_samples(
            first in proptest::num::i64::ANY,
            deltas in proptest::collection::vec(1i64..i64::MAX / 256, 0..119),
            bits in proptest::collection::vec(proptest::num::u64::ANY, 120),
        ) {
            let mut want = vec![(first, bits[0])];
            let mut t = first;
            for (d, b) in deltas.iter().zip(&bits[1..]) {
                match t.checked_add(*d) {
                    Some(n) => t = n,
                    None => break,
                }
                want.push((t, *b));
            }
            let mut c = head(want[0].0, f64::from_bits(want[0].1));
            for (t, b) in &want[1..] {
                c.push(*t, f64::from_bits(*b));
            }
            proptest::prop_assert_eq!(collect(&c), want.clone());
            proptest::prop_assert_eq!(c.min_t(), want[0].0);
            proptest::prop_assert_eq!(collect_sealed(&c.seal()), want);
        }
    }

    #[test]
    fn size_classes() {
        let got: Vec<usize> = [1, 8, 9, 64, 65, 80, 81, 128, 129, 200, 257, 1000]
            .into_iter()
            .map(size_class)
            .collect();
        assert_eq!(got, [8, 8, 16, 64, 80, 80, 96, 128, 160, 224, 320, 1024]);
    }

    #[test]
    fn fills_up_at_max_samples() {
        let mut c = head(0, 0.0);
        for i in 1..i64::from(MAX_SAMPLES) {
            assert!(!c.is_full());
            c.push(i, i as f64);
        }
        assert!(c.is_full());
        assert_eq!(collect(&c).len(), usize::from(MAX_SAMPLES));
    }
}
