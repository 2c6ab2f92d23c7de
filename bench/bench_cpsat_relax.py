"""Bounds from the merged-node relaxations side by side (not a unit test).

    python bench/bench_cpsat_relax.py haein --seeds 0 1 --relaxations cluster rack typed-rack typed-nvlink
    python bench/bench_cpsat_relax.py xl --nodes 256 --seeds 0 --relaxations cluster pod rack typed-rack
    python bench/bench_cpsat_relax.py xl --seeds 0 --relaxations cluster typed-rack

For each generated instance and relaxation (``LEVEL`` merges by domain, ``typed-LEVEL`` merges
domains of one make-up and keeps the room rule; see packer/cpsat/relax.py) it prints the number of
super nodes, the LP bound and the seconds for model and LP. Lower is tighter; every one is a proven
upper bound on the instance's optimum.
"""

from __future__ import annotations

import argparse
import time

from packer.cpsat import relaxed_bound
from packer.cpsat.relax import super_nodes, typed_super_nodes
from packer.generate import generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("family")
    ap.add_argument("--nodes", type=int, default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--relaxations", nargs="+", default=["cluster", "typed-rack"])
    args = ap.parse_args()
    print("| instance | requests | relaxation | super nodes | LP bound | seconds |")
    print("|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = generate(args.family, seed, nodes=args.nodes)
        for name in args.relaxations:
            typed = name.startswith("typed-")
            level = name.removeprefix("typed-")
            count = typed_super_nodes(inst, level) if typed else super_nodes(inst, level)
            t0 = time.perf_counter()
            bound = relaxed_bound(inst, level, typed=typed)
            wall = time.perf_counter() - t0
            shown = "none" if bound is None else f"{bound:,.2f}"
            print(f"| {inst.name} ({len(inst.nodes)} nodes) | {len(inst.requests)} | {name} | {count} | {shown} "
                  f"| {wall:.1f} |", flush=True)


if __name__ == "__main__":
    main()
