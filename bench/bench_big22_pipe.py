"""The block steps' idle share with and without the pipeline (session 22; not a unit test).

    nice -n 5 python bench/bench_big22_pipe.py fragmented 0 /work/scratch21/hint_frag0.pkl 60 \
        --arms off,on --jsonl bench/big22_pipe_frag0.jsonl

Cuts the 2,048-node instance's blocks from a saved no-move plan (bench_big21_curves.py ``hint``) and runs
:func:`packer.cpsat.reopt_blocks.block_steps` with 2 workers for the given seconds, once per arm in the
order given (``on``: ``reopt_blocks.PIPELINE = True``), and prints one JSON line per arm: gain, the
share of the pool's worker-seconds in which no block's steps ran (``idle_share``), block runs, the
seconds each got, their CPU seconds, whether ``packer check`` passes the plan, the load.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import time

from packer.cpsat import reopt, reopt_blocks
from packer.generate import generate
from packer.plans import objective_value


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("family")
    ap.add_argument("seed", type=int)
    ap.add_argument("pkl")
    ap.add_argument("limit", type=float)
    ap.add_argument("--arms", default="off,on")
    ap.add_argument("--jsonl")
    ap.add_argument("--det", type=float, help="deterministic time per CP-SAT step (with --max-steps: reproducible)")
    ap.add_argument("--max-steps", type=int)
    a = ap.parse_args()
    inst = generate(a.family, seed=a.seed, nodes=2048)
    with open(a.pkl, "rb") as f:
        placed0 = pickle.load(f)  # noqa: S301 - our own file
    start = objective_value(inst, placed0)
    for arm in a.arms.split(","):
        reopt_blocks.PIPELINE = arm == "on"
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        w0 = time.time()
        out, st = reopt_blocks.block_steps(inst, placed0, cap=None, deadline=t0 + a.limit, seed=0, workers=2,
                                           det=a.det, max_steps=a.max_steps, parallel=2)
        wall = time.perf_counter() - t0
        load1 = os.getloadavg()[0]
        ok = reopt._valid(inst, out)  # packer check on the plan (with its GPU modes)
        runs = st.get("per_block", [])
        row = {"family": a.family, "seed": a.seed, "limit": a.limit, "arm": arm, "det": a.det, "max_steps": a.max_steps, "start": round(start, 3),
               "gain": round(objective_value(inst, out) - start, 3), "check_ok": ok, "wall_s": round(wall, 1),
               "phase_s": st.get("phase_s"), "idle_share": st.get("idle_share"), "runs": len(runs),
               "merged": sum(1 for r in runs if r["merged"]), "refused": st.get("refused", 0),
               "lost": st.get("blocks_lost", 0), "passes": st.get("passes"),
               "slots_s": [r["s"] for r in runs], "cpu_s": [r["cpu_s"] for r in runs],
               "gains": [r["gain"] for r in runs], "cpu_sum": round(sum(r["cpu_s"] or 0 for r in runs), 2),
               "load": [round(load0, 2), round(load1, 2)],
               # wall seconds from the phase's start: each run handed over, its steps' start and end, merged
               "timeline": [[round(x - w0, 2) if x else None for x in (r.get("sent"), *(r.get("wall") or (None, None)),
                                                                    r.get("got"))] for r in runs]}
        print(json.dumps(row), flush=True)
        if a.jsonl:
            with open(a.jsonl, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
