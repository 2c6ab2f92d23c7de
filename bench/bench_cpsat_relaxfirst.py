"""A/B at 60 s, --workers 2, 1,024 GPUs (session 14): the LP thread's bound and when the LNS gets its
second step thread.

Arms (``packer.cpsat.tuning``): ``base`` (session 13: the model's LP alone, the LNS gated until it ends),
``rel`` (the cluster relaxation's LP first, then the model's LP; gate as base: LP_RELAXED_LEVEL "cluster"),
``relopen`` (as rel, and the gate opens when the relaxation answers: LP_GATE_RELAXED).

Usage: python bench/bench_cpsat_relaxfirst.py FAMILY[,...] SEED[,...] [ARM,...]

Per instance the arms run back to back, their order rotating with the instance; one JSON line an arm:
objective, bound, gap %, the relaxation's and the model LP's bound and end (s from the solve's start),
LNS steps / improved, process CPU seconds, load before and after, and whether ``packer check`` passes.
"""

from __future__ import annotations

import json
import os
import sys
import time

import packer.cpsat.solver as cpsat
from packer.check import check
from packer.cpsat import tuning
from packer.generate import generate

ARMS = {"base": (None, False), "rel": ("cluster", False), "relopen": ("cluster", True)}


def main(families: list[str], seeds: list[int], arms: list[str]) -> None:
    shipped = (tuning.LP_RELAXED_LEVEL, tuning.LP_GATE_RELAXED)
    k = 0
    for seed in seeds:
        for fam in families:
            inst = generate(fam, seed=seed, nodes=128)
            order = arms[k % len(arms):] + arms[:k % len(arms)]
            k += 1
            for arm in order:
                tuning.LP_RELAXED_LEVEL, tuning.LP_GATE_RELAXED = ARMS[arm]
                load = os.getloadavg()[0]
                c0 = time.process_time()
                plan = cpsat.solve(inst, time_limit=60, workers=2)
                cpu = time.process_time() - c0
                info = plan.solver.model_extra or {}  # type: ignore[union-attr]
                st = info.get("lns") or {}
                rel = info.get("relaxed_first") or {}
                gap = None if not plan.bound else 100 * (plan.bound - plan.objective) / plan.bound
                print(json.dumps({
                    "family": fam, "seed": seed, "arm": arm, "objective": round(plan.objective, 3),
                    "bound": None if plan.bound is None else round(plan.bound, 3),
                    "gap_pct": None if gap is None else round(gap, 3),
                    "relaxed_bound": rel.get("bound"), "relaxed_s": rel.get("s"),
                    "lp_bound": info.get("lp_bound"), "lp_s": info.get("lp_s"), "lp_cpu_s": info.get("lp_cpu_s"),
                    "solve_start_s": info.get("solve_start_s"), "steps": st.get("steps"),
                    "improved": st.get("improved"), "cpu_s": round(cpu, 1), "load": round(load, 2),
                    "load_end": round(os.getloadavg()[0], 2), "ok": check(inst, plan).ok}), flush=True)
    tuning.LP_RELAXED_LEVEL, tuning.LP_GATE_RELAXED = shipped


if __name__ == "__main__":
    main(sys.argv[1].split(","), [int(s) for s in sys.argv[2].split(",")],
         sys.argv[3].split(",") if len(sys.argv) > 3 else ["base", "rel", "relopen"])
