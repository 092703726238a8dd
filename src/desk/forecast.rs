//! 风险预测: the wage-payment risk of every county for the coming months as a heat map
//! (county × month), each cell coloured by its risk *and* saying it in words, with
//! the month's wage cover — [`crate::chart::forecast_data`], the figures of `sanbao
//! chart forecast`, which are [`crate::query::forecast::forecast`]'s.

use super::form::Msg;
use super::overview::{county_href, shown};
use super::page::{self, Nav};
use super::Shared;
use super::{html, read_state, signed_in, App, Unread};
use crate::chart::{forecast_data, MAX_FORECAST_MONTHS};
use crate::lang::{zh_month_in, Lang, Term, Unit};
use crate::query::forecast::Risk;
use crate::state::State;
use crate::values::Month;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};

fn risk_class(r: Risk) -> &'static str {
    match r {
        Risk::High => "high",
        Risk::Medium => "medium",
        Risk::Low => "low",
    }
}

/// The heat map of `months` months from `from` over `st`; `Err` with a message when
/// there is nothing to forecast.
pub fn render(st: &State, from: Month, months: u32, lang: Lang) -> Result<Markup, Msg> {
    let f = forecast_data(st, from, months).map_err(|e| Msg::new(e.zh(), e.to_string()))?;
    let t = |zh, en| lang.pick(zh, en);
    let unit = Unit::Yuan;
    let count = |r: Risk| {
        f.counties
            .iter()
            .flat_map(|c| &c.cells)
            .filter(|x| x.risk == r)
            .count()
    };
    Ok(html! {
        dl.meta {
            div { dt { (t("依据记录号", "based on seq")) } dd { (f.based_on_seq) } }
            div { dt { (t("金额单位", "amounts in")) } dd { (unit.name(lang)) } }
        }
        p.note { (t("工资保障倍数 = 预计可用于发薪的库款 ÷ 当月工资需求；低于 1 为高风险，不低于 1、低于 1.2 为中风险，不低于 1.2 为低风险。",
                    "Wage cover = cash expected for wages ÷ the month's wage need; below 1 is high risk, 1 to 1.2 medium.")) }
        div.stats {
            @for r in [Risk::High, Risk::Medium, Risk::Low] {
                div.stat { div.k { span class={ "label " (match r { Risk::High => "warning", Risk::Medium => "low", Risk::Low => "normal" }) } { (r.word(lang)) (t("风险", " risk")) } }
                           div.v { (count(r)) " " (t("个县区·月", "county-months")) } }
            }
        }
        div.scroll {
            table.data.heat #heat {
                thead { tr {
                    th.t { (t("县区", "County")) }
                    @for m in &f.months { th.n { (zh_month_in(*m, lang)) } }
                } }
                tbody {
                    @for c in &f.counties {
                        tr data-county=(c.county.as_str()) {
                            td.t { a href=(county_href(c.county.as_str())) { (c.name.as_str()) } " " span.id { (c.county.as_str()) } }
                            @for x in &c.cells {
                                td class={ "cell " (risk_class(x.risk)) } data-month=(x.month.to_string())
                                    data-cover=(x.wage_cover.map_or_else(String::new, |r| r.to_string()))
                                    title=(format!("{} {}", t("工资需求", "wage need"), unit.grouped(x.wage_need))) {
                                    strong { (x.risk.word(lang)) (t("风险", "")) }
                                    span.w { (x.wage_cover.map_or_else(|| "—".to_string(), |r| r.to_string())) }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// `GET /desk/forecast?from=YYYY-MM&months=K&at_seq=N` (from defaults to the month
/// after the log's latest date, months to 3).
pub async fn page(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    let cx = match signed_in(&app, &headers, &uri) {
        Ok(cx) => cx,
        Err(r) => return r,
    };
    let q = super::query(&uri);
    let title_of = |from: Option<Month>, months: u32| match (cx.lang, from) {
        (Lang::Zh, Some(f)) => format!(
            "工资发放风险预测（{}起 {months} 个月）",
            crate::lang::zh_month(f)
        ),
        (Lang::Zh, None) => "工资发放风险预测".to_string(),
        (Lang::En, Some(f)) => format!("Wage risk forecast ({months} months from {f})"),
        (Lang::En, None) => "Wage risk forecast".to_string(),
    };
    let title = &title_of(None, 3);
    let mut problems = Vec::new();
    let from = q.month("from").unwrap_or_else(|m| {
        problems.push(m);
        None
    });
    let months = match q.u64("months") {
        Ok(Some(n)) if (1..=u64::from(MAX_FORECAST_MONTHS)).contains(&n) => n as u32,
        Ok(None) => 3,
        Ok(Some(n)) => {
            problems.push(Msg::new(
                format!("月数须为 1 至 {MAX_FORECAST_MONTHS}，不能是 {n}"),
                format!("months must be 1 to {MAX_FORECAST_MONTHS}, not {n}"),
            ));
            3
        }
        Err(m) => {
            problems.push(m);
            3
        }
    };
    let at_seq = q.u64("at_seq").unwrap_or_else(|m| {
        problems.push(m);
        None
    });
    let input_problems = problems.len();
    let lang = cx.lang;
    let read = read_state(&app, at_seq, move |st| {
        let from = from.unwrap_or_else(|| super::plan::next_month(st));
        (from, render(st, from, months, lang))
    })
    .await;
    let picker = |from: Option<Month>| {
        html! {
            form.picker method="get" action="/desk/forecast" {
                label { (cx.t("起始月份", "From")) " " input type="month" name="from" value=[from.map(|m| m.to_string())]; }
                label { (cx.t("月数", "Months")) " " input type="number" min="1" max=(MAX_FORECAST_MONTHS) name="months" value=(months); }
                label { (cx.t("截至记录号", "At seq")) " " input type="number" min="0" name="at_seq" value=[q.get("at_seq")] placeholder=(cx.t("最新", "latest")); }
                button type="submit" { (cx.t("查询", "Show")) }
            }
        }
    };
    let (status, body, shown_from) = match read {
        Ok((f, Ok(b))) => (StatusCode::OK, b, Some(f)),
        Ok((f, Err(m))) => {
            problems.push(m);
            (StatusCode::OK, html! {}, Some(f))
        }
        Err(Unread::Bad(m)) => {
            problems.push(m);
            (StatusCode::BAD_REQUEST, html! {}, from)
        }
        Err(u) => return page::unread(&cx, Nav::Forecast, title, u),
    };
    // A malformed parameter is the reader's mistake (400); an empty forecast is not.
    let status = if input_problems > 0 {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    html(
        status,
        page::page(
            &cx,
            Nav::Forecast,
            &title_of(shown_from, months),
            shown(&cx, &problems, picker(shown_from), body),
        ),
    )
}
