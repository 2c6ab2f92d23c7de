"""Where a family's gap is: the bound's or the search's (issue 16 part 3, session 6, step 1).

One long CP-SAT run per instance (default 300 s, ``--workers 2``) with a progress recorder that keeps
every improvement, so one run gives the primal at the short limit (default 60 s: the best found by
then) and at the long one. Its LP runs beside the search with the long run's budget, so the LP's
own time and answer are those of the LP "run alone to completion" (on its core). Recorded: the
primal at 60 s and at the end, the LP bound and when it ended (None: it never finished), CP-SAT's
reported bound (the plan's, the smaller of CP-SAT's and the LP's), and the gaps of both primals to
the best bound. A family whose long primal sits near the short one while the gap stays is a bound
problem; one whose long primal closes most of the gap is a search problem.

Note: the 60 s primal of a 300 s run is not quite that of a 60 s run: the first whole-model run is
capped at LNS_FIRST_MAX_S either way, but the LP (beside the search) holds its core longer.

    python bench/bench_cpsat_where.py --families inference,sharing --seeds 0 --limit 300 --at 60
"""

from __future__ import annotations

import argparse
import json
import os
import time

from packer.progress import Progress


class Recorder(Progress):
    """Keeps (seconds, best) for every improvement reported; prints nothing."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.points: list[tuple[float, float]] = []

    def update(self, *, best: float | None = None, bound: float | None = None, done: float | None = None,
               total: float | None = None, note: str = "", force: bool = False) -> None:
        if best is not None and (not self.points or best > self.points[-1][1]):
            self.points.append((time.perf_counter() - self.start, float(best)))

    def best_at(self, s: float) -> float | None:
        vals = [b for t, b in self.points if t <= s]
        return max(vals) if vals else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="inference,sharing,hetero,tenants,fragmented,adversarial")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--limit", type=float, default=300.0)
    ap.add_argument("--at", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    from packer.check import check
    from packer.cpsat import solve
    from packer.generate import generate

    for fam in args.families.split(","):
        for seed in args.seeds:
            inst = generate(fam, seed=seed, nodes=args.nodes)
            load0 = os.getloadavg()[0]
            rec = Recorder()
            plan = solve(inst, time_limit=args.limit, seed=0, workers=args.workers, progress=rec)
            load1 = os.getloadavg()[0]
            ok = check(inst, plan).ok
            info = plan.solver.model_extra or {}
            lp_pad = info.get("lp_bound")
            bound = plan.bound
            short = rec.best_at(args.at)
            row = {"family": fam, "seed": seed, "limit": args.limit, "at": args.at,
                   "objective": round(plan.objective, 4), f"best_at_{args.at:g}": None if short is None else round(short, 4),
                   "bound": None if bound is None else round(bound, 4), "lp_bound": lp_pad,
                   "lp_s": info.get("lp_s"),
                   "gap_end_pct": None if bound is None else round(100 * (bound - plan.objective) / bound, 3),
                   "gap_at_pct": None if bound is None or short is None else round(100 * (bound - short) / bound, 3),
                   "lns_steps": (info.get("lns") or {}).get("steps"), "checked": ok,
                   "load": [round(load0, 2), round(load1, 2)], "utc": time.strftime("%H:%M", time.gmtime())}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
