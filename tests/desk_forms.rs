//! The desk's officer forms (业务录入, issue 17) through the real binary: the sample
//! city served, users signed in with session cookies, forms fetched and posted as a
//! browser would (`application/x-www-form-urlencoded`).
//!
//! Determinism: the sample city is fixed, each test has its own data dir and server,
//! and every figure asserted (seq, head, hash, field values) is read back from the
//! server itself.

use crate::deskkit;
use crate::wire;

use deskkit::{input_value, text_of, Desk};

/// The officer's six forms and, for each, a Chinese and an English word its page shows.
const FORMS: [(&str, &str, &str); 6] = [
    ("city_funds_received", "到账金额", "Received on"),
    ("transfer_allocated", "计划外调拨理由", "Off-plan reason"),
    ("payroll_deposited", "工资所属月份", "Payroll month"),
    ("emergency_dispatched", "审批人", "Approved by"),
    ("emergency_requested", "拟拨付日期", "Value date asked"),
    ("balance_reported", "日终余额", "Balance date"),
];

/// The attribute `attr` of the element with `id="ID"`.
fn attr_of(html: &str, id: &str, attr: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let v = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
    let rest = &tag[v..];
    Some(deskkit::unescape(&rest[..rest.find('"')?]))
}

/// The `<div class="field…">` that holds the input `name` (its whole text).
fn field_div(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("data-field=\"{name}\""))
        .unwrap_or_else(|| panic!("no field {name}"));
    let start = html[..at].rfind("<div").unwrap();
    let end = at + html[at..].find("</div>").unwrap();
    html[start..end].to_string()
}

/// Opens the form of `kind` as `cookie`: the page, its csrf and its idempotency key.
fn open(desk: &Desk, cookie: &str, kind: &str) -> (String, String, String) {
    let r = desk.get(&format!("/desk/forms/{kind}"), cookie);
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    let csrf = input_value(&html, "csrf").expect("csrf");
    let key = input_value(&html, "idempotency_key").expect("idempotency key");
    assert!(key.starts_with("desk-"), "{key}");
    (html, csrf, key)
}

fn payroll<'a>(csrf: &'a str, key: &'a str, amount: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("idempotency_key", key),
        ("county", "jianchang"),
        ("payroll_month", "2022-02"),
        ("amount", amount),
        ("deposited_on", "2022-02-20"),
    ]
}

#[test]
fn officer_records_a_payroll_deposit_once_through_the_form() {
    let desk = Desk::sample();
    let cookie = desk.sign_in(&desk.tokens.officer);
    let head = desk.server.head();
    let (html, csrf, key) = open(&desk, &cookie, "payroll_deposited");
    assert!(
        html.contains("value=\"jianchang\"") && html.contains("建昌县"),
        "the registered counties are offered"
    );

    let body = payroll(&csrf, &key, "1,234.56");
    let r = desk.post_form("/desk/forms/payroll_deposited", &cookie, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.text();
    let seq: u64 = attr_of(&page, "recorded", "data-seq")
        .unwrap()
        .parse()
        .unwrap();
    let hash = attr_of(&page, "recorded", "data-hash").unwrap();
    assert_eq!(seq, head + 1);
    assert_eq!(desk.server.head(), head + 1);
    assert_eq!(
        attr_of(&page, "recorded", "data-duplicate").as_deref(),
        Some("false")
    );
    assert!(
        text_of(&page).contains(&format!("已记录：记录号 {seq}")),
        "{}",
        text_of(&page)
    );
    assert!(page.contains("href=\"/desk/journal\""));
    assert!(page.contains("href=\"/desk/forms/payroll_deposited\""));

    // The record carries the form's values and the form's key.
    let r = desk.api(
        &format!("/v1/events?from={seq}&limit=1"),
        &desk.tokens.officer,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let rec = r.json()["records"][0].clone();
    assert_eq!(rec["seq"], seq);
    assert_eq!(rec["hash"], hash.as_str());
    assert_eq!(rec["idempotency_key"], key.as_str());
    assert_eq!(
        rec["event"],
        serde_json::json!({"kind": "payroll_deposited", "county": "jianchang",
            "payroll_month": "2022-02", "amount": "1234.56", "deposited_on": "2022-02-20"})
    );

    // The very same form again (a double click, a resubmit): recorded once.
    let r = desk.post_form("/desk/forms/payroll_deposited", &cookie, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.text();
    assert_eq!(desk.server.head(), head + 1, "nothing more written");
    assert_eq!(
        attr_of(&page, "recorded", "data-seq"),
        Some(seq.to_string())
    );
    assert_eq!(
        attr_of(&page, "recorded", "data-duplicate").as_deref(),
        Some("true")
    );
    assert!(
        text_of(&page).contains(&format!("此表单已提交过，未重复记录（记录号 {seq}）")),
        "{}",
        text_of(&page)
    );

    // A fresh form has a new key, and records anew.
    let (_, csrf2, key2) = open(&desk, &cookie, "payroll_deposited");
    assert_ne!(key2, key);
    let r = desk.post_form(
        "/desk/forms/payroll_deposited",
        &cookie,
        &payroll(&csrf2, &key2, "1234.56"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        attr_of(&r.text(), "recorded", "data-seq"),
        Some((head + 2).to_string())
    );
}

#[test]
fn refusals_are_shown_beside_their_field_and_write_nothing() {
    let desk = Desk::sample();
    let cookie = desk.sign_in(&desk.tokens.officer);
    let head = desk.server.head();

    // A blank amount.
    let (_, csrf, key) = open(&desk, &cookie, "payroll_deposited");
    let r = desk.post_form(
        "/desk/forms/payroll_deposited",
        &cookie,
        &payroll(&csrf, &key, " "),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let page = r.text();
    let div = field_div(&page, "amount");
    assert!(
        div.contains("has-err") && div.contains("id=\"err-amount\""),
        "{div}"
    );
    assert!(text_of(&div).contains("必填"), "{}", text_of(&div));
    assert!(!field_div(&page, "county").contains("has-err"));
    assert_eq!(
        input_value(&page, "idempotency_key"),
        Some(key.clone()),
        "same key"
    );
    assert_eq!(
        input_value(&page, "deposited_on").as_deref(),
        Some("2022-02-20")
    );
    assert_eq!(
        input_value(&page, "payroll_month").as_deref(),
        Some("2022-02")
    );
    assert!(
        page.contains("<option value=\"jianchang\" selected"),
        "county kept"
    );
    assert_eq!(desk.server.head(), head);

    // Corrected and resubmitted under the same key: recorded once.
    let r = desk.post_form(
        "/desk/forms/payroll_deposited",
        &cookie,
        &payroll(&csrf, &key, "100.00"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        attr_of(&r.text(), "recorded", "data-seq"),
        Some((head + 1).to_string())
    );
    let head = head + 1;

    // The same form (same key) sent back with another amount: a conflict, nothing
    // written, and the form returns with a new key.
    let r = desk.post_form(
        "/desk/forms/payroll_deposited",
        &cookie,
        &payroll(&csrf, &key, "200.00"),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    let page = r.text();
    assert!(!page.contains("id=\"recorded\""));
    assert!(
        text_of(&page).contains("未作新的记录"),
        "{}",
        text_of(&page)
    );
    let fresh = input_value(&page, "idempotency_key").unwrap();
    assert_ne!(fresh, key);
    assert_eq!(input_value(&page, "amount").as_deref(), Some("200.00"));
    assert_eq!(desk.server.head(), head);

    // A county that is not registered.
    let (_, csrf, key) = open(&desk, &cookie, "payroll_deposited");
    let mut body = payroll(&csrf, &key, "100.00");
    body[2] = ("county", "nowhere");
    let r = desk.post_form("/desk/forms/payroll_deposited", &cookie, &body);
    assert_eq!(r.status, 422, "{}", r.text());
    let page = r.text();
    let div = field_div(&page, "county");
    assert!(div.contains("id=\"err-county\""), "{div}");
    assert!(text_of(&div).contains("未登记"), "{}", text_of(&div));
    assert!(!field_div(&page, "amount").contains("has-err"));
    assert_eq!(desk.server.head(), head);

    // A rule: a transfer beyond the county's entitlement (none for 2030).
    let (_, csrf, key) = open(&desk, &cookie, "transfer_allocated");
    let r = desk.post_form(
        "/desk/forms/transfer_allocated",
        &cookie,
        &[
            ("csrf", csrf.as_str()),
            ("idempotency_key", key.as_str()),
            ("county", "jianchang"),
            ("fund", "general"),
            ("fiscal_year", "2030"),
            ("amount", "100.00"),
            ("value_date", "2022-02-20"),
            ("plan_month", ""),
            ("reference", ""),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let page = r.text();
    let div = field_div(&page, "amount");
    assert!(div.contains("id=\"err-amount\""), "{div}");
    assert!(text_of(&div).contains("超过"), "{}", text_of(&div));
    assert_eq!(input_value(&page, "fiscal_year").as_deref(), Some("2030"));
    assert_eq!(desk.server.head(), head);

    // A fiscal year that is no number is named by the event parser.
    let r = desk.post_form(
        "/desk/forms/transfer_allocated",
        &cookie,
        &[
            ("csrf", csrf.as_str()),
            ("idempotency_key", key.as_str()),
            ("county", "jianchang"),
            ("fund", "general"),
            ("fiscal_year", "二〇二一"),
            ("amount", "100.00"),
            ("value_date", "2022-02-20"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(field_div(&r.text(), "fiscal_year").contains("id=\"err-fiscal_year\""));
    assert_eq!(desk.server.head(), head);

    // In English on request.
    let en = format!("{cookie}; sanbao_lang=en");
    let r = desk.post_form(
        "/desk/forms/payroll_deposited",
        &en,
        &payroll(&csrf, &key, ""),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(text_of(&field_div(&r.text(), "amount")).contains("required"));
    assert_eq!(desk.server.head(), head);
}

#[test]
fn only_officers_record_and_only_with_their_own_csrf() {
    let desk = Desk::sample();
    let head = desk.server.head();
    let officer = desk.sign_in(&desk.tokens.officer);
    let (_, officer_csrf, key) = open(&desk, &officer, "payroll_deposited");

    for token in [&desk.tokens.auditor, &desk.tokens.scheduler] {
        let cookie = desk.sign_in(token);
        let r = desk.get("/desk/forms/payroll_deposited", &cookie);
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(text_of(&r.text()).contains("经办人员"));
        assert_eq!(desk.get("/desk/forms", &cookie).status, 403);
        // Their own session's csrf (from the sign-out form of any page).
        let csrf = input_value(&r.text(), "csrf").expect("csrf of the shell");
        assert_ne!(csrf, officer_csrf);
        let r = desk.post_form(
            "/desk/forms/payroll_deposited",
            &cookie,
            &payroll(&csrf, &key, "100.00"),
        );
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(!r.text().contains("id=\"recorded\""));
        assert_eq!(desk.server.head(), head);

        // The officer's form posted with another session's csrf.
        let r = desk.post_form(
            "/desk/forms/payroll_deposited",
            &officer,
            &payroll(&csrf, &key, "100.00"),
        );
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(desk.server.head(), head);
    }

    // No csrf at all.
    let mut body = payroll("", &key, "100.00");
    body.remove(0);
    let r = desk.post_form("/desk/forms/payroll_deposited", &officer, &body);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(desk.server.head(), head);

    // No session: to sign-in, nothing written.
    let r = desk.post_form(
        "/desk/forms/payroll_deposited",
        "",
        &payroll(&officer_csrf, &key, "100.00"),
    );
    assert_eq!(r.status, 303);
    assert!(r.header("location").unwrap().starts_with("/desk/sign-in"));
    let r = desk.get("/desk/forms/payroll_deposited", "sanbao_session=nonsense");
    assert_eq!(r.status, 303);
    assert_eq!(desk.server.head(), head);

    // The same key, with the officer's own csrf, still records (the refusals
    // above did not use it up).
    let r = desk.post_form(
        "/desk/forms/payroll_deposited",
        &officer,
        &payroll(&officer_csrf, &key, "100.00"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(desk.server.head(), head + 1);
}

#[test]
fn every_form_renders_in_chinese_and_in_english() {
    let desk = Desk::sample();
    let cookie = desk.sign_in(&desk.tokens.officer);
    let en = format!("{cookie}; sanbao_lang=en");

    let r = desk.get("/desk/forms", &cookie);
    assert_eq!(r.status, 200, "{}", r.text());
    let index = r.text();
    for (kind, _, _) in FORMS {
        assert!(
            index.contains(&format!("href=\"/desk/forms/{kind}\"")),
            "{kind}"
        );
    }
    assert!(text_of(&index).contains("工资库款保障户备付"));

    let mut keys = Vec::new();
    for (kind, zh, en_word) in FORMS {
        let (html, csrf, key) = open(&desk, &cookie, kind);
        assert!(html.contains("id=\"event-form\""), "{kind}");
        assert!(html.contains("method=\"post\""), "{kind}");
        assert!(html.contains("id=\"submit\""), "{kind}");
        assert_eq!(csrf.len(), 64);
        assert!(text_of(&html).contains(zh), "{kind}: {zh}");
        assert!(!text_of(&html).contains(en_word), "{kind}: {en_word}");
        assert!(html.contains("lang=\"zh-CN\""));
        keys.push(key);

        let r = desk.get(&format!("/desk/forms/{kind}"), &en);
        assert_eq!(r.status, 200, "{}", r.text());
        let html = r.text();
        assert!(html.contains("lang=\"en\""));
        assert!(text_of(&html).contains(en_word), "{kind}: {en_word}");
        assert!(!text_of(&html).contains(zh), "{kind}: {zh}");
    }
    let payroll = desk.get("/desk/forms/payroll_deposited", &cookie).text();
    for name in ["county", "payroll_month", "amount", "deposited_on"] {
        assert!(payroll.contains(&format!("name=\"{name}\"")), "{name}");
    }
    assert!(payroll.contains("type=\"month\"") && payroll.contains("type=\"date\""));
    assert!(payroll.contains("金额单位：元，保留两位小数"));
    let emergency = desk.get("/desk/forms/emergency_dispatched", &cookie).text();
    assert!(emergency.contains("<option value=\"grant\">应急拨款</option>"));
    assert!(emergency.contains("<option value=\"advance\">临时垫付</option>"));
    let balance = desk.get("/desk/forms/balance_reported", &cookie).text();
    assert!(balance.contains("value=\"wage_reserve\"") && balance.contains("name=\"account\""));
    let funds = desk.get("/desk/forms/city_funds_received", &cookie).text();
    assert!(funds.contains("<option value=\"direct\">直达资金</option>"));

    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), FORMS.len(), "every form shown gets its own key");

    let r = desk.get("/desk/forms/plan_issued", &cookie);
    assert_eq!(r.status, 404, "{}", r.text());
    let r = desk.get("/desk/forms/no_such_kind", &cookie);
    assert_eq!(r.status, 404, "{}", r.text());
    let csrf = input_value(&r.text(), "csrf").unwrap();
    let r = desk.post_form(
        "/desk/forms/no_such_kind",
        &cookie,
        &[("csrf", csrf.as_str()), ("county", "jianchang")],
    );
    assert_eq!(r.status, 404, "{}", r.text());
}

/// Issue 18 at the desk: an approver sets the limit on direct dispatches, an officer
/// files a request above it (the direct dispatch being refused beside its amount),
/// and the approver approves it through the form; the dispatch the writer makes names
/// the approver. Officers do not see the approver's forms, nor approvers the officer's.
#[test]
fn an_officer_requests_and_an_approver_approves_emergency_money_at_the_desk() {
    let desk = Desk::sample();
    let approver_token = wire::add_token(&desk.dir, "chen.shen", "approver");
    let officer = desk.sign_in(&desk.tokens.officer);
    let approver = desk.sign_in(&approver_token);

    // Each sees the forms of their own kinds.
    let list = desk.get("/desk/forms", &approver).text();
    assert!(list.contains("href=\"/desk/forms/emergency_approved\""));
    assert!(list.contains("href=\"/desk/forms/approval_limit_set\""));
    assert!(!list.contains("href=\"/desk/forms/payroll_deposited\""));
    assert!(text_of(&desk.get("/", &approver).text()).contains("业务录入"));
    let r = desk.get("/desk/forms/payroll_deposited", &approver);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = desk.get("/desk/forms/emergency_approved", &officer);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(!desk
        .get("/desk/forms", &officer)
        .text()
        .contains("href=\"/desk/forms/emergency_approved\""));

    // The limit.
    let (_, csrf, key) = open(&desk, &approver, "approval_limit_set");
    let r = desk.post_form(
        "/desk/forms/approval_limit_set",
        &approver,
        &[
            ("csrf", &csrf),
            ("idempotency_key", &key),
            ("amount", "50,000.00"),
            ("effective_from", "2022-02-01"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // Above it, the direct dispatch is refused beside the amount; nothing written.
    let head = desk.server.head();
    let (_, csrf, key) = open(&desk, &officer, "emergency_dispatched");
    let r = desk.post_form(
        "/desk/forms/emergency_dispatched",
        &officer,
        &[
            ("csrf", &csrf),
            ("idempotency_key", &key),
            ("county", "jianchang"),
            ("amount", "80000"),
            ("value_date", "2022-02-21"),
            ("mode", "grant"),
            ("reason", "保工资"),
            ("approved_by", "li.wei"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        field_div(&r.text(), "amount").contains("应急调度申请"),
        "{}",
        r.text()
    );
    assert_eq!(desk.server.head(), head);

    // The request, then the approval.
    let (_, csrf, key) = open(&desk, &officer, "emergency_requested");
    let r = desk.post_form(
        "/desk/forms/emergency_requested",
        &officer,
        &[
            ("csrf", &csrf),
            ("idempotency_key", &key),
            ("county", "jianchang"),
            ("amount", "80,000.00"),
            ("value_date", "2022-02-21"),
            ("mode", "grant"),
            ("reason", "保工资"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let request_seq = attr_of(&r.text(), "recorded", "data-seq").unwrap();
    let (html, csrf, key) = open(&desk, &approver, "emergency_approved");
    assert!(html.contains("type=\"number\"") && html.contains("min=\"1\""));
    let r = desk.post_form(
        "/desk/forms/emergency_approved",
        &approver,
        &[
            ("csrf", &csrf),
            ("idempotency_key", &key),
            ("request_seq", &request_seq),
            ("approved_on", "2022-02-21"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let seq: u64 = attr_of(&r.text(), "recorded", "data-seq")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(desk.server.head(), seq + 1, "the approval and its dispatch");
    let records = wire::all_records(desk.addr(), &desk.tokens.auditor);
    let dispatch = &records[seq as usize];
    assert_eq!(dispatch["event"]["kind"], "emergency_dispatched");
    assert_eq!(dispatch["event"]["approved_by"], "chen.shen");
    assert_eq!(dispatch["event"]["amount"], "80000.00");
    assert_eq!(dispatch["recorded_by"], "chen.shen");
    assert_eq!(records[seq as usize - 2]["recorded_by"], "li.wei");
}
