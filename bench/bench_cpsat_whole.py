"""Whole-GPU steps from a given incumbent (issue 16 part 3, session 11, step 2).

From a plan (a ``packer solve`` JSON plan, else the greedy hint) read into the model as its complete
hint, one token whole-model run (deterministic time 0.01), then ``--steps`` steps of one kind, one
after the other, each of deterministic time ``--det`` on one worker (no wall-clock limit that can
bind: the objective does not depend on the load): ``whole`` (every node that can take whole-GPU work
and holds no other kind) or ``domains`` (random steps of the 60 s plan's size, for comparison). One
JSON line per step: its objective, how many nodes it freed, its wall seconds; the last line the end.

    python bench/bench_cpsat_whole.py --family adversarial --seed 1 --plan PLAN.json --steps 3 --det 5
"""

from __future__ import annotations

import argparse
import json
import random
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", default="adversarial")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--plan", default=None)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--det", type=float, default=5.0)
    ap.add_argument("--kind", default="whole", choices=["whole", "domains"])
    args = ap.parse_args()
    from packer.check import check
    from packer.cpsat import lns
    from packer.cpsat.model import CpsatModel
    from packer.cpsat.timeplan import lns_plan
    from packer.generate import generate
    from packer.greedy.solver import solve as greedy_solve
    from packer.model import Plan

    inst = generate(args.family, seed=args.seed, nodes=args.nodes)
    if args.plan:
        with open(args.plan) as fh:
            plan = Plan.model_validate(json.load(fh))
    else:
        plan = greedy_solve(inst, seed=0)
    assert check(inst, plan).ok
    model = CpsatModel(inst)
    model.hint(plan)
    model.solve(time_limit=None, seed=args.seed, workers=1, params={"max_deterministic_time": 0.01})
    level, per_step, *_ = lns_plan(inst, 60.0, None)
    space = lns._space(model, level)
    assert space is not None
    m = model
    start = space.best_obj / m.data.scale + m.constant
    print(json.dumps({"instance": inst.name, "start": round(start, 4), "plan": round(plan.objective, 4),
                      "whole_nodes": len(space.whole_nodes), "big_whole_groups": len(space.big_whole),
                      "level": level, "domains_per_step": per_step}), flush=True)
    rng = random.Random(args.seed)
    for k in range(args.steps):
        if args.kind == "whole":
            got = space.pick_whole(rng, space.names, space.best)
            if got is None:
                print(json.dumps({"step": k, "none": True}), flush=True)
                break
            free, nodes, prefer = got
        else:
            free, nodes, prefer = space.pick(rng, space.names, per_step, space.best), None, []
        t0 = time.perf_counter()
        sub = space.sub_model(space.best, free, [], nodes)
        info: dict[str, float] = {}
        found = lns._step(sub, space.best_obj, seconds=1e9, det=args.det, seed=args.seed + k, workers=1,
                          gap=space.gap, info=info)
        if found is not None:
            space.best, space.best_obj = found
        print(json.dumps({"step": k, "kind": args.kind, "freed_nodes": None if nodes is None else len(nodes),
                          "freed_domains": len(free), "prefer": len(prefer),
                          "objective": round(space.best_obj / m.data.scale + m.constant, 4),
                          "improved": found is not None, "proven": bool(info.get("proven")),
                          "wall_s": round(time.perf_counter() - t0, 2)}), flush=True)


if __name__ == "__main__":
    main()
