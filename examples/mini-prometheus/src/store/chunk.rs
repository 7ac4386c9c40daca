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

/// One chunk of samples of one series, in timestamp order.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Timestamp of the first sample (ms).
    pub min_t: i64,
    /// Timestamp of the last sample (ms).
    pub max_t: i64,
    /// Number of samples.
    count: u16,
    /// The encoded samples.
    data: Vec<u8>,
    /// Delta between the last two timestamps (encoder state).
    last_delta: i64,
    /// Bits of the last value (encoder state).
    last_v: u64,
}

impl Chunk {
    /// A chunk holding one sample.
    pub fn new(t: i64, v: f64) -> Chunk {
        let mut data = Vec::with_capacity(32);
        put_varint(&mut data, zigzag(t));
        data.extend_from_slice(&v.to_bits().to_be_bytes());
        Chunk {
            min_t: t,
            max_t: t,
            count: 1,
            data,
            last_delta: 0,
            last_v: v.to_bits(),
        }
    }

    /// Whether the chunk has room for another sample.
    pub fn is_full(&self) -> bool {
        self.count >= MAX_SAMPLES
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Appends a sample; the caller guarantees `t > self.max_t` and room in the chunk.
    pub fn push(&mut self, t: i64, v: f64) {
        let delta = t.wrapping_sub(self.max_t);
        put_varint(&mut self.data, zigzag(delta.wrapping_sub(self.last_delta)));
        let bits = v.to_bits();
        put_xor(&mut self.data, bits ^ self.last_v);
        self.last_delta = delta;
        self.last_v = bits;
        self.max_t = t;
        self.count += 1;
        if self.is_full() {
            self.data.shrink_to_fit();
        }
    }

    /// Heap and inline bytes this chunk occupies.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Chunk>() + self.data.capacity()
    }

    /// Calls `f` for every sample in order.
    pub fn for_each(&self, mut f: impl FnMut(i64, f64)) {
        let mut pos = 0usize;
        let data = &self.data[..];
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
        for _ in 1..self.count {
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
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
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
fn put_xor(out: &mut Vec<u8>, x: u64) {
    if x == 0 {
        out.push(0x80);
        return;
    }
    let lead = (x.leading_zeros() / 8) as usize;
    let trail = (x.trailing_zeros() / 8) as usize;
    out.push(((lead as u8) << 4) | trail as u8);
    let bytes = x.to_be_bytes();
    out.extend_from_slice(&bytes[lead..8 - trail]);
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

    fn collect(c: &Chunk) -> Vec<(i64, u64)> {
        let mut v = Vec::new();
        c.for_each(|t, f| v.push((t, f.to_bits())));
        v
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
        let mut c = Chunk::new(samples[0].0, samples[0].1);
        for (t, v) in &samples[1..] {
            c.push(*t, *v);
        }
        let want: Vec<(i64, u64)> = samples.iter().map(|(t, v)| (*t, v.to_bits())).collect();
        assert_eq!(collect(&c), want);
        assert_eq!(c.len(), 10);
        assert_eq!((c.min_t, c.max_t), (-5_000, i64::MAX));
        let mut stale = 0;
        c.for_each(|_, v| stale += usize::from(is_stale_nan(v)));
        assert_eq!(stale, 1);
    }

    #[test]
    fn steady_series_costs_two_bytes_per_sample() {
        let mut c = Chunk::new(1_000, 7.0);
        let before = c.data.len();
        for i in 1..100 {
            c.push(1_000 + i * 15_000, 7.0);
        }
        // The first delta costs a 3-byte varint; every later sample one byte of
        // delta-of-delta and one byte of XOR.
        assert_eq!(c.data.len() - before, 3 + 1 + 98 * 2);
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
            let mut c = Chunk::new(want[0].0, f64::from_bits(want[0].1));
            for (t, b) in &want[1..] {
                c.push(*t, f64::from_bits(*b));
            }
            proptest::prop_assert_eq!(collect(&c), want);
        }
    }

    #[test]
    fn fills_up_at_max_samples() {
        let mut c = Chunk::new(0, 0.0);
        for i in 1..i64::from(MAX_SAMPLES) {
            assert!(!c.is_full());
            c.push(i, i as f64);
        }
        assert!(c.is_full());
        assert_eq!(collect(&c).len(), usize::from(MAX_SAMPLES));
    }
}
