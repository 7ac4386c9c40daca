//! A map keyed by series refs, hashed with one multiplication: refs are integers handed out
//! in sequence, so SipHash's flood resistance buys nothing, and the log's writer and readers
//! look a ref up for every sample.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` keyed by series refs (see the module docs).
pub type RefMap<V> = HashMap<u64, V, BuildHasherDefault<RefHasher>>;

/// The hasher of [`RefMap`]: Fibonacci hashing of the ref.
#[derive(Debug, Default, Clone, Copy)]
pub struct RefHasher(u64);

impl Hasher for RefHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let h = (n ^ (n >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }
}
