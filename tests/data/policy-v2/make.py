#!/usr/bin/env python3
"""Writes the two histories of docs/planning-policy-v2.md §8 (the worked examples).

Each history gives, on the plan's basis date B, exactly the figures the example's
tables start from: cash on B, three months of outflow (3 x the basis) and revenue
(3 x expected revenue), the budgets, the declared wage bills, entitlements left
undispatched (the planned amounts) and the city's money (city_available). Its last
record is a `planning_policy_set` v2 effective on B, so the plan at the seq before it
follows v1 and the plan at the head v2. Deterministic; standard library only.
Run: python3 tests/data/policy-v2/make.py (writes example-1.jsonl, example-2.jsonl).
"""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))


def y(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def county(cid, name, on, opening):
    return {"kind": "county_registered", "county": cid, "name": name, "registered_on": on,
            "opening_treasury": y(opening * 100)}


def window(cid, months, basis, er):
    """One revenue (10th) and one expenditure (20th) per month: the basis and ER."""
    out = []
    for m in months:
        out.append({"kind": "revenue_collected", "county": cid, "amount": y(er * 100),
                    "collected_on": f"{m}-10", "category": "tax"})
        out.append({"kind": "expenditure_paid", "county": cid, "amount": y(basis * 100),
                    "paid_on": f"{m}-20", "category": "operations"})
    return out


def budget(cid, category, annual, on, schedule=None):
    e = {"kind": "needs_budgeted", "county": cid, "fiscal_year": 2026, "category": category,
         "amount": y(annual * 100), "budgeted_on": on}
    if schedule:
        e["schedule"] = [{"month": m, "amount": y(a * 100)} for m, a in schedule]
    return e


def bill(cid, month, amount, on):
    return {"kind": "wage_bill_declared", "county": cid, "payroll_month": month,
            "amount": y(amount * 100), "payday": f"{month}-15", "declared_on": on}


def alloc(cid, fund, fy, amount, on, program):
    return {"kind": "allocation_notified", "county": cid, "fund": fund, "fiscal_year": fy,
            "program": program, "amount": y(amount * 100), "notified_on": on}


def example_1():
    # Plan of 2026-08 (B = 2026-07-31): the general tier short, the claims fit.
    ev = [
        county("dong", "东县", "2025-12-01", 150_000 + 3 * 220_000 - 3 * 30_000),
        county("nan", "南县", "2025-12-01", 400_000 + 3 * 210_000 - 3 * 50_000),
        county("xi", "西县", "2025-12-01", 70_000 + 3 * 80_000 - 3 * 10_000),
        alloc("xi", "in_execution", 2025, 6_000, "2025-12-10", "冬季取暖补助"),
        alloc("dong", "general", 2026, 300_000, "2026-01-05", "均衡性转移支付"),
        alloc("nan", "general", 2026, 450_000, "2026-01-05", "均衡性转移支付"),
        alloc("xi", "general", 2026, 225_000, "2026-01-05", "均衡性转移支付"),
        budget("dong", "wages", 12 * 90_000, "2026-01-10"),
        budget("dong", "operations", 12 * 40_000, "2026-01-10"),
        budget("nan", "wages", 12 * 150_000, "2026-01-10"),
        budget("nan", "operations", 12 * 70_000, "2026-01-10"),
        budget("xi", "wages", 12 * 60_000, "2026-01-10"),
        budget("xi", "operations", 12 * 30_000, "2026-01-10"),
    ]
    months = ["2026-05", "2026-06", "2026-07"]
    for cid, basis, er in [("dong", 220_000, 30_000), ("nan", 210_000, 50_000), ("xi", 80_000, 10_000)]:
        ev += window(cid, months, basis, er)
    ev += [
        {"kind": "city_funds_received", "fund": "general", "amount": "130000.00",
         "received_on": "2026-07-01", "reference": "省财政8月资金"},
        bill("dong", "2026-08", 95_000, "2026-07-18"),
        bill("nan", "2026-08", 150_000, "2026-07-18"),
        bill("xi", "2026-08", 62_000, "2026-07-18"),
        alloc("dong", "direct", 2026, 10_000, "2026-07-20", "直达资金"),
        {"kind": "planning_policy_set", "policy": "v2", "effective_from": "2026-07-31"},
    ]
    return ev


def example_2():
    # Plan of 2026-09 (B = 2026-08-31): the direct tier short, the claims exceed.
    ev = [
        county("bei", "北县", "2025-06-01", 45_000 + 3 * 50_000 - 3 * 5_000),
        county("zhong", "中县", "2025-06-01", 10_000 + 3 * 45_000 - 3 * 2_000),
        alloc("bei", "direct", 2025, 30_000, "2025-07-01", "直达资金"),
        budget("bei", "wages", 12 * 40_000, "2026-01-10"),
        budget("bei", "operations", 12 * 20_000, "2026-01-10"),
        budget("zhong", "wages", 12 * 30_000, "2026-01-10"),
        budget("zhong", "operations", 12 * 10_000, "2026-01-10"),
    ]
    months = ["2026-06", "2026-07", "2026-08"]
    for cid, basis, er in [("bei", 50_000, 5_000), ("zhong", 45_000, 2_000)]:
        ev += window(cid, months, basis, er)
    sep_dec = ["2026-09", "2026-10", "2026-11", "2026-12"]
    ev += [
        alloc("bei", "direct", 2026, 70_000, "2026-08-01", "直达资金"),
        alloc("zhong", "direct", 2026, 20_000, "2026-08-01", "直达资金"),
        {"kind": "city_funds_received", "fund": "direct", "amount": "31000.00",
         "received_on": "2026-08-01", "reference": "省财政直达资金"},
        bill("bei", "2026-09", 40_000, "2026-08-18"),
        bill("zhong", "2026-09", 32_000, "2026-08-18"),
        county("xin", "新区", "2026-09-01", 0),
        budget("xin", "wages", 4 * 12_000, "2026-09-01", [(m, 12_000) for m in sep_dec]),
        budget("xin", "operations", 4 * 3_000, "2026-09-01", [(m, 3_000) for m in sep_dec]),
        bill("xin", "2026-09", 12_000, "2026-09-02"),
        alloc("xin", "direct", 2026, 8_000, "2026-09-02", "直达资金"),
        {"kind": "planning_policy_set", "policy": "v2", "effective_from": "2026-08-31"},
    ]
    return ev


for name, ev in [("example-1", example_1()), ("example-2", example_2())]:
    with open(os.path.join(HERE, name + ".jsonl"), "w", encoding="utf-8") as f:
        for e in ev:
            f.write(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n")
