//! Snapshots (issue 6): `serve` may start from `DIR/state.snapshot`, but only from one
//! that matches the log, and it still verifies every record after it; a damaged,
//! foreign or stale snapshot is ignored and the whole log verified instead. `replay`
//! and `verify` never read it.

use crate::common;
use crate::wire;

use sanbao::event::{parse_input, InputEvent};
use sanbao::log::snapshot::{self, Loaded};
use sanbao::log::{self, Store, StoreError};
use std::path::Path;
use wire::*;

/// The sample city's events (2,408 of them), as `demo` loads them.
fn sample() -> Vec<InputEvent> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("replay/sample-city/events.jsonl"),
    )
    .unwrap();
    parse_input(&text).unwrap().1
}

/// Appends `events` to the log in `dir` in batches of 100.
fn append(dir: &Path, events: &[InputEvent]) {
    common::append_in_process(dir, events.chunks(100).map(|c| c.to_vec()).collect());
}

/// A log of the whole sample with a snapshot taken after its first `at` events.
fn log_with_snapshot(dir: &Path, at: usize) -> Vec<InputEvent> {
    let events = sample();
    append(dir, &events[..at]);
    let store = Store::open(dir).unwrap();
    let state = log::load_state(&store, None, |_| {}).unwrap();
    assert_eq!(state.head_seq, at as u64);
    snapshot::write(dir, &state).unwrap();
    drop(store);
    append(dir, &events[at..]);
    events
}

#[test]
fn serve_starts_from_a_matching_snapshot_and_folds_the_same_state() {
    let tmp = tempfile::tempdir().unwrap();
    let events = log_with_snapshot(tmp.path(), 1_500);
    let store = Store::open(tmp.path()).unwrap();
    let (state, how) = snapshot::load_for_serve(&store, |_| {}).unwrap();
    assert_eq!(
        how,
        Loaded::Snapshot {
            seq: 1_500,
            tail: (events.len() - 1_500) as u64
        }
    );
    let full = log::load_verified(&store, |_| {}).unwrap();
    assert_eq!(state, full, "snapshot + tail == the whole log folded");

    // A snapshot at the head: nothing to fold after it.
    snapshot::write(tmp.path(), &full).unwrap();
    let (state, how) = snapshot::load_for_serve(&store, |_| {}).unwrap();
    assert_eq!(
        how,
        Loaded::Snapshot {
            seq: events.len() as u64,
            tail: 0
        }
    );
    assert_eq!(state, full);
}

#[test]
fn a_damaged_foreign_or_stale_snapshot_is_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    log_with_snapshot(tmp.path(), 1_000);
    let file = snapshot::path(tmp.path());
    let good = std::fs::read(&file).unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let ignored = |store: &Store| match snapshot::load_for_serve(store, |_| {}).unwrap() {
        (state, Loaded::Log { ignored: Some(why) }) => {
            assert_eq!(state, log::load_verified(store, |_| {}).unwrap());
            why
        }
        other => panic!("the snapshot was used: {:?}", other.1),
    };

    // Damaged: a flipped byte anywhere (header, state, checksum), or cut short.
    for at in [0, 20, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x04;
        std::fs::write(&file, &bad).unwrap();
        let why = ignored(&store);
        assert!(
            why.contains("damaged") || why.contains("not a sanbao snapshot"),
            "{why}"
        );
    }
    std::fs::write(&file, &good[..good.len() - 7]).unwrap();
    ignored(&store);

    // Foreign: a snapshot of another log with the same events (other recorded_at,
    // so other hashes) is not this log's.
    let other = tempfile::tempdir().unwrap();
    log_with_snapshot(other.path(), 1_000);
    std::fs::copy(snapshot::path(other.path()), &file).unwrap();
    let why = ignored(&store);
    assert!(why.contains("not the one it was taken after"), "{why}");

    // Stale: a snapshot past the head of a log that was truncated below it (put back
    // after the truncation, which deletes it).
    std::fs::write(&file, &good).unwrap();
    let keep = log::verify_prefix(&store, 900).unwrap().unwrap();
    store.truncate_after(keep).unwrap();
    assert!(!file.exists(), "truncate deletes the snapshot");
    std::fs::write(&file, &good).unwrap();
    let why = ignored(&store);
    assert!(why.contains("past the log's head"), "{why}");
}

/// `bytes` with its last 16 bytes made its checksum again (XXH3-128 of the rest,
/// little-endian), as a snapshot that sanbao itself wrote wrongly would carry.
fn resealed(mut bytes: Vec<u8>) -> Vec<u8> {
    let n = bytes.len() - 16;
    let sum = xxhash_rust::xxh3::xxh3_128(&bytes[..n]).to_le_bytes();
    bytes[n..].copy_from_slice(&sum);
    bytes
}

#[test]
fn a_snapshot_read_is_written_back_byte_for_byte_and_misframed_parts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    log_with_snapshot(tmp.path(), 2_000);
    let file = snapshot::path(tmp.path());
    let good = std::fs::read(&file).unwrap();
    assert_eq!(
        resealed(good.clone()),
        good,
        "the checksum as the test makes it"
    );

    // Read (its per-record table kept packed as stored) and written again: the
    // same bytes; and the state read is the state folded.
    let state = snapshot::read(tmp.path()).unwrap().expect("a snapshot");
    let store = Store::open(tmp.path()).unwrap();
    assert_eq!(state, log::load_state(&store, Some(2_000), |_| {}).unwrap());
    drop(store);
    snapshot::write(tmp.path(), &state).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), good);

    // The first part's length (the 8 bytes after the 57-byte header) wrong under a
    // checksum that holds: past the end, one short, one long; a file too short for
    // the length at all.
    let first = u64::from_le_bytes(good[57..65].try_into().unwrap());
    for (len, says) in [
        (u64::MAX, "runs past its end"),
        (good.len() as u64, "runs past its end"),
        (first - 1, "its first part:"),
        (first + 1, "its first part:"),
    ] {
        let mut bad = good.clone();
        bad[57..65].copy_from_slice(&len.to_le_bytes());
        std::fs::write(&file, resealed(bad)).unwrap();
        let why = snapshot::read(tmp.path()).unwrap_err();
        assert!(
            why.contains("does not decode") && why.contains(says),
            "{len}: {why}"
        );
    }
    let mut short = good[..60].to_vec();
    short.extend_from_slice(&[0; 16]);
    std::fs::write(&file, resealed(short)).unwrap();
    let why = snapshot::read(tmp.path()).unwrap_err();
    assert!(why.contains("too short for its parts"), "{why}");
}

#[test]
fn damage_after_the_snapshot_still_stops_serve() {
    let tmp = tempfile::tempdir().unwrap();
    log_with_snapshot(tmp.path(), 1_000);
    let store = Store::open(tmp.path()).unwrap();
    let mut bytes = common::stored_bytes(&store, 1_700);
    let at = bytes.len() - 3;
    bytes[at] ^= 0x01;
    store.overwrite_raw_for_test(1_700, &bytes).unwrap();
    match snapshot::load_for_serve(&store, |_| {}) {
        Err(StoreError::Damaged { seq, .. }) => assert_eq!(seq, 1_700),
        other => panic!("served a damaged tail: {:?}", other.map(|o| o.1)),
    }
}

#[test]
fn serve_writes_a_snapshot_and_starts_from_it_while_replay_ignores_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    append(&dir, &sample());
    let auditor = add_token(&dir, "zhao.min", "auditor");
    let env = [("SANBAO_SNAPSHOT_AFTER", "1000")];

    // First start: no snapshot; one is written (in the background and at the latest
    // when serve stops).
    let mut s = Serve::start(&dir, &env);
    let position = get(&s.addr, "/v1/positions", &auditor);
    assert_eq!(position.status, 200);
    assert!(s.terminate().success());
    assert!(snapshot::path(&dir).exists(), "{}", s.log());
    assert!(s.log().contains("snapshot written"), "{}", s.log());

    // Second start: from the snapshot, same answers.
    let mut s = Serve::start(&dir, &env);
    assert!(s.log().contains("started from the snapshot"), "{}", s.log());
    assert_eq!(
        get(&s.addr, "/v1/positions", &auditor).json(),
        position.json()
    );
    assert!(s.terminate().success());

    // The auditor's commands read the log alone: a snapshot file of garbage changes
    // nothing for them (and serve ignores it, verifying the whole log instead).
    let replay_before = run(&dir, &["replay", "--json"]);
    std::fs::write(snapshot::path(&dir), b"not a snapshot at all").unwrap();
    let replay_after = run(&dir, &["replay", "--json"]);
    assert_eq!(replay_before.status.code(), Some(0));
    assert_eq!(replay_before.stdout, replay_after.stdout);
    assert_eq!(run(&dir, &["verify"]).status.code(), Some(0));
    let mut s = Serve::start(&dir, &[("SANBAO_SNAPSHOT_AFTER", "0")]);
    assert!(s.log().contains("not using the snapshot"), "{}", s.log());
    assert_eq!(
        get(&s.addr, "/v1/positions", &auditor).json(),
        position.json()
    );
    // --snapshot-after 0 writes none, neither after starting nor when stopping.
    assert!(s.terminate().success());
    assert_eq!(
        std::fs::read(snapshot::path(&dir)).unwrap(),
        b"not a snapshot at all"
    );

    // truncate deletes the snapshot: it may cover records that are gone.
    let o = run(&dir, &["truncate", "--after", "2000", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(!snapshot::path(&dir).exists());
}
