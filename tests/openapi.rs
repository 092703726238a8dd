//! The OpenAPI document of the running service, checked from outside with a real
//! validator (the `jsonschema` crate), not with sanbao's own code:
//! - it is valid against the OpenAPI Initiative's schema of OpenAPI 3.1
//!   (`tests/data/openapi-3.1.schema.json`, the 2022-10-07 schema of
//!   <https://spec.openapis.org/oas/3.1/schema/>), and every schema in it is valid
//!   JSON Schema 2020-12 whose references resolve;
//! - the router and the document agree: every documented operation answers (never
//!   404 or 405), every other method on a documented path is a 405 whose `Allow`
//!   names exactly the documented ones, an undocumented path is a 404;
//! - real answers of every route — successes and refusals — validate against the
//!   schema the document gives for that route and status.
//!
//! Determinism: the port comes from the OS; every wait is bounded (see `wire`).

use crate::wire;

use jsonschema::{Draft, Validator};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use wire::*;

/// The OpenAPI Initiative's JSON Schema of an OpenAPI 3.1 document.
const OAS_3_1: &str = include_str!("data/openapi-3.1.schema.json");

/// Where the validators find the document for `$ref`s into it.
const DOC_URI: &str = "urn:sanbao:openapi";

/// A data dir with one user per role, and the server on it.
struct Fixture {
    _tmp: tempfile::TempDir,
    tokens: RoleTokens,
    server: Serve,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let tokens = RoleTokens::add(&dir);
        let server = Serve::start(&dir, &[]);
        Fixture {
            _tmp: tmp,
            tokens,
            server,
        }
    }

    fn addr(&self) -> &str {
        &self.server.addr
    }

    fn doc(&self) -> Value {
        let r = get(self.addr(), "/openapi.json", "");
        assert_eq!(r.status, 200);
        r.json()
    }
}

/// A validator of instances against `schema`, whose `$ref`s point into `doc`.
fn validator(doc: &Value, schema: &Value) -> Validator {
    let resource = Draft::Draft202012.create_resource(doc.clone());
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .with_resource(DOC_URI, resource)
        .should_validate_formats(true)
        .build(&rebase(schema))
        .unwrap_or_else(|e| panic!("{schema} does not compile: {e}"))
}

/// `schema` with its local `#/…` references pointed at [`DOC_URI`].
fn rebase(schema: &Value) -> Value {
    match schema {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("$ref", Value::String(r)) if r.starts_with("#/") => {
                        (k.clone(), json!(format!("{DOC_URI}{r}")))
                    }
                    _ => (k.clone(), rebase(v)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(rebase).collect()),
        other => other.clone(),
    }
}

/// Every error `v` has against `schema`, one per line (empty when it conforms).
fn errors(doc: &Value, schema: &Value, v: &Value) -> String {
    validator(doc, schema)
        .iter_errors(v)
        .map(|e| format!("{} at {}\n", e, e.instance_path))
        .collect()
}

/// The JSON schema the document gives for `method path` answering `status`.
fn answer_schema(doc: &Value, method: &str, path: &str, status: u16) -> Value {
    let mut resp = &doc["paths"][path][method]["responses"][status.to_string()];
    if let Some(r) = resp["$ref"].as_str() {
        let name = r.strip_prefix("#/components/responses/").unwrap();
        resp = &doc["components"]["responses"][name];
    }
    let schema = &resp["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} documents no JSON answer for {status}"
    );
    schema.clone()
}

/// The document's operations: `(method, path)`.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), p.clone()))
        })
        .collect()
}

#[test]
fn the_document_is_valid_openapi_3_1_and_every_schema_is_valid_json_schema_2020_12() {
    let f = Fixture::new();
    let doc = f.doc();
    assert_eq!(doc["openapi"], "3.1.0");
    let oas: Value = serde_json::from_str(OAS_3_1).unwrap();
    let v = jsonschema::options()
        .with_draft(Draft::Draft202012)
        .build(&oas)
        .expect("the OpenAPI 3.1 schema compiles");
    let errs: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errs.is_empty(), "not OpenAPI 3.1:\n{}", errs.join("\n"));
    // … and the validator is not vacuous.
    let mut broken = doc.clone();
    broken["paths"]["/healthz"]["get"]["responses"] = json!("none");
    assert!(!v.is_valid(&broken), "a path without responses");
    let mut broken = doc.clone();
    broken["openapi"] = json!("3.0.3");
    assert!(!v.is_valid(&broken), "OpenAPI 3.0");

    // The validator above checks the document's shape, not its schemas (the base
    // OpenAPI schema leaves them to their dialect): check each one as JSON Schema
    // 2020-12, and that it compiles with its references resolved.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.len() > 40, "{} schemas", schemas.len());
    for (name, schema) in schemas {
        if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
            panic!("{name} is not JSON Schema 2020-12: {e}");
        }
        validator(
            &doc,
            &json!({"$ref": format!("#/components/schemas/{name}")}),
        );
    }
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][&method];
        for (status, resp) in op["responses"].as_object().unwrap() {
            let _ = status.parse::<u16>().expect("a status code");
            if let Some(s) = resp["content"]["application/json"]["schema"].as_object() {
                validator(&doc, &Value::Object(s.clone()));
            }
        }
        for p in op["parameters"].as_array().into_iter().flatten() {
            validator(&doc, &p["schema"]);
        }
    }

    // The served document is the library's.
    assert_eq!(doc, sanbao::server::openapi::document());
}

#[test]
fn the_router_serves_exactly_the_documented_operations() {
    let f = Fixture::new();
    let doc = f.doc();
    let ops = operations(&doc);
    let table: BTreeSet<(String, String)> = sanbao::server::routes::ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(ops, table, "the document and the route table differ");

    let paths: BTreeSet<&String> = ops.iter().map(|(_, p)| p).collect();
    let mut asked = 0;
    for path in paths {
        let concrete = path.replace("{month}", "2021-02");
        let documented: BTreeSet<String> = ops
            .iter()
            .filter(|(_, p)| p == path)
            .map(|(m, _)| m.to_uppercase())
            .collect();
        let mut allow: Vec<String> = documented.iter().cloned().collect();
        if documented.contains("GET") {
            allow.push("HEAD".into());
        }
        allow.sort();
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let body = (method != "GET").then_some(&b"{}"[..]);
            let r = request(
                f.addr(),
                method,
                &concrete,
                &[("Content-Type", "application/json")],
                body,
            );
            asked += 1;
            if documented.contains(method) {
                // Without a token: 401 for what needs one, else a real answer.
                assert!(
                    ![404, 405].contains(&r.status),
                    "{method} {path} is documented but answers {}",
                    r.status
                );
            } else {
                assert_eq!(r.status, 405, "{method} {path}: {}", r.text());
                assert_eq!(r.header("allow"), Some(allow.join(", ").as_str()), "{path}");
            }
        }
    }
    assert!(asked >= 5 * 12, "{asked} requests");
    for unknown in [
        "/v1/nope",
        "/v2/monitor",
        "/v1/plans",
        "/v1/plans/2021-02/x",
    ] {
        assert_eq!(
            get(f.addr(), unknown, &f.tokens.auditor).status,
            404,
            "{unknown}"
        );
    }
}

#[test]
fn real_answers_validate_against_the_schema_their_route_documents() {
    let f = Fixture::new();
    let doc = f.doc();
    let county = json!({"kind":"county_registered","county":"a","name":"甲县","registered_on":"2021-01-01","opening_treasury":"1000.00"});
    let events = json!([county,
        {"kind":"city_funds_received","fund":"general","amount":"500.00","received_on":"2021-01-02"},
        {"kind":"allocation_notified","county":"a","fund":"general","fiscal_year":2021,"program":"p","amount":"120.00","notified_on":"2021-01-03"},
        {"kind":"wage_bill_declared","county":"a","payroll_month":"2021-01","amount":"10.00","payday":"2021-01-25","declared_on":"2021-01-03"},
        {"kind":"needs_budgeted","county":"a","fiscal_year":2021,"category":"wages","amount":"120.00","budgeted_on":"2021-01-03"},
        {"kind":"policy_proposed","county":"a","title":"提高低保标准","category":"livelihood","monthly_cost":"1.00","starts":"2021-03","proposed_on":"2021-01-03"},
        {"kind":"response_plan_filed","county":"a","filed_on":"2021-01-03","valid_until":"2021-12-31","measures":"压减支出","reference":"甲财〔2021〕1号"},
        {"kind":"allocation_notified","county":"a","fund":"direct","fiscal_year":2021,"program":"直达","amount":"5.00","notified_on":"2021-01-03"}]);
    let appended = post(
        f.addr(),
        "/v1/events",
        &f.tokens.officer,
        &events.to_string(),
        &[],
    );
    // On 01-05 the direct funds of 01-03 are overdue: county a is on the watch list,
    // so its `other` spending is acknowledged with a warning (issue 19).
    let warned = post(
        f.addr(),
        "/v1/events",
        &f.tokens.officer,
        r#"{"kind":"expenditure_paid","county":"a","amount":"1.00","paid_on":"2021-01-05","category":"other"}"#,
        &[],
    );
    assert_eq!(warned.status, 201, "{}", warned.text());
    assert_eq!(
        warned.json()[0]["warnings"][0]["code"],
        "restricted_other_spending"
    );
    let plan = get(f.addr(), "/v1/plans/2021-02", &f.tokens.scheduler);
    let issue = json!({"based_on_seq": plan.json()["based_on_seq"], "plan_sha256": plan.json()["plan_sha256"]});
    let issued = post(
        f.addr(),
        "/v1/plans/2021-02/issue",
        &f.tokens.scheduler,
        &issue.to_string(),
        &[],
    );
    let o = &f.tokens.officer;
    let dry = post(
        f.addr(),
        "/v1/plans/2021-02/execute",
        o,
        r#"{"dry_run":true}"#,
        &[],
    );
    let executed = post(f.addr(), "/v1/plans/2021-02/execute", o, "{}", &[]);
    assert_eq!(executed.status, 201, "{}", executed.text());
    let again = post(f.addr(), "/v1/plans/2021-02/execute", o, "{}", &[]);
    let unissued = post(f.addr(), "/v1/plans/2021-05/execute", o, "{}", &[]);
    let a = &f.tokens.auditor;
    let at = |p: &str| get(f.addr(), p, a);
    let funds = json!({"kind":"city_funds_received","fund":"general","amount":"7.00","received_on":"2021-01-20"}).to_string();
    let cases: Vec<(&str, &str, Resp)> = vec![
        ("get", "/healthz", get(f.addr(), "/healthz", "")),
        ("get", "/readyz", get(f.addr(), "/readyz", "")),
        ("post", "/v1/events", appended),
        ("post", "/v1/events", warned),
        ("get", "/v1/events", at("/v1/events")),
        ("get", "/v1/events", at("/v1/events?from=2&limit=2")),
        ("get", "/v1/positions", at("/v1/positions")),
        (
            "get",
            "/v1/positions",
            at("/v1/positions?county=a&as_of=2021-01-20"),
        ),
        ("get", "/v1/monitor", at("/v1/monitor?as_of=2021-01-20")),
        ("get", "/v1/monitor", at("/v1/monitor?at_seq=0")),
        ("get", "/v1/plans/{month}", plan),
        ("post", "/v1/plans/{month}/issue", issued),
        ("post", "/v1/plans/{month}/execute", dry),
        ("post", "/v1/plans/{month}/execute", executed),
        ("post", "/v1/plans/{month}/execute", again),
        ("post", "/v1/plans/{month}/execute", unissued),
        (
            "get",
            "/v1/plans/{month}/status",
            at("/v1/plans/2021-02/status"),
        ),
        (
            "get",
            "/v1/plans/{month}/status",
            at("/v1/plans/2021-05/status?at_seq=1"),
        ),
        ("get", "/v1/forecast", at("/v1/forecast?from=2021-02")),
        (
            "post",
            "/v1/plans/{month}/what-if",
            post(f.addr(), "/v1/plans/2021-02/what-if", a, &funds, &[]),
        ),
        (
            "post",
            "/v1/forecast/what-if",
            post(
                f.addr(),
                "/v1/forecast/what-if?from=2021-02",
                a,
                &funds,
                &[],
            ),
        ),
        (
            "post",
            "/v1/monitor/what-if",
            post(f.addr(), "/v1/monitor/what-if", a, &funds, &[]),
        ),
        (
            "get",
            "/v1/review/budget",
            at("/v1/review/budget?fiscal_year=2021"),
        ),
        // Record 6 is the policy_proposed above; record 1 is not one (404).
        ("get", "/v1/assess", at("/v1/assess?proposal=6")),
        ("get", "/v1/assess", at("/v1/assess?proposal=1")),
        ("get", "/v1/scorecard", at("/v1/scorecard?fiscal_year=2021")),
        ("get", "/v1/verify", at("/v1/verify")),
        ("get", "/v1/replay", at("/v1/replay")),
        ("get", "/v1/replay", at("/v1/replay?at_seq=0")),
        // Refusals.
        ("get", "/v1/monitor", get(f.addr(), "/v1/monitor", "")),
        ("get", "/v1/monitor", at("/v1/monitor?as_of=2021-02-30")),
        ("get", "/v1/positions", at("/v1/positions?county=zz")),
        (
            "post",
            "/v1/events",
            post(f.addr(), "/v1/events", a, &county.to_string(), &[]),
        ),
        (
            "post",
            "/v1/events",
            post(
                f.addr(),
                "/v1/events",
                &f.tokens.officer,
                "[{\"kind\":\"x\"}]",
                &[],
            ),
        ),
        (
            "post",
            "/v1/events",
            post(
                f.addr(),
                "/v1/events?expect_seq=1",
                &f.tokens.officer,
                &county.to_string(),
                &[],
            ),
        ),
        (
            "post",
            "/v1/plans/{month}/issue",
            post(
                f.addr(),
                "/v1/plans/2021-02/issue",
                &f.tokens.scheduler,
                "{\"x\":1}",
                &[],
            ),
        ),
    ];
    let statuses: BTreeSet<u16> = cases.iter().map(|c| c.2.status).collect();
    assert_eq!(
        statuses,
        [200, 201, 400, 401, 403, 404, 409, 422]
            .into_iter()
            .collect(),
        "the cases cover successes and each kind of refusal"
    );
    for (method, path, r) in &cases {
        let schema = answer_schema(&doc, method, path, r.status);
        let v = r.json();
        let e = errors(&doc, &schema, &v);
        assert!(e.is_empty(), "{method} {path} {}: {v}\n{e}", r.status);
    }

    // The validator is not vacuous: answers broken by one member are refused.
    let mut v = at("/v1/monitor?as_of=2021-01-20").json();
    let schema = answer_schema(&doc, "get", "/v1/monitor", 200);
    v["counties"][0]["cash"] = json!("1000.5");
    assert!(!errors(&doc, &schema, &v).is_empty(), "one decimal");
    v["counties"][0]["cash"] = json!("1000.50");
    v["counties"][0]["extra"] = json!(1);
    assert!(!errors(&doc, &schema, &v).is_empty(), "an extra member");
    let mut p = at("/v1/positions").json();
    p.as_object_mut().unwrap().remove("as_of");
    let schema = answer_schema(&doc, "get", "/v1/positions", 200);
    assert!(!errors(&doc, &schema, &p).is_empty(), "a missing member");
}
