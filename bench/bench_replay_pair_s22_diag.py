"""Session 22: how often the rebalancer's pairing (rebalance.PAIR) acts. One seed of the deferral replay with
packer + rebalance and pairing on: counts the moves issued, those to the pod's own node (pairings), and the
routes built with a pairing in them.

    NUMBA_NUM_THREADS=1 nice -n 5 python bench/bench_replay_pair_s22_diag.py [--workload cpu050] [--compress 10000]
        [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import packer.replay.rebalance as rb
from packer.replay.openb import read_nodes, read_pods

TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="cpu050")
    ap.add_argument("--compress", type=float, default=10000.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    pods = read_pods(TRACES / f"openb_pod_list_{a.workload}.csv", cluster)
    counts = {"routes": 0, "routes_paired": 0, "moves": 0, "own_node": 0}
    real_routes, real_call = rb._State.routes, rb.Rebalancer.__call__

    def routes(self, n, evict, used):  # type: ignore[no-untyped-def]
        r = real_routes(self, n, evict, used)
        if r is not None:
            counts["routes"] += 1
            counts["routes_paired"] += any(d == n for _, d in r)
        return r

    def call(self, view):  # type: ignore[no-untyped-def]
        moves = real_call(self, view)
        for mv in moves or ():
            counts["moves"] += 1
            counts["own_node"] += view.running[mv.pod][0] == mv.node
        return moves

    rb._State.routes, rb.Rebalancer.__call__ = routes, call  # type: ignore[method-assign]
    r = rb.replay_dynamic(cluster, pods, "packer", a.seed, compress=a.compress, rebalance_every=20, max_moves=8,
                          pair=True)
    print(a.workload, a.compress, a.seed, counts, f"saturated {r['sat_avg_allocation_pct']:.2f}",
          f"migrated {r['pods_migrated']}")


if __name__ == "__main__":
    main()
