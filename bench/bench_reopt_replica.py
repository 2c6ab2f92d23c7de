"""Where a waiting spread replica could go on a running cluster's no-move plan (issue 17, session 16).

Per state: a no-move plan (``--start-s`` seconds, one worker), then

- the free GPU-equivalents by GPU mode, and how much of them lies on node-isolated tenants' nodes
  (room no other tenant may use while that tenant's work is there), with those tenants' nodes, GPUs
  and GPU-equivalents used;
- per waiting spread request of more than one unit (``reopt_spread.spreads``): the nodes that take a
  unit now, the nodes a single release opens (``reopt_spread.openings``), those whose released running
  work fits whole on another node now (``replica_region``'s test, with and without lifting placed
  waiting work of lower priority), and whether a replica region holds its fewest units;
- per request with a replica region: whether the greedy re-placement (``open_and_place``, victims
  lifted) places it with every released running request re-placed (``--greedy``).

No CP-SAT beyond the no-move plan: the figures are deterministic for a given no-move plan.

    python bench/bench_reopt_replica.py issue --seeds 0 1 2 3 4 5 100 101 --json bench/reopt_replica_diag_issue_s16.json
    python bench/bench_reopt_replica.py fragmented --seeds 0 1 2 3 4 103 104 --json bench/reopt_replica_diag_fragmented_s16.json
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--start-s", type=float, default=10.0, help="seconds of the no-move solve")
    ap.add_argument("--greedy", action="store_true", help="also try the greedy re-placement per region")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import packer.cpsat.reopt as reopt
    from packer.cpsat import reopt_spread

    out: dict[str, object] = {}
    print("| state | free GPU-eq (mig) | on isolated nodes (mig) | isolated tenant: nodes, GPUs, used | spread reqs "
          "| take a unit now | with openings | with a region (of them prio > min) | greedy places | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        t0 = time.perf_counter()
        start = reopt.no_move_plan(inst, time_limit=args.start_s, seed=0, workers=1)
        cur = {a.request: list(a.units) for a in start.assignments}
        view = reopt._View(inst, cur)
        iso_nodes = {n for ns in view.isolated_nodes.values() for n in ns}
        free: dict[str, float] = defaultdict(float)
        iso_free: dict[str, float] = defaultdict(float)
        for n in inst.nodes:
            for g in range(n.num_gpus):
                f = max(0.0, 1.0 - view.used[(n.id, g)])
                free[n.gpu_mode(g)] += f
                if n.id in iso_nodes:
                    iso_free[n.gpu_mode(g)] += f
        tenants = {t: {"nodes": len(ns), "gpus": sum(inst.node(n).num_gpus for n in ns),
                       "used": round(sum(view.used[(n, g)] for n in ns for g in range(inst.node(n).num_gpus)), 1)}
                   for t, ns in view.isolated_nodes.items()}
        waiting = [r for r in inst.requests if r.id not in cur
                   and view.quota_left(r) >= reopt._least_size(inst, r) - 1e-9]
        low = min((r.priority for r in inst.requests), default=0.0)
        reqs = []
        for r in reopt_spread.spreads(inst, cur):
            placer = reopt_spread._placer(inst, cur)
            fr, opens, _evac = reopt_spread.openings(inst, cur, r, placer)
            nodes, info = reopt_spread.replica_region(inst, cur, r, random.Random(seed), None, placer)
            row = {"id": r.id, "count": r.count, "need": r.need_count, "priority": r.priority,
                   "spread": f"{r.spread.level}<={r.spread.max_per_domain}", "free_nodes": len(fr),  # type: ignore[union-attr]
                   "open_nodes": len(opens), "dest_open_nodes": info["open_nodes"], "region": len(nodes)}
            if nodes and args.greedy:
                got, ginfo = reopt_spread.open_and_place(inst, cur, r, info["release"], waiting, True,  # type: ignore[arg-type]
                                                         set(info["clear"]))  # type: ignore[arg-type]
                row["greedy"] = got is not None and r.id in got
                row["greedy_fail"] = ginfo.get("fail")
            reqs.append(row)
        wall = time.perf_counter() - t0
        load = os.getloadavg()[0]
        total = sum(free.values())
        iso_total = sum(iso_free.values())
        n_region = sum(1 for x in reqs if x["region"])
        n_region_hi = sum(1 for x in reqs if x["region"] and x["priority"] > low)
        greedy = sum(1 for x in reqs if x.get("greedy"))
        ts = "; ".join(f"{t} {v['nodes']}, {v['gpus']}, {v['used']}" for t, v in tenants.items()) or "-"
        print(f"| {inst.name} | {total:.1f} ({free['mig']:.1f}) | {iso_total:.1f} ({iso_free['mig']:.1f}) | {ts} "
              f"| {len(reqs)} | {sum(1 for x in reqs if x['free_nodes'])} | {sum(1 for x in reqs if x['open_nodes'])} "
              f"| {n_region} ({n_region_hi}) | {greedy if args.greedy else '-'} | {load:.2f} |", flush=True)
        out[f"{inst.name}/{inst.num_gpus}"] = {"objective": start.objective, "free": dict(free), "iso_free": dict(iso_free),
                                              "isolated": tenants, "requests": reqs, "wall_s": round(wall, 1),
                                              "load": round(load, 2)}
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
