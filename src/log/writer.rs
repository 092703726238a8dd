//! The single writer: every append goes through one thread that checks, applies,
//! writes and acknowledges, in order (group commit).
//!
//! Guarantees:
//! - seqs are gap-free and each batch is checked against the state that includes every
//!   batch accepted before it (rules are serialised);
//! - all batches taken together are written as one group ([`Store::commit`]: head
//!   last, atomic across a crash) and made durable by one flush + fdatasync; nobody
//!   is answered before that returns;
//! - a rejected batch changes nothing; if the disk write fails, every batch of the
//!   group — and of any group checked after it — is taken back from the state
//!   ([`State::undo`]) and answered with an error;
//! - readers of the shared state never see records that are not yet durable: the
//!   writer holds the state's write lock from a group's first check until it is
//!   durable (including the at most [`LINGER`] it may wait for active callers' jobs,
//!   and, while groups are pipelined, across them — at most [`MAX_HOLD`] before it
//!   lets readers in);
//! - a lone caller never waits for others; a caller counted as active that sends
//!   nothing delays a group by at most [`LINGER`];
//! - batches submitted in one [`Chain`] are written in order, each only if every one
//!   before it was: once one is refused or fails, the rest are refused unwritten.
//!
//! Pipelining: a group of at least [`PIPELINE_EVENTS`] events is written by a second
//! thread (`sanbao-commit`) while this one checks the next group against the state
//! that includes it. The next group is handed over only after the one before it is
//! durable, and is taken back with it if that write fails. Smaller groups (single
//! appends) are written on the writer thread itself, where a bigger group, not an
//! overlap, is what saves time.

use super::store::{Head, Store, StoreError};

/// Answer to every append after a failed write that could not be taken back.
const POISONED: &str = "an earlier write failed and could not be taken back; restart sanbao (it drops the unacknowledged records on open)";
use crate::event::{EventError, InputEvent};
use crate::record::{HashPrefix, Record};
use crate::state::{PlanOracle, State, Undo};
use crate::values::{Month, Sha256Hex};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockWriteGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Most events one group commit takes before it writes.
pub const MAX_GROUP_EVENTS: usize = 20_000;
/// Most events one batch may hold (SPEC §7: a larger batch is refused).
pub const MAX_BATCH_EVENTS: usize = 10_000;

/// What an accepted (or duplicate) event is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Ack {
    /// True when the event was already recorded under its idempotency key.
    pub duplicate: bool,
    /// The record's hash.
    pub hash: Sha256Hex,
    /// The record's seq.
    pub seq: u64,
}

/// Why an append was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// An event breaks a rule or is malformed (exit 3, HTTP 422).
    #[error("{}{error}", index.map(|i| format!("event {i}: ")).unwrap_or_default())]
    Invalid {
        /// 0-based index of the event in its batch, when one event is to blame.
        index: Option<usize>,
        /// Field and reason.
        error: EventError,
    },
    /// An idempotency key or expected-head conflict (exit 4, HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// The disk write or flush failed; nothing was recorded (exit 1).
    #[error("{0}")]
    Storage(String),
    /// The writer has stopped.
    #[error("the writer has stopped")]
    Closed,
}

/// The wall clock used for `recorded_at`; tests supply their own.
pub trait Clock: Send + 'static {
    /// Microseconds since the Unix epoch.
    fn now_us(&mut self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_us(&mut self) -> i64 {
        chrono::Utc::now().timestamp_micros()
    }
}

/// A batch made ready for the writer: each event with its [`HashPrefix`], computed on
/// the thread that builds the batch, so that the writer (which everything passes
/// through, one at a time) only finishes each hash.
pub struct Prepared {
    events: Vec<InputEvent>,
    prefixes: Vec<HashPrefix>,
}

impl Prepared {
    /// Computes every event's hash prefix (canonical JSON and most of the SHA-256).
    pub fn new(events: Vec<InputEvent>) -> Prepared {
        let prefixes = events
            .iter()
            .map(|e| HashPrefix::new(&e.event, e.idempotency_key.as_deref()))
            .collect();
        Prepared { events, prefixes }
    }

    /// Number of events in the batch.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True for an empty batch (which the writer refuses).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// A batch handed to the writer and not yet answered ([`Writer::submit`]). The
/// caller may do other work (prepare its next batch) before it [`wait`](Pending::wait)s.
pub struct Pending {
    rx: oneshot::Receiver<Result<Vec<Ack>, AppendError>>,
    _active: Active,
}

impl Pending {
    /// Waits for the answer, which comes after the batch is durable (or refused).
    pub async fn wait(self) -> Result<Vec<Ack>, AppendError> {
        self.rx.await.map_err(|_| AppendError::Closed)?
    }
}

/// A bulk loader's batches that must be written in order, each only if every one
/// before it was ([`Writer::submit_in`]). A loader can then hand over its next batch
/// before the last one is answered — so the writer checks it while the last one is
/// written — and still never has anything written after a batch that was refused.
///
/// Once a batch of the chain is refused, or its write fails, the chain is broken:
/// every later batch submitted in it is refused unwritten.
#[derive(Clone, Default)]
pub struct Chain(Arc<AtomicBool>);

impl Chain {
    /// A new, unbroken chain.
    pub fn new() -> Chain {
        Chain::default()
    }

    /// True once a batch of the chain was refused or failed.
    pub fn is_broken(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn break_off(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The answer channel of one job.
type Reply = oneshot::Sender<Result<Vec<Ack>, AppendError>>;

enum Job {
    Append {
        batch: Prepared,
        expect_seq: Option<u64>,
        chain: Option<Chain>,
        reply: Reply,
    },
    Import {
        records: Vec<Record>,
        reply: Reply,
    },
}

/// What reaches the writer thread: a job, or word from the commit thread that a
/// pipelined group is written (its result waits in a channel of its own).
enum Msg {
    Job(Job),
    Wake,
}

impl Job {
    fn len(&self) -> usize {
        match self {
            Job::Append { batch, .. } => batch.len(),
            Job::Import { records, .. } => records.len(),
        }
    }
}

/// Longest the writer waits, before it writes a group, for callers it counts as
/// active but has no job from yet (see [`Writer::append`]).
pub const LINGER: Duration = Duration::from_micros(200);

/// Smallest group (in events) that is written on the commit thread while the writer
/// goes on to check the next one. Smaller groups are written on the writer thread.
pub const PIPELINE_EVENTS: usize = 256;

/// How many batches a bulk loader keeps with the writer in one [`Chain`]: one being
/// written while the next is checked. (More would only wait.)
pub const IMPORT_IN_FLIGHT: usize = 2;

/// Longest the writer keeps the state locked across pipelined groups: after that it
/// lets the group in flight land, with nothing else checked, so readers get in.
pub const MAX_HOLD: Duration = Duration::from_millis(20);

/// A handle to the writer thread. Cloning shares the same writer.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    state: Arc<RwLock<State>>,
    committed: broadcast::Sender<Arc<Record>>,
    callers: Arc<Callers>,
    stats: Arc<Mutex<GroupStats>>,
}

/// What the writer's group commits have done since it started: for benchmarks
/// (`sanbao-bench` reports it) and for anyone asking why appends take the time they
/// take. Updated once per group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Group commits that wrote something.
    pub groups: u64,
    /// Jobs (calls to append or import) answered, including refused ones.
    pub jobs: u64,
    /// Microseconds from the first time a group found no job waiting while callers
    /// were active to its last job ([`LINGER`]); jobs that arrive meanwhile are
    /// checked meanwhile, so this overlaps `work_us`.
    pub linger_us: u64,
    /// How often such a wait ran out before every active caller's job was in.
    pub linger_timeouts: u64,
    /// Microseconds from a group's first job to its write: deciding (idempotency,
    /// rules, applying, finishing hashes) and the waiting above.
    pub work_us: u64,
    /// Microseconds spent writing and syncing groups (on whichever thread wrote them).
    pub commit_us: u64,
    /// Groups written on the commit thread (at least [`PIPELINE_EVENTS`] events).
    pub pipelined: u64,
    /// Groups whose first job was checked while the group before them was being
    /// written: the overlap that pipelining exists for.
    pub overlapped: u64,
    /// Records made durable (and answered) by the groups since the writer started.
    pub records: u64,
    /// Groups made durable (`groups` also counts those whose write failed or was
    /// refused).
    pub landed: u64,
    /// How long each durable group's write and sync took, counted in the buckets of
    /// [`COMMIT_BUCKETS`] (an upper bound in seconds each) and one more, past the last.
    pub commit_buckets: [u64; COMMIT_BUCKETS.len() + 1],
    /// Whether a failed write could not be taken back, so the writer writes nothing
    /// more until restart.
    pub stopped: bool,
}

/// Upper bounds, in seconds, of the buckets counting group commit times
/// ([`GroupStats::commit_buckets`]); from 100 µs (a tmpfs) to 1 s (a stalled disk).
pub const COMMIT_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

impl GroupStats {
    /// Counts one group commit that took `took`.
    fn observe_commit(&mut self, took: Duration) {
        let s = took.as_secs_f64();
        let i = COMMIT_BUCKETS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(COMMIT_BUCKETS.len());
        self.commit_buckets[i] += 1;
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// How many callers are inside [`Writer::append`] / [`Writer::import_records`].
#[derive(Default)]
struct Callers {
    active: AtomicUsize,
}

/// Counts one caller as active for as long as it lives (also when the caller's
/// future is dropped half-way).
struct Active(Arc<Callers>);

impl Active {
    fn enter(c: &Arc<Callers>) -> Active {
        c.active.fetch_add(1, Ordering::SeqCst);
        Active(c.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The join handle of the writer thread; [`WriterThread::join`] waits until every
/// job already sent has been answered (after all handles are dropped).
pub struct WriterThread(std::thread::JoinHandle<Store>);

impl WriterThread {
    /// Waits for the writer to finish (once every [`Writer`] handle is dropped) and
    /// gives the store back.
    pub fn join(self) -> Store {
        self.0.join().expect("writer thread panicked")
    }
}

impl Writer {
    /// Starts the writer over `store`, whose folded state is `state`.
    pub fn start(store: Store, state: State, clock: Box<dyn Clock>) -> (Writer, WriterThread) {
        Writer::start_holding(store, state, clock, MAX_HOLD)
    }

    /// [`Writer::start`] with another bound than [`MAX_HOLD`] on how long the state
    /// stays locked across pipelined groups (tests).
    fn start_holding(
        store: Store,
        state: State,
        clock: Box<dyn Clock>,
        max_hold: Duration,
    ) -> (Writer, WriterThread) {
        let (tx, rx) = mpsc::channel(4096);
        let wake = tx.downgrade();
        let state = Arc::new(RwLock::new(state));
        let (committed, _) = broadcast::channel(16_384);
        let callers = Arc::new(Callers::default());
        let stats = Arc::new(Mutex::new(GroupStats::default()));
        let w = Writer {
            tx,
            state: state.clone(),
            committed: committed.clone(),
            callers: callers.clone(),
            stats: stats.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("sanbao-writer".into())
            .spawn(move || {
                run(
                    store,
                    &state,
                    Channels { rx, wake },
                    clock,
                    Shared {
                        committed,
                        callers: &callers,
                        stats: &stats,
                    },
                    max_hold,
                )
            })
            .expect("spawn the writer thread");
        (w, WriterThread(handle))
    }

    /// The folded state, including every durable record (and nothing else).
    pub fn state(&self) -> &Arc<RwLock<State>> {
        &self.state
    }

    /// What the group commits have done so far.
    pub fn stats(&self) -> GroupStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Live feed of committed records, in seq order, after they are durable.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Record>> {
        self.committed.subscribe()
    }

    /// Appends one batch atomically; answers after it is durable.
    ///
    /// While a call is in progress the writer counts its caller as active. Before it
    /// writes a group, the writer waits (at most [`LINGER`]) for a job from every
    /// active caller: a caller it has just answered usually sends its next job within
    /// microseconds, and taking it into this group saves it a whole durable sync of
    /// its own. With one caller, or when every active caller's job is in, nothing
    /// waits.
    ///
    /// The events' hash prefixes are computed here, on the caller's thread
    /// ([`Prepared`]).
    pub async fn append(
        &self,
        batch: Vec<InputEvent>,
        expect_seq: Option<u64>,
    ) -> Result<Vec<Ack>, AppendError> {
        self.submit(Prepared::new(batch), expect_seq)
            .await?
            .wait()
            .await
    }

    /// Hands a prepared batch to the writer and returns without waiting for the
    /// answer, so that a bulk loader can prepare its next batch meanwhile. The
    /// caller counts as active (see [`Writer::append`]) until the [`Pending`] is
    /// dropped.
    pub async fn submit(
        &self,
        batch: Prepared,
        expect_seq: Option<u64>,
    ) -> Result<Pending, AppendError> {
        self.send(batch, expect_seq, None).await
    }

    /// Like [`submit`](Writer::submit), for a batch of `chain`: it is written only if
    /// every batch submitted in the chain before it was (it is refused unwritten
    /// otherwise). A bulk loader submits its next batch before the last one is
    /// answered, and stops at the first refusal.
    pub async fn submit_in(&self, chain: &Chain, batch: Prepared) -> Result<Pending, AppendError> {
        self.send(batch, None, Some(chain.clone())).await
    }

    async fn send(
        &self,
        batch: Prepared,
        expect_seq: Option<u64>,
        chain: Option<Chain>,
    ) -> Result<Pending, AppendError> {
        let active = Active::enter(&self.callers);
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Job(Job::Append {
                batch,
                expect_seq,
                chain,
                reply,
            }))
            .await
            .map_err(|_| AppendError::Closed)?;
        Ok(Pending {
            rx,
            _active: active,
        })
    }

    /// Appends exported records as they are (import); each must continue the log.
    pub async fn import_records(&self, records: Vec<Record>) -> Result<Vec<Ack>, AppendError> {
        let _active = Active::enter(&self.callers);
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Job(Job::Import { records, reply }))
            .await
            .map_err(|_| AppendError::Closed)?;
        rx.await.map_err(|_| AppendError::Closed)?
    }
}

/// The plan check for `plan_issued`: recomputes the plan at `based_on_seq`, from the
/// live state when that is the head, else from a state folded from the log: the
/// store up to its durable head `durable`, then the group in flight, then this group.
struct WriterOracle<'a> {
    store: &'a Store,
    durable: u64,
    in_flight: Option<&'a InFlight>,
    pending: &'a [Record],
}

impl PlanOracle for WriterOracle<'_> {
    fn plan_sha256(
        &mut self,
        state: &State,
        month: Month,
        based_on_seq: u64,
    ) -> Result<Sha256Hex, String> {
        if based_on_seq == state.head_seq {
            return crate::query::plan_sha256(state, month);
        }
        let mut past = State::new();
        // The store may already hold part of the group in flight (not yet its
        // head): read it only up to the durable head, the rest from memory.
        let stored = self
            .store
            .records(1, based_on_seq.min(self.durable))
            .map(|r| r.map_err(|e| e.to_string()));
        let in_flight = self.in_flight.map_or(&[][..], |f| &f.records[..]);
        let pending = in_flight
            .iter()
            .chain(self.pending)
            .filter(|r| r.seq > self.durable && r.seq <= based_on_seq)
            .cloned()
            .map(Ok);
        for r in stored.chain(pending) {
            past.fold(&r?);
        }
        crate::query::plan_sha256(&past, month)
    }
}

enum Outcome {
    Accepted { acks: Vec<Ack>, undos: Vec<Undo> },
    Duplicate { acks: Vec<Ack>, needs_commit: bool },
    Refused(AppendError),
}

fn storage(e: StoreError) -> AppendError {
    AppendError::Storage(e.to_string())
}

/// The records of a group handed to the commit thread, as the writer still needs
/// them until that group lands (idempotency keys, plan checks).
struct InFlight {
    records: Vec<Record>,
    keys: HashMap<String, usize>,
    /// The head before the group: the store's durable head while it is written.
    start: Head,
}

/// One group being decided: its batches are checked and applied to the state as
/// they come; its records wait in `pending` to be written.
struct Group<'a> {
    store: &'a Store,
    state: &'a mut State,
    clock: &'a mut dyn Clock,
    /// The group being written meanwhile, if any (pipelining).
    in_flight: Option<Arc<InFlight>>,
    /// The head before this group.
    start: Head,
    pending: Vec<Record>,
    pending_keys: HashMap<String, usize>,
}

impl<'a> Group<'a> {
    fn new(
        store: &'a Store,
        state: &'a mut State,
        clock: &'a mut dyn Clock,
        in_flight: Option<Arc<InFlight>>,
    ) -> Group<'a> {
        let start = Head {
            seq: state.head_seq,
            hash: state.head_hash,
        };
        Group {
            store,
            state,
            clock,
            in_flight,
            start,
            pending: Vec::new(),
            pending_keys: HashMap::new(),
        }
    }

    /// The seq up to which the store's records are durable while this group is
    /// decided.
    fn durable(&self) -> u64 {
        self.in_flight
            .as_ref()
            .map_or(self.start.seq, |f| f.start.seq)
    }
}

impl Group<'_> {
    /// The record an idempotency key was used for — pending here or in flight (true),
    /// or stored (false).
    fn keyed(&self, key: &str) -> Result<Option<(Record, bool)>, AppendError> {
        if let Some(&i) = self.pending_keys.get(key) {
            return Ok(Some((self.pending[i].clone(), true)));
        }
        if let Some(f) = &self.in_flight {
            if let Some(&i) = f.keys.get(key) {
                return Ok(Some((f.records[i].clone(), true)));
            }
        }
        match self.store.idempotency_seq(key).map_err(storage)? {
            None => Ok(None),
            Some(seq) => match self.store.get(seq).map_err(storage)? {
                Some(r) => Ok(Some((r, false))),
                None => Err(AppendError::Storage(format!(
                    "idempotency key {key:?} points at missing record {seq}"
                ))),
            },
        }
    }

    fn push(&mut self, r: Record, undos: &mut Vec<Undo>) {
        undos.push(self.state.apply(&r));
        if let Some(k) = &r.idempotency_key {
            self.pending_keys.insert(k.clone(), self.pending.len());
        }
        self.pending.push(r);
    }

    fn rollback(&mut self, undos: Vec<Undo>) {
        for u in undos.into_iter().rev() {
            let r = self.pending.pop().expect("a pending record per undo");
            if let Some(k) = &r.idempotency_key {
                self.pending_keys.remove(k);
            }
            self.state.undo(u, &r);
        }
    }

    fn append(&mut self, batch: Prepared, expect_seq: Option<u64>) -> Outcome {
        let Prepared {
            events: batch,
            prefixes,
        } = batch;
        if batch.is_empty() {
            return Outcome::Refused(AppendError::Invalid {
                index: None,
                error: EventError::whole("the batch is empty"),
            });
        }
        if batch.len() > MAX_BATCH_EVENTS {
            return Outcome::Refused(AppendError::Invalid {
                index: None,
                error: EventError::whole(format!(
                    "a batch holds at most {MAX_BATCH_EVENTS} events"
                )),
            });
        }
        let mut seen = HashMap::new();
        for (i, e) in batch.iter().enumerate() {
            if let Some(k) = &e.idempotency_key {
                if let Some(first) = seen.insert(k.as_str(), i) {
                    return Outcome::Refused(AppendError::Invalid {
                        index: Some(i),
                        error: EventError::field(
                            "idempotency_key",
                            format!("{k:?} is also used by event {first} of this batch"),
                        ),
                    });
                }
            }
        }
        // Idempotency is judged before the expected head (SPEC §8.11).
        let mut dups = Vec::new();
        let mut needs_commit = false;
        for (i, e) in batch.iter().enumerate() {
            let Some(k) = &e.idempotency_key else {
                continue;
            };
            match self.keyed(k) {
                Err(err) => return Outcome::Refused(err),
                Ok(None) => {}
                Ok(Some((r, pending))) => {
                    if r.event != e.event {
                        return Outcome::Refused(AppendError::Conflict(format!(
                            "event {i}: idempotency key {k:?} was already used for a different event (seq {})",
                            r.seq
                        )));
                    }
                    needs_commit |= pending;
                    dups.push(Ack {
                        duplicate: true,
                        hash: r.hash,
                        seq: r.seq,
                    });
                }
            }
        }
        if !dups.is_empty() {
            if dups.len() == batch.len() {
                return Outcome::Duplicate {
                    acks: dups,
                    needs_commit,
                };
            }
            return Outcome::Refused(AppendError::Conflict(
                "the batch mixes events already recorded (same idempotency keys) with new ones: resend only the new events".into(),
            ));
        }
        if let Some(n) = expect_seq {
            if n != self.state.head_seq {
                return Outcome::Refused(AppendError::Conflict(format!(
                    "expected the log's head at seq {n}, but it is at seq {}",
                    self.state.head_seq
                )));
            }
        }
        let mut undos = Vec::with_capacity(batch.len());
        let mut acks = Vec::with_capacity(batch.len());
        // One reading of the clock for the batch: it is recorded at one moment.
        let now = self.clock.now_us();
        for (i, (e, prefix)) in batch.into_iter().zip(prefixes).enumerate() {
            let mut oracle = WriterOracle {
                store: self.store,
                durable: self.durable(),
                in_flight: self.in_flight.as_deref(),
                pending: &self.pending,
            };
            if let Err(error) = self.state.check(&e.event, &mut oracle) {
                self.rollback(undos);
                return Outcome::Refused(AppendError::Invalid {
                    index: Some(i),
                    error,
                });
            }
            let at = now.max(self.state.last_recorded_at_us);
            let r = Record::with_prefix(
                self.state.head_seq + 1,
                at,
                e.idempotency_key,
                self.state.head_hash,
                e.event,
                prefix,
            );
            acks.push(Ack {
                duplicate: false,
                hash: r.hash,
                seq: r.seq,
            });
            self.push(r, &mut undos);
        }
        Outcome::Accepted { acks, undos }
    }

    fn import(&mut self, records: Vec<Record>) -> Outcome {
        let mut undos = Vec::with_capacity(records.len());
        let mut acks = Vec::with_capacity(records.len());
        for (i, r) in records.into_iter().enumerate() {
            let fail = |g: &mut Self, undos, field: &str, reason: String| {
                g.rollback(undos);
                Outcome::Refused(AppendError::Invalid {
                    index: Some(i),
                    error: EventError::field(field, reason),
                })
            };
            if r.seq != self.state.head_seq + 1 {
                let why = format!(
                    "record {} does not continue the log, whose head is seq {}",
                    r.seq, self.state.head_seq
                );
                return fail(self, undos, "seq", why);
            }
            if r.prev_hash != self.state.head_hash {
                let why = format!(
                    "does not match the hash of record {} ({})",
                    self.state.head_seq, self.state.head_hash
                );
                return fail(self, undos, "prev_hash", why);
            }
            if r.recorded_at_us < self.state.last_recorded_at_us {
                return fail(
                    self,
                    undos,
                    "recorded_at",
                    "is earlier than the previous record's".into(),
                );
            }
            if let Some(k) = &r.idempotency_key {
                match self.keyed(k) {
                    Err(e) => {
                        self.rollback(undos);
                        return Outcome::Refused(e);
                    }
                    Ok(Some((prev, _))) => {
                        let why = format!("{k:?} is already used by record {}", prev.seq);
                        return fail(self, undos, "idempotency_key", why);
                    }
                    Ok(None) => {}
                }
            }
            let mut oracle = WriterOracle {
                store: self.store,
                durable: self.durable(),
                in_flight: self.in_flight.as_deref(),
                pending: &self.pending,
            };
            if let Err(error) = self.state.check(&r.event, &mut oracle) {
                self.rollback(undos);
                let error = EventError {
                    field: Some(format!("event.{}", error.field.unwrap_or_default())),
                    reason: error.reason,
                };
                return Outcome::Refused(AppendError::Invalid {
                    index: Some(i),
                    error,
                });
            }
            acks.push(Ack {
                duplicate: false,
                hash: r.hash,
                seq: r.seq,
            });
            self.push(r, &mut undos);
        }
        Outcome::Accepted { acks, undos }
    }
}

/// A decided job, waiting for its group to be written.
struct Decided {
    reply: Reply,
    outcome: Outcome,
    chain: Option<Chain>,
}

impl Decided {
    /// Answers the caller: with `failure` (the group's write failed) unless the job
    /// was refused anyway or is a duplicate of a record written before. An error
    /// breaks the job's chain.
    fn answer(self, failure: Option<&str>) {
        let answer = match (self.outcome, failure) {
            (Outcome::Refused(e), _) => Err(e),
            (Outcome::Accepted { .. }, Some(e))
            | (
                Outcome::Duplicate {
                    needs_commit: true, ..
                },
                Some(e),
            ) => Err(AppendError::Storage(format!("nothing was recorded: {e}"))),
            (Outcome::Accepted { acks, .. }, None) | (Outcome::Duplicate { acks, .. }, _) => {
                Ok(acks)
            }
        };
        if let (Err(_), Some(c)) = (&answer, &self.chain) {
            c.break_off();
        }
        let _ = self.reply.send(answer);
    }
}

/// Takes every accepted batch of `decided` back out of the state, newest first;
/// `records` are their records, in the same order.
fn take_back(state: &mut State, decided: &mut [Decided], records: &[Record]) {
    let mut records = records.iter().rev();
    for d in decided.iter_mut().rev() {
        if let Outcome::Accepted { undos, .. } = &mut d.outcome {
            for u in std::mem::take(undos).into_iter().rev() {
                state.undo(u, records.next().expect("a pending record per undo"));
            }
        }
    }
}

/// A group on the commit thread, with its jobs waiting for the result.
struct Flight {
    group: Arc<InFlight>,
    decided: Vec<Decided>,
}

/// How a group's write went.
struct Done {
    /// Why it failed, and whether it was taken back out of the store.
    failure: Option<(String, bool)>,
    took: Duration,
}

impl Done {
    fn of(result: Result<(), super::store::CommitError>, took: Duration) -> Done {
        Done {
            failure: result.err().map(|e| (e.error.to_string(), e.consistent)),
            took,
        }
    }
}

/// The writer thread's ends of its channels: jobs (and wake-ups) in, and a weak
/// sender for the commit thread's wake-ups (weak, so that the writer still stops
/// once every [`Writer`] is dropped).
struct Channels {
    rx: mpsc::Receiver<Msg>,
    wake: mpsc::WeakSender<Msg>,
}

/// Where a group in flight lands: on the state alone, or under a group being decided
/// after it (which a failed write takes back too).
enum Landing<'g, 'a> {
    Alone(&'g mut State),
    Under(&'g mut Group<'a>, &'g mut Vec<Decided>),
}

/// The writer thread's own state.
struct Run<'a> {
    store: &'a Store,
    committed: broadcast::Sender<Arc<Record>>,
    callers: &'a Callers,
    shared_stats: &'a Mutex<GroupStats>,
    /// [`MAX_HOLD`], but for tests.
    max_hold: Duration,
    to_commit: std::sync::mpsc::Sender<Arc<InFlight>>,
    done: std::sync::mpsc::Receiver<Done>,
    flight: Option<Flight>,
    poisoned: bool,
    stats: GroupStats,
}

/// What the writer thread shares with the [`Writer`] handles.
struct Shared<'a> {
    committed: broadcast::Sender<Arc<Record>>,
    callers: &'a Callers,
    stats: &'a Mutex<GroupStats>,
}

fn run(
    store: Store,
    state: &RwLock<State>,
    channels: Channels,
    mut clock: Box<dyn Clock>,
    shared: Shared<'_>,
    max_hold: Duration,
) -> Store {
    let Channels { mut rx, wake } = channels;
    std::thread::scope(|scope| {
        let (to_commit, work) = std::sync::mpsc::channel::<Arc<InFlight>>();
        let (done_tx, done) = std::sync::mpsc::channel();
        let store = &store;
        std::thread::Builder::new()
            .name("sanbao-commit".into())
            .spawn_scoped(scope, move || {
                for group in work {
                    let t = Instant::now();
                    let done = Done::of(store.commit(&group.records, group.start), t.elapsed());
                    drop(group);
                    if done_tx.send(done).is_err() {
                        break;
                    }
                    // Wakes a writer waiting for a job; one that is busy finds the
                    // result by itself (and with a full channel it is busy).
                    if let Some(tx) = wake.upgrade() {
                        let _ = tx.try_send(Msg::Wake);
                    }
                }
            })
            .expect("spawn the commit thread");
        let mut w = Run {
            store,
            committed: shared.committed,
            callers: shared.callers,
            shared_stats: shared.stats,
            max_hold,
            to_commit,
            done,
            flight: None,
            poisoned: false,
            stats: GroupStats::default(),
        };
        w.serve(state, &mut rx, clock.as_mut());
        // Dropping `w` closes the commit thread's channel; the scope joins it.
    });
    store
}

impl Run<'_> {
    /// Takes jobs until every [`Writer`] is dropped and every job is answered.
    fn serve(
        &mut self,
        state: &RwLock<State>,
        rx: &mut mpsc::Receiver<Msg>,
        clock: &mut dyn Clock,
    ) {
        // Held while a group is decided or written (readers never see what is not
        // durable), and since when.
        let mut held: Option<(RwLockWriteGuard<'_, State>, Instant)> = None;
        loop {
            let first = match rx.blocking_recv() {
                Some(Msg::Job(job)) => job,
                Some(Msg::Wake) => {
                    if let Some((st, _)) = &mut held {
                        if let Ok(done) = self.done.try_recv() {
                            self.land(done, Landing::Alone(st));
                        }
                    }
                    if self.flight.is_none() {
                        held = None;
                    }
                    continue;
                }
                None => {
                    if let Some((st, _)) = &mut held {
                        self.land_now(Landing::Alone(st));
                    }
                    break;
                }
            };
            let (st, since) = held.get_or_insert_with(|| {
                let st = state.write().unwrap_or_else(|p| p.into_inner());
                (st, Instant::now())
            });
            self.group(st, first, rx, clock);
            if self.flight.is_some() && since.elapsed() >= self.max_hold {
                // Let the group in flight land with nothing checked after it, so that
                // the lock can be released for readers.
                self.land_now(Landing::Alone(st));
                held = None;
                std::thread::yield_now();
            } else if self.flight.is_none() {
                held = None;
            }
        }
    }

    /// Waits for the group in flight, if any, and lands it.
    fn land_now(&mut self, at: Landing<'_, '_>) {
        if self.flight.is_some() {
            let done = self
                .done
                .recv()
                .expect("the commit thread answers every group");
            self.land(done, at);
        }
    }

    /// Lands the group in flight with its result: answers its jobs, or takes it
    /// back. A failed write also takes back the group being decided after it
    /// (`building`, checked against a state that included it); that group then
    /// starts over, empty.
    fn land(&mut self, done: Done, at: Landing<'_, '_>) {
        let Flight { group, mut decided } = self.flight.take().expect("a group in flight");
        self.stats.commit_us += micros(done.took);
        let failure = done.failure.map(|(e, consistent)| {
            self.poisoned |= !consistent;
            e
        });
        self.stats.stopped = self.poisoned;
        match &failure {
            None => {
                self.stats.records += group.records.len() as u64;
                self.stats.landed += 1;
                self.stats.observe_commit(done.took);
                self.publish();
                tracing::debug!(records = group.records.len(), "group committed");
                // Safe to skip with no subscriber: a stream subscribes *before* it
                // reads the store up to the durable head (server/sse.rs), and this
                // group's head is durable now, so one that subscribes after this look
                // reads the group from the store.
                if self.committed.receiver_count() > 0 {
                    let records = Arc::try_unwrap(group)
                        .map(|f| f.records)
                        .unwrap_or_else(|f| f.records.clone());
                    for r in records {
                        let _ = self.committed.send(Arc::new(r));
                    }
                }
            }
            Some(e) => {
                tracing::error!(error = %e, records = group.records.len(), "group commit failed; taking the group back");
                let (st, later) = match at {
                    Landing::Alone(st) => (st, Vec::new()),
                    Landing::Under(g, building) => {
                        take_back(g.state, building, &g.pending);
                        g.pending.clear();
                        g.pending_keys.clear();
                        g.in_flight = None;
                        g.start = group.start;
                        (&mut *g.state, std::mem::take(building))
                    }
                };
                take_back(st, &mut decided, &group.records);
                self.publish();
                let why = format!("the group before it could not be written: {e}");
                for d in decided {
                    d.answer(Some(e));
                }
                for d in later {
                    d.answer(Some(&why));
                }
                return;
            }
        }
        for d in decided {
            d.answer(None);
        }
    }

    /// Publishes the stats; before anyone is answered, so that an answered caller
    /// sees its group counted.
    fn publish(&self) {
        *self.shared_stats.lock().unwrap_or_else(|p| p.into_inner()) = self.stats;
    }

    /// Decides one group, starting with `first`, and writes it — here, or on the
    /// commit thread if it is big enough, leaving it in flight.
    fn group(
        &mut self,
        st: &mut State,
        first: Job,
        rx: &mut mpsc::Receiver<Msg>,
        clock: &mut dyn Clock,
    ) {
        let t0 = Instant::now();
        let mut waited = Duration::ZERO;
        if self.flight.is_some() {
            self.stats.overlapped += 1;
        }
        let in_flight = self.flight.as_ref().map(|f| f.group.clone());
        let mut g = Group::new(self.store, st, clock, in_flight);
        let mut decided: Vec<Decided> = Vec::new();
        let mut events = 0;
        // Take every job that is waiting, checking each as it comes. While a group
        // is in flight, wait for more jobs until it lands. Otherwise, while some
        // active caller has no job in yet (one answered a moment ago is about to send
        // its next), keep looking for a little while — unless the group is big
        // enough to be written while the next one is checked.
        let mut deadline = None;
        let mut next = Some(first);
        loop {
            if let Some(job) = next.take() {
                events += job.len();
                decided.push(decide(&mut g, job));
                if events >= MAX_GROUP_EVENTS {
                    break;
                }
            }
            if self.flight.is_some() {
                if let Ok(done) = self.done.try_recv() {
                    self.land(done, Landing::Under(&mut g, &mut decided));
                    events = g.pending.len();
                }
            }
            if self.flight.is_none() && events >= PIPELINE_EVENTS {
                break;
            }
            match rx.try_recv() {
                Ok(Msg::Job(j)) => next = Some(j),
                Ok(Msg::Wake) => {}
                Err(TryRecvError::Empty) if self.flight.is_some() => {
                    let w = Instant::now();
                    match rx.blocking_recv() {
                        Some(Msg::Job(j)) => next = Some(j),
                        Some(Msg::Wake) => {}
                        None => self.land_now(Landing::Under(&mut g, &mut decided)),
                    }
                    waited += w.elapsed();
                }
                Err(TryRecvError::Empty)
                    if decided.len() < self.callers.active.load(Ordering::SeqCst) =>
                {
                    // Yield rather than sleep: the callers need the CPU to come
                    // back, and a wake-up per caller cost more than the wait
                    // itself (measured, BENCHMARKS.md).
                    let end = *deadline.get_or_insert_with(|| Instant::now() + LINGER);
                    if Instant::now() >= end {
                        self.stats.linger_timeouts += 1;
                        break;
                    }
                    std::thread::yield_now();
                }
                Err(_) => break,
            }
        }
        if let Some(end) = deadline {
            self.stats.linger_us += micros(Instant::now() + LINGER - end);
        }
        // The group before this one must be durable before this one is written.
        let w = Instant::now();
        self.land_now(Landing::Under(&mut g, &mut decided));
        waited += w.elapsed();
        self.stats.jobs += decided.len() as u64;
        self.stats.work_us += micros(t0.elapsed().saturating_sub(waited));
        let span = tracing::debug_span!("group_commit", jobs = decided.len(), events);
        let _guard = span.enter();
        let records = std::mem::take(&mut g.pending);
        let keys = std::mem::take(&mut g.pending_keys);
        let start = g.start;
        drop(g);
        if records.is_empty() {
            self.publish();
            for d in decided {
                d.answer(None);
            }
            return;
        }
        self.stats.groups += 1;
        let group = Arc::new(InFlight {
            records,
            keys,
            start,
        });
        // Written here (answered at once), or on the commit thread (left in flight).
        let done = if self.poisoned {
            // An earlier failed write could not be taken back: write nothing more.
            Some(Done {
                failure: Some((POISONED.into(), true)),
                took: Duration::ZERO,
            })
        } else if group.records.len() >= PIPELINE_EVENTS {
            self.stats.pipelined += 1;
            self.to_commit
                .send(group.clone())
                .expect("the commit thread runs as long as the writer");
            None
        } else {
            let t = Instant::now();
            Some(Done::of(
                self.store.commit(&group.records, group.start),
                t.elapsed(),
            ))
        };
        self.flight = Some(Flight { group, decided });
        if let Some(done) = done {
            self.land(done, Landing::Alone(st));
        }
    }
}

/// Decides one job against the group's state: a batch of a broken [`Chain`] is
/// refused unchecked, and a refused batch breaks its chain at once (before any later
/// job is looked at).
fn decide(g: &mut Group<'_>, job: Job) -> Decided {
    let (reply, outcome, chain) = match job {
        Job::Append {
            batch,
            expect_seq,
            chain,
            reply,
        } => {
            let outcome = match &chain {
                Some(c) if c.is_broken() => Outcome::Refused(AppendError::Conflict(
                    "not written: an earlier batch of the same import was refused or failed".into(),
                )),
                _ => g.append(batch, expect_seq),
            };
            (reply, outcome, chain)
        }
        Job::Import { records, reply } => (reply, g.import(records), None),
    };
    if let (Outcome::Refused(_), Some(c)) = (&outcome, &chain) {
        c.break_off();
    }
    Decided {
        reply,
        outcome,
        chain,
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registration(county: &str) -> InputEvent {
        crate::event::Event::parse_object(json!({"kind":"county_registered","county":county,
            "name":county,"registered_on":"2021-01-01","opening_treasury":"100"}))
        .unwrap()
    }

    fn start(dir: &std::path::Path) -> (Writer, WriterThread, tokio::runtime::Runtime) {
        start_over(Store::open(dir).unwrap())
    }

    /// A writer over `store` (an empty log) and a runtime to call it from.
    fn start_over(store: Store) -> (Writer, WriterThread, tokio::runtime::Runtime) {
        let (w, t) = Writer::start(store, State::new(), Box::new(SystemClock));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (w, t, rt)
    }

    #[test]
    fn a_lone_caller_never_waits_for_others() {
        let tmp = tempfile::tempdir().unwrap();
        let (w, t, rt) = start(tmp.path());
        for i in 0..20 {
            let acks = rt
                .block_on(w.append(vec![registration(&format!("c{i}"))], None))
                .unwrap();
            assert_eq!(acks[0].seq, i + 1);
        }
        let s = w.stats();
        assert_eq!((s.groups, s.jobs), (20, 20));
        assert_eq!((s.linger_us, s.linger_timeouts), (0, 0));
        drop(w);
        t.join();
    }

    #[test]
    fn a_group_waits_out_the_linger_for_an_active_caller_that_sends_nothing_then_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let (w, t, rt) = start(tmp.path());
        // Counted as active, but never sends a job.
        let silent = Active::enter(&w.callers);
        for i in 0..3 {
            rt.block_on(w.append(vec![registration(&format!("c{i}"))], None))
                .unwrap();
        }
        let s = w.stats();
        assert_eq!(s.groups, 3);
        assert_eq!(
            s.linger_timeouts, 3,
            "each group waited for the silent caller"
        );
        assert!(s.linger_us >= 3 * LINGER.as_micros() as u64, "{s:?}");
        drop(silent);
        rt.block_on(w.append(vec![registration("c3")], None))
            .unwrap();
        assert_eq!(w.stats().linger_timeouts, 3, "no wait once it has left");
        drop(w);
        t.join();
    }

    #[test]
    fn a_submitted_batch_is_answered_after_its_caller_did_other_work() {
        let tmp = tempfile::tempdir().unwrap();
        let (w, t, rt) = start(tmp.path());
        let first = rt
            .block_on(w.submit(Prepared::new(vec![registration("a")]), None))
            .unwrap();
        // Meanwhile: prepare the next batch, as `sanbao import` does.
        let next = Prepared::new(vec![registration("b"), registration("c")]);
        assert_eq!(next.len(), 2);
        let a = rt.block_on(first.wait()).unwrap();
        let b = rt
            .block_on(async { w.submit(next, Some(1)).await?.wait().await })
            .unwrap();
        assert_eq!(a[0].seq, 1);
        assert_eq!(b.iter().map(|a| a.seq).collect::<Vec<_>>(), [2, 3]);
        // The hashes the writer finished from callers' prefixes are the records' own.
        drop(w);
        let store = t.join();
        let stored: Vec<Record> = store.records(1, 3).map(|r| r.unwrap()).collect();
        for (r, ack) in stored.iter().zip(a.iter().chain(&b)) {
            assert_eq!(r.hash, r.compute_hash());
            assert_eq!(r.hash, ack.hash);
        }
    }

    /// `n` registrations of counties `{prefix}0`, `{prefix}1`, …, prepared.
    fn registrations(prefix: &str, n: usize) -> Prepared {
        Prepared::new(
            (0..n)
                .map(|i| registration(&format!("{prefix}{i}")))
                .collect(),
        )
    }

    /// Submits `batches` in `chain` while holding the state's read lock, so that the
    /// writer (which needs the write lock to decide) has every one of them queued
    /// before it decides the first.
    fn submit_all(
        w: &Writer,
        rt: &tokio::runtime::Runtime,
        chain: &Chain,
        batches: Vec<Prepared>,
    ) -> Vec<Pending> {
        let held = w.state().read().unwrap();
        let pending = batches
            .into_iter()
            .map(|b| rt.block_on(w.submit_in(chain, b)).unwrap())
            .collect();
        drop(held);
        pending
    }

    #[test]
    fn a_big_group_is_written_on_the_commit_thread_while_the_next_is_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let (w, t, rt) = start(tmp.path());
        let chain = Chain::new();
        let n = PIPELINE_EVENTS;
        let batches = vec![registrations("a", n), registrations("b", n)];
        let acks: Vec<Vec<Ack>> = submit_all(&w, &rt, &chain, batches)
            .into_iter()
            .map(|p| rt.block_on(p.wait()).unwrap())
            .collect();
        let s = w.stats();
        assert_eq!((s.groups, s.pipelined), (2, 2), "{s:?}");
        assert_eq!(
            s.overlapped, 1,
            "the second was checked while the first was written"
        );
        // A lone later batch has nothing to overlap with.
        let c = rt
            .block_on(async {
                w.submit_in(&chain, registrations("c", n))
                    .await?
                    .wait()
                    .await
            })
            .unwrap();
        assert_eq!(w.stats().overlapped, 1);
        let seqs: Vec<u64> = acks.iter().flatten().chain(&c).map(|a| a.seq).collect();
        assert_eq!(seqs, (1..=3 * n as u64).collect::<Vec<_>>());
        assert!(!chain.is_broken());
        drop(w);
        let store = t.join();
        assert_eq!(store.head().unwrap().seq, 3 * n as u64);
        let stored: Vec<Record> = store.records(1, 3 * n as u64).map(|r| r.unwrap()).collect();
        for (r, a) in stored.iter().zip(acks.iter().flatten().chain(&c)) {
            assert_eq!((r.seq, r.hash), (a.seq, a.hash));
            assert_eq!(r.hash, r.compute_hash());
        }
    }

    #[test]
    fn past_its_hold_the_writer_lets_a_pipelined_group_land_alone_and_unlocks() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        // No hold at all: after handing a group over, the writer waits for it, with
        // nothing checked after it, and releases the state before the next.
        let (w, t) =
            Writer::start_holding(store, State::new(), Box::new(SystemClock), Duration::ZERO);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let chain = Chain::new();
        let n = PIPELINE_EVENTS;
        let batches = vec![registrations("a", n), registrations("b", n)];
        for p in submit_all(&w, &rt, &chain, batches) {
            rt.block_on(p.wait()).unwrap();
        }
        let s = w.stats();
        assert_eq!((s.groups, s.pipelined), (2, 2), "{s:?}");
        assert_eq!(s.overlapped, 0, "the second waited for the first to land");
        drop(w);
        assert_eq!(t.join().head().unwrap().seq, 2 * n as u64);
    }

    #[test]
    fn a_refused_batch_breaks_its_chain_and_nothing_after_it_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let (w, t, rt) = start(tmp.path());
        let chain = Chain::new();
        let n = PIPELINE_EVENTS;
        // The second registers a0 again: refused by the rules. The third is valid, and
        // queued before the second is refused.
        let batches = vec![
            registrations("a", n),
            registrations("a", 1),
            registrations("c", n),
        ];
        let answers: Vec<_> = submit_all(&w, &rt, &chain, batches)
            .into_iter()
            .map(|p| rt.block_on(p.wait()))
            .collect();
        assert_eq!(answers[0].as_ref().unwrap().len(), n);
        assert!(
            matches!(answers[1], Err(AppendError::Invalid { index: Some(0), .. })),
            "{:?}",
            answers[1]
        );
        assert!(
            matches!(&answers[2], Err(AppendError::Conflict(m)) if m.contains("not written")),
            "{:?}",
            answers[2]
        );
        assert!(chain.is_broken());
        // Still refused later; a batch outside the chain is written.
        let later = rt.block_on(async {
            w.submit_in(&chain, registrations("d", 1))
                .await?
                .wait()
                .await
        });
        assert!(matches!(later, Err(AppendError::Conflict(_))));
        let other = rt
            .block_on(w.append(vec![registration("e0")], None))
            .unwrap();
        assert_eq!(other[0].seq, n as u64 + 1);
        drop(w);
        assert_eq!(t.join().head().unwrap().seq, n as u64 + 1);
    }

    #[test]
    fn a_failed_pipelined_write_takes_back_the_group_checked_after_it() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        store.faults().fail_write.store(1, Ordering::SeqCst);
        let (w, t, rt) = start_over(store);
        let chain = Chain::new();
        let n = PIPELINE_EVENTS;
        let batches = vec![registrations("a", n), registrations("b", n)];
        let answers: Vec<_> = submit_all(&w, &rt, &chain, batches)
            .into_iter()
            .map(|p| rt.block_on(p.wait()))
            .collect();
        assert!(
            matches!(&answers[0], Err(AppendError::Storage(m)) if m.contains("injected write failure")),
            "{:?}",
            answers[0]
        );
        assert!(
            matches!(&answers[1], Err(AppendError::Storage(m)) if m.contains("the group before it could not be written")),
            "{:?}",
            answers[1]
        );
        let s = w.stats();
        assert_eq!((s.pipelined, s.overlapped), (1, 1), "{s:?}");
        assert!(chain.is_broken());
        {
            let st = w.state().read().unwrap();
            assert_eq!(st.head_seq, 0, "both groups were taken back from the state");
        }
        // The same counties register fine afterwards, from seq 1.
        let again = rt
            .block_on(w.append(vec![registration("a0"), registration("b0")], None))
            .unwrap();
        assert_eq!(again.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2]);
        drop(w);
        let store = t.join();
        assert_eq!(store.head().unwrap().seq, 2);
        assert_eq!(store.records(1, u64::MAX).count(), 2);
    }
}
