"""What one LNS step costs, as shipped and with the fixing left to CP-SAT (issue 16 part 3, session 4).

For each family (seed, 1,024 GPUs): the model hinted with the greedy plan, a 1 s whole-model run,
then the same random steps (two racks each, as `lns` picks them) built two ways and solved for at
most 2 s with one worker, like a parallel step:
``shipped``: `_Space.sub_model` (copy, then every variable outside the step fixed one at a time, full hint);
``hinted``: copy, hint only the variables outside the step (two bulk extends) and let CP-SAT fix them
(`fix_variables_to_their_hinted_value`); the step's own variables start without a hint.
One JSON line per step and way: seconds to build the step's model, CP-SAT's seconds, status, gain
over the incumbent (objective units). Not shipped; a measurement for the next session.

    python bench/bench_cpsat_stepcost.py --families sharing,haein --steps 4
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time


def hinted_sub_model(space, base: list[int], free: set[str]):  # type: ignore[no-untyped-def]
    sub = space.model.model.clone()
    fixed = [i for name in space.names if name not in free for ni in space.members[name] for i in space.per_node[ni]]
    proto = sub.proto
    proto.clear_solution_hint()
    proto.solution_hint.vars.extend(fixed)
    proto.solution_hint.values.extend([base[i] for i in fixed])
    return sub


def run(sub, base_obj: int, gap: float, hinted: bool) -> tuple[float, str, int | None]:  # type: ignore[no-untyped-def]
    from ortools.sat.python import cp_model

    from packer.cpsat.lns import STEP_LINEARIZATION

    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = 2.0
    p.linearization_level = STEP_LINEARIZATION
    p.absolute_gap_limit = gap
    p.num_workers = 1
    p.interleave_search = False
    if hinted:
        p.fix_variables_to_their_hinted_value = True
    code = solver.solve(sub)
    got = int(round(solver.objective_value)) - base_obj if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
    return solver.wall_time, solver.status_name(code), got


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="sharing,haein")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    from packer.cpsat import lns
    from packer.cpsat.model import CpsatModel
    from packer.generate import generate
    from packer.greedy.solver import solve as greedy

    lns.REGION_STEPS = False  # this measurement compares two ways of building a full-clone step
    for fam in args.families.split(","):
        inst = generate(fam, seed=args.seed, nodes=128)
        model = CpsatModel(inst)
        model.hint(greedy(inst, seed=0))
        model.solve(time_limit=1.0, seed=0, workers=1)
        space = lns._space(model, "rack")
        assert space is not None
        scale = model.data.scale
        rng = random.Random(0)
        for k in range(args.steps):
            free = set(rng.sample(space.names, 2))
            for way in ("shipped", "hinted"):
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                sub = (space.sub_model(space.best, free, []) if way == "shipped"
                       else hinted_sub_model(space, space.best, free))
                build = time.perf_counter() - t0
                wall, status, gain = run(sub, space.best_obj, space.gap, way == "hinted")
                print(json.dumps({"family": fam, "seed": args.seed, "step": k, "way": way, "build_s": round(build, 3),
                                  "cpsat_s": round(wall, 3), "status": status,
                                  "gain": None if gain is None else round(gain / scale, 3), "load": round(load, 2)}),
                      flush=True)


if __name__ == "__main__":
    main()
