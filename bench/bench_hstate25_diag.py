"""Where the stays LP of one running state owns nodes by fractions (session 25, branch hstate25).

Solves the stays LP (``reopt_stays.stays_form``, the re-optimizer's bound at 1,024 GPUs) and prints, for each
fractional ownership column ``own[n, t]`` of a node-isolated tenant t: the node, the units the LP places there
by tenant (every movable running request is freed in the repack model, so all count as new units), and the
running requests on the node with their stay values (1: the LP keeps it where it runs). Then how many
ownership columns and stays are fractional and the moves the LP pays (Σ 1 − stay).

    python bench/bench_hstate25_diag.py issue 100
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state

    from packer.cpsat.bound import lp_solve
    from packer.cpsat.proof import padded_bound
    from packer.cpsat.reopt import repack_model
    from packer.cpsat.reopt_stays import stays_form

    fam, seed = sys.argv[1], int(sys.argv[2])
    inst = state(fam, seed, 128 if fam == "fragmented" else None)
    model = repack_model(inst)
    form, col, const = stays_form(inst, model)
    res = lp_solve(model.model, form=form)
    x = res[1]
    print(inst.name, "bound", round(padded_bound(model, res[0] + const), 2))
    data, v = model.data, model.vars
    rp = data.inst
    placed: dict[int, dict[tuple[str, str], float]] = defaultdict(lambda: defaultdict(float))
    for (gi, ci, _o), var in v.x.items():
        val = float(x[var.index])
        if val > 1e-6:
            r = data.groups[gi].req
            placed[data.classes[ci].node][(r.tenant, "run" if r.placement is not None else "wait")] += val
    running: dict[str, list] = defaultdict(list)
    for r in inst.requests:
        for n in sorted({u.node for u in r.placement or ()}):
            running[n].append(r)
    fr = 0
    for (ni, t), var in sorted(v.owns.items()):
        val = float(x[var.index])
        if not 1e-6 < val < 1 - 1e-6:
            continue
        fr += 1
        node = rp.nodes[ni]
        st = [(r.id, r.tenant, r.kind, r.count, round(float(x[col[r.id]]), 2) if r.id in col else None)
              for r in running.get(node.id, [])]
        print(f"{node.id} own[{t}]={val:.3f} placed={ {k: round(q, 2) for k, q in placed[ni].items()} }")
        print("     running:", st)
    print("fractional owns", fr, "of", len(v.owns))
    print("LP moves", round(sum(1 - float(x[c]) for c in col.values()), 2), "fractional stays",
          sum(1 for c in col.values() if 1e-6 < x[c] < 1 - 1e-6))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
