"""Why the online policies leave requests unplaced, by reason code, on suite instances (never run by the tests).

    python bench/bench_online_reasons.py --families training,haein,adversarial --seeds 100-104 --nodes 128

Counts the unplaced requests of ``packer solve --solver online --policy P`` per reason code
(packer.reasons). ``locality`` counts gangs that found no domain of their level with room although
they passed the capacity test: whole-GPU capacity fragmented across domains. Deterministic.
"""

from __future__ import annotations

import argparse
from collections import Counter

from packer.generate import SUITE, generate
from packer.online.solver import solve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default=",".join(SUITE))
    ap.add_argument("--seeds", default="100-104")
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--policies", default="packer,first-fit")
    args = ap.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    print("| family | GPUs | seeds | policy | unplaced requests by reason |")
    print("| --- | --- | --- | --- | --- |")
    for fam in args.families.split(","):
        for pol in args.policies.split(","):
            c: Counter[str] = Counter()
            gpus = 0
            for seed in seeds:
                inst = generate(fam, seed, nodes=args.nodes)
                gpus = inst.num_gpus
                c.update(u.reason.split(":")[0] for u in solve(inst, policy=pol).unplaced)
            text = ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
            print(f"| {fam} | {gpus:,} | {args.seeds} | {pol} | {text} |")


if __name__ == "__main__":
    main()
