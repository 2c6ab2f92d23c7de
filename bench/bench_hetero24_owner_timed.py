"""Session 24 (branch hetero24): timed, interleaved A/B of ownership-exchange LNS steps (``lns.OWNER_EXCHANGE``)
at 1,024 GPUs.

``packer.cpsat`` solves at ``--limit`` seconds (default 60), ``--workers 2``, arms ``on`` / ``off`` one after
the other on each instance, order alternating. One JSON line a run: objective, bound, gap %, LNS steps, the
step kinds' outcomes (owner steps among them), wall, load at start and end, whether ``check`` passed. Runs
already in FILE are skipped (a stopped run resumes).

    cd bench && python bench_hetero24_owner_timed.py hetero:102,isolated:100 [--limit 60] [--out FILE]
"""

from __future__ import annotations

import json
import os
import sys
import time

from bench_cpsat_s18_timed import _seeds
from benchargs import emit, pop_option

import packer.cpsat.solver as cpsat
from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.generate import generate


def main(argv: list[str]) -> None:
    out = pop_option(argv, "--out")
    limit = float(pop_option(argv, "--limit") or 60)
    arms = ["on", "off"]
    shipped = lns_mod.OWNER_EXCHANGE
    done: set[tuple[str, int, str]] = set()
    if out and os.path.exists(out):
        with open(out) as f:
            for line in f:
                r = json.loads(line)
                done.add((r["family"], r["seed"], r["arm"]))
    jobs = [(fam, s) for spec in argv[0].split(",") for fam, _, seeds in [spec.partition(":")] for s in _seeds(seeds)]
    for k, (fam, seed) in enumerate(jobs):
        inst = generate(fam, seed=seed, nodes=128)
        for arm in (arms if k % 2 == 0 else arms[::-1]):
            if (fam, seed, arm) in done:
                continue
            lns_mod.OWNER_EXCHANGE = arm == "on"
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            plan = cpsat.solve(inst, time_limit=limit, workers=2)
            wall = time.perf_counter() - t0
            info = plan.solver.model_extra or {}  # type: ignore[union-attr]
            st = info.get("lns") or {}
            gap = None if not plan.bound else 100 * (plan.bound - plan.objective) / plan.bound
            emit({"family": fam, "seed": seed, "arm": arm, "limit": limit, "objective": round(plan.objective, 3),
                  "bound": None if plan.bound is None else round(plan.bound, 3),
                  "gap_pct": None if gap is None else round(gap, 3), "steps": st.get("steps"),
                  "improved": st.get("improved"), "kinds": st.get("kinds"), "owner_steps": st.get("owner_steps"),
                  "wall_s": round(wall, 1), "load": round(load0, 2),
                  "load_end": round(os.getloadavg()[0], 2), "ok": check(inst, plan).ok,
                  "utc": time.strftime("%H:%M:%S", time.gmtime())}, out)
    lns_mod.OWNER_EXCHANGE = shipped


if __name__ == "__main__":
    main(sys.argv[1:])
