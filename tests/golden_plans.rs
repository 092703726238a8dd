//! Golden plans for the sample city (replay/sample-city): imports its events into a
//! temporary log with the real binary, runs `plan --month M --at-seq N --json` for
//! every `plan_queries` entry of checkpoints.json, and
//!
//! 1. cross-checks the figures that generate.py computed independently (month,
//!    based_on_seq, basis_date, city_available, totals, tiers, lines, and the county
//!    projections, under the policy the query names);
//! 2. compares the whole plan with `replay/sample-city/expected/plan-<M>-at-<N>.json`
//!    (set `SANBAO_BLESS=1` to write those files from the current output);
//! 3. checks that each golden file's plan_sha256 is the SHA-256 of the canonical JSON
//!    of its other members, so the files can be audited without sanbao.
//!
//! The queries include 2021-10 at seq 1495 (v1, just before the bureau switches to
//! planning policy v2) and at seq 1528 (v2), where the city cannot fund every line.

use sanbao::canonical::sha256_canonical;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("replay/sample-city")
}

fn sanbao(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_sanbao"))
        .arg("--data")
        .arg(dir)
        .args(args)
        .env_remove("SANBAO_DATA")
        .output()
        .expect("run sanbao");
    assert!(
        out.status.success(),
        "sanbao {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn sample_city_plans_match_python_and_the_golden_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let events = root().join("events.jsonl");
    sanbao(dir, &["import", events.to_str().unwrap()]);

    let checkpoints: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("checkpoints.json")).unwrap())
            .unwrap();
    let queries = checkpoints["plan_queries"]
        .as_array()
        .expect("plan_queries");
    assert!(queries.len() >= 3, "the sample has its plan queries");
    let bless = std::env::var("SANBAO_BLESS").is_ok_and(|v| v == "1");
    let mut short_months = Vec::new();
    let mut failures = Vec::new();

    for q in queries {
        let month = q["month"].as_str().unwrap();
        let at = q["at_seq"].as_u64().unwrap();
        let out = sanbao(
            dir,
            &[
                "plan",
                "--month",
                month,
                "--at-seq",
                &at.to_string(),
                "--json",
            ],
        );
        let plan: Value = serde_json::from_slice(&out).expect("plan JSON");

        // 1. Python's independent figures.
        let expected = q["expected"].as_object().expect("expected");
        for (k, want) in expected {
            if &plan[k] != want {
                failures.push(format!(
                    "{month} at {at}: {k} differs from generate.py\n  sanbao: {}\n  python: {want}",
                    plan[k]
                ));
            }
        }
        // The county projections, where generate.py computed them (under the query's
        // own policy: v2's needs, levels and emergency figures for v2 queries).
        if let Some(want) = q.get("counties") {
            if &plan["counties"] != want {
                failures.push(format!(
                    "{month} at {at}: counties differ from generate.py\n  sanbao: {}\n  python: {want}",
                    plan["counties"]
                ));
            }
        }
        if plan["total_funded"] != plan["total_planned"] {
            short_months.push(format!("{month}@{at}"));
        }

        // 2. The golden file.
        let path = root()
            .join("expected")
            .join(format!("plan-{month}-at-{at}.json"));
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let mut text = serde_json::to_string_pretty(&plan).unwrap();
            text.push('\n');
            std::fs::write(&path, text).unwrap();
        }
        let golden: Value = match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).expect("golden JSON"),
            Err(e) => {
                failures.push(format!(
                    "{}: {e} (run with SANBAO_BLESS=1 to write it)",
                    path.display()
                ));
                continue;
            }
        };
        if golden != plan {
            failures.push(format!(
                "{month} at {at}: the plan differs from {}",
                path.display()
            ));
        }

        // The policy each query names is the one the plan followed.
        if let Some(policy) = q.get("policy") {
            if &plan["policy"] != policy {
                failures.push(format!(
                    "{month} at {at}: policy {} but generate.py says {policy}",
                    plan["policy"]
                ));
            }
        }

        // 3. The golden file's hash is over its own members (a v1 plan's `policy`
        // stays outside it, docs/planning-policy-v2.md §6).
        let mut members = golden.as_object().unwrap().clone();
        let sha = members.remove("plan_sha256").expect("plan_sha256");
        if members.get("policy") == Some(&Value::from("v1")) {
            members.remove("policy");
        }
        let recomputed = hex::encode(sha256_canonical(&Value::Object(members)));
        if sha.as_str() != Some(recomputed.as_str()) {
            failures.push(format!(
                "{}: plan_sha256 {sha} is not the hash of its members ({recomputed})",
                path.display()
            ));
        }
    }

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        short_months,
        ["2021-10@1495", "2021-10@1528"],
        "exactly one sample month cannot be funded in full: October 2021, under v1 before the switch and v2 after"
    );
}
