"""The online default policy with and without the batch forecast, against first-fit (never run by tests).

    python bench/bench_online_forecast.py --seeds 100-109 --nodes 8,128

Each instance is ``packer generate FAMILY --seed N --nodes N``; ``packer`` places in file order with
the forecast (``packer solve --solver online``, the default), without it (``--no-forecast``: request
by request, what a scheduler calling ``OnlinePlacer`` gets), and first-fit in the same order. Every
plan is checked. Prints per family and size the median % over first-fit of both packer runs and the
count of instances more than 1% below first-fit. Deterministic.
"""

from __future__ import annotations

import argparse
import statistics

from packer.check import check
from packer.dispatch import solve
from packer.generate import SUITE, generate


def _seeds(text: str) -> list[int]:
    a, _, b = text.partition("-")
    return list(range(int(a), int(b or a) + 1))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="100-109")
    p.add_argument("--nodes", default="8,128")
    p.add_argument("--families", default=",".join(SUITE))
    a = p.parse_args()
    print("| family | GPUs | packer with forecast vs first-fit, median | without forecast | > 1% below first-fit (with / without) |")
    print("|---|---:|---:|---:|---:|")
    for nodes in (int(x) for x in a.nodes.split(",")):
        for fam in a.families.split(","):
            w, wo = [], []
            for seed in _seeds(a.seeds):
                inst = generate(fam, seed=seed, nodes=nodes)
                objs = []
                for opts in ({"policy": "packer"}, {"policy": "packer", "forecast": False}, {"policy": "first-fit"}):
                    plan = solve(inst, solver="online", **opts)
                    assert check(inst, plan).ok, (fam, seed, opts)
                    objs.append(plan.objective)
                ff = max(objs[2], 1e-9)
                w.append(100 * (objs[0] - ff) / ff)
                wo.append(100 * (objs[1] - ff) / ff)
            print(f"| {fam} | {nodes * 8:,} | {statistics.median(w):+.2f}% | {statistics.median(wo):+.2f}% | "
                  f"{sum(x < -1 for x in w)} / {sum(x < -1 for x in wo)} |", flush=True)


if __name__ == "__main__":
    main()
