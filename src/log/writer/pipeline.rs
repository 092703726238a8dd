//! Writing a group and landing it: the commit thread (`sanbao-commit`), which writes
//! the groups of at least [`PIPELINE_EVENTS`](super::PIPELINE_EVENTS) events while the
//! writer thread checks the next one, and the landing of every written group, on
//! whichever thread it was written.
//!
//! Guarantees: nobody is answered before their group is durable (or refused); the
//! stats are published before anyone is answered; committed records are broadcast,
//! in seq order, only once durable; when a write fails, the group — and the group
//! decided after it against a state that included it — is taken back out of the
//! state, its jobs are answered with the error (breaking their chains), and a write
//! that could not be taken back out of the store stops all writing.

use super::decide::{take_back, Decided, Group};
use super::group_commit::Run;
use super::{micros, Msg};
use crate::log::store::{CommitError, Head, Store};
use crate::record::Record;
use crate::state::State;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The records of a group handed to the commit thread, as the writer still needs
/// them until that group lands (idempotency keys, plan checks).
pub(super) struct InFlight {
    /// The group's records, in seq order.
    pub(super) records: Vec<Record>,
    /// Their idempotency keys: each key's index in `records`.
    pub(super) keys: HashMap<String, usize>,
    /// The head before the group: the store's durable head while it is written.
    pub(super) start: Head,
}

/// A group on the commit thread, with its jobs waiting for the result.
pub(super) struct Flight {
    /// The group's records.
    pub(super) group: Arc<InFlight>,
    /// Its jobs, decided, in the order they came.
    pub(super) decided: Vec<Decided>,
}

/// How a group's write went.
pub(super) struct Done {
    /// Why it failed, and whether it was taken back out of the store.
    pub(super) failure: Option<(String, bool)>,
    /// How long the write and sync took.
    pub(super) took: Duration,
}

impl Done {
    /// How a write that took `took` went, from the store's answer.
    pub(super) fn of(result: Result<(), CommitError>, took: Duration) -> Done {
        Done {
            failure: result.err().map(|e| (e.error.to_string(), e.consistent)),
            took,
        }
    }
}

/// Where a group in flight lands: on the state alone, or under a group being decided
/// after it (which a failed write takes back too).
pub(super) enum Landing<'g, 'a> {
    Alone(&'g mut State),
    Under(&'g mut Group<'a>, &'g mut Vec<Decided>),
}

/// The commit thread (`sanbao-commit`): writes each group it is handed, in order,
/// sends back how the write went, and wakes the writer thread. Returns once the
/// writer thread drops its end of either channel.
pub(super) fn commit_thread(
    store: &Store,
    work: std::sync::mpsc::Receiver<Arc<InFlight>>,
    done_tx: std::sync::mpsc::Sender<Done>,
    wake: mpsc::WeakSender<Msg>,
) {
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
}

impl Run<'_> {
    /// Waits for the group in flight, if any, and lands it.
    pub(super) fn land_now(&mut self, at: Landing<'_, '_>) {
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
    pub(super) fn land(&mut self, done: Done, at: Landing<'_, '_>) {
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
                if let Some(last) = group.records.last() {
                    self.durable
                        .store(last.seq, std::sync::atomic::Ordering::Release);
                }
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
}
