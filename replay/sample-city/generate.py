#!/usr/bin/env python3
"""Generate the synthetic sample history `sample-city` for sanbao.

Everything here is fictional: a prefecture-level city in Liaoning loosely modelled
on 葫芦岛市, its eight county-level units, every amount, program, reference and date.

Run:  python3 generate.py            (Python 3.11, standard library only)

Writes, next to this file:
  events.jsonl      one bare event per line, in the order of recording
                    (seq = line number when loaded into an empty log)
  checkpoints.json  interesting query points with independently computed expected
                    positions, guarantee levels and plan figures, and the members of
                    docs/monitor-v2.md (arrears, deposited_on/days_late, payroll_history,
                    watch_history, tight_months, attention, outstanding_advances)

Deterministic: one random.Random(20210101), no wall clock, no floats on money
(all money is integer cents).  The program simulates every account day by day while
generating, then re-reads events.jsonl and checks it with an independent validator
(SPEC §2/§3 formats, rules 1-3, reversal rules, and `planning_policy_set` of
docs/planning-policy-v2.md §1) event by event in seq order.

Plans follow the policy in force on their basis date (v2 from 2021-09-30).  Under v2 the
split of the first short tier is computed with docs/planning-policy-v2-model.py (loaded as
a module) on inputs this script reads from the log itself.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import json
import os
import random
import re
import sys
from collections import defaultdict
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20210101
RNG = random.Random(SEED)

START = dt.date(2020, 12, 31)   # registration / opening balances (2020 year end)
END = dt.date(2022, 2, 20)      # last business date of the sample

D = dt.date


def cents(yuan: int) -> int:
    return yuan * 100


WAN = cents(10_000)           # 1 万元
YI = cents(100_000_000)       # 1 亿元


def fmt(c: int) -> str:
    """Integer cents -> amount string with two decimals."""
    assert isinstance(c, int) and c >= 0, c
    return f"{c // 100}.{c % 100:02d}"


def fmt_signed(c: int) -> str:
    return ("-" if c < 0 else "") + fmt(abs(c))


def month_str(y: int, m: int) -> str:
    return f"{y:04d}-{m:02d}"


def last_day(y: int, m: int) -> int:
    return calendar.monthrange(y, m)[1]


def add_months(y: int, m: int, k: int) -> tuple[int, int]:
    i = y * 12 + (m - 1) + k
    return i // 12, i % 12 + 1


def mindex(y: int, m: int) -> int:
    """2021-01 -> 0, 2022-02 -> 13."""
    return (y - 2021) * 12 + (m - 1)


def split_cents(total: int, weights: list[int]) -> list[int]:
    """Split total cents by integer weights exactly (largest remainder)."""
    s = sum(weights)
    parts = [total * w // s for w in weights]
    rem = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % s), i))
    for i in order[:rem]:
        parts[i] += 1
    assert sum(parts) == total
    return parts


def jitter(c: int, pct: int) -> int:
    """c * (1 ± pct%), random cents (pct is an integer percent)."""
    lo = c * (100 - pct) // 100
    hi = c * (100 + pct) // 100
    return RNG.randint(lo, hi)


def round_wan(c: int) -> int:
    return max(WAN, (c + WAN // 2) // WAN * WAN)


# --------------------------------------------------------------------------------------
# The city and its counties (all fictional)
# --------------------------------------------------------------------------------------
# wage, exp, rev: monthly wage bill, other expenditure base, revenue base (yuan)
# path: target guarantee level in per-mille by month index (2021-01 = 0 ... 2022-02 = 13)
COUNTIES = {
    "beigang": dict(name="北港工业区", wage=9_200_000, exp=26_000_000, rev=52_000_000,
                    payday=20, reg=START, open_wr=3_000_000, bonus=False,
                    path={0: 1700, 6: 2100, 13: 2700}),
    "jianchang": dict(name="建昌县", wage=148_000_000, exp=128_000_000, rev=31_000_000,
                      payday=15, reg=START, open_wr=0, bonus=True,
                      path={0: 450, 5: 330, 8: 200, 9: 150, 10: 140, 11: 330, 12: 260, 13: 180}),
    "lianshan": dict(name="连山区", wage=96_000_000, exp=84_000_000, rev=104_000_000,
                     payday=15, reg=START, open_wr=20_000_000, bonus=False,
                     path={0: 950, 6: 1000, 11: 850, 13: 880}),
    "longgang": dict(name="龙港区", wage=71_000_000, exp=62_000_000, rev=79_000_000,
                     payday=15, reg=START, open_wr=10_000_000, bonus=False,
                     path={0: 800, 5: 760, 9: 700, 13: 720}),
    "lvhai": dict(name="绿海经济区", wage=4_300_000, exp=11_500_000, rev=7_600_000,
                  payday=20, reg=D(2021, 4, 1), open_wr=0, bonus=False,
                  path={3: 350, 6: 700, 13: 900}),
    "nanpiao": dict(name="南票区", wage=54_000_000, exp=46_000_000, rev=21_500_000,
                    payday=15, reg=START, open_wr=0, bonus=False,
                    path={0: 650, 6: 720, 10: 560, 13: 380}),
    "suizhong": dict(name="绥中县", wage=214_000_000, exp=188_000_000, rev=93_000_000,
                     payday=15, reg=START, open_wr=30_000_000, bonus=True,
                     path={0: 700, 7: 470, 9: 600, 13: 620}),
    "xingcheng": dict(name="兴城市", wage=176_000_000, exp=158_000_000, rev=121_000_000,
                      payday=10, reg=START, open_wr=60_000_000, bonus=True,
                      path={0: 1100, 6: 1300, 13: 1500}),
}
CIDS = sorted(COUNTIES)

# revenue seasonality, percent by calendar month
SEASON = {1: 128, 2: 72, 3: 95, 4: 110, 5: 104, 6: 100, 7: 103, 8: 92, 9: 100,
          10: 98, 11: 96, 12: 112}
TOURISM = {7: 135, 8: 140}          # 兴城 summer (seaside, ancient city)

# Notable, hand-placed facts of the story
LATE_DEPOSITS = {("jianchang", "2021-03"), ("jianchang", "2021-06"),
                 ("jianchang", "2021-11"), ("nanpiao", "2022-01")}
DUPLICATE = dict(county="longgang", on=D(2021, 6, 10), reversal_on=D(2021, 6, 18),
                 reversal_recorded=D(2021, 6, 21))
BACKDATED_EXPENSE = dict(county="longgang", on=D(2021, 9, 14), recorded=D(2021, 9, 17))
BACKDATED_REVENUE = dict(county="nanpiao", on=D(2021, 4, 28), recorded=D(2021, 5, 6))
DISCREPANCY = dict(county="xingcheng", on=D(2021, 9, 30), amount=cents(8_650_000))
OVERDUE_DIRECT = dict(county="nanpiao", notified=D(2021, 9, 27), dispatched=D(2021, 10, 26),
                      amount=cents(18_600_000))
GRANT = dict(county="suizhong", on=D(2021, 8, 5), amount=cents(25_000_000))
ADVANCE = dict(county="jianchang", on=D(2021, 11, 10), amount=cents(40_000_000))
WAGE_REVISION = dict(county="suizhong", month="2021-07", on=D(2021, 7, 2),
                     extra=cents(3_216_400))
TIGHT_TRANCHE = D(2021, 10, 8)      # the October tranche arrives after National Day
# After the September squeeze the bureau decides (recorded 09-28) that plans protect wages
# first from the October plan on: effective 09-30, the basis date of October's plan.
POLICY_SWITCH = dict(recorded=D(2021, 9, 28), policy="v2", effective_from=D(2021, 9, 30))
# jianchang's December payroll (+30 % year-end bonus): a maturing bond instalment is paid
# on 12-06, so by the deadline only the base wages can be deposited; the bonus stays
# unpaid past payday (欠薪) and is deposited and paid when January's general transfer
# arrives (2022-01-05).
ARREARS = dict(county="jianchang", month="2021-12", bond_on=D(2021, 12, 6),
               bond=cents(58_000_000), made_good=D(2022, 1, 5))


def level_target(cid: str, mi: int) -> int:
    path = COUNTIES[cid]["path"]
    keys = sorted(path)
    if mi <= keys[0]:
        return path[keys[0]]
    if mi >= keys[-1]:
        return path[keys[-1]]
    for a, b in zip(keys, keys[1:]):
        if a <= mi <= b:
            return path[a] + (path[b] - path[a]) * (mi - a) // (b - a)
    raise AssertionError


# --------------------------------------------------------------------------------------
# Generator with a day-by-day simulation
# --------------------------------------------------------------------------------------

class Gen:
    def __init__(self):
        self.out: list[dict] = []           # events in recording order
        self.pending: dict[dt.date, list] = defaultdict(list)   # backdated: record date ->
        self.bal: dict[str, int] = defaultdict(int)  # running balances (cents)
        self.hold: dict[str, int] = defaultdict(int)  # cash a county must not spend
        self.registered: dict[str, dt.date] = {}
        self.entitled = defaultdict(int)    # (cid, fund, fy) -> cents
        self.dispatched = defaultdict(int)  # (cid, fund, fy) -> cents
        self.notes: dict[str, object] = {}  # notable events (python objects) for report
        self.wage_bill: dict[tuple[str, str], int] = {}
        self.wage_declared: dict[tuple[str, str], int] = {}
        self.deposited: dict[tuple[str, str], int] = defaultdict(int)
        self.pre_sched = defaultdict(int)   # (cid, fy, "YYYY-MM") -> cents
        self.inexec_due = defaultdict(list)  # "YYYY-MM" -> [(cid, fy, cents)]
        self.month_plan: dict[str, dict] = {}
        self.rec_dates: list[dt.date] = []
        self.outflow = defaultdict(int)     # (cid, "YYYY-MM") -> expenditure + wages

    # ---- recording ---------------------------------------------------------------
    def emit(self, ev: dict, today: dt.date, record_on: dt.date | None = None) -> dict:
        if record_on is not None and record_on > today:
            self.pending[record_on].append(ev)
        else:
            self.out.append(ev)
            self.rec_dates.append(today)
        return ev

    def flush_pending(self, today: dt.date):
        for ev in self.pending.pop(today, []):
            if ev["kind"] == "event_reversed":
                target = ev.pop("_target")
                ev["reverses_seq"] = self.seq_of(target)
            self.out.append(ev)
            self.rec_dates.append(today)

    def seq_of(self, ev: dict) -> int:
        for i, e in enumerate(self.out):
            if e is ev:
                return i + 1
        raise AssertionError("target not yet recorded")

    # ---- accounts ----------------------------------------------------------------
    def move(self, src: str | None, dst: str | None, c: int):
        assert c > 0
        if src:
            self.bal[src] -= c
            assert self.bal[src] >= 0, (src, self.bal[src])
        if dst:
            self.bal[dst] += c

    def avail(self, cid: str) -> int:
        return self.bal[f"{cid}.treasury"] - self.hold[cid]

    def cash(self, cid: str) -> int:
        return self.bal[f"{cid}.treasury"] + self.bal[f"{cid}.wage_reserve"]


G = Gen()


def ev_city_funds(today, fund, amount, reference):
    G.move(None, "city.treasury", amount)
    return G.emit({"kind": "city_funds_received", "fund": fund, "amount": fmt(amount),
                   "received_on": today.isoformat(), "reference": reference}, today)


def ev_transfer(today, cid, fund, fy, amount, reference=None, plan_month=None):
    assert amount > 0
    key = (cid, fund, fy)
    assert G.dispatched[key] + amount <= G.entitled[key], (key, amount)
    G.dispatched[key] += amount
    G.move("city.treasury", f"{cid}.treasury", amount)
    ev = {"kind": "transfer_allocated", "county": cid, "fund": fund, "fiscal_year": fy,
          "amount": fmt(amount), "value_date": today.isoformat()}
    if plan_month:
        ev["plan_month"] = plan_month
    if reference:
        ev["reference"] = reference
    return G.emit(ev, today)


# ---- allocations (entitlements), planned up front ------------------------------------

ALLOC: dict[dt.date, list[dict]] = defaultdict(list)
NEEDS: dict[dt.date, list[dict]] = defaultdict(list)

PROGRAMS = {
    "general": ["均衡性转移支付", "县级基本财力保障机制奖补资金"],
    "pre_notified": ["义务教育补助经费（提前告知）", "城乡居民基本医疗保险补助（提前告知）"],
    "in_execution": ["困难群众救助补助资金", "农业生产发展资金", "城镇老旧小区改造补助资金",
                     "冬季清洁取暖补助资金", "就业补助资金（追加）"],
    "direct": ["直达资金：基层“三保”补助", "直达资金：义务教育阶段学生资助",
               "直达资金：医疗服务与保障能力提升补助", "直达资金：稳就业补助"],
}


def monthly_gap(cid: str) -> int:
    c = COUNTIES[cid]
    return cents(c["wage"] + c["exp"] - c["rev"])


def plan_allocations():
    ref_no = 100
    for cid in CIDS:
        c = COUNTIES[cid]
        reg = c["reg"]
        first_m = 1 if reg.year < 2021 else reg.month          # first month in 2021
        months21 = 13 - first_m
        gap = monthly_gap(cid)
        if gap <= 0:                      # a rich development zone still gets a little
            gap = cents(2_500_000)
        annual = gap * months21
        # ---- 2021
        gen_day = D(2021, 1, 4) if first_m == 1 else D(2021, first_m, 6)
        ALLOC[gen_day].append(dict(county=cid, fund="general", fiscal_year=2021,
                                   program=PROGRAMS["general"][0],
                                   amount=round_wan(annual * 60 // 100)))
        if cid in ("suizhong", "jianchang"):
            ALLOC[D(2021, 6, 20)].append(dict(county=cid, fund="general", fiscal_year=2021,
                                              program=PROGRAMS["general"][1],
                                              amount=round_wan(annual * 3 // 100)))
        pre_day = START if first_m == 1 else D(2021, first_m, 6)
        # program 1: monthly through the year; program 2: quarterly
        months_a = [m for m in range(max(2, first_m + 1), 12)]
        amt_a = round_wan(annual * 12 // 100)
        parts = split_cents(amt_a // WAN, [RNG.randint(8, 12) for _ in months_a])
        sched_a = [{"month": month_str(2021, m), "amount": fmt(p * WAN)}
                   for m, p in zip(months_a, parts)]
        ALLOC[pre_day].append(dict(county=cid, fund="pre_notified", fiscal_year=2021,
                                   program=PROGRAMS["pre_notified"][0], amount=amt_a,
                                   schedule=sched_a))
        months_b = [m for m in (3, 6, 9, 12) if m > first_m]
        amt_b = round_wan(annual * 8 // 100)
        parts = split_cents(amt_b, [1] * len(months_b))
        sched_b = [{"month": month_str(2021, m), "amount": fmt(p)}
                   for m, p in zip(months_b, parts)]
        ALLOC[pre_day].append(dict(county=cid, fund="pre_notified", fiscal_year=2021,
                                   program=PROGRAMS["pre_notified"][1], amount=amt_b,
                                   schedule=sched_b))
        # in_execution: three notices during 2021 (the December one goes out in January)
        ie_days = [D(2021, 3, RNG.randint(10, 26)), D(2021, 7, RNG.randint(5, 28)),
                   D(2021, 12, RNG.randint(6, 22))]
        if first_m > 3:
            ie_days[0] = D(2021, 5, RNG.randint(10, 26))
        for k, day in enumerate(ie_days):
            ALLOC[day].append(dict(county=cid, fund="in_execution", fiscal_year=2021,
                                   program=PROGRAMS["in_execution"][k],
                                   amount=jitter(annual * 10 // 300, 20) // 100 * 100))
        # direct: notified during the year, dispatched at once
        dr_days = [D(2021, 2, RNG.randint(3, 24)), D(2021, 5, RNG.randint(6, 26)),
                   D(2021, 8, RNG.randint(9, 27))]
        if first_m > 2:
            dr_days[0] = D(2021, 6, RNG.randint(2, 25))
        for k, day in enumerate(dr_days):
            ALLOC[day].append(dict(county=cid, fund="direct", fiscal_year=2021,
                                   program=PROGRAMS["direct"][k],
                                   amount=jitter(annual * 9 // 300, 25) // 100 * 100))
        if cid == OVERDUE_DIRECT["county"]:
            ALLOC[OVERDUE_DIRECT["notified"]].append(dict(
                county=cid, fund="direct", fiscal_year=2021, program=PROGRAMS["direct"][3],
                amount=OVERDUE_DIRECT["amount"], overdue=True))
        # ---- 2022 (notified in advance, 提前下达, on 2021-11-26)
        annual22 = gap * 12 * 103 // 100
        ALLOC[D(2021, 11, 26)].append(dict(county=cid, fund="general", fiscal_year=2022,
                                           program=PROGRAMS["general"][0],
                                           amount=round_wan(annual22 * 60 // 100)))
        if cid in ("nanpiao", "jianchang"):
            ALLOC[D(2022, 2, 16)].append(dict(county=cid, fund="general", fiscal_year=2022,
                                              program=PROGRAMS["general"][1],
                                              amount=round_wan(annual22 * 4 // 100)))
        months_a = list(range(1, 12))
        amt_a = round_wan(annual22 * 12 // 100)
        parts = split_cents(amt_a // WAN, [RNG.randint(8, 12) for _ in months_a])
        ALLOC[D(2021, 11, 26)].append(dict(
            county=cid, fund="pre_notified", fiscal_year=2022,
            program=PROGRAMS["pre_notified"][0], amount=amt_a,
            schedule=[{"month": month_str(2022, m), "amount": fmt(p * WAN)}
                      for m, p in zip(months_a, parts)]))
        amt_b = round_wan(annual22 * 8 // 100)
        parts = split_cents(amt_b, [1, 1, 1, 1])
        ALLOC[D(2021, 11, 26)].append(dict(
            county=cid, fund="pre_notified", fiscal_year=2022,
            program=PROGRAMS["pre_notified"][1], amount=amt_b,
            schedule=[{"month": month_str(2022, m), "amount": fmt(p)}
                      for m, p in zip((3, 6, 9, 12), parts)]))
        ALLOC[D(2022, 1, RNG.randint(11, 21))].append(dict(
            county=cid, fund="direct", fiscal_year=2022, program=PROGRAMS["direct"][0],
            amount=jitter(annual22 * 3 // 100 // 4, 20) // 100 * 100))
        if cid in ("suizhong", "jianchang", "nanpiao", "xingcheng", "lianshan"):
            ALLOC[D(2022, 2, 16)].append(dict(
                county=cid, fund="in_execution", fiscal_year=2022,
                program=PROGRAMS["in_execution"][3],
                amount=jitter(annual22 * 10 // 1200, 20) // 100 * 100))
        ref_no += 1


def plan_needs():
    for cid in CIDS:
        c = COUNTIES[cid]
        first_m = 1 if c["reg"].year < 2021 else c["reg"].month
        for fy, day, grow in ((2021, D(2021, 1, 8) if first_m == 1 else D(2021, first_m, 6), 100),
                              (2022, D(2022, 1, 14), 103)):
            months = list(range(first_m if fy == 2021 else 1, 13))
            w = cents(c["wage"]) * grow // 100
            x = cents(c["exp"]) * grow // 100
            full_year = len(months) == 12
            # wages: scheduled when there is a December performance bonus or a part year
            wage_w = [130 if (m == 12 and c["bonus"]) else 100 for m in months]
            wage_total = round_wan(w * sum(wage_w) // 100)
            if c["bonus"] or not full_year:
                parts = split_cents(wage_total // WAN, wage_w)
                NEEDS[day].append(dict(county=cid, fiscal_year=fy, category="wages",
                                       amount=wage_total,
                                       schedule=[(m, p * WAN) for m, p in zip(months, parts)]))
            else:
                NEEDS[day].append(dict(county=cid, fiscal_year=fy, category="wages",
                                       amount=wage_total))
            for cat, pct in (("livelihood", 52), ("operations", 30)):
                amt = round_wan(x * pct * len(months) // 100)
                if full_year:
                    NEEDS[day].append(dict(county=cid, fiscal_year=fy, category=cat, amount=amt))
                else:
                    parts = split_cents(amt // WAN, [1] * len(months))
                    NEEDS[day].append(dict(county=cid, fiscal_year=fy, category=cat, amount=amt,
                                           schedule=[(m, p * WAN) for m, p in zip(months, parts)]))
            # debt service: heavy at quarter ends
            dw = [20 if m in (3, 6, 9, 12) else 3 for m in months]
            amt = round_wan(x * 15 * len(months) // 100)
            parts = split_cents(amt // WAN, dw)
            NEEDS[day].append(dict(county=cid, fiscal_year=fy, category="debt_service",
                                   amount=amt,
                                   schedule=[(m, p * WAN) for m, p in zip(months, parts)]))
    # a supplementary need after the August flood
    parts = split_cents(cents(30_000_000), [1] * 5)
    NEEDS[D(2021, 8, 6)].append(dict(county="suizhong", fiscal_year=2021, category="livelihood",
                                     amount=cents(30_000_000),
                                     schedule=[(m, p) for m, p in zip(range(8, 13), parts)]))


# ---- month plans -------------------------------------------------------------------

def general_amount(cid: str, y: int, m: int, expected: bool = False) -> int:
    key = (cid, "general", y)
    ent = G.entitled[key]
    if expected and ent == 0:
        ent = sum(a["amount"] for day, lst in ALLOC.items() for a in lst
                  if a["county"] == cid and a["fund"] == "general" and a["fiscal_year"] == y
                  and day <= D(y, m, last_day(y, m)))
    need = ent - G.dispatched[key]
    r = 13 - m
    if need <= 0:
        return 0
    return need if r == 1 else need // r


def wage_for(cid: str, y: int, m: int) -> int:
    c = COUNTIES[cid]
    w = cents(c["wage"])
    if y == 2022:
        w = w * 103 // 100
    if m == 12 and c["bonus"]:
        w = w * 130 // 100
    return jitter(w, 1)


def start_month(y: int, m: int):
    """Decide each registered county's month: revenue, expenditure budget, payroll days."""
    ms = month_str(y, m)
    nd = last_day(y, m)
    cutoff = END.day if (y, m) == (END.year, END.month) else nd
    mi = mindex(y, m)
    for cid in CIDS:
        c = COUNTIES[cid]
        if c["reg"] > D(y, m, 1):
            continue
        # revenue for the month
        rev = cents(c["rev"]) * SEASON[m] // 100
        if cid == "xingcheng":
            rev = rev * TOURISM.get(m, 100) // 100
        rev = jitter(rev, 8)
        days_tax = sorted(RNG.sample(range(3, 9), 1) + [15] + RNG.sample(range(20, nd + 1), 1))
        tax_parts = split_cents(rev * 76 // 100, [25, 45, 30])
        items = [(d_, "tax", p) for d_, p in zip(days_tax, tax_parts)]
        items.append((RNG.randint(2, nd), "non_tax", rev * 19 // 100))
        other = rev - rev * 76 // 100 - rev * 19 // 100
        if RNG.random() < 0.45:
            items.append((RNG.randint(2, nd), "other", other))
        else:
            items[-1] = (items[-1][0], "non_tax", items[-1][2] + other)
        if (cid, ms) == (BACKDATED_REVENUE["county"], "2021-04"):
            items = [(BACKDATED_REVENUE["on"].day if cat_ == "non_tax" else d_, cat_, a_)
                     for d_, cat_, a_ in items]
        items = [(d_, cat, a) for d_, cat, a in items if d_ <= cutoff]
        # expected transfers
        t = general_amount(cid, y, m, expected=True)
        t += sum(v for (k_c, k_fy, k_m), v in G.pre_sched.items() if k_c == cid and k_m == ms)
        t += sum(a for (k_c, fy, a) in G.inexec_due.get(ms, []) if k_c == cid)
        wage = G.wage_bill.get((cid, ms), 0)
        if cid == ARREARS["county"] and ms == ARREARS["made_good"].isoformat()[:7]:
            wage += G.arrears_unpaid          # December's bonus, still owed
        x_base = cents(c["exp"])
        o_ref = cents(c["wage"]) + x_base
        prev = [month_str(*add_months(y, m, -k)) for k in (1, 2, 3)]
        if all((cid, p) in G.outflow for p in prev):     # steer on the trailing window
            o_ref = sum(G.outflow[(cid, p)] for p in prev) // 3
        target = jitter(o_ref * level_target(cid, mi) // 1000, 3)
        x = G.cash(cid) + t + sum(a for _, _, a in items) - wage - target
        lo, hi = x_base * 40 // 100, x_base * (260 if m == 12 else 200) // 100
        x = max(lo, min(hi, x))
        # payments: debt service, then livelihood / operations / other on several days
        pays = []
        debt = x * (22 if m in (3, 6, 9, 12) else 4) // 100
        pays.append((RNG.randint(min(18, cutoff), min(26, cutoff)), "debt_service", debt))
        rest = x - debt
        k = RNG.randint(6, 9)
        days = sorted(RNG.sample(range(2, cutoff + 1), k))
        if (cid, ms) == (BACKDATED_EXPENSE["county"], "2021-09") and \
                BACKDATED_EXPENSE["on"].day not in days:
            days = sorted(days[1:] + [BACKDATED_EXPENSE["on"].day])
        cats = ["livelihood", "operations", "other"]
        weights = [RNG.randint(5, 15) for _ in days]
        for d_, p in zip(days, split_cents(rest, weights)):
            cat = RNG.choices(cats, weights=[55, 35, 10])[0]
            pays.append((d_, cat, p))
        pays = sorted((p for p in pays if p[0] <= cutoff), key=lambda p: p[0])
        # payroll: deposit by payday - 7 normally
        payday = c["payday"]
        deadline = payday - 7
        if (cid, ms) in LATE_DEPOSITS:
            dep = [(deadline - 1, 60), (deadline + 3, 40)]
        else:
            dep = [(max(1, deadline - RNG.randint(0, 3)), 100)]
        if (cid, ms) == (ADVANCE["county"], month_str(ADVANCE["on"].year, ADVANCE["on"].month)):
            dep = [(deadline - 1, 55), (ADVANCE["on"].day, 45)]
        G.month_plan[(cid, ms)] = dict(revenue=items, pays=pays, deposits=dep, payday=payday,
                                       carry=0)


# ---- the daily loop ----------------------------------------------------------------

def city_tranche_due(today: dt.date) -> bool:
    if today == TIGHT_TRANCHE:
        return True
    if (today.year, today.month) == (2021, 9):
        return False                      # the September 25 tranche is late (holiday)
    if (today.year, today.month) == (2022, 2):
        return today.day == 18
    return today.day == 25 and today < D(2022, 2, 1)


def estimate_month(y: int, m: int) -> int:
    """What the bureau expects to pay out in (y, m): general + pre_notified."""
    ms = month_str(y, m)
    total = 0
    for cid in CIDS:
        if COUNTIES[cid]["reg"] > D(y, m, last_day(y, m)):
            continue
        key = (cid, "general", y)
        ent = G.entitled[key]
        if ent == 0:     # not yet notified: use the planned allocation
            ent = sum(a["amount"] for day, lst in ALLOC.items() for a in lst
                      if a["county"] == cid and a["fund"] == "general" and a["fiscal_year"] == y
                      and day <= D(y, m, last_day(y, m)))
        need = ent - G.dispatched[key]
        r = 13 - m
        total += max(0, need if r == 1 else need // r)
        total += sum(v for (k_c, k_fy, k_m), v in G.pre_sched.items()
                     if k_c == cid and k_m == ms)
    return total


def day_step(today: dt.date):
    y, m, d = today.year, today.month, today.day
    ms = month_str(y, m)
    G.flush_pending(today)

    # 1. registrations
    for cid in CIDS:
        c = COUNTIES[cid]
        if c["reg"] == today:
            o_ref = cents(c["wage"] + c["exp"])
            mi = max(0, mindex(y, m))
            open_cash = o_ref * level_target(cid, mi) // 1000
            open_wr = cents(c["open_wr"])
            open_tr = jitter(max(0, open_cash - open_wr), 3) if cid != "lvhai" else cents(6_000_000)
            G.registered[cid] = today
            G.bal[f"{cid}.treasury"] += open_tr
            G.bal[f"{cid}.wage_reserve"] += open_wr
            G.emit({"kind": "county_registered", "county": cid, "name": c["name"],
                    "registered_on": today.isoformat(), "opening_treasury": fmt(open_tr),
                    "opening_wage_reserve": fmt(open_wr)}, today)
    # 2. risk lines
    if today == D(2021, 1, 1):
        G.emit({"kind": "risk_lines_set", "warning_line": "0.3000", "alert_line": "0.5000",
                "idle_line": "1.5000", "effective_from": "2021-01-01"}, today)
    if today == D(2021, 7, 1):
        G.emit({"kind": "risk_lines_set", "warning_line": "0.3000", "alert_line": "0.5000",
                "idle_line": "1.2000", "effective_from": "2021-07-01"}, today)
    if today == POLICY_SWITCH["recorded"]:
        G.notes["policy_switch"] = G.emit(
            {"kind": "planning_policy_set", "policy": POLICY_SWITCH["policy"],
             "effective_from": POLICY_SWITCH["effective_from"].isoformat()}, today)
    if today == D(2021, 10, 1):
        G.emit({"kind": "risk_lines_set", "county": "beigang", "warning_line": "0.2000",
                "alert_line": "0.4000", "idle_line": "2.0000",
                "effective_from": "2021-10-01"}, today)

    # 3. allocations notified (with the province's money for in_execution and direct)
    todays = ALLOC.get(today, [])
    prov = defaultdict(int)
    for a in todays:
        if a["fund"] in ("in_execution", "direct"):
            prov[a["fund"]] += a["amount"]
    for fund in ("in_execution", "direct"):
        if prov[fund]:
            ev_city_funds(today, fund, prov[fund],
                          f"省财政厅{'执行中补助' if fund == 'in_execution' else '直达资金'}"
                          f"资金调度〔{y}〕{m:02d}{d:02d}号（虚构）")
    if today == START:
        jan = estimate_month(2021, 1)
        opening = (jan + cents(220_000_000)) // WAN * WAN
        ev_city_funds(today, "general", opening, "2020年末市本级库款余额（期初，虚构）")
    if city_tranche_due(today):
        ny, nm = add_months(y, m, 1) if today != TIGHT_TRANCHE else (y, m)
        est = estimate_month(ny, nm)
        amt = (est * 101 // 100 + WAN - 1) // WAN * WAN
        ev_city_funds(today, "general", amt,
                      f"省财政厅{ny}年{nm}月资金调度（财力性及提前告知专项，虚构）")
    for a in todays:
        ev = {"kind": "allocation_notified", "county": a["county"], "fund": a["fund"],
              "fiscal_year": a["fiscal_year"], "program": a["program"],
              "amount": fmt(a["amount"]), "notified_on": today.isoformat()}
        if "schedule" in a:
            ev["schedule"] = a["schedule"]
            for it in a["schedule"]:
                G.pre_sched[(a["county"], a["fiscal_year"], it["month"])] += \
                    int(it["amount"].replace(".", ""))
        G.entitled[(a["county"], a["fund"], a["fiscal_year"])] += a["amount"]
        G.emit(ev, today)
        if a["fund"] == "in_execution":
            ny, nm = add_months(y, m, 1)
            G.inexec_due[month_str(ny, nm)].append((a["county"], a["fiscal_year"], a["amount"]))
        if a["fund"] == "direct" and not a.get("overdue"):
            G.direct_queue.append((today + dt.timedelta(days=RNG.randint(0, 1)), a))
        if a.get("overdue"):
            G.direct_queue.append((OVERDUE_DIRECT["dispatched"], a))
            G.notes["overdue_direct_notice"] = G.out[-1]

    # 4. needs budgeted
    for n in NEEDS.get(today, []):
        ev = {"kind": "needs_budgeted", "county": n["county"], "fiscal_year": n["fiscal_year"],
              "category": n["category"], "amount": fmt(n["amount"]),
              "budgeted_on": today.isoformat()}
        if "schedule" in n:
            ev["schedule"] = [{"month": month_str(n["fiscal_year"], mm), "amount": fmt(p)}
                              for mm, p in n["schedule"]]
        G.emit(ev, today)

    # 5. wage bills: month m+1 declared on the 18th; January 2021 on Jan 4; lvhai on start
    decl = []
    if today == START:
        decl = [(cid, 2021, 1) for cid in CIDS if COUNTIES[cid]["reg"] <= today]
    elif d == 18:
        ny, nm = add_months(y, m, 1)
        decl = [(cid, ny, nm) for cid in CIDS if COUNTIES[cid]["reg"] <= today]
    if today == D(2021, 4, 6):
        decl.append(("lvhai", 2021, 4))
    for cid, wy, wm in decl:
        wms = month_str(wy, wm)
        amt = wage_for(cid, wy, wm)
        G.wage_bill[(cid, wms)] = amt
        payday = D(wy, wm, COUNTIES[cid]["payday"])
        G.emit({"kind": "wage_bill_declared", "county": cid, "payroll_month": wms,
                "amount": fmt(amt), "payday": payday.isoformat(),
                "declared_on": today.isoformat()}, today)
    if today == WAGE_REVISION["on"]:
        cid, wms = WAGE_REVISION["county"], WAGE_REVISION["month"]
        amt = G.wage_bill[(cid, wms)] + WAGE_REVISION["extra"]
        G.wage_bill[(cid, wms)] = amt
        G.emit({"kind": "wage_bill_declared", "county": cid, "payroll_month": wms,
                "amount": fmt(amt), "payday": D(2021, 7, COUNTIES[cid]["payday"]).isoformat(),
                "declared_on": today.isoformat()}, today)
        G.notes["wage_revision"] = G.out[-1]

    # month start decisions (after the 1st's notices are known)
    if d == 1 or today == D(2021, 1, 1):
        start_month(y, m)

    # 6. transfers
    gen_day = 8 if (y, m) == (2021, 10) else 5
    pm = ms if today >= D(2021, 7, 1) else None
    if d == gen_day or (today == D(2021, 4, 7)):
        for cid in CIDS:
            if COUNTIES[cid]["reg"] > today:
                continue
            if d != gen_day and cid != "lvhai":
                continue
            if d == gen_day and cid == "lvhai" and (y, m) == (2021, 4):
                continue
            amt = general_amount(cid, y, m)
            if amt > 0:
                ev_transfer(today, cid, "general", y, amt,
                            f"市财政局{y}年{m}月财力性转移支付调度（虚构）", pm)
                if cid == DUPLICATE["county"] and (y, m) == (2021, 6):
                    G.dup_amount = amt
    if today == DUPLICATE["on"]:
        cid = DUPLICATE["county"]
        ev = ev_transfer(today, cid, "general", y, G.dup_amount,
                         f"市财政局{y}年{m}月财力性转移支付调度（虚构）")
        G.notes["duplicate_transfer"] = ev
        G.hold[cid] += G.dup_amount          # the county noticed and did not spend it
    if d == 10:
        for cid in CIDS:
            for fy in (y,):
                amt = G.pre_sched.get((cid, fy, ms), 0)
                if amt > 0 and COUNTIES[cid]["reg"] <= today:
                    ev_transfer(today, cid, "pre_notified", fy, amt,
                                f"提前告知专项资金按计划调度 {ms}（虚构）",
                                pm if RNG.random() < 0.7 else None)
    if d == 12:
        for cid, fy, amt in G.inexec_due.get(ms, []):
            ev_transfer(today, cid, "in_execution", fy, amt,
                        f"执行中下达补助资金次月调度 {ms}（虚构）", pm)
    for when, a in [q for q in G.direct_queue if q[0] == today]:
        ev = ev_transfer(today, a["county"], "direct", a["fiscal_year"], a["amount"],
                         f"直达资金即时调度：{a['program']}（虚构）")
        if a.get("overdue"):
            G.notes["overdue_direct_dispatch"] = ev
    G.direct_queue = [q for q in G.direct_queue if q[0] != today]
    # 7. emergency dispatches
    for spec, mode, reason, by in (
            (GRANT, "grant", "2021年8月上旬强降雨致灾，保障受灾群众基本生活和救灾支出（样例）",
             "市政府常务会议（虚构）"),
            (ADVANCE, "advance", "库款保障水平低于预警线且11月工资保障户资金不足，提前调度一般性转移支付（样例）",
             "市财政局局长办公会（虚构）")):
        if today == spec["on"]:
            cid = spec["county"]
            if mode == "advance":
                key = (cid, "general", y)
                assert G.dispatched[key] + spec["amount"] <= G.entitled[key]
                G.dispatched[key] += spec["amount"]
            G.move("city.treasury", f"{cid}.treasury", spec["amount"])
            G.emit({"kind": "emergency_dispatched", "county": cid, "amount": fmt(spec["amount"]),
                    "value_date": today.isoformat(), "mode": mode, "reason": reason,
                    "approved_by": by}, today)
            G.notes[mode] = G.out[-1]

    # 8. revenue
    for cid in CIDS:
        mp = G.month_plan.get((cid, ms))
        if not mp:
            continue
        for d_, cat, amt in mp["revenue"]:
            if d_ != d or amt <= 0:
                continue
            G.move(None, f"{cid}.treasury", amt)
            ev = {"kind": "revenue_collected", "county": cid, "amount": fmt(amt),
                  "collected_on": today.isoformat(), "category": cat}
            if cat == "other" and RNG.random() < 0.5:
                del ev["category"]          # default category is `other`
            if cid == BACKDATED_REVENUE["county"] and today == BACKDATED_REVENUE["on"]:
                G.hold[cid] += amt
                G.backdated_revenue_hold = amt
                G.notes["backdated_revenue"] = ev
                G.emit(ev, today, BACKDATED_REVENUE["recorded"])
            else:
                G.emit(ev, today)
    if today == D(2021, 10, 8):
        # the tax receipt the treasury system booked on 09-30 (see the discrepancy)
        cid = DISCREPANCY["county"]
        G.move(None, f"{cid}.treasury", DISCREPANCY["amount"])
        G.emit({"kind": "revenue_collected", "county": cid, "amount": fmt(DISCREPANCY["amount"]),
                "collected_on": today.isoformat(), "category": "tax"}, today)
        G.notes["discrepancy_explained_by"] = G.out[-1]
    if today == BACKDATED_REVENUE["recorded"]:
        G.hold[BACKDATED_REVENUE["county"]] -= G.backdated_revenue_hold

    # 9. payroll deposits (and the hold that protects this month's payroll)
    if today == ARREARS["made_good"]:
        # December's unpaid bonus first: deposited and paid on the day January's general
        # transfer arrives (a late deposit, made good)
        cid, pm = ARREARS["county"], ARREARS["month"]
        owed = G.arrears_unpaid
        assert owed > 0 and G.wage_bill[(cid, pm)] - G.deposited[(cid, pm)] == owed
        assert G.bal[f"{cid}.treasury"] - (G.hold[cid] - G.payroll_hold.get(cid, 0)) >= owed
        G.move(f"{cid}.treasury", f"{cid}.wage_reserve", owed)
        G.deposited[(cid, pm)] += owed
        ev = G.emit({"kind": "payroll_deposited", "county": cid, "payroll_month": pm,
                     "amount": fmt(owed), "deposited_on": today.isoformat()}, today)
        G.notes.setdefault("late_deposits", []).append(ev)
        G.notes["arrears_made_good_deposit"] = ev
        G.move(f"{cid}.wage_reserve", None, owed)
        G.outflow[(cid, ms)] += owed
        G.notes["arrears_made_good_paid"] = G.emit(
            {"kind": "wages_paid", "county": cid, "payroll_month": pm, "amount": fmt(owed),
             "paid_on": today.isoformat()}, today)
        G.arrears_unpaid = 0
        refresh_payroll_hold(cid, today)
    for cid in CIDS:
        mp = G.month_plan.get((cid, ms))
        if not mp:
            continue
        bill = G.wage_bill.get((cid, ms), 0)
        if bill == 0:
            continue
        key = (cid, ms)
        done = G.deposited[key]
        for k, (dd, pct) in enumerate(mp["deposits"]):
            if dd != d:
                continue
            last = k == len(mp["deposits"]) - 1
            want = (bill - done) if last else bill * pct // 100 // WAN * WAN
            want = min(want, bill - done)
            can = G.bal[f"{cid}.treasury"] - (G.hold[cid] - G.payroll_hold.get(cid, 0))
            amt = min(want, can)
            if amt < want and (cid, ms) == (ARREARS["county"], ARREARS["month"]):
                # the whole bill does not fit: the base wages go in, the year-end bonus
                # waits for January's general transfer (the money of 12-10 is earmarked)
                base = bill * 10 // 13
                assert done == 0 and base <= can < bill, (base, can, bill)
                amt = base
                G.arrears_deferred = bill - base
                G.notes["arrears_deposit"] = "next"
            elif amt < want:
                # cannot fund it in full: deposit what there is, try again tomorrow
                mp["deposits"].append((d + 1, 100))
                amt = amt // WAN * WAN
            if amt > 0:
                G.move(f"{cid}.treasury", f"{cid}.wage_reserve", amt)
                G.deposited[key] += amt
                done += amt
                ev = G.emit({"kind": "payroll_deposited", "county": cid, "payroll_month": ms,
                             "amount": fmt(amt), "deposited_on": today.isoformat()}, today)
                if d > mp["payday"] - 7:
                    G.notes.setdefault("late_deposits", []).append(ev)
                if G.notes.get("arrears_deposit") == "next":
                    G.notes["arrears_deposit"] = ev
    # 10. wages paid
    for cid in CIDS:
        mp = G.month_plan.get((cid, ms))
        if not mp or mp["payday"] != d:
            continue
        bill = G.wage_bill.get((cid, ms), 0)
        if bill == 0:
            continue
        pay = bill
        if (cid, ms) == (ARREARS["county"], ARREARS["month"]) and G.arrears_deferred:
            # payday: what is in the wage reserve (the base wages); the rest is owed
            pay = G.deposited[(cid, ms)]
            G.arrears_unpaid = bill - pay
            G.arrears_deferred = 0
        assert G.deposited[(cid, ms)] == pay, (cid, ms, G.deposited[(cid, ms)], bill)
        G.move(f"{cid}.wage_reserve", None, pay)
        G.outflow[(cid, ms)] += pay
        ev = G.emit({"kind": "wages_paid", "county": cid, "payroll_month": ms,
                     "amount": fmt(pay), "paid_on": today.isoformat()}, today)
        if pay < bill:
            G.notes["arrears_paid_part"] = ev
    # 11. expenditures
    if today == ARREARS["bond_on"]:
        # a maturing bond instalment (到期债券还本) falls due: paid on its date, before
        # the payroll deposit, whatever the county had set aside
        cid = ARREARS["county"]
        G.move(f"{cid}.treasury", None, ARREARS["bond"])
        G.outflow[(cid, ms)] += ARREARS["bond"]
        G.notes["bond_instalment"] = G.emit(
            {"kind": "expenditure_paid", "county": cid, "amount": fmt(ARREARS["bond"]),
             "paid_on": today.isoformat(), "category": "debt_service"}, today)
    for cid in CIDS:
        mp = G.month_plan.get((cid, ms))
        if not mp:
            continue
        refresh_payroll_hold(cid, today)
        for d_, cat, amt in mp["pays"]:
            if d_ != d:
                continue
            want = amt + mp["carry"]
            can = G.avail(cid)
            pay = min(want, can)
            pay = pay // 100 * 100 if pay < want else pay
            if pay < cents(50_000):
                mp["carry"] = want
                continue
            mp["carry"] = want - pay
            G.move(f"{cid}.treasury", None, pay)
            G.outflow[(cid, ms)] += pay
            ev = {"kind": "expenditure_paid", "county": cid, "amount": fmt(pay),
                  "paid_on": today.isoformat(), "category": cat}
            if cid == BACKDATED_EXPENSE["county"] and today == BACKDATED_EXPENSE["on"] \
                    and "backdated_expense" not in G.notes:
                G.notes["backdated_expense"] = ev
                G.emit(ev, today, BACKDATED_EXPENSE["recorded"])
            else:
                G.emit(ev, today)
        if cid == BACKDATED_EXPENSE["county"] and today == BACKDATED_EXPENSE["on"]:
            assert "backdated_expense" in G.notes, "no longgang payment on the backdated day"
    # 12. the reversal of the duplicate transfer (money returned on the 18th, entered 21st)
    if today == DUPLICATE["reversal_on"]:
        cid = DUPLICATE["county"]
        target = G.notes["duplicate_transfer"]
        amt = int(target["amount"].replace(".", ""))
        G.hold[cid] -= amt
        G.move(f"{cid}.treasury", "city.treasury", amt)
        G.dispatched[(cid, "general", 2021)] -= amt
        ev = {"kind": "event_reversed", "_target": target,
              "reason": "6月10日财力性转移支付重复调拨，县级已于6月18日退回市级国库（样例）",
              "on": today.isoformat()}
        G.notes["reversal"] = ev
        G.emit(ev, today, DUPLICATE["reversal_recorded"])
    # 13. month-end balance reports (December's are entered on January 5)
    if d == last_day(y, m) or today == END:
        if today == END:
            return
        rec = D(2022, 1, 5) if m == 12 else None
        for cid in CIDS:
            if COUNTIES[cid]["reg"] > today:
                continue
            accounts = ["treasury"] + (["wage_reserve"] if m in (3, 6, 9, 12) else [])
            for acct in accounts:
                b = G.bal[f"{cid}.{acct}"]
                ev = {"kind": "balance_reported", "county": cid, "account": acct,
                      "on": today.isoformat(), "balance": fmt(b)}
                if cid == DISCREPANCY["county"] and today == DISCREPANCY["on"] \
                        and acct == "treasury":
                    ev["balance"] = fmt(b + DISCREPANCY["amount"])
                    G.notes["discrepancy"] = ev
                G.emit(ev, today, rec)


def refresh_payroll_hold(cid: str, today: dt.date):
    """Keep this month's undeposited payroll (and next month's, for counties that deposit
    before the general transfer arrives) out of reach of ordinary spending."""
    y, m = today.year, today.month
    ms = month_str(y, m)
    h = 0
    bill = G.wage_bill.get((cid, ms), 0)
    if bill:
        h += bill - G.deposited[(cid, ms)]
    if cid == ARREARS["county"]:
        if ms == ARREARS["month"]:
            h -= G.arrears_deferred + G.arrears_unpaid   # the bonus waits for January
        elif today < ARREARS["made_good"]:
            h += G.arrears_unpaid             # ... and January's money is kept for it
    payday = COUNTIES[cid]["payday"]
    if payday - 7 - 3 < 5 and today.day >= 20:
        ny, nm = add_months(y, m, 1)
        h += G.wage_bill.get((cid, month_str(ny, nm)), 0)
    old = G.payroll_hold.get(cid, 0)
    G.hold[cid] += h - old
    G.payroll_hold[cid] = h


def generate():
    G.direct_queue = []
    G.payroll_hold = {}
    G.dup_amount = 0
    G.arrears_deferred = 0      # December's bonus not deposited (between deposit and payday)
    G.arrears_unpaid = 0        # December's bonus owed after payday
    plan_allocations()
    plan_needs()
    today = START
    while today <= END:
        for cid in CIDS:
            if COUNTIES[cid]["reg"] <= today:
                refresh_payroll_hold(cid, today)
        day_step(today)
        today += dt.timedelta(days=1)
    assert not G.pending, G.pending
    # remove private keys
    for ev in G.out:
        assert not any(k.startswith("_") for k in ev), ev
    return G.out


# --------------------------------------------------------------------------------------
# Independent validator and projections (read back from events.jsonl)
# --------------------------------------------------------------------------------------

AMOUNT_RE = re.compile(r"^[0-9]{1,13}(\.[0-9]{1,2})?$")
RATIO_RE = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,4})?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
COUNTY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
FUNDS = ["general", "pre_notified", "in_execution", "direct"]

KINDS = {
    "county_registered": ({"county", "name", "registered_on"},
                          {"opening_treasury", "opening_wage_reserve"}, "registered_on"),
    "city_funds_received": ({"fund", "amount", "received_on"}, {"reference"}, "received_on"),
    "allocation_notified": ({"county", "fund", "fiscal_year", "program", "amount", "notified_on"},
                            {"schedule"}, "notified_on"),
    "transfer_allocated": ({"county", "fund", "fiscal_year", "amount", "value_date"},
                           {"plan_month", "reference"}, "value_date"),
    "emergency_dispatched": ({"county", "amount", "value_date", "mode", "reason", "approved_by"},
                             set(), "value_date"),
    "payroll_deposited": ({"county", "payroll_month", "amount", "deposited_on"}, set(),
                          "deposited_on"),
    "wage_bill_declared": ({"county", "payroll_month", "amount", "payday", "declared_on"}, set(),
                           "declared_on"),
    "wages_paid": ({"county", "payroll_month", "amount", "paid_on"}, set(), "paid_on"),
    "revenue_collected": ({"county", "amount", "collected_on"}, {"category"}, "collected_on"),
    "expenditure_paid": ({"county", "amount", "paid_on", "category"}, set(), "paid_on"),
    "balance_reported": ({"county", "account", "on", "balance"}, set(), "on"),
    "needs_budgeted": ({"county", "fiscal_year", "category", "amount", "budgeted_on"},
                       {"schedule"}, "budgeted_on"),
    "risk_lines_set": ({"warning_line", "alert_line", "idle_line", "effective_from"}, {"county"},
                       "effective_from"),
    "plan_issued": ({"month", "based_on_seq", "plan_sha256", "issued_on"}, set(), "issued_on"),
    "event_reversed": ({"reverses_seq", "reason", "on"}, set(), "on"),
    # docs/planning-policy-v2.md §1: city-wide, no flows, not reversible
    "planning_policy_set": ({"policy", "effective_from"}, set(), "effective_from"),
}
REVERSIBLE = {"city_funds_received", "allocation_notified", "transfer_allocated",
              "emergency_dispatched", "payroll_deposited", "wages_paid", "revenue_collected",
              "expenditure_paid", "needs_budgeted"}


def amt_c(s: str, zero_ok: bool = False) -> int:
    assert isinstance(s, str) and AMOUNT_RE.match(s), s
    whole, _, frac = s.partition(".")
    c = int(whole) * 100 + int((frac + "00")[:2])
    assert c > 0 or zero_ok, s
    return c


def ratio_f(s: str) -> Fraction:
    assert isinstance(s, str) and RATIO_RE.match(s), s
    return Fraction(s)


def pdate(s: str) -> dt.date:
    assert isinstance(s, str) and DATE_RE.match(s), s
    v = dt.date.fromisoformat(s)
    assert D(2000, 1, 1) <= v <= D(2099, 12, 31)
    return v


def text(s):
    assert isinstance(s, str) and 1 <= len(s) <= 200, s
    assert not any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in s), s


def check_schedule(sched, fy, total):
    assert isinstance(sched, list) and sched
    months = set()
    s = 0
    for it in sched:
        assert set(it) == {"month", "amount"}, it
        assert MONTH_RE.match(it["month"]) and int(it["month"][:4]) == fy, (it, fy)
        assert it["month"] not in months
        months.add(it["month"])
        s += amt_c(it["amount"])
    assert s == total, (s, total)


def check_format(ev: dict) -> dt.date:
    kind = ev.get("kind")
    assert kind in KINDS, kind
    req, opt, eff_field = KINDS[kind]
    keys = set(ev) - {"kind"}
    assert req <= keys, (kind, req - keys)
    assert keys <= req | opt, (kind, keys - req - opt)
    if "county" in ev:
        assert isinstance(ev["county"], str) and COUNTY_RE.match(ev["county"])
    if "fiscal_year" in ev:
        assert type(ev["fiscal_year"]) is int and 2000 <= ev["fiscal_year"] <= 2099
    if "fund" in ev:
        assert ev["fund"] in FUNDS
    for f in ("name", "program", "reason", "approved_by", "reference"):
        if f in ev:
            text(ev[f])
    for f in ("registered_on", "received_on", "notified_on", "value_date", "deposited_on",
              "payday", "declared_on", "paid_on", "collected_on", "on", "budgeted_on",
              "effective_from", "issued_on"):
        if f in ev:
            pdate(ev[f])
    if kind == "county_registered":
        for f in ("opening_treasury", "opening_wage_reserve"):
            if f in ev:
                amt_c(ev[f], zero_ok=True)
    elif kind == "balance_reported":
        amt_c(ev["balance"], zero_ok=True)
        assert ev["account"] in ("treasury", "wage_reserve")
    elif "amount" in ev:
        amt_c(ev["amount"])
    if "payroll_month" in ev:
        assert MONTH_RE.match(ev["payroll_month"])
    if kind == "wage_bill_declared":
        assert ev["payday"][:7] == ev["payroll_month"]
    if kind == "allocation_notified":
        if ev["fund"] == "pre_notified":
            check_schedule(ev["schedule"], ev["fiscal_year"], amt_c(ev["amount"]))
        else:
            assert "schedule" not in ev
        if ev["fund"] == "in_execution":
            assert int(ev["notified_on"][:4]) == ev["fiscal_year"]
    if kind == "needs_budgeted":
        assert ev["category"] in ("wages", "livelihood", "operations", "debt_service")
        if "schedule" in ev:
            check_schedule(ev["schedule"], ev["fiscal_year"], amt_c(ev["amount"]))
    if kind == "transfer_allocated" and "plan_month" in ev:
        assert MONTH_RE.match(ev["plan_month"])
    if kind == "revenue_collected" and "category" in ev:
        assert ev["category"] in ("tax", "non_tax", "other")
    if kind == "expenditure_paid":
        assert ev["category"] in ("livelihood", "operations", "debt_service", "other")
    if kind == "emergency_dispatched":
        assert ev["mode"] in ("grant", "advance")
    if kind == "risk_lines_set":
        w, a, i = (ratio_f(ev[f]) for f in ("warning_line", "alert_line", "idle_line"))
        assert 0 < w < a < i
    if kind == "event_reversed":
        assert type(ev["reverses_seq"]) is int and ev["reverses_seq"] >= 1
    if kind == "planning_policy_set":
        assert isinstance(ev["policy"], str) and ev["policy"] in ("v1", "v2"), ev
    return pdate(ev[eff_field])


def flows(ev: dict) -> list[tuple[str, int]]:
    """(account, signed cents) effects of a non-reversal event."""
    k = ev["kind"]
    c = ev.get("county")
    if k == "county_registered":
        return [(f"{c}.treasury", amt_c(ev.get("opening_treasury", "0"), True)),
                (f"{c}.wage_reserve", amt_c(ev.get("opening_wage_reserve", "0"), True))]
    if k == "city_funds_received":
        return [("city.treasury", amt_c(ev["amount"]))]
    if k in ("transfer_allocated", "emergency_dispatched"):
        a = amt_c(ev["amount"])
        return [("city.treasury", -a), (f"{c}.treasury", a)]
    if k == "payroll_deposited":
        a = amt_c(ev["amount"])
        return [(f"{c}.treasury", -a), (f"{c}.wage_reserve", a)]
    if k == "wages_paid":
        return [(f"{c}.wage_reserve", -amt_c(ev["amount"]))]
    if k == "revenue_collected":
        return [(f"{c}.treasury", amt_c(ev["amount"]))]
    if k == "expenditure_paid":
        return [(f"{c}.treasury", -amt_c(ev["amount"]))]
    return []


class Log:
    """Events with seq, effective dates and a uniform 'fact' view (reversals expanded)."""

    def __init__(self, events: list[dict]):
        self.events = events
        self.eff: list[dt.date] = []
        self.reversed_by: dict[int, int] = {}
        for i, ev in enumerate(events, 1):
            self.eff.append(check_format(ev))

    def facts(self, at_seq: int):
        """Yield (seq, date, event, sign): each event, and each reversal as its target
        with sign -1 dated at the reversal's `on`."""
        for i in range(1, at_seq + 1):
            ev = self.events[i - 1]
            if ev["kind"] == "event_reversed":
                t = ev["reverses_seq"]
                yield i, self.eff[i - 1], self.events[t - 1], -1
            else:
                yield i, self.eff[i - 1], ev, 1


def validate(events: list[dict]):
    log = Log(events)
    deltas: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    registered: dict[str, dt.date] = {}
    entitled = defaultdict(int)
    dispatched = defaultdict(int)
    reversed_ = set()

    def disp_key(ev):
        if ev["kind"] == "transfer_allocated":
            return (ev["county"], ev["fund"], ev["fiscal_year"])
        if ev["kind"] == "emergency_dispatched" and ev["mode"] == "advance":
            return (ev["county"], "general", int(ev["value_date"][:4]))
        return None

    def apply_ent(ev, sign):
        if ev["kind"] == "allocation_notified":
            entitled[(ev["county"], ev["fund"], ev["fiscal_year"])] += sign * amt_c(ev["amount"])
        k = disp_key(ev)
        if k:
            dispatched[k] += sign * amt_c(ev["amount"])
        return [k] if k else ([(ev["county"], ev["fund"], ev["fiscal_year"])]
                              if ev["kind"] == "allocation_notified" else [])

    for seq, ev in enumerate(events, 1):
        eff = log.eff[seq - 1]
        kind = ev["kind"]
        sign = 1
        target = ev
        if kind == "event_reversed":
            t = ev["reverses_seq"]
            assert t < seq, "reversal target must exist"
            target = events[t - 1]
            assert target["kind"] in REVERSIBLE, target["kind"]
            assert t not in reversed_, "already reversed"
            assert eff >= log.eff[t - 1], "reversal before its target's date"
            reversed_.add(t)
            sign = -1
        if kind == "county_registered":
            assert ev["county"] not in registered
            registered[ev["county"]] = eff
        elif "county" in ev:
            assert ev["county"] in registered and registered[ev["county"]] <= eff, \
                (seq, ev)
        if kind == "event_reversed" and "county" in target:
            assert registered[target["county"]] <= eff
        touched = []
        for acct, v in flows(target):
            if v:
                deltas[acct][eff] += sign * v
                touched.append(acct)
        for acct in touched:
            run = 0
            for day in sorted(deltas[acct]):
                run += deltas[acct][day]
                if day >= eff:
                    assert run >= 0, f"seq {seq}: {acct} negative ({run}) on {day}"
        for k in apply_ent(target, sign):
            assert dispatched[k] <= entitled[k], f"seq {seq}: rule 3 broken for {k}"
    return log


def self_test_validator():
    """The validator's reading of planning_policy_set (docs/planning-policy-v2.md §1):
    exactly `policy` ("v1" or "v2") and `effective_from`, no flows, not reversible."""
    def rejected(f):
        try:
            f()
        except AssertionError:
            return True
        return False
    ok = {"kind": "planning_policy_set", "policy": "v1", "effective_from": "2021-09-30"}
    assert check_format(ok) == D(2021, 9, 30) and flows(ok) == []
    for bad in ({"policy": "V2"}, {"policy": " v2"}, {"policy": 2}, {"policy": None},
                {"effective_from": "2021-9-30"}, {"effective_from": "1999-12-31"},
                {"county": "jianchang"}, {"reason": "x"}):
        assert rejected(lambda: check_format({**ok, **bad})), bad
    for missing in ("policy", "effective_from"):
        assert rejected(lambda: check_format({k: v for k, v in ok.items() if k != missing}))
    reg = {"kind": "county_registered", "county": "a", "name": "甲",
           "registered_on": "2021-01-01"}
    assert rejected(lambda: validate([reg, ok, {"kind": "event_reversed", "reverses_seq": 2,
                                                "reason": "撤销", "on": "2021-10-01"}]))
    validate([reg, ok])


# ---- projections used for checkpoints -----------------------------------------------

def default_as_of(log: Log, at_seq: int) -> dt.date:
    return max(log.eff[:at_seq])


def balances(log: Log, at_seq: int, as_of: dt.date) -> dict[str, int]:
    b = defaultdict(int)
    for seq, day, ev, sign in log.facts(at_seq):
        if day <= as_of:
            for acct, v in flows(ev):
                b[acct] += sign * v
    return b


def registered_counties(log: Log, at_seq: int, on: dt.date) -> list[str]:
    return sorted(ev["county"] for ev in log.events[:at_seq]
                  if ev["kind"] == "county_registered" and pdate(ev["registered_on"]) <= on)


def round_half_even(fr: Fraction) -> int:
    fl = fr.numerator // fr.denominator
    rem = fr - fl
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2 == 1):
        fl += 1
    return fl


def window_months(as_of: dt.date) -> list[tuple[int, int]]:
    y, m = as_of.year, as_of.month
    if as_of.day != last_day(y, m):
        y, m = add_months(y, m, -1)
    return [add_months(y, m, -k) for k in (2, 1, 0)]


def month_need(log: Log, at_seq: int, cid: str, y: int, m: int, upto: dt.date,
               category: str | None = None) -> int:
    """The county's budgeted need of month (y, m), every category or just `category`."""
    total = 0
    for seq, day, ev, sign in log.facts(at_seq):
        if ev["kind"] != "needs_budgeted" or ev["county"] != cid or ev["fiscal_year"] != y:
            continue
        if category is not None and ev["category"] != category:
            continue
        if day > upto:
            continue
        if "schedule" in ev:
            v = sum(amt_c(it["amount"]) for it in ev["schedule"]
                    if it["month"] == month_str(y, m))
        else:
            a = amt_c(ev["amount"])
            v = a // 12 + (a - a // 12 * 12 if m == 12 else 0)
        total += sign * v
    return total


def lines_in_force(log: Log, at_seq: int, cid: str, on: dt.date):
    best_c = best_g = None
    for i in range(at_seq):
        ev = log.events[i]
        if ev["kind"] != "risk_lines_set" or log.eff[i] > on:
            continue
        key = (log.eff[i], i)
        if ev.get("county") == cid:
            if best_c is None or key > best_c[0]:
                best_c = (key, ev)
        elif "county" not in ev:
            if best_g is None or key > best_g[0]:
                best_g = (key, ev)
    ev = (best_c or best_g or (None, None))[1]
    if ev is None:
        return Fraction(3, 10), Fraction(1, 2), Fraction(3, 2)
    return tuple(ratio_f(ev[f]) for f in ("warning_line", "alert_line", "idle_line"))


def avg_monthly_outflow(log: Log, at_seq: int, as_of: dt.date, cids) -> dict[str, int]:
    """SPEC §6.2 avg_monthly_outflow per county in cents (0 when it is null): the
    window's expenditure + wages / 3, else the budgeted need of as_of's month."""
    win = {month_str(y, m) for y, m in window_months(as_of)}
    outflow = defaultdict(int)
    for seq, day, ev, sign in log.facts(at_seq):
        if ev["kind"] in ("expenditure_paid", "wages_paid") and \
                day.isoformat()[:7] in win and day <= as_of:
            outflow[ev["county"]] += sign * amt_c(ev["amount"])
    res = {}
    for cid in cids:
        avg = round_half_even(Fraction(outflow[cid], 3))
        if avg <= 0:
            avg = month_need(log, at_seq, cid, as_of.year, as_of.month, as_of)
        res[cid] = max(0, avg)
    return res


def monitor_levels(log: Log, at_seq: int, as_of: dt.date) -> dict[str, dict]:
    b = balances(log, at_seq, as_of)
    cids = registered_counties(log, at_seq, as_of)
    avgs = avg_monthly_outflow(log, at_seq, as_of, cids)
    res = {}
    for cid in cids:
        cash = b[f"{cid}.treasury"] + b[f"{cid}.wage_reserve"]
        avg = avgs[cid]
        if avg <= 0:
            level = None
        else:
            level = Fraction(round_half_even(Fraction(cash, avg) * 10000), 10000)
        w, a, i = lines_in_force(log, at_seq, cid, as_of)
        if level is None:
            status = "unknown"
        elif level < w:
            status = "warning"
        elif level < a:
            status = "low"
        elif level > i:
            status = "idle"
        else:
            status = "normal"
        res[cid] = dict(cash=fmt(cash), avg_monthly_outflow=fmt(avg) if avg > 0 else None,
                        guarantee_level=None if level is None else ratio4(level),
                        status=status, lines=[ratio4(w), ratio4(a), ratio4(i)])
    return res


def monitor_extra(log: Log, at_seq: int, as_of: dt.date) -> dict:
    """SPEC §6.2 payroll rows, direct_overdue and discrepancies (independent check)."""
    facts = list(log.facts(at_seq))
    regs = registered_counties(log, at_seq, as_of)
    months = [month_str(as_of.year, as_of.month),
              month_str(*add_months(as_of.year, as_of.month, 1))]
    payroll = []
    for cid in regs:
        for pm in months:
            best = None
            for i in range(at_seq):
                ev = log.events[i]
                if ev["kind"] == "wage_bill_declared" and ev["county"] == cid and \
                        ev["payroll_month"] == pm and log.eff[i] <= as_of:
                    if best is None or (log.eff[i], i) > best[0]:
                        best = ((log.eff[i], i), ev)
            if best is None:
                continue
            bill = amt_c(best[1]["amount"])
            payday = pdate(best[1]["payday"])
            deadline = payday - dt.timedelta(days=7)
            dep = sum(sign * amt_c(ev["amount"]) for _, day, ev, sign in facts
                      if ev["kind"] == "payroll_deposited" and ev["county"] == cid
                      and ev["payroll_month"] == pm and day <= as_of)
            paid = sum(sign * amt_c(ev["amount"]) for _, day, ev, sign in facts
                       if ev["kind"] == "wages_paid" and ev["county"] == cid
                       and ev["payroll_month"] == pm and day <= as_of)
            status = ("paid" if paid >= bill else "funded" if dep >= bill
                      else "late" if as_of > deadline else "due")
            payroll.append(dict(county=cid, payroll_month=pm, wage_bill=fmt(bill),
                                payday=payday.isoformat(), deposit_deadline=deadline.isoformat(),
                                deposited=fmt(dep), paid=fmt(paid),
                                shortfall=fmt(max(0, bill - dep)), status=status))
    overdue = []
    yesterday = as_of - dt.timedelta(days=1)
    per = defaultdict(int)
    for _, day, ev, sign in facts:
        if ev.get("fund") != "direct":
            continue
        if ev["kind"] == "allocation_notified" and day <= yesterday:
            per[(ev["county"], ev["fiscal_year"])] += sign * amt_c(ev["amount"])
        if ev["kind"] == "transfer_allocated" and day <= as_of:
            per[(ev["county"], ev["fiscal_year"])] -= sign * amt_c(ev["amount"])
    for (cid, fy), v in sorted(per.items()):
        if v > 0 and cid in regs:
            overdue.append(dict(county=cid, fiscal_year=fy, undispatched=fmt(v)))
    disc = []
    for cid in regs:
        for acct in ("treasury", "wage_reserve"):
            best = None
            for i in range(at_seq):
                ev = log.events[i]
                if ev["kind"] == "balance_reported" and ev["county"] == cid and \
                        ev["account"] == acct and log.eff[i] <= as_of:
                    if best is None or (log.eff[i], i) > best[0]:
                        best = ((log.eff[i], i), ev)
            if best is None:
                continue
            on = pdate(best[1]["on"])
            computed = balances(log, at_seq, on)[f"{cid}.{acct}"]
            reported = amt_c(best[1]["balance"], True)
            if reported != computed:
                disc.append(dict(county=cid, account=acct, on=on.isoformat(),
                                 reported=fmt(reported), computed=fmt(computed)))
    return dict(payroll=payroll, direct_overdue=overdue, discrepancies=disc)


FUND_ORDER = ["general", "pre_notified", "in_execution", "direct"]


def position_funds(log: Log, at_seq: int, as_of: dt.date, cid: str) -> list[dict]:
    """SPEC §6.1 / §8.19 `funds` of one county (independent check): every
    (fiscal_year, fund) with an allocation or dispatch dated <= as_of; entitled and
    dispatched (advances as general of year(value_date)) with date <= as_of, each
    reversal counting as an opposite flow on its own `on` date (§8.16)."""
    listed = set()
    ent = defaultdict(int)
    dis = defaultdict(int)
    for _, day, ev, sign in log.facts(at_seq):
        if ev.get("county") != cid:
            continue
        k = ev["kind"]
        if k in ("allocation_notified", "transfer_allocated"):
            key = (ev["fiscal_year"], ev["fund"])
        elif k == "emergency_dispatched" and ev["mode"] == "advance":
            key = (int(ev["value_date"][:4]), "general")
        else:
            continue
        if day > as_of:
            continue
        if sign == 1:
            listed.add(key)
        (ent if k == "allocation_notified" else dis)[key] += sign * amt_c(ev["amount"])
    return [dict(fiscal_year=fy, fund=f, entitled=fmt(ent[(fy, f)]),
                 dispatched=fmt(dis[(fy, f)]), remaining=fmt_signed(ent[(fy, f)] - dis[(fy, f)]))
            for fy, f in sorted(listed, key=lambda x: (x[0], FUND_ORDER.index(x[1])))]


def watchlist(levels: dict[str, dict], extra: dict, arrears: list[dict]) -> list[dict]:
    """SPEC §6.2 watchlist (independent check): reasons in the SPEC's order, the level
    reason for status `warning` only (§8.21), then `wage_arrears` for a county with any
    `arrears` row (docs/monitor-v2.md, SPEC §9); counties by id."""
    out = []
    for cid in sorted(levels):
        reasons = []
        if levels[cid]["status"] == "warning":
            reasons.append("guarantee_level_warning")
        if any(r["county"] == cid and r["status"] == "late" for r in extra["payroll"]):
            reasons.append("payroll_late")
        if any(r["county"] == cid for r in extra["direct_overdue"]):
            reasons.append("direct_overdue")
        if any(r["county"] == cid for r in extra["discrepancies"]):
            reasons.append("discrepancy")
        if any(r["county"] == cid for r in arrears):
            reasons.append("wage_arrears")
        if reasons:
            out.append({"county": cid, "reasons": reasons})
    return out


def ratio4(fr: Fraction) -> str:
    v = round_half_even(fr * 10000)
    s = "-" if v < 0 else ""
    v = abs(v)
    return f"{s}{v // 10000}.{v % 10000:04d}"


def plan_lines(log: Log, at_seq: int, month: str) -> dict:
    """SPEC §6.3, lines / tiers / available only (independent cross-check)."""
    y, m = int(month[:4]), int(month[5:])
    B = D(y, m, 1) - dt.timedelta(days=1)
    E = D(y, m, last_day(y, m))
    facts = list(log.facts(at_seq))

    def entitled(cid, fund, fy, upto):
        return sum(sign * amt_c(ev["amount"]) for _, day, ev, sign in facts
                   if ev["kind"] == "allocation_notified" and ev["county"] == cid
                   and ev["fund"] == fund and ev["fiscal_year"] == fy
                   and (upto is None or day <= upto))

    def dispatched(cid, fund, fy, upto):
        s = 0
        for _, day, ev, sign in facts:
            if upto is not None and day > upto:
                continue
            if ev["kind"] == "transfer_allocated" and ev["county"] == cid \
                    and ev["fund"] == fund and ev["fiscal_year"] == fy:
                s += sign * amt_c(ev["amount"])
            if ev["kind"] == "emergency_dispatched" and ev["mode"] == "advance" \
                    and fund == "general" and ev["county"] == cid \
                    and int(ev["value_date"][:4]) == fy:
                s += sign * amt_c(ev["amount"])
        return s

    def scheduled(cid, fy, upto_month, notified_upto):
        s = 0
        for _, day, ev, sign in facts:
            if ev["kind"] == "allocation_notified" and ev["county"] == cid \
                    and ev["fund"] == "pre_notified" and ev["fiscal_year"] == fy \
                    and day <= notified_upto:
                s += sign * sum(amt_c(it["amount"]) for it in ev["schedule"]
                                if it["month"] <= upto_month)
        return s

    fys = defaultdict(set)
    for _, day, ev, sign in facts:
        if ev["kind"] in ("allocation_notified", "transfer_allocated"):
            fys[(ev["county"], ev["fund"])].add(ev["fiscal_year"])
    lines = []
    for cid in registered_counties(log, at_seq, E):
        for fund in FUNDS:
            if fund in ("general", "pre_notified"):
                years = [y]
            else:
                years = sorted(f for f in fys[(cid, fund)] if f <= y)
            for fy in years:
                before = dispatched(cid, fund, fy, B)
                if fund == "general":
                    r = 13 - m
                    need = max(0, entitled(cid, fund, fy, E) - before)
                    planned = need if r == 1 else need // r
                elif fund == "pre_notified":
                    planned = max(0, scheduled(cid, fy, month, E) - before)
                elif fund == "in_execution":
                    planned = max(0, entitled(cid, fund, fy, B) - before)
                else:
                    planned = max(0, entitled(cid, fund, fy, E) - dispatched(cid, fund, fy, E))
                cap = entitled(cid, fund, fy, None) - dispatched(cid, fund, fy, None)
                planned = min(planned, max(0, cap))
                if planned > 0:
                    lines.append(dict(county=cid, fund=fund, fiscal_year=fy, planned=planned))
    # available: lowest day-end city balance on B or later
    deltas = defaultdict(int)
    for _, day, ev, sign in facts:
        for acct, v in flows(ev):
            if acct == "city.treasury":
                deltas[day] += sign * v
    run = 0
    avail = None
    for day in sorted(deltas):
        run += deltas[day]
        if day >= B:
            avail = run if avail is None else min(avail, run)
    bal_B = sum(v for day, v in deltas.items() if day <= B)
    avail = bal_B if avail is None else min(avail, bal_B)
    left = max(0, avail)
    tiers = []
    for fund in ("direct", "general", "pre_notified", "in_execution"):
        tl = [ln for ln in lines if ln["fund"] == fund]
        tp = sum(ln["planned"] for ln in tl)
        if tp <= left:
            for ln in tl:
                ln["funded"] = ln["planned"]
            left -= tp
        else:
            got = []
            for ln in tl:
                ln["funded"] = ln["planned"] * left // tp
                got.append(ln)
            rest = left - sum(ln["funded"] for ln in tl)
            order = sorted(tl, key=lambda ln: (-(ln["planned"] * left % tp), ln["county"],
                                               ln["fiscal_year"]))
            for ln in order[:rest]:
                ln["funded"] += 1
            left = 0
        tiers.append(dict(fund=fund, planned=fmt(tp), funded=fmt(sum(ln["funded"] for ln in tl))))
    order = {f: i for i, f in enumerate(FUNDS)}
    lines.sort(key=lambda ln: (ln["county"], order[ln["fund"]], ln["fiscal_year"]))
    return dict(month=month, based_on_seq=at_seq, basis_date=B.isoformat(),
                city_available=fmt_signed(avail),
                total_planned=fmt(sum(ln["planned"] for ln in lines)),
                total_funded=fmt(sum(ln["funded"] for ln in lines)),
                tiers=tiers,
                lines=[dict(county=ln["county"], fund=ln["fund"], fiscal_year=ln["fiscal_year"],
                            planned=fmt(ln["planned"]), funded=fmt(ln["funded"]),
                            shortfall=fmt(ln["planned"] - ln["funded"])) for ln in lines])


def policy_in_force(log: Log, at_seq: int, on: dt.date) -> str:
    """docs/planning-policy-v2.md §1.3: the planning_policy_set among the first at_seq
    records with the greatest effective_from <= on, then the greatest seq; v1 if none."""
    best = None
    for i in range(at_seq):
        ev = log.events[i]
        if ev["kind"] == "planning_policy_set" and log.eff[i] <= on:
            if best is None or (log.eff[i], i) > best[0]:
                best = ((log.eff[i], i), ev["policy"])
    return best[1] if best else "v1"


def policy_model():
    """The reference model of the v1 and v2 funding rules (docs/planning-policy-v2-model.py,
    integer cents), loaded as a module: it runs nothing on import."""
    import importlib.util
    path = os.path.join(HERE, os.pardir, os.pardir, "docs", "planning-policy-v2-model.py")
    spec = importlib.util.spec_from_file_location("planning_policy_v2_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def units4(fr: Fraction) -> int:
    """A ratio as an integer number of ten-thousandths (lines have four decimals)."""
    v = fr * 10000
    assert v.denominator == 1, fr
    return int(v)


def fmt_units4(u: int | None) -> str | None:
    if u is None:
        return None
    return f"{'-' if u < 0 else ''}{abs(u) // 10000}.{abs(u) % 10000:04d}"


def plan_inputs(log: Log, at_seq: int, month: str) -> dict[str, dict]:
    """Per county listed in the plan of `month` (registered on or before E), the figures
    of SPEC §6.3 and docs/planning-policy-v2.md §0 (integer cents): opening cash on B,
    expected revenue, budgeted wages and non-wage need of M (budgeted_on <= E), the
    declared wage bill of M (declared_on <= E), the basis (avg_monthly_outflow at B,
    the run rate of v2) and the risk lines in force on B."""
    y, m = int(month[:4]), int(month[5:])
    B = D(y, m, 1) - dt.timedelta(days=1)
    E = D(y, m, last_day(y, m))
    cids = registered_counties(log, at_seq, E)
    b = balances(log, at_seq, B)
    basis = avg_monthly_outflow(log, at_seq, B, cids)
    rev_months = {month_str(*add_months(y, m, -k)) for k in (1, 2, 3)}
    rev = defaultdict(int)
    for _, day, ev, sign in log.facts(at_seq):
        if ev["kind"] == "revenue_collected" and day.isoformat()[:7] in rev_months:
            rev[ev["county"]] += sign * amt_c(ev["amount"])
    out = {}
    for cid in cids:
        reg = [log.eff[i] for i in range(at_seq) if log.events[i]["kind"] == "county_registered"
               and log.events[i]["county"] == cid][0]
        bill = None
        for i in range(at_seq):
            ev = log.events[i]
            if ev["kind"] == "wage_bill_declared" and ev["county"] == cid and \
                    ev["payroll_month"] == month and log.eff[i] <= E:
                if bill is None or (log.eff[i], i) > bill[0]:
                    bill = ((log.eff[i], i), ev)
        need = month_need(log, at_seq, cid, y, m, E)
        wages = month_need(log, at_seq, cid, y, m, E, "wages")
        w, a, i_ = lines_in_force(log, at_seq, cid, B)
        out[cid] = dict(
            opening=(b[f"{cid}.treasury"] + b[f"{cid}.wage_reserve"]) if reg <= B else 0,
            revenue=round_half_even(Fraction(rev[cid], 3)),
            wages=wages, non_wage=need - wages,
            bill=amt_c(bill[1]["amount"]) if bill else None,
            payroll=None if bill is None else dict(
                wage_bill=bill[1]["amount"], payday=bill[1]["payday"],
                deposit_deadline=(pdate(bill[1]["payday"]) - dt.timedelta(days=7)).isoformat()),
            basis=basis[cid] or None,
            warning=units4(w), alert=units4(a), idle=units4(i_))
    return out


def plan_query(log: Log, at_seq: int, month: str) -> dict:
    """The plan of `month` at `at_seq` under the policy in force on its basis date:
    lines, tiers and available from plan_lines (v1, SPEC §6.3); under v2 the split of the
    first short tier follows docs/planning-policy-v2.md §4.2-4.3, computed with the
    reference model from the plan's inputs. Also the county figures of both policies."""
    y, m = int(month[:4]), int(month[5:])
    B = D(y, m, 1) - dt.timedelta(days=1)
    policy = policy_in_force(log, at_seq, B)
    v1 = plan_lines(log, at_seq, month)
    model = policy_model()
    inputs = plan_inputs(log, at_seq, month)
    counties = {}
    for cid, c in inputs.items():
        lines = [(ln["fund"], ln["fiscal_year"], amt_c(ln["planned"])) for ln in v1["lines"]
                 if ln["county"] == cid]
        counties[cid] = model.county(c["opening"], c["revenue"], c["wages"], c["non_wage"],
                                     c["bill"], c["basis"], lines, warning=c["warning"],
                                     alert=c["alert"], idle=c["idle"])
    avail = v1["city_available"]
    avail_c = -amt_c(avail[1:], True) if avail.startswith("-") else amt_c(avail, True)
    res = {}
    for pol in ("v1", "v2"):
        trace = {}
        _, funded, out = model.plan(counties, avail_c, pol, trace=trace)
        res[pol] = (funded, out, trace)
    # the model's v1 split is the generator's own (an independent cross-check of both)
    for ln in v1["lines"]:
        k = (ln["county"], ln["fund"], ln["fiscal_year"])
        assert res["v1"][0][k] == amt_c(ln["funded"], True), (month, at_seq, k)
    funded2 = res["v2"][0]
    # guarantees of §4.4: same tiers and totals; every warning county gets >= v1
    for t in v1["tiers"]:
        assert sum(v for k, v in funded2.items() if k[1] == t["fund"]) == amt_c(t["funded"], True)
    for cid in inputs:
        o1, o2 = res["v1"][1][cid], res["v2"][1][cid]
        if cid in res["v2"][2].get("claim", {}) or "warning" in (o1["status"], o2["status"]):
            assert o2["funded_in"] >= o1["funded_in"], (month, cid)
    expected = dict(v1)
    if policy == "v2":
        expected["lines"] = [dict(ln, funded=fmt(funded2[k]),
                                  shortfall=fmt(amt_c(ln["planned"]) - funded2[k]))
                             for ln in v1["lines"]
                             for k in [(ln["county"], ln["fund"], ln["fiscal_year"])]]
    figures = {}
    for pol in ("v1", "v2"):
        _, out, _ = res[pol]
        figures[pol] = [dict(county=cid, opening_cash=fmt(inputs[cid]["opening"]),
                             funded_in=fmt(out[cid]["funded_in"]),
                             expected_revenue=fmt(inputs[cid]["revenue"]),
                             needs=fmt(out[cid]["needs"]),
                             projected_end=fmt_signed(out[cid]["projected_end"]),
                             projected_level=fmt_units4(out[cid]["level"]),
                             status=out[cid]["status"],
                             emergency_recommended=fmt(out[cid]["emergency"]),
                             payroll=inputs[cid]["payroll"])
                        for cid in sorted(inputs)]
    q = {"policy": policy, "expected": expected, "counties": figures[policy]}
    if policy == "v2":
        q["v1_counties"] = figures["v1"]      # the same inputs under the v1 rules
    tr = res["v2"][2]
    if policy == "v2" and tr:
        q["v2_first_short_tier"] = dict(
            fund=tr["tier"], left=fmt(tr["A"]), claims_total=fmt(tr["C"]),
            case=tr["case"],
            counties=[dict(county=cid, planned=fmt(tr["P"][cid]), v1_share=fmt(tr["v1c"][cid]),
                           wage_need=fmt(res["v2"][1][cid]["wage_need"]),
                           non_wage_need=fmt(res["v2"][1][cid]["non_wage"]),
                           needs=fmt(res["v2"][1][cid]["needs"]),
                           basis=fmt(inputs[cid]["basis"] or 0),
                           warning_line=fmt_units4(inputs[cid]["warning"]),
                           baseline_end=fmt_signed(tr["pe0"][cid]),
                           baseline_level=fmt_units4(tr["lv0"][cid]),
                           warning_county=cid in tr["claim"],
                           gap=fmt(tr["gap"][cid]) if cid in tr["gap"] else None,
                           claim=fmt(tr["claim"][cid]) if cid in tr["claim"] else None,
                           v2_amount=fmt(sum(funded2[k] for k in funded2
                                             if k[0] == cid and k[1] == tr["tier"])))
                      for cid in sorted(tr["P"])])
    return q


# --------------------------------------------------------------------------------------

def arrears_by_day(log: Log, at_seq: int, first: dt.date, last: dt.date) -> dict:
    """The story's wage arrears (欠薪), read back from the log: on each as_of in
    [first, last], every (county, payroll_month) whose latest wage bill declared on or
    before as_of has its payday before as_of and paid (wages_paid dated <= as_of) below
    the bill. Returns {as_of: [row, ...]} for the days that have any."""
    decl = defaultdict(list)        # (cid, pm) -> [(declared_on, seq, amount, payday)]
    paid = defaultdict(list)        # (cid, pm) -> [(date, signed cents)]
    for seq, day, ev, sign in log.facts(at_seq):
        if ev["kind"] == "wage_bill_declared":
            decl[(ev["county"], ev["payroll_month"])].append(
                (day, seq, amt_c(ev["amount"]), pdate(ev["payday"])))
        elif ev["kind"] == "wages_paid":
            paid[(ev["county"], ev["payroll_month"])].append((day, sign * amt_c(ev["amount"])))
    out = {}
    day = first
    while day <= last:
        rows = []
        for key in sorted(decl):
            known = [d_ for d_ in decl[key] if d_[0] <= day]
            if not known:
                continue
            _, _, bill, payday = max(known)
            p = sum(v for d_, v in paid[key] if d_ <= day)
            if payday < day and p < bill:
                rows.append(dict(county=key[0], payroll_month=key[1], wage_bill=fmt(bill),
                                 payday=payday.isoformat(), paid=fmt(p), unpaid=fmt(bill - p)))
        if rows:
            out[day.isoformat()] = rows
        day += dt.timedelta(days=1)
    return out


def last_seq_recorded_by(day: dt.date) -> int:
    """The last seq recorded on or before `day` (the generator knows recording dates)."""
    return sum(1 for r in G.rec_dates if r <= day)


# --------------------------------------------------------------------------------------
# monitor and position, contract v2 (docs/monitor-v2.md), computed independently
# --------------------------------------------------------------------------------------
# A second, day-indexed reading of the log: every figure is a step function of the date
# (prefix sums over the facts up to at_seq, each reversal an opposite flow on its own
# `on`, SPEC §8.16), so that `reasons(x)` can be evaluated for every day of a window.
# At every checkpoint it is asserted equal to the v1 functions above (monitor_levels,
# monitor_extra, watchlist, arrears_by_day), and on the days where the watch list
# changes as well.

REASON_ORDER = ["guarantee_level_warning", "payroll_late", "direct_overdue", "discrepancy",
                "wage_arrears"]
DAY = dt.timedelta(days=1)


class Steps:
    """sum of (date, cents) items with date <= x, as a step function of x."""

    def __init__(self):
        self.items: dict[dt.date, int] = defaultdict(int)
        self.dates: list[dt.date] = []
        self.pref: list[int] = []

    def add(self, day: dt.date, v: int):
        self.items[day] += v

    def freeze(self):
        self.dates = sorted(self.items)
        run = 0
        self.pref = []
        for d_ in self.dates:
            run += self.items[d_]
            self.pref.append(run)

    def at(self, x: dt.date) -> int:
        i = bisect.bisect_right(self.dates, x)
        return self.pref[i - 1] if i else 0

    def covered_since(self, target: int, upto: dt.date) -> dt.date | None:
        """The first day of the run, reaching upto, with at(x) >= target (None when
        at(upto) < target): a sum that fell below target and reached it again dates
        from the second time."""
        since = None
        for d_, p in zip(self.dates, self.pref):
            if d_ > upto:
                break
            if p >= target:
                since = since or d_
            else:
                since = None
        return since


class DayIndex:
    """The state folded up to at_seq, indexed by effective date."""

    def __init__(self, log: Log, at_seq: int):
        self.at_seq = at_seq
        self.reg: dict[str, dt.date] = {}
        self.acct: dict[str, Steps] = defaultdict(Steps)        # "cid.treasury" -> Steps
        self.outflow: dict[str, Steps] = defaultdict(Steps)     # cid -> expenditure + wages
        self.needs: dict[str, list] = defaultdict(list)         # cid -> [(day, sign, ev)]
        self.lines_c: dict[str, list] = defaultdict(list)       # cid -> [(eff, seq, lines)]
        self.lines_g: list = []
        self.bills: dict[tuple, list] = defaultdict(list)       # (cid, pm) -> [(on, seq, c, payday)]
        self.dep: dict[tuple, Steps] = defaultdict(Steps)       # (cid, pm)
        self.paid: dict[tuple, Steps] = defaultdict(Steps)      # (cid, pm)
        self.d_ent: dict[tuple, Steps] = defaultdict(Steps)     # (cid, fy) direct notified
        self.d_dis: dict[tuple, Steps] = defaultdict(Steps)     # (cid, fy) direct dispatched
        self.reports: dict[tuple, list] = defaultdict(list)     # (cid, acct) -> [(on, seq, ev)]
        self.advances: dict[str, Steps] = defaultdict(Steps)    # cid -> advances
        for seq, day, ev, sign in log.facts(at_seq):
            k = ev["kind"]
            cid = ev.get("county")
            if k == "county_registered":
                self.reg[cid] = day
            for acct, v in flows(ev):
                self.acct[acct].add(day, sign * v)
            if k in ("expenditure_paid", "wages_paid"):
                self.outflow[cid].add(day, sign * amt_c(ev["amount"]))
            if k == "needs_budgeted":
                self.needs[cid].append((day, sign, ev))
            if k == "risk_lines_set":
                lines = tuple(ratio_f(ev[f]) for f in ("warning_line", "alert_line", "idle_line"))
                (self.lines_c[cid] if cid is not None else self.lines_g).append((day, seq, lines))
            if k == "wage_bill_declared":
                self.bills[(cid, ev["payroll_month"])].append(
                    (day, seq, amt_c(ev["amount"]), pdate(ev["payday"])))
            if k == "payroll_deposited":
                self.dep[(cid, ev["payroll_month"])].add(day, sign * amt_c(ev["amount"]))
            if k == "wages_paid":
                self.paid[(cid, ev["payroll_month"])].add(day, sign * amt_c(ev["amount"]))
            if ev.get("fund") == "direct" and k == "allocation_notified":
                self.d_ent[(cid, ev["fiscal_year"])].add(day, sign * amt_c(ev["amount"]))
            if ev.get("fund") == "direct" and k == "transfer_allocated":
                self.d_dis[(cid, ev["fiscal_year"])].add(day, sign * amt_c(ev["amount"]))
            if k == "balance_reported":
                self.reports[(cid, ev["account"])].append((day, seq, ev))
            if k == "emergency_dispatched" and ev["mode"] == "advance":
                self.advances[cid].add(day, sign * amt_c(ev["amount"]))
        for group in (self.acct, self.outflow, self.dep, self.paid, self.d_ent, self.d_dis,
                      self.advances):
            for st in group.values():
                st.freeze()
        # a report differs when its balance is not the computed day-end balance of its
        # `on` (computed from every fact up to at_seq dated <= on)
        self.report_differs: dict[tuple, list] = {}
        for (cid, acct), reps in self.reports.items():
            self.report_differs[(cid, acct)] = sorted(
                (on, seq, amt_c(ev["balance"], True) != self.acct[f"{cid}.{acct}"].at(on))
                for on, seq, ev in reps)
        self.cids = sorted(self.reg)
        self._reasons: dict[tuple, tuple] = {}
        self._status: dict[tuple, tuple] = {}

    def registered(self, x: dt.date) -> list[str]:
        return [c for c in self.cids if self.reg[c] <= x]

    def cash(self, cid: str, x: dt.date) -> int:
        return self.acct[f"{cid}.treasury"].at(x) + self.acct[f"{cid}.wage_reserve"].at(x)

    def avg(self, cid: str, x: dt.date) -> int:
        """avg_monthly_outflow in cents, 0 for null (SPEC §6.2)."""
        win = window_months(x)
        first = D(*win[0], 1)
        last = D(*win[-1], last_day(*win[-1]))
        assert last <= x
        out = self.outflow[cid].at(last) - self.outflow[cid].at(first - DAY)
        a = round_half_even(Fraction(out, 3))
        if a <= 0:
            a = 0
            ym = month_str(x.year, x.month)
            for day, sign, ev in self.needs[cid]:
                if day > x or ev["fiscal_year"] != x.year:
                    continue
                if "schedule" in ev:
                    v = sum(amt_c(it["amount"]) for it in ev["schedule"] if it["month"] == ym)
                else:
                    t = amt_c(ev["amount"])
                    v = t // 12 + (t % 12 if x.month == 12 else 0)
                a += sign * v
        return max(0, a)

    def lines(self, cid: str, x: dt.date):
        for cands in (self.lines_c.get(cid, []), self.lines_g):
            known = [c for c in cands if c[0] <= x]
            if known:
                return max(known)[2]
        return Fraction(3, 10), Fraction(1, 2), Fraction(3, 2)

    def status(self, cid: str, x: dt.date) -> tuple:
        """(status, level or None, cash, avg, lines) of the county with as_of = x."""
        key = (cid, x)
        if key not in self._status:
            cash = self.cash(cid, x)
            avg = self.avg(cid, x)
            w, a, i = lines = self.lines(cid, x)
            if avg <= 0:
                level, st = None, "unknown"
            else:
                level = Fraction(round_half_even(Fraction(cash * 10000, avg)), 10000)
                st = ("warning" if level < w else "low" if level < a
                      else "idle" if level > i else "normal")
            self._status[key] = (st, level, cash, avg, lines)
        return self._status[key]

    def bill(self, cid: str, pm: str, x: dt.date):
        """(wage_bill, payday) of the latest declaration with declared_on <= x (§8.18)."""
        known = [b for b in self.bills.get((cid, pm), []) if b[0] <= x]
        if not known:
            return None
        _, _, c, payday = max(known)
        return c, payday

    def payroll_row(self, cid: str, pm: str, x: dt.date) -> dict | None:
        b = self.bill(cid, pm, x)
        if b is None:
            return None
        bill, payday = b
        deadline = payday - 7 * DAY
        dep_st = self.dep.get((cid, pm))
        dep = dep_st.at(x) if dep_st else 0
        paid = self.paid[(cid, pm)].at(x) if (cid, pm) in self.paid else 0
        status = ("paid" if paid >= bill else "funded" if dep >= bill
                  else "late" if x > deadline else "due")
        deposited_on = dep_st.covered_since(bill, x) if dep_st and dep >= bill else None
        covered_on = deposited_on
        if covered_on is None and status == "paid" and (cid, pm) in self.paid:
            # paid in full from money already in the reserve: covered when paid
            covered_on = self.paid[(cid, pm)].covered_since(bill, x)
        if covered_on is not None:
            days_late = max(0, (covered_on - deadline).days)
        elif status == "late":
            days_late = (x - deadline).days
        else:
            days_late = 0
        return dict(county=cid, payroll_month=pm, wage_bill=fmt(bill),
                    payday=payday.isoformat(), deposit_deadline=deadline.isoformat(),
                    deposited=fmt(dep), paid=fmt(paid), shortfall=fmt(max(0, bill - dep)),
                    status=status,
                    deposited_on=None if deposited_on is None else deposited_on.isoformat(),
                    days_late=days_late)

    def arrears(self, cid: str, x: dt.date) -> list[dict]:
        rows = []
        for (c, pm) in sorted(self.bills):
            if c != cid:
                continue
            b = self.bill(c, pm, x)
            if b is None:
                continue
            bill, payday = b
            paid = self.paid[(c, pm)].at(x) if (c, pm) in self.paid else 0
            if payday < x and paid < bill:
                rows.append(dict(county=c, payroll_month=pm, wage_bill=fmt(bill),
                                 payday=payday.isoformat(), paid=fmt(paid),
                                 unpaid=fmt(bill - paid), days_overdue=(x - payday).days))
        return rows

    def reasons(self, cid: str, x: dt.date) -> tuple:
        """The county's watch-list reasons with as_of = x (v1's four, then wage_arrears)."""
        key = (cid, x)
        if key in self._reasons:
            return self._reasons[key]
        r = []
        if self.reg[cid] <= x:
            if self.status(cid, x)[0] == "warning":
                r.append("guarantee_level_warning")
            pms = [month_str(x.year, x.month), month_str(*add_months(x.year, x.month, 1))]
            rows = [self.payroll_row(cid, pm, x) for pm in pms]
            if any(row is not None and row["status"] == "late" for row in rows):
                r.append("payroll_late")
            if any(st.at(x - DAY) - self.d_dis[key_].at(x) > 0 if key_ in self.d_dis
                   else st.at(x - DAY) > 0
                   for key_, st in self.d_ent.items() if key_[0] == cid):
                r.append("direct_overdue")
            for acct in ("treasury", "wage_reserve"):
                known = [rep for rep in self.report_differs.get((cid, acct), []) if rep[0] <= x]
                if known and max(known)[2]:
                    r.append("discrepancy")
                    break
            if self.arrears(cid, x):
                r.append("wage_arrears")
        self._reasons[key] = tuple(r)
        return self._reasons[key]


_DAY_INDEX: dict[int, DayIndex] = {}


def day_index(log: Log, at_seq: int) -> DayIndex:
    if at_seq not in _DAY_INDEX:
        _DAY_INDEX[at_seq] = DayIndex(log, at_seq)
    return _DAY_INDEX[at_seq]


def watch_window(as_of: dt.date) -> dt.date:
    """The first day of month(as_of) - 11, not before 2000-01-01."""
    return max(D(2000, 1, 1), D(*add_months(as_of.year, as_of.month, -11), 1))


def watch_history(idx: DayIndex, as_of: dt.date) -> list[dict]:
    first = watch_window(as_of)
    out = []
    for cid in idx.registered(as_of):
        spells = []
        cur = None
        x = first
        while x <= as_of:
            r = idx.reasons(cid, x)
            if r:
                if cur is None:
                    cur = {"from": x, "to": x, "seen": set()}
                cur["to"] = x
                cur["seen"].update(r)
            elif cur is not None:
                spells.append(cur)
                cur = None
            x += DAY
        if cur is not None:
            spells.append(cur)
        if spells:
            out.append({"county": cid, "spells": [
                {"from": s["from"].isoformat(),
                 "to": None if s["to"] == as_of else s["to"].isoformat(),
                 "reasons": [r for r in REASON_ORDER if r in s["seen"]]} for s in spells]})
    return out


def tight_run(idx: DayIndex, cid: str, as_of: dt.date) -> tuple[int, str | None]:
    """(months, since): consecutive months back from as_of's month whose check date (as_of
    for its own month, the last day for earlier ones) had status warning or low."""
    months, since = 0, None
    y, m = as_of.year, as_of.month
    while True:
        check = as_of if months == 0 else D(y, m, last_day(y, m))
        if check < idx.reg[cid] or check < D(2000, 1, 1):
            break
        if idx.status(cid, check)[0] not in ("warning", "low"):
            break
        months, since = months + 1, month_str(y, m)
        y, m = add_months(y, m, -1)
    return months, since


def monitor_v2(log: Log, at_seq: int, as_of: dt.date, lv: dict, extra: dict) -> dict:
    """docs/monitor-v2.md members of `monitor` at (at_seq, as_of), with the payroll rows
    gaining deposited_on and days_late, checked against the v1 functions."""
    idx = day_index(log, at_seq)
    cids = idx.registered(as_of)
    assert cids == registered_counties(log, at_seq, as_of) == sorted(lv)
    # the day index agrees with monitor_levels on as_of
    for cid in cids:
        st, level, cash, avg, lines = idx.status(cid, as_of)
        assert lv[cid] == dict(cash=fmt(cash), avg_monthly_outflow=fmt(avg) if avg > 0 else None,
                               guarantee_level=None if level is None else ratio4(level),
                               status=st, lines=[ratio4(v) for v in lines]), (cid, as_of)
    # payroll rows: v1's members unchanged, plus deposited_on and days_late
    months = [month_str(as_of.year, as_of.month),
              month_str(*add_months(as_of.year, as_of.month, 1))]
    payroll = [row for cid in cids for pm in months
               if (row := idx.payroll_row(cid, pm, as_of)) is not None]
    assert [{k: v for k, v in row.items() if k not in ("deposited_on", "days_late")}
            for row in payroll] == extra["payroll"], as_of
    # arrears, against arrears_by_day's reading of the same day
    arrears = [row for cid in cids for row in idx.arrears(cid, as_of)]
    assert all(row["days_overdue"] >= 1 for row in arrears)
    assert [{k: v for k, v in row.items() if k != "days_overdue"} for row in arrears] == \
        arrears_by_day(log, at_seq, as_of, as_of).get(as_of.isoformat(), []), as_of
    # payroll_history: twelve months up to as_of's month
    hist_months = [month_str(*add_months(as_of.year, as_of.month, -k)) for k in range(11, -1, -1)]
    hist_months = [pm for pm in hist_months if pm >= "2000-01"]
    history = [row for cid in cids for pm in hist_months
               if (row := idx.payroll_row(cid, pm, as_of)) is not None]
    assert [r for r in history if r["payroll_month"] == months[0]] == \
        [r for r in payroll if r["payroll_month"] == months[0]], as_of
    # the watch list (with wage_arrears) equals reasons(as_of)
    wl = watchlist(lv, extra, arrears)
    assert wl == [{"county": cid, "reasons": list(idx.reasons(cid, as_of))}
                  for cid in cids if idx.reasons(cid, as_of)], as_of
    tight = []
    for cid in cids:
        n_, since = tight_run(idx, cid, as_of)
        if n_ >= 1:
            tight.append({"county": cid, "months": n_, "since": since})
    tight_of = {t["county"]: t["months"] for t in tight}
    # the statuses behind the runs (and the month that ended each), against monitor_levels
    y, m = as_of.year, as_of.month
    for k in range(max(tight_of.values(), default=0) + 1):
        check = as_of if k == 0 else D(y, m, last_day(y, m))
        if check < D(2000, 1, 1):
            break
        for cid, v in monitor_levels(log, at_seq, check).items():
            assert v["status"] == idx.status(cid, check)[0], (cid, check)
        y, m = add_months(y, m, -1)
    attention = [{"county": cid, "guarantee_level": lv[cid]["guarantee_level"],
                  "tight_months": tight_of[cid]}
                 for cid in cids if lv[cid]["status"] == "low"]
    assert all(a["tight_months"] >= 1 for a in attention)
    return dict(payroll=payroll, arrears=arrears, payroll_history=history,
                watch_history=watch_history(idx, as_of), tight_months=tight,
                attention=attention, watchlist=wl)


def check_sweep_against_v1(log: Log, at_seq: int, first: dt.date, as_of: dt.date) -> int:
    """On every day of [first, as_of] where some county's reasons change (and the day
    before), and on every month-end, recompute the watch list with the v1 functions and
    compare. Returns the number of days checked."""
    idx = day_index(log, at_seq)
    days = {first, as_of}
    x = first + DAY
    while x <= as_of:
        if any(idx.reasons(c, x) != idx.reasons(c, x - DAY) for c in idx.cids):
            days.update((x - DAY, x))
        if (x + DAY).day == 1:
            days.add(x)
        x += DAY
    for x in sorted(days):
        lv = monitor_levels(log, at_seq, x)
        extra = monitor_extra(log, at_seq, x)
        arr = arrears_by_day(log, at_seq, x, x).get(x.isoformat(), [])
        want = {w["county"]: tuple(w["reasons"]) for w in watchlist(lv, extra, arr)}
        got = {c: idx.reasons(c, x) for c in idx.cids if idx.reasons(c, x)}
        assert want == got, (at_seq, x, want, got)
    return len(days)


def outstanding_advances(idx: DayIndex, cid: str, as_of: dt.date) -> int:
    """Advances with value_date <= as_of minus those reversed on or before as_of."""
    st = idx.advances.get(cid)
    return st.at(as_of) if st else 0


def self_test_monitor_v2():
    """docs/monitor-v2.md readings that the sample city does not exercise, on a tiny log:
    a deposit reversed and made again dates from the second time; a county registered after
    as_of is left out; a spell already open on the window's first day starts there; a
    wage bill revised after payday counts as known on as_of; a reversed advance is no
    longer outstanding from the reversal's `on`."""
    def e(kind, **kw):
        return {"kind": kind, **kw}
    a = dict(county="a")
    events = [
        e("county_registered", county="a", name="甲", registered_on="2021-01-01",
          opening_treasury="1000"),
        e("allocation_notified", **a, fund="direct", fiscal_year=2021, program="直达",
          amount="10", notified_on="2021-01-05"),
        e("wage_bill_declared", **a, payroll_month="2021-02", amount="100", payday="2021-02-15",
          declared_on="2021-01-20"),
        e("payroll_deposited", **a, payroll_month="2021-02", amount="100",
          deposited_on="2021-02-05"),
        e("event_reversed", reverses_seq=4, reason="撤销", on="2021-02-06"),
        e("payroll_deposited", **a, payroll_month="2021-02", amount="100",
          deposited_on="2021-02-10"),
        e("wages_paid", **a, payroll_month="2021-02", amount="100", paid_on="2021-02-15"),
        e("county_registered", county="b", name="乙", registered_on="2021-03-01"),
        e("emergency_dispatched", **a, amount="10", value_date="2021-01-10", mode="advance",
          reason="垫付", approved_by="局长"),
        e("event_reversed", reverses_seq=9, reason="撤销", on="2021-01-20"),
        e("wage_bill_declared", **a, payroll_month="2021-03", amount="50", payday="2021-03-15",
          declared_on="2021-02-20"),
        e("payroll_deposited", **a, payroll_month="2021-03", amount="50",
          deposited_on="2021-03-05"),
        e("wages_paid", **a, payroll_month="2021-03", amount="50", paid_on="2021-03-15"),
        e("wage_bill_declared", **a, payroll_month="2021-03", amount="80", payday="2021-03-15",
          declared_on="2021-03-16"),
    ]
    idx = DayIndex(Log(events), len(events))
    row = idx.payroll_row("a", "2021-02", D(2021, 2, 20))
    assert (row["status"], row["deposited_on"], row["days_late"]) == ("paid", "2021-02-10", 2)
    row = idx.payroll_row("a", "2021-02", D(2021, 2, 9))
    assert (row["status"], row["deposited"], row["deposited_on"], row["days_late"]) == \
        ("late", "0.00", None, 1), row
    assert idx.reasons("a", D(2021, 2, 9)) == ("payroll_late", "direct_overdue")
    assert idx.registered(D(2021, 2, 20)) == ["a"]
    assert watch_history(idx, D(2021, 2, 20)) == [{"county": "a", "spells": [
        {"from": "2021-01-06", "to": None, "reasons": ["payroll_late", "direct_overdue"]}]}]
    assert watch_history(idx, D(2022, 1, 10)) == [{"county": "a", "spells": [
        {"from": "2021-02-01", "to": None, "reasons": ["payroll_late", "direct_overdue",
                                                      "wage_arrears"]}]}]
    assert idx.arrears("a", D(2021, 3, 15)) == []
    assert idx.arrears("a", D(2021, 3, 16)) == [dict(
        county="a", payroll_month="2021-03", wage_bill="80.00", payday="2021-03-15",
        paid="50.00", unpaid="30.00", days_overdue=1)]
    row = idx.payroll_row("a", "2021-03", D(2021, 3, 20))
    assert (row["status"], row["deposited_on"], row["days_late"]) == ("late", None, 12), row
    assert [outstanding_advances(idx, "a", D(2021, 1, d_)) for d_ in (9, 10, 19, 20)] == \
        [0, 1000, 1000, 0]


def main():
    events = generate()
    path = os.path.join(HERE, "events.jsonl")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for ev in events:
            f.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")

    # ---- read back and validate independently
    with open(path, encoding="utf-8") as f:
        loaded = [json.loads(line) for line in f]
    assert loaded == events
    self_test_validator()
    self_test_monitor_v2()
    log = validate(loaded)
    n = len(loaded)
    seq = {k: G.seq_of(v) for k, v in G.notes.items() if isinstance(v, dict)}
    late = [G.seq_of(e) for e in G.notes.get("late_deposits", [])]
    rev_seq = seq["reversal"]
    assert loaded[rev_seq - 1]["reverses_seq"] == seq["duplicate_transfer"]

    # ---- checkpoints
    def cp(as_of, at_seq, why):
        return {"as_of": as_of, "at_seq": at_seq, "why": why}

    def deposits_of(cid, pm):
        return [(i + 1, e["deposited_on"], e["amount"]) for i, e in enumerate(loaded)
                if e["kind"] == "payroll_deposited" and e["county"] == cid
                and e["payroll_month"] == pm]

    jc6 = deposits_of("jianchang", "2021-06")
    assert len(jc6) == 2 and jc6[0][1] <= "2021-06-08" < "2021-06-10" < jc6[1][1], jc6
    jcd = deposits_of(ARREARS["county"], ARREARS["month"])
    dec_dep = jcd
    dec_bill = [e["amount"] for e in loaded if e["kind"] == "wage_bill_declared"
                and e["county"] == ARREARS["county"] and e["payroll_month"] == ARREARS["month"]]
    assert len(dec_bill) == 1
    dec_bill = dec_bill[0]
    owed = amt_c(dec_bill) - amt_c(jcd[0][2])
    jc_1231 = balances(log, n, D(2021, 12, 31))[f"{ARREARS['county']}.treasury"]
    jan_gen = [i for i, e in enumerate(loaded, 1) if e["kind"] == "transfer_allocated"
               and e["county"] == ARREARS["county"] and e["fund"] == "general"
               and e["value_date"] == ARREARS["made_good"].isoformat()]
    assert len(jan_gen) == 1
    jan_gen = jan_gen[0]
    dup = loaded[seq["duplicate_transfer"] - 1]
    rev = loaded[rev_seq - 1]
    disc = loaded[seq["discrepancy"] - 1]
    od = loaded[seq["overdue_direct_notice"] - 1]
    checkpoints = [
        cp("2021-06-10", None,
           f"late payroll: jianchang's June wage bill (payday 06-15, deposit deadline 06-08) "
           f"was only partly deposited on {jc6[0][1]} (seq {jc6[0][0]}, {jc6[0][2]}); the "
           f"rest follows on {jc6[1][1]} (seq {jc6[1][0]}), so monitor shows it `late`"),
        cp("2021-06-17", None,
           f"the day before the reversal's `on` ({rev['on']}): longgang still holds the "
           f"duplicate general transfer of {dup['value_date']} (seq {seq['duplicate_transfer']}, "
           f"{dup['amount']})"),
        cp(rev["on"], None,
           f"the reversal's `on` date: the reversal (seq {rev_seq}, recorded three days later) "
           f"takes the duplicate back out of longgang's treasury and returns it to the city"),
        cp(rev["on"], rev_seq - 1,
           "the same date as known before the reversal was recorded (at_seq = reversal seq - 1): "
           "the duplicate still counts"),
        cp("2021-10-15", None,
           f"xingcheng's {disc['on']} treasury report (seq {seq['discrepancy']}) disagrees with "
           f"the computed balance by {fmt(DISCREPANCY['amount'])} (a tax receipt entered under "
           f"2021-10-08, seq {seq['discrepancy_explained_by']}); nanpiao's direct allocation of "
           f"{od['notified_on']} (seq {seq['overdue_direct_notice']}) is still undispatched "
           f"(overdue until seq {seq['overdue_direct_dispatch']}); jianchang is below the "
           "warning line"),
        cp("2021-12-31", None,
           f"the year end: jianchang's December payroll (wage bill {dec_bill}, with the +30 % "
           f"year-end bonus; payday 12-15, deadline 12-08) could only be deposited for the base "
           f"wages, {dec_dep[0][2]} on {dec_dep[0][1]} (seq {dec_dep[0][0]}), after a bond "
           f"instalment of {fmt(ARREARS['bond'])} on {ARREARS['bond_on']} (seq "
           f"{seq['bond_instalment']}); payday paid those (seq {seq['arrears_paid_part']}) and "
           f"{fmt(owed)} stays unpaid (欠薪), so the December row is `late`; jianchang's "
           f"treasury ({fmt(jc_1231)}) is less than what it owes"),
        cp("2022-01-04", None,
           f"inside the arrears period: December's payroll still has {fmt(owed)} unpaid, "
           f"payday 12-15 long past; the payroll rows now cover only January and February, so "
           f"only the arrears see it; it is made good on {ARREARS['made_good']} (deposit seq "
           f"{seq['arrears_made_good_deposit']}, paid seq {seq['arrears_made_good_paid']}) "
           f"when January's general transfer (seq {jan_gen}) arrives"),
        cp(None, None, "the end of the sample (as_of defaults to 2022-02-20): every status "
           "appears - jianchang warning, nanpiao low, beigang and xingcheng idle, the rest "
           "normal"),
    ]
    expected_positions = []
    expected_levels = []
    sweep_span: dict[int, tuple[dt.date, dt.date]] = {}
    for c in checkpoints:
        at = c["at_seq"] if c["at_seq"] is not None else n
        as_of = pdate(c["as_of"]) if c["as_of"] else default_as_of(log, at)
        b = balances(log, at, as_of)
        expected_positions.append({
            "as_of": as_of.isoformat(), "at_seq": at,
            "city": {"treasury": fmt(b["city.treasury"])},
            "counties": [{"county": cid, "treasury": fmt(b[f"{cid}.treasury"]),
                          "wage_reserve": fmt(b[f"{cid}.wage_reserve"]),
                          "cash": fmt(b[f"{cid}.treasury"] + b[f"{cid}.wage_reserve"]),
                          "funds": position_funds(log, at, as_of, cid),
                          "outstanding_advances": fmt(outstanding_advances(
                              day_index(log, at), cid, as_of))}
                         for cid in registered_counties(log, at, as_of)]})
        lv = monitor_levels(log, at, as_of)
        extra = monitor_extra(log, at, as_of)
        v2 = monitor_v2(log, at, as_of, lv, extra)
        expected_levels.append({"as_of": as_of.isoformat(), "at_seq": at,
                                "counties": [dict(county=cid, **v) for cid, v in lv.items()],
                                "payroll": v2["payroll"],
                                "direct_overdue": extra["direct_overdue"],
                                "discrepancies": extra["discrepancies"],
                                "watchlist": v2["watchlist"],
                                "arrears": v2["arrears"],
                                "payroll_history": v2["payroll_history"],
                                "watch_history": v2["watch_history"],
                                "tight_months": v2["tight_months"],
                                "attention": v2["attention"]})
        lo, hi = sweep_span.get(at, (watch_window(as_of), as_of))
        sweep_span[at] = (min(lo, watch_window(as_of)), max(hi, as_of))
    # the day-by-day reasons behind watch_history, against the v1 functions
    swept = {at: check_sweep_against_v1(log, at, lo, hi)
             for at, (lo, hi) in sorted(sweep_span.items())}

    plan_months = ["2021-07", "2021-10", "2022-03"]
    pol_seq = seq["policy_switch"]
    plan_queries = []
    for pmonth, at_spec, why in (
            ("2021-07", "basis", "computed at its basis date 2021-06-30, under v1: the July "
             "tranche arrived on 06-25, so the city can fund every line"),
            ("2021-10", "before_policy",
             f"computed just before the policy switch was recorded (at_seq = seq {pol_seq} - 1, "
             "the last record of 09-27), so it follows v1: the October tranche only arrives on "
             "10-08 (after National Day), the city cannot fund all lines - direct is funded, "
             "general shares pro rata"),
            ("2021-10", "basis",
             f"computed at its basis date 2021-09-30, after the policy switch (seq {pol_seq}, "
             "v2 effective 2021-09-30), so it follows v2: the same tiers and totals, but in "
             "the short general tier the counties below the warning line ({W}) keep at least "
             "their v1 shares and share what v1 gave the others"),
            ("2021-07", "head", "the same month at the head, under v1 (its basis date is "
             "before the switch): every line is capped to 0 (the whole 2021 entitlement has "
             "since been dispatched, SPEC 8.13), and available is the lowest city balance "
             "from 06-30 onward, i.e. the 09-30 dip"),
            ("2022-03", "head", "the demo's next month, at the head, under v2: every tier "
             "fits, so the lines are v1's; the county needs are v2's")):
        y, m = int(pmonth[:4]), int(pmonth[5:])
        B = D(y, m, 1) - dt.timedelta(days=1)
        at = {"head": n, "basis": last_seq_recorded_by(B), "before_policy": pol_seq - 1}[at_spec]
        q = plan_query(log, at, pmonth)
        if "v2_first_short_tier" in q:
            why = why.format(W=", ".join(c["county"] for c in q["v2_first_short_tier"]["counties"]
                                         if c["warning_county"]))
        plan_queries.append({"month": pmonth, "at_seq": at, "policy": q.pop("policy"),
                             "why": why, **q})

    # ---- the story's claims, enforced
    status = {m["as_of"] + "@" + str(m["at_seq"]): {c["county"]: c["status"] for c in m["counties"]}
              for m in expected_levels}
    end_status = status[f"2022-02-20@{n}"]
    assert end_status == {"beigang": "idle", "jianchang": "warning", "lianshan": "normal",
                          "longgang": "normal", "lvhai": "normal", "nanpiao": "low",
                          "suizhong": "normal", "xingcheng": "idle"}, end_status
    assert status[f"2021-10-15@{n}"]["jianchang"] == "warning"
    m1015 = expected_levels[4]
    assert [d_["county"] for d_ in m1015["direct_overdue"]] == ["nanpiao"]
    assert [d_["county"] for d_ in m1015["discrepancies"]] == ["xingcheng"]
    assert any(r["county"] == "jianchang" and r["status"] == "late"
               for r in expected_levels[0]["payroll"])
    short = {q["month"]: q["expected"]["total_planned"] != q["expected"]["total_funded"]
             for q in plan_queries if q["at_seq"] != n}
    assert short == {"2021-07": False, "2021-10": True}, short
    assert plan_queries[-1]["expected"]["total_planned"] == \
        plan_queries[-1]["expected"]["total_funded"]
    disagree = []
    for i, ev in enumerate(loaded, 1):
        if ev["kind"] == "balance_reported":
            b = balances(log, n, pdate(ev["on"]))[f"{ev['county']}.{ev['account']}"]
            if amt_c(ev["balance"], True) != b:
                disagree.append(i)
    assert disagree == [seq["discrepancy"]], disagree
    assert loaded[-1]["kind"] != "event_reversed" and max(log.eff) == END
    # the policy switch: one record, v2 from 2021-09-30, recorded on 09-28; the 2021-10
    # plan follows v1 just before it and v2 at its basis date
    pols = [i for i, e in enumerate(loaded, 1) if e["kind"] == "planning_policy_set"]
    assert pols == [pol_seq], pols
    assert loaded[pol_seq - 1] == {"kind": "planning_policy_set", "policy": "v2",
                                   "effective_from": "2021-09-30"}
    assert G.rec_dates[pol_seq - 1] == POLICY_SWITCH["recorded"]
    assert [(q["month"], q["policy"]) for q in plan_queries] == [
        ("2021-07", "v1"), ("2021-10", "v1"), ("2021-10", "v2"), ("2021-07", "v1"),
        ("2022-03", "v2")]
    assert plan_queries[1]["at_seq"] == pol_seq - 1 < plan_queries[2]["at_seq"]
    q1, q2 = plan_queries[1]["expected"], plan_queries[2]["expected"]
    assert q1["lines"] != q2["lines"] and q1["tiers"] == q2["tiers"]
    jc_gen = {q: [ln for ln in plan_queries[q]["expected"]["lines"]
                  if ln["county"] == "jianchang" and ln["fund"] == "general"][0] for q in (1, 2)}
    assert amt_c(jc_gen[2]["funded"]) > amt_c(jc_gen[1]["funded"]), jc_gen
    # the December arrears: only the base wages by the deadline, the rest unpaid from the
    # day after payday to the day before the make-good, paid in full on that day
    assert len(jcd) == 2 and jcd[0][1] <= "2021-12-08" < jcd[1][1] == "2022-01-05", jcd
    assert amt_c(jcd[1][2]) == owed and loaded[seq["arrears_made_good_paid"] - 1]["amount"] \
        == fmt(owed) and loaded[seq["arrears_paid_part"] - 1]["amount"] == jcd[0][2]
    arrears = arrears_by_day(log, n, START, END)
    arrears_days = sorted(arrears)
    assert arrears_days[0] == "2021-12-16" and arrears_days[-1] == "2022-01-04", arrears_days
    assert len(arrears_days) == (D(2022, 1, 4) - D(2021, 12, 16)).days + 1
    assert all(rows == [dict(county="jianchang", payroll_month="2021-12", wage_bill=dec_bill,
                             payday="2021-12-15", paid=jcd[0][2], unpaid=fmt(owed))]
               for rows in arrears.values()), "the December arrears are the only ones"
    assert jc_1231 < owed, (jc_1231, owed)      # the county ends the year short of it
    m1231, m0104 = expected_levels[5], expected_levels[6]
    assert [r["status"] for r in m1231["payroll"] if r["county"] == "jianchang"
            and r["payroll_month"] == "2021-12"] == ["late"]
    assert not any(r["payroll_month"] == "2021-12" for r in m0104["payroll"])
    # monitor v2 (docs/monitor-v2.md): the arrears stay visible after the payroll rows
    # have moved on, the watch list says wage_arrears, and the late deposit stays on record
    dec_arrears = dict(county="jianchang", payroll_month="2021-12", wage_bill=dec_bill,
                       payday="2021-12-15", paid=jcd[0][2], unpaid=fmt(owed))
    assert m1231["arrears"] == [{**dec_arrears, "days_overdue": 16}], m1231["arrears"]
    assert m0104["arrears"] == [{**dec_arrears, "days_overdue": 20}], m0104["arrears"]
    for m_ in (m1231, m0104):
        assert "wage_arrears" in [w for w in m_["watchlist"] if w["county"] == "jianchang"][0][
            "reasons"]
    m_end = expected_levels[-1]
    assert m_end["arrears"] == [] and not any("wage_arrears" in w["reasons"]
                                              for w in m_end["watchlist"])

    def hist_row(m_, cid, pm):
        return [r for r in m_["payroll_history"] if r["county"] == cid
                and r["payroll_month"] == pm][0]
    assert (hist_row(m0104, "jianchang", "2021-12")["status"],
            hist_row(m0104, "jianchang", "2021-12")["deposited_on"],
            hist_row(m0104, "jianchang", "2021-12")["days_late"]) == ("late", None, 27)
    assert (hist_row(m_end, "jianchang", "2021-12")["deposited_on"],
            hist_row(m_end, "jianchang", "2021-12")["days_late"]) == ("2022-01-05", 28)
    assert [r["payroll_month"] for r in m_end["payroll_history"]
            if r["county"] == "jianchang" and r["days_late"] > 0] == \
        ["2021-03", "2021-06", "2021-11", "2021-12"]
    assert [(a["county"], a["tight_months"]) for a in m_end["attention"]] == [("nanpiao", 2)]
    # the watch-list entries of the story (README "On and off the watch list"), read from
    # the day-by-day reasons at the head: every reason but the level warning, as runs
    head_idx = day_index(log, n)
    runs = defaultdict(list)
    x = START
    while x <= END:
        for cid in head_idx.cids:
            for r in head_idx.reasons(cid, x):
                if r != "guarantee_level_warning":
                    if runs[(cid, r)] and runs[(cid, r)][-1][1] == x - DAY:
                        runs[(cid, r)][-1][1] = x
                    else:
                        runs[(cid, r)].append([x, x])
        x += DAY
    assert {k: [(a.isoformat(), b.isoformat()) for a, b in v] for k, v in runs.items()} == {
        ("jianchang", "payroll_late"): [("2021-03-09", "2021-03-10"), ("2021-06-09", "2021-06-10"),
                                        ("2021-11-09", "2021-11-09"), ("2021-12-09", "2021-12-31")],
        ("jianchang", "wage_arrears"): [("2021-12-16", "2022-01-04")],
        ("nanpiao", "direct_overdue"): [("2021-09-28", "2021-10-25")],
        ("xingcheng", "discrepancy"): [("2021-09-30", "2021-10-30")],
        ("nanpiao", "payroll_late"): [("2022-01-09", "2022-01-10")],
    }, dict(runs)
    # the advance (mode advance, never reversed) is outstanding from its value date on
    for p_ in expected_positions:
        for c_ in p_["counties"]:
            want = ADVANCE["amount"] if c_["county"] == ADVANCE["county"] and \
                p_["as_of"] >= ADVANCE["on"].isoformat() else 0
            assert c_["outstanding_advances"] == fmt(want), (p_["as_of"], c_)

    out = {
        "note": "Synthetic, fictional data. Expected figures are computed independently by "
                "generate.py's own simulation and validator, for cross-checking sanbao.",
        "checkpoints": checkpoints,
        "plan_months": plan_months,
        "plan_queries": plan_queries,
        "expected_positions": expected_positions,
        "expected_monitor": expected_levels,
        "notable_seqs": {
            "duplicate_transfer (reversal target)": seq["duplicate_transfer"],
            "reversal": rev_seq,
            "discrepancy (balance_reported)": seq["discrepancy"],
            "discrepancy explained by revenue of 2021-10-08": seq["discrepancy_explained_by"],
            "advance": seq["advance"],
            "grant": seq["grant"],
            "late payroll deposits": late,
            "overdue direct: allocation_notified": seq["overdue_direct_notice"],
            "overdue direct: transfer_allocated": seq["overdue_direct_dispatch"],
            "backdated expenditure_paid": seq["backdated_expense"],
            "backdated revenue_collected": seq["backdated_revenue"],
            "revised wage bill declaration": seq["wage_revision"],
            "planning_policy_set (v2 from 2021-09-30)": seq["policy_switch"],
            "jianchang bond instalment 2021-12-06": seq["bond_instalment"],
            "jianchang December payroll: base wages deposited": seq["arrears_deposit"],
            "jianchang December payroll: base wages paid": seq["arrears_paid_part"],
            "jianchang December arrears made good: deposited": seq["arrears_made_good_deposit"],
            "jianchang December arrears made good: paid": seq["arrears_made_good_paid"],
        },
    }
    with open(os.path.join(HERE, "checkpoints.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(out, f, ensure_ascii=False, indent=2)
        f.write("\n")

    # ---- summary
    counts = defaultdict(int)
    for ev in loaded:
        counts[ev["kind"]] += 1
    print(f"events: {n}")
    for k in sorted(counts):
        print(f"  {k:22s} {counts[k]:5d}")
    print("notable seqs:")
    for k, v in out["notable_seqs"].items():
        print(f"  {k}: {v}")
    for e in expected_levels:
        print(f"monitor as_of {e['as_of']} at_seq {e['at_seq']}:")
        for r in e["payroll"]:
            if r["status"] in ("late", "due"):
                print(f"  payroll {r['county']} {r['payroll_month']} {r['status']} "
                      f"deposited {r['deposited']} of {r['wage_bill']}")
        for r in e["direct_overdue"]:
            print(f"  direct overdue {r}")
        for r in e["discrepancies"]:
            print(f"  discrepancy {r}")
        for c in e["counties"]:
            print(f"  {c['county']:10s} cash {c['cash']:>16s}  avg {c['avg_monthly_outflow'] or '-':>15s}"
                  f"  level {c['guarantee_level'] or '-':>7s}  {c['status']:8s} lines {c['lines']}")
        for r in e["arrears"]:
            print(f"  arrears {r['county']} {r['payroll_month']} unpaid {r['unpaid']} "
                  f"days_overdue {r['days_overdue']}")
        for t in e["tight_months"]:
            print(f"  tight {t['county']} {t['months']} months since {t['since']}")
        for a in e["attention"]:
            print(f"  attention {a}")
        for w in e["watch_history"]:
            print(f"  watch_history {w['county']}: " + ", ".join(
                f"{s_['from']}..{s_['to'] or 'open'} {'+'.join(s_['reasons'])}"
                for s_ in w["spells"]))
    print("watch-list sweep checked against the v1 functions on "
          + ", ".join(f"{k} days at seq {at}" for at, k in swept.items()))
    end = expected_positions[-1]
    print(f"city.treasury at end: {end['city']['treasury']}")
    for d_ in sorted(arrears)[:1] + sorted(arrears)[-1:]:
        print(f"arrears on {d_}: {arrears[d_]}")
    for q in plan_queries:
        p = q["expected"]
        print(f"plan {q['month']} at_seq {q['at_seq']} ({q['policy']}): available "
              f"{p['city_available']} planned {p['total_planned']} funded {p['total_funded']} "
              f"tiers {[(t['fund'], t['planned'], t['funded']) for t in p['tiers']]}")
        if p["total_planned"] != p["total_funded"]:
            for ln in p["lines"]:
                if ln["fund"] == "general":
                    print(f"    {ln['county']:10s} general planned {ln['planned']:>14s} "
                          f"funded {ln['funded']:>14s}")
            for c in q["counties"]:
                print(f"    {c['county']:10s} needs {c['needs']:>14s} funded_in "
                      f"{c['funded_in']:>14s} end {c['projected_end']:>15s} level "
                      f"{c['projected_level']} {c['status']} emergency "
                      f"{c['emergency_recommended']}")


if __name__ == "__main__":
    main()
