"""Move steps' gain over CPU time on a running cluster, from two no-move starts (not a unit test).

    python bench/bench_reopt_blockgain.py fragmented 0 60

One block of the 16,384-GPU re-optimizer is a 1,024-GPU cluster (:mod:`packer.cpsat.reopt_blocks`);
this runs move steps (unguided, as in a block; ``max_steps`` CP-SAT steps at deterministic time 1.0,
one worker: the objective path is reproducible, the CPU seconds are this machine's) on the 128-node
instance of FAMILY and SEED from the fast placers' no-move plan and from a 30 s CP-SAT no-move solve,
and prints the gain's trajectory against process CPU seconds: how much of a block's gain its share
of time buys.
"""

from __future__ import annotations

import json
import os
import sys
import time

from packer.cpsat import reopt
from packer.generate import generate
from packer.plans import objective_value
from packer.progress import Progress


class _Trace(Progress):
    """Records (CPU seconds, best) at every improvement."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.points: list[tuple[float, float]] = []
        self.t0 = time.process_time()

    def update(self, *, best: float | None = None, **_: object) -> None:  # type: ignore[override]
        if best is not None:
            self.points.append((round(time.process_time() - self.t0, 1), round(best, 2)))


def main() -> int:
    family, seed, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    inst = generate(family, seed=seed, nodes=128)
    fast = reopt.no_move_hint(inst, time_limit=None, seed=0)
    slow = reopt.no_move_plan(inst, time_limit=30, seed=0, workers=1)
    for name, start in (("fast", fast), ("cpsat30", slow)):
        if start is None:
            continue
        placed = {a.request: list(a.units) for a in start.assignments}
        trace = _Trace()
        c0 = time.process_time()
        out, stats = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 1e9, seed=0,
                                      workers=1, max_steps=steps, det=1.0, progress=trace)
        print(json.dumps({"instance": inst.name, "start": name, "start_objective": round(objective_value(inst, placed), 2),
                          "end": round(objective_value(inst, out), 2), "cpu_s": round(time.process_time() - c0, 1),
                          "steps": stats.get("steps"), "improved": stats.get("improved"), "trajectory": trace.points,
                          "load": round(os.getloadavg()[0], 2)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
