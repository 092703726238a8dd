//! `sanbao-bench scale` (issue 21): whether the figures stay flat as the log grows.
//! Two pooled logs of the same seed and counties are imported in process (as
//! `sanbao import` sends batches, streamed so 10M events never sit in memory): a big
//! one of `--events` (e.g. 10,000,000) and a small one of `--small-events` (100,000,
//! a prefix of the big one). Then, in this order:
//! - **disk**: the big log's bytes on disk per event against the bincode size of its
//!   records (as `import` reports `disk_over_bincode`);
//! - **replay memory**: the peak resident memory (VmHWM) of a fresh process running
//!   the audit replay (`log::load_verified`, as `replay`'s `audit` mode), and of
//!   `sanbao replay --json` on the data directory (`/usr/bin/time`'s peak);
//! - **serve start**: `sanbao serve` started once without a snapshot (which writes
//!   one), then `--runs` times from the snapshot (as `startup`);
//! - **appends**: `--appends` durable single-event appends from `--producers`
//!   concurrent in-process producers (as `append`) on top of the small log, then the
//!   same events on top of the big one, and the ratios big / small. The appended
//!   events are per-county streams of `2 × --producers` new counties starting on 1
//!   January of the year after the big log's last month, so they pass the rules on
//!   both logs and never backdate them.
//!
//! Guarantees: each log holds exactly the events asked for and, after the appends,
//! those plus `--appends` (asserted); the audit child has read every record
//! (asserted); a failed child or `sanbao` command stops the run. Progress notes go to
//! standard error (importing 10M takes minutes). The generator stops at December
//! 2099: 500 counties make about 13,700 events a month, so the big log of 500
//! counties must stay under about 12M events (more counties allow more); a log that
//! leaves no room for the appends stops the run before they start.

use crate::append::run_producers;
use crate::common::{
    dir_bytes, import_log, latency, note, owned_events, per_s, sanbao_bin, Scratch,
};
use crate::replay::{cli_replay, replay_in_child};
use crate::server::make_token;
use crate::startup::serve_starts;
use sanbao::bench::workload;
use sanbao::log::Store;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The options of `sanbao-bench scale` (see its command line).
pub(crate) struct ScaleArgs {
    /// Events of the big log.
    pub(crate) events: usize,
    /// Events of the small log.
    pub(crate) small_events: usize,
    /// Counties of both logs.
    pub(crate) counties: u32,
    /// Concurrent append producers.
    pub(crate) producers: usize,
    /// Events appended on top of each log.
    pub(crate) appends: usize,
    /// Measured starts of `sanbao serve` from the snapshot.
    pub(crate) runs: usize,
    /// The sanbao binary [default: next to this one].
    pub(crate) sanbao: Option<PathBuf>,
}

/// The log in `dir`'s bytes on disk and in files per event, against the bincode
/// size of its records (each record decoded and re-encoded, as `import` does).
fn disk(dir: &Path, events: usize) -> Value {
    note("reading every record for its bincode size");
    let store = Store::open(dir).expect("open the log");
    let (mut bincode_bytes, mut n) = (0u64, 0u64);
    for item in store.raw_range(1, u64::MAX) {
        let r = item.expect("read").decode().expect("decode");
        bincode_bytes += r.encode().len() as u64 - 1;
        n += 1;
    }
    assert_eq!(n, events as u64, "every record was read");
    let disk = store.size_on_disk();
    drop(store);
    let files = dir_bytes(dir);
    let bincode_per = bincode_bytes as f64 / n as f64;
    json!({"disk_bytes": disk, "disk_bytes_per_event": disk as f64 / n as f64,
           "files_bytes_per_event": files as f64 / n as f64,
           "bincode_bytes_per_event": bincode_per,
           "disk_over_bincode": (disk as f64 / n as f64) / bincode_per})
}

/// Appends `streams` on top of the log in `dir` of `before` events; the rate, the
/// latency and the writer's group commits.
fn appends_on(dir: &Path, before: usize, streams: Vec<Vec<sanbao::event::InputEvent>>) -> Value {
    let events: usize = streams.iter().map(Vec::len).sum();
    note(format!("{events} appends on the log of {before} events"));
    let (wall, lat, groups, store) = run_producers(dir, streams);
    let head = store.head().expect("head").seq;
    assert_eq!(head, (before + events) as u64, "every event was appended");
    json!({"log_events": before, "events_per_s": per_s(events, wall), "wall_s": wall.as_secs_f64(),
           "latency": latency(lat), "group_commits": groups})
}

/// `a / b` to three decimals (null when either is missing).
fn ratio(a: &Value, b: &Value) -> Value {
    match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) if b > 0.0 => json!((a / b * 1000.0).round() / 1000.0),
        _ => Value::Null,
    }
}

/// `sanbao-bench scale`: the measurements of the module docs, one JSON report.
pub(crate) fn scale(scratch: &Scratch, seed: u64, a: ScaleArgs) -> (&'static str, Value, Value) {
    let producers = a.producers.max(1);
    let bin = sanbao_bin(a.sanbao);
    let big = scratch.path.join("big");
    let small = scratch.path.join("small");
    let t = Instant::now();
    note(format!("the small log: {} events", a.small_events));
    let (small_built, _) = import_log(&small, seed, a.counties, a.small_events, 1000);
    note(format!("the big log: {} events", a.events));
    let (big_built, next_month) = import_log(&big, seed, a.counties, a.events, 1000);
    let disk = disk(&big, a.events);

    note("replay (audit) in a fresh process");
    let audit = replay_in_child(&big, "audit");
    assert_eq!(
        audit["records"],
        json!(a.events),
        "the audit read every record"
    );
    let audit_s = audit["seconds"].as_f64().unwrap_or(0.0);
    let mut replay = json!({"audit": {
        "peak_rss_mib": audit["vmhwm_kib"].as_u64().unwrap_or(0) as f64 / 1024.0,
        "seconds": audit_s, "events_per_s": (a.events as f64 / audit_s.max(1e-9)).round(),
    }});
    if bin.exists() {
        note("sanbao replay --json");
        let (seconds, kib) = cli_replay(&bin, &big);
        replay["cli_replay"] = json!({"peak_rss_mib": kib as f64 / 1024.0, "seconds": seconds,
            "events_per_s": (a.events as f64 / seconds.max(1e-9)).round()});
    }

    let tokens = scratch.path.join("tokens.json");
    make_token(&bin, &big, &tokens);
    let startup = serve_starts(&bin, &big, &tokens, a.runs, a.events);

    // The same appended events on both logs: new counties, after the big log's dates.
    let append_counties = 2 * producers as u32;
    let start_year = next_month.year() + 1;
    assert!(
        start_year <= 2094,
        "the big log ends in {next_month}: no room for the appends before 2099 (use more --counties)"
    );
    note(format!(
        "generating {} appends for {producers} producers over {append_counties} new counties from {start_year}",
        a.appends
    ));
    let streams: Vec<Vec<_>> = owned_events(
        seed,
        a.counties,
        append_counties,
        start_year,
        a.appends,
        producers,
    )
    .into_iter()
    .map(|s| s.into_iter().map(workload::input).collect())
    .collect();
    let on_small = appends_on(&small, a.small_events, streams.clone());
    let on_big = appends_on(&big, a.events, streams);
    let ratios = json!({
        "events_per_s": ratio(&on_big["events_per_s"], &on_small["events_per_s"]),
        "p50": ratio(&on_big["latency"]["p50_ms"], &on_small["latency"]["p50_ms"]),
        "p99": ratio(&on_big["latency"]["p99_ms"], &on_small["latency"]["p99_ms"]),
    });
    let params = json!({"events": a.events, "small_events": a.small_events, "counties": a.counties,
        "producers": producers, "appends": a.appends, "append_counties": append_counties,
        "append_from_year": start_year, "runs": a.runs,
        "funding": "pooled logs, per_county appends", "page_cache": "warm"});
    let results = json!({
        "append": {"big": on_big, "small": on_small, "big_over_small": ratios},
        "startup": startup, "replay": replay, "disk": disk,
        "build": {"big": big_built, "small": small_built},
        "total_s": t.elapsed().as_secs_f64(),
    });
    ("scale", params, results)
}
