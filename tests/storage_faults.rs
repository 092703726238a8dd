//! Full disks, I/O errors and damaged records, at the storage boundary: a failed
//! write or sync is answered with an error, nothing half-written becomes visible, the
//! process stays consistent (later appends work once the fault clears), and one
//! flipped byte in any stored record is found by `verify`, naming its seq.

use crate::common;
use sanbao::event::{parse_input, InputEvent};
use sanbao::log::{self, AppendError, Store, SystemClock, Verified, Writer};
use serde_json::json;
use std::sync::atomic::Ordering;

fn events(v: serde_json::Value) -> Vec<InputEvent> {
    parse_input(&v.to_string()).unwrap().1
}

fn history() -> Vec<InputEvent> {
    events(json!([
        {"kind":"county_registered","county":"a","name":"甲县","registered_on":"2021-01-01","opening_treasury":"100"},
        {"kind":"city_funds_received","fund":"general","amount":"1000","received_on":"2021-01-01"},
    ]))
}

fn revenue(amount: &str, key: &str) -> Vec<InputEvent> {
    events(
        json!({"kind":"revenue_collected","county":"a","amount":amount,"collected_on":"2021-02-01","idempotency_key":key}),
    )
}

fn start(dir: &std::path::Path) -> (Writer, log::WriterThread, Store) {
    let store = Store::open(dir).unwrap();
    let state = log::load_state(&store, None, |_| {}).unwrap();
    let (w, t) = Writer::start(store.clone(), state, Box::new(SystemClock));
    (w, t, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_writes_heads_and_syncs_change_nothing_and_the_log_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, t, store) = start(tmp.path());
    w.append(history(), None).await.unwrap();
    let before = w.state().read().unwrap().clone();

    // A write that fails before anything reaches sled.
    store.faults().fail_write.store(1, Ordering::SeqCst);
    let e = w.append(revenue("1", "k1"), None).await.unwrap_err();
    assert!(
        matches!(e, AppendError::Storage(ref m) if m.contains("no space")),
        "{e:?}"
    );
    assert_eq!(*w.state().read().unwrap(), before, "state unchanged");
    assert_eq!(store.head().unwrap().seq, 2);

    // A write that reaches sled but whose sync fails: rolled back out of sled.
    store.faults().fail_sync.store(1, Ordering::SeqCst);
    let e = w.append(revenue("1", "k1"), None).await.unwrap_err();
    assert!(matches!(e, AppendError::Storage(_)), "{e:?}");
    assert_eq!(*w.state().read().unwrap(), before, "state unchanged");
    assert_eq!(store.head().unwrap().seq, 2);
    assert!(
        store.get(3).unwrap().is_none(),
        "the failed record is not visible"
    );
    assert_eq!(store.idempotency_seq("k1").unwrap(), None, "nor is its key");

    // A write that fails at the head, after the record and its key reached sled:
    // both taken back out.
    store.faults().fail_head.store(1, Ordering::SeqCst);
    let e = w.append(revenue("1", "k1"), None).await.unwrap_err();
    assert!(matches!(e, AppendError::Storage(_)), "{e:?}");
    assert_eq!(*w.state().read().unwrap(), before, "state unchanged");
    assert_eq!(store.head().unwrap().seq, 2);
    assert!(store.get(3).unwrap().is_none(), "the record was taken back");
    assert_eq!(store.idempotency_seq("k1").unwrap(), None, "and its key");

    // Once the fault clears, the same key appends as new, at the next seq.
    let acks = w.append(revenue("1", "k1"), None).await.unwrap();
    assert_eq!((acks[0].seq, acks[0].duplicate), (3, false));
    drop(w);
    drop(store);
    t.join();
    let reopened = Store::open(tmp.path()).unwrap();
    assert!(matches!(
        log::verify(&reopened, None, |_| {}).unwrap(),
        Verified::Ok { records: 3, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_cannot_be_taken_back_stops_writes_until_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, t, store) = start(tmp.path());
    w.append(history(), None).await.unwrap();
    let before = w.state().read().unwrap().clone();
    store.faults().fail_sync.store(1, Ordering::SeqCst);
    store.faults().fail_rollback.store(1, Ordering::SeqCst);
    assert!(w.append(revenue("2", "k2"), None).await.is_err());
    assert_eq!(*w.state().read().unwrap(), before);
    // The writer refuses further writes rather than risk a second, inconsistent batch.
    let e = w.append(revenue("3", "k3"), None).await.unwrap_err();
    assert!(
        matches!(e, AppendError::Storage(ref m) if m.contains("restart")),
        "{e:?}"
    );
    drop(w);
    drop(store);
    t.join();
    // On reopen the unacknowledged batch is there whole or not at all (its head was
    // written after its records); a retry with its idempotency key settles which, once.
    let (w, t, store) = start(tmp.path());
    let head = w.state().read().unwrap().head_seq;
    assert!(head == 2 || head == 3, "head {head}");
    let acks = w.append(revenue("2", "k2"), None).await.unwrap();
    assert_eq!(acks[0].seq, 3);
    assert_eq!(acks[0].duplicate, head == 3);
    assert_eq!(store.idempotency_seq("k2").unwrap(), Some(3));
    assert!(store.get(4).unwrap().is_none());
    drop(w);
    t.join();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_written_up_to_its_head_is_dropped_on_reopen_with_its_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, t, store) = start(tmp.path());
    w.append(history(), None).await.unwrap();
    // The head's write fails after the records and the key were written, and taking
    // them back fails too: what a crash between them leaves behind.
    store.faults().fail_head.store(1, Ordering::SeqCst);
    store.faults().fail_rollback.store(1, Ordering::SeqCst);
    assert!(w.append(revenue("2", "k2"), None).await.is_err());
    assert!(store.get(3).unwrap().is_some(), "the record reached sled");
    assert_eq!(
        store.idempotency_seq("k2").unwrap(),
        Some(3),
        "so did its key"
    );
    assert_eq!(store.head().unwrap().seq, 2, "but not the head");
    drop(w);
    drop(store);
    t.join();
    // Reopening drops the record past the head and its key: it was never
    // acknowledged, and the same key appends as new.
    let (w, t, store) = start(tmp.path());
    assert_eq!(w.state().read().unwrap().head_seq, 2);
    assert!(store.get(3).unwrap().is_none());
    assert_eq!(store.idempotency_seq("k2").unwrap(), None);
    let acks = w.append(revenue("2", "k2"), None).await.unwrap();
    assert_eq!((acks[0].seq, acks[0].duplicate), (3, false));
    drop(w);
    t.join();
    assert!(matches!(
        log::verify(&store, None, |_| {}).unwrap(),
        Verified::Ok { records: 3, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flipped_byte_of_a_stored_record_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, t, store) = start(tmp.path());
    w.append(history(), None).await.unwrap();
    for i in 0..5 {
        w.append(revenue(&format!("{}.5", i + 1), &format!("r{i}")), None)
            .await
            .unwrap();
    }
    drop(w);
    t.join();
    let target = 4u64;
    let original = common::stored_bytes(&store, target);
    for offset in 0..original.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = original.clone();
            bad[offset] ^= bit;
            store.overwrite_raw_for_test(target, &bad).unwrap();
            match log::verify(&store, None, |_| {}).unwrap() {
                Verified::Bad { first_bad_seq, .. } => {
                    assert_eq!(first_bad_seq, target, "offset {offset}")
                }
                Verified::Ok { .. } => {
                    panic!("flip of bit {bit:#x} at offset {offset} went unseen")
                }
            }
        }
    }
    store.overwrite_raw_for_test(target, &original).unwrap();
    assert!(matches!(
        log::verify(&store, None, |_| {}).unwrap(),
        Verified::Ok { records: 7, .. }
    ));
    // What was flipped is the compact form the writer stores: its hash, time, key,
    // recorded_by and event.
    assert_eq!(original[0], sanbao::record::FORMAT_V3);
    assert!(original.len() > 41, "{} bytes", original.len());
}

/// Five records written by one group commit share one block (records are packed in
/// blocks of consecutive seqs under one sled key).
async fn log_with_a_block_of_five(dir: &std::path::Path) -> Store {
    let (w, t, store) = start(dir);
    w.append(history(), None).await.unwrap();
    let batch: Vec<InputEvent> = (0..5)
        .flat_map(|i| revenue(&format!("{}.5", i + 1), &format!("b{i}")))
        .collect();
    w.append(batch, None).await.unwrap();
    drop(w);
    t.join();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flipped_byte_of_a_stored_block_is_found_within_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = log_with_a_block_of_five(tmp.path()).await;
    let (first, original) = store.raw_block_for_test(5).unwrap().unwrap();
    assert_eq!(first, 3, "the batch of five starts its own block");
    assert_eq!(store.raw_block_for_test(7).unwrap().unwrap().0, 3);
    for offset in 0..original.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = original.clone();
            bad[offset] ^= bit;
            store.overwrite_block_for_test(first, &bad).unwrap();
            match log::verify(&store, None, |_| {}).unwrap() {
                Verified::Bad { first_bad_seq, .. } => assert!(
                    (3..=8).contains(&first_bad_seq),
                    "offset {offset}: first bad seq {first_bad_seq}"
                ),
                Verified::Ok { .. } => {
                    panic!("flip of bit {bit:#x} at offset {offset} of the block went unseen")
                }
            }
        }
    }
    // A block cut short is found too, at the first record it no longer holds whole.
    store
        .overwrite_block_for_test(first, &original[..original.len() - 1])
        .unwrap();
    assert!(matches!(
        log::verify(&store, None, |_| {}).unwrap(),
        Verified::Bad {
            first_bad_seq: 7,
            ..
        }
    ));
    store.overwrite_block_for_test(first, &original).unwrap();
    assert!(matches!(
        log::verify(&store, None, |_| {}).unwrap(),
        Verified::Ok { records: 7, .. }
    ));
    // Both bits of every byte were tried, of a block that holds five compact records
    // (each at least its hash and time) behind the block's own prev_hash.
    assert!(
        original.len() > 37 + 5 * (4 + 41),
        "{} bytes",
        original.len()
    );
    assert!(
        original.len() > 37 + 5 * (4 + 41),
        "{} bytes",
        original.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncating_inside_a_block_keeps_its_first_records() {
    let tmp = tempfile::tempdir().unwrap();
    let store = log_with_a_block_of_five(tmp.path()).await;
    let keep = match log::verify_prefix(&store, 4).unwrap() {
        Ok(head) => head,
        Err(bad) => panic!("{bad:?}"),
    };
    assert_eq!(store.truncate_after(keep).unwrap(), 3);
    assert_eq!(store.head().unwrap(), keep);
    assert!(matches!(
        log::verify(&store, None, |_| {}).unwrap(),
        Verified::Ok { records: 4, .. }
    ));
    assert!(store.get(5).unwrap().is_none());
    assert_eq!(store.idempotency_seq("b1").unwrap(), Some(4));
    assert_eq!(store.idempotency_seq("b2").unwrap(), None);
    // The log goes on from there.
    drop(store);
    let (w, t, _) = start(tmp.path());
    let acks = w.append(revenue("9.5", "b2"), None).await.unwrap();
    assert_eq!(acks[0].seq, 5);
    drop(w);
    t.join();
}

/// Appends that meet in one group commit: every answer — new records, and duplicates
/// of records of the same group or of earlier ones — carries the hash that is stored,
/// and the stored chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_of_grouped_appends_carry_the_stored_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, t, store) = start(tmp.path());
    w.append(history(), None).await.unwrap();
    let mut calls = Vec::new();
    for i in 0..200 {
        // Every key is sent twice, so that some duplicates meet their original in
        // the same group; a few batches carry several events.
        let key = format!("g{}", i / 2);
        let amount = format!("{}.25", i / 2 + 1);
        let w = w.clone();
        calls.push(tokio::spawn(async move {
            let mut batch = revenue(&amount, &key);
            if i % 50 == 1 {
                batch.extend(events(json!([
                    {"kind":"revenue_collected","county":"a","amount":"1","collected_on":"2021-02-02"},
                    {"kind":"revenue_collected","county":"a","amount":"2","collected_on":"2021-02-03"},
                ])));
            }
            w.append(batch, None).await
        }));
    }
    let mut acks = Vec::new();
    for c in calls {
        match c.await.unwrap() {
            Ok(a) => acks.extend(a),
            // A duplicate key in a batch with new events is a conflict: fine here.
            Err(AppendError::Conflict(..)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    drop(w);
    t.join();
    assert!(acks.iter().any(|a| a.duplicate));
    for a in &acks {
        assert_eq!(
            store.get(a.seq).unwrap().unwrap().hash,
            a.hash,
            "seq {}",
            a.seq
        );
    }
    let head = store.head().unwrap();
    assert!(matches!(
        log::verify(&store, None, |_| {}).unwrap(),
        Verified::Ok { records, head_hash } if records == head.seq && head_hash == head.hash
    ));
}

/// Replay reads records in chunks of 1,024, decoded and hashed alternately by the
/// reading thread and by the caller: a damaged record is found, at its seq, in
/// either kind of chunk, and a fold stops there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_record_is_found_in_every_kind_of_read_chunk() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, t, store) = start(tmp.path());
    w.append(history(), None).await.unwrap();
    for b in 0..25 {
        let batch: Vec<InputEvent> = (0..100)
            .flat_map(|i| {
                events(json!({"kind":"revenue_collected","county":"a","amount":format!("{}.01", b * 100 + i + 1),"collected_on":"2021-02-01"}))
            })
            .collect();
        w.append(batch, None).await.unwrap();
    }
    drop(w);
    t.join();
    // Chunks: 1..=1024 (the caller decodes), 1025..=2048 (the reader), 2049.. (caller).
    for target in [700u64, 1500, 2300] {
        let original = common::stored_bytes(&store, target);
        let mut bad = original.clone();
        let at = bad.len() - 5;
        bad[at] ^= 0x08;
        store.overwrite_raw_for_test(target, &bad).unwrap();
        match log::verify(&store, None, |_| {}).unwrap() {
            Verified::Bad { first_bad_seq, .. } => assert_eq!(first_bad_seq, target),
            Verified::Ok { .. } => panic!("damage at seq {target} went unseen"),
        }
        assert!(log::load_verified(&store, |_| {}).is_err());
        store.overwrite_raw_for_test(target, &original).unwrap();
    }
    assert!(matches!(
        log::verify(&store, None, |_| {}).unwrap(),
        Verified::Ok { records: 2502, .. }
    ));
}
