"""Re-optimizer on a huge running cluster, arms one after the other on the same instance (not a unit test).

    python bench/bench_reopt_blocks.py fragmented --nodes 2048 --seed 100 --time-limit 300 --arms blocks,whole
    python bench/bench_reopt_blocks.py fragmented --nodes 2048 --seed 0 --time-limit 300 --arms serial,blocks

Arms: ``blocks`` (the default: the fast placers' no-move plan, then move steps block by block,
:mod:`packer.cpsat.reopt_blocks`), ``oldgang`` (``blocks`` with gang
steps that load a new placer per try, ``reopt_gang.FORK`` off: same plans, slower), ``serial`` (``blocks``
one at a time, ``reopt_blocks.PARALLEL`` off; ``blocks`` solves min(workers, blocks) side by side), ``whole`` (session 10's rule:
the no-move CP-SAT solve takes all but the final plan's time, whole-cluster move steps the rest). Every plan is checked on the instance;
the load average is printed beside each arm (2 shared cores: compare arms of one run only). The arm ``pods``
(``reopt_blocks.POD_LNS``) was removed with its flag in session 26; it runs at git tag flags-s25.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("family")
    ap.add_argument("--nodes", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--arms", default="blocks,whole")
    ap.add_argument("--json", default=None, help="append one JSON line per arm here")
    args = ap.parse_args()
    from packer.check import check
    from packer.cpsat import reopt, reopt_blocks, reopt_gang
    from packer.generate import generate

    inst = generate(args.family, seed=args.seed, nodes=args.nodes)
    for arm in args.arms.split(","):
        reopt.BLOCKS = arm in ("blocks", "oldgang", "serial")
        reopt_blocks.PARALLEL = arm == "blocks"  # (pool processes would not see the other arms' flags)
        reopt_gang.FORK = arm != "oldgang"
        l0 = os.getloadavg()[0]
        t = time.perf_counter()
        pt = reopt.reoptimize(inst, time_limit=args.time_limit, workers=args.workers)
        wall = time.perf_counter() - t
        rep = check(inst, pt.plan)
        steps = {k: v for k, v in dict(pt.info.get("steps") or {}).items() if k != "by_kind"}
        row = {"instance": inst.name, "arm": arm, "objective": pt.plan.objective, "bound": pt.plan.bound,
               "moves": pt.moves, "ok": rep.ok, "wall_s": round(wall, 1), "load": [round(l0, 2), round(os.getloadavg()[0], 2)],
               "no_move_objective": pt.info.get("no_move_objective"), "steps": steps}
        print(json.dumps(row), flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
