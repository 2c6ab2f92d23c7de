"""Session 25 (frag25): CP-SAT move steps over the nodes where the plan differs from the stays LP.

The other CP-SAT steps of :func:`packer.cpsat.reopt.move_steps` draw their region around one aim (a
waiting request, a node-isolated tenant) or at random. Once the plan has stalled, what it misses against
the stays LP (:mod:`packer.cpsat.reopt_stays`) lies where the two differ:

- waiting work the LP places (share above HALF) and the plan does not: on the nodes the LP puts it,
  weighted by priority × the LP's units there;
- waiting work the plan places and the LP leaves out (an exchange's other side): on its nodes, weighted
  by priority × its units × the share the LP does not place;
- running work the plan moved and the LP keeps home (moves that no longer pay): on its nodes now and
  at home, weighted by its migration cost × the share the LP keeps home.

A diff step draws half its nodes by these weights, adds where the LP sends the running work it moves off
them (``_View.exchange``), fills up by weight and is closed over border-crossing work as every region;
its offer starts with the waiting work the LP puts on those nodes (:func:`packer.cpsat.reopt._lp_offer`).
Drawn from a stream of its own (SHARE of the iterations while there is a guide and some weight): where it
does not run, every other step draws as without it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence

from packer.cpsat.lpguide import Guide
from packer.model import Instance, Unit
from packer.plans import migration_cost

#: Diff steps on (False: the A/B arm, ``bench/bench_reopt_gang.py --ab reopt_diff.DIFF``).
DIFF = False
#: Share of the move-step iterations that are diff steps while the guide and the plan differ.
SHARE = 0.2
#: Nodes a diff region draws before it is closed (closed up to NODES + reopt.REGION_MAX_NODES − reopt.REGION_NODES).
NODES = 12
#: A waiting request counts as placed by the LP above this share.
HALF = 0.25


def weights(inst: Instance, cur: Mapping[str, Sequence[Unit]], guide: Guide) -> dict[str, float]:
    """Node → how much the plan ``cur`` differs from the LP's ``guide`` there (see the module)."""
    from packer.cpsat import reopt

    w: dict[str, float] = defaultdict(float)
    for r in inst.requests:
        if r.placement is None:
            sh = guide.share.get(r.id, 0.0)
            if r.id not in cur and sh > HALF:
                for nid, u in guide.where(r.id).items():
                    w[nid] += r.priority * u
            elif r.id in cur and sh < 1.0 - 1e-6:
                for u in cur[r.id]:
                    w[u.node] += r.priority * (1.0 - sh)
        elif r.id in cur and r.movable and reopt.moves(inst, {r.id: cur[r.id]}):
            c = migration_cost(inst, r) * (1.0 - guide.moved.get(r.id, 0.0))
            if c > 0:
                for nid in {u.node for u in r.placement} | {u.node for u in cur[r.id]}:
                    w[nid] += c
    return {nid: v for nid, v in w.items() if v > 1e-9}


def region(inst: Instance, view, guide: Guide, rng: random.Random, w: Mapping[str, float],  # type: ignore[no-untyped-def]
           k: int) -> set[str]:
    """``k`` nodes: half drawn by ``w``, then the LP's exchange destinations of the running work it moves off
    them, then by ``w`` again; empty when ``w`` is."""
    pool = sorted(w)
    out: set[str] = set()
    while pool and len(out) < max(1, k // 2):
        pick = rng.choices(pool, weights=[w[n] for n in pool], k=1)[0]
        out.add(pick)
        pool.remove(pick)
    if not out:
        return out
    view.exchange(out, guide, rng, k)
    pool = [n for n in pool if n not in out]
    while pool and len(out) < k:
        pick = rng.choices(pool, weights=[w[n] for n in pool], k=1)[0]
        out.add(pick)
        pool.remove(pick)
    return out
