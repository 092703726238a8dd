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
use serde::Serialize;

/// The `position` object of SPEC §6.1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Position {
    /// The business date of the balances (`null` only for an empty log with no date given).
    pub as_of: Option<Date>,
    /// The last record the figures know about (the state's head).
    pub at_seq: u64,
    /// The city's account.
    pub city: CityPosition,
    /// The counties registered on or before `as_of`, by id.
    pub counties: Vec<CountyPosition>,
}

/// The city's one account on `as_of`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CityPosition {
    /// Day-end balance of city.treasury.
    pub treasury: Money,
}

/// One county's day-end balances and funds on `as_of`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
}

/// Entitled, dispatched and remaining for one (fiscal year, fund) of a county.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
        .map(|c| county_position(c, d))
        .collect();
    Position {
        as_of,
        at_seq: state.head_seq,
        city: CityPosition {
            treasury: state.city.through(d),
        },
        counties,
    }
}

/// One county's position on `d`.
fn county_position(c: &County, d: Date) -> CountyPosition {
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
    }
}
