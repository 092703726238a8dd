//! `sanbao-bench http`: single-event appends over HTTP/1.1 keep-alive on loopback to
//! a `sanbao serve` child, from a hand-written client (one tokio thread, one request
//! at a time per connection), with a warm-up that is not measured.
//!
//! Guarantees: every request answered 201 is in the log afterwards (asserted against
//! its head); requests are prepared before the server starts, so the client's own
//! cost is the writing and reading of bytes.

use crate::common::{latency, note, sanbao_bin, Scratch};
use crate::server::{make_token, start_server};
use sanbao::bench::workload::{CityFunding, Config, Generator};
use sanbao::log::Store;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The options of `sanbao-bench http` (see its command line).
pub(crate) struct HttpArgs {
    /// Concurrent connections.
    pub(crate) connections: usize,
    /// Measured seconds, after the warm-up.
    pub(crate) seconds: u64,
    /// Warm-up seconds, not measured.
    pub(crate) warmup: u64,
    /// Counties [default: 2 × connections].
    pub(crate) counties: Option<u32>,
    /// Requests prepared in advance.
    pub(crate) max_events: usize,
    /// The sanbao binary [default: next to this one].
    pub(crate) sanbao: Option<PathBuf>,
}

/// Reads one HTTP/1.1 response (Content-Length bodies only); returns the status.
pub(crate) async fn read_response(
    s: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<u16> {
    read_response_len(s, buf).await.map(|(status, _)| status)
}

/// Reads one HTTP/1.1 response (Content-Length bodies only; a chunked one is an
/// error); returns the status and the body's length.
pub(crate) async fn read_response_len(
    s: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, usize)> {
    use tokio::io::AsyncReadExt;
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let header = |name: &str| {
                head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
            };
            if header("transfer-encoding").is_some() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "a chunked response (the client reads Content-Length bodies only)",
                ));
            }
            let len: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let total = end + 4 + len;
            while buf.len() < total {
                buf.reserve(64 * 1024);
                if s.read_buf(buf).await? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
            }
            buf.drain(..total);
            return Ok((status, len));
        }
        buf.reserve(4096);
        if s.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// What one connection sends: each request of a list once, in order (appends), or the
/// same request again and again (reads).
pub(crate) enum Requests {
    /// The list and the index of the next request to send.
    Each(Vec<Vec<u8>>, usize),
    /// One request, sent until the time is up.
    Repeat(Vec<u8>),
}

/// What one connection did: the latencies measured (ns), the answers with the
/// expected status and the others in the measured window, the requests sent in all,
/// whether its list ran out before the time, and the body bytes measured.
#[derive(Default)]
pub(crate) struct ConnStats {
    /// Latencies of the measured requests, in nanoseconds.
    pub(crate) lat: Vec<u64>,
    /// Measured answers with the expected status.
    pub(crate) ok: u64,
    /// Answers with another status (warm-up included).
    pub(crate) bad: u64,
    /// Requests sent in all (warm-up included).
    pub(crate) sent: u64,
    /// The list ran out before the time was up.
    pub(crate) exhausted: bool,
    /// Body bytes of the measured answers.
    pub(crate) body_bytes: u64,
}

/// One keep-alive connection to `addr` sending `reqs` one at a time until they run
/// out or `stop_at`; answers from `measure_from` on are measured. Returns what it did
/// and the requests (an `Each` list advanced past what was sent).
pub(crate) async fn drive(
    addr: String,
    mut reqs: Requests,
    ok_status: u16,
    measure_from: Instant,
    stop_at: Instant,
) -> (ConnStats, Requests) {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut buf = Vec::with_capacity(8192);
    let mut c = ConnStats {
        exhausted: true,
        ..ConnStats::default()
    };
    loop {
        let req: &[u8] = match &reqs {
            Requests::Each(list, i) => match list.get(*i) {
                Some(r) => r,
                None => break,
            },
            Requests::Repeat(r) => r,
        };
        let t = Instant::now();
        if t >= stop_at {
            c.exhausted = false;
            break;
        }
        s.write_all(req).await.expect("write");
        let (status, len) = read_response_len(&mut s, &mut buf).await.expect("response");
        if let Requests::Each(_, i) = &mut reqs {
            *i += 1;
        }
        c.sent += 1;
        if t >= measure_from {
            c.lat.push(t.elapsed().as_nanos() as u64);
            if status == ok_status {
                c.ok += 1;
                c.body_bytes += len as u64;
            } else {
                c.bad += 1;
            }
        } else if status != ok_status {
            c.bad += 1;
        }
    }
    (c, reqs)
}

/// `sanbao-bench http`: requests per second and their latency over `a.seconds`.
pub(crate) fn http(scratch: &Scratch, seed: u64, a: HttpArgs) -> (&'static str, Value, Value) {
    let conns = a.connections.max(1);
    let counties = a.counties.unwrap_or(2 * conns as u32).max(1);
    let params = json!({"connections": conns, "seconds": a.seconds, "warmup_s": a.warmup,
        "counties": counties, "max_events": a.max_events, "funding": "per_county",
        "client": "hand-written HTTP/1.1 keep-alive, one tokio thread"});
    let bin = sanbao_bin(a.sanbao);
    let data = scratch.log_dir();
    std::fs::create_dir_all(&data).expect("data dir");
    let tokens = scratch.path.join("tokens.json");
    let token = make_token(&bin, &data, &tokens);
    note(format!(
        "preparing {} requests for {conns} connections",
        a.max_events
    ));
    let mut cfg = Config::new(seed, counties);
    cfg.funding = CityFunding::PerCounty;
    let mut reqs: Vec<Vec<Vec<u8>>> = vec![Vec::new(); conns];
    for g in Generator::new(cfg).take(a.max_events) {
        let owner = g.county.expect("owner") as usize % conns;
        let body = g.event.to_json().to_string();
        let req = format!(
            "POST /v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        reqs[owner].push(req.into_bytes());
    }
    let (server, ready) = start_server(&bin, &data, &tokens);
    note(format!("server ready in {ready:?} at {}", server.addr));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let addr = server.addr.clone();
    let (seconds, warmup) = (a.seconds, a.warmup);
    let outcome = rt.block_on(async move {
        let t0 = Instant::now();
        let measure_from = t0 + Duration::from_secs(warmup);
        let stop_at = measure_from + Duration::from_secs(seconds);
        let tasks: Vec<_> = reqs
            .into_iter()
            .map(|list| {
                let reqs = Requests::Each(list, 0);
                tokio::spawn(drive(addr.clone(), reqs, 201, measure_from, stop_at))
            })
            .collect();
        let mut lat = Vec::new();
        let (mut ok, mut bad, mut sent, mut exhausted) = (0, 0, 0, 0usize);
        for t in tasks {
            let (c, _) = t.await.expect("connection");
            lat.extend(c.lat);
            ok += c.ok;
            bad += c.bad;
            sent += c.sent;
            exhausted += c.exhausted as usize;
        }
        let measured = Instant::now()
            .min(stop_at)
            .saturating_duration_since(measure_from);
        (lat, ok, bad, sent, exhausted, measured)
    });
    let (lat, ok, bad, sent, exhausted, measured) = outcome;
    let stopped = server.stop();
    let store = Store::open(&data).expect("open the log");
    let head = store.head().expect("head").seq;
    let results = json!({
        "requests_per_s": (ok as f64 / measured.as_secs_f64()).round(),
        "measured_requests": ok, "non_201": bad, "sent_total": sent, "log_head_after": head,
        "connections_out_of_requests": exhausted, "latency": latency(lat),
        "server_ready_s": ready.as_secs_f64(), "server_stop_s": stopped.as_secs_f64(),
    });
    assert_eq!(head, sent - bad, "every request answered 201 is in the log");
    ("http", params, results)
}
