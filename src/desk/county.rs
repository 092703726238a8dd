//! A county's page: its day-end cash over the year as a line chart with its three
//! lines drawn as bands in yuan (the chart of `sanbao chart cash`, [`crate::chart`]),
//! its level and status today, its payroll months (this and next month's deadlines,
//! and the twelve months' history), its funds entitled / dispatched / remaining per
//! fund and year, and its recent events.
//!
//! Figures come from the queries: the county's row, payroll and arrears are
//! [`crate::query::monitor`]'s own rows for this county (the same functions
//! `/v1/monitor` uses), its funds are [`crate::query::position::position`]'s, both
//! through the report model.

use super::form::{enc, Msg};
use super::overview::{shown, status_label};
use super::page::{self, Nav};
use super::Shared;
use super::{html, read_state, signed_in, App, Unread};
use crate::lang::{kind_word, Lang, Unit};
use crate::query::history;
use crate::query::monitor::{CountyDay, Monitor};
use crate::query::position::position;
use crate::report::build::{self, Ctx};
use crate::report::html as rhtml;
use crate::state::State;
use crate::values::{CountyId, Date};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};

/// How many records back from the head the page looks for the county's recent events
/// (the journal, filtered by county, goes further).
pub const RECENT_SCAN: u64 = 5_000;
/// How many recent events the page lists.
pub const RECENT_ROWS: usize = 20;

/// One recent event of the county, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recent {
    /// Its seq.
    pub seq: u64,
    /// Its kind.
    pub kind: &'static str,
    /// Its effective date.
    pub date: Date,
    /// Its amount, if it has one.
    pub amount: Option<crate::money::Money>,
    /// Its hash.
    pub hash: String,
}

/// The county's events among the last [`RECENT_SCAN`] records up to `head`, newest
/// first, at most [`RECENT_ROWS`].
pub fn recent(store: &crate::log::Store, head: u64, id: &CountyId) -> Result<Vec<Recent>, String> {
    let from = head.saturating_sub(RECENT_SCAN - 1).max(1);
    let mut out = Vec::new();
    if head == 0 {
        return Ok(out);
    }
    for r in store.records(from, head) {
        let r = r.map_err(|e| e.to_string())?;
        if r.event.county() == Some(id) {
            out.push(Recent {
                seq: r.seq,
                kind: r.event.kind(),
                date: r.event.effective_date(),
                amount: r.event.amount(),
                hash: r.hash.to_hex(),
            });
        }
    }
    out.reverse();
    out.truncate(RECENT_ROWS);
    Ok(out)
}

/// The page's body for county `id` over `st` as of `as_of` (the latest effective date
/// when `None`); `Err` with a message when the county is not there.
pub fn render(
    st: &State,
    id: &CountyId,
    as_of: Option<Date>,
    lang: Lang,
    recent: &[Recent],
) -> Result<Markup, Msg> {
    let t = |zh, en| lang.pick(zh, en);
    let Some(c) = st.county(id) else {
        return Err(Msg::new(
            format!("日志中没有县区“{id}”，请从总览进入县区页面。"),
            format!("There is no county {id:?} in the log; open counties from the overview."),
        ));
    };
    let Some(d) = as_of.or(st.max_effective_date) else {
        return Err(Msg::new("日志为空。", "The log is empty."));
    };
    if c.registered_on > d {
        return Err(Msg::new(
            format!("县区“{id}”于 {} 登记，晚于截至日期 {d}。", c.registered_on),
            format!(
                "County {id:?} is registered on {}, after {d}.",
                c.registered_on
            ),
        ));
    }
    let day = CountyDay::of(st, c, d);
    let row = day.row.clone();
    let m = Monitor {
        as_of: Some(d),
        at_seq: st.head_seq,
        counties: vec![day.row],
        payroll: day.payroll,
        direct_overdue: day.overdue,
        discrepancies: day.discrepancies,
        watchlist: Vec::new(),
        arrears: day.arrears,
        payroll_history: history::payroll_history(c, d),
        watch_history: Vec::new(),
        tight_months: Vec::new(),
        attention: Vec::new(),
        notices: Vec::new(),
        response_plans: Vec::new(),
        assessments_pending: Vec::new(),
        restrictions: Vec::new(),
    };
    let x = Ctx::of(st, lang, Unit::Yuan);
    let mon = build::monitor(&m, &x);
    let pos = build::position(&position(st, Some(d), Some(id)), &x);
    let chart = crate::chart::default_cash_range(st, Some(d))
        .ok_or_else(|| Msg::new("日志为空。", "The log is empty."))
        .and_then(|(from, to)| {
            crate::chart::cash(st, id, from, to, lang).map_err(|e| Msg::new(e.zh(), e.to_string()))
        });
    Ok(html! {
        (rhtml::meta(&mon))
        div.stats {
            div.stat { div.k { (t("状态", "Status")) } div.v { (status_label(row.status, lang)) } }
            div.stat data-cash=(row.cash.to_string()) {
                div.k { (t("库款（国库＋工资库款保障户）", "Cash (treasury + wage reserve)")) }
                div.v { (x.unit.grouped(row.cash)) " " (x.unit.name(lang)) }
            }
            div.stat {
                div.k { (t("库款保障水平", "Guarantee level")) }
                div.v { (row.guarantee_level.map_or_else(|| "—".to_string(), |l| l.to_string())) }
            }
            div.stat {
                div.k { (t("预警线 / 关注线 / 闲置线", "Warning / alert / idle line")) }
                div.v { (row.warning_line) " / " (row.alert_line) " / " (row.idle_line) }
            }
        }
        section.chart #cash-chart {
            h2 { (t("库款日终余额与预警线、关注线、闲置线（近十二个月）", "Day-end cash and its warning, alert and idle lines (twelve months)")) }
            @match &chart {
                Ok(svg) => { (maud::PreEscaped(svg)) }
                Err(m) => { p.empty { (m.get(lang)) } }
            }
        }
        (rhtml::sections(&mon, Some(&["payroll", "arrears", "late_deposits"]), None))
        (rhtml::sections(&pos, Some(&["funds"]), None))
        section #recent {
            h2 { (t("近期事件", "Recent events")) }
            p.note { (match lang {
                Lang::Zh => format!("最近 {RECENT_SCAN} 条记录中涉及本县区的事件，至多 {RECENT_ROWS} 条。"),
                Lang::En => format!("This county's events among the last {RECENT_SCAN} records, at most {RECENT_ROWS}."),
            }) " " a href=(format!("/desk/journal?county={}", enc(id.as_str()))) { (t("在事件流水中查看全部", "All in the journal")) } }
            @if recent.is_empty() {
                p.empty { (t("（无）", "(none)")) }
            } @else {
                div.scroll { table.data {
                    thead { tr {
                        th.n { (t("记录号", "seq")) } th.t { (t("事件", "event")) } th.t { (t("业务日期", "date")) }
                        th.n { (t("金额（元）", "amount (yuan)")) } th.t { (t("哈希", "hash")) }
                    } }
                    tbody { @for r in recent {
                        tr data-seq=(r.seq) {
                            td.n { (r.seq) } td.t { (kind_word(r.kind, lang)) } td.t { (r.date.to_string()) }
                            td.n { (r.amount.map_or_else(|| "—".to_string(), |a| x.unit.grouped(a))) }
                            td.t.hash { (r.hash) }
                        }
                    } }
                } }
            }
        }
    })
}

/// `GET /desk/counties/{id}?as_of=DATE&at_seq=N`.
pub async fn page(
    Shared(app): App,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let raw = super::segment(path);
    let cx = match signed_in(&app, &headers, &uri) {
        Ok(cx) => cx,
        Err(r) => return r,
    };
    let q = super::query(&uri);
    let mut problems = Vec::new();
    let as_of = q.date("as_of").unwrap_or_else(|m| {
        problems.push(m);
        None
    });
    let at_seq = q.u64("at_seq").unwrap_or_else(|m| {
        problems.push(m);
        None
    });
    let title_fallback = format!("{} {raw}", cx.t("县区", "County"));
    let Ok(id) = CountyId::parse(&raw) else {
        return page::message(
            &cx,
            Nav::County,
            StatusCode::BAD_REQUEST,
            &title_fallback,
            &Msg::new(
                format!("县区代码“{raw}”格式不对。"),
                format!("{raw:?} is not a county id."),
            ),
        );
    };
    let lang = cx.lang;
    let picker = page::time_picker(&cx, uri.path(), q.get("as_of"), q.get("at_seq"), html! {});
    let id2 = id.clone();
    let app2 = app.clone();
    let read = read_state(&app, at_seq, move |st| {
        let recent = recent(app2.store(), st.head_seq, &id2);
        let name = st.county(&id2).map(|c| c.name.as_str().to_string());
        let body = recent
            .map_err(|e| {
                Msg::new(
                    format!("读取日志失败：{e}"),
                    format!("cannot read the log: {e}"),
                )
            })
            .and_then(|rs| render(st, &id2, as_of, lang, &rs));
        (name, body)
    })
    .await;
    match read {
        Ok((name, Ok(body))) => {
            let title = format!("{} {}", name.unwrap_or_default(), id);
            let status = if problems.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            html(
                status,
                page::page(
                    &cx,
                    Nav::County,
                    &title,
                    shown(&cx, &problems, picker, body),
                ),
            )
        }
        Ok((_, Err(m))) => {
            problems.push(m);
            html(
                StatusCode::NOT_FOUND,
                page::page(
                    &cx,
                    Nav::County,
                    &title_fallback,
                    shown(&cx, &problems, picker, html! {}),
                ),
            )
        }
        Err(Unread::Bad(m)) => {
            problems.push(m);
            html(
                StatusCode::BAD_REQUEST,
                page::page(
                    &cx,
                    Nav::County,
                    &title_fallback,
                    shown(&cx, &problems, picker, html! {}),
                ),
            )
        }
        Err(u) => page::unread(&cx, Nav::County, &title_fallback, u),
    }
}
