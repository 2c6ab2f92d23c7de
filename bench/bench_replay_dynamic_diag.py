"""What binds in the dynamic replay's saturated window (issue 17 part 4): where the idle GPU milli sits,
what the waiting pods ask for and why they fit nowhere, and how far re-optimising the running pods could
lift the allocation at all.

    python bench/bench_replay_dynamic_diag.py [--runs cpu050:10000,default:30000] [--seeds 0-4]
        [--policies packer,fgd] [--arms plain,rebalanced] [--workers 2] [--out bench/replay_dynamic_diag]

Each run is the plain deferral replay (a hook that looks every 20 events and moves nothing, so the run is
the plain one to the digit) or the rebalanced one (the look wraps replay_dynamic's paced rebalancer, every
20 events, <= 8 moves per call, 1 % of the pods). At every look inside the saturated window it records:
- idle GPU milli by device: whole idle devices; partial devices by their idle milli (< 100, 100-199, the
  room beside an 810-milli pod, 200-469, >= 470);
- the waiting GPU pods: shapes, CPU/memory, and why each fits no node: "gpu": no node of its model has
  the devices for it; "cpu/mem": nodes have the devices, none of them the CPU or memory as well;
- a repack bound: the most GPU milli the running pods plus the waiting ones could hold if every running
  pod could move at once (CPU and memory ignored; pods of more than 500 milli get a device each and only
  pods no larger than the room left beside them may join them, as a fluid; the rest need
  ceil(milli / 1000) devices; the devices left over take the largest waiting pods). Migrations on top of
  this run cannot lift the allocation above it at that moment;
- movable pods: running pods that some node other than their own could hold now (CPU, memory, a device
  with room for them): the rebalancer can move only these, and every move uses up such room;
- a budget bound: a migration frees at most one device, so B migrations add at most B GPUs (plus the
  whole idle devices that exist already).
Prints and writes OUT.{json,md}: per run, seed means at the window's first look and over all its looks.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from packer.replay.deferral import ClusterView, make_deferral_stream, replay_deferral, saturation_time
from packer.replay.openb import read_nodes, read_pods
from packer.replay.protocol import parse_seeds
from packer.replay.rebalance import Rebalancer, _State

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"


@cache
def _load(workload: str):  # type: ignore[no-untyped-def]
    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    return cluster, read_pods(TRACES / f"openb_pod_list_{workload}.csv", cluster)


def _fluid_fill(small: np.ndarray, room: np.ndarray) -> int:
    """Most milli of pods ``small`` that rooms ``room`` hold if a pod may use only rooms at least its size
    (fluid: a pod may split). Max flow of a threshold structure: min over t of sum(s < t) + sum(r >= t)."""
    if not len(room) or not len(small):
        return 0
    s, r = np.sort(small), np.sort(room)
    cs, cr = np.concatenate([[0], np.cumsum(s)]), np.concatenate([[0], np.cumsum(r)])
    ts = np.concatenate([s, [np.iinfo(np.int64).max]])
    a = cs[np.searchsorted(s, ts, "left")]
    b = cr[-1] - cr[np.searchsorted(r, ts, "left")]
    return int((a + b).min())


def _look(v: ClusterView, cluster: Any) -> dict[str, Any]:
    p, cap = v.pods, cluster.capacity_milli
    valid = np.arange(8)[None, :] < cluster.gpus[:, None]
    idle = np.where(valid, v.idle, 0)
    part = (idle > 0) & (idle < 1000) & valid
    pct = 100.0 / cap
    out: dict[str, Any] = {"time": v.time, "alloc_pct": (cap - idle.sum()) * pct,
                           "idle_whole_pct": idle[(idle >= 1000) & valid].sum() * pct}
    for name, lo, hi in (("lt100", 0, 100), ("100_199", 100, 200), ("200_469", 200, 470), ("ge470", 470, 1000)):
        sel = part & (idle >= lo) & (idle < hi)
        out[f"idle_partial_{name}_pct"] = idle[sel].sum() * pct
    run = np.fromiter(v.running, np.int64, len(v.running))
    g = run[p.gpu_milli[run] > 0]
    out["running_810"] = int((p.gpu_milli[g] == 810).sum())
    # repack bound
    big_pod = p.gpu_milli[g] > 500
    n_big = int((p.num_gpu[g] * big_pod).sum())
    rooms = np.repeat(1000 - p.gpu_milli[g][big_pod], p.num_gpu[g][big_pod])
    small = p.gpu_milli[g][~big_pod]
    devices = n_big + int(np.ceil((small.sum() - _fluid_fill(small, rooms)) / 1000))
    wait = np.array(v.waiting, np.int64)
    wg = wait[p.gpu_milli[wait] > 0] if len(wait) else wait
    spare = max(int(valid.sum()) - devices, 0)
    add = np.sort(np.repeat(p.gpu_milli[wg], p.num_gpu[wg]))[::-1][:spare]
    used = int((p.num_gpu[g] * p.gpu_milli[g]).sum())
    out["repack_bound_pct"] = min(cap, used + int(add.sum())) * pct
    out["devices_in_use"] = int(((idle < 1000) & valid).sum())
    out["movable_pods"] = sum(len(x) for x in _State(v, cluster).by_node.values())
    out["devices_needed"] = devices
    # the waiting pods
    out["waiting_gpu_pods"] = len(wg)
    out["waiting_gpu_milli_pct"] = float((p.num_gpu[wg] * p.gpu_milli[wg]).sum()) * pct
    shapes = Counter(f"{k}x{m}" for k, m in zip(p.num_gpu[wg].tolist(), p.gpu_milli[wg].tolist(), strict=True))
    out["waiting_shapes"] = dict(shapes.most_common(6))
    out["waiting_cpu_median"] = float(np.median(p.cpu[wg])) if len(wg) else 0.0
    out["waiting_mem_median_gib"] = float(np.median(p.mem[wg])) / 1024 if len(wg) else 0.0
    why: Counter[str] = Counter()
    model = cluster.model
    for i in wg.tolist():
        spec, k, m = int(p.spec[i]), int(p.num_gpu[i]), int(p.gpu_milli[i])
        mok = np.ones(len(model), bool) if spec == 0 else ((spec >> np.maximum(model, 0)) & 1).astype(bool)
        dev = mok & (cluster.gpus >= k) & ((((v.idle >= m) & valid).sum(axis=1)) >= k)
        if not dev.any():
            why["gpu"] += 1
        elif not (dev & (v.free_cpu >= p.cpu[i]) & (v.free_mem >= p.mem[i])).any():
            why["cpu/mem"] += 1
        else:
            why["fits (placed at the next retry)"] += 1
    out["why_waiting"] = dict(why)
    return out


def _job(args: tuple[str, float, str, str, int]) -> dict[str, Any]:
    workload, k, policy, arm, seed = args
    cluster, pods = _load(workload)
    st = make_deferral_stream(pods, cluster, seed, 1.3, k)
    t_sat = saturation_time(st, cluster.capacity_milli)
    looks: list[dict[str, Any]] = []
    inner = (Rebalancer(cluster, budget=int(0.01 * len(st.pods)), per_call=8, min_gain_per_move=1, pace_pct=1.0)
             if arm == "rebalanced" else None)

    def spy(view: ClusterView) -> Any:
        if view.time >= t_sat:
            looks.append(_look(view, cluster))
        return inner(view) if inner is not None else None

    r = replay_deferral(cluster, pods, policy, seed, compress=k, stream=st, rebalance=spy, rebalance_every=20,
                        max_moves=8 if inner is not None else 1)
    return {"workload": workload, "compress": k, "policy": policy, "arm": arm, "seed": seed,
            "pods_migrated": r["pods_migrated"],
            "sat_avg_allocation_pct": r["sat_avg_allocation_pct"], "num_pods": r["num_pods"],
            "budget_1pct_bound_pts": 100.0 * (int(0.01 * r["num_pods"]) * 1000) / cluster.capacity_milli,
            "window_s": st.horizon - t_sat, "arrivals_in_window": int((st.arrival >= t_sat).sum()),
            "first": looks[0], "mean": {key: float(np.mean([x[key] for x in looks])) for key in looks[0]
                                        if isinstance(looks[0][key], float | int)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="cpu050:10000,default:30000")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--policies", default="packer,fgd")
    ap.add_argument("--arms", default="plain,rebalanced")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "bench" / "replay_dynamic_diag"))
    a = ap.parse_args()
    jobs = [(w, float(k), pol, arm, s) for w, k in (x.split(":") for x in a.runs.split(","))
            for pol in a.policies.split(",") for arm in a.arms.split(",") for s in parse_seeds(a.seeds)]
    with ProcessPoolExecutor(max_workers=a.workers) as ex:
        rows = list(ex.map(_job, jobs))
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["| workload | K | policy | arm | window s / arrivals | alloc % (first look / window mean) | idle whole | "
             "idle partial <100 / 100-199 / 200-469 / >=470 (first look, % of capacity) | running 810s | "
             "waiting GPU pods / their milli % | why waiting (gpu / cpu-mem) | repack bound % (first / mean) | "
             "movable pods (first look) | pods migrated | 1% budget bound (pts) |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    groups: dict[tuple[str, float, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["workload"], r["compress"], r["policy"], r["arm"]), []).append(r)
    for (w, k, pol, arm), rs in groups.items():
        def m(f: Any, rs: list[dict[str, Any]] = rs) -> float:
            return float(np.mean([f(r) for r in rs]))
        f0 = [r["first"] for r in rs]
        why = Counter()
        for x in f0:
            why.update(x["why_waiting"])
        lines.append(
            f"| {w} | {k:g} | {pol} | {arm} | {m(lambda r: r['window_s']):.1f} / {m(lambda r: r['arrivals_in_window']):.0f} | "
            f"{m(lambda r: r['first']['alloc_pct']):.2f} / {m(lambda r: r['sat_avg_allocation_pct']):.2f} | "
            f"{m(lambda r: r['first']['idle_whole_pct']):.2f} | "
            + " / ".join(f"{m(lambda r, b=b: r['first'][f'idle_partial_{b}_pct']):.2f}"
                         for b in ("lt100", "100_199", "200_469", "ge470"))
            + f" | {m(lambda r: r['first']['running_810']):.0f} | {m(lambda r: r['first']['waiting_gpu_pods']):.0f} / "
            f"{m(lambda r: r['first']['waiting_gpu_milli_pct']):.2f} | {why['gpu'] / len(rs):.0f} / "
            f"{why['cpu/mem'] / len(rs):.0f} | {m(lambda r: r['first']['repack_bound_pct']):.2f} / "
            f"{m(lambda r: r['mean']['repack_bound_pct']):.2f} | {m(lambda r: r['first']['movable_pods']):.0f} | "
            f"{m(lambda r: r['pods_migrated']):.0f} | {m(lambda r: r['budget_1pct_bound_pts']):.2f} |")
    shapes = {f"{w} {k:g} {pol} {arm}": rs[0]["first"]["waiting_shapes"] for (w, k, pol, arm), rs in groups.items()}
    lines += ["", "Waiting shapes at the first look (first seed): "
              + "; ".join(f"{key}: {v}" for key, v in shapes.items())]
    table = "\n".join(lines)
    out.with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
