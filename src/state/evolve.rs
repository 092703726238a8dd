//! How a record changes the state, and how it is taken back: the money flows of each
//! event kind ([`State::forward`], [`State::backward`]), reversals, and the compact
//! per-record [`Slot`] that remembers where a reversible record's effect lives.
//!
//! Guarantees: `forward` never fails (an old log always replays, even after rules
//! tighten); `backward` after `forward` of the same record restores the state
//! exactly (equality, tested over random histories); a slot holds any amount
//! exactly (those beyond `i64` cents in `wide_amounts`).

use super::*;

/// Where a reversible record's effect lives, so a reversal can cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Effect {
    CityFunds,
    Allocation {
        county: u32,
        key: (FiscalYear, Fund),
        idx: u32,
    },
    Transfer {
        county: u32,
        key: (FiscalYear, Fund),
        idx: u32,
    },
    Grant {
        county: u32,
    },
    Advance {
        county: u32,
        key: (FiscalYear, Fund),
        idx: u32,
    },
    Deposit {
        county: u32,
        month: Month,
    },
    WagesPaid {
        county: u32,
        month: Month,
    },
    Revenue {
        county: u32,
    },
    Expenditure {
        county: u32,
        category: ExpenditureCategory,
    },
    Needs {
        county: u32,
        idx: u32,
    },
    /// A `notice_issued`: index into `State::notices`. Moves no money.
    Notice {
        idx: u32,
    },
    /// An `emergency_requested`: index into `State::requests`. Moves no money.
    Request {
        idx: u32,
    },
}

/// A reversible record as the state remembers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) date: Date,
    pub(super) amount: Money,
    pub(super) effect: Effect,
    pub(super) reversed_on: Option<Date>,
}

/// A [`Target`] as stored, one per record: 32 bytes instead of 48. The amount is
/// held in `i64` cents; an amount that does not fit (never one sanbao accepts: they
/// are at most 13 integer digits) is kept exactly in [`State`]'s `wide_amounts` and
/// marked here with [`WIDE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slot {
    pub(super) amount: i64,
    pub(super) date: Date,
    pub(super) reversed_on: Option<Date>,
    pub(super) effect: Effect,
}

/// `Slot::amount` of a target whose amount is in `wide_amounts`.
pub(super) const WIDE: i64 = i64::MIN;

impl State {
    pub(super) fn target(&self, seq: u64) -> Option<Target> {
        let i = usize::try_from(seq.checked_sub(1)?).ok()?;
        let s = self.targets.get(i)??;
        Some(self.unpack(seq, s))
    }

    /// The target a slot holds (its amount from `wide_amounts` when marked so).
    pub(super) fn unpack(&self, seq: u64, s: Slot) -> Target {
        let amount = if s.amount == WIDE {
            self.wide_amounts[&seq]
        } else {
            Money::from_cents(s.amount as i128)
        };
        Target {
            date: s.date,
            amount,
            effect: s.effect,
            reversed_on: s.reversed_on,
        }
    }

    /// Stores a target for record `seq` compactly.
    pub(super) fn pack(&mut self, seq: u64, t: Target) -> Slot {
        let amount = match i64::try_from(t.amount.cents()) {
            Ok(a) if a != WIDE => a,
            _ => {
                self.wide_amounts.insert(seq, t.amount);
                WIDE
            }
        };
        Slot {
            amount,
            date: t.date,
            reversed_on: t.reversed_on,
            effect: t.effect,
        }
    }

    pub(super) fn county_idx(&self, id: &CountyId) -> Option<u32> {
        self.county_index.get(id)
    }

    /// Moves money along an effect's flows with `sign` (+1 forward, −1 reversed) on `d`.
    pub(super) fn flow(&mut self, effect: Effect, amount: Money, d: Date, sign: i128) {
        let x = Money::from_cents(amount.cents() * sign);
        match effect {
            Effect::CityFunds => self.city.add(d, x),
            Effect::Allocation { .. }
            | Effect::Needs { .. }
            | Effect::Notice { .. }
            | Effect::Request { .. } => {}
            Effect::Transfer { county, .. }
            | Effect::Grant { county }
            | Effect::Advance { county, .. } => {
                self.city.add(d, -x);
                self.county_mut(county).treasury.add(d, x);
            }
            Effect::Deposit { county, month } => {
                let c = self.county_mut(county);
                c.treasury.add(d, -x);
                c.wage_reserve.add(d, x);
                c.payroll.entry(month).or_default().add(d, false, x);
            }
            Effect::WagesPaid { county, month } => {
                let c = self.county_mut(county);
                c.wage_reserve.add(d, -x);
                c.outflow.add(d, x);
                c.payroll.entry(month).or_default().add(d, true, x);
            }
            Effect::Revenue { county } => {
                let c = self.county_mut(county);
                c.treasury.add(d, x);
                c.revenue.add(d, x);
            }
            Effect::Expenditure { county, category } => {
                let c = self.county_mut(county);
                c.treasury.add(d, -x);
                c.outflow.add(d, x);
                c.spent[category as usize].add(d, x);
            }
        }
    }

    /// Sets or clears the reversal mark of an entry-based effect, and adjusts totals.
    pub(super) fn mark_reversed(&mut self, effect: Effect, amount: Money, on: Option<Date>) {
        let sign = if on.is_some() { -1 } else { 1 };
        let x = Money::from_cents(amount.cents() * sign);
        match effect {
            Effect::Allocation { county, key, idx } => {
                let l = self.county_mut(county).funds.get_mut(&key).expect("ledger");
                l.entitlements[idx as usize].entry.reversed_on = on;
                l.entitled_total += x;
            }
            Effect::Transfer { county, key, idx } | Effect::Advance { county, key, idx } => {
                let l = self.county_mut(county).funds.get_mut(&key).expect("ledger");
                l.dispatches[idx as usize].reversed_on = on;
                l.dispatched_total += x;
            }
            Effect::Needs { county, idx } => {
                self.county_mut(county).needs[idx as usize]
                    .entry
                    .reversed_on = on;
            }
            Effect::Notice { idx } => {
                self.notices[idx as usize].reversed_on = on;
            }
            Effect::Request { idx } => {
                self.requests[idx as usize].reversed_on = on;
            }
            _ => {}
        }
    }

    pub(super) fn forward(&mut self, event: &Event, seq: u64) -> Option<Target> {
        let d = event.effective_date();
        let entry = |amount| Entry {
            seq,
            date: d,
            amount,
            reversed_on: None,
        };
        let county = event.county().and_then(|id| self.county_idx(id));
        let (effect, amount) = match (event, county) {
            (Event::CountyRegistered(e), _) => {
                if county.is_some() {
                    return None;
                }
                let mut c = County {
                    id: e.county.clone(),
                    name: e.name.clone(),
                    registered_on: d,
                    treasury: DayMap::default(),
                    wage_reserve: DayMap::default(),
                    funds: BTreeMap::new(),
                    outflow: DayMap::default(),
                    spent: Default::default(),
                    revenue: DayMap::default(),
                    payroll: BTreeMap::new(),
                    wage_bills: Vec::new(),
                    needs: Vec::new(),
                    reports: [Vec::new(), Vec::new()],
                    risk_lines: Vec::new(),
                };
                c.treasury.add(d, e.opening_treasury);
                c.wage_reserve.add(d, e.opening_wage_reserve);
                self.county_index
                    .insert(e.county.clone(), self.counties.len() as u32);
                self.counties.push(Arc::new(c));
                return None;
            }
            (Event::CityFundsReceived(e), _) => (Effect::CityFunds, e.amount),
            (Event::RiskLinesSet(e), _) if e.county.is_none() => {
                self.city_risk_lines.push(lines_entry(e, seq));
                return None;
            }
            (Event::PlanIssued(e), _) => {
                self.plans_issued.push((seq, e.clone()));
                return None;
            }
            (Event::PlanningPolicySet(e), _) => {
                self.policies.push(PolicyEntry {
                    effective_from: e.effective_from,
                    seq,
                    policy: e.policy,
                });
                return None;
            }
            (Event::NoticeIssued(e), _) => {
                self.notices.push(NoticeEntry {
                    seq,
                    county: e.county.clone(),
                    month: e.month,
                    doc_number: e.doc_number.clone(),
                    status: e.status,
                    guarantee_level: e.guarantee_level,
                    issued_on: e.issued_on,
                    reversed_on: None,
                });
                let idx = (self.notices.len() - 1) as u32;
                self.notice_index.pushed(&self.notices[idx as usize], idx);
                (Effect::Notice { idx }, Money::ZERO)
            }
            (Event::EmergencyApproved(_), _) => return None,
            (Event::ApprovalLimitSet(e), _) => {
                self.approval_limits.push(LimitEntry {
                    seq,
                    amount: e.amount,
                    effective_from: e.effective_from,
                });
                return None;
            }
            (Event::EmergencyRequested(e), Some(_)) => {
                self.requests.push(RequestEntry {
                    seq,
                    request: e.clone(),
                    requested_by: None,
                    approval: None,
                    reversed_on: None,
                });
                let idx = (self.requests.len() - 1) as u32;
                (Effect::Request { idx }, Money::ZERO)
            }
            (Event::PolicyProposed(e), _) => {
                self.proposals.push(ProposalEntry {
                    seq,
                    county: e.county.clone(),
                    title: e.title.clone(),
                    category: e.category,
                    monthly_cost: e.monthly_cost,
                    starts: e.starts,
                    proposed_on: e.proposed_on,
                    decision: None,
                });
                return None;
            }
            (Event::AssessmentDecided(e), _) => {
                if let Some(p) = self.proposal_mut(e.proposal_seq) {
                    if p.decision.is_none() {
                        p.decision = Some(DecisionEntry {
                            seq,
                            decision: e.decision,
                            decided_on: e.decided_on,
                        });
                    }
                }
                return None;
            }
            (Event::ResponsePlanFiled(e), _) => {
                self.response_plans.push(ResponsePlanEntry {
                    seq,
                    county: e.county.clone(),
                    filed_on: e.filed_on,
                    valid_until: e.valid_until,
                    measures: e.measures.clone(),
                    reference: e.reference.clone(),
                });
                return None;
            }
            (Event::EventReversed(e), _) => {
                let t = self.target(e.reverses_seq)?;
                if t.reversed_on.is_some() {
                    return None;
                }
                self.flow(t.effect, t.amount, e.on, -1);
                self.mark_reversed(t.effect, t.amount, Some(e.on));
                self.targets
                    .get_mut((e.reverses_seq - 1) as usize)
                    .as_mut()
                    .expect("target")
                    .reversed_on = Some(e.on);
                return None;
            }
            (_, None) => return None,
            (Event::AllocationNotified(e), Some(ci)) => {
                let key = (e.fiscal_year, e.fund);
                let l = self.county_mut(ci).funds.entry(key).or_default();
                l.entitlements.push(Entitlement {
                    entry: entry(e.amount),
                    schedule: e.schedule.clone(),
                });
                l.entitled_total += e.amount;
                let idx = (l.entitlements.len() - 1) as u32;
                (
                    Effect::Allocation {
                        county: ci,
                        key,
                        idx,
                    },
                    e.amount,
                )
            }
            (Event::TransferAllocated(e), Some(ci)) => {
                let key = (e.fiscal_year, e.fund);
                let idx = self.push_dispatch(ci, key, entry(e.amount));
                (
                    Effect::Transfer {
                        county: ci,
                        key,
                        idx,
                    },
                    e.amount,
                )
            }
            (Event::EmergencyDispatched(e), Some(ci)) => match e.mode {
                EmergencyMode::Grant => (Effect::Grant { county: ci }, e.amount),
                EmergencyMode::Advance => {
                    let key = (
                        FiscalYear::new(d.year()).expect("valid year"),
                        Fund::General,
                    );
                    let idx = self.push_dispatch(ci, key, entry(e.amount));
                    (
                        Effect::Advance {
                            county: ci,
                            key,
                            idx,
                        },
                        e.amount,
                    )
                }
            },
            (Event::PayrollDeposited(e), Some(ci)) => (
                Effect::Deposit {
                    county: ci,
                    month: e.payroll_month,
                },
                e.amount,
            ),
            (Event::WagesPaid(e), Some(ci)) => (
                Effect::WagesPaid {
                    county: ci,
                    month: e.payroll_month,
                },
                e.amount,
            ),
            (Event::RevenueCollected(e), Some(ci)) => (Effect::Revenue { county: ci }, e.amount),
            (Event::ExpenditurePaid(e), Some(ci)) => (
                Effect::Expenditure {
                    county: ci,
                    category: e.category,
                },
                e.amount,
            ),
            (Event::NeedsBudgeted(e), Some(ci)) => {
                let c = self.county_mut(ci);
                c.needs.push(Need {
                    entry: entry(e.amount),
                    fiscal_year: e.fiscal_year,
                    category: e.category,
                    schedule: e.schedule.clone(),
                });
                (
                    Effect::Needs {
                        county: ci,
                        idx: (c.needs.len() - 1) as u32,
                    },
                    e.amount,
                )
            }
            (Event::WageBillDeclared(e), Some(ci)) => {
                let bill = WageBill {
                    declared_on: d,
                    seq,
                    amount: e.amount,
                    payday: e.payday,
                };
                let bills = &mut self.county_mut(ci).wage_bills;
                let key = (e.payroll_month, seq);
                let at = bills.partition_point(|(m, b)| (*m, b.seq) < key);
                bills.insert(at, (e.payroll_month, bill));
                return None;
            }
            (Event::BalanceReported(e), Some(ci)) => {
                let r = Report {
                    on: e.on,
                    seq,
                    balance: e.balance,
                };
                self.county_mut(ci).reports[e.account as usize].push(r);
                return None;
            }
            (Event::RiskLinesSet(e), Some(ci)) => {
                self.county_mut(ci).risk_lines.push(lines_entry(e, seq));
                return None;
            }
        };
        self.flow(effect, amount, d, 1);
        Some(Target {
            date: d,
            amount,
            effect,
            reversed_on: None,
        })
    }

    pub(super) fn push_dispatch(&mut self, ci: u32, key: (FiscalYear, Fund), e: Entry) -> u32 {
        let l = self.county_mut(ci).funds.entry(key).or_default();
        l.dispatches.push(e);
        l.dispatched_total += e.amount;
        (l.dispatches.len() - 1) as u32
    }

    pub(super) fn backward(&mut self, event: &Event, target: Option<Target>, new_county: bool) {
        let county = event.county().and_then(|id| self.county_idx(id));
        match event {
            Event::CountyRegistered(e) => {
                if new_county {
                    self.counties.pop();
                    self.county_index.remove(&e.county);
                }
            }
            Event::RiskLinesSet(e) => {
                if e.county.is_none() {
                    self.city_risk_lines.pop();
                } else if let Some(ci) = county {
                    self.county_mut(ci).risk_lines.pop();
                }
            }
            Event::PlanIssued(_) => {
                self.plans_issued.pop();
            }
            Event::PlanningPolicySet(_) => {
                self.policies.pop();
            }
            Event::NoticeIssued(_) => {
                if let Some(n) = self.notices.pop() {
                    self.notice_index.popped(&n, self.notices.len() as u32);
                }
            }
            Event::EmergencyRequested(_) => {
                if target.is_some() {
                    self.requests.pop();
                }
            }
            Event::ApprovalLimitSet(_) => {
                self.approval_limits.pop();
            }
            Event::PolicyProposed(_) => {
                self.proposals.pop();
            }
            Event::AssessmentDecided(e) => {
                let seq = self.head_seq;
                if let Some(p) = self.proposal_mut(e.proposal_seq) {
                    if p.decision.is_some_and(|d| d.seq == seq) {
                        p.decision = None;
                    }
                }
            }
            Event::ResponsePlanFiled(_) => {
                self.response_plans.pop();
            }
            Event::EventReversed(e) => {
                if let Some(t) = self.target(e.reverses_seq) {
                    if t.reversed_on == Some(e.on) {
                        self.flow(t.effect, t.amount, e.on, 1);
                        self.mark_reversed(t.effect, t.amount, None);
                        self.targets
                            .get_mut((e.reverses_seq - 1) as usize)
                            .as_mut()
                            .expect("target")
                            .reversed_on = None;
                    }
                }
            }
            Event::WageBillDeclared(e) => {
                if let Some(ci) = county {
                    let key = (e.payroll_month, self.head_seq);
                    let bills = &mut self.county_mut(ci).wage_bills;
                    if let Ok(i) = bills.binary_search_by(|(m, b)| (*m, b.seq).cmp(&key)) {
                        bills.remove(i);
                    }
                }
            }
            Event::BalanceReported(e) => {
                if let Some(ci) = county {
                    self.county_mut(ci).reports[e.account as usize].pop();
                }
            }
            _ => {
                let Some(t) = target else { return };
                self.flow(t.effect, t.amount, t.date, -1);
                match t.effect {
                    Effect::Allocation { county, key, .. } => {
                        let c = self.county_mut(county);
                        let l = c.funds.get_mut(&key).expect("ledger");
                        l.entitlements.pop();
                        l.entitled_total -= t.amount;
                        if l.entitlements.is_empty() && l.dispatches.is_empty() {
                            c.funds.remove(&key);
                        }
                    }
                    Effect::Transfer { county, key, .. } | Effect::Advance { county, key, .. } => {
                        let c = self.county_mut(county);
                        let l = c.funds.get_mut(&key).expect("ledger");
                        l.dispatches.pop();
                        l.dispatched_total -= t.amount;
                        if l.entitlements.is_empty() && l.dispatches.is_empty() {
                            c.funds.remove(&key);
                        }
                    }
                    Effect::Needs { county, .. } => {
                        self.county_mut(county).needs.pop();
                    }
                    Effect::Deposit { county, month } | Effect::WagesPaid { county, month } => {
                        let c = self.county_mut(county);
                        if c.payroll.get(&month).is_some_and(|p| p.is_empty()) {
                            c.payroll.remove(&month);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

fn lines_entry(e: &RiskLinesSet, seq: u64) -> LinesEntry {
    LinesEntry {
        effective_from: e.effective_from,
        seq,
        lines: Lines {
            warning_line: e.warning_line,
            alert_line: e.alert_line,
            idle_line: e.idle_line,
        },
    }
}
