//! The per-record reversal table (one `Option<Slot>` per record) as a snapshot
//! stores it: packed bytes that one tight loop reads, instead of ten million serde
//! calls (at ten million records the table was 60 % of a snapshot and most of
//! `serve`'s start; BENCHMARKS.md "Session 17"). A table read back keeps these bytes
//! and decodes a slot when it is asked for (`slot_table.rs`'s `Packed`).
//!
//! Format, inside the snapshot's bincode: the number of slots (`u64`), then a
//! sequence of byte strings, one per chunk of the table (every one but the last of
//! [`CHUNK`] slots, `slot_table.rs`). A slot is one byte `0`
//! when the record has no target, else its effect's tag (1–12) and 27 bytes, all
//! little-endian: amount `i64` · date `i32` (days) · reversed on `i32` (days;
//! `i32::MIN` when not reversed) · county `u32` · `u32` (an index, a month as
//! `year × 12 + month − 1`, or a category) · fiscal year `u16` · fund `u8`. Members an
//! effect does not have are zero.
//!
//! Guarantees: reading gives back exactly the slots encoded, and encoding what was
//! read gives the same bytes (members an effect lacks must be zero, dates and
//! months real, tags and funds known); anything else — a short or overlong chunk, a
//! count that disagrees — is an error, never a panic. Every slot is decoded and
//! checked when the table is read ([`StoredTable::into_table`]), so that a packed
//! chunk decodes again later without fail.

use super::evolve::{Effect, Slot};
use super::slot_table::{ChunkRef, Packed, SlotTable, CHUNK};
use crate::values::{Date, ExpenditureCategory, FiscalYear, Fund, Month};
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Deserializer, Serialize, Serializer};
use std::sync::Arc;

/// Bytes after the tag of a slot that holds a target.
const BODY: usize = 27;

/// `reversed_on` of a slot not reversed.
const NOT_REVERSED: i32 = i32::MIN;

/// A borrowed table, serialized packed.
pub(super) struct PackedSlots<'a>(pub(super) &'a SlotTable);

impl Serialize for PackedSlots<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&(self.0.len() as u64))?;
        t.serialize_element(&Chunks(self.0))?;
        t.end()
    }
}

/// The chunks of [`PackedSlots`].
struct Chunks<'a>(&'a SlotTable);

impl Serialize for Chunks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.chunks().len()))?;
        let mut buf = Vec::with_capacity(CHUNK * (1 + BODY));
        for chunk in self.0.chunks() {
            match chunk {
                // Kept as read: the bytes encoding its slots would give again.
                ChunkRef::Packed(b) => seq.serialize_element(&Bytes(b))?,
                ChunkRef::Slots(slots) => {
                    buf.clear();
                    for slot in slots {
                        encode(slot, &mut buf);
                    }
                    seq.serialize_element(&Bytes(&buf))?;
                }
            }
        }
        seq.end()
    }
}

/// A byte string (serde's `bytes`, not a sequence of `u8`).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// The tag, county, `u32` member and ledger key of an effect.
fn parts(e: &Effect) -> (u8, u32, u32, Option<(FiscalYear, Fund)>) {
    match *e {
        Effect::CityFunds => (1, 0, 0, None),
        Effect::Allocation { county, key, idx } => (2, county, idx, Some(key)),
        Effect::Transfer { county, key, idx } => (3, county, idx, Some(key)),
        Effect::Grant { county } => (4, county, 0, None),
        Effect::Advance { county, key, idx } => (5, county, idx, Some(key)),
        Effect::Deposit { county, month } => (6, county, month_number(month), None),
        Effect::WagesPaid { county, month } => (7, county, month_number(month), None),
        Effect::Revenue { county } => (8, county, 0, None),
        Effect::Expenditure { county, category } => (9, county, category_number(category), None),
        Effect::Needs { county, idx } => (10, county, idx, None),
        Effect::Notice { idx } => (11, 0, idx, None),
        Effect::Request { idx } => (12, 0, idx, None),
    }
}

fn month_number(m: Month) -> u32 {
    m.year() as u32 * 12 + m.number() - 1
}

fn category_number(c: ExpenditureCategory) -> u32 {
    match c {
        ExpenditureCategory::Livelihood => 0,
        ExpenditureCategory::Operations => 1,
        ExpenditureCategory::DebtService => 2,
        ExpenditureCategory::Other => 3,
    }
}

fn fund_number(f: Fund) -> u8 {
    match f {
        Fund::General => 0,
        Fund::PreNotified => 1,
        Fund::InExecution => 2,
        Fund::Direct => 3,
    }
}

/// Appends one slot's bytes.
fn encode(slot: &Option<Slot>, out: &mut Vec<u8>) {
    let Some(s) = slot else {
        out.push(0);
        return;
    };
    let (tag, county, n, key) = parts(&s.effect);
    out.push(tag);
    out.extend_from_slice(&s.amount.to_le_bytes());
    out.extend_from_slice(&s.date.to_days().to_le_bytes());
    let reversed = s.reversed_on.map_or(NOT_REVERSED, Date::to_days);
    out.extend_from_slice(&reversed.to_le_bytes());
    out.extend_from_slice(&county.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    let (year, fund) = key.map_or((0, 0), |(y, f)| (y.get() as u16, fund_number(f)));
    out.extend_from_slice(&year.to_le_bytes());
    out.push(fund);
}

/// Bytes of a slot whose first byte is `tag`.
#[inline]
pub(super) fn width(tag: u8) -> usize {
    if tag == 0 {
        1
    } else {
        1 + BODY
    }
}

/// The slot whose bytes begin at `b[at]`, and where the next one begins.
#[inline(always)]
pub(super) fn slot_at(b: &[u8], at: usize) -> Result<(Option<Slot>, usize), String> {
    let Some(&tag) = b.get(at) else {
        return Err(
            "packed slots: chunks not as written: one holds fewer slots than the count gives it"
                .into(),
        );
    };
    if tag == 0 {
        return Ok((None, at + 1));
    }
    let f: &[u8; BODY] = b
        .get(at + 1..at + 1 + BODY)
        .and_then(|s| s.try_into().ok())
        .ok_or("packed slots: a chunk ends inside a slot")?;
    Ok((Some(decode_slot(tag, f)?), at + 1 + BODY))
}

#[inline(always)]
fn decode_slot(tag: u8, f: &[u8; BODY]) -> Result<Slot, String> {
    let le4 = |i: usize| [f[i], f[i + 1], f[i + 2], f[i + 3]];
    let amount = i64::from_le_bytes(f[..8].try_into().expect("8 bytes"));
    let date = Date::from_days(i32::from_le_bytes(le4(8))).ok_or("packed slots: bad date")?;
    let reversed_on = match i32::from_le_bytes(le4(12)) {
        NOT_REVERSED => None,
        d => Some(Date::from_days(d).ok_or("packed slots: bad reversal date")?),
    };
    let county = u32::from_le_bytes(le4(16));
    let n = u32::from_le_bytes(le4(20));
    let year = u16::from_le_bytes([f[24], f[25]]);
    let fund = f[26];
    let key = || -> Result<(FiscalYear, Fund), String> {
        let y = FiscalYear::new(year as i32).ok_or("packed slots: bad fiscal year")?;
        let fund = *Fund::ALL
            .get(fund as usize)
            .ok_or("packed slots: unknown fund")?;
        Ok((y, fund))
    };
    let month = || {
        Month::new((n / 12) as i32, n % 12 + 1).ok_or_else(|| "packed slots: bad month".to_string())
    };
    let effect = match tag {
        1 => Effect::CityFunds,
        2 => Effect::Allocation {
            county,
            key: key()?,
            idx: n,
        },
        3 => Effect::Transfer {
            county,
            key: key()?,
            idx: n,
        },
        4 => Effect::Grant { county },
        5 => Effect::Advance {
            county,
            key: key()?,
            idx: n,
        },
        6 => Effect::Deposit {
            county,
            month: month()?,
        },
        7 => Effect::WagesPaid {
            county,
            month: month()?,
        },
        8 => Effect::Revenue { county },
        9 => Effect::Expenditure {
            county,
            category: match n {
                0 => ExpenditureCategory::Livelihood,
                1 => ExpenditureCategory::Operations,
                2 => ExpenditureCategory::DebtService,
                3 => ExpenditureCategory::Other,
                _ => return Err("packed slots: unknown category".into()),
            },
        },
        10 => Effect::Needs { county, idx: n },
        11 => Effect::Notice { idx: n },
        12 => Effect::Request { idx: n },
        _ => return Err(format!("packed slots: unknown tag {tag}")),
    };
    let slot = Slot {
        amount,
        date,
        reversed_on,
        effect,
    };
    // Members the effect does not have must be zero: one encoding per slot.
    let (_, c, m, k) = parts(&slot.effect);
    if (c, m) != (county, n) || (k.is_none() && (year, fund) != (0, 0)) {
        return Err("packed slots: a member the effect lacks is not zero".into());
    }
    Ok(slot)
}

/// [`PackedSlots`] as read: the count and where each chunk's bytes lie in the buffer
/// read (their addresses: bincode lends them from it). Not a table yet —
/// [`StoredTable::into_table`] checks every slot first.
#[derive(Debug)]
pub(super) struct StoredTable {
    count: u64,
    chunks: Vec<(usize, usize)>,
}

impl StoredTable {
    /// The table, its chunks kept packed in `buf` — the buffer this was read from,
    /// as a slice, by bincode — once every slot decodes and `check` accepts each that
    /// holds a target (given its index in the table: seq − 1), with how many of them
    /// `check` answered `true` for. The chunks are checked on two threads (a chunk's
    /// slots in order; the first chunk that fails names the error). An error when a
    /// chunk does not lie in `buf`, the chunks are not cut as written, they hold other
    /// than the count's slots, a slot does not decode, or `check` refuses one (its
    /// refusal answered as it is).
    pub(super) fn into_table(
        self,
        buf: &Arc<Vec<u8>>,
        check: impl Fn(usize, &Slot) -> Result<bool, String> + Sync,
    ) -> Result<(SlotTable, usize), String> {
        let count = usize::try_from(self.count).map_err(|_| "packed slots: too many")?;
        if self.chunks.len() != count.div_ceil(CHUNK) {
            return Err(format!(
                "packed slots: chunks not as written: {} for {count} slots",
                self.chunks.len()
            ));
        }
        let base = buf.as_ptr() as usize;
        let one = |k: usize| -> Result<(Packed, usize), String> {
            let (addr, len) = self.chunks[k];
            let start = addr
                .checked_sub(base)
                .filter(|s| s.checked_add(len).is_some_and(|e| e <= buf.len()))
                .ok_or("packed slots: a chunk not read from the buffer given")?;
            let first = k * CHUNK;
            let slots = (count - first).min(CHUNK);
            // A refusal of `check` is answered as it is; the bytes' own faults
            // with the count they were read against.
            let (mut refused, mut marked) = (None, 0);
            let p = Packed::new(buf.clone(), start, start + len, slots, |i, s| {
                match check(first + i, s) {
                    Ok(m) => {
                        marked += m as usize;
                        Ok(())
                    }
                    Err(e) => {
                        refused = Some(e);
                        Err(String::new())
                    }
                }
            });
            match (p, refused) {
                (Ok(p), _) => Ok((p, marked)),
                (Err(_), Some(why)) => Err(why),
                (Err(e), None) => Err(format!("{e} (the count says {count})")),
            }
        };
        let n = self.chunks.len();
        let half = n.div_ceil(2);
        let (front, back) = std::thread::scope(|s| {
            let back = s.spawn(|| (half..n).map(one).collect::<Result<Vec<_>, _>>());
            let front = (0..half).map(one).collect::<Result<Vec<_>, _>>();
            (front, back.join().expect("checking slots does not panic"))
        });
        let mut marked = 0;
        let mut packed = Vec::with_capacity(n);
        for (p, m) in front?.into_iter().chain(back?) {
            packed.push(p);
            marked += m;
        }
        let table = SlotTable::from_packed(packed)
            .ok_or_else(|| "packed slots: chunks not as written".to_string())?;
        Ok((table, marked))
    }
}

/// Reads [`PackedSlots`] back as a [`StoredTable`] (from a slice: the chunks' bytes
/// must be lent from the input).
pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<StoredTable, D::Error> {
    d.deserialize_tuple(2, TableVisitor)
}

struct TableVisitor;

impl<'de> Visitor<'de> for TableVisitor {
    type Value = StoredTable;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("packed record slots")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let count: u64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("packed slots: no count"))?;
        let chunks = seq
            .next_element_seed(ChunksSeed)?
            .ok_or_else(|| de::Error::custom("packed slots: no chunks"))?;
        Ok(StoredTable { count, chunks })
    }
}

/// The sequence of chunks: where each lies (an entry per chunk read, each of at
/// least 9 bytes read, so what is allocated stays within a small multiple of the
/// bytes read, whatever a damaged count says).
struct ChunksSeed;

impl<'de> DeserializeSeed<'de> for ChunksSeed {
    type Value = Vec<(usize, usize)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ChunksSeed {
    type Value = Vec<(usize, usize)>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("chunks of packed record slots")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut chunks = Vec::new();
        while let Some(c) = seq.next_element_seed(ChunkSeed)? {
            chunks.push(c);
        }
        Ok(chunks)
    }
}

/// One chunk: where its bytes lie.
struct ChunkSeed;

impl<'de> DeserializeSeed<'de> for ChunkSeed {
    type Value = (usize, usize);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for ChunkSeed {
    type Value = (usize, usize);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a chunk of packed record slots, lent from the input")
    }

    // Only lent bytes: their address is where they lie in the buffer read.
    fn visit_borrowed_bytes<E: de::Error>(self, b: &'de [u8]) -> Result<Self::Value, E> {
        if b.is_empty() {
            return Err(E::custom("packed slots: chunks not as written"));
        }
        if b.len() > CHUNK * (1 + BODY) {
            return Err(E::custom("packed slots: an overlong chunk"));
        }
        Ok((b.as_ptr() as usize, b.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bincode::Options;

    fn codec() -> impl Options {
        bincode::options()
            .with_fixint_encoding()
            .with_little_endian()
            .reject_trailing_bytes()
    }

    /// Wraps the table so that bincode reads it through [`deserialize`].
    #[derive(serde::Deserialize)]
    struct Table(#[serde(deserialize_with = "super::deserialize")] StoredTable);

    fn encode(slots: &[Option<Slot>]) -> Vec<u8> {
        let mut t = SlotTable::default();
        slots.iter().for_each(|s| t.push(*s));
        codec().serialize(&PackedSlots(&t)).expect("encodes")
    }

    /// Reads `b` as a snapshot does (chunks kept packed in the buffer read), with
    /// `check` as the reader's; the table and what it writes again.
    fn read_with(
        b: &[u8],
        check: impl Fn(usize, &Slot) -> Result<bool, String> + Sync,
    ) -> Result<(SlotTable, Vec<u8>), String> {
        let buf = Arc::new(b.to_vec());
        let stored = codec()
            .deserialize::<Table>(&buf[..])
            .map_err(|e| e.to_string())?;
        let (t, _) = stored.0.into_table(&buf, check)?;
        let again = codec().serialize(&PackedSlots(&t)).expect("encodes");
        Ok((t, again))
    }

    fn decode(b: &[u8]) -> Result<Vec<Option<Slot>>, String> {
        let (t, again) = read_with(b, |_, _| Ok(false))?;
        assert_eq!(again, b, "a table read writes back its bytes as read");
        // And its slots, encoded anew, give the same bytes (one encoding).
        let anew = codec().serialize(&PackedSlots(&t.decoded())).unwrap();
        assert_eq!(anew, b, "slots encoded anew");
        Ok(t.iter().collect())
    }

    fn every_effect() -> Vec<Effect> {
        let key = (FiscalYear::new(2021).unwrap(), Fund::InExecution);
        let month = Month::new(2099, 12).unwrap();
        vec![
            Effect::CityFunds,
            Effect::Allocation {
                county: 7,
                key,
                idx: u32::MAX,
            },
            Effect::Transfer {
                county: u32::MAX,
                key: (FiscalYear::new(2000).unwrap(), Fund::General),
                idx: 0,
            },
            Effect::Grant { county: 3 },
            Effect::Advance {
                county: 1,
                key: (FiscalYear::new(2099).unwrap(), Fund::Direct),
                idx: 9,
            },
            Effect::Deposit {
                county: 2,
                month: Month::new(2000, 1).unwrap(),
            },
            Effect::WagesPaid { county: 2, month },
            Effect::Revenue { county: 0 },
            Effect::Expenditure {
                county: 4,
                category: ExpenditureCategory::DebtService,
            },
            Effect::Expenditure {
                county: 4,
                category: ExpenditureCategory::Other,
            },
            Effect::Needs { county: 5, idx: 6 },
            Effect::Notice { idx: 11 },
            Effect::Request { idx: 12 },
        ]
    }

    fn slots(n: usize) -> Vec<Option<Slot>> {
        let effects = every_effect();
        let d = |s: &str| Date::parse(s).unwrap();
        (0..n)
            .map(|i| {
                (i % 5 != 0).then(|| Slot {
                    amount: [1, -1, i64::MAX, super::super::evolve::WIDE, 0, 123_456][i % 6],
                    date: [d("2000-01-01"), d("2099-12-31"), d("2021-06-30")][i % 3],
                    reversed_on: (i % 2 == 0).then(|| d("2022-02-28")),
                    effect: effects[i % effects.len()],
                })
            })
            .collect()
    }

    #[test]
    fn every_effect_round_trips_across_chunk_edges() {
        for n in [0, 1, 13, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 7] {
            let s = slots(n);
            let bytes = encode(&s);
            let back = decode(&bytes).expect("decodes");
            assert_eq!(back, s, "{n} slots");
            assert_eq!(encode(&back), bytes, "one encoding");
        }
    }

    #[test]
    fn a_table_read_answers_as_its_slots_and_decodes_a_chunk_only_when_written() {
        let n = 2 * CHUNK + 100;
        let s = slots(n);
        let bytes = encode(&s);
        // The reader's check sees every target once, in order, with its index.
        let seen = std::sync::Mutex::new(Vec::new());
        let (t, _) = read_with(&bytes, |i, slot| {
            seen.lock().unwrap().push((i, *slot));
            Ok(false)
        })
        .expect("reads");
        let mut seen = seen.into_inner().unwrap();
        seen.sort_by_key(|x| x.0);
        let targets: Vec<(usize, Slot)> = s
            .iter()
            .enumerate()
            .filter_map(|(i, x)| x.map(|x| (i, x)))
            .collect();
        assert_eq!(seen, targets, "each target once");
        assert!((0..3).all(|k| t.is_packed(k)), "kept packed");
        // Its heap: the one buffer its chunks share, counted once, and their marks.
        let held = t.heap_bytes();
        assert!(
            held >= bytes.len() && held < bytes.len() + 64 * 1024,
            "{held}"
        );
        // Every slot asked for one by one (from its mark), and past the end.
        for (i, x) in s.iter().enumerate() {
            assert_eq!(t.get(i), Some(*x), "slot {i}");
        }
        assert_eq!(t.get(n), None);
        assert!(t.iter().eq(s.iter().copied()));
        // Writing into a slot decodes its chunk alone, in the copy that writes.
        let mut w = t.clone();
        let i = CHUNK + 5;
        let on = Date::parse("2030-03-03").unwrap();
        w.get_mut(i).as_mut().expect("a target").reversed_on = Some(on);
        assert!(w.is_packed(0) && !w.is_packed(1) && w.is_packed(2));
        assert!(t.is_packed(1), "the original keeps its packed chunk");
        // Appending decodes the last chunk; shortening into a packed chunk decodes it.
        w.push(None);
        assert!(!w.is_packed(2) && w.is_packed(0));
        let mut want = s.clone();
        want[i].as_mut().unwrap().reversed_on = Some(on);
        want.push(None);
        assert!(w.iter().eq(want.iter().copied()));
        assert_ne!(w, t);
        // Written again, packed and decoded chunks alike: the bytes of its slots.
        assert_eq!(codec().serialize(&PackedSlots(&w)).unwrap(), encode(&want));
        let mut cut = t.clone();
        cut.truncate(CHUNK + 7);
        assert!(cut.is_packed(0) && !cut.is_packed(1));
        assert!(cut.iter().eq(s[..CHUNK + 7].iter().copied()));
        // Shortened to a chunk's edge, the chunks before it stay packed; to nothing,
        // none is left; grown again with empty slots, it is those slots.
        for edge in [CHUNK, 0] {
            let mut cut = t.clone();
            cut.truncate(edge);
            assert_eq!(cut.len(), edge);
            assert_eq!(
                cut.chunks().len(),
                edge / CHUNK,
                "no chunk left past {edge}"
            );
            assert!((0..edge / CHUNK).all(|k| cut.is_packed(k)));
            assert!(cut.iter().eq(s[..edge].iter().copied()));
            cut.grow_to(edge + 3);
            let mut want = s[..edge].to_vec();
            want.extend([None; 3]);
            assert!(cut.iter().eq(want.iter().copied()), "grown from {edge}");
        }
        // A full packed last chunk: appending begins a new chunk and leaves it packed.
        let (mut full, _) = read_with(&encode(&s[..CHUNK]), |_, _| Ok(false)).unwrap();
        full.push(None);
        assert!(full.is_packed(0) && !full.is_packed(1));
        let mut want = s[..CHUNK].to_vec();
        want.push(None);
        assert!(full.iter().eq(want.iter().copied()));
        // Equal to the same slots decoded, whatever is packed.
        let mut plain = SlotTable::default();
        s.iter().for_each(|x| plain.push(*x));
        assert_eq!(t, plain);
        // The check's refusal is the read's error.
        let err = read_with(&bytes, |i, _| {
            if i == CHUNK + 1 {
                Err("refused".into())
            } else {
                Ok(())
            }
            .map(|()| false)
        })
        .unwrap_err();
        assert_eq!(err, "refused");
        // The first chunk that fails names the error — chunks 0 and 1 are checked
        // here, chunk 2 on the other thread — and what the check marks is counted.
        let refuse = |bad: Vec<usize>| {
            read_with(&bytes, move |i, _| {
                if bad.contains(&i) {
                    Err(format!("refused {i}"))
                } else {
                    Ok(false)
                }
            })
            .map(|_| ())
            .unwrap_err()
        };
        let (c1, c2) = (CHUNK + 1, 2 * CHUNK + 1);
        assert_eq!(refuse(vec![1, 3, c1, c2]), "refused 1");
        assert_eq!(refuse(vec![c2, c1]), format!("refused {c1}"));
        assert_eq!(refuse(vec![c2 + 1, c2]), format!("refused {c2}"));
        let buf = Arc::new(bytes.clone());
        let stored = codec().deserialize::<Table>(&buf[..]).unwrap();
        let (_, marked) = stored.0.into_table(&buf, |i, _| Ok(i % 2 == 0)).unwrap();
        assert_eq!(marked, targets.iter().filter(|(i, _)| i % 2 == 0).count());
    }

    #[test]
    fn damaged_tables_are_errors_not_panics() {
        let s = slots(40);
        let good = encode(&s);
        // Three changes of every byte (its low bit, its high bit, all of it), and
        // every truncation: an error or a table that encodes back to the damaged
        // bytes (a changed amount), never a panic.
        for i in 0..good.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut b = good.clone();
                b[i] ^= x;
                if let Ok(t) = decode(&b) {
                    assert_eq!(
                        encode(&t),
                        b,
                        "byte {i} ^ {x:#x} decoded to another encoding"
                    );
                }
            }
        }
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        // The named refusals.
        let mut b = good.clone();
        b[..8].copy_from_slice(&41u64.to_le_bytes());
        assert!(decode(&b).unwrap_err().contains("count says 41"));
        // Chunks cut otherwise than the table cuts them: refused.
        let s2 = slots(CHUNK + 3);
        let raw = |x: &[Option<Slot>]| {
            let mut b = Vec::new();
            x.iter().for_each(|x| super::encode(x, &mut b));
            b
        };
        let as_cut = |cuts: &[&[Option<Slot>]]| {
            let bytes: Vec<Vec<u8>> = cuts.iter().map(|c| raw(c)).collect();
            let chunks: Vec<Bytes> = bytes.iter().map(|b| Bytes(b)).collect();
            codec().serialize(&(CHUNK as u64 + 3, chunks)).unwrap()
        };
        assert_eq!(as_cut(&[&s2[..CHUNK], &s2[CHUNK..]]), encode(&s2));
        assert!(decode(&as_cut(&[&s2[..CHUNK], &s2[CHUNK..]])).is_ok());
        for cut in [
            &[&s2[..]][..],
            &[&s2[..CHUNK - 1], &s2[CHUNK - 1..]],
            &[&s2[..CHUNK], &[], &s2[CHUNK..]],
        ] {
            let err = decode(&as_cut(cut)).unwrap_err();
            assert!(err.contains("not as written"), "{err}");
        }
        // A slot whose county is set for an effect without one (CityFunds, first Some
        // slot at index 1 is an Allocation; index 0 is None: find a CityFunds slot).
        let i = s
            .iter()
            .position(|x| x.is_some_and(|x| x.effect == Effect::CityFunds))
            .unwrap();
        let offset = 8
            + 8
            + 8
            + s[..i]
                .iter()
                .map(|x| if x.is_some() { 28 } else { 1 })
                .sum::<usize>();
        let mut b = good.clone();
        assert_eq!(b[offset], 1, "the CityFunds tag");
        b[offset + 1 + 16] = 1;
        assert!(decode(&b).unwrap_err().contains("not zero"));
    }
}
