//! Commands on a directory that a running server holds: they go through the server.
//!
//! `sanbao serve` holds DIR's lock for as long as it runs, so another process cannot
//! open the log. Instead, `serve` also listens on the Unix socket `DIR/sanbao.sock`
//! (mode 0600, only for its own user and root, removed when it stops), and a command
//! that finds a server there ([`forward`]) sends it what it was asked: the parsed
//! command, its input (the file or standard input of `append` and `import`) and
//! whether its standard output wants colour. The server runs the very same command
//! code ([`super::execute`]) on its live state, its stored log and its one writer
//! ([`super::Target::Live`]), and sends back standard output, standard error, the
//! bytes of an `--out FILE` and the exit code; the client writes them where it would
//! have. So a command prints byte for byte what it prints without a server, and
//! appends through the server's writer keep the seqs gap-free, with group commit.
//!
//! Forwarded: `init`, `append`, `import`, `export` (also `--salvage`), `verify`,
//! `position`, `monitor`, `plan` (also `--issue`), `forecast`, `chart`, `replay`,
//! `notices` (also `--issue`), `demo`. The files of `--out` of a read command or a chart (`write_papers`) come
//! to the client as PAPER frames (the path, then the bytes); it writes each to a
//! temporary file beside its path and renames them all into place at PAPERS_DONE, so
//! a forwarded command leaves no partial file either.
//! Refused while a server holds DIR: `truncate` (it rewrites the files the server
//! reads; [`refusal`]). Run where they are: `restore` (its DIR must be empty),
//! `serve` and `follow` (they wait for the lock and name its holder), `status` and
//! `token` (they never take the lock).
//!
//! Whoever can open the socket owns DIR's files anyway (same user, or root), so a
//! forwarded command acts with every role, as PostgreSQL trusts local peers; the
//! server also checks the peer's user id. A socket left behind by a killed server
//! is stale: connecting is refused, and the command runs itself (the OS released
//! the lock with the process); the next `serve` replaces the file.
//!
//! Wire format, both ways: frames of a tag byte, a big-endian `u32` length and that
//! many bytes. The client sends one `Q` (the [`Request`] as JSON); the server answers
//! `G` (it runs the command) or `N` alone (not run: it is stopping, and the client
//! runs the command itself once the lock is free; no input was read). After `G` the
//! client sends its input as `I` frames and one `E` (or `A` with the error that
//! stopped reading it, which the command meets as a read error), and the server sends
//! `O` (stdout), `R` (stderr), `F` (bytes of the `--out` file), `C` (cut the file to a
//! big-endian `u64` length), `S` (sync the file), and last `X` (the exit code, one
//! byte).
//!
//! Stopping: the server keeps its socket while it drains, answering `N` to new
//! clients; commands in flight get [`crate::server::Limits::shutdown_grace`] to
//! finish, then their connections are shut (a command waiting on its client then
//! fails), so a stuck client never keeps the server from exiting.

use super::output::{self, OutFile};
use super::{Command, Target};
use crate::error::CliError;
use crate::server::AppState;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The socket's name inside the data directory.
pub const SOCKET: &str = "sanbao.sock";

/// The version of the wire format; a client and server that differ refuse politely.
/// 2 since the PAPER frames (`--out` files written by the client) and the papers' and
/// notices' arguments.
const VERSION: u32 = 2;

/// Largest frame read; writers send at most [`CHUNK`] bytes of data per frame.
const MAX_FRAME: usize = 4 << 20;

/// Most data bytes per frame.
const CHUNK: usize = 1 << 20;

/// Most forwarded commands a server runs at once; more wait to be accepted.
pub const MAX_SESSIONS: usize = 64;

mod tag {
    pub const REQUEST: u8 = b'Q';
    pub const INPUT: u8 = b'I';
    pub const END: u8 = b'E';
    pub const ABORT: u8 = b'A';
    pub const GO: u8 = b'G';
    pub const STDOUT: u8 = b'O';
    pub const STDERR: u8 = b'R';
    pub const FILE: u8 = b'F';
    pub const CUT: u8 = b'C';
    pub const SYNC: u8 = b'S';
    pub const EXIT: u8 = b'X';
    pub const NOT_RUN: u8 = b'N';
    /// A paper file starts (`--out` of a read command): its path as the client gave
    /// it; the FILE frames that follow are its bytes.
    pub const PAPER: u8 = b'P';
    /// Every paper file is complete: the client renames them all into place.
    pub const PAPERS_DONE: u8 = b'D';
}

/// What a client asks the server to run.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct Request {
    /// [`VERSION`] of the client.
    version: u32,
    /// The command, as parsed by the client (files replaced by the input it sends).
    command: Command,
    /// The data directory as the client names it (for the messages that show it).
    dir: PathBuf,
    /// Whether the client's standard output takes colour.
    colour: bool,
    /// The language of the client's environment (its error lines).
    #[serde(default)]
    lang: crate::lang::Lang,
}

fn write_frame(w: &mut impl Write, tag: u8, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len()).expect("frames are small");
    let mut head = [0u8; 5];
    head[0] = tag;
    head[1..].copy_from_slice(&len.to_be_bytes());
    w.write_all(&head)?;
    w.write_all(payload)
}

/// Reads one frame; `None` at a clean end of the stream (before a frame starts).
fn read_frame(r: &mut impl Read) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    let mut got = 0;
    while got < head.len() {
        match r.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_be_bytes(head[1..].try_into().expect("4 bytes")) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes is too large"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((head[0], payload)))
}

/// Where a forwarded command's bytes go on the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// The `--out` file.
    File,
}

/// The client a server-side thread runs a command for: the socket to answer on, the
/// client's input (taken once), its colour and its language.
pub(crate) struct Remote {
    out: Mutex<UnixStream>,
    input: Mutex<Option<Input>>,
    colour: bool,
    lang: crate::lang::Lang,
}

impl Remote {
    /// A writer of `stream`'s bytes to the client.
    pub(crate) fn sink(self: &Arc<Remote>, stream: Stream) -> Sink {
        Sink {
            remote: self.clone(),
            stream,
        }
    }

    /// The client's input (empty when taken before).
    pub(crate) fn input(&self) -> Input {
        self.input
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(Input::empty)
    }

    /// Whether the client's reports are in colour.
    pub(crate) fn colour(&self) -> bool {
        self.colour
    }

    /// The language of the client's environment.
    pub(crate) fn lang(&self) -> crate::lang::Lang {
        self.lang
    }

    /// Sends `files` (path as the client named it, bytes) to the client, which
    /// writes each to a temporary file beside its path and renames them all into
    /// place once the last is complete.
    pub(crate) fn papers(self: &Arc<Remote>, files: &[(PathBuf, Vec<u8>)]) -> std::io::Result<()> {
        for (path, bytes) in files {
            use std::os::unix::ffi::OsStrExt;
            self.send(tag::PAPER, path.as_os_str().as_bytes())?;
            self.sink(Stream::File).write_all(bytes)?;
        }
        self.send(tag::PAPERS_DONE, &[])
    }

    fn send(&self, tag: u8, payload: &[u8]) -> std::io::Result<()> {
        let mut s = self.out.lock().unwrap_or_else(|p| p.into_inner());
        write_frame(&mut *s, tag, payload)
    }
}

/// Bytes of one of a forwarded command's streams, sent to its client.
pub(crate) struct Sink {
    remote: Arc<Remote>,
    stream: Stream,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(CHUNK);
        let t = match self.stream {
            Stream::Stdout => tag::STDOUT,
            Stream::Stderr => tag::STDERR,
            Stream::File => tag::FILE,
        };
        self.remote.send(t, &buf[..n])?;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl OutFile for Sink {
    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        self.remote.send(tag::CUT, &len.to_be_bytes())
    }

    fn sync_all(&mut self) -> std::io::Result<()> {
        self.remote.send(tag::SYNC, &[])
    }
}

/// A forwarded command's input, as its client sends it. Ending without the client's
/// end mark (the client went away) is an error, never a shorter input.
pub(crate) struct Input {
    stream: Option<UnixStream>,
    buf: Vec<u8>,
    pos: usize,
}

impl Input {
    fn empty() -> Input {
        Input {
            stream: None,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for Input {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            let Some(stream) = self.stream.as_mut() else {
                return Ok(0);
            };
            match read_frame(stream) {
                Ok(Some((tag::INPUT, bytes))) => {
                    self.buf = bytes;
                    self.pos = 0;
                }
                Ok(Some((tag::END, _))) => {
                    self.stream = None;
                    return Ok(0);
                }
                Ok(Some((tag::ABORT, why))) => {
                    self.stream = None;
                    return Err(std::io::Error::other(
                        String::from_utf8_lossy(&why).into_owned(),
                    ));
                }
                Ok(_) | Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the client went away before the end of its input",
                    ))
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Whether `command` goes through a server that holds its directory.
pub(crate) fn forwarded(command: &Command) -> bool {
    matches!(
        command,
        Command::Init
            | Command::Append { .. }
            | Command::Import { .. }
            | Command::Export { .. }
            | Command::Verify { .. }
            | Command::Position(_)
            | Command::Monitor(_)
            | Command::Plan(_)
            | Command::Forecast(_)
            | Command::Chart(_)
            | Command::Replay(_)
            | Command::Notices(_)
            | Command::Review(_)
            | Command::Assess(_)
            | Command::Scorecard(_)
            | Command::Demo { .. }
    )
}

/// The server holding `dir`, as its lock file names it: `(pid, url)`, when a live
/// `sanbao serve` holds it (the holder that wrote a URL: how `status` tells a server).
fn serving(dir: &Path) -> Option<(u64, String)> {
    if !crate::log::store::is_held(dir) {
        return None;
    }
    let v = crate::log::store::holder(dir)?;
    let url = v["url"].as_str()?.to_string();
    Some((v["pid"].as_u64().unwrap_or(0), url))
}

/// Why `truncate` is refused while a server holds `dir`, if one does.
pub(crate) fn refusal(dir: &Path) -> Option<CliError> {
    let (pid, url) = serving(dir)?;
    Some(
        CliError::io(format!(
            "{} is served by sanbao serve (process {pid} on {url}): truncate rewrites the files the server reads, so it needs the directory to itself; nothing was removed. Stop the server (SIGTERM), then run truncate again",
            dir.display()
        ))
        .zh(format!(
            "数据目录 {} 正由 sanbao serve 提供服务（进程 {pid}，地址 {url}）：truncate 会改写服务器读取的文件，须独占该目录；未删除任何记录。请先停止服务（SIGTERM），再重新运行 truncate",
            dir.display()
        )),
    )
}

/// Connects to the server holding `dir`: `None` when no server does (or only a stale
/// socket is left), or when this process may not use its socket (another user, a
/// path too long for a socket): the command then waits for the lock as for any
/// holder. A server still loading its log (it holds the lock, its socket is not
/// there yet) is waited for up to `wait`, said at once on stderr.
fn connect(dir: &Path, wait: Duration) -> Result<Option<UnixStream>, CliError> {
    use std::io::ErrorKind::{ConnectionRefused, NotFound};
    let path = dir.join(SOCKET);
    let start = Instant::now();
    let mut told = false;
    loop {
        match UnixStream::connect(&path) {
            Ok(s) => return Ok(Some(s)),
            Err(e) if matches!(e.kind(), NotFound | ConnectionRefused) => {}
            Err(_) => return Ok(None),
        }
        let Some((pid, _)) = serving(dir) else {
            return Ok(None);
        };
        if start.elapsed() >= wait {
            return Err(CliError::io(format!(
                "{} is held by sanbao serve (process {pid}), which does not take commands on its socket (it is starting or stopping); gave up after {} s (--wait SECONDS waits longer)",
                dir.display(),
                wait.as_secs_f64()
            ))
            .zh(format!(
                "数据目录 {} 被 sanbao serve（进程 {pid}）占用，该服务正在启动或停止，其套接字暂不接收命令；等待 {} 秒后放弃（--wait SECONDS 可等更久）",
                dir.display(),
                wait.as_secs_f64()
            )));
        }
        if !told {
            told = true;
            eprintln!(
                "waiting for {}: sanbao serve (process {pid}) holds it and does not take commands on its socket yet (starting) or any more (stopping); giving up after {} s (--wait)",
                dir.display(),
                wait.as_secs_f64()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `command` through the server holding `dir`, if one does: `Some(exit code)`
/// when it ran there (its output already written where it belongs), `None` when no
/// server holds `dir` or the one holding it is stopping (the caller runs it itself).
/// `truncate` on a served directory is refused here.
pub(crate) fn forward(
    dir: &Path,
    command: &Command,
    wait: Duration,
) -> Result<Option<u8>, CliError> {
    if let Command::Truncate { .. } = command {
        return match refusal(dir) {
            Some(e) => Err(e),
            None => Ok(None),
        };
    }
    if !forwarded(command) {
        return Ok(None);
    }
    let Some(stream) = connect(dir, wait)? else {
        return Ok(None);
    };
    // The client's own files: read or created here, as the command would.
    let mut command = command.clone();
    let mut input: Option<Box<dyn Read + Send>> = None;
    // The bytes of a file sent to `import`, for a progress bar on a terminal.
    let mut size = 0u64;
    match &mut command {
        Command::Append { file: f, .. } => {
            input = Some(match f.take() {
                Some(p) if p != Path::new("-") => {
                    Box::new(std::fs::File::open(&p).map_err(|e| {
                        CliError::io(format!("cannot read the input: {e}"))
                            .zh(format!("无法读取输入：{e}"))
                    })?)
                }
                _ => Box::new(std::io::stdin()),
            });
        }
        Command::Import { file: f } => {
            input = Some(if f == Path::new("-") {
                Box::new(std::io::stdin())
            } else {
                let opened = std::fs::File::open(&*f).map_err(|e| {
                    CliError::io(format!("cannot open {}: {e}", f.display()))
                        .zh(format!("无法打开 {}：{e}", f.display()))
                })?;
                size = opened.metadata().map(|m| m.len()).unwrap_or(0);
                *f = PathBuf::from("-");
                Box::new(opened)
            });
        }
        _ => {}
    }
    let lost = |e: std::io::Error| {
        CliError::io(format!(
            "the server holding {} did not answer ({e}); for a write, see `sanbao status` for the head before trying again",
            dir.display()
        ))
        .zh(format!(
            "占用数据目录 {} 的服务器没有应答（{e}）；若是写入命令，请先用 `sanbao status` 查看日志末尾记录号，再决定是否重试",
            dir.display()
        ))
    };
    let request = Request {
        version: VERSION,
        command: command.clone(),
        dir: dir.to_path_buf(),
        colour: output::local_colour(),
        lang: crate::lang::Lang::from_env(),
    };
    let mut writer = stream.try_clone().map_err(lost)?;
    let body = serde_json::to_vec(&request).map_err(|e| CliError::io(e.to_string()))?;
    write_frame(&mut writer, tag::REQUEST, &body).map_err(lost)?;
    let mut reader = std::io::BufReader::new(stream);
    // Run or not: nothing of the input is read before the server says it runs.
    match read_frame(&mut reader).map_err(lost)? {
        Some((tag::GO, _)) => {}
        Some((tag::NOT_RUN, _)) => return Ok(None),
        Some((tag::STDERR, bytes)) => {
            // A refused request: its error line, then the exit code.
            let _ = std::io::stderr().write_all(&bytes);
            return match read_frame(&mut reader).map_err(lost)? {
                Some((tag::EXIT, code)) => Ok(Some(code.first().copied().unwrap_or(1))),
                _ => Err(lost(std::io::ErrorKind::UnexpectedEof.into())),
            };
        }
        _ => return Err(lost(std::io::ErrorKind::InvalidData.into())),
    }
    let mut file: Option<std::fs::File> = match &command {
        Command::Export { out: Some(p), .. } => Some(std::fs::File::create(p).map_err(|e| {
            CliError::io(format!("cannot create {}: {e}", p.display()))
                .zh(format!("无法创建 {}：{e}", p.display()))
        })?),
        _ => None,
    };
    // Paper files (`--out` of a read command) being received, renamed into place
    // only once all are complete (dropped, they vanish).
    let mut papers: Vec<(PathBuf, tempfile::NamedTempFile)> = Vec::new();
    let shown = if size > 0 {
        output::progress_bytes(size, "importing")
    } else {
        indicatif::ProgressBar::hidden()
    };
    // The input goes on its own thread, so that output flows back meanwhile. It is
    // never joined: once the server has answered, the process ends with it.
    std::thread::spawn(move || -> std::io::Result<()> {
        if let Some(mut input) = input {
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        // The command meets it as it would reading the input itself.
                        shown.finish_and_clear();
                        return write_frame(&mut writer, tag::ABORT, e.to_string().as_bytes());
                    }
                };
                write_frame(&mut writer, tag::INPUT, &buf[..n])?;
                shown.inc(n as u64);
            }
            shown.finish_and_clear();
        }
        write_frame(&mut writer, tag::END, &[])
    });
    loop {
        let Some((t, bytes)) = read_frame(&mut reader).map_err(lost)? else {
            return Err(lost(std::io::ErrorKind::UnexpectedEof.into()));
        };
        let written = match t {
            tag::STDOUT => {
                let mut o = std::io::stdout().lock();
                o.write_all(&bytes).and_then(|()| o.flush())
            }
            tag::STDERR => {
                let mut e = std::io::stderr().lock();
                e.write_all(&bytes).and_then(|()| e.flush())
            }
            tag::PAPER => {
                use std::os::unix::ffi::OsStrExt;
                let path = PathBuf::from(std::ffi::OsStr::from_bytes(&bytes));
                papers.push((path.clone(), output::temp_beside(&path)?));
                Ok(())
            }
            tag::PAPERS_DONE => {
                output::persist_all(std::mem::take(&mut papers))?;
                Ok(())
            }
            tag::FILE if !papers.is_empty() => {
                let (path, f) = papers.last_mut().expect("not empty");
                if let Err(e) = f.write_all(&bytes) {
                    return Err(
                        CliError::io(format!("cannot write {}: {e}", path.display()))
                            .zh(format!("无法写入 {}：{e}", path.display())),
                    );
                }
                Ok(())
            }
            tag::FILE | tag::CUT | tag::SYNC => match file.as_mut() {
                Some(f) => match t {
                    tag::FILE => f.write_all(&bytes),
                    tag::CUT => match <[u8; 8]>::try_from(bytes.as_slice()) {
                        Ok(len) => f.set_len(u64::from_be_bytes(len)),
                        Err(_) => return Err(lost(std::io::ErrorKind::InvalidData.into())),
                    },
                    _ => f.sync_all(),
                },
                None => Ok(()),
            },
            tag::EXIT => return Ok(Some(bytes.first().copied().unwrap_or(1))),
            other => {
                return Err(CliError::io(format!(
                    "the server holding {} sent a frame sanbao does not know ({other})",
                    dir.display()
                ))
                .zh(format!(
                    "占用数据目录 {} 的服务器发来了 sanbao 无法识别的数据帧（{other}）",
                    dir.display()
                )))
            }
        };
        if let Err(e) = written {
            // As without a server: a closed pipe ends quietly, other failures say so.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(Some(0));
            }
            return Err(CliError::io(format!("cannot write the output: {e}"))
                .zh(format!("无法写入输出：{e}")));
        }
    }
}

/// The socket a server listens on for forwarded commands, until [`Listening::finish`].
pub(crate) struct Listening {
    path: PathBuf,
    done: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Listening {
    /// Ends the socket once the server has drained: stops accepting (clients that
    /// came during the drain were told to run themselves), waits up to the grace
    /// period for the commands still running, then shuts their connections so that
    /// none waits on its client any longer, and removes the socket file.
    pub(crate) async fn finish(self) {
        let _ = self.done.send(true);
        let _ = self.task.await;
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts listening on `DIR/sanbao.sock` for forwarded commands, on the current
/// tokio runtime. Once `stop` turns true, new clients are answered `N` until
/// [`Listening::finish`]. The caller holds DIR's lock, so a socket already there is
/// stale and replaced. `None` (with a warning in the log) when the socket cannot be
/// made, e.g. a path beyond the 107 bytes Unix sockets allow: the server runs all the
/// same, and commands on DIR wait for its lock and give up naming it.
pub(crate) fn listen(
    dir: &Path,
    app: AppState,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Option<Listening> {
    let path = dir.join(SOCKET);
    match bind(dir, &path) {
        Ok(listener) => {
            tracing::info!(socket = %path.display(), "CLI commands on this directory go through this server");
            let (done, done_rx) = tokio::sync::watch::channel(false);
            let task = tokio::spawn(accept_loop(listener, app, stop, done_rx));
            Some(Listening { path, done, task })
        }
        Err(e) => {
            tracing::warn!(socket = %path.display(), error = %e, "cannot listen on the directory's socket; CLI commands on it will wait for the lock");
            None
        }
    }
}

/// Binds inside a fresh directory only its owner may enter, restricts the socket to
/// the owner, then renames it into place: it is never reachable by anyone else.
fn bind(dir: &Path, path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let _ = std::fs::remove_file(path);
    let private = dir.join(format!(".{SOCKET}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new().mode(0o700).create(&private)?;
    let tmp = private.join(SOCKET);
    let bound = std::os::unix::net::UnixListener::bind(&tmp).and_then(|l| {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&tmp, path)?;
        Ok(l)
    });
    let _ = std::fs::remove_dir_all(&private);
    let listener = bound?;
    listener.set_nonblocking(true)?;
    tokio::net::UnixListener::from_std(listener)
}

/// The connections of the commands running, by session number, to shut at the end
/// of the grace period.
type Running = Arc<Mutex<std::collections::HashMap<u64, UnixStream>>>;

async fn accept_loop(
    listener: tokio::net::UnixListener,
    app: AppState,
    stop: tokio::sync::watch::Receiver<bool>,
    mut done: tokio::sync::watch::Receiver<bool>,
) {
    let sessions = Arc::new(tokio::sync::Semaphore::new(MAX_SESSIONS));
    let mut tasks = tokio::task::JoinSet::new();
    let running: Running = Default::default();
    let mut next = 0u64;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = done.wait_for(|d| *d) => break,
        };
        while tasks.try_join_next().is_some() {}
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        match stream.peer_cred() {
            Ok(c) if c.uid() == me || c.uid() == 0 => {}
            other => {
                tracing::warn!(peer = ?other.map(|c| c.uid()), "refused a command from another user on the directory's socket");
                continue;
            }
        }
        let Ok(mut stream) = stream.into_std().and_then(|s| {
            s.set_nonblocking(false)?;
            Ok(s)
        }) else {
            continue;
        };
        if *stop.borrow() {
            // Stopping: the client runs the command itself once the lock is free.
            let _ = write_frame(&mut stream, tag::NOT_RUN, b"stopping");
            continue;
        }
        let Ok(permit) = sessions.clone().try_acquire_owned() else {
            answer_error(
                &mut stream,
                &format!("the server is running {MAX_SESSIONS} commands for others; try again in a moment"),
            );
            continue;
        };
        next += 1;
        let id = next;
        if let Ok(clone) = stream.try_clone() {
            running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, clone);
        }
        let (app, running) = (app.clone(), running.clone());
        tasks.spawn_blocking(move || {
            let _permit = permit;
            session(stream, &app);
            running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        });
    }
    drop(listener);
    let grace = app.limits().shutdown_grace;
    let drained =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        let open = {
            let mut r = running.lock().unwrap_or_else(|p| p.into_inner());
            let n = r.len();
            for s in r.values() {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            r.clear();
            n
        };
        tracing::warn!(
            open,
            grace_s = grace.as_secs_f64(),
            "forwarded commands still running after the grace period; their connections are closed"
        );
        while tasks.join_next().await.is_some() {}
    }
}

/// How long a client has to send its request once connected.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs one forwarded command for the client on `stream`.
fn session(stream: UnixStream, app: &AppState) {
    let Ok(mut reader) = stream.try_clone() else {
        return;
    };
    let mut out = stream;
    let _ = reader.set_read_timeout(Some(REQUEST_TIMEOUT));
    let request = match read_frame(&mut reader) {
        Ok(Some((tag::REQUEST, body))) => serde_json::from_slice::<Request>(&body)
            .map_err(|e| format!("the request is not one this server reads ({e}); run the same version of sanbao as the server")),
        _ => return,
    };
    let _ = reader.set_read_timeout(None);
    let request = match request {
        Ok(r) if r.version != VERSION => Err(format!(
            "the command speaks version {} of the socket's format and the server {VERSION}; run the same version of sanbao as the server",
            r.version
        )),
        Ok(r) => match &r.command {
            // The client reads its own files and sends them; a path here would be the
            // server's to open.
            Command::Append { file: Some(p), .. } if p != Path::new("-") => {
                Err("a forwarded append sends its input; it names no file".to_string())
            }
            Command::Import { file } if file != Path::new("-") => {
                Err("a forwarded import sends its input; it names no file".to_string())
            }
            _ => Ok(r),
        },
        Err(m) => Err(m),
    };
    let request = match request {
        Ok(r) => r,
        Err(m) => {
            answer_error(&mut out, &m);
            return;
        }
    };
    if write_frame(&mut out, tag::GO, &[]).is_err() {
        return;
    }
    let name = super::command_name(&request.command);
    let started = Instant::now();
    tracing::info!(command = name, "forwarded command started");
    let remote = Arc::new(Remote {
        out: Mutex::new(out),
        input: Mutex::new(Some(Input {
            stream: Some(reader),
            buf: Vec::new(),
            pos: 0,
        })),
        colour: request.colour,
        lang: request.lang,
    });
    let target = Target::Live {
        dir: &request.dir,
        app,
    };
    let code = output::on_behalf_of(remote.clone(), || super::execute(&target, request.command));
    app.metrics().command(name, code);
    tracing::info!(
        command = name,
        code,
        ms = started.elapsed().as_millis() as u64,
        "forwarded command"
    );
    let _ = remote.send(tag::EXIT, &[code]);
}

fn answer_error(out: &mut UnixStream, message: &str) {
    let _ = write_frame(out, tag::STDERR, format!("error: {message}\n").as_bytes());
    let _ = write_frame(out, tag::EXIT, &[1]);
}
