"""Greedy with and without node caps for node-isolated tenants (session 15), same process, same instances.

A node a node-isolated tenant holds is closed to every other tenant, so idle room left there is lost
to them. The greedy now tries the same construction with such a tenant held to fewer nodes when its
idle room adds up to whole nodes while others wait (``greedy.CAP_ROUNDS`` rounds, replayed up to
where the cap bites; kept only when better). This prints each instance's greedy objective with
``CAP_ROUNDS = 0`` and with the default, the construction kept, the time of each, and totals::

    python bench/bench_greedy_caps.py --families all --nodes 128 --seeds 0-4,100-104
    python bench/bench_greedy_caps.py --families haein,inference --nodes 2048 --seeds 100

Objectives are deterministic; times move with the machine's load. With ``--cpsat S`` each instance is
solved instead by ``packer.solve(..., solver="cpsat", time_limit=S, workers=W)``, whose hint runs
the greedy, once with caps off and once on (interleaved, same process), printing objective, bound
and gap::

    python bench/bench_greedy_caps.py --families inference,tenants --nodes 128 --seeds 100,101 --cpsat 60 --workers 2
"""

from __future__ import annotations

import argparse
import os
import time

import packer
from packer.check import check
from packer.generate import SUITE, generate
from packer.greedy import solver as greedy
from packer.replay.protocol import parse_seeds


def _gap(plan) -> float:  # type: ignore[no-untyped-def]
    return 100.0 * (plan.bound - plan.objective) / plan.bound if plan.bound else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--families", default="all")
    ap.add_argument("--nodes", default="128")
    ap.add_argument("--seeds", default="0-4,100-104")
    ap.add_argument("--cpsat", type=float, default=None, help="time limit of a cpsat solve per arm")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    fams = list(SUITE) if args.families == "all" else args.families.split(",")
    rounds = greedy.CAP_ROUNDS
    total = wins = losses = 0.0
    for nodes in (int(n) for n in args.nodes.split(",")):
        for fam in fams:
            for seed in parse_seeds(args.seeds):
                inst = generate(fam, seed=seed, nodes=nodes)
                row = []
                for r in (0, rounds):
                    greedy.CAP_ROUNDS = r
                    t = time.perf_counter()
                    if args.cpsat is None:
                        plan = greedy.solve(inst)
                    else:
                        plan = packer.solve(inst, solver="cpsat", time_limit=args.cpsat, workers=args.workers)
                    row.append((plan, time.perf_counter() - t))
                greedy.CAP_ROUNDS = rounds
                (off, t_off), (on, t_on) = row
                assert check(inst, on).ok, f"{inst.name}: invalid plan"
                d = on.objective - off.objective
                total += d
                wins += d > 1e-6
                losses += d < -1e-6
                what = (f"[{on.solver.construction}]" if args.cpsat is None else
                        f"bound {off.bound:.2f} / {on.bound:.2f}, gap {_gap(off):.2f} / {_gap(on):.2f}%, "
                        f"load {os.getloadavg()[0]:.1f}")
                print(f"{fam:12s} {nodes:5d} {seed:4d}  {off.objective:10.2f} -> {on.objective:10.2f} {d:+8.2f}  "
                      f"{t_off:6.1f}s {t_on:6.1f}s  {what}", flush=True)
    print(f"total {total:+.2f}, wins {int(wins)}, losses {int(losses)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
