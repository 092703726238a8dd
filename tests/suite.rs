//! sanbao's integration tests, one module per file of `tests/`, in one test binary.
//!
//! Each module drives the built `sanbao` (and `sanbao-chaos`) as a user does, or the
//! library through its public API; `common`, `wire`, `inproc` and `deskkit` are the
//! shared helpers. One binary instead of one per file: linking the whole crate into
//! each of 48 binaries took half of CI's build. Run one file's tests with
//! `cargo test --release --test suite -- NAME::` (e.g. `golden::`).

mod common;
mod deskkit;
mod inproc;
mod wire;

mod api_sweep;
mod approval;
mod auditor_script;
mod beside_server;
mod chart_cli;
mod concurrency;
mod crash;
mod crash_artifacts;
mod damaged_files;
mod desk;
mod desk_browser;
mod desk_forms;
mod desk_journal_audit;
mod disk_faults;
mod dry_run;
mod full_disk;
mod golden;
mod golden_papers;
mod golden_plans;
mod hostile_cli;
mod hostile_http;
mod hostile_input;
mod http;
mod installed;
mod kill_cycles;
mod letter_pdf;
mod metrics;
mod notices;
mod openapi;
mod operating;
mod oversight;
mod papers;
mod parallel_paths;
mod plan_execute;
mod planner_cli;
mod planner_props;
mod policy_v2;
mod read_side;
mod schemas;
mod service_faults;
mod sink_postgres;
mod slow_clients;
mod snapshots;
mod standby;
mod storage_faults;
mod whatif;
mod write_side;
mod wrong_people;

/// With `autotests = false` a file of `tests/` left out of the list above would never
/// be compiled or run, and nothing else would say so: this does.
#[test]
fn every_file_of_tests_is_a_module_of_the_suite() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let declared: std::collections::BTreeSet<String> = include_str!("suite.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .map(str::to_string)
        .collect();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/") {
        let path = entry.expect("an entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let is_module = if path.is_dir() {
            path.join("mod.rs").exists()
        } else {
            path.extension().is_some_and(|e| e == "rs") && name != "suite"
        };
        if is_module {
            files.push(name);
        }
    }
    files.sort();
    assert!(
        files.len() > 40,
        "tests/ holds the integration tests: {files:?}"
    );
    let missing: Vec<&String> = files.iter().filter(|f| !declared.contains(*f)).collect();
    assert!(
        missing.is_empty(),
        "tests/{missing:?} not declared in tests/suite.rs: add `mod NAME;` there"
    );
}
