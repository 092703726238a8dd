//! SPEC §6.1 `position`: day-end balances of the city and of every county on a
//! business date, with each county's entitlements, dispatches and what remains per
//! (fiscal year, fund).
//!
//! Guarantees:
//! - a pure function of the folded [`State`] and its arguments: no I/O, no clock, and
//!   the same state and arguments always give the same bytes of JSON;
//! - serde_json output is exactly the object of SPEC §6.1: amounts as strings with two
//!   decimals, counties sorted by id, funds by fiscal year then fund order (general,
//!   pre_notified, in_execution, direct);
//! - every figure is "with date ≤ as_of" in the sense of SPEC §8.16: a reversal takes
//!   its target's effect away from the reversal's own `on` date, so a date before it
//!   still sees the original;
//! - the knowledge axis (`at_seq`) is the state's: fold the log up to N, then ask.
//!
//! Readings of the SPEC chosen here (where it leaves a choice):
//! - `remaining` is `entitled − dispatched`, both as of `as_of`, and is written signed:
//!   rule 3 bounds totals over the whole log whatever their dates (§8.13), so a dispatch
//!   dated before the allocation it draws on can make it negative on some dates.
//! - A (fiscal year, fund) whose only allocation was later reversed is still listed
//!   (§8.19 asks only that an allocation or dispatch be *dated* ≤ as_of), with its
//!   net figures.
//! - With an empty log and no `as_of` given, `as_of` is `null`, the city's treasury
//!   `"0.00"` and `counties` empty (§8.26).

use crate::money::Money;
use crate::state::{County, State};
use crate::values::{CountyId, Date, FiscalYear, Fund, Text};
use schemars::JsonSchema;
use serde::Serialize;

/// The `position` object of SPEC §6.1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Position {
    /// The business date of the balances (`null` only for an empty log with no date given).
    #[schemars(with = "crate::schema::out::Nullable<Date>")]
    pub as_of: Option<Date>,
    /// The last record the figures know about (the state's head).
    pub at_seq: u64,
    /// The city's account.
    pub city: CityPosition,
    /// The counties registered on or before `as_of`, by id.
    pub counties: Vec<CountyPosition>,
}

/// The city's one account on `as_of`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CityPosition {
    /// Day-end balance of city.treasury.
    pub treasury: Money,
}

/// One county's day-end balances and funds on `as_of`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CountyPosition {
    /// County id.
    pub county: CountyId,
    /// Display name.
    pub name: Text,
    /// 库款: day-end treasury balance.
    pub treasury: Money,
    /// 工资库款保障户: day-end wage-reserve balance.
    pub wage_reserve: Money,
    /// treasury + wage_reserve.
    pub cash: Money,
    /// Every (fiscal year, fund) with an allocation or dispatch dated ≤ as_of (§8.19).
    pub funds: Vec<FundPosition>,
    /// Emergency advances dispatched with value date ≤ as_of, minus those of them
    /// reversed on or before as_of (contract v2, docs/monitor-v2.md).
    pub outstanding_advances: Money,
}

/// Entitled, dispatched and remaining for one (fiscal year, fund) of a county.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FundPosition {
    /// Fiscal year of the entitlement.
    pub fiscal_year: FiscalYear,
    /// Fund class.
    pub fund: Fund,
    /// Entitlement notified on or before as_of (net of reversals dated ≤ as_of).
    pub entitled: Money,
    /// Dispatched with value date ≤ as_of (for `general`, advances included).
    pub dispatched: Money,
    /// entitled − dispatched (may be negative, see the module doc).
    pub remaining: Money,
}

/// Computes SPEC §6.1 over `state` (already folded up to the wanted `at_seq`).
///
/// `as_of` defaults to the greatest effective date in the state (§8.23). `county`, when
/// given, keeps only that county in `counties` (the city is always shown); a county that
/// is unknown or not yet registered on `as_of` gives an empty list — the CLI reports
/// that as a usage error before calling.
pub fn position(state: &State, as_of: Option<Date>, county: Option<&CountyId>) -> Position {
    let as_of = as_of.or(state.max_effective_date);
    let Some(d) = as_of else {
        return Position {
            as_of: None,
            at_seq: state.head_seq,
            city: CityPosition {
                treasury: Money::ZERO,
            },
            counties: Vec::new(),
        };
    };
    let counties = state
        .counties()
        .filter(|c| c.registered_on <= d)
        .filter(|c| county.map_or(true, |id| &c.id == id))
        .map(|c| county_position(state, c, d))
        .collect();
    Position {
        as_of,
        at_seq: state.head_seq,
        city: city_position(state, d),
        counties,
    }
}

/// The city's position at the end of `d` ([`position`]'s `city` member, alone: the
/// desk's overview shows it without the counties' funds).
pub fn city_position(state: &State, d: Date) -> CityPosition {
    CityPosition {
        treasury: state.city.through(d),
    }
}

/// One county's position on `d`.
fn county_position(state: &State, c: &County, d: Date) -> CountyPosition {
    let treasury = c.treasury.through(d);
    let wage_reserve = c.wage_reserve.through(d);
    // `funds` is a BTreeMap keyed by (fiscal year, fund): iteration is already the
    // SPEC order (fiscal_year, then general, pre_notified, in_execution, direct).
    let funds = c
        .funds
        .iter()
        .filter(|(_, l)| l.first_date().is_some_and(|f| f <= d))
        .map(|(&(fiscal_year, fund), l)| {
            let entitled = l.entitled_at(d);
            let dispatched = l.dispatched_at(d);
            FundPosition {
                fiscal_year,
                fund,
                entitled,
                dispatched,
                remaining: entitled - dispatched,
            }
        })
        .collect();
    CountyPosition {
        county: c.id.clone(),
        name: c.name.clone(),
        treasury,
        wage_reserve,
        cash: treasury + wage_reserve,
        funds,
        outstanding_advances: outstanding_advances(state, c, d),
    }
}

/// Advances live on `d`: they are dispatches of the general ledgers (of their value
/// date's year) whose record is an advance.
fn outstanding_advances(state: &State, c: &County, d: Date) -> Money {
    c.funds
        .iter()
        .filter(|((_, fund), _)| *fund == Fund::General)
        .flat_map(|(_, l)| &l.dispatches)
        .filter(|e| state.is_advance(e.seq))
        .map(|e| e.at(d))
        .sum()
}

/// Test support shared by the read-side unit tests: a log built through
/// `State::check` + `State::apply`, as the writer does, and event constructors.
#[cfg(test)]
pub(crate) mod test_log {
    use crate::event::Event;
    use crate::record::{Record, GENESIS};
    use crate::state::{NoPlans, State};
    use crate::values::{CountyId, Date, Sha256Hex};
    use serde_json::{json, Value};

    /// A state built event by event through check + apply; `states[n]` is the state
    /// after record n (the knowledge axis).
    pub struct TestLog {
        pub state: State,
        prev: Sha256Hex,
        pub states: Vec<State>,
    }

    impl TestLog {
        pub fn new() -> TestLog {
            TestLog {
                state: State::new(),
                prev: GENESIS,
                states: vec![State::new()],
            }
        }

        /// Appends one event; panics if it is rejected. Returns its seq.
        pub fn ok(&mut self, v: Value) -> u64 {
            let text = v.to_string();
            let e = Event::parse_object(v)
                .unwrap_or_else(|e| panic!("{text}: {e}"))
                .event;
            self.state
                .check(&e, &mut NoPlans)
                .unwrap_or_else(|e| panic!("{text} rejected: {e}"));
            let r = Record::new(self.state.head_seq + 1, 0, None, self.prev, e);
            self.prev = r.hash;
            self.state.apply(&r);
            self.states.push(self.state.clone());
            r.seq
        }

        /// The state as known after record `seq`.
        pub fn at(&self, seq: u64) -> &State {
            &self.states[seq as usize]
        }
    }

    pub fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }
    pub fn id(s: &str) -> CountyId {
        CountyId::parse(s).unwrap()
    }
    pub fn county(c: &str, on: &str, treasury: &str) -> Value {
        json!({"kind":"county_registered","county":c,"name":"某县","registered_on":on,"opening_treasury":treasury})
    }
    pub fn city(amount: &str, on: &str) -> Value {
        json!({"kind":"city_funds_received","fund":"general","amount":amount,"received_on":on})
    }
    pub fn alloc(c: &str, fund: &str, fy: i32, amount: &str, on: &str) -> Value {
        json!({"kind":"allocation_notified","county":c,"fund":fund,"fiscal_year":fy,"program":"p","amount":amount,"notified_on":on})
    }
    pub fn transfer(c: &str, fund: &str, fy: i32, amount: &str, on: &str) -> Value {
        json!({"kind":"transfer_allocated","county":c,"fund":fund,"fiscal_year":fy,"amount":amount,"value_date":on})
    }
    pub fn emergency(c: &str, mode: &str, amount: &str, on: &str) -> Value {
        json!({"kind":"emergency_dispatched","county":c,"amount":amount,"value_date":on,"mode":mode,"reason":"r","approved_by":"a"})
    }
    pub fn spend(c: &str, amount: &str, on: &str) -> Value {
        json!({"kind":"expenditure_paid","county":c,"amount":amount,"paid_on":on,"category":"operations"})
    }
    pub fn revenue(c: &str, amount: &str, on: &str) -> Value {
        json!({"kind":"revenue_collected","county":c,"amount":amount,"collected_on":on})
    }
    pub fn bill(c: &str, month: &str, amount: &str, payday: &str, on: &str) -> Value {
        json!({"kind":"wage_bill_declared","county":c,"payroll_month":month,"amount":amount,"payday":payday,"declared_on":on})
    }
    pub fn deposit(c: &str, month: &str, amount: &str, on: &str) -> Value {
        json!({"kind":"payroll_deposited","county":c,"payroll_month":month,"amount":amount,"deposited_on":on})
    }
    pub fn wages(c: &str, month: &str, amount: &str, on: &str) -> Value {
        json!({"kind":"wages_paid","county":c,"payroll_month":month,"amount":amount,"paid_on":on})
    }
    pub fn need(c: &str, fy: i32, category: &str, amount: &str, on: &str) -> Value {
        json!({"kind":"needs_budgeted","county":c,"fiscal_year":fy,"category":category,"amount":amount,"budgeted_on":on})
    }
    pub fn report(c: &str, account: &str, on: &str, balance: &str) -> Value {
        json!({"kind":"balance_reported","county":c,"account":account,"on":on,"balance":balance})
    }
    pub fn lines(c: Option<&str>, w: &str, a: &str, i: &str, from: &str) -> Value {
        json!({"kind":"risk_lines_set","county":c,"warning_line":w,"alert_line":a,"idle_line":i,"effective_from":from})
    }
    pub fn reverse(seq: u64, on: &str) -> Value {
        json!({"kind":"event_reversed","reverses_seq":seq,"reason":"entered twice","on":on})
    }
}

#[cfg(test)]
mod tests {
    use super::test_log::*;
    use super::*;
    use serde_json::{json, Value};

    fn js(p: &Position) -> Value {
        serde_json::to_value(p).unwrap()
    }

    #[test]
    fn empty_log_gives_null_as_of_and_empty_lists() {
        let s = State::new();
        assert_eq!(
            serde_json::to_string(&position(&s, None, None)).unwrap(),
            r#"{"as_of":null,"at_seq":0,"city":{"treasury":"0.00"},"counties":[]}"#
        );
        let p = position(&s, Some(d("2021-06-30")), None);
        assert_eq!(
            js(&p),
            json!({"as_of":"2021-06-30","at_seq":0,"city":{"treasury":"0.00"},"counties":[]})
        );
    }

    #[test]
    fn exact_json_shape_with_two_decimals_and_default_as_of() {
        let mut l = TestLog::new();
        l.ok(city("1000", "2021-01-01"));
        l.ok(county("suizhong", "2021-01-01", "50.5"));
        l.ok(alloc("suizhong", "general", 2021, "120", "2021-01-04"));
        l.ok(transfer("suizhong", "general", 2021, "10", "2021-01-05"));
        let p = position(&l.state, None, None);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            concat!(
                r#"{"as_of":"2021-01-05","at_seq":4,"city":{"treasury":"990.00"},"counties":[{"county":"suizhong","name":"某县","#,
                r#""treasury":"60.50","wage_reserve":"0.00","cash":"60.50","funds":[{"fiscal_year":2021,"fund":"general","#,
                r#""entitled":"120.00","dispatched":"10.00","remaining":"110.00"}],"outstanding_advances":"0.00"}]}"#
            )
        );
    }

    #[test]
    fn lists_only_counties_registered_by_as_of_sorted_by_id() {
        let mut l = TestLog::new();
        l.ok(county("zeta", "2021-01-01", "1"));
        l.ok(county("alpha", "2021-02-01", "2"));
        l.ok(county("mid", "2021-01-15", "3"));
        let ids = |as_of: &str| -> Vec<String> {
            position(&l.state, Some(d(as_of)), None)
                .counties
                .iter()
                .map(|c| c.county.to_string())
                .collect()
        };
        assert_eq!(ids("2020-12-31"), Vec::<String>::new());
        assert_eq!(ids("2021-01-01"), ["zeta"]);
        assert_eq!(ids("2021-01-31"), ["mid", "zeta"]);
        assert_eq!(ids("2021-02-01"), ["alpha", "mid", "zeta"]);
        let only = position(&l.state, Some(d("2021-02-01")), Some(&id("mid")));
        assert_eq!(only.counties.len(), 1);
        assert_eq!(only.counties[0].cash, Money::from_cents(300));
        assert!(
            position(&l.state, Some(d("2021-01-31")), Some(&id("alpha")))
                .counties
                .is_empty()
        );
    }

    #[test]
    fn funds_are_listed_from_their_first_date_in_fiscal_year_then_fund_order() {
        let mut l = TestLog::new();
        l.ok(city("100000", "2021-01-01"));
        l.ok(county("a", "2021-01-01", "0"));
        l.ok(alloc("a", "direct", 2021, "10", "2021-03-01"));
        l.ok(alloc("a", "general", 2022, "10", "2021-11-26"));
        l.ok(alloc("a", "general", 2021, "1200", "2021-01-04"));
        l.ok(alloc("a", "in_execution", 2021, "30", "2021-05-01"));
        l.ok(transfer("a", "general", 2021, "100", "2021-01-05"));
        // An advance counts as a general dispatch of year(value_date); a grant as none.
        l.ok(emergency("a", "advance", "40", "2021-02-10"));
        l.ok(emergency("a", "grant", "7", "2021-02-11"));
        let funds = |as_of: &str| -> Vec<(i32, &'static str, String, String, String)> {
            position(&l.state, Some(d(as_of)), None).counties[0]
                .funds
                .iter()
                .map(|f| {
                    (
                        f.fiscal_year.get(),
                        f.fund.as_str(),
                        f.entitled.to_string(),
                        f.dispatched.to_string(),
                        f.remaining.to_string(),
                    )
                })
                .collect()
        };
        assert_eq!(funds("2021-01-03"), vec![]);
        assert_eq!(
            funds("2021-02-10"),
            vec![(
                2021,
                "general",
                "1200.00".into(),
                "140.00".into(),
                "1060.00".into()
            )]
        );
        assert_eq!(
            funds("2021-12-31"),
            vec![
                (
                    2021,
                    "general",
                    "1200.00".into(),
                    "140.00".into(),
                    "1060.00".into()
                ),
                (
                    2021,
                    "in_execution",
                    "30.00".into(),
                    "0.00".into(),
                    "30.00".into()
                ),
                (
                    2021,
                    "direct",
                    "10.00".into(),
                    "0.00".into(),
                    "10.00".into()
                ),
                (
                    2022,
                    "general",
                    "10.00".into(),
                    "0.00".into(),
                    "10.00".into()
                ),
            ]
        );
        let p = position(&l.state, Some(d("2021-02-11")), None);
        assert_eq!(p.counties[0].treasury, Money::from_cents(14_700));
        assert_eq!(p.city.treasury, Money::from_cents(10_000_000 - 14_700));
    }

    #[test]
    fn a_dispatch_dated_before_its_allocation_shows_a_negative_remaining() {
        // Rule 3 bounds totals whatever their dates (§8.13); on dates between the two,
        // the remaining is negative and written with a sign.
        let mut l = TestLog::new();
        l.ok(city("1000", "2021-01-01"));
        l.ok(county("a", "2021-01-01", "0"));
        l.ok(alloc("a", "general", 2021, "100", "2021-03-01"));
        l.ok(transfer("a", "general", 2021, "100", "2021-02-01"));
        let f = &position(&l.state, Some(d("2021-02-15")), None).counties[0].funds[0];
        assert_eq!(
            js(&position(&l.state, Some(d("2021-02-15")), None))["counties"][0]["funds"][0]
                ["remaining"],
            "-100.00"
        );
        assert_eq!(
            (f.entitled, f.dispatched),
            (Money::ZERO, Money::from_cents(10_000))
        );
        let f = &position(&l.state, Some(d("2021-03-01")), None).counties[0].funds[0];
        assert_eq!(f.remaining, Money::ZERO);
    }

    #[test]
    fn a_reversal_removes_its_target_from_its_own_date_onward() {
        let mut l = TestLog::new();
        l.ok(city("1000", "2021-01-01"));
        l.ok(county("a", "2021-01-01", "0"));
        l.ok(alloc("a", "general", 2021, "500", "2021-01-04"));
        let dup = l.ok(transfer("a", "general", 2021, "200", "2021-06-10"));
        l.ok(reverse(dup, "2021-06-18"));
        let at = |as_of: &str| {
            let p = position(&l.state, Some(d(as_of)), None);
            let c = &p.counties[0];
            (p.city.treasury, c.treasury, c.funds[0].dispatched)
        };
        let m = Money::from_cents;
        assert_eq!(at("2021-06-09"), (m(100_000), m(0), m(0)));
        assert_eq!(at("2021-06-17"), (m(80_000), m(20_000), m(20_000)));
        assert_eq!(at("2021-06-18"), (m(100_000), m(0), m(0)));
        // Reversing an allocation takes the entitlement away from its date onward,
        // and the (fiscal_year, fund) stays listed (it has an allocation dated ≤ as_of).
        let mut l = TestLog::new();
        l.ok(county("a", "2021-01-01", "0"));
        let s = l.ok(alloc("a", "direct", 2021, "50", "2021-02-01"));
        l.ok(reverse(s, "2021-03-01"));
        let f = |as_of: &str| {
            position(&l.state, Some(d(as_of)), None).counties[0]
                .funds
                .clone()
        };
        assert_eq!(f("2021-02-28")[0].entitled, m(5_000));
        assert_eq!(f("2021-03-01")[0].entitled, m(0));
        assert_eq!(f("2021-03-01").len(), 1);
    }

    #[test]
    fn both_time_axes_what_we_believed_at_seq_n_about_date_d() {
        let mut l = TestLog::new();
        l.ok(city("1000", "2021-01-01"));
        l.ok(county("a", "2021-01-01", "100"));
        l.ok(alloc("a", "general", 2021, "500", "2021-01-04"));
        let dup = l.ok(transfer("a", "general", 2021, "200", "2021-05-31"));
        // Recorded later: a backdated expense of 05-20, then the reversal dated 06-18.
        let expense = l.ok(spend("a", "30", "2021-05-20"));
        let rev = l.ok(reverse(dup, "2021-06-18"));
        let cash =
            |seq: u64, as_of: &str| position(l.at(seq), Some(d(as_of)), None).counties[0].cash;
        let m = Money::from_cents;
        // "What did we believe after record `dup` about 05-31?" — 300: no expense yet.
        assert_eq!(cash(dup, "2021-05-31"), m(30_000));
        assert_eq!(position(l.at(dup), Some(d("2021-05-31")), None).at_seq, dup);
        // After the backdated expense we know 05-31 ended at 270 …
        assert_eq!(cash(expense, "2021-05-31"), m(27_000));
        assert_eq!(cash(expense, "2021-06-30"), m(27_000));
        // … and after the reversal, 05-31 is unchanged while 06-18 onward lose the 200.
        assert_eq!(cash(rev, "2021-05-31"), m(27_000));
        assert_eq!(cash(rev, "2021-06-17"), m(27_000));
        assert_eq!(cash(rev, "2021-06-18"), m(7_000));
        // The default as_of is the greatest effective date known at that seq (§8.23).
        assert_eq!(position(l.at(dup), None, None).as_of, Some(d("2021-05-31")));
        assert_eq!(position(l.at(rev), None, None).as_of, Some(d("2021-06-18")));
        assert_eq!(position(l.at(2), None, None).as_of, Some(d("2021-01-01")));
    }
}
