//! What-if (issue 18): hypothetical events laid over a state, for `plan`, `forecast`
//! and `monitor --with FILE` (and their HTTP what-if routes).
//!
//! [`suppose`] takes a state (the head) and a list of events and answers a new state:
//! the given one with every event checked by the same rules as an append
//! ([`State::check`]) and applied in order, with seqs after the head — or the first
//! event refused, with its index and the rule's error, exactly as `append` names it.
//! It never writes anything: the state given is only read (the answer is a clone, so
//! a what-if costs one copy of the folded state, about as much memory again as the
//! state itself) and nothing here has any I/O.
//!
//! [`what_if_json`] writes a query's answer as its usual JSON object with
//! `"hypothetical": N` added last and, for a plan, without `plan_sha256`: a what-if
//! plan can never be issued.
//!
//! Guarantees: deterministic (the hypothetical records' `recorded_at` is the head's,
//! never the clock); the idempotency keys of hypothetical events are not looked up in
//! the log (each event is supposed new), though two events of the what-if may not
//! share one; at most [`MAX_HYPOTHETICAL`] events, as for one append batch.

use crate::event::{EventError, InputEvent};
use crate::record::Record;
use crate::state::{PlanFacts, PlanOracle, State};
use crate::values::Month;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// The most events one what-if may suppose (as many as one append batch).
pub const MAX_HYPOTHETICAL: usize = crate::log::writer::MAX_BATCH_EVENTS;

/// A hypothetical event the rules refuse: its index among the events (`None` for
/// the list as a whole: empty, too long) and why, as an append would answer it.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The index of the refused event in the what-if's list.
    pub index: Option<usize>,
    /// The rule's error (field and reason).
    pub error: EventError,
}

/// The plan hash of a month at a seq of the real log before the head, for a
/// hypothetical `plan_issued` based on an older record (never asked for the head
/// itself: that plan is computed from the base state).
pub type PastPlan<'a> = dyn FnMut(u64, Month) -> Result<PlanFacts, String> + 'a;

/// Checks a hypothetical `plan_issued`: from the state at hand when `based_on_seq` is
/// its head or the base's, from `past` when it is an older seq, else from the base state
/// with the hypothetical records up to that seq folded on.
struct Oracle<'a, 'p> {
    base: &'a State,
    records: &'a [Record],
    past: &'a mut PastPlan<'p>,
    /// Plans of the real log already recomputed (a what-if of many planned transfers
    /// asks for the same plan again and again).
    cache: &'a mut HashMap<(Month, u64), Arc<PlanFacts>>,
}

impl PlanOracle for Oracle<'_, '_> {
    fn plan(
        &mut self,
        state: &State,
        month: Month,
        based_on_seq: u64,
    ) -> Result<Arc<PlanFacts>, String> {
        if based_on_seq == state.head_seq {
            return Ok(Arc::new(super::plan_facts(state, month)));
        }
        if let Some(f) = self.cache.get(&(month, based_on_seq)) {
            return Ok(f.clone());
        }
        let facts = if based_on_seq == self.base.head_seq {
            super::plan_facts(self.base, month)
        } else if based_on_seq < self.base.head_seq {
            (self.past)(based_on_seq, month)?
        } else {
            let mut s = self.base.clone();
            for r in self.records.iter().take_while(|r| r.seq <= based_on_seq) {
                s.fold(r);
            }
            super::plan_facts(&s, month)
        };
        let facts = Arc::new(facts);
        if based_on_seq <= self.base.head_seq {
            self.cache.insert((month, based_on_seq), facts.clone());
        }
        Ok(facts)
    }
}

/// The state `base` would have if `events` were appended after its head by `by` (the
/// `recorded_by` of an append), in order, each checked by the rules against the state
/// that includes the ones before it — an approval followed by the dispatch the
/// writer would append — or the first one refused. `base` is never changed; `past`
/// answers the plan of a month at a seq < `base.head_seq` (asked for a hypothetical
/// `plan_issued` based on an older record, or a transfer naming a planned month).
pub fn suppose(
    base: &State,
    by: Option<&str>,
    events: Vec<InputEvent>,
    past: &mut PastPlan<'_>,
) -> Result<State, Refused> {
    if events.is_empty() {
        return Err(Refused {
            index: None,
            error: EventError::whole("the what-if holds no event"),
        });
    }
    if events.len() > MAX_HYPOTHETICAL {
        return Err(Refused {
            index: None,
            error: EventError::whole(format!("a what-if holds at most {MAX_HYPOTHETICAL} events")),
        });
    }
    let mut seen = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        if let Some(k) = &e.idempotency_key {
            if let Some(first) = seen.insert(k.as_str(), i) {
                return Err(Refused {
                    index: Some(i),
                    error: EventError::field(
                        "idempotency_key",
                        format!("{k:?} is also used by event {first} of this what-if"),
                    ),
                });
            }
        }
    }
    let mut state = base.clone();
    let mut records: Vec<Record> = Vec::with_capacity(events.len());
    let at = base.last_recorded_at_us;
    let mut cache = HashMap::new();
    for (i, e) in events.into_iter().enumerate() {
        let mut next = Some((e.event, e.idempotency_key));
        while let Some((event, key)) = next.take() {
            let mut oracle = Oracle {
                base,
                records: &records,
                past: &mut *past,
                cache: &mut cache,
            };
            state
                .check_by(&event, by, &mut oracle)
                .map_err(|error| Refused {
                    index: Some(i),
                    error,
                })?;
            let r = Record::new_by(
                state.head_seq + 1,
                at,
                key,
                by.map(str::to_string),
                state.head_hash,
                event,
            );
            state.apply(&r);
            records.push(r);
            next = state
                .dispatch_of_approval(state.head_seq)
                .map(|d| (d, None));
        }
    }
    Ok(state)
}

/// The JSON line (ending in a newline) of a what-if's answer: `answer`'s usual object
/// with `"hypothetical": n` added as its last member; when `plan` is true the answer
/// is a plan, whose `plan_sha256` (its last member) is left out.
pub fn what_if_json<T: Serialize>(
    answer: &T,
    n: usize,
    plan: bool,
) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string(answer)?;
    debug_assert!(s.ends_with('}'), "an answer is a JSON object");
    s.pop();
    if plan {
        // `"plan_sha256":"` + 64 hex digits + `"`, after a comma.
        const TAIL: usize = ",\"plan_sha256\":\"".len() + 64 + 1;
        let cut = s.len().checked_sub(TAIL);
        assert!(
            cut.is_some_and(|c| s[c..].starts_with(",\"plan_sha256\":\"")),
            "a plan's last member is plan_sha256"
        );
        s.truncate(cut.unwrap_or(0));
    }
    s.push_str(&format!(",\"hypothetical\":{n}}}\n"));
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    fn ev(v: serde_json::Value) -> InputEvent {
        Event::parse_object(v).expect("a valid event")
    }

    fn no_past(_: u64, _: Month) -> Result<PlanFacts, String> {
        Err("no past".into())
    }

    #[test]
    fn whatif_refuses_empty_and_names_the_refused_event() {
        let base = State::new();
        let e = suppose(&base, None, vec![], &mut no_past).unwrap_err();
        assert_eq!(e.index, None);
        let reg = ev(
            serde_json::json!({"kind":"county_registered","county":"a","name":"A","registered_on":"2021-01-01"}),
        );
        let bad = ev(
            serde_json::json!({"kind":"expenditure_paid","county":"a","amount":"5.00","paid_on":"2021-01-02","category":"other"}),
        );
        let e = suppose(&base, None, vec![reg.clone(), bad], &mut no_past).unwrap_err();
        assert_eq!(e.index, Some(1), "spending money the county does not have");
        assert_eq!(base, State::new(), "the base is untouched");
        let s = suppose(&base, None, vec![reg.clone()], &mut no_past).unwrap();
        assert_eq!(s.head_seq, 1);
        assert_eq!(s.county_count(), 1);
        let twice = suppose(&base, None, vec![reg.clone(), reg], &mut no_past).unwrap_err();
        assert_eq!(twice.index, Some(1));
    }

    #[test]
    fn whatif_json_adds_hypothetical_and_drops_plan_sha256() {
        #[derive(Serialize)]
        struct P {
            a: u32,
            plan_sha256: String,
        }
        let p = P {
            a: 1,
            plan_sha256: "0".repeat(64),
        };
        assert_eq!(
            what_if_json(&p, 2, true).unwrap(),
            "{\"a\":1,\"hypothetical\":2}\n"
        );
        assert_eq!(
            what_if_json(&serde_json::json!({"b": 1}), 1, false).unwrap(),
            "{\"b\":1,\"hypothetical\":1}\n"
        );
    }
}
