"""A CP-SAT move step for a waiting gang: the domain cheapest to clear for it, and room for what leaves.

A whole-GPU gang with required locality (a 4- or 8-GPU node gang, a 16-GPU rack gang on the fragmented
family) needs ``count`` GPUs of one domain. On a fragmented running cluster no domain has them free:
each node of a whole-GPU mode holds a few running jobs, some movable, and placed waiting work. The
aimed CP-SAT steps of :mod:`packer.cpsat.reopt` draw half their region where the stays LP puts the gang
(which splits a node gang over two nodes: a fractional artifact, neither node need be one a plan can
clear) and the rest by free room; the gang step (:mod:`packer.cpsat.reopt_gang`) clears nodes by the
*size* of the work on them and re-places it first-fit with every placed waiting request lifted, and
most of its tries end below the plan they started from (session 18, fragmented-101: 91 of 96).

This step prices instead, and lets CP-SAT do the exchange:

1. a waiting gang, drawn by priority × GPUs × the LP guide's weight (:func:`gangs`, :func:`pick`; the
   next one drawn while the one drawn has no domain worth clearing, 2-3);
2. per domain of its locality level (a node for a node gang), the cheapest ``count`` GPUs of a
   whole-GPU mode without pinned work, each GPU priced by what must leave it: the migration cost of a
   movable running request that is home there (a request moved there before costs nothing more), the
   value of placed waiting work, each request's price spread over its units in the domain
   (:func:`prices`); a domain whose price is not below the gang's value, or whose host CPU cannot take
   the gang once that work leaves, is no candidate;
3. one of the CANDS cheapest domains, drawn by the value it could gain (gang value − price);
4. the region: that domain's nodes, then, for the work that must leave them, nodes with room of its
   mode (free, or held by placed waiting work of lower priority than the gang's: SOFT_ROOM; most
   room first, drawn; for a node-isolated tenant's work only nodes no other tenant's work stays on,
   for the others' only nodes no node-isolated tenant's stays on) until they hold SLACK times what
   leaves, and the nodes where the
   stays LP sends the running work it moves off them (its exchange), closed over work crossing the
   border like every region (:meth:`packer.cpsat.reopt._View.close`); when the gang's tenant lacks
   the quota for it, also the nodes of its placed waiting work of lower priority (QUOTA_ROOM);
5. one CP-SAT step over it with the gang offered first: it may move the work out, drop cheaper waiting
   work, place the gang, or find nothing; the caller keeps the result only when the whole plan is
   valid, within the cap and better.

``SHARE`` of the move steps are clear steps while a candidate gang waits (adapted like the spread
steps' share, :class:`packer.cpsat.reopt_spread.Share`); they draw from their own stream.

Session 20: what leaves a domain must land somewhere. With ROOM_PRICE a domain's price counts the least value
given up for whole-GPU room for it (:class:`Room`: free GPUs, else placed waiting whole-GPU requests given up
whole), a lower bound on what any exchange placing the gang there gives up; with GATE a drawn clear step is
built only when some gang has a domain so priced below its value (:func:`worth`), so that where none has
(the haein issue states: whole GPUs full, the room held by waiting work of the gang's value per GPU) the
iteration is the step it would have been without clear steps.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence

from packer.cpsat.lpguide import Guide
from packer.model import MODE_OF_KIND, Instance, Request, Unit

#: Clear steps on (the A/B arm: bench/bench_reopt_gang.py --ab reopt_clear.CLEAR).
CLEAR = False
#: Share of the move steps that are clear steps at the start (then adapted, within reopt_spread's bounds).
SHARE = 0.2
#: The cheapest domains a step draws its domain from.
CANDS = 4
#: Free room of each mode added for the work that leaves, as a multiple of what leaves.
SLACK = 2.0
#: At most this many nodes added for that room (beside the LP's exchange destinations).
ROOM_NODES = 8
#: Room for the work that leaves also counts placed waiting work of lower priority than the gang's
#: (the step may give it up), not only free room: on full fragmented states whole GPUs are rarely free.
SOFT_ROOM = True
#: When the gang's tenant lacks the quota for it, the region also takes the nodes of that tenant's
#: placed waiting work of lower priority (cheapest first) until giving it up would make room.
QUOTA_ROOM = True
#: With a guide, only gangs the stays LP places at least this share of are aimed at.
MIN_SHARE = 0.25
#: Session 20: a domain's price counts the whole-GPU room what leaves it needs elsewhere (:class:`Room`):
#: a free GPU costs nothing, one held by placed waiting whole-GPU work that request's value (given up
#: whole), one held by running whole-GPU work is no room (it would need room in turn). An exchange that
#: places the gang there gives up at least that (a relaxation: any model, host resources and the displaced
#: work's own locality left out; work behind node isolation stays), so a domain whose price so counted is
#: not below the gang's value cannot gain.
ROOM_PRICE = True
#: Session 20: move_steps draws a clear step only for gangs that have a domain worth clearing
#: (:func:`worth`); where none has, the iteration goes on as another step and no CP-SAT clear step is built.
GATE = True
#: Session 20, an A/B arm (off): with ROOM_PRICE, room decides only which domains are candidates; they are ordered
#: and drawn by session 19's price (what leaves), so that where the gate is open the steps take session 19's domains.
ORDER_S19 = False
#: The length of Room's covering table (GPUs); a need beyond it is priced at its last entry (a lower bound).
COVER_MAX = 64
_WHOLE = ("full", "any")


def gangs(inst: Instance, cur: Mapping[str, Sequence[Unit]], guide: Guide | None = None) -> list[Request]:
    """Waiting whole-GPU requests of more than one unit with required locality below the cluster
    (node, rack, ...), whose tenant's quota less its running work holds them (with a ``guide``: that the
    stays LP places at least MIN_SHARE of)."""
    from packer.cpsat.reopt_gang import running_use

    used = running_use(inst, cur)
    out = []
    for r in inst.requests:
        if r.id in cur or r.kind != "gpu" or r.count <= 1:
            continue
        loc = r.locality
        if loc is None or not loc.required or loc.level in ("gpu", "cluster"):
            continue
        if guide is not None and guide.share.get(r.id, 0.0) < MIN_SHARE:
            continue
        t = inst.tenant_map.get(r.tenant)
        if t is not None and t.max_gpus is not None and t.max_gpus - used[r.tenant] < r.need_count - 1e-9:
            continue
        out.append(r)
    return out


def pick(rng: random.Random, cands: Sequence[Request], guide: Guide | None) -> Request:
    """A gang drawn with weight priority × GPUs (times the guide's weight)."""
    w = [(r.priority * r.count + 1e-3) * (1.0 if guide is None else guide.weight(r.id)) for r in cands]
    return rng.choices(list(cands), weights=w, k=1)[0]


def gpu_prices(inst: Instance, cur: Mapping[str, Sequence[Unit]]):  # type: ignore[no-untyped-def]
    """(GPUs holding pinned work, price of clearing each other GPU that holds work, ids on each GPU,
    each freeable request's price, node → ids of all work there with their tenants and whether pinned).

    A request's price: a movable running request at home, its migration cost; one moved before, 0
    (moving again costs nothing more); placed waiting work, its value. A GPU's price is the sum of its
    requests' prices, each spread over the request's GPU units (it leaves whole, once)."""
    from packer.plans import migration_cost, request_value

    pinned: set[tuple[str, int]] = set()
    price: dict[tuple[str, int], float] = defaultdict(float)
    ids: dict[tuple[str, int], set[str]] = defaultdict(set)
    req_price: dict[str, float] = {}
    on_node: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
    for rid, units in cur.items():
        r = inst.request(rid)
        fixed = r.placement is not None and not r.movable
        for nid in sorted({u.node for u in units}):
            on_node[nid].append((rid, r.tenant, fixed))
        gpu_units = [u for u in units if u.gpu is not None]
        if fixed:
            pinned.update((u.node, u.gpu) for u in gpu_units)  # type: ignore[misc]
            continue
        if r.placement is None:
            cost = request_value(inst, r, units)
        else:
            home = {(p.node, p.gpu) for p in r.placement}
            cost = migration_cost(inst, r) if all((u.node, u.gpu) in home for u in units) else 0.0
        req_price[rid] = cost
        for u in gpu_units:
            key = (u.node, u.gpu)
            price[key] += cost / len(gpu_units)  # type: ignore[index]
            ids[key].add(rid)  # type: ignore[index]
    return pinned, price, ids, req_price, on_node


def _iso_leave(inst: Instance, gang: Request, on_node: Mapping[str, Sequence[tuple[str, str, bool]]],
               nid: str) -> set[str] | None:
    """The work that must leave node ``nid`` for ``gang``'s units to sit there by node isolation (every
    other tenant's, when the gang's tenant is node-isolated; a node-isolated other tenant's, else), or
    None when some of it is pinned."""
    iso = {t.id for t in inst.tenants if t.isolation == "node"}
    if not iso:
        return set()
    here = on_node.get(nid, ())
    if gang.tenant in iso:
        must = [x for x in here if x[1] != gang.tenant]
    else:
        must = [x for x in here if x[1] != gang.tenant and x[1] in iso]
    if any(fixed for _rid, _t, fixed in must):
        return None
    return {rid for rid, _t, _f in must}


class Room:
    """The whole-GPU room of a plan, for pricing what leaves a domain (ROOM_PRICE).

    Whole-GPU work that leaves a domain must land on a whole-GPU-mode GPU elsewhere: a free one (no work on
    it, not pinned), or one that placed waiting whole-GPU work gives up (at that request's value, the whole
    request at once); a unit of placed waiting work that leaves may instead be given up itself. Running
    whole-GPU work elsewhere is no room (moving it needs room in turn). Room is per class of the work that
    lands: a node-isolated tenant's work only on nodes where no other tenant's work is, the others' only on
    nodes without a node-isolated tenant's work (work behind node isolation is taken to stay). Per class:
    the free GPUs, and ``cover[j]``, the least value of placed waiting whole-GPU requests whose units on
    that class's nodes number at least ``j`` (a 0/1 covering knapsack over whole requests)."""

    def __init__(self, inst: Instance, cur: Mapping[str, Sequence[Unit]], pinned: set[tuple[str, int]]) -> None:
        from packer.plans import request_value

        self.iso = {t.id for t in inst.tenants if t.isolation == "node"}
        busy: set[tuple[str, int]] = set()
        tenants: dict[str, set[str]] = defaultdict(set)
        items: list[tuple[str, list[Unit], float]] = []
        for rid, units in cur.items():
            r = inst.request(rid)
            for u in units:
                tenants[u.node].add(r.tenant)
                if u.gpu is not None:
                    busy.add((u.node, u.gpu))
            if r.kind == "gpu" and r.placement is None:
                items.append((rid, list(units), request_value(inst, r, units)))
        classes = ["*", *sorted(self.iso)]
        self.usable = {c: {n.id for n in inst.nodes if n.num_gpus and self._fits(c, tenants.get(n.id, set()))}
                       for c in classes}
        self.free = {c: {(n.id, g) for n in inst.nodes if n.id in self.usable[c] for g in range(n.num_gpus or 0)
                         if n.gpu_mode(g) in _WHOLE and (n.id, g) not in busy and (n.id, g) not in pinned}
                     for c in classes}
        self.cover: dict[str, list[float]] = {}
        self.top: dict[str, int] = {}
        for c in classes:
            got = [(sum(1 for u in us if u.node in self.usable[c]), v) for _rid, us, v in items]
            got = [(k, v) for k, v in got if k > 0]
            self.top[c] = sum(k for k, _v in got)
            top = min(self.top[c], COVER_MAX)
            best = [0.0] + [float("inf")] * top
            for k, v in got:
                for j in range(top, 0, -1):
                    w = best[max(0, j - k)] + v
                    if w < best[j]:
                        best[j] = w
            self.cover[c] = best

    def _fits(self, c: str, here: set[str]) -> bool:
        return not (here - {c}) if c != "*" else not (here & self.iso)

    def of(self, tenant: str) -> str:
        """The class of ``tenant``'s work."""
        return tenant if tenant in self.iso else "*"

    def cost(self, need: Mapping[str, int], taken: set[tuple[str, int]]) -> float:
        """The least value given up for ``need`` units of each class to land (or be given up, placed
        waiting units among them) outside ``taken``, the GPUs the gang takes; inf when there is not room."""
        total = 0.0
        for c, k in need.items():
            if k <= 0:
                continue
            short = k - len(self.free.get(c, ()) - taken)
            if short <= 0:
                continue
            cover = self.cover.get(c, [0.0])
            if short > self.top.get(c, 0):
                return float("inf")
            total += cover[min(short, len(cover) - 1)]  # beyond COVER_MAX its last entry, a lower bound
        return total


def prices(inst: Instance, cur: Mapping[str, Sequence[Unit]], gang: Request,
           use=None, room: Room | None = None) -> list[tuple[float, str, list[tuple[str, int]], set[str]]]:  # type: ignore[no-untyped-def]
    """Per domain of ``gang``'s locality level: (price, domain, the GPUs to clear, the requests that must
    leave), cheapest first. The GPUs are the cheapest whole-GPU-mode GPUs without pinned work on nodes
    node isolation lets the gang use; what leaves is the work on them and, by node isolation, the
    work of other tenants on their nodes; the price is what leaves' (each request once). Only domains
    whose price is below the gang's value and whose nodes' host CPU and memory take the gang's units
    once that work leaves (``use``: :func:`gpu_prices`' answer, if known). With ROOM_PRICE the price also
    counts, in place of the placed waiting whole-GPU work that leaves, the least value given up for room for
    the whole-GPU work that leaves (:class:`Room`, ``room`` if known); a domain without that room is no
    candidate."""
    pinned, price, ids, req_price, on_node = use if use is not None else gpu_prices(inst, cur)
    if ROOM_PRICE and room is None:
        room = Room(inst, cur, pinned)
    level = gang.locality.level if gang.locality is not None else "node"
    allowed = inst.allowed_models(gang)
    value = gang.priority * gang.count
    host: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for rid, units in cur.items():
        r = inst.request(rid)
        for u in units:
            host[u.node][0] += r.cpu_milli
            host[u.node][1] += r.memory_mib
    by_dom: dict[str, list] = defaultdict(list)
    extra: dict[str, set[str]] = {}
    for n in inst.nodes:
        if not n.num_gpus or (allowed is not None and n.gpu_model not in allowed):
            continue
        more = _iso_leave(inst, gang, on_node, n.id)
        if more is None:
            continue
        extra[n.id] = more
        gs = [g for g in range(n.num_gpus) if n.gpu_mode(g) in _WHOLE and (n.id, g) not in pinned]
        if not gs:
            continue
        spread = sum(req_price.get(rid, 0.0) for rid in more) / len(gs)  # for the order only
        d = n.id if level == "node" else inst.domain(n, level)
        for g in gs:
            by_dom[d].append((round(price.get((n.id, g), 0.0) + spread, 9), n.id, g))
    out = []
    for d, gpus in by_dom.items():
        if len(gpus) < gang.count:
            continue
        gpus.sort()
        take = gpus[:gang.count]
        per_node: dict[str, int] = defaultdict(int)
        for _p, nid, _g in take:
            per_node[nid] += 1
        leave = {rid for _p, nid, g in take for rid in ids.get((nid, g), ())}
        for nid in per_node:
            leave |= extra[nid]
        if ROOM_PRICE:
            # what leaves pays its migration (non-whole-GPU waiting work its value); the whole-GPU work
            # needs room elsewhere, bought from placed waiting whole-GPU work (which may be its own)
            taken = {(nid, g) for _p, nid, g in take}
            need: dict[str, int] = defaultdict(int)
            total = 0.0
            for rid in leave:
                r = inst.request(rid)
                if r.kind != "gpu":
                    total += req_price.get(rid, 0.0)
                    continue
                if r.placement is not None:
                    total += req_price.get(rid, 0.0)
                iso_out = any(rid in extra[nid] for nid in per_node)
                need[room.of(r.tenant)] += sum(1 for u in cur[rid]  # type: ignore[union-attr]
                                               if (u.node, u.gpu) in taken or (iso_out and u.node in per_node))
            total += room.cost(need, taken)  # type: ignore[union-attr]
        else:
            total = sum(req_price.get(rid, 0.0) for rid in leave)
        if total >= value - 1e-9:
            continue
        if ROOM_PRICE and ORDER_S19:
            total = sum(req_price.get(rid, 0.0) for rid in leave)
        ok = True
        for nid, k in per_node.items():
            n = inst.node(nid)
            cpu, mem = host[nid]
            for rid in leave:
                r = inst.request(rid)
                on = sum(1 for u in cur[rid] if u.node == nid)
                cpu -= on * r.cpu_milli
                mem -= on * r.memory_mib
            if (n.cpu_milli is not None and cpu + k * gang.cpu_milli > n.cpu_milli) or \
                    (n.memory_mib is not None and mem + k * gang.memory_mib > n.memory_mib):
                ok = False
                break
        if ok:
            out.append((total, d, [(nid, g) for _p, nid, g in take], leave))
    out.sort(key=lambda x: (x[0], x[1]))
    return out


def worth(inst: Instance, cur: Mapping[str, Sequence[Unit]], cands: Sequence[Request]) -> list[Request]:
    """The gangs of ``cands`` that have a domain worth clearing (:func:`prices` not empty): the only ones
    a clear step can gain with. One pricing of the plan for all of them."""
    use = gpu_prices(inst, cur)
    room = Room(inst, cur, use[0]) if ROOM_PRICE else None
    return [g for g in cands if prices(inst, cur, g, use, room)]


def region(inst: Instance, cur: Mapping[str, Sequence[Unit]], gang: Request, view, rng: random.Random,  # type: ignore[no-untyped-def]
           guide: Guide | None = None) -> tuple[set[str], dict[str, object]]:
    """The step's nodes for ``gang`` (module doc, 2-4) before closing, and what was chosen; empty when
    no domain can be cleared for less than the gang is worth."""
    use = gpu_prices(inst, cur)
    cands = prices(inst, cur, gang, use)
    info: dict[str, object] = {"gang": gang.id, "domains": len(cands)}
    if not cands:
        return set(), info
    value = gang.priority * gang.count
    top = cands[:CANDS]
    price, dom, take, gone = top[rng.choices(range(len(top)), weights=[max(value - c[0], 0.0) + 1e-6 for c in top], k=1)[0]]
    info.update(price=round(price, 3), domain=dom)
    chosen = {nid for nid, _g in take}
    leave = sorted(gone)
    # what must find room elsewhere, per mode and, for a node-isolated tenant's work, per tenant (it
    # may only land on nodes where no other tenant stays): its units on the chosen nodes
    iso = {t.id for t in inst.tenants if t.isolation == "node"}
    need: dict[tuple[str, str], float] = defaultdict(float)
    for rid in leave:
        r = inst.request(rid)
        mode = MODE_OF_KIND.get(r.kind)
        if mode is None:
            continue
        need[(mode, r.tenant if r.tenant in iso else "*")] += sum(inst.unit_size(r, u) for u in cur[rid]
                                                                 if u.node in chosen)
    out = set(chosen)
    # room of each mode: free room, and (SOFT_ROOM) the room of placed waiting work worth less per
    # GPU-equivalent than the gang, which the step may give up for the work that leaves; the tenants
    # of the work that stays on each node (for node isolation)
    soft: dict[tuple[str, str], float] = defaultdict(float)
    stay: dict[str, set[str]] = defaultdict(set)
    for rid, units in cur.items():
        r = inst.request(rid)
        # (with ROOM_PRICE also whole-GPU work of the gang's priority: the price counted it as room, and
        # giving some up gains where the gang finds part of its GPUs free)
        give_up = SOFT_ROOM and r.placement is None and rid not in gone and (
            r.priority < gang.priority or (ROOM_PRICE and r.kind == "gpu" and r.priority <= gang.priority))
        for u in units:
            if give_up and u.gpu is not None:
                soft[(u.node, inst.node(u.node).gpu_mode(u.gpu))] += inst.unit_size(r, u)
            elif not give_up:
                stay[u.node].add(r.tenant)

    def fits(nid: str, who: str) -> bool:
        others = stay.get(nid, set()) - ({who} if who != "*" else set())
        return not others if who != "*" else not (others & iso)

    for mode, who in sorted(need):
        want = SLACK * need[(mode, who)]
        pool = [n for n in inst.nodes if n.num_gpus and n.id not in out and fits(n.id, who)]
        free = {n.id: view.room(n, mode)[0] + soft.get((n.id, mode), 0.0) for n in pool}
        pool = [n.id for n in pool if free[n.id] > 1e-9]
        got = 0.0
        added = 0
        while got < want - 1e-9 and pool and added < ROOM_NODES:
            nid = rng.choices(pool, weights=[free[x] ** 2 for x in pool], k=1)[0]
            pool.remove(nid)
            out.add(nid)
            got += free[nid]
            added += 1
    short = _quota_short(inst, cur, gang, leave)
    if short > 1e-9 and QUOTA_ROOM:
        # The gang's tenant has not the quota left: the nodes of its placed waiting work of lower
        # priority (cheapest first), so that the step may give that work up for the gang.
        own = sorted((r.priority, -len(cur[rid]), rid) for rid in cur
                     if (r := inst.request(rid)).placement is None and r.tenant == gang.tenant
                     and r.priority < gang.priority and rid not in leave)
        freed = 0.0
        added = 0
        for _p, _k, rid in own:
            if freed >= short - 1e-9 or added >= ROOM_NODES:
                break
            r = inst.request(rid)
            extra = {u.node for u in cur[rid]} - out
            out |= extra
            added += len(extra)
            freed += sum(inst.unit_size(r, u) for u in cur[rid])
        info["quota_short"] = round(short, 3)
    if guide is not None and guide.moved:
        dest: dict[str, float] = defaultdict(float)
        for rid in leave:
            for d, u in guide.dest.get(rid, {}).items():
                if d not in out:
                    dest[d] += guide.moved.get(rid, 0.0) * u
        for d in sorted(dest, key=lambda x: (-dest[x], x))[:2]:
            out.add(d)
    info.update(leave=len(leave), nodes=len(out))
    return out, info


def _quota_short(inst: Instance, cur: Mapping[str, Sequence[Unit]], gang: Request, leave: Sequence[str]) -> float:
    """GPU-equivalents ``gang``'s tenant lacks for it in ``cur`` once its placed waiting work among
    ``leave`` is given up (0 when its quota holds the gang, or it has none)."""
    t = inst.tenant_map.get(gang.tenant)
    if t is None or t.max_gpus is None:
        return 0.0
    used = 0.0
    for rid, units in cur.items():
        r = inst.request(rid)
        if r.tenant == gang.tenant and not (r.placement is None and rid in leave):
            used += sum(inst.unit_size(r, u) for u in units)
    return max(0.0, gang.need_count - (t.max_gpus - used))


def clear_step(inst: Instance, cur: dict[str, list[Unit]], best: float, cap: int | None, cands: Sequence[Request],
         waiting: Sequence[Request], rng: random.Random, guide: Guide | None, stats: dict,
         by_kind: dict[str, dict[str, float]], tb: float, progress, *, seed: int, workers: int | None,  # type: ignore[no-untyped-def]
         det: float | None, deadline: float) -> tuple[dict[str, list[Unit]], float]:
    """One clear step (module doc), kept when valid, within ``cap`` and better: (plan, value)."""
    from packer.cpsat import reopt
    from packer.cpsat.search import solve_monolithic
    from packer.plans import objective_value

    view = reopt._View(inst, cur)
    stats["clear"] = stats.get("clear", 0) + 1
    rec = reopt._kind_stats(by_kind, "clear")
    fails = stats.setdefault("clear_fail", {})
    # gangs drawn in turn (without putting back) until one has a domain worth clearing
    left = list(cands)
    nodes: set[str] = set()
    while left and not nodes:
        gang = pick(rng, left, guide)
        left.remove(gang)
        nodes, _info = region(inst, cur, gang, view, rng, guide)
    if not nodes:
        fails["no domain"] = fails.get("no domain", 0) + 1
        return cur, best
    base = len(nodes)
    nodes = view.close(nodes, base + reopt.REGION_MAX_NODES - reopt.REGION_NODES, rng)
    sub, hint, uncounted = reopt._sub_instance(inst, cur, nodes, cap, waiting, gang, rng, first=[gang])
    if not sub.requests:
        fails["empty"] = fails.get("empty", 0) + 1
        return cur, best
    clock = reopt.step_clock(len(nodes), deadline, det)
    if clock is None:
        return cur, best
    t1, sub_left, sub_det = clock
    sinfo: dict[str, object] = {}
    plan = solve_monolithic(sub, hint, seed=seed + 2000003 + stats["clear"], workers=workers, start=t1,
                            left=sub_left, info=sinfo, lp=False, uncounted=uncounted, det=sub_det)
    t2 = time.perf_counter()
    stats["steps"] += 1
    rec["steps"] += 1
    rec["nodes"] += len(nodes)
    rec["build_s"] += t1 - tb
    rec["solve_s"] += t2 - t1
    rec["model_s"] += float(sinfo.get("solve_start_s") or 0.0)  # type: ignore[arg-type]
    rec["proved"] += int(sinfo.get("cpsat_status") == "OPTIMAL")
    out = cur, best
    trial = reopt._merge(cur, sub, plan)
    if trial is None:
        fails["no change"] = fails.get("no change", 0) + 1
    else:
        value = objective_value(inst, trial)
        if value <= best + 1e-9:
            fails["no gain"] = fails.get("no gain", 0) + 1
        elif cap is not None and reopt.moves(inst, trial) > cap:
            fails["cap"] = fails.get("cap", 0) + 1
            stats["rejected"] += 1
        elif not reopt._valid(inst, trial):
            stats["invalid"] = stats.get("invalid", 0) + 1
        else:
            out = trial, value
            stats["improved"] += 1
            stats["improved_clear"] = stats.get("improved_clear", 0) + 1
            rec["improved"] += 1
            rec["gain"] += value - best
            if gang.id in trial:
                stats["clear_placed"] = stats.get("clear_placed", 0) + 1
            progress.update(best=value, note=f"clear step {stats['steps']}", force=True)
    rec["check_s"] += time.perf_counter() - t2
    return out


__all__ = ["CLEAR", "GATE", "ORDER_S19", "ROOM_PRICE", "SHARE", "clear_step", "gangs", "gpu_prices", "pick", "prices", "region",
           "Room", "worth"]
