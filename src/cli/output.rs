//! Printing for people: progress bars on a terminal (hidden otherwise) and tables.

use crate::state::State;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar over `total` records on stderr, shown only on a terminal and only
/// for long work.
pub fn progress(total: u64, what: &str) -> ProgressBar {
    if total < 100_000 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} records ({per_sec}, {eta})")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A progress bar over `total` bytes on stderr, shown only on a terminal.
pub fn progress_bytes(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A short readable summary of a state: head, counties and their cash on the latest date.
pub fn print_summary(state: &State) {
    println!("Log head: seq {} ({})", state.head_seq, state.head_hash);
    let Some(asof) = state.max_effective_date else {
        println!("The log is empty.");
        return;
    };
    println!("Latest business date: {asof}");
    println!("city.treasury: {:>22}", state.city.through(asof).grouped());
    println!(
        "{:<12} {:<10} {:>22} {:>22} {:>22}",
        "county", "name", "treasury", "wage_reserve", "cash"
    );
    for c in state.counties() {
        println!(
            "{:<12} {:<10} {:>22} {:>22} {:>22}",
            c.id.as_str(),
            c.name.as_str(),
            c.treasury.through(asof).grouped(),
            c.wage_reserve.through(asof).grouped(),
            c.cash_at(asof).grouped()
        );
    }
}
