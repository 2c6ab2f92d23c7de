"""A move step for spread replicas: open one slot on each of many nodes (or racks), place the request.

A waiting request with a spread (at most ``max_per_domain`` units per node or rack: MIG replicas of
12-24 units on haein) needs one legal slot in each of 12-24 distinct domains across the cluster.
The CP-SAT region steps of :mod:`packer.cpsat.reopt` cover 8-32 nodes and the gang step
(:mod:`packer.cpsat.reopt_gang`) clears whole nodes of one domain: neither collects one slot here
and one there (bench/RESULTS_reopt.md, session 11: on haein-100/101 the stays LP places ~100 more
value of such replicas than any plan).

This step works on the online placer's state (:class:`packer.online.OnlinePlacer`, which checks
every rule: modes, MIG geometry, host resources, quotas, isolation):

1. a waiting spread request, drawn by priority × size × the LP guide's weight;
2. per node of an allowed model, the units of it the node takes now (the placer's own node
   capacity), and, where it takes none, the cheapest single freeable request on that node (a movable
   running one or placed waiting work) whose release opens a slot there (:func:`openings`);
3. the domains of its spread level short of their ``max_per_domain`` are topped up: the cheapest
   openings (size of the work moved; the LP's nodes for the request first) until the request's
   units are covered, a few more in reserve, within the migration room left;
4. the chosen requests are released, the spread request is placed (best-fit), each released request
   goes back exactly where it was unless the new units took its GPU (or its node's host room or
   isolation no longer allows it), else best-fit anywhere (a running one that finds no room fails
   the step), then the other waiting requests, dearest first.

The caller keeps the result only when it is valid (:func:`packer.check`), within the migration cap,
and better. ``SPREAD_SHARE`` of the move steps are spread steps while such a request waits; the
share follows what the spread steps gain (:class:`Share`).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from packer.cpsat.lpguide import Guide
from packer.model import Instance, Request, Unit

#: Spread steps on (the A/B arm: bench/bench_reopt_gang.py --ab reopt_spread.SPREAD).
SPREAD = True
#: Share of move steps that are spread steps at the start; it then adapts (:class:`Share`).
SPREAD_SHARE = 0.25
#: Bounds of the adapted share.
SHARE_MIN, SHARE_MAX = 0.05, 0.5
#: Draws of the openings per step (noise on their order); the best result is returned.
TRIES = 3
#: Candidate requests tried per node to open a slot there (cheapest first).
PER_NODE = 6
#: Isolated tenants' nodes evacuated, per try of a step (drawn among the twice as many cheapest).
EVACUATE = (0, 2, 4)
#: A displaced request of several units moves only its units on the cleared nodes (:func:`_partial`).
PARTIAL = True
#: A step's result counts only when it places the request aimed at: a gain from re-shuffling
#: the other waiting work alone is the CP-SAT steps' job, and on fragmented states such small gains
#: parted the trajectories from bigger gang-step gains (bench/RESULTS_reopt.md, session 12).
PLACE_AIM = True
#: With a guide, only spread requests the stays LP places at least this share of are aimed at.
MIN_SHARE = 0.5
#: Openings in reserve beyond the units missing (the placer may not use every opened slot).
SLACK = 0.25
POLICY = "best-fit"
#: Session 21: each try of a spread step forks the step's placer (loaded once with the plan) and releases
#: the lifted work, instead of loading a new placer with the plan less that work (as reopt_gang.FORK does
#: for gang steps). On fragmented-100 at 1,024 GPUs four spread steps took 12.0 s (load 7), half of it
#: loading 26 placers. False: the old way (the A/B arm).
FORK = True
#: Session 22: spread steps keep one placer loaded with the plan across steps (:class:`reopt_base.BaseCache`,
#: brought to each new plan by its difference), take the units of the work a try leaves where it was from
#: the plan instead of reading every request's units back from the try's placer, and sum the objective
#: from each request's remembered part. Same plans (tests/test_reopt_base_s22.py; bench/RESULTS_reopt.md,
#: session 22). On fragmented-104 four spread steps took 4.1 s (load 4.6): 2.1 s reading units back,
#: 0.9 s objectives, 0.5 s loading the placer. Needs FORK. False: each step as in session 21 (the A/B arm).
INCREMENTAL = True


class Share:
    """The spread steps' share of the move steps: up (×1.5) after a spread step that improved, down
    (×0.8) after one that did not, within [SHARE_MIN, SHARE_MAX]."""

    def __init__(self, start: float | None = None) -> None:
        self.value = SPREAD_SHARE if start is None else start

    def update(self, improved: bool) -> None:
        self.value = min(SHARE_MAX, self.value * 1.5) if improved else max(SHARE_MIN, self.value * 0.8)


def spreads(inst: Instance, cur: Mapping[str, Sequence[Unit]], guide: Guide | None = None,
            used: Mapping[str, float] | None = None) -> list[Request]:
    """The waiting requests a spread step can aim at: GPU requests of more than one unit with a spread
    over nodes or coarser domains, whose tenant's quota less its running work holds them (with a
    ``guide``: that the stays LP places at least MIN_SHARE of). ``used``: the running work's use per
    tenant (:func:`packer.cpsat.reopt_gang.running_use` of ``cur``), already summed."""
    from packer.cpsat.reopt_gang import running_use

    used = running_use(inst, cur) if used is None else used
    out = []
    for r in inst.requests:
        if r.id in cur or r.kind == "host" or r.count <= 1 or r.spread is None or r.spread.level == "gpu":
            continue
        if guide is not None and guide.share.get(r.id, 0.0) < MIN_SHARE:
            continue
        t = inst.tenant_map.get(r.tenant)
        if t is not None and t.max_gpus is not None and \
                t.max_gpus - used[r.tenant] < inst.request_unit_size(r) * r.need_count - 1e-9:
            continue
        out.append(r)
    return out


def _value(inst: Instance, r: Request, guide: Guide | None) -> float:
    return (r.priority * r.count * inst.request_unit_size(r) + 1e-3) * (1.0 if guide is None else guide.weight(r.id))


def pick(rng: random.Random, inst: Instance, cands: Sequence[Request], guide: Guide | None) -> Request:
    """A spread request drawn with weight priority × units × unit size (times the guide's weight)."""
    return rng.choices(list(cands), weights=[_value(inst, r, guide) for r in cands], k=1)[0]


def _placer(inst: Instance, cur: Mapping[str, Sequence[Unit]], policy: str = POLICY):  # type: ignore[no-untyped-def]
    from packer.online import OnlinePlacer

    placer = OnlinePlacer(inst, policy=policy, place_running=False)
    for rid, units in cur.items():
        placer._place_exact(inst.request(rid), units)
    return placer


def _node_caps(placer, r: Request, nodes: np.ndarray, limit: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Units of ``r`` each of ``nodes`` (placer indices) takes now (at most ``limit``)."""
    from packer.online.shapes import UNLIMITED
    from packer.online.state import K_MIG, R_GPUMAX

    sh = placer._shapes.of(r)
    rq = sh.rq.copy()
    rq[R_GPUMAX] = UNLIMITED if int(rq[0]) == K_MIG else 1
    caps = np.zeros(len(nodes), dtype=np.int64)
    placer._K.node_caps(placer._st, rq, sh.rprof, sh.modelok, nodes, limit, caps)
    return caps


def _cost(inst: Instance, r: Request, units: Sequence[Unit]) -> float:
    """What moving (or lifting) ``r`` costs in the order of openings: its size, times its priority when it
    is waiting work (it may not find room again)."""
    size = sum(inst.unit_size(r, u) for u in units)
    return size * (1.0 if r.placement is not None else 1.0 + r.priority)


def openings(inst: Instance, cur: Mapping[str, Sequence[Unit]], r: Request, placer=None,  # type: ignore[no-untyped-def]
             per_node: int = PER_NODE,
             ) -> tuple[dict[str, int], dict[str, tuple[float, tuple[str, ...]]], list[tuple[float, str, tuple[str, ...]]]]:
    """({node: units of ``r`` it takes now} for nodes taking some, {node: (cost, request ids)} for the
    others: the cheapest release that alone lets the node take a unit of ``r``: one freeable request
    there (movable running, or placed waiting work of lower priority than ``r``), or, on a node a
    node-isolated tenant other than ``r``'s holds, all of that tenant's work there (haein's no-move
    plans keep 60-85% of their free MIG room on such nodes: bench/RESULTS_reopt.md, session 12); and
    those evacuations of isolated tenants' nodes, cheapest first: [(cost, node, request ids)]."""
    if placer is None:
        placer = _placer(inst, cur)
    allowed = inst.allowed_models(r)
    ids = [n.id for n in inst.nodes if n.num_gpus and (allowed is None or n.gpu_model in allowed)]
    ix = np.array([placer._node_ix[nid] for nid in ids], dtype=np.int64)
    limit = r.spread.max_per_domain if r.spread is not None and r.spread.level == "node" else r.count
    caps = _node_caps(placer, r, ix, limit)
    free = {nid: int(c) for nid, c in zip(ids, caps) if c > 0}
    iso = {t.id for t in inst.tenants if t.isolation == "node"} - {r.tenant}
    on_node: dict[str, list[tuple[float, str]]] = defaultdict(list)
    iso_on: dict[tuple[str, str], list[str]] = defaultdict(list)
    stuck: set[tuple[str, str]] = set()  # (node, isolated tenant) with work there that may not move
    for rid, units in cur.items():
        q = inst.request(rid)
        fixed = (q.placement is not None and not q.movable) or (q.placement is None and q.priority >= r.priority)
        for nid in {u.node for u in units}:
            if q.tenant in iso:
                if q.placement is not None and not q.movable:
                    stuck.add((nid, q.tenant))
                else:  # an evacuation lifts the tenant's placed waiting work too (it is re-placed first)
                    iso_on[(nid, q.tenant)].append(rid)
        if fixed:
            continue
        c = _cost(inst, q, units)
        for nid in {u.node for u in units}:
            on_node[nid].append((c, rid))
    groups: dict[str, list[tuple[float, tuple[str, ...]]]] = defaultdict(list)
    for (nid, t), rids in iso_on.items():
        if (nid, t) not in stuck:
            groups[nid].append((sum(_cost(inst, inst.request(q), cur[q]) for q in rids), tuple(sorted(rids))))
    opens: dict[str, tuple[float, tuple[str, ...]]] = {}
    for nid, n_ix in zip(ids, ix):
        if nid in free:
            continue
        one = np.array([n_ix], dtype=np.int64)
        cands = sorted([(c, (rid,)) for c, rid in on_node.get(nid, [])])[:per_node] + sorted(groups.get(nid, []))
        for c, rids in cands:
            for q in rids:
                placer.release(q)
            ok = int(_node_caps(placer, r, one, 1)[0]) > 0
            for q in rids:
                placer._place_exact(inst.request(q), cur[q])
            if ok:
                opens[nid] = (c, rids)
                break
    evac = []
    for c, nid, rids in sorted((c, nid, rids) for nid, gs in groups.items() for c, rids in gs):
        for q in rids:
            placer.release(q)
        ok = int(_node_caps(placer, r, np.array([placer._node_ix[nid]], dtype=np.int64), 1)[0]) > 0
        for q in rids:
            placer._place_exact(inst.request(q), cur[q])
        if ok:
            evac.append((c, nid, rids))
    return free, opens, evac


def spread_step(inst: Instance, cur: Mapping[str, Sequence[Unit]], r: Request, rng: random.Random,
                waiting: Sequence[Request], guide: Guide | None = None, cap_left: int | None = None,
                cache=None,  # type: ignore[no-untyped-def]
                ) -> tuple[dict[str, list[Unit]] | None, dict[str, object]]:
    """The best of TRIES :func:`open_and_place` draws (module doc), or None with the last failure; the
    info's ``value`` is the result's objective. ``cache``: the move steps' :class:`reopt_base.BaseCache`
    (INCREMENTAL; one for this step when None)."""
    from packer.plans import objective_value

    inc = INCREMENTAL and FORK
    spans = None
    if inc:
        from packer.cpsat.reopt_base import BaseCache

        if cache is None:
            cache = BaseCache(inst, POLICY)
        base = cache.get(cur)
        value_of = cache.objective
        spans = [(rid, inst.request(rid).tenant, {u.node for u in units}) for rid, units in cur.items()]
    else:
        base = _placer(inst, cur)

        def value_of(out: Mapping[str, Sequence[Unit]]) -> float:
            return objective_value(inst, out)
    free, opens, evac = openings(inst, cur, r, base)
    info: dict[str, object] = {"request": r.id, "units": r.count, "free_nodes": len(free), "open_nodes": len(opens),
                               "evac_nodes": len(evac)}
    best: tuple[float, dict[str, list[Unit]], dict[str, object]] | None = None
    tried: set[tuple[str, ...]] = set()
    for k in range(TRIES):
        # try k evacuates EVACUATE[k] of the cheapest isolated tenants' nodes (their work goes to the
        # tenant's other nodes, their room to the displaced work and the request), then opens slots
        n_evac = EVACUATE[k % len(EVACUATE)]
        pool = evac[:2 * n_evac]
        gone = [x for x in rng.sample(pool, min(n_evac, len(pool)))] if n_evac else []
        first = [q for _c, _n, rids in gone for q in rids]
        gone_nodes = {nid for _c, nid, _r in gone}
        left = None if cap_left is None else cap_left - sum(inst.request(q).placement is not None for q in first)
        if left is not None and left < 0:
            continue
        noise = rng.random()
        # with openings in reserve, then without: a slot opened in reserve and not used sends its
        # work back, but one the request takes instead of a free node's displaces work for nothing
        for slack in (SLACK, 0.0):
            clear = set(gone_nodes)
            chosen = choose(inst, r, free, {n: o for n, o in opens.items() if n not in gone_nodes},
                            random.Random(noise), guide, left, extra=gone_nodes, nodes=clear, slack=slack)
            chosen = list(dict.fromkeys([*first, *chosen]))
            key = tuple(sorted(chosen))
            if key in tried or not chosen:
                continue
            tried.add(key)
            for victims in (False, True):
                out, got = open_and_place(inst, cur, r, chosen, waiting, victims, clear,
                                          base=base if FORK else None, spans=spans)
                info.update(got)
                info["nodes"] = len(clear)
                if out is not None and PLACE_AIM and r.id not in out:
                    info["fail"] = "request"
                    out = None
                if out is not None:
                    v = value_of(out)
                    if best is None or v > best[0]:
                        best = (v, out, {**info, "victims": victims, "evacuated": len(gone), "slack": slack})
    if best is None:
        return None, info
    best[2]["value"] = best[0]
    return best[1], best[2]


def choose(inst: Instance, r: Request, free: Mapping[str, int], opens: Mapping[str, tuple[float, tuple[str, ...]]],
           rng: random.Random, guide: Guide | None = None, cap_left: int | None = None,
           extra: set[str] | frozenset[str] = frozenset(), nodes: set[str] | None = None,
           slack: float = SLACK) -> list[str]:
    """The requests to release so that ``r``'s spread domains hold its units: per domain short of its
    limit, openings cheapest first (the guide's nodes for ``r`` first, noise breaking ties), until the
    missing units are covered plus ``slack`` of them in reserve (at least one when above 0); at most ``cap_left`` running requests. ``extra``:
    nodes opened already (evacuated), each counted as one unit of room in its domain. ``nodes``, when
    given, receives the nodes opened."""
    assert r.spread is not None
    level, per = r.spread.level, r.spread.max_per_domain

    def dom(nid: str) -> str:
        return nid if level == "node" else inst.domain(inst.node(nid), level)

    room: dict[str, int] = defaultdict(int)
    for nid, c in free.items():
        room[dom(nid)] += c
    for nid in extra:
        room[dom(nid)] += 1
    have = sum(min(per, c) for c in room.values())
    missing = r.need_count - have
    if missing <= 0:
        return []
    lp = {} if guide is None else guide.where(r.id)
    order = sorted(opens, key=lambda nid: opens[nid][0] * (0.5 + rng.random()) / (1.0 + lp.get(nid, 0.0)))
    want = missing + (max(1, int(slack * missing)) if slack > 0 else 0)
    out: list[str] = []
    got = 0
    running = 0
    for nid in order:
        if got >= want:
            break
        d = dom(nid)
        if room[d] >= per:
            continue
        rids = [q for q in opens[nid][1] if q not in out]
        more = sum(inst.request(q).placement is not None for q in rids)
        if cap_left is not None and running + more > cap_left:
            continue
        out.extend(rids)
        if nodes is not None:
            nodes.add(nid)
        running += more
        room[d] += 1
        got += 1
    return out


def open_and_place(inst: Instance, cur: Mapping[str, Sequence[Unit]], r: Request, release: Sequence[str],
                   waiting: Sequence[Request], victims: bool = False, clear: set[str] | frozenset[str] = frozenset(),
                   strict: bool = True, base=None,  # type: ignore[no-untyped-def]
                   spans: Sequence[tuple[str, str, set[str]]] | None = None,
                   ) -> tuple[dict[str, list[Unit]] | None, dict[str, object]]:
    """``cur`` with ``release`` lifted, ``r`` placed, the lifted work re-placed (exactly where it was when
    it still fits, else best-fit anywhere; running work first) and the other waiting work offered; None
    when ``r`` does not fit or a lifted running request finds no room. ``base``: a placer holding all of
    ``cur`` (FORK), forked here instead of loading a new one.

    ``victims``: also lift all placed waiting work of lower priority than ``r``, so that the running
    work the openings displace can take its room (the cluster is 91-97% full: the freed slot is the
    only room there is); it goes back where it was when that is still free, else best-fit.

    ``clear``: the nodes the release is for. A lifted request of several units that cannot go back
    whole keeps its units elsewhere and moves only those on these nodes (:func:`_partial`): an
    isolated tenant's spread replicas span all its nodes, and re-placing them whole fails.

    ``spans`` (with ``base``; INCREMENTAL): (request id, tenant, its nodes) of each request of ``cur``:
    the tenants on each node are read from them rather than from the placer, and the work left where it
    was keeps its units of ``cur`` in the result (no read-back from the placer)."""

    from packer.cpsat.reopt_gang import _host_room

    lift = set(release)
    if victims:
        lift |= {rid for rid in cur if (q := inst.request(rid)).placement is None and q.priority < r.priority}
    release = sorted(lift)
    info: dict[str, object] = {"released": len(release)}
    if base is not None:  # FORK: the step's placer holds all of cur; this try's copy without what it lifts
        placer = base.fork()
        for rid in release:
            placer.release(rid)
    else:
        placer = _placer(inst, {rid: us for rid, us in cur.items() if rid not in lift})
    if not placer.place(r, explain=False).ok:
        info["fail"] = "request"
        return None, info
    new = list(placer.units(r.id))
    touched_gpus = {(u.node, u.gpu) for u in new}
    iso = {t.id for t in inst.tenants if t.isolation == "node"}
    tenants_on: dict[str, set[str]] = defaultdict(set)
    own: dict[str, Sequence[Unit]] | None = None
    if spans is not None and base is not None:
        # the placer holds cur less the lifted work, plus r: the same (node, tenant) pairs
        own = {}
        for rid, t, nodes in spans:
            if rid not in lift:
                own[rid] = cur[rid]
                for nid in nodes:
                    tenants_on[nid].add(t)
        for u in new:
            tenants_on[u.node].add(r.tenant)
    else:
        for rid in placer.placed_ids():
            for u in placer.units(rid):
                tenants_on[u.node].add(inst.request(rid).tenant)
    new_nodes = {u.node for u in new}

    def fits_back(q: Request, units: Sequence[Unit]) -> bool:
        if any((u.node, u.gpu) in touched_gpus for u in units if u.gpu is not None):
            return False
        on = [u for u in units if u.node in new_nodes]
        for u in on:
            others = tenants_on[u.node] - {q.tenant}
            if others and (q.tenant in iso or any(t in iso for t in others)):
                return False
        return not on or _host_room(placer, q, on)

    back = 0
    partial = 0
    for q in sorted((inst.request(rid) for rid in release), key=lambda q: (q.placement is None, -q.count, q.id)):
        units = None
        if fits_back(q, cur[q.id]):
            placer._place_exact(q, cur[q.id])
            back += 1
            units = cur[q.id]
            if own is not None:
                own[q.id] = units
        elif PARTIAL and q.count > 1:
            units = _partial(inst, placer, q, cur[q.id], clear, fits_back)
            partial += units is not None
        if units is not None:
            touched_gpus.update((u.node, u.gpu) for u in units if u not in cur[q.id])
            new_nodes.update(u.node for u in units if u not in cur[q.id])
        else:
            if not placer.place(q.model_copy(update={"placement": None}), explain=False).ok:
                if q.placement is not None and not strict:
                    info["unplaced_running"] = int(info.get("unplaced_running", 0)) + 1  # type: ignore[call-overload]
                    continue
                if q.placement is not None:
                    info["fail"] = "displaced running work"
                    info["blocked"] = q.id
                    return None, info
                continue
            units = list(placer.units(q.id))
            touched_gpus.update((u.node, u.gpu) for u in units)
            new_nodes.update(u.node for u in units)
        for u in units:
            tenants_on[u.node].add(q.tenant)
    placed_now = set(placer.placed_ids())
    for q in sorted((q for q in waiting if q.id not in placed_now and q.id != r.id),
                    key=lambda q: (-q.priority * q.count, q.id)):
        placer.place(q, explain=False)
    info["moved_back"] = back
    info["partial"] = partial
    if own is not None:
        return {rid: list(mine) if (mine := own.get(rid)) is not None else list(placer.units(rid))
                for rid in placer.placed_ids()}, info
    return {rid: list(placer.units(rid)) for rid in placer.placed_ids()}, info


def _partial(inst: Instance, placer, q: Request, units: Sequence[Unit], clear: set[str] | frozenset[str],  # type: ignore[no-untyped-def]
             fits_back) -> list[Unit] | None:  # type: ignore[no-untyped-def]
    """``q`` placed with its units off ``clear`` where they were and the others placed anew (best-fit,
    never on ``clear`` nor on a domain of its spread that is full), or None (nothing placed) when the
    kept units do not fit back, ``q`` has a required locality, or the rest finds no room."""
    keep = [u for u in units if u.node not in clear]
    if not keep or len(keep) == len(units) or (q.locality is not None and q.locality.required) \
            or not fits_back(q, keep):
        return None
    rest = len(units) - len(keep)
    part = q.model_copy(update={"id": f"{q.id}#part", "count": rest, "min_count": None, "placement": None,
                                "locality": None, "spread": None})
    closed = set(clear)
    if q.spread is not None and q.spread.level != "gpu":
        lv = q.spread.level
        per: dict[str, int] = defaultdict(int)
        for u in keep:
            per[u.node if lv == "node" else inst.domain(inst.node(u.node), lv)] += 1
        for n in inst.nodes:
            d = n.id if lv == "node" else inst.domain(n, lv)
            if per[d] + 1 > q.spread.max_per_domain:
                closed.add(n.id)
    placer._place_exact(q.model_copy(update={"count": len(keep), "min_count": None}), keep)
    ix = [placer._node_ix[nid] for nid in closed]
    saved = placer._nallow[ix].copy()
    placer._nallow[ix] = 0
    try:
        res = placer.place(part, explain=False)
    finally:
        placer._nallow[ix] = saved
    got = list(placer.units(part.id)) if res.ok else []
    placer.release(q.id)
    if not res.ok:
        return None
    placer.release(part.id)
    if q.spread is not None and q.spread.level != "gpu":
        lv = q.spread.level
        per = defaultdict(int)
        for u in [*keep, *got]:
            per[u.node if lv == "node" else inst.domain(inst.node(u.node), lv)] += 1
        if max(per.values()) > q.spread.max_per_domain:
            return None
    placer._place_exact(q, [*keep, *got])
    return [*keep, *got]
