//! 总览: the city treasury, one card per county (cash, 库款保障水平 on a small gauge
//! against its lines, its status as a coloured label *and* a word), the 重点关注地区
//! watch list with its reasons, the next paydays (months not yet paid) with their
//! deposit deadlines and status, direct funds overdue, wage arrears and reported
//! balances that disagree.
//!
//! Every figure is [`crate::query::monitor::monitor_today`]'s (equal, member for
//! member, to `/v1/monitor`'s, without the year of history the overview does not
//! show) and [`crate::query::position::city_position`]'s city treasury, through the
//! report model for the tables.

use super::form::Msg;
use super::page::{self, flash, Nav};
use super::Shared;
use super::{html, read_state, signed_in, App, Cx, Unread};
use crate::lang::{Lang, Term, Unit};
use crate::money::Ratio;
use crate::query::monitor::{monitor_today, Monitor, MonitorCounty, PayrollStatus};
use crate::query::position::city_position;
use crate::query::Status;
use crate::report::build::{self, Ctx};
use crate::report::html as rhtml;
use crate::state::State;
use crate::values::Date;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};

/// The sections of the monitor's report the overview shows under the cards.
pub const SECTIONS: &[&str] = &[
    "watchlist",
    "payroll",
    "direct_overdue",
    "arrears",
    "discrepancies",
];

/// The CSS class of a status (its word is always written beside it).
pub fn status_class(s: Status) -> &'static str {
    match s {
        Status::Warning => "warning",
        Status::Low => "low",
        Status::Normal => "normal",
        Status::Idle => "idle",
        Status::Unknown => "unknown",
    }
}

/// A county's status as a label: colour and word.
pub fn status_label(s: Status, lang: Lang) -> Markup {
    html! { span class={ "label " (status_class(s)) } { (s.word(lang)) } }
}

/// The link to a county's page.
pub fn county_href(id: &str) -> String {
    format!("/desk/counties/{}", super::form::enc(id))
}

fn x(r: Ratio, max: i64) -> f64 {
    let w = 236.0;
    2.0 + w * (r.units().clamp(0, max) as f64) / (max as f64)
}

/// Where the lines' labels go under a gauge: each under its line, kept inside the
/// gauge, and left out when it would overlap the one before (its line is still drawn
/// as a zone edge, and its value is in the gauge's title).
fn ticks(lines: &[Ratio], max: i64) -> Vec<(f64, Ratio)> {
    let mut out: Vec<(f64, Ratio)> = Vec::new();
    for &r in lines {
        let px = x(r, max).clamp(14.0, 226.0);
        if out.last().map_or(true, |(prev, _)| px - prev >= 28.0) {
            out.push((px, r));
        }
    }
    out
}

/// The gauge of a level against its three lines: four zones (预警, 偏低, 正常, 闲置)
/// and a mark at the level (none when the level is unknown). The zones' words are in
/// its title, and the level and status are written beside it on the card.
pub fn gauge(c: &MonitorCounty, lang: Lang) -> Markup {
    let (w, a, i) = (c.warning_line, c.alert_line, c.idle_line);
    let level = c.guarantee_level;
    let max = (i.units() * 5 / 4)
        .max(level.map_or(0, |l| l.units() + l.units() / 20))
        .min(i.units() * 2)
        .max(1);
    let title = format!(
        "{} {} · {} {} · {} {} · {} {}",
        lang.pick("库款保障水平", "guarantee level"),
        level.map_or_else(|| "—".to_string(), |l| l.to_string()),
        lang.pick("预警线", "warning line"),
        w,
        lang.pick("关注线", "alert line"),
        a,
        lang.pick("闲置线", "idle line"),
        i
    );
    let zone = |cls: &str, from: f64, to: f64| -> Markup {
        html! { rect class=(cls) x=(format!("{from:.1}")) y="4" width=(format!("{:.1}", (to - from).max(0.0))) height="10" {} }
    };
    html! {
        svg.gauge viewBox="0 0 240 30" role="img" {
            title { (title) }
            (zone("z-w", 2.0, x(w, max)))
            (zone("z-a", x(w, max), x(a, max)))
            (zone("z-n", x(a, max), x(i, max)))
            (zone("z-i", x(i, max), 238.0))
            @for (px, r) in ticks(&[w, a, i], max) {
                text x=(format!("{px:.1}")) y="26" text-anchor="middle" { (r) }
            }
            @if let Some(l) = level {
                @let px = x(l, max);
                path.mark d=(format!("M{:.1} 2 l-4 -2 h8 z M{:.1} 1 v15", px, px)) stroke="#1d2733" stroke-width="1.5" {}
            }
        }
    }
}

fn card(c: &MonitorCounty, name: &str, x: &Ctx) -> Markup {
    let lang = x.lang;
    html! {
        article class={ "card " (status_class(c.status)) } data-county=(c.county.as_str()) {
            h3 {
                a href=(county_href(c.county.as_str())) { (name) " " span.id { (c.county.as_str()) } }
                (status_label(c.status, lang))
            }
            div.cash data-cash=(c.cash.to_string()) { (x.unit.grouped(c.cash)) " " span.id { (x.unit.name(lang)) } }
            div.lvl {
                (lang.pick("库款保障水平", "guarantee level")) " "
                strong data-level=(c.guarantee_level.map_or_else(String::new, |l| l.to_string())) {
                    (c.guarantee_level.map_or_else(|| "—".to_string(), |l| l.to_string()))
                }
                (lang.pick(" 个月", " months"))
            }
            (gauge(c, lang))
        }
    }
}

/// The overview's body over `st`, as of `as_of` (the latest effective date when
/// `None`): pure, so that the bench renders it without a server.
pub fn render(st: &State, as_of: Option<Date>, lang: Lang) -> Markup {
    let mut m: Monitor = monitor_today(st, as_of);
    // The next paydays: the monitor's payroll rows not yet paid (a paid month needs
    // nothing more; at a province's scale the paid half would double the page).
    m.payroll.retain(|p| p.status != PayrollStatus::Paid);
    let treasury = m
        .as_of
        .map_or(crate::money::Money::ZERO, |d| city_position(st, d).treasury);
    let x = Ctx::of(st, lang, Unit::Yuan);
    let mut report = build::monitor(&m, &x);
    if let Some(s) = report.sections.iter_mut().find(|s| s.key == "payroll") {
        s.title = lang
            .pick(
                "近期发薪日（未发放的工资月份；备付截止日 = 发薪日前7天）",
                "Next paydays (months not yet paid; deposit deadline = payday − 7 days)",
            )
            .to_string();
    }
    let count = |s: Status| m.counties.iter().filter(|c| c.status == s).count();
    let t = |zh, en| lang.pick(zh, en);
    let link = |id: &str| county_href(id);
    html! {
        (rhtml::meta(&report))
        div.stats {
            div.stat #city-treasury data-amount=(treasury.to_string()) {
                div.k { (t("市级国库库款", "City treasury")) }
                div.v { (x.unit.grouped(treasury)) " " (x.unit.name(lang)) }
            }
            @for s in [Status::Warning, Status::Low, Status::Normal, Status::Idle, Status::Unknown] {
                div.stat {
                    div.k { (status_label(s, lang)) }
                    div.v { (count(s)) " " (t("个县区", "counties")) }
                }
            }
            div.stat {
                div.k { (t("重点关注地区", "Watch list")) }
                div.v { (m.watchlist.len()) " " (t("个", "")) }
            }
        }
        @if m.counties.is_empty() {
            @if st.county_count() == 0 {
                (flash("info", t("日志中还没有县区。", "No county is in the log yet.")))
            } @else {
                (flash("info", t("截至该日尚无已登记的县区。", "No county was registered by that date.")))
            }
        }
        section #cards {
            h2 { (t("各县区库款保障水平", "Counties' guarantee levels")) }
            div.cards {
                @for c in &m.counties {
                    (card(c, x.names.get(&c.county).map_or("", String::as_str), &x))
                }
            }
        }
        (rhtml::sections(&report, Some(SECTIONS), Some(&link)))
    }
}

/// Whether a request asks for HTML (a browser's `Accept`).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

/// `GET /?as_of=DATE&at_seq=N`: the overview for a browser (a request that accepts
/// `text/html`); for any other client `/` stays what it was in SPEC §7, a JSON 404
/// naming `/openapi.json`, so that API clients see no change.
pub async fn page(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    if !wants_html(&headers) {
        return axum::response::IntoResponse::into_response(
            crate::server::routes::not_found(uri).await,
        );
    }
    let cx = match signed_in(&app, &headers, &uri) {
        Ok(cx) => cx,
        Err(r) => return r,
    };
    let q = super::query(&uri);
    let title = cx.t("库款监测总览", "Treasury overview");
    let mut problems: Vec<Msg> = Vec::new();
    let as_of = q.date("as_of").unwrap_or_else(|m| {
        problems.push(m);
        None
    });
    let at_seq = q.u64("at_seq").unwrap_or_else(|m| {
        problems.push(m);
        None
    });
    let lang = cx.lang;
    let read = read_state(&app, at_seq, move |st| render(st, as_of, lang)).await;
    let picker = page::time_picker(&cx, "/", q.get("as_of"), q.get("at_seq"), html! {});
    let (status, body) = match read {
        Ok(b) => (StatusCode::OK, b),
        Err(Unread::Bad(m)) => {
            problems.push(m);
            (StatusCode::BAD_REQUEST, html! {})
        }
        Err(Unread::Failed(m)) => {
            return page::unread(&cx, Nav::Overview, title, Unread::Failed(m))
        }
    };
    let status = if problems.is_empty() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    html(
        status,
        page::page(
            &cx,
            Nav::Overview,
            title,
            shown(&cx, &problems, picker, body),
        ),
    )
}

/// A page's body: its problems (each in the reader's language), its picker, its
/// content.
pub fn shown(cx: &Cx, problems: &[Msg], picker: Markup, body: Markup) -> Markup {
    html! {
        @for p in problems { (flash("bad", cx.say(p))) }
        (picker)
        (body)
    }
}
