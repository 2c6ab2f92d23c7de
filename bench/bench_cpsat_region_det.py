"""Deterministic A/B of LNS step models at 1,024 GPUs: full clone vs region steps (vs region steps with
a presolve limit), from one shared start, so that the machine's load cannot decide the outcome.

Usage: python bench/bench_cpsat_region_det.py FAMILY[,...] SEED[,...] STEPS DET_STEP [ARM,...]
(ARM: clone, region, region_p1 — region steps with ``max_presolve_iterations`` 1; default all three.)

For every family and seed: the hint (the greedy placer, no time limit), the model, a token
whole-model CP-SAT run (deterministic time 0.01); then, from that same incumbent (the hint),
each arm runs exactly STEPS sequential LNS steps of DET_STEP deterministic time each (one worker, no
wall-clock limit that can bind), at the level and step size that a 60 s solve uses. Arms go in an
order that rotates with the instance. One JSON line an arm: objective, steps, improved, the wall and
process CPU seconds of the LNS (CPU: what the machine's load changes least; it includes the region
arms' one-time row index) and the summed build/presolve/solve wall seconds of its steps (profiler on).
Fragmented instances are re-optimized (:mod:`packer.cpsat.reopt`), which does not use these steps.
"""

from __future__ import annotations

import json
import sys
import time

from packer.cpsat import lns as lns_mod
from packer.cpsat.hints import hint_plan
from packer.cpsat.model import CpsatModel
from packer.cpsat.timeplan import lns_plan
from packer.generate import generate

ARMS = ("clone", "region", "region_p1")


def start(fam: str, seed: int, times: dict[str, float]) -> tuple[CpsatModel, tuple, float]:  # type: ignore[type-arg]
    inst = generate(fam, seed=seed, nodes=128)
    t0 = time.perf_counter()
    hint = hint_plan(inst, seed, None, online=False)
    times["hint_s"] = round(time.perf_counter() - t0, 1)
    model = CpsatModel(inst)
    times["model_s"] = round(time.perf_counter() - t0, 1)
    if hint is not None:
        model.hint(hint)
    plan = lns_plan(inst, 60.0, None)
    assert plan is not None
    # A token first run: the steps start from the hint (the first run's job in a real solve is its
    # bound and an early improvement; here it would only cost minutes of presolve).
    model.solve(time_limit=None, seed=seed, workers=1, params={"max_deterministic_time": 0.01})
    first = model.objective() if model.solver is not None and model.solver.response_proto.solution else None
    return model, plan, first if first is not None else float("nan")


def run_arm(model: CpsatModel, plan: tuple, arm: str, seed: int, steps: int,  # type: ignore[type-arg]
            det_step: float) -> dict[str, object]:
    level, per_step = plan[0], plan[1]
    lns_mod.PROFILE_STEPS = True
    lns_mod.REGION_STEPS = arm != "clone"
    lns_mod.STEP_PRESOLVE_ITERATIONS = 1 if arm == "region_p1" else None
    model.values = None
    t0, c0 = time.perf_counter(), time.process_time()
    lns_mod.lns(model, level=level, domains_per_step=per_step, step_s=3600.0,
                deadline=time.perf_counter() + 3600.0, seed=seed, workers=1, steps=steps, det_step=det_step)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    st = model.lns_stats
    return {"arm": arm, "objective": round(model.objective(), 3), "steps": st.get("steps", 0),
            "improved": st.get("improved", 0), "lns_wall_s": round(wall, 2),
            "lns_cpu_s": round(cpu, 2),
            "build_s": round(st.get("build_s", 0.0), 2), "presolve_s": round(st.get("presolve_s", 0.0), 2),
            "solve_s": round(st.get("solve_s", 0.0), 2)}


def main(families: list[str], seeds: list[int], steps: int, det_step: float, arms: list[str]) -> None:
    k = 0
    for seed in seeds:
        for fam in families:
            t0 = time.perf_counter()
            times: dict[str, float] = {}
            model, plan, first = start(fam, seed, times)
            head = {"family": fam, "seed": seed, "first": round(first, 3), **times,
                    "start_s": round(time.perf_counter() - t0, 1)}
            order = arms[k % len(arms):] + arms[:k % len(arms)]
            k += 1
            for arm in order:
                print(json.dumps({**head, **run_arm(model, plan, arm, seed, steps, det_step)}), flush=True)


if __name__ == "__main__":
    chosen = sys.argv[5].split(",") if len(sys.argv) > 5 else list(ARMS)
    main(sys.argv[1].split(","), [int(s) for s in sys.argv[2].split(",")], int(sys.argv[3]),
         float(sys.argv[4]), chosen)
