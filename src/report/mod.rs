//! Papers (issue 16): one document model for every answer a person reads — the
//! tables of `position`, `monitor`, `plan`, `forecast`, `replay` and `monitor
//! --daily` — and its four renderings: aligned text for a terminal ([`text`]), an
//! Excel workbook ([`xlsx`]), CSV files ([`csv`]) and HTML tables for the web desk
//! ([`html`]).
//!
//! A [`Report`] is built from a query's output by [`build`] in one language and one
//! unit; it holds typed values (amounts as [`Money`], levels as [`Ratio`]), never
//! formatted numbers, so each rendering writes them in its own way: grouped text for
//! people, numbers with a format in Excel, plain decimals in CSV.
//!
//! Guarantees: pure and deterministic (the same query output, language and unit give
//! the same bytes); every amount and ratio of a report is the query's own value,
//! exact to the cent (tested against `--json` by reading the files back); JSON and
//! hashes are never touched — a report is made from the answer, not the other way.

pub mod build;
pub mod csv;
pub mod html;
pub mod text;
pub mod xlsx;

use crate::lang::{Lang, Unit};
use crate::money::{Money, Ratio};

/// One answer as a paper: a title, the query it answers, notes and sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The command it answers (`position`, `monitor`, `plan`, `forecast`, `replay`,
    /// `daily`), for file names.
    pub name: &'static str,
    /// The language of its words.
    pub lang: Lang,
    /// The unit of its amounts.
    pub unit: Unit,
    /// Its title.
    pub title: String,
    /// The query, so the paper traces to the log: (label, value) pairs such as the
    /// as-of date, the at-seq, the head hash or `plan_sha256`, and the unit.
    pub meta: Vec<(String, String)>,
    /// Lines said under the title (an empty log, a plan's emergency advice …).
    pub notes: Vec<(Tone, String)>,
    /// The tables, in order.
    pub sections: Vec<Section>,
}

/// One table of a report (one sheet of a workbook, one CSV file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Its code (`counties`, `payroll` …): CSV files are named `NAME-KEY.csv`.
    pub key: &'static str,
    /// Its heading.
    pub title: String,
    /// The sheet name in a workbook (unique in the report, at most 31 characters).
    pub sheet: String,
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows, each with one cell per column.
    pub rows: Vec<Vec<Cell>>,
    /// What to say when there is no row.
    pub empty: String,
    /// How many leading columns identify a row (repeated when a wide table is split).
    pub keys: usize,
}

/// A column: its head and the kind of its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The head.
    pub head: String,
    /// The kind of its values (alignment, Excel number format).
    pub kind: Kind,
}

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Words, ids, dates (left-aligned).
    Text,
    /// Amounts (right-aligned; in the report's unit).
    Money,
    /// Levels and covers, four decimals (right-aligned).
    Ratio,
    /// Counts and seqs (right-aligned).
    Int,
}

/// One value of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Text.
    Text(String),
    /// An amount.
    Money(Money),
    /// A ratio.
    Ratio(Ratio),
    /// An integer.
    Int(i64),
    /// No value (`null` in JSON): shown as —, an empty cell in Excel and CSV.
    Null,
}

/// How urgent a cell looks (colour on a terminal; never the only sign: the words
/// say it too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tone {
    /// Nothing to note.
    #[default]
    Plain,
    /// Good (paid, normal, reproduced).
    Good,
    /// Needs attention (low, due, a positive shortfall in a minor place).
    Warn,
    /// Bad (warning, late, arrears, not reproduced).
    Bad,
    /// Noteworthy but not bad (idle).
    Info,
    /// Quiet (no value).
    Dim,
}

/// A cell: a value and its tone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The value.
    pub value: Value,
    /// Its tone.
    pub tone: Tone,
}

impl Cell {
    /// Plain text.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell {
            value: Value::Text(s.into()),
            tone: Tone::Plain,
        }
    }
    /// Text in a tone.
    pub fn toned(s: impl Into<String>, tone: Tone) -> Cell {
        Cell {
            value: Value::Text(s.into()),
            tone,
        }
    }
    /// An amount.
    pub fn money(m: Money) -> Cell {
        Cell {
            value: Value::Money(m),
            tone: Tone::Plain,
        }
    }
    /// An amount that should be zero: `Bad` when positive.
    pub fn shortfall(m: Money) -> Cell {
        Cell {
            value: Value::Money(m),
            tone: if m.is_positive() {
                Tone::Bad
            } else {
                Tone::Plain
            },
        }
    }
    /// An amount or nothing.
    pub fn opt_money(m: Option<Money>) -> Cell {
        m.map_or_else(Cell::null, Cell::money)
    }
    /// A ratio.
    pub fn ratio(r: Ratio) -> Cell {
        Cell {
            value: Value::Ratio(r),
            tone: Tone::Plain,
        }
    }
    /// A ratio or nothing.
    pub fn opt_ratio(r: Option<Ratio>) -> Cell {
        r.map_or_else(Cell::null, Cell::ratio)
    }
    /// An integer.
    pub fn int(n: impl Into<i64>) -> Cell {
        Cell {
            value: Value::Int(n.into()),
            tone: Tone::Plain,
        }
    }
    /// No value.
    pub fn null() -> Cell {
        Cell {
            value: Value::Null,
            tone: Tone::Dim,
        }
    }
    /// The same cell in `tone`.
    pub fn with(mut self, tone: Tone) -> Cell {
        self.tone = tone;
        self
    }
}

impl Section {
    /// A section with these columns and no row yet.
    pub fn new(
        key: &'static str,
        title: impl Into<String>,
        sheet: impl Into<String>,
        columns: Vec<Column>,
        empty: impl Into<String>,
    ) -> Section {
        Section {
            key,
            title: title.into(),
            sheet: sheet.into(),
            columns,
            rows: Vec::new(),
            empty: empty.into(),
            keys: 1,
        }
    }

    /// Sets how many leading columns identify a row.
    pub fn keys(mut self, n: usize) -> Section {
        self.keys = n;
        self
    }

    /// Adds a row (one cell per column).
    pub fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.columns.len(), "{}", self.key);
        self.rows.push(cells);
    }
}

/// A column of `kind` headed by the word of `lang`.
pub fn col(lang: Lang, zh: &'static str, en: &'static str, kind: Kind) -> Column {
    Column {
        head: lang.pick(zh, en).to_string(),
        kind,
    }
}

/// The value as text for a person: amounts grouped in `unit`, ratios with four
/// decimals, — for no value.
pub fn show(v: &Value, unit: Unit) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Money(m) => unit.grouped(*m),
        Value::Ratio(r) => r.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Null => "—".to_string(),
    }
}

/// The value as plain machine text: amounts without grouping in `unit`, empty for
/// no value.
pub fn plain(v: &Value, unit: Unit) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Money(m) => unit.plain(*m),
        Value::Ratio(r) => r.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Null => String::new(),
    }
}

/// The formats `--out FILE` writes, picked by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.xlsx`: one sheet per section.
    Xlsx,
    /// `.csv`: one file per section when there are several.
    Csv,
    /// `.json`: the command's `--json` object.
    Json,
}

impl Format {
    /// The format of a file name's extension (case-insensitive), if sanbao writes it.
    pub fn of_path(p: &std::path::Path) -> Option<Format> {
        let ext = p.extension()?.to_str()?.to_ascii_lowercase();
        Format::parse(&ext)
    }

    /// `xlsx`, `csv` or `json`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "xlsx" => Some(Format::Xlsx),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}
