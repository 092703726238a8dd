//! `sanbao status`: what holds a data directory and the state of its log, without
//! waiting for anyone.
//!
//! Guarantees: never waits for the directory's lock and never writes the log. A
//! directory held by another process is described from what the holder wrote into
//! `DIR/sanbao.lock` (its pid, command and start), and for a server also from its
//! `/healthz` (the head seq); a free one is opened for an audit, so a damaged log
//! is described, not refused.

use crate::error::CliError;
use crate::log::{self, snapshot, witness, Store};
use serde_json::{json, Value};
use std::path::Path;

/// The head seq a server at `url` reports on `/healthz`.
fn server_head(url: &str) -> Option<u64> {
    let primary = crate::follow::Primary::parse(url, "").ok()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            crate::follow::primary_head(&primary),
        )
        .await
        .ok()?
        .ok()
    })
}

/// `sanbao status [--json]`.
pub fn status(dir: &Path, as_json: bool) -> Result<(), CliError> {
    if !Store::exists(dir) {
        return Err(CliError::usage(format!(
            "there is no log in {} (`sanbao init` makes one)",
            dir.display()
        ))
        .zh(format!(
            "{} 中没有日志（可用 `sanbao init` 创建）",
            dir.display()
        )));
    }
    let mut v = json!({
        "dir": dir.display().to_string(),
        "held_by": null,
        "head_seq": null,
        "head_hash": null,
        "problem": null,
        "witness": match witness::read(dir) {
            Ok(witness::Reading::Witnessed(h, _)) => json!({"seq": h.seq, "hash": h.hash.to_hex()}),
            _ => Value::Null,
        },
        "snapshot": snapshot::peek(dir).map(|(seq, hash)| json!({"seq": seq, "hash": hash.to_hex()})),
        "disk_free_bytes": log::store::disk_free(dir),
    });
    if log::store::is_held(dir) {
        let mut holder = log::store::holder(dir).unwrap_or_else(|| json!({"pid": null}));
        let url = holder["url"].as_str().map(str::to_string);
        holder["kind"] = json!(if url.is_some() { "server" } else { "cli" });
        if url.is_some() {
            // Whether commands on DIR go through the server (its socket answers).
            holder["socket"] = json!(std::os::unix::net::UnixStream::connect(
                dir.join(super::forward::SOCKET)
            )
            .is_ok());
        }
        if let Some(url) = url {
            v["head_seq"] = json!(server_head(&url));
        }
        v["held_by"] = holder;
    } else {
        match Store::open_audit(dir) {
            Ok(store) => {
                if let Ok(head) = store.head() {
                    v["head_seq"] = json!(head.seq);
                    v["head_hash"] = json!(head.hash.to_hex());
                }
                if let Some((seq, reason)) = store.problem() {
                    v["problem"] = json!({"first_bad_seq": seq, "reason": reason});
                } else if let Some(why) = store.rescued() {
                    v["problem"] = json!({"first_bad_seq": null, "reason": why});
                }
            }
            Err(e) => v["problem"] = json!({"first_bad_seq": null, "reason": e.to_string()}),
        }
    }
    if as_json {
        println!("{v}");
        return Ok(());
    }
    let mut lines = vec![format!("data directory  {}", dir.display())];
    lines.push(match &v["held_by"] {
        Value::Null => "held by         nothing (free)".to_string(),
        h => {
            format!(
                "held by         {} {}{} (pid {}, since {})",
                if h["kind"] == "server" {
                    "server"
                } else {
                    "command"
                },
                h["command"].as_str().unwrap_or("?"),
                h["url"]
                    .as_str()
                    .map(|u| format!(" on {u}"))
                    .unwrap_or_default(),
                h["pid"],
                h["since"].as_str().unwrap_or("?")
            ) + if h["socket"] == true {
                "; commands on this directory go through it"
            } else {
                ""
            }
        }
    });
    lines.push(match (&v["head_seq"], &v["head_hash"]) {
        (Value::Null, _) => "head            unknown (held by a command)".to_string(),
        (s, Value::Null) => format!("head            seq {s}"),
        (s, h) => format!("head            seq {s}, hash {}", h.as_str().unwrap_or("")),
    });
    lines.push(match &v["witness"] {
        Value::Null => "head witness    none yet".to_string(),
        w => format!("head witness    seq {}", w["seq"]),
    });
    lines.push(match &v["snapshot"] {
        Value::Null => "snapshot        none".to_string(),
        s => format!("snapshot        covers seq {}", s["seq"]),
    });
    if let Some(free) = v["disk_free_bytes"].as_u64() {
        lines.push(format!(
            "disk free       {:.1} GiB",
            free as f64 / (1u64 << 30) as f64
        ));
    }
    if let Value::Object(p) = &v["problem"] {
        lines.push(format!(
            "DAMAGED         {}",
            p.get("reason").and_then(Value::as_str).unwrap_or("")
        ));
    }
    println!("{}", lines.join("\n"));
    Ok(())
}
