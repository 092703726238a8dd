//! What contract v2 adds to `monitor` (issue 15; the exact readings are in
//! `docs/monitor-v2.md`): wage arrears (欠薪), the payroll history of twelve months,
//! each county's spells on the watch list (重点关注地区) computed from its daily
//! statuses, its consecutive tight months, and the `attention` (关注) list of counties
//! at status `low`.
//!
//! Guarantees:
//! - pure functions of the folded [`State`] and `as_of`, like the v1 members: no I/O,
//!   no clock, no hash-map order; lists sorted by county id, then by month or date;
//! - [`Probe::reasons`] on a day `x` is decided by the code that decides `monitor`'s
//!   watch list with as_of = `x`, so a spell is the watch list as it would have been
//!   printed at each day-end, as known at `at_seq`;
//! - every dated figure follows SPEC §8.16 (a reversal is an opposite flow on its
//!   `on` date) and every wage bill §8.18 (the latest declaration known on the day).

use crate::money::{Money, Ratio};
use crate::query::monitor::{county_row, days_between, payroll_row, PayrollRow, Reason};
use crate::query::Status;
use crate::state::county::WageBill;
use crate::state::{County, State};
use crate::values::{CountyId, Date, Month};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeSet;

/// One payroll month past its payday and not paid in full (欠薪).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ArrearsRow {
    /// County id.
    pub county: CountyId,
    /// The payroll month.
    pub payroll_month: Month,
    /// The wage bill of the latest declaration on or before as_of.
    pub wage_bill: Money,
    /// Its payday (before as_of).
    pub payday: Date,
    /// Wages paid for this payroll month dated ≤ as_of.
    pub paid: Money,
    /// wage_bill − paid (> 0).
    pub unpaid: Money,
    /// as_of − payday, in days (≥ 1).
    pub days_overdue: u32,
}

/// One county's spells on the watch list over the twelve months up to as_of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct WatchHistory {
    /// County id.
    pub county: CountyId,
    /// Its spells, by `from` (at least one).
    pub spells: Vec<Spell>,
}

/// A run of consecutive day-ends on the watch list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Spell {
    /// The first day of the run (the window's first day if it was already running).
    pub from: Date,
    /// The last day of the run, or `null` while it is open (it reaches as_of).
    #[schemars(with = "crate::schema::out::Nullable<Date>")]
    pub to: Option<Date>,
    /// Every reason seen on a day of the run, in the watch list's order.
    pub reasons: Vec<Reason>,
}

/// A county at status `warning` or `low` for consecutive months up to as_of's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TightMonths {
    /// County id.
    pub county: CountyId,
    /// How many consecutive months (≥ 1), as_of's month included.
    pub months: u32,
    /// The first month of the run.
    pub since: Month,
}

/// A county at status `low` on as_of (关注): near the warning line, not on the watch
/// list for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Attention {
    /// County id.
    pub county: CountyId,
    /// Its guarantee level on as_of (between the warning and the alert line).
    pub guarantee_level: Ratio,
    /// Its consecutive tight months (≥ 1), as in `tight_months`.
    pub tight_months: u32,
}

/// Every payroll month of `c` whose wage bill (known on `d`) has payday < `d` and
/// whose wages paid by `d` fall short of it, by payroll month.
pub fn arrears(c: &County, d: Date) -> Vec<ArrearsRow> {
    c.wage_bills
        .chunk_by(|a, b| a.0 == b.0) // `wage_bills` is sorted by month
        .filter_map(|decls| arrears_of(c, decls[0].0, d))
        .collect()
}

/// The arrears row of payroll month `pm` on `d`, if it is in arrears then.
pub fn arrears_of(c: &County, pm: Month, d: Date) -> Option<ArrearsRow> {
    let (bill, paid) = unpaid_after_payday(c, pm, d)?;
    Some(ArrearsRow {
        county: c.id.clone(),
        payroll_month: pm,
        wage_bill: bill.amount,
        payday: bill.payday,
        paid,
        unpaid: bill.amount - paid,
        days_overdue: days_between(bill.payday, d),
    })
}

/// The wage bill of payroll month `pm` (as known on `d`) and the wages paid through
/// `d`, when its payday is before `d` and they fall short of it: what puts a month in
/// arrears on `d`.
pub(crate) fn unpaid_after_payday(c: &County, pm: Month, d: Date) -> Option<(WageBill, Money)> {
    let bill = c.wage_bill(pm, d)?;
    if bill.payday >= d {
        return None;
    }
    let paid = c
        .payroll
        .get(&pm)
        .map_or(Money::ZERO, |p| p.paid_through(d));
    (paid < bill.amount).then_some((bill, paid))
}

/// The payroll months of `c` that can be in arrears on some day from `from` on: those
/// with a declaration, a payday or a deposit or payment dated on or after `from`, and
/// those in arrears on `from`. Any other month is left as it was before `from` by
/// every record, and was not in arrears then, so it is not on any later day: whether
/// a month is in arrears on day x depends only on what is dated ≤ x and on whether
/// its payday is before x. (This leans on `wage_bill_declared` not being reversible:
/// a reversal could otherwise change a month's bill from a later date.)
pub fn months_in_play(c: &County, from: Date) -> Vec<Month> {
    c.wage_bills
        .chunk_by(|a, b| a.0 == b.0) // `wage_bills` is sorted by month
        .filter(|decls| {
            let pm = decls[0].0;
            decls
                .iter()
                .any(|(_, b)| b.declared_on >= from || b.payday >= from)
                || c.payroll
                    .get(&pm)
                    .and_then(|p| p.last_date())
                    .is_some_and(|last| last >= from)
                || arrears_of(c, pm, from).is_some()
        })
        .map(|decls| decls[0].0)
        .collect()
}

/// The payroll rows of the twelve payroll months up to `d`'s (none before 2000-01),
/// each as of `d`, for the months with a wage bill known on `d`.
pub fn payroll_history(c: &County, d: Date) -> Vec<PayrollRow> {
    let last = d.month();
    (-11..=0)
        .filter_map(|k| last.add(k))
        .filter_map(|pm| payroll_row(c, pm, d))
        .collect()
}

/// The first day of the twelve-month window ending on `d`: the first day of month(d)
/// − 11, not before 2000-01-01.
pub fn window_start(d: Date) -> Date {
    d.month().add(-11).map_or(Date::FIRST, Month::first_day)
}

/// Asks one county's watch-list reasons and status on the days of the twelve-month
/// window up to a date `d`, and its status on any day, as known in `state`.
pub struct Probe<'a> {
    state: &'a State,
    c: &'a County,
    /// The window's first day ([`window_start`], or the registration if later).
    from: Date,
    /// as_of.
    d: Date,
    /// [`months_in_play`] from `from`: the only months that can be in arrears on a
    /// day of the window.
    months: Vec<Month>,
}

impl<'a> Probe<'a> {
    /// A probe of county `c` of `state` for the window up to `d`.
    pub fn new(state: &'a State, c: &'a County, d: Date) -> Probe<'a> {
        let from = window_start(d).max(c.registered_on);
        Probe {
            state,
            c,
            from,
            d,
            months: months_in_play(c, from),
        }
    }

    /// The county's status (SPEC §6.2) with as_of = `x`.
    pub fn status(&self, x: Date) -> Status {
        county_row(self.state, self.c, x).status
    }

    /// The county's watch-list reasons with as_of = `x` (a day of the window, on or
    /// after its first day), in the watch list's order: decided by the same code as
    /// `monitor`'s watch list.
    pub fn reasons(&self, x: Date) -> Vec<Reason> {
        debug_assert!(x >= self.from, "a day before the probe's window");
        crate::query::monitor::reasons_in(self.state, self.c, x, Some(&self.months))
    }

    /// The county's spells on the watch list from [`window_start`]`(d)` (or its
    /// registration, if later) through `d`; `None` when it was never on the list.
    pub fn watch_history(&self) -> Option<WatchHistory> {
        let d = self.d;
        let mut spells: Vec<Spell> = Vec::new();
        let mut open: Option<(Date, BTreeSet<Reason>)> = None;
        let mut x = self.from;
        while x <= d {
            let reasons = self.reasons(x);
            match (&mut open, reasons.is_empty()) {
                (Some((_, seen)), false) => seen.extend(reasons),
                (None, false) => open = Some((x, reasons.into_iter().collect())),
                (Some(_), true) => {
                    let (from, seen) = open.take().expect("open");
                    spells.push(Spell {
                        from,
                        to: Some(x.add_days(-1)),
                        reasons: seen.into_iter().collect(),
                    });
                }
                (None, true) => {}
            }
            x = x.add_days(1);
        }
        if let Some((from, seen)) = open {
            spells.push(Spell {
                from,
                to: None,
                reasons: seen.into_iter().collect(),
            });
        }
        (!spells.is_empty()).then(|| WatchHistory {
            county: self.c.id.clone(),
            spells,
        })
    }

    /// Consecutive months up to `d`'s whose check date (`d` for its own month, the
    /// last day for each earlier one) had status `warning` or `low`, stopping at a
    /// month that was not tight or whose check date precedes the registration.
    pub fn tight_months(&self) -> Option<TightMonths> {
        let d = self.d;
        let mut months = 0;
        let mut since = d.month();
        let mut m = d.month();
        let mut check = d;
        while check >= self.c.registered_on
            && matches!(self.status(check), Status::Warning | Status::Low)
        {
            months += 1;
            since = m;
            let Some(prev) = m.add(-1) else { break };
            m = prev;
            check = prev.last_day();
        }
        (months > 0).then(|| TightMonths {
            county: self.c.id.clone(),
            months,
            since,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::query::monitor::{monitor, Monitor, PayrollStatus, Reason};
    use crate::query::position::position;
    use crate::query::position::test_log::*;
    use serde_json::{json, Value};

    fn at(l: &TestLog, as_of: &str) -> Monitor {
        monitor(&l.state, Some(d(as_of)))
    }
    fn js(l: &TestLog, as_of: &str, member: &str) -> Value {
        serde_json::to_value(at(l, as_of)).unwrap()[member].clone()
    }

    #[test]
    fn arrears_start_the_day_after_payday_and_end_when_paid_in_full() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "100000"));
        l.ok(bill("a", "2021-06", "1000", "2021-06-15", "2021-05-18"));
        l.ok(deposit("a", "2021-06", "1000", "2021-06-07"));
        l.ok(wages("a", "2021-06", "600", "2021-06-15"));
        // Payday itself is not overdue.
        assert!(at(&l, "2021-06-15").arrears.is_empty());
        assert_eq!(
            js(&l, "2021-06-16", "arrears"),
            json!([{"county":"a","payroll_month":"2021-06","wage_bill":"1000.00","payday":"2021-06-15",
                    "paid":"600.00","unpaid":"400.00","days_overdue":1}])
        );
        // Months later the row is still there (v1's payroll rows have moved on).
        let m = at(&l, "2021-09-01");
        assert!(m.payroll.is_empty());
        assert_eq!(m.arrears[0].days_overdue, 78);
        assert_eq!(
            serde_json::to_value(&m.watchlist).unwrap(),
            json!([{"county":"a","reasons":["wage_arrears"]}])
        );
        l.ok(wages("a", "2021-06", "400", "2021-09-02"));
        assert!(at(&l, "2021-09-02").arrears.is_empty());
        assert!(at(&l, "2021-09-02").watchlist.is_empty());
        // A revised bill after payday counts from its declared_on.
        l.ok(bill("a", "2021-06", "1100", "2021-06-15", "2021-09-10"));
        assert_eq!(at(&l, "2021-09-10").arrears[0].unpaid.to_string(), "100.00");
        assert!(at(&l, "2021-09-09").arrears.is_empty());
    }

    #[test]
    fn wage_arrears_follows_the_v1_reasons() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "1000"));
        l.ok(spend("a", "990", "2021-01-05")); // warning
        l.ok(bill("a", "2021-02", "5", "2021-02-10", "2021-01-20"));
        l.ok(report("a", "treasury", "2021-02-01", "11")); // discrepancy
        assert_eq!(
            at(&l, "2021-03-01").watchlist[0].reasons,
            vec![
                Reason::GuaranteeLevelWarning,
                Reason::Discrepancy,
                Reason::WageArrears
            ]
        );
    }

    #[test]
    fn deposited_on_and_days_late_remember_a_late_deposit() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "100000"));
        l.ok(bill("a", "2021-06", "1000", "2021-06-15", "2021-05-18"));
        l.ok(deposit("a", "2021-06", "600", "2021-06-07"));
        let row = |l: &TestLog, as_of: &str| {
            let r = at(l, as_of).payroll_history.last().cloned().unwrap();
            (r.deposited_on.map(|d| d.to_string()), r.days_late, r.status)
        };
        // Deadline 06-08: on time on it, one day late the day after, growing.
        assert_eq!(row(&l, "2021-06-08"), (None, 0, PayrollStatus::Due));
        assert_eq!(row(&l, "2021-06-10"), (None, 2, PayrollStatus::Late));
        l.ok(deposit("a", "2021-06", "400", "2021-06-11"));
        assert_eq!(
            row(&l, "2021-06-11"),
            (Some("2021-06-11".into()), 3, PayrollStatus::Funded)
        );
        l.ok(wages("a", "2021-06", "1000", "2021-06-15"));
        // Long after, in the history only: the lateness stays on record.
        let m = at(&l, "2021-12-31");
        assert!(m.payroll.is_empty());
        let h = &m.payroll_history[0];
        assert_eq!(
            (h.deposited_on, h.days_late, h.status),
            (Some(d("2021-06-11")), 3, PayrollStatus::Paid)
        );
        // Twelve payroll months up to as_of's: June 2021 is gone from June 2022's.
        assert_eq!(at(&l, "2022-05-31").payroll_history.len(), 1);
        assert!(at(&l, "2022-06-01").payroll_history.is_empty());
    }

    #[test]
    fn a_deposit_reversed_and_made_again_late_is_late_and_none_while_short() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "100000"));
        l.ok(bill("a", "2021-06", "1000", "2021-06-15", "2021-05-18"));
        let s = l.ok(deposit("a", "2021-06", "1000", "2021-06-01"));
        l.ok(reverse(s, "2021-06-05"));
        let r = |l: &TestLog, as_of: &str| at(l, as_of).payroll[0].clone();
        assert_eq!(r(&l, "2021-06-04").deposited_on, Some(d("2021-06-01")));
        let p = r(&l, "2021-06-09");
        assert_eq!((p.deposited_on, p.days_late), (None, 1));
        // Made again after the deadline (06-08): the deposits cover the bill from
        // 06-10, two days late; the reversed first deposit does not clean the record.
        l.ok(deposit("a", "2021-06", "1000", "2021-06-10"));
        let p = r(&l, "2021-06-10");
        assert_eq!((p.deposited_on, p.days_late), (Some(d("2021-06-10")), 2));
        // Paid in full from money already in the reserve: late until paid, then the
        // days between the deadline and the payment stay on record.
        let mut l = TestLog::new();
        l.ok(
            json!({"kind":"county_registered","county":"b","name":"B","registered_on":"2021-01-01",
                    "opening_treasury":"0","opening_wage_reserve":"5000"}),
        );
        l.ok(bill("b", "2021-06", "1000", "2021-06-15", "2021-05-18"));
        l.ok(wages("b", "2021-06", "1000", "2021-06-15"));
        let p = at(&l, "2021-06-20").payroll[0].clone();
        assert_eq!(
            (p.status, p.deposited_on, p.days_late),
            (PayrollStatus::Paid, None, 7)
        );
        let p = at(&l, "2021-06-12").payroll[0].clone();
        assert_eq!((p.status, p.days_late), (PayrollStatus::Late, 4));
    }

    #[test]
    fn the_history_near_2000_needs_no_month_before_it() {
        let mut l = TestLog::new();
        l.ok(county("a", "2000-01-01", "10"));
        l.ok(revenue("a", "1000", "2000-01-03"));
        l.ok(spend("a", "990", "2000-01-05"));
        l.ok(bill("a", "2000-01", "5", "2000-01-10", "2000-01-01"));
        let m = at(&l, "2000-01-20");
        // The window (Oct–Dec 1999) is empty and no need is budgeted: unknown.
        assert_eq!(m.counties[0].avg_monthly_outflow, None);
        assert_eq!(m.arrears[0].days_overdue, 10);
        assert_eq!(m.payroll_history.len(), 1);
        assert_eq!(
            serde_json::to_value(&m.watch_history).unwrap()[0]["spells"][0]["from"],
            json!("2000-01-04")
        );
        // 2000-03-10: the window is Jan–Feb 2000 (December 1999 holds nothing).
        let m = at(&l, "2000-03-10");
        assert_eq!(
            m.counties[0].avg_monthly_outflow.unwrap().to_string(),
            "330.00"
        );
        assert_eq!(
            serde_json::to_value(&m.tight_months).unwrap(),
            json!([{"county":"a","months":3,"since":"2000-01"}])
        );
    }

    #[test]
    fn watch_history_spells_open_closed_and_clipped_at_the_window() {
        let mut l = TestLog::new();
        l.ok(city("1000", "2021-01-01"));
        l.ok(county("a", "2021-01-01", "100000"));
        l.ok(alloc("a", "direct", 2021, "7", "2021-03-01"));
        l.ok(transfer("a", "direct", 2021, "7", "2021-03-05"));
        l.ok(bill("a", "2021-05", "10", "2021-05-15", "2021-04-01"));
        l.ok(deposit("a", "2021-05", "10", "2021-05-10"));
        l.ok(wages("a", "2021-05", "10", "2021-05-20"));
        assert_eq!(
            js(&l, "2021-06-30", "watch_history"),
            json!([{"county":"a","spells":[
                {"from":"2021-03-02","to":"2021-03-04","reasons":["direct_overdue"]},
                {"from":"2021-05-09","to":"2021-05-09","reasons":["payroll_late"]},
                {"from":"2021-05-16","to":"2021-05-19","reasons":["wage_arrears"]}]}])
        );
        // Still on the list at as_of: the spell is open.
        assert_eq!(
            js(&l, "2021-05-17", "watch_history")[0]["spells"][2],
            json!({"from":"2021-05-16","to":null,"reasons":["wage_arrears"]})
        );
        // The window starts on the first day of month(as_of) − 11.
        assert_eq!(
            js(&l, "2022-04-30", "watch_history")[0]["spells"][0]["from"],
            json!("2021-05-09")
        );
        assert_eq!(js(&l, "2022-05-01", "watch_history"), json!([]));
        // A report that disagrees from 2021-03-31 on keeps `a` on the list: a spell
        // already running on the window's first day starts there.
        l.ok(report("a", "treasury", "2021-03-31", "1"));
        assert_eq!(
            js(&l, "2022-03-31", "watch_history"),
            json!([{"county":"a","spells":[{"from":"2021-04-01","to":null,
                    "reasons":["payroll_late","discrepancy","wage_arrears"]}]}])
        );
    }

    #[test]
    fn an_old_month_paid_long_ago_whose_payment_is_reversed_in_the_window_is_in_arrears() {
        // January 2021 is declared, paid and quiet long before the window of
        // 2022-03-20 (from 2021-04-01); only the reversal of its payment, dated in the
        // window, can put it in arrears: the sweep must still look at that month.
        let mut l = TestLog::new();
        l.ok(
            json!({"kind":"county_registered","county":"a","name":"A","registered_on":"2021-01-01",
                    "opening_treasury":"0","opening_wage_reserve":"5000"}),
        );
        l.ok(bill("a", "2021-01", "1000", "2021-01-15", "2021-01-02"));
        let paid = l.ok(wages("a", "2021-01", "1000", "2021-01-15"));
        l.ok(reverse(paid, "2022-03-10"));
        assert_eq!(at(&l, "2022-03-20").arrears[0].days_overdue, 429);
        assert_eq!(
            js(&l, "2022-03-20", "watch_history"),
            json!([{"county":"a","spells":[{"from":"2022-03-10","to":null,"reasons":["wage_arrears"]}]}])
        );
    }

    #[test]
    fn tight_months_count_month_ends_back_from_as_of_and_attention_lists_low() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "400"));
        l.ok(need("a", 2021, "operations", "12000", "2021-01-01")); // level 0.4 all year
        l.ok(lines(Some("a"), "0.1", "0.2", "1.5", "2021-01-01")); // normal
        l.ok(lines(Some("a"), "0.3", "0.5", "1.5", "2021-03-31")); // low
        l.ok(lines(Some("a"), "0.5", "0.6", "1.5", "2021-05-31")); // warning
        let tm = |l: &TestLog, as_of: &str| js(l, as_of, "tight_months");
        assert_eq!(tm(&l, "2021-03-30"), json!([]));
        assert_eq!(
            tm(&l, "2021-03-31"),
            json!([{"county":"a","months":1,"since":"2021-03"}])
        );
        // Mid-April: April is checked on as_of itself, March on its last day.
        assert_eq!(
            js(&l, "2021-04-15", "attention"),
            json!([{"county":"a","guarantee_level":"0.4000","tight_months":2}])
        );
        assert_eq!(
            tm(&l, "2021-06-10"),
            json!([{"county":"a","months":4,"since":"2021-03"}])
        );
        // At warning a county is on the watch list, not in `attention`.
        assert_eq!(js(&l, "2021-06-10", "attention"), json!([]));
        l.ok(revenue("a", "100000", "2021-06-20"));
        assert_eq!(tm(&l, "2021-06-20"), json!([]));
        assert_eq!(tm(&l, "2021-06-19")[0]["months"], json!(4));
    }

    #[test]
    fn outstanding_advances_net_of_reversals_and_not_grants() {
        let mut l = TestLog::new();
        l.ok(city("100000", "2021-01-01"));
        l.ok(county("a", "2021-01-01", "0"));
        l.ok(alloc("a", "general", 2021, "10000", "2021-01-04"));
        l.ok(transfer("a", "general", 2021, "1000", "2021-01-10"));
        let adv = l.ok(emergency("a", "advance", "300", "2021-02-01"));
        l.ok(emergency("a", "advance", "200", "2021-03-01"));
        l.ok(emergency("a", "grant", "50", "2021-03-01"));
        l.ok(reverse(adv, "2021-04-01"));
        let o = |as_of: &str| {
            position(&l.state, Some(d(as_of)), None).counties[0]
                .outstanding_advances
                .to_string()
        };
        assert_eq!(o("2021-01-31"), "0.00");
        assert_eq!(o("2021-02-01"), "300.00");
        assert_eq!(o("2021-03-31"), "500.00");
        assert_eq!(o("2021-04-01"), "200.00");
    }
}
