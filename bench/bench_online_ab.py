"""A/B of one online-placer module parameter (``packer.online.state.NAME``), same process, same
instances: the ``packer`` policy with and without the forecast against first-fit in the same order.

    python bench/bench_online_ab.py --param EMPTY_WEIGHT=500 --nodes 8,128 --seeds 0-4
    python bench/bench_online_ab.py --param EMPTY_WEIGHT=500 --nodes 8,128 --seeds 100-109 --forecast

Arm A sets the parameter, arm B keeps its default. Per instance: first-fit's objective, each arm's
(no forecast: a scheduler calling ``OnlinePlacer.place`` request by request; with ``--forecast``
also the default ``packer solve --solver online``, which knows the batch). Totals at the end: the sum
of A − B, wins / losses, and the instances more than 1% below first-fit in each arm. Every plan goes
through ``packer check``. Deterministic (objectives only).
"""

from __future__ import annotations

import argparse
import ast

from packer.check import check
from packer.dispatch import solve
from packer.generate import SUITE, generate
from packer.online import state
from packer.replay.protocol import parse_seeds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--param", required=True, help="NAME=VALUE of arm A (a Python literal)")
    ap.add_argument("--families", default="all")
    ap.add_argument("--nodes", default="8,128")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--forecast", action="store_true", help="also the default online solve (with the forecast)")
    args = ap.parse_args()
    name, _, text = args.param.partition("=")
    if not hasattr(state, name):
        raise SystemExit(f"packer.online.state has no parameter {name!r}")
    value, default = ast.literal_eval(text), getattr(state, name)
    fams = list(SUITE) if args.families == "all" else args.families.split(",")
    modes = [("nofc", {"forecast": False})] + ([("fc", {})] if args.forecast else [])
    tot = {m: [0.0, 0, 0, 0, 0] for m, _ in modes}  # sum A-B, wins, losses, A below ff, B below ff
    print(f"A: {name} = {value!r}   B: {name} = {default!r}")
    for nodes in (int(n) for n in args.nodes.split(",")):
        for fam in fams:
            for seed in parse_seeds(args.seeds):
                inst = generate(fam, seed=seed, nodes=nodes)
                ff = check(inst, solve(inst, "online", policy="first-fit")).objective
                line = f"{fam:12s} {nodes * 8:6d} {seed:4d} ff {ff:9.2f}"
                for mode, opts in modes:
                    obj = []
                    for v in (value, default):
                        setattr(state, name, v)
                        try:
                            rep = check(inst, solve(inst, "online", **opts))
                        finally:
                            setattr(state, name, default)
                        assert rep.ok, f"{inst.name}: invalid plan"
                        obj.append(rep.objective)
                    a, b = obj
                    t = tot[mode]
                    t[0] += a - b
                    t[1] += a > b + 1e-6
                    t[2] += a < b - 1e-6
                    t[3] += a < 0.99 * ff
                    t[4] += b < 0.99 * ff
                    line += f"  {mode} {a:9.2f} / {b:9.2f} {a - b:+7.2f} ({100 * (a / ff - 1) if ff else 0:+.2f}% / {100 * (b / ff - 1) if ff else 0:+.2f}%)"
                print(line, flush=True)
    for mode, t in tot.items():
        print(f"{mode}: A - B {t[0]:+.2f}, wins {t[1]}, losses {t[2]}; > 1% below first-fit: A {t[3]}, B {t[4]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
