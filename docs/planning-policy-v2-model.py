#!/usr/bin/env python3
"""Reference model of sanbao planning policies v1 and v2, as docs/planning-policy-v2.md
fixes them: it computes the document's worked examples (run it) and, with --check, tests
the two guarantees of §4.4 over random tiers. Integer cents throughout (ratios in
ten-thousandths), no floats. Inputs are the per-county figures SPEC §6.3 derives from
the log (opening cash, expected revenue, budgeted needs, declared wage bill, basis,
risk lines, planned lines); it is a model of the rules, not of sanbao's code."""

FUND_LIST = ["general", "pre_notified", "in_execution", "direct"]   # list order
FUNDING = ["direct", "general", "pre_notified", "in_execution"]     # funding order

def ceil_div(a, b): return -((-a) // b)

def rhe(num, den):                      # round half to even, den > 0
    q, r = divmod(num, den)
    if 2 * r > den or (2 * r == den and q % 2 == 1):
        q += 1
    return q

def y(c):                               # cents -> "1,234.56"
    s = "-" if c < 0 else ""
    c = abs(c)
    return f"{s}{c // 100:,}.{c % 100:02d}"

def r4(u): return "null" if u is None else f"{'-' if u < 0 else ''}{abs(u) // 10000}.{abs(u) % 10000:04d}"

LOG = []

def pro_rata(weights, left):
    """v1's rule: floor, then the cents left one by one to the largest remainders;
    ties keep the given order (county id, then fiscal year)."""
    total = sum(weights)
    assert 0 <= left < total, (left, total)
    q = [w * left // total for w in weights]
    rem = [w * left - qi * total for w, qi in zip(weights, q)]
    extra = left - sum(q)
    order = sorted(range(len(weights)), key=lambda i: -rem[i])  # stable
    for i in order[:extra]:
        q[i] += 1
    LOG.append((list(weights), left, total, [w * left // total for w in weights], rem, extra, list(q)))
    return q

def needs(c, policy):
    wb, nwb = c["wages"], c["non_wage"]
    if policy == "v1":
        return wb + nwb, wb, nwb
    w2 = max(wb, c["bill"] or 0)
    rr = c["basis"] or 0
    nw2 = max(nwb, rr - w2)
    assert w2 + nw2 == max(w2 + nwb, rr)
    return w2 + nw2, w2, nw2

def level(pe, basis):
    return None if not basis else rhe(pe * 10000, basis)

def status(lv, c):
    if lv is None: return "unknown"
    if lv < c["warning"]: return "warning"
    if lv < c["alert"]: return "low"
    if lv > c["idle"]: return "idle"
    return "normal"

def v1_gap(c, pe):
    """ceil_cent(warning_line x basis - pe), as emergency_amount (never below 0)."""
    return max(0, ceil_div(c["warning"] * c["basis"] - 10000 * pe, 10000))

def fund(counties, available, policy, literal=False, trace=None):
    """Returns {(county, fund, fy): funded}. literal=True: the rule exactly as issue 15
    words it (claims = min(planned, gap); pro rata over claims when they exceed)."""
    lines = sorted(((cid, f, fy, p) for cid, c in counties.items() for (f, fy, p) in c["lines"]),
                   key=lambda l: (l[0], FUND_LIST.index(l[1]), l[2]))
    funded = {l[:3]: 0 for l in lines}
    left = max(0, available)
    short = False
    for tier in FUNDING:
        tl = [l for l in lines if l[1] == tier]          # county id, then fy
        tp = sum(l[3] for l in tl)
        if short:                                         # tiers after the first short one
            continue
        if tp <= left:
            for l in tl: funded[l[:3]] = l[3]
            left -= tp
            continue
        short = True
        v1 = pro_rata([l[3] for l in tl], left)
        if policy == "v1":
            for l, s in zip(tl, v1): funded[l[:3]] = s
            left = 0
            continue
        A = left
        ids = sorted({l[0] for l in tl})
        P = {i: sum(l[3] for l in tl if l[0] == i) for i in ids}
        v1c = {i: sum(s for l, s in zip(tl, v1) if l[0] == i) for i in ids}
        claim, gapd, pe0d, lv0d = {}, {}, {}, {}
        for i in ids:
            c = counties[i]
            n2, _, _ = needs(c, "v2")
            before = sum(funded[l[:3]] for l in lines if l[0] == i and FUNDING.index(l[1]) < FUNDING.index(tier))
            pe0 = c["opening"] + before + c["revenue"] - n2
            lv0 = level(pe0, c["basis"])
            pe0d[i], lv0d[i] = pe0, lv0
            if lv0 is not None and lv0 < c["warning"]:
                gap = v1_gap(c, pe0)
                gapd[i] = gap
                claim[i] = min(P[i], gap) if literal else min(P[i], max(gap, v1c[i]))
        C = sum(claim.values())
        county_amt = {i: 0 for i in ids}
        case = "ii" if C <= A else "iii"
        if C <= A:
            for i in claim: county_amt[i] = claim[i]
        elif literal:
            w = sorted(claim)
            for i, s in zip(w, pro_rata([claim[i] for i in w], A)): county_amt[i] = s
        else:
            w = sorted(claim)
            for i in w: county_amt[i] = v1c[i]
            pool = A - sum(v1c[i] for i in w)
            for i, s in zip(w, pro_rata([claim[i] - v1c[i] for i in w], pool)): county_amt[i] += s
        # split each county's amount over its lines of the tier, fiscal year ascending
        q = {}
        for i in ids:
            rest = county_amt[i]
            for l in sorted((l for l in tl if l[0] == i), key=lambda l: l[2]):
                g = min(l[3], rest); q[l[:3]] = g; rest -= g
            assert rest == 0
        shares = [0] * len(tl)
        if C <= A:
            shares = pro_rata([l[3] - q[l[:3]] for l in tl], A - C)
        for l, s in zip(tl, shares): funded[l[:3]] = q[l[:3]] + s
        assert sum(funded[l[:3]] for l in tl) == A
        if trace is not None:
            trace.update(tier=tier, A=A, P=P, v1c=v1c, v1_lines={l[:3]: s for l, s in zip(tl, v1)},
                         pe0=pe0d, lv0=lv0d, gap=gapd, claim=claim, C=C, case=case,
                         county_amt=county_amt, q=q, shares={l[:3]: s for l, s in zip(tl, shares)})
        left = 0
    return lines, funded

def plan(counties, available, policy, literal=False, trace=None):
    lines, funded = fund(counties, available, policy, literal, trace)
    out = {}
    for i, c in sorted(counties.items()):
        fin = sum(v for k, v in funded.items() if k[0] == i)
        n, w, nw = needs(c, policy)
        pe = c["opening"] + fin + c["revenue"] - n
        lv = level(pe, c["basis"])
        em1 = v1_gap(c, pe) if lv is not None and lv < c["warning"] else 0
        if policy == "v2":
            wage_term = w - (c["opening"] + fin + c["revenue"] - nw)
            assert wage_term == -pe
            em = max(em1, wage_term, 0)
        else:
            em = em1
        out[i] = dict(funded_in=fin, needs=n, wage_need=w, non_wage=nw, projected_end=pe,
                      level=lv, status=status(lv, c), emergency=em, em_v1_formula=em1)
    return lines, funded, out

def county(opening, revenue, wages, non_wage, bill, basis, lines, warning=3000, alert=5000, idle=15000):
    return dict(opening=opening, revenue=revenue, wages=wages, non_wage=non_wage, bill=bill,
                basis=basis, lines=lines, warning=warning, alert=alert, idle=idle)

Y = 100  # one yuan in cents

EX1 = dict(available=130_000 * Y, counties={
    "dong": county(150_000 * Y, 30_000 * Y, 90_000 * Y, 40_000 * Y, 95_000 * Y, 220_000 * Y,
                   [("direct", 2026, 10_000 * Y), ("general", 2026, 60_000 * Y)]),
    "nan": county(400_000 * Y, 50_000 * Y, 150_000 * Y, 70_000 * Y, 150_000 * Y, 210_000 * Y,
                  [("general", 2026, 90_000 * Y)]),
    "xi": county(70_000 * Y, 10_000 * Y, 60_000 * Y, 30_000 * Y, 62_000 * Y, 80_000 * Y,
                 [("general", 2026, 45_000 * Y), ("in_execution", 2025, 6_000 * Y)]),
})

EX2 = dict(available=31_000 * Y, counties={
    "bei": county(45_000 * Y, 5_000 * Y, 40_000 * Y, 20_000 * Y, 40_000 * Y, 50_000 * Y,
                  [("direct", 2025, 30_000 * Y), ("direct", 2026, 70_000 * Y)]),
    "xin": county(0, 0, 12_000 * Y, 3_000 * Y, 12_000 * Y, None,
                  [("direct", 2026, 8_000 * Y)]),
    "zhong": county(10_000 * Y, 2_000 * Y, 30_000 * Y, 10_000 * Y, 32_000 * Y, 45_000 * Y,
                    [("direct", 2026, 20_000 * Y)]),
})

def show(name, ex):
    print(f"===== {name}: available {y(ex['available'])}")
    res = {}
    for pol in ("v1", "v2"):
        LOG.clear()
        tr = {}
        lines, funded, out = plan(ex["counties"], ex["available"], pol, trace=tr)
        res[pol] = (lines, funded, out, tr)
        for wts, left, total, fl, rem, extra, q in LOG:
            print(f"  [{pol}] pro_rata left={y(left)} total={y(total)}")
            for w, f_, r, qq in zip(wts, fl, rem, q):
                print(f"      w={y(w):>12} floor={y(f_):>12} rem={r}/{total} -> {y(qq)}")
            print(f"      extra cents: {extra}")
    _, _, _, tr = res["v2"]
    for k in ("tier", "A", "C", "case"):
        print(f"  {k}: {tr[k] if k in ('tier', 'case') else y(tr[k])}")
    for i in sorted(tr["P"]):
        print(f"  {i}: P={y(tr['P'][i])} v1c={y(tr['v1c'][i])} pe0={y(tr['pe0'][i])} lv0={r4(tr['lv0'][i])}"
              f" gap={y(tr['gap'][i]) if i in tr['gap'] else '-'} claim={y(tr['claim'][i]) if i in tr['claim'] else '-'}"
              f" amt={y(tr['county_amt'][i])}")
    for k in tr["v1_lines"]:
        print(f"  line {k}: v1={y(tr['v1_lines'][k])} q={y(tr['q'][k])} share={y(tr['shares'][k])}")
    lines = res["v1"][0]
    print("  lines (county fund fy planned | v1 funded | v2 funded)")
    for l in lines:
        print(f"   {l[0]:6} {l[1]:13} {l[2]} {y(l[3]):>12} | {y(res['v1'][1][l[:3]]):>12} | {y(res['v2'][1][l[:3]]):>12}")
    for pol in ("v1", "v2"):
        print(f"  {pol} tiers:", [(f, y(sum(l[3] for l in lines if l[1] == f)), y(sum(res[pol][1][l[:3]] for l in lines if l[1] == f))) for f in FUNDING])
    print("  county  | opening | revenue | v1: needs funded_in pe level status em | v2: needs (wage+nonwage) funded_in pe level status em(v1formula)")
    for i, c in sorted(ex["counties"].items()):
        a, b = res["v1"][2][i], res["v2"][2][i]
        print(f"   {i:6} {y(c['opening']):>11} {y(c['revenue']):>10} | {y(a['needs'])} {y(a['funded_in'])} {y(a['projected_end'])} {r4(a['level'])} {a['status']} {y(a['emergency'])}"
              f" | {y(b['needs'])} ({y(b['wage_need'])}+{y(b['non_wage'])}) {y(b['funded_in'])} {y(b['projected_end'])} {r4(b['level'])} {b['status']} {y(b['emergency'])} ({y(b['em_v1_formula'])})")
    for pol in ("v1", "v2"):
        print(f"  {pol} total funded {y(sum(res[pol][1].values()))}")
    # the literal rule of the issue, for comparison
    trl = {}
    _, fl, outl = plan(ex["counties"], ex["available"], "v2", literal=True, trace=trl)
    print("  literal rule: claims", {k: y(v) for k, v in trl["claim"].items()}, "case", trl["case"],
          "county funded_in", {i: y(o["funded_in"]) for i, o in outl.items()})
    # guarantees
    for i in tr["claim"]:
        assert res["v2"][2][i]["funded_in"] >= res["v1"][2][i]["funded_in"]
    assert sum(res["v1"][1].values()) == sum(res["v2"][1].values())

if __name__ == "__main__":
    show("Example 1", EX1)
    show("Example 2", EX2)

def counterexample_ii():
    """§4.5: the issue's literal claims (min(planned, gap)) in case (ii). One tier, lines
    X 1,000.00 (warning, gap 10.00), Y 100.00 (warning, gap 500.00), Z 900.00 (not at
    warning); 1,000.00 left."""
    v1 = pro_rata([1000 * Y, 100 * Y, 900 * Y], 1000 * Y)
    lit_claims = [10 * Y, 100 * Y, 0]
    C = sum(lit_claims)
    lit = [c + s for c, s in zip(lit_claims, pro_rata([1000 * Y - 10 * Y, 0, 900 * Y], 1000 * Y - C))]
    adj_claims = [min(1000 * Y, max(10 * Y, v1[0])), min(100 * Y, max(500 * Y, v1[1])), 0]
    C = sum(adj_claims)
    adj = [c + s for c, s in zip(adj_claims, pro_rata([p - c for p, c in zip([1000 * Y, 100 * Y, 900 * Y], adj_claims)], 1000 * Y - C))]
    print("===== counterexample (ii): X, Y, Z")
    print("  v1      ", [y(v) for v in v1])
    print("  literal ", [y(v) for v in lit])
    print("  adjusted", [y(v) for v in adj])
    assert lit[0] < v1[0] and adj[0] >= v1[0] and adj[1] >= v1[1] and sum(adj) == sum(v1)

def random_check(runs=20000, seed=1):
    """The guarantees of §4.4 over random tiers (and how often the literal rule breaks the second)."""
    import random
    random.seed(seed)
    bad = 0
    for it in range(runs):
        n = random.randint(1, 4)
        cs = {}
        for k in range(n):
            lines = []
            for f in FUNDING:
                for fy in (2025, 2026):
                    if random.random() < 0.3:
                        lines.append((f, fy, random.randint(1, 5000)))
            basis = random.choice([None, random.randint(1, 4000)])
            cs[f"c{k}"] = county(random.randint(0, 3000), random.randint(0, 500), random.randint(0, 2000),
                                 random.randint(0, 1500), random.choice([None, random.randint(0, 2500)]), basis, lines,
                                 warning=random.choice([1, 3000, 5000]), alert=9000, idle=20000)
        total = sum(p for c in cs.values() for _, _, p in c["lines"])
        avail = random.randint(0, total + 10)
        l1, f1, o1 = plan(cs, avail, "v1")
        tr = {}
        l2, f2, o2 = plan(cs, avail, "v2", trace=tr)
        for i in tr.get("claim", {}):              # every county of W
            assert o2[i]["funded_in"] >= o1[i]["funded_in"], (it, i)
        assert sum(f1.values()) == sum(f2.values())
        for f in FUNDING:
            assert sum(v for k, v in f1.items() if k[1] == f) == sum(v for k, v in f2.items() if k[1] == f)
        for l in l2:
            assert 0 <= f2[l[:3]] <= l[3]
        for i in cs:
            if o1[i]["status"] == "warning" or o2[i]["status"] == "warning":
                assert o2[i]["funded_in"] >= o1[i]["funded_in"], (it, i)
        # literal rule violations, for the record
        l3, f3, o3 = plan(cs, avail, "v2", literal=True)
        if any(o1[i]["status"] == "warning" and o3[i]["funded_in"] < o1[i]["funded_in"] for i in cs):
            bad += 1
    print("ok; literal rule violated the guarantee in", bad, "of", runs, "random plans")

if __name__ == "__main__":
    counterexample_ii()
    import sys
    if "--check" in sys.argv:
        random_check()
