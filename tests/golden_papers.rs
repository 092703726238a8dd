//! Golden papers of the sample city (issue 16): the Chinese tables of `position`,
//! `monitor`, `monitor --daily`, `plan` and `forecast`, and one 提示函 (its HTML),
//! compared byte for byte with `replay/sample-city/expected/papers/`.
//!
//! The hash of the head record covers `recorded_at`, which differs per import, so it
//! is replaced by a marker before comparing (the figures and every other word are
//! compared as they are). Regenerate with `SANBAO_BLESS=1 cargo test --release --test
//! suite golden_papers::`, and read the diff: these files are what a bureau's clerk sees.

use crate::common;

use common::{code, run, stderr, stdout};
use std::path::{Path, PathBuf};

const HASH_MARKER: &str = "<head hash>";

/// Replaces every 64-hex-digit run that is not a plan_sha256 shown as such with the
/// marker (the head hash; plan hashes are deterministic and stay).
fn mask_head_hash(text: &str, head: &str) -> String {
    text.replace(head, HASH_MARKER)
}

fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("replay/sample-city/expected/papers")
}

fn check(name: &str, got: &str, failures: &mut Vec<String>) {
    let file = expected_dir().join(name);
    if std::env::var("SANBAO_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(expected_dir()).unwrap();
        std::fs::write(&file, got).unwrap();
        return;
    }
    match std::fs::read_to_string(&file) {
        Ok(want) if want == got => {}
        Ok(want) => {
            let line = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(want.lines().count().min(got.lines().count()));
            failures.push(format!(
                "{name}: differs from line {}:\n  want: {:?}\n  got:  {:?}",
                line + 1,
                want.lines().nth(line),
                got.lines().nth(line)
            ));
        }
        Err(e) => failures.push(format!(
            "{}: {e}: run SANBAO_BLESS=1 cargo test --release --test suite golden_papers:: and review it",
            file.display()
        )),
    }
}

#[test]
fn the_sample_citys_chinese_papers_match_their_golden_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = run(d, &["demo"], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&run(d, &["verify", "--json"], ""))).unwrap();
    let head = v["head_hash"].as_str().unwrap().to_string();
    let mut failures = Vec::new();
    let tables: &[(&str, &[&str])] = &[
        (
            "position-2021-12-31.zh.txt",
            &["position", "--as-of", "2021-12-31"],
        ),
        (
            "monitor-2021-12-31.zh.txt",
            &["monitor", "--as-of", "2021-12-31"],
        ),
        (
            "monitor-2021-06-18.zh.txt",
            &["monitor", "--as-of", "2021-06-18"],
        ),
        (
            "daily-jianchang-2021-12.zh.txt",
            &[
                "monitor",
                "--daily",
                "--from",
                "2021-12-01",
                "--to",
                "2021-12-31",
                "--county",
                "jianchang",
            ],
        ),
        ("plan-2022-02.zh.txt", &["plan", "--month", "2022-02"]),
        (
            "plan-2022-02.wan.zh.txt",
            &["plan", "--month", "2022-02", "--unit", "wan"],
        ),
        (
            "forecast-2022-01.zh.txt",
            &["forecast", "--from", "2022-01"],
        ),
    ];
    for (name, args) in tables {
        let mut a = args.to_vec();
        a.extend(["--lang", "zh"]);
        let o = run(d, &a, "");
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        check(name, &mask_head_hash(&stdout(&o), &head), &mut failures);
    }
    // One letter: 建昌县's 提示函 for December 2021, as drafted.
    let letters = tempfile::tempdir().unwrap();
    let o = run(
        d,
        &[
            "notices",
            "--month",
            "2021-12",
            "--out",
            letters.path().to_str().unwrap(),
            "--doc-prefix",
            "示财库",
            "--issuer",
            "示范市财政局",
            "--issued-on",
            "2022-01-05",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let html = std::fs::read_to_string(letters.path().join("2021-12-jianchang.html")).unwrap();
    check(
        "notice-2021-12-jianchang.html",
        &mask_head_hash(&html, &head),
        &mut failures,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
