"""The model's LP alone by HiGHS method (issue 16 part 3, session 14): size, bound, CPU and wall seconds.

For each family and seed (1,024 GPUs): builds the CP-SAT model, prints its LP's size (rows, columns,
non-zeros), then solves it once per arm with :func:`packer.cpsat.bound.lp_dual_value` under the arm's
HiGHS options; the bound is the Lagrangian at HiGHS's row duals, so it is valid whatever HiGHS's status.
CPU seconds are the process's (HiGHS runs with ``threads`` 1 unless an arm says otherwise), so they do
not depend on the load the way wall seconds do. One JSON line per instance and arm.

    python bench/bench_cpsat_lpmethod.py --families inference,sharing --seeds 0 1 --arms simplex,ipm
"""

from __future__ import annotations

import argparse
import json
import os
import time

#: arm name -> HiGHS options (beside output_flag off and simplex_unscaled_solution_strategy 0).
ARMS: dict[str, dict[str, object]] = {
    "simplex": {"solver": "simplex"},
    "simplex_nopre": {"solver": "simplex", "presolve": "off"},
    "primal": {"solver": "simplex", "simplex_strategy": 4},
    "ipm": {"solver": "ipm", "run_crossover": "off"},
    "ipm_nopre": {"solver": "ipm", "run_crossover": "off", "presolve": "off"},
    "ipm_x": {"solver": "ipm", "run_crossover": "on"},
    "pdlp": {"solver": "pdlp"},
    "simplex_2s": {"solver": "simplex", "time_limit": 2.0},
    "simplex_5s": {"solver": "simplex", "time_limit": 5.0},
    "ipm_2s": {"solver": "ipm", "run_crossover": "off", "time_limit": 2.0},
    "ipm_5s": {"solver": "ipm", "run_crossover": "off", "time_limit": 5.0},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="inference,sharing,tenants,hetero")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--limit", type=float, default=120.0)
    ap.add_argument("--arms", default="simplex,ipm")
    ap.add_argument("--hint", action="store_true", help="also time the greedy hint (what runs before the LP)")
    args = ap.parse_args()
    from packer.cpsat.bound import lp_dual_value
    from packer.cpsat.model import CpsatModel
    from packer.cpsat.proof import padded_bound
    from packer.generate import generate

    for fam in args.families.split(","):
        for seed in args.seeds:
            inst = generate(fam, seed=seed, nodes=args.nodes)
            t0 = time.perf_counter()
            c0 = time.process_time()
            model = CpsatModel(inst)
            form = model.linear_form
            build = (round(time.perf_counter() - t0, 2), round(time.process_time() - c0, 2))
            a = form[1]
            size = {"rows": int(a.shape[0]), "cols": int(a.shape[1]), "nnz": int(a.nnz)}
            for arm in args.arms.split(","):
                opts = dict(ARMS[arm])
                limit = float(opts.pop("time_limit", args.limit))
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                c0 = time.process_time()
                value = lp_dual_value(form, time_limit=limit, options=opts)
                print(json.dumps({"family": fam, "seed": seed, "arm": arm, **size, "build_s": build,
                                  "s": round(time.perf_counter() - t0, 2), "cpu_s": round(time.process_time() - c0, 2),
                                  "bound": None if value is None else round(padded_bound(model, value), 4),
                                  "load": [round(load, 2), round(os.getloadavg()[0], 2)]}), flush=True)


if __name__ == "__main__":
    main()
