//! Where a read command's answer goes (issue 16): a table for people on standard
//! output in the asked language and unit, fitted to 120 columns unless `--wide`; or,
//! with `--out FILE`, a workbook, CSV files or the JSON object, by FILE's extension.
//!
//! Guarantees: `--out`'s extension is checked before anything is computed (a usage
//! error, exit 2, naming the formats); files are written whole or not at all
//! ([`super::output::write_papers`]); `--json` output is the query's object exactly
//! as before — papers are made from it, never the other way round.

use super::output::{emit, note, write_papers, Style};
use super::PaperArgs;
use crate::error::CliError;
use crate::lang::Lang;
use crate::report::{self, Format, Report};
use std::path::{Path, PathBuf};

/// An answer made under the state, delivered after it is let go.
pub(crate) enum Paper {
    /// Text (a table or a JSON line) for standard output.
    Stdout(String),
    /// Files to write, with what to say on standard error once they are written.
    Files(Vec<(PathBuf, Vec<u8>)>, String),
}

impl Paper {
    /// Prints or writes the answer.
    pub(crate) fn deliver(self) -> Result<(), CliError> {
        match self {
            Paper::Stdout(s) => emit(&s),
            Paper::Files(files, said) => {
                write_papers(&files)?;
                note(&said);
                Ok(())
            }
        }
    }
}

/// Checks `--out` before the work: an extension sanbao writes, and a file name.
pub(crate) fn check(a: &PaperArgs) -> Result<(), CliError> {
    if let Some(p) = &a.out {
        if p.file_name().is_none() {
            return Err(CliError::usage(format!(
                "--out {}: give a file name (e.g. monitor.xlsx)",
                p.display()
            ))
            .zh(format!(
                "--out {}：请给出文件名（如 监测.xlsx）",
                p.display()
            )));
        }
        if Format::of_path(p).is_none() {
            return Err(CliError::usage(format!(
                "--out {}: the extension picks the format; use .xlsx, .csv or .json",
                p.display()
            ))
            .zh(format!(
                "--out {}：扩展名决定格式，请用 .xlsx, .csv or .json（Excel、CSV 或 JSON）",
                p.display()
            )));
        }
    }
    Ok(())
}

/// The language of the answer (settled on the client before; English otherwise).
pub(crate) fn lang(a: &PaperArgs) -> Lang {
    a.lang.unwrap_or_default()
}

/// The answer: the JSON line when `json` (or `--out F.json`), else the report, as a
/// table or as files.
pub(crate) fn make(
    a: &PaperArgs,
    json: bool,
    json_line: impl FnOnce() -> Result<String, CliError>,
    report: impl FnOnce() -> Report,
) -> Result<Paper, CliError> {
    let Some(out) = &a.out else {
        if json {
            return Ok(Paper::Stdout(json_line()?));
        }
        let style = Style::detect();
        let width = (!a.wide).then_some(report::text::DEFAULT_WIDTH);
        return Ok(Paper::Stdout(report::text::render(
            &report(),
            style.colour(),
            width,
        )));
    };
    let format = Format::of_path(out).ok_or_else(|| CliError::usage("--out: unknown format"))?;
    let files: Vec<(PathBuf, Vec<u8>)> = match format {
        Format::Json => vec![(out.clone(), json_line()?.into_bytes())],
        Format::Xlsx => vec![(
            out.clone(),
            report::xlsx::workbook(&report()).map_err(CliError::io)?,
        )],
        Format::Csv => {
            let dir = out.parent().unwrap_or_else(|| Path::new(""));
            let stem = out
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            report::csv::files(&report(), &stem)
                .map_err(CliError::io)?
                .into_iter()
                .map(|(name, bytes)| (dir.join(name), bytes))
                .collect()
        }
    };
    let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    let said = match lang(a) {
        Lang::Zh => format!("已写入 {}", names.join("、")),
        Lang::En => format!("wrote {}", names.join(", ")),
    };
    Ok(Paper::Files(files, said))
}
