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
    /// Contract v2: the user who appended the record (a tokens-file user, or `local`
    /// for the command line); absent in records written before it, never null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", length(min = 1, max = 64))]
    recorded_by: Option<String>,
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

/// Schema-only types for the answers of the service (`GET /openapi.json`): how an
/// output writes a value whose input form (the schemas above) is narrower or wider.
/// Never constructed; named in `#[schemars(with = …)]` or by the document builder.
pub mod out {
    use crate::values::string_schema;
    use schemars::gen::SchemaGenerator;
    use schemars::schema::{Schema, SchemaObject};
    use schemars::JsonSchema;

    /// An amount as every output writes it: exactly two decimals, negative only where
    /// a figure can be (a projection, a shortfall never). The document describes the
    /// outputs' [`crate::money::Money`] with it.
    pub struct MoneyOut;

    impl JsonSchema for MoneyOut {
        fn schema_name() -> String {
            "MoneyOut".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            string_schema(
                r"^-?[0-9]+\.[0-9]{2}$",
                "an amount in yuan with exactly two decimals (negative only where a figure can be)",
            )
        }
    }

    /// A ratio as every output writes it: exactly four decimals. The document
    /// describes the outputs' [`crate::money::Ratio`] with it.
    pub struct RatioOut;

    impl JsonSchema for RatioOut {
        fn schema_name() -> String {
            "RatioOut".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            string_schema(
                r"^-?[0-9]+\.[0-9]{4}$",
                "a ratio with exactly four decimals",
            )
        }
    }

    /// A computed date: like an input date, but it may fall before 2000-01-01 (the
    /// basis date of 2000-01, a deadline a week before an early payday).
    pub struct DateOut;

    impl JsonSchema for DateOut {
        fn schema_name() -> String {
            "DateOut".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            string_schema(
                r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                "a computed date YYYY-MM-DD; may fall before 2000-01-01 (the basis date of 2000-01, a deadline a week before an early payday)",
            )
        }
    }

    /// One event, by reference to the document's `Event` (the kinds' schemas with
    /// their `kind` discriminator, which the document assembles from
    /// [`crate::event::Event::schemas`]).
    pub struct EventRef;

    impl JsonSchema for EventRef {
        fn is_referenceable() -> bool {
            false
        }
        fn schema_name() -> String {
            "EventRef".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            Schema::new_ref("#/components/schemas/Event".into())
        }
    }

    /// A member that is always present and may be `null`: `T`'s schema or null, and
    /// required (schemars takes an `Option` member for one that may be absent, but
    /// the outputs write every member, `null` included).
    pub struct Nullable<T>(std::marker::PhantomData<T>);

    impl<T: JsonSchema> JsonSchema for Nullable<T> {
        fn is_referenceable() -> bool {
            false
        }
        fn schema_name() -> String {
            format!("Nullable_{}", T::schema_name())
        }
        fn json_schema(gen: &mut SchemaGenerator) -> Schema {
            <Option<T>>::json_schema(gen)
        }
    }

    /// `true`, the only value of a member that tells one answer from another
    /// (`"ok": true` of a verified chain).
    pub fn const_true(_: &mut SchemaGenerator) -> Schema {
        constant(serde_json::Value::Bool(true))
    }

    /// `false` (`"ok": false` of a broken chain).
    pub fn const_false(_: &mut SchemaGenerator) -> Schema {
        constant(serde_json::Value::Bool(false))
    }

    fn constant(v: serde_json::Value) -> Schema {
        Schema::Object(SchemaObject {
            const_value: Some(v),
            ..Default::default()
        })
    }
}
