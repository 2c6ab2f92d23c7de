"""Session 14 (branch big14): what a 16,384-GPU solve's pod sub-problems are offered.

Run: python bench/bench_big14.py lns --family haein --seed 0 --arms fit,mix --domains 8 --det 1.0
     python bench/bench_big14.py diag --family haein --seed 0
``lns``: deterministic A/B of the LNS by domain's offer rules, from the greedy plan (cached under /tmp by
bench_big13's ``_hinted``), one worker, ``--det`` deterministic seconds per sub-problem, the same pods for
every arm; an arm is ``RULE`` or ``RULE:OFFER`` (e.g. ``fit:120``). The arms ``mix`` (offers interleaved by
request shape) and ``RULE/pin`` (``/pin`` off: new work crossing a pod's border free inside the pod) need
the code of commit 7a308a3, where they were measured (bench/RESULTS_suite.md, session 14); neither was kept. One JSON line per arm: gain over the
greedy, sub-problems improved / solved to optimality. ``diag``: what waits by shape and where the idle
room is in the greedy plan (free GPUs per node and mode, idle GPU-equivalents on partly used GPUs by mode,
nodes whose CPU is > 95 % used, placed requests and GPU-equivalents by the number of pods they touch).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_big13 import _emit, _hinted  # noqa: E402


def lns(args) -> None:  # type: ignore[no-untyped-def]
    from packer.cpsat import decompose
    from packer.cpsat.search import solve_monolithic
    from packer.plans import objective_value

    inst, hint = _hinted(args.family, args.seed, args.nodes)
    domains = sorted(inst.cluster_topology.domains(decompose.coarsest_level(inst)))
    only = domains[::max(1, len(domains) // args.domains)][:args.domains]
    incumbent = {a.request: list(a.units) for a in hint.assignments}
    base = objective_value(inst, incumbent)

    def solve_sub(sub, sub_hint, budget, sub_det):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        return solve_monolithic(sub, sub_hint, seed=0, workers=1, start=t0,
                                left=lambda: budget - (time.perf_counter() - t0), info={}, lp=False, det=sub_det)

    offer0 = decompose.OFFER
    for arm in args.arms.split(","):
        rule, _, offer = arm.partition(":")
        decompose.OFFER_RULE = rule
        decompose.OFFER = int(offer) if offer else offer0
        t0 = time.perf_counter()
        placed, stats = decompose.lns_by_domain(inst, incumbent, deadline=time.perf_counter() + 3600.0,
                                                solve_sub=solve_sub, rounds=args.rounds, only=only,
                                                det=args.det * len(only) * args.rounds)
        value = objective_value(inst, placed)
        _emit(args, {"mode": "lns", "family": args.family, "seed": args.seed, "nodes": args.nodes, "arm": arm,
                     "domains": len(only), "rounds": args.rounds, "det_per_sub": args.det, "greedy": round(base, 3),
                     "objective": round(value, 3), "gain": round(value - base, 3), "stats": stats,
                     "wall_s": round(time.perf_counter() - t0, 1), "load": os.getloadavg()[0]})
    decompose.OFFER = offer0


def diag(args) -> None:  # type: ignore[no-untyped-def]
    inst, plan = _hinted(args.family, args.seed, args.nodes)
    placed = {a.request: a.units for a in plan.assignments}
    tenants = inst.tenant_map
    wait: Counter[str] = Counter()
    value: dict[str, float] = defaultdict(float)
    for r in inst.requests:
        if r.id in placed:
            continue
        what = r.profile or (f"{r.slices}s" if r.slices else None) or (f"{r.gpu_milli}m" if r.gpu_milli else "")
        key = (f"{r.kind}:{what} x{r.count} p{r.priority} cpu{r.cpu_milli // 1000}"
               f" loc={r.locality.level if r.locality else '-'} spread={r.spread.level if r.spread else '-'}"
               f" iso={tenants[r.tenant].isolation if r.tenant in tenants else '-'}")
        wait[key] += 1
        value[key] += r.priority * r.need_count
    used: dict[tuple[str, int], float] = defaultdict(float)
    cpu: dict[str, int] = defaultdict(int)
    for rid, units in placed.items():
        r = inst.request(rid)
        for u in units:
            cpu[u.node] += r.cpu_milli
            if r.kind != "host" and u.gpu is not None:
                used[(u.node, u.gpu)] += float(inst.unit_size(r, u))
    free: Counter[str] = Counter()
    partial: dict[str, float] = defaultdict(float)
    cpu_bound = 0
    for n in inst.nodes:
        k = sum(1 for g in range(n.num_gpus) if used.get((n.id, g), 0.0) < 1e-9)
        free[f"{n.mode}:{k}"] += 1
        for g in range(n.num_gpus):
            x = used.get((n.id, g), 0.0)
            if 1e-9 < x < 1 - 1e-9:
                partial[n.gpu_mode(g)] += 1 - x
        cpu_bound += bool(n.cpu_milli) and cpu[n.id] > 0.95 * (n.cpu_milli or 0)
    level = inst.cluster_topology.levels[-2]
    pod = {n.id: n.domains.get(level) for n in inst.nodes}
    touch: Counter[int] = Counter()
    touch_ge: dict[int, float] = defaultdict(float)
    for rid, units in placed.items():
        r = inst.request(rid)
        k = len({pod[u.node] for u in units})
        touch[k] += 1
        touch_ge[k] += 0.0 if r.kind == "host" else sum(float(inst.unit_size(r, u)) for u in units)
    top = sorted(value, key=lambda k: -value[k])[:args.top]
    _emit(args, {"mode": "diag", "family": args.family, "seed": args.seed, "nodes": args.nodes,
                 "objective": round(plan.objective, 2), "waiting": {k: [wait[k], round(value[k], 2)] for k in top},
                 "nodes_by_mode_free_gpus": dict(sorted(free.items())),
                 "partial_idle_gpu_eq": {k: round(v, 1) for k, v in partial.items()}, "cpu_bound_nodes": cpu_bound,
                 "requests_by_pods_touched": dict(sorted(touch.items())),
                 "gpu_eq_by_pods_touched": {k: round(v, 1) for k, v in sorted(touch_ge.items())}})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["diag", "lns"])
    ap.add_argument("--arms", default="fit,mix", help="RULE[:OFFER], comma-separated (rank, fit, dense)")
    ap.add_argument("--domains", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--det", type=float, default=1.0, help="deterministic seconds per sub-problem")
    ap.add_argument("--family", required=True)
    ap.add_argument("--nodes", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--out")
    args = ap.parse_args()
    (diag if args.mode == "diag" else lns)(args)


if __name__ == "__main__":
    main()
