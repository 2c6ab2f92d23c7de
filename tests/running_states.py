"""Running clusters for the re-optimizer's tests: an instance packed by greedy, part of its new work
released, the rest running and movable (the shape of issue 17's fragmented clusters, small)."""

from __future__ import annotations

import random

from packer.freeze import freeze, running_plan
from packer.greedy.solver import solve as greedy
from packer.model import Instance


def fragmented_running(inst: Instance, *, release: float, seed: int, movable: str = "all") -> Instance:
    """``inst`` packed by greedy, a share of its new work released, the rest running (movable by the
    :func:`packer.freeze.freeze` rule ``movable``: all of it by default)."""
    state = freeze(inst, greedy(inst), movable="none")
    rng = random.Random(seed)
    new = sorted(r.id for r in state.requests if r.placement is not None and inst.request(r.id).placement is None)
    gone = set(rng.sample(new, int(release * len(new))))
    reqs = [r.model_copy(update={"placement": None, "movable": False, "migration_cost": None}) if r.id in gone else r
            for r in state.requests]
    out = state.replace(requests=reqs)
    return freeze(out, running_plan(out), movable=movable)


def capped(inst: Instance, cap: int | None) -> Instance:
    """``inst`` with ``max_migrations`` set to ``cap``."""
    return inst.replace(objective=inst.objective.model_copy(update={"max_migrations": cap}))
