"""Does a decomposed CP-SAT solve of a huge running cluster end by its time limit? (not a unit test)

    python bench/bench_cpsat_running_limit.py fragmented 0 60

``packer.solve(..., params=...)`` (CP-SAT parameters given) does not hand a running cluster to the
re-optimizer but to the decomposed solve, as does any cluster with fewer than
``reopt.MIN_MOVABLE`` movable running requests: there the bound's relaxation is chosen and prepared
before the search. Prints the wall time against the limit, the objective and the load.
"""

from __future__ import annotations

import os
import sys
import time

import packer
from packer.generate import generate


def main() -> int:
    family, seed, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    inst = generate(family, seed=seed, nodes=2048)
    t = time.perf_counter()
    plan = packer.solve(inst, solver="cpsat", time_limit=limit, workers=2, params={"log_search_progress": False})
    print(f"{inst.name}: wall {time.perf_counter() - t:.1f} s, limit {limit:.0f} s, objective {plan.objective:.2f}, "
          f"status {plan.status}, bound {plan.bound}, load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
