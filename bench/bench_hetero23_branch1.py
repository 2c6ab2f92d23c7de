"""Session 23 (branch hetero23): one-variable branching at the bound's LP optimum — for the first K groups
with a fractional placed count (node-isolated tenants' first), the LP with it rounded down and up and
the larger of the two (a valid bound: every plan lies in one branch).

    python bench/bench_hetero23_branch1.py hetero 102 12
"""

import sys

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from packer.cpsat.bound import _to_max
from packer.cpsat.model import CpsatModel
from packer.generate import generate

fam, seed = sys.argv[1], int(sys.argv[2])
inst = generate(fam, seed=seed, nodes=128)
m = CpsatModel(inst)
c, a, bl, bh, lo, hi, obj = m.bound_form
d, v = m.data, m.vars


def lp(low, high):
    res = milp(c, constraints=LinearConstraint(a, bl, bh), bounds=Bounds(low, high), integrality=np.zeros(len(c)))
    if res.status != 0:
        return float("-inf"), None
    return _to_max(obj, res.fun) / d.scale + m.constant, res.x


base, x = lp(lo, hi)
print("LP", round(base, 3))
iso = {t for (_, t) in v.owns}
cands = []
for gi, act in v.active.items():
    if not hasattr(act, "index"):
        continue
    r = d.groups[gi].req
    val = x[act.index]
    if abs(val - round(val)) > 1e-4:
        cands.append((gi, val))
cands.sort(key=lambda z: -abs(z[1] - round(z[1]) - 0.5) * 0 - (d.groups[z[0]].req.tenant in iso))
for gi, val in cands[: int(sys.argv[3])]:
    r = d.groups[gi].req
    i = v.active[gi].index
    fl, ce = np.floor(val), np.ceil(val)
    l1, h1 = lo.copy(), hi.copy()
    h1[i] = fl
    l2, h2 = lo.copy(), hi.copy()
    l2[i] = ce
    b1, _ = lp(l1, h1)
    b2, _ = lp(l2, h2)
    print(
        r.id,
        r.tenant,
        r.kind,
        r.count,
        r.profile,
        r.gpu_models,
        r.spread.max_per_domain if r.spread else None,
        "size",
        d.groups[gi].size,
        "active",
        round(val, 3),
        "down",
        round(b1, 3),
        "up",
        round(b2, 3),
        "max",
        round(max(b1, b2), 3),
        flush=True,
    )
