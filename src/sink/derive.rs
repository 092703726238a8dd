//! What a batch of records changes in the derived tables, and those rows, computed by
//! sanbao's own read models (`query::monitor`'s `CountyDay`, the code behind `monitor`
//! and `monitor --daily`; `query::plan`) and written as PostgreSQL `COPY` text.
//!
//! Guarantees:
//! - pure: a function of the folded state, the affected days and the dates; no I/O;
//! - every row of `county_days`, `payroll` and `watchlist` for (county, d) is what
//!   `monitor --as-of d` gives for that county at the state's head;
//! - [`Affected`] is conservative: a record can only change a county's rows on or
//!   after the date it notes for it (each event's effective date — a balance, a
//!   window's outflow, a need, a wage bill, a line are all taken "on or before
//!   as_of" — a city-wide line or a reversal noting every county), so recomputing
//!   from there to the latest business date, and replacing those rows, keeps every
//!   row equal to a full recomputation.

use crate::event::Event;
use crate::money::Money;
use crate::query::history;
use crate::query::monitor::CountyDay;
use crate::query::plan::Plan;
use crate::state::State;
use crate::values::{CountyId, Date};
use std::collections::BTreeMap;

/// The days a batch may change: per county, the first such date; and a first date for
/// every county (city-wide risk lines, reversals).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Affected {
    /// County → the earliest date one of the batch's records can change.
    pub counties: BTreeMap<CountyId, Date>,
    /// The earliest date a record of the batch can change for every county.
    pub all_from: Option<Date>,
}

impl Affected {
    /// Notes what `event` can change (call for each record of the batch).
    pub fn note(&mut self, event: &Event) {
        let d = event.effective_date();
        match event {
            // No county row depends on these (the city treasury, plans, policies,
            // and contract v2's records that move no money: requests, approvals —
            // their dispatch is a record of its own — limits, proposals, decisions
            // and response plans).
            Event::CityFundsReceived(_)
            | Event::PlanIssued(_)
            | Event::PlanningPolicySet(_)
            | Event::NoticeIssued(_)
            | Event::EmergencyRequested(_)
            | Event::EmergencyApproved(_)
            | Event::ApprovalLimitSet(_)
            | Event::PolicyProposed(_)
            | Event::AssessmentDecided(_)
            | Event::ResponsePlanFiled(_) => {}
            // A reversal takes its target's flow back from its own date, whatever
            // county that was; city-wide lines apply to every county.
            Event::EventReversed(_) => self.all(d),
            Event::RiskLinesSet(e) if e.county.is_none() => self.all(d),
            _ => match event.county() {
                Some(c) => {
                    let e = self.counties.entry(c.clone()).or_insert(d);
                    *e = (*e).min(d);
                }
                None => self.all(d),
            },
        }
    }

    fn all(&mut self, d: Date) {
        self.all_from = Some(self.all_from.map_or(d, |a| a.min(d)));
    }

    /// Whether nothing was noted.
    pub fn is_empty(&self) -> bool {
        self.counties.is_empty() && self.all_from.is_none()
    }
}

/// Per county, the first day whose rows must be (re)written after a batch: the
/// earliest affected date, or the day after the previous latest business date
/// (`before`) when the latest moved on — never before the county's registration —
/// up to the state's latest business date (returned beside them). Counties by id.
pub fn days_to_write(
    state: &State,
    affected: &Affected,
    before: Option<Date>,
) -> (Vec<(CountyId, Date)>, Option<Date>) {
    let Some(latest) = state.max_effective_date else {
        return (Vec::new(), None);
    };
    let fresh = before.map(|b| b.add_days(1));
    let mut out = Vec::new();
    for c in state.counties().filter(|c| c.registered_on <= latest) {
        let from = [
            affected.counties.get(&c.id).copied(),
            affected.all_from,
            fresh,
            // No rows were written yet at all: every day.
            before.is_none().then_some(c.registered_on),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(from) = from {
            let from = from.max(c.registered_on);
            if from <= latest {
                out.push((c.id.clone(), from));
            }
        }
    }
    (out, Some(latest))
}

/// `COPY … FROM STDIN` text buffers of one batch's derived rows.
#[derive(Default)]
pub struct Rows {
    /// `county_days` rows.
    pub county_days: Vec<u8>,
    /// `payroll` rows.
    pub payroll: Vec<u8>,
    /// `watchlist` rows.
    pub watchlist: Vec<u8>,
    /// `plans` rows.
    pub plans: Vec<u8>,
    /// `plan_lines` rows.
    pub plan_lines: Vec<u8>,
    /// How many `county_days` rows.
    pub county_day_count: u64,
    /// How many rows in all.
    pub count: u64,
}

/// Columns of `county_days`, in the order [`Rows::county_days`] writes them.
pub const COUNTY_DAYS_COLUMNS: &str = "city, county, date, treasury, wage_reserve, cash, avg_monthly_outflow, guarantee_level, status, warning_line, alert_line, idle_line";
/// Columns of `payroll`, in the order [`Rows::payroll`] writes them.
pub const PAYROLL_COLUMNS: &str = "city, county, date, payroll_month, wage_bill, payday, deposit_deadline, deposited, paid, shortfall, status, deposited_on, days_late";
/// Columns of `watchlist`.
pub const WATCHLIST_COLUMNS: &str = "city, county, date, reasons";
/// Columns of `plans`.
pub const PLANS_COLUMNS: &str = "city, seq, month, based_on_seq, issued_on, plan_sha256, policy, basis_date, city_available, total_planned, total_funded, plan";
/// Columns of `plan_lines`.
pub const PLAN_LINES_COLUMNS: &str =
    "city, seq, county, fund, fiscal_year, planned, funded, shortfall";

/// Appends `s` escaped for COPY's text format (backslash, tab, newline, return).
pub fn push_text(out: &mut Vec<u8>, s: &str) {
    push_bytes(out, s.as_bytes());
}

/// Whether a byte is one COPY's text format escapes.
fn special(b: u8) -> bool {
    matches!(b, b'\\' | b'\t' | b'\n' | b'\r')
}

/// [`push_text`] of UTF-8 bytes: copied whole when nothing needs escaping (numbers,
/// dates, ids and most JSON), byte by byte otherwise.
pub fn push_bytes(out: &mut Vec<u8>, s: &[u8]) {
    if !s.iter().any(|&b| special(b)) {
        out.extend_from_slice(s);
        return;
    }
    for &b in s {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// Appends a value's `Display` text escaped as [`push_text`] does, then a tab —
/// formatted straight into `out`, escaped afterwards only if it needs it.
fn field(out: &mut Vec<u8>, v: impl std::fmt::Display) {
    use std::io::Write as _;
    let start = out.len();
    let _ = write!(out, "{v}");
    if out[start..].iter().any(|&b| special(b)) {
        let text = out.split_off(start);
        push_bytes(out, &text);
    }
    out.push(b'\t');
}

fn opt_field<T: std::fmt::Display>(out: &mut Vec<u8>, v: Option<T>) {
    match v {
        Some(v) => field(out, v),
        None => out.extend_from_slice(b"\\N\t"),
    }
}

/// Ends a row (replaces the last tab by a newline).
fn end_row(out: &mut Vec<u8>) {
    if out.last() == Some(&b'\t') {
        out.pop();
    }
    out.push(b'\n');
}

impl Rows {
    /// The rows of `county` for days `from..=to`, as `monitor --as-of d` gives them.
    pub fn county(&mut self, city: &str, state: &State, county: &CountyId, from: Date, to: Date) {
        let Some(c) = state.county(county) else {
            return;
        };
        // The payroll months that can be in arrears on some day of the range: asking
        // only them gives the same rows (`history::months_in_play`), and spares
        // looking through every month the county ever had, each day.
        let months = history::months_in_play(c, from);
        let mut d = from;
        while d <= to {
            let day = CountyDay::of_in(state, c, d, Some(&months));
            let r = &day.row;
            let o = &mut self.county_days;
            field(o, city);
            field(o, &r.county);
            field(o, d);
            field(o, c.treasury.through(d));
            field(o, c.wage_reserve.through(d));
            field(o, r.cash);
            opt_field(o, r.avg_monthly_outflow);
            opt_field(o, r.guarantee_level);
            field(o, r.status.as_str());
            field(o, r.warning_line);
            field(o, r.alert_line);
            field(o, r.idle_line);
            end_row(o);
            self.county_day_count += 1;
            self.count += 1;
            for p in &day.payroll {
                let o = &mut self.payroll;
                field(o, city);
                field(o, &p.county);
                field(o, d);
                field(o, p.payroll_month);
                field(o, p.wage_bill);
                field(o, p.payday);
                field(o, p.deposit_deadline);
                field(o, p.deposited);
                field(o, p.paid);
                field(o, p.shortfall);
                field(o, p.status.as_str());
                opt_field(o, p.deposited_on);
                field(o, p.days_late);
                end_row(o);
                self.count += 1;
            }
            if !day.reasons.is_empty() {
                let o = &mut self.watchlist;
                field(o, city);
                field(o, county);
                field(o, d);
                // A PostgreSQL array literal: {a,b}.
                o.push(b'{');
                for (i, r) in day.reasons.iter().enumerate() {
                    if i > 0 {
                        o.push(b',');
                    }
                    o.extend_from_slice(r.as_str().as_bytes());
                }
                o.push(b'}');
                end_row(o);
                self.count += 1;
            }
            d = d.add_days(1);
        }
    }

    /// The rows of one issued plan (`seq`: its `plan_issued` record; `issued_on`: its
    /// date), as `plan --month M --at-seq based_on_seq --json` gives it.
    pub fn plan(&mut self, city: &str, seq: u64, issued_on: Date, plan: &Plan) {
        let o = &mut self.plans;
        field(o, city);
        field(o, seq);
        field(o, plan.month);
        field(o, plan.based_on_seq);
        field(o, issued_on);
        field(o, plan.plan_sha256);
        field(
            o,
            serde_json::to_value(plan.policy)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        );
        field(o, plan.basis_date);
        field(o, plan.city_available);
        field(o, plan.total_planned);
        field(o, plan.total_funded);
        let json = serde_json::to_string(plan).expect("a plan serializes");
        push_text(o, &json);
        end_row(o);
        self.count += 1;
        for l in &plan.lines {
            let o = &mut self.plan_lines;
            field(o, city);
            field(o, seq);
            field(o, &l.county);
            field(o, l.fund.as_str());
            field(o, l.fiscal_year);
            field(o, l.planned);
            field(o, l.funded);
            field(o, l.shortfall);
            end_row(o);
            self.count += 1;
        }
    }
}

/// Whether a money amount fits `numeric(15,2)` (it always does for SPEC amounts).
pub fn fits_amount(m: Money) -> bool {
    m.cents().unsigned_abs() < 10u128.pow(15)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::position::test_log::*;
    use std::collections::BTreeMap as Map;

    /// The `county_days`, `payroll` and `watchlist` rows of every county and day up to
    /// the latest date, keyed by (table, county, date, rest of the key).
    fn all_rows(state: &State) -> Map<(u8, String, String, String), String> {
        let mut rows = Rows::default();
        if let Some(latest) = state.max_effective_date {
            for c in state.counties() {
                rows.county("x", state, &c.id, c.registered_on, latest);
            }
        }
        keyed(&rows)
    }

    fn keyed(rows: &Rows) -> Map<(u8, String, String, String), String> {
        let mut out = Map::new();
        for (t, buf) in [
            (0u8, &rows.county_days),
            (1, &rows.payroll),
            (2, &rows.watchlist),
        ] {
            for line in std::str::from_utf8(buf).unwrap().lines() {
                let f: Vec<&str> = line.split('\t').collect();
                let extra = if t == 1 {
                    f[3].to_string()
                } else {
                    String::new()
                };
                let prev = out.insert(
                    (t, f[1].to_string(), f[2].to_string(), extra),
                    line.to_string(),
                );
                assert!(prev.is_none(), "a row written twice: {line}");
            }
        }
        out
    }

    /// Rows kept from an earlier state, then replaced as a batch's `Affected` says,
    /// equal the rows computed from scratch — for every split of the log into two
    /// batches, through backdated flows, city-wide and county lines, a reversal,
    /// payroll and a late-registered county.
    #[test]
    fn replacing_the_affected_days_equals_recomputing_everything() {
        let events = vec![
            county("a", "2021-01-01", "400"),
            need("a", 2021, "operations", "12000", "2021-01-01"),
            county("b", "2021-01-10", "50"),
            bill("a", "2021-02", "300", "2021-02-25", "2021-01-20"),
            revenue("a", "500", "2021-01-15"),
            spend("a", "120", "2021-01-31"),
            lines(None, "0.4", "0.6", "1.5", "2021-02-01"),
            deposit("a", "2021-02", "100", "2021-02-10"),
            spend("b", "20", "2021-02-03"),
            revenue("a", "50", "2021-01-05"),
            lines(Some("b"), "0.1", "0.2", "3", "2021-02-05"),
            report("a", "treasury", "2021-01-31", "1.00"),
            spend("a", "90", "2021-02-28"),
            county("c", "2021-03-01", "10"),
            deposit("a", "2021-02", "250", "2021-02-20"),
            wages("a", "2021-02", "300", "2021-02-25"),
            spend("a", "30", "2021-01-25"),
            lines(None, "0.5", "0.7", "1.4", "2021-02-15"),
            revenue("b", "5", "2021-03-10"),
            // Last, alone in the final batch: a reversal dated after its target.
            reverse(10, "2021-03-02"),
        ];
        let mut l = TestLog::new();
        for e in &events {
            l.ok(e.clone());
        }
        let n = events.len();
        for k in 0..n {
            let before = l.at(k as u64);
            let after = l.at(n as u64);
            let mut kept = all_rows(before);
            let mut affected = Affected::default();
            for e in &events[k..] {
                affected.note(&Event::parse_object(e.clone()).unwrap().event);
            }
            let written = (k > 0).then_some(before.max_effective_date).flatten();
            let (days, latest) = days_to_write(after, &affected, written);
            let mut fresh = Rows::default();
            for (c, from) in &days {
                kept.retain(|(_, county, date, _), _| {
                    !(county == c.as_str() && date.as_str() >= from.to_string().as_str())
                });
                fresh.county("x", after, c, *from, latest.unwrap());
            }
            kept.extend(keyed(&fresh));
            assert_eq!(kept, all_rows(after), "split after record {k}");
        }
    }

    #[test]
    fn copy_text_escapes_what_copy_reads_specially() {
        let mut o = Vec::new();
        push_text(&mut o, "a\tb\\c\nd\re");
        assert_eq!(o, b"a\\tb\\\\c\\nd\\re");
    }
}
