//! [`SlotTable`]: the per-record reversal table — one `Option<Slot>` per record —
//! held in chunks that copies of the state share, and kept as a snapshot stores it
//! until something writes into it.
//!
//! `serve` copies its state once at every start, for the readers' mirror
//! (`server/mirror.rs`); at ten million records this table is 320 MB of that copy.
//! Held as chunks of [`CHUNK`] slots behind reference counts, a copy shares every
//! chunk (153 pointers at ten million records), and whichever copy first writes into
//! a shared chunk copies that chunk alone (2 MB) before writing: a fold appends into
//! the last chunk, and a reversal marks its record's chunk.
//!
//! A table read from a snapshot keeps each chunk packed ([`Packed`]: the snapshot's
//! own bytes, `packed_slots.rs`, checked slot by slot when read) instead of decoding
//! ten million slots at every start; a packed slot is decoded when it is asked for
//! (from the nearest of a mark every [`MARK`] slots), and a chunk is decoded whole
//! the first time something writes into it. A snapshot written again stores a
//! packed chunk's bytes as they are.
//!
//! Guarantees: it behaves as a vector of slots (same answers, same equality: two
//! tables are equal when their slots are, whatever they share or keep packed); every
//! chunk but the last holds exactly [`CHUNK`] slots and the last is never empty, so
//! the chunks of a table are a function of its slots; a chunk is never reallocated as
//! it fills (each has room for [`CHUNK`] from its start), so the table never holds a
//! doubled copy of itself; a packed chunk exists only once every slot of it decoded
//! and passed the reader's checks ([`Packed::new`]), so decoding it again cannot fail.

use super::evolve::Slot;
use super::packed_slots;
use std::sync::Arc;

/// Slots per chunk (2 MB of 32-byte slots); the snapshot's packed chunks are cut the
/// same way (`packed_slots.rs`).
pub(super) const CHUNK: usize = 1 << 16;

/// Slots between two marks of a packed chunk: asking for a packed slot steps over at
/// most `MARK − 1` others.
const MARK: usize = 64;

/// A chunk's slots, decoded.
type Slots = Vec<Option<Slot>>;

/// A chunk as a snapshot stores it, in the buffer the snapshot was read into (shared
/// by every packed chunk of that read), with the byte offset of every [`MARK`]th
/// slot.
pub(super) struct Packed {
    buf: Arc<Vec<u8>>,
    start: usize,
    end: usize,
    len: usize,
    marks: Box<[u32]>,
}

impl Packed {
    /// The chunk stored at `buf[start..end]`, which must hold exactly `len` slots
    /// (1 to [`CHUNK`]); `check` sees each slot that holds a target, with its index
    /// in the chunk, and may refuse it. An error when the bytes are not `len` slots
    /// as `packed_slots.rs` encodes them, or `check` refuses one.
    pub(super) fn new(
        buf: Arc<Vec<u8>>,
        start: usize,
        end: usize,
        len: usize,
        mut check: impl FnMut(usize, &Slot) -> Result<(), String>,
    ) -> Result<Packed, String> {
        if !(1..=CHUNK).contains(&len) || start > end || end > buf.len() {
            return Err("packed slots: chunks not as written".into());
        }
        let b = &buf[start..end];
        let mut marks = Vec::with_capacity(len.div_ceil(MARK));
        let mut at = 0;
        for i in 0..len {
            if i % MARK == 0 {
                marks.push(at as u32);
            }
            let (slot, next) = packed_slots::slot_at(b, at)?;
            if let Some(s) = &slot {
                check(i, s)?;
            }
            at = next;
        }
        if at != b.len() {
            return Err(
                "packed slots: chunks not as written: one holds more slots than the count gives it"
                    .into(),
            );
        }
        Ok(Packed {
            buf,
            start,
            end,
            len,
            marks: marks.into_boxed_slice(),
        })
    }

    /// The stored bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Slot `i` of the chunk (`i < len`).
    fn get(&self, i: usize) -> Option<Slot> {
        let b = self.bytes();
        let mut at = self.marks[i / MARK] as usize;
        for _ in 0..i % MARK {
            at += packed_slots::width(b[at]);
        }
        packed_slots::slot_at(b, at).expect("checked when read").0
    }

    /// Every slot of the chunk in order.
    fn iter(&self) -> impl Iterator<Item = Option<Slot>> + '_ {
        let b = self.bytes();
        let mut at = 0;
        (0..self.len).map(move |_| {
            let (slot, next) = packed_slots::slot_at(b, at).expect("checked when read");
            at = next;
            slot
        })
    }
}

/// One chunk: up to [`CHUNK`] slots, decoded or still packed.
#[derive(Clone)]
enum Chunk {
    Slots(Arc<Slots>),
    Packed(Arc<Packed>),
}

impl Chunk {
    fn len(&self) -> usize {
        match self {
            Chunk::Slots(s) => s.len(),
            Chunk::Packed(p) => p.len,
        }
    }
}

/// A chunk of a table, as [`SlotTable::chunks`] gives it to the snapshot's writer.
pub(super) enum ChunkRef<'a> {
    /// Decoded slots.
    Slots(&'a [Option<Slot>]),
    /// Bytes as `packed_slots.rs` stores them.
    Packed(&'a [u8]),
}

/// A chunk this table may write into: a packed one is decoded first, and one that
/// another copy shares is first replaced by a copy of its own, with room for a whole
/// chunk (`Arc::make_mut` would copy it at its length, and appends would then double
/// it).
fn own(chunk: &mut Chunk) -> &mut Slots {
    if let Chunk::Packed(p) = &*chunk {
        let mut slots = Vec::with_capacity(CHUNK);
        slots.extend(p.iter());
        *chunk = Chunk::Slots(Arc::new(slots));
    }
    let Chunk::Slots(s) = chunk else {
        unreachable!("decoded above")
    };
    if Arc::get_mut(s).is_none() {
        let mut copy = Vec::with_capacity(CHUNK);
        copy.extend_from_slice(s);
        *s = Arc::new(copy);
    }
    Arc::get_mut(s).expect("not shared")
}

/// The per-record table (see the module doc).
#[derive(Clone, Default)]
pub(super) struct SlotTable {
    chunks: Vec<Chunk>,
    len: usize,
}

/// Printed as the list of its slots, as a vector prints, whether chunks are packed
/// or not (a packed chunk's buffer holds more than its slots).
impl std::fmt::Debug for SlotTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for SlotTable {
    fn eq(&self, other: &SlotTable) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for SlotTable {}

impl SlotTable {
    /// Number of slots (the seq of the last record folded).
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The slot at `i`, if the table reaches it.
    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<Option<Slot>> {
        (i < self.len).then(|| match &self.chunks[i / CHUNK] {
            Chunk::Slots(s) => s[i % CHUNK],
            Chunk::Packed(p) => p.get(i % CHUNK),
        })
    }

    /// The slot at `i` to change, decoding its chunk first if it is packed and
    /// copying it if another table shares it. Panics past the end, as indexing a
    /// vector does.
    #[inline]
    pub(super) fn get_mut(&mut self, i: usize) -> &mut Option<Slot> {
        assert!(i < self.len, "slot {i} of {}", self.len);
        &mut own(&mut self.chunks[i / CHUNK])[i % CHUNK]
    }

    /// Appends a slot.
    #[inline]
    pub(super) fn push(&mut self, s: Option<Slot>) {
        if self.len % CHUNK == 0 {
            self.chunks
                .push(Chunk::Slots(Arc::new(Vec::with_capacity(CHUNK))));
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
    pub(super) fn iter(&self) -> impl Iterator<Item = Option<Slot>> + '_ {
        self.chunks.iter().flat_map(|c| {
            let (slots, packed) = match c {
                Chunk::Slots(s) => (s.as_slice(), None),
                Chunk::Packed(p) => (&[][..], Some(p.iter())),
            };
            slots.iter().copied().chain(packed.into_iter().flatten())
        })
    }

    /// The chunks in order (the snapshot writes them as they are).
    pub(super) fn chunks(&self) -> impl ExactSizeIterator<Item = ChunkRef<'_>> + '_ {
        self.chunks.iter().map(|c| match c {
            Chunk::Slots(s) => ChunkRef::Slots(s),
            Chunk::Packed(p) => ChunkRef::Packed(p.bytes()),
        })
    }

    /// A table of packed chunks read back (every one but the last of [`CHUNK`]
    /// slots, the last not empty); `None` when they are not cut so.
    pub(super) fn from_packed(chunks: Vec<Packed>) -> Option<SlotTable> {
        SlotTable::of_chunks(chunks.into_iter().map(|p| Chunk::Packed(Arc::new(p))))
    }

    /// Builds a table from whole decoded chunks (every one but the last full, the
    /// last not empty); `None` when they are not cut so.
    #[cfg(test)]
    pub(super) fn from_chunks(chunks: Vec<Slots>) -> Option<SlotTable> {
        SlotTable::of_chunks(chunks.into_iter().map(|c| Chunk::Slots(Arc::new(c))))
    }

    /// The table of `chunks` when every one but the last holds [`CHUNK`] slots and
    /// the last is not empty.
    fn of_chunks(chunks: impl Iterator<Item = Chunk>) -> Option<SlotTable> {
        let chunks: Vec<Chunk> = chunks.collect();
        let n = chunks.len();
        let cut = chunks.iter().enumerate().all(|(i, c)| {
            if i + 1 < n {
                c.len() == CHUNK
            } else {
                (1..=CHUNK).contains(&c.len())
            }
        });
        cut.then(|| SlotTable {
            len: chunks.iter().map(Chunk::len).sum(),
            chunks,
        })
    }

    /// Whether the chunk at `i` is still packed (for tests of when chunks decode).
    #[cfg(test)]
    pub(super) fn is_packed(&self, i: usize) -> bool {
        matches!(self.chunks[i], Chunk::Packed(_))
    }

    /// Heap bytes held: each decoded chunk counted whole, shared or not; packed
    /// chunks by their marks, and each buffer they sit in once, whole (it holds the
    /// rest of the snapshot's second part too, and lives as long as one of them).
    pub(super) fn heap_bytes(&self) -> usize {
        let mut buffers: Vec<&Arc<Vec<u8>>> = Vec::new();
        let mut bytes = self.chunks.capacity() * std::mem::size_of::<Chunk>();
        for c in &self.chunks {
            bytes += match c {
                Chunk::Slots(s) => s.capacity() * std::mem::size_of::<Option<Slot>>(),
                Chunk::Packed(p) => {
                    if !buffers.iter().any(|b| Arc::ptr_eq(b, &p.buf)) {
                        buffers.push(&p.buf);
                        bytes += p.buf.capacity();
                    }
                    p.marks.len() * std::mem::size_of::<u32>()
                }
            };
        }
        bytes
    }

    /// The same table with every chunk decoded (for tests that a table's slots,
    /// encoded anew, give the bytes it was read from).
    #[cfg(test)]
    pub(super) fn decoded(&self) -> SlotTable {
        let mut t = SlotTable::default();
        self.iter().for_each(|s| t.push(s));
        t
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

    /// Whether two tables share chunk `i`.
    fn shared(a: &SlotTable, b: &SlotTable, i: usize) -> bool {
        match (&a.chunks[i], &b.chunks[i]) {
            (Chunk::Slots(x), Chunk::Slots(y)) => Arc::ptr_eq(x, y),
            (Chunk::Packed(x), Chunk::Packed(y)) => Arc::ptr_eq(x, y),
            _ => false,
        }
    }

    /// The capacity of decoded chunk `i`.
    fn room(t: &SlotTable, i: usize) -> usize {
        match &t.chunks[i] {
            Chunk::Slots(s) => s.capacity(),
            Chunk::Packed(_) => panic!("chunk {i} is packed"),
        }
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
        assert!(t.iter().eq(v.iter().copied()));
        assert_eq!(t.get(n), None);
        assert_eq!(t.get(CHUNK + 1), Some(v[CHUNK + 1]));
        // A copy shares every chunk; writing copies the one chunk written.
        let before = t.clone();
        let mut copy = t.clone();
        assert!(shared(&copy, &t, 0));
        copy.get_mut(CHUNK + 1).as_mut().unwrap().reversed_on =
            Some(Date::parse("2021-02-01").unwrap());
        assert!(shared(&copy, &t, 0));
        assert!(!shared(&copy, &t, 1));
        assert!(shared(&copy, &t, 2));
        assert!(t.iter().eq(v.iter().copied()), "the original is untouched");
        assert_eq!(t, before);
        // Appending to a shared last chunk gives the copy its own, with room for a
        // whole chunk; the original's is untouched.
        let mut grown = t.clone();
        grown.push(slot(n));
        assert!(!shared(&grown, &t, 2));
        assert_eq!(room(&grown, 2), CHUNK);
        // So does writing into it (a reversal of a recent record) or shortening it
        // (an undo) while it is shared.
        let mut marked = t.clone();
        marked.get_mut(2 * CHUNK + 1);
        assert_eq!(room(&marked, 2), CHUNK);
        let mut undone = t.clone();
        undone.truncate(n - 1);
        assert_eq!(room(&undone, 2), CHUNK);
        assert!(shared(&undone, &t, 1));
        assert_eq!((t.len(), t.chunks[2].len()), (n, 5));
        assert!(t.iter().eq(v.iter().copied()));
        assert_ne!(copy, t);
        copy.get_mut(CHUNK + 1).as_mut().unwrap().reversed_on = None;
        assert_eq!(copy, t, "equal slots, equal tables, whatever they share");
        // Truncating to any length and growing again keeps the chunks cut the same.
        for cut in [n, n - 1, 2 * CHUNK + 1, 2 * CHUNK, CHUNK + 7, CHUNK, 1, 0] {
            let mut c = t.clone();
            c.truncate(cut);
            assert_eq!(c.len(), cut);
            assert!(c.iter().eq(v[..cut].iter().copied()), "truncated to {cut}");
            assert!(c.chunks.iter().all(|x| x.len() > 0));
            for i in cut..n {
                c.push(slot(i));
            }
            assert_eq!(c, t, "truncated to {cut} and grown back");
            let rebuilt = SlotTable::from_chunks(
                c.chunks
                    .iter()
                    .map(|x| match x {
                        Chunk::Slots(s) => s.to_vec(),
                        Chunk::Packed(_) => unreachable!("never read packed here"),
                    })
                    .collect(),
            );
            assert_eq!(rebuilt.as_ref(), Some(&t));
        }
        let mut g = SlotTable::default();
        g.grow_to(CHUNK + 2);
        assert_eq!(g.len(), CHUNK + 2);
        assert!(g.iter().all(|s| s.is_none()));
        // Chunks not cut as written are refused.
        assert!(SlotTable::from_chunks(vec![vec![None; 3], vec![None]]).is_none());
        assert!(SlotTable::from_chunks(vec![vec![]]).is_none());
        assert_eq!(SlotTable::from_chunks(vec![]), Some(SlotTable::default()));
    }
}
