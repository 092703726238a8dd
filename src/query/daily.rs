//! `monitor --daily` (按日监测, issue 16's daily monitoring series): every county's
//! day-end cash, average monthly outflow, guarantee level (库款保障水平) and status for
//! every day of a range, and per month the days spent in each status — the facts
//! behind "库款持续紧张".
//!
//! Guarantees: a pure function of the folded state and the range; each day's figures
//! are exactly `monitor`'s `counties` row with as_of = that day (same code, tested);
//! a county appears from the later of the range's first day and its registration;
//! counties by id, days ascending, months ascending; every day of a month counted in
//! exactly one status.

use crate::money::{Money, Ratio};
use crate::query::monitor::county_row;
use crate::query::Status;
use crate::state::State;
use crate::values::{CountyId, Date, Month, Text};
use schemars::JsonSchema;
use serde::Serialize;

/// The most days one series may cover (about ten years): longer ranges are refused.
pub const MAX_DAILY_DAYS: i64 = 3_700;

/// The `monitor --daily` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Daily {
    /// First day asked.
    pub from: Date,
    /// Last day asked.
    pub to: Date,
    /// The last record the figures know about.
    pub at_seq: u64,
    /// Counties registered on or before `to` (or the one asked), by id.
    pub counties: Vec<DailyCounty>,
}

/// One county's series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DailyCounty {
    /// County id.
    pub county: CountyId,
    /// Its registered name.
    pub name: Text,
    /// One row per day from max(from, registered_on) to `to`.
    pub days: Vec<DailyRow>,
    /// Per calendar month of those days, the days in each status.
    pub months: Vec<MonthStatusDays>,
}

/// One day-end of one county, as `monitor` gives it with as_of = `date`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DailyRow {
    /// The day.
    pub date: Date,
    /// Day-end cash (treasury + wage reserve).
    pub cash: Money,
    /// Average monthly outflow (SPEC §6.2), or `null`.
    #[schemars(with = "crate::schema::out::Nullable<Money>")]
    pub avg_monthly_outflow: Option<Money>,
    /// round4(cash / avg_monthly_outflow), or `null`.
    #[schemars(with = "crate::schema::out::Nullable<Ratio>")]
    pub guarantee_level: Option<Ratio>,
    /// Status against the lines in force that day.
    pub status: Status,
}

/// How many days of one month a county spent in each status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MonthStatusDays {
    /// The month.
    pub month: Month,
    /// Days of the month in the series (they add up the five counts below).
    pub days: u32,
    /// Days at `warning` (预警).
    pub warning: u32,
    /// Days at `low` (偏低).
    pub low: u32,
    /// Days at `normal` (正常).
    pub normal: u32,
    /// Days at `idle` (闲置).
    pub idle: u32,
    /// Days with no level (`unknown`).
    pub unknown: u32,
}

/// The daily series over `from..=to` (the caller checks `from ≤ to` and the length),
/// for every county registered by `to`, or only `county`.
pub fn daily(state: &State, from: Date, to: Date, county: Option<&CountyId>) -> Daily {
    let counties = state
        .counties()
        .filter(|c| c.registered_on <= to)
        .filter(|c| county.map_or(true, |id| &c.id == id))
        .map(|c| {
            let mut days = Vec::new();
            let mut months: Vec<MonthStatusDays> = Vec::new();
            let mut x = from.max(c.registered_on);
            while x <= to {
                let row = county_row(state, c, x);
                if months.last().map_or(true, |m| m.month != x.month()) {
                    months.push(MonthStatusDays {
                        month: x.month(),
                        days: 0,
                        warning: 0,
                        low: 0,
                        normal: 0,
                        idle: 0,
                        unknown: 0,
                    });
                }
                let m = months.last_mut().expect("pushed above");
                m.days += 1;
                *match row.status {
                    Status::Warning => &mut m.warning,
                    Status::Low => &mut m.low,
                    Status::Normal => &mut m.normal,
                    Status::Idle => &mut m.idle,
                    Status::Unknown => &mut m.unknown,
                } += 1;
                days.push(DailyRow {
                    date: x,
                    cash: row.cash,
                    avg_monthly_outflow: row.avg_monthly_outflow,
                    guarantee_level: row.guarantee_level,
                    status: row.status,
                });
                x = x.add_days(1);
            }
            DailyCounty {
                county: c.id.clone(),
                name: c.name.clone(),
                days,
                months,
            }
        })
        .collect();
    Daily {
        from,
        to,
        at_seq: state.head_seq,
        counties,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::monitor::monitor;
    use crate::query::position::test_log::*;

    #[test]
    fn each_day_is_monitors_row_of_that_day_and_months_count_every_day_once() {
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "400"));
        l.ok(need("a", 2021, "operations", "12000", "2021-01-01"));
        l.ok(lines(Some("a"), "0.1", "0.2", "1.5", "2021-01-01"));
        l.ok(lines(Some("a"), "0.3", "0.5", "1.5", "2021-02-20"));
        l.ok(lines(Some("a"), "0.5", "0.6", "1.5", "2021-03-05"));
        l.ok(county("b", "2021-02-25", "0"));
        let s = daily(&l.state, d("2021-02-01"), d("2021-03-10"), None);
        assert_eq!(s.counties.len(), 2);
        for c in &s.counties {
            for r in &c.days {
                let m = monitor(&l.state, Some(r.date));
                let want = m.counties.iter().find(|x| x.county == c.county).unwrap();
                assert_eq!(
                    (r.cash, r.avg_monthly_outflow, r.guarantee_level, r.status),
                    (
                        want.cash,
                        want.avg_monthly_outflow,
                        want.guarantee_level,
                        want.status
                    )
                );
            }
            let total: u32 = c.months.iter().map(|m| m.days).sum();
            assert_eq!(total as usize, c.days.len());
            for m in &c.months {
                assert_eq!(m.days, m.warning + m.low + m.normal + m.idle + m.unknown);
            }
        }
        let a = &s.counties[0];
        assert_eq!(a.days.len(), 38);
        assert_eq!(
            serde_json::to_value(&a.months).unwrap(),
            serde_json::json!([
                {"month":"2021-02","days":28,"warning":0,"low":9,"normal":19,"idle":0,"unknown":0},
                {"month":"2021-03","days":10,"warning":6,"low":4,"normal":0,"idle":0,"unknown":0}
            ])
        );
        // b from its registration on; no outflow and no need: unknown.
        let b = &s.counties[1];
        assert_eq!(b.days[0].date, d("2021-02-25"));
        assert_eq!(b.months[0].unknown, 4);
        let only_b = daily(&l.state, d("2021-02-01"), d("2021-03-10"), Some(&id("b")));
        assert_eq!(only_b.counties, vec![b.clone()]);
    }
}
