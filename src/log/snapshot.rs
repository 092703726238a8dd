//! Snapshots of the folded state, so that `serve` starts in well under a second on a
//! long log. `serve` trusts a snapshot for the records it covers and verifies every
//! record after it; `replay` and `verify` never read one (SPEC §5: the auditor's
//! command rebuilds from the log alone).
//!
//! File `DIR/state.snapshot` ([`FILE_NAME`]):
//! `MAGIC` (16 bytes) · format version (1 byte, [`SNAPSHOT_FORMAT`]) · seq covered (u64 LE) ·
//! hash of that record (32 bytes) · the state in two parts decoded side by side
//! ([`State::write_stored`]: bincode 1.3, fixed-int little-endian, as records are
//! stored; the per-record table and the day maps packed, `state/packed_slots.rs`,
//! `state/daymap.rs`) · XXH3-128
//! of everything before it (16 bytes, little-endian). The checksum finds damage, as
//! sled's own page checksums do; it is no seal against someone who can write the
//! directory (they could write the log as well, whose chain the auditor checks).
//!
//! Guarantees:
//! - a snapshot is written to a temporary file, `fdatasync`ed, renamed into place and
//!   the directory synced: a crash leaves the old snapshot or the new one, never half;
//! - a snapshot is decoded only once its checksum holds, and used only when its
//!   version is known, it decodes into a consistent state, the log
//!   still holds its seq with the same hash, and every record after it verifies; any
//!   other snapshot is ignored (with a warning) and the whole log is verified instead —
//!   a snapshot can make `serve` start faster, never start on different balances.

use super::{Head, Store, StoreError, Verified};
use crate::state::State;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The snapshot's file name in the data directory.
pub const FILE_NAME: &str = "state.snapshot";

/// The first bytes of every snapshot file.
const MAGIC: &[u8; 16] = b"sanbao-snapshot\n";

/// The snapshot format this version writes and reads. 2 since the state holds the
/// planning policies (`planning_policy_set`), 3 since it holds the notices
/// (`notice_issued`), 4 since it holds the transfers that name a `plan_month`
/// (`plan status`, issue 18), 5 since those keep their `off_plan_reason` and the
/// state holds emergency requests and approval limits (two-person approval, issue 18),
/// 6 since it holds expenditure by category, the proposals with their decisions and
/// the response plans (issue 19), 7 since the state is stored in two parts, the
/// per-record table and the day maps are packed and the checksum is XXH3-128
/// instead of SHA-256 (a start at ten million records, issue 21); a snapshot of an
/// older format is ignored with a warning and the log is folded instead, then a new
/// snapshot is written.
pub const SNAPSHOT_FORMAT: u8 = 7;

/// Bytes before the state: magic, version, seq, hash.
const HEADER: usize = 16 + 1 + 8 + 32;

/// Bytes of the checksum after the state.
const SUM: usize = 16;

/// The snapshot path of data directory `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// A writer that hashes what passes through it.
struct Hashing<W: Write> {
    inner: W,
    sum: xxhash_rust::xxh3::Xxh3,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sum.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a snapshot of `state` into `dir`, replacing any earlier one atomically.
/// Answers the file's size in bytes.
pub fn write(dir: &Path, state: &State) -> Result<u64, String> {
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    let written = write_tmp(dir, &tmp, state);
    if written.is_err() {
        // A partial file would hold space a full disk needs back.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// [`write`] through `tmp`, which is left behind on failure.
fn write_tmp(dir: &Path, tmp: &Path, state: &State) -> Result<u64, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what} {}: {e}", tmp.display());
    let file = std::fs::File::create(tmp).map_err(|e| fail("cannot create", &e))?;
    let mut w = Hashing {
        inner: std::io::BufWriter::with_capacity(1 << 20, file),
        sum: xxhash_rust::xxh3::Xxh3::new(),
    };
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.push(SNAPSHOT_FORMAT);
    header.extend_from_slice(&state.head_seq.to_le_bytes());
    header.extend_from_slice(&state.head_hash.0);
    w.write_all(&header).map_err(|e| fail("cannot write", &e))?;
    state
        .write_stored(&mut w)
        .map_err(|e| fail("cannot write", &e))?;
    let Hashing { inner, sum } = w;
    let mut inner = inner;
    inner
        .write_all(&sum.digest128().to_le_bytes())
        .map_err(|e| fail("cannot write", &e))?;
    let file = inner
        .into_inner()
        .map_err(|e| fail("cannot write", &e.error().to_string()))?;
    file.sync_data().map_err(|e| fail("cannot sync", &e))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    drop(file);
    // The log's appends keep `DISK_HEADROOM_BYTES` free; a snapshot must not take it.
    let headroom = super::store::DISK_HEADROOM_BYTES;
    if super::store::disk_free(dir).is_some_and(|free| free < headroom) {
        return Err(format!(
            "not written: the disk would keep less than the {} MiB appends need free",
            headroom >> 20
        ));
    }
    std::fs::rename(tmp, path(dir)).map_err(|e| fail("cannot rename", &e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(len)
}

/// Removes the snapshot of `dir`, if any ([`Store::truncate_after`] does, since the
/// snapshot may cover records it removes).
pub fn remove(dir: &Path) -> Result<(), String> {
    match std::fs::remove_file(path(dir)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", path(dir).display())),
    }
}

/// The seq and hash the snapshot of `dir` says it covers, from its header alone (its
/// checksum is not checked: for `sanbao status`, not for loading).
pub fn peek(dir: &Path) -> Option<(u64, crate::values::Sha256Hex)> {
    use std::io::Read;
    let mut header = [0u8; HEADER];
    std::fs::File::open(path(dir))
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    if &header[..16] != MAGIC || header[16] != SNAPSHOT_FORMAT {
        return None;
    }
    let seq = u64::from_le_bytes(header[17..25].try_into().ok()?);
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&header[25..57]);
    Some((seq, crate::values::Sha256Hex(hash)))
}

/// Reads the snapshot of `dir`: `Ok(None)` when there is none, an error saying what is
/// wrong when it cannot be used, else the state it holds.
pub fn read(dir: &Path) -> Result<Option<State>, String> {
    use std::io::Read;
    let p = path(dir);
    let started = std::time::Instant::now();
    // Read, not mapped: a mapped file's unreadable block kills the process
    // (SIGBUS) where a read answers an error, and a snapshot that cannot be read
    // must only be ignored (the module's guarantee). Reading 600 MB beside the
    // page scan takes 0.35–0.45 s at ten million records; mapping saved ≈ 0.1 s of
    // the start (BENCHMARKS.md, session 17). Read in two buffers, the state's two
    // parts: the first is dropped once decoded, the second kept by the state (its
    // per-record table stays packed there, `state/slot_table.rs`).
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", p.display());
    let mut file = match std::fs::File::open(&p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    let size = file.metadata().map_err(cannot)?.len();
    let not_ours = || format!("{} is not a sanbao snapshot", p.display());
    // The header, and the first part's length that begins the state.
    let mut head = [0u8; HEADER + 8];
    let n = usize::try_from(size).map_err(|_| not_ours())?;
    if n < HEADER + SUM {
        return Err(not_ours());
    }
    let got = head.len().min(n - SUM);
    file.read_exact(&mut head[..got]).map_err(cannot)?;
    if &head[..16] != MAGIC {
        return Err(not_ours());
    }
    // Another format has another layout, and maybe another checksum.
    if head[16] != SNAPSHOT_FORMAT {
        return Err(format!(
            "{} has snapshot format {}, this sanbao reads {SNAPSHOT_FORMAT}",
            p.display(),
            head[16]
        ));
    }
    // The parts as their length says, within the file; a length past the end is
    // the decoder's to refuse once the checksum holds.
    let body = n - SUM - got;
    let said = (got == head.len())
        .then(|| u64::from_le_bytes(head[HEADER..].try_into().expect("8 bytes")));
    let first_len = said.map_or(0, |l| usize::try_from(l).unwrap_or(usize::MAX).min(body));
    let mut read_exactly = |len: usize| -> Result<Vec<u8>, String> {
        // A file too large for memory to read is an error (the snapshot ignored),
        // not an abort: the read buffers are asked for, not assumed. (What decoding
        // allocates is bounded by bincode and by the bytes read.)
        let mut v = Vec::new();
        v.try_reserve_exact(len)
            .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        (&mut file)
            .take(len as u64)
            .read_to_end(&mut v)
            .map_err(cannot)?;
        if v.len() != len {
            return Err(format!("cannot read {}: it shrank while read", p.display()));
        }
        Ok(v)
    };
    let first = read_exactly(first_len)?;
    let mut rest = read_exactly(body - first_len + SUM)?;
    let read_at = started.elapsed();
    let sum = rest.split_off(rest.len() - SUM);
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&head[..got]);
    h.update(&first);
    h.update(&rest);
    if h.digest128().to_le_bytes() != sum[..] {
        return Err(format!("{} is damaged (its checksum fails)", p.display()));
    }
    let checked_at = started.elapsed();
    let seq = u64::from_le_bytes(head[17..25].try_into().expect("8 bytes"));
    let decoded = match said {
        Some(l) if l == first_len as u64 => {
            State::read_stored_parts(&first, std::sync::Arc::new(rest))
        }
        Some(_) => Err("snapshot: its first part runs past its end".into()),
        None => Err("snapshot: too short for its parts".into()),
    };
    let state = decoded.map_err(|e| format!("{} does not decode: {e}", p.display()))?;
    // Where a start's time goes (`RUST_LOG=sanbao=debug`): the figures behind
    // BENCHMARKS.md's, without a profiler.
    tracing::debug!(
        bytes = n,
        read_ms = read_at.as_millis() as u64,
        checksum_ms = (checked_at - read_at).as_millis() as u64,
        decode_ms = (started.elapsed() - checked_at).as_millis() as u64,
        "snapshot read"
    );
    if state.head_seq != seq || state.head_hash.0[..] != head[25..HEADER] {
        return Err(format!(
            "{} disagrees with itself about its seq",
            p.display()
        ));
    }
    Ok(Some(state))
}

/// Where [`load_for_serve`] took the state from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loaded {
    /// A snapshot covering records `1..=seq`, then `tail` records verified and folded.
    Snapshot {
        /// Last record the snapshot covers.
        seq: u64,
        /// Records verified and folded after it.
        tail: u64,
    },
    /// The whole log, verified (no usable snapshot; the warning says why when there
    /// was one).
    Log {
        /// Why a snapshot was not used, if there was one.
        ignored: Option<String>,
    },
}

/// The state `serve` starts from: the snapshot of `store`'s directory if it is usable
/// (see the module's guarantees), with every record after it verified and folded;
/// else the whole log verified and folded ([`super::load_verified`]). A damaged
/// record after the snapshot, or anywhere when no snapshot is used, is
/// [`StoreError::Damaged`] naming the first bad seq; so is a block under the
/// snapshot that sled cannot read (its page checksum) or that does not frame
/// ([`Store::scan_blocks`]). `progress` gets seqs as they are
/// folded.
pub fn load_for_serve(
    store: &Store,
    mut progress: impl FnMut(u64),
) -> Result<(State, Loaded), StoreError> {
    // The records a snapshot covers are not verified again, but every page holding
    // them is read: a damaged disk page is refused. That read goes on beside the
    // snapshot's own (its seq from the file's header); it counts only if the
    // snapshot is used.
    let covered = peek_seq(store.dir());
    let (read, scanned) = std::thread::scope(|s| {
        let scan = covered.map(|seq| s.spawn(move || (seq, store.scan_blocks(seq))));
        let read = read(store.dir());
        let waited = std::time::Instant::now();
        let scanned = scan.map(|h| h.join().expect("the block scan does not panic"));
        tracing::debug!(
            waited_ms = waited.elapsed().as_millis() as u64,
            "the pages under the snapshot read"
        );
        (read, scanned)
    });
    let ignored = match read {
        Ok(None) => None,
        Err(why) => Some(why),
        Ok(Some(snap)) => match usable(store, &snap)? {
            Err(why) => Some(why),
            Ok(()) => {
                let from = Head {
                    seq: snap.head_seq,
                    hash: snap.head_hash,
                };
                match scanned {
                    Some((seq, result)) if seq == from.seq => result?,
                    _ => store.scan_blocks(from.seq)?,
                }
                let mut state = snap;
                let mut tail = 0u64;
                match super::verify_from(store, from, None, &mut progress, |r| {
                    state.fold(r);
                    tail += 1;
                })? {
                    Verified::Ok { .. } => {
                        return Ok((
                            state,
                            Loaded::Snapshot {
                                seq: from.seq,
                                tail,
                            },
                        ))
                    }
                    Verified::Bad {
                        first_bad_seq,
                        reason,
                    } => {
                        return Err(StoreError::Damaged {
                            seq: first_bad_seq,
                            reason,
                        })
                    }
                }
            }
        },
    };
    if let Some(why) = &ignored {
        tracing::warn!(reason = %why, "not using the snapshot; verifying and folding the whole log");
    }
    let state = super::load_verified(store, progress)?;
    Ok((state, Loaded::Log { ignored }))
}

/// The seq a snapshot file says it covers, from its header alone (not checked: see
/// [`read`]); `None` when there is no such file or it is too short.
fn peek_seq(dir: &Path) -> Option<u64> {
    use std::io::Read;
    let mut header = [0u8; HEADER];
    std::fs::File::open(path(dir))
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    (&header[..16] == MAGIC)
        .then(|| u64::from_le_bytes(header[17..25].try_into().expect("8 bytes")))
}

/// Whether a snapshot read from the directory belongs to this log: the log holds its
/// last record, with the same hash, and its head is not behind it.
fn usable(store: &Store, snap: &State) -> Result<Result<(), String>, StoreError> {
    let head = match store.head() {
        Ok(h) => h,
        Err(StoreError::Damaged { .. }) => {
            return Ok(Err("the log's head entry is damaged".into()))
        }
        Err(e) => return Err(e),
    };
    if snap.head_seq > head.seq {
        return Ok(Err(format!(
            "it covers records up to seq {}, past the log's head (seq {})",
            snap.head_seq, head.seq
        )));
    }
    if snap.head_seq == 0 {
        return Ok(Ok(()));
    }
    match store.get(snap.head_seq) {
        Ok(Some(r)) if r.hash == snap.head_hash => Ok(Ok(())),
        Ok(_) => Ok(Err(format!(
            "the log's record {} is not the one it was taken after",
            snap.head_seq
        ))),
        Err(StoreError::Damaged { seq, reason }) => {
            Ok(Err(format!("the log's record {seq} is damaged ({reason})")))
        }
        Err(e) => Err(e),
    }
}
