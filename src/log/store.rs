//! The durable log in sled. Nothing outside `log` knows sled is here.
//!
//! Layout ([`LAYOUT_V2`]): one sled tree, keys prefixed by one byte:
//! - `b` + first seq (u64 big-endian) → a block of consecutive records
//!   ([`super::block`]: each record's version byte + bincode, length-prefixed); a
//!   group commit writes whole blocks, never into an existing one,
//! - `i` + idempotency key bytes → seq (u64 big-endian),
//! - `h` → head: seq (u64 BE) + hash (32 bytes),
//! - `v` → the layout version (one byte), written when the log is created.
//!
//! Guarantees: [`Store::commit`] returns only after the group is flushed by sled *and*
//! its data file is `fdatasync`ed (sled's own flush stops at `sync_file_range` on
//! Linux); a crash before that loses the whole group, never part of it: the head is
//! written last, sled recovers a prefix of its writes, and `open` drops records past
//! the stored head (see [`Store::commit`]). A second
//! process that opens the same directory waits for sanbao's lock on it
//! (`DIR/sanbao.lock`, then sled's own; bounded by [`set_lock_wait`]); under that lock,
//! `open` clears what a process killed while sled wrote a snapshot leaves behind.

use super::block;
use super::witness::{self, Witness};
use crate::record::{Record, GENESIS};
use crate::values::Sha256Hex;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const BLOCK: u8 = b'b';
const IDEM: u8 = b'i';
const HEAD: &[u8] = b"h";
const LAYOUT: &[u8] = b"v";

/// The storage layout this version writes and reads: records packed in blocks.
/// (Layout 1, one key per record, was never released.)
pub const LAYOUT_V2: u8 = 2;

/// sled's page cache. Its default (1 GiB) made a 1M-record replay peak at 446 MiB;
/// reads are sequential scans that gain nothing from a larger cache (BENCHMARKS.md).
/// sled as published kept every page a scan read until 16,384 were read, whatever
/// this says; the vendored sled acts on it (vendor/sled/SANBAO-PATCH.md).
pub const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// How long `open` waits for another sanbao process to release the directory,
/// unless [`set_lock_wait`] says otherwise (the library default; the CLI's
/// `--wait` sets its own, 10 s by default).
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

/// The lock wait in force for this process, in milliseconds (see [`set_lock_wait`]).
static LOCK_WAIT_MS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(LOCK_WAIT.as_millis() as u64);

/// Whether a process that finds the directory held says so on stderr at once.
static LOCK_NOTICE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What this process is doing, as it is written into `DIR/sanbao.lock` for a
/// process that finds the directory held (see [`set_holder`]).
static HOLDER: std::sync::Mutex<Option<(String, Option<String>)>> = std::sync::Mutex::new(None);

/// Sets how long `open` waits for another process holding the directory (the CLI's
/// `--wait`), and whether the waiting process says at once, on stderr, who holds it.
pub fn set_lock_wait(wait: Duration, notice: bool) {
    LOCK_WAIT_MS.store(wait.as_millis() as u64, Ordering::SeqCst);
    LOCK_NOTICE.store(notice, Ordering::SeqCst);
}

/// Says what this process does with the directories it opens (`sanbao import
/// FILE`, `sanbao serve`) and, for a server, the URL it serves: written with its
/// pid into `DIR/sanbao.lock` once it holds the lock, so that another process
/// waiting for it can say who holds it.
pub fn set_holder(what: impl Into<String>, url: Option<String>) {
    *HOLDER.lock().unwrap_or_else(|p| p.into_inner()) = Some((what.into(), url));
}

fn lock_wait() -> Duration {
    Duration::from_millis(LOCK_WAIT_MS.load(Ordering::SeqCst))
}

/// Who holds a directory, as its holder wrote it into `DIR/sanbao.lock`: the JSON
/// object `{"pid","command","since","url"?}` (`url` for a server), or `None` when
/// the file says nothing usable.
pub fn holder(dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("sanbao.lock")).ok()?;
    let v: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    v.get("pid")?.as_u64()?;
    Some(v)
}

/// Whether another process holds `dir` now (sanbao's lock on `DIR/sanbao.lock`).
/// Never waits, and never creates the lock file.
pub fn is_held(dir: &Path) -> bool {
    use fs2::FileExt;
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join("sanbao.lock"))
    else {
        return false;
    };
    match f.try_lock_exclusive() {
        Ok(()) => {
            let _ = fs2::FileExt::unlock(&f);
            false
        }
        Err(_) => true,
    }
}

/// The holder of `dir` in words, for messages.
fn holder_words(dir: &Path) -> String {
    match holder(dir) {
        Some(v) => format!(
            "process {} ({}{}, since {})",
            v["pid"],
            v["command"].as_str().unwrap_or("sanbao"),
            v["url"]
                .as_str()
                .map(|u| format!(" on {u}"))
                .unwrap_or_default(),
            v["since"].as_str().unwrap_or("?")
        ),
        None => "another sanbao process".into(),
    }
}

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
    /// A stored record does not decode or breaks the chain, or records the head
    /// witness says were acknowledged are missing.
    #[error("the log is damaged at seq {seq}: {reason}. Recover what verifies with `sanbao export --salvage` and `sanbao restore`, restore from a standby's export, or truncate after the last good record")]
    Damaged {
        /// First bad seq.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// sled refuses to open its files because they are damaged (a checksum that does
    /// not hold, a configuration it cannot read). `sanbao verify` names the first
    /// seq that cannot be recovered; `sanbao export --salvage` recovers the rest.
    #[error("the log in {dir} cannot be opened: its files are damaged ({msg}). `sanbao verify` names the first record that cannot be recovered; `sanbao export --salvage --out FILE` writes every record before it, and `sanbao restore --from FILE` builds a new data directory from them")]
    Unopenable {
        /// The data directory.
        dir: String,
        /// What sled said.
        msg: String,
    },
}

/// True when a sled error means damaged files rather than a failing system call:
/// a checksum that does not hold, or content sled cannot parse.
fn is_damage(e: &sled::Error) -> bool {
    match e {
        sled::Error::Corruption { .. }
        | sled::Error::Unsupported(_)
        | sled::Error::ReportableBug(_) => true,
        sled::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
        ),
        sled::Error::CollectionNotFound(_) => false,
    }
}

/// Free space a group commit leaves on the file system of the data directory, at
/// least (besides twice the group's own bytes): room for sled's log to roll to new
/// segments and for a roll-back. Below it, appends are refused as "disk full"
/// before anything is written (see `Store::commit`).
pub const DISK_HEADROOM_BYTES: u64 = 4 << 20;

/// Bytes free for this user on the file system holding `dir` (`None` when it cannot
/// be asked).
pub fn disk_free(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: a zeroed statvfs is a valid value of this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a properly sized out-parameter.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

/// Durable syncs of group commits: how many, and nanoseconds in them.
#[derive(Debug, Default)]
struct SyncTime {
    count: std::sync::atomic::AtomicU64,
    nanos: std::sync::atomic::AtomicU64,
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
    /// The head witness, opened for writing (on the first write when the store was
    /// opened for an audit).
    witness: std::sync::Arc<std::sync::Mutex<Option<Witness>>>,
    /// Records the witness says were acknowledged and the store does not hold (first
    /// such seq, and why): while set, nothing is written.
    problem: std::sync::Arc<std::sync::Mutex<Option<(u64, String)>>>,
    /// How often, and how long, group commits waited for the disk.
    syncs: std::sync::Arc<SyncTime>,
    /// Set when sled refused the directory's own files and this store reads a
    /// scratch copy of them ([`Store::open_audit`]): why, and the copy (removed when
    /// the last clone goes). Nothing is written to a rescued store.
    rescued: Option<std::sync::Arc<(String, tempfile::TempDir)>>,
}

/// How [`Store::open_with`] treats damage it finds on opening.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpenMode {
    /// Every command that reads or writes balances: damage is an error.
    Strict,
    /// verify, export --salvage, truncate: open whatever can be read, and say what
    /// is wrong through [`Store::problem`] and [`Store::rescued`].
    Audit,
}

/// Takes sanbao's exclusive lock on `dir`, waiting (until the lock wait after
/// `start`, [`set_lock_wait`]) for another process that holds it — saying at once
/// who that is when [`set_lock_wait`] asked for it, and naming it when giving up.
/// Once held, the lock file names this process ([`set_holder`]).
fn lock_dir(dir: &Path, start: Instant) -> Result<File, String> {
    use fs2::FileExt;
    use std::io::{Seek, Write};
    let path = dir.join("sanbao.lock");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let wait = lock_wait();
    let mut told = false;
    loop {
        match f.try_lock_exclusive() {
            Ok(()) => break,
            Err(_) if start.elapsed() < wait => {
                if !told && LOCK_NOTICE.load(Ordering::SeqCst) {
                    told = true;
                    eprintln!(
                        "waiting for {}: it is held by {}; giving up after {} s (--wait)",
                        dir.display(),
                        holder_words(dir),
                        wait.as_secs_f64()
                    );
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => {
                let serving = holder(dir)
                    .and_then(|v| v["url"].as_str().map(str::to_string))
                    .map(|url| format!("; while it serves, use its HTTP API at {url}"))
                    .unwrap_or_default();
                return Err(format!(
                    "the directory is held by {}; gave up after {} s (--wait SECONDS waits longer; `sanbao status` says what holds it){serving}",
                    holder_words(dir),
                    wait.as_secs_f64()
                ));
            }
        }
    }
    let (what, url) = HOLDER
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_else(|| ("sanbao".into(), None));
    let mut me = serde_json::json!({
        "pid": std::process::id(),
        "command": what,
        "since": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    });
    if let Some(url) = url {
        me["url"] = url.into();
    }
    // What the file says is only for messages: a failure to write it is no failure.
    let _ = f
        .set_len(0)
        .and_then(|()| f.rewind())
        .and_then(|()| writeln!(f, "{me}"));
    Ok(f)
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
    /// Fail the next N group writes before anything is written.
    pub fail_write: AtomicU32,
    /// Fail the next N group writes at the head: after the group's blocks and
    /// idempotency keys were written (as a crash between them would leave them).
    pub fail_head: AtomicU32,
    /// Fail the next N syncs after the batch was written (as a full disk would at fsync).
    pub fail_sync: AtomicU32,
    /// Also fail the next N roll-backs after a failed sync.
    pub fail_rollback: AtomicU32,
}

/// Copies the files of `dir` that hold sled's log (its data file and blobs, not its
/// snapshot, its configuration or sanbao's own files) into a scratch directory, with
/// a configuration sled writes afresh for the settings sanbao always uses, and opens
/// sled there: sled then rebuilds its page table from the log alone. What an audit
/// of a directory whose sled snapshot or configuration is damaged reads; the
/// directory itself is never written.
fn rescue(dir: &Path) -> Result<(sled::Db, tempfile::TempDir), String> {
    fn copy_tree(from: &Path, to: &Path, top: bool) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let name = entry.file_name();
            let n = name.to_string_lossy();
            if top && n != "db" && n != "blobs" {
                continue;
            }
            let ty = entry.file_type()?;
            if ty.is_dir() {
                copy_tree(&entry.path(), &to.join(&name), false)?;
            } else if ty.is_file() {
                std::fs::copy(entry.path(), to.join(&name))?;
            }
        }
        Ok(())
    }
    let scratch = tempfile::Builder::new()
        .prefix("sanbao-rescue-")
        .tempdir()
        .map_err(|e| format!("cannot make a scratch directory: {e}"))?;
    let copy = scratch.path().join("log");
    copy_tree(dir, &copy, true).map_err(|e| format!("cannot copy the log's files: {e}"))?;
    let fresh = scratch.path().join("fresh");
    drop(open_sled(&fresh).map_err(|e| e.to_string())?);
    std::fs::copy(fresh.join("conf"), copy.join("conf"))
        .map_err(|e| format!("cannot write a configuration: {e}"))?;
    let db = open_sled(&copy).map_err(|e| format!("sled cannot read its log either: {e}"))?;
    Ok((db, scratch))
}

/// Runs `f`, a call into sled, turning a panic into an error: sled 0.34.7 panics on
/// some damaged files (at open, "tried to serialize Uninitialized") where it should
/// answer an error. The panic's message is kept off stderr (a command's error stays
/// one line) by a panic hook, installed once, that stays quiet on a thread inside
/// `guarded` and passes every other panic to the hook before it.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    thread_local! {
        static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                before(info)
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    out.map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        format!("sled failed on its files: {msg}")
    })
}

/// Opens sled with [`sled_config`], a panic of sled's being a damage error.
fn open_sled(dir: &Path) -> sled::Result<sled::Db> {
    guarded(|| sled_config(dir).open()).unwrap_or_else(|msg| Err(sled::Error::ReportableBug(msg)))
}

/// The sled configuration of every sanbao log.
fn sled_config(dir: &Path) -> sled::Config {
    sled::Config::new()
        .path(dir)
        .mode(sled::Mode::HighThroughput)
        .cache_capacity(SLED_CACHE_BYTES)
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

fn block_key(first_seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = BLOCK;
    k[1..].copy_from_slice(&first_seq.to_be_bytes());
    k
}

/// The first seq a block key names (None for a key that is not a block key).
fn key_seq(k: &[u8]) -> Option<u64> {
    match k {
        [BLOCK, rest @ ..] => rest.try_into().ok().map(u64::from_be_bytes),
        _ => None,
    }
}

fn head_bytes(head: Head) -> Vec<u8> {
    let mut h = Vec::with_capacity(40);
    h.extend_from_slice(&head.seq.to_be_bytes());
    h.extend_from_slice(&head.hash.0);
    h
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

    fn sled_err(&self, e: sled::Error) -> StoreError {
        if is_damage(&e) {
            StoreError::Damaged {
                seq: 0,
                reason: format!("sled cannot read its files: {e}"),
            }
        } else {
            self.io(e)
        }
    }

    /// Opens (creating if needed) the log in `dir`, waiting up to the lock wait for
    /// another process holding it. Damage found on opening is an error: files sled
    /// cannot read ([`StoreError::Unopenable`]), or fewer records than the head
    /// witness says were acknowledged ([`StoreError::Damaged`] at the first missing
    /// seq). Nothing is written then.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, OpenMode::Strict)
    }

    /// Opens the log in `dir` for an audit (`verify`, `export --salvage`,
    /// `truncate`): whatever can be read. Records missing by the witness are told by
    /// [`Store::problem`] instead of an error; when sled refuses the directory's
    /// files, the log is read from a scratch copy without sled's snapshot and
    /// configuration ([`Store::rescued`] says so; see [`rescue`]); only when even
    /// that fails is it [`StoreError::Unopenable`]. A store with a problem, and a
    /// rescued one, write nothing (but for an explicit truncate, which settles the
    /// problem).
    pub fn open_audit(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, OpenMode::Audit)
    }

    fn open_with(dir: &Path, mode: OpenMode) -> Result<Store, StoreError> {
        let io = |m: String| StoreError::Io {
            dir: dir.display().to_string(),
            msg: m,
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| io(format!("cannot create the directory: {e}")))?;
        let start = Instant::now();
        let lock = lock_dir(dir, start).map_err(io)?;
        remove_unfinished_snapshots(dir).map_err(io)?;
        let mut rescued = None;
        let db = loop {
            match open_sled(dir) {
                Ok(db) => break db,
                Err(sled::Error::Io(e))
                    if (e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().contains("lock"))
                        && start.elapsed() < lock_wait() =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) if is_damage(&e) => {
                    let unopenable = |msg: String| StoreError::Unopenable {
                        dir: dir.display().to_string(),
                        msg,
                    };
                    if mode == OpenMode::Strict {
                        return Err(unopenable(format!("sled: {e}")));
                    }
                    tracing::warn!(error = %e, "sled refuses the log's files; reading a copy without its snapshot and configuration");
                    let (db, scratch) =
                        rescue(dir).map_err(|why| unopenable(format!("sled: {e}; {why}")))?;
                    rescued = Some(std::sync::Arc::new((format!("sled: {e}"), scratch)));
                    break db;
                }
                Err(e) => return Err(io(format!("cannot open the log: {e}"))),
            }
        };
        let data_file = if rescued.is_some() {
            None
        } else {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
            File::open(dir.join("db")).ok().map(std::sync::Arc::new)
        };
        let store = Store {
            db,
            dir: dir.to_path_buf(),
            data_file,
            faults: Default::default(),
            _lock: std::sync::Arc::new(lock),
            witness: Default::default(),
            problem: Default::default(),
            syncs: Default::default(),
            rescued,
        };
        if store.rescued.is_none() {
            store.check_layout()?;
        }
        let reading =
            witness::read(dir).map_err(|e| io(format!("cannot read the head witness: {e}")))?;
        let problem = store.witness_problem(reading)?;
        if let Some((seq, reason)) = &problem {
            if mode == OpenMode::Strict {
                return Err(StoreError::Damaged {
                    seq: *seq,
                    reason: reason.clone(),
                });
            }
        } else if store.rescued.is_none() {
            store.drop_unacknowledged_tail()?;
        }
        if mode == OpenMode::Strict {
            // A malformed head entry is verify's (and serve's) to report, with its
            // seq; a witness written anew then witnesses nothing (seq 0).
            let head = store.head().unwrap_or(Head {
                seq: 0,
                hash: GENESIS,
            });
            let w = Witness::open(dir, reading, head)
                .map_err(|e| io(format!("cannot write the head witness: {e}")))?;
            *store.witness.lock().expect("witness lock") = Some(w);
        }
        *store.problem.lock().expect("problem lock") = problem;
        Ok(store)
    }

    /// Compares the stored head with what the head witness says was acknowledged:
    /// `Some((first bad seq, why))` when records it witnessed are missing, or the
    /// record at its seq is not the one it witnessed.
    fn witness_problem(
        &self,
        reading: witness::Reading,
    ) -> Result<Option<(u64, String)>, StoreError> {
        let witness::Reading::Witnessed(w, _) = reading else {
            if reading == witness::Reading::Unreadable {
                tracing::warn!(
                    "the head witness file is unreadable; it is written anew from the stored head"
                );
            }
            return Ok(None);
        };
        let head = match self.head() {
            Ok(h) => h,
            // A damaged head entry is verify's to report.
            Err(StoreError::Damaged { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if head.seq < w.seq {
            let missing = if head.seq + 1 == w.seq {
                format!("record {} was", w.seq)
            } else {
                format!("records {}..={} were", head.seq + 1, w.seq)
            };
            return Ok(Some((
                head.seq + 1,
                format!(
                    "{missing} acknowledged (the head witness says seq {}, hash {}) and {} missing from the store, whose head is seq {}",
                    w.seq,
                    w.hash,
                    if head.seq + 1 == w.seq { "is" } else { "are" },
                    head.seq
                ),
            )));
        }
        if w.seq == 0 {
            return Ok(None);
        }
        match self.get(w.seq) {
            Ok(Some(r)) if r.hash == w.hash => Ok(None),
            Ok(Some(r)) => Ok(Some((
                w.seq,
                format!(
                    "record {} has hash {}, but it was acknowledged with hash {} (the head witness)",
                    w.seq, r.hash, w.hash
                ),
            ))),
            Ok(None) => Ok(Some((
                w.seq,
                format!(
                    "record {} was acknowledged (the head witness says hash {}) and is missing from the store",
                    w.seq, w.hash
                ),
            ))),
            // A record that does not decode is verify's to report, at its seq.
            Err(StoreError::Damaged { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Records the head witness says were acknowledged and the store does not hold
    /// (first such seq, and why), as found on opening; `None` when it agrees.
    pub fn problem(&self) -> Option<(u64, String)> {
        self.problem.lock().expect("problem lock").clone()
    }

    /// Why sled refused the directory's own files, when this store reads a scratch
    /// copy of them ([`Store::open_audit`]).
    pub fn rescued(&self) -> Option<&str> {
        self.rescued.as_ref().map(|r| r.0.as_str())
    }

    /// Witnesses `head` as durable (opening the witness first if this store was
    /// opened for an audit).
    fn witness_head(&self, head: Head) -> Result<(), StoreError> {
        let mut w = self.witness.lock().expect("witness lock");
        if w.is_none() {
            let reading = witness::read(&self.dir)
                .map_err(|e| self.io(format!("cannot read the head witness: {e}")))?;
            *w = Some(
                Witness::open(&self.dir, reading, head)
                    .map_err(|e| self.io(format!("cannot write the head witness: {e}")))?,
            );
        }
        w.as_mut()
            .expect("opened")
            .record(head)
            .map_err(|e| self.io(format!("cannot write the head witness: {e}")))
    }

    /// Makes sure the directory holds layout [`LAYOUT_V2`]: a new log is marked with
    /// it; a log without the mark, or with another one, is refused (nothing is read
    /// or written in a layout this version does not know).
    fn check_layout(&self) -> Result<(), StoreError> {
        match self.db.get(LAYOUT).map_err(|e| self.io(e))? {
            Some(v) if v.as_ref() == [LAYOUT_V2] => Ok(()),
            Some(v) => Err(self.io(format!(
                "the log is in storage layout {:?}, which this sanbao does not read (it reads layout {LAYOUT_V2})",
                v.as_ref()
            ))),
            None if self.db.is_empty() => {
                self.db
                    .insert(LAYOUT, &[LAYOUT_V2][..])
                    .map_err(|e| self.io(e))?;
                self.sync()
            }
            None => Err(self.io(format!(
                "the log has no storage layout mark; it was written by an unreleased sanbao (layout 1). Export it with that build and import the export (this sanbao reads layout {LAYOUT_V2})"
            ))),
        }
    }

    /// Every stored block with first seq ≥ `from`, in seq order: `(first seq, bytes)`.
    fn blocks_from(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> + '_ {
        let mut range = self.db.range(block_key(from)..=block_key(u64::MAX));
        let mut failed = false;
        std::iter::from_fn(move || {
            if failed {
                return None;
            }
            let next = guarded(|| range.next()).unwrap_or_else(|msg| {
                failed = true;
                Some(Err(sled::Error::ReportableBug(msg)))
            });
            failed |= matches!(next, Some(Err(_)));
            next
        })
        .map(move |r| {
            let (k, v) = r.map_err(|e| self.sled_err(e))?;
            let first = key_seq(&k).ok_or_else(|| StoreError::Damaged {
                seq: 0,
                reason: format!("a malformed block key {:?}", k.as_ref()),
            })?;
            Ok((first, v))
        })
    }

    /// The stored block that holds `seq`, if any: the one with the greatest first
    /// seq ≤ `seq`.
    fn block_of(&self, seq: u64) -> Result<Option<(u64, sled::IVec)>, StoreError> {
        match self.db.range(block_key(0)..=block_key(seq)).next_back() {
            None => Ok(None),
            Some(r) => {
                let (k, v) = r.map_err(|e| self.sled_err(e))?;
                match key_seq(&k) {
                    Some(first) => Ok(Some((first, v))),
                    None => Err(StoreError::Damaged {
                        seq: seq.max(1),
                        reason: format!("a malformed block key {:?}", k.as_ref()),
                    }),
                }
            }
        }
    }

    /// Removes records past the stored head. They exist when a process stopped (or its
    /// sync failed and the roll-back failed too) after some of a group's writes
    /// reached sled but before its head did: such records were never acknowledged,
    /// and the head (written after them) says so. Their idempotency keys go with them.
    ///
    /// Only such a tail is dropped: whole blocks whose records continue the stored
    /// head (the first one is seq head + 1 and links to the head's hash), no more than
    /// one group commit can hold. Anything else past the head is damage, not an
    /// unacknowledged write: it is left where it is, for `verify` to report and for an
    /// explicit `truncate` to remove. A head entry that cannot be read is left alone.
    fn drop_unacknowledged_tail(&self) -> Result<(), StoreError> {
        let Ok(head) = self.head() else {
            tracing::warn!("the head entry is malformed; not touching the records past it");
            return Ok(());
        };
        let first = head.seq.saturating_add(1);
        let mut batch = sled::Batch::default();
        let mut n = 0u64;
        let leave = |why: &str| {
            tracing::warn!(head = head.seq, "{why}; leaving them for verify");
            Ok(())
        };
        for item in self.blocks_from(first) {
            let (block_first, bytes) = item?;
            let framed = block::entries(&bytes);
            if framed.damage.is_some() {
                return leave("a block past the head is malformed");
            }
            for i in 0..framed.spans.len() {
                let Ok(r) = framed.decode(&bytes, block_first, i) else {
                    return leave("a record past the head does not decode");
                };
                if n == 0 && !(block_first == first && r.seq == first && r.prev_hash == head.hash) {
                    return leave("records past the head do not continue it");
                }
                if r.seq != block_first + i as u64 {
                    return leave("records past the head are out of order");
                }
                if let Some(key) = &r.idempotency_key {
                    if self.idempotency_seq(key)? == Some(r.seq) {
                        batch.remove(idem_key(key));
                    }
                }
                n += 1;
            }
            batch.remove(&block_key(block_first)[..]);
            if n > MAX_UNACKNOWLEDGED_TAIL {
                return leave("more records past the head than one group commit writes");
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
    /// by the caller) the stored head — in one atomic batch, then synced. The block
    /// holding `after` is rewritten without the records past it. The repair behind
    /// `sanbao truncate --after SEQ --yes`, for a damaged log; never called by
    /// anything else. `serve`'s snapshot is deleted first: it may cover records that
    /// go. Answers how many records were removed.
    pub fn truncate_after(&self, head: Head) -> Result<u64, StoreError> {
        if let Some(why) = self.rescued() {
            return Err(StoreError::Unopenable {
                dir: self.dir.display().to_string(),
                msg: format!("{why}; truncate cannot repair files sled cannot open: recover with `sanbao export --salvage` and `sanbao restore`"),
            });
        }
        super::snapshot::remove(&self.dir).map_err(|e| self.io(e))?;
        let after = head.seq;
        let mut batch = sled::Batch::default();
        let mut removed = 0u64;
        if let Some((first, bytes)) = self.block_of(after)? {
            let framed = block::entries(&bytes);
            let keep = (after + 1 - first) as usize;
            let past = framed.spans.len().saturating_sub(keep);
            if past > 0 || framed.damage.is_some() {
                let kept = framed.spans.iter().take(keep).map(|s| &bytes[s.clone()]);
                batch.insert(&block_key(first)[..], block::rebuild(&bytes, kept));
                removed += past as u64;
            }
        }
        for item in self.blocks_from(after.saturating_add(1)) {
            let (first, bytes) = item?;
            batch.remove(&block_key(first)[..]);
            removed += block::entries(&bytes).spans.len() as u64;
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
            batch.insert(HEAD, head_bytes(head));
        }
        self.db.apply_batch(batch).map_err(|e| self.io(e))?;
        self.sync()?;
        // The explicit repair is the one way the witness goes back.
        self.witness_head(head)?;
        *self.problem.lock().expect("problem lock") = None;
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
        match self.db.get(HEAD).map_err(|e| self.sled_err(e))? {
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

    /// One record by seq (None when no block holds it).
    pub fn get(&self, seq: u64) -> Result<Option<Record>, StoreError> {
        let Some((first, bytes)) = self.block_of(seq)? else {
            return Ok(None);
        };
        let framed = block::entries(&bytes);
        let i = (seq - first) as usize;
        match framed.spans.get(i) {
            Some(_) => framed
                .decode(&bytes, first, i)
                .map(Some)
                .map_err(|reason| StoreError::Damaged { seq, reason }),
            None => match framed.damage {
                Some((at, reason)) if at <= i => Err(StoreError::Damaged {
                    seq: first + at as u64,
                    reason,
                }),
                _ => Ok(None),
            },
        }
    }

    /// Reads every stored block holding records `1..=upto` through sled — so that
    /// sled checks each page's checksum — and frames it, without decoding or hashing
    /// records: what `serve` checks of the records a snapshot covers, so that a
    /// damaged disk page under them is refused rather than served. The first seq
    /// that cannot be read or framed, or is missing, is [`StoreError::Damaged`].
    pub fn scan_blocks(&self, upto: u64) -> Result<(), StoreError> {
        let mut expect = 1u64;
        for item in self.blocks_from(1) {
            if expect > upto {
                break;
            }
            let (first, bytes) = match item {
                Ok(b) => b,
                Err(StoreError::Damaged { reason, .. }) => {
                    return Err(StoreError::Damaged {
                        seq: expect,
                        reason,
                    })
                }
                Err(e) => return Err(e),
            };
            if first != expect {
                return Err(StoreError::Damaged {
                    seq: expect,
                    reason: format!(
                        "record {expect} is missing (the next stored record is {first})"
                    ),
                });
            }
            let framed = block::entries(&bytes);
            if let Some((at, reason)) = framed.damage {
                return Err(StoreError::Damaged {
                    seq: first + at as u64,
                    reason,
                });
            }
            expect = first + framed.spans.len() as u64;
        }
        if expect <= upto {
            return Err(StoreError::Damaged {
                seq: expect,
                reason: format!("record {expect} is missing"),
            });
        }
        Ok(())
    }

    /// The seq an idempotency key was first recorded with.
    pub fn idempotency_seq(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .db
            .get(idem_key(key))
            .map_err(|e| self.sled_err(e))?
            .map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8]))))
    }

    /// Raw stored records with seq in `from..=to`, in seq order ([`StoredRecord`]: the
    /// bytes with what their place gives — the seq from the block key and index, and
    /// the `prev_hash` a compact record takes). A block that
    /// cannot be framed yields its good records first, then
    /// [`StoreError::Damaged`] naming the first seq it could not frame, and ends.
    pub fn raw_range(&self, from: u64, to: u64) -> RawRecords<'_> {
        let from = from.max(1);
        let start = match self.block_of(from) {
            Ok(Some((first, _))) => first,
            Ok(None) => from,
            Err(e) => {
                return RawRecords {
                    blocks: Box::new(std::iter::once(Err(e))),
                    current: None,
                    from,
                    to,
                    done: false,
                }
            }
        };
        RawRecords {
            blocks: Box::new(self.blocks_from(start)),
            current: None,
            from,
            to,
            done: from > to,
        }
    }

    /// Decoded records with seq in `from..=to`, in seq order. A record that does not
    /// decode is reported as [`StoreError::Damaged`].
    pub fn records(
        &self,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = Result<Record, StoreError>> + '_ {
        self.raw_range(from, to).map(|r| r?.decode())
    }

    /// Writes records (continuing `prev`, already checked) packed in new blocks, with
    /// their idempotency keys and the new head, then makes them durable. If a write or
    /// the sync fails, everything written is taken back out of sled (so a later write,
    /// or a restart, never sees it); [`CommitError::consistent`] says whether that
    /// worked.
    ///
    /// The writes are single sled inserts in a fixed order — the blocks, then the
    /// idempotency keys, then the head — not one `sled::Batch`: sled recovers a prefix
    /// of its log (its recovery stops at the first torn message), so a head that
    /// survives a crash implies everything written before it, and whatever survives
    /// past the stored head belongs to a group that was never acknowledged, which
    /// [`Store::open`] drops. A `sled::Batch` gets the same atomicity from a manifest
    /// that sled writes and syncs on its own, before the batch: a second device round
    /// trip in every commit (BENCHMARKS.md). Until the head is written, a reader of
    /// the store that does not stop at the durable head could see blocks past it;
    /// every reader does (serve's routes, the writer's plan check).
    pub fn commit(&self, records: &[Record], prev: Head) -> Result<(), CommitError> {
        let Some(last) = records.last() else {
            return Ok(());
        };
        if let Some(refused) = self.refuse_writes() {
            return Err(CommitError {
                error: refused,
                consistent: true,
            });
        }
        if take(&self.faults.fail_write) {
            return Err(CommitError {
                error: self.io("injected write failure (no space left on device)"),
                consistent: true,
            });
        }
        let blocks = block::pack(records);
        if let Some(full) = self.short_of_space(&blocks) {
            return Err(CommitError {
                error: full,
                consistent: true,
            });
        }
        let firsts: Vec<u64> = blocks.iter().map(|(first, _)| *first).collect();
        let written = (|| {
            for (first, bytes) in blocks {
                self.db.insert(&block_key(first)[..], bytes)?;
            }
            for r in records {
                if let Some(k) = &r.idempotency_key {
                    self.db.insert(idem_key(k), &r.seq.to_be_bytes()[..])?;
                }
            }
            // Last: the group counts once this survives.
            if take(&self.faults.fail_head) {
                return Err(sled::Error::Io(std::io::Error::other(
                    "injected write failure at the head (no space left on device)",
                )));
            }
            self.db.insert(
                HEAD,
                head_bytes(Head {
                    seq: last.seq,
                    hash: last.hash,
                }),
            )?;
            Ok::<(), sled::Error>(())
        })();
        let new_head = Head {
            seq: last.seq,
            hash: last.hash,
        };
        let synced = match written {
            Err(e) => Err(self.io(e)),
            Ok(()) if take(&self.faults.fail_sync) => {
                Err(self.io("injected sync failure (no space left on device)"))
            }
            Ok(()) => {
                let t = Instant::now();
                let synced = self.sync().and_then(|()| self.witness_head(new_head));
                if synced.is_ok() {
                    self.syncs.count.fetch_add(1, Ordering::Relaxed);
                    self.syncs
                        .nanos
                        .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                }
                synced
            }
        };
        let Err(error) = synced else { return Ok(()) };
        // The witness may hold the new head (written, not synced): it goes back to
        // `prev` with the store.
        let consistent =
            self.roll_back(&firsts, records, prev).is_ok() && self.witness_head(prev).is_ok();
        Err(CommitError { error, consistent })
    }

    /// Refuses a group before anything is written when the file system holding the
    /// log has less free than [`DISK_HEADROOM_BYTES`] plus twice the group's bytes. sled
    /// 0.34 keeps an I/O error of its log (a full disk) until it is reopened, and a
    /// group's roll-back needs space too, so a write that ran out of space would stop
    /// all writing until a restart; refused here, appends answer "disk full" while it
    /// is full and succeed again, without a restart, once space returns.
    fn short_of_space(&self, blocks: &[(u64, Vec<u8>)]) -> Option<StoreError> {
        let bytes: u64 = blocks.iter().map(|(_, b)| b.len() as u64).sum();
        let need = DISK_HEADROOM_BYTES + 2 * bytes;
        let free = disk_free(&self.dir)?;
        (free < need).then(|| {
            let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
            self.io(format!(
                "the disk holding the log is full ({:.1} MiB free; a commit keeps {:.1} MiB free): free space there and append again, no restart needed",
                mib(free),
                mib(DISK_HEADROOM_BYTES)
            ))
        })
    }

    /// Why nothing may be written to this store, if so: records the witness says
    /// were acknowledged are missing, or it is a rescued copy.
    fn refuse_writes(&self) -> Option<StoreError> {
        if let Some((seq, reason)) = self.problem() {
            return Some(StoreError::Damaged { seq, reason });
        }
        self.rescued().map(|why| StoreError::Unopenable {
            dir: self.dir.display().to_string(),
            msg: why.to_string(),
        })
    }

    /// Takes a written-but-unsynced group (blocks starting at `firsts`, and its keys)
    /// back out of sled, restoring head `prev` — in one atomic batch, as some of it
    /// may not have been written.
    fn roll_back(&self, firsts: &[u64], records: &[Record], prev: Head) -> Result<(), StoreError> {
        if take(&self.faults.fail_rollback) {
            return Err(self.io("injected roll-back failure"));
        }
        let mut undo = sled::Batch::default();
        for first in firsts {
            undo.remove(&block_key(*first)[..]);
        }
        for r in records {
            if let Some(k) = &r.idempotency_key {
                undo.remove(idem_key(k));
            }
        }
        if prev.seq == 0 {
            undo.remove(HEAD);
        } else {
            undo.insert(HEAD, head_bytes(prev));
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

    /// The durable syncs of the group commits since this store was opened (sled's
    /// flush and `fdatasync`, then the head witness's) that succeeded: how many, and
    /// the time in them. Shared by every clone.
    pub fn sync_time(&self) -> (u64, Duration) {
        (
            self.syncs.count.load(Ordering::Relaxed),
            Duration::from_nanos(self.syncs.nanos.load(Ordering::Relaxed)),
        )
    }

    /// Bytes sled occupies on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// Number of stored blocks (for benchmarks and tests of the layout).
    pub fn block_count(&self) -> u64 {
        self.blocks_from(0).count() as u64
    }

    /// Replaces the stored bytes of record `seq` inside its block (or stores a new
    /// one-record block at `seq` when no block holds it), bypassing every check. Only
    /// for tests that simulate damage on disk.
    #[doc(hidden)]
    pub fn overwrite_raw_for_test(&self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let (first, block) = match self.block_of(seq)? {
            Some((first, old)) => {
                let framed = block::entries(&old);
                let i = (seq - first) as usize;
                if i < framed.spans.len() {
                    let entries = framed.spans.iter().enumerate().map(|(j, s)| {
                        if j == i {
                            bytes
                        } else {
                            &old[s.clone()]
                        }
                    });
                    (first, block::rebuild(&old, entries))
                } else {
                    (seq, block::pack_raw([bytes]))
                }
            }
            None => (seq, block::pack_raw([bytes])),
        };
        self.overwrite_block_for_test(first, &block)
    }

    /// The raw block holding `seq`: its first seq and bytes. Only for tests.
    #[doc(hidden)]
    pub fn raw_block_for_test(&self, seq: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self.block_of(seq)?.map(|(first, b)| (first, b.to_vec())))
    }

    /// Writes raw block bytes under the block key `first`, bypassing every check.
    /// Only for tests that simulate damage on disk.
    #[doc(hidden)]
    pub fn overwrite_block_for_test(&self, first: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.db
            .insert(block_key(first), bytes)
            .map_err(|e| self.io(e))?;
        self.sync()
    }
}

/// One record's stored bytes as [`Store::raw_range`] hands them out, with what its
/// place in the log gives it.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    /// The record's place: its block's first seq + its index in the block.
    pub seq: u64,
    /// The stored form (either version).
    pub bytes: sled::IVec,
    /// The `prev_hash` a compact record takes from its place
    /// ([`block::Entries::context`]); zeros for a self-contained one.
    pub prev: crate::values::Sha256Hex,
}

impl StoredRecord {
    /// Decodes the record ([`Record::decode_at`]); bytes that do not decode are
    /// [`StoreError::Damaged`] at its seq.
    pub fn decode(&self) -> Result<Record, StoreError> {
        Record::decode_at(&self.bytes, self.seq, self.prev).map_err(|reason| StoreError::Damaged {
            seq: self.seq,
            reason,
        })
    }
}

/// The iterator of [`Store::raw_range`]: records out of their blocks, in seq order.
pub struct RawRecords<'a> {
    blocks: Box<dyn Iterator<Item = Result<(u64, sled::IVec), StoreError>> + 'a>,
    current: Option<Current>,
    from: u64,
    to: u64,
    done: bool,
}

/// The block a [`RawRecords`] is handing out.
struct Current {
    first: u64,
    bytes: sled::IVec,
    framed: block::Entries,
    next: usize,
}

impl Iterator for RawRecords<'_> {
    type Item = Result<StoredRecord, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            if let Some(c) = &mut self.current {
                if let Some(span) = c.framed.spans.get(c.next) {
                    let i = c.next;
                    let seq = c.first + i as u64;
                    c.next += 1;
                    if seq > self.to {
                        self.done = true;
                        return None;
                    }
                    if seq < self.from {
                        continue;
                    }
                    return Some(Ok(StoredRecord {
                        seq,
                        bytes: c.bytes.subslice(span.start, span.len()),
                        prev: c.framed.context(&c.bytes, i),
                    }));
                }
                if let Some((i, reason)) = c.framed.damage.take() {
                    self.done = true;
                    let seq = c.first + i as u64;
                    return (seq <= self.to).then_some(Err(StoreError::Damaged { seq, reason }));
                }
                self.current = None;
            }
            match self.blocks.next() {
                None => self.done = true,
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok((first, bytes))) => {
                    if first > self.to {
                        self.done = true;
                        return None;
                    }
                    let framed = block::entries(&bytes);
                    self.current = Some(Current {
                        first,
                        bytes,
                        framed,
                        next: 0,
                    });
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_of_self_contained_blocks_reads_on_and_continues_in_compact_ones() {
        use crate::record::GENESIS;
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let mut prev = GENESIS;
        let recs: Vec<Record> = (1..=5u64)
            .map(|seq| {
                let e = crate::event::Event::parse_object(serde_json::json!({
                    "kind": "county_registered", "county": format!("c{seq}"),
                    "name": "县", "registered_on": "2021-01-01"}))
                .unwrap();
                let r = Record::new(seq, 1_000 + seq as i64, e.idempotency_key, prev, e.event);
                prev = r.hash;
                r
            })
            .collect();
        // Records 1–3 as a log written before the compact form: a block of format 1.
        let v1: Vec<Vec<u8>> = recs[..3].iter().map(|r| r.encode_v1().unwrap()).collect();
        let old = block::pack_raw(v1.iter().map(|v| v.as_slice()));
        store.db.insert(block_key(1), old).unwrap();
        let head = Head {
            seq: 3,
            hash: recs[2].hash,
        };
        store.db.insert(HEAD, head_bytes(head)).unwrap();
        // Records 4–5 continue it in the compact form.
        store.commit(&recs[3..], head).unwrap();
        assert_eq!(
            store.raw_block_for_test(4).unwrap().unwrap().1[0],
            block::BLOCK_V2
        );
        let read: Vec<Record> = store.records(1, 5).map(|r| r.unwrap()).collect();
        assert_eq!(read, recs);
        assert_eq!(store.get(2).unwrap().unwrap(), recs[1]);
        assert_eq!(store.get(5).unwrap().unwrap(), recs[4]);
        assert!(matches!(
            super::super::verify(&store, None, |_| {}).unwrap(),
            super::super::Verified::Ok { records: 5, .. }
        ));
    }

    #[test]
    fn a_log_without_the_layout_mark_is_refused_and_a_new_one_is_marked() {
        let tmp = tempfile::tempdir().unwrap();
        // A log as the unreleased layout 1 left it: a record key and a head, no mark.
        {
            let db = sled::open(tmp.path()).unwrap();
            let mut k = vec![b'r'];
            k.extend_from_slice(&1u64.to_be_bytes());
            db.insert(k, &[1u8, 2, 3][..]).unwrap();
            db.insert(HEAD, &[0u8; 40][..]).unwrap();
            db.flush().unwrap();
        }
        let err = Store::open(tmp.path()).err().expect("refused").to_string();
        assert!(err.contains("layout") && err.contains("export"), "{err}");

        // Another mark is refused too; a new log is marked with layout 2.
        let other = tempfile::tempdir().unwrap();
        {
            let db = sled::open(other.path()).unwrap();
            db.insert(LAYOUT, &[9u8][..]).unwrap();
            db.flush().unwrap();
        }
        let err = Store::open(other.path())
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("layout [9]"), "{err}");
        let fresh = tempfile::tempdir().unwrap();
        let store = Store::open(fresh.path()).unwrap();
        assert_eq!(
            store.db.get(LAYOUT).unwrap().unwrap().as_ref(),
            &[LAYOUT_V2]
        );
        drop(store);
        Store::open(fresh.path()).unwrap();
    }
}
