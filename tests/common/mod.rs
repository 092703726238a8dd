//! Shared helpers for the integration tests: run the real binary on a data dir.
#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Path of the built `sanbao` binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sanbao")
}

/// Runs `sanbao --data DIR ARGS…` with `stdin` as standard input.
pub fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(bin())
        .arg("--data")
        .arg(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sanbao");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Exit code of an output.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Appends `events` (a JSON value: one event or an array); panics unless it succeeds.
pub fn append_ok(dir: &Path, events: &Value) -> Vec<Value> {
    let o = run(dir, &["append"], &events.to_string());
    assert_eq!(code(&o), 0, "append failed: {}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Asserts that stderr is exactly one line starting with `error:` and returns it.
pub fn one_error_line(o: &Output) -> String {
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one stderr line, got: {err:?}");
    assert!(lines[0].starts_with("error:"), "{err:?}");
    lines[0].to_string()
}

/// All exported records of a data dir.
pub fn export(dir: &Path) -> Vec<Value> {
    let o = run(dir, &["export"], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A small valid history: a city, two counties, entitlements.
pub fn small_history() -> Value {
    serde_json::json!([
        {"kind":"county_registered","county":"suizhong","name":"绥中县","registered_on":"2021-01-01","opening_treasury":"1000000"},
        {"kind":"county_registered","county":"jianchang","name":"建昌县","registered_on":"2021-01-01"},
        {"kind":"city_funds_received","fund":"general","amount":"50000000","received_on":"2021-01-01"},
        {"kind":"allocation_notified","county":"suizhong","fund":"general","fiscal_year":2021,"program":"均衡性转移支付","amount":"12000000","notified_on":"2021-01-05"},
        {"kind":"allocation_notified","county":"jianchang","fund":"general","fiscal_year":2021,"program":"均衡性转移支付","amount":"6000000","notified_on":"2021-01-05"}
    ])
}

/// Appends `batches` (each one atomic batch, in order) to the log in `dir` through the
/// library's single writer, in this process, and waits until they are durable.
pub fn append_in_process(dir: &Path, batches: Vec<Vec<sanbao::event::InputEvent>>) {
    use sanbao::log::{self, Store, SystemClock, Writer};
    let store = Store::open(dir).unwrap();
    let state = log::load_state(&store, None, |_| {}).unwrap();
    let (w, t) = Writer::start(store, state, Box::new(SystemClock));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for b in batches {
        rt.block_on(w.append(b, None)).unwrap();
    }
    drop(w);
    t.join();
}

/// The bytes record `seq` is stored as, inside its block (the compact form the writer
/// writes), to damage in tests of what verify and serve find.
pub fn stored_bytes(store: &sanbao::log::Store, seq: u64) -> Vec<u8> {
    let stored = store
        .raw_range(seq, seq)
        .next()
        .expect("stored")
        .expect("read");
    assert_eq!(stored.seq, seq);
    stored.bytes.to_vec()
}

/// The events of a JSON value (one event or an array), parsed as `append` parses them.
pub fn events(v: &Value) -> Vec<sanbao::event::InputEvent> {
    sanbao::event::parse_input(&v.to_string()).unwrap().1
}

/// Every regular file under `dir` (relative path → bytes), but `sanbao.lock`.
pub fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                walk(root, &e.path(), out);
            } else if t.is_file() {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                if rel != "sanbao.lock" {
                    out.insert(rel, std::fs::read(e.path()).unwrap());
                }
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// SHA-256 of every file (but the holder note), by path.
pub fn hashes(dir: &Path) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest;
    files(dir)
        .into_iter()
        .map(|(k, v)| (k, hex::encode(sha2::Sha256::digest(&v))))
        .collect()
}
