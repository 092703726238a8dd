//! `sanbao chart cash|levels|forecast … --out FILE.svg`: the charts of
//! [`crate::chart`] written to a file.
//!
//! Guarantees: everything asked is checked before anything is written — `--out`
//! must end in `.svg`, `--at-seq` be within the log, the county be registered by the
//! last day, the range run forwards and hold at most
//! [`crate::query::daily::MAX_DAILY_DAYS`] days, the date or month have a county
//! registered — and each mistake is one usage error (exit 2), as `monitor --daily`
//! says it; the SVG is made whole in memory, then written through
//! [`output::write_papers`] (a temporary file renamed into place), so a failure
//! (exit 1 for a file that cannot be written) never leaves a partial file, and an
//! existing file stays as it was. Nothing is printed on success, like `export
//! --out`. Through a server holding DIR the client writes the file the same way
//! (see `forward`).

use super::args::{ChartArgs, ChartCommand};
use super::output;
use super::read::{check_county, county_arg};
use super::Target;
use crate::chart;
use crate::error::CliError;
use crate::lang::Lang;
use std::path::Path;

/// `sanbao chart …`.
pub(super) fn chart(t: &Target, a: ChartArgs) -> Result<(), CliError> {
    let opts = a.chart.out().clone();
    check_out(&opts.out)?;
    // Settled on the client before (Command::settle): Chinese unless SANBAO_LANG.
    let lang = opts.lang.unwrap_or(Lang::Zh);
    let name = match &a.chart {
        ChartCommand::Cash { .. } => "chart cash",
        ChartCommand::Levels { .. } => "chart levels",
        ChartCommand::Forecast { .. } => "chart forecast",
    };
    let usage = |e: chart::ChartError| {
        CliError::usage(format!("{name}: {e}")).zh(format!("{name}：{}", e.zh()))
    };
    // Made under the state, written after it is let go.
    let svg = {
        let state = t.state(opts.at_seq)?;
        match a.chart {
            ChartCommand::Cash {
                county, from, to, ..
            } => {
                let id = county_arg(&county)?;
                let to = to.or(state.max_effective_date).ok_or_else(|| {
                    CliError::usage("chart cash: the log holds no events; give --to DATE")
                })?;
                let from = from.unwrap_or_else(|| {
                    chart::default_cash_range(&state, Some(to)).map_or(to, |(f, _)| f)
                });
                if from > to {
                    return Err(CliError::usage(format!(
                        "chart cash: --from {from} is after --to {to}"
                    )));
                }
                check_county(&state, &id, Some(to))?;
                chart::cash(&state, &id, from, to, lang).map_err(usage)?
            }
            ChartCommand::Levels { as_of, .. } => {
                chart::levels(&state, as_of, lang).map_err(usage)?
            }
            ChartCommand::Forecast { from, months, .. } => {
                chart::forecast_chart(&state, from, months, lang).map_err(|e| match e {
                    chart::ChartError::NoCounty(_) => CliError::usage(format!(
                        "chart forecast: --from {from}: no county is registered by the end of {from} (at seq {}): nothing to forecast",
                        state.head_seq
                    )),
                    e => usage(e),
                })?
            }
        }
    };
    output::write_papers(&[(opts.out.clone(), svg.into_bytes())])
}

/// `--out` must name a file ending in `.svg` (any case).
fn check_out(out: &Path) -> Result<(), CliError> {
    let ok = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"))
        && out.file_stem().is_some_and(|s| !s.is_empty());
    if ok {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "--out {}: a chart is an SVG file; give a name ending in .svg",
            out.display()
        )))
    }
}
