//! A measurement, not a test (ignored by default; no timed assertion): the plan and
//! the forecast for 3,000 counties over a year of history, from the folded state.
//!
//! Run: `cargo test --release --test planner_perf -- --ignored --nocapture`

use sanbao::event::Event;
use sanbao::money::Money;
use sanbao::query::forecast::forecast;
use sanbao::query::plan::plan;
use sanbao::record::{Record, GENESIS};
use sanbao::state::{NoPlans, State};
use sanbao::values::Month;
use serde_json::{json, Value};
use std::time::Instant;

fn add(state: &mut State, prev: &mut sanbao::values::Sha256Hex, v: Value) {
    let e = Event::parse_object(v).unwrap().event;
    state.check(&e, &mut NoPlans).unwrap();
    let r = Record::new(state.head_seq + 1, 0, None, *prev, e);
    *prev = r.hash;
    state.apply(&r);
}

/// A year of history for `n` counties: allocations of every fund, monthly general
/// and pre-notified transfers, in-execution the month after, direct at once, payroll,
/// revenue three times a month, expenditure, needs and wage bills.
fn history(n: usize) -> State {
    let mut s = State::new();
    let mut prev = GENESIS;
    let c = |a: i64| Money::from_cents(a as i128).to_string();
    add(
        &mut s,
        &mut prev,
        json!({"kind":"city_funds_received","fund":"general","amount":"9000000000000","received_on":"2020-12-31"}),
    );
    for i in 0..n {
        let id = format!("c{i:05}");
        let base = 100_000_000 + (i as i64 % 97) * 100_000; // cents
        add(
            &mut s,
            &mut prev,
            json!({"kind":"county_registered","county":id,"name":"县","registered_on":"2020-12-31","opening_treasury":c(base * 3),"opening_wage_reserve":"0"}),
        );
        add(
            &mut s,
            &mut prev,
            json!({"kind":"allocation_notified","county":id,"fund":"general","fiscal_year":2021,"program":"g","amount":c(base * 12),"notified_on":"2021-01-04"}),
        );
        let sched: Vec<Value> = (1..=12)
            .map(|m| json!({"month":format!("2021-{m:02}"),"amount":c(base / 4)}))
            .collect();
        add(
            &mut s,
            &mut prev,
            json!({"kind":"allocation_notified","county":id,"fund":"pre_notified","fiscal_year":2021,"program":"p","amount":c(base / 4 * 12),"notified_on":"2020-12-31","schedule":sched}),
        );
        for cat in ["wages", "livelihood", "operations"] {
            add(
                &mut s,
                &mut prev,
                json!({"kind":"needs_budgeted","county":id,"fiscal_year":2021,"category":cat,"amount":c(base * 4),"budgeted_on":"2021-01-08"}),
            );
        }
    }
    for m in 1..=12u32 {
        let day = |d: u32| format!("2021-{m:02}-{d:02}");
        for i in 0..n {
            let id = format!("c{i:05}");
            let base = 100_000_000 + (i as i64 % 97) * 100_000; // cents
            add(
                &mut s,
                &mut prev,
                json!({"kind":"allocation_notified","county":id,"fund":"in_execution","fiscal_year":2021,"program":"i","amount":c(base / 10),"notified_on":day(3)}),
            );
            add(
                &mut s,
                &mut prev,
                json!({"kind":"allocation_notified","county":id,"fund":"direct","fiscal_year":2021,"program":"d","amount":c(base / 20),"notified_on":day(3)}),
            );
            add(
                &mut s,
                &mut prev,
                json!({"kind":"transfer_allocated","county":id,"fund":"direct","fiscal_year":2021,"amount":c(base / 20),"value_date":day(4)}),
            );
            add(
                &mut s,
                &mut prev,
                json!({"kind":"transfer_allocated","county":id,"fund":"general","fiscal_year":2021,"amount":c(base),"value_date":day(5)}),
            );
            add(
                &mut s,
                &mut prev,
                json!({"kind":"transfer_allocated","county":id,"fund":"pre_notified","fiscal_year":2021,"amount":c(base / 4),"value_date":day(10)}),
            );
            if m > 1 {
                add(
                    &mut s,
                    &mut prev,
                    json!({"kind":"transfer_allocated","county":id,"fund":"in_execution","fiscal_year":2021,"amount":c(base / 10),"value_date":day(12)}),
                );
            }
            add(
                &mut s,
                &mut prev,
                json!({"kind":"wage_bill_declared","county":id,"payroll_month":format!("2021-{m:02}"),"amount":c(base / 3),"payday":day(15),"declared_on":day(1)}),
            );
            add(
                &mut s,
                &mut prev,
                json!({"kind":"payroll_deposited","county":id,"payroll_month":format!("2021-{m:02}"),"amount":c(base / 3),"deposited_on":day(6)}),
            );
            add(
                &mut s,
                &mut prev,
                json!({"kind":"wages_paid","county":id,"payroll_month":format!("2021-{m:02}"),"amount":c(base / 3),"paid_on":day(15)}),
            );
            for d in [8, 18, 27] {
                add(
                    &mut s,
                    &mut prev,
                    json!({"kind":"revenue_collected","county":id,"amount":c(base / 9),"collected_on":day(d),"category":"tax"}),
                );
                add(
                    &mut s,
                    &mut prev,
                    json!({"kind":"expenditure_paid","county":id,"amount":c(base / 3),"paid_on":day(d + 1),"category":"operations"}),
                );
            }
        }
    }
    s
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn plan_for_3000_counties_over_a_year() {
    let t = Instant::now();
    let state = history(3000);
    eprintln!(
        "history: {} records folded in {:.2?}",
        state.head_seq,
        t.elapsed()
    );
    for (month, label) in [("2022-01", "next month"), ("2021-07", "mid-year")] {
        let m = Month::parse(month).unwrap();
        let mut times = Vec::new();
        let mut sha = None;
        for _ in 0..15 {
            let t = Instant::now();
            let p = plan(&state, m);
            times.push(t.elapsed());
            assert!(sha.is_none_or(|s| s == p.plan_sha256));
            sha = Some(p.plan_sha256);
        }
        times.sort();
        let p = plan(&state, m);
        eprintln!(
            "plan {month} ({label}): {} lines, {} counties; median {:.2?}, min {:.2?}, max {:.2?}",
            p.lines.len(),
            p.counties.len(),
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
    let p = plan(&state, Month::parse("2021-07").unwrap());
    let t = Instant::now();
    for _ in 0..10 {
        sanbao::query::plan::hash_of(&p);
    }
    eprintln!(
        "of which plan_sha256 (JSON + canonical + SHA-256): {:.2?}",
        t.elapsed() / 10
    );
    let t = Instant::now();
    let f = forecast(&state, Month::parse("2022-01").unwrap(), 3);
    eprintln!(
        "forecast 2022-01 × 3 for {} counties: {:.2?}",
        f.counties.len(),
        t.elapsed()
    );
}
