//! Operating sanbao (issue 14): a command on a directory another command holds says
//! at once who holds it and gives up after `--wait` (exit 1, one `error:` line),
//! while one on a served directory goes through the server (more in
//! `beside_server.rs`); `status` describes a free and a held directory without
//! waiting; `token list` and `token remove`; `import -` reads standard input.

use crate::common;
use crate::wire;

use serde_json::Value;
use std::time::{Duration, Instant};
use wire::*;

#[test]
fn a_served_directory_is_described_and_its_commands_go_through_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::append_ok(&dir, &common::small_history());
    let auditor = add_token(&dir, "wang.audit", "auditor");
    add_token(&dir, "li.wei", "officer");

    // Free: status opens it and tells the head and the witness.
    let o = run(&dir, &["status", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["held_by"], Value::Null);
    assert_eq!(v["head_seq"], 5);
    assert_eq!(v["witness"]["seq"], 5);
    assert!(v["disk_free_bytes"].as_u64().unwrap() > 0);

    let mut serve = Serve::start(&dir, &[]);
    let pid = serve.child.id();
    // Held by the server: status answers at once, naming it and its head.
    let o = run(&dir, &["status", "--json"]);
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["held_by"]["pid"], pid);
    assert_eq!(v["held_by"]["kind"], "server");
    assert_eq!(v["held_by"]["socket"], true, "commands go through it");
    assert_eq!(v["held_by"]["url"], format!("http://{}", serve.addr));
    assert_eq!(v["head_seq"], 5);

    // A command on the served directory goes through the server, at once.
    let o = run(&dir, &["--wait", "0", "verify", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["records"],
        5
    );

    // token list needs no lock; token remove takes effect at the next request.
    let o = run(&dir, &["token", "list", "--json"]);
    let names: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["wang.audit", "li.wei"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("sbt_"));
    assert_eq!(get(&serve.addr, "/v1/verify", &auditor).status, 200);
    let o = run(&dir, &["token", "remove", "--name", "wang.audit"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(get(&serve.addr, "/v1/verify", &auditor).status, 401);
    let o = run(&dir, &["token", "remove", "--name", "nobody"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(serve.terminate().success());

    // Killed holders release the lock: the next command works at once.
    let mut serve = Serve::start(&dir, &[]);
    serve.child.kill().unwrap();
    serve.child.wait().unwrap();
    let o = run(&dir, &["--wait", "0", "verify", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_directory_held_by_a_command_names_it_and_the_next_gives_up_after_wait() {
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::append_ok(&dir, &common::small_history());
    // A long import: it reads standard input, which stays open until we close it.
    let mut holder = Command::new(bin())
        .arg("--data")
        .arg(&dir)
        .args(["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = holder.id();
    let start = Instant::now();
    loop {
        let o = run(&dir, &["status", "--json"]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        if v["held_by"]["pid"] == pid {
            assert_eq!(v["held_by"]["kind"], "cli");
            assert_eq!(v["held_by"]["command"], "sanbao import -");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the import never held the directory"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Another command says at once who holds it, waits --wait seconds, then exit 1.
    let t = Instant::now();
    let o = run(&dir, &["--wait", "1", "verify", "--json"]);
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("waiting for") && lines[0].contains(&pid.to_string()),
        "{err}"
    );
    assert!(
        lines[1].starts_with("error:") && lines[1].contains("sanbao import -"),
        "{err}"
    );
    // truncate is not refused as "served": a command holds it, so it waits like the rest.
    let o = run(&dir, &["--wait", "0", "truncate", "--after", "2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("served by"));
    // Once the import ends, the directory is free again.
    let one = common::small_history()[0].clone();
    let mut one = one;
    one["county"] = serde_json::json!("xingcheng");
    {
        use std::io::Write;
        let mut stdin = holder.stdin.take().unwrap();
        writeln!(stdin, "{one}").unwrap();
    }
    let out = holder.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("imported 1 events"));
    let o = run(&dir, &["--wait", "0", "verify", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn import_reads_standard_input() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let lines: String = common::small_history()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.to_string() + "\n")
        .collect();
    let o = common::run(&dir, &["import", "-"], &lines);
    assert_eq!(common::code(&o), 0, "{}", common::stderr(&o));
    assert_eq!(common::export(&dir).len(), 5);
}
