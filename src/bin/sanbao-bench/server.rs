//! A `sanbao serve` child for the `http` and `startup` workloads: an officer's token,
//! starting the server on a free loopback port and waiting for its readiness line,
//! and stopping it.
//!
//! Guarantees: a started server has printed its readiness line (its address is read
//! from it); stopping first waits until it answers HTTP (so its signal handlers are
//! in place and SIGTERM stops it gracefully), then sends SIGTERM, then SIGKILL if the
//! child has not exited after 30 s, and reaps it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Adds an officer to a tokens file with `sanbao token add`; returns the token.
pub(crate) fn make_token(bin: &Path, data: &Path, tokens: &Path) -> String {
    let out = Command::new(bin)
        .arg("--data")
        .arg(data)
        .args([
            "token", "add", "--name", "bench", "--role", "officer", "--tokens",
        ])
        .arg(tokens)
        .stderr(Stdio::null())
        .output()
        .expect("run sanbao token add");
    assert!(out.status.success(), "sanbao token add failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A running `sanbao serve` and the address it listens on.
pub(crate) struct Server {
    child: Child,
    /// `host:port`, from the readiness line.
    pub(crate) addr: String,
}

/// Starts `sanbao serve` on port 0 and waits for its readiness line; returns the
/// server and the time it took.
pub(crate) fn start_server(bin: &Path, data: &Path, tokens: &Path) -> (Server, Duration) {
    let t = Instant::now();
    let mut child = Command::new(bin)
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0", "--tokens"])
        .arg(tokens)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sanbao serve");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout
        .read_line(&mut line)
        .expect("read the readiness line");
    let ready = t.elapsed();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected readiness line {line:?}"))
        .to_string();
    (Server { child, addr }, ready)
}

impl Server {
    /// Waits until the server answers `GET /healthz` (up to 30 s). The readiness line
    /// comes before the server installs its signal handlers, so a SIGTERM sent right
    /// after it could kill the process outright (no graceful stop, no snapshot
    /// written); once it answers HTTP, its handlers are in place.
    fn wait_serving(&self) {
        use std::io::{Read, Write};
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(mut s) = std::net::TcpStream::connect(&self.addr) {
                let req = format!(
                    "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    self.addr
                );
                let mut answer = Vec::new();
                if s.write_all(req.as_bytes()).is_ok()
                    && s.read_to_end(&mut answer).is_ok()
                    && answer.starts_with(b"HTTP/1.1 ")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until the server answers HTTP (not timed), then SIGTERM, then waits
    /// (SIGKILL after 30 s); returns how long it took to stop from the SIGTERM. A
    /// server that died of the signal instead of stopping is noted on stderr.
    pub(crate) fn stop(mut self) -> Duration {
        self.wait_serving();
        let t = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                use std::os::unix::process::ExitStatusExt;
                if status.signal().is_some() {
                    crate::common::note(format!("sanbao serve did not stop cleanly: {status}"));
                }
                break;
            }
            if t.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        t.elapsed()
    }
}
