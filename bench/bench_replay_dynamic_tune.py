"""Tuning A/B for the dynamic replay's rebalancer (issue 17 part 4): variants of replay_dynamic's keywords on
tuning seeds, seed medians of the saturated-window allocation.

    python bench/bench_replay_dynamic_tune.py default:10000,gpushare40:10000 0,1,2,3,4 packer \
        '{"rebalance_every":20,"max_moves":8,"pace":false,"min_gain_per_move":1000}' \
        '{"rebalance_every":20,"max_moves":8}'

Arguments: WORKLOAD:K list, seeds, policy, then one JSON object of keywords per variant. The results of the
session-6 tuning are in bench/replay_dynamic_tuning.txt.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

TRACES = Path(__file__).resolve().parents[2] / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"


def _job(args: tuple[str, float, str, int, dict[str, Any]]) -> tuple[Any, ...]:
    from packer.replay.openb import read_nodes, read_pods
    from packer.replay.rebalance import replay_dynamic

    w, k, pol, seed, var = args
    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    pods = read_pods(TRACES / f"openb_pod_list_{w}.csv", cluster)
    t0 = time.perf_counter()
    r = replay_dynamic(cluster, pods, pol, seed, compress=k, **var)
    return w, k, json.dumps(var), r["sat_avg_allocation_pct"], r["pods_migrated_pct"], time.perf_counter() - t0


def main() -> None:
    settings = [x.split(":") for x in sys.argv[1].split(",")]
    seeds = [int(x) for x in sys.argv[2].split(",")]
    pol = sys.argv[3]
    variants = [json.loads(v) for v in sys.argv[4:]]
    jobs = [(w, float(k), pol, s, v) for w, k in settings for v in variants for s in seeds]
    res: dict[tuple[str, float, str], list[tuple[Any, ...]]] = {}
    with ProcessPoolExecutor(2) as ex:
        for r in ex.map(_job, jobs):
            res.setdefault(r[:3], []).append(r)
    for (w, k, v), rs in res.items():
        sat = [r[3] for r in rs]
        print(f"{pol} {w} K={k:g} {v} sat median {np.median(sat):.3f} mean {np.mean(sat):.3f} "
              f"{[round(x, 2) for x in sat]} migrated max {max(r[4] for r in rs):.2f}% "
              f"wall {sum(r[5] for r in rs):.0f} s", flush=True)


if __name__ == "__main__":
    main()
