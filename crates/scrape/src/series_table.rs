//! The scrape cache's table of raw series: dense entries in first-seen order plus a small
//! hash index over them.
//!
//! A target exposes the same series in the same order scrape after scrape, so the table
//! keeps its entries in a `Vec` in the order they were first seen and remembers where the
//! previous lookup landed: the next series is almost always the next entry, found with one
//! comparison and read from memory the hardware has already prefetched. Only when that guess
//! misses does a lookup go through the index, a `hashbrown` table of 4-byte positions (about
//! 10 bytes per series at its load factor, against 64+ bytes per series for a map that holds
//! the entries themselves: at 500,000 series that is the difference between ~30 and ~70 MB).

use hashbrown::HashTable;
use scrapeline_exposition::Labels;

use crate::append::SeriesRef;

/// One raw series of a target, as the scrape cache remembers it.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The low 64 bits of the raw series bytes' 128-bit XXH3 hash (the lookup key).
    pub key: u64,
    /// The high 64 bits: every hit is checked against them, so two different lines mix up
    /// only if all 128 bits collide, and the cache keeps no copy of the raw line.
    pub check: u64,
    /// `None`: metric relabeling dropped this series.
    pub labels: Option<Labels>,
    /// The appender's ref for the series.
    pub series_ref: SeriesRef,
    /// Last iteration this raw series was seen in.
    pub last_iter: u32,
    /// Last iteration its sample was appended and tracked for staleness (0: never).
    pub tracked_iter: u32,
}

/// Entries by key, dense, with a guess of where the next lookup lands.
#[derive(Debug, Default)]
pub(crate) struct SeriesTable {
    entries: Vec<Entry>,
    /// Positions in `entries`, hashed by their entry's key (already a hash).
    index: HashTable<u32>,
    /// Where the next lookup probably is: just after the previous hit.
    cursor: usize,
}

impl SeriesTable {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry with `key`, whatever its check bits.
    pub fn get_mut(&mut self, key: u64) -> Option<&mut Entry> {
        let pos = match self.entries.get(self.cursor) {
            Some(e) if e.key == key => self.cursor,
            _ => {
                let entries = &self.entries;
                let found = self.index.find(key, |&i| {
                    entries.get(i as usize).is_some_and(|e| e.key == key)
                })?;
                *found as usize
            }
        };
        self.cursor = pos + 1;
        self.entries.get_mut(pos)
    }

    /// Whether an entry has `key` (the pipeline learns it from [`get_mut`](Self::get_mut)).
    #[cfg(test)]
    pub fn contains_key(&self, key: u64) -> bool {
        let entries = &self.entries;
        self.index
            .find(key, |&i| {
                entries.get(i as usize).is_some_and(|e| e.key == key)
            })
            .is_some()
    }

    /// Adds an entry; the caller makes sure its key is not in the table yet. Past `u32::MAX`
    /// entries (never, for a target within any sane `sample_limit`) it is not added.
    pub fn insert(&mut self, entry: Entry) {
        let Ok(pos) = u32::try_from(self.entries.len()) else {
            return;
        };
        let key = entry.key;
        self.entries.push(entry);
        let entries = &self.entries;
        self.index
            .insert_unique(key, pos, |&i| entries.get(i as usize).map_or(0, |e| e.key));
        self.cursor = self.entries.len();
    }

    /// Every entry, in first-seen order.
    pub fn values(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// Keeps the entries `keep` accepts (in order) and rebuilds the index when any went.
    /// Leaves spare capacity of at most a quarter, so a target whose series set shrank for
    /// good gives the memory back.
    pub fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|e| keep(e));
        if self.entries.len() == before {
            return;
        }
        let len = self.entries.len();
        if self.entries.capacity() > len + len / 4 + 16 {
            self.entries.shrink_to_fit();
        }
        self.index.clear();
        self.index.shrink_to(len, |_| 0);
        let entries = &self.entries;
        for (pos, e) in entries.iter().enumerate() {
            // `len` came from a table whose positions all fit in `u32`.
            let pos = pos as u32;
            self.index.insert_unique(e.key, pos, |&i| {
                entries.get(i as usize).map_or(0, |e| e.key)
            });
        }
        self.cursor = 0;
    }

    /// Starts a new pass over the target's series: the first lookup guesses the first entry.
    pub fn rewind(&mut self) {
        self.cursor = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: u64) -> Entry {
        Entry {
            key,
            check: !key,
            labels: None,
            series_ref: key.wrapping_mul(10),
            last_iter: 1,
            tracked_iter: 0,
        }
    }

    #[test]
    fn finds_in_order_out_of_order_and_after_retain() {
        let mut t = SeriesTable::default();
        for k in [5u64, 9, 1, 7] {
            t.insert(entry(k));
        }
        t.rewind();
        // In order: every lookup is the cursor's guess.
        for k in [5u64, 9, 1, 7] {
            assert_eq!(t.get_mut(k).map(|e| e.series_ref), Some(k * 10));
        }
        // Out of order, and absent keys.
        assert_eq!(t.get_mut(1).map(|e| e.check), Some(!1));
        assert_eq!(t.get_mut(5).map(|e| e.check), Some(!5));
        assert!(t.get_mut(4).is_none());
        assert!(t.contains_key(9));
        assert!(!t.contains_key(4));

        t.retain(|e| e.key != 9 && e.key != 5);
        assert_eq!(t.len(), 2);
        assert_eq!(t.values().map(|e| e.key).collect::<Vec<_>>(), vec![1, 7]);
        assert!(t.get_mut(9).is_none());
        assert!(!t.contains_key(5));
        assert_eq!(t.get_mut(7).map(|e| e.series_ref), Some(70));
        assert_eq!(t.get_mut(1).map(|e| e.series_ref), Some(10));
        t.insert(entry(9));
        assert_eq!(t.get_mut(9).map(|e| e.series_ref), Some(90));
        t.retain(|_| false);
        assert!(t.is_empty());
        assert!(!t.contains_key(1));
    }

    #[test]
    fn many_entries_all_found_after_shrinking() {
        let mut t = SeriesTable::default();
        let key = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for i in 0..5_000u64 {
            t.insert(entry(key(i)));
        }
        t.retain(|e| e.series_ref % 20 == 0 || e.key % 3 == 0);
        let kept: Vec<u64> = t.values().map(|e| e.key).collect();
        assert!(t.len() < 5_000);
        for k in kept {
            assert_eq!(t.get_mut(k).map(|e| e.key), Some(k));
        }
        for i in 0..5_000u64 {
            let k = key(i);
            let present = t.contains_key(k);
            let kept = k.wrapping_mul(10) % 20 == 0 || k % 3 == 0;
            assert_eq!(present, kept, "key {k}");
        }
    }
}
