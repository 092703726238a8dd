//! The writer's tests: a lone caller and the linger, submitting ahead, pipelined
//! groups and the hold on the state lock, chains broken by a refusal, and a failed
//! pipelined write taking back the group checked after it.

use super::*;
use serde_json::json;

fn registration(county: &str) -> InputEvent {
    crate::event::Event::parse_object(json!({"kind":"county_registered","county":county,
        "name":county,"registered_on":"2021-01-01","opening_treasury":"100"}))
    .unwrap()
}

fn start(dir: &std::path::Path) -> (Writer, WriterThread, tokio::runtime::Runtime) {
    start_over(Store::open(dir).unwrap())
}

/// A writer over `store` (an empty log) and a runtime to call it from.
fn start_over(store: Store) -> (Writer, WriterThread, tokio::runtime::Runtime) {
    let (w, t) = Writer::start(store, State::new(), Box::new(SystemClock));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    (w, t, rt)
}

#[test]
fn a_lone_caller_never_waits_for_others() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, t, rt) = start(tmp.path());
    for i in 0..20 {
        let acks = rt
            .block_on(w.append(vec![registration(&format!("c{i}"))], None))
            .unwrap();
        assert_eq!(acks[0].seq, i + 1);
    }
    let s = w.stats();
    assert_eq!((s.groups, s.jobs), (20, 20));
    assert_eq!((s.linger_us, s.linger_timeouts), (0, 0));
    drop(w);
    t.join();
}

#[test]
fn a_group_waits_out_the_linger_for_an_active_caller_that_sends_nothing_then_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, t, rt) = start(tmp.path());
    // Counted as active, but never sends a job.
    let silent = Active::enter(&w.callers);
    for i in 0..3 {
        rt.block_on(w.append(vec![registration(&format!("c{i}"))], None))
            .unwrap();
    }
    let s = w.stats();
    assert_eq!(s.groups, 3);
    assert_eq!(
        s.linger_timeouts, 3,
        "each group waited for the silent caller"
    );
    assert!(s.linger_us >= 3 * LINGER.as_micros() as u64, "{s:?}");
    drop(silent);
    rt.block_on(w.append(vec![registration("c3")], None))
        .unwrap();
    assert_eq!(w.stats().linger_timeouts, 3, "no wait once it has left");
    drop(w);
    t.join();
}

#[test]
fn a_submitted_batch_is_answered_after_its_caller_did_other_work() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, t, rt) = start(tmp.path());
    let first = rt
        .block_on(w.submit(Prepared::new(vec![registration("a")]), None))
        .unwrap();
    // Meanwhile: prepare the next batch, as `sanbao import` does.
    let next = Prepared::new(vec![registration("b"), registration("c")]);
    assert_eq!(next.len(), 2);
    let a = rt.block_on(first.wait()).unwrap();
    let b = rt
        .block_on(async { w.submit(next, Some(1)).await?.wait().await })
        .unwrap();
    assert_eq!(a[0].seq, 1);
    assert_eq!(b.iter().map(|a| a.seq).collect::<Vec<_>>(), [2, 3]);
    // The hashes the writer finished from callers' prefixes are the records' own.
    drop(w);
    let store = t.join();
    let stored: Vec<Record> = store.records(1, 3).map(|r| r.unwrap()).collect();
    for (r, ack) in stored.iter().zip(a.iter().chain(&b)) {
        assert_eq!(r.hash, r.compute_hash());
        assert_eq!(r.hash, ack.hash);
    }
}

/// `n` registrations of counties `{prefix}0`, `{prefix}1`, …, prepared.
fn registrations(prefix: &str, n: usize) -> Prepared {
    Prepared::new(
        (0..n)
            .map(|i| registration(&format!("{prefix}{i}")))
            .collect(),
    )
}

/// Submits `batches` in `chain` while holding the state's read lock, so that the
/// writer (which needs the write lock to decide) has every one of them queued
/// before it decides the first.
fn submit_all(
    w: &Writer,
    rt: &tokio::runtime::Runtime,
    chain: &Chain,
    batches: Vec<Prepared>,
) -> Vec<Pending> {
    let held = w.state().read().unwrap();
    let pending = batches
        .into_iter()
        .map(|b| rt.block_on(w.submit_in(chain, b)).unwrap())
        .collect();
    drop(held);
    pending
}

#[test]
fn a_big_group_is_written_on_the_commit_thread_while_the_next_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, t, rt) = start(tmp.path());
    let chain = Chain::new();
    let n = PIPELINE_EVENTS;
    let batches = vec![registrations("a", n), registrations("b", n)];
    let acks: Vec<Vec<Ack>> = submit_all(&w, &rt, &chain, batches)
        .into_iter()
        .map(|p| rt.block_on(p.wait()).unwrap())
        .collect();
    let s = w.stats();
    assert_eq!((s.groups, s.pipelined), (2, 2), "{s:?}");
    assert_eq!(
        s.overlapped, 1,
        "the second was checked while the first was written"
    );
    // A lone later batch has nothing to overlap with.
    let c = rt
        .block_on(async {
            w.submit_in(&chain, registrations("c", n))
                .await?
                .wait()
                .await
        })
        .unwrap();
    assert_eq!(w.stats().overlapped, 1);
    let seqs: Vec<u64> = acks.iter().flatten().chain(&c).map(|a| a.seq).collect();
    assert_eq!(seqs, (1..=3 * n as u64).collect::<Vec<_>>());
    assert!(!chain.is_broken());
    drop(w);
    let store = t.join();
    assert_eq!(store.head().unwrap().seq, 3 * n as u64);
    let stored: Vec<Record> = store.records(1, 3 * n as u64).map(|r| r.unwrap()).collect();
    for (r, a) in stored.iter().zip(acks.iter().flatten().chain(&c)) {
        assert_eq!((r.seq, r.hash), (a.seq, a.hash));
        assert_eq!(r.hash, r.compute_hash());
    }
}

#[test]
fn past_its_hold_the_writer_lets_a_pipelined_group_land_alone_and_unlocks() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    // No hold at all: after handing a group over, the writer waits for it, with
    // nothing checked after it, and releases the state before the next.
    let (w, t) = Writer::start_holding(store, State::new(), Box::new(SystemClock), Duration::ZERO);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let chain = Chain::new();
    let n = PIPELINE_EVENTS;
    let batches = vec![registrations("a", n), registrations("b", n)];
    for p in submit_all(&w, &rt, &chain, batches) {
        rt.block_on(p.wait()).unwrap();
    }
    let s = w.stats();
    assert_eq!((s.groups, s.pipelined), (2, 2), "{s:?}");
    assert_eq!(s.overlapped, 0, "the second waited for the first to land");
    drop(w);
    assert_eq!(t.join().head().unwrap().seq, 2 * n as u64);
}

#[test]
fn a_refused_batch_breaks_its_chain_and_nothing_after_it_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, t, rt) = start(tmp.path());
    let chain = Chain::new();
    let n = PIPELINE_EVENTS;
    // The second registers a0 again: refused by the rules. The third is valid, and
    // queued before the second is refused.
    let batches = vec![
        registrations("a", n),
        registrations("a", 1),
        registrations("c", n),
    ];
    let answers: Vec<_> = submit_all(&w, &rt, &chain, batches)
        .into_iter()
        .map(|p| rt.block_on(p.wait()))
        .collect();
    assert_eq!(answers[0].as_ref().unwrap().len(), n);
    assert!(
        matches!(answers[1], Err(AppendError::Invalid { index: Some(0), .. })),
        "{:?}",
        answers[1]
    );
    assert!(
        matches!(&answers[2], Err(AppendError::Conflict(m, _)) if m.contains("not written")),
        "{:?}",
        answers[2]
    );
    assert!(chain.is_broken());
    // Still refused later; a batch outside the chain is written.
    let later = rt.block_on(async {
        w.submit_in(&chain, registrations("d", 1))
            .await?
            .wait()
            .await
    });
    assert!(matches!(later, Err(AppendError::Conflict(..))));
    let other = rt
        .block_on(w.append(vec![registration("e0")], None))
        .unwrap();
    assert_eq!(other[0].seq, n as u64 + 1);
    drop(w);
    assert_eq!(t.join().head().unwrap().seq, n as u64 + 1);
}

#[test]
fn a_failed_pipelined_write_takes_back_the_group_checked_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    store.faults().fail_write.store(1, Ordering::SeqCst);
    let (w, t, rt) = start_over(store);
    let chain = Chain::new();
    let n = PIPELINE_EVENTS;
    let batches = vec![registrations("a", n), registrations("b", n)];
    let answers: Vec<_> = submit_all(&w, &rt, &chain, batches)
        .into_iter()
        .map(|p| rt.block_on(p.wait()))
        .collect();
    assert!(
        matches!(&answers[0], Err(AppendError::Storage(m)) if m.contains("injected write failure")),
        "{:?}",
        answers[0]
    );
    assert!(
        matches!(&answers[1], Err(AppendError::Storage(m)) if m.contains("the group before it could not be written")),
        "{:?}",
        answers[1]
    );
    let s = w.stats();
    assert_eq!((s.pipelined, s.overlapped), (1, 1), "{s:?}");
    assert!(chain.is_broken());
    {
        let st = w.state().read().unwrap();
        assert_eq!(st.head_seq, 0, "both groups were taken back from the state");
    }
    // The same counties register fine afterwards, from seq 1.
    let again = rt
        .block_on(w.append(vec![registration("a0"), registration("b0")], None))
        .unwrap();
    assert_eq!(again.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2]);
    drop(w);
    let store = t.join();
    assert_eq!(store.head().unwrap().seq, 2);
    assert_eq!(store.records(1, u64::MAX).count(), 2);
}
