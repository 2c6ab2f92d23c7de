"""Greedy objective (deterministic) and time on suite instances, with the LP bound, for session 12.

Run: python bench/bench_greedy12.py --families haein,sharing --nodes 128 --seeds 0-4 [--lp] [--out F.jsonl]
     [--arms main,new]
For each (family, seed): generate the instance in-process, run the greedy once per arm (``arms``:
names :func:`_arm` knows, interleaved on the same instance so they share one load), check each plan with
the checker, and print one JSON line: objective, wall seconds, validity per arm; with ``--lp`` also the
LP bound of the CP-SAT model (cached in bench/greedy12_lp_cache.json, keyed by family/nodes/seed).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from packer.check import check
from packer.generate import generate

CACHE = Path(__file__).with_name("greedy12_lp_cache.json")


#: The greedy as it was when session 12 started (main at this commit), loaded from git for arm "main".
BASELINE = "05072c3"


def _baseline():  # type: ignore[no-untyped-def]
    import importlib.util
    import subprocess
    import sys
    import tempfile

    if "greedy12_baseline" in sys.modules:
        return sys.modules["greedy12_baseline"]
    src = subprocess.run(["git", "show", f"{BASELINE}:packer/greedy/solver.py"], check=True,
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]).stdout
    path = Path(tempfile.gettempdir()) / f"greedy12_baseline_{BASELINE}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("greedy12_baseline", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["greedy12_baseline"] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def _arm(name: str):  # type: ignore[no-untyped-def]
    """A callable instance → plan. ``main``/``main-construct``: the greedy at :data:`BASELINE` (with
    and without its file-order runs); ``new``/``new-construct``: this tree's greedy likewise."""
    from packer.greedy import solver as gs

    if name == "main":
        return lambda inst: _baseline().solve(inst)
    if name == "main-construct":
        return lambda inst: _baseline().solve(inst, file_order=False)
    if name == "new":
        return lambda inst: gs.solve(inst)
    if name == "new-construct":
        return lambda inst: gs.solve(inst, file_order=False)
    raise ValueError(name)


def _lp(family: str, nodes: int, seed: int, inst) -> float | None:  # type: ignore[no-untyped-def]
    cache = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    key = f"{family}/{nodes}/{seed}"
    if key not in cache:
        from packer.benchsuite.runner import _lp_bound

        cache[key] = _lp_bound(inst, 600)
        CACHE.write_text(json.dumps(cache, indent=1, sort_keys=True))
    return cache[key]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="sharing")
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--arms", default="main,new")
    ap.add_argument("--lp", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    arms = args.arms.split(",")
    out = open(args.out, "a") if args.out else None  # noqa: SIM115
    for fam in args.families.split(","):
        for seed in seeds:
            inst = generate(fam, seed, nodes=args.nodes)
            row: dict[str, object] = {"family": fam, "nodes": args.nodes, "seed": seed,
                                      "load": round(os.getloadavg()[0], 2)}
            for a in arms:
                t = time.perf_counter()
                plan = _arm(a)(inst)
                row[a] = {"objective": round(plan.objective, 4), "wall_s": round(time.perf_counter() - t, 2),
                          "valid": bool(check(inst, plan).ok),
                          "construction": (plan.solver.model_dump().get("construction"))}
            if args.lp:
                b = _lp(fam, args.nodes, seed, inst)
                row["lp"] = b
                if b:
                    for a in arms:
                        row[a]["gap_pct"] = round(100 * (b - row[a]["objective"]) / b, 3)  # type: ignore[index]
            line = json.dumps(row)
            print(line, flush=True)
            if out:
                out.write(line + "\n")
                out.flush()


if __name__ == "__main__":
    main()
