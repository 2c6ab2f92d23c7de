"""Where a 16,384-GPU re-optimization's time goes, block by block (not a unit test).

    python bench/bench_reopt_blockprof.py fragmented 0 300

Runs :func:`packer.cpsat.reopt.reoptimize` on the 2,048-node instance of FAMILY and SEED with the
time limit and 2 workers, timing each block's sub-instance build, its move steps (wall, process CPU,
gain, steps made and improved, requests, the block's budget) and its merge; prints the final plan's
objective, moves and wall time first, then one JSON line per event.
"""

from __future__ import annotations

import json
import os
import sys
import time

from packer.cpsat import decompose, reopt
from packer.generate import generate
from packer.plans import objective_value


def main() -> int:
    family, seed, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    inst = generate(family, seed=seed, nodes=2048)
    rows: list[dict[str, object]] = []
    steps0, sub0, merge0 = reopt.move_steps, decompose._sub_instance, decompose.merge_units

    def steps(sub, here, **kw):  # type: ignore[no-untyped-def]
        t, c = time.perf_counter(), time.process_time()
        before = objective_value(sub, here)
        out, st = steps0(sub, here, **kw)
        rows.append({"kind": "steps", "wall": round(time.perf_counter() - t, 2), "cpu": round(time.process_time() - c, 2),
                     "gain": round(objective_value(sub, out) - before, 2), "steps": st.get("steps"),
                     "improved": st.get("improved"), "requests": len(sub.requests), "nodes": len(sub.nodes),
                     "budget": round(kw["deadline"] - t, 1)})
        return out, st

    def sub_instance(*a, **k):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = sub0(*a, **k)
        rows.append({"kind": "sub", "wall": round(time.perf_counter() - t, 2)})
        return out

    def merge(*a, **k):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = merge0(*a, **k)
        rows.append({"kind": "merge", "wall": round(time.perf_counter() - t, 2), "ok": out})
        return out

    reopt.move_steps, decompose._sub_instance, decompose.merge_units = steps, sub_instance, merge
    t0 = time.perf_counter()
    pt = reopt.reoptimize(inst, time_limit=limit, workers=2)
    print(json.dumps({"objective": pt.plan.objective, "moves": pt.moves, "wall_s": round(time.perf_counter() - t0, 1),
                      "no_move_objective": pt.info.get("no_move_objective"), "load": os.getloadavg()}))
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
