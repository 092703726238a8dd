//! `sanbao-bench plan`: a year (or `--months`) of history for N counties, folded
//! without hashes, then the next month's plan computed from the folded state.
//!
//! Guarantees: only the plan itself is timed (each run apart); the plan's shape and
//! hash are reported so that runs can be compared.

use crate::common::{ms, note};
use sanbao::bench::workload::{Config, Generator};
use sanbao::values::Month;
use serde_json::{json, Value};
use std::time::Instant;

/// `sanbao-bench plan`: the plan of the month after `months` of history for
/// `counties` counties, computed `runs` times.
pub(crate) fn plan(
    seed: u64,
    counties: u32,
    months: u32,
    runs: usize,
) -> (&'static str, Value, Value) {
    let cfg = Config::new(seed, counties);
    let start = Month::new(cfg.start_year, 1).expect("valid");
    let month = start.add(months as i32).expect("valid month");
    let params = json!({"counties": counties, "history_months": months, "month": month.to_string(), "runs": runs});
    note(format!(
        "generating {months} months of history for {counties} counties"
    ));
    let t = Instant::now();
    let events: Vec<_> = Generator::new(cfg)
        .until(month)
        .into_iter()
        .map(|g| g.event)
        .collect();
    let generate = t.elapsed();
    let n = events.len();
    note(format!("folding {n} events"));
    let t = Instant::now();
    let state = sanbao::bench::fold_unhashed(events);
    let fold = t.elapsed();
    let mut times = Vec::new();
    let mut shape = Value::Null;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let p = sanbao::query::plan::plan(&state, month);
        times.push(t.elapsed());
        shape = json!({"lines": p.lines.len(), "counties": p.counties.len(),
                       "total_planned": p.total_planned.to_string(), "total_funded": p.total_funded.to_string(),
                       "plan_sha256": p.plan_sha256.to_hex()});
    }
    let mut sorted = times.clone();
    sorted.sort();
    let results = json!({
        "events": n, "generate_s": generate.as_secs_f64(), "fold_unhashed_s": fold.as_secs_f64(),
        "plan_ms_min": ms(sorted[0]), "plan_ms_median": ms(sorted[sorted.len() / 2]),
        "plan_ms_max": ms(sorted[sorted.len() - 1]),
        "plan_ms": times.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        "plan": shape,
    });
    ("plan", params, results)
}
