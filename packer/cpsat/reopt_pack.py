"""A move step that packs a node-isolated tenant onto fewer of its nodes and gives the freed nodes away.

On haein's no-move plans 69-82% of the free MIG room lies on the node-isolated tenant's nodes, which
it fills to about half (bench/RESULTS_reopt.md, "Session 16"): while any of its work is on a node, no
other tenant may use that node, so that room is stranded, and the waiting work of the other tenants
(MIG replicas spread one to four a node or rack, whole-GPU gangs) cannot reach it. A CP-SAT region
step would have to empty a node and fill it in one sub-solve; over all the tenant's nodes that is a
big model (session 16's tenant steps over all its nodes won only with 1.5-20x the CP-SAT time).

This step does it on the online placer's state (:class:`packer.online.OnlinePlacer`, which checks
every rule: MIG geometry, modes, host resources, quotas, isolation), like the gang step:

1. the tenant's nodes are ranked for emptying by what emptying costs against what it opens: the cost
   is the work of the tenant that touches the node (every request with a unit there moves whole: its
   GPU-equivalents, placed waiting work weighted up by its priority since it may not find room again),
   the value is the node's GPUs that the waiting work of other tenants could use (allowed model, a
   mode its kind may take) times the dearest priority among that work; a node holding work that may
   not move is never emptied;
2. the set to empty grows greedily down that ranking: a node joins when the set with it can still be
   emptied (the free room on the tenant's other nodes covers the work to move, and step 3 re-places
   every moved running request), else it is skipped; every set met is filled (step 4);
3. per set: the tenant's requests that touch it are lifted and re-placed on its other nodes only (the
   set closed to them, every node it does not hold closed too: the point is to pack, not to open new
   nodes); those not touching the set go back exactly where they were; a running request that finds
   no room fails the set;
4. then the set is open to all, and every waiting request of the other tenants, dearest per unit of
   value first, is placed anywhere (the freed nodes are the room it lacked), then the tenant's own
   lifted waiting work.

The best set by objective is returned; the caller keeps it when it is valid (:func:`packer.check`),
within the migration cap and better, and the CP-SAT steps refine around it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from packer.model import MODE_OF_KIND, Instance, Request, Unit

#: Pack steps on (``reopt.move_steps`` draws them while a node-isolated tenant holds two nodes or more).
#: With the placer's fill alone they were ahead in the deterministic A/B (20 CP-SAT steps, det 1.0: haein
#: 0-4 +64.3, fragmented 0-4 +32.2) but level timed (60 s, −11.6 over 10 pairs): the greedy fill took part
#: of the freed room that the CP-SAT tenant steps would have used better. With FILL (a CP-SAT step fills
#: the emptied nodes): deterministic haein 0-4 +46.8, fragmented 0-4 +41.2; timed 60 s, interleaved, two
#: rounds over haein 5/100/101 and fragmented 103/104 (9 pairs, load 1.4-3.0): +12.9, 5 ahead, 3 behind
#: (at most −2.25), haein-5 +6.07 and +4.12 (bench/RESULTS_reopt.md "Session 17"). False: the A/B arm
#: (``bench/bench_reopt.py --pack off``).
PACK = True
#: Their starting share of the move steps (adapted as the spread steps' share: ``reopt_spread.Share``).
PACK_SHARE = 0.2
#: Sets emptied and filled per step at most (each: one placer fork, ~10-30 ms at 1,024 GPUs).
TRIES = 30
POLICY = "best-fit"
#: A moved running request keeps its units on the tenant's kept nodes where they are when they fit
#: back, and only its units on the emptied nodes are placed anew (``reopt_spread._partial``); else it
#: is placed anew whole. The objective counts a move per request either way; fewer units move.
PARTIAL = True
#: After a pack step, one CP-SAT step over the emptied nodes and the tenant's kept nodes fills them
#: (``reopt._pack_fill``, session 17 packfill17): the placer's greedy fill is its hint, and the whole plan
#: is kept only when better than the incumbent. False: the placer's fill alone (the A/B arm).
FILL = True


def tenants(inst: Instance, cur: Mapping[str, Sequence[Unit]]) -> dict[str, list[str]]:
    """Node-isolated tenants with work on at least two nodes: their nodes (a pack step's candidates)."""
    iso = {t.id for t in inst.tenants if t.isolation == "node"}
    nodes: dict[str, set[str]] = defaultdict(set)
    for rid, units in cur.items():
        r = inst.request(rid)
        if r.tenant in iso:
            nodes[r.tenant].update(u.node for u in units)
    return {t: sorted(ns) for t, ns in sorted(nodes.items()) if len(ns) >= 2}


def _work_cost(inst: Instance, r: Request, units: Sequence[Unit]) -> float:
    size = sum(inst.unit_size(r, u) for u in units)
    return size * (1.0 if r.placement is not None else 1.0 + r.priority)


def ranking(inst: Instance, cur: Mapping[str, Sequence[Unit]], tenant: str, nodes: Sequence[str],
            waiting: Sequence[Request], rng: random.Random) -> list[tuple[str, float, float, tuple[str, ...]]]:
    """The tenant's nodes that may be emptied, cheapest per value first: (node, cost, value, ids of
    its work touching the node); module doc, step 1. Ties broken at random."""
    mine = set(nodes)
    on: dict[str, set[str]] = defaultdict(set)
    stuck: set[str] = set()
    for rid, units in cur.items():
        r = inst.request(rid)
        if r.tenant != tenant:
            continue
        for nid in {u.node for u in units} & mine:
            on[nid].add(rid)
            if r.placement is not None and not r.movable:
                stuck.add(nid)
    others = [r for r in waiting if r.tenant != tenant and r.id not in cur]
    out = []
    for nid in nodes:
        if nid in stuck or not on.get(nid):
            continue
        n = inst.node(nid)
        best = 0.0
        for r in others:
            allowed = inst.allowed_models(r)
            if allowed is not None and n.gpu_model not in allowed:
                continue
            mode = MODE_OF_KIND.get(r.kind)
            gpus = n.num_gpus if mode is None else sum(n.gpu_mode(g) in (mode, "any") for g in range(n.num_gpus))
            best = max(best, gpus * r.priority)
        if best <= 0:
            continue
        ids = tuple(sorted(on[nid]))
        cost = sum(_work_cost(inst, inst.request(rid), cur[rid]) for rid in ids)
        out.append((cost / best, rng.random(), nid, cost, best, ids))
    out.sort()
    return [(nid, cost, value, ids) for _k, _r, nid, cost, value, ids in out]


def _free_room(inst: Instance, cur: Mapping[str, Sequence[Unit]], nodes: Sequence[str]) -> dict[str, float]:
    """Free GPU-equivalents per node of ``nodes`` (any mode)."""
    used: dict[tuple[str, int], float] = defaultdict(float)
    want = set(nodes)
    for rid, units in cur.items():
        r = inst.request(rid)
        for u in units:
            if u.gpu is not None and u.node in want:
                used[(u.node, u.gpu)] += inst.unit_size(r, u)
    out = {}
    for nid in nodes:
        n = inst.node(nid)
        out[nid] = sum(max(0.0, 1.0 - used[(nid, g)]) for g in range(n.num_gpus))
    return out


def _covered(inst: Instance, cur: Mapping[str, Sequence[Unit]], nodes: Sequence[str], empty: Sequence[str],
             room: Mapping[str, float]) -> bool:
    """Whether the free room (any mode) of the tenant's nodes outside ``empty``, plus what its moved
    work frees there, covers that work: a necessary condition (modes and MIG geometry: the placer)."""
    gone = set(empty)
    keep = [m for m in nodes if m not in gone]
    if not keep:
        return False
    moved = {rid for rid, units in cur.items() if any(u.node in gone for u in units)}
    need = sum(inst.unit_size(inst.request(rid), u) for rid in moved for u in cur[rid])
    have = sum(room[m] for m in keep) + sum(inst.unit_size(inst.request(rid), u) for rid in moved
                                            for u in cur[rid] if u.node not in gone)
    return need <= have + 1e-9


def _partial(inst, placer, q, units, clear, fits_back):  # type: ignore[no-untyped-def]
    from packer.cpsat.reopt_spread import _partial as partial

    return partial(inst, placer, q, units, clear, fits_back)


def _host_room(placer, q: Request, units: Sequence[Unit]) -> bool:  # type: ignore[no-untyped-def]
    from packer.cpsat.reopt_gang import _host_room as host_room

    return host_room(placer, q, units)


def _placer(inst: Instance, cur: Mapping[str, Sequence[Unit]]):  # type: ignore[no-untyped-def]
    from packer.online import OnlinePlacer

    placer = OnlinePlacer(inst, policy=POLICY, place_running=False)
    for rid, units in cur.items():
        placer._place_exact(inst.request(rid), units)
    return placer


def empty_and_fill(inst: Instance, cur: Mapping[str, Sequence[Unit]], tenant: str, nodes: Sequence[str],
                   empty: Sequence[str], waiting: Sequence[Request], base=None,  # type: ignore[no-untyped-def]
                   ) -> tuple[dict[str, list[Unit]] | None, dict[str, object]]:
    """``cur`` with the tenant's work off ``empty`` packed onto its other ``nodes`` and the waiting work
    of every tenant placed after (module doc, steps 3-4), or None when running work finds no room."""
    info: dict[str, object] = {"emptied": len(empty), "empty": list(empty)}
    placer = (base.fork() if base is not None else _placer(inst, cur))
    gone = set(empty)
    keep = [placer._node_ix[nid] for nid in nodes if nid not in gone]
    lifted = sorted({rid for rid, units in cur.items() if inst.request(rid).tenant == tenant
                     and any(u.node in gone for u in units)})
    for rid in lifted:
        placer.release(rid)
    allow = placer._nallow
    closed = np.ones(len(allow), dtype=bool)
    closed[keep] = False
    order = sorted((inst.request(rid) for rid in lifted), key=lambda r: (r.placement is None, -inst.request_unit_size(r)
                                                                         * r.count, r.id))
    out_of: list[Request] = []
    shut = {nid for nid in placer.node_ids if nid not in set(nodes) or nid in gone}
    touched: set[tuple[str, int | None]] = set()  # GPUs that took new units in this step

    def fits_back(q: Request, units: Sequence[Unit]) -> bool:
        return not any((u.node, u.gpu) in touched for u in units) and _host_room(placer, q, units)

    try:
        for r in order:
            allow[closed] = 0  # a spread's own limit reopens the domains it closed: close again per request
            got = None
            if PARTIAL and r.placement is not None and r.kind != "host":
                # its units on the kept nodes stay, only those on the emptied nodes move (fewer units moved)
                got = _partial(inst, placer, r, cur[r.id], shut, fits_back)
                allow[closed] = 0
            if got is not None and any(u.node in shut for u in got):
                placer.release(r.id)  # a safety net: the closed nodes were not respected
                got = None
            if got is not None:
                touched.update((u.node, u.gpu) for u in got if u not in cur[r.id])
                info["partial"] = int(info.get("partial", 0)) + 1  # type: ignore[call-overload]
                continue
            ok = placer.place(r.model_copy(update={"placement": None}), explain=False).ok
            if ok:
                touched.update((u.node, u.gpu) for u in placer.units(r.id))
            if ok and any(u.node in gone or placer._node_ix[u.node] not in keep for u in placer.units(r.id)):
                ok = False  # a safety net: the closed nodes were not respected
                placer.release(r.id)
            if not ok:
                if r.placement is not None:
                    info["fail"] = "moved running work"
                    info["blocked"] = r.id
                    return None, info
                out_of.append(r)
    finally:
        allow[:] = 1
    placed_now = set(placer.placed_ids())
    others = [r for r in waiting if r.id not in placed_now and r.tenant != tenant]
    others.sort(key=lambda r: (-r.priority * r.count * inst.request_unit_size(r), r.id))
    own = [r for r in waiting if r.id not in placed_now and r.tenant == tenant and r.id not in set(lifted)]
    own.sort(key=lambda r: (-r.priority * r.count * inst.request_unit_size(r), r.id))
    for r in others + out_of + own:
        placer.place(r, explain=False)
    out = {rid: list(placer.units(rid)) for rid in placer.placed_ids()}
    info["moved"] = len(lifted)
    return out, info


def pack_step(inst: Instance, cur: Mapping[str, Sequence[Unit]], tenant: str, nodes: Sequence[str],
              rng: random.Random, waiting: Sequence[Request], cache=None,  # type: ignore[no-untyped-def]
              ) -> tuple[dict[str, list[Unit]] | None, dict[str, object]]:
    """Nodes to empty chosen greedily down :func:`ranking`: a node joins the set when the set with it
    can still be emptied (:func:`_covered`, then :func:`empty_and_fill` places every moved running
    request); each set met is filled and the best by objective returned (its value in the info's
    ``value``), or None with the last failure. At most TRIES placer evaluations. ``cache``: the move
    steps' :class:`packer.cpsat.reopt_base.BaseCache`: its placer and objective with reopt_base.SHARED."""
    from packer.cpsat import reopt_base
    from packer.plans import objective_value

    ranked = ranking(inst, cur, tenant, nodes, waiting, rng)
    info: dict[str, object] = {"tenant": tenant, "ranked": len(ranked)}
    if not ranked:
        info["fail"] = "no node to empty"
        return None, info
    mine = {rid: us for rid, us in cur.items() if inst.request(rid).tenant == tenant}
    room = _free_room(inst, cur, nodes)
    shared = reopt_base.SHARED and cache is not None and cache.policy == POLICY
    base = cache.get(cur) if shared else _placer(inst, cur)
    best: tuple[float, dict[str, list[Unit]], dict[str, object]] | None = None
    empty: list[str] = []
    tries = 0
    for nid, _c, _v, _ids in ranked:
        if tries >= TRIES:
            break
        trial = [*empty, nid]
        if not _covered(inst, mine, nodes, trial, room):
            continue
        tries += 1
        out, got = empty_and_fill(inst, cur, tenant, nodes, trial, waiting, base)
        if out is None:
            info.update(got)
            continue
        empty = trial
        v = cache.objective(out) if shared else objective_value(inst, out)
        if best is None or v > best[0]:
            best = (v, out, {**info, **got})
    info["tries"] = tries
    if best is None:
        info.setdefault("fail", "no node to empty")
        return None, info
    best[2]["value"] = best[0]
    best[2]["tries"] = tries
    return best[1], best[2]
