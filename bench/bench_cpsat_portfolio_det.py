"""Deterministic A/B of the LNS portfolio's shares at 1,024 GPUs (session 15): the shipped rule
(``base``: base share times rate over the mean rate) against shares that move from the base toward
the kinds' rates as steps accumulate (``matchN``: lns_portfolio.ADAPT_MATCH_STEPS = N); and the waiting
groups a step may add (shipped sequential steps: all of them) against the parallel steps' split of them
between two threads (``split2``: lns.SEQUENTIAL_SPLIT 2, what the one thread stepping while the gate
holds the other may add); ``split2t`` (that split with every group for tenant steps, lns.TENANT_GROWS_ALL)
ran at git tag flags-s26 (removed in session 27).

Usage: python bench/bench_cpsat_portfolio_det.py FAMILY[,...] SEED[,...] STEPS DET_STEP [ARM,...] [--out FILE]

For every family and seed: the greedy hint, the model and a token whole-model run (as in
``bench_cpsat_region_det.py``); from that one incumbent each arm runs exactly STEPS sequential LNS steps
of DET_STEP deterministic time (one worker, seeded; shipped step parameters), arm order rotating with
the instance. In reproducible runs the portfolio weighs steps by deterministic time, so an arm's
objective after its steps does not depend on the machine's load; the CPU seconds and the objective at
the instance's common CPU (``at_common_cpu``) are recorded beside it. One JSON line an arm, with the
steps per kind ([steps, improved, gain, cost]) and the objective after each quarter of the steps.
"""

from __future__ import annotations

import os
import sys
import time

from bench_cpsat_region_det import start
from benchargs import emit, pop_option

from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_portfolio


class _Trace:
    def __init__(self) -> None:
        self.c0 = time.process_time()
        self.points: list[tuple[float, float]] = []

    def update(self, best: float | None = None, **_: object) -> None:
        if best is not None:
            self.points.append((round(time.process_time() - self.c0, 3), round(best, 3)))


def run_arm(model, plan, arm: str, seed: int, steps: int, det_step: float, start_obj: float) -> dict[str, object]:  # type: ignore[no-untyped-def]
    lns_portfolio.ADAPT_MATCH_STEPS = float(arm[5:]) if arm.startswith("match") else None
    lns_mod.SEQUENTIAL_SPLIT = 2 if arm.startswith("split2") else 1
    return lns_arm(model, plan, arm, seed, steps, det_step, start_obj)


def lns_arm(model, plan, arm: str, seed: int, steps: int, det_step: float, start_obj: float,  # type: ignore[no-untyped-def]
            counts: tuple[str, ...] = ()) -> dict[str, object]:
    """One arm's sequential LNS run from the model's incumbent (the arm's settings already made): its
    objective, steps, the step kinds' outcomes, the stats named in ``counts``, CPU and the trace."""
    lns_mod.PROFILE_STEPS = False
    model.values = None
    trace = _Trace()
    t0 = time.perf_counter()
    lns_mod.lns(model, level=plan[0], domains_per_step=plan[1], step_s=3600.0,
                deadline=time.perf_counter() + 3600.0, seed=seed, workers=1, steps=steps, det_step=det_step,
                progress=trace)  # type: ignore[arg-type]
    cpu, wall = time.process_time() - trace.c0, time.perf_counter() - t0
    st = model.lns_stats
    obj = model.objective() if model.values is not None else start_obj
    return {"arm": arm, "objective": round(obj, 3), "steps": st.get("steps", 0), "improved": st.get("improved", 0),
            **{key: st.get(key, 0) for key in counts},
            "kinds": st.get("kinds"), "lns_cpu_s": round(cpu, 2), "lns_wall_s": round(wall, 2),
            "trace": trace.points, "load": round(os.getloadavg()[0], 2)}


def best_at(points: list[tuple[float, float]], cpu: float, start_obj: float) -> float:
    return round(max([start_obj] + [v for c, v in points if c <= cpu + 1e-9]), 3)


def main(families: list[str], seeds: list[int], steps: int, det_step: float, arms: list[str], out: str | None) -> None:
    shipped = (lns_portfolio.ADAPT_MATCH_STEPS, lns_mod.SEQUENTIAL_SPLIT, lns_mod.TENANT_GROWS_ALL)
    k = 0
    for seed in seeds:
        for fam in families:
            times: dict[str, float] = {}
            model, plan, _ = start(fam, seed, times)
            space = lns_mod._space(model, plan[0])
            assert space is not None
            start_obj = space.best_obj / model.data.scale + model.constant
            order = arms[k % len(arms):] + arms[:k % len(arms)]
            k += 1
            rows = [run_arm(model, plan, arm, seed, steps, det_step, start_obj) for arm in order]
            common = min(r["lns_cpu_s"] for r in rows)  # type: ignore[type-var]
            for r in rows:
                r["at_common_cpu"] = best_at(r["trace"], common, start_obj)  # type: ignore[arg-type]
                emit({"family": fam, "seed": seed, "start": round(start_obj, 3),
                                   "common_cpu_s": common, **r}, out)
    lns_portfolio.ADAPT_MATCH_STEPS, lns_mod.SEQUENTIAL_SPLIT, lns_mod.TENANT_GROWS_ALL = shipped


if __name__ == "__main__":
    argv = sys.argv[1:]
    dest = pop_option(argv, "--out")
    main(argv[0].split(","), [int(s) for s in argv[1].split(",")], int(argv[2]), float(argv[3]),
         argv[4].split(",") if len(argv) > 4 else ["base", "match20"], dest)
