"""Timed A/B of session 18's changes at the issue recipe: per state ``reopt.curve(inst, [None],
time_limit, workers=2)`` (what ``packer solve --solver cpsat`` and ``packer bench`` run on a running
cluster with no migration cap) once per arm, the arms one after the other, their order turning per
state. ``--ab home``: reopt.HOME on / off (moved requests enter a step at home with their cost);
``--ab int``: reopt_intstays.INT_STAYS on / off (branch and bound on the stays form in the LP
child's time left; ``on:ARM`` picks its integer columns). Every plan is checked. Prints objective,
bound, gap, moves, the child's branch-and-bound record and the load beside each run; appends every
run to ``--json``.

    python bench/bench_frag18_timed.py fragmented --seeds 100 101 102 103 104 --ab home --time-limit 60 \
        --json bench/frag18_timed_home_fragmented.json
    python bench/bench_frag18_timed.py issue --seeds 5 100 --ab int --json bench/frag18_timed_int_issue.json
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
    ap.add_argument("--ab", choices=("home", "int"), default="home")
    ap.add_argument("--arms", nargs="+", default=["on", "off"], help="on, off, or (--ab int) on:ARM (active/within/stays)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from packer.cpsat import reopt, reopt_intstays

    default_arm, default_on, default_home = reopt_intstays.ARM, reopt_intstays.INT_STAYS, reopt.HOME
    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else []
    print(f"| state | {args.ab} | objective | bound | gap | moves (cost) | int stays (lp → dual, s, finished) | load |")
    print("|---|---|---|---|---|---|---|---|")
    for i, seed in enumerate(args.seeds):
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        arms = list(args.arms) if i % 2 == 0 else list(reversed(args.arms))
        for arm in arms:
            if args.ab == "int":
                reopt_intstays.INT_STAYS = arm.startswith("on")
                reopt_intstays.ARM = arm.split(":", 1)[1] if ":" in arm else default_arm
            else:
                reopt.HOME = arm == "on"
            pt, row, cost, load = timed_run(inst, args.time_limit, args.workers, arm)
            ist = pt.info.get("int_stays")
            rec = {"state": inst.name, "seed": seed, "ab": args.ab, "arm": arm, "objective": row["objective"], "bound": row["bound"],
                   "gap": row["gap"], "moves": pt.moves, "migration_cost": round(cost, 3), "int_stays": ist, "late_lp": pt.info.get("late_lp"),
                   "no_move": pt.info.get("no_move_objective"), "steps": (pt.info.get("steps") or {}).get("steps"),
                   "load": load, "time_limit": args.time_limit}
            out.append(rec)
            ists = "-" if not ist else (f"{ist['lp']:.2f} → {'-' if ist['dual'] is None else format(ist['dual'], '.2f')}, "
                                        f"{ist['s']} s, {ist['finished']}")
            print(f"| {inst.name} | {arm} | {row['objective']:.2f} | {row['bound']:.2f} | {100 * row['gap']:.2f}% | "
                  f"{pt.moves} ({cost:.2f}) | {ists} | {rec['load'][0]}-{rec['load'][1]} |", flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    reopt_intstays.INT_STAYS, reopt_intstays.ARM, reopt.HOME = default_on, default_arm, default_home
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
