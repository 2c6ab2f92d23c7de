"""The merged block LP (typed relaxation, block_bound.MERGE) against the block's own LP at the same
multipliers (not a unit test). Session 16 diagnosis:

    python bench/bench_reopt_blockmerge.py duals 0 5     # share duals of both forms, each form at the own LP's duals
    python bench/bench_reopt_blockmerge.py child 200     # block_bound in its child process alone, time limit 200 s

``duals``: fragmented-0 at 16,384 GPUs, blocks 0 and 5: λ/ρ and η of the share solves of the block's
own LP and of its merged LP, then the block's own LP and the merged LP both at the own LP's
multipliers (both bound the block's integer problem; neither LP need be above the other). ``child``: the Child's wall seconds and bound.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np


def duals(blocks_asked: list[int]) -> None:
    from packer.cpsat import block_bound as bbm
    from packer.cpsat.reopt_blocks import blocks
    from packer.generate import generate

    inst = generate("fragmented", seed=0, nodes=2048)
    parts = blocks(inst)
    level = bbm.merge_level(inst, "auto")
    lps_m, big_u = bbm.block_lps(inst, parts, merge=level)
    subs, tags = bbm.block_instances(inst, parts)
    n_k: dict[object, int] = {}
    for bl in lps_m:
        for k in bl.U:
            n_k[k] = n_k.get(k, 0) + 1
    for b in blocks_asked:
        full = bbm.BlockLP(subs[b], tags[b])
        lf, ef = full.share_duals({k: big_u[k] / n_k[k] for k in full.U if k in big_u})
        lm, em = lps_m[b].share_duals({k: big_u[k] / n_k[k] for k in lps_m[b].U})
        rho = lps_m[b].rho
        common = [k for k in lf if k in lm]
        print(b, "lam/rho own", np.round([lf[k] / max(rho[k], 1e-9) for k in common], 2).tolist())
        print(b, "lam/rho merged", np.round([lm[k] / max(rho[k], 1e-9) for k in common], 2).tolist())
        cj = [j for j in ef if j in em]
        print(b, "eta own", np.round([ef[j] for j in cj][:40], 2).tolist())
        print(b, "eta merged", np.round([em[j] for j in cj][:40], 2).tolist())
        print(b, "super nodes", len(lps_m[b].sub.nodes), "own@own", round(full.solve(lf, ef)[0], 2),
              "merged@own", round(lps_m[b].solve(lf, ef)[0], 2), "merged@merged", round(lps_m[b].solve(lm, em)[0], 2),
              "load", round(os.getloadavg()[0], 2), flush=True)


def child(limit: float) -> None:
    from packer.cpsat.block_bound import Child
    from packer.generate import generate

    inst = generate("fragmented", seed=0, nodes=2048)
    t = time.perf_counter()
    ch = Child(inst, time_limit=limit, cap=None)
    got = ch.get(limit + 60)
    print("wall", round(time.perf_counter() - t, 1), "value", None if got is None else got.value,
          "values", None if got is None else got.values, "first_s", None if got is None else round(got.first_s, 1),
          "error", ch.error, "load", round(os.getloadavg()[0], 2))


if __name__ == "__main__":
    if sys.argv[1] == "duals":
        duals([int(x) for x in sys.argv[2:]])
    else:
        child(float(sys.argv[2]))
