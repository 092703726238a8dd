//! The month's dispatch plan (SPEC §6.3): what each county should receive in month M
//! by the bureau's rules, funded tier by tier from what the city actually holds, and
//! each county's projected cash, guarantee level and emergency need.
//!
//! Guarantees:
//! - a pure, deterministic function of the folded [`State`] and the month: no I/O, no
//!   clock, no hash-map order; the same state gives the same [`Plan`] and the same
//!   `plan_sha256`, forever;
//! - every figure is integer cents, rounded once where the SPEC divides (`floor_cent`
//!   for general's `need / R` and for pro rata, half to even for expected revenue,
//!   `ceil_cent` for emergency recommendations, `round4` for levels);
//! - no line is planned above what the whole log still allows for its (county, fund,
//!   fiscal year) (§8.13), so recording the plan as transfers never breaks rule 3;
//! - `total_funded ≤ max(0, city_available)`; a tier is funded in full or, for the first
//!   tier that does not fit, its funded cents add up exactly to what was left; later
//!   tiers get nothing;
//! - cost is linear in the county's ledger entries (no quadratic work per county); the
//!   hash is taken over canonical JSON written directly from the typed plan and
//!   streamed into SHA-256 ([`hash_of`]; the bytes are [`canonical_bytes`]). Measured
//!   with `sanbao-bench plan --counties 3000` (a year of history, 2 shared cores):
//!   about 9 ms for next month's plan (BENCHMARKS.md).
//!
//! Readings of the SPEC chosen here (where it leaves room):
//! - `general` and `pre_notified` plan fiscal year FY only; `in_execution` and `direct`
//!   plan every fiscal year ≤ FY for which the county has a ledger (any allocation or
//!   dispatch, even one later reversed).
//! - Pro-rata ties: a tier holds one fund, so lines of one tier differ by (county,
//!   fiscal_year); equal remainders go to the smaller county id, then the smaller
//!   fiscal year.
//! - `city_available` is printed as it is (it cannot be negative in a log that kept
//!   rule 1); funding uses `max(0, available)`.
//! - `emergency_recommended` is computed exactly as `ceil_cent((warning_units × basis −
//!   10000 × projected_end) / 10000)` and is never below zero.
//! - expected revenue is the `revenue_collected` dated in the three calendar months
//!   before M (from the first day of M−3 to B), reversals counting as opposite flows on
//!   their own date (§8.16).
//!
//! Where things live:
//! - this file: the output types ([`Plan`], [`Tier`], [`Line`], [`CountyPlan`],
//!   [`Payroll`]), the dates a plan is computed from ([`PlanDates`]) and the entry
//!   [`plan`], which lists the lines, funds them and projects every county;
//! - `tiers.rs`: what each ledger plans by its fund's rule ([`ledger_planned`],
//!   [`county_lines`]), and the funding of the tiers in [`FUNDING_ORDER`], the first
//!   tier that does not fit shared by [`pro_rata`];
//! - `projection.rs`: each county's projected month ([`opening_cash`],
//!   [`expected_revenue`], level, status, [`emergency_amount`], payroll);
//! - `canonical.rs`: the canonical JSON written straight from the typed plan
//!   ([`canonical_bytes`]) and its SHA-256 streamed as it is written ([`hash_of`]);
//! - `tests.rs`: the planner's unit tests (each fund's rule, the whole-log cap, tiers
//!   and pro rata, projections, the JSON members and the hash).

mod canonical;
mod projection;
#[cfg(test)]
mod tests;
mod tiers;

pub use canonical::{canonical_bytes, hash_of, hashed_members};
pub use projection::{emergency_amount, expected_revenue, needs_v2, opening_cash, NeedsV2};
pub use tiers::{county_lines, ledger_planned, pro_rata, Earlier, FUNDING_ORDER};

use super::Status;
use crate::money::{Money, Ratio};
use crate::state::{County, State};
use crate::values::{CountyId, Date, FiscalYear, Fund, Month, PlanningPolicy, Sha256Hex};
use projection::CountyMonth;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;
use tiers::Baseline;

/// The month's dispatch plan: exactly the members of SPEC §6.3, in that order.
/// `plan_sha256` is the SHA-256 of the canonical JSON of every other member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Plan {
    /// The plan month M.
    pub month: Month,
    /// The planning policy in force on B (`planning_policy_set`; v1 when none). Inside
    /// the hash only for v2 plans, so every v1 plan keeps its SPEC §6.3 hash.
    pub policy: PlanningPolicy,
    /// The seq of the last record the plan is computed from (`State::head_seq`).
    pub based_on_seq: u64,
    /// B: the day before the first day of M.
    #[schemars(with = "crate::schema::out::DateOut")]
    pub basis_date: Date,
    /// The lowest day-end balance of city.treasury on B or any later date.
    pub city_available: Money,
    /// Sum of every line's planned amount.
    pub total_planned: Money,
    /// Sum of every line's funded amount (≤ max(0, city_available)).
    pub total_funded: Money,
    /// All four funds, in funding order.
    pub tiers: Vec<Tier>,
    /// Lines with planned > 0, by county, then fund (list order), then fiscal year.
    pub lines: Vec<Line>,
    /// Projections of every county registered on or before the last day of M, by id.
    pub counties: Vec<CountyPlan>,
    /// SHA-256 of the canonical JSON of the members above.
    pub plan_sha256: Sha256Hex,
}

/// One fund's totals in a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Tier {
    /// The fund.
    pub fund: Fund,
    /// Sum of its lines' planned amounts.
    pub planned: Money,
    /// Sum of its lines' funded amounts.
    pub funded: Money,
}

/// One (county, fund, fiscal year) with planned > 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Line {
    /// The county.
    pub county: CountyId,
    /// The fund.
    pub fund: Fund,
    /// The fiscal year of the entitlement it draws on.
    pub fiscal_year: FiscalYear,
    /// What the rules call for, capped by what the whole log still allows.
    pub planned: Money,
    /// What the city can pay of it.
    pub funded: Money,
    /// planned − funded.
    pub shortfall: Money,
}

/// A county's projected month (SPEC §6.3, "Per county").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CountyPlan {
    /// The county.
    pub county: CountyId,
    /// Cash (treasury + wage reserve) on B; zero when registered after B.
    pub opening_cash: Money,
    /// Sum of its funded lines.
    pub funded_in: Money,
    /// Revenue of the three months before M, / 3, half to even at cents.
    pub expected_revenue: Money,
    /// Its needs of month M over all categories (budgeted on or before E).
    pub needs: Money,
    /// opening_cash + funded_in + expected_revenue − needs (may be negative).
    pub projected_end: Money,
    /// round4(projected_end / basis); null when there is no basis.
    #[schemars(with = "crate::schema::out::Nullable<Ratio>")]
    pub projected_level: Option<Ratio>,
    /// Status of projected_level against the lines in force on B.
    pub status: Status,
    /// ceil_cent(warning_line × basis − projected_end) below the warning line, else 0.
    pub emergency_recommended: Money,
    /// The wage bill of M declared on or before E, if any.
    #[schemars(with = "crate::schema::out::Nullable<Payroll>")]
    pub payroll: Option<Payroll>,
}

/// The wage bill of the plan month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Payroll {
    /// The declared wage bill (latest declaration on or before E).
    pub wage_bill: Money,
    /// Its payday.
    pub payday: Date,
    /// payday − 7 days: the wage reserve must be funded by then.
    #[schemars(with = "crate::schema::out::DateOut")]
    pub deposit_deadline: Date,
}

/// The dates a month's plan is computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanDates {
    /// M.
    pub month: Month,
    /// B = the day before M's first day.
    pub basis: Date,
    /// E = M's last day.
    pub end: Date,
    /// FY = year(M).
    pub fiscal_year: FiscalYear,
}

impl PlanDates {
    /// B, E and FY of `month`.
    pub fn of(month: Month) -> PlanDates {
        PlanDates {
            month,
            basis: month.first_day().add_days(-1),
            end: month.last_day(),
            fiscal_year: FiscalYear::new(month.year()).expect("a month's year is a fiscal year"),
        }
    }
}

/// The plan of `month` over `state` (SPEC §6.3), with `based_on_seq = state.head_seq`.
pub fn plan(state: &State, month: Month) -> Plan {
    let d = PlanDates::of(month);
    let none = Earlier::new();
    let counties: Vec<&County> = state
        .counties()
        .filter(|c| c.registered_on <= d.end)
        .collect();

    // Lines, in output order: county id, then fund list order, then fiscal year.
    let mut lines: Vec<Line> = Vec::new();
    for c in &counties {
        for (fund, fy, planned) in county_lines(c, &d, &none) {
            lines.push(Line {
                county: c.id.clone(),
                fund,
                fiscal_year: fy,
                planned,
                funded: Money::ZERO,
                shortfall: planned,
            });
        }
    }

    // Each county's month figures, under the policy in force on B.
    let policy = state.policy_at(d.basis);
    let months: Vec<CountyMonth> = counties
        .iter()
        .map(|c| CountyMonth::of(state, c, &d, policy))
        .collect();

    // Funding, tier by tier.
    let city_available = state.city.min_from(d.basis).0;
    let baselines: Option<BTreeMap<CountyId, Baseline>> =
        (policy == PlanningPolicy::V2).then(|| {
            counties
                .iter()
                .zip(&months)
                .map(|(c, m)| {
                    let b = Baseline {
                        unfunded_end: m.unfunded_end(),
                        basis: m.basis,
                        lines: m.lines,
                    };
                    (c.id.clone(), b)
                })
                .collect()
        });
    let tiers = tiers::fund_tiers(&mut lines, city_available, baselines.as_ref());

    // County projections; lines are in county id order, like `counties`.
    let county_plans = projection::project_counties(&counties, &months, &d, &lines, policy);

    let total_planned = lines.iter().map(|l| l.planned).sum();
    let total_funded = lines.iter().map(|l| l.funded).sum();
    let mut p = Plan {
        month,
        policy,
        based_on_seq: state.head_seq,
        basis_date: d.basis,
        city_available,
        total_planned,
        total_funded,
        tiers,
        lines,
        counties: county_plans,
        plan_sha256: Sha256Hex::default(),
    };
    p.plan_sha256 = hash_of(&p);
    p
}
