//! 业务录入: the officer's six forms — 市级资金到账, 资金调拨, 工资库款保障户备付, 应急调度,
//! 应急调度申请, 库款余额报送 — and the approver's two — 应急调度审批, 直接应急调度限额设定
//! (issue 18) — each a page `GET /desk/forms/{kind}` whose inputs are named exactly
//! as the event's fields (SPEC §3), and its `POST`, which records the event through the
//! one write path ([`super::append_one`]).
//!
//! Guarantees:
//! - **nothing is written unless every check passed**: the POST needs its session's
//!   CSRF token (else 403), the role is checked on the server by
//!   [`super::append_one`] (a scheduler's or an auditor's POST is 403, whatever the page
//!   showed), then the event's fields and the rules, exactly as for the API;
//! - **a form records once**: the idempotency key is made when the form is shown and
//!   kept through every re-display, so a double click or a resubmit answers the first
//!   record (此表单已提交过，未重复记录) instead of writing a second one;
//! - **a refusal is shown where it belongs**: a field or rule refusal (422) re-displays
//!   the form with the values typed and the reason beside the field it names (at the
//!   top when it names no field of the form); other refusals (403, 409, 503) say why
//!   with their own status;
//! - the form does no arithmetic and no second validation of its own: it passes the
//!   values as typed (blank optional fields left out, `fiscal_year` as a number when it
//!   is one) and lets the event parser and the rules judge them.

use super::form::{enc, Form, Msg};
use super::page::{self, flash, Nav};
use super::Shared;
use super::{append_one, form_body, html, new_form_key, read_state, signed_in, App, Cx};
use crate::lang::{kind_word, Lang, Term};
use crate::server::auth::Role;
use crate::values::{AccountKind, Date, Fund};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::{Map, Value};

/// How a field is entered on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A registered county, chosen from the list (`<select>` of id and name).
    County,
    /// One of the four fund classes (`<select>`).
    Fund,
    /// An emergency dispatch's mode: `grant` 应急拨款 or `advance` 临时垫付 (`<select>`).
    Mode,
    /// A county account: `treasury` or `wage_reserve` (`<select>`).
    Account,
    /// A date `YYYY-MM-DD` (`type=date`).
    Date,
    /// A month `YYYY-MM` (`type=month`).
    Month,
    /// A fiscal year (`type=number`), sent to the event as a JSON number.
    Year,
    /// A record's seq (`type=number`, at least 1), sent as a JSON number.
    Seq,
    /// An amount in yuan, as typed (thousands separators removed).
    Amount,
    /// A free text of 1 to 200 characters.
    Text,
}

/// One field of a form: the event field it fills (its input's `name`), its label and
/// hint in both languages, how it is entered, whether the event requires it.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// The event's field name, which is also the input's `name`.
    pub name: &'static str,
    /// The label, in Chinese and in English.
    pub label: (&'static str, &'static str),
    /// How it is entered.
    pub input: Input,
    /// Whether the event requires it (an optional field left blank is left out).
    pub required: bool,
    /// The hint under the input, in Chinese and in English.
    pub hint: Option<(&'static str, &'static str)>,
}

/// One of the desk's forms (an officer's, or an approver's): the event kind it records, what it is for, its fields
/// in page order.
#[derive(Clone, Copy, Debug)]
pub struct EventForm {
    /// The event kind (also the last part of the form's path).
    pub kind: &'static str,
    /// What the form records, in Chinese and in English (shown above the form and in
    /// the list of forms).
    pub about: (&'static str, &'static str),
    /// The fields, in page order.
    pub fields: &'static [Field],
}

const fn field(
    name: &'static str,
    label: (&'static str, &'static str),
    input: Input,
    required: bool,
    hint: Option<(&'static str, &'static str)>,
) -> Field {
    Field {
        name,
        label,
        input,
        required,
        hint,
    }
}

const AMOUNT_HINT: Option<(&str, &str)> = Some((
    "金额单位：元，保留两位小数，如 1200000.00（可带千分位逗号）",
    "In yuan, two decimals, e.g. 1200000.00 (thousands commas allowed)",
));
const COUNTY: Field = field(
    "county",
    ("县区", "County"),
    Input::County,
    true,
    Some(("仅列出已登记的县区", "Registered counties only")),
);
const REFERENCE: Field = field(
    "reference",
    ("文号或备注", "Reference"),
    Input::Text,
    false,
    Some((
        "选填，如拨款文件文号，不超过 200 字",
        "Optional, e.g. the document number; at most 200 characters",
    )),
);

/// The forms, in the order the list of forms shows them; each role sees those of the
/// kinds it may append.
pub const FORMS: [EventForm; 8] = [
    EventForm {
        kind: "city_funds_received",
        about: (
            "上级资金或期初余额拨入市本级国库，增加市级库款。",
            "Money received into the city treasury (from the province, or the opening balance).",
        ),
        fields: &[
            field("fund", ("资金类别", "Fund"), Input::Fund, true, None),
            field("amount", ("到账金额", "Amount"), Input::Amount, true, AMOUNT_HINT),
            field(
                "received_on",
                ("到账日期", "Received on"),
                Input::Date,
                true,
                None,
            ),
            REFERENCE,
        ],
    },
    EventForm {
        kind: "transfer_allocated",
        about: (
            "市本级国库向县区国库调拨资金，在该县区对应资金类别、年度的指标内列支。",
            "A transfer from the city treasury to a county's treasury, drawn on its entitlement for the fund and fiscal year.",
        ),
        fields: &[
            COUNTY,
            field("fund", ("资金类别", "Fund"), Input::Fund, true, None),
            field(
                "fiscal_year",
                ("指标年度", "Fiscal year"),
                Input::Year,
                true,
                Some((
                    "本次调拨所用指标的年度，如 2021",
                    "The year of the entitlement drawn on, e.g. 2021",
                )),
            ),
            field("amount", ("调拨金额", "Amount"), Input::Amount, true, AMOUNT_HINT),
            field(
                "value_date",
                ("拨付日期", "Value date"),
                Input::Date,
                true,
                None,
            ),
            field(
                "plan_month",
                ("执行计划月份", "Plan month"),
                Input::Month,
                false,
                Some((
                    "选填：本次调拨执行的是哪个月的调度计划",
                    "Optional: the month whose dispatch plan this transfer carries out",
                )),
            ),
            REFERENCE,
            field(
                "off_plan_reason",
                ("计划外调拨理由", "Off-plan reason"),
                Input::Text,
                false,
                Some((
                    "选填；超出已下达调度计划额度的调拨必须填写，不超过 200 字",
                    "Optional; required for a transfer beyond its line of the issued plan; at most 200 characters",
                )),
            ),
        ],
    },
    EventForm {
        kind: "payroll_deposited",
        about: (
            "县区从国库库款向工资库款保障户备付工资资金。",
            "A county moves cash from its treasury into its wage reserve for a month's payroll.",
        ),
        fields: &[
            COUNTY,
            field(
                "payroll_month",
                ("工资所属月份", "Payroll month"),
                Input::Month,
                true,
                None,
            ),
            field("amount", ("备付金额", "Amount"), Input::Amount, true, AMOUNT_HINT),
            field(
                "deposited_on",
                ("备付日期", "Deposited on"),
                Input::Date,
                true,
                None,
            ),
        ],
    },
    EventForm {
        kind: "emergency_dispatched",
        about: (
            "经审批，由市本级国库向县区应急调度资金：应急拨款不占指标；临时垫付计入当年财力性资金指标。超过直接应急调度限额的，请填报应急调度申请，由审批人员批准。",
            "An approved emergency dispatch from the city treasury to a county: a grant counts against no entitlement; an advance counts as a general dispatch of the value date's year. Above the limit on a direct dispatch, file an emergency request for an approver to approve.",
        ),
        fields: &[
            COUNTY,
            field("amount", ("调度金额", "Amount"), Input::Amount, true, AMOUNT_HINT),
            field(
                "value_date",
                ("拨付日期", "Value date"),
                Input::Date,
                true,
                None,
            ),
            field(
                "mode",
                ("调度方式", "Mode"),
                Input::Mode,
                true,
                Some((
                    "临时垫付须在当年财力性资金剩余指标内",
                    "An advance must fit in the year's remaining general entitlement",
                )),
            ),
            field(
                "reason",
                ("调度事由", "Reason"),
                Input::Text,
                true,
                Some(("不超过 200 字", "At most 200 characters")),
            ),
            field(
                "approved_by",
                ("审批人", "Approved by"),
                Input::Text,
                true,
                None,
            ),
        ],
    },
    EventForm {
        kind: "emergency_requested",
        about: (
            "申请由市本级国库向县区应急调度资金；经另一名审批人员批准后，系统按申请内容记录应急调度。",
            "Asks for emergency money from the city treasury for a county; once another user of role approver approves it, the dispatch is recorded as asked.",
        ),
        fields: &[
            COUNTY,
            field("amount", ("申请金额", "Amount asked"), Input::Amount, true, AMOUNT_HINT),
            field(
                "value_date",
                ("拟拨付日期", "Value date asked"),
                Input::Date,
                true,
                Some(("批准晚于此日的，按批准日期拨付", "Approved later, it moves on the day of the approval")),
            ),
            field(
                "mode",
                ("调度方式", "Mode"),
                Input::Mode,
                true,
                Some((
                    "临时垫付须在当年财力性资金剩余指标内",
                    "An advance must fit in the year's remaining general entitlement",
                )),
            ),
            field(
                "reason",
                ("申请事由", "Reason"),
                Input::Text,
                true,
                Some(("不超过 200 字", "At most 200 characters")),
            ),
        ],
    },
    EventForm {
        kind: "balance_reported",
        about: (
            "报送国库集中支付系统的县区账户日终余额；与核算不符的，在监测中列示，不拒收。",
            "A county account's day-end balance as the treasury system reports it; a disagreement is listed by the monitor, never refused.",
        ),
        fields: &[
            COUNTY,
            field("account", ("账户", "Account"), Input::Account, true, None),
            field("on", ("余额日期", "Balance date"), Input::Date, true, Some(("日终余额所属日期", "The day the balance is for"))),
            field(
                "balance",
                ("日终余额", "Balance"),
                Input::Amount,
                true,
                Some((
                    "金额单位：元，保留两位小数，可为 0",
                    "In yuan, two decimals; 0 allowed",
                )),
            ),
        ],
    },
    EventForm {
        kind: "emergency_approved",
        about: (
            "审批人员批准一笔应急调度申请（不得批准本人提出的申请）；系统随即按申请记录应急调度，审批人为本人。",
            "An approver approves an emergency request (never their own); the dispatch is then recorded as asked, approved by them.",
        ),
        fields: &[
            field(
                "request_seq",
                ("申请记录号", "Request's seq"),
                Input::Seq,
                true,
                Some(("应急调度申请的记录号，见事件流水", "The seq of the emergency_requested record, as the journal shows it")),
            ),
            field("approved_on", ("批准日期", "Approved on"), Input::Date, true, None),
        ],
    },
    EventForm {
        kind: "approval_limit_set",
        about: (
            "设定经办人员可直接记录的应急调度金额上限，自生效日期起执行；为 0 时每笔应急调度均须申请并经批准。",
            "Sets the largest emergency dispatch an officer may record directly, from its date on; 0 makes every emergency dispatch need a request and an approval.",
        ),
        fields: &[
            field(
                "amount",
                ("直接应急调度限额", "Limit"),
                Input::Amount,
                true,
                Some(("金额单位：元，保留两位小数，可为 0", "In yuan, two decimals; 0 allowed")),
            ),
            field("effective_from", ("生效日期", "Effective from"), Input::Date, true, None),
        ],
    },
];

/// The form that records `kind`, if there is one.
pub fn form_of(kind: &str) -> Option<&'static EventForm> {
    FORMS.iter().find(|f| f.kind == kind)
}

/// The event object a form's values make: `kind`, then every field with a value
/// (blank optional and required fields alike are left out, so the parser names a
/// missing required one); a `fiscal_year` that is a whole number goes as a JSON number,
/// anything else as the string typed, so the event parser names the field it is wrong
/// in. Amounts lose their thousands separators and spaces. Pure.
pub fn event_json(form: &EventForm, values: &Form) -> Value {
    let mut m = Map::new();
    m.insert("kind".into(), Value::from(form.kind));
    for f in form.fields {
        let Some(v) = values.get(f.name) else {
            continue;
        };
        let v = match f.input {
            Input::Year | Input::Seq => match v.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => Value::from(v),
            },
            Input::Amount => Value::from(
                v.chars()
                    .filter(|c| !matches!(c, ',' | '，' | ' ' | '\u{3000}'))
                    .collect::<String>(),
            ),
            _ => Value::from(v),
        };
        m.insert(f.name.into(), v);
    }
    Value::Object(m)
}

/// The words of an emergency dispatch's mode.
fn mode_word(code: &str, lang: Lang) -> Option<&'static str> {
    match code {
        "grant" => Some(lang.pick("应急拨款", "grant")),
        "advance" => Some(lang.pick("临时垫付", "advance")),
        _ => None,
    }
}

/// The choices of a select field: (value, words).
fn choices(input: Input, counties: &[(String, String)], lang: Lang) -> Vec<(String, String)> {
    match input {
        Input::County => counties
            .iter()
            .map(|(id, name)| (id.clone(), format!("{name}（{id}）")))
            .collect(),
        Input::Fund => Fund::ALL
            .iter()
            .map(|f| (f.as_str().to_string(), f.word(lang).to_string()))
            .collect(),
        Input::Mode => ["grant", "advance"]
            .iter()
            .map(|m| (m.to_string(), mode_word(m, lang).unwrap_or(m).to_string()))
            .collect(),
        Input::Account => [AccountKind::Treasury, AccountKind::WageReserve]
            .iter()
            .map(|a| (a.as_str().to_string(), a.word(lang).to_string()))
            .collect(),
        _ => Vec::new(),
    }
}

/// A fresh form's values: dates today (UTC), months this month, the fiscal year this
/// year; the rest blank.
fn defaults(form: &EventForm) -> Form {
    let today = Date::today_utc();
    let pairs: Vec<String> = form
        .fields
        .iter()
        .filter_map(|f| {
            let v = match f.input {
                Input::Date => today.to_string(),
                Input::Month if f.required => today.month().to_string(),
                Input::Year => today.year().to_string(),
                _ => return None,
            };
            Some(format!("{}={}", f.name, enc(&v)))
        })
        .collect();
    Form::parse(&pairs.join("&"))
}

/// What a re-displayed form says: the reason beside a field, or at the top.
struct Problem<'a> {
    field: Option<&'a str>,
    text: String,
}

fn control(
    f: &Field,
    id: &str,
    value: &str,
    described: &str,
    opts: &[(String, String)],
    choose: &str,
) -> Markup {
    let select = matches!(
        f.input,
        Input::County | Input::Fund | Input::Mode | Input::Account
    );
    if select {
        let known = opts.iter().any(|(v, _)| v == value);
        return html! {
            select id=(id) name=(f.name) required[f.required] aria-describedby=[(!described.is_empty()).then_some(described)] {
                option value="" selected[value.is_empty()] { (choose) }
                @for (v, words) in opts {
                    option value=(v) selected[v == value] { (words) }
                }
                @if !value.is_empty() && !known {
                    option value=(value) selected { (value) }
                }
            }
        };
    }
    let (ty, mode) = match f.input {
        Input::Date => ("date", None),
        Input::Month => ("month", None),
        Input::Year | Input::Seq => ("number", Some("numeric")),
        Input::Amount => ("text", Some("decimal")),
        _ => ("text", None),
    };
    html! {
        input id=(id) name=(f.name) type=(ty) value=(value) required[f.required]
            inputmode=[mode] autocomplete="off"
            min=[match f.input { Input::Year => Some("2000"), Input::Seq => Some("1"), _ => None }]
            max=[(f.input == Input::Year).then_some("2099")]
            maxlength=[(f.input == Input::Text).then_some("200")]
            aria-describedby=[(!described.is_empty()).then_some(described)];
    }
}

/// The form itself, with `values` in its inputs, the idempotency `key`, and a problem
/// to show (beside its field when the form has it, else at the top).
fn form_markup(
    cx: &Cx,
    form: &EventForm,
    values: &Form,
    key: &str,
    counties: &[(String, String)],
    problem: Option<Problem<'_>>,
) -> Markup {
    let at_field = problem
        .as_ref()
        .and_then(|p| p.field)
        .filter(|name| form.fields.iter().any(|f| f.name == *name));
    let top = problem
        .as_ref()
        .filter(|_| at_field.is_none())
        .map(|p| p.text.as_str());
    html! {
        p.about { (cx.t(form.about.0, form.about.1)) }
        @if let Some(text) = top { (flash("bad", text)) }
        @if at_field.is_some() {
            (flash("bad", cx.t("未作记录：请按标出的提示修改后重新提交。", "Nothing was recorded: correct the field marked below and submit again.")))
        }
        form.event #event-form method="post" action=(format!("/desk/forms/{}", form.kind)) data-kind=(form.kind) {
            input type="hidden" name="csrf" value=(cx.session.csrf);
            input type="hidden" name="idempotency_key" value=(key);
            @for f in form.fields {
                @let id = format!("f-{}", f.name);
                @let err = at_field.filter(|n| *n == f.name).and(problem.as_ref()).map(|p| p.text.as_str());
                @let described = [
                    f.hint.map(|_| format!("hint-{}", f.name)),
                    err.map(|_| format!("err-{}", f.name)),
                ].into_iter().flatten().collect::<Vec<_>>().join(" ");
                div class=(if err.is_some() { "field has-err" } else { "field" }) data-field=(f.name) {
                    label for=(id) {
                        (cx.t(f.label.0, f.label.1))
                        @if !f.required { span.opt { (cx.t("（选填）", " (optional)")) } }
                    }
                    (control(f, &id, values.get(f.name).unwrap_or(""), &described, &choices(f.input, counties, cx.lang), cx.t("请选择", "Choose…")))
                    @if let Some(h) = f.hint { span.hint id=(format!("hint-{}", f.name)) { (cx.t(h.0, h.1)) } }
                    @if let Some(text) = err { span.err id=(format!("err-{}", f.name)) role="alert" { (text) } }
                }
            }
            button #submit type="submit" { (cx.t("提交记录", "Record")) }
            " " a href="/desk/forms" { (cx.t("返回", "Back")) }
        }
    }
}

/// The 403 page of a reader who is not an officer.
/// Whether `role` has any form (officers and approvers do).
pub fn has_forms(role: Role) -> bool {
    FORMS.iter().any(|f| role.may_append(f.kind))
}

fn not_officer(cx: &Cx) -> Response {
    page::message(
        cx,
        Nav::Forms,
        StatusCode::FORBIDDEN,
        cx.t("业务录入", "Record"),
        &Msg::new(
            format!(
                "业务录入仅限经办人员和审批人员办理，各录其职。您的身份是{}，可以查阅，但不能录入此项。",
                page::role_word(cx.session.who.role, Lang::Zh)
            ),
            format!(
                "Only officers and approvers record events here, each their own kinds. You are signed in as {}: you may read, not record this.",
                super::a_role(cx.session.who.role)
            ),
        ),
    )
}

/// The 404 page of a kind that has no form.
fn no_such_form(cx: &Cx, kind: &str) -> Response {
    let zh: Vec<&str> = FORMS.iter().map(|f| kind_word(f.kind, Lang::Zh)).collect();
    let en: Vec<&str> = FORMS.iter().map(|f| kind_word(f.kind, Lang::En)).collect();
    page::message(
        cx,
        Nav::Forms,
        StatusCode::NOT_FOUND,
        cx.t("没有这张录入表", "No such form"),
        &Msg::new(
            format!("没有“{kind}”录入表。可录入：{}。", zh.join("、")),
            format!("There is no form {kind:?}. Forms: {}.", en.join(", ")),
        ),
    )
}

/// The registered counties (id, name), in id order.
async fn counties(cx: &Cx) -> Result<Vec<(String, String)>, super::Unread> {
    read_state(&cx.app, None, |st| {
        st.counties()
            .map(|c| (c.id.as_str().to_string(), c.name.as_str().to_string()))
            .collect()
    })
    .await
}

/// `GET /desk/forms`: the list of the forms of the kinds the user's role may append
/// (officers and approvers; others 403).
pub async fn index(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    let cx = match signed_in(&app, &headers, &uri) {
        Ok(cx) => cx,
        Err(r) => return r,
    };
    let role = cx.session.who.role;
    if !has_forms(role) {
        return not_officer(&cx);
    }
    let body = html! {
        p { (cx.t("请选择要录入的业务。每张表单提交一次记录一笔；重复提交同一张表单不会重复记录。",
                  "Choose what to record. Each form records one event; submitting the same form twice records it once.")) }
        ul.forms #form-list {
            @for f in FORMS.iter().filter(|f| role.may_append(f.kind)) {
                li data-kind=(f.kind) {
                    a #(format!("form-link-{}", f.kind)) href=(format!("/desk/forms/{}", f.kind)) { (kind_word(f.kind, cx.lang)) }
                    " — " span.about { (cx.t(f.about.0, f.about.1)) }
                }
            }
        }
    };
    html(
        StatusCode::OK,
        page::page(&cx, Nav::Forms, cx.t("业务录入", "Record"), body),
    )
}

/// `GET /desk/forms/{kind}`: a fresh form with a new idempotency key (for a role that
/// may append its kind; others 403; a kind with no form 404).
pub async fn show(
    Shared(app): App,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let kind = super::segment(path);
    let cx = match signed_in(&app, &headers, &uri) {
        Ok(cx) => cx,
        Err(r) => return r,
    };
    let Some(form) = form_of(&kind) else {
        return no_such_form(&cx, &kind);
    };
    if !cx.session.who.role.may_append(form.kind) {
        return not_officer(&cx);
    }
    let title = kind_word(form.kind, cx.lang);
    let list = match counties(&cx).await {
        Ok(l) => l,
        Err(u) => return page::unread(&cx, Nav::Forms, title, u),
    };
    let body = form_markup(&cx, form, &defaults(form), &new_form_key(), &list, None);
    html(StatusCode::OK, page::page(&cx, Nav::Forms, title, body))
}

/// The words shown for a value in the summary of what was recorded.
fn shown(f: &Field, v: &str, counties: &[(String, String)], lang: Lang) -> String {
    choices(f.input, counties, lang)
        .into_iter()
        .find(|(c, _)| c == v)
        .map_or_else(|| v.to_string(), |(_, w)| w)
}

/// The page after a record: its seq and hash (or, for a resubmitted form, the first
/// record's), what was recorded, and the ways on.
fn recorded(
    cx: &Cx,
    form: &EventForm,
    values: &Form,
    counties: &[(String, String)],
    ack: &crate::log::Ack,
) -> Markup {
    let hash = ack.hash.to_hex();
    let said = match (ack.duplicate, cx.lang) {
        (false, Lang::Zh) => format!("已记录：记录号 {}。", ack.seq),
        (false, Lang::En) => format!("Recorded: record seq {}.", ack.seq),
        (true, Lang::Zh) => format!("此表单已提交过，未重复记录（记录号 {}）。", ack.seq),
        (true, Lang::En) => format!(
            "This form was already submitted; it was not recorded again (record seq {}).",
            ack.seq
        ),
    };
    html! {
        p #recorded class={ "flash " (if ack.duplicate { "info" } else { "good" }) } role="status"
            data-seq=(ack.seq) data-hash=(hash) data-duplicate=(ack.duplicate) { (said) }
        // Issue 19: a recorded event the oversight rules warn about (限制性措施).
        @for w in &ack.warnings {
            p.flash.warn.ack-warning role="alert" data-code=(w.code) {
                (match cx.lang { Lang::Zh => &w.message_zh, Lang::En => &w.message })
            }
        }
        dl.meta #recorded-values {
            div { dt { (cx.t("业务", "Event")) } dd { (kind_word(form.kind, cx.lang)) } }
            @for f in form.fields {
                @if let Some(v) = values.get(f.name) {
                    div { dt { (cx.t(f.label.0, f.label.1)) } dd data-field=(f.name) { (shown(f, v, counties, cx.lang)) } }
                }
            }
            div { dt { (cx.t("记录哈希", "Record hash")) } dd.hash { (hash) } }
        }
        p.next {
            a #to-journal href="/desk/journal" { (cx.t("查看事件流水", "See the journal")) }
            " · "
            a #fresh-form href=(format!("/desk/forms/{}", form.kind)) { (cx.t("再录一笔", "Record another")) }
            " · "
            a href="/desk/forms" { (cx.t("返回业务录入", "All forms")) }
        }
    }
}

/// `POST /desk/forms/{kind}` (csrf, idempotency_key, the event's fields): records the
/// event — 200 with its seq and hash (the first record's for a resubmitted form); 422
/// with the form again, values and key kept, the reason beside its field; 403 without
/// the session's CSRF token or for a role that may not record; 409 or 503 with the
/// reason. Nothing is written on any refusal.
pub async fn submit(
    Shared(app): App,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: axum::body::Body,
) -> Response {
    let kind = super::segment(path);
    let values = form_body(&app, &headers, body).await;
    let cx = match signed_in(&app, &headers, &uri) {
        Ok(cx) => cx,
        Err(r) => return r,
    };
    if !cx.session.csrf_ok(values.get("csrf")) {
        return page::refused_csrf(&cx, Nav::Forms);
    }
    let Some(form) = form_of(&kind) else {
        return no_such_form(&cx, &kind);
    };
    let title = kind_word(form.kind, cx.lang);
    let key = values
        .get("idempotency_key")
        .filter(|k| crate::event::check_idempotency_key(k).is_ok())
        .map_or_else(new_form_key, str::to_string);
    // The county list is read first: once the event is recorded, the answer must say
    // so, whatever happens after.
    let list = match counties(&cx).await {
        Ok(l) => l,
        Err(u) => return page::unread(&cx, Nav::Forms, title, u),
    };
    let result = append_one(&cx, event_json(form, &values), &key).await;
    match result {
        Ok(ack) => {
            tracing::info!(
                kind = form.kind,
                seq = ack.seq,
                duplicate = ack.duplicate,
                "desk form recorded"
            );
            let body = recorded(&cx, form, &values, &list, &ack);
            html(StatusCode::OK, page::page(&cx, Nav::Forms, title, body))
        }
        Err(r) if r.status == StatusCode::FORBIDDEN => {
            page::message(&cx, Nav::Forms, r.status, title, &r.msg)
        }
        Err(r) => {
            // A conflict means this form's key already recorded a different event:
            // the form comes back with a new key, so a corrected entry is a new record.
            let key = if r.status == StatusCode::CONFLICT {
                new_form_key()
            } else {
                key
            };
            let mut text = cx.say(&r.msg).to_string();
            if r.status == StatusCode::CONFLICT {
                text.push_str(cx.t(
                    "。本表单此前已记录过内容不同的一笔，未作新的记录；下方表单已换用新的提交编号，如确需另录一笔，请核对后再提交。",
                    ". This form already recorded a different entry, and nothing new was recorded; the form below now has a new submission key: check it and submit again only if another entry is really meant.",
                ));
            }
            let problem = Problem {
                field: r
                    .field
                    .as_deref()
                    .filter(|_| r.status == StatusCode::UNPROCESSABLE_ENTITY),
                text,
            };
            let body = form_markup(&cx, form, &values, &key, &list, Some(problem));
            html(r.status, page::page(&cx, Nav::Forms, title, body))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    fn filled(form: &EventForm) -> Form {
        let pairs: Vec<String> = form
            .fields
            .iter()
            .map(|f| {
                let v = match f.input {
                    Input::County => "jianchang",
                    Input::Fund => "general",
                    Input::Mode => "advance",
                    Input::Account => "wage_reserve",
                    Input::Date => "2021-03-31",
                    Input::Month => "2021-03",
                    Input::Year => "2021",
                    Input::Seq => "3",
                    Input::Amount => "1,200,000.5",
                    Input::Text => "市财政局 2021 第 3 号",
                };
                format!("{}={}", f.name, enc(v))
            })
            .collect();
        Form::parse(&pairs.join("&"))
    }

    #[test]
    fn desk_forms_name_exactly_the_event_fields() {
        for form in &FORMS {
            let v = event_json(form, &filled(form));
            let parsed = Event::parse_object(v.clone())
                .unwrap_or_else(|e| panic!("{}: {e} in {v}", form.kind));
            assert_eq!(parsed.event.kind(), form.kind);
            let normal = parsed.event.to_json();
            for f in form.fields {
                assert!(normal.get(f.name).is_some(), "{}.{}", form.kind, f.name);
            }
            if let Some(a) = normal.get("amount") {
                assert_eq!(a, "1200000.50", "{}", form.kind);
            }
            // Every field of the kind is on its form.
            let n = normal.as_object().unwrap().len() - 1;
            assert_eq!(n, form.fields.len(), "{}: {normal}", form.kind);
            assert_ne!(kind_word(form.kind, Lang::Zh), form.kind);
        }
    }

    #[test]
    fn desk_event_json_leaves_blanks_out_and_years_as_numbers() {
        let form = form_of("transfer_allocated").unwrap();
        let v = event_json(
            form,
            &Form::parse("county=jianchang&fund=general&fiscal_year=2021&amount=+&plan_month=&reference=&csrf=x&idempotency_key=k&extra=1"),
        );
        assert_eq!(
            v,
            serde_json::json!({"kind":"transfer_allocated","county":"jianchang","fund":"general","fiscal_year":2021})
        );
        let e = Event::parse_object(v).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("amount"));
        let v = event_json(form, &Form::parse("fiscal_year=20x1"));
        assert_eq!(v["fiscal_year"], "20x1");
        let v = event_json(
            form,
            &Form::parse(
                "county=jianchang&fund=general&fiscal_year=20x1&amount=1&value_date=2021-03-01",
            ),
        );
        let e = Event::parse_object(v).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("fiscal_year"));
        assert!(form_of("plan_issued").is_none() && form_of("wages_paid").is_none());
    }
}
