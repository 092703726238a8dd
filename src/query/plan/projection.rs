//! The county projections of a plan (SPEC §6.3, "Per county"): each county's cash on
//! B, what it is funded, its expected revenue and needs of the month, and from them its
//! projected end, guarantee level, status, emergency recommendation and payroll.
//! Under planning policy v2 (docs/planning-policy-v2.md §2–§3) the needs are
//! [`needs_v2`] and the recommendation also covers the wage need.
//!
//! Guarantees: integer cents throughout, rounded once where the SPEC divides (half to
//! even for expected revenue, `ceil_cent` for the emergency recommendation, which is
//! never below zero, `round4` for the level); a county registered after B opens with
//! zero cash. Pure functions of the state, no I/O.

use super::{CountyPlan, Line, Payroll, PlanDates};
use crate::money::{ceil_div, round_cent_div, Money, Ratio};
use crate::query::{avg_monthly_outflow, Status};
use crate::state::{County, State};
use crate::values::{Date, Month, NeedCategory, PlanningPolicy};

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

/// The v2 needs of month `m` (docs/planning-policy-v2.md §2), in exact cents: the wage
/// need `W2 = max(budgeted wages, declared wage bill)` and the non-wage need
/// `NW2 = max(budgeted non-wage, run rate − W2)`, with needs budgeted and the wage bill
/// declared on or before `cutoff`, and `run_rate` the county's avg_monthly_outflow (a
/// null run rate counts as 0.00). So `W2 + NW2 ≥` the v1 need, `W2 ≥` the budgeted
/// wages and `NW2 ≥` the budgeted non-wage need.
pub fn needs_v2(c: &County, m: Month, cutoff: Date, run_rate: Option<Money>) -> NeedsV2 {
    let all = c.need_of_month(m, cutoff, None);
    let budget_wages = c.need_of_month(m, cutoff, Some(NeedCategory::Wages));
    let bill = c.wage_bill(m, cutoff).map_or(Money::ZERO, |w| w.amount);
    let wages = budget_wages.max(bill);
    let rr = run_rate.unwrap_or(Money::ZERO);
    let non_wage = (all - budget_wages).max(rr - wages);
    NeedsV2 { wages, non_wage }
}

/// A county's month needs under v2 (see [`needs_v2`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeedsV2 {
    /// W2: the wage need.
    pub wages: Money,
    /// NW2: livelihood + operations + debt service (+ the run rate beyond W2).
    pub non_wage: Money,
}

impl NeedsV2 {
    /// N2 = W2 + NW2: the month's need.
    pub fn total(self) -> Money {
        self.wages + self.non_wage
    }
}

/// What a county's projection needs besides its funding, computed once per plan and
/// shared by the v2 tier funding (its baseline) and the projection.
#[derive(Clone, Debug)]
pub(super) struct CountyMonth {
    /// Cash on B (zero when registered after B).
    pub opening_cash: Money,
    /// Revenue of the three months before M, / 3.
    pub expected_revenue: Money,
    /// The month's need: v1's budgeted need, or N2 under v2.
    pub needs: Money,
    /// avg_monthly_outflow at B, or null.
    pub basis: Option<Money>,
    /// The warning line in force on B.
    pub lines: crate::state::Lines,
}

impl CountyMonth {
    /// The county's month figures under `policy`.
    pub(super) fn of(state: &State, c: &County, d: &PlanDates, policy: PlanningPolicy) -> Self {
        let basis = avg_monthly_outflow(c, d.basis);
        let needs = match policy {
            PlanningPolicy::V1 => c.need_of_month(d.month, d.end, None),
            PlanningPolicy::V2 => needs_v2(c, d.month, d.end, basis).total(),
        };
        CountyMonth {
            opening_cash: opening_cash(c, d.basis),
            expected_revenue: expected_revenue(c, d.month),
            needs,
            basis,
            lines: state.lines_at(c, d.basis),
        }
    }

    /// opening_cash + expected_revenue − needs: the projected end before any funding.
    pub(super) fn unfunded_end(&self) -> Money {
        self.opening_cash + self.expected_revenue - self.needs
    }
}

/// The projections of `counties` (by id, with their month figures `months`) given the
/// funded `lines` (in output order, so in county id order too): each county is funded
/// the sum of its lines.
pub(super) fn project_counties(
    counties: &[&County],
    months: &[CountyMonth],
    d: &PlanDates,
    lines: &[Line],
    policy: PlanningPolicy,
) -> Vec<CountyPlan> {
    let mut next = 0;
    let county_plans = counties
        .iter()
        .zip(months)
        .map(|(c, cm)| {
            let mut fin = Money::ZERO;
            while next < lines.len() && lines[next].county == c.id {
                fin += lines[next].funded;
                next += 1;
            }
            project(c, cm, d, fin, policy)
        })
        .collect();
    debug_assert_eq!(next, lines.len());
    county_plans
}

/// One county's projected month given what it is funded.
fn project(
    c: &County,
    cm: &CountyMonth,
    d: &PlanDates,
    funded_in: Money,
    policy: PlanningPolicy,
) -> CountyPlan {
    let projected_end = cm.opening_cash + funded_in + cm.expected_revenue - cm.needs;
    let projected_level = cm.basis.and_then(|b| Ratio::of(projected_end, b));
    let status = Status::of(projected_level, &cm.lines);
    let below_line = match (projected_level, cm.basis) {
        (Some(level), Some(b)) if level < cm.lines.warning_line => {
            emergency_amount(cm.lines.warning_line, b, projected_end)
        }
        _ => Money::ZERO,
    };
    let emergency_recommended = match policy {
        PlanningPolicy::V1 => below_line,
        // The wage term W2 − (opening + funded + revenue − NW2) is −projected_end
        // exactly (N2 = W2 + NW2): enough to pay the wage need (doc §3).
        PlanningPolicy::V2 => below_line.max(-projected_end).clamp_zero(),
    };
    let payroll = c.wage_bill(d.month, d.end).map(|w| Payroll {
        wage_bill: w.amount,
        payday: w.payday,
        deposit_deadline: w.payday.add_days(-7),
    });
    CountyPlan {
        county: c.id.clone(),
        opening_cash: cm.opening_cash,
        funded_in,
        expected_revenue: cm.expected_revenue,
        needs: cm.needs,
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
