"""A/B of the online forecast's quota ranking (``packer.online.reserve.NET_QUOTA`` off / on).

The default online solve (forecast + rollout) of each instance with the flag off, then on; every plan
checked; one JSON row per instance. Where no tenant's quota binds (``quota_net`` empty) the arms run
the same code and the row says so without running them.

    python bench/bench_online_netquota.py quota,tenants 100,101,102 128 bench/out.jsonl
"""

from __future__ import annotations

import argparse
import json
import time

from packer.capacity import quota_net
from packer.check import check
from packer.generate import generate
from packer.online import reserve
from packer.online.solver import solve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("families", help="comma list of suite families")
    ap.add_argument("seeds", help="comma list of seeds")
    ap.add_argument("nodes", type=int, help="8-GPU nodes (128: 1,024 GPUs)")
    ap.add_argument("out", help="JSON lines file, appended to")
    args = ap.parse_args()
    with open(args.out, "a") as out:
        for family in args.families.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                inst = generate(family, seed=seed, nodes=args.nodes)
                row: dict[str, object] = {"family": family, "seed": seed, "nodes": args.nodes,
                                          "net": len(quota_net(inst))}
                if not row["net"]:
                    row["same"] = True
                else:
                    old = reserve.NET_QUOTA
                    try:
                        for arm in (False, True):
                            reserve.NET_QUOTA = arm
                            t = time.perf_counter()
                            plan = solve(inst)
                            row[f"obj_{arm}"] = plan.objective
                            row[f"s_{arm}"] = round(time.perf_counter() - t, 1)
                            assert check(inst, plan).ok, (family, seed, arm)
                    finally:
                        reserve.NET_QUOTA = old
                    row["diff"] = round(float(row["obj_True"]) - float(row["obj_False"]), 3)  # type: ignore[arg-type]
                print(json.dumps(row), flush=True)
                out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
