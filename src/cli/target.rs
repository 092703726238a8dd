//! Where a command finds the log: [`Target`] (the directory, opened by this process,
//! or the server that holds it) and the folded [`StateRef`] it reads, with the helpers
//! that open and fold a directory, bound `--at-seq`, open it for an audit, and start
//! the writer a command appends through.
//!
//! Guarantees: a command sees only durable records (a server's store is read up to
//! its durable head); an `--at-seq` beyond the head is a usage error (exit 2, SPEC
//! §8.26); a writer started here is stopped and joined before the command returns.

use super::output;
use crate::error::CliError;
use crate::log::{self, Store, SystemClock, Writer};
use crate::state::State;
use std::path::Path;

/// Where a command finds the log: the directory, which the command opens itself, or
/// the server that holds it, for a command forwarded through `DIR/sanbao.sock`
/// ([`forward`](super::forward)). Either way the command sees only durable records.
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
                // The durable head from the writer and its record, not from the
                // readers' state: a command may hold that state (`Target::state`)
                // while it asks for the store, and waiting for the state again there
                // could wait on itself.
                let seq = app.durable_head();
                let hash = match seq {
                    0 => crate::record::GENESIS,
                    _ => {
                        app.store()
                            .get(seq)?
                            .ok_or_else(|| log::StoreError::Damaged {
                                seq,
                                reason: format!("record {seq}, the durable head, is not stored"),
                            })?
                            .hash
                    }
                };
                Ok((app.store().clone(), log::Head { seq, hash }))
            }
        }
    }

    /// The store opened for an audit (verify, salvage) and how far to read it (`None`:
    /// all of it, witness checks included) — or, when not even a scratch copy of its
    /// files opens, seq 1 and why. A server's store verified when it started.
    pub(super) fn audit(&self) -> Result<Audit, CliError> {
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
                app.writable().map_err(|e| {
                    // The only refusal is a read-only standby's; the primary's URL is
                    // kept when the message names it.
                    let to = e
                        .message
                        .split_once("send writes to the primary at ")
                        .map(|(_, url)| format!(" {url}"))
                        .unwrap_or_default();
                    let zh = format!(
                        "这是只读备机（sanbao serve --read-only）；未记录任何内容：请将写入发往主机{to}"
                    );
                    CliError::io(e.message).zh(zh)
                })?;
                f(app.writer(), &runtime()?)
            }
        }
    }
}

/// A store opened for an audit and how far to read it, or the first seq that cannot
/// be read and why (see [`Target::audit`]).
pub(super) type Audit = Result<(Store, Option<u64>), (u64, String)>;

fn beyond_head(n: u64, head: u64) -> CliError {
    CliError::usage(format!(
        "--at-seq {n} is beyond the log's head (seq {head}); use 0..={head}"
    ))
    .zh(format!(
        "--at-seq {n} 超出日志最新记录号（{head}）；可用 0..={head}"
    ))
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
        .map_err(|e| {
            CliError::io(format!("cannot start the runtime: {e}"))
                .zh(format!("无法启动运行时：{e}"))
        })
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
