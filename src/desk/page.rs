//! The page shell of the desk (header, navigation, who is signed in, sign-out, the
//! language switch, footer) and the pages that need no session: sign-in, the
//! language switch, not-found.

use super::form::{enc, Form, Msg};
use super::session::{self, COOKIE};
use super::Shared;
use super::{form_body, html, lang_of, see_other, App, Cx, LANG_COOKIE};
use crate::lang::Lang;
use crate::server::auth::Role;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup, DOCTYPE};
use std::time::Instant;

/// Which part of the desk a page belongs to (its tab is marked in the navigation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    /// 总览.
    Overview,
    /// A county's page (reached from the overview).
    County,
    /// 调度计划.
    Plan,
    /// 风险预测.
    Forecast,
    /// 事件流水.
    Journal,
    /// 业务录入.
    Forms,
    /// 审计核验.
    Audit,
}

/// The role's name for a person.
pub fn role_word(r: Role, lang: Lang) -> &'static str {
    match r {
        Role::Officer => lang.pick("经办人员", "officer"),
        Role::Scheduler => lang.pick("调度人员", "scheduler"),
        Role::Auditor => lang.pick("审计人员", "auditor"),
        Role::Approver => lang.pick("审批人员", "approver"),
    }
}

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · " (lang.pick("三保库款调度", "sanbao desk")) }
            link rel="stylesheet" href=(super::assets::CSS_PATH);
            script src=(super::assets::JS_PATH) defer {}
        }
    }
}

/// The other language's switch: a link that sets the cookie and comes back to `here`.
fn switch(lang: Lang, here: &str) -> Markup {
    let (to, word) = match lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    html! {
        a.lang href=(format!("/desk/lang/{to}?back={}", enc(here))) hreflang=(to) { (word) }
    }
}

/// A full page for a signed-in user: `title`, the tab `nav`, and `body`.
pub fn page(cx: &Cx, nav: Nav, title: &str, body: Markup) -> Markup {
    let t = |zh, en| cx.t(zh, en);
    let tabs: Vec<(Nav, &str, &str)> = [
        (Nav::Overview, "/", t("总览", "Overview")),
        (Nav::Plan, "/desk/plans", t("调度计划", "Plan")),
        (Nav::Forecast, "/desk/forecast", t("风险预测", "Forecast")),
        (Nav::Journal, "/desk/journal", t("事件流水", "Journal")),
        (Nav::Forms, "/desk/forms", t("业务录入", "Record")),
        (Nav::Audit, "/desk/audit", t("审计核验", "Audit")),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n != Nav::Forms || super::forms::has_forms(cx.session.who.role))
    .collect();
    let head_seq = cx.app.durable_head();
    html! {
        (DOCTYPE)
        html lang=(cx.lang.pick("zh-CN", "en")) {
            (head(cx.lang, title))
            body data-role=(cx.session.who.role.as_str()) {
                header.top {
                    a.brand href="/" { (t("三保库款调度", "sanbao treasury desk")) }
                    nav {
                        @for (n, href, word) in &tabs {
                            a href=(href) class=[(*n == nav || (nav == Nav::County && *n == Nav::Overview)).then_some("on")] { (word) }
                        }
                    }
                    div.who {
                        span.user { (cx.session.who.name) " · " (role_word(cx.session.who.role, cx.lang)) }
                        (switch(cx.lang, &cx.here))
                        form.inline method="post" action="/desk/sign-out" {
                            input type="hidden" name="csrf" value=(cx.session.csrf);
                            button type="submit" { (t("退出登录", "Sign out")) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
                footer {
                    (t("日志末条记录", "log head")) " seq " (head_seq)
                    " · " a href="/openapi.json" { "API" }
                }
            }
        }
    }
}

/// A message box in a tone (`bad`, `warn`, `good`, `info`).
pub fn flash(tone: &str, text: &str) -> Markup {
    html! { p class={ "flash " (tone) } role="status" { (text) } }
}

/// The page for a failed read (`Unread`): the shell with the message.
pub fn unread(cx: &Cx, nav: Nav, title: &str, u: super::Unread) -> Response {
    let (status, m) = match u {
        super::Unread::Bad(m) => (StatusCode::BAD_REQUEST, m),
        super::Unread::Failed(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
    };
    html(status, page(cx, nav, title, flash("bad", cx.say(&m))))
}

/// A page with only a message, for a refusal (403) or a missing thing (404).
pub fn message(cx: &Cx, nav: Nav, status: StatusCode, title: &str, m: &Msg) -> Response {
    html(status, page(cx, nav, title, flash("bad", cx.say(m))))
}

/// The `as_of` / `at_seq` picker of the pages that read at a point of time.
pub fn time_picker(
    cx: &Cx,
    action: &str,
    as_of: Option<&str>,
    at_seq: Option<&str>,
    extra: Markup,
) -> Markup {
    html! {
        form.picker method="get" action=(action) {
            (extra)
            label { (cx.t("截至日期", "As of")) " " input type="date" name="as_of" value=[as_of]; }
            label { (cx.t("截至记录号", "At seq")) " " input type="number" min="0" name="at_seq" value=[at_seq] placeholder=(cx.t("最新", "latest")); }
            button type="submit" { (cx.t("查询", "Show")) }
        }
    }
}

/// Where sign-in and the language switch may send the user back to: a path of this
/// site — `/`, then printable ASCII without a space or `\\` (a tab or a newline, which
/// browsers drop from a `Location`, could otherwise turn `/\t/host` into `//host`),
/// never `//` — else the overview.
pub fn local(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n[1..].starts_with('/')
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n
        }
        _ => "/",
    }
}

/// Whether a request comes from another site (its `Sec-Fetch-Site` says so, or its
/// `Origin` names another host than its `Host`): sign-in refuses it, so another site
/// cannot sign a reader in under someone else's token.
pub fn cross_site(headers: &HeaderMap) -> bool {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if h("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    match (h("origin"), h("host")) {
        (Some(o), Some(host)) => o.split_once("://").map_or(true, |(_, a)| a != host),
        _ => false,
    }
}

fn sign_in_page(lang: Lang, next: &str, problem: Option<&str>) -> Markup {
    let t = |zh, en| lang.pick(zh, en);
    html! {
        (DOCTYPE)
        html lang=(lang.pick("zh-CN", "en")) {
            (head(lang, t("登录", "Sign in")))
            body.signin {
                main {
                    h1 { (t("三保库款调度", "sanbao treasury desk")) }
                    p { (t("请粘贴您的访问令牌（由 sanbao token add 发放）。令牌只用于本次登录，不保存在浏览器中。",
                           "Paste your access token (from sanbao token add). It is used to sign in only and is not kept in the browser.")) }
                    @if let Some(p) = problem { (flash("bad", p)) }
                    form method="post" action="/desk/sign-in" {
                        input type="hidden" name="next" value=(next);
                        label { (t("访问令牌", "Token")) " "
                            input type="password" name="token" autocomplete="off" required autofocus; }
                        button type="submit" { (t("登录", "Sign in")) }
                    }
                    p { (switch(lang, &format!("/desk/sign-in?next={}", enc(next)))) }
                }
            }
        }
    }
}

/// `GET /desk/sign-in?next=PATH`.
pub async fn sign_in_form(headers: HeaderMap, uri: Uri) -> Response {
    let q = Form::query(&uri);
    html(
        StatusCode::OK,
        sign_in_page(lang_of(&headers), local(q.get("next")), None),
    )
}

/// `POST /desk/sign-in` (token, next): a session cookie and back to `next`, or the
/// form again with the reason (401).
pub async fn sign_in(Shared(app): App, headers: HeaderMap, body: axum::body::Body) -> Response {
    let f = form_body(&app, &headers, body).await;
    let lang = lang_of(&headers);
    let next = local(f.get("next")).to_string();
    if cross_site(&headers) {
        return html(
            StatusCode::FORBIDDEN,
            sign_in_page(
                lang,
                &next,
                Some(lang.pick(
                    "登录请求来自其他网站，已拒绝。请直接在本页登录。",
                    "The sign-in came from another site and was refused; sign in on this page.",
                )),
            ),
        );
    }
    let Some(token) = f.get("token") else {
        return html(
            StatusCode::UNAUTHORIZED,
            sign_in_page(
                lang,
                &next,
                Some(lang.pick("请填写访问令牌。", "Enter your token.")),
            ),
        );
    };
    match app.sessions().sign_in(app.tokens(), token, Instant::now()) {
        None => html(
            StatusCode::UNAUTHORIZED,
            sign_in_page(
                lang,
                &next,
                Some(lang.pick(
                    "令牌无效：请核对后重新粘贴，或请管理员用 sanbao token add 重新发放。",
                    "Unknown token: check it and paste it again, or ask for a new one (sanbao token add).",
                )),
            ),
        ),
        Some(s) => {
            // A session this browser still had ends: one browser, one session.
            if let Some(old) = session::cookie(&headers, COOKIE) {
                app.sessions().end(old);
            }
            tracing::info!(user = %s.who.name, role = %s.who.role, "desk sign-in");
            let mut r = see_other(&next);
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                s.id
            )) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
    }
}

/// `POST /desk/sign-out` (csrf): ends the session on the server.
pub async fn sign_out(
    Shared(app): App,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Body,
) -> Response {
    let f = form_body(&app, &headers, body).await;
    let cx = match super::signed_in(&app, &headers, &uri) {
        Ok(cx) => cx,
        Err(_) => return see_other("/desk/sign-in"),
    };
    if !cx.session.csrf_ok(f.get("csrf")) {
        return refused_csrf(&cx, Nav::Overview);
    }
    app.sessions().end(&cx.session.id);
    let mut r = see_other("/desk/sign-in");
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sanbao_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// The refusal of a state-changing POST without its session's CSRF token: 403,
/// nothing written.
pub fn refused_csrf(cx: &Cx, nav: Nav) -> Response {
    message(
        cx,
        nav,
        StatusCode::FORBIDDEN,
        cx.t("表单已失效", "Form expired"),
        &Msg::new(
            "表单缺少或带有错误的校验码（可能已过期或来自其他页面），未作任何记录。请重新打开表单后提交。",
            "The form's check code is missing or wrong (it may be old or from another page); nothing was recorded. Open the form again and resubmit.",
        ),
    )
}

/// `GET /desk/lang/{zh|en}?back=PATH`: remembers the language (a cookie, one year)
/// and goes back.
pub async fn switch_lang(Path(to): Path<String>, uri: Uri) -> Response {
    let q = Form::query(&uri);
    let back = local(q.get("back")).to_string();
    let mut r = see_other(&back);
    if let Some(l) = Lang::parse(&to) {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Strict",
            l.as_str()
        )) {
            r.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    r
}

/// `GET /desk/…` that is no page: 404 with a way back.
pub async fn not_found(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    let cx = match super::signed_in(&app, &headers, &uri) {
        Ok(cx) => cx,
        Err(r) => return r,
    };
    message(
        &cx,
        Nav::Overview,
        StatusCode::NOT_FOUND,
        cx.t("没有这个页面", "No such page"),
        &Msg::new(
            format!("没有页面 {}，请从上方菜单进入。", uri.path()),
            format!("There is no page {}; use the menu above.", uri.path()),
        ),
    )
}
