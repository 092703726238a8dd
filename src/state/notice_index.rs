//! [`NoticeIndex`]: the state's `notice_issued` records found by document number and
//! by (county, month), so that checking a new 提示函 does not read every notice ever
//! sent (at ten million events, three scans of ~50,000 notices with string compares
//! were a third of the writer's time and most of its p99).
//!
//! Guarantees: derived only from `State::notices` (rebuilt when a snapshot is read,
//! kept in step by `apply` and `undo`, never written); each lookup gives what a scan
//! of `notices` in seq order gives — the first notice with the number, and the
//! notices of a (county, month) in seq order. Only ever looked up, never iterated, so
//! no output depends on the hash order (fxhash, unkeyed: numbers and ids come from
//! the bureau's own records, and a collision set would only slow lookups).

use super::NoticeEntry;
use crate::values::{CountyId, Month, Text};
use std::collections::HashMap;

type Fx = fxhash::FxBuildHasher;

/// Positions in `State::notices` by document number and by (county, month).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NoticeIndex {
    /// The first notice with each number.
    by_number: HashMap<Text, u32, Fx>,
    /// Every notice of a (county, month), in seq order.
    by_county_month: HashMap<(CountyId, Month), Vec<u32>, Fx>,
}

impl NoticeIndex {
    /// The index of `notices`, built anew.
    pub(crate) fn of(notices: &[NoticeEntry]) -> NoticeIndex {
        let mut x = NoticeIndex::default();
        for (i, n) in notices.iter().enumerate() {
            x.pushed(n, i as u32);
        }
        x
    }

    /// Notes notice `n`, just pushed at position `i`.
    pub(crate) fn pushed(&mut self, n: &NoticeEntry, i: u32) {
        self.by_number.entry(n.doc_number.clone()).or_insert(i);
        self.by_county_month
            .entry((n.county.clone(), n.month))
            .or_default()
            .push(i);
    }

    /// Forgets notice `n`, just popped from position `i` (the last).
    pub(crate) fn popped(&mut self, n: &NoticeEntry, i: u32) {
        if self.by_number.get(&n.doc_number) == Some(&i) {
            self.by_number.remove(&n.doc_number);
        }
        let key = (n.county.clone(), n.month);
        if let Some(v) = self.by_county_month.get_mut(&key) {
            if v.last() == Some(&i) {
                v.pop();
            }
            if v.is_empty() {
                self.by_county_month.remove(&key);
            }
        }
    }

    /// Bytes held on the heap (for [`super::State::footprint`]): the tables'
    /// capacity, the numbers' text and the position lists.
    pub(crate) fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.by_number.capacity() * (size_of::<(Text, u32)>() + 1)
            + self
                .by_number
                .keys()
                .map(|t| t.as_str().len())
                .sum::<usize>()
            + self.by_county_month.capacity() * (size_of::<((CountyId, Month), Vec<u32>)>() + 1)
            + self
                .by_county_month
                .values()
                .map(|v| v.capacity() * 4)
                .sum::<usize>()
    }

    /// The position of the first notice numbered `number`.
    pub(crate) fn by_number(&self, number: &Text) -> Option<usize> {
        self.by_number.get(number).map(|&i| i as usize)
    }

    /// The positions of the notices of `county` for `month`, in seq order.
    pub(crate) fn of_county_month(
        &self,
        county: &CountyId,
        month: Month,
    ) -> impl Iterator<Item = usize> + '_ {
        self.by_county_month
            .get(&(county.clone(), month))
            .into_iter()
            .flatten()
            .map(|&i| i as usize)
    }
}
