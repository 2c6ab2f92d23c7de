"""Does an integer bound close the re-optimizer's gap? The repack LP beside its integer-strengthened
bound (``packer.cpsat.intbound.repack_int_bound``: HiGHS branch and bound with the placed counts
integer, ``--mip S`` seconds, its dual bound), issue 17 part 2.

With ``--exact S`` (small clusters) also the exact model's plan and proven bound (``cpsat.solve``,
``aggregate=False``): the true optimum where it proves it, which every bound must be at least.

    python bench/bench_reopt_intbound.py issue --nodes 8 --seeds 100 101 102 --mip 10 --exact 20
    python bench/bench_reopt_intbound.py fragmented --seeds 0 1 2 --mip 30
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
    ap.add_argument("--mip", type=float, default=30.0, help="seconds of branch and bound")
    ap.add_argument("--exact", type=float, default=0.0, help="seconds for the exact model (0: skip)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()


    from packer.cpsat import solve
    from packer.cpsat.intbound import repack_int_bound
    from packer.cpsat.reopt import movable_ids

    rows = []
    print("| state | GPUs | movable | integer columns | repack LP | integer bound | s | finished | repack primal "
          "| exact plan / bound | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    f = (lambda v: "-" if v is None else f"{v:.2f}")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        t = time.perf_counter()
        ib = repack_int_bound(inst, time_limit=args.mip)
        secs = time.perf_counter() - t
        row: dict[str, object] = {"state": inst.name, "seed": seed, "gpus": inst.num_gpus,
                                  "movable": len(movable_ids(inst)), "s": round(secs, 1)}
        if ib is not None:
            row.update(integer_columns=ib.integer_columns, repack_lp=ib.lp, int_bound=ib.dual,
                       finished=ib.finished, repack_primal=ib.primal)
        ex = "-"
        if args.exact > 0:
            plan = solve(inst, time_limit=args.exact, workers=2, aggregate=False)
            row.update(exact_objective=plan.objective, exact_bound=plan.bound, exact_status=plan.status)
            ex = f"{plan.objective:.2f} / {plan.bound:.2f} ({plan.status})"
            if ib is not None and ib.dual is not None:
                assert ib.dual >= plan.objective - 1e-6, "the integer bound is below a valid plan"
        row["load"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        print(f"| {inst.name} | {inst.num_gpus} | {row['movable']} | {row.get('integer_columns', '-')} "
              f"| {f(row.get('repack_lp'))} | {f(row.get('int_bound'))} | {secs:.1f} | {row.get('finished', '-')} "
              f"| {f(row.get('repack_primal'))} | {ex} | {row['load']} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
