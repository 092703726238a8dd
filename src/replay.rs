//! The auditor's replay (`sanbao replay` and `GET /v1/replay`, SPEC §5): rebuild
//! everything from the log alone, verify the chain up to N, recompute every
//! `plan_issued`. The command and the route both call [`replay`], so they always
//! agree.
//!
//! Guarantees: reads only stored records (never the writer's live state, a snapshot
//! or a cache); checks each record with [`crate::log::verify_each`] before folding it
//! (one read of the log); each
//! issued plan is recomputed from a state folded from records `1..=based_on_seq`
//! (one forward pass over the log serves every plan, in order of `based_on_seq`).

use crate::log::{self, Store, StoreError, Verified};
use crate::query::monitor::{monitor, Monitor};
use crate::query::plan::plan;
use crate::query::position::{position, Position};
use crate::state::State;
use crate::values::{Date, Month, PlanningPolicy, Sha256Hex};
use schemars::JsonSchema;
use serde::Serialize;

/// One issued plan as replay reports it (SPEC §5, `replay.plans`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ReplayedPlan {
    /// The plan month.
    pub month: Month,
    /// The seq the plan was computed at.
    pub based_on_seq: u64,
    /// The hash recorded in `plan_issued`.
    pub plan_sha256: Sha256Hex,
    /// True when recomputing the plan of `month` at `based_on_seq` gives `plan_sha256`.
    pub reproduced: bool,
    /// The planning policy the recomputed plan followed (in force on its basis date
    /// among the records up to `based_on_seq`; `v1` when the log ends before it).
    pub policy: PlanningPolicy,
}

/// The `replay` object of SPEC §5.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ReplayReport {
    /// The last record replayed.
    pub at_seq: u64,
    /// Its hash (zeros for an empty log).
    pub head_hash: Sha256Hex,
    /// Monitor (§6.2) at `as_of`.
    pub monitor: Monitor,
    /// Every `plan_issued` up to `at_seq`, in seq order, superseded issues included.
    pub plans: Vec<ReplayedPlan>,
    /// Position (§6.1) at `as_of`.
    pub position: Position,
}

/// What replay found.
#[derive(Clone, Debug)]
pub enum Replayed {
    /// The chain holds; the report says whether every plan reproduces. `state` is the
    /// fold of records `1..=at_seq` the report was computed from.
    Done {
        /// The `replay` object.
        report: Box<ReplayReport>,
        /// The folded state.
        state: Box<State>,
    },
    /// The chain breaks: `{"first_bad_seq","ok":false,"reason"}` as the command prints.
    Broken {
        /// First bad seq.
        first_bad_seq: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Replays records `1..=at_seq` (the caller checks `at_seq` ≤ the durable head): one
/// read of the log checks each record ([`log::verify_each`]) and folds it, calling
/// `progress(seq)` as it goes.
pub fn replay(
    store: &Store,
    at_seq: u64,
    as_of: Option<Date>,
    progress: impl FnMut(u64),
) -> Result<Replayed, StoreError> {
    let mut state = State::new();
    state.reserve_records(log::records_hint(store, Some(at_seq)));
    let verified = log::verify_each(store, Some(at_seq), progress, |r| {
        state.fold(r);
    })?;
    let head_hash = match verified {
        Verified::Ok { head_hash, .. } => head_hash,
        Verified::Bad {
            first_bad_seq,
            reason,
        } => {
            return Ok(Replayed::Broken {
                first_bad_seq,
                reason,
            })
        }
    };
    if state.head_seq != at_seq || state.head_hash != head_hash {
        return Ok(Replayed::Broken {
            first_bad_seq: state.head_seq + 1,
            reason: format!(
                "the folded log ends at seq {} but the verified chain at seq {at_seq}",
                state.head_seq
            ),
        });
    }
    let plans = reproduce_plans(store, &state)?;
    let report = ReplayReport {
        at_seq,
        head_hash,
        monitor: monitor(&state, as_of),
        plans,
        position: position(&state, as_of, None),
    };
    Ok(Replayed::Done {
        report: Box::new(report),
        state: Box::new(state),
    })
}

/// Recomputes every `plan_issued` of `state` (in seq order) from the stored log.
pub fn reproduce_plans(store: &Store, state: &State) -> Result<Vec<ReplayedPlan>, StoreError> {
    let issued = &state.plans_issued;
    let mut order: Vec<usize> = (0..issued.len()).collect();
    order.sort_by_key(|&i| (issued[i].1.based_on_seq, i));
    let mut reproduced = vec![(false, PlanningPolicy::V1); issued.len()];
    let mut past = State::new();
    let last = order.last().map_or(0, |&i| issued[i].1.based_on_seq);
    let mut records = store.records(1, last);
    for i in order {
        let p = &issued[i].1;
        while past.head_seq < p.based_on_seq {
            match records.next() {
                Some(r) => {
                    past.fold(&r?);
                }
                None => break,
            }
        }
        let again = plan(&past, p.month);
        reproduced[i] = (
            past.head_seq == p.based_on_seq && again.plan_sha256 == p.plan_sha256,
            again.policy,
        );
    }
    Ok(issued
        .iter()
        .zip(reproduced)
        .map(|((_, p), (ok, policy))| ReplayedPlan {
            month: p.month,
            based_on_seq: p.based_on_seq,
            plan_sha256: p.plan_sha256,
            reproduced: ok,
            policy,
        })
        .collect())
}
