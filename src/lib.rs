//! sanbao — an event-sourced treasury cash-flow scheduler for a city finance bureau
//! under the "three guarantees" (三保).
//!
//! The crate is a functional core with a thin imperative shell:
//! - pure: [`money`], [`values`], [`event`], [`canonical`], [`record`], [`state`],
//!   [`query`], [`chart`] (SVG charts of the queries), [`report`] (the papers: tables,
//!   workbooks, CSV), [`letter`] (the 提示函), [`lang`] (the words people read),
//!   [`schema`] — no I/O, no clock, deterministic;
//! - shell: [`log`] (sled store and the single writer thread), [`cli`] (the commands
//!   behind `main.rs`, with [`error`] mapping failures to exit codes), [`server`] (the
//!   HTTP service), [`desk`] (the web pages it serves), [`follow`] (a standby kept in step with a server's event stream);
//! - measurement: [`bench`](mod@bench) (the seeded workload generator of `sanbao-bench`).
//!
//! See ARCHITECTURE.md for the map and the invariants.

pub mod bench;
pub mod canonical;
pub mod chart;
pub mod cli;
pub mod desk;
pub mod error;
pub mod event;
pub mod follow;
pub mod lang;
pub mod letter;
pub mod log;
pub mod money;
pub mod query;
pub mod record;
pub mod replay;
pub mod report;
pub mod schema;
pub mod server;
pub mod sink;
pub mod state;
pub mod values;

/// Turns transparent huge pages off for this process (Linux; elsewhere nothing). The
/// binaries allocate with mimalloc, which asks for huge pages on its arenas: every
/// 2 MiB page touched is then resident whole, and a 1M-record replay peaked at
/// ~295 MiB instead of ~245 (BENCHMARKS.md). Called first thing in `main`; children
/// inherit it.
pub fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_THP_DISABLE) only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
