"""Benchmarks of packer on Ray (not a unit test): how the decomposed CP-SAT solve scales, and a huge solve.

    python bench/bench_ray.py scaling --family xl --seed 0 --widths 1 2 --sub-det 0.5 --rounds 1
    python bench/bench_ray.py solve /tmp/h16384.json --time-limit 600

``scaling`` times, in one run, the parts of a decomposed solve of one instance: the hint (greedy and
online placers), the relaxation's LP bound, then the same LNS rounds (every pod a sub-problem with a
fixed deterministic CP-SAT budget, one core each) on a local Ray with 1, 2, ... tasks at a time. The
work is identical for every width (the test suite proves the merged plans equal; this script checks
it again), so the wall-time ratio is the scaling. Every merged plan passes ``check()``.

``solve`` runs ``packer.cpsat.solve(..., ray_address=...)`` on an instance file, checks the plan and
prints objective, bound, gap, the decomposition's counters and where the time went. Both print the
load average beside the figures: on a shared machine wall times depend on it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

from packer.check import check
from packer.model import Instance, Plan


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f} on {os.cpu_count()} cores"


def _checked(inst: Instance, plan: Plan) -> float:
    t = time.perf_counter()
    rep = check(inst, plan)
    assert rep.ok, [(v.kind, v.message) for v in rep.violations][:5]
    assert abs(rep.objective - plan.objective) <= 1e-6 * max(1.0, plan.objective)
    return time.perf_counter() - t


def _plan_of(inst: Instance, placed) -> Plan:  # type: ignore[no-untyped-def]
    from packer.cpsat.reasons import unplaced_reasons
    from packer.cpsat.result import modes_of as _modes_of
    from packer.plans import build_plan

    modes = _modes_of(inst, placed)
    return build_plan(inst, solver="cpsat", placed=placed, unplaced=unplaced_reasons(inst, placed, modes),
                      gpu_modes=modes, seed=0, wall_s=0.0, status="feasible")


class _Timed:
    """A sub-problem task that also reports the CPU seconds it used (the load-independent cost)."""

    def __init__(self, task) -> None:  # type: ignore[no-untyped-def]
        self.task = task

    def __call__(self, job):  # type: ignore[no-untyped-def]
        c = time.process_time()
        plan = self.task(job)
        return plan, time.process_time() - c


def scaling(args: argparse.Namespace) -> dict[str, object]:
    """One instance's hint and bound, then the same LNS rounds at each width; returns the figures."""
    import ray

    from packer.cpsat.decompose import coarsest_level, lns_by_domain_parallel
    from packer.cpsat.hints import hint_plan
    from packer.cpsat.proof import relaxed_bound
    from packer.cpsat.search import SubTask
    from packer.cpsat.timeplan import relaxation_choice
    from packer.generate import generate
    from packer.parallel import LOCAL, TaskPool, _import

    out: dict[str, object] = {"family": args.family, "seed": args.seed, "nodes": args.nodes,
                              "sub_det": args.sub_det, "rounds": args.rounds, "load_start": _load()}
    t = time.perf_counter()
    inst = generate(args.family, args.seed, nodes=args.nodes)
    out.update(instance=inst.name, gpus=inst.num_gpus, requests=len(inst.requests),
               generate_s=round(time.perf_counter() - t, 2))
    print(f"# {inst.name}: {inst.num_gpus} GPUs, {len(inst.requests)} requests ({out['generate_s']} s); {_load()}",
          flush=True)
    t = time.perf_counter()
    hint = hint_plan(inst, args.seed, None)
    assert hint is not None
    out.update(hint=hint.solver.name, hint_objective=hint.objective, hint_s=round(time.perf_counter() - t, 2))
    print(f"hint {hint.solver.name} {hint.objective:.2f} in {out['hint_s']} s", flush=True)
    if args.bound:
        choice = relaxation_choice(inst, None)
        t = time.perf_counter()
        bound = None if choice is None else relaxed_bound(inst, choice.level, typed=choice.typed,
                                                             prepared=(choice.relaxation, choice.data))
        out.update(bound=bound, bound_relaxation=choice[:2] if choice else None,
                   bound_s=round(time.perf_counter() - t, 2))
        print(f"bound {bound} ({choice[:2] if choice else None}) in {out['bound_s']} s", flush=True)
    start = {a.request: list(a.units) for a in hint.assignments}
    level = coarsest_level(inst)
    domains = len({inst.domain(n, level) for n in inst.nodes})
    task = _Timed(SubTask(seed=args.seed, workers=1, params=None))
    ray.init(num_cpus=max(args.widths), include_dashboard=False, object_store_memory=256 * 1024 * 1024,
             log_to_driver=False, logging_level="WARNING")
    runs = []
    try:
        for width in args.widths:
            with TaskPool(LOCAL, max_parallel=width) as pool:
                pool.map(_import, [("packer.cpsat",)] * width)  # warm worker processes, untimed
                walls: list[float] = []
                cpus: list[float] = []

                def batch(jobs, timeout, pool=pool, walls=walls, cpus=cpus):  # type: ignore[no-untyped-def]
                    done = pool.map(task, jobs, timeout=timeout)
                    walls.extend(d[0].solver.wall_s for d in done if d is not None)
                    cpus.extend(d[1] for d in done if d is not None)
                    return [None if d is None else d[0] for d in done]

                t = time.perf_counter()
                placed, stats = lns_by_domain_parallel(inst, start, deadline=time.perf_counter() + 3600,
                                                       solve_batch=batch, parallel=width, rounds=args.rounds,
                                                       det=args.sub_det * domains * args.rounds)
                wall = time.perf_counter() - t
            plan = _plan_of(inst, placed)
            check_s = _checked(inst, plan)
            row = {"width": width, "wall_s": round(wall, 2), **stats, "objective": plan.objective,
                   "sub_wall_mean_s": round(sum(walls) / max(1, len(walls)), 3),
                   "sub_wall_max_s": round(max(walls, default=0.0), 3), "sub_wall_sum_s": round(sum(walls), 2),
                   "sub_cpu_mean_s": round(sum(cpus) / max(1, len(cpus)), 3), "sub_cpu_sum_s": round(sum(cpus), 2),
                   "check_s": round(check_s, 2), "load": _load(), "placed": placed}
            runs.append(row)
            print(f"width {width}: {wall:.1f} s (build {stats['build_s']} s, solve {stats['solve_s']} s, "
                  f"merge {stats['merge_s']} s), objective {plan.objective:.2f}, sub-problems "
                  f"{stats['subproblems']} mean {row['sub_wall_mean_s']} s max {row['sub_wall_max_s']} s "
                  f"(CPU mean {row['sub_cpu_mean_s']} s); {_load()}",
                  flush=True)
    finally:
        ray.shutdown()
    same = all(r["placed"] == runs[0]["placed"] for r in runs)
    for r in runs:
        del r["placed"]
    out["runs"] = runs
    out["same_plan_at_every_width"] = same
    base = runs[0]["wall_s"]
    out["speedup"] = {str(r["width"]): round(base / r["wall_s"], 3) for r in runs}  # type: ignore[operator]
    out["solve_speedup"] = {str(r["width"]): round(runs[0]["solve_s"] / r["solve_s"], 3) for r in runs}  # type: ignore[operator]
    print(f"same plan at every width: {same}; LNS speed-up {out['speedup']}, of the Ray part {out['solve_speedup']}")
    return out


def solve(args: argparse.Namespace) -> dict[str, object]:
    """A CP-SAT solve of an instance file on Ray, checked; returns the figures."""
    import packer.cpsat.solver as cpsat
    from packer.formats import load_instance

    out: dict[str, object] = {"instance_file": args.instance, "time_limit": args.time_limit,
                              "workers": args.workers, "load_start": _load()}
    t = time.perf_counter()
    inst = load_instance(args.instance)
    out.update(instance=inst.name, gpus=inst.num_gpus, requests=len(inst.requests),
               load_s=round(time.perf_counter() - t, 2))
    print(f"# {inst.name}: {inst.num_gpus} GPUs, {len(inst.requests)} requests (read in {out['load_s']} s); {_load()}",
          flush=True)
    t = time.perf_counter()
    plan = cpsat.solve(inst, time_limit=args.time_limit, seed=args.seed, workers=args.workers,
                       ray_address=args.ray_address)
    wall = time.perf_counter() - t
    check_s = _checked(inst, plan)
    gap = None if plan.bound is None else (plan.bound - plan.objective) / plan.bound
    info = dict(plan.solver.model_extra or {})
    out.update(status=plan.status, objective=plan.objective, bound=plan.bound, gap=gap, wall_s=round(wall, 2),
               check_s=round(check_s, 2), utilization=plan.metrics.get("utilization"),
               solver_info={k: v for k, v in info.items() if k in ("hint", "relaxed_bound", "decomposed", "from_hint")},
               max_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
               load_end=_load())
    print(f"{plan.status}: objective {plan.objective:.2f}, bound {plan.bound}, gap "
          f"{'-' if gap is None else f'{100 * gap:.2f} %'}, {wall:.1f} s (check {check_s:.1f} s); "
          f"{json.dumps(out['solver_info'])}; driver RSS {out['max_rss_mib']} MiB; {_load()}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("scaling")
    p.add_argument("--family", default="xl")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nodes", type=int, default=None)
    p.add_argument("--widths", type=int, nargs="+", default=[1, 2])
    p.add_argument("--sub-det", type=float, default=0.5, help="CP-SAT deterministic time per sub-problem")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--bound", action="store_true", help="also time the relaxation's LP bound (serial part)")
    p.add_argument("--json", default=None, help="write the figures here")
    p = sub.add_parser("solve")
    p.add_argument("instance")
    p.add_argument("--time-limit", type=float, default=600.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--ray-address", default="local")
    p.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()
    out = scaling(args) if args.what == "scaling" else solve(args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
