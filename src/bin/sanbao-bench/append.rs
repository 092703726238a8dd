//! The workloads that drive the in-process writer: `append` (concurrent producers,
//! each awaiting its single-event append before the next) and `import` (bulk batches,
//! as `sanbao import` sends them), each reporting the writer's group-commit stats.
//!
//! Guarantees: every generated event is appended (asserted against the log's head);
//! each workload's report is `(name, params, results)` for `main` to print.

use crate::common::{dir_bytes, latency, note, per_s, pooled_batches, start_writer, Scratch};
use sanbao::bench::workload::{self, CityFunding, Config, Generator};
use sanbao::event::InputEvent;
use sanbao::log::writer::{Chain, Pending, Prepared, IMPORT_IN_FLIGHT};
use sanbao::log::{self, Store, Writer};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
/// The writer's group commits over a run of `events` events, per group.
fn group_stats(writer: &Writer, events: usize) -> Value {
    let s = writer.stats();
    let per = |v: u64| v as f64 / s.groups.max(1) as f64;
    json!({"groups": s.groups, "events_per_group": per(events as u64),
           "jobs_per_group": per(s.jobs), "linger_us_per_group": per(s.linger_us),
           "linger_timeouts": s.linger_timeouts, "work_us_per_group": per(s.work_us),
           "commit_us_per_group": per(s.commit_us), "pipelined": s.pipelined,
           "overlapped": s.overlapped})
}

/// `sanbao-bench append`: `events` durable single-event appends from `producers`
/// concurrent tokio tasks, each owning its share of `counties` (per-county funding).
pub(crate) fn append(
    scratch: &Scratch,
    seed: u64,
    producers: usize,
    events: usize,
    counties: Option<u32>,
    keys: bool,
) -> (&'static str, Value, Value) {
    let producers = producers.max(1);
    let counties = counties.unwrap_or(2 * producers as u32).max(1);
    let params = json!({"producers": producers, "events": events, "counties": counties,
                        "idempotency_keys": keys, "funding": "per_county"});
    note(format!(
        "generating {events} events for {producers} producers over {counties} counties"
    ));
    let mut cfg = Config::new(seed, counties);
    cfg.funding = CityFunding::PerCounty;
    let mut streams: Vec<Vec<InputEvent>> = vec![Vec::new(); producers];
    for (i, g) in Generator::new(cfg).take(events).enumerate() {
        let owner = g.county.expect("per-county events have an owner") as usize % producers;
        let mut e = workload::input(g.event);
        if keys {
            e.idempotency_key = Some(format!("bench-append-{i:09}"));
        }
        streams[owner].push(e);
    }
    let (wall, lat, groups, store) = run_producers(&scratch.log_dir(), streams);
    let head = store.head().expect("head").seq;
    assert_eq!(head, events as u64, "every event was appended");
    let results = json!({
        "events_per_s": per_s(events, wall), "wall_s": wall.as_secs_f64(),
        "latency": latency(lat), "disk_bytes_per_event": store.size_on_disk() as f64 / events as f64,
        "group_commits": groups,
    });
    ("append", params, results)
}

/// Appends each stream from a concurrent producer (a tokio task awaiting each
/// single-event append before the next, all released at once) through the real writer
/// on the log in `dir` (opened and folded first, not timed); returns the wall time,
/// every append's latency (ns), the writer's group-commit stats and the store.
pub(crate) fn run_producers(
    dir: &Path,
    streams: Vec<Vec<InputEvent>>,
) -> (Duration, Vec<u64>, Value, Store) {
    let producers = streams.len();
    let events: usize = streams.iter().map(Vec::len).sum();
    let (writer, thread) = start_writer(dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    note("appending");
    let (wall, lat) = rt.block_on(async {
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(producers + 1));
        let mut tasks = Vec::new();
        for stream in streams {
            let w = writer.clone();
            let start = start.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(stream.len());
                start.wait().await;
                for e in stream {
                    let t = Instant::now();
                    w.append(vec![e], None).await.expect("workload accepted");
                    lat.push(t.elapsed().as_nanos() as u64);
                }
                lat
            }));
        }
        start.wait().await;
        let t = Instant::now();
        let mut all = Vec::with_capacity(events);
        for task in tasks {
            all.extend(task.await.expect("producer"));
        }
        (t.elapsed(), all)
    });
    let groups = group_stats(&writer, events);
    drop(writer);
    let store = thread.join();
    (wall, lat, groups, store)
}

/// `sanbao-bench import`: `events` events in batches of `batch`, two in flight in one
/// chain per importer, from `clients` concurrent importers; also the stored size per
/// event and the parse cost of `sanbao import`'s JSON.
pub(crate) fn import(
    scratch: &Scratch,
    seed: u64,
    events: usize,
    batch: usize,
    counties: u32,
    clients: usize,
) -> (&'static str, Value, Value) {
    let batch = batch.clamp(1, log::writer::MAX_BATCH_EVENTS);
    let clients = clients.max(1);
    let funding = if clients == 1 { "pooled" } else { "per_county" };
    let params = json!({"events": events, "batch": batch, "counties": counties,
                        "funding": funding, "clients": clients});
    note(format!(
        "generating {events} events over {counties} counties"
    ));
    let t = Instant::now();
    let streams: Vec<Vec<Vec<InputEvent>>> = if clients == 1 {
        vec![pooled_batches(seed, counties, events, batch)]
    } else {
        let mut cfg = Config::new(seed, counties);
        cfg.funding = CityFunding::PerCounty;
        let mut own: Vec<Vec<InputEvent>> = vec![Vec::new(); clients];
        for g in Generator::new(cfg).take(events) {
            let owner = g.county.expect("per-county events have an owner") as usize % clients;
            own[owner].push(workload::input(g.event));
        }
        own.into_iter()
            .map(|events| {
                let mut it = events.into_iter().peekable();
                let mut out = Vec::new();
                while it.peek().is_some() {
                    out.push(it.by_ref().take(batch).collect());
                }
                out
            })
            .collect()
    };
    let generate = t.elapsed();
    // The parse cost of `sanbao import` (one JSON line per event), measured apart.
    let sample: Vec<String> = streams
        .iter()
        .flatten()
        .flatten()
        .take(100_000)
        .map(|e| e.event.to_json().to_string())
        .collect();
    let t = Instant::now();
    for line in &sample {
        // `sanbao import`'s path for an event line.
        sanbao::event::Event::parse_text(line).expect("valid");
    }
    let parse = t.elapsed();
    let (writer, thread) = start_writer(&scratch.log_dir());
    note("importing");
    // Each importer does as `sanbao import` does: it keeps two batches with the
    // writer, in one chain (so nothing is written after a refused one), and prepares
    // the next (its hash prefixes) meanwhile. The writer checks the second while the
    // first is written. Each importer has a thread of its own.
    let load = |batches: Vec<Vec<InputEvent>>| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let chain = Chain::new();
        let mut lat = Vec::with_capacity(batches.len());
        let mut in_flight = std::collections::VecDeque::new();
        for b in batches {
            let b = Prepared::new(b);
            if in_flight.len() == IMPORT_IN_FLIGHT {
                let (s, pending): (Instant, Pending) = in_flight.pop_front().expect("full");
                rt.block_on(pending.wait()).expect("workload accepted");
                lat.push(s.elapsed().as_nanos() as u64);
            }
            let s = Instant::now();
            let pending = rt
                .block_on(writer.submit_in(&chain, b))
                .expect("writer running");
            in_flight.push_back((s, pending));
        }
        for (s, pending) in in_flight {
            rt.block_on(pending.wait()).expect("workload accepted");
            lat.push(s.elapsed().as_nanos() as u64);
        }
        lat
    };
    let t = Instant::now();
    let lat: Vec<u64> = std::thread::scope(|sc| {
        let loaders: Vec<_> = streams
            .into_iter()
            .map(|batches| sc.spawn(|| load(batches)))
            .collect();
        loaders
            .into_iter()
            .flat_map(|h| h.join().expect("importer"))
            .collect()
    });
    let wall = t.elapsed();
    let groups = group_stats(&writer, events);
    drop(writer);
    let store = thread.join();
    store.sync().expect("sync");
    let head = store.head().expect("head").seq;
    assert_eq!(head, events as u64, "every event was appended");
    // Stored (compact) bytes, and the bincode size of the whole records that the
    // disk target is measured against.
    let (mut value_bytes, mut bincode_bytes, mut n) = (0u64, 0u64, 0u64);
    let (mut json_bytes, mut json_n) = (0u64, 0u64);
    for item in store.raw_range(1, u64::MAX) {
        let stored = item.expect("read");
        value_bytes += stored.bytes.len() as u64;
        let r = stored.decode().expect("decode");
        bincode_bytes += r.encode().len() as u64 - 1;
        n += 1;
        if stored.seq <= 10_000 {
            json_bytes += r.to_json_line().len() as u64 + 1;
            json_n += 1;
        }
    }
    let disk = store.size_on_disk();
    let blocks = store.block_count();
    drop(store);
    let files = dir_bytes(&scratch.log_dir());
    let value_per = value_bytes as f64 / n as f64;
    let bincode_per = bincode_bytes as f64 / n as f64;
    let results = json!({
        "events_per_s": per_s(events, wall), "wall_s": wall.as_secs_f64(),
        "batch_latency": latency(lat),
        "disk_bytes_per_event": disk as f64 / events as f64,
        "files_bytes_per_event": files as f64 / events as f64,
        "stored_value_bytes_per_event": value_per,
        "bincode_bytes_per_event": bincode_per,
        "group_commits": groups,
        "blocks": blocks,
        "records_per_block": n as f64 / blocks.max(1) as f64,
        // One 9-byte key and 37 bytes of block header per block, 4 bytes of length
        // per record.
        "framing_bytes_per_event": (blocks as f64 * 46.0 + n as f64 * 4.0) / n as f64,
        "disk_over_bincode": (disk as f64 / events as f64) / bincode_per,
        "export_json_bytes_per_event": json_bytes as f64 / json_n.max(1) as f64,
        "generate_events_per_s": per_s(events, generate),
        "parse_json_events_per_s": per_s(sample.len(), parse),
    });
    ("import", params, results)
}
