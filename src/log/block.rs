//! Blocks: how consecutive records are packed under one sled key.
//!
//! One sled key per record made sled's B-tree the bottleneck of every path (half of
//! the writer's CPU in an import, the floor under every replay, 2× the bincode size on
//! disk: BENCHMARKS.md). A block holds the stored forms of consecutive records, so
//! sled sees one key per ~[`BLOCK_TARGET_BYTES`] of records.
//!
//! Format: one version byte, the record count (u32 little-endian), for
//! [`BLOCK_V2`] the `prev_hash` of the block's first record (32 bytes), then per
//! record its length (u32 little-endian) and its stored bytes; nothing after the last
//! one. Each record keeps its own version byte, so a damaged record is found and named
//! on its own, exactly as before blocks existed.
//!
//! [`pack`] writes [`BLOCK_V2`] blocks of compact records ([`Record::encode_compact_into`]:
//! no seq, no `prev_hash` — the block's key and the records before it give them).
//! [`BLOCK_V1`] blocks (self-contained records, written before the compact form
//! existed) are read as they are, so a log holds both.
//!
//! Guarantees: [`entries`] never panics on any input; it answers the byte ranges of
//! every record it could frame, and, if the block is malformed, the index of the first
//! record it could not frame and why — so a reader can hand out the good records
//! before the damage and name the damaged seq. [`Entries::decode`] gives every record
//! of either form its place.

use crate::record::{Record, GENESIS};
use crate::values::Sha256Hex;
use std::ops::Range;

/// The version byte of a block of self-contained records (read, no longer written).
pub const BLOCK_V1: u8 = 1;

/// The version byte of a block that also stores its first record's `prev_hash`.
pub const BLOCK_V2: u8 = 2;

/// A block is closed once it holds at least this many bytes of records. sled writes a
/// node of up to 16 keys as one log item and moves items over a quarter of its 512 KiB
/// segment into separate blob files; blocks of ~6 KiB keep every node well under that.
pub const BLOCK_TARGET_BYTES: usize = 6 * 1024;

/// Bytes of a [`BLOCK_V1`] header: version byte and count.
const HEADER_V1: usize = 5;

/// Bytes of a [`BLOCK_V2`] header: version byte, count and the first `prev_hash`.
const HEADER_V2: usize = 5 + 32;

/// Packs consecutive records (already checked to continue each other) into
/// [`BLOCK_V2`] blocks of about [`BLOCK_TARGET_BYTES`]: `(first seq, block bytes)`, in
/// seq order.
pub fn pack(records: &[Record]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut start = 0usize;
    while start < records.len() {
        let mut buf = Vec::with_capacity(BLOCK_TARGET_BYTES + 512);
        buf.push(BLOCK_V2);
        buf.extend_from_slice(&[0; 4]);
        buf.extend_from_slice(&records[start].prev_hash.0);
        let mut n = 0u32;
        let mut i = start;
        while i < records.len() && (n == 0 || buf.len() < BLOCK_TARGET_BYTES) {
            let at = buf.len();
            buf.extend_from_slice(&[0; 4]);
            records[i].encode_compact_into(&mut buf);
            let len = (buf.len() - at - 4) as u32;
            buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
            n += 1;
            i += 1;
        }
        buf[1..HEADER_V1].copy_from_slice(&n.to_le_bytes());
        out.push((records[start].seq, buf));
        start = i;
    }
    out
}

/// Builds one [`BLOCK_V1`] block from raw stored record forms (for tests that write
/// bytes the codec would not produce).
pub fn pack_raw<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    frame(&[BLOCK_V1], entries)
}

/// Builds a block like `old` (same version and, for [`BLOCK_V2`], the same first
/// `prev_hash`) that holds `entries` (raw stored forms): for rewriting a block with
/// fewer or other records (truncation, repairs). A block whose header cannot be read
/// gives a [`BLOCK_V1`] one.
pub fn rebuild<'a>(old: &[u8], entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    match old {
        [BLOCK_V2, _, _, _, _, prev @ ..] if prev.len() >= 32 => {
            let mut header = vec![BLOCK_V2];
            header.extend_from_slice(&prev[..32]);
            frame(&header, entries)
        }
        _ => pack_raw(entries),
    }
}

/// A block of `header` (the version byte, then what follows the count) and `entries`.
fn frame<'a>(header: &[u8], entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut buf = vec![header[0], 0, 0, 0, 0];
    buf.extend_from_slice(&header[1..]);
    let mut n = 0u32;
    for e in entries {
        buf.extend_from_slice(&(e.len() as u32).to_le_bytes());
        buf.extend_from_slice(e);
        n += 1;
    }
    buf[1..HEADER_V1].copy_from_slice(&n.to_le_bytes());
    buf
}

/// The framing of one block: the byte ranges of the records it could frame, in order,
/// and the first one it could not (its index in the block, and why), if any.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Entries {
    /// Byte ranges of the framed records within the block.
    pub spans: Vec<Range<usize>>,
    /// Index of the first record that could not be framed, and why.
    pub damage: Option<(usize, String)>,
    /// The first record's `prev_hash`, stored in a [`BLOCK_V2`] header.
    pub prev: Option<Sha256Hex>,
}

impl Entries {
    /// The `prev_hash` that framed record `i` of `bytes` takes from its place if it is
    /// compact: the block's for the first record, the stored hash of the record before
    /// it for the others (zeros where neither can be read: the hash check then fails).
    fn prev_of(&self, bytes: &[u8], i: usize) -> Sha256Hex {
        if i == 0 {
            return self.prev.unwrap_or(GENESIS);
        }
        self.spans
            .get(i - 1)
            .and_then(|s| Record::stored_hash(&bytes[s.clone()]))
            .unwrap_or(GENESIS)
    }

    /// The `prev_hash` for record `i` if it is compact, without reading anything for a
    /// self-contained one (which carries its own).
    pub fn context(&self, bytes: &[u8], i: usize) -> Sha256Hex {
        match self.spans.get(i) {
            Some(s) if Record::is_compact(&bytes[s.clone()]) => self.prev_of(bytes, i),
            _ => GENESIS,
        }
    }

    /// Decodes framed record `i` of `bytes`, a block whose first seq is `first`.
    pub fn decode(&self, bytes: &[u8], first: u64, i: usize) -> Result<Record, String> {
        let span = self.spans.get(i).ok_or("no such record in the block")?;
        Record::decode_at(
            &bytes[span.clone()],
            first + i as u64,
            self.context(bytes, i),
        )
    }
}

/// Frames a block (see the module's format).
pub fn entries(bytes: &[u8]) -> Entries {
    let mut e = Entries::default();
    let (count, mut at) = match bytes {
        [] => {
            e.damage = Some((0, "empty block".into()));
            return e;
        }
        [BLOCK_V1, c0, c1, c2, c3, ..] => (u32::from_le_bytes([*c0, *c1, *c2, *c3]), HEADER_V1),
        [BLOCK_V2, c0, c1, c2, c3, rest @ ..] if rest.len() >= 32 => {
            e.prev = Some(Sha256Hex(rest[..32].try_into().expect("32 bytes")));
            (u32::from_le_bytes([*c0, *c1, *c2, *c3]), HEADER_V2)
        }
        [BLOCK_V1 | BLOCK_V2, ..] => {
            e.damage = Some((0, "block header is cut short".into()));
            return e;
        }
        [v, ..] => {
            e.damage = Some((0, format!("unknown block format version {v}")));
            return e;
        }
    };
    let count = count as usize;
    if count == 0 {
        e.damage = Some((0, "block holds no record".into()));
        return e;
    }
    // A record takes at least 5 bytes (length + version byte): a count the bytes
    // cannot hold is damage, and no allocation follows it.
    e.spans.reserve(count.min(bytes.len() / 5));
    for i in 0..count {
        let Some(len) = bytes.get(at..at + 4) else {
            e.damage = Some((i, "block is cut short before this record".into()));
            return e;
        };
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        let start = at + 4;
        let Some(end) = start.checked_add(len).filter(|&end| end <= bytes.len()) else {
            e.damage = Some((i, format!("record length {len} runs past the block's end")));
            return e;
        };
        e.spans.push(start..end);
        at = end;
    }
    if at != bytes.len() {
        e.damage = Some((
            count,
            format!(
                "{} stray bytes after the block's last record",
                bytes.len() - at
            ),
        ));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_input;

    fn records(n: usize) -> Vec<Record> {
        let (_, events) = parse_input(
            r#"{"kind":"county_registered","county":"a","name":"甲县","registered_on":"2021-01-01","opening_treasury":"100"}"#,
        )
        .unwrap();
        let mut prev = crate::record::GENESIS;
        (1..=n as u64)
            .map(|seq| {
                let r = Record::new(seq, 1_000 + seq as i64, None, prev, events[0].event.clone());
                prev = r.hash;
                r
            })
            .collect()
    }

    #[test]
    fn packs_records_into_blocks_that_frame_back_to_each_record() {
        let recs = records(300);
        let blocks = pack(&recs);
        assert!(blocks.len() > 1, "300 records exceed one block");
        let mut seq = 1u64;
        for (first, bytes) in &blocks {
            assert_eq!(*first, seq);
            assert!(bytes.len() < BLOCK_TARGET_BYTES + 1024, "{}", bytes.len());
            let e = entries(bytes);
            assert_eq!(e.damage, None);
            assert_eq!(bytes[0], BLOCK_V2);
            for i in 0..e.spans.len() {
                assert_eq!(bytes[e.spans[i].start], crate::record::FORMAT_V3);
                let r = e.decode(bytes, *first, i).unwrap();
                assert_eq!(r, recs[(seq - 1) as usize]);
                seq += 1;
            }
        }
        assert_eq!(seq, 301);
        assert!(pack(&[]).is_empty());
    }

    #[test]
    fn compact_records_take_half_the_bytes_and_rebuilt_blocks_equal_packed_ones() {
        let recs = records(3);
        let (first, packed) = pack(&recs[1..]).remove(0);
        let e = entries(&packed);
        let raw: Vec<&[u8]> = e.spans.iter().map(|s| &packed[s.clone()]).collect();
        assert_eq!(rebuild(&packed, raw.iter().copied()), packed);
        // Without its last record: the same header, so the first still has its prev.
        let shorter = rebuild(&packed, raw[..1].iter().copied());
        assert_eq!(
            entries(&shorter).decode(&shorter, first, 0).unwrap(),
            recs[1]
        );
        for (r, raw) in recs[1..].iter().zip(&raw) {
            assert!(
                raw.len() * 2 <= r.encode().len() + 8,
                "{} vs {}",
                raw.len(),
                r.encode().len()
            );
        }
        // Self-contained records in a block of format 1 read the same.
        let v1: Vec<Vec<u8>> = recs.iter().map(|r| r.encode_v1().unwrap()).collect();
        let old = pack_raw(v1.iter().map(|v| v.as_slice()));
        let e = entries(&old);
        let read: Vec<Record> = (0..3).map(|i| e.decode(&old, 1, i).unwrap()).collect();
        assert_eq!(read, recs);
        assert_eq!(rebuild(&old, v1.iter().map(|v| v.as_slice())), old);
    }

    #[test]
    fn a_compact_record_read_at_another_place_or_after_another_record_fails_its_hash() {
        let recs = records(3);
        let (first, packed) = pack(&recs).remove(0);
        let e = entries(&packed);
        let ok = e.decode(&packed, first, 2).unwrap();
        assert_eq!(ok.hash, ok.compute_hash());
        // Another place: another seq.
        let moved = e.decode(&packed, first + 1, 2).unwrap();
        assert_ne!(moved.hash, moved.compute_hash());
        // A changed stored hash of the record before it: another prev_hash.
        let mut bad = packed.clone();
        bad[e.spans[1].start + 1] ^= 1;
        let after = entries(&bad).decode(&bad, first, 2).unwrap();
        assert_ne!(after.prev_hash, ok.prev_hash);
        assert_ne!(after.hash, after.compute_hash());
        // A changed block prev_hash: the first record's.
        let mut bad = packed.clone();
        bad[HEADER_V1] ^= 1;
        let r = entries(&bad).decode(&bad, first, 0).unwrap();
        assert_ne!(r.hash, r.compute_hash());
        // A compact record cannot be read without its place.
        assert!(Record::decode(&packed[e.spans[0].clone()]).is_err());
    }

    #[test]
    fn any_damage_to_the_framing_is_named_never_a_panic() {
        let recs = records(4);
        let (_, block) = pack(&recs).remove(0);
        // Every byte flipped, every cut: the framing either still holds (a flipped
        // byte inside a record, left for decode and hash to catch) or names a record.
        for at in 0..block.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = block.clone();
                bad[at] ^= bit;
                let e = entries(&bad);
                let in_header_or_length = at < HEADER_V1
                    || entries(&block)
                        .spans
                        .iter()
                        .any(|s| at + 4 >= s.start && at < s.start);
                if in_header_or_length {
                    assert!(
                        e.damage.is_some() || e.spans != entries(&block).spans,
                        "flip at {at} went unnoticed"
                    );
                }
            }
            let e = entries(&block[..at]);
            assert!(e.damage.is_some(), "cut at {at}");
            assert!(e.spans.len() <= 4);
        }
        assert_eq!(entries(&[]).damage.unwrap().0, 0);
        assert_eq!(entries(&[9, 1, 0, 0, 0]).damage.unwrap().0, 0);
        let mut extra = block.clone();
        extra.push(0);
        assert_eq!(entries(&extra).damage.unwrap().0, 4);
        let huge = [BLOCK_V1, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(entries(&huge).damage.unwrap().0, 0);
        assert_eq!(entries(&block[..HEADER_V2 - 1]).damage.unwrap().0, 0);
    }
}
