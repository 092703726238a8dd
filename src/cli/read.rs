//! `position`, `monitor` and `replay`: the read side on the command line.
//!
//! Each command folds the log once (up to `--at-seq`, validated first: a value beyond
//! the head is a usage error, exit 2), asks the pure query of [`crate::query`], and
//! prints either the JSON object of SPEC §6 (`--json`, one line) or tables for a
//! person: aligned columns, amounts with thousands separators, and statuses in colour
//! when — and only when — standard output is a terminal (and `NO_COLOR` is unset).
//!
//! `replay` is the auditor's path: it never uses a snapshot or cache; it reads the log
//! once, checking each record up to N (decode, seq, hash, chain, with
//! [`crate::log::verify_each`]) before folding it, and exits 5 when the chain breaks or
//! an issued plan does not reproduce. (Recomputing issued plans reads the log again up
//! to the greatest `based_on_seq`, only when there are plans.)

use super::{MonitorArgs, PositionArgs, ReplayArgs};
use crate::error::CliError;
use crate::log::{self, Store, Verified};
use crate::money::{Money, Ratio};
use crate::query::monitor::{monitor as compute_monitor, Monitor, PayrollStatus};
use crate::query::position::{position as compute_position, Position};
use crate::query::Status;
use crate::server::replay::{reproduce_plans, ReplayedPlan};
use crate::state::State;
use crate::values::{CountyId, Date, Sha256Hex};
use serde::Serialize;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::Path;

/// `sanbao position` (SPEC §6.1).
///
/// `--county` must name a county registered on or before the (resolved) as_of, else it
/// is a usage error (exit 2): asking for a county the log does not know is a mistake in
/// the command, not an empty answer.
pub fn position(dir: &Path, a: PositionArgs) -> Result<(), CliError> {
    let county = a
        .county
        .as_deref()
        .map(|s| CountyId::parse(s).map_err(|e| CliError::usage(format!("--county: {e}"))))
        .transpose()?;
    let (_, state) = super::open_at_seq(dir, a.time.at_seq)?;
    if let Some(id) = &county {
        check_county(&state, id, a.time.as_of)?;
    }
    let p = compute_position(&state, a.time.as_of, county.as_ref());
    if a.json {
        return emit(&to_json_line(&p)?);
    }
    let style = Style::detect();
    let mut out = String::new();
    header(&mut out, &style, "Position", p.as_of, p.at_seq);
    render_position(&mut out, &style, &p);
    emit(&out)
}

/// `sanbao monitor` (SPEC §6.2).
pub fn monitor(dir: &Path, a: MonitorArgs) -> Result<(), CliError> {
    let (_, state) = super::open_at_seq(dir, a.time.at_seq)?;
    let m = compute_monitor(&state, a.time.as_of);
    if a.json {
        return emit(&to_json_line(&m)?);
    }
    let style = Style::detect();
    let mut out = String::new();
    header(&mut out, &style, "Monitor (库款监测)", m.as_of, m.at_seq);
    render_monitor(&mut out, &style, &state, &m);
    emit(&out)
}

/// The `replay` object of SPEC §5.
#[derive(Clone, Debug, Serialize)]
struct ReplayOutput {
    at_seq: u64,
    head_hash: Sha256Hex,
    monitor: Monitor,
    plans: Vec<ReplayedPlan>,
    position: Position,
}

/// Recomputes every `plan_issued` with seq ≤ the state's head, in seq order with
/// superseded issues included (SPEC §8.20), and says whether each reproduces.
///
/// Each plan is recomputed from a state folded from the stored records
/// `1..=based_on_seq` (never a snapshot), by the same function the service's
/// `GET /v1/replay` uses ([`crate::server::replay::reproduce_plans`]), so the command
/// and the route always agree. `replay` exits 5 when any plan has `reproduced: false`.
pub fn replay_plans(store: &Store, state: &State) -> Result<Vec<ReplayedPlan>, CliError> {
    Ok(reproduce_plans(store, state)?)
}

/// `sanbao replay` (SPEC §5): rebuild from the log alone, verify the chain up to N,
/// recompute issued plans, and print position and monitor as of the given date.
pub fn replay(dir: &Path, a: ReplayArgs) -> Result<(), CliError> {
    let store = Store::open(dir)?;
    let head = store.head()?.seq;
    let n = a.time.at_seq.unwrap_or(head);
    if n > head {
        return Err(CliError::usage(format!(
            "--at-seq {n} is beyond the log's head (seq {head}); use 0..={head}"
        )));
    }
    // One read of the log: each record is checked (decode, seq, hash, chain) and
    // only then folded; if the chain breaks, the partial state is thrown away.
    let bar = super::output::progress(n, "verifying and replaying");
    let mut state = State::new();
    let verified = log::verify_each(
        &store,
        Some(n),
        |s| bar.set_position(s),
        |r| {
            state.fold(r);
        },
    )?;
    bar.finish_and_clear();
    let head_hash = match verified {
        Verified::Ok { head_hash, .. } => head_hash,
        Verified::Bad {
            first_bad_seq,
            reason,
        } => {
            if a.json {
                emit(&format!(
                    "{}\n",
                    serde_json::json!({"first_bad_seq": first_bad_seq, "ok": false, "reason": reason})
                ))?;
            } else {
                emit(&format!(
                    "FAILED: the chain breaks at seq {first_bad_seq}: {reason}\n"
                ))?;
            }
            return Err(CliError::verification(format!(
                "replay: verification failed at seq {first_bad_seq}: {reason}"
            )));
        }
    };
    if state.head_seq != n || state.head_hash != head_hash {
        return Err(CliError::verification(format!(
            "replay: the folded log ends at seq {} but the verified chain at seq {n}",
            state.head_seq
        )));
    }
    let plans = replay_plans(&store, &state)?;
    let out = ReplayOutput {
        at_seq: n,
        head_hash,
        monitor: compute_monitor(&state, a.time.as_of),
        plans,
        position: compute_position(&state, a.time.as_of, None),
    };
    if a.json {
        emit(&to_json_line(&out)?)?;
    } else {
        let style = Style::detect();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}",
            style.bold(&format!(
                "Replay: rebuilt from the log alone; chain verified for records 1..={n}"
            ))
        );
        let _ = writeln!(s, "head hash (record {n}): {head_hash}");
        let _ = writeln!(s);
        header(&mut s, &style, "Position", out.position.as_of, n);
        render_position(&mut s, &style, &out.position);
        let _ = writeln!(s);
        header(&mut s, &style, "Monitor (库款监测)", out.monitor.as_of, n);
        render_monitor(&mut s, &style, &state, &out.monitor);
        let _ = writeln!(s);
        section(&mut s, &style, "Issued plans");
        if out.plans.is_empty() {
            let _ = writeln!(s, "  (none)");
        } else {
            let mut t = Table::new(&[
                ("month", L),
                ("based_on_seq", R),
                ("plan_sha256", L),
                ("reproduced", L),
            ]);
            for p in &out.plans {
                t.row(vec![
                    Cell::plain(p.month.to_string()),
                    Cell::plain(p.based_on_seq.to_string()),
                    Cell::plain(p.plan_sha256.to_hex()),
                    if p.reproduced {
                        Cell::styled("yes", GREEN)
                    } else {
                        Cell::styled("NO", RED_BOLD)
                    },
                ]);
            }
            t.render(&mut s, &style);
        }
        emit(&s)?;
    }
    if let Some(p) = out.plans.iter().find(|p| !p.reproduced) {
        return Err(CliError::verification(format!(
            "replay: the plan of {} issued at seq {} does not reproduce its plan_sha256",
            p.month, p.based_on_seq
        )));
    }
    Ok(())
}

/// `--county` must name a county registered on or before as_of.
fn check_county(state: &State, id: &CountyId, as_of: Option<Date>) -> Result<(), CliError> {
    let Some(c) = state.county(id) else {
        let known: Vec<&str> = state.counties().map(|c| c.id.as_str()).collect();
        return Err(CliError::usage(if known.is_empty() {
            format!(
                "--county {id}: no county is registered in the log (at seq {})",
                state.head_seq
            )
        } else {
            format!(
                "--county {id}: no such county (at seq {}); known: {}",
                state.head_seq,
                known.join(", ")
            )
        }));
    };
    let d = as_of.or(state.max_effective_date);
    if d.map_or(true, |d| c.registered_on > d) {
        return Err(CliError::usage(format!(
            "--county {id}: registered on {}, after the as_of date {}",
            c.registered_on,
            d.map_or_else(|| "(none)".to_string(), |d| d.to_string())
        )));
    }
    Ok(())
}

/// Serializes one object as a single JSON line.
fn to_json_line<T: Serialize>(v: &T) -> Result<String, CliError> {
    let mut s =
        serde_json::to_string(v).map_err(|e| CliError::io(format!("cannot write JSON: {e}")))?;
    s.push('\n');
    Ok(s)
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
fn emit(s: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::io(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

// ---- printing for people ------------------------------------------------------------

/// ANSI styles, used only when standard output is a terminal.
struct Style {
    color: bool,
}

const RED_BOLD: &str = "1;31";
const YELLOW: &str = "33";
const GREEN: &str = "32";
const CYAN: &str = "36";
const DIM: &str = "2";
const BOLD: &str = "1";

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is not set.
    fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: std::io::stdout().is_terminal() && !no_color,
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn bold(&self, s: &str) -> String {
        self.paint(BOLD, s)
    }
}

fn header(out: &mut String, style: &Style, what: &str, as_of: Option<Date>, at_seq: u64) {
    let date = as_of.map_or_else(|| "— (the log is empty)".to_string(), |d| d.to_string());
    let _ = writeln!(
        out,
        "{}",
        style.bold(&format!("{what} as of {date} · known at seq {at_seq}"))
    );
}

fn section(out: &mut String, style: &Style, title: &str) {
    let _ = writeln!(out, "{}", style.bold(title));
}

/// Column alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}
const L: Align = Align::Left;
const R: Align = Align::Right;

/// One table cell: its text and an optional ANSI style.
struct Cell {
    text: String,
    code: Option<&'static str>,
}

impl Cell {
    fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            code: None,
        }
    }
    fn styled(text: impl Into<String>, code: &'static str) -> Cell {
        Cell {
            text: text.into(),
            code: Some(code),
        }
    }
    fn money(m: Money) -> Cell {
        Cell::plain(m.grouped())
    }
    fn opt_money(m: Option<Money>) -> Cell {
        m.map_or_else(|| Cell::styled("—", DIM), Cell::money)
    }
    fn ratio(r: Ratio) -> Cell {
        Cell::plain(r.to_string())
    }
    fn opt_ratio(r: Option<Ratio>) -> Cell {
        r.map_or_else(|| Cell::styled("—", DIM), Cell::ratio)
    }
}

/// A table with aligned columns; widths count East Asian wide characters as two.
struct Table {
    heads: Vec<(&'static str, Align)>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    fn new(heads: &[(&'static str, Align)]) -> Table {
        Table {
            heads: heads.to_vec(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.heads.len());
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String, style: &Style) {
        let n = self.heads.len();
        let mut widths: Vec<usize> = self.heads.iter().map(|(h, _)| width(h)).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(width(&c.text));
            }
        }
        let line = |out: &mut String, cells: Vec<(String, Option<&str>)>| {
            out.push_str("  ");
            let last = cells.len().saturating_sub(1);
            for (i, (text, code)) in cells.into_iter().enumerate() {
                let pad = widths[i] - width(&text);
                let painted = match code {
                    Some(c) => style.paint(c, &text),
                    None => text,
                };
                let align = self.heads[i].1;
                if align == Align::Right {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(&painted);
                } else {
                    out.push_str(&painted);
                    if i != last {
                        out.push_str(&" ".repeat(pad));
                    }
                }
                if i != last {
                    out.push_str("  ");
                }
            }
            out.push('\n');
        };
        line(
            out,
            self.heads
                .iter()
                .map(|(h, _)| (h.to_string(), Some(DIM)))
                .collect(),
        );
        for r in &self.rows {
            line(out, r.iter().map(|c| (c.text.clone(), c.code)).collect());
        }
    }
}

/// Display width of a string on a terminal: East Asian wide and fullwidth characters
/// count two columns, everything else one.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let u = c as u32;
            let wide = matches!(u,
                0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
                | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
                | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD);
            if wide {
                2
            } else {
                1
            }
        })
        .sum()
}

fn status_cell(s: Status) -> Cell {
    let code = match s {
        Status::Warning => RED_BOLD,
        Status::Low => YELLOW,
        Status::Normal => GREEN,
        Status::Idle => CYAN,
        Status::Unknown => DIM,
    };
    Cell::styled(s.as_str(), code)
}

fn payroll_cell(s: PayrollStatus) -> Cell {
    let code = match s {
        PayrollStatus::Paid => GREEN,
        PayrollStatus::Funded => GREEN,
        PayrollStatus::Late => RED_BOLD,
        PayrollStatus::Due => YELLOW,
    };
    Cell::styled(s.as_str(), code)
}

fn render_position(out: &mut String, style: &Style, p: &Position) {
    let Some(_) = p.as_of else {
        let _ = writeln!(out, "  The log holds no events: nothing to show.");
        return;
    };
    let _ = writeln!(out, "  city.treasury  {}", p.city.treasury.grouped());
    let _ = writeln!(out);
    section(out, style, "Counties (day-end balances)");
    if p.counties.is_empty() {
        let _ = writeln!(out, "  (no county registered on or before this date)");
        return;
    }
    let mut t = Table::new(&[
        ("county", L),
        ("name", L),
        ("treasury", R),
        ("wage_reserve", R),
        ("cash", R),
    ]);
    for c in &p.counties {
        t.row(vec![
            Cell::plain(c.county.as_str()),
            Cell::plain(c.name.as_str()),
            Cell::money(c.treasury),
            Cell::money(c.wage_reserve),
            Cell::money(c.cash),
        ]);
    }
    t.render(out, style);
    let _ = writeln!(out);
    section(out, style, "Funds (entitled / dispatched / remaining)");
    let mut t = Table::new(&[
        ("county", L),
        ("fiscal_year", R),
        ("fund", L),
        ("entitled", R),
        ("dispatched", R),
        ("remaining", R),
    ]);
    for c in &p.counties {
        for f in &c.funds {
            t.row(vec![
                Cell::plain(c.county.as_str()),
                Cell::plain(f.fiscal_year.to_string()),
                Cell::plain(f.fund.as_str()),
                Cell::money(f.entitled),
                Cell::money(f.dispatched),
                if f.remaining.is_negative() {
                    Cell::styled(f.remaining.grouped(), YELLOW)
                } else {
                    Cell::money(f.remaining)
                },
            ]);
        }
    }
    if t.rows.is_empty() {
        let _ = writeln!(out, "  (none)");
    } else {
        t.render(out, style);
    }
}

fn render_monitor(out: &mut String, style: &Style, state: &State, m: &Monitor) {
    if m.as_of.is_none() {
        let _ = writeln!(out, "  The log holds no events: nothing to monitor.");
        return;
    }
    section(
        out,
        style,
        "Guarantee levels (库款保障水平 = cash ÷ average monthly outflow)",
    );
    if m.counties.is_empty() {
        let _ = writeln!(out, "  (no county registered on or before this date)");
    } else {
        let mut t = Table::new(&[
            ("county", L),
            ("name", L),
            ("cash", R),
            ("avg_monthly_outflow", R),
            ("level", R),
            ("status", L),
            ("warning", R),
            ("alert", R),
            ("idle", R),
        ]);
        for c in &m.counties {
            let name = state
                .county(&c.county)
                .map_or_else(String::new, |x| x.name.as_str().to_string());
            t.row(vec![
                Cell::plain(c.county.as_str()),
                Cell::plain(name),
                Cell::money(c.cash),
                Cell::opt_money(c.avg_monthly_outflow),
                Cell::opt_ratio(c.guarantee_level),
                status_cell(c.status),
                Cell::ratio(c.warning_line),
                Cell::ratio(c.alert_line),
                Cell::ratio(c.idle_line),
            ]);
        }
        t.render(out, style);
    }
    let _ = writeln!(out);
    section(out, style, "Payroll (deposit deadline = payday − 7 days)");
    if m.payroll.is_empty() {
        let _ = writeln!(out, "  (no wage bill declared for this month or the next)");
    } else {
        let mut t = Table::new(&[
            ("county", L),
            ("month", L),
            ("wage_bill", R),
            ("payday", L),
            ("deadline", L),
            ("deposited", R),
            ("paid", R),
            ("shortfall", R),
            ("status", L),
        ]);
        for p in &m.payroll {
            t.row(vec![
                Cell::plain(p.county.as_str()),
                Cell::plain(p.payroll_month.to_string()),
                Cell::money(p.wage_bill),
                Cell::plain(p.payday.to_string()),
                Cell::plain(p.deposit_deadline.to_string()),
                Cell::money(p.deposited),
                Cell::money(p.paid),
                if p.shortfall.is_positive() {
                    Cell::styled(p.shortfall.grouped(), YELLOW)
                } else {
                    Cell::money(p.shortfall)
                },
                payroll_cell(p.status),
            ]);
        }
        t.render(out, style);
    }
    let _ = writeln!(out);
    section(
        out,
        style,
        "Direct funds overdue (直达资金 not yet dispatched)",
    );
    if m.direct_overdue.is_empty() {
        let _ = writeln!(out, "  (none)");
    } else {
        let mut t = Table::new(&[("county", L), ("fiscal_year", R), ("undispatched", R)]);
        for d in &m.direct_overdue {
            t.row(vec![
                Cell::plain(d.county.as_str()),
                Cell::plain(d.fiscal_year.to_string()),
                Cell::styled(d.undispatched.grouped(), RED_BOLD),
            ]);
        }
        t.render(out, style);
    }
    let _ = writeln!(out);
    section(
        out,
        style,
        "Discrepancies (reported ≠ computed day-end balance)",
    );
    if m.discrepancies.is_empty() {
        let _ = writeln!(out, "  (none)");
    } else {
        let mut t = Table::new(&[
            ("county", L),
            ("account", L),
            ("on", L),
            ("reported", R),
            ("computed", R),
            ("difference", R),
        ]);
        for d in &m.discrepancies {
            t.row(vec![
                Cell::plain(d.county.as_str()),
                Cell::plain(d.account.as_str()),
                Cell::plain(d.on.to_string()),
                Cell::money(d.reported),
                Cell::money(d.computed),
                Cell::styled((d.reported - d.computed).grouped(), RED_BOLD),
            ]);
        }
        t.render(out, style);
    }
    let _ = writeln!(out);
    section(out, style, "Watch list (重点关注地区)");
    if m.watchlist.is_empty() {
        let _ = writeln!(out, "  (none)");
    } else {
        let mut t = Table::new(&[("county", L), ("reasons", L)]);
        for w in &m.watchlist {
            let reasons: Vec<&str> = w.reasons.iter().map(|r| r.as_str()).collect();
            t.row(vec![
                Cell::styled(w.county.as_str(), RED_BOLD),
                Cell::plain(reasons.join(", ")),
            ]);
        }
        t.render(out, style);
    }
}
