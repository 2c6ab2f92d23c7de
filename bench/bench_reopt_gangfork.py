"""Seconds per gang step with and without the forked placer (``reopt_gang.FORK``), on the blocks of a
huge running cluster (not a unit test).

    python bench/bench_reopt_gangfork.py fragmented --nodes 2048 --seed 100 --blocks 0,1

The cluster's no-move plan (the fast placers', :func:`packer.cpsat.reopt.no_move_hint`) is cut into
the re-optimizer's blocks (:mod:`packer.cpsat.reopt_blocks`); on each block's sub-instance four gang
steps (the first gangs, seeds 0-3) run per arm, arms alternated twice. The values printed must be the
same in both arms (the fork changes the time, not the plan); the load average is printed per line.
"""

from __future__ import annotations

import argparse
import os
import random
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("family")
    ap.add_argument("--nodes", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--blocks", default="0,1")
    args = ap.parse_args()
    from packer.cpsat import reopt, reopt_blocks, reopt_gang
    from packer.cpsat.decompose import _sub_instance
    from packer.generate import generate

    inst = generate(args.family, seed=args.seed, nodes=args.nodes)
    start = reopt.no_move_hint(inst, time_limit=300, seed=0)
    assert start is not None
    placed = {a.request: list(a.units) for a in start.assignments}
    parts = reopt_blocks.blocks(inst)
    capped = inst.model_copy(update={"objective": inst.objective.model_copy(update={"max_migrations": None})})
    for b in (int(x) for x in args.blocks.split(",")):
        sub, hint = _sub_instance(capped, placed, set(parts[b]), b, offer=reopt_blocks.BLOCK_OFFER)
        here = {a.request: list(a.units) for a in hint.assignments}
        waiting = [r for r in sub.requests if r.id not in here]
        cands = reopt_gang.gangs(sub, here)
        if not cands:
            print(f"block {b}: no gang waits")
            continue
        for fork in (False, True, False, True):
            reopt_gang.FORK = fork
            t = time.perf_counter()
            vals = []
            for i in range(4):
                _, info = reopt_gang.gang_step(sub, here, cands[i % len(cands)], random.Random(i), waiting)
                vals.append(None if info.get("value") is None else round(float(info["value"]), 6))  # type: ignore[arg-type]
            print(f"block {b} ({len(sub.requests)} requests) fork={fork}: {(time.perf_counter() - t) / 4:.3f} s/step, "
                  f"values {vals}, load {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
