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


def main(paths: list[str]) -> int:
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
            if len(arms) < 3:
                continue
            a, b, c = (rows[k] for k in arms[:3])
            ca.append(c["objective"] - a["objective"])
            cb.append(c["objective"] - b["objective"])
            cells = []
            for tag, r in zip("ABC", (a, b, c), strict=True):
                n, s, _bld, nn = _cpsat(r)
                walls[tag].append(r["wall_s"])
                cps[tag].append((n, s, nn))
                cells.append(f"{n} ({s / max(1, n):.2f}, {nn / max(1, n):.1f})")
            bo, co = b.get("offer") or {}, c.get("offer") or {}
            fit_s += float(co.get("fit_s", 0.0))
            cp_c_s += _cpsat(c)[1] + _cpsat(c)[2]
            fit_cell = "-" if "fit_s" not in co else f"{co['fit_s']:.3f} ({co.get('tested', 0)})"
            print(f"| {name.split('/')[0]} | {a['objective']:.2f} | {b['objective']:.2f} | {c['objective']:.2f} | "
                  f"{ca[-1]:+.2f} | {cb[-1]:+.2f} | {a['wall_s']:.0f} / {b['wall_s']:.0f} / {c['wall_s']:.0f} "
                  f"({a['load']:.1f} / {b['load']:.1f} / {c['load']:.1f}) | {a['steps']} / {b['steps']} / {c['steps']} | "
                  f"{' / '.join(cells)} | {bo.get('offered', 0)} ({bo.get('skipped', 0)}) / "
                  f"{co.get('offered', 0)} ({co.get('skipped', 0)}) | {fit_cell} |")
    if ca:
        print()
        print(_stats("C − A (fit without budget − off)", ca))
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
