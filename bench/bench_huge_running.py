"""A huge running instance two ways, one after the other under the same limit: the re-optimizer
(no-move plan, then move steps: what ``packer solve --solver cpsat`` does with >= reopt.MIN_MOVABLE
movable requests) against the decomposed solve with all running work pinned (pods' LNS, no moves).

``python bench/bench_huge_running.py INSTANCE.json --time-limit S [--workers W] [--json OUT]``.
Both plans are checked against the original instance (a pinned plan moves nothing, so it is valid
there and its objective is comparable); the gap is against the re-optimizer's bound (the pinned
solve's bound holds only without moves).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("instance")
    ap.add_argument("--time-limit", type=float, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None)
    ap.add_argument("--only", choices=["reopt", "pinned"], default=None)
    args = ap.parse_args()
    from packer.check import check
    from packer.cpsat import solve
    from packer.cpsat.reopt import movable_ids, pinned
    from packer.formats import load_instance

    inst = load_instance(args.instance)
    rows = []
    for way in ("reopt", "pinned"):
        if args.only and way != args.only:
            continue
        target = inst if way == "reopt" else pinned(inst)
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        plan = solve(target, time_limit=args.time_limit, workers=args.workers)
        wall = time.perf_counter() - t
        t = time.perf_counter()
        ok = bool(check(inst, plan).ok)
        row = {"way": way, "instance": os.path.basename(args.instance), "time_limit": args.time_limit,
               "workers": args.workers, "movable": len(movable_ids(inst)), "wall_s": round(wall, 2),
               "objective": round(plan.objective, 2), "bound": plan.bound, "valid": ok,
               "check_s": round(time.perf_counter() - t, 2), "placed": len(plan.assignments),
               "load_start": load0, "load_end": os.getloadavg()[0],
               "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
        rows.append(row)
        print(json.dumps(row), flush=True)
    reo = next((r for r in rows if r["way"] == "reopt"), None)
    if reo is not None and reo["bound"]:
        for r in rows:
            r["gap_vs_reopt_bound"] = round((reo["bound"] - r["objective"]) / reo["bound"], 5)
            print(r["way"], "gap against the re-optimizer's bound", r["gap_vs_reopt_bound"])
    if args.json:
        with open(args.json, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
