//! The plan's lines and tiers (SPEC §6.3): what each (county, fund, fiscal year)
//! ledger plans by its fund's rule, and the funding of the four tiers in
//! [`FUNDING_ORDER`] from what the city holds.
//!
//! Guarantees: no ledger is planned above what the whole log still allows for it
//! (§8.13), nor below zero; tiers are funded in order, each in full while it fits, the
//! first that does not fit shared by [`pro_rata`] so that its funded cents add up
//! exactly to what was left, later tiers nothing; so the total funded is at most
//! `max(0, city_available)`. Pure integer arithmetic, no I/O.

use super::{Line, PlanDates, Tier};
use crate::money::{floor_cent_div, floor_div, Money};
use crate::state::{County, FundLedger};
use crate::values::{FiscalYear, Fund};
use std::collections::BTreeMap;

/// Funds in the order the planner funds them (SPEC §6.3): direct first, in_execution last.
pub const FUNDING_ORDER: [Fund; 4] = [
    Fund::Direct,
    Fund::General,
    Fund::PreNotified,
    Fund::InExecution,
];

/// Forecast lines of earlier months, by (fiscal year, fund), counted as if dispatched
/// (SPEC §8.24). Empty for a plan.
pub type Earlier = BTreeMap<(FiscalYear, Fund), Money>;

/// The planned amount of one ledger in month `d.month` (SPEC §6.3), before funding:
/// the fund's rule, then capped at what the whole log still allows (§8.13) and at
/// zero. `earlier` is what forecast months before this one planned for the same
/// ledger: it counts in `before` (and in direct's "dispatched ≤ E"), and it lowers
/// the whole-log cap, as if those lines had been recorded. `None` when the fund does
/// not plan this fiscal year.
pub fn ledger_planned(
    l: &FundLedger,
    fund: Fund,
    fy: FiscalYear,
    d: &PlanDates,
    earlier: Money,
) -> Option<Money> {
    let planned = match fund {
        Fund::General if fy == d.fiscal_year => {
            let before = l.dispatched_at(d.basis) + earlier;
            let need = (l.entitled_at(d.end) - before).clamp_zero();
            let r = 13 - d.month.number() as i128;
            if r == 1 {
                need
            } else {
                floor_cent_div(need, r)
            }
        }
        Fund::PreNotified if fy == d.fiscal_year => {
            let before = l.dispatched_at(d.basis) + earlier;
            (l.scheduled_through(d.month, d.end) - before).clamp_zero()
        }
        Fund::InExecution if fy <= d.fiscal_year => {
            let before = l.dispatched_at(d.basis) + earlier;
            (l.entitled_at(d.basis) - before).clamp_zero()
        }
        Fund::Direct if fy <= d.fiscal_year => {
            (l.entitled_at(d.end) - (l.dispatched_at(d.end) + earlier)).clamp_zero()
        }
        _ => return None,
    };
    let cap = (l.remaining_total() - earlier).clamp_zero();
    Some(planned.min(cap))
}

/// A county's lines with planned > 0 for `d.month`, sorted by fund (list order), then
/// fiscal year. `earlier` as in [`ledger_planned`].
pub fn county_lines(
    c: &County,
    d: &PlanDates,
    earlier: &Earlier,
) -> Vec<(Fund, FiscalYear, Money)> {
    let mut out: Vec<(Fund, FiscalYear, Money)> = c
        .funds
        .iter()
        .filter_map(|(&(fy, fund), l)| {
            let e = earlier.get(&(fy, fund)).copied().unwrap_or(Money::ZERO);
            ledger_planned(l, fund, fy, d, e)
                .filter(|p| p.is_positive())
                .map(|p| (fund, fy, p))
        })
        .collect();
    out.sort_by_key(|&(fund, fy, _)| (fund, fy));
    out
}

/// Funds `lines` (in output order: county id, then fund, then fiscal year) tier by
/// tier in [`FUNDING_ORDER`] from `city_available` (SPEC §6.3): a tier that fits is
/// funded in full, the first that does not shares what is left by [`pro_rata`], later
/// tiers get nothing. Sets every line's `funded` and `shortfall`; answers the four
/// tiers, in funding order.
pub(super) fn fund_tiers(lines: &mut [Line], city_available: Money) -> Vec<Tier> {
    let mut left = city_available.clamp_zero();
    let mut tiers = Vec::with_capacity(4);
    for fund in FUNDING_ORDER {
        // Indices in output order, so within the tier: county id, then fiscal year.
        let idx: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].fund == fund)
            .collect();
        let planned: Money = idx.iter().map(|&i| lines[i].planned).sum();
        if planned <= left {
            for &i in &idx {
                lines[i].funded = lines[i].planned;
            }
            left -= planned;
        } else {
            let shares = pro_rata(
                &idx.iter().map(|&i| lines[i].planned).collect::<Vec<_>>(),
                left,
            );
            for (&i, s) in idx.iter().zip(shares) {
                lines[i].funded = s;
            }
            left = Money::ZERO;
        }
        let funded: Money = idx.iter().map(|&i| lines[i].funded).sum();
        tiers.push(Tier {
            fund,
            planned,
            funded,
        });
    }
    for l in lines.iter_mut() {
        l.shortfall = l.planned - l.funded;
    }
    tiers
}

/// Shares `left` over the lines of one tier that does not fit (SPEC §6.3): each gets
/// floor_cent(planned × left / tier_planned), then the cents still left go one by one
/// to the largest remainders; ties go to the earlier line in `planned` order (the
/// caller passes lines sorted by county id, then fiscal year). Requires
/// `0 ≤ left < Σ planned`. The result adds up to `left` exactly.
pub fn pro_rata(planned: &[Money], left: Money) -> Vec<Money> {
    let total: i128 = planned.iter().map(|p| p.cents()).sum();
    debug_assert!(left.cents() >= 0 && left.cents() < total);
    let mut funded = Vec::with_capacity(planned.len());
    let mut rem = Vec::with_capacity(planned.len());
    for p in planned {
        let num = p.cents() * left.cents();
        let q = floor_div(num, total);
        funded.push(q);
        rem.push(num - q * total);
    }
    let given: i128 = funded.iter().sum();
    let extra = (left.cents() - given) as usize;
    debug_assert!(extra < planned.len().max(1));
    let mut order: Vec<usize> = (0..planned.len()).collect();
    // Stable: equal remainders keep the caller's (county, fiscal_year) order.
    order.sort_by(|&a, &b| rem[b].cmp(&rem[a]));
    for &i in order.iter().take(extra) {
        funded[i] += 1;
    }
    funded.into_iter().map(Money::from_cents).collect()
}
