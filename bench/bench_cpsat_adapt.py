"""A/B of adaptive LNS step sizes (issue 16 part 3, session 4): `packer.cpsat.solve` at 60 s, 2 workers.

For each family and seed (1,024 GPUs), runs the solve with the step size adapting (`lns.GROW_BELOW`
= ``--grow``, 0.5 measured) and then with it fixed (`GROW_BELOW = 0`: never grows, the shipped
default and the code before), back to back on the same load. Every plan is checked. One JSON line per run.

    python bench/bench_cpsat_adapt.py --families sharing,haein --seeds 0 1 --time-limit 60
"""

from __future__ import annotations

import argparse
import json
import os


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="haein,training,inference,sharing,hetero,tenants,adversarial")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--arms", default="adaptive,fixed")
    ap.add_argument("--grow", type=float, default=0.5)
    args = ap.parse_args()
    from packer import cpsat
    from packer.check import check
    from packer.cpsat import lns
    from packer.generate import generate

    shipped = lns.GROW_BELOW
    for fam in args.families.split(","):
        for seed in args.seeds:
            inst = generate(fam, seed=seed, nodes=args.nodes)
            for arm in args.arms.split(","):
                lns.GROW_BELOW = args.grow if arm == "adaptive" else 0.0
                load = os.getloadavg()[0]
                plan = cpsat.solve(inst, time_limit=args.time_limit, workers=2, seed=0)
                assert check(inst, plan).ok, (fam, seed, arm)
                info = plan.solver.model_dump()
                gap = None if plan.bound is None else 100 * (plan.bound - plan.objective) / plan.bound
                print(json.dumps({"family": fam, "seed": seed, "arm": arm, "objective": round(plan.objective, 3),
                                  "bound": plan.bound, "gap_pct": None if gap is None else round(gap, 3),
                                  "lns": info.get("lns"), "lp_s": info.get("lp_s"), "load": round(load, 2)}),
                      flush=True)
    lns.GROW_BELOW = shipped


if __name__ == "__main__":
    main()
