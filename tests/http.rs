//! The service through the real binary: `sanbao serve --listen 127.0.0.1:0` on a
//! temporary data dir, spoken to with a small HTTP/1.1 client over `TcpStream`
//! (requests with `Connection: close`; chunked responses decoded; SSE read
//! incrementally).
//!
//! Determinism: the port comes from the OS and is read from the server's
//! `listening on` line; every wait is on a line, a response or an exit status, with
//! generous timeouts; loops are bounded.

use crate::common;
use crate::wire;

use common::{code, run, stderr, stdout};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;
use wire::*;

// ---- the server process ---------------------------------------------------------------

/// [`wire::add_token`], also checking that the token is a single line.
fn add_token(dir: &Path, name: &str, role: &str) -> String {
    let t = wire::add_token(dir, name, role);
    assert!(!t.contains('\n'), "{t:?}");
    t
}

/// A data dir with one user per role, and the server on it.
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    officer: String,
    scheduler: String,
    auditor: String,
    server: Serve,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        Fixture::on(tmp, dir)
    }

    fn on(tmp: tempfile::TempDir, dir: PathBuf) -> Fixture {
        let RoleTokens {
            officer,
            scheduler,
            auditor,
        } = RoleTokens::add(&dir);
        let server = Serve::start(&dir, &[]);
        Fixture {
            _tmp: tmp,
            dir,
            officer,
            scheduler,
            auditor,
            server,
        }
    }

    fn addr(&self) -> &str {
        &self.server.addr
    }

    fn get(&self, path: &str, token: &str) -> Resp {
        get(self.addr(), path, token)
    }

    fn post(&self, path: &str, token: &str, body: &str) -> Resp {
        post(self.addr(), path, token, body, &[])
    }

    fn head(&self) -> u64 {
        let r = self.get("/healthz", "");
        assert_eq!(r.status, 200);
        r.json()["head_seq"].as_u64().unwrap()
    }
}

// ---- server-sent events ----------------------------------------------------------------

/// One Server-Sent Event.
#[derive(Debug, Clone)]
struct SseEvent {
    id: Option<u64>,
    event: Option<String>,
    data: String,
}

/// An open event stream, read incrementally (chunked transfer decoded).
struct Sse {
    reader: BufReader<TcpStream>,
    buf: Vec<u8>,
    ended: bool,
}

impl Sse {
    fn open(addr: &str, path: &str, token: &str, last_event_id: Option<u64>) -> Sse {
        let auth = bearer(token);
        let lei = last_event_id.map(|n| n.to_string()).unwrap_or_default();
        let mut h = vec![
            ("Authorization", auth.as_str()),
            ("Accept", "text/event-stream"),
        ];
        if last_event_id.is_some() {
            h.push(("Last-Event-ID", lei.as_str()));
        }
        let mut s = connect(addr).unwrap();
        s.write_all(&request_bytes("GET", path, &h, None)).unwrap();
        let mut reader = BufReader::new(s);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            assert!(
                reader.read_line(&mut line).unwrap() > 0,
                "stream closed before its head"
            );
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let (status, headers) = parse_head(&head);
        assert_eq!(status, 200, "{head}");
        assert!(headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type")
                && v.starts_with("text/event-stream")));
        assert!(headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")));
        Sse {
            reader,
            buf: Vec::new(),
            ended: false,
        }
    }

    /// Reads one chunk into the buffer; false at the end of the stream.
    fn fill(&mut self) -> bool {
        if self.ended {
            return false;
        }
        let mut size_line = String::new();
        if self.reader.read_line(&mut size_line).unwrap_or(0) == 0 {
            self.ended = true;
            return false;
        }
        let size = usize::from_str_radix(size_line.trim(), 16).unwrap();
        if size == 0 {
            self.ended = true;
            return false;
        }
        let mut data = vec![0u8; size + 2];
        self.reader.read_exact(&mut data).unwrap();
        self.buf.extend_from_slice(&data[..size]);
        true
    }

    fn line(&mut self) -> Option<String> {
        loop {
            if let Some(p) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=p).collect();
                return Some(String::from_utf8(line[..p].to_vec()).unwrap());
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// The next event (comments skipped), or `None` when the stream ends.
    fn next_event(&mut self) -> Option<SseEvent> {
        let mut ev = SseEvent {
            id: None,
            event: None,
            data: String::new(),
        };
        let mut any = false;
        loop {
            let line = self.line()?;
            if line.is_empty() {
                if any {
                    return Some(ev);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            any = true;
            let (field, value) = line.split_once(": ").unwrap_or((line.as_str(), ""));
            match field {
                "id" => ev.id = Some(value.parse().unwrap()),
                "event" => ev.event = Some(value.to_string()),
                "data" => ev.data.push_str(value),
                _ => {}
            }
        }
    }

    /// The next record event: its seq, checked against the record inside.
    fn next_record(&mut self) -> u64 {
        let e = self.next_event().expect("the stream ended early");
        assert_eq!(e.event, None, "expected a record, got {e:?}");
        let seq = e.id.expect("a record event carries its id");
        let rec: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(rec["seq"], seq);
        seq
    }
}

// ---- events ----------------------------------------------------------------------------

fn county(id: &str) -> Value {
    json!({"kind":"county_registered","county":id,"name":format!("{id} 县"),"registered_on":"2021-01-01","opening_treasury":"1000.00"})
}

fn revenue(id: &str, cents: u64) -> Value {
    json!({"kind":"revenue_collected","county":id,"amount":format!("{}.{:02}", cents / 100, cents % 100),"collected_on":"2021-01-05"})
}

fn append(f: &Fixture, v: &Value) -> Vec<Value> {
    let r = f.post("/v1/events", &f.officer, &v.to_string());
    assert_eq!(r.status, 201, "{}", r.text());
    r.json().as_array().unwrap().clone()
}

fn assert_error(r: &Resp, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{:?}",
        r.headers
    );
    let v = r.json();
    let e = v["error"]
        .as_object()
        .unwrap_or_else(|| panic!("not an error object: {v}"));
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    assert_eq!(e["code"], code, "{v}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    for k in e.keys() {
        assert!(
            ["code", "message", "index", "field"].contains(&k.as_str()),
            "{v}"
        );
    }
    v["error"].clone()
}

const READ_ROUTES: &[&str] = &[
    "/v1/events",
    "/v1/positions",
    "/v1/monitor",
    "/v1/plans/2021-02",
    "/v1/forecast?from=2021-02",
    "/v1/verify",
    "/v1/replay",
];

// ---- tests -----------------------------------------------------------------------------

#[test]
fn serve_refuses_to_start_without_tokens_and_token_add_stores_only_a_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let o = run(&dir, &["serve", "--listen", "127.0.0.1:0"], "");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.starts_with("error:") && e.contains("token add") && e.contains("tokens.json"),
        "{e}"
    );

    let o = run(&dir, &["token", "add", "--name", "x", "--role", "root"], "");
    assert_eq!(code(&o), 2);
    let t = add_token(&dir, "li.wei", "officer");
    let o = run(
        &dir,
        &["token", "add", "--name", "li.wei", "--role", "auditor"],
        "",
    );
    assert_eq!(code(&o), 2, "a second li.wei is refused");
    let file = std::fs::read_to_string(dir.join("tokens.json")).unwrap();
    assert!(
        !file.contains(&t) && !file.contains(&t[4..]),
        "the token itself is never stored"
    );
    let v: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(v["users"][0]["name"], "li.wei");
    assert_eq!(v["users"][0]["role"], "officer");
    assert_eq!(v["users"][0]["token_sha256"].as_str().unwrap().len(), 64);

    // --tokens elsewhere: serve without it refuses, with it starts.
    let other = tmp.path().join("elsewhere.json");
    let o = run(
        &dir,
        &[
            "token",
            "add",
            "--name",
            "a",
            "--role",
            "auditor",
            "--tokens",
            other.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code(&o), 0);
    let o = run(
        &dir,
        &[
            "serve",
            "--tokens",
            tmp.path().join("none.json").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--tokens"), "{}", stderr(&o));
}

#[test]
fn each_role_is_allowed_and_refused_where_it_should_be() {
    let f = Fixture::new();
    // Officer: appends, reads; may not append plan_issued nor issue.
    append(
        &f,
        &json!([county("a"), {"kind":"city_funds_received","fund":"general","amount":"500.00","received_on":"2021-01-02"}]),
    );
    for route in READ_ROUTES {
        for token in [&f.officer, &f.scheduler, &f.auditor] {
            let r = f.get(route, token);
            assert_eq!(r.status, 200, "{route}: {}", r.text());
        }
    }
    let plan = f.get("/v1/plans/2021-02", &f.scheduler).json();
    let issue = json!({"based_on_seq": plan["based_on_seq"], "plan_sha256": plan["plan_sha256"], "issued_on": "2021-01-31"});
    let as_event = json!({"kind":"plan_issued","month":"2021-02","based_on_seq": plan["based_on_seq"], "plan_sha256": plan["plan_sha256"], "issued_on":"2021-01-31"});

    let r = f.post("/v1/events", &f.officer, &as_event.to_string());
    let e = assert_error(&r, 403, "forbidden");
    assert_eq!(e["index"], 0);
    let r = f.post(
        "/v1/events",
        &f.officer,
        &json!([revenue("a", 100), as_event]).to_string(),
    );
    assert_eq!(assert_error(&r, 403, "forbidden")["index"], 1);
    assert_error(
        &f.post("/v1/plans/2021-02/issue", &f.officer, &issue.to_string()),
        403,
        "forbidden",
    );

    // Scheduler: issues plans (both ways), may not append other events.
    assert_error(
        &f.post("/v1/events", &f.scheduler, &revenue("a", 100).to_string()),
        403,
        "forbidden",
    );
    let r = f.post("/v1/plans/2021-02/issue", &f.scheduler, &issue.to_string());
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()[0]["seq"], 3);
    let r = f.post("/v1/events", &f.scheduler, &as_event.to_string());
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()[0]["seq"], 4);
    // issued_on defaults to today (UTC).
    let plan = f.get("/v1/plans/2021-03", &f.scheduler).json();
    let r = f.post(
        "/v1/plans/2021-03/issue",
        &f.scheduler,
        &json!({"based_on_seq": plan["based_on_seq"], "plan_sha256": plan["plan_sha256"]})
            .to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let rec = f.get("/v1/events?from=5", &f.auditor).json();
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(rec["records"][0]["event"]["issued_on"], today);

    // Auditor: reads only.
    assert_error(
        &f.post("/v1/events", &f.auditor, &revenue("a", 100).to_string()),
        403,
        "forbidden",
    );
    assert_error(
        &f.post("/v1/plans/2021-02/issue", &f.auditor, &issue.to_string()),
        403,
        "forbidden",
    );
    let replay = f.get("/v1/replay", &f.auditor).json();
    let plans = replay["plans"].as_array().unwrap();
    assert_eq!(plans.len(), 3);
    assert!(plans.iter().all(|p| p["reproduced"] == true), "{replay}");
    assert_eq!(f.head(), 5, "refused requests wrote nothing");
    for token in [&f.officer, &f.scheduler, &f.auditor] {
        let mut sse = Sse::open(f.addr(), "/v1/events/stream?from=5", token, None);
        assert_eq!(sse.next_record(), 5);
    }
}

#[test]
fn a_missing_or_wrong_token_is_401_and_health_and_openapi_need_none() {
    let f = Fixture::new();
    for route in READ_ROUTES.iter().chain(["/v1/events/stream"].iter()) {
        let r = get(f.addr(), route, "");
        let e = assert_error(&r, 401, "unauthorized");
        assert!(
            r.header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer")),
            "{e}"
        );
        assert_error(&get(f.addr(), route, "sbt_0000"), 401, "unauthorized");
    }
    for auth in [
        "Basic bGk6d2Vp",
        "Bearer",
        "Bearer  ",
        "token",
        &format!("Bearer {}x", f.officer),
    ] {
        let r = request(
            f.addr(),
            "GET",
            "/v1/monitor",
            &[("Authorization", auth)],
            None,
        );
        assert_error(&r, 401, "unauthorized");
    }
    // A POST without a token is refused before anything else, and writes nothing.
    let r = request(
        f.addr(),
        "POST",
        "/v1/events",
        &[("Content-Type", "application/json")],
        Some(county("a").to_string().as_bytes()),
    );
    assert_error(&r, 401, "unauthorized");
    assert_eq!(get(f.addr(), "/healthz", "").status, 200);
    assert_eq!(get(f.addr(), "/openapi.json", "").status, 200);
    assert_eq!(f.head(), 0);
    // A user added while the service runs is recognised at once.
    let late = add_token(&f.dir, "late.comer", "auditor");
    assert_eq!(f.get("/v1/monitor", &late).status, 200);
    // The token never reaches the logs.
    assert!(
        !f.server.log().contains(&f.officer[4..]),
        "a token was logged"
    );
    assert!(
        f.server.log().contains("route=/v1/monitor"),
        "{}",
        f.server.log()
    );
}

#[test]
fn idempotent_retries_answer_the_original_record() {
    let f = Fixture::new();
    append(&f, &county("a"));
    let key = [("Idempotency-Key", "dispatch-2021-0001")];
    let first = post(
        f.addr(),
        "/v1/events",
        &f.officer,
        &revenue("a", 1230).to_string(),
        &key,
    );
    assert_eq!(first.status, 201, "{}", first.text());
    let a = first.json()[0].clone();
    assert_eq!(
        (a["duplicate"].clone(), a["seq"].clone()),
        (json!(false), json!(2))
    );
    // The same event, written differently ("12.3" is "12.30"), even with a stale
    // expect_seq (idempotency is judged first, §8.11).
    let again = json!({"kind":"revenue_collected","county":"a","amount":"12.3","collected_on":"2021-01-05"});
    let r = post(
        f.addr(),
        "/v1/events?expect_seq=0",
        &f.officer,
        &again.to_string(),
        &key,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json(),
        json!([{"duplicate": true, "hash": a["hash"], "seq": 2}])
    );
    // Another event under the same key is a conflict.
    let r = post(
        f.addr(),
        "/v1/events",
        &f.officer,
        &revenue("a", 999).to_string(),
        &key,
    );
    assert_error(&r, 409, "conflict");
    // The header needs a single event without a key of its own.
    let r = post(
        f.addr(),
        "/v1/events",
        &f.officer,
        &json!([revenue("a", 1)]).to_string(),
        &key,
    );
    assert_eq!(
        assert_error(&r, 400, "bad_request")["field"],
        "Idempotency-Key"
    );
    let mut own = revenue("a", 1);
    own["idempotency_key"] = json!("own");
    let r = post(f.addr(), "/v1/events", &f.officer, &own.to_string(), &key);
    assert_error(&r, 400, "bad_request");
    let r = post(
        f.addr(),
        "/v1/events",
        &f.officer,
        &revenue("a", 1).to_string(),
        &[("Idempotency-Key", "")],
    );
    assert_error(&r, 400, "bad_request");
    // A keyed batch retried whole answers duplicates; mixed with a new event, 409.
    let mut b1 = revenue("a", 5);
    b1["idempotency_key"] = json!("b-1");
    let mut b2 = revenue("a", 6);
    b2["idempotency_key"] = json!("b-2");
    let acks = append(&f, &json!([b1, b2]));
    let retry = append(&f, &json!([b1, b2]));
    assert_eq!(
        retry.iter().map(|a| a["seq"].clone()).collect::<Vec<_>>(),
        acks.iter().map(|a| a["seq"].clone()).collect::<Vec<_>>()
    );
    assert!(retry.iter().all(|a| a["duplicate"] == true));
    let r = f.post(
        "/v1/events",
        &f.officer,
        &json!([b1, revenue("a", 7)]).to_string(),
    );
    assert_error(&r, 409, "conflict");
    assert_eq!(f.head(), 4);
}

#[test]
fn concurrent_appends_from_many_clients_get_contiguous_seqs() {
    let f = Fixture::new();
    append(&f, &county("a"));
    const CLIENTS: u64 = 8;
    const REQUESTS: u64 = 25;
    let addr = f.addr().to_string();
    let token = f.officer.clone();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (addr, token) = (addr.clone(), token.clone());
            std::thread::spawn(move || {
                let mut seqs = Vec::new();
                for i in 0..REQUESTS {
                    // Every third request is a batch of three.
                    let body = if i % 3 == 0 {
                        json!([
                            revenue("a", c * 1000 + i + 1),
                            revenue("a", 1),
                            revenue("a", 2)
                        ])
                    } else {
                        revenue("a", c * 1000 + i + 1)
                    };
                    let r = post(&addr, "/v1/events", &token, &body.to_string(), &[]);
                    assert_eq!(r.status, 201, "{}", r.text());
                    let acks: Vec<u64> = r
                        .json()
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a["seq"].as_u64().unwrap())
                        .collect();
                    assert!(
                        acks.windows(2).all(|w| w[1] == w[0] + 1),
                        "a batch is contiguous: {acks:?}"
                    );
                    seqs.extend(acks);
                }
                seqs
            })
        })
        .collect();
    let mut all: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    let per_client = REQUESTS + 2 * REQUESTS.div_ceil(3);
    let expected: Vec<u64> = (2..2 + CLIENTS * per_client).collect();
    assert_eq!(all, expected, "every seq once, no gap");
    // The stored chain agrees.
    let page = f.get("/v1/events?from=1&limit=10000", &f.auditor).json();
    let recs = page["records"].as_array().unwrap();
    assert_eq!(recs.len() as u64, 1 + CLIENTS * per_client);
    assert_eq!(page["next"], Value::Null);
    for w in recs.windows(2) {
        assert_eq!(w[1]["prev_hash"], w[0]["hash"]);
        assert_eq!(
            w[1]["seq"].as_u64().unwrap(),
            w[0]["seq"].as_u64().unwrap() + 1
        );
    }
    assert_eq!(f.get("/v1/verify", &f.auditor).json()["ok"], true);
}

#[test]
fn events_pages_include_from_and_say_where_the_next_begins() {
    let f = Fixture::new();
    append(
        &f,
        &json!([
            county("a"),
            revenue("a", 1),
            revenue("a", 2),
            revenue("a", 3),
            revenue("a", 4)
        ]),
    );
    let p = f.get("/v1/events?from=2&limit=3", &f.auditor).json();
    let seqs: Vec<u64> = p["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!((seqs, p["next"].clone()), (vec![2, 3, 4], json!(5)));
    let p = f.get("/v1/events?from=5&limit=3", &f.auditor).json();
    assert_eq!(
        (p["records"].as_array().unwrap().len(), p["next"].clone()),
        (1, Value::Null)
    );
    let p = f.get("/v1/events?from=9", &f.auditor).json();
    assert_eq!(p, json!({"records": [], "next": null}));
    for bad in [
        "limit=0",
        "limit=10001",
        "from=x",
        "from=-1",
        "limit=1&limit=2",
        "form=1",
    ] {
        assert_error(
            &f.get(&format!("/v1/events?{bad}"), &f.auditor),
            400,
            "bad_request",
        );
    }
    assert_eq!(f.get("/v1/events?limit=10000", &f.auditor).status, 200);
}

#[test]
fn an_sse_client_connecting_mid_stream_gets_history_then_live_without_gap_or_duplicate() {
    let f = Fixture::new();
    append(&f, &county("a"));
    const REQUESTS: u64 = 60;
    let total = 1 + REQUESTS * 2;
    let addr = f.addr().to_string();
    let token = f.officer.clone();
    let (progress_tx, progress_rx) = mpsc::channel();
    let writer = std::thread::spawn(move || {
        for i in 0..REQUESTS {
            let r = post(
                &addr,
                "/v1/events",
                &token,
                &json!([revenue("a", i + 1), revenue("a", 1)]).to_string(),
                &[],
            );
            assert_eq!(r.status, 201, "{}", r.text());
            let _ = progress_tx.send(i);
        }
    });
    // Connect while appends are flowing.
    for _ in 0..10 {
        progress_rx.recv_timeout(IO_TIMEOUT).unwrap();
    }
    let mut sse = Sse::open(f.addr(), "/v1/events/stream?from=1", &f.auditor, None);
    let mut seen = Vec::new();
    while seen.len() < total as usize {
        seen.push(sse.next_record());
    }
    writer.join().unwrap();
    assert_eq!(seen, (1..=total).collect::<Vec<_>>());
    // Live after the writer stopped: one more record arrives, nothing else.
    append(&f, &revenue("a", 77));
    assert_eq!(sse.next_record(), total + 1);
}

#[test]
fn an_sse_client_resumes_with_last_event_id() {
    let f = Fixture::new();
    append(
        &f,
        &json!([
            county("a"),
            revenue("a", 1),
            revenue("a", 2),
            revenue("a", 3),
            revenue("a", 4),
            revenue("a", 5)
        ]),
    );
    let mut sse = Sse::open(f.addr(), "/v1/events/stream?from=2", &f.auditor, None);
    assert_eq!(
        (sse.next_record(), sse.next_record(), sse.next_record()),
        (2, 3, 4)
    );
    drop(sse); // disconnect
    append(&f, &json!([revenue("a", 6), revenue("a", 7)]));
    // Last-Event-ID wins over from.
    let mut sse = Sse::open(f.addr(), "/v1/events/stream?from=1", &f.officer, Some(4));
    let got: Vec<u64> = (0..4).map(|_| sse.next_record()).collect();
    assert_eq!(got, vec![5, 6, 7, 8]);
    append(&f, &revenue("a", 8));
    assert_eq!(sse.next_record(), 9);
    // A bad Last-Event-ID is a 400.
    let r = request(
        f.addr(),
        "GET",
        "/v1/events/stream",
        &[
            ("Authorization", &bearer(&f.auditor)),
            ("Last-Event-ID", "x"),
        ],
        None,
    );
    assert_eq!(
        assert_error(&r, 400, "bad_request")["field"],
        "Last-Event-ID"
    );
}

#[test]
fn a_client_too_slow_for_the_live_log_is_told_disconnected_and_resumes() {
    let f = Fixture::new();
    append(&f, &county("a"));
    let mut sse = Sse::open(f.addr(), "/v1/events/stream", &f.auditor, None);
    assert_eq!(sse.next_record(), 1);
    // The client stops reading while writers go on: they are never held up.
    const BATCHES: u64 = 10;
    let started = Instant::now();
    for b in 0..BATCHES {
        let batch: Vec<Value> = (0..10_000)
            .map(|i| revenue("a", b * 10_000 + i + 1))
            .collect();
        let r = f.post("/v1/events", &f.officer, &Value::Array(batch).to_string());
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let head = 1 + BATCHES * 10_000;
    eprintln!(
        "appended {} events in {:?} with a stalled SSE client",
        BATCHES * 10_000,
        started.elapsed()
    );
    // It reads on: contiguous records, then a `lagged` event, then the end.
    let mut last = 1;
    let lagged = loop {
        let e = sse
            .next_event()
            .expect("the stream must say it lagged before it ends");
        match e.event.as_deref() {
            None => {
                assert_eq!(e.id, Some(last + 1), "no gap");
                last += 1;
            }
            Some("lagged") => break e,
            Some(other) => panic!("unexpected event {other}"),
        }
    };
    assert!(last < head, "a stalled client cannot have kept up");
    let v: Value = serde_json::from_str(&lagged.data).unwrap();
    assert_eq!(v["error"]["code"], "lagged");
    assert_eq!(v["error"]["last_event_id"], last);
    assert!(sse.next_event().is_none(), "disconnected after the notice");
    // Resume from the last id: the rest, in order, up to the head.
    let mut sse = Sse::open(f.addr(), "/v1/events/stream", &f.auditor, Some(last));
    for want in last + 1..=head {
        assert_eq!(sse.next_record(), want);
    }
}

#[test]
fn every_error_of_section_7_is_provoked_and_nothing_is_written() {
    let f = Fixture::new();
    append(
        &f,
        &json!([county("a"), {"kind":"city_funds_received","fund":"general","amount":"500.00","received_on":"2021-01-02"}]),
    );
    let (o, a) = (&f.officer, &f.auditor);
    // 400 malformed JSON / not UTF-8 / bad parameters.
    for body in ["{", "", "{\"kind\":}", "[1,", "{} {}", "nul"] {
        assert_error(&f.post("/v1/events", o, body), 400, "malformed_json");
    }
    let deep = "[".repeat(10_000);
    assert_error(&f.post("/v1/events", o, &deep), 400, "malformed_json");
    let r = request(
        f.addr(),
        "POST",
        "/v1/events",
        &[
            ("Authorization", &bearer(o)),
            ("Content-Type", "application/json"),
        ],
        Some(b"\xff\xfe"),
    );
    assert_error(&r, 400, "malformed_json");
    for (path, field) in [
        ("/v1/positions?at_seq=x", "at_seq"),
        ("/v1/positions?at_seq=3", "at_seq"),
        ("/v1/monitor?as_of=2021-02-30", "as_of"),
        ("/v1/positions?county=Not+An+Id", "county"),
        ("/v1/forecast", "from"),
        ("/v1/forecast?from=2021-02&months=0", "months"),
        ("/v1/plans/2021-13", "month"),
        ("/v1/plans/%ZZ", "month"),
        ("/v1/replay?at_seq=99", "at_seq"),
        ("/v1/verify?x=1", "x"),
        ("/v1/monitor?asof=2021-01-01", "asof"),
    ] {
        let e = assert_error(&f.get(path, a), 400, "bad_request");
        assert_eq!(e["field"], field, "{path}");
    }
    assert_error(
        &post(
            f.addr(),
            "/v1/events?expect_seq=-1",
            o,
            &revenue("a", 1).to_string(),
            &[],
        ),
        400,
        "bad_request",
    );
    // 401, 403.
    assert_error(&get(f.addr(), "/v1/positions", "nope"), 401, "unauthorized");
    assert_error(
        &f.post("/v1/events", a, &revenue("a", 1).to_string()),
        403,
        "forbidden",
    );
    // 404: unknown route, unknown county (or not yet registered on as_of).
    assert_error(&f.get("/v1/nothing", a), 404, "not_found");
    assert_error(&get(f.addr(), "/", ""), 404, "not_found");
    assert_error(&f.get("/v1/positions?county=zz", a), 404, "not_found");
    assert_error(
        &f.get("/v1/positions?county=a&as_of=2020-12-31", a),
        404,
        "not_found",
    );
    assert_eq!(
        f.get("/v1/positions?county=a", a).json()["counties"][0]["county"],
        "a"
    );
    // A known path with another method: 405, with Allow.
    let r = request(
        f.addr(),
        "DELETE",
        "/v1/events",
        &[("Authorization", &bearer(o))],
        None,
    );
    assert_error(&r, 405, "method_not_allowed");
    assert!(r.header("allow").is_some_and(|h| h.contains("POST")));
    // 409: the expected head moved.
    let r = f.post("/v1/events?expect_seq=1", o, &revenue("a", 1).to_string());
    assert_error(&r, 409, "conflict");
    // 413: a body over 1 MiB (refused on its Content-Length), a batch over 10,000.
    let huge = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {o}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        2 << 20
    );
    let r = exchange(f.addr(), huge.as_bytes()).unwrap();
    assert_error(&r, 413, "too_large");
    let over = Value::Array((0..10_001).map(|_| json!({"kind":"x"})).collect());
    assert_error(
        &f.post("/v1/events", o, &over.to_string()),
        413,
        "too_large",
    );
    // 415: not JSON.
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let auth = bearer(o);
        let mut h = vec![("Authorization", auth.as_str())];
        if let Some(c) = ct {
            h.push(("Content-Type", c));
        }
        let r = request(
            f.addr(),
            "POST",
            "/v1/events",
            &h,
            Some(revenue("a", 1).to_string().as_bytes()),
        );
        assert_error(&r, 415, "unsupported_media_type");
    }
    // 422: invalid events, naming the index and the field.
    let e = assert_error(&f.post("/v1/events", o, &json!([revenue("a", 1), {"kind":"revenue_collected","county":"a","amount":12,"collected_on":"2021-01-05"}]).to_string()), 422, "invalid_event");
    assert_eq!(
        (e["index"].clone(), e["field"].clone()),
        (json!(1), json!("amount"))
    );
    let e = assert_error(&f.post("/v1/events", o, &json!({"kind":"expenditure_paid","county":"a","amount":"5000.00","paid_on":"2021-01-06","category":"other"}).to_string()), 422, "invalid_event");
    assert_eq!(e["index"], 0, "rule 1: no account goes negative");
    for body in [
        "[]",
        "null",
        "\"x\"",
        "{\"kind\":\"a\",\"kind\":\"b\"}",
        "{\"kind\":\"nope\"}",
    ] {
        assert_error(&f.post("/v1/events", o, body), 422, "invalid_event");
    }
    let e = assert_error(
        &f.post(
            "/v1/plans/2021-02/issue",
            &f.scheduler,
            &json!({"based_on_seq": 2, "plan_sha256": "0".repeat(64)}).to_string(),
        ),
        422,
        "invalid_event",
    );
    assert!(e["message"].as_str().unwrap().contains("plan"), "{e}");
    assert_error(
        &f.post(
            "/v1/plans/2021-02/issue",
            &f.scheduler,
            &json!({"based_on_seq": 2, "plan_sha256": "0".repeat(64), "month": "2021-03"})
                .to_string(),
        ),
        422,
        "invalid_event",
    );
    // None of it wrote anything, and no input got a 5xx.
    assert_eq!(f.head(), 2);
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: \xff\r\nConnection: close\r\n\r\n",
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\nConnection: close\r\n\r\n",
        b"GET /v1/%zz%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ] {
        if let Ok(r) = exchange(f.addr(), raw) {
            assert!(r.status < 500, "{r:?}");
        }
    }
    assert_eq!(f.head(), 2);
    assert_eq!(f.get("/v1/verify", a).json()["ok"], true);
}

#[test]
fn mutated_bodies_never_get_a_5xx_and_refused_ones_write_nothing() {
    let f = Fixture::new();
    append(&f, &county("a"));
    let base = json!([revenue("a", 150), {"kind":"allocation_notified","county":"a","fund":"pre_notified","fiscal_year":2021,"program":"p","amount":"30","notified_on":"2021-01-05","schedule":[{"month":"2021-03","amount":"10"},{"month":"2021-01","amount":"20"}]}]).to_string().into_bytes();
    let alphabet = b"{}[]\",:0123456789.-eE nulltrue\\\x00\xff\xe4\xb8\x89";
    let mut rng: u64 = 0x5eed_0b7b_61c5;
    let mut next = || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) as usize
    };
    let auth = bearer(&f.officer);
    for _ in 0..300 {
        let mut body = base.clone();
        for _ in 0..1 + next() % 4 {
            let at = next() % body.len();
            match next() % 3 {
                0 => body[at] = alphabet[next() % alphabet.len()],
                1 => {
                    body.remove(at);
                }
                _ => body.insert(at, alphabet[next() % alphabet.len()]),
            }
        }
        let before = f.head();
        let r = request(
            f.addr(),
            "POST",
            "/v1/events",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            Some(&body),
        );
        assert!(
            [201, 400, 409, 413, 422].contains(&r.status),
            "{} for {:?}: {}",
            r.status,
            String::from_utf8_lossy(&body),
            r.text()
        );
        if r.status != 201 {
            assert_error(&r, r.status, r.json()["error"]["code"].as_str().unwrap());
            assert_eq!(f.head(), before, "a refused body wrote nothing");
        }
    }
    assert_eq!(f.get("/v1/verify", &f.auditor).json()["ok"], true);
}

#[test]
fn queries_answer_what_the_command_line_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let o = run(&dir, &["demo"], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let cli = |args: &[&str]| -> Value {
        let o = run(&dir, args, "");
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        serde_json::from_str(stdout(&o).trim()).unwrap()
    };
    let pos = cli(&["position", "--json"]);
    let as_of = pos["as_of"].as_str().unwrap().to_string();
    let head = pos["at_seq"].as_u64().unwrap();
    let mid = (head / 2).to_string();
    let month = {
        let (y, m) = (
            as_of[..4].parse::<i32>().unwrap(),
            as_of[5..7].parse::<u32>().unwrap(),
        );
        if m == 12 {
            format!("{}-01", y + 1)
        } else {
            format!("{y}-{:02}", m + 1)
        }
    };
    let county = pos["counties"][0]["county"].as_str().unwrap().to_string();
    let cases: Vec<(String, Value)> = vec![
        ("/v1/positions".into(), pos.clone()),
        (
            format!("/v1/positions?at_seq={mid}&as_of=2021-06-30"),
            cli(&[
                "position",
                "--json",
                "--at-seq",
                &mid,
                "--as-of",
                "2021-06-30",
            ]),
        ),
        (
            format!("/v1/positions?county={county}"),
            cli(&["position", "--json", "--county", &county]),
        ),
        ("/v1/monitor".into(), cli(&["monitor", "--json"])),
        (
            format!("/v1/monitor?at_seq={mid}"),
            cli(&["monitor", "--json", "--at-seq", &mid]),
        ),
        (
            format!("/v1/plans/{month}"),
            cli(&["plan", "--json", "--month", &month]),
        ),
        (
            format!("/v1/plans/2021-07?at_seq={mid}"),
            cli(&["plan", "--json", "--month", "2021-07", "--at-seq", &mid]),
        ),
        (
            format!("/v1/forecast?from={month}"),
            cli(&["forecast", "--json", "--from", &month]),
        ),
        (
            format!("/v1/forecast?from=2021-07&months=5&at_seq={mid}"),
            cli(&[
                "forecast", "--json", "--from", "2021-07", "--months", "5", "--at-seq", &mid,
            ]),
        ),
        ("/v1/verify".into(), cli(&["verify", "--json"])),
        ("/v1/replay".into(), cli(&["replay", "--json"])),
        (
            format!("/v1/replay?at_seq={mid}&as_of=2021-03-31"),
            cli(&[
                "replay",
                "--json",
                "--at-seq",
                &mid,
                "--as-of",
                "2021-03-31",
            ]),
        ),
    ];
    let f = Fixture::on(tmp, dir.clone());
    for (path, want) in &cases {
        let r = f.get(path, &f.auditor);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(&r.json(), want, "{path}");
    }
}

#[test]
fn sigterm_with_appends_in_flight_loses_no_acknowledged_record_and_exits_0() {
    let mut f = Fixture::new();
    append(&f, &county("a"));
    let addr = f.addr().to_string();
    let (ack_tx, ack_rx) = mpsc::channel::<(u64, String)>();
    let clients: Vec<_> = (0..6u64)
        .map(|c| {
            let (addr, token, tx) = (addr.clone(), f.officer.clone(), ack_tx.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for i in 0..2_000u64 {
                    let body =
                        json!([revenue("a", c * 100_000 + i + 1), revenue("a", 1)]).to_string();
                    let raw = request_bytes(
                        "POST",
                        "/v1/events",
                        &[
                            ("Authorization", &bearer(&token)),
                            ("Content-Type", "application/json"),
                        ],
                        Some(body.as_bytes()),
                    );
                    match exchange(&addr, &raw) {
                        Ok(r) if r.status == 201 => {
                            for a in r.json().as_array().unwrap() {
                                let rec = (
                                    a["seq"].as_u64().unwrap(),
                                    a["hash"].as_str().unwrap().to_string(),
                                );
                                let _ = tx.send(rec.clone());
                                acked.push(rec);
                            }
                        }
                        Ok(r) => assert!(r.status < 500 || r.status == 503, "{r:?}"),
                        Err(_) => break, // the server stopped accepting
                    }
                }
                acked
            })
        })
        .collect();
    drop(ack_tx);
    for _ in 0..100 {
        ack_rx
            .recv_timeout(IO_TIMEOUT)
            .expect("appends are being acknowledged");
    }
    let mut sse = Sse::open(f.addr(), "/v1/events/stream", &f.auditor, None);
    let status = f.server.terminate();
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        f.server.log()
    );
    let acked: BTreeMap<u64, String> = clients
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(acked.len() >= 100);
    // The stream was closed by the shutdown (bounded: it cannot outlive the process).
    let mut n = 0;
    while sse.next_event().is_some() {
        n += 1;
        assert!(n < 1_000_000);
    }
    // Every acknowledged record is in the log, with its hash; the chain verifies.
    let o = run(&f.dir, &["export"], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let stored: BTreeMap<u64, String> = stdout(&o)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["seq"].as_u64().unwrap(),
                v["hash"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (seq, hash) in &acked {
        assert_eq!(
            stored.get(seq),
            Some(hash),
            "acknowledged record {seq} is lost"
        );
    }
    let seqs: BTreeSet<u64> = stored.keys().copied().collect();
    assert_eq!(seqs, (1..=stored.len() as u64).collect());
    let o = run(&f.dir, &["verify", "--json"], "");
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    eprintln!(
        "{} records acknowledged around SIGTERM; the log holds {}",
        acked.len(),
        stored.len()
    );
    if std::env::var_os("SANBAO_SHOW_LOG").is_some() {
        eprintln!("{}", f.server.log());
    }
    assert!(f.server.log().contains("stopping"), "{}", f.server.log());
}

#[test]
fn sigint_closes_streams_and_idle_connections_and_exits_0() {
    let mut f = Fixture::new();
    append(&f, &county("a"));
    let mut sse = Sse::open(f.addr(), "/v1/events/stream", &f.officer, None);
    assert_eq!(sse.next_record(), 1);
    // An idle keep-alive connection does not hold the shutdown up either.
    let mut idle = connect(f.addr()).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let status = f.server.signal("-INT");
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        f.server.log()
    );
    assert!(sse.next_event().is_none(), "the stream ends at shutdown");
    assert!(f.server.log().contains("SIGINT"));
}

/// A supervisor that stops `serve` the moment it reads "listening on" stops it
/// cleanly: the handlers are in place before the line is printed (a SIGTERM that came
/// first used to kill the process outright). Repeated, since the window was narrow.
#[test]
fn sigterm_right_after_the_listening_line_is_a_clean_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    RoleTokens::add(&dir);
    for round in 0..5 {
        let mut server = Serve::start(&dir, &[]);
        let status = server.terminate();
        assert_eq!(status.code(), Some(0), "round {round}: {}", server.log());
        assert!(
            server.log().contains("stopping"),
            "round {round}: {}",
            server.log()
        );
    }
}
