//! `plan` and `forecast`: the planner on the command line.

use super::{ForecastArgs, PlanArgs};
use crate::error::CliError;
use std::path::Path;

/// `sanbao plan` (SPEC §6.3, §8.31).
pub fn plan(_dir: &Path, _a: PlanArgs) -> Result<(), CliError> {
    Err(CliError::io("plan is not built yet"))
}

/// `sanbao forecast` (SPEC §6.4).
pub fn forecast(_dir: &Path, _a: ForecastArgs) -> Result<(), CliError> {
    Err(CliError::io("forecast is not built yet"))
}
