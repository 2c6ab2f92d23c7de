"""Where the plan differs from the stays LP (session 25, frag25), node by node: :func:`weights`, which the
exchange-rack steps (:mod:`packer.cpsat.reopt_xrack`) sum per rack.

Once the plan has stalled, what it misses against the stays LP (:mod:`packer.cpsat.reopt_stays`) lies where
the two differ:

- waiting work the LP places (share above HALF) and the plan does not: on the nodes the LP puts it,
  weighted by priority × the LP's units there;
- waiting work the plan places and the LP leaves out (an exchange's other side): on its nodes, weighted
  by priority × its units × the share the LP does not place;
- running work the plan moved and the LP keeps home (moves that no longer pay): on its nodes now and
  at home, weighted by its migration cost × the share the LP keeps home.

Session 25's diff steps (a CP-SAT region drawn by these weights, ``DIFF``) were measured, left off, and
removed in session 27 (they run at git tag flags-s26).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from packer.cpsat.lpguide import Guide
from packer.model import Instance, Unit
from packer.plans import migration_cost

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
