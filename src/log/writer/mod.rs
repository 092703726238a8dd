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
//!
//! What lives where:
//! - this file: the public API — [`Writer`] (starting it, [`append`](Writer::append),
//!   [`submit`](Writer::submit), [`submit_in`](Writer::submit_in),
//!   [`import_records`](Writer::import_records)), [`Ack`], [`AppendError`], [`Clock`],
//!   [`Prepared`], [`Pending`], [`Chain`], [`GroupStats`], the limits and timings
//!   ([`LINGER`], [`MAX_HOLD`], [`PIPELINE_EVENTS`], …), and the jobs sent to the
//!   writer thread;
//! - `decide.rs`: deciding one group — each batch checked (idempotency, expected head,
//!   rules, or an import's continuity) and applied to the state as it comes, taken
//!   back when refused or when the group's write fails;
//! - `group_commit.rs`: the writer thread — its loop, which gathers a group (waiting
//!   at most [`LINGER`] for active callers), holds the state's write lock, and writes
//!   the group itself or hands it to the commit thread;
//! - `pipeline.rs`: the commit thread (`sanbao-commit`) and the landing of a written
//!   group — answering its jobs, or taking it (and the group decided after it) back;
//! - `tests.rs`: the tests of all of the above.

mod decide;
mod group_commit;
mod pipeline;
#[cfg(test)]
mod tests;

use super::store::Store;
use crate::event::{EventError, InputEvent};
use crate::record::{HashPrefix, Record};
use crate::state::State;
use crate::values::Sha256Hex;
use group_commit::{run, Channels, Shared};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Most events one group commit takes before it writes.
pub const MAX_GROUP_EVENTS: usize = 20_000;
/// Most events one batch may hold (SPEC §7: a larger batch is refused).
pub const MAX_BATCH_EVENTS: usize = 10_000;

/// What a dry run ([`Writer::dry_run_as`]) answers: the acks the append would get and
/// the time it would be recorded at (every hash covers it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DryRun {
    /// One ack per record the append would write (or find already written).
    pub acks: Vec<Ack>,
    /// `recorded_at` of the new records, µs since the epoch (the hashes are computed
    /// with it; a later real append is recorded later, so its hashes differ in that
    /// alone); `None` when every event is already recorded.
    pub recorded_at_us: Option<i64>,
    /// Their `prev_hash` chain starts after this head.
    pub after_seq: u64,
}

/// What an accepted (or duplicate) event is answered with.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Ack {
    /// True when the event was already recorded under its idempotency key.
    pub duplicate: bool,
    /// The record's hash.
    pub hash: Sha256Hex,
    /// The record's seq.
    pub seq: u64,
    /// Warnings about an accepted event (issue 19: `other` spending of a county on the
    /// watch list, 限制性措施). The member is written only when there is one, so every
    /// other acknowledgement stays `{"duplicate","hash","seq"}` byte for byte.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<AckWarning>,
}

/// A warning on an accepted event: the event is recorded, but a rule of oversight
/// says it should not have happened.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct AckWarning {
    /// What kind of warning: `restricted_other_spending`.
    pub code: String,
    /// The warning in English.
    pub message: String,
    /// The warning in Chinese.
    pub message_zh: String,
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
    /// An idempotency key or expected-head conflict (exit 4, HTTP 409): the message,
    /// and the same in Chinese (the CLI's `error:` line under `--lang zh`).
    #[error("{0}")]
    Conflict(String, String),
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
    recorded_by: Option<String>,
}

impl Prepared {
    /// Computes every event's hash prefix (canonical JSON and most of the SHA-256).
    pub fn new(events: Vec<InputEvent>) -> Prepared {
        let prefixes = events
            .iter()
            .map(|e| HashPrefix::new(&e.event, e.idempotency_key.as_deref()))
            .collect();
        Prepared {
            events,
            prefixes,
            recorded_by: None,
        }
    }

    /// The same batch, recorded by `user` (each record's `recorded_by`: a tokens-file
    /// user's name, or [`crate::record::LOCAL`] for the command line).
    pub fn by(mut self, user: &str) -> Prepared {
        self.recorded_by = Some(user.to_string());
        self
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

/// One call to the writer, as the writer thread takes it: a batch to append, or
/// exported records to import.
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
    /// Decided like an `Append`, answered at once, and taken back: nothing is written.
    DryRun {
        batch: Prepared,
        expect_seq: Option<u64>,
        reply: oneshot::Sender<Result<DryRun, AppendError>>,
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
            Job::Append { batch, .. } | Job::DryRun { batch, .. } => batch.len(),
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

/// The seq of the last durable record, as [`Writer::durable_seq`] reads it, from a
/// handle that does not keep the writer running.
#[derive(Clone, Debug)]
pub struct DurableSeq(Arc<std::sync::atomic::AtomicU64>);

impl DurableSeq {
    /// The seq of the last durable record now.
    pub fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// A handle to the writer thread. Cloning shares the same writer.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    state: Arc<RwLock<State>>,
    committed: broadcast::Sender<Arc<Record>>,
    callers: Arc<Callers>,
    stats: Arc<Mutex<GroupStats>>,
    durable: Arc<std::sync::atomic::AtomicU64>,
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
    /// [`COMMIT_BUCKETS_SECS`] (an upper bound in seconds each) and one more, past the last.
    pub commit_buckets: [u64; COMMIT_BUCKETS_SECS.len() + 1],
    /// Whether a failed write could not be taken back, so the writer writes nothing
    /// more until restart.
    pub stopped: bool,
}

/// Upper bounds, in seconds, of the buckets counting group commit times
/// ([`GroupStats::commit_buckets`]); from 100 µs (a tmpfs) to 1 s (a stalled disk).
pub const COMMIT_BUCKETS_SECS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

impl GroupStats {
    /// Counts one group commit that took `took`.
    fn observe_commit(&mut self, took: Duration) {
        let s = took.as_secs_f64();
        let i = COMMIT_BUCKETS_SECS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(COMMIT_BUCKETS_SECS.len());
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
        let durable = Arc::new(std::sync::atomic::AtomicU64::new(state.head_seq));
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
            durable: durable.clone(),
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
                        durable: &durable,
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

    /// The seq of the last durable record, read without the state's lock: it is
    /// stored before the group that made it durable is answered and before its
    /// records go out on [`Writer::subscribe`]'s feed, so whatever a caller was told
    /// is durable is at or below it.
    pub fn durable_seq(&self) -> u64 {
        self.durable.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A handle on [`Writer::durable_seq`] that does not keep the writer running (a
    /// `Writer` clone does, until it is dropped).
    pub fn durable_seq_handle(&self) -> DurableSeq {
        DurableSeq(self.durable.clone())
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

    /// [`Writer::append`] of a batch recorded by `user` (every record's
    /// `recorded_by`): what the service, the desk and the command line call. An
    /// `emergency_approved` is answered with two acks, its own and the
    /// `emergency_dispatched` the writer appends right after it.
    pub async fn append_as(
        &self,
        user: &str,
        batch: Vec<InputEvent>,
        expect_seq: Option<u64>,
    ) -> Result<Vec<Ack>, AppendError> {
        self.submit(Prepared::new(batch).by(user), expect_seq)
            .await?
            .wait()
            .await
    }

    /// What [`Writer::append_as`] would answer now — the same acks (seqs, hashes as
    /// recorded at this moment, duplicates), or the same refusal — with nothing
    /// written: the batch is decided against the writer's state and taken back at once.
    pub async fn dry_run_as(
        &self,
        user: &str,
        batch: Vec<InputEvent>,
        expect_seq: Option<u64>,
    ) -> Result<DryRun, AppendError> {
        let active = Active::enter(&self.callers);
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Job(Job::DryRun {
                batch: Prepared::new(batch).by(user),
                expect_seq,
                reply,
            }))
            .await
            .map_err(|_| AppendError::Closed)?;
        let answer = rx.await.map_err(|_| AppendError::Closed)?;
        drop(active);
        answer
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
