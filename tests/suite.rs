//! sanbao's integration tests, one module per file of `tests/`, in one test binary.
//!
//! Each module drives the built `sanbao` (and `sanbao-chaos`) as a user does, or the
//! library through its public API; `common`, `wire`, `inproc` and `deskkit` are the
//! shared helpers. One binary instead of one per file: linking the whole crate into
//! each of 52 binaries took half of CI's build. Run one file's tests with
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
