"""A/B of one greedy module parameter, same process, same instances (sessions 15-16).

Arm A sets ``packer.greedy.solver.NAME`` to the value given, arm B keeps its default; each instance
is solved by both, interleaved, and the line gives both objectives, the difference, the seconds of
each and the construction kept; totals at the end (wins / losses count B against A)::

    python bench/bench_greedy_ab.py --param CAP_ROUNDS=0 --families all --nodes 128 --seeds 0-4,100-104
    python bench/bench_greedy_ab.py --param MIG_FIT=False --families inference --nodes 2048 --seeds 100

Objectives are deterministic; times move with the machine's load. With ``--cpsat S`` each instance is
solved instead by ``packer.solve(..., solver="cpsat", time_limit=S, workers=W)``, whose hint runs the
greedy with the arm's value, printing objective, bound and gap. ``--idle`` adds the idle compute
slices of MIG GPUs holding work in each arm's plan.
"""

from __future__ import annotations

import argparse
import ast
import os
import time

import packer
from packer.check import check
from packer.generate import SUITE, generate
from packer.greedy import solver as greedy
from packer.replay.protocol import parse_seeds


def _gap(plan) -> float:  # type: ignore[no-untyped-def]
    return 100.0 * (plan.bound - plan.objective) / plan.bound if plan.bound else float("nan")


def idle_slices(inst, plan) -> int:  # type: ignore[no-untyped-def]
    """Compute slices no instance uses on the MIG GPUs that hold work in ``plan``."""
    used: dict[tuple[str, int], int] = {}
    for a in plan.assignments:
        for u in a.units:
            if u.profile:
                model = inst.gpu_catalog[inst.node(u.node).gpu_model]
                used[(u.node, u.gpu)] = used.get((u.node, u.gpu), 0) + model.profile(u.profile).compute
    return sum(inst.gpu_catalog[inst.node(n).gpu_model].compute_slices - k for (n, _), k in used.items())


def run(name: str, value: object, argv: list[str] | None = None) -> int:
    """The A/B of ``greedy.<name>`` = ``value`` (arm A) against its default (arm B)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--families", default="all")
    ap.add_argument("--nodes", default="128")
    ap.add_argument("--seeds", default="0-4,100-104")
    ap.add_argument("--cpsat", type=float, default=None, help="time limit of a cpsat solve per arm")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--idle", action="store_true", help="print idle MIG compute slices of each plan")
    args = ap.parse_args(argv)
    fams = list(SUITE) if args.families == "all" else args.families.split(",")
    default = getattr(greedy, name)
    total = wins = losses = 0.0
    print(f"A: {name} = {value!r}   B: {name} = {default!r}")
    for nodes in (int(n) for n in args.nodes.split(",")):
        for fam in fams:
            for seed in parse_seeds(args.seeds):
                inst = generate(fam, seed=seed, nodes=nodes)
                row = []
                try:
                    for v in (value, default):
                        setattr(greedy, name, v)
                        t = time.perf_counter()
                        if args.cpsat is None:
                            plan = greedy.solve(inst)
                        else:
                            plan = packer.solve(inst, solver="cpsat", time_limit=args.cpsat, workers=args.workers)
                        row.append((plan, time.perf_counter() - t))
                finally:
                    setattr(greedy, name, default)
                (a, t_a), (b, t_b) = row
                for plan in (a, b):
                    assert check(inst, plan).ok, f"{inst.name}: invalid plan"
                d = b.objective - a.objective
                total += d
                wins += d > 1e-6
                losses += d < -1e-6
                what = (f"[{a.solver.construction} / {b.solver.construction}]" if args.cpsat is None else
                        f"bound {a.bound:.2f} / {b.bound:.2f}, gap {_gap(a):.2f} / {_gap(b):.2f}%, "
                        f"load {os.getloadavg()[0]:.1f}")
                if args.idle:
                    what += f" idle {idle_slices(inst, a)} / {idle_slices(inst, b)}"
                print(f"{fam:12s} {nodes:5d} {seed:4d}  {a.objective:10.2f} -> {b.objective:10.2f} {d:+8.2f}  "
                      f"{t_a:6.1f}s {t_b:6.1f}s  {what}", flush=True)
    print(f"total {total:+.2f}, wins {int(wins)}, losses {int(losses)}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--param", required=True, help="NAME=VALUE of arm A (a Python literal)")
    known, rest = ap.parse_known_args()
    name, _, text = known.param.partition("=")
    if not hasattr(greedy, name):
        raise SystemExit(f"packer.greedy.solver has no parameter {name!r}")
    return run(name, ast.literal_eval(text), rest)


if __name__ == "__main__":
    raise SystemExit(main())
