//! The writer thread (`sanbao-writer`) and its group-commit loop: it takes every job
//! waiting, decides each as it comes ([`decide`]), and writes the group — itself, or
//! on the commit thread when the group is big enough ([`PIPELINE_EVENTS`]).
//!
//! Guarantees: the state's write lock is held from a group's first check until it
//! is durable, and across pipelined groups for at most [`MAX_HOLD`](super::MAX_HOLD)
//! (then the group in flight lands alone and readers get in); a group is written only
//! after the one before it is durable; while an active caller has no job in yet, a
//! group waits at most [`LINGER`] for it, and a lone caller never waits; after a write
//! that could not be taken back, nothing more is written ([`POISONED`]); the thread
//! stops once every [`Writer`](super::Writer) is dropped and every job is answered.

use super::decide::{decide, Decided, Group, PlanCache};
use super::pipeline::{commit_thread, Done, Flight, InFlight, Landing};
use super::{
    micros, Callers, Clock, GroupStats, Job, Msg, LINGER, MAX_GROUP_EVENTS, PIPELINE_EVENTS,
};
use crate::log::store::Store;
use crate::record::Record;
use crate::state::State;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock, RwLockWriteGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{broadcast, mpsc};

/// Answer to every append after a failed write that could not be taken back.
const POISONED: &str = "an earlier write failed and could not be taken back; restart sanbao (it drops the unacknowledged records on open)";

/// The writer thread's ends of its channels: jobs (and wake-ups) in, and a weak
/// sender for the commit thread's wake-ups (weak, so that the writer still stops
/// once every [`Writer`](super::Writer) is dropped).
pub(super) struct Channels {
    /// Jobs (and the commit thread's wake-ups) in.
    pub(super) rx: mpsc::Receiver<Msg>,
    /// The commit thread's sender of wake-ups.
    pub(super) wake: mpsc::WeakSender<Msg>,
}

/// The writer thread's own state.
pub(super) struct Run<'a> {
    store: &'a Store,
    /// Plans recomputed for the rules, kept while the writer runs.
    plans: &'a PlanCache,
    /// The live feed of committed records ([`Writer::subscribe`](super::Writer::subscribe)).
    pub(super) committed: broadcast::Sender<Arc<Record>>,
    callers: &'a Callers,
    shared_stats: &'a Mutex<GroupStats>,
    /// The seq of the last durable record, stored when a group lands.
    pub(super) durable: &'a std::sync::atomic::AtomicU64,
    /// [`MAX_HOLD`](super::MAX_HOLD), but for tests.
    max_hold: Duration,
    to_commit: std::sync::mpsc::Sender<Arc<InFlight>>,
    /// How each group handed to the commit thread was written, in order.
    pub(super) done: std::sync::mpsc::Receiver<Done>,
    /// The group written last (on the commit thread, or here), until it lands.
    pub(super) flight: Option<Flight>,
    /// Whether a failed write could not be taken back (nothing more is written).
    pub(super) poisoned: bool,
    /// The stats, published to the [`Writer`](super::Writer) handles by
    /// [`publish`](Run::publish).
    pub(super) stats: GroupStats,
}

/// What the writer thread shares with the [`Writer`](super::Writer) handles.
pub(super) struct Shared<'a> {
    /// The live feed of committed records.
    pub(super) committed: broadcast::Sender<Arc<Record>>,
    /// The callers counted as active.
    pub(super) callers: &'a Callers,
    /// The stats as last published.
    pub(super) stats: &'a Mutex<GroupStats>,
    /// The seq of the last durable record ([`Writer::durable_seq`](super::Writer::durable_seq)).
    pub(super) durable: &'a std::sync::atomic::AtomicU64,
}

/// The writer thread: starts the commit thread, serves jobs until every
/// [`Writer`](super::Writer) is dropped, and gives the store back.
pub(super) fn run(
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
        let plans = &PlanCache::default();
        std::thread::Builder::new()
            .name("sanbao-commit".into())
            .spawn_scoped(scope, move || commit_thread(store, work, done_tx, wake))
            .expect("spawn the commit thread");
        let mut w = Run {
            store,
            plans,
            committed: shared.committed,
            callers: shared.callers,
            shared_stats: shared.stats,
            durable: shared.durable,
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
    /// Takes jobs until every [`Writer`](super::Writer) is dropped and every job is
    /// answered.
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

    /// Publishes the stats; before anyone is answered, so that an answered caller
    /// sees its group counted.
    pub(super) fn publish(&self) {
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
        let mut g = Group::new(self.store, self.plans, st, clock, in_flight);
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
                decided.extend(decide(&mut g, job));
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
