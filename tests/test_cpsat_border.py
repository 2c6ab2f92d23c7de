"""Tests of packer.cpsat.border: placed work split at a region's border."""

from __future__ import annotations

from collections import defaultdict

from packer.cpsat.border import split_at_border
from packer.generate import generate
from packer.greedy.solver import solve as greedy


def test_split_covers_every_placed_unit_once_and_sums_the_outside() -> None:
    """Tests that each placed request is yielded once with its units split by node, unplaced ones are
    skipped, and the outside sizes add up per tenant."""
    inst = generate("small", 1)
    plan = greedy(inst)
    placed = {a.request: list(a.units) for a in plan.assignments}
    nodes = {n.id for n in inst.nodes[: len(inst.nodes) // 2]}
    used_out: dict[str, float] = defaultdict(float)
    seen = []
    for r, inside, outside in split_at_border(inst, inst.requests, placed, nodes, used_out):
        seen.append(r.id)
        assert sorted(map(repr, inside + outside)) == sorted(map(repr, placed[r.id]))
        assert all(u.node in nodes for u in inside) and all(u.node not in nodes for u in outside)
    assert seen == [r.id for r in inst.requests if r.id in placed]
    want: dict[str, float] = defaultdict(float)
    for r in inst.requests:
        for u in placed.get(r.id, ()):
            if u.node not in nodes:
                want[r.tenant] += inst.unit_size(r, u)
    assert dict(used_out) == dict(want)
