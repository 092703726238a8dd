//! The auditor's chain check printed in README ("An auditor's own chain check"),
//! taken from README itself and run with `python3` on an export that holds records
//! of v1's shape (no `recorded_by`, imported as exported) and contract v2's (with
//! `recorded_by`: `local` from the command line, a user's name from the server). It
//! must pass unchanged, end on the head hash `verify` reports, and fail on a record
//! whose `recorded_by` was altered.

use crate::common;
use crate::wire;

use common::{code, run, stderr, stdout};
use sanbao::record::{Record, GENESIS};
use serde_json::{json, Value};
use std::path::Path;

/// The Python block under README's "An auditor's own chain check".
fn readme_script() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let at = readme
        .find("### An auditor's own chain check")
        .expect("README has the auditor's section");
    let rest = &readme[at..];
    let start = rest.find("```python\n").expect("a python block") + "```python\n".len();
    let end = start + rest[start..].find("```").unwrap();
    rest[start..end].to_string()
}

fn check(script: &Path, export: &Path) -> std::process::Output {
    std::process::Command::new("python3")
        .arg(script)
        .arg(export)
        .output()
        .expect("python3 runs")
}

#[test]
fn the_readme_chain_check_passes_on_v1_and_v2_records_and_catches_an_altered_recorded_by() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");

    // Ten records of v1's shape: built without recorded_by, imported as exported.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("replay/sample-city/events.jsonl"),
    )
    .unwrap();
    let mut prev = GENESIS;
    let mut v1 = String::new();
    for (i, line) in text.lines().take(10).enumerate() {
        let e = sanbao::event::parse_input(line).unwrap().1.remove(0).event;
        let r = Record::new(
            i as u64 + 1,
            1_609_459_200_000_000 + i as i64,
            None,
            prev,
            e,
        );
        prev = r.hash;
        v1.push_str(&r.to_json_line());
        v1.push('\n');
    }
    let old = tmp.path().join("v1.jsonl");
    std::fs::write(&old, v1).unwrap();
    let o = run(&dir, &["import", old.to_str().unwrap()], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The rest of the sample city from the command line (recorded_by local) …
    let rest: String = text.lines().skip(10).map(|l| format!("{l}\n")).collect();
    let o = run(&dir, &["import", "-"], &rest);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // … and one event through the server (recorded_by the officer's name).
    let tokens = wire::RoleTokens::add(&dir);
    let mut server = wire::Serve::start(&dir, &[]);
    let r = wire::post(
        &server.addr,
        "/v1/events",
        &tokens.officer,
        &json!({"kind":"revenue_collected","county":"beigang","amount":"1.00","collected_on":"2022-03-01"})
            .to_string(),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    server.terminate();

    let export = tmp.path().join("export.jsonl");
    let o = run(&dir, &["export", "--out", export.to_str().unwrap()], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let records: Vec<Value> = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(records[..10].iter().all(|r| r.get("recorded_by").is_none()));
    assert_eq!(records[10]["recorded_by"], "local");
    assert_eq!(records.last().unwrap()["recorded_by"], "li.wei");

    let script = tmp.path().join("chain.py");
    std::fs::write(&script, readme_script()).unwrap();
    let o = check(&script, &export);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let verify: Value =
        serde_json::from_str(&stdout(&run(&dir, &["verify", "--json"], ""))).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!(
            "ok {} {}",
            records.len(),
            verify["head_hash"].as_str().unwrap()
        )
    );

    // Who recorded a record is inside its hash: naming another user breaks it.
    let mut altered = records.clone();
    altered[10]["recorded_by"] = json!("someone.else");
    let lines: String = altered.iter().map(|r| format!("{r}\n")).collect();
    let bad = tmp.path().join("altered.jsonl");
    std::fs::write(&bad, lines).unwrap();
    let o = check(&script, &bad);
    assert!(!o.status.success(), "an altered recorded_by passed");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("AssertionError: 11"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
