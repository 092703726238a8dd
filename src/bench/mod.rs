//! Measuring tools shared by `sanbao-bench` and `cargo bench`: seeded workloads
//! ([`workload`]) and helpers that fold them into a state.
//!
//! Nothing here is used by the service or the CLI; it exists so that every benchmark
//! measures the real library on realistic, reproducible histories.

pub mod workload;

use crate::event::Event;
use crate::record::{Record, GENESIS};
use crate::state::State;

/// A record for `event` at `seq` with zero hashes: what [`fold_unhashed`] applies.
/// Only for read-side benchmarks, which never look at hashes.
pub fn unhashed_record(seq: u64, event: Event) -> Record {
    Record {
        seq,
        recorded_at_us: 0,
        idempotency_key: None,
        recorded_by: None,
        prev_hash: GENESIS,
        hash: GENESIS,
        event,
    }
}

/// Folds events (assumed valid, e.g. from [`workload::Generator`]) into a state as
/// records 1, 2, … without computing hashes or checking rules: the quickest way to a
/// large folded state for the read side (plan, monitor) benchmarks. Uses
/// [`State::fold`], as `log::load_state` does (no undo kept).
pub fn fold_unhashed(events: impl IntoIterator<Item = Event>) -> State {
    let mut s = State::new();
    for e in events {
        let r = unhashed_record(s.head_seq + 1, e);
        s.fold(&r);
    }
    s
}
