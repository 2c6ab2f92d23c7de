"""Session 27 (lead): the batch LNS's default outputs, for a before/after identity check of a clean-up.

Reproducible CP-SAT solves (one worker; since session 27 they stop by deterministic time only, the wall
clock a safety stop) of suite instances: at 1,024 GPUs (``--nodes 128``) the LNS runs as shipped; at 64 GPUs
with ``tuning.LNS_MIN_VARIABLES`` 0 (LNS on a small model, tenant steps at share 0.5, as
tests/test_cpgap15_lpcut.py does). ``tuning.DET_PER_SECOND`` is lowered so that the deterministic budget
ends well before the wall-clock limit even on a loaded machine. Writes objective, a digest of the
assignments and the LNS counters per instance; ``--compare A B`` says whether two files agree::

    PYTHONPATH=BEFORE python bench/bench_cleanup27_lns_identity.py --out before.json
    PYTHONPATH=AFTER python bench/bench_cleanup27_lns_identity.py --out after.json
    python bench/bench_cleanup27_lns_identity.py --compare before.json after.json

At 1,024 GPUs on a loaded machine (load 4+ on 2 cores) the wall-clock phases of a solve (hint, model build,
the LP) can leave the LNS less wall time than its deterministic budget needs: the run's deadline, a safety
stop, then ends it after fewer steps and the row differs for that reason alone (session 27: tenants-2 and
inference-4 did; the 64-GPU rows never). The fixed-step check beside it is load-proof:
``bench/bench_kinds26_paired.py hetero:1,haein:0,tenants:2,isolated:3,inference:4,adversarial:100 16 0.5
base=lns.KIND_STREAMS:False --out FILE`` on each tree, then compare the plan digests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

BIG = [("haein", 0), ("hetero", 1), ("tenants", 2), ("isolated", 3), ("inference", 4), ("adversarial", 100)]
SMALL = [("inference", 2), ("tenants", 0), ("hetero", 3), ("haein", 1), ("isolated", 100)]


def run(out: str, limit: float, big: bool) -> None:
    from packer.cpsat import lns, solve, tuning
    from packer.generate import generate

    tuning.DET_PER_SECOND = 0.15
    import packer.cpsat.solver as solver_mod

    solver_mod.online_ready = lambda: False  # the hint's placer set must not follow the kernel cache
    rows = []
    cases = [(f, s, 8) for f, s in SMALL] + ([(f, s, 128) for f, s in BIG] if big else [])
    for fam, seed, nodes in cases:
        small = nodes == 8
        saved = (tuning.LNS_MIN_VARIABLES, tuning.LNS_MIN_S, lns.TENANT_SHARE)
        if small:
            tuning.LNS_MIN_VARIABLES, tuning.LNS_MIN_S, lns.TENANT_SHARE = 0, 0.5, 0.5
        inst = generate(fam, seed=seed, nodes=nodes)
        plan = solve(inst, time_limit=limit if not small else 20.0, workers=1)
        tuning.LNS_MIN_VARIABLES, tuning.LNS_MIN_S, lns.TENANT_SHARE = saved
        info = dict(plan.solver.model_extra or {})
        digest = hashlib.sha1(json.dumps(sorted(
            (a.request, json.dumps(a.model_dump(mode="json"), sort_keys=True)) for a in plan.assignments
        )).encode()).hexdigest()
        lstats = info.get("lns", {})
        row = {"family": fam, "seed": seed, "nodes": nodes, "objective": plan.objective, "digest": digest,
               "lns": {k: lstats.get(k) for k in ("steps", "improved", "proven")}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    with open(out, "w") as fh:
        json.dump(rows, fh, indent=1)


def compare(a: str, b: str) -> int:
    ra, rb = json.load(open(a)), json.load(open(b))
    bad = 0
    for x, y in zip(ra, rb, strict=True):
        same = x == y
        bad += not same
        print(("same " if same else "DIFF ") + f"{x['family']}-{x['seed']} @{x['nodes']}: {x['objective']} / {y['objective']}")
    print("identical" if not bad else f"{bad} differ")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out")
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--small-only", action="store_true")
    ap.add_argument("--compare", nargs=2)
    args = ap.parse_args()
    if args.compare:
        return compare(*args.compare)
    run(args.out, args.limit, not args.small_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
