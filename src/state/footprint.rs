//! [`State::footprint`]: what the folded state holds on the heap, by part — the
//! figure behind "where the memory goes" at ten million events (BENCHMARKS.md,
//! `sanbao-bench replay-child --data . --mode state --events N` prints it).
//!
//! Guarantees: pure (reads the state, changes nothing); vectors are counted by their
//! capacity (what is allocated, not what is used), ordered maps by their entries'
//! sizes (a lower bound: B-tree nodes add their own slack); allocator overhead is not
//! counted, nor the county index, names and the text inside the city-wide entries:
//! the total is a lower bound, and the parts are where the bulk is. A state read
//! from a snapshot counts, in its per-record table, the buffer its packed chunks sit
//! in (the snapshot's second part, whole). The parts are
//! fixed and in a fixed order, so runs compare line by line.

use super::*;
use std::mem::size_of;

/// Heap bytes of the state by part, in a fixed order (see the module doc for how
/// they are counted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Footprint {
    /// (part, bytes, entries) in a fixed order.
    pub parts: Vec<(&'static str, usize, usize)>,
}

impl Footprint {
    /// The sum of every part's bytes.
    pub fn total(&self) -> usize {
        self.parts.iter().map(|p| p.1).sum()
    }
}

fn vec_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * size_of::<T>()
}

impl State {
    /// What the state holds on the heap, by part (see [`Footprint`]).
    pub fn footprint(&self) -> Footprint {
        let mut parts = Vec::new();
        let mut put =
            |name: &'static str, bytes: usize, entries: usize| parts.push((name, bytes, entries));
        put(
            "per-record reversal table",
            self.targets.heap_bytes()
                + self.wide_amounts.len() * (size_of::<u64>() + size_of::<Money>()),
            self.targets.len(),
        );
        // (bytes, entries) of treasury, wage reserve, outflow, spending by category
        // and revenue day maps, in the order they are put below.
        let mut days = [(0usize, 0usize); 5];
        let (mut funds, mut funds_n) = (0, 0);
        let (mut pay, mut pay_n) = (0, 0);
        let (mut bills, mut bills_n) = (0, 0);
        let (mut needs, mut needs_n) = (0, 0);
        let (mut reports, mut reports_n) = (0, 0);
        let mut other = 0;
        for c in &self.counties {
            let spent = c.spent.iter().map(|m| (3, m));
            let maps = [
                (0, &c.treasury),
                (1, &c.wage_reserve),
                (2, &c.outflow),
                (4, &c.revenue),
            ];
            for (i, m) in maps.into_iter().chain(spent) {
                days[i].0 += m.heap_bytes();
                days[i].1 += m.len();
            }
            for l in c.funds.values() {
                funds += size_of::<((FiscalYear, Fund), FundLedger)>()
                    + vec_bytes(&l.dispatches)
                    + vec_bytes(&l.entitlements)
                    + l.entitlements
                        .iter()
                        .filter_map(|e| e.schedule.as_ref())
                        .map(vec_bytes)
                        .sum::<usize>();
                funds_n += l.dispatches.len() + l.entitlements.len();
            }
            for p in c.payroll.values() {
                pay += size_of::<(Month, PayrollMonth)>() + p.heap_bytes();
                pay_n += 1;
            }
            bills += vec_bytes(&c.wage_bills);
            bills_n += c.wage_bills.len();
            needs += vec_bytes(&c.needs)
                + c.needs
                    .iter()
                    .filter_map(|n| n.schedule.as_ref())
                    .map(vec_bytes)
                    .sum::<usize>();
            needs_n += c.needs.len();
            reports += c.reports.iter().map(vec_bytes).sum::<usize>();
            reports_n += c.reports.iter().map(Vec::len).sum::<usize>();
            other += vec_bytes(&c.risk_lines);
        }
        let names = [
            "treasury day maps",
            "wage reserve day maps",
            "outflow day maps",
            "spending by category day maps",
            "revenue day maps",
        ];
        for (name, (bytes, entries)) in names.into_iter().zip(days) {
            put(name, bytes, entries);
        }
        put("fund ledgers", funds, funds_n);
        put("payroll months", pay, pay_n);
        put("wage bills", bills, bills_n);
        put("needs", needs, needs_n);
        put("reported balances", reports, reports_n);
        put(
            "counties, risk lines",
            // The `Arc`s' pointers, and each county's block (its two counts and
            // the county itself) — counted here even when a copy shares it.
            vec_bytes(&self.counties)
                + self.counties.len() * (2 * size_of::<usize>() + size_of::<County>())
                + other,
            self.counties.len(),
        );
        put("city account", self.city.heap_bytes(), self.city.len());
        put(
            "plan transfers and their lines",
            vec_bytes(&self.plan_transfers) + self.plan_lines.heap_bytes(),
            self.plan_transfers.len(),
        );
        put(
            "plans, notices, requests, policies, proposals",
            vec_bytes(&self.city_risk_lines)
                + vec_bytes(&self.plans_issued)
                + vec_bytes(&self.policies)
                + vec_bytes(&self.notices)
                + self.notice_index.heap_bytes()
                + vec_bytes(&self.proposals)
                + vec_bytes(&self.response_plans)
                + vec_bytes(&self.requests)
                + vec_bytes(&self.approval_limits),
            self.plans_issued.len() + self.notices.len() + self.requests.len(),
        );
        Footprint { parts }
    }
}
