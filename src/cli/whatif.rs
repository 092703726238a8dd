//! What-if on the command line (issue 18): `plan`, `forecast` and `monitor --with
//! FILE`.
//!
//! The client reads FILE ([`read`], from [`Command::settle`](super::Command::settle))
//! and carries its text in the command, so a command forwarded to the server that
//! holds the directory never opens a path of the client's. The events are parsed as
//! `append` parses its input (one object, a JSON array, or JSON Lines), laid over the
//! head with [`crate::query::whatif::suppose`] and the query is answered over them.
//!
//! Guarantees: nothing is written (no writer is started, the state read is cloned);
//! a refused event is the error `append` gives (exit 3, naming its index and field);
//! the JSON answer is the query's object with `"hypothetical": N` and, for a plan,
//! no `plan_sha256`; papers for people say in their title, their notes and their
//! query block that they are a what-if.

use super::target::{StateRef, Target};
use crate::error::CliError;
use crate::event::{self, InputEvent};
use crate::lang::Lang;
use crate::query::whatif;
use crate::report::{Report, Tone};
use crate::state::State;
use crate::values::Month;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// The most bytes a `--with` file may hold (it travels in one request to a server).
pub const MAX_WITH_BYTES: u64 = 2 << 20;

/// The text of a `--with FILE`, as the client read it, or why it could not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WithInput {
    /// The file's text (UTF-8).
    Text(String),
    /// The file could not be used: the exit code and the message (and in Chinese).
    Unreadable {
        /// Exit code (1: cannot read; 3: not UTF-8, too large).
        code: u8,
        /// The message.
        message: String,
        /// The message in Chinese.
        zh: Option<String>,
    },
}

/// Reads a `--with` file on the user's side (`-` is standard input).
pub fn read(path: &Path) -> WithInput {
    let mut buf = Vec::new();
    let limit = MAX_WITH_BYTES + 1;
    let got = if path == Path::new("-") {
        std::io::stdin().take(limit).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut buf))
    };
    let fail = |e: CliError| WithInput::Unreadable {
        code: e.code,
        message: e.message,
        zh: e.zh,
    };
    if let Err(e) = got {
        return fail(
            CliError::io(format!("--with {}: cannot read it: {e}", path.display()))
                .zh(format!("--with {}：无法读取：{e}", path.display())),
        );
    }
    if buf.len() as u64 > MAX_WITH_BYTES {
        return fail(
            CliError::invalid(format!(
                "--with {}: over {} MiB; a what-if holds at most {} events",
                path.display(),
                MAX_WITH_BYTES >> 20,
                whatif::MAX_HYPOTHETICAL
            ))
            .zh(format!(
                "--with {}：超过 {} MiB；一次假设测算最多 {} 个事件",
                path.display(),
                MAX_WITH_BYTES >> 20,
                whatif::MAX_HYPOTHETICAL
            )),
        );
    }
    match String::from_utf8(buf) {
        Ok(s) => WithInput::Text(s),
        Err(_) => fail(
            CliError::invalid(format!("--with {}: not valid UTF-8", path.display()))
                .zh(format!("--with {}：不是有效的 UTF-8 文本", path.display())),
        ),
    }
}

/// The hypothetical events of a command: `None` without `--with`; else its events,
/// parsed as `append` parses (an error names the event's index, exit 3).
pub(super) fn events(
    with: Option<&Path>,
    input: Option<&WithInput>,
) -> Result<Option<Vec<InputEvent>>, CliError> {
    let Some(path) = with else {
        return Ok(None);
    };
    match input {
        None => Err(CliError::io(format!(
            "--with {}: the file was not read by the client",
            path.display()
        ))),
        Some(WithInput::Unreadable { code, message, zh }) => Err(CliError {
            code: *code,
            message: message.clone(),
            zh: zh.clone(),
        }),
        Some(WithInput::Text(text)) => {
            let (_, batch) = event::parse_input(text).map_err(|(i, e)| CliError::event(i, &e))?;
            Ok(Some(batch))
        }
    }
}

/// The state a command answers over: with `events`, the head with them supposed
/// appended (and how many); else the state at `at_seq`, as without `--with`.
pub(super) fn state<'t>(
    t: &'t Target,
    at_seq: Option<u64>,
    events: Option<Vec<InputEvent>>,
) -> Result<(StateRef<'t>, Option<usize>), CliError> {
    let Some(events) = events else {
        return Ok((t.state(at_seq)?, None));
    };
    let n = events.len();
    let base = t.state(None)?;
    let mut past = |seq: u64, month: Month| -> Result<crate::state::PlanFacts, String> {
        let s: std::sync::Arc<State> = match t {
            Target::Live { app, .. } => app.past_state(seq).map_err(|e| e.to_string())?,
            Target::Dir(d) => std::sync::Arc::new(
                super::target::open_at_seq(d, Some(seq))
                    .map_err(|e| e.message)?
                    .1,
            ),
        };
        Ok(crate::query::plan_facts(&s, month))
    };
    let supposed = whatif::suppose(&base, Some(crate::record::LOCAL), events, &mut past)
        .map_err(|r| CliError::event(r.index, &r.error))?;
    drop(base);
    Ok((StateRef::Owned(Box::new(supposed)), Some(n)))
}

/// The JSON line of an answer: as without `--with` when `n` is `None`, else the
/// what-if's ([`whatif::what_if_json`]).
pub(super) fn json_line<T: Serialize>(
    answer: &T,
    n: Option<usize>,
    plan: bool,
) -> Result<String, CliError> {
    match n {
        None => super::output::to_json_line(answer),
        Some(n) => whatif::what_if_json(answer, n, plan)
            .map_err(|e| CliError::io(format!("cannot write JSON: {e}"))),
    }
}

/// Marks a paper as a what-if over `n` hypothetical events (nothing when `None`): its
/// title says so, `plan_sha256` leaves its query block, which names the number of
/// events, and a note says that nothing was written.
pub(super) fn mark(mut r: Report, n: Option<usize>) -> Report {
    let Some(n) = n else {
        return r;
    };
    let plan = r.name == "plan";
    let (title, label, note) = match r.lang {
        Lang::Zh => (
            format!("假设测算：{}", r.title),
            "假设事件数",
            format!(
                "假设测算：在日志最新记录之后假设追加 {n} 个事件，未写入任何内容{}",
                if plan { "；此计划不能下达。" } else { "。" }
            ),
        ),
        Lang::En => (
            format!("What-if: {}", r.title),
            "hypothetical events",
            format!(
                "What-if: {n} hypothetical event(s) supposed appended after the head; nothing was written{}",
                if plan { ", and this plan cannot be issued." } else { "." }
            ),
        ),
    };
    r.title = title;
    r.meta.retain(|(k, _)| k != "plan_sha256");
    r.meta.push((label.to_string(), n.to_string()));
    r.notes.insert(0, (Tone::Warn, note));
    r
}
