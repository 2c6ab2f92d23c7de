"""The online default policy with and without the batch forecast, against first-fit (never run by tests).

    python bench/bench_online_forecast.py --seeds 100-109 --nodes 8,128

Each instance is ``packer generate FAMILY --seed N --nodes N``; ``packer`` places in file order with
the forecast (``packer solve --solver online``, the default: bid prices and the rollout over the known
stream), with the forecast but without the rollout (``--no-rollout``: bid prices only), without the
forecast (``--no-forecast``: request by request, what a scheduler calling ``OnlinePlacer`` gets), and
first-fit in the same order. Every plan is checked. Prints per family and size the median % over
first-fit of the three packer runs and the count of instances more than 1% below first-fit.
Deterministic.
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
    print("| family | GPUs | packer with forecast (rollout) vs first-fit, median | forecast, no rollout | without forecast "
          "| > 1% below first-fit (rollout / no rollout / without) |")
    print("|---|---:|---:|---:|---:|---:|")
    for nodes in (int(x) for x in a.nodes.split(",")):
        for fam in a.families.split(","):
            w, nr, wo = [], [], []
            for seed in _seeds(a.seeds):
                inst = generate(fam, seed=seed, nodes=nodes)
                objs = []
                for opts in ({"policy": "packer"}, {"policy": "packer", "rollout": False},
                             {"policy": "packer", "forecast": False}, {"policy": "first-fit"}):
                    plan = solve(inst, solver="online", **opts)
                    assert check(inst, plan).ok, (fam, seed, opts)
                    objs.append(plan.objective)
                ff = max(objs[3], 1e-9)
                w.append(100 * (objs[0] - ff) / ff)
                nr.append(100 * (objs[1] - ff) / ff)
                wo.append(100 * (objs[2] - ff) / ff)
            print(f"| {fam} | {nodes * 8:,} | {statistics.median(w):+.2f}% | {statistics.median(nr):+.2f}% "
                  f"| {statistics.median(wo):+.2f}% | {sum(x < -1 for x in w)} / {sum(x < -1 for x in nr)} / "
                  f"{sum(x < -1 for x in wo)} |", flush=True)


if __name__ == "__main__":
    main()
