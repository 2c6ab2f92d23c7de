"""What the re-optimizer's plan conversion costs on a huge instance: ``python bench/bench_reopt_conversion.py
INSTANCE.json PLAN.json`` times reopt._plan (modes, unplaced reasons, objective, SPEC plan) of the
plan's placement (what a final plan changed by move steps costs), the same with the plan's own
reasons and modes reused (what the no-move plan costs since it reuses the pinned solve's), the
re-issue of the plan (``restamp``, the final plan when nothing changed), and ``pinned`` (the no-move
instance), which it runs before. ``cpu_share`` is the process CPU time over the wall time of the
fresh conversion (single-threaded: the share of a core this process got)."""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    from packer.cpsat import reopt
    from packer.cpsat.result import restamp
    from packer.formats import load_instance, load_plan

    inst = load_instance(sys.argv[1])
    plan = load_plan(sys.argv[2])
    placed = {a.request: list(a.units) for a in plan.assignments}
    row: dict[str, object] = {"instance": os.path.basename(sys.argv[1]), "gpus": inst.num_gpus,
                              "requests": len(inst.requests), "load_start": os.getloadavg()[0],
                              "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    t = time.perf_counter()
    reopt.pinned(inst)
    row["pinned_s"] = round(time.perf_counter() - t, 2)
    t, c = time.perf_counter(), time.process_time()
    reopt._plan(inst, placed, bound=None, seed=0, wall_s=0.0, info={})
    row["plan_s"] = round(time.perf_counter() - t, 2)
    row["cpu_share"] = round((time.process_time() - c) / max(1e-9, time.perf_counter() - t), 2)
    modes = {(m.node, m.gpu): m.mode for m in plan.gpu_modes}
    why = {u.request: u.reason for u in plan.unplaced}
    t = time.perf_counter()
    reopt._plan(inst, placed, bound=None, seed=0, wall_s=0.0, info={}, modes=modes, why=why)
    row["plan_reused_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    restamp(inst, plan, 0, t, {}, None)
    row["restamp_s"] = round(time.perf_counter() - t, 2)
    row["reserve_s"] = round(reopt._reserve(inst), 2)
    row["load_end"] = os.getloadavg()[0]
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
