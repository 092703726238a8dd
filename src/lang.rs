//! The words sanbao shows people (issue 16): the language of human output (`--lang
//! zh|en`, `SANBAO_LANG`, the locale) and the Chinese and English names of every
//! status, fund, reason and category, as a city finance bureau writes them
//! (库款保障水平, 财力性资金, 预警 …).
//!
//! Guarantees: pure; JSON, hashes and every machine form keep their snake_case codes
//! (`as_str` of each type) — these words are for tables, papers, charts and letters
//! only. Each term has exactly one Chinese and one English word, so a paper reads the
//! same wherever it is made.

use crate::money::Money;
use crate::query::forecast::Risk;
use crate::query::monitor::{PayrollStatus, Reason};
use crate::query::Status;
use crate::values::{AccountKind, Fund};

/// The language of human output.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// 中文.
    Zh,
    /// English.
    #[default]
    En,
}

impl Lang {
    /// Parses `zh` or `en` (also `zh-CN`, `zh_CN.UTF-8`, `en_US` …: the part before `-`
    /// or `_`, case-insensitive).
    pub fn parse(s: &str) -> Option<Lang> {
        let head = s
            .split(['-', '_', '.'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match head.as_str() {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language asked by `SANBAO_LANG`, else the one the locale (`LC_ALL`,
    /// `LC_MESSAGES`, `LANG`, the first set) says: Chinese when it is Chinese, English
    /// otherwise.
    pub fn from_env() -> Lang {
        if let Some(l) = std::env::var("SANBAO_LANG")
            .ok()
            .and_then(|v| Lang::parse(&v))
        {
            return l;
        }
        Lang::from_locale(|k| std::env::var(k).ok())
    }

    /// The locale's language, reading variables through `var` (for tests).
    pub fn from_locale(var: impl Fn(&str) -> Option<String>) -> Lang {
        for k in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Some(v) = var(k).filter(|v| !v.is_empty()) {
                return if v.to_ascii_lowercase().starts_with("zh") {
                    Lang::Zh
                } else {
                    Lang::En
                };
            }
        }
        Lang::En
    }

    /// `zh` or `en`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The word of this language among two.
    pub fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// A value shown to people under a name of its own in each language.
pub trait Term {
    /// Its word in `lang`.
    fn word(&self, lang: Lang) -> &'static str;
}

impl Term for Status {
    fn word(&self, lang: Lang) -> &'static str {
        match self {
            Status::Warning => lang.pick("预警", "warning"),
            Status::Low => lang.pick("偏低", "low"),
            Status::Normal => lang.pick("正常", "normal"),
            Status::Idle => lang.pick("闲置", "idle"),
            Status::Unknown => lang.pick("未知", "unknown"),
        }
    }
}

impl Term for Fund {
    fn word(&self, lang: Lang) -> &'static str {
        match self {
            Fund::General => lang.pick("财力性资金", "general"),
            Fund::PreNotified => lang.pick("提前告知专项", "pre_notified"),
            Fund::InExecution => lang.pick("执行中下达补助", "in_execution"),
            Fund::Direct => lang.pick("直达资金", "direct"),
        }
    }
}

impl Term for Reason {
    fn word(&self, lang: Lang) -> &'static str {
        match self {
            Reason::GuaranteeLevelWarning => {
                lang.pick("库款保障水平低于预警线", "guarantee_level_warning")
            }
            Reason::PayrollLate => lang.pick("工资资金未按时足额备付", "payroll_late"),
            Reason::DirectOverdue => lang.pick("直达资金未及时拨付", "direct_overdue"),
            Reason::Discrepancy => lang.pick("报送库款与核算不符", "discrepancy"),
            Reason::WageArrears => lang.pick("存在欠发工资", "wage_arrears"),
        }
    }
}

impl Term for PayrollStatus {
    fn word(&self, lang: Lang) -> &'static str {
        match self {
            PayrollStatus::Paid => lang.pick("已发放", "paid"),
            PayrollStatus::Funded => lang.pick("已备足", "funded"),
            PayrollStatus::Late => lang.pick("逾期未备足", "late"),
            PayrollStatus::Due => lang.pick("待备付", "due"),
        }
    }
}

impl Term for Risk {
    fn word(&self, lang: Lang) -> &'static str {
        match self {
            Risk::High => lang.pick("高", "high"),
            Risk::Medium => lang.pick("中", "medium"),
            Risk::Low => lang.pick("低", "low"),
        }
    }
}

impl Term for AccountKind {
    fn word(&self, lang: Lang) -> &'static str {
        match self {
            AccountKind::Treasury => lang.pick("国库库款", "treasury"),
            AccountKind::WageReserve => lang.pick("工资库款保障户", "wage_reserve"),
        }
    }
}

/// A month as Chinese papers write it: `2021年7月`.
pub fn zh_month(m: crate::values::Month) -> String {
    format!("{}年{}月", m.year(), m.number())
}

/// The name of an event kind for a person (`payroll_deposited` → 工资库款保障户备付);
/// the kind itself for a kind this build does not know.
pub fn kind_word(kind: &str, lang: Lang) -> &str {
    let (zh, en) = match kind {
        "county_registered" => ("县区登记", "county registered"),
        "city_funds_received" => ("市级资金到账", "city funds received"),
        "allocation_notified" => ("指标下达", "allocation notified"),
        "transfer_allocated" => ("资金调拨", "transfer allocated"),
        "emergency_dispatched" => ("应急调度", "emergency dispatched"),
        "payroll_deposited" => ("工资库款保障户备付", "payroll deposited"),
        "wage_bill_declared" => ("工资申报", "wage bill declared"),
        "wages_paid" => ("工资发放", "wages paid"),
        "revenue_collected" => ("收入入库", "revenue collected"),
        "expenditure_paid" => ("支出拨付", "expenditure paid"),
        "balance_reported" => ("库款余额报送", "balance reported"),
        "needs_budgeted" => ("三保预算", "needs budgeted"),
        "risk_lines_set" => ("风险线设定", "risk lines set"),
        "plan_issued" => ("调度计划签发", "plan issued"),
        "event_reversed" => ("冲正", "event reversed"),
        "planning_policy_set" => ("计划口径设定", "planning policy set"),
        "notice_issued" => ("印发提示函", "notice issued"),
        "emergency_requested" => ("应急调度申请", "emergency requested"),
        "emergency_approved" => ("应急调度审批", "emergency approved"),
        "approval_limit_set" => ("直接应急调度限额设定", "approval limit set"),
        "policy_proposed" => ("拟出台政策报送", "policy proposed"),
        "assessment_decided" => ("可承受能力评估结论", "assessment decided"),
        "response_plan_filed" => ("一县一策报送", "response plan filed"),
        other => return other,
    };
    lang.pick(zh, en)
}

/// A month for a title in `lang`: `2021年4月` in Chinese, `2021-04` in English.
pub fn zh_month_in(m: crate::values::Month, lang: Lang) -> String {
    match lang {
        Lang::Zh => zh_month(m),
        Lang::En => m.to_string(),
    }
}

/// The unit amounts are shown in (`--unit`): 元 with two decimals, or 万元 with six
/// (1 分 = 0.000001 万元: four decimals of 万元 would round to the yuan, so sanbao
/// shows six and never loses a cent).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// 元, two decimals.
    #[default]
    Yuan,
    /// 万元.
    Wan,
}

impl Unit {
    /// Parses `yuan` / `元` or `wan` / `万元`.
    pub fn parse(s: &str) -> Option<Unit> {
        match s {
            "yuan" | "元" => Some(Unit::Yuan),
            "wan" | "万元" | "万" => Some(Unit::Wan),
            _ => None,
        }
    }

    /// The unit's name in `lang` (元 / 万元, yuan / 10k yuan).
    pub fn name(self, lang: Lang) -> &'static str {
        match self {
            Unit::Yuan => lang.pick("元", "yuan"),
            Unit::Wan => lang.pick("万元", "10k yuan"),
        }
    }

    /// The amount's exact decimal text in this unit, without grouping: yuan with two
    /// decimals; 万元 with six (1 分 = 0.000001 万元), so no cent is ever lost.
    pub fn plain(self, m: Money) -> String {
        match self {
            Unit::Yuan => m.to_string(),
            Unit::Wan => wan_text(m, false),
        }
    }

    /// The amount for a table: yuan grouped by thousands, or 万元 grouped, six
    /// decimals.
    pub fn grouped(self, m: Money) -> String {
        match self {
            Unit::Yuan => m.grouped(),
            Unit::Wan => wan_text(m, true),
        }
    }
}

/// An amount in 万元 with six decimals (exact: one cent is 0.000001 万元).
fn wan_text(m: Money, group: bool) -> String {
    let cents = m.cents();
    let neg = cents < 0;
    let abs = cents.unsigned_abs();
    let whole = abs / 1_000_000;
    let frac = abs % 1_000_000;
    let digits = whole.to_string();
    let mut whole_text = String::with_capacity(digits.len() * 4 / 3);
    for (i, c) in digits.chars().enumerate() {
        if group && i > 0 && (digits.len() - i) % 3 == 0 {
            whole_text.push(',');
        }
        whole_text.push(c);
    }
    format!("{}{whole_text}.{frac:06}", if neg { "-" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_kind_has_a_chinese_name() {
        for k in crate::event::KINDS {
            let zh = kind_word(k, Lang::Zh);
            assert_ne!(zh, *k, "{k} has no Chinese name");
            assert!(!zh.is_ascii(), "{k}: {zh}");
            assert_ne!(kind_word(k, Lang::En), *k, "{k}");
        }
        assert_eq!(kind_word("future_kind", Lang::Zh), "future_kind");
    }

    #[test]
    fn locale_and_codes() {
        assert_eq!(Lang::parse("zh_CN.UTF-8"), Some(Lang::Zh));
        assert_eq!(Lang::parse("EN"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Lang::from_locale(env(&[("LANG", "zh_CN.UTF-8")])), Lang::Zh);
        assert_eq!(
            Lang::from_locale(env(&[("LC_ALL", "C"), ("LANG", "zh_CN.UTF-8")])),
            Lang::En
        );
        assert_eq!(Lang::from_locale(env(&[])), Lang::En);
    }

    #[test]
    fn wan_keeps_every_cent() {
        let m = Money::from_cents(-123_456_789);
        assert_eq!(Unit::Wan.plain(m), "-123.456789");
        assert_eq!(
            Unit::Wan.grouped(Money::from_cents(1_234_567_890_123)),
            "1,234,567.890123"
        );
        assert_eq!(Unit::Wan.plain(Money::from_cents(1)), "0.000001");
        assert_eq!(Unit::Yuan.plain(m), "-1234567.89");
    }
}
