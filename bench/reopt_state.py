"""The fragmented running cluster of issue 17, as its "Why" builds it.

A haein cluster (``generate("haein", seed, demand=1.6)``) is filled by ``OnlinePlacer(policy="first-fit")``
with the first two thirds of its new requests, 35 % of the placed ones are released (a seeded
choice), the rest are placed; then every placed request becomes a running, movable placement, the
modes of 'any' GPUs that hold work are fixed, and the requests left unplaced keep waiting.
"""

from __future__ import annotations

import random

from packer.generate import generate
from packer.model import Instance


def fragmented_state(seed: int = 5, *, demand: float = 1.6, nodes: int | None = None,
                     release: float = 0.35, movable: bool = True) -> Instance:
    """The issue's fragmented running instance (``nodes``: haein on that many nodes)."""
    from packer.online import OnlinePlacer

    inst = generate("haein", seed, demand=demand, nodes=nodes)
    placer = OnlinePlacer(inst, policy="first-fit")
    new = [r for r in inst.requests if r.placement is None]
    first, rest = new[: 2 * len(new) // 3], new[2 * len(new) // 3:]
    for r in first:
        placer.place(r, explain=False)
    rng = random.Random(seed)
    placed = sorted(placer.placed_ids())
    for rid in rng.sample(placed, int(release * len(placed))):
        placer.release(rid)
    for r in rest:
        placer.place(r, explain=False)
    return placer.running_instance(movable="all" if movable else "none")
