//! Deciding one group: each job the writer thread takes is checked against the state
//! that includes every batch accepted before it, and applied to that state at once;
//! its records wait in the group to be written.
//!
//! Guarantees: a batch is accepted whole or not at all (a refused batch's records are
//! taken back before the next job is looked at); idempotency is judged before the
//! expected head (SPEC §8.11), against this group, the group in flight and the store;
//! a batch of a broken [`Chain`] is refused unchecked, and a refused batch breaks its
//! chain at once; [`take_back`] undoes accepted batches newest first, so a failed
//! write leaves the state as it was before the group.

use super::pipeline::InFlight;
use super::{Ack, AppendError, Chain, Clock, DryRun, Job, Prepared, Reply, MAX_BATCH_EVENTS};
use crate::event::EventError;
use crate::log::store::{Head, Store, StoreError};
use crate::record::Record;
use crate::state::{PlanFacts, PlanOracle, State, Undo};
use crate::values::Month;
use std::collections::HashMap;
use std::sync::Arc;

/// Plans recomputed at a seq the store holds durably, kept for the writer's life (a
/// durable record never changes under a running writer, so neither does a plan
/// based on it): a transfer naming a planned month asks for its plan's lines, and
/// folding the log up to the plan's basis for each would be far too slow.
#[derive(Default)]
pub(super) struct PlanCache(std::sync::Mutex<HashMap<(Month, u64), Arc<PlanFacts>>>);

/// Most plans [`PlanCache`] keeps (it starts again when full).
const PLAN_CACHE_PLANS: usize = 64;

impl PlanCache {
    fn get(&self, month: Month, seq: u64) -> Option<Arc<PlanFacts>> {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&(month, seq)).cloned()
    }

    fn put(&self, month: Month, seq: u64, facts: Arc<PlanFacts>) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= PLAN_CACHE_PLANS {
            m.clear();
        }
        m.insert((month, seq), facts);
    }
}

/// The plan check for `plan_issued` and planned transfers: recomputes the plan at
/// `based_on_seq`, from the live state when that is the head, else from a state
/// folded from the log: the store up to its durable head `durable`, then the group in
/// flight, then this group. Plans based on durable records are kept in `cache`.
struct WriterOracle<'a> {
    store: &'a Store,
    durable: u64,
    in_flight: Option<&'a InFlight>,
    pending: &'a [Record],
    cache: &'a PlanCache,
}

impl PlanOracle for WriterOracle<'_> {
    fn plan(
        &mut self,
        state: &State,
        month: Month,
        based_on_seq: u64,
    ) -> Result<Arc<PlanFacts>, String> {
        if let Some(f) = self.cache.get(month, based_on_seq) {
            return Ok(f);
        }
        let facts = Arc::new(self.compute(state, month, based_on_seq)?);
        if based_on_seq <= self.durable {
            self.cache.put(month, based_on_seq, facts.clone());
        }
        Ok(facts)
    }
}

impl WriterOracle<'_> {
    fn compute(&self, state: &State, month: Month, based_on_seq: u64) -> Result<PlanFacts, String> {
        if based_on_seq == state.head_seq {
            return Ok(crate::query::plan_facts(state, month));
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
        Ok(crate::query::plan_facts(&past, month))
    }
}

/// What deciding a job came to.
enum Outcome {
    Accepted { acks: Vec<Ack>, undos: Vec<Undo> },
    Duplicate { acks: Vec<Ack>, needs_commit: bool },
    Refused(AppendError),
}

/// A storage error, as the caller is answered with it.
fn storage(e: StoreError) -> AppendError {
    AppendError::Storage(e.to_string())
}

/// One group being decided: its batches are checked and applied to the state as
/// they come; its records wait in `pending` to be written.
pub(super) struct Group<'a> {
    store: &'a Store,
    plans: &'a PlanCache,
    /// The state the group's batches are checked against and applied to.
    pub(super) state: &'a mut State,
    clock: &'a mut dyn Clock,
    /// The group being written meanwhile, if any (pipelining).
    pub(super) in_flight: Option<Arc<InFlight>>,
    /// The head before this group.
    pub(super) start: Head,
    /// The records of the batches accepted so far, in seq order.
    pub(super) pending: Vec<Record>,
    /// The idempotency keys of `pending`: each key's index there.
    pub(super) pending_keys: HashMap<String, usize>,
}

impl<'a> Group<'a> {
    /// A new, empty group over `state`, decided while `in_flight` (if any) is
    /// written.
    pub(super) fn new(
        store: &'a Store,
        plans: &'a PlanCache,
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
            plans,
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

    /// The record at `seq`, pending here, in flight or stored.
    fn record_at(&self, seq: u64) -> Result<Option<Record>, AppendError> {
        let here = |rs: &[Record]| {
            rs.first()
                .and_then(|f| seq.checked_sub(f.seq))
                .and_then(|i| rs.get(i as usize))
                .cloned()
        };
        if let Some(r) = here(&self.pending) {
            return Ok(Some(r));
        }
        if let Some(r) = self.in_flight.as_ref().and_then(|f| here(&f.records)) {
            return Ok(Some(r));
        }
        self.store.get(seq).map_err(storage)
    }

    fn append(&mut self, batch: Prepared, expect_seq: Option<u64>) -> Outcome {
        let Prepared {
            events: batch,
            prefixes,
            recorded_by,
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
        let mut dup_events = 0;
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
                        return Outcome::Refused(AppendError::Conflict(
                            format!(
                                "event {i}: idempotency key {k:?} was already used for a different event (seq {})",
                                r.seq
                            ),
                            format!(
                                "事件 {i}：幂等键 {k:?} 已用于另一事件（第{}号记录）",
                                r.seq
                            ),
                        ));
                    }
                    needs_commit |= pending;
                    dups.push(Ack {
                        duplicate: true,
                        hash: r.hash,
                        seq: r.seq,
                        warnings: Vec::new(),
                    });
                    // An approval was answered with the dispatch appended after it
                    // too: so is its repetition.
                    if matches!(r.event, crate::event::Event::EmergencyApproved(_)) {
                        match self.record_at(r.seq + 1) {
                            Ok(Some(d)) => dups.push(Ack {
                                duplicate: true,
                                hash: d.hash,
                                seq: d.seq,
                                warnings: Vec::new(),
                            }),
                            Ok(None) => {}
                            Err(err) => return Outcome::Refused(err),
                        }
                    }
                    dup_events += 1;
                }
            }
        }
        if !dups.is_empty() {
            if dup_events == batch.len() {
                return Outcome::Duplicate {
                    acks: dups,
                    needs_commit,
                };
            }
            return Outcome::Refused(AppendError::Conflict(
                "the batch mixes events already recorded (same idempotency keys) with new ones: resend only the new events".into(),
                "本批事件中既有已登记的（幂等键相同），也有新的：请只重发新的事件".into(),
            ));
        }
        if let Some(n) = expect_seq {
            if n != self.state.head_seq {
                return Outcome::Refused(AppendError::Conflict(
                    format!(
                        "expected the log's head at seq {n}, but it is at seq {}",
                        self.state.head_seq
                    ),
                    format!(
                        "预期日志最新为第{n}号记录，实际为第{}号",
                        self.state.head_seq
                    ),
                ));
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
                cache: self.plans,
            };
            let by = recorded_by.as_deref();
            if let Err(error) = self.state.check_by(&e.event, by, &mut oracle) {
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
                recorded_by.clone(),
                self.state.head_hash,
                e.event,
                prefix,
            );
            let (hash, seq) = (r.hash, r.seq);
            self.push(r, &mut undos);
            // Judged on the state that holds the event (its day-end includes it).
            let warnings = self
                .pending
                .last()
                .and_then(|r| crate::query::oversight::other_spending_warning(self.state, &r.event))
                .map(|(message, message_zh)| {
                    vec![super::AckWarning {
                        code: "restricted_other_spending".into(),
                        message,
                        message_zh,
                    }]
                })
                .unwrap_or_default();
            acks.push(Ack {
                duplicate: false,
                hash,
                seq,
                warnings,
            });
            // An approval's dispatch is appended by the writer itself, right after it,
            // from the request and the approving user: nobody types it.
            if let Some(dispatch) = self.state.dispatch_of_approval(self.state.head_seq) {
                let mut oracle = WriterOracle {
                    store: self.store,
                    durable: self.durable(),
                    in_flight: self.in_flight.as_deref(),
                    pending: &self.pending,
                    cache: self.plans,
                };
                if let Err(error) = self.state.check_by(&dispatch, by, &mut oracle) {
                    self.rollback(undos);
                    let error = EventError {
                        field: None,
                        reason: format!("the approved dispatch cannot be made: {error}"),
                        zh: Some(format!("批准后的应急调度无法执行：{}", error.zh_line())),
                    };
                    return Outcome::Refused(AppendError::Invalid {
                        index: Some(i),
                        error,
                    });
                }
                let r = Record::new_by(
                    self.state.head_seq + 1,
                    at,
                    None,
                    recorded_by.clone(),
                    self.state.head_hash,
                    dispatch,
                );
                acks.push(Ack {
                    duplicate: false,
                    hash: r.hash,
                    seq: r.seq,
                    warnings: Vec::new(),
                });
                self.push(r, &mut undos);
            }
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
                cache: self.plans,
            };
            if let Err(error) = self
                .state
                .check_by(&r.event, r.recorded_by.as_deref(), &mut oracle)
            {
                self.rollback(undos);
                let error = EventError {
                    field: Some(format!("event.{}", error.field.unwrap_or_default())),
                    reason: error.reason,
                    zh: error.zh,
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
                warnings: Vec::new(),
            });
            self.push(r, &mut undos);
        }
        Outcome::Accepted { acks, undos }
    }
}

/// A decided job, waiting for its group to be written.
pub(super) struct Decided {
    reply: Reply,
    outcome: Outcome,
    chain: Option<Chain>,
}

impl Decided {
    /// Answers the caller: with `failure` (the group's write failed) unless the job
    /// was refused anyway or is a duplicate of a record written before. An error
    /// breaks the job's chain.
    pub(super) fn answer(self, failure: Option<&str>) {
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
pub(super) fn take_back(state: &mut State, decided: &mut [Decided], records: &[Record]) {
    let mut records = records.iter().rev();
    for d in decided.iter_mut().rev() {
        if let Outcome::Accepted { undos, .. } = &mut d.outcome {
            for u in std::mem::take(undos).into_iter().rev() {
                state.undo(u, records.next().expect("a pending record per undo"));
            }
        }
    }
}

/// Decides one job against the group's state: a batch of a broken [`Chain`] is
/// refused unchecked, and a refused batch breaks its chain at once (before any later
/// job is looked at).
///
/// A dry run is answered here and now and taken back at once: it leaves nothing to
/// write (`None`).
pub(super) fn decide(g: &mut Group<'_>, job: Job) -> Option<Decided> {
    let (reply, outcome, chain) = match job {
        Job::DryRun {
            batch,
            expect_seq,
            reply,
        } => {
            let after_seq = g.state.head_seq;
            let answer = match g.append(batch, expect_seq) {
                Outcome::Refused(e) => Err(e),
                Outcome::Duplicate { acks, .. } => Ok(DryRun {
                    acks,
                    recorded_at_us: None,
                    after_seq,
                }),
                Outcome::Accepted { acks, undos } => {
                    let recorded_at_us = g.pending.last().map(|r| r.recorded_at_us);
                    g.rollback(undos);
                    Ok(DryRun {
                        acks,
                        recorded_at_us,
                        after_seq,
                    })
                }
            };
            let _ = reply.send(answer);
            return None;
        }
        Job::Append {
            batch,
            expect_seq,
            chain,
            reply,
        } => {
            let outcome = match &chain {
                Some(c) if c.is_broken() => Outcome::Refused(AppendError::Conflict(
                    "not written: an earlier batch of the same import was refused or failed".into(),
                    "未写入：同一次导入中较早的一批已被拒绝或失败".into(),
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
    Some(Decided {
        reply,
        outcome,
        chain,
    })
}
