//! The readers' own copy of the folded state, so that reads never block the writer.
//!
//! The writer decides every group under its state's write lock. When readers shared
//! that lock, a long query (a monitor of 3,000 counties with its year of history,
//! tens of milliseconds) held the writer back, and with 64 readers appends fell to a
//! few percent of their rate (issue 21). Now the service's reads go to a [`Mirror`]:
//! a second [`State`], folded by a thread of its own from the writer's feed of
//! committed records ([`Writer::subscribe`]), or from the store when the feed ran
//! ahead of it. The writer never waits for a reader; a reader waits at most for the
//! mirror to fold what was durable when it asked.
//!
//! Guarantees: a reader sees every record that was durable when it asked — so an
//! answer never misses an append acknowledged before the read began (read your
//! writes) — and never a record that is not durable (the feed carries only durable
//! records); the mirror folds records in seq order with the same [`State::fold`] as
//! every replay, so its answers are the writer's.

use crate::log::{Store, Writer};
use crate::state::State;
use std::sync::{Arc, Condvar, Mutex, RwLock, RwLockReadGuard};
use tokio::sync::broadcast::error::TryRecvError;

/// Records folded under one write lock of the mirror at most.
const FOLD_BATCH: usize = 4_096;

/// The readers' copy of the state, and where its folding stands.
pub struct Mirror {
    state: RwLock<State>,
    /// The mirror's head seq — and why it stopped following the log, if it did (a
    /// record it could not read from the store: readers then wait no more) — with
    /// the signal that either changed.
    folded: Mutex<(u64, Option<String>)>,
    moved: Condvar,
}

impl Mirror {
    /// Starts a mirror of `writer`'s state, folding on a thread of its own (named
    /// `sanbao-mirror`) until the writer's feed closes. `store` is where records
    /// the feed could not hold are read from.
    pub fn start(writer: &Writer, store: Store) -> Arc<Mirror> {
        // Subscribe before copying, so that every record after the copy's head is
        // either on the feed or, if the feed overflowed, read from the store.
        let mut feed = writer.subscribe();
        let started = std::time::Instant::now();
        let copy = writer
            .state()
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone_on_two_threads();
        tracing::debug!(
            copy_ms = started.elapsed().as_millis() as u64,
            "the readers' mirror copied the state"
        );
        let mirror = Arc::new(Mirror {
            folded: Mutex::new((copy.head_seq, None)),
            state: RwLock::new(copy),
            moved: Condvar::new(),
        });
        let m = mirror.clone();
        // Not a `Writer` clone: that would keep the writer running for ever.
        let durable = writer.durable_seq_handle();
        std::thread::Builder::new()
            .name("sanbao-mirror".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(FOLD_BATCH);
                loop {
                    // Wait for the next record, then take whatever else is waiting.
                    let mut behind = false;
                    match feed.blocking_recv() {
                        Ok(r) => batch.push(r),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => behind = true,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    }
                    while batch.len() < FOLD_BATCH {
                        match feed.try_recv() {
                            Ok(r) => batch.push(r),
                            Err(TryRecvError::Lagged(_)) => behind = true,
                            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                        }
                    }
                    let upto = if behind {
                        durable.get()
                    } else {
                        batch.last().map_or(0, |r| r.seq)
                    };
                    if let Err(why) = m.fold(&store, &batch, upto) {
                        tracing::error!(error = %why, "the readers' copy of the state stopped");
                        m.folded.lock().unwrap_or_else(|p| p.into_inner()).1 = Some(why);
                        m.moved.notify_all();
                        return;
                    }
                    batch.clear();
                }
            })
            .expect("spawn the mirror thread");
        mirror
    }

    /// Folds the records after the mirror's head up to `upto`: those of `batch`, and
    /// from the store any the feed dropped (it holds 16,384 records).
    fn fold(
        &self,
        store: &Store,
        batch: &[Arc<crate::record::Record>],
        upto: u64,
    ) -> Result<(), String> {
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        let mut fed = batch.iter().peekable();
        while st.head_seq < upto {
            let next = st.head_seq + 1;
            while fed.next_if(|r| r.seq < next).is_some() {}
            match fed.next_if(|r| r.seq == next) {
                Some(r) => st.fold(r),
                None => {
                    // Missing from the feed: read up to the next record it holds.
                    let to = fed.peek().map_or(upto, |r| r.seq - 1);
                    for r in store.records(next, to) {
                        let r = r.map_err(|e| format!("record {next}..={to}: {e}"))?;
                        st.fold(&r);
                    }
                    if st.head_seq < to {
                        return Err(format!(
                            "records {}..={to} are durable but could not be read",
                            st.head_seq + 1
                        ));
                    }
                }
            }
        }
        let head = st.head_seq;
        drop(st);
        self.folded.lock().unwrap_or_else(|p| p.into_inner()).0 = head;
        self.moved.notify_all();
        Ok(())
    }

    /// The mirror's state once it holds every record up to `seq` (the durable head
    /// when the reader asked), locked for reading. If the mirror stopped following
    /// the log, its state as it stands (the error was logged).
    pub fn read_at_least(&self, seq: u64) -> RwLockReadGuard<'_, State> {
        let mut folded = self.folded.lock().unwrap_or_else(|p| p.into_inner());
        while folded.0 < seq && folded.1.is_none() {
            folded = self.moved.wait(folded).unwrap_or_else(|p| p.into_inner());
        }
        drop(folded);
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// At most this many queries run at once ([`QueryPermits`]): one core fewer than
/// the machine has (at least one), so that one is always left to the writer and to
/// the service's own threads.
pub fn query_slots() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .max(1)
}

/// Permits to run a query on the readers' state: a reader holds one while it
/// computes. Without them, 64 readers of a province's monitor (each a CPU-bound
/// computation of tens of milliseconds) left the writer one thread's share of the
/// CPU among 65, and appends fell to a few percent of their rate even though no
/// lock was shared (measured, BENCHMARKS.md "Session 14"). Queries wait their turn
/// instead; the writer keeps a core.
pub struct QueryPermits {
    free: Mutex<usize>,
    released: Condvar,
}

impl QueryPermits {
    /// `n` permits (at least one).
    pub fn new(n: usize) -> QueryPermits {
        QueryPermits {
            free: Mutex::new(n.max(1)),
            released: Condvar::new(),
        }
    }

    /// Waits for a permit (blocking: call it off the async threads), held until the
    /// guard is dropped.
    pub fn acquire(&self) -> QueryPermit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.released.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        QueryPermit(self)
    }
}

/// A held [`QueryPermits`] permit; dropping it lets the next query in.
pub struct QueryPermit<'a>(&'a QueryPermits);

impl Drop for QueryPermit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.released.notify_one();
    }
}
