//! `position`, `monitor` and `replay`: the read side on the command line.
//!
//! Each command folds the log once (up to `--at-seq`, validated first: a value beyond
//! the head is a usage error, exit 2), asks the pure query of [`crate::query`], and
//! prints either the JSON object of SPEC §6 (`--json`, one line) or tables for a
//! person: aligned columns, amounts with thousands separators, and statuses in colour
//! when — and only when — standard output is a terminal (and `NO_COLOR` is unset).
//!
//! `monitor --with FILE` (also with `--daily`) answers a what-if over hypothetical
//! events ([`whatif`]), writing nothing.
//!
//! `replay` is the auditor's path: it never uses a snapshot or cache; it reads the log
//! once, checking each record up to N (decode, seq, hash, chain, with
//! [`crate::log::verify_each`]) before folding it, and exits 5 when the chain breaks or
//! an issued plan does not reproduce. (Recomputing issued plans reads the log again up
//! to the greatest `based_on_seq`, only when there are plans.)

use super::output::{emit, to_json_line};
use super::papers::{self, Paper};
use super::whatif;
use super::{
    AssessArgs, MonitorArgs, PositionArgs, ReplayArgs, ReviewBudgetArgs, ScorecardArgs, Target,
};
use crate::error::CliError;
use crate::query::daily::{daily as compute_daily, MAX_DAILY_DAYS};
use crate::query::monitor::monitor as compute_monitor;
use crate::query::position::position as compute_position;
use crate::replay::{self, Replayed};
use crate::report::build::{self, Ctx};
use crate::state::State;
use crate::values::{CountyId, Date};

/// `sanbao position` (SPEC §6.1).
///
/// `--county` must name a county registered on or before the (resolved) as_of, else it
/// is a usage error (exit 2): asking for a county the log does not know is a mistake in
/// the command, not an empty answer.
pub fn position(t: &Target, a: PositionArgs) -> Result<(), CliError> {
    papers::check(&a.paper)?;
    let county = a.county.as_deref().map(county_arg).transpose()?;
    let paper = {
        let state = t.state(a.time.at_seq)?;
        if let Some(id) = &county {
            check_county(&state, id, a.time.as_of)?;
        }
        let p = compute_position(&state, a.time.as_of, county.as_ref());
        let x = Ctx::of(&state, papers::lang(&a.paper), a.paper.unit);
        papers::make(
            &a.paper,
            a.json,
            || to_json_line(&p),
            || build::position(&p, &x),
        )?
    };
    paper.deliver()
}

/// `sanbao monitor` (SPEC §6.2), or with `--daily` the daily series (按日监测).
pub fn monitor(t: &Target, a: MonitorArgs) -> Result<(), CliError> {
    papers::check(&a.paper)?;
    let events = whatif::events(a.with.as_deref(), a.with_input.as_ref())?;
    if a.daily {
        return monitor_daily(t, a, events);
    }
    if a.from.is_some() || a.to.is_some() || a.county.is_some() {
        return Err(CliError::usage(
            "--from, --to and --county go with --daily (one date: --as-of DATE)".to_string(),
        ));
    }
    // Made under the state, delivered after it is let go.
    let paper = {
        let (state, n) = whatif::state(t, a.time.at_seq, events)?;
        let m = compute_monitor(&state, a.time.as_of);
        let x = Ctx::of(&state, papers::lang(&a.paper), a.paper.unit);
        papers::make(
            &a.paper,
            a.json,
            || whatif::json_line(&m, n, false),
            || whatif::mark(build::monitor(&m, &x), n),
        )?
    };
    paper.deliver()
}

/// `sanbao monitor --daily`: the range is checked (from ≤ to, at most
/// [`MAX_DAILY_DAYS`] days, a known county registered by `to`) before anything is
/// computed; every mistake is a usage error (exit 2).
fn monitor_daily(
    t: &Target,
    a: MonitorArgs,
    events: Option<Vec<crate::event::InputEvent>>,
) -> Result<(), CliError> {
    let county = a.county.as_deref().map(county_arg).transpose()?;
    let paper = {
        let (state, n) = whatif::state(t, a.time.at_seq, events)?;
        let to = a.to.or(state.max_effective_date).ok_or_else(|| {
            CliError::usage("--daily: the log holds no events; give --to DATE".to_string())
                .zh("--daily：日志中尚无事件，请给出 --to 日期")
        })?;
        let from = a.from.unwrap_or_else(|| to.month().first_day());
        if from > to {
            return Err(
                CliError::usage(format!("--daily: --from {from} is after --to {to}"))
                    .zh(format!("--daily：起始日期 {from} 晚于截止日期 {to}")),
            );
        }
        let days = i64::from(to.to_days() - from.to_days()) + 1;
        if days > MAX_DAILY_DAYS {
            return Err(CliError::usage(format!(
                "--daily: {from}..{to} is {days} days; at most {MAX_DAILY_DAYS} at a time"
            ))
            .zh(format!(
                "--daily：{from} 至 {to} 共 {days} 天，一次最多 {MAX_DAILY_DAYS} 天"
            )));
        }
        if let Some(id) = &county {
            check_county(&state, id, Some(to))?;
        }
        let s = compute_daily(&state, from, to, county.as_ref());
        let x = Ctx::of(&state, papers::lang(&a.paper), a.paper.unit);
        papers::make(
            &a.paper,
            a.json,
            || whatif::json_line(&s, n, false),
            || whatif::mark(build::daily(&s, &x), n),
        )?
    };
    paper.deliver()
}

/// `sanbao replay` (SPEC §5): rebuild from the log alone, verify the chain up to N,
/// recompute issued plans, and print position and monitor as of the given date.
pub fn replay(t: &Target, a: ReplayArgs) -> Result<(), CliError> {
    papers::check(&a.paper)?;
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
    let x = Ctx::of(&state, papers::lang(&a.paper), a.paper.unit);
    let paper: Paper = papers::make(
        &a.paper,
        a.json,
        || to_json_line(&out),
        || build::replay(&out, &x),
    )?;
    paper.deliver()?;
    if let Some(p) = out.plans.iter().find(|p| !p.reproduced) {
        return Err(CliError::verification(format!(
            "replay: the plan of {} issued at seq {} does not reproduce its plan_sha256",
            p.month, p.based_on_seq
        )));
    }
    Ok(())
}

/// A `--county` id as typed, or a usage error naming the flag.
pub(super) fn county_arg(s: &str) -> Result<CountyId, CliError> {
    CountyId::parse(s)
        .map_err(|e| CliError::usage(format!("--county: {e}")).zh(format!("--county：{e}")))
}

/// `--county` must name a county registered on or before as_of.
pub(super) fn check_county(
    state: &State,
    id: &CountyId,
    as_of: Option<Date>,
) -> Result<(), CliError> {
    let Some(c) = state.county(id) else {
        let known: Vec<&str> = state.counties().map(|c| c.id.as_str()).collect();
        let zh = if known.is_empty() {
            format!(
                "--county {id}：日志中尚无登记的县区（截至第{}号记录）",
                state.head_seq
            )
        } else {
            format!(
                "--county {id}：无此县区（截至第{}号记录）；已登记：{}",
                state.head_seq,
                known.join("、")
            )
        };
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
        })
        .zh(zh));
    };
    let d = as_of.or(state.max_effective_date);
    if d.map_or(true, |d| c.registered_on > d) {
        return Err(CliError::usage(format!(
            "--county {id}: registered on {}, after the as_of date {}",
            c.registered_on,
            d.map_or_else(|| "(none)".to_string(), |d| d.to_string())
        ))
        .zh(format!(
            "--county {id}：{} 登记，晚于查询日期 {}",
            c.registered_on,
            d.map_or_else(|| "（无）".to_string(), |d| d.to_string())
        )));
    }
    Ok(())
}

/// `sanbao review budget` (预算再审核, issue 19).
pub fn review_budget(t: &Target, a: ReviewBudgetArgs) -> Result<(), CliError> {
    papers::check(&a.paper)?;
    let paper = {
        let state = t.state(a.time.at_seq)?;
        let b = crate::query::oversight::review_budget(&state, a.fiscal_year, a.time.as_of);
        let x = Ctx::of(&state, papers::lang(&a.paper), a.paper.unit);
        papers::make(
            &a.paper,
            a.json,
            || to_json_line(&b),
            || build::review_budget(&b, &x),
        )?
    };
    paper.deliver()
}

/// `sanbao assess --proposal SEQ` (财政可承受能力评估, issue 19): a usage error (exit
/// 2) when SEQ is not a `policy_proposed` of the log up to `--at-seq`.
pub fn assess(t: &Target, a: AssessArgs) -> Result<(), CliError> {
    papers::check(&a.paper)?;
    let paper = {
        let state = t.state(a.at_seq)?;
        let r = crate::query::oversight::assess(&state, a.proposal).map_err(|(en, zh)| {
            CliError::usage(format!("--proposal {}: {en}", a.proposal))
                .zh(format!("--proposal {}：{zh}", a.proposal))
        })?;
        let x = Ctx::of(&state, papers::lang(&a.paper), a.paper.unit);
        papers::make(
            &a.paper,
            a.json,
            || to_json_line(&r),
            || build::assess(&r, &x),
        )?
    };
    paper.deliver()
}

/// `sanbao scorecard --fiscal-year Y` (考核, issue 19).
pub fn scorecard(t: &Target, a: ScorecardArgs) -> Result<(), CliError> {
    papers::check(&a.paper)?;
    let paper = {
        let state = t.state(a.at_seq)?;
        let s = crate::query::oversight::scorecard(&state, a.fiscal_year);
        let x = Ctx::of(&state, papers::lang(&a.paper), a.paper.unit);
        papers::make(
            &a.paper,
            a.json,
            || to_json_line(&s),
            || build::scorecard(&s, &x),
        )?
    };
    paper.deliver()
}
