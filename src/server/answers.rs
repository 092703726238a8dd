//! The answers of the service that no query computes — health, readiness, the chain's
//! verdict, a refusal, a page of records, the body of an issue request — as types.
//! The routes serialize these (or, for a page of records, write exactly their shape
//! by hand), and [`super::openapi`] derives the document's schemas from them, so a
//! member added here is documented by construction.
//!
//! Guarantee: each type serializes to the SPEC §7 shape its route has always
//! answered, member for member and in the same order (sorted, as `serde_json` wrote
//! the `json!` objects these replace).

use crate::replay::ReplayReport;
use crate::schema::out::{const_false, const_true, EventRef, Nullable};
use crate::values::{Date, Sha256Hex};
use schemars::JsonSchema;
use serde::Serialize;

/// The one value of `Health.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Up {
    /// The service answers.
    Ok,
}

/// `GET /healthz`: the service is up (liveness).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Health {
    /// The last durable record's seq (0 for an empty log).
    pub head_seq: u64,
    /// Always `ok`.
    pub status: Up,
}

/// The one value of `Ready.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    /// The log verified at start, the writer runs, the service is not stopping.
    Ready,
}

/// `GET /readyz` 200: ready to take appends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Ready {
    /// The last durable record's seq.
    pub head_seq: u64,
    /// Always `ready`.
    pub status: ReadyStatus,
}

/// The one value of `NotReady.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotReadyStatus {
    /// Stopping, or the writer stopped writing.
    NotReady,
}

/// `GET /readyz` 503: not ready, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct NotReady {
    /// Why, in words for an operator.
    pub reason: String,
    /// Always `not_ready`.
    pub status: NotReadyStatus,
}

/// Every record checks (`verify`, SPEC §5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ChainOk {
    /// The last record's hash (64 zeros for an empty log).
    pub head_hash: Sha256Hex,
    /// Always `true`.
    #[schemars(schema_with = "const_true")]
    pub ok: bool,
    /// How many records were checked.
    pub records: u64,
}

/// The chain breaks (`verify` and `replay`, SPEC §5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ChainBroken {
    /// The first record that does not check.
    #[schemars(range(min = 1))]
    pub first_bad_seq: u64,
    /// Always `false`.
    #[schemars(schema_with = "const_false")]
    pub ok: bool,
    /// What is wrong with it.
    pub reason: String,
}

impl ChainBroken {
    /// The verdict on a chain broken at `first_bad_seq`.
    pub fn new(first_bad_seq: u64, reason: String) -> ChainBroken {
        ChainBroken {
            first_bad_seq,
            ok: false,
            reason,
        }
    }
}

/// `GET /v1/verify`: the verdict on every durable record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Verify {
    /// Every record checks.
    Ok(ChainOk),
    /// The chain breaks.
    Broken(ChainBroken),
}

/// `GET /v1/replay`: the state rebuilt from the log alone, or where its chain breaks.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Replay {
    /// The chain holds up to `at_seq`: SPEC §5's replay object.
    Done(Box<ReplayReport>),
    /// The chain breaks at or before `at_seq`.
    Broken(ChainBroken),
}

/// What a refusal says (SPEC §7), inside [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ErrorDetail<'a> {
    /// malformed_json, bad_request, unauthorized, forbidden, not_found,
    /// method_not_allowed, request_timeout, conflict, too_large,
    /// unsupported_media_type, invalid_event, unavailable.
    pub code: &'a str,
    /// The field, query parameter or header to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    /// 0-based index of the event to blame in its batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// What is wrong, in words for a person, on one line.
    pub message: String,
}

/// Every refusal's body: `{"error": {…}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody<'a> {
    /// What was refused and why.
    pub error: ErrorDetail<'a>,
}

/// One log record as the service answers it (SPEC §4). Records are written by hand
/// for speed ([`crate::record::Record::to_json_line`]); this type is their shape.
#[derive(JsonSchema)]
#[schemars(rename = "Record")]
#[allow(dead_code)]
pub struct RecordAnswer {
    /// The normalized event.
    event: EventRef,
    /// SHA-256 of the canonical JSON of the record without `hash`.
    hash: Sha256Hex,
    /// `null` or the event's key (1 to 128 printable ASCII characters).
    #[schemars(with = "Nullable<String>", length(min = 1, max = 128))]
    idempotency_key: Option<String>,
    /// The previous record's hash; 64 zeros for seq 1.
    prev_hash: Sha256Hex,
    /// UTC, RFC 3339 with exactly six fractional digits and `Z`.
    #[schemars(regex(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$"
    ))]
    recorded_at: String,
    /// Contract v2: the user who appended the record (a tokens-file user, or `local`
    /// for the command line); absent in records written before it, never null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", length(min = 1, max = 64))]
    recorded_by: Option<String>,
    /// 1, 2, 3, … contiguous.
    #[schemars(range(min = 1))]
    seq: u64,
}

/// `GET /v1/events`: a page of records. Written by hand (records are appended as
/// text, never parsed back); this type is its shape.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct EventsPage {
    /// Records `from` ..= at most `from + limit − 1`, in seq order.
    records: Vec<RecordAnswer>,
    /// The `from` of the next page; `null` when this page reaches the head.
    #[schemars(with = "Nullable<u64>", range(min = 1))]
    next: Option<u64>,
}

/// The body of `POST /v1/plans/{month}/issue`. The route reads these members into a
/// `plan_issued` event (so a refusal names the event's own fields); this type is
/// their shape.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct IssueRequest {
    /// The plan's `based_on_seq` (`GET /v1/plans/{month}`).
    based_on_seq: u64,
    /// The plan's `plan_sha256`.
    plan_sha256: Sha256Hex,
    /// The day of issue; absent or `null` is today (UTC).
    issued_on: Option<Date>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    /// Serialized straight, `v` writes its members sorted, as `serde_json`'s map wrote
    /// the `json!` objects these types replace (so the bytes did not change).
    fn sorted<T: Serialize>(v: &T) {
        let direct = serde_json::to_string(v).unwrap();
        let via_map = serde_json::to_value(v).unwrap().to_string();
        assert_eq!(direct, via_map);
    }

    #[test]
    fn every_answer_writes_its_members_in_sorted_order() {
        sorted(&Health {
            head_seq: 3,
            status: Up::Ok,
        });
        sorted(&Ready {
            head_seq: 3,
            status: ReadyStatus::Ready,
        });
        sorted(&NotReady {
            reason: "stopping".into(),
            status: NotReadyStatus::NotReady,
        });
        sorted(&Verify::Ok(ChainOk {
            head_hash: Sha256Hex([7; 32]),
            ok: true,
            records: 2,
        }));
        sorted(&Verify::Broken(ChainBroken::new(2, "bad hash".into())));
        sorted(&ErrorBody {
            error: ErrorDetail {
                code: "invalid_event",
                field: Some("amount"),
                index: Some(1),
                message: "too much".into(),
            },
        });
    }
}

/// The body of `POST /v1/plans/{month}/execute` (issue 18): both members optional; the
/// body may be `{}`. This type is its shape.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ExecuteRequest {
    /// value_date of the transfers; absent or `null` is the first day of the month.
    value_date: Option<Date>,
    /// `true`: answer the events that would be appended and write nothing.
    dry_run: Option<bool>,
}

/// `POST /v1/plans/{month}/execute` when it writes nothing (200): what a dry run
/// would append, or that every transfer of the plan is already recorded. (When it
/// appends, it answers 201 with the acknowledgements, as every append does.)
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ExecuteAnswer {
    /// The plan month.
    pub month: crate::values::Month,
    /// The seq of the `plan_issued` record executed.
    pub plan_seq: u64,
    /// The plan's lines with funded > 0.
    pub funded_lines: u64,
    /// Lines whose transfer was already in the log (left out).
    pub already_recorded: u64,
    /// Whether this was a dry run (else nothing was missing).
    pub dry_run: bool,
    /// The transfers that would be appended, each with its `idempotency_key`, in the
    /// plan's line order (empty when nothing is missing).
    pub events: Vec<serde_json::Value>,
}

/// One line of a dry run (`append --dry-run`, `POST /v1/events?dry_run=true`,
/// issue 18): what the append would answer for one record — its seq, its hash as if
/// recorded at `recorded_at`, whether it is already recorded — with nothing written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DryRunAck {
    /// Always `true`: nothing was written.
    #[schemars(schema_with = "const_true")]
    pub dry_run: bool,
    /// True when the event is already recorded under its idempotency key (the
    /// existing record's seq and hash).
    pub duplicate: bool,
    /// The hash the record would get if recorded at `recorded_at` (the hash covers
    /// the time of recording: a real append a moment later gets another hash, the
    /// same seq).
    pub hash: Sha256Hex,
    /// The time of recording the hash was computed with (absent for a duplicate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<String>,
    /// The seq the record would get (or has, for a duplicate).
    pub seq: u64,
    /// The warnings the append would answer (issue 19: `other` spending of a watched
    /// county); absent when none, as in an ack.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::log::AckWarning>,
}

impl DryRunAck {
    /// The lines of a writer's dry run, in order.
    pub fn of(d: &crate::log::writer::DryRun) -> Vec<DryRunAck> {
        d.acks
            .iter()
            .map(|a| DryRunAck {
                dry_run: true,
                duplicate: a.duplicate,
                hash: a.hash,
                recorded_at: (!a.duplicate)
                    .then_some(d.recorded_at_us)
                    .flatten()
                    .map(crate::record::format_recorded_at),
                seq: a.seq,
                warnings: a.warnings.clone(),
            })
            .collect()
    }
}
