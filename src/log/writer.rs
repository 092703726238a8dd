//! The single writer: every append goes through one thread that checks, applies,
//! writes and acknowledges, in order (group commit).
//!
//! Guarantees:
//! - seqs are gap-free and each batch is checked against the state that includes every
//!   batch accepted before it (rules are serialised);
//! - all batches drained together are written in one sled batch and made durable by
//!   one flush + fdatasync; nobody is answered before that returns;
//! - a rejected batch changes nothing; if the disk write fails, every batch of the
//!   group is taken back from the state ([`State::undo`]) and answered with an error;
//! - readers of the shared state never see records that are not yet durable (the
//!   writer holds the state's write lock from check to flush).

use super::store::{Head, Store, StoreError};

/// Answer to every append after a failed write that could not be taken back.
const POISONED: &str = "an earlier write failed and could not be taken back; restart sanbao (it drops the unacknowledged records on open)";
use crate::event::{EventError, InputEvent};
use crate::record::Record;
use crate::state::{PlanOracle, State, Undo};
use crate::values::{Month, Sha256Hex};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
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

enum Job {
    Append {
        batch: Vec<InputEvent>,
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

/// A handle to the writer thread. Cloning shares the same writer.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    state: Arc<RwLock<State>>,
    committed: broadcast::Sender<Arc<Record>>,
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
        let w = Writer {
            tx,
            state: state.clone(),
            committed: committed.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("sanbao-writer".into())
            .spawn(move || run(store, state, rx, clock, committed))
            .expect("spawn the writer thread");
        (w, WriterThread(handle))
    }

    /// The folded state, including every durable record (and nothing else).
    pub fn state(&self) -> &Arc<RwLock<State>> {
        &self.state
    }

    /// Live feed of committed records, in seq order, after they are durable.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Record>> {
        self.committed.subscribe()
    }

    /// Appends one batch atomically; answers after it is durable.
    pub async fn append(
        &self,
        batch: Vec<InputEvent>,
        expect_seq: Option<u64>,
    ) -> Result<Vec<Ack>, AppendError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Append {
                batch,
                expect_seq,
                reply,
            })
            .await
            .map_err(|_| AppendError::Closed)?;
        rx.await.map_err(|_| AppendError::Closed)?
    }

    /// Appends exported records as they are (import); each must continue the log.
    pub async fn import_records(&self, records: Vec<Record>) -> Result<Vec<Ack>, AppendError> {
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
            self.state.undo(u);
        }
    }

    fn append(&mut self, batch: Vec<InputEvent>, expect_seq: Option<u64>) -> Outcome {
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
        for (i, e) in batch.into_iter().enumerate() {
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
            let at = self.clock.now_us().max(self.state.last_recorded_at_us);
            let r = Record::new(
                self.state.head_seq + 1,
                at,
                e.idempotency_key,
                self.state.head_hash,
                e.event,
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
) -> Store {
    let mut poisoned = false;
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        let mut events = jobs[0].len();
        while events < MAX_GROUP_EVENTS {
            match rx.try_recv() {
                Ok(j) => {
                    events += j.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let span = tracing::debug_span!("group_commit", jobs = jobs.len(), events);
        let _guard = span.enter();
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
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            match job {
                Job::Append {
                    batch,
                    expect_seq,
                    reply,
                } => outcomes.push((reply, g.append(batch, expect_seq))),
                Job::Import { records, reply } => outcomes.push((reply, g.import(records))),
            }
        }
        let pending = std::mem::take(&mut g.pending);
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
        if let Some(e) = &failure {
            tracing::error!(error = %e, records = pending.len(), "group commit failed; taking the group back");
            for (_, o) in outcomes.iter_mut().rev() {
                if let Outcome::Accepted { undos, .. } = o {
                    for u in std::mem::take(undos).into_iter().rev() {
                        st.undo(u);
                    }
                }
            }
        }
        drop(st);
        if failure.is_none() {
            tracing::debug!(records = pending.len(), "group committed");
            for r in pending {
                let _ = committed.send(Arc::new(r));
            }
        }
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
