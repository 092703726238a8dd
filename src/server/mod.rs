//! The HTTP service (SPEC §7): axum over tokio, on the same single writer and folded
//! state as the command line.
//!
//! - [`auth`]: users, roles and hashed bearer tokens;
//! - [`routes`]: [`routes::ROUTES`], the one table of routes, and one handler per
//!   route, each checking the role, parsing its input by hand and answering SPEC
//!   objects or [`error::ApiError`];
//! - [`answers`]: the answers no query computes (health, the chain's verdict, a
//!   refusal, a page of records), as types;
//! - [`sse`]: the live event stream;
//! - [`openapi`]: the OpenAPI document, generated from the route table and the types;
//! - [`crate::replay`]: the auditor's replay from the log alone.
//!
//! Guarantees: appends go through the one [`Writer`] (group commit, durable before
//! the 201); reads at the head use the writer's state, which never holds a record
//! that is not durable; reads at an older `at_seq` fold the stored log up to it; every
//! request runs in a `request` span with its route, role, user, status and latency
//! (never its token). [`serve`] stops accepting on shutdown, lets requests in flight
//! finish (the writer answers every append already sent), ends event streams, and
//! returns; the caller then drops the writer and joins its thread.
//!
//! Bounded resources ([`Limits`]): a request head must arrive within
//! [`HEADER_READ_TIMEOUT`] (which also ends idle keep-alive connections) and its body
//! within [`BODY_READ_TIMEOUT`] (else 408 and the connection is closed); at most
//! [`MAX_CONNECTIONS`] connections are served at once (more wait in the kernel's
//! backlog, unread) and at most [`MAX_STREAMS`] of them may be event streams (more
//! are answered 503 with `Retry-After`); bodies stop at [`MAX_BODY_BYTES`]. So a
//! slow-loris client is cut off in bounded time, and memory is bounded by the
//! connection cap times what one request may hold.

pub mod answers;
pub mod auth;
pub mod error;
pub mod metrics;
pub mod mirror;
pub mod openapi;
pub mod papers;
pub mod params;
pub mod routes;
pub mod sse;

use crate::log::{Store, Writer};
use crate::state::State;
use auth::{Principal, TokenFile};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use error::ApiError;
use std::sync::{Arc, RwLockReadGuard};
use std::time::Duration;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Largest request body accepted (SPEC §7: over 1 MiB is a 413).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// How long shutdown waits for open connections before closing them anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Default time a client has to send a whole request head; also how long an idle
/// keep-alive connection is kept.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client has to send a whole request body once its head arrived
/// (1 MiB in 30 s needs about 35 kB/s).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on connections served at once.
pub const MAX_CONNECTIONS: usize = 512;
/// Default cap on event streams open at once (half the connections, so that streams
/// never crowd out requests).
pub const MAX_STREAMS: usize = 256;

/// Bounds on what clients may hold, so that slow or numerous clients cost bounded
/// time and memory. [`Limits::default`] is what `sanbao serve` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time to receive a whole request head, counted from when the connection starts
    /// waiting for one (so also the longest an idle keep-alive connection is kept).
    /// A client too slow is disconnected.
    pub header_read: Duration,
    /// Time to receive a whole request body, counted from when its head arrived. A
    /// client too slow gets 408 and the connection is closed.
    pub body_read: Duration,
    /// Most connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Most event streams open at once; further ones are answered 503.
    pub max_streams: usize,
    /// How long shutdown lets requests and forwarded CLI commands in flight finish
    /// before closing their connections.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read: HEADER_READ_TIMEOUT,
            body_read: BODY_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_streams: MAX_STREAMS,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}

struct Inner {
    writer: Writer,
    /// The readers' copy of the state (reads never take the writer's lock).
    mirror: Arc<mirror::Mirror>,
    /// Turns of the CPU-bound queries (one core is left to the writer).
    queries: mirror::QueryPermits,
    store: Store,
    tokens: TokenFile,
    shutdown: watch::Receiver<bool>,
    /// The last state folded for an `at_seq` below the head (one entry).
    past: std::sync::Mutex<Option<Arc<State>>>,
    limits: Limits,
    /// One permit per open event stream.
    streams: Arc<Semaphore>,
    /// `Some` on a read-only standby (`serve --read-only`): every write is refused
    /// with 503, naming the primary when it is known.
    read_only: Option<Option<String>>,
    /// Requests and forwarded commands counted for `/metrics`.
    metrics: metrics::Metrics,
    /// The desk's sign-in sessions.
    sessions: crate::desk::session::Sessions,
}

/// What every handler shares: the writer, a store handle for reading history, the
/// users, and the shutdown signal. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Bundles the writer (started over `store`'s log), the store and the users, with
    /// the default [`Limits`]. `shutdown` turns true when the service is stopping.
    pub fn new(
        writer: Writer,
        store: Store,
        tokens: TokenFile,
        shutdown: watch::Receiver<bool>,
    ) -> AppState {
        AppState::with_limits(writer, store, tokens, shutdown, Limits::default())
    }

    /// [`AppState::new`] with other [`Limits`] (tests use short timeouts and small
    /// caps to show them working).
    pub fn with_limits(
        writer: Writer,
        store: Store,
        tokens: TokenFile,
        shutdown: watch::Receiver<bool>,
        limits: Limits,
    ) -> AppState {
        let mirror = mirror::Mirror::start(&writer, store.clone());
        // A query's own parallel parts stay within the cores left to queries.
        crate::query::set_max_threads(mirror::query_slots());
        AppState(Arc::new(Inner {
            writer,
            mirror,
            queries: mirror::QueryPermits::new(mirror::query_slots()),
            store,
            tokens,
            shutdown,
            past: std::sync::Mutex::new(None),
            limits,
            streams: Arc::new(Semaphore::new(limits.max_streams)),
            read_only: None,
            metrics: metrics::Metrics::default(),
            sessions: crate::desk::session::Sessions::default(),
        }))
    }

    /// This service as a read-only standby of `primary` (its URL, when known): reads,
    /// streams and verify answer as usual; every write is a 503 naming the primary.
    /// Call before the service is shared.
    pub fn read_only(mut self, primary: Option<String>) -> AppState {
        Arc::get_mut(&mut self.0)
            .expect("read_only is set before the service is shared")
            .read_only = Some(primary);
        self
    }

    /// The refusal of a write on a read-only standby (`Ok` elsewhere).
    pub fn writable(&self) -> Result<(), ApiError> {
        match &self.0.read_only {
            None => Ok(()),
            Some(primary) => Err(ApiError::unavailable(match primary {
                Some(url) => format!("this is a read-only standby (sanbao serve --read-only); nothing was recorded: send writes to the primary at {url}"),
                None => "this is a read-only standby (sanbao serve --read-only); nothing was recorded: send writes to the primary".to_string(),
            })),
        }
    }

    /// The bounds this service enforces.
    pub fn limits(&self) -> Limits {
        self.0.limits
    }

    /// A place for one more event stream, held for the stream's life; `None` when
    /// [`Limits::max_streams`] are open.
    pub fn stream_permit(&self) -> Option<OwnedSemaphorePermit> {
        self.0.streams.clone().try_acquire_owned().ok()
    }

    /// Event streams open now.
    pub fn open_streams(&self) -> u64 {
        self.0
            .limits
            .max_streams
            .saturating_sub(self.0.streams.available_permits()) as u64
    }

    /// The counters of `/metrics`.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.0.metrics
    }

    /// Whether the service is ready (`/readyz`): its log was verified when it started
    /// (it serves nothing before), its writer runs and takes writes, and it is not
    /// stopping. Else why not.
    pub fn ready(&self) -> Result<(), &'static str> {
        if *self.0.shutdown.borrow() {
            return Err("the service is stopping");
        }
        if self.0.writer.stats().stopped {
            return Err("a failed write could not be taken back: nothing is written until the service is restarted");
        }
        Ok(())
    }

    /// The desk's sign-in sessions.
    pub fn sessions(&self) -> &crate::desk::session::Sessions {
        &self.0.sessions
    }

    /// The users, as the tokens file says now.
    pub fn tokens(&self) -> &TokenFile {
        &self.0.tokens
    }

    /// The single writer.
    pub fn writer(&self) -> &Writer {
        &self.0.writer
    }

    /// A handle on the stored log, for reads.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The folded state (durable records only: every record durable when this is
    /// called), locked for reading — the readers' own copy ([`mirror::Mirror`]), so
    /// that no read holds the writer back. Never call it while this thread holds
    /// the guard it gave: it may wait for the mirror, which waits for that guard.
    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.0.mirror.read_at_least(self.0.writer.durable_seq())
    }

    /// The state of records `1..=at_seq` for an `at_seq` below the durable head, folded
    /// from the stored log (records that old never change); the last one is kept, so
    /// that several queries at one `at_seq` fold the log once. Blocking.
    pub fn past_state(&self, at_seq: u64) -> Result<Arc<State>, crate::log::StoreError> {
        let cached = self
            .0
            .past
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(st) = cached.filter(|s| s.head_seq == at_seq) {
            return Ok(st);
        }
        let st = Arc::new(crate::log::load_state(&self.0.store, Some(at_seq), |_| {})?);
        if st.head_seq != at_seq {
            return Err(crate::log::StoreError::Damaged {
                seq: st.head_seq + 1,
                reason: format!("the log ends at seq {} before seq {at_seq}", st.head_seq),
            });
        }
        *self.0.past.lock().unwrap_or_else(|p| p.into_inner()) = Some(st.clone());
        Ok(st)
    }

    /// Waits (blocking) for a turn to run a CPU-bound query — what the read routes
    /// and the desk's pages do before they compute — held until the guard drops.
    pub fn query_turn(&self) -> mirror::QueryPermit<'_> {
        self.0.queries.acquire()
    }

    /// The seq of the last durable record.
    pub fn durable_head(&self) -> u64 {
        self.0.writer.durable_seq()
    }

    /// A receiver that turns true when the service stops.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.0.shutdown.clone()
    }

    /// Recognises the `Authorization: Bearer TOKEN` header and records the role and
    /// user in the current request span.
    pub fn authenticate(&self, headers: &axum::http::HeaderMap) -> Result<Principal, ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "this route needs an Authorization: Bearer TOKEN header (tokens come from `sanbao token add`)",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer TOKEN`")
            })?;
        let who = self
            .0
            .tokens
            .authenticate(token)
            .ok_or_else(|| ApiError::unauthorized("unknown token"))?;
        let span = tracing::Span::current();
        span.record("role", tracing::field::display(who.role));
        span.record("user", tracing::field::display(&who.name));
        Ok(who)
    }
}

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    json_bytes(
        status,
        serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec()),
    )
}

/// A response whose body is JSON text already serialized.
pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(axum::body::Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Serves `app` on `listener` until `stop` turns true, then shuts down gracefully:
/// no new connections, requests in flight answered, event streams ended; waits at
/// most [`Limits::shutdown_grace`] for connections to close.
///
/// Each connection is HTTP/1.1 (keep-alive) with the head-read timeout of
/// [`Limits::header_read`]; at most [`Limits::max_connections`] are served at once
/// (the next is accepted only when one closes). Body timeouts and the stream cap are
/// enforced by the router ([`routes::router`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: AppState,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let limits = app.limits();
    serve_router(listener, routes::router(app), limits, stop).await
}

/// Serves `router` on `listener` as [`serve`] serves the API, with `limits` (used for
/// the address of `serve --metrics-listen`, with [`routes::metrics_router`]).
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let (closing_tx, closing_rx) = watch::channel(false);
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = stop.wait_for(|s| *s) => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                use std::io::ErrorKind::*;
                if !matches!(
                    e.kind(),
                    ConnectionRefused | ConnectionAborted | ConnectionReset
                ) {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::error!(error = %e, "accept failed; retrying in 1 s");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.wait_for(|s| *s) => break,
                    }
                }
                continue;
            }
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = closing.wait_for(|c| *c) => {}
            }
            conn.as_mut().graceful_shutdown();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: no new connections; finishing requests in flight");
    let _ = closing_tx.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(limits.shutdown_grace, connections.acquire_many(all)).await;
    match drained {
        Ok(_) => Ok(()),
        Err(_) => {
            tracing::warn!(
                grace_s = limits.shutdown_grace.as_secs_f64(),
                "connections still open after the grace period; closing them"
            );
            Ok(())
        }
    }
}

/// The error a request body's stream ends with when it did not arrive within
/// [`Limits::body_read`]; the body reader answers 408 for it.
#[derive(Debug)]
pub struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

/// Resolves on SIGINT or SIGTERM, naming the signal.
pub async fn shutdown_on_signals() -> &'static str {
    Signals::install().wait().await
}

/// SIGTERM and SIGINT, caught from the moment [`Signals::install`] returns: `serve`
/// installs them before it prints that it listens, so that a supervisor that stops
/// it as soon as it reads that line stops it cleanly (a signal that came before the
/// handlers killed the process outright, with no snapshot written).
pub struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Installs the handlers (inside a tokio runtime).
    pub fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                streams: signal(SignalKind::terminate())
                    .and_then(|t| Ok((t, signal(SignalKind::interrupt())?)))
                    .ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }

    /// Waits for the first of them; its name.
    pub async fn wait(self) -> &'static str {
        #[cfg(unix)]
        {
            let Some((mut term, mut int)) = self.streams else {
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            };
            tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}
