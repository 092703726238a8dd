//! Crashes: runs `sanbao-chaos --cycles 20` (see `src/bin/sanbao-chaos.rs`): each
//! cycle SIGKILLs `sanbao serve` under concurrent HTTP appends, lets waiting CLI
//! appends run and SIGKILLs some of them, restarts, retries every unacknowledged
//! append with its idempotency key, and checks that every acknowledged record is
//! there with its seq and hash, seqs are contiguous, the chain verifies and no key is
//! recorded twice. This test asserts on the harness's JSON summary.
//!
//! Hundreds of cycles: `cargo run --release --bin sanbao-chaos -- --cycles 500`.

use serde_json::Value;
use std::process::Command;

#[test]
fn twenty_kill_cycles_lose_nothing_acknowledged_and_never_duplicate_a_retry() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_sanbao-chaos"))
        .args(["--cycles", "20", "--seed", "20261128", "--dir"])
        .arg(&dir)
        .arg("--sanbao")
        .arg(env!("CARGO_BIN_EXE_sanbao"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run sanbao-chaos");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{progress}");
    let s: Value = serde_json::from_str(stdout.trim()).expect("one JSON summary");
    println!("{}", s);
    assert_eq!(s["ok"], true, "{s}");
    assert_eq!(s["cycles"], 20);
    assert_eq!(s["serve_kills"], 20, "serve was SIGKILLed once per cycle");
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"));
    assert!(
        n("http_acked") > 0 && n("cli_acked") >= 20,
        "both kinds appended: {s}"
    );
    // Every key ended up recorded exactly once: the log holds exactly the keys.
    assert_eq!(n("records"), n("keys"), "{s}");
    assert_eq!(n("retries"), n("retried_duplicates") + n("retried_new"));
    // After every restart and between every two lifetimes: 2 checks a cycle + 2 at the end.
    assert_eq!(n("checks"), 2 * 20 + 2);
    assert!(n("records_checked") >= n("records"));
}
