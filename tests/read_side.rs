//! The read side as a whole: property tests over random valid histories, and the
//! `position` / `monitor` / `replay` commands through the real binary.
//!
//! Properties (random histories built through `State::check` + `State::apply`, as the
//! writer builds them, with some records undone as a rejected batch would be):
//! - folding the kept records from scratch gives an identical `State`, and identical
//!   position and monitor JSON on every date asked;
//! - position's balances and funds agree with a naive reference model written here
//!   from SPEC §3 / §6.1 / §8.16 (sum every flow dated ≤ as_of, a reversal as the
//!   opposite flow on its own date);
//! - position on a prefix state (`--at-seq`) equals the reference model over that prefix;
//! - monitor's cash equals position's, and every watchlist reason has its row;
//! - contract v2 (docs/monitor-v2.md): `arrears` and `payroll_history` equal a naive
//!   model summing the events day by day, and `watch_history`, `tight_months` and
//!   `attention` equal what one `day_end` per day gives;
//! - position's `outstanding_advances` equals the reference model's.

use proptest::prelude::*;
use sanbao::event::Event;
use sanbao::query::monitor::{day_end, monitor, Monitor, PayrollStatus, Reason};
use sanbao::query::position::position;
use sanbao::query::Status;
use sanbao::record::{Record, GENESIS};
use sanbao::state::{NoPlans, State};
use sanbao::values::{Date, Sha256Hex};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

// ---- random histories ----------------------------------------------------------------

const COUNTIES: [&str; 3] = ["alpha", "beta", "gamma"];
const FUNDS: [&str; 4] = ["general", "pre_notified", "in_execution", "direct"];

fn day(offset: u16) -> Date {
    Date::parse("2021-01-01").unwrap().add_days(offset as i64)
}

/// One random operation; most become valid events, the rest are rejected by `check`.
#[derive(Clone, Debug)]
struct Op {
    kind: u8,
    county: usize,
    cents: u32,
    offset: u16,
    pick: u8,
    undo: bool,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0u8..14,
        0usize..3,
        1u32..2_000_000,
        0u16..420,
        any::<u8>(),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(kind, county, cents, offset, pick, undo)| Op {
            kind,
            county,
            cents,
            offset,
            pick,
            undo,
        })
}

fn amount(cents: u32) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The JSON event of an operation (`seqs` = kept seqs, for reversals).
fn event_of(o: &Op, seqs: u64) -> Value {
    let c = COUNTIES[o.county];
    let on = day(o.offset);
    let date = on.to_string();
    let fy = on.year();
    let a = amount(o.cents);
    match o.kind {
        0 => {
            json!({"kind":"city_funds_received","fund":"general","amount":amount(o.cents * 20),"received_on":date})
        }
        1 => {
            let fund = FUNDS[o.pick as usize % 4];
            let mut e = json!({"kind":"allocation_notified","county":c,"fund":fund,"fiscal_year":fy,
                               "program":"p","amount":a,"notified_on":date});
            if fund == "pre_notified" {
                let m = 1 + o.pick as u32 % 12;
                e["schedule"] = json!([{"month": format!("{fy}-{m:02}"), "amount": a}]);
            }
            e
        }
        2 => {
            let fund = FUNDS[o.pick as usize % 4];
            json!({"kind":"transfer_allocated","county":c,"fund":fund,"fiscal_year":fy,"amount":a,"value_date":date})
        }
        3 => json!({"kind":"emergency_dispatched","county":c,"amount":a,"value_date":date,
                    "mode": if o.pick % 2 == 0 {"grant"} else {"advance"},"reason":"r","approved_by":"b"}),
        4 => {
            // Mostly the month's own payroll; sometimes an earlier month's, made good late.
            let pm = on.month().add(-((o.pick % 3) as i32)).unwrap_or(on.month());
            json!({"kind":"payroll_deposited","county":c,"payroll_month":pm.to_string(),"amount":a,"deposited_on":date})
        }
        5 => {
            let pm = on.month().add(-((o.pick % 3) as i32)).unwrap_or(on.month());
            json!({"kind":"wages_paid","county":c,"payroll_month":pm.to_string(),"amount":a,"paid_on":date})
        }
        6 => {
            let m = on.month().add((o.pick % 2) as i32).unwrap_or(on.month());
            let payday = m.first_day().add_days((o.pick % 25) as i64);
            json!({"kind":"wage_bill_declared","county":c,"payroll_month":m.to_string(),"amount":a,
                   "payday":payday.to_string(),"declared_on":date})
        }
        7 => json!({"kind":"revenue_collected","county":c,"amount":a,"collected_on":date}),
        8 => {
            json!({"kind":"expenditure_paid","county":c,"amount":a,"paid_on":date,"category":"operations"})
        }
        9 => json!({"kind":"balance_reported","county":c,
                    "account": if o.pick % 2 == 0 {"treasury"} else {"wage_reserve"},"on":date,"balance":a}),
        10 => {
            let cat = ["wages", "livelihood", "operations", "debt_service"][o.pick as usize % 4];
            let mut e = json!({"kind":"needs_budgeted","county":c,"fiscal_year":fy,"category":cat,
                               "amount":a,"budgeted_on":date});
            if o.pick % 3 == 0 {
                e["schedule"] =
                    json!([{"month": format!("{fy}-{:02}", 1 + o.pick as u32 % 12), "amount": a}]);
            }
            e
        }
        11 => {
            let w = 1 + o.pick as u32 % 5;
            let (warning, alert, idle) = if o.pick % 2 == 1 {
                // Lines as high as the random histories' levels, so that `warning` and
                // `low` (tight months, attention) come up too.
                (
                    format!("{}", w * 20),
                    format!("{}", w * 20 + 40),
                    format!("{}", w * 20 + 400),
                )
            } else {
                (format!("0.{w}"), format!("0.{}", w + 2), format!("1.{w}"))
            };
            json!({"kind":"risk_lines_set","county": if o.pick % 3 == 0 { Value::Null } else { json!(c) },
                   "warning_line": warning,"alert_line": alert,
                   "idle_line": idle,"effective_from":date})
        }
        _ => {
            // A reversal of some earlier record, dated at or after this op's date.
            let target = 1 + (o.cents as u64 % seqs.max(1));
            json!({"kind":"event_reversed","reverses_seq":target,"reason":"mistake","on":date})
        }
    }
}

/// A history built as the writer builds it; returns the kept records and the state.
fn build(ops: &[Op]) -> (Vec<Record>, State) {
    let mut state = State::new();
    let mut records: Vec<Record> = Vec::new();
    let push = |state: &mut State, records: &mut Vec<Record>, v: Value, undo: bool| {
        let Ok(input) = Event::parse_object(v) else {
            return;
        };
        if state.check(&input.event, &mut NoPlans).is_err() {
            return;
        }
        let prev_hash = records.last().map_or(GENESIS, |r| r.hash);
        let r = Record::new(state.head_seq + 1, 0, None, prev_hash, input.event);
        let u = state.apply(&r);
        if undo {
            // As the writer does when a later event of the batch is rejected.
            state.undo(u, &r);
        } else {
            records.push(r);
        }
    };
    // A fixed opening: the city's money, three counties, some entitlements.
    let opening = [
        json!({"kind":"city_funds_received","fund":"general","amount":"50000000","received_on":"2021-01-01"}),
        json!({"kind":"county_registered","county":"alpha","name":"甲县","registered_on":"2021-01-01","opening_treasury":"100000"}),
        json!({"kind":"county_registered","county":"beta","name":"乙区","registered_on":"2021-01-01","opening_treasury":"50000","opening_wage_reserve":"20000"}),
        json!({"kind":"county_registered","county":"gamma","name":"丙开发区","registered_on":"2021-04-01"}),
    ];
    for v in opening {
        push(&mut state, &mut records, v, false);
    }
    for c in COUNTIES {
        for fund in ["general", "direct", "in_execution"] {
            let on = if c == "gamma" {
                "2021-04-01"
            } else {
                "2021-01-04"
            };
            push(
                &mut state,
                &mut records,
                json!({"kind":"allocation_notified","county":c,"fund":fund,"fiscal_year":2021,
                       "program":"p","amount":"2000000","notified_on":on}),
                false,
            );
        }
    }
    // Most of the direct funds go out at once, so `direct_overdue` does not hold every
    // county on the watch list for good (spells open and close); the rest stays owed.
    for (c, on) in [
        ("alpha", "2021-01-04"),
        ("beta", "2021-01-05"),
        ("gamma", "2021-04-02"),
    ] {
        push(
            &mut state,
            &mut records,
            json!({"kind":"transfer_allocated","county":c,"fund":"direct","fiscal_year":2021,
                   "amount":"1999000","value_date":on}),
            false,
        );
    }
    for o in ops {
        let v = event_of(o, records.len() as u64);
        push(&mut state, &mut records, v, o.undo);
    }
    let head_hash: Sha256Hex = records.last().map_or(GENESIS, |r| r.hash);
    assert_eq!(state.head_hash, head_hash);
    (records, state)
}

fn fold(records: &[Record]) -> State {
    let mut s = State::new();
    for r in records {
        s.apply(r);
    }
    s
}

// ---- the naive reference model of position -------------------------------------------

/// Flows of a reversible or opening event: (account, cents), account "city" or
/// "<county>.treasury" / "<county>.wage_reserve".
fn flows(e: &Value) -> Vec<(String, i128)> {
    let c = e["county"].as_str().unwrap_or("");
    let amt = |k: &str| -> i128 {
        let s = e[k].as_str().unwrap_or("0");
        let (i, f) = s.split_once('.').unwrap_or((s, "00"));
        i.parse::<i128>().unwrap() * 100 + f.parse::<i128>().unwrap()
    };
    let t = format!("{c}.treasury");
    let w = format!("{c}.wage_reserve");
    match e["kind"].as_str().unwrap() {
        "county_registered" => vec![
            (t, amt("opening_treasury")),
            (w, amt("opening_wage_reserve")),
        ],
        "city_funds_received" => vec![("city".into(), amt("amount"))],
        "transfer_allocated" | "emergency_dispatched" => {
            vec![("city".into(), -amt("amount")), (t, amt("amount"))]
        }
        "payroll_deposited" => vec![(t, -amt("amount")), (w, amt("amount"))],
        "wages_paid" => vec![(w, -amt("amount"))],
        "revenue_collected" => vec![(t, amt("amount"))],
        "expenditure_paid" => vec![(t, -amt("amount"))],
        _ => vec![],
    }
}

/// The (fiscal_year, fund) and sign (+1 entitlement, −1 dispatch) of an event, if any.
fn fund_key(e: &Value) -> Option<(String, i64, &'static str, bool)> {
    let c = e["county"].as_str()?.to_string();
    match e["kind"].as_str()? {
        "allocation_notified" | "transfer_allocated" => {
            let fund = FUNDS
                .into_iter()
                .find(|f| *f == e["fund"].as_str().unwrap())?;
            Some((
                c,
                e["fiscal_year"].as_i64()?,
                fund,
                e["kind"] == "allocation_notified",
            ))
        }
        "emergency_dispatched" if e["mode"] == "advance" => {
            let y: i64 = e["value_date"].as_str()?[..4].parse().ok()?;
            Some((c, y, "general", false))
        }
        _ => None,
    }
}

fn money(c: i128) -> String {
    let sign = if c < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", c.abs() / 100, c.abs() % 100)
}

/// SPEC §6.1 computed the slow, obvious way from the records' JSON.
/// (event, effective date, sign) facts: a reversal is its target, negated, on its `on`.
fn facts(records: &[Record]) -> Vec<(Value, Date, i128)> {
    let events: Vec<Value> = records.iter().map(|r| r.event.to_json()).collect();
    let mut facts: Vec<(Value, Date, i128)> = Vec::new();
    for (r, e) in records.iter().zip(&events) {
        let d = r.event.effective_date();
        if e["kind"] == "event_reversed" {
            let t = e["reverses_seq"].as_u64().unwrap() as usize;
            facts.push((events[t - 1].clone(), d, -1));
        } else {
            facts.push((e.clone(), d, 1));
        }
    }
    facts
}

fn reference_position(records: &[Record], as_of: Date) -> Value {
    let facts = facts(records);
    let mut advances: BTreeMap<String, i128> = BTreeMap::new();
    for (e, d, sign) in &facts {
        if *d <= as_of && e["kind"] == "emergency_dispatched" && e["mode"] == "advance" {
            *advances
                .entry(e["county"].as_str().unwrap().into())
                .or_default() += sign * flows_amount(e);
        }
    }
    let mut bal: BTreeMap<String, i128> = BTreeMap::new();
    let mut funds: BTreeMap<(String, i64, usize), (i128, i128, bool)> = BTreeMap::new();
    let mut registered: BTreeMap<String, (Date, String)> = BTreeMap::new();
    for (e, d, sign) in &facts {
        if e["kind"] == "county_registered" {
            registered.insert(
                e["county"].as_str().unwrap().into(),
                (*d, e["name"].as_str().unwrap().into()),
            );
        }
        if *d > as_of {
            continue;
        }
        for (acct, x) in flows(e) {
            *bal.entry(acct).or_default() += sign * x;
        }
        if let Some((c, fy, fund, is_ent)) = fund_key(e) {
            let i = FUNDS.iter().position(|f| *f == fund).unwrap();
            let amt = flows_amount(e);
            let slot = funds.entry((c, fy, i)).or_default();
            if is_ent {
                slot.0 += sign * amt;
            } else {
                slot.1 += sign * amt;
            }
            slot.2 |= *sign == 1;
        }
    }
    let counties: Vec<Value> = registered
        .iter()
        .filter(|(_, (on, _))| *on <= as_of)
        .map(|(c, (_, name))| {
            let t = bal.get(&format!("{c}.treasury")).copied().unwrap_or(0);
            let w = bal.get(&format!("{c}.wage_reserve")).copied().unwrap_or(0);
            let fs: Vec<Value> = funds
                .iter()
                .filter(|((cc, _, _), (_, _, listed))| cc == c && *listed)
                .map(|((_, fy, i), (en, di, _))| {
                    json!({"fiscal_year": fy, "fund": FUNDS[*i], "entitled": money(*en),
                           "dispatched": money(*di), "remaining": money(en - di)})
                })
                .collect();
            json!({"county": c, "name": name, "treasury": money(t), "wage_reserve": money(w),
                   "cash": money(t + w), "funds": fs,
                   "outstanding_advances": money(advances.get(c.as_str()).copied().unwrap_or(0))})
        })
        .collect();
    json!({"as_of": as_of.to_string(), "at_seq": records.len(),
           "city": {"treasury": money(bal.get("city").copied().unwrap_or(0))},
           "counties": counties})
}

fn flows_amount(e: &Value) -> i128 {
    let s = e["amount"].as_str().unwrap();
    let (i, f) = s.split_once('.').unwrap();
    i.parse::<i128>().unwrap() * 100 + f.parse::<i128>().unwrap()
}

fn monitor_is_consistent(m: &Monitor, p: &Value) {
    let cash: Vec<String> = m.counties.iter().map(|c| c.cash.to_string()).collect();
    let pcash: Vec<String> = p["counties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cash"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(cash, pcash, "monitor cash = position cash");
    for w in &m.watchlist {
        assert!(!w.reasons.is_empty());
        assert!(
            w.reasons.windows(2).all(|p| p[0] < p[1]),
            "reasons in SPEC order"
        );
        for r in &w.reasons {
            let has = match r {
                Reason::GuaranteeLevelWarning => m
                    .counties
                    .iter()
                    .any(|c| c.county == w.county && c.status == Status::Warning),
                Reason::PayrollLate => m
                    .payroll
                    .iter()
                    .any(|p| p.county == w.county && p.status == PayrollStatus::Late),
                Reason::DirectOverdue => m.direct_overdue.iter().any(|d| d.county == w.county),
                Reason::Discrepancy => m.discrepancies.iter().any(|d| d.county == w.county),
                Reason::WageArrears => m.arrears.iter().any(|a| a.county == w.county),
            };
            assert!(has, "{:?} of {} has its row", r, w.county);
        }
    }
    for d in &m.direct_overdue {
        assert!(d.undispatched.is_positive());
    }
    for p in &m.payroll {
        assert!(!p.shortfall.is_negative());
    }
}

// ---- the naive reference model of arrears and the payroll history ---------------------

fn days(from: Date, to: Date) -> i64 {
    (to.naive() - from.naive()).num_days()
}

/// docs/monitor-v2.md `arrears` and `payroll_history` computed the slow, obvious way
/// from the records' JSON: every wage bill declaration, deposit and payment summed day
/// by day, a reversal as the opposite flow on its own date.
fn reference_payroll(records: &[Record], as_of: Date) -> (Value, Value) {
    let facts = facts(records);
    let mut registered: BTreeMap<String, Date> = BTreeMap::new();
    // (county, payroll_month) -> declarations (declared_on, seq, amount, payday)
    type Decl = (Date, usize, i128, Date);
    let mut bills: BTreeMap<(String, String), Vec<Decl>> = BTreeMap::new();
    for (i, (e, d, sign)) in facts.iter().enumerate() {
        match e["kind"].as_str().unwrap() {
            "county_registered" => {
                registered.insert(e["county"].as_str().unwrap().into(), *d);
            }
            "wage_bill_declared" if *sign == 1 => {
                let key = (
                    e["county"].as_str().unwrap().to_string(),
                    e["payroll_month"].as_str().unwrap().to_string(),
                );
                let payday = Date::parse(e["payday"].as_str().unwrap()).unwrap();
                bills
                    .entry(key)
                    .or_default()
                    .push((*d, i, flows_amount(e), payday));
            }
            _ => {}
        }
    }
    let sum = |kind: &str, c: &str, pm: &str, upto: Date| -> i128 {
        facts
            .iter()
            .filter(|(e, d, _)| {
                e["kind"] == kind && e["county"] == c && e["payroll_month"] == pm && *d <= upto
            })
            .map(|(e, _, sign)| sign * flows_amount(e))
            .sum()
    };
    let first = as_of.month().add(-11).unwrap().first_day();
    let (mut arrears, mut history) = (Vec::new(), Vec::new());
    for ((c, pm), decls) in &bills {
        if registered.get(c).map_or(true, |r| *r > as_of) {
            continue;
        }
        let Some(&(_, _, bill, payday)) = decls
            .iter()
            .filter(|(on, ..)| *on <= as_of)
            .max_by_key(|(on, seq, ..)| (*on, *seq))
        else {
            continue;
        };
        let paid = sum("wages_paid", c, pm, as_of);
        let deposited = sum("payroll_deposited", c, pm, as_of);
        if payday < as_of && paid < bill {
            arrears.push(
                json!({"county": c, "payroll_month": pm, "wage_bill": money(bill),
                "payday": payday.to_string(), "paid": money(paid), "unpaid": money(bill - paid),
                "days_overdue": days(payday, as_of)}),
            );
        }
        let month_first = Date::parse(&format!("{pm}-01")).unwrap();
        if month_first < first || month_first > as_of {
            continue;
        }
        let deadline = payday.add_days(-7);
        let status = if paid >= bill {
            "paid"
        } else if deposited >= bill {
            "funded"
        } else if as_of > deadline {
            "late"
        } else {
            "due"
        };
        // The first day of the run, reaching as_of, on which the sum covered the bill:
        // walk back from as_of one day at a time.
        let since = |kind: &str| -> Option<Date> {
            let mut x = as_of;
            if sum(kind, c, pm, x) < bill {
                return None;
            }
            while sum(kind, c, pm, x.add_days(-1)) >= bill {
                x = x.add_days(-1);
            }
            Some(x)
        };
        let deposited_on = since("payroll_deposited");
        let covered_on = match deposited_on {
            Some(on) => Some(on),
            None if status == "paid" => since("wages_paid"),
            None => None,
        };
        let days_late = match covered_on {
            Some(on) => days(deadline, on).max(0),
            None if status == "late" => days(deadline, as_of),
            None => 0,
        };
        history.push(
            json!({"county": c, "payroll_month": pm, "wage_bill": money(bill),
            "payday": payday.to_string(), "deposit_deadline": deadline.to_string(),
            "deposited": money(deposited), "paid": money(paid),
            "shortfall": money((bill - deposited).max(0)), "status": status,
            "deposited_on": deposited_on.map(|d| d.to_string()), "days_late": days_late}),
        );
    }
    (Value::Array(arrears), Value::Array(history))
}

/// `watch_history`, `tight_months` and `attention` rebuilt from the day-end watch list
/// and statuses of every day, one [`day_end`] a day.
fn reference_history(state: &State, as_of: Date) -> (Value, Value, Value) {
    let first = as_of.month().add(-11).unwrap().first_day();
    // county -> spells (from, to, reasons as a set of names in order)
    type Run = (Date, Option<Date>, Vec<Reason>);
    let mut spells: BTreeMap<String, Vec<Run>> = BTreeMap::new();
    let mut x = first;
    while x <= as_of {
        let listed: BTreeMap<String, Vec<Reason>> = day_end(state, x)
            .watchlist
            .into_iter()
            .map(|w| (w.county.as_str().to_string(), w.reasons))
            .collect();
        for (c, reasons) in &listed {
            let v = spells.entry(c.clone()).or_default();
            match v.last_mut() {
                Some((_, to, seen)) if *to == Some(x.add_days(-1)) => {
                    *to = Some(x);
                    seen.extend(reasons);
                    seen.sort();
                    seen.dedup();
                }
                _ => v.push((x, Some(x), reasons.clone())),
            }
        }
        x = x.add_days(1);
    }
    let watch: Vec<Value> = spells
        .iter()
        .map(|(c, v)| {
            let sp: Vec<Value> = v
                .iter()
                .map(|(from, to, r)| {
                    let to = to.filter(|t| *t != as_of).map(|t| t.to_string());
                    json!({"from": from.to_string(), "to": to, "reasons": r})
                })
                .collect();
            json!({"county": c, "spells": sp})
        })
        .collect();
    let (mut tight, mut attention) = (Vec::new(), Vec::new());
    let today = day_end(state, as_of);
    for row in &today.counties {
        let c = state.county(&row.county).unwrap();
        let (mut months, mut m, mut check) = (0, as_of.month(), as_of);
        let mut since = m;
        while check >= c.registered_on {
            let st = day_end(state, check)
                .counties
                .into_iter()
                .find(|r| r.county == row.county)
                .unwrap()
                .status;
            if !matches!(st, Status::Warning | Status::Low) {
                break;
            }
            months += 1;
            since = m;
            m = m.add(-1).unwrap();
            check = m.last_day();
        }
        if months > 0 {
            tight.push(json!({"county": row.county, "months": months, "since": since.to_string()}));
        }
        if row.status == Status::Low {
            attention.push(
                json!({"county": row.county, "guarantee_level": row.guarantee_level,
                                  "tight_months": months}),
            );
        }
    }
    (
        Value::Array(watch),
        Value::Array(tight),
        Value::Array(attention),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 200, ..ProptestConfig::default() })]

    /// Contract v2's members of monitor against the reference models above: arrears and
    /// the payroll history from the events, the watch list's spells, tight months and
    /// attention from one day-end a day.
    #[test]
    fn arrears_and_history_agree_with_a_brute_force_recomputation(
        ops in prop::collection::vec(op(), 0..90),
        asks in prop::collection::vec(0u16..460, 1..3),
    ) {
        let (records, state) = build(&ops);
        for &o in &asks {
            let d = day(o);
            let m = serde_json::to_value(monitor(&state, Some(d))).unwrap();
            let (arrears, history) = reference_payroll(&records, d);
            prop_assert_eq!(&m["arrears"], &arrears);
            prop_assert_eq!(&m["payroll_history"], &history);
            let (watch, tight, attention) = reference_history(&state, d);
            if std::env::var_os("READ_SIDE_STATS").is_some() {
                let closed = watch.as_array().unwrap().iter()
                    .flat_map(|h| h["spells"].as_array().unwrap())
                    .filter(|s| !s["to"].is_null()).count();
                eprintln!("STATS arrears={} late={} closed={} tight={} attention={}",
                    arrears.as_array().unwrap().len(),
                    history.as_array().unwrap().iter().filter(|h| h["days_late"].as_i64().unwrap() > 0).count(),
                    closed, tight.as_array().unwrap().len(), attention.as_array().unwrap().len());
            }
            prop_assert_eq!(&m["watch_history"], &watch);
            prop_assert_eq!(&m["tight_months"], &tight);
            prop_assert_eq!(&m["attention"], &attention);
            // A county is on today's watch list exactly when its last spell is open,
            // and that spell holds today's reasons.
            for h in m["watch_history"].as_array().unwrap() {
                let last = h["spells"].as_array().unwrap().last().unwrap();
                let today = m["watchlist"].as_array().unwrap().iter()
                    .find(|w| w["county"] == h["county"]);
                prop_assert_eq!(last["to"].is_null(), today.is_some());
                if let Some(w) = today {
                    for r in w["reasons"].as_array().unwrap() {
                        prop_assert!(last["reasons"].as_array().unwrap().contains(r));
                    }
                }
            }
            for w in m["watchlist"].as_array().unwrap() {
                prop_assert!(m["watch_history"].as_array().unwrap().iter()
                    .any(|h| h["county"] == w["county"]));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn replaying_the_log_equals_the_incremental_state_and_the_reference_model(
        ops in prop::collection::vec(op(), 0..90),
        asks in prop::collection::vec(0u16..460, 1..5),
    ) {
        let (records, state) = build(&ops);
        if std::env::var_os("READ_SIDE_STATS").is_some() {
            let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
            for r in &records { *kinds.entry(r.event.kind()).or_default() += 1; }
            eprintln!("{} ops -> {} records {:?}", ops.len(), records.len(), kinds);
        }
        let replayed = fold(&records);
        prop_assert!(replayed == state, "folding from scratch differs from the incremental state");
        let mut dates: Vec<Option<Date>> = asks.iter().map(|&o| Some(day(o))).collect();
        dates.push(None);
        for as_of in dates {
            let p1 = serde_json::to_string(&position(&state, as_of, None)).unwrap();
            let p2 = serde_json::to_string(&position(&replayed, as_of, None)).unwrap();
            prop_assert_eq!(&p1, &p2);
            let m1 = monitor(&state, as_of);
            let m2 = monitor(&replayed, as_of);
            prop_assert_eq!(serde_json::to_string(&m1).unwrap(), serde_json::to_string(&m2).unwrap());
            let d = as_of.or(state.max_effective_date).unwrap();
            let want = reference_position(&records, d);
            let got: Value = serde_json::from_str(&p1).unwrap();
            prop_assert_eq!(&got, &want);
            monitor_is_consistent(&m1, &got);
        }
        // The knowledge axis: the state after record k answers like the reference
        // model over the first k records.
        if !records.is_empty() {
            let k = 1 + (asks[0] as usize % records.len());
            let prefix = fold(&records[..k]);
            let d = day(asks[asks.len() - 1]);
            let got = serde_json::to_value(position(&prefix, Some(d), None)).unwrap();
            prop_assert_eq!(got, reference_position(&records[..k], d));
        }
    }
}

// ---- the commands through the real binary --------------------------------------------

fn sanbao(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sanbao"))
        .arg("--data")
        .arg(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SANBAO_DATA")
        .output()
        .expect("run sanbao")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn small_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let events = [
        json!({"kind":"city_funds_received","fund":"general","amount":"1000000","received_on":"2021-01-01"}),
        json!({"kind":"county_registered","county":"suizhong","name":"绥中县","registered_on":"2021-01-01","opening_treasury":"1234567.8"}),
        json!({"kind":"county_registered","county":"lvhai","name":"绿海经济区","registered_on":"2021-04-01"}),
        json!({"kind":"allocation_notified","county":"suizhong","fund":"general","fiscal_year":2021,"program":"p","amount":"120000","notified_on":"2021-01-04"}),
        json!({"kind":"transfer_allocated","county":"suizhong","fund":"general","fiscal_year":2021,"amount":"10000","value_date":"2021-01-05"}),
        json!({"kind":"expenditure_paid","county":"suizhong","amount":"1200000","paid_on":"2021-01-20","category":"operations"}),
        json!({"kind":"wage_bill_declared","county":"suizhong","payroll_month":"2021-02","amount":"50000","payday":"2021-02-15","declared_on":"2021-01-18"}),
    ];
    let file = dir.path().join("events.jsonl");
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let o = sanbao(
        &dir.path().join("data"),
        &["import", file.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", err(&o));
    dir
}

#[test]
fn position_json_and_the_county_filter() {
    let t = small_log();
    let data = t.path().join("data");
    let o = sanbao(&data, &["position", "--json", "--county", "suizhong"]);
    assert!(o.status.success(), "{}", err(&o));
    let v: Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["as_of"], "2021-04-01");
    assert_eq!(v["at_seq"], 7);
    assert_eq!(v["city"]["treasury"], "990000.00");
    assert_eq!(v["counties"].as_array().unwrap().len(), 1);
    assert_eq!(v["counties"][0]["treasury"], "44567.80");
    assert_eq!(v["counties"][0]["funds"][0]["remaining"], "110000.00");
    assert_eq!(out(&o).lines().count(), 1, "--json prints one line");
}

#[test]
fn an_unknown_or_not_yet_registered_county_is_a_usage_error() {
    let t = small_log();
    let data = t.path().join("data");
    let o = sanbao(&data, &["position", "--county", "nowhere"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).starts_with("error: --county nowhere: no such county"),
        "{}",
        err(&o)
    );
    assert!(err(&o).contains("lvhai, suizhong"), "{}", err(&o));
    let o = sanbao(
        &data,
        &["position", "--county", "lvhai", "--as-of", "2021-03-31"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("registered on 2021-04-01"), "{}", err(&o));
    let o = sanbao(&data, &["position", "--county", "Bad Id"]);
    assert_eq!(o.status.code(), Some(2));
    let o = sanbao(&data, &["position", "--county", "lvhai", "--json"]);
    assert!(o.status.success());
}

#[test]
fn at_seq_beyond_the_head_is_a_usage_error_for_every_read_command() {
    let t = small_log();
    let data = t.path().join("data");
    for cmd in ["position", "monitor", "replay"] {
        let o = sanbao(&data, &[cmd, "--at-seq", "8", "--json"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", err(&o));
        assert_eq!(err(&o).lines().count(), 1);
        assert!(
            err(&o).contains("beyond the log's head (seq 7)"),
            "{}",
            err(&o)
        );
        assert!(out(&o).is_empty());
        let o = sanbao(&data, &[cmd, "--at-seq", "0", "--json"]);
        assert!(o.status.success(), "{cmd}: {}", err(&o));
    }
}

#[test]
fn an_empty_log_answers_null_as_of_and_empty_lists() {
    let dir = tempfile::tempdir().unwrap();
    let o = sanbao(dir.path(), &["position", "--json"]);
    assert_eq!(
        out(&o).trim(),
        r#"{"as_of":null,"at_seq":0,"city":{"treasury":"0.00"},"counties":[]}"#
    );
    let o = sanbao(dir.path(), &["monitor", "--json"]);
    assert_eq!(
        out(&o).trim(),
        concat!(
            r#"{"as_of":null,"at_seq":0,"counties":[],"payroll":[],"direct_overdue":[],"discrepancies":[],"watchlist":[],"#,
            r#""arrears":[],"payroll_history":[],"watch_history":[],"tight_months":[],"attention":[],"notices":[],"#,
            r#""response_plans":[],"assessments_pending":[],"restrictions":[]}"#
        )
    );
    let o = sanbao(dir.path(), &["replay", "--json"]);
    let v: Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["at_seq"], 0);
    assert_eq!(v["head_hash"], "0".repeat(64));
    assert_eq!(v["plans"], json!([]));
    for cmd in ["position", "monitor", "replay"] {
        assert!(sanbao(dir.path(), &[cmd]).status.success(), "{cmd}");
    }
}

#[test]
fn both_time_axes_on_the_command_line() {
    let t = small_log();
    let data = t.path().join("data");
    // After record 5 we did not yet know of the 01-20 expense.
    let at = |args: &[&str]| -> Value {
        let o = sanbao(&data, args);
        assert!(o.status.success(), "{}", err(&o));
        serde_json::from_str(out(&o).trim()).unwrap()
    };
    let before = at(&[
        "position",
        "--json",
        "--as-of",
        "2021-01-31",
        "--at-seq",
        "5",
    ]);
    let after = at(&["position", "--json", "--as-of", "2021-01-31"]);
    assert_eq!(before["at_seq"], 5);
    assert_eq!(before["counties"][0]["cash"], "1244567.80");
    assert_eq!(after["counties"][0]["cash"], "44567.80");
    // Default as_of at seq 5 is the latest date known then.
    assert_eq!(
        at(&["monitor", "--json", "--at-seq", "2"])["as_of"],
        "2021-01-01"
    );
    assert_eq!(
        at(&["monitor", "--json", "--at-seq", "5"])["as_of"],
        "2021-04-01"
    );
}

#[test]
fn people_get_aligned_tables_with_separators_and_no_colour_in_a_pipe() {
    let t = small_log();
    let data = t.path().join("data");
    for cmd in ["position", "monitor", "replay"] {
        let o = sanbao(&data, &[cmd, "--as-of", "2021-03-31"]);
        assert!(o.status.success(), "{cmd}: {}", err(&o));
        let s = out(&o);
        assert!(
            !s.contains('\x1b'),
            "{cmd}: no ANSI escapes when stdout is not a terminal"
        );
        assert!(s.contains("as of 2021-03-31"), "{cmd}: {s}");
        assert!(s.contains("known at seq 7"), "{cmd}: {s}");
    }
    let s = out(&sanbao(&data, &["position", "--as-of", "2021-04-01"]));
    assert!(s.contains("990,000.00"), "{s}");
    assert!(s.contains("44,567.80"), "{s}");
    let s = out(&sanbao(&data, &["monitor", "--as-of", "2021-02-10"]));
    assert!(s.contains("late"), "{s}");
}

#[test]
fn replay_verifies_a_prefix_and_fails_with_exit_5_on_a_broken_chain() {
    let t = small_log();
    let data = t.path().join("data");
    let o = sanbao(&data, &["replay", "--json", "--at-seq", "4"]);
    assert!(o.status.success(), "{}", err(&o));
    let v: Value = serde_json::from_str(out(&o).trim()).unwrap();
    let rec: Value =
        serde_json::from_str(out(&sanbao(&data, &["export", "--from", "4", "--to", "4"])).trim())
            .unwrap();
    assert_eq!(v["at_seq"], 4);
    assert_eq!(v["head_hash"], rec["hash"]);
    assert_eq!(v["position"]["at_seq"], 4);
    assert_eq!(v["monitor"]["at_seq"], 4);

    // Damage record 6 on disk: a replay up to 5 still passes, up to 6 fails with exit 5.
    {
        let store = sanbao::log::Store::open(&data).unwrap();
        let mut r = store.get(6).unwrap().unwrap();
        r.recorded_at_us += 1;
        store.overwrite_raw_for_test(6, &r.encode()).unwrap();
    }
    assert!(sanbao(&data, &["replay", "--json", "--at-seq", "5"])
        .status
        .success());
    let o = sanbao(&data, &["replay", "--json"]);
    assert_eq!(o.status.code(), Some(5), "{}", err(&o));
    let v: Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_bad_seq"], 6);
    assert!(err(&o).starts_with("error: replay: verification failed at seq 6"));
}

#[test]
fn replay_recomputes_every_issued_plan_in_seq_order() {
    let t = small_log();
    let data = t.path().join("data");
    for month in ["2021-02", "2021-02", "2021-03"] {
        let o = sanbao(
            &data,
            &[
                "plan",
                "--month",
                month,
                "--json",
                "--issue",
                "--issued-on",
                "2021-04-01",
            ],
        );
        assert!(o.status.success(), "{}", err(&o));
    }
    let o = sanbao(&data, &["replay", "--json"]);
    assert!(o.status.success(), "{}", err(&o));
    let v: Value = serde_json::from_str(out(&o).trim()).unwrap();
    let plans = v["plans"].as_array().unwrap();
    let summary: Vec<(String, u64, bool)> = plans
        .iter()
        .map(|p| {
            (
                p["month"].as_str().unwrap().to_string(),
                p["based_on_seq"].as_u64().unwrap(),
                p["reproduced"].as_bool().unwrap(),
            )
        })
        .collect();
    // Superseded issues included, in seq order; each based on the head before it.
    assert_eq!(
        summary,
        vec![
            ("2021-02".into(), 7, true),
            ("2021-02".into(), 8, true),
            ("2021-03".into(), 9, true)
        ]
    );
    assert_eq!(plans[0]["plan_sha256"].as_str().unwrap().len(), 64);
    // Knowledge axis: at seq 8 only the first issue is known.
    let v: Value =
        serde_json::from_str(out(&sanbao(&data, &["replay", "--json", "--at-seq", "8"])).trim())
            .unwrap();
    assert_eq!(v["plans"].as_array().unwrap().len(), 1);
    let s = out(&sanbao(&data, &["replay"]));
    assert!(s.contains("Issued plans") && s.contains("yes"), "{s}");
}

#[test]
fn monitor_daily_gives_each_days_monitor_row_and_refuses_bad_ranges() {
    let dir = small_log();
    let data = dir.path().join("data");
    let o = sanbao(
        &data,
        &[
            "monitor",
            "--daily",
            "--from",
            "2021-03-30",
            "--to",
            "2021-04-02",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    let s: Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(
        (&s["from"], &s["to"]),
        (&json!("2021-03-30"), &json!("2021-04-02"))
    );
    // lvhai is registered on 04-01: its series starts there.
    let counties = s["counties"].as_array().unwrap();
    assert_eq!(counties[0]["county"], "lvhai");
    assert_eq!(counties[0]["days"].as_array().unwrap().len(), 2);
    let sz = &counties[1];
    assert_eq!(sz["name"], "绥中县");
    for day in sz["days"].as_array().unwrap() {
        let date = day["date"].as_str().unwrap();
        let m = sanbao(&data, &["monitor", "--as-of", date, "--json"]);
        let m: Value = serde_json::from_str(out(&m).trim()).unwrap();
        let row = m["counties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["county"] == "suizhong")
            .unwrap();
        for k in ["cash", "avg_monthly_outflow", "guarantee_level", "status"] {
            assert_eq!(day[k], row[k], "{date} {k}");
        }
    }
    let months = sz["months"].as_array().unwrap();
    assert_eq!(
        months
            .iter()
            .map(|m| m["days"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![2, 2]
    );
    // --county keeps one county; the table names the range.
    let o = sanbao(
        &data,
        &[
            "monitor",
            "--daily",
            "--to",
            "2021-04-02",
            "--county",
            "lvhai",
            "--json",
        ],
    );
    let one: Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(one["from"], "2021-04-01");
    assert_eq!(one["counties"].as_array().unwrap().len(), 1);
    let o = sanbao(&data, &["monitor", "--daily", "--to", "2021-04-02"]);
    assert!(
        out(&o).contains("(按日监测) 2021-04-01 to 2021-04-02"),
        "{}",
        out(&o)
    );
    // Bad input: one error line, exit 2.
    for args in [
        &[
            "monitor",
            "--daily",
            "--from",
            "2021-04-05",
            "--to",
            "2021-04-01",
        ][..],
        &[
            "monitor",
            "--daily",
            "--from",
            "2000-01-01",
            "--to",
            "2021-04-01",
        ],
        &["monitor", "--daily", "--as-of", "2021-04-01"],
        &["monitor", "--from", "2021-04-01"],
        &[
            "monitor",
            "--daily",
            "--to",
            "2021-03-01",
            "--county",
            "lvhai",
        ],
    ] {
        let o = sanbao(&data, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", err(&o));
        assert_eq!(err(&o).lines().count(), 1, "{args:?}: {}", err(&o));
        assert!(err(&o).starts_with("error:"), "{args:?}");
    }
}
