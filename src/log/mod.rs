//! The imperative shell around the log: the sled store, the single writer, and
//! loading (folding) the state from what is stored.
//!
//! Guarantees: nothing outside this module touches sled; the state handed out by
//! [`load_state`] is a pure fold of the stored records, checked for contiguous seqs
//! and an unbroken `prev_hash` link (the full hash check is `verify`'s job).

pub mod store;
pub mod writer;

use crate::record::Record;
use crate::state::State;
pub use store::{Head, Store, StoreError};
pub use writer::{Ack, AppendError, Clock, SystemClock, Writer, WriterThread};

/// Folds the stored records with seq ≤ `upto` (all when `None`) into a state,
/// calling `progress(seq)` every 65,536 records.
pub fn load_state(
    store: &Store,
    upto: Option<u64>,
    mut progress: impl FnMut(u64),
) -> Result<State, StoreError> {
    let mut state = State::new();
    for r in store.records(1, upto.unwrap_or(u64::MAX)) {
        let r: Record = r?;
        if r.seq != state.head_seq + 1 {
            return Err(StoreError::Damaged {
                seq: state.head_seq + 1,
                reason: format!(
                    "record {} is missing (found {} next)",
                    state.head_seq + 1,
                    r.seq
                ),
            });
        }
        if r.prev_hash != state.head_hash {
            return Err(StoreError::Damaged {
                seq: r.seq,
                reason: "prev_hash does not match the previous record's hash".into(),
            });
        }
        state.apply(&r);
        if r.seq % 65_536 == 0 {
            progress(r.seq);
        }
    }
    Ok(state)
}

/// The outcome of checking the stored chain (`verify`, `replay`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verified {
    /// Every record checked: count and the hash of the last.
    Ok {
        /// Records checked.
        records: u64,
        /// Hash of the last record checked (zeros for none).
        head_hash: crate::values::Sha256Hex,
    },
    /// The first bad record and why.
    Bad {
        /// First bad seq.
        first_bad_seq: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Checks every stored record with seq ≤ `upto`: contiguous seqs from 1, each record
/// decodes, its stored seq matches its key, its hash matches its content, and each
/// `prev_hash` is the previous record's hash; at the head, the stored head entry must
/// agree. Trusts nothing but the bytes.
pub fn verify(
    store: &Store,
    upto: Option<u64>,
    progress: impl FnMut(u64),
) -> Result<Verified, StoreError> {
    verify_each(store, upto, progress, |_| {})
}

/// [`verify`], also handing each record that passed its own checks to `visit`, in seq
/// order, so that `replay` verifies and folds the log in one read. When the answer is
/// [`Verified::Bad`], whatever `visit` built must be thrown away.
pub fn verify_each(
    store: &Store,
    upto: Option<u64>,
    mut progress: impl FnMut(u64),
    mut visit: impl FnMut(&Record),
) -> Result<Verified, StoreError> {
    let mut expect = 1u64;
    let mut prev = crate::record::GENESIS;
    let bad = |seq, reason: String| {
        Ok(Verified::Bad {
            first_bad_seq: seq,
            reason,
        })
    };
    for item in store.raw_range(1, upto.unwrap_or(u64::MAX)) {
        let (key_seq, bytes) = item?;
        if key_seq != expect {
            return bad(
                expect,
                format!("record {expect} is missing (the next stored record is {key_seq})"),
            );
        }
        let r = match Record::decode(&bytes) {
            Ok(r) => r,
            Err(reason) => return bad(key_seq, reason),
        };
        if r.seq != key_seq {
            return bad(
                key_seq,
                format!("the record stored at seq {key_seq} says seq {}", r.seq),
            );
        }
        if r.prev_hash != prev {
            return bad(
                key_seq,
                "prev_hash does not match the previous record's hash".into(),
            );
        }
        let computed = r.compute_hash();
        if computed != r.hash {
            return bad(
                key_seq,
                format!(
                    "the hash does not match the content (computed {computed}, stored {})",
                    r.hash
                ),
            );
        }
        visit(&r);
        prev = r.hash;
        expect += 1;
        if key_seq % 65_536 == 0 {
            progress(key_seq);
        }
    }
    let records = expect - 1;
    let head = store.head()?;
    // A check up to N below the head ends at N: the stored head is compared only when
    // the whole log was checked; a prefix must simply be complete.
    if let Some(u) = upto.filter(|&u| u < head.seq) {
        if records < u {
            return bad(
                records + 1,
                format!(
                    "record {} is missing (the log's head is seq {})",
                    records + 1,
                    head.seq
                ),
            );
        }
    } else if head.seq != records || head.hash != prev {
        return bad(
            head.seq.min(records) + 1,
            format!(
                "the stored head (seq {}) disagrees with the records (last seq {records})",
                head.seq
            ),
        );
    }
    Ok(Verified::Ok {
        records,
        head_hash: prev,
    })
}
