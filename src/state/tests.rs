//! Rule tests: each rule of SPEC §3 accepted at its edge and rejected one step past it,
//! and undo restoring the state exactly.

use super::*;
use crate::record::{Record, GENESIS};
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

    fn try_append(&mut self, v: Value) -> Result<u64, EventError> {
        let e = Event::parse_object(v)?.event;
        self.state.check(&e, &mut NoPlans)?;
        let r = Record::new(self.state.head_seq + 1, 0, None, self.prev, e);
        self.prev = r.hash;
        self.state.apply(&r);
        Ok(r.seq)
    }

    fn ok(&mut self, v: Value) -> u64 {
        let s = v.to_string();
        self.try_append(v)
            .unwrap_or_else(|e| panic!("{s} rejected: {e}"))
    }

    fn rejects(&mut self, v: Value, field: &str) -> String {
        let s = v.to_string();
        let head = self.state.clone();
        let e = self
            .try_append(v)
            .expect_err(&format!("{s} should be rejected"));
        assert_eq!(e.field.as_deref(), Some(field), "{s}: {e}");
        assert_eq!(self.state, head, "a rejected event changes nothing");
        e.reason
    }
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn county(id: &str, on: &str, treasury: &str) -> Value {
    json!({"kind":"county_registered","county":id,"name":"某县","registered_on":on,"opening_treasury":treasury})
}
fn city(amount: &str, on: &str) -> Value {
    json!({"kind":"city_funds_received","fund":"general","amount":amount,"received_on":on})
}
fn alloc(c: &str, fund: &str, amount: &str, on: &str) -> Value {
    json!({"kind":"allocation_notified","county":c,"fund":fund,"fiscal_year":2021,"program":"p","amount":amount,"notified_on":on})
}
fn transfer(c: &str, fund: &str, amount: &str, on: &str) -> Value {
    json!({"kind":"transfer_allocated","county":c,"fund":fund,"fiscal_year":2021,"amount":amount,"value_date":on})
}
fn spend(c: &str, amount: &str, on: &str) -> Value {
    json!({"kind":"expenditure_paid","county":c,"amount":amount,"paid_on":on,"category":"operations"})
}
fn reverse(seq: u64, on: &str) -> Value {
    json!({"kind":"event_reversed","reverses_seq":seq,"reason":"entered twice","on":on})
}

#[test]
fn backdated_outflow_that_overdraws_a_later_date_is_rejected() {
    let mut l = Log::new();
    l.ok(county("a", "2021-01-01", "100"));
    l.ok(spend("a", "60", "2021-03-15"));
    // On 2021-03-01 the balance is 100, but a backdated 41 leaves 100-41-60 < 0 on 03-15.
    let why = l.rejects(spend("a", "40.01", "2021-03-01"), "amount");
    assert!(why.contains("2021-03-15"), "{why}");
    l.ok(spend("a", "40", "2021-03-01"));
    assert_eq!(
        l.state
            .county(&CountyId::parse("a").unwrap())
            .unwrap()
            .treasury
            .through(d("2021-03-31")),
        Money::ZERO
    );
}

#[test]
fn counties_must_exist_by_the_event_date() {
    let mut l = Log::new();
    l.rejects(spend("a", "1", "2021-01-01"), "county");
    l.ok(county("a", "2021-01-02", "10"));
    l.rejects(county("a", "2021-01-05", "10"), "county");
    l.rejects(
        json!({"kind":"revenue_collected","county":"a","amount":"1","collected_on":"2021-01-01"}),
        "county",
    );
    l.ok(json!({"kind":"revenue_collected","county":"a","amount":"1","collected_on":"2021-01-02"}));
    l.rejects(json!({"kind":"risk_lines_set","county":"b","warning_line":"0.2","alert_line":"0.4","idle_line":"1","effective_from":"2021-01-02"}), "county");
}

#[test]
fn dispatches_are_bounded_by_entitlements_and_city_cash() {
    let mut l = Log::new();
    l.ok(county("a", "2021-01-01", "0"));
    l.ok(city("1000", "2021-01-01"));
    l.rejects(transfer("a", "general", "1", "2021-01-05"), "amount");
    l.ok(alloc("a", "general", "300", "2021-01-02"));
    l.ok(transfer("a", "general", "200", "2021-01-05"));
    l.rejects(transfer("a", "general", "100.01", "2021-01-06"), "amount");
    l.ok(transfer("a", "general", "100", "2021-01-06"));
    // Rule 3 compares totals over the whole log: a dispatch dated before the allocation is fine.
    l.ok(alloc("a", "direct", "900", "2021-06-01"));
    l.ok(transfer("a", "direct", "700", "2021-01-03"));
    // The city now holds 0 from 2021-01-06 on.
    l.rejects(transfer("a", "direct", "0.01", "2021-06-02"), "amount");
}

#[test]
fn advances_use_the_general_entitlement_of_their_value_year() {
    let mut l = Log::new();
    l.ok(county("a", "2021-01-01", "0"));
    l.ok(city("1000", "2021-01-01"));
    l.ok(alloc("a", "general", "120", "2021-01-02"));
    let adv = |amount: &str, on: &str| json!({"kind":"emergency_dispatched","county":"a","amount":amount,"value_date":on,"mode":"advance","reason":"wages","approved_by":"王局长"});
    l.rejects(adv("120.01", "2021-05-01"), "amount");
    l.rejects(adv("1", "2022-01-03"), "amount");
    l.ok(adv("120", "2021-05-01"));
    let grant = json!({"kind":"emergency_dispatched","county":"a","amount":"500","value_date":"2022-01-03","mode":"grant","reason":"flood","approved_by":"王局长"});
    l.ok(grant);
    let c = l.state.county(&CountyId::parse("a").unwrap()).unwrap();
    let g = &c.funds[&(FiscalYear::new(2021).unwrap(), Fund::General)];
    assert_eq!(g.dispatched_total, Money::from_cents(12000));
    assert_eq!(c.treasury.total(), Money::from_cents(62000));
}

#[test]
fn payroll_moves_cash_into_the_reserve_and_wages_leave_it() {
    let mut l = Log::new();
    l.ok(county("a", "2021-01-01", "100"));
    let dep = |amount: &str, on: &str| json!({"kind":"payroll_deposited","county":"a","payroll_month":"2021-01","amount":amount,"deposited_on":on});
    let paid = |amount: &str, on: &str| json!({"kind":"wages_paid","county":"a","payroll_month":"2021-01","amount":amount,"paid_on":on});
    l.rejects(dep("100.01", "2021-01-05"), "amount");
    l.ok(dep("80", "2021-01-05"));
    l.rejects(paid("80.01", "2021-01-15"), "amount");
    l.rejects(paid("1", "2021-01-04"), "amount");
    l.ok(paid("80", "2021-01-15"));
    let c = l.state.county(&CountyId::parse("a").unwrap()).unwrap();
    assert_eq!(c.cash_at(d("2021-01-31")), Money::from_cents(2000));
    assert_eq!(c.outflow.total(), Money::from_cents(8000));
}

#[test]
fn reversals_follow_their_rules() {
    let mut l = Log::new();
    l.ok(county("a", "2021-01-01", "0")); // 1
    l.ok(city("1000", "2021-01-01")); // 2
    l.ok(alloc("a", "general", "500", "2021-01-02")); // 3
    let t = l.ok(transfer("a", "general", "300", "2021-02-01")); // 4
    l.ok(spend("a", "250", "2021-02-10")); // 5
    l.rejects(reverse(99, "2021-03-01"), "reverses_seq");
    l.rejects(reverse(1, "2021-03-01"), "reverses_seq");
    l.rejects(reverse(t, "2021-01-31"), "on");
    // Reversing the transfer takes 300 back from the county, which only holds 50 after 02-10.
    l.rejects(reverse(t, "2021-03-01"), "reverses_seq");
    // Reversing the allocation would leave entitlement 0 < dispatched 300.
    l.rejects(reverse(3, "2021-03-01"), "reverses_seq");
    l.ok(
        json!({"kind":"revenue_collected","county":"a","amount":"250","collected_on":"2021-02-20"}),
    ); // 6
    let r = l.ok(reverse(t, "2021-03-01")); // 7
    l.rejects(reverse(t, "2021-03-02"), "reverses_seq");
    let c = l.state.county(&CountyId::parse("a").unwrap()).unwrap();
    assert_eq!(
        c.treasury.through(d("2021-02-28")),
        Money::from_cents(30000)
    );
    assert_eq!(c.treasury.through(d("2021-03-01")), Money::ZERO);
    let g = &c.funds[&(FiscalYear::new(2021).unwrap(), Fund::General)];
    assert_eq!(g.dispatched_at(d("2021-02-28")), Money::from_cents(30000));
    assert_eq!(g.dispatched_at(d("2021-03-01")), Money::ZERO);
    assert_eq!(g.dispatched_total, Money::ZERO);
    assert_eq!(
        l.state.city.through(d("2021-03-01")),
        Money::from_cents(100000)
    );
    assert!(l.state.is_reversed(t));
    assert!(r > t);
    // Now the allocation may go.
    l.ok(reverse(3, "2021-03-01"));
}

#[test]
fn reversed_schedules_vanish_from_their_date() {
    let mut l = Log::new();
    l.ok(county("a", "2021-01-01", "0"));
    let s = l.ok(json!({"kind":"needs_budgeted","county":"a","fiscal_year":2021,"category":"wages","amount":"1200","budgeted_on":"2021-01-01","schedule":[{"month":"2021-01","amount":"1000"},{"month":"2021-02","amount":"200"}]}));
    l.ok(json!({"kind":"needs_budgeted","county":"a","fiscal_year":2021,"category":"livelihood","amount":"1200.05","budgeted_on":"2021-01-01"}));
    l.ok(reverse(s, "2021-02-01"));
    let c = l.state.county(&CountyId::parse("a").unwrap()).unwrap();
    let feb = Month::parse("2021-02").unwrap();
    let dec = Month::parse("2021-12").unwrap();
    assert_eq!(
        c.need_of_month(feb, d("2021-01-31"), None),
        Money::from_cents(20000 + 10000)
    );
    assert_eq!(
        c.need_of_month(feb, d("2021-02-01"), None),
        Money::from_cents(10000)
    );
    assert_eq!(
        c.need_of_month(dec, d("2021-12-31"), Some(NeedCategory::Livelihood)),
        Money::from_cents(10005)
    );
}

#[test]
fn undo_restores_the_state_exactly() {
    let events = vec![
        county("a", "2021-01-01", "100"),
        city("1000", "2021-01-01"),
        alloc("a", "general", "500", "2021-01-02"),
        transfer("a", "general", "300", "2021-02-01"),
        json!({"kind":"wage_bill_declared","county":"a","payroll_month":"2021-02","amount":"50","payday":"2021-02-15","declared_on":"2021-01-20"}),
        json!({"kind":"payroll_deposited","county":"a","payroll_month":"2021-02","amount":"50","deposited_on":"2021-02-05"}),
        json!({"kind":"balance_reported","county":"a","account":"treasury","on":"2021-02-05","balance":"350"}),
        json!({"kind":"risk_lines_set","warning_line":"0.2","alert_line":"0.4","idle_line":"1","effective_from":"2021-01-02"}),
        spend("a", "10", "2021-02-10"),
        reverse(4, "2021-02-11"),
        county("b", "2021-03-01", "0"),
        // An earlier payroll month declared later, a second declaration, a second
        // deposit on the same date, wages paid and their reversal.
        json!({"kind":"wage_bill_declared","county":"a","payroll_month":"2021-01","amount":"20","payday":"2021-01-25","declared_on":"2021-01-21"}),
        json!({"kind":"wage_bill_declared","county":"a","payroll_month":"2021-02","amount":"60","payday":"2021-02-15","declared_on":"2021-01-22"}),
        json!({"kind":"payroll_deposited","county":"a","payroll_month":"2021-02","amount":"10","deposited_on":"2021-02-05"}),
        json!({"kind":"wages_paid","county":"a","payroll_month":"2021-02","amount":"55","paid_on":"2021-02-15"}),
        reverse(15, "2021-02-16"),
    ];
    let mut l = Log::new();
    let mut snapshots = vec![l.state.clone()];
    let mut undos = Vec::new();
    for e in events {
        let ev = Event::parse_object(e).unwrap().event;
        l.state.check(&ev, &mut NoPlans).unwrap();
        let r = Record::new(l.state.head_seq + 1, 0, None, l.prev, ev);
        l.prev = r.hash;
        undos.push((l.state.apply(&r), r));
        snapshots.push(l.state.clone());
    }
    let a = l.state.county(&CountyId::parse("a").unwrap()).unwrap();
    let (jan, feb) = (Month::new(2021, 1).unwrap(), Month::new(2021, 2).unwrap());
    let p = &a.payroll[&feb];
    assert_eq!(p.deposited_through(d("2021-02-04")), Money::ZERO);
    assert_eq!(
        p.deposited_through(d("2021-02-05")),
        Money::from_cents(6000)
    );
    assert_eq!(p.paid_through(d("2021-02-15")), Money::from_cents(5500));
    assert_eq!(p.paid_through(d("2021-02-16")), Money::ZERO);
    let bill = |m, on| a.wage_bill(m, d(on)).map(|b| b.amount.cents());
    assert_eq!(bill(feb, "2021-01-21"), Some(5000));
    assert_eq!(bill(feb, "2021-01-31"), Some(6000));
    assert_eq!(bill(jan, "2021-01-31"), Some(2000));
    assert_eq!(bill(jan, "2021-01-20"), None);
    while let Some((u, r)) = undos.pop() {
        snapshots.pop();
        l.state.undo(u, &r);
        assert_eq!(
            &l.state,
            snapshots.last().unwrap(),
            "undo of record {}",
            snapshots.len()
        );
    }
}

#[test]
fn a_stored_target_is_compact_and_a_wide_amount_round_trips() {
    // One slot per record: keep it small (it is most of a large state's memory).
    assert!(std::mem::size_of::<Option<super::evolve::Slot>>() <= 32);
    assert_eq!(std::mem::size_of::<Month>(), 4);
    // An amount beyond i64 (never accepted by parsing, but a stored record could carry
    // one) is kept exactly, reversed exactly, and undone without a trace.
    let mut s = State::new();
    let big = Money::from_cents(i64::MAX as i128 * 4 + 3);
    let ev = |amount: Money, seq: u64| {
        let e: Event = Event::CityFundsReceived(CityFundsReceived {
            fund: Fund::General,
            amount,
            received_on: d("2021-01-01"),
            reference: None,
        });
        Record::new(seq, 0, None, GENESIS, e)
    };
    s.apply(&ev(Money::from_cents(100), 1));
    let before = s.clone();
    let big_record = ev(big, 2);
    let u = s.apply(&big_record);
    assert_eq!(s.city.total(), big + Money::from_cents(100));
    assert_eq!(s.target(2).map(|t| t.amount), Some(big));
    let rev = Record::new(
        3,
        0,
        None,
        GENESIS,
        Event::EventReversed(EventReversed {
            reverses_seq: 2,
            reason: Text::parse("twice").unwrap(),
            on: d("2021-01-02"),
        }),
    );
    let u2 = s.apply(&rev);
    assert!(s.is_reversed(2));
    assert_eq!(s.city.through(d("2021-01-02")), Money::from_cents(100));
    s.undo(u2, &rev);
    s.undo(u, &big_record);
    assert_eq!(s, before);
    assert!(s.wide_amounts.is_empty());
}

#[test]
#[should_panic(expected = "invariant 3: a.treasury is below zero")]
fn with_the_overdraft_rule_switched_off_the_invariants_catch_the_overdraft() {
    let mut l = Log::new();
    l.ok(county("a", "2021-01-01", "100.00"));
    l.rejects(spend("a", "150.00", "2021-01-05"), "amount");
    rules::broken::NO_OVERDRAFT_RULE.set(true);
    l.ok(spend("a", "150.00", "2021-01-05"));
}

#[test]
#[should_panic(expected = "invariant 4: a 2021 general dispatched")]
fn with_the_entitlement_rule_switched_off_the_invariants_catch_the_excess() {
    let mut l = Log::new();
    l.ok(county("a", "2021-01-01", "0.00"));
    l.ok(city("1000.00", "2021-01-02"));
    l.ok(alloc("a", "general", "100.00", "2021-01-03"));
    l.rejects(transfer("a", "general", "150.00", "2021-01-04"), "amount");
    rules::broken::NO_ENTITLEMENT_RULE.set(true);
    l.ok(transfer("a", "general", "150.00", "2021-01-04"));
}

#[test]
fn a_history_through_the_rules_keeps_every_invariant() {
    let mut l = Log::new();
    l.ok(county("a", "2021-01-01", "100.00"));
    l.ok(county("b", "2021-01-01", "50.00"));
    l.ok(city("1000.00", "2021-01-02"));
    l.ok(alloc("a", "general", "300.00", "2021-01-03"));
    let t = l.ok(transfer("a", "general", "120.00", "2021-01-04"));
    l.ok(spend("a", "200.00", "2021-01-05"));
    l.ok(spend("b", "50.00", "2021-01-05"));
    l.rejects(reverse(t, "2021-01-06"), "reverses_seq");
    l.state.assert_invariants();
}

#[test]
fn oversight_events_follow_their_rules_and_undo_exactly() {
    // Issue 19: a proposal, its one decision, a response plan; expenditure by category.
    let mut l = Log::new();
    l.ok(county("a", "2021-01-01", "1000"));
    let p = l.ok(json!({"kind":"policy_proposed","county":"a","title":"提高低保标准","category":"livelihood","monthly_cost":"10","starts":"2021-03","proposed_on":"2021-02-10"}));
    assert_eq!(p, 2);
    // Only a policy_proposed can be decided, once, and not before it was proposed.
    l.rejects(
        json!({"kind":"assessment_decided","proposal_seq":1,"decision":"approved","decided_on":"2021-02-20"}),
        "proposal_seq",
    );
    l.rejects(
        json!({"kind":"assessment_decided","proposal_seq":9,"decision":"approved","decided_on":"2021-02-20"}),
        "proposal_seq",
    );
    l.rejects(
        json!({"kind":"assessment_decided","proposal_seq":2,"decision":"approved","decided_on":"2021-02-09"}),
        "decided_on",
    );
    let before = l.state.clone();
    let e = Event::parse_object(json!({"kind":"assessment_decided","proposal_seq":2,"decision":"rejected","decided_on":"2021-02-10"})).unwrap().event;
    l.state.check(&e, &mut NoPlans).unwrap();
    let r = Record::new(3, 0, None, l.prev, e);
    let u = l.state.apply(&r);
    let d_ = l.state.proposal(2).unwrap().decision.unwrap();
    assert_eq!((d_.seq, d_.decision), (3, AssessmentDecision::Rejected));
    l.state.undo(u, &r);
    assert_eq!(l.state, before, "undo of a decision");
    l.ok(json!({"kind":"assessment_decided","proposal_seq":2,"decision":"approved","decided_on":"2021-02-11"}));
    l.rejects(
        json!({"kind":"assessment_decided","proposal_seq":2,"decision":"rejected","decided_on":"2021-02-12"}),
        "proposal_seq",
    );
    // A response plan: the county exists by filed_on.
    l.rejects(
        json!({"kind":"response_plan_filed","county":"a","filed_on":"2020-12-31","valid_until":"2021-12-31","measures":"m","reference":"r"}),
        "county",
    );
    l.ok(json!({"kind":"response_plan_filed","county":"a","filed_on":"2021-02-01","valid_until":"2021-12-31","measures":"m","reference":"r"}));
    assert_eq!(l.state.response_plans.len(), 1);
    // Expenditure is kept by category, and a reversal takes it back from its date.
    let s = l.ok(json!({"kind":"expenditure_paid","county":"a","amount":"7","paid_on":"2021-02-15","category":"other"}));
    let other = |l: &Log, on: &str| {
        l.state
            .county(&CountyId::parse("a").unwrap())
            .unwrap()
            .spent[ExpenditureCategory::Other as usize]
            .through(d(on))
    };
    assert_eq!(other(&l, "2021-02-15"), Money::from_cents(700));
    l.ok(reverse(s, "2021-02-20"));
    assert_eq!(other(&l, "2021-02-19"), Money::from_cents(700));
    assert_eq!(other(&l, "2021-02-20"), Money::ZERO);
}

#[test]
fn the_footprint_counts_every_record_and_every_day_once() {
    let events = crate::bench::workload::events(crate::bench::workload::Config::new(7, 20), 20_000);
    let s = crate::bench::fold_unhashed(events);
    let f = s.footprint();
    let part = |name: &str| *f.parts.iter().find(|p| p.0 == name).expect(name);
    // One reversal slot per record, at 32 bytes or more of capacity each.
    let table = part("per-record reversal table");
    assert_eq!(table.2 as u64, s.head_seq);
    assert!(table.1 >= table.2 * std::mem::size_of::<Option<super::evolve::Slot>>());
    // Every county's treasury days, as the day maps hold them.
    let days: usize = s.counties().map(|c| c.treasury.len()).sum();
    let treasury = part("treasury day maps");
    assert_eq!(treasury.2, days);
    assert!(treasury.1 >= days * 12, "4-byte dates and 8-byte balances");
    assert_eq!(f.total(), f.parts.iter().map(|p| p.1).sum::<usize>());
    // The parts come in a fixed order, each once.
    let names: Vec<_> = f.parts.iter().map(|p| p.0).collect();
    let unique: std::collections::BTreeSet<_> = names.iter().collect();
    assert_eq!(names.len(), unique.len(), "{names:?}");
    assert_eq!(names[0], "per-record reversal table");
}

#[test]
fn notices_are_found_by_number_and_by_county_and_month_through_apply_and_undo() {
    let notice = |c: &str, month: &str, number: &str, on: &str| {
        json!({"kind":"notice_issued","county":c,"month":month,"doc_number":number,
               "status":"low","guarantee_level":"0.4500","issued_on":on})
    };
    let mut l = Log::new();
    l.ok(county("a", "2021-01-01", "100"));
    l.ok(county("b", "2021-01-01", "100"));
    let first = l.ok(notice("a", "2021-01", "示财库〔2021〕1号", "2021-02-05"));
    // A number is used once in a log; a county has one live notice a month.
    l.rejects(
        notice("b", "2021-01", "示财库〔2021〕1号", "2021-02-05"),
        "doc_number",
    );
    l.rejects(
        notice("a", "2021-01", "示财库〔2021〕2号", "2021-02-06"),
        "month",
    );
    l.ok(notice("b", "2021-01", "示财库〔2021〕2号", "2021-02-05"));
    // Withdrawn from 10 February: a new one may follow from that day, not before.
    l.ok(reverse(first, "2021-02-10"));
    l.rejects(
        notice("a", "2021-01", "示财库〔2021〕3号", "2021-02-09"),
        "issued_on",
    );
    let before = l.state.clone();
    let r = Record::new(
        l.state.head_seq + 1,
        0,
        None,
        l.prev,
        Event::parse_object(notice("a", "2021-01", "示财库〔2021〕3号", "2021-02-10"))
            .unwrap()
            .event,
    );
    l.state.check(&r.event, &mut NoPlans).unwrap();
    let u = l.state.apply(&r);
    l.state.assert_invariants();
    assert_eq!(
        l.state
            .notice_index
            .by_number(&Text::parse("示财库〔2021〕3号").unwrap()),
        Some(2)
    );
    let a = CountyId::parse("a").unwrap();
    let month = Month::parse("2021-01").unwrap();
    assert_eq!(
        l.state
            .notice_index
            .of_county_month(&a, month)
            .collect::<Vec<_>>(),
        [0, 2]
    );
    l.state.undo(u, &r);
    assert_eq!(
        l.state, before,
        "undo takes the notice and its index entries back"
    );
    assert_eq!(
        l.state
            .notice_index
            .of_county_month(&a, month)
            .collect::<Vec<_>>(),
        [0]
    );
    assert_eq!(
        l.state
            .notice_index
            .by_number(&Text::parse("示财库〔2021〕3号").unwrap()),
        None
    );
    l.state.assert_invariants();
}
