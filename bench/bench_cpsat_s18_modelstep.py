"""Single LNS steps from a saved plan (session 18): what a whole step, a model step and random two-rack
steps find from a 60 s plan that random steps left at a local optimum (hetero at 1,024 GPUs).

    python bench/bench_cpsat_s18_modelstep.py FAMILY SEED PLAN.json [--steps N] [--seconds S] [--random N]

From the plan as incumbent: the whole step as shipped picks (``pick_whole``: None when its idle check
refuses), then a whole step over every whole-only node without that check; then N model steps
(``pick_models``, one worker, S seconds each, each from the plan, never from another's answer); then
``--random`` two-rack random steps for comparison. One JSON line a step: kind, nodes, domains, gain
(objective units), wall seconds, proven.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

from benchargs import pop_option
from lns_from_plan import plan_space

from packer.cpsat import lns as L


def one(space, kind: str, free, nodes, grow, seconds: float, seed: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    sub = space.sub_model(space.best, free, [], nodes)
    build = time.perf_counter() - t0
    got: dict[str, float] = {}
    found = L._step(sub, space.best_obj, seconds=seconds, det=None, seed=seed, workers=1, gap=space.gap, info=got,
                    lite=kind not in ("whole", "model"))
    gain = 0.0 if found is None else (found[1] - space.best_obj) / space.model.data.scale
    return {"kind": kind, "domains": len(free), "nodes": None if nodes is None else len(nodes), "grow": len(grow),
            "variables": len(sub.free) if hasattr(sub, "free") else None, "gain": round(gain, 3),
            "build_s": round(build, 2), "wall_s": round(time.perf_counter() - t0, 2),
            "proven": bool(got.get("proven")), "load": round(os.getloadavg()[0], 2)}


def main(argv: list[str]) -> None:
    steps = int(pop_option(argv, "--steps") or 4)
    seconds = float(pop_option(argv, "--seconds") or L.MODEL_STEP_S)
    randoms = int(pop_option(argv, "--random") or 0)
    fam, seed, path = argv[0], int(argv[1]), argv[2]
    inst, model, space = plan_space(fam, seed, path)
    head = {"family": fam, "seed": seed, "plan": path, "start": round(space.best_obj / model.data.scale + model.constant, 3),
            "model_groups": len(space.model_groups),
            "waiting_model_groups": sum(1 for g in space.model_groups if space.best[g[0]] < g[1]),
            "big_whole_waiting": sum(1 for i, top, _ in space.big_whole if space.best[i] < top)}
    print(json.dumps(head), flush=True)
    rng = random.Random(seed)
    got = space.pick_whole(rng, space.names, space.best)
    print(json.dumps({"pick_whole": None if got is None else len(got[1])}), flush=True)
    # The whole step without its idle check: every whole-only node (at most WHOLE_MAX_NODES).
    import numpy as np
    vals = np.asarray(space.best, dtype=np.int64)
    nodes = {ni for ni in space.whole_nodes if not (len(space.other_x[ni]) and vals[space.other_x[ni]].any())}
    grow = [i for i, top, _ in space.big_whole if space.best[i] < top]
    print(json.dumps(one(space, "whole", {space.node_domain[ni] for ni in nodes}, nodes, grow, 10.0, seed)), flush=True)
    for k in range(steps):
        picked = space.pick_models(rng, space.names, space.best)
        if picked is None:
            print(json.dumps({"kind": "model", "picked": None}), flush=True)
            continue
        print(json.dumps(one(space, "model", *picked, seconds, seed + k)), flush=True)
    for k in range(randoms):
        free = space.pick(rng, space.names, 2, space.best)
        print(json.dumps(one(space, "domains", free, None, [], 2.0, seed + k)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
