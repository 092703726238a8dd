//! 审计核验: the auditor's page — the log's head (seq and hash), the hash chain
//! verified on request (`?verify=1`), a replay at a seq (`?at_seq=N`: the state
//! rebuilt from the log alone, each issued plan recomputed and compared), and the
//! whole log downloaded as JSON Lines ([`export`]).
//!
//! Guarantees:
//! - **the API's answers, not a second computation**: verify is
//!   [`crate::log::verify`] up to the durable head (what `/v1/verify` runs), the
//!   replay is [`crate::replay::replay`] through [`crate::report::build::replay`]
//!   (what `/v1/replay` answers and renders), the export is the very bytes
//!   `sanbao export` writes (each record's [`crate::record::Record::to_json_line`]
//!   and a newline, seq 1 to the head);
//! - **nothing heavy unless asked**: the page alone reads only the head from the
//!   state; it verifies only with `?verify=1`, replays only with `?at_seq`; every read
//!   of the log runs off the async threads;
//! - **the export is streamed**: records are read from the store a chunk at a time
//!   ([`EXPORT_CHUNK_RECORDS`]) as the client drains the answer — never the whole log
//!   in memory; a record that cannot be read ends the download with an error (the
//!   file is then visibly incomplete: no final chunk), never a silent truncation;
//! - **no 5xx for bad input**: a malformed at-seq or one past the head gives the page
//!   with the reason in the reader's language (400).

use super::form::Msg;
use super::page::{self, flash, Nav};
use super::Shared;
use super::{html, signed_in, App, Cx};
use crate::lang::{Lang, Unit};
use crate::log::Verified;
use crate::replay::{self, Replayed};
use crate::report::build::{self, Ctx};
use crate::report::html as rhtml;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use maud::{html as markup, Markup};

/// Records read from the store for one piece of the export download.
pub const EXPORT_CHUNK_RECORDS: u64 = 1024;

/// What the verify button found.
enum Checked {
    Ok { records: u64, head_hash: String },
    Bad { first_bad_seq: u64, reason: String },
}

/// What a replay found: the report's markup, or where the chain breaks.
enum Replay {
    Done {
        at_seq: u64,
        head_hash: String,
        body: Markup,
    },
    Broken {
        first_bad_seq: u64,
        reason: String,
    },
}

fn verify_block(cx: &Cx, checked: Option<&Checked>) -> Markup {
    let t = |zh, en| cx.t(zh, en);
    markup! {
        section #verify {
            h2 { (t("校验哈希链", "Verify the hash chain")) }
            p { (t("逐条核对全部记录的记录号连续性、每条记录的哈希及前后链接（与 sanbao verify、/v1/verify 相同）。日志较大时需要一些时间。",
                   "Checks every record: contiguous seqs, each hash and the chain (as sanbao verify and /v1/verify do). A large log takes a while.")) }
            form.picker method="get" action="/desk/audit" {
                input type="hidden" name="verify" value="1";
                button #verify-button type="submit" { (t("校验", "Verify")) }
            }
            @match checked {
                None => {}
                Some(Checked::Ok { records, head_hash }) => {
                    div #verify-result data-ok="true" data-records=(records) data-head-hash=(head_hash) {
                        (flash("good", &match cx.lang {
                            Lang::Zh => format!("哈希链完整：已校验 {records} 条记录，全部无误。"),
                            Lang::En => format!("The chain holds: {records} records verified."),
                        }))
                        dl.meta {
                            div { dt { (t("已校验记录数", "records")) } dd { (records) } }
                            div { dt { (t("末条记录哈希", "head hash")) } dd.hash { (head_hash) } }
                        }
                    }
                }
                Some(Checked::Bad { first_bad_seq, reason }) => {
                    div #verify-result data-ok="false" data-first-bad-seq=(first_bad_seq) {
                        (flash("bad", &match cx.lang {
                            Lang::Zh => format!("哈希链断裂：第一条有问题的记录号为 {first_bad_seq}。原因：{reason}"),
                            Lang::En => format!("The chain breaks at seq {first_bad_seq}: {reason}"),
                        }))
                    }
                }
            }
        }
    }
}

fn replay_block(
    cx: &Cx,
    at_seq: Option<&str>,
    head: u64,
    found: Option<&Replay>,
    problem: Option<&Msg>,
) -> Markup {
    let t = |zh, en| cx.t(zh, en);
    markup! {
        section #replay {
            h2 { (t("回放", "Replay")) }
            p { (t("仅依据日志重建截至某一记录号的状态，并对其中每份已签发的调度计划重新计算、核对 plan_sha256（计划复现）。",
                   "Rebuilds the state at a seq from the log alone and recomputes every plan issued by then, comparing its plan_sha256.")) }
            form.picker method="get" action="/desk/audit" {
                label { (t("截至记录号", "At seq")) " "
                    input type="number" min="0" max=(head) name="at_seq" value=[at_seq] placeholder=(head) required;
                }
                button #replay-button type="submit" { (t("回放", "Replay")) }
            }
            @if let Some(m) = problem { (flash("bad", cx.say(m))) }
            @match found {
                None => {}
                Some(Replay::Done { at_seq, head_hash, body }) => {
                    div #replay-result data-at-seq=(at_seq) data-head-hash=(head_hash) {
                        dl.meta {
                            div { dt { (t("截至记录号", "at seq")) } dd { (at_seq) } }
                            div { dt { (t("该记录哈希", "hash at that seq")) } dd.hash { (head_hash) } }
                        }
                        (body)
                    }
                }
                Some(Replay::Broken { first_bad_seq, reason }) => {
                    div #replay-result data-ok="false" data-first-bad-seq=(first_bad_seq) {
                        (flash("bad", &match cx.lang {
                            Lang::Zh => format!("回放中止：哈希链在记录号 {first_bad_seq} 处断裂。原因：{reason}"),
                            Lang::En => format!("Replay stopped: the chain breaks at seq {first_bad_seq}: {reason}"),
                        }))
                    }
                }
            }
        }
    }
}

fn export_block(cx: &Cx, head: u64) -> Markup {
    let t = |zh, en| cx.t(zh, en);
    markup! {
        section #export {
            h2 { (t("导出日志", "Export the log")) }
            p {
                @match cx.lang {
                    Lang::Zh => { "下载全部 " (head) " 条记录（JSON Lines，每行一条记录，与 sanbao export 的输出逐字节相同），可用自己的脚本独立核验哈希链。" }
                    Lang::En => { "Download all " (head) " records (JSON Lines, one record a line, byte for byte what sanbao export writes) to check the chain with your own script." }
                }
            }
            p { a.button #export-link href="/desk/audit/export" download=(format!("sanbao-export-{head}.jsonl")) { (t("导出日志", "Download")) } }
        }
    }
}

/// `GET /desk/audit[?verify=1][&at_seq=N]` (any signed-in role; meant for auditors).
pub async fn page(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    let cx = match signed_in(&app, &headers, &uri) {
        Ok(cx) => cx,
        Err(r) => return r,
    };
    let title = cx.t("审计核验", "Audit");
    let q = super::query(&uri);
    let (head, head_hash) = {
        let st = app.state();
        (st.head_seq, st.head_hash.to_hex())
    };
    let want_verify = q.get("verify").is_some_and(|v| v != "0");
    let mut problem: Option<Msg> = None;
    let at_seq = match q.u64("at_seq") {
        Ok(Some(n)) if n > head => {
            problem = Some(Msg::new(
                format!("记录号 {n} 超出日志末条记录（seq {head}），请填 0 至 {head}"),
                format!("at-seq {n} is past the log's head (seq {head}); use 0 to {head}"),
            ));
            None
        }
        Ok(v) => v,
        Err(m) => {
            problem = Some(Msg::new(
                format!("截至记录号：{}", m.zh),
                format!("at seq: {}", m.en),
            ));
            None
        }
    };
    let mut status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut checked = None;
    let mut replayed = None;
    if want_verify || at_seq.is_some() {
        let a = app.clone();
        let lang = cx.lang;
        let work = tokio::task::spawn_blocking(move || {
            let checked = if want_verify {
                Some(match crate::log::verify(a.store(), Some(head), |_| {})? {
                    Verified::Ok { records, head_hash } => Checked::Ok {
                        records,
                        head_hash: head_hash.to_hex(),
                    },
                    Verified::Bad {
                        first_bad_seq,
                        reason,
                    } => Checked::Bad {
                        first_bad_seq,
                        reason,
                    },
                })
            } else {
                None
            };
            let replayed = match at_seq {
                None => None,
                Some(n) => Some(match replay::replay(a.store(), n, None, |_| {})? {
                    Replayed::Done { report, state } => {
                        let r = build::replay(&report, &Ctx::of(&state, lang, Unit::Yuan));
                        let link = |id: &str| super::overview::county_href(id);
                        let rest: Vec<&str> = build::REPLAY_SECTIONS
                            .iter()
                            .copied()
                            .filter(|k| *k != "plans")
                            .collect();
                        let body = markup! {
                            (rhtml::notes(&r))
                            (rhtml::sections(&r, Some(&["plans"]), None))
                            details #replay-more {
                                summary { (lang.pick("回放结果的其他部分（库款、监测）", "the rest of the replay (positions, monitor)")) }
                                (rhtml::meta(&r))
                                (rhtml::sections(&r, Some(&rest), Some(&link)))
                            }
                        };
                        Replay::Done {
                            at_seq: report.at_seq,
                            head_hash: report.head_hash.to_hex(),
                            body,
                        }
                    }
                    Replayed::Broken {
                        first_bad_seq,
                        reason,
                    } => Replay::Broken {
                        first_bad_seq,
                        reason,
                    },
                }),
            };
            Ok::<_, crate::log::StoreError>((checked, replayed))
        })
        .await;
        match work {
            Ok(Ok((c, r))) => {
                checked = c;
                replayed = r;
            }
            Ok(Err(e)) => {
                status = StatusCode::SERVICE_UNAVAILABLE;
                problem = Some(Msg::new(
                    format!("读取日志失败：{e}"),
                    format!("cannot read the log: {e}"),
                ));
            }
            Err(_) => {
                status = StatusCode::SERVICE_UNAVAILABLE;
                problem = Some(Msg::new("查询未能完成", "the query could not be completed"));
            }
        }
    }
    let t = |zh, en| cx.t(zh, en);
    let body = markup! {
        div.stats #head {
            div.stat { div.k { (t("日志末条记录号", "log head seq")) } div.v #head-seq data-head-seq=(head) { (head) } }
            div.stat { div.k { (t("末条记录哈希", "head hash")) } div.hash #head-hash data-head-hash=(head_hash) { (head_hash) } }
        }
        (verify_block(&cx, checked.as_ref()))
        (replay_block(&cx, q.get("at_seq"), head, replayed.as_ref(), problem.as_ref()))
        (export_block(&cx, head))
    };
    html(status, page::page(&cx, Nav::Audit, title, body))
}

/// One piece of the export: records `from..=to` as JSON Lines (blocking).
fn export_chunk(store: &crate::log::Store, from: u64, to: u64) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(((to - from + 1) as usize) * 400);
    for r in store.records(from, to) {
        let r = r.map_err(|e| e.to_string())?;
        buf.extend_from_slice(r.to_json_line().as_bytes());
        buf.push(b'\n');
    }
    Ok(buf)
}

/// `GET /desk/audit/export`: the log, seq 1 to the durable head when asked, as JSON
/// Lines exactly as `sanbao export` writes it (`application/x-ndjson`, an attachment
/// `sanbao-export-<head>.jsonl`), streamed a chunk at a time.
pub async fn export(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    if let Err(r) = signed_in(&app, &headers, &uri) {
        return r;
    }
    let head = app.durable_head();
    let store = app.store().clone();
    let pieces = futures_util::stream::unfold(Some(1u64), move |next| {
        let store = store.clone();
        async move {
            let from = next?;
            if from > head {
                return None;
            }
            let to = head.min(from.saturating_add(EXPORT_CHUNK_RECORDS - 1));
            let read = tokio::task::spawn_blocking(move || export_chunk(&store, from, to)).await;
            match read {
                Ok(Ok(buf)) => Some((Ok(Bytes::from(buf)), Some(to + 1))),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "desk export: a record could not be read");
                    Some((Err(std::io::Error::other(e)), None))
                }
                Err(_) => Some((
                    Err(std::io::Error::other("the export could not be completed")),
                    None,
                )),
            }
        }
    });
    let mut r = Response::new(Body::from_stream(pieces));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"sanbao-export-{head}.jsonl\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}
