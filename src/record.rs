//! A log record (SPEC §4): the event with its seq, time of recording, idempotency key
//! and place in the SHA-256 hash chain; its JSON form, its hash, and its binary form.
//!
//! Guarantees:
//! - [`Record::compute_hash`] is SHA-256 over the canonical JSON of the record without
//!   its `hash` member, exactly as an auditor's own script computes it. It is computed
//!   in two steps: [`HashPrefix`] (everything the event and its idempotency key decide,
//!   which is most of the text) and [`HashPrefix::finish`] (the chain's part), so the
//!   first step can run on the caller's thread before the writer gives the record its
//!   place in the chain.
//! - `recorded_by` (contract v2: the user who appended the record) is a member of the
//!   hashed text only when present, between `recorded_at` and `seq`, so every record
//!   written before it keeps its hash and an auditor's script needs no change.
//! - Four stored forms, each behind its own format-version byte; any other version
//!   byte is refused, never guessed at. Formats 1 and 2 are what logs written before
//!   contract v2 hold, read with the event codec of that time
//!   ([`crate::event::legacy`]); 3 and 4 are what is written now:
//!   - [`FORMAT_V1`], self-contained: bincode 1.3 of the whole record (fixed-int,
//!     little-endian: bincode's `serialize` defaults, pinned by the crate version);
//!   - [`FORMAT_V2`], compact, for records inside a block: the hash (32 bytes), then
//!     `recorded_at` (i64 little-endian), then bincode 1.3 with variable-width integers
//!     of the idempotency key and the event. It leaves out `seq` and `prev_hash`, which
//!     the record's place gives ([`Record::decode_at`]): its block's key and the block's
//!     stored `prev_hash` for its first record, the stored hash of the record before it
//!     for the others. Both are still covered by the stored hash, so a record read at
//!     the wrong place, or after a changed predecessor, fails its hash check;
//!   - [`FORMAT_V3`], compact as format 2, with `recorded_by` after the idempotency
//!     key and the event in today's codec: what blocks are given now;
//!   - [`FORMAT_V4`], self-contained as format 1, of today's record.

use crate::event::{Event, EventError};
use crate::values::Sha256Hex;
use bincode::Options;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The version byte of the self-contained stored form ([`Record::encode`]).
pub const FORMAT_V1: u8 = 1;

/// The version byte of the compact stored form of logs written before contract v2.
pub const FORMAT_V2: u8 = 2;

/// The version byte of the compact stored form ([`Record::encode_compact_into`]).
pub const FORMAT_V3: u8 = 3;

/// The version byte of the self-contained stored form ([`Record::encode`]).
pub const FORMAT_V4: u8 = 4;

/// Bytes of the compact form before its bincode part: version, hash, `recorded_at`.
const COMPACT_HEAD: usize = 1 + 32 + 8;

/// The pinned bincode configuration of the compact form's tail: variable-width
/// integers (an amount's i128 cents take a few bytes, not 16), little-endian, no
/// trailing bytes.
fn compact_codec() -> impl Options {
    bincode::options()
        .with_varint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
}

/// The compact form's bincode part, as written (format 3).
#[derive(Serialize)]
struct CompactRef<'a> {
    idempotency_key: &'a Option<String>,
    recorded_by: &'a Option<String>,
    event: &'a Event,
}

/// The compact form's bincode part, as read (format 3).
#[derive(Deserialize)]
struct CompactOwned {
    idempotency_key: Option<String>,
    recorded_by: Option<String>,
    event: Event,
}

/// Format 2's bincode part, as read.
#[derive(Deserialize)]
struct CompactV2 {
    idempotency_key: Option<String>,
    event: crate::event::legacy::Legacy,
}

/// A record as format 1 holds it (before `recorded_by`, events in the old codec).
#[derive(Serialize, Deserialize)]
struct RecordV1 {
    seq: u64,
    recorded_at_us: i64,
    idempotency_key: Option<String>,
    prev_hash: Sha256Hex,
    hash: Sha256Hex,
    event: crate::event::legacy::Legacy,
}

/// The pinned bincode configuration of format 1: fixed-width little-endian integers
/// (bincode 1.3's legacy defaults, spelled out), no trailing bytes.
fn codec() -> impl Options {
    bincode::options()
        .with_fixint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
}

/// The `prev_hash` of seq 1: 64 zeros.
pub const GENESIS: Sha256Hex = Sha256Hex([0u8; 32]);

/// One record of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// 1, 2, 3, … contiguous.
    pub seq: u64,
    /// Microseconds since the Unix epoch, UTC; never decreases as seq grows.
    pub recorded_at_us: i64,
    /// The event's idempotency key, if any.
    pub idempotency_key: Option<String>,
    /// The user who appended the record (contract v2): a tokens-file user's name, or
    /// `local` for the command line; absent in records written before it.
    pub recorded_by: Option<String>,
    /// Hash of the previous record (zeros for seq 1).
    pub prev_hash: Sha256Hex,
    /// This record's hash.
    pub hash: Sha256Hex,
    /// The normalized event.
    pub event: Event,
}

/// Formats microseconds since the epoch as RFC 3339 UTC with six fractional digits and `Z`.
pub fn format_recorded_at(us: i64) -> String {
    let mut out = Vec::with_capacity(27);
    write_recorded_at(us, &mut out);
    String::from_utf8(out).expect("ASCII")
}

/// Appends [`format_recorded_at`]`(us)` to `out` — with digits written by hand for
/// years 0000–9999 (every hash computes this, and chrono's `strftime` machinery was a
/// fifth of `verify`'s time), through chrono's own formatting otherwise. The text up
/// to the fraction (`YYYY-MM-DDTHH:MM:SS.`) is kept per thread for the last second
/// formatted: consecutive records mostly share it, and the calendar arithmetic was a
/// tenth of the writer's time.
pub fn write_recorded_at(us: i64, out: &mut Vec<u8>) {
    use std::cell::Cell;
    thread_local! {
        static SECOND: Cell<(i64, [u8; 20])> = const { Cell::new((i64::MIN, [0; 20])) };
    }
    let second = us.div_euclid(1_000_000);
    let (cached, text) = SECOND.get();
    let text = if cached == second {
        text
    } else {
        match second_text(us) {
            Some(text) => {
                SECOND.set((second, text));
                text
            }
            None => {
                let dt = DateTime::<Utc>::from_timestamp_micros(us)
                    .expect("recorded_at within chrono's range");
                out.extend_from_slice(dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string().as_bytes());
                return;
            }
        }
    };
    out.extend_from_slice(&text);
    let frac = us.rem_euclid(1_000_000) as u32;
    let mut digits = [0u8; 7];
    for (i, d) in digits[..6].iter_mut().enumerate() {
        *d = b'0' + (frac / 10u32.pow(5 - i as u32) % 10) as u8;
    }
    digits[6] = b'Z';
    out.extend_from_slice(&digits);
}

/// `YYYY-MM-DDTHH:MM:SS.` of the second holding `us`, for years 0000–9999.
fn second_text(us: i64) -> Option<[u8; 20]> {
    use chrono::{Datelike, Timelike};
    let dt = DateTime::<Utc>::from_timestamp_micros(us).expect("recorded_at within chrono's range");
    let year = dt.year();
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut t = *b"0000-00-00T00:00:00.";
    let mut put = |at: usize, v: u32, width: u32| {
        for i in 0..width {
            t[at + i as usize] = b'0' + (v / 10u32.pow(width - 1 - i) % 10) as u8;
        }
    };
    put(0, year as u32, 4);
    put(5, dt.month(), 2);
    put(8, dt.day(), 2);
    put(11, dt.hour(), 2);
    put(14, dt.minute(), 2);
    put(17, dt.second(), 2);
    Some(t)
}

/// Parses the exact form written by [`format_recorded_at`].
pub fn parse_recorded_at(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not RFC 3339 UTC with six fractional digits and Z");
    let dt = DateTime::parse_from_rfc3339(s).map_err(|_| bad())?;
    let us = dt.timestamp_micros();
    if format_recorded_at(us) != s {
        return Err(bad());
    }
    Ok(us)
}

/// A record's hash, started: SHA-256 fed with the record's canonical text up to the
/// previous hash's digits. The members of a record sort as `event`,
/// `idempotency_key`, `prev_hash`, `recorded_at`, `seq`, so this part (some 300 of
/// the text's ~430 bytes, and all of its canonical-JSON work) depends only on the
/// event and its idempotency key. Callers of the writer compute it on their own
/// threads; the writer, which alone knows seq, time and previous hash, only
/// [`finish`](HashPrefix::finish)es it.
///
/// `HashPrefix::new(e, k).finish(prev, at, by, seq)` equals the hash of
/// `Record { seq, recorded_at_us: at, idempotency_key: k, recorded_by: by, prev_hash: prev, event: e }`
/// (tested for every event kind against the `serde_json::Value` route).
#[derive(Clone)]
pub struct HashPrefix(Sha256);

impl HashPrefix {
    /// Hashes the record's text up to `"prev_hash":"`.
    pub fn new(event: &Event, idempotency_key: Option<&str>) -> HashPrefix {
        let mut o = Vec::with_capacity(384);
        o.extend_from_slice(b"{\"event\":");
        event.append_canonical(&mut o);
        push_key_and_prev_opening(&mut o, idempotency_key);
        HashPrefix(Sha256::new_with_prefix(&o))
    }

    /// Hashes the rest of the text (previous hash, time of recording, who recorded
    /// it, seq) and returns the record's hash.
    pub fn finish(
        self,
        prev_hash: Sha256Hex,
        recorded_at_us: i64,
        recorded_by: Option<&str>,
        seq: u64,
    ) -> Sha256Hex {
        let mut o = Vec::with_capacity(160);
        push_chain_tail(&mut o, prev_hash, recorded_at_us, recorded_by, seq);
        let mut h = self.0;
        h.update(&o);
        Sha256Hex(h.finalize().into())
    }
}

/// The canonical text from the comma before `idempotency_key` to the quote that
/// opens `prev_hash`'s digits: the same in the hashed text and the export line.
fn push_key_and_prev_opening(o: &mut Vec<u8>, idempotency_key: Option<&str>) {
    o.extend_from_slice(b",\"idempotency_key\":");
    match idempotency_key {
        None => o.extend_from_slice(b"null"),
        Some(k) => crate::canonical::push_str(o, k),
    }
    o.extend_from_slice(b",\"prev_hash\":\"");
}

/// The canonical text from `prev_hash`'s digits to the closing brace (previous hash,
/// time of recording, who recorded it when known, seq): the chain's part, the same in
/// the hashed text and the export line.
fn push_chain_tail(
    o: &mut Vec<u8>,
    prev_hash: Sha256Hex,
    recorded_at_us: i64,
    recorded_by: Option<&str>,
    seq: u64,
) {
    o.extend_from_slice(&prev_hash.hex_digits());
    o.extend_from_slice(b"\",\"recorded_at\":\"");
    // The timestamp is plain ASCII: nothing in it needs escaping.
    write_recorded_at(recorded_at_us, o);
    o.push(b'"');
    if let Some(by) = recorded_by {
        o.extend_from_slice(b",\"recorded_by\":");
        crate::canonical::push_str(o, by);
    }
    o.extend_from_slice(b",\"seq\":");
    crate::canonical::push_int(o, i128::from(seq));
    o.push(b'}');
}

impl Record {
    /// Builds the next record after `prev_hash`, computing its hash (with no
    /// `recorded_by`: see [`Record::new_by`]).
    pub fn new(
        seq: u64,
        recorded_at_us: i64,
        idempotency_key: Option<String>,
        prev_hash: Sha256Hex,
        event: Event,
    ) -> Record {
        Record::new_by(seq, recorded_at_us, idempotency_key, None, prev_hash, event)
    }

    /// Builds the next record after `prev_hash`, recorded by `recorded_by`, computing
    /// its hash.
    pub fn new_by(
        seq: u64,
        recorded_at_us: i64,
        idempotency_key: Option<String>,
        recorded_by: Option<String>,
        prev_hash: Sha256Hex,
        event: Event,
    ) -> Record {
        let prefix = HashPrefix::new(&event, idempotency_key.as_deref());
        Record::with_prefix(
            seq,
            recorded_at_us,
            idempotency_key,
            recorded_by,
            prev_hash,
            event,
            prefix,
        )
    }

    /// [`Record::new`] with the hash's first part already computed; `prefix` must be
    /// `HashPrefix::new(&event, idempotency_key)`. Crate-only: the writer pairs them
    /// through `Prepared`, whose fields nobody else can set, so a mismatched prefix
    /// (a record whose hash is not its content's) cannot be built from outside.
    pub(crate) fn with_prefix(
        seq: u64,
        recorded_at_us: i64,
        idempotency_key: Option<String>,
        recorded_by: Option<String>,
        prev_hash: Sha256Hex,
        event: Event,
        prefix: HashPrefix,
    ) -> Record {
        Record {
            seq,
            recorded_at_us,
            hash: prefix.finish(prev_hash, recorded_at_us, recorded_by.as_deref(), seq),
            idempotency_key,
            recorded_by,
            prev_hash,
            event,
        }
    }

    /// The record as a JSON object without its `hash` member (what is hashed).
    fn unhashed_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("event".into(), self.event.to_json());
        m.insert(
            "idempotency_key".into(),
            self.idempotency_key
                .clone()
                .map_or(Value::Null, Value::String),
        );
        m.insert("prev_hash".into(), Value::String(self.prev_hash.to_hex()));
        m.insert(
            "recorded_at".into(),
            Value::String(format_recorded_at(self.recorded_at_us)),
        );
        if let Some(by) = &self.recorded_by {
            m.insert("recorded_by".into(), Value::String(by.clone()));
        }
        m.insert("seq".into(), Value::from(self.seq));
        m
    }

    /// The canonical JSON of the record with its `hash` (members sorted: event, hash,
    /// idempotency_key, prev_hash, recorded_at, recorded_by when present, seq), written straight from the typed
    /// record. Equal to the canonical form of [`Record::to_json`] (tested).
    fn canonical(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(384);
        o.extend_from_slice(b"{\"event\":");
        self.event.append_canonical(&mut o);
        o.extend_from_slice(b",\"hash\":\"");
        let mut hex = [0u8; 64];
        hex::encode_to_slice(self.hash.0, &mut hex).expect("64 hex digits");
        o.extend_from_slice(&hex);
        o.push(b'"');
        push_key_and_prev_opening(&mut o, self.idempotency_key.as_deref());
        push_chain_tail(
            &mut o,
            self.prev_hash,
            self.recorded_at_us,
            self.recorded_by.as_deref(),
            self.seq,
        );
        o
    }

    /// SHA-256 over the canonical JSON of the record without `hash`.
    pub fn compute_hash(&self) -> Sha256Hex {
        HashPrefix::new(&self.event, self.idempotency_key.as_deref()).finish(
            self.prev_hash,
            self.recorded_at_us,
            self.recorded_by.as_deref(),
            self.seq,
        )
    }

    /// The record's JSON object, as `export` prints it.
    pub fn to_json(&self) -> Value {
        let mut m = self.unhashed_json();
        m.insert("hash".into(), Value::String(self.hash.to_hex()));
        Value::Object(m)
    }

    /// The record as one canonical JSON line (no newline), as `export` prints it.
    pub fn to_json_line(&self) -> String {
        String::from_utf8(self.canonical()).expect("canonical JSON is UTF-8")
    }

    /// Parses an exported record, checking that its event is in normalized form and
    /// that its hash matches its content. The chain is checked by the caller.
    pub fn from_export(v: Value) -> Result<Record, EventError> {
        let Value::Object(mut m) = v else {
            return Err(EventError::whole("a record must be a JSON object"));
        };
        const MEMBERS: [&str; 7] = [
            "event",
            "hash",
            "idempotency_key",
            "prev_hash",
            "recorded_at",
            "recorded_by",
            "seq",
        ];
        if let Some(k) = m.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
            return Err(EventError::field(k.clone(), "is not a member of a record"));
        }
        let take_str = |m: &mut Map<String, Value>, k: &str| match m.remove(k) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(EventError::field(k, "is required and must be a string")),
        };
        let seq = m
            .remove("seq")
            .and_then(|s| s.as_u64())
            .filter(|s| *s >= 1)
            .ok_or_else(|| EventError::field("seq", "must be an integer of 1 or more"))?;
        let hash = Sha256Hex::parse(&take_str(&mut m, "hash")?)
            .map_err(|r| EventError::field("hash", r))?;
        let prev_hash = Sha256Hex::parse(&take_str(&mut m, "prev_hash")?)
            .map_err(|r| EventError::field("prev_hash", r))?;
        let recorded_at_us = parse_recorded_at(&take_str(&mut m, "recorded_at")?)
            .map_err(|r| EventError::field("recorded_at", r))?;
        let idempotency_key = match m.remove("idempotency_key") {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => {
                crate::event::check_idempotency_key(&k)
                    .map_err(|r| EventError::field("idempotency_key", r))?;
                Some(k)
            }
            Some(_) => {
                return Err(EventError::field(
                    "idempotency_key",
                    "must be a string or null",
                ))
            }
        };
        let recorded_by = match m.remove("recorded_by") {
            None => None,
            Some(Value::String(by)) => {
                check_recorded_by(&by).map_err(|r| EventError::field("recorded_by", r))?;
                Some(by)
            }
            Some(_) => {
                return Err(EventError::field(
                    "recorded_by",
                    "must be a user's name (a string), or absent",
                ))
            }
        };
        let event_json = m
            .remove("event")
            .ok_or_else(|| EventError::field("event", "is required"))?;
        if event_json.get("idempotency_key").is_some() {
            return Err(EventError::field(
                "event.idempotency_key",
                "belongs at the record's top level",
            ));
        }
        let event = Event::parse_object(event_json.clone())
            .map_err(|e| EventError {
                field: Some(format!("event.{}", e.field.unwrap_or_default())),
                reason: e.reason,
                zh: e.zh,
            })?
            .event;
        if event.to_json() != event_json {
            return Err(EventError::field("event", "is not in normalized form (amounts need two decimals, ratios four, every field present, schedules sorted)"));
        }
        let r = Record {
            seq,
            recorded_at_us,
            idempotency_key,
            recorded_by,
            prev_hash,
            hash,
            event,
        };
        let computed = r.compute_hash();
        if computed != r.hash {
            return Err(EventError::field(
                "hash",
                format!("does not match the record's content (computed {computed})"),
            ));
        }
        Ok(r)
    }

    /// The self-contained stored bytes ([`FORMAT_V4`]): version byte + bincode.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        self.encode_into(&mut out);
        out
    }

    /// Appends the stored form ([`Record::encode`]) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V4);
        codec().serialize_into(out, self).expect("records encode");
    }

    /// The self-contained form of logs written before contract v2 ([`FORMAT_V1`]),
    /// for tests that must show such logs still read; `None` for a record it cannot
    /// hold (one with `recorded_by`, an `off_plan_reason` or a kind added since).
    pub fn encode_v1(&self) -> Option<Vec<u8>> {
        if self.recorded_by.is_some() {
            return None;
        }
        let old = RecordV1 {
            seq: self.seq,
            recorded_at_us: self.recorded_at_us,
            idempotency_key: self.idempotency_key.clone(),
            prev_hash: self.prev_hash,
            hash: self.hash,
            event: crate::event::legacy::Legacy::from_event(&self.event)?,
        };
        let mut out = vec![FORMAT_V1];
        codec()
            .serialize_into(&mut out, &old)
            .expect("records encode");
        Some(out)
    }

    /// Decodes a self-contained stored form (format 1 or 4); an unknown version byte
    /// (the compact forms included: they need their place, [`Record::decode_at`]) or
    /// bad encoding is an error.
    pub fn decode(bytes: &[u8]) -> Result<Record, String> {
        match bytes.split_first() {
            Some((&FORMAT_V1, rest)) => {
                let r: RecordV1 = codec()
                    .deserialize(rest)
                    .map_err(|e| format!("record does not decode: {e}"))?;
                checked_time(Record {
                    seq: r.seq,
                    recorded_at_us: r.recorded_at_us,
                    idempotency_key: r.idempotency_key,
                    recorded_by: None,
                    prev_hash: r.prev_hash,
                    hash: r.hash,
                    event: r.event.into(),
                })
            }
            Some((&FORMAT_V4, rest)) => {
                let r: Record = codec()
                    .deserialize(rest)
                    .map_err(|e| format!("record does not decode: {e}"))?;
                checked_time(r)
            }
            Some((&(FORMAT_V2 | FORMAT_V3), _)) => {
                Err("a compact record (format 2 or 3) is only read at its place in a block".into())
            }
            Some((v, _)) => Err(format!("unknown record format version {v}")),
            None => Err("empty record".into()),
        }
    }

    /// Appends the compact stored form ([`FORMAT_V3`], see the module doc): what a
    /// block holds. About half the bytes of the self-contained form (64 against 127
    /// per record in the benchmark's mix of events).
    pub fn encode_compact_into(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V3);
        out.extend_from_slice(&self.hash.0);
        out.extend_from_slice(&self.recorded_at_us.to_le_bytes());
        let tail = CompactRef {
            idempotency_key: &self.idempotency_key,
            recorded_by: &self.recorded_by,
            event: &self.event,
        };
        compact_codec()
            .serialize_into(out, &tail)
            .expect("records encode");
    }

    /// Decodes a stored record of either form found at place `seq`, after a record
    /// whose stored hash is `prev_hash`. A compact record takes both from there; a
    /// self-contained one carries its own (which verify compares with its place).
    pub fn decode_at(bytes: &[u8], seq: u64, prev_hash: Sha256Hex) -> Result<Record, String> {
        let version = match bytes.first() {
            Some(&v @ (FORMAT_V2 | FORMAT_V3)) => v,
            _ => return Record::decode(bytes),
        };
        let Some(head) = bytes.get(..COMPACT_HEAD) else {
            return Err("record is cut short".into());
        };
        let hash = Sha256Hex(head[1..33].try_into().expect("32 bytes"));
        let recorded_at_us = i64::from_le_bytes(head[33..].try_into().expect("8 bytes"));
        let undecodable = |e: bincode::Error| format!("record does not decode: {e}");
        let (idempotency_key, recorded_by, event) = if version == FORMAT_V2 {
            let tail: CompactV2 = compact_codec()
                .deserialize(&bytes[COMPACT_HEAD..])
                .map_err(undecodable)?;
            (tail.idempotency_key, None, tail.event.into())
        } else {
            let tail: CompactOwned = compact_codec()
                .deserialize(&bytes[COMPACT_HEAD..])
                .map_err(undecodable)?;
            (tail.idempotency_key, tail.recorded_by, tail.event)
        };
        checked_time(Record {
            seq,
            recorded_at_us,
            idempotency_key,
            recorded_by,
            prev_hash,
            hash,
            event,
        })
    }

    /// Whether stored bytes are of a compact form (2 or 3): read only at their place.
    pub fn is_compact(bytes: &[u8]) -> bool {
        matches!(bytes.first(), Some(&(FORMAT_V2 | FORMAT_V3)))
    }

    /// The hash a stored record of either form carries, if it can be read: what the
    /// compact record after it takes as its `prev_hash`.
    pub fn stored_hash(bytes: &[u8]) -> Option<Sha256Hex> {
        match bytes.first() {
            Some(&(FORMAT_V2 | FORMAT_V3)) => bytes
                .get(1..33)
                .map(|h| Sha256Hex(h.try_into().expect("32 bytes"))),
            _ => Record::decode(bytes).ok().map(|r| r.hash),
        }
    }
}

/// The name of the command line in `recorded_by` (a record appended through a CLI
/// command, also when a running server carries it out for the command).
pub const LOCAL: &str = "local";

/// Checks a `recorded_by`: a user's name as the tokens file allows it (1 to 64
/// characters, no spaces or control characters).
pub fn check_recorded_by(by: &str) -> Result<(), String> {
    let n = by.chars().count();
    if n == 0 || n > 64 || by.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(
            "must be a user's name: 1 to 64 characters, without spaces or control characters"
                .into(),
        );
    }
    Ok(())
}

/// Refuses a decoded record whose `recorded_at` no calendar can show.
fn checked_time(r: Record) -> Result<Record, String> {
    if DateTime::<Utc>::from_timestamp_micros(r.recorded_at_us).is_none() {
        return Err(format!(
            "record has an impossible recorded_at ({} µs)",
            r.recorded_at_us
        ));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Record {
        let e = Event::parse_object(json!({"kind":"county_registered","county":"suizhong","name":"绥中县","registered_on":"2021-01-01","opening_treasury":"1200"})).unwrap().event;
        Record::new(1, 1_795_766_400_000_000, None, GENESIS, e)
    }

    #[test]
    fn recorded_at_format() {
        assert_eq!(
            format_recorded_at(1_795_766_400_000_000),
            "2026-11-27T08:00:00.000000Z"
        );
        assert_eq!(
            parse_recorded_at("2026-11-27T08:00:00.000001Z").unwrap(),
            1_795_766_400_000_001
        );
        assert!(parse_recorded_at("2026-11-27T08:00:00Z").is_err());
        assert!(parse_recorded_at("2026-11-27T08:00:00.000000+00:00").is_err());
    }

    #[test]
    fn hand_written_timestamps_equal_chronos_formatting() {
        let chrono_form = |us: i64| {
            DateTime::<Utc>::from_timestamp_micros(us)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
        };
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut cases = vec![
            0,
            -1,
            1,
            999_999,
            -62_167_219_200_000_000, // 0000-01-01T00:00:00
            -62_167_219_200_000_001, // the microsecond before: year -1
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
            253_402_300_800_000_000, // 10000-01-01
            1_795_766_400_000_000,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push((x % 400_000_000_000_000_000) as i64 - 100_000_000_000_000_000);
        }
        // Runs of consecutive times (the per-thread second is reused, and left at
        // each second's end), and times going back.
        for start in [
            1_795_766_399_999_000i64,
            -1_000_500,
            253_402_300_799_999_000,
        ] {
            for k in 0..2_000 {
                cases.push(start + k);
                cases.push(start + 997 * k);
            }
            cases.push(start - 1_000_000);
        }
        for us in cases {
            assert_eq!(format_recorded_at(us), chrono_form(us), "{us}");
        }
    }

    #[test]
    fn known_record_hash() {
        // Computed independently in Python over the same record:
        // json.dumps(rec, sort_keys=True, separators=(",",":"), ensure_ascii=False)
        let r = sample();
        assert_eq!(r.hash.to_hex(), PY_RECORD_HASH);
        assert_eq!(
            r.to_json_line(),
            format!("{{\"event\":{{\"county\":\"suizhong\",\"kind\":\"county_registered\",\"name\":\"绥中县\",\"opening_treasury\":\"1200.00\",\"opening_wage_reserve\":\"0.00\",\"registered_on\":\"2021-01-01\"}},\"hash\":\"{PY_RECORD_HASH}\",\"idempotency_key\":null,\"prev_hash\":\"{}\",\"recorded_at\":\"2026-11-27T08:00:00.000000Z\",\"seq\":1}}", "0".repeat(64))
        );
    }

    const PY_RECORD_HASH: &str = "6dce8f4efba9f3a9fb6e2a9131f14ffb079e2dc9259a6f175207f92c29648745";

    #[test]
    fn direct_canonical_form_equals_the_value_route_for_every_kind() {
        let sample = include_str!("../replay/sample-city/events.jsonl");
        let (_, mut events) = crate::event::parse_input(sample).unwrap();
        events.push(
            Event::parse_object(json!({"kind":"plan_issued","month":"2022-03","based_on_seq":7,"plan_sha256":"ab".repeat(32),"issued_on":"2022-02-28"}))
                .unwrap(),
        );
        events.push(
            Event::parse_object(json!({"kind":"notice_issued","county":"jianchang","month":"2021-12","doc_number":"示财库〔2022〕1号","status":"warning","guarantee_level":"0.1801","issued_on":"2022-01-05"}))
                .unwrap(),
        );
        for e in [
            json!({"kind":"emergency_requested","county":"jianchang","amount":"5000000.00","value_date":"2022-01-10","mode":"grant","reason":"保工资"}),
            json!({"kind":"emergency_approved","request_seq":3,"approved_on":"2022-01-10"}),
            json!({"kind":"approval_limit_set","amount":"0.00","effective_from":"2022-01-01"}),
        ] {
            events.push(Event::parse_object(e).unwrap());
        }
        events.push(
            Event::parse_object(json!({"kind":"policy_proposed","county":"jianchang","title":"提高城乡低保标准","category":"livelihood","monthly_cost":"120000","starts":"2022-03","proposed_on":"2022-01-10"}))
                .unwrap(),
        );
        events.push(
            Event::parse_object(json!({"kind":"assessment_decided","proposal_seq":3,"decision":"rejected","decided_on":"2022-01-20"}))
                .unwrap(),
        );
        events.push(
            Event::parse_object(json!({"kind":"response_plan_filed","county":"jianchang","filed_on":"2022-01-12","valid_until":"2022-06-30","measures":"压减一般性支出，盘活存量资金","reference":"建财〔2022〕2号"}))
                .unwrap(),
        );
        let mut kinds = std::collections::BTreeSet::new();
        let mut prev = GENESIS;
        for (i, e) in events.into_iter().enumerate() {
            kinds.insert(e.event.kind());
            let key = (i % 3 == 0).then(|| format!("key-\"{i}\"\\"));
            // recorded_by absent, a plain name and one that needs escaping.
            let by = match i % 4 {
                0 => None,
                1 => Some("li.wei".to_string()),
                2 => Some("王\"芳\\".to_string()),
                _ => Some(LOCAL.to_string()),
            };
            let mut event = e.event;
            if let (Event::TransferAllocated(t), 1) = (&mut event, i % 2) {
                t.off_plan_reason = Some(crate::values::Text::parse("汛期\"应急\"").unwrap());
            }
            let r = Record::new_by(
                i as u64 + 1,
                1_795_766_400_000_000 + i as i64,
                key,
                by,
                prev,
                event,
            );
            let mut c = Vec::new();
            r.encode_compact_into(&mut c);
            assert_eq!(Record::decode_at(&c, r.seq, r.prev_hash).unwrap(), r);
            assert_eq!(Record::decode(&r.encode()).unwrap(), r);
            assert_eq!(Record::from_export(r.to_json()).unwrap(), r);
            let slow = crate::canonical::to_canonical_string(&r.to_json());
            assert_eq!(r.to_json_line(), slow, "record {}", r.seq);
            let mut body = r.to_json();
            body.as_object_mut().unwrap().remove("hash");
            assert_eq!(r.hash.0, crate::canonical::sha256_canonical(&body));
            prev = r.hash;
        }
        assert_eq!(
            kinds.len(),
            crate::event::KINDS.len(),
            "every kind covered: {kinds:?}"
        );
    }

    #[test]
    fn codec_and_export_round_trip() {
        let r = sample();
        assert_eq!(Record::decode(&r.encode()).unwrap(), r);
        let mut bad = r.encode();
        bad[0] = 9;
        assert!(Record::decode(&bad).is_err());
        assert_eq!(Record::from_export(r.to_json()).unwrap(), r);
        let mut tampered = r.to_json();
        tampered["event"]["opening_treasury"] = json!("1200.01");
        assert_eq!(
            Record::from_export(tampered).unwrap_err().field.as_deref(),
            Some("hash")
        );
        let mut unnormalized = r.to_json();
        unnormalized["event"]["opening_treasury"] = json!("1200");
        assert_eq!(
            Record::from_export(unnormalized)
                .unwrap_err()
                .field
                .as_deref(),
            Some("event")
        );
    }

    /// Records of the sample city stored by the code before contract v2 (captured from
    /// its `encode` and `encode_compact_into`): kind, seq, prev_hash, hash, format 1
    /// and format 2 bytes.
    const LEGACY: &[(&str, u64, &str, &str, &str, &str)] = &[
    ("transfer_allocated", 44, "5506b2814d50f84c5bf9661082931f2aacb6b35518b903decbf4898a5151259f", "1119327fdb08f8cf3498ea63112705a208c0dbdfeca9dacdb86eb903cb7fc4ac", "012c000000000000002b205f723d6106000103000000000000006b34335506b2814d50f84c5bf9661082931f2aacb6b35518b903decbf4898a5151259f1119327fdb08f8cf3498ea63112705a208c0dbdfeca9dacdb86eb903cb7fc4ac03000000070000000000000062656967616e6700000000e50780d1f00800000000000000000000000003420b0000013e00000000000000e5b882e8b4a2e694bfe5b18032303231e5b9b431e69c88e8b4a2e58a9be680a7e8bdace7a7bbe694afe4bb98e8b083e5baa6efbc88e8999ae69e84efbc89", "021119327fdb08f8cf3498ea63112705a208c0dbdfeca9dacdb86eb903cb7fc4ac2b205f723d61060001036b3433030762656967616e6700fbe507fc00a3e111fc0684160000013ee5b882e8b4a2e694bfe5b18032303231e5b9b431e69c88e8b4a2e58a9be680a7e8bdace7a7bbe694afe4bb98e8b083e5baa6efbc88e8999ae69e84efbc89"),
    ("emergency_dispatched", 1196, "ed399440711b88695458b470d8f50abb67672ae4c7a1b55f06478295367f0a3d", "b73fefbde540829400224f4c8c99c198de33c2cbe074dec289b0ee1f3fe6eb39", "01ac04000000000000ab245f723d6106000105000000000000006b31313935ed399440711b88695458b470d8f50abb67672ae4c7a1b55f06478295367f0a3db73fefbde540829400224f4c8c99c198de33c2cbe074dec289b0ee1f3fe6eb390400000008000000000000007375697a686f6e6700f90295000000000000000000000000d7420b00000000005c0000000000000032303231e5b9b438e69c88e4b88ae697ace5bcbae9998de99ba8e887b4e781beefbc8ce4bf9de99a9ce58f97e781bee7bea4e4bc97e59fbae69cace7949fe6b4bbe5928ce69591e781bee694afe587baefbc88e6a0b7e4be8befbc892100000000000000e5b882e694bfe5ba9ce5b8b8e58aa1e4bc9ae8aeaeefbc88e8999ae69e84efbc89", "02b73fefbde540829400224f4c8c99c198de33c2cbe074dec289b0ee1f3fe6eb39ab245f723d61060001056b3131393504087375697a686f6e67fd00f2052a01000000fcae851600005c32303231e5b9b438e69c88e4b88ae697ace5bcbae9998de99ba8e887b4e781beefbc8ce4bf9de99a9ce58f97e781bee7bea4e4bc97e59fbae69cace7949fe6b4bbe5928ce69591e781bee694afe587baefbc88e6a0b7e4be8befbc8921e5b882e694bfe5ba9ce5b8b8e58aa1e4bc9ae8aeaeefbc88e8999ae69e84efbc89"),
    ("planning_policy_set", 1496, "d969a1cb85d2f11625b0724e65fbe94f6292a217d4b833c23c45f8197710d707", "20990b25ddefb5c518f0ecb4e304dc03931c42336d1ec092fb64a7974a0e03e0", "01d805000000000000d7255f723d6106000105000000000000006b31343935d969a1cb85d2f11625b0724e65fbe94f6292a217d4b833c23c45f8197710d70720990b25ddefb5c518f0ecb4e304dc03931c42336d1ec092fb64a7974a0e03e00f000000010000000f430b00", "0220990b25ddefb5c518f0ecb4e304dc03931c42336d1ec092fb64a7974a0e03e0d7255f723d61060001056b313439350f01fc1e861600"),
    ];

    #[test]
    fn records_stored_before_contract_v2_still_read_and_keep_their_hashes() {
        for (kind, seq, prev, hash, v1, v2) in LEGACY {
            let prev = Sha256Hex::parse(prev).unwrap();
            let from_v1 = Record::decode(&hex::decode(v1).unwrap()).unwrap();
            let from_v2 = Record::decode_at(&hex::decode(v2).unwrap(), *seq, prev).unwrap();
            assert_eq!(from_v1, from_v2, "{kind}");
            assert_eq!(from_v1.event.kind(), *kind);
            assert_eq!(from_v1.recorded_by, None);
            assert_eq!(from_v1.hash.to_hex(), *hash);
            assert_eq!(
                from_v1.compute_hash().to_hex(),
                *hash,
                "{kind}: hash unchanged"
            );
            assert!(!from_v1.to_json_line().contains("recorded_by"));
            assert!(!from_v1.to_json_line().contains("off_plan_reason"));
            // The old form is written again byte for byte.
            assert_eq!(hex::encode(from_v1.encode_v1().unwrap()), *v1, "{kind}");
            // What is written now reads back the same.
            let mut c = Vec::new();
            from_v1.encode_compact_into(&mut c);
            assert_eq!(c[0], FORMAT_V3);
            assert_eq!(Record::decode_at(&c, *seq, prev).unwrap(), from_v1);
        }
        assert!(LEGACY.iter().any(|l| l.0 == "transfer_allocated"));
    }

    #[test]
    fn recorded_by_is_hashed_between_recorded_at_and_seq() {
        let mut r = sample();
        r.recorded_by = Some("li.wei".into());
        r.hash = r.compute_hash();
        assert_ne!(r.hash.to_hex(), PY_RECORD_HASH);
        let line = r.to_json_line();
        assert!(line.ends_with(",\"recorded_at\":\"2026-11-27T08:00:00.000000Z\",\"recorded_by\":\"li.wei\",\"seq\":1}"), "{line}");
        assert_eq!(r.encode_v1(), None);
        let mut bad = r.to_json();
        bad["recorded_by"] = json!("li wei");
        assert_eq!(
            Record::from_export(bad).unwrap_err().field.as_deref(),
            Some("recorded_by")
        );
        let mut forged = r.to_json();
        forged["recorded_by"] = json!("zhang.san");
        assert_eq!(
            Record::from_export(forged).unwrap_err().field.as_deref(),
            Some("hash")
        );
    }
}
