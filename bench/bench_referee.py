"""Deterministic figures that a refactoring of the back ends must leave unchanged (issue 19's referee).

Greedy objectives on every suite family at ``--nodes 8`` and ``128`` (seed 0), the online placer's
too, and CP-SAT plans with one worker (reproducible: CP-SAT stops by deterministic time) on haein
at 64 GPUs and two suite families at ``--nodes 8``, each as its objective, bound and a digest of its
assignments. Run before and after a change and compare the two JSON files::

    python bench/bench_referee.py --json before.json
    python bench/bench_referee.py --json after.json && diff before.json after.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

from packer.check import check
from packer.dispatch import solve
from packer.generate import SUITE, generate
from packer.model import Instance, Plan


def digest(plan: Plan) -> str:
    """A short hash of the plan's assignments (request → units), independent of timings."""
    rows = sorted((a.request, [u.model_dump_json() for u in a.units]) for a in plan.assignments)
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def figure(inst: Instance, plan: Plan) -> dict[str, object]:
    """Objective, bound, digest and validity of one plan."""
    return {"objective": round(plan.objective, 6),
            "bound": None if plan.bound is None else round(plan.bound, 6),
            "digest": digest(plan), "valid": check(inst, plan).ok}


def main(argv: list[str] | None = None) -> int:
    """Prints (and with ``--json`` writes) the referee figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--nodes", type=int, nargs="+", default=[8, 128])
    ap.add_argument("--cpsat-limit", type=float, default=10.0)
    args = ap.parse_args(argv)
    out: dict[str, object] = {}
    for nodes in args.nodes:
        for fam in SUITE:
            inst = generate(fam, 0, nodes=nodes)
            for name in ("greedy", "online"):
                plan = solve(inst, solver=name, seed=0)
                out[f"{name}/{fam}/n{nodes}"] = figure(inst, plan)
                print(f"{name}/{fam}/n{nodes}", out[f"{name}/{fam}/n{nodes}"], flush=True)
    for fam in ("haein", "tenants", "fragmented"):
        inst = generate(fam, 0, nodes=8)
        plan = solve(inst, solver="cpsat", seed=0, workers=1, time_limit=args.cpsat_limit)
        out[f"cpsat-w1/{fam}/n8"] = figure(inst, plan)
        print(f"cpsat-w1/{fam}/n8", out[f"cpsat-w1/{fam}/n8"], flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
