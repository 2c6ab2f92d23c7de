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

#: Session 27 (xstall27): with XRACK, exchange steps only once the other steps stall (:class:`Stall`), and then
#: a share STALL_SHARE of the CP-SAT iterations (drawn from the exchange steps' own stream: a run that never
#: stalls draws nothing from it and is the run of XRACK off). False: SHARE from the start (session 26).
#: Off: from 20-step plans 10 exchange-only steps gained 7.95 in 19 of 50 steps on fragmented 0-4 and 1.93 in 6 of 30 on
#: haein issue 0-2 (b10 − a20: −9.56 and +0.95), tenths a step like the other kinds; 30-step A/B over 18 states −3.54
#: (the rule fired on 5 haein states, −4.48 to +0.73; the 15 fragmented runs identical, none stalled;
#: bench/RESULTS_reopt.md, "Session 27 (branch xstall27)").
AFTER_STALL = False
#: Share of the CP-SAT iterations that are exchange steps while the run is stalled.
STALL_SHARE = 1.0
#: The fewest steps without a rise that count as a stall (early in a run one failed step after a rise at step 1
#: or 2 is no stall), and the stall of a run that has not gained yet (no history to measure by).
MIN_STALL = 8


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


class Stall:
    """AFTER_STALL's rule, fed before each iteration of the move steps the steps' count (every kind) and the
    plan's objective. Stalled: the steps since the last rise are at least as many as the steps it took to reach
    it (``reopt_intstays.Stall``'s measure), and at least MIN_STALL. Once it has held, that length is kept (``span``): after a later rise -- an exchange step's, or any
    other kind's -- the other kinds get ``span`` steps to use the new room before the run counts as stalled
    again. ``fired``: the step counts at which it began to hold; ``stalled``: whether it holds now."""

    def __init__(self, least: int | None = None) -> None:
        self.least = MIN_STALL if least is None else least
        self.best: float | None = None
        self.last = 0
        self.span: int | None = None
        self.stalled = False
        self.fired: list[int] = []

    def see(self, steps: int, objective: float) -> bool:
        if self.best is None or objective > self.best + 1e-9:
            if self.best is not None:
                self.last = steps
            self.best = objective
        need = self.span if self.span is not None else max(self.least, self.last, 1)
        now = steps - self.last >= need
        if now and not self.stalled:
            if self.span is None:
                self.span = need
            self.fired.append(steps)
        self.stalled = now
        return now
