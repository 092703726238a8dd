//! `GET /metrics`: what operators scrape, in the OpenMetrics 1.0 text format (which
//! Prometheus reads, and prefers), encoded by the `prometheus-client` crate: `# HELP`
//! and `# TYPE` per family, counters' samples named `…_total`, cumulative histogram
//! buckets up to `+Inf`, and `# EOF` last.
//!
//! Counted as they happen: HTTP requests by method, route (the path template, so
//! `/v1/plans/{month}`) and status; CLI commands forwarded through the directory's
//! socket by command and exit code. Read when scraped, so never out of step with the
//! log: the writer's [`GroupStats`] (append jobs, events made durable, group commits
//! and a histogram of their write-and-sync time), the store's sync time, the durable
//! head seq, open event streams, whether the service is ready, and the snapshot (its
//! seq and age). Since start, `sanbao_events_appended_total` counts exactly the
//! records appended, so on a log served from empty it equals `sanbao_head_seq`.

use super::AppState;
use crate::log::writer::{GroupStats, COMMIT_BUCKETS_SECS};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    method: String,
    route: String,
    status: u16,
}

/// Labels of a forwarded CLI command.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Forwarded {
    command: String,
    code: u8,
}

/// The counters the service keeps as things happen (cheap to update from any task).
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Family<Request, Counter>,
    commands: Family<Forwarded, Counter>,
}

impl Metrics {
    /// Counts one answered HTTP request (a method HTTP does not define counts as
    /// `other`, so clients cannot make new series at will; `route` is a template).
    pub fn request(&self, method: &str, route: &str, status: u16) {
        const KNOWN: [&str; 9] = [
            "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT",
        ];
        let method = if KNOWN.contains(&method) {
            method
        } else {
            "other"
        };
        self.requests
            .get_or_create(&Request {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
    }

    /// Counts one CLI command run for a client of the directory's socket.
    pub fn command(&self, command: &str, code: u8) {
        self.commands
            .get_or_create(&Forwarded {
                command: command.to_string(),
                code,
            })
            .inc();
    }
}

/// What is read at scrape time.
#[derive(Debug)]
struct Now {
    stats: GroupStats,
    syncs: (u64, Duration),
    head_seq: u64,
    streams: u64,
    ready: bool,
    snapshot: Option<(u64, f64)>,
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

fn counter_f(enc: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for Now {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let s = &self.stats;
        counter(
            &mut enc,
            "append_jobs",
            "Appends and import batches the writer answered (refused ones included).",
            s.jobs,
        )?;
        counter(
            &mut enc,
            "events_appended",
            "Records made durable by this server since it started.",
            s.records,
        )?;
        counter(
            &mut enc,
            "group_commits",
            "Group commits made durable.",
            s.landed,
        )?;
        {
            let mut m: MetricEncoder = enc.encode_descriptor(
                "group_commit_seconds",
                "Time to write and sync one durable group commit.",
                None,
                MetricType::Histogram,
            )?;
            let mut buckets: Vec<(f64, u64)> = COMMIT_BUCKETS_SECS
                .iter()
                .copied()
                .zip(s.commit_buckets.iter().copied())
                .collect();
            buckets.push((f64::MAX, s.commit_buckets[COMMIT_BUCKETS_SECS.len()]));
            let count = s.commit_buckets.iter().sum();
            m.encode_histogram::<NoLabelSet>(s.commit_us as f64 / 1e6, count, &buckets, None)?;
        }
        counter(
            &mut enc,
            "fsyncs",
            "Durable syncs of group commits (sled's flush and fdatasync, then the head witness).",
            self.syncs.0,
        )?;
        counter_f(
            &mut enc,
            "fsync_seconds",
            "Time spent in those syncs.",
            self.syncs.1.as_secs_f64(),
        )?;
        gauge(
            &mut enc,
            "head_seq",
            "Seq of the last durable record.",
            i64::try_from(self.head_seq).unwrap_or(i64::MAX),
        )?;
        gauge(
            &mut enc,
            "sse_subscribers",
            "Event streams open (GET /v1/events/stream).",
            self.streams as i64,
        )?;
        gauge(
            &mut enc,
            "ready",
            "1 when the service is ready (see /readyz; a read-only standby serves reads only), else 0.",
            i64::from(self.ready),
        )?;
        gauge(
            &mut enc,
            "writer_stopped",
            "1 when a failed write could not be taken back: nothing is written until restart.",
            i64::from(s.stopped),
        )?;
        if let Some((seq, age)) = self.snapshot {
            gauge(
                &mut enc,
                "snapshot_seq",
                "Seq the last snapshot (DIR/state.snapshot) covers.",
                i64::try_from(seq).unwrap_or(i64::MAX),
            )?;
            let g = ConstGauge::new(age);
            g.encode(enc.encode_descriptor(
                "snapshot_age_seconds",
                "Seconds since the last snapshot was written.",
                None,
                g.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

/// The metrics of `app` now, in the text format.
pub fn render(app: &AppState) -> String {
    let dir = app.store().dir();
    let snapshot = crate::log::snapshot::peek(dir).map(|(seq, _)| {
        let age = std::fs::metadata(dir.join(crate::log::snapshot::FILE_NAME))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .map_or(0.0, |d| d.as_secs_f64());
        (seq, age)
    });
    let now = Now {
        stats: app.writer().stats(),
        syncs: app.store().sync_time(),
        head_seq: app.durable_head(),
        streams: app.open_streams(),
        ready: app.ready().is_ok(),
        snapshot,
    };
    let mut registry = Registry::with_prefix("sanbao");
    let m = app.metrics();
    registry.register(
        "http_requests",
        "HTTP requests answered, by method, route and status",
        m.requests.clone(),
    );
    registry.register(
        "forwarded_commands",
        "CLI commands run for clients of DIR/sanbao.sock, by command and exit code",
        m.commands.clone(),
    );
    registry.register_collector(Box::new(now));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    out
}
