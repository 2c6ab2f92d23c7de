"""The ``packer`` policy request by request (no forecast: a scheduler calling ``OnlinePlacer.place``)
against first-fit in the same arrival order, on the issue-16 suite (never run by the tests).

    python bench/bench_online_noforecast.py --seeds 100-109 --nodes 8,128 [--families ...] [--json OUT]

Per family and size: the median of packer / first-fit − 1, the worst seed, and the seeds more than
1% below first-fit (named). Every plan goes through ``packer check``. Deterministic.
"""

from __future__ import annotations

import argparse
import json
import statistics

from packer.check import check
from packer.dispatch import solve
from packer.generate import SUITE, generate


def _ints(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="100-109")
    p.add_argument("--nodes", default="8,128")
    p.add_argument("--families", default=",".join(SUITE))
    p.add_argument("--json", default="/tmp/bench_online_noforecast.json")
    a = p.parse_args()
    rows = []
    print("| family | GPUs | packer vs first-fit, median | worst | seeds > 1% below first-fit |")
    print("|---|---:|---:|---:|---|")
    tot = 0
    for nodes in _ints(a.nodes):
        for fam in a.families.split(","):
            vs = []
            for seed in _ints(a.seeds):
                inst = generate(fam, seed, nodes=nodes)
                obj = {}
                for pol, opts in (("packer", {"forecast": False}), ("first-fit", {"policy": "first-fit"})):
                    rep = check(inst, solve(inst, "online", **opts))
                    assert rep.ok, (fam, seed, nodes, pol)
                    obj[pol] = rep.objective
                r = obj["packer"] / obj["first-fit"] - 1 if obj["first-fit"] > 0 else 0.0
                rows.append({"family": fam, "seed": seed, "nodes": nodes, **obj, "vs_ff": r})
                vs.append((r, seed))
            bad = [f"{s} ({100 * r:+.2f}%)" for r, s in vs if r < -0.01]
            tot += len(bad)
            print(f"| {fam} | {nodes * 8:,} | {100 * statistics.median(r for r, _ in vs):+.2f}% | "
                  f"{100 * min(r for r, _ in vs):+.2f}% | {len(bad)}: {', '.join(bad)} |", flush=True)
    print(f"\ninstances > 1% below first-fit: {tot} of {len(rows)}")
    json.dump({"args": vars(a), "rows": rows}, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
