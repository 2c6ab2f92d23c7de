"""The model's LP bound under three scalings (issue 16 part 3, session 4; none shipped, see RESULTS_cpsat.md).

For each family and seed (1,024 GPUs): builds the CP-SAT model, then solves its LP relaxation with
HiGHS (scipy ``milp``, all continuous, as ``packer.cpsat.bound.lp_solve`` does) in three variants:
``raw`` (as shipped), ``rows`` (every row divided by its largest coefficient), ``rows+obj`` (and the
objective divided by its largest cost). Prints one JSON line per instance and variant: the bound in
objective units (None when HiGHS gave no optimum in the limit), HiGHS's status, seconds, the load.

    python bench/bench_cpsat_lpscale.py --families sharing,haein --seeds 0 --limit 90
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def rows_scaled(a, bl: np.ndarray, bh: np.ndarray):  # type: ignore[no-untyped-def]
    """(A, row lower, row upper) with each row divided by its largest absolute coefficient."""
    from scipy.sparse import csr_matrix, diags

    a = csr_matrix(a)
    big = np.ones(a.shape[0])
    filled = np.diff(a.indptr) > 0
    if filled.any():
        big[filled] = np.maximum.reduceat(np.abs(a.data), a.indptr[:-1][filled])
    return diags(1.0 / big) @ a, bl / big, bh / big


def solve(model, variant: str, limit: float) -> tuple[float | None, int]:  # type: ignore[no-untyped-def]
    from scipy.optimize import Bounds, LinearConstraint, milp

    from packer.cpsat.bound import _to_max

    c, a, bl, bh, lo, hi, obj = model.linear_form
    cost = 1.0
    if variant != "raw":
        a, bl, bh = rows_scaled(a, bl, bh)
    if variant == "rows+obj":
        cost = float(np.abs(c).max()) or 1.0
    res = milp(c / cost, constraints=LinearConstraint(a, bl, bh), bounds=Bounds(lo, hi),
               integrality=np.zeros(len(c)), options={"presolve": True, "time_limit": limit})
    if res.status != 0 or res.fun is None:
        return None, int(res.status)
    return _to_max(obj, float(res.fun) * cost) / model.data.scale + model.constant, 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="haein,training,inference,sharing,hetero,tenants,adversarial")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--limit", type=float, default=90.0)
    ap.add_argument("--variants", default="raw,rows,rows+obj")
    args = ap.parse_args()
    from packer.cpsat.model import CpsatModel
    from packer.generate import generate

    for fam in args.families.split(","):
        for seed in args.seeds:
            model = CpsatModel(generate(fam, seed=seed, nodes=args.nodes))
            model.linear_form  # noqa: B018
            for variant in args.variants.split(","):
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                value, status = solve(model, variant, args.limit)
                print(json.dumps({"family": fam, "seed": seed, "variant": variant,
                                  "bound": None if value is None else round(value, 4), "status": status,
                                  "s": round(time.perf_counter() - t0, 2), "load": round(load, 2)}), flush=True)


if __name__ == "__main__":
    main()
