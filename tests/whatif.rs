//! What-if (issue 18) through the real binary on the sample city: `plan`, `forecast`
//! and `monitor --with FILE` answer over hypothetical events, checked by the rules as
//! if appended after the head, and write nothing — not in DIR alone, not through a
//! running `serve` that the commands are forwarded to, and not through its routes
//! `POST /v1/plans/{month}/what-if`, `/v1/forecast/what-if`, `/v1/monitor/what-if`.
//!
//! "Nothing written" is checked by hashing every file of DIR before and after. The
//! one file every command rewrites, even a plain read, is `sanbao.lock` (the note of
//! which process holds DIR: command, pid, since); it is compared apart, as a holder
//! note, and every other file must be byte for byte the same.

use crate::common;
use crate::wire;

use common::{code, hashes, one_error_line, run, stderr, stdout};
use serde_json::{json, Value};
use std::path::Path;

/// A directory holding the sample city (`demo`), settled by one plain read (sled
/// tidies its files the first time a loaded log is opened).
/// DIR is `data` under the temporary directory; the what-if files go beside it.
fn sample() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let o = run(&dir, &["demo"], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&dir, &["verify"], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    (tmp, dir)
}

fn json_of(o: &std::process::Output) -> Value {
    assert_eq!(code(o), 0, "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap()
}

fn head(dir: &Path) -> Value {
    json_of(&run(dir, &["verify", "--json"], ""))
}

fn write(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p.display().to_string()
}

fn money(v: &Value) -> i64 {
    let s = v.as_str().unwrap();
    let (y, c) = s.split_once('.').unwrap();
    let neg = y.starts_with('-');
    let c: i64 = c.parse().unwrap();
    let y: i64 = y.trim_start_matches('-').parse().unwrap();
    let m = y * 100 + c;
    if neg {
        -m
    } else {
        m
    }
}

fn county<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["county"] == id)
        .unwrap()
}

const FUNDS: &str = r#"{"kind":"city_funds_received","fund":"general","amount":"1000.00","received_on":"2022-02-25"}"#;

fn revenue() -> Value {
    json!({"kind":"revenue_collected","county":"beigang","amount":"3000000","collected_on":"2022-02-20","category":"tax"})
}

#[test]
fn a_whatif_plan_reflects_the_event_says_hypothetical_and_has_no_hash() {
    let (tmp, dir) = sample();
    let dir = dir.as_path();
    let f = write(tmp.path(), "f.json", &serde_json::from_str(FUNDS).unwrap());
    let plain = json_of(&run(dir, &["plan", "--month", "2022-03", "--json"], ""));
    let what = json_of(&run(
        dir,
        &["plan", "--month", "2022-03", "--json", "--with", &f],
        "",
    ));
    assert_eq!(
        money(&what["city_available"]) - money(&plain["city_available"]),
        100_000,
        "city_available moves by exactly the 1,000.00 supposed received"
    );
    assert_eq!(what["hypothetical"], 1);
    assert!(what.get("plan_sha256").is_none(), "{what}");
    assert!(plain.get("hypothetical").is_none());
    assert!(plain["plan_sha256"].as_str().unwrap().len() == 64);
    assert_eq!(
        what["based_on_seq"].as_u64().unwrap(),
        plain["based_on_seq"].as_u64().unwrap() + 1,
        "computed over the head and the one supposed event after it"
    );
    // The members are the plan's, in the plan's order, with `hypothetical` last.
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let mut expected = keys(&plain);
    expected.retain(|k| k != "plan_sha256");
    expected.push("hypothetical".into());
    let mut got = keys(&what);
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // For people: the title and the query block say it is a what-if.
    let o = run(
        dir,
        &["plan", "--month", "2022-03", "--with", &f, "--lang", "en"],
        "",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("What-if: "), "{text}");
    assert!(text.contains("hypothetical events 1"), "{text}");
    assert!(!text.contains("plan_sha256"), "{text}");
    // A what-if cannot be issued, nor asked at an older seq.
    let o = run(
        dir,
        &["plan", "--month", "2022-03", "--with", &f, "--issue"],
        "",
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = run(
        dir,
        &["plan", "--month", "2022-03", "--with", &f, "--at-seq", "5"],
        "",
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn forecast_and_monitor_reflect_a_hypothetical_event() {
    let (tmp, dir) = sample();
    let dir = dir.as_path();
    let f = write(tmp.path(), "r.json", &json!([revenue()]));
    let plain = json_of(&run(dir, &["forecast", "--from", "2022-03", "--json"], ""));
    let what = json_of(&run(
        dir,
        &["forecast", "--from", "2022-03", "--json", "--with", &f],
        "",
    ));
    assert_eq!(what["hypothetical"], 1);
    let first = |v: &Value| county(&v["counties"], "beigang")["months"][0].clone();
    assert_eq!(
        money(&first(&what)["opening_cash"]) - money(&first(&plain)["opening_cash"]),
        300_000_000,
        "beigang's cash on B holds the 3,000,000.00 supposed collected"
    );
    assert_eq!(
        county(&what["counties"], "jianchang"),
        county(&plain["counties"], "jianchang"),
        "other counties are as they were"
    );

    let plain = json_of(&run(dir, &["monitor", "--json"], ""));
    let what = json_of(&run(dir, &["monitor", "--json", "--with", &f], ""));
    assert_eq!(what["hypothetical"], 1);
    assert!(plain.get("hypothetical").is_none());
    assert_eq!(what["as_of"], plain["as_of"]);
    assert_eq!(
        money(&county(&what["counties"], "beigang")["cash"])
            - money(&county(&plain["counties"], "beigang")["cash"]),
        300_000_000
    );
    // The daily series too.
    let args = |w: bool| {
        let mut a = vec![
            "monitor",
            "--daily",
            "--from",
            "2022-02-15",
            "--to",
            "2022-02-20",
            "--county",
            "beigang",
            "--json",
        ];
        if w {
            a.extend(["--with", f.as_str()]);
        }
        a
    };
    let plain = json_of(&run(dir, &args(false), ""));
    let what = json_of(&run(dir, &args(true), ""));
    assert_eq!(what["hypothetical"], 1);
    assert_ne!(plain, what);
}

#[test]
fn a_refused_hypothetical_event_exits_3_naming_it_and_nothing_is_written() {
    let (tmp, dir) = sample();
    let dir = dir.as_path();
    let before_head = head(dir);
    let before = hashes(dir);
    // Event 1 dispatches far beyond beigang's general entitlement for 2022 (and
    // within what the city holds).
    let bad = json!([
        revenue(),
        {"kind":"transfer_allocated","county":"beigang","fund":"general","fiscal_year":2022,"amount":"900000000","value_date":"2022-02-25"}
    ]);
    let f = write(tmp.path(), "bad.json", &bad);
    for args in [
        vec!["plan", "--month", "2022-03", "--json", "--with", f.as_str()],
        vec!["forecast", "--from", "2022-03", "--with", f.as_str()],
        vec!["monitor", "--with", f.as_str()],
    ] {
        let o = run(dir, &args, "");
        assert_eq!(code(&o), 3, "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty());
        let line = one_error_line(&o);
        assert!(
            line.contains("event 1") && line.contains("amount"),
            "{args:?}: {line}"
        );
    }
    // The same error as append gives for the same batch (which writes nothing either).
    let o = run(dir, &["append", &f], "");
    assert_eq!(code(&o), 3);
    let appended = one_error_line(&o);
    let o = run(dir, &["monitor", "--with", &f], "");
    assert_eq!(one_error_line(&o), appended);
    // Not JSON, an unknown kind, a missing file: errors before anything is computed.
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, "{not json").unwrap();
    let o = run(dir, &["monitor", "--with", junk.to_str().unwrap()], "");
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let o = run(dir, &["monitor", "--with", "/nonexistent/whatif.json"], "");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(one_error_line(&o).contains("--with"));
    // plan execute and plan status read the log as it is: --with is a usage error there.
    let good = write(tmp.path(), "good.json", &revenue());
    for sub in ["execute", "status"] {
        let o = run(
            dir,
            &["plan", "--with", &good, sub, "--month", "2022-03"],
            "",
        );
        assert_eq!(code(&o), 2, "{sub}: {}", stderr(&o));
        assert!(one_error_line(&o).contains("--with"), "{sub}");
    }
    assert_eq!(head(dir), before_head);
    assert_eq!(hashes(dir), before, "no file of DIR changed");
}

#[test]
fn a_whatif_never_changes_the_head_or_any_file_in_dir() {
    let (tmp, dir) = sample();
    let dir = dir.as_path();
    let before_head = head(dir);
    let before = hashes(dir);
    let f = write(
        tmp.path(),
        "many.json",
        &json!([serde_json::from_str::<Value>(FUNDS).unwrap(), revenue()]),
    );
    for args in [
        vec!["plan", "--month", "2022-03", "--json", "--with", f.as_str()],
        vec!["plan", "--month", "2022-04", "--with", f.as_str()],
        vec![
            "forecast",
            "--from",
            "2022-03",
            "--json",
            "--with",
            f.as_str(),
        ],
        vec!["monitor", "--json", "--with", f.as_str()],
    ] {
        let o = run(dir, &args, "");
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        assert_eq!(hashes(dir), before, "{args:?} changed a file of DIR");
    }
    // From standard input too.
    let o = run(
        dir,
        &["plan", "--month", "2022-03", "--json", "--with", "-"],
        FUNDS,
    );
    assert_eq!(json_of(&o)["hypothetical"], 1);
    assert_eq!(hashes(dir), before);
    assert_eq!(head(dir), before_head);
}

#[test]
fn a_whatif_forwarded_to_a_running_server_writes_nothing_and_answers_the_same() {
    let (tmp, dir) = sample();
    let dir = dir.as_path();
    let f = write(
        tmp.path(),
        "served.json",
        &json!([serde_json::from_str::<Value>(FUNDS).unwrap(), revenue()]),
    );
    let asks: Vec<Vec<&str>> = vec![
        vec!["plan", "--month", "2022-03", "--json", "--with", f.as_str()],
        vec![
            "forecast",
            "--from",
            "2022-03",
            "--json",
            "--with",
            f.as_str(),
        ],
        vec!["monitor", "--json", "--with", f.as_str()],
    ];
    let alone: Vec<String> = asks
        .iter()
        .map(|a| {
            let o = run(dir, a, "");
            assert_eq!(code(&o), 0, "{}", stderr(&o));
            stdout(&o)
        })
        .collect();
    let token = wire::add_token(dir, "auditor", "auditor");
    let mut serve = wire::Serve::start_with(dir, &["--snapshot-after", "0"]);
    let head_before = serve.head();
    let before = hashes(dir);
    for (a, want) in asks.iter().zip(&alone) {
        let o = run(dir, a, "");
        assert_eq!(code(&o), 0, "{a:?}: {}", stderr(&o));
        assert_eq!(&stdout(&o), want, "{a:?}: forwarded, the same answer");
    }
    // A refused one, forwarded: exit 3 naming the event.
    let bad = write(
        tmp.path(),
        "served-bad.json",
        &json!({"kind":"transfer_allocated","county":"beigang","fund":"general","fiscal_year":2022,"amount":"900000000","value_date":"2022-02-25"}),
    );
    let o = run(dir, &["monitor", "--with", &bad], "");
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(one_error_line(&o).contains("amount"));

    // Over HTTP, with an auditor's token (a what-if writes nothing, so any role).
    let plain = wire::get(&serve.addr, "/v1/plans/2022-03", &token).json();
    let funds = format!("[{FUNDS}]");
    let r = wire::post(
        &serve.addr,
        "/v1/plans/2022-03/what-if",
        &token,
        &funds,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let what = r.json();
    assert_eq!(what["hypothetical"], 1);
    assert!(what.get("plan_sha256").is_none());
    assert_eq!(
        money(&what["city_available"]) - money(&plain["city_available"]),
        100_000
    );
    let cli: Value = serde_json::from_str(&alone[0]).unwrap();
    let r = wire::post(
        &serve.addr,
        "/v1/plans/2022-03/what-if",
        &token,
        &std::fs::read_to_string(&f).unwrap(),
        &[],
    );
    assert_eq!(r.json(), cli, "HTTP and the command line answer the same");
    let r = wire::post(
        &serve.addr,
        "/v1/forecast/what-if?from=2022-03&months=2",
        &token,
        &revenue().to_string(),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["hypothetical"], 1);
    assert_eq!(r.json()["months"], 2);
    let r = wire::post(
        &serve.addr,
        "/v1/monitor/what-if?as_of=2022-02-20",
        &token,
        &revenue().to_string(),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["hypothetical"], 1);
    // A null member, which the documented Event schema has no room for: 422 naming it.
    let mut with_null = revenue();
    with_null["category"] = Value::Null;
    let r = wire::post(
        &serve.addr,
        "/v1/monitor/what-if",
        &token,
        &with_null.to_string(),
        &[],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "category");
    // Refused: 422 naming the event; a bad parameter: 400; none: 422; no token: 401.
    let r = wire::post(
        &serve.addr,
        "/v1/monitor/what-if",
        &token,
        &format!("[{},{}]", revenue(), std::fs::read_to_string(&bad).unwrap()),
        &[],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"]["index"], 1);
    assert_eq!(r.json()["error"]["field"], "amount");
    let r = wire::post(&serve.addr, "/v1/forecast/what-if", &token, &funds, &[]);
    assert_eq!(r.status, 400, "{}", r.text());
    let r = wire::post(&serve.addr, "/v1/plans/2022-03/what-if", &token, "[]", &[]);
    assert_eq!(r.status, 422, "{}", r.text());
    let r = wire::post(&serve.addr, "/v1/plans/2022-03/what-if", "", &funds, &[]);
    assert_eq!(r.status, 401, "{}", r.text());

    assert_eq!(serve.head(), head_before);
    assert_eq!(
        hashes(dir),
        before,
        "no file of DIR changed under the server"
    );
    assert!(serve.terminate().success());
}
