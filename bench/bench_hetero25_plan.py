"""Session 25 (branch hetero25): a reproducible plan near where a 60 s run of an instance ends.

The greedy hint and the model (``bench_cpsat_region_det.start``), PREFIX sequential LNS steps with
``lns.OWNER_EXCHANGE`` off (the det A/Bs' shared prefix), then STEPS more with the shipped flags, all of
DET_STEP deterministic time, one worker, seeded: the plan does not depend on the machine's load. Writes the
plan (checked) and one JSON line (objective after the prefix and at the end, the step kinds' outcomes).

    python bench/bench_hetero25_plan.py FAMILY SEED STEPS DET_STEP PLAN.json [--prefix 40] [--out FILE.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time

from bench_cpsat_region_det import start

from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.cpsat.reasons import unplaced_reasons
from packer.plans import build_plan


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("family")
    ap.add_argument("seed", type=int)
    ap.add_argument("steps", type=int)
    ap.add_argument("det_step", type=float)
    ap.add_argument("plan")
    ap.add_argument("--prefix", type=int, default=40)
    ap.add_argument("--out")
    a = ap.parse_args()
    t0 = time.perf_counter()
    model, plan, _ = start(a.family, a.seed, {})
    shipped = lns_mod.OWNER_EXCHANGE
    row: dict[str, object] = {"family": a.family, "seed": a.seed, "prefix": a.prefix, "steps": a.steps,
                              "det_step": a.det_step}
    if a.prefix:
        lns_mod.OWNER_EXCHANGE = False
        lns_mod.lns(model, level=plan[0], domains_per_step=plan[1], step_s=3600.0,
                    deadline=time.perf_counter() + 3600.0, seed=a.seed + 500, workers=1, steps=a.prefix,
                    det_step=a.det_step)
        lns_mod.OWNER_EXCHANGE = shipped
        if model.values is not None:
            proto = model.model.proto
            proto.clear_solution_hint()
            proto.solution_hint.vars.extend(range(len(model.values)))
            proto.solution_hint.values.extend(model.values)
        row["after_prefix"] = round(model.objective(), 3)
    before = model.values
    model.values = None
    lns_mod.lns(model, level=plan[0], domains_per_step=plan[1], step_s=3600.0,
                deadline=time.perf_counter() + 3600.0, seed=a.seed, workers=1, steps=a.steps, det_step=a.det_step)
    if model.values is None:  # no step improved on the prefix's incumbent
        model.values = before
    placed, modes, _ = model.placement()
    inst = model.inst
    out = build_plan(inst, solver="cpsat", placed=placed, unplaced=unplaced_reasons(inst, placed, modes),
                     gpu_modes=modes, seed=a.seed, wall_s=time.perf_counter() - t0, status="feasible",
                     solver_info={"lns": model.lns_stats.get("kinds"), "bench": "bench_hetero25_plan"})
    with open(a.plan, "w") as f:
        f.write(out.model_dump_json(indent=1))
    st = model.lns_stats
    row.update({"objective": round(out.objective, 3), "model_objective": round(model.objective(), 3),
                "ok": check(inst, out).ok, "lns_steps": st.get("steps"), "improved": st.get("improved"),
                "kinds": st.get("kinds"), "owner_none": st.get("owner_none", 0), "plan": a.plan,
                "wall_s": round(time.perf_counter() - t0, 1)})
    print(json.dumps(row), flush=True)
    if a.out:
        with open(a.out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
