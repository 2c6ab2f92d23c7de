"""Per-step LNS profile at 1,024 GPUs (128 nodes, --workers 2): where a 60 s solve's time goes.

Usage: python bench/bench_cpsat_stepprofile.py FAMILY[,FAMILY...] SECONDS [SEED[,SEED...]]
Prints one JSON line per instance: the solve's timeline (model built, search started, LP ended, search
ended; wall seconds from the start), steps, improved, steps proven optimal (their sub-problem solved to
the step gap) against steps that hit their time limit, summed build/presolve/solve seconds, the share of
each step's time that went to building and presolving its model, per step kind [steps, improved, proven,
gain, seconds] and the gain per second of step time in each third of the LNS's steps (does the search
still pay at the end of the minute?).
"""

from __future__ import annotations

import json
import os
import statistics
import sys

import packer.cpsat.solver as cpsat
from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.generate import generate


def _kinds(prof: list[dict], summary: dict[str, list[float]]) -> dict[str, list[float]]:  # type: ignore[type-arg]
    """Kind -> [steps, improved, proven, gain (the portfolio's), seconds of its steps]."""
    out: dict[str, list[float]] = {}
    for e in prof:
        row = out.setdefault(e["kind"], [0, 0, 0, 0.0, 0.0])
        row[0] += 1
        row[1] += int(e["improved"])
        row[2] += int(e["proven"])
        row[4] = round(row[4] + e["build_s"] + e["presolve_s"] + e["solve_s"], 2)
    for kind, row in out.items():
        row[3] = summary.get(kind, [0, 0, 0.0, 0.0])[2]
    return out


def main(families: list[str], seconds: float, seeds: list[int]) -> None:
    lns_mod.PROFILE_STEPS = True
    for seed in seeds:
        for fam in families:
            inst = generate(fam, seed=seed, nodes=128)
            load = os.getloadavg()[0]
            plan = cpsat.solve(inst, time_limit=seconds, workers=2)
            ok = check(inst, plan).ok
            info = plan.solver.model_extra or {}  # type: ignore[union-attr]
            lns = info.get("lns") or {}
            prof = lns.get("profile", [])
            row: dict[str, object] = {
                "family": fam, "seed": seed, "ok": ok, "objective": round(plan.objective, 2),
                "bound": None if plan.bound is None else round(plan.bound, 2),
                "load": round(load, 2), "load_end": round(os.getloadavg()[0], 2),
                "model_s": info.get("model_s"), "solve_start_s": info.get("solve_start_s"),
                "lp_s": info.get("lp_s"), "lp_cpu_s": info.get("lp_cpu_s"), "solve_end_s": info.get("solve_end_s"),
                "steps": len(prof)}
            if prof:
                totals = [e["build_s"] + e["presolve_s"] + e["solve_s"] for e in prof]
                share = [(e["build_s"] + e["presolve_s"]) / t for e, t in zip(prof, totals, strict=True) if t > 0]
                thirds = []
                kinds = lns.get("kinds", {})
                n = len(prof)
                # the portfolio has gains per kind only; per third, count improvements per second instead
                for a, b in ((0, n // 3), (n // 3, 2 * n // 3), (2 * n // 3, n)):
                    part = prof[a:b]
                    s = sum(totals[a:b])
                    thirds.append([len(part), sum(e["improved"] for e in part), sum(e["proven"] for e in part),
                                   round(s, 2)])
                row.update({
                    "improved": sum(e["improved"] for e in prof), "proven": sum(e["proven"] for e in prof),
                    "largest_step": lns.get("largest_step"), "domains_per_step": lns.get("domains_per_step"),
                    "build_s": round(lns["build_s"], 2), "presolve_s": round(lns["presolve_s"], 2),
                    "solve_s": round(lns["solve_s"], 2),
                    "fixed_share_median": round(statistics.median(share), 2),
                    "kinds": _kinds(prof, kinds), "thirds": thirds,
                    "step_s_median": round(statistics.median(totals), 2)})
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1].split(","), float(sys.argv[2]),
         [int(s) for s in sys.argv[3].split(",")] if len(sys.argv) > 3 else [0])
