"""Session 22 (branch hetero22): deterministic A/B of constraints.ISOLATION_OTHERS = "model" (the rows in the
CP-SAT model) in the search; "lp" leaves the search model as it is off.

The flag changes the model (extra rows), so each arm builds its own model from the same greedy hint
(``bench_cpsat_region_det.start``) and runs exactly STEPS sequential LNS steps of DET_STEP
deterministic time (one worker, seeded; ``bench_cpsat_portfolio_det.lns_arm``): the objective after the
steps does not depend on the machine's load. Arm order turns with the instance. One JSON line an arm.

    python bench/bench_hetero22_iso_det.py FAMILY[,...] SEED[,...] STEPS DET_STEP [--out FILE]
"""

from __future__ import annotations

import sys

from bench_cpsat_portfolio_det import lns_arm
from bench_cpsat_region_det import start
from benchargs import emit, pop_option

from packer.cpsat import constraints


def main(families: list[str], seeds: list[int], steps: int, det_step: float, out: str | None) -> None:
    shipped = constraints.ISOLATION_OTHERS
    arms = ["on", "off"]
    k = 0
    for seed in seeds:
        for fam in families:
            order = arms[k % 2:] + arms[:k % 2]
            k += 1
            for arm in order:
                constraints.ISOLATION_OTHERS = "model" if arm == "on" else False
                model, plan, _ = start(fam, seed, {})
                from packer.cpsat import lns as lns_mod

                space = lns_mod._space(model, plan[0])
                assert space is not None
                start_obj = space.best_obj / model.data.scale + model.constant
                row = lns_arm(model, plan, arm, seed, steps, det_step, start_obj)
                row.pop("trace", None)
                emit({"family": fam, "seed": seed, "start": round(start_obj, 3),
                      "rows": len(model.model.Proto().constraints), **row}, out)
    constraints.ISOLATION_OTHERS = shipped


if __name__ == "__main__":
    argv = sys.argv[1:]
    out_path = pop_option(argv, "--out")
    main(argv[0].split(","), [int(s) for s in argv[1].split(",")], int(argv[2]), float(argv[3]), out_path)
