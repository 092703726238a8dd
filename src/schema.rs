//! JSON Schemas of the input/output contract, generated from the Rust types
//! (`schemars`): one per event kind and one for the exported record.
//!
//! Guarantee: `schemas/` in the repository equals [`all`] — a test fails when the
//! committed files drift from the types (regenerate with `SANBAO_BLESS=1 cargo test`).

use crate::event::Event;
use crate::values::Sha256Hex;
use schemars::JsonSchema;
use serde_json::{json, Value};

/// The exported log record of SPEC §4 (documentation type for its schema).
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(deny_unknown_fields)]
struct RecordSchema {
    /// The normalized event (one of the event kinds).
    event: Value,
    /// SHA-256 of the canonical JSON of the record without `hash`.
    hash: Sha256Hex,
    /// `null` or 1 to 128 printable ASCII characters.
    idempotency_key: Option<String>,
    /// The previous record's hash; 64 zeros for seq 1.
    prev_hash: Sha256Hex,
    /// UTC, RFC 3339 with exactly six fractional digits and `Z`.
    recorded_at: String,
    /// 1, 2, 3, … contiguous.
    seq: u64,
}

/// Every schema file: `(file name, pretty JSON text with a trailing newline)`.
pub fn all() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut refs = Vec::new();
    for (kind, schema) in Event::schemas() {
        let mut v = serde_json::to_value(schema).expect("schema serializes");
        v["$id"] = json!(format!("{kind}.schema.json"));
        refs.push(json!({"$ref": format!("{kind}.schema.json")}));
        out.push((format!("{kind}.schema.json"), pretty(&v)));
    }
    let settings = schemars::gen::SchemaSettings::draft2019_09();
    let mut rec = serde_json::to_value(
        settings
            .into_generator()
            .into_root_schema_for::<RecordSchema>(),
    )
    .expect("schema serializes");
    rec["$id"] = json!("record.schema.json");
    rec["title"] = json!("record");
    rec["properties"]["event"] = json!({"description": "the normalized event", "oneOf": refs});
    rec["properties"]["recorded_at"]["pattern"] =
        json!(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$");
    out.push(("record.schema.json".into(), pretty(&rec)));
    out
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("json");
    s.push('\n');
    s
}
