//! Running a command line: [`main_with_args`] parses it (usage errors and `--help`
//! answered here), sets up SIGPIPE and logging, and [`run`] hands the command to the
//! server that holds the directory ([`forward`]) or runs it here through [`execute`],
//! which dispatches every [`Command`] to its body.
//!
//! Guarantees: one exit code per run, from [`crate::error`]; a failure is said in one
//! `error:` line on the command's standard error; a command forwarded to a server runs
//! the same [`execute`] as one run here, so both print the same bytes.

use super::args::{command_name, Cli, Command, SinkCommand, TokenCommand};
use super::maintain::{export, restore, salvage, truncate, verify};
use super::output::{self, emit};
use super::target::Target;
use super::write::{append, demo, import};
use super::{chart, forward, notices, plan, read, serve, sink, status};
use crate::error::CliError;
use crate::log;
use clap::Parser;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Parses the arguments and runs the command; returns the process exit code.
pub fn main_with_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> u8 {
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    let cli = match Cli::try_parse_from(&args) {
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
            if asked_lang(&args) == crate::lang::Lang::Zh {
                // The parser's detail stays its own; what went wrong is said in Chinese.
                eprintln!(
                    "error: {}：{first}（见 sanbao --help）",
                    usage_kind_zh(e.kind())
                );
            } else {
                eprintln!("error: {first} (see 'sanbao --help')");
            }
            return 2;
        }
    };
    if !matches!(
        cli.command,
        Command::Serve { .. } | Command::Follow { .. } | Command::Sink(_)
    ) {
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

/// The language a command line asks for before it is parsed: `--lang zh|en` among
/// its words, else `SANBAO_LANG`, else the locale.
fn asked_lang(args: &[std::ffi::OsString]) -> crate::lang::Lang {
    let words: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    for (i, w) in words.iter().enumerate() {
        let v = match w.strip_prefix("--lang=") {
            Some(v) => Some(v),
            None if *w == "--lang" => words.get(i + 1).copied(),
            None => None,
        };
        if let Some(l) = v.and_then(crate::lang::Lang::parse) {
            return l;
        }
    }
    crate::lang::Lang::from_env()
}

/// What kind of usage mistake clap found, in Chinese.
fn usage_kind_zh(kind: clap::error::ErrorKind) -> &'static str {
    use clap::error::ErrorKind as K;
    match kind {
        K::UnknownArgument => "未知参数",
        K::InvalidSubcommand => "未知命令",
        K::InvalidValue | K::ValueValidation | K::InvalidUtf8 => "参数取值无效",
        K::MissingRequiredArgument => "缺少必填参数",
        K::MissingSubcommand => "缺少命令",
        K::ArgumentConflict => "参数不能同时使用",
        K::NoEquals | K::TooManyValues | K::TooFewValues | K::WrongNumberOfValues => {
            "参数个数或写法有误"
        }
        _ => "用法有误",
    }
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
fn run(mut cli: Cli) -> u8 {
    cli.command.settle();
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
            let lang = cli
                .command
                .lang()
                .unwrap_or_else(crate::lang::Lang::from_env);
            eprintln!("error: {}", e.line_in(lang));
            e.code
        }
    }
}

/// Runs `command` on `target` and answers its exit code, a failure said in one
/// `error:` line on the command's standard error. The one entry for a command run
/// here and one forwarded to the server that holds the directory.
pub(crate) fn execute(target: &Target, command: Command) -> u8 {
    let lang = command.lang().unwrap_or_else(output::env_lang);
    match run_command(target, command) {
        Ok(()) => 0,
        Err(e) => {
            output::note(&format!("error: {}", e.line_in(lang)));
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
            ))
            .zh(format!(
                "sanbao {} 不能经由服务运行",
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
            dry_run,
        } => append(t, file, idempotency_key, expect_seq, dry_run),
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
        Command::Chart(a) => chart::chart(t, a),
        Command::Notices(a) => notices::notices(t, a),
        Command::Review(super::ReviewCommand::Budget(a)) => read::review_budget(t, a),
        Command::Assess(a) => read::assess(t, a),
        Command::Scorecard(a) => read::scorecard(t, a),
        Command::Demo { lang } => demo(t, lang.unwrap_or_else(crate::lang::Lang::from_env)),
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
                ))
                .zh(format!(
                    "--shutdown-grace {shutdown_grace}：请给出秒数（0 或以上）"
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
        Command::Sink(SinkCommand::Postgres {
            url,
            city,
            from_server,
            token,
            data,
            once,
            rebuild,
        }) => sink::postgres(sink::Args {
            dir: data.unwrap_or_else(|| dir.to_path_buf()),
            url,
            city,
            from_server,
            token,
            once,
            rebuild,
        }),
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
    let shell: clap_complete::Shell = shell.parse().map_err(|e| {
        CliError::usage(format!("completions {shell}: {e}"))
            .zh(format!("completions {shell}：不支持的 shell（{e}）"))
    })?;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "sanbao", &mut out);
    emit(&String::from_utf8_lossy(&out))
}
