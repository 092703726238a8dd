//! `GET /v1/events/stream`: the log as Server-Sent Events, history then live.
//!
//! Each record is one event `id: SEQ` + `data: <record as canonical JSON>`.
//!
//! Guarantees:
//! - **no gap, no repeat**: records are sent in seq order starting at the requested
//!   seq. History is read from the store in chunks, never beyond the durable head
//!   (the writer's state, which holds nothing that is not on disk). When history is
//!   exhausted the stream subscribes to the writer's broadcast *and then* reads the
//!   store once more up to the durable head, so a record committed in between is in
//!   one or the other (or both: live records with seq below the next one to send are
//!   skipped). A live record that arrives ahead of the next seq (it cannot, but the
//!   stream does not rely on that) sends it back to the store to fill the gap.
//! - **bounded buffers, writers never wait**: the stream is pulled by the connection
//!   as the socket drains (one chunk of at most [`CHUNK_RECORDS`] records in hand);
//!   live records wait in the writer's bounded broadcast ring. A client that falls so
//!   far behind that the ring overwrites records it has not read gets
//!   `event: lagged` (with the seq to resume after) and is disconnected; it reconnects
//!   with `Last-Event-ID` and catches up from the store.
//! - a comment line every [`KEEPALIVE`] keeps proxies from closing an idle stream and
//!   notices a client that went away; at shutdown every stream ends;
//! - each stream holds a permit of the stream cap ([`super::Limits::max_streams`])
//!   until it ends or its client goes away.

use super::AppState;
use crate::record::Record;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

/// Most records sent in one chunk.
pub const CHUNK_RECORDS: u64 = 512;
/// Interval of the keep-alive comment on an idle stream.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

enum Phase {
    /// Reading from the store; the subscription is taken once history is exhausted.
    History(Option<broadcast::Receiver<Arc<Record>>>),
    /// Following the writer's broadcast.
    Live(broadcast::Receiver<Arc<Record>>),
    /// Nothing more to send.
    Done,
}

struct Stream {
    app: AppState,
    /// The next seq to send.
    next: u64,
    phase: Phase,
    shutdown: tokio::sync::watch::Receiver<bool>,
    keepalive: tokio::time::Interval,
    /// This stream's place under [`super::Limits::max_streams`], given back on drop.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

fn push_record(buf: &mut String, r: &Record) {
    let _ = write!(buf, "id: {}\ndata: {}\n\n", r.seq, r.to_json_line());
}

impl Stream {
    fn lagged(&mut self) -> Bytes {
        self.phase = Phase::Done;
        let last = self.next - 1;
        let body = serde_json::json!({"error": {
            "code": "lagged",
            "message": format!("this client fell too far behind the live log and is disconnected; reconnect with Last-Event-ID: {last} to resume"),
            "last_event_id": last,
        }});
        tracing::warn!(last_sent = last, "SSE client lagged; disconnecting it");
        Bytes::from(format!("event: lagged\ndata: {body}\n\n"))
    }

    /// The next chunk to send, or `None` when the stream ends.
    async fn step(&mut self) -> Option<Bytes> {
        loop {
            if *self.shutdown.borrow() {
                if matches!(self.phase, Phase::Done) {
                    return None;
                }
                self.phase = Phase::Done;
                return Some(Bytes::from_static(b": the service is shutting down\n\n"));
            }
            match &mut self.phase {
                Phase::Done => return None,
                Phase::History(sub) => {
                    let head = self.app.durable_head();
                    if self.next <= head {
                        let to = head.min(self.next.saturating_add(CHUNK_RECORDS - 1));
                        let store = self.app.store().clone();
                        let from = self.next;
                        let read = tokio::task::spawn_blocking(move || {
                            store.records(from, to).collect::<Result<Vec<Record>, _>>()
                        })
                        .await;
                        let records = match read {
                            Ok(Ok(r)) => r,
                            Ok(Err(e)) => {
                                tracing::error!(error = %e, "SSE history read failed");
                                self.phase = Phase::Done;
                                return Some(Bytes::from(format!(
                                    "event: error\ndata: {}\n\n",
                                    serde_json::json!({"error": {"code": "unavailable", "message": e.to_string()}})
                                )));
                            }
                            Err(_) => return None,
                        };
                        let mut buf = String::with_capacity(records.len() * 512);
                        for r in &records {
                            if r.seq != self.next {
                                tracing::error!(
                                    expected = self.next,
                                    found = r.seq,
                                    "SSE history has a gap"
                                );
                                self.phase = Phase::Done;
                                break;
                            }
                            push_record(&mut buf, r);
                            self.next += 1;
                        }
                        if buf.is_empty() {
                            return None;
                        }
                        return Some(Bytes::from(buf));
                    }
                    match sub.take() {
                        // Subscribe, then look at the store once more.
                        None => *sub = Some(self.app.writer().subscribe()),
                        Some(rx) => self.phase = Phase::Live(rx),
                    }
                }
                Phase::Live(rx) => {
                    let received = tokio::select! {
                        changed = self.shutdown.changed() => {
                            if changed.is_err() {
                                self.phase = Phase::Done;
                                return None;
                            }
                            continue;
                        }
                        _ = self.keepalive.tick() => return Some(Bytes::from_static(b": keep-alive\n\n")),
                        r = rx.recv() => r,
                    };
                    let first = match received {
                        Ok(r) => r,
                        Err(RecvError::Lagged(_)) => return Some(self.lagged()),
                        Err(RecvError::Closed) => {
                            self.phase = Phase::Done;
                            return None;
                        }
                    };
                    let mut buf = String::new();
                    let mut item = Ok(first);
                    let mut taken = 0u64;
                    loop {
                        match item {
                            Ok(r) if r.seq < self.next => {}
                            Ok(r) if r.seq == self.next => {
                                push_record(&mut buf, &r);
                                self.next += 1;
                                taken += 1;
                            }
                            Ok(_) => {
                                // Ahead of the next seq: fill the gap from the store.
                                let Phase::Live(rx) =
                                    std::mem::replace(&mut self.phase, Phase::Done)
                                else {
                                    unreachable!("in the live phase")
                                };
                                self.phase = Phase::History(Some(rx));
                                break;
                            }
                            Err(TryRecvError::Lagged(_)) => {
                                let lag = self.lagged();
                                buf.push_str(std::str::from_utf8(&lag).unwrap_or(""));
                                break;
                            }
                            Err(_) => break,
                        }
                        if taken >= CHUNK_RECORDS {
                            break;
                        }
                        let Phase::Live(rx) = &mut self.phase else {
                            break;
                        };
                        item = rx.try_recv();
                    }
                    if !buf.is_empty() {
                        self.keepalive.reset();
                        return Some(Bytes::from(buf));
                    }
                }
            }
        }
    }
}

/// The streaming response for records from `from` on, holding `permit` (its place
/// under the stream cap) until the stream ends or the client goes away.
pub fn stream(app: AppState, from: u64, permit: tokio::sync::OwnedSemaphorePermit) -> Response {
    let shutdown = app.shutdown_signal();
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let s = Stream {
        app,
        next: from.max(1),
        phase: Phase::History(None),
        shutdown,
        keepalive,
        _permit: permit,
    };
    let body = futures_util::stream::unfold(s, |mut s| async move {
        s.step().await.map(|b| (Ok::<Bytes, Infallible>(b), s))
    });
    let mut r = Response::new(Body::from_stream(body));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}
