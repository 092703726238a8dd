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
//!
//! `plan execute` and `plan status` (issue 18) work on the latest issued plan of the
//! month, recomputed at its `based_on_seq` and checked against its `plan_sha256`
//! (exit 5 if it does not reproduce; exit 3 when the month has no issued plan, for
//! `execute`). `execute` appends the missing transfers of [`execution_batch`] as one
//! batch through the single writer (the keys already in the log are looked up first:
//! the writer refuses a batch that mixes recorded and new events, so a concurrent
//! execute that wins the race makes this one fail with exit 4, and running it again
//! appends nothing); `status` prints [`plan_status`].

use super::output::{emit, to_json_line, Style};
use super::papers;
use super::whatif;
use super::write::print_acks;
use super::{ForecastArgs, PlanArgs, PlanCommand, PlanExecuteArgs, PlanStatusArgs, Target};
use crate::error::CliError;
use crate::event::{Event, InputEvent};
use crate::lang::{Lang, Unit};
use crate::money::Money;
use crate::query::execution::{execution_batch, latest_issued, plan_status, PlanStatus};
use crate::query::forecast::forecast as compute_forecast;
use crate::query::plan::{plan as compute_plan, Plan};
use crate::report::build::{self, Ctx};
use crate::state::State;
use crate::values::{Date, Month};
use serde_json::json;

/// `sanbao plan` (SPEC §6.3, §8.31).
pub fn plan(t: &Target, a: PlanArgs) -> Result<(), CliError> {
    if a.command.is_some() && a.with.is_some() {
        return Err(CliError::usage(
            "--with supposes events for `plan --month M` itself; plan execute and plan status read the log as it is",
        )
        .zh("--with 只用于 plan --month M 的假设测算；plan execute 与 plan status 按日志实际记录办理"));
    }
    match a.command {
        Some(PlanCommand::Execute(e)) => return execute(t, e),
        Some(PlanCommand::Status(s)) => return status(t, s),
        None => {}
    }
    let month = a.month.ok_or_else(|| {
        CliError::usage("plan needs --month YYYY-MM").zh("plan 须给出 --month YYYY-MM")
    })?;
    papers::check(&a.paper)?;
    let events = whatif::events(a.with.as_deref(), a.with_input.as_ref())?;
    // Made under the state, which is let go before delivering and issuing.
    let (p, paper) = {
        let (state, n) = whatif::state(t, a.at_seq, events)?;
        let p = compute_plan(&state, month);
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
    let acks = t.with_writer(|w, rt| {
        Ok(rt.block_on(w.append_as(crate::record::LOCAL, vec![input], None))?)
    })?;
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

/// The latest issued plan of `month` in the state at `at_seq` (the head when `None`),
/// recomputed at its `based_on_seq`: the `plan_issued` record's seq and the plan, or
/// `None` when the month has none. Exit 5 when the recomputed hash is not the issued one.
fn issued_plan(
    t: &Target,
    month: Month,
    at_seq: Option<u64>,
) -> Result<Option<(u64, Plan)>, CliError> {
    let issued = {
        let state = t.state(at_seq)?;
        latest_issued(&state, month).cloned()
    };
    let Some((seq, pi)) = issued else {
        return Ok(None);
    };
    let p = {
        let past = t.state(Some(pi.based_on_seq))?;
        compute_plan(&past, month)
    };
    if p.plan_sha256 != pi.plan_sha256 {
        return Err(CliError::verification(format!(
            "the plan of {month} issued at seq {seq} does not reproduce: recomputed at seq {} it hashes to {}, not the issued {}",
            pi.based_on_seq, p.plan_sha256, pi.plan_sha256
        ))
        .zh(format!(
            "第{seq}号记录印发的 {month} 计划无法复现：按第{}号记录重算的哈希为 {}，而非印发的 {}",
            pi.based_on_seq, p.plan_sha256, pi.plan_sha256
        )));
    }
    Ok(Some((seq, p)))
}

/// What executing the latest issued plan of a month would append: the
/// `plan_issued` record's seq, the number of funded lines, and the transfers of the
/// lines not yet recorded (their keys looked up in the store), in the plan's order.
pub(crate) struct Execution {
    /// The seq of the `plan_issued` record executed.
    pub plan_seq: u64,
    /// The plan's lines with funded > 0.
    pub funded: usize,
    /// The transfers still missing.
    pub batch: Vec<InputEvent>,
}

/// Prepares the execution of the latest issued plan of `month` (the CLI's `plan
/// execute` and `POST /v1/plans/{month}/execute`): exit 3 when the month has no issued
/// plan, 5 when the issued plan does not reproduce. Writes nothing.
pub(crate) fn prepare_execution(
    t: &Target,
    month: Month,
    value_date: Option<Date>,
) -> Result<Execution, CliError> {
    let Some((plan_seq, p)) = issued_plan(t, month, None)? else {
        return Err(CliError::invalid(format!(
            "no plan of {month} is issued: issue one first (sanbao plan --month {month} --issue); nothing was written"
        ))
        .zh(format!(
            "{month} 尚无已印发的计划：请先印发（sanbao plan --month {month} --issue）；未写入任何内容"
        )));
    };
    let value_date = value_date.unwrap_or_else(|| month.first_day());
    let funded = p.lines.iter().filter(|l| l.funded > Money::ZERO).count();
    // The folded state first: folding opens DIR's store itself, which the lock
    // allows once per process at a time.
    let state = t.state(None)?;
    let (store, _) = t.store()?;
    let mut failed = None;
    let dispatched = |k: &crate::state::PlanLineKey| state.plan_line_dispatched(k);
    let batch = execution_batch(&p, plan_seq, value_date, dispatched, |k| {
        match store.idempotency_seq(k) {
            Ok(found) => found.is_some(),
            Err(e) => {
                failed.get_or_insert(e);
                true
            }
        }
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok(Execution {
        plan_seq,
        funded,
        batch,
    })
}

/// The latest issued plan of `month` against the log up to `at_seq` (the head when
/// `None`): `plan status` and `GET /v1/plans/{month}/status`.
pub(crate) fn status_of(
    t: &Target,
    month: Month,
    at_seq: Option<u64>,
) -> Result<PlanStatus, CliError> {
    let issued = issued_plan(t, month, at_seq)?;
    let state = t.state(at_seq)?;
    Ok(plan_status(
        &state,
        month,
        issued.as_ref().map(|(s, p)| (*s, p)),
    ))
}

/// `sanbao plan execute` (issue 18): appends the transfers of the latest issued plan
/// of the month that are not yet in the log, as one atomic batch.
fn execute(t: &Target, a: PlanExecuteArgs) -> Result<(), CliError> {
    let month = a.month;
    let Execution {
        plan_seq,
        funded,
        batch,
    } = prepare_execution(t, month, a.value_date)?;
    let done = funded - batch.len();
    if a.dry_run {
        let mut text = String::new();
        for e in &batch {
            let mut v = e.event.to_json();
            if let (Some(m), Some(k)) = (v.as_object_mut(), &e.idempotency_key) {
                m.insert("idempotency_key".into(), k.clone().into());
            }
            text.push_str(&to_json_line(&v)?);
        }
        emit(&text)?;
        super::output::note(&format!(
            "dry run: plan {month} (seq {plan_seq}): {} of {funded} transfers would be appended, {done} already recorded; nothing was written",
            batch.len()
        ));
        return Ok(());
    }
    if batch.is_empty() {
        super::output::note(&format!(
            "plan {month} (seq {plan_seq}): all {funded} transfers already recorded; nothing appended"
        ));
        return Ok(());
    }
    let n = batch.len();
    let acks =
        t.with_writer(|w, rt| Ok(rt.block_on(w.append_as(crate::record::LOCAL, batch, None))?))?;
    print_acks(&acks)?;
    super::output::note(&format!(
        "plan {month} (seq {plan_seq}): {n} transfers appended, {done} already recorded"
    ));
    Ok(())
}

/// `sanbao plan status` (issue 18): the latest issued plan of the month against the
/// transfers dispatched for it.
fn status(t: &Target, a: PlanStatusArgs) -> Result<(), CliError> {
    let issued = issued_plan(t, a.month, a.at_seq)?;
    let state = t.state(a.at_seq)?;
    let s = plan_status(&state, a.month, issued.as_ref().map(|(s, p)| (*s, p)));
    if a.json {
        return emit(&to_json_line(&s)?);
    }
    // For people: the report model's table, in the user's language.
    let x = Ctx::of(&state, super::output::env_lang(), Unit::Yuan);
    emit(&crate::report::text::render(
        &build::plan_status(&s, &x),
        Style::detect().colour(),
        Some(crate::report::text::DEFAULT_WIDTH),
    ))
}
