//! The value types of SPEC §2 — dates, months, county ids, texts, fiscal years, fund
//! classes and the small enumerations — with strict parsing.
//!
//! Guarantees: a value of these types always satisfies its SPEC §2 format. In JSON
//! (human-readable serde) each one is read and written in its SPEC form; in the binary
//! store codec (bincode) dates and months are compact integers.

use crate::money::{Money, Ratio};
use chrono::{Datelike, NaiveDate};
use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject, StringValidation};
use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Builds a string JSON Schema with a pattern, for the hand-written schema impls.
pub(crate) fn string_schema(pattern: &str, description: &str) -> Schema {
    let mut o = SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        string: Some(Box::new(StringValidation {
            pattern: Some(pattern.to_string()),
            ..Default::default()
        })),
        ..Default::default()
    };
    o.metadata().description = Some(description.to_string());
    Schema::Object(o)
}

/// A business date between 2000-01-01 and 2099-12-31, written `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(NaiveDate);

impl Date {
    /// Parses `YYYY-MM-DD` strictly (zero-padded, a real calendar day, years 2000–2099).
    pub fn parse(s: &str) -> Result<Date, String> {
        let b = s.as_bytes();
        let shape = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape {
            return Err(format!("{s:?} is not a date: write YYYY-MM-DD"));
        }
        // The shape holds, so the parts are digits: read them directly (chrono's
        // format-string parser was 3 % of `sanbao import`'s main thread).
        let num = |r: std::ops::Range<usize>| {
            b[r].iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'))
        };
        let d = NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10))
            .ok_or_else(|| format!("{s:?} is not a calendar date"))?;
        if d.year() < 2000 || d.year() > 2099 {
            return Err(format!("{s:?} is outside 2000-01-01..2099-12-31"));
        }
        Ok(Date(d))
    }

    /// Builds a date from its parts; `None` if it is not a calendar day.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Option<Date> {
        NaiveDate::from_ymd_opt(y, m, d).map(Date)
    }

    /// The underlying chrono date.
    pub fn naive(self) -> NaiveDate {
        self.0
    }

    /// The calendar year.
    pub fn year(self) -> i32 {
        self.0.year()
    }

    /// The first date an event may carry (the SPEC's dates are 2000..=2099).
    pub const FIRST: Date = Date(match NaiveDate::from_ymd_opt(2000, 1, 1) {
        Some(d) => d,
        None => panic!("2000-01-01 is a date"),
    });

    /// The month this date falls in (a date within 2000..=2099: computed dates such as
    /// the basis of a plan of 2000-01, 1999-12-31, are checked against
    /// [`Date::FIRST`] before asking).
    pub fn month(self) -> Month {
        Month::new(self.0.year(), self.0.month()).expect("a date's month is valid")
    }

    /// This date shifted by `days` (may be negative).
    pub fn add_days(self, days: i64) -> Date {
        Date(self.0 + chrono::Duration::days(days))
    }

    /// Days since 0001-01-01 (compact storage form).
    pub fn to_days(self) -> i32 {
        self.0.num_days_from_ce()
    }

    /// Inverse of [`Date::to_days`]. Every stored date is decoded here (each
    /// record's, each entry of a snapshot's day maps), so the business range
    /// 2000–2099 is looked up in a table made once (36,525 dates, 146 KB) instead of
    /// computed by chrono's calendar arithmetic each time; other days still go
    /// through chrono, with the same answer (tested over every day of the range and
    /// beyond its ends).
    #[inline]
    pub fn from_days(days: i32) -> Option<Date> {
        let table = business_days();
        match usize::try_from(days.wrapping_sub(table.first)) {
            Ok(i) if i < table.dates.len() => Some(table.dates[i]),
            _ => NaiveDate::from_num_days_from_ce_opt(days).map(Date),
        }
    }

    /// Today's date in UTC, from the wall clock (only the CLI shell calls this).
    pub fn today_utc() -> Date {
        Date(chrono::Utc::now().date_naive())
    }
}

impl Date {
    /// The date's text, `YYYY-MM-DD`, written by hand on the stack because every
    /// record hash formats its dates. Years are 2000–2099 (`Date::parse`,
    /// `from_days`), so four digits always hold them.
    pub fn text(self) -> crate::money::AsciiText<10> {
        use chrono::Datelike;
        let (y, m, d) = (
            self.0.year().clamp(0, 9999) as u32,
            self.0.month(),
            self.0.day(),
        );
        let [y0, y1, y2, y3] = year_digits(y);
        crate::money::AsciiText::of([
            y0,
            y1,
            y2,
            y3,
            b'-',
            b'0' + (m / 10) as u8,
            b'0' + (m % 10) as u8,
            b'-',
            b'0' + (d / 10) as u8,
            b'0' + (d % 10) as u8,
        ])
    }
}

/// The four ASCII digits of a year below 10,000.
fn year_digits(y: u32) -> [u8; 4] {
    [
        b'0' + (y / 1000 % 10) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
    ]
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::Datelike;
        if !(0..=9999).contains(&self.0.year()) {
            return write!(f, "{}", self.0.format("%Y-%m-%d"));
        }
        f.write_str(self.text().as_str())
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use chrono::Datelike;
        if s.is_human_readable() && !(0..=9999).contains(&self.0.year()) {
            s.collect_str(self)
        } else if s.is_human_readable() {
            s.serialize_str(self.text().as_str())
        } else {
            s.serialize_i32(self.to_days())
        }
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        if d.is_human_readable() {
            let s = StrOnly::deserialize(d, "a date string \"YYYY-MM-DD\"")?;
            Date::parse(&s).map_err(de::Error::custom)
        } else {
            let n = i32::deserialize(d)?;
            Date::from_days(n).ok_or_else(|| de::Error::custom("bad stored date"))
        }
    }
}

impl JsonSchema for Date {
    fn schema_name() -> String {
        "Date".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema(
            r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$",
            "a calendar date YYYY-MM-DD between 2000-01-01 and 2099-12-31",
        )
    }
}

/// Every date of 2000–2099 by its day number, for [`Date::from_days`].
struct BusinessDays {
    /// The day number of 2000-01-01.
    first: i32,
    /// 2000-01-01, 2000-01-02, …, 2099-12-31.
    dates: Vec<Date>,
}

fn business_days() -> &'static BusinessDays {
    static TABLE: std::sync::OnceLock<BusinessDays> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let start = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date");
        let end = NaiveDate::from_ymd_opt(2099, 12, 31).expect("a date");
        BusinessDays {
            first: Date(start).to_days(),
            dates: start
                .iter_days()
                .take_while(|d| *d <= end)
                .map(Date)
                .collect(),
        }
    })
}

/// A calendar month `YYYY-MM` (years 2000–2099). Four bytes: it keys maps and sits
/// in the state's per-record data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: u16,
    month: u8,
}

impl Month {
    /// Builds a month; `None` outside 2000-01..2099-12.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((2000..=2099).contains(&year) && (1..=12).contains(&month)).then_some(Month {
            year: year as u16,
            month: month as u8,
        })
    }

    /// Parses `YYYY-MM` strictly.
    pub fn parse(s: &str) -> Result<Month, String> {
        let b = s.as_bytes();
        let shape = b.len() == 7
            && b[4] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || c.is_ascii_digit());
        let err = || format!("{s:?} is not a month: write YYYY-MM between 2000-01 and 2099-12");
        if !shape {
            return Err(err());
        }
        let year: i32 = s[..4].parse().map_err(|_| err())?;
        let month: u32 = s[5..].parse().map_err(|_| err())?;
        Month::new(year, month).ok_or_else(err)
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year as i32
    }

    /// The month number, 1–12.
    pub fn number(self) -> u32 {
        self.month as u32
    }

    /// First day of the month.
    pub fn first_day(self) -> Date {
        Date::from_ymd(self.year(), self.number(), 1).expect("valid month")
    }

    /// Last day of the month.
    pub fn last_day(self) -> Date {
        self.add(1)
            .map_or(Date::from_ymd(self.year(), 12, 31).expect("valid"), |n| {
                n.first_day().add_days(-1)
            })
    }

    /// `self + n` months, computed from the anchor (never stepping); `None` outside the range.
    #[allow(clippy::should_implement_trait)] // checked: returns None outside the range
    pub fn add(self, n: i32) -> Option<Month> {
        let idx = self.index() + n;
        Month::new(idx.div_euclid(12), (idx.rem_euclid(12) + 1) as u32)
    }

    /// Compact index (`year * 12 + month - 1`), the storage form.
    pub fn index(self) -> i32 {
        self.year() * 12 + self.number() as i32 - 1
    }

    /// Inverse of [`Month::index`].
    pub fn from_index(i: i32) -> Option<Month> {
        Month::new(i.div_euclid(12), (i.rem_euclid(12) + 1) as u32)
    }
}

impl Month {
    /// The month's text, `YYYY-MM`, written by hand on the stack (years are
    /// 2000–2099, so four digits hold them).
    pub fn text(self) -> crate::money::AsciiText<7> {
        let [y0, y1, y2, y3] = year_digits(u32::from(self.year.min(9999)));
        let m = self.month;
        crate::money::AsciiText::of([y0, y1, y2, y3, b'-', b'0' + m / 10, b'0' + m % 10])
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(self.text().as_str())
        } else {
            s.serialize_i32(self.index())
        }
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        if d.is_human_readable() {
            let s = StrOnly::deserialize(d, "a month string \"YYYY-MM\"")?;
            Month::parse(&s).map_err(de::Error::custom)
        } else {
            let n = i32::deserialize(d)?;
            Month::from_index(n).ok_or_else(|| de::Error::custom("bad stored month"))
        }
    }
}

impl JsonSchema for Month {
    fn schema_name() -> String {
        "Month".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema(r"^20[0-9]{2}-(0[1-9]|1[0-2])$", "a calendar month YYYY-MM")
    }
}

/// Reads a JSON string and nothing else, with an error that says what was expected.
/// The string is borrowed from the input when it can be (no escapes in it).
struct StrOnly;

impl StrOnly {
    fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
        what: &'static str,
    ) -> Result<std::borrow::Cow<'de, str>, D::Error> {
        use std::borrow::Cow;
        struct V(&'static str);
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Owned(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Owned(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Cow<'de, str>, E> {
                Err(E::custom(format!(
                    "is required: null given where {} is expected",
                    self.0
                )))
            }
            fn visit_none<E: de::Error>(self) -> Result<Cow<'de, str>, E> {
                self.visit_unit()
            }
        }
        d.deserialize_str(V(what))
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(self.text().as_str())
        } else {
            s.serialize_i128(self.cents())
        }
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        if d.is_human_readable() {
            let s = StrOnly::deserialize(d, "an amount as a JSON string, e.g. \"1200.50\" (numbers are rejected: floats lose cents)")?;
            Money::parse_amount(&s).map_err(de::Error::custom)
        } else {
            Ok(Money::from_cents(i128::deserialize(d)?))
        }
    }
}

impl JsonSchema for Money {
    fn schema_name() -> String {
        "Amount".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema(
            r"^[0-9]{1,13}(\.[0-9]{1,2})?$",
            "decimal yuan as a string; outputs always carry two decimals",
        )
    }
}

impl Serialize for Ratio {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(self.text().as_str())
        } else {
            s.serialize_i64(self.units())
        }
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ratio, D::Error> {
        if d.is_human_readable() {
            let s = StrOnly::deserialize(d, "a ratio as a JSON string, e.g. \"0.3\"")?;
            Ratio::parse(&s).map_err(de::Error::custom)
        } else {
            Ok(Ratio::from_units(i64::deserialize(d)?))
        }
    }
}

impl JsonSchema for Ratio {
    fn schema_name() -> String {
        "Ratio".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema(
            r"^[0-9]{1,3}(\.[0-9]{1,4})?$",
            "a decimal ratio as a string; outputs always carry four decimals",
        )
    }
}

/// A county id: `^[a-z][a-z0-9_-]{0,31}$`.
///
/// Held inline (at most 32 ASCII bytes, zero-padded), so a clone is a 33-byte copy
/// and never allocates: ids are copied into every plan line, projection and report
/// row. Order, equality and hashing are those of the text (valid ids hold no zero
/// byte, so the padding sorts before any character, as a shorter prefix does).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountyId {
    bytes: [u8; 32],
    len: u8,
}

impl CountyId {
    /// Validates and wraps a county id.
    pub fn parse(s: &str) -> Result<CountyId, String> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 32
            && b[0].is_ascii_lowercase()
            && b[1..]
                .iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-');
        if ok {
            let mut bytes = [0u8; 32];
            bytes[..b.len()].copy_from_slice(b);
            Ok(CountyId {
                bytes,
                len: b.len() as u8,
            })
        } else {
            Err(format!(
                "{s:?} is not a county id: a lowercase letter, then up to 31 of a-z 0-9 _ -"
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).expect("county ids are ASCII")
    }

    /// The id's bytes, zero-padded to 32 (for hashing without the text).
    pub fn padded_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl fmt::Debug for CountyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountyId({:?})", self.as_str())
    }
}

impl Serialize for CountyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for CountyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CountyId, D::Error> {
        let s = StrOnly::deserialize(d, "a county id string")?;
        CountyId::parse(&s).map_err(de::Error::custom)
    }
}

impl JsonSchema for CountyId {
    fn schema_name() -> String {
        "CountyId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema(r"^[a-z][a-z0-9_-]{0,31}$", "a county id")
    }
}

/// Free text (`name`, `program`, `reason`, `approved_by`, `reference`): 1 to 200
/// Unicode code points, no control characters (Unicode category Cc).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    /// Validates and wraps a text.
    pub fn parse(s: &str) -> Result<Text, String> {
        let n = s.chars().count();
        if n == 0 || n > 200 {
            return Err(format!("text must be 1 to 200 characters, got {n}"));
        }
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            return Err(format!(
                "text must not contain control characters (found U+{:04X})",
                c as u32
            ));
        }
        Ok(Text(s.to_string()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        let s = StrOnly::deserialize(d, "a text string")?;
        Text::parse(&s).map_err(de::Error::custom)
    }
}

impl JsonSchema for Text {
    fn schema_name() -> String {
        "Text".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut o = SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            string: Some(Box::new(StringValidation {
                min_length: Some(1),
                max_length: Some(200),
                ..Default::default()
            })),
            ..Default::default()
        };
        o.metadata().description = Some("1 to 200 characters, no control characters".into());
        Schema::Object(o)
    }
}

/// A fiscal (calendar) year, a JSON integer from 2000 to 2099.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct FiscalYear(u16);

impl FiscalYear {
    /// Builds a fiscal year; `None` outside 2000–2099.
    pub fn new(y: i32) -> Option<FiscalYear> {
        (2000..=2099).contains(&y).then_some(FiscalYear(y as u16))
    }

    /// The year number.
    pub fn get(self) -> i32 {
        self.0 as i32
    }
}

impl fmt::Display for FiscalYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for FiscalYear {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FiscalYear, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FiscalYear;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a fiscal year as a JSON integer from 2000 to 2099")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FiscalYear, E> {
                i32::try_from(v)
                    .ok()
                    .and_then(FiscalYear::new)
                    .ok_or_else(|| E::custom(format!("{v} is not a fiscal year from 2000 to 2099")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FiscalYear, E> {
                i32::try_from(v)
                    .ok()
                    .and_then(FiscalYear::new)
                    .ok_or_else(|| E::custom(format!("{v} is not a fiscal year from 2000 to 2099")))
            }
            fn visit_u16<E: de::Error>(self, v: u16) -> Result<FiscalYear, E> {
                self.visit_u64(v as u64)
            }
            fn visit_unit<E: de::Error>(self) -> Result<FiscalYear, E> {
                Err(E::custom(
                    "is required: null given where a fiscal year is expected",
                ))
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(V)
        } else {
            d.deserialize_u16(V)
        }
    }
}

impl JsonSchema for FiscalYear {
    fn schema_name() -> String {
        "FiscalYear".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut o = SchemaObject {
            instance_type: Some(InstanceType::Integer.into()),
            ..Default::default()
        };
        o.number().minimum = Some(2000.0);
        o.number().maximum = Some(2099.0);
        Schema::Object(o)
    }
}

/// The four fund classes, in the SPEC's list order (general, pre_notified,
/// in_execution, direct), which is also their `Ord`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Fund {
    /// 财力性资金: general transfers, dispatched evenly by month.
    General,
    /// 提前告知专项资金: special funds notified in advance, dispatched per schedule.
    PreNotified,
    /// 执行中下达的补助资金: in-year subsidies, dispatched the month after issue.
    InExecution,
    /// 直达资金: direct funds, dispatched at once.
    Direct,
}

impl Fund {
    /// All funds in list order.
    pub const ALL: [Fund; 4] = [
        Fund::General,
        Fund::PreNotified,
        Fund::InExecution,
        Fund::Direct,
    ];

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Fund::General => "general",
            Fund::PreNotified => "pre_notified",
            Fund::InExecution => "in_execution",
            Fund::Direct => "direct",
        }
    }

    /// Index 0–3 in list order.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The status a 提示函 (`notice_issued`, issue 16) warned of: the worst a county
/// reached in the month — `warning` (below the warning line) or `low` (below the
/// alert line).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStatus {
    /// Below the warning line (预警).
    Warning,
    /// Below the alert line (偏低).
    Low,
}

impl NoticeStatus {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeStatus::Warning => "warning",
            NoticeStatus::Low => "low",
        }
    }
}

/// The planning policy a plan follows (`planning_policy_set`, docs/planning-policy-v2.md):
/// `v1` is SPEC §6.3 exactly; `v2` projects needs from the larger of budget and run
/// rate and, in the first tier that does not fit, funds counties under the warning
/// line first. The declaration order is `Ord`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub enum PlanningPolicy {
    /// SPEC §6.3 as written; the policy of every plan when no setting is in force.
    #[default]
    #[serde(rename = "v1")]
    V1,
    /// docs/planning-policy-v2.md: run-rate needs, the wage term, warning counties first.
    #[serde(rename = "v2")]
    V2,
}

impl PlanningPolicy {
    /// The name used in JSON: `v1` or `v2`.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanningPolicy::V1 => "v1",
            PlanningPolicy::V2 => "v2",
        }
    }
}

/// Emergency dispatch mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyMode {
    /// Counts against no entitlement.
    Grant,
    /// Counts as a `general` dispatch of year(value_date).
    Advance,
}

/// Category of collected revenue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevenueCategory {
    /// Tax revenue.
    Tax,
    /// Non-tax revenue.
    NonTax,
    /// Anything else (the default).
    #[default]
    Other,
}

/// Category of a paid expenditure.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExpenditureCategory {
    /// 保基本民生.
    Livelihood,
    /// 保运转.
    Operations,
    /// Debt service.
    DebtService,
    /// Anything else.
    Other,
}

/// Category of a budgeted need.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NeedCategory {
    /// 保工资.
    Wages,
    /// 保基本民生.
    Livelihood,
    /// 保运转.
    Operations,
    /// Debt service.
    DebtService,
}

/// The category of a proposed policy (`policy_proposed`, issue 19): the standards a
/// county may raise and the city assesses first. Only `livelihood` (保基本民生) so far.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ProposalCategory {
    /// 保基本民生: a livelihood standard (its cost is added to the `livelihood` need).
    Livelihood,
}

/// The city's decision on an affordability assessment (`assessment_decided`, issue 19).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentDecision {
    /// 同意: the county may raise the standard.
    Approved,
    /// 不同意: it may not.
    Rejected,
}

impl AssessmentDecision {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AssessmentDecision::Approved => "approved",
            AssessmentDecision::Rejected => "rejected",
        }
    }
}

/// One of a county's two accounts.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// 库款: treasury cash.
    Treasury,
    /// 工资库款保障户: cash ring-fenced for wages.
    WageReserve,
}

impl AccountKind {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Treasury => "treasury",
            AccountKind::WageReserve => "wage_reserve",
        }
    }
}

/// A lowercase hex SHA-256 digest (64 characters) as it appears in JSON.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Sha256Hex(pub [u8; 32]);

impl Sha256Hex {
    /// Parses 64 lowercase hex characters.
    pub fn parse(s: &str) -> Result<Sha256Hex, String> {
        let ok = s.len() == 64
            && s.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        if !ok {
            return Err(format!(
                "{s:?} is not a SHA-256: write 64 lowercase hex digits"
            ));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|e| e.to_string())?;
        Ok(Sha256Hex(out))
    }

    /// Lowercase hex form.
    pub fn to_hex(&self) -> String {
        String::from_utf8(self.hex_digits().to_vec()).expect("hex digits are ASCII")
    }

    /// The 64 lowercase hex digits, by table, on the stack (the hash chain's texts,
    /// export lines and the sink's rows write them for every record).
    pub fn hex_digits(&self) -> [u8; 64] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (pair, &b) in out.chunks_exact_mut(2).zip(&self.0) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 15)];
        }
        out
    }
}

impl fmt::Debug for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Sha256Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            // Two little-endian u128 halves: in the store's bincode (fixed-width,
            // little-endian) exactly the 32 bytes in order, as `[u8; 32]` would be —
            // but read in two calls instead of 32 (this was a fifth of replay's time).
            self.halves().serialize(s)
        }
    }
}

impl Sha256Hex {
    fn halves(&self) -> (u128, u128) {
        let (a, b) = self.0.split_at(16);
        (
            u128::from_le_bytes(a.try_into().expect("16 bytes")),
            u128::from_le_bytes(b.try_into().expect("16 bytes")),
        )
    }
}

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sha256Hex, D::Error> {
        if d.is_human_readable() {
            let s = StrOnly::deserialize(d, "a SHA-256 as 64 lowercase hex digits")?;
            Sha256Hex::parse(&s).map_err(de::Error::custom)
        } else {
            let (a, b) = <(u128, u128)>::deserialize(d)?;
            let mut h = [0u8; 32];
            h[..16].copy_from_slice(&a.to_le_bytes());
            h[16..].copy_from_slice(&b.to_le_bytes());
            Ok(Sha256Hex(h))
        }
    }
}

impl JsonSchema for Sha256Hex {
    fn schema_name() -> String {
        "Sha256".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema(r"^[0-9a-f]{64}$", "lowercase hex SHA-256")
    }
}

/// Serde helper for optional fields with a stated default: in JSON an absent field or
/// an explicit `null` gives `T::default()`; in the binary codec the value is stored as is.
pub mod or_default {
    use serde::{Deserialize, Deserializer};

    /// See the module doc.
    pub fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + Default,
    {
        if d.is_human_readable() {
            Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
        } else {
            T::deserialize(d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_dates_equal_chronos_formatting() {
        let first = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
        for n in 0..(130 * 366) {
            let d = Date(first + chrono::Days::new(n));
            assert_eq!(d.to_string(), d.0.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn parsing_agrees_with_chronos_format_parser() {
        // Every day from 1999 to 2100 written out, and every month and day number
        // 00–39 of a leap and a common year: accepted exactly when chrono's
        // "%Y-%m-%d" accepts it and the year is 2000–2099, and as the same date.
        let mut texts = Vec::new();
        let first = NaiveDate::from_ymd_opt(1999, 1, 1).unwrap();
        for n in 0..(102 * 366) {
            texts.push(
                (first + chrono::Duration::days(n))
                    .format("%Y-%m-%d")
                    .to_string(),
            );
        }
        for y in [2000, 2021, 2024, 2099] {
            for m in 0..=39 {
                for d in 0..=39 {
                    texts.push(format!("{y:04}-{m:02}-{d:02}"));
                }
            }
        }
        for t in &texts {
            let theirs = NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .filter(|d| (2000..=2099).contains(&d.year()));
            assert_eq!(Date::parse(t).ok().map(|d| d.0), theirs, "{t}");
        }
        for bad in [
            "2021-1-01",
            "2021-01-1",
            "21-01-01",
            "2021/01/01",
            "2021-01-01 ",
            "２０２１-01-01",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn days_from_the_table_equal_chronos_over_the_range_and_beyond_its_ends() {
        let first = NaiveDate::from_ymd_opt(1990, 1, 1)
            .unwrap()
            .num_days_from_ce();
        for n in first..first + 130 * 366 {
            assert_eq!(
                Date::from_days(n),
                NaiveDate::from_num_days_from_ce_opt(n).map(Date),
                "day {n}"
            );
        }
        for n in [i32::MIN, -1, 0, 1, i32::MAX] {
            assert_eq!(
                Date::from_days(n),
                NaiveDate::from_num_days_from_ce_opt(n).map(Date)
            );
        }
        let table = business_days();
        assert_eq!(table.dates.len(), 36_525);
        assert_eq!(table.dates[0].to_string(), "2000-01-01");
        assert_eq!(table.dates[36_524].to_string(), "2099-12-31");
    }

    #[test]
    fn a_hash_in_the_binary_codec_is_its_32_bytes_in_order() {
        use bincode::Options;
        let codec = || {
            bincode::options()
                .with_fixint_encoding()
                .with_little_endian()
                .reject_trailing_bytes()
        };
        let h = Sha256Hex(std::array::from_fn(|i| (i * 37 + 5) as u8));
        let bytes = codec().serialize(&h).unwrap();
        assert_eq!(bytes, h.0.to_vec());
        assert_eq!(codec().serialize(&h.0).unwrap(), bytes, "same as [u8; 32]");
        assert_eq!(codec().deserialize::<Sha256Hex>(&bytes).unwrap(), h);
    }

    #[test]
    fn dates_are_strict() {
        assert!(Date::parse("2021-06-30").is_ok());
        for bad in [
            "2021-6-30",
            "2021-02-30",
            "1999-12-31",
            "2100-01-01",
            "2021/06/30",
            "20210630",
            "2021-06-30T00",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Date::parse("2000-01-01").unwrap().to_string(), "2000-01-01");
        assert!(Date::parse("2099-12-31").is_ok());
    }

    #[test]
    fn months_compute_from_anchor() {
        let m = Month::parse("2021-12").unwrap();
        assert_eq!(m.add(1).unwrap().to_string(), "2022-01");
        assert_eq!(m.add(-12).unwrap().to_string(), "2020-12");
        assert_eq!(m.last_day().to_string(), "2021-12-31");
        assert_eq!(
            Month::parse("2024-02").unwrap().last_day().to_string(),
            "2024-02-29"
        );
        assert!(Month::parse("2021-13").is_err());
        assert!(Month::parse("2021-1").is_err());
        assert_eq!(Month::from_index(m.index()), Some(m));
    }

    #[test]
    fn ids_and_texts() {
        assert!(CountyId::parse("suizhong").is_ok());
        assert!(CountyId::parse("a").is_ok());
        assert!(CountyId::parse("x_1-2").is_ok());
        assert!(CountyId::parse("1abc").is_err());
        assert!(CountyId::parse("Abc").is_err());
        assert!(CountyId::parse(&"a".repeat(33)).is_err());
        assert!(CountyId::parse(&"a".repeat(32)).is_ok());
        // Inline ids order, compare and print exactly as their text.
        let ids = ["a", "a-", "a_", "a0", "ab", "b", &"z".repeat(32), "zz"];
        for x in ids {
            for y in ids {
                let (cx, cy) = (CountyId::parse(x).unwrap(), CountyId::parse(y).unwrap());
                assert_eq!(cx.cmp(&cy), x.cmp(y), "{x} vs {y}");
                assert_eq!(cx == cy, x == y);
            }
            let c = CountyId::parse(x).unwrap();
            assert_eq!(c.as_str(), x);
            assert_eq!(c.to_string(), x);
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{x}\""));
            let back: CountyId = serde_json::from_str(&format!("\"{x}\"")).unwrap();
            assert_eq!(back, c);
            let bin = bincode::serialize(&c).unwrap();
            assert_eq!(bin, bincode::serialize(x).unwrap(), "stored form unchanged");
            assert_eq!(bincode::deserialize::<CountyId>(&bin).unwrap(), c);
        }
        assert!(Text::parse(&"绥".repeat(200)).is_ok());
        assert!(Text::parse(&"绥".repeat(201)).is_err());
        assert!(Text::parse("").is_err());
        assert!(Text::parse("a\u{0085}b").is_err());
        assert!(Text::parse("tab\there").is_err());
    }
}
