//! `sanbao-bench http --read monitor|plan` (issue 21): reads under load. A city is
//! loaded into a fresh data directory before `sanbao serve` starts — the sample city
//! (`replay/sample-city`, built into `sanbao` as `SAMPLE_EVENTS`, appended as `sanbao
//! demo` does) or a generated one (`--events` pooled events over `--counties`,
//! through the in-process import) — then, over HTTP/1.1 keep-alive on loopback, from
//! one tokio thread, up to three phases of `--warmup` + `--seconds` each:
//! - `reads`: `--connections` readers alone, each asking `GET /v1/monitor?as_of=D`
//!   (D: the loaded log's latest effective date, the default `as_of`, kept fixed so
//!   that appended events do not move it) or `GET /v1/plans/{month}` (the month after
//!   D) one request at a time;
//! - `appends_alone` (with `--compare`): `--appends` connections of single-event
//!   appends (`POST /v1/events`), without readers;
//! - `reads_with_appends` (with `--appends`): the readers and the appenders at once.
//!
//! The appended events are per-county streams of `2 × --appends` new counties (after
//! the generated city's, or `c00000…` beside the sample city's), starting on 1 January
//! of the year after the log's latest date, so they pass the rules in any
//! interleaving and never backdate the loaded city. Each append connection continues
//! its own stream from one phase to the next, so the log grows during the append
//! phases. The readers' `as_of` and plan month stay those of the loaded city, and
//! the appended counties have nothing dated by then, so the answers stay the same
//! size (`body_bytes_mean` of each phase shows it) while the log grows under them.
//!
//! Guarantees: every append answered 201 is in the log afterwards (asserted against
//! its head); requests are prepared before the server starts; reads and appends are
//! reported apart (rate, latency percentiles, non-200 / non-201 answers); the loaded
//! city is reported (head, counties, latest date) so a figure says what was read.

use crate::common::{import_log, latency, note, owned_events, sanbao_bin, start_writer, Scratch};
use crate::http::{drive, ConnStats, Requests};
use crate::server::{make_token, start_server};
use sanbao::log::{self, Store};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the readers ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReadKind {
    /// `GET /v1/monitor?as_of=D` (SPEC §6.2), D the loaded log's latest date.
    Monitor,
    /// `GET /v1/plans/{month}` for the month after the log's latest effective date.
    Plan,
}

/// The city loaded before the server starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum City {
    /// `replay/sample-city` (2,412 events), as `sanbao demo` loads it.
    Sample,
    /// `--events` pooled generated events over `--counties` counties.
    Generated,
}

/// The options of `sanbao-bench http --read` (see its command line).
pub(crate) struct ReadArgs {
    /// What the readers ask for.
    pub(crate) read: ReadKind,
    /// The city loaded first.
    pub(crate) city: City,
    /// Counties of the generated city.
    pub(crate) counties: u32,
    /// Events of the generated city.
    pub(crate) events: usize,
    /// Reader connections.
    pub(crate) connections: usize,
    /// Append connections (0: reads alone).
    pub(crate) appends: usize,
    /// Also measure the appends alone, before the mixed phase.
    pub(crate) compare: bool,
    /// Measured seconds of each phase.
    pub(crate) seconds: u64,
    /// Warm-up seconds of each phase, not measured.
    pub(crate) warmup: u64,
    /// Append requests prepared in advance (over all phases).
    pub(crate) max_events: usize,
    /// The sanbao binary [default: next to this one].
    pub(crate) sanbao: Option<PathBuf>,
}

/// Loads the city into the empty log in `dir`; returns what was loaded.
fn load_city(dir: &Path, seed: u64, a: &ReadArgs) -> Value {
    match a.city {
        City::Generated => import_log(dir, seed, a.counties, a.events, 1000).0,
        City::Sample => {
            note("loading the sample city (replay/sample-city), as sanbao demo does");
            let (_, events) = sanbao::event::parse_input(sanbao::cli::SAMPLE_EVENTS)
                .unwrap_or_else(|(i, e)| panic!("the shipped sample is broken at {i:?}: {e}"));
            let n = events.len();
            let (writer, thread) = start_writer(dir);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            for chunk in events.chunks(log::writer::MAX_BATCH_EVENTS) {
                rt.block_on(writer.append(chunk.to_vec(), None))
                    .expect("the sample city is accepted");
            }
            drop(writer);
            let store = thread.join();
            json!({"events": n, "source": "replay/sample-city/events.jsonl",
                   "disk_bytes": store.size_on_disk()})
        }
    }
}

/// One phase's connections together: a summary of one side (readers or appenders).
fn side(stats: &mut [ConnStats], ok_status: u16, measured: Duration) -> Value {
    let lat: Vec<u64> = stats
        .iter_mut()
        .flat_map(|c| std::mem::take(&mut c.lat))
        .collect();
    let ok: u64 = stats.iter().map(|c| c.ok).sum();
    let bad: u64 = stats.iter().map(|c| c.bad).sum();
    let sent: u64 = stats.iter().map(|c| c.sent).sum();
    let bytes: u64 = stats.iter().map(|c| c.body_bytes).sum();
    let mut v = json!({
        "connections": stats.len(),
        "requests_per_s": (ok as f64 / measured.as_secs_f64()).round(),
        "measured_requests": ok, "sent_total": sent, "latency": latency(lat),
    });
    if ok_status == 200 {
        v["non_200"] = json!(bad);
        v["body_bytes_mean"] = json!((bytes as f64 / ok.max(1) as f64).round());
    } else {
        v["non_201"] = json!(bad);
        v["connections_out_of_requests"] = json!(stats.iter().filter(|c| c.exhausted).count());
    }
    v
}

/// `sanbao-bench http --read`: the phases of the module docs, one JSON report.
pub(crate) fn http_reads(
    scratch: &Scratch,
    seed: u64,
    a: ReadArgs,
) -> (&'static str, Value, Value) {
    let readers = a.connections.max(1);
    let appenders = a.appends;
    let compare = a.compare && appenders > 0;
    let bin = sanbao_bin(a.sanbao.clone());
    let data = scratch.log_dir();
    std::fs::create_dir_all(&data).expect("data dir");
    let loaded = load_city(&data, seed, &a);
    // What the server will serve: the head, the counties, the latest date.
    let (head_before, county_count, latest) = {
        let store = Store::open(&data).expect("open the log");
        let st = log::load_state(&store, None, |_| {}).expect("fold the log");
        (st.head_seq, st.county_count(), st.max_effective_date)
    };
    let latest = latest.expect("the loaded city has dated events");
    let month = latest.month().add(1).expect("a next month");
    let first_county = match a.city {
        City::Generated => a.counties,
        City::Sample => 0,
    };
    let append_counties = 2 * appenders as u32;
    let start_year = latest.month().year() + 1;
    let tokens = scratch.path.join("tokens.json");
    let token = make_token(&bin, &data, &tokens);
    let path = match a.read {
        // The default as_of (the latest effective date) would follow the appended
        // events into the next year; the loaded city's is kept for every phase.
        ReadKind::Monitor => format!("/v1/monitor?as_of={latest}"),
        ReadKind::Plan => format!("/v1/plans/{month}"),
    };
    let read_req = format!(
        "GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    )
    .into_bytes();
    let mut append_reqs: Vec<Option<Requests>> = Vec::new();
    if appenders > 0 {
        note(format!(
            "preparing {} append requests for {appenders} connections over {append_counties} new counties from {start_year}",
            a.max_events
        ));
        for stream in owned_events(
            seed,
            first_county,
            append_counties,
            start_year,
            a.max_events,
            appenders,
        ) {
            let list = stream
                .into_iter()
                .map(|e| {
                    let body = e.to_json().to_string();
                    format!(
                        "POST /v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .into_bytes()
                })
                .collect();
            append_reqs.push(Some(Requests::Each(list, 0)));
        }
    }
    let params = json!({
        "read": path.clone(), "city": format!("{:?}", a.city).to_lowercase(),
        "counties": if a.city == City::Generated { json!(a.counties) } else { Value::Null },
        "events": if a.city == City::Generated { json!(a.events) } else { Value::Null },
        "connections": readers, "appends": appenders, "compare": compare,
        "append_counties": append_counties, "append_from_year": start_year,
        "seconds": a.seconds, "warmup_s": a.warmup, "max_events": a.max_events,
        "funding": "per_county (appends)",
        "client": "hand-written HTTP/1.1 keep-alive, one tokio thread",
    });
    let (server, ready) = start_server(&bin, &data, &tokens);
    note(format!("server ready in {ready:?} at {}", server.addr));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (seconds, warmup) = (a.seconds, a.warmup);
    let addr = server.addr.clone();
    // One phase: `readers` reader connections and, when `with_appends`, the append
    // connections, all at once; returns each side's stats and the measured time.
    let mut phase = |name: &str, readers: usize, with_appends: bool| {
        note(format!("phase {name}: {seconds} s (+{warmup} s warm-up)"));
        rt.block_on(async {
            let t0 = Instant::now();
            let measure_from = t0 + Duration::from_secs(warmup);
            let stop_at = measure_from + Duration::from_secs(seconds);
            let read_tasks: Vec<_> = (0..readers)
                .map(|_| {
                    let reqs = Requests::Repeat(read_req.clone());
                    tokio::spawn(drive(addr.clone(), reqs, 200, measure_from, stop_at))
                })
                .collect();
            let append_tasks: Vec<_> = if with_appends {
                append_reqs
                    .iter_mut()
                    .map(|r| {
                        let reqs = r.take().expect("the list is back");
                        tokio::spawn(drive(addr.clone(), reqs, 201, measure_from, stop_at))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let mut reads = Vec::new();
            for t in read_tasks {
                reads.push(t.await.expect("reader").0);
            }
            let mut appends = Vec::new();
            for (t, slot) in append_tasks.into_iter().zip(append_reqs.iter_mut()) {
                let (c, reqs) = t.await.expect("appender");
                *slot = Some(reqs);
                appends.push(c);
            }
            let measured = Instant::now()
                .min(stop_at)
                .saturating_duration_since(measure_from);
            (reads, appends, measured)
        })
    };
    let mut results = json!({});
    let mut appended = 0u64;
    let (mut reads, _, measured) = phase("reads", readers, false);
    results["reads"] = side(&mut reads, 200, measured);
    let mut alone_rate = None;
    if compare {
        let (_, mut appends, measured) = phase("appends_alone", 0, true);
        appended += appends.iter().map(|c| c.sent - c.bad).sum::<u64>();
        let v = side(&mut appends, 201, measured);
        alone_rate = v["requests_per_s"].as_f64();
        results["appends_alone"] = v;
    }
    if appenders > 0 {
        let (mut reads, mut appends, measured) = phase("reads_with_appends", readers, true);
        appended += appends.iter().map(|c| c.sent - c.bad).sum::<u64>();
        let r = side(&mut reads, 200, measured);
        let w = side(&mut appends, 201, measured);
        if let (Some(alone), Some(mixed)) = (alone_rate, w["requests_per_s"].as_f64()) {
            results["appends_with_readers_over_alone"] =
                json!((mixed / alone.max(1.0) * 1000.0).round() / 1000.0);
        }
        if let (Some(alone), Some(mixed)) = (
            results["reads"]["requests_per_s"].as_f64(),
            r["requests_per_s"].as_f64(),
        ) {
            results["reads_with_appends_over_alone"] =
                json!((mixed / alone.max(1.0) * 1000.0).round() / 1000.0);
        }
        results["reads_with_appends"] = json!({"reads": r, "appends": w});
    }
    let stopped = server.stop();
    let head_after = Store::open(&data)
        .expect("open the log")
        .head()
        .expect("head")
        .seq;
    assert_eq!(
        head_after,
        head_before + appended,
        "every append answered 201 is in the log"
    );
    results["city"] = json!({"loaded": loaded, "head_seq": head_before, "counties": county_count,
        "latest_date": latest.to_string(), "plan_month": month.to_string(),
        "head_seq_after": head_after});
    results["server_ready_s"] = json!(ready.as_secs_f64());
    results["server_stop_s"] = json!(stopped.as_secs_f64());
    ("http_reads", params, results)
}
