//! Blocks: how consecutive records are packed under one sled key.
//!
//! One sled key per record made sled's B-tree the bottleneck of every path (half of
//! the writer's CPU in an import, the floor under every replay, 2× the bincode size on
//! disk: BENCHMARKS.md). A block holds the stored forms ([`Record::encode`]) of
//! consecutive records, so sled sees one key per ~[`BLOCK_TARGET_BYTES`] of records.
//!
//! Format ([`BLOCK_V1`]): one version byte, the record count (u32 little-endian), then
//! per record its length (u32 little-endian) and its stored bytes; nothing after the
//! last one. Each record keeps its own version byte and bincode form, so a damaged
//! record is found and named on its own, exactly as before blocks existed.
//!
//! Guarantees: [`entries`] never panics on any input; it answers the byte ranges of
//! every record it could frame, and, if the block is malformed, the index of the first
//! record it could not frame and why — so a reader can hand out the good records
//! before the damage and name the damaged seq.

use crate::record::Record;
use std::ops::Range;

/// The version byte that starts every block.
pub const BLOCK_V1: u8 = 1;

/// A block is closed once it holds at least this many bytes of records. sled writes a
/// node of up to 16 keys as one log item and moves items over a quarter of its 512 KiB
/// segment into separate blob files; blocks of ~6 KiB keep every node well under that.
pub const BLOCK_TARGET_BYTES: usize = 6 * 1024;

/// Bytes before the first record: version byte and count.
const HEADER: usize = 5;

/// Packs consecutive records (already checked to continue each other) into blocks of
/// about [`BLOCK_TARGET_BYTES`]: `(first seq, block bytes)`, in seq order.
pub fn pack(records: &[Record]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut start = 0usize;
    while start < records.len() {
        let mut buf = Vec::with_capacity(BLOCK_TARGET_BYTES + 512);
        buf.push(BLOCK_V1);
        buf.extend_from_slice(&[0; 4]);
        let mut n = 0u32;
        let mut i = start;
        while i < records.len() && (n == 0 || buf.len() < BLOCK_TARGET_BYTES) {
            let at = buf.len();
            buf.extend_from_slice(&[0; 4]);
            records[i].encode_into(&mut buf);
            let len = (buf.len() - at - 4) as u32;
            buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
            n += 1;
            i += 1;
        }
        buf[1..HEADER].copy_from_slice(&n.to_le_bytes());
        out.push((records[start].seq, buf));
        start = i;
    }
    out
}

/// Builds one block from raw stored record forms (for repairs and tests that write
/// bytes the codec would not produce).
pub fn pack_raw<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut buf = vec![BLOCK_V1, 0, 0, 0, 0];
    let mut n = 0u32;
    for e in entries {
        buf.extend_from_slice(&(e.len() as u32).to_le_bytes());
        buf.extend_from_slice(e);
        n += 1;
    }
    buf[1..HEADER].copy_from_slice(&n.to_le_bytes());
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
}

/// Frames a block (see the module's format).
pub fn entries(bytes: &[u8]) -> Entries {
    let mut e = Entries::default();
    let (count, mut at) = match bytes {
        [] => {
            e.damage = Some((0, "empty block".into()));
            return e;
        }
        [BLOCK_V1, c0, c1, c2, c3, ..] => (u32::from_le_bytes([*c0, *c1, *c2, *c3]), HEADER),
        [BLOCK_V1, ..] => {
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
            for span in e.spans {
                let r = Record::decode(&bytes[span]).unwrap();
                assert_eq!(r, recs[(seq - 1) as usize]);
                seq += 1;
            }
        }
        assert_eq!(seq, 301);
        assert!(pack(&[]).is_empty());
    }

    #[test]
    fn raw_blocks_equal_packed_ones() {
        let recs = records(3);
        let raw: Vec<Vec<u8>> = recs.iter().map(|r| r.encode()).collect();
        assert_eq!(pack_raw(raw.iter().map(|v| v.as_slice())), pack(&recs)[0].1);
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
                let in_header_or_length = at < HEADER
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
    }
}
