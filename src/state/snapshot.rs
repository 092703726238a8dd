//! The folded [`State`]'s stored form ([`State::write_stored`], [`State::read_stored`]),
//! so that a snapshot of it can be written (bincode 1.3, the store's fixint options,
//! in two parts decoded side by side) and read back instead of folding the log again.
//!
//! Guarantees: `read_stored(write_stored(s)) == s` for every state (tested on the
//! sample city and on a generated history across a chunk edge of the per-record
//! table), and applying further records to the
//! decoded state gives the same state as applying them to the original. A snapshot
//! that decodes is structurally consistent — every day map sorted with no zero delta,
//! county ids distinct, every record slot pointing at something that exists, one
//! slot per record up to `head_seq` — so applying records to it cannot panic on a
//! dangling index. It is *not* checked against the log: whoever loads a snapshot
//! must check its `head_seq` and `head_hash` against the stored records.
//!
//! The county index, the plan lines and the notice index are not written: reading
//! rebuilds them (the county index from the counties' ids and registration order,
//! the other two from the second part while the first still decodes). The
//! per-record table is not kept decoded: each slot is decoded once to be checked,
//! and its chunks stay packed in the second part's buffer, which the state keeps
//! (`slot_table.rs`).

use super::evolve::{Effect, Slot, WIDE};
use super::*;

/// The store's bincode options (src/record.rs): fixed-width little-endian integers,
/// no trailing bytes.
fn codec() -> impl bincode::Options + Copy {
    use bincode::Options;
    bincode::options()
        .with_fixint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
}

/// The first part of the stored form, borrowed for writing: the city's account and
/// the counties (most of the bulk besides the per-record table).
#[derive(Serialize)]
struct CountiesRef<'a> {
    city: &'a DayMap,
    counties: SharedCounties<'a>,
}

/// The state's counties written as a plain sequence of counties (the `Arc`s they
/// sit in are not stored).
struct SharedCounties<'a>(&'a [std::sync::Arc<County>]);

impl Serialize for SharedCounties<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|c| &**c))
    }
}

/// The first part, owned for reading (same members, same order).
#[derive(Deserialize)]
struct CountiesOwned {
    city: DayMap,
    counties: Vec<County>,
}

/// The second part of the stored form, borrowed for writing: everything else.
#[derive(Serialize)]
struct RestRef<'a> {
    head_seq: u64,
    head_hash: &'a Sha256Hex,
    last_recorded_at_us: i64,
    max_effective_date: Option<Date>,
    city_risk_lines: &'a [LinesEntry],
    plans_issued: &'a [(u64, PlanIssued)],
    targets: super::packed_slots::PackedSlots<'a>,
    wide_amounts: &'a BTreeMap<u64, Money>,
    policies: &'a [PolicyEntry],
    notices: &'a [NoticeEntry],
    plan_transfers: &'a [PlanTransfer],
    requests: &'a [RequestEntry],
    approval_limits: &'a [LimitEntry],
    proposals: &'a [ProposalEntry],
    response_plans: &'a [ResponsePlanEntry],
}

/// The second part, owned for reading (same members, same order).
#[derive(Deserialize)]
struct RestOwned {
    head_seq: u64,
    head_hash: Sha256Hex,
    last_recorded_at_us: i64,
    max_effective_date: Option<Date>,
    city_risk_lines: Vec<LinesEntry>,
    plans_issued: Vec<(u64, PlanIssued)>,
    #[serde(deserialize_with = "super::packed_slots::deserialize")]
    targets: super::packed_slots::StoredTable,
    wide_amounts: BTreeMap<u64, Money>,
    policies: Vec<PolicyEntry>,
    notices: Vec<NoticeEntry>,
    plan_transfers: Vec<PlanTransfer>,
    requests: Vec<RequestEntry>,
    approval_limits: Vec<LimitEntry>,
    proposals: Vec<ProposalEntry>,
    response_plans: Vec<ResponsePlanEntry>,
}

/// The derived indexes rebuilt from the second part alone.
struct Derived {
    plan_lines: PlanLines,
    notice_index: super::notice_index::NoticeIndex,
}

impl Derived {
    fn of(r: &RestOwned) -> Derived {
        Derived {
            plan_lines: PlanLines::of(&r.plan_transfers),
            notice_index: super::notice_index::NoticeIndex::of(&r.notices),
        }
    }
}

impl State {
    /// Writes the state's stored form (what a snapshot holds after its header): the
    /// length of the first part (`u64` little-endian), the first part (the city's
    /// account and the counties), the second (everything else), each a bincode
    /// value in the store's options. Two parts so that [`State::read_stored`] can
    /// decode them side by side.
    pub fn write_stored<W: std::io::Write>(&self, mut w: W) -> Result<(), String> {
        use bincode::Options;
        let first = CountiesRef {
            city: &self.city,
            counties: SharedCounties(&self.counties),
        };
        let rest = RestRef {
            head_seq: self.head_seq,
            head_hash: &self.head_hash,
            last_recorded_at_us: self.last_recorded_at_us,
            max_effective_date: self.max_effective_date,
            city_risk_lines: &self.city_risk_lines,
            plans_issued: &self.plans_issued,
            targets: super::packed_slots::PackedSlots(&self.targets),
            wide_amounts: &self.wide_amounts,
            policies: &self.policies,
            notices: &self.notices,
            plan_transfers: &self.plan_transfers,
            requests: &self.requests,
            approval_limits: &self.approval_limits,
            proposals: &self.proposals,
            response_plans: &self.response_plans,
        };
        let len = codec().serialized_size(&first).map_err(|e| e.to_string())?;
        w.write_all(&len.to_le_bytes()).map_err(|e| e.to_string())?;
        codec()
            .serialize_into(&mut w, &first)
            .map_err(|e| e.to_string())?;
        codec()
            .serialize_into(&mut w, &rest)
            .map_err(|e| e.to_string())
    }

    /// Reads what [`State::write_stored`] wrote (see [`State::read_stored_parts`],
    /// which this calls with the second part copied into a buffer of its own).
    pub fn read_stored(bytes: &[u8]) -> Result<State, String> {
        let (len, body) = bytes
            .split_first_chunk::<8>()
            .ok_or("snapshot: too short for its parts")?;
        let len = usize::try_from(u64::from_le_bytes(*len))
            .ok()
            .filter(|&n| n <= body.len())
            .ok_or("snapshot: its first part runs past its end")?;
        let (first, rest) = body.split_at(len);
        State::read_stored_parts(first, Arc::new(rest.to_vec()))
    }

    /// Reads the two parts [`State::write_stored`] wrote after their length: `first`
    /// decoded on a second thread while `rest` is decoded here, then the derived
    /// indexes rebuilt and the whole checked (the module's guarantees: a state read
    /// is structurally consistent, or an error says what is not). The per-record
    /// table keeps its chunks packed in `rest`'s buffer (`slot_table.rs`), so the
    /// state holds on to that buffer.
    pub fn read_stored_parts(first: &[u8], rest: Arc<Vec<u8>>) -> Result<State, String> {
        use bincode::Options;
        let (first, decoded) = std::thread::scope(|s| {
            let first = s.spawn(|| codec().deserialize::<CountiesOwned>(first));
            // The plan lines and the notice index need only the second part: they
            // are rebuilt here while the counties are still being decoded.
            let decoded = codec().deserialize::<RestOwned>(&rest[..]).map(|r| {
                let d = Derived::of(&r);
                (r, d)
            });
            (first.join().expect("decoding does not panic"), decoded)
        });
        let first = first.map_err(|e| format!("snapshot: its first part: {e}"))?;
        let (o, derived) = decoded.map_err(|e| format!("snapshot: its second part: {e}"))?;
        from_parts(first, o, derived, &rest)
    }
}

/// Rebuilds the county index and checks what applying records relies on; the
/// per-record table's chunks stay packed in `rest`, the buffer `o` was read from.
fn from_parts(
    c: CountiesOwned,
    o: RestOwned,
    d: Derived,
    rest: &Arc<Vec<u8>>,
) -> Result<State, String> {
    let mut county_index = CountyIndex::default();
    for (i, c) in c.counties.iter().enumerate() {
        if county_index.contains_key(&c.id) {
            return Err(format!("snapshot: county {} appears twice", c.id));
        }
        let i = u32::try_from(i).map_err(|_| "snapshot: too many counties".to_string())?;
        county_index.insert(c.id.clone(), i);
    }
    let check = SlotCheck::new(
        &c.counties,
        o.notices.len(),
        o.requests.len(),
        &o.wide_amounts,
    );
    let (targets, wide_slots) = o
        .targets
        .into_table(rest, |i, slot| check.slot(i + 1, slot))
        .map_err(|e| format!("snapshot: {e}"))?;
    if targets.len() as u64 != o.head_seq {
        return Err(format!(
            "snapshot: {} record slots for head seq {}",
            targets.len(),
            o.head_seq
        ));
    }
    if wide_slots != o.wide_amounts.len() {
        return Err("snapshot: amounts held for records that have none".into());
    }
    let mut last = 0;
    for p in &o.plan_transfers {
        if p.seq <= last || p.seq > o.head_seq {
            return Err(format!(
                "snapshot: plan transfer at seq {} out of order or past the head",
                p.seq
            ));
        }
        last = p.seq;
    }
    if !o.requests.windows(2).all(|w| w[0].seq < w[1].seq)
        || o.requests.last().is_some_and(|r| r.seq > o.head_seq)
    {
        return Err("snapshot: emergency requests out of order or past the head".into());
    }
    let mut last = 0;
    for p in &o.proposals {
        if p.seq <= last || p.seq > o.head_seq || p.decision.is_some_and(|d| d.seq > o.head_seq) {
            return Err(format!(
                "snapshot: proposal at seq {} out of order or past the head",
                p.seq
            ));
        }
        last = p.seq;
    }
    let mut last = 0;
    for p in &o.response_plans {
        if p.seq <= last || p.seq > o.head_seq {
            return Err(format!(
                "snapshot: response plan at seq {} out of order or past the head",
                p.seq
            ));
        }
        last = p.seq;
    }
    Ok(State {
        head_seq: o.head_seq,
        head_hash: o.head_hash,
        last_recorded_at_us: o.last_recorded_at_us,
        max_effective_date: o.max_effective_date,
        city: c.city,
        counties: c.counties.into_iter().map(std::sync::Arc::new).collect(),
        county_index,
        city_risk_lines: o.city_risk_lines,
        plans_issued: o.plans_issued,
        targets,
        wide_amounts: o.wide_amounts,
        policies: o.policies,
        notice_index: d.notice_index,
        notices: o.notices,
        plan_transfers: o.plan_transfers,
        plan_lines: d.plan_lines,
        requests: o.requests,
        approval_limits: o.approval_limits,
        proposals: o.proposals,
        response_plans: o.response_plans,
    })
}

/// What a snapshot's record slots are checked against, one slot at a time as the
/// table is read (its refusals name the record; the reader adds "snapshot: "): that
/// each points at something the snapshot holds, and that each marked [`WIDE`] has
/// its amount in `wide_amounts` (the reader counts them; equal to `wide_amounts`'
/// size, with this, means exactly those).
struct SlotCheck<'a> {
    counties: &'a [County],
    /// Ledger sizes (entitlements, dispatches) by county and key: one hash lookup
    /// per slot instead of two ordered-map walks.
    ledgers: fxhash::FxHashMap<(u32, (FiscalYear, Fund)), (usize, usize)>,
    notices: usize,
    requests: usize,
    wide_amounts: &'a BTreeMap<u64, Money>,
}

impl<'a> SlotCheck<'a> {
    fn new(
        counties: &'a [County],
        notices: usize,
        requests: usize,
        wide_amounts: &'a BTreeMap<u64, Money>,
    ) -> SlotCheck<'a> {
        let mut ledgers: fxhash::FxHashMap<_, _> = Default::default();
        for (ci, c) in counties.iter().enumerate() {
            for (key, l) in &c.funds {
                ledgers.insert(
                    (ci as u32, *key),
                    (l.entitlements.len(), l.dispatches.len()),
                );
            }
        }
        SlotCheck {
            counties,
            ledgers,
            notices,
            requests,
            wide_amounts,
        }
    }

    fn ledger(
        &self,
        seq: usize,
        ci: u32,
        key: (FiscalYear, Fund),
    ) -> Result<(usize, usize), String> {
        self.ledgers.get(&(ci, key)).copied().ok_or_else(|| {
            if (ci as usize) < self.counties.len() {
                format!("record {seq} names a ledger not held")
            } else {
                format!("record {seq} names county #{ci}, not held")
            }
        })
    }

    fn county(&self, seq: usize, ci: u32) -> Result<&County, String> {
        self.counties
            .get(ci as usize)
            .ok_or_else(|| format!("record {seq} names county #{ci}, not held"))
    }

    /// Checks the slot of record `seq`; `true` when it is marked [`WIDE`].
    fn slot(&self, seq: usize, slot: &Slot) -> Result<bool, String> {
        let wide = slot.amount == WIDE;
        if wide && !self.wide_amounts.contains_key(&(seq as u64)) {
            return Err(format!("record {seq}'s amount is inconsistent"));
        }
        let ok = match slot.effect {
            Effect::CityFunds => true,
            Effect::Allocation {
                county: ci,
                key,
                idx,
            } => (idx as usize) < self.ledger(seq, ci, key)?.0,
            Effect::Transfer {
                county: ci,
                key,
                idx,
            }
            | Effect::Advance {
                county: ci,
                key,
                idx,
            } => (idx as usize) < self.ledger(seq, ci, key)?.1,
            Effect::Needs { county: ci, idx } => (idx as usize) < self.county(seq, ci)?.needs.len(),
            Effect::Notice { idx } => (idx as usize) < self.notices,
            Effect::Request { idx } => (idx as usize) < self.requests,
            Effect::Grant { county: ci }
            | Effect::Deposit { county: ci, .. }
            | Effect::WagesPaid { county: ci, .. }
            | Effect::Revenue { county: ci }
            | Effect::Expenditure { county: ci, .. } => {
                self.county(seq, ci)?;
                true
            }
        };
        if !ok {
            return Err(format!("record {seq} points past its ledger"));
        }
        Ok(wide)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::workload::{Config, Generator};
    use crate::record::{Record, GENESIS};

    fn encode(s: &State) -> Vec<u8> {
        let mut v = Vec::new();
        s.write_stored(&mut v).expect("a state encodes");
        v
    }

    fn decode(b: &[u8]) -> Result<State, String> {
        State::read_stored(b)
    }

    fn records(events: Vec<Event>) -> Vec<Record> {
        let mut prev = GENESIS;
        let mut out = Vec::with_capacity(events.len());
        for (i, e) in events.into_iter().enumerate() {
            let r = Record::new(
                i as u64 + 1,
                1_700_000_000_000_000 + i as i64,
                None,
                prev,
                e,
            );
            prev = r.hash;
            out.push(r);
        }
        out
    }

    /// Folds `recs[..cut]`, round-trips the state through bincode, then applies the
    /// rest to both the original and the decoded copy (and undoes the last one).
    fn round_trip_then_continue(recs: &[Record], cut: usize) {
        let mut s = State::new();
        for r in &recs[..cut] {
            s.fold(r);
        }
        let bytes = encode(&s);
        // The mirror's copy: equal, and it keeps folding as the original does while
        // the original, sharing its per-record chunks, stays as it was.
        let mut copy = s.clone_on_two_threads();
        assert_eq!(copy, s, "clone_on_two_threads() == clone()");
        let shared = |a: &State, b: &State| {
            a.counties
                .iter()
                .zip(&b.counties)
                .filter(|(x, y)| std::sync::Arc::ptr_eq(x, y))
                .count()
        };
        assert_eq!(shared(&copy, &s), s.counties.len(), "counties are shared");
        // The counties are stored as the plain sequence they were before they sat
        // behind `Arc`s: the stored form did not change.
        let plain: Vec<County> = s.counties.iter().map(|c| County::clone(c)).collect();
        assert_eq!(
            bincode::Options::serialize(codec(), &SharedCounties(&s.counties)).unwrap(),
            bincode::Options::serialize(codec(), &plain).unwrap()
        );
        for r in &recs[cut..] {
            copy.apply(r);
        }

        // (Compared with a decoded state, which shares nothing with `s`.)
        assert_eq!(
            s,
            decode(&bytes).expect("decodes"),
            "folding a copy leaves the original as it was"
        );
        let mut back = decode(&bytes).expect("the snapshot decodes");
        assert_eq!(back, s, "decode(encode(s)) == s");
        assert_eq!(encode(&back), bytes, "the encoding is deterministic");
        // The footprint counts the buffer the packed chunks sit in (the second
        // part, whole), where the folded state counts its decoded chunks.
        let table = |s: &State| s.footprint().parts[0].1;
        let first = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert!(table(&back) >= bytes.len() - 8 - first);
        assert!(table(&s) >= s.targets.len() * std::mem::size_of::<Option<Slot>>());
        // The rebuilt county index finds every county, in the same id order.
        assert!(s
            .counties()
            .map(|c| &c.id)
            .eq(back.counties().map(|c| &c.id)));
        for c in s.counties() {
            assert_eq!(back.county(&c.id), Some(c));
        }
        for r in &recs[cut..] {
            s.apply(r);
            back.apply(r);
        }
        assert_eq!(back, s, "the same records give the same state");
        assert_eq!(copy, s, "and the same as on the copy");
        assert_eq!(back.head_seq as usize, recs.len());
        // And what is read from it is the same.
        let m = back.max_effective_date.expect("a date").month();
        assert_eq!(
            crate::query::plan::plan(&back, m),
            crate::query::plan::plan(&s, m)
        );
        let last = recs.last().expect("records");
        let mut again = decode(&encode(&s)).expect("decodes");
        let before = again.clone();
        let next = Record::new(last.seq + 1, 0, None, last.hash, last.event.clone());
        let u = again.apply(&next);
        again.undo(u, &next);
        assert_eq!(again, before, "undo works on a decoded state");
    }

    #[test]
    fn the_sample_city_round_trips_through_bincode_and_keeps_folding() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/replay/sample-city/events.jsonl"
        ))
        .expect("the sample city");
        let (_, input) = crate::event::parse_input(&text).expect("the sample parses");
        let mut events: Vec<Event> = input.into_iter().map(|i| i.event).collect();
        // What the sample lacks: an issued plan, and an amount (hence a city balance)
        // beyond i64, which a stored record could carry; then a reversal of it.
        let n = events.len() as u64;
        events.push(Event::PlanIssued(PlanIssued {
            month: Month::new(2021, 7).unwrap(),
            based_on_seq: n,
            plan_sha256: Sha256Hex([7; 32]),
            issued_on: Date::parse("2021-06-30").unwrap(),
        }));
        events.push(Event::CityFundsReceived(CityFundsReceived {
            fund: Fund::General,
            amount: Money::from_cents(i64::MAX as i128 * 3),
            received_on: Date::parse("2021-06-01").unwrap(),
            reference: None,
        }));
        let recs = records(events);
        let mut s = State::new();
        for r in &recs {
            s.fold(r);
        }
        assert!(!s.wide_amounts.is_empty() && !s.plans_issued.is_empty());
        assert!(
            s.city.total().cents() > i64::MAX as i128,
            "a widened day map"
        );
        for cut in [1, recs.len() / 3, recs.len() - 1, recs.len()] {
            round_trip_then_continue(&recs, cut.max(1));
        }
    }

    #[test]
    fn a_generated_history_round_trips_through_bincode_and_keeps_folding() {
        // 80 counties: every kind the generator makes, reversals too;
        // the cut and the records after it cross the per-record table's first chunk
        // edge (65,536), so the copy and the decoded state both append into a chunk
        // they share or begin a new one.
        let mut cfg = Config::new(11, 80);
        cfg.first_seq = Some(1);
        let events: Vec<Event> = Generator::new(cfg).take(70_000).map(|g| g.event).collect();
        let recs = records(events);
        round_trip_then_continue(&recs, 31_337);
        round_trip_then_continue(&recs, 65_530);
    }

    #[test]
    fn an_inconsistent_snapshot_is_refused() {
        let mut s = State::new();
        let recs = records(vec![
            Event::CityFundsReceived(CityFundsReceived {
                fund: Fund::General,
                amount: Money::from_cents(500),
                received_on: Date::parse("2021-01-01").unwrap(),
                reference: None,
            }),
            Event::CityFundsReceived(CityFundsReceived {
                fund: Fund::General,
                amount: Money::from_cents(700),
                received_on: Date::parse("2021-01-02").unwrap(),
                reference: None,
            }),
        ]);
        for r in &recs {
            s.fold(r);
        }
        assert!(decode(&encode(&s)).is_ok());
        // A head seq that does not match the record slots.
        let mut t = s.clone();
        t.head_seq = 3;
        assert!(decode(&encode(&t)).unwrap_err().contains("record slots"));
        // A slot pointing at a county that is not held.
        let mut t = s.clone();
        t.targets.get_mut(0).as_mut().unwrap().effect = Effect::Revenue { county: 4 };
        assert!(decode(&encode(&t)).unwrap_err().contains("county #4"));
        // The two parts' framing: a first part running past the end, or cut short,
        // and bytes of one part read as the other.
        let good = encode(&s);
        let mut b = good.clone();
        b[..8].copy_from_slice(&(good.len() as u64).to_le_bytes());
        assert!(decode(&b).unwrap_err().contains("runs past its end"));
        for cut in [0, 7, 8, good.len() / 2, good.len() - 1] {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let first = u64::from_le_bytes(good[..8].try_into().unwrap());
        let mut b = good.clone();
        b[..8].copy_from_slice(&(first - 1).to_le_bytes());
        assert!(decode(&b).unwrap_err().contains("first part"));
    }
}
