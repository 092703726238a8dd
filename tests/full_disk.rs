//! A full disk heals itself (issue 23): on a small tmpfs mounted for the test,
//! appends over HTTP fill it until they answer 503 "disk full" (said once, nothing
//! written; reads keep answering); once space is freed, appends succeed again with
//! no restart; every acknowledged seq is in the log exactly once and it verifies.
//!
//! Mounting needs root (CI runs as root); a machine where `mount -t tmpfs` fails
//! makes this test fail, saying so.

use crate::wire;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use wire::*;

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct Tmpfs {
    at: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("fs");
        std::fs::create_dir(&at).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .output()
            .expect("run mount");
        assert!(
            o.status.success(),
            "this test mounts a small tmpfs to fill it, which needs root (CI runs as root): mount said {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Tmpfs { at, _dir: dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

fn batch(tag: &str, n: usize) -> String {
    Value::Array(
        (0..n)
            .map(|i| json!({"kind":"county_registered","county":format!("{tag}x{i}"),"name":"县".repeat(20),"registered_on":"2021-01-01"}))
            .collect(),
    )
    .to_string()
}

/// Posts batches of 200 until one is refused (at most `most`); answers the seqs
/// acknowledged and the refusal, if any.
fn fill(addr: &str, token: &str, tag: &str, most: usize) -> (Vec<u64>, Option<Resp>) {
    let mut acked = Vec::new();
    for b in 0..most {
        let r = post(
            addr,
            "/v1/events",
            token,
            &batch(&format!("{tag}{b}"), 200),
            &[],
        );
        if r.status != 201 {
            return (acked, Some(r));
        }
        acked.extend(
            r.json()
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["seq"].as_u64().unwrap()),
        );
    }
    (acked, None)
}

#[test]
fn appends_refused_on_a_full_disk_succeed_again_once_space_returns_without_a_restart() {
    let fs = Tmpfs::mount("16m");
    let dir = fs.at.join("data");
    assert!(run(&dir, &["init"]).status.success());
    let officer = add_token(&dir, "li.wei", "officer");
    let auditor = add_token(&dir, "wang.audit", "auditor");
    // Something to delete later: 3 MB beside the log.
    let filler: &Path = &fs.at.join("filler");
    std::fs::write(filler, vec![7u8; 3 << 20]).unwrap();
    let mut serve = Serve::start(&dir, &[]);

    let (mut acked, refusal) = fill(&serve.addr, &officer, "a", 400);
    let r = refusal.expect("the disk filled up");
    assert!(!acked.is_empty());
    assert_eq!(r.status, 503, "{}", r.text());
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("disk holding the log is full"),
        "{message}"
    );
    assert!(message.contains("no restart needed"), "{message}");
    for once in ["nothing was recorded", "full", "storage"] {
        assert_eq!(
            message.matches(once).count(),
            1,
            "{once:?} said once: {message}"
        );
    }
    let head = serve.head();
    assert_eq!(head, acked.len() as u64, "the refused batch wrote nothing");
    // Reads keep answering; the same batch from the CLI (through the server) is
    // refused alike.
    let v = get(&serve.addr, "/v1/verify", &auditor);
    assert_eq!((v.status, v.json()["records"].clone()), (200, json!(head)));
    let e = batch("cli", 200);
    let o = std::process::Command::new(bin())
        .arg("--data")
        .arg(&dir)
        .args(["append"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(e.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("disk holding the log is full"));
    assert_eq!(serve.head(), head);

    // Space returns: appends succeed again, with no restart.
    std::fs::remove_file(filler).unwrap();
    let (more, refusal) = fill(&serve.addr, &officer, "b", 5);
    assert!(refusal.is_none(), "{:?}", refusal.map(|r| r.text()));
    assert_eq!(more.len(), 5 * 200);
    acked.extend(more);
    assert!(serve.terminate().success());

    // Every acknowledged seq exactly once, contiguous, and the chain verifies.
    let o = run(&dir, &["verify", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["records"], acked.len());
    acked.sort_unstable();
    assert_eq!(acked, (1..=acked.len() as u64).collect::<Vec<_>>());
}
