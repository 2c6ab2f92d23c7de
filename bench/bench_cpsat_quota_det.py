"""Deterministic A/B of quota-aware value steps (``lns_value.QUOTA``, session 18).

Usage: python bench/bench_cpsat_quota_det.py FAMILY[,...] SEED[,...] STEPS DET_STEP [--out FILE] [--flag NAME]

``--flag NAME``: the ``lns_value`` flag the arms turn (default QUOTA; session 20: NET_QUOTA).

For every family and seed: the greedy hint, the model and a token whole-model run
(``bench_cpsat_region_det.start``); from that one incumbent each arm (``on``: QUOTA True, ``off``:
False) runs exactly STEPS sequential LNS steps of DET_STEP deterministic time (one worker, seeded),
the arms' order turning with the instance. The objective after the steps does not depend on the
machine's load; CPU seconds and the objective at the pair's common CPU are recorded beside it.
One JSON line an arm, with the step kinds' [steps, improved, gain, cost].
"""

from __future__ import annotations

import sys

from bench_cpsat_portfolio_det import best_at, lns_arm
from bench_cpsat_region_det import start
from benchargs import emit, pop_option

from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_value


def run_arm(model, plan, arm: str, seed: int, steps: int, det_step: float, start_obj: float,  # type: ignore[no-untyped-def]
            flag: str = "QUOTA") -> dict[str, object]:
    setattr(lns_value, flag, arm == "on")
    return lns_arm(model, plan, arm, seed, steps, det_step, start_obj)


def main(families: list[str], seeds: list[int], steps: int, det_step: float, out: str | None,
         flag: str = "QUOTA") -> None:
    shipped = getattr(lns_value, flag)
    arms = ["on", "off"]
    k = 0
    for seed in seeds:
        for fam in families:
            model, plan, _ = start(fam, seed, {})
            space = lns_mod._space(model, plan[0])
            assert space is not None
            start_obj = space.best_obj / model.data.scale + model.constant
            order = arms[k % 2:] + arms[:k % 2]
            k += 1
            rows = [run_arm(model, plan, arm, seed, steps, det_step, start_obj, flag) for arm in order]
            common = min(r["lns_cpu_s"] for r in rows)  # type: ignore[type-var]
            for r in rows:
                r["at_common_cpu"] = best_at(r["trace"], common, start_obj)  # type: ignore[arg-type]
                emit({"family": fam, "seed": seed, "flag": flag, "start": round(start_obj, 3),
                                   "common_cpu_s": common, **{k2: v for k2, v in r.items() if k2 != "trace"}}, out)
    setattr(lns_value, flag, shipped)


if __name__ == "__main__":
    argv = sys.argv[1:]
    dest = pop_option(argv, "--out")
    name = pop_option(argv, "--flag") or "QUOTA"
    main(argv[0].split(","), [int(s) for s in argv[1].split(",")], int(argv[2]), float(argv[3]), dest, name)
