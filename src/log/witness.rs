//! The head witness: sanbao's own record, outside sled's files, of the last durable
//! head (seq and hash), so that a store that lost acknowledged records says so.
//!
//! sled recovers a *prefix* of its log and treats damage as the end of it: one
//! changed byte in its data file can make it open a shorter log without a word. The
//! witness is written by [`super::Store::commit`] after every durable group (after
//! sled's flush and `fdatasync`, before anyone is answered), so on open a sled head
//! behind the witness is damage, never a crash: a crash can only leave the witness
//! *behind* sled (killed between the two syncs), and that group was never answered.
//!
//! File `DIR/head.witness` ([`FILE_NAME`]): two slots of [`SLOT_BYTES`] bytes, in two disk
//! sectors, written alternately. Each slot: `MAGIC` (8 bytes) · generation (u64 BE) ·
//! seq (u64 BE) · hash (32 bytes) · SHA-256 of the 56 bytes before it. The slot with
//! the highest generation whose checksum holds is the witness; a torn write of one
//! slot (a crash, or a damaged sector) leaves the other, which is one group older and
//! so still at or behind sled's head. Each write is one `pwrite` of one slot and one
//! `fdatasync` of the file (BENCHMARKS.md measures what that costs per group).
//!
//! Guarantees: [`Witness::record`] returns only once the slot is durable; [`read`]
//! never fails on damaged bytes (a slot that does not check out is ignored, and a
//! file with no good slot reads as [`Reading::Unreadable`]).

use super::Head;
use crate::values::Sha256Hex;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The witness's file name in the data directory.
pub const FILE_NAME: &str = "head.witness";

/// Bytes per slot: one disk sector, so that the two slots never share one.
pub const SLOT_BYTES: usize = 512;

/// The first bytes of a good slot (the last byte is the format version).
const MAGIC: &[u8; 8] = b"sbwitns\x01";

/// Bytes of a slot that carry content: magic, generation, seq, hash, checksum.
const USED: usize = 8 + 8 + 8 + 32 + 32;

/// The witness file of data directory `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// What the witness file says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// There is no witness file (a new log, or one written before the witness).
    Missing,
    /// The file exists but neither slot checks out.
    Unreadable,
    /// The newest good slot: the head it witnesses and its generation.
    Witnessed(Head, u64),
}

fn encode(generation: u64, head: Head) -> [u8; SLOT_BYTES] {
    let mut slot = [0u8; SLOT_BYTES];
    slot[..8].copy_from_slice(MAGIC);
    slot[8..16].copy_from_slice(&generation.to_be_bytes());
    slot[16..24].copy_from_slice(&head.seq.to_be_bytes());
    slot[24..56].copy_from_slice(&head.hash.0);
    let sum = Sha256::digest(&slot[..56]);
    slot[56..USED].copy_from_slice(&sum);
    slot
}

fn decode(slot: &[u8]) -> Option<(u64, Head)> {
    if slot.len() < USED || &slot[..8] != MAGIC {
        return None;
    }
    if Sha256::digest(&slot[..56]).as_slice() != &slot[56..USED] {
        return None;
    }
    let generation = u64::from_be_bytes(slot[8..16].try_into().ok()?);
    let seq = u64::from_be_bytes(slot[16..24].try_into().ok()?);
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&slot[24..56]);
    Some((
        generation,
        Head {
            seq,
            hash: Sha256Hex(hash),
        },
    ))
}

/// Reads the witness of `dir`. An I/O failure other than a missing file is an error;
/// damaged content is not (it reads as [`Reading::Unreadable`], or as the other slot).
pub fn read(dir: &Path) -> std::io::Result<Reading> {
    let bytes = match std::fs::read(path(dir)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Reading::Missing),
        Err(e) => return Err(e),
    };
    let slots = [
        bytes.get(..SLOT_BYTES.min(bytes.len())).and_then(decode),
        bytes.get(SLOT_BYTES..).and_then(decode),
    ];
    Ok(match slots.into_iter().flatten().max_by_key(|(g, _)| *g) {
        Some((g, head)) => Reading::Witnessed(head, g),
        None => Reading::Unreadable,
    })
}

/// The open witness file, for writing.
#[derive(Debug)]
pub struct Witness {
    file: File,
    /// Generation of the slot written last.
    generation: u64,
}

impl Witness {
    /// Opens the witness of `dir` for writing, after [`read`] answered `reading`: a
    /// missing or unreadable file is (re)made to witness `head` (the store's current
    /// head), both slots, synced with its directory.
    pub fn open(dir: &Path, reading: Reading, head: Head) -> std::io::Result<Witness> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path(dir))?;
        match reading {
            Reading::Witnessed(_, generation) => Ok(Witness { file, generation }),
            Reading::Missing | Reading::Unreadable => {
                let mut both = Vec::with_capacity(2 * SLOT_BYTES);
                both.extend_from_slice(&encode(1, head));
                both.extend_from_slice(&encode(2, head));
                file.set_len(2 * SLOT_BYTES as u64)?;
                file.write_all_at(&both, 0)?;
                file.sync_all()?;
                if let Ok(d) = File::open(dir) {
                    d.sync_all()?;
                }
                Ok(Witness {
                    file,
                    generation: 2,
                })
            }
        }
    }

    /// Witnesses `head`: writes it into the older slot and `fdatasync`s the file.
    pub fn record(&mut self, head: Head) -> std::io::Result<()> {
        let generation = self.generation + 1;
        let at = (generation % 2) * SLOT_BYTES as u64;
        self.file.write_all_at(&encode(generation, head), at)?;
        self.file.sync_data()?;
        self.generation = generation;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(seq: u64, b: u8) -> Head {
        Head {
            seq,
            hash: Sha256Hex([b; 32]),
        }
    }

    #[test]
    fn the_newest_good_slot_wins_and_a_torn_one_leaves_the_other() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert_eq!(read(dir).unwrap(), Reading::Missing);
        let mut w = Witness::open(dir, Reading::Missing, head(0, 0)).unwrap();
        assert_eq!(read(dir).unwrap(), Reading::Witnessed(head(0, 0), 2));
        w.record(head(5, 5)).unwrap();
        w.record(head(9, 9)).unwrap();
        assert_eq!(read(dir).unwrap(), Reading::Witnessed(head(9, 9), 4));
        // Generation 4 went to slot 0: damage it, and slot 1 (seq 5) is the witness.
        let mut bytes = std::fs::read(path(dir)).unwrap();
        bytes[20] ^= 0x10;
        std::fs::write(path(dir), &bytes).unwrap();
        assert_eq!(read(dir).unwrap(), Reading::Witnessed(head(5, 5), 3));
        // Cut inside slot 1 as well: nothing checks out.
        bytes.truncate(SLOT_BYTES + 40);
        std::fs::write(path(dir), &bytes).unwrap();
        assert_eq!(read(dir).unwrap(), Reading::Unreadable);
        // Reopened over an unreadable file, it witnesses the head it is given.
        let mut w = Witness::open(dir, Reading::Unreadable, head(7, 7)).unwrap();
        assert_eq!(read(dir).unwrap(), Reading::Witnessed(head(7, 7), 2));
        w.record(head(8, 8)).unwrap();
        let again = Witness::open(dir, read(dir).unwrap(), head(0, 0)).unwrap();
        assert_eq!(again.generation, 3);
        assert_eq!(read(dir).unwrap(), Reading::Witnessed(head(8, 8), 3));
    }
}
