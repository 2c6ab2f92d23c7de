"""The bound by blocks with and without the rounded room rows in each block's stays form (session 23,
branch fragbound23: ``block_bound.ROOM_CUTS``). Per state and merge setting, ``block_bound`` with the
rows off and on (arms in that order), its rounds (round, bound, wall s, process CPU s).

    python bench/bench_fragbound23_blocks.py fragmented --seeds 104 1 --nodes 128 --size 32 --merge default none
    python bench/bench_fragbound23_blocks.py fragmented --seeds 100 --nodes 2048 --merge default --iterations 1
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> int:
    from packer.cpsat import block_bound as bbm
    from packer.cpsat.reopt_blocks import blocks
    from packer.generate import generate

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("family")
    ap.add_argument("--seeds", type=int, nargs="+", default=[104])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--size", type=int, default=None, help="nodes a block (default: the re-optimizer's)")
    ap.add_argument("--merge", nargs="+", default=["default"], help="default (block_bound.MERGE) or none (own nodes)")
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--jsonl", default=None)
    args = ap.parse_args()
    for seed in args.seeds:
        inst = generate(args.family, seed=seed, nodes=args.nodes)
        parts = blocks(inst, args.size)
        for merge in args.merge:
            row: dict[str, object] = {"state": inst.name, "gpus": inst.num_gpus, "blocks": len(parts), "merge": merge}
            for arm in ("off", "on"):
                bbm.ROOM_CUTS = arm == "on"
                rounds: list[tuple[int, float, float, float]] = []
                c0 = time.process_time()
                load0 = os.getloadavg()[0]
                got = bbm.block_bound(inst, parts, iterations=args.iterations,
                                      merge="default" if merge == "default" else None,
                                      progress=lambda i, v, s, rounds=rounds, c0=c0: rounds.append(
                                          (i, round(v, 3), round(s, 2), round(time.process_time() - c0, 2))))
                row[arm] = {"bound": got.value, "rounds": rounds, "load": [round(load0, 2), round(os.getloadavg()[0], 2)]}
                print(f"{inst.name} ({inst.num_gpus} GPUs, {len(parts)} blocks, merge {merge}) {arm}: "
                      f"{got.value:.2f} rounds {rounds} load {row[arm]['load']}", flush=True)
            bbm.ROOM_CUTS = False
            if args.jsonl:
                with open(args.jsonl, "a") as f:
                    f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
