"""A pack step's CP-SAT fill over a region chosen by what the waiting work needs (session 18).

``reopt._pack_fill`` (session 17, packfill17) fills the nodes a pack step emptied (:mod:`reopt_pack`)
with one CP-SAT step over those nodes and the tenant's kept ones. 29 of its 37 sub-solves in the
deterministic A/B were proved optimal without a gain: in that region the placer's fill is mostly
already the best. The waiting work that is worth most on haein is MIG replicas with a spread (one to
four a node or rack, 6-24 units): an emptied node takes at most its spread's share of one, so it is
placed only where the step also reaches one node per domain of its spread with room for a unit, or
with movable work that can leave for the emptied nodes' room. Those nodes lie outside a region of
the tenant's nodes.

:func:`widen` adds them: among the offered waiting work of the other tenants that could use an emptied
node (an allowed model, a GPU of a mode its kind takes), one request wider than a node is drawn by its
value (priority × units × unit size); then, for each domain of its spread level that the region does
not reach yet, the node of that domain with the most free plus movable room in its mode (drawn by it),
skipping nodes another node-isolated tenant holds (closed to it), until the region reaches as many
domains as the request needs. A request the limit cannot cover is not aimed at (a region that cannot
hold it only costs the step time). The step then offers that request first.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from packer.model import MODE_OF_KIND, Instance, Request

#: Widen the pack step's CP-SAT fill region (:func:`widen`). False: session 17's region (the A/B arm).
WIDE = False
#: The most nodes the widened region may have before it is closed over work crossing its border.
MAX_NODES = 32
#: Aimed and wide steps (``reopt._View.aimed_region``, ``wide_region``) draw the nodes of their region by
#: free (plus movable) room. On haein 69-82% of the free MIG room lies on the node-isolated tenant's
#: nodes (session 16), which are closed to every other tenant's work while it holds them: with OPEN_ROOM
#: the room of a node that a node-isolated tenant other than the aim's holds counts as none there, and the
#: LP guide's units there are not followed (the LP owns such nodes fractionally; an integral plan places
#: the aim there only once the tenant leaves the node whole). False: every node's room counts (the A/B arm).
OPEN_ROOM = False


def shut(view, tenant: str) -> frozenset[str]:  # type: ignore[no-untyped-def]
    """Nodes that a node-isolated tenant other than ``tenant`` holds in ``view`` (a ``reopt._View``)."""
    cache = view.__dict__.setdefault("_shut", {})
    got = cache.get(tenant)
    if got is None:
        got = frozenset(nid for t, ns in view.isolated_nodes.items() if t != tenant for nid in ns)
        cache[tenant] = got
    return got


def open_rooms(view, rooms: dict[str, tuple[float, float]], tenant: str) -> dict[str, tuple[float, float]]:  # type: ignore[no-untyped-def]
    """``rooms`` (node → (free, movable)) with the nodes closed to ``tenant``'s work (:func:`shut`) at none."""
    closed = shut(view, tenant)
    return {nid: ((0.0, 0.0) if nid in closed else r) for nid, r in rooms.items()}


def open_only(view, rooms: Mapping[str, object], tenant: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """``rooms`` without the nodes closed to ``tenant``'s work (:func:`shut`)."""
    closed = shut(view, tenant)
    return {nid: r for nid, r in rooms.items() if nid not in closed}


def _usable(inst: Instance, r: Request, nid: str) -> bool:
    """Whether node ``nid`` has a GPU ``r``'s kind may use (allowed model, its mode or ``any``)."""
    n = inst.node(nid)
    allowed = inst.allowed_models(r)
    if not n.num_gpus or (allowed is not None and n.gpu_model not in allowed):
        return False
    mode = MODE_OF_KIND.get(r.kind)
    return mode is None or any(n.gpu_mode(g) in (mode, "any") for g in range(n.num_gpus))


def _level(r: Request) -> tuple[str, int]:
    """The level whose domains ``r`` must spread over (``node`` without a spread) and the units a domain takes."""
    if r.spread is None or r.spread.level in ("gpu", "node"):
        per = r.spread.max_per_domain if r.spread is not None and r.spread.level == "node" else 0
        return "node", per
    return r.spread.level, r.spread.max_per_domain


def widen(inst: Instance, view, tenant: str, gone: set[str], nodes: set[str],  # type: ignore[no-untyped-def]
          offer: Sequence[Request], rng: random.Random, span_of, limit: int = MAX_NODES,
          ) -> tuple[set[str], Request | None]:
    """Nodes to add to a pack fill's region ``nodes`` (holding the emptied ``gone``) for one offered
    request drawn by value (module doc), and that request; (empty set, None) when none fits the limit.
    ``view``: the incumbent's ``reopt._View``; ``span_of``: ``reopt._span_nodes``."""
    cands = [r for r in offer if r.tenant != tenant and r.kind != "host" and span_of(inst, r) > 1
             and not (r.locality is not None and r.locality.required and r.locality.level != "node")
             and any(_usable(inst, r, nid) for nid in gone)]
    closed_to: dict[str, set[str]] = {}
    for t, ns in view.isolated_nodes.items():
        for nid in ns:
            closed_to.setdefault(nid, set()).add(t)
    while cands:
        aim = rng.choices(cands, weights=[r.priority * r.count * inst.request_unit_size(r) + 1e-9 for r in cands],
                          k=1)[0]
        cands.remove(aim)
        level, per = _level(aim)
        need = span_of(inst, aim) if per == 0 else math.ceil(aim.count / per)
        mode = MODE_OF_KIND.get(aim.kind)

        def open_to(nid: str, aim: Request = aim) -> bool:
            owners = closed_to.get(nid, set()) - {aim.tenant}
            return nid in gone or not owners

        have = {inst.domain(inst.node(nid), level) for nid in nodes if _usable(inst, aim, nid) and open_to(nid)}
        if len(have) >= need:
            return set(), aim  # the region reaches enough domains already: offer it first
        pool: dict[str, list[tuple[float, str]]] = {}
        for n in inst.nodes:
            if n.id in nodes or not _usable(inst, aim, n.id) or not open_to(n.id):
                continue
            d = inst.domain(n, level)
            if d in have:
                continue
            free, mov = view.room(n, mode)
            if free + mov <= 0:
                continue
            pool.setdefault(d, []).append((free + mov, n.id))
        if len(have) + len(pool) < need or len(nodes) + need - len(have) > limit:
            continue
        add: set[str] = set()
        names = sorted(pool)
        while len(have) < need and names:
            w = [max(x for x, _ in pool[d]) + 1e-3 for d in names]
            d = rng.choices(names, weights=w, k=1)[0]
            names.remove(d)
            add.add(max(pool[d])[1])
            have.add(d)
        return add, aim
    return set(), None
