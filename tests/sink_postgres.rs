//! `sanbao sink postgres` (issue 20) against a real PostgreSQL server, started here:
//! `initdb` in a temporary directory (as `nobody` when run as root: PostgreSQL
//! refuses root), a port chosen by the OS, stopped at the end (also on panic). A
//! machine without PostgreSQL fails these tests; it never skips them (`.ci/run`
//! installs Debian's `postgresql`).
//!
//! Two cities into one database: the sample city (with two issued plans, one of
//! them on an older seq) through its data directory, and a history of the
//! benchmark's generator, sunk in small batches, SIGKILLed mid-run and restarted,
//! then followed through a running server's event stream. Then every `county_days`
//! row of a set of dates is compared with `monitor --as-of`, payroll and watch list
//! with it too, every plan with `plan --json`, and the chain in `records` checked in
//! SQL; a truncated and rewritten log is refused (exit 5) unless `--rebuild`; a
//! record whose hash does not match stops the sink (exit 5, naming its seq). Bad
//! input: an unreachable database, a wrong password, a database of another sink
//! version, a bad city id.

use crate::common;
use crate::wire;

use common::{bin, code, one_error_line, run, stderr, stdout};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "s3cret-sink";

/// A PostgreSQL server of this test's own, stopped when dropped.
struct Pg {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// Where PostgreSQL's programs are: `pg_config --bindir`, Debian's
/// `/usr/lib/postgresql/*/bin`, or PATH.
fn pg_bindir() -> PathBuf {
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output() {
        let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        if p.join("initdb").exists() && p.join("postgres").exists() {
            return p;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.flatten()
                .map(|e| e.path().join("bin"))
                .filter(|b| b.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    if let Some(b) = found.pop() {
        return b;
    }
    for p in std::env::var("PATH").unwrap_or_default().split(':') {
        let b = PathBuf::from(p);
        if b.join("initdb").exists() && b.join("postgres").exists() {
            return b;
        }
    }
    panic!("PostgreSQL is not installed (no initdb/postgres under pg_config --bindir, /usr/lib/postgresql/*/bin or PATH): install Debian's postgresql (.ci/run does)");
}

/// A command that runs as `nobody` when we are root (PostgreSQL refuses root).
fn as_pg_user(program: &Path) -> Command {
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Pg {
    fn start() -> Pg {
        let bindir = pg_bindir();
        let dir = tempfile::Builder::new()
            .prefix("sanbao-pg")
            .tempdir()
            .unwrap();
        let root = unsafe { libc::geteuid() } == 0;
        let own = |p: &Path| {
            if root {
                std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
            }
        };
        own(dir.path());
        let pw = dir.path().join("pw");
        std::fs::write(&pw, PASSWORD).unwrap();
        own(&pw);
        let sock = dir.path().join("sock");
        std::fs::create_dir(&sock).unwrap();
        own(&sock);
        let o = as_pg_user(&bindir.join("initdb"))
            .arg("-D")
            .arg(dir.path().join("db"))
            .args(["-U", "sanbao", "-E", "UTF8", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pw.display()))
            .output()
            .expect("run initdb");
        assert!(
            o.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        for _ in 0..5 {
            let port = free_port();
            let mut child = as_pg_user(&bindir.join("postgres"))
                .arg("-D")
                .arg(dir.path().join("db"))
                .args(["-p", &port.to_string()])
                .arg("-k")
                .arg(&sock)
                .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start postgres");
            let err = child.stderr.take().unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for l in BufReader::new(err).lines().map_while(Result::ok) {
                    if l.contains("ready to accept connections") {
                        let _ = tx.send(true);
                    }
                    if l.contains("could not bind") || l.contains("FATAL") {
                        let _ = tx.send(false);
                    }
                }
            });
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(true) => {
                    return Pg {
                        child,
                        port,
                        _dir: dir,
                    }
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        panic!("PostgreSQL did not start");
    }

    fn url(&self, db: &str) -> String {
        format!(
            "postgresql://sanbao:{PASSWORD}@127.0.0.1:{}/{db}",
            self.port
        )
    }

    /// Rows of one query, every value as text (`None` for NULL).
    fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.query_in("postgres", sql)
    }

    fn query_in(&self, db: &str, sql: &str) -> Vec<Vec<Option<String>>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&self.url(db), tokio_postgres::NoTls)
                .await
                .expect("connect to the test's PostgreSQL");
            tokio::spawn(conn);
            let mut out = Vec::new();
            for m in client.simple_query(sql).await.expect(sql) {
                if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                    out.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
                }
            }
            out
        })
    }

    fn one(&self, sql: &str) -> String {
        self.query(sql)[0][0].clone().unwrap_or_default()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // Fast shutdown (SIGINT), then SIGKILL if it lingers.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sanbao sink postgres ARGS…` to completion.
fn sink(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(bin());
    c.args(["sink", "postgres"])
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// `sanbao sink postgres --url URL --data DIR --city CITY --once`, with `env`.
fn sink_once(url: &str, dir: &Path, city: &str, env: &[(&str, &str)]) -> std::process::Output {
    sink(
        &[
            "--url",
            url,
            "--data",
            dir.to_str().unwrap(),
            "--city",
            city,
            "--once",
        ],
        env,
    )
}

fn json_of(dir: &Path, args: &[&str]) -> Value {
    let o = run(dir, args, "");
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    serde_json::from_str(stdout(&o).trim()).unwrap()
}

fn head(dir: &Path) -> (u64, String) {
    let v = json_of(dir, &["verify", "--json"]);
    (
        v["records"].as_u64().unwrap(),
        v["head_hash"].as_str().unwrap().to_string(),
    )
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Every `county_days`, `payroll` and `watchlist` row of `city` on each date equals
/// `monitor --as-of` that date.
fn compare_with_monitor(pg: &Pg, city: &str, dir: &Path, dates: &[String]) -> usize {
    let mut compared = 0;
    for d in dates {
        let m = json_of(dir, &["monitor", "--as-of", d, "--json"]);
        let rows = pg.query(&format!(
            "SELECT county, cash, avg_monthly_outflow, guarantee_level, status, warning_line, alert_line, idle_line, treasury + wage_reserve \
             FROM county_days WHERE city = '{city}' AND date = '{d}' ORDER BY county"
        ));
        let want = m["counties"].as_array().unwrap();
        assert_eq!(rows.len(), want.len(), "{city} {d}: county rows");
        assert!(!want.is_empty(), "{city} {d}: a date with counties");
        for (r, w) in rows.iter().zip(want) {
            let got: Vec<Option<String>> = r[..8].to_vec();
            let exp: Vec<Option<String>> = [
                "county",
                "cash",
                "avg_monthly_outflow",
                "guarantee_level",
                "status",
                "warning_line",
                "alert_line",
                "idle_line",
            ]
            .iter()
            .map(|k| text(&w[*k]))
            .collect();
            assert_eq!(got, exp, "{city} {d}");
            assert_eq!(
                r[8],
                text(&w["cash"]),
                "{city} {d}: treasury + wage_reserve"
            );
            compared += 1;
        }
        let payroll = pg.query(&format!(
            "SELECT county, payroll_month, wage_bill, payday, deposit_deadline, deposited, paid, shortfall, status, deposited_on, days_late \
             FROM payroll WHERE city = '{city}' AND date = '{d}' ORDER BY county, payroll_month"
        ));
        let want = m["payroll"].as_array().unwrap();
        assert_eq!(payroll.len(), want.len(), "{city} {d}: payroll rows");
        for (r, w) in payroll.iter().zip(want) {
            let exp: Vec<Option<String>> = [
                "county",
                "payroll_month",
                "wage_bill",
                "payday",
                "deposit_deadline",
                "deposited",
                "paid",
                "shortfall",
                "status",
                "deposited_on",
                "days_late",
            ]
            .iter()
            .map(|k| text(&w[*k]))
            .collect();
            assert_eq!(r, &exp, "{city} {d}: payroll");
        }
        let watch = pg.query(&format!(
            "SELECT county, array_to_string(reasons, ',') FROM watchlist WHERE city = '{city}' AND date = '{d}' ORDER BY county"
        ));
        let want: Vec<Vec<Option<String>>> = m["watchlist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                let reasons: Vec<&str> = w["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap())
                    .collect();
                vec![text(&w["county"]), Some(reasons.join(","))]
            })
            .collect();
        assert_eq!(watch, want, "{city} {d}: watchlist");
    }
    compared
}

/// Every plan of `city` equals `plan --month M --at-seq based_on_seq --json`, and its
/// lines are the plan's.
fn compare_plans(pg: &Pg, city: &str, dir: &Path) -> usize {
    let plans = pg.query(&format!(
        "SELECT seq, month, based_on_seq, plan::text, total_funded FROM plans WHERE city = '{city}' ORDER BY seq"
    ));
    for p in &plans {
        let (seq, month, based) = (
            p[0].clone().unwrap(),
            p[1].clone().unwrap(),
            p[2].clone().unwrap(),
        );
        let want = json_of(
            dir,
            &["plan", "--month", &month, "--at-seq", &based, "--json"],
        );
        let got: Value = serde_json::from_str(p[3].as_deref().unwrap()).unwrap();
        assert_eq!(got, want, "{city}: the plan of record {seq}");
        assert_eq!(p[4], text(&want["total_funded"]));
        let lines = pg.query(&format!(
            "SELECT county, fund, fiscal_year, planned, funded, shortfall FROM plan_lines \
             WHERE city = '{city}' AND seq = {seq} ORDER BY county, array_position(ARRAY['general','pre_notified','in_execution','direct'], fund), fiscal_year"
        ));
        let exp: Vec<Vec<Option<String>>> = want["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                [
                    "county",
                    "fund",
                    "fiscal_year",
                    "planned",
                    "funded",
                    "shortfall",
                ]
                .iter()
                .map(|k| text(&l[*k]))
                .collect()
            })
            .collect();
        assert_eq!(lines, exp, "{city}: the lines of record {seq}");
    }
    plans.len()
}

/// The chain in `records`, checked in SQL: seqs 1..=head, seq 1 after zeros, each
/// prev_hash the hash before; the last hash the log's head.
fn check_chain(pg: &Pg, city: &str, dir: &Path) {
    let (n, hash) = head(dir);
    let broken = pg.one(&format!(
        "SELECT count(*) FROM records r LEFT JOIN records p ON p.city = r.city AND p.seq = r.seq - 1 \
         WHERE r.city = '{city}' AND CASE WHEN r.seq = 1 THEN r.prev_hash <> repeat('0', 64) \
         ELSE p.hash IS NULL OR r.prev_hash <> p.hash END"
    ));
    assert_eq!(broken, "0", "{city}: links that break in SQL");
    // Who recorded each record (contract v2), as the log says.
    let by: Vec<Option<String>> = pg
        .query(&format!(
            "SELECT recorded_by FROM records WHERE city = '{city}' ORDER BY seq"
        ))
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect();
    let logged: Vec<Option<String>> = common::export(dir)
        .iter()
        .map(|r| {
            r.get("recorded_by")
                .and_then(|b| b.as_str())
                .map(String::from)
        })
        .collect();
    assert_eq!(by, logged, "{city}: recorded_by");
    let v = pg.query(&format!(
        "SELECT count(*), min(seq), max(seq), (SELECT hash FROM records WHERE city = '{city}' ORDER BY seq DESC LIMIT 1), \
         (SELECT seq || ' ' || hash FROM sink_position WHERE city = '{city}') FROM records WHERE city = '{city}'"
    ));
    assert_eq!(v[0][0], Some(n.to_string()), "{city}: records");
    assert_eq!(v[0][1].as_deref(), Some("1"));
    assert_eq!(v[0][2], Some(n.to_string()));
    assert_eq!(v[0][3], Some(hash.clone()));
    assert_eq!(
        v[0][4],
        Some(format!("{n} {hash}")),
        "{city}: sink_position"
    );
}

/// A few dates of a city: its first day, the ends of some months, the latest day.
fn dates_of(pg: &Pg, city: &str) -> Vec<String> {
    let v = pg.query(&format!(
        "SELECT DISTINCT date::text FROM county_days WHERE city = '{city}' \
         AND (date = (SELECT min(date) FROM county_days WHERE city = '{city}') \
           OR date = (SELECT max(date) FROM county_days WHERE city = '{city}') \
           OR (extract(day FROM date + 1) = 1 AND extract(month FROM date) IN (3, 8, 12)) \
           OR extract(day FROM date) = 15 AND extract(month FROM date) = 6) ORDER BY 1"
    ));
    v.into_iter().map(|r| r[0].clone().unwrap()).collect()
}

/// The sample city, with two plans issued: one at the head, one on an older seq.
fn sample_city(dir: &Path) {
    let o = run(dir, &["demo"], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(
        dir,
        &[
            "plan",
            "--month",
            "2022-03",
            "--issue",
            "--issued-on",
            "2022-02-20",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let old = json_of(
        dir,
        &["plan", "--month", "2022-02", "--at-seq", "2000", "--json"],
    );
    common::append_ok(
        dir,
        &json!({"kind": "plan_issued", "month": "2022-02", "based_on_seq": 2000,
                "plan_sha256": old["plan_sha256"], "issued_on": "2022-02-20"}),
    );
}

/// A second city from the benchmark's generator: `n` events of 4 counties (with
/// reversals), imported.
fn generated_city(dir: &Path, n: usize) {
    use sanbao::bench::workload::{events, Config};
    let cfg = Config {
        first_seq: Some(1),
        ..Config::new(20_201_231, 4)
    };
    let mut lines = String::new();
    for e in events(cfg, n) {
        lines.push_str(&e.to_json().to_string());
        lines.push('\n');
    }
    let f = dir.with_extension("jsonl");
    std::fs::write(&f, lines).unwrap();
    let o = run(dir, &["import", f.to_str().unwrap()], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(head(dir).0, n as u64);
}

fn start_serve(dir: &Path) -> (Child, String) {
    let mut child = Command::new(bin())
        .arg("--data")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .env_remove("SANBAO_TOKENS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let addr = line
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("serve said {line:?}"))
        .to_string();
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn position(pg: &Pg, city: &str) -> u64 {
    pg.query(&format!(
        "SELECT seq FROM sink_position WHERE city = '{city}'"
    ))
    .first()
    .and_then(|r| r[0].clone())
    .map_or(0, |s| s.parse().unwrap())
}

#[test]
fn two_cities_into_postgres_exactly_once_and_equal_to_monitor_and_plan() {
    let pg = Pg::start();
    let url = pg.url("postgres");
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("sample");
    let b = t.path().join("genb");
    sample_city(&a);
    generated_city(&b, 5_000);

    // City A through its data directory, in one go.
    let o = sink_once(&url, &a, "sample", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("city sample at seq"), "{}", stdout(&o));

    // City B in batches of 100, SIGKILLed after some batches, then restarted.
    let mut child = Command::new(bin())
        .args(["sink", "postgres", "--url", &url, "--data"])
        .arg(&b)
        .args(["--city", "genb"])
        .env("SANBAO_SINK_BATCH", "100")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while position(&pg, "genb") < 1_000 {
        assert!(Instant::now() < deadline, "the sink made no progress");
        assert!(child.try_wait().unwrap().is_none(), "the sink stopped");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = position(&pg, "genb");
    // Whole batches only: the records are exactly those up to the position.
    let n: u64 = pg
        .one("SELECT count(*) FROM records WHERE city = 'genb'")
        .parse()
        .unwrap();
    assert_eq!(n, at_kill, "records written beside the position");
    assert_eq!(at_kill % 100, 0, "the position is at the end of a batch");
    assert!(at_kill < 5_000, "killed mid-run (at {at_kill})");
    let o = sink_once(&url, &b, "genb", &[("SANBAO_SINK_BATCH", "1000")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(position(&pg, "genb"), 5_000);

    // Then through B's server: a continuous sink follows new records live.
    let token = wire::add_token(&b, "sink.reader", "auditor");
    let (mut server, addr) = start_serve(&b);
    let from = format!("http://{addr}");
    let mut live = Command::new(bin())
        .args(["sink", "postgres", "--url", &url, "--city", "genb"])
        .args(["--from-server", &from, "--token", &token])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = run(
        &b,
        &[
            "plan",
            "--month",
            "2021-05",
            "--issue",
            "--issued-on",
            "2021-04-20",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (want, _) = head(&b);
    let deadline = Instant::now() + Duration::from_secs(120);
    while position(&pg, "genb") < want {
        if let Some(s) = live.try_wait().unwrap() {
            let mut e = String::new();
            std::io::Read::read_to_string(live.stderr.as_mut().unwrap(), &mut e).unwrap();
            panic!("the live sink stopped ({s}): {e}");
        }
        assert!(Instant::now() < deadline, "the live sink did not catch up");
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe {
        libc::kill(live.id() as i32, libc::SIGTERM);
    }
    assert!(
        live.wait().unwrap().success(),
        "SIGTERM stops the sink with 0"
    );
    let _ = server.kill();
    let _ = server.wait();

    // Every figure as sanbao computes it.
    for (city, dir) in [("sample", &a), ("genb", &b)] {
        check_chain(&pg, city, dir);
        let dates = dates_of(&pg, city);
        assert!(dates.len() >= 4, "{city}: dates {dates:?}");
        let rows = compare_with_monitor(&pg, city, dir, &dates);
        assert!(rows >= 12, "{city}: {rows} rows compared");
        let plans = compare_plans(&pg, city, dir);
        assert!(plans >= 1, "{city}: plans compared");
    }
    assert_eq!(compare_plans(&pg, "sample", &a), 2);
    // The days of each county: from its registration to the latest business date.
    let v = pg.query(
        "SELECT count(*) FROM (SELECT county, count(*) AS n, max(date) - min(date) + 1 AS span \
         FROM county_days WHERE city = 'genb' GROUP BY county) x WHERE n <> span",
    );
    assert_eq!(v[0][0].as_deref(), Some("0"), "a day missing or repeated");

    // The views answer across cities.
    let cities = pg.query("SELECT DISTINCT city FROM province_cash ORDER BY 1");
    assert_eq!(cities.len(), 2);
    let plans = pg.query("SELECT city, count(*) FROM city_plans GROUP BY city ORDER BY city");
    assert_eq!(plans.len(), 2);
    let watched = pg.query("SELECT city, county FROM province_watchlist ORDER BY 1, 2");
    let m = json_of(&a, &["monitor", "--json"]);
    let want: Vec<String> = m["watchlist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["county"].as_str().unwrap().to_string())
        .collect();
    let got: Vec<String> = watched
        .iter()
        .filter(|r| r[0].as_deref() == Some("sample"))
        .map(|r| r[1].clone().unwrap())
        .collect();
    assert_eq!(got, want, "province_watchlist of the sample city");

    // A log truncated and rewritten is refused, naming the city; --rebuild takes it.
    let o = run(&a, &["truncate", "--after", "2400", "--yes"], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let args = [
        "--url",
        &url,
        "--data",
        a.to_str().unwrap(),
        "--city",
        "sample",
        "--once",
    ];
    let o = sink(&args, &[]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(one_error_line(&o).contains("truncated or rewritten"));
    let other: Vec<Value> = (1..=14)
        .map(|i| {
            json!({"kind": "revenue_collected", "county": "suizhong",
                   "amount": format!("{i}.00"), "collected_on": "2022-02-20"})
        })
        .collect();
    common::append_ok(&a, &Value::Array(other));
    assert_eq!(head(&a).0, 2_414);
    let o = sink(&args, &[]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(
        line.contains("seq 2414") && line.contains("rebuild"),
        "{line}"
    );
    let mut rebuild = args.to_vec();
    rebuild.push("--rebuild");
    let o = sink(&rebuild, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    check_chain(&pg, "sample", &a);
    assert_eq!(
        compare_plans(&pg, "sample", &a),
        0,
        "both plans went with the rewrite"
    );
    let dates = dates_of(&pg, "sample");
    compare_with_monitor(&pg, "sample", &a, &dates);
    // City B was not touched by A's rebuild.
    assert_eq!(position(&pg, "genb"), head(&b).0);

    // A record whose hash does not match its content stops the sink (exit 5, its seq).
    {
        let store = sanbao::log::Store::open(&b).unwrap();
        let mut r = store.get(77).unwrap().unwrap();
        r.recorded_at_us += 1;
        store.overwrite_raw_for_test(77, &r.encode()).unwrap();
    }
    let o = sink_once(&url, &b, "genb", &[]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(line.contains("record 77 of city genb"), "{line}");
    // From the start, in batches of 10 (each read and prepared while the one before
    // is written): the batches before the damaged record's are committed, nothing
    // of its own.
    let o = sink_once(&url, &b, "genb-again", &[("SANBAO_SINK_BATCH", "10")]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(one_error_line(&o).contains("record 77 of city genb-again"));
    assert_eq!(position(&pg, "genb-again"), 70);
    assert_eq!(
        pg.one("SELECT count(*) || ' ' || max(seq) FROM records WHERE city = 'genb-again'"),
        "70 70"
    );
}

#[test]
fn bad_databases_are_one_error_line_never_a_hang() {
    let pg = Pg::start();
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("sample");
    let o = run(&a, &["demo"], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let data = a.to_str().unwrap();

    // Nothing listens: bounded retries, then one error line.
    let dead = free_port();
    let started = Instant::now();
    let url = format!("postgresql://sanbao:{PASSWORD}@127.0.0.1:{dead}/postgres");
    let o = sink(&["--url", &url, "--data", data, "--once"], &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(line.contains("cannot connect to PostgreSQL"), "{line}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );

    // A wrong password: refused at once, not retried.
    let started = Instant::now();
    let url = format!("postgresql://sanbao:wrong@127.0.0.1:{}/postgres", pg.port);
    let o = sink(&["--url", &url, "--data", data, "--once"], &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(line.contains("password"), "{line}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // Not a URL at all, and a bad city id: usage errors.
    let o = sink(&["--url", "postgresql://[", "--data", data, "--once"], &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    one_error_line(&o);
    let o = sink(
        &[
            "--url",
            &pg.url("postgres"),
            "--data",
            data,
            "--city",
            "a b",
            "--once",
        ],
        &[],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    one_error_line(&o);

    // A database of another (newer) sink version is refused, and so is one whose
    // tables were made by something else.
    pg.query("CREATE DATABASE newer");
    let url = pg.url("newer");
    let o = sink(&["--url", &url, "--data", data, "--once"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        pg.query_in(
            "newer",
            "SELECT value FROM sink_meta WHERE key = 'schema_version'"
        )[0][0]
            .as_deref(),
        Some("1")
    );
    pg.query_in(
        "newer",
        "UPDATE sink_meta SET value = '2' WHERE key = 'schema_version'",
    );
    let o = sink(&["--url", &url, "--data", data, "--once"], &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(line.contains("newer sink (schema version 2"), "{line}");
    pg.query("CREATE DATABASE foreign_tables");
    pg.query_in("foreign_tables", "CREATE TABLE records (id int)");
    let o = sink(
        &["--url", &pg.url("foreign_tables"), "--data", data, "--once"],
        &[],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(one_error_line(&o).contains("not made by sanbao sink postgres"));
}
