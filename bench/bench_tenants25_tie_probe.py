"""Session 25 (branch tenants25): what tie steps (``lns.TIE_STEPS``, :mod:`packer.cpsat.lns_tie`) find from a
saved plan, against value steps alone.

Loads a plan as the model's incumbent (complete hint, a token run), then runs STEPS sequential LNS steps of
DET_STEP deterministic time with only one kind drawn (``--kind tie``: tie steps; ``--kind value``: value and
exchange steps as shipped), one worker, seeded. Prints what the run gained, how many steps of that kind
were taken and found nothing, and checks the final plan (written to ``--plan-out`` when given).

    python bench/bench_tenants25_tie_probe.py FAMILY SEED PLAN.json STEPS DET_STEP [--kind tie] [--out FILE]
"""

from __future__ import annotations

import os
import sys
import time

from benchargs import emit, pop_option

from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.cpsat.model import CpsatModel
from packer.cpsat.reasons import unplaced_reasons
from packer.cpsat.timeplan import lns_plan
from packer.generate import generate
from packer.model import Plan
from packer.plans import build_plan


def main(fam: str, seed: int, plan_path: str, steps: int, det_step: float, kind: str, out: str | None,
         plan_out: str | None) -> None:
    inst = generate(fam, seed=seed, nodes=128)
    plan = Plan.model_validate_json(open(plan_path).read())
    model = CpsatModel(inst)
    model.hint(plan)
    model.solve(time_limit=None, seed=seed, workers=1, params={"max_deterministic_time": 0.01})
    lp = lns_plan(inst, 60.0, None)
    assert lp is not None
    lns_mod.TENANT_SHARE = lns_mod.WHOLE_SHARE = 0.0
    lns_mod.OWNER_EXCHANGE = False
    lns_mod.ADAPT_KINDS = False
    if kind == "tie":
        lns_mod.TIE_STEPS, lns_mod.TIE_SHARE = True, 1.0
        lns_mod.VALUE_SHARE = lns_mod.EXCHANGE_SHARE = 0.0
    else:
        lns_mod.TIE_STEPS = False
        lns_mod.VALUE_SHARE, lns_mod.EXCHANGE_SHARE = 0.67, 0.33
    space = lns_mod._space(model, lp[0])
    assert space is not None
    start = space.best_obj / model.data.scale + model.constant
    t0, c0 = time.perf_counter(), time.process_time()
    lns_mod.lns(model, level=lp[0], domains_per_step=lp[1], step_s=3600.0, deadline=time.perf_counter() + 3600.0,
                seed=seed, workers=1, steps=steps, det_step=det_step)
    st = model.lns_stats
    got = plan
    if model.values is not None:
        placed, modes, _ = model.placement()
        got = build_plan(inst, solver="probe", placed=placed, unplaced=unplaced_reasons(inst, placed, modes),
                         gpu_modes=modes, seed=seed, wall_s=0.0, bound=None, status="feasible", solver_info={})
    row = {"family": fam, "seed": seed, "plan": os.path.basename(plan_path), "kind": kind, "steps": st.get("steps"),
           "det_step": det_step, "start": round(start, 3), "objective": round(got.objective, 3),
           "gain": round(got.objective - start, 3), "improved": st.get("improved"),
           "kind_steps": st.get(f"{kind}_steps", st.get("steps")), "kind_none": st.get(f"{kind}_none", st.get("value_none", 0)),
           "wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time() - c0, 1),
           "ok": check(inst, got).ok, "load": round(os.getloadavg()[0], 2)}
    if plan_out:
        with open(plan_out, "w") as f:
            f.write(got.model_dump_json(by_alias=True))
    emit(row, out)


if __name__ == "__main__":
    argv = sys.argv[1:]
    dest = pop_option(argv, "--out")
    kind_opt = pop_option(argv, "--kind") or "tie"
    plan_dest = pop_option(argv, "--plan-out")
    main(argv[0], int(argv[1]), argv[2], int(argv[3]), float(argv[4]), kind_opt, dest, plan_dest)
