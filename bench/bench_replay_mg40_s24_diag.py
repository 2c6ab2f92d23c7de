"""Session 24 (issue 17 part 4, step 2): why multigpu40 falls under every non-typical rho rule (static protocol).

    NUMBA_NUM_THREADS=1 nice -n 5 python bench/bench_replay_mg40_s24_diag.py [--workload multigpu40] [--seeds 0-4]
        [--rules typical,per_model/-/-/competing] [--out bench/replay_mg40_s24_diag]

Replays packer under each rule on identical streams (FGD's static protocol, 130%) and compares the final
states: the pods that failed (by shape), the idle GPU milli by node model and by how the node's GPUs are
held (whole idle devices, partial rooms; nodes whose GPUs multi-GPU pods take), and where the first placement
that differs between the two runs happened (its pod kind and the node models chosen). Writes OUT.json / prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_replay_rho21 import _apply  # noqa: E402
from bench_replay_workloads import TRACES, load  # noqa: E402

import packer.replay.policy as pol  # noqa: E402
from packer.replay.openb import read_nodes, read_pods  # noqa: E402
from packer.replay.protocol import make_stream, parse_seeds, typical_pods  # noqa: E402
from packer.replay.runner import run_stream  # noqa: E402


def _kind(num: int, milli: int) -> str:
    if num == 0:
        return "cpu"
    if num > 1:
        return f"multi{num}"
    return "whole" if milli >= 1000 else "frac"


def state(cluster, stream, run) -> dict:  # type: ignore[no-untyped-def]
    """Idle and failures of one final state."""
    p = stream.pods
    n_nodes = cluster.num_nodes
    idle = np.zeros((n_nodes, 8), np.int64)
    for n in range(n_nodes):
        idle[n, : cluster.gpus[n]] = 1000
    free_cpu = cluster.cpu.astype(np.int64).copy()
    multi_devs = np.zeros(n_nodes, np.int64)  # devices held by multi-GPU pods
    placed = run.node >= 0
    for i in np.flatnonzero(placed):
        n = int(run.node[i])
        free_cpu[n] -= int(p.cpu[i])
        m = int(run.devmask[i])
        for d in range(8):
            if m >> d & 1:
                idle[n, d] -= int(p.gpu_milli[i])
                if p.num_gpu[i] > 1:
                    multi_devs[n] += 1
    models = cluster.models
    by_model: dict[str, dict[str, int]] = {}
    for n in range(n_nodes):
        g = int(cluster.gpus[n])
        if g == 0:
            continue
        key = models[int(cluster.model[n])]
        d = by_model.setdefault(key, {"whole_idle": 0, "partial_idle": 0, "whole_idle_on_multi_nodes": 0,
                                      "whole_idle_cpu_short": 0})
        for j in range(g):
            v = int(idle[n, j])
            if v == 1000:
                d["whole_idle"] += 1000
                if multi_devs[n] > 0:
                    d["whole_idle_on_multi_nodes"] += 1000
                if free_cpu[n] < 2000:  # less than two cores left: a whole idle GPU no typical GPU pod can take
                    d["whole_idle_cpu_short"] += 1000
            else:
                d["partial_idle"] += v
    # idle by what else the node holds: a multi-GPU pod, only single-GPU pods, nothing on its GPUs; and for the
    # whole idle devices, whether a 1-GPU pod that failed would fit there by CPU and memory (else: stranded)
    fail1 = [i for i in np.flatnonzero(~placed) if p.num_gpu[i] == 1]
    min_cpu1 = min((int(p.cpu[i]) for i in fail1), default=0)
    by_hold = Counter()
    for n in range(n_nodes):
        g = int(cluster.gpus[n])
        if g == 0:
            continue
        busy = int((idle[n, :g] < 1000).sum())
        cat = "multi" if multi_devs[n] > 0 else ("single" if busy else "empty")
        for j in range(g):
            v = int(idle[n, j])
            if v == 1000:
                by_hold[f"{cat}_whole"] += v
                if free_cpu[n] < min_cpu1:
                    by_hold[f"{cat}_whole_cpu_stranded"] += v
            else:
                by_hold[f"{cat}_partial"] += v
    placed_by = Counter()  # GPU milli placed per (node model, pod kind)
    for i in np.flatnonzero(placed & (p.gpu_milli > 0)):
        placed_by[f"{models[int(cluster.model[int(run.node[i])])]}:{_kind(int(p.num_gpu[i]), int(p.gpu_milli[i]))}"] += (
            int(p.num_gpu[i]) * int(p.gpu_milli[i]))
    failed = Counter()
    failed_milli = Counter()
    for i in np.flatnonzero(~placed):
        k = _kind(int(p.num_gpu[i]), int(p.gpu_milli[i]))
        failed[k] += 1
        failed_milli[k] += int(p.num_gpu[i]) * int(p.gpu_milli[i])
    return {"used": int(run.used[-1]), "by_model": by_model, "by_hold": dict(by_hold), "placed_by": dict(placed_by), "failed": dict(failed), "failed_milli": dict(failed_milli),
            "idle": idle, "free_cpu": free_cpu}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="multigpu40")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--rules", default="typical,per_model/-/-/competing")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "replay_mg40_s24_diag"))
    a = ap.parse_args()
    r0, r1 = a.rules.split(",")
    cluster = read_nodes(TRACES / "csv" / "openb_node_list_gpu_node.csv")
    base = read_pods(TRACES / "csv" / "openb_pod_list_default.csv", cluster)
    pods, _ = load(cluster, a.workload, base)
    tp = typical_pods(pods)
    keep = (pol.RHO_RULE, pol.RHO_SPLIT, pol.RHO_WEIGHT_RULE, pol.RHO_CPU_ONLY_RULE, pol.RHO_FRAC_RULE)
    rows = []
    cap = cluster.capacity_milli
    try:
        for s in parse_seeds(a.seeds):
            stream = make_stream(pods, cluster, s, 1.3)
            runs = {}
            for r in (r0, r1):
                _apply(r)
                runs[r] = run_stream(cluster, stream, tp, "packer")
            st = {r: state(cluster, stream, runs[r]) for r in (r0, r1)}
            p = stream.pods
            diff = np.flatnonzero((runs[r0].node != runs[r1].node) | (runs[r0].devmask != runs[r1].devmask))
            first = int(diff[0]) if len(diff) else -1
            kinds_first = Counter(_kind(int(p.num_gpu[i]), int(p.gpu_milli[i])) for i in diff[:200])
            row = {"seed": s, "used_pct": {r: 100 * st[r]["used"] / cap for r in (r0, r1)},
                   "failed": {r: st[r]["failed"] for r in (r0, r1)},
                   "failed_milli_pct": {r: {k: 100 * v / cap for k, v in st[r]["failed_milli"].items()} for r in (r0, r1)},
                   "by_model_pct": {r: {m: {k: round(100 * v / cap, 3) for k, v in d.items()}
                                        for m, d in st[r]["by_model"].items()} for r in (r0, r1)},
                   "by_hold_pct": {r: {k: round(100 * v / cap, 3) for k, v in sorted(st[r]["by_hold"].items())}
                                   for r in (r0, r1)},
                   "placed_pct": {r: {k: round(100 * v / cap, 3) for k, v in sorted(st[r]["placed_by"].items())}
                                  for r in (r0, r1)},
                   "first_diff_pod": first, "num_pods": len(p), "differing_pods": int(len(diff)),
                   "first_diff_kind": _kind(int(p.num_gpu[first]), int(p.gpu_milli[first])) if first >= 0 else None,
                   "kinds_of_first_200_differing": dict(kinds_first)}
            if first >= 0:
                row["first_diff_nodes"] = {r: (cluster.models[int(cluster.model[runs[r].node[first]])]
                                               if runs[r].node[first] >= 0 else None) for r in (r0, r1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        _apply(keep[0])
        pol.RHO_RULE, pol.RHO_SPLIT, pol.RHO_WEIGHT_RULE, pol.RHO_CPU_ONLY_RULE, pol.RHO_FRAC_RULE = keep
    Path(a.out + ".json").write_text(json.dumps({"workload": a.workload, "rules": [r0, r1], "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
