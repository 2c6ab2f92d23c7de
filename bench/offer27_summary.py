"""Session 27 (offer27): paired statistics of the three-arm deterministic A/B of the fit offer.

Reads the JSON files of ``bench/bench_reopt_gang.py ... --arms
"none|reopt_offer.OFFER_FIT+reopt_offer.OFFER_BUDGET|reopt_offer.OFFER_FIT"`` (A: off, B: the fit offer with
its variables budget, C: the fit offer without it) and prints per state the three end values, C − A and
C − B; per arm the wall seconds and the 1-min load at its end (wall is only indicative under load), the
steps of all kinds, the CP-SAT move steps (the steps an offer feeds: aimed, wide, replica, tenant, random,
diff, xrack) with their mean solve seconds and region nodes (a region grown by reopt.GROW gets det time in
proportion, so equal steps are not equal deterministic time), what the offers held (B / C: offered, skipped) and the fit
test's seconds (C); then per group of files sum, mean, median and wins / losses / ties of C − A and
C − B (|d| <= 0.01 is a tie).

    python bench/offer27_summary.py bench/offer27_det_fragmented_0_4.json

Files of two arms (``--arms "none|reopt_offer.OFFER_FIT+!reopt_offer.OFFER_BUDGET"``: A off, C the fit offer
without its budget) take B from session 26's ``--ab reopt_offer.OFFER_FIT`` files given after ``--budget``
(their B arm; their A arm is printed beside this run's A: where the two A arms are equal to the cent, the
deterministic run reproduced, and B from that run is comparable; a state whose A differs is marked *):

    python bench/offer27_summary.py bench/offer27_det_issue_0_4.json --budget bench/offer26_det_issue_0_4.json \
        bench/offer26_det_lead_issue_1_4.json
"""

from __future__ import annotations

import json
import statistics
import sys

CPSAT_KINDS = ("aimed", "wide", "replica", "tenant", "random", "diff", "xrack")


def _cpsat(row: dict) -> tuple[int, float, float, int]:
    """(CP-SAT move steps, their solve seconds, their build seconds, their region nodes) of one arm."""
    bk = row.get("by_kind") or {}
    recs = [bk[k] for k in CPSAT_KINDS if k in bk]
    return (sum(r.get("steps", 0) for r in recs), sum(r.get("solve_s", 0.0) for r in recs),
            sum(r.get("build_s", 0.0) for r in recs), sum(r.get("nodes", 0) for r in recs))


def _stats(name: str, diffs: list[float]) -> str:
    w = sum(d > 0.01 for d in diffs)
    losses = sum(d < -0.01 for d in diffs)
    return (f"{name}: {len(diffs)} states, sum {sum(diffs):+.2f}, mean {statistics.mean(diffs):+.2f}, "
            f"median {statistics.median(diffs):+.2f}, wins / losses / ties {w} / {losses} / {len(diffs) - w - losses}")


def main(argv: list[str]) -> int:
    paths = argv[: argv.index("--budget")] if "--budget" in argv else argv
    budget: dict[str, dict] = {}
    for p in argv[len(paths) + 1:]:
        budget.update(json.load(open(p)))
    if budget:
        print("B: session 26's budget arm; A26: session 26's A arm (off) beside this run's A")
    print("| state | A none | B fit+budget | C fit, no budget | C − A | C − B | wall s A / B / C (load) "
          "| steps A / B / C | CP-SAT steps (mean solve s, mean region nodes) A / B / C | offered (skipped) B / C | fit test s C (tested) |")
    print("|---|---:|---:|---:|---:|---:|---|---|---|---|---|")
    ca: list[float] = []
    cb: list[float] = []
    walls: dict[str, list[float]] = {"A": [], "B": [], "C": []}
    cps: dict[str, list[tuple[int, float, int]]] = {"A": [], "B": [], "C": []}
    fit_s = 0.0
    cp_c_s = 0.0
    for p in paths:
        data = json.load(open(p))
        for name, rows in data.items():
            arms = [k for k in rows if k not in ("start", "bound")]
            mark = ""
            if len(arms) == 2:  # A, C here; B from session 26 where it ran the state
                a, c = rows[arms[0]], rows[arms[1]]
                b = budget[name]["B"] if name in budget else None
                if b is not None:
                    a26 = budget[name]["A"]["objective"]
                    mark = f" (A26 {a26:.2f}{'' if abs(a26 - a['objective']) < 0.005 else ' *'})"
            elif len(arms) >= 3:
                a, b, c = (rows[k] for k in arms[:3])
            else:
                continue
            ca.append(c["objective"] - a["objective"])
            if b is not None:
                cb.append(c["objective"] - b["objective"])
            cells = []
            for tag, r in zip("ABC", (a, b, c), strict=True):
                if r is None:
                    cells.append("-")
                    continue
                n, s, _bld, nn = _cpsat(r)
                walls[tag].append(r["wall_s"])
                cps[tag].append((n, s, nn))
                cells.append(f"{n} ({s / max(1, n):.2f}, {nn / max(1, n):.1f})")
            bo, co = (b or {}).get("offer") or {}, c.get("offer") or {}
            fit_s += float(co.get("fit_s", 0.0))
            cp_c_s += _cpsat(c)[1] + _cpsat(c)[2]
            fit_cell = "-" if "fit_s" not in co else f"{co['fit_s']:.3f} ({co.get('tested', 0)})"
            bv, bw, bl, bs = (("-",) * 4 if b is None else
                              (f"{b['objective']:.2f}", f"{b['wall_s']:.0f}", f"{b['load']:.1f}", b["steps"]))
            cbs = "-" if b is None else f"{cb[-1]:+.2f}"
            print(f"| {name.split('/')[0]} | {a['objective']:.2f}{mark} | {bv} | {c['objective']:.2f} | "
                  f"{ca[-1]:+.2f} | {cbs} | {a['wall_s']:.0f} / {bw} / {c['wall_s']:.0f} "
                  f"({a['load']:.1f} / {bl} / {c['load']:.1f}) | {a['steps']} / {bs} / {c['steps']} | "
                  f"{' / '.join(cells)} | {'-' if b is None else str(bo.get('offered', 0)) + ' (' + str(bo.get('skipped', 0)) + ')'} / "
                  f"{co.get('offered', 0)} ({co.get('skipped', 0)}) | {fit_cell} |")
    if ca:
        print()
        print(_stats("C − A (fit without budget − off)", ca))
        if cb:
            print(_stats("C − B (fit without budget − fit with budget)", cb))
        for tag in "ABC":
            n = sum(x[0] for x in cps[tag])
            s = sum(x[1] for x in cps[tag])
            nn = sum(x[2] for x in cps[tag])
            print(f"arm {tag}: wall {sum(walls[tag]):.0f} s in all; CP-SAT move steps {n}, mean solve {s / max(1, n):.2f} s, "
                  f"mean region {nn / max(1, n):.1f} nodes")
        if fit_s:
            print(f"arm C: fit offer (region room + tests) {fit_s:.2f} s against its CP-SAT steps' build + solve "
                  f"{cp_c_s:.1f} s ({100 * fit_s / max(1e-9, cp_c_s):.2f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
