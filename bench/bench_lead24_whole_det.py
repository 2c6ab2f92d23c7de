"""Session 24 (lead): whole steps that were cut by their time, retried with twice the time
(``lns.WHOLE_RETRY``) against ending whole steps for the run — a deterministic A/B at 1,024 GPUs.

From one incumbent per instance (the greedy hint, a token first run), each arm runs exactly STEPS
sequential LNS steps of DET_STEP deterministic time (a whole step WHOLE_DET_FACTOR times that, times its
retry scale), one worker, the level and step size of a 60 s solve: the outcome does not depend on load.

    python bench/bench_lead24_whole_det.py FAMILY[,...] SEED[,...] STEPS DET_STEP [--out FILE.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time

from bench_cpsat_region_det import start

from packer.cpsat import lns as lns_mod


def run_arm(model, plan, retry: bool, seed: int, steps: int, det_step: float) -> dict[str, object]:  # type: ignore[no-untyped-def]
    lns_mod.WHOLE_RETRY = retry
    model.values = None
    t0, c0 = time.perf_counter(), time.process_time()
    lns_mod.lns(model, level=plan[0], domains_per_step=plan[1], step_s=3600.0,
                deadline=time.perf_counter() + 3600.0, seed=seed, workers=1, steps=steps, det_step=det_step)
    st = model.lns_stats
    kinds = st.get("kinds", {})
    return {"arm": "retry" if retry else "off", "objective": round(model.objective(), 3),
            "steps": st.get("steps", 0), "improved": st.get("improved", 0),
            "whole": kinds.get("whole"), "lns_wall_s": round(time.perf_counter() - t0, 1),
            "lns_cpu_s": round(time.process_time() - c0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("families")
    ap.add_argument("seeds")
    ap.add_argument("steps", type=int)
    ap.add_argument("det_step", type=float)
    ap.add_argument("--out")
    a = ap.parse_args()
    k = 0
    for seed in [int(s) for s in a.seeds.split(",")]:
        for fam in a.families.split(","):
            times: dict[str, float] = {}
            model, plan, first = start(fam, seed, times)
            head = {"family": fam, "seed": seed, "first": round(first, 3)}
            for retry in ((True, False) if k % 2 == 0 else (False, True)):
                row = {**head, **run_arm(model, plan, retry, seed, a.steps, a.det_step)}
                print(json.dumps(row), flush=True)
                if a.out:
                    with open(a.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
            k += 1


if __name__ == "__main__":
    main()
