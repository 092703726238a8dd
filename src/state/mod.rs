//! The folded state of the log and every business rule of SPEC §3.
//!
//! - [`State::check`] decides: it holds every rule and never mutates.
//! - [`State::apply`] evolves: it never fails (an old log always replays, even after
//!   rules tighten) and returns an [`Undo`] that [`State::undo`] uses to take the
//!   record back exactly (the writer does this when a later event of a batch is
//!   rejected or the disk write fails).
//!
//! - [`State::write_stored`] / [`State::read_stored`] (`src/state/snapshot.rs`): a
//!   snapshot's stored form decodes to an equal state that folds on identically.
//!
//! Guarantees: pure and deterministic (no I/O, no clock); counties iterate by id;
//! after `check` accepted an event and `apply` applied it, no account has a negative
//! day-end balance on any date, and no (county, fund, fiscal year) has dispatched
//! more than its entitlement — asserted after every `apply` in debug builds and in
//! the crate's tests, and over whole random histories by the property tests
//! ([`invariants`]).
//!
//! Where things live:
//! - this file: [`State`], [`Undo`], [`PlanOracle`], the accessors, and
//!   `apply`/`fold`/`undo`;
//! - [`county`] (re-exported here): what the state keeps per county — accounts,
//!   fund ledgers, needs, wage bills, payroll months, reports, risk lines;
//! - `rules`: [`State::check`], every rule of SPEC §3;
//! - `evolve`: how each event kind moves money and how a record is taken back;
//! - [`invariants`]: the invariants, asserted;
//! - `county_index`, [`daymap`], `snapshot`: the index by id, dated sums, and the
//!   state's stored form for snapshots (`packed_slots`: the per-record table as
//!   stored);
//! - `slot_table`: the per-record table in chunks that copies of the state share
//!   (kept packed as stored after a snapshot is read);
//! - `plan_lines`: the plan transfers by plan line;
//! - `notice_index`: the 提示函 by document number and by (county, month), for the
//!   rules of `notice_issued`;
//! - `footprint`: what the state holds on the heap, by part ([`Footprint`]).

pub mod county;
mod county_index;
pub mod daymap;
mod evolve;
mod footprint;
pub mod invariants;
mod notice_index;
mod packed_slots;
mod plan_lines;
mod rules;
mod slot_table;
mod snapshot;

use crate::event::*;
use crate::money::{Money, Ratio};
use crate::record::Record;
use crate::values::*;
pub use county::*;
use county_index::CountyIndex;
pub use daymap::DayMap;
pub use footprint::Footprint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Default risk lines before any `risk_lines_set`: 0.3, 0.5, 1.5.
pub const DEFAULT_LINES: Lines = Lines {
    warning_line: Ratio::from_units(3000),
    alert_line: Ratio::from_units(5000),
    idle_line: Ratio::from_units(15000),
};

/// The folded state of the log up to `head_seq`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Seq of the last applied record (0 when empty).
    pub head_seq: u64,
    /// Hash of the last applied record (zeros when empty).
    pub head_hash: Sha256Hex,
    /// `recorded_at` of the last record (µs since the epoch; 0 when empty).
    pub last_recorded_at_us: i64,
    /// The greatest effective date of any applied event (the default as_of).
    pub max_effective_date: Option<Date>,
    /// city.treasury day deltas.
    pub city: DayMap,
    /// Counties in registration order; see [`State::counties`] for id order. Each
    /// behind an `Arc` that copies of the state share until one of them changes the
    /// county (`State::county_mut` copies it first).
    counties: Vec<Arc<County>>,
    /// County index by id (iterates in id order).
    county_index: CountyIndex,
    /// City-wide risk lines, in seq order.
    pub city_risk_lines: Vec<LinesEntry>,
    /// Every `plan_issued`, in seq order, with its seq.
    pub plans_issued: Vec<(u64, PlanIssued)>,
    /// Every `planning_policy_set`, in seq order (see [`State::policy_at`]).
    pub policies: Vec<PolicyEntry>,
    /// Every `notice_issued`, in seq order (reversed ones marked).
    pub notices: Vec<NoticeEntry>,
    /// `notices` by document number and by (county, month) (derived; rebuilt when a
    /// snapshot is read).
    pub(crate) notice_index: notice_index::NoticeIndex,
    /// Every `policy_proposed` (issue 19), in seq order, with its decision.
    pub proposals: Vec<ProposalEntry>,
    /// Every `response_plan_filed` (一县一策, issue 19), in seq order.
    pub response_plans: Vec<ResponsePlanEntry>,
    /// Every applied `transfer_allocated` that names a `plan_month`, in seq order
    /// (what `plan status` compares with the issued plans; reversed ones are told by
    /// [`State::is_reversed`]).
    pub plan_transfers: Vec<PlanTransfer>,
    /// `plan_transfers` by (plan month, county, fund, fiscal year) (derived; rebuilt
    /// when a snapshot is read; [`plan_lines::PlanLines`]).
    pub(crate) plan_lines: PlanLines,
    /// Every `emergency_requested`, in seq order, with its approval.
    pub requests: Vec<RequestEntry>,
    /// Every `approval_limit_set`, in seq order (see [`State::approval_limit_on`]).
    pub approval_limits: Vec<LimitEntry>,
    /// Reversible records by seq − 1 (None for other kinds), in chunks that copies
    /// of the state share until one writes ([`slot_table::SlotTable`]).
    targets: slot_table::SlotTable,
    /// Amounts of targets that do not fit in a slot (`evolve::Slot`), by seq.
    wide_amounts: BTreeMap<u64, Money>,
}

/// A `transfer_allocated` that names a `plan_month`, as the state keeps it for
/// `plan status` (issue 18): the record's seq and the members that place it on a line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTransfer {
    /// The record's seq.
    pub seq: u64,
    /// County.
    pub county: CountyId,
    /// Fund class.
    pub fund: Fund,
    /// Fiscal year of the entitlement drawn on.
    pub fiscal_year: FiscalYear,
    /// Amount.
    pub amount: Money,
    /// The plan month the transfer says it carries out.
    pub plan_month: Month,
    /// Why it may go beyond its line, when it says (contract v2).
    pub off_plan_reason: Option<Text>,
}

/// A line of a plan: (plan month, county, fund, fiscal year).
pub type PlanLineKey = (Month, CountyId, Fund, FiscalYear);

pub(crate) use plan_lines::PlanLines;

/// What the rules need of an issued plan, recomputed at its `based_on_seq`: its hash
/// and what each line funds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanFacts {
    /// SHA-256 of the plan's canonical JSON.
    pub plan_sha256: Sha256Hex,
    /// Funded amount by (county, fund, fiscal year); a line not here funds nothing.
    pub funded: BTreeMap<(CountyId, Fund, FiscalYear), Money>,
}

/// What [`State::undo`] needs to take back the last applied record.
#[derive(Clone, Debug)]
pub struct Undo {
    prev_head_seq: u64,
    prev_head_hash: Sha256Hex,
    prev_recorded_at_us: i64,
    prev_max_effective_date: Option<Date>,
    new_county: bool,
}

/// Consulted by [`State::check`] for `plan_issued` (does its hash reproduce?) and for
/// a `transfer_allocated` naming a month with an issued plan (is it within its line?):
/// recomputes the plan of a month at a seq. The writer supplies it (it may need the
/// log to rebuild an older state); [`NoPlans`] means plans cannot be checked here.
pub trait PlanOracle {
    /// The plan of `month` at `based_on_seq`, or why it cannot be computed.
    fn plan(
        &mut self,
        state: &State,
        month: Month,
        based_on_seq: u64,
    ) -> Result<std::sync::Arc<PlanFacts>, String>;
}

/// An oracle that refuses every plan (used where the planner is unavailable).
pub struct NoPlans;

impl PlanOracle for NoPlans {
    fn plan(&mut self, _: &State, _: Month, _: u64) -> Result<std::sync::Arc<PlanFacts>, String> {
        Err("plans cannot be computed here".into())
    }
}

impl PlanTransfer {
    /// The plan line the transfer is on.
    pub fn key(&self) -> PlanLineKey {
        (
            self.plan_month,
            self.county.clone(),
            self.fund,
            self.fiscal_year,
        )
    }
}

impl State {
    /// A copy equal to `clone()`, made on two threads: the readers' mirror takes one
    /// at every `serve` start. The counties and the per-record table's chunks are
    /// shared, not copied: whichever state changes one first after the copy copies
    /// it then (the writer, usually — at ten million records a county is ≈ 0.9 MB,
    /// a fraction of a millisecond, once per county). The plan transfers and their
    /// lines are copied on a second thread while this one copies the rest.
    pub fn clone_on_two_threads(&self) -> State {
        // Every member named, so that a new one cannot be left out of the copy.
        let State {
            head_seq,
            head_hash,
            last_recorded_at_us,
            max_effective_date,
            city,
            counties,
            county_index,
            city_risk_lines,
            plans_issued,
            policies,
            notices,
            notice_index,
            proposals,
            response_plans,
            plan_transfers,
            plan_lines,
            requests,
            approval_limits,
            targets,
            wide_amounts,
        } = self;
        std::thread::scope(|s| {
            let planned = s.spawn(|| (plan_transfers.clone(), plan_lines.clone()));
            let mut copy = State {
                head_seq: *head_seq,
                head_hash: *head_hash,
                last_recorded_at_us: *last_recorded_at_us,
                max_effective_date: *max_effective_date,
                city: city.clone(),
                counties: counties.clone(),
                county_index: county_index.clone(),
                city_risk_lines: city_risk_lines.clone(),
                plans_issued: plans_issued.clone(),
                policies: policies.clone(),
                notices: notices.clone(),
                notice_index: notice_index.clone(),
                proposals: proposals.clone(),
                response_plans: response_plans.clone(),
                plan_transfers: Vec::new(),
                plan_lines: PlanLines::default(),
                requests: requests.clone(),
                approval_limits: approval_limits.clone(),
                targets: targets.clone(),
                wide_amounts: wide_amounts.clone(),
            };
            (copy.plan_transfers, copy.plan_lines) = planned
                .join()
                .expect("copying plan transfers does not panic");
            copy
        })
    }

    /// The request recorded at `seq`, if that record is an `emergency_requested`.
    pub fn request(&self, seq: u64) -> Option<&RequestEntry> {
        let i = self.requests.binary_search_by_key(&seq, |r| r.seq).ok()?;
        Some(&self.requests[i])
    }

    fn request_mut(&mut self, seq: u64) -> Option<&mut RequestEntry> {
        let i = self.requests.binary_search_by_key(&seq, |r| r.seq).ok()?;
        Some(&mut self.requests[i])
    }

    /// The limit on a direct emergency dispatch in force on `d`: the last
    /// `approval_limit_set` in seq order whose `effective_from` is on or before `d`.
    pub fn approval_limit_on(&self, d: Date) -> Option<Money> {
        self.approval_limits
            .iter()
            .rev()
            .find(|l| l.effective_from <= d)
            .map(|l| l.amount)
    }

    /// Unreversed money dispatched with `plan_month` on one plan line.
    pub fn plan_line_dispatched(&self, key: &PlanLineKey) -> Money {
        self.plan_lines
            .on_line(key)
            .map(|i| &self.plan_transfers[i as usize])
            .filter(|t| !self.is_reversed(t.seq))
            .map(|t| t.amount)
            .sum()
    }

    /// The `emergency_dispatched` that the approval recorded at `seq` (the head, once
    /// applied) makes: the request's county, amount, mode and reason, its value date
    /// or the approval's `approved_on` when that is later (money does not move before
    /// it is approved), `approved_by` the approving user. `None` when record `seq` is no approval.
    pub fn dispatch_of_approval(&self, seq: u64) -> Option<Event> {
        let r = self
            .requests
            .iter()
            .rev()
            .find(|r| r.approval.as_ref().is_some_and(|a| a.seq == seq))?;
        let approval = r.approval.as_ref()?;
        let by = approval.approved_by.clone()?;
        Some(Event::EmergencyDispatched(EmergencyDispatched {
            county: r.request.county.clone(),
            amount: r.request.amount,
            // Money moves on the day asked for, but never before it is approved.
            value_date: r.request.value_date.max(approval.approved_on),
            mode: r.request.mode,
            reason: r.request.reason.clone(),
            approved_by: Text::parse(&by).ok()?,
        }))
    }

    /// An empty state (no records).
    pub fn new() -> State {
        State::default()
    }

    /// Makes room, once, for the per-record table's chunk pointers up to record
    /// `seq` — call before folding a log whose head is known (load, replay, audit).
    /// The chunks themselves are allocated whole as they are reached, so the table
    /// never doubles (it did as one vector: 32 bytes a record, 320 MB at ten million).
    pub fn reserve_records(&mut self, seq: u64) {
        self.targets
            .reserve(usize::try_from(seq).unwrap_or(usize::MAX));
    }

    /// Counties in id order.
    pub fn counties(&self) -> impl Iterator<Item = &County> + '_ {
        self.county_index
            .in_id_order()
            .map(|i| &*self.counties[i as usize])
    }

    /// One county by id.
    pub fn county(&self, id: &CountyId) -> Option<&County> {
        self.county_index
            .get(id)
            .map(|i| &*self.counties[i as usize])
    }

    /// County `i` (registration order) to change, copied first if a copy of the
    /// state shares it (then only this state sees the change).
    fn county_mut(&mut self, i: u32) -> &mut County {
        Arc::make_mut(&mut self.counties[i as usize])
    }

    /// Number of registered counties.
    pub fn county_count(&self) -> usize {
        self.counties.len()
    }

    /// The lines in force on `d` for county `c` (county-specific, else city-wide,
    /// else defaults); "latest" is the greatest effective_from, then seq.
    pub fn lines_at(&self, c: &County, d: Date) -> Lines {
        let latest = |v: &[LinesEntry]| {
            v.iter()
                .filter(|l| l.effective_from <= d)
                .max_by_key(|l| (l.effective_from, l.seq))
                .map(|l| l.lines)
        };
        latest(&c.risk_lines)
            .or_else(|| latest(&self.city_risk_lines))
            .unwrap_or(DEFAULT_LINES)
    }

    /// The planning policy in force on `d` (docs/planning-policy-v2.md §1.3): the
    /// `planning_policy_set` with the greatest effective_from ≤ d, then the greatest
    /// seq; v1 when there is none.
    pub fn policy_at(&self, d: Date) -> PlanningPolicy {
        self.policies
            .iter()
            .filter(|p| p.effective_from <= d)
            .max_by_key(|p| (p.effective_from, p.seq))
            .map_or(PlanningPolicy::V1, |p| p.policy)
    }

    /// The `policy_proposed` recorded as `seq`, if that record is one.
    pub fn proposal(&self, seq: u64) -> Option<&ProposalEntry> {
        self.proposals
            .binary_search_by_key(&seq, |p| p.seq)
            .ok()
            .map(|i| &self.proposals[i])
    }

    fn proposal_mut(&mut self, seq: u64) -> Option<&mut ProposalEntry> {
        self.proposals
            .binary_search_by_key(&seq, |p| p.seq)
            .ok()
            .map(|i| &mut self.proposals[i])
    }

    /// True when record `seq` is an `emergency_dispatched` of mode `advance` (its
    /// dispatch sits in the general ledger beside the transfers; this tells them apart).
    pub fn is_advance(&self, seq: u64) -> bool {
        self.target(seq)
            .is_some_and(|t| matches!(t.effect, evolve::Effect::Advance { .. }))
    }

    /// True when record `seq` is reversible, applied and already reversed.
    pub fn is_reversed(&self, seq: u64) -> bool {
        self.target(seq).is_some_and(|t| t.reversed_on.is_some())
    }

    /// Applies a record like [`State::apply`] but keeps nothing to undo it with: the
    /// fast path for folding a stored log (load, replay), where nothing is taken back.
    pub fn fold(&mut self, rec: &Record) {
        self.head_seq = rec.seq;
        self.head_hash = rec.hash;
        self.last_recorded_at_us = rec.recorded_at_us;
        let d = rec.event.effective_date();
        self.max_effective_date = Some(self.max_effective_date.map_or(d, |m| m.max(d)));
        let idx = (rec.seq - 1) as usize;
        self.targets.grow_to(idx + 1);
        let target = self.forward(&rec.event, rec.seq);
        if let (Event::TransferAllocated(e), Some(_)) = (&rec.event, &target) {
            if let Some(plan_month) = e.plan_month {
                let t = PlanTransfer {
                    seq: rec.seq,
                    county: e.county.clone(),
                    fund: e.fund,
                    fiscal_year: e.fiscal_year,
                    amount: e.amount,
                    plan_month,
                    off_plan_reason: e.off_plan_reason.clone(),
                };
                self.plan_lines
                    .pushed(t.key(), self.plan_transfers.len() as u32);
                self.plan_transfers.push(t);
            }
        }
        match &rec.event {
            Event::EmergencyRequested(_) => {
                if let Some(r) = self.requests.last_mut().filter(|r| r.seq == rec.seq) {
                    r.requested_by = rec.recorded_by.clone();
                }
            }
            Event::EmergencyApproved(e) => {
                if let Some(r) = self.request_mut(e.request_seq) {
                    if r.approval.is_none() {
                        r.approval = Some(ApprovalEntry {
                            seq: rec.seq,
                            approved_by: rec.recorded_by.clone(),
                            approved_on: e.approved_on,
                        });
                    }
                }
            }
            _ => {}
        }
        *self.targets.get_mut(idx) = target.map(|t| self.pack(rec.seq, t));
    }

    /// Applies a record (already checked, or read back from the log). Never fails;
    /// an event that names an unknown county (impossible in a log sanbao wrote) only
    /// moves the head.
    pub fn apply(&mut self, rec: &Record) -> Undo {
        invariants::invariant!(
            rec.seq == self.head_seq + 1,
            "apply record {} on a state at seq {}",
            rec.seq,
            self.head_seq
        );
        let undo = Undo {
            prev_head_seq: self.head_seq,
            prev_head_hash: self.head_hash,
            prev_recorded_at_us: self.last_recorded_at_us,
            prev_max_effective_date: self.max_effective_date,
            new_county: matches!(&rec.event, Event::CountyRegistered(e) if !self.county_index.contains_key(&e.county)),
        };
        self.fold(rec);
        self.assert_after_apply(rec);
        undo
    }

    /// Takes back the last applied record exactly: `rec` is that record (the one
    /// [`State::apply`] answered `u` for).
    pub fn undo(&mut self, u: Undo, rec: &Record) {
        let seq = self.head_seq;
        invariants::invariant!(
            rec.seq == seq && self.targets.len() as u64 == seq,
            "undo record {} on a state at seq {} ({} slots)",
            rec.seq,
            seq,
            self.targets.len()
        );
        let idx = (seq - 1) as usize;
        let target = self
            .targets
            .get_mut(idx)
            .take()
            .map(|s| self.unpack(seq, s));
        self.wide_amounts.remove(&seq);
        if self.plan_transfers.last().is_some_and(|p| p.seq == seq) {
            let t = self.plan_transfers.pop().expect("last");
            self.plan_lines
                .popped(&t.key(), self.plan_transfers.len() as u32);
        }
        if let Event::EmergencyApproved(e) = &rec.event {
            if let Some(r) = self.request_mut(e.request_seq) {
                if r.approval.as_ref().is_some_and(|a| a.seq == seq) {
                    r.approval = None;
                }
            }
        }
        self.backward(&rec.event, target, u.new_county);
        self.targets.truncate(idx);
        self.head_seq = u.prev_head_seq;
        self.head_hash = u.prev_head_hash;
        self.last_recorded_at_us = u.prev_recorded_at_us;
        self.max_effective_date = u.prev_max_effective_date;
    }
}

#[cfg(test)]
mod tests;
