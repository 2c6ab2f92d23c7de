"""How the greedy placer's time grows with the cluster (the CP-SAT hint's second placer on huge
instances): ``python bench/bench_greedy_scale.py FILE... [--limit S] [--json OUT]`` runs greedy on
each instance (no limit unless given) and prints its wall time, objective, placed requests, the
new requests and nodes, and the time per (new request x node) pair, with the 1-minute load."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--limit", type=float, default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    from packer.formats import load_instance
    from packer.greedy.solver import solve

    for path in args.files:
        inst = load_instance(path)
        new = sum(1 for r in inst.requests if r.placement is None)
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        plan = solve(inst, seed=0, time_limit=args.limit)
        wall = time.perf_counter() - t
        row = {"instance": os.path.basename(path), "nodes": len(inst.nodes), "new_requests": new,
               "wall_s": round(wall, 2), "objective": round(plan.objective, 2), "placed": len(plan.assignments),
               "s_per_pair": wall / max(1, new * len(inst.nodes)), "limit": args.limit,
               "load_start": load0, "load_end": os.getloadavg()[0],
               "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
        print(json.dumps(row), flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
