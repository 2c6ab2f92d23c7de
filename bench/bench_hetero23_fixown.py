"""Session 23 (branch hetero23): the bound's LP with node ownership fixed to a plan's (a node holding a
unit of a node-isolated tenant: owned; one holding another tenant's: not; empty nodes free), and per
node the LP's and the plan's ownership with the LP's units by (owner?, kind).

    python bench/bench_hetero23_fixown.py hetero 102 PLAN.json
"""

import collections
import json
import sys

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from packer.cpsat.bound import _to_max
from packer.cpsat.model import CpsatModel
from packer.generate import generate

fam, seed, planf = sys.argv[1], int(sys.argv[2]), sys.argv[3]
inst = generate(fam, seed=seed, nodes=128)
m = CpsatModel(inst)
c, a, bl, bh, lo, hi, obj = m.bound_form
d, v = m.data, m.vars
plan = json.load(open(planf))
treq = {r.id: r.tenant for r in inst.requests}
holder = {}
for asg in plan["assignments"]:
    for u in asg["units"]:
        holder.setdefault(u["node"], set()).add(treq[asg["request"]])
lo2, hi2 = lo.copy(), hi.copy()
nfix = 0
for (ni, t), var in v.owns.items():
    h = holder.get(inst.nodes[ni].id)
    if h:
        val = 1.0 if t in h else 0.0
        lo2[var.index] = hi2[var.index] = val
        nfix += 1


def lp(low, high):
    res = milp(c, constraints=LinearConstraint(a, bl, bh), bounds=Bounds(low, high), integrality=np.zeros(len(c)))
    return _to_max(obj, res.fun) / d.scale + m.constant, res.x


base, xb = lp(lo, hi)
fixed, xf = lp(lo2, hi2)
print(
    "LP",
    round(base, 3),
    "owns fixed to plan's on",
    nfix,
    "nodes:",
    round(fixed, 3),
    "plan",
    plan["objective"],
)
gx = collections.defaultdict(lambda: collections.defaultdict(float))
for (gi, ci, o), var in v.x.items():
    r = d.groups[gi].req
    if xb[var.index] > 1e-6:
        gx[d.classes[ci].node][(r.tenant == "gov", r.kind)] += xb[var.index] * inst.unit_size_on(
            r, d.classes[ci].model, o
        )
tot = collections.defaultdict(float)
for (ni, t), var in sorted(v.owns.items()):
    node = inst.nodes[ni]
    po = 1.0 if t in holder.get(node.id, set()) else 0.0
    lo_ = xb[var.index]
    mode = node.mode
    tot[(node.gpu_model, mode, "lp")] += lo_
    tot[(node.gpu_model, mode, "plan")] += po
    if lo_ > 1e-3 or po:
        print(
            node.id,
            node.gpu_model,
            mode,
            node.domains["rack"],
            "own LP",
            round(lo_, 3),
            "plan",
            po,
            {k: round(q, 2) for k, q in gx[ni].items()},
        )
for k in sorted(tot):
    print(k, round(tot[k], 2))
