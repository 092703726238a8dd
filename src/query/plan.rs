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

use super::{avg_monthly_outflow, Status};
use crate::money::{ceil_div, floor_cent_div, floor_div, round_cent_div, Money, Ratio};
use crate::state::{County, FundLedger, State};
use crate::values::{CountyId, Date, FiscalYear, Fund, Month, Sha256Hex};
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Funds in the order the planner funds them (SPEC §6.3): direct first, in_execution last.
pub const FUNDING_ORDER: [Fund; 4] = [
    Fund::Direct,
    Fund::General,
    Fund::PreNotified,
    Fund::InExecution,
];

/// The month's dispatch plan: exactly the members of SPEC §6.3, in that order.
/// `plan_sha256` is the SHA-256 of the canonical JSON of every other member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Plan {
    /// The plan month M.
    pub month: Month,
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

    // Funding, tier by tier.
    let city_available = state.city.min_from(d.basis).0;
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
    for l in &mut lines {
        l.shortfall = l.planned - l.funded;
    }

    // County projections; lines are in county id order, like `counties`.
    let mut next = 0;
    let county_plans = counties
        .iter()
        .map(|c| {
            let mut fin = Money::ZERO;
            while next < lines.len() && lines[next].county == c.id {
                fin += lines[next].funded;
                next += 1;
            }
            project(state, c, &d, fin)
        })
        .collect();
    debug_assert_eq!(next, lines.len());

    let total_planned = lines.iter().map(|l| l.planned).sum();
    let total_funded = lines.iter().map(|l| l.funded).sum();
    let mut p = Plan {
        month,
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

/// SHA-256 of the canonical JSON of the plan's SPEC members without `plan_sha256`
/// (the bytes of [`canonical_bytes`]), streamed into the hasher through a small
/// buffer rather than built whole first.
pub fn hash_of(p: &Plan) -> Sha256Hex {
    let mut h = Sha256::new();
    let mut o = Vec::with_capacity(2 * SPILL_AT);
    write_canonical(p, &mut o, |o| {
        if o.len() >= SPILL_AT {
            h.update(&o[..]);
            o.clear();
        }
    });
    h.update(&o);
    Sha256Hex(h.finalize().into())
}

/// Buffered bytes [`hash_of`] hands to SHA-256 at a time (stays in L1).
const SPILL_AT: usize = 8 * 1024;

/// The canonical JSON (SPEC §4: RFC 8785 for these values) of the plan without its
/// `plan_sha256` member — the bytes `plan_sha256` is taken over.
///
/// Written directly, members in sorted order, instead of through `serde_json::Value`:
/// for 3,000 counties that is most of the plan's cost otherwise. Tests assert that the
/// bytes equal [`crate::canonical::to_canonical_vec`] of the serde JSON form.
pub fn canonical_bytes(p: &Plan) -> Vec<u8> {
    let mut o = Vec::with_capacity(256 + 256 * p.lines.len() + 512 * p.counties.len());
    write_canonical(p, &mut o, |_| {});
    o
}

/// Writes the canonical bytes of `p` into `o`, calling `spill(o)` after each list
/// element so that the caller may drain `o` (see [`hash_of`]).
fn write_canonical(p: &Plan, o: &mut Vec<u8>, mut spill: impl FnMut(&mut Vec<u8>)) {
    o.extend_from_slice(b"{\"based_on_seq\":");
    push_digits(o, p.based_on_seq as u128, 1);
    o.extend_from_slice(b",\"basis_date\":");
    canon_date(o, p.basis_date);
    o.extend_from_slice(b",\"city_available\":");
    canon_money(o, p.city_available);
    o.extend_from_slice(b",\"counties\":[");
    for (i, c) in p.counties.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(b"{\"county\":");
        canon_str(o, c.county.as_str());
        o.extend_from_slice(b",\"emergency_recommended\":");
        canon_money(o, c.emergency_recommended);
        o.extend_from_slice(b",\"expected_revenue\":");
        canon_money(o, c.expected_revenue);
        o.extend_from_slice(b",\"funded_in\":");
        canon_money(o, c.funded_in);
        o.extend_from_slice(b",\"needs\":");
        canon_money(o, c.needs);
        o.extend_from_slice(b",\"opening_cash\":");
        canon_money(o, c.opening_cash);
        o.extend_from_slice(b",\"payroll\":");
        match &c.payroll {
            None => o.extend_from_slice(b"null"),
            Some(pay) => {
                o.extend_from_slice(b"{\"deposit_deadline\":");
                canon_date(o, pay.deposit_deadline);
                o.extend_from_slice(b",\"payday\":");
                canon_date(o, pay.payday);
                o.extend_from_slice(b",\"wage_bill\":");
                canon_money(o, pay.wage_bill);
                o.push(b'}');
            }
        }
        o.extend_from_slice(b",\"projected_end\":");
        canon_money(o, c.projected_end);
        o.extend_from_slice(b",\"projected_level\":");
        match c.projected_level {
            None => o.extend_from_slice(b"null"),
            Some(r) => canon_ratio(o, r),
        }
        o.extend_from_slice(b",\"status\":");
        canon_str(o, c.status.as_str());
        o.push(b'}');
        spill(o);
    }
    o.extend_from_slice(b"],\"lines\":[");
    for (i, l) in p.lines.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(b"{\"county\":");
        canon_str(o, l.county.as_str());
        o.extend_from_slice(b",\"fiscal_year\":");
        push_digits(o, l.fiscal_year.get() as u128, 1);
        o.extend_from_slice(b",\"fund\":");
        canon_str(o, l.fund.as_str());
        o.extend_from_slice(b",\"funded\":");
        canon_money(o, l.funded);
        o.extend_from_slice(b",\"planned\":");
        canon_money(o, l.planned);
        o.extend_from_slice(b",\"shortfall\":");
        canon_money(o, l.shortfall);
        o.push(b'}');
        spill(o);
    }
    o.extend_from_slice(b"],\"month\":");
    canon_str(o, &p.month.to_string());
    o.extend_from_slice(b",\"tiers\":[");
    for (i, t) in p.tiers.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(b"{\"fund\":");
        canon_str(o, t.fund.as_str());
        o.extend_from_slice(b",\"funded\":");
        canon_money(o, t.funded);
        o.extend_from_slice(b",\"planned\":");
        canon_money(o, t.planned);
        o.push(b'}');
    }
    o.extend_from_slice(b"],\"total_funded\":");
    canon_money(o, p.total_funded);
    o.extend_from_slice(b",\"total_planned\":");
    canon_money(o, p.total_planned);
    o.push(b'}');
}

/// A JSON string with JCS escaping (the one escaping of [`crate::canonical`]).
fn canon_str(o: &mut Vec<u8>, s: &str) {
    crate::canonical::push_str(o, s);
}

/// Appends the decimal digits of `n`, zero-padded to at least `width` digits.
fn push_digits(o: &mut Vec<u8>, mut n: u128, width: usize) {
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    // Narrow to u64 as soon as possible: 128-bit division is slow.
    while n > u64::MAX as u128 {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let mut m = n as u64;
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    while buf.len() - i < width {
        i -= 1;
        buf[i] = b'0';
    }
    o.extend_from_slice(&buf[i..]);
}

/// A fixed-point value as a JSON string: optional `-`, integer part, `scale` decimals
/// (`-` only for a value below zero, so never `-0.00`).
fn push_fixed(o: &mut Vec<u8>, v: i128, unit: u64, scale: usize) {
    let a = v.unsigned_abs();
    o.push(b'"');
    if v < 0 {
        o.push(b'-');
    }
    // 128-bit division is slow; every realistic amount fits in 64 bits.
    let (int, frac) = match u64::try_from(a) {
        Ok(a) => ((a / unit) as u128, a % unit),
        Err(_) => (a / unit as u128, (a % unit as u128) as u64),
    };
    push_digits(o, int, 1);
    o.push(b'.');
    push_digits(o, frac as u128, scale);
    o.push(b'"');
}

/// An amount as its SPEC string: two decimals, exactly as `Money`'s `Display`.
fn canon_money(o: &mut Vec<u8>, m: Money) {
    push_fixed(o, m.cents(), 100, 2);
}

/// A ratio as its SPEC string: four decimals, exactly as `Ratio`'s `Display`.
fn canon_ratio(o: &mut Vec<u8>, r: Ratio) {
    push_fixed(o, r.units() as i128, 10_000, 4);
}

/// A date as `"YYYY-MM-DD"`.
fn canon_date(o: &mut Vec<u8>, d: Date) {
    use chrono::Datelike;
    let n = d.naive();
    o.push(b'"');
    push_digits(o, n.year() as u128, 4);
    o.push(b'-');
    push_digits(o, n.month() as u128, 2);
    o.push(b'-');
    push_digits(o, n.day() as u128, 2);
    o.push(b'"');
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{sha256_canonical, to_canonical_vec};
    use crate::event::Event;
    use crate::record::{Record, GENESIS};
    use crate::state::NoPlans;
    use serde_json::{json, Value};

    /// A state built through check + apply, as the writer does.
    struct Log {
        state: State,
        prev: Sha256Hex,
    }

    impl Log {
        fn new() -> Log {
            Log {
                state: State::new(),
                prev: GENESIS,
            }
        }
        fn ok(&mut self, v: Value) -> u64 {
            let s = v.to_string();
            let e = Event::parse_object(v)
                .unwrap_or_else(|e| panic!("{s}: {e}"))
                .event;
            self.state
                .check(&e, &mut NoPlans)
                .unwrap_or_else(|e| panic!("{s} rejected: {e}"));
            let r = Record::new(self.state.head_seq + 1, 0, None, self.prev, e);
            self.prev = r.hash;
            self.state.apply(&r);
            r.seq
        }
        fn plan(&self, m: &str) -> Plan {
            plan(&self.state, Month::parse(m).unwrap())
        }
    }

    fn county(id: &str, on: &str, treasury: &str) -> Value {
        json!({"kind":"county_registered","county":id,"name":"某县","registered_on":on,"opening_treasury":treasury})
    }
    fn city(amount: &str, on: &str) -> Value {
        json!({"kind":"city_funds_received","fund":"general","amount":amount,"received_on":on})
    }
    fn alloc(c: &str, fund: &str, fy: i32, amount: &str, on: &str) -> Value {
        json!({"kind":"allocation_notified","county":c,"fund":fund,"fiscal_year":fy,"program":"p","amount":amount,"notified_on":on})
    }
    fn pre(c: &str, fy: i32, on: &str, schedule: &[(&str, &str)]) -> Value {
        let total: i128 = schedule
            .iter()
            .map(|(_, a)| Money::parse_amount(a).unwrap().cents())
            .sum();
        let sched: Vec<Value> = schedule
            .iter()
            .map(|(m, a)| json!({"month":m,"amount":a}))
            .collect();
        json!({"kind":"allocation_notified","county":c,"fund":"pre_notified","fiscal_year":fy,"program":"p",
               "amount":Money::from_cents(total).to_string(),"notified_on":on,"schedule":sched})
    }
    fn transfer(c: &str, fund: &str, fy: i32, amount: &str, on: &str) -> Value {
        json!({"kind":"transfer_allocated","county":c,"fund":fund,"fiscal_year":fy,"amount":amount,"value_date":on})
    }
    fn advance(c: &str, amount: &str, on: &str) -> Value {
        json!({"kind":"emergency_dispatched","county":c,"amount":amount,"value_date":on,"mode":"advance","reason":"r","approved_by":"a"})
    }
    fn spend(c: &str, amount: &str, on: &str) -> Value {
        json!({"kind":"expenditure_paid","county":c,"amount":amount,"paid_on":on,"category":"operations"})
    }
    fn revenue(c: &str, amount: &str, on: &str) -> Value {
        json!({"kind":"revenue_collected","county":c,"amount":amount,"collected_on":on})
    }
    fn needs(c: &str, cat: &str, amount: &str, on: &str) -> Value {
        json!({"kind":"needs_budgeted","county":c,"fiscal_year":2021,"category":cat,"amount":amount,"budgeted_on":on})
    }
    fn money(s: &str) -> Money {
        Money::parse_amount(s.trim_start_matches('-'))
            .map(|m| if s.starts_with('-') { -m } else { m })
            .unwrap()
    }
    fn line<'a>(p: &'a Plan, c: &str, fund: Fund, fy: i32) -> Option<&'a Line> {
        p.lines
            .iter()
            .find(|l| l.county.as_str() == c && l.fund == fund && l.fiscal_year.get() == fy)
    }
    fn planned(p: &Plan, c: &str, fund: Fund, fy: i32) -> String {
        line(p, c, fund, fy).map_or("none".into(), |l| l.planned.to_string())
    }
    fn cp<'a>(p: &'a Plan, c: &str) -> &'a CountyPlan {
        p.counties.iter().find(|x| x.county.as_str() == c).unwrap()
    }

    /// One county "a" with 1,000,000 city cash and a general entitlement.
    fn base(general: &str) -> Log {
        let mut l = Log::new();
        l.ok(county("a", "2020-12-31", "0"));
        l.ok(city("100000000", "2020-12-31"));
        l.ok(alloc("a", "general", 2021, general, "2021-01-04"));
        l
    }

    #[test]
    fn general_is_even_over_the_remaining_months() {
        let mut l = base("1000");
        // January: R = 12 -> floor_cent(1000 / 12) = 83.33
        assert_eq!(
            planned(&l.plan("2021-01"), "a", Fund::General, 2021),
            "83.33"
        );
        // July with nothing dispatched: R = 6 -> 166.66
        assert_eq!(
            planned(&l.plan("2021-07"), "a", Fund::General, 2021),
            "166.66"
        );
        // After 1000 − 0.07 dispatched by November, December takes the exact rest.
        l.ok(transfer("a", "general", 2021, "999.93", "2021-11-05"));
        assert_eq!(
            planned(&l.plan("2021-12"), "a", Fund::General, 2021),
            "0.07"
        );
        // November: R = 2 and nothing left before 11-01 dispatches: (1000)/2.
        assert_eq!(
            planned(&l.plan("2021-11"), "a", Fund::General, 2021),
            "0.07"
        );
    }

    #[test]
    fn december_takes_the_exact_remainder() {
        let l = base("1000.01");
        // R = 1 in December: no division, the whole need.
        assert_eq!(
            planned(&l.plan("2021-12"), "a", Fund::General, 2021),
            "1000.01"
        );
        // R = 2 in November: floor_cent(1000.01 / 2) = 500.00.
        assert_eq!(
            planned(&l.plan("2021-11"), "a", Fund::General, 2021),
            "500.00"
        );
    }

    #[test]
    fn entitled_counts_allocations_notified_up_to_the_month_end() {
        let mut l = base("1200");
        l.ok(alloc("a", "general", 2021, "600", "2021-07-20"));
        // July plan (E = 07-31) sees 1800: R = 6 -> 300.
        assert_eq!(
            planned(&l.plan("2021-07"), "a", Fund::General, 2021),
            "300.00"
        );
        // June plan (E = 06-30) sees 1200, but the cap (1800 remaining) does not bind.
        assert_eq!(
            planned(&l.plan("2021-06"), "a", Fund::General, 2021),
            "171.42"
        );
        // A general allocation of another year is not planned in 2021.
        l.ok(alloc("a", "general", 2022, "500", "2021-11-26"));
        assert!(line(&l.plan("2021-12"), "a", Fund::General, 2022).is_none());
    }

    #[test]
    fn pre_notified_follows_its_schedule_through_m() {
        let mut l = base("1");
        l.ok(pre(
            "a",
            2021,
            "2020-12-31",
            &[("2021-01", "10"), ("2021-03", "30"), ("2021-04", "40")],
        ));
        assert_eq!(
            planned(&l.plan("2021-01"), "a", Fund::PreNotified, 2021),
            "10.00"
        );
        assert_eq!(
            planned(&l.plan("2021-02"), "a", Fund::PreNotified, 2021),
            "10.00"
        );
        l.ok(transfer("a", "pre_notified", 2021, "10", "2021-01-10"));
        assert_eq!(
            planned(&l.plan("2021-02"), "a", Fund::PreNotified, 2021),
            "none"
        );
        assert_eq!(
            planned(&l.plan("2021-03"), "a", Fund::PreNotified, 2021),
            "30.00"
        );
        // Arrears are caught up: April without the March payment owes 70.
        assert_eq!(
            planned(&l.plan("2021-04"), "a", Fund::PreNotified, 2021),
            "70.00"
        );
        // A schedule notified after E does not count yet.
        l.ok(pre("a", 2021, "2021-04-15", &[("2021-04", "5")]));
        assert_eq!(
            planned(&l.plan("2021-03"), "a", Fund::PreNotified, 2021),
            "30.00"
        );
        assert_eq!(
            planned(&l.plan("2021-04"), "a", Fund::PreNotified, 2021),
            "75.00"
        );
    }

    #[test]
    fn in_execution_goes_out_the_month_after_and_december_in_january() {
        let mut l = base("1");
        l.ok(alloc("a", "in_execution", 2021, "50", "2021-03-15"));
        assert_eq!(
            planned(&l.plan("2021-03"), "a", Fund::InExecution, 2021),
            "none"
        );
        assert_eq!(
            planned(&l.plan("2021-04"), "a", Fund::InExecution, 2021),
            "50.00"
        );
        l.ok(alloc("a", "in_execution", 2021, "70", "2021-12-20"));
        assert_eq!(
            planned(&l.plan("2021-12"), "a", Fund::InExecution, 2021),
            "50.00"
        );
        // January 2022 plans fiscal year 2021's December subsidy (and the unpaid March one).
        assert_eq!(
            planned(&l.plan("2022-01"), "a", Fund::InExecution, 2021),
            "120.00"
        );
        l.ok(transfer("a", "in_execution", 2021, "50", "2021-04-12"));
        assert_eq!(
            planned(&l.plan("2022-01"), "a", Fund::InExecution, 2021),
            "70.00"
        );
    }

    #[test]
    fn direct_is_owed_at_once_including_dispatches_within_m() {
        let mut l = base("1");
        l.ok(alloc("a", "direct", 2021, "80", "2021-05-20"));
        // Notified within May: due in May's plan already (entitled at E).
        assert_eq!(
            planned(&l.plan("2021-05"), "a", Fund::Direct, 2021),
            "80.00"
        );
        l.ok(transfer("a", "direct", 2021, "30", "2021-05-21"));
        // Dispatched within May (≤ E) counts.
        assert_eq!(
            planned(&l.plan("2021-05"), "a", Fund::Direct, 2021),
            "50.00"
        );
        // Earlier fiscal years are still owed in 2022.
        assert_eq!(
            planned(&l.plan("2022-02"), "a", Fund::Direct, 2021),
            "50.00"
        );
        // A later plan month never plans a future fiscal year.
        l.ok(alloc("a", "direct", 2022, "5", "2021-12-30"));
        assert!(line(&l.plan("2021-12"), "a", Fund::Direct, 2022).is_none());
        assert_eq!(planned(&l.plan("2022-01"), "a", Fund::Direct, 2022), "5.00");
    }

    #[test]
    fn whole_log_cap_limits_a_past_month() {
        let mut l = base("1200");
        // Everything is dispatched after June: July's rule alone would plan 200.
        l.ok(transfer("a", "general", 2021, "1150", "2021-08-05"));
        assert_eq!(
            planned(&l.plan("2021-07"), "a", Fund::General, 2021),
            "50.00"
        );
        l.ok(transfer("a", "general", 2021, "50", "2021-09-05"));
        assert_eq!(
            planned(&l.plan("2021-07"), "a", Fund::General, 2021),
            "none"
        );
        // An advance counts as general of its year.
        let mut l = base("1200");
        l.ok(advance("a", "1190", "2021-09-01"));
        assert_eq!(
            planned(&l.plan("2021-07"), "a", Fund::General, 2021),
            "10.00"
        );
        assert_eq!(
            planned(&l.plan("2021-10"), "a", Fund::General, 2021),
            "3.33"
        );
    }

    #[test]
    fn available_is_the_lowest_balance_from_b_on() {
        let mut l = Log::new();
        l.ok(county("a", "2020-12-31", "0"));
        l.ok(city("1000", "2020-12-31"));
        l.ok(alloc("a", "general", 2021, "1200", "2021-01-04"));
        l.ok(alloc("a", "direct", 2021, "900", "2021-01-04"));
        l.ok(transfer("a", "direct", 2021, "900", "2021-07-10"));
        l.ok(city("5000", "2021-07-20"));
        // On 06-30 the city holds 1000, but 07-10 brings it to 100.
        let p = l.plan("2021-07");
        assert_eq!(p.city_available.to_string(), "100.00");
        assert_eq!(p.basis_date.to_string(), "2021-06-30");
        assert_eq!(p.total_funded.to_string(), "100.00");
        // Balance dips before B do not count.
        assert_eq!(l.plan("2021-08").city_available.to_string(), "5100.00");
    }

    #[test]
    fn tiers_fund_in_order_and_the_first_short_tier_shares_pro_rata() {
        let mut l = Log::new();
        for c in ["a", "b", "c"] {
            l.ok(county(c, "2020-12-31", "0"));
        }
        l.ok(city("1000", "2020-12-31"));
        // direct 100 (a), general 1200/12 = 100 each for a,b,c in January, pre 50 (a)
        l.ok(alloc("a", "direct", 2021, "100", "2021-01-01"));
        for c in ["a", "b", "c"] {
            l.ok(alloc(c, "general", 2021, "1200", "2021-01-01"));
        }
        l.ok(pre("a", 2021, "2021-01-01", &[("2021-01", "50")]));
        l.ok(alloc("b", "in_execution", 2020, "7", "2020-12-31"));
        let p = l.plan("2021-01");
        let t: Vec<_> = p
            .tiers
            .iter()
            .map(|t| (t.fund.as_str(), t.planned.to_string(), t.funded.to_string()))
            .collect();
        assert_eq!(
            t,
            vec![
                ("direct", "100.00".into(), "100.00".into()),
                ("general", "300.00".into(), "300.00".into()),
                ("pre_notified", "50.00".into(), "50.00".into()),
                ("in_execution", "7.00".into(), "7.00".into())
            ]
        );
        // Only 250 available on B: direct 100, general shares 150 (50 each), rest 0.
        let mut l2 = Log::new();
        for c in ["a", "b", "c"] {
            l2.ok(county(c, "2020-12-31", "0"));
        }
        l2.ok(city("250", "2020-12-31"));
        l2.ok(alloc("a", "direct", 2021, "100", "2021-01-01"));
        for (c, amt) in [("a", "1200"), ("b", "1200"), ("c", "1200")] {
            l2.ok(alloc(c, "general", 2021, amt, "2021-01-01"));
        }
        l2.ok(pre("a", 2021, "2021-01-01", &[("2021-01", "50")]));
        let p = l2.plan("2021-01");
        assert_eq!(p.tiers[0].funded.to_string(), "100.00");
        assert_eq!(p.tiers[1].funded.to_string(), "150.00");
        assert_eq!(p.tiers[2].funded.to_string(), "0.00");
        let pre_line = line(&p, "a", Fund::PreNotified, 2021).unwrap();
        assert_eq!(pre_line.shortfall.to_string(), "50.00");
        for c in ["a", "b", "c"] {
            let g = line(&p, c, Fund::General, 2021).unwrap();
            assert_eq!(g.funded.to_string(), "50.00");
            assert_eq!(g.shortfall.to_string(), "50.00");
        }
        assert_eq!(p.total_planned.to_string(), "450.00");
        assert_eq!(p.total_funded.to_string(), "250.00");
        // Lines are listed by county, then fund list order (general before direct).
        let order: Vec<_> = p
            .lines
            .iter()
            .map(|l| format!("{}:{}", l.county, l.fund.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                "a:general",
                "a:pre_notified",
                "a:direct",
                "b:general",
                "c:general"
            ]
        );
    }

    #[test]
    fn pro_rata_floors_and_gives_leftover_cents_to_largest_remainders() {
        let m = |c| Money::from_cents(c);
        // 3 equal lines, 100 cents: 33 each + 1 to the first (ties by order).
        assert_eq!(
            pro_rata(&[m(10), m(10), m(10)], m(100 - 80)),
            vec![m(7), m(7), m(6)]
        );
        // remainders: 5*7/12 = 2 r 11, 4*7/12 = 2 r 4, 3*7/12 = 1 r 9 -> one cent left
        // (7 - 5) ... 2+2+1 = 5, two cents left: to r 11 and r 9.
        assert_eq!(pro_rata(&[m(5), m(4), m(3)], m(7)), vec![m(3), m(2), m(2)]);
        assert_eq!(pro_rata(&[m(5), m(4), m(3)], m(0)), vec![m(0), m(0), m(0)]);
        let shares = pro_rata(&[m(1), m(1), m(1), m(1)], m(3));
        assert_eq!(shares, vec![m(1), m(1), m(1), m(0)]);
    }

    #[test]
    fn pro_rata_ties_go_to_county_id_then_fiscal_year() {
        // Two counties, b with two in_execution years; each line 1.00, 2.00 available.
        let mut l = Log::new();
        l.ok(county("b", "2019-12-31", "0"));
        l.ok(county("a", "2019-12-31", "0"));
        l.ok(city("2", "2020-12-31"));
        l.ok(alloc("b", "in_execution", 2021, "1", "2021-01-05"));
        l.ok(alloc("b", "in_execution", 2020, "1", "2020-05-05"));
        l.ok(alloc("a", "in_execution", 2021, "1", "2021-01-05"));
        let p = l.plan("2021-02");
        let got: Vec<_> = p
            .lines
            .iter()
            .map(|x| {
                (
                    x.county.as_str().to_string(),
                    x.fiscal_year.get(),
                    x.funded.to_string(),
                )
            })
            .collect();
        // 2.00 over 3.00: 0.66 each with remainder 2 each, two cents left: a (first
        // county id), then b 2020 (smaller fiscal year); b 2021 gets none.
        assert_eq!(
            got,
            vec![
                ("a".into(), 2021, "0.67".into()),
                ("b".into(), 2020, "0.67".into()),
                ("b".into(), 2021, "0.66".into())
            ]
        );
    }

    #[test]
    fn county_projection_emergency_and_payroll() {
        let mut l = Log::new();
        l.ok(county("a", "2020-12-31", "1000"));
        l.ok(city("100000", "2020-12-31"));
        l.ok(alloc("a", "general", 2021, "1200", "2021-01-04"));
        l.ok(needs("a", "wages", "12000", "2021-01-08"));
        l.ok(needs("a", "operations", "1200", "2021-07-20"));
        // Outflow in April–June: 900 -> basis 300.
        l.ok(spend("a", "300", "2021-04-10"));
        l.ok(spend("a", "300", "2021-05-10"));
        l.ok(spend("a", "300", "2021-06-10"));
        // Revenue in April–June: 100 -> expected 33.33.
        l.ok(revenue("a", "100", "2021-05-02"));
        l.ok(json!({"kind":"wage_bill_declared","county":"a","payroll_month":"2021-07","amount":"999","payday":"2021-07-15","declared_on":"2021-06-18"}));
        let p = l.plan("2021-07");
        let c = cp(&p, "a");
        // cash on 06-30: 1000 − 900 + 100 = 200
        assert_eq!(c.opening_cash.to_string(), "200.00");
        assert_eq!(c.funded_in.to_string(), "200.00");
        assert_eq!(c.expected_revenue.to_string(), "33.33");
        // needs: wages 1000 + operations 100 (budgeted 07-20 ≤ E)
        assert_eq!(c.needs.to_string(), "1100.00");
        assert_eq!(c.projected_end, money("-666.67"));
        assert_eq!(c.projected_level.unwrap().to_string(), "-2.2222");
        assert_eq!(c.status, Status::Warning);
        // 0.3 × 300 − (−666.67) = 756.67
        assert_eq!(c.emergency_recommended.to_string(), "756.67");
        let pay = c.payroll.unwrap();
        assert_eq!(
            (
                pay.wage_bill.to_string(),
                pay.payday.to_string(),
                pay.deposit_deadline.to_string()
            ),
            ("999.00".into(), "2021-07-15".into(), "2021-07-08".into())
        );
        assert!(cp(&l.plan("2021-08"), "a").payroll.is_none());
    }

    #[test]
    fn canonical_bytes_equal_the_serde_json_canonical_form() {
        let mut l = Log::new();
        l.ok(county("a", "2020-12-31", "1000"));
        l.ok(county("b-2_x", "2020-12-31", "0"));
        l.ok(city("250", "2020-12-31"));
        l.ok(alloc("a", "general", 2021, "1200", "2021-01-04"));
        l.ok(alloc("b-2_x", "general", 2021, "1200", "2021-01-04"));
        l.ok(alloc("b-2_x", "direct", 2021, "7", "2021-01-04"));
        l.ok(needs("a", "wages", "120000", "2021-01-08"));
        l.ok(spend("a", "900", "2021-01-10"));
        l.ok(json!({"kind":"wage_bill_declared","county":"a","payroll_month":"2021-02","amount":"999","payday":"2021-02-05","declared_on":"2021-01-18"}));
        for m in ["2021-01", "2021-02", "2021-03", "2021-12"] {
            let p = l.plan(m);
            let mut v = serde_json::to_value(&p).unwrap();
            v.as_object_mut().unwrap().remove("plan_sha256");
            assert_eq!(
                String::from_utf8(canonical_bytes(&p)).unwrap(),
                String::from_utf8(to_canonical_vec(&v)).unwrap()
            );
        }
        assert!(cp(&l.plan("2021-02"), "a").projected_end.is_negative());
    }

    #[test]
    fn emergency_is_a_ceiling_of_the_exact_product() {
        // 0.3333 × 100.01 = 33.333333 → minus 0 → 33.34
        assert_eq!(
            emergency_amount(Ratio::from_units(3333), money("100.01"), Money::ZERO).to_string(),
            "33.34"
        );
        // exact cents stay exact: 0.3 × 100 − 10 = 20.00
        assert_eq!(
            emergency_amount(Ratio::from_units(3000), money("100"), money("10")).to_string(),
            "20.00"
        );
        assert_eq!(
            emergency_amount(Ratio::from_units(3000), money("100"), money("-0.01")).to_string(),
            "30.01"
        );
    }

    #[test]
    fn null_level_gives_unknown_status_and_no_emergency() {
        let mut l = Log::new();
        l.ok(county("a", "2020-12-31", "0"));
        l.ok(county("late", "2021-07-15", "500"));
        let p = l.plan("2021-07");
        for c in &p.counties {
            assert_eq!(c.projected_level, None);
            assert_eq!(c.status, Status::Unknown);
            assert_eq!(c.emergency_recommended, Money::ZERO);
        }
        // Registered after B: opening cash is zero even though it opened with 500.
        assert_eq!(cp(&p, "late").opening_cash, Money::ZERO);
        // Registered after E: not listed.
        assert_eq!(l.plan("2021-06").counties.len(), 1);
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["counties"][0]["projected_level"], Value::Null);
        assert_eq!(v["counties"][0]["emergency_recommended"], "0.00");
        assert_eq!(v["counties"][0]["payroll"], Value::Null);
    }

    #[test]
    fn json_has_exactly_the_spec_members_and_the_hash_covers_them() {
        let l = base("1200");
        let p = l.plan("2021-03");
        let v = serde_json::to_value(&p).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        let mut want = vec![
            "based_on_seq",
            "basis_date",
            "city_available",
            "counties",
            "lines",
            "month",
            "plan_sha256",
            "tiers",
            "total_funded",
            "total_planned",
        ];
        want.sort();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        assert_eq!(keys_sorted, want);
        assert_eq!(v["based_on_seq"], json!(l.state.head_seq));
        assert_eq!(v["lines"][0]["fiscal_year"], json!(2021));
        let mut m = v.as_object().unwrap().clone();
        let h = m.remove("plan_sha256").unwrap();
        let again = hex::encode(sha256_canonical(&Value::Object(m.clone())));
        assert_eq!(h, json!(again));
        assert_eq!(canonical_bytes(&p), to_canonical_vec(&Value::Object(m)));
        assert_eq!(l.plan("2021-03").plan_sha256, p.plan_sha256);
        assert_ne!(l.plan("2021-04").plan_sha256, p.plan_sha256);
        assert_eq!(
            p.tiers.iter().map(|t| t.fund).collect::<Vec<_>>(),
            FUNDING_ORDER.to_vec()
        );
    }
}

#[cfg(test)]
mod streamed_hash_tests {
    use super::*;
    use crate::bench::workload::{Config, Generator};
    use crate::canonical::to_canonical_vec;

    #[test]
    fn the_streamed_hash_is_the_hash_of_the_canonical_bytes_of_a_large_plan() {
        // 150 counties, half a year: the canonical bytes span many spill buffers.
        let cfg = Config::new(7, 150);
        let start = Month::new(cfg.start_year, 1).unwrap();
        let events = Generator::new(cfg).until(start.add(7).unwrap());
        let state = crate::bench::fold_unhashed(events.into_iter().map(|g| g.event));
        for m in [start.add(6).unwrap(), start.add(7).unwrap()] {
            let p = plan(&state, m);
            let bytes = canonical_bytes(&p);
            assert!(bytes.len() > 4 * SPILL_AT, "{} bytes", bytes.len());
            assert!(p.lines.len() > 100);
            assert_eq!(p.plan_sha256, Sha256Hex(Sha256::digest(&bytes).into()));
            let mut v = serde_json::to_value(&p).unwrap();
            v.as_object_mut().unwrap().remove("plan_sha256");
            assert_eq!(bytes, to_canonical_vec(&v));
        }
    }
}
