//! The plan's lines and tiers (SPEC §6.3): what each (county, fund, fiscal year)
//! ledger plans by its fund's rule, and the funding of the four tiers in
//! [`FUNDING_ORDER`] from what the city holds.
//!
//! Guarantees: no ledger is planned above what the whole log still allows for it
//! (§8.13), nor below zero; tiers are funded in order, each in full while it fits, the
//! first that does not fit shared by [`pro_rata`] so that its funded cents add up
//! exactly to what was left, later tiers nothing; so the total funded is at most
//! `max(0, city_available)`. Under planning policy v2 only the split of the first
//! short tier changes ([`share_v2`], docs/planning-policy-v2.md §4): every tier's
//! funded total stays v1's. Pure integer arithmetic, no I/O.

use super::{emergency_amount, Line, PlanDates, Tier};
use crate::money::{floor_cent_div, floor_div, Money, Ratio};
use crate::query::Status;
use crate::state::{County, FundLedger, Lines};
use crate::values::{CountyId, FiscalYear, Fund};
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

/// What v2's tier funding needs to know of a county (docs/planning-policy-v2.md §4.2):
/// its projected end with no funding at all (`OC + ER − N2`), its basis and the
/// warning line in force on B.
#[derive(Clone, Copy, Debug)]
pub(super) struct Baseline {
    /// opening_cash + expected_revenue − N2.
    pub unfunded_end: Money,
    /// avg_monthly_outflow at B, or null.
    pub basis: Option<Money>,
    /// The lines in force on B.
    pub lines: Lines,
}

/// Funds `lines` (in output order: county id, then fund, then fiscal year) tier by
/// tier in [`FUNDING_ORDER`] from `city_available` (SPEC §6.3): a tier that fits is
/// funded in full, the first that does not shares what is left, later tiers get
/// nothing. The share is v1's [`pro_rata`], or under v2 (`v2` holds every county's
/// [`Baseline`]) [`share_v2`], which funds the same total. Sets every line's `funded`
/// and `shortfall`; answers the four tiers, in funding order.
pub(super) fn fund_tiers(
    lines: &mut [Line],
    city_available: Money,
    v2: Option<&BTreeMap<CountyId, Baseline>>,
) -> Vec<Tier> {
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
            let shares = match v2 {
                None => pro_rata(
                    &idx.iter().map(|&i| lines[i].planned).collect::<Vec<_>>(),
                    left,
                ),
                Some(base) => share_v2(lines, &idx, left, base),
            };
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

/// v2's share of `left` over the lines `idx` of the first tier that does not fit
/// (docs/planning-policy-v2.md §4.2–§4.3), answered in `idx` order. Lines of earlier
/// tiers must already hold their funding, and T's lines none.
///
/// Counties whose baseline level (no funding from T) is under the warning line (the
/// set W) claim what lifts them to it, never less than their v1 share and never more
/// than their planned amount in T. When the claims fit, they are funded and the rest
/// is shared over the remaining planned amounts as v1 shares; when they do not, each
/// county of W keeps its v1 share and what v1 gave the others is shared pro rata over
/// the claims above those shares. A county's amount goes to its lines oldest fiscal
/// year first. The result adds up to `left` (as v1's), no line gets more than planned,
/// and no county of W less than v1 would give it.
fn share_v2(
    lines: &[Line],
    idx: &[usize],
    left: Money,
    base: &BTreeMap<CountyId, Baseline>,
) -> Vec<Money> {
    let planned: Vec<Money> = idx.iter().map(|&i| lines[i].planned).collect();
    let v1 = pro_rata(&planned, left);
    // Funding from the earlier tiers, per county of T (T's own lines hold zero).
    let mut earlier: BTreeMap<&CountyId, Money> = BTreeMap::new();
    for &i in idx {
        earlier.insert(&lines[i].county, Money::ZERO);
    }
    for l in lines {
        if let Some(f) = earlier.get_mut(&l.county) {
            *f += l.funded;
        }
    }
    // One group per county: positions start..end in `idx`, P, V and the claim (W only).
    struct Group {
        start: usize,
        end: usize,
        v: Money,
        claim: Option<Money>,
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut start = 0;
    while start < idx.len() {
        let county = &lines[idx[start]].county;
        let mut end = start;
        while end < idx.len() && lines[idx[end]].county == *county {
            end += 1;
        }
        let p: Money = planned[start..end].iter().copied().sum();
        let v: Money = v1[start..end].iter().copied().sum();
        let b = base
            .get(county)
            .expect("every county of a line has a baseline");
        let pe0 = b.unfunded_end + earlier[county];
        let claim = b.basis.and_then(|basis| {
            let lv0 = Ratio::of(pe0, basis);
            (Status::of(lv0, &b.lines) == Status::Warning).then(|| {
                let gap = emergency_amount(b.lines.warning_line, basis, pe0);
                p.min(gap.max(v))
            })
        });
        groups.push(Group {
            start,
            end,
            v,
            claim,
        });
        start = end;
    }
    let claims: Money = groups.iter().filter_map(|g| g.claim).sum();
    let mut out = vec![Money::ZERO; idx.len()];
    // Splits a county's amount over its lines in T, oldest fiscal year first.
    let split = |out: &mut Vec<Money>, g: &Group, amount: Money| {
        let mut rest = amount;
        for k in g.start..g.end {
            let x = planned[k].min(rest);
            out[k] = x;
            rest -= x;
        }
        debug_assert_eq!(rest, Money::ZERO);
    };
    if claims <= left {
        for g in &groups {
            if let Some(c) = g.claim {
                split(&mut out, g, c);
            }
        }
        let remaining: Vec<Money> = (0..idx.len()).map(|k| planned[k] - out[k]).collect();
        for (k, s) in pro_rata(&remaining, left - claims).into_iter().enumerate() {
            out[k] += s;
        }
    } else {
        let w: Vec<&Group> = groups.iter().filter(|g| g.claim.is_some()).collect();
        let kept: Money = w.iter().map(|g| g.v).sum();
        let above: Vec<Money> = w.iter().map(|g| g.claim.expect("W") - g.v).collect();
        for (g, t) in w.iter().zip(pro_rata(&above, left - kept)) {
            split(&mut out, g, g.v + t);
        }
    }
    out
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
