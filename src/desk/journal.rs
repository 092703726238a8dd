//! 事件流水: the log's records, newest first, [`PAGE_ROWS`] to a page, with a county
//! and a kind filter, and — on the first page — new records added at the top as they
//! are written (the journal's live rows, `desk.js`, from [`stream`]).
//!
//! Guarantees:
//! - **the records as stored**: each row is one stored record (its seq, kind, county,
//!   amount or balance, effective date and full hash), read from the store — never
//!   from a second copy — off the async threads; the hashes equal `/v1/events`'s;
//! - **a bounded scan**: a filtered page reads at most [`SCAN_LIMIT`] records per
//!   request, backwards from `before` (or the head; forwards from `after` for the
//!   newer pages); when the bound is reached before a page is full, the page says so
//!   and links to continue from where the scan stopped;
//! - **no gap between the page and the live rows**: the page is read at a head it
//!   names (`data-from` = head + 1) and the stream starts there;
//! - **no 5xx for bad input**: a malformed `before`/`after`, an unknown county or kind
//!   gives the page with the reason in the reader's language (400);
//! - [`stream`] is the API's event stream ([`crate::server::sse::stream`], the same
//!   bytes, `Last-Event-ID` honoured, the same stream cap) behind the desk's session:
//!   no session is a 401 (an `EventSource` cannot follow a sign-in redirect).

use super::form::{enc, Form, Msg};
use super::page::{self, flash, Nav};
use super::Shared;
use super::{html, signed_in, App, Cx};
use crate::event::KINDS;
use crate::lang::{kind_word, Lang};
use crate::log::{Store, StoreError};
use crate::record::Record;
use crate::values::CountyId;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use futures_util::StreamExt;
use maud::{html as markup, Markup};
use serde_json::Value;
use std::collections::BTreeMap;

/// Rows on one page of the journal.
pub const PAGE_ROWS: usize = 50;

/// Most records one filtered request reads before it stops and offers to go on.
pub const SCAN_LIMIT: u64 = 20_000;

/// Records read from the store at a time by a filtered scan.
const WINDOW: u64 = 512;

/// The member of each kind's event that holds its effective (business) date — the
/// one [`crate::event::Event::effective_date`] reads; the live script takes a new
/// row's date from it (the page embeds this map).
pub const DATE_FIELDS: &[(&str, &str)] = &[
    ("county_registered", "registered_on"),
    ("city_funds_received", "received_on"),
    ("allocation_notified", "notified_on"),
    ("transfer_allocated", "value_date"),
    ("emergency_dispatched", "value_date"),
    ("payroll_deposited", "deposited_on"),
    ("wage_bill_declared", "declared_on"),
    ("wages_paid", "paid_on"),
    ("revenue_collected", "collected_on"),
    ("expenditure_paid", "paid_on"),
    ("balance_reported", "on"),
    ("needs_budgeted", "budgeted_on"),
    ("risk_lines_set", "effective_from"),
    ("plan_issued", "issued_on"),
    ("event_reversed", "on"),
    ("planning_policy_set", "effective_from"),
    ("notice_issued", "issued_on"),
    ("emergency_requested", "value_date"),
    ("emergency_approved", "approved_on"),
    ("approval_limit_set", "effective_from"),
    ("policy_proposed", "proposed_on"),
    ("assessment_decided", "decided_on"),
    ("response_plan_filed", "filed_on"),
];

/// Which records a page shows: all, or one county's, or one kind's, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only records naming this county ([`crate::event::Event::county`]).
    pub county: Option<CountyId>,
    /// Only records of this kind.
    pub kind: Option<&'static str>,
}

impl Filter {
    /// True when the filter lets every record through.
    pub fn is_empty(&self) -> bool {
        self.county.is_none() && self.kind.is_none()
    }

    /// True when `r` passes the filter.
    pub fn admits(&self, r: &Record) -> bool {
        self.kind.map_or(true, |k| r.event.kind() == k)
            && self
                .county
                .as_ref()
                .map_or(true, |c| r.event.county() == Some(c))
    }
}

/// Where a page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Records with seq below this one, newest first (`before`; the head + 1 for the
    /// first page).
    Before(u64),
    /// Records with seq above this one, oldest first (`after`: the newer pages).
    After(u64),
}

/// What a scan found.
#[derive(Debug)]
pub struct Scan {
    /// The matching records, newest first (at most [`PAGE_ROWS`]).
    pub rows: Vec<Record>,
    /// The lowest seq read (the scan's start + 1 when none was read).
    pub low: u64,
    /// The highest seq read (the scan's start − 1 when none was read).
    pub high: u64,
    /// Records read.
    pub read: u64,
    /// True when the scan stopped at its bound with the page not full and records
    /// left in its direction.
    pub bounded: bool,
    /// The head the scan read up to.
    pub head: u64,
}

/// Reads the records of one page from `store` up to `head` (blocking): the first
/// [`PAGE_ROWS`] records that pass `filter`, going from `from`, reading at most
/// `limit` records. Pure over the store, for the tests and the bench.
pub fn scan(
    store: &Store,
    head: u64,
    from: Start,
    filter: &Filter,
    limit: u64,
) -> Result<Scan, StoreError> {
    let window = if filter.is_empty() {
        PAGE_ROWS as u64
    } else {
        WINDOW
    };
    let mut rows = Vec::new();
    let mut read = 0u64;
    match from {
        Start::Before(before) => {
            let top = before.saturating_sub(1).min(head);
            let mut low = top + 1;
            let mut cursor = top;
            'outer: while cursor >= 1 && rows.len() < PAGE_ROWS && read < limit {
                let size = window.min(limit - read).min(cursor);
                let lo = cursor + 1 - size;
                let chunk = store.records(lo, cursor).collect::<Result<Vec<_>, _>>()?;
                for r in chunk.into_iter().rev() {
                    read += 1;
                    low = r.seq;
                    if filter.admits(&r) {
                        rows.push(r);
                        if rows.len() == PAGE_ROWS {
                            break 'outer;
                        }
                    }
                }
                cursor = lo - 1;
            }
            Ok(Scan {
                bounded: rows.len() < PAGE_ROWS && low > 1 && read >= limit,
                rows,
                low,
                high: top,
                read,
                head,
            })
        }
        Start::After(after) => {
            let bottom = after.saturating_add(1);
            let mut high = bottom - 1;
            let mut cursor = bottom;
            'outer: while cursor <= head && rows.len() < PAGE_ROWS && read < limit {
                let size = window.min(limit - read).min(head - cursor + 1);
                let hi = cursor + size - 1;
                for r in store.records(cursor, hi) {
                    let r = r?;
                    read += 1;
                    high = r.seq;
                    if filter.admits(&r) {
                        rows.push(r);
                        if rows.len() == PAGE_ROWS {
                            break 'outer;
                        }
                    }
                }
                cursor = hi + 1;
            }
            rows.reverse();
            Ok(Scan {
                bounded: rows.len() < PAGE_ROWS && high < head && read >= limit,
                rows,
                low: bottom,
                high,
                read,
                head,
            })
        }
    }
}

/// One record as a row of the journal (the live script builds the same cells).
pub fn row(r: &Record, names: &BTreeMap<String, String>, lang: Lang) -> Markup {
    let kind = r.event.kind();
    let ev = r.event.to_json();
    let county = r.event.county().map(|c| c.as_str().to_string());
    let name = match (&county, ev.get("name").and_then(Value::as_str)) {
        (_, Some(n)) if kind == "county_registered" => Some(n.to_string()),
        (Some(c), _) => names.get(c).cloned(),
        _ => None,
    };
    // The amount or reported balance, as the county page and the live script show it.
    let amount = r.event.amount();
    let hash = r.hash.to_hex();
    markup! {
        tr data-seq=(r.seq) data-kind=(kind) data-county=[county.as_deref()] {
            td.n { (r.seq) }
            td.t { span.kind title=(kind) { (kind_word(kind, lang)) } " " small.code { (kind) } }
            td.t {
                @if let Some(c) = &county {
                    span.cid { (c) } @if let Some(n) = &name { " " (n) }
                }
            }
            td.n data-amount=[amount.map(|a| a.to_string())] { @if let Some(a) = amount { (a.grouped()) } }
            td.t { (r.event.effective_date().to_string()) }
            td.t.hash data-hash=(hash) { (hash) }
        }
    }
}

/// A JSON object of pairs, for a `data-` attribute the live script reads.
fn json_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    Value::Object(
        pairs
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    )
    .to_string()
}

/// The page's address with `county` and `kind` kept and `more` added.
fn href(filter: &Filter, more: Option<(&str, u64)>) -> String {
    let mut q = Vec::new();
    if let Some((k, v)) = more {
        q.push(format!("{k}={v}"));
    }
    if let Some(c) = &filter.county {
        q.push(format!("county={}", enc(c.as_str())));
    }
    if let Some(k) = filter.kind {
        q.push(format!("kind={k}"));
    }
    if q.is_empty() {
        "/desk/journal".to_string()
    } else {
        format!("/desk/journal?{}", q.join("&"))
    }
}

/// The filter form: the registered counties (`id 名称`) and every kind (its name).
fn filter_form(
    cx: &Cx,
    counties: &[(String, String)],
    county: Option<&str>,
    kind: Option<&str>,
) -> Markup {
    markup! {
        form.picker #journal-filter method="get" action="/desk/journal" {
            label { (cx.t("县区", "County")) " "
                select name="county" {
                    option value="" { (cx.t("全部县区", "all counties")) }
                    @for (id, name) in counties {
                        option value=(id) selected[county == Some(id.as_str())] { (id) " " (name) }
                    }
                }
            }
            label { (cx.t("事件类型", "Kind")) " "
                select name="kind" {
                    option value="" { (cx.t("全部类型", "all kinds")) }
                    @for k in KINDS {
                        option value=(k) selected[kind == Some(*k)] { (kind_word(k, cx.lang)) " (" (k) ")" }
                    }
                }
            }
            button type="submit" { (cx.t("筛选", "Filter")) }
            @if county.is_some() || kind.is_some() {
                a href="/desk/journal" { (cx.t("清除筛选", "clear")) }
            }
        }
    }
}

/// The records table (`#journal-live` with the live script's hooks on the first page).
fn table(
    cx: &Cx,
    s: &Scan,
    filter: &Filter,
    names: &BTreeMap<String, String>,
    live: bool,
) -> Markup {
    let kinds = json_map(KINDS.iter().map(|k| (*k, kind_word(k, cx.lang))));
    let dates = json_map(DATE_FIELDS.iter().copied());
    let county_names = json_map(names.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let t = |zh, en| cx.t(zh, en);
    markup! {
        @if live {
            p #live-status data-state="off"
                data-word-open=(t("实时更新中：新记录将显示在表格顶部", "live: new records appear at the top"))
                data-word-retrying=(t("实时连接中断，正在重连…", "live updates interrupted; reconnecting…"))
                data-word-closed=(t("实时更新已停止，请刷新页面", "live updates stopped; reload the page")) {
                (t("实时更新未连接（需启用 JavaScript）", "live updates not connected (needs JavaScript)"))
            }
        }
        div.scroll {
            table.data.journal id=(if live { "journal-live" } else { "journal" })
                data-from=(s.head + 1)
                data-county=(filter.county.as_ref().map_or("", |c| c.as_str()))
                data-kind=(filter.kind.unwrap_or(""))
                data-kind-names=(kinds)
                data-date-fields=(dates)
                data-county-names=(county_names) {
                thead { tr {
                    th.n { (t("记录号", "seq")) }
                    th.t { (t("事件类型", "kind")) }
                    th.t { (t("县区", "county")) }
                    th.n { (t("金额/余额（元）", "amount / balance (yuan)")) }
                    th.t { (t("业务日期", "effective date")) }
                    th.t { (t("哈希", "hash")) }
                } }
                tbody {
                    @for r in &s.rows { (row(r, names, cx.lang)) }
                }
            }
        }
        @if s.rows.is_empty() {
            p.empty #journal-empty { (t("没有符合条件的记录。", "No records match.")) }
        }
    }
}

/// The paging links: latest, newer, older (and the bound's note).
fn paging(cx: &Cx, s: &Scan, filter: &Filter, first: bool, from: Start) -> Markup {
    let t = |zh, en| cx.t(zh, en);
    let older = (s.low > 1).then(|| href(filter, Some(("before", s.low))));
    let newer = (s.high < s.head).then(|| href(filter, Some(("after", s.high))));
    let note = if s.bounded {
        let (zh, en) = match from {
            Start::Before(_) => (
                format!(
                    "为保证响应速度，本次只查找了 {} 条记录（记录号 {}—{}），其中 {} 条符合条件；可继续向前查找。",
                    s.read, s.low, s.high, s.rows.len()
                ),
                format!(
                    "This request read {} records (seq {} to {}) and found {} that match; continue with older records.",
                    s.read, s.low, s.high, s.rows.len()
                ),
            ),
            Start::After(_) => (
                format!(
                    "为保证响应速度，本次只查找了 {} 条记录（记录号 {}—{}），其中 {} 条符合条件；可继续向后查找。",
                    s.read, s.low, s.high, s.rows.len()
                ),
                format!(
                    "This request read {} records (seq {} to {}) and found {} that match; continue with newer records.",
                    s.read, s.low, s.high, s.rows.len()
                ),
            ),
        };
        Some(Msg::new(zh, en))
    } else {
        None
    };
    markup! {
        @if let Some(m) = &note {
            p.flash.warn #scan-bound role="status" data-stopped-at=(match from { Start::Before(_) => s.low, Start::After(_) => s.high }) {
                (cx.say(m)) " "
                @match from {
                    Start::Before(_) => { @if let Some(h) = &older { a #scan-continue href=(h) { (t("继续向前查找", "continue")) } } }
                    Start::After(_) => { @if let Some(h) = &newer { a #scan-continue href=(h) { (t("继续向后查找", "continue")) } } }
                }
            }
        }
        nav.paging {
            @if !first { a #page-latest href=(href(filter, None)) { (t("最新", "latest")) } " " }
            @if let Some(h) = &newer { a #page-newer rel="prev" href=(h) { (t("« 较新", "« newer")) } " " }
            @if let Some(h) = &older { a #page-older rel="next" href=(h) { (t("较早 »", "older »")) } }
        }
    }
}

/// What the query asks for, checked: the start, the filter; or the reason.
fn parse(
    q: &Form,
    head: u64,
    known: impl Fn(&CountyId) -> bool,
) -> Result<(Start, Filter, bool), Msg> {
    let before = q.u64("before").map_err(|m| named("before", m))?;
    let after = q.u64("after").map_err(|m| named("after", m))?;
    let from = match (before, after) {
        (Some(_), Some(_)) => {
            return Err(Msg::new(
                "before 与 after 只能填写一个",
                "give before or after, not both",
            ))
        }
        (Some(b), None) if b > head + 1 => {
            return Err(Msg::new(
                format!(
                    "记录号 {b} 超出日志末条记录（seq {head}），请填 1 至 {}",
                    head + 1
                ),
                format!(
                    "before {b} is past the log's head (seq {head}); use 1 to {}",
                    head + 1
                ),
            ))
        }
        (None, Some(a)) if a > head => {
            return Err(Msg::new(
                format!("记录号 {a} 超出日志末条记录（seq {head}），请填 0 至 {head}"),
                format!("after {a} is past the log's head (seq {head}); use 0 to {head}"),
            ))
        }
        (Some(b), None) => Start::Before(b),
        (None, Some(a)) => Start::After(a),
        (None, None) => Start::Before(head + 1),
    };
    let county = q.county("county")?;
    if let Some(c) = &county {
        if !known(c) {
            return Err(Msg::new(
                format!("县区“{c}”未登记，请从列表中选择"),
                format!("no county {c} is registered; choose one from the list"),
            ));
        }
    }
    let kind = match q.get("kind") {
        None => None,
        Some(k) => Some(*KINDS.iter().find(|x| **x == k).ok_or_else(|| {
            Msg::new(
                format!("没有“{k}”这类事件，请从列表中选择"),
                format!("{k:?} is not an event kind; choose one from the list"),
            )
        })?),
    };
    Ok((
        from,
        Filter { county, kind },
        before.is_none() && after.is_none(),
    ))
}

fn named(field: &str, m: Msg) -> Msg {
    Msg::new(format!("{field}：{}", m.zh), format!("{field}: {}", m.en))
}

/// `GET /desk/journal?before=SEQ|after=SEQ&county=ID&kind=KIND` (any signed-in role).
pub async fn page(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    let cx = match signed_in(&app, &headers, &uri) {
        Ok(cx) => cx,
        Err(r) => return r,
    };
    let title = cx.t("事件流水", "Journal");
    let q = super::query(&uri);
    let (head, counties): (u64, Vec<(String, String)>) = {
        let st = app.state();
        (
            st.head_seq,
            st.counties()
                .map(|c| (c.id.as_str().to_string(), c.name.as_str().to_string()))
                .collect(),
        )
    };
    let names: BTreeMap<String, String> = counties.iter().cloned().collect();
    let form = filter_form(&cx, &counties, q.get("county"), q.get("kind"));
    let (from, filter, first) = match parse(&q, head, |c| names.contains_key(c.as_str())) {
        Ok(v) => v,
        Err(m) => {
            return html(
                StatusCode::BAD_REQUEST,
                page::page(
                    &cx,
                    Nav::Journal,
                    title,
                    markup! { (form) (flash("bad", cx.say(&m))) },
                ),
            )
        }
    };
    let a = app.clone();
    let f = filter.clone();
    let found = tokio::task::spawn_blocking(move || scan(a.store(), head, from, &f, SCAN_LIMIT))
        .await
        .map_err(|_| Msg::new("查询未能完成", "the query could not be completed"))
        .and_then(|r| {
            r.map_err(|e| {
                Msg::new(
                    format!("读取日志失败：{e}"),
                    format!("cannot read the log: {e}"),
                )
            })
        });
    let s = match found {
        Ok(s) => s,
        Err(m) => {
            return page::message(
                &cx,
                Nav::Journal,
                StatusCode::SERVICE_UNAVAILABLE,
                title,
                &m,
            )
        }
    };
    let body = markup! {
        (form)
        p.note {
            (cx.t("日志末条记录", "log head")) " seq " span #journal-head { (head) } " · "
            (cx.t("每页 50 条，按记录号由新到旧排列。", "50 records a page, newest first."))
        }
        (paging(&cx, &s, &filter, first, from))
        (table(&cx, &s, &filter, &names, first))
        (paging(&cx, &s, &filter, first, from))
    };
    html(StatusCode::OK, page::page(&cx, Nav::Journal, title, body))
}

/// A plain-text answer (for the stream's refusals, which no page shows).
fn plain(status: StatusCode, m: &Msg) -> Response {
    let mut r = Response::new(axum::body::Body::from(format!("{}\n{}\n", m.zh, m.en)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// `GET /desk/journal/stream?from=SEQ` with `Last-Event-ID`: the API's event stream
/// for a signed-in desk user. No session is a 401; a malformed `from` or
/// `Last-Event-ID` a 400; the stream cap reached a 503 with `Retry-After`.
pub async fn stream(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    let Ok(cx) = signed_in(&app, &headers, &uri) else {
        return plain(
            StatusCode::UNAUTHORIZED,
            &Msg::new(
                "未登录或登录已过期，请重新登录后刷新页面",
                "not signed in (or the session expired); sign in and reload the page",
            ),
        );
    };
    let from = match super::query(&uri).u64("from") {
        Ok(v) => v,
        Err(m) => return plain(StatusCode::BAD_REQUEST, &named("from", m)),
    };
    let last = match headers.get("last-event-id") {
        None => None,
        Some(v) => match v
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
        {
            Some(n) => Some(n),
            None => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    &Msg::new(
                        "Last-Event-ID 应为记录号",
                        "Last-Event-ID must be a record's seq",
                    ),
                )
            }
        },
    };
    let start = match last {
        Some(n) => n.saturating_add(1),
        None => from.unwrap_or(1),
    };
    let Some(permit) = app.stream_permit() else {
        let mut r = plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &Msg::new(
                format!(
                    "实时连接已达上限（{} 个），请稍后刷新",
                    app.limits().max_streams
                ),
                format!(
                    "{} event streams are open, the most this service keeps; retry later",
                    app.limits().max_streams
                ),
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    };
    // The stream lives only as long as its session: each chunk (a record, or the
    // keep-alive comment every few seconds) is sent only while the session is live, so
    // sign-out, 8 hours idle or the user's removal ends an open live journal too.
    let id = cx.session.id.clone();
    let live = app.clone();
    let (parts, body) = crate::server::sse::stream(app, start, permit).into_parts();
    let chunks = body.into_data_stream().take_while(move |_| {
        let ok = live
            .sessions()
            .alive(live.tokens(), &id, std::time::Instant::now());
        std::future::ready(ok)
    });
    Response::from_parts(parts, axum::body::Body::from_stream(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desk_journal_names_a_date_field_for_every_kind() {
        for k in KINDS {
            assert!(DATE_FIELDS.iter().any(|(x, _)| x == k), "{k}");
            assert_ne!(kind_word(k, Lang::Zh), *k, "{k} has a Chinese name");
        }
        assert_eq!(DATE_FIELDS.len(), KINDS.len());
    }

    #[test]
    fn desk_journal_refuses_bad_queries_with_a_reason() {
        let known = |c: &CountyId| c.as_str() == "a";
        let ok = parse(&Form::parse("county=a&kind=wages_paid"), 10, known).unwrap();
        assert_eq!(ok.0, Start::Before(11));
        assert!(ok.2);
        assert_eq!(ok.1.kind, Some("wages_paid"));
        for bad in [
            "before=x",
            "before=12",
            "after=11",
            "county=b",
            "kind=nope",
            "before=1&after=1",
        ] {
            let e = parse(&Form::parse(bad), 10, known).unwrap_err();
            assert!(!e.zh.is_empty() && !e.en.is_empty(), "{bad}");
        }
        assert_eq!(
            parse(&Form::parse("after=3"), 10, known).unwrap().0,
            Start::After(3)
        );
    }
}
