//! [`DayMap`]: money deltas by business date, the building block of balances and
//! dated sums.
//!
//! Guarantees: exact sums (no float, no silent wrap: balances are held in `i64` cents
//! while they fit and the map switches to `i128` for good the moment one would not);
//! no zero deltas are kept, and equality compares the deltas by date whatever the
//! width held (so two maps with the same effect compare equal, which lets tests check
//! that undo restores a state exactly); `total` is O(1), `through` and `between` are
//! O(log n); `min_from(d)` costs O(log n) plus the entries dated after `d`, and adding
//! on or after the latest date is O(1).
//!
//! Layout: two parallel sorted vectors, the distinct dates and the running balance
//! after each date (a prefix sum of the deltas), so a balance is one binary search
//! over 4-byte dates and one load, and a sum over a date range is two. Adding on an
//! earlier date shifts the running balances after it (O(entries after it)): the log
//! is recorded mostly in date order, so that tail is short.

use crate::money::Money;
use crate::values::Date;
use serde::{Deserialize, Serialize};

/// Money deltas by date. As an account, the day-end balance on D is the sum of the
/// deltas dated ≤ D.
#[derive(Clone, Debug, Default)]
pub struct DayMap {
    /// Distinct dates with a non-zero delta, ascending.
    days: Vec<Date>,
    /// `bal[i]` = sum of the deltas dated ≤ `days[i]`; same length as `days`.
    bal: Balances,
    /// Sum of every delta (the last running balance; 0 when empty).
    total: i128,
    /// The running balance before the last entry (0 with fewer than two entries).
    before_last: i128,
    /// The last date held. With `total` and `before_last` it lets an add on or after
    /// the latest date (most adds) only append or overwrite the vectors' tails, never
    /// read them: a fold touching thousands of maps then waits on no cache miss there.
    last: Option<Date>,
}

/// The running balances of a [`DayMap`], narrow while every one fits in `i64`.
#[derive(Clone, Debug)]
enum Balances {
    /// Every running balance fits in `i64` cents (any realistic account).
    Narrow(Vec<i64>),
    /// Some running balance needed more than `i64` at some point.
    Wide(Vec<i128>),
}

impl Default for Balances {
    fn default() -> Balances {
        Balances::Narrow(Vec::new())
    }
}

impl Balances {
    /// Appends a running balance, widening for good if it does not fit in `i64`.
    #[inline]
    fn push(&mut self, b: i128) {
        match self {
            Balances::Narrow(v) => match i64::try_from(b) {
                Ok(n) => v.push(n),
                Err(_) => {
                    self.widen();
                    self.push(b);
                }
            },
            Balances::Wide(v) => v.push(b),
        }
    }

    /// Overwrites the last running balance, widening for good if it does not fit.
    #[inline]
    fn set_last(&mut self, b: i128) {
        match self {
            Balances::Narrow(v) => match i64::try_from(b) {
                Ok(n) => *v.last_mut().expect("an entry") = n,
                Err(_) => {
                    self.widen();
                    self.set_last(b);
                }
            },
            Balances::Wide(v) => *v.last_mut().expect("an entry") = b,
        }
    }

    fn pop(&mut self) {
        match self {
            Balances::Narrow(v) => {
                v.pop();
            }
            Balances::Wide(v) => {
                v.pop();
            }
        }
    }

    /// Switches to `i128` for good.
    fn widen(&mut self) {
        if let Balances::Narrow(v) = self {
            *self = Balances::Wide(v.iter().map(|&b| b as i128).collect());
        }
    }

    #[inline]
    fn get(&self, i: usize) -> i128 {
        match self {
            Balances::Narrow(v) => v[i] as i128,
            Balances::Wide(v) => v[i],
        }
    }

    /// The running balance before entry `i` (zero before the first).
    #[inline]
    fn before(&self, i: usize) -> i128 {
        if i == 0 {
            0
        } else {
            self.get(i - 1)
        }
    }

    /// The lowest running balance among entries `i..`, with its index (the first one
    /// reaching it), if any is strictly below `floor`.
    fn min_below(&self, i: usize, floor: i128) -> Option<(i128, usize)> {
        fn scan<T: Copy + Into<i128>>(v: &[T], i: usize, floor: i128) -> Option<(i128, usize)> {
            let mut best: Option<(i128, usize)> = None;
            let mut min = floor;
            for (j, &b) in v.iter().enumerate().skip(i) {
                let b: i128 = b.into();
                if b < min {
                    min = b;
                    best = Some((b, j));
                }
            }
            best
        }
        match self {
            Balances::Narrow(v) => scan(v, i, floor),
            Balances::Wide(v) => scan(v, i, floor),
        }
    }
}

/// Adds `x` on `d` in one width; `Err(())`, with nothing changed, when a running
/// balance would not fit in `T`.
fn add_in<T>(days: &mut Vec<Date>, bal: &mut Vec<T>, d: Date, x: i128) -> Result<(), ()>
where
    T: Copy + Into<i128> + TryFrom<i128> + PartialEq,
{
    let n = days.len();
    // Fast paths: a new latest date, or the latest date again.
    let (i, found) = match days.last() {
        None => (0, false),
        Some(&last) if last < d => (n, false),
        Some(&last) if last == d => (n - 1, true),
        _ => match days.binary_search(&d) {
            Ok(i) => (i, true),
            Err(i) => (i, false),
        },
    };
    let before: i128 = if i == 0 { 0 } else { bal[i - 1].into() };
    // Every balance from entry i on moves by x; compute them all before changing
    // anything, so that a failure leaves the map as it was.
    let fits = |v: i128| T::try_from(v).ok();
    let new_at_i = if found { bal[i].into() + x } else { before + x };
    let new_at_i_t = fits(new_at_i).ok_or(())?;
    let tail = if found { i + 1 } else { i };
    let shifted: Option<Vec<T>> = bal[tail..].iter().map(|&b| fits(b.into() + x)).collect();
    let shifted = shifted.ok_or(())?;
    if found {
        if new_at_i == before {
            // The day's delta becomes zero: drop the entry.
            days.remove(i);
            bal.remove(i);
        } else {
            bal[i] = new_at_i_t;
        }
    } else {
        days.insert(i, d);
        bal.insert(i, new_at_i_t);
    }
    let start = bal.len() - shifted.len();
    bal[start..].copy_from_slice(&shifted);
    Ok(())
}

/// The length of the prefix of `days` (ascending) whose dates satisfy `pred` (a
/// predicate true on a prefix, like `e <= d`), searched from the end: galloping back
/// 1, 2, 4, … entries, then a binary search. Queries are mostly about recent dates,
/// so this touches a few neighbouring cache lines instead of a binary search's
/// scattered ones; it is O(log n) whatever the date.
#[inline]
fn count_from_end(days: &[Date], pred: impl Fn(Date) -> bool) -> usize {
    let n = days.len();
    if n == 0 || pred(days[n - 1]) {
        return n;
    }
    // days[hi] fails the predicate.
    let (mut hi, mut step) = (n - 1, 1);
    while step <= hi {
        let probe = hi - step;
        if pred(days[probe]) {
            return probe + 1 + days[probe + 1..hi].partition_point(|&e| pred(e));
        }
        hi = probe;
        step *= 2;
    }
    days[..hi].partition_point(|&e| pred(e))
}

impl DayMap {
    /// Adds `x` on date `d` (negative for outflows).
    pub fn add(&mut self, d: Date, x: Money) {
        let x = x.cents();
        if x == 0 {
            return;
        }
        let new = self.total + x;
        match self.last {
            // A new latest date: append (writes only).
            Some(last) if last >= d => {}
            _ => {
                self.bal.push(new);
                self.days.push(d);
                self.before_last = self.total;
                self.total = new;
                self.last = Some(d);
                return;
            }
        }
        if self.last == Some(d) {
            if new != self.before_last {
                // The latest date again: overwrite its balance.
                self.bal.set_last(new);
                self.total = new;
            } else {
                // Its delta nets to zero: drop the entry.
                self.bal.pop();
                self.days.pop();
                self.resync();
            }
            return;
        }
        // An earlier date: insert or update, and shift the balances after it.
        if let Balances::Narrow(v) = &mut self.bal {
            if add_in(&mut self.days, v, d, x).is_err() {
                // A balance would leave i64: widen for good, then add.
                self.bal.widen();
            }
        }
        if let Balances::Wide(v) = &mut self.bal {
            add_in(&mut self.days, v, d, x).expect("i128 balances hold any sum of amounts");
        }
        self.resync();
    }

    /// Recomputes the cached `total`, `before_last` and `last` from the vectors.
    fn resync(&mut self) {
        let n = self.days.len();
        self.total = self.bal.before(n);
        self.before_last = if n == 0 { 0 } else { self.bal.before(n - 1) };
        self.last = self.days.last().copied();
    }

    /// Sum of every delta, whatever its date.
    pub fn total(&self) -> Money {
        Money::from_cents(self.total)
    }

    /// Number of entries dated ≤ `d`.
    #[inline]
    fn upto(&self, d: Date) -> usize {
        count_from_end(&self.days, |e| e <= d)
    }

    /// Sum of the deltas dated ≤ `d` (the day-end balance on `d`).
    pub fn through(&self, d: Date) -> Money {
        Money::from_cents(self.bal.before(self.upto(d)))
    }

    /// Sum of the deltas dated in `from..=to` (zero when `from > to`).
    pub fn between(&self, from: Date, to: Date) -> Money {
        if from > to {
            return Money::ZERO;
        }
        let hi = self.upto(to);
        let lo = count_from_end(&self.days[..hi], |e| e < from);
        Money::from_cents(self.bal.before(hi) - self.bal.before(lo))
    }

    /// The lowest day-end balance on `d` or any later date, with the first date it is
    /// reached.
    pub fn min_from(&self, d: Date) -> (Money, Date) {
        let i = self.upto(d);
        let at_d = self.bal.before(i);
        match self.bal.min_below(i, at_d) {
            Some((min, j)) => (Money::from_cents(min), self.days[j]),
            None => (Money::from_cents(at_d), d),
        }
    }

    /// Number of distinct dates held.
    pub fn len(&self) -> usize {
        self.days.len()
    }

    /// Bytes this map holds on the heap (its vectors' capacity), for
    /// [`State::footprint`](super::State::footprint).
    pub fn heap_bytes(&self) -> usize {
        let bal = match &self.bal {
            Balances::Narrow(v) => v.capacity() * 8,
            Balances::Wide(v) => v.capacity() * 16,
        };
        self.days.capacity() * std::mem::size_of::<Date>() + bal
    }

    /// True when no delta is held.
    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// The deltas by date, ascending (never a zero delta).
    pub fn deltas(&self) -> impl Iterator<Item = (Date, Money)> + '_ {
        (0..self.days.len()).map(move |i| {
            (
                self.days[i],
                Money::from_cents(self.bal.get(i) - self.bal.before(i)),
            )
        })
    }
}

impl PartialEq for DayMap {
    /// Same deltas on the same dates (whatever width the balances are held in).
    fn eq(&self, other: &DayMap) -> bool {
        self.days == other.days
            && match (&self.bal, &other.bal) {
                (Balances::Narrow(a), Balances::Narrow(b)) => a == b,
                (Balances::Wide(a), Balances::Wide(b)) => a == b,
                _ => (0..self.days.len()).all(|i| self.bal.get(i) == other.bal.get(i)),
            }
    }
}

impl Eq for DayMap {}

/// The stored form of a [`DayMap`] (snapshots): one byte string, decoded by a tight
/// loop (serde's element by element decoding of the ~16M dates and balances of ten
/// million records was a quarter of `serve`'s start). Layout: a width byte (0: `i64`
/// balances, 1: `i128`), the dates as `i32` days, then the running balances, all
/// little-endian. The cached figures are recomputed when reading.
impl Serialize for DayMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.days.len();
        let wide = matches!(self.bal, Balances::Wide(_));
        let mut b = Vec::with_capacity(1 + n * 4 + n * if wide { 16 } else { 8 });
        b.push(wide as u8);
        for d in &self.days {
            b.extend_from_slice(&d.to_days().to_le_bytes());
        }
        match &self.bal {
            Balances::Narrow(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
            Balances::Wide(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        }
        s.serialize_bytes(&b)
    }
}

impl<'de> Deserialize<'de> for DayMap {
    /// Reads a stored map, refusing one that breaks the invariants (dates real and
    /// strictly ascending, one balance per date, no zero delta).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DayMap, D::Error> {
        d.deserialize_bytes(PackedVisitor)
    }
}

/// Running balances of `N` bytes each from `bytes`; `None` when one equals the one
/// before it (or the first is zero): a zero delta, which a map never holds.
fn running<T: Copy + PartialEq + Default, const N: usize>(
    bytes: &[u8],
    from_le: fn([u8; N]) -> T,
) -> Option<Vec<T>> {
    let mut v = Vec::with_capacity(bytes.len() / N);
    let mut before = T::default();
    for c in bytes.chunks_exact(N) {
        let x = from_le(c.try_into().expect("N bytes"));
        if x == before {
            return None;
        }
        before = x;
        v.push(x);
    }
    Some(v)
}

/// Decodes [`DayMap`]'s stored bytes.
struct PackedVisitor;

impl<'de> serde::de::Visitor<'de> for PackedVisitor {
    type Value = DayMap;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a packed day map")
    }

    fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<DayMap, E> {
        let (&width, rest) = b.split_first().ok_or_else(|| E::custom("day map: empty"))?;
        let bal_width = match width {
            0 => 8,
            1 => 16,
            _ => return Err(E::custom("day map: unknown width")),
        };
        if rest.len() % (4 + bal_width) != 0 {
            return Err(E::custom("day map: dates and balances do not pair"));
        }
        let n = rest.len() / (4 + bal_width);
        let (dates, bals) = rest.split_at(n * 4);
        let mut days = Vec::with_capacity(n);
        let mut prev = i32::MIN;
        for c in dates.chunks_exact(4) {
            let x = i32::from_le_bytes(c.try_into().expect("4 bytes"));
            if days.last().is_some() && x <= prev {
                return Err(E::custom("day map: dates not ascending"));
            }
            prev = x;
            days.push(Date::from_days(x).ok_or_else(|| E::custom("day map: bad date"))?);
        }
        let zero = || E::custom("day map: a zero delta is held");
        let bal = if width == 0 {
            Balances::Narrow(running(bals, i64::from_le_bytes).ok_or_else(zero)?)
        } else {
            Balances::Wide(running(bals, i128::from_le_bytes).ok_or_else(zero)?)
        };
        let mut m = DayMap {
            days,
            bal,
            ..DayMap::default()
        };
        m.resync();
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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
        assert_eq!(
            m.deltas().collect::<Vec<_>>(),
            vec![
                (d("2021-01-01"), Money::from_cents(100)),
                (d("2021-01-20"), Money::from_cents(50))
            ]
        );
    }

    /// The map it replaces, as the reference: deltas in a `BTreeMap`, summed on demand.
    #[derive(Default)]
    struct Model(BTreeMap<Date, i128>);

    impl Model {
        fn add(&mut self, d: Date, x: i128) {
            if x == 0 {
                return;
            }
            let e = self.0.entry(d).or_insert(0);
            *e += x;
            if *e == 0 {
                self.0.remove(&d);
            }
        }
        fn through(&self, d: Date) -> i128 {
            self.0.range(..=d).map(|(_, x)| x).sum()
        }
        fn between(&self, a: Date, b: Date) -> i128 {
            if a > b {
                0
            } else {
                self.0.range(a..=b).map(|(_, x)| x).sum()
            }
        }
        fn min_from(&self, d: Date) -> (i128, Date) {
            let mut bal = self.through(d);
            let (mut min, mut at) = (bal, d);
            for (day, x) in self.0.range(d..).filter(|(day, _)| **day > d) {
                bal += x;
                if bal < min {
                    min = bal;
                    at = *day;
                }
            }
            (min, at)
        }
    }

    use crate::bench::workload::Rng;

    fn check_against(m: &DayMap, model: &Model, rng: &mut Rng, base: Date) {
        assert_eq!(m.len(), model.0.len());
        assert_eq!(m.total().cents(), model.0.values().sum::<i128>());
        assert_eq!(
            m.deltas().map(|(d, x)| (d, x.cents())).collect::<Vec<_>>(),
            model.0.iter().map(|(d, x)| (*d, *x)).collect::<Vec<_>>()
        );
        for _ in 0..20 {
            let a = base.add_days(rng.below(80) as i64 - 5);
            let b = base.add_days(rng.below(80) as i64 - 5);
            assert_eq!(m.through(a).cents(), model.through(a), "through {a}");
            assert_eq!(m.between(a, b).cents(), model.between(a, b), "{a}..={b}");
            let (low, at) = m.min_from(a);
            assert_eq!((low.cents(), at), model.min_from(a), "min_from {a}");
        }
    }

    #[test]
    fn agrees_with_a_btreemap_of_deltas_in_any_order_and_any_size() {
        let base = d("2021-03-01");
        for seed in 1..=40u64 {
            let mut rng = Rng::new(seed);
            let mut m = DayMap::default();
            let mut model = Model::default();
            for step in 0..300 {
                // Mostly recent dates, sometimes back-dated; small amounts, and for some
                // seeds amounts near i64's end so the map must widen.
                let day = if rng.below(4) == 0 {
                    rng.below(70) as i64
                } else {
                    60 + (step / 30) as i64 + rng.below(3) as i64
                };
                let big = seed % 5 == 0 && rng.below(10) == 0;
                let mag = if big {
                    i64::MAX as i128 / 3 + rng.below(1000) as i128
                } else {
                    rng.below(2000) as i128
                };
                let mut x = if rng.below(3) == 0 { -mag } else { mag };
                let mut dd = base.add_days(day);
                if rng.below(6) == 0 && !model.0.is_empty() {
                    // Cancel one day's delta exactly (often the latest day's): the
                    // entry must go.
                    let k = if rng.below(2) == 0 {
                        model.0.len() - 1
                    } else {
                        rng.below(model.0.len() as u64) as usize
                    };
                    let (&day, &delta) = model.0.iter().nth(k).expect("an entry");
                    (dd, x) = (day, -delta);
                }
                m.add(dd, Money::from_cents(x));
                model.add(dd, x);
                if step % 37 == 0 {
                    check_against(&m, &model, &mut rng, base);
                }
            }
            check_against(&m, &model, &mut rng, base);
        }
    }

    #[test]
    fn searching_from_the_end_agrees_with_a_binary_search() {
        let base = d("2021-01-01");
        for n in 0..70usize {
            // Every other day, so there are dates between and around the entries.
            let days: Vec<Date> = (0..n).map(|i| base.add_days(2 * i as i64)).collect();
            for k in -2..(2 * n as i64 + 2) {
                let q = base.add_days(k);
                assert_eq!(
                    count_from_end(&days, |e| e <= q),
                    days.partition_point(|&e| e <= q),
                    "n={n} k={k}"
                );
                assert_eq!(
                    count_from_end(&days, |e| e < q),
                    days.partition_point(|&e| e < q),
                    "n={n} k={k}"
                );
            }
        }
    }

    #[test]
    fn balances_beyond_i64_stay_exact_and_equality_ignores_the_width() {
        let big = Money::from_cents(i64::MAX as i128);
        let mut m = DayMap::default();
        m.add(d("2021-01-01"), Money::from_cents(5));
        let before = m.clone();
        m.add(d("2021-01-02"), big);
        m.add(d("2021-01-03"), big);
        assert_eq!(m.total().cents(), 2 * i64::MAX as i128 + 5);
        assert_eq!(
            m.between(d("2021-01-02"), d("2021-01-03")).cents(),
            2 * i64::MAX as i128
        );
        // A back-dated delta shifts the wide balances after it exactly.
        m.add(d("2020-12-31"), Money::from_cents(-7));
        assert_eq!(m.through(d("2021-01-02")).cents(), i64::MAX as i128 - 2);
        assert_eq!(
            m.min_from(d("2020-12-31")),
            (Money::from_cents(-7), d("2020-12-31"))
        );
        // Taking every delta back gives a map equal to the narrow one it was.
        m.add(d("2020-12-31"), Money::from_cents(7));
        m.add(d("2021-01-03"), -big);
        m.add(d("2021-01-02"), -big);
        assert!(matches!(m.bal, Balances::Wide(_)));
        assert_eq!(m, before);
        assert_ne!(m, DayMap::default());
        // Negative balances beyond i64 too.
        let mut n = DayMap::default();
        n.add(d("2021-01-01"), -big);
        n.add(d("2021-01-01"), Money::from_cents(-2));
        assert_eq!(n.total().cents(), -(i64::MAX as i128) - 2);
        assert_eq!(n.len(), 1);
    }

    /// A byte string for serde (not a sequence of `u8`).
    struct BytesOf<'a>(&'a [u8]);

    impl Serialize for BytesOf<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    fn serde_bytes_of(b: &[u8]) -> BytesOf<'_> {
        BytesOf(b)
    }

    #[test]
    fn a_stored_map_round_trips_and_a_broken_one_is_refused() {
        use bincode::Options;
        let codec = || {
            bincode::options()
                .with_fixint_encoding()
                .with_little_endian()
                .reject_trailing_bytes()
        };
        let mut m = DayMap::default();
        m.add(d("2021-01-03"), Money::from_cents(5));
        m.add(d("2021-01-01"), Money::from_cents(-2));
        let back: DayMap = codec()
            .deserialize(&codec().serialize(&m).unwrap())
            .unwrap();
        assert_eq!(back, m);
        assert_eq!(
            (back.total, back.before_last, back.last),
            (3, -2, Some(d("2021-01-03")))
        );
        // The stored form: a width byte, the dates as days, then the balances.
        let stored = |days: Vec<Date>, bal: Balances| {
            let mut b = vec![matches!(bal, Balances::Wide(_)) as u8];
            days.iter()
                .for_each(|d| b.extend_from_slice(&d.to_days().to_le_bytes()));
            match bal {
                Balances::Narrow(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
                Balances::Wide(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
            }
            codec().serialize(&serde_bytes_of(&b)).unwrap()
        };
        let read = |b: Vec<u8>| codec().deserialize::<DayMap>(&b).map_err(|e| e.to_string());
        assert_eq!(
            stored(m.days.clone(), m.bal.clone()),
            codec().serialize(&m).unwrap()
        );
        let (a, b) = (d("2021-01-01"), d("2021-01-02"));
        let err = read(stored(vec![b, a], Balances::Narrow(vec![5, 7]))).unwrap_err();
        assert!(err.contains("not ascending"), "{err}");
        let err = read(stored(vec![a, a], Balances::Narrow(vec![5, 7]))).unwrap_err();
        assert!(err.contains("not ascending"), "{err}");
        let err = read(stored(vec![a, b], Balances::Narrow(vec![5, 5]))).unwrap_err();
        assert!(err.contains("zero delta"), "{err}");
        let err = read(stored(vec![a], Balances::Narrow(vec![0]))).unwrap_err();
        assert!(err.contains("zero delta"), "{err}");
        let err = read(stored(vec![a, b], Balances::Wide(vec![5]))).unwrap_err();
        assert!(err.contains("do not pair"), "{err}");
        let mut bad = stored(vec![a], Balances::Narrow(vec![5]));
        let at = bad.len() - 12;
        bad[at..at + 4].copy_from_slice(&i32::MAX.to_le_bytes());
        assert!(read(bad).unwrap_err().contains("bad date"));
        assert_eq!(
            read(stored(vec![], Balances::Narrow(vec![]))).unwrap(),
            DayMap::default()
        );
        let ok = read(stored(vec![a, b], Balances::Wide(vec![5, 7]))).unwrap();
        assert_eq!(ok.through(a), Money::from_cents(5));
        assert_eq!(ok.total(), Money::from_cents(7));
    }

    #[test]
    fn a_failed_narrow_add_changes_nothing_before_widening() {
        // The overflow is found on a shifted balance after the insertion point: the
        // narrow vectors must be untouched when the map widens.
        let mut m = DayMap::default();
        m.add(d("2021-01-05"), Money::from_cents(i64::MAX as i128 - 1));
        m.add(d("2021-01-01"), Money::from_cents(10));
        assert_eq!(m.through(d("2021-01-01")).cents(), 10);
        assert_eq!(m.through(d("2021-01-05")).cents(), i64::MAX as i128 + 9);
        assert_eq!(
            m.deltas().map(|(_, x)| x.cents()).collect::<Vec<_>>(),
            vec![10, i64::MAX as i128 - 1]
        );
    }
}
