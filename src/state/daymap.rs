//! [`DayMap`]: money deltas by business date, the building block of balances and
//! dated sums.
//!
//! Guarantees: exact sums; no zero entries are kept (so two maps with the same
//! effect compare equal, which lets tests check that undo restores a state exactly);
//! queries near the latest date cost only the entries after it.

use crate::money::Money;
use crate::values::Date;
use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Included, Unbounded};

/// Money deltas by date. As an account, the day-end balance on D is the sum of the
/// deltas dated ≤ D.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DayMap {
    deltas: BTreeMap<Date, i128>,
    total: i128,
}

impl DayMap {
    /// Adds `x` on date `d` (negative for outflows).
    pub fn add(&mut self, d: Date, x: Money) {
        if x.cents() == 0 {
            return;
        }
        let e = self.deltas.entry(d).or_insert(0);
        *e += x.cents();
        if *e == 0 {
            self.deltas.remove(&d);
        }
        self.total += x.cents();
    }

    /// Sum of every delta, whatever its date.
    pub fn total(&self) -> Money {
        Money::from_cents(self.total)
    }

    /// Sum of the deltas dated ≤ `d` (the day-end balance on `d`).
    pub fn through(&self, d: Date) -> Money {
        let after: i128 = self
            .deltas
            .range((Excluded(d), Unbounded))
            .map(|(_, x)| *x)
            .sum();
        Money::from_cents(self.total - after)
    }

    /// Sum of the deltas dated in `from..=to` (zero when `from > to`).
    pub fn between(&self, from: Date, to: Date) -> Money {
        if from > to {
            return Money::ZERO;
        }
        Money::from_cents(
            self.deltas
                .range((Included(from), Included(to)))
                .map(|(_, x)| *x)
                .sum(),
        )
    }

    /// The lowest day-end balance on `d` or any later date, with the first date it is
    /// reached.
    pub fn min_from(&self, d: Date) -> (Money, Date) {
        let mut bal = self.through(d).cents();
        let (mut min, mut at) = (bal, d);
        for (day, x) in self.deltas.range((Excluded(d), Unbounded)) {
            bal += x;
            if bal < min {
                min = bal;
                at = *day;
            }
        }
        (Money::from_cents(min), at)
    }

    /// Number of distinct dates held.
    pub fn len(&self) -> usize {
        self.deltas.len()
    }

    /// True when no delta is held.
    pub fn is_empty(&self) -> bool {
        self.deltas.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn balances_and_minimum_from_a_date() {
        let mut m = DayMap::default();
        m.add(d("2021-01-01"), Money::from_cents(100));
        m.add(d("2021-01-10"), Money::from_cents(-80));
        m.add(d("2021-01-20"), Money::from_cents(50));
        assert_eq!(m.through(d("2020-12-31")).cents(), 0);
        assert_eq!(m.through(d("2021-01-05")).cents(), 100);
        assert_eq!(m.through(d("2021-01-10")).cents(), 20);
        assert_eq!(
            m.min_from(d("2021-01-02")),
            (Money::from_cents(20), d("2021-01-10"))
        );
        assert_eq!(m.min_from(d("2021-01-15")).0.cents(), 20);
        assert_eq!(m.min_from(d("2021-02-01")).0.cents(), 70);
        assert_eq!(m.between(d("2021-01-02"), d("2021-01-20")).cents(), -30);
        m.add(d("2021-01-10"), Money::from_cents(80));
        assert_eq!(m.len(), 2, "a zero entry is dropped");
    }
}
