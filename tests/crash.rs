//! Crash safety of the real binary: concurrent clients append (each with its own
//! idempotency key, retrying after a failure), while a killer sends SIGKILL to
//! appending processes at random moments. Afterwards every acknowledged record must
//! be present with its seq and hash, seqs are contiguous, the chain verifies, and no
//! key was recorded twice. Deterministic in what it asserts; rounds and kills are
//! bounded.

use crate::common;
use common::*;
use sanbao::bench::workload::Rng;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Kills per round at most (each failed attempt of a client is one kill).
const MAX_KILLS: usize = 30;

type Running = Arc<Mutex<HashMap<u64, Child>>>;

fn spawn_append(dir: &Path, key: &str, event: &str) -> Child {
    let mut child = Command::new(bin())
        .arg("--data")
        .arg(dir)
        .args(["append", "--idempotency-key", key])
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.as_bytes())
        .unwrap();
    child
}

/// Runs one append as a registered child the killer may kill; returns the ack if it
/// succeeded, `None` if it was killed or failed.
fn append_once(dir: &Path, running: &Running, id: u64, key: &str, event: &str) -> Option<Value> {
    running
        .lock()
        .unwrap()
        .insert(id, spawn_append(dir, key, event));
    loop {
        {
            let mut map = running.lock().unwrap();
            let child = map.get_mut(&id).unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                let mut child = map.remove(&id).unwrap();
                child.wait().unwrap(); // already exited: reaps it
                let mut out = String::new();
                child
                    .stdout
                    .take()
                    .unwrap()
                    .read_to_string(&mut out)
                    .unwrap();
                if status.success() {
                    return Some(serde_json::from_str(out.trim()).expect("an ack line"));
                }
                // Only a kill may make an append fail; anything else is a bug.
                use std::os::unix::process::ExitStatusExt;
                if status.signal().is_none() {
                    let mut err = String::new();
                    child
                        .stderr
                        .take()
                        .unwrap()
                        .read_to_string(&mut err)
                        .unwrap();
                    panic!("append {key} failed without being killed ({status}): {err}");
                }
                return None;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

struct RoundResult {
    acked: HashMap<String, (u64, String)>,
    kills: usize,
}

fn round(dir: &Path, seed: u64, clients: usize, per_client: usize) -> RoundResult {
    let running: Running = Arc::new(Mutex::new(HashMap::new()));
    let done = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (running, done, kills) = (running.clone(), done.clone(), kills.clone());
        std::thread::spawn(move || {
            let mut rng = Rng::new(seed);
            // At most MAX_KILLS per round, so every client's retries (up to 50) succeed.
            while !done.load(Ordering::SeqCst) && kills.load(Ordering::SeqCst) < MAX_KILLS {
                std::thread::sleep(Duration::from_millis(5 + rng.below(25)));
                let mut map = running.lock().unwrap();
                if map.is_empty() {
                    continue;
                }
                let mut ids: Vec<u64> = map.keys().copied().collect();
                ids.sort_unstable();
                let victim = ids[rng.below(ids.len() as u64) as usize];
                if let Some(c) = map.get_mut(&victim) {
                    if c.try_wait().unwrap().is_none() && c.kill().is_ok() {
                        kills.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        })
    };
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (dir, running) = (dir.to_path_buf(), running.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for n in 0..per_client {
                    let key = format!("s{seed}-c{c}-n{n}");
                    let event = json!({"kind":"revenue_collected","county":"suizhong","amount":format!("{}.{:02}", 100 + c, n),"collected_on":"2021-02-01","category":"tax"}).to_string();
                    // Retry with the same key until acknowledged (bounded).
                    let id_base = ((c * 1000 + n) * 100) as u64;
                    let ack = (0..50)
                        .find_map(|attempt| append_once(&dir, &running, id_base + attempt, &key, &event))
                        .expect("an append is acknowledged within 50 attempts");
                    acked.push((key, (ack["seq"].as_u64().unwrap(), ack["hash"].as_str().unwrap().to_string())));
                }
                acked
            })
        })
        .collect();
    let mut acked = HashMap::new();
    for h in handles {
        acked.extend(h.join().unwrap());
    }
    done.store(true, Ordering::SeqCst);
    killer.join().unwrap();
    RoundResult {
        acked,
        kills: kills.load(Ordering::SeqCst),
    }
}

#[test]
fn sigkill_during_concurrent_appends_loses_no_acknowledged_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    append_ok(&dir, &small_history());
    let mut all_acked: HashMap<String, (u64, String)> = HashMap::new();
    let mut total_kills = 0;
    for seed in [0x5eed_0001u64, 0x5eed_0002, 0x5eed_0003] {
        let r = round(&dir, seed, 4, 12);
        total_kills += r.kills;
        all_acked.extend(r.acked);

        // After every round: the chain verifies and every acknowledged record is there.
        let o = run(&dir, &["verify", "--json"], "");
        assert_eq!(code(&o), 0, "verify after round: {}", stdout(&o));
        let records = export(&dir);
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r["seq"].as_u64().unwrap(), i as u64 + 1, "contiguous seqs");
        }
        let mut by_key: HashMap<&str, Vec<&Value>> = HashMap::new();
        for r in &records {
            if let Some(k) = r["idempotency_key"].as_str() {
                by_key.entry(k).or_default().push(r);
            }
        }
        for (key, (seq, hash)) in &all_acked {
            let found = by_key
                .get(key.as_str())
                .unwrap_or_else(|| panic!("acknowledged {key} is missing"));
            assert_eq!(found.len(), 1, "{key} recorded once, despite retries");
            assert_eq!(found[0]["seq"].as_u64().unwrap(), *seq);
            assert_eq!(found[0]["hash"].as_str().unwrap(), hash);
        }
    }
    assert_eq!(all_acked.len(), 3 * 4 * 12);
    // Report what was exercised (visible with --nocapture).
    println!(
        "crash test: {} acknowledged appends checked, {total_kills} processes killed",
        all_acked.len()
    );
}

/// `sanbao import` killed at moments spread over its run (two batches with the writer
/// at a time, one written while the next is checked): whatever the moment, what
/// survives is whole batches of 10,000 lines from the start of the file, and it
/// verifies; importing the rest of the file afterwards completes it.
#[test]
fn sigkill_during_a_pipelined_import_keeps_whole_batches_from_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = vec![json!({"kind":"county_registered","county":"jianchang","name":"建昌县","registered_on":"2021-01-01"}).to_string()];
    for i in 1..60_000 {
        lines.push(json!({"kind":"revenue_collected","county":"jianchang","amount":format!("{i}.01"),"collected_on":"2021-02-01"}).to_string());
    }
    let file = tmp.path().join("in.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let mut rng = Rng::new(20261128);
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..6 {
        let dir = tmp.path().join(format!("d{round}"));
        let mut child = Command::new(bin())
            .arg("--data")
            .arg(&dir)
            .arg("import")
            .arg(&file)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + rng.below(300)));
        let _ = child.kill();
        child.wait().unwrap();
        let o = run(&dir, &["verify"], "");
        assert_eq!(code(&o), 0, "round {round}: {}", stderr(&o));
        let n = export(&dir).len();
        assert_eq!(
            n % 10_000,
            0,
            "round {round}: {n} records is not whole batches"
        );
        seen.insert(n);
        // The records are the file's first n lines, in order.
        let exported = export(&dir);
        for (i, r) in exported.iter().enumerate().step_by(997) {
            let want: Value = serde_json::from_str(&lines[i]).unwrap();
            assert_eq!(r["event"]["kind"], want["kind"]);
            assert_eq!(r["seq"], json!(i + 1));
        }
        // The rest imports on top of what survived.
        let rest = tmp.path().join(format!("rest{round}.jsonl"));
        std::fs::write(&rest, lines[n..].join("\n")).unwrap();
        if n < lines.len() {
            let o = run(&dir, &["import", rest.to_str().unwrap()], "");
            assert_eq!(code(&o), 0, "round {round}: {}", stderr(&o));
        }
        assert_eq!(export(&dir).len(), lines.len());
    }
    eprintln!("records surviving a kill, by round: {seen:?}");
}
