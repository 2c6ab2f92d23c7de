"""Benchmark of the CP-SAT back end against the greedy and online placers (not a unit test).

    python bench/bench_cpsat.py FAMILY --seeds 0 1 2 --time-limits 1 10 60 --workers 2

For each generated instance it runs greedy, online and CP-SAT (once per time limit), asserts that
every plan passes ``check()``, and prints one row per run: objective, bound, gap and wall time.
"""

from __future__ import annotations

import argparse
import json
import time

from packer.check import check
from packer.generate import generate
from packer.model import Instance, Plan


def _run(name: str, fn, inst: Instance) -> tuple[Plan, float]:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    plan = fn(inst)
    wall = time.perf_counter() - t
    rep = check(inst, plan)
    assert rep.ok, f"{name} plan fails check: {[(v.kind, v.message) for v in rep.violations][:5]}"
    return plan, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("family")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--time-limits", type=float, nargs="+", default=[10.0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None, help="append one JSON line per run to this file")
    ap.add_argument("--no-baselines", action="store_true")
    args = ap.parse_args()

    from packer.cpsat import solve as cpsat_solve

    rows = []
    for seed in args.seeds:
        t = time.perf_counter()
        inst = generate(args.family, seed=seed)
        gen_s = time.perf_counter() - t
        print(f"# {inst.name}: {inst.num_gpus} GPUs, {len(inst.requests)} requests (generated in {gen_s:.1f}s)", flush=True)
        if not args.no_baselines:
            from packer.greedy.solver import solve as greedy_solve

            plan, wall = _run("greedy", lambda i, seed=seed: greedy_solve(i, seed=seed), inst)
            rows.append(_row(inst, "greedy", None, plan, wall))
            try:
                from packer.online.solver import solve as online_solve

                plan, wall = _run("online", lambda i, seed=seed: online_solve(i, seed=seed), inst)
                rows.append(_row(inst, "online", None, plan, wall))
            except ImportError:
                pass
        for tl in args.time_limits:
            plan, wall = _run("cpsat", lambda i, tl=tl, seed=seed: cpsat_solve(i, time_limit=tl, seed=seed, workers=args.workers), inst)
            assert wall <= tl + 0.5, f"cpsat ran {wall:.2f}s for a {tl}s limit"
            rows.append(_row(inst, "cpsat", tl, plan, wall))
    if args.json:
        with open(args.json, "a", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


def _row(inst: Instance, solver: str, tl: float | None, plan: Plan, wall: float) -> dict[str, object]:
    gap = None if plan.bound is None else max(0.0, plan.bound - plan.objective) / max(abs(plan.bound), 1e-9)
    row = {
        "instance": inst.name, "solver": solver, "time_limit": tl, "status": plan.status,
        "objective": round(plan.objective, 4), "bound": None if plan.bound is None else round(plan.bound, 4),
        "gap_pct": None if gap is None else round(100 * gap, 3), "wall_s": round(wall, 2),
        "utilization": plan.metrics.get("utilization"), "from_hint": plan.solver.model_extra.get("from_hint") if plan.solver.model_extra else None,
    }
    print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return row


if __name__ == "__main__":
    main()
