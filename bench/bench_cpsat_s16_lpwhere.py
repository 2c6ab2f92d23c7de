"""Session 16 diagnosis: where a merged relaxation's LP places more than a saved plan, by request kind,
priority, size and whether it has a min_count (value = priority x GPU-equivalents).

Usage: python bench/bench_cpsat_s16_lpwhere.py FAMILY SEED PLAN.json LEVEL
"""

import collections
import sys

from ortools.sat.python import cp_model

from packer.cpsat import bound
from packer.cpsat.model import CpsatModel
from packer.cpsat.relax import merged_relaxation
from packer.generate import generate
from packer.model import Plan

fam, seed, path, level = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
inst = generate(fam, seed=seed, nodes=128)
plan = Plan.model_validate_json(open(path).read())
relax = merged_relaxation(inst, level)
model = CpsatModel(relax.instance, barred=relax.barred)
val, x = bound.lp_solve(model.model)
d, v = model.data, model.vars
req = {r.id: r for r in inst.requests}
def key(r): return (r.kind, r.priority, r.count if r.kind=='gpu' else r.gpu_milli, r.min_count is not None)
lp = collections.Counter()
pl = collections.Counter()
for gi, act in v.active.items():
    if not isinstance(act, cp_model.IntVar):
        continue
    g = d.groups[gi]
    r = g.req
    # active = placed count (requests) of the group
    lp[key(r)] += x[act.index] * inst.request_size(r) * r.priority
for a in plan.assignments:
    r = req[a.request]
    from packer.plans import request_value
    pl[key(r)] += request_value(inst, r, a.units)
print('lp total', sum(lp.values()), 'plan', sum(pl.values()), plan.objective)
for k in sorted(set(lp)|set(pl), key=lambda k: -abs(lp[k]-pl[k]))[:14]:
    print(k, round(lp[k],2), round(pl[k],2), round(lp[k]-pl[k],2))
