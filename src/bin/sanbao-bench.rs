//! `sanbao-bench`: measures sanbao on seeded, realistic workloads (issue 6).
//!
//! Every subcommand prints one JSON object per line on standard output — the
//! workload's parameters, the results and the machine — so that any run can be
//! repeated exactly; on a terminal it also prints a readable table. Progress goes to
//! standard error. Data lives in a fresh directory under `--dir` (default: the
//! system's temporary directory) and is removed afterwards unless `--keep`.
//!
//! ```text
//! sanbao-bench append  --producers 64 --events 200000
//! sanbao-bench import  --events 1000000 --batch 1000
//! sanbao-bench replay  --events 1000000
//! sanbao-bench plan    --counties 3000
//! sanbao-bench http    --connections 64 --seconds 10
//! sanbao-bench startup --events 1000000
//! ```
//!
//! Workloads come from [`sanbao::bench::workload`]; nothing here changes how sanbao
//! works, it only drives the real writer, store, planner and `sanbao serve`.

use clap::{Parser, Subcommand};

/// The same allocator as the `sanbao` binary, so in-process workloads measure what it
/// runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use sanbao::bench::workload::{self, CityFunding, Config, Generator};
use sanbao::event::InputEvent;
use sanbao::log::writer::{Chain, Pending, Prepared, IMPORT_IN_FLIGHT};
use sanbao::log::{self, Store, SystemClock, Verified, Writer};
use sanbao::state::State;
use sanbao::values::Month;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The command line.
#[derive(Parser, Debug)]
#[command(
    name = "sanbao-bench",
    version,
    about = "Measure sanbao on seeded, realistic workloads; one JSON object per line"
)]
struct Cli {
    /// Parent of the scratch data directory [default: the system temp dir]
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// Seed of the workload generator
    #[arg(long, global = true, default_value_t = 20210101)]
    seed: u64,
    /// Keep the scratch directory (its path goes to stderr)
    #[arg(long, global = true)]
    keep: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Durable single-event appends from concurrent in-process producers through the writer
    Append {
        /// Concurrent producers (tokio tasks), each awaiting its append before the next
        #[arg(long, default_value_t = 64)]
        producers: usize,
        /// Events appended in all
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        /// Counties (each owned by one producer) [default: 2 × producers]
        #[arg(long)]
        counties: Option<u32>,
        /// Give every event an idempotency key (as a careful client would)
        #[arg(long)]
        keys: bool,
    },
    /// Bulk appends of batches through the writer, as `sanbao import` sends them (two in
    /// flight in one chain: one written while the next is checked)
    Import {
        /// Events appended in all
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Events per batch
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Counties in the history
        #[arg(long, default_value_t = 500)]
        counties: u32,
        /// Concurrent importers. 1 (the default): one sequential loader over the
        /// pooled city history, as `sanbao import` does. More: each owns a share of
        /// the counties (per-county funding, so any interleaving passes the rules),
        /// as DESIGN.md's PostgreSQL figure used 4 clients
        #[arg(long, default_value_t = 1)]
        clients: usize,
    },
    /// Rebuild the folded state from the log (load_state) and verify the chain, in a fresh process
    Replay {
        /// Events in the log
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Counties in the history
        #[arg(long, default_value_t = 500)]
        counties: u32,
        /// Measurements of each kind
        #[arg(long, default_value_t = 2)]
        runs: usize,
        /// The sanbao binary (for the end-to-end `sanbao replay`) [default: next to this one]
        #[arg(long)]
        sanbao: Option<PathBuf>,
    },
    /// A year of history for N counties, then the next month's plan from the folded state
    Plan {
        /// Counties
        #[arg(long, default_value_t = 3000)]
        counties: u32,
        /// Months of history (from January 2021)
        #[arg(long, default_value_t = 12)]
        months: u32,
        /// Plans computed (each timed)
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// Single-event appends over HTTP/1.1 keep-alive on loopback to a `sanbao serve` child
    Http {
        /// Concurrent connections, each sending one request at a time
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Measured seconds (after the warm-up)
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Warm-up seconds, not measured
        #[arg(long, default_value_t = 1)]
        warmup: u64,
        /// Counties (each owned by one connection) [default: 2 × connections]
        #[arg(long)]
        counties: Option<u32>,
        /// Requests prepared in advance (a connection stops when it has sent its share)
        #[arg(long, default_value_t = 800_000)]
        max_events: usize,
        /// The sanbao binary [default: next to this one]
        #[arg(long)]
        sanbao: Option<PathBuf>,
    },
    /// Time from `sanbao serve` start to its readiness line on a log of N events
    Startup {
        /// Events in the log
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Counties in the history
        #[arg(long, default_value_t = 500)]
        counties: u32,
        /// Starts measured
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// The sanbao binary [default: next to this one]
        #[arg(long)]
        sanbao: Option<PathBuf>,
    },
    /// (internal) one replay measurement in this fresh process
    #[command(hide = true)]
    ReplayChild {
        /// The log directory
        #[arg(long)]
        data: PathBuf,
        /// fold | verify | audit (verify and fold in one read) | state (fold the generated
        /// workload without any store: the state's own memory)
        #[arg(long)]
        mode: String,
        /// Events (mode `state`)
        #[arg(long, default_value_t = 0)]
        events: usize,
        /// Counties (mode `state`)
        #[arg(long, default_value_t = 500)]
        counties: u32,
    },
}

fn main() {
    sanbao::no_huge_pages();
    let cli = Cli::parse();
    if let Cmd::ReplayChild {
        data,
        mode,
        events,
        counties,
    } = &cli.command
    {
        if mode == "state" {
            state_child(cli.seed, *counties, *events);
        } else {
            replay_child(data, mode);
        }
        return;
    }
    let parent = cli.dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = Scratch::new(&parent, cli.keep);
    let machine = machine();
    let (bench, params, results) = match cli.command {
        Cmd::Append {
            producers,
            events,
            counties,
            keys,
        } => append(&scratch, cli.seed, producers, events, counties, keys),
        Cmd::Import {
            events,
            batch,
            counties,
            clients,
        } => import(&scratch, cli.seed, events, batch, counties, clients),
        Cmd::Replay {
            events,
            counties,
            runs,
            sanbao,
        } => replay(&scratch, cli.seed, events, counties, runs, sanbao),
        Cmd::Plan {
            counties,
            months,
            runs,
        } => plan(cli.seed, counties, months, runs),
        Cmd::Http {
            connections,
            seconds,
            warmup,
            counties,
            max_events,
            sanbao,
        } => http(
            &scratch,
            cli.seed,
            HttpArgs {
                connections,
                seconds,
                warmup,
                counties,
                max_events,
                sanbao,
            },
        ),
        Cmd::Startup {
            events,
            counties,
            runs,
            sanbao,
        } => startup(&scratch, cli.seed, events, counties, runs, sanbao),
        Cmd::ReplayChild { .. } => unreachable!("handled above"),
    };
    let mut params = params;
    params["seed"] = json!(cli.seed);
    let mut machine = machine;
    machine["load_after"] = json!(loadavg());
    let report = json!({"bench": bench, "params": params, "results": results, "machine": machine});
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "{report}");
    if stdout.is_terminal() {
        let _ = write!(out, "{}", table(&report));
    }
}

// ---- shared pieces ----------------------------------------------------------------

/// A scratch directory, removed on drop unless kept.
struct Scratch {
    path: PathBuf,
    keep: bool,
}

impl Scratch {
    fn new(parent: &Path, keep: bool) -> Scratch {
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

    fn log_dir(&self) -> PathBuf {
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

fn note(msg: impl AsRef<str>) {
    eprintln!("sanbao-bench: {}", msg.as_ref());
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The machine a figure was measured on.
fn machine() -> Value {
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

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn per_s(n: usize, d: Duration) -> f64 {
    (n as f64 / d.as_secs_f64()).round()
}

/// Latency percentiles (nearest rank) of durations in nanoseconds, in milliseconds.
fn latency(mut ns: Vec<u64>) -> Value {
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
fn dir_bytes(dir: &Path) -> u64 {
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
fn start_writer(dir: &Path) -> (Writer, log::WriterThread) {
    let store = Store::open(dir).expect("open the log");
    let state = log::load_state(&store, None, |_| {}).expect("fold the log");
    Writer::start(store, state, Box::new(SystemClock))
}

/// Pooled, in-order workload of `n` events over `counties`, split into batches.
fn pooled_batches(seed: u64, counties: u32, n: usize, batch: usize) -> Vec<Vec<InputEvent>> {
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
fn build_log(dir: &Path, seed: u64, counties: u32, n: usize) -> Value {
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

// ---- append -------------------------------------------------------------------------

/// The writer's group commits over a run of `events` events, per group.
fn group_stats(writer: &Writer, events: usize) -> Value {
    let s = writer.stats();
    let per = |v: u64| v as f64 / s.groups.max(1) as f64;
    json!({"groups": s.groups, "events_per_group": per(events as u64),
           "jobs_per_group": per(s.jobs), "linger_us_per_group": per(s.linger_us),
           "linger_timeouts": s.linger_timeouts, "work_us_per_group": per(s.work_us),
           "commit_us_per_group": per(s.commit_us), "pipelined": s.pipelined,
           "overlapped": s.overlapped})
}

fn append(
    scratch: &Scratch,
    seed: u64,
    producers: usize,
    events: usize,
    counties: Option<u32>,
    keys: bool,
) -> (&'static str, Value, Value) {
    let producers = producers.max(1);
    let counties = counties.unwrap_or(2 * producers as u32).max(1);
    let params = json!({"producers": producers, "events": events, "counties": counties,
                        "idempotency_keys": keys, "funding": "per_county"});
    note(format!(
        "generating {events} events for {producers} producers over {counties} counties"
    ));
    let mut cfg = Config::new(seed, counties);
    cfg.funding = CityFunding::PerCounty;
    let mut streams: Vec<Vec<InputEvent>> = vec![Vec::new(); producers];
    for (i, g) in Generator::new(cfg).take(events).enumerate() {
        let owner = g.county.expect("per-county events have an owner") as usize % producers;
        let mut e = workload::input(g.event);
        if keys {
            e.idempotency_key = Some(format!("bench-append-{i:09}"));
        }
        streams[owner].push(e);
    }
    let (writer, thread) = start_writer(&scratch.log_dir());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    note("appending");
    let (wall, lat) = rt.block_on(async {
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(producers + 1));
        let mut tasks = Vec::new();
        for stream in streams {
            let w = writer.clone();
            let start = start.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(stream.len());
                start.wait().await;
                for e in stream {
                    let t = Instant::now();
                    w.append(vec![e], None).await.expect("workload accepted");
                    lat.push(t.elapsed().as_nanos() as u64);
                }
                lat
            }));
        }
        start.wait().await;
        let t = Instant::now();
        let mut all = Vec::with_capacity(events);
        for task in tasks {
            all.extend(task.await.expect("producer"));
        }
        (t.elapsed(), all)
    });
    let groups = group_stats(&writer, events);
    drop(writer);
    let store = thread.join();
    let head = store.head().expect("head").seq;
    assert_eq!(head, events as u64, "every event was appended");
    let results = json!({
        "events_per_s": per_s(events, wall), "wall_s": wall.as_secs_f64(),
        "latency": latency(lat), "disk_bytes_per_event": store.size_on_disk() as f64 / events as f64,
        "group_commits": groups,
    });
    ("append", params, results)
}

// ---- import -------------------------------------------------------------------------

fn import(
    scratch: &Scratch,
    seed: u64,
    events: usize,
    batch: usize,
    counties: u32,
    clients: usize,
) -> (&'static str, Value, Value) {
    let batch = batch.clamp(1, log::writer::MAX_BATCH_EVENTS);
    let clients = clients.max(1);
    let funding = if clients == 1 { "pooled" } else { "per_county" };
    let params = json!({"events": events, "batch": batch, "counties": counties,
                        "funding": funding, "clients": clients});
    note(format!(
        "generating {events} events over {counties} counties"
    ));
    let t = Instant::now();
    let streams: Vec<Vec<Vec<InputEvent>>> = if clients == 1 {
        vec![pooled_batches(seed, counties, events, batch)]
    } else {
        let mut cfg = Config::new(seed, counties);
        cfg.funding = CityFunding::PerCounty;
        let mut own: Vec<Vec<InputEvent>> = vec![Vec::new(); clients];
        for g in Generator::new(cfg).take(events) {
            let owner = g.county.expect("per-county events have an owner") as usize % clients;
            own[owner].push(workload::input(g.event));
        }
        own.into_iter()
            .map(|events| {
                let mut it = events.into_iter().peekable();
                let mut out = Vec::new();
                while it.peek().is_some() {
                    out.push(it.by_ref().take(batch).collect());
                }
                out
            })
            .collect()
    };
    let generate = t.elapsed();
    // The parse cost of `sanbao import` (one JSON line per event), measured apart.
    let sample: Vec<String> = streams
        .iter()
        .flatten()
        .flatten()
        .take(100_000)
        .map(|e| e.event.to_json().to_string())
        .collect();
    let t = Instant::now();
    for line in &sample {
        let (_, v) = sanbao::event::read_values(line).expect("json");
        for v in v {
            sanbao::event::Event::parse_object(v).expect("valid");
        }
    }
    let parse = t.elapsed();
    let (writer, thread) = start_writer(&scratch.log_dir());
    note("importing");
    // Each importer does as `sanbao import` does: it keeps two batches with the
    // writer, in one chain (so nothing is written after a refused one), and prepares
    // the next (its hash prefixes) meanwhile. The writer checks the second while the
    // first is written. Each importer has a thread of its own.
    let load = |batches: Vec<Vec<InputEvent>>| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let chain = Chain::new();
        let mut lat = Vec::with_capacity(batches.len());
        let mut in_flight = std::collections::VecDeque::new();
        for b in batches {
            let b = Prepared::new(b);
            if in_flight.len() == IMPORT_IN_FLIGHT {
                let (s, pending): (Instant, Pending) = in_flight.pop_front().expect("full");
                rt.block_on(pending.wait()).expect("workload accepted");
                lat.push(s.elapsed().as_nanos() as u64);
            }
            let s = Instant::now();
            let pending = rt
                .block_on(writer.submit_in(&chain, b))
                .expect("writer running");
            in_flight.push_back((s, pending));
        }
        for (s, pending) in in_flight {
            rt.block_on(pending.wait()).expect("workload accepted");
            lat.push(s.elapsed().as_nanos() as u64);
        }
        lat
    };
    let t = Instant::now();
    let lat: Vec<u64> = std::thread::scope(|sc| {
        let loaders: Vec<_> = streams
            .into_iter()
            .map(|batches| sc.spawn(|| load(batches)))
            .collect();
        loaders
            .into_iter()
            .flat_map(|h| h.join().expect("importer"))
            .collect()
    });
    let wall = t.elapsed();
    let groups = group_stats(&writer, events);
    drop(writer);
    let store = thread.join();
    store.sync().expect("sync");
    let head = store.head().expect("head").seq;
    assert_eq!(head, events as u64, "every event was appended");
    // Stored (compact) bytes, and the bincode size of the whole records that the
    // disk target is measured against.
    let (mut value_bytes, mut bincode_bytes, mut n) = (0u64, 0u64, 0u64);
    let (mut json_bytes, mut json_n) = (0u64, 0u64);
    for item in store.raw_range(1, u64::MAX) {
        let stored = item.expect("read");
        value_bytes += stored.bytes.len() as u64;
        let r = stored.decode().expect("decode");
        bincode_bytes += r.encode().len() as u64 - 1;
        n += 1;
        if stored.seq <= 10_000 {
            json_bytes += r.to_json_line().len() as u64 + 1;
            json_n += 1;
        }
    }
    let disk = store.size_on_disk();
    let blocks = store.block_count();
    drop(store);
    let files = dir_bytes(&scratch.log_dir());
    let value_per = value_bytes as f64 / n as f64;
    let bincode_per = bincode_bytes as f64 / n as f64;
    let results = json!({
        "events_per_s": per_s(events, wall), "wall_s": wall.as_secs_f64(),
        "batch_latency": latency(lat),
        "disk_bytes_per_event": disk as f64 / events as f64,
        "files_bytes_per_event": files as f64 / events as f64,
        "stored_value_bytes_per_event": value_per,
        "bincode_bytes_per_event": bincode_per,
        "group_commits": groups,
        "blocks": blocks,
        "records_per_block": n as f64 / blocks.max(1) as f64,
        // One 9-byte key and 37 bytes of block header per block, 4 bytes of length
        // per record.
        "framing_bytes_per_event": (blocks as f64 * 46.0 + n as f64 * 4.0) / n as f64,
        "disk_over_bincode": (disk as f64 / events as f64) / bincode_per,
        "export_json_bytes_per_event": json_bytes as f64 / json_n.max(1) as f64,
        "generate_events_per_s": per_s(events, generate),
        "parse_json_events_per_s": per_s(sample.len(), parse),
    });
    ("import", params, results)
}

// ---- replay -------------------------------------------------------------------------

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
fn replay_child(data: &Path, mode: &str) {
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
/// reports the peak memory, i.e. what the folded state itself costs.
fn state_child(seed: u64, counties: u32, events: usize) {
    let mut cfg = Config::new(seed, counties);
    cfg.first_seq = Some(1);
    let t = Instant::now();
    let s = sanbao::bench::fold_unhashed(Generator::new(cfg).take(events).map(|g| g.event));
    let out = json!({"mode": "state", "records": s.head_seq, "seconds": t.elapsed().as_secs_f64(),
        "vmhwm_kib": vm_kib("VmHWM:"), "vmrss_kib": vm_kib("VmRSS:"), "counties": s.county_count()});
    println!("{out}");
}

fn sanbao_bin(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| {
        std::env::current_exe()
            .expect("current exe")
            .with_file_name("sanbao")
    })
}

fn replay(
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
            let out = Command::new(&me)
                .args(["replay-child", "--mode", mode, "--data"])
                .arg(&dir)
                .stderr(Stdio::inherit())
                .output()
                .expect("run the replay child");
            assert!(out.status.success(), "replay child failed");
            let r: Value = serde_json::from_slice(&out.stdout).expect("child JSON");
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
            let t = Instant::now();
            let out = Command::new("/usr/bin/time")
                .args(["-f", "%M"])
                .arg(&bin)
                .arg("--data")
                .arg(&dir)
                .args(["replay", "--json"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .expect("run sanbao replay");
            times.push(t.elapsed().as_secs_f64());
            assert!(out.status.success(), "sanbao replay failed");
            let kib = String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .and_then(|l| l.trim().parse::<u64>().ok())
                .unwrap_or(0);
            peak = peak.max(kib);
        }
        let best = times.iter().copied().fold(f64::MAX, f64::min);
        results["cli_replay"] = json!({"seconds": times, "events_per_s_best": (events as f64 / best).round(),
                                       "peak_rss_mib": peak as f64 / 1024.0});
    }
    ("replay", params, results)
}

// ---- plan ---------------------------------------------------------------------------

fn plan(seed: u64, counties: u32, months: u32, runs: usize) -> (&'static str, Value, Value) {
    let cfg = Config::new(seed, counties);
    let start = Month::new(cfg.start_year, 1).expect("valid");
    let month = start.add(months as i32).expect("valid month");
    let params = json!({"counties": counties, "history_months": months, "month": month.to_string(), "runs": runs});
    note(format!(
        "generating {months} months of history for {counties} counties"
    ));
    let t = Instant::now();
    let events: Vec<_> = Generator::new(cfg)
        .until(month)
        .into_iter()
        .map(|g| g.event)
        .collect();
    let generate = t.elapsed();
    let n = events.len();
    note(format!("folding {n} events"));
    let t = Instant::now();
    let state = sanbao::bench::fold_unhashed(events);
    let fold = t.elapsed();
    let mut times = Vec::new();
    let mut shape = Value::Null;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let p = sanbao::query::plan::plan(&state, month);
        times.push(t.elapsed());
        shape = json!({"lines": p.lines.len(), "counties": p.counties.len(),
                       "total_planned": p.total_planned.to_string(), "total_funded": p.total_funded.to_string(),
                       "plan_sha256": p.plan_sha256.to_hex()});
    }
    let mut sorted = times.clone();
    sorted.sort();
    let results = json!({
        "events": n, "generate_s": generate.as_secs_f64(), "fold_unhashed_s": fold.as_secs_f64(),
        "plan_ms_min": ms(sorted[0]), "plan_ms_median": ms(sorted[sorted.len() / 2]),
        "plan_ms_max": ms(sorted[sorted.len() - 1]),
        "plan_ms": times.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        "plan": shape,
    });
    ("plan", params, results)
}

// ---- serve as a child ---------------------------------------------------------------

/// Adds an officer to a tokens file with `sanbao token add`; returns the token.
fn make_token(bin: &Path, data: &Path, tokens: &Path) -> String {
    let out = Command::new(bin)
        .arg("--data")
        .arg(data)
        .args([
            "token", "add", "--name", "bench", "--role", "officer", "--tokens",
        ])
        .arg(tokens)
        .stderr(Stdio::null())
        .output()
        .expect("run sanbao token add");
    assert!(out.status.success(), "sanbao token add failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A running `sanbao serve` and the address it listens on.
struct Server {
    child: Child,
    addr: String,
}

/// Starts `sanbao serve` on port 0 and waits for its readiness line; returns the
/// server and the time it took.
fn start_server(bin: &Path, data: &Path, tokens: &Path) -> (Server, Duration) {
    let t = Instant::now();
    let mut child = Command::new(bin)
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0", "--tokens"])
        .arg(tokens)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sanbao serve");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout
        .read_line(&mut line)
        .expect("read the readiness line");
    let ready = t.elapsed();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected readiness line {line:?}"))
        .to_string();
    (Server { child, addr }, ready)
}

impl Server {
    /// SIGTERM, then wait (SIGKILL after 30 s); returns how long it took to stop.
    fn stop(mut self) -> Duration {
        let t = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            if t.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        t.elapsed()
    }
}

// ---- http ---------------------------------------------------------------------------

struct HttpArgs {
    connections: usize,
    seconds: u64,
    warmup: u64,
    counties: Option<u32>,
    max_events: usize,
    sanbao: Option<PathBuf>,
}

/// Reads one HTTP/1.1 response (Content-Length bodies only); returns the status.
async fn read_response(s: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let total = end + 4 + len;
            while buf.len() < total {
                let n = s.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..total);
            return Ok(status);
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn http(scratch: &Scratch, seed: u64, a: HttpArgs) -> (&'static str, Value, Value) {
    let conns = a.connections.max(1);
    let counties = a.counties.unwrap_or(2 * conns as u32).max(1);
    let params = json!({"connections": conns, "seconds": a.seconds, "warmup_s": a.warmup,
        "counties": counties, "max_events": a.max_events, "funding": "per_county",
        "client": "hand-written HTTP/1.1 keep-alive, one tokio thread"});
    let bin = sanbao_bin(a.sanbao);
    let data = scratch.log_dir();
    std::fs::create_dir_all(&data).expect("data dir");
    let tokens = scratch.path.join("tokens.json");
    let token = make_token(&bin, &data, &tokens);
    note(format!(
        "preparing {} requests for {conns} connections",
        a.max_events
    ));
    let mut cfg = Config::new(seed, counties);
    cfg.funding = CityFunding::PerCounty;
    let mut reqs: Vec<Vec<Vec<u8>>> = vec![Vec::new(); conns];
    for g in Generator::new(cfg).take(a.max_events) {
        let owner = g.county.expect("owner") as usize % conns;
        let body = g.event.to_json().to_string();
        let req = format!(
            "POST /v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        reqs[owner].push(req.into_bytes());
    }
    let (server, ready) = start_server(&bin, &data, &tokens);
    note(format!("server ready in {ready:?} at {}", server.addr));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let addr = server.addr.clone();
    let (seconds, warmup) = (a.seconds, a.warmup);
    let outcome = rt.block_on(async move {
        use tokio::io::AsyncWriteExt;
        let t0 = Instant::now();
        let measure_from = t0 + Duration::from_secs(warmup);
        let stop_at = measure_from + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for list in reqs {
            let addr = addr.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(&addr)
                    .await
                    .expect("connect");
                s.set_nodelay(true).expect("nodelay");
                let mut buf = Vec::with_capacity(8192);
                let (mut lat, mut ok, mut bad, mut sent, mut exhausted) =
                    (Vec::new(), 0u64, 0u64, 0u64, true);
                for req in list {
                    let t = Instant::now();
                    if t >= stop_at {
                        exhausted = false;
                        break;
                    }
                    s.write_all(&req).await.expect("write");
                    let status = read_response(&mut s, &mut buf).await.expect("response");
                    sent += 1;
                    if t >= measure_from {
                        lat.push(t.elapsed().as_nanos() as u64);
                        if status == 201 {
                            ok += 1;
                        } else {
                            bad += 1;
                        }
                    } else if status != 201 {
                        bad += 1;
                    }
                }
                (lat, ok, bad, sent, exhausted)
            }));
        }
        let mut lat = Vec::new();
        let (mut ok, mut bad, mut sent, mut exhausted) = (0, 0, 0, 0usize);
        for t in tasks {
            let (l, o, b, s, e) = t.await.expect("connection");
            lat.extend(l);
            ok += o;
            bad += b;
            sent += s;
            exhausted += e as usize;
        }
        let measured = Instant::now()
            .min(stop_at)
            .saturating_duration_since(measure_from);
        (lat, ok, bad, sent, exhausted, measured)
    });
    let (lat, ok, bad, sent, exhausted, measured) = outcome;
    let stopped = server.stop();
    let store = Store::open(&data).expect("open the log");
    let head = store.head().expect("head").seq;
    let results = json!({
        "requests_per_s": (ok as f64 / measured.as_secs_f64()).round(),
        "measured_requests": ok, "non_201": bad, "sent_total": sent, "log_head_after": head,
        "connections_out_of_requests": exhausted, "latency": latency(lat),
        "server_ready_s": ready.as_secs_f64(), "server_stop_s": stopped.as_secs_f64(),
    });
    assert_eq!(head, sent - bad, "every request answered 201 is in the log");
    ("http", params, results)
}

// ---- startup ------------------------------------------------------------------------

fn startup(
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
    // The first start finds no snapshot: it verifies and folds the whole log, then
    // writes one (in the background; stopping waits for it). The measured starts
    // begin from that snapshot, as a restarted service does.
    note("first start (no snapshot yet: the whole log is verified)");
    let (server, first_ready) = start_server(&bin, &data, &tokens);
    let first_stop = server.stop();
    let snapshot_bytes = std::fs::metadata(sanbao::log::snapshot::path(&data))
        .map(|m| m.len())
        .expect("the first start wrote a snapshot");
    let mut ready = Vec::new();
    let mut stop = Vec::new();
    for _ in 0..runs.max(1) {
        note("starting sanbao serve (from the snapshot)");
        let (server, r) = start_server(&bin, &data, &tokens);
        ready.push(r.as_secs_f64());
        stop.push(server.stop().as_secs_f64());
    }
    let best = ready.iter().copied().fold(f64::MAX, f64::min);
    let mut sorted = ready.clone();
    sorted.sort_by(f64::total_cmp);
    let results = json!({"ready_s_best": best, "ready_s_median": sorted[sorted.len() / 2],
                         "ready_s": ready, "stop_s": stop, "build": built,
                         "without_snapshot": {"ready_s": first_ready.as_secs_f64(),
                                              "stop_s_incl_snapshot_write": first_stop.as_secs_f64()},
                         "snapshot_bytes": snapshot_bytes,
                         "snapshot_bytes_per_event": snapshot_bytes as f64 / events as f64});
    ("startup", params, results)
}

// ---- output for people --------------------------------------------------------------

/// A readable two-column table of a report (nested objects flattened with dots).
fn table(report: &Value) -> String {
    fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, x, out);
                }
            }
            Value::Array(a) if a.iter().any(|x| x.is_object()) => {
                out.push((prefix.to_string(), format!("[{} runs]", a.len())))
            }
            Value::String(s) => out.push((prefix.to_string(), s.clone())),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let mut rows = Vec::new();
    for part in ["params", "results", "machine"] {
        flatten(part, &report[part], &mut rows);
    }
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut s = format!("\n{}\n", report["bench"].as_str().unwrap_or(""));
    for (k, v) in rows {
        s.push_str(&format!("  {k:<w$}  {v}\n"));
    }
    s
}
