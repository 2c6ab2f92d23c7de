"""Session 24 (branch hetero24): deterministic A/B of ownership-exchange steps (``lns.OWNER_EXCHANGE``).

For every family and seed at 1,024 GPUs: the greedy hint and the model (``bench_cpsat_region_det.start``),
then PREFIX sequential LNS steps with the flag off (shared by both arms: the incumbent they start from,
nearer to where a 60 s run spends its time than the greedy hint), then each arm runs exactly STEPS
sequential steps of DET_STEP deterministic time from that incumbent (one worker, seeded;
``bench_cpsat_portfolio_det.lns_arm``): the objective after the steps does not depend on the machine's
load. Arm order turns with the instance. One JSON line an arm, with how many anchors the incumbent has
and how many ownership-exchange steps the arm took.

    python bench/bench_hetero24_owner_det.py FAMILY[,...] SEED[,...] STEPS DET_STEP [--prefix P] [--out FILE]
"""

from __future__ import annotations

import sys
import time

import numpy as np
from bench_cpsat_portfolio_det import lns_arm
from bench_cpsat_region_det import start
from benchargs import emit, pop_option

from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_owner


def main(families: list[str], seeds: list[int], steps: int, det_step: float, prefix: int, out: str | None) -> None:
    shipped = lns_mod.OWNER_EXCHANGE
    arms = ["on", "off"]
    k = 0
    for seed in seeds:
        for fam in families:
            t0 = time.perf_counter()
            model, plan, _ = start(fam, seed, {})
            lns_mod.OWNER_EXCHANGE = False
            if prefix:
                lns_mod.lns(model, level=plan[0], domains_per_step=plan[1], step_s=3600.0,
                            deadline=time.perf_counter() + 3600.0, seed=seed + 500, workers=1, steps=prefix,
                            det_step=det_step)
                if model.values is not None:  # the arms start from it: a complete hint better than the run
                    proto = model.model.proto
                    proto.clear_solution_hint()
                    proto.solution_hint.vars.extend(range(len(model.values)))
                    proto.solution_hint.values.extend(model.values)
            space = lns_mod._space(model, plan[0])
            assert space is not None
            start_obj = space.best_obj / model.data.scale + model.constant
            ix = lns_owner.owner_index(model, lns_mod.OWNER_MAX_NODES)
            anchors = 0 if ix is None else len(lns_owner.candidates(ix, np.asarray(space.best, dtype=np.int64)))
            head = {"family": fam, "seed": seed, "prefix": prefix, "start": round(start_obj, 3),
                    "anchors": anchors, "anchors_total": 0 if ix is None else len(ix.anchors),
                    "start_s": round(time.perf_counter() - t0, 1)}
            order = arms[k % 2:] + arms[:k % 2]
            k += 1
            for arm in order:
                lns_mod.OWNER_EXCHANGE = arm == "on"
                row = lns_arm(model, plan, arm, seed, steps, det_step, start_obj, counts=("owner_steps", "owner_none"))
                row.pop("trace", None)
                emit({**head, **row}, out)
    lns_mod.OWNER_EXCHANGE = shipped


if __name__ == "__main__":
    argv = sys.argv[1:]
    out_path = pop_option(argv, "--out")
    pre = pop_option(argv, "--prefix")
    main(argv[0].split(","), [int(s) for s in argv[1].split(",")], int(argv[2]), float(argv[3]),
         int(pre) if pre else 0, out_path)
