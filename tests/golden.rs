//! Golden tests over every sample history shipped in `replay/`.
//!
//! For each folder `replay/<name>/` that holds an `events.jsonl`:
//! 1. the real binary imports it into a fresh data directory (`sanbao import`);
//! 2. for every checkpoint of `checkpoints.json` (or just "the head, default as_of" when
//!    there is none) it runs `position --json`, `monitor --json` and `replay --json`
//!    with the checkpoint's `--as-of` / `--at-seq`, and compares each object with
//!    `replay/<name>/expected/<command>-asof-<DATE|default>-at-<N|head>.json`
//!    (compared as JSON values: layout is free, SPEC §8.29);
//! 3. it checks that `replay` agrees with `position` and `monitor` and that its
//!    `head_hash` is the hash of record `at_seq` as `export` prints it;
//! 4. it cross-checks sanbao's figures with `expected_positions` and
//!    `expected_monitor` of `checkpoints.json`, which the generator computed with its
//!    own independent simulation. This is what makes the golden files trustworthy: a
//!    golden file only records what sanbao says, the cross-check says it is right.
//!
//! Regenerate the golden files with `SANBAO_BLESS=1 cargo test --release --test suite golden::`:
//! they are then written instead of compared (the cross-check still runs, so output
//! that disagrees with the independent figures can never be blessed).

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What replay golden files hold in place of `head_hash` (see the test).
const HEAD_HASH_MARKER: &str =
    "<the hash of record at_seq: it covers recorded_at, so it differs per import; checked against export>";

/// Runs `sanbao --data DIR ARGS…` and returns stdout, panicking on a non-zero exit.
fn sanbao(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sanbao"))
        .arg("--data")
        .arg(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SANBAO_DATA")
        .output()
        .expect("run sanbao");
    assert!(
        out.status.success(),
        "sanbao {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a `--json` command and parses its one object.
fn sanbao_json(dir: &Path, args: &[&str]) -> Value {
    let text = sanbao(dir, args);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"))
}

/// One query point: `--as-of` and `--at-seq`, each optional.
#[derive(Clone, Debug)]
struct Query {
    as_of: Option<String>,
    at_seq: Option<u64>,
}

impl Query {
    fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(d) = &self.as_of {
            a.extend(["--as-of".to_string(), d.clone()]);
        }
        if let Some(n) = self.at_seq {
            a.extend(["--at-seq".to_string(), n.to_string()]);
        }
        a
    }

    /// `asof-2021-06-18-at-944`, `asof-default-at-head`: names the command-line
    /// arguments, not the resolved values, so a wrong default cannot hide.
    fn label(&self) -> String {
        format!(
            "asof-{}-at-{}",
            self.as_of.as_deref().unwrap_or("default"),
            self.at_seq.map_or("head".to_string(), |n| n.to_string())
        )
    }
}

/// The first place where `got` and `want` differ, as a JSON path with both values.
fn first_diff(got: &Value, want: &Value, path: &str) -> Option<String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for k in w.keys().chain(g.keys()) {
                let p = format!("{path}.{k}");
                match (g.get(k), w.get(k)) {
                    (Some(a), Some(b)) => {
                        if let Some(d) = first_diff(a, b, &p) {
                            return Some(d);
                        }
                    }
                    (a, b) => return Some(format!("{p}: got {a:?}, want {b:?}")),
                }
            }
            None
        }
        (Value::Array(g), Value::Array(w)) => {
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                if let Some(d) = first_diff(a, b, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (g.len() != w.len()).then(|| {
                format!(
                    "{path}: got {} items, want {} (got {}, want {})",
                    g.len(),
                    w.len(),
                    got,
                    want
                )
            })
        }
        _ => (got != want).then(|| format!("{path}: got {got}, want {want}")),
    }
}

/// Keeps only the members of `v` that `shape` has (recursively, arrays item by item),
/// so that sanbao's richer objects can be compared with the generator's figures.
fn project(v: &Value, shape: &Value) -> Value {
    match (v, shape) {
        (Value::Object(o), Value::Object(s)) => Value::Object(
            s.keys()
                .filter_map(|k| {
                    o.get(k)
                        .map(|x| (k.clone(), project(x, s.get(k).expect("key"))))
                })
                .collect(),
        ),
        (Value::Array(a), Value::Array(s)) if a.len() == s.len() => {
            Value::Array(a.iter().zip(s).map(|(x, y)| project(x, y)).collect())
        }
        _ => v.clone(),
    }
}

/// The generator writes the lines in force as `"lines": [warning, alert, idle]`.
fn with_lines_list(monitor: &Value) -> Value {
    let mut m = monitor.clone();
    if let Some(cs) = m.get_mut("counties").and_then(Value::as_array_mut) {
        for c in cs {
            let lines = json!([c["warning_line"], c["alert_line"], c["idle_line"]]);
            c["lines"] = lines;
        }
    }
    m
}

fn sample_folders(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("replay/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("events.jsonl").is_file())
        .collect();
    v.sort();
    v
}

/// Compares (or, when blessing, writes) one golden file; returns a failure message.
fn golden(file: &Path, got: &Value, bless: bool) -> Option<String> {
    if bless {
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir expected/");
        let mut text = serde_json::to_string_pretty(got).expect("json");
        text.push('\n');
        std::fs::write(file, text).expect("write golden");
        return None;
    }
    let Ok(text) = std::fs::read_to_string(file) else {
        return Some(format!(
            "{} is missing: run SANBAO_BLESS=1 cargo test --release --test suite golden::, and review the new file",
            file.display()
        ));
    };
    let want: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
    first_diff(got, &want, "$").map(|d| format!("{}: {d}", file.display()))
}

#[test]
fn every_sample_history_matches_its_golden_outputs_and_the_independent_figures() {
    let bless = std::env::var("SANBAO_BLESS").is_ok_and(|v| v == "1");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("replay");
    let folders = sample_folders(&root);
    assert!(!folders.is_empty(), "no sample history under replay/");
    let mut failures: Vec<String> = Vec::new();
    for folder in folders {
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        let data = tempfile::tempdir().expect("tempdir");
        let events = folder.join("events.jsonl");
        sanbao(
            data.path(),
            &["import", events.to_str().expect("utf-8 path")],
        );
        let head: u64 = sanbao_json(data.path(), &["verify", "--json"])["records"]
            .as_u64()
            .expect("records");

        let checkpoints: Option<Value> = std::fs::read_to_string(folder.join("checkpoints.json"))
            .ok()
            .map(|t| serde_json::from_str(&t).expect("checkpoints.json is JSON"));
        let queries: Vec<Query> = match checkpoints
            .as_ref()
            .and_then(|c| c["checkpoints"].as_array())
        {
            Some(list) => list
                .iter()
                .map(|c| Query {
                    as_of: c["as_of"].as_str().map(str::to_string),
                    at_seq: c["at_seq"].as_u64(),
                })
                .collect(),
            None => vec![Query {
                as_of: None,
                at_seq: None,
            }],
        };

        for (i, q) in queries.iter().enumerate() {
            let args = q.args();
            let with = |cmd: &str| -> Vec<String> {
                let mut v = vec![cmd.to_string(), "--json".to_string()];
                v.extend(args.iter().cloned());
                v
            };
            let as_strs = |v: &[String]| v.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
            let run = |cmd: &str| {
                let v = with(cmd);
                let refs: Vec<&str> = v.iter().map(String::as_str).collect();
                sanbao_json(data.path(), &refs)
            };
            let position = run("position");
            let monitor = run("monitor");
            let replay = run("replay");
            let expected = folder.join("expected");
            // Each record's hash covers its recorded_at, the wall-clock time of the
            // import, so replay's head_hash differs from one import to the next: the
            // golden file holds a marker, and the hash is checked against `export`
            // below instead.
            let mut replay_golden = replay.clone();
            replay_golden["head_hash"] = json!(HEAD_HASH_MARKER);
            for (cmd, got) in [
                ("position", &position),
                ("monitor", &monitor),
                ("replay", &replay_golden),
            ] {
                let file = expected.join(format!("{cmd}-{}.json", q.label()));
                if let Some(f) = golden(&file, got, bless) {
                    failures.push(format!("{name} `{}`: {f}", as_strs(&with(cmd))));
                }
            }

            // replay = position + monitor + the chain's hash at at_seq.
            let at = q.at_seq.unwrap_or(head);
            if replay["position"] != position || replay["monitor"] != monitor {
                failures.push(format!(
                    "{name} {}: replay's position/monitor differ from the standalone commands",
                    q.label()
                ));
            }
            let want_hash = if at == 0 {
                "0".repeat(64)
            } else {
                let rec: Value = serde_json::from_str(
                    sanbao(
                        data.path(),
                        &["export", "--from", &at.to_string(), "--to", &at.to_string()],
                    )
                    .trim(),
                )
                .expect("exported record");
                rec["hash"].as_str().expect("hash").to_string()
            };
            if replay["at_seq"] != json!(at) || replay["head_hash"] != json!(want_hash) {
                failures.push(format!(
                    "{name} {}: replay at_seq/head_hash {} {} != {at} {want_hash}",
                    q.label(),
                    replay["at_seq"],
                    replay["head_hash"]
                ));
            }

            // The independent figures of the generator (only where it computed them).
            let Some(cp) = &checkpoints else { continue };
            if let Some(want) = cp["expected_positions"].get(i) {
                if let Some(d) = first_diff(&project(&position, want), want, "$") {
                    failures.push(format!(
                        "{name} {}: position disagrees with the generator's expected_positions[{i}]: {d}",
                        q.label()
                    ));
                }
            }
            if let Some(want) = cp["expected_monitor"].get(i) {
                let got = with_lines_list(&monitor);
                if let Some(d) = first_diff(&project(&got, want), want, "$") {
                    failures.push(format!(
                        "{name} {}: monitor disagrees with the generator's expected_monitor[{i}]: {d}",
                        q.label()
                    ));
                }
            }
        }

        // No stale golden files of these three commands.
        if !bless {
            let labels: Vec<String> = queries.iter().map(Query::label).collect();
            if let Ok(dir) = std::fs::read_dir(folder.join("expected")) {
                for e in dir.flatten() {
                    let f = e.file_name().to_string_lossy().into_owned();
                    for cmd in ["position-", "monitor-", "replay-"] {
                        if let Some(rest) =
                            f.strip_prefix(cmd).and_then(|r| r.strip_suffix(".json"))
                        {
                            if !labels.iter().any(|l| l == rest) {
                                failures.push(format!(
                                    "{name}: expected/{f} belongs to no checkpoint (stale golden file?)"
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
