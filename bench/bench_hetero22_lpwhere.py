"""Session 22 (branch hetero22): where a batch plan misses what the model's LP places.

The batch solve's bound on hetero is the full model's LP (``lp_bound`` in the plan's stats). This reads
a saved plan, solves that LP once (HiGHS, deterministic) and splits both by request (tenant, priority,
kind, the GPU models the request may use, locality, count) and by GPU model of the class the units sit
on, in value (priority x GPU-equivalents, the objective's terms). It lists the groups whose LP value
exceeds the plan's most, and per GPU model the whole-GPU capacity and who holds it in the plan vs the LP.

    python bench/bench_hetero22_lpwhere.py hetero 102 /tmp/h22/h102_60.json [--top 25]
"""

from __future__ import annotations

import argparse
import collections

import numpy as np

from packer.cpsat import bound
from packer.cpsat.model import CpsatModel
from packer.generate import generate
from packer.model import Plan
from packer.plans import request_value


def req_key(r) -> tuple:  # type: ignore[no-untyped-def]
    models = "any" if not r.gpu_models else "+".join(m.split("-")[0] for m in sorted(r.gpu_models))
    loc = r.locality.level if r.locality is not None and r.locality.required else "-"
    size = r.count if r.kind == "gpu" else (r.profile or f"s{r.slices}" if r.kind == "mig" else r.gpu_milli)
    return (r.kind, r.tenant, r.priority, models, loc, size)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("family")
    ap.add_argument("seed", type=int)
    ap.add_argument("plan")
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    inst = generate(a.family, seed=a.seed, nodes=a.nodes)
    plan = Plan.model_validate_json(open(a.plan).read())
    m = CpsatModel(inst)
    val, x = bound.lp_solve(None, form=m.bound_form)  # type: ignore[arg-type]
    proto = m.model.Proto()
    coef = np.zeros(len(proto.variables))
    coef[list(proto.objective.vars)] = list(proto.objective.coeffs)
    sf = -1.0 / m.data.scale  # the proto minimizes -objective: model units -> objective units
    d, v = m.data, m.vars
    print(f"LP {-val * sf + m.constant:.2f} (+ constant {m.constant}); plan {plan.objective:.2f}; LP value from x {(coef @ x + proto.objective.offset) * sf:.2f}")

    lp_val: dict[int, float] = collections.defaultdict(float)  # group -> LP value
    lp_units_model: dict[tuple, float] = collections.defaultdict(float)  # (kind, model) -> LP units (GPU-eq)
    lp_grp_model: dict[tuple[int, str], float] = collections.defaultdict(float)
    for (gi, ci, o), var in v.x.items():
        xv = x[var.index]
        if xv < 1e-7:
            continue
        c = d.classes[ci]
        r = d.groups[gi].req
        lp_val[gi] += xv * coef[var.index] * sf
        mdl = c.model.name if c.model is not None else "host"
        sz = inst.unit_size_on(r, c.model, o)
        lp_units_model[(r.kind, mdl)] += xv * sz
        lp_grp_model[(gi, mdl)] += xv
    for gi, act in v.active.items():  # terms on active (e.g. per-request values) count for the group too
        if hasattr(act, "index") and coef[act.index]:
            lp_val[gi] += x[act.index] * coef[act.index] * sf
    placed = {asg.request: asg.units for asg in plan.assignments}
    pl_val: dict[int, float] = collections.defaultdict(float)
    pl_units_model: dict[tuple, float] = collections.defaultdict(float)
    pl_grp_model: dict[tuple[int, str], float] = collections.defaultdict(float)
    for ri, r in enumerate(inst.requests):
        units = placed.get(r.id)
        if not units:
            continue
        gi = d.group_of[ri]
        pl_val[gi] += request_value(inst, r, units)
        for u in units:
            mdl = inst.model_of(inst.node(u.node)).name
            pl_units_model[(r.kind, mdl)] += inst.unit_size(r, u)
            pl_grp_model[(gi, mdl)] += 1
    by_key_lp: dict[tuple, float] = collections.defaultdict(float)
    by_key_pl: dict[tuple, float] = collections.defaultdict(float)
    for gi, gr in enumerate(d.groups):
        k = req_key(gr.req)
        by_key_lp[k] += lp_val.get(gi, 0.0)
        by_key_pl[k] += pl_val.get(gi, 0.0)
    print(f"\nsum LP {sum(lp_val.values()):.2f} plan {sum(pl_val.values()):.2f}")
    print("\n## by (kind, tenant, priority, models, locality, size): LP - plan, largest |diff| first")
    keys = sorted(set(by_key_lp) | set(by_key_pl), key=lambda k: -abs(by_key_lp[k] - by_key_pl[k]))
    for k in keys[: a.top]:
        print(k, f"LP {by_key_lp[k]:.2f} plan {by_key_pl[k]:.2f} diff {by_key_lp[k] - by_key_pl[k]:+.2f}")
    for dim, name in ((0, "kind"), (1, "tenant"), (2, "priority"), (3, "models"), (4, "locality")):
        agg_l: dict = collections.defaultdict(float)
        agg_p: dict = collections.defaultdict(float)
        for k in keys:
            agg_l[k[dim]] += by_key_lp[k]
            agg_p[k[dim]] += by_key_pl[k]
        print(f"\n## by {name}: " + "; ".join(f"{kk}: {agg_l[kk]:.1f}/{agg_p[kk]:.1f} ({agg_l[kk] - agg_p[kk]:+.1f})"
                                          for kk in sorted(agg_l, key=lambda z: -(agg_l[z] - agg_p[z]))))
    print("\n## GPU-equivalents by (kind, GPU model): LP / plan")
    for k in sorted(set(lp_units_model) | set(pl_units_model), key=lambda z: (z[1], z[0])):
        print(k, f"{lp_units_model[k]:.2f} / {pl_units_model[k]:.2f}")
    print("\n## groups: LP value - plan value, largest first (fractional LP groups marked)")
    rows = []
    for gi, gr in enumerate(d.groups):
        diff = lp_val.get(gi, 0.0) - pl_val.get(gi, 0.0)
        if abs(diff) > 0.05:
            act = v.active.get(gi)
            a_lp = x[act.index] if hasattr(act, "index") else None
            mods_lp = {mm: round(q, 2) for (g2, mm), q in lp_grp_model.items() if g2 == gi}
            mods_pl = {mm: q for (g2, mm), q in pl_grp_model.items() if g2 == gi}
            rows.append((diff, gr.req.id, len(gr.requests), req_key(gr.req), a_lp, mods_lp, mods_pl))
    rows.sort(key=lambda z: -z[0])
    for row in rows[: a.top]:
        print(f"{row[0]:+.2f} {row[1]} x{row[2]} {row[3]} active_lp={row[4] if row[4] is None else round(row[4], 3)} "
              f"LP units by model {row[5]} plan {row[6]}")
    print("...")
    for row in rows[-a.top:]:
        print(f"{row[0]:+.2f} {row[1]} x{row[2]} {row[3]} active_lp={row[4] if row[4] is None else round(row[4], 3)} "
              f"LP units by model {row[5]} plan {row[6]}")


if __name__ == "__main__":
    main()
