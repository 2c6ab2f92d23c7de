"""Deterministic A/B of the quota cut's effect on the search (packer.cpsat.reopt_quotacap.FIX, session 19).

The cut changes the stays LP, so each arm computes its own LP (bound and guide) from one shared no-move
plan; then ``move_steps`` runs with one worker, a fixed number of CP-SAT steps and a fixed deterministic
time per step (as bench/bench_reopt_gang.py). A: FIX off, B: on. Prints the objective after N steps, each
arm's bound and gap, and the load beside; a state where the cut adds no row is skipped (same LP, same run).

    python bench/bench_reopt19_det.py issue --seeds 0 1 2 3 4 --steps 20 --det 1.0 --json bench/reopt19_quotacap_det_issue.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import det_parser, state

    ap = det_parser(__doc__)
    args = ap.parse_args()

    import packer.cpsat.reopt as reopt
    from packer.cpsat import reopt_quotacap
    from packer.plans import objective_value

    default = reopt_quotacap.FIX
    out: dict[str, object] = {}
    print("| state | arm | objective after N steps | bound | gap | moves | wall s | load |")
    print("|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        reopt_quotacap.FIX = False
        model = reopt.repack_model(inst)
        if model is None or not reopt_quotacap.add_caps(inst, model, frozenset(reopt.movable_ids(inst))):
            print(f"| {inst.name} | - | no row: both arms the same run | | | | | |", flush=True)
            out[inst.name] = {"rows": 0}
            continue
        start = reopt.no_move_plan(inst, time_limit=args.start_s, seed=0, workers=1)
        placed = {a.request: list(a.units) for a in start.assignments}
        rows: dict[str, object] = {"start": objective_value(inst, placed)}
        for arm, on in (("A", False), ("B", True)):
            reopt_quotacap.FIX = on
            bb = reopt.BudgetBound(inst)
            bb.stays_lp(None, 120.0)
            guide = reopt._guide_of(bb, inst, None)
            bound = bb.best(None)
            t0 = time.perf_counter()
            got, stats = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 3600, seed=0,
                                          workers=1, guide=guide, max_steps=args.steps, det=args.det)
            wall = time.perf_counter() - t0
            obj = objective_value(inst, got)
            assert reopt._valid(inst, got)
            gap = None if bound is None else (bound - obj) / bound
            load = os.getloadavg()[0]
            rows[arm] = {"objective": obj, "bound": bound, "gap": gap, "moves": reopt.moves(inst, got),
                         "wall_s": round(wall, 1), "load": round(load, 2), "by_kind": stats.get("by_kind")}
            print(f"| {inst.name} | {arm} | {obj:.2f} | {bound:.2f} | {'-' if gap is None else format(100 * gap, '.2f') + '%'} | "
                  f"{rows[arm]['moves']} | {wall:.1f} | {load:.2f} |", flush=True)  # type: ignore[index]
        out[inst.name] = rows
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    reopt_quotacap.FIX = default
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
