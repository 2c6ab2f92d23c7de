"""Is +3 points over FGD reachable in the dynamic replay (issue 17 part 4)? An upper bound on the saturated
window's time-averaged allocation (:func:`packer.replay.dynbound.window_bound`) beside FGD and packer.

    python bench/bench_replay_dynamic_bound.py [--seeds 100-104] [--workloads default,cpu050,gpushare40]
        [--compress 10000,30000] [--intervals 48] [--workers 2] [--runs bench/replay_dynamic.json]
        [--out bench/replay_dynamic_bound] [--reuse OLD.json]

Per (workload, K, seed) it replays fgd and packer plainly (the deferral protocol, as
bench/bench_replay_dynamic.py does; the rebalanced runs start their first migration only once a pod waits,
so they share the plain run's first wait) and records each run's first wait (the arrival of the first pod
that had to wait). The bound is then computed for the class of placers under which no pod of at most one
GPU that arrived before t_free waited (multi-GPU pods are free whenever they arrive: a whole-node pod waits
in every placer until a node empties), with any number of migrations:
- t_free = the earlier of fgd's and packer's first waits of such a pod (both runs, and their rebalanced
  runs, are in the class);
- the same with the weaker fluid-room relaxation (``configs=False``), to show what the configurations add;
- t_free = 0: every placer whatever it waits (a weaker bound);
- t_free = the saturation time t0 (nothing waited before the window), reported to show that this class is
  empty (the LP is infeasible: the demand in flight at t0 does not fit) where it is;
- every pod forced before the runs' first wait of any pod (multi-GPU pods included: a coarser class);
``--runs``: a bench_replay_dynamic.py JSON whose rebalanced packer runs (per seed) are shown beside.
Writes OUT.{json,md}; medians over seeds of each column and of each difference.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path
from statistics import median
from typing import Any

from packer.replay.deferral import make_deferral_stream, replay_deferral, saturation_time
from packer.replay.dynbound import window_bound
from packer.replay.openb import read_nodes, read_pods
from packer.replay.protocol import parse_seeds, typical_pods

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"


@cache
def _load(workload: str):  # type: ignore[no-untyped-def]
    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    return cluster, read_pods(TRACES / f"openb_pod_list_{workload}.csv", cluster)


def _job(args: tuple[str, float, int, int, dict[str, Any] | None]) -> dict[str, Any]:
    workload, k, seed, intervals, old = args
    cluster, pods = _load(workload)
    st = make_deferral_stream(pods, cluster, seed, 1.3, k)
    tp = typical_pods(pods)
    t0, T = saturation_time(st, cluster.capacity_milli), st.horizon
    out: dict[str, Any] = {"workload": workload, "compress": k, "seed": seed, "t0": t0, "horizon": T,
                           "intervals": intervals}
    for pol in ("fgd", "packer"):
        keys = (f"{pol}_sat", f"{pol}_first_wait", f"{pol}_first_wait_single", f"{pol}_wall_s")
        if old is not None:  # --reuse: the replays are deterministic
            out.update({x: old[x] for x in keys})
            continue
        t = time.perf_counter()
        r = replay_deferral(cluster, pods, pol, seed, compress=k, tp=tp, stream=st)
        out.update(zip(keys, (r["sat_avg_allocation_pct"], r["first_wait_s"], r["first_wait_single_s"],
                              time.perf_counter() - t), strict=True))

    def first(key: str) -> float:
        waits = [w for w in (out[f"fgd_{key}"], out[f"packer_{key}"]) if w is not None]
        return min(waits) if waits else T

    tf, tf_any = first("first_wait_single"), first("first_wait")
    out["t_free"], out["t_free_any"] = tf, tf_any
    multi = st.pods.num_gpu > 1
    t = time.perf_counter()
    for name, x, cfg, free in (("bound", tf, True, multi), ("bound_fluid", tf, False, multi),
                               ("bound_any", tf_any, True, None), ("bound_all", 0.0, True, None),
                               ("bound_t0", t0, True, multi)):
        b = window_bound(cluster, st.pods, st.arrival, st.duration, t0, T, x, intervals=intervals, configs=cfg,
                         always_free=free)
        out[name] = b["bound_pct"]
        if name == "bound":
            out["bound_intervals"] = b["interval_pct"]
    out["bound_wall_s"] = time.perf_counter() - t
    # how many pods the class frees: arrived in [t_free, T) against [t0, T)
    out["pods_free"] = int(((st.arrival >= tf) & (st.arrival < T)).sum())
    out["pods_in_window"] = int(((st.arrival >= t0) & (st.arrival < T)).sum())
    return out


def _fmt(x: float | None, sign: bool = False) -> str:
    if x is None:
        return "infeasible"
    return f"{x:+.2f}" if sign else f"{x:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="100-104")
    ap.add_argument("--workloads", default="default,cpu050,gpushare40")
    ap.add_argument("--compress", default="10000,30000")
    ap.add_argument("--intervals", type=int, default=48)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", default=str(ROOT / "bench" / "replay_dynamic.json"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "replay_dynamic_bound"))
    ap.add_argument("--reuse", default=None, metavar="OLD.json", help="take the replays (first waits, fgd and "
                    "packer window allocation) from an earlier output instead of replaying")
    a = ap.parse_args()
    prev: dict[tuple[str, float, int], dict[str, Any]] = {}
    if a.reuse:
        prev = {(r["workload"], r["compress"], r["seed"]): r for r in json.loads(Path(a.reuse).read_text())}
    jobs = [(w, float(k), s, a.intervals, prev.get((w, float(k), s))) for w in a.workloads.split(",")
            for k in a.compress.split(",") for s in parse_seeds(a.seeds)]
    rows = []
    with ProcessPoolExecutor(max_workers=a.workers) as ex:
        for r in ex.map(_job, jobs):
            rows.append(r)
            print(f"{r['workload']} K={r['compress']:g} seed {r['seed']}: t0 {r['t0']:.2f} t_free {r['t_free']:.2f} "
                  f"fgd {r['fgd_sat']:.2f} packer {r['packer_sat']:.2f} bound {_fmt(r['bound'])} "
                  f"(all placers {_fmt(r['bound_all'])}, t0 {_fmt(r['bound_t0'])}) ({r['bound_wall_s']:.0f} s)",
                  flush=True)
    reb: dict[tuple[str, float, int], float] = {}
    if a.runs and Path(a.runs).exists():
        for run in json.loads(Path(a.runs).read_text())["runs"]:
            if run["policy"] == "packer" and run["rebalance_every"]:
                for x in run["per_seed"]:
                    reb[(run["workload"], run["compress"], x["seed"])] = x["sat_avg_allocation_pct"]
    for r in rows:
        r["packer_rebalanced_sat"] = reb.get((r["workload"], r["compress"], r["seed"]))
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["| workload | K | t0 − t_free s (median) | fgd | packer | packer + rebalance | bound (t_free) | "
             "bound − fgd (per seed) | packer + rebalance − fgd | fluid-room bound (t_free) | "
             "bound, multi-GPU pods forced too (t0 − t_free s) | bound, every placer (t_free = 0) | "
             "bound, t_free = t0 |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["workload"], r["compress"]), []).append(r)

    def med(xs: list[float | None]) -> float | None:
        v = [x for x in xs if x is not None]
        return median(v) if len(v) == len(xs) and v else None

    for (w, k), rs in sorted(groups.items()):
        d = [None if r["bound"] is None else r["bound"] - r["fgd_sat"] for r in rs]
        dr = [None if r["packer_rebalanced_sat"] is None else r["packer_rebalanced_sat"] - r["fgd_sat"] for r in rs]
        lines.append(f"| {w} | {k:g} | {med([r['t0'] - r['t_free'] for r in rs]):.2f} | "
                     f"{_fmt(med([r['fgd_sat'] for r in rs]))} | {_fmt(med([r['packer_sat'] for r in rs]))} | "
                     f"{_fmt(med([r['packer_rebalanced_sat'] for r in rs]))} | {_fmt(med([r['bound'] for r in rs]))} | "
                     f"**{_fmt(med(d), True)}** ({' '.join(_fmt(x, True) for x in d)}) | {_fmt(med(dr), True)} | "
                     f"{_fmt(med([r['bound_fluid'] for r in rs]))} | {_fmt(med([r['bound_any'] for r in rs]))} "
                     f"({med([r['t0'] - r['t_free_any'] for r in rs]):.2f}) | "
                     f"{_fmt(med([r['bound_all'] for r in rs]))} | {_fmt(med([r['bound_t0'] for r in rs]))} |")
    table = "\n".join(lines)
    out.with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
