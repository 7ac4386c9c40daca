//! Label pairs already seen by a shard's encoder, kept from one request to the next.
//!
//! A batch's series share most of their label pairs (`job`, `namespace`, `__name__` …), and
//! the same pairs come back in every batch. Interning a label costs two lookups in the
//! request's symbol table (name, value); through this cache it costs one lookup of the whole
//! `Label` message, whose pair id then indexes a per-request array of the two refs. Only a
//! pair's first use in a request touches the symbol table. The cache is cleared when it
//! holds more than [`MAX_BYTES`], so high-cardinality values cannot grow it without bound.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Label-message bytes kept before the cache starts over.
pub(super) const MAX_BYTES: usize = 8 << 20;

/// Per pair id, for the current request: the generation it was resolved in and its refs.
#[derive(Debug, Clone, Copy, Default)]
struct Local {
    generation: u32,
    refs: Option<(u32, u32)>,
}

/// Pair ids by `Label` message bytes, and each id's refs in the current request.
#[derive(Debug)]
pub(super) struct PairCache {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
    hashes: Vec<u64>,
    index: HashTable<u32>,
    local: Vec<Local>,
    generation: u32,
    seed: u64,
}

impl Default for PairCache {
    fn default() -> Self {
        PairCache {
            bytes: Vec::new(),
            spans: Vec::new(),
            hashes: Vec::new(),
            index: HashTable::new(),
            local: Vec::new(),
            generation: 1,
            seed: RandomState::new().hash_one(0x9a1_u64),
        }
    }
}

/// What [`PairCache::lookup`] knows of a label in this request.
pub(super) enum Cached {
    /// Resolved earlier in this request: its refs, or `None` when it is not sent.
    Known(Option<(u32, u32)>),
    /// Not yet resolved in this request: resolve it, then [`PairCache::set`] this id.
    Unknown(usize),
}

impl PairCache {
    /// Starts a new request: every pair is unresolved again.
    pub(super) fn next_request(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.local.iter_mut().for_each(|l| *l = Local::default());
            self.generation = 1;
        }
        if self.bytes.len() > MAX_BYTES {
            self.bytes.clear();
            self.spans.clear();
            self.hashes.clear();
            self.index.clear();
            self.local.clear();
        }
    }

    /// The pair of the `Label` message `label` in this request.
    #[inline]
    pub(super) fn lookup(&mut self, label: &[u8]) -> Cached {
        let hash = xxh3_64_with_seed(label, self.seed);
        let (bytes, spans) = (&self.bytes, &self.spans);
        let same = |&i: &u32| {
            spans
                .get(i as usize)
                .and_then(|&(a, b)| bytes.get(a..b))
                .is_some_and(|x| x == label)
        };
        let id = match self.index.find(hash, same) {
            Some(&i) => i as usize,
            None => {
                let Ok(i) = u32::try_from(self.spans.len()) else {
                    return Cached::Unknown(usize::MAX);
                };
                let start = self.bytes.len();
                self.bytes.extend_from_slice(label);
                self.spans.push((start, self.bytes.len()));
                self.hashes.push(hash);
                self.local.push(Local::default());
                let hashes = &self.hashes;
                self.index.insert_unique(hash, i, |&j| {
                    hashes.get(j as usize).copied().unwrap_or_default()
                });
                i as usize
            }
        };
        match self.local.get(id) {
            Some(l) if l.generation == self.generation => Cached::Known(l.refs),
            _ => Cached::Unknown(id),
        }
    }

    /// Records the refs of pair `id` in this request.
    #[inline]
    pub(super) fn set(&mut self, id: usize, refs: Option<(u32, u32)>) {
        if let Some(l) = self.local.get_mut(id) {
            *l = Local {
                generation: self.generation,
                refs,
            };
        }
    }

    /// Forgets this request's refs from symbol `len` on (the symbol table was rolled back).
    pub(super) fn forget_refs_from(&mut self, len: usize) {
        let generation = self.generation;
        for l in &mut self.local {
            if l.generation == generation
                && let Some((n, v)) = l.refs
                && (n as usize >= len || v as usize >= len)
            {
                l.generation = 0;
            }
        }
    }

    /// Bytes reserved (for tests of memory reuse).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.bytes.capacity()
            + self.spans.capacity()
            + self.index.capacity()
            + self.local.capacity()
    }
}
