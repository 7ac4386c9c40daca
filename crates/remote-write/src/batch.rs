//! Samples waiting in a remote-write shard, already encoded.
//!
//! Each sample is encoded as one protobuf `TimeSeries` (its labels and one `Sample`) when it
//! is appended, while its labels are at hand, so a queued sample is a few bytes in a buffer
//! rather than a reference to labels that must be read again (from memory gone cold by then)
//! when the request is built. A request body is then the concatenation of queued bytes.

use std::collections::VecDeque;

/// The samples of one commit for one shard: encoded `TimeSeries` messages back to back, and
/// for each sample where its message ends and its timestamp.
#[derive(Debug, Default)]
pub struct Chunk {
    bytes: Vec<u8>,
    /// `(end offset in bytes, timestamp ms)` per sample, in order.
    samples: Vec<(usize, i64)>,
    /// Where the WAL record these samples came from ends (a queue fed from the WAL
    /// acknowledges it when they are sent).
    pub mark: Option<scrapeline_wal::Position>,
}

impl Chunk {
    /// Appends one sample: `encode` writes its `TimeSeries` message to the buffer.
    pub fn push(&mut self, timestamp_ms: i64, encode: impl FnOnce(&mut Vec<u8>)) {
        encode(&mut self.bytes);
        self.samples.push((self.bytes.len(), timestamp_ms));
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether it holds no sample.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.samples.clear();
    }

    /// Splits off the samples from `n` on into a new chunk.
    fn split_off(&mut self, n: usize) -> Chunk {
        let start = if n == 0 { 0 } else { self.samples[n - 1].0 };
        let bytes = self.bytes.split_off(start);
        let samples = self
            .samples
            .split_off(n)
            .into_iter()
            .map(|(end, t)| (end - start, t))
            .collect();
        Chunk {
            bytes,
            samples,
            mark: self.mark,
        }
    }

    /// Each sample's encoded bytes and timestamp.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], i64)> {
        let mut start = 0;
        self.samples.iter().map(move |&(end, t)| {
            let s = &self.bytes[start..end];
            start = end;
            (s, t)
        })
    }

    /// All samples' bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The newest timestamp, `i64::MIN` when empty.
    pub fn highest_timestamp(&self) -> i64 {
        self.samples.iter().map(|s| s.1).max().unwrap_or(i64::MIN)
    }
}

/// A shard's bounded queue of chunks, counted in samples.
#[derive(Debug, Default)]
pub struct ShardQueue {
    chunks: VecDeque<Chunk>,
    len: usize,
}

impl ShardQueue {
    /// Samples queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Queues as much of `chunk` as fits under `capacity` samples in all, oldest samples
    /// first; what does not fit stays in `chunk` (which is left empty, for reuse, when all
    /// fit). Returns how many samples are left in `chunk`.
    pub fn push(&mut self, chunk: &mut Chunk, capacity: usize) -> usize {
        let room = capacity.saturating_sub(self.len);
        if chunk.is_empty() || room == 0 {
            return chunk.len();
        }
        if room < chunk.len() {
            let rest = chunk.split_off(room);
            let fits = std::mem::replace(chunk, rest);
            self.len += fits.len();
            self.chunks.push_back(fits);
            return chunk.len();
        }
        self.len += chunk.len();
        let taken = std::mem::take(chunk);
        // The next commit is likely the same size: one allocation each, not a run of
        // doublings from empty.
        chunk.bytes.reserve(taken.bytes.len());
        chunk.samples.reserve(taken.samples.len());
        self.chunks.push_back(taken);
        0
    }

    /// Takes the oldest samples, at most `max`, as chunks in order.
    pub fn take(&mut self, max: usize) -> Vec<Chunk> {
        let mut out = Vec::new();
        let mut taken = 0;
        while taken < max {
            let Some(mut c) = self.chunks.pop_front() else {
                break;
            };
            if taken + c.len() > max {
                let rest = c.split_off(max - taken);
                self.chunks.push_front(rest);
            }
            taken += c.len();
            out.push(c);
        }
        self.len -= taken;
        out
    }

    /// Drops everything; returns how many samples were queued.
    pub fn clear(&mut self) -> usize {
        self.chunks.clear();
        std::mem::take(&mut self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(samples: &[(&str, i64)]) -> Chunk {
        let mut c = Chunk::default();
        for (s, t) in samples {
            c.push(*t, |out| out.extend_from_slice(s.as_bytes()));
        }
        c
    }

    fn contents(chunks: &[Chunk]) -> Vec<(String, i64)> {
        chunks
            .iter()
            .flat_map(|c| c.iter())
            .map(|(b, t)| (String::from_utf8(b.to_vec()).unwrap(), t))
            .collect()
    }

    #[test]
    fn takes_in_order_splitting_chunks_at_sample_boundaries() {
        let mut q = ShardQueue::default();
        let mut a = chunk(&[("a1", 1), ("a22", 2), ("a333", 3)]);
        let mut b = chunk(&[("b1", 4), ("b22", 5)]);
        assert_eq!(q.push(&mut a, 10), 0);
        assert!(a.is_empty(), "pushed chunk is left empty for reuse");
        assert_eq!(q.push(&mut b, 10), 0);
        assert_eq!(q.len(), 5);

        let first = q.take(2);
        assert_eq!(
            contents(&first),
            [("a1".to_owned(), 1), ("a22".to_owned(), 2)]
        );
        assert_eq!(first[0].bytes(), b"a1a22");
        assert_eq!(first[0].highest_timestamp(), 2);
        assert_eq!(q.len(), 3);
        let rest = q.take(100);
        assert_eq!(
            contents(&rest),
            [
                ("a333".to_owned(), 3),
                ("b1".to_owned(), 4),
                ("b22".to_owned(), 5)
            ]
        );
        assert_eq!(q.len(), 0);
        assert!(q.take(5).is_empty());
    }

    #[test]
    fn what_does_not_fit_stays_in_the_chunk_oldest_first_queued() {
        let mut q = ShardQueue::default();
        let mut a = chunk(&[("a", 1), ("b", 2), ("c", 3)]);
        assert_eq!(q.push(&mut a, 2), 1);
        assert_eq!(contents(std::slice::from_ref(&a)), [("c".to_owned(), 3)]);
        assert_eq!(a.bytes(), b"c");
        // Full: nothing moves.
        assert_eq!(q.push(&mut a, 2), 1);
        assert_eq!(q.len(), 2);
        assert_eq!(
            contents(&q.take(10)),
            [("a".to_owned(), 1), ("b".to_owned(), 2)]
        );
        // Room again: the rest follows, and the chunk is empty for reuse.
        assert_eq!(q.push(&mut a, 2), 0);
        assert!(a.is_empty());
        assert_eq!(q.clear(), 1);
        assert_eq!(q.len(), 0);
    }
}
