//! A map from series refs to values stored in ref order: the log hands refs out in sequence,
//! so a reader that looks a ref up for every sample finds the series of one scrape next to
//! each other in memory instead of scattered over a hash table (on a 500k-series agent the
//! hash table's cache and TLB misses were a third of remote write's CPU).

use crate::RefMap;

/// How far past the end a new ref may land and still extend the dense part (larger gaps go
/// to the sparse map, so one odd ref cannot allocate gigabytes).
const MAX_GAP: u64 = 1 << 16;

/// Refs in a dense window `[base, base + len)` are a vector slot each; any other ref is kept
/// in a hash map. Refs the window forgets at its front (series gone) are reclaimed.
#[derive(Debug)]
pub struct DenseRefMap<V> {
    base: u64,
    dense: Vec<Option<V>>,
    sparse: RefMap<V>,
    len: usize,
}

impl<V> Default for DenseRefMap<V> {
    fn default() -> Self {
        DenseRefMap {
            base: 0,
            dense: Vec::new(),
            sparse: RefMap::default(),
            len: 0,
        }
    }
}

impl<V> DenseRefMap<V> {
    /// The number of refs held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no ref is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(&self, r: u64) -> Option<usize> {
        let i = r.checked_sub(self.base)?;
        usize::try_from(i).ok().filter(|&i| i < self.dense.len())
    }

    /// The value of `r`.
    pub fn get(&self, r: u64) -> Option<&V> {
        // A ref may have gone to the sparse map before the window grew over it.
        self.slot(r)
            .and_then(|i| self.dense.get(i).and_then(Option::as_ref))
            .or_else(|| self.sparse.get(&r))
    }

    /// Sets the value of `r`, replacing any.
    pub fn insert(&mut self, r: u64, v: V) {
        if self.dense.is_empty() && self.base == 0 {
            self.base = r;
        }
        let replaced = if let Some(i) = self.slot(r) {
            let held = self.dense.get_mut(i).and_then(|s| s.replace(v)).is_some();
            held || self.sparse.remove(&r).is_some()
        } else if r >= self.base && r - self.base - self.dense.len() as u64 <= MAX_GAP {
            let i = (r - self.base) as usize;
            self.dense.resize_with(i, || None);
            self.dense.push(Some(v));
            self.sparse.remove(&r).is_some()
        } else {
            self.sparse.insert(r, v).is_some()
        };
        if !replaced {
            self.len += 1;
        }
    }

    /// Keeps only the refs for which `keep` is true, and gives back the dense window's
    /// leading empty slots.
    pub fn retain(&mut self, mut keep: impl FnMut(u64, &V) -> bool) {
        let base = self.base;
        for (i, slot) in self.dense.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|v| !keep(base + i as u64, v)) {
                *slot = None;
                self.len -= 1;
            }
        }
        let before = self.sparse.len();
        self.sparse.retain(|&r, v| keep(r, v));
        self.len -= before - self.sparse.len();
        let lead = self.dense.iter().take_while(|s| s.is_none()).count();
        if lead > 0 {
            self.dense.drain(..lead);
            self.base += lead as u64;
        }
        if self.dense.len() * 2 < self.dense.capacity() {
            self.dense.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn sequential_refs_are_dense_and_odd_ones_sparse() {
        let mut m = DenseRefMap::default();
        for r in 100..200u64 {
            m.insert(r, r * 2);
        }
        m.insert(5, 10);
        m.insert(u64::MAX, 1);
        assert_eq!(m.dense.len(), 100);
        assert_eq!(m.sparse.len(), 2);
        assert_eq!(
            (m.get(150), m.get(5), m.get(u64::MAX)),
            (Some(&300), Some(&10), Some(&1))
        );
        assert_eq!(m.get(99), None);
        assert_eq!(m.len(), 102);
        m.retain(|r, _| r >= 150);
        assert_eq!((m.base, m.dense.len(), m.len()), (150, 50, 51));
        assert_eq!(m.get(149), None);
        assert_eq!(m.get(150), Some(&300));
    }

    proptest! {
        /// Against a BTreeMap model: any sequence of inserts and retains.
        #[test]
        fn behaves_as_a_map(ops in prop::collection::vec((0u8..4, 0u64..300_000, any::<u16>()), 0..300)) {
            let mut m = DenseRefMap::default();
            let mut model = BTreeMap::new();
            for (op, r, v) in ops {
                if op == 0 {
                    let cut = r;
                    m.retain(|k, _| k >= cut);
                    model.retain(|k, _| *k >= cut);
                } else {
                    m.insert(r, v);
                    model.insert(r, v);
                }
                prop_assert_eq!(m.len(), model.len());
            }
            for (k, v) in &model {
                prop_assert_eq!(m.get(*k), Some(v));
            }
        }
    }
}
