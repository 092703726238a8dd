//! [`SlotTable`]: the per-record reversal table — one `Option<Slot>` per record —
//! held in chunks that copies of the state share.
//!
//! `serve` copies its state once at every start, for the readers' mirror
//! (`server/mirror.rs`); at ten million records this table is 320 MB of that copy.
//! Held as chunks of [`CHUNK`] slots behind reference counts, a copy shares every
//! chunk (153 pointers at ten million records), and whichever copy first writes into
//! a shared chunk copies that chunk alone (2 MB) before writing: a fold appends into
//! the last chunk, and a reversal marks its record's chunk.
//!
//! Guarantees: it behaves as a vector of slots (same answers, same equality: two
//! tables are equal when their slots are, whatever they share); every chunk but the
//! last holds exactly [`CHUNK`] slots and the last is never empty, so the chunks of
//! a table are a function of its slots; a chunk is never reallocated as it fills
//! (each has room for [`CHUNK`] from its start), so the table never holds a doubled
//! copy of itself.

use super::evolve::Slot;
use std::sync::Arc;

/// Slots per chunk (2 MB of 32-byte slots); the snapshot's packed chunks are cut the
/// same way (`packed_slots.rs`).
pub(super) const CHUNK: usize = 1 << 16;

/// One chunk: up to [`CHUNK`] slots.
type Chunk = Vec<Option<Slot>>;

/// A chunk this table may write into: when another copy shares it, it is first
/// replaced by a copy of its own with room for a whole chunk (`Arc::make_mut` would
/// copy it at its length, and appends would then double it).
fn own(chunk: &mut Arc<Chunk>) -> &mut Chunk {
    if Arc::get_mut(chunk).is_none() {
        let mut copy = Vec::with_capacity(CHUNK);
        copy.extend_from_slice(chunk);
        *chunk = Arc::new(copy);
    }
    Arc::get_mut(chunk).expect("not shared")
}

/// The per-record table (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct SlotTable {
    chunks: Vec<Arc<Chunk>>,
    len: usize,
}

impl SlotTable {
    /// Number of slots (the seq of the last record folded).
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The slot at `i`, if the table reaches it.
    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<Option<Slot>> {
        (i < self.len).then(|| self.chunks[i / CHUNK][i % CHUNK])
    }

    /// The slot at `i` to change, copying its chunk first if another table shares
    /// it. Panics past the end, as indexing a vector does.
    #[inline]
    pub(super) fn get_mut(&mut self, i: usize) -> &mut Option<Slot> {
        assert!(i < self.len, "slot {i} of {}", self.len);
        &mut own(&mut self.chunks[i / CHUNK])[i % CHUNK]
    }

    /// Appends a slot.
    #[inline]
    pub(super) fn push(&mut self, s: Option<Slot>) {
        if self.len % CHUNK == 0 {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        own(self.chunks.last_mut().expect("a chunk")).push(s);
        self.len += 1;
    }

    /// Grows the table with empty slots to `n` slots (never shrinks it).
    pub(super) fn grow_to(&mut self, n: usize) {
        while self.len < n {
            self.push(None);
        }
    }

    /// Shortens the table to `n` slots (never lengthens it).
    pub(super) fn truncate(&mut self, n: usize) {
        if n >= self.len {
            return;
        }
        self.chunks.truncate(n.div_ceil(CHUNK));
        if n % CHUNK != 0 {
            own(self.chunks.last_mut().expect("a chunk")).truncate(n % CHUNK);
        }
        self.len = n;
    }

    /// Makes room for the chunk pointers of `n` slots (the chunks themselves are
    /// allocated whole as they are reached).
    pub(super) fn reserve(&mut self, n: usize) {
        let want = n.div_ceil(CHUNK);
        self.chunks.reserve(want.saturating_sub(self.chunks.len()));
    }

    /// Every slot in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Option<Slot>> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The chunks in order (the snapshot writes them as they are).
    pub(super) fn chunks(&self) -> impl ExactSizeIterator<Item = &[Option<Slot>]> + '_ {
        self.chunks.iter().map(|c| c.as_slice())
    }

    /// Builds a table from whole chunks read back (every one but the last full, the
    /// last not empty); `None` when they are not cut so.
    pub(super) fn from_chunks(chunks: Vec<Chunk>) -> Option<SlotTable> {
        let n = chunks.len();
        let cut = chunks.iter().enumerate().all(|(i, c)| {
            if i + 1 < n {
                c.len() == CHUNK
            } else {
                !c.is_empty() && c.len() <= CHUNK
            }
        });
        cut.then(|| SlotTable {
            len: chunks.iter().map(Vec::len).sum(),
            chunks: chunks.into_iter().map(Arc::new).collect(),
        })
    }

    /// Heap bytes held (each chunk counted whole, shared or not).
    pub(super) fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Arc<Chunk>>()
            + self
                .chunks
                .iter()
                .map(|c| c.capacity() * std::mem::size_of::<Option<Slot>>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::evolve::Effect;
    use super::*;
    use crate::values::Date;

    fn slot(i: usize) -> Option<Slot> {
        (i % 3 != 0).then(|| Slot {
            amount: i as i64,
            date: Date::parse("2021-01-01").unwrap(),
            reversed_on: None,
            effect: Effect::Notice { idx: i as u32 },
        })
    }

    #[test]
    fn behaves_as_a_vector_and_copies_share_until_written() {
        let mut t = SlotTable::default();
        let mut v: Vec<Option<Slot>> = Vec::new();
        let n = 2 * CHUNK + 5;
        for i in 0..n {
            t.push(slot(i));
            v.push(slot(i));
        }
        assert_eq!(t.len(), n);
        assert!(t.iter().eq(v.iter()));
        assert_eq!(t.get(n), None);
        assert_eq!(t.get(CHUNK + 1), Some(v[CHUNK + 1]));
        // A copy shares every chunk; writing copies the one chunk written.
        let before = t.clone();
        let mut copy = t.clone();
        assert!(Arc::ptr_eq(&copy.chunks[0], &t.chunks[0]));
        copy.get_mut(CHUNK + 1).as_mut().unwrap().reversed_on =
            Some(Date::parse("2021-02-01").unwrap());
        assert!(Arc::ptr_eq(&copy.chunks[0], &t.chunks[0]));
        assert!(!Arc::ptr_eq(&copy.chunks[1], &t.chunks[1]));
        assert!(Arc::ptr_eq(&copy.chunks[2], &t.chunks[2]));
        assert!(t.iter().eq(v.iter()), "the original is untouched");
        assert_eq!(t, before);
        // Appending to a shared last chunk gives the copy its own, with room for a
        // whole chunk; the original's is untouched.
        let mut grown = t.clone();
        grown.push(slot(n));
        assert!(!Arc::ptr_eq(&grown.chunks[2], &t.chunks[2]));
        assert_eq!(grown.chunks[2].capacity(), CHUNK);
        // So does writing into it (a reversal of a recent record) or shortening it
        // (an undo) while it is shared.
        let mut marked = t.clone();
        marked.get_mut(2 * CHUNK + 1);
        assert_eq!(marked.chunks[2].capacity(), CHUNK);
        let mut undone = t.clone();
        undone.truncate(n - 1);
        assert_eq!(undone.chunks[2].capacity(), CHUNK);
        assert!(Arc::ptr_eq(&undone.chunks[1], &t.chunks[1]));
        assert_eq!((t.len(), t.chunks[2].len()), (n, 5));
        assert!(t.iter().eq(v.iter()));
        assert_ne!(copy, t);
        copy.get_mut(CHUNK + 1).as_mut().unwrap().reversed_on = None;
        assert_eq!(copy, t, "equal slots, equal tables, whatever they share");
        // Truncating to any length and growing again keeps the chunks cut the same.
        for cut in [n, n - 1, 2 * CHUNK + 1, 2 * CHUNK, CHUNK + 7, CHUNK, 1, 0] {
            let mut c = t.clone();
            c.truncate(cut);
            assert_eq!(c.len(), cut);
            assert!(c.iter().eq(v[..cut].iter()), "truncated to {cut}");
            assert!(c.chunks.iter().all(|x| !x.is_empty()));
            for i in cut..n {
                c.push(slot(i));
            }
            assert_eq!(c, t, "truncated to {cut} and grown back");
            let rebuilt = SlotTable::from_chunks(c.chunks().map(<[_]>::to_vec).collect());
            assert_eq!(rebuilt.as_ref(), Some(&t));
        }
        let mut g = SlotTable::default();
        g.grow_to(CHUNK + 2);
        assert_eq!(g.len(), CHUNK + 2);
        assert!(g.iter().all(Option::is_none));
        // Chunks not cut as written are refused.
        assert!(SlotTable::from_chunks(vec![vec![None; 3], vec![None]]).is_none());
        assert!(SlotTable::from_chunks(vec![vec![]]).is_none());
        assert_eq!(SlotTable::from_chunks(vec![]), Some(SlotTable::default()));
    }
}
