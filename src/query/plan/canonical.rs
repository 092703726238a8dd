//! The canonical form of a plan (SPEC §4: RFC 8785 for these values) and its hash,
//! `plan_sha256`: canonical JSON written directly from the typed [`Plan`], members in
//! sorted order, instead of through `serde_json::Value` — for 3,000 counties that is
//! most of the plan's cost otherwise.
//!
//! Guarantees: [`canonical_bytes`] equals [`crate::canonical::to_canonical_vec`] of
//! [`hashed_members`]: the plan's serde JSON form without `plan_sha256`, and without
//! `policy` for a v1 plan (asserted by the tests); [`hash_of`] is
//! the SHA-256 of exactly those bytes, streamed into the hasher through a small buffer
//! rather than built whole first.

use super::Plan;
use crate::money::{Money, Ratio};
use crate::values::{Date, PlanningPolicy, Sha256Hex};
use sha2::{Digest, Sha256};

/// SHA-256 of the canonical JSON of the plan's SPEC members without `plan_sha256`
/// (the bytes of [`canonical_bytes`]), streamed into the hasher through a small
/// buffer rather than built whole first.
pub fn hash_of(p: &Plan) -> Sha256Hex {
    let mut h = Sha256::new();
    let mut o = Vec::with_capacity(2 * SPILL_AT);
    write_canonical(p, &mut o, |o| {
        if o.len() >= SPILL_AT {
            h.update(&o[..]);
            o.clear();
        }
    });
    h.update(&o);
    Sha256Hex(h.finalize().into())
}

/// Buffered bytes [`hash_of`] hands to SHA-256 at a time (stays in L1).
const SPILL_AT: usize = 8 * 1024;

/// The canonical JSON (SPEC §4: RFC 8785 for these values) of the plan without its
/// `plan_sha256` member — the bytes `plan_sha256` is taken over.
///
/// Written directly, members in sorted order, instead of through `serde_json::Value`:
/// for 3,000 counties that is most of the plan's cost otherwise. Tests assert that the
/// bytes equal [`crate::canonical::to_canonical_vec`] of the serde JSON form.
pub fn canonical_bytes(p: &Plan) -> Vec<u8> {
    let mut o = Vec::with_capacity(256 + 256 * p.lines.len() + 512 * p.counties.len());
    write_canonical(p, &mut o, |_| {});
    o
}

/// Writes the canonical bytes of `p` into `o`, calling `spill(o)` after each list
/// element so that the caller may drain `o` (see [`hash_of`]).
fn write_canonical(p: &Plan, o: &mut Vec<u8>, mut spill: impl FnMut(&mut Vec<u8>)) {
    o.extend_from_slice(b"{\"based_on_seq\":");
    push_digits(o, p.based_on_seq as u128, 1);
    o.extend_from_slice(b",\"basis_date\":");
    canon_date(o, p.basis_date);
    o.extend_from_slice(b",\"city_available\":");
    canon_money(o, p.city_available);
    o.extend_from_slice(b",\"counties\":[");
    for (i, c) in p.counties.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(b"{\"county\":");
        canon_str(o, c.county.as_str());
        o.extend_from_slice(b",\"emergency_recommended\":");
        canon_money(o, c.emergency_recommended);
        o.extend_from_slice(b",\"expected_revenue\":");
        canon_money(o, c.expected_revenue);
        o.extend_from_slice(b",\"funded_in\":");
        canon_money(o, c.funded_in);
        o.extend_from_slice(b",\"needs\":");
        canon_money(o, c.needs);
        o.extend_from_slice(b",\"opening_cash\":");
        canon_money(o, c.opening_cash);
        o.extend_from_slice(b",\"payroll\":");
        match &c.payroll {
            None => o.extend_from_slice(b"null"),
            Some(pay) => {
                o.extend_from_slice(b"{\"deposit_deadline\":");
                canon_date(o, pay.deposit_deadline);
                o.extend_from_slice(b",\"payday\":");
                canon_date(o, pay.payday);
                o.extend_from_slice(b",\"wage_bill\":");
                canon_money(o, pay.wage_bill);
                o.push(b'}');
            }
        }
        o.extend_from_slice(b",\"projected_end\":");
        canon_money(o, c.projected_end);
        o.extend_from_slice(b",\"projected_level\":");
        match c.projected_level {
            None => o.extend_from_slice(b"null"),
            Some(r) => canon_ratio(o, r),
        }
        o.extend_from_slice(b",\"status\":");
        canon_str(o, c.status.as_str());
        o.push(b'}');
        spill(o);
    }
    o.extend_from_slice(b"],\"lines\":[");
    for (i, l) in p.lines.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(b"{\"county\":");
        canon_str(o, l.county.as_str());
        o.extend_from_slice(b",\"fiscal_year\":");
        push_digits(o, l.fiscal_year.get() as u128, 1);
        o.extend_from_slice(b",\"fund\":");
        canon_str(o, l.fund.as_str());
        o.extend_from_slice(b",\"funded\":");
        canon_money(o, l.funded);
        o.extend_from_slice(b",\"planned\":");
        canon_money(o, l.planned);
        o.extend_from_slice(b",\"shortfall\":");
        canon_money(o, l.shortfall);
        o.push(b'}');
        spill(o);
    }
    o.extend_from_slice(b"],\"month\":");
    canon_str(o, &p.month.to_string());
    // v1 plans hash exactly the SPEC §6.3 members; v2 plans also their policy
    // (docs/planning-policy-v2.md §6), which sorts between `month` and `tiers`.
    if p.policy != PlanningPolicy::V1 {
        o.extend_from_slice(b",\"policy\":");
        canon_str(o, p.policy.as_str());
    }
    o.extend_from_slice(b",\"tiers\":[");
    for (i, t) in p.tiers.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(b"{\"fund\":");
        canon_str(o, t.fund.as_str());
        o.extend_from_slice(b",\"funded\":");
        canon_money(o, t.funded);
        o.extend_from_slice(b",\"planned\":");
        canon_money(o, t.planned);
        o.push(b'}');
    }
    o.extend_from_slice(b"],\"total_funded\":");
    canon_money(o, p.total_funded);
    o.extend_from_slice(b",\"total_planned\":");
    canon_money(o, p.total_planned);
    o.push(b'}');
}

/// A JSON string with JCS escaping (the one escaping of [`crate::canonical`]).
fn canon_str(o: &mut Vec<u8>, s: &str) {
    crate::canonical::push_str(o, s);
}

/// Appends the decimal digits of `n`, zero-padded to at least `width` digits.
fn push_digits(o: &mut Vec<u8>, mut n: u128, width: usize) {
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    // Narrow to u64 as soon as possible: 128-bit division is slow.
    while n > u64::MAX as u128 {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let mut m = n as u64;
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    while buf.len() - i < width {
        i -= 1;
        buf[i] = b'0';
    }
    o.extend_from_slice(&buf[i..]);
}

/// A fixed-point value as a JSON string: optional `-`, integer part, `scale` decimals
/// (`-` only for a value below zero, so never `-0.00`).
fn push_fixed(o: &mut Vec<u8>, v: i128, unit: u64, scale: usize) {
    let a = v.unsigned_abs();
    o.push(b'"');
    if v < 0 {
        o.push(b'-');
    }
    // 128-bit division is slow; every realistic amount fits in 64 bits.
    let (int, frac) = match u64::try_from(a) {
        Ok(a) => ((a / unit) as u128, a % unit),
        Err(_) => (a / unit as u128, (a % unit as u128) as u64),
    };
    push_digits(o, int, 1);
    o.push(b'.');
    push_digits(o, frac as u128, scale);
    o.push(b'"');
}

/// An amount as its SPEC string: two decimals, exactly as `Money`'s `Display`.
fn canon_money(o: &mut Vec<u8>, m: Money) {
    push_fixed(o, m.cents(), 100, 2);
}

/// A ratio as its SPEC string: four decimals, exactly as `Ratio`'s `Display`.
fn canon_ratio(o: &mut Vec<u8>, r: Ratio) {
    push_fixed(o, r.units() as i128, 10_000, 4);
}

/// A date as `"YYYY-MM-DD"`.
fn canon_date(o: &mut Vec<u8>, d: Date) {
    use chrono::Datelike;
    let n = d.naive();
    o.push(b'"');
    push_digits(o, n.year() as u128, 4);
    o.push(b'-');
    push_digits(o, n.month() as u128, 2);
    o.push(b'-');
    push_digits(o, n.day() as u128, 2);
    o.push(b'"');
}

/// The plan's serde JSON form restricted to the members `plan_sha256` covers: every
/// member but `plan_sha256`, and for a v1 plan also without `policy` (SPEC §6.3: a
/// member an implementation adds stays outside the hash). [`canonical_bytes`] is the
/// canonical JSON of exactly this value; auditors' scripts can rebuild it the same way.
pub fn hashed_members(p: &Plan) -> serde_json::Value {
    let mut v = serde_json::to_value(p).expect("a plan serializes");
    let m = v.as_object_mut().expect("a plan is an object");
    m.remove("plan_sha256");
    if p.policy == PlanningPolicy::V1 {
        m.remove("policy");
    }
    v
}

#[cfg(test)]
mod streamed_hash_tests {
    use super::*;
    use crate::bench::workload::{Config, Generator};
    use crate::canonical::to_canonical_vec;
    use crate::query::plan::plan;
    use crate::values::Month;

    #[test]
    fn the_streamed_hash_is_the_hash_of_the_canonical_bytes_of_a_large_plan() {
        // 150 counties, half a year: the canonical bytes span many spill buffers.
        let cfg = Config::new(7, 150);
        let start = Month::new(cfg.start_year, 1).unwrap();
        let events = Generator::new(cfg).until(start.add(7).unwrap());
        let state = crate::bench::fold_unhashed(events.into_iter().map(|g| g.event));
        for m in [start.add(6).unwrap(), start.add(7).unwrap()] {
            let p = plan(&state, m);
            let bytes = canonical_bytes(&p);
            assert!(bytes.len() > 4 * SPILL_AT, "{} bytes", bytes.len());
            assert!(p.lines.len() > 100);
            assert_eq!(p.plan_sha256, Sha256Hex(Sha256::digest(&bytes).into()));
            assert_eq!(bytes, to_canonical_vec(&hashed_members(&p)));
        }
    }
}
