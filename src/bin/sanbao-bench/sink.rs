//! `sanbao-bench sink` (issue 20): the PostgreSQL sink measured against a database the
//! caller gives (`--url`; the benchmark starts no PostgreSQL of its own).
//!
//! Two measurements:
//! - **catch-up**: a pooled log of `--events` over `--counties` is built, then
//!   `sanbao sink postgres --data LOG --once --rebuild` writes it (records, every
//!   county-day, payroll and watch-list row, by COPY, one transaction per batch):
//!   records per second and rows per second, end to end as a user runs it;
//! - **live lag**: a `sanbao serve` child on a fresh per-county log takes
//!   single-event appends over HTTP from `--producers` keep-alive connections for
//!   `--live-seconds`, while `sanbao sink postgres --from-server` follows it; the
//!   sink's position is sampled every 100 ms against the count of acknowledged
//!   appends (lag in records), and after the load stops, the time until the sink
//!   holds every acknowledged record (drain).
//!
//! Guarantees: the sink's rows are counted in the database afterwards (the records
//! equal the log's head); each city id is `bench-…` and is rebuilt on each run, so a
//! database may be reused.

use crate::common::{note, sanbao_bin, Scratch};
use crate::server::{make_token, start_server};
use sanbao::bench::workload::{CityFunding, Config, Generator};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The options of `sanbao-bench sink`.
pub(crate) struct SinkArgs {
    pub(crate) url: String,
    pub(crate) events: usize,
    pub(crate) counties: u32,
    pub(crate) producers: usize,
    pub(crate) live_seconds: u64,
    pub(crate) sanbao: Option<PathBuf>,
}

async fn pg(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to --url");
    tokio::spawn(conn);
    c
}

async fn count(c: &tokio_postgres::Client, table: &str, city: &str) -> i64 {
    c.query_one(
        &format!("SELECT count(*) FROM {table} WHERE city = $1"),
        &[&city],
    )
    .await
    .expect("count")
    .get(0)
}

async fn position(c: &tokio_postgres::Client, city: &str) -> u64 {
    c.query_opt("SELECT seq FROM sink_position WHERE city = $1", &[&city])
        .await
        .expect("position")
        .map_or(0, |r| r.get::<_, i64>(0) as u64)
}

/// `sanbao-bench sink`.
pub(crate) fn sink(scratch: &Scratch, seed: u64, a: SinkArgs) -> (&'static str, Value, Value) {
    let params = json!({"events": a.events, "counties": a.counties, "producers": a.producers,
        "live_seconds": a.live_seconds, "batch": sanbao::sink::DIR_BATCH,
        "database": "given by --url"});
    let bin = sanbao_bin(a.sanbao.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // Catch-up of a whole log.
    let data = scratch.log_dir();
    let built = crate::common::build_log(&data, seed, a.counties, a.events);
    let city = format!("bench-catchup-{seed}-{}", std::process::id());
    note(format!("sinking {} events into PostgreSQL", a.events));
    let t = Instant::now();
    let out = Command::new(&bin)
        .args(["sink", "postgres", "--url", &a.url, "--data"])
        .arg(&data)
        .args(["--city", &city, "--once", "--rebuild"])
        .stdin(Stdio::null())
        .output()
        .expect("run sanbao sink postgres");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "sink failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (records, days, payroll, watch) = rt.block_on(async {
        let c = pg(&a.url).await;
        let counts = (
            count(&c, "records", &city).await,
            count(&c, "county_days", &city).await,
            count(&c, "payroll", &city).await,
            count(&c, "watchlist", &city).await,
        );
        // Leave the database as it was (not timed).
        for t in [
            "records",
            "county_days",
            "payroll",
            "watchlist",
            "plans",
            "plan_lines",
            "sink_position",
        ] {
            c.execute(&format!("DELETE FROM {t} WHERE city = $1"), &[&city])
                .await
                .expect("clean up");
        }
        counts
    });
    // The sink's own account of its time, from its last line.
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    let split: Value = last
        .split_once("; time: ")
        .map(|(_, t)| {
            let parts: serde_json::Map<String, Value> = t
                .split(", ")
                .filter_map(|p| {
                    let (name, v) = p.trim_end_matches(" s").rsplit_once(' ')?;
                    Some((name.replace(' ', "_"), json!(v.parse::<f64>().ok()?)))
                })
                .collect();
            Value::Object(parts)
        })
        .unwrap_or(Value::Null);
    assert_eq!(
        records as usize, a.events,
        "every record is in the database"
    );
    let rows = records + days + payroll + watch;
    let secs = took.as_secs_f64();
    let catch_up = json!({"seconds": secs, "records": records, "county_days": days,
        "payroll_rows": payroll, "watchlist_rows": watch, "rows": rows,
        "records_per_s": (records as f64 / secs).round(),
        "rows_per_s": (rows as f64 / secs).round(), "sink_time_s": split, "build": built});

    // Live lag under the append load.
    let live = if a.live_seconds > 0 {
        live_lag(scratch, seed, &a, &bin, &rt)
    } else {
        Value::Null
    };
    ("sink", params, json!({"catch_up": catch_up, "live": live}))
}

fn live_lag(
    scratch: &Scratch,
    seed: u64,
    a: &SinkArgs,
    bin: &std::path::Path,
    rt: &tokio::runtime::Runtime,
) -> Value {
    let conns = a.producers.max(1);
    let data = scratch.path.join("live");
    std::fs::create_dir_all(&data).expect("live dir");
    let tokens = scratch.path.join("live-tokens.json");
    let token = make_token(bin, &data, &tokens);
    let mut cfg = Config::new(seed, 2 * conns as u32);
    cfg.funding = CityFunding::PerCounty;
    let mut reqs: Vec<Vec<Vec<u8>>> = vec![Vec::new(); conns];
    for g in Generator::new(cfg).take(400_000) {
        let owner = g.county.expect("owner") as usize % conns;
        let body = g.event.to_json().to_string();
        reqs[owner].push(
            format!(
                "POST /v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        );
    }
    let (server, _) = start_server(bin, &data, &tokens);
    let city = format!("bench-live-{seed}-{}", std::process::id());
    let mut sink = Command::new(bin)
        .args([
            "sink",
            "postgres",
            "--url",
            &a.url,
            "--city",
            &city,
            "--rebuild",
        ])
        .args(["--from-server", &format!("http://{}", server.addr)])
        .args(["--token", &token])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the sink");
    note(format!(
        "{conns} producers appending over HTTP for {} s, the sink following",
        a.live_seconds
    ));
    let acked = Arc::new(AtomicU64::new(0));
    let addr = server.addr.clone();
    let seconds = a.live_seconds;
    let url = a.url.clone();
    let live_city = city.clone();
    let (lags, drain, total, final_pos) = rt.block_on(async move {
        let city = live_city;
        use tokio::io::AsyncWriteExt;
        let stop_at = Instant::now() + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for list in reqs {
            let addr = addr.clone();
            let acked = acked.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(&addr)
                    .await
                    .expect("connect");
                s.set_nodelay(true).expect("nodelay");
                let mut buf = Vec::with_capacity(8192);
                for req in list {
                    if Instant::now() >= stop_at {
                        break;
                    }
                    s.write_all(&req).await.expect("write");
                    let status = crate::http::read_response(&mut s, &mut buf)
                        .await
                        .expect("response");
                    assert_eq!(status, 201, "append refused");
                    acked.fetch_add(1, Ordering::SeqCst);
                }
            }));
        }
        let c = pg(&url).await;
        let mut lags = Vec::new();
        while Instant::now() < stop_at {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let before = acked.load(Ordering::SeqCst);
            let p = position(&c, &city).await;
            lags.push(before.saturating_sub(p));
        }
        for t in tasks {
            t.await.expect("producer");
        }
        let total = acked.load(Ordering::SeqCst);
        let t = Instant::now();
        let mut p = position(&c, &city).await;
        while p < total && t.elapsed() < Duration::from_secs(120) {
            tokio::time::sleep(Duration::from_millis(10)).await;
            p = position(&c, &city).await;
        }
        (lags, t.elapsed(), total, p)
    });
    let _ = Command::new("kill")
        .args(["-TERM", &sink.id().to_string()])
        .status();
    let _ = sink.wait();
    server.stop();
    rt.block_on(async {
        let c = pg(&a.url).await;
        for t in [
            "records",
            "county_days",
            "payroll",
            "watchlist",
            "plans",
            "plan_lines",
            "sink_position",
        ] {
            c.execute(&format!("DELETE FROM {t} WHERE city = $1"), &[&city])
                .await
                .expect("clean up");
        }
    });
    assert_eq!(final_pos, total, "the sink holds every acknowledged append");
    let mut sorted = lags.clone();
    sorted.sort_unstable();
    let pick = |q: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    json!({"appends": total, "appends_per_s": (total as f64 / seconds as f64).round(),
        "lag_records": {"samples": sorted.len(), "p50": pick(0.5), "p99": pick(0.99),
            "max": sorted.last().copied().unwrap_or(0)},
        "drain_s": drain.as_secs_f64(), "sampling": "every 100 ms: acknowledged appends − sink_position.seq"})
}
