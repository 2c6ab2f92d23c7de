"""A/B of the LP bound from HiGHS's duals against the primal LP (issue 16 part 3, session 6).

Arms, back to back on each instance (60 s, ``--workers 2``, solver seed 0, every plan checked):
``dual`` = shipped (:func:`packer.cpsat.bound.lp_dual_value`, HiGHS stopped at the scaled optimum,
Lagrangian bound at its duals); ``primal`` = the code before (``lp_dual_value`` patched to answer
None, so :func:`packer.cpsat.bound.lp_solve` runs, cleanup and all). One JSON line per run: objective,
bound, LP bound and when it ended (s into the run), LNS steps, load before and after.

    python bench/bench_cpsat_lpdual.py --families sharing,inference,haein --seeds 0 --arms dual,primal
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="sharing,inference,haein")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--arms", default="dual,primal")
    args = ap.parse_args()
    from packer.check import check
    from packer.cpsat import bound, solve
    from packer.generate import generate

    shipped = bound.lp_dual_value
    for fam in args.families.split(","):
        for seed in args.seeds:
            inst = generate(fam, seed=seed, nodes=args.nodes)
            for arm in args.arms.split(","):
                bound.lp_dual_value = shipped if arm == "dual" else (lambda form, time_limit=None: None)
                load0 = os.getloadavg()[0]
                plan = solve(inst, time_limit=args.time_limit, seed=0, workers=2)
                info = plan.solver.model_extra or {}
                row = {"family": fam, "seed": seed, "arm": arm, "objective": round(plan.objective, 4),
                       "bound": None if plan.bound is None else round(plan.bound, 4),
                       "gap_pct": None if not plan.bound else round(100 * (plan.bound - plan.objective) / plan.bound, 3),
                       "lp_bound": info.get("lp_bound"), "lp_s": info.get("lp_s"),
                       "relaxed_bound": info.get("relaxed_bound"),
                       "lns_steps": (info.get("lns") or {}).get("steps"), "checked": check(inst, plan).ok,
                       "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
                       "utc": time.strftime("%H:%M", time.gmtime())}
                print(json.dumps(row), flush=True)
    bound.lp_dual_value = shipped


if __name__ == "__main__":
    main()
