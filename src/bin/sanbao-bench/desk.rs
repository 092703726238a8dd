//! `sanbao-bench desk`: the web desk's pages at a province's scale. A log of N events
//! over C counties (default 1,000,000 over 3,000: a year) is written, `sanbao serve`
//! is started on it, an officer signs in, and every page is asked for `runs` times
//! over loopback; each answer's time (from sending the request to its last byte, so
//! the server's rendering plus loopback transfer) and size are reported.
//!
//! Guarantees: every answer measured is a 200 with its whole body read (a page that
//! answers anything else stops the run); pages are asked one at a time on a fresh
//! connection; the on-request audit work (verify, replay of the whole log) is timed
//! apart, once each, since it reads the whole log by design.

use crate::common::{build_log, note, sanbao_bin, Scratch};
use crate::server::{make_token, start_server};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One HTTP/1.1 exchange (`Connection: close`): status, headers, body.
fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect to the server");
    s.set_read_timeout(Some(Duration::from_secs(600))).ok();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: text/html\r\n"
    );
    if !cookie.is_empty() {
        req.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("send the request");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read the answer");
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
    out
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Times `runs` GETs of `path`; panics unless each is a 200.
fn measure(addr: &str, cookie: &str, path: &str, runs: usize) -> Value {
    let mut ms = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let (status, _, body) = exchange(addr, "GET", path, cookie, "");
        let took = t.elapsed();
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        ms.push(took.as_secs_f64() * 1e3);
        bytes = body.len();
    }
    let mut sorted = ms.clone();
    sorted.sort_by(f64::total_cmp);
    let r = |x: f64| (x * 100.0).round() / 100.0;
    json!({"path": path, "bytes": bytes, "ms_min": r(sorted[0]), "ms_median": r(sorted[sorted.len() / 2]),
           "ms_max": r(sorted[sorted.len() - 1]), "ms": ms.iter().map(|x| r(*x)).collect::<Vec<_>>()})
}

/// `sanbao-bench desk`.
pub(crate) fn desk(
    scratch: &Scratch,
    seed: u64,
    events: usize,
    counties: u32,
    runs: usize,
    sanbao: Option<PathBuf>,
) -> (&'static str, Value, Value) {
    let bin = sanbao_bin(sanbao);
    let dir = scratch.log_dir();
    let params = json!({"events": events, "counties": counties, "runs": runs});
    let log = build_log(&dir, seed, counties, events);
    let tokens = dir.join("tokens.json");
    let token = make_token(&bin, &dir, &tokens);
    note("starting sanbao serve");
    let (server, ready) = start_server(&bin, &dir, &tokens);
    let addr = server.addr.clone();
    let (status, head, _) = exchange(
        &addr,
        "POST",
        "/desk/sign-in",
        "",
        &format!("token={token}&next=%2F"),
    );
    assert_eq!(status, 303, "sign-in");
    let cookie = header(&head, "set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let (_, plan_head, _) = exchange(&addr, "GET", "/desk/plans", &cookie, "");
    let plan = header(&plan_head, "location")
        .expect("the next month's plan")
        .to_string();
    let (_, _, overview) = exchange(&addr, "GET", "/", &cookie, "");
    let overview = String::from_utf8_lossy(&overview).into_owned();
    let county = overview
        .split("data-county=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a county card")
        .to_string();
    let pages = [
        "/".to_string(),
        format!("/desk/counties/{county}"),
        plan.clone(),
        "/desk/forecast".to_string(),
        "/desk/journal".to_string(),
        format!("/desk/journal?county={county}"),
        "/desk/forms/payroll_deposited".to_string(),
        "/desk/audit".to_string(),
    ];
    let mut measured = Vec::new();
    for p in &pages {
        note(format!("GET {p} × {runs}"));
        measured.push(measure(&addr, &cookie, p, runs));
    }
    note("the audit page's on-request work: verify, replay of the whole log");
    let on_request: Vec<Value> = [
        "/desk/audit?verify=1",
        &format!("/desk/audit?at_seq={events}"),
    ]
    .iter()
    .map(|p| measure(&addr, &cookie, p, 1))
    .collect();
    server.stop();
    let results = json!({"log": log, "serve_ready_s": ready.as_secs_f64(), "pages": measured, "on_request": on_request});
    ("desk", params, results)
}
