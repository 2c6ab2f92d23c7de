"""Session 26 (hsearch26): CP-SAT move steps over whole racks where the plan differs from the stays LP,
together with the nodes the LP sends their running work to (an exchange region).

On the haein issue states the waiting work a stalled plan misses against the stays LP is mostly wide:
whole-GPU gangs of 8-32 GPUs with node or rack locality and MIG replicas spread 12-24 over nodes or
racks (``bench/RESULTS_reopt.md``, "Session 26"). Exact solves from a stalled plan found no gain in the
top racks by the LP's difference alone (20 nodes, proved optimal with every waiting request offered):
the LP frees a rack by sending its running work elsewhere, and a region that holds the rack but not
the room where its work lands cannot do what the LP does. The other step kinds draw a node-sized or
request-sized region (aimed, wide, tenant) or whole racks at random.

An exchange step draws RACKS racks (the coarsest topology level with eight domains or more, as the
random steps do) by the difference weight of :func:`packer.cpsat.reopt_diff.weights` summed per rack,
adds where the LP sends the running work it moves off them (``reopt._View.exchange``, by the LP's units
there) up to MAX_NODES, and is closed over border-crossing work like every region; its offer starts with
the waiting work the LP puts on those nodes (:func:`packer.cpsat.reopt._lp_offer`). It is drawn from a
stream of its own (SHARE of the iterations while there is a guide and some weight): an iteration that is
not one draws exactly as without it, and with XRACK off nothing is drawn at all.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping

from packer.cpsat.lpguide import Guide

#: Exchange steps on (False: the A/B arm, ``bench/bench_reopt_gang.py --ab reopt_xrack.XRACK``). Off: deterministic
#: 20-step A/B (session 26) haein issue 0-3 +5.97, 101 / 5 +1.27 / +1.43, fragmented 1 / 4 / 3 +5.28 / +6.12 / −2.28; the
#: steps' own gain on haein 6.37 over 21 steps (drift-sized), on fragmented 37.4 over 7; haein-4 / -100 and the report
#: seeds not run.
XRACK = False
#: Share of the move-step iterations that are exchange steps while the guide and the plan differ.
SHARE = 0.2
#: Racks an exchange region draws by weight.
RACKS = 2
#: Nodes an exchange region grows to with the LP's destinations before it is closed (closed up to
#: MAX_NODES + reopt.REGION_MAX_NODES − reopt.REGION_NODES).
MAX_NODES = 24


def rack_weights(w: Mapping[str, float], racks: Mapping[str, list[str]]) -> dict[str, float]:
    """Rack → the difference weight of its nodes (racks with none left out)."""
    out: dict[str, float] = defaultdict(float)
    for d, nodes in racks.items():
        for nid in nodes:
            out[d] += w.get(nid, 0.0)
    return {d: v for d, v in out.items() if v > 1e-9}


def region(view, guide: Guide, rng: random.Random, w: Mapping[str, float],  # type: ignore[no-untyped-def]
           racks: Mapping[str, list[str]], k: int = RACKS, limit: int = MAX_NODES) -> set[str]:
    """``k`` racks drawn by their weight, then the LP's destinations of the running work it moves off
    them, up to ``limit`` nodes; empty when no rack has weight."""
    rw = rack_weights(w, racks)
    pool = sorted(rw)
    out: set[str] = set()
    for _ in range(k):
        if not pool:
            break
        pick = rng.choices(pool, weights=[rw[d] for d in pool], k=1)[0]
        out |= set(racks[pick])
        pool.remove(pick)
    if out:
        view.exchange(out, guide, rng, max(limit, len(out)))
    return out
