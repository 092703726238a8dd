//! The commands that check, copy and repair the log itself: `verify`, `export` and
//! `export --salvage`, `restore --from` and `truncate --after`.
//!
//! Guarantees: verify and salvage apply every check of the chain (each hash, the
//! seqs, what the head witness says was acknowledged); a salvage file holds only
//! records that pass them, in order; restore builds the new directory beside DIR and
//! renames it into place only once it verifies (a failure leaves DIR as it was);
//! truncate removes nothing without `--yes`, and only after records `1..=SEQ` verify.

use super::output::{self, emit};
use super::target::Target;
use super::write::import;
use crate::error::CliError;
use crate::log::{self, Store, Verified};
use serde_json::json;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// `sanbao restore --from FILE`: loads the exported records of FILE into a scratch
/// directory beside DIR (`import`'s checks: every hash, the chain, the rules),
/// verifies it, and only then renames it to DIR. DIR must not exist, or be an empty
/// directory; a failure leaves DIR as it was.
pub(super) fn restore(dir: &Path, file: &Path) -> Result<(), CliError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(CliError::usage(format!(
                    "{} is not empty: restore builds a new data directory (choose a new --data DIR, or move this one away)",
                    dir.display()
                ))
                .zh(format!(
                    "{} 不是空目录：恢复会新建数据目录（请另选 --data DIR，或把此目录移走）",
                    dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(CliError::io(format!("cannot read {}: {e}", dir.display()))
                .zh(format!("无法读取 {}：{e}", dir.display())))
        }
    }
    if !file.is_file() {
        return Err(
            CliError::usage(format!("--from {}: no such file", file.display()))
                .zh(format!("--from {}：文件不存在", file.display())),
        );
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
                ))
                .zh(format!(
                    "恢复后的日志有 {records} 条记录，而不是 {} 条",
                    head.0
                )))
            }
            Verified::Bad {
                first_bad_seq,
                reason,
            } => {
                return Err(CliError::verification(format!(
                    "the restored log does not verify at seq {first_bad_seq}: {reason}"
                ))
                .zh(format!(
                    "恢复后的日志在记录号 {first_bad_seq} 处校验未通过：{reason}"
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
        std::fs::remove_dir(dir).map_err(|e| {
            CliError::io(format!("cannot replace {}: {e}", dir.display()))
                .zh(format!("无法替换 {}：{e}", dir.display()))
        })?;
    }
    std::fs::rename(&scratch, dir).map_err(|e| {
        CliError::io(format!(
            "cannot move {} to {}: {e}",
            scratch.display(),
            dir.display()
        ))
        .zh(format!(
            "无法将 {} 移动到 {}：{e}",
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

/// `sanbao export --salvage --out FILE`: writes every record that reads and passes
/// every check of `verify`, in order, and stops at the first bad one (or at the
/// first record the head witness says was acknowledged and the store lacks).
pub(super) fn salvage(t: &Target, out: &Path) -> Result<(), CliError> {
    let io = |e: std::io::Error| {
        CliError::io(format!("cannot write {}: {e}", out.display()))
            .zh(format!("无法写入 {}：{e}", out.display()))
    };
    let file = output::create_file(out).map_err(|e| {
        CliError::io(format!("cannot create {}: {e}", out.display()))
            .zh(format!("无法创建 {}：{e}", out.display()))
    })?;
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
            let what_zh = if n == 0 {
                "没有记录".to_string()
            } else {
                format!("记录 1..={n}")
            };
            Err(CliError::verification(format!(
                "salvaged {what} to {}; stopped at seq {first_bad_seq}: {reason}. `sanbao --data NEWDIR restore --from {}` builds a log of them",
                out.display(),
                out.display()
            ))
            .zh(format!(
                "抢救导出结果：{what_zh}，已写入 {}；在记录号 {first_bad_seq} 处停止：{reason}。`sanbao --data NEWDIR restore --from {}` 可用这些记录重建日志",
                out.display(),
                out.display()
            )))
        }
    }
}

/// `sanbao export [--from SEQ] [--to SEQ] [--out FILE]`: prints records as JSON Lines
/// (canonical JSON, one record per line), up to the head.
pub(super) fn export(
    t: &Target,
    from: Option<u64>,
    to: Option<u64>,
    out: Option<PathBuf>,
) -> Result<(), CliError> {
    let (store, head) = t.store()?;
    let io = |e: std::io::Error| {
        CliError::io(format!("cannot write the export: {e}")).zh(format!("无法写入导出内容：{e}"))
    };
    let sink: Box<dyn Write> = match &out {
        Some(p) => Box::new(output::create_file(p).map_err(|e| {
            CliError::io(format!("cannot create {}: {e}", p.display()))
                .zh(format!("无法创建 {}：{e}", p.display()))
        })?),
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

/// `sanbao verify [--json]`: checks every record (contiguous seqs, each hash, the
/// chain) and says where it breaks (exit 5).
pub(super) fn verify(t: &Target, as_json: bool) -> Result<(), CliError> {
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
            ))
            .zh(format!("在记录号 {first_bad_seq} 处校验失败：{reason}")))
        }
    }
}

/// `sanbao truncate --after SEQ [--yes]`: checks that records `1..=SEQ` verify, says
/// what would be removed, and removes it only with `--yes`.
pub(super) fn truncate(dir: &Path, after: u64, yes: bool) -> Result<(), CliError> {
    if !Store::exists(dir) {
        return Err(
            CliError::usage(format!("there is no log in {} to truncate", dir.display()))
                .zh(format!("{} 中没有可截断的日志", dir.display())),
        );
    }
    let store = Store::open_audit(dir)?;
    let keep = match log::verify_prefix(&store, after)? {
        Ok(head) => head,
        Err((bad, reason)) => {
            return Err(CliError::verification(format!(
            "records 1..={after} do not all verify: seq {bad}: {reason}; keep less (--after {})",
            bad.saturating_sub(1)
        ))
            .zh(format!(
            "记录 1..={after} 未全部通过校验：记录号 {bad}：{reason}；请少保留一些（--after {}）",
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
    let (what, what_zh) = match (past.first(), past.last()) {
        (Some(a), Some(b)) => (
            format!(
                "{} stored record{} (seq {a}..={b}) and their idempotency keys",
                past.len(),
                if past.len() == 1 { "" } else { "s" }
            ),
            format!(
                "已存储的 {} 条记录（记录号 {a}..={b}）及其幂等键",
                past.len()
            ),
        ),
        _ => (
            "no record (only the head entry is rewritten)".to_string(),
            "0 条记录（只改写日志头条目）".to_string(),
        ),
    };
    if !yes {
        return Err(CliError::usage(format!(
            "truncate would remove {what} and make seq {after} the head of {}; this cannot be undone: export what you need (`sanbao export --to {after}`), then run again with --yes",
            dir.display()
        ))
        .zh(format!(
            "截断将删除{what_zh}，并使记录号 {after} 成为 {} 的最新记录；此操作无法撤销：请先导出所需记录（`sanbao export --to {after}`），再加 --yes 重新运行",
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
