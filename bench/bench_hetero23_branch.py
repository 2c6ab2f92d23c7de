"""Session 23 (branch hetero23): the branched bound (bound.branch_value on the node-isolated tenants'
placed counts in an ISOLATION_CONFLICTS pair, at most search.ISOLATION_BRANCH_LPS LPs) against the LP
with the cuts, and its CPU. Deterministic: no time limit, so the values do not depend on the load.

    python bench/bench_hetero23_branch.py hetero 0,1,2,3,4 [--nodes 128] [--lps 9] [--out FILE.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time

from packer.cpsat import bound, search
from packer.cpsat.model import CpsatModel
from packer.cpsat.proof import padded_bound
from packer.generate import generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("families")
    ap.add_argument("seeds")
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--lps", type=int, default=search.ISOLATION_BRANCH_LPS)
    ap.add_argument("--out")
    a = ap.parse_args()
    for fam in a.families.split(","):
        for seed in [int(s) for s in a.seeds.split(",")]:
            inst = generate(fam, seed=seed, nodes=a.nodes)
            m = CpsatModel(inst)
            row: dict[str, object] = {"family": fam, "seed": seed, "nodes": a.nodes, "columns": len(m.lp_branch)}
            t0 = time.process_time()
            v = bound.lp_value(m.bound_form)
            row["lp_cuts"] = None if v is None else round(padded_bound(m, v), 3)
            row["lp_cpu_s"] = round(time.process_time() - t0, 2)
            if m.lp_branch:
                t0 = time.process_time()
                b = bound.branch_value(m.bound_form, m.lp_branch, max_lps=a.lps)
                row["branched"] = None if b is None else round(padded_bound(m, b), 3)
                row["branch_cpu_s"] = round(time.process_time() - t0, 2)
                row["lps"] = a.lps
            print(json.dumps(row), flush=True)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
