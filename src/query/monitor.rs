//! SPEC §6.2 `monitor` (库款监测): each county's guarantee level (库款保障水平) and
//! status against the risk lines in force, the payroll table with deposit deadlines a
//! week before payday, direct funds still sitting at the city, reported balances that
//! disagree with the computed ones, and the watch list (重点关注地区).
//!
//! Guarantees:
//! - a pure function of the folded [`State`] and `as_of`: no I/O, no clock, no hash-map
//!   order; the same state and date always give the same bytes of JSON;
//! - serde_json output is the object of SPEC §6.2 (amounts with two decimals, levels
//!   and lines with four, `null` where the SPEC says null) followed by contract v2's
//!   members (SPEC §9, docs/monitor-v2.md: `arrears`, `payroll_history`,
//!   `watch_history`, `tight_months`, `attention`, and `deposited_on` / `days_late` on
//!   every payroll row, computed in [`crate::query::history`]); no v1 member changes
//!   its value, but the watch list gains the reason `wage_arrears` after the v1 ones;
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
use crate::query::history::{self, Attention, TightMonths, WatchHistory};
use crate::query::oversight::{
    pending_assessments, response_plan_row, restriction_row, PendingAssessment, ResponsePlanRow,
    RestrictionRow,
};
use crate::query::{avg_monthly_outflow, Status};
use crate::state::{County, Report, State};
use crate::values::{AccountKind, CountyId, Date, FiscalYear, Fund, Month, NoticeStatus, Text};
use schemars::JsonSchema;
use serde::Serialize;

pub use crate::query::history::ArrearsRow;

/// The `monitor` object of SPEC §6.2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Monitor {
    /// The business date monitored (`null` only for an empty log with no date given).
    #[schemars(with = "crate::schema::out::Nullable<Date>")]
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
    /// 欠薪 (contract v2): every payroll month past its payday and not paid in full.
    pub arrears: Vec<ArrearsRow>,
    /// The payroll rows of the twelve payroll months up to as_of's (contract v2), so a
    /// late deposit stays on record after its month has passed.
    pub payroll_history: Vec<PayrollRow>,
    /// Each county's spells on the watch list over the twelve months up to as_of
    /// (contract v2), from its daily statuses.
    pub watch_history: Vec<WatchHistory>,
    /// Consecutive months at status `warning` or `low`, up to as_of's (contract v2).
    pub tight_months: Vec<TightMonths>,
    /// 关注: counties at status `low` on as_of (contract v2); not on the watch list.
    pub attention: Vec<Attention>,
    /// 提示函 sent in as_of's month, on or before as_of, and not reversed by then
    /// (`notice_issued`, issue 16), by county, date, seq.
    pub notices: Vec<NoticeRow>,
    /// 一县一策 (issue 19): for each county on the watch list on as_of, whether a
    /// response plan is in force (`filed`, `expired`, `missing`), by county.
    pub response_plans: Vec<ResponsePlanRow>,
    /// 财政可承受能力评估 (issue 19): proposals of counties on the watch list on as_of
    /// without a decision by as_of, by county, then seq.
    pub assessments_pending: Vec<PendingAssessment>,
    /// 限制性措施 (issue 19): for each county on the watch list on as_of, its `other`
    /// spending in the window against the same months a year before, by county.
    pub restrictions: Vec<RestrictionRow>,
}

/// A 提示函 (`notice_issued`) as `monitor` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct NoticeRow {
    /// County id.
    pub county: CountyId,
    /// The month the notice is about.
    pub month: Month,
    /// Its document number (文号).
    pub doc_number: Text,
    /// The status it warned of.
    pub status: NoticeStatus,
    /// The level it warned of.
    pub guarantee_level: Ratio,
    /// The day it was sent.
    pub issued_on: Date,
    /// The record that holds it.
    pub seq: u64,
}

/// The notices sent in `d`'s month on or before `d`, not reversed on or before `d`.
pub fn notices_of(state: &State, d: Date) -> Vec<NoticeRow> {
    let mut v: Vec<NoticeRow> = state
        .notices
        .iter()
        .filter(|n| {
            n.issued_on.month() == d.month()
                && n.issued_on <= d
                && n.reversed_on.map_or(true, |r| r > d)
        })
        .map(|n| NoticeRow {
            county: n.county.clone(),
            month: n.month,
            doc_number: n.doc_number.clone(),
            status: n.status,
            guarantee_level: n.guarantee_level,
            issued_on: n.issued_on,
            seq: n.seq,
        })
        .collect();
    v.sort_by(|a, b| (&a.county, a.issued_on, a.seq).cmp(&(&b.county, b.issued_on, b.seq)));
    v
}

/// One county's guarantee level and the lines in force on as_of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MonitorCounty {
    /// County id.
    pub county: CountyId,
    /// Day-end cash (treasury + wage reserve) on as_of.
    pub cash: Money,
    /// Average monthly outflow over the window, or the month's budgeted need, or `null`.
    #[schemars(with = "crate::schema::out::Nullable<Money>")]
    pub avg_monthly_outflow: Option<Money>,
    /// round4(cash / avg_monthly_outflow), or `null`.
    #[schemars(with = "crate::schema::out::Nullable<Ratio>")]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
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
    #[schemars(with = "crate::schema::out::DateOut")]
    pub deposit_deadline: Date,
    /// Deposits for this payroll month dated ≤ as_of.
    pub deposited: Money,
    /// Wages paid for this payroll month dated ≤ as_of.
    pub paid: Money,
    /// max(0, wage_bill − deposited).
    pub shortfall: Money,
    /// paid / funded / late / due.
    pub status: PayrollStatus,
    /// The first day of the run, reaching as_of, on which the deposits covered the wage
    /// bill, or `null` while they fall short (contract v2, docs/monitor-v2.md).
    #[schemars(with = "crate::schema::out::Nullable<Date>")]
    pub deposited_on: Option<Date>,
    /// Days the wage bill was covered (or, while `late`, has been uncovered) after the
    /// deadline; 0 when on time (contract v2, docs/monitor-v2.md).
    pub days_late: u32,
}

/// The state of one month's payroll on as_of (SPEC §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct WatchEntry {
    /// County id.
    pub county: CountyId,
    /// At least one reason, in the order of [`Reason`].
    pub reasons: Vec<Reason>,
}

/// Why a county is on the watch list. The declaration order is the SPEC's order of
/// reasons, and also `Ord`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
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
    /// An `arrears` row (contract v2: after the v1 reasons).
    WageArrears,
}

impl Reason {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::GuaranteeLevelWarning => "guarantee_level_warning",
            Reason::PayrollLate => "payroll_late",
            Reason::DirectOverdue => "direct_overdue",
            Reason::Discrepancy => "discrepancy",
            Reason::WageArrears => "wage_arrears",
        }
    }
}

/// Computes SPEC §6.2 over `state` (already folded up to the wanted `at_seq`).
///
/// `as_of` defaults to the greatest effective date in the state (§8.23).
pub fn monitor(state: &State, as_of: Option<Date>) -> Monitor {
    monitor_with(state, as_of, true)
}

/// [`monitor`] without the members that look back over a year (`payroll_history`,
/// `watch_history`, `tight_months`, `attention`, which are left empty): every other
/// member is computed by the same code and is equal to [`monitor`]'s. What the desk's
/// overview shows, at a cost of one day per county instead of a year's sweep.
pub fn monitor_today(state: &State, as_of: Option<Date>) -> Monitor {
    monitor_with(state, as_of, false)
}

fn monitor_with(state: &State, as_of: Option<Date>, history: bool) -> Monitor {
    let as_of = as_of.or(state.max_effective_date);
    let mut m = Monitor {
        as_of,
        at_seq: state.head_seq,
        counties: Vec::new(),
        payroll: Vec::new(),
        direct_overdue: Vec::new(),
        discrepancies: Vec::new(),
        watchlist: Vec::new(),
        arrears: Vec::new(),
        payroll_history: Vec::new(),
        watch_history: Vec::new(),
        tight_months: Vec::new(),
        attention: Vec::new(),
        notices: Vec::new(),
        response_plans: Vec::new(),
        assessments_pending: Vec::new(),
        restrictions: Vec::new(),
    };
    let Some(d) = as_of else { return m };
    m.notices = notices_of(state, d);
    // `State::counties` iterates by id, and each county's rows are pushed in their own
    // order, so every list comes out in the order of §8.20 without sorting.
    let counties: Vec<&County> = state.counties().filter(|c| c.registered_on <= d).collect();
    // A year's sweep per county is most of the work: it runs on every core, each
    // county's answer kept in its place.
    let mut years = if history {
        crate::query::par_map(&counties, |c| {
            let probe = history::Probe::new(state, c, d);
            (
                probe.tight_months(),
                probe.watch_history(),
                history::payroll_history(c, d),
            )
        })
    } else {
        Vec::new()
    }
    .into_iter();
    for c in counties {
        let day = CountyDay::of(state, c, d);
        if !day.reasons.is_empty() {
            m.response_plans.push(response_plan_row(state, &c.id, d));
            m.assessments_pending
                .extend(pending_assessments(state, &c.id, d));
            m.restrictions.push(restriction_row(c, d));
            m.watchlist.push(WatchEntry {
                county: c.id.clone(),
                reasons: day.reasons,
            });
        }
        if let Some((tight, watch_history, payroll_history)) = years.next() {
            if let (Status::Low, Some(level)) = (day.row.status, day.row.guarantee_level) {
                m.attention.push(Attention {
                    county: c.id.clone(),
                    guarantee_level: level,
                    tight_months: tight.as_ref().map_or(0, |t| t.months),
                });
            }
            m.tight_months.extend(tight);
            m.watch_history.extend(watch_history);
            m.payroll_history.extend(payroll_history);
        }
        m.counties.push(day.row);
        m.payroll.extend(day.payroll);
        m.direct_overdue.extend(day.overdue);
        m.discrepancies.extend(day.discrepancies);
        m.arrears.extend(day.arrears);
    }
    m
}

/// The county rows and the watch list (重点关注地区) with as_of = `d`, as [`monitor`]
/// gives them, without the history: what a day-end looked like (the property tests
/// rebuild the history from it, day by day; not part of the API).
#[doc(hidden)]
pub fn day_end(state: &State, d: Date) -> DayEnd {
    let mut out = DayEnd {
        counties: Vec::new(),
        watchlist: Vec::new(),
    };
    for c in state.counties().filter(|c| c.registered_on <= d) {
        let day = CountyDay::of(state, c, d);
        if !day.reasons.is_empty() {
            out.watchlist.push(WatchEntry {
                county: c.id.clone(),
                reasons: day.reasons,
            });
        }
        out.counties.push(day.row);
    }
    out
}

/// The part of a [`Monitor`] that [`day_end`] computes.
#[doc(hidden)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayEnd {
    /// As `Monitor::counties`.
    pub counties: Vec<MonitorCounty>,
    /// As `Monitor::watchlist`.
    pub watchlist: Vec<WatchEntry>,
}

/// One county's monitor rows on one day, and the watch-list reasons they give: the
/// one place the reasons are decided, for `monitor`'s day and every day of its history.
pub(crate) struct CountyDay {
    pub(crate) row: MonitorCounty,
    pub(crate) payroll: Vec<PayrollRow>,
    pub(crate) overdue: Vec<DirectOverdue>,
    pub(crate) discrepancies: Vec<Discrepancy>,
    pub(crate) arrears: Vec<ArrearsRow>,
    /// In the order of [`Reason`]: the v1 reasons, then `wage_arrears`.
    pub(crate) reasons: Vec<Reason>,
}

impl CountyDay {
    /// The rows of county `c` with as_of = `d`.
    pub(crate) fn of(state: &State, c: &County, d: Date) -> CountyDay {
        CountyDay::of_in(state, c, d, None)
    }

    /// [`CountyDay::of`], looking for arrears only among `months` when given (the
    /// history's sweep passes the months that can be in arrears in its window, which
    /// gives the same rows: see [`history::months_in_play`]).
    pub(crate) fn of_in(state: &State, c: &County, d: Date, months: Option<&[Month]>) -> CountyDay {
        let row = county_row(state, c, d);
        let payroll = payroll_rows(c, d);
        let overdue = direct_overdue(c, d);
        let discrepancies = discrepancies(c, d);
        let arrears = match months {
            None => history::arrears(c, d),
            Some(ms) => ms
                .iter()
                .filter_map(|&pm| history::arrears_of(c, pm, d))
                .collect(),
        };
        let reasons = reasons_of_flags([
            row.status == Status::Warning,
            payroll.iter().any(|p| p.status == PayrollStatus::Late),
            !overdue.is_empty(),
            !discrepancies.is_empty(),
            !arrears.is_empty(),
        ]);
        CountyDay {
            row,
            payroll,
            overdue,
            discrepancies,
            arrears,
            reasons,
        }
    }
}

/// The watch-list reasons that the flags (in the order of [`Reason`]: level below the
/// warning line, a late payroll, direct funds overdue, a discrepancy, wage arrears)
/// raise.
fn reasons_of_flags(flags: [bool; 5]) -> Vec<Reason> {
    const REASONS: [Reason; 5] = [
        Reason::GuaranteeLevelWarning,
        Reason::PayrollLate,
        Reason::DirectOverdue,
        Reason::Discrepancy,
        Reason::WageArrears,
    ];
    flags
        .into_iter()
        .zip(REASONS)
        .filter_map(|(on, r)| on.then_some(r))
        .collect()
}

/// County `c`'s watch-list reasons with as_of = `d`: always equal to
/// [`CountyDay::of_in`]`(state, c, d, months).reasons` (tested on generated cities),
/// but computed from the same predicates without building any row — what the writer
/// asks of every other-spending record (the restriction warning: watched when the
/// list is not empty) and the watch history asks of every day of a year.
pub(crate) fn reasons_in(
    state: &State,
    c: &County,
    d: Date,
    months: Option<&[Month]>,
) -> Vec<Reason> {
    let f = ReasonFlags {
        state,
        c,
        d,
        months,
    };
    reasons_of_flags([
        f.warning(),
        f.payroll_late(),
        f.direct_overdue(),
        f.discrepancy(),
        f.arrears(),
    ])
}

/// The predicates behind each watch-list reason of one county on one day, as
/// [`CountyDay::of_in`]'s rows decide them.
struct ReasonFlags<'a> {
    state: &'a State,
    c: &'a County,
    d: Date,
    /// The only months that can be in arrears (all of the county's when `None`).
    months: Option<&'a [Month]>,
}

impl ReasonFlags<'_> {
    fn warning(&self) -> bool {
        county_row(self.state, self.c, self.d).status == Status::Warning
    }

    fn payroll_late(&self) -> bool {
        let this = self.d.month();
        [Some(this), this.add(1)].into_iter().flatten().any(|pm| {
            payroll_state(self.c, pm, self.d).is_some_and(|p| p.status == PayrollStatus::Late)
        })
    }

    fn direct_overdue(&self) -> bool {
        direct_undispatched(self.c, self.d).next().is_some()
    }

    fn discrepancy(&self) -> bool {
        reported_against_computed(self.c, self.d).any(|(_, r, computed)| computed != r.balance)
    }

    fn arrears(&self) -> bool {
        let (c, d) = (self.c, self.d);
        match self.months {
            None => c
                .wage_bills
                .chunk_by(|a, b| a.0 == b.0) // `wage_bills` is sorted by month
                .any(|decls| history::unpaid_after_payday(c, decls[0].0, d).is_some()),
            Some(ms) => ms
                .iter()
                .any(|&pm| history::unpaid_after_payday(c, pm, d).is_some()),
        }
    }
}

/// What decides a payroll month's status on `d`: its bill (as known on `d`), the
/// deposits and payments dated through `d`, the deposit deadline and the status.
struct PayrollState<'a> {
    bill: crate::state::county::WageBill,
    month: Option<&'a crate::state::county::PayrollMonth>,
    deposited: Money,
    paid: Money,
    deadline: Date,
    status: PayrollStatus,
}

/// The [`PayrollState`] of month `pm` on `d`, when a wage bill for it is declared by `d`.
fn payroll_state(c: &County, pm: Month, d: Date) -> Option<PayrollState<'_>> {
    let bill = c.wage_bill(pm, d)?;
    let month = c.payroll.get(&pm);
    let (deposited, paid) = month.map_or((Money::ZERO, Money::ZERO), |p| {
        (p.deposited_through(d), p.paid_through(d))
    });
    let deadline = bill.payday.add_days(-7);
    Some(PayrollState {
        bill,
        month,
        deposited,
        paid,
        deadline,
        status: PayrollStatus::of(bill.amount, deposited, paid, d, deadline),
    })
}

/// The county's level, status and lines in force on `d`.
pub(crate) fn county_row(state: &State, c: &County, d: Date) -> MonitorCounty {
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
        .filter_map(|pm| payroll_row(c, pm, d))
        .collect()
}

/// The payroll row of month `pm` as of `d`, when a wage bill for it is declared by `d`.
pub(crate) fn payroll_row(c: &County, pm: Month, d: Date) -> Option<PayrollRow> {
    let PayrollState {
        bill,
        month,
        deposited,
        paid,
        deadline,
        status,
    } = payroll_state(c, pm, d)?;
    let deposited_on = month.and_then(|p| p.covered_since(false, bill.amount, d));
    // Wages paid in full without the deposits reaching the bill (from money already in
    // the reserve) were covered on the day the payments reached it.
    let covered_on = deposited_on.or_else(|| {
        (status == PayrollStatus::Paid)
            .then(|| month.and_then(|p| p.covered_since(true, bill.amount, d)))
            .flatten()
    });
    let days_late = match covered_on {
        Some(on) => days_between(deadline, on),
        None if status == PayrollStatus::Late => days_between(deadline, d),
        None => 0,
    };
    Some(PayrollRow {
        county: c.id.clone(),
        payroll_month: pm,
        wage_bill: bill.amount,
        payday: bill.payday,
        deposit_deadline: deadline,
        deposited,
        paid,
        shortfall: (bill.amount - deposited).clamp_zero(),
        status,
        deposited_on,
        days_late,
    })
}

/// Whole days from `from` to `to`, or 0 when `to` is not after `from`.
pub(crate) fn days_between(from: Date, to: Date) -> u32 {
    u32::try_from(to.to_days() - from.to_days()).unwrap_or(0)
}

/// Direct funds per fiscal year: notified by `d − 1`, minus dispatched by `d`, when > 0.
fn direct_overdue(c: &County, d: Date) -> Vec<DirectOverdue> {
    direct_undispatched(c, d)
        .map(|(fiscal_year, undispatched)| DirectOverdue {
            county: c.id.clone(),
            fiscal_year,
            undispatched,
        })
        .collect()
}

/// The latest report on or before `d` of each account (greatest `on`, then greatest
/// seq), with the computed day-end balance of its date.
fn reported_against_computed(
    c: &County,
    d: Date,
) -> impl Iterator<Item = (AccountKind, &Report, Money)> + '_ {
    [AccountKind::Treasury, AccountKind::WageReserve]
        .into_iter()
        .filter_map(move |account| {
            let r: &Report = c.reports[account as usize]
                .iter()
                .filter(|r| r.on <= d)
                .max_by_key(|r| (r.on, r.seq))?;
            Some((account, r, c.account(account).through(r.on)))
        })
}

/// The fiscal years whose direct funds are overdue on `d`, with the amount.
fn direct_undispatched(c: &County, d: Date) -> impl Iterator<Item = (FiscalYear, Money)> + '_ {
    let day_before = d.add_days(-1);
    c.funds
        .iter()
        .filter(|((_, fund), _)| *fund == Fund::Direct)
        .filter_map(move |(&(fiscal_year, _), l)| {
            let undispatched = l.entitled_at(day_before) - l.dispatched_at(d);
            undispatched
                .is_positive()
                .then_some((fiscal_year, undispatched))
        })
}

/// The latest report on or before `d` of each account (greatest `on`, then greatest
/// seq), when it disagrees with the computed day-end balance of its date.
fn discrepancies(c: &County, d: Date) -> Vec<Discrepancy> {
    reported_against_computed(c, d)
        .filter(|(_, r, computed)| *computed != r.balance)
        .map(|(account, r, computed)| Discrepancy {
            county: c.id.clone(),
            account,
            on: r.on,
            reported: r.balance,
            computed,
        })
        .collect()
}

#[cfg(test)]
mod tests {

    /// `reasons_in` answers what the rows of `CountyDay::of_in` decide,
    /// for every county of a generated city on every tenth day of its history (and
    /// with the history's `months_in_play` as the arrears months).
    #[test]
    fn reasons_in_equals_the_rows_reasons_on_a_generated_city() {
        use crate::bench::workload::{events, Config};
        use crate::record::{Record, GENESIS};
        let mut state = State::new();
        let mut prev = GENESIS;
        for (i, e) in events(Config::new(7, 24), 30_000).into_iter().enumerate() {
            let r = Record::new(i as u64 + 1, 0, None, prev, e);
            prev = r.hash;
            state.fold(&r);
        }
        let last = state.max_effective_date.expect("dated events");
        let (mut days, mut watched_days, mut arrears_days) = (0, 0, 0);
        for c in state.counties() {
            // The months in play from the registration on, asked on every later day
            // (what the PostgreSQL sink does over a range of days): the same arrears,
            // so the same reasons, as looking through every month.
            let from_registration = history::months_in_play(c, c.registered_on);
            let mut d = c.registered_on;
            while d <= last {
                let all = CountyDay::of(&state, c, d);
                let ranged = CountyDay::of_in(&state, c, d, Some(&from_registration));
                assert_eq!(ranged.arrears, all.arrears, "{} on {d}", c.id);
                assert_eq!(ranged.reasons, all.reasons, "{} on {d}", c.id);
                let rows = all.reasons;
                assert_eq!(reasons_in(&state, c, d, None), rows, "{} on {d}", c.id);
                let months = history::months_in_play(c, d);
                assert_eq!(
                    reasons_in(&state, c, d, Some(&months)),
                    CountyDay::of_in(&state, c, d, Some(&months)).reasons
                );
                days += 1;
                watched_days += usize::from(!rows.is_empty());
                arrears_days += usize::from(!ranged.arrears.is_empty());
                d = d.add_days(10);
            }
        }
        assert!(days > 500, "{days} county-days");
        assert!(
            arrears_days > 0,
            "no day in arrears among {days}: the months in play would prove little"
        );
        assert!(
            watched_days > 0,
            "no watched day among {days}: the test would prove little"
        );
    }
    use super::*;
    use crate::query::position::test_log::*;
    use serde_json::{json, Value};

    fn js(m: &Monitor) -> Value {
        serde_json::to_value(m).unwrap()
    }
    fn at(l: &TestLog, as_of: &str) -> Monitor {
        monitor(&l.state, Some(d(as_of)))
    }
    fn m(cents: i128) -> Money {
        Money::from_cents(cents)
    }

    #[test]
    fn empty_log_gives_null_as_of_and_empty_lists() {
        assert_eq!(
            serde_json::to_string(&monitor(&State::new(), None)).unwrap(),
            concat!(
                r#"{"as_of":null,"at_seq":0,"counties":[],"payroll":[],"direct_overdue":[],"discrepancies":[],"watchlist":[],"#,
                r#""arrears":[],"payroll_history":[],"watch_history":[],"tight_months":[],"attention":[],"notices":[],"response_plans":[],"assessments_pending":[],"restrictions":[]}"#
            )
        );
    }

    #[test]
    fn no_outflow_and_no_need_gives_nulls_and_status_unknown() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "100"));
        assert_eq!(
            serde_json::to_string(&monitor(&l.state, None)).unwrap(),
            concat!(
                r#"{"as_of":"2021-01-01","at_seq":1,"counties":[{"county":"a","cash":"100.00","avg_monthly_outflow":null,"#,
                r#""guarantee_level":null,"status":"unknown","warning_line":"0.3000","alert_line":"0.5000","idle_line":"1.5000"}],"#,
                r#""payroll":[],"direct_overdue":[],"discrepancies":[],"watchlist":[],"#,
                r#""arrears":[],"payroll_history":[],"watch_history":[],"tight_months":[],"attention":[],"notices":[],"response_plans":[],"assessments_pending":[],"restrictions":[]}"#
            )
        );
    }

    #[test]
    fn the_window_is_the_three_complete_months_ending_on_or_before_as_of() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "100000"));
        l.ok(spend("a", "999", "2021-02-28")); // before every window below
        l.ok(spend("a", "300", "2021-03-01")); // first day of Mar–May
        l.ok(deposit("a", "2021-05", "300", "2021-05-10"));
        l.ok(wages("a", "2021-05", "300", "2021-05-31")); // last day of Mar–May; wages count
        l.ok(spend("a", "999", "2021-06-01")); // in June: incomplete on 06-29
        let avg = |as_of: &str| at(&l, as_of).counties[0].avg_monthly_outflow;
        // as_of 06-29: June is incomplete, the window is Mar–May: (300 + 300) / 3.
        assert_eq!(avg("2021-06-29"), Some(m(20_000)));
        // as_of 06-30 is the last day of June: Apr–Jun = (300 + 999) / 3 = 433.00.
        assert_eq!(avg("2021-06-30"), Some(m(43_300)));
        // as_of 2021-03-31: Jan–Mar = (999 + 300) / 3.
        assert_eq!(avg("2021-03-31"), Some(m(43_300)));
        // The deposit moves money between the county's accounts: not an outflow.
        assert_eq!(
            at(&l, "2021-06-30").counties[0].cash,
            m(10_000_000 - 259_800)
        );
    }

    #[test]
    fn the_average_rounds_half_to_even_at_cents_and_the_level_at_four_decimals() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "1"));
        l.ok(spend("a", "1", "2021-01-10")); // 1.00 / 3 = 0.333… → 0.33
        l.ok(county("b", "2021-01-01", "2"));
        l.ok(spend("b", "2", "2021-01-10")); // 2.00 / 3 = 0.666… → 0.67
                                             // cash / avg exactly halfway at the fifth decimal: 0.01 / 200.00 = 0.00005 →
                                             // 0.0000 (even), and 0.03 / 200.00 = 0.00015 → 0.0002 (even).
        l.ok(county("c", "2021-01-01", "600.01"));
        l.ok(spend("c", "600", "2021-02-01"));
        l.ok(county("e", "2021-01-01", "600.03"));
        l.ok(spend("e", "600", "2021-02-01"));
        let mo = at(&l, "2021-03-31");
        let avg: Vec<String> = mo
            .counties
            .iter()
            .map(|c| c.avg_monthly_outflow.unwrap().to_string())
            .collect();
        assert_eq!(avg, ["0.33", "0.67", "200.00", "200.00"]);
        let v = js(&mo);
        assert_eq!(v["counties"][2]["guarantee_level"], "0.0000");
        assert_eq!(v["counties"][3]["guarantee_level"], "0.0002");
        assert_eq!(v["counties"][2]["status"], "warning");
    }

    #[test]
    fn falls_back_to_the_budgeted_need_of_as_of_month_when_outflow_is_not_positive() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "1000"));
        l.ok(need("a", 2021, "wages", "1200.05", "2021-01-08"));
        l.ok(need("a", 2022, "operations", "9999", "2021-01-08")); // another fiscal year
        let lvl = |as_of: &str| {
            let c = at(&l, as_of).counties[0].clone();
            (
                c.avg_monthly_outflow.map(|x| x.to_string()),
                c.guarantee_level.map(|x| x.to_string()),
                c.status,
            )
        };
        // Budgeted after as_of: not counted, so null and unknown.
        assert_eq!(lvl("2021-01-07"), (None, None, Status::Unknown));
        // floor_cent(1200.05 / 12) = 100.00 a month; December takes the rest, 100.05.
        assert_eq!(
            lvl("2021-06-15"),
            (Some("100.00".into()), Some("10.0000".into()), Status::Idle)
        );
        assert_eq!(
            lvl("2021-12-15"),
            (Some("100.05".into()), Some("9.9950".into()), Status::Idle)
        );
    }

    #[test]
    fn a_reversal_counts_in_the_window_on_its_own_date() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "10000"));
        l.ok(need("a", 2021, "operations", "1200", "2021-01-08"));
        let s = l.ok(spend("a", "300", "2021-04-10"));
        l.ok(reverse(s, "2021-07-05"));
        let avg = |as_of: &str| at(&l, as_of).counties[0].avg_monthly_outflow;
        // Before the reversal's date the expense counts: Apr–Jun = 300 / 3.
        assert_eq!(avg("2021-06-30"), Some(m(10_000)));
        assert_eq!(avg("2021-07-04"), Some(m(10_000)));
        // Window May–Jul holds only the reversal (−300): ≤ 0, so the monthly need.
        assert_eq!(avg("2021-07-31"), Some(m(10_000)));
        assert_eq!(at(&l, "2021-07-31").counties[0].cash, m(1_000_000));
        // Jun–Aug also holds only the reversal; a need reversed is gone from its date.
        assert_eq!(avg("2021-08-31"), Some(m(10_000)));
        let mut l2 = TestLog::new();
        l2.ok(county("a", "2021-01-01", "10"));
        let n = l2.ok(need("a", 2021, "operations", "1200", "2021-01-08"));
        l2.ok(reverse(n, "2021-03-01"));
        assert_eq!(
            at(&l2, "2021-02-28").counties[0].avg_monthly_outflow,
            Some(m(10_000))
        );
        assert_eq!(at(&l2, "2021-03-01").counties[0].avg_monthly_outflow, None);
    }

    #[test]
    fn lines_in_force_county_then_city_then_defaults_latest_by_date_then_seq() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "100"));
        l.ok(county("b", "2021-01-01", "100"));
        l.ok(lines(None, "0.3", "0.5", "1.2", "2021-07-01"));
        l.ok(lines(Some("a"), "0.2", "0.4", "2", "2021-10-01"));
        l.ok(lines(None, "0.25", "0.5", "1.3", "2021-03-01")); // recorded later, older date
        l.ok(lines(Some("a"), "0.1", "0.4", "2", "2021-10-01")); // same date, greater seq
        let ln = |as_of: &str, i: usize| {
            let c = &at(&l, as_of).counties[i];
            format!("{} {} {}", c.warning_line, c.alert_line, c.idle_line)
        };
        assert_eq!(ln("2021-02-28", 0), "0.3000 0.5000 1.5000");
        assert_eq!(ln("2021-03-01", 0), "0.2500 0.5000 1.3000");
        assert_eq!(ln("2021-07-01", 0), "0.3000 0.5000 1.2000");
        assert_eq!(ln("2021-10-01", 0), "0.1000 0.4000 2.0000");
        assert_eq!(ln("2021-10-01", 1), "0.3000 0.5000 1.2000");
    }

    #[test]
    fn status_uses_the_lines_in_force() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "30")); // 30 / 100 = 0.3000
        l.ok(revenue("a", "300", "2021-01-10"));
        l.ok(spend("a", "300", "2021-01-10"));
        assert_eq!(
            at(&l, "2021-03-31").counties[0].guarantee_level,
            Some(Ratio::from_units(3000))
        );
        assert_eq!(at(&l, "2021-03-31").counties[0].status, Status::Low);
        l.ok(lines(Some("a"), "0.31", "0.5", "1.5", "2021-03-31"));
        assert_eq!(at(&l, "2021-03-31").counties[0].status, Status::Warning);
        assert_eq!(at(&l, "2021-03-30").counties[0].status, Status::Low);
        // Same effective_from, greater seq: the later setting is in force.
        l.ok(lines(Some("a"), "0.1", "0.2", "0.29", "2021-03-31"));
        assert_eq!(at(&l, "2021-03-31").counties[0].status, Status::Idle);
    }

    #[test]
    fn payroll_rows_for_as_of_month_and_the_next_when_declared_with_the_latest_declaration() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "100000"));
        l.ok(bill("a", "2021-06", "1000", "2021-06-15", "2021-05-18"));
        l.ok(bill("a", "2021-07", "1100", "2021-07-15", "2021-06-18"));
        l.ok(bill("a", "2021-08", "1200", "2021-08-15", "2021-06-01"));
        fn rows(l: &TestLog, as_of: &str) -> Vec<(String, String)> {
            at(l, as_of)
                .payroll
                .iter()
                .map(|r| (r.payroll_month.to_string(), r.wage_bill.to_string()))
                .collect()
        }
        assert_eq!(rows(&l, "2021-05-17"), vec![]);
        // June's own row; July's bill is declared only on 06-18.
        assert_eq!(
            rows(&l, "2021-06-10"),
            vec![("2021-06".into(), "1000.00".into())]
        );
        assert_eq!(
            rows(&l, "2021-06-18"),
            vec![
                ("2021-06".into(), "1000.00".into()),
                ("2021-07".into(), "1100.00".into())
            ]
        );
        // From July: July and August (declared long before).
        assert_eq!(
            rows(&l, "2021-07-01"),
            vec![
                ("2021-07".into(), "1100.00".into()),
                ("2021-08".into(), "1200.00".into())
            ]
        );
        // A revision on 07-02 replaces the bill from its declared_on; a declaration
        // recorded afterwards but dated earlier does not win; same date: greater seq.
        l.ok(bill("a", "2021-07", "1150", "2021-07-16", "2021-07-02"));
        l.ok(bill("a", "2021-07", "9999", "2021-07-15", "2021-06-20"));
        assert_eq!(rows(&l, "2021-07-01")[0].1, "9999.00");
        assert_eq!(rows(&l, "2021-07-02")[0].1, "1150.00");
        l.ok(bill("a", "2021-07", "1160", "2021-07-16", "2021-07-02"));
        assert_eq!(rows(&l, "2021-07-02")[0].1, "1160.00");
        let r = &at(&l, "2021-07-02").payroll[0];
        assert_eq!(
            (r.payday, r.deposit_deadline),
            (d("2021-07-16"), d("2021-07-09"))
        );
    }

    #[test]
    fn payroll_status_due_late_funded_paid_at_their_edges() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "100000"));
        l.ok(bill("a", "2021-06", "1000", "2021-06-15", "2021-05-18"));
        l.ok(deposit("a", "2021-06", "600", "2021-06-07"));
        l.ok(deposit("a", "2021-06", "400", "2021-06-11"));
        l.ok(wages("a", "2021-06", "999.99", "2021-06-15"));
        l.ok(wages("a", "2021-06", "0.01", "2021-06-16"));
        let row = |as_of: &str| {
            let r = at(&l, as_of).payroll[0].clone();
            (
                r.deposited.to_string(),
                r.paid.to_string(),
                r.shortfall.to_string(),
                r.status,
            )
        };
        use PayrollStatus::*;
        assert_eq!(
            row("2021-06-01"),
            ("0.00".into(), "0.00".into(), "1000.00".into(), Due)
        );
        // The deadline is payday − 7 = 06-08: still due on it, late the day after.
        assert_eq!(
            row("2021-06-08"),
            ("600.00".into(), "0.00".into(), "400.00".into(), Due)
        );
        assert_eq!(
            row("2021-06-09"),
            ("600.00".into(), "0.00".into(), "400.00".into(), Late)
        );
        assert_eq!(
            row("2021-06-11"),
            ("1000.00".into(), "0.00".into(), "0.00".into(), Funded)
        );
        assert_eq!(
            row("2021-06-15"),
            ("1000.00".into(), "999.99".into(), "0.00".into(), Funded)
        );
        assert_eq!(
            row("2021-06-16"),
            ("1000.00".into(), "1000.00".into(), "0.00".into(), Paid)
        );
        let v = js(&at(&l, "2021-06-09"));
        assert_eq!(
            v["payroll"][0],
            json!({"county":"a","payroll_month":"2021-06","wage_bill":"1000.00","payday":"2021-06-15",
                   "deposit_deadline":"2021-06-08","deposited":"600.00","paid":"0.00",
                   "shortfall":"400.00","status":"late","deposited_on":null,"days_late":1})
        );
        assert_eq!(
            v["watchlist"],
            json!([{"county":"a","reasons":["payroll_late"]}])
        );
        // Paid beyond the bill and deposited beyond it: shortfall never negative.
        assert_eq!(
            PayrollStatus::of(m(100), m(0), m(100), d("2021-06-30"), d("2021-06-08")),
            Paid
        );
    }

    #[test]
    fn a_reversed_deposit_leaves_the_payroll_from_the_reversal_date() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "100000"));
        l.ok(bill("a", "2021-06", "1000", "2021-06-15", "2021-05-18"));
        let s = l.ok(deposit("a", "2021-06", "1000", "2021-06-07"));
        l.ok(reverse(s, "2021-06-10"));
        assert_eq!(
            at(&l, "2021-06-09").payroll[0].status,
            PayrollStatus::Funded
        );
        assert_eq!(at(&l, "2021-06-10").payroll[0].status, PayrollStatus::Late);
        assert_eq!(at(&l, "2021-06-10").payroll[0].deposited, Money::ZERO);
    }

    #[test]
    fn direct_overdue_counts_notices_up_to_the_day_before_and_dispatches_up_to_as_of() {
        let mut l = TestLog::new();
        l.ok(city("100000", "2021-01-01"));
        l.ok(county("a", "2021-01-01", "0"));
        l.ok(alloc("a", "direct", 2021, "100", "2021-09-27"));
        l.ok(alloc("a", "general", 2021, "500", "2021-01-04")); // not direct: never overdue
        l.ok(alloc("a", "direct", 2020, "5", "2021-01-02"));
        l.ok(transfer("a", "direct", 2021, "40", "2021-09-30"));
        l.ok(transfer("a", "direct", 2021, "60", "2021-10-26"));
        let od = |as_of: &str| -> Vec<(i32, String)> {
            at(&l, as_of)
                .direct_overdue
                .iter()
                .map(|o| (o.fiscal_year.get(), o.undispatched.to_string()))
                .collect()
        };
        assert_eq!(od("2021-01-02"), vec![]);
        assert_eq!(od("2021-01-03"), vec![(2020, "5.00".into())]);
        // Notified on 09-27: not overdue on that day, overdue the day after.
        assert_eq!(od("2021-09-27"), vec![(2020, "5.00".into())]);
        assert_eq!(
            od("2021-09-28"),
            vec![(2020, "5.00".into()), (2021, "100.00".into())]
        );
        assert_eq!(
            od("2021-09-30"),
            vec![(2020, "5.00".into()), (2021, "60.00".into())]
        );
        assert_eq!(
            od("2021-10-25"),
            vec![(2020, "5.00".into()), (2021, "60.00".into())]
        );
        // Dispatched on as_of itself: no longer overdue.
        assert_eq!(od("2021-10-26"), vec![(2020, "5.00".into())]);
    }

    #[test]
    fn a_direct_notice_dispatched_the_same_day_is_never_overdue() {
        let mut l = TestLog::new();
        l.ok(city("1000", "2021-01-01"));
        l.ok(county("a", "2021-01-01", "0"));
        l.ok(alloc("a", "direct", 2021, "100", "2021-05-10"));
        l.ok(transfer("a", "direct", 2021, "100", "2021-05-10"));
        for as_of in ["2021-05-09", "2021-05-10", "2021-05-11", "2021-12-31"] {
            assert!(at(&l, as_of).direct_overdue.is_empty(), "{as_of}");
        }
    }

    #[test]
    fn discrepancies_use_the_latest_report_by_date_then_seq() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "100"));
        l.ok(report("a", "treasury", "2021-01-31", "100"));
        assert!(at(&l, "2021-03-31").discrepancies.is_empty());
        l.ok(report("a", "treasury", "2021-02-28", "90"));
        l.ok(report("a", "wage_reserve", "2021-02-28", "5"));
        // Before 02-28 the 01-31 report is the latest and agrees.
        assert!(at(&l, "2021-02-27").discrepancies.is_empty());
        let v = js(&at(&l, "2021-03-31"));
        assert_eq!(
            v["discrepancies"],
            json!([
                {"county":"a","account":"treasury","on":"2021-02-28","reported":"90.00","computed":"100.00"},
                {"county":"a","account":"wage_reserve","on":"2021-02-28","reported":"5.00","computed":"0.00"}
            ])
        );
        assert_eq!(
            v["watchlist"],
            json!([{"county":"a","reasons":["discrepancy"]}])
        );
        // A report recorded later for an earlier date does not supersede …
        l.ok(report("a", "treasury", "2021-02-15", "100"));
        assert_eq!(at(&l, "2021-03-31").discrepancies.len(), 2);
        // … a later report for the same date does (greatest seq wins) …
        l.ok(report("a", "treasury", "2021-02-28", "100"));
        assert_eq!(at(&l, "2021-03-31").discrepancies.len(), 1);
        // … and a backdated record can create one: the computed balance of 02-28
        // is the one known now.
        l.ok(spend("a", "10", "2021-02-20"));
        let ds = at(&l, "2021-03-31").discrepancies;
        assert_eq!(
            (ds[0].account, ds[0].computed),
            (AccountKind::Treasury, m(9_000))
        );
    }

    #[test]
    fn watchlist_reasons_come_in_the_spec_order_and_low_is_not_a_reason() {
        let mut l = TestLog::new();
        l.ok(city("1000", "2021-01-01"));
        // z: warning + late payroll + direct overdue + discrepancy.
        l.ok(county("z", "2021-01-01", "1000"));
        l.ok(spend("z", "990", "2021-01-05")); // cash 10, avg 330 → 0.0303
        l.ok(bill("z", "2021-03", "500", "2021-03-15", "2021-02-18"));
        l.ok(alloc("z", "direct", 2021, "7", "2021-03-01"));
        l.ok(report("z", "treasury", "2021-03-01", "11"));
        // y: low (0.4) only.
        l.ok(county("y", "2021-01-01", "340"));
        l.ok(spend("y", "300", "2021-01-05"));
        let mo = at(&l, "2021-03-20");
        assert_eq!(mo.counties[0].status, Status::Low);
        assert_eq!(
            js(&mo)["watchlist"],
            json!([{"county":"z","reasons":["guarantee_level_warning","payroll_late","direct_overdue","discrepancy","wage_arrears"]}])
        );
        let mut sorted = mo.watchlist[0].reasons.clone();
        sorted.sort();
        assert_eq!(sorted, mo.watchlist[0].reasons);
    }

    #[test]
    fn both_time_axes_a_backdated_deposit_changes_what_we_know_about_a_past_date() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "100000"));
        l.ok(bill("a", "2021-06", "1000", "2021-06-15", "2021-05-18"));
        let known = l.ok(spend("a", "1", "2021-06-20"));
        // Entered on 06-21, dated 06-07: the deposit was on time after all.
        let late_entry = l.ok(deposit("a", "2021-06", "1000", "2021-06-07"));
        let row = |seq: u64| monitor(l.at(seq), Some(d("2021-06-10"))).payroll[0].status;
        assert_eq!(row(known), PayrollStatus::Late);
        assert_eq!(row(late_entry), PayrollStatus::Funded);
        assert_eq!(monitor(l.at(known), Some(d("2021-06-10"))).at_seq, known);
        assert_eq!(monitor(l.at(known), None).as_of, Some(d("2021-06-20")));
    }

    #[test]
    fn counties_registered_after_as_of_appear_in_no_list() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "1"));
        l.ok(county("b", "2021-04-01", "1"));
        l.ok(report("b", "treasury", "2021-04-01", "2"));
        let mo = at(&l, "2021-03-31");
        assert_eq!(mo.counties.len(), 1);
        assert!(mo.discrepancies.is_empty() && mo.watchlist.is_empty());
        assert_eq!(at(&l, "2021-04-01").discrepancies.len(), 1);
    }
}
