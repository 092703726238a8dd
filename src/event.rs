//! The fifteen event kinds of SPEC §3, and the kinds SPEC §9 adds (so far
//! `planning_policy_set`, `notice_issued`, issue 18's `emergency_requested`,
//! `emergency_approved`, `approval_limit_set` and `transfer_allocated`'s optional
//! `off_plan_reason`, and issue 19's `policy_proposed`, `assessment_decided`,
//! `response_plan_filed`): their typed form, strict parsing from JSON,
//! the field-level validation that needs no state, and normalization.
//!
//! Guarantees:
//! - Parsing rejects unknown fields, JSON numbers for amounts, repeated member names
//!   (I-JSON), and every value outside its SPEC §2 format, naming the field.
//! - A parsed [`Event`] is normalized: schedules sorted by month, absent optional
//!   fields set to their stated default (or `None`, written `null`).
//! - [`Event::to_json`] writes the normalized event; parsing it back gives the same
//!   value (the round trip is tested).
//!
//! Rules that need the log's state (balances, entitlements, registration) live in
//! `state`, not here.

use crate::money::{Money, Ratio};
use crate::values::*;
use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;

/// A month and an amount of a schedule (pre-notified allocations, budgeted needs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleItem {
    /// The month, inside the fiscal year.
    pub month: Month,
    /// The amount of that month, > 0.
    pub amount: Money,
}

/// `county_registered`: opens a county's two accounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountyRegistered {
    /// New county id.
    pub county: CountyId,
    /// Display name, e.g. 绥中县.
    pub name: Text,
    /// Effective date.
    pub registered_on: Date,
    /// Opening treasury balance (default 0.00, 0 allowed).
    #[serde(default, deserialize_with = "or_default::deserialize")]
    pub opening_treasury: Money,
    /// Opening wage-reserve balance (default 0.00, 0 allowed).
    #[serde(default, deserialize_with = "or_default::deserialize")]
    pub opening_wage_reserve: Money,
}

/// `city_funds_received`: money into city.treasury.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CityFundsReceived {
    /// Fund class of the money received.
    pub fund: Fund,
    /// Amount, > 0.
    pub amount: Money,
    /// Effective date.
    pub received_on: Date,
    /// Optional reference text.
    #[serde(default)]
    pub reference: Option<Text>,
}

/// `allocation_notified`: a county's entitlement (指标) for (fund, fiscal_year) grows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationNotified {
    /// County.
    pub county: CountyId,
    /// Fund class.
    pub fund: Fund,
    /// Fiscal year of the entitlement.
    pub fiscal_year: FiscalYear,
    /// Programme name.
    pub program: Text,
    /// Amount, > 0.
    pub amount: Money,
    /// Effective date.
    pub notified_on: Date,
    /// Monthly schedule: required for `pre_notified`, rejected otherwise.
    #[serde(default)]
    pub schedule: Option<Vec<ScheduleItem>>,
}

/// `transfer_allocated` (调拨): city.treasury → county treasury, against an entitlement.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferAllocated {
    /// County.
    pub county: CountyId,
    /// Fund class.
    pub fund: Fund,
    /// Fiscal year of the entitlement drawn on.
    pub fiscal_year: FiscalYear,
    /// Amount, > 0.
    pub amount: Money,
    /// Effective date.
    pub value_date: Date,
    /// The plan month this dispatch carries out, if any.
    #[serde(default)]
    pub plan_month: Option<Month>,
    /// Optional reference text.
    #[serde(default)]
    pub reference: Option<Text>,
    /// Why a transfer beyond its line of the month's issued plan is made (contract
    /// v2): such a transfer is refused without it. Absent (never written `null`) when
    /// not given.
    #[serde(default)]
    #[schemars(with = "Text")]
    pub off_plan_reason: Option<Text>,
}

/// Written by hand so that `off_plan_reason` (contract v2, issue 18) is left out of
/// JSON, and so of the canonical text and every hash, when absent: a transfer recorded
/// before it existed keeps its hash. The storage codec (bincode, not human-readable)
/// always carries it, last.
impl Serialize for TransferAllocated {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let with_reason = !s.is_human_readable() || self.off_plan_reason.is_some();
        let mut st = s.serialize_struct("TransferAllocated", 7 + usize::from(with_reason))?;
        st.serialize_field("county", &self.county)?;
        st.serialize_field("fund", &self.fund)?;
        st.serialize_field("fiscal_year", &self.fiscal_year)?;
        st.serialize_field("amount", &self.amount)?;
        st.serialize_field("value_date", &self.value_date)?;
        st.serialize_field("plan_month", &self.plan_month)?;
        st.serialize_field("reference", &self.reference)?;
        if with_reason {
            st.serialize_field("off_plan_reason", &self.off_plan_reason)?;
        } else {
            st.skip_field("off_plan_reason")?;
        }
        st.end()
    }
}

/// `emergency_dispatched` (应急调度): city.treasury → county treasury.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyDispatched {
    /// County.
    pub county: CountyId,
    /// Amount, > 0.
    pub amount: Money,
    /// Effective date.
    pub value_date: Date,
    /// `grant` or `advance` (an advance counts as a general dispatch of year(value_date)).
    pub mode: EmergencyMode,
    /// Why.
    pub reason: Text,
    /// Who approved it.
    pub approved_by: Text,
}

/// `payroll_deposited`: county treasury → wage reserve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PayrollDeposited {
    /// County.
    pub county: CountyId,
    /// Payroll month funded.
    pub payroll_month: Month,
    /// Amount, > 0.
    pub amount: Money,
    /// Effective date.
    pub deposited_on: Date,
}

/// `wage_bill_declared`: a month's wage bill and payday.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WageBillDeclared {
    /// County.
    pub county: CountyId,
    /// Payroll month.
    pub payroll_month: Month,
    /// Wage bill, > 0.
    pub amount: Money,
    /// Payday, inside payroll_month.
    pub payday: Date,
    /// Effective date.
    pub declared_on: Date,
}

/// `wages_paid`: out of the wage reserve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WagesPaid {
    /// County.
    pub county: CountyId,
    /// Payroll month paid.
    pub payroll_month: Month,
    /// Amount, > 0.
    pub amount: Money,
    /// Effective date.
    pub paid_on: Date,
}

/// `revenue_collected`: into the county treasury.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevenueCollected {
    /// County.
    pub county: CountyId,
    /// Amount, > 0.
    pub amount: Money,
    /// Effective date.
    pub collected_on: Date,
    /// Category (default `other`).
    #[serde(default, deserialize_with = "or_default::deserialize")]
    pub category: RevenueCategory,
}

/// `expenditure_paid`: out of the county treasury.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpenditurePaid {
    /// County.
    pub county: CountyId,
    /// Amount, > 0.
    pub amount: Money,
    /// Effective date.
    pub paid_on: Date,
    /// Category.
    pub category: ExpenditureCategory,
}

/// `balance_reported`: a day-end balance from the treasury system (never rejected for
/// disagreeing; `monitor` lists disagreements).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BalanceReported {
    /// County.
    pub county: CountyId,
    /// Which account.
    pub account: AccountKind,
    /// Effective date (the day the balance is for).
    pub on: Date,
    /// Reported balance (0 allowed).
    pub balance: Money,
}

/// `needs_budgeted`: budgeted three-guarantee and debt needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NeedsBudgeted {
    /// County.
    pub county: CountyId,
    /// Fiscal year.
    pub fiscal_year: FiscalYear,
    /// Category.
    pub category: NeedCategory,
    /// Annual amount, > 0.
    pub amount: Money,
    /// Effective date.
    pub budgeted_on: Date,
    /// Optional monthly schedule.
    #[serde(default)]
    pub schedule: Option<Vec<ScheduleItem>>,
}

/// `risk_lines_set`: guarantee-level thresholds, in months of outflow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskLinesSet {
    /// County, or `null` for the city-wide default.
    #[serde(default)]
    pub county: Option<CountyId>,
    /// Below it: `warning`.
    pub warning_line: Ratio,
    /// Below it: `low`.
    pub alert_line: Ratio,
    /// Above it: `idle`.
    pub idle_line: Ratio,
    /// Effective date.
    pub effective_from: Date,
}

/// `plan_issued`: records a committed plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanIssued {
    /// Plan month.
    pub month: Month,
    /// The log head the plan was computed at.
    pub based_on_seq: u64,
    /// SHA-256 of the plan's canonical JSON.
    pub plan_sha256: Sha256Hex,
    /// Effective date.
    pub issued_on: Date,
}

/// `event_reversed`: cancels a record's effect from `on` onward.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventReversed {
    /// The seq of the record to cancel.
    pub reverses_seq: u64,
    /// Why.
    pub reason: Text,
    /// Effective date of the reversal.
    pub on: Date,
}

/// `planning_policy_set` (SPEC §9, docs/planning-policy-v2.md §1): from
/// `effective_from` on, plans and forecast months whose basis date is on or after it
/// follow `policy`. City-wide, moves no money, and is not reversible: a later setting
/// (the same date with the other policy undoes it exactly) corrects it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanningPolicySet {
    /// `"v1"` or `"v2"`.
    pub policy: PlanningPolicy,
    /// Effective date: the first basis date the policy governs.
    pub effective_from: Date,
}

/// `notice_issued` (SPEC §9, issue 16): the bureau sent county `county` a 提示函
/// (notice letter) about `month`, under document number `doc_number`, warning of
/// `status` at `guarantee_level` (the worst status and the lowest level of the
/// month). Moves no money. Rules: the county exists by `issued_on`; `issued_on` is
/// not before the month begins; one notice per (county, month) unless the earlier
/// one is reversed; `doc_number` is never used twice in a log. Reversible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeIssued {
    /// The county warned.
    pub county: CountyId,
    /// The month the notice is about.
    pub month: Month,
    /// The document number (文号), e.g. `示财库〔2021〕3号`.
    pub doc_number: Text,
    /// The status warned of: `warning` or `low`.
    pub status: NoticeStatus,
    /// The guarantee level warned of (four decimals).
    pub guarantee_level: Ratio,
    /// Effective date: the day the notice was sent.
    pub issued_on: Date,
}

/// `emergency_requested` (contract v2, issue 18): an officer asks for emergency money
/// (应急调度申请) for `county`. Moves no money: the dispatch is made when a second
/// person approves it ([`EmergencyApproved`]). Rules: the county exists by
/// `value_date`; a pending request may be withdrawn with `event_reversed`, an
/// approved one not (reverse its dispatch instead).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyRequested {
    /// County.
    pub county: CountyId,
    /// Amount asked for, > 0.
    pub amount: Money,
    /// Effective date of the dispatch asked for.
    pub value_date: Date,
    /// `grant` or `advance`, as the dispatch will be.
    pub mode: EmergencyMode,
    /// Why.
    pub reason: Text,
}

/// `emergency_approved` (contract v2, issue 18): a user of role `approver` — not the
/// one who requested it — approves the request recorded at `request_seq`. The writer
/// then appends the `emergency_dispatched` itself, right after, with the request's
/// county, amount, value date, mode and reason, and `approved_by` = the approving
/// user's name from the tokens file. Not reversible (reverse the dispatch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyApproved {
    /// The seq of the `emergency_requested` approved.
    pub request_seq: u64,
    /// Effective date of the approval.
    pub approved_on: Date,
}

/// `approval_limit_set` (contract v2, issue 18): from `effective_from` on, an
/// `emergency_dispatched` recorded directly (not through a request and an approval)
/// may move at most `amount` (0 allowed: every emergency dispatch then needs two
/// persons). City-wide, moves no money, not reversible: a later setting replaces it.
/// Without any, there is no limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalLimitSet {
    /// The largest direct dispatch, ≥ 0.
    pub amount: Money,
    /// Effective date.
    pub effective_from: Date,
}

/// `policy_proposed` (SPEC §9, issue 19, 财政可承受能力评估): county `county` proposes
/// to raise a standard of `category` from month `starts` at `monthly_cost` a month.
/// Moves no money; `sanbao assess --proposal SEQ` forecasts its affordability and a
/// scheduler decides it (`assessment_decided`). Rules: the county exists by
/// `proposed_on`; `monthly_cost` > 0; `starts` is not before the month of
/// `proposed_on`. Not reversible (a rejection closes it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyProposed {
    /// The county that proposes.
    pub county: CountyId,
    /// What is proposed, e.g. 提高城乡低保标准.
    pub title: Text,
    /// The category of the standard: `livelihood`.
    pub category: ProposalCategory,
    /// What it adds to the county's monthly need, > 0.
    pub monthly_cost: Money,
    /// The first month it would cost.
    pub starts: Month,
    /// Effective date: the day it was proposed.
    pub proposed_on: Date,
}

/// `assessment_decided` (SPEC §9, issue 19): a scheduler's decision on the proposal
/// recorded as `proposal_seq`. Rules: `proposal_seq` names a `policy_proposed`;
/// `decided_on` is not before its `proposed_on`; one decision per proposal. Moves no
/// money; not reversible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessmentDecided {
    /// The seq of the `policy_proposed` record decided.
    pub proposal_seq: u64,
    /// `approved` or `rejected`.
    pub decision: AssessmentDecision,
    /// Effective date: the day of the decision.
    pub decided_on: Date,
}

/// `response_plan_filed` (SPEC §9, issue 19, 一县一策): county `county` filed its own
/// response plan, in force from `filed_on` through `valid_until`. Moves no money.
/// Rules: the county exists by `filed_on`; `valid_until` ≥ `filed_on`. A later
/// filing stands beside an earlier one (a plan is in force on a day when any filing
/// covers it); not reversible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponsePlanFiled {
    /// The county.
    pub county: CountyId,
    /// Effective date: the day the plan was filed.
    pub filed_on: Date,
    /// The last day the plan is in force.
    pub valid_until: Date,
    /// Its measures, in short.
    pub measures: Text,
    /// Its document reference (文号).
    pub reference: Text,
}

macro_rules! events {
    ($($variant:ident($ty:ident) = $kind:literal),* $(,)?) => {
        /// One normalized event. (The derived serde form is the binary store codec —
        /// externally tagged; JSON goes through [`Event::parse_object`] and
        /// [`Event::to_json`], which use the `kind` member.)
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Event {
            $(
                #[doc = concat!("`", $kind, "`")]
                $variant($ty),
            )*
        }

        /// Every event kind name, in SPEC §3 order.
        pub const KINDS: &[&str] = &[$($kind),*];

        impl Event {
            /// The `kind` name.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Event::$variant(_) => $kind,)*
                }
            }

            fn parse_body(kind: &str, body: Value) -> Result<Event, EventError> {
                match kind {
                    $($kind => de_fields::<$ty>(body).map(Event::$variant),)*
                    other => Err(EventError::field(
                        "kind",
                        format!("unknown event kind {other:?}; expected one of {}", KINDS.join(", ")),
                    )),
                }
            }

            /// Kind `kind`'s fields read straight from an event object's text, with
            /// its `idempotency_key` member (absent: `None`); `None` on any error.
            fn body_from_text(kind: &str, text: &str) -> Option<(Event, Option<Option<String>>)> {
                match kind {
                    $($kind => fields_from_text::<$ty>($kind, text).map(|(b, k)| (Event::$variant(b), k)),)*
                    _ => None,
                }
            }

            fn body_json(&self) -> Value {
                match self {
                    $(Event::$variant(e) => serde_json::to_value(e),)*
                }
                .expect("events serialize to JSON")
            }

            /// Appends the canonical JSON of the normalized event, with its `kind`,
            /// straight from the typed value (equal to the canonical form of
            /// [`Event::to_json`]).
            pub fn append_canonical(&self, out: &mut Vec<u8>) {
                match self {
                    $(Event::$variant(e) => crate::canonical::append_canonical(out, e, &[("kind", $kind)]),)*
                }
                .expect("events canonicalize")
            }

            /// JSON Schemas of every kind (with its `kind` member), by kind name.
            pub fn schemas() -> Vec<(&'static str, schemars::schema::RootSchema)> {
                vec![$(($kind, kind_schema::<$ty>($kind)),)*]
            }
        }
    };
}

events! {
    CountyRegistered(CountyRegistered) = "county_registered",
    CityFundsReceived(CityFundsReceived) = "city_funds_received",
    AllocationNotified(AllocationNotified) = "allocation_notified",
    TransferAllocated(TransferAllocated) = "transfer_allocated",
    EmergencyDispatched(EmergencyDispatched) = "emergency_dispatched",
    PayrollDeposited(PayrollDeposited) = "payroll_deposited",
    WageBillDeclared(WageBillDeclared) = "wage_bill_declared",
    WagesPaid(WagesPaid) = "wages_paid",
    RevenueCollected(RevenueCollected) = "revenue_collected",
    ExpenditurePaid(ExpenditurePaid) = "expenditure_paid",
    BalanceReported(BalanceReported) = "balance_reported",
    NeedsBudgeted(NeedsBudgeted) = "needs_budgeted",
    RiskLinesSet(RiskLinesSet) = "risk_lines_set",
    PlanIssued(PlanIssued) = "plan_issued",
    EventReversed(EventReversed) = "event_reversed",
    // SPEC §9 kinds go after the v1 kinds: the store codec numbers variants in order.
    PlanningPolicySet(PlanningPolicySet) = "planning_policy_set",
    NoticeIssued(NoticeIssued) = "notice_issued",
    EmergencyRequested(EmergencyRequested) = "emergency_requested",
    EmergencyApproved(EmergencyApproved) = "emergency_approved",
    ApprovalLimitSet(ApprovalLimitSet) = "approval_limit_set",
    PolicyProposed(PolicyProposed) = "policy_proposed",
    AssessmentDecided(AssessmentDecided) = "assessment_decided",
    ResponsePlanFiled(ResponsePlanFiled) = "response_plan_filed",
}

/// The storage codec of events as records of formats 1 and 2 hold them (logs written
/// before contract v2's `off_plan_reason` and `recorded_by`): the same variants in the
/// same order as [`Event`] had then, with `transfer_allocated` of seven fields.
///
/// Guarantees: every event stored in those formats decodes through [`Legacy`] into
/// the [`Event`] it was (`off_plan_reason` absent), and every [`Event`] without an
/// `off_plan_reason` or a kind added since converts back ([`Legacy::from_event`]), so
/// old stored forms can still be written for compatibility tests. These types must
/// never change: they describe bytes already on disks.
pub mod legacy {
    use super::*;

    /// `transfer_allocated` as formats 1 and 2 stored it.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TransferAllocatedV1 {
        county: CountyId,
        fund: Fund,
        fiscal_year: FiscalYear,
        amount: Money,
        value_date: Date,
        plan_month: Option<Month>,
        reference: Option<Text>,
    }

    /// An event as formats 1 and 2 stored it (the variants of `Event` before
    /// contract v2's third kind, in their order).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[allow(missing_docs)]
    pub enum Legacy {
        CountyRegistered(CountyRegistered),
        CityFundsReceived(CityFundsReceived),
        AllocationNotified(AllocationNotified),
        TransferAllocated(TransferAllocatedV1),
        EmergencyDispatched(EmergencyDispatched),
        PayrollDeposited(PayrollDeposited),
        WageBillDeclared(WageBillDeclared),
        WagesPaid(WagesPaid),
        RevenueCollected(RevenueCollected),
        ExpenditurePaid(ExpenditurePaid),
        BalanceReported(BalanceReported),
        NeedsBudgeted(NeedsBudgeted),
        RiskLinesSet(RiskLinesSet),
        PlanIssued(PlanIssued),
        EventReversed(EventReversed),
        PlanningPolicySet(PlanningPolicySet),
        NoticeIssued(NoticeIssued),
    }

    impl From<Legacy> for Event {
        fn from(l: Legacy) -> Event {
            match l {
                Legacy::CountyRegistered(e) => Event::CountyRegistered(e),
                Legacy::CityFundsReceived(e) => Event::CityFundsReceived(e),
                Legacy::AllocationNotified(e) => Event::AllocationNotified(e),
                Legacy::TransferAllocated(e) => Event::TransferAllocated(TransferAllocated {
                    county: e.county,
                    fund: e.fund,
                    fiscal_year: e.fiscal_year,
                    amount: e.amount,
                    value_date: e.value_date,
                    plan_month: e.plan_month,
                    reference: e.reference,
                    off_plan_reason: None,
                }),
                Legacy::EmergencyDispatched(e) => Event::EmergencyDispatched(e),
                Legacy::PayrollDeposited(e) => Event::PayrollDeposited(e),
                Legacy::WageBillDeclared(e) => Event::WageBillDeclared(e),
                Legacy::WagesPaid(e) => Event::WagesPaid(e),
                Legacy::RevenueCollected(e) => Event::RevenueCollected(e),
                Legacy::ExpenditurePaid(e) => Event::ExpenditurePaid(e),
                Legacy::BalanceReported(e) => Event::BalanceReported(e),
                Legacy::NeedsBudgeted(e) => Event::NeedsBudgeted(e),
                Legacy::RiskLinesSet(e) => Event::RiskLinesSet(e),
                Legacy::PlanIssued(e) => Event::PlanIssued(e),
                Legacy::EventReversed(e) => Event::EventReversed(e),
                Legacy::PlanningPolicySet(e) => Event::PlanningPolicySet(e),
                Legacy::NoticeIssued(e) => Event::NoticeIssued(e),
            }
        }
    }

    impl Legacy {
        /// The old stored form of `e`, if it has one (none for an `off_plan_reason` or
        /// a kind added since).
        pub fn from_event(e: &Event) -> Option<Legacy> {
            Some(match e.clone() {
                Event::CountyRegistered(e) => Legacy::CountyRegistered(e),
                Event::CityFundsReceived(e) => Legacy::CityFundsReceived(e),
                Event::AllocationNotified(e) => Legacy::AllocationNotified(e),
                Event::TransferAllocated(e) => {
                    if e.off_plan_reason.is_some() {
                        return None;
                    }
                    Legacy::TransferAllocated(TransferAllocatedV1 {
                        county: e.county,
                        fund: e.fund,
                        fiscal_year: e.fiscal_year,
                        amount: e.amount,
                        value_date: e.value_date,
                        plan_month: e.plan_month,
                        reference: e.reference,
                    })
                }
                Event::EmergencyDispatched(e) => Legacy::EmergencyDispatched(e),
                Event::PayrollDeposited(e) => Legacy::PayrollDeposited(e),
                Event::WageBillDeclared(e) => Legacy::WageBillDeclared(e),
                Event::WagesPaid(e) => Legacy::WagesPaid(e),
                Event::RevenueCollected(e) => Legacy::RevenueCollected(e),
                Event::ExpenditurePaid(e) => Legacy::ExpenditurePaid(e),
                Event::BalanceReported(e) => Legacy::BalanceReported(e),
                Event::NeedsBudgeted(e) => Legacy::NeedsBudgeted(e),
                Event::RiskLinesSet(e) => Legacy::RiskLinesSet(e),
                Event::PlanIssued(e) => Legacy::PlanIssued(e),
                Event::EventReversed(e) => Legacy::EventReversed(e),
                Event::PlanningPolicySet(e) => Legacy::PlanningPolicySet(e),
                Event::NoticeIssued(e) => Legacy::NoticeIssued(e),
                #[allow(unreachable_patterns)]
                _ => return None,
            })
        }
    }
}

/// A field naming a record by its seq: 1 or more.
fn record_seq(field: &str, seq: u64) -> Result<(), EventError> {
    if seq == 0 {
        return Err(EventError::field(field, "must be a record seq, 1 or more")
            .zh("须为记录号（1 或以上）"));
    }
    Ok(())
}

/// The JSON Schema of one kind: the struct's schema plus a required constant `kind`
/// and the optional top-level `idempotency_key`.
fn kind_schema<T: JsonSchema>(kind: &str) -> schemars::schema::RootSchema {
    let settings = schemars::gen::SchemaSettings::draft2019_09();
    let mut root = settings.into_generator().into_root_schema_for::<T>();
    let obj = root.schema.object();
    obj.properties.insert(
        "kind".into(),
        serde_json::from_value(serde_json::json!({"const": kind})).expect("schema"),
    );
    obj.properties.insert(
        "idempotency_key".into(),
        serde_json::from_value(serde_json::json!({
            "type": ["string", "null"], "minLength": 1, "maxLength": 128, "pattern": "^[\\x20-\\x7e]+$"
        }))
        .expect("schema"),
    );
    obj.required.insert("kind".into());
    root.schema.metadata().title = Some(kind.to_string());
    root
}

/// Why an event was rejected: the field (when one is to blame) and the reason, in
/// words an officer understands. The batch index is added by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventError {
    /// Field name or path (`schedule[2].amount`), if a field is to blame.
    pub field: Option<String>,
    /// What is wrong and, where it helps, what to do.
    pub reason: String,
    /// The same reason in Chinese, for a person who reads Chinese (the CLI's `error:`
    /// line under `--lang zh`); the HTTP body keeps `reason`.
    pub zh: Option<String>,
}

impl EventError {
    /// An error about one field.
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> EventError {
        EventError {
            field: Some(field.into()),
            reason: reason.into(),
            zh: None,
        }
    }

    /// An error about the event as a whole.
    pub fn whole(reason: impl Into<String>) -> EventError {
        EventError {
            field: None,
            reason: reason.into(),
            zh: None,
        }
    }

    /// The same error with its reason in Chinese.
    pub fn zh(mut self, reason: impl Into<String>) -> EventError {
        self.zh = Some(reason.into());
        self
    }

    /// The error for a person who reads Chinese: `字段 F：原因` (the English reason
    /// where no Chinese one was written).
    pub fn zh_line(&self) -> String {
        let reason = self.zh.as_deref().unwrap_or(&self.reason);
        match &self.field {
            Some(field) => format!("字段 {field}：{reason}"),
            None => reason.to_string(),
        }
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field {field}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// Deserializes a kind's fields, turning serde's message into a field-named error.
fn de_fields<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, EventError> {
    serde_path_to_error::deserialize::<_, T>(body).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.inner().to_string();
        // serde names missing and unknown fields inside backticks at the parent path.
        let named = |prefix: &str| {
            msg.strip_prefix(prefix)
                .and_then(|rest| rest.split('`').next())
                .map(str::to_string)
        };
        let join = |name: String| {
            if path == "." {
                name
            } else {
                format!("{path}.{name}")
            }
        };
        if let Some(name) = named("missing field `") {
            EventError::field(join(name), "is required").zh("必填，未填写")
        } else if msg.starts_with("unknown field `") {
            // serde_path_to_error already ends the path with the unknown member.
            let zh = format!("不是该类事件的字段（{msg}）");
            EventError::field(path, format!("is not a field of this kind ({msg})")).zh(zh)
        } else if let Some(rest) = msg.strip_prefix("invalid type: null") {
            let _ = rest;
            EventError::field(path, "is required (null given)").zh("必填，不能为 null")
        } else {
            let zh = format!("格式有误：{msg}");
            EventError::field(path, msg).zh(zh)
        }
    })
}

/// The value of the first `"kind"` member name in `text` followed by a colon and a
/// string (JSON whitespace allowed around the colon), up to its closing quote or its
/// first backslash, if any: a guess at the event's kind, which [`fields_from_text`]
/// checks (a wrong guess only sends the line the full way).
fn guess_kind(text: &str) -> Option<&str> {
    const WS: [char; 4] = [' ', '\t', '\n', '\r'];
    let mut from = 0;
    while let Some(i) = text[from..].find("\"kind\"") {
        from += i + 6;
        let rest = text[from..].trim_start_matches(WS);
        if let Some(rest) = rest.strip_prefix(':') {
            if let Some(value) = rest.trim_start_matches(WS).strip_prefix('"') {
                return value.find(['"', '\\']).map(|end| &value[..end]);
            }
        }
    }
    None
}

/// Reads one JSON object's text as kind `T`'s fields, with the top-level `kind` (which
/// must be `kind`) and `idempotency_key` members set aside; the second value is
/// `idempotency_key`'s (`None` when absent). `None` on any error, including a missing,
/// other or repeated `kind`, a repeated `idempotency_key` and anything after the
/// object.
fn fields_from_text<'de, T: Deserialize<'de>>(
    kind: &str,
    text: &'de str,
) -> Option<(T, Option<Option<String>>)> {
    use serde::de::value::MapAccessDeserializer;
    use std::marker::PhantomData;

    /// The object's members without `kind` and `idempotency_key`, which it keeps.
    struct Aside<'k, A> {
        map: A,
        expected: &'k str,
        kind: bool,
        key: Option<Option<String>>,
    }
    /// What a member name turned out to be: set aside (the seed is handed back for
    /// the next name) or one of `T`'s (the seed's answer).
    enum Name<S, V> {
        Kind(S),
        Key(S),
        Field(V),
    }
    struct NameSeed<S>(S);
    impl<'de, S: de::DeserializeSeed<'de>> de::DeserializeSeed<'de> for NameSeed<S> {
        type Value = Name<S, S::Value>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }
    impl<'de, S: de::DeserializeSeed<'de>> Visitor<'de> for NameSeed<S> {
        type Value = Name<S, S::Value>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a member name")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            use serde::de::IntoDeserializer;
            match v {
                "kind" => Ok(Name::Kind(self.0)),
                "idempotency_key" => Ok(Name::Key(self.0)),
                _ => self.0.deserialize(v.into_deserializer()).map(Name::Field),
            }
        }
    }
    /// Whether a string is the kind expected.
    struct Is<'k>(&'k str);
    impl<'de> de::DeserializeSeed<'de> for Is<'_> {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_str(self)
        }
    }
    impl<'de> Visitor<'de> for Is<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a kind name")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            Ok(v == self.0)
        }
    }
    impl<'de, A: MapAccess<'de>> MapAccess<'de> for Aside<'_, A> {
        type Error = A::Error;
        fn next_key_seed<K: de::DeserializeSeed<'de>>(
            &mut self,
            mut seed: K,
        ) -> Result<Option<K::Value>, A::Error> {
            loop {
                match self.map.next_key_seed(NameSeed(seed))? {
                    None => return Ok(None),
                    Some(Name::Field(v)) => return Ok(Some(v)),
                    Some(Name::Kind(s)) => {
                        if std::mem::replace(&mut self.kind, true) {
                            return Err(de::Error::duplicate_field("kind"));
                        }
                        if !self.map.next_value_seed(Is(self.expected))? {
                            return Err(de::Error::custom("another kind"));
                        }
                        seed = s;
                    }
                    Some(Name::Key(s)) => {
                        if self.key.is_some() {
                            return Err(de::Error::duplicate_field("idempotency_key"));
                        }
                        self.key = Some(self.map.next_value::<Option<String>>()?);
                        seed = s;
                    }
                }
            }
        }
        fn next_value_seed<V: de::DeserializeSeed<'de>>(
            &mut self,
            seed: V,
        ) -> Result<V::Value, A::Error> {
            self.map.next_value_seed(seed)
        }
    }
    struct Object<'k, T>(&'k str, PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<'_, T> {
        type Value = (T, Option<Option<String>>);
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an event object")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let mut aside = Aside {
                map,
                expected: self.0,
                kind: false,
                key: None,
            };
            let body = T::deserialize(MapAccessDeserializer::new(&mut aside))?;
            if !aside.kind {
                return Err(de::Error::missing_field("kind"));
            }
            Ok((body, aside.key))
        }
    }
    let mut d = serde_json::Deserializer::from_str(text);
    let out = d.deserialize_map(Object(kind, PhantomData)).ok()?;
    d.end().ok()?;
    Some(out)
}

/// An event as read from input: the event and its own idempotency key, if it had one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputEvent {
    /// The normalized event.
    pub event: Event,
    /// The event's `idempotency_key` member, if present and not null.
    pub idempotency_key: Option<String>,
}

/// Validates an idempotency key: 1 to 128 printable ASCII characters.
pub fn check_idempotency_key(k: &str) -> Result<(), String> {
    if k.is_empty() || k.len() > 128 || !k.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err("must be 1 to 128 printable ASCII characters".into());
    }
    Ok(())
}

impl Event {
    /// Parses one event object (with its optional top-level `idempotency_key`),
    /// validates every field and normalizes it.
    pub fn parse_object(v: Value) -> Result<InputEvent, EventError> {
        let Value::Object(mut map) = v else {
            return Err(
                EventError::whole("an event must be a JSON object with a \"kind\"")
                    .zh("事件须为带 \"kind\" 的 JSON 对象"),
            );
        };
        let kind = match map.remove("kind") {
            Some(Value::String(k)) => k,
            Some(_) => {
                return Err(
                    EventError::field("kind", "must be a string naming the event kind")
                        .zh("须为事件类型名称（字符串）"),
                )
            }
            None => return Err(EventError::field("kind", "is required").zh("必填，未填写")),
        };
        let idempotency_key = match map.remove("idempotency_key") {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => {
                check_idempotency_key(&k).map_err(|r| EventError::field("idempotency_key", r))?;
                Some(k)
            }
            Some(_) => {
                return Err(EventError::field(
                    "idempotency_key",
                    "must be a string or null",
                ))
            }
        };
        let mut event = Event::parse_body(&kind, Value::Object(map))?;
        event.validate_and_normalize()?;
        Ok(InputEvent {
            event,
            idempotency_key,
        })
    }

    /// The fast path of [`Event::parse_object`] for one object given as text (a line
    /// of `sanbao import`): the kind's fields are read straight from the text into
    /// their typed form, without building a JSON value first.
    ///
    /// Guarantee: `Some(e)` only when `read_values(text)` gives exactly one object
    /// and `parse_object` of it gives `Ok(e)` — the same field types and `Deserialize`
    /// impls read the same members (repeated member names are refused here by the
    /// derived struct visitors, and a repeated `kind` or `idempotency_key` by the
    /// reader that sets them aside; unknown ones by `deny_unknown_fields`), and the same
    /// checks and normalization follow. `None` on anything else, including every
    /// input `parse_object` refuses: the caller then takes the full path, which names
    /// the error. (Tested against the full path on every kind and on damaged lines.)
    pub fn parse_text(text: &str) -> Option<InputEvent> {
        /// Only the top-level `kind` (other members skipped unread; a repeated
        /// `kind` is an error, as is a `kind` with escapes — rare, left to the full path).
        #[derive(Deserialize)]
        struct Peek<'a> {
            #[serde(borrow)]
            kind: &'a str,
        }
        // The kind is usually found without reading the line twice, by its member
        // name. The guess can be wrong (the bytes can also end a name holding an
        // escaped quote, or sit in a nested object): the fields' reader checks the
        // top-level `kind` against it, and a wrong guess only sends the line the
        // full way.
        let kind = match guess_kind(text) {
            Some(kind) => kind,
            None => serde_json::from_str::<Peek>(text).ok()?.kind,
        };
        let (mut event, idempotency_key) = Event::body_from_text(kind, text)?;
        let idempotency_key = match idempotency_key {
            None | Some(None) => None,
            Some(Some(k)) => {
                check_idempotency_key(&k).ok()?;
                Some(k)
            }
        };
        event.validate_and_normalize().ok()?;
        Some(InputEvent {
            event,
            idempotency_key,
        })
    }

    /// The normalized event as a JSON object, with its `kind`.
    pub fn to_json(&self) -> Value {
        let mut v = self.body_json();
        if let Value::Object(m) = &mut v {
            m.insert("kind".into(), Value::String(self.kind().into()));
        }
        v
    }

    /// The business (effective) date of the event: what `--as-of` filters on.
    pub fn effective_date(&self) -> Date {
        match self {
            Event::CountyRegistered(e) => e.registered_on,
            Event::CityFundsReceived(e) => e.received_on,
            Event::AllocationNotified(e) => e.notified_on,
            Event::TransferAllocated(e) => e.value_date,
            Event::EmergencyDispatched(e) => e.value_date,
            Event::PayrollDeposited(e) => e.deposited_on,
            Event::WageBillDeclared(e) => e.declared_on,
            Event::WagesPaid(e) => e.paid_on,
            Event::RevenueCollected(e) => e.collected_on,
            Event::ExpenditurePaid(e) => e.paid_on,
            Event::BalanceReported(e) => e.on,
            Event::NeedsBudgeted(e) => e.budgeted_on,
            Event::RiskLinesSet(e) => e.effective_from,
            Event::PlanIssued(e) => e.issued_on,
            Event::EventReversed(e) => e.on,
            Event::PlanningPolicySet(e) => e.effective_from,
            Event::NoticeIssued(e) => e.issued_on,
            Event::EmergencyRequested(e) => e.value_date,
            Event::EmergencyApproved(e) => e.approved_on,
            Event::ApprovalLimitSet(e) => e.effective_from,
            Event::PolicyProposed(e) => e.proposed_on,
            Event::AssessmentDecided(e) => e.decided_on,
            Event::ResponsePlanFiled(e) => e.filed_on,
        }
    }

    /// The county the event names, if any.
    pub fn county(&self) -> Option<&CountyId> {
        match self {
            Event::CountyRegistered(e) => Some(&e.county),
            Event::AllocationNotified(e) => Some(&e.county),
            Event::TransferAllocated(e) => Some(&e.county),
            Event::EmergencyDispatched(e) => Some(&e.county),
            Event::PayrollDeposited(e) => Some(&e.county),
            Event::WageBillDeclared(e) => Some(&e.county),
            Event::WagesPaid(e) => Some(&e.county),
            Event::RevenueCollected(e) => Some(&e.county),
            Event::ExpenditurePaid(e) => Some(&e.county),
            Event::BalanceReported(e) => Some(&e.county),
            Event::NeedsBudgeted(e) => Some(&e.county),
            Event::RiskLinesSet(e) => e.county.as_ref(),
            Event::NoticeIssued(e) => Some(&e.county),
            Event::EmergencyRequested(e) => Some(&e.county),
            Event::PolicyProposed(e) => Some(&e.county),
            Event::ResponsePlanFiled(e) => Some(&e.county),
            Event::CityFundsReceived(_)
            | Event::PlanIssued(_)
            | Event::EventReversed(_)
            | Event::PlanningPolicySet(_)
            | Event::EmergencyApproved(_)
            | Event::ApprovalLimitSet(_)
            | Event::AssessmentDecided(_) => None,
        }
    }

    /// The amount the event moves or states, if it has one: its `amount` (the balance
    /// of a report), for a person's tables; none for a registration, whose two opening
    /// balances are not one amount.
    pub fn amount(&self) -> Option<Money> {
        match self {
            Event::CityFundsReceived(e) => Some(e.amount),
            Event::AllocationNotified(e) => Some(e.amount),
            Event::TransferAllocated(e) => Some(e.amount),
            Event::EmergencyDispatched(e) => Some(e.amount),
            Event::PayrollDeposited(e) => Some(e.amount),
            Event::WageBillDeclared(e) => Some(e.amount),
            Event::WagesPaid(e) => Some(e.amount),
            Event::RevenueCollected(e) => Some(e.amount),
            Event::ExpenditurePaid(e) => Some(e.amount),
            Event::BalanceReported(e) => Some(e.balance),
            Event::NeedsBudgeted(e) => Some(e.amount),
            Event::EmergencyRequested(e) => Some(e.amount),
            Event::ApprovalLimitSet(e) => Some(e.amount),
            Event::PolicyProposed(e) => Some(e.monthly_cost),
            Event::EmergencyApproved(_)
            | Event::CountyRegistered(_)
            | Event::RiskLinesSet(_)
            | Event::PlanIssued(_)
            | Event::EventReversed(_)
            | Event::PlanningPolicySet(_)
            | Event::NoticeIssued(_)
            | Event::AssessmentDecided(_)
            | Event::ResponsePlanFiled(_) => None,
        }
    }

    /// True for the kinds an `event_reversed` may target (SPEC §3).
    pub fn is_reversible(&self) -> bool {
        matches!(
            self,
            Event::CityFundsReceived(_)
                | Event::AllocationNotified(_)
                | Event::TransferAllocated(_)
                | Event::EmergencyDispatched(_)
                | Event::PayrollDeposited(_)
                | Event::WagesPaid(_)
                | Event::RevenueCollected(_)
                | Event::ExpenditurePaid(_)
                | Event::NeedsBudgeted(_)
                | Event::NoticeIssued(_)
                | Event::EmergencyRequested(_)
        )
    }

    /// Field rules that need no state (SPEC §2–§3), and normalization.
    fn validate_and_normalize(&mut self) -> Result<(), EventError> {
        fn positive(field: &str, m: Money) -> Result<(), EventError> {
            if m.is_positive() {
                Ok(())
            } else {
                Err(EventError::field(field, "must be greater than 0").zh("须大于 0"))
            }
        }
        match self {
            Event::CountyRegistered(_) | Event::BalanceReported(_) => {}
            Event::CityFundsReceived(e) => positive("amount", e.amount)?,
            Event::AllocationNotified(e) => {
                positive("amount", e.amount)?;
                match (e.fund, &mut e.schedule) {
                    (Fund::PreNotified, None) => {
                        return Err(EventError::field(
                            "schedule",
                            "is required for a pre_notified allocation: a list of {\"month\",\"amount\"}",
                        )
                        .zh("提前告知专项须附分月计划：{\"month\",\"amount\"} 列表"))
                    }
                    (Fund::PreNotified, Some(s)) => normalize_schedule(s, e.fiscal_year, e.amount)?,
                    (f, Some(_)) => {
                        return Err(EventError::field(
                            "schedule",
                            format!("is only allowed for pre_notified allocations, not {}", f.as_str()),
                        )
                        .zh(format!("只有提前告知专项可附分月计划，{}不可", crate::lang::Term::word(&f, crate::lang::Lang::Zh))))
                    }
                    (_, None) => {}
                }
                if e.fund == Fund::InExecution && e.notified_on.year() != e.fiscal_year.get() {
                    return Err(EventError::field(
                        "notified_on",
                        format!(
                            "an in_execution allocation must be notified inside its fiscal year {}",
                            e.fiscal_year
                        ),
                    )
                    .zh(format!(
                        "执行中下达补助须在其所属年度（{}年）内下达",
                        e.fiscal_year
                    )));
                }
            }
            Event::TransferAllocated(e) => positive("amount", e.amount)?,
            Event::EmergencyDispatched(e) => positive("amount", e.amount)?,
            Event::EmergencyRequested(e) => positive("amount", e.amount)?,
            Event::EmergencyApproved(e) => {
                record_seq("request_seq", e.request_seq)?;
            }
            Event::ApprovalLimitSet(e) => {
                if e.amount.is_negative() {
                    return Err(EventError::field("amount", "must be 0 or more").zh("不得为负"));
                }
            }
            Event::PayrollDeposited(e) => positive("amount", e.amount)?,
            Event::WageBillDeclared(e) => {
                positive("amount", e.amount)?;
                if e.payday.month() != e.payroll_month {
                    return Err(EventError::field(
                        "payday",
                        format!("must fall inside payroll_month {}", e.payroll_month),
                    )
                    .zh(format!("发薪日须在工资月份 {} 之内", e.payroll_month)));
                }
            }
            Event::WagesPaid(e) => positive("amount", e.amount)?,
            Event::RevenueCollected(e) => positive("amount", e.amount)?,
            Event::ExpenditurePaid(e) => positive("amount", e.amount)?,
            Event::NeedsBudgeted(e) => {
                positive("amount", e.amount)?;
                if let Some(s) = &mut e.schedule {
                    normalize_schedule(s, e.fiscal_year, e.amount)?;
                }
            }
            Event::RiskLinesSet(e) => {
                if e.warning_line.units() <= 0 {
                    return Err(
                        EventError::field("warning_line", "must be greater than 0").zh("须大于 0")
                    );
                }
                if e.alert_line <= e.warning_line {
                    return Err(EventError::field(
                        "alert_line",
                        "must be greater than warning_line",
                    )
                    .zh("关注线须高于预警线"));
                }
                if e.idle_line <= e.alert_line {
                    return Err(
                        EventError::field("idle_line", "must be greater than alert_line")
                            .zh("闲置线须高于关注线"),
                    );
                }
            }
            Event::PlanIssued(_) | Event::PlanningPolicySet(_) => {}
            Event::NoticeIssued(e) => {
                if e.issued_on < e.month.first_day() {
                    return Err(EventError::field(
                        "issued_on",
                        format!(
                            "{} is before the month {} the notice is about begins",
                            e.issued_on, e.month
                        ),
                    )
                    .zh(format!(
                        "发文日期 {} 早于所提示的月份 {}",
                        e.issued_on, e.month
                    )));
                }
            }
            Event::PolicyProposed(e) => {
                positive("monthly_cost", e.monthly_cost)?;
                if e.starts < e.proposed_on.month() {
                    return Err(EventError::field(
                        "starts",
                        format!(
                            "{} is before the month of proposed_on {}: a proposal cannot start in the past",
                            e.starts, e.proposed_on
                        ),
                    )
                    .zh(format!(
                        "实施月份 {} 早于提出日期 {} 所在月份：拟出台政策不能追溯实施",
                        e.starts, e.proposed_on
                    )));
                }
            }
            Event::AssessmentDecided(e) => {
                record_seq("proposal_seq", e.proposal_seq)?;
            }
            Event::ResponsePlanFiled(e) => {
                if e.valid_until < e.filed_on {
                    return Err(EventError::field(
                        "valid_until",
                        format!("{} is before filed_on {}", e.valid_until, e.filed_on),
                    )
                    .zh(format!(
                        "有效期截止日 {} 早于报送日期 {}",
                        e.valid_until, e.filed_on
                    )));
                }
            }
            Event::EventReversed(e) => {
                record_seq("reverses_seq", e.reverses_seq)?;
            }
        }
        Ok(())
    }
}

/// Checks a schedule (non-empty, months inside the fiscal year and distinct, amounts
/// > 0 summing exactly to `total`) and sorts it by month.
fn normalize_schedule(
    s: &mut [ScheduleItem],
    fy: FiscalYear,
    total: Money,
) -> Result<(), EventError> {
    if s.is_empty() {
        return Err(
            EventError::field("schedule", "must list at least one month").zh("至少列出一个月"),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, item) in s.iter().enumerate() {
        if item.month.year() != fy.get() {
            return Err(EventError::field(
                format!("schedule[{i}].month"),
                format!("{} is outside fiscal year {fy}", item.month),
            )
            .zh(format!("{} 不在 {fy} 年度内", item.month)));
        }
        if !seen.insert(item.month) {
            return Err(EventError::field(
                format!("schedule[{i}].month"),
                format!("{} appears twice", item.month),
            )
            .zh(format!("{} 重复出现", item.month)));
        }
        if !item.amount.is_positive() {
            return Err(EventError::field(
                format!("schedule[{i}].amount"),
                "must be greater than 0",
            )
            .zh("须大于 0"));
        }
    }
    let sum: Money = s.iter().map(|i| i.amount).sum();
    if sum != total {
        return Err(EventError::field(
            "schedule",
            format!("amounts add up to {sum}, but amount is {total}: they must be equal"),
        )
        .zh(format!("分月金额合计 {sum}，与总额 {total} 不等")));
    }
    s.sort_by_key(|i| i.month);
    Ok(())
}

/// A JSON value read with I-JSON checks: a repeated member name in any object is an
/// error (serde_json alone would keep the last one silently).
pub struct IJson(pub Value);

impl<'de> Deserialize<'de> for IJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IJson, D::Error> {
        d.deserialize_any(IJsonVisitor).map(IJson)
    }
}

struct IJsonVisitor;

impl<'de> Visitor<'de> for IJsonVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(IJson(x)) = a.next_element()? {
            v.push(x);
        }
        Ok(Value::Array(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut m = Map::new();
        while let Some(k) = a.next_key::<String>()? {
            let IJson(v) = a.next_value()?;
            if m.contains_key(&k) {
                return Err(de::Error::custom(format!(
                    "member {k:?} appears twice in one object"
                )));
            }
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    }
}

/// How an input text was laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputShape {
    /// One JSON object.
    Single,
    /// One JSON array (a batch).
    Array,
    /// Several JSON values one after another (JSON Lines; a batch).
    Lines,
}

/// Reads input text (one event object, a JSON array, or JSON Lines) into raw values.
/// Errors (not JSON, repeated member names) are whole-input errors.
pub fn read_values(text: &str) -> Result<(InputShape, Vec<Value>), EventError> {
    let mut out = Vec::new();
    let stream = serde_json::Deserializer::from_str(text).into_iter::<IJson>();
    for (i, item) in stream.enumerate() {
        match item {
            Ok(IJson(v)) => out.push(v),
            Err(e) => {
                return Err(EventError::whole(format!(
                    "input is not valid JSON (value {i}, line {}, column {}): {e}",
                    e.line(),
                    e.column()
                )))
            }
        }
    }
    match out.len() {
        0 => Err(EventError::whole("input holds no event")),
        1 => match out.pop().expect("one") {
            Value::Array(items) => {
                if items.is_empty() {
                    Err(EventError::whole("the batch is empty"))
                } else {
                    Ok((InputShape::Array, items))
                }
            }
            v => Ok((InputShape::Single, vec![v])),
        },
        _ => Ok((InputShape::Lines, out)),
    }
}

/// Parses input text into events, with the 0-based index of the first bad one.
pub fn parse_input(
    text: &str,
) -> Result<(InputShape, Vec<InputEvent>), (Option<usize>, EventError)> {
    let (shape, values) = read_values(text).map_err(|e| (None, e))?;
    let mut events = Vec::with_capacity(values.len());
    for (i, v) in values.into_iter().enumerate() {
        events.push(Event::parse_object(v).map_err(|e| (Some(i), e))?);
    }
    Ok((shape, events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Event, EventError> {
        Event::parse_object(v).map(|i| i.event)
    }

    #[test]
    fn normalizes_defaults_and_amounts() {
        let e = parse(json!({"kind":"county_registered","county":"suizhong","name":"绥中县","registered_on":"2021-01-01","opening_treasury":"007.5","opening_wage_reserve":null})).unwrap();
        assert_eq!(
            e.to_json(),
            json!({"kind":"county_registered","county":"suizhong","name":"绥中县","registered_on":"2021-01-01","opening_treasury":"7.50","opening_wage_reserve":"0.00"})
        );
        let r = parse(json!({"kind":"revenue_collected","county":"a","amount":"1","collected_on":"2021-01-02"})).unwrap();
        assert_eq!(r.to_json()["category"], "other");
        let c = parse(json!({"kind":"city_funds_received","fund":"general","amount":"5","received_on":"2021-01-02"})).unwrap();
        assert_eq!(c.to_json()["reference"], Value::Null);
    }

    #[test]
    fn rejects_numbers_unknown_fields_and_nulls_naming_the_field() {
        let err = parse(json!({"kind":"city_funds_received","fund":"general","amount":5,"received_on":"2021-01-02"})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("amount"));
        let err = parse(json!({"kind":"city_funds_received","fund":"general","amount":"5","received_on":"2021-01-02","extra":1})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("extra"));
        let err = parse(json!({"kind":"city_funds_received","fund":"general","amount":null,"received_on":"2021-01-02"})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("amount"));
        let err = parse(
            json!({"kind":"city_funds_received","fund":"general","received_on":"2021-01-02"}),
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("amount"));
        let err = parse(json!({"kind":"city_funds_received","fund":"general","amount":"0","received_on":"2021-01-02"})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("amount"));
        let err = parse(json!({"kind":"nope"})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("kind"));
    }

    #[test]
    fn schedules_are_checked_and_sorted() {
        let base = |s: Value| json!({"kind":"allocation_notified","county":"a","fund":"pre_notified","fiscal_year":2021,"program":"p","amount":"30","notified_on":"2021-01-05","schedule":s});
        let e = parse(base(
            json!([{"month":"2021-03","amount":"10"},{"month":"2021-01","amount":"20"}]),
        ))
        .unwrap();
        assert_eq!(e.to_json()["schedule"][0]["month"], "2021-01");
        assert_eq!(
            parse(base(json!([{"month":"2021-03","amount":"10"}])))
                .unwrap_err()
                .field
                .as_deref(),
            Some("schedule")
        );
        assert_eq!(
            parse(base(json!([{"month":"2022-01","amount":"30"}])))
                .unwrap_err()
                .field
                .as_deref(),
            Some("schedule[0].month")
        );
        assert_eq!(
            parse(base(
                json!([{"month":"2021-01","amount":"15"},{"month":"2021-01","amount":"15"}])
            ))
            .unwrap_err()
            .field
            .as_deref(),
            Some("schedule[1].month")
        );
        assert_eq!(
            parse(base(json!([]))).unwrap_err().field.as_deref(),
            Some("schedule")
        );
        assert_eq!(
            parse(base(Value::Null)).unwrap_err().field.as_deref(),
            Some("schedule")
        );
        assert_eq!(
            parse(base(json!([{"month":"2021-01","amount":"30","x":1}])))
                .unwrap_err()
                .field
                .as_deref(),
            Some("schedule[0].x")
        );
    }

    #[test]
    fn repeated_members_are_rejected() {
        assert!(read_values(r#"{"kind":"a","kind":"b"}"#).is_err());
        assert!(read_values(r#"[{"a":{"b":1,"b":2}}]"#).is_err());
        let (shape, v) = read_values("{\"a\":1}\n{\"a\":2}\n").unwrap();
        assert_eq!((shape, v.len()), (InputShape::Lines, 2));
        assert_eq!(read_values("[{\"a\":1}]").unwrap().0, InputShape::Array);
    }

    #[test]
    fn fiscal_year_must_be_integer_in_range() {
        let base = |fy: Value| json!({"kind":"allocation_notified","county":"a","fund":"general","fiscal_year":fy,"program":"p","amount":"30","notified_on":"2021-01-05"});
        assert!(parse(base(json!(2021))).is_ok());
        for bad in [
            json!(2021.0),
            json!("2021"),
            json!(1999),
            json!(2100),
            json!(-1),
        ] {
            assert_eq!(
                parse(base(bad.clone())).unwrap_err().field.as_deref(),
                Some("fiscal_year"),
                "{bad}"
            );
        }
    }

    #[test]
    fn binary_codec_round_trips() {
        let e = parse(json!({"kind":"needs_budgeted","county":"a","fiscal_year":2021,"category":"wages","amount":"30","budgeted_on":"2021-01-05","schedule":[{"month":"2021-02","amount":"30"}]})).unwrap();
        let bytes = bincode::serialize(&e).unwrap();
        let back: Event = bincode::deserialize(&bytes).unwrap();
        assert_eq!(back, e);
        let again = parse(e.to_json()).unwrap();
        assert_eq!(again, e);
    }

    /// `sanbao import`'s full path for one line: exactly one object, parsed from a
    /// JSON value.
    fn full(text: &str) -> Option<InputEvent> {
        let (_, mut v) = read_values(text).ok()?;
        if v.len() != 1 {
            return None;
        }
        Event::parse_object(v.pop()?).ok()
    }

    /// One line of every kind: the shipped samples, and the kinds they lack.
    fn every_kind() -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        let mut seen = BTreeSet::new();
        let shipped = [
            include_str!("../replay/sample-city/events.jsonl"),
            include_str!("../replay/oversight/events.jsonl"),
        ];
        for line in shipped.iter().flat_map(|f| f.lines()) {
            let kind = serde_json::from_str::<Value>(line).unwrap()["kind"].clone();
            if seen.insert(kind.as_str().unwrap().to_string()) {
                lines.push(line.to_string());
            }
        }
        for extra in [
            json!({"kind":"plan_issued","month":"2021-03","based_on_seq":12,"plan_sha256":"ab".repeat(32),"issued_on":"2021-02-25","idempotency_key":"plan-2021-03"}),
            json!({"kind":"emergency_requested","county":"beigang","amount":"1200.5","value_date":"2022-03-02","mode":"advance","reason":"工资缺口"}),
            json!({"kind":"emergency_approved","request_seq":7,"approved_on":"2022-03-03","idempotency_key":null}),
            json!({"kind":"approval_limit_set","amount":"50000","effective_from":"2022-03-01"}),
        ] {
            seen.insert(extra["kind"].as_str().unwrap().to_string());
            lines.push(extra.to_string());
        }
        assert_eq!(seen, KINDS.iter().map(|k| k.to_string()).collect());
        lines
    }

    #[test]
    fn parse_text_gives_what_the_full_path_gives() {
        // Every kind, as written, members reversed, spaced out, with keys.
        for line in every_kind() {
            let Value::Object(m) = serde_json::from_str::<Value>(&line).unwrap() else {
                panic!("{line}")
            };
            let reversed = format!(
                "{{{}}}",
                m.iter()
                    .rev()
                    .map(|(k, v)| format!("{} : {v}", Value::from(k.as_str())))
                    .collect::<Vec<_>>()
                    .join(" ,\t")
            );
            let mut keyed = m.clone();
            keyed.insert("idempotency_key".into(), json!("import-1"));
            for text in [line.clone(), reversed, Value::Object(keyed).to_string()] {
                let fast = Event::parse_text(&text);
                assert!(fast.is_some(), "{text}");
                assert_eq!(fast, full(&text), "{text}");
            }
        }
        // Refused here and by the full path (which then names the error).
        for text in [
            r#"{"kind":"approval_limit_set","amount":"5","amount":"6","effective_from":"2022-03-01"}"#,
            r#"{"kind":"approval_limit_set","amount":"5","\u0061mount":"6","effective_from":"2022-03-01"}"#,
            r#"{"kind":"approval_limit_set","kind":"approval_limit_set","amount":"5","effective_from":"2022-03-01"}"#,
            r#"{"kind":"approval_limit_set","amount":"5","effective_from":"2022-03-01","idempotency_key":"a","idempotency_key":"b"}"#,
            r#"{"kind":"approval_limit_set","amount":"5","effective_from":"2022-03-01","idempotency_key":null,"idempotency_key":"b"}"#,
            r#"{"kind":"city_funds_received","fund":"general","amount":"5","received_on":"2021-01-02","reference":null,"reference":"x"}"#,
            r#"{"kind":"approval_limit_set","amount":5,"effective_from":"2022-03-01"}"#,
            r#"{"kind":"approval_limit_set","amount":"5","effective_from":"2022-03-01","extra":1}"#,
            r#"{"kind":"approval_limit_set","amount":"5","effective_from":"2022-03-01","idempotency_key":""}"#,
            r#"{"kind":"approval_limit_set","amount":"5","effective_from":"2022-03-01","idempotency_key":7}"#,
            r#"{"kind":"approval_limit_set","amount":"-5","effective_from":"2022-03-01"}"#,
            r#"{"kind":"approval_limit_set","amount":"5","effective_from":"2022-03-01"} {}"#,
            r#"{"kind":"no_such_kind","amount":"5"}"#,
            r#"{"x":{"kind":"approval_limit_set"},"kind":"approval_limit_set","amount":"5","effective_from":"2022-03-01"}"#,
            r#"{"amount":"5","effective_from":"2022-03-01","kind":"approval_limit_set","kind":"approval_limit_set"}"#,
            r#"{"amount":"5","effective_from":"2022-03-01","kind" : "approval_limit_set","kind":"approval_limit_set"}"#,
            r#"{"schedule":[{"kind":"approval_limit_set"}],"kind":"allocation_notified","county":"a","fund":"general","fiscal_year":2021,"program":"p","amount":"30","notified_on":"2021-01-05"}"#,
            r#"{"kind":"approval_limit_se\u0074","amount":"5","effective_from":"2022-03-01","kind":"emergency_approved"}"#,
            r#"{"x\"kind":"approval_limit_set","amount":"5","effective_from":"2022-03-01"}"#,
            r#"{"kind":"approval_limit_set","effective_from":"2022-03-01"}"#,
            r#"{"seq":1,"hash":"00","event":{"kind":"approval_limit_set","amount":"5","effective_from":"2022-03-01"}}"#,
            r#"{"kind":"allocation_notified","county":"a","fund":"general","fiscal_year":2021,"program":"p","amount":"30","notified_on":"2021-01-05","schedule":[{"month":"2021-02","amount":"30","amount":"30"}]}"#,
        ] {
            assert_eq!(Event::parse_text(text), None, "{text}");
            assert_eq!(full(text), None, "{text}");
        }
        // Refused here, taken by the full path: a kind written with an escape, an
        // array of one event.
        for text in [
            r#"{"kind":"approval_limit_se\u0074","amount":"5","effective_from":"2022-03-01"}"#,
            r#"[{"kind":"approval_limit_set","amount":"5","effective_from":"2022-03-01"}]"#,
        ] {
            assert_eq!(Event::parse_text(text), None, "{text}");
            assert!(full(text).is_some(), "{text}");
        }
        // serde's other spellings of an enum and of a struct, and Python's spacing:
        // both paths take them, equally.
        for text in [
            r#"{"kind":"city_funds_received","fund":{"general":null},"amount":"5","received_on":"2021-01-02"}"#,
            r#"{"kind":"allocation_notified","county":"a","fund":"pre_notified","fiscal_year":2021,"program":"p","amount":"30","notified_on":"2021-01-05","schedule":[["2021-02","30"]]}"#,
            r#"{"kind": "approval_limit_set", "amount": "5", "effective_from": "2022-03-01"}"#,
        ] {
            let fast = Event::parse_text(text);
            assert!(fast.is_some(), "{text}");
            assert_eq!(fast, full(text), "{text}");
        }
        assert_eq!(guess_kind(r#"{"a":"kind","kind" :	"b"}"#), Some("b"));
        assert_eq!(guess_kind(r#"{"kind":"a\u0062"}"#), Some("a"));
        assert_eq!(guess_kind(r#"{"a":"kind"}"#), None);
        // Damaged copies of every kind's line (each byte dropped, or replaced by
        // one of a few that matter to JSON): whatever the fast path takes, the full
        // path takes equally.
        let (mut taken, mut tried) = (0, 0);
        for line in every_kind() {
            let bytes = line.as_bytes();
            for i in 0..bytes.len() {
                let mut variants = vec![[&bytes[..i], &bytes[i + 1..]].concat()];
                for b in [b'"', b'1', b'}', b',', b' ', b'\\', b'x', b'n', b'-'] {
                    let mut v = bytes.to_vec();
                    v[i] = b;
                    variants.push(v);
                }
                for v in variants {
                    let Ok(text) = String::from_utf8(v) else {
                        continue;
                    };
                    tried += 1;
                    if let Some(fast) = Event::parse_text(&text) {
                        taken += 1;
                        assert_eq!(Some(fast), full(&text), "{text}");
                    }
                }
            }
        }
        // Some damaged lines are still events (a digit changed, a space added).
        assert!(taken > tried / 20, "{taken} of {tried}");
    }
}
