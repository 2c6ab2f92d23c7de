"""Where the CP-SAT hint's time goes on a huge instance: the online placer's stages, then greedy.

``python bench/bench_hint_path.py INSTANCE.json [--json OUT] [--greedy-s S]`` times, on one
instance: loading it, the online placer's set-up (state arrays, running work placed), placing every
new request (with the time per 2,000 requests), the snapshot plan, the checker on it, and then
(``--greedy-s``) the greedy placer under that limit with its checker. It prints the per-request cost
the hint's time estimate uses (:func:`packer.cpsat.timeplan.hint_s`), measured, beside the estimate.
Numbers are wall seconds on whatever the machine gives the process; the 1-minute load is recorded.
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
    ap.add_argument("--json", default=None)
    ap.add_argument("--greedy-s", type=float, default=0.0)
    args = ap.parse_args()
    from packer.check import check
    from packer.formats import load_instance
    from packer.online.placer import OnlinePlacer, requests_in_order

    row: dict[str, object] = {"instance": args.instance, "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                              "load_start": os.getloadavg()[0]}
    t = time.perf_counter()
    inst = load_instance(args.instance)
    row["load_s"] = round(time.perf_counter() - t, 3)
    row["requests"] = len(inst.requests)
    row["nodes"] = len(inst.nodes)
    row["gpus"] = inst.num_gpus
    t0 = time.perf_counter()
    placer = OnlinePlacer(inst, None, seed=0)
    row["setup_s"] = round(time.perf_counter() - t0, 3)
    reqs = requests_in_order(inst.requests, "file", inst)
    row["new_requests"] = len(reqs)
    per = []
    t1 = last = time.perf_counter()
    for i, req in enumerate(reqs):
        placer.place(req)
        if (i + 1) % 2000 == 0:
            now = time.perf_counter()
            per.append(round(now - last, 3))
            last = now
    row["place_s"] = round(time.perf_counter() - t1, 3)
    row["place_s_per_2000"] = per
    t = time.perf_counter()
    plan = placer.snapshot(instance=inst, seed=0)
    row["snapshot_s"] = round(time.perf_counter() - t, 3)
    row["online_objective"] = plan.objective
    row["online_placed"] = len(plan.assignments)
    t = time.perf_counter()
    row["online_valid"] = bool(check(inst, plan).ok)
    row["check_s"] = round(time.perf_counter() - t, 3)
    row["online_total_s"] = round(row["setup_s"] + row["place_s"] + row["snapshot_s"], 3)  # type: ignore[operator]
    try:
        from packer.cpsat.timeplan import hint_s

        row["estimate_s"] = round(hint_s(inst), 3)
    except ImportError:
        pass
    if args.greedy_s > 0:
        from packer.greedy.solver import solve as greedy_solve

        t = time.perf_counter()
        gp = greedy_solve(inst, seed=0, time_limit=args.greedy_s)
        row["greedy_s"] = round(time.perf_counter() - t, 3)
        row["greedy_objective"] = gp.objective
        row["greedy_placed"] = len(gp.assignments)
        t = time.perf_counter()
        row["greedy_valid"] = bool(check(inst, gp).ok)
        row["greedy_check_s"] = round(time.perf_counter() - t, 3)
    row["load_end"] = os.getloadavg()[0]
    print(json.dumps(row, indent=1))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
