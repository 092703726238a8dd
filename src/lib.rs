//! sanbao — an event-sourced treasury cash-flow scheduler for a city finance bureau
//! under the "three guarantees" (三保).
//!
//! The crate is a functional core with a thin imperative shell:
//! - pure: [`money`], [`values`], [`event`], [`canonical`], [`record`], [`state`],
//!   [`query`], [`schema`] — no I/O, no clock, deterministic;
//! - shell: [`log`] (sled store and the single writer thread), [`cli`] (the commands
//!   behind `main.rs`, with [`error`] mapping failures to exit codes), [`server`] (the
//!   HTTP service);
//! - measurement: [`bench`] (the seeded workload generator of `sanbao-bench`).
//!
//! See ARCHITECTURE.md for the map and the invariants.

pub mod bench;
pub mod canonical;
pub mod cli;
pub mod error;
pub mod event;
pub mod log;
pub mod money;
pub mod query;
pub mod record;
pub mod replay;
pub mod schema;
pub mod server;
pub mod state;
pub mod values;
