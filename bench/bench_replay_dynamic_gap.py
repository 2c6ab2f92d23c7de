"""Where does a run lose against the window bound (issue 17 part 4, session 19)? At every look (every 20
events) inside the saturated window, the run's allocation beside the *state bound*: the most GPU milli the
pods running at that instant plus the pods waiting could hold if every running pod could move at once
(the configuration relaxation of packer.replay.dynbound: running pods must stay placed, waiting pods may
start; CPU and memory per node type). state bound − allocation is what unlimited migrations could add at
that instant; the window bound (bench_replay_dynamic_bound.py) − state bound is what the run's history
(which pods run) costs.

    python bench/bench_replay_dynamic_gap.py [--runs cpu050:10000,default:30000] [--seeds 0-4]
        [--policies packer] [--arms plain,rebalanced] [--workers 2] [--out bench/replay_dynamic_gap]

Prints and writes OUT.{json,md}: per run, seed means of the window means.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from packer.replay.deferral import ClusterView, make_deferral_stream, replay_deferral, saturation_time
from packer.replay.dynbound import state_limits, state_lp
from packer.replay.openb import read_nodes, read_pods
from packer.replay.protocol import parse_seeds
from packer.replay.rebalance import Rebalancer

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"


@cache
def _load(workload: str):  # type: ignore[no-untyped-def]
    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    return cluster, read_pods(TRACES / f"openb_pod_list_{workload}.csv", cluster)


def _job(args: tuple[str, float, str, str, int]) -> dict[str, Any]:
    workload, k, policy, arm, seed = args
    cluster, pods = _load(workload)
    st = make_deferral_stream(pods, cluster, seed, 1.3, k)
    p = st.pods
    lp, shape_of, n_shapes = state_lp(cluster, p)
    cap = cluster.capacity_milli
    t_sat = saturation_time(st, cap)
    looks: list[tuple[float, float, float]] = []
    inner = (Rebalancer(cluster, budget=int(0.01 * len(p)), per_call=8, min_gain_per_move=1, pace_pct=1.0)
             if arm == "rebalanced" else None)
    valid = np.arange(8)[None, :] < cluster.gpus[:, None]

    def spy(view: ClusterView) -> Any:
        if view.time >= t_sat:
            lo, hi = state_limits(shape_of, n_shapes, view.running, view.waiting)
            v = lp.solve(lo, hi)
            alloc = cap - int(np.where(valid, view.idle, 0).sum())
            looks.append((view.time, 100.0 * alloc / cap, 100.0 * min(v, cap) / cap if v is not None else float("nan")))
        return inner(view) if inner is not None else None

    r = replay_deferral(cluster, pods, policy, seed, compress=k, stream=st, rebalance=spy, rebalance_every=20,
                        max_moves=8 if inner is not None else 1)
    a = np.array(looks)
    return {"workload": workload, "compress": k, "policy": policy, "arm": arm, "seed": seed,
            "sat_avg_allocation_pct": r["sat_avg_allocation_pct"], "looks": len(looks),
            "alloc_mean": float(a[:, 1].mean()), "state_bound_mean": float(np.nanmean(a[:, 2])),
            "state_bound_first": float(a[0, 2]), "alloc_first": float(a[0, 1]), "pods_migrated": r["pods_migrated"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="cpu050:10000,default:30000")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--policies", default="packer")
    ap.add_argument("--arms", default="plain,rebalanced")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "bench" / "replay_dynamic_gap"))
    a = ap.parse_args()
    jobs = [(w, float(k), pol, arm, s) for w, k in (x.split(":") for x in a.runs.split(","))
            for pol in a.policies.split(",") for arm in a.arms.split(",") for s in parse_seeds(a.seeds)]
    with ProcessPoolExecutor(max_workers=a.workers) as ex:
        rows = list(ex.map(_job, jobs))
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["| workload | K | policy | arm | window alloc % (replay) | look alloc % (mean) | state bound % (mean) | "
             "state bound − alloc (pts) | first look: alloc / state bound | pods migrated |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    groups: dict[tuple[str, float, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["workload"], r["compress"], r["policy"], r["arm"]), []).append(r)
    for (w, k, pol, arm), rs in groups.items():
        def m(key: str, rs: list[dict[str, Any]] = rs) -> float:
            return float(np.mean([r[key] for r in rs]))
        lines.append(f"| {w} | {k:g} | {pol} | {arm} | {m('sat_avg_allocation_pct'):.2f} | {m('alloc_mean'):.2f} | "
                     f"{m('state_bound_mean'):.2f} | {m('state_bound_mean') - m('alloc_mean'):+.2f} | "
                     f"{m('alloc_first'):.2f} / {m('state_bound_first'):.2f} | {m('pods_migrated'):.0f} |")
    table = "\n".join(lines)
    out.with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
