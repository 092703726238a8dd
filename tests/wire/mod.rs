//! Shared helpers for the reliability tests that speak HTTP: a `sanbao serve` child
//! process on an OS-chosen loopback port, and a small HTTP/1.1 client over
//! `TcpStream` (one request per connection, `Connection: close`, chunked bodies
//! decoded). Every wait is bounded by a generous timeout.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Read and write timeout of every client socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Path of the built `sanbao` binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sanbao")
}

/// Runs `sanbao --data DIR ARGS…` to completion (bounded by the command itself).
pub fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .arg("--data")
        .arg(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SANBAO_TOKENS")
        .stdin(Stdio::null())
        .output()
        .expect("run sanbao")
}

/// Adds a user with `token add` and returns its token.
pub fn add_token(dir: &Path, name: &str, role: &str) -> String {
    let o = run(dir, &["token", "add", "--name", name, "--role", role]);
    assert!(
        o.status.success(),
        "token add: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let t = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(t.starts_with("sbt_"), "{t:?}");
    t
}

/// One user per role in DIR's tokens file (li.wei, zhang.min, wang.audit), with
/// their tokens.
pub struct RoleTokens {
    /// The officer's token (appends events).
    pub officer: String,
    /// The scheduler's token (issues plans).
    pub scheduler: String,
    /// The auditor's token (reads).
    pub auditor: String,
}

impl RoleTokens {
    /// Adds the three users with `token add`.
    pub fn add(dir: &Path) -> RoleTokens {
        RoleTokens {
            officer: add_token(dir, "li.wei", "officer"),
            scheduler: add_token(dir, "zhang.min", "scheduler"),
            auditor: add_token(dir, "wang.audit", "auditor"),
        }
    }
}

/// A running `sanbao serve` child.
pub struct Serve {
    /// The child process.
    pub child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Where its stderr goes.
    pub log: PathBuf,
    /// Its standard output after the `listening on` line, line by line.
    pub stdout: mpsc::Receiver<String>,
}

impl Serve {
    /// Starts `serve --listen 127.0.0.1:0` on `dir` with `env` set, and waits for its
    /// `listening on` line. Panics (with the log) if it exits or stays silent.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Serve {
        Serve::try_start(dir, env).unwrap_or_else(|log| panic!("serve did not start: {log}"))
    }

    /// As [`Serve::start`], with more arguments to `serve` (`--read-only`, …).
    pub fn start_with(dir: &Path, args: &[&str]) -> Serve {
        Serve::try_start_with(dir, &[], args)
            .unwrap_or_else(|log| panic!("serve did not start: {log}"))
    }

    /// As [`Serve::start`], but answers the log when serve does not start.
    pub fn try_start(dir: &Path, env: &[(&str, &str)]) -> Result<Serve, String> {
        Serve::try_start_with(dir, env, &[])
    }

    /// As [`Serve::try_start`], with more arguments to `serve`.
    pub fn try_start_with(
        dir: &Path,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Result<Serve, String> {
        let log = dir.with_extension(format!(
            "serve-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let err = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(bin());
        cmd.arg("--data")
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("SANBAO_TOKENS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn sanbao serve");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let read_log = |log: &Path| std::fs::read_to_string(log).unwrap_or_default();
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => {
                let addr = line
                    .strip_prefix("listening on http://")
                    .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
                    .to_string();
                Ok(Serve {
                    child,
                    addr,
                    log,
                    stdout: rx,
                })
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(read_log(&log))
            }
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("-TERM")
    }

    /// Sends a signal (`-TERM`, `-INT`) by pid and waits (bounded) for the exit status.
    pub fn signal(&mut self, sig: &str) -> ExitStatus {
        let pid = self.child.id().to_string();
        let s = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(s.success(), "kill {sig} {pid}");
        wait_bounded(&mut self.child, Duration::from_secs(90))
            .unwrap_or_else(|| panic!("serve did not exit after kill {sig}"))
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The durable head, from `/healthz`.
    pub fn head(&self) -> u64 {
        let r = get(&self.addr, "/healthz", "");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["head_seq"].as_u64().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for a child for at most `limit`; `None` (child still running) after it.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Header lines, in order.
    pub headers: Vec<(String, String)>,
    /// Body (de-chunked).
    pub body: Vec<u8>,
}

impl Resp {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client socket with the I/O timeouts set.
pub fn connect(addr: &str) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// The bytes of a request (`Connection: close`, `Content-Length` when there is a body).
pub fn request_bytes(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    bytes
}

/// Parses a response head: status and headers.
pub fn parse_head(text: &str) -> (u16, Vec<(String, String)>) {
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    (status, headers)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size_text = std::str::from_utf8(&b[..nl]).unwrap_or("0");
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < nl + 2 + size {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[(nl + 4 + size).min(b.len())..];
    }
    out
}

/// Parses a whole response read until the server closed the connection.
pub fn parse_response(buf: &[u8]) -> std::io::Result<Resp> {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            std::io::Error::other(format!(
                "no response head in {:?}",
                String::from_utf8_lossy(buf)
            ))
        })?;
    let (status, headers) = parse_head(&String::from_utf8_lossy(&buf[..end]));
    let rest = &buf[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// Sends raw bytes and reads the whole answer (the server closes the connection).
pub fn exchange(addr: &str, raw: &[u8]) -> std::io::Result<Resp> {
    let mut s = connect(addr)?;
    s.write_all(raw)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    parse_response(&buf)
}

/// Sends one request and reads its answer; panics on a transport error.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    exchange(addr, &request_bytes(method, path, headers, body))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// The `Authorization` header value for a bearer token.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `GET` with a bearer token (none when empty).
pub fn get(addr: &str, path: &str, token: &str) -> Resp {
    let auth = bearer(token);
    let h: Vec<(&str, &str)> = if token.is_empty() {
        vec![]
    } else {
        vec![("Authorization", &auth)]
    };
    request(addr, "GET", path, &h, None)
}

/// `POST` of a JSON body with a bearer token and extra headers.
pub fn post(addr: &str, path: &str, token: &str, body: &str, extra: &[(&str, &str)]) -> Resp {
    let auth = bearer(token);
    let mut h = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    h.extend_from_slice(extra);
    request(addr, "POST", path, &h, Some(body.as_bytes()))
}

/// Every record of the log, read page by page through `GET /v1/events`.
pub fn all_records(addr: &str, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut from = 1u64;
    for _ in 0..100_000 {
        let page = get(addr, &format!("/v1/events?from={from}&limit=10000"), token);
        assert_eq!(page.status, 200, "{}", page.text());
        let v = page.json();
        out.extend(v["records"].as_array().unwrap().iter().cloned());
        match v["next"].as_u64() {
            Some(n) => from = n,
            None => return out,
        }
    }
    panic!("too many pages")
}

/// Copies the directory `from` (files and subdirectories) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Opens `GET /v1/events/stream` with `token` and reads the response head only:
/// its status and headers, and the connection, still open.
pub fn open_stream(addr: &str, token: &str) -> (u16, Vec<(String, String)>, TcpStream) {
    let mut c = connect(addr).unwrap();
    c.write_all(&request_bytes(
        "GET",
        "/v1/events/stream",
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    ))
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(c.read(&mut b).unwrap(), 1, "closed before the head");
        head.push(b[0]);
    }
    let (status, headers) = parse_head(&String::from_utf8_lossy(&head));
    (status, headers, c)
}
