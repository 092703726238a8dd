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

use super::output::{
    emit, header, section, status_cell, titled_table, to_json_line, Cell, Style, Table, GREEN, L,
    R, RED_BOLD, YELLOW,
};
use super::{MonitorArgs, PositionArgs, ReplayArgs, Target};
use crate::error::CliError;
use crate::query::daily::{daily as compute_daily, Daily, MAX_DAILY_DAYS};
use crate::query::monitor::{monitor as compute_monitor, Monitor, PayrollStatus, Reason};
use crate::query::position::{position as compute_position, Position};
use crate::replay::{self, Replayed};
use crate::state::State;
use crate::values::{CountyId, Date};
use std::fmt::Write as _;

/// `sanbao position` (SPEC §6.1).
///
/// `--county` must name a county registered on or before the (resolved) as_of, else it
/// is a usage error (exit 2): asking for a county the log does not know is a mistake in
/// the command, not an empty answer.
pub fn position(t: &Target, a: PositionArgs) -> Result<(), CliError> {
    let county = a
        .county
        .as_deref()
        .map(|s| CountyId::parse(s).map_err(|e| CliError::usage(format!("--county: {e}"))))
        .transpose()?;
    let p = {
        let state = t.state(a.time.at_seq)?;
        if let Some(id) = &county {
            check_county(&state, id, a.time.as_of)?;
        }
        compute_position(&state, a.time.as_of, county.as_ref())
    };
    if a.json {
        return emit(&to_json_line(&p)?);
    }
    let style = Style::detect();
    let mut out = String::new();
    header(&mut out, &style, "Position", p.as_of, p.at_seq);
    render_position(&mut out, &style, &p);
    emit(&out)
}

/// `sanbao monitor` (SPEC §6.2), or with `--daily` the daily series (按日监测).
pub fn monitor(t: &Target, a: MonitorArgs) -> Result<(), CliError> {
    if a.daily {
        return monitor_daily(t, a);
    }
    if a.from.is_some() || a.to.is_some() || a.county.is_some() {
        return Err(CliError::usage(
            "--from, --to and --county go with --daily (one date: --as-of DATE)".to_string(),
        ));
    }
    // Made under the state, printed after it is let go.
    let out = {
        let state = t.state(a.time.at_seq)?;
        let m = compute_monitor(&state, a.time.as_of);
        if a.json {
            to_json_line(&m)?
        } else {
            let style = Style::detect();
            let mut out = String::new();
            header(&mut out, &style, "Monitor (库款监测)", m.as_of, m.at_seq);
            render_monitor(&mut out, &style, &state, &m);
            out
        }
    };
    emit(&out)
}

/// `sanbao monitor --daily`: the range is checked (from ≤ to, at most
/// [`MAX_DAILY_DAYS`] days, a known county registered by `to`) before anything is
/// computed; every mistake is a usage error (exit 2).
fn monitor_daily(t: &Target, a: MonitorArgs) -> Result<(), CliError> {
    let county = a
        .county
        .as_deref()
        .map(|s| CountyId::parse(s).map_err(|e| CliError::usage(format!("--county: {e}"))))
        .transpose()?;
    let out = {
        let state = t.state(a.time.at_seq)?;
        let to = a.to.or(state.max_effective_date).ok_or_else(|| {
            CliError::usage("--daily: the log holds no events; give --to DATE".to_string())
        })?;
        let from = a.from.unwrap_or_else(|| to.month().first_day());
        if from > to {
            return Err(CliError::usage(format!(
                "--daily: --from {from} is after --to {to}"
            )));
        }
        let days = i64::from(to.to_days() - from.to_days()) + 1;
        if days > MAX_DAILY_DAYS {
            return Err(CliError::usage(format!(
                "--daily: {from}..{to} is {days} days; at most {MAX_DAILY_DAYS} at a time"
            )));
        }
        if let Some(id) = &county {
            check_county(&state, id, Some(to))?;
        }
        let s = compute_daily(&state, from, to, county.as_ref());
        if a.json {
            to_json_line(&s)?
        } else {
            let style = Style::detect();
            let mut out = String::new();
            let _ = writeln!(
                out,
                "{}",
                style.bold(&format!(
                    "Daily monitoring (按日监测) {from} to {to} · known at seq {}",
                    s.at_seq
                ))
            );
            render_daily(&mut out, &style, &s);
            out
        }
    };
    emit(&out)
}

/// The days per status of each month, then every day, of every county in the series.
fn render_daily(out: &mut String, style: &Style, s: &Daily) {
    let mut t = Table::new(&[
        ("county", L),
        ("name", L),
        ("month", L),
        ("days", R),
        ("warning", R),
        ("low", R),
        ("normal", R),
        ("idle", R),
        ("unknown", R),
    ]);
    for c in &s.counties {
        for m in &c.months {
            let count = |n: u32, code| {
                if n > 0 {
                    Cell::styled(n.to_string(), code)
                } else {
                    Cell::plain("0")
                }
            };
            t.row(vec![
                Cell::plain(c.county.as_str()),
                Cell::plain(c.name.as_str()),
                Cell::plain(m.month.to_string()),
                Cell::plain(m.days.to_string()),
                count(m.warning, RED_BOLD),
                count(m.low, YELLOW),
                Cell::plain(m.normal.to_string()),
                Cell::plain(m.idle.to_string()),
                Cell::plain(m.unknown.to_string()),
            ]);
        }
    }
    let title = "Days in each status, by month";
    titled_table(out, style, title, &t, "(no county registered in the range)");
    let mut t = Table::new(&[
        ("county", L),
        ("date", L),
        ("cash", R),
        ("avg_monthly_outflow", R),
        ("level", R),
        ("status", L),
    ]);
    for c in &s.counties {
        for d in &c.days {
            t.row(vec![
                Cell::plain(c.county.as_str()),
                Cell::plain(d.date.to_string()),
                Cell::money(d.cash),
                Cell::opt_money(d.avg_monthly_outflow),
                Cell::opt_ratio(d.guarantee_level),
                status_cell(d.status),
            ]);
        }
    }
    titled_table(out, style, "Day-end figures", &t, "(none)");
}

/// `sanbao replay` (SPEC §5): rebuild from the log alone, verify the chain up to N,
/// recompute issued plans, and print position and monitor as of the given date.
pub fn replay(t: &Target, a: ReplayArgs) -> Result<(), CliError> {
    let (store, head) = t.store()?;
    let head = head.seq;
    let n = a.time.at_seq.unwrap_or(head);
    if n > head {
        return Err(CliError::usage(format!(
            "--at-seq {n} is beyond the log's head (seq {head}); use 0..={head}"
        )));
    }
    // One read of the log: each record is checked (decode, seq, hash, chain) and
    // only then folded; the plans are recomputed as `GET /v1/replay` does.
    let bar = super::output::progress(n, "verifying and replaying");
    let replayed = replay::replay(&store, n, a.time.as_of, |s| bar.set_position(s))?;
    bar.finish_and_clear();
    let (out, state) = match replayed {
        Replayed::Done { report, state } => (report, state),
        Replayed::Broken {
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
    let head_hash = out.head_hash;
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
pub(super) fn check_county(
    state: &State,
    id: &CountyId,
    as_of: Option<Date>,
) -> Result<(), CliError> {
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
        ("outstanding_advances", R),
    ]);
    for c in &p.counties {
        t.row(vec![
            Cell::plain(c.county.as_str()),
            Cell::plain(c.name.as_str()),
            Cell::money(c.treasury),
            Cell::money(c.wage_reserve),
            Cell::money(c.cash),
            if c.outstanding_advances.is_positive() {
                Cell::styled(c.outstanding_advances.grouped(), YELLOW)
            } else {
                Cell::money(c.outstanding_advances)
            },
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
    if t.is_empty() {
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
    titled_table(
        out,
        style,
        "Payroll (deposit deadline = payday − 7 days)",
        &t,
        "(no wage bill declared for this month or the next)",
    );

    let mut t = Table::new(&[
        ("county", L),
        ("month", L),
        ("wage_bill", R),
        ("payday", L),
        ("paid", R),
        ("unpaid", R),
        ("days_overdue", R),
    ]);
    for a in &m.arrears {
        t.row(vec![
            Cell::styled(a.county.as_str(), RED_BOLD),
            Cell::plain(a.payroll_month.to_string()),
            Cell::money(a.wage_bill),
            Cell::plain(a.payday.to_string()),
            Cell::money(a.paid),
            Cell::styled(a.unpaid.grouped(), RED_BOLD),
            Cell::plain(a.days_overdue.to_string()),
        ]);
    }
    let title = "Wage arrears (欠薪: past payday, not paid in full)";
    titled_table(out, style, title, &t, "(none)");

    let mut t = Table::new(&[("county", L), ("fiscal_year", R), ("undispatched", R)]);
    for d in &m.direct_overdue {
        t.row(vec![
            Cell::plain(d.county.as_str()),
            Cell::plain(d.fiscal_year.to_string()),
            Cell::styled(d.undispatched.grouped(), RED_BOLD),
        ]);
    }
    let title = "Direct funds overdue (直达资金 not yet dispatched)";
    titled_table(out, style, title, &t, "(none)");

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
    let title = "Discrepancies (reported ≠ computed day-end balance)";
    titled_table(out, style, title, &t, "(none)");

    let mut t = Table::new(&[("county", L), ("reasons", L)]);
    for w in &m.watchlist {
        t.row(vec![
            Cell::styled(w.county.as_str(), RED_BOLD),
            Cell::plain(reasons_text(&w.reasons)),
        ]);
    }
    titled_table(out, style, "Watch list (重点关注地区)", &t, "(none)");
    render_monitor_history(out, style, m);
}

/// The contract-v2 sections of the monitor table: attention, tight months, the watch
/// list's spells and the late deposits of the payroll history (as_of's month
/// included, so a deposit late this month shows here too).
fn render_monitor_history(out: &mut String, style: &Style, m: &Monitor) {
    let mut t = Table::new(&[("county", L), ("level", R), ("tight_months", R)]);
    for a in &m.attention {
        t.row(vec![
            Cell::styled(a.county.as_str(), YELLOW),
            Cell::ratio(a.guarantee_level),
            Cell::plain(a.tight_months.to_string()),
        ]);
    }
    let title = "Attention (关注: status low, between the warning and the alert line)";
    titled_table(out, style, title, &t, "(none)");

    let mut t = Table::new(&[("county", L), ("months", R), ("since", L)]);
    for x in &m.tight_months {
        t.row(vec![
            Cell::plain(x.county.as_str()),
            Cell::plain(x.months.to_string()),
            Cell::plain(x.since.to_string()),
        ]);
    }
    let title = "Tight months (consecutive months at warning or low, up to this date)";
    titled_table(out, style, title, &t, "(none)");

    let mut t = Table::new(&[("county", L), ("from", L), ("to", L), ("reasons", L)]);
    for h in &m.watch_history {
        for sp in &h.spells {
            t.row(vec![
                Cell::plain(h.county.as_str()),
                Cell::plain(sp.from.to_string()),
                match sp.to {
                    Some(d) => Cell::plain(d.to_string()),
                    None => Cell::styled("(open)", RED_BOLD),
                },
                Cell::plain(reasons_text(&sp.reasons)),
            ]);
        }
    }
    let title = "Watch-list history (spells over the twelve months to this date)";
    titled_table(out, style, title, &t, "(none)");

    let mut t = Table::new(&[
        ("county", L),
        ("month", L),
        ("wage_bill", R),
        ("deadline", L),
        ("deposited_on", L),
        ("days_late", R),
        ("status", L),
    ]);
    for p in m.payroll_history.iter().filter(|p| p.days_late > 0) {
        t.row(vec![
            Cell::plain(p.county.as_str()),
            Cell::plain(p.payroll_month.to_string()),
            Cell::money(p.wage_bill),
            Cell::plain(p.deposit_deadline.to_string()),
            Cell::plain(
                p.deposited_on
                    .map_or_else(|| "(not yet)".into(), |d| d.to_string()),
            ),
            Cell::styled(p.days_late.to_string(), RED_BOLD),
            payroll_cell(p.status),
        ]);
    }
    let title = "Late deposits (payroll history of twelve months, days_late > 0)";
    titled_table(out, style, title, &t, "(none)");
}

/// Watch-list reasons as they are written in JSON, comma-separated.
fn reasons_text(reasons: &[Reason]) -> String {
    reasons
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
