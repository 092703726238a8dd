//! What a killed process leaves behind must not lock the log away. sled 0.34.7 writes
//! a snapshot on every open that finds its log ahead of the last snapshot (to
//! `snap.N.generating`, renamed into place once fsynced); a process SIGKILLed in
//! between leaves a partial file that sled would take for the newest snapshot and
//! then refuse to open the log for ever ("Read corrupted data"). `sanbao-chaos` found
//! this after 16 kill cycles; `Store::open` now clears such files under sanbao's own
//! directory lock. This test plants them and opens the log through every door.

use crate::common;

use sanbao::log::{self, Store, Verified};
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn build(dir: &Path, n: usize) {
    let first = Store::open(dir).unwrap().head().unwrap().seq == 0;
    let mut batches = Vec::new();
    if first {
        batches.push(common::events(
            &json!({"kind":"county_registered","county":"a","name":"甲县","registered_on":"2021-01-01"}),
        ));
    }
    let base = if first { 0 } else { 1000 };
    for i in base..base + n {
        batches.push(common::events(
            &json!({"kind":"revenue_collected","county":"a","amount":format!("{}.00", i + 1),"collected_on":"2021-02-01","idempotency_key":format!("k{i}")}),
        ));
    }
    common::append_in_process(dir, batches);
}

#[test]
fn a_partial_snapshot_left_by_a_killed_process_does_not_lock_the_log_away() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    build(&dir, 20);
    // What sled 0.34.7 itself does with such files: refuses to open.
    std::fs::write(dir.join("snap.FFFFFFFFFFFFFFF0.generating"), b"").unwrap();
    assert!(
        sled::Config::new().path(&dir).open().is_err(),
        "sled alone refuses a log with an empty unfinished snapshot"
    );
    // Empty, and cut off mid-write: both are cleared by sanbao's open.
    std::fs::write(
        dir.join("snap.FFFFFFFFFFFFFFFF.generating"),
        vec![7u8; 4096],
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sanbao"))
        .arg("--data")
        .arg(&dir)
        .args(["verify", "--json"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["records"], 21);
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".generating"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The log appends on, and keeps its keys.
    build(&dir, 1);
    let store = Store::open(&dir).unwrap();
    assert!(matches!(
        log::verify(&store, None, |_| {}).unwrap(),
        Verified::Ok { records: 22, .. }
    ));
    assert_eq!(store.idempotency_seq("k19").unwrap(), Some(21));
}

#[test]
fn a_second_process_waits_for_the_lock_and_never_touches_a_snapshot_in_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    build(&dir, 3);
    // While this process holds the log, another sanbao waits (and clears nothing);
    // once it is released, the other one proceeds.
    let held = Store::open(&dir).unwrap();
    std::fs::write(dir.join("snap.FFFFFFFFFFFFFFFF.generating"), b"in progress").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sanbao"))
        .arg("--data")
        .arg(&dir)
        .args(["verify", "--json"])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "it waits for the lock");
    assert!(
        dir.join("snap.FFFFFFFFFFFFFFFF.generating").exists(),
        "a waiting process touches nothing"
    );
    std::fs::remove_file(dir.join("snap.FFFFFFFFFFFFFFFF.generating")).unwrap();
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
}
