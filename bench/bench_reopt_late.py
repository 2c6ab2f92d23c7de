"""Timed A/B of the LP beside the move steps (packer.cpsat.reopt_late, reopt.LATE_LP) on running clusters.

Per state one no-move plan is solved (``--start-s`` seconds, the issue recipe's PINNED_SHARE of 60 s)
and shared by every arm; then ``reopt.reoptimize`` (budget: no limit) runs once per arm from that plan
with ``--time-limit`` seconds (the recipe's 60 s less the no-move solve's 12) and ``--workers``:

- ``first``: the LPs first, then the steps with the time left (reopt.LATE_LP = False, before session 15);
- ``late-all``: the LPs in a child process beside the steps, which keep every worker (reopt.LATE_LP = True;
  session 15's ``late`` arm, the steps leaving the child a worker, was reopt.LATE_WORKERS, removed in
  session 27: it runs at git tag flags-s26);
- ``late-nice``: ``late-all`` with the LP child niced (reopt.LATE_NICE = 5).

The arms of a state run one after the other, their order turning each state (first arm of state k =
``arms[k % len(arms)]``), so that a drift of the machine's load falls on every arm alike. Every plan
is checked (packer.check) and must move at most its budget; a failure stops the run. Prints one row
per (state, arm) with objective, gain over the shared no-move plan, bound, gap, moves, steps, the
seconds until the LP's guide / bound, and the load; writes everything as JSON.

    python bench/bench_reopt_late.py issue --seeds 0 1 2 3 4 --arms first late-all --json bench/reopt_late_ab_issue_s15.json
    python bench/bench_reopt_late.py fragmented --seeds 0 1 2 3 4 --arms first late-all --json bench/reopt_late_ab_fragmented_s15.json
    python bench/bench_reopt_late.py issue --seeds 0 1 2 3 4 --scratch --time-limit 60 --arms first late-all \
        --json bench/reopt_late_scratch_issue_s15.json

``--scratch``: every arm runs the issue recipe whole (60 s, its own no-move plan); ``late`` arms then
start the LP child with the run, beside the no-move solve (reopt.reoptimize), so the guide comes sooner.
The gain is over the arm's own no-move plan.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: arm → (reopt.LATE_LP, reopt.LATE_NICE)
ARMS = {"first": (False, 0), "late-all": (True, 0), "late-nice": (True, 5)}


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--arms", nargs="+", default=["first", "late-all"], choices=sorted(ARMS))
    ap.add_argument("--time-limit", type=float, default=48.0, help="seconds per arm (after the shared no-move plan)")
    ap.add_argument("--start-s", type=float, default=12.0, help="seconds of the shared no-move solve")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None)
    ap.add_argument("--scratch", action="store_true",
                    help="no shared no-move plan: each arm runs the issue recipe whole (reoptimize from scratch, "
                         "its own no-move plan within --time-limit; the late arms start the LP beside it)")
    args = ap.parse_args()

    import packer.cpsat.reopt as reopt
    from packer.check import check

    out_path = Path(args.json) if args.json else None
    results = json.loads(out_path.read_text()) if out_path is not None and out_path.exists() else {}
    print("| state | arm | objective | gain vs no-move | bound | gap | moves | steps (improved) | guide s (step) | "
          "bound s | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    sums: dict[str, float] = {a: 0.0 for a in args.arms}
    for k, seed in enumerate(args.seeds):
        inst = state(args.family, seed, args.nodes)
        start = None if args.scratch else reopt.no_move_plan(inst, time_limit=args.start_s, seed=0, workers=args.workers)
        order = [args.arms[(k + i) % len(args.arms)] for i in range(len(args.arms))]
        rec: dict[str, object] = {"seed": seed, "gpus": inst.num_gpus, "scratch": args.scratch,
                                  "no_move": None if start is None else start.objective,
                                  "no_move_bound": None if start is None else start.bound, "order": order, "arms": {}}
        for arm in order:
            reopt.LATE_LP, reopt.LATE_NICE = ARMS[arm]
            load0 = os.getloadavg()[0]
            pt = reopt.reoptimize(inst, budget=None, time_limit=args.time_limit, seed=0, workers=args.workers,
                                  start=start, no_move_bound=None if start is None else start.bound)
            nm = start.objective if start is not None else pt.info["no_move_objective"]
            rep = check(inst, pt.plan)
            assert rep.ok, (inst.name, arm, rep.violations[:3])
            row = pt.row()
            steps = pt.info.get("steps") or {}
            late = pt.info.get("late_lp") or {}
            gain = pt.plan.objective / nm - 1 if nm else None  # type: ignore[operator]
            r = {**row, "gain": None if gain is None else round(gain, 6), "load_start": round(load0, 2),
                 "load": round(os.getloadavg()[0], 2), "bound_s": pt.info.get("bound_s"), "late_lp": late,
                 "steps": steps, "bound_kind": pt.info.get("bound", "lp"), "no_move": nm}
            rec["arms"][arm] = r  # type: ignore[index]
            sums[arm] += pt.plan.objective
            gap = "-" if row["gap"] is None else f"{100 * row['gap']:.2f}%"
            gs = steps.get("guide_s")
            guide = "-" if gs is None else f"{gs} ({steps.get('guide_step')})"
            print(f"| {inst.name} | {arm} | {row['objective']:.2f} | {100 * (gain or 0):+.2f}% | {row['bound']} | {gap} "
                  f"| {row['migrations']} | {steps.get('steps', 0)} ({steps.get('improved', 0)}; {steps.get('beside_lp', 0)} beside) "
                  f"| {guide} | {pt.info.get('bound_s')} "
                  f"| {r['load_start']}-{r['load']} |", flush=True)
        if out_path is not None:
            results[f"{inst.name}/{inst.num_gpus}/{args.time_limit:g}s"] = rec
            out_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print("sum of objectives: " + ", ".join(f"{a} {v:.2f}" for a, v in sums.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
