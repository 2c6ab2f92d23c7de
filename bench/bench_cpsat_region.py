"""A/B of LNS region-step models against full-clone steps at 1,024 GPUs (128 nodes, --workers 2).

Usage: python bench/bench_cpsat_region.py FAMILY[,FAMILY...] SEED[,SEED...] SECONDS
For every family and seed it runs the clone arm and the region arm back to back (interleaved, same
load) and prints one JSON line an arm: objective, checker verdict, LNS steps and the summed
build/presolve/solve seconds of the steps (step profiler on in both arms).
"""

from __future__ import annotations

import json
import sys

import packer.cpsat.solver as cpsat
from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.generate import generate


def run(fam: str, seed: int, seconds: float, region: bool) -> dict[str, object]:
    lns_mod.PROFILE_STEPS = True
    lns_mod.REGION_STEPS = region
    inst = generate(fam, seed=seed, nodes=128)
    plan = cpsat.solve(inst, time_limit=seconds, workers=2)
    lns = (plan.solver.model_extra or {}).get("lns") or {}  # type: ignore[union-attr]
    return {"family": fam, "seed": seed, "arm": "region" if region else "clone", "ok": check(inst, plan).ok,
            "objective": round(plan.objective, 2), "steps": lns.get("steps", 0),
            "improved": lns.get("improved", 0), "build_s": round(lns.get("build_s", 0.0), 2),
            "presolve_s": round(lns.get("presolve_s", 0.0), 2), "solve_s": round(lns.get("solve_s", 0.0), 2)}


def main(families: list[str], seeds: list[int], seconds: float) -> None:
    for seed in seeds:
        for i, fam in enumerate(families):
            # Alternate which arm goes first, so that neither always meets the same moment's load.
            arms = (False, True) if (i + seed) % 2 == 0 else (True, False)
            for region in arms:
                print(json.dumps(run(fam, seed, seconds, region)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1].split(","), [int(s) for s in sys.argv[2].split(",")], float(sys.argv[3]))
