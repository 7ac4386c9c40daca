//! A dense slab of values addressed by a `u32` slot, with a free list and a generation per
//! slot so a stale address can be told from the slot's next tenant.
//!
//! The store keeps a shard's series here instead of in a `HashMap<u64, Series>`: no key and
//! control byte per entry, no table at half load after a resize, and slots freed by retention
//! are handed to the next new series. Storage is a list of fixed-size segments, so growing
//! never copies existing values and never holds twice the memory while it does, and at most
//! one partly used segment is slack.

/// Slots per segment.
pub const SEGMENT: usize = 512;

/// "No slot" in the free list.
const NONE: u32 = u32::MAX;

/// Generations are 24 bits (what a series reference has room for), never 0.
pub const GEN_BITS: u32 = 24;
const GEN_MASK: u32 = (1 << GEN_BITS) - 1;

/// A value that carries the generation of its slot (so the slot needs no room for it).
pub trait Tenant {
    /// The generation the slab gave the value when it was inserted.
    fn generation(&self) -> u32;
}

/// One slot: a value, or a free slot remembering the last generation.
enum Slot<T> {
    Free { next: u32, generation: u32 },
    Used(T),
}

/// The slab; see the module docs.
pub struct Slab<T> {
    segments: Vec<Box<[Slot<T>]>>,
    /// Head of the free list of slots below `high`.
    free: u32,
    /// Slots below this have been handed out at least once.
    high: u32,
    /// Slots in use.
    len: u32,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            segments: Vec::new(),
            free: NONE,
            high: 0,
            len: 0,
        }
    }
}

fn next_generation(g: u32) -> u32 {
    match g.wrapping_add(1) & GEN_MASK {
        0 => 1,
        n => n,
    }
}

impl<T: Tenant> Slab<T> {
    /// Values held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    fn slot(&self, slot: u32) -> Option<&Slot<T>> {
        let i = slot as usize;
        self.segments.get(i / SEGMENT)?.get(i % SEGMENT)
    }

    fn slot_mut(&mut self, slot: u32) -> Option<&mut Slot<T>> {
        let i = slot as usize;
        self.segments.get_mut(i / SEGMENT)?.get_mut(i % SEGMENT)
    }

    /// Stores `make(generation)` in a free slot (reusing freed ones first) under the slot's
    /// next generation, which the value must report as its own; returns the slot and the
    /// generation, or `None` when all `u32` slots are taken.
    pub fn insert(&mut self, make: impl FnOnce(u32) -> T) -> Option<(u32, u32)> {
        let slot = if self.free != NONE {
            self.free
        } else {
            if self.high == NONE {
                return None;
            }
            if self.high as usize == self.segments.len() * SEGMENT {
                let segment: Box<[Slot<T>]> = (0..SEGMENT)
                    .map(|_| Slot::Free {
                        next: NONE,
                        generation: 0,
                    })
                    .collect();
                self.segments.push(segment);
            }
            self.high += 1;
            self.high - 1
        };
        let entry = self.slot_mut(slot)?;
        let (next, generation) = match entry {
            Slot::Free { next, generation } => (*next, next_generation(*generation)),
            Slot::Used { .. } => return None,
        };
        *entry = Slot::Used(make(generation));
        if slot == self.free {
            self.free = next;
        }
        self.len += 1;
        Some((slot, generation))
    }

    /// The value in `slot`, whatever its generation.
    pub fn get(&self, slot: u32) -> Option<&T> {
        match self.slot(slot)? {
            Slot::Used(value) => Some(value),
            Slot::Free { .. } => None,
        }
    }

    /// The value in `slot` if it is still of `generation`.
    pub fn get_gen(&self, slot: u32, generation: u32) -> Option<&T> {
        match self.slot(slot)? {
            Slot::Used(value) if value.generation() == generation => Some(value),
            _ => None,
        }
    }

    /// The value in `slot` if it is still of `generation`, mutably.
    pub fn get_gen_mut(&mut self, slot: u32, generation: u32) -> Option<&mut T> {
        match self.slot_mut(slot)? {
            Slot::Used(value) if value.generation() == generation => Some(value),
            _ => None,
        }
    }

    /// The generation of the value in `slot`, if one is there.
    pub fn generation(&self, slot: u32) -> Option<u32> {
        match self.slot(slot)? {
            Slot::Used(value) => Some(value.generation()),
            Slot::Free { .. } => None,
        }
    }

    /// Takes the value out of `slot`; the slot goes on the free list.
    pub fn remove(&mut self, slot: u32) -> Option<T> {
        let free = self.free;
        let entry = self.slot_mut(slot)?;
        let generation = match entry {
            Slot::Used(value) => value.generation(),
            Slot::Free { .. } => return None,
        };
        let old = std::mem::replace(
            entry,
            Slot::Free {
                next: free,
                generation,
            },
        );
        self.free = slot;
        self.len -= 1;
        match old {
            Slot::Used(value) => Some(value),
            Slot::Free { .. } => None,
        }
    }

    /// Every value with its slot, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.segments
            .iter()
            .flat_map(|s| s.iter())
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Used(value) => Some((i as u32, value)),
                Slot::Free { .. } => None,
            })
    }

    /// Every value with its slot, mutably, in slot order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut T)> {
        self.segments
            .iter_mut()
            .flat_map(|s| s.iter_mut())
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Used(value) => Some((i as u32, value)),
                Slot::Free { .. } => None,
            })
    }
}

/// Size of one slot holding a `T` (for memory accounting).
pub const fn slot_size<T>() -> usize {
    std::mem::size_of::<Slot<T>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct V(u32, &'static str);

    impl Tenant for V {
        fn generation(&self) -> u32 {
            self.0
        }
    }

    fn v(name: &'static str) -> impl FnOnce(u32) -> V {
        move |g| V(g, name)
    }

    #[test]
    fn reuses_freed_slots_with_a_new_generation() {
        let mut s: Slab<V> = Slab::default();
        let (a, ga) = s.insert(v("a")).unwrap();
        let (b, gb) = s.insert(v("b")).unwrap();
        assert_eq!((a, ga, b, gb), (0, 1, 1, 1));
        assert_eq!(s.remove(a), Some(V(1, "a")));
        assert_eq!(s.remove(a), None, "already free");
        assert_eq!(s.get(a), None);
        assert_eq!(s.len(), 1);
        let (c, gc) = s.insert(v("c")).unwrap();
        assert_eq!((c, gc), (0, 2), "the freed slot, next generation");
        assert_eq!(s.get_gen(c, 1), None, "a stale address misses");
        assert_eq!(s.get_gen(c, 2), Some(&V(2, "c")));
        assert_eq!(s.get_gen_mut(b, 1).map(|x| x.1), Some("b"));
        assert_eq!(s.generation(b), Some(1));
        let got: Vec<(u32, &str)> = s.iter().map(|(i, v)| (i, v.1)).collect();
        assert_eq!(got, [(0, "c"), (1, "b")]);
    }

    #[test]
    fn grows_by_segments_and_frees_in_lifo_order() {
        let mut s: Slab<V> = Slab::default();
        for i in 0..(SEGMENT as u32 + 3) {
            assert_eq!(s.insert(v("x")).map(|x| x.0), Some(i));
        }
        assert_eq!(s.segments.len(), 2);
        s.remove(5);
        s.remove(SEGMENT as u32 + 1);
        assert_eq!(s.insert(v("y")), Some((SEGMENT as u32 + 1, 2)));
        assert_eq!(s.insert(v("y")), Some((5, 2)));
        assert_eq!(s.insert(v("y")), Some((SEGMENT as u32 + 3, 1)));
        for (i, x) in s.iter_mut() {
            if i == 5 {
                x.1 = "five";
            }
        }
        assert_eq!(s.get(5), Some(&V(2, "five")));
        assert_eq!(s.len(), SEGMENT + 4);
    }

    #[test]
    fn generations_wrap_past_zero() {
        assert_eq!(next_generation(GEN_MASK), 1);
        assert_eq!(next_generation(0), 1);
        assert_eq!(next_generation(7), 8);
    }
}
