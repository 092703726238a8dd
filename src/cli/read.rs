//! `position`, `monitor` and `replay`: the read side on the command line.

use super::{MonitorArgs, PositionArgs, ReplayArgs};
use crate::error::CliError;
use std::path::Path;

/// `sanbao position` (SPEC §6.1).
pub fn position(_dir: &Path, _a: PositionArgs) -> Result<(), CliError> {
    Err(CliError::io("position is not built yet"))
}

/// `sanbao monitor` (SPEC §6.2).
pub fn monitor(_dir: &Path, _a: MonitorArgs) -> Result<(), CliError> {
    Err(CliError::io("monitor is not built yet"))
}

/// `sanbao replay` (SPEC §5).
pub fn replay(_dir: &Path, _a: ReplayArgs) -> Result<(), CliError> {
    Err(CliError::io("replay is not built yet"))
}
