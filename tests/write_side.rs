//! The write side through the real binary: batches, errors, idempotency, expected
//! head, export/import round trips and tamper detection (SPEC §3–§5).

use crate::common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;

fn transfer(county: &str, amount: &str, date: &str) -> Value {
    json!({"kind":"transfer_allocated","county":county,"fund":"general","fiscal_year":2021,"amount":amount,"value_date":date})
}

#[test]
fn a_batch_with_one_bad_event_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    append_ok(dir, &small_history());
    let before = export(dir);
    // Event 2 of the batch overdraws its entitlement (12,000,000 for suizhong).
    let batch = json!([
        transfer("suizhong", "1000", "2021-01-10"),
        transfer("jianchang", "1000", "2021-01-10"),
        transfer("suizhong", "11999000.01", "2021-01-11")
    ]);
    let o = run(dir, &["append"], &batch.to_string());
    assert_eq!(code(&o), 3);
    let line = one_error_line(&o);
    assert!(
        line.contains("event 2") && line.contains("amount"),
        "{line}"
    );
    assert!(stdout(&o).is_empty());
    assert_eq!(export(dir), before, "nothing written");
    // The same batch one cent lower goes through, as JSON Lines this time.
    let lines = [
        transfer("suizhong", "1000", "2021-01-10"),
        transfer("jianchang", "1000", "2021-01-10"),
        transfer("suizhong", "11999000", "2021-01-11"),
    ]
    .iter()
    .map(|v| v.to_string())
    .collect::<Vec<_>>()
    .join("\n");
    let o = run(dir, &["append", "-"], &lines);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let acks: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        acks.iter()
            .map(|a| a["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![6, 7, 8]
    );
    assert!(acks
        .iter()
        .all(|a| a["duplicate"] == false && a["hash"].as_str().unwrap().len() == 64));
}

#[test]
fn malformed_input_is_an_invalid_event_with_one_error_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (input, needle) in [
        ("{not json", "not valid JSON"),
        ("[]", "empty"),
        ("42", "object"),
        (
            r#"{"kind":"city_funds_received","fund":"general","amount":"1","amount":"2","received_on":"2021-01-01"}"#,
            "twice",
        ),
        (
            r#"{"kind":"city_funds_received","fund":"general","amount":1.5,"received_on":"2021-01-01"}"#,
            "amount",
        ),
        (
            r#"{"kind":"city_funds_received","fund":"general","amount":"1","received_on":"2021-02-30"}"#,
            "received_on",
        ),
        (
            r#"{"kind":"city_funds_received","fund":"bonus","amount":"1","received_on":"2021-02-01"}"#,
            "fund",
        ),
        (
            r#"{"kind":"county_registered","county":"x","name":"a\u0007b","registered_on":"2021-02-01"}"#,
            "name",
        ),
    ] {
        let o = run(dir, &["append"], input);
        assert_eq!(code(&o), 3, "{input}: {}", stderr(&o));
        let line = one_error_line(&o);
        assert!(line.contains(needle), "{input}: {line}");
    }
    assert!(export(dir).is_empty());
}

#[test]
fn idempotency_keys_and_expected_head() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    append_ok(dir, &small_history());
    let ev = json!({"kind":"revenue_collected","county":"suizhong","amount":"12.3","collected_on":"2021-02-01"});
    let o = run(
        dir,
        &["append", "--idempotency-key", "rev-1", "--expect-seq", "5"],
        &ev.to_string(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let first: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(first["seq"], 6);
    // A retry with the same normalized event ("12.30") answers the original, even with a stale expected head.
    let same = json!({"kind":"revenue_collected","county":"suizhong","amount":"12.30","collected_on":"2021-02-01","category":"other"});
    let o = run(
        dir,
        &["append", "--idempotency-key", "rev-1", "--expect-seq", "5"],
        &same.to_string(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let again: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        again,
        json!({"duplicate": true, "hash": first["hash"], "seq": 6})
    );
    // The key with another event is a conflict.
    let other = json!({"kind":"revenue_collected","county":"suizhong","amount":"12.31","collected_on":"2021-02-01"});
    let o = run(
        dir,
        &["append", "--idempotency-key", "rev-1"],
        &other.to_string(),
    );
    assert_eq!(code(&o), 4);
    one_error_line(&o);
    // An expected head that moved is a conflict.
    let o = run(dir, &["append", "--expect-seq", "5"], &other.to_string());
    assert_eq!(code(&o), 4);
    assert!(one_error_line(&o).contains("seq 6"));
    // A batch mixing a duplicate with a new event is a conflict.
    let mut keyed = ev.clone();
    keyed["idempotency_key"] = json!("rev-1");
    let mut fresh = other.clone();
    fresh["idempotency_key"] = json!("rev-2");
    let o = run(dir, &["append"], &json!([keyed, fresh]).to_string());
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    // Two events of one batch with the same key are invalid.
    let mut fresh2 = other.clone();
    fresh2["idempotency_key"] = json!("rev-2");
    let o = run(dir, &["append"], &json!([fresh, fresh2]).to_string());
    assert_eq!(code(&o), 3);
    // --idempotency-key needs a single event without its own key.
    let o = run(
        dir,
        &["append", "--idempotency-key", "k"],
        &json!([other]).to_string(),
    );
    assert_eq!(code(&o), 2);
    assert_eq!(export(dir).len(), 6);
    // The key was moved into the record.
    assert_eq!(export(dir)[5]["idempotency_key"], "rev-1");
    assert!(export(dir)[5]["event"].get("idempotency_key").is_none());
}

#[test]
fn concurrent_appends_with_the_same_key_record_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    append_ok(&dir, &small_history());
    let ev = json!({"kind":"city_funds_received","fund":"direct","amount":"99","received_on":"2021-03-01","idempotency_key":"same"}).to_string();
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (dir, ev) = (dir.clone(), ev.clone());
            std::thread::spawn(move || run(&dir, &["append"], &ev))
        })
        .collect();
    let outs: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut seqs = Vec::new();
    let mut fresh = 0;
    for o in &outs {
        assert_eq!(code(o), 0, "{}", stderr(o));
        let a: Value = serde_json::from_str(stdout(o).trim()).unwrap();
        seqs.push(a["seq"].as_u64().unwrap());
        fresh += usize::from(a["duplicate"] == false);
    }
    assert!(seqs.iter().all(|s| *s == 6), "{seqs:?}");
    assert_eq!(fresh, 1, "exactly one process recorded it");
    assert_eq!(export(&dir).len(), 6);
}

#[test]
fn export_import_round_trip_reproduces_every_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("replay/sample-city/events.jsonl");
    let o = run(&a, &["import", sample.to_str().unwrap()], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = tmp.path().join("export.jsonl");
    let o = run(&a, &["export", "--out", out.to_str().unwrap()], "");
    assert_eq!(code(&o), 0);
    let o = run(&b, &["import", out.to_str().unwrap()], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (ea, eb) = (export(&a), export(&b));
    assert_eq!(ea.len(), 2412);
    assert_eq!(ea, eb, "records, recorded_at and hashes reproduced");
    // --from/--to select a range.
    let o = run(&a, &["export", "--from", "10", "--to", "12"], "");
    let seqs: Vec<u64> = stdout(&o)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, vec![10, 11, 12]);
    // Re-importing the same records into b does not continue its log.
    let o = run(&b, &["import", out.to_str().unwrap()], "");
    assert_eq!(code(&o), 3);
    assert!(one_error_line(&o).contains("line 1"));
    // An auditor's own check of the chain, with no sanbao code: recompute every hash.
    let mut prev = "0".repeat(64);
    for r in &ea {
        assert_eq!(r["prev_hash"], prev.as_str());
        let mut body = r.clone();
        body.as_object_mut().unwrap().remove("hash");
        let canon = canonical(&body);
        let digest = sha256_hex(canon.as_bytes());
        assert_eq!(r["hash"], digest.as_str());
        prev = digest;
    }
}

/// Canonical JSON written independently of sanbao (sorted keys, serde_json string escaping
/// matches JCS for these values: no control characters occur in the sample).
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn tampering_is_refused_by_import_and_found_by_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    append_ok(&a, &small_history());
    append_ok(
        &a,
        &json!([
            transfer("suizhong", "1000", "2021-01-10"),
            transfer("jianchang", "2500.5", "2021-01-12")
        ]),
    );
    let records = export(&a);
    // Change one character of one amount in record 7 ("2500.50" -> "2600.50").
    let text: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    let mut tampered = text.clone();
    tampered[6] = tampered[6].replace("2500.50", "2600.50");
    assert_ne!(tampered[6], text[6]);
    let file = tmp.path().join("tampered.jsonl");
    std::fs::write(&file, tampered.join("\n")).unwrap();
    let o = run(&b, &["import", file.to_str().unwrap()], "");
    assert_eq!(code(&o), 3);
    let line = one_error_line(&o);
    assert!(line.contains("line 7") && line.contains("hash"), "{line}");
    // The six good records before it were kept.
    assert_eq!(export(&b).len(), 6);

    // The same change inside a store: verify names seq 7.
    let o = run(&a, &["verify", "--json"], "");
    assert_eq!(code(&o), 0);
    let ok: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        ok,
        json!({"head_hash": records[6]["hash"], "ok": true, "records": 7})
    );
    {
        let store = sanbao::log::Store::open(&a).unwrap();
        let mut r = store.get(7).unwrap().unwrap();
        if let sanbao::event::Event::TransferAllocated(t) = &mut r.event {
            t.amount = sanbao::money::Money::from_cents(260050);
        } else {
            panic!("record 7 is a transfer");
        }
        store.overwrite_raw_for_test(7, &r.encode()).unwrap();
    }
    let o = run(&a, &["verify", "--json"], "");
    assert_eq!(code(&o), 5);
    let bad: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(bad["ok"], false);
    assert_eq!(bad["first_bad_seq"], 7);
    assert!(bad["reason"].as_str().unwrap().contains("hash"));
}

#[test]
fn import_stops_at_the_first_bad_line_and_keeps_earlier_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut lines: Vec<String> = small_history()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();
    lines.push(String::new()); // line 6 is blank
                               // 10,000 more events: the first batch (10,000 events) ends inside them.
    for i in 0..10_000 {
        lines.push(json!({"kind":"revenue_collected","county":"jianchang","amount":format!("{}.01", i + 1),"collected_on":"2021-02-01"}).to_string());
    }
    lines.push(transfer("suizhong", "99999999", "2021-01-10").to_string()); // line 10007
    lines.push(transfer("suizhong", "1", "2021-01-10").to_string());
    // A third batch, read and prepared while the second is with the writer: it must
    // not be written once the second is refused.
    for i in 0..12_000 {
        lines.push(json!({"kind":"revenue_collected","county":"jianchang","amount":format!("{}.02", i + 1),"collected_on":"2021-02-02"}).to_string());
    }
    let file = dir.join("in.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let data = dir.join("data");
    let o = run(&data, &["import", file.to_str().unwrap()], "");
    assert_eq!(code(&o), 3);
    let line = one_error_line(&o);
    assert!(
        line.contains("line 10007")
            && line.contains("amount")
            && line.contains("(10000 events before its batch were imported)"),
        "{line}"
    );
    // The first batch of 10,000 was committed; the second (with the bad line) and the
    // third (prepared while the second was with the writer) were not.
    assert_eq!(export(&data).len(), 10_000);
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        vec!["frobnicate"],
        vec!["export", "--from", "x"],
        vec!["append", "--expect-seq"],
    ] {
        let o = run(tmp.path(), &args, "");
        assert_eq!(code(&o), 2, "{args:?}");
        one_error_line(&o);
    }
    let o = run(tmp.path(), &["--help"], "");
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("append"));
}

#[test]
fn import_reads_crlf_blank_lines_and_any_member_order_as_append_does() {
    // The same five events appended as one JSON array (the full parse) and imported
    // as lines written every which way (the import's fast path where it applies):
    // the log must hold the same normalized events.
    let tmp = tempfile::tempdir().unwrap();
    let appended = tmp.path().join("appended");
    let o = run(&appended, &["append"], &small_history().to_string());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines = [
        // Members reversed and spaced, a name with escapes, an amount to normalize.
        r#"{ "opening_treasury" : "1000000", "registered_on":"2021-01-01", "name":"\u7ee5\u4e2d县", "county":"suizhong", "kind":"county_registered" }"#,
        "",
        "   \t",
        r#"{"kind":"county_registered","county":"jianchang","name":"建昌县","registered_on":"2021-01-01","idempotency_key":"reg-jianchang"}"#,
        r#"{"amount":"50000000","fund":"general","kind":"city_funds_received","received_on":"2021-01-01","idempotency_key":null}"#,
        r#"{"kind":"allocation_notified","county":"suizhong","fund":"general","fiscal_year":2021,"program":"均衡性转移支付","amount":"12000000","notified_on":"2021-01-05"}"#,
        // The last line has no line end.
        r#"{"kind":"allocation_notified","county":"jianchang","fund":"general","fiscal_year":2021,"program":"均衡性转移支付","amount":"6000000.0","notified_on":"2021-01-05"}"#,
    ];
    let file = tmp.path().join("in.jsonl");
    std::fs::write(&file, lines.join("\r\n")).unwrap();
    let imported = tmp.path().join("imported");
    let o = run(&imported, &["import", file.to_str().unwrap()], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (a, b) = (export(&appended), export(&imported));
    assert_eq!(b.len(), 5);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x["event"], y["event"]);
    }
    assert_eq!(b[1]["idempotency_key"], "reg-jianchang");
    assert_eq!(b[2]["idempotency_key"], Value::Null);
    // A bad line after CRLF lines is named by its number, blank lines counted.
    let bad = [
        transfer("suizhong", "1", "2021-01-10").to_string(),
        String::new(),
        json!({"kind":"transfer_allocated","county":"suizhong","fund":"general","fiscal_year":2021,"amount":1,"value_date":"2021-01-10"}).to_string(),
    ];
    std::fs::write(&file, bad.join("\r\n") + "\r\n").unwrap();
    let o = run(&imported, &["import", file.to_str().unwrap()], "");
    assert_eq!(code(&o), 3);
    let line = one_error_line(&o);
    assert!(line.contains("line 3") && line.contains("amount"), "{line}");
    // The line before it was imported (as `import` does: it stops at the bad line).
    assert_eq!(export(&imported).len(), 6);
}
