//! The standby (issue 13): `sanbao follow` keeps a second data directory in step
//! with a running server under concurrent appends, across a SIGKILL and restart of
//! the server, without gap or repeat, ending on the same head hash; `serve
//! --read-only` serves it (writes 503 naming the primary); a standby of another
//! history is refused (exit 5); the standby's export restores a primary.

use crate::common;
use crate::wire;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use wire::*;

const WAIT: Duration = Duration::from_secs(120);

/// Starts `serve` on `dir` listening on `listen`; waits for its `listening on` line
/// (retrying a bind refused because the port is still being released).
fn start_serve(dir: &Path, listen: &str, extra: &[&str]) -> (Child, String) {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut child = Command::new(bin())
            .arg("--data")
            .arg(dir)
            .args(["serve", "--listen", listen])
            .args(extra)
            .env_remove("RUST_LOG")
            .env_remove("SANBAO_TOKENS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        if let Some(Ok(line)) = lines.next() {
            if let Some(addr) = line.strip_prefix("listening on http://") {
                // Keep draining stdout so that the child never blocks on it.
                std::thread::spawn(move || for _ in lines {});
                return (child, addr.to_string());
            }
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            err.contains("cannot listen") && Instant::now() < deadline,
            "serve did not start: {err}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running `sanbao follow` and the lines it prints.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(dir: &Path, addr: &str, token: &str) -> Follower {
        let mut child = Command::new(bin())
            .arg("--data")
            .arg(dir)
            .args(["follow", &format!("http://{addr}"), "--token", token])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines }
    }

    /// Waits until the follower reports the standby at `seq` with lag 0.
    fn wait_for(&self, seq: u64) {
        let deadline = Instant::now() + WAIT;
        let want = format!("standby at seq {seq} (");
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(&want) && line.ends_with("lag 0") => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("the standby did not reach seq {seq}");
    }

    fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let status = wait_bounded(&mut self.child, WAIT).expect("follow stops on SIGTERM");
        assert!(status.success(), "follow exited {status:?}");
        self.lines.try_iter().collect()
    }
}

fn revenue(i: usize) -> String {
    json!({"kind":"revenue_collected","county":"suizhong","amount":format!("{}.00", i + 1),"collected_on":"2021-02-01"}).to_string()
}

/// Appends `n` events from each of `threads` threads; an append that cannot reach
/// the server (it was killed) ends that thread. Answers the acknowledged seqs.
fn appends(addr: &str, token: &str, threads: usize, n: usize, offset: usize) -> Vec<u64> {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (addr, token) = (addr.to_string(), token.to_string());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for i in 0..n {
                    let body = revenue(offset + t * n + i);
                    let raw = request_bytes(
                        "POST",
                        "/v1/events",
                        &[
                            ("Authorization", &bearer(&token)),
                            ("Content-Type", "application/json"),
                        ],
                        Some(body.as_bytes()),
                    );
                    match exchange(&addr, &raw) {
                        Ok(r) if r.status == 201 => {
                            acked.push(r.json()[0]["seq"].as_u64().unwrap());
                        }
                        Ok(r) => panic!("append answered {}: {}", r.status, r.text()),
                        Err(_) => break,
                    }
                }
                acked
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}

fn export(dir: &Path) -> Vec<String> {
    let o = run(dir, &["export"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_standby_follows_through_a_killed_and_restarted_primary_and_serves_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let primary = tmp.path().join("primary");
    let standby = tmp.path().join("standby");
    common::append_ok(&primary, &common::small_history());
    let officer = add_token(&primary, "li.wei", "officer");
    let auditor = add_token(&primary, "wang.audit", "auditor");

    let (mut server, addr) = start_serve(&primary, "127.0.0.1:0", &[]);
    let follower = Follower::start(&standby, &addr, &auditor);
    follower.wait_for(5);

    // Concurrent appends; the primary is killed while they run.
    let a2 = addr.clone();
    let o2 = officer.clone();
    let load = std::thread::spawn(move || appends(&a2, &o2, 4, 150, 0));
    // Kill once the log has grown under the load (bounded wait).
    let deadline = Instant::now() + WAIT;
    while get(&addr, "/healthz", "").json()["head_seq"]
        .as_u64()
        .unwrap()
        < 100
    {
        assert!(Instant::now() < deadline, "the appends did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let mut acked = load.join().unwrap();
    // Head ≥ 100 with 5 records before the load: ≥ 95 load records were durable, but
    // each of the 4 threads may have had one durable append whose answer the kill
    // cut off (not counted as acknowledged): at least 91 were answered.
    assert!(acked.len() >= 91, "{} appends acknowledged", acked.len());

    // The primary comes back on the same address; more appends.
    let (mut server, again) = start_serve(&primary, &addr, &[]);
    assert_eq!(again, addr);
    acked.extend(appends(&addr, &officer, 2, 50, 1_000));
    let head = get(&addr, "/healthz", "").json()["head_seq"]
        .as_u64()
        .unwrap();
    follower.wait_for(head);
    let lines = follower.stop();
    assert!(
        lines.iter().all(|l| l.starts_with("standby at seq ")),
        "{lines:?}"
    );

    // Every acknowledged seq is there, once; the standby equals the primary.
    let primary_head = get(&addr, "/healthz", "").json()["head_seq"]
        .as_u64()
        .unwrap();
    assert_eq!(primary_head, head);
    let verify = |dir: &Path| -> Value {
        let o = run(dir, &["verify", "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let p = all_records(&addr, &auditor);
    acked.sort();
    acked.dedup();
    assert!(acked.iter().all(|s| *s <= head));
    let s = verify(&standby);
    assert_eq!(s["records"], head);
    assert_eq!(
        s["head_hash"],
        p.last().unwrap()["hash"],
        "the standby ends on the primary's head hash"
    );
    let standby_export = export(&standby);
    assert_eq!(standby_export.len() as u64, head);
    for (line, rec) in standby_export.iter().zip(&p) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(&v, rec);
    }
    assert!(server.kill().is_ok());
    server.wait().unwrap();

    // The standby, served read-only: reads and verify answer, writes are 503
    // naming the primary (from standby.json).
    let standby_auditor = add_token(&standby, "wang.audit", "auditor");
    let standby_officer = add_token(&standby, "li.wei", "officer");
    let (mut ro, ro_addr) = start_serve(&standby, "127.0.0.1:0", &["--read-only"]);
    let v = get(&ro_addr, "/v1/verify", &standby_auditor);
    assert_eq!(v.status, 200);
    assert_eq!(v.json()["records"], head);
    let w = post(
        &ro_addr,
        "/v1/events",
        &standby_officer,
        &revenue(9_999),
        &[],
    );
    assert_eq!(w.status, 503, "{}", w.text());
    assert!(
        w.text().contains(&format!("http://{addr}")),
        "the 503 names the primary: {}",
        w.text()
    );
    assert_eq!(
        get(&ro_addr, "/healthz", "").json()["head_seq"].as_u64(),
        Some(head),
        "nothing was written"
    );
    let _ = ro.kill();
    let _ = ro.wait();

    // A damaged primary is repaired from the standby's export.
    let file = tmp.path().join("standby.jsonl");
    std::fs::write(&file, standby_export.join("\n") + "\n").unwrap();
    let repaired = tmp.path().join("repaired");
    let o = run(&repaired, &["restore", "--from", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(verify(&repaired)["head_hash"], s["head_hash"]);
    // restore refuses a directory that is not empty, and leaves it as it was.
    let o = run(&repaired, &["restore", "--from", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(verify(&repaired)["head_hash"], s["head_hash"]);
}

#[test]
fn a_standby_of_another_history_is_refused_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let primary = tmp.path().join("primary");
    let other = tmp.path().join("other");
    common::append_ok(&primary, &common::small_history());
    let auditor = add_token(&primary, "wang.audit", "auditor");
    // The other log starts with a different first record.
    common::append_ok(
        &other,
        &json!({"kind":"county_registered","county":"xingcheng","name":"兴城市","registered_on":"2021-01-01"}),
    );
    let (mut server, addr) = start_serve(&primary, "127.0.0.1:0", &[]);
    let mut child = Command::new(bin())
        .arg("--data")
        .arg(&other)
        .args(["follow", &format!("http://{addr}"), "--token", &auditor])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_bounded(&mut child, WAIT).expect("follow stops on a divergent primary");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(5), "{err}");
    assert!(err.contains("does not chain"), "{err}");
    assert_eq!(export(&other).len(), 1, "nothing was stored");
    // A wrong token is refused at once (exit 1), not retried forever.
    let o = run(
        &other,
        &["follow", &format!("http://{addr}"), "--token", "sbt_wrong"],
    );
    assert_eq!(o.status.code(), Some(1));
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn restore_checks_every_record_and_leaves_no_directory_when_one_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let primary = tmp.path().join("primary");
    common::append_ok(&primary, &common::small_history());
    let lines = export(&primary);
    // One amount changed in record 3: its hash no longer matches.
    let mut bad = lines.clone();
    bad[2] = bad[2].replace("50000000.00", "50000001.00");
    assert_ne!(bad[2], lines[2]);
    let file = tmp.path().join("bad.jsonl");
    std::fs::write(&file, bad.join("\n") + "\n").unwrap();
    let target = tmp.path().join("restored");
    let o = run(&target, &["restore", "--from", file.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.starts_with("error: line 3") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!target.exists(), "a failed restore leaves no directory");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restoring"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Bare events are refused: restore takes exports only.
    let events = tmp.path().join("events.json");
    std::fs::write(&events, common::small_history().to_string()).unwrap();
    let o = run(&target, &["restore", "--from", events.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(!target.exists());
    // The good export restores, hash for hash.
    let good = tmp.path().join("good.jsonl");
    std::fs::write(&good, lines.join("\n") + "\n").unwrap();
    let o = run(&target, &["restore", "--from", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(export(&target), lines);
}
