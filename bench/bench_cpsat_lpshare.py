"""A/B of the time limit of the LP beside the search (issue 16 part 3, session 4 follow-up).

`packer.cpsat.solve` at ``--time-limit`` s, 2 workers, solver seed 0, for each family and seed (1,024
GPUs): once per arm, back to back on the same load. An arm is ``WAY:SHARE``: WAY ``child`` (the LP in
a child process ended at its limit, `tuning.LP_IN_CHILD`) or ``thread`` (HiGHS in a thread with only its own
time limit, the code before); SHARE the value of `tuning.LP_CONCURRENT_SHARE` (the limit as a share of
the time left when the LP starts; once the LP has ended, the LNS runs its steps in parallel again).
Every plan is checked. A small solve first warms numba's cache, so no arm pays the compile.

    python bench/bench_cpsat_lpshare.py --families sharing,haein,inference --seeds 0 --arms child:0.5,thread:0.95
"""

from __future__ import annotations

import argparse
import json
import os


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="sharing,haein,inference")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--arms", default="child:0.5,thread:0.95")
    args = ap.parse_args()
    from packer import cpsat
    from packer.check import check
    from packer.cpsat import tuning
    from packer.generate import generate

    shipped = tuning.LP_CONCURRENT_SHARE
    shipped_way = tuning.LP_IN_CHILD
    cpsat.solve(generate("sharing", seed=0, nodes=8), time_limit=5, workers=2, seed=0)  # warm numba
    for fam in args.families.split(","):
        for seed in args.seeds:
            inst = generate(fam, seed=seed, nodes=args.nodes)
            for arm in args.arms.split(","):
                way, share_s = arm.split(":")
                share = float(share_s)
                tuning.LP_IN_CHILD = way == "child"
                tuning.LP_CONCURRENT_SHARE = share
                load = os.getloadavg()[0]
                plan = cpsat.solve(inst, time_limit=args.time_limit, workers=2, seed=0)
                assert check(inst, plan).ok, (fam, seed, share)
                info = plan.solver.model_dump()
                gap = None if plan.bound is None else 100 * (plan.bound - plan.objective) / plan.bound
                lns = info.get("lns") or {}
                print(json.dumps({"family": fam, "seed": seed, "way": way, "share": share, "objective": round(plan.objective, 3),
                                  "bound": plan.bound, "gap_pct": None if gap is None else round(gap, 3),
                                  "lp_bound": info.get("lp_bound"), "lp_s": info.get("lp_s"),
                                  "steps": lns.get("steps"), "improved": lns.get("improved"),
                                  "load": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}),
                      flush=True)
    tuning.LP_CONCURRENT_SHARE = shipped
    tuning.LP_IN_CHILD = shipped_way


if __name__ == "__main__":
    main()
