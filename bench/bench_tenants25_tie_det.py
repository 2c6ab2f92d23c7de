"""Session 25 (branch tenants25): deterministic A/B of tie steps (``lns.TIE_STEPS``, :mod:`packer.cpsat.lns_tie`).

For every family and seed at 1,024 GPUs: the greedy hint and the model (``bench_cpsat_region_det.start``),
then PREFIX sequential LNS steps with the flag off (shared by both arms: a start nearer to where a 60 s run
spends its time than the greedy hint), then each arm runs exactly STEPS sequential steps of DET_STEP
deterministic time from that incumbent (one worker, seeded; ``bench_cpsat_portfolio_det.lns_arm``): the
objective does not depend on the machine's load. Arm order turns with the instance. Each arm's plan is
built and checked (``ok``). One JSON line an arm, with the tie steps taken / found nothing and the kinds'
outcomes (``kinds``: each kind's steps and gain).

    python bench/bench_tenants25_tie_det.py FAMILY[,...] SEED[,...] STEPS DET_STEP [--prefix P] [--out FILE]
"""

from __future__ import annotations

import sys
import time

from bench_cpsat_portfolio_det import lns_arm
from bench_cpsat_region_det import start
from benchargs import emit, pop_option

from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.cpsat.reasons import unplaced_reasons
from packer.plans import build_plan


def _checked(model, seed: int) -> bool:  # type: ignore[no-untyped-def]
    """Whether the arm's plan (the model's values, or its incumbent when the arm found nothing) passes check."""
    if model.values is None:
        return True  # the shared start, checked by the arm that moved (or by neither: nothing changed)
    placed, modes, _ = model.placement()
    plan = build_plan(model.inst, solver="det", placed=placed, unplaced=unplaced_reasons(model.inst, placed, modes),
                      gpu_modes=modes, seed=seed, wall_s=0.0, bound=None, status="feasible", solver_info={})
    return check(model.inst, plan).ok


def main(families: list[str], seeds: list[int], steps: int, det_step: float, prefix: int, out: str | None) -> None:
    shipped = lns_mod.TIE_STEPS
    arms = ["on", "off"]
    k = 0
    for seed in seeds:
        for fam in families:
            t0 = time.perf_counter()
            model, plan, _ = start(fam, seed, {})
            lns_mod.TIE_STEPS = False
            if prefix:
                lns_mod.lns(model, level=plan[0], domains_per_step=plan[1], step_s=3600.0,
                            deadline=time.perf_counter() + 3600.0, seed=seed + 500, workers=1, steps=prefix,
                            det_step=det_step)
                if model.values is not None:  # the arms start from it: a complete hint better than the run
                    proto = model.model.proto
                    proto.clear_solution_hint()
                    proto.solution_hint.vars.extend(range(len(model.values)))
                    proto.solution_hint.values.extend(model.values)
            space = lns_mod._space(model, plan[0])
            assert space is not None
            start_obj = space.best_obj / model.data.scale + model.constant
            head = {"family": fam, "seed": seed, "prefix": prefix, "steps_per_arm": steps, "det_step": det_step,
                    "start": round(start_obj, 3), "start_s": round(time.perf_counter() - t0, 1)}
            order = arms[k % 2:] + arms[:k % 2]
            k += 1
            for arm in order:
                lns_mod.TIE_STEPS = arm == "on"
                row = lns_arm(model, plan, arm, seed, steps, det_step, start_obj, counts=("tie_steps", "tie_none"))
                row.pop("trace", None)
                row["ok"] = _checked(model, seed)
                emit({**head, **row}, out)
    lns_mod.TIE_STEPS = shipped


if __name__ == "__main__":
    argv = sys.argv[1:]
    out_path = pop_option(argv, "--out")
    pre = pop_option(argv, "--prefix")
    main(argv[0].split(","), [int(s) for s in argv[1].split(",")], int(argv[2]), float(argv[3]),
         int(pre) if pre else 0, out_path)
