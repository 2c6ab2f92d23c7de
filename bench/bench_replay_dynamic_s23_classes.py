"""Session 23 (issue 17 part 4, step 3): where the saturated window's idle GPU milli sits by node CPU class, and
where the CPU-light room-leaving pods (810 milli, ~3 cores) run, in the deferral replay.

    NUMBA_NUM_THREADS=1 nice -n 5 python bench/bench_replay_dynamic_s23_classes.py [--runs cpu050:10000,default:10000]
        [--seeds 0-4] [--arms packer:rebalanced,fgd:plain] [--workers 2]
        [--out bench/replay_dynamic_s23_classes]

Node classes by CPU per GPU milli C_n / G_n against a, the typical GPU pod's (packer.replay.policy.cpu_per_gpu_milli,
10.9 on openb): "poor" below a (openb: the 2-GPU 16-core P100s, the 4-GPU 32-core and 8-GPU 64-core V100M16s, the
1-GPU 8-core nodes: a whole-GPU pod of 11.4 cores cannot use all their GPUs), "even" a .. 1.5 a (G2, V100M32: 12),
"rich" above (T4, G3, A10). At every rebalance look (every 20 events) inside the window it records per class, in %
of the cluster's GPU capacity: GPU milli, idle whole devices, idle partial milli, and the devices holding an
810-milli pod; and the whole idle devices of "poor" nodes that still have the CPU and memory of a typical 810 pod
("810-hostable": a device such a pod could take there instead of one elsewhere). Seed means of the window means.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from packer.replay import policy as replay_policy
from packer.replay.deferral import ClusterView, make_deferral_stream, replay_deferral, saturation_time
from packer.replay.openb import read_nodes, read_pods
from packer.replay.protocol import parse_seeds, typical_pods
from packer.replay.rebalance import Rebalancer

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"
CLASSES = ("poor", "even", "rich")


@cache
def _load(workload: str):  # type: ignore[no-untyped-def]
    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    return cluster, read_pods(TRACES / f"openb_pod_list_{workload}.csv", cluster)


def _classes(cluster: Any, a: float) -> np.ndarray:
    ratio = cluster.cpu / np.maximum(1000.0 * cluster.gpus, 1.0)
    return np.where(cluster.gpus == 0, -1, np.where(ratio < a, 0, np.where(ratio < 1.5 * a, 1, 2)))


def _look(v: ClusterView, cluster: Any, cls: np.ndarray, cpu810: float, mem810: float) -> dict[str, float]:
    p, pct = v.pods, 100.0 / cluster.capacity_milli
    valid = np.arange(8)[None, :] < cluster.gpus[:, None]
    idle = np.where(valid, v.idle, 0)
    holds810 = np.zeros(idle.shape, bool)
    for i, (n, mask) in v.running.items():
        if p.gpu_milli[i] == 810:
            for d in range(8):
                if (mask >> d) & 1:
                    holds810[n, d] = True
    out: dict[str, float] = {}
    for c, name in enumerate(CLASSES):
        on = cls == c
        out[f"{name}_gpu_pct"] = 1000.0 * float(cluster.gpus[on].sum()) * pct
        out[f"{name}_idle_whole_pct"] = float(idle[on][(idle[on] >= 1000)].sum()) * pct
        part = idle[on][(idle[on] > 0) & (idle[on] < 1000)]
        out[f"{name}_idle_partial_pct"] = float(part.sum()) * pct
        out[f"{name}_810_devices"] = float(holds810[on].sum())
        out[f"{name}_free_cpu_per_idle_gpu"] = float(v.free_cpu[on].sum()) / max(float(idle[on].sum()), 1.0)
    poor = cls == 0
    room = poor & (v.free_cpu >= cpu810) & (v.free_mem >= mem810)
    whole = ((idle >= 1000) & valid).sum(axis=1)
    cpu_slots = np.floor(v.free_cpu / max(cpu810, 1.0))
    out["poor_810_hostable_devices"] = float(np.minimum(whole, cpu_slots)[room].sum())
    out["alloc_pct"] = float(cluster.capacity_milli - idle.sum()) * pct
    part = (idle > 0) & (idle < 1000) & valid
    out["idle_100_199_pct"] = float(idle[part & (idle >= 100) & (idle < 200)].sum()) * pct
    out["idle_other_partial_pct"] = float(idle[part & ((idle < 100) | (idle >= 200))].sum()) * pct
    return out


def _job(args: tuple[str, float, str, str, int]) -> dict[str, Any]:
    workload, k, policy, arm, seed = args
    cluster, pods = _load(workload)
    a = replay_policy.cpu_per_gpu_milli(typical_pods(pods))
    cls = _classes(cluster, a)
    m810 = pods.gpu_milli == 810
    cpu810, mem810 = float(np.median(pods.cpu[m810])), float(np.median(pods.mem[m810]))
    st = make_deferral_stream(pods, cluster, seed, 1.3, k)
    t_sat = saturation_time(st, cluster.capacity_milli)
    looks: list[dict[str, float]] = []
    inner = (Rebalancer(cluster, budget=int(0.01 * len(st.pods)), per_call=8, min_gain_per_move=1, pace_pct=1.0)
             if arm == "rebalanced" else None)

    def spy(view: ClusterView) -> Any:
        if view.time >= t_sat:
            looks.append(_look(view, cluster, cls, cpu810, mem810))
        return inner(view) if inner is not None else None

    r = replay_deferral(cluster, pods, policy, seed, compress=k, stream=st, rebalance=spy, rebalance_every=20,
                        max_moves=8 if inner is not None else 1)
    return {"workload": workload, "compress": k, "policy": policy, "arm": arm, "seed": seed,
            "sat_avg_allocation_pct": r["sat_avg_allocation_pct"], "pods_migrated": r["pods_migrated"],
            "a": a, "cpu810": cpu810, "mean": {key: float(np.mean([x[key] for x in looks])) for key in looks[0]}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="cpu050:10000,default:10000")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--arms", default="packer:rebalanced,fgd:plain")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "bench" / "replay_dynamic_s23_classes"))
    a = ap.parse_args()
    jobs = [(w, float(k), pol, arm, s) for w, k in (x.split(":") for x in a.runs.split(","))
            for pol, arm in (x.split(":") for x in a.arms.split(",")) for s in parse_seeds(a.seeds)]
    with ProcessPoolExecutor(max_workers=a.workers) as ex:
        rows = list(ex.map(_job, jobs))
    Path(a.out).with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    keys = list(rows[0]["mean"])
    lines = ["| workload | K | policy | arm | window alloc % | " + " | ".join(keys) + " |",
             "|---|---:|---|---|---:|" + "---:|" * len(keys)]
    for w, k, pol, arm, _ in dict.fromkeys((j[0], j[1], j[2], j[3], 0) for j in jobs):
        sel = [r for r in rows if (r["workload"], r["compress"], r["policy"], r["arm"]) == (w, k, pol, arm)]
        lines.append(f"| {w} | {k:g} | {pol} | {arm} | {np.mean([r['sat_avg_allocation_pct'] for r in sel]):.2f} | "
                     + " | ".join(f"{np.mean([r['mean'][x] for r in sel]):.2f}" for x in keys) + " |")
    Path(a.out).with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
