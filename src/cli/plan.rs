//! `plan` and `forecast`: the planner on the command line (SPEC §5, §6.3, §6.4, §8.31).
//!
//! Both fold the log once up to `--at-seq` (a seq beyond the head is a usage error,
//! exit 2) and print either the JSON object of the SPEC (`--json`, one line) or a
//! report for people: aligned tables, amounts with thousands separators, and — only
//! when standard output is a terminal — colour on shortfalls, warning statuses,
//! emergency recommendations and high risks.
//!
//! `plan --issue` prints the plan as usual, then appends `plan_issued` through the
//! single writer (which recomputes the plan at `based_on_seq` and refuses a hash that
//! does not reproduce) and prints `issued: seq N` on standard error.

use super::{open_at_seq, with_writer, ForecastArgs, PlanArgs};
use crate::error::CliError;
use crate::event::Event;
use crate::money::Money;
use crate::query::forecast::{forecast as compute_forecast, Forecast, Risk};
use crate::query::plan::{plan as compute_plan, Plan};
use crate::query::Status;
use crate::state::State;
use crate::values::Date;
use serde::Serialize;
use serde_json::json;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::Path;

/// `sanbao plan` (SPEC §6.3, §8.31).
pub fn plan(dir: &Path, a: PlanArgs) -> Result<(), CliError> {
    let (store, state) = open_at_seq(dir, a.at_seq)?;
    drop(store);
    let p = compute_plan(&state, a.month);
    if a.json {
        print_json(&p)?;
    } else {
        emit(&render_plan(&state, &p, Style::detect()))?;
    }
    if a.issue {
        let issued_on = a.issued_on.unwrap_or_else(Date::today_utc);
        drop(state);
        let seq = issue(dir, &p, issued_on)?;
        eprintln!("issued: seq {seq}");
    }
    Ok(())
}

/// `sanbao forecast` (SPEC §6.4).
pub fn forecast(dir: &Path, a: ForecastArgs) -> Result<(), CliError> {
    let (store, state) = open_at_seq(dir, a.at_seq)?;
    drop(store);
    let f = compute_forecast(&state, a.from, a.months);
    if a.json {
        print_json(&f)
    } else {
        emit(&render_forecast(&f, Style::detect()))
    }
}

/// Appends `plan_issued` for `p` through the writer; returns the new record's seq.
fn issue(dir: &Path, p: &Plan, issued_on: Date) -> Result<u64, CliError> {
    let v = json!({
        "kind": "plan_issued",
        "month": p.month,
        "based_on_seq": p.based_on_seq,
        "plan_sha256": p.plan_sha256,
        "issued_on": issued_on,
    });
    let input = Event::parse_object(v).map_err(|e| CliError::event(None, &e))?;
    let acks = with_writer(dir, |w, rt| Ok(rt.block_on(w.append(vec![input], None))?))?;
    acks.first()
        .map(|a| a.seq)
        .ok_or_else(|| CliError::io("the writer answered no record for plan_issued"))
}

fn print_json<T: Serialize>(v: &T) -> Result<(), CliError> {
    let mut s = serde_json::to_string(v).map_err(|e| CliError::io(e.to_string()))?;
    s.push('\n');
    emit(&s)
}

fn emit(s: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| CliError::io(format!("cannot write to standard output: {e}")))
}

/// ANSI styling, on only when standard output is a terminal.
#[derive(Clone, Copy)]
struct Style {
    on: bool,
}

impl Style {
    fn detect() -> Style {
        Style {
            on: std::io::stdout().is_terminal(),
        }
    }

    fn paint(self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }
    fn red(self, s: &str) -> String {
        self.paint("1;31", s)
    }
    fn yellow(self, s: &str) -> String {
        self.paint("33", s)
    }
    fn cyan(self, s: &str) -> String {
        self.paint("36", s)
    }
    fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }
}

/// A table cell: its text and an optional paint applied after padding.
type Cell = (String, Option<fn(Style, &str) -> String>);

/// A plain text table: right-aligned columns except those marked left; each cell may
/// carry a paint function applied after padding (so colour never breaks alignment).
struct Table {
    left: Vec<bool>,
    head: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    fn new(cols: &[(&str, bool)]) -> Table {
        Table {
            left: cols.iter().map(|c| c.1).collect(),
            head: cols.iter().map(|c| c.0.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    fn render(&self, st: Style, out: &mut String) {
        let width = |s: &str| s.chars().count();
        let mut w: Vec<usize> = self.head.iter().map(|h| width(h)).collect();
        for r in &self.rows {
            for (i, (c, _)) in r.iter().enumerate() {
                w[i] = w[i].max(width(c));
            }
        }
        let pad = |s: &str, i: usize| {
            let n = w[i].saturating_sub(width(s));
            if self.left[i] {
                format!("{s}{}", " ".repeat(n))
            } else {
                format!("{}{s}", " ".repeat(n))
            }
        };
        let head: Vec<String> = (0..w.len()).map(|i| pad(&self.head[i], i)).collect();
        let _ = writeln!(out, "  {}", st.bold(head.join("  ").trim_end()));
        for r in &self.rows {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, (c, paint))| {
                    let p = pad(c, i);
                    match paint {
                        Some(f) => f(st, &p),
                        None => p,
                    }
                })
                .collect();
            let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
        }
    }
}

fn plain(s: impl Into<String>) -> Cell {
    (s.into(), None)
}

fn painted(s: impl Into<String>, f: fn(Style, &str) -> String) -> Cell {
    (s.into(), Some(f))
}

fn status_cell(s: Status) -> Cell {
    match s {
        Status::Warning => painted(s.as_str(), Style::red),
        Status::Low => painted(s.as_str(), Style::yellow),
        Status::Idle => painted(s.as_str(), Style::cyan),
        Status::Unknown => painted(s.as_str(), Style::dim),
        Status::Normal => plain(s.as_str()),
    }
}

fn money_cell(m: Money, highlight_positive: bool) -> Cell {
    if highlight_positive && m.is_positive() {
        painted(m.grouped(), Style::red)
    } else {
        plain(m.grouped())
    }
}

/// The readable plan report.
fn render_plan(state: &State, p: &Plan, st: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        st.bold(&format!(
            "Dispatch plan for {} — basis date {}, based on seq {}",
            p.month, p.basis_date, p.based_on_seq
        ))
    );
    let shortfall = p.total_planned - p.total_funded;
    let _ = writeln!(
        out,
        "City available (lowest city.treasury balance from {} on): {}",
        p.basis_date,
        p.city_available.grouped()
    );
    let _ = writeln!(
        out,
        "Planned {}   funded {}   shortfall {}",
        p.total_planned.grouped(),
        p.total_funded.grouped(),
        if shortfall.is_positive() {
            st.red(&shortfall.grouped())
        } else {
            shortfall.grouped()
        }
    );
    let _ = writeln!(out, "plan_sha256 {}", p.plan_sha256);

    let _ = writeln!(out, "\n{}", st.bold("Tiers (in funding order)"));
    let mut t = Table::new(&[
        ("fund", true),
        ("planned", false),
        ("funded", false),
        ("shortfall", false),
    ]);
    for tier in &p.tiers {
        t.row(vec![
            plain(tier.fund.as_str()),
            plain(tier.planned.grouped()),
            plain(tier.funded.grouped()),
            money_cell(tier.planned - tier.funded, true),
        ]);
    }
    t.render(st, &mut out);

    let _ = writeln!(out, "\n{}", st.bold("Lines"));
    if p.lines.is_empty() {
        let _ = writeln!(out, "  (nothing to dispatch this month)");
    } else {
        let mut t = Table::new(&[
            ("county", true),
            ("fund", true),
            ("year", false),
            ("planned", false),
            ("funded", false),
            ("shortfall", false),
        ]);
        for l in &p.lines {
            t.row(vec![
                plain(l.county.as_str()),
                plain(l.fund.as_str()),
                plain(l.fiscal_year.to_string()),
                plain(l.planned.grouped()),
                plain(l.funded.grouped()),
                money_cell(l.shortfall, true),
            ]);
        }
        t.render(st, &mut out);
    }

    let _ = writeln!(
        out,
        "\n{}",
        st.bold(&format!("County projections for the end of {}", p.month))
    );
    if p.counties.is_empty() {
        let _ = writeln!(out, "  (no county registered by {})", p.month.last_day());
    } else {
        let mut t = Table::new(&[
            ("county", true),
            ("opening cash", false),
            ("funded in", false),
            ("exp. revenue", false),
            ("needs", false),
            ("projected end", false),
            ("level", false),
            ("status", true),
            ("emergency", false),
            ("wage bill", false),
            ("payday", false),
            ("deposit by", false),
        ]);
        for c in &p.counties {
            let (bill, payday, deadline) = match &c.payroll {
                Some(pay) => (
                    pay.wage_bill.grouped(),
                    pay.payday.to_string(),
                    pay.deposit_deadline.to_string(),
                ),
                None => ("—".into(), "—".into(), "—".into()),
            };
            let end = if c.projected_end.is_negative() {
                painted(c.projected_end.grouped(), Style::red)
            } else {
                plain(c.projected_end.grouped())
            };
            t.row(vec![
                plain(c.county.as_str()),
                plain(c.opening_cash.grouped()),
                plain(c.funded_in.grouped()),
                plain(c.expected_revenue.grouped()),
                plain(c.needs.grouped()),
                end,
                plain(c.projected_level.map_or("—".into(), |l| l.to_string())),
                status_cell(c.status),
                money_cell(c.emergency_recommended, true),
                plain(bill),
                plain(payday),
                plain(deadline),
            ]);
        }
        t.render(st, &mut out);
        let flagged: Vec<String> = p
            .counties
            .iter()
            .filter(|c| c.emergency_recommended.is_positive())
            .map(|c| {
                let name = state
                    .county(&c.county)
                    .map(|x| format!(" ({})", x.name.as_str()))
                    .unwrap_or_default();
                format!(
                    "  {}{name}: {} to stay at the warning line",
                    c.county,
                    c.emergency_recommended.grouped()
                )
            })
            .collect();
        if !flagged.is_empty() {
            let _ = writeln!(
                out,
                "\n{}",
                st.red("Emergency dispatch recommended (below the warning line):")
            );
            for f in flagged {
                let _ = writeln!(out, "{f}");
            }
        }
    }
    out
}

fn risk_cell(r: Risk) -> Cell {
    match r {
        Risk::High => painted(r.as_str(), Style::red),
        Risk::Medium => painted(r.as_str(), Style::yellow),
        Risk::Low => plain(r.as_str()),
    }
}

/// The readable forecast report.
fn render_forecast(f: &Forecast, st: Style) -> String {
    let mut out = String::new();
    let last = f.from.add(f.months as i32 - 1).unwrap_or(f.from);
    let _ = writeln!(
        out,
        "{}",
        st.bold(&format!(
            "Wage-payment risk forecast {} … {} ({} months), based on seq {}",
            f.from, last, f.months, f.based_on_seq
        ))
    );
    let _ = writeln!(
        out,
        "Every month's plan lines are assumed fully funded; expected revenue is {}'s for every month.",
        f.from
    );
    if f.counties.is_empty() {
        let _ = writeln!(out, "\n  (no county registered by {})", f.from.last_day());
        return out;
    }
    let mut t = Table::new(&[
        ("county", true),
        ("month", true),
        ("opening cash", false),
        ("funded in", false),
        ("exp. revenue", false),
        ("needs", false),
        ("wage need", false),
        ("projected end", false),
        ("wage cover", false),
        ("risk", true),
    ]);
    for c in &f.counties {
        for (i, m) in c.months.iter().enumerate() {
            let end = if m.projected_end.is_negative() {
                painted(m.projected_end.grouped(), Style::red)
            } else {
                plain(m.projected_end.grouped())
            };
            t.row(vec![
                plain(if i == 0 { c.county.as_str() } else { "" }),
                plain(m.month.to_string()),
                plain(m.opening_cash.grouped()),
                plain(m.funded_in.grouped()),
                plain(m.expected_revenue.grouped()),
                plain(m.needs.grouped()),
                plain(m.wage_need.grouped()),
                end,
                plain(m.wage_cover.map_or("—".into(), |r| r.to_string())),
                risk_cell(m.risk),
            ]);
        }
    }
    let _ = writeln!(out);
    t.render(st, &mut out);
    let high: Vec<String> = f
        .counties
        .iter()
        .filter_map(|c| {
            let months: Vec<String> = c
                .months
                .iter()
                .filter(|m| m.risk == Risk::High)
                .map(|m| m.month.to_string())
                .collect();
            (!months.is_empty()).then(|| format!("  {}: {}", c.county, months.join(", ")))
        })
        .collect();
    if !high.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            st.red("High risk (cash does not cover the wage need):")
        );
        for h in high {
            let _ = writeln!(out, "{h}");
        }
    }
    out
}

/// The readable plan of `month` over `state` (what `plan` prints without `--json`).
pub(crate) fn plan_text(state: &State, month: crate::values::Month) -> String {
    render_plan(state, &compute_plan(state, month), Style::detect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_paint_only_when_asked() {
        let mut t = Table::new(&[("a", true), ("amount", false)]);
        t.row(vec![plain("xy"), painted("1.00", Style::red)]);
        let mut plain_out = String::new();
        t.render(Style { on: false }, &mut plain_out);
        assert_eq!(plain_out, "  a   amount\n  xy    1.00\n");
        let mut tty = String::new();
        t.render(Style { on: true }, &mut tty);
        assert!(tty.contains("\x1b[1;31m  1.00\x1b[0m"));
    }
}
