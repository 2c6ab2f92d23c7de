"""Is a from-scratch repack a candidate plan for re-optimizing a running cluster? (issue 17 part 2)

For each state: the no-move plan (``reopt.no_move_plan``), then every movable running request turned
into a waiting request with its priority × ``--boost`` (so that it is placed first) and the batch
CP-SAT path (``search.solve_monolithic``, hinted with the no-move plan) for ``--time-limit`` seconds.
Printed: the repack's value before migration costs, how many running requests it dropped (a plan
that drops one is no re-optimization) or moved, and, when it dropped none, its objective as a plan of
the running state (migration costs paid) and whether ``packer.check`` accepts it.

    python bench/bench_reopt_repack.py issue --seeds 0 --boost 10 --time-limit 60
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
    ap.add_argument("--boost", type=float, default=10.0)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()


    from packer.check import check
    from packer.cpsat.reopt import _plan, moves, no_move_plan, repack_instance
    from packer.cpsat.search import solve_monolithic
    from packer.plans import objective_value

    out = []
    print("| state | no-move | repack value (no migration cost) | running dropped | moved | objective as re-optimization | valid | load |")
    print("|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        nm = no_move_plan(inst, time_limit=0.2 * args.time_limit, workers=args.workers)
        rp, ids = repack_instance(inst)
        rp = rp.replace(requests=tuple(r.model_copy(update={"priority": r.priority * args.boost}) if r.id in ids else r
                                       for r in rp.requests))
        t0 = time.perf_counter()
        plan = solve_monolithic(rp, nm.model_copy(update={"instance": rp.name}), seed=0, workers=args.workers,
                                start=t0, left=lambda t0=t0: args.time_limit - (time.perf_counter() - t0), info={})
        placed = {a.request: list(a.units) for a in plan.assignments}
        dropped = sorted(ids - set(placed))
        free = inst.replace(requests=tuple(r.model_copy(update={"migration_cost": 0.0}) if r.id in ids else r
                                           for r in inst.requests))
        value = objective_value(free, {k: v for k, v in placed.items()})
        row: dict[str, object] = {"state": inst.name, "no_move": nm.objective, "repack_value": value,
                                  "dropped": len(dropped), "boost": args.boost, "time_limit_s": args.time_limit}
        obj = valid = None
        if not dropped:
            obj = objective_value(inst, placed)
            valid = check(inst, _plan(inst, placed, bound=None, seed=0, wall_s=0.0, info={})).ok
            row.update(moved=moves(inst, placed), objective=obj, valid=valid)
        row["load"] = round(os.getloadavg()[0], 2)
        out.append(row)
        print(f"| {inst.name} | {nm.objective:.2f} | {value:.2f} | {len(dropped)} | {row.get('moved', '-')} "
              f"| {'-' if obj is None else f'{obj:.2f}'} | {valid} | {row['load']} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
