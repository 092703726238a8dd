//! Printing: progress bars on a terminal (hidden otherwise), aligned tables with
//! colour only on a terminal (and never with `NO_COLOR`), one-line JSON, and writing
//! to standard output where a closed pipe (`| head`) is not an error. Shared by every
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
use crate::money::{Money, Ratio};
use crate::query::Status;
use crate::values::Date;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::fmt::Write as _;
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

/// A file written whole or not at all: the bytes go to a new temporary file beside
/// `path` (`.NAME.PID.N.tmp`, in the same directory so the rename cannot cross file
/// systems), which [`Staged::commit`] syncs and renames over `path`. Dropped without
/// a commit (an error, a failed command), the temporary file is removed and `path`
/// is as it was. Used by `chart` here, and by the client of a forwarded `chart`.
pub(crate) struct Staged {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    file: Option<std::fs::File>,
}

impl Staged {
    /// Creates the temporary file for `path` (an error names `path`: exit 1).
    pub(crate) fn create(path: &Path) -> Result<Staged, CliError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let fail =
            |e: std::io::Error| CliError::io(format!("cannot write {}: {e}", path.display()));
        let name = path
            .file_name()
            .ok_or_else(|| fail(std::io::ErrorKind::InvalidInput.into()))?
            .to_string_lossy()
            .into_owned();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(file) => {
                    return Ok(Staged {
                        path: path.to_path_buf(),
                        tmp,
                        file: Some(file),
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => {}
                Err(e) => return Err(fail(e)),
            }
        }
    }

    /// Appends bytes to the temporary file.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        let file = self.file.as_mut().expect("open until commit");
        file.write_all(bytes)
            .map_err(|e| CliError::io(format!("cannot write {}: {e}", self.path.display())))
    }

    /// Syncs the temporary file and renames it to `path`.
    pub(crate) fn commit(mut self) -> Result<(), CliError> {
        let fail =
            |e: std::io::Error| CliError::io(format!("cannot write {}: {e}", self.path.display()));
        let file = self.file.take().expect("open until commit");
        file.sync_all().map_err(fail)?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(fail)?;
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Ok(d) = std::fs::File::open(parent) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` as the whole of the file `path`, or nothing: through [`Staged`]
/// here; for a forwarded command, as the bytes of its `--out` file, which its client
/// stages the same way and renames only when the command succeeds.
pub(crate) fn write_file_whole(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    match remote() {
        Some(r) => r
            .sink(Stream::File)
            .write_all(bytes)
            .map_err(|e| CliError::io(format!("cannot write {}: {e}", path.display()))),
        None => {
            let mut staged = Staged::create(path)?;
            staged.write_all(bytes)?;
            staged.commit()
        }
    }
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
        Err(e) => Err(CliError::io(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

/// ANSI styles, used only when standard output is a terminal.
pub(crate) struct Style {
    color: bool,
}

/// ANSI codes of the styles used.
pub(crate) const RED_BOLD: &str = "1;31";
pub(crate) const YELLOW: &str = "33";
pub(crate) const GREEN: &str = "32";
pub(crate) const CYAN: &str = "36";
pub(crate) const DIM: &str = "2";
pub(crate) const BOLD: &str = "1";

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

    pub(crate) fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub(crate) fn bold(&self, s: &str) -> String {
        self.paint(BOLD, s)
    }
}

/// A report's heading: what, as of which date, known at which seq.
pub(crate) fn header(
    out: &mut String,
    style: &Style,
    what: &str,
    as_of: Option<Date>,
    at_seq: u64,
) {
    let date = as_of.map_or_else(|| "— (the log is empty)".to_string(), |d| d.to_string());
    let _ = writeln!(
        out,
        "{}",
        style.bold(&format!("{what} as of {date} · known at seq {at_seq}"))
    );
}

/// A section title.
pub(crate) fn section(out: &mut String, style: &Style, title: &str) {
    let _ = writeln!(out, "{}", style.bold(title));
}

/// A blank line, the section's title, then its table, or `  EMPTY` when the table has
/// no row.
pub(crate) fn titled_table(out: &mut String, style: &Style, title: &str, t: &Table, empty: &str) {
    let _ = writeln!(out);
    section(out, style, title);
    if t.is_empty() {
        let _ = writeln!(out, "  {empty}");
    } else {
        t.render(out, style);
    }
}

/// Column alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}
pub(crate) const L: Align = Align::Left;
pub(crate) const R: Align = Align::Right;

/// One table cell: its text and an optional ANSI style.
pub(crate) struct Cell {
    text: String,
    code: Option<&'static str>,
}

impl Cell {
    pub(crate) fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            code: None,
        }
    }
    pub(crate) fn styled(text: impl Into<String>, code: &'static str) -> Cell {
        Cell {
            text: text.into(),
            code: Some(code),
        }
    }
    pub(crate) fn money(m: Money) -> Cell {
        Cell::plain(m.grouped())
    }
    pub(crate) fn opt_money(m: Option<Money>) -> Cell {
        m.map_or_else(|| Cell::styled("—", DIM), Cell::money)
    }
    pub(crate) fn ratio(r: Ratio) -> Cell {
        Cell::plain(r.to_string())
    }
    pub(crate) fn opt_ratio(r: Option<Ratio>) -> Cell {
        r.map_or_else(|| Cell::styled("—", DIM), Cell::ratio)
    }
}

/// A table with aligned columns; widths count East Asian wide characters as two.
pub(crate) struct Table {
    heads: Vec<(&'static str, Align)>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub(crate) fn new(heads: &[(&'static str, Align)]) -> Table {
        Table {
            heads: heads.to_vec(),
            rows: Vec::new(),
        }
    }

    /// True when no row was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub(crate) fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.heads.len());
        self.rows.push(cells);
    }

    pub(crate) fn render(&self, out: &mut String, style: &Style) {
        let n = self.heads.len();
        let mut widths: Vec<usize> = self.heads.iter().map(|(h, _)| width(h)).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(width(&c.text));
            }
        }
        let line = |out: &mut String, cells: Vec<(String, Option<&str>)>| {
            out.push_str("  ");
            let last = cells.len().saturating_sub(1);
            for (i, (text, code)) in cells.into_iter().enumerate() {
                let pad = widths[i] - width(&text);
                let painted = match code {
                    Some(c) => style.paint(c, &text),
                    None => text,
                };
                let align = self.heads[i].1;
                if align == Align::Right {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(&painted);
                } else {
                    out.push_str(&painted);
                    if i != last {
                        out.push_str(&" ".repeat(pad));
                    }
                }
                if i != last {
                    out.push_str("  ");
                }
            }
            out.push('\n');
        };
        line(
            out,
            self.heads
                .iter()
                .map(|(h, _)| (h.to_string(), Some(DIM)))
                .collect(),
        );
        for r in &self.rows {
            line(out, r.iter().map(|c| (c.text.clone(), c.code)).collect());
        }
    }
}

/// Display width of a string on a terminal (`unicode-width`): East Asian wide and
/// fullwidth characters count two columns, combining marks none, others one.
pub(crate) fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// A monitoring status, coloured by how urgent it is.
pub(crate) fn status_cell(s: Status) -> Cell {
    let code = match s {
        Status::Warning => RED_BOLD,
        Status::Low => YELLOW,
        Status::Normal => GREEN,
        Status::Idle => CYAN,
        Status::Unknown => DIM,
    };
    Cell::styled(s.as_str(), code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_wide_characters_and_paint_only_when_asked() {
        let mut t = Table::new(&[("county", L), ("amount", R)]);
        t.row(vec![Cell::plain("绥中县"), Cell::styled("1.00", RED_BOLD)]);
        t.row(vec![Cell::plain("xy"), Cell::plain("12,345.00")]);
        let mut plain = String::new();
        t.render(&mut plain, &Style { color: false });
        assert_eq!(
            plain,
            "  county     amount\n  绥中县       1.00\n  xy      12,345.00\n"
        );
        let mut tty = String::new();
        t.render(&mut tty, &Style { color: true });
        assert!(tty.contains("\x1b[1;31m1.00\x1b[0m"), "{tty:?}");
        assert!(!plain.contains('\x1b'));
    }
}
