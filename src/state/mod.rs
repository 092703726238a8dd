//! The folded state of the log and every business rule of SPEC §3.
//!
//! - [`State::check`] decides: it holds every rule and never mutates.
//! - [`State::apply`] evolves: it never fails (an old log always replays, even after
//!   rules tighten) and returns an [`Undo`] that [`State::undo`] uses to take the
//!   record back exactly (the writer does this when a later event of a batch is
//!   rejected or the disk write fails).
//!
//! - `State` and everything it holds implement serde (`src/state/snapshot.rs`):
//!   a bincode snapshot decodes to an equal state that folds on identically.
//!
//! Guarantees: pure and deterministic (no I/O, no clock); counties iterate by id;
//! after `check` accepted an event and `apply` applied it, no account has a negative
//! day-end balance on any date, and no (county, fund, fiscal year) has dispatched
//! more than its entitlement (both asserted by tests over random histories).

mod county_index;
pub mod daymap;
mod snapshot;

use crate::event::*;
use crate::money::{Money, Ratio};
use crate::record::Record;
use crate::values::*;
use county_index::CountyIndex;
pub use daymap::DayMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default risk lines before any `risk_lines_set`: 0.3, 0.5, 1.5.
pub const DEFAULT_LINES: Lines = Lines {
    warning_line: Ratio::from_units(3000),
    alert_line: Ratio::from_units(5000),
    idle_line: Ratio::from_units(15000),
};

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
    /// Deposits dated ≤ `d` (reversals negative on their date).
    pub fn deposited_through(&self, d: Date) -> Money {
        self.through(false, d)
    }

    /// Wages paid dated ≤ `d` (reversals negative on their date).
    pub fn paid_through(&self, d: Date) -> Money {
        self.through(true, d)
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
    fn add(&mut self, on: Date, paid: bool, x: Money) {
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

/// Where a reversible record's effect lives, so a reversal can cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Effect {
    CityFunds,
    Allocation {
        county: u32,
        key: (FiscalYear, Fund),
        idx: u32,
    },
    Transfer {
        county: u32,
        key: (FiscalYear, Fund),
        idx: u32,
    },
    Grant {
        county: u32,
    },
    Advance {
        county: u32,
        key: (FiscalYear, Fund),
        idx: u32,
    },
    Deposit {
        county: u32,
        month: Month,
    },
    WagesPaid {
        county: u32,
        month: Month,
    },
    Revenue {
        county: u32,
    },
    Expenditure {
        county: u32,
    },
    Needs {
        county: u32,
        idx: u32,
    },
}

/// A reversible record as the state remembers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Target {
    date: Date,
    amount: Money,
    effect: Effect,
    reversed_on: Option<Date>,
}

/// A [`Target`] as stored, one per record: 32 bytes instead of 48. The amount is
/// held in `i64` cents; an amount that does not fit (never one sanbao accepts: they
/// are at most 13 integer digits) is kept exactly in [`State`]'s `wide_amounts` and
/// marked here with [`WIDE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Slot {
    amount: i64,
    date: Date,
    reversed_on: Option<Date>,
    effect: Effect,
}

/// `Slot::amount` of a target whose amount is in `wide_amounts`.
const WIDE: i64 = i64::MIN;

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
    /// Counties in registration order; see [`State::counties`] for id order.
    counties: Vec<County>,
    /// County index by id (iterates in id order).
    county_index: CountyIndex,
    /// City-wide risk lines, in seq order.
    pub city_risk_lines: Vec<LinesEntry>,
    /// Every `plan_issued`, in seq order, with its seq.
    pub plans_issued: Vec<(u64, PlanIssued)>,
    /// Reversible records by seq − 1 (None for other kinds).
    targets: Vec<Option<Slot>>,
    /// Amounts of targets that do not fit in a [`Slot`], by seq.
    wide_amounts: BTreeMap<u64, Money>,
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

/// Consulted by [`State::check`] for `plan_issued`: recomputes the plan hash of a
/// month at a seq. The writer supplies it (it may need the log to rebuild an older
/// state); `None` means plans cannot be checked here.
pub trait PlanOracle {
    /// The plan_sha256 of `month` at `based_on_seq`, or why it cannot be computed.
    fn plan_sha256(
        &mut self,
        state: &State,
        month: Month,
        based_on_seq: u64,
    ) -> Result<Sha256Hex, String>;
}

/// An oracle that refuses every plan (used where the planner is unavailable).
pub struct NoPlans;

impl PlanOracle for NoPlans {
    fn plan_sha256(&mut self, _: &State, _: Month, _: u64) -> Result<Sha256Hex, String> {
        Err("plans cannot be verified here".into())
    }
}

fn err(field: &str, reason: String) -> EventError {
    EventError::field(field, reason)
}

impl State {
    /// An empty state (no records).
    pub fn new() -> State {
        State::default()
    }

    /// Counties in id order.
    pub fn counties(&self) -> impl Iterator<Item = &County> + '_ {
        self.county_index
            .in_id_order()
            .map(|i| &self.counties[i as usize])
    }

    /// One county by id.
    pub fn county(&self, id: &CountyId) -> Option<&County> {
        self.county_index
            .get(id)
            .map(|i| &self.counties[i as usize])
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

    /// True when record `seq` is reversible, applied and already reversed.
    pub fn is_reversed(&self, seq: u64) -> bool {
        self.target(seq).is_some_and(|t| t.reversed_on.is_some())
    }

    fn target(&self, seq: u64) -> Option<Target> {
        let i = usize::try_from(seq.checked_sub(1)?).ok()?;
        let s = (*self.targets.get(i)?)?;
        Some(self.unpack(seq, s))
    }

    /// The target a slot holds (its amount from `wide_amounts` when marked so).
    fn unpack(&self, seq: u64, s: Slot) -> Target {
        let amount = if s.amount == WIDE {
            self.wide_amounts[&seq]
        } else {
            Money::from_cents(s.amount as i128)
        };
        Target {
            date: s.date,
            amount,
            effect: s.effect,
            reversed_on: s.reversed_on,
        }
    }

    /// Stores a target for record `seq` compactly.
    fn pack(&mut self, seq: u64, t: Target) -> Slot {
        let amount = match i64::try_from(t.amount.cents()) {
            Ok(a) if a != WIDE => a,
            _ => {
                self.wide_amounts.insert(seq, t.amount);
                WIDE
            }
        };
        Slot {
            amount,
            date: t.date,
            reversed_on: t.reversed_on,
            effect: t.effect,
        }
    }

    /// The county named by an event, registered on or before `on` (rule 2).
    fn registered(&self, id: &CountyId, on: Date, field: &str) -> Result<&County, EventError> {
        let c = self
            .county(id)
            .ok_or_else(|| err(field, format!("county {id} is not registered")))?;
        if c.registered_on > on {
            return Err(err(
                field,
                format!(
                    "county {id} is registered from {}, after the event's date {on}",
                    c.registered_on
                ),
            ));
        }
        Ok(c)
    }

    /// Rule 1 for an outflow of `amount` from `acct` on `d`.
    fn keeps_positive(
        acct: &DayMap,
        name: &str,
        d: Date,
        amount: Money,
        field: &str,
    ) -> Result<(), EventError> {
        let (low, at) = acct.min_from(d);
        if low - amount < Money::ZERO {
            let now = acct.through(d);
            let detail = if at == d {
                format!("its balance on {d} is {}", now.grouped())
            } else {
                format!(
                    "its balance on {d} is {}, and later outflows bring it down to {} on {at}",
                    now.grouped(),
                    low.grouped()
                )
            };
            return Err(err(
                field,
                format!(
                    "{} would overdraw {name}: {detail}; it may never go below zero (short by {})",
                    amount.grouped(),
                    (amount - low).grouped()
                ),
            ));
        }
        Ok(())
    }

    /// Rule 3 for a dispatch of `amount` against `(county, fy, fund)`.
    fn within_entitlement(
        &self,
        c: &County,
        fy: FiscalYear,
        fund: Fund,
        amount: Money,
        what: &str,
    ) -> Result<(), EventError> {
        let l = c.funds.get(&(fy, fund));
        let remaining = l.map_or(Money::ZERO, |l| l.remaining_total());
        if amount > remaining {
            let (ent, dis) = l.map_or((Money::ZERO, Money::ZERO), |l| {
                (l.entitled_total, l.dispatched_total)
            });
            return Err(err(
                "amount",
                format!(
                    "{what} of {} exceeds the remaining {} {fy} entitlement of {}: entitled {}, already dispatched {}, remaining {}",
                    amount.grouped(),
                    fund.as_str(),
                    c.id,
                    ent.grouped(),
                    dis.grouped(),
                    remaining.grouped()
                ),
            ));
        }
        Ok(())
    }

    /// Checks every rule of SPEC §3 for `event` as record `seq` (= head + 1) against
    /// this state. Never mutates.
    pub fn check(&self, event: &Event, oracle: &mut dyn PlanOracle) -> Result<(), EventError> {
        let d = event.effective_date();
        if let Some(id) = event.county() {
            if !matches!(event, Event::CountyRegistered(_)) {
                self.registered(id, d, "county")?;
            }
        }
        match event {
            Event::CountyRegistered(e) => {
                if self.county_index.contains_key(&e.county) {
                    return Err(err(
                        "county",
                        format!("county {} is already registered", e.county),
                    ));
                }
            }
            Event::CityFundsReceived(_)
            | Event::AllocationNotified(_)
            | Event::WageBillDeclared(_)
            | Event::RevenueCollected(_)
            | Event::BalanceReported(_)
            | Event::NeedsBudgeted(_)
            | Event::RiskLinesSet(_) => {}
            Event::TransferAllocated(e) => {
                let c = self.registered(&e.county, d, "county")?;
                Self::keeps_positive(&self.city, "city.treasury", d, e.amount, "amount")?;
                self.within_entitlement(c, e.fiscal_year, e.fund, e.amount, "the transfer")?;
            }
            Event::EmergencyDispatched(e) => {
                let c = self.registered(&e.county, d, "county")?;
                Self::keeps_positive(&self.city, "city.treasury", d, e.amount, "amount")?;
                if e.mode == EmergencyMode::Advance {
                    let fy = FiscalYear::new(d.year()).expect("dates are 2000-2099");
                    self.within_entitlement(c, fy, Fund::General, e.amount, "the advance")?;
                }
            }
            Event::PayrollDeposited(e) => {
                let c = self.registered(&e.county, d, "county")?;
                let name = format!("the treasury of {}", e.county);
                Self::keeps_positive(&c.treasury, &name, d, e.amount, "amount")?;
            }
            Event::WagesPaid(e) => {
                let c = self.registered(&e.county, d, "county")?;
                let name = format!("the wage reserve of {}", e.county);
                Self::keeps_positive(&c.wage_reserve, &name, d, e.amount, "amount")?;
            }
            Event::ExpenditurePaid(e) => {
                let c = self.registered(&e.county, d, "county")?;
                let name = format!("the treasury of {}", e.county);
                Self::keeps_positive(&c.treasury, &name, d, e.amount, "amount")?;
            }
            Event::PlanIssued(e) => {
                if e.based_on_seq > self.head_seq {
                    return Err(err(
                        "based_on_seq",
                        format!(
                            "{} is beyond the log's head {}",
                            e.based_on_seq, self.head_seq
                        ),
                    ));
                }
                let sha = oracle
                    .plan_sha256(self, e.month, e.based_on_seq)
                    .map_err(|r| err("plan_sha256", r))?;
                if sha != e.plan_sha256 {
                    return Err(err(
                        "plan_sha256",
                        format!(
                            "does not reproduce: the plan of {} at seq {} hashes to {sha}",
                            e.month, e.based_on_seq
                        ),
                    ));
                }
            }
            Event::EventReversed(e) => self.check_reversal(e)?,
        }
        Ok(())
    }

    fn check_reversal(&self, e: &EventReversed) -> Result<(), EventError> {
        let f = "reverses_seq";
        if e.reverses_seq > self.head_seq {
            return Err(err(
                f,
                format!(
                    "record {} does not exist (the head is {})",
                    e.reverses_seq, self.head_seq
                ),
            ));
        }
        let Some(t) = self.target(e.reverses_seq) else {
            return Err(err(
                f,
                format!(
                    "record {} cannot be reversed: only city_funds_received, allocation_notified, transfer_allocated, emergency_dispatched, payroll_deposited, wages_paid, revenue_collected, expenditure_paid and needs_budgeted can",
                    e.reverses_seq
                ),
            ));
        };
        if let Some(on) = t.reversed_on {
            return Err(err(
                f,
                format!("record {} is already reversed (on {on})", e.reverses_seq),
            ));
        }
        if e.on < t.date {
            return Err(err(
                "on",
                format!(
                    "{} is before the reversed record's own date {}",
                    e.on, t.date
                ),
            ));
        }
        let on = e.on;
        let county = |i: u32| &self.counties[i as usize];
        match t.effect {
            Effect::CityFunds => {
                Self::keeps_positive(&self.city, "city.treasury", on, t.amount, "reverses_seq")?
            }
            Effect::Allocation {
                county: ci, key, ..
            } => {
                let l = &county(ci).funds[&key];
                if l.entitled_total - t.amount < l.dispatched_total {
                    return Err(err(
                        f,
                        format!(
                            "reversing this allocation would leave {} {} {} entitled {} below its dispatched {}",
                            county(ci).id,
                            key.1.as_str(),
                            key.0,
                            (l.entitled_total - t.amount).grouped(),
                            l.dispatched_total.grouped()
                        ),
                    ));
                }
            }
            Effect::Transfer { county: ci, .. }
            | Effect::Grant { county: ci }
            | Effect::Advance { county: ci, .. } => {
                let c = county(ci);
                Self::keeps_positive(
                    &c.treasury,
                    &format!("the treasury of {}", c.id),
                    on,
                    t.amount,
                    f,
                )?;
            }
            Effect::Deposit { county: ci, .. } => {
                let c = county(ci);
                Self::keeps_positive(
                    &c.wage_reserve,
                    &format!("the wage reserve of {}", c.id),
                    on,
                    t.amount,
                    f,
                )?;
            }
            Effect::Revenue { county: ci } => {
                let c = county(ci);
                Self::keeps_positive(
                    &c.treasury,
                    &format!("the treasury of {}", c.id),
                    on,
                    t.amount,
                    f,
                )?;
            }
            Effect::WagesPaid { .. } | Effect::Expenditure { .. } | Effect::Needs { .. } => {}
        }
        Ok(())
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
        if self.targets.len() < idx + 1 {
            self.targets.resize(idx + 1, None);
        }
        let target = self.forward(&rec.event, rec.seq);
        self.targets[idx] = target.map(|t| self.pack(rec.seq, t));
    }

    /// Applies a record (already checked, or read back from the log). Never fails;
    /// an event that names an unknown county (impossible in a log sanbao wrote) only
    /// moves the head.
    pub fn apply(&mut self, rec: &Record) -> Undo {
        let undo = Undo {
            prev_head_seq: self.head_seq,
            prev_head_hash: self.head_hash,
            prev_recorded_at_us: self.last_recorded_at_us,
            prev_max_effective_date: self.max_effective_date,
            new_county: matches!(&rec.event, Event::CountyRegistered(e) if !self.county_index.contains_key(&e.county)),
        };
        self.fold(rec);
        undo
    }

    /// Takes back the last applied record exactly: `rec` is that record (the one
    /// [`State::apply`] answered `u` for).
    pub fn undo(&mut self, u: Undo, rec: &Record) {
        let seq = self.head_seq;
        debug_assert_eq!(rec.seq, seq, "undo the last applied record");
        let idx = (seq - 1) as usize;
        let target = self.targets[idx].take().map(|s| self.unpack(seq, s));
        self.wide_amounts.remove(&seq);
        self.backward(&rec.event, target, u.new_county);
        self.targets.truncate(idx);
        self.head_seq = u.prev_head_seq;
        self.head_hash = u.prev_head_hash;
        self.last_recorded_at_us = u.prev_recorded_at_us;
        self.max_effective_date = u.prev_max_effective_date;
    }

    fn county_idx(&self, id: &CountyId) -> Option<u32> {
        self.county_index.get(id)
    }

    /// Moves money along an effect's flows with `sign` (+1 forward, −1 reversed) on `d`.
    fn flow(&mut self, effect: Effect, amount: Money, d: Date, sign: i128) {
        let x = Money::from_cents(amount.cents() * sign);
        match effect {
            Effect::CityFunds => self.city.add(d, x),
            Effect::Allocation { .. } | Effect::Needs { .. } => {}
            Effect::Transfer { county, .. }
            | Effect::Grant { county }
            | Effect::Advance { county, .. } => {
                self.city.add(d, -x);
                self.counties[county as usize].treasury.add(d, x);
            }
            Effect::Deposit { county, month } => {
                let c = &mut self.counties[county as usize];
                c.treasury.add(d, -x);
                c.wage_reserve.add(d, x);
                c.payroll.entry(month).or_default().add(d, false, x);
            }
            Effect::WagesPaid { county, month } => {
                let c = &mut self.counties[county as usize];
                c.wage_reserve.add(d, -x);
                c.outflow.add(d, x);
                c.payroll.entry(month).or_default().add(d, true, x);
            }
            Effect::Revenue { county } => {
                let c = &mut self.counties[county as usize];
                c.treasury.add(d, x);
                c.revenue.add(d, x);
            }
            Effect::Expenditure { county } => {
                let c = &mut self.counties[county as usize];
                c.treasury.add(d, -x);
                c.outflow.add(d, x);
            }
        }
    }

    /// Sets or clears the reversal mark of an entry-based effect, and adjusts totals.
    fn mark_reversed(&mut self, effect: Effect, amount: Money, on: Option<Date>) {
        let sign = if on.is_some() { -1 } else { 1 };
        let x = Money::from_cents(amount.cents() * sign);
        match effect {
            Effect::Allocation { county, key, idx } => {
                let l = self.counties[county as usize]
                    .funds
                    .get_mut(&key)
                    .expect("ledger");
                l.entitlements[idx as usize].entry.reversed_on = on;
                l.entitled_total += x;
            }
            Effect::Transfer { county, key, idx } | Effect::Advance { county, key, idx } => {
                let l = self.counties[county as usize]
                    .funds
                    .get_mut(&key)
                    .expect("ledger");
                l.dispatches[idx as usize].reversed_on = on;
                l.dispatched_total += x;
            }
            Effect::Needs { county, idx } => {
                self.counties[county as usize].needs[idx as usize]
                    .entry
                    .reversed_on = on;
            }
            _ => {}
        }
    }

    fn forward(&mut self, event: &Event, seq: u64) -> Option<Target> {
        let d = event.effective_date();
        let entry = |amount| Entry {
            seq,
            date: d,
            amount,
            reversed_on: None,
        };
        let county = event.county().and_then(|id| self.county_idx(id));
        let (effect, amount) = match (event, county) {
            (Event::CountyRegistered(e), _) => {
                if county.is_some() {
                    return None;
                }
                let mut c = County {
                    id: e.county.clone(),
                    name: e.name.clone(),
                    registered_on: d,
                    treasury: DayMap::default(),
                    wage_reserve: DayMap::default(),
                    funds: BTreeMap::new(),
                    outflow: DayMap::default(),
                    revenue: DayMap::default(),
                    payroll: BTreeMap::new(),
                    wage_bills: Vec::new(),
                    needs: Vec::new(),
                    reports: [Vec::new(), Vec::new()],
                    risk_lines: Vec::new(),
                };
                c.treasury.add(d, e.opening_treasury);
                c.wage_reserve.add(d, e.opening_wage_reserve);
                self.county_index
                    .insert(e.county.clone(), self.counties.len() as u32);
                self.counties.push(c);
                return None;
            }
            (Event::CityFundsReceived(e), _) => (Effect::CityFunds, e.amount),
            (Event::RiskLinesSet(e), _) if e.county.is_none() => {
                self.city_risk_lines.push(lines_entry(e, seq));
                return None;
            }
            (Event::PlanIssued(e), _) => {
                self.plans_issued.push((seq, e.clone()));
                return None;
            }
            (Event::EventReversed(e), _) => {
                let t = self.target(e.reverses_seq)?;
                if t.reversed_on.is_some() {
                    return None;
                }
                self.flow(t.effect, t.amount, e.on, -1);
                self.mark_reversed(t.effect, t.amount, Some(e.on));
                self.targets[(e.reverses_seq - 1) as usize]
                    .as_mut()
                    .expect("target")
                    .reversed_on = Some(e.on);
                return None;
            }
            (_, None) => return None,
            (Event::AllocationNotified(e), Some(ci)) => {
                let key = (e.fiscal_year, e.fund);
                let l = self.counties[ci as usize].funds.entry(key).or_default();
                l.entitlements.push(Entitlement {
                    entry: entry(e.amount),
                    schedule: e.schedule.clone(),
                });
                l.entitled_total += e.amount;
                let idx = (l.entitlements.len() - 1) as u32;
                (
                    Effect::Allocation {
                        county: ci,
                        key,
                        idx,
                    },
                    e.amount,
                )
            }
            (Event::TransferAllocated(e), Some(ci)) => {
                let key = (e.fiscal_year, e.fund);
                let idx = self.push_dispatch(ci, key, entry(e.amount));
                (
                    Effect::Transfer {
                        county: ci,
                        key,
                        idx,
                    },
                    e.amount,
                )
            }
            (Event::EmergencyDispatched(e), Some(ci)) => match e.mode {
                EmergencyMode::Grant => (Effect::Grant { county: ci }, e.amount),
                EmergencyMode::Advance => {
                    let key = (
                        FiscalYear::new(d.year()).expect("valid year"),
                        Fund::General,
                    );
                    let idx = self.push_dispatch(ci, key, entry(e.amount));
                    (
                        Effect::Advance {
                            county: ci,
                            key,
                            idx,
                        },
                        e.amount,
                    )
                }
            },
            (Event::PayrollDeposited(e), Some(ci)) => (
                Effect::Deposit {
                    county: ci,
                    month: e.payroll_month,
                },
                e.amount,
            ),
            (Event::WagesPaid(e), Some(ci)) => (
                Effect::WagesPaid {
                    county: ci,
                    month: e.payroll_month,
                },
                e.amount,
            ),
            (Event::RevenueCollected(e), Some(ci)) => (Effect::Revenue { county: ci }, e.amount),
            (Event::ExpenditurePaid(e), Some(ci)) => (Effect::Expenditure { county: ci }, e.amount),
            (Event::NeedsBudgeted(e), Some(ci)) => {
                let c = &mut self.counties[ci as usize];
                c.needs.push(Need {
                    entry: entry(e.amount),
                    fiscal_year: e.fiscal_year,
                    category: e.category,
                    schedule: e.schedule.clone(),
                });
                (
                    Effect::Needs {
                        county: ci,
                        idx: (c.needs.len() - 1) as u32,
                    },
                    e.amount,
                )
            }
            (Event::WageBillDeclared(e), Some(ci)) => {
                let bill = WageBill {
                    declared_on: d,
                    seq,
                    amount: e.amount,
                    payday: e.payday,
                };
                let bills = &mut self.counties[ci as usize].wage_bills;
                let key = (e.payroll_month, seq);
                let at = bills.partition_point(|(m, b)| (*m, b.seq) < key);
                bills.insert(at, (e.payroll_month, bill));
                return None;
            }
            (Event::BalanceReported(e), Some(ci)) => {
                let r = Report {
                    on: e.on,
                    seq,
                    balance: e.balance,
                };
                self.counties[ci as usize].reports[e.account as usize].push(r);
                return None;
            }
            (Event::RiskLinesSet(e), Some(ci)) => {
                self.counties[ci as usize]
                    .risk_lines
                    .push(lines_entry(e, seq));
                return None;
            }
        };
        self.flow(effect, amount, d, 1);
        Some(Target {
            date: d,
            amount,
            effect,
            reversed_on: None,
        })
    }

    fn push_dispatch(&mut self, ci: u32, key: (FiscalYear, Fund), e: Entry) -> u32 {
        let l = self.counties[ci as usize].funds.entry(key).or_default();
        l.dispatches.push(e);
        l.dispatched_total += e.amount;
        (l.dispatches.len() - 1) as u32
    }

    fn backward(&mut self, event: &Event, target: Option<Target>, new_county: bool) {
        let county = event.county().and_then(|id| self.county_idx(id));
        match event {
            Event::CountyRegistered(e) => {
                if new_county {
                    self.counties.pop();
                    self.county_index.remove(&e.county);
                }
            }
            Event::RiskLinesSet(e) => {
                if e.county.is_none() {
                    self.city_risk_lines.pop();
                } else if let Some(ci) = county {
                    self.counties[ci as usize].risk_lines.pop();
                }
            }
            Event::PlanIssued(_) => {
                self.plans_issued.pop();
            }
            Event::EventReversed(e) => {
                if let Some(t) = self.target(e.reverses_seq) {
                    if t.reversed_on == Some(e.on) {
                        self.flow(t.effect, t.amount, e.on, 1);
                        self.mark_reversed(t.effect, t.amount, None);
                        self.targets[(e.reverses_seq - 1) as usize]
                            .as_mut()
                            .expect("target")
                            .reversed_on = None;
                    }
                }
            }
            Event::WageBillDeclared(e) => {
                if let Some(ci) = county {
                    let bills = &mut self.counties[ci as usize].wage_bills;
                    let key = (e.payroll_month, self.head_seq);
                    if let Ok(i) = bills.binary_search_by(|(m, b)| (*m, b.seq).cmp(&key)) {
                        bills.remove(i);
                    }
                }
            }
            Event::BalanceReported(e) => {
                if let Some(ci) = county {
                    self.counties[ci as usize].reports[e.account as usize].pop();
                }
            }
            _ => {
                let Some(t) = target else { return };
                self.flow(t.effect, t.amount, t.date, -1);
                match t.effect {
                    Effect::Allocation { county, key, .. } => {
                        let c = &mut self.counties[county as usize];
                        let l = c.funds.get_mut(&key).expect("ledger");
                        l.entitlements.pop();
                        l.entitled_total -= t.amount;
                        if l.entitlements.is_empty() && l.dispatches.is_empty() {
                            c.funds.remove(&key);
                        }
                    }
                    Effect::Transfer { county, key, .. } | Effect::Advance { county, key, .. } => {
                        let c = &mut self.counties[county as usize];
                        let l = c.funds.get_mut(&key).expect("ledger");
                        l.dispatches.pop();
                        l.dispatched_total -= t.amount;
                        if l.entitlements.is_empty() && l.dispatches.is_empty() {
                            c.funds.remove(&key);
                        }
                    }
                    Effect::Needs { county, .. } => {
                        self.counties[county as usize].needs.pop();
                    }
                    Effect::Deposit { county, month } | Effect::WagesPaid { county, month } => {
                        let c = &mut self.counties[county as usize];
                        if c.payroll.get(&month).is_some_and(|p| p.is_empty()) {
                            c.payroll.remove(&month);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

fn lines_entry(e: &RiskLinesSet, seq: u64) -> LinesEntry {
    LinesEntry {
        effective_from: e.effective_from,
        seq,
        lines: Lines {
            warning_line: e.warning_line,
            alert_line: e.alert_line,
            idle_line: e.idle_line,
        },
    }
}

#[cfg(test)]
mod tests;
