"""Timed, interleaved A/B of session 18's LNS changes at 1,024 GPUs: ``packer.cpsat`` solves at a time
limit with ``--workers 2``, arm ``base`` (lns.WHOLE_DISPLACE off, lns.MODEL_SHARE 0: the search as before),
``whole`` (WHOLE_DISPLACE on: what is shipped) and ``model`` (that and model steps at share 0.1) one after the other on each
instance, the order alternating from instance to instance, the load beside each run.

    python bench/bench_cpsat_s18_timed.py hetero:100-104,tenants:100-101 [--limit 60] [--arms base,model]
        [--out FILE.jsonl]

One JSON line a run: objective, bound, gap %, the LNS's steps and kinds, model steps taken / refused, wall
seconds, load at start and end, whether ``check`` passed. Runs already in FILE (family, seed, arm) are
skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import os
import sys
import time

from bench_cpsat_s18_model_det import SHIPPED, SHIPPED_DISPLACE, set_arm
from benchargs import emit, pop_option

import packer.cpsat.solver as cpsat
from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.generate import generate


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split("+"):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def main(argv: list[str]) -> None:
    out = pop_option(argv, "--out")
    limit = float(pop_option(argv, "--limit") or 60)
    arms = (pop_option(argv, "--arms") or "base,model").split(",")
    done: set[tuple[str, int, str]] = set()
    if out and os.path.exists(out):
        with open(out) as f:
            for line in f:
                r = json.loads(line)
                done.add((r["family"], r["seed"], r["arm"]))
    jobs = [(fam, s) for spec in argv[0].split(",") for fam, _, seeds in [spec.partition(":")] for s in _seeds(seeds)]
    for k, (fam, seed) in enumerate(jobs):
        inst = generate(fam, seed=seed, nodes=128)
        order = arms if k % 2 == 0 else arms[::-1]
        for arm in order:
            if (fam, seed, arm) in done:
                continue
            set_arm(arm)
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            plan = cpsat.solve(inst, time_limit=limit, workers=2)
            wall = time.perf_counter() - t0
            info = plan.solver.model_extra or {}  # type: ignore[union-attr]
            st = info.get("lns") or {}
            gap = None if not plan.bound else 100 * (plan.bound - plan.objective) / plan.bound
            row = {"family": fam, "seed": seed, "arm": arm, "limit": limit, "objective": round(plan.objective, 3),
                   "bound": None if plan.bound is None else round(plan.bound, 3),
                   "gap_pct": None if gap is None else round(gap, 3), "steps": st.get("steps"),
                   "improved": st.get("improved"), "model_steps": st.get("model_steps", 0),
                   "model_none": st.get("model_none", 0), "whole_steps": st.get("whole_steps", 0),
                   "whole_none": st.get("whole_none", 0), "kinds": st.get("kinds"), "wall_s": round(wall, 1),
                   "load": round(load0, 2), "load_end": round(os.getloadavg()[0], 2), "ok": check(inst, plan).ok,
                   "utc": time.strftime("%H:%M:%S", time.gmtime())}
            emit(row, out)
    lns_mod.MODEL_SHARE, lns_mod.WHOLE_DISPLACE = SHIPPED, SHIPPED_DISPLACE


if __name__ == "__main__":
    main(sys.argv[1:])
