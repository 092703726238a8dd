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

use super::output::{emit, status_cell, to_json_line, Cell, Style, Table, L, R, RED_BOLD, YELLOW};
use super::{ForecastArgs, PlanArgs, Target};
use crate::error::CliError;
use crate::event::Event;
use crate::money::Money;
use crate::query::forecast::{forecast as compute_forecast, Forecast, Risk};
use crate::query::plan::{plan as compute_plan, Plan};
use crate::state::State;
use crate::values::{Date, Month, PlanningPolicy};
use serde::Serialize;
use serde_json::json;
use std::fmt::Write as _;

/// `sanbao plan` (SPEC §6.3, §8.31).
pub fn plan(t: &Target, a: PlanArgs) -> Result<(), CliError> {
    // Made under the state, which is let go before printing and issuing.
    let (p, text) = {
        let state = t.state(a.at_seq)?;
        let p = compute_plan(&state, a.month);
        let text = if a.json {
            to_json_line(&p)?
        } else {
            render_plan(&state, &p, &Style::detect())
        };
        (p, text)
    };
    emit(&text)?;
    if a.issue {
        let issued_on = a.issued_on.unwrap_or_else(Date::today_utc);
        let seq = issue(t, &p, issued_on)?;
        super::output::note(&format!("issued: seq {seq}"));
    }
    Ok(())
}

/// `sanbao forecast` (SPEC §6.4).
pub fn forecast(t: &Target, a: ForecastArgs) -> Result<(), CliError> {
    let f = {
        let state = t.state(a.at_seq)?;
        compute_forecast(&state, a.from, a.months)
    };
    if a.json {
        print_json(&f)
    } else {
        emit(&render_forecast(&f, &Style::detect()))
    }
}

/// Appends `plan_issued` for `p` through the writer; returns the new record's seq.
fn issue(t: &Target, p: &Plan, issued_on: Date) -> Result<u64, CliError> {
    let v = json!({
        "kind": "plan_issued",
        "month": p.month,
        "based_on_seq": p.based_on_seq,
        "plan_sha256": p.plan_sha256,
        "issued_on": issued_on,
    });
    let input = Event::parse_object(v).map_err(|e| CliError::event(None, &e))?;
    let acks = t.with_writer(|w, rt| Ok(rt.block_on(w.append(vec![input], None))?))?;
    acks.first()
        .map(|a| a.seq)
        .ok_or_else(|| CliError::io("the writer answered no record for plan_issued"))
}

fn print_json<T: Serialize>(v: &T) -> Result<(), CliError> {
    emit(&to_json_line(v)?)
}

/// An amount that should be zero (a shortfall, an emergency need): red when it is not.
fn shortfall_cell(m: Money) -> Cell {
    if m.is_positive() {
        Cell::styled(m.grouped(), RED_BOLD)
    } else {
        Cell::plain(m.grouped())
    }
}

/// The readable plan report.
fn render_plan(state: &State, p: &Plan, st: &Style) -> String {
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
            st.paint(RED_BOLD, &shortfall.grouped())
        } else {
            shortfall.grouped()
        }
    );
    let _ = writeln!(out, "plan_sha256 {}", p.plan_sha256);
    let _ = writeln!(out, "Planning policy {}", policy_words(p.policy));

    let _ = writeln!(out, "\n{}", st.bold("Tiers (in funding order)"));
    let mut t = Table::new(&[("fund", L), ("planned", R), ("funded", R), ("shortfall", R)]);
    for tier in &p.tiers {
        t.row(vec![
            Cell::plain(tier.fund.as_str()),
            Cell::plain(tier.planned.grouped()),
            Cell::plain(tier.funded.grouped()),
            shortfall_cell(tier.planned - tier.funded),
        ]);
    }
    t.render(&mut out, st);

    let _ = writeln!(out, "\n{}", st.bold("Lines"));
    if p.lines.is_empty() {
        let _ = writeln!(out, "  (nothing to dispatch this month)");
    } else {
        let mut t = Table::new(&[
            ("county", L),
            ("fund", L),
            ("year", R),
            ("planned", R),
            ("funded", R),
            ("shortfall", R),
        ]);
        for l in &p.lines {
            t.row(vec![
                Cell::plain(l.county.as_str()),
                Cell::plain(l.fund.as_str()),
                Cell::plain(l.fiscal_year.to_string()),
                Cell::plain(l.planned.grouped()),
                Cell::plain(l.funded.grouped()),
                shortfall_cell(l.shortfall),
            ]);
        }
        t.render(&mut out, st);
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
            ("county", L),
            ("opening cash", R),
            ("funded in", R),
            ("exp. revenue", R),
            ("needs", R),
            ("projected end", R),
            ("level", R),
            ("status", L),
            ("emergency", R),
            ("wage bill", R),
            ("payday", R),
            ("deposit by", R),
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
                Cell::styled(c.projected_end.grouped(), RED_BOLD)
            } else {
                Cell::plain(c.projected_end.grouped())
            };
            t.row(vec![
                Cell::plain(c.county.as_str()),
                Cell::plain(c.opening_cash.grouped()),
                Cell::plain(c.funded_in.grouped()),
                Cell::plain(c.expected_revenue.grouped()),
                Cell::plain(c.needs.grouped()),
                end,
                Cell::plain(c.projected_level.map_or("—".into(), |l| l.to_string())),
                status_cell(c.status),
                shortfall_cell(c.emergency_recommended),
                Cell::plain(bill),
                Cell::plain(payday),
                Cell::plain(deadline),
            ]);
        }
        t.render(&mut out, st);
        let flagged: Vec<String> = p
            .counties
            .iter()
            .filter(|c| c.emergency_recommended.is_positive())
            .map(|c| {
                let name = state
                    .county(&c.county)
                    .map(|x| format!(" ({})", x.name.as_str()))
                    .unwrap_or_default();
                let why = if c.projected_level.is_some() {
                    "to stay at the warning line"
                } else {
                    // Only v2 recommends without a level: the wage term (doc §3).
                    "to pay the month's wage need"
                };
                format!(
                    "  {}{name}: {} {why}",
                    c.county,
                    c.emergency_recommended.grouped()
                )
            })
            .collect();
        if !flagged.is_empty() {
            let _ = writeln!(
                out,
                "\n{}",
                st.paint(
                    RED_BOLD,
                    match p.policy {
                        PlanningPolicy::V1 => "Emergency dispatch recommended (below the warning line):",
                        PlanningPolicy::V2 =>
                            "Emergency dispatch recommended (below the warning line, or short of the wage need):",
                    }
                )
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
        Risk::High => Cell::styled(r.as_str(), RED_BOLD),
        Risk::Medium => Cell::styled(r.as_str(), YELLOW),
        Risk::Low => Cell::plain(r.as_str()),
    }
}

/// The policy's name and what it means, for the readable reports.
fn policy_words(p: PlanningPolicy) -> &'static str {
    match p {
        PlanningPolicy::V1 => "v1 (SPEC §6.3: budgeted needs, a short tier shared pro rata)",
        PlanningPolicy::V2 => {
            "v2 (needs at least the run rate and the declared wage bill; in a short tier, counties under the warning line first)"
        }
    }
}

/// The readable forecast report.
fn render_forecast(f: &Forecast, st: &Style) -> String {
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
    let mut policies: Vec<(PlanningPolicy, Month)> = Vec::new();
    for m in f.counties.iter().take(1).flat_map(|c| &c.months) {
        if policies.last().map(|p| p.0) != Some(m.policy) {
            policies.push((m.policy, m.month));
        }
    }
    if policies.iter().any(|p| p.0 != PlanningPolicy::V1) {
        let said: Vec<String> = policies
            .iter()
            .map(|(p, from)| format!("{} from {from}", p.as_str()))
            .collect();
        let _ = writeln!(
            out,
            "Planning policy: {} (under v2, needs are at least the run rate and the wage need at least the declared bill).",
            said.join(", ")
        );
    }
    if f.counties.is_empty() {
        let _ = writeln!(out, "\n  (no county registered by {})", f.from.last_day());
        return out;
    }
    let mut t = Table::new(&[
        ("county", L),
        ("month", L),
        ("opening cash", R),
        ("funded in", R),
        ("exp. revenue", R),
        ("needs", R),
        ("wage need", R),
        ("projected end", R),
        ("wage cover", R),
        ("risk", L),
    ]);
    for c in &f.counties {
        for (i, m) in c.months.iter().enumerate() {
            let end = if m.projected_end.is_negative() {
                Cell::styled(m.projected_end.grouped(), RED_BOLD)
            } else {
                Cell::plain(m.projected_end.grouped())
            };
            t.row(vec![
                Cell::plain(if i == 0 { c.county.as_str() } else { "" }),
                Cell::plain(m.month.to_string()),
                Cell::plain(m.opening_cash.grouped()),
                Cell::plain(m.funded_in.grouped()),
                Cell::plain(m.expected_revenue.grouped()),
                Cell::plain(m.needs.grouped()),
                Cell::plain(m.wage_need.grouped()),
                end,
                Cell::plain(m.wage_cover.map_or("—".into(), |r| r.to_string())),
                risk_cell(m.risk),
            ]);
        }
    }
    let _ = writeln!(out);
    t.render(&mut out, st);
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
            st.paint(RED_BOLD, "High risk (cash does not cover the wage need):")
        );
        for h in high {
            let _ = writeln!(out, "{h}");
        }
    }
    out
}

/// The readable plan of `month` over `state` (what `plan` prints without `--json`).
pub(crate) fn plan_text(state: &State, month: crate::values::Month) -> String {
    render_plan(state, &compute_plan(state, month), &Style::detect())
}
