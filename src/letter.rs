//! The monthly 提示函 (notice letter) to a county whose 库款保障水平 (guarantee level)
//! was low: the facts behind it, gathered from the monitor's own queries, and the
//! letter itself as a printable A4 HTML page and as a Word document (.docx).
//!
//! `sanbao notices --month YYYY-MM` drafts one letter for every county whose status
//! (SPEC §6.2) was `warning` (预警) or `low` (偏低) on any day of the month. This module
//! is its pure part: [`notice_counties`] says which counties, [`gather`] collects a
//! county's [`NoticeFacts`] ([`gather_all`] those of every county noticed), and
//! [`html`] and [`docx`] write a [`Letter`] from them.
//! The command, the `notice_issued` event and the numbering of documents are the
//! shell's.
//!
//! Guarantees:
//! - pure and deterministic: no I/O, no clock; the same state, month and letter give
//!   the same bytes of HTML and of .docx;
//! - no treasury rule is decided here: every figure is read from
//!   [`query::daily`](crate::query::daily) (each day's county row, days per status)
//!   and [`query::monitor::monitor`] on the month's last day, so a letter says exactly
//!   what `monitor` and `monitor --daily` say;
//! - money stays exact: the prose rounds to 0.01 万元 (half to even, once, in
//!   [`crate::money`]), and the letter's data table carries every figure to the cent
//!   in yuan; levels and lines are written with their exact four decimals, trailing
//!   zeros after the second dropped (0.3000 → 0.30, 0.2999 stays), so a level is never
//!   rounded onto the line it is compared with;
//! - the HTML and the .docx are built from one list of blocks, so they hold the same
//!   text in the same order; every text is escaped (HTML here, XML by `docx-rs`);
//! - each letter names the record its figures come from (at_seq and that record's
//!   hash), so the paper traces to the log.
//!
//! The layout follows the 信函格式 of GB/T 9704-2012 (党政机关公文格式): the issuer's
//! mark in red over a red rule, the 发文字号 (document number) flush right below it, the
//! title centred, the 主送机关 (addressee) flush left, the 正文 in paragraphs indented
//! two characters with numbered requirements (一、二、…), the 发文机关署名 and the
//! 成文日期 at the right (the date's first character two characters right of the
//! issuer's), A4 with margins 37 / 26 / 35 / 28 mm, 仿宋 body and 二号 (22 pt) 小标宋
//! title. The body is 三号 (16 pt, 28 pt a line) in the .docx, as the standard says;
//! the printed HTML sets it in 小三 (15 pt) with a tighter line, so that a letter and
//! its data table fit one A4 page (a longer letter flows onto a second, the caption
//! kept with its tables).

use crate::lang::{Lang, Term};
use crate::money::{round_half_even_div, Money, Ratio};
use crate::query::daily::{daily, DailyCounty};
use crate::query::monitor::{monitor, ArrearsRow, Monitor, PayrollRow, PayrollStatus};
use crate::query::Status;
use crate::state::{Lines, State};
use crate::values::{CountyId, Date, FiscalYear, Month, Sha256Hex, Text};
use chrono::Datelike;
use serde::Serialize;
use std::fmt::Write as _;

/// The letter's title (标题).
pub const TITLE: &str = "关于库款保障水平偏低的提示函";

/// Everything a notice letter says about one county and one month, as the monitor
/// gives it: exact figures, never rounded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NoticeFacts {
    /// County id.
    pub county: CountyId,
    /// Its registered name (建昌县): the letter goes to its finance bureau.
    pub county_name: Text,
    /// The month noticed.
    pub month: Month,
    /// The day the month-end figures are for: the month's last day, or the latest
    /// effective date of the log when the month is not over.
    pub month_end: Date,
    /// Day-end cash (treasury + wage reserve) on `month_end`.
    pub cash: Money,
    /// Average monthly outflow on `month_end` (SPEC §6.2), or `None`.
    pub avg_monthly_outflow: Option<Money>,
    /// 库款保障水平 on `month_end`, or `None`.
    pub guarantee_level: Option<Ratio>,
    /// Status on `month_end`.
    pub status: Status,
    /// The risk lines in force on `month_end`.
    pub lines: Lines,
    /// Days of the month considered: from the later of its first day and the
    /// county's registration through `month_end`.
    pub days: u32,
    /// Of those, days at status `warning` (below the warning line, 预警线), each judged
    /// against the lines in force that day.
    pub days_warning: u32,
    /// Of those, days at status `low` (below the alert line, 关注线, not below the
    /// warning line).
    pub days_low: u32,
    /// The month's lowest day-end level and its day (the earliest on ties); `None`
    /// when no day had a level.
    pub lowest_level: Option<(Date, Ratio)>,
    /// The county's payroll rows as `monitor` gives them on `month_end`: the month's
    /// payroll month and the next, each when its wage bill is declared.
    pub payroll: Vec<PayrollRow>,
    /// The county's wage arrears (欠薪) on `month_end`, by payroll month.
    pub arrears: Vec<ArrearsRow>,
    /// Direct funds (直达资金) notified to the county and not yet dispatched on
    /// `month_end` (monitor's `direct_overdue`), by fiscal year.
    pub direct_undispatched: Vec<(FiscalYear, Money)>,
    /// The last record the figures know about.
    pub at_seq: u64,
    /// The hash of that record (zeros for an empty log).
    pub head_hash: Sha256Hex,
}

impl NoticeFacts {
    /// True when `month_end` is the month's last day (the month is over in the log).
    pub fn month_complete(&self) -> bool {
        self.month_end == self.month.last_day()
    }

    /// The first day of the month considered (the month's first day, or the county's
    /// registration when later).
    pub fn first_day(&self) -> Date {
        self.month_end.add_days(1 - i64::from(self.days))
    }
}

/// The days of `month` the log can speak of: its first day through its last day, or
/// through the latest effective date when that comes first; `None` when the log has
/// no date in or after the month.
fn month_span(state: &State, month: Month) -> Option<(Date, Date)> {
    let latest = state.max_effective_date?;
    let end = month.last_day().min(latest);
    (end >= month.first_day()).then_some((month.first_day(), end))
}

/// True when a county's series has a day at `warning` or `low`.
fn noticed(c: &DailyCounty) -> bool {
    c.months.iter().any(|m| m.warning + m.low > 0)
}

/// The counties that get a letter for `month`: those whose status (SPEC §6.2) was
/// `warning` or `low` at the end of any day of the month up to the latest effective
/// date, by id. Decided by [`query::daily`](crate::query::daily), so these are the days
/// `monitor --daily` shows in those statuses. Empty when the log has no date in the
/// month or after it.
pub fn notice_counties(state: &State, month: Month) -> Vec<CountyId> {
    let Some((from, to)) = month_span(state, month) else {
        return Vec::new();
    };
    daily(state, from, to, None)
        .counties
        .into_iter()
        .filter(noticed)
        .map(|c| c.county)
        .collect()
}

/// The facts of `county`'s letter for `month`, as known in `state` (folded up to the
/// wanted at_seq). `None` when the county is unknown, when it was registered after the
/// days of the month the log reaches, or when the log has no date in or after the
/// month. Works for any county, noticed or not.
pub fn gather(state: &State, county: &CountyId, month: Month) -> Option<NoticeFacts> {
    let c = state.county(county)?;
    let (from, month_end) = month_span(state, month)?;
    if c.registered_on > month_end {
        return None;
    }
    let series = daily(state, from, month_end, Some(county)).counties.pop()?;
    facts(
        state,
        series,
        month,
        month_end,
        &monitor(state, Some(month_end)),
    )
}

/// The facts of every county of [`notice_counties`], by id: each equal to its
/// [`gather`], with the daily series and the monitor computed once for all.
pub fn gather_all(state: &State, month: Month) -> Vec<NoticeFacts> {
    let Some((from, month_end)) = month_span(state, month) else {
        return Vec::new();
    };
    let counties: Vec<DailyCounty> = daily(state, from, month_end, None)
        .counties
        .into_iter()
        .filter(noticed)
        .collect();
    if counties.is_empty() {
        return Vec::new();
    }
    let m = monitor(state, Some(month_end));
    counties
        .into_iter()
        .filter_map(|series| facts(state, series, month, month_end, &m))
        .collect()
}

/// A county's facts from its daily series over the month's days and the monitor on
/// `month_end`.
fn facts(
    state: &State,
    series: DailyCounty,
    month: Month,
    month_end: Date,
    m: &Monitor,
) -> Option<NoticeFacts> {
    let county = &series.county;
    // One month: the series is within it.
    let counts = series.months.first()?;
    let lowest_level = series
        .days
        .iter()
        .filter_map(|r| r.guarantee_level.map(|l| (r.date, l)))
        .min_by_key(|&(d, l)| (l, d));
    let row = m.counties.iter().find(|r| &r.county == county)?;
    Some(NoticeFacts {
        county: county.clone(),
        county_name: series.name.clone(),
        month,
        month_end,
        cash: row.cash,
        avg_monthly_outflow: row.avg_monthly_outflow,
        guarantee_level: row.guarantee_level,
        status: row.status,
        lines: Lines {
            warning_line: row.warning_line,
            alert_line: row.alert_line,
            idle_line: row.idle_line,
        },
        days: counts.days,
        days_warning: counts.warning,
        days_low: counts.low,
        lowest_level,
        payroll: m
            .payroll
            .iter()
            .filter(|p| &p.county == county)
            .cloned()
            .collect(),
        arrears: m
            .arrears
            .iter()
            .filter(|a| &a.county == county)
            .cloned()
            .collect(),
        direct_undispatched: m
            .direct_overdue
            .iter()
            .filter(|o| &o.county == county)
            .map(|o| (o.fiscal_year, o.undispatched))
            .collect(),
        at_seq: state.head_seq,
        head_hash: state.head_hash,
    })
}

/// One notice letter: the facts and what the issuing bureau adds to them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Letter<'a> {
    /// What the letter says.
    pub facts: &'a NoticeFacts,
    /// The issuing authority (发文机关), e.g. 示范市财政局: the red mark at the top and
    /// the signature.
    pub issuer: String,
    /// The document number (发文字号), e.g. 示财库〔2021〕3号.
    pub doc_number: String,
    /// The date of the letter (成文日期).
    pub issued_on: Date,
    /// When the county is to report back on what it did, if the bureau asks.
    pub reply_by: Option<Date>,
}

// ---- the letter's text, once, for both formats ----------------------------------------

/// A piece of the letter, in order; [`html`] and [`docx`] each render the same list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Block {
    /// The issuer's mark (发文机关标志), red, centred, over a red rule.
    Mast(String),
    /// The document number, flush right.
    DocNumber(String),
    /// The title, centred.
    Title(String),
    /// The addressee, flush left, ending with `：`.
    Addressee(String),
    /// A body paragraph, indented two characters; `lead` (a numbered requirement's
    /// heading) is set in 黑体.
    Para { lead: Option<String>, text: String },
    /// The issuer and the date, at the right.
    Signature { issuer: String, date: String },
    /// The data table's caption.
    Caption(String),
    /// A table of figures; `right[i]`: column i is right-aligned (amounts);
    /// `widths`: the columns' widths in the .docx, in twips, adding up to the text
    /// width (the HTML lets the browser size them).
    Table {
        head: Option<Vec<String>>,
        rows: Vec<Vec<String>>,
        right: Vec<bool>,
        widths: Vec<usize>,
    },
    /// The small line that ties the paper to the log.
    Footer(String),
}

/// An amount in 万元 rounded half to even to 0.01 万元, as prose writes it: `1234.57`.
fn wan(m: Money) -> String {
    let hundredths = round_half_even_div(m.cents(), 10_000);
    let sign = if hundredths < 0 { "-" } else { "" };
    let a = hundredths.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// An amount in yuan, to the cent, grouped by thousands: `12,345,678.90`.
fn yuan(m: Money) -> String {
    m.grouped()
}

/// A level or line with its exact decimals, trailing zeros after the second dropped.
fn ratio(r: Ratio) -> String {
    let s = r.to_string();
    let t = s.trim_end_matches('0');
    let dot = t.find('.').expect("a ratio has decimals");
    let keep = (dot + 3).max(t.len());
    s[..keep].to_string()
}

/// `2021年8月2日`.
fn cn_date(d: Date) -> String {
    let n = d.naive();
    format!("{}年{}月{}日", n.year(), n.month(), n.day())
}

/// `8月2日`, or the full date when its year is not `year`.
fn cn_day(d: Date, year: i32) -> String {
    let n = d.naive();
    if n.year() == year {
        format!("{}月{}日", n.month(), n.day())
    } else {
        cn_date(d)
    }
}

/// `2021年7月`.
fn cn_month(m: Month) -> String {
    crate::lang::zh_month(m)
}

/// `7月`, or with its year when that is not `year`.
fn cn_month_in(m: Month, year: i32) -> String {
    if m.year() == year {
        format!("{}月", m.number())
    } else {
        cn_month(m)
    }
}

/// How the letter addresses the county: 你县, 你区, 你市 by the last character of its
/// name, else 你县（区）.
fn you(name: &str) -> &'static str {
    match name.chars().last() {
        Some('县') => "你县",
        Some('区') => "你区",
        Some('市') => "你市",
        Some('旗') => "你旗",
        _ => "你县（区）",
    }
}

/// Numbers of requirements: 一、二、….
const NUMERALS: [&str; 10] = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

/// The letter as blocks, in order.
fn blocks(l: &Letter) -> Vec<Block> {
    let f = l.facts;
    let year = f.month.year();
    let you = you(f.county_name.as_str());
    let at_end = if f.month_complete() {
        "月末".to_string()
    } else {
        cn_day(f.month_end, year)
    };
    let mut out = vec![
        Block::Mast(l.issuer.clone()),
        Block::DocNumber(l.doc_number.clone()),
        Block::Title(TITLE.to_string()),
        Block::Addressee(format!("{}财政局：", f.county_name.as_str())),
    ];
    let para = |text: String| Block::Para { lead: None, text };

    // 1. The level at month end and the days under the lines.
    let mut s = String::new();
    if f.month_complete() {
        write!(s, "经监测，截至{}末，", cn_month(f.month)).unwrap();
    } else {
        write!(s, "经监测，截至{}，", cn_date(f.month_end)).unwrap();
    }
    write!(s, "{you}库款余额{}万元", wan(f.cash)).unwrap();
    match f.avg_monthly_outflow {
        Some(a) => write!(s, "，月均支出{}万元", wan(a)).unwrap(),
        None => s.push_str("，无支出及预算需求数据"),
    }
    match f.guarantee_level {
        Some(level) => {
            write!(s, "，库款保障水平为{}", ratio(level)).unwrap();
            let lines = &f.lines;
            match f.status {
                Status::Warning => write!(s, "，低于预警线（{}）", ratio(lines.warning_line)),
                Status::Low => write!(s, "，低于关注线（{}）", ratio(lines.alert_line)),
                Status::Idle => write!(s, "，高于闲置线（{}）", ratio(lines.idle_line)),
                Status::Normal | Status::Unknown => Ok(()),
            }
            .unwrap();
            write!(s, "，处于{}状态。", f.status.word(Lang::Zh)).unwrap();
        }
        None => s.push_str("，库款保障水平无法测算。"),
    }
    let first = f.first_day();
    if f.month_complete() && first == f.month.first_day() {
        write!(s, "本月{}天中，", f.days).unwrap();
    } else {
        write!(
            s,
            "{}至{}的{}天中，",
            cn_day(first, year),
            cn_day(f.month_end, year),
            f.days
        )
        .unwrap();
    }
    match (f.days_warning, f.days_low) {
        (0, 0) => s.push_str("库款保障水平均未低于关注线"),
        (w, 0) => write!(s, "库款保障水平有{w}天低于预警线").unwrap(),
        (0, lo) => write!(s, "库款保障水平有{lo}天低于关注线").unwrap(),
        (w, lo) => write!(s, "库款保障水平有{w}天低于预警线、另有{lo}天低于关注线").unwrap(),
    }
    if let Some((d, level)) = f.lowest_level {
        write!(s, "，最低为{}（{}）", ratio(level), cn_day(d, year)).unwrap();
    }
    s.push('。');
    out.push(para(s));

    // 2. Wages: what is wrong in full, what is in order in a word; the table has
    // every figure.
    let payroll_trouble = f
        .payroll
        .iter()
        .any(|p| p.status == PayrollStatus::Late || p.days_late > 0)
        || !f.arrears.is_empty();
    if !f.payroll.is_empty() || !f.arrears.is_empty() {
        let mut parts: Vec<String> = f
            .payroll
            .iter()
            .map(|p| {
                let m = cn_month_in(p.payroll_month, year);
                let deadline = cn_day(p.deposit_deadline, year);
                let done = match p.status {
                    PayrollStatus::Paid => "发放",
                    PayrollStatus::Funded => "备付",
                    PayrollStatus::Late => {
                        return format!(
                            "{m}工资{}万元截至{at_end}尚差{}万元未备足，已超过备付期限（{deadline}）{}天",
                            wan(p.wage_bill),
                            wan(p.shortfall),
                            p.days_late
                        )
                    }
                    PayrollStatus::Due => {
                        return format!(
                            "{m}工资须于{deadline}前足额备付（尚差{}万元）",
                            wan(p.shortfall)
                        )
                    }
                };
                if p.days_late > 0 {
                    format!("{m}工资已足额{done}，但资金晚于备付期限{}天备足", p.days_late)
                } else {
                    format!("{m}工资已按时足额{done}")
                }
            })
            .collect();
        match f.arrears.as_slice() {
            [] => {}
            [a] => parts.push(format!(
                "{you}尚欠发{}工资{}万元，已超过发薪日{}天",
                cn_month_in(a.payroll_month, year),
                wan(a.unpaid),
                a.days_overdue
            )),
            all => {
                let total: Money = all.iter().map(|a| a.unpaid).sum();
                let months: Vec<String> = all
                    .iter()
                    .map(|a| cn_month_in(a.payroll_month, year))
                    .collect();
                let longest = all.iter().map(|a| a.days_overdue).max().unwrap_or(0);
                parts.push(format!(
                    "{you}尚欠发工资{}万元，涉及{}共{}个月，最长已超过发薪日{longest}天",
                    wan(total),
                    months.join("、"),
                    all.len()
                ));
            }
        }
        out.push(para(format!("工资保障方面，{}。", parts.join("；"))));
    }

    // 3. Direct funds.
    let direct_total: Money = f.direct_undispatched.iter().map(|&(_, m)| m).sum();
    match f.direct_undispatched.as_slice() {
        [] => {}
        [(y, m)] => out.push(para(format!(
            "直达资金方面，截至{at_end}已下达{you}的{y}年度直达资金中尚有{}万元未调拨到位。",
            wan(*m)
        ))),
        all => {
            let years: Vec<String> = all
                .iter()
                .map(|(y, m)| format!("{y}年度{}万元", wan(*m)))
                .collect();
            out.push(para(format!(
                "直达资金方面，截至{at_end}已下达{you}的直达资金中尚有{}万元未调拨到位（{}）。",
                wan(direct_total),
                years.join("、")
            )));
        }
    }

    // 4. What the county is to do.
    out.push(para(
        "为兜牢“三保”底线、防范库款运行风险，现提示如下：".to_string(),
    ));
    let mut reqs: Vec<(String, String)> = vec![(
        "合理安排支出顺序，优先保障“三保”支出。".into(),
        "确保工资、基本民生和机构运转支出及时足额保障，从严控制一般性支出。".into(),
    )];
    if payroll_trouble {
        let mut t = String::from("发薪日前7日将当月工资足额存入工资库款保障户");
        if !f.arrears.is_empty() {
            t.push_str("，欠发工资立即筹措资金补发到位");
        }
        t.push('。');
        reqs.push(("足额备付工资资金。".into(), t));
    }
    if !f.direct_undispatched.is_empty() {
        reqs.push((
            "加快直达资金执行。".into(),
            format!(
                "对尚未调拨到位的直达资金{}万元，请主动与我局对接，资金到位后及时拨付使用，不得截留、挤占、挪用。",
                wan(direct_total)
            ),
        ));
    }
    reqs.push((
        "加强库款管理。".into(),
        format!(
            "依法依规组织收入，盘活存量资金，尽快将库款保障水平提升至关注线（{}）以上。",
            ratio(f.lines.alert_line)
        ),
    ));
    for (i, (lead, text)) in reqs.into_iter().enumerate() {
        out.push(Block::Para {
            lead: Some(format!("{}、{lead}", NUMERALS[i])),
            text,
        });
    }
    if let Some(d) = l.reply_by {
        out.push(para(format!(
            "请于{}前将整改情况书面报送我局。",
            cn_date(d)
        )));
    }
    out.push(para("特此函告。".into()));
    out.push(Block::Signature {
        issuer: l.issuer.clone(),
        date: cn_date(l.issued_on),
    });

    // 5. Every figure to the cent.
    out.push(Block::Caption(format!(
        "附：监测数据（截至{}，金额单位：元）",
        cn_date(f.month_end)
    )));
    let dash = || "—".to_string();
    let mut pairs: Vec<(String, String)> = vec![
        ("库款余额".into(), yuan(f.cash)),
        (
            "月均支出".into(),
            f.avg_monthly_outflow.map_or_else(dash, yuan),
        ),
        (
            "库款保障水平".into(),
            f.guarantee_level.map_or_else(dash, ratio),
        ),
        ("期末状态".into(), f.status.word(Lang::Zh).to_string()),
        (
            "预警/关注/闲置线".into(),
            format!(
                "{} / {} / {}",
                ratio(f.lines.warning_line),
                ratio(f.lines.alert_line),
                ratio(f.lines.idle_line)
            ),
        ),
        (
            "月内最低".into(),
            f.lowest_level.map_or_else(dash, |(d, r)| {
                format!("{}（{}）", ratio(r), cn_day(d, year))
            }),
        ),
        ("统计天数".into(), f.days.to_string()),
        ("预警天数".into(), f.days_warning.to_string()),
        ("偏低天数".into(), f.days_low.to_string()),
    ];
    for (y, m) in &f.direct_undispatched {
        pairs.push((format!("直达资金未调拨（{y}年度）"), yuan(*m)));
    }
    // Three label–value pairs a row.
    let rows = pairs
        .chunks(3)
        .map(|ch| {
            let mut r = Vec::with_capacity(6);
            for (k, v) in ch {
                r.push(k.clone());
                r.push(v.clone());
            }
            r.resize(6, String::new());
            r
        })
        .collect();
    out.push(Block::Table {
        head: None,
        rows,
        right: vec![false, true, false, true, false, true],
        widths: vec![1_000, 1_650, 1_500, 1_650, 1_200, 1_845],
    });
    if !f.payroll.is_empty() {
        out.push(Block::Table {
            head: Some(
                [
                    "工资月份",
                    "应发工资",
                    "备付截止日",
                    "已备付",
                    "已发放",
                    "尚差",
                    "状态",
                ]
                .map(String::from)
                .to_vec(),
            ),
            rows: f
                .payroll
                .iter()
                .map(|p| {
                    let mut status = p.status.word(Lang::Zh).to_string();
                    if p.status == PayrollStatus::Late {
                        write!(status, "（{}天）", p.days_late).unwrap();
                    } else if p.days_late > 0 {
                        write!(status, "（逾期{}天备足）", p.days_late).unwrap();
                    }
                    vec![
                        cn_month(p.payroll_month),
                        yuan(p.wage_bill),
                        cn_day(p.deposit_deadline, year),
                        yuan(p.deposited),
                        yuan(p.paid),
                        yuan(p.shortfall),
                        status,
                    ]
                })
                .collect(),
            right: vec![false, true, false, true, true, true, false],
            widths: vec![1_150, 1_350, 1_100, 1_350, 1_350, 1_350, 1_195],
        });
    }
    if !f.arrears.is_empty() {
        out.push(Block::Table {
            head: Some(
                [
                    "欠发月份",
                    "应发工资",
                    "发薪日",
                    "已发放",
                    "欠发",
                    "逾期天数",
                ]
                .map(String::from)
                .to_vec(),
            ),
            rows: f
                .arrears
                .iter()
                .map(|a| {
                    vec![
                        cn_month(a.payroll_month),
                        yuan(a.wage_bill),
                        cn_day(a.payday, year),
                        yuan(a.paid),
                        yuan(a.unpaid),
                        a.days_overdue.to_string(),
                    ]
                })
                .collect(),
            right: vec![false, true, false, true, true, true],
            widths: vec![1_100, 1_700, 1_100, 1_700, 1_700, 1_545],
        });
    }
    out.push(Block::Footer(format!(
        "数据来源：sanbao 事件日志 第{}号记录，哈希 {}",
        f.at_seq,
        f.head_hash.to_hex()
    )));
    out
}

// ---- HTML ----------------------------------------------------------------------------

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The title's fonts: 方正小标宋 where installed, then serif CJK faces, then what
/// every Linux with CJK fonts has.
const TITLE_FONTS: &str = "'FZXiaoBiaoSong-B05S','方正小标宋简体','FZXiaoBiaoSong-B05','Noto Serif CJK SC','Source Han Serif SC','SimSun','宋体','STSong','WenQuanYi Micro Hei',serif";
/// The body's fonts: 仿宋_GB2312 / 仿宋 where installed, then the same fallbacks.
const BODY_FONTS: &str = "'FangSong_GB2312','仿宋_GB2312','FangSong','仿宋','STFangsong','Noto Serif CJK SC','Source Han Serif SC','WenQuanYi Micro Hei',serif";
/// The requirements' headings: 黑体.
const LEAD_FONTS: &str = "'SimHei','黑体','STHeiti','Noto Sans CJK SC','Source Han Sans SC','WenQuanYi Micro Hei',sans-serif";

/// The letter as a printable A4 HTML page (UTF-8, self-contained: no script, no
/// external resource). Printing it (or Chromium's `--print-to-pdf`) gives the paper:
/// one page for a letter like the sample city's richest (tests/letter_pdf.rs); one
/// with more paragraphs (direct funds, several arrears) may take a second.
pub fn html(letter: &Letter) -> String {
    let mut o = String::with_capacity(8 * 1024);
    write!(
        o,
        r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{title}（{docno}）</title>
<style>
@page {{ size: A4; margin: 37mm 26mm 35mm 28mm; }}
html {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
body {{ margin: 0; color: #000; font-family: {body}; font-size: 15pt; line-height: 1.32; }}
@media screen {{ body {{ width: 156mm; margin: 12mm auto; }} }}
.mast {{ font-family: {title_fonts}; color: #e60000; font-size: 22pt; line-height: 1;
  text-align: center; letter-spacing: 0.1em; margin: 0; }}
.rule {{ border-top: 2.25pt solid #e60000; margin: 2mm 0 0; }}
.rule + .rule {{ border-top-width: 0.75pt; margin-top: 1pt; }}
.docno {{ text-align: right; margin: 1mm 0 0; }}
h1 {{ font-family: {title_fonts}; font-size: 22pt; font-weight: bold; line-height: 1.3;
  text-align: center; margin: 1.5mm 0 1mm; }}
p {{ margin: 0; text-align: justify; text-justify: inter-character; }}
p.to {{ text-indent: 0; }}
p.body {{ text-indent: 2em; }}
.lead {{ font-family: {lead}; }}
.sign {{ display: table; margin: 1mm 2em 0 auto; }}
.sign p {{ text-align: left; }}
.sign p.date {{ padding-left: 2em; }}
.caption {{ font-size: 10.5pt; line-height: 1.3; margin: 2mm 0 0.5mm; border-top: 0.5pt solid #000; padding-top: 1mm; }}
table {{ width: 100%; border-collapse: collapse; font-size: 8pt; line-height: 1.25; margin-bottom: 1mm; }}
th, td {{ border: 0.5pt solid #000; padding: 0.2mm 0.8mm; text-align: left; font-weight: normal; white-space: nowrap; }}
th {{ background: #f2f2f2; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
.footer {{ font-size: 7.5pt; line-height: 1.3; margin-top: 1mm; word-break: break-all; }}
/* On a second page (a long letter): the caption with its table, each (small) table
   and the signature whole. */
.caption {{ break-after: avoid; }}
table, tr, .sign {{ break-inside: avoid; }}
</style>
</head>
<body>
"#,
        title = esc(TITLE),
        docno = esc(&letter.doc_number),
        body = BODY_FONTS,
        title_fonts = TITLE_FONTS,
        lead = LEAD_FONTS,
    )
    .unwrap();
    for b in blocks(letter) {
        match b {
            Block::Mast(s) => {
                writeln!(o, "<p class=\"mast\">{}</p>", esc(&s)).unwrap();
                o.push_str("<div class=\"rule\"></div><div class=\"rule\"></div>\n");
            }
            Block::DocNumber(s) => writeln!(o, "<p class=\"docno\">{}</p>", esc(&s)).unwrap(),
            Block::Title(s) => writeln!(o, "<h1>{}</h1>", esc(&s)).unwrap(),
            Block::Addressee(s) => writeln!(o, "<p class=\"to\">{}</p>", esc(&s)).unwrap(),
            Block::Para { lead, text } => {
                o.push_str("<p class=\"body\">");
                if let Some(lead) = lead {
                    write!(o, "<span class=\"lead\">{}</span>", esc(&lead)).unwrap();
                }
                o.push_str(&esc(&text));
                o.push_str("</p>\n");
            }
            Block::Signature { issuer, date } => writeln!(
                o,
                "<div class=\"sign\"><p>{}</p><p class=\"date\">{}</p></div>",
                esc(&issuer),
                esc(&date)
            )
            .unwrap(),
            Block::Caption(s) => writeln!(o, "<p class=\"caption\">{}</p>", esc(&s)).unwrap(),
            Block::Table {
                head, rows, right, ..
            } => {
                o.push_str("<table>\n");
                if let Some(head) = head {
                    o.push_str("<thead><tr>");
                    for h in head {
                        write!(o, "<th>{}</th>", esc(&h)).unwrap();
                    }
                    o.push_str("</tr></thead>\n");
                }
                for r in rows {
                    o.push_str("<tr>");
                    for (i, cell) in r.iter().enumerate() {
                        let class = if right.get(i).copied().unwrap_or(false) {
                            " class=\"n\""
                        } else {
                            ""
                        };
                        write!(o, "<td{class}>{}</td>", esc(cell)).unwrap();
                    }
                    o.push_str("</tr>\n");
                }
                o.push_str("</table>\n");
            }
            Block::Footer(s) => writeln!(o, "<p class=\"footer\">{}</p>", esc(&s)).unwrap(),
        }
    }
    o.push_str("</body>\n</html>\n");
    o
}

// ---- .docx ---------------------------------------------------------------------------

/// The right indents, in half-characters, of the issuer and the date at the foot of
/// the letter, as GB/T 9704 places them without a seal: the issuer two characters
/// from the right margin, the date below it starting two characters further right
/// (the block moves left when the date is the wider). Widths count a CJK character
/// as two halves and ASCII as one (the HTML gets the same from CSS).
fn signature_indents(issuer: &str, date: &str) -> [i32; 2] {
    let halves = |s: &str| -> i32 { s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum() };
    let (i, d) = (halves(issuer), halves(date));
    let block = i.max(4 + d);
    [4 + block - i, 4 + block - 4 - d]
}

/// The letter as a Word document (.docx, Office Open XML): the same blocks as
/// [`html`], A4 with the 公文 margins, 仿宋_GB2312 三号 body, 方正小标宋简体 二号 title
/// (East Asian fonts set on every run; Word or LibreOffice substitutes where they are
/// not installed). Deterministic: the package's dates are fixed, not the clock's.
pub fn docx(letter: &Letter) -> Vec<u8> {
    use docx_rs::{
        AlignmentType, BorderType, Docx, LineSpacing, LineSpacingType, PageMargin, Paragraph,
        ParagraphBorder, ParagraphBorderPosition, ParagraphBorders, Run, RunFonts,
        SpecialIndentType, Table, TableCell, TableCellMargins, TableLayoutType, TableRow,
        WidthType,
    };

    // Twips (1/20 pt); 1 mm = 56.69 twips.
    const PAGE_W: u32 = 11_906;
    const PAGE_H: u32 = 16_838;
    const TOP: i32 = 2_098; // 37 mm
    const BOTTOM: i32 = 1_984; // 35 mm
    const LEFT: i32 = 1_587; // 28 mm
    const RIGHT: i32 = 1_474; // 26 mm
    const TEXT_W: usize = (PAGE_W as i32 - LEFT - RIGHT) as usize;
    // Half-points.
    const SIZE_BODY: usize = 32; // 三号, 16 pt
    const SIZE_TITLE: usize = 44; // 二号, 22 pt
    const SIZE_MAST: usize = 52; // 26 pt
    const SIZE_TABLE: usize = 15; // 7.5 pt (Word's widths are fixed; the numbers must fit)
    const SIZE_FOOTER: usize = 16; // 8 pt
    const RED: &str = "E60000";

    let fonts = |east_asia: &str, latin: &str| {
        RunFonts::new()
            .east_asia(east_asia)
            .ascii(latin)
            .hi_ansi(latin)
            .cs(latin)
    };
    let body_fonts = || fonts("仿宋_GB2312", "Times New Roman");
    let title_fonts = || fonts("方正小标宋简体", "Times New Roman");
    let lead_fonts = || fonts("黑体", "Times New Roman");
    let run = |text: &str, size: usize| Run::new().add_text(text).size(size).fonts(body_fonts());
    // Exactly 28 pt a line: 22 lines on the 公文 page.
    let body_spacing = || {
        LineSpacing::new()
            .line(560)
            .line_rule(LineSpacingType::Exact)
    };
    let table_spacing = || {
        LineSpacing::new()
            .line(260)
            .line_rule(LineSpacingType::Exact)
    };

    let mut doc = Docx::new()
        .page_size(PAGE_W, PAGE_H)
        .page_margin(PageMargin {
            top: TOP,
            left: LEFT,
            bottom: BOTTOM,
            right: RIGHT,
            header: 851,
            footer: 992,
            gutter: 0,
        })
        .default_fonts(body_fonts())
        .default_size(SIZE_BODY)
        .created_at("2000-01-01T00:00:00Z")
        .updated_at("2000-01-01T00:00:00Z");

    for b in blocks(letter) {
        match b {
            Block::Mast(s) => {
                let rule = ParagraphBorders::with_empty().set(
                    ParagraphBorder::new(ParagraphBorderPosition::Bottom)
                        .val(BorderType::ThickThinSmallGap)
                        .size(24)
                        .space(6)
                        .color(RED),
                );
                doc = doc.add_paragraph(
                    Paragraph::new()
                        .add_run(
                            Run::new()
                                .add_text(s)
                                .size(SIZE_MAST)
                                .color(RED)
                                .character_spacing(60)
                                .fonts(title_fonts()),
                        )
                        .align(AlignmentType::Center)
                        .set_borders(rule),
                );
            }
            Block::DocNumber(s) => {
                doc = doc.add_paragraph(
                    Paragraph::new()
                        .add_run(run(&s, SIZE_BODY))
                        .align(AlignmentType::Right)
                        .line_spacing(body_spacing().before(120)),
                );
            }
            Block::Title(s) => {
                doc = doc.add_paragraph(
                    Paragraph::new()
                        .add_run(
                            Run::new()
                                .add_text(s)
                                .size(SIZE_TITLE)
                                .bold()
                                .fonts(title_fonts()),
                        )
                        .align(AlignmentType::Center)
                        .line_spacing(
                            LineSpacing::new()
                                .line(700)
                                .line_rule(LineSpacingType::Exact)
                                .before(240)
                                .after(160),
                        ),
                );
            }
            Block::Addressee(s) => {
                doc = doc.add_paragraph(
                    Paragraph::new()
                        .add_run(run(&s, SIZE_BODY))
                        .line_spacing(body_spacing()),
                );
            }
            Block::Para { lead, text } => {
                let mut p = Paragraph::new()
                    .indent(None, Some(SpecialIndentType::FirstLine(640)), None, None)
                    .first_line_chars(200)
                    .align(AlignmentType::Both)
                    .line_spacing(body_spacing());
                if let Some(lead) = lead {
                    p = p.add_run(
                        Run::new()
                            .add_text(lead)
                            .size(SIZE_BODY)
                            .fonts(lead_fonts()),
                    );
                }
                doc = doc.add_paragraph(p.add_run(run(&text, SIZE_BODY)));
            }
            Block::Signature { issuer, date } => {
                let [issuer_end, date_end] = signature_indents(&issuer, &date);
                for (i, (s, end)) in [(issuer, issuer_end), (date, date_end)]
                    .into_iter()
                    .enumerate()
                {
                    let spacing = if i == 0 {
                        body_spacing().before(240)
                    } else {
                        body_spacing()
                    };
                    doc = doc.add_paragraph(
                        Paragraph::new()
                            .add_run(run(&s, SIZE_BODY))
                            .align(AlignmentType::Right)
                            .indent(None, None, Some(end * 160), None)
                            .line_spacing(spacing),
                    );
                }
            }
            Block::Caption(s) => {
                let rule = ParagraphBorders::with_empty().set(
                    ParagraphBorder::new(ParagraphBorderPosition::Top)
                        .val(BorderType::Single)
                        .size(4)
                        .space(4)
                        .color("000000"),
                );
                doc = doc.add_paragraph(
                    Paragraph::new()
                        .add_run(run(&s, 21))
                        .set_borders(rule)
                        .line_spacing(LineSpacing::new().before(200).after(60)),
                );
            }
            Block::Table {
                head,
                rows,
                right,
                widths,
            } => {
                debug_assert_eq!(widths.iter().sum::<usize>(), TEXT_W);
                let cell = |text: &str, i: usize, shade: bool| {
                    let align = if !shade && right[i] {
                        AlignmentType::Right
                    } else {
                        AlignmentType::Left
                    };
                    let mut c = TableCell::new()
                        .add_paragraph(
                            Paragraph::new()
                                .add_run(run(text, SIZE_TABLE))
                                .align(align)
                                .line_spacing(table_spacing()),
                        )
                        .width(widths[i], WidthType::Dxa);
                    if shade {
                        c = c.shading(docx_rs::Shading::new().fill("F2F2F2"));
                    }
                    c
                };
                let mut trs = Vec::new();
                if let Some(head) = head {
                    trs.push(TableRow::new(
                        head.iter()
                            .enumerate()
                            .map(|(i, h)| cell(h, i, true))
                            .collect(),
                    ));
                }
                for r in &rows {
                    trs.push(TableRow::new(
                        r.iter()
                            .enumerate()
                            .map(|(i, t)| cell(t, i, false))
                            .collect(),
                    ));
                }
                doc = doc.add_table(
                    Table::new(trs)
                        .set_grid(widths.clone())
                        .width(TEXT_W, WidthType::Dxa)
                        .layout(TableLayoutType::Fixed)
                        .margins(TableCellMargins::new().margin(0, 60, 0, 60)),
                );
                // Word needs a paragraph between two tables, or it joins them.
                doc = doc.add_paragraph(
                    Paragraph::new().line_spacing(
                        LineSpacing::new()
                            .line(120)
                            .line_rule(LineSpacingType::Exact),
                    ),
                );
            }
            Block::Footer(s) => {
                doc = doc.add_paragraph(
                    Paragraph::new()
                        .add_run(run(&s, SIZE_FOOTER))
                        .line_spacing(LineSpacing::new().before(60)),
                );
            }
        }
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    doc.pack(&mut buf)
        .expect("writing a .docx to memory cannot fail");
    buf.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::position::test_log::*;
    use serde_json::json;
    use std::io::Read;

    /// County a: low, then warning from 03-10 (its lines rise), a late and a due
    /// payroll row, March's wages in arrears, direct funds undispatched; b: idle all
    /// along; c: registered in April. The log reaches 2021-04-05.
    fn log() -> TestLog {
        let mut l = TestLog::new();
        l.ok(city("1000000", "2021-01-01"));
        l.ok(county("a", "2021-01-01", "400000.55"));
        l.ok(need("a", 2021, "operations", "12000000", "2021-01-01"));
        l.ok(county("b", "2021-01-01", "5000000"));
        l.ok(need("b", 2021, "operations", "12000000", "2021-01-01"));
        l.ok(bill(
            "a",
            "2021-03",
            "100000.33",
            "2021-03-15",
            "2021-02-20",
        ));
        l.ok(alloc("a", "direct", 2021, "30000", "2021-03-02"));
        l.ok(transfer("a", "direct", 2021, "10000", "2021-03-03"));
        l.ok(deposit("a", "2021-03", "50000", "2021-03-05"));
        l.ok(lines(Some("a"), "0.5", "0.6", "1.5", "2021-03-10"));
        l.ok(bill("a", "2021-04", "120000", "2021-04-15", "2021-03-20"));
        l.ok(county("c", "2021-04-02", "1"));
        l.ok(revenue("b", "1", "2021-04-05"));
        l
    }

    fn march() -> Month {
        Month::parse("2021-03").unwrap()
    }

    fn m(s: &str) -> Money {
        Money::parse_amount(s).unwrap()
    }

    fn r(s: &str) -> Ratio {
        Ratio::parse(s).unwrap()
    }

    #[test]
    fn notice_counties_are_those_daily_shows_at_warning_or_low() {
        let l = log();
        let s = &l.state;
        assert_eq!(notice_counties(s, march()), vec![id("a")]);
        // Against the daily series itself, month by month (April up to 04-05).
        for (month, to) in [
            ("2021-01", "2021-01-31"),
            ("2021-03", "2021-03-31"),
            ("2021-04", "2021-04-05"),
        ] {
            let month = Month::parse(month).unwrap();
            let want: Vec<CountyId> = daily(s, month.first_day(), d(to), None)
                .counties
                .into_iter()
                .filter(|c| {
                    c.days
                        .iter()
                        .any(|r| matches!(r.status, Status::Warning | Status::Low))
                })
                .map(|c| c.county)
                .collect();
            assert_eq!(notice_counties(s, month), want, "{month}");
        }
        // No day of the month in the log: nobody.
        assert!(notice_counties(s, Month::parse("2021-05").unwrap()).is_empty());
        assert!(notice_counties(&State::new(), march()).is_empty());
    }

    #[test]
    fn gather_gives_monitors_figures_on_the_month_end_and_dailys_day_counts() {
        let l = log();
        let s = &l.state;
        let f = gather(s, &id("a"), march()).unwrap();
        let mo = monitor(s, Some(d("2021-03-31")));
        let row = mo.counties.iter().find(|c| c.county == id("a")).unwrap();
        assert_eq!(f.month_end, d("2021-03-31"));
        assert!(f.month_complete());
        assert_eq!(
            (f.cash, f.avg_monthly_outflow, f.guarantee_level, f.status),
            (
                row.cash,
                row.avg_monthly_outflow,
                row.guarantee_level,
                row.status
            )
        );
        assert_eq!(
            (f.lines.warning_line, f.lines.alert_line, f.lines.idle_line),
            (row.warning_line, row.alert_line, row.idle_line)
        );
        let series = daily(s, march().first_day(), d("2021-03-31"), Some(&id("a")));
        let days = &series.counties[0].days;
        let count = |st| days.iter().filter(|r| r.status == st).count() as u32;
        assert_eq!(f.days as usize, days.len());
        assert_eq!(
            (f.days_warning, f.days_low),
            (count(Status::Warning), count(Status::Low))
        );
        let mut lowest: Vec<_> = days
            .iter()
            .filter_map(|r| r.guarantee_level.map(|g| (g, r.date)))
            .collect();
        lowest.sort();
        assert_eq!(f.lowest_level, lowest.first().map(|&(g, d)| (d, g)));
        let mine = |c: &CountyId| c == &id("a");
        assert_eq!(
            f.payroll,
            mo.payroll
                .iter()
                .filter(|p| mine(&p.county))
                .cloned()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            f.arrears,
            mo.arrears
                .iter()
                .filter(|p| mine(&p.county))
                .cloned()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            f.direct_undispatched,
            mo.direct_overdue
                .iter()
                .filter(|o| mine(&o.county))
                .map(|o| (o.fiscal_year, o.undispatched))
                .collect::<Vec<_>>()
        );
        assert_eq!((f.at_seq, f.head_hash), (s.head_seq, s.head_hash));

        // And the figures themselves, worked by hand: cash 400,000.55 + 10,000 of
        // direct funds from 03-03; no outflow, so the month's need of 1,000,000.00;
        // low (default lines) 03-01..03-09, warning from 03-10 under 0.5/0.6/1.5.
        assert_eq!(f.county_name.as_str(), "某县");
        assert_eq!(f.cash, m("410000.55"));
        assert_eq!(f.avg_monthly_outflow, Some(m("1000000")));
        assert_eq!(
            (f.guarantee_level, f.status),
            (Some(r("0.41")), Status::Warning)
        );
        assert_eq!((f.days, f.days_warning, f.days_low), (31, 22, 9));
        assert_eq!(f.lowest_level, Some((d("2021-03-01"), r("0.4"))));
        let p: Vec<_> = f
            .payroll
            .iter()
            .map(|p| {
                (
                    p.payroll_month.to_string(),
                    p.shortfall,
                    p.status,
                    p.days_late,
                )
            })
            .collect();
        assert_eq!(
            p,
            vec![
                ("2021-03".into(), m("50000.33"), PayrollStatus::Late, 23),
                ("2021-04".into(), m("120000"), PayrollStatus::Due, 0)
            ]
        );
        assert_eq!(
            f.arrears
                .iter()
                .map(|a| (a.unpaid, a.days_overdue))
                .collect::<Vec<_>>(),
            vec![(m("100000.33"), 16)]
        );
        assert_eq!(
            f.direct_undispatched,
            vec![(FiscalYear::new(2021).unwrap(), m("20000"))]
        );
    }

    #[test]
    fn gather_all_is_gather_of_each_noticed_county() {
        let l = log();
        for month in ["2021-01", "2021-03", "2021-04", "2021-05"] {
            let month = Month::parse(month).unwrap();
            let each: Vec<NoticeFacts> = notice_counties(&l.state, month)
                .iter()
                .map(|c| gather(&l.state, c, month).unwrap())
                .collect();
            assert_eq!(gather_all(&l.state, month), each, "{month}");
        }
        assert_eq!(gather_all(&l.state, march()).len(), 1);
    }

    #[test]
    fn gather_of_a_month_not_over_stops_at_the_latest_date_and_refuses_what_it_cannot_know() {
        let l = log();
        let s = &l.state;
        let april = Month::parse("2021-04").unwrap();
        let f = gather(s, &id("a"), april).unwrap();
        assert_eq!(
            (f.month_end, f.days, f.first_day()),
            (d("2021-04-05"), 5, d("2021-04-01"))
        );
        assert!(!f.month_complete());
        assert_eq!(f.cash, monitor(s, Some(d("2021-04-05"))).counties[0].cash);
        // c registered on 04-02: its days start there.
        let c = gather(s, &id("c"), april).unwrap();
        assert_eq!((c.days, c.first_day()), (4, d("2021-04-02")));
        // Registered after the month, unknown, or a month the log has not reached.
        assert_eq!(gather(s, &id("c"), march()), None);
        assert_eq!(gather(s, &id("zz"), march()), None);
        assert_eq!(gather(s, &id("a"), Month::parse("2021-05").unwrap()), None);
        // At an earlier seq the log knows less: the month ends at that seq's latest date.
        let early = gather(l.at(5), &id("a"), Month::parse("2021-01").unwrap()).unwrap();
        assert_eq!((early.month_end, early.at_seq), (d("2021-01-01"), 5));
    }

    fn letter(f: &NoticeFacts) -> Letter<'_> {
        Letter {
            facts: f,
            issuer: "示范市财政局".into(),
            doc_number: "示财库〔2021〕3号".into(),
            issued_on: d("2021-04-02"),
            reply_by: Some(d("2021-04-12")),
        }
    }

    #[test]
    fn the_html_letter_has_its_parts_and_every_figure_to_the_cent() {
        let l = log();
        let f = gather(&l.state, &id("a"), march()).unwrap();
        let h = html(&letter(&f));
        assert!(h.starts_with("<!doctype html>"));
        for want in [
            "<meta charset=\"utf-8\">",
            "size: A4; margin: 37mm 26mm 35mm 28mm",
            "text-indent: 2em",
            "<h1>关于库款保障水平偏低的提示函</h1>",
            "示财库〔2021〕3号",
            "<p class=\"to\">某县财政局：</p>",
            // Prose in 万元 (half to even at 0.01), the level and lines exact.
            "经监测，截至2021年3月末，你县库款余额41.00万元，月均支出100.00万元，库款保障水平为0.41，低于预警线（0.50），处于预警状态。",
            "本月31天中，库款保障水平有22天低于预警线、另有9天低于关注线，最低为0.40（3月1日）。",
            "工资保障方面，3月工资10.00万元截至月末尚差5.00万元未备足，已超过备付期限（3月8日）23天；\
             4月工资须于4月8日前足额备付（尚差12.00万元）；你县尚欠发3月工资10.00万元，已超过发薪日16天。",
            "直达资金方面，截至月末已下达你县的2021年度直达资金中尚有2.00万元未调拨到位。",
            "二、足额备付工资资金。</span>发薪日前7日将当月工资足额存入工资库款保障户，欠发工资立即筹措资金补发到位。",
            "三、加快直达资金执行。</span>对尚未调拨到位的直达资金2.00万元，请主动与我局对接",
            "<span class=\"lead\">一、合理安排支出顺序，优先保障“三保”支出。</span>",
            "<span class=\"lead\">四、加强库款管理。</span>",
            "提升至关注线（0.60）以上",
            "<p class=\"body\">请于2021年4月12日前将整改情况书面报送我局。</p>\n<p class=\"body\">特此函告。</p>",
            "<p>示范市财政局</p><p class=\"date\">2021年4月2日</p>",
        ] {
            assert!(h.contains(want), "missing {want:?} in\n{h}");
        }
        let footer = format!(
            "数据来源：sanbao 事件日志 第{}号记录，哈希 {}",
            f.at_seq,
            f.head_hash.to_hex()
        );
        assert!(h.contains(&footer));
        // Every amount of the facts, to the cent, in yuan.
        let mut amounts = vec![f.cash, f.avg_monthly_outflow.unwrap()];
        for p in &f.payroll {
            amounts.extend([p.wage_bill, p.deposited, p.paid, p.shortfall]);
        }
        for a in &f.arrears {
            amounts.extend([a.wage_bill, a.paid, a.unpaid]);
        }
        amounts.extend(f.direct_undispatched.iter().map(|&(_, m)| m));
        for a in amounts {
            assert!(h.contains(&format!(">{}</td>", a.grouped())), "{a} missing");
        }
        assert!(h.contains(">410,000.55</td>") && h.contains(">1,000,000.00</td>"));
        // Deterministic.
        assert_eq!(h, html(&letter(&f)));
    }

    #[test]
    fn names_are_escaped_in_html_and_docx() {
        let mut l = TestLog::new();
        l.ok(
            json!({"kind":"county_registered","county":"x","name":"<script>alert('&\"')</script>区",
                    "registered_on":"2021-01-01","opening_treasury":"10"}),
        );
        l.ok(spend("x", "9", "2021-01-05"));
        let f = gather(&l.state, &id("x"), Month::parse("2021-01").unwrap()).unwrap();
        let mut lt = letter(&f);
        lt.issuer = "市<b>财政局".into();
        let h = html(&lt);
        assert!(!h.contains("<script>") && !h.contains("<b>"));
        assert!(h.contains("&lt;script&gt;alert(&#39;&amp;&quot;&#39;)&lt;/script&gt;区财政局："));
        assert!(h.contains("市&lt;b&gt;财政局"));
        // A 区 is addressed as 你区.
        assert!(h.contains("你区库款余额"));
        let xml = document_xml(&docx(&lt));
        assert!(!xml.contains("<script>"));
        assert!(xml.contains("&lt;script&gt;"));
    }

    fn document_xml(bytes: &[u8]) -> String {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
        let mut s = String::new();
        z.by_name("word/document.xml")
            .expect("word/document.xml")
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    #[test]
    fn the_docx_is_a_word_package_with_the_letter_in_it() {
        let l = log();
        let f = gather(&l.state, &id("a"), march()).unwrap();
        let bytes = docx(&letter(&f));
        assert_eq!(&bytes[..2], b"PK");
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..])).unwrap();
        for part in ["[Content_Types].xml", "_rels/.rels", "word/styles.xml"] {
            assert!(z.by_name(part).is_ok(), "{part}");
        }
        let xml = document_xml(&bytes);
        for want in [
            TITLE,
            "示财库〔2021〕3号",
            "某县财政局：",
            "410,000.55",
            "2021年4月2日",
            "特此函告。",
        ] {
            assert!(xml.contains(want), "missing {want:?}");
        }
        // The text comes in the HTML's order.
        let at = |s: &str| xml.find(s).unwrap();
        assert!(at("示范市财政局") < at("示财库〔2021〕3号"));
        assert!(at("示财库〔2021〕3号") < at(TITLE));
        assert!(at(TITLE) < at("某县财政局："));
        assert!(at("某县财政局：") < at("经监测"));
        assert!(at("特此函告。") < at("2021年4月2日"));
        assert!(at("2021年4月2日") < at("数据来源"));
        // A4, the 公文 margins, 仿宋_GB2312 三号 body and 二号 title.
        assert!(
            xml.contains(r#"<w:pgSz w:w="11906" w:h="16838""#),
            "page size"
        );
        assert!(xml.contains(r#"w:top="2098""#) && xml.contains(r#"w:left="1587""#));
        assert!(xml.contains(r#"w:eastAsia="仿宋_GB2312""#));
        assert!(xml.contains(r#"w:eastAsia="方正小标宋简体""#));
        assert!(xml.contains(r#"<w:sz w:val="32" />"#) || xml.contains(r#"<w:sz w:val="32"/>"#));
        assert!(xml.contains(r#"<w:sz w:val="44" />"#) || xml.contains(r#"<w:sz w:val="44"/>"#));
        assert_eq!(bytes, docx(&letter(&f)), "deterministic");
    }

    #[test]
    fn prose_of_a_month_not_over_with_several_arrears_and_years_and_of_an_idle_county() {
        let mut l = TestLog::new();
        l.ok(county("a", "2020-01-01", "1000"));
        l.ok(need("a", 2021, "operations", "120000", "2021-01-01"));
        l.ok(alloc("a", "direct", 2020, "5000000", "2020-06-01"));
        l.ok(alloc("a", "direct", 2021, "7000000", "2021-01-04"));
        l.ok(bill("a", "2021-01", "3000000", "2021-01-15", "2021-01-02"));
        l.ok(bill("a", "2021-02", "3000000", "2021-02-15", "2021-01-20"));
        l.ok(revenue("a", "1", "2021-02-20"));
        let f = gather(&l.state, &id("a"), Month::parse("2021-02").unwrap()).unwrap();
        let h = html(&letter(&f));
        for want in [
            "经监测，截至2021年2月20日，你县库款余额0.10万元，月均支出1.00万元，库款保障水平为0.1001，低于预警线（0.30），处于预警状态。",
            "2月1日至2月20日的20天中，库款保障水平有20天低于预警线，最低为0.10（2月1日）。",
            "2月工资300.00万元截至2月20日尚差300.00万元未备足，已超过备付期限（2月8日）12天；",
            "你县尚欠发工资600.00万元，涉及1月、2月共2个月，最长已超过发薪日36天。",
            "直达资金方面，截至2月20日已下达你县的直达资金中尚有1200.00万元未调拨到位（2020年度500.00万元、2021年度700.00万元）。",
            ">直达资金未调拨（2020年度）</td><td class=\"n\">5,000,000.00</td>",
        ] {
            assert!(h.contains(want), "missing {want:?} in\n{h}");
        }
        // An idle county, never under a line: the letter says so (gather works for any
        // county; notice_counties decides who gets one).
        let l = log();
        let b = gather(&l.state, &id("b"), march()).unwrap();
        let h = html(&letter(&b));
        assert!(h.contains("库款保障水平为5.00，高于闲置线（1.50），处于闲置状态。本月31天中，库款保障水平均未低于关注线，最低为5.00（3月1日）。"), "{h}");
        assert!(!h.contains("足额备付工资资金") && !h.contains("工资保障方面"));
    }

    #[test]
    fn the_date_starts_two_characters_right_of_the_issuer() {
        // 示范市财政局: 12 halves; 2021年4月2日: 12 halves; the date's block is 16.
        assert_eq!(signature_indents("示范市财政局", "2021年4月2日"), [8, 4]);
        // A long issuer: two characters from the margin, the date under it, moved right.
        assert_eq!(
            signature_indents("示范市人民政府财政局", "2021年4月2日"),
            [4, 8]
        );
    }

    #[test]
    fn amounts_levels_and_dates_as_the_letter_writes_them() {
        // 0.01 万元 is 100 yuan: half to even on exact ties.
        assert_eq!(wan(Money::from_cents(12_345_000)), "12.34");
        assert_eq!(wan(Money::from_cents(12_355_000)), "12.36");
        assert_eq!(wan(Money::from_cents(12_345_001)), "12.35");
        assert_eq!(wan(Money::from_cents(4_999)), "0.00");
        assert_eq!(wan(Money::ZERO), "0.00");
        assert_eq!(wan(m("123456789.99")), "12345.68");
        assert_eq!(ratio(r("0.3")), "0.30");
        assert_eq!(ratio(r("0.2999")), "0.2999");
        assert_eq!(ratio(r("0.425")), "0.425");
        assert_eq!(ratio(r("1.5")), "1.50");
        assert_eq!(ratio(r("12")), "12.00");
        assert_eq!(ratio(Ratio::from_units(-50)), "-0.005");
        assert_eq!(cn_date(d("2021-08-02")), "2021年8月2日");
        assert_eq!(cn_day(d("2022-01-08"), 2021), "2022年1月8日");
        assert_eq!(cn_day(d("2021-12-08"), 2021), "12月8日");
        assert_eq!(
            cn_month_in(Month::parse("2022-01").unwrap(), 2021),
            "2022年1月"
        );
        assert_eq!(
            [you("建昌县"), you("连山区"), you("兴城市"), you("某地")],
            ["你县", "你区", "你市", "你县（区）"]
        );
    }
}
