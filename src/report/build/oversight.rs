//! The papers of the year's oversight (issue 19): 预算再审核 (`review budget`),
//! 财政可承受能力评估 (`assess`) and 考核 (`scorecard`), made from their answers in
//! [`crate::query::oversight`] like every other report: one language, one unit, every
//! row naming its county by id and name, the query traced to the log.
//!
//! Guarantees: a report only shows figures of its answer (never computes one), in the
//! answer's order; the section keys are [`REVIEW_SECTIONS`], [`ASSESS_SECTIONS`] and
//! [`SCORECARD_SECTIONS`].

use super::*;
use crate::query::oversight::{
    AssessFailure, Assessment, BudgetReview, PlanRequirement, ReviewFlag, Scorecard,
};
use crate::values::NeedCategory;

/// The sections of `review budget`, by key, in order.
pub const REVIEW_SECTIONS: &[&str] = &["counties", "categories"];
/// The sections of `assess`, by key, in order.
pub const ASSESS_SECTIONS: &[&str] = &["months"];
/// The sections of `scorecard`, by key, in order.
pub const SCORECARD_SECTIONS: &[&str] = &["counties"];

/// The word of a budget category.
fn category(c: NeedCategory, lang: Lang) -> &'static str {
    match c {
        NeedCategory::Wages => lang.pick("保工资", "wages"),
        NeedCategory::Livelihood => lang.pick("保基本民生", "livelihood"),
        NeedCategory::Operations => lang.pick("保运转", "operations"),
        NeedCategory::DebtService => lang.pick("债务还本付息", "debt service"),
    }
}

fn yes_no(x: &Ctx, b: bool, bad: bool) -> Cell {
    match (b, bad) {
        (true, true) => Cell::toned(x.pick("是", "yes"), Tone::Bad),
        (true, false) => Cell::toned(x.pick("是", "yes"), Tone::Good),
        (false, _) => Cell::text(x.pick("否", "no")),
    }
}

/// `review budget` (预算再审核): each county's verdict and gap, then each category.
pub fn review_budget(b: &BudgetReview, x: &Ctx) -> Report {
    let mut r = Report {
        name: "review_budget",
        lang: x.lang,
        unit: x.unit,
        title: match x.lang {
            Lang::Zh => format!("{}年度预算再审核", b.fiscal_year),
            Lang::En => format!("Budget re-review {}", b.fiscal_year),
        },
        meta: vec![
            (x.pick("预算年度", "fiscal year").into(), b.fiscal_year.to_string()),
            x.as_of(b.as_of),
            (
                x.pick("已过天数/全年天数", "days elapsed / in year").into(),
                format!("{}/{}", b.days_elapsed, b.days_in_year),
            ),
            x.unit_meta(),
        ],
        notes: vec![(
            Tone::Plain,
            x.pick(
                "执行进度年化 = 年初至截至日支出 ÷ 已过天数 × 全年天数；预算工资低于全年申报工资（未申报月份按最近一次申报额），或任一类年化支出超预算5%以上的，列为预算不足，缺口为应追加预算额。",
                "Run rate = outflow of the year through as_of ÷ days elapsed × days in year. A county is under-budgeted where budgeted wages are below the year's declared wage bills (months not yet declared at the latest bill) or any category's run rate exceeds its budget by more than 5 %; the gap is what to add to the budget.",
            )
            .to_string(),
        )],
        sections: Vec::new(),
    };
    r.meta.extend(x.trace(b.at_seq));
    let mut cols = x.county_cols();
    cols.extend([
        x.c("预算不足", "under-budgeted", Kind::Text),
        x.c("应追加预算", "gap to add", Kind::Money),
    ]);
    let none = match x.lang {
        Lang::Zh => "（无登记县区）".to_string(),
        Lang::En => "(no county registered)".to_string(),
    };
    let mut s = Section::new(
        "counties",
        x.pick("分县区审核结论", "Counties"),
        x.pick("审核结论", "counties"),
        cols,
        none.clone(),
    )
    .keys(2);
    let mut flagged = Vec::new();
    for c in &b.counties {
        let [id, name] = x.county(
            &c.county,
            if c.under_budgeted {
                Tone::Bad
            } else {
                Tone::Plain
            },
        );
        s.row(vec![
            id,
            name,
            yes_no(x, c.under_budgeted, true),
            Cell::money(c.gap),
        ]);
        if c.under_budgeted {
            flagged.push(format!(
                "{}（{}）",
                x.names.get(&c.county).cloned().unwrap_or_default(),
                c.gap.grouped()
            ));
        }
    }
    r.sections.push(s);
    if !flagged.is_empty() {
        r.notes.push((
            Tone::Bad,
            match x.lang {
                Lang::Zh => format!("预算不足（应追加）：{}", flagged.join("、")),
                Lang::En => format!("Under-budgeted (gap to add): {}", flagged.join(", ")),
            },
        ));
    }
    let mut cols = x.county_cols();
    cols.extend([
        x.c("类别", "category", Kind::Text),
        x.c("年度预算", "budgeted", Kind::Money),
        x.c("已支出", "actual", Kind::Money),
        x.c("年化执行", "run rate", Kind::Money),
        x.c("申报工资", "declared wages", Kind::Money),
        x.c("缺口", "gap", Kind::Money),
        x.c("问题", "flags", Kind::Text),
    ]);
    let mut s = Section::new(
        "categories",
        x.pick("分类别审核", "Categories"),
        x.pick("分类别", "categories"),
        cols,
        none,
    )
    .keys(3);
    for c in &b.counties {
        for k in &c.categories {
            let [id, name] = x.county(&c.county, Tone::Plain);
            let flags: Vec<&str> = k
                .flags
                .iter()
                .map(|f| match f {
                    ReviewFlag::WagesBelowDeclared => {
                        x.pick("预算工资低于申报工资", "wages below declared bills")
                    }
                    ReviewFlag::RunRateOverBudget => x.pick(
                        "年化执行超预算5%以上",
                        "run rate over budget by more than 5 %",
                    ),
                })
                .collect();
            s.row(vec![
                id,
                name,
                Cell::text(category(k.category, x.lang)),
                Cell::money(k.budgeted),
                Cell::money(k.actual),
                Cell::opt_money(k.run_rate),
                Cell::opt_money(k.declared_wages),
                Cell::money(k.gap).with(if k.gap.is_positive() {
                    Tone::Bad
                } else {
                    Tone::Plain
                }),
                if flags.is_empty() {
                    Cell::text("")
                } else {
                    Cell::toned(flags.join(x.pick("；", "; ")), Tone::Bad)
                },
            ]);
        }
    }
    r.sections.push(s);
    r
}

/// `assess` (财政可承受能力评估): the proposal, the verdict, each month.
pub fn assess(a: &Assessment, x: &Ctx) -> Report {
    let name = x.names.get(&a.county).cloned().unwrap_or_default();
    let last = a.rows.last().map_or(a.from, |m| m.month);
    let mut r = Report {
        name: "assess",
        lang: x.lang,
        unit: x.unit,
        title: match x.lang {
            Lang::Zh => format!("财政可承受能力评估：{name}“{}”", a.title.as_str()),
            Lang::En => format!(
                "Affordability assessment: {} \"{}\"",
                a.county,
                a.title.as_str()
            ),
        },
        meta: vec![
            (
                x.pick("政策记录号", "proposal seq").into(),
                a.proposal_seq.to_string(),
            ),
            (
                x.pick("县区", "county").into(),
                format!("{} {name}", a.county),
            ),
            (
                x.pick("每月新增支出", "monthly cost").into(),
                a.monthly_cost.grouped(),
            ),
            (x.pick("实施月份", "starts").into(), a.starts.to_string()),
            (
                x.pick("提出日期", "proposed on").into(),
                a.proposed_on.to_string(),
            ),
            (
                x.pick("测算期间", "months").into(),
                format!("{} — {}", a.from, last),
            ),
            (
                x.pick("月均支出（基数）", "basis (avg monthly outflow)")
                    .into(),
                a.basis.map_or_else(|| "—".to_string(), |b| b.grouped()),
            ),
            (
                x.pick("预警线", "warning line").into(),
                a.warning_line.to_string(),
            ),
            (
                x.pick("工资保障倍数下限", "wage cover floor").into(),
                a.cover_floor.to_string(),
            ),
            (
                x.pick("依据记录号", "based on seq").into(),
                a.based_on_seq.to_string(),
            ),
            (
                x.pick("该记录哈希", "its hash").into(),
                x.head_hash.to_hex(),
            ),
            x.unit_meta(),
        ],
        notes: Vec::new(),
        sections: Vec::new(),
    };
    let failing: Vec<String> = a
        .rows
        .iter()
        .filter(|m| !m.failures.is_empty())
        .map(|m| m.month.to_string())
        .collect();
    r.notes.push(if a.affordable {
        (
            Tone::Good,
            x.pick(
                "评估结论：可承受（各月工资保障倍数不低于1.2，预计库款保障水平不低于预警线）。",
                "Affordable: no month's wage cover under 1.2, no month's projected level under the warning line.",
            )
            .to_string(),
        )
    } else {
        (
            Tone::Bad,
            match x.lang {
                Lang::Zh => format!("评估结论：不可承受（{}）。", failing.join("、")),
                Lang::En => format!("Not affordable ({}).", failing.join(", ")),
            },
        )
    });
    if let Some(d) = a.decision {
        r.notes.push((
            Tone::Plain,
            match (x.lang, d) {
                (Lang::Zh, crate::values::AssessmentDecision::Approved) => {
                    "已作结论：同意。".into()
                }
                (Lang::Zh, crate::values::AssessmentDecision::Rejected) => {
                    "已作结论：不同意。".into()
                }
                (Lang::En, d) => format!("Decided: {}.", d.as_str()),
            },
        ));
    }
    let cols = vec![
        x.c("月份", "month", Kind::Text),
        x.c("月初库款", "opening cash", Kind::Money),
        x.c("调入资金", "funded in", Kind::Money),
        x.c("预计收入", "exp. revenue", Kind::Money),
        x.c("新增支出", "added cost", Kind::Money),
        x.c("支出需求", "needs", Kind::Money),
        x.c("工资需求", "wage need", Kind::Money),
        x.c("预计月末库款", "projected end", Kind::Money),
        x.c("工资保障倍数", "wage cover", Kind::Ratio),
        x.c("预计保障水平", "projected level", Kind::Ratio),
        x.c("问题", "fails", Kind::Text),
    ];
    let mut s = Section::new(
        "months",
        x.pick("分月测算", "Months"),
        x.pick("分月测算", "months"),
        cols,
        x.pick("（无可测算月份）", "(no month)"),
    );
    for m in &a.rows {
        let fails: Vec<&str> = m
            .failures
            .iter()
            .map(|f| match f {
                AssessFailure::WageCoverBelowFloor => {
                    x.pick("工资保障倍数低于1.2", "wage cover under 1.2")
                }
                AssessFailure::LevelBelowWarning => {
                    x.pick("保障水平低于预警线", "level under the warning line")
                }
            })
            .collect();
        s.row(vec![
            Cell::text(m.month.to_string()),
            Cell::money(m.opening_cash),
            Cell::money(m.funded_in),
            Cell::money(m.expected_revenue),
            Cell::money(m.added_cost),
            Cell::money(m.needs),
            Cell::money(m.wage_need),
            Cell::money(m.projected_end),
            Cell::opt_ratio(m.wage_cover),
            Cell::opt_ratio(m.projected_level),
            if fails.is_empty() {
                Cell::text("")
            } else {
                Cell::toned(fails.join(x.pick("；", "; ")), Tone::Bad)
            },
        ]);
    }
    r.sections.push(s);
    r
}

/// `scorecard` (考核): every county's year, in rank order, the veto first.
pub fn scorecard(sc: &Scorecard, x: &Ctx) -> Report {
    let mut r = Report {
        name: "scorecard",
        lang: x.lang,
        unit: x.unit,
        title: match x.lang {
            Lang::Zh => format!("{}年度三保工作考核", sc.fiscal_year),
            Lang::En => format!("Annual scorecard {}", sc.fiscal_year),
        },
        meta: vec![
            (x.pick("考核年度", "fiscal year").into(), sc.fiscal_year.to_string()),
            (x.pick("起始日期", "from").into(), sc.from.to_string()),
            x.as_of(sc.through),
        ],
        notes: vec![(
            Tone::Plain,
            x.pick(
                "发生欠薪（工资未在发薪日前足额发放）的实行一票否决，排在其他县区之后；其余依次按未报一县一策、低于预警线天数、低于关注线天数、列入重点关注地区月数、工资备付迟延天数、直达资金滞留天数、余额不符次数、提示函次数排序。",
                "Wage arrears (wages not paid in full by payday) are a veto (一票否决): a vetoed county ranks below every other. The rest rank by: response plan missing, days under the warning line, days under the alert line, months on the watch list, days of late deposits, days of direct funds overdue, discrepancies, notices.",
            )
            .to_string(),
        )],
        sections: Vec::new(),
    };
    r.meta.extend(x.trace(sc.at_seq));
    let vetoed: Vec<String> = sc
        .counties
        .iter()
        .filter(|c| c.veto)
        .map(|c| {
            x.names
                .get(&c.county)
                .cloned()
                .unwrap_or_else(|| c.county.to_string())
        })
        .collect();
    if !vetoed.is_empty() {
        r.notes.push((
            Tone::Bad,
            match x.lang {
                Lang::Zh => format!("一票否决：{}", vetoed.join("、")),
                Lang::En => format!("Vetoed: {}", vetoed.join(", ")),
            },
        ));
    }
    let mut cols = vec![x.c("名次", "rank", Kind::Int)];
    cols.extend(x.county_cols());
    cols.extend([
        x.c("一票否决", "veto", Kind::Text),
        x.c("预警天数", "days warning", Kind::Int),
        x.c("偏低天数", "days low", Kind::Int),
        x.c("正常天数", "days normal", Kind::Int),
        x.c("闲置天数", "days idle", Kind::Int),
        x.c("无法测算天数", "days unknown", Kind::Int),
        x.c("重点关注天数", "watch days", Kind::Int),
        x.c("重点关注月数", "watch months", Kind::Int),
        x.c("备付迟延月数", "late deposits", Kind::Int),
        x.c("迟延天数", "days late", Kind::Int),
        x.c("欠薪月数", "arrears months", Kind::Int),
        x.c("欠薪天数", "arrears days", Kind::Int),
        x.c("直达资金滞留天数", "direct overdue days", Kind::Int),
        x.c("提示函", "notices", Kind::Int),
        x.c("余额不符", "discrepancies", Kind::Int),
        x.c("一县一策", "response plan", Kind::Text),
    ]);
    let mut s = Section::new(
        "counties",
        x.pick("县区考核排名", "Counties ranked"),
        x.pick("考核排名", "scorecard"),
        cols,
        x.pick("（无登记县区）", "(no county registered)"),
    )
    .keys(3);
    for c in &sc.counties {
        let [id, name] = x.county(&c.county, if c.veto { Tone::Bad } else { Tone::Plain });
        let plan = match c.response_plan {
            PlanRequirement::NotRequired => Cell::text(x.pick("无需报送", "not required")),
            PlanRequirement::Filed => Cell::toned(x.pick("已报送", "filed"), Tone::Good),
            PlanRequirement::Missing => Cell::toned(x.pick("未报送", "missing"), Tone::Bad),
        };
        let d = &c.status_days;
        s.row(vec![
            Cell::int(c.rank),
            id,
            name,
            yes_no(x, c.veto, true),
            Cell::int(d.warning),
            Cell::int(d.low),
            Cell::int(d.normal),
            Cell::int(d.idle),
            Cell::int(d.unknown),
            Cell::int(c.watch_days),
            Cell::int(c.watch_months),
            Cell::int(c.late_deposits),
            Cell::int(c.days_late),
            Cell::int(c.arrears_months),
            Cell::int(c.arrears_days),
            Cell::int(c.direct_overdue_days),
            Cell::int(c.notices),
            Cell::int(c.discrepancies),
            plan,
        ]);
    }
    r.sections.push(s);
    r
}
