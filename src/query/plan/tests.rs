//! The planner's unit tests: states built through check + apply as the writer does,
//! then each fund's rule, the whole-log cap, city_available, tiers and pro rata (and
//! their ties), the county projections, and the JSON members and the hash over them.

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
        let v = hashed_members(&p);
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
        "policy",
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
    assert_eq!(v["policy"], "v1");
    let mut m = v.as_object().unwrap().clone();
    let h = m.remove("plan_sha256").unwrap();
    // A v1 plan's hash covers exactly the SPEC §6.3 members: not `policy`.
    m.remove("policy");
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
