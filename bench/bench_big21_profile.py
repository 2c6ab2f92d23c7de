"""Where a 16,384-GPU re-optimization's time and value go, block by block (session 21; not a unit test).

    nice -n 5 python bench/bench_big21_profile.py fragmented 0 300 [--set reopt_blocks.NAME=VALUE ...]

Runs :func:`packer.cpsat.reopt.reoptimize` on the 2,048-node instance with the time limit and 2 workers
and prints one JSON line: objective, moves, wall, load, when the steps started, the bound by blocks
(per round, per block at its best round, Σ λ U), whether ``packer check`` passes the plan, the block steps' statistics with one record per block
run (pass, block, seconds given, CPU, steps, gain, gain curve), and each block's share of the final
plan's value (the objective less the objective without the block's own requests: its requests whose
units all lie in the block), beside that block's LP value.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from packer.check import check
from packer.cpsat import reopt, reopt_blocks
from packer.cpsat.reopt_blocks import blocks
from packer.generate import generate
from packer.plans import objective_value


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("family")
    ap.add_argument("seed", type=int)
    ap.add_argument("limit", type=float)
    ap.add_argument("--set", nargs="*", default=[], help="reopt_blocks.NAME=VALUE (Python literal)")
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    mods = {"reopt_blocks": reopt_blocks, "reopt": reopt}
    for kv in a.set:
        name, val = kv.split("=", 1)
        mod, attr = name.split(".")
        setattr(mods[mod], attr, eval(val))  # noqa: S307 - bench flags
    inst = generate(a.family, seed=a.seed, nodes=2048)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    pt = reopt.reoptimize(inst, time_limit=a.limit, workers=2)
    wall = time.perf_counter() - t0
    load1 = os.getloadavg()[0]
    rep = check(inst, pt.plan)
    placed = {x.request: list(x.units) for x in pt.plan.assignments}
    total = objective_value(inst, placed)
    node_block = {n: b for b, ns in enumerate(blocks(inst)) for n in ns}
    own: dict[int, list[str]] = {}
    for rid, us in placed.items():
        bs = {node_block[u.node] for u in us}
        if len(bs) == 1:
            own.setdefault(bs.pop(), []).append(rid)
    part = {}
    for b, rids in sorted(own.items()):
        drop = set(rids)
        part[b] = round(total - objective_value(inst, {r: u for r, u in placed.items() if r not in drop}), 3)
    info = pt.info
    steps = info.get("steps") or {}
    print(json.dumps({"family": a.family, "seed": a.seed, "limit": a.limit, "tag": a.tag, "set": a.set,
                      "objective": pt.plan.objective, "bound": pt.plan.bound, "check_ok": rep.ok, "moves": pt.moves, "wall_s": round(wall, 1),
                      "load": [round(load0, 2), round(load1, 2)], "no_move_objective": info.get("no_move_objective"),
                      "steps_at_s": info.get("steps_at_s"), "block_bound": info.get("block_bound"),
                      "block_bound_values": info.get("block_bound_values"),
                      "block_bound_first_at_s": info.get("block_bound_first_at_s"),
                      "block_bound_at_s": info.get("block_bound_at_s"),
                      "block_lp": info.get("block_bound_per_block"), "lam_u": info.get("block_bound_lam_u"),
                      "plan_part": part, "steps": steps}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
