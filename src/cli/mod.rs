//! The command line (SPEC §5): parsing with clap, one function per command, and the
//! exit-code discipline (one `error:` line on stderr, codes from [`crate::error`]).
//!
//! Commands that write create the log on first use; `--data` (or `SANBAO_DATA`)
//! names the directory, default `./sanbao-data`.
//!
//! Where things live:
//! - `args.rs`: the clap definitions ([`Cli`], [`Command`], [`TokenCommand`] and the
//!   argument structs); their doc comments are the `--help` text and the man pages;
//! - `run.rs`: [`main_with_args`] (parsing, usage errors, logging), [`data_dir`], the
//!   choice between forwarding to the server that holds DIR and running here, and the
//!   dispatch of every parsed command (`execute`), init and completions inline;
//! - `target.rs`: `Target` (the directory, or the server that holds it) and
//!   `StateRef`, opening and folding a directory ([`open_with_state`]), `--at-seq`
//!   bounds, audits, and the writer a command appends through;
//! - `write.rs`: append, import and demo (with the built-in [`SAMPLE_EVENTS`]);
//! - `maintain.rs`: verify, export and `export --salvage`, restore, truncate;
//! - `read.rs` (position, monitor, replay), `plan.rs` (plan, forecast, `--issue`),
//!   `chart.rs` (chart cash|levels|forecast: SVG files through [`crate::chart`]),
//!   `serve.rs` (serve, follow, token), `sink.rs` (sink postgres, through
//!   [`crate::sink`]), `status.rs` (status), `forward.rs` (a command
//!   run by the server that holds DIR), [`output`] (tables, colours, progress bars and
//!   the command's standard streams).

mod args;
mod chart;
mod forward;
mod maintain;
mod notices;
pub mod output;
mod papers;
mod plan;
mod read;
mod run;
mod serve;
mod sink;
mod status;
mod target;
mod whatif;
mod write;

pub use args::{
    AssessArgs, ChartArgs, ChartCommand, ChartOut, Cli, Command, ForecastArgs, MonitorArgs,
    NoticesArgs, PaperArgs, PlanArgs, PlanCommand, PlanExecuteArgs, PlanStatusArgs, PositionArgs,
    ReplayArgs, ReviewBudgetArgs, ReviewCommand, ScorecardArgs, SinkCommand, TimeArgs,
    TokenCommand,
};
pub use run::{data_dir, main_with_args};
pub use target::open_with_state;
pub use write::SAMPLE_EVENTS;

// For the command modules beside this one (`super::Target`, `super::execute`, …).
pub(crate) use args::command_name;
pub(crate) use plan::{prepare_execution, status_of};
pub(crate) use run::execute;
pub(crate) use target::Target;
