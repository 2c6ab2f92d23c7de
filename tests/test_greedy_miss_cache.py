"""Tests that the greedy's cache of nodes without room (session 15) changes no plan."""

from __future__ import annotations

import pytest

from packer.generate import generate
from packer.greedy import solver as greedy


def _plan_key(plan):  # type: ignore[no-untyped-def]
    return ({a.request: a.units for a in plan.assignments}, {u.request: u.reason for u in plan.unplaced},
            sorted((m.node, m.gpu, m.mode) for m in plan.gpu_modes))


@pytest.mark.parametrize("fam,seed,nodes", [("adversarial", 1, 24), ("inference", 2, 16), ("sharing", 0, 16),
                                            ("hetero", 3, 16), ("fragmented", 4, 16), ("tenants", 1, 16)])
def test_miss_cache_gives_the_same_plan(fam: str, seed: int, nodes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the greedy's plan is the same with the cache and without it (placements, reasons, modes)."""
    inst = generate(fam, seed=seed, nodes=nodes)
    cached = greedy.solve(inst, file_order=False)
    monkeypatch.setattr(greedy, "MISS_CACHE", False)
    plain = greedy.solve(inst, file_order=False)
    assert _plan_key(cached) == _plan_key(plain)
    assert cached.objective == plain.objective
