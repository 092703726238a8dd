//! What the workloads share: the scratch directory, progress notes, the machine a
//! figure was measured on, units and latency percentiles, the in-process writer, the
//! pooled workload in batches, building a log (in one go, or streamed through the
//! import path for logs of millions), per-county streams for concurrent producers on
//! top of a log, and where the `sanbao` binary is.
//!
//! Guarantees: the scratch directory is fresh per run and removed on drop unless
//! kept; progress goes to standard error only (standard output is the report); a
//! built log holds exactly the events asked for (asserted).

use sanbao::bench::workload::{self, CityFunding, Config, Generator};
use sanbao::event::{Event, InputEvent};
use sanbao::log::writer::{Chain, Pending, Prepared, IMPORT_IN_FLIGHT};
use sanbao::log::{self, Store, SystemClock, Writer};
use sanbao::values::Month;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
/// A scratch directory, removed on drop unless kept.
pub(crate) struct Scratch {
    /// The directory itself.
    pub(crate) path: PathBuf,
    keep: bool,
}

impl Scratch {
    /// A fresh directory under `parent` (named after this process and the time);
    /// with `keep`, its path goes to standard error and it is not removed.
    pub(crate) fn new(parent: &Path, keep: bool) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = parent.join(format!("sanbao-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create the scratch directory");
        if keep {
            eprintln!("scratch directory: {}", path.display());
        }
        Scratch { path, keep }
    }

    /// Where the workload's log lives: `log` in the scratch directory.
    pub(crate) fn log_dir(&self) -> PathBuf {
        self.path.join("log")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A progress note, on standard error.
pub(crate) fn note(msg: impl AsRef<str>) {
    eprintln!("sanbao-bench: {}", msg.as_ref());
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them (empty when
/// it cannot be read).
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The machine a figure was measured on.
pub(crate) fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    // The commit measured: SANBAO_GIT_COMMIT at build time (set it when building
    // from an export of a commit), else what the source tree says now.
    let git = option_env!("SANBAO_GIT_COMMIT")
        .map(str::to_string)
        .or_else(|| {
            Command::new("git")
                .args([
                    "-C",
                    env!("CARGO_MANIFEST_DIR"),
                    "describe",
                    "--always",
                    "--dirty",
                ])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        });
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "load_before": loadavg(),
        "git": git,
        "sanbao_version": env!("CARGO_PKG_VERSION"),
    })
}

/// A duration in milliseconds, to the microsecond.
pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A rate: `n` per second over `d`, rounded.
pub(crate) fn per_s(n: usize, d: Duration) -> f64 {
    (n as f64 / d.as_secs_f64()).round()
}

/// Latency percentiles (nearest rank) of durations in nanoseconds, in milliseconds.
pub(crate) fn latency(mut ns: Vec<u64>) -> Value {
    if ns.is_empty() {
        return Value::Null;
    }
    ns.sort_unstable();
    let at = |p: f64| {
        let i = ((p * ns.len() as f64).ceil() as usize).clamp(1, ns.len()) - 1;
        ns[i] as f64 / 1e6
    };
    let mean = ns.iter().map(|&x| x as f64).sum::<f64>() / ns.len() as f64 / 1e6;
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "p50_ms": r(at(0.50)), "p90_ms": r(at(0.90)), "p99_ms": r(at(0.99)),
        "p999_ms": r(at(0.999)), "max_ms": r(at(1.0)), "mean_ms": r(mean),
    })
}

/// Total size of the files under `dir`.
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Opens (creating) the log in `dir` and starts the real writer over it.
pub(crate) fn start_writer(dir: &Path) -> (Writer, log::WriterThread) {
    let store = Store::open(dir).expect("open the log");
    let state = log::load_state(&store, None, |_| {}).expect("fold the log");
    Writer::start(store, state, Box::new(SystemClock))
}

/// Pooled, in-order workload of `n` events over `counties`, split into batches.
pub(crate) fn pooled_batches(
    seed: u64,
    counties: u32,
    n: usize,
    batch: usize,
) -> Vec<Vec<InputEvent>> {
    let mut cfg = Config::new(seed, counties);
    cfg.first_seq = Some(1);
    let mut out = Vec::with_capacity(n.div_ceil(batch));
    let mut gen = Generator::new(cfg);
    let mut left = n;
    while left > 0 {
        let k = left.min(batch);
        out.push(
            gen.by_ref()
                .take(k)
                .map(|g| workload::input(g.event))
                .collect(),
        );
        left -= k;
    }
    out
}

/// Builds a log of `n` pooled events in batches of 10,000 (not a measurement; the
/// rate is reported for information).
pub(crate) fn build_log(dir: &Path, seed: u64, counties: u32, n: usize) -> Value {
    note(format!("generating {n} events over {counties} counties"));
    let t = Instant::now();
    let batches = pooled_batches(seed, counties, n, log::writer::MAX_BATCH_EVENTS);
    let gen = t.elapsed();
    note("writing the log");
    let (writer, thread) = start_writer(dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t = Instant::now();
    for b in batches {
        rt.block_on(writer.append(b, None))
            .expect("workload accepted");
    }
    let wrote = t.elapsed();
    drop(writer);
    let store = thread.join();
    let head = store.head().expect("head").seq;
    assert_eq!(head, n as u64, "every event was appended");
    json!({"generate_s": gen.as_secs_f64(), "write_s": wrote.as_secs_f64(),
           "write_events_per_s": per_s(n, wrote), "disk_bytes": store.size_on_disk()})
}

/// Imports `n` pooled events over `counties` into the empty log in `dir` as `sanbao
/// import` does (batches of `batch`, two in flight in one chain), generating each
/// batch while the writer works on the ones before it. Only a few batches are ever in
/// memory, so this scales to 10M events; a note goes to stderr every million. Not a
/// measurement of record (the rate is reported for information). Also returns the
/// month after the last one generated: every event of the log is dated before it.
pub(crate) fn import_log(
    dir: &Path,
    seed: u64,
    counties: u32,
    n: usize,
    batch: usize,
) -> (Value, Month) {
    let batch = batch.clamp(1, log::writer::MAX_BATCH_EVENTS);
    note(format!(
        "generating and importing {n} events over {counties} counties"
    ));
    let mut cfg = Config::new(seed, counties);
    cfg.first_seq = Some(1);
    let mut gen = Generator::new(cfg);
    let (writer, thread) = start_writer(dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let chain = Chain::new();
    let mut in_flight: std::collections::VecDeque<Pending> = std::collections::VecDeque::new();
    let (mut done, mut generate, mut next_note) = (0usize, Duration::ZERO, 1_000_000usize);
    let t = Instant::now();
    while done < n {
        let k = (n - done).min(batch);
        let g = Instant::now();
        let b: Vec<InputEvent> = gen
            .by_ref()
            .take(k)
            .map(|g| workload::input(g.event))
            .collect();
        let b = Prepared::new(b);
        generate += g.elapsed();
        if in_flight.len() == IMPORT_IN_FLIGHT {
            let pending = in_flight.pop_front().expect("full");
            rt.block_on(pending.wait()).expect("workload accepted");
        }
        let pending = rt
            .block_on(writer.submit_in(&chain, b))
            .expect("writer running");
        in_flight.push_back(pending);
        done += k;
        if done >= next_note {
            note(format!(
                "imported {done} of {n} events in {:.1} s",
                t.elapsed().as_secs_f64()
            ));
            next_note += 1_000_000;
        }
    }
    for pending in in_flight {
        rt.block_on(pending.wait()).expect("workload accepted");
    }
    let wall = t.elapsed();
    drop(writer);
    let store = thread.join();
    store.sync().expect("sync");
    let head = store.head().expect("head").seq;
    assert_eq!(head, n as u64, "every event was imported");
    let built = json!({"events": n, "counties": counties, "batch": batch, "funding": "pooled",
           "wall_s": wall.as_secs_f64(), "events_per_s": per_s(n, wall),
           "generate_s": generate.as_secs_f64(), "disk_bytes": store.size_on_disk()});
    (built, gen.next_month())
}

/// Per-county workload for concurrent producers: the first `n` events of counties
/// `first..first + counties` (funding per county, so any interleaving of the streams
/// passes the rules) from 1 January of `start_year`, dealt to `owners` streams by
/// county (county `first + i` to stream `i % owners`, in its own order). With `first`
/// past a log's counties and `start_year` after its latest date, the streams append
/// on top of that log.
pub(crate) fn owned_events(
    seed: u64,
    first: u32,
    counties: u32,
    start_year: i32,
    n: usize,
    owners: usize,
) -> Vec<Vec<Event>> {
    let owners = owners.max(1);
    let mut cfg = Config::new(seed, first + counties);
    cfg.only = Some(first..first + counties);
    cfg.funding = CityFunding::PerCounty;
    cfg.start_year = start_year;
    let mut streams: Vec<Vec<Event>> = vec![Vec::new(); owners];
    for g in Generator::new(cfg).take(n) {
        let county = g.county.expect("per-county events have an owner");
        streams[(county - first) as usize % owners].push(g.event);
    }
    streams
}

/// The `sanbao` binary: `flag` when given, else the one next to this binary.
pub(crate) fn sanbao_bin(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| {
        std::env::current_exe()
            .expect("current exe")
            .with_file_name("sanbao")
    })
}
