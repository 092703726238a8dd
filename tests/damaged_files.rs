//! Damaged files: one flipped byte in a stored record makes `serve` refuse to start
//! (exit 5, one `error:` line naming the first bad seq and the two ways out) rather
//! than serve wrong balances; `verify` names the same seq; `truncate --after K-1`
//! does nothing without `--yes` and, with it, leaves a log that verifies and serves.

use crate::common;
use crate::wire;

use sanbao::log::{self, Store, Verified};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use wire::*;

/// Seven records: a county, city funds, five keyed revenue events.
fn build_log(dir: &Path) {
    let mut batches = vec![common::events(&json!([
        {"kind":"county_registered","county":"a","name":"甲县","registered_on":"2021-01-01","opening_treasury":"100"},
        {"kind":"city_funds_received","fund":"general","amount":"1000","received_on":"2021-01-01"},
    ]))];
    for i in 0..5 {
        batches.push(common::events(
            &json!({"kind":"revenue_collected","county":"a","amount":format!("{}.25", i + 1),"collected_on":"2021-02-01","idempotency_key":format!("rev-{i}")}),
        ));
    }
    common::append_in_process(dir, batches);
}

/// Runs `serve` on a damaged log: it must exit (bounded) with code 5 and one line.
fn serve_refuses(dir: &Path) -> String {
    let mut child = Command::new(bin())
        .arg("--data")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .env_remove("SANBAO_TOKENS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(120));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("serve started on a damaged log");
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(out.stdout.is_empty(), "serve announced itself: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one stderr line: {err:?}");
    assert!(lines[0].starts_with("error:"), "{err}");
    lines[0].to_string()
}

fn flip(dir: &Path, seq: u64, original: &[u8], offset: usize, bit: u8) {
    let store = Store::open_audit(dir).unwrap();
    let mut bad = original.to_vec();
    bad[offset] ^= bit;
    store.overwrite_raw_for_test(seq, &bad).unwrap();
}

fn stored(dir: &Path, seq: u64) -> Vec<u8> {
    common::stored_bytes(&Store::open_audit(dir).unwrap(), seq)
}

#[test]
fn serve_refuses_a_log_with_any_flipped_byte_and_truncate_repairs_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    build_log(&dir);
    let officer = add_token(&dir, "li.wei", "officer");

    // Every byte of a middle record (lowest and highest bit), and every third byte of
    // the first and the last record: serve refuses each time, naming the seq.
    let mut flips = 0usize;
    let plan: Vec<(u64, u8, usize)> = vec![(4, 0x01, 1), (4, 0x80, 1), (1, 0x40, 3), (7, 0x02, 3)];
    for (target, bit, stride) in plan {
        let original = stored(&dir, target);
        for offset in (0..original.len()).step_by(stride) {
            flip(&dir, target, &original, offset, bit);
            let line = serve_refuses(&dir);
            assert!(
                line.contains(&format!("damaged at seq {target}:")),
                "offset {offset} of seq {target}: {line}"
            );
            assert!(
                line.contains(&format!("truncate --after {} --yes", target - 1))
                    && line.contains("export")
                    && line.contains("wrong balances"),
                "{line}"
            );
            flips += 1;
        }
        // verify names the same seq.
        let o = run(&dir, &["verify", "--json"]);
        assert_eq!(o.status.code(), Some(5));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["first_bad_seq"], target);
        // Put the record back before damaging the next one.
        Store::open_audit(&dir)
            .unwrap()
            .overwrite_raw_for_test(target, &original)
            .unwrap();
    }
    assert!(flips >= 150, "{flips} flips");
    println!("damaged files: {flips} flipped bytes, every one refused by serve");

    // Damage seq 5 for good, then repair with the explicit command.
    let original = stored(&dir, 5);
    flip(&dir, 5, &original, original.len() / 2, 0x10);
    serve_refuses(&dir);
    let o = run(&dir, &["truncate", "--after", "5"]);
    assert_eq!(o.status.code(), Some(5), "keeping a bad record is refused");
    let o = run(&dir, &["truncate", "--after", "4"]);
    assert_eq!(o.status.code(), Some(2), "nothing happens without --yes");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.starts_with("error:") && err.contains("--yes") && err.contains("3 stored records"),
        "{err}"
    );
    assert_eq!(
        Store::open_audit(&dir).unwrap().head().unwrap().seq,
        7,
        "untouched"
    );
    let o = run(&dir, &["truncate", "--after", "4", "--yes"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&dir, &["verify", "--json"]);
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["records"].clone()),
        (json!(true), json!(4))
    );
    {
        let store = Store::open_audit(&dir).unwrap();
        assert!(matches!(
            log::verify(&store, None, |_| {}).unwrap(),
            Verified::Ok { records: 4, .. }
        ));
        assert_eq!(store.idempotency_seq("rev-1").unwrap(), Some(4));
        assert_eq!(
            store.idempotency_seq("rev-2").unwrap(),
            None,
            "removed with seq 5"
        );
        assert_eq!(store.idempotency_seq("rev-4").unwrap(), None);
    }

    // serve starts; the keys of the removed records are free again.
    let mut s = Serve::start(&dir, &[]);
    assert_eq!(s.head(), 4);
    let e = json!({"kind":"revenue_collected","county":"a","amount":"3.25","collected_on":"2021-02-01"});
    let r = post(
        &s.addr,
        "/v1/events",
        &officer,
        &e.to_string(),
        &[("Idempotency-Key", "rev-2")],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()[0]["seq"], 5);
    assert_eq!(r.json()[0]["duplicate"], false);
    let r = post(
        &s.addr,
        "/v1/events",
        &officer,
        &e.to_string(),
        &[("Idempotency-Key", "rev-1")],
    );
    assert_eq!(
        r.status,
        409,
        "rev-1 (seq 4) is still remembered: {}",
        r.text()
    );
    assert!(s.terminate().success());
    assert!(run(&dir, &["verify"]).status.success());
}

#[test]
fn truncate_is_refused_for_no_log_and_says_nothing_to_do_at_the_head() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let o = run(&dir, &["truncate", "--after", "0", "--yes"]);
    assert_eq!(o.status.code(), Some(2));
    build_log(&dir);
    let o = run(&dir, &["truncate", "--after", "7", "--yes"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("nothing to remove"));
    let o = run(&dir, &["truncate", "--after", "9", "--yes"]);
    assert_eq!(o.status.code(), Some(5), "records 8 and 9 do not exist");
    let o = run(&dir, &["truncate", "--after", "0", "--yes"]);
    assert!(o.status.success());
    let o = run(&dir, &["verify", "--json"]);
    assert!(o.status.success());
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["records"],
        0
    );
    assert_eq!(
        Store::open_audit(&dir)
            .unwrap()
            .idempotency_seq("rev-0")
            .unwrap(),
        None
    );
}
