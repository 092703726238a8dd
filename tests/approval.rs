//! Two-person approval of emergency money (issue 18) through a running server and
//! the real binary: the bureau's limit on a direct dispatch, an officer's request, an
//! approver's approval answered with two acks (the approval and the dispatch the
//! writer makes from it, `approved_by` the approver's name from the tokens file),
//! `recorded_by` on every new record, the requester unable to approve (even once
//! promoted to approver), the command line unable to approve, a pending request
//! withdrawn by a reversal and an approved one not.

use crate::common;
use crate::wire;

use serde_json::{json, Value};

const LIMIT: &str =
    r#"{"kind":"approval_limit_set","amount":"50000.00","effective_from":"2022-03-01"}"#;

fn dispatch(amount: &str) -> String {
    json!({"kind":"emergency_dispatched","county":"beigang","amount":amount,
           "value_date":"2022-03-15","mode":"grant","reason":"工资发放缺口",
           "approved_by":"li.wei"})
    .to_string()
}

fn request(amount: &str, value_date: &str) -> String {
    json!({"kind":"emergency_requested","county":"beigang","amount":amount,
           "value_date":value_date,"mode":"grant","reason":"工资发放缺口"})
    .to_string()
}

fn approval(seq: u64, on: &str) -> String {
    json!({"kind":"emergency_approved","request_seq":seq,"approved_on":on}).to_string()
}

fn post_event(addr: &str, token: &str, body: &str) -> wire::Resp {
    wire::post(addr, "/v1/events", token, body, &[])
}

#[test]
fn a_limit_a_request_and_another_persons_approval() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    assert_eq!(common::code(&common::run(&dir, &["demo"], "")), 0);
    let tokens = wire::RoleTokens::add(&dir);
    let approver = wire::add_token(&dir, "chen.shen", "approver");
    let mut server = wire::Serve::start(&dir, &[]);
    let addr = server.addr.clone();
    let head = server.head();

    // Only an approver sets the limit; the officer is told so, and nothing is written.
    let r = post_event(&addr, &tokens.officer, LIMIT);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = post_event(&addr, &approver, LIMIT);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(server.head(), head + 1);

    // Above the limit, a direct dispatch is refused naming the amount; at it, accepted.
    let r = post_event(&addr, &tokens.officer, &dispatch("50000.01"));
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "amount", "{}", r.text());
    assert!(r.text().contains("emergency_requested"), "{}", r.text());
    assert_eq!(server.head(), head + 1);
    let r = post_event(&addr, &tokens.officer, &dispatch("50000.00"));
    assert_eq!(r.status, 201, "{}", r.text());

    // The same money through a request and an approval.
    let r = post_event(&addr, &tokens.officer, &request("80000.00", "2022-03-15"));
    assert_eq!(r.status, 201, "{}", r.text());
    let req_seq = r.json()[0]["seq"].as_u64().unwrap();
    // An officer may not approve, nor a scheduler.
    for t in [&tokens.officer, &tokens.scheduler] {
        let r = post_event(&addr, t, &approval(req_seq, "2022-03-16"));
        assert_eq!(r.status, 403, "{}", r.text());
    }
    // The command line cannot approve (it names no user), beside the server or not.
    let o = common::run(&dir, &["append"], &approval(req_seq, "2022-03-16"));
    assert_ne!(common::code(&o), 0, "{}", common::stdout(&o));
    assert_eq!(server.head(), req_seq);

    let r = post_event(&addr, &approver, &approval(req_seq, "2022-03-16"));
    assert_eq!(r.status, 201, "{}", r.text());
    let acks = r.json();
    assert_eq!(acks.as_array().unwrap().len(), 2, "{acks}");
    assert_eq!(acks[0]["seq"], req_seq + 1);
    assert_eq!(acks[1]["seq"], req_seq + 2);
    assert_eq!(server.head(), req_seq + 2);

    let records = wire::all_records(&addr, &tokens.auditor);
    let rec = |seq: u64| records[seq as usize - 1].clone();
    assert_eq!(rec(head + 1)["recorded_by"], "chen.shen");
    assert_eq!(rec(req_seq)["recorded_by"], "li.wei");
    assert_eq!(rec(req_seq + 1)["recorded_by"], "chen.shen");
    assert_eq!(rec(req_seq + 1)["event"]["kind"], "emergency_approved");
    let d = rec(req_seq + 2);
    assert_eq!(d["recorded_by"], "chen.shen");
    assert_eq!(
        d["event"],
        json!({"kind":"emergency_dispatched","county":"beigang","amount":"80000.00",
               "value_date":"2022-03-16","mode":"grant","reason":"工资发放缺口",
               "approved_by":"chen.shen"}),
        "the request's money, moved on the day it was approved, by the approver's name"
    );
    assert_eq!(acks[1]["hash"], d["hash"]);
    // The sample city was loaded by the command line.
    assert_eq!(rec(1)["recorded_by"], "local");

    // Approved once only; an approved request cannot be withdrawn (its dispatch can be
    // reversed instead).
    let r = post_event(&addr, &approver, &approval(req_seq, "2022-03-17"));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("already approved"), "{}", r.text());
    let withdraw = |seq: u64, on: &str| {
        json!({"kind":"event_reversed","reverses_seq":seq,"reason":"撤回申请","on":on}).to_string()
    };
    let r = post_event(&addr, &tokens.officer, &withdraw(req_seq, "2022-03-17"));
    assert_eq!(r.status, 422, "{}", r.text());
    let after = server.head();

    // A pending request is withdrawn by a reversal; then it cannot be approved.
    let r = post_event(&addr, &tokens.officer, &request("70000.00", "2022-03-20"));
    assert_eq!(r.status, 201, "{}", r.text());
    let pending = r.json()[0]["seq"].as_u64().unwrap();
    let r = post_event(&addr, &tokens.officer, &withdraw(pending, "2022-03-20"));
    assert_eq!(r.status, 201, "{}", r.text());
    let r = post_event(&addr, &approver, &approval(pending, "2022-03-21"));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("withdrawn"), "{}", r.text());
    // An approval must name a request.
    let r = post_event(&addr, &approver, &approval(head + 1, "2022-03-21"));
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(server.head(), after + 2);

    // The requester, later made an approver, still cannot approve their own request.
    let r = post_event(&addr, &tokens.officer, &request("60000.00", "2022-03-22"));
    assert_eq!(r.status, 201, "{}", r.text());
    let own = r.json()[0]["seq"].as_u64().unwrap();
    let o = wire::run(&dir, &["token", "remove", "--name", "li.wei"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let promoted = wire::add_token(&dir, "li.wei", "approver");
    let mut answer = None;
    for _ in 0..200 {
        let r = post_event(&addr, &promoted, &approval(own, "2022-03-23"));
        if r.status != 401 {
            answer = Some(r);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let r = answer.expect("the server takes the new token within ten seconds");
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("another user must approve"),
        "{}",
        r.text()
    );
    assert_eq!(server.head(), own);
    // Another approver can.
    let r = post_event(&addr, &approver, &approval(own, "2022-03-23"));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(server.head(), own + 2);

    // A duplicate of an approval (same key) answers both acks again, writing nothing.
    // (li.wei is an approver now: another officer asks.)
    let officer = wire::add_token(&dir, "zhao.gang", "officer");
    let r = post_event(&addr, &officer, &request("1000.00", "2022-03-24"));
    assert_eq!(r.status, 201, "{}", r.text());
    let small = r.json()[0]["seq"].as_u64().unwrap();
    let key = [("Idempotency-Key", "approve-small")];
    let first = wire::post(
        &addr,
        "/v1/events",
        &approver,
        &approval(small, "2022-03-24"),
        &key,
    );
    assert_eq!(first.status, 201, "{}", first.text());
    let again = wire::post(
        &addr,
        "/v1/events",
        &approver,
        &approval(small, "2022-03-24"),
        &key,
    );
    assert_eq!(
        again.status,
        201,
        "as every append (SPEC §7): {}",
        again.text()
    );
    let (a, b) = (first.json(), again.json());
    assert_eq!(b.as_array().unwrap().len(), 2, "{b}");
    for i in 0..2 {
        assert_eq!(a[i]["seq"], b[i]["seq"]);
        assert_eq!(a[i]["hash"], b[i]["hash"]);
        assert_eq!(b[i]["duplicate"], true);
    }
    assert_eq!(server.head(), small + 2);
    server.terminate();

    // The whole log verifies, and the chain holds with recorded_by in it.
    let o = common::run(&dir, &["verify"], "");
    assert_eq!(common::code(&o), 0, "{}", common::stderr(&o));
    let records: Vec<Value> = common::export(&dir);
    assert_eq!(records.len() as u64, small + 2);
}

#[test]
fn without_a_limit_a_direct_dispatch_of_any_size_is_accepted_as_in_v1() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert_eq!(common::code(&common::run(dir, &["demo"], "")), 0);
    let ack = common::append_ok(dir, &serde_json::from_str(&dispatch("900000.00")).unwrap());
    let seq = ack[0]["seq"].as_u64().unwrap();
    let r = &common::export(dir)[seq as usize - 1];
    // The command line records as `local`.
    assert_eq!(r["recorded_by"], "local");
    // A limit of zero: every emergency dispatch needs two persons.
    common::append_ok(
        dir,
        &json!({"kind":"approval_limit_set","amount":"0.00","effective_from":"2022-03-01"}),
    );
    let o = common::run(dir, &["append"], &dispatch("0.01"));
    assert_eq!(common::code(&o), 3, "{}", common::stderr(&o));
    // A later setting replaces it from its date; a negative limit is refused.
    common::append_ok(
        dir,
        &json!({"kind":"approval_limit_set","amount":"10.00","effective_from":"2022-03-10"}),
    );
    common::append_ok(dir, &serde_json::from_str(&dispatch("10.00")).unwrap());
    let o = common::run(dir, &["append"], &dispatch("10.01"));
    assert_eq!(common::code(&o), 3, "{}", common::stderr(&o));
    let head = common::export(dir).len();
    let o = common::run(
        dir,
        &["append"],
        r#"{"kind":"approval_limit_set","amount":"-1.00","effective_from":"2022-04-01"}"#,
    );
    assert_eq!(
        common::code(&o),
        3,
        "a negative limit: {}",
        common::stderr(&o)
    );
    assert_eq!(common::export(dir).len(), head, "nothing written");
}
