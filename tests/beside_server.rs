//! The command line beside a running server (issue 14): with `serve` holding DIR,
//! every CLI command on DIR goes through the server's socket (`DIR/sanbao.sock`) and
//! prints exactly what it prints on a copy of DIR without a server; writes from the
//! CLI and HTTP at once get contiguous seqs; `truncate` is refused while serving; a
//! server killed with SIGKILL leaves a stale socket that the next command ignores.

use crate::wire;

use serde_json::{json, Value};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use wire::{add_token, post, Serve};

/// Runs `sanbao --data data ARGS…` in `cwd` (so messages naming the directory read
/// the same in two places), with `stdin`, no colour and no log filter.
fn run_in(cwd: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(wire::bin())
        .current_dir(cwd)
        .args(["--data", "data"])
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SANBAO_TOKENS")
        .env_remove("SANBAO_DATA")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sanbao");
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.as_bytes().to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Replaces every 64-hex-digit run (a hash, which differs between two logs written
/// at different times) with `<hash>`.
fn mask_hashes(s: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        if run == 64 {
            out.push_str("<hash>");
            i += 64;
        } else if run > 0 {
            out.extend(&chars[i..i + run]);
            i += run;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Runs `args` in both places and asserts the same exit code, stdout and stderr
/// (through `mask` for writes, whose hashes differ); answers the served output.
fn same(served: &Path, alone: &Path, args: &[&str], stdin: &str, mask: bool) -> Output {
    let a = run_in(served, args, stdin);
    let b = run_in(alone, args, stdin);
    let f = |s: &[u8]| if mask { mask_hashes(&text(s)) } else { text(s) };
    assert_eq!(
        a.status.code(),
        b.status.code(),
        "{args:?}: exit codes differ; served stderr {:?}, alone stderr {:?}",
        text(&a.stderr),
        text(&b.stderr)
    );
    assert_eq!(f(&a.stdout), f(&b.stdout), "{args:?}: stdout differs");
    assert_eq!(f(&a.stderr), f(&b.stderr), "{args:?}: stderr differs");
    a
}

#[test]
fn every_command_on_a_served_directory_prints_what_it_prints_without_a_server() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    let alone = tmp.path().join("alone");
    std::fs::create_dir_all(&served).unwrap();
    // The sample city, then one copy of the closed directory.
    let o = run_in(&served, &["demo"], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let officer = add_token(&served.join("data"), "li.wei", "officer");
    wire::copy_dir(&served, &alone);
    let mut serve = Serve::start(&served.join("data"), &[]);
    let socket = served.join("data").join("sanbao.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the socket is for its owner only");

    // Reads: byte for byte, failures included.
    let reads: &[&[&str]] = &[
        &["verify"],
        &["verify", "--json"],
        &["position"],
        &["position", "--json"],
        &[
            "position",
            "--county",
            "xingcheng",
            "--as-of",
            "2021-06-30",
            "--json",
        ],
        &["position", "--at-seq", "100", "--json"],
        &["position", "--at-seq", "999999"],
        &["position", "--county", "nowhere"],
        &["monitor"],
        &["monitor", "--json", "--as-of", "2021-12-31"],
        &["monitor", "--at-seq", "2000"],
        &["monitor", "--daily", "--county", "jianchang", "--json"],
        &[
            "monitor",
            "--daily",
            "--from",
            "2021-12-20",
            "--to",
            "2022-01-10",
        ],
        &[
            "monitor",
            "--daily",
            "--from",
            "2022-01-10",
            "--to",
            "2021-12-20",
        ],
        &["plan", "--month", "2022-03"],
        &["plan", "--month", "2022-03", "--json", "--at-seq", "2000"],
        &["forecast", "--from", "2022-03"],
        &["forecast", "--from", "2022-01", "--months", "6", "--json"],
        &["replay"],
        &["replay", "--json", "--at-seq", "1500"],
        &["export"],
        &["export", "--from", "10", "--to", "20"],
        &["export", "--from", "999999"],
        &["init"],
        &["demo"],
    ];
    for args in reads {
        same(&served, &alone, args, "", false);
    }
    // Files the command writes: the client writes them, the same bytes.
    for args in [
        &["export", "--out", "all.jsonl"][..],
        &["export", "--salvage", "--out", "salvaged.jsonl"][..],
        &["export", "--from", "5", "--to", "9", "--out", "some.jsonl"][..],
    ] {
        same(&served, &alone, args, "", false);
        let name = args.last().unwrap();
        let a = std::fs::read(served.join(name)).unwrap();
        assert!(!a.is_empty());
        assert_eq!(a, std::fs::read(alone.join(name)).unwrap(), "{args:?}");
    }

    // Writes: the same answers but for the hashes (each log has its own clock).
    let event = json!({"kind":"county_registered","county":"xinqu","name":"新区","registered_on":"2022-02-01"});
    let o = same(&served, &alone, &["append"], &event.to_string(), true);
    assert!(o.status.success());
    let ack: Value = serde_json::from_slice(&o.stdout).unwrap();
    let head = ack["seq"].as_u64().unwrap();
    // Bad input and a stale --expect-seq fail alike, and write nothing.
    same(&served, &alone, &["append"], "{\"kind\":\"nope\"}", false);
    same(
        &served,
        &alone,
        &["append", "--expect-seq", "3"],
        &event.to_string(),
        false,
    );
    same(&served, &alone, &["append", "missing.json"], "", false);
    // The same event again is a conflict (already registered).
    same(&served, &alone, &["append"], &event.to_string(), false);
    // An idempotency key: the retry is a duplicate.
    let keyed = json!({"kind":"county_registered","county":"gaoxin","name":"高新区","registered_on":"2022-02-01"});
    for _ in 0..2 {
        same(
            &served,
            &alone,
            &["append", "--idempotency-key", "reg-gaoxin"],
            &keyed.to_string(),
            true,
        );
    }
    // import FILE, import - and a bad line.
    let lines: String = (0..30)
        .map(|i| {
            json!({"kind":"county_registered","county":format!("zone{i}"),"name":format!("园区{i}"),"registered_on":"2022-02-01"})
                .to_string()
                + "\n"
        })
        .collect();
    for dir in [&served, &alone] {
        std::fs::write(dir.join("zones.jsonl"), &lines).unwrap();
        std::fs::write(dir.join("bad.jsonl"), "{\"kind\":\"county_registered\"}\n").unwrap();
    }
    same(&served, &alone, &["import", "zones.jsonl"], "", true);
    same(&served, &alone, &["import", "bad.jsonl"], "", false);
    same(
        &served,
        &alone,
        &["import", "-"],
        &lines.replace("zone", "park"),
        true,
    );
    same(
        &served,
        &alone,
        &["import", "no-such-file.jsonl"],
        "",
        false,
    );
    // An input that cannot be read (a directory): the same error, nothing written.
    same(&served, &alone, &["import", "."], "", false);
    same(&served, &alone, &["append", "."], "", false);
    // Issue a plan: stdout and the `issued: seq N` line on stderr.
    let o = same(
        &served,
        &alone,
        &[
            "plan",
            "--month",
            "2022-03",
            "--issue",
            "--issued-on",
            "2022-02-25",
        ],
        "",
        false,
    );
    assert!(
        text(&o.stderr).starts_with("issued: seq "),
        "{}",
        text(&o.stderr)
    );
    // After the writes, the two logs hold the same facts.
    for args in [
        &["position", "--json"][..],
        &["monitor", "--json"][..],
        &["replay", "--json"][..],
        &["verify", "--json"][..],
    ] {
        same(&served, &alone, args, "", true);
    }
    let o = run_in(&served, &["verify", "--json"], "");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["records"], head + 1 + 60 + 1, "{v}");

    // truncate is refused while serving, at once and naming the server.
    let o = run_in(
        &served,
        &["--wait", "0", "truncate", "--after", "5", "--yes"],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.starts_with("error:")
            && err.contains("served by sanbao serve")
            && err.contains(&serve.addr),
        "{err}"
    );
    // The server saw all of it: its head is the CLI's, and HTTP appends still work.
    assert_eq!(serve.head(), head + 62);
    let r = post(
        &serve.addr,
        "/v1/events",
        &officer,
        &json!({"kind":"county_registered","county":"http1","name":"一","registered_on":"2022-02-01"}).to_string(),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(serve.terminate().success());
    assert!(
        !socket.exists(),
        "the socket is removed when the server stops"
    );
    let o = run_in(&served, &["--wait", "0", "verify", "--json"], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn appends_from_the_cli_and_http_at_once_get_contiguous_seqs_and_a_chain_that_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let o = run_in(tmp.path(), &["init"], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let officer = add_token(&dir, "li.wei", "officer");
    let serve = Serve::start(&dir, &[]);
    const EACH: usize = 12;
    let mut threads = Vec::new();
    for t in 0..3 {
        let cwd = tmp.path().to_path_buf();
        threads.push(std::thread::spawn(move || {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                let e = json!({"kind":"county_registered","county":format!("cli{t}x{i}"),"name":"县","registered_on":"2021-01-01"});
                let o = run_in(&cwd, &["append"], &e.to_string());
                assert!(o.status.success(), "{}", text(&o.stderr));
                let ack: Value = serde_json::from_slice(&o.stdout).unwrap();
                seqs.push(ack["seq"].as_u64().unwrap());
            }
            seqs
        }));
    }
    for t in 0..3 {
        let (addr, token) = (serve.addr.clone(), officer.clone());
        threads.push(std::thread::spawn(move || {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                let e = json!({"kind":"county_registered","county":format!("http{t}x{i}"),"name":"县","registered_on":"2021-01-01"});
                let r = post(&addr, "/v1/events", &token, &e.to_string(), &[]);
                assert_eq!(r.status, 201, "{}", r.text());
                seqs.push(r.json()[0]["seq"].as_u64().unwrap());
            }
            seqs
        }));
    }
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    seqs.sort_unstable();
    let n = (6 * EACH) as u64;
    assert_eq!(
        seqs,
        (1..=n).collect::<Vec<u64>>(),
        "gap-free, no seq twice"
    );
    // Through the server and, once it stops, on the files alone.
    let o = run_in(tmp.path(), &["verify", "--json"], "");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["records"].clone()),
        (json!(true), json!(n))
    );
    let mut serve = serve;
    assert!(serve.terminate().success());
    let o = run_in(tmp.path(), &["--wait", "0", "verify", "--json"], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v2: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v, v2);
}

#[test]
fn a_command_stuck_on_its_client_does_not_keep_a_stopping_server_alive() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    assert!(run_in(tmp.path(), &["init"], "").status.success());
    add_token(&dir, "li.wei", "officer");
    let mut serve = Serve::start_with(&dir, &["--shutdown-grace", "1"]);
    // An import whose standard input stays open: it runs in the server, waiting.
    let mut import = Command::new(wire::bin())
        .current_dir(tmp.path())
        .args(["--data", "data", "import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !serve.log().contains("forwarded command started") {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "{}",
            serve.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SIGTERM: one second of grace, then its connection is shut and the server exits.
    let t = std::time::Instant::now();
    assert!(serve.terminate().success(), "{}", serve.log());
    assert!(
        t.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        t.elapsed()
    );
    assert!(
        serve.log().contains("still running after the grace period"),
        "{}",
        serve.log()
    );
    let _stdin = import.stdin.take();
    let out = wire::wait_bounded(&mut import, std::time::Duration::from_secs(60))
        .expect("the client ends when the server shuts its connection");
    assert_eq!(out.code(), Some(1));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut import.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.starts_with("error:") && err.contains("did not answer"),
        "{err}"
    );
    // Nothing was written, and the directory is free.
    let o = run_in(tmp.path(), &["--wait", "0", "verify", "--json"], "");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["records"], 0);
}

#[test]
fn a_server_killed_with_sigkill_leaves_a_stale_socket_the_next_command_ignores() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let o = run_in(tmp.path(), &["demo"], "");
    assert!(o.status.success());
    add_token(&dir, "wang.audit", "auditor");
    let mut serve = Serve::start(&dir, &[]);
    let o = run_in(tmp.path(), &["--wait", "0", "verify", "--json"], "");
    assert!(o.status.success(), "forwarded: {}", text(&o.stderr));
    serve.child.kill().unwrap();
    serve.child.wait().unwrap();
    let socket = dir.join("sanbao.sock");
    assert!(socket.exists(), "SIGKILL leaves the socket file behind");
    // --wait 0: the command does not wait for anything; it runs itself at once.
    let o = run_in(tmp.path(), &["--wait", "0", "verify", "--json"], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let e = json!({"kind":"county_registered","county":"after","name":"县","registered_on":"2022-01-01"});
    let o = run_in(tmp.path(), &["--wait", "0", "append"], &e.to_string());
    assert!(o.status.success(), "{}", text(&o.stderr));
    // A new server replaces the stale socket, and commands go through it again.
    let serve = Serve::start(&dir, &[]);
    let o = run_in(
        tmp.path(),
        &["--wait", "0", "position", "--county", "after"],
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(serve.log().contains("forwarded command"), "{}", serve.log());
    drop(serve);

    // A read-only standby answers reads and refuses writes, naming the primary.
    let standby = Serve::start_with(&dir, &["--read-only", "--primary", "http://primary:8080"]);
    let o = run_in(tmp.path(), &["--wait", "0", "verify"], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let e = json!({"kind":"county_registered","county":"refused","name":"县","registered_on":"2022-01-01"});
    let o = run_in(tmp.path(), &["--wait", "0", "append"], &e.to_string());
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("read-only standby") && err.contains("http://primary:8080"),
        "{err}"
    );
    drop(standby);
}
