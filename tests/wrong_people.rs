//! Wrong people: every route but `/healthz`, `/readyz` and `/openapi.json` refuses a request
//! without a valid token (401); each role is refused (403) everything beyond it, in a
//! table over every route of the OpenAPI route table × every kind of caller; refused
//! requests write nothing; the tokens file holds only hashes (mode 0600); no token
//! reaches the logs even at `RUST_LOG=trace`; `serve` binds to loopback by default.

use crate::wire;

use clap::Parser;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use wire::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Nobody,
    UnknownToken,
    NearMiss,
    WrongScheme,
    Officer,
    Scheduler,
    Auditor,
}

const CALLERS: [Caller; 7] = [
    Caller::Nobody,
    Caller::UnknownToken,
    Caller::NearMiss,
    Caller::WrongScheme,
    Caller::Officer,
    Caller::Scheduler,
    Caller::Auditor,
];

struct Tokens {
    officer: String,
    scheduler: String,
    auditor: String,
}

impl Tokens {
    fn auth(&self, c: Caller) -> Option<String> {
        match c {
            Caller::Nobody => None,
            Caller::UnknownToken => Some(format!("Bearer sbt_{}", "0".repeat(64))),
            Caller::NearMiss => Some(format!("Bearer {}", flip_last(&self.officer))),
            Caller::WrongScheme => Some(format!("Basic {}", self.officer)),
            Caller::Officer => Some(format!("Bearer {}", self.officer)),
            Caller::Scheduler => Some(format!("Bearer {}", self.scheduler)),
            Caller::Auditor => Some(format!("Bearer {}", self.auditor)),
        }
    }
}

/// The token with its last hex digit changed: one character from a valid token.
fn flip_last(t: &str) -> String {
    let mut s = t.to_string();
    let last = s.pop().unwrap();
    s.push(if last == '0' { '1' } else { '0' });
    s
}

/// What a route answers a caller: refused with 401 or 403, or let through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Unauthorized,
    Forbidden,
    Allowed,
}

/// One row of the table: a request on a route, and who may make it.
struct Case {
    method: &'static str,
    /// The route as the OpenAPI document names it.
    route: &'static str,
    path: String,
    body: Option<String>,
    /// Roles let through (the others with a valid token get 403).
    allowed: &'static [Caller],
    /// Needs no token at all.
    public: bool,
}

const READERS: &[Caller] = &[Caller::Officer, Caller::Scheduler, Caller::Auditor];

fn cases(plan: &Value) -> Vec<Case> {
    let issue = json!({"based_on_seq": plan["based_on_seq"], "plan_sha256": plan["plan_sha256"], "issued_on": "2021-01-31"});
    let plan_event = json!({"kind":"plan_issued","month":"2021-02","based_on_seq": plan["based_on_seq"], "plan_sha256": plan["plan_sha256"], "issued_on":"2021-01-31"});
    let revenue = json!({"kind":"revenue_collected","county":"a","amount":"1.00","collected_on":"2021-01-05"});
    let get = |route: &'static str, path: &str, allowed: &'static [Caller], public| Case {
        method: "GET",
        route,
        path: path.to_string(),
        body: None,
        allowed,
        public,
    };
    vec![
        get("/healthz", "/healthz", READERS, true),
        get("/openapi.json", "/openapi.json", READERS, true),
        get("/readyz", "/readyz", READERS, true),
        get("/metrics", "/metrics", &[Caller::Auditor], false),
        get("/v1/events", "/v1/events", READERS, false),
        get("/v1/events/stream", "/v1/events/stream", READERS, false),
        get("/v1/positions", "/v1/positions", READERS, false),
        get("/v1/monitor", "/v1/monitor", READERS, false),
        get("/v1/plans/{month}", "/v1/plans/2021-02", READERS, false),
        get(
            "/v1/plans/{month}/status",
            "/v1/plans/2021-02/status",
            READERS,
            false,
        ),
        get("/v1/forecast", "/v1/forecast?from=2021-02", READERS, false),
        get(
            "/v1/review/budget",
            "/v1/review/budget?fiscal_year=2021",
            READERS,
            false,
        ),
        // Record 3 is the setup's policy_proposed (issue 19).
        get("/v1/assess", "/v1/assess?proposal=3", READERS, false),
        get("/v1/scorecard", "/v1/scorecard?fiscal_year=2021", READERS, false),
        get("/v1/verify", "/v1/verify", READERS, false),
        get("/v1/replay", "/v1/replay", READERS, false),
        Case {
            method: "POST",
            route: "/v1/events",
            path: "/v1/events".into(),
            body: Some(revenue.to_string()),
            allowed: &[Caller::Officer],
            public: false,
        },
        Case {
            method: "POST",
            route: "/v1/events",
            path: "/v1/events".into(),
            body: Some(plan_event.to_string()),
            allowed: &[Caller::Scheduler],
            public: false,
        },
        // Issue 19: an officer files a response plan; a scheduler decides an assessment.
        Case {
            method: "POST",
            route: "/v1/events",
            path: "/v1/events".into(),
            body: Some(json!({"kind":"response_plan_filed","county":"a","filed_on":"2021-01-05","valid_until":"2021-12-31","measures":"压减支出","reference":"甲财〔2021〕1号"}).to_string()),
            allowed: &[Caller::Officer],
            public: false,
        },
        Case {
            method: "POST",
            route: "/v1/events",
            path: "/v1/events".into(),
            body: Some(json!({"kind":"assessment_decided","proposal_seq":3,"decision":"approved","decided_on":"2021-01-05"}).to_string()),
            allowed: &[Caller::Scheduler],
            public: false,
        },
        Case {
            method: "POST",
            route: "/v1/events",
            path: "/v1/events".into(),
            body: Some(json!([revenue, plan_event]).to_string()),
            allowed: &[],
            public: false,
        },
        Case {
            method: "POST",
            route: "/v1/plans/{month}/issue",
            path: "/v1/plans/2021-02/issue".into(),
            body: Some(issue.to_string()),
            allowed: &[Caller::Scheduler],
            public: false,
        },
        // What-if (issue 18): it writes nothing, so every role may ask.
        Case {
            method: "POST",
            route: "/v1/plans/{month}/what-if",
            path: "/v1/plans/2021-02/what-if".into(),
            body: Some(revenue.to_string()),
            allowed: READERS,
            public: false,
        },
        Case {
            method: "POST",
            route: "/v1/forecast/what-if",
            path: "/v1/forecast/what-if?from=2021-02".into(),
            body: Some(revenue.to_string()),
            allowed: READERS,
            public: false,
        },
        Case {
            method: "POST",
            route: "/v1/monitor/what-if",
            path: "/v1/monitor/what-if".into(),
            body: Some(json!([revenue]).to_string()),
            allowed: READERS,
            public: false,
        },
        Case {
            method: "POST",
            route: "/v1/plans/{month}/execute",
            path: "/v1/plans/2021-02/execute".into(),
            body: Some(json!({"dry_run": true}).to_string()),
            allowed: &[Caller::Officer],
            public: false,
        },
    ]
}

/// Sends one request; for the event stream reads only the head.
fn send(addr: &str, case: &Case, auth: Option<&str>) -> u16 {
    let mut h: Vec<(&str, &str)> = Vec::new();
    if let Some(a) = auth {
        h.push(("Authorization", a));
    }
    if case.body.is_some() {
        h.push(("Content-Type", "application/json"));
    }
    let raw = request_bytes(
        case.method,
        &case.path,
        &h,
        case.body.as_deref().map(str::as_bytes),
    );
    if case.route == "/v1/events/stream" {
        let mut s = connect(addr).unwrap();
        s.write_all(&raw).unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut b).unwrap(), 1);
            head.push(b[0]);
        }
        return parse_head(&String::from_utf8_lossy(&head)).0;
    }
    exchange(addr, &raw).unwrap().status
}

fn setup(dir: &Path) -> (Tokens, Serve) {
    let tokens = Tokens {
        officer: add_token(dir, "li.wei", "officer"),
        scheduler: add_token(dir, "zhang.min", "scheduler"),
        auditor: add_token(dir, "wang.audit", "auditor"),
    };
    let s = Serve::start(dir, &[("RUST_LOG", "trace")]);
    let r = post(
        &s.addr,
        "/v1/events",
        &tokens.officer,
        &json!([{"kind":"county_registered","county":"a","name":"甲县","registered_on":"2021-01-01","opening_treasury":"100"},
                {"kind":"city_funds_received","fund":"general","amount":"500.00","received_on":"2021-01-02"},
                {"kind":"policy_proposed","county":"a","title":"提高低保标准","category":"livelihood","monthly_cost":"1.00","starts":"2021-02","proposed_on":"2021-01-03"}])
        .to_string(),
        &[],
    );
    assert_eq!(r.status, 201);
    (tokens, s)
}

#[test]
fn every_route_times_every_caller_is_refused_beyond_its_role_and_tokens_never_leak() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (tokens, mut s) = setup(&dir);
    let plan = get(&s.addr, "/v1/plans/2021-02", &tokens.scheduler).json();
    let table = cases(&plan);

    // The table covers every route the service serves.
    let covered: BTreeSet<(String, &str)> = table
        .iter()
        .map(|c| (c.method.to_lowercase(), c.route))
        .collect();
    let served: BTreeSet<(String, &str)> = sanbao::server::routes::ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    assert_eq!(covered, served, "a route is missing from the table");

    let mut checked = 0;
    for case in &table {
        for caller in CALLERS {
            let expected = match caller {
                _ if case.public => Verdict::Allowed,
                Caller::Nobody | Caller::UnknownToken | Caller::NearMiss | Caller::WrongScheme => {
                    Verdict::Unauthorized
                }
                c if case.allowed.contains(&c) => Verdict::Allowed,
                _ => Verdict::Forbidden,
            };
            let before = s.head();
            let status = send(&s.addr, case, tokens.auth(caller).as_deref());
            let what = format!("{} {} as {caller:?}", case.method, case.path);
            match expected {
                Verdict::Unauthorized => assert_eq!(status, 401, "{what}"),
                Verdict::Forbidden => assert_eq!(status, 403, "{what}"),
                Verdict::Allowed => {
                    assert!(
                        ![401, 403].contains(&status) && status < 500,
                        "{what}: {status}"
                    );
                    if case.method == "GET" {
                        assert_eq!(status, 200, "{what}");
                    }
                }
            }
            if expected != Verdict::Allowed {
                assert_eq!(s.head(), before, "{what}: a refused request wrote");
            }
            checked += 1;
        }
    }
    println!("wrong people: {checked} route × caller requests checked");

    // A user removed from the tokens file is refused from the next request.
    let file = dir.join("tokens.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    v["users"]
        .as_array_mut()
        .unwrap()
        .retain(|u| u["name"] != "wang.audit");
    std::fs::write(&file, v.to_string()).unwrap();
    assert_eq!(get(&s.addr, "/v1/monitor", &tokens.auditor).status, 401);
    assert_eq!(get(&s.addr, "/v1/monitor", &tokens.officer).status, 200);

    // Tokens are stored only as hashes, in a file only its owner may read.
    let text = std::fs::read_to_string(&file).unwrap();
    for t in [&tokens.officer, &tokens.scheduler, &tokens.auditor] {
        assert!(!text.contains(&t[4..]), "a token is stored in the clear");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let add = add_token(&dir, "late", "auditor"); // rewrites the file
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "tokens file mode {mode:o}");
        assert!(!std::fs::read_to_string(&file).unwrap().contains(&add[4..]));
    }

    // No token (nor a near miss) reaches the logs, even at trace level.
    assert!(s.terminate().success());
    let log = s.log();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "trace logging was on"
    );
    assert!(log.contains("request"), "requests were logged");
    for t in [&tokens.officer, &tokens.scheduler, &tokens.auditor] {
        assert!(!log.contains(&t[4..]), "a token reached the log");
        assert!(!log.contains(&flip_last(t)[4..]));
    }
    assert!(
        !log.to_lowercase().contains("bearer "),
        "an Authorization header was logged"
    );
}

#[test]
fn serve_binds_to_loopback_unless_told_otherwise() {
    let cli = sanbao::cli::Cli::try_parse_from(["sanbao", "serve"]).unwrap();
    let sanbao::cli::Command::Serve { listen, .. } = cli.command else {
        panic!("not serve")
    };
    let addr: std::net::SocketAddr = listen.parse().unwrap();
    assert!(addr.ip().is_loopback(), "default --listen {listen}");
    assert_eq!(addr.port(), 8080);

    // The real binary, without --listen: it either serves on 127.0.0.1:8080 or, if that
    // port is taken on this machine, says it cannot listen there.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    add_token(&dir, "wang.audit", "auditor");
    let mut child = std::process::Command::new(bin())
        .arg("--data")
        .arg(&dir)
        .arg("serve")
        .env_remove("RUST_LOG")
        .env_remove("SANBAO_TOKENS")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = Vec::new();
    let mut b = [0u8; 1];
    while !first.ends_with(b"\n") && out.read(&mut b).unwrap_or(0) == 1 {
        first.push(b[0]);
    }
    let first = String::from_utf8_lossy(&first).into_owned();
    if first.is_empty() {
        let st = wait_bounded(&mut child, std::time::Duration::from_secs(60)).unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(!st.success());
        assert!(err.contains("127.0.0.1:8080"), "{err}");
    } else {
        assert_eq!(first.trim(), "listening on http://127.0.0.1:8080");
        let _ = child.kill();
        let _ = child.wait();
    }
}
