"""What the first whole-model CP-SAT run of a 60 s LNS solve buys, 1,024 GPUs (session 13).

Usage: python bench/bench_cpsat_firstrun.py FAMILY[,...] SEED[,...] [SECONDS]

Per instance: the greedy hint (as a solve takes it), the model hinted with it, then the first run as
``search.solve_monolithic`` runs it beside the LP (one worker, ``timeplan.lns_plan``'s first-run seconds
for the time a 60 s solve has left after its model, or SECONDS). One JSON line: CP-SAT's status, the
hint's and the run's objective, CP-SAT's bound, the run's wall and CPU seconds, the load. A run that
ends UNKNOWN found no solution (the LNS then starts from the hint), one that ends FEASIBLE at the hint's
objective found nothing better: either way its seconds bought the search nothing.
"""

from __future__ import annotations

import json
import os
import sys
import time

from ortools.sat.python import cp_model

from packer.cpsat.model import CpsatModel
from packer.cpsat.timeplan import lns_plan
from packer.generate import generate
from packer.greedy.solver import solve as greedy_solve


def main(families: list[str], seeds: list[int], seconds: float | None) -> None:
    for seed in seeds:
        for fam in families:
            inst = generate(fam, seed=seed, nodes=128)
            hint = greedy_solve(inst, seed=seed, time_limit=None, file_order=True)
            t0 = time.perf_counter()
            model = CpsatModel(inst)
            model.hint(hint)
            build = time.perf_counter() - t0
            plan = lns_plan(inst, 60.0 - 10.0, None)  # about what a 60 s solve has left after hint and model
            first = seconds if seconds is not None else (plan[2] if plan else 5.0)
            load = os.getloadavg()[0]
            w0, c0 = time.perf_counter(), time.process_time()
            code = model.solve(time_limit=first, seed=seed, workers=1)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            ok = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
            print(json.dumps({
                "family": fam, "seed": seed, "variables": len(model.model.proto.variables),
                "build_s": round(build, 2), "first_s": first, "status": model.solver.status_name(code),
                "hint": round(hint.objective, 3), "objective": round(model.objective(), 3) if ok else None,
                "cpsat_bound": round(model.bound(), 3) if ok else None, "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2), "load": round(load, 2)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1].split(","), [int(s) for s in sys.argv[2].split(",")],
         float(sys.argv[3]) if len(sys.argv) > 3 else None)
