"""Session 16: the greedy gives a MIG unit the profile that takes the fewest memory positions.

Of a request's profile choices with equal compute (worth the same: a MIG unit is worth its compute
slices), a larger-memory one only fills memory positions, and a GPU whose memory is full strands its
last compute slices. The greedy used to prefer it (its score ranked the GPU's free positions after
the instance first, so the profile that took more looked fuller).
"""

from __future__ import annotations

from typing import Any

import pytest

from packer.check import check
from packer.formats import instance_from_dict
from packer.greedy import solver as greedy


def _inst(requests: list[dict[str, Any]], gpus: int = 1):  # type: ignore[no-untyped-def]
    return instance_from_dict({
        "format": "packer.instance/v1", "name": "t", "catalog": [], "topology": {"levels": ["node", "rack"]},
        "nodes": [{"id": "n0", "gpu_model": "H200-141GB", "num_gpus": gpus, "mode": "mig", "cpu_milli": 64000,
                   "memory_mib": 524288, "domains": {"rack": "r0"}}],
        "tenants": [], "requests": requests,
    })


def test_one_slice_units_take_the_smallest_memory_profile() -> None:
    """Tests that 1-slice units (1g.18gb or 1g.35gb would do) take 1g.18gb, so one H200 holds seven."""
    inst = _inst([{"id": f"r{i}", "kind": "mig", "slices": 1, "count": 1} for i in range(7)])
    plan = greedy.solve(inst, file_order=False)
    assert check(inst, plan).ok
    assert len(plan.assignments) == 7
    assert {u.profile for a in plan.assignments for u in a.units} == {"1g.18gb"}
    assert plan.objective == pytest.approx(1.0)


def test_the_old_score_strands_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the old score (MIG_FIT off) fills memory with 1g.35gb on the same instance and places
    fewer units: the test above can fail."""
    monkeypatch.setattr(greedy, "MIG_FIT", False)
    inst = _inst([{"id": f"r{i}", "kind": "mig", "slices": 1, "count": 1} for i in range(7)])
    plan = greedy.solve(inst, file_order=False)
    assert check(inst, plan).ok
    assert "1g.35gb" in {u.profile for a in plan.assignments for u in a.units}
    assert plan.objective < 1.0 - 1e-6


def test_memory_asks_are_still_met() -> None:
    """Tests that a unit asking 30 GiB still gets 1g.35gb (the smallest profile that holds it)."""
    inst = _inst([{"id": "big", "kind": "mig", "slices": 1, "min_memory_gib": 30, "count": 1},
                  {"id": "small", "kind": "mig", "slices": 1, "count": 1}])
    plan = greedy.solve(inst, file_order=False)
    assert check(inst, plan).ok
    got = {a.request: a.units[0].profile for a in plan.assignments}
    assert got == {"big": "1g.35gb", "small": "1g.18gb"}

