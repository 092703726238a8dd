//! The county projections of a plan (SPEC §6.3, "Per county"): each county's cash on
//! B, what it is funded, its expected revenue and needs of the month, and from them its
//! projected end, guarantee level, status, emergency recommendation and payroll.
//!
//! Guarantees: integer cents throughout, rounded once where the SPEC divides (half to
//! even for expected revenue, `ceil_cent` for the emergency recommendation, which is
//! never below zero, `round4` for the level); a county registered after B opens with
//! zero cash. Pure functions of the state, no I/O.

use super::{CountyPlan, Line, Payroll, PlanDates};
use crate::money::{ceil_div, round_cent_div, Money, Ratio};
use crate::query::{avg_monthly_outflow, Status};
use crate::state::{County, State};
use crate::values::{Date, Month};

/// Revenue collected in the three calendar months before `m`, / 3, half to even at
/// cents (reversals count as opposite flows on their own date).
pub fn expected_revenue(c: &County, m: Month) -> Money {
    let from = m.add(-3).map_or_else(
        || Date::from_ymd(2000, 1, 1).expect("valid"),
        |x| x.first_day(),
    );
    let to = m.first_day().add_days(-1);
    round_cent_div(c.revenue.between(from, to), 3)
}

/// Cash on B, or zero for a county registered after B.
pub fn opening_cash(c: &County, basis: Date) -> Money {
    if c.registered_on > basis {
        Money::ZERO
    } else {
        c.cash_at(basis)
    }
}

/// The projections of `counties` (by id) given the funded `lines` (in output order, so
/// in county id order too): each county is funded the sum of its lines.
pub(super) fn project_counties(
    state: &State,
    counties: &[&County],
    d: &PlanDates,
    lines: &[Line],
) -> Vec<CountyPlan> {
    let mut next = 0;
    let county_plans = counties
        .iter()
        .map(|c| {
            let mut fin = Money::ZERO;
            while next < lines.len() && lines[next].county == c.id {
                fin += lines[next].funded;
                next += 1;
            }
            project(state, c, d, fin)
        })
        .collect();
    debug_assert_eq!(next, lines.len());
    county_plans
}

/// One county's projected month given what it is funded.
fn project(state: &State, c: &County, d: &PlanDates, funded_in: Money) -> CountyPlan {
    let opening_cash = opening_cash(c, d.basis);
    let expected_revenue = expected_revenue(c, d.month);
    let needs = c.need_of_month(d.month, d.end, None);
    let projected_end = opening_cash + funded_in + expected_revenue - needs;
    let basis = avg_monthly_outflow(c, d.basis);
    let projected_level = basis.and_then(|b| Ratio::of(projected_end, b));
    let lines = state.lines_at(c, d.basis);
    let status = Status::of(projected_level, &lines);
    let emergency_recommended = match (projected_level, basis) {
        (Some(level), Some(b)) if level < lines.warning_line => {
            emergency_amount(lines.warning_line, b, projected_end)
        }
        _ => Money::ZERO,
    };
    let payroll = c.wage_bill(d.month, d.end).map(|w| Payroll {
        wage_bill: w.amount,
        payday: w.payday,
        deposit_deadline: w.payday.add_days(-7),
    });
    CountyPlan {
        county: c.id.clone(),
        opening_cash,
        funded_in,
        expected_revenue,
        needs,
        projected_end,
        projected_level,
        status,
        emergency_recommended,
        payroll,
    }
}

/// ceil_cent(warning_line × basis − projected_end), computed exactly (the line is in
/// ten-thousandths), and never below zero.
pub fn emergency_amount(warning_line: Ratio, basis: Money, projected_end: Money) -> Money {
    let num = warning_line.units() as i128 * basis.cents() - 10_000 * projected_end.cents();
    Money::from_cents(ceil_div(num, 10_000)).clamp_zero()
}
