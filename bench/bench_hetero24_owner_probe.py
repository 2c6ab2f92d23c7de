"""Session 24 (branch hetero24): can one ownership-exchange step (``lns.OWNER_EXCHANGE``) find what an exact
sub-solve found, from a saved plan?

Loads a plan as the model's incumbent (complete hint, a token run), lists the step's anchors (waiting
groups restricted to few nodes with a node-isolated tenant in their way), then runs STEPS sequential LNS
steps of DET_STEP deterministic time with only ownership-exchange steps drawn (tenant, value, exchange,
whole steps off; a step finds no anchor -> a random step, counted), one worker. Prints each anchor's
nodes and what the run gained, and checks the final plan.

    python bench/bench_hetero24_owner_probe.py hetero 102 PLAN.json STEPS DET_STEP [--out FILE]
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from benchargs import emit, pop_option

from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_owner
from packer.cpsat.model import CpsatModel
from packer.cpsat.reasons import unplaced_reasons
from packer.cpsat.timeplan import lns_plan
from packer.generate import generate
from packer.model import Plan
from packer.plans import build_plan


def main(fam: str, seed: int, plan_path: str, steps: int, det_step: float, out: str | None) -> None:
    inst = generate(fam, seed=seed, nodes=128)
    plan = Plan.model_validate_json(open(plan_path).read())
    model = CpsatModel(inst)
    model.hint(plan)
    model.solve(time_limit=None, seed=seed, workers=1, params={"max_deterministic_time": 0.01})
    lp = lns_plan(inst, 60.0, None)
    assert lp is not None
    lns_mod.OWNER_EXCHANGE, lns_mod.OWNER_SHARE = True, 1.0
    lns_mod.TENANT_SHARE = lns_mod.VALUE_SHARE = lns_mod.EXCHANGE_SHARE = lns_mod.WHOLE_SHARE = 0.0
    space = lns_mod._space(model, lp[0])
    assert space is not None and space.owner is not None
    ix = space.owner
    start = space.best_obj / model.data.scale + model.constant
    vals = np.asarray(space.best, dtype=np.int64)
    cands = lns_owner.candidates(ix, vals)
    d = model.data
    for k in cands:
        gi, _, top, _, nodes, w = ix.anchors[k]
        r = d.groups[gi].req
        print("anchor", r.id, r.tenant, r.count, r.profile or r.slices or r.kind, "nodes", len(nodes),
              "step nodes", len(lns_owner._step_nodes(ix, vals, k)), flush=True)
    t0 = time.perf_counter()
    lns_mod.lns(model, level=lp[0], domains_per_step=lp[1], step_s=3600.0, deadline=time.perf_counter() + 3600.0,
                seed=seed, workers=1, steps=steps, det_step=det_step)
    st = model.lns_stats
    obj = model.objective() if model.values is not None else start
    got = plan
    if model.values is not None:
        placed, modes, _ = model.placement()
        got = build_plan(inst, solver="probe", placed=placed, unplaced=unplaced_reasons(inst, placed, modes), gpu_modes=modes, seed=seed,
                         wall_s=0.0, bound=None, status="feasible", solver_info={})
    row = {"plan_objective": round(got.objective, 3), "family": fam, "seed": seed, "plan": plan_path, "start": round(start, 3), "objective": round(obj, 3),
           "anchors": len(cands), "anchors_total": len(ix.anchors), "steps": st.get("steps"),
           "owner_steps": st.get("owner_steps", 0), "owner_none": st.get("owner_none", 0),
           "kinds": st.get("kinds"), "wall_s": round(time.perf_counter() - t0, 1),
           "ok": check(inst, got).ok, "load": round(__import__("os").getloadavg()[0], 2)}
    emit(row, out)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    argv = sys.argv[1:]
    dest = pop_option(argv, "--out")
    main(argv[0], int(argv[1]), argv[2], int(argv[3]), float(argv[4]), dest)
