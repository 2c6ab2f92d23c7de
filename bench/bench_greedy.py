"""Greedy placer on generated instances: `packer solve` wall time (start-up included) and utilization.

Run: python bench/bench_greedy.py [--families haein,xl] [--seeds 0-4] [--repeat 3]
For each (family, seed): generate the instance to a file, time `packer solve` as a new process
(--repeat times, median reported), check the plan with `packer check`, print one row.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="haein")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    print("| family | seed | GPUs | requests | solve wall s (median, new process) | in-solver s | utilization | objective | unplaced | check |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for fam in args.families.split(","):
            for seed in seeds:
                inst = Path(tmp) / f"{fam}-{seed}.json"
                plan = Path(tmp) / f"{fam}-{seed}.plan.json"
                subprocess.run(["packer", "generate", fam, "--seed", str(seed), "-o", str(inst)], check=True,
                               capture_output=True)
                walls = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    subprocess.run(["packer", "solve", str(inst), "-o", str(plan), "-q"], check=True)
                    walls.append(time.perf_counter() - t)
                ok = subprocess.run(["packer", "check", str(inst), str(plan)], capture_output=True).returncode == 0
                p = json.loads(plan.read_text())
                i = json.loads(inst.read_text())
                m = p["metrics"]
                print(f"| {fam} | {seed} | {m['num_gpus']} | {len(i['requests'])} | {statistics.median(walls):.2f} | "
                      f"{p['solver']['wall_s']:.2f} | {100 * m['utilization']:.2f}% | {p['objective']:.2f} | "
                      f"{m['unplaced_requests']} | {'valid' if ok else 'INVALID'} |", flush=True)


if __name__ == "__main__":
    main()
