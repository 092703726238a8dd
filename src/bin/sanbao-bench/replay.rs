//! `sanbao-bench replay`: rebuilding the folded state from a log (fold, verify, and
//! both in one read), each measured in a fresh process (the hidden `replay-child`),
//! then the folded state alone, then `sanbao replay --json` end to end.
//!
//! Guarantees: each fold, verify or audit child has read every record (its count is
//! asserted); a failed child, or a failed verification, stops the run; each child
//! prints one JSON line on standard output.

use crate::common::{build_log, note, sanbao_bin, Scratch};
use sanbao::bench::workload::{Config, Generator};
use sanbao::log::{self, Store, Verified};
use sanbao::state::State;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A field of `/proc/self/status` in KiB (`VmRSS:`, `VmHWM:`), 0 when unknown.
fn vm_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs in a fresh process: one measurement, printed as one JSON line.
pub(crate) fn replay_child(data: &Path, mode: &str) {
    let t = Instant::now();
    let store = Store::open(data).expect("open the log");
    let open = t.elapsed();
    let rss_open = vm_kib("VmRSS:");
    let t = Instant::now();
    let mut records = 0;
    if mode == "audit" {
        // The auditor's path as `replay` and `serve` take it: one read, every hash
        // checked while the state is folded.
        let s: State = log::load_verified(&store, |_| {}).expect("audit");
        let out = json!({"mode": mode, "records": s.head_seq, "open_s": open.as_secs_f64(),
            "seconds": t.elapsed().as_secs_f64(), "verify_s": t.elapsed().as_secs_f64(),
            "vmhwm_kib": vm_kib("VmHWM:"), "vmrss_kib": vm_kib("VmRSS:"), "rss_after_open_kib": rss_open,
            "counties": s.county_count()});
        println!("{out}");
        return;
    }
    if mode == "verify" {
        match log::verify(&store, None, |_| {}).expect("verify") {
            Verified::Ok { records: n, .. } => records = n,
            Verified::Bad {
                first_bad_seq,
                reason,
            } => {
                panic!("verification failed at {first_bad_seq}: {reason}")
            }
        }
    }
    let verified = t.elapsed();
    let mut state_counties = 0;
    if mode == "fold" {
        let s: State = log::load_state(&store, None, |_| {}).expect("fold");
        records = s.head_seq;
        state_counties = s.county_count();
        // Keep the state alive until memory is read.
        let out = json!({"mode": mode, "records": records, "open_s": open.as_secs_f64(),
            "seconds": t.elapsed().as_secs_f64(), "verify_s": verified.as_secs_f64(),
            "vmhwm_kib": vm_kib("VmHWM:"), "vmrss_kib": vm_kib("VmRSS:"), "rss_after_open_kib": rss_open,
            "counties": state_counties});
        println!("{out}");
        drop(s);
        return;
    }
    let out = json!({"mode": mode, "records": records, "open_s": open.as_secs_f64(),
        "seconds": t.elapsed().as_secs_f64(), "verify_s": verified.as_secs_f64(),
        "vmhwm_kib": vm_kib("VmHWM:"), "vmrss_kib": vm_kib("VmRSS:"), "rss_after_open_kib": rss_open,
        "counties": state_counties});
    println!("{out}");
}

/// Runs in a fresh process: folds the generated workload (no store, no hashes) and
/// reports the peak memory, i.e. what the folded state itself costs, and where it
/// goes ([`sanbao::state::State::footprint`]: heap bytes and entries by part).
pub(crate) fn state_child(seed: u64, counties: u32, events: usize) {
    let mut cfg = Config::new(seed, counties);
    cfg.first_seq = Some(1);
    let t = Instant::now();
    let s = sanbao::bench::fold_unhashed(Generator::new(cfg).take(events).map(|g| g.event));
    let out = json!({"mode": "state", "records": s.head_seq, "seconds": t.elapsed().as_secs_f64(),
        "vmhwm_kib": vm_kib("VmHWM:"), "vmrss_kib": vm_kib("VmRSS:"), "counties": s.county_count(),
        "footprint": footprint_json(&s.footprint())});
    println!("{out}");
}

/// Runs one measurement of `mode` (fold, verify, audit) on the log in `dir` in a fresh
/// process (this binary's hidden `replay-child`); returns its JSON line (`records`,
/// `seconds`, `vmhwm_kib`: the child's peak resident memory, …).
pub(crate) fn replay_in_child(dir: &Path, mode: &str) -> Value {
    let me = std::env::current_exe().expect("current exe");
    let out = Command::new(&me)
        .args(["replay-child", "--mode", mode, "--data"])
        .arg(dir)
        .stderr(Stdio::inherit())
        .output()
        .expect("run the replay child");
    assert!(out.status.success(), "replay child failed");
    serde_json::from_slice(&out.stdout).expect("child JSON")
}

/// Runs `sanbao replay --json` on the log in `dir` under `/usr/bin/time`; returns its
/// wall time in seconds and its peak resident memory in KiB (0 when unknown).
pub(crate) fn cli_replay(bin: &Path, dir: &Path) -> (f64, u64) {
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(bin)
        .arg("--data")
        .arg(dir)
        .args(["replay", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run sanbao replay");
    let seconds = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "sanbao replay failed");
    let kib = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse::<u64>().ok())
        .unwrap_or(0);
    (seconds, kib)
}

/// `sanbao-bench replay`: builds a log of `events` events, then measures each way of
/// reading it `runs` times.
pub(crate) fn replay(
    scratch: &Scratch,
    seed: u64,
    events: usize,
    counties: u32,
    runs: usize,
    sanbao: Option<PathBuf>,
) -> (&'static str, Value, Value) {
    let params =
        json!({"events": events, "counties": counties, "runs": runs, "page_cache": "warm"});
    let dir = scratch.log_dir();
    let built = build_log(&dir, seed, counties, events);
    let me = std::env::current_exe().expect("current exe");
    let mut results = json!({"build": built});
    for mode in ["fold", "verify", "audit"] {
        let mut v = Vec::new();
        for _ in 0..runs.max(1) {
            note(format!("replay ({mode})"));
            let r = replay_in_child(&dir, mode);
            assert_eq!(r["records"], json!(events));
            v.push(r);
        }
        let best = v
            .iter()
            .map(|r| r["seconds"].as_f64().unwrap_or(f64::MAX))
            .fold(f64::MAX, f64::min);
        results[mode] = json!({
            "events_per_s_best": (events as f64 / best).round(),
            "peak_rss_mib": v.iter().map(|r| r["vmhwm_kib"].as_u64().unwrap_or(0)).max().unwrap_or(0) as f64 / 1024.0,
            "runs": v,
        });
    }
    // The folded state alone: the same workload folded without any store.
    let out = Command::new(&me)
        .args([
            "--seed",
            &seed.to_string(),
            "replay-child",
            "--mode",
            "state",
            "--data",
        ])
        .arg(&dir)
        .args([
            "--events",
            &events.to_string(),
            "--counties",
            &counties.to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run the state child");
    assert!(out.status.success(), "state child failed");
    let r: Value = serde_json::from_slice(&out.stdout).expect("child JSON");
    results["state_only"] =
        json!({"peak_rss_mib": r["vmhwm_kib"].as_u64().unwrap_or(0) as f64 / 1024.0, "run": r});
    // End to end: the auditor's command itself (verify + fold + issued plans + JSON out).
    let bin = sanbao_bin(sanbao);
    if bin.exists() {
        let mut times = Vec::new();
        let mut peak = 0u64;
        for _ in 0..runs.max(1) {
            note("sanbao replay --json");
            let (seconds, kib) = cli_replay(&bin, &dir);
            times.push(seconds);
            peak = peak.max(kib);
        }
        let best = times.iter().copied().fold(f64::MAX, f64::min);
        results["cli_replay"] = json!({"seconds": times, "events_per_s_best": (events as f64 / best).round(),
                                       "peak_rss_mib": peak as f64 / 1024.0});
    }
    ("replay", params, results)
}

/// A footprint as JSON: each part's MiB and entries, and the total.
fn footprint_json(f: &sanbao::state::Footprint) -> Value {
    let mib = |b: usize| (b as f64 / 1048576.0 * 10.0).round() / 10.0;
    let parts: Vec<Value> = f
        .parts
        .iter()
        .map(|(name, bytes, entries)| json!({"part": name, "mib": mib(*bytes), "entries": entries}))
        .collect();
    json!({"parts": parts, "total_mib": mib(f.total())})
}
