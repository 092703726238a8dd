//! Hostile input through HTTP, against the real binary: oversized bodies (declared,
//! sent whole, or streamed in chunks without a length), deep nesting, huge numbers,
//! invalid UTF-8 (raw bytes, overlong forms, lone surrogate escapes), control
//! characters, header floods. Each gets a 4xx (never a 5xx), nothing is written, the
//! service keeps answering, and its peak memory stays bounded.

use crate::wire;

use serde_json::json;
use std::io::{Read, Write};
use wire::*;

fn post_raw(addr: &str, token: &str, body: &[u8]) -> Resp {
    request(
        addr,
        "POST",
        "/v1/events",
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/json"),
        ],
        Some(body),
    )
}

/// Posts a large body, tolerating the server answering (413) and closing before it
/// has all been sent: `None` when the connection was reset before any answer.
fn post_big(addr: &str, token: &str, body: &[u8]) -> Option<Resp> {
    let raw = request_bytes(
        "POST",
        "/v1/events",
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/json"),
        ],
        Some(body),
    );
    let mut s = connect(addr).unwrap();
    let _ = s.write_all(&raw);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_response(&buf).ok()
}

/// Sends the body in chunks of `chunk` bytes (`Transfer-Encoding: chunked`, no length);
/// answers the response, or `None` if the server closed before answering.
fn post_chunked(addr: &str, token: &str, total: usize, chunk: usize) -> Option<Resp> {
    let mut s = connect(addr).unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    let piece = vec![b' '; chunk];
    let mut sent = 0;
    while sent < total {
        let n = chunk.min(total - sent);
        let framed = [format!("{n:x}\r\n").as_bytes(), &piece[..n], b"\r\n"].concat();
        if s.write_all(&framed).is_err() {
            break; // the server stopped reading: it has answered already
        }
        sent += n;
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_response(&buf).ok()
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn oversized_deep_huge_and_ill_encoded_input_gets_4xx_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let officer = add_token(&dir, "li.wei", "officer");
    let s = Serve::start(&dir, &[]);
    let reg =
        json!({"kind":"county_registered","county":"a","name":"甲县","registered_on":"2021-01-01"});
    assert_eq!(
        post_raw(&s.addr, &officer, reg.to_string().as_bytes()).status,
        201
    );
    let head = s.head();
    let mut tried = 0;
    let mut check = |what: &str, r: Option<Resp>, allowed: &[u16]| {
        tried += 1;
        if let Some(r) = r {
            assert!(
                allowed.contains(&r.status),
                "{what}: {} {}",
                r.status,
                r.text()
            );
            // 414 and 431 come from the HTTP layer itself, before any route: no body.
            if ![414, 431].contains(&r.status) {
                let v = r.json();
                assert!(v["error"]["code"].is_string(), "{what}: {v}");
            }
        }
        assert_eq!(s.head(), head, "{what} wrote something");
    };

    // Oversized: declared, sent whole, streamed in chunks with no length.
    let big = vec![b' '; (1 << 20) + 1];
    check(
        "1 MiB + 1 sent whole",
        post_big(&s.addr, &officer, &big),
        &[413],
    );
    let mut array = b"[".to_vec();
    while array.len() < (1 << 20) + 100 {
        array.extend_from_slice(reg.to_string().as_bytes());
        array.push(b',');
    }
    array.pop();
    array.push(b']');
    check(
        "an array over 1 MiB",
        post_big(&s.addr, &officer, &array),
        &[413],
    );
    check(
        "8 MiB chunked",
        post_chunked(&s.addr, &officer, 8 << 20, 64 << 10),
        &[413],
    );
    check(
        "1 MiB + 1 in 1-byte chunks",
        post_chunked(&s.addr, &officer, (1 << 20) + 1, 4096),
        &[413],
    );
    let declared = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {officer}\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n"
    );
    check(
        "a declared 100 GB",
        exchange(&s.addr, declared.as_bytes()).ok(),
        &[413],
    );

    // Deep nesting, in arrays, objects, and inside an event's field.
    for (name, body) in [
        (
            "arrays 100k deep",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        ),
        (
            "objects 50k deep",
            format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000)),
        ),
        (
            "a schedule 10k deep",
            format!(
                r#"{{"kind":"allocation_notified","county":"a","fund":"pre_notified","fiscal_year":2021,"program":"p","amount":"1","notified_on":"2021-01-02","schedule":{}{}}}"#,
                "[".repeat(10_000),
                "]".repeat(10_000)
            ),
        ),
    ] {
        check(
            name,
            Some(post_raw(&s.addr, &officer, body.as_bytes())),
            &[400, 422],
        );
    }

    // Huge numbers, wherever a number may or may not stand.
    for n in [
        "1e400",
        "-1e400",
        "123456789012345678901234567890",
        "1.7976931348623157e309",
        "-0",
        "1e-400",
    ] {
        for body in [
            format!(
                r#"{{"kind":"event_reversed","reverses_seq":{n},"reason":"x","on":"2021-01-01"}}"#
            ),
            format!(
                r#"{{"kind":"allocation_notified","county":"a","fund":"general","fiscal_year":{n},"program":"p","amount":"1","notified_on":"2021-01-02"}}"#
            ),
            format!(
                r#"{{"kind":"revenue_collected","county":"a","amount":{n},"collected_on":"2021-01-02"}}"#
            ),
            format!(
                r#"{{"kind":"revenue_collected","county":"a","amount":"{n}","collected_on":"2021-01-02"}}"#
            ),
        ] {
            check(
                &body,
                Some(post_raw(&s.addr, &officer, body.as_bytes())),
                &[400, 422],
            );
        }
    }
    let long_amount = format!(
        r#"{{"kind":"revenue_collected","county":"a","amount":"{}","collected_on":"2021-01-02"}}"#,
        "9".repeat(500_000)
    );
    check(
        "a 500k-digit amount",
        Some(post_raw(&s.addr, &officer, long_amount.as_bytes())),
        &[422],
    );

    // Invalid UTF-8 and escapes that name no character.
    let ev = |name: &[u8]| {
        [
            &br#"{"kind":"county_registered","county":"b","name":""#[..],
            name,
            br#"","registered_on":"2021-01-01"}"#,
        ]
        .concat()
    };
    for (what, name) in [
        ("a raw 0xff", &b"\xff"[..]),
        ("a truncated sequence", b"\xe4\xb8"),
        ("an overlong slash", b"\xc0\xaf"),
        ("an encoded surrogate", b"\xed\xa0\x80"),
        ("a code point past U+10FFFF", b"\xf4\x90\x80\x80"),
    ] {
        check(what, Some(post_raw(&s.addr, &officer, &ev(name))), &[400]);
    }
    for (what, name) in [
        ("a lone high surrogate escape", &br"\ud800"[..]),
        ("a lone low surrogate escape", br"\udfff"),
        ("a NUL escape", br"\u0000"),
        ("a raw control character", b"\x01"),
    ] {
        check(
            what,
            Some(post_raw(&s.addr, &officer, &ev(name))),
            &[400, 422],
        );
    }
    check(
        "a UTF-16 body",
        Some(post_raw(&s.addr, &officer, &[0xfe, 0xff, 0, b'{', 0, b'}'])),
        &[400],
    );
    check(
        "a BOM",
        Some(post_raw(
            &s.addr,
            &officer,
            &[b"\xef\xbb\xbf".as_ref(), reg.to_string().as_bytes()].concat(),
        )),
        &[400],
    );

    // Header floods: too many, too large; a path with NUL and broken escapes.
    let mut many = String::from("GET /v1/monitor HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for i in 0..500 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    check(
        "500 headers",
        exchange(&s.addr, many.as_bytes()).ok(),
        &[400, 431],
    );
    let huge = format!(
        "GET /v1/monitor HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    check(
        "a 1 MiB header",
        exchange(&s.addr, huge.as_bytes()).ok(),
        &[400, 431],
    );
    let long_uri = format!(
        "GET /v1/positions?county={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(200_000)
    );
    check(
        "a 200 kB URI",
        exchange(&s.addr, long_uri.as_bytes()).ok(),
        &[400, 401, 414, 431],
    );
    check(
        "a NUL in the path",
        exchange(
            &s.addr,
            b"GET /v1/%00%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .ok(),
        &[400, 404],
    );

    // Many large uploads at once: memory stays bounded.
    let uploads: Vec<_> = (0..16)
        .map(|_| {
            let (addr, t) = (s.addr.clone(), officer.clone());
            std::thread::spawn(move || post_chunked(&addr, &t, 4 << 20, 64 << 10).map(|r| r.status))
        })
        .collect();
    for u in uploads {
        if let Some(st) = u.join().unwrap() {
            assert_eq!(st, 413);
        }
    }
    assert_eq!(s.head(), head);
    assert_eq!(get(&s.addr, "/healthz", "").status, 200, "still serving");
    let hwm = vm_hwm_kib(s.child.id());
    if let Some(kib) = hwm {
        assert!(kib < 512 * 1024, "peak memory {kib} KiB");
    }
    println!("hostile http: {tried} hostile requests refused, nothing written; serve peak RSS {hwm:?} KiB");
}
