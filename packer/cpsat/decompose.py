"""Large-neighbourhood search by topology domain, for clusters too big for one model.

Start from a complete plan (the hint). Take one domain of the coarsest level (a pod), build the
sub-instance of its nodes: the requests that sit wholly in it (free to move within it or drop out),
the work that crosses its border (pinned where it is), and a batch of still-unplaced requests on
offer. Tenants' quotas and the migration cap shrink by what the rest of the plan already uses, so
any valid answer of the sub-instance merges into a valid plan of the whole. Solve it exactly with
the monolithic model, merge, and go on to the next domain while time is left.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from packer.model import Instance, ObjectiveWeights, Plan, Request, Tenant, Unit
from packer.solvers.common import units_equal

#: Most unplaced requests offered to one domain at a time.
OFFER = 60


def coarsest_level(inst: Instance) -> str:
    """The coarsest listed topology level (the decomposition's unit), or ``node``."""
    levels = [lv for lv in inst.topology.levels if lv != "node"]
    return levels[-1] if levels else "node"


def lns_by_domain(
    inst: Instance,
    incumbent: Mapping[str, Sequence[Unit]],
    *,
    deadline: float,
    solve_sub: Callable[[Instance, Plan | None, float, float | None], Plan],
    level: str | None = None,
    rounds: int = 2,
    det: float | None = None,
) -> tuple[dict[str, list[Unit]], dict[str, int]]:
    """Improves ``incumbent`` (request id → units) domain by domain until ``deadline`` (perf_counter).

    ``det`` (reproducible runs): a deterministic time budget shared equally by all sub-problems; the
    deadline then only acts as a safety stop.
    """
    level = level or coarsest_level(inst)
    placed: dict[str, list[Unit]] = {rid: list(us) for rid, us in incumbent.items()}
    domains: dict[str, list[str]] = defaultdict(list)
    for n in inst.nodes:
        domains[inst.domain(n, level)].append(n.id)
    order = sorted(domains)
    stats = {"domains": len(order), "subproblems": 0, "improved": 0}
    sub_det = None if det is None else det / max(1, len(order) * rounds)
    # Building a sub-instance and merging its plan happen outside the sub-problem's budget: keep the
    # longest of each seen so far back from the deadline (on xl about a second together).
    build_s = merge_s = 0.0
    for _ in range(rounds):
        for i, d in enumerate(order):
            t0 = time.perf_counter()
            if deadline - t0 - build_s - merge_s <= 0.2:
                return placed, stats
            sub, hint = _sub_instance(inst, placed, set(domains[d]), offset=i)
            t1 = time.perf_counter()
            build_s = max(build_s, t1 - t0)
            if not sub.requests:
                continue
            left = deadline - t1 - merge_s
            if left <= 0.2:
                return placed, stats
            budget = left / max(1, len(order) - i) if _ == rounds - 1 else left / max(1, len(order) * rounds - i)
            if sub_det is not None:
                budget = left  # the deterministic budget decides; the clock is a safety stop
            plan = solve_sub(sub, hint, budget, sub_det)
            stats["subproblems"] += 1
            t2 = time.perf_counter()
            if _merge(inst, sub, plan, placed):
                stats["improved"] += 1
            merge_s = max(merge_s, time.perf_counter() - t2)
    return placed, stats


def _sub_instance(inst: Instance, placed: Mapping[str, Sequence[Unit]], nodes: set[str],
                  offset: int) -> tuple[Instance, Plan | None]:
    """The sub-instance of one domain, and the incumbent restricted to it as a hint plan."""
    from packer.model import Assignment, SolverInfo

    reqs: list[Request] = []
    used_out: dict[str, float] = defaultdict(float)
    moved_out = 0
    hint_units: dict[str, list[Unit]] = {}
    for r in inst.requests:
        units = placed.get(r.id)
        if units is None:
            continue
        inside = [u for u in units if u.node in nodes]
        outside = [u for u in units if u.node not in nodes]
        for u in outside:
            used_out[r.tenant] += inst.unit_size(r, u)
        if r.placement is not None and not units_equal(r.placement, units) and (outside or not inside):
            moved_out += 1
        if not inside:
            continue
        if outside:
            # Crosses the border: pinned where it is (its units here count, nothing else of it).
            reqs.append(r.model_copy(update={
                "count": len(inside), "min_count": None, "placement": tuple(inside), "movable": False,
                "migration_cost": None, "locality": None, "spread": None,
            }))
        elif r.placement is not None and all(u.node in nodes for u in r.placement):
            reqs.append(r)  # running, wholly here: moves only within the domain
        elif r.placement is not None:
            # Running work already moved into this domain from outside: stays at its new place.
            moved_out += 1
            reqs.append(r.model_copy(update={
                "count": len(inside), "min_count": None, "placement": tuple(inside), "movable": False,
                "migration_cost": None,
            }))
        else:
            reqs.append(r)
        hint_units[r.id] = inside
    # Unplaced requests on offer: the most valuable first, a different slice for each domain.
    waiting = [r for r in inst.requests if r.id not in placed and r.placement is None]
    waiting.sort(key=lambda r: (-r.priority, r.id))
    if waiting:
        k = (offset * OFFER) % len(waiting)
        reqs.extend((waiting[k:] + waiting[:k])[:OFFER])
    keep = {r.tenant for r in reqs}
    tenants = []
    for t in inst.tenants:
        if t.id not in keep:
            continue
        cap = None if t.max_gpus is None else max(0.0, t.max_gpus - used_out[t.id])
        tenants.append(Tenant(id=t.id, max_gpus=cap, isolation=t.isolation))
    mm = inst.objective.max_migrations
    weights = ObjectiveWeights(
        locality_weight=inst.objective.locality_weight,
        migration_weight=inst.objective.migration_weight,
        max_migrations=None if mm is None else max(0, mm - moved_out),
    )
    # Node-isolated tenants outside this domain are irrelevant: isolation is per node.
    sub = Instance(
        name=f"{inst.name}/sub", catalog=inst.catalog, topology=inst.topology,
        nodes=tuple(n for n in inst.nodes if n.id in nodes), tenants=tuple(tenants),
        requests=tuple(reqs), objective=weights,
    )
    hint = Plan(
        instance=sub.name, status="feasible", objective=0.0, solver=SolverInfo(name="incumbent"),
        assignments=tuple(Assignment(request=rid, units=tuple(us)) for rid, us in hint_units.items()),
    )
    return sub, hint


def _merge(inst: Instance, sub: Instance, plan: Plan, placed: dict[str, list[Unit]]) -> bool:
    """Writes the sub-plan's answer back; True when it changed anything."""
    changed = False
    got = {a.request: list(a.units) for a in plan.assignments}
    for r in sub.requests:
        orig = inst.request(r.id)
        if r.placement is not None and not r.movable and (r.count != orig.count or orig.placement is None
                                                           or not units_equal(orig.placement, r.placement)):
            continue  # pinned crossing work: unchanged
        new = got.get(r.id)
        old = placed.get(r.id)
        if new is None:
            if old is not None:
                del placed[r.id]
                changed = True
        elif old is None or not units_equal(old, new):
            placed[r.id] = new
            changed = True
    return changed
