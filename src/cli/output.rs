//! Printing: progress bars on a terminal (hidden otherwise), whether reports are in
//! colour (only on a terminal, never with `NO_COLOR`; the tables themselves are
//! [`crate::report::text`]), one-line JSON, paper files written whole or not at all,
//! and writing to standard output where a closed pipe (`| head`) is not an error. Shared by every
//! command that prints a report (`position`, `monitor`, `replay`, `plan`, `forecast`).
//!
//! Commands reach their standard streams (and an `--out FILE`) only through
//! [`stdout`], [`stderr`], [`stdin`] and [`create_file`]: on a thread running a
//! command for a client of the server that holds the directory ([`super::forward`]),
//! these are the client's, carried over `DIR/sanbao.sock`; everywhere else they are
//! the process's own. So a forwarded command prints byte for byte what it prints
//! without a server. Colour follows the client's terminal; a forwarded command draws
//! no progress bar (the client draws one of the bytes it sends for `import FILE`).

use super::forward::{Remote, Stream};
use crate::error::CliError;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

/// Whether this process's reports are in colour: stdout a terminal, `NO_COLOR` unset.
pub(crate) fn local_colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    std::io::stdout().is_terminal() && !no_color
}

thread_local! {
    /// The client this thread runs a command for, if any (see [`on_behalf_of`]).
    static REMOTE: std::cell::RefCell<Option<Arc<Remote>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's standard streams, `--out` files and colour taken from
/// `remote` (a client of the server, [`super::forward`]); they are the process's own
/// again afterwards.
pub(crate) fn on_behalf_of<T>(remote: Arc<Remote>, f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            REMOTE.with(|r| r.borrow_mut().take());
        }
    }
    REMOTE.with(|r| *r.borrow_mut() = Some(remote));
    let _reset = Reset;
    f()
}

fn remote() -> Option<Arc<Remote>> {
    REMOTE.with(|r| r.borrow().clone())
}

/// The language of the user's environment: the client's for a forwarded command,
/// else this process's (`SANBAO_LANG`, the locale).
pub(crate) fn env_lang() -> crate::lang::Lang {
    remote().map_or_else(crate::lang::Lang::from_env, |r| r.lang())
}

/// The running command's standard output (unbuffered: wrap it for many small writes).
pub(crate) fn stdout() -> Box<dyn Write> {
    match remote() {
        Some(r) => Box::new(r.sink(Stream::Stdout)),
        None => Box::new(std::io::stdout().lock()),
    }
}

/// The running command's standard error.
pub(crate) fn stderr() -> Box<dyn Write> {
    match remote() {
        Some(r) => Box::new(r.sink(Stream::Stderr)),
        None => Box::new(std::io::stderr().lock()),
    }
}

/// The running command's standard input (a forwarded command's is what its client
/// sends: its file or its own standard input).
pub(crate) fn stdin() -> Box<dyn std::io::Read> {
    match remote() {
        Some(r) => Box::new(r.input()),
        None => Box::new(std::io::stdin()),
    }
}

/// A file a command writes (`export --out FILE`): what [`create_file`] opens.
pub(crate) trait OutFile: Write {
    /// Cuts the file to `len` bytes (after flushing what was written).
    fn set_len(&mut self, len: u64) -> std::io::Result<()>;
    /// Makes what was written durable.
    fn sync_all(&mut self) -> std::io::Result<()>;
}

impl OutFile for std::fs::File {
    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        std::fs::File::set_len(self, len)
    }
    fn sync_all(&mut self) -> std::io::Result<()> {
        std::fs::File::sync_all(self)
    }
}

/// Creates (or empties) the file `path` for the command to write. For a forwarded
/// command the client has created it already and writes what is sent.
pub(crate) fn create_file(path: &Path) -> std::io::Result<Box<dyn OutFile>> {
    match remote() {
        Some(r) => Ok(Box::new(r.sink(Stream::File))),
        None => Ok(Box::new(std::fs::File::create(path)?)),
    }
}

/// A temporary file in the directory of `path`, to be renamed onto it once complete
/// (so a failure never leaves a partial file at `path`).
pub(crate) fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile, CliError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".sanbao-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| {
            // tempfile adds the temporary name, which the user never asked for.
            let e = e.to_string();
            let e = e.split(" at path ").next().unwrap_or(&e).to_string();
            CliError::io(format!("cannot write {}: {e}", path.display()))
                .zh(format!("无法写入 {}：{e}", path.display()))
        })
}

/// Makes every temporary file durable and renames it onto its path, in order.
pub(crate) fn persist_all(
    files: Vec<(std::path::PathBuf, tempfile::NamedTempFile)>,
) -> Result<(), CliError> {
    for (path, f) in &files {
        f.as_file().sync_all().map_err(|e| {
            CliError::io(format!("cannot write {}: {e}", path.display()))
                .zh(format!("无法写入 {}：{e}", path.display()))
        })?;
    }
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    for (path, f) in files {
        f.persist(&path).map_err(|e| {
            CliError::io(format!("cannot write {}: {}", path.display(), e.error)).zh(format!(
                "无法写入 {}：{}",
                path.display(),
                e.error
            ))
        })?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    // The renames themselves made durable.
    for d in dirs {
        if let Ok(f) = std::fs::File::open(&d) {
            let _ = f.sync_all();
        }
    }
    Ok(())
}

/// Writes paper files (`--out` of a read command): all to temporary names first, then
/// each renamed into place, so bad input or a failure leaves no partial file. For a
/// forwarded command the client writes them, beside its own paths.
pub(crate) fn write_papers(files: &[(std::path::PathBuf, Vec<u8>)]) -> Result<(), CliError> {
    if let Some(r) = remote() {
        return r.papers(files).map_err(|e| {
            CliError::io(format!("cannot send the files to the client: {e}"))
                .zh(format!("无法把文件发送给客户端：{e}"))
        });
    }
    let mut temps = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let mut t = temp_beside(path)?;
        t.write_all(bytes).map_err(|e| {
            CliError::io(format!("cannot write {}: {e}", path.display()))
                .zh(format!("无法写入 {}：{e}", path.display()))
        })?;
        temps.push((path.clone(), t));
    }
    persist_all(temps)
}

/// Writes one line to the running command's standard error (a failure to write it
/// is ignored: there is nowhere left to say so).
pub(crate) fn note(line: &str) {
    let mut e = stderr();
    let _ = e.write_all(format!("{line}\n").as_bytes());
    let _ = e.flush();
}

/// Whether the running command's standard error is a terminal of its own (never for
/// a forwarded command).
fn stderr_is_terminal() -> bool {
    remote().is_none() && std::io::stderr().is_terminal()
}

/// A progress bar over `total` records on stderr, shown only on a terminal and only
/// for long work.
pub fn progress(total: u64, what: &str) -> ProgressBar {
    if total < 100_000 || !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} records ({per_sec}, {eta})")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A progress bar over `total` bytes on stderr, shown only on a terminal.
pub fn progress_bytes(total: u64, what: &str) -> ProgressBar {
    if !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Serializes one object as a single JSON line.
pub(crate) fn to_json_line<T: Serialize>(v: &T) -> Result<String, CliError> {
    let mut s =
        serde_json::to_string(v).map_err(|e| CliError::io(format!("cannot write JSON: {e}")))?;
    s.push('\n');
    Ok(s)
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
pub(crate) fn emit(s: &str) -> Result<(), CliError> {
    let mut out = stdout();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(
            CliError::io(format!("cannot write to standard output: {e}"))
                .zh(format!("无法写到标准输出：{e}")),
        ),
    }
}

/// ANSI styles, used only when standard output is a terminal.
pub(crate) struct Style {
    color: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is not set (for a forwarded
    /// command: the client's stdout and environment).
    pub(crate) fn detect() -> Style {
        if let Some(r) = remote() {
            return Style { color: r.colour() };
        }
        Style {
            color: local_colour(),
        }
    }

    /// Whether this style paints.
    pub(crate) fn colour(&self) -> bool {
        self.color
    }
}
