//! The desk in a real browser (issue 17): headless Debian Chromium driven through
//! chromedriver (WebDriver) against `sanbao serve` of the sample city.
//!
//! One walk through the desk as its three kinds of user would take it:
//! - an officer signs in, opens the journal, records a payroll deposit through the form
//!   in a second tab of the same browser, and sees the record arrive at the top of the
//!   open journal live (no reload), with the seq the API reports;
//! - a scheduler signs in, opens next month's plan, confirms and issues it, and sees the
//!   issue in force;
//! - an auditor signs in, finds no issue button, and their POST of an issue (with their
//!   own session's CSRF token) is refused with 403 and writes nothing.
//!
//! Every page visited is saved as a PNG under `target/desk-screenshots/`; with
//! `SANBAO_BLESS=1` the overview's is also copied to `docs/desk-overview.png` (the
//! README's picture). Chinese must render: the overview's title is read back and two
//! different characters drawn by the page's font must come out different (tofu boxes
//! would be identical).
//!
//! Chromium and chromedriver are Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs; without them the test fails (it never skips). chromedriver runs
//! as a child on a port the OS chose and is killed (with its browser) at the end. Every
//! wait is bounded by a generous timeout; nothing is timed.

use crate::deskkit;
use crate::wire;

use deskkit::Desk;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest wait for anything the browser or chromedriver does.
const WAIT: Duration = Duration::from_secs(60);
/// The longest wait for the live journal row (the issue's words: up to 30 s).
const LIVE_WAIT: Duration = Duration::from_secs(30);
/// Debian's Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Cargo's target directory (the parent of `CARGO_TARGET_TMPDIR`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR has a parent")
        .to_path_buf()
}

/// Where the screenshots go: `<target>/desk-screenshots/`.
fn shots_dir() -> PathBuf {
    target_dir().join("desk-screenshots")
}

/// `chromedriver` on the PATH (or Debian's place for it).
fn chromedriver_path() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("chromedriver"))
            .find(|f| f.is_file())
    });
    on_path.or_else(|| {
        let f = PathBuf::from("/usr/bin/chromedriver");
        f.is_file().then_some(f)
    })
}

/// A chromedriver child on an OS-chosen loopback port; killed with its process group
/// (the browsers it started) when dropped.
struct Chromedriver {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    url: String,
    log: PathBuf,
}

impl Chromedriver {
    /// Starts chromedriver and waits (bounded) until it answers `/status` ready; a
    /// child that exits (its port taken meanwhile) is retried on a new port.
    fn start() -> Chromedriver {
        let exe = chromedriver_path().unwrap_or_else(|| {
            panic!(
                "chromedriver not found: this test drives headless Chromium through it; \
                 install Debian's chromium and chromium-driver (.ci/run installs them)"
            )
        });
        assert!(
            Path::new(CHROMIUM).is_file(),
            "{CHROMIUM} not found: this test drives headless Chromium; install Debian's \
             chromium and chromium-driver (.ci/run installs them)"
        );
        let mut tried = Vec::new();
        for attempt in 0..5 {
            let port = {
                let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
                l.local_addr().unwrap().port()
            };
            let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("chromedriver-{}-{attempt}.log", std::process::id()));
            let out = std::fs::File::create(&log).expect("chromedriver log");
            let err = out.try_clone().unwrap();
            let mut cmd = Command::new(&exe);
            cmd.arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err);
            // Its own process group: the Drop guard ends chromedriver and the browsers
            // it started together.
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
            let mut d = Chromedriver {
                child,
                url: format!("http://127.0.0.1:{port}"),
                log,
            };
            let addr = format!("127.0.0.1:{port}");
            let deadline = Instant::now() + WAIT;
            loop {
                if let Some(st) = d.child.try_wait().unwrap() {
                    tried.push(format!("port {port}: exited {st}: {}", d.log_text()));
                    break;
                }
                if status_ready(&addr) {
                    return d;
                }
                if Instant::now() >= deadline {
                    panic!(
                        "chromedriver on port {port} did not answer /status within {WAIT:?}: {}",
                        d.log_text()
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("chromedriver did not start: {tried:#?}")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Whether chromedriver at `addr` answers `GET /status` with `ready: true`. (It keeps
/// the connection open despite `Connection: close`, so the body is read by its
/// `Content-Length`.)
fn status_ready(addr: &str) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let raw = wire::request_bytes("GET", "/status", &[], None);
    if s.write_all(&raw).is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let (status, headers) = wire::parse_head(&String::from_utf8_lossy(&buf[..end]));
            let len = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok());
            if let Some(len) = len {
                if buf.len() >= end + 4 + len {
                    let body: Value =
                        serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap_or(Value::Null);
                    return status == 200 && body["value"]["ready"] == json!(true);
                }
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // The group is chromedriver's own (process_group(0) above): its id is the
            // child's pid.
            let pgid = self.child.id() as libc::pid_t;
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A WebDriver session with headless Chromium (Chinese UI, a desktop-sized window).
async fn browser(driver: &Chromedriver) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1400,1000",
                "--lang=zh-CN",
            ],
        },
    });
    let caps = match caps {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let mut b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
    b.capabilities(caps);
    let c = tokio::time::timeout(WAIT * 2, b.connect(&driver.url))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no browser session within {:?}: {}",
                WAIT * 2,
                driver.log_text()
            )
        })
        .unwrap_or_else(|e| panic!("cannot start headless Chromium: {e}: {}", driver.log_text()));
    c.set_window_size(1400, 1000).await.expect("window size");
    c
}

/// The page's path and query.
async fn here(c: &Client) -> String {
    let u = c.current_url().await.expect("current url");
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// Waits (bounded) for the first element matching `css`; panics with where the browser
/// is and what it shows.
async fn wait_css(c: &Client, css: &str) -> Element {
    match c.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
        Ok(e) => e,
        Err(e) => {
            let at = here(c).await;
            let text = match c.find(Locator::Css("body")).await {
                Ok(b) => b.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            panic!("no {css:?} on {at} within {WAIT:?} ({e}); the page says: {text}")
        }
    }
}

/// Every element matching `css` now (none is fine).
async fn all_css(c: &Client, css: &str) -> Vec<Element> {
    c.find_all(Locator::Css(css)).await.expect("find_all")
}

/// An attribute that must be there.
async fn attr(e: &Element, name: &str) -> String {
    e.attr(name)
        .await
        .expect("read attribute")
        .unwrap_or_else(|| panic!("no attribute {name}"))
}

/// Saves a screenshot of the page as `<target>/desk-screenshots/NAME.png`; checks that
/// it is a PNG of some substance; answers its path.
async fn shot(c: &Client, name: &str) -> PathBuf {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
    assert!(
        png.len() > 10_000,
        "{name}: a {}-byte screenshot is blank",
        png.len()
    );
    let dir = shots_dir();
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, &png).expect("write screenshot");
    path
}

/// Signs in through the form with `token` (from the sign-in page) and waits for the
/// overview.
async fn sign_in(c: &Client, base: &str, token: &str, screenshot: bool) {
    c.goto(&format!("{base}/desk/sign-in"))
        .await
        .expect("sign-in page");
    let input = wait_css(c, "form[action=\"/desk/sign-in\"] input[name=token]").await;
    assert_eq!(attr(&input, "type").await, "password");
    if screenshot {
        shot(c, "sign-in").await;
    }
    input.send_keys(token).await.expect("type the token");
    wait_css(c, "form[action=\"/desk/sign-in\"] button[type=submit]")
        .await
        .click()
        .await
        .expect("sign in");
    wait_css(c, "#city-treasury").await;
    assert_eq!(here(c).await, "/");
    // The cookie is HttpOnly: the page's script cannot read it.
    let cookie = c
        .execute("return document.cookie", vec![])
        .await
        .expect("document.cookie");
    assert!(
        !cookie.as_str().unwrap_or("").contains("sanbao_session"),
        "the session cookie is visible to scripts: {cookie}"
    );
}

/// Signs out with the header's button and waits for the sign-in page; the old session
/// no longer opens a page.
async fn sign_out(c: &Client, base: &str) {
    wait_css(c, "form[action=\"/desk/sign-out\"] button")
        .await
        .click()
        .await
        .expect("sign out");
    wait_css(c, "input[name=token]").await;
    c.goto(&format!("{base}/")).await.expect("overview");
    wait_css(c, "input[name=token]").await;
    assert!(
        here(c).await.starts_with("/desk/sign-in"),
        "{}",
        here(c).await
    );
}

/// Sets an input's value from a script (Chromium's typing into `type=date`/`month`
/// depends on the locale) and fires the events a user's edit would.
async fn set_value(c: &Client, e: &Element, value: &str) {
    let arg = serde_json::to_value(e).expect("element as JSON");
    c.execute(
        "arguments[0].value = arguments[1];\
         arguments[0].dispatchEvent(new Event('input', {bubbles: true}));\
         arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        vec![arg, json!(value)],
    )
    .await
    .expect("set value");
}

/// One record of the log through the API (`/v1/events?from=SEQ&limit=1`).
fn record(desk: &Desk, seq: u64) -> Value {
    let r = desk.api(
        &format!("/v1/events?from={seq}&limit=1"),
        &desk.tokens.officer,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let rec = v["records"][0].clone();
    assert_eq!(rec["seq"], json!(seq), "{v}");
    rec
}

/// Draws two different Chinese characters with the page's font: real glyphs differ,
/// the boxes drawn for characters no font has do not.
async fn assert_chinese_draws(c: &Client) {
    let v = c
        .execute(
            "const draw = (ch) => {\
               const k = document.createElement('canvas'); k.width = 64; k.height = 64;\
               const x = k.getContext('2d');\
               x.fillStyle = '#fff'; x.fillRect(0, 0, 64, 64); x.fillStyle = '#000';\
               x.font = '48px ' + getComputedStyle(document.querySelector('h1')).fontFamily;\
               x.fillText(ch, 4, 52);\
               return k.toDataURL('image/png');\
             };\
             return [draw('库'), draw('款'), draw(' ')];",
            vec![],
        )
        .await
        .expect("draw characters");
    let a = v[0].as_str().expect("data URL");
    let b = v[1].as_str().expect("data URL");
    let blank = v[2].as_str().expect("data URL");
    assert_ne!(
        a, blank,
        "库 was drawn as nothing: is a CJK font installed (fonts-wqy-microhei)?"
    );
    assert_ne!(
        b, blank,
        "款 was drawn as nothing: is a CJK font installed?"
    );
    assert_ne!(
        a, b,
        "库 and 款 were drawn alike (boxes): no CJK font (.ci/run installs fonts-wqy-microhei)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_scheduler_and_auditor_at_the_desk_in_chromium() {
    let desk = Desk::sample();
    let base = format!("http://{}", desk.addr());
    let driver = Chromedriver::start();
    let c = browser(&driver).await;
    let seq = officer(&c, &desk, &base).await;
    let (m, based, hash) = scheduler(&c, &desk, &base, seq).await;
    auditor(&c, &desk, &base, &m, &based, &hash).await;
    c.close().await.expect("end the browser session");
    drop(driver);
}

/// The officer: sign in, the overview in Chinese, the journal open in one tab, a
/// deposit recorded through the form in another, the record live in the journal.
/// Answers the deposit's seq.
async fn officer(c: &Client, desk: &Desk, base: &str) -> u64 {
    // ---- The officer: sign in, the overview in Chinese.
    sign_in(c, base, &desk.tokens.officer, true).await;
    let h1 = wait_css(c, "main h1").await.text().await.expect("h1");
    assert_eq!(h1, "库款监测总览");
    assert!(
        !all_css(c, "article.card").await.is_empty(),
        "no county cards"
    );
    let lang = c
        .execute("return document.documentElement.lang", vec![])
        .await
        .expect("lang");
    assert_eq!(lang, json!("zh-CN"));
    assert_chinese_draws(c).await;
    let overview = shot(c, "overview").await;
    if std::env::var("SANBAO_BLESS").as_deref() == Ok("1") {
        let to = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/desk-overview.png");
        std::fs::copy(&overview, &to).expect("bless docs/desk-overview.png");
    }

    // ---- The journal open in one tab; a marker that a reload would lose.
    c.goto(&format!("{base}/desk/journal"))
        .await
        .expect("journal");
    wait_css(c, "table#journal-live").await;
    c.execute("window.__sanbaoNotReloaded = true; return true", vec![])
        .await
        .expect("marker");
    let journal_tab = c.window().await.expect("window handle");
    let head_before = desk.server.head();

    // ---- The deposit through the form, in another tab of the same session.
    let tab = c.new_window(true).await.expect("new tab");
    c.switch_to_window(tab.handle.clone())
        .await
        .expect("switch to the new tab");
    c.goto(&format!("{base}/desk/forms/payroll_deposited"))
        .await
        .expect("form");
    wait_css(c, "form#event-form").await;
    wait_css(c, "form#event-form select[name=county]")
        .await
        .select_by_value("jianchang")
        .await
        .expect("choose the county");
    let month = wait_css(c, "form#event-form input[name=payroll_month]").await;
    assert_eq!(attr(&month, "type").await, "month");
    set_value(c, &month, "2022-03").await;
    let amount = wait_css(c, "form#event-form input[name=amount]").await;
    amount.clear().await.expect("clear amount");
    amount.send_keys("1000.00").await.expect("type the amount");
    let on = wait_css(c, "form#event-form input[name=deposited_on]").await;
    assert_eq!(attr(&on, "type").await, "date");
    set_value(c, &on, "2022-02-20").await;
    for hidden in ["csrf", "idempotency_key"] {
        let e = wait_css(c, &format!("form#event-form input[name={hidden}]")).await;
        assert_eq!(attr(&e, "type").await, "hidden");
        assert!(!attr(&e, "value").await.is_empty(), "{hidden} is empty");
    }
    shot(c, "form").await;
    wait_css(c, "form#event-form button#submit")
        .await
        .click()
        .await
        .expect("submit the deposit");
    let recorded = wait_css(c, "p#recorded[data-seq]").await;
    let seq: u64 = attr(&recorded, "data-seq")
        .await
        .parse()
        .expect("data-seq is a number");
    shot(c, "recorded").await;
    assert_eq!(seq, head_before + 1, "the deposit is the next record");
    assert_eq!(desk.server.head(), seq);
    let rec = record(desk, seq);
    let ev = &rec["event"];
    assert_eq!(ev["kind"], "payroll_deposited", "{rec}");
    assert_eq!(ev["county"], "jianchang", "{rec}");
    assert_eq!(ev["payroll_month"], "2022-03", "{rec}");
    assert_eq!(ev["amount"], "1000.00", "{rec}");
    assert_eq!(ev["deposited_on"], "2022-02-20", "{rec}");

    // ---- Back to the journal: the record arrives at the top, live, without a reload.
    c.close_window().await.expect("close the form's tab");
    c.switch_to_window(journal_tab)
        .await
        .expect("back to the journal");
    let row = format!("table#journal-live tr[data-seq=\"{seq}\"]");
    let found = c
        .wait()
        .at_most(LIVE_WAIT)
        .for_element(Locator::Css(&row))
        .await;
    assert!(
        found.is_ok(),
        "record {seq} did not appear in the open journal within {LIVE_WAIT:?} (EventSource on /desk/journal/stream)"
    );
    let marker = c
        .execute("return window.__sanbaoNotReloaded === true", vec![])
        .await
        .expect("marker");
    assert_eq!(
        marker,
        json!(true),
        "the journal was reloaded, not updated live"
    );
    let first = wait_css(c, "table#journal-live tr[data-seq]").await;
    assert_eq!(
        attr(&first, "data-seq").await,
        seq.to_string(),
        "newest first"
    );
    shot(c, "journal").await;
    sign_out(c, base).await;
    seq
}

/// The scheduler: next month's plan (based on the officer's deposit, record `head`),
/// confirmed and issued, in force. Answers the month, based_on_seq and plan_sha256.
async fn scheduler(c: &Client, desk: &Desk, base: &str, head: u64) -> (String, String, String) {
    sign_in(c, base, &desk.tokens.scheduler, false).await;
    c.goto(&format!("{base}/desk/plans")).await.expect("plans");
    let issues = wait_css(c, "section#issues[data-based-on-seq][data-plan-sha256]").await;
    let plan_path = here(c).await;
    let m = plan_path
        .strip_prefix("/desk/plans/")
        .unwrap_or_else(|| panic!("/desk/plans went to {plan_path}"))
        .to_string();
    assert_eq!(m, "2022-03", "the month after the sample's last date");
    let based = attr(&issues, "data-based-on-seq").await;
    let hash = attr(&issues, "data-plan-sha256").await;
    wait_css(c, "section#issues #not-issued").await;
    assert_eq!(
        based,
        head.to_string(),
        "the plan is based on the log's head"
    );
    let link = wait_css(c, "a#issue-link").await;
    shot(c, "plan").await;
    link.click().await.expect("issue link");
    let button = wait_css(c, "form#issue-form button#confirm-issue").await;
    assert_eq!(
        wait_css(c, "#confirm-based").await.text().await.unwrap(),
        based
    );
    assert_eq!(
        wait_css(c, "#confirm-hash").await.text().await.unwrap(),
        hash
    );
    shot(c, "confirm").await;
    button.click().await.expect("confirm the issue");
    let issued = wait_css(c, "table#issued-list tbody tr[data-seq]").await;
    let issue_seq: u64 = attr(&issued, "data-seq").await.parse().unwrap();
    assert_eq!(issue_seq, head + 1);
    let state = wait_css(c, "table#issued-list tbody tr[data-seq] span.issued").await;
    assert_eq!(state.text().await.unwrap(), "现行");
    let said = wait_css(c, "section#issues p.flash.good").await;
    assert!(said.text().await.unwrap().contains("现行有效"));
    assert!(here(c).await.starts_with(&format!("/desk/plans/{m}")));
    shot(c, "issued").await;
    let rec = record(desk, issue_seq);
    assert_eq!(rec["event"]["kind"], "plan_issued", "{rec}");
    assert_eq!(rec["event"]["month"], json!(m), "{rec}");
    assert_eq!(rec["event"]["plan_sha256"], json!(hash), "{rec}");
    assert_eq!(rec["event"]["based_on_seq"], json!(head), "{rec}");
    sign_out(c, base).await;
    (m, based, hash)
}

/// The auditor: the issued plan without an issue button; an issue POSTed anyway with
/// their own session's CSRF token is refused (403) and writes nothing.
async fn auditor(c: &Client, desk: &Desk, base: &str, m: &str, based: &str, hash: &str) {
    sign_in(c, base, &desk.tokens.auditor, false).await;
    c.goto(&format!("{base}/desk/plans/{m}"))
        .await
        .expect("plan");
    wait_css(c, "#issues").await;
    wait_css(c, "table#issued-list span.issued").await;
    assert!(
        all_css(c, "a#issue-link").await.is_empty(),
        "an auditor is offered the issue button"
    );
    shot(c, "auditor-plan").await;
    let csrf = attr(
        &wait_css(c, "form[action=\"/desk/sign-out\"] input[name=csrf]").await,
        "value",
    )
    .await;
    let head = desk.server.head();
    let answer = c
        .execute_async(
            "const [url, csrf, based, hash, done] = arguments;\
             const body = new URLSearchParams({csrf: csrf, based_on_seq: based, plan_sha256: hash}).toString();\
             fetch(url, {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: body})\
               .then(r => r.text().then(t => done({status: r.status, body: t})))\
               .catch(e => done({status: 0, body: String(e)}));",
            vec![
                json!(format!("/desk/plans/{m}/issue")),
                json!(csrf),
                json!(based),
                json!(hash),
            ],
        )
        .await
        .expect("the auditor's fetch");
    assert_eq!(answer["status"], json!(403), "{answer}");
    assert!(
        answer["body"]
            .as_str()
            .unwrap_or("")
            .contains("未作任何记录"),
        "{answer}"
    );
    assert_eq!(
        desk.server.head(),
        head,
        "the refused issue wrote something"
    );
    // The confirmation page itself is refused too.
    c.goto(&format!("{base}/desk/plans/{m}/issue"))
        .await
        .expect("confirm page");
    wait_css(c, "p.flash.bad").await;
    assert!(all_css(c, "button#confirm-issue").await.is_empty());
    assert_eq!(desk.server.head(), head);
}
