//! `sanbao sink postgres`: the command around [`crate::sink`] — its arguments checked,
//! the runtime, SIGINT/SIGTERM, the progress lines on standard output, and every
//! [`SinkError`] mapped to its exit code and one `error:` line.

use crate::error::CliError;
use crate::follow::Primary;
use crate::server;
use crate::sink::{self, SinkError, Source};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The parsed arguments of `sink postgres`.
pub(crate) struct Args {
    pub dir: PathBuf,
    pub url: String,
    pub city: Option<String>,
    pub from_server: Option<String>,
    pub token: Option<String>,
    pub once: bool,
    pub rebuild: bool,
}

fn to_cli(e: SinkError) -> CliError {
    let m = e.to_string();
    match e.exit_code() {
        2 => CliError::usage(m),
        4 => CliError::conflict(m),
        5 => CliError::verification(m),
        _ => CliError::io(m),
    }
}

/// Runs the sink; prints `city C at seq N (HASH): …` after each batch at most once a
/// second, and once at the end.
pub(crate) fn postgres(a: Args) -> Result<(), CliError> {
    let source = match &a.from_server {
        Some(url) => Source::Server(
            Primary::parse(url, a.token.as_deref().unwrap_or(""))
                .map_err(|e| CliError::usage(format!("--from-server: {e}")))?,
        ),
        None => Source::Dir(a.dir.clone()),
    };
    let city = match (&a.city, &source) {
        (Some(c), _) => c.clone(),
        (None, Source::Dir(d)) => std::fs::canonicalize(d)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .ok_or_else(|| {
                CliError::usage(format!(
                    "{}: no such data directory (or give --city ID)",
                    d.display()
                ))
            })?,
        (None, Source::Server(_)) => {
            return Err(CliError::usage(
                "--from-server needs --city ID: the id the city's rows go under",
            ))
        }
    };
    sink::check_city(&city).map_err(to_cli)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io(format!("cannot start the runtime: {e}")))?;
    let started = Instant::now();
    let result = rt.block_on(async {
        let mut s = sink::Sink::open(&a.url, &city, a.rebuild)
            .await
            .map_err(to_cli)?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let signals = tokio::spawn(async move {
            server::shutdown_on_signals().await;
            let _ = stop_tx.send(true);
        });
        let line = |s: &sink::Sink| {
            let p = s.position();
            format!(
                "city {} at seq {} ({}): {} records, {} rows ({} county days) in {} transactions, {:.1} s",
                s.city(),
                p.seq,
                p.hash,
                s.stats.records,
                s.stats.rows,
                s.stats.county_days,
                s.stats.batches,
                started.elapsed().as_secs_f64()
            )
        };
        let mut last = Instant::now();
        let mut report = |s: &sink::Sink| {
            if last.elapsed() >= Duration::from_secs(1) {
                last = Instant::now();
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", line(s));
                let _ = out.flush();
            }
        };
        let r = sink::run(&mut s, &source, a.once, stop_rx, &mut report).await;
        signals.abort();
        let mut out = std::io::stdout().lock();
        let st = s.stats;
        let _ = writeln!(
            out,
            "{}; time: derive {:.2} s, COPY records {:.2} s, COPY derived rows {:.2} s, lock and commit {:.2} s",
            line(&s),
            st.derive.as_secs_f64(),
            st.copy_records.as_secs_f64(),
            st.copy_rows.as_secs_f64(),
            st.commit.as_secs_f64()
        );
        let _ = out.flush();
        r.map_err(to_cli)
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    result
}
