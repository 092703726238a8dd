//! Bounded time and connections: slow-loris clients (one header byte per second, a
//! body that trickles, a connection that says nothing) are cut off within the
//! configured timeouts while normal clients keep being served; the connection cap
//! makes the next client wait (in the backlog) rather than grow without bound; the
//! stream cap answers 503 with `Retry-After`.
//!
//! The service runs in-process with short limits (2 s); one test runs the real binary
//! with its defaults (`sanbao serve`: 10 s for a request head). The only time bounds
//! asserted are "cut off before timeout + a generous margin".

use crate::inproc;
use crate::wire;

use inproc::InProc;
use sanbao::server::Limits;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use wire::*;

const SHORT: Duration = Duration::from_secs(2);
const MARGIN: Duration = Duration::from_secs(20);

fn short_limits() -> Limits {
    Limits {
        header_read: SHORT,
        body_read: SHORT,
        max_connections: 8,
        max_streams: 2,
        shutdown_grace: Duration::from_secs(30),
    }
}

/// How a trickling client ended.
#[derive(Debug)]
struct Trickle {
    /// Bytes it managed to send.
    sent: usize,
    /// From the first byte to the server closing.
    elapsed: Duration,
    /// What the server said before closing (possibly nothing).
    answer: Vec<u8>,
}

/// Sends `prefix` at once, then `slow` one byte per `every`, until the server closes
/// the connection (or `slow` runs out: then panics).
fn trickle(addr: &str, prefix: &[u8], slow: &[u8], every: Duration) -> Trickle {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(every)).unwrap();
    let start = Instant::now();
    s.write_all(prefix).unwrap();
    let mut answer = Vec::new();
    let mut sent = prefix.len();
    for &b in slow {
        // Wait `every` for the server to speak or close.
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => {
                    return Trickle {
                        sent,
                        elapsed: start.elapsed(),
                        answer,
                    }
                }
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(_) => {
                    return Trickle {
                        sent,
                        elapsed: start.elapsed(),
                        answer,
                    }
                }
            }
        }
        if s.write_all(&[b]).is_err() {
            return Trickle {
                sent,
                elapsed: start.elapsed(),
                answer,
            };
        }
        sent += 1;
    }
    panic!("the server never cut off a client that trickled {sent} bytes");
}

/// A healthz request every 100 ms from another thread until `done`; answers how many
/// were served (all must be 200).
fn keep_asking(
    addr: String,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut n = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) && n < 10_000 {
            let r = get(&addr, "/healthz", "");
            assert_eq!(r.status, 200);
            n += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        n
    })
}

#[test]
fn a_slow_loris_header_is_cut_off_while_others_are_served() {
    let tmp = tempfile::tempdir().unwrap();
    let s = InProc::start(tmp.path(), short_limits());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let asker = keep_asking(s.addr.clone(), done.clone());
    let head = format!(
        "GET /v1/monitor HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-Padding: {}\r\n\r\n",
        s.auditor,
        "p".repeat(200)
    );
    let t = trickle(&s.addr, b"G", &head.as_bytes()[1..], Duration::from_secs(1));
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let served = asker.join().unwrap();
    assert!(t.sent < head.len(), "{t:?}");
    assert!(t.elapsed < SHORT + MARGIN, "{t:?}");
    assert!(served >= 1, "normal clients were served meanwhile");
    println!(
        "slow loris: cut off after {} bytes in {:?}; {served} requests served meanwhile",
        t.sent, t.elapsed
    );
}

#[test]
fn a_silent_connection_and_an_idle_keep_alive_connection_are_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let s = InProc::start(tmp.path(), short_limits());
    // Says nothing at all.
    let mut silent = TcpStream::connect(&s.addr).unwrap();
    silent.set_read_timeout(Some(SHORT + MARGIN)).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let n = silent.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
    assert!(start.elapsed() < SHORT + MARGIN);
    // One request on a keep-alive connection, then nothing.
    let mut ka = TcpStream::connect(&s.addr).unwrap();
    ka.set_read_timeout(Some(SHORT + MARGIN)).unwrap();
    ka.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    loop {
        match ka.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        start.elapsed() < SHORT + MARGIN,
        "idle keep-alive closed in time"
    );
}

#[test]
fn a_trickling_body_gets_408_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let s = InProc::start(tmp.path(), short_limits());
    let body =
        br#"{"kind":"county_registered","county":"a","name":"x","registered_on":"2021-01-01"}"#;
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        s.officer,
        body.len()
    );
    let t = trickle(&s.addr, head.as_bytes(), body, Duration::from_secs(1));
    assert!(t.sent < head.len() + body.len(), "{t:?}");
    assert!(t.elapsed < SHORT + MARGIN, "{t:?}");
    let r = parse_response(&t.answer).expect("an answer before the close");
    assert_eq!(r.status, 408, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "request_timeout");
    assert_eq!(
        get(&s.addr, "/healthz", "").json()["head_seq"],
        0,
        "nothing written"
    );
}

#[test]
fn the_connection_cap_makes_the_next_client_wait_until_a_place_frees() {
    let tmp = tempfile::tempdir().unwrap();
    let limits = short_limits();
    let s = InProc::start(tmp.path(), limits);
    // Fill every place with a connection that says nothing.
    let holders: Vec<TcpStream> = (0..limits.max_connections)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    // One more client: it is accepted (in arrival order) only once the server has
    // closed one of the silent ones, after their head-read timeout.
    let start = Instant::now();
    let r = get(&s.addr, "/healthz", "");
    assert_eq!(r.status, 200);
    assert!(start.elapsed() < SHORT + MARGIN);
    // So by the time it was answered, the server had closed at least one of them.
    let closed = holders
        .into_iter()
        .filter(|c| {
            c.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 16];
            let mut c = c;
            match c.read(&mut buf) {
                Ok(0) => true,
                Ok(_) => true,
                Err(e) => e.kind() != ErrorKind::WouldBlock,
            }
        })
        .count();
    assert!(
        closed >= 1,
        "the client over the cap was served only once a place was freed"
    );
}

#[test]
fn the_stream_cap_answers_503_with_retry_after_and_frees_on_disconnect() {
    let tmp = tempfile::tempdir().unwrap();
    let s = InProc::start(tmp.path(), short_limits());
    let open_stream = |token: &str| -> (u16, Option<String>, TcpStream) {
        let (status, headers, c) = wire::open_stream(&s.addr, token);
        let retry = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
            .map(|(_, v)| v.clone());
        (status, retry, c)
    };
    let (a, _, first) = open_stream(&s.auditor);
    let (b, _, _second) = open_stream(&s.officer);
    assert_eq!((a, b), (200, 200));
    let (c, retry, _) = open_stream(&s.scheduler);
    assert_eq!(c, 503);
    assert!(retry.is_some(), "Retry-After is given");
    // One client goes away: once the server notices (it writes a record to it), a new
    // stream is let in.
    drop(first);
    let mut n = 0u64;
    loop {
        n += 1;
        assert!(n < 600, "the place of a closed stream was never given back");
        let ev = format!(
            r#"{{"kind":"county_registered","county":"c{n}","name":"x","registered_on":"2021-01-01"}}"#
        );
        assert_eq!(
            post(&s.addr, "/v1/events", &s.officer, &ev, &[]).status,
            201
        );
        let (st, _, _) = open_stream(&s.scheduler);
        if st == 200 {
            break;
        }
        assert_eq!(st, 503);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_real_binary_cuts_off_a_slow_loris_within_its_default_header_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let token = add_token(&dir, "wang.audit", "auditor");
    let s = Serve::start(&dir, &[]);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let asker = keep_asking(s.addr.clone(), done.clone());
    let head = format!(
        "GET /v1/monitor HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nX-Padding: {}\r\n\r\n",
        "p".repeat(100)
    );
    let t = trickle(&s.addr, b"G", &head.as_bytes()[1..], Duration::from_secs(1));
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let served = asker.join().unwrap();
    let default = sanbao::server::HEADER_READ_TIMEOUT;
    assert!(t.elapsed < default + MARGIN, "{t:?}");
    assert!(t.sent < head.len());
    assert!(served >= 1);
    println!(
        "real binary: slow loris cut off after {} bytes in {:?} (default header timeout {default:?}); {served} requests served meanwhile",
        t.sent, t.elapsed
    );
}
