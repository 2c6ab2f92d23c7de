"""The model's LP alone, before and after session 6's change (issue 16 part 3): bound and seconds.

For each family and seed (1,024 GPUs): builds the CP-SAT model, then its LP bound by the shipped path
(``dual``: HiGHS stopped at the scaled optimum, Lagrangian bound at its duals) and by the primal LP
(``primal``: scipy ``milp``, the code before), in the order given. One JSON line per instance and arm.

    python bench/bench_cpsat_lpalone.py --families haein,training --seeds 0 --arms dual,primal --limit 120
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="haein,training,inference,sharing,hetero,tenants,fragmented,adversarial")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--limit", type=float, default=120.0)
    ap.add_argument("--arms", default="dual,primal")
    args = ap.parse_args()
    from packer.cpsat.bound import lp_dual_value, lp_solve
    from packer.cpsat.model import CpsatModel
    from packer.cpsat.proof import padded_bound
    from packer.generate import generate

    for fam in args.families.split(","):
        for seed in args.seeds:
            model = CpsatModel(generate(fam, seed=seed, nodes=args.nodes))
            form = model.linear_form
            for arm in args.arms.split(","):
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                if arm == "dual":
                    value = lp_dual_value(form, time_limit=args.limit)
                else:
                    out = lp_solve(model.model, time_limit=args.limit, form=form)
                    value = None if out is None else out[0]
                s = time.perf_counter() - t0
                print(json.dumps({"family": fam, "seed": seed, "arm": arm, "s": round(s, 2),
                                  "bound": None if value is None else round(padded_bound(model, value), 4),
                                  "load": [round(load, 2), round(os.getloadavg()[0], 2)]}), flush=True)


if __name__ == "__main__":
    main()
