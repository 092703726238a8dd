//! Papers over HTTP (issue 16): the read routes answer `?format=xlsx|csv` with the
//! same workbook or CSV the CLI's `--out` writes, in `?lang=zh|en` (default zh: a
//! file is for the bureau) and `?unit=yuan|wan`.
//!
//! A CSV holds one section: `?section=KEY` names it (the keys are listed in the
//! OpenAPI document per route); a report of one section needs none, and asking a
//! CSV of a report of several without one is a 400 that lists them. Guarantees:
//! `format=json` (the default) is the route's JSON, byte for byte as before; each
//! file comes with its `Content-Type` and a `Content-Disposition: attachment` naming
//! it; a parameter that does not fit is a 400 naming it, before anything is computed.

use super::error::ApiError;
use super::params::Params;
use crate::lang::{Lang, Unit};
use crate::report::{self, Format, Report};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

/// The query parameters every paper route takes beside its own.
pub const PARAMS: [&str; 4] = ["format", "lang", "unit", "section"];

/// The `Content-Type` of a workbook.
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// The `Content-Type` of a CSV file.
pub const CSV_TYPE: &str = "text/csv; charset=utf-8";

/// How a read route answers.
#[derive(Clone, Debug)]
pub struct PaperQuery {
    /// json (the default), xlsx or csv.
    pub format: Format,
    /// The language of a file.
    pub lang: Lang,
    /// The unit of a file's amounts.
    pub unit: Unit,
    /// The CSV section asked.
    pub section: Option<String>,
}

impl PaperQuery {
    /// Reads `format`, `lang`, `unit` and `section`; `sections` are the route's keys.
    pub fn parse(p: &Params, sections: &[&str]) -> Result<PaperQuery, ApiError> {
        let format = match p.text("format") {
            None => Format::Json,
            Some(f) => Format::parse(f).ok_or_else(|| {
                ApiError::bad_request(
                    "format",
                    format!("format must be json, xlsx or csv, not {f:?}"),
                )
            })?,
        };
        let lang = match p.text("lang") {
            None => Lang::Zh,
            Some("zh") => Lang::Zh,
            Some("en") => Lang::En,
            Some(l) => {
                return Err(ApiError::bad_request(
                    "lang",
                    format!("lang must be zh or en, not {l:?}"),
                ))
            }
        };
        let unit = match p.text("unit") {
            None => Unit::Yuan,
            Some(u) => match u {
                "yuan" => Unit::Yuan,
                "wan" => Unit::Wan,
                _ => {
                    return Err(ApiError::bad_request(
                        "unit",
                        format!("unit must be yuan or wan, not {u:?}"),
                    ))
                }
            },
        };
        let section = p.text("section").map(str::to_string);
        if let Some(s) = &section {
            if format != Format::Csv {
                return Err(ApiError::bad_request(
                    "section",
                    "section goes with format=csv (a workbook holds every section)",
                ));
            }
            if !sections.contains(&s.as_str()) {
                return Err(ApiError::bad_request(
                    "section",
                    format!(
                        "no section {s:?} here; this route has {}",
                        sections.join(", ")
                    ),
                ));
            }
        } else if format == Format::Csv && sections.len() > 1 {
            return Err(ApiError::bad_request(
                "section",
                format!(
                    "format=csv holds one section: add section= one of {}",
                    sections.join(", ")
                ),
            ));
        }
        Ok(PaperQuery {
            format,
            lang,
            unit,
            section,
        })
    }

    /// True when the route answers its JSON.
    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// The file of `r`, named `STEM.xlsx` or `STEM-SECTION.csv`.
    pub fn respond(&self, r: &Report, stem: &str) -> Result<Response, ApiError> {
        let (bytes, name, ctype) = match self.format {
            Format::Xlsx => (
                report::xlsx::workbook(r).map_err(ApiError::unavailable)?,
                format!("{stem}.xlsx"),
                XLSX_TYPE,
            ),
            Format::Csv => {
                let key = self
                    .section
                    .as_deref()
                    .or_else(|| r.sections.first().map(|s| s.key))
                    .unwrap_or("");
                let s = r.sections.iter().find(|s| s.key == key).ok_or_else(|| {
                    ApiError::not_found(format!("no section {key:?} in this answer"))
                })?;
                let name = if r.sections.len() == 1 {
                    format!("{stem}.csv")
                } else {
                    format!("{stem}-{key}.csv")
                };
                (
                    report::csv::section(r, s).map_err(ApiError::unavailable)?,
                    name,
                    CSV_TYPE,
                )
            }
            Format::Json => unreachable!("JSON is answered by the route itself"),
        };
        let mut resp = Response::new(axum::body::Body::from(bytes));
        *resp.status_mut() = StatusCode::OK;
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        // The stem is built from ASCII codes, dates and months only.
        let disposition = format!("attachment; filename=\"{name}\"");
        if let Ok(v) = HeaderValue::from_str(&disposition) {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        Ok(resp)
    }
}

/// The routes' allowed parameters: `own` and [`PARAMS`].
pub fn allowed(own: &[&'static str]) -> Vec<&'static str> {
    own.iter().copied().chain(PARAMS).collect()
}
