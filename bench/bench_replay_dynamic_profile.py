"""Where a rebalanced dynamic replay spends its time (issue 17 part 4): one seed, three arms (plain, the
first unpaced rebalancer with its 1,000-milli bar, the paced one), cProfile's top functions by own time.

    python bench/bench_replay_dynamic_profile.py [--workload cpu050] [--compress 10000] [--seed 0]
        [--policy packer] [--top 6]

Wall times depend on the machine's load (print it beside them); the first run warms numba's cache.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from pathlib import Path

from packer.replay.openb import read_nodes, read_pods
from packer.replay.rebalance import replay_dynamic

TRACES = Path(__file__).resolve().parents[2] / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="cpu050")
    ap.add_argument("--compress", type=float, default=10000.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--policy", default="packer")
    ap.add_argument("--top", type=int, default=6)
    a = ap.parse_args()
    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    pods = read_pods(TRACES / f"openb_pod_list_{a.workload}.csv", cluster)
    replay_dynamic(cluster, pods, a.policy, a.seed, compress=a.compress)  # warm the jit cache
    arms = {"plain": {},
            "unpaced, bar 1000": {"rebalance_every": 20, "max_moves": 8, "pace": False, "min_gain_per_move": 1000},
            "paced, any gain": {"rebalance_every": 20, "max_moves": 8}}
    print(f"{a.workload} K={a.compress:g} {a.policy} seed {a.seed}; load {os.getloadavg()[0]:.2f}")
    for name, kw in arms.items():
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        r = replay_dynamic(cluster, pods, a.policy, a.seed, compress=a.compress, **kw)
        prof.disable()
        wall = time.perf_counter() - t0
        print(f"\n{name}: wall {wall:.1f} s, rebalance calls {r['rebalance_calls']}, moves {r['moves_applied']}, "
              f"saturated-window alloc {r['sat_avg_allocation_pct']:.2f}%")
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(a.top)
        for line in buf.getvalue().splitlines():
            if "/" in line and ("(" in line or "{" in line):
                print("   ", line.strip())
    print(f"\nload after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
