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
//!   group is taken back from the state ([`State::undo`]) and answered with an error;
//! - readers of the shared state never see records that are not yet durable (the
//!   writer holds the state's write lock from the first check to the sync — including
//!   the at most [`LINGER`] it may wait for active callers' jobs);
//! - a lone caller never waits for others; a caller counted as active that sends
//!   nothing delays a group by at most [`LINGER`].

use super::store::{Head, Store, StoreError};

/// Answer to every append after a failed write that could not be taken back.
const POISONED: &str = "an earlier write failed and could not be taken back; restart sanbao (it drops the unacknowledged records on open)";
use crate::event::{EventError, InputEvent};
use crate::record::{HashPrefix, Record};
use crate::state::{PlanOracle, State, Undo};
use crate::values::{Month, Sha256Hex};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Most events one group commit takes before it writes.
pub const MAX_GROUP_EVENTS: usize = 20_000;
/// Most events one batch may hold (SPEC §7: a larger batch is refused).
pub const MAX_BATCH_EVENTS: usize = 10_000;

/// What an accepted (or duplicate) event is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
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

enum Job {
    Append {
        batch: Prepared,
        expect_seq: Option<u64>,
        reply: oneshot::Sender<Result<Vec<Ack>, AppendError>>,
    },
    Import {
        records: Vec<Record>,
        reply: oneshot::Sender<Result<Vec<Ack>, AppendError>>,
    },
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

/// A handle to the writer thread. Cloning shares the same writer.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
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
    /// Microseconds spent writing and syncing groups.
    pub commit_us: u64,
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
        let (tx, rx) = mpsc::channel(4096);
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
            .spawn(move || run(store, state, rx, clock, committed, &callers, &stats))
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
        let active = Active::enter(&self.callers);
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Append {
                batch,
                expect_seq,
                reply,
            })
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
            .send(Job::Import { records, reply })
            .await
            .map_err(|_| AppendError::Closed)?;
        rx.await.map_err(|_| AppendError::Closed)?
    }
}

/// The plan check for `plan_issued`: recomputes the plan at `based_on_seq`, from the
/// live state when that is the head, else from a state folded from the log.
struct WriterOracle<'a> {
    store: &'a Store,
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
        let stored = self
            .store
            .records(1, based_on_seq)
            .map(|r| r.map_err(|e| e.to_string()));
        let pending = self
            .pending
            .iter()
            .filter(|r| r.seq <= based_on_seq)
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

struct Group<'a> {
    store: &'a Store,
    state: &'a mut State,
    clock: &'a mut dyn Clock,
    pending: Vec<Record>,
    pending_keys: HashMap<String, usize>,
}

impl Group<'_> {
    /// The record an idempotency key was used for, pending or stored.
    fn keyed(&self, key: &str) -> Result<Option<(Record, bool)>, AppendError> {
        if let Some(&i) = self.pending_keys.get(key) {
            return Ok(Some((self.pending[i].clone(), true)));
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

fn run(
    store: Store,
    state: Arc<RwLock<State>>,
    mut rx: mpsc::Receiver<Job>,
    mut clock: Box<dyn Clock>,
    committed: broadcast::Sender<Arc<Record>>,
    callers: &Callers,
    shared_stats: &Mutex<GroupStats>,
) -> Store {
    let mut poisoned = false;
    let mut stats = GroupStats::default();
    while let Some(first) = rx.blocking_recv() {
        let t0 = Instant::now();
        let mut st = state.write().unwrap_or_else(|p| p.into_inner());
        let group_start = Head {
            seq: st.head_seq,
            hash: st.head_hash,
        };
        let mut g = Group {
            store: &store,
            state: &mut st,
            clock: clock.as_mut(),
            pending: Vec::new(),
            pending_keys: HashMap::new(),
        };
        let mut outcomes = Vec::new();
        let mut events = 0;
        // Take every job that is waiting, checking each as it comes; then, while
        // some active caller has no job in yet (one answered a moment ago is about to
        // send its next), keep looking for a little while.
        let mut deadline = None;
        let mut next = Some(first);
        loop {
            if let Some(job) = next.take() {
                events += job.len();
                outcomes.push(match job {
                    Job::Append {
                        batch,
                        expect_seq,
                        reply,
                    } => (reply, g.append(batch, expect_seq)),
                    Job::Import { records, reply } => (reply, g.import(records)),
                });
                if events >= MAX_GROUP_EVENTS {
                    break;
                }
            }
            match rx.try_recv() {
                Ok(j) => next = Some(j),
                Err(TryRecvError::Empty)
                    if outcomes.len() < callers.active.load(Ordering::SeqCst) =>
                {
                    // Yield rather than sleep: the callers need the CPU to come
                    // back, and a wake-up per caller cost more than the wait
                    // itself (measured, BENCHMARKS.md).
                    let end = *deadline.get_or_insert_with(|| Instant::now() + LINGER);
                    if Instant::now() >= end {
                        stats.linger_timeouts += 1;
                        break;
                    }
                    std::thread::yield_now();
                }
                Err(_) => break,
            }
        }
        if let Some(end) = deadline {
            stats.linger_us += micros(Instant::now() + LINGER - end);
        }
        stats.jobs += outcomes.len() as u64;
        let span = tracing::debug_span!("group_commit", jobs = outcomes.len(), events);
        let _guard = span.enter();
        let pending = std::mem::take(&mut g.pending);
        let t1 = Instant::now();
        let failure = if poisoned {
            // An earlier failed write could not be taken back: write nothing more.
            (!pending.is_empty()).then(|| POISONED.to_string())
        } else if pending.is_empty() {
            None
        } else {
            store.commit(&pending, group_start).err().map(|e| {
                poisoned |= !e.consistent;
                e.error.to_string()
            })
        };
        let t2 = Instant::now();
        stats.work_us += micros(t1 - t0);
        if !pending.is_empty() {
            stats.groups += 1;
            stats.commit_us += micros(t2 - t1);
        }
        if let Some(e) = &failure {
            tracing::error!(error = %e, records = pending.len(), "group commit failed; taking the group back");
            // The accepted batches' records are `pending`, in the same order.
            let mut records = pending.iter().rev();
            for (_, o) in outcomes.iter_mut().rev() {
                if let Outcome::Accepted { undos, .. } = o {
                    for u in std::mem::take(undos).into_iter().rev() {
                        st.undo(u, records.next().expect("a pending record per undo"));
                    }
                }
            }
        }
        drop(st);
        if failure.is_none() {
            tracing::debug!(records = pending.len(), "group committed");
            // Safe to skip with no subscriber: the state lock (released above) already
            // shows this group, and a stream subscribes *before* it reads the store up
            // to the durable head (server/sse.rs), so one that subscribes after this
            // look reads the group from the store.
            if committed.receiver_count() > 0 {
                for r in pending {
                    let _ = committed.send(Arc::new(r));
                }
            }
        }
        // Before anyone is answered: an answered caller sees its group counted.
        *shared_stats.lock().unwrap_or_else(|p| p.into_inner()) = stats;
        for (reply, o) in outcomes {
            let answer = match (o, &failure) {
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
            let _ = reply.send(answer);
        }
    }
    store
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
        let store = Store::open(dir).unwrap();
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
}
