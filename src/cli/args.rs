//! The command line's clap definitions (SPEC §5): [`Cli`] with its global options,
//! every [`Command`] and [`TokenCommand`], and the argument structs of the read and
//! plan commands.
//!
//! Guarantees: the doc comments and `#[arg]`/`#[command]` attributes here are the
//! CLI's `--help` text and its man pages (`docs/man`, checked by `tests/installed.rs`);
//! a [`Command`] is also the serde request a forwarded command sends to the server
//! that holds the directory, so it stays plain data. Parsing only, no I/O.

use super::serve;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

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
    ///
    /// Every record names who appended it (`recorded_by`): `local` for the command
    /// line. An emergency_approved is answered with two lines: the approval and the
    /// emergency_dispatched appended right after it.
    Append {
        /// Input file, or - for standard input
        file: Option<PathBuf>,
        /// Idempotency key for a single event that carries no key of its own
        #[arg(long, value_name = "K")]
        idempotency_key: Option<String>,
        /// Append only if the log's last seq is N (0 for an empty log)
        #[arg(long, value_name = "N")]
        expect_seq: Option<u64>,
        /// Write nothing: answer what the append would do now — each line with
        /// "dry_run":true, the seq and hash it would get (the hash as recorded at the
        /// "recorded_at" shown) — or refuse it exactly as the append would (exit 3 or 4)
        #[arg(long)]
        dry_run: bool,
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
    /// Day-end balances of the city and every county, with entitlements and
    /// outstanding emergency advances (SPEC §6.1)
    Position(PositionArgs),
    /// Guarantee levels, payroll deadlines, overdue direct funds, discrepancies and
    /// the watch list (库款监测, SPEC §6.2), with wage arrears (欠薪), the twelve
    /// months' payroll and watch-list history, tight months and 关注 (docs/monitor-v2.md)
    Monitor(MonitorArgs),
    /// The month's dispatch plan (SPEC §6.3); --issue also records it
    ///
    /// The plan follows the planning policy in force on its basis date B, the day
    /// before the month begins (the latest `planning_policy_set` with effective_from ≤
    /// B; v1 when none): to make July's plan follow v2, set effective_from on or before
    /// June 30. v1 is SPEC §6.3; v2 (docs/planning-policy-v2.md) projects needs from at
    /// least the run rate and the declared wage bill and, in a short tier, funds
    /// counties under the warning line first.
    Plan(PlanArgs),
    /// The three-month wage-payment risk forecast (SPEC §6.4)
    Forecast(ForecastArgs),
    /// Draw a chart as an SVG file: a county's day-end cash with its lines, every
    /// county's guarantee level, or the wage-cover forecast (issue 16)
    ///
    /// The file is written whole or not at all (a temporary file beside it, renamed
    /// when complete): bad input leaves no file, and an existing FILE as it was.
    /// Prints nothing on success, like `export --out`.
    Chart(ChartArgs),
    /// The auditor's command: rebuild everything from the log alone, verify the chain
    /// up to N and recompute every issued plan (exit 5 if anything fails)
    Replay(ReplayArgs),
    /// 提示函: draft the month's notice letters on low guarantee levels (.docx and
    /// .html, one per county that was at warning or low on any day of the month);
    /// --issue also records them (notice_issued)
    ///
    /// Each letter: title 关于库款保障水平偏低的提示函, document number
    /// PREFIX〔YEAR〕N号 (N follows the last one issued under PREFIX and the year),
    /// the county's finance bureau as addressee, the month's facts (month-end cash,
    /// average monthly outflow, level against the lines, days under each line,
    /// payroll, direct funds not yet dispatched), the requirements, the issuer and
    /// date, and a footer naming the record and hash the figures come from. A county
    /// already noticed for the month gets its letter again under its recorded
    /// number, and is never issued twice.
    Notices(NoticesArgs),
    /// 预算再审核: re-review the counties' budgets of a fiscal year against their run
    /// rates and declared wage bills (issue 19)
    #[command(subcommand)]
    Review(ReviewCommand),
    /// 财政可承受能力评估: forecast a proposed standard's county twelve months with
    /// its cost added, month by month (issue 19)
    ///
    /// The forecast (SPEC §6.4) runs from the month of proposed_on; from `starts` on,
    /// monthly_cost is added to the month's needs. The proposal is `affordable` only if
    /// no month's wage cover is under 1.2 and no month's projected guarantee level
    /// (projected end ÷ (average monthly outflow on the first basis date + the cost)) is
    /// under the county's warning line.
    Assess(AssessArgs),
    /// 考核: score every county's fiscal year — days at each status, months on the
    /// watch list, late deposits, wage arrears (一票否决), direct funds overdue,
    /// notices, discrepancies, response plans — ranked, vetoed counties last (issue 19)
    Scorecard(ScorecardArgs),
    /// Load the sample city shipped in replay/ into an empty DIR and show it
    Demo {
        /// The language of the plan shown (the user's environment, settled before a
        /// forwarded run)
        #[arg(skip)]
        #[serde(default)]
        lang: Option<crate::lang::Lang>,
    },
    /// Serve the HTTP API of SPEC §7 and the web desk until SIGINT or SIGTERM
    ///
    /// Prints `listening on http://ADDR` on standard output once it accepts
    /// connections, then `desk: http://ADDR/`: the web desk in Chinese, on the same
    /// address (sign in there with a token). Needs a tokens file (see `sanbao token add`). Logs go to stderr
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
        #[arg(long, value_name = "N", env = "SANBAO_SNAPSHOT_AFTER", default_value_t = serve::SNAPSHOT_AFTER_RECORDS)]
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
    /// Keep a relational database up to date with one city's log (sink postgres)
    #[command(subcommand)]
    Sink(SinkCommand),
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

/// `sanbao sink …`.
#[derive(Subcommand, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum SinkCommand {
    /// Follows one city's log — a running server's event stream (resuming with
    /// Last-Event-ID) or a data directory — into PostgreSQL: the records, and every
    /// county's day-end figures, payroll and watch list per day and every issued
    /// plan, computed by sanbao's own monitor and planner. Creates its tables
    /// (versioned) and the province's views. Each batch is one transaction with the
    /// sink's position, so a restart resumes exactly after it. A record whose hash or
    /// chain does not match stops it (exit 5, naming the seq); so does a log that was
    /// truncated or rewritten since the database saw it, unless --rebuild. Several
    /// cities write into one database, each under its --city. Runs until SIGINT or
    /// SIGTERM (exit 0), or with --once until caught up.
    Postgres {
        /// The database: postgresql://USER:PASSWORD@HOST:PORT/DB, or key=value words
        /// (host=/run/postgresql dbname=treasury)
        #[arg(
            long,
            value_name = "URL",
            env = "SANBAO_SINK_URL",
            hide_env_values = true
        )]
        url: String,
        /// The city's id in the database (1–64 of A-Z a-z 0-9 _ . -)
        /// [default: the data directory's name; required with --from-server]
        #[arg(long, value_name = "ID")]
        city: Option<String>,
        /// Read the city's log from a running `sanbao serve` at http://HOST:PORT
        #[arg(long, value_name = "URL", requires = "token", conflicts_with = "data")]
        from_server: Option<String>,
        /// A token of that server's (any role: the sink only reads)
        #[arg(
            long,
            value_name = "T",
            env = "SANBAO_SINK_TOKEN",
            hide_env_values = true
        )]
        token: Option<String>,
        /// Read the city's log from this data directory [default: the global --data]
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Catch up with the log's head as it is on starting, then exit
        #[arg(long)]
        once: bool,
        /// Delete the city's rows and write them again from the log's start (after
        /// the log was truncated or rewritten)
        #[arg(long)]
        rebuild: bool,
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
        /// The user's name (shown in the service's logs, and in the `recorded_by` of
        /// every record the user appends; `local` is the command line's)
        #[arg(long, value_name = "NAME")]
        name: String,
        /// officer (appends events), scheduler (plans, issues plans and decides
        /// affordability assessments), approver
        /// (approves emergency requests, sets the direct-dispatch limit) or auditor
        /// (reads)
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
    #[command(flatten)]
    /// Language, unit, width and --out.
    #[serde(default)]
    pub paper: PaperArgs,
}

/// Arguments of `monitor`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MonitorArgs {
    #[command(flatten)]
    /// As of / at seq.
    pub time: TimeArgs,
    /// Print the JSON object of SPEC §6.2 with the members of contract v2
    #[arg(long)]
    pub json: bool,
    /// 按日监测: every day from --from to --to, each county's day-end cash, level and
    /// status, and per month the days spent in each status (instead of one date)
    #[arg(long, conflicts_with = "as_of")]
    pub daily: bool,
    /// First day of --daily [default: the first day of --to's month]
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: Option<crate::values::Date>,
    /// Last day of --daily [default: the latest effective date]
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub to: Option<crate::values::Date>,
    /// Only this county (with --daily)
    #[arg(long, value_name = "ID")]
    pub county: Option<String>,
    /// What-if: suppose the events of FILE (one object, a JSON array or JSON Lines,
    /// as `append` reads; - for standard input) appended after the head, each checked
    /// by the rules in order, and answer over them. Nothing is written; the answer
    /// says "hypothetical": N
    #[arg(long, value_name = "FILE", conflicts_with_all = ["at_seq"])]
    pub with: Option<PathBuf>,
    /// The text of --with FILE, read by the client before the command runs here or
    /// is forwarded (a server never opens a client's path).
    #[arg(skip)]
    #[serde(default)]
    pub with_input: Option<super::whatif::WithInput>,
    #[command(flatten)]
    /// Language, unit, width and --out.
    #[serde(default)]
    pub paper: PaperArgs,
}

/// Arguments of `plan` (and its subcommands `plan execute`, `plan status`).
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct PlanArgs {
    /// Execute an issued plan, or compare it with what was dispatched (instead of
    /// printing the plan)
    #[command(subcommand)]
    #[serde(default)]
    pub command: Option<PlanCommand>,
    /// The plan month
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month, required = true)]
    pub month: Option<crate::values::Month>,
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
    /// What-if: suppose the events of FILE (one object, a JSON array or JSON Lines,
    /// as `append` reads; - for standard input) appended after the head, each checked
    /// by the rules in order, and answer over them. Nothing is written; the answer
    /// says "hypothetical": N and carries no plan_sha256 (a what-if plan cannot be issued)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["at_seq", "issue"])]
    pub with: Option<PathBuf>,
    /// The text of --with FILE, read by the client before the command runs here or
    /// is forwarded (a server never opens a client's path).
    #[arg(skip)]
    #[serde(default)]
    pub with_input: Option<super::whatif::WithInput>,
    #[command(flatten)]
    /// Language, unit, width and --out.
    #[serde(default)]
    pub paper: PaperArgs,
}

/// The subcommands of `plan` (issue 18).
#[derive(Subcommand, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum PlanCommand {
    /// Execute the latest issued plan of the month: one atomic batch of
    /// transfer_allocated, one per funded line
    ///
    /// The plan is recomputed at the issued based_on_seq and must give the issued
    /// plan_sha256 (else exit 5). Each transfer: amount = the line's funded amount,
    /// plan_month = the month, reference `plan MONTH seq N` (N: the plan_issued
    /// record), idempotency key `plan-exec:N:COUNTY:FUND:FISCAL_YEAR`. Lines whose key
    /// is already in the log are left out, so running it again appends only what is
    /// missing and never pays twice. Prints one line per appended event, as `append`
    /// does, and a summary on standard error. No issued plan for the month: exit 3.
    Execute(PlanExecuteArgs),
    /// The latest issued plan of the month against what was dispatched for it
    ///
    /// Per line: funded in the plan, dispatched (unreversed transfers with plan_month
    /// the month), remaining and over-plan; transfers with plan_month the month that
    /// no issued plan or no line covers, or that go beyond their line, are listed off
    /// plan.
    Status(PlanStatusArgs),
}

/// Arguments of `plan execute`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PlanExecuteArgs {
    /// The plan month (its latest plan_issued is executed)
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    pub month: crate::values::Month,
    /// value_date of the transfers [default: the first day of the month]
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub value_date: Option<crate::values::Date>,
    /// Print the events that would be appended (JSON Lines, with their idempotency
    /// keys: `append` takes them as they are) and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `plan status`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PlanStatusArgs {
    /// The plan month
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    pub month: crate::values::Month,
    /// Count the records with seq ≤ N [default: the head]
    #[arg(long, value_name = "N")]
    pub at_seq: Option<u64>,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
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
    /// What-if: suppose the events of FILE (one object, a JSON array or JSON Lines,
    /// as `append` reads; - for standard input) appended after the head, each checked
    /// by the rules in order, and answer over them. Nothing is written; the answer
    /// says "hypothetical": N
    #[arg(long, value_name = "FILE", conflicts_with_all = ["at_seq"])]
    pub with: Option<PathBuf>,
    /// The text of --with FILE, read by the client before the command runs here or
    /// is forwarded (a server never opens a client's path).
    #[arg(skip)]
    #[serde(default)]
    pub with_input: Option<super::whatif::WithInput>,
    #[command(flatten)]
    /// Language, unit, width and --out.
    #[serde(default)]
    pub paper: PaperArgs,
}

/// `sanbao review …` (issue 19).
#[derive(clap::Subcommand, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum ReviewCommand {
    /// 预算再审核: per county and category, the budget (needs_budgeted), the run rate
    /// (outflow of the year through as_of ÷ days elapsed × days in the year) and, for
    /// wages, the year's declared wage bills; flags a county `under_budgeted` where
    /// budgeted wages are below the declared bills or a run rate exceeds its budget by
    /// more than 5 %, with the gap to add
    Budget(ReviewBudgetArgs),
}

/// Arguments of `review budget`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReviewBudgetArgs {
    /// The fiscal year to review
    #[arg(long, value_name = "YYYY", value_parser = parse_fiscal_year)]
    pub fiscal_year: crate::values::FiscalYear,
    #[command(flatten)]
    /// As of / at seq.
    pub time: TimeArgs,
    /// Print the JSON object
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// Language, unit, width and --out.
    #[serde(default)]
    pub paper: PaperArgs,
}

/// Arguments of `assess`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AssessArgs {
    /// The seq of the policy_proposed record to assess
    #[arg(long, value_name = "SEQ")]
    pub proposal: u64,
    /// Assess from the records with seq ≤ N [default: the head]
    #[arg(long, value_name = "N")]
    pub at_seq: Option<u64>,
    /// Print the JSON object
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// Language, unit, width and --out.
    #[serde(default)]
    pub paper: PaperArgs,
}

/// Arguments of `scorecard`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ScorecardArgs {
    /// The fiscal year to score: 1 January to 31 December, or to the latest business
    /// date when earlier
    #[arg(long, value_name = "YYYY", value_parser = parse_fiscal_year)]
    pub fiscal_year: crate::values::FiscalYear,
    /// Score from the records with seq ≤ N [default: the head]
    #[arg(long, value_name = "N")]
    pub at_seq: Option<u64>,
    /// Print the JSON object
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// Language, unit, width and --out.
    #[serde(default)]
    pub paper: PaperArgs,
}

/// Arguments of `notices`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NoticesArgs {
    /// The month the letters are about
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    pub month: crate::values::Month,
    /// The directory to write the letters to (created if missing): MONTH-COUNTY.docx
    /// and MONTH-COUNTY.html
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also append one notice_issued per new letter (one atomic batch)
    #[arg(long)]
    pub issue: bool,
    /// The letters' date (成文日期) and the events' issued_on [default: today, UTC]
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub issued_on: Option<crate::values::Date>,
    /// The prefix of the document numbers (the city's setting: SANBAO_DOC_PREFIX)
    #[arg(
        long,
        value_name = "PREFIX",
        env = "SANBAO_DOC_PREFIX",
        default_value = "财库"
    )]
    pub doc_prefix: String,
    /// The issuing authority, as it signs (the city's setting: SANBAO_ISSUER)
    #[arg(
        long,
        value_name = "NAME",
        env = "SANBAO_ISSUER",
        default_value = "市财政局"
    )]
    pub issuer: String,
    /// Draft from the records with seq ≤ N [default: the head]
    #[arg(long, value_name = "N")]
    pub at_seq: Option<u64>,
    /// Print one JSON object listing the letters
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
    #[command(flatten)]
    /// Language, unit, width and --out.
    #[serde(default)]
    pub paper: PaperArgs,
}

/// How a read command's answer is written for people: language, unit, table width,
/// and a file (`--out`) instead of standard output.
#[derive(clap::Args, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct PaperArgs {
    /// Language of tables and files: zh (中文) or en [env: SANBAO_LANG] [default: zh
    /// when the locale (LC_ALL, LC_MESSAGES, LANG) is Chinese, else en; files written
    /// with --out: zh unless SANBAO_LANG says otherwise]. JSON never changes
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    pub lang: Option<crate::lang::Lang>,
    /// Unit of amounts in tables and files: yuan (元, two decimals) or wan (万元, six
    /// decimals, so every cent is kept). JSON is always in yuan
    #[arg(long, value_name = "UNIT", value_parser = parse_unit, default_value = "yuan")]
    pub unit: crate::lang::Unit,
    /// Print every table row on one line, however wide (by default wide tables are cut
    /// into parts that fit 120 columns, each repeating the county)
    #[arg(long)]
    pub wide: bool,
    /// Write the answer to FILE instead of standard output; the extension picks the
    /// format: .xlsx (one sheet per section, with a title block tracing it to the
    /// log), .csv (UTF-8 with BOM; one file NAME-SECTION.csv per section when there
    /// are several) or .json (the --json object). Written to a temporary name, then
    /// renamed: a failure leaves no partial file
    #[arg(long, value_name = "FILE", conflicts_with = "json")]
    pub out: Option<PathBuf>,
}

impl PaperArgs {
    /// Settles the language on the client's side (before a command is forwarded to a
    /// server, whose environment is not the user's): `--lang`, else `SANBAO_LANG`,
    /// else Chinese for a file and the locale's language for a terminal.
    pub fn settle(&mut self) {
        if self.lang.is_none() {
            let asked = std::env::var("SANBAO_LANG")
                .ok()
                .and_then(|v| crate::lang::Lang::parse(&v));
            self.lang = Some(match (asked, &self.out) {
                (Some(l), _) => l,
                (None, Some(_)) => crate::lang::Lang::Zh,
                (None, None) => crate::lang::Lang::from_env(),
            });
        }
    }
}

impl Command {
    /// The language the command was asked to speak (`--lang`, settled), if it has one;
    /// its `error:` line follows it.
    pub fn lang(&self) -> Option<crate::lang::Lang> {
        match self {
            Command::Position(a) => a.paper.lang,
            Command::Monitor(a) => a.paper.lang,
            Command::Plan(a) => a.paper.lang,
            Command::Forecast(a) => a.paper.lang,
            Command::Replay(a) => a.paper.lang,
            Command::Review(ReviewCommand::Budget(a)) => a.paper.lang,
            Command::Assess(a) => a.paper.lang,
            Command::Scorecard(a) => a.paper.lang,
            Command::Chart(a) => a.chart.out().lang,
            // The letters are Chinese; so are their errors.
            Command::Notices(_) => Some(crate::lang::Lang::Zh),
            Command::Demo { lang } => *lang,
            _ => None,
        }
    }

    /// Settles what depends on the user's environment before the command runs here
    /// or is forwarded ([`PaperArgs::settle`]), and reads a what-if's `--with FILE` on
    /// the user's side.
    pub fn settle(&mut self) {
        match self {
            Command::Position(a) => a.paper.settle(),
            Command::Monitor(a) => {
                a.paper.settle();
                a.with_input = a.with.as_deref().map(super::whatif::read);
            }
            Command::Plan(a) => {
                a.paper.settle();
                a.with_input = a.with.as_deref().map(super::whatif::read);
            }
            Command::Forecast(a) => {
                a.paper.settle();
                a.with_input = a.with.as_deref().map(super::whatif::read);
            }
            Command::Replay(a) => a.paper.settle(),
            Command::Review(ReviewCommand::Budget(a)) => a.paper.settle(),
            Command::Assess(a) => a.paper.settle(),
            Command::Scorecard(a) => a.paper.settle(),
            // The server creates the directory: name it as the user meant it.
            Command::Notices(a) if a.out.is_relative() => {
                if let Ok(cwd) = std::env::current_dir() {
                    a.out = cwd.join(&a.out);
                }
            }
            Command::Demo { lang } => {
                lang.get_or_insert_with(crate::lang::Lang::from_env);
            }
            Command::Chart(a) => {
                // A chart is a file: Chinese unless SANBAO_LANG says otherwise.
                let o = a.chart.out_mut();
                if o.lang.is_none() {
                    o.lang = Some(
                        std::env::var("SANBAO_LANG")
                            .ok()
                            .and_then(|v| crate::lang::Lang::parse(&v))
                            .unwrap_or(crate::lang::Lang::Zh),
                    );
                }
            }
            _ => {}
        }
    }
}

fn parse_lang(s: &str) -> Result<crate::lang::Lang, String> {
    match s {
        "zh" => Ok(crate::lang::Lang::Zh),
        "en" => Ok(crate::lang::Lang::En),
        _ => Err("give zh or en".to_string()),
    }
}

fn parse_unit(s: &str) -> Result<crate::lang::Unit, String> {
    crate::lang::Unit::parse(s).ok_or_else(|| "give yuan or wan".to_string())
}

/// Arguments of `chart`.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ChartArgs {
    /// Which chart.
    #[command(subcommand)]
    pub chart: ChartCommand,
}

/// The charts of `sanbao chart`.
#[derive(Subcommand, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum ChartCommand {
    /// One county's day-end cash (库款日终余额), day by day, over the bands of its
    /// warning, alert and idle lines in yuan (each line × that day's average monthly
    /// outflow)
    Cash {
        /// The county
        #[arg(long, value_name = "ID")]
        county: String,
        /// First day [default: the first day of the month eleven months before --to's]
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        from: Option<crate::values::Date>,
        /// Last day [default: the latest effective date]
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        to: Option<crate::values::Date>,
        #[command(flatten)]
        /// Seq, language and file.
        out: ChartOut,
    },
    /// Every county's guarantee level (库款保障水平) on one date, as bars coloured and
    /// labelled by status, with each county's three lines marked
    Levels {
        /// The date [default: the latest effective date]
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        as_of: Option<crate::values::Date>,
        #[command(flatten)]
        /// Seq, language and file.
        out: ChartOut,
    },
    /// Wage cover (工资保障倍数) by county and month, as a heat map coloured and
    /// labelled by risk (the forecast of SPEC §6.4)
    Forecast {
        /// First month of the forecast
        #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
        from: crate::values::Month,
        /// Number of months (1 to 24)
        #[arg(long, value_name = "K", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=24))]
        months: u32,
        #[command(flatten)]
        /// Seq, language and file.
        out: ChartOut,
    },
}

impl ChartCommand {
    /// The options every chart takes.
    pub fn out(&self) -> &ChartOut {
        match self {
            ChartCommand::Cash { out, .. }
            | ChartCommand::Levels { out, .. }
            | ChartCommand::Forecast { out, .. } => out,
        }
    }

    /// The options every chart takes, to fill in.
    pub fn out_mut(&mut self) -> &mut ChartOut {
        match self {
            ChartCommand::Cash { out, .. }
            | ChartCommand::Levels { out, .. }
            | ChartCommand::Forecast { out, .. } => out,
        }
    }
}

/// What every chart takes: the knowledge seq, the language and the file.
#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ChartOut {
    /// Only records with seq ≤ N (0..=head) [default: the head]
    #[arg(long, value_name = "N")]
    pub at_seq: Option<u64>,
    /// Language of the labels: zh or en [default: SANBAO_LANG, else zh: a chart is a
    /// paper for the bureau]
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    pub lang: Option<crate::lang::Lang>,
    /// The SVG file to write (its name must end in .svg)
    #[arg(long, value_name = "FILE.svg")]
    pub out: PathBuf,
}

fn parse_fiscal_year(s: &str) -> Result<crate::values::FiscalYear, String> {
    s.parse::<i32>()
        .ok()
        .and_then(crate::values::FiscalYear::new)
        .ok_or_else(|| format!("{s:?} is not a fiscal year from 2000 to 2099"))
}

fn parse_date(s: &str) -> Result<crate::values::Date, String> {
    crate::values::Date::parse(s)
}

fn parse_month(s: &str) -> Result<crate::values::Month, String> {
    crate::values::Month::parse(s)
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
        Command::Chart(_) => "chart",
        Command::Replay(_) => "replay",
        Command::Notices(_) => "notices",
        Command::Review(_) => "review",
        Command::Assess(_) => "assess",
        Command::Scorecard(_) => "scorecard",
        Command::Demo { .. } => "demo",
        Command::Serve { .. } => "serve",
        Command::Follow { .. } => "follow",
        Command::Sink(_) => "sink postgres",
        Command::Token(_) => "token",
        Command::Status { .. } => "status",
        Command::Truncate { .. } => "truncate",
        Command::Completions { .. } => "completions",
    }
}
