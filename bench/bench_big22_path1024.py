"""Does a 1,024-GPU fragmented re-optimization ever reach the block steps? (session 22; not a unit test)

    nice -n 5 python bench/bench_big22_path1024.py 100 20

Runs :func:`packer.cpsat.reopt.reoptimize` on fragmented-SEED at 128 nodes (1,024 GPUs) with the time
limit and 2 workers, with ``block_steps`` wrapped to count its calls; prints the calls, the info keys of the
steps and the objective. (Session 22 ran it with ``reopt_blocks.PIPELINE`` off and on; that flag was removed in
session 26.)
"""

from __future__ import annotations

import json
import os
import sys

from packer.cpsat import reopt, reopt_blocks
from packer.generate import generate


def main() -> int:
    seed, limit = int(sys.argv[1]), float(sys.argv[2])
    inst = generate("fragmented", seed=seed, nodes=128)
    real = reopt_blocks.block_steps
    calls: list[int] = []

    def counted(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*a, **k)

    reopt_blocks.block_steps = counted  # type: ignore[assignment]
    pt = reopt.reoptimize(inst, time_limit=limit, workers=2)
    steps = pt.info.get("steps") or {}
    print(json.dumps({"seed": seed, "gpus": inst.num_gpus, "block_steps_calls": len(calls),
                      "huge": len(inst.requests) * len(inst.nodes) > reopt.tuning.DECOMPOSE_ABOVE,
                      "steps_keys": sorted(steps)[:12], "objective": pt.plan.objective,
                      "load": round(os.getloadavg()[0], 2)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
