#!/usr/bin/env python3
"""The oversight history (issue 19): four counties over the first half of 2021 (and
one spending of 2020), written so that every flag and the veto of the year's
oversight appears at least once. Deterministic: run it and events.jsonl is the same.

    python3 replay/oversight/generate.py > replay/oversight/events.jsonl

tests/oversight.rs checks the figures; each is worked out by hand in its comments.
"""
import json

events = []


def ev(kind, **fields):
    e = {"kind": kind}
    e.update(fields)
    events.append(e)


def money(x):
    return "%d.00" % x


for cid, name, opening in [
    ("aa", "甲县", 2_000_000),
    ("bb", "乙县", 400_000),
    ("cc", "丙县", 600_000),
    ("dd", "丁县", 500_000),
]:
    ev("county_registered", county=cid, name=name, registered_on="2020-01-01",
       opening_treasury=money(opening))

# 乙县's other spending of a year before (the restriction's comparison).
ev("expenditure_paid", county="bb", amount=money(10_000), paid_on="2020-05-10",
   category="other")
ev("revenue_collected", county="bb", amount=money(110_000), collected_on="2021-01-02",
   category="tax")

# Budgets of 2021.
for cid, cat, amount in [
    ("aa", "wages", 1_200_000), ("aa", "operations", 240_000),
    ("bb", "wages", 600_000), ("bb", "livelihood", 240_000),
    ("cc", "wages", 600_000), ("cc", "operations", 120_000),
    ("dd", "wages", 240_000),
]:
    ev("needs_budgeted", county=cid, fiscal_year=2021, category=cat,
       amount=money(amount), budgeted_on="2021-01-05")

ev("response_plan_filed", county="cc", filed_on="2021-01-10", valid_until="2021-03-31",
   measures="压减一般性支出，暂停新增运转类项目", reference="丙财〔2021〕1号")
ev("response_plan_filed", county="bb", filed_on="2021-03-01", valid_until="2021-12-31",
   measures="压减非急需非刚性支出，优先保障工资发放", reference="乙财〔2021〕3号")

# Payroll and spending, January to June 2021.
for m in range(1, 7):
    mm = "2021-%02d" % m
    # 甲县: 100,000 of wages, 20,000 of operations a month.
    ev("wage_bill_declared", county="aa", payroll_month=mm, amount=money(100_000),
       payday=mm + "-15", declared_on=mm + "-01")
    ev("payroll_deposited", county="aa", payroll_month=mm, amount=money(100_000),
       deposited_on=mm + "-01")
    ev("wages_paid", county="aa", payroll_month=mm, amount=money(100_000), paid_on=mm + "-15")
    ev("expenditure_paid", county="aa", amount=money(20_000), paid_on=mm + "-20",
       category="operations")
    # 乙县: declared 60,000 a month against a budget of 50,000; 20,000 of livelihood.
    ev("wage_bill_declared", county="bb", payroll_month=mm, amount=money(60_000),
       payday=mm + "-15", declared_on=mm + "-01")
    ev("payroll_deposited", county="bb", payroll_month=mm, amount=money(60_000),
       deposited_on=mm + "-01")
    ev("wages_paid", county="bb", payroll_month=mm, amount=money(60_000), paid_on=mm + "-15")
    ev("expenditure_paid", county="bb", amount=money(20_000), paid_on=mm + "-20",
       category="livelihood")
    # 丙县: 50,000 of wages; 30,000 of operations a month against a budget of 10,000;
    # May's wages 20,000 short on payday (paid ten days late), June's 10,000 unpaid.
    ev("wage_bill_declared", county="cc", payroll_month=mm, amount=money(50_000),
       payday=mm + "-15", declared_on=mm + "-01")
    ev("payroll_deposited", county="cc", payroll_month=mm, amount=money(50_000),
       deposited_on=mm + "-01")
    if m == 5:
        ev("wages_paid", county="cc", payroll_month=mm, amount=money(30_000), paid_on=mm + "-15")
        ev("wages_paid", county="cc", payroll_month=mm, amount=money(20_000), paid_on=mm + "-25")
    elif m == 6:
        ev("wages_paid", county="cc", payroll_month=mm, amount=money(40_000), paid_on=mm + "-15")
    else:
        ev("wages_paid", county="cc", payroll_month=mm, amount=money(50_000), paid_on=mm + "-15")
    ev("expenditure_paid", county="cc", amount=money(30_000), paid_on=mm + "-20",
       category="operations")

# 丁县: June's payroll deposited two days after its deadline (06-08); direct funds
# notified and never dispatched; a treasury balance that disagrees; a notice.
ev("wage_bill_declared", county="dd", payroll_month="2021-06", amount=money(20_000),
   payday="2021-06-15", declared_on="2021-06-01")
ev("allocation_notified", county="dd", fund="direct", fiscal_year=2021,
   program="直达资金（困难群众救助补助）", amount=money(50_000), notified_on="2021-06-01")
ev("payroll_deposited", county="dd", payroll_month="2021-06", amount=money(20_000),
   deposited_on="2021-06-10")
ev("wages_paid", county="dd", payroll_month="2021-06", amount=money(20_000),
   paid_on="2021-06-15")

# Proposals: 甲县's is affordable and approved; 乙县's is pending (and is not).
ev("policy_proposed", county="aa", title="提高高龄津贴标准", category="livelihood",
   monthly_cost=money(10_000), starts="2021-07", proposed_on="2021-06-10")
ev("assessment_decided", proposal_seq=len(events), decision="approved",
   decided_on="2021-06-25")
ev("policy_proposed", county="bb", title="提高城乡低保标准", category="livelihood",
   monthly_cost=money(30_000), starts="2021-08", proposed_on="2021-06-15")

# Other spending: 乙县 on the watch list (its ack warns), 甲县 not.
ev("expenditure_paid", county="bb", amount=money(15_000), paid_on="2021-06-25",
   category="other")
ev("expenditure_paid", county="aa", amount=money(5_000), paid_on="2021-06-26",
   category="other")
ev("notice_issued", county="dd", month="2021-06", doc_number="示财库〔2021〕1号",
   status="low", guarantee_level="0.4000", issued_on="2021-06-28")
ev("balance_reported", county="dd", account="treasury", on="2021-06-30",
   balance=money(1))

for e in events:
    print(json.dumps(e, ensure_ascii=False, separators=(",", ":")))
