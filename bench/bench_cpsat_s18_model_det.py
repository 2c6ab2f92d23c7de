"""Deterministic A/B of session 18's LNS changes at 1,024 GPUs. Arms: ``base`` (lns.WHOLE_DISPLACE off,
lns.MODEL_SHARE 0: the search as before), ``whole`` (whole steps admitted by idle plus lower-priority whole
GPUs, no model steps: what is shipped), ``model`` (both, model share 0.1), ``modelonly`` (model steps,
whole steps as before); ``model0.2`` etc. set the model share. Every arm gives whole and model steps WHOLE_DET_FACTOR /
MODEL_DET_FACTOR times a random step's deterministic time.

    python bench/bench_cpsat_s18_model_det.py FAMILY[,...] SEED[,...] STEPS DET_STEP [ARM,...] [--out FILE]
        [--plans DIR]   (start from DIR/FAMILYSEED_60.json, a saved 60 s plan, instead of the greedy hint)

For every family and seed: the start (the greedy hint, or a saved plan), the model and a token
whole-model run (as in ``bench_cpsat_region_det.py``); from that one incumbent each arm runs exactly STEPS
sequential LNS steps of DET_STEP deterministic time (model steps MODEL_DET_FACTOR times that; one worker,
seeded), arm order rotating with the instance. The portfolio weighs steps by deterministic time in these
runs, so an arm's objective after its steps does not depend on the machine's load. One JSON line an arm:
objective, steps per kind ([steps, improved, gain, cost]), model steps taken and refused, CPU seconds, the
objective at the instance's common CPU (``at_common_cpu``), and the instance's model groups (0: the arms
draw the same steps by construction, tests/test_hetero18_model_steps.py) and big whole-GPU groups (0: no
whole steps at all); ``--skip-identical`` runs one of the arms that differ only by a change that cannot act
on the instance (model steps without model groups, WHOLE_DISPLACE without big whole-GPU groups).
"""

from __future__ import annotations

import os
import sys
import time

from bench_cpsat_portfolio_det import best_at, lns_arm
from bench_cpsat_region_det import start
from benchargs import emit, pop_option

from packer.cpsat import lns as lns_mod
from packer.cpsat.model import CpsatModel
from packer.cpsat.timeplan import lns_plan
from packer.generate import generate
from packer.model import Plan

SHIPPED = lns_mod.MODEL_SHARE
SHIPPED_DISPLACE = lns_mod.WHOLE_DISPLACE
#: The model share of arms ``model`` and ``modelonly`` (session 18 measured 0.1; shipped off since).
MODEL_ARM_SHARE = 0.1


def set_arm(arm: str) -> None:
    lns_mod.WHOLE_DISPLACE = arm not in ("base", "modelonly")
    if arm in ("base", "whole"):
        lns_mod.MODEL_SHARE = 0.0
    elif arm.startswith("model") and arm[5:] and arm != "modelonly":
        lns_mod.MODEL_SHARE = float(arm[5:])
    else:
        lns_mod.MODEL_SHARE = MODEL_ARM_SHARE


def start_from_plan(fam: str, seed: int, path: str) -> tuple[CpsatModel, tuple, float]:  # type: ignore[type-arg]
    inst = generate(fam, seed=seed, nodes=128)
    with open(path) as f:
        plan = Plan.model_validate_json(f.read())
    model = CpsatModel(inst)
    model.hint(plan)
    model.solve(time_limit=None, seed=seed, workers=1, params={"max_deterministic_time": 0.01})
    schedule = lns_plan(inst, 60.0, None)
    assert schedule is not None
    return model, schedule, plan.objective


def run_arm(model, plan, arm: str, seed: int, steps: int, det_step: float, start_obj: float) -> dict[str, object]:  # type: ignore[no-untyped-def]
    set_arm(arm)
    return lns_arm(model, plan, arm, seed, steps, det_step, start_obj,
                   counts=("model_steps", "model_none", "whole_steps", "whole_none"))


def main(argv: list[str]) -> None:
    out = pop_option(argv, "--out")
    plans = pop_option(argv, "--plans")
    skip = "--skip-identical" in argv
    if skip:
        argv.remove("--skip-identical")
    families, seeds = argv[0].split(","), [int(s) for s in argv[1].split(",")]
    steps, det_step = int(argv[2]), float(argv[3])
    arms = argv[4].split(",") if len(argv) > 4 else ["base", "whole", "model"]
    k = 0
    for seed in seeds:
        for fam in families:
            t0 = time.perf_counter()
            if plans:
                model, plan, _ = start_from_plan(fam, seed, os.path.join(plans, f"{fam}{seed}_60.json"))
            else:
                model, plan, _ = start(fam, seed, {})
            lns_mod.MODEL_SHARE = SHIPPED
            space = lns_mod._space(model, plan[0])
            assert space is not None
            groups = len(space.model_groups)
            big = len(space.big_whole)
            waiting = sum(1 for g in space.model_groups if space.best[g[0]] < g[1])
            start_obj = space.best_obj / model.data.scale + model.constant
            setup = round(time.perf_counter() - t0, 1)
            order = arms[k % len(arms):] + arms[:k % len(arms)]
            k += 1
            if skip:  # arms that differ only by a change that cannot act here are the same run: one of each
                seen: set[tuple[bool, float]] = set()
                kept = []
                for arm in order:
                    set_arm(arm)
                    eff = (lns_mod.WHOLE_DISPLACE and big > 0, lns_mod.MODEL_SHARE if groups else 0.0)
                    if eff not in seen:
                        seen.add(eff)
                        kept.append(arm)
                order = kept
            rows = [run_arm(model, plan, arm, seed, steps, det_step, start_obj) for arm in order]
            common = min(r["lns_cpu_s"] for r in rows)  # type: ignore[type-var]
            for r in rows:
                r["at_common_cpu"] = best_at(r["trace"], common, start_obj)  # type: ignore[arg-type]
                emit({"family": fam, "seed": seed, "from": "plan60" if plans else "greedy",
                                   "start": round(start_obj, 3), "model_groups": groups, "waiting_groups": waiting,
                                   "big_whole": big,
                                   "setup_s": setup, "common_cpu_s": common, **r}, out)
    lns_mod.MODEL_SHARE, lns_mod.WHOLE_DISPLACE = SHIPPED, SHIPPED_DISPLACE


if __name__ == "__main__":
    main(sys.argv[1:])
