"""Per-step LNS profile at 1,024 GPUs (seed 0, 128 nodes, --workers 2).

Usage: python bench/bench_cpsat_stepprofile.py FAMILY[,FAMILY...] SECONDS
Prints one JSON line a family: steps, improved, summed build/presolve/solve seconds and the share of
each step's time that went to building and presolving its model.
"""

from __future__ import annotations

import json
import statistics
import sys

import packer.cpsat.solver as cpsat
from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.generate import generate


def main(families: list[str], seconds: float) -> None:
    lns_mod.PROFILE_STEPS = True
    for fam in families:
        inst = generate(fam, seed=0, nodes=128)
        plan = cpsat.solve(inst, time_limit=seconds, workers=2)
        ok = check(inst, plan).ok
        lns = (plan.solver.model_extra or {}).get("lns") or {}  # type: ignore[union-attr]
        prof = lns.get("profile", [])
        if not prof:
            print(json.dumps({"family": fam, "ok": ok, "objective": plan.objective, "steps": 0}))
            continue
        totals = [e["build_s"] + e["presolve_s"] + e["solve_s"] for e in prof]
        share = [(e["build_s"] + e["presolve_s"]) / t for e, t in zip(prof, totals, strict=True) if t > 0]
        print(json.dumps({
            "family": fam, "ok": ok, "objective": round(plan.objective, 2), "steps": len(prof),
            "improved": sum(e["improved"] for e in prof), "build_s": round(lns["build_s"], 2),
            "presolve_s": round(lns["presolve_s"], 2), "solve_s": round(lns["solve_s"], 2),
            "fixed_share_median": round(statistics.median(share), 2),
            "fixed_share_min": round(min(share), 2), "fixed_share_max": round(max(share), 2)}))


if __name__ == "__main__":
    main(sys.argv[1].split(","), float(sys.argv[2]))
