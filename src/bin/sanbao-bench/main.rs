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
//! sanbao-bench http    --read monitor --counties 3000 --appends 64 --compare
//! sanbao-bench scale   --events 10000000
//! sanbao-bench startup --events 1000000
//! sanbao-bench sink    --url postgresql://… --events 1000000
//! ```
//!
//! Workloads come from [`sanbao::bench::workload`]; nothing here changes how sanbao
//! works, it only drives the real writer, store, planner and `sanbao serve`.

//!
//! What lives where (`src/bin/sanbao-bench/`):
//! - `main.rs`: the command line and the dispatch to the workloads; the report line
//!   (`bench`, `params` with the seed, `results`, `machine`);
//! - `common.rs`: what the workloads share — the scratch directory, progress notes,
//!   the machine description, units and latency percentiles, the in-process writer,
//!   the pooled workload in batches, building a log, and the `sanbao` binary's path;
//! - `append.rs`: `append` (concurrent single-event producers) and `import` (chained
//!   bulk batches), both through the in-process writer, with its group-commit stats;
//! - `replay.rs`: `replay`, and the hidden `replay-child` it runs for each
//!   measurement in a fresh process;
//! - `plan.rs`: `plan`, the next month's plan from a folded year of history;
//! - `server.rs`: a `sanbao serve` child (its token, its start and readiness, its
//!   stop), for `http` and `startup`;
//! - `http.rs`: `http`, single-event appends over HTTP/1.1 keep-alive, and the
//!   keep-alive connection both `http` modes drive;
//! - `reads.rs`: `http --read monitor|plan`, reads under load (issue 21): reads
//!   alone, appends alone, both at once, on the sample city or a generated one;
//! - `scale.rs`: `scale`, how the figures hold as the log grows to 10M events
//!   (issue 21): appends on a big and a small log, serve's start, replay's memory,
//!   disk per event;
//! - `sink.rs`: `sink`, `sanbao sink postgres` catching up a log and following a
//!   server under append load, into the PostgreSQL database of `--url`;
//! - `startup.rs`: `startup`, the time from `sanbao serve` start to readiness;
//! - `table.rs`: the readable table printed on a terminal.

mod append;
mod common;
mod desk;
mod http;
mod plan;
mod reads;
mod replay;
mod scale;
mod server;
mod sink;
mod startup;
mod table;

use clap::{Parser, Subcommand};

/// The same allocator as the `sanbao` binary, so in-process workloads measure what it
/// runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use append::{append, import};
use common::{loadavg, machine, Scratch};
use desk::desk;
use http::{http, HttpArgs};
use plan::plan;
use replay::{replay, replay_child, state_child};
use serde_json::json;
use startup::startup;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use table::table;

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
    /// Single-event appends over HTTP/1.1 keep-alive on loopback to a `sanbao serve` child;
    /// with --read, reads under load instead (reads alone, then with --appends beside them)
    Http {
        /// Concurrent connections, each sending one request at a time (with --read: the
        /// reader connections)
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Measured seconds (after the warm-up)
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Warm-up seconds, not measured
        #[arg(long, default_value_t = 1)]
        warmup: u64,
        /// Counties (each owned by one connection) [default: 2 × connections]. With
        /// --read and --city generated: the generated city's counties [default: 3000]
        #[arg(long)]
        counties: Option<u32>,
        /// Requests prepared in advance (a connection stops when it has sent its share)
        #[arg(long, default_value_t = 800_000)]
        max_events: usize,
        /// The sanbao binary [default: next to this one]
        #[arg(long)]
        sanbao: Option<PathBuf>,
        /// Reads under load: what the --connections readers ask for (`GET /v1/monitor`
        /// as of the loaded log's latest date, or `GET /v1/plans/{month}` for the month
        /// after it)
        #[arg(long, value_enum)]
        read: Option<reads::ReadKind>,
        /// With --read: the city loaded before the server starts
        #[arg(long, value_enum, default_value = "generated", requires = "read")]
        city: reads::City,
        /// With --read and --city generated: events of the generated city's log
        #[arg(long, default_value_t = 1_000_000, requires = "read")]
        events: usize,
        /// With --read: connections appending at the same time as the readers (a
        /// second phase, after the readers alone; 0: reads alone)
        #[arg(long, default_value_t = 0, requires = "read")]
        appends: usize,
        /// With --read and --appends: also measure the appends alone (between the two
        /// phases), so the report has the append rate with and without readers
        #[arg(long, requires = "appends")]
        compare: bool,
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
    /// The web desk's pages (issue 17) at a province's scale: a log of N events over C
    /// counties served, each page asked for `runs` times by a signed-in officer
    Desk {
        /// Events in the log (1,000,000 over 3,000 counties is about a year)
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Counties in the history
        #[arg(long, default_value_t = 3000)]
        counties: u32,
        /// Requests of each page (each timed)
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// The sanbao binary [default: next to this one]
        #[arg(long)]
        sanbao: Option<PathBuf>,
    },
    /// The PostgreSQL sink (issue 20): records and rows per second catching up a log
    /// of N events, and the live sink's lag behind P producers appending over HTTP
    Sink {
        /// The database to write into (postgresql://USER:PASSWORD@HOST:PORT/DB)
        #[arg(long)]
        url: String,
        /// Events in the log caught up
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Counties in that history
        #[arg(long, default_value_t = 500)]
        counties: u32,
        /// Concurrent HTTP producers during the live measurement
        #[arg(long, default_value_t = 64)]
        producers: usize,
        /// Seconds of append load while the sink follows (0: no live measurement)
        #[arg(long, default_value_t = 10)]
        live_seconds: u64,
        /// The sanbao binary [default: next to this one]
        #[arg(long)]
        sanbao: Option<PathBuf>,
    },
    /// Whether the figures stay flat as the log grows (issue 21): appends on a log of N
    /// events against a log of 100,000, serve's start from a snapshot, replay's peak
    /// memory, disk bytes per event
    Scale {
        /// Events in the big log
        #[arg(long, default_value_t = 10_000_000)]
        events: usize,
        /// Events in the small log the appends are compared with
        #[arg(long, default_value_t = 100_000)]
        small_events: usize,
        /// Counties in both histories
        #[arg(long, default_value_t = 500)]
        counties: u32,
        /// Concurrent append producers (in process, as `append`)
        #[arg(long, default_value_t = 64)]
        producers: usize,
        /// Single-event appends on top of each log
        #[arg(long, default_value_t = 200_000)]
        appends: usize,
        /// Starts of `sanbao serve` from the snapshot
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
            read: Some(read),
            city,
            events,
            appends,
            compare,
        } => reads::http_reads(
            &scratch,
            cli.seed,
            reads::ReadArgs {
                read,
                city,
                counties: counties.unwrap_or(3000),
                events,
                connections,
                appends,
                compare,
                seconds,
                warmup,
                max_events,
                sanbao,
            },
        ),
        Cmd::Http {
            connections,
            seconds,
            warmup,
            counties,
            max_events,
            sanbao,
            read: None,
            ..
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
        Cmd::Desk {
            events,
            counties,
            runs,
            sanbao,
        } => desk(&scratch, cli.seed, events, counties, runs, sanbao),
        Cmd::Sink {
            url,
            events,
            counties,
            producers,
            live_seconds,
            sanbao,
        } => sink::sink(
            &scratch,
            cli.seed,
            sink::SinkArgs {
                url,
                events,
                counties,
                producers,
                live_seconds,
                sanbao,
            },
        ),
        Cmd::Scale {
            events,
            small_events,
            counties,
            producers,
            appends,
            runs,
            sanbao,
        } => scale::scale(
            &scratch,
            cli.seed,
            scale::ScaleArgs {
                events,
                small_events,
                counties,
                producers,
                appends,
                runs,
                sanbao,
            },
        ),
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
