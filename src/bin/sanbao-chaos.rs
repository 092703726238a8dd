//! `sanbao-chaos`: kill cycles against the real binary (issue 7, "Crashes").
//!
//! Each cycle, over one data directory:
//!
//! 1. starts `sanbao serve --listen 127.0.0.1:0` (with a generated tokens file) — a
//!    start that refuses the log (it verifies every record while loading) fails the
//!    run;
//! 2. retries, over HTTP with the same idempotency key and event, every append that
//!    was never acknowledged (cut off by a kill): each must answer 201, either as the
//!    duplicate of one record (it had been written) or as a new record;
//! 3. checks through the service: every acknowledged record is there with its seq and
//!    hash, seqs are contiguous, every key appears exactly once, `GET /v1/verify` is ok;
//! 4. runs concurrent load: several HTTP clients append single keyed events as fast
//!    as they are answered, while CLI `sanbao append` processes (also keyed) are
//!    started and wait for the directory's lock that serve holds;
//! 5. kills serve with SIGKILL at a random moment of the load (after a seeded number
//!    of acknowledgements); the waiting CLI processes then take the lock in turn and
//!    append, and a seeded number of them are SIGKILLed at random moments, mid-append
//!    or not (never all of them);
//! 6. checks between the two lifetimes with the command line: `sanbao verify --json`
//!    is ok, `sanbao export` holds every acknowledged record with its seq and hash,
//!    seqs are contiguous, no key twice.
//!
//! After the last cycle serve is started once more (retries and checks as in 2–3) and
//! stopped with SIGTERM. The run prints one JSON object on standard output:
//! `{"ok":true,"cycles","seed","serve_kills","cli_kills","records_checked","records",
//! "http_acked","cli_acked","retries","retried_duplicates","retried_new",...}`;
//! on a failure `{"ok":false,"cycle","error","dir"}` and exit 1 (the directory is kept).
//!
//! ```text
//! cargo run --release --bin sanbao-chaos -- --cycles 500
//! ```
//!
//! Randomness comes only from `--seed` (the kill points, the number of CLI kills and
//! which processes die); what is asserted never depends on timing.

use clap::Parser;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The command line.
#[derive(Parser, Debug)]
#[command(
    name = "sanbao-chaos",
    version,
    about = "Kill cycles: SIGKILL `sanbao serve` and CLI appends under load, restart, check nothing acknowledged is lost"
)]
struct Cli {
    /// Kill cycles to run
    #[arg(long, default_value_t = 20)]
    cycles: u32,
    /// Seed of every random choice (kill points, which CLI processes die)
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Data directory (must be empty or absent; kept) [default: a fresh temporary
    /// directory, removed after a successful run]
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The sanbao binary [default: `sanbao` beside this program]
    #[arg(long)]
    sanbao: Option<PathBuf>,
    /// Concurrent HTTP clients during the load
    #[arg(long, default_value_t = 4)]
    http_clients: u64,
    /// CLI append processes started per cycle
    #[arg(long, default_value_t = 3)]
    cli_appends: u64,
}

/// Most requests one HTTP client sends in one cycle (the kill comes well before).
const MAX_REQUESTS_PER_CLIENT: u64 = 600;
/// Generous bound on every wait for a process or a socket.
const TIMEOUT: Duration = Duration::from_secs(180);

/// A seeded xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One append a client made: its key and event (the same on every retry).
#[derive(Clone, Debug)]
struct Attempt {
    key: String,
    event: String,
}

/// An acknowledged record.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Acked {
    seq: u64,
    hash: String,
}

/// What the run counts.
#[derive(Default, Debug)]
struct Figures {
    cycles: u32,
    serve_kills: u64,
    cli_kills: u64,
    http_acked: u64,
    cli_acked: u64,
    retries: u64,
    retried_duplicates: u64,
    retried_new: u64,
    records_checked: u64,
    checks: u64,
    records: u64,
}

type Failure = String;

/// What one HTTP append came to: acknowledged, cut off (to retry), or a failure.
type Outcome = Result<(Attempt, Option<Acked>), Failure>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(format!($($fmt)*));
        }
    };
}

/// A child process that is killed if still running when dropped.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

struct Harness {
    bin: PathBuf,
    dir: PathBuf,
    token: String,
    rng: Rng,
    acked: BTreeMap<String, Acked>,
    pending: Vec<Attempt>,
    figures: Figures,
    amount_counter: u64,
    http_clients: u64,
    cli_appends: u64,
}

/// A running serve.
struct Serve {
    kid: Kid,
    addr: String,
}

fn wait_bounded(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// One HTTP/1.1 exchange (`Connection: close`): status and body, or a transport error.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no complete response head"))?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let mut body = buf[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body).ok_or_else(|| std::io::Error::other("truncated chunked body"))?;
    } else if let Some(len) = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })
        .and_then(|v| v.parse::<usize>().ok())
    {
        if body.len() < len {
            return Err(std::io::Error::other("truncated body"));
        }
    }
    Ok((status, body))
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&b[..nl])
                .ok()?
                .split(';')
                .next()?
                .trim(),
            16,
        )
        .ok()?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(nl + 2..nl + 2 + size)?);
        b = b.get(nl + 4 + size..)?;
    }
}

impl Harness {
    fn sanbao(&self) -> Command {
        let mut c = Command::new(&self.bin);
        // CLI appends go through serve's socket while it runs, and wait for its lock
        // while it starts or is gone: longer than the CLI's default --wait of 10 s on
        // a slow machine.
        c.arg("--data")
            .arg(&self.dir)
            .args(["--wait", "300"])
            .env_remove("RUST_LOG")
            .env_remove("SANBAO_TOKENS");
        c
    }

    /// Runs a command to completion (bounded); stdout, or a failure with its stderr.
    fn run(&self, args: &[&str], stdin: &str) -> Result<String, Failure> {
        let mut child = self
            .sanbao()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        let drain = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = r.read_to_string(&mut s);
                s
            })
        };
        let out = drain(Box::new(child.stdout.take().unwrap()));
        let err = drain(Box::new(child.stderr.take().unwrap()));
        let mut kid = Kid(child);
        ensure!(
            wait_bounded(&mut kid.0, TIMEOUT).is_some(),
            "sanbao {args:?} did not finish"
        );
        let st = kid.0.wait().map_err(|e| e.to_string())?;
        let out = out.join().unwrap_or_default();
        let err = err.join().unwrap_or_default();
        ensure!(st.success(), "sanbao {args:?} failed ({st}): {out} {err}");
        Ok(out)
    }

    fn next_event(&mut self) -> String {
        self.amount_counter += 1;
        let c = self.amount_counter;
        json!({"kind":"revenue_collected","county":"a","amount":format!("{}.{:02}", c / 100, c % 100),"collected_on":"2021-02-01","category":"tax"}).to_string()
    }

    fn start_serve(&self) -> Result<Serve, Failure> {
        let err_path = self.dir.with_extension("serve.log");
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&err_path)
            .map_err(|e| e.to_string())?;
        let child = self
            .sanbao()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut kid = Kid(child);
        let out = kid.0.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(TIMEOUT).unwrap_or_default();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .map(str::to_string);
        match addr {
            Some(addr) => Ok(Serve { kid, addr }),
            None => {
                let _ = kid.0.kill();
                let log = std::fs::read_to_string(&err_path).unwrap_or_default();
                let last: Vec<&str> = log.lines().rev().take(3).collect();
                Err(format!("serve did not start: {last:?}"))
            }
        }
    }

    /// Retries every unacknowledged append through the service, with its key.
    fn retry_pending(&mut self, addr: &str) -> Result<(), Failure> {
        let auth = format!("Bearer {}", self.token);
        for a in std::mem::take(&mut self.pending) {
            let (status, body) = http(
                addr,
                "POST",
                "/v1/events",
                &[("Authorization", &auth), ("Idempotency-Key", &a.key)],
                Some(&a.event),
            )
            .map_err(|e| format!("retry of {}: {e}", a.key))?;
            ensure!(
                status == 201,
                "retry of {} answered {status}: {}",
                a.key,
                String::from_utf8_lossy(&body)
            );
            let acks: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
            let ack = &acks[0];
            let got = Acked {
                seq: ack["seq"].as_u64().unwrap_or(0),
                hash: ack["hash"].as_str().unwrap_or("").to_string(),
            };
            self.figures.retries += 1;
            if ack["duplicate"] == true {
                self.figures.retried_duplicates += 1;
            } else {
                self.figures.retried_new += 1;
            }
            ensure!(
                self.acked.insert(a.key.clone(), got).is_none(),
                "{} was acknowledged twice",
                a.key
            );
        }
        Ok(())
    }

    /// Checks a log's records (JSON values in order) against every acknowledgement.
    fn check_records(&mut self, records: &[Value], whence: &str) -> Result<(), Failure> {
        let mut by_key: BTreeMap<&str, &Value> = BTreeMap::new();
        for (i, r) in records.iter().enumerate() {
            ensure!(
                r["seq"].as_u64() == Some(i as u64 + 1),
                "{whence}: seq {} at position {}",
                r["seq"],
                i + 1
            );
            if let Some(k) = r["idempotency_key"].as_str() {
                ensure!(
                    by_key.insert(k, r).is_none(),
                    "{whence}: key {k} recorded twice"
                );
            }
        }
        for (key, a) in &self.acked {
            let r = by_key.get(key.as_str()).ok_or_else(|| {
                format!("{whence}: acknowledged {key} (seq {}) is missing", a.seq)
            })?;
            ensure!(
                r["seq"].as_u64() == Some(a.seq) && r["hash"].as_str() == Some(a.hash.as_str()),
                "{whence}: {key} acknowledged as seq {} {} but stored as seq {} {}",
                a.seq,
                a.hash,
                r["seq"],
                r["hash"]
            );
        }
        self.figures.records_checked += self.acked.len() as u64;
        self.figures.checks += 1;
        self.figures.records = records.len() as u64;
        Ok(())
    }

    /// Check through the running service.
    fn check_via_http(&mut self, addr: &str) -> Result<(), Failure> {
        let auth = format!("Bearer {}", self.token);
        let (st, body) = http(addr, "GET", "/v1/verify", &[("Authorization", &auth)], None)
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        ensure!(st == 200 && v["ok"] == true, "GET /v1/verify: {v}");
        let mut records = Vec::new();
        let mut from = 1u64;
        for _ in 0..1_000_000 {
            let (st, body) = http(
                addr,
                "GET",
                &format!("/v1/events?from={from}&limit=10000"),
                &[("Authorization", &auth)],
                None,
            )
            .map_err(|e| e.to_string())?;
            ensure!(st == 200, "GET /v1/events answered {st}");
            let page: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
            records.extend(page["records"].as_array().cloned().unwrap_or_default());
            match page["next"].as_u64() {
                Some(n) => from = n,
                None => break,
            }
        }
        ensure!(
            v["records"].as_u64() == Some(records.len() as u64),
            "verify counts {} records, the pages {}",
            v["records"],
            records.len()
        );
        self.check_records(&records, "after restart (HTTP)")
    }

    /// Check with the command line, between two lifetimes of serve.
    fn check_via_cli(&mut self) -> Result<(), Failure> {
        let out = self.run(&["verify", "--json"], "")?;
        let v: Value = serde_json::from_str(out.trim()).map_err(|e| e.to_string())?;
        ensure!(v["ok"] == true, "sanbao verify --json: {v}");
        let out = self.run(&["export"], "")?;
        let records: Vec<Value> = out
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        ensure!(
            v["records"].as_u64() == Some(records.len() as u64),
            "verify and export disagree"
        );
        self.check_records(&records, "after the kills (CLI)")
    }

    fn cycle(&mut self, n: u32) -> Result<String, Failure> {
        let mut serve = self.start_serve()?;
        let retried = self.pending.len();
        self.retry_pending(&serve.addr)?;
        self.check_via_http(&serve.addr)?;

        // CLI appends, started now: they go through serve's socket (and are cut off
        // when it is killed) or, started late, wait for its lock.
        let mut clis: Vec<(Attempt, Option<Kid>)> = Vec::new();
        for j in 0..self.cli_appends {
            let a = Attempt {
                key: format!("c{n}-cli{j}"),
                event: self.next_event(),
            };
            let mut child = self
                .sanbao()
                .args(["append", "-", "--idempotency-key", &a.key])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())?;
            let _ = child.stdin.take().unwrap().write_all(a.event.as_bytes());
            clis.push((a, Some(Kid(child))));
        }

        // HTTP load until the kill.
        let acks = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let events: Vec<Vec<String>> = (0..self.http_clients)
            .map(|_| {
                (0..MAX_REQUESTS_PER_CLIENT)
                    .map(|_| self.next_event())
                    .collect()
            })
            .collect();
        let results: Arc<Mutex<Vec<Outcome>>> = Arc::default();
        let clients: Vec<_> = events
            .into_iter()
            .enumerate()
            .map(|(c, evs)| {
                let (addr, token, acks, stop, results) = (
                    serve.addr.clone(),
                    self.token.clone(),
                    acks.clone(),
                    stop.clone(),
                    results.clone(),
                );
                std::thread::spawn(move || {
                    let auth = format!("Bearer {token}");
                    for (i, event) in evs.into_iter().enumerate() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let a = Attempt {
                            key: format!("c{n}-h{c}-{i}"),
                            event,
                        };
                        let answer = http(
                            &addr,
                            "POST",
                            "/v1/events",
                            &[("Authorization", &auth), ("Idempotency-Key", &a.key)],
                            Some(&a.event),
                        );
                        let outcome = match answer {
                            Ok((201, body)) => match serde_json::from_slice::<Value>(&body) {
                                Ok(v) if v[0]["duplicate"] == false => {
                                    acks.fetch_add(1, Ordering::SeqCst);
                                    Ok((
                                        a,
                                        Some(Acked {
                                            seq: v[0]["seq"].as_u64().unwrap_or(0),
                                            hash: v[0]["hash"].as_str().unwrap_or("").to_string(),
                                        }),
                                    ))
                                }
                                other => Err(format!("{}: unexpected 201 body {other:?}", a.key)),
                            },
                            Ok((status, body)) => Err(format!(
                                "{}: answered {status}: {}",
                                a.key,
                                String::from_utf8_lossy(&body)
                            )),
                            // Cut off by the kill: unacknowledged, to retry after the restart.
                            Err(_) => Ok((a, None)),
                        };
                        let stop_now = !matches!(outcome, Ok((_, Some(_))));
                        results.lock().unwrap().push(outcome);
                        if stop_now {
                            break;
                        }
                    }
                })
            })
            .collect();
        let target = 1 + self.rng.below(300);
        let deadline = Instant::now() + TIMEOUT;
        while acks.load(Ordering::SeqCst) < target
            && clients.iter().any(|c| !c.is_finished())
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(self.rng.below(5_000)));
        let acked_at_kill = acks.load(Ordering::SeqCst);
        ensure!(
            serve.kid.0.try_wait().map_err(|e| e.to_string())?.is_none(),
            "serve died by itself"
        );
        let _ = serve.kid.0.kill();
        let _ = serve.kid.0.wait();
        self.figures.serve_kills += 1;
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            let _ = c.join();
        }
        let mut http_acked = 0;
        for r in std::mem::take(&mut *results.lock().unwrap()) {
            let (a, ack) = r?;
            match ack {
                Some(ack) => {
                    http_acked += 1;
                    ensure!(
                        self.acked.insert(a.key.clone(), ack).is_none(),
                        "{} acknowledged twice",
                        a.key
                    );
                }
                None => self.pending.push(a),
            }
        }
        self.figures.http_acked += http_acked;

        // The CLI appends left now take the lock in turn; kill some of them (never all).
        let kills = self.rng.below(self.cli_appends);
        for _ in 0..kills {
            std::thread::sleep(Duration::from_millis(self.rng.below(60)));
            let mut running = Vec::new();
            for (i, (_, k)) in clis.iter_mut().enumerate() {
                if k.as_mut()
                    .is_some_and(|k| k.0.try_wait().ok().flatten().is_none())
                {
                    running.push(i);
                }
            }
            if running.is_empty() {
                break;
            }
            let victim = running[self.rng.below(running.len() as u64) as usize];
            if let Some(k) = clis[victim].1.as_mut() {
                let _ = k.0.kill();
            }
        }
        let mut cli_acked = 0;
        let mut cli_killed = 0;
        let mut cli_cut = 0;
        for (a, kid) in clis {
            let mut kid = kid.expect("spawned");
            let st = wait_bounded(&mut kid.0, TIMEOUT)
                .ok_or_else(|| format!("{} never finished", a.key))?;
            let mut out = String::new();
            let mut err = String::new();
            let _ = kid.0.stdout.take().unwrap().read_to_string(&mut out);
            let _ = kid.0.stderr.take().unwrap().read_to_string(&mut err);
            if st.success() {
                let v: Value = serde_json::from_str(out.trim())
                    .map_err(|e| format!("{}: {e}: {out:?}", a.key))?;
                ensure!(
                    v["duplicate"] == false,
                    "{}: a fresh key answered duplicate",
                    a.key
                );
                let ack = Acked {
                    seq: v["seq"].as_u64().unwrap_or(0),
                    hash: v["hash"].as_str().unwrap_or("").to_string(),
                };
                ensure!(
                    self.acked.insert(a.key.clone(), ack).is_none(),
                    "{} acknowledged twice",
                    a.key
                );
                cli_acked += 1;
            } else {
                use std::os::unix::process::ExitStatusExt;
                // Killed itself, or cut off inside the server when serve was killed
                // (a command started while serve ran goes through its socket): either
                // way unacknowledged, to retry after the restart.
                let cut_off = st.code() == Some(1) && err.contains("did not answer");
                ensure!(
                    st.signal() == Some(9) || cut_off,
                    "{} failed without being killed or cut off ({st}): {err}",
                    a.key
                );
                if cut_off {
                    cli_cut += 1;
                } else {
                    cli_killed += 1;
                }
                self.pending.push(a);
            }
        }
        self.figures.cli_acked += cli_acked;
        self.figures.cli_kills += cli_killed;

        self.check_via_cli()?;
        Ok(format!(
            "cycle {n}: retried {retried}; serve killed after {acked_at_kill} acks ({http_acked} over HTTP); CLI {cli_acked} acked, {cli_killed} killed, {cli_cut} cut off with serve; {} records",
            self.figures.records
        ))
    }

    fn finish(&mut self) -> Result<(), Failure> {
        let mut serve = self.start_serve()?;
        self.retry_pending(&serve.addr)?;
        self.check_via_http(&serve.addr)?;
        let pid = serve.kid.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let st =
            wait_bounded(&mut serve.kid.0, TIMEOUT).ok_or("serve did not stop after SIGTERM")?;
        ensure!(st.success(), "serve exited {st} after SIGTERM");
        self.check_via_cli()
    }
}

fn main() {
    let cli = Cli::parse();
    let bin = cli.sanbao.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .expect("current exe")
            .with_file_name("sanbao")
    });
    let (dir, temporary) = match &cli.dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = std::env::temp_dir().join(format!(
                "sanbao-chaos-{}-{}",
                std::process::id(),
                cli.seed
            ));
            (t.join("data"), Some(t))
        }
    };
    let fail = |cycle: Option<u32>, error: String, dir: &Path| -> ! {
        println!(
            "{}",
            json!({"ok": false, "cycle": cycle, "error": error, "dir": dir.display().to_string()})
        );
        std::process::exit(1)
    };
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        fail(
            None,
            format!(
                "{} is not empty: give an empty or new directory",
                dir.display()
            ),
            &dir,
        );
    }
    let started = Instant::now();
    let mut h = Harness {
        bin,
        dir: dir.clone(),
        token: String::new(),
        rng: Rng(cli.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        acked: BTreeMap::new(),
        pending: Vec::new(),
        figures: Figures::default(),
        amount_counter: 0,
        http_clients: cli.http_clients.max(1),
        cli_appends: cli.cli_appends.max(1),
    };
    let setup = (|| -> Result<(), Failure> {
        h.token = h
            .run(
                &["token", "add", "--name", "chaos", "--role", "officer"],
                "",
            )?
            .trim()
            .to_string();
        let reg = json!({"kind":"county_registered","county":"a","name":"甲县","registered_on":"2021-01-01"});
        let out = h.run(
            &["append", "-", "--idempotency-key", "setup"],
            &reg.to_string(),
        )?;
        let v: Value = serde_json::from_str(out.trim()).map_err(|e| e.to_string())?;
        h.acked.insert(
            "setup".into(),
            Acked {
                seq: v["seq"].as_u64().unwrap_or(0),
                hash: v["hash"].as_str().unwrap_or("").into(),
            },
        );
        Ok(())
    })();
    if let Err(e) = setup {
        fail(None, e, &dir);
    }
    for n in 1..=cli.cycles {
        match h.cycle(n) {
            Ok(line) => {
                h.figures.cycles = n;
                eprintln!("{line}");
            }
            Err(e) => fail(Some(n), e, &dir),
        }
    }
    if let Err(e) = h.finish() {
        fail(None, format!("final restart: {e}"), &dir);
    }
    let f = &h.figures;
    println!(
        "{}",
        json!({
            "ok": true,
            "cycles": f.cycles,
            "seed": cli.seed,
            "serve_kills": f.serve_kills,
            "cli_kills": f.cli_kills,
            "kills": f.serve_kills + f.cli_kills,
            "http_acked": f.http_acked,
            "cli_acked": f.cli_acked,
            "retries": f.retries,
            "retried_duplicates": f.retried_duplicates,
            "retried_new": f.retried_new,
            "checks": f.checks,
            "records_checked": f.records_checked,
            "records": f.records,
            "keys": h.acked.len(),
            "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        })
    );
    if let Some(t) = temporary {
        let _ = std::fs::remove_dir_all(t);
    }
}
