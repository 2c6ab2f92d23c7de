"""The relaxation step of a decomposed CP-SAT solve on its own: which relaxation fits, and how long it took.

``python bench/bench_relax_choice.py INSTANCE.json REM`` runs ``timeplan.relaxation_choice(inst, REM)``
(REM: seconds left; the relaxation's share is ``tuning.RELAX_SHARE`` of it), then ``proof.relaxed_bound``
on the choice, and prints the choice, its estimate, wall and CPU seconds and the capacity bound.
Wall times depend on the machine's load (printed beside them).
"""

from __future__ import annotations

import os
import sys
import time

from packer.cpsat import tuning
from packer.cpsat.bound import capacity_bound
from packer.cpsat.proof import relaxed_bound
from packer.cpsat.timeplan import relaxation_choice
from packer.formats import load_instance


def main(argv: list[str]) -> int:
    """Measures the relaxation step on ``argv[0]`` with ``argv[1]`` seconds left."""
    path, rem = argv[0], float(argv[1])
    t = time.perf_counter()
    inst = load_instance(path)
    print("load_s", round(time.perf_counter() - t, 1), "load", os.getloadavg(), flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    c = relaxation_choice(inst, rem)
    chosen = None if c is None else (c.level, c.typed, c.budget, round(c.prepared_s, 1), round(c.estimate_s, 1),
                                     sum(len(o) for o in c.data.options.values()))
    print("choice (level, typed, budget, prepared_s, estimate_s, options)", chosen,
          "choice_s", round(time.perf_counter() - t0, 1), flush=True)
    info: dict[str, object] = {}
    bound = None
    if c is not None:
        budget = None if c.budget is None else c.budget - c.prepared_s
        bound = relaxed_bound(inst, c.level, time_limit=budget, typed=c.typed, prepared=(c.relaxation, c.data),
                              info=info)
    print("bound", bound, info, "relax_total_s", round(time.perf_counter() - t0, 1),
          "cpu_s", round(time.process_time() - c0, 1), "share", tuning.RELAX_SHARE * rem, "load", os.getloadavg(),
          flush=True)
    t = time.perf_counter()
    print("capacity", capacity_bound(inst), round(time.perf_counter() - t, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
