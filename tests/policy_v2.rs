//! Planning policy v2 end to end (docs/planning-policy-v2.md), with the real binary:
//!
//! - the doc's two worked examples (§8), built as histories by
//!   `tests/data/policy-v2/make.py`: the plan at the seq before the
//!   `planning_policy_set` follows v1, the plan at the head v2, and every line and
//!   county figure is the one the doc's tables give (computed by the independent model
//!   `docs/planning-policy-v2-model.py`), and the whole plans equal the golden files
//!   `tests/data/policy-v2/expected/plan-*.json` (`SANBAO_BLESS=1` rewrites them);
//! - the hash: a v1 plan's hash covers the SPEC §6.3 members only, a v2 plan's also
//!   `"policy":"v2"`, and both can be recomputed from the JSON without sanbao;
//! - issuing a v2 plan records it, `replay` reproduces it and names its policy;
//! - which policy is in force: chosen by the basis date B, latest effective_from then
//!   latest seq, and a later setting with the same date undoes an earlier one;
//! - the event's input rules: exactly `v1` or `v2`, both fields required, no unknown
//!   field, not reversible; and the forecast follows the policy month by month.

use crate::common;

use common::{append_ok, code, one_error_line, run, stdout};
use sanbao::canonical::sha256_canonical;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/policy-v2")
}

/// A fresh log holding example `n`; answers the directory and its record count.
fn example(n: u32) -> (tempfile::TempDir, u64) {
    let tmp = tempfile::tempdir().unwrap();
    let file = data().join(format!("example-{n}.jsonl"));
    let o = run(tmp.path(), &["import", file.to_str().unwrap()], "");
    assert_eq!(code(&o), 0, "import: {}", common::stderr(&o));
    let lines = std::fs::read_to_string(&file).unwrap().lines().count() as u64;
    (tmp, lines)
}

fn plan(dir: &Path, month: &str, at: u64) -> Value {
    let o = run(
        dir,
        &[
            "plan",
            "--month",
            month,
            "--at-seq",
            &at.to_string(),
            "--json",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "plan: {}", common::stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// `(funded, shortfall)` of each line, keyed "county fund year".
fn lines(p: &Value) -> Vec<(String, String, String)> {
    p["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                format!(
                    "{} {} {}",
                    l["county"].as_str().unwrap(),
                    l["fund"].as_str().unwrap(),
                    l["fiscal_year"]
                ),
                l["funded"].as_str().unwrap().to_string(),
                l["shortfall"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// needs, funded_in, projected_end, projected_level, status, emergency of a county.
fn county(p: &Value, id: &str) -> [String; 6] {
    let c = p["counties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["county"] == id)
        .unwrap_or_else(|| panic!("no county {id}"));
    let s = |k: &str| match &c[k] {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        v => v.to_string(),
    };
    [
        s("needs"),
        s("funded_in"),
        s("projected_end"),
        s("projected_level"),
        s("status"),
        s("emergency_recommended"),
    ]
}

fn row(v: [&str; 6]) -> [String; 6] {
    v.map(str::to_string)
}

/// plan_sha256 recomputed from the plan's JSON as an auditor would: every member but
/// the hash, and `policy` only when it is not "v1".
fn audit_hash(p: &Value) -> String {
    let mut m = p.as_object().unwrap().clone();
    m.remove("plan_sha256");
    if m.get("policy") == Some(&json!("v1")) {
        m.remove("policy");
    }
    hex::encode(sha256_canonical(&Value::Object(m)))
}

/// Compares `p` with (or, blessing, writes) the golden file `name`.
fn golden(name: &str, p: &Value) {
    let path = data().join("expected").join(name);
    if std::env::var("SANBAO_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut t = serde_json::to_string_pretty(p).unwrap();
        t.push('\n');
        std::fs::write(&path, t).unwrap();
    }
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (SANBAO_BLESS=1 writes it)", path.display())),
    )
    .unwrap();
    assert_eq!(&want, p, "{} differs", path.display());
}

#[test]
fn example_1_the_general_tier_short_and_the_claims_fit() {
    let (tmp, n) = example(1);
    let v1 = plan(tmp.path(), "2026-08", n - 1);
    let v2 = plan(tmp.path(), "2026-08", n);
    assert_eq!(v1["policy"], "v1");
    assert_eq!(v2["policy"], "v2");

    // Tiers and totals are the same under both policies (doc §4.1, G1).
    for k in ["city_available", "total_planned", "total_funded", "tiers"] {
        assert_eq!(v1[k], v2[k], "{k}");
    }
    assert_eq!(v2["total_funded"], "130000.00");
    assert_eq!(v2["total_planned"], "211000.00");

    let l = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        lines(&v1),
        [
            l("dong general 2026", "36923.08", "23076.92"),
            l("dong direct 2026", "10000.00", "0.00"),
            l("nan general 2026", "55384.61", "34615.39"),
            l("xi general 2026", "27692.31", "17307.69"),
            l("xi in_execution 2025", "0.00", "6000.00"),
        ]
    );
    assert_eq!(
        lines(&v2),
        [
            l("dong general 2026", "60000.00", "0.00"),
            l("dong direct 2026", "10000.00", "0.00"),
            l("nan general 2026", "21818.18", "68181.82"),
            l("xi general 2026", "38181.82", "6818.18"),
            l("xi in_execution 2025", "0.00", "6000.00"),
        ]
    );
    assert_eq!(
        county(&v1, "dong"),
        row(["130000.00", "46923.08", "96923.08", "0.4406", "low", "0.00"])
    );
    assert_eq!(
        county(&v2, "dong"),
        row([
            "220000.00",
            "70000.00",
            "30000.00",
            "0.1364",
            "warning",
            "36000.00"
        ])
    );
    assert_eq!(
        county(&v1, "nan"),
        row([
            "220000.00",
            "55384.61",
            "285384.61",
            "1.3590",
            "normal",
            "0.00"
        ])
    );
    assert_eq!(
        county(&v2, "nan"),
        row([
            "220000.00",
            "21818.18",
            "251818.18",
            "1.1991",
            "normal",
            "0.00"
        ])
    );
    assert_eq!(
        county(&v1, "xi"),
        row(["90000.00", "27692.31", "17692.31", "0.2212", "warning", "6307.69"])
    );
    assert_eq!(
        county(&v2, "xi"),
        row(["92000.00", "38181.82", "26181.82", "0.3273", "low", "0.00"])
    );

    for p in [&v1, &v2] {
        assert_eq!(p["plan_sha256"].as_str().unwrap(), audit_hash(p));
    }
    assert_ne!(v1["plan_sha256"], v2["plan_sha256"]);
    golden("plan-example-1-v1.json", &v1);
    golden("plan-example-1-v2.json", &v2);
}

#[test]
fn example_2_the_direct_tier_short_and_the_claims_exceed() {
    let (tmp, n) = example(2);
    let v1 = plan(tmp.path(), "2026-09", n - 1);
    let v2 = plan(tmp.path(), "2026-09", n);
    for k in ["city_available", "total_planned", "total_funded", "tiers"] {
        assert_eq!(v1[k], v2[k], "{k}");
    }
    let l = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        lines(&v1),
        [
            l("bei direct 2025", "7265.63", "22734.37"),
            l("bei direct 2026", "16953.12", "53046.88"),
            l("xin direct 2026", "1937.50", "6062.50"),
            l("zhong direct 2026", "4843.75", "15156.25"),
        ]
    );
    assert_eq!(
        lines(&v2),
        [
            l("bei direct 2025", "24313.73", "5686.27"),
            l("bei direct 2026", "0.00", "70000.00"),
            l("xin direct 2026", "0.00", "8000.00"),
            l("zhong direct 2026", "6686.27", "13313.73"),
        ]
    );
    assert_eq!(
        county(&v1, "bei"),
        row(["60000.00", "24218.75", "14218.75", "0.2844", "warning", "781.25"])
    );
    assert_eq!(
        county(&v2, "bei"),
        row(["60000.00", "24313.73", "14313.73", "0.2863", "warning", "686.27"])
    );
    // The new district has no basis: v1 recommends nothing, v2 its wage need (§3).
    assert_eq!(
        county(&v1, "xin"),
        row([
            "15000.00",
            "1937.50",
            "-13062.50",
            "null",
            "unknown",
            "0.00"
        ])
    );
    assert_eq!(
        county(&v2, "xin"),
        row([
            "15000.00",
            "0.00",
            "-15000.00",
            "null",
            "unknown",
            "15000.00"
        ])
    );
    assert_eq!(
        county(&v1, "zhong"),
        row([
            "40000.00",
            "4843.75",
            "-23156.25",
            "-0.5146",
            "warning",
            "36656.25"
        ])
    );
    assert_eq!(
        county(&v2, "zhong"),
        row([
            "45000.00",
            "6686.27",
            "-26313.73",
            "-0.5847",
            "warning",
            "39813.73"
        ])
    );
    for p in [&v1, &v2] {
        assert_eq!(p["plan_sha256"].as_str().unwrap(), audit_hash(p));
    }
    golden("plan-example-2-v1.json", &v1);
    golden("plan-example-2-v2.json", &v2);

    // The readable plan names its policy and why xin gets an advance.
    let o = run(tmp.path(), &["plan", "--month", "2026-09"], "");
    let text = stdout(&o);
    assert!(text.contains("planning policy v2"), "{text}");
    assert!(
        text.contains("xin (新区) 15,000.00 yuan to pay the month's wage need"),
        "{text}"
    );
}

#[test]
fn an_issued_v2_plan_is_recorded_and_reproduced_by_replay_with_its_policy() {
    let (tmp, n) = example(1);
    let dir = tmp.path();
    let o = run(
        dir,
        &[
            "plan",
            "--month",
            "2026-08",
            "--issue",
            "--issued-on",
            "2026-08-01",
            "--json",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", common::stderr(&o));
    let issued: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(issued["policy"], "v2");
    // Also a v1 plan issued from the prefix before the setting.
    let v1 = plan(dir, "2026-08", n - 1);
    append_ok(
        dir,
        &json!({"kind":"plan_issued","month":"2026-08","based_on_seq":n - 1,
                "plan_sha256":v1["plan_sha256"],"issued_on":"2026-08-01"}),
    );
    // A hash that is the v2 plan's bytes without its policy is not the v2 plan's hash.
    let mut stripped = issued.as_object().unwrap().clone();
    stripped.remove("plan_sha256");
    stripped.remove("policy");
    let wrong = hex::encode(sha256_canonical(&Value::Object(stripped)));
    let o = run(
        dir,
        &["append"],
        &json!({"kind":"plan_issued","month":"2026-08","based_on_seq":n,
                "plan_sha256":wrong,"issued_on":"2026-08-01"})
        .to_string(),
    );
    assert_eq!(
        code(&o),
        3,
        "a v2 plan hashed without its policy is refused"
    );

    let o = run(dir, &["replay", "--json"], "");
    assert_eq!(code(&o), 0, "{}", common::stderr(&o));
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let plans: Vec<(u64, String, bool)> = r["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["based_on_seq"].as_u64().unwrap(),
                p["policy"].as_str().unwrap().to_string(),
                p["reproduced"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        plans,
        [(n, "v2".to_string(), true), (n - 1, "v1".to_string(), true)]
    );
}

/// A log with one county, a budget, a run rate above it, and a wage bill.
fn small(dir: &Path) {
    append_ok(
        dir,
        &json!([
            {"kind":"county_registered","county":"a","name":"甲县","registered_on":"2026-01-01","opening_treasury":"1000000"},
            {"kind":"needs_budgeted","county":"a","fiscal_year":2026,"category":"wages","amount":"120000","budgeted_on":"2026-01-02"},
            {"kind":"expenditure_paid","county":"a","amount":"60000","paid_on":"2026-03-10","category":"operations"},
            {"kind":"wage_bill_declared","county":"a","payroll_month":"2026-05","amount":"15000","payday":"2026-05-15","declared_on":"2026-04-18"},
        ]),
    );
}

#[test]
fn the_policy_in_force_is_chosen_by_the_basis_date_then_seq() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    small(dir);
    let set = |policy: &str, from: &str| {
        append_ok(
            dir,
            &json!({"kind":"planning_policy_set","policy":policy,"effective_from":from}),
        );
    };
    let policy = |m: &str| {
        let o = run(dir, &["plan", "--month", m, "--json"], "");
        assert_eq!(code(&o), 0, "{}", common::stderr(&o));
        let p: Value = serde_json::from_str(&stdout(&o)).unwrap();
        p["policy"].as_str().unwrap().to_string()
    };
    assert_eq!(policy("2026-05"), "v1", "no setting: v1");
    // Effective 2026-05-01: the May plan (B = 04-30) still follows v1, June's v2.
    set("v2", "2026-05-01");
    assert_eq!(policy("2026-05"), "v1");
    assert_eq!(policy("2026-06"), "v2");
    // Effective on a month's last day: that day is the next month's basis date.
    set("v2", "2026-04-30");
    assert_eq!(policy("2026-05"), "v2");
    // The same date again with v1, recorded later: an exact undo from that date.
    set("v1", "2026-04-30");
    assert_eq!(policy("2026-05"), "v1");
    assert_eq!(
        policy("2026-06"),
        "v2",
        "the 05-01 setting still governs June"
    );

    // Under v2 the May need is the run rate (60,000 / 3 = 20,000 over March–April,
    // window Feb–Apr) rather than the budget's 10,000; the wage need is the declared
    // bill 15,000 (above the budgeted 10,000).
    set("v2", "2026-04-30");
    let o = run(dir, &["plan", "--month", "2026-05", "--json"], "");
    let p: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(p["policy"], "v2");
    assert_eq!(p["counties"][0]["needs"], "20000.00");
    let o = run(
        dir,
        &["forecast", "--from", "2026-04", "--months", "3", "--json"],
        "",
    );
    assert_eq!(code(&o), 0, "{}", common::stderr(&o));
    let f: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let months = f["counties"][0]["months"].as_array().unwrap();
    let got: Vec<(String, String, String, String)> = months
        .iter()
        .map(|m| {
            (
                m["month"].as_str().unwrap().into(),
                m["policy"].as_str().unwrap().into(),
                m["needs"].as_str().unwrap().into(),
                m["wage_need"].as_str().unwrap().into(),
            )
        })
        .collect();
    let t = |a: &str, b: &str, c: &str, d: &str| (a.into(), b.into(), c.into(), d.into());
    // April (B = 03-31) is v1: the budget. May and June are v2, with the run rate of
    // the first basis date (03-31: window Jan–Mar, 60,000 / 3 = 20,000) for both;
    // May's wage need is the declared bill, June's the budget.
    assert_eq!(
        got,
        [
            t("2026-04", "v1", "10000.00", "10000.00"),
            t("2026-05", "v2", "20000.00", "15000.00"),
            t("2026-06", "v2", "20000.00", "10000.00"),
        ]
    );
}

#[test]
fn the_event_takes_exactly_v1_or_v2_and_cannot_be_reversed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    small(dir);
    for (bad, field) in [
        (
            json!({"kind":"planning_policy_set","policy":"V2","effective_from":"2026-01-31"}),
            "policy",
        ),
        (
            json!({"kind":"planning_policy_set","policy":"v3","effective_from":"2026-01-31"}),
            "policy",
        ),
        (
            json!({"kind":"planning_policy_set","policy":2,"effective_from":"2026-01-31"}),
            "policy",
        ),
        (
            json!({"kind":"planning_policy_set","policy":null,"effective_from":"2026-01-31"}),
            "policy",
        ),
        (
            json!({"kind":"planning_policy_set","effective_from":"2026-01-31"}),
            "policy",
        ),
        (
            json!({"kind":"planning_policy_set","policy":"v2"}),
            "effective_from",
        ),
        (
            json!({"kind":"planning_policy_set","policy":"v2","effective_from":"2100-01-01"}),
            "effective_from",
        ),
        (
            json!({"kind":"planning_policy_set","policy":"v2","effective_from":"2026-01-31","county":"a"}),
            "county",
        ),
    ] {
        let o = run(dir, &["append"], &bad.to_string());
        assert_eq!(code(&o), 3, "{bad}");
        let line = one_error_line(&o);
        assert!(line.contains(field), "{bad}: {line}");
    }
    let acks = append_ok(
        dir,
        &json!({"kind":"planning_policy_set","policy":"v2","effective_from":"2026-01-31"}),
    );
    let seq = acks[0]["seq"].as_u64().unwrap();
    let o = run(
        dir,
        &["append"],
        &json!({"kind":"event_reversed","reverses_seq":seq,"reason":"误设","on":"2026-02-01"})
            .to_string(),
    );
    assert_eq!(code(&o), 3);
    assert!(one_error_line(&o).contains("reverses_seq"));
    // The stored event is exactly its two fields and its kind.
    let rec = common::export(dir).pop().unwrap();
    assert_eq!(
        rec["event"],
        json!({"effective_from":"2026-01-31","kind":"planning_policy_set","policy":"v2"})
    );
    // Its effective date counts toward the default as_of (like risk_lines_set).
    append_ok(
        dir,
        &json!({"kind":"planning_policy_set","policy":"v1","effective_from":"2026-12-31"}),
    );
    let o = run(dir, &["monitor", "--json"], "");
    let m: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(m["as_of"], "2026-12-31");
}
