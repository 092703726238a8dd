//! The state's invariants, asserted rather than only stated (TigerBeetle's habit):
//! what must hold after every record the writer accepted.
//!
//! 1. **Seqs are contiguous**: the state has folded records `1..=head_seq`, one slot
//!    each, and a wide amount only for a record that has one.
//! 2. **The county index is the county list**: as many ids as counties, each id
//!    naming its own county, in strictly increasing id order; and **the notice index
//!    is the notice list** (built anew from `notices`, it is the same).
//! 3. **No account below zero** at any day-end: city.treasury, and every county's
//!    treasury and wage reserve (rule 1).
//! 4. **Dispatched ≤ entitled** for every (county, fund, fiscal year), and each
//!    ledger's running totals equal the sums of its live entries (rule 3).
//!
//! [`State::assert_invariants`] checks all of them over the whole state (linear in its
//! size: for tests, after a history). [`State::assert_after_apply`] checks, after each
//! [`State::apply`], only what that record touched — the accounts and ledgers of its
//! county, the city's account from its date on, the index and the seq — in
//! O(log n + entries after its date), so every test that appends through the rules
//! checks them at each step. Both run in debug builds and in the crate's own tests
//! ([`CHECKED`]); a release binary compiles them out (`cfg!` is a constant), so its
//! speed is unchanged.
//!
//! Only records the rules accepted are held to 3 and 4: [`State::fold`] (reading a
//! stored log, which an older sanbao may have written under looser rules) is not
//! checked.

use super::evolve::{Effect, WIDE};
use super::*;

/// Whether invariants are asserted: in debug builds and in this crate's unit tests.
pub const CHECKED: bool = cfg!(any(debug_assertions, test));

/// `assert!` when [`CHECKED`], nothing otherwise.
macro_rules! invariant {
    ($cond:expr, $($msg:tt)+) => {
        if $crate::state::invariants::CHECKED {
            assert!($cond, $($msg)+);
        }
    };
}
pub(crate) use invariant;

impl State {
    /// Panics, naming the invariant and where it fails, unless every invariant of this
    /// module holds over the whole state. Linear in the state's size; always checks
    /// (release builds too), for tests and property tests to call after a history.
    pub fn assert_invariants(&self) {
        self.assert_seqs();
        self.assert_index();
        assert_account(&self.city, "city.treasury", Date::FIRST);
        for c in &self.counties {
            assert_county_accounts(c, Date::FIRST);
            assert_ledgers(c, true);
        }
    }

    /// The checks after [`State::apply`] of `rec`: what it touched (see the module
    /// doc). A no-op unless [`CHECKED`].
    pub(super) fn assert_after_apply(&self, rec: &Record) {
        if !CHECKED {
            return;
        }
        assert_eq!(
            self.head_seq, rec.seq,
            "invariant 1: the head is the record"
        );
        assert_eq!(
            self.targets.len() as u64,
            self.head_seq,
            "invariant 1: one slot per record"
        );
        assert_eq!(
            self.county_index.len(),
            self.counties.len(),
            "invariant 2: as many ids as counties"
        );
        let d = rec.event.effective_date();
        let county = match &rec.event {
            Event::EventReversed(e) => self
                .target(e.reverses_seq)
                .and_then(|t| effect_county(t.effect)),
            e => e.county().and_then(|id| {
                let i = self.county_index.get(id);
                invariant!(
                    i.map_or(true, |i| self.counties[i as usize].id == *id),
                    "invariant 2: the index sends {id} to another county"
                );
                i
            }),
        };
        assert_account(&self.city, "city.treasury", d);
        if let Some(i) = county {
            let c = &self.counties[i as usize];
            assert_county_accounts(c, d);
            assert_ledgers(c, false);
        }
    }

    fn assert_seqs(&self) {
        assert_eq!(
            self.targets.len() as u64,
            self.head_seq,
            "invariant 1: one slot per record 1..=head_seq"
        );
        for &seq in self.wide_amounts.keys() {
            let slot = seq
                .checked_sub(1)
                .and_then(|i| self.targets.get(i as usize).flatten());
            assert!(
                slot.is_some_and(|s| s.amount == WIDE),
                "invariant 1: wide amount of seq {seq} without a wide slot"
            );
        }
    }

    fn assert_index(&self) {
        assert_eq!(
            self.county_index.len(),
            self.counties.len(),
            "invariant 2: as many ids as counties"
        );
        assert!(
            self.county_index.agrees(),
            "invariant 2: the index's hash table and ordered map differ"
        );
        for (i, c) in self.counties.iter().enumerate() {
            assert_eq!(
                self.county_index.get(&c.id),
                Some(i as u32),
                "invariant 2: the index does not send {} to its county",
                c.id
            );
        }
        let ids: Vec<&CountyId> = self.counties().map(|c| &c.id).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "invariant 2: counties() is not in strictly increasing id order"
        );
        assert!(
            self.notice_index == super::notice_index::NoticeIndex::of(&self.notices),
            "invariant 2: the notice index is not the notices'"
        );
    }
}

/// The county an effect moves money of, if any.
fn effect_county(e: Effect) -> Option<u32> {
    match e {
        Effect::CityFunds | Effect::Notice { .. } | Effect::Request { .. } => None,
        Effect::Allocation { county, .. }
        | Effect::Transfer { county, .. }
        | Effect::Grant { county }
        | Effect::Advance { county, .. }
        | Effect::Deposit { county, .. }
        | Effect::WagesPaid { county, .. }
        | Effect::Revenue { county }
        | Effect::Expenditure { county, .. }
        | Effect::Needs { county, .. } => Some(county),
    }
}

/// Invariant 3 for one account, at every day-end from `from` on.
fn assert_account(acct: &DayMap, name: &str, from: Date) {
    let (low, on) = acct.min_from(from);
    assert!(
        low >= Money::ZERO,
        "invariant 3: {name} is below zero at the end of {on}: {low}"
    );
}

fn assert_county_accounts(c: &County, from: Date) {
    assert_account(&c.treasury, &format!("{}.treasury", c.id), from);
    assert_account(&c.wage_reserve, &format!("{}.wage_reserve", c.id), from);
}

/// Invariant 4 for a county's ledgers; `sums` also recomputes each total from its
/// entries (linear in them).
fn assert_ledgers(c: &County, sums: bool) {
    for ((fy, fund), l) in &c.funds {
        assert!(
            l.dispatched_total <= l.entitled_total,
            "invariant 4: {} {fy} {} dispatched {} beyond its entitlement {}",
            c.id,
            fund.as_str(),
            l.dispatched_total,
            l.entitled_total
        );
        if sums {
            let live = |e: &Entry| {
                if e.reversed_on.is_none() {
                    e.amount
                } else {
                    Money::ZERO
                }
            };
            let entitled: Money = l.entitlements.iter().map(|e| live(&e.entry)).sum();
            let dispatched: Money = l.dispatches.iter().map(live).sum();
            assert_eq!(
                (l.entitled_total, l.dispatched_total),
                (entitled, dispatched),
                "invariant 4: {} {fy} {} totals differ from their entries",
                c.id,
                fund.as_str()
            );
        }
    }
}
