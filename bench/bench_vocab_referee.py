"""Referee figures for the vocabulary refactor (issue 19 items 3 and 5): deterministic, so they must not move.

Run: python bench/bench_vocab_referee.py --out referee.json [--nodes 8,128] [--seeds 0-2] [--cpsat]
(``--families ""`` with ``--cpsat``: the CP-SAT rows only)

For every suite family × ``--nodes`` × seed: the greedy plan's objective, its placements (a hash of the
sorted assignments and GPU modes, reasons left out) and the number of unplaced requests. With
``--cpsat``, the CP-SAT plan with one worker on two small instances (the bundled default instance and
``tiny`` seed 0), same fields. Every plan is checked (``packer.check``). Compare two runs with
``--compare A.json B.json``: prints the rows that differ. ``--old-order``: the greedy sorts bigger-first by
its estimate before issue 19 (``slices / 7``, 0.5 per named profile) instead of ``Instance.request_size``,
to show that the order is the only change that moves a plan.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from packer import check, load_instance
from packer.dispatch import solve
from packer.generate import SUITE, generate


def _digest(plan) -> str:  # type: ignore[no-untyped-def]
    d = plan.to_json_dict()
    body = {"a": sorted((a["request"], json.dumps(a["units"], sort_keys=True)) for a in d["assignments"]),
            "m": sorted(json.dumps(m, sort_keys=True) for m in d["gpu_modes"])}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _row(inst, plan) -> dict[str, object]:  # type: ignore[no-untyped-def]
    rep = check(inst, plan)
    return {"objective": round(plan.objective, 9), "placements": _digest(plan),
            "unplaced": len(plan.unplaced), "valid": rep.ok}


def _old_order(inst, reqs):  # type: ignore[no-untyped-def]
    """The greedy's order with its size estimate before issue 19 (for ``--old-order``)."""
    def est(r):  # type: ignore[no-untyped-def]
        if r.kind == "host":
            return 0.0
        if r.kind == "gpu":
            return float(r.count)
        if r.kind == "share":
            return r.count * (r.gpu_milli or 0) / 1000
        return r.count * (r.slices or 1) / 7.0 if r.slices else r.count * 0.5

    def hard(r):  # type: ignore[no-untyped-def]
        return r.locality is not None and r.locality.required

    return sorted(reqs, key=lambda r: (-r.priority, not hard(r), -est(r), inst.request_index[r.id]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--nodes", default="8,128")
    ap.add_argument("--seeds", default="0-2")
    ap.add_argument("--families", default=",".join(SUITE))
    ap.add_argument("--cpsat", action="store_true")
    ap.add_argument("--compare", nargs=2)
    ap.add_argument("--old-order", action="store_true")
    args = ap.parse_args()
    if args.old_order:
        import packer.greedy.solver as greedy

        greedy._order = _old_order
    if args.compare:
        a, b = (json.loads(Path(p).read_text()) for p in args.compare)
        diff = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        for k in diff:
            print(k, a.get(k), "->", b.get(k))
        print(f"{len(diff)} of {len(set(a) | set(b))} rows differ")
        sys.exit(1 if diff else 0)
    lo, _, hi = args.seeds.partition("-")
    out: dict[str, dict[str, object]] = {}
    for fam in [f for f in args.families.split(",") if f]:
        for nodes in (int(x) for x in args.nodes.split(",")):
            for seed in range(int(lo), int(hi or lo) + 1):
                inst = generate(fam, seed, nodes=nodes)
                out[f"greedy/{fam}/{nodes}/{seed}"] = row = _row(inst, solve(inst, solver="greedy"))
                print(f"greedy/{fam}/{nodes}/{seed}", row, flush=True)
    if args.cpsat:
        here = Path(__file__).resolve().parent.parent
        for name, inst in (("default", load_instance(str(here / "instances" / "default.json"))),
                           ("tiny-0", generate("tiny", 0))):
            out[f"cpsat/{name}"] = row = _row(inst, solve(inst, solver="cpsat", workers=1, time_limit=60))
            print(f"cpsat/{name}", row, flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
