//! The parallel paths of issue 21 against the plain sequential ones: verification
//! and replay share the decoding and hashing of chunks of records between two
//! threads (`log::read_ahead`), and the canonical JSON of records remembers the
//! member order of each struct it writes. Whatever thread hashed which chunk, the
//! answers must be those of a one-record-at-a-time walk written here without any of
//! that machinery: the same count and head hash, the same folded state (its
//! position and monitor, byte for byte), and on a damaged log the same first bad seq
//! — the earliest one, also when a later chunk is hashed (and fails) first.

use crate::common;

use sanbao::bench::workload::{self, Config};
use sanbao::log::{self, Store, Verified};
use sanbao::record::{Record, GENESIS};
use sanbao::state::State;
use std::path::Path;

/// Records in the generated log: many chunks of 1,024 (the reading chunk), more than
/// the 16 the reader keeps ahead, and a part chunk at the end.
const RECORDS: usize = 40_500;

/// Writes `RECORDS` generated events over 40 counties into `dir`.
fn generated_log(dir: &Path) {
    let events = workload::events(Config::new(20_210_101, 40), RECORDS);
    let batches = events
        .chunks(1_000)
        .map(|c| c.iter().cloned().map(workload::input).collect())
        .collect();
    common::append_in_process(dir, batches);
}

/// The sequential reference: every stored record read, decoded and hashed in seq
/// order on this thread; the first record whose seq, link or hash is wrong is the
/// answer, else the count, the last hash and the folded state.
fn walk(store: &Store) -> Result<(u64, String, State), u64> {
    let mut state = State::new();
    let mut prev = GENESIS;
    let mut expect = 1u64;
    for item in store.raw_range(1, u64::MAX) {
        let stored = item.map_err(|_| expect)?;
        if stored.seq != expect {
            return Err(expect);
        }
        let r: Record = stored.decode().map_err(|_| expect)?;
        if r.seq != expect || r.prev_hash != prev || r.compute_hash() != r.hash {
            return Err(expect);
        }
        state.fold(&r);
        prev = r.hash;
        expect += 1;
    }
    Ok((expect - 1, prev.to_hex(), state))
}

/// What a state answers, as JSON text: its position and its monitor (the monitor's
/// year of watch history runs on the predicates of `reasons_in`).
fn answers(state: &State) -> (String, String) {
    (
        serde_json::to_string(&sanbao::query::position::position(state, None, None)).unwrap(),
        serde_json::to_string(&sanbao::query::monitor::monitor(state, None)).unwrap(),
    )
}

#[test]
fn verify_and_replay_answer_as_the_sequential_walk() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("data");
    generated_log(&dir);
    let store = Store::open(&dir).unwrap();
    let (n, head, reference) = walk(&store).expect("the generated log is sound");
    assert_eq!(n, RECORDS as u64);
    match log::verify(&store, None, |_| {}).unwrap() {
        Verified::Ok { records, head_hash } => {
            assert_eq!(records, n);
            assert_eq!(head_hash.to_hex(), head);
        }
        bad => panic!("verify: {bad:?}"),
    }
    let state = log::load_verified(&store, |_| {}).unwrap();
    assert_eq!(answers(&state), answers(&reference));
    // A prefix ending inside a chunk, and one ending on a chunk's last record.
    for upto in [5_000u64, 16 * 1_024] {
        match log::verify(&store, Some(upto), |_| {}).unwrap() {
            Verified::Ok { records, .. } => assert_eq!(records, upto),
            bad => panic!("verify up to {upto}: {bad:?}"),
        }
    }
}

/// Changes record `seq`'s recorded time on disk: it still decodes, at its place, but
/// its hash no longer matches its content.
fn damage(store: &Store, seq: u64) {
    let mut r = store.get(seq).unwrap().unwrap();
    r.recorded_at_us += 1;
    store.overwrite_raw_for_test(seq, &r.encode()).unwrap();
}

/// The first bad seq `verify` reports.
fn first_bad(store: &Store) -> u64 {
    match log::verify(store, None, |_| {}).unwrap() {
        Verified::Bad { first_bad_seq, .. } => first_bad_seq,
        ok => panic!("a damaged log verified: {ok:?}"),
    }
}

#[test]
fn the_earliest_damage_wins_whichever_chunk_is_hashed_first() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("data");
    generated_log(&dir);
    let store = Store::open(&dir).unwrap();
    // The last chunk is hashed by the reader long before the consumer reaches the
    // early ones: damage there alone is found there...
    damage(&store, 40_000);
    assert_eq!(first_bad(&store), 40_000);
    assert_eq!(walk(&store).err(), Some(40_000));
    // ...and damage in an earlier chunk wins once it is there too, at chunk edges
    // and inside chunks alike.
    for seq in [30_001u64, 16 * 1_024 + 1, 16 * 1_024, 1_025, 1_024, 700] {
        damage(&store, seq);
        assert_eq!(first_bad(&store), seq, "damage at {seq}");
        assert_eq!(walk(&store).err(), Some(seq));
        match log::load_verified(&store, |_| {}) {
            Err(sanbao::log::StoreError::Damaged { seq: s, .. }) => assert_eq!(s, seq),
            Err(e) => panic!("load_verified: {e}"),
            Ok(_) => panic!("load_verified served a damaged log"),
        }
    }
    drop(store);
    // The auditor's commands say the same, with exit 5.
    let o = common::run(&dir, &["verify"], "");
    assert_eq!(common::code(&o), 5, "{}", common::stderr(&o));
    assert!(
        common::stdout(&o).contains("700") || common::stderr(&o).contains("700"),
        "{}{}",
        common::stdout(&o),
        common::stderr(&o)
    );
    let o = common::run(&dir, &["replay", "--json"], "");
    assert_eq!(common::code(&o), 5, "{}", common::stderr(&o));
}
