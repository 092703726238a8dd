//! Seeded damage over the whole data directory (issue 13): single-byte flips and
//! truncations at random offsets of every file sanbao and sled write — sled's data
//! file, its configuration and snapshot, sanbao's head witness, state snapshot,
//! tokens file and lock — each on a fresh copy of a 10,000-record log written in 100
//! group commits, with both kinds of snapshot.
//!
//! Every case must end in one of two outcomes, and the test fails on anything else
//! (a shorter log reported ok, a different balance, another exit code, a panic, a
//! hang):
//! - **detected**: `verify` exits 5 naming seq K; `serve` refuses to start (exit 5);
//!   `export --salvage` writes exactly records 1..K-1 as they were;
//! - **harmless**: `verify` reports the full, unchanged head hash and record count,
//!   and `position --json` is byte for byte the original.
//!
//! The table of counts by file and outcome is printed (`--nocapture`) and kept in
//! RELIABILITY.md.

use crate::common;
use crate::wire;

use sanbao::bench::workload::{self, Config, Rng};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const RECORDS: usize = 10_000;
const BATCH: usize = 100;
const FLIPS: usize = 200;
const TRUNCATIONS: usize = 24;
const SEED: u64 = 20_261_203;
const LIMIT: Duration = Duration::from_secs(90);

/// Runs `sanbao --data DIR ARGS…`, bounded by [`LIMIT`]: the exit code (None for a
/// signal), stdout and stderr. A command still running at the limit fails the test.
fn run_bounded(dir: &Path, args: &[&str], what: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(common::bin())
        .arg("--data")
        .arg(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SANBAO_TOKENS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sanbao");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let status = wire::wait_bounded(&mut child, LIMIT);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what}: `sanbao {}` hung for {LIMIT:?}", args.join(" "));
    }
    (
        status.unwrap().code(),
        out.join().unwrap(),
        err.join().unwrap(),
    )
}

/// Every file under `dir` (relative paths), sorted, so the seeded choice is stable.
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &entry.path(), out);
            } else {
                out.push(entry.path().strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The file's kind for the table: sled's snapshot files have changing names.
fn kind(file: &Path) -> String {
    let name = file.to_string_lossy().into_owned();
    if name.starts_with("snap.") {
        "snap.* (sled)".into()
    } else {
        match name.as_str() {
            "db" => "db (sled)".into(),
            "conf" => "conf (sled)".into(),
            _ => name,
        }
    }
}

/// The original log: 10,000 seeded events in 100 batches, a state snapshot as
/// `serve` writes it, a tokens file; reopened once more so sled writes its snapshot.
fn build(dir: &Path) {
    let events = workload::events(Config::new(SEED, 20), RECORDS);
    let batches: Vec<Vec<_>> = events
        .chunks(BATCH)
        .map(|c| c.iter().cloned().map(workload::input).collect())
        .collect();
    common::append_in_process(dir, batches);
    let store = sanbao::log::Store::open(dir).unwrap();
    let state = sanbao::log::load_state(&store, None, |_| {}).unwrap();
    sanbao::log::snapshot::write(dir, &state).unwrap();
    drop(store);
    wire::add_token(dir, "wang.audit", "auditor");
    drop(sanbao::log::Store::open(dir).unwrap());
}

struct Original {
    head_hash: String,
    position: String,
    export: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Flip,
    Truncation,
}

#[test]
fn every_damage_to_any_file_is_detected_and_salvaged_or_harmless() {
    let tmp = tempfile::tempdir().unwrap();
    let orig_dir = tmp.path().join("orig");
    build(&orig_dir);
    let (code, out, err) = run_bounded(&orig_dir, &["verify", "--json"], "original");
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["records"], RECORDS as u64);
    let (code, position, err) = run_bounded(&orig_dir, &["position", "--json"], "original");
    assert_eq!(code, Some(0), "{err}");
    let original = Original {
        head_hash: v["head_hash"].as_str().unwrap().to_string(),
        position,
        export: common::stdout(&common::run(&orig_dir, &["export"], ""))
            .lines()
            .map(str::to_string)
            .collect(),
    };
    assert_eq!(original.export.len(), RECORDS);
    let all = files(&orig_dir);
    let names: Vec<String> = all.iter().map(|f| kind(f)).collect();
    for needed in [
        "db (sled)",
        "conf (sled)",
        "snap.* (sled)",
        "head.witness",
        "state.snapshot",
        "tokens.json",
    ] {
        assert!(
            names.iter().any(|n| n == needed),
            "no {needed} in {names:?}"
        );
    }

    let mut rng = Rng::new(SEED);
    let mut table: BTreeMap<(String, Fault, &'static str), usize> = BTreeMap::new();
    let mut cases: Vec<Fault> = vec![Fault::Flip; FLIPS];
    cases.extend(std::iter::repeat_n(Fault::Truncation, TRUNCATIONS));
    for (n, fault) in cases.into_iter().enumerate() {
        let case = tmp.path().join(format!("case{n}"));
        wire::copy_dir(&orig_dir, &case);
        // A file with bytes to damage (the lock file is empty), then the damage.
        let damageable: Vec<&PathBuf> = all
            .iter()
            .filter(|f| std::fs::metadata(orig_dir.join(f)).unwrap().len() > 0)
            .collect();
        let file = damageable[rng.below(damageable.len() as u64) as usize];
        let path = case.join(file);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = rng.below(bytes.len() as u64) as usize;
        let what = match fault {
            Fault::Flip => {
                let bit = 1u8 << rng.below(8);
                bytes[at] ^= bit;
                std::fs::write(&path, &bytes).unwrap();
                format!(
                    "case {n}: bit {bit:#04x} of byte {at} of {}",
                    file.display()
                )
            }
            Fault::Truncation => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(at as u64)
                    .unwrap();
                format!("case {n}: {} cut to {at} bytes", file.display())
            }
        };
        let outcome = judge(&case, &original, &what);
        *table.entry((kind(file), fault, outcome)).or_default() += 1;
        std::fs::remove_dir_all(&case).unwrap();
    }

    println!("| file | fault | detected | harmless |");
    println!("|---|---|---|---|");
    let mut rows: BTreeMap<(String, Fault), (usize, usize)> = BTreeMap::new();
    for ((file, fault, outcome), count) in &table {
        let row = rows.entry((file.clone(), *fault)).or_default();
        if *outcome == "detected" {
            row.0 += count;
        } else {
            row.1 += count;
        }
    }
    for ((file, fault), (detected, harmless)) in &rows {
        println!("| {file} | {fault:?} | {detected} | {harmless} |");
    }
    let detected: usize = rows.values().map(|r| r.0).sum();
    let harmless: usize = rows.values().map(|r| r.1).sum();
    println!("| all | | {detected} | {harmless} |");
    assert_eq!(detected + harmless, FLIPS + TRUNCATIONS);
    // The seeded cases reach sled's data file with both outcomes: the test
    // exercises detection, not only harmless bytes.
    assert!(
        table
            .keys()
            .any(|(f, _, o)| f == "db (sled)" && *o == "detected"),
        "{table:?}"
    );
}

/// Runs the checks of one damaged copy and answers its outcome; anything but the two
/// outcomes fails the test, naming the case.
fn judge(case: &Path, original: &Original, what: &str) -> &'static str {
    let (code, out, err) = run_bounded(case, &["verify", "--json"], what);
    match code {
        Some(0) => {
            let v: Value = serde_json::from_str(out.trim())
                .unwrap_or_else(|e| panic!("{what}: verify printed {out:?}: {e}"));
            assert_eq!(
                (v["records"].as_u64(), v["head_hash"].as_str()),
                (Some(RECORDS as u64), Some(original.head_hash.as_str())),
                "{what}: verify ok on a different log: {out}"
            );
            let (code, position, err) = run_bounded(case, &["position", "--json"], what);
            assert_eq!(code, Some(0), "{what}: position after an ok verify: {err}");
            assert!(
                position == original.position,
                "{what}: a different balance after an ok verify"
            );
            "harmless"
        }
        Some(5) => {
            let v: Value = serde_json::from_str(out.trim())
                .unwrap_or_else(|e| panic!("{what}: verify printed {out:?}: {e}"));
            assert_eq!(v["ok"], false, "{what}: {out}");
            let k = v["first_bad_seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("{what}: no first_bad_seq: {out}"));
            assert!(
                (1..=RECORDS as u64 + 1).contains(&k),
                "{what}: first_bad_seq {k}"
            );
            assert!(
                err.starts_with("error:") && err.lines().count() == 1,
                "{what}: {err}"
            );

            let (code, serve_out, serve_err) = run_bounded(
                case,
                &["serve", "--listen", "127.0.0.1:0", "--snapshot-after", "0"],
                what,
            );
            assert_eq!(
                code,
                Some(5),
                "{what}: serve on a log verify calls damaged at {k}: {serve_out} {serve_err}"
            );

            let salvage = case.with_extension("salvage.jsonl");
            let target = salvage.to_str().unwrap();
            let (code, _, err) = run_bounded(case, &["export", "--salvage", "--out", target], what);
            assert!(
                code == Some(5) || (code == Some(0) && k == RECORDS as u64 + 1),
                "{what}: salvage answered {code:?}: {err}"
            );
            let lines: Vec<String> = std::fs::read_to_string(&salvage)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect();
            let expected = &original.export[..(k - 1) as usize];
            assert!(
                lines == expected,
                "{what}: salvage wrote {} records, verify named seq {k}",
                lines.len()
            );
            std::fs::remove_file(&salvage).unwrap();
            "detected"
        }
        other => panic!("{what}: verify exited {other:?}: {out} {err}"),
    }
}

/// The issue's own case: 42 records appended in one batch, no snapshot, one byte of
/// sled's data file changed. sled then opens a shorter (here: empty) log without a
/// word; the witness makes every command say so, and nothing writes until the
/// explicit repair.
#[test]
fn a_log_sled_shortened_is_never_ok_and_nothing_writes_until_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let orig = tmp.path().join("orig");
    let events: Vec<Value> = sanbao::cli::SAMPLE_EVENTS
        .lines()
        .take(42)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    common::append_ok(&orig, &Value::Array(events));
    let len = std::fs::metadata(orig.join("db")).unwrap().len();
    let mut shortened = 0;
    for offset in (64..len).step_by(512) {
        let case = tmp.path().join(format!("at{offset}"));
        wire::copy_dir(&orig, &case);
        let mut bytes = std::fs::read(case.join("db")).unwrap();
        bytes[offset as usize] ^= 0x04;
        std::fs::write(case.join("db"), &bytes).unwrap();
        let (code, out, _) = run_bounded(&case, &["verify", "--json"], "42 records");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        match code {
            Some(0) => assert_eq!(v["records"], 42, "offset {offset}: {out}"),
            Some(5) => {
                let reason = v["reason"].as_str().unwrap();
                if reason.contains("were acknowledged") {
                    shortened += 1;
                    let k = v["first_bad_seq"].as_u64().unwrap();
                    assert!(reason.contains(&format!("records {k}..=42")), "{reason}");
                    // Every command refuses (exit 5) and writes nothing.
                    let o = common::run(&case, &["position"], "");
                    assert_eq!(common::code(&o), 5, "{}", common::stderr(&o));
                    let o = common::run(&case, &["append"], &common::small_history().to_string());
                    assert_eq!(common::code(&o), 5, "{}", common::stderr(&o));
                    common::one_error_line(&o);
                    let (code, _, _) = run_bounded(&case, &["verify", "--json"], "again");
                    assert_eq!(code, Some(5), "still damaged: nothing was written");
                    // The explicit repair accepts the loss; then the log works again.
                    let keep = (k - 1).to_string();
                    let o = common::run(&case, &["truncate", "--after", &keep, "--yes"], "");
                    assert_eq!(common::code(&o), 0, "{}", common::stderr(&o));
                    let (code, out, _) = run_bounded(&case, &["verify", "--json"], "repaired");
                    assert_eq!(code, Some(0), "{out}");
                    assert_eq!(
                        serde_json::from_str::<Value>(out.trim()).unwrap()["records"],
                        k - 1
                    );
                }
            }
            other => panic!("offset {offset}: verify exited {other:?}: {out}"),
        }
        std::fs::remove_dir_all(&case).unwrap();
    }
    assert!(shortened > 0, "no offset made sled open a shorter log");
}
