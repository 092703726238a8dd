//! Criterion benchmarks of sanbao's hot functions (issue 6), on records and states
//! from the seeded workload generator (`sanbao::bench::workload`):
//!
//! - `record/*`: the record's JSON value, its canonical JSON, SHA-256, the whole hash
//!   (`Record::compute_hash`), and the stored form (`encode`, `decode`);
//! - `event/parse`: one event from JSON text, as `append` and HTTP read it;
//! - `state/check`, `state/apply_undo`, `state/fold`: the rules, the fold and its
//!   undo, on a state of 300 counties with a year of history;
//! - `plan/300_counties`: the month's plan from that folded state.
//!
//! Run: `cargo bench --bench hot` (a filter after `--` picks benchmarks).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sanbao::bench::workload::{Config, Generator};
use sanbao::bench::{fold_unhashed, unhashed_record};
use sanbao::event::Event;
use sanbao::record::{Record, GENESIS};
use sanbao::state::{NoPlans, State};
use sanbao::values::Month;
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::Duration;

/// A year of history for `counties` (2021), the state folded from it, and the
/// events of the month after (January 2022) in recording order.
fn history(counties: u32) -> (State, Vec<Event>) {
    let mut g = Generator::new(Config::new(20210101, counties));
    let year = g.until(Month::new(2022, 1).unwrap());
    let next = g.until(Month::new(2022, 2).unwrap());
    let state = fold_unhashed(year.into_iter().map(|g| g.event));
    (state, next.into_iter().map(|g| g.event).collect())
}

/// Records of a realistic mix (the first events of January 2022), with real hashes.
fn records(events: &[Event], n: usize) -> Vec<Record> {
    let mut prev = GENESIS;
    events
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, e)| {
            let r = Record::new(1 + i as u64, 1_795_766_400_000_000, None, prev, e.clone());
            prev = r.hash;
            r
        })
        .collect()
}

fn bench_record(c: &mut Criterion, recs: &[Record]) {
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("to_json_value", |b| {
        b.iter(|| {
            for r in recs {
                black_box(r.to_json());
            }
        })
    });
    let values: Vec<_> = recs.iter().map(|r| r.to_json()).collect();
    g.bench_function("canonical_json", |b| {
        b.iter(|| {
            for v in &values {
                black_box(sanbao::canonical::to_canonical_vec(v));
            }
        })
    });
    let bytes: Vec<_> = values
        .iter()
        .map(sanbao::canonical::to_canonical_vec)
        .collect();
    g.bench_function("sha256_of_canonical", |b| {
        b.iter(|| {
            for x in &bytes {
                black_box(Sha256::digest(x));
            }
        })
    });
    g.bench_function("compute_hash", |b| {
        b.iter(|| {
            for r in recs {
                black_box(r.compute_hash());
            }
        })
    });
    // The compact form, as blocks store records (seq and prev_hash from the place).
    g.bench_function("encode", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            for r in recs {
                out.clear();
                r.encode_compact_into(&mut out);
                black_box(&out);
            }
        })
    });
    let stored: Vec<(Vec<u8>, u64, _)> = recs
        .iter()
        .map(|r| {
            let mut out = Vec::new();
            r.encode_compact_into(&mut out);
            (out, r.seq, r.prev_hash)
        })
        .collect();
    g.bench_function("decode", |b| {
        b.iter(|| {
            for (s, seq, prev) in &stored {
                black_box(Record::decode_at(s, *seq, *prev).unwrap());
            }
        })
    });
    g.bench_function("decode_and_verify_hash", |b| {
        b.iter(|| {
            for (s, seq, prev) in &stored {
                let r = Record::decode_at(s, *seq, *prev).unwrap();
                assert_eq!(r.compute_hash(), r.hash);
            }
        })
    });
    g.finish();
}

fn bench_event(c: &mut Criterion, events: &[Event]) {
    let texts: Vec<String> = events.iter().map(|e| e.to_json().to_string()).collect();
    let mut g = c.benchmark_group("event");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(sanbao::event::parse_input(t).unwrap());
            }
        })
    });
    g.finish();
}

fn bench_state(c: &mut Criterion, state: &State, next: &[Event], n: usize) {
    // Events of the next month that pass against the folded state as it stands.
    let passing: Vec<Event> = next
        .iter()
        .filter(|e| state.check(e, &mut NoPlans).is_ok())
        .take(n)
        .cloned()
        .collect();
    let mut g = c.benchmark_group("state");
    g.throughput(Throughput::Elements(passing.len() as u64));
    g.bench_function("check", |b| {
        b.iter(|| {
            for e in &passing {
                black_box(state.check(e, &mut NoPlans)).unwrap();
            }
        })
    });
    let seq = state.head_seq + 1;
    let recs: Vec<Record> = passing
        .iter()
        .map(|e| unhashed_record(seq, e.clone()))
        .collect();
    g.bench_function("apply_undo", |b| {
        let mut s = state.clone();
        b.iter(|| {
            for r in &recs {
                let u = s.apply(r);
                s.undo(u, r);
            }
        })
    });
    // The replay core without decoding: the first `n` events of the history, folded
    // into an empty state.
    let mut g2 = Generator::new(Config::new(20210101, 300));
    let first: Vec<Record> = g2
        .by_ref()
        .take(n)
        .enumerate()
        .map(|(i, g)| unhashed_record(1 + i as u64, g.event))
        .collect();
    g.throughput(Throughput::Elements(first.len() as u64));
    g.bench_function("fold", |b| {
        b.iter_batched(
            State::new,
            |mut s| {
                for r in &first {
                    s.fold(r);
                }
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn hot(c: &mut Criterion) {
    let (state, next) = history(300);
    let recs = records(&next, 1000);
    bench_record(c, &recs);
    bench_event(c, &next[..1000.min(next.len())]);
    bench_state(c, &state, &next, 1000);
    let mut g = c.benchmark_group("plan");
    g.bench_function("300_counties", |b| {
        b.iter(|| {
            black_box(sanbao::query::plan::plan(
                &state,
                Month::new(2022, 1).unwrap(),
            ))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = hot
}
criterion_main!(benches);
