//! A [`Report`] as CSV (the `csv` crate): one file per section — `NAME-KEY.csv` when
//! the report has several sections, `NAME.csv` when it has one.
//!
//! Guarantees: UTF-8 with a byte-order mark (so Excel shows Chinese), RFC 4180
//! quoting, CRLF line ends; the first line is the column heads; amounts are plain
//! decimals in the report's unit (yuan with two decimals, 万元 with six: exact to the
//! cent), ratios four decimals, no value an empty field; text that a spreadsheet
//! would run as a formula (beginning with = + - @) is written with a leading `'`. No title block: the query
//! is in the file's name and in the JSON; a CSV stays a table a machine reads.

use super::{plain, Report, Section};

/// The byte-order mark every file starts with.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The files of `r`, as (file name, bytes), for a `--out` of stem `stem`.
pub fn files(r: &Report, stem: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    r.sections
        .iter()
        .map(|s| {
            let name = if r.sections.len() == 1 {
                format!("{stem}.csv")
            } else {
                format!("{stem}-{}.csv", s.key)
            };
            Ok((name, section(r, s)?))
        })
        .collect()
}

/// One section as one CSV file's bytes.
pub fn section(r: &Report, s: &Section) -> Result<Vec<u8>, String> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(BOM.to_vec());
    let err = |e: csv::Error| format!("cannot write CSV: {e}");
    w.write_record(s.columns.iter().map(|c| c.head.as_str()))
        .map_err(err)?;
    for row in &s.rows {
        w.write_record(row.iter().map(|c| match &c.value {
            // Text a spreadsheet would take for a formula (a county name beginning
            // with = + - @) is written as text.
            super::Value::Text(t) if t.starts_with(['=', '+', '-', '@']) => format!("'{t}"),
            v => plain(v, r.unit),
        }))
        .map_err(err)?;
    }
    w.into_inner().map_err(|e| format!("cannot write CSV: {e}"))
}
