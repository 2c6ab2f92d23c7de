"""Session 25 (branch tenants25): a reproducible plan near where a 60 s run spends its time, to probe from.

The greedy hint and the model (``bench_cpsat_region_det.start``), then STEPS sequential LNS steps of DET_STEP
deterministic time with the shipped settings (one worker, seeded): the plan does not depend on load. Writes
the plan (checked) and prints its objective.

    python bench/bench_tenants25_detplan.py FAMILY SEED STEPS DET_STEP PLAN_OUT.json
"""

from __future__ import annotations

import sys
import time

from bench_cpsat_region_det import start
from benchargs import emit

from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.cpsat.reasons import unplaced_reasons
from packer.plans import build_plan


def main(fam: str, seed: int, steps: int, det_step: float, dest: str) -> None:
    t0 = time.perf_counter()
    model, plan, first = start(fam, seed, {})
    lns_mod.lns(model, level=plan[0], domains_per_step=plan[1], step_s=3600.0, deadline=time.perf_counter() + 3600.0,
                seed=seed, workers=1, steps=steps, det_step=det_step)
    placed, modes, _ = model.placement()
    got = build_plan(model.inst, solver="det", placed=placed, unplaced=unplaced_reasons(model.inst, placed, modes),
                     gpu_modes=modes, seed=seed, wall_s=0.0, bound=None, status="feasible", solver_info={})
    with open(dest, "w") as f:
        f.write(got.model_dump_json(by_alias=True))
    emit({"family": fam, "seed": seed, "steps": steps, "det_step": det_step, "first": round(first, 3),
          "objective": round(got.objective, 3), "ok": check(model.inst, got).ok, "kinds": model.lns_stats.get("kinds"),
          "wall_s": round(time.perf_counter() - t0, 1)}, None)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
