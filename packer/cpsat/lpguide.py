"""Where the repack LP puts waiting work: a guide for the re-optimizer's aimed move steps.

The repack LP (:func:`packer.cpsat.reopt.repack_model`) places waiting requests and freed running
work at once, with no migration costs. Its solution says which waiting requests a better plan takes
(their placed share) and on which nodes (units per node). An aimed move step frees a region around
a waiting request so that it can go in; the guide lets the step aim at requests the LP places, and
free the nodes where the LP puts them, instead of the nodes with the most room. The LP is
fractional and ignores migrations, so it is a weight, never a rule: requests and nodes it leaves
out keep a small weight (see ``FLOOR``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

#: Weight of a waiting request the LP does not place, relative to one it places whole.
FLOOR = 0.1
#: A waiting request's share counts only its group's waiting members: (placed − forced) / waiting,
#: where ``forced`` is the group's freed running members (the repack model places them whatever
#: happens). False: placed / all members (sessions 5-10), which reads a group of 2 running + 1
#: waiting placed 3 times as 1.0 for the waiting one and 2 placed as 0.67 where the LP places none.
#: Off: the right count is not the better aim. Deterministic A/B (20 steps at det 1.0, haein 0-4 and
#: fragmented 0-4, bench/RESULTS_reopt.md "Session 11"): on 1 state ahead (+5.0), on 4 behind
#: (−0.05 to −8.7), the rest identical, −11.3 in all. Diagnostic listings (bench_reopt_missed.py)
#: turn it on to count the LP's waiting placements right.
WAITING_SHARE = False


@dataclass
class Guide:
    """The repack LP's placement of waiting requests."""

    #: request id → share of its units the LP places (0..1).
    share: dict[str, float] = field(default_factory=dict)
    #: request id → node id → units the LP places there (the group's, spread over its requests).
    nodes: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Movable running request id → share the LP moves (1 − its stay), for those it moves at all
    #: (a guide from the LP with migration costs, :mod:`packer.cpsat.reopt_stays`; empty otherwise).
    moved: dict[str, float] = field(default_factory=dict)
    #: Those requests' group's units per node in the LP, off the nodes where they run: where the LP
    #: sends them.
    dest: dict[str, dict[str, float]] = field(default_factory=dict)

    def weight(self, rid: str) -> float:
        """A factor for drawing ``rid`` as a step's aim: FLOOR plus its placed share."""
        return FLOOR + self.share.get(rid, 0.0)

    def where(self, rid: str, allowed: Mapping[str, object] | None = None) -> dict[str, float]:
        """Nodes where the LP puts ``rid``'s units (only those in ``allowed``, when given)."""
        got = self.nodes.get(rid, {})
        return {nid: u for nid, u in got.items() if u > 1e-6 and (allowed is None or nid in allowed)}


def repack_guide(model, x: np.ndarray, waiting: frozenset[str],  # type: ignore[no-untyped-def]
                 stays: Mapping[str, float] | None = None, running: Mapping[str, frozenset[str]] | None = None) -> Guide:
    """The guide from the repack model ``model`` and its LP solution ``x``, for the requests
    ``waiting`` (waiting in the running state; freed running work is left out of ``share``).

    ``stays``: the stay values of the LP with migration costs (movable running request id → 0..1),
    and ``running``: those requests' nodes now; together they give ``moved`` and ``dest``."""
    data = model.data
    inst = data.inst
    per_group: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (gi, ci, _o), var in model.vars.x.items():
        val = float(x[var.index])
        if val > 1e-6:
            per_group[gi][inst.nodes[data.classes[ci].node].id] += val
    out = Guide()
    for gr in data.groups:
        ids = [inst.requests[ri].id for ri in gr.requests if inst.requests[ri].id in waiting]
        if not ids:
            continue
        expr = model.vars.active.get(gr.index)
        index = getattr(expr, "index", None)
        placed = float(x[index]) if isinstance(index, int) and index >= 0 else 0.0
        if WAITING_SHARE:
            forced = len(gr.requests) - len(ids)
            share = min(1.0, max(0.0, (placed - forced) / len(ids)))
        else:
            share = min(1.0, max(0.0, placed / max(1, len(gr.requests))))
        where = {nid: u / len(gr.requests) for nid, u in per_group.get(gr.index, {}).items()}
        for rid in ids:
            out.share[rid] = share
            out.nodes[rid] = where
    if stays:
        group_of = {inst.requests[ri].id: gr.index for gr in data.groups for ri in gr.requests}
        for rid, s in stays.items():
            if s > 1 - 1e-6 or rid not in group_of:
                continue
            out.moved[rid] = 1 - s
            home = (running or {}).get(rid, frozenset())
            out.dest[rid] = {nid: u for nid, u in per_group.get(group_of[rid], {}).items() if nid not in home}
    return out


__all__ = ["FLOOR", "WAITING_SHARE", "Guide", "repack_guide"]
