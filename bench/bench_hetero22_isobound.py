"""Session 22 (branch hetero22): the model's LP bound with and without constraints.ISOLATION_OTHERS ("lp":
the rows in the bound's LP, ``CpsatModel.bound_form``).

Per instance: constraints in the model, the LP value (HiGHS, deterministic) and its seconds, both arms in
one process. The LP value is the batch solve's reported bound wherever the model's LP answers first.

    python bench/bench_hetero22_isobound.py hetero 0,1,2,3,4,100,101,102,103,104 [--nodes 128]
"""

from __future__ import annotations

import argparse
import json
import time

from packer.cpsat import bound, constraints
from packer.cpsat.model import CpsatModel
from packer.cpsat.proof import padded_bound
from packer.generate import generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("families")
    ap.add_argument("seeds")
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--out")
    a = ap.parse_args()
    for fam in a.families.split(","):
        for seed in [int(s) for s in a.seeds.split(",")]:
            inst = generate(fam, seed=seed, nodes=a.nodes)
            row: dict[str, object] = {"family": fam, "seed": seed, "nodes": a.nodes}
            for arm in (False, "lp"):
                constraints.ISOLATION_OTHERS = arm
                t0 = time.process_time()
                m = CpsatModel(inst)
                build = time.process_time() - t0
                t1 = time.process_time()
                out = bound.lp_solve(None, form=m.bound_form)  # type: ignore[arg-type]
                lp_s = time.process_time() - t1
                key = "on" if arm else "off"
                row[key] = {"constraints": len(m.model.Proto().constraints) + len(m.lp_cuts), "build_cpu_s": round(build, 2),
                            "lp": None if out is None else round(padded_bound(m, out[0]), 3),
                            "lp_cpu_s": round(lp_s, 2)}
            print(json.dumps(row), flush=True)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
