//! The command line (SPEC §5): parsing with clap, one function per command, and the
//! exit-code discipline (one `error:` line on stderr, codes from [`crate::error`]).
//!
//! Commands that write create the log on first use; `--data` (or `SANBAO_DATA`)
//! names the directory, default `./sanbao-data`.

mod forward;
pub mod output;
mod plan;
mod read;
mod serve;
mod status;

use crate::error::CliError;
use crate::event::{self, InputEvent, InputShape};
use crate::log::writer::{Chain, Pending, Prepared, IMPORT_IN_FLIGHT};
use crate::log::{self, Ack, Store, SystemClock, Verified, Writer};
use crate::record::Record;
use crate::state::State;
use clap::{Parser, Subcommand};
use output::emit;
use serde_json::json;
use std::collections::VecDeque;
use std::io::{BufRead, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// sanbao — an event-sourced treasury cash-flow scheduler (三保 库款调度).
///
/// Every transfer allocation, payroll deposit and emergency dispatch is an appended,
/// hash-chained event; balances, monitoring and plans are rebuilt from the log.
#[derive(Parser, Debug)]
#[command(name = "sanbao", version, about, long_about = None)]
pub struct Cli {
    /// Data directory holding the log [env: SANBAO_DATA] [default: ./sanbao-data]
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// How long to wait for another process holding DIR (a long import, a server)
    /// before giving up with exit 1; the holder is named at once on stderr
    #[arg(
        long,
        value_name = "SECONDS",
        env = "SANBAO_WAIT",
        default_value_t = 10.0,
        global = true
    )]
    pub wait: f64,
    /// How logs on stderr look: text for people, or json (one object per line, for
    /// a log collector) [env: SANBAO_LOG_FORMAT]
    #[arg(
        long,
        value_name = "FORMAT",
        env = "SANBAO_LOG_FORMAT",
        default_value = "text",
        global = true,
        value_parser = ["text", "json"]
    )]
    pub log_format: String,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands of SPEC §5. (Serialized as a forwarded command's request to the
/// server that holds the directory, see `forward`.)
#[derive(Subcommand, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Command {
    /// Create an empty log in DIR (other writing commands also create it)
    Init,
    /// Append one event, a JSON array (one batch) or JSON Lines (one batch)
    ///
    /// Reads FILE, or standard input when FILE is `-` or absent. A batch is atomic:
    /// one invalid event rejects it all. Prints one line per event:
    /// {"duplicate":false,"hash":"…","seq":N}
    Append {
        /// Input file, or - for standard input
        file: Option<PathBuf>,
        /// Idempotency key for a single event that carries no key of its own
        #[arg(long, value_name = "K")]
        idempotency_key: Option<String>,
        /// Append only if the log's last seq is N (0 for an empty log)
        #[arg(long, value_name = "N")]
        expect_seq: Option<u64>,
    },
    /// Bulk-load bare events (in batches of up to 10,000) and/or exported records
    ///
    /// Exported records must continue the log exactly and are stored as they are, so
    /// export then import reproduces every hash.
    Import {
        /// JSON Lines file of bare events and/or exported records, or - for standard input
        file: PathBuf,
    },
    /// Print records as JSON Lines (canonical JSON, one record per line)
    ///
    /// With --salvage (and --out), reads a damaged log as far as it can: every
    /// record that still reads and checks (its hash, the chain, and what the head
    /// witness says was acknowledged), in order, stopping at the first bad one, and
    /// says where it stopped (exit 5 when that is before the end). `sanbao restore
    /// --from FILE` then builds a new data directory from the file.
    Export {
        /// First seq to print
        #[arg(long, value_name = "SEQ", conflicts_with = "salvage")]
        from: Option<u64>,
        /// Last seq to print
        #[arg(long, value_name = "SEQ", conflicts_with = "salvage")]
        to: Option<u64>,
        /// Write to FILE instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Recover every record of a damaged log that still verifies (needs --out)
        #[arg(long, requires = "out")]
        salvage: bool,
    },
    /// Build a new data directory DIR from an export or a salvage
    ///
    /// Every line must be an exported record; each hash and the chain are checked,
    /// and the events pass the rules, as `import` checks them. DIR must not exist or
    /// be empty; it appears only once every record is in and verifies.
    Restore {
        /// The JSON Lines file of exported records (`export --out`, `export --salvage`)
        #[arg(long, value_name = "FILE.jsonl")]
        from: PathBuf,
    },
    /// Check every record: contiguous seqs, each hash, the chain (exit 5 if broken)
    Verify {
        /// Print the JSON object of SPEC §5
        #[arg(long)]
        json: bool,
    },
    /// Day-end balances of the city and every county, with entitlements (SPEC §6.1)
    Position(PositionArgs),
    /// Guarantee levels, payroll deadlines, overdue direct funds, discrepancies and
    /// the watch list (库款监测, SPEC §6.2)
    Monitor(MonitorArgs),
    /// The month's dispatch plan (SPEC §6.3); --issue also records it
    Plan(PlanArgs),
    /// The three-month wage-payment risk forecast (SPEC §6.4)
    Forecast(ForecastArgs),
    /// The auditor's command: rebuild everything from the log alone, verify the chain
    /// up to N and recompute every issued plan (exit 5 if anything fails)
    Replay(ReplayArgs),
    /// Load the sample city shipped in replay/ into an empty DIR and show it
    Demo,
    /// Serve the HTTP API of SPEC §7 until SIGINT or SIGTERM
    ///
    /// Prints `listening on http://ADDR` on standard output once it accepts
    /// connections. Needs a tokens file (see `sanbao token add`). Logs go to stderr
    /// (RUST_LOG, default info).
    ///
    /// Starts from DIR/state.snapshot when it matches the log, verifying every record
    /// after it (replay and verify never use it); else verifies the whole log. Writes
    /// a new snapshot in the background after starting, and when it stops, once
    /// --snapshot-after records or more are past the last one.
    Serve {
        /// Address to listen on (port 0: the OS chooses; the real one is printed)
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Tokens file [default: DIR/tokens.json]
        #[arg(long, value_name = "FILE", env = "SANBAO_TOKENS")]
        tokens: Option<PathBuf>,
        /// Write a snapshot once this many records are past the last one (0: never)
        #[arg(long, value_name = "N", env = "SANBAO_SNAPSHOT_AFTER", default_value_t = serve::SNAPSHOT_AFTER)]
        snapshot_after: u64,
        /// Serve a standby read-only: reads, streams and verify; every write is a 503
        /// naming the primary (from DIR/standby.json, which `follow` writes, or
        /// --primary)
        #[arg(long)]
        read_only: bool,
        /// The primary's URL to name in the 503 of a read-only standby
        #[arg(long, value_name = "URL", requires = "read_only")]
        primary: Option<String>,
        /// Also serve GET /metrics (OpenMetrics text, for Prometheus) on ADDR, with no token;
        /// on the API's address it needs an auditor token
        #[arg(long, value_name = "ADDR")]
        metrics_listen: Option<String>,
        /// On SIGTERM/SIGINT, how long requests and CLI commands in flight may take to
        /// finish before their connections are closed
        #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
        shutdown_grace: f64,
    },
    /// Keep DIR in step with a running server, as a standby (read it with `serve
    /// --read-only`)
    ///
    /// Follows the primary's event stream (GET /v1/events/stream, resuming with
    /// Last-Event-ID after any outage) and stores every record after checking its
    /// hash, the chain and the rules, so DIR's log is the primary's, hash for hash.
    /// A record that does not chain stops it (exit 5); nothing else does: it
    /// retries while the primary is away. Prints the standby's seq and its lag
    /// behind the primary once a second when they change; stops on SIGINT or
    /// SIGTERM (exit 0). A damaged primary is repaired from the standby: `sanbao
    /// --data STANDBY export --out F`, then `sanbao --data NEWDIR restore --from F`.
    Follow {
        /// The primary: http://HOST:PORT of a running `sanbao serve`
        url: String,
        /// A token of the primary's (any role: following only reads)
        #[arg(
            long,
            value_name = "T",
            env = "SANBAO_FOLLOW_TOKEN",
            hide_env_values = true
        )]
        token: String,
        /// Catch up to the primary's head as it is when starting, then exit
        #[arg(long)]
        once: bool,
    },
    /// Manage the users of the HTTP API
    #[command(subcommand)]
    Token(TokenCommand),
    /// What holds DIR (nothing, a server, a CLI process), the head, the witness, the
    /// snapshot and the disk space left
    ///
    /// Never waits: a directory held by another process is described from what the
    /// holder wrote into DIR/sanbao.lock (and, for a server, its /healthz).
    Status {
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Print a completion script for SHELL on standard output
    ///
    /// bash: `sanbao completions bash > ~/.local/share/bash-completion/completions/sanbao`;
    /// zsh: `sanbao completions zsh > ~/.zfunc/_sanbao` (with `fpath+=~/.zfunc`);
    /// fish: `sanbao completions fish > ~/.config/fish/completions/sanbao.fish`.
    Completions {
        /// bash, zsh, fish, elvish or powershell
        #[arg(value_name = "SHELL", value_parser = ["bash", "zsh", "fish", "elvish", "powershell"])]
        shell: String,
    },
    /// Repair a damaged log: remove every record after SEQ (and their idempotency keys)
    ///
    /// For a log that `verify` (or `serve`) reports damaged at seq K: `truncate --after
    /// K-1 --yes` keeps records 1..=K-1, which must verify, and drops the rest. It
    /// cannot be undone: export what you need first, or restore from an export
    /// instead. Nothing happens without --yes (exit 2); sanbao never runs it by itself.
    Truncate {
        /// The last record to keep (0 empties the log)
        #[arg(long, value_name = "SEQ")]
        after: u64,
        /// Really remove the records (without it, only say what would be removed)
        #[arg(long)]
        yes: bool,
    },
}

/// `sanbao token …`.
#[derive(Subcommand, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum TokenCommand {
    /// List the users of the tokens file: name, role, when added (never a token)
    List {
        /// Tokens file [default: DIR/tokens.json]
        #[arg(long, value_name = "FILE", env = "SANBAO_TOKENS")]
        tokens: Option<PathBuf>,
        /// Print one JSON object per user
        #[arg(long)]
        json: bool,
    },
    /// Remove a user: their token stops working from the next request
    Remove {
        /// The user's name
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Tokens file [default: DIR/tokens.json]
        #[arg(long, value_name = "FILE", env = "SANBAO_TOKENS")]
        tokens: Option<PathBuf>,
    },
    /// Add a user and print its new token once (the file keeps only its SHA-256)
    Add {
        /// The user's name (shown in the service's logs)
        #[arg(long, value_name = "NAME")]
        name: String,
        /// officer (appends events), scheduler (plans and issues plans) or auditor (reads)
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// Tokens file [default: DIR/tokens.json]
        #[arg(long, value_name = "FILE", env = "SANBAO_TOKENS")]
        tokens: Option<PathBuf>,
    },
}

/// The two time axes every read command takes: business date and knowledge (seq).
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TimeArgs {
    /// Business date: balances at day end of DATE [default: the latest effective date]
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub as_of: Option<crate::values::Date>,
    /// Knowledge: only records with seq ≤ N (0..=head) [default: the head]
    #[arg(long, value_name = "N")]
    pub at_seq: Option<u64>,
}

/// Arguments of `position`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PositionArgs {
    #[command(flatten)]
    /// As of / at seq.
    pub time: TimeArgs,
    /// Only this county
    #[arg(long, value_name = "ID")]
    pub county: Option<String>,
    /// Print the JSON object of SPEC §6.1
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `monitor`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MonitorArgs {
    #[command(flatten)]
    /// As of / at seq.
    pub time: TimeArgs,
    /// Print the JSON object of SPEC §6.2
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `plan`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PlanArgs {
    /// The plan month
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    pub month: crate::values::Month,
    /// Plan from the records with seq ≤ N [default: the head]
    #[arg(long, value_name = "N")]
    pub at_seq: Option<u64>,
    /// Print the JSON object of SPEC §6.3
    #[arg(long)]
    pub json: bool,
    /// Also append plan_issued for this plan (its seq goes to stderr)
    #[arg(long)]
    pub issue: bool,
    /// issued_on of the plan_issued event [default: today, UTC]
    #[arg(long, value_name = "DATE", value_parser = parse_date, requires = "issue")]
    pub issued_on: Option<crate::values::Date>,
}

/// Arguments of `forecast`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ForecastArgs {
    /// First month of the forecast
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    pub from: crate::values::Month,
    /// Number of months
    #[arg(long, value_name = "K", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=120))]
    pub months: u32,
    /// Forecast from the records with seq ≤ N [default: the head]
    #[arg(long, value_name = "N")]
    pub at_seq: Option<u64>,
    /// Print the JSON object of SPEC §6.4
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `replay`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReplayArgs {
    #[command(flatten)]
    /// As of / at seq.
    pub time: TimeArgs,
    /// Print the JSON object of SPEC §5 (replay)
    #[arg(long)]
    pub json: bool,
}

fn parse_date(s: &str) -> Result<crate::values::Date, String> {
    crate::values::Date::parse(s)
}

fn parse_month(s: &str) -> Result<crate::values::Month, String> {
    crate::values::Month::parse(s)
}

/// Parses the arguments and runs the command; returns the process exit code.
pub fn main_with_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    2
                } else {
                    0
                };
            }
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("usage error")
                .trim_start_matches("error: ");
            eprintln!("error: {first} (see 'sanbao --help')");
            return 2;
        }
    };
    if !matches!(cli.command, Command::Serve { .. } | Command::Follow { .. }) {
        restore_sigpipe();
    }
    // The service logs its requests by default; other commands stay quiet.
    init_tracing(
        if matches!(cli.command, Command::Serve { .. }) {
            "info"
        } else {
            "off"
        },
        cli.log_format == "json",
    );
    run(cli)
}

/// Lets a command whose output is piped into a reader that stops early (`| head`)
/// end quietly, as Unix tools do, instead of panicking on a broken pipe. Not for
/// `serve`, whose sockets must answer EPIPE as an error rather than kill the process.
fn restore_sigpipe() {
    // SAFETY: called once at start-up, before any thread is spawned; it only resets
    // the disposition of SIGPIPE to the default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_tracing(default_filter: &str, json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        // One JSON object per line; a request's span fields (route, role, user,
        // status, latency) ride along in `span`.
        fmt.json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        fmt.with_ansi(std::io::stderr().is_terminal()).try_init()
    };
}

/// Resolves the data directory: `--data`, else `$SANBAO_DATA`, else `./sanbao-data`.
pub fn data_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| {
        std::env::var_os("SANBAO_DATA")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .unwrap_or_else(|| PathBuf::from("sanbao-data"))
}

/// The command's name, as typed (`import`, `token`, …).
pub(crate) fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Init => "init",
        Command::Append { .. } => "append",
        Command::Import { .. } => "import",
        Command::Export { .. } => "export",
        Command::Restore { .. } => "restore",
        Command::Verify { .. } => "verify",
        Command::Position(_) => "position",
        Command::Monitor(_) => "monitor",
        Command::Plan(_) => "plan",
        Command::Forecast(_) => "forecast",
        Command::Replay(_) => "replay",
        Command::Demo => "demo",
        Command::Serve { .. } => "serve",
        Command::Follow { .. } => "follow",
        Command::Token(_) => "token",
        Command::Status { .. } => "status",
        Command::Truncate { .. } => "truncate",
        Command::Completions { .. } => "completions",
    }
}

/// What the command does, in a few words, for `DIR/sanbao.lock` (never a token).
fn holder_words(command: &Command) -> String {
    match command {
        Command::Import { file } => format!("sanbao import {}", file.display()),
        Command::Follow { url, .. } => format!("sanbao follow {url}"),
        other => format!("sanbao {}", command_name(other)),
    }
}

/// Runs the parsed command line: through the server that holds the directory when
/// one does ([`forward`]), else here. Answers the exit code.
fn run(cli: Cli) -> u8 {
    let dir = data_dir(cli.data);
    if !(cli.wait.is_finite() && cli.wait >= 0.0) {
        eprintln!(
            "error: --wait {}: give a number of seconds, 0 or more",
            cli.wait
        );
        return 2;
    }
    let wait = std::time::Duration::from_secs_f64(cli.wait.min(1e9));
    log::store::set_lock_wait(wait, true);
    log::store::set_holder(holder_words(&cli.command), None);
    match forward::forward(&dir, &cli.command, wait) {
        Ok(Some(code)) => code,
        Ok(None) => execute(&Target::Dir(&dir), cli.command),
        Err(e) => {
            eprintln!("error: {}", e.line());
            e.code
        }
    }
}

/// Runs `command` on `target` and answers its exit code, a failure said in one
/// `error:` line on the command's standard error. The one entry for a command run
/// here and one forwarded to the server that holds the directory.
pub(crate) fn execute(target: &Target, command: Command) -> u8 {
    match run_command(target, command) {
        Ok(()) => 0,
        Err(e) => {
            output::note(&format!("error: {}", e.line()));
            e.code
        }
    }
}

fn run_command(t: &Target, command: Command) -> Result<(), CliError> {
    let dir = t.dir();
    if let Target::Live { .. } = t {
        if !forward::forwarded(&command) {
            return Err(CliError::usage(format!(
                "sanbao {} does not run through the server",
                command_name(&command)
            )));
        }
    }
    match command {
        Command::Init => {
            let (store, head) = t.store()?;
            if let Target::Dir(_) = t {
                store.sync()?;
            }
            emit(&format!(
                "initialized {} (head seq {})\n",
                dir.display(),
                head.seq
            ))
        }
        Command::Append {
            file,
            idempotency_key,
            expect_seq,
        } => append(t, file, idempotency_key, expect_seq),
        Command::Import { file } => import(t, &file, false).map(|_| ()),
        Command::Export {
            out: Some(out),
            salvage: true,
            ..
        } => salvage(t, &out),
        Command::Export { from, to, out, .. } => export(t, from, to, out),
        Command::Restore { from } => restore(dir, &from),
        Command::Verify { json } => verify(t, json),
        Command::Position(a) => read::position(t, a),
        Command::Monitor(a) => read::monitor(t, a),
        Command::Replay(a) => read::replay(t, a),
        Command::Plan(a) => plan::plan(t, a),
        Command::Forecast(a) => plan::forecast(t, a),
        Command::Demo => demo(t),
        Command::Serve {
            listen,
            tokens,
            snapshot_after,
            read_only,
            primary,
            metrics_listen,
            shutdown_grace,
        } => {
            if !(shutdown_grace.is_finite() && shutdown_grace >= 0.0) {
                return Err(CliError::usage(format!(
                    "--shutdown-grace {shutdown_grace}: give a number of seconds, 0 or more"
                )));
            }
            let read_only =
                read_only.then(|| primary.or_else(|| crate::follow::read_standby_file(dir)));
            serve::serve(
                dir,
                &serve::Listen {
                    api: listen,
                    metrics: metrics_listen,
                    grace: std::time::Duration::from_secs_f64(shutdown_grace.min(86_400.0)),
                },
                tokens,
                snapshot_after,
                read_only,
            )
        }
        Command::Follow { url, token, once } => serve::follow(dir, &url, &token, once),
        Command::Token(TokenCommand::Add { name, role, tokens }) => {
            serve::token_add(dir, &name, &role, tokens)
        }
        Command::Token(TokenCommand::List { tokens, json }) => serve::token_list(dir, tokens, json),
        Command::Token(TokenCommand::Remove { name, tokens }) => {
            serve::token_remove(dir, &name, tokens)
        }
        Command::Status { json } => status::status(dir, json),
        Command::Truncate { after, yes } => truncate(dir, after, yes),
        Command::Completions { shell } => completions(&shell),
    }
}

/// `sanbao completions SHELL`: the script `clap_complete` writes for the command line.
fn completions(shell: &str) -> Result<(), CliError> {
    use clap::CommandFactory;
    let shell: clap_complete::Shell = shell
        .parse()
        .map_err(|e| CliError::usage(format!("completions {shell}: {e}")))?;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "sanbao", &mut out);
    emit(&String::from_utf8_lossy(&out))
}

/// Where a command finds the log: the directory, which the command opens itself, or
/// the server that holds it, for a command forwarded through `DIR/sanbao.sock`
/// ([`forward`]). Either way the command sees only durable records.
pub(crate) enum Target<'a> {
    /// The directory, opened (and locked) by this process.
    Dir(&'a Path),
    /// The live service holding the directory (`dir` as the client named it).
    Live {
        /// The data directory, for messages.
        dir: &'a Path,
        /// The service: its writer, its state and a handle on its store.
        app: &'a crate::server::AppState,
    },
}

/// A folded state a command reads: its own, the server's (locked for reading: drop it
/// before writing or printing), or one the server folded for an older seq.
pub(crate) enum StateRef<'a> {
    /// Folded by this command.
    Owned(Box<State>),
    /// The server's state at the head, read-locked.
    Head(std::sync::RwLockReadGuard<'a, State>),
    /// The server's state at an older seq.
    Past(std::sync::Arc<State>),
}

impl std::ops::Deref for StateRef<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        match self {
            StateRef::Owned(s) => s,
            StateRef::Head(s) => s,
            StateRef::Past(s) => s,
        }
    }
}

impl Target<'_> {
    /// The data directory (as the user named it).
    pub(crate) fn dir(&self) -> &Path {
        match self {
            Target::Dir(d) => d,
            Target::Live { dir, .. } => dir,
        }
    }

    /// The store, for reading records, and its durable head (a server's store may
    /// hold a group being written; reads stop at the head answered here).
    pub(crate) fn store(&self) -> Result<(Store, log::Head), CliError> {
        match self {
            Target::Dir(d) => {
                let store = Store::open(d)?;
                let head = store.head()?;
                Ok((store, head))
            }
            Target::Live { app, .. } => {
                let head = {
                    let st = app.state();
                    log::Head {
                        seq: st.head_seq,
                        hash: st.head_hash,
                    }
                };
                Ok((app.store().clone(), head))
            }
        }
    }

    /// The store opened for an audit (verify, salvage) and how far to read it (`None`:
    /// all of it, witness checks included) — or, when not even a scratch copy of its
    /// files opens, seq 1 and why. A server's store verified when it started.
    fn audit(&self) -> Result<Audit, CliError> {
        match self {
            Target::Dir(d) => Ok(open_audit(d)?.map(|s| (s, None))),
            Target::Live { app, .. } => Ok(Ok((app.store().clone(), Some(app.durable_head())))),
        }
    }

    /// The state of the records with seq ≤ `at_seq` (the head when `None`). An
    /// `at_seq` beyond the head is a usage error (exit 2, SPEC §8.26).
    pub(crate) fn state(&self, at_seq: Option<u64>) -> Result<StateRef<'_>, CliError> {
        match self {
            Target::Dir(d) => open_at_seq(d, at_seq).map(|(_, s)| StateRef::Owned(Box::new(s))),
            Target::Live { app, .. } => {
                let st = app.state();
                let head = st.head_seq;
                match at_seq {
                    Some(n) if n > head => Err(beyond_head(n, head)),
                    Some(n) if n < head => {
                        drop(st);
                        Ok(StateRef::Past(app.past_state(n)?))
                    }
                    _ => Ok(StateRef::Head(st)),
                }
            }
        }
    }

    /// Runs `f` with a writer over the log: one started here (and stopped after), or
    /// the server's own. A read-only standby refuses.
    pub(crate) fn with_writer<T>(
        &self,
        f: impl FnOnce(&Writer, &tokio::runtime::Runtime) -> Result<T, CliError>,
    ) -> Result<T, CliError> {
        match self {
            Target::Dir(d) => with_writer(d, f),
            Target::Live { app, .. } => {
                app.writable().map_err(|e| CliError::io(e.message))?;
                f(app.writer(), &runtime()?)
            }
        }
    }
}

/// A store opened for an audit and how far to read it, or the first seq that cannot
/// be read and why (see [`Target::audit`]).
type Audit = Result<(Store, Option<u64>), (u64, String)>;

fn beyond_head(n: u64, head: u64) -> CliError {
    CliError::usage(format!(
        "--at-seq {n} is beyond the log's head (seq {head}); use 0..={head}"
    ))
}

/// Reads a whole input (a file, or stdin for `-`/none).
pub(crate) fn read_input(file: Option<&Path>) -> Result<String, CliError> {
    let mut buf = Vec::new();
    match file {
        None => output::stdin().read_to_end(&mut buf).map(|_| ()),
        Some(p) if p == Path::new("-") => output::stdin().read_to_end(&mut buf).map(|_| ()),
        Some(p) => std::fs::File::open(p)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .map(|_| ()),
    }
    .map_err(|e| CliError::io(format!("cannot read the input: {e}")))?;
    String::from_utf8(buf).map_err(|_| CliError::invalid("the input is not valid UTF-8"))
}

/// Opens the store and folds its state, with a spinner on a terminal for long logs.
pub fn open_with_state(dir: &Path, upto: Option<u64>) -> Result<(Store, State), CliError> {
    let store = Store::open(dir)?;
    let head = store.head()?;
    let bar = output::progress(head.seq.min(upto.unwrap_or(u64::MAX)), "loading the log");
    let state = log::load_state(&store, upto, |s| bar.set_position(s))?;
    bar.finish_and_clear();
    Ok((store, state))
}

/// A current-thread tokio runtime for the CLI's calls into the writer.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io(format!("cannot start the runtime: {e}")))
}

/// Starts a writer over `dir`, runs `f` with it, then waits for the writer to finish.
pub(crate) fn with_writer<T>(
    dir: &Path,
    f: impl FnOnce(&Writer, &tokio::runtime::Runtime) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let (store, state) = open_with_state(dir, None)?;
    let (writer, thread) = Writer::start(store, state, Box::new(SystemClock));
    let rt = runtime()?;
    let out = f(&writer, &rt);
    drop(writer);
    thread.join();
    out
}

fn print_acks(acks: &[Ack]) -> Result<(), CliError> {
    let mut out = BufWriter::new(output::stdout());
    for a in acks {
        serde_json::to_writer(&mut out, a).map_err(|e| CliError::io(e.to_string()))?;
        out.write_all(b"\n")
            .map_err(|e| CliError::io(e.to_string()))?;
    }
    out.flush().map_err(|e| CliError::io(e.to_string()))
}

fn append(
    t: &Target,
    file: Option<PathBuf>,
    key: Option<String>,
    expect_seq: Option<u64>,
) -> Result<(), CliError> {
    let text = read_input(file.as_deref())?;
    let (shape, mut batch) = event::parse_input(&text).map_err(|(i, e)| CliError::event(i, &e))?;
    if let Some(k) = key {
        event::check_idempotency_key(&k)
            .map_err(|r| CliError::usage(format!("--idempotency-key {r}")))?;
        if shape != InputShape::Single {
            return Err(CliError::usage(
                "--idempotency-key needs a single event, not a batch",
            ));
        }
        if batch[0].idempotency_key.is_some() {
            return Err(CliError::usage(
                "--idempotency-key needs an event that carries no idempotency_key of its own",
            ));
        }
        batch[0].idempotency_key = Some(k);
    }
    let acks = t.with_writer(|w, rt| Ok(rt.block_on(w.append(batch, expect_seq))?))?;
    print_acks(&acks)
}

/// One parsed line of an import file.
enum ImportLine {
    Event(InputEvent),
    Record(Record),
}

fn parse_import_line(line: &str) -> Result<ImportLine, event::EventError> {
    let (_, mut values) = event::read_values(line)?;
    if values.len() != 1 {
        return Err(event::EventError::whole(
            "a line must hold exactly one JSON object",
        ));
    }
    let v = values.pop().expect("one value");
    let is_record = v.get("seq").is_some() && v.get("hash").is_some() && v.get("event").is_some();
    if is_record {
        Record::from_export(v).map(ImportLine::Record)
    } else {
        Event::parse_object(v).map(ImportLine::Event)
    }
}

use crate::event::Event;

/// `sanbao import`'s batches on their way to the writer: the pending lines of one kind
/// (events or exported records) with their line numbers, and up to
/// [`IMPORT_IN_FLIGHT`] batches of events with the writer (one written while the next
/// is checked) while the next one is read, parsed and prepared. The batches go in one
/// [`Chain`], so nothing after a refused batch is written; the first error is the one
/// reported.
struct Importer<'a> {
    writer: &'a Writer,
    rt: &'a tokio::runtime::Runtime,
    chain: Chain,
    events: Vec<InputEvent>,
    records: Vec<Record>,
    line_numbers: Vec<usize>,
    in_flight: VecDeque<(Pending, Vec<usize>)>,
    /// Events acknowledged so far.
    imported: u64,
}

impl Importer<'_> {
    /// Adds a parsed line, first handing over what is pending if the line is of the
    /// other kind or the batch is full.
    fn push(&mut self, line: ImportLine, n: usize) -> Result<(), CliError> {
        const BATCH: usize = crate::log::writer::MAX_BATCH_EVENTS;
        let full = self.events.len() + self.records.len() == BATCH;
        match line {
            ImportLine::Event(e) => {
                if !self.records.is_empty() || full {
                    self.flush()?;
                }
                self.events.push(e);
            }
            ImportLine::Record(r) => {
                if !self.events.is_empty() || full {
                    self.flush()?;
                }
                self.records.push(r);
            }
        }
        self.line_numbers.push(n);
        Ok(())
    }

    /// Hands the pending lines to the writer: events stay in flight, records (rare:
    /// a continued export) are written at once.
    fn flush(&mut self) -> Result<(), CliError> {
        if !self.events.is_empty() {
            let batch = Prepared::new(std::mem::take(&mut self.events));
            if self.in_flight.len() == IMPORT_IN_FLIGHT {
                self.settle_oldest()?;
            }
            let pending = self
                .rt
                .block_on(self.writer.submit_in(&self.chain, batch))?;
            let numbers = std::mem::take(&mut self.line_numbers);
            self.in_flight.push_back((pending, numbers));
        } else if !self.records.is_empty() {
            self.settle()?;
            let records = std::mem::take(&mut self.records);
            let result = self.rt.block_on(self.writer.import_records(records));
            let numbers = std::mem::take(&mut self.line_numbers);
            self.answered(result, numbers)?;
        }
        Ok(())
    }

    /// Waits for the oldest batch in flight. If it failed, also waits for the others
    /// (refused unwritten, as their chain is broken) and answers its error.
    fn settle_oldest(&mut self) -> Result<(), CliError> {
        let Some((pending, numbers)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let result = self.rt.block_on(pending.wait());
        let answered = self.answered(result, numbers);
        if answered.is_err() {
            for (pending, _) in std::mem::take(&mut self.in_flight) {
                let later = self.rt.block_on(pending.wait());
                debug_assert!(later.is_err(), "nothing is written after a failed batch");
            }
        }
        answered
    }

    /// Waits for every batch in flight, oldest first.
    fn settle(&mut self) -> Result<(), CliError> {
        while !self.in_flight.is_empty() {
            self.settle_oldest()?;
        }
        Ok(())
    }

    /// Counts an answered batch, or names its failing line (`numbers`: the batch's
    /// line numbers).
    fn answered(
        &mut self,
        result: Result<Vec<Ack>, crate::log::AppendError>,
        numbers: Vec<usize>,
    ) -> Result<(), CliError> {
        let imported = self.imported;
        match result {
            Ok(acks) => {
                self.imported += acks.len() as u64;
                Ok(())
            }
            Err(crate::log::AppendError::Invalid { index, error }) => {
                let line = numbers[index.unwrap_or(0).min(numbers.len() - 1)];
                Err(CliError::invalid(format!(
                    "line {line}: {error} ({imported} events before its batch were imported)"
                )))
            }
            Err(e) => {
                let e = CliError::from(e);
                Err(CliError {
                    code: e.code,
                    message: format!(
                        "lines {}..{}: {} ({imported} events before them were imported)",
                        numbers[0],
                        numbers[numbers.len() - 1],
                        e.message
                    ),
                })
            }
        }
    }
}

/// `sanbao import FILE` (and, with `records_only`, the loading step of `restore`,
/// which takes exported records only). Answers how many were imported and the head.
fn import(
    t: &Target,
    file: &Path,
    records_only: bool,
) -> Result<(u64, (u64, crate::values::Sha256Hex)), CliError> {
    // `-` is standard input (a pipe: no size, so the bar counts bytes without a total).
    let (input, size): (Box<dyn Read>, u64) = if file == Path::new("-") {
        (output::stdin(), 0)
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| CliError::io(format!("cannot open {}: {e}", file.display())))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), size)
    };
    let bar = output::progress_bytes(size, "importing");
    let reader = std::io::BufReader::with_capacity(1 << 20, input);
    let (imported, head) = t.with_writer(|w, rt| {
        let mut im = Importer {
            writer: w,
            rt,
            events: Vec::new(),
            records: Vec::new(),
            chain: Chain::new(),
            line_numbers: Vec::new(),
            in_flight: VecDeque::new(),
            imported: 0,
        };
        let mut read = 0u64;
        for (i, line) in reader.lines().enumerate() {
            let n = i + 1;
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    im.settle()?;
                    return Err(CliError::io(format!(
                        "line {n}: cannot read: {e} ({} events before it were imported)",
                        im.imported
                    )));
                }
            };
            read += line.len() as u64 + 1;
            bar.set_position(read);
            if line.trim().is_empty() {
                continue;
            }
            match parse_import_line(&line) {
                Ok(ImportLine::Event(_)) if records_only => {
                    im.flush()?;
                    im.settle()?;
                    return Err(CliError::invalid(format!(
                        "line {n}: a bare event, not an exported record: restore takes exports only (use `sanbao import` to append events) ({} records before it were read)",
                        im.imported
                    )));
                }
                Ok(parsed) => im.push(parsed, n)?,
                Err(e) => {
                    im.flush()?;
                    im.settle()?;
                    return Err(CliError::invalid(format!(
                        "line {n}: {e} ({} events before it were imported)",
                        im.imported
                    )));
                }
            }
        }
        im.flush()?;
        im.settle()?;
        let head = w
            .state()
            .read()
            .map(|s| (s.head_seq, s.head_hash))
            .unwrap_or_default();
        Ok((im.imported, head))
    })?;
    bar.finish_and_clear();
    if !records_only {
        emit(&format!(
            "imported {imported} events; the log's head is seq {} ({})\n",
            head.0, head.1
        ))?;
    }
    Ok((imported, head))
}

/// `sanbao restore --from FILE`: loads the exported records of FILE into a scratch
/// directory beside DIR (`import`'s checks: every hash, the chain, the rules),
/// verifies it, and only then renames it to DIR. DIR must not exist, or be an empty
/// directory; a failure leaves DIR as it was.
fn restore(dir: &Path, file: &Path) -> Result<(), CliError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(CliError::usage(format!(
                    "{} is not empty: restore builds a new data directory (choose a new --data DIR, or move this one away)",
                    dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CliError::io(format!("cannot read {}: {e}", dir.display()))),
    }
    if !file.is_file() {
        return Err(CliError::usage(format!(
            "--from {}: no such file",
            file.display()
        )));
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sanbao-data".into());
    let scratch = dir.with_file_name(format!(".{name}.restoring-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let built = (|| {
        let (imported, head) = import(&Target::Dir(&scratch), file, true)?;
        let store = Store::open(&scratch)?;
        match log::verify(&store, None, |_| {})? {
            Verified::Ok { records, .. } if records == head.0 => {}
            Verified::Ok { records, .. } => {
                return Err(CliError::io(format!(
                    "the restored log holds {records} records, not {}",
                    head.0
                )))
            }
            Verified::Bad {
                first_bad_seq,
                reason,
            } => {
                return Err(CliError::verification(format!(
                    "the restored log does not verify at seq {first_bad_seq}: {reason}"
                )))
            }
        }
        Ok((imported, head))
    })();
    let (imported, head) = match built {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&scratch);
            return Err(e);
        }
    };
    if dir.exists() {
        std::fs::remove_dir(dir)
            .map_err(|e| CliError::io(format!("cannot replace {}: {e}", dir.display())))?;
    }
    std::fs::rename(&scratch, dir).map_err(|e| {
        CliError::io(format!(
            "cannot move {} to {}: {e}",
            scratch.display(),
            dir.display()
        ))
    })?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    emit(&format!(
        "restored {imported} records into {}; the head is seq {} ({})\n",
        dir.display(),
        head.0,
        head.1
    ))
}

/// Opens `dir` for an audit ([`Store::open_audit`]): the store, or — when not even a
/// scratch copy of its files opens — seq 1 and why, as the first record that cannot
/// be read.
fn open_audit(dir: &Path) -> Result<Result<Store, (u64, String)>, CliError> {
    match Store::open_audit(dir) {
        Ok(store) => Ok(Ok(store)),
        Err(log::StoreError::Unopenable { msg, .. }) => Ok(Err((
            1,
            format!("sled cannot open the log's files, nor a copy of its data file ({msg}): no record can be read"),
        ))),
        Err(e) => Err(e.into()),
    }
}

/// `sanbao export --salvage --out FILE`: writes every record that reads and passes
/// every check of `verify`, in order, and stops at the first bad one (or at the
/// first record the head witness says was acknowledged and the store lacks).
fn salvage(t: &Target, out: &Path) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::io(format!("cannot write {}: {e}", out.display()));
    let file = output::create_file(out)
        .map_err(|e| CliError::io(format!("cannot create {}: {e}", out.display())))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let result = match t.audit()? {
        Err((first_bad_seq, reason)) => Verified::Bad {
            first_bad_seq,
            reason,
        },
        Ok((store, upto)) => {
            let total = upto.unwrap_or_else(|| store.head().map(|h| h.seq).unwrap_or(0));
            let bar = output::progress(total, "salvaging");
            // Byte offsets where each written record starts, to cut the file back
            // to the records before the first bad seq once it is known.
            let mut starts: Vec<u64> = Vec::new();
            let mut at = 0u64;
            let mut failed: Option<std::io::Error> = None;
            let result = log::verify_each(
                &store,
                upto,
                |s| bar.set_position(s),
                |r| {
                    if failed.is_some() {
                        return;
                    }
                    let line = r.to_json_line();
                    starts.push(at);
                    at += line.len() as u64 + 1;
                    if let Err(e) = w
                        .write_all(line.as_bytes())
                        .and_then(|()| w.write_all(b"\n"))
                    {
                        failed = Some(e);
                    }
                },
            )?;
            bar.finish_and_clear();
            if let Some(e) = failed {
                return Err(io(e));
            }
            if let Verified::Bad { first_bad_seq, .. } = &result {
                let keep = (*first_bad_seq as usize).saturating_sub(1);
                if keep < starts.len() {
                    w.flush().map_err(io)?;
                    w.get_mut().set_len(starts[keep]).map_err(io)?;
                }
            }
            result
        }
    };
    w.flush().map_err(io)?;
    w.get_mut().sync_all().map_err(io)?;
    match result {
        Verified::Ok { records, head_hash } => {
            output::note(&format!(
                "salvaged all {records} records to {} (head hash {head_hash}); the log verifies",
                out.display()
            ));
            Ok(())
        }
        Verified::Bad {
            first_bad_seq,
            reason,
        } => {
            let n = first_bad_seq - 1;
            let what = if n == 0 {
                "no record".to_string()
            } else {
                format!("records 1..={n}")
            };
            Err(CliError::verification(format!(
                "salvaged {what} to {}; stopped at seq {first_bad_seq}: {reason}. `sanbao --data NEWDIR restore --from {}` builds a log of them",
                out.display(),
                out.display()
            )))
        }
    }
}

fn export(
    t: &Target,
    from: Option<u64>,
    to: Option<u64>,
    out: Option<PathBuf>,
) -> Result<(), CliError> {
    let (store, head) = t.store()?;
    let io = |e: std::io::Error| CliError::io(format!("cannot write the export: {e}"));
    let sink: Box<dyn Write> = match &out {
        Some(p) => Box::new(
            output::create_file(p)
                .map_err(|e| CliError::io(format!("cannot create {}: {e}", p.display())))?,
        ),
        None => output::stdout(),
    };
    let mut w = BufWriter::with_capacity(1 << 20, sink);
    let bar = output::progress(head.seq, "exporting");
    for r in store.records(from.unwrap_or(1), to.unwrap_or(u64::MAX).min(head.seq)) {
        let r = r?;
        w.write_all(r.to_json_line().as_bytes()).map_err(io)?;
        w.write_all(b"\n").map_err(io)?;
        if r.seq % 4096 == 0 {
            bar.set_position(r.seq);
        }
    }
    w.flush().map_err(io)?;
    bar.finish_and_clear();
    Ok(())
}

fn verify(t: &Target, as_json: bool) -> Result<(), CliError> {
    let result = match t.audit()? {
        Ok((store, upto)) => {
            let total = upto.unwrap_or_else(|| store.head().map(|h| h.seq).unwrap_or(0));
            let bar = output::progress(total, "verifying");
            let result = log::verify(&store, upto, |s| bar.set_position(s))?;
            bar.finish_and_clear();
            result
        }
        Err((first_bad_seq, reason)) => Verified::Bad {
            first_bad_seq,
            reason,
        },
    };
    match result {
        Verified::Ok { records, head_hash } => {
            if as_json {
                emit(&format!(
                    "{}\n",
                    json!({"head_hash": head_hash.to_hex(), "ok": true, "records": records})
                ))
            } else {
                emit(&format!(
                    "ok: {records} records verified; head hash {head_hash}\n"
                ))
            }
        }
        Verified::Bad {
            first_bad_seq,
            reason,
        } => {
            if as_json {
                emit(&format!(
                    "{}\n",
                    json!({"first_bad_seq": first_bad_seq, "ok": false, "reason": reason})
                ))?;
            } else {
                emit(&format!(
                    "FAILED: the chain breaks at seq {first_bad_seq}: {reason}\n"
                ))?;
            }
            Err(CliError::verification(format!(
                "verification failed at seq {first_bad_seq}: {reason}"
            )))
        }
    }
}

/// `sanbao truncate --after SEQ [--yes]`: checks that records `1..=SEQ` verify, says
/// what would be removed, and removes it only with `--yes`.
fn truncate(dir: &Path, after: u64, yes: bool) -> Result<(), CliError> {
    if !Store::exists(dir) {
        return Err(CliError::usage(format!(
            "there is no log in {} to truncate",
            dir.display()
        )));
    }
    let store = Store::open_audit(dir)?;
    let keep = match log::verify_prefix(&store, after)? {
        Ok(head) => head,
        Err((bad, reason)) => {
            return Err(CliError::verification(format!(
            "records 1..={after} do not all verify: seq {bad}: {reason}; keep less (--after {})",
            bad.saturating_sub(1)
        )))
        }
    };
    // What is stored past `after`, as far as it can be framed: a block that cannot
    // be framed counts up to its first unframed seq (it is removed whole all the same).
    let mut past: Vec<u64> = Vec::new();
    for item in store.raw_range(after.saturating_add(1), u64::MAX) {
        match item {
            Ok(stored) => past.push(stored.seq),
            Err(log::StoreError::Damaged { seq, .. }) => {
                past.push(seq.max(after.saturating_add(1)));
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let head_ok = store.head().is_ok_and(|h| h == keep);
    if past.is_empty() && head_ok && store.problem().is_none() {
        return emit(&format!(
            "nothing to remove: seq {after} is the head and records 1..={after} verify\n"
        ));
    }
    let what = match (past.first(), past.last()) {
        (Some(a), Some(b)) => format!(
            "{} stored record{} (seq {a}..={b}) and their idempotency keys",
            past.len(),
            if past.len() == 1 { "" } else { "s" }
        ),
        _ => "no record (only the head entry is rewritten)".to_string(),
    };
    if !yes {
        return Err(CliError::usage(format!(
            "truncate would remove {what} and make seq {after} the head of {}; this cannot be undone: export what you need (`sanbao export --to {after}`), then run again with --yes",
            dir.display()
        )));
    }
    let removed = store.truncate_after(keep)?;
    tracing::warn!(after, removed, "log truncated");
    emit(&format!(
        "removed {removed} records after seq {after}; the head is seq {after} ({})\n",
        keep.hash
    ))
}

/// The sample city's events, shipped in `replay/sample-city/` and built into the binary.
pub const SAMPLE_EVENTS: &str = include_str!("../../replay/sample-city/events.jsonl");

fn demo(t: &Target) -> Result<(), CliError> {
    let dir = t.dir();
    let (store, head) = t.store()?;
    drop(store);
    if head.seq == 0 {
        let (_, events) = event::parse_input(SAMPLE_EVENTS).map_err(|(i, e)| {
            CliError::io(format!("the shipped sample is broken at event {i:?}: {e}"))
        })?;
        let n = events.len();
        t.with_writer(|w, rt| {
            for chunk in events.chunks(crate::log::writer::MAX_BATCH_EVENTS) {
                rt.block_on(w.append(chunk.to_vec(), None))?;
            }
            Ok(())
        })?;
        emit(&format!(
            "Loaded the sample city (synthetic figures, replay/sample-city): {n} events into {}\n",
            dir.display()
        ))?;
    } else {
        emit(&format!(
            "Using the existing log in {} (demo loads the sample only into an empty directory)\n",
            dir.display()
        ))?;
    }
    // The report is made under the state, and printed after it is let go.
    let report = {
        let state = t.state(None)?;
        let Some(latest) = state.max_effective_date else {
            return emit("The log is empty: nothing to plan.\n");
        };
        let Some(next) = latest.month().add(1) else {
            return emit("The log ends in 2099-12: there is no next month to plan.\n");
        };
        format!(
            "Latest business date {latest}; next month's dispatch plan:\n\n{}\nMore: sanbao --data {} monitor · position · forecast --from {next} · replay · verify\n",
            plan::plan_text(&state, next),
            dir.display()
        )
    };
    emit(&report)
}

/// Opens the log and folds the state of the records with seq ≤ `at_seq` (the head
/// when `None`). An `at_seq` beyond the head is a usage error (exit 2, SPEC §8.26).
pub(crate) fn open_at_seq(dir: &Path, at_seq: Option<u64>) -> Result<(Store, State), CliError> {
    let store = Store::open(dir)?;
    let head = store.head()?.seq;
    if let Some(n) = at_seq {
        if n > head {
            return Err(beyond_head(n, head));
        }
    }
    drop(store);
    open_with_state(dir, at_seq)
}
