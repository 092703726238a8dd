//! The planner through the real binary on a temporary data directory: `plan`,
//! `plan --issue` (appends `plan_issued`; the write side then refuses a hash that does
//! not reproduce, exit 3), `--at-seq` bounds (exit 2), and `forecast`.

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn sanbao(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sanbao"))
        .arg("--data")
        .arg(dir)
        .args(args)
        .env_remove("SANBAO_DATA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sanbao");
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("sanbao finishes")
}

fn ok(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let out = sanbao(dir, args, stdin);
    assert!(
        out.status.success(),
        "sanbao {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn records(dir: &Path) -> Vec<Value> {
    let out = ok(dir, &["export"], None);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const HISTORY: &str = r#"[
{"kind":"county_registered","county":"a","name":"甲县","registered_on":"2020-12-31","opening_treasury":"1000"},
{"kind":"county_registered","county":"b","name":"乙县","registered_on":"2020-12-31"},
{"kind":"city_funds_received","fund":"general","amount":"150","received_on":"2020-12-31"},
{"kind":"allocation_notified","county":"a","fund":"general","fiscal_year":2021,"program":"p","amount":"1200","notified_on":"2021-01-04"},
{"kind":"allocation_notified","county":"b","fund":"general","fiscal_year":2021,"program":"p","amount":"1200","notified_on":"2021-01-04"},
{"kind":"allocation_notified","county":"b","fund":"direct","fiscal_year":2021,"program":"p","amount":"20","notified_on":"2021-01-04"},
{"kind":"needs_budgeted","county":"a","fiscal_year":2021,"category":"wages","amount":"24000","budgeted_on":"2021-01-08"},
{"kind":"wage_bill_declared","county":"a","payroll_month":"2021-02","amount":"2000","payday":"2021-02-15","declared_on":"2021-01-18"}
]"#;

#[test]
fn plan_issue_appends_plan_issued_and_a_wrong_hash_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(dir, &["append", "-"], Some(HISTORY));

    // A plan for people: tables, no colour when stdout is not a terminal.
    let out = ok(dir, &["plan", "--month", "2021-02"], None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Dispatch plan for 2021-02"), "{text}");
    assert!(text.contains("in_execution"), "{text}");
    assert!(!text.contains('\x1b'), "no ANSI codes when piped");

    // JSON: the city has 150 for direct 20 + general 2 × floor_cent(1200 / 11):
    // general shares the 130 left.
    let p = json_of(&ok(dir, &["plan", "--month", "2021-02", "--json"], None));
    assert_eq!(p["based_on_seq"], 8);
    assert_eq!(p["city_available"], "150.00");
    assert_eq!(p["total_planned"], "238.18");
    assert_eq!(p["total_funded"], "150.00");
    assert_eq!(p["tiers"][0]["funded"], "20.00");
    assert_eq!(p["tiers"][1]["funded"], "130.00");
    assert_eq!(
        p["counties"][0]["payroll"]["deposit_deadline"],
        "2021-02-08"
    );

    // --issue prints the plan, appends plan_issued and names its seq on stderr.
    let out = ok(
        dir,
        &[
            "plan",
            "--month",
            "2021-02",
            "--json",
            "--issue",
            "--issued-on",
            "2021-01-31",
        ],
        None,
    );
    let issued = json_of(&out);
    assert_eq!(issued, p, "the issued plan is the same plan");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim(), "issued: seq 9");
    let recs = records(dir);
    assert_eq!(recs.len(), 9);
    let ev = &recs[8]["event"];
    assert_eq!(ev["kind"], "plan_issued");
    assert_eq!(ev["month"], "2021-02");
    assert_eq!(ev["based_on_seq"], 8);
    assert_eq!(ev["issued_on"], "2021-01-31");
    assert_eq!(ev["plan_sha256"], p["plan_sha256"]);

    // A plan_issued whose hash does not reproduce: invalid event, exit 3, nothing written.
    let wrong = format!(
        r#"{{"kind":"plan_issued","month":"2021-02","based_on_seq":8,"plan_sha256":"{}","issued_on":"2021-01-31"}}"#,
        "0".repeat(64)
    );
    let out = sanbao(dir, &["append", "-"], Some(&wrong));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error:") && err.contains("plan_sha256"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    // The right hash for the wrong month is just as wrong.
    let other_month = format!(
        r#"{{"kind":"plan_issued","month":"2021-03","based_on_seq":8,"plan_sha256":"{}","issued_on":"2021-01-31"}}"#,
        p["plan_sha256"].as_str().unwrap()
    );
    assert_eq!(
        sanbao(dir, &["append", "-"], Some(&other_month))
            .status
            .code(),
        Some(3)
    );
    assert_eq!(records(dir).len(), 9, "nothing written");

    // The right hash appended by hand, at a past seq (the head is now 9): accepted.
    let right = format!(
        r#"{{"kind":"plan_issued","month":"2021-02","based_on_seq":8,"plan_sha256":"{}","issued_on":"2021-02-01"}}"#,
        p["plan_sha256"].as_str().unwrap()
    );
    ok(dir, &["append", "-"], Some(&right));
    assert_eq!(records(dir).len(), 10);

    // --issue with --at-seq: based_on_seq is N.
    let out = ok(
        dir,
        &[
            "plan",
            "--month",
            "2021-01",
            "--at-seq",
            "3",
            "--json",
            "--issue",
            "--issued-on",
            "2021-01-01",
        ],
        None,
    );
    let p3 = json_of(&out);
    assert_eq!(p3["based_on_seq"], 3);
    assert_eq!(p3["lines"].as_array().unwrap().len(), 0);
    let recs = records(dir);
    assert_eq!(recs[10]["event"]["based_on_seq"], 3);
    assert_eq!(recs[10]["event"]["plan_sha256"], p3["plan_sha256"]);
    assert_eq!(
        String::from_utf8(out.stderr).unwrap().trim(),
        "issued: seq 11"
    );

    // Plans issued into the log do not change the plan of the same month at seq 8.
    let again = json_of(&ok(
        dir,
        &["plan", "--month", "2021-02", "--at-seq", "8", "--json"],
        None,
    ));
    assert_eq!(again, p);
}

#[test]
fn at_seq_beyond_the_head_is_a_usage_error_and_forecast_works() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(dir, &["append", "-"], Some(HISTORY));
    for args in [
        &["plan", "--month", "2021-02", "--at-seq", "9"][..],
        &["forecast", "--from", "2021-02", "--at-seq", "99"][..],
    ] {
        let out = sanbao(dir, args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8(out.stderr).unwrap().starts_with("error:"));
    }
    // --issued-on needs --issue.
    assert_eq!(
        sanbao(
            dir,
            &["plan", "--month", "2021-02", "--issued-on", "2021-01-01"],
            None
        )
        .status
        .code(),
        Some(2)
    );

    let f = json_of(&ok(dir, &["forecast", "--from", "2021-02", "--json"], None));
    assert_eq!(f["from"], "2021-02");
    assert_eq!(f["months"], 3);
    assert_eq!(f["based_on_seq"], 8);
    let a = &f["counties"][0];
    assert_eq!(a["county"], "a");
    let months: Vec<&str> = a["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["month"].as_str().unwrap())
        .collect();
    assert_eq!(months, ["2021-02", "2021-03", "2021-04"]);
    // February: opening 1000 + general 109.09 (no pro rata in a forecast) − wages 2000.
    let feb = &a["months"][0];
    assert_eq!(feb["opening_cash"], "1000.00");
    assert_eq!(feb["funded_in"], "109.09");
    assert_eq!(feb["wage_need"], "2000.00");
    assert_eq!(feb["projected_end"], "-890.91");
    assert_eq!(feb["wage_cover"], "0.5545");
    assert_eq!(feb["risk"], "high");
    assert_eq!(a["months"][1]["opening_cash"], "-890.91");
    // b has no wage need: cover null, risk low.
    assert_eq!(f["counties"][1]["months"][0]["wage_cover"], Value::Null);
    assert_eq!(f["counties"][1]["months"][0]["risk"], "low");

    let out = ok(
        dir,
        &["forecast", "--from", "2021-02", "--months", "2"],
        None,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("2021-02 … 2021-03"), "{text}");
    assert!(text.contains("High risk"), "{text}");
}

/// The first month the SPEC allows, 2000-01, is planned from 1999-12-31 (a basis
/// before any date an event may carry): an empty plan, issued and reproduced, never
/// a panic (schemathesis found `GET /v1/plans/2000-01` answering 503).
#[test]
fn the_first_month_plans_from_a_basis_before_any_event_and_reproduces() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ok(&dir, &["append"], Some(HISTORY));
    let plan = json_of(&ok(&dir, &["plan", "--month", "2000-01", "--json"], None));
    assert_eq!(plan["basis_date"], "1999-12-31");
    assert_eq!(plan["total_funded"], "0.00");
    ok(
        &dir,
        &[
            "plan",
            "--month",
            "2000-01",
            "--issue",
            "--issued-on",
            "2000-01-01",
        ],
        None,
    );
    let out = json_of(&ok(&dir, &["replay", "--json"], None));
    assert_eq!(out["plans"][0]["month"], "2000-01");
    assert_eq!(out["plans"][0]["reproduced"], true);
    ok(&dir, &["forecast", "--from", "2000-01", "--json"], None);
}
