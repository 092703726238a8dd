//! The per-record reversal table (one `Option<Slot>` per record) as a snapshot
//! stores it: packed bytes that one tight loop decodes, instead of ten million
//! serde calls (at ten million records the table was 60 % of a snapshot and most of
//! `serve`'s start; BENCHMARKS.md "Session 17").
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
//! Guarantees: decoding gives back exactly the slots encoded, and encoding what was
//! decoded gives the same bytes (members an effect lacks must be zero, dates and
//! months real, tags and funds known); anything else — a short or overlong chunk, a
//! count that disagrees — is an error, never a panic.

use super::evolve::{Effect, Slot};
use super::slot_table::{SlotTable, CHUNK};
use crate::values::{Date, ExpenditureCategory, FiscalYear, Fund, Month};
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Deserializer, Serialize, Serializer};

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
            buf.clear();
            for slot in chunk {
                encode(slot, &mut buf);
            }
            seq.serialize_element(&Bytes(&buf))?;
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

/// Decodes one chunk's slots onto `out` (at most [`CHUNK`]: more is not a chunk as
/// written, and is refused before it grows `out`).
fn decode_chunk(mut b: &[u8], out: &mut Vec<Option<Slot>>) -> Result<(), String> {
    while let Some((&tag, rest)) = b.split_first() {
        if out.len() == CHUNK {
            return Err("packed slots: chunks not as written".into());
        }
        if tag == 0 {
            out.push(None);
            b = rest;
            continue;
        }
        let f: &[u8; BODY] = rest
            .get(..BODY)
            .and_then(|s| s.try_into().ok())
            .ok_or("packed slots: a chunk ends inside a slot")?;
        b = &rest[BODY..];
        out.push(Some(decode_slot(tag, f)?));
    }
    Ok(())
}

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

/// Reads [`PackedSlots`] back: the table, exactly as many slots as the count says,
/// in chunks cut as written.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SlotTable, D::Error> {
    d.deserialize_tuple(2, TableVisitor)
}

struct TableVisitor;

impl<'de> Visitor<'de> for TableVisitor {
    type Value = SlotTable;

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
        let table = SlotTable::from_chunks(chunks)
            .ok_or_else(|| de::Error::custom("packed slots: chunks not as written"))?;
        if table.len() as u64 != count {
            return Err(de::Error::custom(format!(
                "packed slots: {} slots where the count says {count}",
                table.len()
            )));
        }
        Ok(table)
    }
}

/// The sequence of chunks, each decoded into a chunk of the table, allocated whole
/// as it is reached: a chunk needs at least a byte per slot, so what is allocated
/// stays within a fixed multiple of the bytes read, whatever a damaged count or
/// chunk number says.
struct ChunksSeed;

impl<'de> DeserializeSeed<'de> for ChunksSeed {
    type Value = Vec<Vec<Option<Slot>>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ChunksSeed {
    type Value = Vec<Vec<Option<Slot>>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("chunks of packed record slots")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Cut as written, checked as they come — only the last chunk may be short,
        // none empty — so that no chunk is allocated after one that was not full.
        let mut chunks: Vec<Vec<Option<Slot>>> = Vec::new();
        while let Some(c) = seq.next_element_seed(ChunkSeed)? {
            if chunks.last().is_some_and(|l| l.len() != CHUNK) {
                return Err(de::Error::custom("packed slots: chunks not as written"));
            }
            chunks.push(c);
        }
        Ok(chunks)
    }
}

/// One chunk.
struct ChunkSeed;

impl<'de> DeserializeSeed<'de> for ChunkSeed {
    type Value = Vec<Option<Slot>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for ChunkSeed {
    type Value = Vec<Option<Slot>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a chunk of packed record slots")
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Self::Value, E> {
        if b.is_empty() {
            return Err(E::custom("packed slots: chunks not as written"));
        }
        if b.len() > CHUNK * (1 + BODY) {
            return Err(E::custom("packed slots: an overlong chunk"));
        }
        let mut out = Vec::with_capacity(CHUNK);
        decode_chunk(b, &mut out).map_err(E::custom)?;
        Ok(out)
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
    struct Table(#[serde(deserialize_with = "super::deserialize")] SlotTable);

    fn encode(slots: &[Option<Slot>]) -> Vec<u8> {
        let mut t = SlotTable::default();
        slots.iter().for_each(|s| t.push(*s));
        codec().serialize(&PackedSlots(&t)).expect("encodes")
    }

    fn decode(b: &[u8]) -> Result<Vec<Option<Slot>>, String> {
        codec()
            .deserialize::<Table>(b)
            .map(|t| t.0.iter().copied().collect())
            .map_err(|e| e.to_string())
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
