//! `plan` and `forecast`: the planner on the command line (SPEC §5, §6.3, §6.4, §8.31).
//!
//! Both fold the log once up to `--at-seq` (a seq beyond the head is a usage error,
//! exit 2) and print either the JSON object of the SPEC (`--json`, one line) or a
//! report for people: aligned tables, amounts with thousands separators, and — only
//! when standard output is a terminal — colour on shortfalls, warning statuses,
//! emergency recommendations and high risks.
//!
//! With `--with FILE` both answer a what-if over hypothetical events ([`whatif`]):
//! nothing is written, and a what-if plan has no `plan_sha256` (it cannot be issued).
//!
//! `plan --issue` prints the plan as usual, then appends `plan_issued` through the
//! single writer (which recomputes the plan at `based_on_seq` and refuses a hash that
//! does not reproduce) and prints `issued: seq N` on standard error.

use super::output::Style;
use super::papers;
use super::whatif;
use super::{ForecastArgs, PlanArgs, Target};
use crate::error::CliError;
use crate::event::Event;
use crate::lang::{Lang, Unit};
use crate::query::forecast::forecast as compute_forecast;
use crate::query::plan::{plan as compute_plan, Plan};
use crate::report::build::{self, Ctx};
use crate::state::State;
use crate::values::Date;
use serde_json::json;

/// `sanbao plan` (SPEC §6.3, §8.31).
pub fn plan(t: &Target, a: PlanArgs) -> Result<(), CliError> {
    papers::check(&a.paper)?;
    let events = whatif::events(a.with.as_deref(), a.with_input.as_ref())?;
    // Made under the state, which is let go before delivering and issuing.
    let (p, paper) = {
        let (state, n) = whatif::state(t, a.at_seq, events)?;
        let p = compute_plan(&state, a.month);
        let x = Ctx::of(&state, papers::lang(&a.paper), a.paper.unit);
        let paper = papers::make(
            &a.paper,
            a.json,
            || whatif::json_line(&p, n, true),
            || whatif::mark(build::plan(&p, &x), n),
        )?;
        (p, paper)
    };
    paper.deliver()?;
    if a.issue {
        let issued_on = a.issued_on.unwrap_or_else(Date::today_utc);
        let seq = issue(t, &p, issued_on)?;
        super::output::note(&format!("issued: seq {seq}"));
    }
    Ok(())
}

/// `sanbao forecast` (SPEC §6.4).
pub fn forecast(t: &Target, a: ForecastArgs) -> Result<(), CliError> {
    papers::check(&a.paper)?;
    let events = whatif::events(a.with.as_deref(), a.with_input.as_ref())?;
    let paper = {
        let (state, n) = whatif::state(t, a.at_seq, events)?;
        let f = compute_forecast(&state, a.from, a.months);
        let x = Ctx::of(&state, papers::lang(&a.paper), a.paper.unit);
        papers::make(
            &a.paper,
            a.json,
            || whatif::json_line(&f, n, false),
            || whatif::mark(build::forecast(&f, &x), n),
        )?
    };
    paper.deliver()
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

/// The readable plan of `month` over `state` (what `plan` prints without `--json`).
/// In `lang`, fitted to 120 columns.
pub(crate) fn plan_text(state: &State, month: crate::values::Month, lang: Lang) -> String {
    let x = Ctx::of(state, lang, Unit::Yuan);
    let r = build::plan(&compute_plan(state, month), &x);
    crate::report::text::render(
        &r,
        Style::detect().colour(),
        Some(crate::report::text::DEFAULT_WIDTH),
    )
}
