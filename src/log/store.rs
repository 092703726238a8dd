//! The durable log in sled. Nothing outside `log` knows sled is here.
//!
//! Layout: one sled tree, keys prefixed by one byte so that a single `sled::Batch`
//! (atomic across a crash) writes records, idempotency keys and the head together:
//! - `r` + seq (u64 big-endian) → the record (version byte + bincode),
//! - `i` + idempotency key bytes → seq (u64 big-endian),
//! - `h` → head: seq (u64 BE) + hash (32 bytes).
//!
//! Guarantees: [`Store::commit`] returns only after the batch is flushed by sled *and*
//! its data file is `fdatasync`ed (sled's own flush stops at `sync_file_range` on
//! Linux); a crash before that loses the whole batch, never part of it. A second
//! process that opens the same directory waits for sanbao's lock on it
//! (`DIR/sanbao.lock`, then sled's own; bounded by [`LOCK_WAIT`]); under that lock,
//! `open` clears what a process killed while sled wrote a snapshot leaves behind.

use crate::record::{Record, GENESIS};
use crate::values::Sha256Hex;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const REC: u8 = b'r';
const IDEM: u8 = b'i';
const HEAD: &[u8] = b"h";

/// sled's page cache. Its default (1 GiB) made a 1M-record replay peak at 446 MiB;
/// reads are sequential scans that gain nothing from a larger cache (BENCHMARKS.md).
pub const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// How long `open` waits for another sanbao process to release the directory.
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

/// Most records past the stored head that `open` treats as one unacknowledged group
/// commit (a group takes at most 20,000 events plus one batch of up to 10,000).
const MAX_UNACKNOWLEDGED_TAIL: u64 = 30_000;

/// A storage failure, with what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled or the file system failed.
    #[error("storage error in {dir}: {msg}")]
    Io {
        /// The data directory.
        dir: String,
        /// What failed.
        msg: String,
    },
    /// A stored record does not decode or breaks the chain.
    #[error("the log is damaged at seq {seq}: {reason}. Restore from an export, or truncate after the last good record")]
    Damaged {
        /// First bad seq.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
}

/// The head of the log: last seq and its hash (0 and zeros when empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Last seq.
    pub seq: u64,
    /// Its hash.
    pub hash: Sha256Hex,
}

/// An open log directory. Clones share the same open database (sled is safe to use
/// from many threads): readers may scan records while the writer appends.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    dir: PathBuf,
    data_file: Option<std::sync::Arc<File>>,
    faults: std::sync::Arc<Faults>,
    /// sanbao's own exclusive lock on the directory (`DIR/sanbao.lock`), held as long
    /// as any clone lives (and released by the kernel when the process dies).
    _lock: std::sync::Arc<File>,
}

/// Takes sanbao's exclusive lock on `dir`, waiting (until [`LOCK_WAIT`] after
/// `start`) for another process that holds it.
fn lock_dir(dir: &Path, start: Instant) -> Result<File, String> {
    use fs2::FileExt;
    let path = dir.join("sanbao.lock");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    loop {
        match f.try_lock_exclusive() {
            Ok(()) => return Ok(f),
            Err(e) if start.elapsed() < LOCK_WAIT => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                return Err(format!(
                    "another process has held the log for {} s: {e}",
                    LOCK_WAIT.as_secs()
                ))
            }
        }
    }
}

/// Removes sled's unfinished snapshot files (`snap.*.generating`). sled writes a
/// snapshot there, fsyncs it and only then renames it into place, and it writes one
/// on every open that finds the log ahead of the last snapshot; a process killed in
/// between leaves a partial file that sled 0.34.7 then takes for the newest snapshot
/// and refuses to open the log ("Read corrupted data", spacejam/sled#1527). Such a
/// file is never a complete snapshot, and the log still holds everything since the
/// last complete one. Called only under sanbao's directory lock, so no other process
/// is writing one.
fn remove_unfinished_snapshots(dir: &Path) -> Result<(), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return Err(format!("cannot list the directory: {e}")),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(file = %name, "removing an unfinished sled snapshot left by a killed process");
            std::fs::remove_file(entry.path())
                .map_err(|e| format!("cannot remove the unfinished snapshot {name}: {e}"))?;
        }
    }
    Ok(())
}

/// Failures to inject at the storage boundary (tests of full disks and I/O errors).
/// Each counter makes that many of the next operations fail.
#[derive(Default, Debug)]
pub struct Faults {
    /// Fail the next N atomic batch writes before anything is written.
    pub fail_write: AtomicU32,
    /// Fail the next N syncs after the batch was written (as a full disk would at fsync).
    pub fail_sync: AtomicU32,
    /// Also fail the next N roll-backs after a failed sync.
    pub fail_rollback: AtomicU32,
}

fn take(c: &AtomicU32) -> bool {
    c.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// Why a commit failed, and whether the store is still consistent.
#[derive(Debug)]
pub struct CommitError {
    /// What failed.
    pub error: StoreError,
    /// False when the failed batch could not be taken back out of sled: the store
    /// must be reopened (which drops every record past the stored head) before
    /// anything else is written.
    pub consistent: bool,
}

fn rec_key(seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = REC;
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn idem_key(key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(IDEM);
    k.extend_from_slice(key.as_bytes());
    k
}

impl Store {
    fn io(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            dir: self.dir.display().to_string(),
            msg: e.to_string(),
        }
    }

    /// Opens (creating if needed) the log in `dir`, waiting up to [`LOCK_WAIT`] for
    /// another process holding it.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let io = |m: String| StoreError::Io {
            dir: dir.display().to_string(),
            msg: m,
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| io(format!("cannot create the directory: {e}")))?;
        let start = Instant::now();
        let lock = lock_dir(dir, start).map_err(io)?;
        remove_unfinished_snapshots(dir).map_err(io)?;
        let db = loop {
            match sled::Config::new()
                .path(dir)
                .mode(sled::Mode::HighThroughput)
                .cache_capacity(SLED_CACHE_BYTES)
                .open()
            {
                Ok(db) => break db,
                Err(sled::Error::Io(e))
                    if (e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().contains("lock"))
                        && start.elapsed() < LOCK_WAIT =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(io(format!("cannot open the log: {e}"))),
            }
        };
        let data_file = File::open(dir.join("db")).ok().map(std::sync::Arc::new);
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        let store = Store {
            db,
            dir: dir.to_path_buf(),
            data_file,
            faults: Default::default(),
            _lock: std::sync::Arc::new(lock),
        };
        store.drop_unacknowledged_tail()?;
        Ok(store)
    }

    /// Removes records past the stored head. They can only exist when a write reached
    /// sled but its sync failed and the roll-back failed too: such records were never
    /// acknowledged, and the head (written in the same atomic batch) says so.
    ///
    /// Only such a tail is dropped: records that continue the stored head (the first
    /// one is seq head + 1 and links to the head's hash), no more than one group
    /// commit can hold. Anything else past the head is damage, not an unacknowledged
    /// write: it is left where it is, for `verify` to report and for an explicit
    /// `truncate` to remove. A head entry that cannot be read is left alone too.
    fn drop_unacknowledged_tail(&self) -> Result<(), StoreError> {
        let Ok(head) = self.head() else {
            tracing::warn!("the head entry is malformed; not touching the records past it");
            return Ok(());
        };
        let first = head.seq.saturating_add(1);
        let mut batch = sled::Batch::default();
        let mut n = 0u64;
        for item in self.db.range(rec_key(first)..=rec_key(u64::MAX)) {
            let (k, v) = item.map_err(|e| self.io(e))?;
            let decoded = Record::decode(&v).ok();
            if n == 0 {
                let continues = k.as_ref() == rec_key(first)
                    && decoded
                        .as_ref()
                        .is_some_and(|r| r.seq == first && r.prev_hash == head.hash);
                if !continues {
                    tracing::warn!(
                        head = head.seq,
                        "records past the head do not continue it; leaving them for verify"
                    );
                    return Ok(());
                }
            }
            if let Some(key) = decoded.as_ref().and_then(|r| r.idempotency_key.as_ref()) {
                if self.idempotency_seq(key)? == decoded.as_ref().map(|r| r.seq) {
                    batch.remove(idem_key(key));
                }
            }
            batch.remove(k);
            n += 1;
            if n > MAX_UNACKNOWLEDGED_TAIL {
                tracing::warn!(
                    head = head.seq,
                    "more records past the head than one group commit writes; leaving them for verify"
                );
                return Ok(());
            }
        }
        if n > 0 {
            tracing::warn!(
                records = n,
                head = head.seq,
                "dropping unacknowledged records past the head"
            );
            self.db.apply_batch(batch).map_err(|e| self.io(e))?;
            self.sync()?;
        }
        Ok(())
    }

    /// Removes every record with seq > `after` and every idempotency key that points
    /// at one, and makes `head` (which must be record `after`'s seq and hash, checked
    /// by the caller) the stored head — in one atomic batch, then synced. The repair
    /// behind `sanbao truncate --after SEQ --yes`, for a damaged log; never called by
    /// anything else. Answers how many records were removed.
    pub fn truncate_after(&self, head: Head) -> Result<u64, StoreError> {
        let after = head.seq;
        let mut batch = sled::Batch::default();
        let mut removed = 0u64;
        for item in self
            .db
            .range(rec_key(after.saturating_add(1))..=rec_key(u64::MAX))
        {
            let (k, _) = item.map_err(|e| self.io(e))?;
            batch.remove(k);
            removed += 1;
        }
        for item in self.db.scan_prefix([IDEM]) {
            let (k, v) = item.map_err(|e| self.io(e))?;
            let seq = <[u8; 8]>::try_from(v.as_ref()).map(u64::from_be_bytes);
            // A key entry that does not hold a seq is damage too: it could only ever
            // answer a wrong duplicate.
            if seq.map_or(true, |s| s > after || s == 0) {
                batch.remove(k);
            }
        }
        if after == 0 {
            batch.remove(HEAD);
        } else {
            let mut h = Vec::with_capacity(40);
            h.extend_from_slice(&after.to_be_bytes());
            h.extend_from_slice(&head.hash.0);
            batch.insert(HEAD, h);
        }
        self.db.apply_batch(batch).map_err(|e| self.io(e))?;
        self.sync()?;
        Ok(removed)
    }

    /// The fault injector of this store (shared by its clones). Only for tests.
    #[doc(hidden)]
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// True when `dir` holds a sanbao log already (without opening it).
    pub fn exists(dir: &Path) -> bool {
        dir.join("db").exists() && dir.join("conf").exists()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The head as stored.
    pub fn head(&self) -> Result<Head, StoreError> {
        match self.db.get(HEAD).map_err(|e| self.io(e))? {
            None => Ok(Head {
                seq: 0,
                hash: GENESIS,
            }),
            Some(v) if v.len() == 40 => {
                let seq = u64::from_be_bytes(v[..8].try_into().expect("8 bytes"));
                let mut h = [0u8; 32];
                h.copy_from_slice(&v[8..]);
                Ok(Head {
                    seq,
                    hash: Sha256Hex(h),
                })
            }
            Some(_) => Err(StoreError::Damaged {
                seq: 0,
                reason: "the head entry is malformed".into(),
            }),
        }
    }

    /// One record by seq.
    pub fn get(&self, seq: u64) -> Result<Option<Record>, StoreError> {
        match self.db.get(rec_key(seq)).map_err(|e| self.io(e))? {
            None => Ok(None),
            Some(b) => Record::decode(&b)
                .map(Some)
                .map_err(|reason| StoreError::Damaged { seq, reason }),
        }
    }

    /// The seq an idempotency key was first recorded with.
    pub fn idempotency_seq(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .db
            .get(idem_key(key))
            .map_err(|e| self.io(e))?
            .map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8]))))
    }

    /// Raw stored records with seq in `from..=to`, in seq order: `(key seq, bytes)`.
    pub fn raw_range(
        &self,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> + '_ {
        self.db
            .range(rec_key(from.max(1))..=rec_key(to))
            .map(move |r| {
                r.map_err(|e| self.io(e)).map(|(k, v)| {
                    let seq = u64::from_be_bytes(k[1..9].try_into().unwrap_or([0; 8]));
                    (seq, v)
                })
            })
    }

    /// Decoded records with seq in `from..=to`, in seq order. A record that does not
    /// decode is reported as [`StoreError::Damaged`].
    pub fn records(
        &self,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = Result<Record, StoreError>> + '_ {
        self.raw_range(from, to).map(|r| {
            let (seq, bytes) = r?;
            Record::decode(&bytes).map_err(|reason| StoreError::Damaged { seq, reason })
        })
    }

    /// Writes records (continuing `prev`, already checked) with their idempotency
    /// keys and the new head in one atomic sled batch, then makes it durable. If the
    /// sync fails, the batch is taken back out of sled (so a later write, or a
    /// restart, never sees it); [`CommitError::consistent`] says whether that worked.
    pub fn commit(&self, records: &[Record], prev: Head) -> Result<(), CommitError> {
        let Some(last) = records.last() else {
            return Ok(());
        };
        if take(&self.faults.fail_write) {
            return Err(CommitError {
                error: self.io("injected write failure (no space left on device)"),
                consistent: true,
            });
        }
        let mut batch = sled::Batch::default();
        for r in records {
            batch.insert(&rec_key(r.seq)[..], r.encode());
            if let Some(k) = &r.idempotency_key {
                batch.insert(idem_key(k), &r.seq.to_be_bytes()[..]);
            }
        }
        let mut head = Vec::with_capacity(40);
        head.extend_from_slice(&last.seq.to_be_bytes());
        head.extend_from_slice(&last.hash.0);
        batch.insert(HEAD, head);
        self.db.apply_batch(batch).map_err(|e| CommitError {
            error: self.io(e),
            consistent: true,
        })?;
        let synced = if take(&self.faults.fail_sync) {
            Err(self.io("injected sync failure (no space left on device)"))
        } else {
            self.sync()
        };
        let Err(error) = synced else { return Ok(()) };
        let consistent = self.roll_back(records, prev).is_ok();
        Err(CommitError { error, consistent })
    }

    /// Takes a written-but-unsynced batch back out of sled, restoring head `prev`.
    fn roll_back(&self, records: &[Record], prev: Head) -> Result<(), StoreError> {
        if take(&self.faults.fail_rollback) {
            return Err(self.io("injected roll-back failure"));
        }
        let mut undo = sled::Batch::default();
        for r in records {
            undo.remove(&rec_key(r.seq)[..]);
            if let Some(k) = &r.idempotency_key {
                undo.remove(idem_key(k));
            }
        }
        if prev.seq == 0 {
            undo.remove(HEAD);
        } else {
            let mut head = Vec::with_capacity(40);
            head.extend_from_slice(&prev.seq.to_be_bytes());
            head.extend_from_slice(&prev.hash.0);
            undo.insert(HEAD, head);
        }
        self.db.apply_batch(undo).map_err(|e| self.io(e))?;
        self.sync()
    }

    /// Flushes sled and `fdatasync`s its data file.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.db
            .flush()
            .map_err(|e| self.io(format!("flush failed: {e}")))?;
        if let Some(f) = &self.data_file {
            f.sync_data()
                .map_err(|e| self.io(format!("fdatasync failed: {e}")))?;
        }
        Ok(())
    }

    /// Bytes sled occupies on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// Writes a raw value under a record key, bypassing every check. Only for tests
    /// that simulate damage on disk.
    #[doc(hidden)]
    pub fn overwrite_raw_for_test(&self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.db
            .insert(rec_key(seq), bytes)
            .map_err(|e| self.io(e))?;
        self.sync()
    }
}
