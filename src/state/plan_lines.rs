//! [`PlanLines`]: `State::plan_transfers` found by plan line (plan month, county,
//! fund, fiscal year), for `plan status` and the rules of `transfer_allocated` that
//! compare a line's dispatches with its issued plan.
//!
//! Held as the last transfer of each line plus, per transfer, the one before it on
//! its line — a chain through `plan_transfers` — instead of a list per line: almost
//! every line holds one transfer (873,484 lines for 873,484 transfers at ten million
//! records), and a list per line was one allocation each, rebuilt at every `serve`
//! start from a snapshot and copied again for the readers' mirror (BENCHMARKS.md,
//! session 19).
//!
//! Guarantees: derived only from `State::plan_transfers` (rebuilt when a snapshot is
//! read, kept in step by `apply` and `undo`, never written); [`PlanLines::on_line`]
//! gives exactly the transfers whose key is the line's, newest first; two indexes
//! built from the same transfers are equal. Only ever looked up, never iterated, so
//! no output depends on the hash order (fxhash, unkeyed, as the county index).

use super::{PlanLineKey, PlanTransfer};
use std::collections::HashMap;

/// No transfer before this one on its line.
const NONE: u32 = u32::MAX;

/// `State::plan_transfers` by line (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PlanLines {
    /// The newest transfer on each line: its index in `plan_transfers`.
    last: HashMap<PlanLineKey, u32, fxhash::FxBuildHasher>,
    /// For each transfer, by index, the one before it on its line ([`NONE`] for a
    /// line's first).
    prev: Vec<u32>,
}

impl PlanLines {
    /// The index of `transfers`, built anew (its map sized for one line per transfer,
    /// so building it never rehashes).
    pub(crate) fn of(transfers: &[PlanTransfer]) -> PlanLines {
        let mut x = PlanLines {
            last: HashMap::with_capacity_and_hasher(transfers.len(), Default::default()),
            prev: Vec::with_capacity(transfers.len()),
        };
        for (i, t) in transfers.iter().enumerate() {
            x.pushed(t.key(), i as u32);
        }
        x
    }

    /// Notes the transfer just pushed at index `i` of `plan_transfers`, on line `key`.
    pub(crate) fn pushed(&mut self, key: PlanLineKey, i: u32) {
        assert_eq!(i as usize, self.prev.len(), "transfers are pushed in order");
        self.prev.push(self.last.insert(key, i).unwrap_or(NONE));
    }

    /// Forgets the last transfer (index `i`, on line `key`), just popped from
    /// `plan_transfers` (an undo).
    pub(crate) fn popped(&mut self, key: &PlanLineKey, i: u32) {
        assert_eq!(
            i as usize + 1,
            self.prev.len(),
            "the last transfer is popped"
        );
        let before = self.prev.pop().expect("one per transfer");
        if before == NONE {
            self.last.remove(key);
        } else {
            *self.last.get_mut(key).expect("indexed") = before;
        }
    }

    /// Indexes in `plan_transfers` of the transfers on line `key`, newest first.
    pub(crate) fn on_line(&self, key: &PlanLineKey) -> impl Iterator<Item = u32> + '_ {
        let mut next = self.last.get(key).copied().unwrap_or(NONE);
        std::iter::from_fn(move || {
            (next != NONE).then(|| {
                let i = next;
                next = self.prev[i as usize];
                i
            })
        })
    }

    /// Heap bytes held (the map counted at its capacity).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.last.capacity() * (std::mem::size_of::<(PlanLineKey, u32)>() + 1)
            + self.prev.capacity() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;
    use crate::values::{CountyId, FiscalYear, Fund, Month};

    fn transfer(seq: u64, county: &str, month: u32) -> PlanTransfer {
        PlanTransfer {
            seq,
            county: CountyId::parse(county).unwrap(),
            fund: Fund::General,
            fiscal_year: FiscalYear::new(2021).unwrap(),
            amount: Money::from_cents(seq as i128),
            plan_month: Month::new(2021, month).unwrap(),
            off_plan_reason: None,
        }
    }

    /// What a scan of `transfers` gives for each line, newest first.
    fn scanned(transfers: &[PlanTransfer], key: &PlanLineKey) -> Vec<u32> {
        (0..transfers.len() as u32)
            .rev()
            .filter(|&i| &transfers[i as usize].key() == key)
            .collect()
    }

    #[test]
    fn lines_give_what_a_scan_gives_through_pushes_and_pops() {
        // Three counties, two months: lines with one, two and several transfers,
        // interleaved.
        let ts: Vec<PlanTransfer> = (0..40u64)
            .map(|i| {
                let county = ["c1", "c2", "c3"][(i * 7 % 3) as usize];
                transfer(i + 1, county, 1 + (i % 5 == 0) as u32)
            })
            .collect();
        let keys: Vec<PlanLineKey> = {
            let mut k: Vec<_> = ts.iter().map(PlanTransfer::key).collect();
            k.sort();
            k.dedup();
            k
        };
        assert!(keys.len() >= 4, "several lines");
        let absent = transfer(0, "c9", 3).key();
        let mut built = PlanLines::default();
        for n in 0..=ts.len() {
            // Built at once equals built one by one, and both answer as a scan.
            let at_once = PlanLines::of(&ts[..n]);
            assert_eq!(at_once.prev, built.prev);
            assert_eq!(at_once.last, built.last);
            for k in keys.iter().chain([&absent]) {
                assert_eq!(built.on_line(k).collect::<Vec<_>>(), scanned(&ts[..n], k));
            }
            if n < ts.len() {
                built.pushed(ts[n].key(), n as u32);
            }
        }
        // Undo back to nothing: each pop gives the index of the shorter list.
        for n in (0..ts.len()).rev() {
            built.popped(&ts[n].key(), n as u32);
            assert_eq!(built, PlanLines::of(&ts[..n]), "popped back to {n}");
            for k in &keys {
                assert_eq!(built.on_line(k).collect::<Vec<_>>(), scanned(&ts[..n], k));
            }
        }
        assert!(built.last.is_empty() && built.prev.is_empty());
    }
}
