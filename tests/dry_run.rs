//! `append --dry-run` and `POST /v1/events?dry_run=true` (issue 18) on the sample
//! city: the answer names the seqs the append would get and the hashes the records
//! would have if recorded at the answer's `recorded_at`; the real append that follows
//! gets those seqs, and its records, with their time of recording set to the dry
//! run's, hash to the dry run's hashes. A refusal is the refusal the real append
//! gives; a duplicate names the record already there; nothing is written (every file
//! of DIR hashed before and after, but the holder note `sanbao.lock`).

use crate::common;
use crate::wire;

use common::{code, export, hashes, run, stderr, stdout};
use sanbao::record::Record;
use serde_json::{json, Value};

fn batch() -> Value {
    json!([
        {"kind":"revenue_collected","county":"beigang","amount":"1234.56","collected_on":"2022-03-10"},
        {"kind":"expenditure_paid","county":"beigang","category":"operations","amount":"100.00","paid_on":"2022-03-11"}
    ])
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Checks that `real` (exported records of one batch), recorded at the dry run's
/// time and chained on the dry run's hashes, hash to the dry run's hashes.
fn same_records(dry: &[Value], real: &[Value]) {
    assert_eq!(dry.len(), real.len());
    let mut prev = real[0]["prev_hash"].clone();
    for (d, r) in dry.iter().zip(real) {
        assert_eq!(d["dry_run"], true);
        assert_eq!(d["duplicate"], false);
        assert_eq!(d["seq"], r["seq"], "the same seq");
        assert_ne!(
            d["hash"], r["hash"],
            "recorded a moment later: another hash"
        );
        let mut as_dry = r.clone();
        as_dry["recorded_at"] = d["recorded_at"].clone();
        as_dry["prev_hash"] = prev.clone();
        as_dry["hash"] = d["hash"].clone();
        Record::from_export(as_dry.clone())
            .unwrap_or_else(|e| panic!("the dry run's hash is not the record's: {e}: {as_dry}"));
        prev = d["hash"].clone();
    }
}

#[test]
fn a_dry_run_answers_what_the_append_that_follows_does_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    assert_eq!(code(&run(&dir, &["demo"], "")), 0);
    assert_eq!(code(&run(&dir, &["verify"], "")), 0);
    let before = hashes(&dir);
    let head = export(&dir).len();

    let o = run(&dir, &["append", "--dry-run"], &batch().to_string());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let dry = lines(&stdout(&o));
    assert_eq!(hashes(&dir), before, "a dry run changes no file of DIR");
    assert_eq!(dry[0]["seq"], head + 1);
    assert_eq!(dry[1]["seq"], head + 2);
    assert_eq!(
        dry[0]["recorded_at"], dry[1]["recorded_at"],
        "one batch, one time"
    );

    let acks = common::append_ok(&dir, &batch());
    assert_eq!(acks.len(), 2);
    let records = export(&dir);
    same_records(&dry, &records[head..]);
    assert_eq!(records[head]["recorded_by"], "local");

    // A refused batch: the dry run refuses it as the append does, exit and message.
    let bad = json!([
        {"kind":"revenue_collected","county":"beigang","amount":"1.00","collected_on":"2022-03-12"},
        {"kind":"wages_paid","county":"beigang","amount":"999999999.00","paid_on":"2022-03-12","payroll_month":"2022-03"}
    ])
    .to_string();
    let settled = hashes(&dir);
    let d = run(&dir, &["append", "--dry-run"], &bad);
    let r = run(&dir, &["append"], &bad);
    assert_eq!(code(&d), 3, "{}", stderr(&d));
    assert_eq!((code(&d), stderr(&d)), (code(&r), stderr(&r)));
    assert_eq!(stdout(&d), "");
    assert_eq!(hashes(&dir), settled, "neither wrote anything");

    // A duplicate: the record already there.
    let key = ["--idempotency-key", "rev-0312"];
    let one = json!({"kind":"revenue_collected","county":"beigang","amount":"2.00","collected_on":"2022-03-12"}).to_string();
    let o = run(&dir, &["append", key[0], key[1]], &one);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let ack: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let o = run(&dir, &["append", "--dry-run", key[0], key[1]], &one);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let d: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        d,
        json!({"dry_run":true,"duplicate":true,"hash":ack["hash"],"seq":ack["seq"]})
    );
}

#[test]
fn over_http_a_dry_run_answers_200_and_the_append_201_with_the_same_seqs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    assert_eq!(code(&run(&dir, &["demo"], "")), 0);
    let tokens = wire::RoleTokens::add(&dir);
    let mut server = wire::Serve::start(&dir, &[]);
    let addr = server.addr.clone();
    let head = server.head();
    let body = batch().to_string();

    let d = wire::post(
        &addr,
        "/v1/events?dry_run=true",
        &tokens.officer,
        &body,
        &[],
    );
    assert_eq!(d.status, 200, "{}", d.text());
    assert_eq!(server.head(), head, "nothing written");
    // Roles hold for a dry run as for an append.
    let r = wire::post(
        &addr,
        "/v1/events?dry_run=true",
        &tokens.auditor,
        &body,
        &[],
    );
    assert_eq!(r.status, 403, "{}", r.text());

    let r = wire::post(&addr, "/v1/events", &tokens.officer, &body, &[]);
    assert_eq!(r.status, 201, "{}", r.text());
    let records = wire::all_records(&addr, &tokens.auditor);
    let dry = d.json().as_array().unwrap().clone();
    same_records(&dry, &records[head as usize..]);
    assert_eq!(records[head as usize]["recorded_by"], "li.wei");

    // A refusal is the same answer, status and body.
    let bad = json!({"kind":"wages_paid","county":"beigang","amount":"999999999.00",
                     "paid_on":"2022-03-12","payroll_month":"2022-03"})
    .to_string();
    let d = wire::post(&addr, "/v1/events?dry_run=true", &tokens.officer, &bad, &[]);
    let r = wire::post(&addr, "/v1/events", &tokens.officer, &bad, &[]);
    assert_eq!(d.status, 422, "{}", d.text());
    assert_eq!((d.status, d.text()), (r.status, r.text()));
    // A flag that is not a boolean is a bad request, nothing written.
    let r = wire::post(
        &addr,
        "/v1/events?dry_run=perhaps",
        &tokens.officer,
        &body,
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(server.head(), head + 2);

    // The CLI's dry run, forwarded to the server, answers with the server's next seq.
    let o = run(&dir, &["append", "--dry-run"], &body);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(lines(&stdout(&o))[0]["seq"], head + 3);
    assert_eq!(server.head(), head + 2);
    server.terminate();
}
