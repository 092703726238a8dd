//! `sanbao serve` and `sanbao token add` (SPEC §5, §7).
//!
//! `serve` folds the log and verifies it in the same read (every hash, link and seq,
//! [`crate::log::load_verified`]) — or starts from the snapshot `DIR/state.snapshot`
//! when it matches the log and verifies every record after it
//! ([`crate::log::snapshot::load_for_serve`]); it writes a new snapshot in the
//! background once `--snapshot-after` records (default [`SNAPSHOT_AFTER_RECORDS`]) are past the
//! last one, and again when it stops. A damaged log makes it exit 5 with one line naming
//! the first bad seq and what to do (restore from an export, or `sanbao truncate
//! --after SEQ --yes`, which never runs by itself) rather than serve wrong balances.
//! Then it starts the single writer, binds `--listen` (default `127.0.0.1:8080`; port 0 lets
//! the OS choose), prints `listening on http://ADDR` on standard output once it
//! accepts connections (then `desk: http://ADDR/`, the web desk's address), and serves
//! until SIGINT or SIGTERM. Then it stops accepting,
//! lets requests in flight finish — every append already handed to the writer is
//! answered after it is durable — ends event streams, stops the writer and exits 0.
//!
//! The tokens file defaults to `<data dir>/tokens.json` (`--tokens FILE` or
//! `SANBAO_TOKENS` to put it elsewhere). `serve` refuses to start without one, or
//! with one that holds no user, and says how to make one. While it runs it follows
//! the file: `token add` (or removing a user) takes effect at the next request.

use crate::error::CliError;
use crate::log::snapshot::{self, Loaded};
use crate::log::{SystemClock, Writer};
use crate::server::auth::{default_tokens_path, Role, TokenFile, Tokens};
use crate::server::{self, AppState};
use std::io::Write;
use std::path::{Path, PathBuf};

fn tokens_path(dir: &Path, flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| default_tokens_path(dir))
}

/// `sanbao token add --name NAME --role ROLE [--tokens FILE]`: adds a user, prints
/// the new token once on standard output (and where it was stored on stderr).
pub fn token_add(
    dir: &Path,
    name: &str,
    role: &str,
    tokens: Option<PathBuf>,
) -> Result<(), CliError> {
    let role = Role::parse(role).map_err(|e| {
        CliError::usage(format!("--role: {e}")).zh(format!(
            "--role：未知角色 {role:?}；应为 officer、scheduler 或 auditor"
        ))
    })?;
    let path = tokens_path(dir, tokens);
    let mut t = Tokens::load(&path)
        .map_err(CliError::io)?
        .unwrap_or_default();
    let added_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let token = t
        .add(name, role, added_at)
        .map_err(|e| CliError::usage(format!("--name: {e}")).zh(format!("--name：{e}")))?;
    t.save(&path).map_err(CliError::io)?;
    println!("{token}");
    eprintln!(
        "added {name} ({role}) to {}; this token is shown only once (the file keeps its SHA-256)",
        path.display()
    );
    Ok(())
}

/// `sanbao token list [--json]`: every user's name, role and when it was added.
pub fn token_list(dir: &Path, tokens: Option<PathBuf>, json: bool) -> Result<(), CliError> {
    let path = tokens_path(dir, tokens);
    let t = Tokens::load(&path)
        .map_err(CliError::io)?
        .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if json {
        for u in &t.users {
            let line = serde_json::json!({"added_at": u.added_at, "name": u.name, "role": u.role.as_str()});
            let _ = writeln!(out, "{line}");
        }
    } else if t.users.is_empty() {
        let _ = writeln!(out, "no users in {}", path.display());
    } else {
        let width = t
            .users
            .iter()
            .map(|u| u.name.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(out, "{:<width$}  {:<9}  added", "name", "role");
        for u in &t.users {
            let _ = writeln!(
                out,
                "{:<width$}  {:<9}  {}",
                u.name,
                u.role.as_str(),
                u.added_at
            );
        }
    }
    Ok(())
}

/// `sanbao token remove --name NAME`: removes the user; a running server stops
/// accepting their token at the next request (it follows the file).
pub fn token_remove(dir: &Path, name: &str, tokens: Option<PathBuf>) -> Result<(), CliError> {
    let path = tokens_path(dir, tokens);
    let Some(mut t) = Tokens::load(&path).map_err(CliError::io)? else {
        return Err(
            CliError::usage(format!("no tokens file at {}", path.display()))
                .zh(format!("令牌文件 {} 不存在", path.display())),
        );
    };
    let before = t.users.len();
    t.users.retain(|u| u.name != name);
    if t.users.len() == before {
        return Err(CliError::usage(format!(
            "--name {name}: no such user in {} (`sanbao token list` shows them)",
            path.display()
        ))
        .zh(format!(
            "--name {name}：{} 中没有该用户（用 `sanbao token list` 查看全部用户）",
            path.display()
        )));
    }
    t.save(&path).map_err(CliError::io)?;
    eprintln!(
        "removed {name} from {}; their token stops working at the next request",
        path.display()
    );
    Ok(())
}

/// Records past the last snapshot after which `serve` writes a new one, by default.
pub const SNAPSHOT_AFTER_RECORDS: u64 = 10_000;

/// Opens the log and folds it while verifying every record (decode, contiguous seqs,
/// `prev_hash` links, hashes, the stored head) in one read — or, from a snapshot that
/// matches the log, every record after it. A damaged log is refused with one line
/// naming the first bad seq and the two ways out (exit 5).
fn open_verified(dir: &Path) -> Result<(crate::log::Store, crate::state::State, Loaded), CliError> {
    let loaded = crate::log::Store::open(dir).and_then(|store| {
        let head = store.head().map(|h| h.seq).unwrap_or(0);
        let bar = super::output::progress(head, "verifying and loading the log");
        let loaded = snapshot::load_for_serve(&store, |s| bar.set_position(s));
        bar.finish_and_clear();
        loaded.map(|(state, how)| (store, state, how))
    });
    match loaded {
        Ok(v) => Ok(v),
        Err(crate::log::StoreError::Damaged { seq, reason }) => {
            let d = dir.display();
            Err(CliError::verification(format!(
                "the log in {d} is damaged at seq {seq}: {reason}; serve refuses to start rather than serve wrong balances. Either restore the log from an export (`sanbao --data NEWDIR import EXPORT.jsonl`, then serve NEWDIR), or keep records 1..={} and drop the rest with `sanbao --data {d} truncate --after {} --yes` (export them first: `sanbao --data {d} export --to {}`)",
                seq.saturating_sub(1),
                seq.saturating_sub(1),
                seq.saturating_sub(1),
            ))
            .zh(format!(
                "数据目录 {d} 中的日志在记录号 {seq} 处已损坏：{reason}；为免提供错误余额，serve 拒绝启动。可任选其一：从导出文件恢复日志（`sanbao --data NEWDIR import EXPORT.jsonl`，然后 serve NEWDIR）；或保留记录 1..={}，用 `sanbao --data {d} truncate --after {} --yes` 删去其余记录（请先导出：`sanbao --data {d} export --to {}`）",
                seq.saturating_sub(1),
                seq.saturating_sub(1),
                seq.saturating_sub(1),
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes a snapshot of `state`, logging the outcome (a failed snapshot only costs the
/// next start some time, so it is a warning, not an error).
fn take_snapshot(dir: &Path, state: &crate::state::State) {
    let t = std::time::Instant::now();
    match snapshot::write(dir, state) {
        Ok(bytes) => tracing::info!(
            seq = state.head_seq,
            bytes,
            ms = t.elapsed().as_millis() as u64,
            "snapshot written"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot write a snapshot"),
    }
}

/// The addresses `serve` listens on.
pub struct Listen {
    /// The API (`--listen`).
    pub api: String,
    /// `GET /metrics` without a token (`--metrics-listen`), if asked for.
    pub metrics: Option<String>,
    /// How long stopping waits for work in flight (`--shutdown-grace`).
    pub grace: std::time::Duration,
}

/// `sanbao serve [--listen ADDR] [--tokens FILE] [--snapshot-after N]`.
///
/// `read_only`: `Some(primary)` serves a standby read-only (`--read-only`), every
/// write answered 503 naming the primary when known.
pub fn serve(
    dir: &Path,
    listen: &Listen,
    tokens: Option<PathBuf>,
    snapshot_after: u64,
    read_only: Option<Option<String>>,
) -> Result<(), CliError> {
    let path = tokens_path(dir, tokens);
    let tokens_flag = if path == default_tokens_path(dir) {
        String::new()
    } else {
        format!(" --tokens {}", path.display())
    };
    let how = format!(
        "create one with `sanbao --data {} token add --name NAME --role officer|scheduler|auditor{}`",
        dir.display(),
        tokens_flag
    );
    let how_zh = format!(
        "请用 `sanbao --data {} token add --name NAME --role officer|scheduler|auditor{}` 添加用户",
        dir.display(),
        tokens_flag
    );
    let users = match Tokens::load(&path).map_err(CliError::io)? {
        None => {
            return Err(
                CliError::usage(format!("no tokens file at {}: {how}", path.display()))
                    .zh(format!("令牌文件 {} 不存在：{how_zh}", path.display())),
            )
        }
        Some(t) if t.users.is_empty() => {
            return Err(CliError::usage(format!(
                "the tokens file {} holds no user: {how}",
                path.display()
            ))
            .zh(format!(
                "令牌文件 {} 中没有任何用户：{how_zh}",
                path.display()
            )))
        }
        Some(t) => t,
    };
    let user_count = users.users.len();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sanbao-http")
        .build()
        .map_err(|e| {
            CliError::io(format!("cannot start the runtime: {e}"))
                .zh(format!("无法启动运行时：{e}"))
        })?;
    let bind = |addr: &str| {
        rt.block_on(tokio::net::TcpListener::bind(addr))
            .map_err(|e| {
                CliError::io(format!("cannot listen on {addr}: {e}"))
                    .zh(format!("无法在 {addr} 上监听：{e}"))
            })
    };
    let listener = bind(&listen.api)?;
    let metrics_listener = listen.metrics.as_deref().map(bind).transpose()?;
    let addr = listener.local_addr().map_err(|e| {
        CliError::io(format!("cannot read the listening address: {e}"))
            .zh(format!("无法读取监听地址：{e}"))
    })?;
    crate::log::store::set_holder(
        if read_only.is_some() {
            "sanbao serve --read-only"
        } else {
            "sanbao serve"
        },
        Some(format!("http://{addr}")),
    );

    let (store, state, how) = open_verified(dir)?;
    let head = state.head_seq;
    let mut snapshot_seq = match how {
        Loaded::Snapshot { seq, tail } => {
            tracing::info!(
                snapshot_seq = seq,
                tail,
                "started from the snapshot; every record after it verified"
            );
            seq
        }
        Loaded::Log { .. } => 0,
    };
    let reader = store.clone();
    let (writer, thread) = Writer::start(store, state, Box::new(SystemClock));
    let shared = writer.state().clone();
    // A long tail since the last snapshot: write a new one in the background, from a
    // copy taken under a brief read lock (it shares the counties and the per-record
    // table with the writer's state: a county the writer changes meanwhile is copied
    // then), so that the next start is fast.
    let background = (snapshot_after > 0 && head - snapshot_seq >= snapshot_after).then(|| {
        let (shared, dir) = (shared.clone(), dir.to_path_buf());
        snapshot_seq = head;
        std::thread::Builder::new()
            .name("sanbao-snapshot".into())
            .spawn(move || {
                let copy = shared.read().unwrap_or_else(|p| p.into_inner()).clone();
                take_snapshot(&dir, &copy);
            })
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut app = AppState::with_limits(
        writer,
        reader,
        TokenFile::new(path.clone(), users),
        stop_rx.clone(),
        server::Limits {
            shutdown_grace: listen.grace,
            ..server::Limits::default()
        },
    );
    if let Some(primary) = read_only {
        tracing::info!(
            primary = primary.as_deref().unwrap_or("unknown"),
            "read-only standby: writes are refused"
        );
        app = app.read_only(primary);
    }

    // CLI commands on this directory come in on DIR/sanbao.sock, ready before the
    // line that says the server listens.
    let (local, signals) = {
        let _runtime = rt.enter();
        (
            super::forward::listen(dir, app.clone(), stop_rx.clone()),
            server::Signals::install(),
        )
    };
    tracing::info!(%addr, head_seq = head, users = user_count, "listening");
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        if let Some(m) = metrics_listener.as_ref().and_then(|l| l.local_addr().ok()) {
            tracing::info!(addr = %m, "metrics without a token");
            let _ = writeln!(out, "metrics on http://{m}/metrics");
        }
        // The web desk (issue 17), on the same address: after the lines above, which
        // scripts read first.
        let _ = writeln!(out, "desk: http://{addr}/");
        let _ = out.flush();
    }
    let result = rt.block_on(async move {
        let signals = tokio::spawn(async move {
            let which = signals.wait().await;
            tracing::info!(signal = which, "stopping");
            let _ = stop_tx.send(true);
        });
        let metrics = metrics_listener.map(|l| {
            let router = crate::server::routes::metrics_router(app.clone());
            tokio::spawn(server::serve_router(
                l,
                router,
                app.limits(),
                stop_rx.clone(),
            ))
        });
        let r = server::serve(listener, app, stop_rx).await;
        if let Some(m) = metrics {
            let _ = m.await;
        }
        if let Some(local) = local {
            local.finish().await;
        }
        signals.abort();
        r
    });
    // Every handler and stream is done or dropped: the last writer handles go with
    // the runtime, then the writer drains what it was sent and stops.
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    let _store = thread.join();
    if let Some(Ok(t)) = background {
        let _ = t.join();
    }
    {
        let state = shared.read().unwrap_or_else(|p| p.into_inner());
        if snapshot_after > 0 && state.head_seq - snapshot_seq >= snapshot_after {
            take_snapshot(dir, &state);
        }
    }
    result.map_err(|e| {
        CliError::io(format!("the server failed: {e}")).zh(format!("服务器运行失败：{e}"))
    })?;
    tracing::info!("stopped");
    Ok(())
}

/// `sanbao follow URL --token T [--once]`: keeps DIR in step with the server at URL
/// ([`crate::follow`]). DIR is verified on start like `serve` (a damaged standby is
/// refused); a line `standby at seq N …; primary at seq M; lag K` goes to standard
/// output once a second when it changes, and once at the end.
pub fn follow(dir: &Path, url: &str, token: &str, once: bool) -> Result<(), CliError> {
    use crate::follow::{self, FollowError, Primary};
    let primary = Primary::parse(url, token).map_err(|e| {
        let zh = if url.starts_with("http://") {
            format!("URL {url}：主机地址须写成 http://HOST:PORT，不带路径")
        } else {
            format!(
                "URL {url}：主机地址须写成 http://HOST:PORT（sanbao serve 只提供明文 HTTP；如需 TLS，请在主机和备机前面各加一层）"
            )
        };
        CliError::usage(e.to_string()).zh(zh)
    })?;
    let (store, state, _) = open_verified(dir)?;
    follow::write_standby_file(dir, &primary).map_err(|e| {
        CliError::io(format!("cannot write {}: {e}", follow::STANDBY_FILE))
            .zh(format!("无法写入 {}：{e}", follow::STANDBY_FILE))
    })?;
    let reader = store.clone();
    let (writer, thread) = Writer::start(store, state, Box::new(SystemClock));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::io(format!("cannot start the runtime: {e}"))
                .zh(format!("无法启动运行时：{e}"))
        })?;
    let line =
        |seq: u64, hash: &crate::values::Sha256Hex, primary_seq: Option<u64>| match primary_seq {
            Some(p) => format!(
                "standby at seq {seq} ({hash}); primary at seq {p}; lag {}",
                p.saturating_sub(seq)
            ),
            None => format!("standby at seq {seq} ({hash}); primary unreachable"),
        };
    let result = rt.block_on(async {
        let until = if once {
            Some(follow::primary_head(&primary).await.map_err(CliError::io)?)
        } else {
            None
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let signals = tokio::spawn(async move {
            server::shutdown_on_signals().await;
            let _ = stop_tx.send(true);
        });
        let shared = writer.state().clone();
        let ticker = {
            let primary = primary.clone();
            tokio::spawn(async move {
                let mut last = None;
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    let (seq, hash) = {
                        let s = shared.read().unwrap_or_else(|p| p.into_inner());
                        (s.head_seq, s.head_hash)
                    };
                    let p = follow::primary_head(&primary).await.ok();
                    if last != Some((seq, p)) {
                        last = Some((seq, p));
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "{}", line(seq, &hash, p));
                        let _ = out.flush();
                    }
                }
            })
        };
        let mut outage = false;
        let r = follow::follow(
            &primary,
            &writer,
            &reader,
            until,
            stop_rx,
            |_, why| match why {
                Some(why) if !outage => {
                    outage = true;
                    tracing::warn!(%why, "the primary is unreachable; retrying");
                    eprintln!("primary unreachable ({why}); retrying");
                }
                Some(_) => {}
                None => outage = false,
            },
        )
        .await;
        ticker.abort();
        signals.abort();
        let end = r.map_err(|e| match e {
            FollowError::Diverged { seq, ref reason } => {
                let zh = format!("主机的记录号 {seq} 接不上备机的日志：{reason}；该记录未存储");
                CliError::verification(e.to_string()).zh(zh)
            }
            FollowError::Usage(m) => CliError::usage(m),
            FollowError::Refused { status, ref body } => {
                let zh = format!("主机拒绝了该令牌：HTTP {status}：{body}");
                CliError::io(e.to_string()).zh(zh)
            }
            FollowError::Store(ref m) => {
                let zh = format!("备机无法存储记录：{m}");
                CliError::io(e.to_string()).zh(zh)
            }
        })?;
        let p = follow::primary_head(&primary).await.ok();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", line(end.seq, &end.hash, p));
        let _ = out.flush();
        Ok::<(), CliError>(())
    });
    drop(writer);
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    thread.join();
    result
}
