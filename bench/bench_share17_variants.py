"""Variants of the greedy's exchanges (session 17), deterministic: one construction per arm.

For each sharing instance (1,024 GPUs by default) prints the balanced construction's objective with the
shipped exchanges and with one pass (``exchange.PASSES = 1``). The arms ``node_outs`` (``exchange.NODE_OUTS``)
and ``packed+exchanges`` (``greedy.EXCHANGE_PACKED``) were removed with their flags in session 26; they run at
git tag flags-s25::

    python bench/bench_share17_variants.py --seeds 0-4,100,101
"""

from __future__ import annotations

import argparse
import time

from packer.check import check
from packer.generate import generate
from packer.greedy import exchange
from packer.greedy import solver as greedy
from packer.replay.protocol import parse_seeds


def construct(inst, balance):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    plan = greedy._construct(inst, 0, t, None, None, None, balance=balance).plan
    assert check(inst, plan).ok, inst.name
    return plan.objective, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0-4,100,101")
    ap.add_argument("--nodes", type=int, default=128)
    args = ap.parse_args()
    totals: dict[str, float] = {}
    print("seed  shipped  passes=1  (objective, seconds)")
    for seed in parse_seeds(args.seeds):
        inst = generate("sharing", seed=seed, nodes=args.nodes)
        row = {"shipped": construct(inst, "cpu")}
        exchange.PASSES = 1
        try:
            row["passes=1"] = construct(inst, "cpu")
        finally:
            exchange.PASSES = 2
        for k, (obj, _) in row.items():
            totals[k] = totals.get(k, 0.0) + obj
        print(f"{seed:4d}  " + "  ".join(f"{obj:.2f} ({s:.2f}s)" for obj, s in row.values()), flush=True)
    print("totals  " + "  ".join(f"{k} {v:.2f}" for k, v in totals.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
