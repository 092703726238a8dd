//! 调度计划: a month's plan (tiers, lines, pro-rata shortfalls, county projections,
//! emergency recommended) from [`crate::query::plan::plan`] through the report model;
//! its issues (the latest in force, earlier ones superseded); and, for a scheduler,
//! issuing it: a confirmation showing `based_on_seq` and `plan_sha256`, then
//! `plan_issued` appended through the writer (which recomputes the plan and refuses a
//! hash that no longer matches).

use super::form::{Form, Msg};
use super::page::{self, flash, Nav};
use super::Shared;
use super::{append_one, form_body, html, new_form_key, read_state, see_other, signed_in, App, Cx};
use crate::lang::{Lang, Unit};
use crate::query::plan::plan as compute_plan;
use crate::report::build::{self, Ctx};
use crate::report::html as rhtml;
use crate::server::auth::Role;
use crate::state::State;
use crate::values::{Date, Month};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::json;

/// The month a plan is usually asked for: the month after the log's latest effective
/// date (the month after today's when the log is empty).
pub fn next_month(st: &State) -> Month {
    let d = st.max_effective_date.unwrap_or_else(Date::today_utc);
    d.month().add(1).unwrap_or_else(|| d.month())
}

fn plan_href(m: Month) -> String {
    format!("/desk/plans/{m}")
}

/// `GET /desk/plans[?month=YYYY-MM]`: the next month's plan (or the one asked).
pub async fn index(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    let cx = match signed_in(&app, &headers, &uri) {
        Ok(cx) => cx,
        Err(r) => return r,
    };
    let q = super::query(&uri);
    match q.month("month") {
        Ok(Some(m)) => see_other(&plan_href(m)),
        Ok(None) => {
            let m = next_month(&app.state());
            see_other(&plan_href(m))
        }
        Err(e) => page::message(
            &cx,
            Nav::Plan,
            StatusCode::BAD_REQUEST,
            cx.t("调度计划", "Plan"),
            &e,
        ),
    }
}

#[allow(clippy::result_large_err)]
fn month_path(cx: &Cx, raw: &str) -> Result<Month, Response> {
    Month::parse(raw).map_err(|_| {
        page::message(
            cx,
            Nav::Plan,
            StatusCode::BAD_REQUEST,
            cx.t("调度计划", "Plan"),
            &Msg::new(
                format!("月份“{raw}”格式不对，应为 年-月，如 2021-04"),
                format!("{raw:?} is not a month; write YYYY-MM, e.g. 2021-04"),
            ),
        )
    })
}

/// What the plan pages start with: the signed-in context, the month of the path and
/// the page's title (`2022年3月 调度计划`); or the answer to give instead (a redirect to
/// sign in, the page saying the month is malformed).
#[allow(clippy::result_large_err)]
fn month_page(
    app: &crate::server::AppState,
    headers: &HeaderMap,
    uri: &Uri,
    raw: &str,
    word: (&'static str, &'static str),
) -> Result<(Cx, Month, String), Response> {
    let cx = signed_in(app, headers, uri)?;
    let month = month_path(&cx, raw)?;
    let title = format!(
        "{} {}",
        crate::lang::zh_month_in(month, cx.lang),
        cx.t(word.0, word.1)
    );
    Ok((cx, month, title))
}

/// The issues of `month` in the log, newest first: (seq, based_on_seq, hash, issued_on).
fn issues_of(st: &State, month: Month) -> Vec<(u64, u64, String, Date)> {
    let mut v: Vec<_> = st
        .plans_issued
        .iter()
        .filter(|(_, p)| p.month == month)
        .map(|(seq, p)| (*seq, p.based_on_seq, p.plan_sha256.to_hex(), p.issued_on))
        .collect();
    v.reverse();
    v
}

/// The plan page's body over `st`: pure, for the bench.
pub fn render(st: &State, month: Month, lang: Lang, scheduler: bool) -> Markup {
    let p = compute_plan(st, month);
    let x = Ctx::of(st, lang, Unit::Yuan);
    let report = build::plan(&p, &x);
    let issued = issues_of(st, month);
    let hash = p.plan_sha256.to_hex();
    let t = |zh, en| lang.pick(zh, en);
    // Records after the issue in force (after its own record) that the issued plan could
    // not know: a plan's hash covers its `based_on_seq`, so it cannot tell by itself
    // whether they change the plan; the scheduler is told how many there are.
    let newer = issued
        .first()
        .map(|(seq, ..)| st.head_seq.saturating_sub(*seq));
    let link = |id: &str| super::overview::county_href(id);
    html! {
        (rhtml::meta(&report))
        section #issues data-based-on-seq=(p.based_on_seq) data-plan-sha256=(hash) {
            h2 { (t("签发情况", "Issues")) }
            @if issued.is_empty() {
                p.empty #not-issued { (t("该月计划尚未签发。", "This month's plan has not been issued.")) }
            } @else {
                @match newer {
                    Some(0) => (flash("good", t("该月计划已签发，现行有效；签发后日志无新记录。",
                                                 "This month's plan is issued and in force; the log has no record since.")))
                    Some(n) => (flash("info", &match lang {
                        Lang::Zh => format!("该月计划已签发，现行有效。签发后日志新增 {n} 条记录；下方为按最新记录重算的计划，如需按其调度可重新签发。"),
                        Lang::En => format!("This month's plan is issued and in force. The log has {n} records since; the plan below is recomputed from the latest record and may be issued again."),
                    }))
                    None => {}
                }
                table.data #issued-list {
                    thead { tr {
                        th.n { (t("签发记录号", "seq")) } th.t { (t("签发日期", "issued on")) }
                        th.n { "based_on_seq" } th.t { "plan_sha256" } th.t { (t("状态", "state")) }
                    } }
                    tbody {
                        @for (i, (seq, based, h, on)) in issued.iter().enumerate() {
                            tr data-seq=(seq) {
                                td.n { (seq) } td.t { (on.to_string()) } td.n { (based) } td.t.hash { (h) }
                                @if i == 0 { td.t.good { span.issued { (t("现行", "in force")) } } }
                                @else { td.t.dim { span.superseded { (t("已被替代", "superseded")) } } }
                            }
                        }
                    }
                }
            }
            @if scheduler {
                p { a.button #issue-link href=(format!("/desk/plans/{month}/issue")) { @if issued.is_empty() { (t("签发该月计划…", "Issue this plan…")) } @else { (t("按最新记录重新签发…", "Issue again from the latest record…")) } } }
            }
        }
        (rhtml::notes(&report))
        (rhtml::sections(&report, None, Some(&link)))
    }
}

fn month_picker(cx: &Cx, month: Month, at_seq: Option<&str>) -> Markup {
    html! {
        form.picker method="get" action="/desk/plans" {
            label { (cx.t("计划月份", "Month")) " " input type="month" name="month" value=(month.to_string()); }
            button type="submit" { (cx.t("查看", "Show")) }
        }
        @if let Some(s) = at_seq { p.note { (cx.t("按记录号", "At seq")) " " (s) " · " a href=(plan_href(month)) { (cx.t("查看最新", "latest")) } } }
    }
}

/// `GET /desk/plans/{month}?at_seq=N`.
pub async fn page(
    Shared(app): App,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let raw = super::segment(path);
    let (cx, month, title) =
        match month_page(&app, &headers, &uri, &raw, ("调度计划", "dispatch plan")) {
            Ok(v) => v,
            Err(r) => return r,
        };
    let q = super::query(&uri);
    let at_seq = match q.u64("at_seq") {
        Ok(v) => v,
        Err(m) => return page::message(&cx, Nav::Plan, StatusCode::BAD_REQUEST, &title, &m),
    };
    let (lang, scheduler) = (
        cx.lang,
        cx.session.who.role == Role::Scheduler && at_seq.is_none(),
    );
    let issued_flash = q.u64("issued").ok().flatten().map(|seq| {
        flash(
            "good",
            &match lang {
                Lang::Zh => format!("已签发：记录号 {seq}。"),
                Lang::En => format!("Issued: record seq {seq}."),
            },
        )
    });
    match read_state(&app, at_seq, move |st| render(st, month, lang, scheduler)).await {
        Ok(body) => html(
            StatusCode::OK,
            page::page(
                &cx,
                Nav::Plan,
                &title,
                html! { (month_picker(&cx, month, q.get("at_seq"))) @if let Some(f) = issued_flash { (f) } (body) },
            ),
        ),
        Err(u) => page::unread(&cx, Nav::Plan, &title, u),
    }
}

fn refuse_role(cx: &Cx, title: &str) -> Response {
    page::message(
        cx,
        Nav::Plan,
        StatusCode::FORBIDDEN,
        title,
        &Msg::new(
            format!(
                "{}不能签发计划，签发须由调度人员进行；未作任何记录。",
                page::role_word(cx.session.who.role, Lang::Zh)
            ),
            format!(
                "{} may not issue plans; a scheduler issues them. Nothing was recorded.",
                super::a_role(cx.session.who.role)
            ),
        ),
    )
}

fn confirm_form(
    cx: &Cx,
    month: Month,
    based: u64,
    hash: &str,
    issued_on: &str,
    key: &str,
    problem: Option<&str>,
) -> Markup {
    html! {
        @if let Some(p) = problem { (flash("bad", p)) }
        p { (cx.t("请核对以下信息。签发后，本计划将记入日志（plan_issued），同月此前签发的计划即被替代。",
                  "Check what follows. Issuing records this plan in the log (plan_issued); earlier issues of the month are superseded.")) }
        form.event #issue-form method="post" action=(format!("/desk/plans/{month}/issue")) {
            input type="hidden" name="csrf" value=(cx.session.csrf);
            input type="hidden" name="idempotency_key" value=(key);
            input type="hidden" name="based_on_seq" value=(based);
            input type="hidden" name="plan_sha256" value=(hash);
            dl.meta {
                div { dt { (cx.t("计划月份", "month")) } dd { (month.to_string()) } }
                div { dt { "based_on_seq" } dd #confirm-based { (based) } }
                div { dt { "plan_sha256" } dd #confirm-hash { (hash) } }
            }
            div.field {
                label for="issued_on" { (cx.t("签发日期", "Issued on")) }
                input #issued_on type="date" name="issued_on" value=(issued_on) required;
            }
            button #confirm-issue type="submit" { (cx.t("确认签发", "Issue")) }
            " " a href=(plan_href(month)) { (cx.t("取消", "Cancel")) }
        }
    }
}

/// The issue date the confirmation proposes: today, when the plan's month has not
/// begun; else the plan's basis date (a plan looked at after its month began — a
/// history's, say — is dated as of the day it was computed for, not years later,
/// which would move the log's latest date). The scheduler may change it.
pub fn default_issued_on(month: Month, basis: Date, today: Date) -> Date {
    if today < month.first_day() {
        today
    } else {
        basis
    }
}

/// `GET /desk/plans/{month}/issue`: the confirmation (scheduler only; 403 otherwise).
pub async fn confirm(
    Shared(app): App,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let raw = super::segment(path);
    let (cx, month, title) =
        match month_page(&app, &headers, &uri, &raw, ("调度计划签发", "plan: issue")) {
            Ok(v) => v,
            Err(r) => return r,
        };
    if cx.session.who.role != Role::Scheduler {
        return refuse_role(&cx, &title);
    }
    let (based, hash, basis) = match read_state(&app, None, move |st| {
        let p = compute_plan(st, month);
        (p.based_on_seq, p.plan_sha256.to_hex(), p.basis_date)
    })
    .await
    {
        Ok(v) => v,
        Err(u) => return page::unread(&cx, Nav::Plan, &title, u),
    };
    let on = default_issued_on(month, basis, Date::today_utc()).to_string();
    let body = confirm_form(&cx, month, based, &hash, &on, &new_form_key(), None);
    html(StatusCode::OK, page::page(&cx, Nav::Plan, &title, body))
}

/// `POST /desk/plans/{month}/issue` (csrf, idempotency_key, based_on_seq, plan_sha256,
/// issued_on): appends `plan_issued`, then back to the plan page.
pub async fn issue(
    Shared(app): App,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: axum::body::Body,
) -> Response {
    let raw = super::segment(path);
    let f: Form = form_body(&app, &headers, body).await;
    let (cx, month, title) =
        match month_page(&app, &headers, &uri, &raw, ("调度计划签发", "plan: issue")) {
            Ok(v) => v,
            Err(r) => return r,
        };
    if !cx.session.csrf_ok(f.get("csrf")) {
        return page::refused_csrf(&cx, Nav::Plan);
    }
    if cx.session.who.role != Role::Scheduler {
        return refuse_role(&cx, &title);
    }
    let based = f.get("based_on_seq").unwrap_or("").to_string();
    let hash = f.get("plan_sha256").unwrap_or("").to_string();
    let issued_on = f.get("issued_on").unwrap_or("").to_string();
    let key = f
        .get("idempotency_key")
        .filter(|k| crate::event::check_idempotency_key(k).is_ok())
        .map_or_else(new_form_key, str::to_string);
    let v = json!({
        "kind": "plan_issued",
        "month": month,
        "based_on_seq": based.parse::<u64>().map(serde_json::Value::from).unwrap_or(json!(based)),
        "plan_sha256": hash,
        "issued_on": if issued_on.is_empty() { Date::today_utc().to_string() } else { issued_on.clone() },
    });
    match append_one(&cx, v, &key).await {
        Ok(ack) => see_other(&format!("/desk/plans/{month}?issued={}", ack.seq)),
        Err(r) => {
            let why = match &r.field {
                Some(f) => format!("{f}: {}", cx.say(&r.msg)),
                None => cx.say(&r.msg).to_string(),
            };
            let body = confirm_form(
                &cx,
                month,
                based.parse().unwrap_or(0),
                &hash,
                &issued_on,
                &key,
                Some(&why),
            );
            html(r.status, page::page(&cx, Nav::Plan, &title, body))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proposed_issue_date_never_jumps_past_the_plans_month() {
        let m = Month::parse("2022-03").unwrap();
        let basis = Date::parse("2022-02-28").unwrap();
        let before = Date::parse("2022-02-25").unwrap();
        assert_eq!(default_issued_on(m, basis, before), before);
        let years_later = Date::parse("2026-12-06").unwrap();
        assert_eq!(default_issued_on(m, basis, years_later), basis);
    }
}
