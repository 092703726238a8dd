//! The imperative shell around the log: the sled store, the single writer, and
//! loading (folding) the state from what is stored.
//!
//! Guarantees: nothing outside this module touches sled; the state handed out by
//! [`load_state`] is a pure fold of the stored records, checked for contiguous seqs
//! and an unbroken `prev_hash` link (the full hash check is `verify`'s job);
//! [`load_verified`] folds *and* fully verifies in one read (what `serve` starts
//! from), so a damaged log is refused rather than served.

pub mod block;
pub mod snapshot;
pub mod store;
pub mod witness;
pub mod writer;

use crate::record::Record;
use crate::state::State;
pub use store::{Head, Store, StoreError, StoredRecord};
pub use writer::{
    Ack, AckWarning, AppendError, Clock, DurableSeq, SystemClock, Writer, WriterThread,
};

/// Records handed from the reading thread to the consumer at a time.
const READ_CHUNK: usize = 1024;

/// One stored record as the reading thread hands it over: its seq (from its place in
/// the log), the record if it decodes, and — when asked for — the hash of its content
/// as [`Record::compute_hash`] computes it.
struct ReadRecord {
    seq: u64,
    record: Result<Record, String>,
    computed: Option<crate::values::Sha256Hex>,
}

impl ReadRecord {
    /// Decodes (and with `hash`, hashes) a stored record.
    fn of(stored: StoredRecord, hash: bool) -> ReadRecord {
        let seq = stored.seq;
        let record = Record::decode_at(&stored.bytes, seq, stored.prev);
        let computed = match (&record, hash) {
            (Ok(r), true) => Some(r.compute_hash()),
            _ => None,
        };
        ReadRecord {
            seq,
            record,
            computed,
        }
    }
}

/// Reads the stored records with seq ≤ `upto` on a second thread while `consume`
/// works through them in seq order on this one, so that a replay uses both cores.
/// Without `hash`, the reader frames and decodes every record (a fold alone keeps the
/// consumer busy enough: measured, splitting made it slower). With `hash`, decoding
/// and hashing — the costliest part of an audit — are shared out chunk by chunk to
/// whichever thread is free ([`shared_chunks`]). The reader stops at the first
/// storage error (handed over as the last item) and as soon as `consume` returns.
fn read_ahead<T>(
    store: &Store,
    from: u64,
    upto: Option<u64>,
    hash: bool,
    consume: impl FnOnce(&mut dyn Iterator<Item = Result<ReadRecord, StoreError>>) -> T,
) -> T {
    if hash {
        return shared_chunks(store, from, upto, consume);
    }
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<ReadRecord, StoreError>>>(8);
        scope.spawn(move || {
            let mut chunk = Vec::with_capacity(READ_CHUNK);
            for item in store.raw_range(from, upto.unwrap_or(u64::MAX)) {
                let stop = item.is_err();
                chunk.push(item.map(|stored| ReadRecord::of(stored, false)));
                if chunk.len() == READ_CHUNK || stop {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(READ_CHUNK));
                    if tx.send(full).is_err() || stop {
                        return;
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = tx.send(chunk);
            }
        });
        let mut items = rx.into_iter().flatten();
        consume(&mut items)
    })
}

/// Chunks read ahead of the consumer at most (each of [`READ_CHUNK`] records).
const LOOKAHEAD: usize = 16;

/// One chunk of stored records on its way from the reader to the consumer.
enum ChunkState {
    /// As read: nobody has claimed it yet.
    Raw(Vec<Result<StoredRecord, StoreError>>),
    /// Being decoded and hashed by one of the two threads.
    Working,
    /// Decoded and hashed, waiting for the consumer.
    Done(Vec<Result<ReadRecord, StoreError>>),
}

/// A chunk and the signal that it is done.
struct Slot {
    state: std::sync::Mutex<ChunkState>,
    done: std::sync::Condvar,
}

impl Slot {
    /// Claims the chunk when nobody has: its records, now `Working`.
    fn claim(&self) -> Option<Vec<Result<StoredRecord, StoreError>>> {
        let mut st = self.state.lock().expect("slot lock");
        match std::mem::replace(&mut *st, ChunkState::Working) {
            ChunkState::Raw(v) => Some(v),
            other => {
                *st = other;
                None
            }
        }
    }

    /// Decodes and hashes a claimed chunk and hands it over.
    fn work(&self, raw: Vec<Result<StoredRecord, StoreError>>) {
        let read = raw
            .into_iter()
            .map(|item| item.map(|stored| ReadRecord::of(stored, true)))
            .collect();
        *self.state.lock().expect("slot lock") = ChunkState::Done(read);
        self.done.notify_all();
    }
}

/// The chunks read and not yet taken by the consumer, in seq order.
struct Queue {
    slots: std::collections::VecDeque<std::sync::Arc<Slot>>,
    /// The reader has read its last chunk.
    read_all: bool,
    /// The consumer is finished: the reader stops.
    stop: bool,
}

/// [`read_ahead`] with hashing: the reader thread reads chunks up to [`LOOKAHEAD`]
/// ahead, and when it may read no further it decodes and hashes queued chunks from
/// the newest back; the consumer takes chunks from the oldest, decoding and hashing
/// any that nobody has claimed yet, and — when the reader is still on the chunk it
/// needs — a later unclaimed one meanwhile. Both cores stay busy whatever the share
/// of reading, hashing and folding; the consumer still sees every record in seq
/// order, so the first bad seq is found first whichever chunk was hashed first.
fn shared_chunks<T>(
    store: &Store,
    from: u64,
    upto: Option<u64>,
    consume: impl FnOnce(&mut dyn Iterator<Item = Result<ReadRecord, StoreError>>) -> T,
) -> T {
    use std::sync::{Arc, Condvar, Mutex};
    let queue = Mutex::new(Queue {
        slots: std::collections::VecDeque::new(),
        read_all: false,
        stop: false,
    });
    let changed = Condvar::new();
    std::thread::scope(|scope| {
        let (queue, changed) = (&queue, &changed);
        scope.spawn(move || {
            let mut raw = store.raw_range(from, upto.unwrap_or(u64::MAX));
            let mut exhausted = false;
            loop {
                let q = queue.lock().expect("queue lock");
                if q.stop {
                    return;
                }
                if !exhausted && q.slots.len() < LOOKAHEAD {
                    drop(q);
                    let mut chunk = Vec::with_capacity(READ_CHUNK);
                    for item in raw.by_ref() {
                        let stop = item.is_err();
                        chunk.push(item);
                        if chunk.len() == READ_CHUNK || stop {
                            exhausted = stop;
                            break;
                        }
                    }
                    exhausted |= chunk.len() < READ_CHUNK;
                    let mut q = queue.lock().expect("queue lock");
                    if !chunk.is_empty() {
                        q.slots.push_back(Arc::new(Slot {
                            state: Mutex::new(ChunkState::Raw(chunk)),
                            done: Condvar::new(),
                        }));
                    }
                    q.read_all = exhausted;
                    changed.notify_all();
                    continue;
                }
                // Read far enough ahead: help with the hashing, newest chunk first.
                let claimed = q
                    .slots
                    .iter()
                    .rev()
                    .find_map(|slot| slot.claim().map(|raw| (slot.clone(), raw)));
                match claimed {
                    Some((slot, raw)) => {
                        drop(q);
                        slot.work(raw);
                    }
                    None if exhausted => return,
                    None => drop(changed.wait(q).expect("queue lock")),
                }
            }
        });
        let mut items = ConsumerChunks {
            queue,
            changed,
            current: Vec::new().into_iter(),
        };
        let answer = consume(&mut items);
        queue.lock().expect("queue lock").stop = true;
        changed.notify_all();
        answer
    })
}

/// The consumer's side of [`shared_chunks`]: the records in seq order.
struct ConsumerChunks<'a> {
    queue: &'a std::sync::Mutex<Queue>,
    changed: &'a std::sync::Condvar,
    current: std::vec::IntoIter<Result<ReadRecord, StoreError>>,
}

impl ConsumerChunks<'_> {
    /// The next chunk, decoded and hashed; `None` after the last.
    fn next_chunk(&mut self) -> Option<Vec<Result<ReadRecord, StoreError>>> {
        let slot = {
            let mut q = self.queue.lock().expect("queue lock");
            loop {
                if let Some(slot) = q.slots.pop_front() {
                    self.changed.notify_all();
                    break slot;
                }
                if q.read_all {
                    return None;
                }
                q = self.changed.wait(q).expect("queue lock");
            }
        };
        if let Some(raw) = slot.claim() {
            slot.work(raw);
        }
        loop {
            let mut st = slot.state.lock().expect("slot lock");
            if let ChunkState::Done(v) = std::mem::replace(&mut *st, ChunkState::Working) {
                return Some(v);
            }
            drop(st);
            // The reader is on this chunk: hash a later one meanwhile, if any is
            // unclaimed, else wait for this one.
            let later = {
                let q = self.queue.lock().expect("queue lock");
                q.slots
                    .iter()
                    .find_map(|s| s.claim().map(|raw| (s.clone(), raw)))
            };
            match later {
                Some((s, raw)) => s.work(raw),
                None => {
                    let st = slot.state.lock().expect("slot lock");
                    if matches!(*st, ChunkState::Working) {
                        drop(slot.done.wait(st).expect("slot lock"));
                    }
                }
            }
        }
    }
}

impl Iterator for ConsumerChunks<'_> {
    type Item = Result<ReadRecord, StoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            self.current = self.next_chunk()?.into_iter();
        }
    }
}

/// Folds the stored records with seq ≤ `upto` (all when `None`) into a state,
/// calling `progress(seq)` every 65,536 records: every check of [`verify`] but the
/// hashes and the stored head (contiguous seqs, each record decodes and sits at its
/// place, `prev_hash` links). Records are read and decoded on a second thread while
/// this one folds.
pub fn load_state(
    store: &Store,
    upto: Option<u64>,
    progress: impl FnMut(u64),
) -> Result<State, StoreError> {
    let mut state = State::new();
    state.reserve_records(records_hint(store, upto));
    match check_records(store, GENESIS_HEAD, upto, false, progress, |r| {
        state.fold(r);
    })? {
        Ok(_) => Ok(state),
        Err((seq, reason)) => Err(StoreError::Damaged { seq, reason }),
    }
}

/// How many records a fold of `store` up to `upto` (all when `None`) will see, as a
/// hint for [`State::reserve_records`]: the stored head, never more than one record
/// per 32 bytes on disk (a damaged head must not make the fold reserve more memory
/// than the log could fill), 0 when the head cannot be read.
pub fn records_hint(store: &Store, upto: Option<u64>) -> u64 {
    let head = store.head().map_or(0, |h| h.seq);
    head.min(upto.unwrap_or(u64::MAX))
        .min(store.size_on_disk() / 32)
}

/// The head of an empty log: seq 0 and the genesis hash.
const GENESIS_HEAD: Head = Head {
    seq: 0,
    hash: crate::record::GENESIS,
};

/// The outcome of checking the stored chain (`verify`, `replay`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verified {
    /// Every record checked: count and the hash of the last.
    Ok {
        /// Records checked.
        records: u64,
        /// Hash of the last record checked (zeros for none).
        head_hash: crate::values::Sha256Hex,
    },
    /// The first bad record and why.
    Bad {
        /// First bad seq.
        first_bad_seq: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Checks every stored record with seq ≤ `upto`: contiguous seqs from 1, each record
/// decodes, its stored seq matches its key, its hash matches its content, and each
/// `prev_hash` is the previous record's hash; at the head, the stored head entry must
/// agree. Trusts nothing but the bytes.
pub fn verify(
    store: &Store,
    upto: Option<u64>,
    progress: impl FnMut(u64),
) -> Result<Verified, StoreError> {
    verify_each(store, upto, progress, |_| {})
}

/// [`verify`], also handing each record that passed its own checks to `visit`, in seq
/// order, so that `replay` verifies and folds the log in one read. When the answer is
/// [`Verified::Bad`], whatever `visit` built must be thrown away.
pub fn verify_each(
    store: &Store,
    upto: Option<u64>,
    progress: impl FnMut(u64),
    visit: impl FnMut(&Record),
) -> Result<Verified, StoreError> {
    verify_from(store, GENESIS_HEAD, upto, progress, visit)
}

/// [`verify_each`] for the records after `from` (a record already trusted: its seq
/// and hash), as `serve` checks the tail after a snapshot: the first record checked
/// must be `from.seq + 1` and link to `from.hash`. In [`Verified::Ok`], `records` is
/// the last seq checked. When the whole log is checked (`upto` is `None`), records
/// the head witness says were acknowledged and the store lacks are the first bad
/// seq ([`Store::problem`]), and so is the seq after the last good record of a
/// store read from a rescued copy ([`Store::rescued`]): its own files are damaged.
pub fn verify_from(
    store: &Store,
    from: Head,
    upto: Option<u64>,
    progress: impl FnMut(u64),
    visit: impl FnMut(&Record),
) -> Result<Verified, StoreError> {
    let checked = check_records_and_head(store, from, upto, progress, visit)?;
    if upto.is_some() {
        return Ok(checked);
    }
    // The whole log was checked: what the head witness says was acknowledged, and
    // whether sled could read the directory's own files, decide too.
    // A problem at the first bad seq itself wins too: it says more (records that
    // were acknowledged) than "missing" or "the head disagrees".
    let first_bad = match &checked {
        Verified::Ok { .. } => u64::MAX,
        Verified::Bad { first_bad_seq, .. } => *first_bad_seq,
    };
    if let Some((seq, reason)) = store.problem().filter(|(seq, _)| *seq <= first_bad) {
        return Ok(Verified::Bad {
            first_bad_seq: seq,
            reason,
        });
    }
    match (checked, store.rescued()) {
        (Verified::Ok { records, .. }, Some(why)) => Ok(Verified::Bad {
            first_bad_seq: records + 1,
            reason: format!(
                "sled cannot open the log's own files ({why}); records 1..={records} read and verify from a copy of its data file without sled's snapshot and configuration: recover them with `sanbao export --salvage --out FILE` and `sanbao restore --from FILE`"
            ),
        }),
        (checked, _) => Ok(checked),
    }
}

/// [`verify_from`] without the witness: the records and the stored head alone.
fn check_records_and_head(
    store: &Store,
    from: Head,
    upto: Option<u64>,
    progress: impl FnMut(u64),
    visit: impl FnMut(&Record),
) -> Result<Verified, StoreError> {
    let (records, prev) = match check_records(store, from, upto, true, progress, visit)? {
        Ok(end) => end,
        Err((first_bad_seq, reason)) => {
            return Ok(Verified::Bad {
                first_bad_seq,
                reason,
            })
        }
    };
    let bad = |seq, reason: String| {
        Ok(Verified::Bad {
            first_bad_seq: seq,
            reason,
        })
    };
    let head = match store.head() {
        Ok(h) => h,
        // The records check out but the head entry does not: the first seq past the
        // good records is where `truncate --after` cuts (keeping them all).
        Err(StoreError::Damaged { reason, .. }) => {
            return bad(
                records + 1,
                format!("{reason} (records 1..={records} verify)"),
            )
        }
        Err(e) => return Err(e),
    };
    // A check up to N below the head ends at N: the stored head is compared only when
    // the whole log was checked; a prefix must simply be complete.
    if let Some(u) = upto.filter(|&u| u < head.seq) {
        if records < u {
            return bad(
                records + 1,
                format!(
                    "record {} is missing (the log's head is seq {})",
                    records + 1,
                    head.seq
                ),
            );
        }
    } else if head.seq != records || head.hash != prev {
        return bad(
            head.seq.min(records) + 1,
            format!(
                "the stored head (seq {}) disagrees with the records (last seq {records})",
                head.seq
            ),
        );
    }
    Ok(Verified::Ok {
        records,
        head_hash: prev,
    })
}

/// The first bad (or missing) seq of the log, and why.
type BadRecord = (u64, String);

/// Checks the stored records after `from` with seq ≤ `upto` (all when `None`) one by
/// one, without looking at the stored head: contiguous seqs from `from.seq + 1`, each
/// decodes, its seq matches its place, its hash its content, its `prev_hash` the
/// previous hash (`from.hash` for the first). Answers the last seq and hash checked
/// (`from` itself when there is none), or the first bad one.
fn check_records(
    store: &Store,
    from: Head,
    upto: Option<u64>,
    hash: bool,
    mut progress: impl FnMut(u64),
    mut visit: impl FnMut(&Record),
) -> Result<Result<(u64, crate::values::Sha256Hex), BadRecord>, StoreError> {
    read_ahead(store, from.seq + 1, upto, hash, |items| {
        let mut expect = from.seq + 1;
        let mut prev = from.hash;
        let bad = |seq, reason: String| Ok(Err((seq, reason)));
        for item in items {
            let (key_seq, record, computed) = match item {
                Ok(ReadRecord {
                    seq,
                    record,
                    computed,
                }) => (seq, record, computed),
                // A block that cannot be framed (or a malformed block key) is reported
                // at its first unframed seq, unless records are missing before it.
                Err(StoreError::Damaged { seq, reason }) if seq <= expect => {
                    return bad(expect, reason)
                }
                Err(StoreError::Damaged { seq, .. }) => {
                    return bad(
                        expect,
                        format!("record {expect} is missing (the next stored record is {seq})"),
                    )
                }
                Err(e) => return Err(e),
            };
            if key_seq != expect {
                return bad(
                    expect,
                    format!("record {expect} is missing (the next stored record is {key_seq})"),
                );
            }
            let r = match record {
                Ok(r) => r,
                Err(reason) => return bad(key_seq, reason),
            };
            if r.seq != key_seq {
                return bad(
                    key_seq,
                    format!("the record stored at seq {key_seq} says seq {}", r.seq),
                );
            }
            if r.prev_hash != prev {
                return bad(
                    key_seq,
                    "prev_hash does not match the previous record's hash".into(),
                );
            }
            let computed = hash.then(|| computed.expect("the reader hashes what it decodes"));
            if let Some(computed) = computed.filter(|c| *c != r.hash) {
                return bad(
                    key_seq,
                    format!(
                        "the hash does not match the content (computed {computed}, stored {})",
                        r.hash
                    ),
                );
            }
            visit(&r);
            prev = r.hash;
            expect += 1;
            if key_seq % 65_536 == 0 {
                progress(key_seq);
            }
        }
        Ok(Ok((expect - 1, prev)))
    })
}

/// Folds the whole log into a state *and* verifies it in the same read (every check
/// of [`verify`], the stored head included): what `serve` starts from, so that it
/// never serves balances from a damaged log. A damaged log is
/// [`StoreError::Damaged`], naming the first bad seq.
pub fn load_verified(store: &Store, progress: impl FnMut(u64)) -> Result<State, StoreError> {
    let mut state = State::new();
    state.reserve_records(records_hint(store, None));
    match verify_each(store, None, progress, |r| {
        state.fold(r);
    })? {
        Verified::Ok { .. } => Ok(state),
        Verified::Bad {
            first_bad_seq,
            reason,
        } => Err(StoreError::Damaged {
            seq: first_bad_seq,
            reason,
        }),
    }
}

/// The last record of the verified prefix `1..=upto`: `Ok(Head)` when records
/// `1..=upto` are all present and pass every check of [`verify`] (the stored head is
/// not consulted, so this works on a log whose head entry is damaged), else the
/// first bad (or missing) seq and why. What `truncate --after` checks before cutting.
pub fn verify_prefix(store: &Store, upto: u64) -> Result<Result<Head, (u64, String)>, StoreError> {
    match check_records(store, GENESIS_HEAD, Some(upto), true, |_| {}, |_| {})? {
        Err(bad) => Ok(Err(bad)),
        Ok((n, _)) if n < upto => Ok(Err((
            n + 1,
            format!(
                "record {} is missing (the log holds records 1..={n})",
                n + 1
            ),
        ))),
        Ok((n, hash)) => Ok(Ok(Head { seq: n, hash })),
    }
}
