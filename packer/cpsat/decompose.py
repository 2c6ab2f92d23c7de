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
from dataclasses import dataclass

from packer.model import MODE_OF_KIND, Instance, ObjectiveWeights, Plan, Request, Tenant, Unit
from packer.plans import objective_value, units_equal

#: Most unplaced requests offered to one domain at a time.
OFFER = 60
#: How a domain's offer is drawn from the unplaced requests (sequential LNS by domain):
#: ``"rank"`` a slice of all of them, the most valuable first, the slice rotating with the domain;
#: ``"fit"`` likewise, but only from the requests the domain's GPUs could serve at all (kind and mode,
#: GPU model, MIG profile), each pass over the domains a further slice (see :func:`_offer`).
OFFER_RULE = "fit"
#: Sequential LNS by domain under a wall-clock limit: passes visit the domains with the most idle room
#: first, each sub-problem with at least SUB_MIN_S wall seconds. Off: the domains in name order, the
#: time shared equally by all sub-problems of the planned passes (at 16,384 GPUs about 1 s each, too
#: short for CP-SAT to improve a pod's hint: inference2048-0, 127 sub-problems added 0.11 in 140 s;
#: at a fixed deterministic 0.3 s a pod added 0.02, at 1.0 s 1.3; bench/RESULTS_suite.md, session 13).
BY_VALUE = True
SUB_MIN_S = 3.0
#: Wall seconds a sub-problem of a parallel round gets at least (without a deterministic budget): a
#: pod of the haein mix (32 nodes, about 180 requests) takes about a second of CPU to build and
#: presolve (bench/RESULTS_ray.md); with less, a round solves fewer domains instead.
MIN_SUB_S = 2.0
#: Seconds before a parallel round's time-out at which its tasks stop (to convert and send their plans).
STOP_MARGIN_S = 1.5


def coarsest_level(inst: Instance) -> str:
    """The coarsest listed topology level (the decomposition's unit), or ``node``."""
    return inst.cluster_topology.levels[-2]


def lns_by_domain(
    inst: Instance,
    incumbent: Mapping[str, Sequence[Unit]],
    *,
    deadline: float,
    solve_sub: Callable[[Instance, Plan | None, float, float | None], Plan],
    level: str | None = None,
    rounds: int = 2,
    det: float | None = None,
    only: Sequence[str] | None = None,
) -> tuple[dict[str, list[Unit]], dict[str, float]]:
    """Improves ``incumbent`` (request id → units) domain by domain until ``deadline`` (perf_counter).

    ``rounds`` passes over the domains share the time; when they end early (sub-problems solved before
    their share) and the last pass improved something, further passes take what is left, each domain
    offered a different slice of the unplaced requests. ``det`` (reproducible runs): a deterministic
    time budget shared equally by the sub-problems of exactly ``rounds`` passes; the deadline then only
    acts as a safety stop. ``only``: the domains to visit (default all; benchmarks and tests).

    With :data:`BY_VALUE` (and no ``det``: reproducible runs keep name order and equal shares) each pass
    visits the domains with the most idle room first (:func:`idle_room`) and gives each sub-problem at
    least :data:`SUB_MIN_S` wall seconds, so that when time is short the domains with the least room
    are the ones left out, rather than every sub-problem cut too short to improve on its hint.
    """
    level = level or coarsest_level(inst)
    placed: dict[str, list[Unit]] = {rid: list(us) for rid, us in incumbent.items()}
    domains = inst.cluster_topology.domains(level)
    names = sorted(domains) if only is None else sorted(set(only) & set(domains))
    stats: dict[str, float] = {"domains": len(names), "subproblems": 0, "improved": 0, "rounds": 0,
                               "optimal": 0, "gain": 0.0, "sub_s": 0.0, "build_s": 0.0}
    sub_det = None if det is None else det / max(1, len(names) * rounds)
    by_value = BY_VALUE and det is None
    # Building a sub-instance and merging its plan happen outside the sub-problem's budget: keep the
    # longest of each seen so far back from the deadline (on xl about a second together).
    build_s = merge_s = 0.0
    k = 0
    improved_last = False
    while k < rounds or (det is None and improved_last):
        improved_last = False
        stats["rounds"] = k + 1
        planned = k < rounds
        order = names
        if by_value:
            room = idle_room(inst, placed, {d: domains[d] for d in names})
            order = sorted(names, key=lambda d: (-room[d], d))
        for i, d in enumerate(order):
            t0 = time.perf_counter()
            if deadline - t0 - build_s - merge_s <= 0.2:
                return placed, _rounded(stats)
            # Passes beyond the planned ones ("rank": every pass with "fit") offer each domain the next
            # slices of the unplaced requests.
            offset = i if planned and OFFER_RULE == "rank" else i + k * len(order)
            sub, hint = _sub_instance(inst, placed, set(domains[d]), offset=offset, rule=OFFER_RULE)
            t1 = time.perf_counter()
            build_s = max(build_s, t1 - t0)
            stats["build_s"] += t1 - t0
            if not sub.requests:
                continue
            left = deadline - t1 - merge_s
            if left <= 0.2:
                return placed, _rounded(stats)
            # The planned passes share the time equally; a pass beyond them takes what is left.
            todo = (rounds - k) * len(order) - i if planned else len(order) - i
            budget = left / max(1, todo)
            if by_value:
                budget = min(left, max(budget, SUB_MIN_S))
            if sub_det is not None:
                budget = left  # the deterministic budget decides; the clock is a safety stop
            plan = solve_sub(sub, hint, budget, sub_det)
            stats["subproblems"] += 1
            t2 = time.perf_counter()
            stats["sub_s"] += t2 - t1
            stats["optimal"] += plan.status == "optimal"
            if _no_worse(plan, hint) and _merge(inst, sub, plan, placed):
                stats["improved"] += 1
                stats["gain"] += plan.objective - (hint.objective if hint is not None else 0.0)
                improved_last = True
            merge_s = max(merge_s, time.perf_counter() - t2)
        k += 1
    return placed, _rounded(stats)


def idle_room(inst: Instance, placed: Mapping[str, Sequence[Unit]],
              domains: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """GPU-equivalents of room in each domain that waiting work could use: on every GPU that holds
    work of a kind some unplaced request asks for, what that work leaves free (compute slices of a MIG
    GPU, milli of a shared one); and every free GPU whose configured mode serves such a kind."""
    wanted = {r.kind for r in inst.requests if r.id not in placed and r.kind != "host"}
    modes = {MODE_OF_KIND[k] for k in wanted}
    used: dict[tuple[str, int], float] = defaultdict(float)
    kind_on: dict[tuple[str, int], str] = {}
    for rid, units in placed.items():
        r = inst.request(rid)
        if r.kind == "host":
            continue
        for u in units:
            used[(u.node, u.gpu)] += inst.unit_size(r, u)  # type: ignore[index]
            kind_on[(u.node, u.gpu)] = r.kind  # type: ignore[index]
    node_of = {n.id: n for n in inst.nodes}
    out: dict[str, float] = {}
    for d, nids in domains.items():
        room = 0.0
        for nid in nids:
            n = node_of[nid]
            for g in range(n.num_gpus):
                x = used.get((nid, g), 0.0)
                if x > 0.0:
                    if kind_on[(nid, g)] in wanted:
                        room += max(0.0, 1.0 - x)
                elif n.gpu_mode(g) in modes or (wanted and n.gpu_mode(g) == "any"):
                    room += 1.0
        out[d] = room
    return out


def _rounded(stats: dict[str, float]) -> dict[str, float]:
    """``stats`` with its float figures rounded for the plan's solver info."""
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in stats.items()}


@dataclass(frozen=True)
class SubJob:
    """One sub-problem of a parallel round, everything a task needs (picklable, solved by a pure function).

    ``budget_s``: wall seconds from the task's start; ``det``: CP-SAT's deterministic budget (reproducible
    runs) or None; ``stop_at``: the wall clock (``time.time()``) at which the task stops whatever is left.
    """

    domain: str
    instance: Instance
    hint: Plan | None
    budget_s: float
    det: float | None
    stop_at: float


@dataclass(frozen=True)
class _Share:
    """What one domain of a parallel round gets (see :func:`_round_shares`)."""

    candidates: list[Request]
    offer: list[Request]
    used: dict[str, float]
    moved: int
    withheld: dict[str, float]
    withheld_moves: int


def lns_by_domain_parallel(
    inst: Instance,
    incumbent: Mapping[str, Sequence[Unit]],
    *,
    deadline: float,
    solve_batch: Callable[[list[SubJob], float], list[Plan | None]],
    parallel: int,
    level: str | None = None,
    rounds: int = 2,
    det: float | None = None,
) -> tuple[dict[str, list[Unit]], dict[str, float]]:
    """LNS by domain in rounds whose sub-problems are solved side by side (e.g. as Ray tasks).

    Every sub-problem of a round is built from the same plan: each domain gets a disjoint slice of
    the unplaced requests and an equal part of each tenant's unused quota and of the unused migration
    cap (the rest is kept back for the other domains), so the sub-plans merge into a valid whole in
    any order. ``solve_batch(jobs, timeout)`` solves them (None for one not finished in time); the
    answers are merged in domain order, each only if the totals stay within quotas and the migration
    cap. ``parallel``: sub-problems solved at once, which sets each one's share of the time. With
    ``det`` every sub-problem gets ``det / (domains × rounds)`` deterministic time and the result
    does not depend on ``parallel`` or on timing. Without it, rounds beyond ``rounds`` take the time
    that is left while one of the rounds over the last turn of all domains improved the plan; each
    offers the domains the next slices of the unplaced requests.
    """
    level = level or coarsest_level(inst)
    placed: dict[str, list[Unit]] = {rid: list(us) for rid, us in incumbent.items()}
    domains = inst.cluster_topology.domains(level)
    order = sorted(domains)
    stats: dict[str, float] = {"domains": len(order), "chosen": 0, "subproblems": 0, "improved": 0, "rejected": 0,
                               "timed_out": 0, "parallel": parallel, "rounds": 0, "build_s": 0.0,
                               "solve_s": 0.0, "merge_s": 0.0, "sub_s": 0.0, "sub_max_s": 0.0}
    sub_det = None if det is None else det / max(1, len(order) * rounds)
    build_s = merge_s = 0.0
    cursor = 0
    rnd = 0
    idle = 0  # domains solved since the last round that improved the plan
    # Rounds beyond the planned ones (never under a deterministic budget) go on while time is left and
    # some round within the last turn over all domains improved the plan.
    while rnd < rounds or (sub_det is None and idle < len(order)):
        t0 = time.perf_counter()
        if deadline - t0 - build_s - merge_s <= 0.5:
            break
        planned_left = max(1, rounds - rnd)  # rounds still to share the time (this one, past the plan)
        # As many domains as get MIN_SUB_S each in this round's share of the time (all of them with a
        # deterministic budget), the next ones in each round.
        fit = len(order)
        if sub_det is None:
            fit = min(fit, max(parallel, int((deadline - t0 - build_s - merge_s) / planned_left
                                             * parallel / MIN_SUB_S)))
        chosen = sorted((order[cursor:] + order[:cursor])[:fit])
        cursor = (cursor + fit) % len(order)
        shares = _round_shares(inst, placed, domains, chosen, level, rnd)
        built = []
        for d in chosen:
            sub, hint = _sub_instance(inst, placed, set(domains[d]), 0, shares[d])
            if sub.requests:
                built.append((d, sub, hint))
        t1 = time.perf_counter()
        build_s = max(build_s, t1 - t0)
        stats["build_s"] += t1 - t0
        left = deadline - t1 - merge_s
        if left <= 0.5 or not built:
            break
        stats["rounds"] += 1
        stats["chosen"] += len(chosen)
        waves = -(-len(built) // max(1, parallel))
        budget = left / planned_left / waves
        if sub_det is not None:
            budget = left  # the deterministic budget decides; the clock is a safety stop
        # Tasks stop a little before the round's time-out so that their answers still arrive.
        stop_at = time.time() + left - min(STOP_MARGIN_S, 0.1 * left)
        jobs = [SubJob(d, sub, hint, budget, sub_det, stop_at) for d, sub, hint in built]
        plans = solve_batch(jobs, left)
        t2 = time.perf_counter()
        stats["solve_s"] += t2 - t1
        used, moved = _totals(inst, placed)
        improved_before = stats["improved"]
        for job, plan in zip(jobs, plans):
            if plan is None:
                stats["timed_out"] += 1
                continue
            stats["subproblems"] += 1
            took = float(plan.solver.wall_s or 0.0)
            stats["sub_s"] += took
            stats["sub_max_s"] = max(stats["sub_max_s"], took)
            if not _no_worse(plan, job.hint):
                stats["rejected"] += 1
                continue
            delta, dmoves = _change(inst, job.instance, plan, placed)
            if not _fits(inst, used, moved, delta, dmoves):
                stats["rejected"] += 1
                continue
            if _merge(inst, job.instance, plan, placed):
                stats["improved"] += 1
            for t, x in delta.items():
                used[t] += x
            moved += dmoves
        merge_s = max(merge_s, time.perf_counter() - t2)
        stats["merge_s"] += time.perf_counter() - t2
        idle = 0 if stats["improved"] > improved_before else idle + len(chosen)
        rnd += 1
    for k in ("build_s", "solve_s", "merge_s", "sub_s", "sub_max_s"):
        stats[k] = round(stats[k], 3)
    return placed, stats


def _no_worse(plan: Plan, hint: Plan | None) -> bool:
    """True when a sub-problem's ``plan`` is worth at least its ``hint`` (the incumbent restricted to it).

    A sub-solve may come back with less than it was handed (a hint CP-SAT could not complete in time,
    a stop before the first solution): merging that would make the whole plan worse.
    """
    return hint is None or plan.objective >= hint.objective - 1e-9


def _moved(r: Request, units: Sequence[Unit] | None) -> bool:
    """True when running request ``r`` sits elsewhere in ``units`` than where it runs."""
    return r.placement is not None and units is not None and not units_equal(r.placement, units)


def _totals(inst: Instance, placed: Mapping[str, Sequence[Unit]]) -> tuple[dict[str, float], int]:
    """GPU-equivalents each tenant uses in ``placed``, and how many running requests it moves."""
    used: dict[str, float] = defaultdict(float)
    moved = 0
    for r in inst.requests:
        units = placed.get(r.id)
        if units is None:
            continue
        used[r.tenant] += sum(inst.unit_size(r, u) for u in units)
        moved += _moved(r, units)
    return used, moved


def _round_shares(inst: Instance, placed: Mapping[str, Sequence[Unit]], domains: Mapping[str, list[str]],
                  order: list[str], level: str, rnd: int,
                  offers: Mapping[str, list[Request]] | None = None) -> dict[str, _Share]:
    """Each domain of ``order`` (this round's) gets its requests, its offer and its part of every slack.

    One pass over the requests finds the domains each placed request touches (the sequential search
    looks at every request for every domain, which on 512 pods is most of its time). The unplaced
    requests, the most valuable first, are dealt out in slices of at most OFFER, a different domain
    first in each round; ``offers`` (disjoint, per domain of ``order``): the caller's own deal instead.
    """
    node_dom = {nid: d for d in domains for nid in domains[d]}
    touching: dict[str, list[Request]] = defaultdict(list)
    for r in inst.requests:
        units = placed.get(r.id)
        if units:
            for d in sorted({node_dom[u.node] for u in units}):
                touching[d].append(r)  # (also for domains not in this round: never read)
    used, moved = _totals(inst, placed)
    n = len(order)
    if offers is None:
        waiting = [r for r in inst.requests if r.id not in placed and r.placement is None]
        waiting.sort(key=lambda r: (-r.priority, r.id))
        size = min(OFFER, -(-len(waiting) // n)) if waiting else 0
        offers = {d: waiting[((i + rnd) % n) * size:((i + rnd) % n + 1) * size] for i, d in enumerate(order)}
    # A tenant's unused quota is split equally among the domains whose sub-instance holds its work.
    present: dict[str, int] = defaultdict(int)
    for d in order:
        for t in {r.tenant for r in touching[d]} | {r.tenant for r in offers[d]}:
            present[t] += 1
    slack = {t.id: t.max_gpus - used[t.id] for t in inst.tenants if t.max_gpus is not None}
    mm = inst.objective.max_migrations
    free_moves = 0 if mm is None else max(0, mm - moved)
    out = {}
    for i, d in enumerate(order):
        held = {t: s - s / present[t] for t, s in slack.items() if s > 0 and present[t] > 0}
        mine = free_moves // n + (1 if i < free_moves % n else 0)
        out[d] = _Share(candidates=touching[d], offer=offers[d], used=dict(used), moved=moved,
                        withheld=held, withheld_moves=free_moves - mine)
    return out


def _change(inst: Instance, sub: Instance, plan: Plan,
            placed: Mapping[str, Sequence[Unit]]) -> tuple[dict[str, float], int]:
    """What merging ``plan`` would change: GPU-equivalents per tenant, and running requests moved."""
    return change_units(inst, sub, {a.request: a.units for a in plan.assignments}, placed)


def change_units(inst: Instance, sub: Instance, got: Mapping[str, Sequence[Unit]],
                 placed: Mapping[str, Sequence[Unit]]) -> tuple[dict[str, float], int]:
    """What writing a sub-instance's placement ``got`` (request id → units) back into ``placed`` would
    change: GPU-equivalents per tenant, and running requests moved."""
    delta: dict[str, float] = defaultdict(float)
    dmoves = 0
    for r in sub.requests:
        orig = inst.request(r.id)
        if r.placement is not None and not r.movable and not (r.count == orig.count and orig.placement is not None
                                                              and units_equal(orig.placement, r.placement)):
            continue  # pinned crossing work: unchanged by the merge
        old, new = placed.get(r.id), got.get(r.id)
        delta[r.tenant] += (sum(inst.unit_size(orig, u) for u in new or ())
                            - sum(inst.unit_size(orig, u) for u in old or ()))
        dmoves += _moved(orig, new) - _moved(orig, old)
    return delta, dmoves


def _fits(inst: Instance, used: Mapping[str, float], moved: int, delta: Mapping[str, float], dmoves: int) -> bool:
    """True when a merge that changes usage by ``delta`` and moves by ``dmoves`` keeps every tenant
    within its quota and the moves within the cap.

    The round's split of the slack already ensures it; this is the guard that keeps a rounding
    slip from ever reaching the plan.
    """
    for t in inst.tenants:
        d = delta.get(t.id, 0.0)
        if t.max_gpus is not None and d > 0 and used.get(t.id, 0.0) + d > t.max_gpus + 1e-9:
            return False
    mm = inst.objective.max_migrations
    return mm is None or dmoves <= 0 or moved + dmoves <= mm


def _sub_instance(inst: Instance, placed: Mapping[str, Sequence[Unit]], nodes: set[str],
                  offset: int, share: _Share | None = None, offer: int = OFFER,
                  rule: str = "rank") -> tuple[Instance, Plan | None]:
    """The sub-instance of one domain, and the incumbent restricted to it as a hint plan.

    ``share`` (parallel rounds): the requests touching the domain, its own offer, and the quota and
    migration slack kept back for the other domains of the round; None: the whole slack, every
    request looked at, a rotating slice of ``offer`` unplaced ones offered (the ``offset``-th; ``rule``:
    see :data:`OFFER_RULE`).
    """
    from packer.cpsat.border import fix_modes, nodes_with_modes, split_at_border
    from packer.model import Assignment, SolverInfo

    reqs: list[Request] = []
    used_out: dict[str, float] = defaultdict(float)
    used_in: dict[str, float] = defaultdict(float)
    moved_out = 0
    moved_here = 0
    hint_units: dict[str, list[Unit]] = {}
    split = list(split_at_border(inst, inst.requests if share is None else share.candidates, placed, nodes,
                                 used_out))
    # GPUs that hold work pinned in the sub-instance (crossing the border, or running work moved in from
    # outside): running work the incumbent moved within the domain must not run at home on one of them
    # (the sub-instance would hold two running units on the same GPU, which no instance file may).
    pinned_gpus = {(u.node, u.gpu) for r, inside, outside in split if inside and r.placement is not None
                   and not outside and not all(u.node in nodes for u in r.placement) for u in inside}
    pinned_gpus |= {(u.node, u.gpu) for _r, inside, outside in split if inside and outside for u in inside}
    # Such work is pinned where it is now, and its GPUs join the pinned ones (a chain of moves within
    # the domain can make another's home taken in turn).
    moved_within = {r.id: (r, inside) for r, inside, outside in split
                    if inside and not outside and r.placement is not None and not units_equal(r.placement, inside)
                    and all(u.node in nodes for u in r.placement)}
    home_taken_ids: set[str] = set()
    grew = True
    while grew:
        grew = False
        for r, inside in moved_within.values():
            if r.id not in home_taken_ids and any((u.node, u.gpu) in pinned_gpus for u in r.placement):
                home_taken_ids.add(r.id)
                pinned_gpus |= {(u.node, u.gpu) for u in inside}
                grew = True
    fixed_modes: dict[tuple[str, int], str] = {}
    for r, inside, outside in split:
        units = placed[r.id]
        for u in inside:
            used_in[r.tenant] += inst.unit_size(r, u)
        home_taken = r.id in home_taken_ids
        if r.id in moved_within and not home_taken:
            moved_here += 1
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
            fix_modes(inst, r, inside, fixed_modes)
        elif r.placement is not None and all(u.node in nodes for u in r.placement) and not home_taken:
            reqs.append(r)  # running, wholly here: moves only within the domain
        elif r.placement is not None:
            # Running work already moved into this domain from outside, or moved within it off a GPU
            # that pinned work now holds: stays at its new place.
            moved_out += 1
            reqs.append(r.model_copy(update={
                "count": len(inside), "min_count": None, "placement": tuple(inside), "movable": False,
                "migration_cost": None,
            }))
            fix_modes(inst, r, inside, fixed_modes)
        else:
            reqs.append(r)
        hint_units[r.id] = inside
    if share is not None:
        # Only the requests touching the domain were looked at: the rest of the plan from the totals.
        used_out = defaultdict(float, {t: share.used[t] - used_in[t] for t in share.used})
        moved_out = share.moved - moved_here
        reqs.extend(share.offer)
    else:
        # Unplaced requests on offer: the most valuable first, a different slice for each domain.
        waiting = [r for r in inst.requests if r.id not in placed and r.placement is None]
        if rule in ("fit", "dense"):
            serves = _serves(inst, nodes)
            waiting = [r for r in waiting if _servable(inst, r, serves)]
        if rule == "dense":
            dense = _density(inst)
            waiting.sort(key=lambda r: (-r.priority, -dense(r), r.id))
        else:
            waiting.sort(key=lambda r: (-r.priority, r.id))
        reqs.extend(_offer(waiting, offset, offer))
    keep = {r.tenant for r in reqs}
    tenants = []
    for t in inst.tenants:
        if t.id not in keep:
            continue
        held = 0.0 if share is None else share.withheld.get(t.id, 0.0)
        cap = None if t.max_gpus is None else max(0.0, t.max_gpus - used_out[t.id] - held)
        tenants.append(Tenant(id=t.id, max_gpus=cap, isolation=t.isolation))
    mm = inst.objective.max_migrations
    held_moves = 0 if share is None else share.withheld_moves
    weights = ObjectiveWeights(
        locality_weight=inst.objective.locality_weight,
        migration_weight=inst.objective.migration_weight,
        max_migrations=None if mm is None else max(0, mm - moved_out - held_moves),
    )
    # Node-isolated tenants outside this domain are irrelevant: isolation is per node.
    sub = Instance(
        name=f"{inst.name}/sub", catalog=inst.catalog, topology=inst.topology,
        nodes=nodes_with_modes(inst, nodes, fixed_modes), tenants=tuple(tenants),
        requests=tuple(reqs), objective=weights,
    )
    # The hint's true objective in the sub-instance: the monolithic solve hands the hint back when its
    # own plan is worth less, and the merge keeps only sub-plans worth at least this.
    hint = Plan(
        instance=sub.name, status="feasible", objective=objective_value(sub, hint_units),
        solver=SolverInfo(name="incumbent"),
        assignments=tuple(Assignment(request=rid, units=tuple(us)) for rid, us in hint_units.items()),
    )
    return sub, hint


def _offer(waiting: list[Request], offset: int, offer: int) -> list[Request]:
    """The ``offset``-th slice of ``offer`` requests of ``waiting`` (rotating: it wraps around)."""
    if not waiting:
        return []
    k = (offset * offer) % len(waiting)
    return (waiting[k:] + waiting[:k])[:offer]


def _density(inst: Instance) -> Callable[[Request], float]:
    """GPU-equivalents a request asks per share of a mean node it takes (the largest of its GPUs',
    CPU's and memory's shares): among requests of one priority, the ones that leave most room."""
    gpus = [n for n in inst.nodes if n.num_gpus]
    n = max(1, len(gpus))
    cpu = sum(x.cpu_milli or 0 for x in gpus) / n
    mem = sum(x.memory_mib or 0 for x in gpus) / n
    per = sum(x.num_gpus for x in gpus) / n

    def dense(r: Request) -> float:
        size = inst.request_unit_size(r) if r.kind != "host" else 0.0
        take = max(size / per if per else 0.0, r.cpu_milli / cpu if cpu else 0.0, r.memory_mib / mem if mem else 0.0)
        return size / take if take > 0 else 0.0

    return dense


def _serves(inst: Instance, nodes: set[str]) -> set[tuple[str, str | None]]:
    """The (request kind, GPU model) pairs some GPU of ``nodes`` can hold by its configured mode
    (``any``: every kind; ``mig`` only on a model with MIG profiles); ``("host", None)`` always."""
    out: set[tuple[str, str | None]] = {("host", None)}
    for n in inst.nodes:
        if n.id not in nodes or not n.num_gpus:
            continue
        model = inst.model_of(n)
        for g in range(n.num_gpus):
            mode = n.gpu_mode(g)
            for kind, m in MODE_OF_KIND.items():
                if mode in (m, "any") and (kind != "mig" or (model is not None and model.has_mig)):
                    out.add((kind, n.gpu_model))
    return out


def _servable(inst: Instance, r: Request, serves: set[tuple[str, str | None]]) -> bool:
    """True when some GPU that ``serves`` lists could hold a unit of ``r`` (kind, mode, model, profile).

    A necessary condition only (room, quotas, isolation and host resources are the sub-problem's):
    a request it rules out could not be placed in the domain whatever the rest of the plan."""
    if r.kind == "host":
        return True
    for kind, model in serves:
        if kind != r.kind or (r.gpu_models is not None and model not in r.gpu_models):
            continue
        if r.kind == "mig":
            m = inst.gpu_catalog.get(model) if model else None
            if m is None:
                continue
            if r.profile is not None and m.profile(r.profile) is None:
                continue
            if r.slices is not None and not m.profiles_for_slices(r.slices, r.min_memory_gib):
                continue
        return True
    return False


def _merge(inst: Instance, sub: Instance, plan: Plan, placed: dict[str, list[Unit]]) -> bool:
    """Writes the sub-plan's answer back; True when it changed anything."""
    return merge_units(inst, sub, {a.request: list(a.units) for a in plan.assignments}, placed)


def merge_units(inst: Instance, sub: Instance, got: Mapping[str, Sequence[Unit]], placed: dict[str, list[Unit]]) -> bool:
    """Writes a sub-instance's placement ``got`` (request id → units) back into ``placed``, work that
    crosses the sub-instance's border left as it is; True when it changed anything."""
    changed = False
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
            placed[r.id] = list(new)
            changed = True
    return changed
