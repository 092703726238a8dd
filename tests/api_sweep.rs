//! A property-based sweep of the HTTP API, driven by its own OpenAPI document: the
//! test reads `/openapi.json` from the running `sanbao serve`, and for every path and
//! method sends seeded generated requests — parameters valid and invalid by their
//! schemas, bodies built from the referenced schemas (events of every kind, plan
//! issues) and then mutated, every kind of caller — and asserts that no request gets
//! a 5xx, that every status is one the document lists for the operation, that every
//! refusal has the SPEC §7 error shape, and that the log's head moves only on a 201
//! (by exactly the records it acknowledges as new).
//!
//! Deterministic: a fixed seed (`SANBAO_SWEEP_SEED` to try another) and a fixed
//! number of requests per operation (`SANBAO_SWEEP_REQUESTS`, default 300; three times that for `POST /v1/events`).

use crate::wire;

use proptest::prelude::Rng;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use wire::*;

struct Gen<'d> {
    doc: &'d Value,
    runner: TestRunner,
    regexes: BTreeMap<String, proptest::strategy::BoxedStrategy<String>>,
    counties: Vec<&'static str>,
}

impl<'d> Gen<'d> {
    fn new(doc: &'d Value, seed: u64) -> Gen<'d> {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        Gen {
            doc,
            runner: TestRunner::new_with_rng(
                Config::default(),
                TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
            ),
            regexes: BTreeMap::new(),
            counties: vec!["a", "b"],
        }
    }

    fn below(&mut self, n: u64) -> u64 {
        self.runner.rng().next_u64() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn regex(&mut self, pattern: &str) -> String {
        let p = pattern
            .trim_start_matches('^')
            .trim_end_matches('$')
            .to_string();
        let strategy = self
            .regexes
            .entry(p.clone())
            .or_insert_with(|| {
                proptest::string::string_regex(&p)
                    .expect("a supported pattern")
                    .boxed()
            })
            .clone();
        strategy.new_tree(&mut self.runner).unwrap().current()
    }

    /// The schema behind a `$ref` (and the name it was referenced by).
    fn resolve(&self, schema: &'d Value) -> (&'d Value, Option<&'d str>) {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next();
                let mut s = self.doc;
                for seg in r.trim_start_matches("#/").split('/') {
                    s = &s[seg];
                }
                (self.resolve(s).0, name)
            }
            None => (schema, None),
        }
    }

    /// A value the schema accepts (leaning towards values the service's rules accept:
    /// real dates, registered counties, small amounts).
    fn valid(&mut self, schema: &'d Value, depth: usize) -> Value {
        let (s, name) = self.resolve(schema);
        match name {
            Some("Date") if self.chance(95) => {
                let (m, d) = (1 + self.below(12), 1 + self.below(28));
                return json!(format!("2021-{m:02}-{d:02}"));
            }
            Some("Month") if self.chance(95) => {
                return json!(format!("2021-{:02}", 1 + self.below(12)));
            }
            Some("CountyId") if self.chance(85) => {
                let c = *self.pick(&self.counties.clone());
                return json!(c);
            }
            Some("Amount") if self.chance(90) => {
                return json!(format!("{}.{:02}", 1 + self.below(500), self.below(100)));
            }
            Some("FiscalYear") if self.chance(80) => return json!(2021),
            _ => {}
        }
        if let Some(c) = s.get("const") {
            return c.clone();
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            return self.pick(e).clone();
        }
        for alt in ["oneOf", "anyOf"] {
            if let Some(alts) = s.get(alt).and_then(Value::as_array) {
                let non_null: Vec<&Value> = alts.iter().filter(|a| a["type"] != "null").collect();
                let choice = if !non_null.is_empty() && self.chance(85) {
                    non_null[self.below(non_null.len() as u64) as usize]
                } else {
                    self.pick(alts)
                };
                return self.valid(choice, depth + 1);
            }
        }
        let ty = match &s["type"] {
            Value::String(t) => t.clone(),
            Value::Array(ts) => {
                let ts: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
                let non_null: Vec<&str> = ts.iter().copied().filter(|t| *t != "null").collect();
                if !non_null.is_empty() && self.chance(80) {
                    self.pick(&non_null).to_string()
                } else {
                    self.pick(&ts).to_string()
                }
            }
            _ if s.get("properties").is_some() => "object".into(),
            _ => "null".into(),
        };
        match ty.as_str() {
            "object" => {
                let mut m = Map::new();
                let required: Vec<&str> = s["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if let Some(props) = s["properties"].as_object() {
                    for (k, p) in props {
                        if required.contains(&k.as_str()) || (depth < 4 && self.chance(50)) {
                            if k == "idempotency_key" && self.chance(50) {
                                continue;
                            }
                            m.insert(k.clone(), self.valid(p, depth + 1));
                        }
                    }
                }
                Value::Object(m)
            }
            "array" => {
                let min = s["minItems"].as_u64().unwrap_or(0);
                let max = s["maxItems"].as_u64().unwrap_or(min + 3).min(min + 3);
                let n = min + self.below(max - min + 1);
                Value::Array((0..n).map(|_| self.valid(&s["items"], depth + 1)).collect())
            }
            "string" => {
                if let Some(p) = s["pattern"].as_str() {
                    return json!(self.regex(p));
                }
                let min = s["minLength"].as_u64().unwrap_or(0);
                let max = s["maxLength"].as_u64().unwrap_or(24).min(min + 24);
                let n = min + self.below(max - min + 1);
                let pool = ['a', 'z', 'Q', '7', ' ', '县', '资', '金', '-', 'é'];
                json!((0..n).map(|_| *self.pick(&pool)).collect::<String>())
            }
            "integer" => {
                let min = s["minimum"].as_f64().unwrap_or(0.0) as i64;
                let max = s["maximum"].as_f64().map(|m| m as i64).unwrap_or(min + 50);
                json!(min + self.below((max - min + 1) as u64) as i64)
            }
            "number" => json!(self.below(1000)),
            "boolean" => json!(self.chance(50)),
            _ => Value::Null,
        }
    }

    /// A value the schema (or the service) should refuse.
    fn invalid(&mut self, schema: &'d Value) -> Value {
        let (s, _) = self.resolve(schema);
        let huge = "9".repeat(40);
        match self.below(14) {
            0 => Value::Null,
            1 => json!(-1),
            2 => json!(u64::MAX),
            3 => serde_json::from_str(&huge).unwrap_or(json!(1e300)),
            4 => json!(1.5),
            5 => json!(""),
            6 => json!("x".repeat(300)),
            7 => json!("\u{0}\u{1f}\u{7f}"),
            8 => json!("２０２１－０１－０１"),
            9 => json!([]),
            10 => json!({"kind": "county_registered"}),
            11 => json!(true),
            12 => match s["maximum"].as_f64() {
                Some(m) => json!(m as i64 + 1),
                None => json!("2021-02-30"),
            },
            _ => json!(self.regex("[ -~]{0,12}")),
        }
    }

    /// A structural mutation of a (valid) JSON value.
    fn mutate(&mut self, v: Value, schema: &'d Value) -> Value {
        match v {
            Value::Object(mut m) if !m.is_empty() => {
                let keys: Vec<String> = m.keys().cloned().collect();
                let k = self.pick(&keys).clone();
                match self.below(5) {
                    0 => {
                        m.remove(&k);
                    }
                    1 => {
                        m.insert("unexpected_member".into(), json!(1));
                    }
                    2 => {
                        let bad = self.invalid(schema);
                        m.insert(k, bad);
                    }
                    3 => {
                        let inner = m.remove(&k).unwrap();
                        let mutated = self.mutate(inner, schema);
                        m.insert(k, mutated);
                    }
                    _ => {
                        m.insert("kind".into(), json!("no_such_kind"));
                    }
                }
                Value::Object(m)
            }
            Value::Array(mut a) if !a.is_empty() => {
                let i = self.below(a.len() as u64) as usize;
                if self.chance(50) {
                    let x = a.remove(i);
                    let x = self.mutate(x, schema);
                    a.insert(i, x);
                } else {
                    let x = a[i].clone();
                    a.push(x);
                }
                Value::Array(a)
            }
            _ => self.invalid(schema),
        }
    }

    /// Raw bytes that are not quite JSON.
    fn garbage_bytes(&mut self, base: &[u8]) -> Vec<u8> {
        let alphabet = b"{}[]\",:0123456789.-eE nulltrue\\\x00\xff\xc3\xe4\xb8\x89";
        let mut b = base.to_vec();
        for _ in 0..1 + self.below(4) {
            if b.is_empty() {
                b.push(b'{');
            }
            let at = self.below(b.len() as u64) as usize;
            let c = alphabet[self.below(alphabet.len() as u64) as usize];
            match self.below(3) {
                0 => b[at] = c,
                1 => {
                    b.remove(at);
                }
                _ => b.insert(at, c),
            }
        }
        b
    }
}

/// Sends a request and reads the answer; for an event stream, only its head.
fn send(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Resp {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let raw = request_bytes(method, path, &h, body);
    let mut s = connect(addr).unwrap();
    s.write_all(&raw).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            if head.contains("content-type: text/event-stream") {
                let (status, headers) = parse_head(&String::from_utf8_lossy(&buf[..end]));
                return Resp {
                    status,
                    headers,
                    body: Vec::new(),
                };
            }
        }
    }
    parse_response(&buf).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn as_param(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn the_api_swept_from_its_openapi_document_never_answers_5xx_nor_writes_on_a_refusal() {
    let seed: u64 = std::env::var("SANBAO_SWEEP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x005a_4ba0_5eed);
    let per_op: u64 = std::env::var("SANBAO_SWEEP_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let RoleTokens {
        officer,
        scheduler,
        auditor,
    } = RoleTokens::add(&dir);
    let s = Serve::start(&dir, &[]);
    // A small history so that generated events can pass the rules too.
    let r = post(&s.addr, "/v1/events", &officer, &json!([
        {"kind":"county_registered","county":"a","name":"甲县","registered_on":"2021-01-01","opening_treasury":"50000","opening_wage_reserve":"20000"},
        {"kind":"county_registered","county":"b","name":"乙县","registered_on":"2021-01-01","opening_treasury":"50000"},
        {"kind":"city_funds_received","fund":"general","amount":"900000","received_on":"2021-01-01"},
        {"kind":"allocation_notified","county":"a","fund":"general","fiscal_year":2021,"program":"p","amount":"120000","notified_on":"2021-01-01"},
        {"kind":"allocation_notified","county":"b","fund":"direct","fiscal_year":2021,"program":"p","amount":"30000","notified_on":"2021-01-01"}
    ]).to_string(), &[]);
    assert_eq!(r.status, 201);

    let doc = get(&s.addr, "/openapi.json", "").json();
    let mut g = Gen::new(&doc, seed);
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut sent = 0u64;
    let mut written = 0u64;
    let paths = doc["paths"].as_object().unwrap();
    let mut ops = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            ops += 1;
            let documented: Vec<u16> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|k| k.parse().ok())
                .collect();
            let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().collect();
            let body_schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
            let body_schema: &Value = Box::leak(Box::new(body_schema));
            // The write path gets three times the requests.
            let n = if method == "post" && path == "/v1/events" {
                3 * per_op
            } else {
                per_op
            };
            for _ in 0..n {
                let mut headers: Vec<(String, String)> = Vec::new();
                // The body, for operations that take one.
                let body: Option<Vec<u8>> = if body_schema.is_null() {
                    None
                } else {
                    let mut v = g.valid(body_schema, 0);
                    if g.chance(30) {
                        v = g.mutate(v, body_schema);
                    }
                    let mut bytes = serde_json::to_vec(&v).unwrap();
                    if g.chance(10) {
                        bytes = g.garbage_bytes(&bytes);
                    }
                    if g.chance(95) {
                        headers.push(("Content-Type".into(), "application/json".into()));
                    }
                    Some(bytes)
                };
                let single = body.as_deref().is_some_and(|b| b.first() == Some(&b'{'));
                let kind_is_plan = body
                    .as_deref()
                    .is_some_and(|b| String::from_utf8_lossy(b).contains("\"plan_issued\""));
                // Parameters: each present or not, valid or not.
                let invalid_params = g.chance(20);
                let mut url = path.clone();
                let mut query = Vec::new();
                for p in &params {
                    let name = p["name"].as_str().unwrap();
                    let required = p["required"] == true;
                    // A valid request names an expected head rarely (and then often the
                    // right one), and a header key only for a single event.
                    let skip = match name {
                        "expect_seq" => !invalid_params && g.chance(85),
                        "Idempotency-Key" => !invalid_params && !single,
                        _ => false,
                    };
                    if skip || (!required && g.chance(40)) {
                        continue;
                    }
                    let v = if invalid_params && g.chance(50) {
                        g.invalid(&p["schema"])
                    } else if name == "expect_seq" && g.chance(50) {
                        json!(s.head())
                    } else {
                        g.valid(&p["schema"], 0)
                    };
                    let text = as_param(&v);
                    match p["in"].as_str().unwrap() {
                        "path" => url = url.replace(&format!("{{{name}}}"), &percent(&text)),
                        "query" => query.push(format!("{}={}", percent(name), percent(&text))),
                        _ => {
                            // Header values must be visible ASCII to be sent at all.
                            let t: String =
                                text.chars().filter(|c| (' '..='~').contains(c)).collect();
                            headers.push((name.to_string(), t));
                        }
                    }
                }
                if g.chance(5) {
                    query.push("unknown_param=1".into());
                }
                if !query.is_empty() {
                    url = format!("{url}?{}", query.join("&"));
                }
                // The caller: usually the role the operation is for.
                let token = match g.below(12) {
                    0 => None,
                    1 => Some("sbt_not_a_token".to_string()),
                    2 => Some(auditor.clone()),
                    3 => Some(scheduler.clone()),
                    4 => Some(officer.clone()),
                    _ if path.ends_with("/issue") || kind_is_plan => Some(scheduler.clone()),
                    _ => Some(officer.clone()),
                };
                if let Some(t) = &token {
                    headers.push(("Authorization".into(), format!("Bearer {t}")));
                }
                let before = s.head();
                let r = send(
                    &s.addr,
                    &method.to_uppercase(),
                    &url,
                    &headers,
                    body.as_deref(),
                );
                sent += 1;
                *statuses.entry(r.status).or_default() += 1;
                let what = || {
                    format!(
                        "{method} {url} -> {} {}\nbody: {}",
                        r.status,
                        r.text(),
                        body.as_deref()
                            .map(String::from_utf8_lossy)
                            .unwrap_or_default()
                    )
                };
                assert!(r.status < 500, "{}", what());
                assert!(
                    documented.contains(&r.status),
                    "undocumented status: {}",
                    what()
                );
                let after = s.head();
                if r.status == 201 {
                    let acks = r.json();
                    let new: Vec<u64> = acks
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|a| a["duplicate"] == false)
                        .map(|a| a["seq"].as_u64().unwrap())
                        .collect();
                    assert_eq!(new, (before + 1..=after).collect::<Vec<_>>(), "{}", what());
                    written += new.len() as u64;
                } else {
                    assert_eq!(after, before, "the head moved without a 201: {}", what());
                }
                if std::env::var_os("SANBAO_SWEEP_SHOW").is_some() && r.status >= 400 {
                    eprintln!("{method} {path} {} {}", r.status, r.text());
                }
                if r.status >= 400 {
                    let v = r.json();
                    assert!(
                        v["error"]["code"].is_string() && v["error"]["message"].is_string(),
                        "{}",
                        what()
                    );
                }
            }
            // Methods the document does not list for this path: refused, nothing written.
            for other in ["PUT", "DELETE", "PATCH"] {
                let before = s.head();
                let r = send(
                    &s.addr,
                    other,
                    &path.replace("{month}", "2021-02"),
                    &[("Authorization".into(), format!("Bearer {officer}"))],
                    Some(b"{}"),
                );
                sent += 1;
                *statuses.entry(r.status).or_default() += 1;
                assert_eq!(r.status, 405, "{other} {path}");
                assert!(r.header("allow").is_some(), "{other} {path}: Allow");
                assert_eq!(s.head(), before);
            }
        }
    }
    assert_eq!(ops, 22, "every operation of the document was swept");
    assert!(
        written > 0,
        "some generated requests were valid and written"
    );
    assert!(statuses.keys().any(|&s| s == 422) && statuses.keys().any(|&s| s == 400));
    assert_eq!(get(&s.addr, "/v1/verify", &auditor).json()["ok"], true);
    println!("api sweep: seed {seed:#x}, {sent} requests over {ops} operations, {written} records written, statuses {statuses:?}");
}
