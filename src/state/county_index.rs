//! [`CountyIndex`]: county positions by id, in id order for output and hashed for the
//! per-event lookup of the fold.
//!
//! Guarantees: iteration is in id order (a `BTreeMap`); the hash table is only ever
//! looked up, never iterated, so no output depends on its order; equality is the
//! ordered map's. Lookups hash the id's inline bytes (ids are at most 32 bytes), so
//! finding a county costs no string comparison down a tree and no pointer chase.

use crate::values::CountyId;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

/// County positions (indices into the state's registration-order list) by id.
#[derive(Clone, Debug, Default)]
pub(crate) struct CountyIndex {
    by_id: BTreeMap<CountyId, u32>,
    /// Hashed with `fxhash` (already in the tree through sled): the multiply-rotate
    /// hash of rustc, a few cycles per word. Not keyed: county ids come only from
    /// officers' `county_registered` events, and a crafted collision set would only
    /// slow lookups, never change a result.
    lookup: HashMap<IdKey, u32, fxhash::FxBuildHasher>,
}

impl PartialEq for CountyIndex {
    fn eq(&self, other: &CountyIndex) -> bool {
        self.by_id == other.by_id
    }
}

impl Eq for CountyIndex {}

impl CountyIndex {
    /// The position of `id`, if registered.
    #[inline]
    pub(crate) fn get(&self, id: &CountyId) -> Option<u32> {
        self.lookup.get(&IdKey::of(id)).copied()
    }

    /// True when `id` is registered.
    pub(crate) fn contains_key(&self, id: &CountyId) -> bool {
        self.get(id).is_some()
    }

    /// Registers `id` at position `i`.
    pub(crate) fn insert(&mut self, id: CountyId, i: u32) {
        self.lookup.insert(IdKey::of(&id), i);
        self.by_id.insert(id, i);
    }

    /// Forgets `id`.
    pub(crate) fn remove(&mut self, id: &CountyId) {
        self.lookup.remove(&IdKey::of(id));
        self.by_id.remove(id);
    }

    /// Number of ids (of the ordered map; [`CountyIndex::agrees`] says whether the
    /// hash table holds the same).
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when the hash table and the ordered map hold the same ids at the same
    /// positions (the state's invariant 2).
    pub(crate) fn agrees(&self) -> bool {
        self.lookup.len() == self.by_id.len()
            && self
                .by_id
                .iter()
                .all(|(id, &i)| self.lookup.get(&IdKey::of(id)) == Some(&i))
    }

    /// Positions in id order.
    pub(crate) fn in_id_order(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_id.values().copied()
    }

    /// Ids and positions in id order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&CountyId, u32)> + '_ {
        self.by_id.iter().map(|(id, &i)| (id, i))
    }
}

/// A county id's zero-padded bytes as four words (a valid id is 1–32 ASCII bytes
/// and holds no zero byte, so the padding cannot make two ids equal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IdKey([u64; 4]);

impl IdKey {
    #[inline]
    fn of(id: &CountyId) -> IdKey {
        let b = id.padded_bytes();
        let w = |i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        IdKey([w(0), w(1), w(2), w(3)])
    }
}

impl Hash for IdKey {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        for w in self.0 {
            h.write_u64(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_by_id_and_iterates_in_id_order() {
        let id = |s: &str| CountyId::parse(s).unwrap();
        let mut x = CountyIndex::default();
        let names = ["b", "a", "a-", "a_0", &"z".repeat(32), "zz", "c9"];
        for (i, n) in names.iter().enumerate() {
            x.insert(id(n), i as u32);
        }
        for (i, n) in names.iter().enumerate() {
            assert_eq!(x.get(&id(n)), Some(i as u32), "{n}");
        }
        assert_eq!(x.get(&id("aa")), None);
        assert_eq!(x.get(&id(&"z".repeat(31))), None);
        let order: Vec<_> = x.iter().map(|(k, _)| k.as_str().to_string()).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        x.remove(&id("a"));
        assert!(!x.contains_key(&id("a")));
        assert_eq!(x.in_id_order().count(), names.len() - 1);
    }
}
