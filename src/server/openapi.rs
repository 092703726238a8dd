//! The OpenAPI 3.1 document of the service (`GET /openapi.json`), generated from the
//! code:
//! - the paths are [`ROUTES`], the one table the router is built from; each route's
//!   operation (its parameters, summary and the statuses it can answer) is a function
//!   here, named after its handler;
//! - the schemas of every request body and answer are what `schemars` derives from the
//!   Rust types the routes read and serialize: the event kinds (the same as
//!   `schemas/`), the query outputs ([`crate::query`], [`crate::replay`]), the writer's
//!   [`crate::log::Ack`] and [`super::answers`];
//! - what the types cannot say is written here: the query parameters and headers (read
//!   by hand, so that every refusal has the SPEC §7 shape), the events' `kind`
//!   discriminator, a stricter `Date` than `schemas/` (the month's days, which the
//!   server enforces), and that outputs write an amount with two decimals and a ratio
//!   with four ([`crate::schema::out`]), where inputs take fewer.
//!
//! Guarantees: every route the router serves is a path here with its method,
//! parameters and every status it can answer, and no other path is; every `$ref`
//! resolves; the document is OpenAPI 3.1.0 (whose Schema Object is JSON Schema
//! 2020-12, so the derived schemas embed unchanged). Every answer object is closed
//! (`additionalProperties: false`): the outputs write no member their type lacks.
//! `tests/openapi.rs` validates the document against the OpenAPI 3.1 schema and real
//! answers against their schemas, and asks every documented route.

use super::answers;
use super::routes::ROUTES;
use crate::event::Event;
use crate::report::build;
use crate::schema::out::{MoneyOut, RatioOut};
use schemars::gen::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// The document as JSON text (built once).
pub fn document_text() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_string(&document()).expect("the document serializes"))
}

/// Where the schemas of the document live.
const COMPONENTS: &str = "#/components/schemas/";

/// The document being built: the generator that derives the answers' schemas (and
/// keeps each one once, under its type's name).
pub struct Doc {
    gen: SchemaGenerator,
    /// What-if answers to derive from a component: (its name, the base component,
    /// whether `plan_sha256` leaves it).
    what_ifs: Vec<(String, String, bool)>,
}

impl Doc {
    fn new() -> Doc {
        let settings = SchemaSettings::draft2019_09().with(|s| {
            s.definitions_path = COMPONENTS.into();
            s.meta_schema = None;
        });
        Doc {
            gen: settings.into_generator(),
            what_ifs: Vec::new(),
        }
    }

    /// The schema of a what-if's answer over `T` (issue 18): `T`'s object with the
    /// member `hypothetical` (the number of supposed events) and, when `plan`, without
    /// `plan_sha256` (a what-if plan cannot be issued); a component `WhatIf{T}`.
    pub fn what_if<T: JsonSchema>(&mut self, plan: bool) -> Value {
        self.answer::<T>();
        let base = T::schema_name();
        let name = format!("WhatIf{base}");
        self.what_ifs.push((name.clone(), base, plan));
        r(&name)
    }

    /// The schema of answer (or request body) type `T`: a `$ref` to its component
    /// when it has a name, which the document then holds.
    pub fn answer<T: JsonSchema>(&mut self) -> Value {
        serde_json::to_value(self.gen.subschema_for::<T>()).expect("schemas serialize")
    }

    /// The derived components, with the outputs' amounts and ratios in their output
    /// form, and every object closed.
    fn components(mut self) -> Map<String, Value> {
        let money = self.answer::<MoneyOut>();
        let ratio = self.answer::<RatioOut>();
        let mut defs: Map<String, Value> = self
            .gen
            .take_definitions()
            .into_iter()
            .map(|(k, v)| (k, serde_json::to_value(v).expect("schemas serialize")))
            .collect();
        // Outputs hold no event (a record's event is a reference to `Event`), so every
        // Amount and Ratio here is an output's.
        defs.remove("Amount");
        defs.remove("Ratio");
        for v in defs.values_mut() {
            swap_refs(v, &[("Amount", &money), ("Ratio", &ratio)]);
            close_objects(v);
        }
        for (name, base, plan) in std::mem::take(&mut self.what_ifs) {
            let mut v = defs[&base].clone();
            let props = v["properties"].as_object_mut().expect("an object schema");
            if plan {
                props.remove("plan_sha256");
            }
            props.insert(
                "hypothetical".into(),
                json!({"type": "integer", "minimum": 1, "maximum": crate::query::whatif::MAX_HYPOTHETICAL,
                       "description": "how many hypothetical events the answer supposes after the head"}),
            );
            let required = v["required"].as_array_mut().expect("required members");
            required.retain(|m| m != "plan_sha256");
            required.push(json!("hypothetical"));
            v["description"] = json!(format!(
                "a what-if's {base}: computed over the head and the hypothetical events, nothing written{}",
                if plan { "; no plan_sha256 (it cannot be issued)" } else { "" }
            ));
            defs.insert(name, v);
        }
        defs
    }
}

/// Replaces every `$ref` to one of `names` by the schema given for it.
fn swap_refs(v: &mut Value, names: &[(&str, &Value)]) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                if let Some((_, to)) = r
                    .strip_prefix(COMPONENTS)
                    .and_then(|n| names.iter().find(|(k, _)| *k == n))
                {
                    m.insert("$ref".into(), to["$ref"].clone());
                }
            }
            m.values_mut().for_each(|x| swap_refs(x, names));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| swap_refs(x, names)),
        _ => {}
    }
}

/// Sets `additionalProperties: false` on every object schema that says nothing of it.
fn close_objects(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("type") == Some(&json!("object")) && m.contains_key("properties") {
                m.entry("additionalProperties").or_insert(json!(false));
            }
            m.values_mut().for_each(close_objects);
        }
        Value::Array(a) => a.iter_mut().for_each(close_objects),
        _ => {}
    }
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("{COMPONENTS}{name}") })
}

/// A seq or count: what the server reads into a `u64`.
fn uint() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX })
}

/// Rewrites `#/definitions/X` references (the event kinds' own schemas) to the
/// document's components.
fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(s)) = m.get_mut("$ref") {
                if let Some(name) = s.strip_prefix("#/definitions/") {
                    *s = format!("{COMPONENTS}{name}");
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
    json!({
        "operationId": id, "summary": summary, "parameters": params,
        "responses": responses("200", "OK", ok, errors)
    })
}

/// The paper parameters of a read route whose report has `sections`.
fn paper_params(sections: &[&str]) -> Vec<Value> {
    vec![
        param(
            "format",
            "query",
            false,
            json!({"type": "string", "enum": ["json", "xlsx", "csv"], "default": "json"}),
            "json (the answer below), xlsx (a workbook: one sheet per section, with a title block naming the query and the head hash) or csv (one section, UTF-8 with BOM)",
        ),
        param(
            "lang",
            "query",
            false,
            json!({"type": "string", "enum": ["zh", "en"], "default": "zh"}),
            "language of an xlsx or csv answer's heads and words",
        ),
        param(
            "unit",
            "query",
            false,
            json!({"type": "string", "enum": ["yuan", "wan"], "default": "yuan"}),
            "unit of an xlsx or csv answer's amounts: yuan (two decimals) or wan (万元, six decimals)",
        ),
        param(
            "section",
            "query",
            false,
            json!({"type": "string", "enum": sections}),
            "the section a csv answer holds (only with format=csv; required when the answer has several)",
        ),
    ]
}

/// A read route: its JSON answer, or the paper of `?format=`.
fn paper_op(
    id: &str,
    summary: &str,
    mut params: Vec<Value>,
    ok: Value,
    errors: &[&str],
    sections: &[&str],
) -> Value {
    params.extend(paper_params(sections));
    let mut op = get_op(id, summary, params, ok, errors);
    let content = &mut op["responses"]["200"]["content"];
    content[super::papers::XLSX_TYPE] = json!({"schema": {"type": "string", "format": "binary"}});
    content["text/csv"] = json!({"schema": {"type": "string"}});
    op["responses"]["200"]["headers"] = json!({
        "Content-Disposition": {
            "description": "for xlsx and csv: attachment; filename=\"NAME.xlsx\" or \"NAME-SECTION.csv\"",
            "schema": {"type": "string"}
        }
    });
    op
}

fn idempotency_key(description: &str) -> Value {
    param(
        "Idempotency-Key",
        "header",
        false,
        json!({"type": "string", "minLength": 1, "maxLength": 128}),
        description,
    )
}

fn expect_seq() -> Value {
    param(
        "expect_seq",
        "query",
        false,
        uint(),
        "append only if the log's last seq is N (0 for an empty log); else 409",
    )
}

fn month_path() -> Value {
    param("month", "path", true, r("Month"), "the plan month YYYY-MM")
}

const APPEND_ERRORS: &[&str] = &[
    "400", "401", "403", "408", "409", "413", "415", "422", "503",
];

// ---- the operations, one per route of ROUTES ---------------------------------------

/// `GET /healthz`.
pub(super) fn healthz(d: &mut Doc) -> Value {
    json!({
        "operationId": "healthz", "summary": "liveness (no token needed)",
        "responses": responses("200", "the service is up", d.answer::<answers::Health>(), &[])
    })
}

/// `GET /readyz`.
pub(super) fn readyz(d: &mut Doc) -> Value {
    json!({
        "operationId": "readyz", "summary": "readiness: the log verified, the writer running, not stopping (no token needed)",
        "responses": {
            "200": {"description": "ready", "content": json_content(d.answer::<answers::Ready>())},
            "503": {"description": "not ready (stopping, or the writer stopped writing)", "content": json_content(d.answer::<answers::NotReady>())}
        }
    })
}

/// `GET /metrics`.
pub(super) fn metrics(_: &mut Doc) -> Value {
    json!({
        "operationId": "metrics", "summary": "metrics in the OpenMetrics text format, which Prometheus scrapes (auditor; no token on the address of `serve --metrics-listen`)",
        "responses": {
            "200": {"description": "the metrics (OpenMetrics 1.0 text)", "content": {"application/openmetrics-text": {"schema": {"type": "string"}}}},
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "403": {"$ref": "#/components/responses/Forbidden"}
        }
    })
}

/// `GET /openapi.json`.
pub(super) fn openapi(_: &mut Doc) -> Value {
    json!({
        "operationId": "openapi", "summary": "this document (no token needed)",
        "responses": {"200": {"description": "the OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}}
    })
}

/// `POST /v1/events`.
pub(super) fn append_events(d: &mut Doc) -> Value {
    let mut rs = responses(
        "201",
        "recorded (or duplicates of records already there), durable on disk; one acknowledgement per record (an emergency_approved gets two: its own and the emergency_dispatched appended right after it). Each record names the appending user in recorded_by",
        d.answer::<Vec<crate::log::Ack>>(),
        APPEND_ERRORS,
    );
    rs["200"] = json!({
        "description": "dry_run=true: what the append would answer now, nothing written (hashes as recorded at recorded_at)",
        "content": json_content(d.answer::<Vec<answers::DryRunAck>>())
    });
    json!({
        "operationId": "appendEvents",
        "summary": "append one event or an atomic batch (officer: every kind but plan_issued, assessment_decided, emergency_approved and approval_limit_set; scheduler: plan_issued and assessment_decided; approver: emergency_approved and approval_limit_set)",
        "parameters": [
            expect_seq(),
            param("dry_run", "query", false, json!({"type": "boolean", "default": false}), "true: decide the append as it would be decided now and answer it (200), writing nothing; a refusal is the append's"),
            idempotency_key("idempotency key for a single event that carries none of its own (SPEC §8.11)")
        ],
        "requestBody": {"required": true, "content": json_content(json!({"oneOf": [
            r("Event"), {"type": "array", "minItems": 1, "maxItems": 10000, "items": r("Event")}
        ]}))},
        "responses": rs
    })
}

/// A what-if's operation (issue 18): the events in the body, the answer over them.
fn what_if_op(id: &str, summary: &str, params: Vec<Value>, ok: Value) -> Value {
    json!({
        "operationId": id, "summary": summary, "parameters": params,
        "requestBody": {"required": true, "content": json_content(json!({"oneOf": [
            r("Event"), {"type": "array", "minItems": 1, "maxItems": crate::query::whatif::MAX_HYPOTHETICAL, "items": r("Event")}
        ]}))},
        "responses": responses("200", "the answer over the head and the hypothetical events; nothing was written", ok,
            &["400", "401", "403", "408", "413", "415", "422", "503"])
    })
}

/// `POST /v1/monitor/what-if`.
pub(super) fn monitor_what_if(d: &mut Doc) -> Value {
    what_if_op(
        "monitorWhatIf",
        "SPEC §6.2 over the head and the hypothetical events of the body (one event or an array), each checked by the rules as if appended after the head, in order; writes nothing (any role)",
        vec![as_of()],
        d.what_if::<crate::query::monitor::Monitor>(false),
    )
}

/// `POST /v1/plans/{month}/what-if`.
pub(super) fn plan_what_if(d: &mut Doc) -> Value {
    what_if_op(
        "planWhatIf",
        "SPEC §6.3 over the head and the hypothetical events of the body, checked as if appended; writes nothing, and the answer has no plan_sha256: a what-if cannot be issued (any role)",
        vec![month_path()],
        d.what_if::<crate::query::plan::Plan>(true),
    )
}

/// `POST /v1/forecast/what-if`.
pub(super) fn forecast_what_if(d: &mut Doc) -> Value {
    what_if_op(
        "forecastWhatIf",
        "SPEC §6.4 over the head and the hypothetical events of the body, checked as if appended; writes nothing (any role)",
        vec![
            param("from", "query", true, r("Month"), "first month"),
            param(
                "months",
                "query",
                false,
                json!({"type": "integer", "minimum": 1, "maximum": 120, "default": 3}),
                "number of months",
            ),
        ],
        d.what_if::<crate::query::forecast::Forecast>(false),
    )
}

/// `GET /v1/events`.
pub(super) fn list_events(d: &mut Doc) -> Value {
    get_op(
        "listEvents",
        "records from seq `from` on (any role)",
        vec![
            param(
                "from",
                "query",
                false,
                json!({"type": "integer", "minimum": 0, "maximum": u64::MAX, "default": 1}),
                "first seq (included)",
            ),
            param(
                "limit",
                "query",
                false,
                json!({"type": "integer", "minimum": 1, "maximum": super::routes::MAX_PAGE_RECORDS, "default": super::routes::DEFAULT_PAGE_RECORDS}),
                "most records in the page",
            ),
        ],
        d.answer::<answers::EventsPage>(),
        READ_ERRORS,
    )
}

/// `GET /v1/events/stream`.
pub(super) fn stream_events(_: &mut Doc) -> Value {
    json!({
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
    })
}

/// `GET /v1/positions`.
pub(super) fn positions(d: &mut Doc) -> Value {
    paper_op(
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
        d.answer::<crate::query::position::Position>(),
        &["400", "401", "403", "404", "503"],
        build::POSITION_SECTIONS,
    )
}

/// `GET /v1/monitor`.
pub(super) fn monitor(d: &mut Doc) -> Value {
    paper_op(
        "monitor",
        "SPEC §6.2 (any role)",
        vec![as_of(), at_seq()],
        d.answer::<crate::query::monitor::Monitor>(),
        READ_ERRORS,
        build::MONITOR_SECTIONS,
    )
}

/// `GET /v1/plans/{month}`.
pub(super) fn plan(d: &mut Doc) -> Value {
    paper_op(
        "plan",
        "SPEC §6.3 (any role)",
        vec![month_path(), at_seq()],
        d.answer::<crate::query::plan::Plan>(),
        READ_ERRORS,
        build::PLAN_SECTIONS,
    )
}

/// `POST /v1/plans/{month}/issue`.
pub(super) fn issue_plan(d: &mut Doc) -> Value {
    json!({
        "operationId": "issuePlan",
        "summary": "append plan_issued for the month (scheduler); issued_on defaults to today (UTC)",
        "parameters": [month_path(), expect_seq(), idempotency_key("idempotency key of the plan_issued event")],
        "requestBody": {"required": true, "content": json_content(d.answer::<answers::IssueRequest>())},
        "responses": responses("201", "recorded", d.answer::<Vec<crate::log::Ack>>(), APPEND_ERRORS)
    })
}

/// `POST /v1/plans/{month}/execute`.
pub(super) fn execute_plan(d: &mut Doc) -> Value {
    let mut rs = responses(
        "201",
        "the missing transfers of the latest issued plan, appended as one batch: one acknowledgement each",
        d.answer::<Vec<crate::log::Ack>>(),
        APPEND_ERRORS,
    );
    rs["200"] = json!({
        "description": "a dry run (nothing written: the events that would be appended), or every transfer already recorded",
        "content": json_content(d.answer::<answers::ExecuteAnswer>())
    });
    json!({
        "operationId": "executePlan",
        "summary": "execute the latest issued plan of the month (officer, issue 18): one transfer_allocated per funded line not yet recorded (keys plan-exec:SEQ:COUNTY:FUND:FISCAL_YEAR), as one atomic batch; 422 when no plan of the month is issued",
        "parameters": [month_path()],
        "requestBody": {"required": true, "content": json_content(d.answer::<answers::ExecuteRequest>())},
        "responses": rs
    })
}

/// `GET /v1/plans/{month}/status`.
pub(super) fn plan_status(d: &mut Doc) -> Value {
    get_op(
        "planStatus",
        "the latest issued plan of the month against the transfers with that plan_month: per line funded, dispatched, remaining, over-plan, and the off-plan transfers (any role, issue 18)",
        vec![month_path(), at_seq()],
        d.answer::<crate::query::execution::PlanStatus>(),
        READ_ERRORS,
    )
}

/// `GET /v1/forecast`.
pub(super) fn forecast(d: &mut Doc) -> Value {
    paper_op(
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
        d.answer::<crate::query::forecast::Forecast>(),
        READ_ERRORS,
        build::FORECAST_SECTIONS,
    )
}

/// The required `fiscal_year` query parameter.
fn fiscal_year() -> Value {
    param(
        "fiscal_year",
        "query",
        true,
        json!({"type": "integer", "minimum": 2000, "maximum": 2099}),
        "the fiscal year (calendar year)",
    )
}

/// `GET /v1/review/budget`.
pub(super) fn review_budget(d: &mut Doc) -> Value {
    paper_op(
        "reviewBudget",
        "预算再审核 (issue 19, any role): per county and category, budgeted against run rate (outflow of the year through as_of ÷ days elapsed × days in year, half to even at the cent) and, for wages, the year's declared wage bills; under_budgeted where budgeted wages are below the declared bills or a run rate exceeds its budget by more than 5 %, with the gap to add",
        vec![fiscal_year(), as_of(), at_seq()],
        d.answer::<crate::query::oversight::BudgetReview>(),
        READ_ERRORS,
        build::REVIEW_SECTIONS,
    )
}

/// `GET /v1/assess`.
pub(super) fn assess(d: &mut Doc) -> Value {
    paper_op(
        "assess",
        "财政可承受能力评估 (issue 19, any role): the proposal's county forecast twelve months from the month of proposed_on with monthly_cost added to its needs from starts; affordable only if no month's wage cover is under 1.2 and no month's projected level under the warning line; 404 when proposal is not a policy_proposed record",
        vec![
            param("proposal", "query", true, uint(), "the seq of the policy_proposed record"),
            at_seq(),
        ],
        d.answer::<crate::query::oversight::Assessment>(),
        &["400", "401", "403", "404", "503"],
        build::ASSESS_SECTIONS,
    )
}

/// `GET /v1/scorecard`.
pub(super) fn scorecard(d: &mut Doc) -> Value {
    paper_op(
        "scorecard",
        "考核 (issue 19, any role): every county's fiscal year through 31 December or the latest business date — days at each status, watch-list days and months, late deposits, wage arrears (veto, 一票否决), direct funds overdue days, notices, discrepancies, response plan — ranked, vetoed counties last",
        vec![fiscal_year(), at_seq()],
        d.answer::<crate::query::oversight::Scorecard>(),
        READ_ERRORS,
        build::SCORECARD_SECTIONS,
    )
}

/// `GET /v1/verify`.
pub(super) fn verify(d: &mut Doc) -> Value {
    get_op(
        "verify",
        "check every durable record: seqs, hashes, chain (any role); a broken chain answers ok:false",
        vec![],
        d.answer::<answers::Verify>(),
        READ_ERRORS,
    )
}

/// `GET /v1/replay`.
pub(super) fn replay(d: &mut Doc) -> Value {
    paper_op(
        "replay",
        "rebuild from the log alone, verify the chain up to N, recompute every issued plan (any role); a broken chain answers its JSON whatever the format",
        vec![as_of(), at_seq()],
        d.answer::<answers::Replay>(),
        READ_ERRORS,
        build::REPLAY_SECTIONS,
    )
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
        mapping.insert(kind.to_string(), json!(format!("{COMPONENTS}{kind}")));
    }
    schemas.insert(
        "Event".into(),
        json!({"oneOf": kinds, "discriminator": {"propertyName": "kind", "mapping": Value::Object(mapping)},
               "description": "one event (SPEC §3): an object with its `kind`; input amounts are strings"}),
    );

    let mut doc = Doc::new();
    let mut paths = Map::new();
    for route in ROUTES {
        let mut op = (route.doc)(&mut doc);
        if route.public {
            op["security"] = json!([]);
        }
        // A path with a segment or a county can name what is not there.
        if let Some(Value::Object(resp)) = op.get_mut("responses") {
            resp.entry("404")
                .or_insert(json!({"$ref": "#/components/responses/NotFound"}));
        }
        let item = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        item[route.method] = op;
    }
    let error = doc.answer::<answers::ErrorBody>();
    for (k, v) in doc.components() {
        schemas.entry(k).or_insert(v);
    }
    // Stricter than the derived schema (`schemas/`): what the server enforces.
    schemas.insert(
        "Date".into(),
        json!({"type": "string", "format": "date",
               "pattern": "^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
               "description": "a calendar date YYYY-MM-DD, 2000..=2099 (a day the month lacks, as 2021-02-30, is a 400 or 422)"}),
    );

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
            "unknown route or county (a known path asked with another method is a 405 with Allow)",
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
            json!({"description": desc, "content": json_content(error.clone())}),
        );
    }

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "sanbao",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Event-sourced treasury cash-flow scheduler (三保 库款调度): the HTTP API of SPEC §7. Every route but /healthz, /readyz and /openapi.json needs `Authorization: Bearer TOKEN` (`sanbao token add`); /metrics an auditor's. Roles: officer appends events (not plan_issued, assessment_decided, emergency_approved, approval_limit_set) and reads; scheduler requests and issues plans, decides affordability assessments and reads; approver approves emergency requests, sets the limit on direct emergency dispatches and reads; auditor reads only."
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
        for route in ROUTES {
            assert!(
                d["paths"][route.path][route.method]["responses"].is_object(),
                "{} {}",
                route.method,
                route.path
            );
        }
        assert_eq!(
            d["paths"].as_object().unwrap().len(),
            ROUTES
                .iter()
                .map(|r| r.path)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        );
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
