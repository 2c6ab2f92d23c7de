"""A/B of LNS steps at equal CPU seconds, 1,024 GPUs: region steps as shipped (``region``; ``region2`` is
the same arm again, for the noise) against region steps that also fold the variables the folding fixes
(``fold``, :data:`packer.cpsat.lns_region.FOLD_FIXED`, session 12), steps with other CP-SAT parameters
(:data:`packer.cpsat.lns.STEP_PARAMS`: ``probe1``/``probe0`` cp_model_probing_level 1/0, ``sym0``
symmetry_level 0, ``lite`` both probing and symmetry off, ``pre1`` max_presolve_iterations 1, ``lin1`` linearization_level 1) and steps that free
one more domain than the plan says (``wider``), and steps whose size adapts to how many are proven
(``adapt``, lns.SIZE_ADAPT: removed in session 27, run it at git tag flags-s26) (sessions 12-13).

Usage: python bench/bench_cpsat_cpu_ab.py FAMILY[,...] SEED[,...] STEPS DET_STEP [ARM,...]

For every family and seed: the greedy hint, the model and a token whole-model run (deterministic time
0.01), as in ``bench_cpsat_region_det.py``; then from that one incumbent each arm runs exactly STEPS
sequential LNS steps of DET_STEP deterministic time (one worker, CP-SAT seeded, no wall-clock limit
that can bind), arm order rotating with the instance. Each improvement is recorded with the process
CPU seconds (``time.process_time``: every thread of the process, CP-SAT's included) since the arm's
LNS began. One JSON line an arm: objective, steps, improved, LNS CPU and wall seconds and the trace;
``at_common_cpu`` is the arm's objective at the smallest CPU total of the instance's arms (the
comparison at equal CPU). The step profiler is off (its CP-SAT log callback costs CPU).
"""

from __future__ import annotations

import json
import os
import sys
import time

from bench_cpsat_region_det import start

from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_region
from packer.cpsat.model import CpsatModel

ARMS = ("region", "fold")
#: Arm -> (STEP_PARAMS, FOLD_FIXED, domains added to the plan's per step).
SETTINGS: dict[str, tuple[dict[str, object], bool, int]] = {
    "region": ({}, False, 0), "region2": ({}, False, 0), "fold": ({}, True, 0),
    "probe1": ({"cp_model_probing_level": 1}, False, 0), "probe0": ({"cp_model_probing_level": 0}, False, 0),
    "sym0": ({"symmetry_level": 0}, False, 0), "pre1": ({"max_presolve_iterations": 1}, False, 0),
    "lin1": ({"linearization_level": 1}, False, 0), "wider": ({}, False, 1),
    "lite": ({"cp_model_probing_level": 0, "symmetry_level": 0}, False, 0),
}


class _Trace:
    """A progress sink that records (CPU seconds since ``c0``, best objective) at every update."""

    def __init__(self) -> None:
        self.c0 = time.process_time()
        self.points: list[tuple[float, float]] = []

    def update(self, best: float | None = None, **_: object) -> None:
        if best is not None:
            self.points.append((round(time.process_time() - self.c0, 3), round(best, 3)))


def run_arm(model: CpsatModel, plan: tuple, arm: str, seed: int, steps: int,  # type: ignore[type-arg]
            det_step: float, start_obj: float) -> dict[str, object]:
    params, fold, wider = SETTINGS[arm]
    level, per_step = plan[0], plan[1] + wider
    lns_mod.PROFILE_STEPS = False
    lns_mod.REGION_STEPS = True
    lns_region.FOLD_FIXED = fold
    lns_mod.STEP_PARAMS = dict(params)
    lns_mod.LITE_PARAMS = {}  # the arms say every step's parameters themselves
    model.values = None
    trace = _Trace()
    t0 = time.perf_counter()
    lns_mod.lns(model, level=level, domains_per_step=per_step, step_s=3600.0,
                deadline=time.perf_counter() + 3600.0, seed=seed, workers=1, steps=steps, det_step=det_step,
                progress=trace)  # type: ignore[arg-type]
    cpu, wall = time.process_time() - trace.c0, time.perf_counter() - t0
    st = model.lns_stats
    obj = model.objective() if model.values is not None else start_obj
    return {"arm": arm, "objective": round(obj, 3), "steps": st.get("steps", 0),
            "improved": st.get("improved", 0), "proven": st.get("proven", 0),
            "largest_step": st.get("largest_step", per_step), "lns_cpu_s": round(cpu, 2), "lns_wall_s": round(wall, 2),
            "trace": trace.points, "load": round(os.getloadavg()[0], 2)}


def at_cpu(row: dict[str, object], cpu: float, start_obj: float) -> float:
    """The arm's best objective reached within ``cpu`` CPU seconds of its LNS."""
    best = start_obj
    for c, v in row["trace"]:  # type: ignore[attr-defined]
        if c <= cpu + 1e-9:
            best = max(best, v)
    return round(best, 3)


def main(families: list[str], seeds: list[int], steps: int, det_step: float, arms: list[str]) -> None:
    k = 0
    for seed in seeds:
        for fam in families:
            times: dict[str, float] = {}
            model, plan, first = start(fam, seed, times)
            space = lns_mod._space(model, plan[0])  # the LNS's start: the better of the token run and the hint
            assert space is not None
            start_obj = space.best_obj / model.data.scale + model.constant
            order = arms[k % len(arms):] + arms[:k % len(arms)]
            k += 1
            rows = [run_arm(model, plan, arm, seed, steps, det_step, start_obj) for arm in order]
            common = min(r["lns_cpu_s"] for r in rows)  # type: ignore[type-var]
            for r in rows:
                r["at_common_cpu"] = at_cpu(r, common, start_obj)  # type: ignore[arg-type]
                print(json.dumps({"family": fam, "seed": seed, "start": round(start_obj, 3),
                                  "common_cpu_s": common, **r}), flush=True)


if __name__ == "__main__":
    chosen = sys.argv[5].split(",") if len(sys.argv) > 5 else list(ARMS)
    main(sys.argv[1].split(","), [int(s) for s in sys.argv[2].split(",")], int(sys.argv[3]),
         float(sys.argv[4]), chosen)
