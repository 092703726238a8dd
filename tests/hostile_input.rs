//! Hostile input for the event parser: arbitrary JSON shaped like events, arbitrary
//! text, deep nesting and huge numbers. The parser never panics; whatever it accepts
//! is normalized (parsing its own output gives the same event) and hashes.

use proptest::prelude::*;
use sanbao::event::{parse_input, Event, KINDS};
use sanbao::record::{Record, GENESIS};
use serde_json::{Map, Value};

const SAMPLE: &str = include_str!("../replay/sample-city/events.jsonl");

const FIELDS: &[&str] = &[
    "county",
    "name",
    "registered_on",
    "opening_treasury",
    "opening_wage_reserve",
    "fund",
    "amount",
    "received_on",
    "reference",
    "fiscal_year",
    "program",
    "notified_on",
    "schedule",
    "value_date",
    "plan_month",
    "mode",
    "reason",
    "approved_by",
    "payroll_month",
    "deposited_on",
    "payday",
    "declared_on",
    "paid_on",
    "collected_on",
    "category",
    "account",
    "on",
    "balance",
    "budgeted_on",
    "warning_line",
    "alert_line",
    "idle_line",
    "effective_from",
    "month",
    "based_on_seq",
    "plan_sha256",
    "issued_on",
    "reverses_seq",
    "idempotency_key",
    "bogus",
];

/// Values that are often almost right: plausible strings and numbers, plus noise.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        (2000u64..2101).prop_map(Value::from),
        "[a-z][a-z0-9_-]{0,33}".prop_map(Value::String),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]".prop_map(Value::String),
        "20[0-9]{2}-[01][0-9]".prop_map(Value::String),
        "[0-9]{1,15}(\\.[0-9]{0,3})?".prop_map(Value::String),
        prop_oneof![
            Just("general"),
            Just("pre_notified"),
            Just("in_execution"),
            Just("direct"),
            Just("grant"),
            Just("advance"),
            Just("wages"),
            Just("treasury"),
            Just("tax")
        ]
        .prop_map(|s| Value::String(s.into())),
        "\\PC{0,12}".prop_map(Value::String),
        ".{0,8}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("month|amount|x", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event_like() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(KINDS.to_vec()),
        prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), json_value(), 0..9),
    )
        .prop_map(|(kind, fields)| {
            let mut m: Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            m.insert("kind".into(), Value::String(kind.into()));
            Value::Object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn event_parsing_never_panics_and_accepted_events_are_normalized(v in event_like()) {
        if let Ok(input) = Event::parse_object(v) {
            let again = Event::parse_object(input.event.to_json()).expect("normalized output parses");
            prop_assert_eq!(&again.event, &input.event);
            let r = Record::new(1, 0, input.idempotency_key, GENESIS, input.event);
            prop_assert_eq!(Record::decode(&r.encode()).unwrap(), r.clone());
            // The compact form, as a block stores it, read back at its place.
            let mut compact = Vec::new();
            r.encode_compact_into(&mut compact);
            prop_assert_eq!(Record::decode_at(&compact, 1, GENESIS).unwrap(), r);
        }
    }

    /// Valid sample events with one member replaced, dropped or added: most stay
    /// valid, so the round trip below is exercised, not just the refusals.
    #[test]
    fn mutated_valid_events_round_trip_when_accepted(
        pick in 0usize..2412,
        field in prop::sample::select(FIELDS.to_vec()),
        value in prop::option::of(leaf()),
    ) {
        let line = SAMPLE.lines().nth(pick).unwrap();
        let mut v: Value = serde_json::from_str(line).unwrap();
        let m = v.as_object_mut().unwrap();
        match value {
            Some(x) => { m.insert(field.to_string(), x); }
            None => { m.remove(field); }
        }
        if let Ok(input) = Event::parse_object(v) {
            let again = Event::parse_object(input.event.to_json()).expect("normalized output parses");
            prop_assert_eq!(&again.event, &input.event);
            let r = Record::new(1, 0, input.idempotency_key, GENESIS, input.event);
            prop_assert_eq!(r.to_json_line(), sanbao::canonical::to_canonical_string(&r.to_json()));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,64}|[\\[\\]{}\",:0-9a-z ]{0,64}") {
        let _ = parse_input(&s);
    }
}

#[test]
fn unmutated_sample_events_are_all_accepted() {
    // The premise of the mutation test: its starting points are valid events.
    for line in SAMPLE.lines() {
        Event::parse_object(serde_json::from_str(line).unwrap()).unwrap();
    }
    assert_eq!(SAMPLE.lines().count(), 2412);
}

#[test]
fn deep_nesting_and_huge_numbers_are_errors_not_crashes() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_input(&deep).is_err());
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    assert!(parse_input(&deep_obj).is_err());
    for n in [
        "1e400",
        "-1e400",
        "123456789012345678901234567890",
        "1.7976931348623157e309",
    ] {
        let text = format!(
            r#"{{"kind":"event_reversed","reverses_seq":{n},"reason":"x","on":"2021-01-01"}}"#
        );
        assert!(parse_input(&text).is_err(), "{n}");
    }
    let long = format!(
        r#"{{"kind":"county_registered","county":"a","name":"{}","registered_on":"2021-01-01"}}"#,
        "x".repeat(1_000_000)
    );
    assert!(parse_input(&long).is_err());
}
