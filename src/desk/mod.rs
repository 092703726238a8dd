//! The bureau's desk (issue 17): web pages in Chinese (English on request) served by
//! `sanbao serve` beside the API, for the treasury officers, schedulers and auditors
//! who work in a browser.
//!
//! - [`session`]: the token traded once for a session cookie, with a CSRF token;
//! - [`form`]: query strings and form bodies, checked with messages in both languages;
//! - [`page`]: the page shell (navigation, language switch, sign-out) and small parts;
//! - the pages: [`overview`] (总览), [`county`], [`plan`] (调度计划, with issue),
//!   [`forecast`] (heat map), [`journal`] (事件流水, live), [`forms`] (the officer's
//!   forms), [`audit`] (verify, replay, export);
//! - [`assets`]: the CSS and the little JavaScript, compiled into the binary.
//!
//! Guarantees:
//! - **roles are enforced here, on the server**, exactly as for the API
//!   ([`crate::server::auth::Role::may_append`]): a page hides what a role may not do,
//!   but a POST that the role may not make is a 403 that writes nothing, and every
//!   state-changing POST must carry its session's CSRF token (else 403, nothing
//!   written);
//! - **no second computation**: every figure comes from the queries the API answers
//!   with ([`crate::query`]) through the report model ([`crate::report`]) or the chart
//!   code ([`crate::chart`]); writes go through the one writer, with the same checks;
//! - **no 5xx for bad input**: a malformed date, an unknown county, an at-seq past the
//!   head give the page with a message in the reader's language (status 400 or 404);
//! - pages are HTML rendered on the server and work without JavaScript, except the
//!   journal's live rows; nothing is fetched from another host.

pub mod assets;
pub mod audit;
pub mod county;
pub mod forecast;
pub mod form;
pub mod forms;
pub mod journal;
pub mod overview;
pub mod page;
pub mod plan;
pub mod session;

use crate::lang::Lang;
use crate::server::AppState;
use crate::state::State;
pub use axum::extract::State as Shared;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use form::{enc, Form, Msg};
use maud::Markup;
use session::Session;
use std::time::Instant;

/// The language cookie's name (`zh` or `en`; the desk's default is Chinese).
pub const LANG_COOKIE: &str = "sanbao_lang";

/// The desk's routes (merged into the API's router by [`crate::server::routes::router`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/desk", get(|| async { see_other("/") }))
        .route("/desk/sign-in", get(page::sign_in_form).post(page::sign_in))
        .route("/desk/sign-out", post(page::sign_out))
        .route("/desk/lang/{lang}", get(page::switch_lang))
        .route("/desk/assets/{name}", get(assets::serve))
        .route("/desk/counties/{id}", get(county::page))
        .route("/desk/plans", get(plan::index))
        .route("/desk/plans/{month}", get(plan::page))
        .route(
            "/desk/plans/{month}/issue",
            get(plan::confirm).post(plan::issue),
        )
        .route("/desk/forecast", get(forecast::page))
        .route("/desk/journal", get(journal::page))
        .route("/desk/journal/stream", get(journal::stream))
        .route("/desk/forms", get(forms::index))
        .route("/desk/forms/{kind}", get(forms::show).post(forms::submit))
        .route("/desk/audit", get(audit::page))
        .route("/desk/audit/export", get(audit::export))
        .route("/desk/{*rest}", get(page::not_found))
}

/// What a page of a signed-in user knows: the service, the reader's language, the
/// session and the page's own address.
pub struct Cx {
    /// The service.
    pub app: AppState,
    /// The reader's language.
    pub lang: Lang,
    /// Who is signed in, and the CSRF token of their forms.
    pub session: Session,
    /// This page's path and query (where the language switch comes back to).
    pub here: String,
}

impl Cx {
    /// The word of the reader's language.
    pub fn t(&self, zh: &'static str, en: &'static str) -> &'static str {
        self.lang.pick(zh, en)
    }

    /// A message in the reader's language.
    pub fn say<'a>(&self, m: &'a Msg) -> &'a str {
        m.get(self.lang)
    }
}

/// The reader's language: the `sanbao_lang` cookie, else Chinese.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    session::cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or(Lang::Zh)
}

/// The page's context when a session cookie names a live session; else the answer
/// to give instead: a redirect to the sign-in page, which comes back here.
#[allow(clippy::result_large_err)]
pub fn signed_in(app: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<Cx, Response> {
    let here = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let found = session::cookie(headers, session::COOKIE)
        .and_then(|id| app.sessions().get(app.tokens(), id, Instant::now()));
    match found {
        Some(s) => {
            let span = tracing::Span::current();
            span.record("role", tracing::field::display(s.who.role));
            span.record("user", tracing::field::display(&s.who.name));
            Ok(Cx {
                app: app.clone(),
                lang: lang_of(headers),
                session: s,
                here,
            })
        }
        None => Err(see_other(&format!("/desk/sign-in?next={}", enc(&here)))),
    }
}

/// A `303 See Other` to `to` (to the overview when `to` cannot be a header value).
pub fn see_other(to: &str) -> Response {
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::SEE_OTHER;
    let v = HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/"));
    r.headers_mut().insert(header::LOCATION, v);
    r
}

/// "a" or "an" before a role's name, for English messages.
pub fn a_role(r: crate::server::auth::Role) -> String {
    match r {
        crate::server::auth::Role::Officer
        | crate::server::auth::Role::Auditor
        | crate::server::auth::Role::Approver => format!("an {r}"),
        crate::server::auth::Role::Scheduler => format!("a {r}"),
    }
}

/// An HTML answer.
pub fn html(status: StatusCode, m: Markup) -> Response {
    let mut r = Response::new(axum::body::Body::from(m.into_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Why a page could not read the state it was asked for.
pub enum Unread {
    /// The reader asked for something that is not there (an at-seq past the head):
    /// the page says so (400).
    Bad(Msg),
    /// The log could not be read (503, the reason said).
    Failed(Msg),
}

/// Runs `f` on the state at `at_seq` (the head when `None`) off the async threads: the
/// writer's state at the head, else one folded from the stored log — as the API's
/// reads do.
pub async fn read_state<T: Send + 'static>(
    app: &AppState,
    at_seq: Option<u64>,
    f: impl FnOnce(&State) -> T + Send + 'static,
) -> Result<T, Unread> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let _turn = app.query_turn();
        let st = app.state();
        let head = st.head_seq;
        match at_seq {
            Some(n) if n > head => Err(Unread::Bad(Msg::new(
                format!("记录号 {n} 超出日志末条记录（seq {head}），请填 0 至 {head}"),
                format!("at-seq {n} is past the log's head (seq {head}); use 0 to {head}"),
            ))),
            Some(n) if n < head => {
                drop(st);
                match app.past_state(n) {
                    Ok(past) => Ok(f(&past)),
                    Err(e) => Err(Unread::Failed(Msg::new(
                        format!("读取日志失败：{e}"),
                        format!("cannot read the log: {e}"),
                    ))),
                }
            }
            _ => Ok(f(&st)),
        }
    })
    .await
    .unwrap_or_else(|_| {
        Err(Unread::Failed(Msg::new(
            "查询未能完成",
            "the query could not be completed",
        )))
    })
}

/// The query of a page's URI.
pub fn query(uri: &Uri) -> Form {
    Form::query(uri)
}

/// Reads the body of a desk form (at most [`crate::server::MAX_BODY_BYTES`]); an
/// unreadable body is an empty form (its fields then fail their own checks).
pub async fn form_body(app: &AppState, headers: &HeaderMap, body: axum::body::Body) -> Form {
    match crate::server::routes::read_body(headers, body, app.limits().body_read).await {
        Ok(b) => Form::parse(&String::from_utf8_lossy(&b)),
        Err(_) => Form::default(),
    }
}

/// A page's path segment: the text, or "" when it could not be read (not UTF-8, say),
/// so the page's own check says what is wrong, in the reader's language, instead of
/// the framework's plain-text 400.
pub fn segment(
    p: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> String {
    p.map(|axum::extract::Path(s)| s).unwrap_or_default()
}

/// `Shared` re-exported for the pages' handlers.
pub type App = Shared<AppState>;

/// Why the desk did not record an event: the HTTP status, the field to blame (a 422
/// names one when it can) and the reason in both languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 403 (the role may not), 422 (a rule or a field), 409 (a conflict), 503 (a
    /// read-only standby, a stopped writer, a failed disk).
    pub status: StatusCode,
    /// The field the reason is about.
    pub field: Option<String>,
    /// The reason.
    pub msg: Msg,
}

impl Refusal {
    fn of_event(e: &crate::event::EventError) -> Refusal {
        Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            field: e.field.clone(),
            msg: Msg::new(
                e.zh.clone().unwrap_or_else(|| e.reason.clone()),
                e.reason.clone(),
            ),
        }
    }
}

/// Appends one event `v` (a JSON object with its `kind`) for the signed-in user, under
/// the idempotency key `key`, through the one writer and its checks — the API's
/// `POST /v1/events` path: the role first ([`crate::server::auth::Role::may_append`],
/// 403), a read-only standby (503), the event's fields (422), the rules (422),
/// conflicts (409). Nothing is written unless every check passed.
pub async fn append_one(
    cx: &Cx,
    v: serde_json::Value,
    key: &str,
) -> Result<crate::log::Ack, Refusal> {
    let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    if !cx.session.who.role.may_append(kind) {
        return Err(Refusal {
            status: StatusCode::FORBIDDEN,
            field: None,
            msg: Msg::new(
                format!(
                    "{}无权录入此类事件（{kind}），未作任何记录。",
                    page::role_word(cx.session.who.role, Lang::Zh)
                ),
                format!(
                    "{} may not record {kind}; nothing was recorded",
                    a_role(cx.session.who.role)
                ),
            ),
        });
    }
    if let Err(e) = cx.app.writable() {
        return Err(Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            field: None,
            msg: Msg::new("本服务为只读备机，未作任何记录；请到主机录入。", e.message),
        });
    }
    let mut input = crate::event::Event::parse_object(v).map_err(|e| Refusal::of_event(&e))?;
    if crate::event::check_idempotency_key(key).is_ok() {
        input.idempotency_key = Some(key.to_string());
    }
    let acks = cx
        .app
        .writer()
        .append_as(&cx.session.who.name, vec![input], None)
        .await
        .map_err(|e| match e {
            crate::log::AppendError::Invalid { error, .. } => Refusal::of_event(&error),
            crate::log::AppendError::Conflict(en, zh) => Refusal {
                status: StatusCode::CONFLICT,
                field: None,
                msg: Msg::new(zh, en),
            },
            crate::log::AppendError::Storage(en) => Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                field: None,
                msg: Msg::new(format!("写入磁盘失败，未作任何记录：{en}"), en),
            },
            crate::log::AppendError::Closed => Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                field: None,
                msg: Msg::new(
                    "服务已停止写入，未作任何记录；请联系管理员重启服务。",
                    "the writer has stopped; nothing was recorded",
                ),
            },
        })?;
    acks.into_iter().next().ok_or_else(|| Refusal {
        status: StatusCode::SERVICE_UNAVAILABLE,
        field: None,
        msg: Msg::new("写入未返回记录", "the writer answered no record"),
    })
}

/// A new idempotency key for a form, made when the form is shown: a double click or a
/// resubmit of the same form then records once.
pub fn new_form_key() -> String {
    format!("desk-{}", &session::random_hex()[..32])
}
