"""Session 23 (branch hetero23): is the brief's rack-ownership cut violated at the LP optimum?

For each node-isolated tenant's gang with a required locality above node and each domain where the LP
puts it (within > 0): need x min(within, 1) - (owned share of the domain's nodes), need = the fewest nodes
of the domain that hold the gang. Prints the three largest (a positive value would be a violated cut).

    python bench/bench_hetero23_rackcut.py hetero 102
"""

import collections
import sys

from packer.cpsat import bound
from packer.cpsat.constraints import _ub
from packer.cpsat.data import domain_of
from packer.cpsat.model import CpsatModel
from packer.generate import generate

fam = sys.argv[1]
for seed in [int(s) for s in sys.argv[2].split(",")]:
    inst = generate(fam, seed=seed, nodes=128)
    m = CpsatModel(inst)
    val, x = bound.lp_solve(None, form=m.bound_form)
    d, v = m.data, m.vars
    iso = {t.id for t in inst.tenant_map.values() if t.isolation == "node"}
    nodes_in = collections.defaultdict(set)
    for c in d.classes:
        nodes_in[domain_of(d, c, "rack")].add(c.node)
    per = collections.defaultdict(float)  # (gi, node) -> x
    ubn = collections.defaultdict(int)
    for (gi, ci, _o), var in v.x.items():
        per[(gi, d.classes[ci].node)] += x[var.index]
        ubn[(gi, d.classes[ci].node)] += _ub(var)
    worst = []
    tot_fracT = 0
    for (gi, dom), w in v.within.items():
        r = d.groups[gi].req
        if r.tenant not in iso or r.locality.level == "node":
            continue
        wv = x[w.index]
        if wv < 1e-6:
            continue
        if abs(wv - round(wv)) > 1e-6:
            tot_fracT += 1
        caps = sorted(
            (min(ubn[(gi, n)], r.count) for n in nodes_in.get(dom, ()) if (gi, n) in ubn), reverse=True
        )
        need, acc = 0, 0
        for cp in caps:
            if acc >= r.count:
                break
            acc += cp
            need += 1
        own = sum(x[v.owns[(n, r.tenant)].index] for n in nodes_in[dom])
        worst.append(
            (
                need * min(wv, 1) - own,
                r.id,
                dom,
                r.count,
                round(wv, 3),
                need,
                round(own, 3),
                d.groups[gi].size,
            )
        )
    worst.sort(reverse=True)
    print(
        fam,
        seed,
        "LP",
        round(-val / d.scale, 2) if False else val,
        "T rack-gang within>0:",
        len(worst),
        "fractional",
        tot_fracT,
        "max viol",
        worst[:3],
    )
