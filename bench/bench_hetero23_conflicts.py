"""Session 23 (branch hetero23): the bound's LP with and without constraints.ISOLATION_CONFLICTS (node
isolation across nodes: a node-isolated tenant's request and another tenant's that cannot both find
nodes of their own). Both arms keep constraints.ISOLATION_OTHERS as shipped ("lp").

Per instance, both arms in one process: the conflict rows, the LP value (HiGHS, deterministic: it does
not depend on the machine's load) and the LP's CPU seconds.

    python bench/bench_hetero23_conflicts.py hetero 0,1,2,3,4 [--nodes 128] [--out FILE.jsonl]
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
                constraints.ISOLATION_CONFLICTS = arm
                t0 = time.process_time()
                m = CpsatModel(inst)
                build = time.process_time() - t0
                t1 = time.process_time()
                out = bound.lp_solve(None, form=m.bound_form)  # type: ignore[arg-type]
                lp_s = time.process_time() - t1
                row["on" if arm else "off"] = {
                    "lp_cuts": len(m.lp_cuts), "build_cpu_s": round(build, 2),
                    "lp": None if out is None else round(padded_bound(m, out[0]), 3), "lp_cpu_s": round(lp_s, 2)}
            on, off = row["on"], row["off"]
            row["conflicts"] = on["lp_cuts"] - off["lp_cuts"]  # type: ignore[index]
            print(json.dumps(row), flush=True)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
