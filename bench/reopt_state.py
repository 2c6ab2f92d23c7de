"""The fragmented running cluster of issue 17, built by hand (until ``freeze`` is available).

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
    return running_from_placer(inst, placer, movable=movable)


def running_from_placer(inst: Instance, placer, *, movable: bool = True) -> Instance:  # type: ignore[no-untyped-def]
    """``inst`` with everything ``placer`` holds running (movable if asked) and the rest waiting."""
    held = set(placer.placed_ids())
    modes = placer.gpu_modes()
    nodes = []
    for n in inst.nodes:
        fixed = [modes.get((n.id, g)) for g in range(n.num_gpus)]
        if any(fixed):
            nodes.append(n.model_copy(update={"gpu_modes": tuple(f or n.gpu_mode(g) for g, f in enumerate(fixed)),
                                              "mode": n.mode}))
        else:
            nodes.append(n)
    reqs = []
    for r in inst.requests:
        if r.id in held:
            units = placer.units(r.id)
            reqs.append(r.model_copy(update={"placement": tuple(units), "movable": movable}))
        elif r.placement is None:
            reqs.append(r)
    out = inst.replace(nodes=nodes, requests=reqs)
    return type(out).model_validate(out.model_dump())
