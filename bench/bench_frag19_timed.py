"""Timed A/B of session 19's clear steps (reopt_clear.CLEAR) at the issue recipe: per state
``reopt.curve(inst, [None], time_limit, workers=2)`` (what ``packer solve --solver cpsat`` and ``packer
bench`` run on a running cluster with no migration cap) once per arm, the arms one after the other,
their order turning per state. Every plan is checked. Prints objective, bound, gap, moves, the clear
steps' record (steps, improved, gain, gangs placed) and the load beside each run; appends every run
to ``--json``.

    python bench/bench_frag19_timed.py fragmented --seeds 100 101 102 103 104 --time-limit 60 \
        --json bench/frag19_timed_clear_fragmented.json
    python bench/bench_frag19_timed.py issue --seeds 5 100 --json bench/frag19_timed_clear_issue.json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--arms", nargs="+", default=["on", "off"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from packer.check import check
    from packer.cpsat import reopt, reopt_clear
    from packer.plans import migration_cost

    default = reopt_clear.CLEAR
    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else []
    print("| state | clear | objective | bound | gap | moves (cost) | clear steps (improved, gain, gangs placed) | load |")
    print("|---|---|---|---|---|---|---|---|")
    for i, seed in enumerate(args.seeds):
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        arms = list(args.arms) if i % 2 == 0 else list(reversed(args.arms))
        for arm in arms:
            reopt_clear.CLEAR = arm == "on"
            load0 = os.getloadavg()[0]
            pt = reopt.curve(inst, [None], time_limit=args.time_limit, workers=args.workers, seed=0)[-1]
            rep = check(inst, pt.plan)
            assert rep.ok, (inst.name, arm)
            row = pt.row()
            placed = {a.request: a.units for a in pt.plan.assignments}
            cost = sum(migration_cost(inst, r) for r in inst.requests
                       if r.placement is not None and r.id in placed and reopt.moves(inst, {r.id: placed[r.id]}))
            steps = pt.info.get("steps") or {}
            ck = (steps.get("by_kind") or {}).get("clear", {}) if isinstance(steps, dict) else {}
            rec = {"state": inst.name, "seed": seed, "arm": arm, "objective": row["objective"], "bound": row["bound"],
                   "gap": row["gap"], "moves": pt.moves, "migration_cost": round(cost, 3),
                   "no_move": pt.info.get("no_move_objective"),
                   "steps": steps.get("steps") if isinstance(steps, dict) else None,
                   "clear": {"steps": ck.get("steps", 0), "improved": ck.get("improved", 0), "gain": ck.get("gain", 0.0),
                             "placed": steps.get("clear_placed", 0) if isinstance(steps, dict) else 0,
                             "fail": steps.get("clear_fail") if isinstance(steps, dict) else None},
                   "load": [round(load0, 2), round(os.getloadavg()[0], 2)], "time_limit": args.time_limit}
            out.append(rec)
            c = rec["clear"]
            print(f"| {inst.name} | {arm} | {row['objective']:.2f} | {row['bound']:.2f} | {100 * row['gap']:.2f}% | "
                  f"{pt.moves} ({cost:.2f}) | {c['steps']} ({c['improved']}, {c['gain']:.2f}, {c['placed']}) | "
                  f"{rec['load'][0]}-{rec['load'][1]} |", flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    reopt_clear.CLEAR = default
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
