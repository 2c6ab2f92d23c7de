"""The model's LP bound with and without row/objective scaling (issue 16 part 3, session 4).

For each family and seed (1,024 GPUs): builds the CP-SAT model, then solves its LP relaxation with
HiGHS twice, as before (raw coefficients) and as `packer.cpsat.bound.lp_solve` does now (rows divided
by their largest coefficient, objective by its largest cost). Prints one JSON line per instance:
both bounds (objective units, None when not solved in the limit), both times, the 1-min load.

    python bench/bench_cpsat_lpscale.py --families sharing,haein --seeds 0 1 --limit 120
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def raw_lp(model, limit: float) -> float | None:  # type: ignore[no-untyped-def]
    """The LP as it was solved before scaling (scipy milp, all continuous)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    from packer.cpsat.bound import _to_max

    c, a, bl, bh, lo, hi, obj = model.linear_form
    res = milp(c, constraints=LinearConstraint(a, bl, bh), bounds=Bounds(lo, hi), integrality=np.zeros(len(c)),
               options={"presolve": True, "time_limit": limit})
    if res.status != 0 or res.fun is None:
        return None
    return _to_max(obj, float(res.fun)) / model.data.scale + model.constant


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="haein,training,inference,sharing,hetero,tenants,adversarial")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--limit", type=float, default=120.0)
    ap.add_argument("--skip-raw", action="store_true")
    args = ap.parse_args()
    from packer.cpsat.bound import lp_solve
    from packer.cpsat.model import CpsatModel
    from packer.generate import generate

    for fam in args.families.split(","):
        for seed in args.seeds:
            inst = generate(fam, seed=seed, nodes=args.nodes)
            t0 = time.perf_counter()
            model = CpsatModel(inst)
            model.linear_form  # noqa: B018
            build = time.perf_counter() - t0
            row: dict[str, object] = {"family": fam, "seed": seed, "variables": len(model.model.proto.variables),
                                      "build_s": round(build, 2), "load": round(os.getloadavg()[0], 2)}
            t0 = time.perf_counter()
            out = lp_solve(model.model, time_limit=args.limit, form=model.linear_form)
            row["scaled"] = None if out is None else round(out[0] / model.data.scale + model.constant, 4)
            row["scaled_s"] = round(time.perf_counter() - t0, 2)
            if not args.skip_raw:
                t0 = time.perf_counter()
                row["raw"] = raw_lp(model, args.limit)
                row["raw"] = None if row["raw"] is None else round(row["raw"], 4)  # type: ignore[arg-type]
                row["raw_s"] = round(time.perf_counter() - t0, 2)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
