//! The HTTP service (SPEC §7): axum over tokio, on the same single writer and folded
//! state as the command line.
//!
//! - [`auth`]: users, roles and hashed bearer tokens;
//! - [`routes`]: one handler per route, each checking the role, parsing its input
//!   by hand and answering SPEC objects or [`error::ApiError`];
//! - [`sse`]: the live event stream;
//! - [`openapi`]: the OpenAPI document, with [`openapi::ROUTES`];
//! - [`replay`]: the auditor's replay from the log alone.
//!
//! Guarantees: appends go through the one [`Writer`] (group commit, durable before
//! the 201); reads at the head use the writer's state, which never holds a record
//! that is not durable; reads at an older `at_seq` fold the stored log up to it; every
//! request runs in a `request` span with its route, role, user, status and latency
//! (never its token). [`serve`] stops accepting on shutdown, lets requests in flight
//! finish (the writer answers every append already sent), ends event streams, and
//! returns; the caller then drops the writer and joins its thread.

pub mod auth;
pub mod error;
pub mod openapi;
pub mod params;
pub mod replay;
pub mod routes;
pub mod sse;

use crate::log::{Store, Writer};
use crate::state::State;
use auth::{Principal, TokenFile};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use error::ApiError;
use std::future::IntoFuture;
use std::sync::{Arc, RwLockReadGuard};
use std::time::Duration;
use tokio::sync::watch;

/// Largest request body accepted (SPEC §7: over 1 MiB is a 413).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// How long shutdown waits for open connections before closing them anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

struct Inner {
    writer: Writer,
    store: Store,
    tokens: TokenFile,
    shutdown: watch::Receiver<bool>,
    /// The last state folded for an `at_seq` below the head (one entry).
    past: std::sync::Mutex<Option<Arc<State>>>,
}

/// What every handler shares: the writer, a store handle for reading history, the
/// users, and the shutdown signal. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Bundles the writer (started over `store`'s log), the store and the users.
    /// `shutdown` turns true when the service is stopping.
    pub fn new(
        writer: Writer,
        store: Store,
        tokens: TokenFile,
        shutdown: watch::Receiver<bool>,
    ) -> AppState {
        AppState(Arc::new(Inner {
            writer,
            store,
            tokens,
            shutdown,
            past: std::sync::Mutex::new(None),
        }))
    }

    /// The single writer.
    pub fn writer(&self) -> &Writer {
        &self.0.writer
    }

    /// A handle on the stored log, for reads.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The folded state (durable records only), locked for reading.
    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.0
            .writer
            .state()
            .read()
            .unwrap_or_else(|p| p.into_inner())
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

    /// The seq of the last durable record.
    pub fn durable_head(&self) -> u64 {
        self.state().head_seq
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
/// most [`SHUTDOWN_GRACE`] for connections to close.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: AppState,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let router = routes::router(app);
    let mut graceful = stop.clone();
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = graceful.wait_for(|s| *s).await;
        })
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        r = &mut server => return r,
        _ = stop.wait_for(|s| *s) => {}
    }
    tracing::info!("shutting down: no new connections; finishing requests in flight");
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(
                grace_s = SHUTDOWN_GRACE.as_secs(),
                "connections still open after the grace period; closing them"
            );
            Ok(())
        }
    }
}

/// Resolves on SIGINT or SIGTERM, naming the signal.
pub async fn shutdown_on_signals() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
