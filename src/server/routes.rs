//! The routes of SPEC §7, one handler each, [`ROUTES`] (the one table of them), and
//! the router built from it.
//!
//! Every handler checks, in this order: the token (401), the role (403), for bodies
//! the media type (415) and size (413), the JSON (400), the query parameters and
//! headers (400), the events (422, or 413 for a batch over 10,000), then asks the
//! writer (409 for conflicts) or the pure queries. Request bodies are read by hand
//! (bounded to [`super::MAX_BODY_BYTES`]) even when the request is refused, so a
//! client always reads its answer rather than a reset connection.
//!
//! Guarantee: nothing here writes except through [`crate::log::Writer::append`], which
//! is reached only after every check passed; a refused request writes nothing.

use super::answers::{
    self, ChainBroken, ChainOk, Health, NotReady, NotReadyStatus, Ready, ReadyStatus, Up,
};
use super::auth::{Principal, Role};
use super::error::ApiError;
use super::papers::{self, PaperQuery};
use super::params::Params;
use super::{json_bytes, json_response, openapi, sse, AppState, BodyTimedOut, MAX_BODY_BYTES};
use crate::event::{check_idempotency_key, Event, EventError, IJson, InputEvent};
use crate::log::writer::MAX_BATCH_EVENTS;
use crate::log::{self, Verified};
use crate::query::{forecast::forecast, monitor::monitor, plan::plan, position::position};
use crate::replay;
use crate::report::build::{self, Ctx};
use crate::state::State;
use crate::values::{Date, Month};
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, Request, State as Shared};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tracing::Instrument;

type Answer = Result<Response, ApiError>;

/// Most records one `GET /v1/events` page holds.
pub const MAX_PAGE_RECORDS: u64 = 10_000;
/// Records in a page when `limit` is not given.
pub const DEFAULT_PAGE_RECORDS: u64 = 1_000;

fn with_other_methods_405(m: MethodRouter<AppState>, allow: String) -> MethodRouter<AppState> {
    m.fallback(move || async move { ApiError::method_not_allowed(&allow) })
}

/// One route of the service: the one list the router is built from and the OpenAPI
/// document describes ([`openapi::document`]), so neither can have a route the other
/// lacks.
pub struct Route {
    /// `get` or `post`, as the document spells it.
    pub method: &'static str,
    /// The path as the document and axum both spell it (`{month}` for a segment).
    pub path: &'static str,
    /// Whether the route answers without a token.
    pub public: bool,
    /// The handler.
    handler: fn() -> MethodRouter<AppState>,
    /// Its operation object in the document.
    pub(super) doc: fn(&mut openapi::Doc) -> Value,
}

/// Every route, in the document's order.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    Route { method: "get", path: "/healthz", public: true, handler: || get(healthz), doc: openapi::healthz },
    Route { method: "get", path: "/readyz", public: true, handler: || get(readyz), doc: openapi::readyz },
    Route { method: "get", path: "/metrics", public: false, handler: || get(metrics_route), doc: openapi::metrics },
    Route { method: "get", path: "/openapi.json", public: true, handler: || get(openapi_doc), doc: openapi::openapi },
    Route { method: "post", path: "/v1/events", public: false, handler: || post(append_events), doc: openapi::append_events },
    Route { method: "get", path: "/v1/events", public: false, handler: || get(list_events), doc: openapi::list_events },
    Route { method: "get", path: "/v1/events/stream", public: false, handler: || get(stream_events), doc: openapi::stream_events },
    Route { method: "get", path: "/v1/positions", public: false, handler: || get(positions), doc: openapi::positions },
    Route { method: "get", path: "/v1/monitor", public: false, handler: || get(monitor_route), doc: openapi::monitor },
    Route { method: "post", path: "/v1/monitor/what-if", public: false, handler: || post(monitor_what_if), doc: openapi::monitor_what_if },
    Route { method: "get", path: "/v1/plans/{month}", public: false, handler: || get(plan_route), doc: openapi::plan },
    Route { method: "post", path: "/v1/plans/{month}/issue", public: false, handler: || post(issue_plan), doc: openapi::issue_plan },
    Route { method: "post", path: "/v1/plans/{month}/what-if", public: false, handler: || post(plan_what_if), doc: openapi::plan_what_if },
    Route { method: "post", path: "/v1/plans/{month}/execute", public: false, handler: || post(execute_plan), doc: openapi::execute_plan },
    Route { method: "get", path: "/v1/plans/{month}/status", public: false, handler: || get(plan_status_route), doc: openapi::plan_status },
    Route { method: "get", path: "/v1/forecast", public: false, handler: || get(forecast_route), doc: openapi::forecast },
    Route { method: "post", path: "/v1/forecast/what-if", public: false, handler: || post(forecast_what_if), doc: openapi::forecast_what_if },
    Route { method: "get", path: "/v1/review/budget", public: false, handler: || get(review_budget_route), doc: openapi::review_budget },
    Route { method: "get", path: "/v1/assess", public: false, handler: || get(assess_route), doc: openapi::assess },
    Route { method: "get", path: "/v1/scorecard", public: false, handler: || get(scorecard_route), doc: openapi::scorecard },
    Route { method: "get", path: "/v1/verify", public: false, handler: || get(verify_route), doc: openapi::verify },
    Route { method: "get", path: "/v1/replay", public: false, handler: || get(replay_route), doc: openapi::replay },
];

/// The methods a path answers, for `Allow`: its routes' methods, with `HEAD` beside
/// `GET` (axum answers HEAD from the GET handler), sorted.
pub fn allowed_methods(path: &str) -> String {
    let mut m: Vec<String> = ROUTES
        .iter()
        .filter(|r| r.path == path)
        .flat_map(|r| {
            let method = r.method.to_ascii_uppercase();
            let head = (method == "GET").then(|| "HEAD".to_string());
            std::iter::once(method).chain(head)
        })
        .collect();
    m.sort_unstable();
    m.dedup();
    m.join(", ")
}

/// The router: every route of [`ROUTES`], JSON 404 for unknown paths, JSON 405 with
/// `Allow` for known paths asked with another method (HTTP's rule, issue 23), and the
/// request span around all.
pub fn router(app: AppState) -> Router {
    let mut paths: Vec<&str> = Vec::new();
    for r in ROUTES {
        if !paths.contains(&r.path) {
            paths.push(r.path);
        }
    }
    let mut router = Router::new();
    for path in paths {
        let methods = ROUTES
            .iter()
            .filter(|r| r.path == path)
            .map(|r| (r.handler)())
            .reduce(MethodRouter::merge)
            .expect("a path has a route");
        router = router.route(path, with_other_methods_405(methods, allowed_methods(path)));
    }
    router
        .merge(crate::desk::router())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            app.limits().body_read,
            body_deadline,
        ))
        .layer(middleware::from_fn_with_state(app.clone(), trace))
        .with_state(app)
}

/// The router of `serve --metrics-listen ADDR`: only `GET /metrics`, with no token
/// (the address is the operator's to protect), and the request span around it.
pub fn metrics_router(app: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            with_other_methods_405(get(metrics_open), "GET, HEAD".into()),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), trace))
        .with_state(app)
}

/// Gives the request body a deadline ([`super::Limits::body_read`] from now, when the
/// head has arrived): past it, the body's stream ends with [`BodyTimedOut`], which
/// [`read_body`] answers with 408.
async fn body_deadline(Shared(limit): Shared<Duration>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let deadline = tokio::time::Instant::now() + limit;
    let data = futures_util::stream::unfold(Some(body.into_data_stream()), move |s| async move {
        let mut s = s?;
        match tokio::time::timeout_at(deadline, s.next()).await {
            Ok(Some(item)) => Some((item, Some(s))),
            Ok(None) => None,
            Err(_) => Some((Err(axum::Error::new(BodyTimedOut)), None)),
        }
    });
    next.run(Request::from_parts(parts, Body::from_stream(data)))
        .await
}

/// True when a body error is (or wraps) [`BodyTimedOut`].
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyTimedOut>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// One `request` span per request: method, route, role, user, status, latency; and
/// the request counted for `/metrics`.
async fn trace(Shared(app): Shared<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "(none)".to_owned());
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        role = tracing::field::Empty,
        user = tracing::field::Empty,
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    let start = Instant::now();
    let resp = next.run(req).instrument(span.clone()).await;
    let latency_ms = (start.elapsed().as_micros() as f64) / 1000.0;
    span.record("status", resp.status().as_u16());
    span.record("latency_ms", latency_ms);
    app.metrics()
        .request(method.as_str(), &route, resp.status().as_u16());
    span.in_scope(|| {
        if resp.status().is_server_error() {
            tracing::warn!("answered");
        } else {
            tracing::info!("answered");
        }
    });
    resp
}

/// The JSON 404 of a path that is no route (SPEC §7).
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {}; see /openapi.json for the routes",
        uri.path()
    ))
}

async fn healthz(Shared(app): Shared<AppState>) -> Response {
    json_response(
        StatusCode::OK,
        &Health {
            status: Up::Ok,
            head_seq: app.durable_head(),
        },
    )
}

/// `GET /readyz`: 200 once the log is verified and the writer runs, 503 (with the
/// reason) while stopping or when the writer stopped writing.
async fn readyz(Shared(app): Shared<AppState>) -> Response {
    match app.ready() {
        Ok(()) => json_response(
            StatusCode::OK,
            &Ready {
                status: ReadyStatus::Ready,
                head_seq: app.durable_head(),
            },
        ),
        Err(why) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &NotReady {
                status: NotReadyStatus::NotReady,
                reason: why.to_string(),
            },
        ),
    }
}

/// `GET /metrics` on the API's address: for an auditor token.
async fn metrics_route(Shared(app): Shared<AppState>, headers: HeaderMap) -> Answer {
    let who = app.authenticate(&headers)?;
    if who.role != Role::Auditor {
        return Err(ApiError::forbidden(format!(
            "{}: /metrics is for an auditor token (or serve it without one on its own address with `serve --metrics-listen ADDR`)",
            who.role.as_str()
        )));
    }
    Ok(metrics_open(Shared(app)).await)
}

/// The metrics in the OpenMetrics text format (Prometheus scrapes it).
async fn metrics_open(Shared(app): Shared<AppState>) -> Response {
    let text = super::metrics::render(&app);
    let mut r = Response::new(Body::from(text));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(super::metrics::CONTENT_TYPE),
    );
    r
}

async fn openapi_doc() -> Response {
    json_bytes(StatusCode::OK, openapi::document_text().as_bytes().to_vec())
}

// ---- inputs -------------------------------------------------------------------------

/// 415 unless the body is declared `application/json` (or `application/*+json`).
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match mime.as_deref() {
        Some("application/json") => Ok(()),
        Some(m) if m.starts_with("application/") && m.ends_with("+json") => Ok(()),
        Some(m) => Err(ApiError::unsupported_media_type(format!(
            "the body must be JSON sent with Content-Type: application/json, not {m:?}"
        ))),
        None => Err(ApiError::unsupported_media_type(
            "the body must be JSON sent with Content-Type: application/json (none given)",
        )),
    }
}

/// Reads the whole body, at most [`MAX_BODY_BYTES`] (413 beyond, without reading
/// further when Content-Length already says so), within `limit` (408 after, from
/// [`body_deadline`]).
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: Duration,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::too_large(format!(
            "the body is over {MAX_BODY_BYTES} bytes (1 MiB); send large loads in several batches"
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let mut buf: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            if timed_out(&e) {
                ApiError::request_timeout(format!(
                    "the body did not arrive within {} s; send it faster (it is at most 1 MiB)",
                    limit.as_secs_f64()
                ))
            } else {
                ApiError::bad_request("body", format!("cannot read the body: {e}"))
            }
        })?;
        if buf.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// Parses a body as one I-JSON value: 400 when it is not JSON (or not UTF-8, or
/// holds more than one value); 422 when an object repeats a member name.
fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::malformed_json("the body is not valid UTF-8"))?;
    match serde_json::from_str::<IJson>(text) {
        Ok(IJson(v)) => Ok(v),
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            Err(ApiError::invalid(None, &EventError::whole(e.to_string())))
        }
        Err(e) => Err(ApiError::malformed_json(format!(
            "the body is not valid JSON (one event object or one array of events): {e}"
        ))),
    }
}

/// The `Idempotency-Key` header, checked.
fn idempotency_header(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let k = v.to_str().map_err(|_| {
        ApiError::bad_request("Idempotency-Key", "Idempotency-Key must be printable ASCII")
    })?;
    check_idempotency_key(k)
        .map_err(|r| ApiError::bad_request("Idempotency-Key", format!("Idempotency-Key {r}")))?;
    Ok(Some(k.to_string()))
}

/// Puts the header's key on a single event that has none of its own (SPEC §8.11).
fn apply_key(key: Option<String>, single: bool, batch: &mut [InputEvent]) -> Result<(), ApiError> {
    let Some(k) = key else { return Ok(()) };
    if !single || batch.len() != 1 {
        return Err(ApiError::bad_request(
            "Idempotency-Key",
            "the Idempotency-Key header needs a single event, not an array; put an idempotency_key in each event of a batch",
        ));
    }
    if batch[0].idempotency_key.is_some() {
        return Err(ApiError::bad_request(
            "Idempotency-Key",
            "the Idempotency-Key header needs an event that carries no idempotency_key of its own",
        ));
    }
    batch[0].idempotency_key = Some(k);
    Ok(())
}

/// Reads the body of a POST after noting the token and media-type verdicts, then
/// reports the first failure in SPEC order: 401, 403, 415, 413/400.
async fn authorized_body(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
    allowed: &[Role],
    refusal: &str,
) -> Result<(Principal, Value), ApiError> {
    let who = app.authenticate(headers);
    let media = require_json(headers);
    let bytes = read_body(headers, body, app.limits().body_read).await;
    let who = who?;
    if !allowed.contains(&who.role) {
        return Err(ApiError::forbidden(format!(
            "{}: {refusal}",
            who.role.as_str()
        )));
    }
    media?;
    let v = parse_json(&bytes?)?;
    Ok((who, v))
}

/// Runs `f` on the state at `at_seq` (the head when `None`) on the blocking pool:
/// the writer's state at the head, else one folded from the stored log.
async fn at_state<T: Send + 'static>(
    app: &AppState,
    at_seq: Option<u64>,
    f: impl FnOnce(&State) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let _turn = app.query_turn();
        let st = app.state();
        let head = st.head_seq;
        match at_seq {
            Some(n) if n > head => Err(ApiError::bad_request(
                "at_seq",
                format!("at_seq {n} is beyond the log's head (seq {head}); use 0..={head}"),
            )),
            Some(n) if n < head => {
                drop(st);
                let past = app.past_state(n)?;
                f(&past)
            }
            _ => f(&st),
        }
    })
    .await
    .map_err(|_| ApiError::unavailable("the query could not be completed"))?
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::unavailable("the request could not be completed"))?
}

fn month_of(
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Month, ApiError> {
    let Path(m) = path.map_err(|e| ApiError::bad_request("month", e.body_text()))?;
    Month::parse(&m).map_err(|e| ApiError::bad_request("month", format!("month: {e}")))
}

// ---- writes -------------------------------------------------------------------------

/// `POST /v1/events[?expect_seq=N][&dry_run=true]`: one event or a batch; 201 with
/// the acks (an approval answers two: its own and its dispatch's). With `dry_run`, 200
/// with what the append would answer, nothing written.
async fn append_events(
    Shared(app): Shared<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Answer {
    let (who, value) = authorized_body(
        &app,
        &headers,
        body,
        &[Role::Officer, Role::Scheduler, Role::Approver],
        "auditors read only; appending events needs an officer's token (a scheduler's for plan_issued and assessment_decided, an approver's for emergency_approved and approval_limit_set)",
    )
    .await?;
    app.writable()?;
    let p = Params::parse(uri.query(), &["expect_seq", "dry_run"])?;
    let expect_seq = p.u64("expect_seq")?;
    let dry_run = p.flag("dry_run")?;
    let key = idempotency_header(&headers)?;
    let (values, single) = match value {
        Value::Array(items) => (items, false),
        v => (vec![v], true),
    };
    if values.is_empty() {
        return Err(ApiError::invalid(
            None,
            &EventError::whole("the batch is empty"),
        ));
    }
    if values.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::too_large(format!(
            "the batch holds {} events; at most {MAX_BATCH_EVENTS} per request",
            values.len()
        )));
    }
    for (i, v) in values.iter().enumerate() {
        if let Some(kind) = v.get("kind").and_then(Value::as_str) {
            if !who.role.may_append(kind) {
                let why = match who.role {
                    Role::Officer if Role::APPROVER_KINDS.contains(&kind) => format!("officers may not append {kind}; a user of role approver does (two-person approval)"),
                    // v1's words for v1's case.
                    Role::Officer if kind == "plan_issued" => "officers may not append plan_issued; a scheduler issues plans (POST /v1/plans/{month}/issue)".to_string(),
                    Role::Officer => format!("officers may not append {kind}; a scheduler decides assessments"),
                    Role::Approver => format!("an approver appends only emergency_approved and approval_limit_set, not {kind}; an officer records other events"),
                    _ => format!("a scheduler appends only plan_issued and assessment_decided, not {kind}; an officer records other events"),
                };
                return Err(ApiError::forbidden(format!("event {i}: {why}")).at(i));
            }
        }
    }
    let mut batch = Vec::with_capacity(values.len());
    for (i, v) in values.into_iter().enumerate() {
        batch.push(Event::parse_object(v).map_err(|e| ApiError::invalid(Some(i), &e))?);
    }
    apply_key(key, single, &mut batch)?;
    if dry_run {
        let d = app
            .writer()
            .dry_run_as(&who.name, batch, expect_seq)
            .await?;
        return Ok(json_response(StatusCode::OK, &answers::DryRunAck::of(&d)));
    }
    let acks = app.writer().append_as(&who.name, batch, expect_seq).await?;
    Ok(json_response(StatusCode::CREATED, &acks))
}

/// `POST /v1/plans/{month}/issue`: appends `plan_issued` (scheduler).
async fn issue_plan(
    Shared(app): Shared<AppState>,
    headers: HeaderMap,
    uri: Uri,
    month: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: Body,
) -> Answer {
    let (who, value) = authorized_body(
        &app,
        &headers,
        body,
        &[Role::Scheduler],
        "issuing a plan needs a scheduler's token",
    )
    .await?;
    app.writable()?;
    let month = month_of(month)?;
    let p = Params::parse(uri.query(), &["expect_seq"])?;
    let expect_seq = p.u64("expect_seq")?;
    let key = idempotency_header(&headers)?;
    let Value::Object(mut m) = value else {
        return Err(ApiError::invalid(
            None,
            &EventError::whole(
                "the body must be an object {\"based_on_seq\",\"plan_sha256\",\"issued_on\"?}",
            ),
        ));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["based_on_seq", "plan_sha256", "issued_on"].contains(&k.as_str()))
    {
        return Err(ApiError::invalid(
            None,
            &EventError::field(
                k.clone(),
                "is not a member of this request (based_on_seq, plan_sha256, issued_on; the month is in the path)",
            ),
        ));
    }
    if m.get("issued_on").map_or(true, Value::is_null) {
        m.insert("issued_on".into(), json!(Date::today_utc()));
    }
    m.insert("kind".into(), json!("plan_issued"));
    m.insert("month".into(), json!(month));
    let mut batch =
        vec![Event::parse_object(Value::Object(m)).map_err(|e| ApiError::invalid(None, &e))?];
    apply_key(key, true, &mut batch)?;
    // One event, not a batch: an invalid plan_issued names no index.
    let acks = app
        .writer()
        .append_as(&who.name, batch, expect_seq)
        .await
        .map_err(|e| match e {
            crate::log::AppendError::Invalid { error, .. } => ApiError::invalid(None, &error),
            other => ApiError::from(other),
        })?;
    Ok(json_response(StatusCode::CREATED, &acks))
}

/// A failure of the command-line side of a plan's execution or status, as the
/// service answers it: usage 400, invalid 422, conflict 409, store errors as the
/// store's, and a plan that does not reproduce (damaged data) 409 naming it.
fn api_error_of(e: crate::error::CliError) -> ApiError {
    match e.code {
        2 => ApiError::bad_request("month", e.message),
        3 => ApiError::invalid(None, &EventError::whole(e.message)),
        4 | 5 => ApiError::conflict(e.message),
        _ => ApiError::unavailable(e.message),
    }
}

/// `POST /v1/plans/{month}/execute` (officer, issue 18): appends, as one atomic batch,
/// the transfers of the latest issued plan of the month that are not yet recorded
/// (201 with their acknowledgements); a dry run, or a plan with nothing missing,
/// answers 200 with [`answers::ExecuteAnswer`] and writes nothing.
async fn execute_plan(
    Shared(app): Shared<AppState>,
    headers: HeaderMap,
    month: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: Body,
) -> Answer {
    let (who, value) = authorized_body(
        &app,
        &headers,
        body,
        &[Role::Officer],
        "executing a plan appends transfers: it needs an officer's token",
    )
    .await?;
    app.writable()?;
    let month = month_of(month)?;
    let Value::Object(m) = value else {
        return Err(ApiError::invalid(
            None,
            &EventError::whole("the body must be an object {\"value_date\"?,\"dry_run\"?}"),
        ));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["value_date", "dry_run"].contains(&k.as_str()))
    {
        return Err(ApiError::invalid(
            None,
            &EventError::field(
                k.clone(),
                "is not a member of this request (value_date, dry_run; the month is in the path)",
            ),
        ));
    }
    let value_date = match m.get("value_date") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(
            Date::parse(d)
                .map_err(|e| ApiError::invalid(None, &EventError::field("value_date", e)))?,
        ),
        Some(_) => {
            return Err(ApiError::invalid(
                None,
                &EventError::field("value_date", "must be a date YYYY-MM-DD or null"),
            ))
        }
    };
    let dry_run = match m.get("dry_run") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::invalid(
                None,
                &EventError::field("dry_run", "must be true, false or null"),
            ))
        }
    };
    let ready = app.clone();
    let ex = blocking(move || {
        let target = crate::cli::Target::Live {
            dir: std::path::Path::new("."),
            app: &ready,
        };
        crate::cli::prepare_execution(&target, month, value_date).map_err(api_error_of)
    })
    .await?;
    let events: Vec<Value> = ex
        .batch
        .iter()
        .map(|e| {
            let mut v = e.event.to_json();
            if let (Some(o), Some(k)) = (v.as_object_mut(), &e.idempotency_key) {
                o.insert("idempotency_key".into(), json!(k));
            }
            v
        })
        .collect();
    if !dry_run && !ex.batch.is_empty() {
        let acks = app.writer().append_as(&who.name, ex.batch, None).await?;
        return Ok(json_response(StatusCode::CREATED, &acks));
    }
    let answer = answers::ExecuteAnswer {
        month,
        plan_seq: ex.plan_seq,
        funded_lines: ex.funded as u64,
        already_recorded: (ex.funded - ex.batch.len()) as u64,
        dry_run,
        events,
    };
    Ok(json_response(StatusCode::OK, &answer))
}

// ---- reads --------------------------------------------------------------------------

/// `GET /v1/events?from=SEQ&limit=N`.
async fn list_events(Shared(app): Shared<AppState>, headers: HeaderMap, uri: Uri) -> Answer {
    app.authenticate(&headers)?;
    let p = Params::parse(uri.query(), &["from", "limit"])?;
    let from = p.u64("from")?.unwrap_or(1).max(1);
    let limit = p.u64("limit")?.unwrap_or(DEFAULT_PAGE_RECORDS);
    if limit == 0 || limit > MAX_PAGE_RECORDS {
        return Err(ApiError::bad_request(
            "limit",
            format!("limit must be 1..={MAX_PAGE_RECORDS}, not {limit}"),
        ));
    }
    blocking(move || {
        let head = app.durable_head();
        let mut body = String::from("{\"records\":[");
        let mut next = Value::Null;
        if from <= head {
            let to = head.min(from.saturating_add(limit - 1));
            for (i, r) in app.store().records(from, to).enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(&r?.to_json_line());
            }
            if to < head {
                next = json!(to + 1);
            }
        }
        body.push_str("],\"next\":");
        body.push_str(&next.to_string());
        body.push('}');
        Ok(json_bytes(StatusCode::OK, body.into_bytes()))
    })
    .await
}

/// `GET /v1/events/stream?from=SEQ` with `Last-Event-ID`.
async fn stream_events(Shared(app): Shared<AppState>, headers: HeaderMap, uri: Uri) -> Answer {
    app.authenticate(&headers)?;
    let p = Params::parse(uri.query(), &["from"])?;
    let from = p.u64("from")?;
    let last = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID", "Last-Event-ID must be a record's seq")
                })?,
        ),
    };
    let start = match last {
        Some(n) => n.saturating_add(1),
        None => from.unwrap_or(1),
    };
    let permit = app.stream_permit().ok_or_else(|| {
        ApiError::unavailable(format!(
            "{} event streams are open, the most this service keeps; retry later",
            app.limits().max_streams
        ))
        .retry_after(5)
    })?;
    Ok(sse::stream(app, start, permit))
}

/// `GET /v1/positions?as_of&at_seq&county` (§6.1); an unknown county is a 404.
async fn positions(Shared(app): Shared<AppState>, headers: HeaderMap, uri: Uri) -> Answer {
    app.authenticate(&headers)?;
    let p = Params::parse(
        uri.query(),
        &papers::allowed(&["as_of", "at_seq", "county"]),
    )?;
    let (as_of, at_seq, county) = (p.date("as_of")?, p.u64("at_seq")?, p.county("county")?);
    let paper = PaperQuery::parse(&p, build::POSITION_SECTIONS)?;
    at_state(&app, at_seq, move |st| {
        if let Some(id) = &county {
            let d = as_of.or(st.max_effective_date);
            match st.county(id) {
                None => {
                    return Err(ApiError::not_found(format!(
                        "no county {id} in the log (at seq {})",
                        st.head_seq
                    )))
                }
                Some(c) if d.map_or(true, |d| c.registered_on > d) => {
                    return Err(ApiError::not_found(format!(
                        "county {id} is registered on {}, after as_of {}",
                        c.registered_on,
                        d.map_or_else(|| "(none)".to_string(), |d| d.to_string())
                    )))
                }
                Some(_) => {}
            }
        }
        let answer = position(st, as_of, county.as_ref());
        json_or_paper(
            st,
            &paper,
            &answer,
            build::position,
            &stem("position", answer.as_of),
        )
    })
    .await
}

/// A read route's answer: its JSON, or the paper `build` makes of it (the report
/// model in the asked language and unit), as file `stem`.
fn json_or_paper<T: serde::Serialize>(
    st: &State,
    paper: &PaperQuery,
    answer: &T,
    build: impl FnOnce(&T, &Ctx) -> crate::report::Report,
    stem: &str,
) -> Result<Response, ApiError> {
    if paper.is_json() {
        return Ok(json_response(StatusCode::OK, answer));
    }
    paper.respond(&build(answer, &Ctx::of(st, paper.lang, paper.unit)), stem)
}

/// A paper's file name: the report's name and its date, when there is one.
fn stem(name: &str, date: Option<crate::values::Date>) -> String {
    match date {
        Some(d) => format!("{name}-{d}"),
        None => name.to_string(),
    }
}

/// `GET /v1/monitor?as_of&at_seq` (§6.2).
async fn monitor_route(Shared(app): Shared<AppState>, headers: HeaderMap, uri: Uri) -> Answer {
    app.authenticate(&headers)?;
    let p = Params::parse(uri.query(), &papers::allowed(&["as_of", "at_seq"]))?;
    let (as_of, at_seq) = (p.date("as_of")?, p.u64("at_seq")?);
    let paper = PaperQuery::parse(&p, build::MONITOR_SECTIONS)?;
    at_state(&app, at_seq, move |st| {
        let answer = monitor(st, as_of);
        json_or_paper(
            st,
            &paper,
            &answer,
            build::monitor,
            &stem("monitor", answer.as_of),
        )
    })
    .await
}

/// `GET /v1/plans/{month}?at_seq` (§6.3).
async fn plan_route(
    Shared(app): Shared<AppState>,
    headers: HeaderMap,
    uri: Uri,
    month: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Answer {
    app.authenticate(&headers)?;
    let month = month_of(month)?;
    let p = Params::parse(uri.query(), &papers::allowed(&["at_seq"]))?;
    let at_seq = p.u64("at_seq")?;
    let paper = PaperQuery::parse(&p, build::PLAN_SECTIONS)?;
    at_state(&app, at_seq, move |st| {
        let answer = plan(st, month);
        json_or_paper(st, &paper, &answer, build::plan, &format!("plan-{month}"))
    })
    .await
}

/// `GET /v1/plans/{month}/status?at_seq` (any role, issue 18): the latest issued plan
/// of the month against the transfers dispatched for it.
async fn plan_status_route(
    Shared(app): Shared<AppState>,
    headers: HeaderMap,
    uri: Uri,
    month: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Answer {
    app.authenticate(&headers)?;
    let month = month_of(month)?;
    let p = Params::parse(uri.query(), &["at_seq"])?;
    let at_seq = p.u64("at_seq")?;
    let ready = app.clone();
    blocking(move || {
        let target = crate::cli::Target::Live {
            dir: std::path::Path::new("."),
            app: &ready,
        };
        let answer = crate::cli::status_of(&target, month, at_seq).map_err(|e| match e.code {
            2 => ApiError::bad_request("at_seq", e.message),
            _ => api_error_of(e),
        })?;
        Ok(json_response(StatusCode::OK, &answer))
    })
    .await
}

/// `GET /v1/forecast?from&months&at_seq` (§6.4).
async fn forecast_route(Shared(app): Shared<AppState>, headers: HeaderMap, uri: Uri) -> Answer {
    app.authenticate(&headers)?;
    let p = Params::parse(uri.query(), &papers::allowed(&["from", "months", "at_seq"]))?;
    let paper = PaperQuery::parse(&p, build::FORECAST_SECTIONS)?;
    let from = p.month("from")?.ok_or_else(|| {
        ApiError::bad_request("from", "from (the first month, YYYY-MM) is required")
    })?;
    let months = p.u64("months")?.unwrap_or(3);
    if !(1..=120).contains(&months) {
        return Err(ApiError::bad_request(
            "months",
            format!("months must be 1..=120, not {months}"),
        ));
    }
    let at_seq = p.u64("at_seq")?;
    at_state(&app, at_seq, move |st| {
        let answer = forecast(st, from, months as u32);
        json_or_paper(
            st,
            &paper,
            &answer,
            build::forecast,
            &format!("forecast-{from}"),
        )
    })
    .await
}

// ---- the year's oversight (issue 19) -----------------------------------------------

/// The required `fiscal_year` query parameter (2000..=2099).
fn fiscal_year_param(p: &Params) -> Result<crate::values::FiscalYear, ApiError> {
    let y = p
        .u64("fiscal_year")?
        .ok_or_else(|| ApiError::bad_request("fiscal_year", "fiscal_year (YYYY) is required"))?;
    i32::try_from(y)
        .ok()
        .and_then(crate::values::FiscalYear::new)
        .ok_or_else(|| {
            ApiError::bad_request(
                "fiscal_year",
                format!("fiscal_year must be 2000..=2099, not {y}"),
            )
        })
}

/// `GET /v1/review/budget?fiscal_year&as_of&at_seq` (预算再审核, any role).
async fn review_budget_route(
    Shared(app): Shared<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Answer {
    app.authenticate(&headers)?;
    let p = Params::parse(
        uri.query(),
        &papers::allowed(&["fiscal_year", "as_of", "at_seq"]),
    )?;
    let paper = PaperQuery::parse(&p, build::REVIEW_SECTIONS)?;
    let fy = fiscal_year_param(&p)?;
    let as_of = p.date("as_of")?;
    let at_seq = p.u64("at_seq")?;
    at_state(&app, at_seq, move |st| {
        let answer = crate::query::oversight::review_budget(st, fy, as_of);
        json_or_paper(
            st,
            &paper,
            &answer,
            build::review_budget,
            &format!("review-budget-{fy}"),
        )
    })
    .await
}

/// `GET /v1/assess?proposal&at_seq` (财政可承受能力评估, any role): 404 when
/// `proposal` is not a `policy_proposed` record.
async fn assess_route(Shared(app): Shared<AppState>, headers: HeaderMap, uri: Uri) -> Answer {
    app.authenticate(&headers)?;
    let p = Params::parse(uri.query(), &papers::allowed(&["proposal", "at_seq"]))?;
    let paper = PaperQuery::parse(&p, build::ASSESS_SECTIONS)?;
    let seq = p.u64("proposal")?.ok_or_else(|| {
        ApiError::bad_request(
            "proposal",
            "proposal (the seq of a policy_proposed) is required",
        )
    })?;
    let at_seq = p.u64("at_seq")?;
    at_state(&app, at_seq, move |st| {
        let answer =
            crate::query::oversight::assess(st, seq).map_err(|(en, _)| ApiError::not_found(en))?;
        json_or_paper(st, &paper, &answer, build::assess, &format!("assess-{seq}"))
    })
    .await
}

/// `GET /v1/scorecard?fiscal_year&at_seq` (考核, any role).
async fn scorecard_route(Shared(app): Shared<AppState>, headers: HeaderMap, uri: Uri) -> Answer {
    app.authenticate(&headers)?;
    let p = Params::parse(uri.query(), &papers::allowed(&["fiscal_year", "at_seq"]))?;
    let paper = PaperQuery::parse(&p, build::SCORECARD_SECTIONS)?;
    let fy = fiscal_year_param(&p)?;
    let at_seq = p.u64("at_seq")?;
    at_state(&app, at_seq, move |st| {
        let answer = crate::query::oversight::scorecard(st, fy);
        json_or_paper(
            st,
            &paper,
            &answer,
            build::scorecard,
            &format!("scorecard-{fy}"),
        )
    })
    .await
}

// ---- what-if (issue 18) ------------------------------------------------------------

/// Answers a what-if: the body's events (one or an array; any role, as they are only
/// supposed) checked over the head as if appended, in order, and the query's answer
/// over them as [`crate::query::whatif::what_if_json`] writes it. `ask` reads the
/// query parameters (after the body, before the events, in the SPEC's order of
/// refusals) and answers the query to run. Nothing is written: the writer is never
/// asked, and the state is read and cloned.
async fn what_if<T, F>(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
    plan: bool,
    ask: impl FnOnce() -> Result<F, ApiError>,
) -> Answer
where
    T: serde::Serialize,
    F: FnOnce(&State) -> T + Send + 'static,
{
    let (who, value) = authorized_body(app, headers, body, &Role::ALL, "").await?;
    let query = ask()?;
    let values = match value {
        Value::Array(items) => items,
        v => vec![v],
    };
    if values.is_empty() {
        return Err(ApiError::invalid(
            None,
            &EventError::whole("the what-if holds no event"),
        ));
    }
    if values.len() > crate::query::whatif::MAX_HYPOTHETICAL {
        return Err(ApiError::too_large(format!(
            "the what-if holds {} events; at most {} per request",
            values.len(),
            crate::query::whatif::MAX_HYPOTHETICAL
        )));
    }
    let mut events = Vec::with_capacity(values.len());
    for (i, v) in values.into_iter().enumerate() {
        // The body is documented as the `Event` schema, which has no null member: a
        // what-if answers 200 for whatever it takes, so it takes only what it documents
        // (leave an optional member out rather than send null).
        let null = v
            .as_object()
            .and_then(|m| m.iter().find(|(_, x)| x.is_null()).map(|(k, _)| k.clone()));
        if let Some(k) = null {
            return Err(ApiError::invalid(
                Some(i),
                &EventError::field(
                    k,
                    "must not be null in a what-if: leave an optional member out",
                ),
            ));
        }
        events.push(Event::parse_object(v).map_err(|e| ApiError::invalid(Some(i), &e))?);
    }
    let n = events.len();
    let app = app.clone();
    blocking(move || {
        let _turn = app.query_turn();
        let supposed = {
            let st = app.state();
            let mut past = |seq: u64, month: Month| {
                let s = app.past_state(seq).map_err(|e| e.to_string())?;
                Ok(crate::query::plan_facts(&s, month))
            };
            crate::query::whatif::suppose(&st, Some(&who.name), events, &mut past)
                .map_err(|r| ApiError::invalid(r.index, &r.error))?
        };
        let answer = query(&supposed);
        let text = crate::query::whatif::what_if_json(&answer, n, plan)
            .map_err(|e| ApiError::unavailable(format!("cannot write the answer: {e}")))?;
        Ok(json_bytes(
            StatusCode::OK,
            text.trim_end().as_bytes().to_vec(),
        ))
    })
    .await
}

/// `POST /v1/monitor/what-if?as_of` (§6.2 over hypothetical events).
async fn monitor_what_if(
    Shared(app): Shared<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Answer {
    what_if(&app, &headers, body, false, || {
        let as_of = Params::parse(uri.query(), &["as_of"])?.date("as_of")?;
        Ok(move |st: &State| monitor(st, as_of))
    })
    .await
}

/// `POST /v1/plans/{month}/what-if` (§6.3 over hypothetical events; no plan_sha256).
async fn plan_what_if(
    Shared(app): Shared<AppState>,
    headers: HeaderMap,
    uri: Uri,
    month: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: Body,
) -> Answer {
    what_if(&app, &headers, body, true, || {
        let month = month_of(month)?;
        Params::parse(uri.query(), &[])?;
        Ok(move |st: &State| plan(st, month))
    })
    .await
}

/// `POST /v1/forecast/what-if?from&months` (§6.4 over hypothetical events).
async fn forecast_what_if(
    Shared(app): Shared<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Answer {
    what_if(&app, &headers, body, false, || {
        let p = Params::parse(uri.query(), &["from", "months"])?;
        let from = p.month("from")?.ok_or_else(|| {
            ApiError::bad_request("from", "from (the first month, YYYY-MM) is required")
        })?;
        let months = p.u64("months")?.unwrap_or(3);
        if !(1..=120).contains(&months) {
            return Err(ApiError::bad_request(
                "months",
                format!("months must be 1..=120, not {months}"),
            ));
        }
        Ok(move |st: &State| forecast(st, from, months as u32))
    })
    .await
}

/// `GET /v1/verify`: the chain of every durable record.
async fn verify_route(Shared(app): Shared<AppState>, headers: HeaderMap, uri: Uri) -> Answer {
    app.authenticate(&headers)?;
    Params::parse(uri.query(), &[])?;
    blocking(move || {
        let head = app.durable_head();
        let body = match log::verify(app.store(), Some(head), |_| {})? {
            Verified::Ok { records, head_hash } => answers::Verify::Ok(ChainOk {
                head_hash,
                ok: true,
                records,
            }),
            Verified::Bad {
                first_bad_seq,
                reason,
            } => answers::Verify::Broken(ChainBroken::new(first_bad_seq, reason)),
        };
        Ok(json_response(StatusCode::OK, &body))
    })
    .await
}

/// `GET /v1/replay?as_of&at_seq`: rebuilt from the log alone.
async fn replay_route(Shared(app): Shared<AppState>, headers: HeaderMap, uri: Uri) -> Answer {
    app.authenticate(&headers)?;
    let p = Params::parse(uri.query(), &papers::allowed(&["as_of", "at_seq"]))?;
    let (as_of, at_seq) = (p.date("as_of")?, p.u64("at_seq")?);
    let paper = PaperQuery::parse(&p, build::REPLAY_SECTIONS)?;
    blocking(move || {
        let head = app.durable_head();
        let n = at_seq.unwrap_or(head);
        if n > head {
            return Err(ApiError::bad_request(
                "at_seq",
                format!("at_seq {n} is beyond the log's head (seq {head}); use 0..={head}"),
            ));
        }
        let answer = match replay::replay(app.store(), n, as_of, |_| {})? {
            replay::Replayed::Done { report, state } if !paper.is_json() => {
                let r = build::replay(&report, &Ctx::of(&state, paper.lang, paper.unit));
                return paper.respond(&r, &stem("replay", report.position.as_of));
            }
            replay::Replayed::Done { report, .. } => answers::Replay::Done(report),
            replay::Replayed::Broken {
                first_bad_seq,
                reason,
            } => answers::Replay::Broken(ChainBroken::new(first_bad_seq, reason)),
        };
        Ok(json_response(StatusCode::OK, &answer))
    })
    .await
}
