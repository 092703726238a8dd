//! Carrying out an issued plan (issue 18): the batch of `transfer_allocated` that
//! executes a plan ([`execution_batch`]), and the plan against what was actually
//! dispatched ([`plan_status`]).
//!
//! Guarantees:
//! - pure and deterministic: functions of the folded [`State`], the recomputed
//!   [`Plan`] and their arguments; no I/O, no clock;
//! - [`execution_batch`] gives one event per line with `funded > 0`, in the plan's line
//!   order, each with `plan_month` = the plan's month, `reference` = `plan M seq N`
//!   and the idempotency key [`execution_key`] (`plan-exec:N:COUNTY:FUND:FY`, at most
//!   128 printable ASCII characters), so the same issued plan always gives the same
//!   keys and a retry can tell what is already recorded;
//! - [`plan_status`] counts every applied, unreversed `transfer_allocated` whose
//!   `plan_month` is the month exactly once: on its plan line, or in `off_plan` when
//!   the month has no issued plan or the plan has no line for it; so
//!   `total_dispatched` equals the sum of those transfers in the log.

use super::plan::Plan;
use crate::event::{Event, InputEvent, TransferAllocated};
use crate::money::Money;
use crate::state::{PlanLineKey, State};
use crate::values::{CountyId, Date, FiscalYear, Fund, Month, Text};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

/// The latest `plan_issued` of `month` in `state` (a later issue supersedes an
/// earlier one): its record's seq and event.
pub fn latest_issued(state: &State, month: Month) -> Option<&(u64, crate::event::PlanIssued)> {
    state
        .plans_issued
        .iter()
        .rev()
        .find(|(_, p)| p.month == month)
}

/// The idempotency key of the transfer that executes one line of the plan issued at
/// record `plan_seq`: `plan-exec:{plan_seq}:{county}:{fund}:{fiscal_year}` (a county id
/// has at most 32 characters, so the key stays well under 128).
pub fn execution_key(
    plan_seq: u64,
    county: &CountyId,
    fund: Fund,
    fiscal_year: FiscalYear,
) -> String {
    format!(
        "plan-exec:{plan_seq}:{}:{}:{}",
        county.as_str(),
        fund.as_str(),
        fiscal_year.get()
    )
}

/// The `reference` of every transfer executing the plan of `month` issued at record
/// `plan_seq`: `plan {month} seq {plan_seq}`.
pub fn execution_reference(month: Month, plan_seq: u64) -> String {
    format!("plan {month} seq {plan_seq}")
}

/// The batch that executes `plan` (recomputed for the `plan_issued` at record
/// `plan_seq`): one `transfer_allocated` per line with `funded > 0`, amount = what
/// the line still lacks (funded less what `dispatched` says is already dispatched on
/// it with `plan_month` = the plan's month: by hand, or by executing an earlier
/// issue of the month), dated `value_date`, with `plan_month`, `reference` and the
/// line's [`execution_key`]. Lines whose key `done` answers true (already recorded),
/// and lines with nothing left to dispatch, are left out; so no transfer of the batch
/// goes beyond its line (the rule of [`crate::state::State::check`]).
pub fn execution_batch(
    plan: &Plan,
    plan_seq: u64,
    value_date: Date,
    dispatched: impl Fn(&PlanLineKey) -> Money,
    mut done: impl FnMut(&str) -> bool,
) -> Vec<InputEvent> {
    let reference =
        Text::parse(&execution_reference(plan.month, plan_seq)).expect("a short printable text");
    plan.lines
        .iter()
        .filter(|l| l.funded > Money::ZERO)
        .filter_map(|l| {
            let key = execution_key(plan_seq, &l.county, l.fund, l.fiscal_year);
            if done(&key) {
                return None;
            }
            let already = dispatched(&(plan.month, l.county.clone(), l.fund, l.fiscal_year));
            let amount = l.funded - already;
            if amount <= Money::ZERO {
                return None;
            }
            Some(InputEvent {
                event: Event::TransferAllocated(TransferAllocated {
                    county: l.county.clone(),
                    fund: l.fund,
                    fiscal_year: l.fiscal_year,
                    amount,
                    value_date,
                    plan_month: Some(plan.month),
                    reference: Some(reference.clone()),
                    off_plan_reason: None,
                }),
                idempotency_key: Some(key),
            })
        })
        .collect()
}

/// The plan of a month against what was dispatched for it (`plan status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PlanStatus {
    /// The plan month M.
    pub month: Month,
    /// The seq of the latest `plan_issued` of M (null when M has no issued plan).
    pub plan_seq: Option<u64>,
    /// The seq the issued plan was computed at (null when none is issued).
    pub based_on_seq: Option<u64>,
    /// The seq of the last record counted (the state's head).
    pub at_seq: u64,
    /// Sum of the lines' funded amounts.
    pub total_funded: Money,
    /// Sum of every unreversed transfer with `plan_month` M (on a line or off plan).
    pub total_dispatched: Money,
    /// Sum of the lines' remaining amounts.
    pub total_remaining: Money,
    /// Sum of the lines' over-plan amounts.
    pub total_over_plan: Money,
    /// The issued plan's lines, in its order, each with what was dispatched on it.
    pub lines: Vec<StatusLine>,
    /// Transfers with `plan_month` M that no line covers, or that go beyond their
    /// line, in seq order.
    pub off_plan: Vec<OffPlan>,
}

/// One plan line against the transfers dispatched for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StatusLine {
    /// The county.
    pub county: CountyId,
    /// The fund.
    pub fund: Fund,
    /// The fiscal year.
    pub fiscal_year: FiscalYear,
    /// Funded in the plan.
    pub funded: Money,
    /// Unreversed transfers with `plan_month` M on this (county, fund, fiscal year).
    pub dispatched: Money,
    /// max(0, funded − dispatched).
    pub remaining: Money,
    /// max(0, dispatched − funded).
    pub over_plan: Money,
}

/// Why a transfer is off plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OffPlanWhy {
    /// Its `plan_month` has no issued plan.
    NoIssuedPlan,
    /// The issued plan has no line for its (county, fund, fiscal year).
    NoLine,
    /// With it, its line's dispatched exceeds the line's funded amount (it is also
    /// counted on the line).
    BeyondLine,
}

/// A transfer with `plan_month` M outside the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct OffPlan {
    /// The transfer's record.
    pub seq: u64,
    /// The county.
    pub county: CountyId,
    /// The fund.
    pub fund: Fund,
    /// The fiscal year.
    pub fiscal_year: FiscalYear,
    /// The transfer's amount.
    pub amount: Money,
    /// The transfer's `plan_month`.
    pub plan_month: Month,
    /// Why it is off plan.
    pub why: OffPlanWhy,
    /// The reason the transfer gave for going beyond its line (its
    /// `off_plan_reason`; null when it gave none).
    pub off_plan_reason: Option<Text>,
}

/// The plan of `month` against the log folded in `state`. `issued` is the latest
/// `plan_issued` of the month (its record's seq) with its plan recomputed at its
/// `based_on_seq`, or `None` when the month has no issued plan. Reversed transfers
/// count nowhere.
pub fn plan_status(state: &State, month: Month, issued: Option<(u64, &Plan)>) -> PlanStatus {
    let mut lines: Vec<StatusLine> = issued
        .map(|(_, p)| {
            p.lines
                .iter()
                .map(|l| StatusLine {
                    county: l.county.clone(),
                    fund: l.fund,
                    fiscal_year: l.fiscal_year,
                    funded: l.funded,
                    dispatched: Money::ZERO,
                    remaining: Money::ZERO,
                    over_plan: Money::ZERO,
                })
                .collect()
        })
        .unwrap_or_default();
    let index: BTreeMap<(CountyId, Fund, FiscalYear), usize> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| ((l.county.clone(), l.fund, l.fiscal_year), i))
        .collect();
    let mut off_plan = Vec::new();
    let mut total_dispatched = Money::ZERO;
    for t in state
        .plan_transfers
        .iter()
        .filter(|t| t.plan_month == month && !state.is_reversed(t.seq))
    {
        total_dispatched += t.amount;
        let off = |why| OffPlan {
            seq: t.seq,
            county: t.county.clone(),
            fund: t.fund,
            fiscal_year: t.fiscal_year,
            amount: t.amount,
            plan_month: t.plan_month,
            why,
            off_plan_reason: t.off_plan_reason.clone(),
        };
        if issued.is_none() {
            off_plan.push(off(OffPlanWhy::NoIssuedPlan));
            continue;
        }
        match index.get(&(t.county.clone(), t.fund, t.fiscal_year)) {
            None => off_plan.push(off(OffPlanWhy::NoLine)),
            Some(&i) => {
                let l = &mut lines[i];
                l.dispatched += t.amount;
                if l.dispatched > l.funded {
                    off_plan.push(off(OffPlanWhy::BeyondLine));
                }
            }
        }
    }
    for l in &mut lines {
        l.remaining = (l.funded - l.dispatched).clamp_zero();
        l.over_plan = (l.dispatched - l.funded).clamp_zero();
    }
    PlanStatus {
        month,
        plan_seq: issued.map(|(s, _)| s),
        based_on_seq: issued.map(|(_, p)| p.based_on_seq),
        at_seq: state.head_seq,
        total_funded: lines.iter().map(|l| l.funded).sum(),
        total_dispatched,
        total_remaining: lines.iter().map(|l| l.remaining).sum(),
        total_over_plan: lines.iter().map(|l| l.over_plan).sum(),
        lines,
        off_plan,
    }
}
