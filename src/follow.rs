//! The standby: `sanbao follow URL --token T` keeps a second data directory in step
//! with a running server through its event stream (`GET /v1/events/stream`, SPEC §7).
//!
//! Guarantees:
//! - every record is checked before it is stored: its hash against its content, its
//!   seq and `prev_hash` against the standby's head (the chain), and its event
//!   against the rules — through the one writer's `import_records`, as `import`
//!   stores exported records, so the standby's log is byte for byte the primary's in
//!   its hashes and `verify` holds on it;
//! - a record that does not chain (a gap, a different hash at a seq already held,
//!   a broken link) stops the follower with [`FollowError::Diverged`] (exit 5): the
//!   standby never stores a history other than the primary's;
//! - a lost connection (the primary stopped, was killed, or restarted) is retried,
//!   resuming with `Last-Event-ID` = the standby's head, so nothing is skipped and
//!   nothing is stored twice; a record seen again after a reconnect (same seq, same
//!   hash) is dropped;
//! - records are stored in groups (what arrived together, at most
//!   [`GROUP_RECORDS`]), each durable before the next is read on.
//!
//! The primary's address is kept in `DIR/standby.json` ([`STANDBY_FILE`]) so that
//! `serve --read-only` can name it in the 503 it answers to writes.

use crate::log::{AppendError, Store, Writer};
use crate::record::Record;
use crate::values::Sha256Hex;
use http_body_util::BodyExt;
use hyper::body::Bytes;
use std::path::Path;
use std::time::Duration;

/// Most records stored as one group.
pub const GROUP_RECORDS: usize = 2_000;

/// How long the follower waits for more of the stream before storing what it has.
const GATHER: Duration = Duration::from_millis(5);

/// The file, in the standby's data directory, that names its primary.
pub const STANDBY_FILE: &str = "standby.json";

/// Why following stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The primary's stream does not continue the standby's log (exit 5).
    #[error("the primary's record {seq} does not chain onto the standby: {reason}; nothing of it was stored")]
    Diverged {
        /// The record's seq.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// The primary refused the token (exit 1: nothing to retry).
    #[error("the primary refused the token: HTTP {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The answer's body.
        body: String,
    },
    /// The standby's own store failed (exit 1).
    #[error("the standby cannot store records: {0}")]
    Store(String),
    /// A usage error in the address (exit 2).
    #[error("{0}")]
    Usage(String),
}

/// The primary: where it listens and the token to read with.
#[derive(Clone, Debug)]
pub struct Primary {
    /// `host:port` to connect to.
    pub authority: String,
    /// The URL as given (for messages and `standby.json`).
    pub url: String,
    /// The bearer token (any role: following only reads).
    pub token: String,
}

impl Primary {
    /// Parses `http://HOST:PORT` (a trailing `/` allowed; only plain HTTP, as
    /// `serve` speaks it).
    pub fn parse(url: &str, token: &str) -> Result<Primary, FollowError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            FollowError::Usage(format!(
                "URL {url}: give the primary as http://HOST:PORT (sanbao serve speaks plain HTTP; put TLS in front of both)"
            ))
        })?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(FollowError::Usage(format!(
                "URL {url}: give the primary as http://HOST:PORT, without a path"
            )));
        }
        Ok(Primary {
            authority: authority.to_string(),
            url: format!("http://{authority}"),
            token: token.to_string(),
        })
    }
}

/// Writes `DIR/standby.json`, naming the primary (atomically: temp file, rename).
pub fn write_standby_file(dir: &Path, primary: &Primary) -> std::io::Result<()> {
    let tmp = dir.join(format!("{STANDBY_FILE}.tmp"));
    let body = serde_json::json!({"primary": primary.url}).to_string();
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, dir.join(STANDBY_FILE))
}

/// The primary named by `DIR/standby.json`, if any.
pub fn read_standby_file(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(STANDBY_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("primary")?.as_str().map(str::to_string)
}

/// One HTTP/1.1 GET to the primary: the status and the response body (streamed).
async fn get(
    primary: &Primary,
    path: &str,
    last_event_id: Option<u64>,
) -> Result<hyper::Response<hyper::body::Incoming>, String> {
    let stream = tokio::net::TcpStream::connect(&primary.authority)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", primary.url))?;
    let _ = stream.set_nodelay(true);
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {} failed: {e}", primary.url))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = hyper::Request::get(path)
        .header(hyper::header::HOST, primary.authority.as_str())
        .header(
            hyper::header::AUTHORIZATION,
            format!("Bearer {}", primary.token),
        );
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let req = req
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    send.send_request(req)
        .await
        .map_err(|e| format!("request to {} failed: {e}", primary.url))
}

/// The primary's durable head, from its `/healthz`.
pub async fn primary_head(primary: &Primary) -> Result<u64, String> {
    let resp = get(primary, "/healthz", None).await?;
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    v.get("head_seq")
        .and_then(|h| h.as_u64())
        .ok_or_else(|| format!("{} answered /healthz without head_seq", primary.url))
}

/// The follower's position: the standby's head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Last stored seq.
    pub seq: u64,
    /// Its hash.
    pub hash: Sha256Hex,
}

/// An SSE message as the stream frames it.
#[derive(Default, Debug)]
struct Message {
    event: Option<String>,
    data: String,
}

/// Splits the stream's bytes into SSE messages (lines `field: value`, a blank line
/// ends a message), keeping a partial line for the next chunk.
#[derive(Default)]
struct SseParser {
    line: Vec<u8>,
    current: Message,
}

impl SseParser {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<Message>) {
        for &b in bytes {
            if b != b'\n' {
                self.line.push(b);
                continue;
            }
            let line = std::mem::take(&mut self.line);
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            if line.is_empty() {
                let m = std::mem::take(&mut self.current);
                if m.event.is_some() || !m.data.is_empty() {
                    out.push(m);
                }
                continue;
            }
            let text = String::from_utf8_lossy(line);
            let (field, value) = match text.split_once(':') {
                Some((f, v)) => (f.to_string(), v.strip_prefix(' ').unwrap_or(v).to_string()),
                None => (text.to_string(), String::new()),
            };
            match field.as_str() {
                "event" => self.current.event = Some(value),
                "data" => {
                    if !self.current.data.is_empty() {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(&value);
                }
                _ => {}
            }
        }
    }
}

/// Checks `r` (parsed by `Record::from_export`, which checked its hash) against
/// the standby's head `at` (and the records already gathered after it): `Ok(true)` to store it, `Ok(false)` for a record already held (seen
/// again after a reconnect), or the divergence.
pub(crate) fn chains(
    r: &Record,
    at: Position,
    store_hash: impl Fn(u64) -> Option<Sha256Hex>,
) -> Result<bool, FollowError> {
    // Its hash against its content was checked by `Record::from_export`.
    let diverged = |reason: String| FollowError::Diverged { seq: r.seq, reason };
    if r.seq <= at.seq {
        return match store_hash(r.seq) {
            Some(h) if h == r.hash => Ok(false),
            Some(h) => Err(diverged(format!(
                "the standby holds seq {} with hash {h}, the primary sends hash {}",
                r.seq, r.hash
            ))),
            None => Err(diverged(format!(
                "the standby cannot read its seq {}",
                r.seq
            ))),
        };
    }
    if r.seq != at.seq + 1 {
        return Err(diverged(format!(
            "the standby's head is seq {}: seqs {}..={} are missing from the stream",
            at.seq,
            at.seq + 1,
            r.seq - 1
        )));
    }
    if r.prev_hash != at.hash {
        return Err(diverged(format!(
            "its prev_hash {} is not the standby's head hash {}",
            r.prev_hash, at.hash
        )));
    }
    Ok(true)
}

/// What one connection to the stream ended with.
enum Ended {
    /// The connection closed or failed: retry from the head.
    Lost(String),
    /// `stop` turned true, or (with `until`) the standby reached it.
    Done,
}

/// Where followed records go: the standby's own log ([`follow`]) or another
/// consumer of a server's event stream (`sanbao sink postgres`, [`crate::sink`]).
/// The stream reader checks every record (hash against content, seq, `prev_hash`
/// against [`Destination::head`] and the records gathered after it) before handing
/// a group to [`Destination::store`], so a destination only ever receives records
/// that continue what it holds.
pub trait Destination {
    /// The last record held (seq 0 and zeros when empty): the stream resumes after it.
    fn head(&self) -> Position;
    /// The hash of a record already held, to recognise one seen again after a
    /// reconnect (`None`: not known, which stops following as a divergence).
    fn held_hash(&self, seq: u64) -> Option<Sha256Hex>;
    /// Stores a checked group, in seq order, continuing [`Destination::head`];
    /// durable (or at least committed) before it returns.
    fn store(
        &mut self,
        records: Vec<Record>,
    ) -> impl std::future::Future<Output = Result<(), FollowError>>;
}

/// The standby's destination: its own log, through the writer's `import_records`.
struct Standby<'a> {
    writer: &'a Writer,
    store: &'a Store,
}

impl Destination for Standby<'_> {
    fn head(&self) -> Position {
        let s = self
            .writer
            .state()
            .read()
            .unwrap_or_else(|p| p.into_inner());
        Position {
            seq: s.head_seq,
            hash: s.head_hash,
        }
    }

    fn held_hash(&self, seq: u64) -> Option<Sha256Hex> {
        self.store.get(seq).ok().flatten().map(|r| r.hash)
    }

    async fn store(&mut self, records: Vec<Record>) -> Result<(), FollowError> {
        let first = records.first().map_or(0, |r| r.seq);
        match self.writer.import_records(records).await {
            Ok(_) => Ok(()),
            Err(AppendError::Invalid { index, error }) => Err(FollowError::Diverged {
                seq: first + index.unwrap_or(0) as u64,
                reason: error.to_string(),
            }),
            Err(e) => Err(FollowError::Store(e.to_string())),
        }
    }
}

/// Follows `primary` into `writer`'s log (`store`: a handle on the same log, to
/// compare records seen again), from its head, until `stop` turns true
/// (continuously, reconnecting as needed) or — with `until` — until the standby's
/// head reaches that seq. `report` is told the position after each stored group and
/// each outage (with the reason).
pub async fn follow(
    primary: &Primary,
    writer: &Writer,
    store: &Store,
    until: Option<u64>,
    stop: tokio::sync::watch::Receiver<bool>,
    report: impl FnMut(Position, Option<&str>),
) -> Result<Position, FollowError> {
    let mut standby = Standby { writer, store };
    follow_into(primary, &mut standby, until, stop, report).await
}

/// Follows `primary`'s event stream into any [`Destination`], from its head, until
/// `stop` turns true (continuously, reconnecting with `Last-Event-ID` as needed) or
/// — with `until` — until the destination's head reaches that seq. `report` is told
/// the position after each stored group and each outage (with the reason).
pub async fn follow_into<D: Destination>(
    primary: &Primary,
    dest: &mut D,
    until: Option<u64>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut report: impl FnMut(Position, Option<&str>),
) -> Result<Position, FollowError> {
    let mut backoff = Duration::from_millis(100);
    loop {
        let at = dest.head();
        if until.is_some_and(|u| at.seq >= u) || *stop.borrow() {
            return Ok(at);
        }
        let ended = tokio::select! {
            e = stream_once(primary, dest, at, until, &mut report) => e?,
            _ = stop.changed() => Ended::Done,
        };
        match ended {
            Ended::Done => return Ok(dest.head()),
            Ended::Lost(why) => {
                // A connection that stored records was a good one: retry soon.
                if dest.head().seq > at.seq {
                    backoff = Duration::from_millis(100);
                }
                report(dest.head(), Some(&why));
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return Ok(dest.head()),
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// One connection: streams records after `at`, storing them in groups.
async fn stream_once<D: Destination>(
    primary: &Primary,
    dest: &mut D,
    mut at: Position,
    until: Option<u64>,
    report: &mut impl FnMut(Position, Option<&str>),
) -> Result<Ended, FollowError> {
    let path = format!("/v1/events/stream?from={}", at.seq + 1);
    let resp = match get(primary, &path, (at.seq > 0).then_some(at.seq)).await {
        Ok(r) => r,
        Err(e) => return Ok(Ended::Lost(e)),
    };
    let status = resp.status().as_u16();
    if status == 401 || status == 403 {
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        return Err(FollowError::Refused { status, body });
    }
    if status != 200 {
        return Ok(Ended::Lost(format!("the primary answered HTTP {status}")));
    }
    let mut body = resp.into_body();
    let mut parser = SseParser::default();
    let mut messages = Vec::new();
    let mut group: Vec<Record> = Vec::new();
    let mut tail = at;
    loop {
        // Wait for the stream (without limit while nothing is gathered; briefly
        // once records wait to be stored).
        let frame = if group.is_empty() {
            Some(body.frame().await)
        } else {
            tokio::time::timeout(GATHER, body.frame()).await.ok()
        };
        let idle = frame.is_none();
        let lost = match frame {
            None => None,
            Some(None) => Some("the primary closed the stream".to_string()),
            Some(Some(Err(e))) => Some(format!("the stream broke: {e}")),
            Some(Some(Ok(f))) => {
                if let Some(data) = f.data_ref() {
                    parser.push(data, &mut messages);
                }
                None
            }
        };
        let mut lagged = false;
        for m in messages.drain(..) {
            match m.event.as_deref() {
                None | Some("message") => {}
                Some("lagged") | Some("error") => {
                    lagged = true;
                    continue;
                }
                Some(_) => continue,
            }
            let v: serde_json::Value =
                serde_json::from_str(&m.data).map_err(|e| FollowError::Diverged {
                    seq: tail.seq + 1,
                    reason: format!("the stream sent a message that is not JSON: {e}"),
                })?;
            let r = Record::from_export(v).map_err(|e| FollowError::Diverged {
                seq: tail.seq + 1,
                reason: format!("the stream sent something that is not a record: {e}"),
            })?;
            if chains(&r, tail, |seq| dest.held_hash(seq))? {
                tail = Position {
                    seq: r.seq,
                    hash: r.hash,
                };
                group.push(r);
            }
        }
        let full = group.len() >= GROUP_RECORDS;
        let reached = until.is_some_and(|u| tail.seq >= u);
        if !group.is_empty() && (idle || full || lost.is_some() || lagged || reached) {
            let records = std::mem::take(&mut group);
            dest.store(records).await?;
            at = tail;
            report(at, None);
        }
        if reached {
            return Ok(Ended::Done);
        }
        if let Some(why) = lost {
            return Ok(Ended::Lost(why));
        }
        if lagged {
            return Ok(Ended::Lost("the primary's stream said we lagged".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_messages_are_framed_across_chunks() {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        p.push(b"id: 1\ndata: {\"a\"", &mut out);
        assert!(out.is_empty());
        p.push(b":1}\n\nevent: lagged\r\ndata: x\r\n\r\n", &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].data, "{\"a\":1}");
        assert_eq!(out[0].event, None);
        assert_eq!(out[1].event.as_deref(), Some("lagged"));
    }

    #[test]
    fn urls_are_plain_http_host_and_port() {
        assert_eq!(
            Primary::parse("http://127.0.0.1:8080/", "t")
                .unwrap()
                .authority,
            "127.0.0.1:8080"
        );
        assert!(Primary::parse("https://x:1", "t").is_err());
        assert!(Primary::parse("http://x:1/v1", "t").is_err());
    }
}
