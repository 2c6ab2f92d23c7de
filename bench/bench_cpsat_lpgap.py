"""How far the LP bound lies above the true optimum on the haein mix (not a unit test).

    python bench/bench_cpsat_lpgap.py --nodes 8 16 24 --seeds 0 1 2 3 4 --time-limit 120

For the haein mix on a few nodes (``generate("haein", seed, nodes=N)``), small enough for CP-SAT to
prove optimality, it prints the HiGHS LP bound of the aggregated model (the bound packer reports on
big instances), CP-SAT's plan, status and own bound, and the LP's excess over the optimum (over the
best plan when not proven). Every plan passes ``check()`` (asserted).
"""

from __future__ import annotations

import argparse
import json
import time

from packer.check import check
from packer.cpsat import solve
from packer.cpsat.bound import lp_solve
from packer.cpsat.model import CpsatModel
from packer.generate import generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, nargs="+", default=[8, 16, 24])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None, help="append one JSON line per instance to this file")
    args = ap.parse_args()
    print("| nodes | seed | requests | LP bound | CP-SAT objective | status | CP-SAT bound | LP excess over it | wall |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.nodes:
        for seed in args.seeds:
            inst = generate("haein", seed, nodes=n)
            model = CpsatModel(inst)
            out = lp_solve(model.model)
            assert out is not None
            lp = out[0] / model.data.scale + model.constant
            t = time.perf_counter()
            plan = solve(inst, time_limit=args.time_limit, seed=0, workers=args.workers)
            wall = time.perf_counter() - t
            assert check(inst, plan).ok
            excess = 100 * (lp - plan.objective) / max(abs(plan.objective), 1e-9)
            print(f"| {n} | {seed} | {len(inst.requests)} | {lp:.3f} | {plan.objective:.3f} | {plan.status} | "
                  f"{plan.bound:.3f} | {excess:.2f} % | {wall:.1f} s |", flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps({"nodes": n, "seed": seed, "lp": lp, "objective": plan.objective,
                                        "status": plan.status, "bound": plan.bound, "wall_s": wall}) + "\n")


if __name__ == "__main__":
    main()
