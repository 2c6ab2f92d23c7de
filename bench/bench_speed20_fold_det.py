"""FAST_FOLD (session 20) changes no step: sequential LNS steps of fixed deterministic time from one greedy
start, step for step the same objectives with lns_region.FAST_FOLD off and on, and the thread CPU that
building the step models took in each arm (1,024 GPUs, 128 nodes).

    python bench/bench_speed20_fold_det.py FAMILY[,FAMILY...] SEED[,SEED...] [--steps 6] [--det 0.2] [--out FILE.jsonl]

One JSON line an instance: per arm the objective after every step and the build CPU ms per step (mean);
``same``: whether the two objective sequences are equal.
"""

from __future__ import annotations

import os
import sys
import time

from bench_cpsat_region_det import start
from benchargs import emit, pop_option

from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_region


def run_arm(model, plan, fast: bool, steps: int, det: float) -> dict[str, object]:  # type: ignore[no-untyped-def]
    lns_region.FAST_FOLD = fast
    lns_mod.REGION_STEPS = True
    trace: list[float] = []
    cpu: list[float] = []
    sub_model, step = lns_mod._Space.sub_model, lns_mod._step

    def timed_sub(self, *a, **k):  # type: ignore[no-untyped-def]
        t = time.thread_time()
        try:
            return sub_model(self, *a, **k)
        finally:
            cpu.append(time.thread_time() - t)

    def traced_step(sub, base_obj, **k):  # type: ignore[no-untyped-def]
        found = step(sub, base_obj, **k)
        trace.append(base_obj if found is None else found[1])
        return found

    lns_mod._Space.sub_model, lns_mod._step = timed_sub, traced_step
    try:
        model.values = None
        lns_mod.lns(model, level=plan[0], domains_per_step=plan[1], step_s=3600.0,
                    deadline=time.perf_counter() + 3600.0, seed=0, workers=1, steps=steps, det_step=det)
    finally:
        lns_mod._Space.sub_model, lns_mod._step = sub_model, step
        lns_region.FAST_FOLD = True
    return {"objectives": trace, "build_cpu_ms": round(1000 * sum(cpu) / max(1, len(cpu)), 2)}


def main(argv: list[str]) -> None:
    out = pop_option(argv, "--out")
    steps = int(pop_option(argv, "--steps") or 6)
    det = float(pop_option(argv, "--det") or 0.2)
    for seed in [int(s) for s in argv[1].split(",")]:
        for k, fam in enumerate(argv[0].split(",")):
            model, plan, _ = start(fam, seed, {})
            arms = (False, True) if k % 2 == 0 else (True, False)
            got = {("fast" if fast else "slow"): run_arm(model, plan, fast, steps, det) for fast in arms}
            emit({"family": fam, "seed": seed, "steps": steps, "det": det,
                  "same": got["slow"]["objectives"] == got["fast"]["objectives"], **got,
                  "load": round(os.getloadavg()[0], 2), "utc": time.strftime("%H:%M:%S", time.gmtime())}, out)


if __name__ == "__main__":
    main(sys.argv[1:])
