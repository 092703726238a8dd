//! `sanbao notices` (issue 16's 提示函) on the sample city through the real binary:
//! drafts for the counties at warning or low in the month, `--issue` records one
//! `notice_issued` per new letter (once: a rerun issues nothing), `monitor` lists the
//! notices of the as-of month, the event's rules (a number once per log, one notice
//! per county and month unless reversed), and bad input writes nothing.

use crate::common;
use crate::wire;

use common::{append_ok, code, one_error_line, run, stderr, stdout};
use serde_json::{json, Value};
use std::path::Path;

/// Runs `sanbao --data DIR ARGS…` with `env` set (and `unset` removed), `stdin` as input.
fn run_env(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    unset: &[&str],
    stdin: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut c = std::process::Command::new(common::bin());
    c.arg("--data").arg(dir).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    for k in unset {
        c.env_remove(k);
    }
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn head(dir: &Path) -> u64 {
    let v: Value = serde_json::from_str(&stdout(&run(dir, &["verify", "--json"], ""))).unwrap();
    v["records"].as_u64().unwrap()
}

fn notices_json(dir: &Path, args: &[&str]) -> Value {
    let mut a = vec!["notices"];
    a.extend(args);
    a.push("--json");
    let o = run(dir, &a, "");
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn the_months_letters_are_drafted_issued_once_and_listed_by_monitor() {
    let city = tempfile::tempdir().unwrap();
    let d = city.path();
    assert_eq!(code(&run(d, &["demo"], "")), 0);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("letters");
    let ds = dir.to_str().unwrap();

    // The counties noticed are those monitor --daily shows at warning or low.
    let daily: Value = serde_json::from_str(&stdout(&run(
        d,
        &[
            "monitor",
            "--daily",
            "--from",
            "2021-12-01",
            "--to",
            "2021-12-31",
            "--json",
        ],
        "",
    )))
    .unwrap();
    let tight: Vec<String> = daily["counties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["months"][0]["warning"].as_u64().unwrap() + c["months"][0]["low"].as_u64().unwrap()
                > 0
        })
        .map(|c| c["county"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !tight.is_empty(),
        "the sample city has a month that produces letters"
    );

    let before = head(d);
    let common = [
        "--month",
        "2021-12",
        "--out",
        ds,
        "--doc-prefix",
        "示财库",
        "--issued-on",
        "2022-01-05",
    ];
    let draft = notices_json(d, &common);
    let letters = draft["letters"].as_array().unwrap();
    let counties: Vec<&str> = letters
        .iter()
        .map(|l| l["county"].as_str().unwrap())
        .collect();
    assert_eq!(
        counties,
        tight.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(head(d), before, "a draft records nothing");
    for (i, l) in letters.iter().enumerate() {
        assert_eq!(l["doc_number"], format!("示财库〔2022〕{}号", i + 1));
        assert!(l["seq"].is_null());
        for f in l["files"].as_array().unwrap() {
            let f = f.as_str().unwrap();
            let bytes = std::fs::read(f).unwrap();
            if f.ends_with(".html") {
                let t = String::from_utf8(bytes).unwrap();
                assert!(t.contains("关于库款保障水平偏低的提示函"));
                assert!(t.contains(l["doc_number"].as_str().unwrap()));
                assert!(
                    t.contains(&format!("{}财政局", l["name"].as_str().unwrap())),
                    "addressee"
                );
            } else {
                assert!(bytes.starts_with(b"PK"), "a .docx is a zip");
            }
        }
    }
    // The status warned of is the month's worst: warning when a day was below the line.
    let jc = letters.iter().find(|l| l["county"] == "jianchang").unwrap();
    assert_eq!(jc["status"], "warning");

    let mut issue = common.to_vec();
    issue.push("--issue");
    let issued = notices_json(d, &issue);
    assert_eq!(
        head(d),
        before + letters.len() as u64,
        "one event per letter"
    );
    let seqs: Vec<u64> = issued["letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (before + 1..=before + letters.len() as u64).collect::<Vec<_>>()
    );
    // Issued again: nothing new, the same numbers.
    let again = notices_json(d, &issue);
    assert_eq!(head(d), before + letters.len() as u64);
    assert_eq!(again["letters"], issued["letters"]);

    // monitor lists the notices sent in the as-of month; not in the month before.
    let m: Value = serde_json::from_str(&stdout(&run(
        d,
        &["monitor", "--as-of", "2022-01-31", "--json"],
        "",
    )))
    .unwrap();
    let listed: Vec<(String, String)> = m["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["county"].as_str().unwrap().into(),
                n["doc_number"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = issued["letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["county"].as_str().unwrap().into(),
                l["doc_number"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(listed, want);
    let dec: Value = serde_json::from_str(&stdout(&run(
        d,
        &["monitor", "--as-of", "2021-12-31", "--json"],
        "",
    )))
    .unwrap();
    assert_eq!(dec["notices"], json!([]));

    // The rules: a number is used once; one notice per county and month.
    let dup_number = json!({"kind":"notice_issued","county":"lianshan","month":"2021-12","doc_number":"示财库〔2022〕1号","status":"low","guarantee_level":"0.4500","issued_on":"2022-01-06"});
    let o = run(d, &["append"], &dup_number.to_string());
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(one_error_line(&o).contains("doc_number"));
    let twice = json!({"kind":"notice_issued","county":"jianchang","month":"2021-12","doc_number":"示财库〔2022〕9号","status":"warning","guarantee_level":"0.0986","issued_on":"2022-01-06"});
    let o = run(d, &["append"], &twice.to_string());
    assert_eq!(code(&o), 3);
    assert!(one_error_line(&o).contains("month"));
    let early = json!({"kind":"notice_issued","county":"lianshan","month":"2022-02","doc_number":"示财库〔2022〕8号","status":"low","guarantee_level":"0.4500","issued_on":"2022-01-06"});
    assert_eq!(
        code(&run(d, &["append"], &early.to_string())),
        3,
        "a notice before its month begins"
    );
    // Reversed, the county may be noticed again, under a new number.
    let jc_seq = seqs[0];
    append_ok(
        d,
        &json!({"kind":"event_reversed","reverses_seq":jc_seq,"reason":"文号有误，重新发文","on":"2022-01-06"}),
    );
    // Not before the reversal's own date: two notices never stand at once.
    let overlapping = json!({"kind":"notice_issued","county":"jianchang","month":"2021-12","doc_number":"示财库〔2022〕7号","status":"warning","guarantee_level":"0.0986","issued_on":"2022-01-05"});
    let o = run(d, &["append"], &overlapping.to_string());
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(one_error_line(&o).contains("issued_on"));
    let o = run(d, &["append"], &twice.to_string());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // monitor on the 6th no longer lists the reversed one.
    let m: Value = serde_json::from_str(&stdout(&run(
        d,
        &["monitor", "--as-of", "2022-01-06", "--json"],
        "",
    )))
    .unwrap();
    let numbers: Vec<&str> = m["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["doc_number"].as_str().unwrap())
        .collect();
    assert!(
        !numbers.contains(&"示财库〔2022〕1号") && numbers.contains(&"示财库〔2022〕9号"),
        "{numbers:?}"
    );
    // The next draft number follows the greatest used (9).
    let more = notices_json(
        d,
        &[
            "--month",
            "2022-01",
            "--out",
            ds,
            "--doc-prefix",
            "示财库",
            "--issued-on",
            "2022-02-03",
        ],
    );
    let first_new = more["letters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["seq"].is_null())
        .expect("January 2022 has letters to draft");
    assert_eq!(first_new["doc_number"], "示财库〔2022〕10号");
}

#[test]
fn bad_input_is_one_error_and_writes_nothing() {
    let city = tempfile::tempdir().unwrap();
    let d = city.path();
    assert_eq!(code(&run(d, &["demo"], "")), 0);
    let before = head(d);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("x");
    let ds = dir.to_str().unwrap();
    // A month the log has no day of.
    let o = run(d, &["notices", "--month", "2030-01", "--out", ds], "");
    assert_eq!(code(&o), 2);
    assert!(one_error_line(&o).contains("2030-01"));
    assert!(
        one_error_line(&o).contains("日志尚无该月数据"),
        "notices speak Chinese"
    );
    assert!(!dir.exists());
    // An unwritable directory (a file in the way): nothing issued, no letter.
    let blocker = out.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let inside = blocker.join("letters");
    let o = run(
        d,
        &[
            "notices",
            "--month",
            "2021-12",
            "--out",
            inside.to_str().unwrap(),
            "--issue",
            "--issued-on",
            "2022-01-05",
        ],
        "",
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(one_error_line(&o).contains("cannot write"));
    assert_eq!(
        head(d),
        before,
        "nothing appended when the letters cannot be written"
    );
    // Issuing is at the head: not with --at-seq.
    let o = run(
        d,
        &[
            "notices", "--month", "2021-12", "--out", ds, "--issue", "--at-seq", "100",
        ],
        "",
    );
    assert_eq!(code(&o), 2);
    assert!(!dir.exists());
    // A prefix with the year brackets in it.
    let o = run(
        d,
        &[
            "notices",
            "--month",
            "2021-12",
            "--out",
            ds,
            "--doc-prefix",
            "示〔财〕",
        ],
        "",
    );
    assert_eq!(code(&o), 2);
    assert!(!dir.exists());
}

#[test]
fn through_a_server_the_letters_land_where_the_user_is() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert_eq!(code(&run(&data, &["demo"], "")), 0);
    let _tokens = wire::RoleTokens::add(&data);
    let server = wire::Serve::start(&data, &[]);
    assert!(!server.addr.is_empty());
    // The user works in another directory and names a relative one.
    let desk = tmp.path().join("desk");
    std::fs::create_dir(&desk).unwrap();
    let o = std::process::Command::new(common::bin())
        .current_dir(&desk)
        .args([
            "--data",
            data.to_str().unwrap(),
            "notices",
            "--month",
            "2021-12",
            "--out",
            "letters",
        ])
        .args([
            "--doc-prefix",
            "示财库",
            "--issue",
            "--issued-on",
            "2022-01-05",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let letters = v["letters"].as_array().unwrap();
    assert!(!letters.is_empty());
    for l in letters {
        assert!(
            l["seq"].as_u64().is_some(),
            "issued through the server's writer"
        );
        let county = l["county"].as_str().unwrap();
        for ext in ["docx", "html"] {
            let f = desk.join("letters").join(format!("2021-12-{county}.{ext}"));
            assert!(f.is_file(), "{} written beside the user", f.display());
        }
    }
    // Nothing went elsewhere (the server's own directory holds no letters).
    assert!(!data.join("letters").exists());
    assert_eq!(
        server.head(),
        v["at_seq"].as_u64().unwrap() + letters.len() as u64
    );
}

#[test]
fn a_rejected_event_is_told_in_chinese_under_lang_zh() {
    let city = tempfile::tempdir().unwrap();
    let d = city.path();
    assert_eq!(code(&run(d, &["demo"], "")), 0);
    let bad = json!({"kind":"transfer_allocated","county":"jianchang","fund":"general","fiscal_year":2022,"amount":"999999999999.00","value_date":"2022-02-20"});
    let zh = run_env(
        d,
        &["append"],
        &[("SANBAO_LANG", "zh")],
        &[],
        &bad.to_string(),
    );
    assert_eq!(zh.status.code(), Some(3));
    let line = one_error_line(&zh);
    assert!(line.starts_with("error: 事件 0：字段 amount："), "{line}");
    assert!(
        line.contains("透支") || line.contains("未拨付额度"),
        "{line}"
    );
    // The same without SANBAO_LANG (and a C locale) stays English.
    let en = run_env(
        d,
        &["append"],
        &[("LC_ALL", "C")],
        &["SANBAO_LANG"],
        &bad.to_string(),
    );
    assert!(
        one_error_line(&en).starts_with("error: event 0: field amount:"),
        "{}",
        one_error_line(&en)
    );
}

#[test]
fn a_conflict_is_told_in_chinese_too() {
    let city = tempfile::tempdir().unwrap();
    let d = city.path();
    assert_eq!(code(&run(d, &["demo"], "")), 0);
    let ok = json!({"kind":"revenue_collected","county":"jianchang","amount":"1.00","collected_on":"2022-02-20"});
    let o = run_env(
        d,
        &["append", "--expect-seq", "7"],
        &[("SANBAO_LANG", "zh")],
        &[],
        &ok.to_string(),
    );
    assert_eq!(o.status.code(), Some(4));
    let line = one_error_line(&o);
    assert!(line.starts_with("error: 预期日志最新为第7号记录"), "{line}");
}
