//! Charts (issue 16's "Charts"): SVG pictures of the monitoring and forecast figures,
//! for a bureau's report or a web page.
//!
//! Three charts, each in two steps:
//! - `cash`: one county's day-end cash (库款日终余额) over a range of days, drawn over
//!   the bands its risk lines make in yuan that day (line × average monthly
//!   outflow): below the warning amount (预警), between warning and alert (偏低),
//!   normal (正常), above idle (闲置). Data: [`cash_data`] → [`CashChart`]; picture:
//!   [`cash_svg`].
//! - `levels`: every county's guarantee level (库款保障水平) on one date as a
//!   horizontal bar coloured by status, its three lines marked on its row and the
//!   level and status word written beside it. [`levels_data`] → [`LevelsChart`];
//!   [`levels_svg`].
//! - `forecast`: wage cover (工资保障倍数) by county × month as a heat map coloured by
//!   risk, each cell showing the cover and the risk word. [`forecast_data`] →
//!   [`ForecastChart`]; [`forecast_svg`].
//!
//! Guarantees:
//! - pure and deterministic: the data step is a function of the folded [`State`] and
//!   the arguments, the render step of the data and the [`Lang`]; no I/O, no clock;
//!   the same inputs give byte-identical SVG (every coordinate is written with two
//!   fixed decimals, every list in the order of its query: counties by id, days and
//!   months ascending);
//! - the data structs derive `Serialize`, with the JSON forms of the queries (amounts
//!   as strings with two decimals, ratios with four), so a page can fetch the figures
//!   behind a picture;
//! - money stays exact: figures are [`Money`] and [`Ratio`]; a float appears only
//!   as a pixel coordinate; numbers written in a chart are formatted from the
//!   integers (tick labels in 万元 exactly, levels and covers with their four
//!   decimals, as in JSON);
//! - every text is XML-escaped (county names are user input) and every chart is one
//!   well-formed `<svg xmlns=… viewBox=… width=… height=…>` with a `<title>`, a
//!   legend, and text in the font stack [`FONT_FAMILY`]; colour never carries a
//!   meaning alone (statuses and risks are also written as words).

use crate::lang::{Lang, Term};
use crate::money::{round_half_even_div, Money, Ratio};
use crate::query::daily::MAX_DAILY_DAYS;
use crate::query::forecast::{forecast, Risk};
use crate::query::monitor::county_row;
use crate::query::Status;
use crate::state::State;
use crate::values::{CountyId, Date, Month, Text};
use serde::Serialize;
use std::fmt::{self, Write as _};

/// The font stack of every text of a chart: Chinese fonts first, so 建昌县 renders
/// on Linux (Noto, WenQuanYi) and Windows (Microsoft YaHei) alike.
pub const FONT_FAMILY: &str =
    "'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei',sans-serif";

/// The most months one forecast chart shows (wider grids stop being readable).
pub const MAX_FORECAST_MONTHS: u32 = 24;

/// Why a chart's figures cannot be made: each is a mistake in what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChartError {
    /// The log holds no event, so there is no default date.
    EmptyLog,
    /// No county has this id (at this seq).
    UnknownCounty(CountyId),
    /// The county was registered after the last day asked.
    NotRegistered {
        /// The county.
        county: CountyId,
        /// Its registration date.
        registered_on: Date,
        /// The last day asked.
        to: Date,
    },
    /// The first day is after the last.
    Reversed {
        /// First day asked.
        from: Date,
        /// Last day asked.
        to: Date,
    },
    /// The range is longer than [`MAX_DAILY_DAYS`].
    TooLong {
        /// Its number of days.
        days: i64,
    },
    /// No county is registered on or before this date.
    NoCounty(Date),
    /// More months than [`MAX_FORECAST_MONTHS`], or none.
    Months(u32),
}

impl fmt::Display for ChartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChartError::EmptyLog => write!(f, "the log holds no events: nothing to chart"),
            ChartError::UnknownCounty(c) => write!(f, "no such county: {c}"),
            ChartError::NotRegistered {
                county,
                registered_on,
                to,
            } => write!(
                f,
                "county {county} is registered on {registered_on}, after {to}"
            ),
            ChartError::Reversed { from, to } => write!(f, "--from {from} is after --to {to}"),
            ChartError::TooLong { days } => write!(
                f,
                "the range is {days} days; at most {MAX_DAILY_DAYS} at a time"
            ),
            ChartError::NoCounty(d) => {
                write!(
                    f,
                    "no county is registered on or before {d}: nothing to chart"
                )
            }
            ChartError::Months(k) => write!(
                f,
                "{k} months: a forecast chart shows 1 to {MAX_FORECAST_MONTHS} months"
            ),
        }
    }
}

impl ChartError {
    /// The refusal in Chinese (the CLI's `error:` line under `--lang zh`).
    pub fn zh(&self) -> String {
        match self {
            ChartError::EmptyLog => "日志中尚无事件，无可绘制".to_string(),
            ChartError::UnknownCounty(c) => format!("无此县区：{c}"),
            ChartError::NotRegistered {
                county,
                registered_on,
                to,
            } => format!("县区 {county} 于 {registered_on} 登记，晚于 {to}"),
            ChartError::Reversed { from, to } => {
                format!("起始日期 {from} 晚于截止日期 {to}")
            }
            ChartError::TooLong { days } => {
                format!("区间共 {days} 天，一次最多 {MAX_DAILY_DAYS} 天")
            }
            ChartError::NoCounty(d) => format!("{d} 前无登记县区，无可绘制"),
            ChartError::Months(k) => {
                format!("{k} 个月：预测图可显示 1 至 {MAX_FORECAST_MONTHS} 个月")
            }
        }
    }
}

impl std::error::Error for ChartError {}

// ---------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------

/// The figures of the `cash` chart: one county's days.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CashChart {
    /// County id.
    pub county: CountyId,
    /// Its registered name.
    pub name: Text,
    /// First day drawn (the later of the day asked and the registration).
    pub from: Date,
    /// Last day drawn.
    pub to: Date,
    /// The last record the figures know about.
    pub at_seq: u64,
    /// One per day from `from` to `to`.
    pub days: Vec<CashDay>,
}

/// One day of the `cash` chart: `monitor`'s county row of that day, with its lines
/// turned into amounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CashDay {
    /// The day.
    pub date: Date,
    /// Day-end cash (treasury + wage reserve).
    pub cash: Money,
    /// Average monthly outflow (SPEC §6.2), or `null`.
    pub avg_monthly_outflow: Option<Money>,
    /// Guarantee level, or `null`.
    pub guarantee_level: Option<Ratio>,
    /// Status against the lines in force.
    pub status: Status,
    /// Warning line in force that day.
    pub warning_line: Ratio,
    /// Alert line in force that day.
    pub alert_line: Ratio,
    /// Idle line in force that day.
    pub idle_line: Ratio,
    /// warning_line × avg_monthly_outflow, half to even at cents; `null` with it.
    pub warning_amount: Option<Money>,
    /// alert_line × avg_monthly_outflow, half to even at cents; `null` with it.
    pub alert_amount: Option<Money>,
    /// idle_line × avg_monthly_outflow, half to even at cents; `null` with it.
    pub idle_amount: Option<Money>,
}

/// `line × amount`, rounded half to even at cents: a risk line in yuan.
pub fn line_amount(line: Ratio, amount: Money) -> Money {
    Money::from_cents(round_half_even_div(
        amount.cents() * i128::from(line.units()),
        10_000,
    ))
}

/// The default range of the `cash` chart: the twelve calendar months that end with
/// `to`'s month (from the first day of the month eleven months before), or from the
/// county's registration when that is later. `to` defaults to the latest effective
/// date; `None` for an empty log.
pub fn default_cash_range(state: &State, to: Option<Date>) -> Option<(Date, Date)> {
    let to = to.or(state.max_effective_date)?;
    let from = to.month().add(-11).map_or(Date::FIRST, Month::first_day);
    Some((from, to))
}

/// The figures of the `cash` chart of `county` from `from` to `to` (a day before the
/// county's registration is not drawn: the chart starts at the later of the two).
///
/// Refused: an unknown county, one registered after `to`, `from > to`, and ranges
/// longer than [`MAX_DAILY_DAYS`].
pub fn cash_data(
    state: &State,
    county: &CountyId,
    from: Date,
    to: Date,
) -> Result<CashChart, ChartError> {
    let c = state
        .county(county)
        .ok_or_else(|| ChartError::UnknownCounty(county.clone()))?;
    if from > to {
        return Err(ChartError::Reversed { from, to });
    }
    let days = i64::from(to.to_days() - from.to_days()) + 1;
    if days > MAX_DAILY_DAYS {
        return Err(ChartError::TooLong { days });
    }
    if c.registered_on > to {
        return Err(ChartError::NotRegistered {
            county: county.clone(),
            registered_on: c.registered_on,
            to,
        });
    }
    let from = from.max(c.registered_on);
    let mut out = Vec::with_capacity(days as usize);
    let mut x = from;
    while x <= to {
        let r = county_row(state, c, x);
        let amount = |line| r.avg_monthly_outflow.map(|a| line_amount(line, a));
        out.push(CashDay {
            date: x,
            cash: r.cash,
            avg_monthly_outflow: r.avg_monthly_outflow,
            guarantee_level: r.guarantee_level,
            status: r.status,
            warning_line: r.warning_line,
            alert_line: r.alert_line,
            idle_line: r.idle_line,
            warning_amount: amount(r.warning_line),
            alert_amount: amount(r.alert_line),
            idle_amount: amount(r.idle_line),
        });
        x = x.add_days(1);
    }
    Ok(CashChart {
        county: c.id.clone(),
        name: c.name.clone(),
        from,
        to,
        at_seq: state.head_seq,
        days: out,
    })
}

/// The figures of the `levels` chart: every county on one date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LevelsChart {
    /// The date.
    pub as_of: Date,
    /// The last record the figures know about.
    pub at_seq: u64,
    /// Every county registered on or before `as_of`, by id.
    pub counties: Vec<LevelRow>,
}

/// One county of the `levels` chart: `monitor`'s county row with its name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LevelRow {
    /// County id.
    pub county: CountyId,
    /// Its registered name.
    pub name: Text,
    /// Day-end cash.
    pub cash: Money,
    /// Average monthly outflow, or `null`.
    pub avg_monthly_outflow: Option<Money>,
    /// Guarantee level, or `null` (no bar).
    pub guarantee_level: Option<Ratio>,
    /// Status against the lines in force.
    pub status: Status,
    /// Warning line in force.
    pub warning_line: Ratio,
    /// Alert line in force.
    pub alert_line: Ratio,
    /// Idle line in force.
    pub idle_line: Ratio,
}

/// The figures of the `levels` chart on `as_of` (default: the latest effective date):
/// each county's row exactly as `monitor` gives it. Refused: an empty log with no
/// date, a date before every registration.
pub fn levels_data(state: &State, as_of: Option<Date>) -> Result<LevelsChart, ChartError> {
    let as_of = as_of
        .or(state.max_effective_date)
        .ok_or(ChartError::EmptyLog)?;
    let counties: Vec<LevelRow> = state
        .counties()
        .filter(|c| c.registered_on <= as_of)
        .map(|c| {
            let r = county_row(state, c, as_of);
            LevelRow {
                county: c.id.clone(),
                name: c.name.clone(),
                cash: r.cash,
                avg_monthly_outflow: r.avg_monthly_outflow,
                guarantee_level: r.guarantee_level,
                status: r.status,
                warning_line: r.warning_line,
                alert_line: r.alert_line,
                idle_line: r.idle_line,
            }
        })
        .collect();
    if counties.is_empty() {
        return Err(ChartError::NoCounty(as_of));
    }
    Ok(LevelsChart {
        as_of,
        at_seq: state.head_seq,
        counties,
    })
}

/// The figures of the `forecast` chart: wage cover by county and month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForecastChart {
    /// First month.
    pub from: Month,
    /// The months forecast, in order (the columns).
    pub months: Vec<Month>,
    /// The seq of the last record the forecast is computed from.
    pub based_on_seq: u64,
    /// One row per county of the forecast, by id.
    pub counties: Vec<ForecastRow>,
}

/// One county's row of the heat map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForecastRow {
    /// County id.
    pub county: CountyId,
    /// Its registered name.
    pub name: Text,
    /// One cell per month, in order.
    pub cells: Vec<ForecastCell>,
}

/// One cell: the forecast's figures of one county and month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForecastCell {
    /// The month.
    pub month: Month,
    /// The month's wage need.
    pub wage_need: Money,
    /// The forecast's wage cover, or `null` when the wage need is zero.
    pub wage_cover: Option<Ratio>,
    /// The forecast's risk.
    pub risk: Risk,
}

/// The figures of the `forecast` chart: [`crate::query::forecast::forecast`] of
/// `months` months from `from`, with the counties' names. Refused: 0 or more than
/// [`MAX_FORECAST_MONTHS`] months, a first month before every registration.
pub fn forecast_data(state: &State, from: Month, months: u32) -> Result<ForecastChart, ChartError> {
    if months == 0 || months > MAX_FORECAST_MONTHS {
        return Err(ChartError::Months(months));
    }
    let f = forecast(state, from, months);
    if f.counties.is_empty() {
        return Err(ChartError::NoCounty(from.last_day()));
    }
    let month_list = (0..f.months)
        .filter_map(|i| from.add(i as i32))
        .collect::<Vec<_>>();
    let counties = f
        .counties
        .into_iter()
        .map(|c| ForecastRow {
            name: state
                .county(&c.county)
                .map(|x| x.name.clone())
                .expect("a forecast county is registered"),
            county: c.county,
            cells: c
                .months
                .into_iter()
                .map(|m| ForecastCell {
                    month: m.month,
                    wage_need: m.wage_need,
                    wage_cover: m.wage_cover,
                    risk: m.risk,
                })
                .collect(),
        })
        .collect();
    Ok(ForecastChart {
        from,
        months: month_list,
        based_on_seq: f.based_on_seq,
        counties,
    })
}

/// The `cash` chart of `county` as SVG ([`cash_data`] then [`cash_svg`]).
pub fn cash(
    state: &State,
    county: &CountyId,
    from: Date,
    to: Date,
    lang: Lang,
) -> Result<String, ChartError> {
    cash_data(state, county, from, to).map(|c| cash_svg(&c, lang))
}

/// The `levels` chart as SVG ([`levels_data`] then [`levels_svg`]).
pub fn levels(state: &State, as_of: Option<Date>, lang: Lang) -> Result<String, ChartError> {
    levels_data(state, as_of).map(|c| levels_svg(&c, lang))
}

/// The `forecast` chart as SVG ([`forecast_data`] then [`forecast_svg`]).
pub fn forecast_chart(
    state: &State,
    from: Month,
    months: u32,
    lang: Lang,
) -> Result<String, ChartError> {
    forecast_data(state, from, months).map(|c| forecast_svg(&c, lang))
}

// ---------------------------------------------------------------------------------
// Drawing helpers
// ---------------------------------------------------------------------------------

/// The colour of a status: its bars, line marks, band edges and status words.
fn status_colour(s: Status) -> &'static str {
    match s {
        Status::Warning => "#c0392b",
        Status::Low => "#d68910",
        Status::Normal => "#3a8f4f",
        Status::Idle => "#3f6fb0",
        Status::Unknown => "#8c8c8c",
    }
}

const BAND_WARNING: &str = "#f6d3cf";
const BAND_LOW: &str = "#fbe7c2";
const BAND_NORMAL: &str = "#e9f4e9";
const BAND_IDLE: &str = "#dce6f2";
const CASH_LINE: &str = "#1b3a5c";
const GRID: &str = "#e3e3e3";
const AXIS: &str = "#555555";
const INK: &str = "#222222";
const MUTED: &str = "#666666";

fn risk_fill(r: Risk) -> &'static str {
    match r {
        Risk::High => "#f2a9a1",
        Risk::Medium => "#fbd98f",
        Risk::Low => "#cfe6cf",
    }
}

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A pixel coordinate with two fixed decimals (never `-0.00`).
fn px(v: f64) -> String {
    let s = format!("{v:.2}");
    if s == "-0.00" {
        "0.00".to_string()
    } else {
        s
    }
}

/// The approximate width of `s` in pixels at `size` (wide characters a full em,
/// others 0.6 em): for laying out labels and legends.
fn text_width(s: &str, size: f64) -> f64 {
    use unicode_width::UnicodeWidthChar;
    s.chars()
        .map(|c| match c.width() {
            Some(2) => size,
            Some(0) => 0.0,
            _ => 0.58 * size,
        })
        .sum()
}

/// `s` shortened with "…" to fit `max` pixels at `size`.
fn fit(s: &str, size: f64, max: f64) -> String {
    if text_width(s, size) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        let next = format!("{out}{c}…");
        if text_width(&next, size) > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// Attributes of a text element: position, size, anchor, colour, weight.
struct T<'a> {
    x: f64,
    y: f64,
    size: f64,
    anchor: &'a str,
    fill: &'a str,
    bold: bool,
}

impl T<'_> {
    fn at(x: f64, y: f64) -> T<'static> {
        T {
            x,
            y,
            size: 12.0,
            anchor: "start",
            fill: INK,
            bold: false,
        }
    }
}

/// An SVG document under construction.
struct Svg {
    out: String,
}

impl Svg {
    fn new(width: f64, height: f64, title: &str) -> Svg {
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" font-family=\"{FONT_FAMILY}\">\n<title>{t}</title>\n<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n",
            w = px(width),
            h = px(height),
            t = escape(title),
        );
        Svg { out }
    }

    /// A text element; `class` may be empty.
    fn text(&mut self, t: &T<'_>, class: &str, body: &str) {
        let _ = writeln!(
            self.out,
            "<text x=\"{}\" y=\"{}\" font-family=\"{FONT_FAMILY}\" font-size=\"{}\" text-anchor=\"{}\" fill=\"{}\"{}{}>{}</text>",
            px(t.x),
            px(t.y),
            px(t.size),
            t.anchor,
            t.fill,
            if t.bold { " font-weight=\"bold\"" } else { "" },
            if class.is_empty() {
                String::new()
            } else {
                format!(" class=\"{class}\"")
            },
            escape(body)
        );
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, extra: &str) {
        let _ = writeln!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\"{extra}/>",
            px(x1),
            px(y1),
            px(x2),
            px(y2)
        );
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, extra: &str) {
        let _ = writeln!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"{extra}/>",
            px(x),
            px(y),
            px(w.max(0.0)),
            px(h.max(0.0))
        );
    }

    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// Points of a polyline or polygon.
fn points(pts: &[(f64, f64)]) -> String {
    let mut s = String::with_capacity(pts.len() * 16);
    for (i, (x, y)) in pts.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&px(*x));
        s.push(',');
        s.push_str(&px(*y));
    }
    s
}

/// One legend entry: a swatch (`Fill`: a filled square; `Stroke`: a short line with
/// a dash pattern) and its words.
enum Swatch<'a> {
    Fill(&'a str),
    Stroke(&'a str, &'a str, f64),
}

/// Draws legend entries left to right from `x` at baseline `y`, wrapping at
/// `max_x`; returns the baseline of the last row.
fn legend(svg: &mut Svg, x: f64, y: f64, max_x: f64, items: &[(Swatch<'_>, String)]) -> f64 {
    let size = 12.0;
    let (mut cx, mut cy) = (x, y);
    svg.raw("<g class=\"legend\">\n");
    for (sw, words) in items {
        let w = 22.0 + text_width(words, size) + 18.0;
        if cx + w > max_x && cx > x {
            cx = x;
            cy += 22.0;
        }
        match sw {
            Swatch::Fill(c) => svg.rect(
                cx,
                cy - 11.0,
                14.0,
                14.0,
                c,
                " stroke=\"#999999\" stroke-width=\"0.5\"",
            ),
            Swatch::Stroke(c, dash, width) => svg.line(
                cx - 2.0,
                cy - 4.0,
                cx + 16.0,
                cy - 4.0,
                c,
                &format!(
                    " stroke-width=\"{}\"{}",
                    px(*width),
                    if dash.is_empty() {
                        String::new()
                    } else {
                        format!(" stroke-dasharray=\"{dash}\"")
                    }
                ),
            ),
        }
        svg.text(
            &T {
                size,
                ..T::at(cx + 22.0, cy)
            },
            "",
            words,
        );
        cx += w;
    }
    svg.raw("</g>\n");
    cy
}

/// A linear axis over integer values (cents or ratio units): from `lo` to `hi` in
/// steps of `step`, drawn from pixel `p0` (at `lo`) to `p1` (at `hi`).
#[derive(Clone, Copy, Debug)]
struct Axis {
    lo: i128,
    hi: i128,
    step: i128,
    p0: f64,
    p1: f64,
}

impl Axis {
    /// A "nice" axis covering `min..=max` (and 0) with steps of 1, 2 or 5 × 10ⁿ units
    /// (at least `min_step`), at most `max_ticks` intervals, with a little headroom
    /// above `max`.
    fn nice(min: i128, max: i128, min_step: i128, max_ticks: i128, p0: f64, p1: f64) -> Axis {
        let min = min.min(0);
        let top = max.max(0) + (max.max(0) - min) / 20;
        let span = (top - min).max(1);
        let mut step = min_step.max(1);
        let mut k = 0;
        loop {
            let s = step * [1, 2, 5][k % 3] * 10i128.pow((k / 3) as u32);
            if (span + s - 1) / s <= max_ticks {
                step = s;
                break;
            }
            k += 1;
        }
        let lo = crate::money::floor_div(min, step) * step;
        let mut hi = crate::money::ceil_div(top, step) * step;
        if hi <= lo {
            hi = lo + step;
        }
        Axis {
            lo,
            hi,
            step,
            p0,
            p1,
        }
    }

    /// The pixel of value `v`.
    fn at(&self, v: i128) -> f64 {
        self.p0 + (v - self.lo) as f64 / (self.hi - self.lo) as f64 * (self.p1 - self.p0)
    }

    fn ticks(&self) -> impl Iterator<Item = i128> + '_ {
        (0..)
            .map(move |i| self.lo + i * self.step)
            .take_while(move |v| *v <= self.hi)
    }
}

/// `v` units of `1/10^scale` written with exactly `decimals` decimals (the value is a
/// multiple of the step, so nothing is rounded), grouped by thousands.
fn decimal_text(v: i128, scale: u32, decimals: u32, group: bool) -> String {
    let neg = v < 0;
    let a = v.unsigned_abs();
    let unit = 10u128.pow(scale);
    let whole = (a / unit).to_string();
    let frac = a % unit;
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    for (i, c) in whole.chars().enumerate() {
        if group && i > 0 && (whole.len() - i) % 3 == 0 {
            s.push(',');
        }
        s.push(c);
    }
    if decimals > 0 {
        let f = format!("{frac:0width$}", width = scale as usize);
        s.push('.');
        s.push_str(&f[..decimals as usize]);
    }
    s
}

/// How many decimals a step of `step` units of `1/10^scale` needs (at least `min`).
fn decimals_of(step: i128, scale: u32, min: u32) -> u32 {
    let mut tz = 0;
    let mut s = step;
    while tz < scale && s % 10 == 0 {
        s /= 10;
        tz += 1;
    }
    (scale - tz).max(min)
}

/// A county's label: `name（id）` (Chinese) or `name (id)`.
fn county_label(name: &Text, id: &CountyId, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("{}（{}）", name.as_str(), id.as_str()),
        Lang::En => format!("{} ({})", name.as_str(), id.as_str()),
    }
}

// ---------------------------------------------------------------------------------
// cash
// ---------------------------------------------------------------------------------

const CASH_W: f64 = 1000.0;
const CASH_H: f64 = 570.0;
const CASH_LEFT: f64 = 96.0;
const CASH_RIGHT: f64 = 970.0;
const CASH_TOP: f64 = 96.0;
const CASH_BOTTOM: f64 = 470.0;

/// The y axis of a cash chart: 0 to the greatest cash or line amount, in 万元 steps
/// (or finer, for small amounts).
fn cash_axis(c: &CashChart) -> Axis {
    let mut min = 0i128;
    let mut max = 0i128;
    for d in &c.days {
        for v in [
            Some(d.cash),
            d.warning_amount,
            d.alert_amount,
            d.idle_amount,
        ]
        .into_iter()
        .flatten()
        {
            min = min.min(v.cents());
            max = max.max(v.cents());
        }
    }
    Axis::nice(min, max, 1, 8, CASH_BOTTOM, CASH_TOP)
}

/// The `cash` chart as SVG: the day-end cash as a polyline (one point per day, at
/// the middle of the day's slot), the four zones as bands (stepped: each day's amounts
/// hold across its slot; days with no average outflow leave a gap), the warning,
/// alert and idle amounts as dashed edges, a y axis in 万元 with grid lines, month
/// ticks on the x axis, a legend. The plot group carries its scale as data
/// attributes (`data-y-min`/`data-y-max` in yuan, `data-top`/`data-bottom` in pixels).
pub fn cash_svg(c: &CashChart, lang: Lang) -> String {
    let label = county_label(&c.name, &c.county, lang);
    let title = match lang {
        Lang::Zh => format!("{label}库款日终余额与保障线"),
        Lang::En => format!("{label}: day-end cash and guarantee lines"),
    };
    let mut svg = Svg::new(CASH_W, CASH_H, &title);
    svg.text(
        &T {
            size: 18.0,
            bold: true,
            ..T::at(CASH_W / 2.0, 34.0)
        }
        .centered(),
        "title",
        &title,
    );
    let subtitle = match lang {
        Lang::Zh => format!(
            "{} 至 {}　截至第{}号记录　保障线金额 = 保障线 × 月均支出",
            c.from, c.to, c.at_seq
        ),
        Lang::En => format!(
            "{} to {} · records up to seq {} · line amount = line × average monthly outflow",
            c.from, c.to, c.at_seq
        ),
    };
    svg.text(
        &T {
            fill: MUTED,
            ..T::at(CASH_W / 2.0, 58.0)
        }
        .centered(),
        "subtitle",
        &subtitle,
    );
    let ax = cash_axis(c);
    let n = c.days.len().max(1) as f64;
    let slot = (CASH_RIGHT - CASH_LEFT) / n;
    let x0 = |i: usize| CASH_LEFT + i as f64 * slot;
    let xc = |i: usize| CASH_LEFT + (i as f64 + 0.5) * slot;
    let y = |m: Money| ax.at(m.cents());

    let _ = writeln!(
        svg.out,
        "<g class=\"plot\" data-y-min=\"{}\" data-y-max=\"{}\" data-top=\"{}\" data-bottom=\"{}\" data-left=\"{}\" data-right=\"{}\">",
        Money::from_cents(ax.lo),
        Money::from_cents(ax.hi),
        px(CASH_TOP),
        px(CASH_BOTTOM),
        px(CASH_LEFT),
        px(CASH_RIGHT)
    );
    // Bands: runs of days that have an average outflow.
    let mut i = 0;
    while i < c.days.len() {
        if c.days[i].avg_monthly_outflow.is_none() {
            i += 1;
            continue;
        }
        let start = i;
        while i < c.days.len() && c.days[i].avg_monthly_outflow.is_some() {
            i += 1;
        }
        let run = &c.days[start..i];
        let edge = |f: &dyn Fn(&CashDay) -> f64| -> Vec<(f64, f64)> {
            run.iter()
                .enumerate()
                .flat_map(|(k, d)| {
                    let v = f(d);
                    [(x0(start + k), v), (x0(start + k + 1), v)]
                })
                .collect()
        };
        let amount = |d: &CashDay, m: Option<Money>| y(m.unwrap_or(d.cash));
        let bottom = edge(&|_| ax.at(ax.lo));
        let top = edge(&|_| ax.at(ax.hi));
        let warn = edge(&|d| amount(d, d.warning_amount));
        let alert = edge(&|d| amount(d, d.alert_amount));
        let idle = edge(&|d| amount(d, d.idle_amount));
        let _ = writeln!(
            svg.out,
            "<g class=\"band-run\" data-from=\"{}\" data-to=\"{}\">",
            run[0].date,
            run[run.len() - 1].date
        );
        for (class, fill, lower, upper) in [
            ("band-warning", BAND_WARNING, &bottom, &warn),
            ("band-low", BAND_LOW, &warn, &alert),
            ("band-normal", BAND_NORMAL, &alert, &idle),
            ("band-idle", BAND_IDLE, &idle, &top),
        ] {
            let mut poly: Vec<(f64, f64)> = upper.clone();
            poly.extend(lower.iter().rev());
            let _ = writeln!(
                svg.out,
                "<polygon class=\"{class}\" fill=\"{fill}\" stroke=\"none\" points=\"{}\"/>",
                points(&poly)
            );
        }
        for (class, stroke, dash, pts) in [
            ("edge-warning", status_colour(Status::Warning), "6 3", &warn),
            ("edge-alert", status_colour(Status::Low), "6 3", &alert),
            ("edge-idle", status_colour(Status::Idle), "2 3", &idle),
        ] {
            let _ = writeln!(
                svg.out,
                "<polyline class=\"{class}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"1.2\" stroke-dasharray=\"{dash}\" points=\"{}\"/>",
                points(pts)
            );
        }
        svg.raw("</g>\n");
    }
    // Grid and y axis.
    let decimals = decimals_of(ax.step, 6, 0);
    for v in ax.ticks() {
        let yy = ax.at(v);
        svg.line(CASH_LEFT, yy, CASH_RIGHT, yy, GRID, " stroke-width=\"0.8\"");
        svg.text(
            &T {
                anchor: "end",
                fill: AXIS,
                ..T::at(CASH_LEFT - 8.0, yy + 4.0)
            },
            "y-tick",
            &decimal_text(v, 6, decimals, true),
        );
    }
    let unit = lang.pick("单位：万元", "10k yuan");
    svg.text(
        &T {
            anchor: "end",
            fill: AXIS,
            ..T::at(CASH_LEFT - 8.0, CASH_TOP - 14.0)
        },
        "y-unit",
        unit,
    );
    // Month ticks: the first day of each month in the range, labelled every k-th
    // month so that labels never crowd (at most about 14).
    let month_starts: Vec<usize> = c
        .days
        .iter()
        .enumerate()
        .filter(|(k, d)| *k == 0 || d.date == d.date.month().first_day())
        .map(|(k, _)| k)
        .collect();
    let every = month_starts.len().div_ceil(14).max(1);
    for (j, &k) in month_starts.iter().enumerate() {
        let xx = x0(k);
        svg.line(
            xx,
            CASH_BOTTOM,
            xx,
            CASH_BOTTOM + 5.0,
            AXIS,
            " stroke-width=\"1\"",
        );
        if j % every == 0 {
            let anchor = if k == 0 { "start" } else { "middle" };
            svg.text(
                &T {
                    anchor,
                    fill: AXIS,
                    ..T::at(xx, CASH_BOTTOM + 20.0)
                },
                "x-tick",
                &c.days[k].date.month().to_string(),
            );
        }
    }
    // The cash line.
    let pts: Vec<(f64, f64)> = c
        .days
        .iter()
        .enumerate()
        .map(|(k, d)| (xc(k), y(d.cash)))
        .collect();
    let _ = writeln!(
        svg.out,
        "<polyline class=\"cash\" fill=\"none\" stroke=\"{CASH_LINE}\" stroke-width=\"1.8\" stroke-linejoin=\"round\" points=\"{}\"/>",
        points(&pts)
    );
    svg.raw("</g>\n");
    // Axes over the bands.
    svg.line(
        CASH_LEFT,
        CASH_TOP,
        CASH_LEFT,
        CASH_BOTTOM,
        AXIS,
        " stroke-width=\"1\"",
    );
    svg.line(
        CASH_LEFT,
        CASH_BOTTOM,
        CASH_RIGHT,
        CASH_BOTTOM,
        AXIS,
        " stroke-width=\"1\"",
    );
    let w = |s: Status| s.word(lang);
    let mut items = vec![
        (
            Swatch::Stroke(CASH_LINE, "", 2.0),
            lang.pick("库款日终余额", "day-end cash").to_string(),
        ),
        (
            Swatch::Fill(BAND_WARNING),
            match lang {
                Lang::Zh => format!("{}区（低于预警线）", w(Status::Warning)),
                Lang::En => "warning (below the warning line)".to_string(),
            },
        ),
        (
            Swatch::Fill(BAND_LOW),
            match lang {
                Lang::Zh => format!("{}区（预警线至关注线）", w(Status::Low)),
                Lang::En => "low (warning to alert line)".to_string(),
            },
        ),
        (
            Swatch::Fill(BAND_NORMAL),
            match lang {
                Lang::Zh => format!("{}区（关注线至闲置线）", w(Status::Normal)),
                Lang::En => "normal (alert to idle line)".to_string(),
            },
        ),
        (
            Swatch::Fill(BAND_IDLE),
            match lang {
                Lang::Zh => format!("{}区（高于闲置线）", w(Status::Idle)),
                Lang::En => "idle (above the idle line)".to_string(),
            },
        ),
    ];
    let lines = [
        (Status::Warning, "6 3", lang.pick("预警线", "warning line")),
        (Status::Low, "6 3", lang.pick("关注线", "alert line")),
        (Status::Idle, "2 3", lang.pick("闲置线", "idle line")),
    ];
    for (s, dash, words) in lines {
        items.push((
            Swatch::Stroke(status_colour(s), dash, 1.5),
            words.to_string(),
        ));
    }
    let last = legend(&mut svg, CASH_LEFT, CASH_BOTTOM + 52.0, CASH_RIGHT, &items);
    if c.days.iter().any(|d| d.avg_monthly_outflow.is_none()) {
        svg.text(
            &T {
                fill: MUTED,
                size: 11.0,
                ..T::at(CASH_LEFT, last + 24.0)
            },
            "note",
            lang.pick(
                "空白处：当日无月均支出（保障水平未知），不画保障线。",
                "Blank: no average monthly outflow that day (level unknown), so no lines.",
            ),
        );
    }
    svg.finish()
}

impl T<'_> {
    fn centered(self) -> Self {
        T {
            anchor: "middle",
            ..self
        }
    }
}

// ---------------------------------------------------------------------------------
// levels
// ---------------------------------------------------------------------------------

const LV_W: f64 = 1000.0;
const LV_LABEL_RIGHT: f64 = 214.0;
const LV_LEFT: f64 = 226.0;
const LV_RIGHT: f64 = 820.0;
const LV_TOP: f64 = 104.0;
const LV_ROW: f64 = 38.0;
const LV_BAR: f64 = 18.0;

/// The x axis of a levels chart: 0 to the greatest level or line, in steps of 0.1,
/// 0.2, 0.5, 1 … (ratio units).
fn levels_axis(c: &LevelsChart) -> Axis {
    let mut min = 0i128;
    let mut max = 0i128;
    for r in &c.counties {
        for v in [
            r.guarantee_level,
            Some(r.warning_line),
            Some(r.alert_line),
            Some(r.idle_line),
        ]
        .into_iter()
        .flatten()
        {
            min = min.min(i128::from(v.units()));
            max = max.max(i128::from(v.units()));
        }
    }
    Axis::nice(min, max, 1000, 10, LV_LEFT, LV_RIGHT)
}

/// The `levels` chart as SVG: one row per county (`name（id）` on the left), a bar
/// from 0 to its level coloured by status, its warning, alert and idle lines as
/// marks across the row, and in the right column the level (four decimals) and the
/// status word; a county with no level has no bar and the word 未知 / unknown. Each
/// row is a `<g class="county" data-county=…>`; the plot group carries its scale
/// (`data-x-min`/`data-x-max` as ratios, `data-left`/`data-right` in pixels).
pub fn levels_svg(c: &LevelsChart, lang: Lang) -> String {
    let rows = c.counties.len() as f64;
    let bottom = LV_TOP + rows * LV_ROW;
    let height = bottom + 110.0;
    let title = match lang {
        Lang::Zh => format!("各县区库款保障水平（{}）", c.as_of),
        Lang::En => format!("Guarantee level by county, {}", c.as_of),
    };
    let mut svg = Svg::new(LV_W, height, &title);
    svg.text(
        &T {
            size: 18.0,
            bold: true,
            ..T::at(LV_W / 2.0, 34.0)
        }
        .centered(),
        "title",
        &title,
    );
    let subtitle = match lang {
        Lang::Zh => format!(
            "库款保障水平 = 库款日终余额 ÷ 月均支出　各行标出该县区在用的三条保障线　截至第{}号记录",
            c.at_seq
        ),
        Lang::En => format!(
            "level = day-end cash ÷ average monthly outflow · each row marks its own three lines · records up to seq {}",
            c.at_seq
        ),
    };
    svg.text(
        &T {
            fill: MUTED,
            ..T::at(LV_W / 2.0, 58.0)
        }
        .centered(),
        "subtitle",
        &subtitle,
    );
    let ax = levels_axis(c);
    let _ = writeln!(
        svg.out,
        "<g class=\"plot\" data-x-min=\"{}\" data-x-max=\"{}\" data-left=\"{}\" data-right=\"{}\">",
        Ratio::from_units(ax.lo as i64),
        Ratio::from_units(ax.hi as i64),
        px(LV_LEFT),
        px(LV_RIGHT)
    );
    // Grid and axis labels (above the rows and below them).
    let decimals = decimals_of(ax.step, 4, 1);
    for v in ax.ticks() {
        let xx = ax.at(v);
        svg.line(xx, LV_TOP - 6.0, xx, bottom, GRID, " stroke-width=\"0.8\"");
        let t = decimal_text(v, 4, decimals, false);
        svg.text(
            &T {
                fill: AXIS,
                ..T::at(xx, bottom + 18.0)
            }
            .centered(),
            "x-tick",
            &t,
        );
    }
    svg.text(
        &T {
            fill: AXIS,
            anchor: "end",
            ..T::at(LV_LABEL_RIGHT, bottom + 18.0)
        },
        "x-unit",
        lang.pick("保障水平", "level"),
    );
    svg.text(
        &T {
            fill: AXIS,
            bold: true,
            ..T::at(LV_RIGHT + 14.0, LV_TOP - 12.0)
        },
        "col-head",
        lang.pick("保障水平　状态", "level · status"),
    );
    for (k, r) in c.counties.iter().enumerate() {
        let top = LV_TOP + k as f64 * LV_ROW;
        let mid = top + LV_ROW / 2.0;
        let label = county_label(&r.name, &r.county, lang);
        let _ = writeln!(
            svg.out,
            "<g class=\"county\" data-county=\"{}\" data-status=\"{}\">",
            escape(r.county.as_str()),
            r.status.as_str()
        );
        if k % 2 == 1 {
            svg.rect(0.0, top, LV_W, LV_ROW, "#f7f7f7", " class=\"stripe\"");
        }
        svg.text(
            &T {
                anchor: "end",
                size: 13.0,
                ..T::at(LV_LABEL_RIGHT, mid + 4.5)
            },
            "label",
            &fit(&label, 13.0, LV_LABEL_RIGHT - 10.0),
        );
        let colour = status_colour(r.status);
        if let Some(level) = r.guarantee_level {
            let v = i128::from(level.units());
            let (a, b) = (ax.at(0.min(v)), ax.at(0.max(v)));
            svg.rect(
                a,
                mid - LV_BAR / 2.0,
                b - a,
                LV_BAR,
                colour,
                &format!(" class=\"bar\" data-level=\"{level}\""),
            );
        }
        for (class, line, dash, s) in [
            ("mark-warning", r.warning_line, "", Status::Warning),
            ("mark-alert", r.alert_line, "4 2", Status::Low),
            ("mark-idle", r.idle_line, "2 2", Status::Idle),
        ] {
            let xx = ax.at(i128::from(line.units()));
            svg.line(
                xx,
                top + 5.0,
                xx,
                top + LV_ROW - 5.0,
                status_colour(s),
                &format!(
                    " stroke-width=\"2\" class=\"{class}\" data-line=\"{line}\"{}",
                    if dash.is_empty() {
                        String::new()
                    } else {
                        format!(" stroke-dasharray=\"{dash}\"")
                    }
                ),
            );
        }
        let value = r
            .guarantee_level
            .map_or_else(|| "—".to_string(), |l| l.to_string());
        svg.text(
            &T {
                size: 13.0,
                anchor: "end",
                ..T::at(LV_RIGHT + 76.0, mid + 4.5)
            },
            "level",
            &value,
        );
        svg.text(
            &T {
                size: 13.0,
                fill: colour,
                bold: true,
                ..T::at(LV_RIGHT + 88.0, mid + 4.5)
            },
            "status",
            r.status.word(lang),
        );
        svg.raw("</g>\n");
    }
    svg.line(
        ax.at(0),
        LV_TOP - 6.0,
        ax.at(0),
        bottom,
        AXIS,
        " stroke-width=\"1\"",
    );
    svg.raw("</g>\n");
    let mut items: Vec<(Swatch<'_>, String)> =
        [Status::Warning, Status::Low, Status::Normal, Status::Idle]
            .into_iter()
            .map(|s| (Swatch::Fill(status_colour(s)), s.word(lang).to_string()))
            .collect();
    items.push((
        Swatch::Stroke(status_colour(Status::Warning), "", 2.0),
        lang.pick("预警线", "warning line").to_string(),
    ));
    items.push((
        Swatch::Stroke(status_colour(Status::Low), "4 2", 2.0),
        lang.pick("关注线", "alert line").to_string(),
    ));
    items.push((
        Swatch::Stroke(status_colour(Status::Idle), "2 2", 2.0),
        lang.pick("闲置线", "idle line").to_string(),
    ));
    items.push((
        Swatch::Fill("#ffffff"),
        match lang {
            Lang::Zh => format!("无柱：{}（无月均支出）", Status::Unknown.word(lang)),
            Lang::En => "no bar: unknown (no average outflow)".to_string(),
        },
    ));
    legend(&mut svg, 40.0, bottom + 58.0, LV_W - 30.0, &items);
    svg.finish()
}

// ---------------------------------------------------------------------------------
// forecast
// ---------------------------------------------------------------------------------

const FC_LABEL_RIGHT: f64 = 214.0;
const FC_LEFT: f64 = 226.0;
const FC_TOP: f64 = 112.0;
const FC_CELL_W: f64 = 104.0;
const FC_CELL_H: f64 = 46.0;

/// The `forecast` chart as SVG: a grid with one row per county (`name（id）`) and one
/// column per month; each cell is filled by its risk and shows the wage cover as in
/// JSON (four decimals, or — when null) and the risk word beneath. Each cell is a
/// `<g class="cell" data-county=… data-month=… data-risk=…>`.
pub fn forecast_svg(c: &ForecastChart, lang: Lang) -> String {
    let cols = c.months.len() as f64;
    let bottom = FC_TOP + c.counties.len() as f64 * FC_CELL_H;
    let height = bottom + 96.0;
    let k = c.months.len();
    let title = match lang {
        Lang::Zh => format!("未来{k}个月工资保障倍数（{} 起）", c.from),
        Lang::En => format!(
            "Wage cover, {k} month{} from {}",
            if k == 1 { "" } else { "s" },
            c.from
        ),
    };
    let subtitle = match lang {
        Lang::Zh => format!(
            "工资保障倍数 =（月初库款 + 调入资金 + 预计收入 − 非工资支出）÷ 工资需求　截至第{}号记录",
            c.based_on_seq
        ),
        Lang::En => format!(
            "wage cover = (opening cash + funded in + expected revenue − non-wage needs) ÷ wage need · records up to seq {}",
            c.based_on_seq
        ),
    };
    // Wide enough for the grid, the titles and the legend.
    let width = (FC_LEFT + cols * FC_CELL_W + 40.0)
        .max(text_width(&subtitle, 11.5) + 60.0)
        .max(FC_LEFT + 620.0)
        .ceil();
    let mut svg = Svg::new(width, height, &title);
    svg.text(
        &T {
            size: 18.0,
            bold: true,
            ..T::at(width / 2.0, 34.0)
        }
        .centered(),
        "title",
        &title,
    );
    svg.text(
        &T {
            fill: MUTED,
            size: 11.5,
            ..T::at(width / 2.0, 58.0)
        }
        .centered(),
        "subtitle",
        &subtitle,
    );
    svg.raw("<g class=\"grid\">\n");
    for (j, m) in c.months.iter().enumerate() {
        svg.text(
            &T {
                bold: true,
                size: 13.0,
                ..T::at(FC_LEFT + (j as f64 + 0.5) * FC_CELL_W, FC_TOP - 12.0)
            }
            .centered(),
            "month",
            &m.to_string(),
        );
    }
    for (i, r) in c.counties.iter().enumerate() {
        let top = FC_TOP + i as f64 * FC_CELL_H;
        let label = county_label(&r.name, &r.county, lang);
        svg.text(
            &T {
                anchor: "end",
                size: 13.0,
                ..T::at(FC_LABEL_RIGHT, top + FC_CELL_H / 2.0 + 4.5)
            },
            "label",
            &fit(&label, 13.0, FC_LABEL_RIGHT - 10.0),
        );
        for (j, cell) in r.cells.iter().enumerate() {
            let left = FC_LEFT + j as f64 * FC_CELL_W;
            let _ = writeln!(
                svg.out,
                "<g class=\"cell\" data-county=\"{}\" data-month=\"{}\" data-risk=\"{}\">",
                escape(r.county.as_str()),
                cell.month,
                cell.risk.as_str()
            );
            svg.rect(
                left,
                top,
                FC_CELL_W,
                FC_CELL_H,
                risk_fill(cell.risk),
                " stroke=\"#ffffff\" stroke-width=\"2\"",
            );
            let value = cell
                .wage_cover
                .map_or_else(|| "—".to_string(), |v| v.to_string());
            svg.text(
                &T {
                    size: 15.0,
                    bold: true,
                    ..T::at(left + FC_CELL_W / 2.0, top + 21.0)
                }
                .centered(),
                "cover",
                &value,
            );
            let risk = match lang {
                Lang::Zh => format!("{}风险", cell.risk.word(lang)),
                Lang::En => format!("{} risk", cell.risk.word(lang)),
            };
            svg.text(
                &T {
                    size: 11.0,
                    fill: "#333333",
                    ..T::at(left + FC_CELL_W / 2.0, top + 37.0)
                }
                .centered(),
                "risk",
                &risk,
            );
            svg.raw("</g>\n");
        }
    }
    svg.raw("</g>\n");
    let items = vec![
        (
            Swatch::Fill(risk_fill(Risk::High)),
            lang.pick("高风险：倍数 < 1.0", "high risk: cover < 1.0")
                .to_string(),
        ),
        (
            Swatch::Fill(risk_fill(Risk::Medium)),
            lang.pick("中风险：1.0 ≤ 倍数 < 1.2", "medium: 1.0 ≤ cover < 1.2")
                .to_string(),
        ),
        (
            Swatch::Fill(risk_fill(Risk::Low)),
            lang.pick("低风险：倍数 ≥ 1.2", "low: cover ≥ 1.2")
                .to_string(),
        ),
    ];
    let last = legend(&mut svg, FC_LEFT, bottom + 36.0, width - 20.0, &items);
    svg.text(
        &T {
            fill: MUTED,
            size: 11.0,
            ..T::at(FC_LEFT, last + 24.0)
        },
        "note",
        lang.pick(
            "—：当月无工资需求，不计倍数（按低风险）。",
            "—: no wage need that month, no cover (counted low risk).",
        ),
    );
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::position::test_log::*;
    use serde_json::json;

    /// Parses the SVG (panics unless well-formed XML with an `<svg>` root in the SVG
    /// namespace, a `<title>` and a legend).
    fn parse(svg: &str) -> roxmltree::Document<'_> {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        for a in ["viewBox", "width", "height"] {
            assert!(root.attribute(a).is_some(), "{a}");
        }
        assert_eq!(
            root.first_element_child().unwrap().tag_name().name(),
            "title"
        );
        assert!(doc.descendants().any(|n| has_class(&n, "legend")));
        for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
            assert_eq!(t.attribute("font-family"), Some(FONT_FAMILY));
        }
        doc
    }

    fn has_class(n: &roxmltree::Node<'_, '_>, class: &str) -> bool {
        n.attribute("class") == Some(class)
    }

    fn all<'a, 'i>(doc: &'a roxmltree::Document<'i>, class: &str) -> Vec<roxmltree::Node<'a, 'i>> {
        doc.descendants().filter(|n| has_class(n, class)).collect()
    }

    fn text_of(n: &roxmltree::Node<'_, '_>) -> String {
        n.descendants()
            .filter(|d| d.is_text())
            .filter_map(|d| d.text())
            .collect()
    }

    fn pts(n: &roxmltree::Node<'_, '_>) -> Vec<(f64, f64)> {
        n.attribute("points")
            .unwrap()
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    fn f(n: &roxmltree::Node<'_, '_>, a: &str) -> f64 {
        n.attribute(a).unwrap().parse().unwrap()
    }

    fn yuan(s: &str) -> f64 {
        s.parse().unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.011
    }

    /// County a: 1000 of treasury, a need of 1000 a month, outflows in February and
    /// March, lines changed on 03-10; county b: no outflow and no need until 01-20
    /// (its days before have no level: a gap in the bands).
    fn city() -> TestLog {
        let mut l = TestLog::new();
        l.ok(json!({"kind":"county_registered","county":"a","name":"建昌县","registered_on":"2021-01-01","opening_treasury":"1000"}));
        l.ok(need("a", 2021, "operations", "12000", "2021-01-01"));
        l.ok(revenue("a", "5000", "2021-01-15"));
        l.ok(spend("a", "1234.56", "2021-02-10"));
        l.ok(spend("a", "999.99", "2021-03-03"));
        l.ok(lines(Some("a"), "0.25", "0.6", "2", "2021-03-10"));
        l.ok(county("b", "2021-01-01", "500"));
        l.ok(need("b", 2021, "wages", "2400", "2021-01-20"));
        l
    }

    #[test]
    fn cash_polyline_has_one_point_per_day_on_the_charts_scale() {
        let l = city();
        let c = cash_data(&l.state, &id("a"), d("2021-01-01"), d("2021-04-30")).unwrap();
        assert_eq!(c.days.len(), 120);
        let svg = cash_svg(&c, Lang::Zh);
        let doc = parse(&svg);
        let plot = all(&doc, "plot")[0];
        let (lo, hi) = (
            yuan(plot.attribute("data-y-min").unwrap()),
            yuan(plot.attribute("data-y-max").unwrap()),
        );
        let (top, bottom) = (f(&plot, "data-top"), f(&plot, "data-bottom"));
        let scale =
            |m: Money| bottom + (m.cents() as f64 / 100.0 - lo) / (hi - lo) * (top - bottom);
        let line = all(&doc, "cash");
        assert_eq!(line.len(), 1);
        let p = pts(&line[0]);
        assert_eq!(p.len(), c.days.len());
        for (k, (day, (x, y))) in c.days.iter().zip(&p).enumerate() {
            assert!(
                close(*y, scale(day.cash)),
                "{}: {y} vs {}",
                day.date,
                scale(day.cash)
            );
            if k > 0 {
                assert!(*x > p[k - 1].0, "x grows with the days");
            }
        }
        // The figures are monitor's: 1000 + 5000 revenue − 1234.56 on 02-10.
        assert_eq!(c.days[40].cash.to_string(), "4765.44");
        // Title, month ticks and y labels in Chinese and 万元.
        assert!(svg.contains("建昌县（a）库款日终余额与保障线"));
        let months: Vec<String> = all(&doc, "x-tick").iter().map(text_of).collect();
        assert_eq!(months, ["2021-01", "2021-02", "2021-03", "2021-04"]);
        assert_eq!(text_of(&all(&doc, "y-unit")[0]), "单位：万元");
        // Ticks are exact multiples of the step, written from integers.
        let ticks: Vec<String> = all(&doc, "y-tick").iter().map(text_of).collect();
        assert_eq!(ticks.first().map(String::as_str), Some("0.0"));
        assert!(ticks
            .iter()
            .all(|t| t.split('.').nth(1).map(str::len) == Some(1)));
    }

    #[test]
    fn band_edges_are_the_lines_times_the_average_outflow() {
        let l = city();
        let c = cash_data(&l.state, &id("a"), d("2021-01-01"), d("2021-04-30")).unwrap();
        // January: no outflow yet, so the month's need (1000.00); on 03-10 the
        // lines change to 0.25 / 0.6 / 2.
        let jan = &c.days[5];
        assert_eq!(jan.avg_monthly_outflow.unwrap().to_string(), "1000.00");
        assert_eq!(jan.warning_amount.unwrap().to_string(), "300.00");
        assert_eq!(jan.alert_amount.unwrap().to_string(), "500.00");
        assert_eq!(jan.idle_amount.unwrap().to_string(), "1500.00");
        // April: window Jan–Mar outflow 2234.55 / 3 = 744.85; × 0.25 = 186.2125.
        let apr = c.days.iter().find(|x| x.date == d("2021-04-15")).unwrap();
        assert_eq!(apr.avg_monthly_outflow.unwrap().to_string(), "744.85");
        assert_eq!(apr.warning_amount.unwrap().to_string(), "186.21");
        assert_eq!(apr.alert_amount.unwrap().to_string(), "446.91");
        assert_eq!(apr.idle_amount.unwrap().to_string(), "1489.70");
        for day in &c.days {
            let avg = day.avg_monthly_outflow.unwrap();
            assert_eq!(day.warning_amount, Some(line_amount(day.warning_line, avg)));
            assert_eq!(day.idle_amount, Some(line_amount(day.idle_line, avg)));
        }
        assert_eq!(
            line_amount(Ratio::from_units(2500), Money::from_cents(74485)).cents(),
            18621
        );
        let svg = cash_svg(&c, Lang::En);
        let doc = parse(&svg);
        let plot = all(&doc, "plot")[0];
        let (lo, hi) = (
            yuan(plot.attribute("data-y-min").unwrap()),
            yuan(plot.attribute("data-y-max").unwrap()),
        );
        let (top, bottom) = (f(&plot, "data-top"), f(&plot, "data-bottom"));
        let scale =
            |m: Money| bottom + (m.cents() as f64 / 100.0 - lo) / (hi - lo) * (top - bottom);
        let runs = all(&doc, "band-run");
        assert_eq!(runs.len(), 1, "every day of a has a level");
        for (class, pick) in [
            (
                "edge-warning",
                (|d: &CashDay| d.warning_amount) as fn(&CashDay) -> Option<Money>,
            ),
            ("edge-alert", |d: &CashDay| d.alert_amount),
            ("edge-idle", |d: &CashDay| d.idle_amount),
        ] {
            let e: Vec<_> = runs[0]
                .descendants()
                .filter(|n| has_class(n, class))
                .collect();
            let p = pts(&e[0]);
            assert_eq!(p.len(), 2 * c.days.len(), "{class}: two points a day");
            for (k, day) in c.days.iter().enumerate() {
                let want = scale(pick(day).unwrap());
                assert!(
                    close(p[2 * k].1, want) && close(p[2 * k + 1].1, want),
                    "{class} {}",
                    day.date
                );
            }
        }
        assert!(svg.contains("day-end cash and guarantee lines"));
    }

    #[test]
    fn days_without_an_average_outflow_leave_gaps_in_the_bands() {
        let l = city();
        let c = cash_data(&l.state, &id("b"), d("2021-01-01"), d("2021-01-31")).unwrap();
        let svg = cash_svg(&c, Lang::Zh);
        let doc = parse(&svg);
        let runs = all(&doc, "band-run");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].attribute("data-from"), Some("2021-01-20"));
        assert_eq!(runs[0].attribute("data-to"), Some("2021-01-31"));
        assert!(c.days[..19].iter().all(|x| x.guarantee_level.is_none()
            && x.warning_amount.is_none()
            && x.status == Status::Unknown));
        assert_eq!(
            pts(&all(&doc, "cash")[0]).len(),
            31,
            "the cash line has no gap"
        );
        assert!(svg.contains("不画保障线"));
    }

    #[test]
    fn levels_bars_match_levels_and_say_the_status_in_words() {
        let mut l = city();
        l.ok(county("z", "2021-01-01", "10"));
        let c = levels_data(&l.state, Some(d("2021-03-31"))).unwrap();
        assert_eq!(c.counties.len(), 3);
        for lang in [Lang::Zh, Lang::En] {
            let svg = levels_svg(&c, lang);
            let doc = parse(&svg);
            let plot = all(&doc, "plot")[0];
            let (lo, hi) = (
                yuan(plot.attribute("data-x-min").unwrap()),
                yuan(plot.attribute("data-x-max").unwrap()),
            );
            let (left, right) = (f(&plot, "data-left"), f(&plot, "data-right"));
            let scale =
                |r: Ratio| left + (r.units() as f64 / 10_000.0 - lo) / (hi - lo) * (right - left);
            let rows = all(&doc, "county");
            assert_eq!(rows.len(), c.counties.len());
            for (row, want) in rows.iter().zip(&c.counties) {
                assert_eq!(row.attribute("data-county"), Some(want.county.as_str()));
                let find = |class| row.descendants().find(|n| has_class(n, class));
                let status = text_of(&find("status").unwrap());
                assert_eq!(status, want.status.word(lang));
                match want.guarantee_level {
                    Some(level) => {
                        let bar = find("bar").unwrap();
                        assert!(close(f(&bar, "x"), scale(Ratio::from_units(0))));
                        assert!(close(f(&bar, "x") + f(&bar, "width"), scale(level)));
                        assert_eq!(text_of(&find("level").unwrap()), level.to_string());
                    }
                    None => {
                        assert!(find("bar").is_none());
                        assert_eq!(status, lang.pick("未知", "unknown"));
                    }
                }
                for (class, line) in [
                    ("mark-warning", want.warning_line),
                    ("mark-alert", want.alert_line),
                    ("mark-idle", want.idle_line),
                ] {
                    let m = find(class).unwrap();
                    assert!(close(f(&m, "x1"), scale(line)), "{class}");
                }
            }
        }
        // a on 03-31: its own lines since 03-10; z has no outflow and no need.
        let a = &c.counties[0];
        assert_eq!(a.warning_line.to_string(), "0.2500");
        assert_eq!(c.counties[2].status, Status::Unknown);
        let svg = levels_svg(&c, Lang::Zh);
        assert!(svg.contains("各县区库款保障水平（2021-03-31）"));
        assert!(svg.contains(">未知</text>"));
    }

    #[test]
    fn forecast_cells_show_the_forecasts_wage_cover_and_risk() {
        let mut l = city();
        l.ok(json!({"kind":"county_registered","county":"c","name":"丙","registered_on":"2021-01-01","opening_treasury":"100"}));
        l.ok(need("c", 2021, "wages", "1200", "2021-01-08"));
        let c = forecast_data(&l.state, Month::parse("2021-05").unwrap(), 4).unwrap();
        let v =
            serde_json::to_value(forecast(&l.state, Month::parse("2021-05").unwrap(), 4)).unwrap();
        let svg = forecast_svg(&c, Lang::Zh);
        let doc = parse(&svg);
        let cells = all(&doc, "cell");
        assert_eq!(cells.len(), 3 * 4);
        let mut risks = std::collections::BTreeSet::new();
        for (i, county) in v["counties"].as_array().unwrap().iter().enumerate() {
            for (j, m) in county["months"].as_array().unwrap().iter().enumerate() {
                let cell = &cells[i * 4 + j];
                assert_eq!(cell.attribute("data-county"), county["county"].as_str());
                assert_eq!(cell.attribute("data-month"), m["month"].as_str());
                assert_eq!(cell.attribute("data-risk"), m["risk"].as_str());
                let cover = text_of(&cell.descendants().find(|n| has_class(n, "cover")).unwrap());
                assert_eq!(cover, m["wage_cover"].as_str().unwrap_or("—"));
                let risk = text_of(&cell.descendants().find(|n| has_class(n, "risk")).unwrap());
                assert!(risk.ends_with("风险"), "{risk}");
                risks.insert(m["risk"].as_str().unwrap().to_string());
            }
        }
        // Several risks in play, and a has no wage need: —.
        assert!(risks.len() >= 2, "{risks:?}");
        assert!(cells
            .iter()
            .any(|c| text_of(c).trim_start().starts_with('—')));
        assert!(svg.contains("未来4个月工资保障倍数（2021-05 起）"));
    }

    #[test]
    fn names_are_escaped_and_charts_are_deterministic() {
        let mut l = TestLog::new();
        let evil = "<b>&\"'县</b>";
        l.ok(json!({"kind":"county_registered","county":"x","name":evil,"registered_on":"2021-01-01","opening_treasury":"100"}));
        l.ok(need("x", 2021, "wages", "1200", "2021-01-01"));
        for lang in [Lang::Zh, Lang::En] {
            let svgs = [
                cash(&l.state, &id("x"), d("2021-01-01"), d("2021-02-01"), lang).unwrap(),
                levels(&l.state, None, lang).unwrap(),
                forecast_chart(&l.state, Month::parse("2021-02").unwrap(), 2, lang).unwrap(),
            ];
            for svg in &svgs {
                assert!(!svg.contains("<b>"), "{svg}");
                let doc = parse(svg);
                // Read back, the name is the name.
                assert!(
                    doc.descendants()
                        .filter(|n| n.has_tag_name("text") || n.has_tag_name("title"))
                        .any(|n| text_of(&n).contains(evil)),
                    "{svg}"
                );
            }
            let again = [
                cash(&l.state, &id("x"), d("2021-01-01"), d("2021-02-01"), lang).unwrap(),
                levels(&l.state, None, lang).unwrap(),
                forecast_chart(&l.state, Month::parse("2021-02").unwrap(), 2, lang).unwrap(),
            ];
            assert_eq!(svgs, again);
        }
        assert_eq!(escape("a<&>\"'"), "a&lt;&amp;&gt;&quot;&apos;");
    }

    #[test]
    fn refusals() {
        let l = city();
        let s = &l.state;
        assert_eq!(
            cash_data(s, &id("nope"), d("2021-01-01"), d("2021-02-01")),
            Err(ChartError::UnknownCounty(id("nope")))
        );
        assert!(matches!(
            cash_data(s, &id("a"), d("2021-02-01"), d("2021-01-01")),
            Err(ChartError::Reversed { .. })
        ));
        assert!(matches!(
            cash_data(s, &id("a"), d("2001-01-01"), d("2021-01-01")),
            Err(ChartError::TooLong { .. })
        ));
        assert!(matches!(
            cash_data(s, &id("a"), d("2020-01-01"), d("2020-12-31")),
            Err(ChartError::NotRegistered { .. })
        ));
        // Days before the registration are not drawn.
        let c = cash_data(s, &id("a"), d("2020-12-25"), d("2021-01-02")).unwrap();
        assert_eq!(c.from, d("2021-01-01"));
        assert_eq!(c.days.len(), 2);
        assert_eq!(levels_data(&State::new(), None), Err(ChartError::EmptyLog));
        assert_eq!(
            levels_data(s, Some(d("2020-06-30"))),
            Err(ChartError::NoCounty(d("2020-06-30")))
        );
        assert!(matches!(
            forecast_data(s, Month::parse("2020-11").unwrap(), 3),
            Err(ChartError::NoCounty(_))
        ));
        assert_eq!(
            forecast_data(s, Month::parse("2021-02").unwrap(), 25),
            Err(ChartError::Months(25))
        );
        assert_eq!(
            default_cash_range(s, Some(d("2021-04-30"))),
            Some((d("2020-05-01"), d("2021-04-30")))
        );
    }

    #[test]
    fn axes_are_nice_and_labels_exact() {
        let a = Axis::nice(0, 44_000_000_000, 1, 8, 100.0, 0.0);
        assert_eq!((a.lo, a.step), (0, 10_000_000_000));
        assert_eq!(a.hi, 50_000_000_000);
        assert_eq!(
            decimal_text(a.step, 6, decimals_of(a.step, 6, 0), true),
            "10,000"
        );
        assert_eq!(
            decimal_text(250_000, 6, decimals_of(250_000, 6, 0), true),
            "0.25"
        );
        assert_eq!(decimal_text(5000, 4, decimals_of(5000, 4, 1), false), "0.5");
        assert_eq!(
            decimal_text(20000, 4, decimals_of(5000, 4, 1), false),
            "2.0"
        );
        let z = Axis::nice(0, 0, 1, 8, 0.0, 10.0);
        assert!(z.hi > z.lo);
        assert_eq!(px(-0.0001), "0.00");
    }
}
