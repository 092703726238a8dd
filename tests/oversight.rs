//! The year's oversight (issue 19) through the real binary, over the small history
//! `replay/oversight/` (four counties, January to June 2021, written by its
//! `generate.py` so that every flag and the veto appear): 预算再审核 (`review
//! budget`), 财政可承受能力评估 (`policy_proposed`, `assess`, `assessment_decided`),
//! 一县一策 (`response_plan_filed`, monitor's `response_plans`), 限制性措施 (monitor's
//! `restrictions` and the ack's `warnings`), 考核 (`scorecard`), the new events' rules,
//! and the papers of the three commands.
//!
//! Every figure asserted is worked out by hand in the comments beside it, from the
//! events of `replay/oversight/generate.py` (seq N = line N of its events.jsonl).

use crate::common;

use common::{code, one_error_line, run, stderr, stdout};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn history() -> Vec<String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("replay/oversight/events.jsonl");
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Imports lines `..n` of the history into a fresh directory.
fn imported(n: usize) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("data");
    let file = t.path().join("events.jsonl");
    std::fs::write(&file, history()[..n].join("\n") + "\n").unwrap();
    let o = run(&dir, &["import", file.to_str().unwrap()], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    (t, dir)
}

/// The whole history, imported.
fn city() -> (tempfile::TempDir, PathBuf) {
    imported(history().len())
}

fn json_of(dir: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let o = run(dir, &a, "");
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn county<'a>(rows: &'a Value, id: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["county"] == id)
        .unwrap_or_else(|| panic!("no row of {id} in {rows}"))
}

#[test]
fn monitor_lists_response_plans_pending_assessments_and_restrictions_of_the_watch_list() {
    let (_t, d) = city();
    let m = json_of(&d, &["monitor"]);
    assert_eq!(m["as_of"], "2021-06-30");
    // On 06-30: 乙县 bb is at warning — cash 5,000 (treasury 400,000 − 10,000 (2020)
    // + 110,000 − 6 × (60,000 deposited + 20,000 livelihood) − 15,000 other; the
    // reserve is empty), outflow Apr–Jun 3 × 80,000 + 15,000 = 255,000, avg 85,000,
    // level 0.0588 < 0.3. 丙县 cc is in arrears (June's 50,000 bill, 40,000 paid). 丁县
    // dd has 50,000 direct funds notified 06-01 and never dispatched, and a treasury
    // report of 1.00 against 480,000. 甲县 aa (level 10.6) is not watched.
    let watched: Vec<&str> = m["watchlist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["county"].as_str().unwrap())
        .collect();
    assert_eq!(watched, ["bb", "cc", "dd"]);
    assert_eq!(county(&m["counties"], "bb")["guarantee_level"], "0.0588");
    assert_eq!(county(&m["counties"], "bb")["status"], "warning");

    // 一县一策: bb's plan (seq 15) runs 03-01..12-31: filed; cc's (seq 14) ended
    // 03-31: expired; dd never filed: missing.
    assert_eq!(
        m["response_plans"],
        json!([
            {"county":"bb","status":"filed","seq":15,"filed_on":"2021-03-01","valid_until":"2021-12-31","reference":"乙财〔2021〕3号"},
            {"county":"cc","status":"expired","seq":14,"filed_on":"2021-01-10","valid_until":"2021-03-31","reference":"丙财〔2021〕1号"},
            {"county":"dd","status":"missing","seq":null,"filed_on":null,"valid_until":null,"reference":null}
        ])
    );
    // bb's proposal (seq 95) has no decision; aa's (seq 93) is decided (seq 94) and aa
    // is not watched anyway.
    assert_eq!(
        m["assessments_pending"],
        json!([{"county":"bb","proposal_seq":95,"title":"提高城乡低保标准","category":"livelihood",
                "monthly_cost":"30000.00","starts":"2021-08","proposed_on":"2021-06-15"}])
    );
    // 限制性措施: window Apr–Jun 2021 against Apr–Jun 2020. bb: 15,000 (06-25) against
    // 10,000 (2020-05-10): growth (15,000 − 10,000) / 10,000 = 0.5, grew. cc and dd
    // spent no `other`: growth null (nothing a year before), not grown.
    assert_eq!(
        m["restrictions"],
        json!([
            {"county":"bb","from":"2021-04-01","to":"2021-06-30","other_now":"15000.00","other_year_before":"10000.00","growth":"0.5000","grew":true},
            {"county":"cc","from":"2021-04-01","to":"2021-06-30","other_now":"0.00","other_year_before":"0.00","growth":null,"grew":false},
            {"county":"dd","from":"2021-04-01","to":"2021-06-30","other_now":"0.00","other_year_before":"0.00","growth":null,"grew":false}
        ])
    );
    // Before the history's proposals and plans (06-01, at seq 92) nothing is pending,
    // and bb (level 1.25 on 06-01: 100,000 / 80,000) is not watched.
    let early = json_of(&d, &["monitor", "--as-of", "2021-06-01", "--at-seq", "92"]);
    assert_eq!(early["assessments_pending"], json!([]));
    assert!(early["response_plans"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["county"] != "bb"));
}

#[test]
fn other_spending_of_a_watched_county_is_accepted_with_a_warning_never_silently() {
    // Up to seq 95; line 96 is bb's other spending of 06-25, line 97 aa's of 06-26.
    let (_t, d) = imported(95);
    let lines = history();
    // A dry run answers the same warning (issue 18 beside issue 19), writing nothing.
    let o = run(&d, &["append", "--dry-run"], &lines[95]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let dry: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(dry["seq"], 96);
    assert_eq!(
        dry["warnings"][0]["code"], "restricted_other_spending",
        "{dry}"
    );
    assert!(stderr(&o).starts_with("warning: "), "{}", stderr(&o));
    let o = run(&d, &["append"], &lines[95]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let ack: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(ack["seq"], 96);
    assert_eq!(ack["duplicate"], false);
    // bb on 06-25, with the payment: cash 5,000; window Mar–May, avg 80,000: level
    // 0.0625 < 0.3, on the watch list.
    let w = &ack["warnings"];
    assert_eq!(w.as_array().unwrap().len(), 1, "{ack}");
    assert_eq!(w[0]["code"], "restricted_other_spending");
    assert!(w[0]["message"].as_str().unwrap().contains("bb"));
    assert!(w[0]["message_zh"].as_str().unwrap().contains("限制性措施"));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("warning: "), "{err}");
    // aa is not watched: the ack is v1's, byte for byte in its members.
    let o = run(&d, &["append"], &lines[96]);
    assert_eq!(code(&o), 0);
    let ack: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let keys: Vec<&String> = ack.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["duplicate", "hash", "seq"]);
    assert_eq!(stderr(&o), "");
    // A duplicate of the warned event answers as a duplicate, without a warning.
    let keyed = r#"{"kind":"expenditure_paid","county":"bb","amount":"1","paid_on":"2021-06-27","category":"other","idempotency_key":"k1"}"#;
    let first: Value = serde_json::from_str(stdout(&run(&d, &["append"], keyed)).trim()).unwrap();
    assert!(first.get("warnings").is_some());
    let again = run(&d, &["append"], keyed);
    let again: Value = serde_json::from_str(stdout(&again).trim()).unwrap();
    assert_eq!(again["duplicate"], true);
    assert!(again.get("warnings").is_none());
}

#[test]
fn review_budget_flags_wages_below_declared_and_run_rates_over_budget() {
    let (_t, d) = city();
    let r = json_of(&d, &["review", "budget", "--fiscal-year", "2021"]);
    // Through 06-30: 31 + 28 + 31 + 30 + 31 + 30 = 181 days of 365.
    assert_eq!(r["as_of"], "2021-06-30");
    assert_eq!(r["days_elapsed"], 181);
    assert_eq!(r["days_in_year"], 365);
    let cat = |c: &str, k: &str| {
        county(&r["counties"], c)["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["category"] == k)
            .unwrap()
            .clone()
    };
    // aa: wages paid 6 × 100,000 = 600,000; run rate 600,000 × 365 / 181 =
    // 1,209,944.7513… → 1,209,944.75, within 1.05 × 1,200,000; declared 12 × 100,000
    // = budget. Operations 120,000 → 241,988.95 against 240,000 (× 1.05 = 252,000).
    assert_eq!(
        cat("aa", "wages"),
        json!({"category":"wages","budgeted":"1200000.00","actual":"600000.00","run_rate":"1209944.75",
               "declared_wages":"1200000.00","gap":"0.00","flags":[]})
    );
    assert_eq!(cat("aa", "operations")["run_rate"], "241988.95");
    assert_eq!(county(&r["counties"], "aa")["under_budgeted"], false);
    // bb: declared 60,000 a month → 720,000 > 600,000 budgeted (gap 120,000); paid
    // 360,000 → 725,966.85 (131,400,000 / 181 = 725,966.8508…) > 630,000: both flags,
    // gap the larger, 125,966.85.
    assert_eq!(
        cat("bb", "wages"),
        json!({"category":"wages","budgeted":"600000.00","actual":"360000.00","run_rate":"725966.85",
               "declared_wages":"720000.00","gap":"125966.85","flags":["wages_below_declared","run_rate_over_budget"]})
    );
    assert_eq!(cat("bb", "livelihood")["flags"], json!([]));
    assert_eq!(county(&r["counties"], "bb")["under_budgeted"], true);
    assert_eq!(county(&r["counties"], "bb")["gap"], "125966.85");
    // cc: operations 6 × 30,000 = 180,000 → 65,700,000 / 181 = 362,983.4254… →
    // 362,983.43 > 126,000: gap 242,983.43. Wages 290,000 → 584,806.63, declared
    // 600,000 = budget: no flag. Other categories have no budget and no spending.
    assert_eq!(
        cat("cc", "operations"),
        json!({"category":"operations","budgeted":"120000.00","actual":"180000.00","run_rate":"362983.43",
               "declared_wages":null,"gap":"242983.43","flags":["run_rate_over_budget"]})
    );
    assert_eq!(cat("cc", "wages")["run_rate"], "584806.63");
    assert_eq!(cat("cc", "debt_service")["run_rate"], "0.00");
    assert_eq!(county(&r["counties"], "cc")["gap"], "242983.43");
    // dd: only June declared (20,000): the other eleven months at the latest bill,
    // 240,000 = budget.
    assert_eq!(cat("dd", "wages")["declared_wages"], "240000.00");
    assert_eq!(county(&r["counties"], "dd")["under_budgeted"], false);
    // As of 03-31 (90 days): bb's wages 180,000 → 730,000 run rate; aa is the same.
    let march = json_of(
        &d,
        &[
            "review",
            "budget",
            "--fiscal-year",
            "2021",
            "--as-of",
            "2021-03-31",
        ],
    );
    assert_eq!(march["days_elapsed"], 90);
    assert_eq!(
        county(&march["counties"], "bb")["categories"][0]["run_rate"],
        "730000.00"
    );
    // A year not begun counts nothing.
    let next = json_of(&d, &["review", "budget", "--fiscal-year", "2022"]);
    assert_eq!(next["as_of"], "2021-06-30");
    assert_eq!(next["days_elapsed"], 0);
    assert_eq!(
        county(&next["counties"], "aa")["categories"][0]["run_rate"],
        Value::Null
    );
}

#[test]
fn assess_forecasts_twelve_months_with_the_cost_and_says_affordable_or_not() {
    let (_t, d) = city();
    // bb's proposal (seq 95): from 2021-06, basis on 05-31 = avg outflow Mar–May
    // 80,000. June: opening 100,000 (cash on 05-31), needs 50,000 + 20,000, end
    // 30,000, cover (100,000 − 20,000) / 50,000 = 1.6, level 30,000 / 80,000 = 0.375.
    // July: end −40,000, cover (30,000 − 20,000) / 50,000 = 0.2 < 1.2, level −0.5 <
    // 0.3. August adds 30,000: needs 100,000, end −140,000, cover (−40,000 − 50,000) /
    // 50,000 = −1.8, level −140,000 / 110,000 = −1.2727.
    let a = json_of(&d, &["assess", "--proposal", "95"]);
    assert_eq!(a["county"], "bb");
    assert_eq!(a["from"], "2021-06");
    assert_eq!(a["months"], 12);
    assert_eq!(a["basis"], "80000.00");
    assert_eq!(a["warning_line"], "0.3000");
    assert_eq!(a["cover_floor"], "1.2000");
    assert_eq!(a["affordable"], false);
    assert_eq!(a["decision"], Value::Null);
    let rows = a["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 12);
    assert_eq!(
        rows[0],
        json!({"month":"2021-06","opening_cash":"100000.00","funded_in":"0.00","expected_revenue":"0.00",
               "needs":"70000.00","added_cost":"0.00","wage_need":"50000.00","projected_end":"30000.00",
               "wage_cover":"1.6000","risk":"low","projected_level":"0.3750","failures":[]})
    );
    assert_eq!(rows[1]["wage_cover"], "0.2000");
    assert_eq!(rows[1]["projected_level"], "-0.5000");
    assert_eq!(
        rows[1]["failures"],
        json!(["wage_cover_below_floor", "level_below_warning"])
    );
    assert_eq!(rows[2]["added_cost"], "30000.00");
    assert_eq!(rows[2]["needs"], "100000.00");
    assert_eq!(rows[2]["projected_end"], "-140000.00");
    assert_eq!(rows[2]["wage_cover"], "-1.8000");
    assert_eq!(rows[2]["projected_level"], "-1.2727");
    // aa's (seq 93): June opening 2,000,000 − 5 × 120,000 = 1,400,000, cover
    // (1,400,000 − 20,000) / 100,000 = 13.8; every month passes; approved (seq 94).
    let a = json_of(&d, &["assess", "--proposal", "93"]);
    assert_eq!(a["affordable"], true);
    assert_eq!(a["decision"], "approved");
    assert_eq!(a["rows"][0]["wage_cover"], "13.8000");
    assert_eq!(a["rows"][0]["projected_level"], "10.6667");
    // Not a proposal: a usage error naming it.
    let o = run(&d, &["assess", "--proposal", "94"], "");
    assert_eq!(code(&o), 2);
    assert!(one_error_line(&o).contains("--proposal 94"));
    // The Chinese table says the verdict.
    let o = run(&d, &["assess", "--proposal", "95", "--lang", "zh"], "");
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(text.contains("财政可承受能力评估"), "{text}");
    assert!(text.contains("不可承受"), "{text}");
}

#[test]
fn scorecard_ranks_every_county_with_the_veto_for_wage_arrears() {
    let (_t, d) = city();
    let s = json_of(&d, &["scorecard", "--fiscal-year", "2021"]);
    assert_eq!(s["from"], "2021-01-01");
    assert_eq!(s["through"], "2021-06-30");
    let order: Vec<&str> = s["counties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["county"].as_str().unwrap())
        .collect();
    // aa clean; bb watched with its plan in force; dd watched without a plan; cc
    // vetoed (一票否决), last.
    assert_eq!(order, ["aa", "bb", "dd", "cc"]);
    for (i, c) in s["counties"].as_array().unwrap().iter().enumerate() {
        assert_eq!(c["rank"], i + 1);
        // Every day of the 181 is counted at one status.
        let days = &c["status_days"];
        let sum: u64 = ["warning", "low", "normal", "idle", "unknown"]
            .iter()
            .map(|k| days[k].as_u64().unwrap())
            .sum();
        assert_eq!(sum, 181, "{c}");
    }
    let aa = county(&s["counties"], "aa");
    assert_eq!(aa["veto"], false);
    assert_eq!(aa["watch_days"], 0);
    assert_eq!(aa["response_plan"], "not_required");
    // bb: at warning from 06-20 (cash 20,000 / 80,000 = 0.25) through 06-30: 11 days,
    // its plan in force.
    let bb = county(&s["counties"], "bb");
    assert_eq!(bb["status_days"]["warning"], 11);
    assert_eq!(bb["watch_days"], 11);
    assert_eq!(bb["watch_months"], 1);
    assert_eq!(bb["response_plan"], "filed");
    // cc: May's wages 30,000 of 50,000 on payday 05-15, the rest on 05-25 (10 days);
    // June's 10,000 unpaid since 06-15 (15 days to 06-30). On the watch list 05-16 …
    // 05-24 and 06-16 … 06-30 (9 + 15 days, two months); its plan ended 03-31.
    let cc = county(&s["counties"], "cc");
    assert_eq!(cc["veto"], true);
    assert_eq!(cc["arrears_months"], 2);
    assert_eq!(cc["arrears_days"], 25);
    assert_eq!(cc["watch_days"], 24);
    assert_eq!(cc["watch_months"], 2);
    assert_eq!(cc["response_plan"], "missing");
    // dd: June's deposit on 06-10, deadline 06-08: 2 days late; direct funds overdue
    // 06-02 … 06-30 (29 days); one notice, one discrepancy; no plan.
    let dd = county(&s["counties"], "dd");
    assert_eq!(dd["late_deposits"], 1);
    assert_eq!(dd["days_late"], 2);
    assert_eq!(dd["direct_overdue_days"], 29);
    assert_eq!(dd["notices"], 1);
    assert_eq!(dd["discrepancies"], 1);
    assert_eq!(dd["watch_days"], 29);
    assert_eq!(dd["response_plan"], "missing");
    assert_eq!(dd["veto"], false);
    // The Chinese table names the veto.
    let o = run(
        &d,
        &["scorecard", "--fiscal-year", "2021", "--lang", "zh"],
        "",
    );
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(text.contains("一票否决：丙县"), "{text}");
    // At seq 0 the scorecard is empty.
    let empty = json_of(&d, &["scorecard", "--fiscal-year", "2021", "--at-seq", "0"]);
    assert_eq!(empty["counties"], json!([]));
    assert_eq!(empty["through"], Value::Null);
}

#[test]
fn the_new_events_rules_refuse_with_the_field_and_write_nothing() {
    let (_t, d) = city();
    let bad = [
        // Record 94 is a decision, not a proposal.
        (
            r#"{"kind":"assessment_decided","proposal_seq":94,"decision":"approved","decided_on":"2021-06-30"}"#,
            "proposal_seq",
        ),
        // One decision per proposal.
        (
            r#"{"kind":"assessment_decided","proposal_seq":93,"decision":"rejected","decided_on":"2021-06-30"}"#,
            "proposal_seq",
        ),
        // Decided before proposed (06-15).
        (
            r#"{"kind":"assessment_decided","proposal_seq":95,"decision":"rejected","decided_on":"2021-06-14"}"#,
            "decided_on",
        ),
        (
            r#"{"kind":"assessment_decided","proposal_seq":95,"decision":"maybe","decided_on":"2021-06-30"}"#,
            "decision",
        ),
        (
            r#"{"kind":"response_plan_filed","county":"dd","filed_on":"2021-06-30","valid_until":"2021-06-29","measures":"m","reference":"r"}"#,
            "valid_until",
        ),
        (
            r#"{"kind":"response_plan_filed","county":"zz","filed_on":"2021-06-30","valid_until":"2021-12-31","measures":"m","reference":"r"}"#,
            "county",
        ),
        // Filed before the county's registration (2020-01-01).
        (
            r#"{"kind":"response_plan_filed","county":"dd","filed_on":"2019-12-31","valid_until":"2021-12-31","measures":"m","reference":"r"}"#,
            "county",
        ),
        (
            r#"{"kind":"policy_proposed","county":"dd","title":"t","category":"livelihood","monthly_cost":"0","starts":"2021-08","proposed_on":"2021-06-30"}"#,
            "monthly_cost",
        ),
        (
            r#"{"kind":"policy_proposed","county":"dd","title":"t","category":"livelihood","monthly_cost":"1","starts":"2021-05","proposed_on":"2021-06-30"}"#,
            "starts",
        ),
        (
            r#"{"kind":"policy_proposed","county":"dd","title":"t","category":"wages","monthly_cost":"1","starts":"2021-08","proposed_on":"2021-06-30"}"#,
            "category",
        ),
    ];
    for (event, field) in bad {
        let o = run(&d, &["append"], event);
        assert_eq!(code(&o), 3, "{event}: {}", stderr(&o));
        let line = one_error_line(&o);
        assert!(line.contains(field), "{event}: {line}");
    }
    // Nothing was written.
    let v = json_of(&d, &["verify"]);
    assert_eq!(v["records"], 99);
    // The reason in Chinese for a person who reads Chinese.
    let o = std::process::Command::new(common::bin())
        .arg("--data")
        .arg(&d)
        .args(["append"])
        .env("LANG", "zh_CN.UTF-8")
        .env_remove("SANBAO_LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bad[1].0.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("每项只作一次结论"), "{}", stderr(&o));
    // A decision that keeps the rules is recorded.
    let o = run(
        &d,
        &["append"],
        r#"{"kind":"assessment_decided","proposal_seq":95,"decision":"rejected","decided_on":"2021-06-30"}"#,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m = json_of(&d, &["monitor"]);
    assert_eq!(m["assessments_pending"], json!([]));
}

#[test]
fn the_three_reports_go_out_as_files_like_every_report() {
    let (t, d) = city();
    let csv = t.path().join("审核.csv");
    let o = run(
        &d,
        &[
            "review",
            "budget",
            "--fiscal-year",
            "2021",
            "--out",
            csv.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Two sections, one file each; the categories carry cc's gap.
    let cats = std::fs::read_to_string(t.path().join("审核-categories.csv")).unwrap();
    assert!(cats.contains("242983.43"), "{cats}");
    assert!(t.path().join("审核-counties.csv").exists());
    let xlsx = t.path().join("考核.xlsx");
    let o = run(
        &d,
        &[
            "scorecard",
            "--fiscal-year",
            "2021",
            "--out",
            xlsx.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(std::fs::metadata(&xlsx).unwrap().len() > 0);
    let json_file = t.path().join("assess.json");
    let o = run(
        &d,
        &[
            "assess",
            "--proposal",
            "95",
            "--out",
            json_file.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    assert_eq!(v["affordable"], false);
    // A bad extension is refused before any work, writing nothing.
    let o = run(
        &d,
        &["scorecard", "--fiscal-year", "2021", "--out", "x.pdf"],
        "",
    );
    assert_eq!(code(&o), 2);
}

#[test]
fn over_the_sample_city_the_reports_are_whole_ordered_and_deterministic() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    assert_eq!(code(&run(&d, &["demo"], "")), 0);
    // 考核 2021: all eight counties, ranks 1..=8, no county without a veto after one
    // with it, and each county's days of 2021 counted once: from 1 January, or from
    // its registration when later, through 31 December.
    let registered: std::collections::HashMap<String, chrono::NaiveDate> = common::export(&d)
        .iter()
        .filter(|r| r["event"]["kind"] == "county_registered")
        .map(|r| {
            let on = r["event"]["registered_on"].as_str().unwrap();
            (
                r["event"]["county"].as_str().unwrap().to_string(),
                chrono::NaiveDate::parse_from_str(on, "%Y-%m-%d").unwrap(),
            )
        })
        .collect();
    let year_start = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
    let year_end = chrono::NaiveDate::from_ymd_opt(2021, 12, 31).unwrap();
    let s = json_of(&d, &["scorecard", "--fiscal-year", "2021"]);
    assert_eq!(s["through"], "2021-12-31");
    let counties = s["counties"].as_array().unwrap();
    assert_eq!(counties.len(), 8);
    let mut seen_veto = false;
    for (i, c) in counties.iter().enumerate() {
        assert_eq!(c["rank"], i + 1);
        let veto = c["veto"].as_bool().unwrap();
        assert!(
            veto || !seen_veto,
            "a county without a veto after a vetoed one: {c}"
        );
        seen_veto |= veto;
        // The veto is exactly "some payroll month in arrears".
        assert_eq!(veto, c["arrears_months"].as_u64().unwrap() > 0, "{c}");
        let days = &c["status_days"];
        let sum: u64 = ["warning", "low", "normal", "idle", "unknown"]
            .iter()
            .map(|k| days[k].as_u64().unwrap())
            .sum();
        let from = registered[c["county"].as_str().unwrap()].max(year_start);
        let days = (year_end - from).num_days() as u64 + 1;
        assert_eq!(sum, days, "{c}");
        assert!(c["watch_months"].as_u64().unwrap() <= 12);
        let plan = c["response_plan"].as_str().unwrap();
        // The sample city files no response plan: a watched county's is missing.
        let watched = c["watch_days"].as_u64().unwrap() > 0;
        assert_eq!(
            plan,
            if watched { "missing" } else { "not_required" },
            "{c}"
        );
    }
    // 预算再审核 2021 as of the year's end: the days of the year, and every category's
    // run rate equals its actual (365 of 365 days).
    let r = json_of(
        &d,
        &[
            "review",
            "budget",
            "--fiscal-year",
            "2021",
            "--as-of",
            "2021-12-31",
        ],
    );
    assert_eq!(r["days_elapsed"], 365);
    for c in r["counties"].as_array().unwrap() {
        let mut gap = 0i64;
        for k in c["categories"].as_array().unwrap() {
            assert_eq!(k["run_rate"], k["actual"], "{k}");
            gap += (k["gap"].as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64;
            assert_eq!(
                k["gap"] != "0.00",
                !k["flags"].as_array().unwrap().is_empty(),
                "{k}"
            );
        }
        let county_gap =
            (c["gap"].as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64;
        assert_eq!(gap, county_gap, "{c}");
        assert_eq!(c["under_budgeted"], county_gap > 0, "{c}");
    }
    // The same log gives the same bytes.
    let again = run(&d, &["scorecard", "--fiscal-year", "2021", "--json"], "");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&again)).unwrap(),
        s,
        "deterministic"
    );
}
