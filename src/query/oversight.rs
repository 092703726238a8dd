//! The year's oversight (issue 19): 预算再审核 (`review budget`), 财政可承受能力评估
//! (`assess`), 考核 (`scorecard`), and the three members they add to `monitor`
//! (`response_plans` — 一县一策, `assessments_pending`, `restrictions` — 限制性措施).
//!
//! Guarantees:
//! - pure functions of the folded [`State`] and their arguments: no I/O, no clock, no
//!   hash-map order; counties by id, rows in the orders documented on each type;
//! - money is exact: every division is rounded once through `crate::money`;
//! - every reading the issue leaves open is written down in README's "How the SPEC
//!   was read" and on the function that makes it.

use crate::money::{round_cent_div, Money, Ratio};
use crate::query::forecast::{forecast, Risk};
use crate::query::history::months_in_play;
use crate::query::monitor::{days_between, payroll_row, CountyDay};
use crate::query::{avg_monthly_outflow, window, Status};
use crate::state::{County, ResponsePlanEntry, State};
use crate::values::{
    AssessmentDecision, CountyId, Date, ExpenditureCategory, FiscalYear, Month, NeedCategory,
    ProposalCategory, Text,
};
use schemars::JsonSchema;
use serde::Serialize;

// ---------------------------------------------------------------------------------
// monitor's members
// ---------------------------------------------------------------------------------

/// Whether a watched county has a response plan (一县一策) in force on as_of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    /// A filing covers as_of (filed_on ≤ as_of ≤ valid_until).
    Filed,
    /// Filings exist, filed on or before as_of, but none covers it any more.
    Expired,
    /// No filing on or before as_of.
    Missing,
}

impl PlanState {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Filed => "filed",
            PlanState::Expired => "expired",
            PlanState::Missing => "missing",
        }
    }
}

/// `monitor.response_plans[]`: one row per county on the watch list on as_of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ResponsePlanRow {
    /// County id.
    pub county: CountyId,
    /// `filed`, `expired` or `missing`.
    pub status: PlanState,
    /// The filing shown: the one in force (the latest filed_on, then seq, among those
    /// covering as_of), else the latest filed on or before as_of; null when missing.
    #[schemars(with = "crate::schema::out::Nullable<u64>")]
    pub seq: Option<u64>,
    /// Its filing date.
    #[schemars(with = "crate::schema::out::Nullable<Date>")]
    pub filed_on: Option<Date>,
    /// Its last day in force.
    #[schemars(with = "crate::schema::out::Nullable<Date>")]
    pub valid_until: Option<Date>,
    /// Its reference.
    #[schemars(with = "crate::schema::out::Nullable<Text>")]
    pub reference: Option<Text>,
}

/// The response plan state of county `c` on `d`, and the filing that decides it.
pub fn plan_state<'a>(
    state: &'a State,
    c: &CountyId,
    d: Date,
) -> (PlanState, Option<&'a ResponsePlanEntry>) {
    let filed: Vec<&ResponsePlanEntry> = state
        .response_plans
        .iter()
        .filter(|p| &p.county == c && p.filed_on <= d)
        .collect();
    let latest =
        |v: &[&'a ResponsePlanEntry]| v.iter().copied().max_by_key(|p| (p.filed_on, p.seq));
    let in_force: Vec<&ResponsePlanEntry> = filed
        .iter()
        .copied()
        .filter(|p| p.valid_until >= d)
        .collect();
    if let Some(p) = latest(&in_force) {
        (PlanState::Filed, Some(p))
    } else if let Some(p) = latest(&filed) {
        (PlanState::Expired, Some(p))
    } else {
        (PlanState::Missing, None)
    }
}

/// The `response_plans` row of a county on the watch list on `d`.
pub fn response_plan_row(state: &State, c: &CountyId, d: Date) -> ResponsePlanRow {
    let (status, p) = plan_state(state, c, d);
    ResponsePlanRow {
        county: c.clone(),
        status,
        seq: p.map(|p| p.seq),
        filed_on: p.map(|p| p.filed_on),
        valid_until: p.map(|p| p.valid_until),
        reference: p.map(|p| p.reference.clone()),
    }
}

/// `monitor.assessments_pending[]`: a proposal of a county on the watch list on as_of,
/// proposed on or before as_of, with no decision dated on or before as_of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PendingAssessment {
    /// County id.
    pub county: CountyId,
    /// The `policy_proposed` record (what `assess --proposal` takes).
    pub proposal_seq: u64,
    /// What is proposed.
    pub title: Text,
    /// Its category.
    pub category: ProposalCategory,
    /// Its monthly cost.
    pub monthly_cost: Money,
    /// Its first month.
    pub starts: Month,
    /// The day it was proposed.
    pub proposed_on: Date,
}

/// The pending proposals of county `c` on `d`, by seq.
pub fn pending_assessments(state: &State, c: &CountyId, d: Date) -> Vec<PendingAssessment> {
    state
        .proposals
        .iter()
        .filter(|p| &p.county == c && p.proposed_on <= d)
        .filter(|p| p.decision.map_or(true, |x| x.decided_on > d))
        .map(|p| PendingAssessment {
            county: p.county.clone(),
            proposal_seq: p.seq,
            title: p.title.clone(),
            category: p.category,
            monthly_cost: p.monthly_cost,
            starts: p.starts,
            proposed_on: p.proposed_on,
        })
        .collect()
}

/// `monitor.restrictions[]` (限制性措施): a county on the watch list on as_of, its
/// `other` spending in the monitoring window against the same three months a year
/// before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RestrictionRow {
    /// County id.
    pub county: CountyId,
    /// First day of the window (SPEC §6.2).
    pub from: Date,
    /// Last day of the window.
    pub to: Date,
    /// `expenditure_paid` of category `other` dated in the window (net of reversals
    /// dated in it, §8.16).
    pub other_now: Money,
    /// The same for the same three months a year before.
    pub other_year_before: Money,
    /// round4((other_now − other_year_before) / other_year_before); null when the year
    /// before is zero.
    #[schemars(with = "crate::schema::out::Nullable<crate::schema::out::RatioOut>")]
    pub growth: Option<Ratio>,
    /// True when other_now > other_year_before: the zero-growth rule is broken.
    pub grew: bool,
}

/// The restriction row of county `c` on `d`.
pub fn restriction_row(c: &County, d: Date) -> RestrictionRow {
    let (from, to) = window(d);
    let other = &c.spent[ExpenditureCategory::Other as usize];
    let (now, before) = if from <= to {
        let before = match (from.month().add(-12), to.month().add(-12)) {
            (Some(a), Some(b)) => other.between(a.first_day(), b.last_day()),
            _ => Money::ZERO,
        };
        (other.between(from, to), before)
    } else {
        (Money::ZERO, Money::ZERO)
    };
    RestrictionRow {
        county: c.id.clone(),
        from,
        to,
        other_now: now,
        other_year_before: before,
        growth: Ratio::of(now - before, before),
        grew: now > before,
    }
}

/// The warning an `expenditure_paid` of category `other` earns when its county is on
/// the watch list at the day-end of its date (as known once it is recorded): the
/// English and the Chinese line. `None` for every other event.
pub fn other_spending_warning(state: &State, e: &crate::event::Event) -> Option<(String, String)> {
    let crate::event::Event::ExpenditurePaid(x) = e else {
        return None;
    };
    if x.category != ExpenditureCategory::Other {
        return None;
    }
    let c = state.county(&x.county)?;
    // Watched when it has a reason: one pass over the predicates either way.
    let reasons = crate::query::monitor::reasons_in(state, c, x.paid_on, None);
    if reasons.is_empty() {
        return None;
    }
    let reasons: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
    Some((
        format!(
            "{} is on the watch list on {} ({}): other spending of {} is recorded, but a watched county is held to zero growth of other spending (限制性措施)",
            x.county,
            x.paid_on,
            reasons.join(", "),
            x.amount.grouped()
        ),
        format!(
            "{} 于 {} 列入重点关注地区：已记录其他支出 {}，但重点关注地区的其他支出须零增长（限制性措施）",
            x.county,
            x.paid_on,
            x.amount.grouped()
        ),
    ))
}

// ---------------------------------------------------------------------------------
// review budget (预算再审核)
// ---------------------------------------------------------------------------------

/// Why a category of a county is flagged by the budget re-review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewFlag {
    /// Budgeted wages are below the declared wage bills of the year.
    WagesBelowDeclared,
    /// The run rate exceeds the budget by more than 5 %.
    RunRateOverBudget,
}

/// `review budget`'s answer: per county and category, budget against run rate and
/// (for wages) the declared bills.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct BudgetReview {
    /// The fiscal year reviewed.
    pub fiscal_year: FiscalYear,
    /// The latest business date counted: as_of (default: the greatest effective date),
    /// not after 31 December of the year; null for an empty log.
    #[schemars(with = "crate::schema::out::Nullable<Date>")]
    pub as_of: Option<Date>,
    /// The last record the figures know about.
    pub at_seq: u64,
    /// Days of the year from 1 January through as_of (0 when as_of is before it).
    pub days_elapsed: u32,
    /// Days in the year (365 or 366).
    pub days_in_year: u32,
    /// Counties registered on or before as_of, by id.
    pub counties: Vec<ReviewCounty>,
}

/// One county of the budget re-review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ReviewCounty {
    /// County id.
    pub county: CountyId,
    /// True when any category is flagged.
    pub under_budgeted: bool,
    /// The sum of the categories' gaps: what to add to the budget.
    pub gap: Money,
    /// wages, livelihood, operations, debt_service.
    pub categories: Vec<ReviewCategory>,
}

/// One category of one county.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ReviewCategory {
    /// The budget category.
    pub category: NeedCategory,
    /// `needs_budgeted` of the year and category, budgeted on or before as_of, net of
    /// reversals dated on or before it.
    pub budgeted: Money,
    /// Outflow of the category dated 1 January through as_of (wages: `wages_paid`;
    /// the others: `expenditure_paid` of that category).
    pub actual: Money,
    /// actual × days_in_year ÷ days_elapsed, rounded once half to even at the cent;
    /// null before the year begins.
    #[schemars(with = "crate::schema::out::Nullable<crate::schema::out::MoneyOut>")]
    pub run_rate: Option<Money>,
    /// Wages only: the declared wage bills of the year (known on as_of) plus, for every
    /// month of the year without one, the bill of the latest declared month; null for
    /// other categories or when no month of the year is declared.
    #[schemars(with = "crate::schema::out::Nullable<crate::schema::out::MoneyOut>")]
    pub declared_wages: Option<Money>,
    /// What to add: the larger of (declared − budgeted) when wages are below the
    /// declared bills, and (run_rate − budgeted) when the run rate is over budget by
    /// more than 5 %; 0 when not flagged.
    pub gap: Money,
    /// Why flagged (empty: not flagged).
    pub flags: Vec<ReviewFlag>,
}

const NEED_CATEGORIES: [NeedCategory; 4] = [
    NeedCategory::Wages,
    NeedCategory::Livelihood,
    NeedCategory::Operations,
    NeedCategory::DebtService,
];

/// The budget re-review of `fy` as known in `state`, counting business dates through
/// `as_of` (default: the greatest effective date), never past 31 December of `fy`.
pub fn review_budget(state: &State, fy: FiscalYear, as_of: Option<Date>) -> BudgetReview {
    let year = fy.get();
    let jan1 = Date::from_ymd(year, 1, 1).expect("fiscal years are 2000-2099");
    let dec31 = Date::from_ymd(year, 12, 31).expect("fiscal years are 2000-2099");
    let days_in_year = days_between(jan1, dec31) + 1;
    let d = as_of.or(state.max_effective_date).map(|d| d.min(dec31));
    let mut out = BudgetReview {
        fiscal_year: fy,
        as_of: d,
        at_seq: state.head_seq,
        days_elapsed: 0,
        days_in_year,
        counties: Vec::new(),
    };
    let Some(d) = d else { return out };
    let elapsed = if d >= jan1 {
        days_between(jan1, d) + 1
    } else {
        0
    };
    out.days_elapsed = elapsed;
    for c in state.counties().filter(|c| c.registered_on <= d) {
        let mut rows = Vec::with_capacity(4);
        for cat in NEED_CATEGORIES {
            let budgeted: Money = c
                .needs
                .iter()
                .filter(|n| n.fiscal_year == fy && n.category == cat)
                .map(|n| n.entry.at(d))
                .sum();
            let actual = if elapsed == 0 {
                Money::ZERO
            } else {
                match cat {
                    NeedCategory::Wages => {
                        let spent: Money = c.spent.iter().map(|s| s.between(jan1, d)).sum();
                        c.outflow.between(jan1, d) - spent
                    }
                    NeedCategory::Livelihood => {
                        c.spent[ExpenditureCategory::Livelihood as usize].between(jan1, d)
                    }
                    NeedCategory::Operations => {
                        c.spent[ExpenditureCategory::Operations as usize].between(jan1, d)
                    }
                    NeedCategory::DebtService => {
                        c.spent[ExpenditureCategory::DebtService as usize].between(jan1, d)
                    }
                }
            };
            let run_rate = (elapsed > 0).then(|| {
                round_cent_div(
                    Money::from_cents(actual.cents() * i128::from(days_in_year)),
                    i128::from(elapsed),
                )
            });
            let declared_wages = (cat == NeedCategory::Wages)
                .then(|| declared_wages(c, year, d))
                .flatten();
            let mut flags = Vec::new();
            let mut gap = Money::ZERO;
            if let Some(w) = declared_wages {
                if budgeted < w {
                    flags.push(ReviewFlag::WagesBelowDeclared);
                    gap = gap.max(w - budgeted);
                }
            }
            if let Some(r) = run_rate {
                // "More than 5 %": run_rate > 1.05 × budgeted, compared exactly.
                if r.cents() * 100 > budgeted.cents() * 105 {
                    flags.push(ReviewFlag::RunRateOverBudget);
                    gap = gap.max(r - budgeted);
                }
            }
            rows.push(ReviewCategory {
                category: cat,
                budgeted,
                actual,
                run_rate,
                declared_wages,
                gap,
                flags,
            });
        }
        out.counties.push(ReviewCounty {
            county: c.id.clone(),
            under_budgeted: rows.iter().any(|r| !r.flags.is_empty()),
            gap: rows.iter().map(|r| r.gap).sum(),
            categories: rows,
        });
    }
    out
}

/// The declared wage bills of `year` known on `d`: each declared month's bill, and for
/// each month without one the bill of the latest declared month; `None` when no month
/// of the year is declared.
fn declared_wages(c: &County, year: i32, d: Date) -> Option<Money> {
    let months: Vec<Month> = (1..=12).filter_map(|m| Month::new(year, m)).collect();
    let bills: Vec<Option<Money>> = months
        .iter()
        .map(|&m| c.wage_bill(m, d).map(|b| b.amount))
        .collect();
    let latest = bills.iter().rev().flatten().next().copied()?;
    Some(bills.iter().map(|b| b.unwrap_or(latest)).sum())
}

// ---------------------------------------------------------------------------------
// assess (财政可承受能力评估)
// ---------------------------------------------------------------------------------

/// The wage cover a month must reach for a proposal to be affordable: 1.2.
pub const COVER_FLOOR: Ratio = Ratio::from_units(12000);

/// Why a month of an assessment fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssessFailure {
    /// wage_cover < 1.2.
    WageCoverBelowFloor,
    /// projected_level < the warning line.
    LevelBelowWarning,
}

/// `assess --proposal SEQ`: the county's forecast of twelve months from the month of
/// the proposal, with the monthly cost added to its needs from `starts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Assessment {
    /// The `policy_proposed` record assessed.
    pub proposal_seq: u64,
    /// County id.
    pub county: CountyId,
    /// What is proposed.
    pub title: Text,
    /// Its category.
    pub category: ProposalCategory,
    /// Its monthly cost.
    pub monthly_cost: Money,
    /// Its first month.
    pub starts: Month,
    /// The day it was proposed.
    pub proposed_on: Date,
    /// The first forecast month: the month of proposed_on.
    pub from: Month,
    /// The number of months forecast (12, fewer only near 2099-12).
    pub months: u32,
    /// The last record the forecast knows about.
    pub based_on_seq: u64,
    /// avg_monthly_outflow (SPEC §6.2) on the first basis date; each month's level
    /// divides by it plus the cost once the policy runs. Null when unknown.
    #[schemars(with = "crate::schema::out::Nullable<crate::schema::out::MoneyOut>")]
    pub basis: Option<Money>,
    /// The county's warning line in force on the first basis date.
    pub warning_line: Ratio,
    /// The wage cover floor: 1.2.
    pub cover_floor: Ratio,
    /// True when no month fails.
    pub affordable: bool,
    /// The decision recorded, if any (as known at based_on_seq).
    #[schemars(with = "crate::schema::out::Nullable<AssessmentDecision>")]
    pub decision: Option<AssessmentDecision>,
    /// Each month.
    pub rows: Vec<AssessMonth>,
}

/// One month of an assessment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AssessMonth {
    /// The month.
    pub month: Month,
    /// Opening cash (the previous month's projected_end; the first: cash on B).
    pub opening_cash: Money,
    /// Forecast lines, assumed funded (SPEC §6.4).
    pub funded_in: Money,
    /// Expected revenue (SPEC §6.4).
    pub expected_revenue: Money,
    /// The month's needs, the proposal's cost included.
    pub needs: Money,
    /// The proposal's cost in this month (monthly_cost from `starts`, else 0).
    pub added_cost: Money,
    /// The wage need.
    pub wage_need: Money,
    /// opening + funded_in + revenue − needs.
    pub projected_end: Money,
    /// round4((opening + funded_in + revenue − non-wage needs) / wage need); null
    /// when the wage need is zero.
    #[schemars(with = "crate::schema::out::Nullable<crate::schema::out::RatioOut>")]
    pub wage_cover: Option<Ratio>,
    /// Risk of the wage cover (SPEC §6.4).
    pub risk: Risk,
    /// round4(projected_end / (basis + added_cost)); null when that is zero.
    #[schemars(with = "crate::schema::out::Nullable<crate::schema::out::RatioOut>")]
    pub projected_level: Option<Ratio>,
    /// Why the month fails (empty: it passes).
    pub failures: Vec<AssessFailure>,
}

/// Assesses the proposal recorded as `seq`; `Err` with the English and Chinese reason
/// when that record is not a `policy_proposed` of the state.
pub fn assess(state: &State, seq: u64) -> Result<Assessment, (String, String)> {
    let p = state.proposal(seq).ok_or_else(|| {
        (
            format!(
                "record {seq} is not a policy_proposed (the head is {})",
                state.head_seq
            ),
            format!(
                "第{seq}号记录不是拟出台政策（policy_proposed）（最新为第{}号）",
                state.head_seq
            ),
        )
    })?;
    let from = p.proposed_on.month();
    let f = forecast(state, from, 12);
    let c = state
        .county(&p.county)
        .expect("a proposal's county is registered");
    let b0 = from.first_day().add_days(-1);
    let basis = avg_monthly_outflow(c, b0);
    let warning_line = state.lines_at(c, b0).warning_line;
    let months = f
        .counties
        .iter()
        .find(|x| x.county == p.county)
        .map(|x| x.months.as_slice())
        .unwrap_or(&[]);
    let mut rows = Vec::with_capacity(months.len());
    let mut cumulative = Money::ZERO;
    for m in months {
        let opening = m.opening_cash - cumulative;
        let added = if m.month >= p.starts {
            p.monthly_cost
        } else {
            Money::ZERO
        };
        cumulative += added;
        let needs = m.needs + added;
        let projected_end = opening + m.funded_in + m.expected_revenue - needs;
        let wage_cover = Ratio::of(
            opening + m.funded_in + m.expected_revenue - (needs - m.wage_need),
            m.wage_need,
        );
        let level = match basis {
            Some(b) => Ratio::of(projected_end, b + added),
            None => Ratio::of(projected_end, added),
        };
        let mut failures = Vec::new();
        if wage_cover.is_some_and(|w| w < COVER_FLOOR) {
            failures.push(AssessFailure::WageCoverBelowFloor);
        }
        if level.is_some_and(|l| l < warning_line) {
            failures.push(AssessFailure::LevelBelowWarning);
        }
        rows.push(AssessMonth {
            month: m.month,
            opening_cash: opening,
            funded_in: m.funded_in,
            expected_revenue: m.expected_revenue,
            needs,
            added_cost: added,
            wage_need: m.wage_need,
            projected_end,
            wage_cover,
            risk: Risk::of(wage_cover),
            projected_level: level,
            failures,
        });
    }
    Ok(Assessment {
        proposal_seq: p.seq,
        county: p.county.clone(),
        title: p.title.clone(),
        category: p.category,
        monthly_cost: p.monthly_cost,
        starts: p.starts,
        proposed_on: p.proposed_on,
        from,
        months: rows.len() as u32,
        based_on_seq: state.head_seq,
        basis,
        warning_line,
        cover_floor: COVER_FLOOR,
        affordable: rows.iter().all(|r| r.failures.is_empty()),
        decision: p.decision.map(|d| d.decision),
        rows,
    })
}

// ---------------------------------------------------------------------------------
// scorecard (考核)
// ---------------------------------------------------------------------------------

/// Whether a county had to file a response plan in the year, and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanRequirement {
    /// Never on the watch list in the period: no plan required.
    NotRequired,
    /// On the watch list, and a plan was in force on at least one of those days.
    Filed,
    /// On the watch list, and no plan was in force on any of those days.
    Missing,
}

impl PlanRequirement {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanRequirement::NotRequired => "not_required",
            PlanRequirement::Filed => "filed",
            PlanRequirement::Missing => "missing",
        }
    }
}

/// Days of the period at each status (SPEC §6.2), day-ends as known at at_seq.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StatusDays {
    /// Below the warning line.
    pub warning: u32,
    /// Below the alert line.
    pub low: u32,
    /// Normal.
    pub normal: u32,
    /// Above the idle line.
    pub idle: u32,
    /// No level.
    pub unknown: u32,
}

/// `scorecard --fiscal-year Y`: every county's year, ranked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Scorecard {
    /// The fiscal year scored.
    pub fiscal_year: FiscalYear,
    /// The period's first day: 1 January.
    pub from: Date,
    /// Its last day: 31 December, or the greatest effective date when earlier; null
    /// for an empty log.
    #[schemars(with = "crate::schema::out::Nullable<Date>")]
    pub through: Option<Date>,
    /// The last record the figures know about.
    pub at_seq: u64,
    /// Counties registered on or before `through`, in rank order.
    pub counties: Vec<ScoreCounty>,
}

/// One county's year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ScoreCounty {
    /// 1 for the best; ties do not share a rank (the county id decides last).
    pub rank: u32,
    /// County id.
    pub county: CountyId,
    /// 一票否决: any payroll month of the year in arrears (wages not paid in full by
    /// payday).
    pub veto: bool,
    /// Days of the period (from registration, if later) at each status.
    pub status_days: StatusDays,
    /// Days on the watch list (重点关注地区).
    pub watch_days: u32,
    /// Months of the year with at least one day on the watch list.
    pub watch_months: u32,
    /// Payroll months of the year deposited late (days_late > 0 on `through`).
    pub late_deposits: u32,
    /// Their days late, summed.
    pub days_late: u32,
    /// Payroll months of the year whose wages were not paid in full by payday.
    pub arrears_months: u32,
    /// Their days in arrears, summed: from payday to the day paid in full, or to
    /// `through` when still unpaid.
    pub arrears_days: u32,
    /// Days with direct funds overdue.
    pub direct_overdue_days: u32,
    /// 提示函 received in the period (not reversed by `through`).
    pub notices: u32,
    /// Balance reports of the period that disagree with the computed balance.
    pub discrepancies: u32,
    /// Whether a response plan was required, and filed.
    pub response_plan: PlanRequirement,
}

/// The scorecard of `fy` over `state`: the period is 1 January through 31 December,
/// or through the greatest effective date when that is earlier.
pub fn scorecard(state: &State, fy: FiscalYear) -> Scorecard {
    let year = fy.get();
    let jan1 = Date::from_ymd(year, 1, 1).expect("fiscal years are 2000-2099");
    let dec31 = Date::from_ymd(year, 12, 31).expect("fiscal years are 2000-2099");
    let through = state.max_effective_date.map(|d| d.min(dec31));
    let mut out = Scorecard {
        fiscal_year: fy,
        from: jan1,
        through,
        at_seq: state.head_seq,
        counties: Vec::new(),
    };
    let Some(through) = through else {
        return out;
    };
    for c in state.counties().filter(|c| c.registered_on <= through) {
        out.counties.push(score_county(state, c, jan1, through));
    }
    // Rank: the veto first (a vetoed county ranks below every county without one),
    // then a missing response plan, then days at warning, days at low, months on the
    // watch list, days late, days of direct funds overdue, discrepancies, notices,
    // and the county id.
    out.counties.sort_by(|a, b| {
        let key = |s: &ScoreCounty| {
            (
                s.veto,
                s.response_plan == PlanRequirement::Missing,
                s.status_days.warning,
                s.status_days.low,
                s.watch_months,
                s.days_late,
                s.direct_overdue_days,
                s.discrepancies,
                s.notices,
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.county.cmp(&b.county))
    });
    for (i, s) in out.counties.iter_mut().enumerate() {
        s.rank = i as u32 + 1;
    }
    out
}

fn score_county(state: &State, c: &County, jan1: Date, through: Date) -> ScoreCounty {
    let from = jan1.max(c.registered_on);
    let months = months_in_play(c, from);
    let mut days = StatusDays::default();
    let mut watch_days = 0;
    let mut watch_months = std::collections::BTreeSet::new();
    let mut direct_days = 0;
    let mut plan_on_watch_day = false;
    let mut x = from;
    while x <= through {
        let day = CountyDay::of_in(state, c, x, Some(&months));
        match day.row.status {
            Status::Warning => days.warning += 1,
            Status::Low => days.low += 1,
            Status::Normal => days.normal += 1,
            Status::Idle => days.idle += 1,
            Status::Unknown => days.unknown += 1,
        }
        if !day.reasons.is_empty() {
            watch_days += 1;
            watch_months.insert(x.month());
            if !plan_on_watch_day {
                plan_on_watch_day = plan_state(state, &c.id, x).0 == PlanState::Filed;
            }
        }
        if !day.overdue.is_empty() {
            direct_days += 1;
        }
        x = x.add_days(1);
    }
    let year = jan1.year();
    let (mut late, mut days_late, mut arrears, mut arrears_days) = (0, 0, 0, 0);
    for pm in (1..=12).filter_map(|m| Month::new(year, m)) {
        if let Some(row) = payroll_row(c, pm, through) {
            if row.days_late > 0 {
                late += 1;
                days_late += row.days_late;
            }
        }
        if let Some(bill) = c.wage_bill(pm, through) {
            if bill.payday < through {
                let p = c.payroll.get(&pm);
                let by_payday = p.map_or(Money::ZERO, |p| p.paid_through(bill.payday));
                if by_payday < bill.amount {
                    arrears += 1;
                    let paid_on = p.and_then(|p| p.covered_since(true, bill.amount, through));
                    arrears_days += days_between(bill.payday, paid_on.unwrap_or(through));
                }
            }
        }
    }
    let notices = state
        .notices
        .iter()
        .filter(|n| n.county == c.id && n.issued_on >= jan1 && n.issued_on <= through)
        .filter(|n| n.reversed_on.map_or(true, |r| r > through))
        .count() as u32;
    let mut discrepancies = 0;
    for (k, reports) in c.reports.iter().enumerate() {
        let acct = if k == 0 { &c.treasury } else { &c.wage_reserve };
        discrepancies += reports
            .iter()
            .filter(|r| r.on >= jan1 && r.on <= through && acct.through(r.on) != r.balance)
            .count() as u32;
    }
    ScoreCounty {
        rank: 0,
        county: c.id.clone(),
        veto: arrears > 0,
        status_days: days,
        watch_days,
        watch_months: watch_months.len() as u32,
        late_deposits: late,
        days_late,
        arrears_months: arrears,
        arrears_days,
        direct_overdue_days: direct_days,
        notices,
        discrepancies,
        response_plan: if watch_days == 0 {
            PlanRequirement::NotRequired
        } else if plan_on_watch_day {
            PlanRequirement::Filed
        } else {
            PlanRequirement::Missing
        },
    }
}
