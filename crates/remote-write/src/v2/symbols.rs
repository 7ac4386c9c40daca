//! The symbol table of one `io.prometheus.write.v2.Request`: every distinct string of the
//! request (label names and values, help texts, units) once, referred to by index.
//!
//! Strings are copied into one buffer and found again through a hash table of indices, so a
//! table cleared for the next request keeps all its memory: once it has seen a request of a
//! given size, interning the next one allocates nothing.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::wire;

/// Why a request cannot refer to a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("symbol table overflow: more than 2^32 strings in one request")]
pub struct SymbolOverflow;

/// Deduplicated strings of one request, index 0 being `""` as the spec requires.
#[derive(Debug)]
pub struct SymbolTable {
    /// All strings back to back.
    bytes: Vec<u8>,
    /// Per symbol: where its bytes start and end in `bytes`.
    spans: Vec<(usize, usize)>,
    /// Per symbol: its hash (kept so growing the index does not hash again).
    hashes: Vec<u64>,
    /// Symbol indices by hash.
    index: HashTable<u32>,
    /// Random per table, so colliding strings cannot be chosen by whoever controls labels.
    seed: u64,
}

impl Default for SymbolTable {
    fn default() -> Self {
        let mut t = SymbolTable {
            bytes: Vec::new(),
            spans: Vec::new(),
            hashes: Vec::new(),
            index: HashTable::new(),
            seed: RandomState::new().hash_one(0x5eed_u64),
        };
        t.clear();
        t
    }
}

impl SymbolTable {
    /// Forgets every string but `""` (index 0), keeping the memory for the next request.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
        self.hashes.clear();
        self.index.clear();
        // Cannot overflow on an empty table.
        let _ = self.intern(b"");
    }

    /// Number of symbols, `""` included.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether only `""` is in the table (it always is).
    pub fn is_empty(&self) -> bool {
        self.spans.len() <= 1
    }

    /// Bytes reserved for strings (for tests of memory reuse).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.bytes.capacity() + self.spans.capacity() + self.index.capacity()
    }

    /// The symbol at `index`.
    pub fn get(&self, index: u32) -> Option<&[u8]> {
        let &(start, end) = self.spans.get(index as usize)?;
        self.bytes.get(start..end)
    }

    /// The index of `s`, added if new.
    #[inline]
    pub fn intern(&mut self, s: &[u8]) -> Result<u32, SymbolOverflow> {
        let hash = xxh3_64_with_seed(s, self.seed);
        let (bytes, spans) = (&self.bytes, &self.spans);
        let same = |&i: &u32| {
            spans
                .get(i as usize)
                .and_then(|&(a, b)| bytes.get(a..b))
                .is_some_and(|x| x == s)
        };
        if let Some(&i) = self.index.find(hash, same) {
            return Ok(i);
        }
        let i = u32::try_from(self.spans.len()).map_err(|_| SymbolOverflow)?;
        let start = self.bytes.len();
        self.bytes.extend_from_slice(s);
        self.spans.push((start, self.bytes.len()));
        self.hashes.push(hash);
        let hashes = &self.hashes;
        self.index.insert_unique(hash, i, |&j| {
            hashes.get(j as usize).copied().unwrap_or_default()
        });
        Ok(i)
    }

    /// Forgets the symbols from index `len` on (those a series added before it turned out
    /// not to be sent).
    pub fn truncate(&mut self, len: usize) {
        let len = len.max(1);
        while self.spans.len() > len {
            let i = self.spans.len() - 1;
            if let (Some(&hash), Ok(i32)) = (self.hashes.get(i), u32::try_from(i))
                && let Ok(entry) = self.index.find_entry(hash, |&j| j == i32)
            {
                entry.remove();
            }
            if let Some((start, _)) = self.spans.pop() {
                self.bytes.truncate(start);
            }
            self.hashes.pop();
        }
    }

    /// Bytes of the symbols as field 4 (`repeated string symbols`) of a `Request`.
    pub fn encoded_len(&self) -> usize {
        self.spans
            .iter()
            .map(|&(a, b)| wire::len_field_len(b - a))
            .sum()
    }

    /// Appends the symbols as field 4 of a `Request`, in index order.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        for &(a, b) in &self.spans {
            wire::put_bytes_field(out, 0x22, self.bytes.get(a..b).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_in_first_seen_order_with_empty_string_first() {
        let mut t = SymbolTable::default();
        assert_eq!(t.len(), 1);
        assert_eq!(t.intern(b"__name__"), Ok(1));
        assert_eq!(t.intern(b"up"), Ok(2));
        assert_eq!(t.intern(b"__name__"), Ok(1));
        assert_eq!(t.intern(b""), Ok(0));
        assert_eq!(t.get(2), Some(&b"up"[..]));
        assert_eq!(t.get(3), None);
        let mut out = Vec::new();
        t.write(&mut out);
        assert_eq!(out.len(), t.encoded_len());
        assert_eq!(
            out,
            [&[0x22, 0][..], &[0x22, 8], b"__name__", &[0x22, 2], b"up"].concat()
        );
        t.clear();
        assert_eq!(t.len(), 1);
        assert_eq!(t.intern(b"up"), Ok(1));
        assert_eq!(t.intern(b"down"), Ok(2));
        assert_eq!(t.intern(b"left"), Ok(3));
        t.truncate(2);
        assert_eq!((t.len(), t.get(2)), (2, None));
        assert_eq!(t.intern(b"right"), Ok(2));
        assert_eq!(t.intern(b"left"), Ok(3));
        assert_eq!(t.intern(b"up"), Ok(1));
        t.truncate(0);
        assert_eq!(t.len(), 1, "\"\" stays");
        assert_eq!(t.intern(b""), Ok(0));
    }

    #[test]
    fn many_symbols_survive_growth_and_keep_memory_on_clear() {
        let mut t = SymbolTable::default();
        let names: Vec<String> = (0..5000).map(|i| format!("value-{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(t.intern(n.as_bytes()), Ok(i as u32 + 1));
        }
        for (i, n) in names.iter().enumerate().rev() {
            assert_eq!(t.intern(n.as_bytes()), Ok(i as u32 + 1));
        }
        let caps = (t.bytes.capacity(), t.spans.capacity(), t.index.capacity());
        t.clear();
        for n in &names {
            t.intern(n.as_bytes()).unwrap();
        }
        assert_eq!(
            (t.bytes.capacity(), t.spans.capacity(), t.index.capacity()),
            caps,
            "a cleared table refills without growing"
        );
    }
}
