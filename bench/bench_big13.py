"""Session 13 (branch big13): where the gap of a 16,384-GPU CP-SAT solve comes from.

Run: python bench/bench_big13.py diag --family inference --nodes 2048 --seed 0 --time-limit 300 [--out F.jsonl]
     python bench/bench_big13.py lns --family inference --nodes 2048 --seed 0 --arms old,value,new --domains 16 --rounds 2 --det 0.35
     python bench/bench_big13.py lns --family inference --seed 0 --arms old,new,new,old --domains 16 --wall 35
``lns``: a deterministic (or, with ``--wall``, a wall-clock) A/B of the LNS by domain's offer rules (see :func:`lns`).
Generates the instance in-process, solves it with CP-SAT (``--workers 2``), checks the plan, and prints
one JSON line: objective, bound, gap, which relaxation answered and when, the hint, the LNS-by-domain
statistics (sub-problems run / improved / solved to optimality, gain, seconds), what waits by kind
(MIG profile or slices, whole-GPU count, share milli) with its value, and the idle room (free GPUs,
free MIG slices, free share milli) by pod.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter, defaultdict

from packer.check import check
from packer.generate import generate


def _kind(r) -> str:  # type: ignore[no-untyped-def]
    if r.kind == "mig":
        return f"mig:{r.profile or str(r.slices) + 's'}"
    if r.kind == "gpu":
        return f"gpu:x{r.count}" + (f"@{r.locality.level}" if r.locality else "")
    if r.kind == "share":
        return f"share:{(r.gpu_milli or 0) // 100 * 100}"
    return r.kind


def waiting(inst, plan) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Value and count of waiting requests by kind (value = priority × GPU-equivalents asked)."""
    placed = {a.request for a in plan.assignments}
    val: dict[str, float] = defaultdict(float)
    cnt: Counter[str] = Counter()
    for r in inst.requests:
        if r.id in placed or r.kind == "host":
            continue
        k = _kind(r)
        cnt[k] += 1
        val[k] += r.priority * r.need_count * _unit_gpu(inst, r)
    top = sorted(val, key=lambda k: -val[k])[:12]
    return {k: [cnt[k], round(val[k], 2)] for k in top}


def _unit_gpu(inst, r) -> float:  # type: ignore[no-untyped-def]
    if r.kind == "gpu":
        return 1.0
    if r.kind == "share":
        return (r.gpu_milli or 0) / 1000
    if r.kind == "mig":
        return (r.slices or 1) / 7 if r.profile is None else float(int(r.profile.split("g")[0])) / 7
    return 0.0


def idle(inst, plan) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Idle room: GPUs with no work, and GPU-equivalents unused on partly used GPUs."""
    used: dict[tuple[str, int], float] = defaultdict(float)
    for a in plan.assignments:
        r = inst.request(a.request)
        for u in a.units:
            if r.kind == "host":
                continue
            used[(u.node, u.gpu)] += float(inst.unit_size(r, u))
    free_gpus = 0
    partial = 0.0
    for n in inst.nodes:
        for g in range(n.num_gpus):
            x = used.get((n.id, g), 0.0)
            if x <= 1e-9:
                free_gpus += 1
            else:
                partial += max(0.0, 1.0 - x)
    return {"free_gpus": free_gpus, "partial_idle_gpu_eq": round(partial, 2)}


def diag(args) -> None:  # type: ignore[no-untyped-def]
    from packer.cpsat import decompose
    from packer.cpsat.solver import solve

    if args.arm:  # old: the LNS by domain before session 13; new: this branch's defaults
        decompose.BY_VALUE = args.arm != "old"
        decompose.OFFER_RULE = "rank" if args.arm == "old" else "fit"
    inst = generate(args.family, seed=args.seed, nodes=args.nodes)
    t0 = time.perf_counter()
    plan = solve(inst, time_limit=args.time_limit, workers=args.workers, seed=0)
    wall = time.perf_counter() - t0
    ok = check(inst, plan).ok
    info = dict(plan.solver.model_extra or {})
    out = {"family": args.family, "seed": args.seed, "nodes": args.nodes, "objective": round(plan.objective, 2),
           "bound": None if plan.bound is None else round(plan.bound, 2), "wall_s": round(wall, 1), "ok": ok,
           "gap_pct": None if not plan.bound else round(100 * (plan.bound - plan.objective) / plan.bound, 2),
           "load": os.getloadavg()[0], "hint": info.get("hint"), "hint_objective": info.get("hint_objective"),
           "relaxed_bound": info.get("relaxed_bound"), "decomposed": info.get("decomposed"),
           "waiting": waiting(inst, plan), "idle": idle(inst, plan), "label": args.label, "arm": args.arm,
           "by_value": decompose.BY_VALUE, "offer_rule": decompose.OFFER_RULE}
    _emit(args, out)


def _hinted(family: str, seed: int, nodes: int):  # type: ignore[no-untyped-def]
    """The instance and its greedy plan (the hint of the 16k solves), cached under /tmp by family/size/seed."""
    import pickle
    import tempfile
    from pathlib import Path

    from packer.greedy.solver import solve as greedy

    path = Path(tempfile.gettempdir()) / f"big13_{family}{nodes}_{seed}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    inst = generate(family, seed=seed, nodes=nodes)
    plan = greedy(inst)
    path.write_bytes(pickle.dumps((inst, plan)))
    return inst, plan


def lns(args) -> None:  # type: ignore[no-untyped-def]
    """Deterministic A/B of LNS by domain: the same domains, one worker, a fixed deterministic budget
    per sub-problem, from the greedy plan; one JSON line per arm (gain over the greedy, sub-problems improved)."""
    from packer.cpsat import decompose
    from packer.cpsat.search import solve_monolithic
    from packer.plans import objective_value

    inst, hint = _hinted(args.family, args.seed, args.nodes)
    domains = sorted(inst.cluster_topology.domains(decompose.coarsest_level(inst)))
    only = domains[::max(1, len(domains) // args.domains)][:args.domains]
    incumbent = {a.request: list(a.units) for a in hint.assignments}
    base = objective_value(inst, incumbent)

    workers = 1 if args.wall is None else args.workers

    def solve_sub(sub, sub_hint, budget, sub_det):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        return solve_monolithic(sub, sub_hint, seed=0, workers=workers, start=t0,
                                left=lambda: budget - (time.perf_counter() - t0), info={}, lp=False, det=sub_det)

    for arm in args.arms.split(","):
        # old: domains in name order, equal shares, offers by rank; value: most idle room first with
        # SUB_MIN_S each (wall runs only: under --det the order and shares stay), offers by rank; new: value
        # + offers the domain could serve ("fit"); dense: fit ordered by GPU per host share within a priority.
        decompose.OFFER_RULE = {"fit": "fit", "new": "fit", "dense": "dense", "densevalue": "dense"}.get(arm, "rank")
        decompose.BY_VALUE = arm in ("value", "new", "densevalue")
        t0 = time.perf_counter()
        wall = 3600.0 if args.wall is None else args.wall
        placed, stats = decompose.lns_by_domain(inst, incumbent, deadline=time.perf_counter() + wall,
                                                solve_sub=solve_sub, rounds=args.rounds, only=only,
                                                det=None if args.wall is not None else args.det * len(only) * args.rounds)
        value = objective_value(inst, placed)
        out = {"mode": "lns", "family": args.family, "seed": args.seed, "nodes": args.nodes, "arm": arm,
               "domains": len(only), "rounds": args.rounds, "det_per_sub": args.det, "wall": args.wall, "greedy": round(base, 3),
               "objective": round(value, 3), "gain": round(value - base, 3), "stats": stats,
               "wall_s": round(time.perf_counter() - t0, 1), "load": os.getloadavg()[0]}
        _emit(args, out)


def _emit(args, out: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    """Prints one result line and appends it to ``--out`` when given (bench_big14 uses it too)."""
    line = json.dumps(out)
    print(line, flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(line + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["diag", "lns"])
    ap.add_argument("--arms", default="old,new", help="old, value, fit, new (see lns)")
    ap.add_argument("--domains", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--det", type=float, default=1.0, help="deterministic seconds per sub-problem of the old rule; every arm gets det x domains x rounds in all")
    ap.add_argument("--family", required=True)
    ap.add_argument("--nodes", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--label", default="")
    ap.add_argument("--arm", choices=["old", "new"], help="diag: the LNS by domain's rules (default: as the code is)")
    ap.add_argument("--wall", type=float, help="lns: wall seconds per arm (CP-SAT with --workers, as the solver "
                    "runs it) instead of the deterministic budget")
    ap.add_argument("--out")
    args = ap.parse_args()
    (diag if args.mode == "diag" else lns)(args)


if __name__ == "__main__":
    main()
