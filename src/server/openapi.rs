//! The OpenAPI 3.1 document of the service (`GET /openapi.json`), assembled from the
//! code: request bodies of `POST /v1/events` are the event kinds' JSON Schemas that
//! `schemars` derives from the Rust types (the same ones as `schemas/`), and the
//! response objects of SPEC §4–§7 are described here next to [`ROUTES`], the one
//! table the router is built from.
//!
//! Guarantees: every route the router serves is a path here with its method,
//! parameters and every status it can answer; the document is OpenAPI 3.1.0 (whose
//! Schema Object is JSON Schema 2020-12, so the derived schemas embed unchanged,
//! their `definitions` moved to `components/schemas`). A test in `tests/http.rs`
//! checks real answers against these response schemas.

use crate::event::Event;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// Every route: `(method, path as in the document)`. The router in
/// [`super::routes::router`] serves exactly these, plus the fallbacks for unknown ones.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("post", "/v1/events"),
    ("get", "/v1/events"),
    ("get", "/v1/events/stream"),
    ("get", "/v1/positions"),
    ("get", "/v1/monitor"),
    ("get", "/v1/plans/{month}"),
    ("post", "/v1/plans/{month}/issue"),
    ("get", "/v1/forecast"),
    ("get", "/v1/verify"),
    ("get", "/v1/replay"),
];

/// The document as JSON text (built once).
pub fn document_text() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_string(&document()).expect("the document serializes"))
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn nullable(v: Value) -> Value {
    json!({ "oneOf": [v, {"type": "null"}] })
}

fn arr(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

/// A closed object whose members are all required.
fn obj(description: &str, props: &[(&str, Value)]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert((*k).to_string(), v.clone());
    }
    let req: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    json!({
        "type": "object", "description": description, "additionalProperties": false,
        "required": req, "properties": Value::Object(p)
    })
}

/// A seq or count: what the server reads into a `u64`.
fn uint() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX })
}

fn string_enum(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

/// Rewrites `#/definitions/X` references to `#/components/schemas/X`.
fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(s)) = m.get_mut("$ref") {
                if let Some(name) = s.strip_prefix("#/definitions/") {
                    *s = format!("#/components/schemas/{name}");
                }
            }
            for x in m.values_mut() {
                rewrite_refs(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

fn output_schemas(s: &mut Map<String, Value>) {
    let money = || r("MoneyOut");
    let ratio = || r("RatioOut");
    let mut put = |k: &str, v: Value| {
        s.insert(k.to_string(), v);
    };
    put(
        "MoneyOut",
        json!({"type": "string", "pattern": "^-?[0-9]+\\.[0-9]{2}$",
        "description": "an amount in yuan with exactly two decimals (negative only where a figure can be)"}),
    );
    put(
        "DateOut",
        json!({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        "description": "a computed date YYYY-MM-DD; may fall before 2000-01-01 (the basis date of 2000-01, a deadline a week before an early payday)"}),
    );
    put(
        "RatioOut",
        json!({"type": "string", "pattern": "^-?[0-9]+\\.[0-9]{4}$",
        "description": "a ratio with exactly four decimals"}),
    );
    put(
        "Fund",
        string_enum(&["general", "pre_notified", "in_execution", "direct"]),
    );
    put(
        "Status",
        string_enum(&["warning", "low", "normal", "idle", "unknown"]),
    );
    put(
        "Error",
        obj(
            "every refusal (SPEC §7)",
            &[(
                "error",
                json!({
                    "type": "object", "additionalProperties": false, "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "description": "malformed_json, bad_request, unauthorized, forbidden, not_found, conflict, too_large, unsupported_media_type, invalid_event, unavailable"},
                        "message": {"type": "string"},
                        "index": {"type": "integer", "minimum": 0, "description": "0-based index of the event to blame in its batch"},
                        "field": {"type": "string", "description": "the field, query parameter or header to blame"}
                    }
                }),
            )],
        ),
    );
    put(
        "Ack",
        obj(
            "the answer for one appended event",
            &[
                ("duplicate", json!({"type": "boolean"})),
                ("hash", r("Sha256")),
                ("seq", uint()),
            ],
        ),
    );
    put(
        "Record",
        obj(
            "one log record (SPEC §4)",
            &[
                ("event", r("Event")),
                ("hash", r("Sha256")),
                (
                    "idempotency_key",
                    nullable(json!({"type": "string", "minLength": 1, "maxLength": 128})),
                ),
                ("prev_hash", r("Sha256")),
                (
                    "recorded_at",
                    json!({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"}),
                ),
                ("seq", json!({"type": "integer", "minimum": 1})),
            ],
        ),
    );
    put(
        "EventsPage",
        obj(
            "a page of records",
            &[
                ("records", arr(r("Record"))),
                (
                    "next",
                    nullable(
                        json!({"type": "integer", "minimum": 1, "description": "the `from` of the next page; null when this page reaches the head"}),
                    ),
                ),
            ],
        ),
    );
    put(
        "Position",
        obj(
            "SPEC §6.1",
            &[
                ("as_of", nullable(r("Date"))),
                ("at_seq", uint()),
                ("city", obj("city.treasury", &[("treasury", money())])),
                (
                    "counties",
                    arr(obj(
                        "one county",
                        &[
                            ("county", r("CountyId")),
                            ("name", r("Text")),
                            ("treasury", money()),
                            ("wage_reserve", money()),
                            ("cash", money()),
                            (
                                "funds",
                                arr(obj(
                                    "one (fiscal_year, fund)",
                                    &[
                                        ("fiscal_year", r("FiscalYear")),
                                        ("fund", r("Fund")),
                                        ("entitled", money()),
                                        ("dispatched", money()),
                                        ("remaining", money()),
                                    ],
                                )),
                            ),
                        ],
                    )),
                ),
            ],
        ),
    );
    put(
        "Monitor",
        obj(
            "SPEC §6.2",
            &[
                ("as_of", nullable(r("Date"))),
                ("at_seq", uint()),
                (
                    "counties",
                    arr(obj(
                        "guarantee level of one county",
                        &[
                            ("county", r("CountyId")),
                            ("cash", money()),
                            ("avg_monthly_outflow", nullable(money())),
                            ("guarantee_level", nullable(ratio())),
                            ("status", r("Status")),
                            ("warning_line", ratio()),
                            ("alert_line", ratio()),
                            ("idle_line", ratio()),
                        ],
                    )),
                ),
                (
                    "payroll",
                    arr(obj(
                        "one payroll month of one county",
                        &[
                            ("county", r("CountyId")),
                            ("payroll_month", r("Month")),
                            ("wage_bill", money()),
                            ("payday", r("Date")),
                            ("deposit_deadline", r("DateOut")),
                            ("deposited", money()),
                            ("paid", money()),
                            ("shortfall", money()),
                            ("status", string_enum(&["paid", "funded", "late", "due"])),
                        ],
                    )),
                ),
                (
                    "direct_overdue",
                    arr(obj(
                        "direct funds still owed",
                        &[
                            ("county", r("CountyId")),
                            ("fiscal_year", r("FiscalYear")),
                            ("undispatched", money()),
                        ],
                    )),
                ),
                (
                    "discrepancies",
                    arr(obj(
                        "a reported balance that differs from the computed one",
                        &[
                            ("county", r("CountyId")),
                            ("account", string_enum(&["treasury", "wage_reserve"])),
                            ("on", r("Date")),
                            ("reported", money()),
                            ("computed", money()),
                        ],
                    )),
                ),
                (
                    "watchlist",
                    arr(obj(
                        "a county to watch",
                        &[
                            ("county", r("CountyId")),
                            (
                                "reasons",
                                arr(string_enum(&[
                                    "guarantee_level_warning",
                                    "payroll_late",
                                    "direct_overdue",
                                    "discrepancy",
                                ])),
                            ),
                        ],
                    )),
                ),
            ],
        ),
    );
    put(
        "Plan",
        obj(
            "SPEC §6.3",
            &[
                ("month", r("Month")),
                ("based_on_seq", uint()),
                ("basis_date", r("DateOut")),
                ("city_available", money()),
                ("total_planned", money()),
                ("total_funded", money()),
                (
                    "tiers",
                    arr(obj(
                        "one funding tier",
                        &[
                            ("fund", r("Fund")),
                            ("planned", money()),
                            ("funded", money()),
                        ],
                    )),
                ),
                (
                    "lines",
                    arr(obj(
                        "one (county, fund, fiscal_year) with planned > 0",
                        &[
                            ("county", r("CountyId")),
                            ("fund", r("Fund")),
                            ("fiscal_year", r("FiscalYear")),
                            ("planned", money()),
                            ("funded", money()),
                            ("shortfall", money()),
                        ],
                    )),
                ),
                (
                    "counties",
                    arr(obj(
                        "one county's projection",
                        &[
                            ("county", r("CountyId")),
                            ("opening_cash", money()),
                            ("funded_in", money()),
                            ("expected_revenue", money()),
                            ("needs", money()),
                            ("projected_end", money()),
                            ("projected_level", nullable(ratio())),
                            ("status", r("Status")),
                            ("emergency_recommended", money()),
                            (
                                "payroll",
                                nullable(obj(
                                    "the month's wage bill",
                                    &[
                                        ("wage_bill", money()),
                                        ("payday", r("Date")),
                                        ("deposit_deadline", r("DateOut")),
                                    ],
                                )),
                            ),
                        ],
                    )),
                ),
                ("plan_sha256", r("Sha256")),
            ],
        ),
    );
    put(
        "Forecast",
        obj(
            "SPEC §6.4",
            &[
                ("from", r("Month")),
                (
                    "months",
                    json!({"type": "integer", "minimum": 1, "maximum": 120}),
                ),
                ("based_on_seq", uint()),
                (
                    "counties",
                    arr(obj(
                        "one county's months",
                        &[
                            ("county", r("CountyId")),
                            (
                                "months",
                                arr(obj(
                                    "one month",
                                    &[
                                        ("month", r("Month")),
                                        ("opening_cash", money()),
                                        ("funded_in", money()),
                                        ("expected_revenue", money()),
                                        ("needs", money()),
                                        ("wage_need", money()),
                                        ("projected_end", money()),
                                        ("wage_cover", nullable(ratio())),
                                        ("risk", string_enum(&["high", "medium", "low"])),
                                    ],
                                )),
                            ),
                        ],
                    )),
                ),
            ],
        ),
    );
    let broken = obj(
        "the chain breaks",
        &[
            ("first_bad_seq", json!({"type": "integer", "minimum": 1})),
            ("ok", json!({"const": false})),
            ("reason", json!({"type": "string"})),
        ],
    );
    put("VerifyBroken", broken);
    put(
        "Verify",
        json!({"oneOf": [
            obj("every record checks", &[
                ("head_hash", r("Sha256")),
                ("ok", json!({"const": true})),
                ("records", uint()),
            ]),
            r("VerifyBroken"),
        ]}),
    );
    put(
        "Replay",
        json!({"oneOf": [
            obj("SPEC §5 replay", &[
                ("at_seq", uint()),
                ("head_hash", r("Sha256")),
                ("monitor", r("Monitor")),
                ("plans", arr(obj("one issued plan, recomputed", &[
                    ("month", r("Month")),
                    ("based_on_seq", uint()),
                    ("plan_sha256", r("Sha256")),
                    ("reproduced", json!({"type": "boolean"})),
                ]))),
                ("position", r("Position")),
            ]),
            r("VerifyBroken"),
        ]}),
    );
    put(
        "IssueRequest",
        json!({
            "type": "object", "additionalProperties": false,
            "required": ["based_on_seq", "plan_sha256"],
            "properties": {
                "based_on_seq": {"type": "integer", "minimum": 0, "description": "the plan's based_on_seq (GET /v1/plans/{month})"},
                "plan_sha256": r("Sha256"),
                "issued_on": nullable(r("Date")),
            }
        }),
    );
    put(
        "Health",
        obj(
            "liveness",
            &[("status", json!({"const": "ok"})), ("head_seq", uint())],
        ),
    );
    put(
        "Ready",
        obj(
            "ready: the log verified, the writer running",
            &[("status", json!({"const": "ready"})), ("head_seq", uint())],
        ),
    );
    put(
        "NotReady",
        obj(
            "not ready, and why",
            &[
                ("status", json!({"const": "not_ready"})),
                ("reason", json!({"type": "string"})),
            ],
        ),
    );
}

fn param(name: &str, location: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": location, "required": required, "schema": schema, "description": description})
}

fn at_seq() -> Value {
    param(
        "at_seq",
        "query",
        false,
        uint(),
        "only records with seq ≤ N (0..=head; default the head); beyond the head is a 400",
    )
}

fn as_of() -> Value {
    param(
        "as_of",
        "query",
        false,
        r("Date"),
        "business date (default: the latest effective date)",
    )
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

/// Responses: the success one plus the named error responses.
fn responses(ok_status: &str, ok_desc: &str, ok_schema: Value, errors: &[&str]) -> Value {
    let mut m = Map::new();
    m.insert(
        ok_status.into(),
        json!({"description": ok_desc, "content": json_content(ok_schema)}),
    );
    for e in errors {
        m.insert(
            (*e).into(),
            json!({"$ref": format!("#/components/responses/{}", error_response_name(e))}),
        );
    }
    Value::Object(m)
}

fn error_response_name(status: &str) -> &'static str {
    match status {
        "400" => "BadRequest",
        "401" => "Unauthorized",
        "403" => "Forbidden",
        "404" => "NotFound",
        "408" => "RequestTimeout",
        "409" => "Conflict",
        "413" => "TooLarge",
        "415" => "UnsupportedMediaType",
        "422" => "InvalidEvent",
        _ => "Unavailable",
    }
}

const READ_ERRORS: &[&str] = &["400", "401", "403", "503"];

fn get_op(id: &str, summary: &str, params: Vec<Value>, ok: Value, errors: &[&str]) -> Value {
    json!({"get": {
        "operationId": id, "summary": summary, "parameters": params,
        "responses": responses("200", "OK", ok, errors)
    }})
}

/// Builds the whole document.
pub fn document() -> Value {
    let mut schemas = Map::new();
    let mut kinds = Vec::new();
    let mut mapping = Map::new();
    for (kind, root) in Event::schemas() {
        let mut v = serde_json::to_value(root).expect("schemas serialize");
        rewrite_refs(&mut v);
        if let Value::Object(m) = &mut v {
            m.remove("$schema");
            m.remove("$id");
            if let Some(Value::Object(defs)) = m.remove("definitions") {
                for (k, d) in defs {
                    schemas.entry(k).or_insert(d);
                }
            }
        }
        schemas.insert(kind.to_string(), v);
        kinds.push(r(kind));
        mapping.insert(
            kind.to_string(),
            json!(format!("#/components/schemas/{kind}")),
        );
    }
    for (name, pattern, desc) in [
        ("Sha256", "^[0-9a-f]{64}$", "lowercase hex SHA-256"),
        (
            "Date",
            "^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
            "a calendar date YYYY-MM-DD, 2000..=2099 (a day the month lacks, as 2021-02-30, is a 400 or 422)",
        ),
        (
            "Month",
            "^20[0-9]{2}-(0[1-9]|1[0-2])$",
            "a calendar month YYYY-MM",
        ),
        ("CountyId", "^[a-z][a-z0-9_-]{0,31}$", "a county id"),
    ] {
        let mut schema = json!({"type": "string", "pattern": pattern, "description": desc});
        if name == "Date" {
            // Stricter than the derived schema (`schemas/`): what the server enforces.
            schema["format"] = json!("date");
            schemas.insert(name.to_string(), schema);
        } else {
            schemas.entry(name.to_string()).or_insert(schema);
        }
    }
    schemas
        .entry("Text".to_string())
        .or_insert(json!({"type": "string", "minLength": 1, "maxLength": 200}));
    schemas
        .entry("FiscalYear".to_string())
        .or_insert(json!({"type": "integer", "minimum": 2000, "maximum": 2099}));
    schemas.insert(
        "Event".into(),
        json!({"oneOf": kinds, "discriminator": {"propertyName": "kind", "mapping": Value::Object(mapping)},
               "description": "one event (SPEC §3): an object with its `kind`; input amounts are strings"}),
    );
    output_schemas(&mut schemas);

    let mut error_responses = Map::new();
    for (status, desc) in [
        (
            "400",
            "malformed JSON, or a wrong query parameter, header or path segment",
        ),
        ("401", "no token, or an unknown one"),
        ("403", "the role may not do this"),
        (
            "404",
            "unknown route (also a known path with another method) or county",
        ),
        (
            "408",
            "the body did not arrive within the body-read timeout (30 s); the connection is closed",
        ),
        (
            "409",
            "idempotency key used for another event, or the expected head moved",
        ),
        ("413", "body over 1 MiB, or a batch over 10,000 events"),
        ("415", "the body is not application/json"),
        ("422", "an invalid event; nothing was written"),
        (
            "503",
            "storage failed or the service is stopping, nothing was written; or (event stream, with Retry-After) the most streams are open",
        ),
    ] {
        error_responses.insert(
            error_response_name(status).into(),
            json!({"description": desc, "content": json_content(r("Error"))}),
        );
    }

    let idem = param(
        "Idempotency-Key",
        "header",
        false,
        json!({"type": "string", "minLength": 1, "maxLength": 128}),
        "idempotency key for a single event that carries none of its own (SPEC §8.11)",
    );
    let expect = param(
        "expect_seq",
        "query",
        false,
        uint(),
        "append only if the log's last seq is N (0 for an empty log); else 409",
    );
    let month_path = param("month", "path", true, r("Month"), "the plan month YYYY-MM");
    let append_errors = &[
        "400", "401", "403", "408", "409", "413", "415", "422", "503",
    ];

    let mut paths = Map::new();
    paths.insert(
        "/healthz".into(),
        json!({"get": {
            "operationId": "healthz", "summary": "liveness (no token needed)", "security": [],
            "responses": responses("200", "the service is up", r("Health"), &[])
        }}),
    );
    paths.insert(
        "/readyz".into(),
        json!({"get": {
            "operationId": "readyz", "summary": "readiness: the log verified, the writer running, not stopping (no token needed)", "security": [],
            "responses": {
                "200": {"description": "ready", "content": json_content(r("Ready"))},
                "503": {"description": "not ready (stopping, or the writer stopped writing)", "content": json_content(r("NotReady"))}
            }
        }}),
    );
    paths.insert("/metrics".into(), json!({"get": {
        "operationId": "metrics", "summary": "metrics in the OpenMetrics text format, which Prometheus scrapes (auditor; no token on the address of `serve --metrics-listen`)",
        "responses": {
            "200": {"description": "the metrics (OpenMetrics 1.0 text)", "content": {"application/openmetrics-text": {"schema": {"type": "string"}}}},
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "403": {"$ref": "#/components/responses/Forbidden"}
        }
    }}));
    paths.insert("/openapi.json".into(), json!({"get": {
        "operationId": "openapi", "summary": "this document (no token needed)", "security": [],
        "responses": {"200": {"description": "the OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}}
    }}));
    paths.insert("/v1/events".into(), json!({
        "post": {
            "operationId": "appendEvents",
            "summary": "append one event or an atomic batch (officer: every kind but plan_issued; scheduler: plan_issued)",
            "parameters": [expect, idem],
            "requestBody": {"required": true, "content": json_content(json!({"oneOf": [
                r("Event"), {"type": "array", "minItems": 1, "maxItems": 10000, "items": r("Event")}
            ]}))},
            "responses": responses("201", "recorded (or duplicates of records already there), durable on disk", arr(r("Ack")), append_errors)
        },
        "get": get_op("listEvents", "records from seq `from` on (any role)", vec![
            param("from", "query", false, json!({"type": "integer", "minimum": 0, "maximum": u64::MAX, "default": 1}), "first seq (included)"),
            param("limit", "query", false, json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000}), "most records in the page"),
        ], r("EventsPage"), READ_ERRORS)["get"].clone()
    }));
    paths.insert("/v1/events/stream".into(), json!({"get": {
        "operationId": "streamEvents",
        "summary": "Server-Sent Events: every record from `from` (or after Last-Event-ID) as `id: seq` + `data: record`, history first, then live. A client too slow to keep up gets `event: lagged` and is disconnected; it resumes with Last-Event-ID.",
        "parameters": [
            param("from", "query", false, json!({"type": "integer", "minimum": 0, "maximum": u64::MAX, "default": 1}), "first seq (included)"),
            param("Last-Event-ID", "header", false, uint(), "resume after this seq (takes precedence over `from`)"),
        ],
        "responses": {
            "200": {"description": "the stream", "content": {"text/event-stream": {"schema": {
                "type": "object",
                "description": "one Server-Sent Event: a record (`id` its seq, `data` the record as canonical JSON), or `event: lagged` (then the stream ends) with `data` an error object naming `last_event_id`; comment lines keep an idle stream alive",
                "required": ["data"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[0-9]+$"},
                    "event": {"type": "string"},
                    "data": {"type": "string"},
                    "retry": {"type": "integer"}
                }
            }}}},
            "400": {"$ref": "#/components/responses/BadRequest"},
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "403": {"$ref": "#/components/responses/Forbidden"},
            "503": {"$ref": "#/components/responses/Unavailable"}
        }
    }}));
    paths.insert(
        "/v1/positions".into(),
        get_op(
            "positions",
            "SPEC §6.1 (any role)",
            vec![
                as_of(),
                at_seq(),
                param(
                    "county",
                    "query",
                    false,
                    r("CountyId"),
                    "only this county (404 if unknown on as_of)",
                ),
            ],
            r("Position"),
            &["400", "401", "403", "404", "503"],
        ),
    );
    paths.insert(
        "/v1/monitor".into(),
        get_op(
            "monitor",
            "SPEC §6.2 (any role)",
            vec![as_of(), at_seq()],
            r("Monitor"),
            READ_ERRORS,
        ),
    );
    paths.insert(
        "/v1/plans/{month}".into(),
        get_op(
            "plan",
            "SPEC §6.3 (any role)",
            vec![month_path.clone(), at_seq()],
            r("Plan"),
            READ_ERRORS,
        ),
    );
    paths.insert("/v1/plans/{month}/issue".into(), json!({"post": {
        "operationId": "issuePlan",
        "summary": "append plan_issued for the month (scheduler); issued_on defaults to today (UTC)",
        "parameters": [month_path, param("expect_seq", "query", false, uint(), "append only if the log's last seq is N"), param(
            "Idempotency-Key", "header", false, json!({"type": "string", "minLength": 1, "maxLength": 128}), "idempotency key of the plan_issued event")],
        "requestBody": {"required": true, "content": json_content(r("IssueRequest"))},
        "responses": responses("201", "recorded", arr(r("Ack")), append_errors)
    }}));
    paths.insert(
        "/v1/forecast".into(),
        get_op(
            "forecast",
            "SPEC §6.4 (any role)",
            vec![
                param("from", "query", true, r("Month"), "first month"),
                param(
                    "months",
                    "query",
                    false,
                    json!({"type": "integer", "minimum": 1, "maximum": 120, "default": 3}),
                    "number of months",
                ),
                at_seq(),
            ],
            r("Forecast"),
            READ_ERRORS,
        ),
    );
    paths.insert("/v1/verify".into(), get_op("verify", "check every durable record: seqs, hashes, chain (any role); a broken chain answers ok:false", vec![], r("Verify"), READ_ERRORS));
    paths.insert("/v1/replay".into(), get_op("replay", "rebuild from the log alone, verify the chain up to N, recompute every issued plan (any role)", vec![as_of(), at_seq()], r("Replay"), READ_ERRORS));

    // Every path answers 404 for other methods; routes with a token answer 401/403.
    for (_, item) in paths.iter_mut() {
        if let Value::Object(ops) = item {
            for (_, op) in ops.iter_mut() {
                if let Some(Value::Object(resp)) = op.get_mut("responses") {
                    resp.entry("404")
                        .or_insert(json!({"$ref": "#/components/responses/NotFound"}));
                }
            }
        }
    }

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "sanbao",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Event-sourced treasury cash-flow scheduler (三保 库款调度): the HTTP API of SPEC §7. Every route but /healthz, /readyz and /openapi.json needs `Authorization: Bearer TOKEN` (`sanbao token add`); /metrics an auditor's. Roles: officer appends events (not plan_issued) and reads; scheduler requests and issues plans and reads; auditor reads only."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": Value::Object(paths),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "a token from `sanbao token add`"}},
            "schemas": Value::Object(schemas),
            "responses": Value::Object(error_responses)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_every_ref_resolves() {
        let d = document();
        assert_eq!(d["openapi"], "3.1.0");
        for (method, path) in ROUTES {
            assert!(
                d["paths"][path][method]["responses"].is_object(),
                "{method} {path}"
            );
        }
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(s)) = m.get("$ref") {
                        out.push(s.clone());
                    }
                    m.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&d, &mut all);
        for r in all {
            let p = r.strip_prefix("#/").expect("local ref");
            let mut at = &d;
            for seg in p.split('/') {
                at = &at[seg];
            }
            assert!(!at.is_null(), "{r} does not resolve");
        }
    }
}
