//! The dependency index of a scope: which groups were built from which other objects.
//!
//! A group is built from its main object (the role's: a pod, an EndpointSlice, …) and from
//! objects it references: the pods an Endpoints/EndpointSlice names, the service it belongs to,
//! the node of a pod or address (`attach_metadata.node`), and the owners of a pod
//! (ReplicaSet → Deployment, Job → CronJob). Watch events arrive per resource in any order
//! relative to each other, so a group built before one of these objects arrived (or before it
//! changed) must be rebuilt when the object's event comes. After each build the scope records
//! the group's references here; an event on a referenced object then looks up exactly the
//! groups to rebuild.
//!
//! Layout, for memory: a reference is a 64-bit hash of (kind, `namespace/name`), computed
//! without building the key string (references to objects not stored yet cost no allocation).
//! `forward` maps a reference to the main keys that used it; `reverse` maps a main key to its
//! references at its last build, so a rebuild replaces them. A hash collision can only cause a
//! spurious rebuild (which re-emits an identical group), never a missed one. Groups without
//! references (the pod role without `attach_metadata`) take no entry at all.
//!
//! Namespaces are not indexed: the namespace is the first part of every main key, so a
//! namespace event (rare) selects its groups by scanning the main store's keys.

use std::collections::HashMap;
use std::sync::Arc;

/// The kind of a referenced object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DepKind {
    /// A Pod (`namespace/name`).
    Pod,
    /// A Node (`name`).
    Node,
    /// A Service (`namespace/name`).
    Service,
    /// A ReplicaSet (`namespace/name`).
    ReplicaSet,
    /// A Job (`namespace/name`).
    Job,
}

/// 64-bit FNV-1a over the kind tag and the key's bytes, fed in parts (`ns`, `/`, `name`) or
/// whole (`ns/name`) with the same result.
struct Fnv(u64);

impl Fnv {
    fn new(kind: DepKind) -> Self {
        let mut h = Self(0xcbf2_9ce4_8422_2325);
        h.write(&[kind as u8 + 1]);
        h
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The reference to object `key` (`namespace/name`, or `name` for nodes) of `kind`.
pub(crate) fn dep(kind: DepKind, key: &str) -> u64 {
    let mut h = Fnv::new(kind);
    h.write(key.as_bytes());
    h.0
}

/// The reference to the namespaced object `namespace`/`name` of `kind`.
pub(crate) fn dep_in(kind: DepKind, namespace: &str, name: &str) -> u64 {
    let mut h = Fnv::new(kind);
    h.write(namespace.as_bytes());
    h.write(b"/");
    h.write(name.as_bytes());
    h.0
}

/// Which groups depend on which objects (see the module docs).
#[derive(Default)]
pub(crate) struct DepIndex {
    forward: HashMap<u64, Vec<Arc<str>>>,
    reverse: HashMap<Arc<str>, Box<[u64]>>,
}

impl DepIndex {
    /// Records that the group of `main` was just built from `deps` (any order, duplicates
    /// allowed; `deps` is left sorted and deduplicated), replacing what it had before.
    pub(crate) fn set(&mut self, main: &Arc<str>, deps: &mut Vec<u64>) {
        deps.sort_unstable();
        deps.dedup();
        if let Some(old) = self.reverse.get(main) {
            if **old == **deps {
                return;
            }
        } else if deps.is_empty() {
            return;
        }
        if let Some(old) = self.reverse.remove(main) {
            for d in old.iter() {
                self.unlink(*d, main);
            }
        }
        if deps.is_empty() {
            return;
        }
        for d in deps.iter() {
            self.link(*d, main);
        }
        self.reverse.insert(main.clone(), deps.as_slice().into());
    }

    /// Adds `main` to the dependents of `d`. `set` removed `main`'s old links first and
    /// deduplicated `deps`, so it is not there yet: a push, no scan.
    fn link(&mut self, d: u64, main: &Arc<str>) {
        self.forward.entry(d).or_default().push(main.clone());
    }

    fn unlink(&mut self, d: u64, main: &str) {
        let Some(entry) = self.forward.get_mut(&d) else {
            return;
        };
        if let Some(i) = entry.iter().position(|k| &**k == main) {
            entry.swap_remove(i);
        }
        if entry.is_empty() {
            self.forward.remove(&d);
        } else if entry.capacity() > 2 * entry.len() + 4 {
            entry.shrink_to_fit();
        }
    }

    /// The main keys whose last build used reference `d`.
    pub(crate) fn dependents(&self, d: u64) -> &[Arc<str>] {
        self.forward.get(&d).map_or(&[], |v| v)
    }

    /// Number of (main key, reference) links, for tests.
    #[cfg(test)]
    fn links(&self) -> usize {
        self.reverse.values().map(|v| v.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_whole_keys_hash_alike() {
        assert_eq!(dep(DepKind::Pod, "ns/p1"), dep_in(DepKind::Pod, "ns", "p1"));
        assert_ne!(dep(DepKind::Pod, "ns/p1"), dep(DepKind::Service, "ns/p1"));
        assert_ne!(
            dep_in(DepKind::Pod, "n", "s/p1"),
            dep(DepKind::Pod, "ns/p1")
        );
    }

    #[test]
    fn set_replaces_and_removes_links() {
        let mut idx = DepIndex::default();
        let a: Arc<str> = Arc::from("ns/a");
        let b: Arc<str> = Arc::from("ns/b");
        let p1 = dep(DepKind::Pod, "ns/p1");
        let p2 = dep(DepKind::Pod, "ns/p2");
        idx.set(&a, &mut vec![p1, p2, p1]);
        idx.set(&b, &mut vec![p1]);
        let mut both = idx.dependents(p1).to_vec();
        both.sort();
        assert_eq!(both, [a.clone(), b.clone()]);
        assert_eq!(idx.dependents(p2), std::slice::from_ref(&a));
        assert_eq!(idx.links(), 3);
        idx.set(&a, &mut vec![p2]);
        assert_eq!(idx.dependents(p1), std::slice::from_ref(&b));
        idx.set(&b, &mut Vec::new());
        idx.set(&a, &mut Vec::new());
        assert!(idx.dependents(p1).is_empty());
        assert!(idx.dependents(p2).is_empty());
        assert_eq!(idx.links(), 0);
    }
}
