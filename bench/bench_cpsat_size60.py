"""A/B at 60 s, --workers 2, 1,024 GPUs (session 13): LNS random steps of a fixed size (``fixed``, session
12's steps) against steps whose size follows how many of them are proven (``adapt``,
:data:`packer.cpsat.lns.SIZE_ADAPT`), and steps without CP-SAT's presolve probing and symmetry detection
on step models of at least LITE_MIN_ROWS rows (``lite``, :data:`packer.cpsat.lns.LITE_PARAMS`) against
steps with them (``fixed``, LITE_PARAMS emptied).

Usage: python bench/bench_cpsat_size60.py FAMILY[,...] SEED[,...] [ARM,...]

Per instance the arms run back to back, their order rotating with the instance; one JSON line an arm:
(``adapt`` ran at git tag flags-s26; SIZE_ADAPT was removed in session 27.)
objective, bound, gap %, LNS steps / improved / proven, the largest random step, the process CPU
seconds of the solve (``time.process_time``: all its threads), the load before and after, and whether
``packer check`` passes the plan.
"""

from __future__ import annotations

import json
import os
import sys
import time

import packer.cpsat.solver as cpsat
from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.generate import generate

#: The ``lite`` arm's step parameters.
LITE = {"cp_model_probing_level": 0, "symmetry_level": 0}


def main(families: list[str], seeds: list[int], arms: list[str]) -> None:
    shipped = dict(lns_mod.LITE_PARAMS)
    k = 0
    for seed in seeds:
        for fam in families:
            inst = generate(fam, seed=seed, nodes=128)
            order = arms[k % len(arms):] + arms[:k % len(arms)]
            k += 1
            for arm in order:
                lns_mod.LITE_PARAMS = dict(LITE) if arm == "lite" else {}
                load = os.getloadavg()[0]
                c0 = time.process_time()
                plan = cpsat.solve(inst, time_limit=60, workers=2)
                cpu = time.process_time() - c0
                info = plan.solver.model_extra or {}  # type: ignore[union-attr]
                st = info.get("lns") or {}
                gap = None if not plan.bound else 100 * (plan.bound - plan.objective) / plan.bound
                print(json.dumps({
                    "family": fam, "seed": seed, "arm": arm, "objective": round(plan.objective, 3),
                    "bound": None if plan.bound is None else round(plan.bound, 3),
                    "gap_pct": None if gap is None else round(gap, 3), "steps": st.get("steps"),
                    "improved": st.get("improved"), "proven": st.get("proven"), "lite_steps": st.get("lite"),
                    "largest_step": st.get("largest_step"), "domains_per_step": st.get("domains_per_step"),
                    "cpu_s": round(cpu, 1), "lp_s": info.get("lp_s"), "load": round(load, 2),
                    "load_end": round(os.getloadavg()[0], 2), "ok": check(inst, plan).ok}), flush=True)
    lns_mod.LITE_PARAMS = dict(shipped)


if __name__ == "__main__":
    main(sys.argv[1].split(","), [int(s) for s in sys.argv[2].split(",")],
         sys.argv[3].split(",") if len(sys.argv) > 3 else ["fixed", "lite"])
