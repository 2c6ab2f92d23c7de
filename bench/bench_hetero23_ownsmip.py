"""Session 23 (branch hetero23): what integrality of some columns is worth — HiGHS branch and bound on
the bound's LP (the model's rows and its LP-only cuts) with only the chosen columns integer (owns, within,
active, mode, joined by +), stopped at a time limit: its dual bound and best point, in objective units.

    python bench/bench_hetero23_ownsmip.py hetero 102 owns 150
"""

import sys
import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from packer.cpsat.bound import _to_max
from packer.cpsat.model import CpsatModel
from packer.generate import generate

fam, seed, which, tl = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
inst = generate(fam, seed=seed, nodes=128)
m = CpsatModel(inst)
c, a, bl, bh, lo, hi, obj = m.bound_form
d, v = m.data, m.vars
integ = np.zeros(len(c))
sets = which.split("+")
if "owns" in sets:
    for var in v.owns.values():
        integ[var.index] = 1
if "within" in sets:
    for var in v.within.values():
        integ[var.index] = 1
if "active" in sets:
    for var in v.active.values():
        if hasattr(var, "index"):
            integ[var.index] = 1
if "mode" in sets:
    for var in v.mode.values():
        integ[var.index] = 1
print("integer cols", int(integ.sum()), "of", len(c))
t = time.process_time()
res = milp(
    c,
    constraints=LinearConstraint(a, bl, bh),
    bounds=Bounds(lo, hi),
    integrality=np.zeros(len(c)),
    options={"presolve": True},
)
lp = _to_max(obj, res.fun) / d.scale + m.constant
print("LP", round(lp, 3), round(time.process_time() - t, 1))
t = time.process_time()
res = milp(
    c,
    constraints=LinearConstraint(a, bl, bh),
    bounds=Bounds(lo, hi),
    integrality=integ,
    options={"time_limit": tl, "disp": True},
)
dual = getattr(res, "mip_dual_bound", None)
print(
    which,
    "status",
    res.status,
    "dual",
    None if dual is None else round(_to_max(obj, dual) / d.scale + m.constant, 3),
    "primal",
    None if res.fun is None else round(_to_max(obj, res.fun) / d.scale + m.constant, 3),
    "cpu",
    round(time.process_time() - t, 1),
)
