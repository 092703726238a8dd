//! `sanbao-bench startup`: the time from `sanbao serve` start to its readiness line on
//! a log of N events — once without a snapshot (the whole log verified and folded),
//! then from the snapshot that first start wrote, as a restarted service starts.
//!
//! Guarantees: the measured starts begin from a snapshot (the first start must have
//! written one); each started server is stopped before the next starts.

use crate::common::{build_log, note, sanbao_bin, Scratch};
use crate::server::{make_token, start_server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// `sanbao-bench startup`: builds a log of `events` events, then starts the server on
/// it `runs` times (after a first start that writes the snapshot).
pub(crate) fn startup(
    scratch: &Scratch,
    seed: u64,
    events: usize,
    counties: u32,
    runs: usize,
    sanbao: Option<PathBuf>,
) -> (&'static str, Value, Value) {
    let params =
        json!({"events": events, "counties": counties, "runs": runs, "page_cache": "warm"});
    let bin = sanbao_bin(sanbao);
    let data = scratch.log_dir();
    let built = build_log(&data, seed, counties, events);
    let tokens = scratch.path.join("tokens.json");
    make_token(&bin, &data, &tokens);
    let mut results = serve_starts(&bin, &data, &tokens, runs, events);
    results["build"] = built;
    ("startup", params, results)
}

/// Starts `sanbao serve` on the log in `data` once without a snapshot (which writes
/// one), then `runs` times from that snapshot; returns the readiness times (best,
/// median, each), the stop times, the first start's, and the snapshot's size.
pub(crate) fn serve_starts(
    bin: &Path,
    data: &Path,
    tokens: &Path,
    runs: usize,
    events: usize,
) -> Value {
    // The first start finds no snapshot: it verifies and folds the whole log, then
    // writes one (in the background; stopping waits for it). The measured starts
    // begin from that snapshot, as a restarted service does.
    note("first start (no snapshot yet: the whole log is verified)");
    let (server, first_ready) = start_server(bin, data, tokens);
    let first_stop = server.stop();
    let snapshot_bytes = std::fs::metadata(sanbao::log::snapshot::path(data))
        .map(|m| m.len())
        .expect("the first start wrote a snapshot");
    let mut ready = Vec::new();
    let mut stop = Vec::new();
    for _ in 0..runs.max(1) {
        note("starting sanbao serve (from the snapshot)");
        let (server, r) = start_server(bin, data, tokens);
        ready.push(r.as_secs_f64());
        stop.push(server.stop().as_secs_f64());
    }
    let best = ready.iter().copied().fold(f64::MAX, f64::min);
    let mut sorted = ready.clone();
    sorted.sort_by(f64::total_cmp);
    json!({"ready_s_best": best, "ready_s_median": sorted[sorted.len() / 2],
           "ready_s": ready, "stop_s": stop,
           "without_snapshot": {"ready_s": first_ready.as_secs_f64(),
                                "stop_s_incl_snapshot_write": first_stop.as_secs_f64()},
           "snapshot_bytes": snapshot_bytes,
           "snapshot_bytes_per_event": snapshot_bytes as f64 / events as f64})
}
