//! A [`Report`] as text for a terminal: the title, the query, the notes, then each
//! section's heading and its aligned table.
//!
//! Guarantees: columns are aligned by display width (Chinese characters count two);
//! a table wider than the limit (120 columns by default, none with `--wide`) is cut
//! into parts of whole columns, each repeating the row's identifying columns, so no
//! line is longer than the limit unless one column alone is; colour (ANSI) only when
//! asked, and never the only sign of a status: the words are always written.

use super::{show, Kind, Report, Section, Tone};
use unicode_width::UnicodeWidthStr;

/// The width tables are fitted to unless `--wide`.
pub const DEFAULT_WIDTH: usize = 120;

/// The ANSI code of a tone.
fn code(t: Tone) -> Option<&'static str> {
    match t {
        Tone::Plain => None,
        Tone::Good => Some("32"),
        Tone::Warn => Some("33"),
        Tone::Bad => Some("1;31"),
        Tone::Info => Some("36"),
        Tone::Dim => Some("2"),
    }
}

fn paint(color: bool, c: Option<&str>, s: &str) -> String {
    match c {
        Some(c) if color => format!("\x1b[{c}m{s}\x1b[0m"),
        _ => s.to_string(),
    }
}

fn bold(color: bool, s: &str) -> String {
    paint(color, Some("1"), s)
}

/// The whole report; `width` is the longest line wanted (`None`: one line per row).
pub fn render(r: &Report, color: bool, width: Option<usize>) -> String {
    let mut out = String::new();
    out.push_str(&bold(color, &r.title));
    out.push('\n');
    if !r.meta.is_empty() {
        let sep = r.lang.pick("：", " ");
        let parts: Vec<String> = r.meta.iter().map(|(k, v)| format!("{k}{sep}{v}")).collect();
        let mut line = String::from(" ");
        for p in parts {
            let candidate = if line.trim().is_empty() {
                format!(" {p}")
            } else {
                format!("{line} · {p}")
            };
            if width.is_some_and(|w| UnicodeWidthStr::width(candidate.as_str()) > w)
                && !line.trim().is_empty()
            {
                out.push_str(&line);
                out.push('\n');
                line = format!(" {p}");
            } else {
                line = candidate;
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    for (tone, n) in &r.notes {
        out.push_str("  ");
        out.push_str(&paint(color, code(*tone), n));
        out.push('\n');
    }
    for s in &r.sections {
        out.push('\n');
        out.push_str(&bold(color, &s.title));
        out.push('\n');
        if s.rows.is_empty() {
            out.push_str("  ");
            out.push_str(&s.empty);
            out.push('\n');
        } else {
            table(&mut out, s, r.unit, color, width);
        }
    }
    out
}

/// One section's table, cut into parts of whole columns to fit `width`.
fn table(
    out: &mut String,
    s: &Section,
    unit: crate::lang::Unit,
    color: bool,
    width: Option<usize>,
) {
    let texts: Vec<Vec<String>> = s
        .rows
        .iter()
        .map(|r| r.iter().map(|c| show(&c.value, unit)).collect())
        .collect();
    let n = s.columns.len();
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            texts
                .iter()
                .map(|r| UnicodeWidthStr::width(r[i].as_str()))
                .chain(std::iter::once(UnicodeWidthStr::width(
                    s.columns[i].head.as_str(),
                )))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let keys = s.keys.min(n);
    let mut parts: Vec<Vec<usize>> = Vec::new();
    let base = 2 + (0..keys).map(|i| widths[i] + 2).sum::<usize>();
    let mut current: Vec<usize> = (0..keys).collect();
    let mut used = base;
    for (i, w) in widths.iter().enumerate().skip(keys) {
        let w = w + 2;
        if let Some(limit) = width {
            if current.len() > keys && used + w - 2 > limit {
                parts.push(std::mem::replace(&mut current, (0..keys).collect()));
                used = base;
            }
        }
        current.push(i);
        used += w;
    }
    parts.push(current);
    for (p, cols) in parts.iter().enumerate() {
        if p > 0 {
            out.push('\n');
        }
        let line = |out: &mut String, cells: Vec<(String, Option<&str>)>| {
            out.push_str("  ");
            let last = cells.len().saturating_sub(1);
            for (j, (text, c)) in cells.into_iter().enumerate() {
                let i = cols[j];
                let pad = widths[i] - UnicodeWidthStr::width(text.as_str());
                let painted = paint(color, c, &text);
                if s.columns[i].kind == Kind::Text {
                    out.push_str(&painted);
                    if j != last {
                        out.push_str(&" ".repeat(pad));
                    }
                } else {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(&painted);
                }
                if j != last {
                    out.push_str("  ");
                }
            }
            out.push('\n');
        };
        line(
            out,
            cols.iter()
                .map(|&i| (s.columns[i].head.clone(), Some("2")))
                .collect(),
        );
        for (r, row) in s.rows.iter().enumerate() {
            line(
                out,
                cols.iter()
                    .map(|&i| (texts[r][i].clone(), code(row[i].tone)))
                    .collect(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{col, Cell, Kind, Report, Section};
    use super::*;
    use crate::lang::{Lang, Unit};
    use crate::money::Money;

    fn report(cols: usize, unit: Unit) -> Report {
        let mut s = Section::new(
            "t",
            "表",
            "表",
            (0..cols)
                .map(|i| {
                    let mut c = col(
                        Lang::Zh,
                        "县区",
                        "county",
                        if i == 0 { Kind::Text } else { Kind::Money },
                    );
                    c.head = format!("列{i}");
                    c
                })
                .collect(),
            "（无）",
        );
        s.row(
            (0..cols)
                .map(|i| {
                    if i == 0 {
                        Cell::text("建昌县")
                    } else {
                        Cell::money(Money::from_cents(12_345_678_901 * i as i128))
                    }
                })
                .collect(),
        );
        Report {
            name: "t",
            lang: Lang::Zh,
            unit,
            title: "标题".into(),
            meta: vec![("截至".into(), "2021-07-31".into())],
            notes: vec![],
            sections: vec![s],
        }
    }

    #[test]
    fn wide_tables_are_cut_to_fit_and_keep_the_key_column() {
        let r = report(12, Unit::Yuan);
        let fitted = render(&r, false, Some(DEFAULT_WIDTH));
        assert!(
            fitted
                .lines()
                .all(|l| UnicodeWidthStr::width(l) <= DEFAULT_WIDTH),
            "{fitted}"
        );
        // Every part repeats the county.
        let parts = fitted.lines().filter(|l| l.contains("建昌县")).count();
        assert!(parts >= 2, "{fitted}");
        // Every value is still there, once.
        for i in 1..12 {
            let v = Money::from_cents(12_345_678_901 * i as i128).grouped();
            assert_eq!(fitted.matches(&v).count(), 1, "{v} in {fitted}");
        }
        let wide = render(&r, false, None);
        assert_eq!(wide.lines().filter(|l| l.contains("建昌县")).count(), 1);
        assert!(wide
            .lines()
            .any(|l| UnicodeWidthStr::width(l) > DEFAULT_WIDTH));
        assert!(!fitted.contains('\x1b'));
        assert!(render(&r, true, None).contains("\x1b[1m标题"));
    }

    #[test]
    fn wan_is_exact() {
        let r = report(2, Unit::Wan);
        let t = render(&r, false, None);
        assert!(t.contains("12,345.678901"), "{t}");
    }
}
