//! What the state keeps of each county and of the city's risk lines: accounts as
//! [`DayMap`]s, fund ledgers, needs, wage bills, payroll months and reports, with the
//! dated sums the rules and queries read from them.
//!
//! Guarantees: every sum here is exact and "as of a date" means net of reversals
//! dated on or before it; nothing here mutates except through the fold
//! ([`super::evolve`]).

use super::DayMap;
use crate::event::{EmergencyRequested, ScheduleItem};
use crate::money::{Money, Ratio};
use crate::values::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Thresholds of the guarantee level, in months of outflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lines {
    /// Below it: `warning`.
    pub warning_line: Ratio,
    /// Below it: `low`.
    pub alert_line: Ratio,
    /// Above it: `idle`.
    pub idle_line: Ratio,
}

/// A `risk_lines_set` as held in the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinesEntry {
    /// Effective from this date.
    pub effective_from: Date,
    /// Seq of the record (breaks ties on the same date).
    pub seq: u64,
    /// The lines.
    pub lines: Lines,
}

/// A `planning_policy_set` as held in the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEntry {
    /// Effective from this date.
    pub effective_from: Date,
    /// Seq of the record (breaks ties on the same date).
    pub seq: u64,
    /// The policy set.
    pub policy: PlanningPolicy,
}

/// A `notice_issued` (提示函) as held in the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeEntry {
    /// Seq of the record.
    pub seq: u64,
    /// The county warned.
    pub county: CountyId,
    /// The month it is about.
    pub month: Month,
    /// Its document number.
    pub doc_number: Text,
    /// The status warned of.
    pub status: NoticeStatus,
    /// The level warned of.
    pub guarantee_level: Ratio,
    /// The day it was sent.
    pub issued_on: Date,
    /// Set once reversed: the reversal's date.
    pub reversed_on: Option<Date>,
}

/// An `emergency_requested` (应急调度申请) as held in the state, with what became of
/// it (contract v2, issue 18).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEntry {
    /// Seq of the request's record.
    pub seq: u64,
    /// The request.
    pub request: EmergencyRequested,
    /// Who recorded it (the record's `recorded_by`).
    pub requested_by: Option<String>,
    /// Set once approved.
    pub approval: Option<ApprovalEntry>,
    /// Set once withdrawn (reversed): the reversal's date.
    pub reversed_on: Option<Date>,
}

/// The approval of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalEntry {
    /// Seq of the `emergency_approved` record (its dispatch is the record after it).
    pub seq: u64,
    /// Who approved it (the record's `recorded_by`).
    pub approved_by: Option<String>,
    /// The approval's date.
    pub approved_on: Date,
}

/// An `approval_limit_set` as held in the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitEntry {
    /// Seq of the record.
    pub seq: u64,
    /// The largest direct emergency dispatch.
    pub amount: Money,
    /// Effective from this date.
    pub effective_from: Date,
}

/// A `policy_proposed` (issue 19) as held in the state, with its decision once one
/// is recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalEntry {
    /// Seq of the record (what `assess --proposal` and `assessment_decided` name).
    pub seq: u64,
    /// The county that proposes.
    pub county: CountyId,
    /// What is proposed.
    pub title: Text,
    /// Its category.
    pub category: ProposalCategory,
    /// What it adds to the monthly need.
    pub monthly_cost: Money,
    /// The first month it costs.
    pub starts: Month,
    /// The day it was proposed.
    pub proposed_on: Date,
    /// The decision, once recorded.
    pub decision: Option<DecisionEntry>,
}

/// An `assessment_decided` as held on its proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionEntry {
    /// Seq of the decision's record.
    pub seq: u64,
    /// Approved or rejected.
    pub decision: AssessmentDecision,
    /// The day of the decision.
    pub decided_on: Date,
}

/// A `response_plan_filed` (一县一策, issue 19) as held in the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsePlanEntry {
    /// Seq of the record.
    pub seq: u64,
    /// The county.
    pub county: CountyId,
    /// The day it was filed (in force from then).
    pub filed_on: Date,
    /// The last day it is in force.
    pub valid_until: Date,
    /// Its measures.
    pub measures: Text,
    /// Its document reference.
    pub reference: Text,
}

/// A dated amount that a reversal may cancel from its own date onward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Seq of the record.
    pub seq: u64,
    /// Effective date.
    pub date: Date,
    /// Amount.
    pub amount: Money,
    /// Date of the reversal cancelling it, if reversed.
    pub reversed_on: Option<Date>,
}

impl Entry {
    /// True when the entry counts for figures "with date ≤ d" (SPEC §8.16): dated ≤ d
    /// and not reversed on or before d.
    pub fn live_at(&self, d: Date) -> bool {
        self.date <= d && self.reversed_on.map_or(true, |r| r > d)
    }

    /// The amount if [`Entry::live_at`] `d`, else zero.
    pub fn at(&self, d: Date) -> Money {
        if self.live_at(d) {
            self.amount
        } else {
            Money::ZERO
        }
    }
}

/// An `allocation_notified` in the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    /// Seq, date (notified_on), amount, reversal.
    pub entry: Entry,
    /// Monthly schedule (pre_notified only), sorted by month.
    pub schedule: Option<Vec<ScheduleItem>>,
}

/// Entitlements and dispatches of one (county, fiscal year, fund).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundLedger {
    /// Total entitled over the whole log, net of reversals (rule 3).
    pub entitled_total: Money,
    /// Total dispatched over the whole log, net of reversals (rule 3).
    pub dispatched_total: Money,
    /// Every allocation, in seq order.
    pub entitlements: Vec<Entitlement>,
    /// Every dispatch (transfers; for `general` also emergency advances), in seq order.
    pub dispatches: Vec<Entry>,
}

impl FundLedger {
    /// Entitlement notified on or before `d` (net of reversals dated ≤ d).
    pub fn entitled_at(&self, d: Date) -> Money {
        self.entitlements.iter().map(|e| e.entry.at(d)).sum()
    }

    /// Dispatched with value date ≤ `d` (net of reversals dated ≤ d).
    pub fn dispatched_at(&self, d: Date) -> Money {
        self.dispatches.iter().map(|e| e.at(d)).sum()
    }

    /// Scheduled amounts of months ≤ `m` of the allocations live at `cutoff`.
    pub fn scheduled_through(&self, m: Month, cutoff: Date) -> Money {
        self.entitlements
            .iter()
            .filter(|e| e.entry.live_at(cutoff))
            .flat_map(|e| e.schedule.iter().flatten())
            .filter(|i| i.month <= m)
            .map(|i| i.amount)
            .sum()
    }

    /// The earliest date of any allocation or dispatch (SPEC §8.19).
    pub fn first_date(&self) -> Option<Date> {
        let a = self.entitlements.iter().map(|e| e.entry.date).min();
        let b = self.dispatches.iter().map(|e| e.date).min();
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What the whole log still allows to dispatch: entitled − dispatched totals.
    pub fn remaining_total(&self) -> Money {
        self.entitled_total - self.dispatched_total
    }
}

/// A `needs_budgeted` in the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    /// Seq, date (budgeted_on), annual amount, reversal.
    pub entry: Entry,
    /// Fiscal year.
    pub fiscal_year: FiscalYear,
    /// Category.
    pub category: NeedCategory,
    /// Optional monthly schedule, sorted by month.
    pub schedule: Option<Vec<ScheduleItem>>,
}

impl Need {
    /// The need of month `m` (zero outside the fiscal year): the scheduled amount, or
    /// floor_cent(amount / 12) with December also taking the remainder.
    pub fn of_month(&self, m: Month) -> Money {
        if m.year() != self.fiscal_year.get() {
            return Money::ZERO;
        }
        match &self.schedule {
            Some(s) => s.iter().filter(|i| i.month == m).map(|i| i.amount).sum(),
            None => {
                let each = crate::money::floor_cent_div(self.entry.amount, 12);
                if m.number() == 12 {
                    self.entry.amount - Money::from_cents(each.cents() * 11)
                } else {
                    each
                }
            }
        }
    }
}

/// A `wage_bill_declared` in the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WageBill {
    /// Effective date.
    pub declared_on: Date,
    /// Seq (breaks ties).
    pub seq: u64,
    /// The wage bill.
    pub amount: Money,
    /// Payday.
    pub payday: Date,
}

/// A `balance_reported` in the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The day the balance is for.
    pub on: Date,
    /// Seq (breaks ties).
    pub seq: u64,
    /// Reported balance.
    pub balance: Money,
}

/// Deposits into and payments out of the wage reserve for one payroll month.
///
/// Held as one short list of net moves by (date, kind) — a month has a deposit or
/// two and a payment — rather than two [`DayMap`]s: a county holds one per month.
/// No zero move is kept, so two months with the same effect compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayrollMonth {
    /// Net amounts by (date, kind), sorted, never zero.
    moves: Vec<PayMove>,
}

/// One net move of a payroll month: deposits or payments of one date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct PayMove {
    on: Date,
    /// True for wages paid, false for deposits.
    paid: bool,
    amount: Money,
}

impl PayrollMonth {
    /// Bytes its moves hold on the heap (for [`super::State::footprint`]).
    pub fn heap_bytes(&self) -> usize {
        self.moves.capacity() * std::mem::size_of::<PayMove>()
    }

    /// Deposits dated ≤ `d` (reversals negative on their date).
    pub fn deposited_through(&self, d: Date) -> Money {
        self.through(false, d)
    }

    /// Wages paid dated ≤ `d` (reversals negative on their date).
    pub fn paid_through(&self, d: Date) -> Money {
        self.through(true, d)
    }

    /// The first day of the run, reaching `d`, on which the deposits (`paid` false) or
    /// the payments (`paid` true) dated up to the day covered `bill`: `None` when they
    /// fall short on `d`. A sum that reached `bill`, fell below it (a reversal) and
    /// reached it again dates from the second time.
    pub fn covered_since(&self, paid: bool, bill: Money, d: Date) -> Option<Date> {
        let mut sum = Money::ZERO;
        let mut since = None;
        for m in self
            .moves
            .iter()
            .take_while(|m| m.on <= d)
            .filter(|m| m.paid == paid)
        {
            sum += m.amount;
            since = match (since, sum >= bill) {
                (None, true) => Some(m.on),
                (Some(s), true) => Some(s),
                (_, false) => None,
            };
        }
        since
    }

    /// The date of the latest deposit or payment (or reversal of one), if any.
    pub fn last_date(&self) -> Option<Date> {
        self.moves.last().map(|m| m.on)
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.moves.is_empty()
    }

    fn through(&self, paid: bool, d: Date) -> Money {
        self.moves
            .iter()
            .take_while(|m| m.on <= d)
            .filter(|m| m.paid == paid)
            .map(|m| m.amount)
            .sum()
    }

    /// Adds `x` to the deposits (`paid` false) or payments of date `on`.
    pub(super) fn add(&mut self, on: Date, paid: bool, x: Money) {
        if x == Money::ZERO {
            return;
        }
        let key = (on, paid);
        match self.moves.binary_search_by(|m| (m.on, m.paid).cmp(&key)) {
            Ok(i) => {
                self.moves[i].amount += x;
                if self.moves[i].amount == Money::ZERO {
                    self.moves.remove(i);
                }
            }
            Err(i) => self.moves.insert(
                i,
                PayMove {
                    on,
                    paid,
                    amount: x,
                },
            ),
        }
    }
}

/// Everything the state holds about one county.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct County {
    /// Id.
    pub id: CountyId,
    /// Display name.
    pub name: Text,
    /// Registration date.
    pub registered_on: Date,
    /// 库款: treasury day deltas (opening balance included).
    pub treasury: DayMap,
    /// 工资库款保障户: wage reserve day deltas (opening balance included).
    pub wage_reserve: DayMap,
    /// Entitlements and dispatches by (fiscal year, fund).
    pub funds: BTreeMap<(FiscalYear, Fund), FundLedger>,
    /// expenditure_paid + wages_paid by date.
    pub outflow: DayMap,
    /// expenditure_paid by category (in [`ExpenditureCategory`]'s order: livelihood,
    /// operations, debt_service, other) by date; `outflow` minus their sum is wages
    /// paid. Kept since snapshot format 6 (issue 19: budget re-review, restrictions).
    pub spent: [DayMap; 4],
    /// revenue_collected by date.
    pub revenue: DayMap,
    /// Payroll deposits and payments by payroll month.
    pub payroll: BTreeMap<Month, PayrollMonth>,
    /// Wage bill declarations with their payroll month, sorted by (month, seq).
    pub wage_bills: Vec<(Month, WageBill)>,
    /// Budgeted needs, in seq order.
    pub needs: Vec<Need>,
    /// Reported balances: `[treasury, wage_reserve]`, in seq order.
    pub reports: [Vec<Report>; 2],
    /// County-specific risk lines, in seq order.
    pub risk_lines: Vec<LinesEntry>,
}

impl County {
    /// Day-end cash (treasury + wage reserve) on `d`.
    pub fn cash_at(&self, d: Date) -> Money {
        self.treasury.through(d) + self.wage_reserve.through(d)
    }

    /// The account of that kind.
    pub fn account(&self, k: AccountKind) -> &DayMap {
        match k {
            AccountKind::Treasury => &self.treasury,
            AccountKind::WageReserve => &self.wage_reserve,
        }
    }

    /// The county's monthly need for month `m` counting needs budgeted on or before
    /// `cutoff` (net of reversals), over all categories or one.
    pub fn need_of_month(&self, m: Month, cutoff: Date, category: Option<NeedCategory>) -> Money {
        self.needs
            .iter()
            .filter(|n| n.entry.live_at(cutoff) && category.map_or(true, |c| c == n.category))
            .map(|n| n.of_month(m))
            .sum()
    }

    /// The wage bill of `m` declared on or before `cutoff`: the greatest declared_on,
    /// then the greatest seq, wins.
    pub fn wage_bill(&self, m: Month, cutoff: Date) -> Option<WageBill> {
        let from = self.wage_bills.partition_point(|(bm, _)| *bm < m);
        self.wage_bills[from..]
            .iter()
            .take_while(|(bm, _)| *bm == m)
            .map(|(_, b)| b)
            .filter(|b| b.declared_on <= cutoff)
            .max_by_key(|b| (b.declared_on, b.seq))
            .copied()
    }
}
