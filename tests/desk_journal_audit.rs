//! The desk's journal (事件流水, with its live rows) and audit (审计核验) pages,
//! against the API that answers the same questions: the sample city served with one
//! user per role, read through a browser-like client (a session cookie) and through
//! the API (a bearer token). Every wait is bounded by the sockets' timeouts.

use crate::deskkit;
use crate::wire;

use deskkit::{attr_values, text_of, Desk};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

// ---- helpers ---------------------------------------------------------------------------

/// Every record through `GET /v1/events`.
fn records(d: &Desk) -> Vec<Value> {
    wire::all_records(d.addr(), &d.tokens.auditor)
}

/// GET a desk page; asserts its status.
fn page(d: &Desk, path: &str, cookie: &str, status: u16) -> String {
    let r = d.get(path, cookie);
    assert_eq!(r.status, status, "{path}: {}", r.text());
    r.text()
}

/// The journal's rows: their seqs (from `data-seq`, in page order).
fn seqs(html: &str) -> Vec<u64> {
    attr_values(html, "data-seq")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect()
}

/// The cells' texts of each `<tr>` of the page's (single) `<tbody>`.
fn rows(html: &str) -> Vec<Vec<String>> {
    let Some(start) = html.find("<tbody>") else {
        return vec![];
    };
    let end = start + html[start..].find("</tbody>").unwrap();
    html[start..end]
        .split("<tr")
        .skip(1)
        .map(|tr| {
            tr.split("<td")
                .skip(1)
                .map(|td| text_of(&format!("<td{td}")))
                .collect()
        })
        .collect()
}

/// The `href` of the element with `id` (None when it is not on the page).
fn href_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let tag = &html[start..start + html[start..].find('>')?];
    let h = tag.find("href=\"")? + 6;
    Some(deskkit::unescape(&tag[h..h + tag[h..].find('"')?]))
}

/// The value of attribute `attr` on the element with `id`.
fn attr_of(html: &str, id: &str, attr: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let tag = &html[start..start + html[start..].find('>')?];
    let a = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
    Some(deskkit::unescape(&tag[a..a + tag[a..].find('"')?]))
}

fn record_of(all: &[Value], seq: u64) -> &Value {
    let r = &all[(seq - 1) as usize];
    assert_eq!(r["seq"], seq);
    r
}

/// Asserts that each row of `html` shows its record as `/v1/events` has it: seq,
/// kind (Chinese name and code), county, amount, effective date and full hash.
fn assert_rows_match(html: &str, all: &[Value]) {
    let dates: BTreeMap<String, String> =
        serde_json::from_str(&attr_values(html, "data-date-fields")[0]).unwrap();
    let names: BTreeMap<String, String> =
        serde_json::from_str(&attr_values(html, "data-kind-names")[0]).unwrap();
    let seqs = seqs(html);
    let hashes = attr_values(html, "data-hash");
    let cells = rows(html);
    assert_eq!(seqs.len(), hashes.len());
    assert_eq!(seqs.len(), cells.len());
    for ((seq, hash), c) in seqs.iter().zip(&hashes).zip(&cells) {
        let r = record_of(all, *seq);
        let ev = &r["event"];
        let kind = ev["kind"].as_str().unwrap();
        assert_eq!(hash, r["hash"].as_str().unwrap(), "seq {seq}");
        assert_eq!(c[0], seq.to_string());
        assert_eq!(c[1], format!("{} {kind}", names[kind]), "seq {seq}");
        match ev["county"].as_str() {
            Some(id) => assert!(c[2].starts_with(id), "seq {seq}: {c:?}"),
            None => assert_eq!(c[2], ""),
        }
        let amount = ev["amount"].as_str().or(ev["balance"].as_str());
        assert_eq!(c[3].replace(',', ""), amount.unwrap_or(""), "seq {seq}");
        assert_eq!(c[4], ev[&dates[kind]].as_str().unwrap(), "seq {seq} {kind}");
        assert_eq!(c[5], r["hash"].as_str().unwrap());
    }
}

/// `GET path` with a session cookie, reading the head only: status, headers and the
/// still-open connection.
fn open(
    d: &Desk,
    path: &str,
    cookie: &str,
    last_event_id: Option<u64>,
) -> (u16, Vec<(String, String)>, BufReader<TcpStream>) {
    let lei = last_event_id.map(|n| n.to_string()).unwrap_or_default();
    let mut h = vec![("Accept", "text/event-stream")];
    if !cookie.is_empty() {
        h.push(("Cookie", cookie));
    }
    if last_event_id.is_some() {
        h.push(("Last-Event-ID", lei.as_str()));
    }
    let mut s = wire::connect(d.addr()).unwrap();
    s.write_all(&wire::request_bytes("GET", path, &h, None))
        .unwrap();
    let mut reader = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "closed before the head"
        );
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let (status, headers) = wire::parse_head(&head);
    (status, headers, reader)
}

/// The next record event of a chunked event stream: (id, data as JSON). Comments are
/// skipped; reads are bounded by the socket's timeout.
fn next_record(reader: &mut BufReader<TcpStream>, pending: &mut Vec<u8>) -> (u64, Value) {
    let mut id = None;
    let mut data = String::new();
    loop {
        while let Some(p) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=p).collect();
            let line = String::from_utf8(line[..p].to_vec()).unwrap();
            if line.is_empty() {
                if let Some(id) = id {
                    return (id, serde_json::from_str(&data).unwrap());
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(": ").unwrap_or((line.as_str(), ""));
            match field {
                "id" => id = Some(value.parse().unwrap()),
                "data" => data.push_str(value),
                "event" => panic!("unexpected event {value}"),
                _ => {}
            }
        }
        let mut size = String::new();
        assert!(reader.read_line(&mut size).unwrap() > 0, "the stream ended");
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        assert!(n > 0, "the stream ended");
        let mut chunk = vec![0u8; n + 2];
        reader.read_exact(&mut chunk).unwrap();
        pending.extend_from_slice(&chunk[..n]);
    }
}

fn revenue(county: &str, cents: u64) -> Value {
    json!({"kind":"revenue_collected","county":county,"amount":format!("{}.{:02}", cents / 100, cents % 100),"collected_on":"2022-02-20","category":"tax"})
}

fn append(d: &Desk, body: &Value) -> Vec<Value> {
    let r = wire::post(
        d.addr(),
        "/v1/events",
        &d.tokens.officer,
        &body.to_string(),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json().as_array().unwrap().clone()
}

// ---- the journal -----------------------------------------------------------------------

#[test]
fn the_journal_pages_the_records_newest_first_with_their_hashes() {
    let d = Desk::sample();
    let cookie = d.sign_in(&d.tokens.auditor);
    let all = records(&d);
    let head = all.len() as u64;
    assert!(head > 150, "the sample city has {head} records");

    let first = page(&d, "/desk/journal", &cookie, 200);
    assert!(first.contains("事件流水"));
    assert_eq!(seqs(&first), (head - 49..=head).rev().collect::<Vec<_>>());
    assert_rows_match(&first, &all);
    // The live script's hooks, on the first page only.
    assert_eq!(
        attr_of(&first, "journal-live", "data-from"),
        Some((head + 1).to_string())
    );
    assert_eq!(
        attr_of(&first, "journal-live", "data-county"),
        Some(String::new())
    );
    assert!(first.contains("id=\"live-status\""));
    assert!(first.contains(deskkit_js_path()));
    assert_eq!(href_of(&first, "page-newer"), None);
    assert_eq!(href_of(&first, "page-latest"), None);

    let older = href_of(&first, "page-older").expect("an older page");
    assert_eq!(older, format!("/desk/journal?before={}", head - 49));
    let second = page(&d, &older, &cookie, 200);
    assert_eq!(
        seqs(&second),
        (head - 99..=head - 50).rev().collect::<Vec<_>>()
    );
    assert_rows_match(&second, &all);
    assert!(!second.contains("journal-live") && !second.contains("live-status"));
    assert_eq!(
        href_of(&second, "page-latest").as_deref(),
        Some("/desk/journal")
    );
    // Newer from the second page: the first page's records again.
    let newer = href_of(&second, "page-newer").expect("a newer page");
    let back = page(&d, &newer, &cookie, 200);
    assert_eq!(seqs(&back), seqs(&first));
    assert_eq!(href_of(&back, "page-newer"), None);

    // The oldest page: seq 50 down to 1, nothing older.
    let oldest = page(&d, "/desk/journal?before=51", &cookie, 200);
    assert_eq!(seqs(&oldest), (1..=50).rev().collect::<Vec<_>>());
    assert_rows_match(&oldest, &all);
    assert_eq!(href_of(&oldest, "page-older"), None);
    let none = page(&d, "/desk/journal?before=1", &cookie, 200);
    assert!(seqs(&none).is_empty() && none.contains("journal-empty"));

    // English on request.
    let en = page(
        &d,
        "/desk/journal",
        &format!("{cookie}; sanbao_lang=en"),
        200,
    );
    assert!(en.contains("Journal") && en.contains("effective date"));
    assert_eq!(seqs(&en), seqs(&first));
}

/// The js asset's path, as the page shell links it.
fn deskkit_js_path() -> &'static str {
    "/desk/assets/desk.js"
}

#[test]
fn the_journal_filters_by_county_and_kind() {
    let d = Desk::sample();
    let cookie = d.sign_in(&d.tokens.officer);
    let all = records(&d);

    let county = all[0]["event"]["county"].as_str().unwrap().to_string();
    let want: Vec<u64> = all
        .iter()
        .rev()
        .filter(|r| r["event"]["county"].as_str() == Some(county.as_str()))
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    let p = page(&d, &format!("/desk/journal?county={county}"), &cookie, 200);
    assert_eq!(seqs(&p), want[..50.min(want.len())]);
    assert!(attr_values(&p, "data-county")
        .iter()
        .skip(1) // the table's own data-county
        .all(|c| *c == county));
    assert_eq!(
        attr_of(&p, "journal-live", "data-county"),
        Some(county.clone())
    );
    assert_rows_match(&p, &all);
    // The select offers the registered counties as "id 名称".
    assert!(text_of(&p).contains(&format!("{county} 北港工业区")));

    // A kind: every wages_paid record, page after page.
    let wages: Vec<u64> = all
        .iter()
        .rev()
        .filter(|r| r["event"]["kind"] == "wages_paid")
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert!(wages.len() > 100, "{}", wages.len());
    let mut got = Vec::new();
    let mut path = "/desk/journal?kind=wages_paid".to_string();
    for _ in 0..10 {
        let p = page(&d, &path, &cookie, 200);
        assert!(attr_values(&p, "data-kind")
            .iter()
            .skip(1)
            .all(|k| k == "wages_paid"));
        assert!(p.contains("工资发放"));
        assert_rows_match(&p, &all);
        got.extend(seqs(&p));
        match href_of(&p, "page-older") {
            Some(h) => {
                assert!(h.contains("kind=wages_paid"), "{h}");
                path = h;
            }
            None => break,
        }
    }
    assert_eq!(got, wages);

    // Both: one county's registration, and nothing of a kind the log does not hold.
    let p = page(
        &d,
        &format!("/desk/journal?county={county}&kind=county_registered"),
        &cookie,
        200,
    );
    assert_eq!(seqs(&p), vec![1]);
    let p = page(&d, "/desk/journal?kind=notice_issued", &cookie, 200);
    assert!(seqs(&p).is_empty() && p.contains("journal-empty"));
    assert!(!p.contains("scan-bound"));
}

#[test]
fn the_journal_refuses_bad_queries_in_chinese_without_a_5xx() {
    let d = Desk::sample();
    let cookie = d.sign_in(&d.tokens.scheduler);
    let head = records(&d).len() as u64;
    let past = format!("before={}", head + 2);
    for (q, words) in [
        ("before=abc", "不是非负整数"),
        ("before=-1", "不是非负整数"),
        (past.as_str(), "超出"),
        ("after=x", "不是非负整数"),
        ("kind=nope", "没有“nope”这类事件"),
        ("county=nowhere", "未登记"),
        ("county=BAD!", "格式不对"),
        ("before=10&after=5", "只能填写一个"),
    ] {
        let p = page(&d, &format!("/desk/journal?{q}"), &cookie, 400);
        assert!(text_of(&p).contains(words), "{q}: {}", text_of(&p));
        assert!(p.contains("journal-filter"), "{q}: the form is still there");
    }
    let en = page(
        &d,
        "/desk/journal?kind=nope",
        &format!("{cookie}; sanbao_lang=en"),
        400,
    );
    assert!(text_of(&en).contains("not an event kind"));
}

#[test]
fn a_filtered_scan_stops_at_its_bound_and_says_where_to_go_on() {
    let d = Desk::sample();
    let cookie = d.sign_in(&d.tokens.auditor);
    let sample = records(&d);
    let before = sample.len() as u64;
    let registrations: Vec<u64> = sample
        .iter()
        .rev()
        .filter(|r| r["event"]["kind"] == "county_registered")
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert!(!registrations.is_empty());
    // More than the bound (20,000) of records that are not county registrations.
    let n = 20_100u64;
    let mut done = 0;
    while done < n {
        let batch: Vec<Value> = (done..(done + 5_025).min(n))
            .map(|i| revenue("beigang", 100 + i))
            .collect();
        done += batch.len() as u64;
        append(&d, &Value::Array(batch));
    }
    let head = before + n;
    let p = page(&d, "/desk/journal?kind=county_registered", &cookie, 200);
    assert!(seqs(&p).is_empty(), "{:?}", seqs(&p));
    let stopped = head - 20_000 + 1;
    assert_eq!(
        attr_of(&p, "scan-bound", "data-stopped-at"),
        Some(stopped.to_string())
    );
    assert!(text_of(&p).contains("20000 条记录"), "{}", text_of(&p));
    let more = href_of(&p, "scan-continue").expect("a link to go on");
    assert_eq!(
        more,
        format!("/desk/journal?before={stopped}&kind=county_registered")
    );
    let rest = page(&d, &more, &cookie, 200);
    assert_eq!(seqs(&rest), registrations);
    assert!(!rest.contains("scan-bound"));
    // An unfiltered page reads only its own 50.
    let p = page(&d, "/desk/journal", &cookie, 200);
    assert_eq!(seqs(&p).first(), Some(&head));
    assert!(!p.contains("scan-bound"));
}

// ---- the live rows ---------------------------------------------------------------------

#[test]
fn the_journal_stream_sends_new_records_to_a_signed_in_desk() {
    let d = Desk::sample();
    let cookie = d.sign_in(&d.tokens.auditor);
    let all = records(&d);
    let head = all.len() as u64;

    // Without a session (or with an unknown one): 401, not a redirect.
    for c in ["", "sanbao_session=nope"] {
        let r = d.get(&format!("/desk/journal/stream?from={}", head + 1), c);
        assert_eq!(r.status, 401, "{c:?}: {}", r.text());
        assert!(r.text().contains("登录"));
    }
    let r = d.get("/desk/journal/stream?from=x", &cookie);
    assert_eq!(r.status, 400, "{}", r.text());

    let (status, headers, mut reader) = open(
        &d,
        &format!("/desk/journal/stream?from={}", head + 1),
        &cookie,
        None,
    );
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type")
                && v.starts_with("text/event-stream"))
    );

    let acks = append(&d, &revenue("jianchang", 123_456));
    let seq = acks[0]["seq"].as_u64().unwrap();
    assert_eq!(seq, head + 1);
    let mut pending = Vec::new();
    let (id, rec) = next_record(&mut reader, &mut pending);
    assert_eq!(id, seq);
    let stored = d.api(&format!("/v1/events?from={seq}&limit=1"), &d.tokens.auditor);
    assert_eq!(rec, stored.json()["records"][0]);
    assert_eq!(rec["event"]["amount"], "1234.56");

    // Two more: in order.
    append(&d, &json!([revenue("jianchang", 1), revenue("beigang", 2)]));
    assert_eq!(next_record(&mut reader, &mut pending).0, seq + 1);
    assert_eq!(next_record(&mut reader, &mut pending).0, seq + 2);

    // A second session's stream ends when that session is signed out: the next
    // record is not sent to it.
    let other = d.sign_in(&d.tokens.officer);
    let (status, _, mut gone) = open(
        &d,
        &format!("/desk/journal/stream?from={}", seq + 3),
        &other,
        None,
    );
    assert_eq!(status, 200);
    let csrf = deskkit::input_value(&d.get("/", &other).text(), "csrf").unwrap();
    assert_eq!(
        d.post_form("/desk/sign-out", &other, &[("csrf", &csrf)])
            .status,
        303
    );
    append(&d, &revenue("jianchang", 3));
    assert_eq!(
        next_record(&mut reader, &mut pending).0,
        seq + 3,
        "the live session still gets it"
    );
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = gone
            .read_line(&mut line)
            .expect("the stream ends within the socket's timeout");
        if n == 0 || line == "0\r\n" {
            break;
        }
        seen.push_str(&line);
    }
    assert!(
        !seen.contains(&format!("id: {}", seq + 3)),
        "sent after sign-out: {seen}"
    );
    drop(reader);

    // Last-Event-ID resumes after it (history from the store).
    let (status, _, mut reader) = open(&d, "/desk/journal/stream?from=1", &cookie, Some(seq));
    assert_eq!(status, 200);
    let mut pending = Vec::new();
    assert_eq!(next_record(&mut reader, &mut pending).0, seq + 1);

    // The first page now starts at the new head, and names the stream's start.
    let p = page(&d, "/desk/journal", &cookie, 200);
    assert_eq!(seqs(&p)[0], seq + 3);
    assert_eq!(
        attr_of(&p, "journal-live", "data-from"),
        Some((seq + 4).to_string())
    );
}

// ---- the audit page --------------------------------------------------------------------

#[test]
fn the_audit_page_verifies_replays_and_exports_as_the_api_does() {
    let d = Desk::sample();
    let cookie = d.sign_in(&d.tokens.auditor);

    // Issue a plan (the scheduler, through the API), then record one more event.
    let month = "2022-03";
    let plan = d.api(&format!("/v1/plans/{month}"), &d.tokens.scheduler);
    assert_eq!(plan.status, 200, "{}", plan.text());
    let plan = plan.json();
    let r = wire::post(
        d.addr(),
        &format!("/v1/plans/{month}/issue"),
        &d.tokens.scheduler,
        &json!({"based_on_seq": plan["based_on_seq"], "plan_sha256": plan["plan_sha256"]})
            .to_string(),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let issued_at = r.json()[0]["seq"].as_u64().unwrap();
    append(&d, &revenue("lianshan", 5_000));
    let all = records(&d);
    let head = all.len() as u64;
    assert_eq!(head, issued_at + 1);

    // The page alone: the head, no verification.
    let p = page(&d, "/desk/audit", &cookie, 200);
    assert!(p.contains("审计核验") && p.contains("校验") && p.contains("导出日志"));
    assert_eq!(
        attr_of(&p, "head-seq", "data-head-seq"),
        Some(head.to_string())
    );
    assert_eq!(
        attr_of(&p, "head-hash", "data-head-hash").as_deref(),
        all.last().unwrap()["hash"].as_str()
    );
    assert!(!p.contains("verify-result") && !p.contains("replay-result"));

    // Verify: as /v1/verify.
    let v = d.api("/v1/verify", &d.tokens.auditor).json();
    assert_eq!(v["ok"], true);
    let p = page(&d, "/desk/audit?verify=1", &cookie, 200);
    assert_eq!(
        attr_of(&p, "verify-result", "data-ok").as_deref(),
        Some("true")
    );
    assert_eq!(
        attr_of(&p, "verify-result", "data-records"),
        Some(v["records"].as_u64().unwrap().to_string())
    );
    assert_eq!(v["records"], head);
    assert_eq!(
        attr_of(&p, "verify-result", "data-head-hash").as_deref(),
        v["head_hash"].as_str()
    );
    assert!(text_of(&p).contains("哈希链完整"));

    // Replay at the plan's seq: as /v1/replay?at_seq=N.
    let api = d.api(&format!("/v1/replay?at_seq={issued_at}"), &d.tokens.auditor);
    assert_eq!(api.status, 200, "{}", api.text());
    let api = api.json();
    let plans = api["plans"].as_array().expect("the replay's plans");
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0]["reproduced"], true);
    let p = page(&d, &format!("/desk/audit?at_seq={issued_at}"), &cookie, 200);
    assert_eq!(
        attr_of(&p, "replay-result", "data-at-seq"),
        Some(issued_at.to_string())
    );
    assert_eq!(
        attr_of(&p, "replay-result", "data-head-hash").as_deref(),
        api["head_hash"].as_str()
    );
    assert_eq!(api["head_hash"], record_of(&all, issued_at)["hash"]);
    let at = p.find("data-section=\"plans\"").expect("the plans table");
    let shown = rows(&p[at..]);
    assert_eq!(shown.len(), plans.len());
    for (row, want) in shown.iter().zip(plans) {
        assert_eq!(row[0], want["month"].as_str().unwrap());
        assert_eq!(row[1], want["based_on_seq"].to_string());
        assert_eq!(row[2], want["plan_sha256"].as_str().unwrap());
        assert_eq!(row[3], "是");
    }
    assert!(text_of(&p).contains("已下达的调度计划"));
    // Before the plan was issued: none listed.
    let p = page(
        &d,
        &format!("/desk/audit?at_seq={}", issued_at - 1),
        &cookie,
        200,
    );
    assert!(!p.contains("data-section=\"plans\""));

    // An at-seq past the head, or not a number: the page, 400, the reason.
    let p = page(
        &d,
        &format!("/desk/audit?at_seq={}", head + 1),
        &cookie,
        400,
    );
    assert!(text_of(&p).contains("超出日志末条记录"), "{}", text_of(&p));
    let p = page(&d, "/desk/audit?at_seq=abc", &cookie, 400);
    assert!(text_of(&p).contains("不是非负整数"));
    let p = page(
        &d,
        &format!("/desk/audit?at_seq={}", head + 1),
        &format!("{cookie}; sanbao_lang=en"),
        400,
    );
    assert!(text_of(&p).contains("past the log's head"));

    // The export: the very bytes `sanbao export` writes.
    let r = d.get("/desk/audit/export", &cookie);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(
        r.header("content-disposition"),
        Some(format!("attachment; filename=\"sanbao-export-{head}.jsonl\"").as_str())
    );
    let cli = wire::run(&d.dir, &["export"]);
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert_eq!(r.body.len(), cli.stdout.len());
    assert!(
        r.body == cli.stdout,
        "the download differs from sanbao export"
    );
    let lines: Vec<Value> = r
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, all);
}

#[test]
fn the_export_of_a_log_larger_than_a_chunk_is_whole() {
    let d = Desk::sample();
    let cookie = d.sign_in(&d.tokens.auditor);
    let r = d.get("/desk/audit/export", &cookie);
    assert_eq!(r.status, 200);
    let head = records(&d).len();
    assert!(head > 1024 * 2, "the sample spans several chunks");
    let text = r.text();
    assert!(text.ends_with('\n'));
    let seqs: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (1..=head as u64).collect::<Vec<_>>());
}

// ---- sessions --------------------------------------------------------------------------

#[test]
fn every_page_without_a_session_goes_to_sign_in() {
    let d = Desk::sample();
    for path in [
        "/desk/journal",
        "/desk/journal?before=100&kind=wages_paid",
        "/desk/audit",
        "/desk/audit?verify=1",
        "/desk/audit?at_seq=5",
        "/desk/audit/export",
    ] {
        for cookie in ["", "sanbao_session=0123456789abcdef"] {
            let r = d.get(path, cookie);
            assert_eq!(r.status, 303, "{path} {cookie:?}: {}", r.text());
            let to = r.header("location").unwrap();
            assert_eq!(
                to,
                format!(
                    "/desk/sign-in?next={}",
                    percent_encoding::utf8_percent_encode(path, percent_encoding::NON_ALPHANUMERIC)
                ),
                "{path}"
            );
        }
    }
    // Every role reads both pages.
    for token in [&d.tokens.officer, &d.tokens.scheduler, &d.tokens.auditor] {
        let cookie = d.sign_in(token);
        page(&d, "/desk/journal", &cookie, 200);
        page(&d, "/desk/audit", &cookie, 200);
    }
}
