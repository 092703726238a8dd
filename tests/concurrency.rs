//! Concurrency: many HTTP clients at once spend from the same county (an
//! `expenditure_paid` of a fixed amount, on seeded dates) until it is empty. Exactly
//! floor(balance / amount) succeed, every other attempt is refused with 422, the
//! balance ends at balance mod amount and is never negative on any date, and the seqs
//! are contiguous.

use crate::wire;

use serde_json::{json, Value};
use wire::*;

const OPENING_CENTS: u64 = 100_000;
const AMOUNT_CENTS: u64 = 700;
const CLIENTS: u64 = 16;
const ATTEMPTS: u64 = 12;

fn money(c: u64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

#[test]
fn many_clients_emptying_one_county_never_overdraw_it_nor_leave_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let officer = add_token(&dir, "li.wei", "officer");
    let auditor = add_token(&dir, "wang.audit", "auditor");
    let s = Serve::start(&dir, &[]);
    let r = post(
        &s.addr,
        "/v1/events",
        &officer,
        &json!({"kind":"county_registered","county":"a","name":"甲县","registered_on":"2021-01-01","opening_treasury":money(OPENING_CENTS)}).to_string(),
        &[],
    );
    assert_eq!(r.status, 201);

    let barrier = std::sync::Arc::new(std::sync::Barrier::new(CLIENTS as usize));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (addr, token, barrier) = (s.addr.clone(), officer.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (c + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                barrier.wait();
                let mut out = Vec::new();
                for _ in 0..ATTEMPTS {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let day = 1 + rng % 28;
                    let month = 1 + (rng >> 8) % 12;
                    let e = json!({"kind":"expenditure_paid","county":"a","amount":money(AMOUNT_CENTS),
                        "paid_on":format!("2021-{month:02}-{day:02}"),"category":"livelihood"});
                    let r = post(&addr, "/v1/events", &token, &e.to_string(), &[]);
                    match r.status {
                        201 => out.push(Some(r.json()[0]["seq"].as_u64().unwrap())),
                        422 => {
                            let v = r.json();
                            assert_eq!(v["error"]["code"], "invalid_event", "{v}");
                            out.push(None)
                        }
                        other => panic!("{other}: {}", r.text()),
                    }
                }
                out
            })
        })
        .collect();
    let results: Vec<Option<u64>> = clients
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let ok: Vec<u64> = results.iter().flatten().copied().collect();
    let refused = results.iter().filter(|r| r.is_none()).count() as u64;
    assert_eq!(
        ok.len() as u64,
        OPENING_CENTS / AMOUNT_CENTS,
        "exactly floor(balance / amount) succeed"
    );
    assert_eq!(
        refused,
        CLIENTS * ATTEMPTS - OPENING_CENTS / AMOUNT_CENTS,
        "the rest get 422"
    );

    // Contiguous seqs: the register at 1, then every acknowledged spend, no gap.
    let mut seqs = ok.clone();
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=1 + ok.len() as u64).collect::<Vec<_>>());
    let records = all_records(&s.addr, &auditor);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"], i as u64 + 1);
    }
    assert_eq!(records.len(), 1 + ok.len());

    // Never negative, on any date; the remainder at the end of the year.
    let treasury = |as_of: &str| -> String {
        let v: Value = get(
            &s.addr,
            &format!("/v1/positions?county=a&as_of={as_of}"),
            &auditor,
        )
        .json();
        v["counties"][0]["treasury"].as_str().unwrap().to_string()
    };
    for month in 1..=12 {
        for day in [1, 15, 28] {
            let t = treasury(&format!("2021-{month:02}-{day:02}"));
            assert!(
                !t.starts_with('-'),
                "negative on 2021-{month:02}-{day:02}: {t}"
            );
        }
    }
    assert_eq!(treasury("2021-12-31"), money(OPENING_CENTS % AMOUNT_CENTS));
    assert_eq!(get(&s.addr, "/v1/verify", &auditor).json()["ok"], true);
    println!(
        "concurrency: {} clients, {} spends accepted, {refused} refused, balance {}",
        CLIENTS,
        ok.len(),
        money(OPENING_CENTS % AMOUNT_CENTS)
    );
}
