"""Seconds the model's LP takes when HiGHS stops at its time limit (session 15).

    python bench/bench_cpsat_lpfallback.py [FAMILY SEED LIMIT]   (default: inference 1 4)

Builds the 1,024-GPU model and times ``bound.lp_dual_value`` (HiGHS alone) and ``bound.lp_value`` (what
the LP thread calls) with the same limit, one JSON line each. Before session 15 lp_value ran scipy's
milp on the same LP for the same limit again after HiGHS stopped without duals, so it took twice the
limit, and in a 60 s solve the LP thread ran on ~45 s past the solve, into the next instance of a
``packer bench`` (which solves its instances one after another in one process).
"""

from __future__ import annotations

import json
import os
import sys
import time

from packer.cpsat import bound
from packer.cpsat.model import CpsatModel
from packer.generate import generate


def main(fam: str, seed: int, limit: float) -> None:
    form = CpsatModel(generate(fam, seed=seed, nodes=128)).linear_form
    for name, fn in (("lp_dual_value", bound.lp_dual_value), ("lp_value", bound.lp_value)):
        t, c = time.perf_counter(), time.process_time()
        value = fn(form, time_limit=limit)
        print(json.dumps({"family": fam, "seed": seed, "limit_s": limit, "call": name, "value": value,
                          "wall_s": round(time.perf_counter() - t, 2), "cpu_s": round(time.process_time() - c, 2),
                          "load": round(os.getloadavg()[0], 2)}), flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0] if a else "inference", int(a[1]) if len(a) > 1 else 1, float(a[2]) if len(a) > 2 else 4.0)
