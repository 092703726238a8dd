//! SPEC §6.2 `monitor` (库款监测): each county's guarantee level (库款保障水平) and
//! status against the risk lines in force, the payroll table with deposit deadlines a
//! week before payday, direct funds still sitting at the city, reported balances that
//! disagree with the computed ones, and the watch list (重点关注地区).
//!
//! Guarantees:
//! - a pure function of the folded [`State`] and `as_of`: no I/O, no clock, no hash-map
//!   order; the same state and date always give the same bytes of JSON;
//! - serde_json output is exactly the object of SPEC §6.2: amounts with two decimals,
//!   levels and lines with four, `null` where the SPEC says null;
//! - list orders are those of §8.20: counties and watchlist by county id, payroll by
//!   (county, payroll_month), direct_overdue by (county, fiscal_year), discrepancies by
//!   (county, account) with treasury first;
//! - every dated figure follows §8.16 (a reversal is an opposite flow on its `on` date).
//!
//! Readings of the SPEC chosen here (where it leaves a choice):
//! - Only counties registered on or before as_of appear anywhere (§8.17), in every list.
//! - `payroll` rows are for as_of's month and the next, each only when a wage bill for
//!   it is declared on or before as_of (§8.18). A month beyond 2099-12 has no row.
//! - `direct_overdue`: the entitlement side is taken as of as_of − 1 day (so an
//!   allocation notified on as_of itself is not yet overdue, and a reversal of one dated
//!   as_of still counts it), the dispatch side as of as_of.
//! - `discrepancies`: the computed balance is that of the report's own `on` date, as
//!   known at the state's `at_seq` (so a later backdated record can create or resolve a
//!   discrepancy, which is the point of the check).
//! - With an empty log and no `as_of` given, `as_of` is `null` and every list is empty
//!   (§8.26).

use crate::money::{Money, Ratio};
use crate::query::{avg_monthly_outflow, Status};
use crate::state::{County, Report, State};
use crate::values::{AccountKind, CountyId, Date, FiscalYear, Fund, Month};
use serde::Serialize;

/// The `monitor` object of SPEC §6.2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Monitor {
    /// The business date monitored (`null` only for an empty log with no date given).
    pub as_of: Option<Date>,
    /// The last record the figures know about (the state's head).
    pub at_seq: u64,
    /// Guarantee level and status of every county registered on or before as_of.
    pub counties: Vec<MonitorCounty>,
    /// Wage bills of as_of's month and the next, with their funding state.
    pub payroll: Vec<PayrollRow>,
    /// Direct funds notified but not yet dispatched.
    pub direct_overdue: Vec<DirectOverdue>,
    /// Reported balances that disagree with the computed ones.
    pub discrepancies: Vec<Discrepancy>,
    /// 重点关注地区: counties with at least one reason for attention.
    pub watchlist: Vec<WatchEntry>,
}

/// One county's guarantee level and the lines in force on as_of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MonitorCounty {
    /// County id.
    pub county: CountyId,
    /// Day-end cash (treasury + wage reserve) on as_of.
    pub cash: Money,
    /// Average monthly outflow over the window, or the month's budgeted need, or `null`.
    pub avg_monthly_outflow: Option<Money>,
    /// round4(cash / avg_monthly_outflow), or `null`.
    pub guarantee_level: Option<Ratio>,
    /// Status against the lines in force.
    pub status: Status,
    /// Warning line in force.
    pub warning_line: Ratio,
    /// Alert line in force.
    pub alert_line: Ratio,
    /// Idle line in force.
    pub idle_line: Ratio,
}

/// One row of the payroll table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PayrollRow {
    /// County id.
    pub county: CountyId,
    /// The payroll month.
    pub payroll_month: Month,
    /// The wage bill of the latest declaration on or before as_of.
    pub wage_bill: Money,
    /// Its payday.
    pub payday: Date,
    /// payday − 7 days: the wage reserve must be funded by then.
    pub deposit_deadline: Date,
    /// Deposits for this payroll month dated ≤ as_of.
    pub deposited: Money,
    /// Wages paid for this payroll month dated ≤ as_of.
    pub paid: Money,
    /// max(0, wage_bill − deposited).
    pub shortfall: Money,
    /// paid / funded / late / due.
    pub status: PayrollStatus,
}

/// The state of one month's payroll on as_of (SPEC §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayrollStatus {
    /// paid ≥ wage_bill.
    Paid,
    /// Not yet paid in full, but deposited ≥ wage_bill.
    Funded,
    /// Not funded, and as_of is past the deposit deadline.
    Late,
    /// Not funded, and the deadline has not passed yet.
    Due,
}

impl PayrollStatus {
    /// Classifies a payroll month (the order of the tests is the SPEC's).
    pub fn of(
        wage_bill: Money,
        deposited: Money,
        paid: Money,
        as_of: Date,
        deadline: Date,
    ) -> Self {
        if paid >= wage_bill {
            PayrollStatus::Paid
        } else if deposited >= wage_bill {
            PayrollStatus::Funded
        } else if as_of > deadline {
            PayrollStatus::Late
        } else {
            PayrollStatus::Due
        }
    }

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PayrollStatus::Paid => "paid",
            PayrollStatus::Funded => "funded",
            PayrollStatus::Late => "late",
            PayrollStatus::Due => "due",
        }
    }
}

/// Direct funds of one (county, fiscal year) notified but not dispatched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DirectOverdue {
    /// County id.
    pub county: CountyId,
    /// Fiscal year of the entitlement.
    pub fiscal_year: FiscalYear,
    /// Direct entitlement notified on or before as_of − 1 day, minus direct dispatched
    /// on or before as_of (> 0).
    pub undispatched: Money,
}

/// A reported balance that disagrees with the computed one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Discrepancy {
    /// County id.
    pub county: CountyId,
    /// Which account.
    pub account: AccountKind,
    /// The day the balance is for.
    pub on: Date,
    /// The balance the treasury system reported.
    pub reported: Money,
    /// sanbao's day-end balance of that account on `on`.
    pub computed: Money,
}

/// One county on the watch list with its reasons, in the SPEC's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WatchEntry {
    /// County id.
    pub county: CountyId,
    /// At least one reason, in the order of [`Reason`].
    pub reasons: Vec<Reason>,
}

/// Why a county is on the watch list. The declaration order is the SPEC's order of
/// reasons, and also `Ord`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Status `warning` (only; `low` is not a reason, §8.21).
    GuaranteeLevelWarning,
    /// A payroll row with status `late`.
    PayrollLate,
    /// A `direct_overdue` row.
    DirectOverdue,
    /// A `discrepancies` row.
    Discrepancy,
}

impl Reason {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::GuaranteeLevelWarning => "guarantee_level_warning",
            Reason::PayrollLate => "payroll_late",
            Reason::DirectOverdue => "direct_overdue",
            Reason::Discrepancy => "discrepancy",
        }
    }
}

/// Computes SPEC §6.2 over `state` (already folded up to the wanted `at_seq`).
///
/// `as_of` defaults to the greatest effective date in the state (§8.23).
pub fn monitor(state: &State, as_of: Option<Date>) -> Monitor {
    let as_of = as_of.or(state.max_effective_date);
    let mut m = Monitor {
        as_of,
        at_seq: state.head_seq,
        counties: Vec::new(),
        payroll: Vec::new(),
        direct_overdue: Vec::new(),
        discrepancies: Vec::new(),
        watchlist: Vec::new(),
    };
    let Some(d) = as_of else { return m };
    // `State::counties` iterates by id, and each county's rows are pushed in their own
    // order, so every list comes out in the order of §8.20 without sorting.
    for c in state.counties().filter(|c| c.registered_on <= d) {
        let row = county_row(state, c, d);
        let payroll = payroll_rows(c, d);
        let overdue = direct_overdue(c, d);
        let disc = discrepancies(c, d);

        let mut reasons = Vec::new();
        if row.status == Status::Warning {
            reasons.push(Reason::GuaranteeLevelWarning);
        }
        if payroll.iter().any(|p| p.status == PayrollStatus::Late) {
            reasons.push(Reason::PayrollLate);
        }
        if !overdue.is_empty() {
            reasons.push(Reason::DirectOverdue);
        }
        if !disc.is_empty() {
            reasons.push(Reason::Discrepancy);
        }
        if !reasons.is_empty() {
            m.watchlist.push(WatchEntry {
                county: c.id.clone(),
                reasons,
            });
        }
        m.counties.push(row);
        m.payroll.extend(payroll);
        m.direct_overdue.extend(overdue);
        m.discrepancies.extend(disc);
    }
    m
}

/// The county's level, status and lines in force on `d`.
fn county_row(state: &State, c: &County, d: Date) -> MonitorCounty {
    let cash = c.cash_at(d);
    let avg = avg_monthly_outflow(c, d);
    let level = avg.and_then(|a| Ratio::of(cash, a));
    let lines = state.lines_at(c, d);
    MonitorCounty {
        county: c.id.clone(),
        cash,
        avg_monthly_outflow: avg,
        guarantee_level: level,
        status: Status::of(level, &lines),
        warning_line: lines.warning_line,
        alert_line: lines.alert_line,
        idle_line: lines.idle_line,
    }
}

/// Payroll rows of `d`'s month and the next, for the wage bills declared by `d`.
fn payroll_rows(c: &County, d: Date) -> Vec<PayrollRow> {
    let this = d.month();
    [Some(this), this.add(1)]
        .into_iter()
        .flatten()
        .filter_map(|pm| {
            let bill = c.wage_bill(pm, d)?;
            let (deposited, paid) = c.payroll.get(&pm).map_or((Money::ZERO, Money::ZERO), |p| {
                (p.deposited.through(d), p.paid.through(d))
            });
            let deadline = bill.payday.add_days(-7);
            Some(PayrollRow {
                county: c.id.clone(),
                payroll_month: pm,
                wage_bill: bill.amount,
                payday: bill.payday,
                deposit_deadline: deadline,
                deposited,
                paid,
                shortfall: (bill.amount - deposited).clamp_zero(),
                status: PayrollStatus::of(bill.amount, deposited, paid, d, deadline),
            })
        })
        .collect()
}

/// Direct funds per fiscal year: notified by `d − 1`, minus dispatched by `d`, when > 0.
fn direct_overdue(c: &County, d: Date) -> Vec<DirectOverdue> {
    let day_before = d.add_days(-1);
    c.funds
        .iter()
        .filter(|((_, fund), _)| *fund == Fund::Direct)
        .filter_map(|(&(fiscal_year, _), l)| {
            let undispatched = l.entitled_at(day_before) - l.dispatched_at(d);
            undispatched.is_positive().then(|| DirectOverdue {
                county: c.id.clone(),
                fiscal_year,
                undispatched,
            })
        })
        .collect()
}

/// The latest report on or before `d` of each account (greatest `on`, then greatest
/// seq), when it disagrees with the computed day-end balance of its date.
fn discrepancies(c: &County, d: Date) -> Vec<Discrepancy> {
    [AccountKind::Treasury, AccountKind::WageReserve]
        .into_iter()
        .filter_map(|account| {
            let r: &Report = c.reports[account as usize]
                .iter()
                .filter(|r| r.on <= d)
                .max_by_key(|r| (r.on, r.seq))?;
            let computed = c.account(account).through(r.on);
            (computed != r.balance).then(|| Discrepancy {
                county: c.id.clone(),
                account,
                on: r.on,
                reported: r.balance,
                computed,
            })
        })
        .collect()
}
