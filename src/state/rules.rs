//! Every business rule of SPEC §3: [`State::check`] decides whether an event may be
//! recorded next, against the state that holds every record before it.
//!
//! Guarantees: `check` never mutates; an event it accepts, once applied, leaves no
//! account below zero at any day-end and no (county, fund, fiscal year) dispatched
//! beyond its entitlement ([`super::invariants`] asserts both after each apply in
//! debug and test builds); a refusal names the field to blame and says why in words
//! an officer reads.

use super::evolve::Effect;
use super::*;

fn err(field: &str, reason: String) -> EventError {
    EventError::field(field, reason)
}

/// An account's name in Chinese, from the English one the rules use.
fn account_zh(name: &str) -> String {
    if name == "city.treasury" {
        "市本级国库库款".to_string()
    } else if let Some(c) = name.strip_prefix("the treasury of ") {
        format!("{c} 国库库款")
    } else if let Some(c) = name.strip_prefix("the wage reserve of ") {
        format!("{c} 工资库款保障户")
    } else {
        name.to_string()
    }
}

impl State {
    /// The county named by an event, registered on or before `on` (rule 2).
    fn registered(&self, id: &CountyId, on: Date, field: &str) -> Result<&County, EventError> {
        let c = self.county(id).ok_or_else(|| {
            err(field, format!("county {id} is not registered")).zh(format!("县区 {id} 未登记"))
        })?;
        if c.registered_on > on {
            return Err(err(
                field,
                format!(
                    "county {id} is registered from {}, after the event's date {on}",
                    c.registered_on
                ),
            )
            .zh(format!(
                "县区 {id} 自 {} 起登记，晚于事件日期 {on}",
                c.registered_on
            )));
        }
        Ok(c)
    }

    /// Rule 1 for an outflow of `amount` from `acct` on `d`.
    fn keeps_positive(
        acct: &DayMap,
        name: &str,
        d: Date,
        amount: Money,
        field: &str,
    ) -> Result<(), EventError> {
        #[cfg(test)]
        if broken::NO_OVERDRAFT_RULE.get() {
            return Ok(());
        }
        let (low, at) = acct.min_from(d);
        if low - amount < Money::ZERO {
            let now = acct.through(d);
            let detail_zh = if at == d {
                format!("{d} 日终余额 {}", now.grouped())
            } else {
                format!(
                    "{d} 日终余额 {}，其后支出使其在 {at} 降至 {}",
                    now.grouped(),
                    low.grouped()
                )
            };
            let detail = if at == d {
                format!("its balance on {d} is {}", now.grouped())
            } else {
                format!(
                    "its balance on {d} is {}, and later outflows bring it down to {} on {at}",
                    now.grouped(),
                    low.grouped()
                )
            };
            return Err(err(
                field,
                format!(
                    "{} would overdraw {name}: {detail}; it may never go below zero (short by {})",
                    amount.grouped(),
                    (amount - low).grouped()
                ),
            )
            .zh(format!(
                "{} 将使{}透支：{detail_zh}；库款任何一日日终余额都不得为负（尚缺 {}）",
                amount.grouped(),
                account_zh(name),
                (amount - low).grouped()
            )));
        }
        Ok(())
    }

    /// Rule 3 for a dispatch of `amount` against `(county, fy, fund)`.
    fn within_entitlement(
        &self,
        c: &County,
        fy: FiscalYear,
        fund: Fund,
        amount: Money,
        what: &str,
    ) -> Result<(), EventError> {
        #[cfg(test)]
        if broken::NO_ENTITLEMENT_RULE.get() {
            return Ok(());
        }
        let l = c.funds.get(&(fy, fund));
        let remaining = l.map_or(Money::ZERO, |l| l.remaining_total());
        if amount > remaining {
            let (ent, dis) = l.map_or((Money::ZERO, Money::ZERO), |l| {
                (l.entitled_total, l.dispatched_total)
            });
            return Err(err(
                "amount",
                format!(
                    "{what} of {} exceeds the remaining {} {fy} entitlement of {}: entitled {}, already dispatched {}, remaining {}",
                    amount.grouped(),
                    fund.as_str(),
                    c.id,
                    ent.grouped(),
                    dis.grouped(),
                    remaining.grouped()
                ),
            )
            .zh(format!(
                "{}金额 {} 超过 {} {fy}年{}未拨付额度：应拨付 {}，已拨付 {}，尚余 {}",
                if what == "the advance" { "本次垫付" } else { "本次调拨" },
                amount.grouped(),
                c.id,
                crate::lang::Term::word(&fund, crate::lang::Lang::Zh),
                ent.grouped(),
                dis.grouped(),
                remaining.grouped()
            )));
        }
        Ok(())
    }

    /// Checks every rule of SPEC §3 for `event` as record `seq` (= head + 1) against
    /// this state, with nobody named as its recorder (see [`State::check_by`]). Never
    /// mutates.
    pub fn check(&self, event: &Event, oracle: &mut dyn PlanOracle) -> Result<(), EventError> {
        self.check_by(event, None, oracle)
    }

    /// Checks every rule for `event` as the next record, recorded by `by` (its
    /// `recorded_by`: the two-person rule of `emergency_approved` needs to know who
    /// approves). Never mutates.
    pub fn check_by(
        &self,
        event: &Event,
        by: Option<&str>,
        oracle: &mut dyn PlanOracle,
    ) -> Result<(), EventError> {
        invariants::invariant!(
            self.targets.len() as u64 == self.head_seq
                && self.county_index.len() == self.counties.len(),
            "check on a state whose slots ({}) or index ({} ids, {} counties) disagree with it (seq {})",
            self.targets.len(),
            self.county_index.len(),
            self.counties.len(),
            self.head_seq
        );
        let d = event.effective_date();
        if let Some(id) = event.county() {
            if !matches!(event, Event::CountyRegistered(_)) {
                self.registered(id, d, "county")?;
            }
        }
        match event {
            Event::CountyRegistered(e) => {
                if self.county_index.contains_key(&e.county) {
                    return Err(err(
                        "county",
                        format!("county {} is already registered", e.county),
                    )
                    .zh(format!("县区 {} 已登记", e.county)));
                }
            }
            Event::CityFundsReceived(_)
            | Event::AllocationNotified(_)
            | Event::WageBillDeclared(_)
            | Event::RevenueCollected(_)
            | Event::BalanceReported(_)
            | Event::NeedsBudgeted(_)
            | Event::RiskLinesSet(_)
            | Event::PlanningPolicySet(_)
            | Event::PolicyProposed(_)
            | Event::ResponsePlanFiled(_) => {}
            Event::AssessmentDecided(e) => self.check_decision(e)?,
            Event::TransferAllocated(e) => {
                let c = self.registered(&e.county, d, "county")?;
                Self::keeps_positive(&self.city, "city.treasury", d, e.amount, "amount")?;
                self.within_entitlement(c, e.fiscal_year, e.fund, e.amount, "the transfer")?;
                self.within_plan_line(e, oracle)?;
            }
            Event::EmergencyDispatched(e) => {
                let c = self.registered(&e.county, d, "county")?;
                Self::keeps_positive(&self.city, "city.treasury", d, e.amount, "amount")?;
                if e.mode == EmergencyMode::Advance {
                    let fy = FiscalYear::new(d.year()).expect("dates are 2000-2099");
                    self.within_entitlement(c, fy, Fund::General, e.amount, "the advance")?;
                }
                self.within_approval_limit(e)?;
            }
            Event::EmergencyRequested(_) | Event::ApprovalLimitSet(_) => {}
            Event::EmergencyApproved(e) => self.check_approval(e, by)?,
            Event::PayrollDeposited(e) => {
                let c = self.registered(&e.county, d, "county")?;
                let name = format!("the treasury of {}", e.county);
                Self::keeps_positive(&c.treasury, &name, d, e.amount, "amount")?;
            }
            Event::WagesPaid(e) => {
                let c = self.registered(&e.county, d, "county")?;
                let name = format!("the wage reserve of {}", e.county);
                Self::keeps_positive(&c.wage_reserve, &name, d, e.amount, "amount")?;
            }
            Event::ExpenditurePaid(e) => {
                let c = self.registered(&e.county, d, "county")?;
                let name = format!("the treasury of {}", e.county);
                Self::keeps_positive(&c.treasury, &name, d, e.amount, "amount")?;
            }
            Event::PlanIssued(e) => {
                if e.based_on_seq > self.head_seq {
                    return Err(err(
                        "based_on_seq",
                        format!(
                            "{} is beyond the log's head {}",
                            e.based_on_seq, self.head_seq
                        ),
                    )
                    .zh(format!(
                        "{} 超出日志最新记录号 {}",
                        e.based_on_seq, self.head_seq
                    )));
                }
                let sha = oracle
                    .plan(self, e.month, e.based_on_seq)
                    .map_err(|r| err("plan_sha256", r))?
                    .plan_sha256;
                if sha != e.plan_sha256 {
                    return Err(err(
                        "plan_sha256",
                        format!(
                            "does not reproduce: the plan of {} at seq {} hashes to {sha}",
                            e.month, e.based_on_seq
                        ),
                    )
                    .zh(format!(
                        "无法复现：依据第{}号记录测算的{}调度计划哈希为 {sha}",
                        e.based_on_seq, e.month
                    )));
                }
            }
            Event::EventReversed(e) => self.check_reversal(e)?,
            Event::NoticeIssued(e) => {
                let of_county_month = || {
                    self.notice_index
                        .of_county_month(&e.county, e.month)
                        .map(|i| &self.notices[i])
                };
                if let Some(n) = self
                    .notice_index
                    .by_number(&e.doc_number)
                    .map(|i| &self.notices[i])
                {
                    return Err(err(
                        "doc_number",
                        format!(
                            "{} is already the number of the notice of record {} ({} {}); a document number is used once in a log",
                            e.doc_number.as_str(), n.seq, n.county, n.month
                        ),
                    )
                    .zh(format!(
                        "文号 {} 已用于第{}号记录的提示函（{} {}）；同一文号只能使用一次",
                        e.doc_number.as_str(),
                        n.seq,
                        n.county,
                        n.month
                    )));
                }
                if let Some(n) =
                    of_county_month().find(|n| n.reversed_on.is_some_and(|r| r > e.issued_on))
                {
                    return Err(err(
                        "issued_on",
                        format!(
                            "the notice {} of {} for {} (record {}) is withdrawn only from {}; a new one may be sent from that day",
                            n.doc_number.as_str(),
                            e.county,
                            e.month,
                            n.seq,
                            n.reversed_on.expect("reversed")
                        ),
                    )
                    .zh(format!(
                        "{} {}的提示函 {}（第{}号记录）自 {} 起撤销，新函须自该日起发出",
                        e.county,
                        e.month,
                        n.doc_number.as_str(),
                        n.seq,
                        n.reversed_on.expect("reversed")
                    )));
                }
                if let Some(n) = of_county_month().find(|n| n.reversed_on.is_none()) {
                    return Err(err(
                        "month",
                        format!(
                            "{} already has the notice {} for {} (record {}); reverse it first to send another",
                            e.county, n.doc_number.as_str(), e.month, n.seq
                        ),
                    )
                    .zh(format!(
                        "{} 已有 {} 的提示函 {}（第{}号记录）；须先撤销再另发",
                        e.county,
                        e.month,
                        n.doc_number.as_str(),
                        n.seq
                    )));
                }
            }
        }
        Ok(())
    }

    /// Issue 18: a transfer naming a `plan_month` that has an issued plan stays within
    /// its line of the latest issued plan (a line the plan lacks funds nothing),
    /// counting every unreversed transfer already made on it, unless it gives an
    /// `off_plan_reason`.
    fn within_plan_line(
        &self,
        e: &TransferAllocated,
        oracle: &mut dyn PlanOracle,
    ) -> Result<(), EventError> {
        let Some(month) = e.plan_month else {
            return Ok(());
        };
        if e.off_plan_reason.is_some() {
            return Ok(());
        }
        let Some((plan_seq, issued)) = self
            .plans_issued
            .iter()
            .rev()
            .find(|(_, p)| p.month == month)
        else {
            return Ok(());
        };
        let facts = oracle
            .plan(self, month, issued.based_on_seq)
            .map_err(|r| err("plan_month", format!("the plan of {month} cannot be recomputed to check this transfer against it: {r}")))?;
        let funded = facts
            .funded
            .get(&(e.county.clone(), e.fund, e.fiscal_year))
            .copied()
            .unwrap_or(Money::ZERO);
        let dispatched =
            self.plan_line_dispatched(&(month, e.county.clone(), e.fund, e.fiscal_year));
        if dispatched + e.amount > funded {
            let fund_zh = crate::lang::Term::word(&e.fund, crate::lang::Lang::Zh);
            return Err(err(
                "amount",
                format!(
                    "{} would exceed the line of {} {} {} in the plan of {month} issued at record {plan_seq}: funded {}, already dispatched {}, over by {}; record it with an off_plan_reason to make it anyway",
                    e.amount.grouped(),
                    e.county,
                    e.fund.as_str(),
                    e.fiscal_year,
                    funded.grouped(),
                    dispatched.grouped(),
                    (dispatched + e.amount - funded).grouped()
                ),
            )
            .zh(format!(
                "{} 将超出{month}调度计划（第{plan_seq}号记录下达）中 {} {}年{}的额度：计划 {}，已调拨 {}，超出 {}；确需调拨的，请填写计划外调拨理由（off_plan_reason）",
                e.amount.grouped(),
                e.county,
                e.fiscal_year,
                fund_zh,
                funded.grouped(),
                dispatched.grouped(),
                (dispatched + e.amount - funded).grouped()
            )));
        }
        Ok(())
    }

    /// `assessment_decided`: the proposal exists, is not decided yet, and the
    /// decision is not dated before it was proposed.
    fn check_decision(&self, e: &AssessmentDecided) -> Result<(), EventError> {
        let f = "proposal_seq";
        let Some(p) = self.proposal(e.proposal_seq) else {
            return Err(err(
                f,
                format!(
                    "record {} is not a policy_proposed (the head is {})",
                    e.proposal_seq, self.head_seq
                ),
            )
            .zh(format!(
                "第{}号记录不是拟出台政策（policy_proposed）（最新为第{}号）",
                e.proposal_seq, self.head_seq
            )));
        };
        if let Some(d) = p.decision {
            return Err(err(
                f,
                format!(
                    "the proposal of record {} is already decided ({}, record {}, on {})",
                    e.proposal_seq,
                    d.decision.as_str(),
                    d.seq,
                    d.decided_on
                ),
            )
            .zh(format!(
                "第{}号记录的拟出台政策已于 {} 作出评估结论（第{}号记录），每项只作一次结论",
                e.proposal_seq, d.decided_on, d.seq
            )));
        }
        if e.decided_on < p.proposed_on {
            return Err(err(
                "decided_on",
                format!(
                    "{} is before the proposal's date {}",
                    e.decided_on, p.proposed_on
                ),
            )
            .zh(format!(
                "结论日期 {} 早于政策提出日期 {}",
                e.decided_on, p.proposed_on
            )));
        }
        Ok(())
    }

    /// Issue 18: a direct emergency dispatch moves at most the approval limit in force
    /// on its value date or on the log's latest business date, whichever is later
    /// (so backdating does not escape a limit already in force); the dispatch the
    /// writer appends right after an approval, matching its request, is exempt.
    fn within_approval_limit(&self, e: &EmergencyDispatched) -> Result<(), EventError> {
        let on = self
            .max_effective_date
            .map_or(e.value_date, |m| m.max(e.value_date));
        let Some(limit) = self.approval_limit_on(on) else {
            return Ok(());
        };
        if e.amount <= limit {
            return Ok(());
        }
        let approved = self
            .dispatch_of_approval(self.head_seq)
            .is_some_and(|d| match d {
                Event::EmergencyDispatched(d) => d == *e,
                _ => false,
            });
        if approved {
            return Ok(());
        }
        Err(err(
            "amount",
            format!(
                "{} is above the limit of {} on a direct emergency dispatch: record an emergency_requested, to be approved by another user of role approver",
                e.amount.grouped(),
                limit.grouped()
            ),
        )
        .zh(format!(
            "{} 超过直接应急调度限额 {}：请登记应急调度申请（emergency_requested），由另一名审批人批准",
            e.amount.grouped(),
            limit.grouped()
        )))
    }

    /// Issue 18: an approval names a pending request (not withdrawn, not approved) and
    /// is recorded by a named user (not the command line's `local`) other than the
    /// one who requested it.
    fn check_approval(&self, e: &EmergencyApproved, by: Option<&str>) -> Result<(), EventError> {
        let f = "request_seq";
        let Some(r) = self.request(e.request_seq) else {
            return Err(err(
                f,
                format!("record {} is not an emergency_requested", e.request_seq),
            )
            .zh(format!("第{}号记录不是应急调度申请", e.request_seq)));
        };
        if let Some(on) = r.reversed_on {
            return Err(err(
                f,
                format!("the request of record {} was withdrawn on {on}", r.seq),
            )
            .zh(format!("第{}号记录的申请已于 {on} 撤回", r.seq)));
        }
        if let Some(a) = &r.approval {
            return Err(err(
                f,
                format!(
                    "the request of record {} is already approved (record {}, by {})",
                    r.seq,
                    a.seq,
                    a.approved_by.as_deref().unwrap_or("?")
                ),
            )
            .zh(format!(
                "第{}号记录的申请已获批准（第{}号记录，审批人 {}）",
                r.seq,
                a.seq,
                a.approved_by.as_deref().unwrap_or("?")
            )));
        }
        match by {
            None | Some(crate::record::LOCAL) => Err(EventError::whole(
                "an approval names the user who approves: record it through the server (sanbao serve) with the token of a user of role approver; the command line cannot approve",
            )
            .zh("审批须记录审批人：请通过服务（sanbao serve）以审批人角色的令牌登记；命令行不能审批")),
            Some(u) if r.requested_by.as_deref() == Some(u) => Err(err(
                f,
                format!("{u} requested it (record {}): another user must approve it", r.seq),
            )
            .zh(format!("申请人 {u}（第{}号记录）不能批准自己的申请，须由另一人审批", r.seq))),
            Some(_) => Ok(()),
        }
    }

    fn check_reversal(&self, e: &EventReversed) -> Result<(), EventError> {
        let f = "reverses_seq";
        if e.reverses_seq > self.head_seq {
            return Err(err(
                f,
                format!(
                    "record {} does not exist (the head is {})",
                    e.reverses_seq, self.head_seq
                ),
            )
            .zh(format!(
                "第{}号记录不存在（最新为第{}号）",
                e.reverses_seq, self.head_seq
            )));
        }
        let Some(t) = self.target(e.reverses_seq) else {
            return Err(err(
                f,
                format!(
                    "record {} cannot be reversed: only city_funds_received, allocation_notified, transfer_allocated, emergency_dispatched, payroll_deposited, wages_paid, revenue_collected, expenditure_paid, needs_budgeted, notice_issued and emergency_requested can",
                    e.reverses_seq
                ),
            )
            .zh(format!(
                "第{}号记录不可冲销：只有资金到账、指标下达、调拨、应急调度、工资备付、工资发放、收入、支出、预算需求、提示函和应急调度申请可以冲销",
                e.reverses_seq
            )));
        };
        if let Some(on) = t.reversed_on {
            return Err(err(
                f,
                format!("record {} is already reversed (on {on})", e.reverses_seq),
            )
            .zh(format!("第{}号记录已于 {on} 冲销", e.reverses_seq)));
        }
        if e.on < t.date {
            return Err(err(
                "on",
                format!(
                    "{} is before the reversed record's own date {}",
                    e.on, t.date
                ),
            )
            .zh(format!("冲销日期 {} 早于原记录日期 {}", e.on, t.date)));
        }
        let on = e.on;
        let county = |i: u32| &self.counties[i as usize];
        match t.effect {
            Effect::CityFunds => {
                Self::keeps_positive(&self.city, "city.treasury", on, t.amount, "reverses_seq")?
            }
            Effect::Allocation {
                county: ci, key, ..
            } => {
                let l = &county(ci).funds[&key];
                if l.entitled_total - t.amount < l.dispatched_total {
                    return Err(err(
                        f,
                        format!(
                            "reversing this allocation would leave {} {} {} entitled {} below its dispatched {}",
                            county(ci).id,
                            key.1.as_str(),
                            key.0,
                            (l.entitled_total - t.amount).grouped(),
                            l.dispatched_total.grouped()
                        ),
                    )
                    .zh(format!(
                        "冲销该指标将使 {} {}年{}应拨付 {} 低于已拨付 {}",
                        county(ci).id,
                        key.0,
                        crate::lang::Term::word(&key.1, crate::lang::Lang::Zh),
                        (l.entitled_total - t.amount).grouped(),
                        l.dispatched_total.grouped()
                    )));
                }
            }
            Effect::Transfer { county: ci, .. }
            | Effect::Grant { county: ci }
            | Effect::Advance { county: ci, .. }
            | Effect::Revenue { county: ci } => {
                let c = county(ci);
                Self::keeps_positive(
                    &c.treasury,
                    &format!("the treasury of {}", c.id),
                    on,
                    t.amount,
                    f,
                )?;
            }
            Effect::Deposit { county: ci, .. } => {
                let c = county(ci);
                Self::keeps_positive(
                    &c.wage_reserve,
                    &format!("the wage reserve of {}", c.id),
                    on,
                    t.amount,
                    f,
                )?;
            }
            Effect::Request { idx } => {
                if let Some(a) = &self.requests[idx as usize].approval {
                    return Err(err(
                        f,
                        format!(
                            "the request of record {} is approved (record {}); reverse its dispatch, record {}, instead",
                            e.reverses_seq,
                            a.seq,
                            a.seq + 1
                        ),
                    )
                    .zh(format!(
                        "第{}号记录的申请已获批准（第{}号记录），请冲销其应急调度（第{}号记录）",
                        e.reverses_seq,
                        a.seq,
                        a.seq + 1
                    )));
                }
            }
            Effect::WagesPaid { .. }
            | Effect::Expenditure { .. }
            | Effect::Needs { .. }
            | Effect::Notice { .. } => {}
        }
        Ok(())
    }
}

/// Test only: rules switched off on this thread, to show that the invariants
/// ([`super::invariants`]) catch what a broken rule lets through.
#[cfg(test)]
pub(super) mod broken {
    use std::cell::Cell;

    thread_local! {
        /// Rule 1 (no account below zero) is not checked.
        pub static NO_OVERDRAFT_RULE: Cell<bool> = const { Cell::new(false) };
        /// Rule 3 (dispatched ≤ entitled) is not checked.
        pub static NO_ENTITLEMENT_RULE: Cell<bool> = const { Cell::new(false) };
    }
}
