//! The desk (issue 17) over HTTP: sign-in and sessions, CSRF, roles enforced on the
//! server, the overview's and the plan page's figures against the API's JSON, the
//! county and forecast pages, the language switch, bad input (a page with a message,
//! never a 5xx), and the pages' self-containment.
//!
//! Every test runs `sanbao serve` on an OS-chosen port over a temporary copy of the
//! sample city (or an empty log); waits are bounded by the client's timeouts.

use crate::deskkit;
use crate::wire;

use deskkit::{attr_values, head, input_value, section_rows, text_of, ungroup, Desk};
use serde_json::Value;

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array().expect("an array")
}

#[test]
fn the_overview_shows_the_api_figures() {
    let d = Desk::sample();
    let c = d.sign_in(&d.tokens.auditor);
    let page = d.get("/", &c);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let html = page.text();
    assert!(html.len() < 300 * 1024, "overview is {} bytes", html.len());
    let m = d.api("/v1/monitor", &d.tokens.auditor).json();
    let p = d.api("/v1/positions", &d.tokens.auditor).json();

    // The city treasury, and one card per county with its cash, level and status.
    assert_eq!(
        attr_values(&html, "data-amount")[0],
        p["city"]["treasury"].as_str().unwrap()
    );
    let counties = arr(&m["counties"]);
    assert!(counties.len() >= 8);
    assert_eq!(
        attr_values(&html, "data-county"),
        counties
            .iter()
            .map(|c| c["county"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        attr_values(&html, "data-cash"),
        counties
            .iter()
            .map(|c| c["cash"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    );
    let levels: Vec<String> = counties
        .iter()
        .map(|c| c["guarantee_level"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(attr_values(&html, "data-level"), levels);
    for c in counties {
        let id = c["county"].as_str().unwrap();
        let at = html.find(&format!("data-county=\"{id}\"")).unwrap();
        let card = &html[at..at + html[at..].find("</article>").unwrap()];
        let word = match c["status"].as_str().unwrap() {
            "warning" => "预警",
            "low" => "偏低",
            "normal" => "正常",
            "idle" => "闲置",
            _ => "未知",
        };
        assert!(
            card.contains(&format!(
                "class=\"label {}\">{word}<",
                c["status"].as_str().unwrap()
            )),
            "{id}: status as colour and word: {card}"
        );
    }

    // The watch list, the paydays, direct funds overdue, discrepancies: the JSON's rows.
    let watch = section_rows(&html, "watchlist").unwrap_or_default();
    assert_eq!(watch.len(), arr(&m["watchlist"]).len());
    for (row, w) in watch.iter().zip(arr(&m["watchlist"])) {
        assert_eq!(row[0], w["county"].as_str().unwrap());
        if arr(&w["reasons"])
            .iter()
            .any(|r| r == "guarantee_level_warning")
        {
            assert!(row[2].contains("库款保障水平低于预警线"), "{row:?}");
        }
    }
    // The next paydays: the monitor's rows not yet paid.
    let payroll = section_rows(&html, "payroll").expect("the paydays");
    let unpaid: Vec<&Value> = arr(&m["payroll"])
        .iter()
        .filter(|p| p["status"] != "paid")
        .collect();
    assert!(!unpaid.is_empty() && unpaid.len() < arr(&m["payroll"]).len());
    assert_eq!(payroll.len(), unpaid.len());
    for (row, j) in payroll.iter().zip(unpaid) {
        assert_eq!(row[0], j["county"].as_str().unwrap());
        let texts: Vec<String> = row.iter().map(|s| ungroup(s)).collect();
        for k in [
            "payroll_month",
            "payday",
            "deposit_deadline",
            "wage_bill",
            "deposited",
            "shortfall",
        ] {
            let v = j[k].as_str().unwrap();
            assert!(texts.iter().any(|t| t == v), "{k} {v} not in {row:?}");
        }
    }
    for key in ["direct_overdue", "discrepancies", "arrears"] {
        let n = section_rows(&html, key).map_or(0, |r| r.len());
        assert_eq!(n, arr(&m[key]).len(), "{key}");
    }
    // Every county links to its page, which answers.
    let county = counties[0]["county"].as_str().unwrap();
    let cp = d.get(&format!("/desk/counties/{county}"), &c);
    assert_eq!(cp.status, 200);
    assert!(
        cp.text().contains("<svg"),
        "the cash chart is drawn on the server"
    );
    assert!(cp
        .text()
        .contains(&format_grouped(counties[0]["cash"].as_str().unwrap())));
}

/// "1234567.80" grouped as the desk shows amounts: "1,234,567.80".
fn format_grouped(s: &str) -> String {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (int, frac) = s.split_once('.').unwrap_or((s, "00"));
    let mut out = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{}{out}.{frac}", if neg { "-" } else { "" })
}

#[test]
fn the_plan_page_shows_the_api_plan_and_a_scheduler_issues_it_once() {
    let d = Desk::sample();
    let sch = d.sign_in(&d.tokens.scheduler);
    // /desk/plans goes to the next month's plan.
    let r = d.get("/desk/plans", &sch);
    assert_eq!(r.status, 303);
    let path = r.header("location").unwrap().to_string();
    let month = path.rsplit('/').next().unwrap().to_string();
    let api = d
        .api(&format!("/v1/plans/{month}"), &d.tokens.scheduler)
        .json();
    let html = d.get(&path, &sch).text();
    assert_eq!(
        attr_values(&html, "data-plan-sha256"),
        vec![api["plan_sha256"].as_str().unwrap().to_string()]
    );
    assert_eq!(
        attr_values(&html, "data-based-on-seq"),
        vec![api["based_on_seq"].to_string()]
    );
    let lines = section_rows(&html, "lines").expect("the plan's lines");
    assert_eq!(lines.len(), arr(&api["lines"]).len());
    for (row, l) in lines.iter().zip(arr(&api["lines"])) {
        assert_eq!(row[0], l["county"].as_str().unwrap());
        let texts: Vec<String> = row.iter().map(|s| ungroup(s)).collect();
        for k in ["planned", "funded", "shortfall"] {
            assert!(
                texts.contains(&l[k].as_str().unwrap().to_string()),
                "{k} of {l} not in {row:?}"
            );
        }
    }
    let counties = section_rows(&html, "counties").expect("the projections");
    for (row, c) in counties.iter().zip(arr(&api["counties"])) {
        let texts: Vec<String> = row.iter().map(|s| ungroup(s)).collect();
        for k in ["projected_end", "emergency_recommended", "opening_cash"] {
            assert!(
                texts.contains(&c[k].as_str().unwrap().to_string()),
                "{k} of {c} not in {row:?}"
            );
        }
    }
    assert!(html.contains("id=\"issue-link\""), "a scheduler may issue");
    assert!(html.contains("not-issued"));

    // The confirmation shows what will be recorded.
    let confirm = d.get(&format!("{path}/issue"), &sch).text();
    assert_eq!(
        input_value(&confirm, "plan_sha256").unwrap(),
        api["plan_sha256"].as_str().unwrap()
    );
    assert_eq!(
        input_value(&confirm, "based_on_seq").unwrap(),
        api["based_on_seq"].to_string()
    );
    let csrf = input_value(&confirm, "csrf").unwrap();
    let key = input_value(&confirm, "idempotency_key").unwrap();
    let before = head(&d);

    // Without the CSRF token: refused, nothing written.
    let fields = |csrf: &str| {
        vec![
            ("csrf".to_string(), csrf.to_string()),
            ("idempotency_key".to_string(), key.clone()),
            ("based_on_seq".to_string(), api["based_on_seq"].to_string()),
            (
                "plan_sha256".to_string(),
                api["plan_sha256"].as_str().unwrap().to_string(),
            ),
            ("issued_on".to_string(), "2022-02-28".to_string()),
        ]
    };
    let post = |cookie: &str, f: &[(String, String)]| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        d.post_form(&format!("{path}/issue"), cookie, &pairs)
    };
    let r = post(&sch, &fields(""));
    assert_eq!(r.status, 403);
    assert!(text_of(&r.text()).contains("未作任何记录"));
    assert_eq!(head(&d), before);

    // The auditor: no issue button, no confirmation, and its POST (with its own CSRF
    // token) is refused whatever the page showed.
    let aud = d.sign_in(&d.tokens.auditor);
    let ah = d.get(&path, &aud).text();
    assert!(!ah.contains("issue-link"));
    assert_eq!(d.get(&format!("{path}/issue"), &aud).status, 403);
    let aud_csrf = input_value(&d.get("/", &aud).text(), "csrf").unwrap();
    assert_eq!(post(&aud, &fields(&aud_csrf)).status, 403);
    let off = d.sign_in(&d.tokens.officer);
    let off_csrf = input_value(&d.get("/", &off).text(), "csrf").unwrap();
    assert_eq!(post(&off, &fields(&off_csrf)).status, 403);
    assert_eq!(head(&d), before, "refused POSTs write nothing");

    // The scheduler issues it; a resubmit of the same form records nothing more.
    let r = post(&sch, &fields(&csrf));
    assert_eq!(r.status, 303, "{}", r.text());
    let back = r.header("location").unwrap().to_string();
    assert_eq!(head(&d), before + 1);
    let rec = &d
        .api(
            &format!("/v1/events?from={}", before + 1),
            &d.tokens.auditor,
        )
        .json()["records"][0];
    assert_eq!(rec["event"]["kind"], "plan_issued");
    assert_eq!(rec["event"]["plan_sha256"], api["plan_sha256"]);
    assert_eq!(rec["idempotency_key"].as_str().unwrap(), key);
    assert_eq!(post(&sch, &fields(&csrf)).status, 303);
    assert_eq!(head(&d), before + 1, "the same form records once");
    let issued = d.get(&back, &sch).text();
    assert!(issued.contains("已签发"));
    assert!(issued.contains("class=\"issued\""), "in force");
    assert!(
        text_of(&issued).contains("签发后日志无新记录"),
        "{}",
        text_of(&issued)
    );

    // A new record moves the plan; issuing again supersedes the first issue.
    let ev = serde_json::json!({"kind":"revenue_collected","county":"jianchang","amount":"1.00","collected_on":"2022-02-20"});
    let r = wire::post(
        d.addr(),
        "/v1/events",
        &d.tokens.officer,
        &ev.to_string(),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let again = d.get(&format!("{path}/issue"), &sch).text();
    let fields2 = vec![
        ("csrf".to_string(), csrf.clone()),
        (
            "idempotency_key".to_string(),
            input_value(&again, "idempotency_key").unwrap(),
        ),
        (
            "based_on_seq".to_string(),
            input_value(&again, "based_on_seq").unwrap(),
        ),
        (
            "plan_sha256".to_string(),
            input_value(&again, "plan_sha256").unwrap(),
        ),
        ("issued_on".to_string(), "2022-02-28".to_string()),
    ];
    assert_eq!(post(&sch, &fields2).status, 303);
    let page = d.get(&path, &sch).text();
    let rows = page.matches("<tr data-seq=").count();
    assert!(rows >= 2, "both issues listed");
    assert!(
        page.contains("class=\"superseded\""),
        "the first issue is superseded"
    );
}

#[test]
fn a_stale_plan_hash_is_refused_with_the_reason_and_nothing_written() {
    let d = Desk::sample();
    let sch = d.sign_in(&d.tokens.scheduler);
    let path = d
        .get("/desk/plans", &sch)
        .header("location")
        .unwrap()
        .to_string();
    let confirm = d.get(&format!("{path}/issue"), &sch).text();
    let before = head(&d);
    let r = d.post_form(
        &format!("{path}/issue"),
        &sch,
        &[
            ("csrf", &input_value(&confirm, "csrf").unwrap()),
            (
                "idempotency_key",
                &input_value(&confirm, "idempotency_key").unwrap(),
            ),
            (
                "based_on_seq",
                &input_value(&confirm, "based_on_seq").unwrap(),
            ),
            ("plan_sha256", &"0".repeat(64)),
            ("issued_on", "2022-02-28"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(text_of(&r.text()).contains("plan_sha256"));
    assert_eq!(head(&d), before);
}

#[test]
fn sign_in_trades_the_token_for_a_session_and_sign_out_ends_it() {
    let d = Desk::sample();
    // No session: every page sends the reader to sign in, and back after.
    for p in [
        "/",
        "/desk/plans",
        "/desk/forecast",
        "/desk/counties/jianchang",
        "/desk/audit",
        "/desk/journal",
    ] {
        let r = d.get(p, "");
        assert_eq!(r.status, 303, "{p}");
        assert!(
            r.header("location")
                .unwrap()
                .starts_with("/desk/sign-in?next="),
            "{p}"
        );
    }
    // `/` is the desk for a browser only: an API client (no text/html in Accept) gets
    // SPEC §7's JSON 404, as before the desk.
    let api_root = wire::get(d.addr(), "/", "");
    assert_eq!(api_root.status, 404);
    assert_eq!(api_root.json()["error"]["code"], "not_found");
    let form = d.get("/desk/sign-in?next=%2Fdesk%2Fforecast", "");
    assert_eq!(form.status, 200);
    assert_eq!(input_value(&form.text(), "next").unwrap(), "/desk/forecast");
    // A wrong token: the form again, 401, no cookie.
    let r = d.post_form(
        "/desk/sign-in",
        "",
        &[("token", "sbt_wrong"), ("next", "/")],
    );
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());
    assert!(text_of(&r.text()).contains("令牌无效"));
    // Sign-in never sends the reader to another site.
    let r = d.post_form(
        "/desk/sign-in",
        "",
        &[("token", &d.tokens.officer), ("next", "//evil.example/")],
    );
    assert_eq!(r.header("location"), Some("/"));
    let set = r.header("set-cookie").unwrap();
    assert!(
        !set.contains(&d.tokens.officer[4..]),
        "the cookie is not the token"
    );

    // Nor through a tab, a newline or a backslash that a browser would drop or bend,
    // nor to a path it cannot send as it is; and never from another site.
    for next in [
        "/\t/evil.example/",
        "/\n/evil.example",
        "/\\evil.example",
        "/desk/县",
        "http://evil.example/",
    ] {
        let r = d.post_form(
            "/desk/sign-in",
            "",
            &[("token", &d.tokens.officer), ("next", next)],
        );
        assert_eq!(r.header("location"), Some("/"), "{next:?}");
        assert_eq!(
            d.get(
                &format!(
                    "/desk/lang/en?back={}",
                    &deskkit::encode(&[("x", next)])[2..]
                ),
                ""
            )
            .header("location"),
            Some("/"),
            "{next:?}"
        );
    }
    for (h, v) in [
        ("Origin", "http://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let body = deskkit::encode(&[("token", &d.tokens.officer), ("next", "/")]);
        let r = wire::request(
            d.addr(),
            "POST",
            "/desk/sign-in",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                (h, v),
            ],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 403, "{h}: {v}");
        assert!(r.header("set-cookie").is_none());
    }
    let c = d.sign_in(&d.tokens.officer);
    let home = d.get("/", &c);
    assert_eq!(home.status, 200);
    assert!(
        !home.text().contains(&d.tokens.officer[4..]),
        "the token is never in a page"
    );
    assert!(home.text().contains("li.wei"));
    // Sign-out needs the CSRF token; then the cookie is worthless.
    let csrf = input_value(&home.text(), "csrf").unwrap();
    assert_eq!(d.post_form("/desk/sign-out", &c, &[]).status, 403);
    assert_eq!(
        d.get("/", &c).status,
        200,
        "a refused sign-out leaves the session"
    );
    let r = d.post_form("/desk/sign-out", &c, &[("csrf", &csrf)]);
    assert_eq!(r.status, 303);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(
        d.get("/", &c).status,
        303,
        "the session ended on the server"
    );
    // The server's log never holds a token.
    assert!(!d.server.log().contains(&d.tokens.officer[4..]));
}

#[test]
fn the_language_switch_is_remembered() {
    let d = Desk::sample();
    let c = d.sign_in(&d.tokens.auditor);
    let zh = d.get("/desk/forecast", &c).text();
    assert!(zh.contains("lang=\"zh-CN\"") && zh.contains("风险预测"));
    let r = d.get("/desk/lang/en?back=%2Fdesk%2Fforecast", &c);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/desk/forecast"));
    let set = r.header("set-cookie").unwrap();
    assert!(
        set.starts_with("sanbao_lang=en") && set.contains("Max-Age="),
        "{set}"
    );
    let en_cookie = format!("{c}; sanbao_lang=en");
    let en = d.get("/desk/forecast", &en_cookie).text();
    assert!(
        en.contains("lang=\"en\"") && en.contains("Wage risk forecast"),
        "{en}"
    );
    assert!(en.contains("/desk/lang/zh"), "the way back to Chinese");
    // The sign-in page speaks the remembered language too.
    assert!(d
        .get("/desk/sign-in", "sanbao_lang=en")
        .text()
        .contains("Sign in"));
    // Back to a local page only.
    assert_eq!(
        d.get("/desk/lang/zh?back=https://evil.example/", &c)
            .header("location"),
        Some("/")
    );
}

#[test]
fn bad_input_gives_the_page_with_a_message_never_a_5xx() {
    let d = Desk::sample();
    let c = d.sign_in(&d.tokens.officer);
    let en = format!("{c}; sanbao_lang=en");
    let cases: &[(&str, u16, &str, &str)] = &[
        ("/?as_of=2021-02-30", 400, "年-月-日", "YYYY-MM-DD"),
        (
            "/?at_seq=99999999",
            400,
            "超出日志末条记录",
            "past the log's head",
        ),
        ("/?at_seq=abc", 400, "非负整数", "whole number"),
        ("/desk/counties/nowhere", 404, "没有县区", "no county"),
        (
            "/desk/counties/jianchang?as_of=2019-01-01",
            404,
            "晚于截至日期",
            "after",
        ),
        ("/desk/plans/2021-13", 400, "年-月", "YYYY-MM"),
        ("/desk/plans/2022-03?at_seq=99999999", 400, "超出", "past"),
        ("/desk/plans?month=x", 400, "年-月", "YYYY-MM"),
        ("/desk/forecast?months=0", 400, "月数", "months"),
        ("/desk/forecast?from=2022-99", 400, "年-月", "YYYY-MM"),
        ("/desk/nothing-here", 404, "没有页面", "no page"),
        ("/desk/counties/%FF", 400, "格式不对", "not a county"),
        ("/desk/plans/%FF", 400, "年-月", "YYYY-MM"),
    ];
    for (path, status, zh, en_word) in cases {
        let r = d.get(path, &c);
        assert_eq!(r.status, *status, "{path}: {}", r.text());
        assert!(
            r.header("content-type").unwrap().starts_with("text/html"),
            "{path}"
        );
        assert!(
            text_of(&r.text()).contains(zh),
            "{path}: {}",
            text_of(&r.text())
        );
        let r = d.get(path, &en);
        assert_eq!(r.status, *status, "{path}");
        assert!(
            text_of(&r.text())
                .to_lowercase()
                .contains(&en_word.to_lowercase()),
            "{path}: {}",
            text_of(&r.text())
        );
    }
    // The API's routes keep their JSON answers.
    assert_eq!(
        d.get("/v1/nothing", "").header("content-type"),
        Some("application/json")
    );
}

#[test]
fn pages_are_self_contained_and_the_county_and_forecast_pages_read_the_queries() {
    let d = Desk::sample();
    let c = d.sign_in(&d.tokens.auditor);
    let css = d.get("/desk/assets/desk.css", "");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert!(d
        .get("/desk/assets/desk.js", "")
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(d.get("/desk/assets/nope.js", "").status, 404);
    for p in [
        "/",
        "/desk/plans/2022-03",
        "/desk/forecast",
        "/desk/counties/jianchang",
    ] {
        let r = d.get(p, &c);
        assert_eq!(r.status, 200, "{p}");
        let h = r.text();
        assert!(r
            .header("content-security-policy")
            .unwrap()
            .contains("default-src 'self'"));
        let outside = h.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !outside.contains("http://") && !outside.contains("https://"),
            "{p} refers to another host"
        );
        assert!(
            !h.contains(" style=\""),
            "{p}: no inline style (the CSP forbids it)"
        );
    }
    // The forecast's cells are the API's forecast.
    let f = d
        .api("/v1/forecast?from=2022-03&months=3", &d.tokens.auditor)
        .json();
    let h = d.get("/desk/forecast?from=2022-03&months=3", &c).text();
    let covers = attr_values(&h, "data-cover");
    let want: Vec<String> = arr(&f["counties"])
        .iter()
        .flat_map(|c| {
            arr(&c["months"])
                .iter()
                .map(|m| m["wage_cover"].as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(covers, want);
    // The county page: its payroll rows are the monitor's for it.
    let m = d.api("/v1/monitor", &d.tokens.auditor).json();
    let h = d.get("/desk/counties/jianchang", &c).text();
    let rows = section_rows(&h, "payroll").unwrap();
    let want: Vec<&Value> = arr(&m["payroll"])
        .iter()
        .filter(|p| p["county"] == "jianchang")
        .collect();
    assert_eq!(rows.len(), want.len());
    for (row, p) in rows.iter().zip(want) {
        assert!(row
            .iter()
            .any(|t| ungroup(t) == p["wage_bill"].as_str().unwrap()));
    }
}

#[test]
fn an_empty_log_gives_pages_not_errors() {
    let d = Desk::empty();
    let c = d.sign_in(&d.tokens.scheduler);
    for p in [
        "/",
        "/desk/forecast",
        "/desk/plans/2021-01",
        "/desk/journal",
        "/desk/audit",
    ] {
        let r = d.get(p, &c);
        assert_eq!(r.status, 200, "{p}: {}", r.text());
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
    assert!(text_of(&d.get("/", &c).text()).contains("日志中还没有县区"));
}

#[test]
fn hostile_queries_and_forms_never_get_a_5xx_and_write_nothing() {
    let d = Desk::sample();
    let c = d.sign_in(&d.tokens.officer);
    let csrf = input_value(&d.get("/", &c).text(), "csrf").unwrap();
    let values = [
        "",
        "-1",
        "18446744073709551616",
        "99999999999999999999999",
        "0",
        "%zz",
        "%00",
        "%E5%8E",
        "2021-02-29",
        "9999-12-31",
        "0000-01",
        "<script>alert(1)</script>",
        "县区",
        "a+b",
        &"9".repeat(5000),
    ];
    let pages = [
        ("/", &["as_of", "at_seq"][..]),
        ("/desk/counties/jianchang", &["as_of", "at_seq"][..]),
        ("/desk/plans", &["month"][..]),
        ("/desk/plans/2022-03", &["at_seq", "issued"][..]),
        ("/desk/forecast", &["from", "months", "at_seq"][..]),
        ("/desk/journal", &["before", "after", "county", "kind"][..]),
        ("/desk/audit", &["at_seq", "verify"][..]),
        ("/desk/sign-in", &["next"][..]),
    ];
    let before = head(&d);
    for (page, params) in pages {
        for p in params {
            for v in values {
                let path = format!("{page}?{p}={v}");
                let r = d.get(&path, &c);
                assert!(r.status < 500, "{path}: {}", r.status);
                assert!(
                    !r.text().contains("<script>alert"),
                    "{path} echoes markup unescaped"
                );
            }
        }
    }
    for v in values {
        for path in [
            format!("/desk/counties/{v}"),
            format!("/desk/plans/{v}"),
            format!("/desk/forms/{v}"),
        ] {
            let path = path.replace(' ', "%20");
            let r = d.get(&path, &c);
            assert!(r.status < 500, "{path}: {}", r.status);
        }
        let fields: Vec<(&str, &str)> = ["county", "payroll_month", "amount", "deposited_on"]
            .iter()
            .map(|k| (*k, v))
            .chain([("csrf", csrf.as_str()), ("idempotency_key", v)])
            .collect();
        let r = d.post_form("/desk/forms/payroll_deposited", &c, &fields);
        assert!(r.status < 500, "form with {v:?}: {}", r.status);
        let r = d.post_form(
            "/desk/plans/2022-03/issue",
            &c,
            &[("csrf", &csrf), ("based_on_seq", v), ("plan_sha256", v)],
        );
        assert!(r.status < 500, "issue with {v:?}: {}", r.status);
    }
    assert_eq!(head(&d), before, "no hostile input was recorded");
}
