"""A move step for big gangs: clear the nodes a waiting whole-GPU gang needs, place it, re-place what it displaced.

The CP-SAT region steps of :mod:`packer.cpsat.reopt` free 8-32 nodes at a time, and the displaced
running work must land inside the region. A gang of 32-64 whole GPUs with required rack or pod
locality needs four to eight nodes cleared and the 30-60 GPUs of running work on them re-placed
anywhere in a cluster 91-97% full: no region holds both (bench/RESULTS_reopt.md, "Session 8").

This step does it without CP-SAT, on the online placer's state (:class:`packer.online.OnlinePlacer`,
first-fit), which checks every rule (modes, MIG geometry, host resources, quotas, isolation):

1. a waiting whole-GPU request, drawn by value (priority × GPUs, times the LP guide's weight);
2. a domain of its required locality level (the whole cluster without one), drawn by the units the
   LP puts there, else by the free plus movable whole-GPU room there;
3. the fewest nodes of that domain whose GPUs without pinned work (of a mode whole GPUs may use)
   cover the gang, cheapest to clear first (least movable work per usable GPU);
4. every movable running request and every placed waiting request with a unit on those GPUs is
   released, the gang is placed, then each released request goes back exactly where it was when
   the gang did not take its GPUs (no move), else first-fit anywhere; a running request that finds no
   room fails the step, waiting work that finds none waits again;
5. the freed room is then offered to the other waiting requests, dearest first.

The caller keeps the result only when it is valid (:func:`packer.check`), within the migration cap,
and better; the CP-SAT steps then refine around it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from packer.cpsat.lpguide import Guide
from packer.model import Instance, Request, Unit

#: Share of move steps that are gang steps while a whole-GPU request waits (reopt.move_steps).
GANG_SHARE = 0.25
#: Gang steps on (the A/B arm: bench/bench_reopt_gang.py).
GANG = True
#: The online policy that places the gang and re-places the work it displaces.
POLICY = "best-fit"
#: Draws of a domain and nodes to clear per gang step (alternately keeping running work that spans
#: nodes and clearing it at its whole size's cost); the best result is returned.
TRIES = 4
#: Placed waiting work the displaced running work may push out, per try: only work of the lowest
#: priority below the gang's, then of the two lowest, ..., up to this many tiers, then all of it (the
#: session-9 step); the best result is kept. With all of it lifted, best-fit put the running work
#: displaced by an 8-GPU gang of priority 2 onto the GPUs of a placed 16-GPU gang of priority 2,
#: which went out again: a loss of 8.8 for a gang the LP places whole (haein-5, session 10). 0: off.
VICTIM_TIERS = 2
#: A gang step loads the current plan into one placer and gives each try a fork of it with the lifted
#: work released, instead of a new placer loaded per try (TRIES × (VICTIM_TIERS + 1) of them), and
#: reads the free room once per try kind; untouched work keeps its units as they were. Same results
#: (tests/test_reopt_gang.py); on a 128-node block of fragmented-100 at 16,384 GPUs (1,599
#: requests) a gang step took 3.9 s, most of it loading placers. False: the old way (the A/B arm).
FORK = True
#: Session 23 (with FORK): a gang step's TRIES × (tiers + 1) tries share what depends only on the plan (the
#: placed waiting work each victim tier lifts; the tenants on each node), and a try's result is read from
#: its fork (its value by what changed) without building the whole plan, which only the best try gets. At
#: 1,024 GPUs building each try's ~1,100-request plan was ~15 % of a gang step, the two per-plan scans
#: ~10 %; releasing the lifted work, which tiers could share too, ~4 % (bench/RESULTS_reopt.md, session 23).
#: Same results (tests/test_reopt_s23.py). False: each try does it all itself (the A/B arm).
LAZY = True
_WHOLE_MODES = ("full", "any")


def running_use(inst: Instance, cur: Mapping[str, Sequence[Unit]],
                sizes: Callable[[str, Sequence[Unit]], Sequence[float]] | None = None) -> dict[str, float]:
    """GPU-equivalents each tenant's running work takes in ``cur`` (0 for a tenant without any).
    ``sizes``: each request's unit sizes (e.g. remembered, :meth:`packer.cpsat.reopt_base.BaseCache.unit_sizes`;
    the same numbers summed in the same order); None: ``Instance.unit_size`` per unit."""
    used: dict[str, float] = defaultdict(float)
    for rid, units in cur.items():
        r = inst.request(rid)
        if r.placement is not None:
            used[r.tenant] += sum(inst.unit_size(r, u) for u in units) if sizes is None else sum(sizes(rid, units))
    return used


def gangs(inst: Instance, cur: Mapping[str, Sequence[Unit]], used: Mapping[str, float] | None = None) -> list[Request]:
    """The waiting requests a gang step can aim at: whole-GPU requests of more than one unit whose
    tenant's quota, less what its running work uses (a gang step lifts placed waiting work), holds them.
    ``used``: :func:`running_use` of ``cur``, already summed."""
    used = running_use(inst, cur) if used is None else used
    out = []
    for r in inst.requests:
        if r.id in cur or r.kind != "gpu" or r.count <= 1:
            continue
        t = inst.tenant_map.get(r.tenant)
        if t is not None and t.max_gpus is not None and t.max_gpus - used[r.tenant] < r.need_count - 1e-9:
            continue
        out.append(r)
    return out


def _value(r: Request, guide: Guide | None) -> float:
    return (r.priority * r.count + 1e-3) * (1.0 if guide is None else guide.weight(r.id))


def pick_gang(rng: random.Random, cands: Sequence[Request], guide: Guide | None) -> Request:
    """A gang drawn with weight priority × GPUs (times the guide's weight)."""
    return rng.choices(list(cands), weights=[_value(r, guide) for r in cands], k=1)[0]


def _gpu_use(inst: Instance, cur: Mapping[str, Sequence[Unit]], keep_wide: bool = False,  # type: ignore[no-untyped-def]
             cache=None):
    """(GPUs a gang step keeps, {(node, gpu): ids of freeable work there}, cost of clearing each GPU).
    Kept: pinned work, and with ``keep_wide`` running work on more than one node. A GPU's cost is the
    whole size of each request on it (it all moves, and bigger work is harder to re-place: a node
    holding one 8-GPU gang costs 8 a GPU, one of 1-GPU jobs 1; a 64-GPU pod gang 64 a GPU, so another
    pod gang is cleared for it only where nothing cheaper covers it). ``cache``: a
    :class:`packer.cpsat.reopt_base.BaseCache` whose remembered unit sizes are used (the same sums)."""
    pinned: set[tuple[str, int]] = set()
    free_of: dict[tuple[str, int], set[str]] = defaultdict(set)
    size: dict[tuple[str, int], float] = defaultdict(float)
    for rid, units in cur.items():
        r = inst.request(rid)
        fixed = r.placement is not None and (not r.movable or (keep_wide and len({u.node for u in units}) > 1))
        whole = sum(inst.unit_size(r, u) for u in units) if cache is None else sum(cache.unit_sizes(rid, units))
        for u in units:
            if u.gpu is None:
                continue
            key = (u.node, u.gpu)
            if fixed:
                pinned.add(key)
            else:
                free_of[key].add(rid)
                size[key] += whole
    return pinned, free_of, size


def clear_nodes(inst: Instance, gang: Request, cur: Mapping[str, Sequence[Unit]], rng: random.Random,
                guide: Guide | None = None, keep_wide: bool = False, use=None) -> list[str]:  # type: ignore[no-untyped-def]
    """The nodes to clear for ``gang``: in one domain of its required locality level (drawn by the
    LP's units there, else by usable room), the fewest nodes whose usable GPUs (a whole-GPU mode, no
    pinned work; with ``keep_wide`` no running work on several nodes) cover its units, cheapest to clear
    first (:func:`_gpu_use`; ``use``: its answer for these arguments, already computed). Empty when no
    domain can."""
    pinned, _, size = use if use is not None else _gpu_use(inst, cur, keep_wide)
    allowed = inst.allowed_models(gang)
    usable: dict[str, list[int]] = {}
    cost: dict[str, float] = {}
    for n in inst.nodes:
        if not n.num_gpus or (allowed is not None and n.gpu_model not in allowed):
            continue
        gs = [g for g in range(n.num_gpus) if n.gpu_mode(g) in _WHOLE_MODES and (n.id, g) not in pinned]
        if gs:
            usable[n.id] = gs
            cost[n.id] = sum(size[(n.id, g)] for g in gs) / len(gs)
    need = gang.count
    loc = gang.locality
    level = loc.level if loc is not None and loc.required and loc.level != "node" else None
    doms: dict[str, list[str]] = defaultdict(list)
    for nid in sorted(usable):
        doms["*" if level is None else inst.domain(inst.node(nid), level)].append(nid)
    names = [d for d in sorted(doms) if sum(len(usable[nid]) for nid in doms[d]) >= need]
    if not names:
        return []
    lp = {} if guide is None else guide.where(gang.id)
    w = [sum(lp.get(nid, 0.0) for nid in doms[d]) + 1e-3 * sum(len(usable[nid]) / (1.0 + cost[nid])
                                                                for nid in doms[d]) for d in names]
    d = rng.choices(names, weights=w, k=1)[0]
    # cheapest first, ties broken at random (the next draw of the same gang tries other nodes)
    order = sorted(doms[d], key=lambda nid: (round(cost[nid], 3) - 0.5 * lp.get(nid, 0.0) / max(1, len(usable[nid])),
                                             rng.random()))
    out: list[str] = []
    got = 0
    for nid in order:
        if got >= need:
            break
        if loc is not None and loc.required and loc.level == "node" and len(usable[nid]) < need:
            continue
        out.append(nid)
        got += len(usable[nid])
    return out if got >= need else []


def gang_step(inst: Instance, cur: Mapping[str, Sequence[Unit]], gang: Request, rng: random.Random,
              waiting: Sequence[Request], guide: Guide | None = None, policy: str = POLICY,
              cache=None,  # type: ignore[no-untyped-def]
              ) -> tuple[dict[str, list[Unit]] | None, dict[str, object]]:
    """The best of TRIES :func:`clear_and_place` (by objective, in its info's ``value``), or None with
    the last failure. ``cache``: the move steps' :class:`packer.cpsat.reopt_base.BaseCache`, whose placer
    (loaded with ``cur``) the tries fork with reopt_base.SHARED."""
    from packer.plans import objective_value

    best: tuple[float, dict[str, list[Unit]], dict[str, object]] | None = None
    info: dict[str, object] = {}
    best_all: float | None = None  # the best result with all placed waiting work liftable (tier None)
    tiers: list[float | None] = [None]
    if VICTIM_TIERS:
        below = sorted({r.priority for rid in cur if (r := inst.request(rid)).placement is None
                        and r.priority < gang.priority})
        tiers = [*below[:VICTIM_TIERS], None]
    base = None
    now = 0.0  # cur's objective (FORK: each try's value is cur's plus what changed)
    if FORK:
        from packer.cpsat import reopt_base

        shared = reopt_base.SHARED and cache is not None and cache.policy == policy
        now = cache.objective(cur) if shared else objective_value(inst, cur)
        base = cache.get(cur) if shared else reopt_base.fresh(inst, cur, policy)
    uses: dict[bool, object] = {}
    sized = cache if cache is not None and reopt_base_sizes() else None
    shared = _Shared(inst, cur, tiers) if FORK and LAZY else None
    for k in range(TRIES):
        kw = k % 2 == 0
        if FORK and kw not in uses:
            uses[kw] = _gpu_use(inst, cur, kw, cache=sized)
        use = uses.get(kw)
        nodes = clear_nodes(inst, gang, cur, rng, guide, kw, use=use)
        for tier in tiers:
            out, info = clear_and_place(inst, cur, gang, rng, waiting, guide, policy, keep_wide=kw,
                                        nodes=nodes, victims=tier, base=base, use=use, shared=shared)
            if out is not None:
                v = (objective_value(inst, out) if base is None
                     else _value_after(inst, cur, now, out, info.pop("kept")))  # type: ignore[arg-type]
                if tier is None and (best_all is None or v > best_all):
                    best_all = v
                if best is None or v > best[0]:
                    info["victims"] = tier
                    best = (v, out, info)
    if best is None:
        return None, info
    if isinstance(best[1], _Tried):
        best = (best[0], best[1].plan(), best[2])
    best[2]["value"] = best[0]
    # What the tiers bought this step: the best result's value above the best all-victims result's
    # (None: no all-victims try gave a result), for the re-optimizer's statistics.
    best[2]["tier_gain"] = None if best_all is None else best[0] - best_all
    return best[1], best[2]


class _Shared:
    """What a gang step's tries share (LAZY): for each victim tier, the placed waiting work it lifts; for
    each node, how many units of each tenant ``cur`` has there."""

    def __init__(self, inst: Instance, cur: Mapping[str, Sequence[Unit]], tiers: Sequence[float | None]) -> None:
        self.lift: dict[float | None, set[str]] = {}
        for tier in tiers:
            self.lift[tier] = {rid for rid in cur if (r := inst.request(rid)).placement is None
                               and (tier is None or r.priority <= tier)}
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for rid, units in cur.items():
            t = inst.request(rid).tenant
            for u in units:
                self.counts[u.node][t] += 1

    def tenants_on(self, inst: Instance, cur: Mapping[str, Sequence[Unit]], lifted: Sequence[str]
                   ) -> dict[str, set[str]]:
        """The tenants on each node once ``lifted`` is released: what the try's own scan of the placer found."""
        minus: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for rid in lifted:
            t = inst.request(rid).tenant
            for u in cur[rid]:
                minus[u.node][t] += 1
        out: dict[str, set[str]] = defaultdict(set)
        for nid, per in self.counts.items():
            less = minus.get(nid)
            out[nid] = {t for t, c in per.items() if c > 0} if less is None else \
                {t for t, c in per.items() if c - less.get(t, 0) > 0}
        return out


class _Tried:
    """A try's result read from its fork (LAZY): ``items`` in the plan's order, the plan built on demand."""

    def __init__(self, placer, own: Mapping[str, Sequence[Unit]]) -> None:  # type: ignore[no-untyped-def]
        self.placer = placer
        self.own = own
        self.order = list(placer.placed_ids())

    def items(self):  # type: ignore[no-untyped-def]
        own, placer = self.own, self.placer
        for rid in self.order:
            mine = own.get(rid)
            yield rid, (placer.units(rid) if mine is None else mine)

    def plan(self) -> dict[str, list[Unit]]:
        own, placer = self.own, self.placer
        return {rid: list(own[rid]) if rid in own else list(placer.units(rid)) for rid in self.order}


def reopt_base_sizes() -> bool:
    """reopt_base.SIZES (read at call time: the A/B benches turn it)."""
    from packer.cpsat import reopt_base

    return reopt_base.SIZES


def clear_and_place(inst: Instance, cur: Mapping[str, Sequence[Unit]], gang: Request, rng: random.Random,
                    waiting: Sequence[Request], guide: Guide | None = None, policy: str = POLICY,
                    keep_wide: bool = False, nodes: Sequence[str] | None = None,
                    victims: float | None = None, base=None, use=None,  # type: ignore[no-untyped-def]
                    shared: _Shared | None = None,
                    ) -> tuple[dict[str, list[Unit]] | None, dict[str, object]]:
    """``cur`` with ``gang`` placed on cleared nodes and the displaced work re-placed (module doc),
    or None when it does not fit; the caller checks validity, the migration cap and the gain.

    Placed waiting work anywhere is lifted too (it has no place to keep), so that displaced running
    work finds room first; each lifted request then goes back exactly where it was unless new work
    took one of its GPUs (or its node's host room or isolation no longer allows it), else by
    ``policy`` anywhere, dearest first; then the other waiting requests, dearest first.

    ``nodes``: the nodes to clear (default: :func:`clear_nodes`' draw). ``victims``: lift only the
    placed waiting work of at most that priority (and what lies on the cleared nodes), so that the
    displaced running work can only take the room of cheaper work (None: all of it, as before).
    ``base``: a placer holding all of ``cur`` (FORK), forked here; ``use``: :func:`_gpu_use`'s answer
    for ``cur`` and ``keep_wide``. ``shared`` (LAZY, with ``base``): the step's :class:`_Shared`; the result is then a :class:`_Tried` (its
    ``items`` the plan's, :meth:`_Tried.plan` the plan).
    """
    from packer.online import OnlinePlacer

    info: dict[str, object] = {"gang": gang.id, "units": gang.count}
    if nodes is None:
        nodes = clear_nodes(inst, gang, cur, rng, guide, keep_wide)
    if not nodes:
        info["fail"] = "no domain"
        return None, info
    _, free_of, _ = use if use is not None else _gpu_use(inst, cur, keep_wide)
    chosen = set(nodes)
    displaced = sorted({rid for (nid, _g), ids in free_of.items() if nid in chosen for rid in ids})
    if shared is not None and base is not None and victims in shared.lift:
        lifted = sorted(set(displaced) | shared.lift[victims])
    else:
        shared = None
        lifted = sorted(set(displaced) | {rid for rid in cur if (r := inst.request(rid)).placement is None
                                          and (victims is None or r.priority <= victims)})
    info["nodes"] = len(nodes)
    info["displaced"] = len(displaced)
    lift = set(lifted)
    # Work placed exactly on its units in ``cur`` keeps them in the result (no round trip through the placer).
    own: dict[str, Sequence[Unit]] = {}
    if base is not None:
        placer = base.fork()
        for rid in lifted:
            placer.release(rid)
        own.update((rid, units) for rid, units in cur.items() if rid not in lift)
    else:
        placer = OnlinePlacer(inst, policy=policy, place_running=False)
        for rid, units in cur.items():
            if rid not in lift:
                placer._place_exact(inst.request(rid), units)
    if not placer.place(gang, explain=False).ok:
        info["fail"] = "gang"
        return None, info
    touched_gpus = {(u.node, u.gpu) for u in placer.units(gang.id)}
    touched_nodes = {u.node for u in placer.units(gang.id)}
    iso = {t.id for t in inst.tenants if t.isolation == "node"}
    tenants_on: dict[str, set[str]] = defaultdict(set)
    if shared is not None:  # cur less the lifted work (own: all the rest, on cur's units), then the gang
        tenants_on = shared.tenants_on(inst, cur, lifted)
        for u in placer.units(gang.id):
            tenants_on[u.node].add(gang.tenant)
    else:
        for rid in placer.placed_ids():
            mine = own.get(rid)
            for u in placer.units(rid) if mine is None else mine:
                tenants_on[u.node].add(inst.request(rid).tenant)

    def fits_back(r: Request, units: Sequence[Unit]) -> bool:
        if any((u.node, u.gpu) in touched_gpus for u in units if u.gpu is not None):
            return False
        on = [u for u in units if u.node in touched_nodes]
        if not on:
            return True
        for u in on:
            others = tenants_on[u.node] - {r.tenant}
            if others and (r.tenant in iso or any(t in iso for t in others)):
                return False
        return _host_room(placer, r, on)

    def put(r: Request, units: Sequence[Unit], exact: bool) -> None:
        nonlocal back
        if exact:
            back += 1
            if base is not None:
                own[r.id] = units
        else:
            touched_gpus.update((u.node, u.gpu) for u in units)
            touched_nodes.update(u.node for u in units)
        for u in units:
            tenants_on[u.node].add(r.tenant)

    # running work first (it must find room), biggest first; then lifted waiting work by value
    order = sorted((inst.request(rid) for rid in lifted),
                   key=lambda r: (r.placement is None, -r.priority * r.count, r.id))
    back = 0
    for r in order:
        if fits_back(r, cur[r.id]):
            placer._place_exact(r, cur[r.id])
            put(r, cur[r.id], True)
        else:
            res = placer.place(r.model_copy(update={"placement": None}), explain=False)
            if not res.ok:
                if r.placement is not None:
                    info["fail"] = "displaced running work"
                    info["blocked"] = r.id
                    return None, info
                continue
            put(r, placer.units(r.id), False)
    placed_now = set(placer.placed_ids())
    others = [r for r in waiting if r.id not in placed_now and r.id != gang.id]
    others.sort(key=lambda r: (-r.priority * r.count, r.id))
    for r in others:
        placer.place(r, explain=False)
    if base is not None:
        info["kept"] = {rid for rid, units in own.items() if units is cur.get(rid)}
    info["moved_back"] = back
    if shared is not None:
        return _Tried(placer, own), info  # type: ignore[return-value]
    out = {rid: list(own[rid]) if rid in own else list(placer.units(rid)) for rid in placer.placed_ids()}
    return out, info


def _value_after(inst: Instance, cur: Mapping[str, Sequence[Unit]], now: float,
                 out: Mapping[str, Sequence[Unit]], kept: set[str]) -> float:
    """The objective of ``out``, from ``now`` (that of ``cur``): the requests in ``kept`` hold exactly
    their units of ``cur``; the rest is taken out at its old value and counted at its new one."""
    from packer.plans import request_value

    v = now
    for rid, units in cur.items():
        if rid not in kept:
            v -= request_value(inst, inst.request(rid), units)
    for rid, units in out.items():
        if rid not in kept:
            v += request_value(inst, inst.request(rid), units)
    return v


def _host_room(placer, r: Request, units: Sequence[Unit]) -> bool:  # type: ignore[no-untyped-def]
    """Whether the placer's nodes still have the CPU and memory ``r``'s ``units`` there take."""
    from packer.online.state import N_CPU, N_MEM

    per: dict[str, int] = defaultdict(int)
    for u in units:
        per[u.node] += 1
    for nid, k in per.items():
        row = placer.a.n64[placer._node_ix[nid]]
        if int(row[N_CPU]) < k * r.cpu_milli or int(row[N_MEM]) < k * r.memory_mib:
            return False
    return True
