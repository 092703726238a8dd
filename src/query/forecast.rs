//! The wage-payment risk forecast (未来三个月工资保障风险评估, SPEC §6.4, §8.24): for
//! months M … M+K−1, each county's projected cash with every month's plan lines
//! assumed fully funded, and how well its cash covers the month's wage need.
//!
//! Guarantees: a pure, deterministic function of the folded [`State`]; integer cents
//! throughout, `round4` once for `wage_cover`; counties by id, months in order.
//!
//! Readings of the SPEC chosen here:
//! - Counties: those registered on or before the last day of the first month (§8.17);
//!   a county registered after the first basis date opens with zero cash.
//! - Month i's lines follow §6.3 with its own B_i, E_i and FY_i, with no pro rata;
//!   `before` is the log's dispatches dated ≤ B_i plus the forecast lines of months
//!   0..i for the same (county, fund, fiscal year) (§8.24); for `direct`, whose rule
//!   reads "dispatched with value_date ≤ E", the earlier forecast lines are added to
//!   that figure the same way (so direct money is not forecast twice).
//! - The whole-log cap (§8.13) applies: it exists so that recording the lines never
//!   breaks rule 3, and in the forecast the earlier months' lines are assumed recorded,
//!   so month i is capped at (entitled total − dispatched total − earlier forecast
//!   lines of the same key), and at zero.
//! - `needs` and `wage_need` of month i count the needs budgeted on or before E_i
//!   (§8.18 "≤ E (plan, forecast)", E being that month's last day).
//! - `expected_revenue` is the first month's figure, for every month (as written).
//! - `months` reports the number of months actually forecast: the range stops at
//!   2099-12, the last month sanbao represents.
//! - Each month follows the planning policy in force on its own basis date (so a
//!   forecast may change policy part-way, in the month a plan would). Under v2 its
//!   `needs` and `wage_need` are v2's (docs/planning-policy-v2.md §5), the run rate
//!   being the first basis date's for every month, like expected revenue; funded_in
//!   is unchanged (lines are assumed fully funded, so tier funding plays no part).

use super::avg_monthly_outflow;
use super::plan::{county_lines, expected_revenue, needs_v2, opening_cash, Earlier, PlanDates};
use crate::money::{Money, Ratio};
use crate::state::State;
use crate::values::{CountyId, Month, NeedCategory, PlanningPolicy};
use schemars::JsonSchema;
use serde::Serialize;

/// The forecast object of SPEC §6.4.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Forecast {
    /// The first month.
    pub from: Month,
    /// Number of months forecast.
    #[schemars(range(min = 1, max = 120))]
    pub months: u32,
    /// The seq of the last record the forecast is computed from.
    pub based_on_seq: u64,
    /// One entry per county registered on or before the first month's last day, by id.
    pub counties: Vec<CountyForecast>,
}

/// One county's forecast months.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CountyForecast {
    /// The county.
    pub county: CountyId,
    /// Its months, in order.
    pub months: Vec<ForecastMonth>,
}

/// One forecast month of one county.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ForecastMonth {
    /// The month.
    pub month: Month,
    /// Cash on the first basis date (first month), else the previous projected_end.
    pub opening_cash: Money,
    /// Its plan lines of the month, assumed fully funded.
    pub funded_in: Money,
    /// The first month's expected revenue.
    pub expected_revenue: Money,
    /// Needs of the month over all categories.
    pub needs: Money,
    /// The month's need of category `wages`.
    pub wage_need: Money,
    /// opening_cash + funded_in + expected_revenue − needs.
    pub projected_end: Money,
    /// round4((opening_cash + funded_in + expected_revenue − non-wage needs) /
    /// wage_need); null when the wage need is zero.
    #[schemars(with = "crate::schema::out::Nullable<Ratio>")]
    pub wage_cover: Option<Ratio>,
    /// high below 1, medium below 1.2, else low (low when wage_cover is null).
    pub risk: Risk,
    /// The planning policy in force on the month's basis date: under `v2`, `needs` and
    /// `wage_need` are v2's (docs/planning-policy-v2.md §5).
    pub policy: PlanningPolicy,
}

/// The wage-payment risk of a month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// wage_cover < 1.
    High,
    /// 1 ≤ wage_cover < 1.2.
    Medium,
    /// wage_cover ≥ 1.2, or no wage need.
    Low,
}

impl Risk {
    /// Classifies a wage cover.
    pub fn of(cover: Option<Ratio>) -> Risk {
        match cover {
            Some(c) if c.units() < 10_000 => Risk::High,
            Some(c) if c.units() < 12_000 => Risk::Medium,
            _ => Risk::Low,
        }
    }

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::High => "high",
            Risk::Medium => "medium",
            Risk::Low => "low",
        }
    }
}

/// The forecast of `months` months from `from` over `state` (SPEC §6.4).
pub fn forecast(state: &State, from: Month, months: u32) -> Forecast {
    let dates: Vec<PlanDates> = (0..months)
        .map_while(|i| from.add(i as i32))
        .map(PlanDates::of)
        .collect();
    let first = PlanDates::of(from);
    let counties = state
        .counties()
        .filter(|c| c.registered_on <= first.end)
        .map(|c| {
            let revenue = expected_revenue(c, from);
            // v2's run rate: the first basis date's, for every month (doc §5).
            let run_rate = avg_monthly_outflow(c, first.basis);
            let mut opening = opening_cash(c, first.basis);
            let mut earlier = Earlier::new();
            let mut out = Vec::with_capacity(dates.len());
            for d in &dates {
                let lines = county_lines(c, d, &earlier);
                let funded_in: Money = lines.iter().map(|l| l.2).sum();
                for (fund, fy, amount) in lines {
                    *earlier.entry((fy, fund)).or_default() += amount;
                }
                let policy = state.policy_at(d.basis);
                let (needs, wage_need) = match policy {
                    PlanningPolicy::V1 => (
                        c.need_of_month(d.month, d.end, None),
                        c.need_of_month(d.month, d.end, Some(NeedCategory::Wages)),
                    ),
                    PlanningPolicy::V2 => {
                        let n = needs_v2(c, d.month, d.end, run_rate);
                        (n.total(), n.wages)
                    }
                };
                let projected_end = opening + funded_in + revenue - needs;
                let wage_cover = Ratio::of(
                    opening + funded_in + revenue - (needs - wage_need),
                    wage_need,
                );
                out.push(ForecastMonth {
                    month: d.month,
                    opening_cash: opening,
                    funded_in,
                    expected_revenue: revenue,
                    needs,
                    wage_need,
                    projected_end,
                    wage_cover,
                    risk: Risk::of(wage_cover),
                    policy,
                });
                opening = projected_end;
            }
            CountyForecast {
                county: c.id.clone(),
                months: out,
            }
        })
        .collect();
    Forecast {
        from,
        months: dates.len() as u32,
        based_on_seq: state.head_seq,
        counties,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::record::{Record, GENESIS};
    use crate::state::NoPlans;
    use crate::values::Sha256Hex;
    use serde_json::{json, Value};

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
        fn ok(&mut self, v: Value) {
            let s = v.to_string();
            let e = Event::parse_object(v).unwrap().event;
            self.state
                .check(&e, &mut NoPlans)
                .unwrap_or_else(|e| panic!("{s} rejected: {e}"));
            let r = Record::new(self.state.head_seq + 1, 0, None, self.prev, e);
            self.prev = r.hash;
            self.state.apply(&r);
        }
    }

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    fn setup() -> Log {
        let mut l = Log::new();
        l.ok(json!({"kind":"county_registered","county":"a","name":"甲","registered_on":"2020-12-31","opening_treasury":"1000"}));
        l.ok(json!({"kind":"city_funds_received","fund":"general","amount":"1","received_on":"2020-12-31"}));
        l.ok(json!({"kind":"allocation_notified","county":"a","fund":"general","fiscal_year":2021,"program":"p","amount":"1200","notified_on":"2021-01-04"}));
        l.ok(json!({"kind":"allocation_notified","county":"a","fund":"direct","fiscal_year":2021,"program":"p","amount":"50","notified_on":"2021-01-04"}));
        l.ok(json!({"kind":"allocation_notified","county":"a","fund":"in_execution","fiscal_year":2021,"program":"p","amount":"30","notified_on":"2021-10-15"}));
        l.ok(json!({"kind":"needs_budgeted","county":"a","fiscal_year":2021,"category":"wages","amount":"6000","budgeted_on":"2021-01-08"}));
        l.ok(json!({"kind":"needs_budgeted","county":"a","fiscal_year":2021,"category":"operations","amount":"1200","budgeted_on":"2021-01-08"}));
        l.ok(json!({"kind":"revenue_collected","county":"a","amount":"90","collected_on":"2021-08-20"}));
        l
    }

    #[test]
    fn lines_chain_as_if_funded_and_opening_chains_projected_end() {
        let l = setup();
        let f = forecast(&l.state, m("2021-10"), 3);
        assert_eq!(f.months, 3);
        assert_eq!(f.based_on_seq, l.state.head_seq);
        let a = &f.counties[0].months;
        let got: Vec<_> = a
            .iter()
            .map(|x| {
                (
                    x.month.to_string(),
                    x.opening_cash.to_string(),
                    x.funded_in.to_string(),
                    x.expected_revenue.to_string(),
                    x.needs.to_string(),
                    x.wage_need.to_string(),
                    x.projected_end.to_string(),
                )
            })
            .collect();
        // October: general 1200/3 = 400, direct 50 (no pro rata even though the city
        // holds 1.00), in_execution notified 10-15 is after B -> not yet.
        // November: general (1200 − 400)/2 = 400, in_execution 30, direct already
        // forecast in October -> 0. December: the rest of general, 400.
        // Revenue Jul–Sep = 90 -> 30.00 every month. Needs: 500 wages + 100 ops.
        let s = |x: &str| x.to_string();
        assert_eq!(
            got,
            vec![
                (
                    s("2021-10"),
                    s("1090.00"),
                    s("450.00"),
                    s("30.00"),
                    s("600.00"),
                    s("500.00"),
                    s("970.00")
                ),
                (
                    s("2021-11"),
                    s("970.00"),
                    s("430.00"),
                    s("30.00"),
                    s("600.00"),
                    s("500.00"),
                    s("830.00")
                ),
                (
                    s("2021-12"),
                    s("830.00"),
                    s("400.00"),
                    s("30.00"),
                    s("600.00"),
                    s("500.00"),
                    s("660.00")
                ),
            ]
        );
        // Opening: 1000 + the 90 of revenue on 08-20.
        // wage cover October: (1090 + 450 + 30 − 100) / 500 = 2.94
        assert_eq!(a[0].wage_cover.unwrap().to_string(), "2.9400");
        assert_eq!(a[0].risk, Risk::Low);
    }

    #[test]
    fn the_cap_counts_earlier_forecast_lines() {
        let mut l = setup();
        // 700 of the general entitlement is dispatched after B (Oct 20): October's
        // rule wants 1200 / 3 = 400 and the cap (500) allows it.
        l.ok(json!({"kind":"city_funds_received","fund":"general","amount":"100000","received_on":"2021-10-01"}));
        l.ok(json!({"kind":"transfer_allocated","county":"a","fund":"general","fiscal_year":2021,"amount":"700","value_date":"2021-10-20"}));
        let f = forecast(&l.state, m("2021-10"), 3);
        let a = &f.counties[0].months;
        assert_eq!(a[0].funded_in.to_string(), "450.00");
        // November: before = 700 (≤ 10-31) + 400 (October's line) → (1200 − 1100) / 2 =
        // 50, within the cap 500 − 400; plus in_execution 30.
        assert_eq!(a[1].funded_in.to_string(), "80.00");
        // December: before = 700 + 450 → 50 = the cap 500 − 450: never above the log.
        assert_eq!(a[2].funded_in.to_string(), "50.00");
        let general: Money =
            a.iter().map(|x| x.funded_in).sum::<Money>() - Money::from_cents(5_000 + 3_000);
        assert_eq!(general.to_string(), "500.00");
    }

    #[test]
    fn wage_cover_and_risk_edges() {
        assert_eq!(Risk::of(None), Risk::Low);
        assert_eq!(Risk::of(Some(Ratio::from_units(9999))), Risk::High);
        assert_eq!(Risk::of(Some(Ratio::from_units(10_000))), Risk::Medium);
        assert_eq!(Risk::of(Some(Ratio::from_units(11_999))), Risk::Medium);
        assert_eq!(Risk::of(Some(Ratio::from_units(12_000))), Risk::Low);
        let mut l = Log::new();
        l.ok(json!({"kind":"county_registered","county":"z","name":"乙","registered_on":"2021-03-05"}));
        let f = forecast(&l.state, m("2021-03"), 2);
        let z = &f.counties[0].months;
        assert_eq!(z[0].wage_cover, None);
        assert_eq!(z[0].risk, Risk::Low);
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["counties"][0]["months"][0]["wage_cover"], Value::Null);
        assert_eq!(v["counties"][0]["months"][0]["risk"], "low");
        // A county registered after the first month's last day is not listed.
        assert!(forecast(&l.state, m("2021-02"), 3).counties.is_empty());
        // The range stops at 2099-12.
        assert_eq!(forecast(&l.state, m("2099-11"), 3).months, 2);
    }

    #[test]
    fn a_short_wage_cover_is_high_risk() {
        let mut l = Log::new();
        l.ok(json!({"kind":"county_registered","county":"a","name":"甲","registered_on":"2020-12-31","opening_treasury":"100"}));
        l.ok(json!({"kind":"needs_budgeted","county":"a","fiscal_year":2021,"category":"wages","amount":"1200","budgeted_on":"2021-01-08"}));
        l.ok(json!({"kind":"needs_budgeted","county":"a","fiscal_year":2021,"category":"livelihood","amount":"120","budgeted_on":"2021-01-08"}));
        let f = forecast(&l.state, m("2021-02"), 2);
        let a = &f.counties[0].months;
        // (100 − 10) / 100 = 0.9
        assert_eq!(a[0].wage_cover.unwrap().to_string(), "0.9000");
        assert_eq!(a[0].risk, Risk::High);
        // opening −10: (−10 − 10) / 100 = −0.2
        assert_eq!(a[1].opening_cash.to_string(), "-10.00");
        assert_eq!(a[1].wage_cover.unwrap().to_string(), "-0.2000");
    }
}
