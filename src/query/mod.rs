//! Read models over the folded state: position (§6.1), monitor (§6.2) with its
//! contract-v2 history (`history`) and its daily series (`daily`), plan (§6.3),
//! forecast (§6.4), what-if answers over hypothetical events (`whatif`, issue 18),
//! and an issued plan's execution and status (`execution`, issue 18).
//! Pure functions of the state and their arguments.

pub mod daily;
pub mod execution;
pub mod forecast;
pub mod history;
pub mod monitor;
pub mod oversight;
pub mod plan;
pub mod position;
pub mod whatif;

use crate::state::State;
use crate::values::{Month, Sha256Hex};

/// The plan_sha256 of `month` over `state` (SPEC §6.3), used to check `plan_issued`:
/// recomputes the whole plan with [`plan::plan`] (`based_on_seq` = `state.head_seq`).
/// Never fails today; the `Result` leaves room for plans that cannot be computed.
pub fn plan_sha256(state: &State, month: Month) -> Result<Sha256Hex, String> {
    Ok(plan::plan(state, month).plan_sha256)
}

/// What the rules need of the plan of `month` computed from `state`: its hash and
/// each line's funded amount (what a [`crate::state::PlanOracle`] answers).
pub fn plan_facts(state: &State, month: Month) -> crate::state::PlanFacts {
    let p = plan::plan(state, month);
    let mut funded = std::collections::BTreeMap::new();
    for l in &p.lines {
        *funded
            .entry((l.county.clone(), l.fund, l.fiscal_year))
            .or_insert(Money::ZERO) += l.funded;
    }
    crate::state::PlanFacts {
        plan_sha256: p.plan_sha256,
        funded,
    }
}

use crate::money::{round_cent_div, Money, Ratio};
use crate::state::{County, Lines};
use crate::values::Date;
use schemars::JsonSchema;
use serde::Serialize;

/// The monitoring window of SPEC §6.2: the three calendar months ending with the last
/// complete month on or before `as_of` (as_of's own month when as_of is its last day).
/// Returns the first and last day of the window.
pub fn window(as_of: Date) -> (Date, Date) {
    if as_of < Date::FIRST {
        // Before any date an event may carry (a plan of 2000-01 is based on
        // 1999-12-31): an empty window.
        return (Date::FIRST, as_of);
    }
    let m = as_of.month();
    let last = if as_of == m.last_day() {
        m
    } else {
        match m.add(-1) {
            Some(prev) => prev,
            // The last complete month is 1999-12: no day of the window can hold an
            // event, so it is empty.
            None => return (Date::FIRST, Date::FIRST.add_days(-1)),
        }
    };
    // Months before 2000-01 hold no event: the window starts at 2000-01-01 at the
    // earliest.
    let first = last.add(-2).map_or(Date::FIRST, Month::first_day);
    (first, last.last_day())
}

/// `avg_monthly_outflow` of SPEC §6.2: (expenditure_paid + wages_paid in the window)
/// / 3, half to even at cents; if that is ≤ 0, the monthly need of as_of's month
/// (needs budgeted on or before as_of); `None` if that is zero too.
pub fn avg_monthly_outflow(c: &County, as_of: Date) -> Option<Money> {
    let (from, to) = window(as_of);
    let avg = round_cent_div(c.outflow.between(from, to), 3);
    if avg > Money::ZERO {
        return Some(avg);
    }
    if as_of < Date::FIRST {
        return None;
    }
    let need = c.need_of_month(as_of.month(), as_of, None);
    (need != Money::ZERO).then_some(need)
}

/// A county's status against its risk lines (SPEC §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// level < warning_line.
    Warning,
    /// warning_line ≤ level < alert_line.
    Low,
    /// alert_line ≤ level ≤ idle_line.
    Normal,
    /// level > idle_line.
    Idle,
    /// No level (no outflow and no budgeted need).
    Unknown,
}

impl Status {
    /// Classifies a guarantee level against the lines in force.
    pub fn of(level: Option<Ratio>, lines: &Lines) -> Status {
        match level {
            None => Status::Unknown,
            Some(l) if l < lines.warning_line => Status::Warning,
            Some(l) if l < lines.alert_line => Status::Low,
            Some(l) if l > lines.idle_line => Status::Idle,
            Some(_) => Status::Normal,
        }
    }

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Warning => "warning",
            Status::Low => "low",
            Status::Normal => "normal",
            Status::Idle => "idle",
            Status::Unknown => "unknown",
        }
    }
}

/// Threads one [`par_map`] uses at most (0: as many as the machine has cores).
static MAX_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Caps the threads of every [`par_map`] in this process: `serve` leaves one core
/// to its writer, so a query computes on the others only.
pub fn set_max_threads(n: usize) {
    MAX_THREADS.store(n.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// Items at least, before [`par_map`] spreads the work over threads.
const PAR_MIN: usize = 16;

/// `items.iter().map(f).collect()`, computed in contiguous parts on up to as many
/// threads as the machine has cores (at most 8): the answers are in the items'
/// order, whatever thread computed them. For per-county sweeps that are independent
/// of one another (a year of a county's days).
pub fn par_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let threads = match MAX_THREADS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(8)
    .min(items.len() / PAR_MIN)
    .max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let part = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(part)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<U>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a part of par_map panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_ends_with_the_last_complete_month() {
        let d = |s| Date::parse(s).unwrap();
        assert_eq!(window(d("2021-06-30")), (d("2021-04-01"), d("2021-06-30")));
        assert_eq!(window(d("2021-06-29")), (d("2021-03-01"), d("2021-05-31")));
        assert_eq!(window(d("2022-02-01")), (d("2021-11-01"), d("2022-01-31")));
        // Near 2000: the months before 2000-01 are empty, never the current month.
        assert_eq!(window(d("2000-03-10")), (d("2000-01-01"), d("2000-02-29")));
        assert_eq!(window(d("2000-01-31")), (d("2000-01-01"), d("2000-01-31")));
        let (from, to) = window(d("2000-01-20"));
        assert!(from > to, "an empty window");
    }

    #[test]
    fn status_edges() {
        let lines = crate::state::DEFAULT_LINES;
        let r = |u| Some(Ratio::from_units(u));
        assert_eq!(Status::of(r(2999), &lines), Status::Warning);
        assert_eq!(Status::of(r(3000), &lines), Status::Low);
        assert_eq!(Status::of(r(5000), &lines), Status::Normal);
        assert_eq!(Status::of(r(15000), &lines), Status::Normal);
        assert_eq!(Status::of(r(15001), &lines), Status::Idle);
        assert_eq!(Status::of(None, &lines), Status::Unknown);
    }
}
