"""Where the LP's value lies against a plan's, tenant by tenant (issue 16 part 3, session 11, step 2).

For one instance: the model, its LP optimum (HiGHS, primal) and the LP's values; a plan (a JSON plan
file from ``packer solve``, else the greedy hint) read into the model as a complete hint. The
objective's terms are summed per tenant and request kind at both points, in objective units, with
the number of requests placed (the LP's sum of ``placed`` variables, fractional) beside the plan's.
The rows where the LP is far above the plan say which part of the instance holds the gap; a part
whose LP count is fractional where the plan's is whole (a gang placed 0.4 times) is the relaxation's.

    python bench/bench_cpsat_advsplit.py --family adversarial --seed 1 [--plan PLAN.json]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", default="adversarial")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--plan", default=None)
    args = ap.parse_args()
    from packer.check import check
    from packer.cpsat.bound import lp_solve
    from packer.cpsat.model import CpsatModel
    from packer.generate import generate
    from packer.greedy.solver import solve as greedy_solve
    from packer.model import Plan

    inst = generate(args.family, seed=args.seed, nodes=args.nodes)
    if args.plan:
        with open(args.plan) as fh:
            plan = Plan.model_validate(json.load(fh))
    else:
        plan = greedy_solve(inst, seed=0)
    assert check(inst, plan).ok
    model = CpsatModel(inst)
    model.hint(plan)
    proto = model.model.proto
    hint = np.zeros(len(proto.variables))
    hint[list(proto.solution_hint.vars)] = list(proto.solution_hint.values)
    out = lp_solve(model.model, form=model.linear_form)
    assert out is not None
    lp_opt, x = out
    obj = proto.objective
    sign = obj.scaling_factor if obj.scaling_factor else 1.0
    scale = model.data.scale
    d, v = model.data, model.vars
    owner: dict[int, tuple[str, str]] = {}
    for (gi, _ci, _o), var in v.x.items():
        r = d.groups[gi].req
        owner[var.index] = (r.tenant, r.kind)
    placed_var: dict[int, tuple[str, str]] = {}
    for gi, act in v.active.items():
        r = d.groups[gi].req
        if hasattr(act, "index"):
            owner.setdefault(act.index, (r.tenant, r.kind))
            placed_var[act.index] = (r.tenant, r.kind)
    lp_val: dict[tuple[str, str], float] = defaultdict(float)
    plan_val: dict[tuple[str, str], float] = defaultdict(float)
    for i, cf in zip(obj.vars, obj.coeffs, strict=True):
        key = owner.get(i, ("-", "other"))
        lp_val[key] += sign * cf * x[i] / scale
        plan_val[key] += sign * cf * hint[i] / scale
    lp_cnt: dict[tuple[str, str], float] = defaultdict(float)
    plan_cnt: dict[tuple[str, str], float] = defaultdict(float)
    frac: dict[tuple[str, str], int] = defaultdict(int)
    for i, key in placed_var.items():
        lp_cnt[key] += x[i]
        plan_cnt[key] += hint[i]
        if abs(x[i] - round(x[i])) > 1e-6:
            frac[key] += 1
    print(json.dumps({"instance": inst.name, "lp": round(lp_opt / scale + model.constant, 4),
                      "plan": round(plan.objective, 4), "plan_solver": plan.solver.name}))
    print("| tenant | kind | LP value | plan value | LP - plan | LP requests placed | plan's | fractional in LP |")
    print("|---|---|---|---|---|---|---|---|")
    for key in sorted(set(lp_val) | set(plan_val), key=lambda k: -(lp_val[k] - plan_val[k])):
        print(f"| {key[0]} | {key[1]} | {lp_val[key]:.2f} | {plan_val[key]:.2f} | {lp_val[key] - plan_val[key]:+.2f} "
              f"| {lp_cnt[key]:.2f} | {plan_cnt[key]:.0f} | {frac[key]} |")


if __name__ == "__main__":
    main()
