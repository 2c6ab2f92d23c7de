"""Session 14 (branch big14): the greedy's constructions at 16,384 GPUs, two source trees interleaved.

Run: python bench/bench_greedy14.py --trees /tmp/old,. --families sharing --seeds 0 --repeat 2
Each run is a fresh process (``PYTHONPATH`` = the tree) that generates the instance and times
``packer.greedy.solver.solve(inst, file_order=False)`` (the constructions; the online placer's file-order
runs are left out: they are not the greedy's code and compile Numba kernels per tree). Prints one JSON
line per run: tree, family, seed, objective, a digest of the plan's assignments, wall seconds, load.
Runs alternate between the trees so that both see the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import hashlib, json, os, sys, time
from packer.generate import generate
from packer.greedy.solver import solve
fam, seed, nodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
inst = generate(fam, seed=seed, nodes=nodes)
t0 = time.perf_counter()
plan = solve(inst, file_order=False)
wall = time.perf_counter() - t0
digest = hashlib.sha256(json.dumps([[a.request, [u.key() for u in a.units]] for a in plan.assignments],
                                   default=str).encode()).hexdigest()[:16]
print(json.dumps({"objective": round(plan.objective, 3), "digest": digest, "wall_s": round(wall, 1),
                  "load": os.getloadavg()[0]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trees", required=True, help="comma-separated source trees (each holds packer/)")
    ap.add_argument("--families", default="sharing")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--nodes", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out")
    args = ap.parse_args()
    trees = [os.path.abspath(t) for t in args.trees.split(",")]
    for fam in args.families.split(","):
        for seed in args.seeds.split(","):
            for rep in range(args.repeat):
                for tree in trees if rep % 2 == 0 else trees[::-1]:
                    env = dict(os.environ, PYTHONPATH=tree)
                    got = subprocess.run([sys.executable, "-c", CHILD, fam, seed, str(args.nodes)], env=env,
                                         capture_output=True, text=True, check=True)
                    out = {"tree": tree, "family": fam, "seed": int(seed), "nodes": args.nodes,
                           **json.loads(got.stdout.strip().splitlines()[-1])}
                    line = json.dumps(out)
                    print(line, flush=True)
                    if args.out:
                        with open(args.out, "a") as f:
                            f.write(line + "\n")


if __name__ == "__main__":
    main()
