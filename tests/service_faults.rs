//! Full disks and I/O errors through the service: the service runs in-process over a
//! `Store` whose fault injector (`Store::faults`) makes the next writes or syncs fail.
//! A failed write answers 503 with nothing written — not in the log, not in the
//! balances, not under its idempotency key — and later appends work once the fault
//! clears, also while many clients append at once. A write that cannot be taken back
//! stops writes (503) until a restart, which settles it by the retry's idempotency key.

use crate::inproc;
use crate::wire;

use inproc::InProc;
use sanbao::log::{self, Store, Verified};
use sanbao::server::Limits;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use wire::*;

fn revenue(cents: u64) -> String {
    json!({"kind":"revenue_collected","county":"a","amount":format!("{}.{:02}", cents / 100, cents % 100),"collected_on":"2021-02-01"}).to_string()
}

fn append_keyed(s: &InProc, cents: u64, key: &str) -> Resp {
    post(
        &s.addr,
        "/v1/events",
        &s.officer,
        &revenue(cents),
        &[("Idempotency-Key", key)],
    )
}

fn head(s: &InProc) -> u64 {
    let r = get(&s.addr, "/healthz", "");
    r.json()["head_seq"].as_u64().unwrap()
}

fn treasury(s: &InProc) -> String {
    let r = get(&s.addr, "/v1/positions?county=a", &s.auditor);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["counties"][0]["treasury"]
        .as_str()
        .unwrap()
        .to_string()
}

fn assert_503(r: &Resp) {
    assert_eq!(r.status, 503, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["code"], "unavailable", "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nothing was recorded"));
}

fn start_with_history(dir: &std::path::Path) -> InProc {
    let s = InProc::start(dir, Limits::default());
    let r = post(
        &s.addr,
        "/v1/events",
        &s.officer,
        &json!([{"kind":"county_registered","county":"a","name":"甲县","registered_on":"2021-01-01","opening_treasury":"100"}]).to_string(),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    s
}

#[test]
fn a_failed_write_or_sync_answers_503_writes_nothing_and_later_appends_work() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start_with_history(tmp.path());

    // The write fails before anything reaches sled (a full disk at write time).
    s.store.faults().fail_write.store(1, Ordering::SeqCst);
    assert_503(&append_keyed(&s, 150, "k1"));
    assert_eq!(head(&s), 1);
    assert_eq!(treasury(&s), "100.00", "the balance never saw it");

    // The write reaches sled, the fdatasync fails: taken back out of sled.
    s.store.faults().fail_sync.store(1, Ordering::SeqCst);
    assert_503(&append_keyed(&s, 150, "k1"));
    assert_eq!(head(&s), 1);
    assert_eq!(treasury(&s), "100.00");
    assert!(s.store.get(2).unwrap().is_none(), "not in the log");
    assert_eq!(s.store.idempotency_seq("k1").unwrap(), None, "nor its key");
    let page = get(&s.addr, "/v1/events", &s.auditor).json();
    assert_eq!(page["records"].as_array().unwrap().len(), 1);

    // Space is back: the same request is a new record at the next seq, once.
    let r = append_keyed(&s, 150, "k1");
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()[0]["seq"], 2);
    assert_eq!(r.json()[0]["duplicate"], false);
    let r = append_keyed(&s, 150, "k1");
    assert_eq!(r.json()[0]["duplicate"], true);
    assert_eq!(treasury(&s), "101.50");
    assert_eq!(get(&s.addr, "/v1/verify", &s.auditor).json()["ok"], true);
    s.stop();
    let store = Store::open(tmp.path()).unwrap();
    assert!(matches!(
        log::verify(&store, None, |_| {}).unwrap(),
        Verified::Ok { records: 2, .. }
    ));
}

#[test]
fn faults_among_concurrent_appends_leave_exactly_the_acknowledged_records() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start_with_history(tmp.path());
    const CLIENTS: u64 = 6;
    const EACH: u64 = 40;
    // Every few group commits fails, at write or at sync, while clients append; the
    // first one surely does.
    s.store.faults().fail_sync.store(1, Ordering::SeqCst);
    let injector = {
        let store = s.store.clone();
        std::thread::spawn(move || {
            for i in 0..30u32 {
                let f = store.faults();
                if i % 2 == 0 {
                    f.fail_sync.fetch_add(1, Ordering::SeqCst);
                } else {
                    f.fail_write.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
        })
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (addr, token) = (s.addr.clone(), s.officer.clone());
            std::thread::spawn(move || {
                let mut out = Vec::new();
                for n in 0..EACH {
                    let key = format!("c{c}-{n}");
                    let cents = 1 + c * 1000 + n;
                    let r = post(
                        &addr,
                        "/v1/events",
                        &token,
                        &revenue(cents),
                        &[("Idempotency-Key", &key)],
                    );
                    match r.status {
                        201 => out.push((key, cents, Some(r.json()[0].clone()))),
                        503 => {
                            assert_503(&r);
                            out.push((key, cents, None))
                        }
                        other => panic!("{other}: {}", r.text()),
                    }
                }
                out
            })
        })
        .collect();
    let results: Vec<(String, u64, Option<Value>)> = clients
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    injector.join().unwrap();
    s.store.faults().fail_sync.store(0, Ordering::SeqCst);
    s.store.faults().fail_write.store(0, Ordering::SeqCst);

    let records = all_records(&s.addr, &s.auditor);
    let by_key: BTreeMap<&str, &Value> = records
        .iter()
        .filter_map(|r| r["idempotency_key"].as_str().map(|k| (k, r)))
        .collect();
    let mut acked_cents = 0u64;
    let (mut ok, mut failed) = (0, 0);
    for (key, cents, ack) in &results {
        match ack {
            Some(a) => {
                ok += 1;
                acked_cents += cents;
                let rec = by_key.get(key.as_str()).expect("an acknowledged record");
                assert_eq!(rec["seq"], a["seq"]);
                assert_eq!(rec["hash"], a["hash"]);
            }
            None => {
                failed += 1;
                assert!(
                    !by_key.contains_key(key.as_str()),
                    "{key} failed but is stored"
                );
            }
        }
    }
    assert!(failed > 0, "some appends met a fault");
    assert!(ok > 0);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"], i as u64 + 1, "contiguous");
    }
    assert_eq!(records.len(), 1 + ok);
    let total = 10_000 + acked_cents;
    assert_eq!(
        treasury(&s),
        format!("{}.{:02}", total / 100, total % 100),
        "the balance holds exactly the acknowledged appends"
    );
    // Every failed request retried with its key now succeeds, once.
    for (key, cents, ack) in &results {
        if ack.is_none() {
            let r = append_keyed(&s, *cents, key);
            assert_eq!(r.status, 201, "{}", r.text());
            assert_eq!(r.json()[0]["duplicate"], false);
        }
    }
    assert_eq!(head(&s), 1 + CLIENTS * EACH);
    assert_eq!(get(&s.addr, "/v1/verify", &s.auditor).json()["ok"], true);
    println!("service faults: {ok} acknowledged, {failed} answered 503 and retried");
}

#[test]
fn a_write_that_cannot_be_taken_back_answers_503_until_a_restart_settles_it() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start_with_history(tmp.path());
    s.store.faults().fail_sync.store(1, Ordering::SeqCst);
    s.store.faults().fail_rollback.store(1, Ordering::SeqCst);
    assert_503(&append_keyed(&s, 250, "k2"));
    let r = append_keyed(&s, 300, "k3");
    assert_503(&r);
    assert!(r.text().contains("restart"), "{}", r.text());
    // Reads still answer, from the state that never saw the failed batch.
    assert_eq!(head(&s), 1);
    assert_eq!(treasury(&s), "100.00");
    s.stop();
    let s = InProc::start(tmp.path(), Limits::default());
    let h = head(&s);
    assert!(
        h == 1 || h == 2,
        "the unacknowledged batch is whole or absent: {h}"
    );
    let r = append_keyed(&s, 250, "k2");
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()[0]["seq"], 2);
    assert_eq!(r.json()[0]["duplicate"], h == 2);
    let r = append_keyed(&s, 300, "k3");
    assert_eq!(r.json()[0]["seq"], 3);
    assert_eq!(treasury(&s), "105.50");
    assert_eq!(get(&s.addr, "/v1/verify", &s.auditor).json()["ok"], true);
}
