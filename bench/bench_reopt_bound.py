"""Search or bound? The bounds of a running cluster's re-optimization side by side (issue 17 part 2).

For each state: the relaxed LP of no limit (``reopt.BudgetBound.lp(None)``: every GPU of a node and
mode one class, fractional stays), the repack LP (``BudgetBound.repack_lp``: movable running work
freed as waiting work that must be placed, no migration costs), each with its seconds. With
``--exact S`` (small clusters) also the exact model's plan and proven bound (``cpsat.solve`` with
``aggregate=False``, S seconds: the true optimum where it proves it) and CP-SAT's proven bound of the
repack model (S seconds), to see how far each LP sits above the optimum.

    python bench/bench_reopt_bound.py fragmented --seeds 0 1 2 3 4
    python bench/bench_reopt_bound.py issue --seeds 0 1 5
    python bench/bench_reopt_bound.py issue --nodes 8 --seeds 100 101 102 --exact 20
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--exact", type=float, default=0.0, help="seconds for the exact model and repack CP-SAT (0: skip)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from ortools.sat.python import cp_model

    from packer.cpsat import solve
    from packer.cpsat.reopt import BudgetBound, movable_ids, repack_model

    rows = []
    print("| state | GPUs | movable | relaxed LP | s | repack LP | s | exact plan / bound | repack CP-SAT bound | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        bb = BudgetBound(inst)
        t = time.perf_counter()
        rel = bb.lp(None)
        t_rel = time.perf_counter() - t
        t = time.perf_counter()
        rep = bb.repack_lp()
        t_rep = time.perf_counter() - t
        row: dict[str, object] = {"state": inst.name, "seed": seed, "gpus": inst.num_gpus, "movable": len(movable_ids(inst)),
                                  "relaxed_lp": rel, "relaxed_s": round(t_rel, 1), "repack_lp": rep, "repack_s": round(t_rep, 1)}
        ex = rc = "-"
        if args.exact > 0:
            plan = solve(inst, time_limit=args.exact, workers=2, aggregate=False)
            row.update(exact_objective=plan.objective, exact_bound=plan.bound, exact_status=plan.status)
            ex = f"{plan.objective:.2f} / {plan.bound:.2f}"
            m = repack_model(inst)
            s = cp_model.CpSolver()
            s.parameters.max_time_in_seconds = args.exact
            s.parameters.num_workers = 2
            st = s.solve(m.model)
            rb = s.best_objective_bound / m.data.scale + m.constant
            row.update(repack_cpsat_bound=rb, repack_cpsat_status=s.status_name(st))
            rc = f"{rb:.2f} ({s.status_name(st).lower()})"
        row["load"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        f = (lambda v: "-" if v is None else f"{v:.2f}")
        print(f"| {inst.name} | {inst.num_gpus} | {row['movable']} | {f(rel)} | {t_rel:.1f} | {f(rep)} | {t_rep:.1f} "
              f"| {ex} | {rc} | {row['load']} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
