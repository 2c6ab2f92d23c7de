"""What does the window bound's LP pack that packer + rebalance does not (issue 17 part 4, session 20)?

At a few instants inside the saturated window of a run (fractions ``--at`` of the window, taken at the first
rebalance look past each), the *state LP* of packer.replay.dynbound's configuration relaxation (the pods
running then must stay placed, the waiting ones may start; CPU and memory per node type; unlimited
migrations) is solved and its solution read:

- per node type: GPU milli placed, CPU used, by the run and by the LP (% of the type's capacity);
- per device configuration (multiset of the pods above 200 milli on one device): how many devices the run
  holds in it and how many the LP uses (summed over types), the largest differences first;
- how far the run's layout is from the LP's: *devices to change* = Σ over (type, configuration) of
  max(0, run − LP) (devices whose configuration the LP does not keep), the pods above 200 milli on them
  (clearing them all is one way to get there: an upper estimate of the migrations) and a lower estimate
  of the migrations (each move touches two devices: ⌈devices to change / 2⌉). The LP is fractional and
  pools nodes per type, so these are estimates, not a plan;
- the LP's optimum is not unique, so also the *fewest* devices to change over every LP solution that
  reaches 25 / 50 / 100% of (LP − run) (:func:`_closest`): a move changes the configuration of at most two
  devices (a multi-GPU pod's: more), so half of it estimates the fewest migrations from below, for the
  device layouts alone (CPU and memory are pooled per type, so a move that only shifts CPU is not counted).

    python bench/bench_replay_dynamic_layouts.py [--runs cpu050:10000,gpushare40:30000] [--seeds 0-4]
        [--policy packer] [--arm rebalanced|plain] [--at 0,0.5,0.9] [--workers 2] [--out bench/replay_dynamic_layouts]
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
import scipy.sparse as sp
from scipy.optimize import linprog

from packer.replay.deferral import ClusterView, make_deferral_stream, replay_deferral, saturation_time
from packer.replay.dynbound import _configs, _shape_columns, state_limits, state_lp
from packer.replay.openb import read_nodes, read_pods
from packer.replay.protocol import parse_seeds
from packer.replay.rebalance import Rebalancer

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"
TINY = 200


@cache
def _load(workload: str):  # type: ignore[no-untyped-def]
    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    return cluster, read_pods(TRACES / f"openb_pod_list_{workload}.csv", cluster)


def _run_layouts(view: ClusterView, cluster: Any, type_of: np.ndarray) -> tuple[Counter, np.ndarray, np.ndarray]:
    """The run's device configurations per (type, config), GPU milli and CPU used per type."""
    p = view.pods
    per_dev: dict[tuple[int, int], list[int]] = {}
    for i, (n, m) in view.running.items():
        milli = int(p.gpu_milli[i])
        if milli > TINY:
            for d in range(8):
                if m >> d & 1:
                    per_dev.setdefault((n, d), []).append(milli)
    cnt: Counter = Counter()
    for n in range(cluster.num_nodes):
        for d in range(int(cluster.gpus[n])):
            cnt[(int(type_of[n]), tuple(sorted(per_dev.get((n, d), []))))] += 1
    n_t = int(type_of.max()) + 1
    valid = np.arange(8)[None, :] < cluster.gpus[:, None]
    used_gpu = np.bincount(type_of, weights=(np.where(valid, 1000 - view.idle, 0)).sum(axis=1), minlength=n_t)
    used_cpu = np.bincount(type_of, weights=cluster.cpu - view.free_cpu, minlength=n_t)
    return cnt, used_gpu, used_cpu


def _closest(lp: Any, lo: np.ndarray, hi: np.ndarray, run_k: np.ndarray, n_x: int,
             target: float) -> tuple[float, np.ndarray, np.ndarray] | None:
    """The fewest devices whose configuration must change (Σ over (type, configuration) of max(0, run − LP))
    over every LP solution that places at least ``target`` GPU milli: the state LP with e ≥ run − z added and
    Σ e minimised (a lower estimate for reaching ``target`` by moving pods; fractional). Returns Σ e, the
    configuration counts z and the (shape, type) counts x of that solution."""
    n_var = lp.A.shape[1]
    n_z = len(run_k)
    nz = sp.csr_matrix((np.full(n_z, -1.0), (np.arange(n_z), n_x + np.arange(n_z))), shape=(n_z, n_var))
    A = sp.vstack([sp.hstack([lp.A, sp.csr_matrix((lp.A.shape[0], n_z))]),
                   sp.hstack([nz, -sp.identity(n_z, format="csr")]),
                   sp.hstack([sp.csr_matrix(lp.c.reshape(1, -1)), sp.csr_matrix((1, n_z))])], format="csr")
    b = np.concatenate([-lo.astype(np.float64), hi.astype(np.float64), lp.b_fixed, -run_k, [-target]])
    c = np.concatenate([np.zeros(n_var), np.ones(n_z)])
    res = linprog(c, A_ub=A, b_ub=b, bounds=(0, None), method="highs")
    if res.status != 0:
        return None
    return float(res.fun), np.asarray(res.x[n_x:n_x + n_z]), np.asarray(res.x[:n_x])


def _job(args: tuple[str, float, str, str, int, list[float]]) -> dict[str, Any]:
    workload, k, policy, arm, seed, fracs = args
    cluster, pods = _load(workload)
    st = make_deferral_stream(pods, cluster, seed, 1.3, k)
    p = st.pods
    lp, shape_of, n_shapes = state_lp(cluster, p, TINY)
    types, count, s_cpu, _, s_num, s_milli, xs, xt = _shape_columns(cluster, p, shape_of, n_shapes, 1000, 4096)
    confs = _configs(sorted({int(m) for m in s_milli if m > TINY}))
    n_t, n_k, n_x = len(types), len(confs), len(xs)
    tkey = np.stack([cluster.cpu, cluster.mem, cluster.gpus, cluster.model], axis=1)
    type_of = np.array([int(np.flatnonzero((types == row).all(axis=1))[0]) for row in tkey.tolist()], np.int64)
    cap = cluster.capacity_milli
    t_sat = saturation_time(st, cap)
    marks = sorted(t_sat + f * (st.horizon - t_sat) for f in fracs)
    inner = (Rebalancer(cluster, budget=int(0.01 * len(p)), per_call=8, min_gain_per_move=1, pace_pct=1.0)
             if arm == "rebalanced" else None)
    looks: list[dict[str, Any]] = []

    def spy(view: ClusterView) -> Any:
        if marks and view.time >= marks[0]:
            marks.pop(0)
            lo, hi = state_limits(shape_of, n_shapes, view.running, view.waiting)
            sol = lp.solve_x(lo, hi)
            cnt, used_gpu, used_cpu = _run_layouts(view, cluster, type_of)
            if sol is not None:
                val, x = sol
                z = x[n_x:n_x + n_t * n_k].reshape(n_t, n_k)
                lp_gpu = np.bincount(xt, weights=x[:n_x] * s_num[xs] * s_milli[xs], minlength=n_t)
                lp_cpu = np.bincount(xt, weights=x[:n_x] * s_cpu[xs], minlength=n_t)
                run_k = np.zeros((n_t, n_k))
                cidx = {c: j for j, c in enumerate(confs)}
                for (t, c), v in cnt.items():
                    run_k[t, cidx[c]] += v
                excess = np.maximum(run_k - z, 0.0)
                size = np.array([len(c) for c in confs], np.float64)
                used = float(used_gpu.sum())
                closest, changes = {}, {}
                for g in (0.25, 0.5, 1.0):
                    sol_g = _closest(lp, lo, hi, run_k.ravel(), n_x, used + g * (val - used))
                    closest[str(g)] = None if sol_g is None else sol_g[0]
                    if sol_g is not None:
                        dz = sol_g[1].reshape(n_t, n_k) - run_k
                        big = np.argwhere(np.abs(dz) > 0.5)
                        order = np.argsort(-np.abs(dz[big[:, 0], big[:, 1]])) if len(big) else []
                        changes[str(g)] = [{"type": types[t].tolist(), "config": list(confs[j]),
                                            "lp_minus_run": float(dz[t, j])} for t, j in big[order][:12].tolist()]
                        gx = np.bincount(xt, weights=sol_g[2] * s_num[xs] * s_milli[xs], minlength=n_t)
                        changes[str(g) + "_type_gain_gpus"] = {str(types[t].tolist()): float(gx[t] - used_gpu[t]) / 1000
                                                                for t in range(n_t) if abs(gx[t] - used_gpu[t]) > 500}
                looks.append({
                    "time": view.time, "frac": (view.time - t_sat) / (st.horizon - t_sat),
                    "alloc_pct": 100.0 * float(used_gpu.sum()) / cap, "lp_pct": 100.0 * min(val, cap) / cap,
                    "waiting": len(view.waiting),
                    "devices_to_change": float(excess.sum()), "pods_on_them": float((excess * size).sum()),
                    "moves_low": float(np.ceil(excess.sum() / 2)),
                    "closest_devices_to_change": closest,
                    "closest_changes": changes,
                    "per_type": [{"type": types[t].tolist(), "nodes": int(count[t]),
                                  "run_gpu_pct": 100.0 * used_gpu[t] / (1000.0 * types[t][2] * count[t]),
                                  "lp_gpu_pct": 100.0 * lp_gpu[t] / (1000.0 * types[t][2] * count[t]),
                                  "run_cpu_pct": 100.0 * used_cpu[t] / (types[t][0] * count[t]),
                                  "lp_cpu_pct": 100.0 * lp_cpu[t] / (types[t][0] * count[t]),
                                  "gain_milli": float(lp_gpu[t] - used_gpu[t])} for t in range(n_t)],
                    "configs": sorted(({"config": list(confs[j]), "run": float(run_k[:, j].sum()),
                                        "lp": float(z[:, j].sum())} for j in range(n_k)
                                       if run_k[:, j].sum() > 0.5 or z[:, j].sum() > 0.5),
                                      key=lambda r: -abs(r["lp"] - r["run"])),
                })
        return inner(view) if inner is not None else None

    r = replay_deferral(cluster, pods, policy, seed, compress=k, stream=st, rebalance=spy, rebalance_every=20,
                        max_moves=8 if inner is not None else 1)
    return {"workload": workload, "compress": k, "policy": policy, "arm": arm, "seed": seed,
            "sat_avg_allocation_pct": r["sat_avg_allocation_pct"], "pods_migrated": r["pods_migrated"],
            "looks": looks}


def _summary(rows: list[dict[str, Any]]) -> str:
    out = []
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["workload"], r["compress"]), []).append(r)
    for (w, k), rs in groups.items():
        out.append(f"### {w}, K = {k:g} ({rs[0]['policy']} {rs[0]['arm']}, seeds {[r['seed'] for r in rs]})\n")
        out.append("| look (fraction of window) | alloc % | state LP % | LP − alloc | devices to change | "
                   "pods > 200 milli on them | moves, low estimate | fewest devices to change for 25 / 50 / 100% "
                   "of LP − alloc |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---|")
        n_looks = min(len(r["looks"]) for r in rs)
        for j in range(n_looks):
            def m(key: str, j: int = j) -> float:
                return float(np.mean([r["looks"][j][key] for r in rs]))  # noqa: B023
            out.append(f"| {m('frac'):.2f} | {m('alloc_pct'):.2f} | {m('lp_pct'):.2f} | "
                       f"{m('lp_pct') - m('alloc_pct'):+.2f} | {m('devices_to_change'):.0f} | "
                       f"{m('pods_on_them'):.0f} | {m('moves_low'):.0f} | "
                       + " / ".join(_fmt(np.mean([r["looks"][j]["closest_devices_to_change"][g] or np.nan for r in rs]))
                                    for g in ("0.25", "0.5", "1.0")) + " |")
        out.append("\nPer node type at the first look (seed means; GPU and CPU used, % of the type's capacity; "
                   "LP − run in GPU milli):\n")
        out.append("| type (cores, GiB, GPUs, model) | nodes | GPU % run / LP | CPU % run / LP | LP − run (GPUs) |")
        out.append("|---|---:|---:|---:|---:|")
        for t in range(len(rs[0]["looks"][0]["per_type"])):
            def pt(key: str, t: int = t) -> float:
                return float(np.mean([r["looks"][0]["per_type"][t][key] for r in rs]))  # noqa: B023
            ty = rs[0]["looks"][0]["per_type"][t]["type"]
            out.append(f"| {ty[0] // 1000}, {ty[1] // 1024}, {ty[2]}, {ty[3]} | {rs[0]['looks'][0]['per_type'][t]['nodes']} | "
                       f"{pt('run_gpu_pct'):.1f} / {pt('lp_gpu_pct'):.1f} | {pt('run_cpu_pct'):.1f} / {pt('lp_cpu_pct'):.1f} | "
                       f"{pt('gain_milli') / 1000:+.1f} |")
        agg: dict[tuple[int, ...], list[float]] = {}
        for r in rs:
            for c in r["looks"][0]["configs"]:
                a = agg.setdefault(tuple(c["config"]), [0.0, 0.0])
                a[0] += c["run"] / len(rs)
                a[1] += c["lp"] / len(rs)
        out.append("\nDevice configurations (pods > 200 milli on one device) at the first look, all types, seed means, "
                   "largest |LP − run| first:\n")
        out.append("| configuration | run devices | LP devices | LP − run |")
        out.append("|---|---:|---:|---:|")
        for c, (a, b) in sorted(agg.items(), key=lambda kv: -abs(kv[1][1] - kv[1][0]))[:14]:
            out.append(f"| {'+'.join(map(str, c)) or 'empty'} | {a:.1f} | {b:.1f} | {b - a:+.1f} |")
        out.append("")
    return "\n".join(out)


def _fmt(v: float) -> str:
    return "-" if np.isnan(v) else f"{v:.0f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="cpu050:10000,gpushare40:30000")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--policy", default="packer")
    ap.add_argument("--arm", default="rebalanced")
    ap.add_argument("--at", default="0,0.5,0.9")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "bench" / "replay_dynamic_layouts"))
    a = ap.parse_args()
    fracs = [float(f) for f in a.at.split(",")]
    jobs = [(w, float(k), a.policy, a.arm, s, fracs) for w, k in (x.split(":") for x in a.runs.split(","))
            for s in parse_seeds(a.seeds)]
    with ProcessPoolExecutor(max_workers=a.workers) as ex:
        rows = list(ex.map(_job, jobs))
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    text = _summary(rows)
    out.with_suffix(".md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
