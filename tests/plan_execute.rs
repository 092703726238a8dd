//! `plan execute` and `plan status` (issue 18) through the real binary, on the sample
//! city with the 2022-03 plan issued: one transfer per funded line, a retry appends
//! nothing (or only what is missing), `--dry-run` writes nothing and prints the same
//! events, the status's sums equal the log, off-plan transfers are listed, and a month
//! without an issued plan is refused (exit 3).

use crate::common;

use common::{code, export, one_error_line, run, stderr, stdout};
use serde_json::{json, Value};
use std::path::Path;

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args, "");
    assert_eq!(code(&o), 0, "sanbao {args:?}: {}", stderr(&o));
    stdout(&o)
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The sample city with the 2022-03 plan issued; answers the plan (JSON) and the
/// `plan_issued` record's seq.
fn sample_with_plan(dir: &Path) -> (Value, u64) {
    ok(dir, &["demo"]);
    let plan: Value = serde_json::from_str(&ok(
        dir,
        &[
            "plan",
            "--month",
            "2022-03",
            "--json",
            "--issue",
            "--issued-on",
            "2022-02-28",
        ],
    ))
    .unwrap();
    let seq = export(dir).last().unwrap()["seq"].as_u64().unwrap();
    (plan, seq)
}

fn cents(v: &Value) -> i64 {
    let s = v.as_str().expect("an amount string");
    let (i, f) = s.split_once('.').unwrap();
    i.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
}

/// The unreversed transfers of the log with this plan_month (no reversals in these
/// tests): their records.
fn transfers_of(dir: &Path, month: &str) -> Vec<Value> {
    export(dir)
        .into_iter()
        .filter(|r| r["event"]["kind"] == "transfer_allocated" && r["event"]["plan_month"] == month)
        .collect()
}

#[test]
fn execute_appends_one_transfer_per_funded_line_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (plan, plan_seq) = sample_with_plan(dir);
    let funded: Vec<&Value> = plan["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| cents(&l["funded"]) > 0)
        .collect();
    assert!(funded.len() > 3, "the sample plan funds several lines");
    let head = export(dir).len();

    // A dry run writes nothing and prints the events, with their keys.
    let dry = lines(&ok(
        dir,
        &["plan", "execute", "--month", "2022-03", "--dry-run"],
    ));
    assert_eq!(export(dir).len(), head, "a dry run writes nothing");
    assert_eq!(dry.len(), funded.len());

    let acks = lines(&ok(dir, &["plan", "execute", "--month", "2022-03"]));
    assert_eq!(acks.len(), funded.len());
    assert!(acks.iter().all(|a| a["duplicate"] == false));
    let records = export(dir);
    assert_eq!(records.len(), head + funded.len());
    let new = &records[head..];
    let reference = format!("plan 2022-03 seq {plan_seq}");
    for ((r, line), d) in new.iter().zip(&funded).zip(&dry) {
        let e = &r["event"];
        assert_eq!(e["kind"], "transfer_allocated");
        assert_eq!(e["county"], line["county"]);
        assert_eq!(e["fund"], line["fund"]);
        assert_eq!(e["fiscal_year"], line["fiscal_year"]);
        assert_eq!(e["amount"], line["funded"]);
        assert_eq!(e["plan_month"], "2022-03");
        assert_eq!(
            e["value_date"], "2022-03-01",
            "default: the month's first day"
        );
        assert_eq!(e["reference"], reference.as_str());
        let key = format!(
            "plan-exec:{plan_seq}:{}:{}:{}",
            line["county"].as_str().unwrap(),
            line["fund"].as_str().unwrap(),
            line["fiscal_year"]
        );
        assert_eq!(r["idempotency_key"], key.as_str());
        // The dry run printed exactly this event, with this key.
        let mut printed = d.clone();
        assert_eq!(printed["idempotency_key"], key.as_str());
        printed.as_object_mut().unwrap().remove("idempotency_key");
        assert_eq!(&printed, e);
    }

    // Again: nothing more, and a dry run has nothing to print.
    let o = run(dir, &["plan", "execute", "--month", "2022-03"], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("already recorded"), "{}", stderr(&o));
    assert_eq!(export(dir).len(), head + funded.len());
    assert_eq!(
        ok(dir, &["plan", "execute", "--month", "2022-03", "--dry-run"]),
        ""
    );
    // Even with another value date: the lines are recorded, so nothing is paid twice.
    ok(
        dir,
        &[
            "plan",
            "execute",
            "--month",
            "2022-03",
            "--value-date",
            "2022-03-05",
        ],
    );
    assert_eq!(export(dir).len(), head + funded.len());
}

#[test]
fn a_retry_appends_only_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sample_with_plan(dir);
    let dry = lines(&ok(
        dir,
        &["plan", "execute", "--month", "2022-03", "--dry-run"],
    ));
    // One line was already recorded (by hand, with the key execute gives it).
    common::append_ok(dir, &dry[0]);
    let head = export(dir).len();
    let acks = lines(&ok(dir, &["plan", "execute", "--month", "2022-03"]));
    assert_eq!(acks.len(), dry.len() - 1);
    let records = export(dir);
    assert_eq!(records.len(), head + dry.len() - 1);
    let status: Value = serde_json::from_str(&ok(
        dir,
        &["plan", "status", "--month", "2022-03", "--json"],
    ))
    .unwrap();
    assert_eq!(status["total_remaining"], "0.00");
    assert_eq!(status["total_over_plan"], "0.00");
}

#[test]
fn status_sums_equal_the_log_and_off_plan_transfers_are_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (plan, plan_seq) = sample_with_plan(dir);

    // Before executing: everything remains.
    let s: Value = serde_json::from_str(&ok(
        dir,
        &["plan", "status", "--month", "2022-03", "--json"],
    ))
    .unwrap();
    assert_eq!(s["plan_seq"], plan_seq);
    assert_eq!(s["total_dispatched"], "0.00");
    assert_eq!(s["total_remaining"], plan["total_funded"]);

    ok(dir, &["plan", "execute", "--month", "2022-03"]);
    let s: Value = serde_json::from_str(&ok(
        dir,
        &["plan", "status", "--month", "2022-03", "--json"],
    ))
    .unwrap();
    assert_eq!(
        s["lines"].as_array().unwrap().len(),
        plan["lines"].as_array().unwrap().len()
    );
    for l in s["lines"].as_array().unwrap() {
        assert_eq!(l["remaining"], "0.00", "{l}");
        assert_eq!(l["over_plan"], "0.00", "{l}");
        assert_eq!(l["dispatched"], l["funded"], "{l}");
    }
    assert_eq!(s["off_plan"], json!([]));
    let logged: i64 = transfers_of(dir, "2022-03")
        .iter()
        .map(|r| cents(&r["event"]["amount"]))
        .sum();
    assert_eq!(cents(&s["total_dispatched"]), logged);
    assert_eq!(cents(&s["total_funded"]), cents(&plan["total_funded"]));

    // Beyond its line: refused (exit 3, naming the amount), nothing written …
    let beyond_line = json!({"kind":"transfer_allocated","county":"beigang","fund":"general",
        "fiscal_year":2022,"amount":"10.00","value_date":"2022-03-10","plan_month":"2022-03"});
    let before = export(dir).len();
    let o = run(dir, &["append"], &beyond_line.to_string());
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(
        line.contains("amount") && line.contains("off_plan_reason"),
        "{line}"
    );
    assert_eq!(export(dir).len(), before);
    // … unless it says why; and a month with no issued plan is accepted, off plan.
    let mut with_reason = beyond_line.clone();
    with_reason["off_plan_reason"] = json!("防汛救灾急需");
    let acks = common::append_ok(
        dir,
        &json!([
            with_reason,
            {"kind":"transfer_allocated","county":"beigang","fund":"general","fiscal_year":2022,
             "amount":"5.00","value_date":"2022-03-10","plan_month":"2022-06"}
        ]),
    );
    assert_eq!(
        export(dir)[before]["event"]["off_plan_reason"],
        "防汛救灾急需"
    );
    let (beyond, unplanned) = (acks[0]["seq"].clone(), acks[1]["seq"].clone());
    let s: Value = serde_json::from_str(&ok(
        dir,
        &["plan", "status", "--month", "2022-03", "--json"],
    ))
    .unwrap();
    let line = s["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["county"] == "beigang" && l["fund"] == "general")
        .unwrap();
    assert_eq!(line["over_plan"], "10.00");
    assert_eq!(line["remaining"], "0.00");
    assert_eq!(s["total_over_plan"], "10.00");
    assert_eq!(s["off_plan"].as_array().unwrap().len(), 1);
    assert_eq!(s["off_plan"][0]["seq"], beyond);
    assert_eq!(s["off_plan"][0]["why"], "beyond_line");
    assert_eq!(s["off_plan"][0]["off_plan_reason"], "防汛救灾急需");
    let logged: i64 = transfers_of(dir, "2022-03")
        .iter()
        .map(|r| cents(&r["event"]["amount"]))
        .sum();
    assert_eq!(cents(&s["total_dispatched"]), logged);

    let s: Value = serde_json::from_str(&ok(
        dir,
        &["plan", "status", "--month", "2022-06", "--json"],
    ))
    .unwrap();
    assert_eq!(s["plan_seq"], Value::Null);
    assert_eq!(s["lines"], json!([]));
    assert_eq!(s["total_dispatched"], "5.00");
    assert_eq!(
        s["off_plan"],
        json!([{"seq":unplanned,"county":"beigang","fund":"general","fiscal_year":2022,
                "amount":"5.00","plan_month":"2022-06","why":"no_issued_plan",
                "off_plan_reason":null}])
    );

    // For people: the report model's table with the totals and the off-plan list, in
    // the user's language.
    let people = |lang: &str| {
        let o = std::process::Command::new(common::bin())
            .arg("--data")
            .arg(dir)
            .args(["plan", "status", "--month", "2022-03"])
            .env("SANBAO_LANG", lang)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let en = people("en");
    assert!(
        en.contains("beyond its line") && en.contains("total funded"),
        "{en}"
    );
    let zh = people("zh");
    for w in [
        "调度计划执行情况",
        "计划外调拨",
        "超出计划安排数",
        "财力性资金",
        "北港工业区",
    ] {
        assert!(zh.contains(w), "{w}: {zh}");
    }
    assert!(zh.contains("合计：计划安排数"), "{zh}");
}

#[test]
fn execute_without_an_issued_plan_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(dir, &["demo"]);
    let head = export(dir).len();
    let o = run(dir, &["plan", "execute", "--month", "2022-03"], "");
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(line.contains("no plan of 2022-03 is issued"), "{line}");
    assert_eq!(export(dir).len(), head);
    // Plain `plan` is unchanged, and needs --month.
    assert!(ok(dir, &["plan", "--month", "2022-03", "--json"]).contains("plan_sha256"));
    assert_eq!(code(&run(dir, &["plan"], "")), 2);
    assert_eq!(code(&run(dir, &["plan", "execute"], "")), 2);
}

use crate::wire;

#[test]
fn over_http_and_through_a_running_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (plan, plan_seq) = sample_with_plan(&dir);
    let funded = plan["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| cents(&l["funded"]) > 0)
        .count();
    let tokens = wire::RoleTokens::add(&dir);
    let mut server = wire::Serve::start(&dir, &[]);
    let addr = server.addr.clone();
    let path = "/v1/plans/2022-03/execute";

    // Only an officer executes; an auditor reads the status.
    let r = wire::post(&addr, path, &tokens.auditor, "{}", &[]);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = wire::post(&addr, path, &tokens.officer, r#"{"dry_run":true}"#, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let dry = r.json();
    assert_eq!(dry["plan_seq"], plan_seq);
    assert_eq!(dry["events"].as_array().unwrap().len(), funded);
    assert_eq!(dry["dry_run"], true);
    let head = server.head();

    // The CLI, forwarded to the server, prints the same events for its dry run.
    let cli_dry = lines(&ok(
        &dir,
        &["plan", "execute", "--month", "2022-03", "--dry-run"],
    ));
    assert_eq!(&Value::Array(cli_dry), &dry["events"]);
    assert_eq!(server.head(), head, "dry runs write nothing");

    let r = wire::post(&addr, path, &tokens.officer, "{}", &[]);
    assert_eq!(r.status, 201, "{}", r.text());
    let acks = r.json();
    assert_eq!(acks.as_array().unwrap().len(), funded);
    assert_eq!(acks[0]["seq"], head + 1);
    assert_eq!(server.head(), head + funded as u64);
    let records = export_over(&addr, &tokens.auditor);
    for (r, e) in records[head as usize..]
        .iter()
        .zip(dry["events"].as_array().unwrap())
    {
        let mut e = e.clone();
        let key = e
            .as_object_mut()
            .unwrap()
            .remove("idempotency_key")
            .unwrap();
        assert_eq!(r["event"], e);
        assert_eq!(r["idempotency_key"], key);
    }
    // Again, over HTTP and from the CLI: nothing more.
    let r = wire::post(&addr, path, &tokens.officer, "{}", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["already_recorded"], funded);
    assert_eq!(r.json()["dry_run"], false);
    assert_eq!(r.json()["events"], json!([]));
    assert_eq!(ok(&dir, &["plan", "execute", "--month", "2022-03"]), "");
    assert_eq!(server.head(), head + funded as u64);

    let status = wire::get(&addr, "/v1/plans/2022-03/status", &tokens.auditor);
    assert_eq!(status.status, 200, "{}", status.text());
    let s = status.json();
    assert_eq!(s["total_remaining"], "0.00");
    assert_eq!(s["total_dispatched"], plan["total_funded"]);
    let cli: Value = serde_json::from_str(&ok(
        &dir,
        &["plan", "status", "--month", "2022-03", "--json"],
    ))
    .unwrap();
    assert_eq!(cli, s, "the CLI through the server answers the same");

    let r = wire::post(
        &addr,
        "/v1/plans/2022-04/execute",
        &tokens.officer,
        "{}",
        &[],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let r = wire::post(
        &addr,
        path,
        &tokens.officer,
        r#"{"value_date":"2022-02-30"}"#,
        &[],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let r = wire::post(&addr, path, &tokens.officer, r#"{"nope":1}"#, &[]);
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(server.head(), head + funded as u64);
    server.terminate();
}

/// Every record, through `GET /v1/events`.
fn export_over(addr: &str, token: &str) -> Vec<Value> {
    wire::all_records(addr, token)
}

#[test]
fn reversed_transfers_count_nowhere_and_a_line_the_plan_lacks_is_off_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sample_with_plan(dir);
    let acks = lines(&ok(dir, &["plan", "execute", "--month", "2022-03"]));
    let first = acks[0]["seq"].as_u64().unwrap();
    let first_event = export(dir)[first as usize - 1]["event"].clone();
    // A line the plan lacks is a line of 0: a transfer on it needs its reason.
    common::append_ok(
        dir,
        &json!([
            {"kind":"event_reversed","reverses_seq":first,"reason":"returned","on":"2022-03-02"},
            {"kind":"allocation_notified","county":"beigang","fund":"in_execution","fiscal_year":2022,
             "program":"p","amount":"100.00","notified_on":"2022-03-02"},
            {"kind":"transfer_allocated","county":"beigang","fund":"in_execution","fiscal_year":2022,
             "amount":"100.00","value_date":"2022-03-03","plan_month":"2022-03",
             "off_plan_reason":"计划下达后新增补助"}
        ]),
    );
    let head = export(dir).len() as u64;
    let s: Value = serde_json::from_str(&ok(
        dir,
        &["plan", "status", "--month", "2022-03", "--json"],
    ))
    .unwrap();
    let line = s["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["county"] == first_event["county"] && l["fund"] == first_event["fund"])
        .unwrap();
    assert_eq!(line["dispatched"], "0.00");
    assert_eq!(line["remaining"], first_event["amount"]);
    assert_eq!(s["total_remaining"], first_event["amount"]);
    assert_eq!(
        s["off_plan"],
        json!([{"seq":head,"county":"beigang","fund":"in_execution","fiscal_year":2022,
                "amount":"100.00","plan_month":"2022-03","why":"no_line",
                "off_plan_reason":"计划下达后新增补助"}])
    );
    // Dispatched on lines plus off the lines' covering is the log's unreversed sum.
    let logged: i64 = transfers_of(dir, "2022-03")
        .iter()
        .filter(|r| r["seq"] != first)
        .map(|r| cents(&r["event"]["amount"]))
        .sum();
    assert_eq!(cents(&s["total_dispatched"]), logged);
    // The reversed line's key is in the log: execute does not pay it again.
    ok(dir, &["plan", "execute", "--month", "2022-03"]);
    assert_eq!(export(dir).len() as u64, head);
}

#[test]
fn execute_pays_what_remains_of_a_line_paid_in_part_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (plan, _) = sample_with_plan(dir);
    let line = plan["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| cents(&l["funded"]) > 1000)
        .unwrap()
        .clone();
    let part = format!("{}.{:02}", cents(&line["funded"]) / 200, 0);
    common::append_ok(
        dir,
        &json!({"kind":"transfer_allocated","county":line["county"],"fund":line["fund"],
                "fiscal_year":line["fiscal_year"],"amount":part,"value_date":"2022-03-02",
                "plan_month":"2022-03"}),
    );
    let acks = lines(&ok(dir, &["plan", "execute", "--month", "2022-03"]));
    let records = export(dir);
    let paid = records
        .iter()
        .rev()
        .take(acks.len())
        .find(|r| r["event"]["county"] == line["county"] && r["event"]["fund"] == line["fund"])
        .expect("the line is paid the rest");
    assert_eq!(
        cents(&paid["event"]["amount"]) + cents(&json!(part)),
        cents(&line["funded"])
    );
    let s: Value = serde_json::from_str(&ok(
        dir,
        &["plan", "status", "--month", "2022-03", "--json"],
    ))
    .unwrap();
    assert_eq!(s["total_remaining"], "0.00");
    assert_eq!(s["total_over_plan"], "0.00");
    assert_eq!(s["off_plan"], json!([]));
}

/// SIGKILL at a spread of moments during `plan execute`: afterwards the month's
/// transfers are either none or the whole batch (one atomic batch), the log
/// verifies, and running it again completes it with each line paid once.
#[test]
fn a_killed_execute_leaves_none_or_all_and_a_rerun_completes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().join("template");
    let (plan, _) = sample_with_plan(&template);
    ok(&template, &["verify"]);
    let funded = plan["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| cents(&l["funded"]) > 0)
        .count();
    for (round, delay_ms) in [0u64, 2, 5, 10, 20, 40, 80, 160].into_iter().enumerate() {
        let dir = tmp.path().join(format!("round-{round}"));
        wire::copy_dir(&template, &dir);
        let mut child = std::process::Command::new(common::bin())
            .arg("--data")
            .arg(&dir)
            .args(["plan", "execute", "--month", "2022-03"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        let o = run(&dir, &["verify"], "");
        assert_eq!(code(&o), 0, "round {round}: {}", stderr(&o));
        let n = transfers_of(&dir, "2022-03").len();
        assert!(
            n == 0 || n == funded,
            "round {round}: {n} of {funded} transfers after a kill"
        );
        ok(&dir, &["plan", "execute", "--month", "2022-03"]);
        assert_eq!(transfers_of(&dir, "2022-03").len(), funded, "round {round}");
        let s: Value = serde_json::from_str(&ok(
            &dir,
            &["plan", "status", "--month", "2022-03", "--json"],
        ))
        .unwrap();
        assert_eq!(s["total_remaining"], "0.00", "round {round}");
        assert_eq!(s["total_over_plan"], "0.00", "round {round}");
    }
}
