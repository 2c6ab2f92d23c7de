"""Session 25 (branch tenants25): bench_hetero23_subexact.py with the sub-problem's nodes chosen by node
mode (full, mig, shared, any) instead of GPU model, for single-model fleets (haein, tenants). Session 23's
docstring follows.

Session 23 (branch hetero23): is what is left of a gap the search's or the bound's? An exact solve of
the contested sub-problem.

Reads a saved plan, keeps every request placed off the given GPU models' nodes where the plan has it, and
builds the sub-instance of those nodes (``decompose._sub_instance``: requests placed there, partly placed
ones pinned, every unplaced request that could use those nodes on offer, quotas less what the rest of
the plan uses). Then: the plan's value on it, the LP bound of the sub-instance with and without
constraints.ISOLATION_CONFLICTS, and CP-SAT on it for ``--limit`` seconds (status, objective, bound).
If CP-SAT proves the plan's value optimal on the sub-instance while its LP is above it, the rest of the
gap there is the bound's; if it finds more, the search's.

    python bench/bench_tenants25_subexact_modes.py haein 104 PLAN.json full,any [--limit 150] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import time

from packer.check import check
from packer.cpsat import constraints
from packer.cpsat.decompose import _sub_instance
from packer.cpsat.model import CpsatModel
from packer.cpsat.proof import lp_bound
from packer.cpsat.solver import solve
from packer.generate import generate
from packer.model import Plan


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("family")
    ap.add_argument("seed", type=int)
    ap.add_argument("plan")
    ap.add_argument("models")
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--limit", type=float, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out")
    ap.add_argument("--diff", action="store_true", help="list the requests placed in one plan and not the other")
    a = ap.parse_args()
    inst = generate(a.family, seed=a.seed, nodes=a.nodes)
    plan = Plan.model_validate_json(open(a.plan).read())
    placed = {asg.request: list(asg.units) for asg in plan.assignments}
    models = set(a.models.split(","))  # node modes here
    nodes = {n.id for n in inst.nodes if n.mode in models}
    sub, hint = _sub_instance(inst, placed, nodes, 0, offer=10**6, rule="fit")
    assert hint is not None
    row: dict[str, object] = {"family": a.family, "seed": a.seed, "plan": a.plan, "plan_objective": plan.objective,
                              "models": sorted(models), "sub_nodes": len(sub.nodes), "sub_requests": len(sub.requests),
                              "plan_on_sub": round(hint.objective, 3)}
    shipped = constraints.ISOLATION_CONFLICTS
    for arm in (False, "lp"):
        constraints.ISOLATION_CONFLICTS = arm
        row["lp_conflicts" if arm else "lp_without"] = round(lp_bound(CpsatModel(sub), None) or float("nan"), 3)
    constraints.ISOLATION_CONFLICTS = shipped
    t0 = time.perf_counter()
    got = solve(sub, time_limit=a.limit, workers=a.workers)  # its own greedy hint, not the plan
    row.update({"cpsat_status": got.status, "cpsat_objective": round(got.objective, 3),
                "cpsat_bound": None if got.bound is None else round(got.bound, 3),
                "wall_s": round(time.perf_counter() - t0, 1), "ok": check(sub, got).ok})
    print(json.dumps(row), flush=True)
    if a.diff:
        mine = {x.request for x in got.assignments}
        theirs = {x.request for x in hint.assignments}
        by_id = {r.id: r for r in sub.requests}
        for tag, ids in (("only the sub-solve places", mine - theirs), ("only the plan places", theirs - mine)):
            for rid in sorted(ids):
                r = by_id[rid]
                print(tag, rid, r.tenant, r.kind, r.count, r.profile or r.slices or r.gpu_milli, r.priority,
                      r.gpu_models, None if r.spread is None else r.spread.max_per_domain,
                      None if r.locality is None else r.locality.level)
    if a.out:
        with open(a.out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
