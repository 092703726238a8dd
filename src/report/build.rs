//! Reports from the queries' outputs: [`position`], [`monitor`], [`daily`], [`plan`],
//! [`forecast`] and [`replay`], in one language and one unit.
//!
//! Guarantees: every figure is copied from the query's output (never recomputed);
//! every row names its county by id and registered name; the sections and their
//! rows are in the output's order; the English reports keep the JSON's words
//! (`warning`, `payroll_late` …), the Chinese ones the bureau's (预警,
//! 工资资金未按时足额备付 …).

use super::{col, Cell, Kind, Report, Section, Tone};
use crate::lang::{Lang, Term, Unit};
use crate::money::Money;
use crate::query::daily::Daily;
use crate::query::execution::{OffPlanWhy, PlanStatus};
use crate::query::forecast::{Forecast, Risk};
use crate::query::monitor::{Monitor, PayrollStatus, Reason};
use crate::query::plan::Plan;
use crate::query::position::Position;
use crate::query::Status;
use crate::replay::ReplayReport;
use crate::state::State;
use crate::values::{CountyId, Date, PlanningPolicy, Sha256Hex};
use std::collections::BTreeMap;

mod oversight;
pub use oversight::{
    assess, review_budget, scorecard, ASSESS_SECTIONS, REVIEW_SECTIONS, SCORECARD_SECTIONS,
};

/// The sections of each report, by key, in order (what `?section=` takes).
pub const POSITION_SECTIONS: &[&str] = &["city", "counties", "funds"];
/// See [`POSITION_SECTIONS`].
pub const MONITOR_SECTIONS: &[&str] = &[
    "levels",
    "payroll",
    "arrears",
    "direct_overdue",
    "discrepancies",
    "watchlist",
    "attention",
    "tight_months",
    "watch_history",
    "late_deposits",
    "notices",
];
/// See [`POSITION_SECTIONS`].
pub const DAILY_SECTIONS: &[&str] = &["months", "days"];
/// See [`POSITION_SECTIONS`].
pub const PLAN_SECTIONS: &[&str] = &["summary", "tiers", "lines", "counties"];
/// See [`POSITION_SECTIONS`].
pub const FORECAST_SECTIONS: &[&str] = &["months"];
/// See [`POSITION_SECTIONS`]: position's, monitor's, then `plans`.
pub const REPLAY_SECTIONS: &[&str] = &[
    "city",
    "counties",
    "funds",
    "levels",
    "payroll",
    "arrears",
    "direct_overdue",
    "discrepancies",
    "watchlist",
    "attention",
    "tight_months",
    "watch_history",
    "late_deposits",
    "notices",
    "plans",
];

/// What every report is made with: its language and unit, the counties' registered
/// names, and the hash of the last record its figures know (the paper's trace).
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The language.
    pub lang: Lang,
    /// The unit of amounts.
    pub unit: Unit,
    /// County id → registered name.
    pub names: BTreeMap<CountyId, String>,
    /// The hash of the record at the report's at-seq (zeros for an empty log).
    pub head_hash: Sha256Hex,
}

impl Ctx {
    /// The context of a state folded up to the report's at-seq.
    pub fn of(state: &State, lang: Lang, unit: Unit) -> Ctx {
        Ctx {
            lang,
            unit,
            names: state
                .counties()
                .map(|c| (c.id.clone(), c.name.as_str().to_string()))
                .collect(),
            head_hash: state.head_hash,
        }
    }

    fn pick(&self, zh: &'static str, en: &'static str) -> &'static str {
        self.lang.pick(zh, en)
    }

    fn c(&self, zh: &'static str, en: &'static str, kind: Kind) -> super::Column {
        col(self.lang, zh, en, kind)
    }

    /// The county's id and name columns.
    fn county_cols(&self) -> Vec<super::Column> {
        vec![
            self.c("县区代码", "county", Kind::Text),
            self.c("县区名称", "name", Kind::Text),
        ]
    }

    /// The county's id and name cells.
    fn county(&self, id: &CountyId, tone: Tone) -> [Cell; 2] {
        [
            Cell::toned(id.as_str(), tone),
            Cell::text(self.names.get(id).cloned().unwrap_or_default()),
        ]
    }

    fn none(&self) -> &'static str {
        self.pick("（无）", "(none)")
    }

    fn unit_meta(&self) -> (String, String) {
        (
            self.pick("金额单位", "amounts in").to_string(),
            self.unit.name(self.lang).to_string(),
        )
    }

    fn trace(&self, at_seq: u64) -> Vec<(String, String)> {
        vec![
            (
                self.pick("截至记录号", "known at seq").to_string(),
                at_seq.to_string(),
            ),
            (
                self.pick("该记录哈希", "its hash").to_string(),
                self.head_hash.to_hex(),
            ),
        ]
    }

    fn as_of(&self, d: Option<Date>) -> (String, String) {
        (
            self.pick("截至日期（日终）", "as of").to_string(),
            d.map_or_else(
                || {
                    self.pick("—（日志为空）", "— (the log is empty)")
                        .to_string()
                },
                |d| d.to_string(),
            ),
        )
    }

    fn status(&self, s: Status) -> Cell {
        let tone = match s {
            Status::Warning => Tone::Bad,
            Status::Low => Tone::Warn,
            Status::Normal => Tone::Good,
            Status::Idle => Tone::Info,
            Status::Unknown => Tone::Dim,
        };
        Cell::toned(s.word(self.lang), tone)
    }

    fn payroll_status(&self, s: PayrollStatus) -> Cell {
        let tone = match s {
            PayrollStatus::Paid | PayrollStatus::Funded => Tone::Good,
            PayrollStatus::Late => Tone::Bad,
            PayrollStatus::Due => Tone::Warn,
        };
        Cell::toned(s.word(self.lang), tone)
    }

    fn reasons(&self, rs: &[Reason]) -> String {
        let words: Vec<&str> = rs.iter().map(|r| r.word(self.lang)).collect();
        words.join(self.pick("；", ", "))
    }

    fn risk(&self, r: Risk) -> Cell {
        let tone = match r {
            Risk::High => Tone::Bad,
            Risk::Medium => Tone::Warn,
            Risk::Low => Tone::Plain,
        };
        Cell::toned(r.word(self.lang), tone)
    }
}

/// `position` (SPEC §6.1): the city treasury, the counties' balances, their funds.
pub fn position(p: &Position, x: &Ctx) -> Report {
    let mut r = Report {
        name: "position",
        lang: x.lang,
        unit: x.unit,
        title: x
            .pick("库款头寸（日终余额）", "Position (day-end balances)")
            .to_string(),
        meta: vec![x.as_of(p.as_of)],
        notes: Vec::new(),
        sections: Vec::new(),
    };
    r.meta.extend(x.trace(p.at_seq));
    r.meta.push(x.unit_meta());
    if p.as_of.is_none() {
        r.notes.push((
            Tone::Dim,
            x.pick(
                "日志中尚无事件。",
                "The log holds no events: nothing to show.",
            )
            .into(),
        ));
    }
    position_sections(&mut r, p, x);
    r
}

fn position_sections(r: &mut Report, p: &Position, x: &Ctx) {
    let mut city = Section::new(
        "city",
        x.pick("市本级库款", "City treasury"),
        x.pick("市本级库款", "city"),
        vec![x.c("市本级国库库款", "city.treasury", Kind::Money)],
        x.none(),
    )
    .keys(0);
    city.row(vec![Cell::money(p.city.treasury)]);
    r.sections.push(city);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("国库库款", "treasury", Kind::Money),
        x.c("工资库款保障户", "wage_reserve", Kind::Money),
        x.c("库款余额", "cash", Kind::Money),
        x.c("未收回垫付", "outstanding_advances", Kind::Money),
    ]);
    let mut s = Section::new(
        "counties",
        x.pick("各县区日终库款", "Counties (day-end balances)"),
        x.pick("各县区库款", "counties"),
        cols,
        x.pick(
            "（该日前无登记县区）",
            "(no county registered on or before this date)",
        ),
    )
    .keys(2);
    for c in &p.counties {
        let [id, name] = x.county(&c.county, Tone::Plain);
        s.row(vec![
            id,
            name,
            Cell::money(c.treasury),
            Cell::money(c.wage_reserve),
            Cell::money(c.cash),
            Cell::money(c.outstanding_advances).with(if c.outstanding_advances.is_positive() {
                Tone::Warn
            } else {
                Tone::Plain
            }),
        ]);
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("年度", "fiscal_year", Kind::Int),
        x.c("资金类别", "fund", Kind::Text),
        x.c("应拨付", "entitled", Kind::Money),
        x.c("已拨付", "dispatched", Kind::Money),
        x.c("未拨付", "remaining", Kind::Money),
    ]);
    let mut s = Section::new(
        "funds",
        x.pick(
            "转移支付资金（应拨付 / 已拨付 / 未拨付）",
            "Funds (entitled / dispatched / remaining)",
        ),
        x.pick("转移支付资金", "funds"),
        cols,
        x.none(),
    )
    .keys(2);
    for c in &p.counties {
        for f in &c.funds {
            let [id, name] = x.county(&c.county, Tone::Plain);
            s.row(vec![
                id,
                name,
                Cell::int(i64::from(f.fiscal_year.get())),
                Cell::text(f.fund.word(x.lang)),
                Cell::money(f.entitled),
                Cell::money(f.dispatched),
                Cell::money(f.remaining).with(if f.remaining.is_negative() {
                    Tone::Warn
                } else {
                    Tone::Plain
                }),
            ]);
        }
    }
    r.sections.push(s);
}

/// `monitor` (SPEC §6.2 with contract v2's members).
pub fn monitor(m: &Monitor, x: &Ctx) -> Report {
    let mut r = Report {
        name: "monitor",
        lang: x.lang,
        unit: x.unit,
        title: x.pick("库款监测", "Monitor (库款监测)").to_string(),
        meta: vec![x.as_of(m.as_of)],
        notes: Vec::new(),
        sections: Vec::new(),
    };
    r.meta.extend(x.trace(m.at_seq));
    r.meta.push(x.unit_meta());
    if m.as_of.is_none() {
        r.notes.push((
            Tone::Dim,
            x.pick(
                "日志中尚无事件。",
                "The log holds no events: nothing to monitor.",
            )
            .into(),
        ));
    }
    monitor_sections(&mut r, m, x);
    r
}

fn monitor_sections(r: &mut Report, m: &Monitor, x: &Ctx) {
    let mut cols = x.county_cols();
    cols.extend([
        x.c("库款余额", "cash", Kind::Money),
        x.c("月均支出", "avg_monthly_outflow", Kind::Money),
        x.c("库款保障水平", "level", Kind::Ratio),
        x.c("状态", "status", Kind::Text),
        x.c("预警线", "warning", Kind::Ratio),
        x.c("关注线", "alert", Kind::Ratio),
        x.c("闲置线", "idle", Kind::Ratio),
    ]);
    let mut s = Section::new(
        "levels",
        x.pick(
            "库款保障水平（库款余额 ÷ 月均支出）",
            "Guarantee levels (库款保障水平 = cash ÷ average monthly outflow)",
        ),
        x.pick("库款保障水平", "levels"),
        cols,
        x.pick(
            "（该日前无登记县区）",
            "(no county registered on or before this date)",
        ),
    )
    .keys(2);
    for c in &m.counties {
        let [id, name] = x.county(&c.county, Tone::Plain);
        s.row(vec![
            id,
            name,
            Cell::money(c.cash),
            Cell::opt_money(c.avg_monthly_outflow),
            Cell::opt_ratio(c.guarantee_level),
            x.status(c.status),
            Cell::ratio(c.warning_line),
            Cell::ratio(c.alert_line),
            Cell::ratio(c.idle_line),
        ]);
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("工资月份", "month", Kind::Text),
        x.c("应发工资", "wage_bill", Kind::Money),
        x.c("发薪日", "payday", Kind::Text),
        x.c("备付截止日", "deadline", Kind::Text),
        x.c("已备付", "deposited", Kind::Money),
        x.c("已发放", "paid", Kind::Money),
        x.c("缺口", "shortfall", Kind::Money),
        x.c("状态", "status", Kind::Text),
    ]);
    let mut s = Section::new(
        "payroll",
        x.pick(
            "工资保障（备付截止日 = 发薪日前7天）",
            "Payroll (deposit deadline = payday − 7 days)",
        ),
        x.pick("工资保障", "payroll"),
        cols,
        x.pick(
            "（本月及下月未申报工资）",
            "(no wage bill declared for this month or the next)",
        ),
    )
    .keys(2);
    for p in &m.payroll {
        let [id, name] = x.county(&p.county, Tone::Plain);
        s.row(vec![
            id,
            name,
            Cell::text(p.payroll_month.to_string()),
            Cell::money(p.wage_bill),
            Cell::text(p.payday.to_string()),
            Cell::text(p.deposit_deadline.to_string()),
            Cell::money(p.deposited),
            Cell::money(p.paid),
            Cell::money(p.shortfall).with(if p.shortfall.is_positive() {
                Tone::Warn
            } else {
                Tone::Plain
            }),
            x.payroll_status(p.status),
        ]);
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("工资月份", "month", Kind::Text),
        x.c("应发工资", "wage_bill", Kind::Money),
        x.c("发薪日", "payday", Kind::Text),
        x.c("已发放", "paid", Kind::Money),
        x.c("欠发金额", "unpaid", Kind::Money),
        x.c("逾期天数", "days_overdue", Kind::Int),
    ]);
    let mut s = Section::new(
        "arrears",
        x.pick(
            "欠发工资（已过发薪日未足额发放）",
            "Wage arrears (欠薪: past payday, not paid in full)",
        ),
        x.pick("欠发工资", "arrears"),
        cols,
        x.none(),
    )
    .keys(2);
    for a in &m.arrears {
        let [id, name] = x.county(&a.county, Tone::Bad);
        s.row(vec![
            id,
            name,
            Cell::text(a.payroll_month.to_string()),
            Cell::money(a.wage_bill),
            Cell::text(a.payday.to_string()),
            Cell::money(a.paid),
            Cell::money(a.unpaid).with(Tone::Bad),
            Cell::int(a.days_overdue),
        ]);
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("年度", "fiscal_year", Kind::Int),
        x.c("未拨付直达资金", "undispatched", Kind::Money),
    ]);
    let mut s = Section::new(
        "direct_overdue",
        x.pick(
            "直达资金未及时拨付",
            "Direct funds overdue (直达资金 not yet dispatched)",
        ),
        x.pick("直达资金", "direct_overdue"),
        cols,
        x.none(),
    )
    .keys(2);
    for d in &m.direct_overdue {
        let [id, name] = x.county(&d.county, Tone::Plain);
        s.row(vec![
            id,
            name,
            Cell::int(i64::from(d.fiscal_year.get())),
            Cell::money(d.undispatched).with(Tone::Bad),
        ]);
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("账户", "account", Kind::Text),
        x.c("日期", "on", Kind::Text),
        x.c("报送数", "reported", Kind::Money),
        x.c("核算数", "computed", Kind::Money),
        x.c("差额", "difference", Kind::Money),
    ]);
    let mut s = Section::new(
        "discrepancies",
        x.pick(
            "报送库款与核算不符",
            "Discrepancies (reported ≠ computed day-end balance)",
        ),
        x.pick("报送不符", "discrepancies"),
        cols,
        x.none(),
    )
    .keys(2);
    for d in &m.discrepancies {
        let [id, name] = x.county(&d.county, Tone::Plain);
        s.row(vec![
            id,
            name,
            Cell::text(d.account.word(x.lang)),
            Cell::text(d.on.to_string()),
            Cell::money(d.reported),
            Cell::money(d.computed),
            Cell::money(d.reported - d.computed).with(Tone::Bad),
        ]);
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.push(x.c("原因", "reasons", Kind::Text));
    let mut s = Section::new(
        "watchlist",
        x.pick("重点关注地区", "Watch list (重点关注地区)"),
        x.pick("重点关注地区", "watchlist"),
        cols,
        x.none(),
    )
    .keys(2);
    for w in &m.watchlist {
        let [id, name] = x.county(&w.county, Tone::Bad);
        s.row(vec![id, name, Cell::text(x.reasons(&w.reasons))]);
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("库款保障水平", "level", Kind::Ratio),
        x.c("连续紧张月数", "tight_months", Kind::Int),
    ]);
    let mut s = Section::new(
        "attention",
        x.pick(
            "关注（状态偏低：介于预警线与关注线之间）",
            "Attention (关注: status low, between the warning and the alert line)",
        ),
        x.pick("关注", "attention"),
        cols,
        x.none(),
    )
    .keys(2);
    for a in &m.attention {
        let [id, name] = x.county(&a.county, Tone::Warn);
        s.row(vec![
            id,
            name,
            Cell::ratio(a.guarantee_level),
            Cell::int(a.tight_months),
        ]);
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("连续月数", "months", Kind::Int),
        x.c("起始月份", "since", Kind::Text),
    ]);
    let mut s = Section::new(
        "tight_months",
        x.pick(
            "库款持续紧张（连续处于预警或偏低的月数）",
            "Tight months (consecutive months at warning or low, up to this date)",
        ),
        x.pick("库款持续紧张", "tight_months"),
        cols,
        x.none(),
    )
    .keys(2);
    for t in &m.tight_months {
        let [id, name] = x.county(&t.county, Tone::Plain);
        s.row(vec![
            id,
            name,
            Cell::int(t.months),
            Cell::text(t.since.to_string()),
        ]);
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("列入日期", "from", Kind::Text),
        x.c("移出日期", "to", Kind::Text),
        x.c("原因", "reasons", Kind::Text),
    ]);
    let mut s = Section::new(
        "watch_history",
        x.pick(
            "重点关注地区历史（近十二个月）",
            "Watch-list history (spells over the twelve months to this date)",
        ),
        x.pick("重点关注历史", "watch_history"),
        cols,
        x.none(),
    )
    .keys(2);
    for h in &m.watch_history {
        for sp in &h.spells {
            let [id, name] = x.county(&h.county, Tone::Plain);
            s.row(vec![
                id,
                name,
                Cell::text(sp.from.to_string()),
                match sp.to {
                    Some(d) => Cell::text(d.to_string()),
                    None => Cell::toned(x.pick("（仍在列）", "(open)"), Tone::Bad),
                },
                Cell::text(x.reasons(&sp.reasons)),
            ]);
        }
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("工资月份", "month", Kind::Text),
        x.c("应发工资", "wage_bill", Kind::Money),
        x.c("备付截止日", "deadline", Kind::Text),
        x.c("备足日期", "deposited_on", Kind::Text),
        x.c("逾期天数", "days_late", Kind::Int),
        x.c("状态", "status", Kind::Text),
    ]);
    let mut s = Section::new(
        "late_deposits",
        x.pick(
            "工资资金逾期备付（近十二个月）",
            "Late deposits (payroll history of twelve months, days_late > 0)",
        ),
        x.pick("逾期备付", "late_deposits"),
        cols,
        x.none(),
    )
    .keys(2);
    for p in m.payroll_history.iter().filter(|p| p.days_late > 0) {
        let [id, name] = x.county(&p.county, Tone::Plain);
        s.row(vec![
            id,
            name,
            Cell::text(p.payroll_month.to_string()),
            Cell::money(p.wage_bill),
            Cell::text(p.deposit_deadline.to_string()),
            p.deposited_on.map_or_else(
                || Cell::toned(x.pick("（尚未备足）", "(not yet)"), Tone::Bad),
                |d| Cell::text(d.to_string()),
            ),
            Cell::int(p.days_late).with(Tone::Bad),
            x.payroll_status(p.status),
        ]);
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("文号", "doc_number", Kind::Text),
        x.c("所属月份", "month", Kind::Text),
        x.c("提示状态", "status", Kind::Text),
        x.c("库款保障水平", "level", Kind::Ratio),
        x.c("发文日期", "issued_on", Kind::Text),
        x.c("记录号", "seq", Kind::Int),
    ]);
    let mut s = Section::new(
        "notices",
        x.pick("本月已发提示函", "Notices sent this month (提示函)"),
        x.pick("提示函", "notices"),
        cols,
        x.none(),
    )
    .keys(2);
    for n in &m.notices {
        let [id, name] = x.county(&n.county, Tone::Plain);
        let status = match n.status {
            crate::values::NoticeStatus::Warning => Status::Warning,
            crate::values::NoticeStatus::Low => Status::Low,
        };
        s.row(vec![
            id,
            name,
            Cell::text(n.doc_number.as_str()),
            Cell::text(n.month.to_string()),
            x.status(status),
            Cell::ratio(n.guarantee_level),
            Cell::text(n.issued_on.to_string()),
            Cell::int(n.seq as i64),
        ]);
    }
    r.sections.push(s);
}
/// `monitor --daily` (按日监测): the days per status of each month, then every day.
pub fn daily(d: &Daily, x: &Ctx) -> Report {
    let mut r = Report {
        name: "daily",
        lang: x.lang,
        unit: x.unit,
        title: match x.lang {
            Lang::Zh => format!("按日监测 {} 至 {}", d.from, d.to),
            Lang::En => format!("Daily monitoring (按日监测) {} to {}", d.from, d.to),
        },
        meta: vec![(
            x.pick("起止日期", "from – to").into(),
            format!("{} – {}", d.from, d.to),
        )],
        notes: Vec::new(),
        sections: Vec::new(),
    };
    r.meta.extend(x.trace(d.at_seq));
    r.meta.push(x.unit_meta());
    let mut cols = x.county_cols();
    cols.extend([
        x.c("月份", "month", Kind::Text),
        x.c("天数", "days", Kind::Int),
        x.c("预警", "warning", Kind::Int),
        x.c("偏低", "low", Kind::Int),
        x.c("正常", "normal", Kind::Int),
        x.c("闲置", "idle", Kind::Int),
        x.c("未知", "unknown", Kind::Int),
    ]);
    let mut s = Section::new(
        "months",
        x.pick("各月各状态天数", "Days in each status, by month"),
        x.pick("各月状态天数", "months"),
        cols,
        x.pick("（期间无登记县区）", "(no county registered in the range)"),
    )
    .keys(2);
    for c in &d.counties {
        for m in &c.months {
            let count = |n: u32, tone| Cell::int(n).with(if n > 0 { tone } else { Tone::Plain });
            let [id, name] = x.county(&c.county, Tone::Plain);
            s.row(vec![
                id,
                name,
                Cell::text(m.month.to_string()),
                Cell::int(m.days),
                count(m.warning, Tone::Bad),
                count(m.low, Tone::Warn),
                Cell::int(m.normal),
                Cell::int(m.idle),
                Cell::int(m.unknown),
            ]);
        }
    }
    r.sections.push(s);
    let mut cols = x.county_cols();
    cols.extend([
        x.c("日期", "date", Kind::Text),
        x.c("库款余额", "cash", Kind::Money),
        x.c("月均支出", "avg_monthly_outflow", Kind::Money),
        x.c("库款保障水平", "level", Kind::Ratio),
        x.c("状态", "status", Kind::Text),
    ]);
    let mut s = Section::new(
        "days",
        x.pick("逐日库款", "Day-end figures"),
        x.pick("逐日库款", "days"),
        cols,
        x.none(),
    )
    .keys(2);
    for c in &d.counties {
        for day in &c.days {
            let [id, name] = x.county(&c.county, Tone::Plain);
            s.row(vec![
                id,
                name,
                Cell::text(day.date.to_string()),
                Cell::money(day.cash),
                Cell::opt_money(day.avg_monthly_outflow),
                Cell::opt_ratio(day.guarantee_level),
                x.status(day.status),
            ]);
        }
    }
    r.sections.push(s);
    r
}

/// The policy's name and what it means.
fn policy_words(p: PlanningPolicy, lang: Lang) -> &'static str {
    match p {
        PlanningPolicy::V1 => lang.pick(
            "v1（按预算需求测算；资金不足的层级按比例分配）",
            "v1 (SPEC §6.3: budgeted needs, a short tier shared pro rata)",
        ),
        PlanningPolicy::V2 => lang.pick(
            "v2（需求不低于实际支出水平和申报工资；资金不足的层级优先保障低于预警线的县区）",
            "v2 (needs at least the run rate and the declared wage bill; in a short tier, counties under the warning line first)",
        ),
    }
}

/// `plan` (SPEC §6.3): the summary, the tiers, the lines and the county projections;
/// emergency recommendations as notes.
pub fn plan(p: &Plan, x: &Ctx) -> Report {
    let mut r = Report {
        name: "plan",
        lang: x.lang,
        unit: x.unit,
        title: match x.lang {
            Lang::Zh => format!("{} 库款调度计划", p.month),
            Lang::En => format!("Dispatch plan for {}", p.month),
        },
        meta: vec![
            (x.pick("计划月份", "month").into(), p.month.to_string()),
            (
                x.pick("测算基准日", "basis date").into(),
                p.basis_date.to_string(),
            ),
            (
                x.pick("依据记录号", "based on seq").into(),
                p.based_on_seq.to_string(),
            ),
            ("plan_sha256".into(), p.plan_sha256.to_hex()),
            (
                x.pick("调度规则", "planning policy").into(),
                policy_words(p.policy, x.lang).into(),
            ),
            x.unit_meta(),
        ],
        notes: Vec::new(),
        sections: Vec::new(),
    };
    let mut s = Section::new(
        "summary",
        x.pick("资金概况", "Summary"),
        x.pick("资金概况", "summary"),
        vec![
            x.c("市本级可用库款", "city_available", Kind::Money),
            x.c("计划数", "total_planned", Kind::Money),
            x.c("安排数", "total_funded", Kind::Money),
            x.c("缺口", "shortfall", Kind::Money),
        ],
        x.none(),
    )
    .keys(0);
    s.row(vec![
        Cell::money(p.city_available),
        Cell::money(p.total_planned),
        Cell::money(p.total_funded),
        Cell::shortfall(p.total_planned - p.total_funded),
    ]);
    r.sections.push(s);

    let mut s = Section::new(
        "tiers",
        x.pick("分层安排（按拨付顺序）", "Tiers (in funding order)"),
        x.pick("分层安排", "tiers"),
        vec![
            x.c("资金类别", "fund", Kind::Text),
            x.c("计划数", "planned", Kind::Money),
            x.c("安排数", "funded", Kind::Money),
            x.c("缺口", "shortfall", Kind::Money),
        ],
        x.none(),
    );
    for t in &p.tiers {
        s.row(vec![
            Cell::text(t.fund.word(x.lang)),
            Cell::money(t.planned),
            Cell::money(t.funded),
            Cell::shortfall(t.planned - t.funded),
        ]);
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("资金类别", "fund", Kind::Text),
        x.c("年度", "year", Kind::Int),
        x.c("计划数", "planned", Kind::Money),
        x.c("安排数", "funded", Kind::Money),
        x.c("缺口", "shortfall", Kind::Money),
    ]);
    let mut s = Section::new(
        "lines",
        x.pick("分县区安排", "Lines"),
        x.pick("分县区安排", "lines"),
        cols,
        x.pick("（本月无需拨付）", "(nothing to dispatch this month)"),
    )
    .keys(2);
    for l in &p.lines {
        let [id, name] = x.county(&l.county, Tone::Plain);
        s.row(vec![
            id,
            name,
            Cell::text(l.fund.word(x.lang)),
            Cell::int(i64::from(l.fiscal_year.get())),
            Cell::money(l.planned),
            Cell::money(l.funded),
            Cell::shortfall(l.shortfall),
        ]);
    }
    r.sections.push(s);

    let mut cols = x.county_cols();
    cols.extend([
        x.c("月初库款", "opening cash", Kind::Money),
        x.c("调入资金", "funded in", Kind::Money),
        x.c("预计收入", "exp. revenue", Kind::Money),
        x.c("支出需求", "needs", Kind::Money),
        x.c("预计月末库款", "projected end", Kind::Money),
        x.c("预计保障水平", "level", Kind::Ratio),
        x.c("状态", "status", Kind::Text),
        x.c("建议应急调度", "emergency", Kind::Money),
        x.c("应发工资", "wage bill", Kind::Money),
        x.c("发薪日", "payday", Kind::Text),
        x.c("备付截止日", "deposit by", Kind::Text),
    ]);
    let mut s = Section::new(
        "counties",
        match x.lang {
            Lang::Zh => format!("{}末各县区库款预测", crate::lang::zh_month(p.month)),
            Lang::En => format!("County projections for the end of {}", p.month),
        },
        x.pick("县区预测", "projections"),
        cols,
        match x.lang {
            Lang::Zh => format!("（{}前无登记县区）", p.month.last_day()),
            Lang::En => format!("(no county registered by {})", p.month.last_day()),
        },
    )
    .keys(2);
    for c in &p.counties {
        let [id, name] = x.county(&c.county, Tone::Plain);
        let (bill, payday, deadline) = match &c.payroll {
            Some(pay) => (
                Cell::money(pay.wage_bill),
                Cell::text(pay.payday.to_string()),
                Cell::text(pay.deposit_deadline.to_string()),
            ),
            None => (Cell::null(), Cell::null(), Cell::null()),
        };
        s.row(vec![
            id,
            name,
            Cell::money(c.opening_cash),
            Cell::money(c.funded_in),
            Cell::money(c.expected_revenue),
            Cell::money(c.needs),
            Cell::money(c.projected_end).with(if c.projected_end.is_negative() {
                Tone::Bad
            } else {
                Tone::Plain
            }),
            Cell::opt_ratio(c.projected_level),
            x.status(c.status),
            Cell::shortfall(c.emergency_recommended),
            bill,
            payday,
            deadline,
        ]);
        if c.emergency_recommended.is_positive() {
            let name = x.names.get(&c.county).cloned().unwrap_or_default();
            let amount = x.unit.grouped(c.emergency_recommended);
            let unit = x.unit.name(x.lang);
            let why = match (x.lang, c.projected_level.is_some()) {
                (Lang::Zh, true) => "以使库款保障水平达到预警线",
                (Lang::Zh, false) => "以保障当月工资支出",
                (Lang::En, true) => "to stay at the warning line",
                // Only v2 recommends without a level: the wage term.
                (Lang::En, false) => "to pay the month's wage need",
            };
            r.notes.push((
                Tone::Bad,
                match x.lang {
                    Lang::Zh => format!(
                        "建议对{name}（{}）应急调度 {amount} {unit}，{why}",
                        c.county
                    ),
                    Lang::En => format!(
                        "Emergency dispatch recommended: {} ({name}) {amount} {unit} {why}",
                        c.county
                    ),
                },
            ));
        }
    }
    r.sections.push(s);
    r
}

/// `plan status` (issue 18): the issued plan's lines against the transfers that name
/// its month, and the transfers off the plan.
pub fn plan_status(s: &PlanStatus, x: &Ctx) -> Report {
    let mut r = Report {
        name: "plan-status",
        lang: x.lang,
        unit: x.unit,
        title: match x.lang {
            Lang::Zh => format!("{} 调度计划执行情况", crate::lang::zh_month(s.month)),
            Lang::En => format!("Plan {} against transfers", s.month),
        },
        meta: vec![
            (x.pick("计划月份", "month").to_string(), s.month.to_string()),
            (
                x.pick("签发记录号", "issued at seq").to_string(),
                s.plan_seq
                    .map_or_else(|| "—".to_string(), |n| n.to_string()),
            ),
            (
                x.pick("依据记录号", "based on seq").to_string(),
                s.based_on_seq
                    .map_or_else(|| "—".to_string(), |n| n.to_string()),
            ),
            (
                x.pick("截至记录号", "transfers up to seq").to_string(),
                s.at_seq.to_string(),
            ),
            (
                x.pick("合计：计划安排数", "total funded").to_string(),
                x.unit.grouped(s.total_funded),
            ),
            (
                x.pick("已拨付（含计划外）", "dispatched (off plan included)")
                    .to_string(),
                x.unit.grouped(s.total_dispatched),
            ),
            (
                x.pick("未拨付", "remaining").to_string(),
                x.unit.grouped(s.total_remaining),
            ),
            (
                x.pick("超计划", "over plan").to_string(),
                x.unit.grouped(s.total_over_plan),
            ),
            x.unit_meta(),
        ],
        notes: Vec::new(),
        sections: Vec::new(),
    };
    if s.plan_seq.is_none() {
        r.notes.push((
            Tone::Warn,
            x.pick("该月计划尚未签发。", "No plan of this month is issued.")
                .to_string(),
        ));
    }
    let mut cols = x.county_cols();
    cols.extend([
        x.c("资金类别", "fund", Kind::Text),
        x.c("年度", "fiscal year", Kind::Int),
        x.c("计划安排数", "funded", Kind::Money),
        x.c("已拨付", "dispatched", Kind::Money),
        x.c("未拨付", "remaining", Kind::Money),
        x.c("超计划", "over plan", Kind::Money),
    ]);
    let mut lines = Section::new(
        "lines",
        x.pick("分县区执行情况", "Lines"),
        x.pick("分县区执行情况", "lines"),
        cols,
        x.none(),
    )
    .keys(2);
    for l in &s.lines {
        let mut row = x.county(&l.county, Tone::Plain).to_vec();
        row.extend([
            Cell::text(l.fund.word(x.lang)),
            Cell::int(i64::from(l.fiscal_year.get())),
            Cell::money(l.funded),
            Cell::money(l.dispatched),
            Cell::money(l.remaining),
            Cell::shortfall(l.over_plan),
        ]);
        lines.row(row);
    }
    r.sections.push(lines);
    let mut cols = vec![x.c("记录号", "seq", Kind::Int)];
    cols.extend(x.county_cols());
    cols.extend([
        x.c("资金类别", "fund", Kind::Text),
        x.c("年度", "fiscal year", Kind::Int),
        x.c("金额", "amount", Kind::Money),
        x.c("所属计划月份", "plan month", Kind::Text),
        x.c("原因", "why", Kind::Text),
        x.c("计划外调拨理由", "off-plan reason", Kind::Text),
    ]);
    let mut off = Section::new(
        "off_plan",
        x.pick("计划外调拨", "Off-plan transfers"),
        x.pick("计划外调拨", "off plan"),
        cols,
        x.pick("（无计划外调拨）", "(no off-plan transfer)"),
    )
    .keys(3);
    for o in &s.off_plan {
        let mut row = vec![Cell::int(o.seq as i64)];
        row.extend(x.county(&o.county, Tone::Plain));
        let why = match o.why {
            OffPlanWhy::NoIssuedPlan => x.pick("该月计划未签发", "no issued plan"),
            OffPlanWhy::NoLine => x.pick("计划无此项安排", "no line in the plan"),
            OffPlanWhy::BeyondLine => x.pick("超出计划安排数", "beyond its line"),
        };
        row.extend([
            Cell::text(o.fund.word(x.lang)),
            Cell::int(i64::from(o.fiscal_year.get())),
            Cell::money(o.amount),
            Cell::text(o.plan_month.to_string()),
            Cell::toned(why, Tone::Bad),
            Cell::text(o.off_plan_reason.as_ref().map_or("", |t| t.as_str())),
        ]);
        off.row(row);
    }
    r.sections.push(off);
    r
}

/// `forecast` (SPEC §6.4): every county's months; high risks as notes.
pub fn forecast(f: &Forecast, x: &Ctx) -> Report {
    let last = f.from.add(f.months as i32 - 1).unwrap_or(f.from);
    let mut r = Report {
        name: "forecast",
        lang: x.lang,
        unit: x.unit,
        title: match x.lang {
            Lang::Zh => format!("工资支付风险预测 {} — {}（{}个月）", f.from, last, f.months),
            Lang::En => format!(
                "Wage-payment risk forecast {} … {} ({} months)",
                f.from, last, f.months
            ),
        },
        meta: vec![
            (x.pick("起始月份", "from").into(), f.from.to_string()),
            (x.pick("月数", "months").into(), f.months.to_string()),
            (x.pick("依据记录号", "based on seq").into(), f.based_on_seq.to_string()),
            (
                x.pick("该记录哈希", "its hash").into(),
                x.head_hash.to_hex(),
            ),
            x.unit_meta(),
        ],
        notes: vec![(
            Tone::Plain,
            match x.lang {
                Lang::Zh => format!(
                    "假定各月计划全额拨付；各月预计收入按{}测算。",
                    f.from
                ),
                Lang::En => format!(
                    "Every month's plan lines are assumed fully funded; expected revenue is {}'s for every month.",
                    f.from
                ),
            },
        )],
        sections: Vec::new(),
    };
    let mut cols = x.county_cols();
    cols.extend([
        x.c("月份", "month", Kind::Text),
        x.c("月初库款", "opening cash", Kind::Money),
        x.c("调入资金", "funded in", Kind::Money),
        x.c("预计收入", "exp. revenue", Kind::Money),
        x.c("支出需求", "needs", Kind::Money),
        x.c("工资需求", "wage need", Kind::Money),
        x.c("预计月末库款", "projected end", Kind::Money),
        x.c("工资保障倍数", "wage cover", Kind::Ratio),
        x.c("风险", "risk", Kind::Text),
    ]);
    let mut s = Section::new(
        "months",
        x.pick("分县区分月预测", "Counties by month"),
        x.pick("工资支付风险", "forecast"),
        cols,
        match x.lang {
            Lang::Zh => format!("（{}前无登记县区）", f.from.last_day()),
            Lang::En => format!("(no county registered by {})", f.from.last_day()),
        },
    )
    .keys(2);
    for c in &f.counties {
        let mut high = Vec::new();
        for m in &c.months {
            let [id, name] = x.county(&c.county, Tone::Plain);
            s.row(vec![
                id,
                name,
                Cell::text(m.month.to_string()),
                Cell::money(m.opening_cash),
                Cell::money(m.funded_in),
                Cell::money(m.expected_revenue),
                Cell::money(m.needs),
                Cell::money(m.wage_need),
                Cell::money(m.projected_end).with(if m.projected_end.is_negative() {
                    Tone::Bad
                } else {
                    Tone::Plain
                }),
                Cell::opt_ratio(m.wage_cover),
                x.risk(m.risk),
            ]);
            if m.risk == Risk::High {
                high.push(m.month.to_string());
            }
        }
        if !high.is_empty() {
            let name = x.names.get(&c.county).cloned().unwrap_or_default();
            r.notes.push((
                Tone::Bad,
                match x.lang {
                    Lang::Zh => format!(
                        "高风险（库款不足以支付工资）：{name}（{}）{}",
                        c.county,
                        high.join("、")
                    ),
                    Lang::En => format!(
                        "High risk (cash does not cover the wage need): {} ({name}) {}",
                        c.county,
                        high.join(", ")
                    ),
                },
            ));
        }
    }
    r.sections.push(s);
    r
}

/// `replay` (SPEC §5): what was verified, position and monitor as of the date, and
/// the issued plans with whether each reproduces.
pub fn replay(rep: &ReplayReport, x: &Ctx) -> Report {
    let mut r = Report {
        name: "replay",
        lang: x.lang,
        unit: x.unit,
        title: match x.lang {
            Lang::Zh => format!(
                "审计重放：仅依据日志重建，第1—{}号记录哈希链校验通过",
                rep.at_seq
            ),
            Lang::En => format!(
                "Replay: rebuilt from the log alone; chain verified for records 1..={}",
                rep.at_seq
            ),
        },
        meta: vec![x.as_of(rep.position.as_of)],
        notes: Vec::new(),
        sections: Vec::new(),
    };
    r.meta.extend([
        (
            x.pick("截至记录号", "known at seq").to_string(),
            rep.at_seq.to_string(),
        ),
        (
            x.pick("该记录哈希", "head hash").to_string(),
            rep.head_hash.to_hex(),
        ),
        x.unit_meta(),
    ]);
    if rep.position.as_of.is_none() {
        r.notes.push((
            Tone::Dim,
            x.pick(
                "日志中尚无事件。",
                "The log holds no events: nothing to show.",
            )
            .into(),
        ));
    }
    position_sections(&mut r, &rep.position, x);
    monitor_sections(&mut r, &rep.monitor, x);
    let mut s = Section::new(
        "plans",
        x.pick("已下达的调度计划", "Issued plans"),
        x.pick("已下达计划", "plans"),
        vec![
            x.c("计划月份", "month", Kind::Text),
            x.c("依据记录号", "based_on_seq", Kind::Int),
            x.c("plan_sha256", "plan_sha256", Kind::Text),
            x.c("可复现", "reproduced", Kind::Text),
        ],
        x.none(),
    );
    for p in &rep.plans {
        s.row(vec![
            Cell::text(p.month.to_string()),
            Cell::int(p.based_on_seq as i64),
            Cell::text(p.plan_sha256.to_hex()),
            if p.reproduced {
                Cell::toned(x.pick("是", "yes"), Tone::Good)
            } else {
                Cell::toned(x.pick("否", "NO"), Tone::Bad)
            },
        ]);
    }
    r.sections.push(s);
    r
}

/// An amount in the context's unit with its unit's name (for notes and letters).
pub fn amount(m: Money, x: &Ctx) -> String {
    format!("{} {}", x.unit.grouped(m), x.unit.name(x.lang))
}
