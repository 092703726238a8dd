//! A [`Report`] as an Excel workbook (`rust_xlsxwriter`): one sheet per section.
//!
//! Each sheet starts with a title block — the report's title, the section's heading
//! and the query (as-of date or month, at-seq, head hash or `plan_sha256`, the unit) —
//! so the paper traces to the log; then the column heads, frozen, and the rows.
//! Amounts are numbers formatted `#,##0.00` (yuan) or `#,##0.000000` (万元), ratios
//! numbers formatted `0.0000`, counts integers; widths are fitted to the contents.
//!
//! Guarantees: every amount is written as the double nearest its exact decimal in
//! the unit, which Excel shows, and a reader rounds back, to the very cent (amounts
//! are below 2^53 cents); sheet names are unique, at most 31 characters, without
//! the characters Excel forbids; the same report gives the same workbook contents.

use super::{Kind, Report, Value};
use crate::lang::Unit;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// The row of the column heads in every sheet (0-based): after the title block.
pub fn head_row(r: &Report) -> u32 {
    // title, section heading, one row per meta pair, a blank row.
    2 + r.meta.len() as u32 + 1
}

/// The workbook's bytes.
pub fn workbook(r: &Report) -> Result<Vec<u8>, String> {
    build(r).map_err(|e| format!("cannot write the workbook: {e}"))
}

fn build(r: &Report) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let title = Format::new().set_bold().set_font_size(14);
    let bold = Format::new().set_bold();
    let head = Format::new()
        .set_bold()
        .set_background_color("#E8EEF5")
        .set_border_bottom(rust_xlsxwriter::FormatBorder::Thin);
    let money = Format::new().set_num_format(match r.unit {
        Unit::Yuan => "#,##0.00",
        Unit::Wan => "#,##0.000000",
    });
    let ratio = Format::new().set_num_format("0.0000");
    let int = Format::new().set_num_format("0");
    let mut names: Vec<String> = Vec::new();
    for s in &r.sections {
        let ws = wb.add_worksheet();
        ws.set_name(unique_sheet_name(&s.sheet, &mut names))?;
        let h = head_row(r);
        for (c, column) in s.columns.iter().enumerate() {
            ws.write_string_with_format(h, c as u16, &column.head, &head)?;
        }
        if s.rows.is_empty() {
            ws.write_string(h + 1, 0, &s.empty)?;
        }
        for (i, row) in s.rows.iter().enumerate() {
            let y = h + 1 + i as u32;
            for (c, cell) in row.iter().enumerate() {
                let x = c as u16;
                match &cell.value {
                    Value::Text(t) => {
                        ws.write_string(y, x, t)?;
                    }
                    Value::Money(m) => {
                        let v = match r.unit {
                            Unit::Yuan => m.cents() as f64 / 100.0,
                            Unit::Wan => m.cents() as f64 / 1_000_000.0,
                        };
                        ws.write_number_with_format(y, x, v, &money)?;
                    }
                    Value::Ratio(q) => {
                        ws.write_number_with_format(y, x, q.units() as f64 / 10_000.0, &ratio)?;
                    }
                    Value::Int(n) => {
                        ws.write_number_with_format(y, x, *n as f64, &int)?;
                    }
                    Value::Null => {}
                }
                debug_assert!(
                    s.columns[c].kind != Kind::Text
                        || matches!(cell.value, Value::Text(_) | Value::Null)
                );
            }
        }
        ws.set_freeze_panes(h + 1, 0)?;
        ws.autofit();
        // The title block is written after the widths are fitted, so its long texts
        // (a hash) do not widen the table's first columns.
        ws.write_string_with_format(0, 0, &r.title, &title)?;
        ws.write_string_with_format(1, 0, &s.title, &bold)?;
        for (i, (k, v)) in r.meta.iter().enumerate() {
            let row = 2 + i as u32;
            ws.write_string(row, 0, k)?;
            ws.write_string(row, 1, v)?;
        }
    }
    if r.sections.is_empty() {
        let ws = wb.add_worksheet();
        ws.write_string_with_format(0, 0, &r.title, &title)?;
    }
    wb.save_to_buffer()
}

/// A sheet name Excel takes: the forbidden characters replaced, at most 31
/// characters, unique among `taken` (case-insensitively) by a numeric suffix.
fn unique_sheet_name(wanted: &str, taken: &mut Vec<String>) -> String {
    let clean: String = wanted
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let clean = clean.trim_matches('\'').to_string();
    let base: String = clean.chars().take(31).collect();
    let base = if base.is_empty() {
        "Sheet".to_string()
    } else {
        base
    };
    let mut name = base.clone();
    let mut n = 2;
    while taken
        .iter()
        .any(|t| t.to_lowercase() == name.to_lowercase())
    {
        let suffix = format!(" {n}");
        name = base
            .chars()
            .take(31 - suffix.chars().count())
            .collect::<String>()
            + &suffix;
        n += 1;
    }
    taken.push(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_legal_and_unique() {
        let mut taken = Vec::new();
        assert_eq!(unique_sheet_name("a/b", &mut taken), "a_b");
        assert_eq!(unique_sheet_name("A_B", &mut taken), "A_B 2");
        let long = "库".repeat(40);
        let n = unique_sheet_name(&long, &mut taken);
        assert_eq!(n.chars().count(), 31);
        let n2 = unique_sheet_name(&long, &mut taken);
        assert_eq!(n2.chars().count(), 31);
        assert_ne!(n, n2);
    }
}
