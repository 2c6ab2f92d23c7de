"""Timed A/B of session 21's stall-gated branch and bound (reopt_intstays.AFTER_STALL) at the issue recipe:
per state ``reopt.curve(inst, [None], time_limit, workers=2)`` (what ``packer bench`` runs on a running
cluster with no migration cap) once per arm, the arms one after the other, their order turning per
state. Every plan is checked. Arms: ``stall`` (AFTER_STALL), ``off`` (neither; main's default), ``int``
(INT_STAYS: session 18's, started at once after the LP), ``stall-owns`` (AFTER_STALL with ARM "owns":
ownership and stays integer too). Prints objective, bound, gap, moves, steps,
when the rule fired and what branch and bound gave; appends every run to ``--json``.

    python bench/bench_haein21_timed.py issue --seeds 5 100 101 --json bench/haein21_timed_issue.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser, timed_run

    ap = state_parser(__doc__)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--arms", nargs="+", default=["stall", "off"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from packer.cpsat import reopt_intstays

    default = reopt_intstays.AFTER_STALL, reopt_intstays.INT_STAYS, reopt_intstays.ARM
    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else []
    print("| state | arm | objective | bound | gap | moves (cost) | steps (improved) | stall at (step, s) | B&B (s, dual) | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for i, seed in enumerate(args.seeds):
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        arms = list(args.arms) if i % 2 == 0 else list(reversed(args.arms))
        for arm in arms:
            reopt_intstays.AFTER_STALL = arm in ("stall", "stall-owns")
            reopt_intstays.ARM = "owns" if arm == "stall-owns" else "within"
            reopt_intstays.INT_STAYS = arm == "int"
            pt, row, cost, load = timed_run(inst, args.time_limit, args.workers, arm)
            steps = pt.info.get("steps") or {}
            ist = pt.info.get("int_stays")
            rec = {"state": inst.name, "seed": seed, "arm": arm, "objective": row["objective"], "bound": row["bound"],
                   "gap": row["gap"], "moves": pt.moves, "migration_cost": round(cost, 3),
                   "no_move": pt.info.get("no_move_objective"), "lp_bound": pt.info.get("lp_bound"),
                   "steps": steps.get("steps") if isinstance(steps, dict) else None,
                   "improved": steps.get("improved") if isinstance(steps, dict) else None,
                   "stall_at": pt.info.get("stall_at"), "int_stays": ist, "late_lp": pt.info.get("late_lp"),
                   "load": load, "time_limit": args.time_limit}
            out.append(rec)
            bb = "-" if not ist else f"{ist.get('s')} s, {ist.get('dual')}"
            print(f"| {inst.name} | {arm} | {row['objective']:.2f} | {row['bound']:.2f} | {100 * row['gap']:.2f}% | "
                  f"{pt.moves} ({cost:.2f}) | {rec['steps']} ({rec['improved']}) | {rec['stall_at']} | {bb} | "
                  f"{load[0]}-{load[1]} |", flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    reopt_intstays.AFTER_STALL, reopt_intstays.INT_STAYS, reopt_intstays.ARM = default
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
