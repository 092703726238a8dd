//! Read models over the folded state: position (§6.1), monitor (§6.2), plan (§6.3),
//! forecast (§6.4). Pure functions of the state and their arguments.

pub mod forecast;
pub mod monitor;
pub mod plan;
pub mod position;

use crate::state::State;
use crate::values::{Month, Sha256Hex};

/// The plan_sha256 of `month` over `state` (SPEC §6.3), used to check `plan_issued`.
pub fn plan_sha256(_state: &State, month: Month) -> Result<Sha256Hex, String> {
    Err(format!(
        "plan_issued cannot be recorded yet: the planner that recomputes the plan of {month} is not built in this version"
    ))
}
